#!/bin/bash
# package_install: `make install DESTDIR=...` lays out the binary, plumbd(8),
# the systemd unit, bash completion and the examples; the unit passes
# `systemd-analyze verify` and carries the directives the daemon relies on;
# the man page and the completion cover every command and option of
# `plumbd --help`. Nothing is written outside the scratch DESTDIR.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
R=$LAB_TMP/root
PLUMBD_ABS=$(readlink -f "$PLUMBD")

# -o: use the binary under test as it is, never rebuild it here.
if make -s -C "$LAB_ROOT" -o "$PLUMBD_ABS" BIN="$PLUMBD_ABS" install DESTDIR="$R" \
    >"$LAB_TMP/install.out" 2>&1; then
    ok "make install DESTDIR=... succeeds"
else
    not_ok "make install DESTDIR=... succeeds" "make failed" "$LAB_TMP/install.out"
    lab_done; exit
fi
P=$R/usr/local
for f in sbin/plumbd share/man/man8/plumbd.8 lib/systemd/system/plumbd.service \
    share/bash-completion/completions/plumbd share/doc/plumbd/examples/multus-demo.yml \
    share/doc/plumbd/deploy/daemonset.yaml share/doc/plumbd/deploy/configmap.yaml; do
    if [ -f "$P/$f" ]; then ok "installed \$PREFIX/$f"; else not_ok "installed \$PREFIX/$f" "missing"; fi
done
[ -d "$R/etc/plumbd/desired.d" ] && ok "config dir created under DESTDIR" || not_ok "config dir created under DESTDIR" "missing"
assert_eq "binary is executable (0755)" 755 "$(stat -c %a "$P/sbin/plumbd" 2>/dev/null)"
assert_eq "unit is 0644" 644 "$(stat -c %a "$P/lib/systemd/system/plumbd.service" 2>/dev/null)"
assert_match "installed binary runs" '^plumbd [0-9]+\.[0-9]+' "$("$P/sbin/plumbd" --version 2>&1)"
assert_eq "installed examples validate" 0 \
    "$("$P/sbin/plumbd" validate "$P/share/doc/plumbd/examples" >/dev/null 2>&1; echo $?)"
# PREFIX is honoured, in paths and in the unit's ExecStart.
make -s -C "$LAB_ROOT" -o "$PLUMBD_ABS" BIN="$PLUMBD_ABS" install DESTDIR="$LAB_TMP/r2" PREFIX=/opt/pd \
    >/dev/null 2>&1
[ -x "$LAB_TMP/r2/opt/pd/sbin/plumbd" ] && ok "PREFIX=/opt/pd honoured" || not_ok "PREFIX=/opt/pd honoured" "no binary"
assert_match "unit ExecStart follows PREFIX" '^ExecStart=/opt/pd/sbin/plumbd ' \
    "$(cat "$LAB_TMP/r2/opt/pd/lib/systemd/system/plumbd.service" 2>&1)"

# --- the unit ---------------------------------------------------------------
U=$P/lib/systemd/system/plumbd.service
unit=$(cat "$U")
for d in '^Type=notify$' '^NotifyAccess=main$' '^Restart=on-failure$' \
    '^ExecReload=/bin/kill -HUP \$MAINPID$' '^WatchdogSec=[0-9]+' '^ProtectSystem=strict$' \
    '^ReadWritePaths=.*/var/lib/plumbd' '^ReadWritePaths=.*/run/netns' '^StateDirectory=plumbd$' \
    '^CapabilityBoundingSet=.*CAP_NET_ADMIN' '^CapabilityBoundingSet=.*CAP_SYS_ADMIN' \
    '^ExecStart=/usr/local/sbin/plumbd .* run$'; do
    assert_match "unit: $d" "$d" "$unit"
done
bound=$(sed -n 's/^CapabilityBoundingSet=//p' "$U" | tr ' ' '\n' | sort | tr '\n' ' ')
assert_eq "unit: capabilities bounded to exactly these" "CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN " "$bound"
if ! command -v systemd-analyze >/dev/null; then
    skip "systemd-analyze verify" "systemd-analyze not installed; make deps installs systemd"
