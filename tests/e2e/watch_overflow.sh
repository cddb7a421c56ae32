#!/bin/bash
# watch_overflow: inotify's event queue overflows (issue 5, Watching:
# IN_Q_OVERFLOW -> log it, full rescan, recover). The host's
# fs.inotify.max_queued_events is global, so it is left alone: instead the
# queue is flooded with create/delete events in a subdirectory of the config
# dir, (A) while the daemon runs, (B) while it is stopped (SIGSTOP), which
# forces an overflow with any queue size; in both the real change is written
# after the flood, so its own events are the ones lost. The daemon must log
# the overflow, converge once to the final state, prune nothing, and keep
# watching (a later change is seen at once, not at the next resync).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
N=20000
QMAX=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo "?")
diag "fs.inotify.max_queued_events = $QMAX (not changed), flood of $N files"
mkdir "$CONF/flood"

# flood : N files created (opened, closed) then deleted under $CONF/flood.
flood() {
    local i
    for ((i = 0; i < N; i++)); do : >"$CONF/flood/f$i.yaml"; done
    find "$CONF/flood" -mindepth 1 -delete
}

plumbd_daemon
watch_ready || exit 1
for p in pod3 pod4 pod5; do lab_netns "${P}$p"; done
sleep 0.5

# --- A: flood while the daemon runs ---------------------------------------------
watch_mark
t0=$SECONDS
flood
watch_pod_doc pod3 "${P}pod3" 192.168.255.103 >"$CONF/pod3.yml"
diag "A: flood written in $((SECONDS - t0)) s"
watch_expect "flood (daemon running)" 1 "" 30 has_addr "${P}pod3" net1 192.168.255.103/24
if grep -qi overflow <<<"$(watch_log_since)"; then
    diag "A: overflow logged: $(watch_log_since | grep -i overflow | head -n 1)"
else
    diag "A: no overflow happened (the daemon kept up with the flood)"
fi

# --- B: flood while the daemon is stopped: a certain overflow -------------------
watch_mark
kill -STOP "$DAEMON_PID"
flood
watch_pod_doc pod4 "${P}pod4" 192.168.255.104 >"$CONF/pod4.yml"
kill -CONT "$DAEMON_PID"
watch_expect "forced overflow (daemon stopped during the flood)" 1 "" 30 \
    has_addr "${P}pod4" net1 192.168.255.104/24
ov=$(watch_log_since | grep -i 'overflow')
if [ -n "$ov" ]; then
    ok "forced overflow: logged"
    diag "B: $ov"
else
    not_ok "forced overflow: logged" "no line with 'overflow' in the daemon log"
fi

# --- the watch still works after the overflow ----------------------------------
watch_mark
watch_pod_doc pod5 "${P}pod5" 192.168.255.105 >"$CONF/.pod5.yml.tmp" && mv "$CONF/.pod5.yml.tmp" "$CONF/pod5.yml"
watch_expect "change after the overflow" 1 "" 5 has_addr "${P}pod5" net1 192.168.255.105/24
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"
for p in multus-demo pod3 pod4 pod5; do
    assert_eq "pod $p Available" Available "$(plumbd_status_field "default/$p" 3)"
done

lab_done
