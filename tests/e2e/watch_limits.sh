#!/bin/bash
# watch_limits: inotify limits exhausted (issue 5). The daemon is started
# with the test hook PLUMBD_FAULT_INOTIFY_ENOSPC=4: its first four watch
# placements fail with ENOSPC, as when fs.inotify.max_user_watches is used
# up (the host's sysctls are never touched). It must say so, fall back to
# rescanning on a timer, converge a file dropped meanwhile, and get its
# watches back when it can.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
LOG=$LAB_TMP/daemon.log
PLUMBD_FAULT_INOTIFY_ENOSPC=4 "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" \
    --netns "$NODE" --node-name worker-1 run 2>"$LOG" &
DPID=$!
lab_track_pid "$DPID"
wait_for 15 has_addr "$POD_NS" net1 192.168.255.100/24 &&
    ok "daemon converged the seed lab" || not_ok "daemon converged the seed lab" "$(tail -5 "$LOG")"
assert_match "the watch failure is logged with the fallback" \
    'cannot watch .*No space left on device.*polling every 2 s' "$(cat "$LOG")"
# while polling (no inotify on the config dir), a dropped file still converges
POLLNS=${P}poll
lab_netns "$POLLNS"
cat >"$CONF/poll.yml" <<Y
apiVersion: v1
kind: Pod
metadata:
  name: poll
  annotations:
    plumbd/netns: $POLLNS
    k8s.v1.cni.cncf.io/networks: '[{"name":"linux-bridge-br-1","ips":["192.168.255.121/24"]}]'
Y
if grep -q 'inotify watches restored' "$LOG"; then
    not_ok "a file dropped while polling converges" "the watches were back already"
else
    wait_for 6 has_addr "$POLLNS" net1 192.168.255.121/24 &&
        ok "a file dropped while polling converges (by the rescan timer)" ||
        not_ok "a file dropped while polling converges" "$(tail -5 "$LOG")"
fi
wait_for 8 grep -q 'inotify watches restored' "$LOG" &&
    ok "the watches come back when they can be placed" ||
    not_ok "the watches come back when they can be placed" "$(tail -5 "$LOG")"

# after recovery, file events work again (faster than the 2 s poll)
LATE=${P}late
lab_netns "$LATE"
cat >"$CONF/late.yml" <<Y
apiVersion: v1
kind: Pod
metadata:
  name: late
  annotations:
    plumbd/netns: $LATE
    k8s.v1.cni.cncf.io/networks: '[{"name":"linux-bridge-br-1","ips":["192.168.255.120/24"]}]'
Y
wait_for 10 has_addr "$LATE" net1 192.168.255.120/24 &&
    ok "a file dropped after the recovery converges" ||
    not_ok "a file dropped after the recovery converges" "$(tail -5 "$LOG")"
kill -TERM "$DPID"
wait "$DPID"
assert_eq "daemon exits 0 on SIGTERM" 0 "$?"
lab_done
