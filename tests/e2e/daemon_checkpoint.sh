#!/bin/bash
# daemon_checkpoint: the daemon copies the database's write-ahead log back
# into it (a checkpoint, with its fsyncs) between passes, not inside the
# commit of the pass that takes the log past the threshold. With the
# threshold lowered to 16 pages (PLUMBD_CHECKPOINT_PAGES, a test hook; the
# default is 1000) pods added one by one must be followed by checkpoints
# between passes, and no commit may have had to checkpoint itself (what a
# log left to grow to 4 x 16 pages gets), with nothing else changed: every
# pod Available, the database whole. With the default threshold the same
# lab never reaches it: no checkpoint is logged.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }

# add_pods FIRST LAST : pods ckFIRST..ckLAST, one file each, one at a time
add_pods() {
    local i
    for ((i = $1; i <= $2; i++)); do
        lab_netns "${P}ck$i" || { not_ok "netns ck$i" "ip netns add failed"; continue; }
        lab_pod "ck$i" "/run/netns/${P}ck$i" '[{"name":"linux-bridge-br-1"}]' >"$CONF/.ck$i.tmp" &&
            mv "$CONF/.ck$i.tmp" "$CONF/ck$i.yml"
        wait_for 10 status_is "default/ck$i" Available ||
            not_ok "pod ck$i Available" "$(plumbd_status_line "default/ck$i")" "$DAEMON_LOG"
    done
}
checkpoints() { grep -c 'obj=store msg="checkpoint: [0-9]* of [0-9]* log pages copied' "$DAEMON_LOG"; }
checkpoints_ge() { num_ge "$(checkpoints)" "$1"; }

# --- the default threshold: this small lab never reaches 1000 pages ---------
PLUMBD_LOG=debug plumbd_daemon
wait_for 15 status_is default/multus-demo Available ||
    not_ok "seed pod Available under the daemon" "$(plumbd_status_line default/multus-demo)" "$DAEMON_LOG"
add_pods 1 3
assert_eq "default threshold: no checkpoint logged" 0 "$(checkpoints)"
kill -TERM "$DAEMON_PID"
wait_for 5 proc_gone "$DAEMON_PID" || not_ok "daemon stops on SIGTERM" "still running" "$DAEMON_LOG"
wait "$DAEMON_PID" 2>/dev/null

# --- 16 pages: checkpoints between passes ------------------------------------
: >"$DAEMON_LOG"
PLUMBD_LOG=debug PLUMBD_CHECKPOINT_PAGES=16 plumbd_daemon
wait_for 15 daemon_started_since 0 || not_ok "the restarted daemon's first pass" "none logged" "$DAEMON_LOG"
add_pods 4 9
wait_for 5 checkpoints_ge 2 || true
n=$(checkpoints)
num_ge "$n" 2 && ok "16 pages: checkpoints logged ($n)" ||
    not_ok "16 pages: checkpoints logged" "$n" "$DAEMON_LOG"
assert_no_match "no checkpoint failed" 'level=(warn|error) obj=store msg=".*checkpoint' "$(cat "$DAEMON_LOG")"

# Nine pods' passes write well over 4 x 16 pages: had the checkpoints
# between passes not run, a commit would have checkpointed itself.
assert_eq "no commit had to checkpoint itself" 0 \
    "$(grep -c 'obj=store msg="checkpoint in a commit' "$DAEMON_LOG")"

for i in 1 2 3 4 5 6 7 8 9; do
    assert_eq "pod ck$i Available" Available "$(plumbd_status_field "default/ck$i" 3)"
done
if command -v sqlite3 >/dev/null; then
    assert_eq "database integrity" ok \
        "$(sqlite3 -cmd ".timeout 2000" "$STATE/plumbd.db" 'PRAGMA integrity_check' 2>&1)"
else
    skip "database integrity" "no sqlite3"
fi
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"

lab_done
