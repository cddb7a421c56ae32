#!/bin/bash
# watch_churn: file writes while netlink events keep coming (issue 5: no
# writer pattern "is ever seen as a half-written or deleted object"). The
# daemon runs a drift pass ~10 ms after any netlink event of the node; such
# a pass must not read a config file that is being written (between cp's
# open(O_TRUNC) and its write) nor one that is mid-rename: file changes
# still settling are not the desired state yet. Unrelated veths are created
# and deleted in the node netns (never touching br-1/ens19) while the seed
# pod file is rewritten with the same content 40 times by cp, and 40 times
# by vim's rename dance; nothing may be pruned and nothing converged.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
F=$CONF/multus-demo.yml
cp "$F" "$LAB_TMP/good"

plumbd_daemon
watch_ready || exit 1

churn() {
    while :; do
        ip -n "$NODE" link add churn0 type veth peer name churn1 2>/dev/null
        ip -n "$NODE" link del churn0 2>/dev/null
        sleep 0.003
    done
}
churn &
CHURN=$!
lab_track_pid "$CHURN"

watch_mark
for i in $(seq 40); do cp "$LAB_TMP/good" "$F"; sleep 0.05; done
watch_expect "cp over the same content x40 during netlink churn" 0 "" 3 true

watch_mark
for i in $(seq 40); do
    mv "$F" "$F~"; cp "$LAB_TMP/good" "$F"; rm -f "$F~"; sleep 0.05
done
watch_expect "vim-style rename save x40 during netlink churn" 0 "" 3 true

kill "$CHURN" 2>/dev/null; wait "$CHURN" 2>/dev/null
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"
lab_done
