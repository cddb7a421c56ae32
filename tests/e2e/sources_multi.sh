#!/bin/bash
# sources_multi: several --config-dir flags merge several sources (issue 5).
# The seed files split into SITE (policy + NAD) and LOCAL (pod + node):
# `--config-dir SITE --config-dir LOCAL apply` converges; an object defined
# in both is reported on both files and the definition in use stays in use;
# a missing source prunes nothing (Stalled/EmptySource naming that source)
# and coming back unchanged writes nothing; the daemon watches both.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
lab_split_sources || { not_ok lab "could not split the seed files"; exit 1; }
POD_ADDR=192.168.255.100/24
ping_ok() { ip netns exec "$PEER" ping -c 1 -W 1 192.168.255.100; }
ens19_on_br1() { local o; o=$(ip -n "$NODE" -o link show dev ens19 2>/dev/null); [[ $o == *" master br-1 "* ]]; }

# ---- 1. two sources converge -------------------------------------------------
out=$(plumbd_multi apply 2>&1); rc=$?
assert_eq "apply with SITE + LOCAL exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
assert_match "apply: 3 objects, 3 available" '3 objects: 3 available' "$out"
for o in linux-bridge-br1-ens19 default/linux-bridge-br-1 default/multus-demo; do
    assert_eq "status $o Available" Available "$(plumbd_status_field "$o" 3)"
done
expect "peer pings the pod (policy+NAD from SITE, pod+node from LOCAL)" ping_ok
# Each source alone is not the whole: LOCAL alone has no NAD for the pod.
out=$(plumbd_multi plan 2>/dev/null); rc=$?
assert_eq "plan with both sources is empty" "0:" "$rc:$(plan_ops "$out")"

# ---- 2. one object defined in both sources -------------------------------------
# 2a. the second definition comes later in the merge order (LOCAL/zz-*):
#     the definition in use is the first one; nothing changes.
dup_of() { # SRC IP MAC
    sed "s|192.168.255.100/24|$2|; s|c2:b0:57:49:47:f1|$3|" "$1"
}
dup_of "$LOCAL/multus-demo.yml" 192.168.255.150/24 c2:b0:57:49:47:f2 >"$LOCAL/zz-dup.yml"
out=$(plumbd_multi apply 2>&1); rc=$?
assert_match "dup in LOCAL after the original: error at the second definition" \
    "^$LOCAL/zz-dup.yml:[0-9]+:[0-9]+: .*duplicate object Pod/default/multus-demo.*$LOCAL/multus-demo.yml" "$out"
assert_eq "dup in LOCAL after the original: net1 unchanged" "$POD_ADDR" "$(net1_addr "$POD_NS")"
rm -f "$LOCAL/zz-dup.yml"
plumbd_multi apply >/dev/null 2>&1

