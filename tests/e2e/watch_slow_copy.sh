#!/bin/bash
# watch_slow_copy: a big file copied slowly over the previous version of
# itself (issue 5, Watching: "cp of a large file (partial writes)"), as `cp`
# from a USB stick on an air-gapped node does: one open(O_TRUNC), 2 MiB
# written in 64 KiB chunks with pauses of 100-400 ms (longer than the
# default 200 ms settle delay), one close. The new version is ~2 MiB of
# comments, then the seed pod (unchanged) and a second pod. The daemon must
# never act on the half-written file: the seed pod, which was in the
# previous version of that file, is never pruned, and the node converges
# once, on the complete file.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
F=$CONF/multus-demo.yml
BIG=$LAB_TMP/big.yml
POD2=${P}pod2
lab_netns "$POD2"
{
    line="# padding: an operator's long commentary that makes this file big ......................."
    for i in $(seq 22000); do echo "$line"; done
    cat "$F"
    echo "---"
    watch_pod_doc pod2 "$POD2" 192.168.255.101
} >"$BIG"
size=$(stat -c %s "$BIG")
diag "new version: $size bytes, pods from byte $(grep -b -m1 '^apiVersion' "$BIG" | cut -d: -f1)"

plumbd_daemon
watch_ready || exit 1

watch_mark
t0=$SECONDS
exec 3>"$F"                                  # cp: open(O_WRONLY|O_TRUNC) once
chunks=$(((size + 65535) / 65536))
for ((i = 0; i < chunks; i++)); do
    dd if="$BIG" bs=65536 skip="$i" count=1 status=none >&3
    sleep "0.$((RANDOM % 4 + 1))"           # 100..400 ms
done
exec 3>&-                                    # close: the file is complete
diag "copy took $((SECONDS - t0)) s in $chunks chunks"
cmp -s "$BIG" "$F" && ok "copy is complete" || not_ok "copy is complete" "differs"
watch_expect "slow cp of a 2 MiB file" 1 "" 10 has_addr "$POD2" net1 192.168.255.101/24
assert_eq "seed pod Available" Available "$(plumbd_status_field default/multus-demo 3)"
assert_eq "pod2 Available" Available "$(plumbd_status_field default/pod2 3)"
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"

lab_done
