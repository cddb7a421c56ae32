#!/bin/bash
# daemon_status_mirror: the daemon writes the status files after its pass, a
# few at a time between events, so that a thousand new files do not hold up
# the next change. They must still end up equal to the database: after a
# burst of objects larger than one slice, after objects go, after a file is
# deleted by hand, and when the daemon is stopped while files are still
# queued (it writes them before it exits).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
BURST=60 # several slices (16 files each)

# burst FIRST LAST : pod files FIRST..LAST (no netns: Pending), moved into the
# config dir together
burst() {
    local i stage=$LAB_TMP/stage
    mkdir -p "$stage"
    for ((i = $1; i <= $2; i++)); do
        lab_pod "m$i" "/run/netns/${P}m$i" '[{"name":"linux-bridge-br-1"}]' >"$stage/m$i.yml"
    done
    mv "$stage"/m*.yml "$CONF/"
}
pending_in_db() { plumbd_run status 2>/dev/null | awk '$2 ~ /^default\/m[0-9]+$/ && $3 == "Pending"' | wc -l; }
pending_is() { [ "$(pending_in_db)" -eq "$1" ]; }
status_files() { find "$STATE/status" -name '*.yaml' | wc -l; }

plumbd_daemon
wait_for 15 status_is default/multus-demo Available ||
    not_ok "seed pod Available under the daemon" "$(plumbd_status_line default/multus-demo)" "$DAEMON_LOG"
status_files_agree "seed converged" 5

burst 1 "$BURST"
if wait_for 20 pending_is "$BURST"; then
    ok "$BURST new pods Pending in the database"
else
    not_ok "$BURST new pods Pending in the database" "$(pending_in_db) of them" "$DAEMON_LOG"
fi
status_files_agree "after a burst of $BURST objects" 10
assert_eq "one status file per object" "$((BURST + 3))" "$(status_files)"

# half of them go: their files go
for ((i = 1; i <= BURST / 2; i++)); do rm -f "$CONF/m$i.yml"; done
wait_for 20 pending_is $((BURST / 2)) ||
    not_ok "half the pods removed from the database" "$(pending_in_db) left" "$DAEMON_LOG"
status_files_agree "after $((BURST / 2)) objects went" 10
assert_eq "no stale status file" "$((BURST / 2 + 3))" "$(status_files)"

# a status file deleted by hand comes back with the next pass
rm -f "$STATE/status/Pod_default_m$BURST.yaml"
touch "$CONF/m$BURST.yml"
if wait_for 10 test -e "$STATE/status/Pod_default_m$BURST.yaml"; then
    ok "a status file deleted by hand is written again by the next pass"
else
    not_ok "a status file deleted by hand is written again by the next pass" "still missing" "$DAEMON_LOG"
fi
status_files_agree "after the hand deletion" 5

# a daemon that holds its status files back (PLUMBD_FAULT_MIRROR_HOLD) still
# writes them all when it is stopped
kill -TERM "$DAEMON_PID"
wait_for 10 proc_gone "$DAEMON_PID" || not_ok "first daemon stopped" "still running" "$DAEMON_LOG"
burst $((BURST + 1)) $((BURST * 2))
PLUMBD_FAULT_MIRROR_HOLD=1 plumbd_daemon
wait_for 20 pending_is $((BURST + BURST / 2)) ||
    not_ok "second burst in the database" "$(pending_in_db) Pending" "$DAEMON_LOG"
sleep 0.3
if status_files_same >/dev/null; then
    not_ok "held: the files lag the database" "they agree: nothing was held back"
else
    ok "held: the files lag the database"
fi
kill -TERM "$DAEMON_PID"
if wait_for 10 proc_gone "$DAEMON_PID"; then
    ok "daemon stopped on SIGTERM"
else
    not_ok "daemon stopped on SIGTERM" "still running" "$DAEMON_LOG"
fi
status_files_agree "after SIGTERM with files held back"
assert_eq "every object has its file after SIGTERM" "$((BURST + BURST / 2 + 3))" "$(status_files)"
assert_no_match "no temporary file left behind" '\.tmp\.' "$(ls -a "$STATE/status")"
lab_done
