#!/bin/bash
# daemon_status_cache: the daemon keeps the statuses its last pass left and
# works out the rows it writes (since, first sighting) instead of reading
# them back. What it mirrors to <state-dir>/status must still be what the
# database holds, pass after pass; an object whose condition did not change
# keeps its lastTransitionTime; and a status row another process changed
# (here: sqlite3 behind the daemon's back) is seen and put right by the next
# pass, not masked by what the daemon remembered.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
command -v sqlite3 >/dev/null || { skip daemon_status_cache "needs sqlite3"; exit 0; }
POD_NS=${P}multus-demo

since_of() { # FILE-NAME : lastTransitionTime in that status file
    sed -n 's/^  lastTransitionTime: "\(.*\)"$/\1/p' "$STATE/status/$1" 2>/dev/null
}
message_in_db() { # ID
    sqlite3 "$STATE/plumbd.db" "SELECT message FROM object_status WHERE id='$1'" 2>/dev/null
}

plumbd_daemon
wait_for 15 status_is default/multus-demo Available ||
    not_ok "seed pod Available under the daemon" "$(plumbd_status_line default/multus-demo)" "$DAEMON_LOG"
sleep 0.5
status_files_agree "seed converged" 5
since0=$(since_of Pod_default_multus-demo.yaml)
[ -n "$since0" ] && ok "seed pod has a lastTransitionTime ($since0)" ||
    not_ok "seed pod has a lastTransitionTime" "none in $STATE/status/Pod_default_multus-demo.yaml"

# a second pod whose namespace does not exist yet: Pending
sleep 1.1 # a transition now would show a later second
lab_pod second "/run/netns/${P}second" '[{"name":"linux-bridge-br-1"}]' >"$CONF/.second.tmp" &&
    mv "$CONF/.second.tmp" "$CONF/second.yml"
if wait_for 10 status_is default/second Pending; then
    ok "second pod Pending (no netns)"
else
    not_ok "second pod Pending (no netns)" "$(plumbd_status_line default/second)" "$DAEMON_LOG"
fi
sleep 0.5
status_files_agree "second pod pending" 5
assert_eq "seed pod keeps its lastTransitionTime" "$since0" "$(since_of Pod_default_multus-demo.yaml)"

# its namespace appears: Available, with a network-status
lab_netns "${P}second"
if wait_for 10 status_is default/second Available; then
    ok "second pod Available once its netns exists"
else
    not_ok "second pod Available once its netns exists" "$(plumbd_status_line default/second)" "$DAEMON_LOG"
fi
sleep 0.5
status_files_agree "second pod attached" 5
assert_match "second pod's file has its network-status" 'networkStatus: \[.*"interface":"net1"' \
    "$(cat "$STATE/status/Pod_default_second.yaml" 2>/dev/null)"
assert_eq "seed pod still keeps its lastTransitionTime" "$since0" "$(since_of Pod_default_multus-demo.yaml)"

# another process changes a row: the next pass must not trust its memory
sqlite3 -cmd ".timeout 2000" "$STATE/plumbd.db" "UPDATE object_status SET message='tampered' WHERE id='Pod/default/multus-demo'" ||
    not_ok "tamper with a status row" "sqlite3 failed"
lab_pod third "/run/netns/${P}third" '[{"name":"linux-bridge-br-1"}]' >"$CONF/.third.tmp" &&
    mv "$CONF/.third.tmp" "$CONF/third.yml"
wait_for 10 status_is default/third Pending ||
    not_ok "third pod Pending" "$(plumbd_status_line default/third)" "$DAEMON_LOG"
if wait_for 5 test "$(message_in_db Pod/default/multus-demo)" != tampered; then
    ok "a row changed by another process is put right by the next pass"
else
    not_ok "a row changed by another process is put right by the next pass" \
        "message still '$(message_in_db Pod/default/multus-demo)'" "$DAEMON_LOG"
fi
sleep 0.5
status_files_agree "after another writer" 5

# objects removed: their files go with their rows
rm -f "$CONF/second.yml" "$CONF/third.yml"
wait_for 10 link_absent "${P}second" net1 || not_ok "second pod detached" "net1 still there" "$DAEMON_LOG"
wait_for 5 test ! -e "$STATE/status/Pod_default_third.yaml"
sleep 0.5
status_files_agree "pods removed" 5
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"
lab_done