else
    # verify checks that ExecStart exists and that man:plumbd(8) resolves:
    # point both at the DESTDIR tree.
    mkdir -p "$LAB_TMP/unit"
    sed "s|/usr/local/sbin/plumbd|$P/sbin/plumbd|" "$U" >"$LAB_TMP/unit/plumbd.service"
    out=$(MANPATH=$P/share/man systemd-analyze verify "$LAB_TMP/unit/plumbd.service" 2>&1); rc=$?
    if [ "$rc" = 0 ] && [ -z "$out" ]; then
        ok "systemd-analyze verify: clean"
    else
        not_ok "systemd-analyze verify: clean" "exit $rc"
        printf '%s\n' "$out" | head -n 10 | sed 's/^/#   /'
    fi
    # The check can fail: a typo in a directive is reported.
    sed 's/^Type=notify/Type=notfy/' "$LAB_TMP/unit/plumbd.service" >"$LAB_TMP/unit/bad.service"
    out=$(MANPATH=$P/share/man systemd-analyze verify "$LAB_TMP/unit/bad.service" 2>&1)
    assert_match "systemd-analyze verify catches a bad directive" 'notfy' "$out"
fi

# --- man page and completion cover the CLI ----------------------------------
M=$P/share/man/man8/plumbd.8
if command -v groff >/dev/null; then
    w=$(groff -man -ww -z "$M" 2>&1)
    assert_eq "man page renders without groff warnings" "" "$w"
else
    skip "man page lint" "groff not installed; make deps installs groff-base"
fi
help=$("$PLUMBD" --help 2>&1)
text=$(sed 's/\\-/-/g' "$M")
opts=$(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z-]+' | sort -u)
cmds=$(printf '%s\n' "$help" | sed -n '/^commands:/,/^$/p' | awk 'NF && $1 != "commands:" { print $1 }')
[ -n "$opts" ] && [ -n "$cmds" ] || not_ok "parse plumbd --help" "no options or commands found"
miss_man="" miss_comp=""
comp=$(cat "$P/share/bash-completion/completions/plumbd")
for o in $opts; do
    grep -qF -- "$o" <<<"$text" || miss_man="$miss_man $o"
    grep -qE -- "(^|[ \"])$o([ \"|)]|$)" <<<"$comp" || miss_comp="$miss_comp $o"
done
for c in $cmds; do
    grep -qE "^\.(TP|B|BR|BI) .*\b$c\b|^\.B $c$" <<<"$text" || miss_man="$miss_man $c"
    grep -qE "commands=\".*\b$c\b" <<<"$comp" || miss_comp="$miss_comp $c"
done
assert_eq "man page covers every command and option of --help" "" "${miss_man# }"
assert_eq "completion covers every command and option of --help" "" "${miss_comp# }"
for s in 'EXIT STATUS' 'ANNOTATIONS' 'FILES AND KINDS' 'k8s.v1.cni.cncf.io/networks' 'plumbd/netns' \
    'plumbd/prune' 'NodeNetworkConfigurationPolicy' 'NetworkAttachmentDefinition'; do
    grep -qF -- "$s" <<<"$text" && ok "man page documents $s" || not_ok "man page documents $s" "absent"
done
for code in 0 1 2 4; do
    grep -qx "\.B $code" <<<"$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' <<<"$text")" &&
        ok "man page: exit status $code" || not_ok "man page: exit status $code" "absent"
done
# The completion works in bash.
r=$(bash -c '. "$1"; COMP_WORDS=(plumbd sta); COMP_CWORD=1; _plumbd; echo "${COMPREPLY[*]}"' _ \
    "$P/share/bash-completion/completions/plumbd" 2>&1)
assert_eq "completion: 'plumbd sta' -> status" status "$r"
r=$(bash -c '. "$1"; COMP_WORDS=(plumbd status -o y); COMP_CWORD=3; _plumbd; echo "${COMPREPLY[*]}"' _ \
    "$P/share/bash-completion/completions/plumbd" 2>&1)
assert_eq "completion: '-o y' -> yaml" yaml "$r"
lab_done
