#!/bin/bash
# watch_noise: names plumbd never reads do not void its reads of the config
# files, and a read voided after the quick lane ran keeps the lane's work.
#  - (daemon: settle delay 5 s, so each `plumbd apply` runs the pass)
#  - A writer keeps creating files beside the config dir (a git-sync
#    worktree, a log) and rewriting hidden files in it (an editor's swap
#    files) while a pod changes ten times: each change is in place when
#    `plumbd apply` returns, and no read was voided ("files changed while
#    being read"). The daemon used to void a read for any event waiting on
#    its inotify fd, these included.
#  - The test hook PLUMBD_FAULT_VOID_READS=1 voids the read that follows a
#    quick lane's ops, as a file moving under it would: the change is in
#    place, `plumbd apply` counts the lane's writes, the log names them and
#    the metrics count them (they used to be lost from all three).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml"
lab_netns "${P}a" || { not_ok lab "no netns a"; exit 1; }
pod() { # NAME IP : write the pod's file atomically
    lab_pod "$1" "${P}$1" "[{\"name\":\"linux-bridge-br-1\",\"ips\":[\"$2/24\"]}]" \
        >"$CONF/.$1.tmp" && mv "$CONF/.$1.tmp" "$CONF/$1.yml"
}
MFILE=$LAB_TMP/metrics.prom
start_daemon() { # (its metrics file, written after its first pass, says it is up)
    rm -f "$MFILE"
    PLUMBD_LOG=debug plumbd_daemon_with --resolv-conf "$RESOLV_CONF" --settle-ms 5000 \
        --metrics-file "$MFILE"
    wait_for 20 test -s "$MFILE" && wait_for 20 status_is default/a Available ||
        not_ok "daemon: pod a Available" "$(plumbd_run status 2>&1)" "$DAEMON_LOG"
    lab_quiesce 1 "$NODE" "${P}a"
}
voids() { grep -c 'files changed while being read: reading again later' "$DAEMON_LOG"; }
pod a 192.168.255.31
start_daemon

# --- noise beside the config dir and hidden files in it -------------------------
noise() {
    local i=0
    while :; do
        : >"$LAB_TMP/noise.$i"          # beside the config dir
        : >"$CONF/.noise.$((i % 8)).swp" # hidden, in it
        i=$((i + 1))
        # (a pause now and then: a flood no reader keeps up with overflows
        # the inotify queue, and lost events rightly void a read)
        if [ $((i % 200)) = 0 ]; then rm -f "$LAB_TMP"/noise.*; sleep 0.02; fi
    done
}
noise &
NOISE=$!
lab_track_pid "$NOISE"
sleep 0.5
v0=$(voids)
bad=""
for k in $(seq 1 10); do
    ip=192.168.255.$((40 + k))
    pod a "$ip"
    plumbd_run apply >"$LAB_TMP/o.$k" 2>&1 || bad="$bad $k(exit $?)"
    has_addr "${P}a" net1 "$ip/24" || bad="$bad $k(no $ip)"
done
kill "$NOISE"; wait "$NOISE" 2>/dev/null
rm -f "$LAB_TMP"/noise.* "$CONF"/.noise.*.swp
[ -z "$bad" ] && ok "noise: ten changes, each in place when apply returns" ||
    not_ok "noise: ten changes, each in place when apply returns" "$bad" "$DAEMON_LOG"
assert_eq "noise: no read of the files voided" 0 "$(($(voids) - v0))"
proc_alive "$DAEMON_PID" && ok "noise: daemon still running" || not_ok "noise: daemon still running" "it exited" "$DAEMON_LOG"

# --- a read voided after the quick lane: its ops still count ------------------
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
PLUMBD_FAULT_VOID_READS=1 start_daemon
w0=$(prom_value "$(cat "$MFILE")" plumbd_netlink_writes_total)
o0=$(prom_value "$(cat "$MFILE")" plumbd_reconcile_operations_total)
v0=$(voids)
pod a 192.168.255.61
out=$(plumbd_run -v apply 2>"$LAB_TMP/e.f"); rc=$?
assert_eq "voided read: apply exits 0" 0 "$rc"
has_addr "${P}a" net1 192.168.255.61/24 && ok "voided read: pod a has its new address" ||
    not_ok "voided read: pod a has its new address" "$(ip -n "${P}a" -o addr show dev net1 2>&1)" "$DAEMON_LOG"
assert_eq "voided read: the read after the lane was voided (the hook)" 1 "$(($(voids) - v0))"
w=$(apply_writes "$out")
num_gt "$w" 0 && ok "voided read: apply counts the lane's writes ($w)" ||
    not_ok "voided read: apply counts the lane's writes" "$out" "$DAEMON_LOG"
assert_match "voided read: the log names the lane's work" \
    'pass \(file\): [1-9][0-9]* operations, [1-9][0-9]* netlink writes, 0 failed \(quick lane\), then the files changed while being read' \
    "$(cat "$DAEMON_LOG")"
m=$(cat "$MFILE")
num_ge "$(prom_value "$m" plumbd_netlink_writes_total)" "$((w0 + w))" &&
    ok "voided read: the metrics count the lane's writes" ||
    not_ok "voided read: the metrics count the lane's writes" \
        "before $w0, after $(prom_value "$m" plumbd_netlink_writes_total), apply said $w"
num_gt "$(prom_value "$m" plumbd_reconcile_operations_total)" "$o0" &&
    ok "voided read: the metrics count the lane's operations" ||
    not_ok "voided read: the metrics count the lane's operations" \
        "before $o0, after $(prom_value "$m" plumbd_reconcile_operations_total)"
out=$(plumbd_run apply 2>&1)
assert_eq "voided read: nothing left for the next apply" 0 "$(apply_writes "$out")"
lab_done
