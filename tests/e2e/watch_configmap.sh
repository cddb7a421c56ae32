#!/bin/bash
# watch_configmap: the config dir is a Kubernetes ConfigMap volume updated by
# kubelet's AtomicWriter (issue 5, Watching): files live in a timestamped
# "..<ts>" directory, "..data" points at it, every key is a top-level
# symlink "key -> ..data/key". An update writes a new "..<ts2>" tree, makes
# "..data_tmp -> ..<ts2>", renames it over "..data", adds/removes the
# top-level links, then deletes the old tree. Each update must converge
# exactly once, and the old tree's deletion must never prune anything.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }

# The initial volume, as kubelet lays it out.
TS=..2026_11_27_10_00_00.123456789
mkdir "$CONF/$TS"
for f in "$CONF"/*.yml; do
    k=${f##*/}
    mv "$f" "$CONF/$TS/$k"
    ln -s "..data/$k" "$CONF/$k"
done
ln -s "$TS" "$CONF/..data"
diag "volume: $(cd "$CONF" && for e in .* *; do [ -L "$e" ] && printf "%s -> %s  " "$e" "$(readlink "$e")"; done)"

# atomic_write TS2 SRC : AtomicWriter.Write with the payload of directory
# SRC (one file per key), in kubelet's order of operations.
atomic_write() {
    local new=..$1 src=$2 old k l
    old=$(readlink "$CONF/..data")
    mkdir "$CONF/$new"
    cp "$src"/* "$CONF/$new/"                 # writePayloadToDir
    ln -s "$new" "$CONF/..data_tmp"            # newDataDirName symlink
    mv -T "$CONF/..data_tmp" "$CONF/..data"    # os.Rename over ..data
    for k in "$src"/*; do                      # createUserVisibleFiles
        k=${k##*/}
        [ -L "$CONF/$k" ] || ln -s "..data/$k" "$CONF/$k"
    done
    for l in "$CONF"/*; do                     # removeUserVisiblePaths
        l=${l##*/}
        [ -e "$src/$l" ] || rm -f "$CONF/$l"
    done
    rm -rf "$CONF/$old"                        # os.RemoveAll(old ts dir)
}

plumbd_daemon
watch_ready || exit 1

PAYLOAD=$LAB_TMP/payload
mkdir "$PAYLOAD"
cp "$CONF/$TS"/* "$PAYLOAD/"
POD2=${P}pod2
lab_netns "$POD2"

# --- update 1: a new key (a second pod) ------------------------------------
watch_pod_doc pod2 "$POD2" 192.168.255.101 >"$PAYLOAD/pod2.yml"
sleep 0.5 # the pod netns event's pass (no ops) is over
watch_mark
atomic_write 2026_11_27_10_05_00.000000001 "$PAYLOAD"
watch_expect "configmap: new key" 1 "" 10 has_addr "$POD2" net1 192.168.255.101/24
assert_eq "configmap: old tree is gone, ..data points at the new one" \
    "..2026_11_27_10_05_00.000000001 0" "$(readlink "$CONF/..data") $(ls -d "$CONF/$TS" 2>/dev/null | wc -l)"

# --- update 2: an existing key's content changes (pod2's address) ----------
watch_pod_doc pod2 "$POD2" 192.168.255.102 >"$PAYLOAD/pod2.yml"
watch_mark
atomic_write 2026_11_27_10_10_00.000000002 "$PAYLOAD"
watch_expect "configmap: changed key" 1 '^Pod/default/pod2$' 10 has_addr "$POD2" net1 192.168.255.102/24
assert_eq "configmap: pod2's old address is gone" 1 \
    "$(has_addr "$POD2" net1 192.168.255.101/24 && echo 0 || echo 1)"

# --- update 3: the key removed (a real deletion: only pod2 is pruned) -------
rm -f "$PAYLOAD/pod2.yml"
watch_mark
atomic_write 2026_11_27_10_15_00.000000003 "$PAYLOAD"
watch_expect "configmap: removed key prunes only its pod" 1 '^Pod/default/pod2$' 10 \
    link_absent "$POD2" net1

# --- same payload again: a swap with identical content plans nothing ----------
watch_mark
atomic_write 2026_11_27_10_20_00.000000004 "$PAYLOAD"
watch_expect "configmap: identical payload" 0 "" 5 true
assert_eq "seed pod still Available" Available "$(plumbd_status_field default/multus-demo 3)"
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"

lab_done
