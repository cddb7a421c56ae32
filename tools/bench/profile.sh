#!/bin/bash
# tools/bench/profile.sh [N] - where a one-shot `plumbd apply` spends its time.
#
# Builds a lab like tools/bench.sh (node netns with ens19 and br-1 from the seed
# policy, N pod namespaces, N Pod files without ips), then profiles three
# one-shot passes: attach (N pods from nothing), converged (same files again,
# nothing to do), detach (pod files removed). Each pass runs once under
# `perf record -g` (cpu-clock, user + kernel, when perf works) for wall/kernel
# share, and once more from the same starting state under
# `valgrind --tool=callgrind` (user space only, instruction counts).
# Prints the top functions of each; keeps the raw files only when PROFILE_OUT=DIR.
# Lab namespaces (prefix pp<pid>-) are removed on exit.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
N=${1:-200}
PLUMBD=${PLUMBD:-$ROOT/plumbd}
[ "$(id -u)" = 0 ] || { echo "profile: run as root" >&2; exit 1; }
[ -x "$PLUMBD" ] || { echo "profile: no binary at $PLUMBD" >&2; exit 1; }
PFX=pp$$-
TMP=$(mktemp -d "${TMPDIR:-/tmp}/plumbd-profile.XXXXXX")
cp "$PLUMBD" "$TMP/plumbd" && PLUMBD=$TMP/plumbd
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
OUTDIR=${PROFILE_OUT:-none}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    ip netns list 2>/dev/null | awk -v p="$PFX" 'index($1, p) == 1 { print "netns delete " $1 }' |
        ip -force -batch - >/dev/null 2>&1
    if [ "$OUTDIR" != none ]; then mkdir -p "$OUTDIR" && cp "$TMP"/*.out "$TMP"/*.txt "$OUTDIR"/ 2>/dev/null; fi
    rm -rf -- "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

NODE=${PFX}node PEER=${PFX}peer CONF=$TMP/conf STATE=$TMP/state
mkdir -p "$CONF" "$STATE" "$TMP/pods"
if [ "$N" -gt 200 ]; then SUBNET=192.168.248.0/21; else SUBNET=192.168.255.0/24; fi
{ echo "netns add $NODE"; echo "netns add $PEER"; for ((i = 1; i <= N; i++)); do echo "netns add ${PFX}p$i"; done; } |
    ip -batch - || exit 1
ip -n "$NODE" link add ens19 type veth peer name eth0 netns "$PEER" && ip -n "$NODE" link set ens19 up || exit 1
cp "$ROOT/examples/linux-bridge-br1-ens19.yml" "$ROOT/examples/node.yml" "$CONF/"
sed "s|192.168.255.0/24|$SUBNET|" "$ROOT/examples/linux-bridge-br-1.yml" >"$CONF/linux-bridge-br-1.yml"
run() { "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" --node-name worker-1 apply; }
run >/dev/null 2>&1 # br-1
for ((i = 1; i <= N; i++)); do
    printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bench-%s\n  namespace: default\n  annotations:\n    plumbd/netns: %s\n    k8s.v1.cni.cncf.io/networks: '"'"'[{"name":"linux-bridge-br-1"}]'"'"'\n' \
        "$i" "${PFX}p$i" >"$TMP/pods/bench-$i.yaml"
done
HAVE_PERF=0
perf stat -e task-clock true >/dev/null 2>&1 && HAVE_PERF=1

pods_in() { cp "$TMP"/pods/*.yaml "$CONF"/; }
pods_out() { rm -f "$CONF"/bench-*.yaml; }
# profile NAME SETUP : SETUP brings the node to the pass's starting state (the
# files), then perf and callgrind each run the pass from that same state.
profile() {
    local name=$1 setup=$2 undo=$3 t0 t1
    $setup
    if [ "$HAVE_PERF" = 1 ]; then
        t0=${EPOCHREALTIME/./}
        perf record -q -g -e cpu-clock -F 4000 -o "$TMP/perf-$name.data" -- \
            "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" --node-name worker-1 apply \
            >"$TMP/apply-$name.out" 2>&1
        t1=${EPOCHREALTIME/./}
        echo "== $name (N=$N): $(grep '^applied' "$TMP/apply-$name.out"), $(((t1 - t0) / 1000)) ms wall under perf"
        perf report -i "$TMP/perf-$name.data" --no-children --sort sym --stdio 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -n 25 >"$TMP/perf-$name.txt"
        perf report -i "$TMP/perf-$name.data" --no-children --sort dso --stdio 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -n 8 >"$TMP/perf-dso-$name.txt"
        echo "-- perf: share by object"; cat "$TMP/perf-dso-$name.txt"
        echo "-- perf: top symbols (self)"; head -n 15 "$TMP/perf-$name.txt"
        rm -f "$TMP/perf-$name.data"
        $undo # back to the starting state for callgrind
        $setup
    fi
    if command -v valgrind >/dev/null; then
        valgrind -q --tool=callgrind --callgrind-out-file="$TMP/callgrind-$name.out" \
            "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" --node-name worker-1 apply \
            >"$TMP/apply-cg-$name.out" 2>&1
        callgrind_annotate --inclusive=yes "$TMP/callgrind-$name.out" 2>/dev/null |
            grep -E '^ *[0-9,]+ ' | head -n 40 >"$TMP/callgrind-incl-$name.txt"
        callgrind_annotate "$TMP/callgrind-$name.out" 2>/dev/null |
            grep -E '^ *[0-9,]+ ' | head -n 25 >"$TMP/callgrind-self-$name.txt"
        echo "-- callgrind: inclusive (user space instructions)"; head -n 25 "$TMP/callgrind-incl-$name.txt"
        echo "-- callgrind: self"; head -n 12 "$TMP/callgrind-self-$name.txt"
    fi
    echo
}
noop() { :; }
redo_attach() { pods_out; run >/dev/null 2>&1; }   # undo of attach: detach everything
redo_detach() { pods_in; run >/dev/null 2>&1; }    # undo of detach: attach again
profile attach pods_in redo_attach
profile converged noop noop
profile detach pods_out redo_detach
[ "$OUTDIR" != none ] && echo "raw files: $OUTDIR"