# 2b. the other definition is in SITE, read before LOCAL.
dup_of "$LOCAL/multus-demo.yml" 192.168.255.150/24 c2:b0:57:49:47:f2 >"$SITE/dup-pod.yml"
vout=$("$PLUMBD" validate "$SITE" "$LOCAL" 2>&1); vrc=$?
assert_eq "validate SITE LOCAL with a duplicate exits 1" 1 "$vrc"
# which file the loader calls "first" (the one it says is used)
first=$(printf '%s\n' "$vout" | sed -n 's/.*duplicate object Pod\/default\/multus-demo: the first definition (\([^:]*\):.*/\1/p' | head -n 1)
second=$(printf '%s\n' "$vout" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: .*duplicate object Pod\/default\/multus-demo.*/\1/p' | head -n 1)
diag "validate: first definition = ${first:-?}, second = ${second:-?}"
if [ -n "$first" ] && [ -n "$second" ] && [ "$first" != "$second" ]; then
    ok "validate: an error at one definition naming the other"
else
    not_ok "validate: an error at one definition naming the other" "no duplicate error"
    printf '%s\n' "$vout" | sed 's/^/#   /'
fi
assert_match "validate: a warning at the first definition naming the second's file" \
    "^$first:[0-9]+:[0-9]+: warning: .*Pod/default/multus-demo.*defined again in $second" "$vout"
out=$(plumbd_multi apply 2>&1); rc=$?
assert_eq "apply with a duplicate exits 1 (configuration error)" 1 "$rc"
# apply knows which definition is in use (the older one, from its state):
# the new file in SITE is the duplicate, whatever the directory order says.
assert_match "apply: error at the new definition (SITE), naming the one in use" \
    "^$SITE/dup-pod.yml:[0-9]+:[0-9]+: .*duplicate object Pod/default/multus-demo.*$LOCAL/multus-demo.yml" "$out"
assert_match "apply: warning at the definition in use naming the new file" \
    "^$LOCAL/multus-demo.yml:[0-9]+:[0-9]+: warning: .*defined again in $SITE/dup-pod.yml" "$out"
now=$(net1_addr "$POD_NS")
used=$POD_ADDR
assert_eq "kernel follows the definition the diagnostics say is used" "$used" "$now"
# The definition that was in use (LOCAL/multus-demo.yml) stays in use: a
# same-named object appearing in another source must not re-address a
# running pod.
if [ "$now" = "$POD_ADDR" ]; then
    ok "duplicate across sources: the definition in use stays in use (net1 unchanged)"
else
    not_ok "duplicate across sources: the definition in use stays in use (net1 unchanged)" \
        "net1 became $now (from $POD_ADDR): the new SITE/dup-pod.yml replaced it"
    printf '%s\n' "$out" | grep -E 'pod-attach|duplicate|defined again' | sed 's/^/#   /'
fi
rm -f "$SITE/dup-pod.yml"
out=$(plumbd_multi apply 2>&1); rc=$?
assert_eq "duplicate removed: apply exits 0" 0 "$rc"
assert_eq "duplicate removed: net1 back to $POD_ADDR" "$POD_ADDR" "$(net1_addr "$POD_NS")"

# ---- 3. one source missing ---------------------------------------------------------
BACKUP=$LAB_TMP/local.bak
cp -a "$LOCAL" "$BACKUP"
lab_quiesce 1 "$NODE" "$POD_NS"
before=$(netns_image "$NODE")
pod_before=$(netns_image "$POD_NS" net1)
rm -rf "$LOCAL"
out=$(plumbd_multi apply 2>&1); rc=$?
printf '%s\n' "$out" | grep -E 'level=(error|warn)' | sed 's/^/#   log: /'
assert_eq "LOCAL missing: apply exits 1" 1 "$rc"
assert_match "LOCAL missing: log says a config dir is missing (EmptySource)" \
    'is missing: refusing to prune.*EmptySource' "$out"
assert_match "LOCAL missing: the log names the missing dir $LOCAL" \
    "$LOCAL is missing" "$out"
assert_no_match "LOCAL missing: no deleting operation" \
    'pod-detach|link-del|addr-del|link-set ens19 nomaster|link-set ens19 master=-' "$out"
assert_eq "LOCAL missing: node netns unchanged" "" "$(image_diff "$before" "$(netns_image "$NODE")")"
assert_eq "LOCAL missing: pod keeps net1" "" "$(image_diff "$pod_before" "$(netns_image "$POD_NS" net1)")"
st=$(plumbd_run status 2>&1)
for o in linux-bridge-br1-ens19 default/linux-bridge-br-1 default/multus-demo; do
    assert_eq "LOCAL missing: status $o Stalled EmptySource" "Stalled EmptySource" \
        "$(plumbd_status_field "$o" 3) $(plumbd_status_field "$o" 4)"
done
assert_match "LOCAL missing: status message names $LOCAL" "EmptySource .*$LOCAL" "$st"

cp -a "$BACKUP" "$LOCAL"
out=$(plumbd_multi apply 2>&1); rc=$?
assert_eq "LOCAL back unchanged: apply exits 0" 0 "$rc"
assert_eq "LOCAL back unchanged: zero netlink writes" 0 "$(apply_writes "$out")"
for o in linux-bridge-br1-ens19 default/linux-bridge-br-1 default/multus-demo; do
    assert_eq "LOCAL back: status $o Available" Available "$(plumbd_status_field "$o" 3)"
done
expect "LOCAL back: peer pings the pod" ping_ok

# An existing but empty source is "empty": README, "an empty or missing
# config dir prunes nothing without --allow-empty".
mkdir -p "$LAB_TMP/empty.bak" && mv "$LOCAL"/* "$LAB_TMP/empty.bak/"
out=$(plumbd_multi apply 2>&1); rc=$?
printf '%s\n' "$out" | grep -E 'level=error|pod-detach|link-del|nomaster|master=-' | head -n 5 | sed 's/^/#   log: /'
assert_eq "LOCAL empty: pod keeps net1 $POD_ADDR" "$POD_ADDR" "$(net1_addr "$POD_NS")"
assert_eq "LOCAL empty: br-1 exists with ens19" 1 "$(ens19_on_br1 && echo 1 || echo 0)"
# whatever happened, put the lab back for the daemon part
mv "$LAB_TMP/empty.bak"/* "$LOCAL/"
out=$(plumbd_multi apply 2>&1); rc=$?
assert_eq "LOCAL refilled: apply exits 0" 0 "$rc"

# ---- 4. the daemon watches both sources --------------------------------------------
# (the status is Available from the CLI's passes already: wait for this
# daemon's own start pass, logged at debug level, so that its start is not
# timed below)
off=$(stat -c %s "$LAB_TMP/daemon.log" 2>/dev/null || echo 0)
PLUMBD_LOG=debug plumbd_daemon_with --config-dir "$LOCAL"
wait_for 10 daemon_started_since "$off"
if wait_for 10 status_is default/multus-demo Available; then
    ok "daemon with two sources: seed pod Available"
else
    not_ok "daemon with two sources: seed pod Available" "not after 10 s" "$DAEMON_LOG"
fi
lab_quiesce 1 "$NODE" "$POD_NS"
POD2=${P}pod2
lab_netns "$POD2"
watch_pod_doc pod2 "$POD2" 192.168.255.102 >"$LOCAL/.pod2.tmp" && mv "$LOCAL/.pod2.tmp" "$LOCAL/pod2.yml"
heal_start
if heal_wait 4000 has_addr "$POD2" net1 192.168.255.102/24; then
    ok "daemon: a file dropped in the second source converges in $HEAL_MS ms"
else
    not_ok "daemon: a file dropped in the second source converges within 4 s" "not after $HEAL_MS ms" "$DAEMON_LOG"
fi
# and one dropped in the first source
POD3=${P}pod3
lab_netns "$POD3"
watch_pod_doc pod3 "$POD3" 192.168.255.103 >"$SITE/.pod3.tmp" && mv "$SITE/.pod3.tmp" "$SITE/pod3.yml"
heal_start
if heal_wait 4000 has_addr "$POD3" net1 192.168.255.103/24; then
    ok "daemon: a file dropped in the first source converges in $HEAL_MS ms"
else
    not_ok "daemon: a file dropped in the first source converges within 4 s" "not after $HEAL_MS ms" "$DAEMON_LOG"
fi
if wait_for 3 ping_ok; then ok "daemon: peer still pings the seed pod"
else not_ok "daemon: peer still pings the seed pod" "no reply" "$DAEMON_LOG"; fi
grep -E 'level=error' "$DAEMON_LOG" | head -n 5 | sed 's/^/#   daemon: /'
kill -TERM "$DAEMON_PID"
if wait_for 5 proc_gone "$DAEMON_PID"; then
    wait "$DAEMON_PID"; rc=$?
    assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
else
    not_ok "daemon exits on SIGTERM" "still running after 5 s" "$DAEMON_LOG"
fi

lab_done
