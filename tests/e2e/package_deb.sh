#!/bin/bash
# package_deb: `make deb` builds a Debian package with dpkg-deb whose
# Depends names the runtime libraries only and covers every library the
# binary needs; unpacked with `dpkg -x` into a scratch root (the air-gapped
# path), its plumbd runs --version and validates its bundled examples.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
command -v dpkg-deb >/dev/null || { skip package_deb "dpkg-deb not installed"; exit 0; }
PLUMBD_ABS=$(readlink -f "$PLUMBD")
DEB=$LAB_TMP/plumbd.deb

# Build into the scratch dir, from the binary under test (-o: no rebuild).
if make -s -C "$LAB_ROOT" -o "$PLUMBD_ABS" BIN="$PLUMBD_ABS" deb DEB_ROOT="$LAB_TMP/debroot" DEB="$DEB" \
    >"$LAB_TMP/deb.out" 2>&1 && [ -s "$DEB" ]; then
    ok "make deb builds a package"
else
    not_ok "make deb builds a package" "make failed" "$LAB_TMP/deb.out"
    lab_done; exit
fi
info=$(dpkg-deb -f "$DEB" Package Version Architecture Depends 2>&1)
assert_match "package name" '^Package: plumbd$' "$info"
assert_match "version from the binary" "^Version: $("$PLUMBD" --version | awk '{ print $2 }')\$" "$info"
assert_match "architecture" "^Architecture: $(dpkg --print-architecture)\$" "$info"
dep=$(dpkg-deb -f "$DEB" Depends)
for p in libyaml-0-2 libnl-3-200 libnl-route-3-200 libsqlite3-0 libjansson4 libnftables1; do
    assert_match "Depends on $p" "(^|, )$p(,|$| )" "$dep"
done
assert_no_match "Depends on no -dev package" '-dev\b' "$dep"
# Every shared library the binary itself needs (its NEEDED entries; what
# those libraries need in turn comes with their own packages' Depends)
# comes from a package in Depends.
missing=""
needed=$(readelf -d "$PLUMBD_ABS" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for so in $(ldd "$PLUMBD_ABS" | awk '$3 ~ /^\// { print $1 " " $3 }' |
            while read -r name path; do
                grep -qx "$name" <<<"$needed" && echo "$path"
            done); do
    real=$(readlink -f "$so")
    pkg=$(dpkg -S "$so" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "*/${so##*/}" 2>/dev/null)
    pkg=$(printf '%s\n' "$pkg" | head -n 1 | cut -d: -f1)
    [ -n "$pkg" ] || { missing="$missing ${so##*/}(no package)"; continue; }
    [ "$pkg" = libc6 ] && continue
    grep -qE "(^|, )$pkg(,|$| )" <<<"$dep" || missing="$missing $pkg"
done
assert_eq "Depends covers every library plumbd links" "" "${missing# }"

# Contents: FHS paths of a Debian package.
list=$(dpkg-deb -c "$DEB" | awk '{ print $NF }')
for f in ./usr/sbin/plumbd ./lib/systemd/system/plumbd.service ./usr/share/man/man8/plumbd.8.gz \
    ./usr/share/bash-completion/completions/plumbd ./usr/share/doc/plumbd/examples/multus-demo.yml \
    ./usr/share/doc/plumbd/deploy/daemonset.yaml ./etc/plumbd/desired.d/; do
    assert_match "package holds $f" "^${f//./\\.}\$" "$list"
done
assert_match "unit runs /usr/sbin/plumbd" '^ExecStart=/usr/sbin/plumbd ' \
    "$(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./lib/systemd/system/plumbd.service 2>&1)"
assert_no_match "files owned by root" '^[-dl][^ ]* [^r][^ ]*/' "$(dpkg-deb -c "$DEB" | awk '{ print $1, $2 }')"

# --- the air-gapped path: unpack into a scratch root and run from there -----
S=$LAB_TMP/scratch
dpkg -x "$DEB" "$S" 2>"$LAB_TMP/x.err" && ok "dpkg -x into a scratch root" ||
    not_ok "dpkg -x into a scratch root" "failed" "$LAB_TMP/x.err"
LIBS=$S/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu):$S/lib
v=$(LD_LIBRARY_PATH=$LIBS "$S/usr/sbin/plumbd" --version 2>&1); rc=$?
assert_eq "scratch plumbd --version exits 0" 0 "$rc"
assert_match "scratch plumbd --version" '^plumbd [0-9]+\.[0-9]+\.[0-9]+$' "$v"
out=$(cd "$S/usr/share/doc/plumbd" && LD_LIBRARY_PATH=$LIBS "$S/usr/sbin/plumbd" validate examples/ 2>&1); rc=$?
assert_eq "scratch plumbd validate examples/ exits 0" 0 "$rc"
assert_match "scratch validate counts the seed objects" \
    "^$(ls "$LAB_ROOT"/examples/*.yml | wc -l) objects valid, 0 invalid, 0 errors" "$out"
# ...and it can fail: a broken file is reported with file:line:column.
mkdir -p "$LAB_TMP/bad" && printf 'kind: Pod\nmetadata: [\n' >"$LAB_TMP/bad/x.yml"
out=$(LD_LIBRARY_PATH=$LIBS "$S/usr/sbin/plumbd" validate "$LAB_TMP/bad" 2>&1); rc=$?
assert_eq "scratch validate rejects a broken file" 1 "$rc"
assert_match "with file:line:column" 'x\.yml:[0-9]+:[0-9]+: ' "$out"
lab_done
