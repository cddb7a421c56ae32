#!/bin/bash
# tools/bench.sh - make bench: plumbd against the CNI reference plugins and the
# `ip -batch` floor, measured in one run on this machine (issue 8).
#
#   tools/bench.sh [N...]            default N: 100 1000
#
# For each N, a fresh lab of network namespaces (unique prefix pb<pid>-, removed
# on exit or Ctrl-C): a node netns with ens19 wired to a peer netns, br-1 made by
# `plumbd apply` from the seed policy, and N+1 pod namespaces. Then, on the same
# br-1, the same work (attach N pods: veth with the peer in the pod netns as
# net1, on br-1, up, address, default route via 192.168.255.254; then detach):
#   cni-msc-on / cni-msc-off  /usr/lib/cni/bridge + host-local, one ADD per pod
#                 then one DEL per pod, inside the node netns (the seed NAD's
#                 config, cniVersion 0.3.1, macspoofchk true / false)
#   floor         one `ip -n NODE -batch` (veth with peer in the pod netns,
#                 master, up) + one `ip -n POD -batch` per pod (up, address,
#                 route); removal: one batch of `link del` per host veth
#   floor-group   same with the host veths in one interface group, removed by
#                 one `ip link del group G`
#   plumbd-files  `plumbd run` watching the config dir; N Pod files (no ips:
#                 host-local allocation) renamed in by one `mv`, timed to every
#                 pod converged; then removed by one `rm`, timed to all gone
#   plumbd-list   same with one file holding the N pods (kind: List)
# "Converged" is read from the kernel every 20 ms: br-1 has N+1 ports (ens19 +
# N host veths) and the last pod's net1 has an IPv4 address; "gone": br-1 has
# only ens19 and the last pod has no net1.
# Then: a converged pass (`plumbd apply` with N pods + 50 extra bridges from 50
# extra policies), twice: with the daemon running (apply hands the pass to it)
# and, the daemon stopped, `apply --standalone` (a one-shot process that reads
# every file and namespace): wall time and netlink writes; one-file change
# -> converged latency (toggle one pod's requested IP, polling the pod netns
# every BENCH_POLL_US), with --settle-ms 200 and 0; drift repair latency (ens19 nomaster ->
# enslaved again); daemon peak RSS (VmHWM) and CPU used while idle for 10 s
# (ticks, and time on a CPU from schedstat), once the kernel's events that
# follow a big pass are over.
# The seed policy asks for a DHCP lease on br-1: the peer runs dnsmasq (when
# installed; lab.dhcp_server in the JSON says) with leases from 10.251.0.0/24,
# no router, no DNS. The one-shot applies run with --dhcp-wait-ms 0 (the wait
# for a lease is not a pass).
# For N > 200 the NAD's subnet is widened from /24 to 192.168.248.0/21 (same
# gateway) so that N addresses fit; every method uses the same subnet.
#
# Output: a table and figures on stdout, the same as JSON in
# bench/results/<UTC date>-<short commit>.json (BENCH_RESULTS to change the dir).
# Knobs (environment): BENCH_SETTLE_MS (daemon settle for the attach/detach
# runs, default 200), BENCH_CHANGES (200), BENCH_DRIFTS (50), BENCH_APPLY_RUNS
# (10), BENCH_CHANGE_GAP_MS (the pause after each change converged, 50),
# BENCH_POLL_US (how often the change and drift probes look, 200 us),
# BENCH_EXTRA_BRIDGES (50), BENCH_SKIP (space-separated parts to skip:
# cni floor plumbd converged latency drift), BENCH_LOGS (a dir to keep the daemon
# logs in; PLUMBD_LOG=debug adds each pass's phase times), BENCH_PERF (a file:
# `perf record` of the daemon during the settle-0 changes), BENCH_CNI_MSC_ON_MAX_N (200: above
# it the macspoofchk-on CNI row is left out, it alone would take over 10 min).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
PLUMBD=${PLUMBD:-$ROOT/plumbd}
CNI_DIR=${CNI_DIR:-/usr/lib/cni}
SETTLE_MS=${BENCH_SETTLE_MS:-200}
CHANGES=${BENCH_CHANGES:-200}
CHANGE_GAP_MS=${BENCH_CHANGE_GAP_MS:-50}
POLL_US=${BENCH_POLL_US:-200}
DRIFTS=${BENCH_DRIFTS:-50}
APPLY_RUNS=${BENCH_APPLY_RUNS:-10}
EXTRA_BRIDGES=${BENCH_EXTRA_BRIDGES:-50}
SKIP=" ${BENCH_SKIP:-} "
RESULTS_DIR=${BENCH_RESULTS:-$ROOT/bench/results}
GW=192.168.255.254

NS_LIST=("$@")
[ ${#NS_LIST[@]} -gt 0 ] || NS_LIST=(100 1000)
for n in "${NS_LIST[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 2000 ] || { echo "bench: N must be 1..2000, got '$n'" >&2; exit 2; }
done
[[ $CHANGE_GAP_MS =~ ^[0-9]+$ ]] || { echo "bench: BENCH_CHANGE_GAP_MS must be a whole number of ms, got '$CHANGE_GAP_MS'" >&2; exit 2; }
GAP_S=$(awk -v m="$CHANGE_GAP_MS" 'BEGIN { printf "%.3f", m / 1000 }')
[[ $POLL_US =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_POLL_US must be a positive whole number of us, got '$POLL_US'" >&2; exit 2; }
POLL_S=$(awk -v u="$POLL_US" 'BEGIN { printf "%.6f", u / 1000000 }')
[ "$(id -u)" = 0 ] || { echo "bench: run as root (it creates network namespaces)" >&2; exit 1; }
[ -x "$PLUMBD" ] || { echo "bench: no binary at $PLUMBD (run make)" >&2; exit 1; }
for t in ip jq; do command -v $t >/dev/null || { echo "bench: needs $t" >&2; exit 1; }; done
if [ ! -x "$CNI_DIR/bridge" ] || [ ! -x "$CNI_DIR/host-local" ]; then
    echo "bench: no CNI plugins in $CNI_DIR (make deps installs containernetworking-plugins); skipping the CNI rows" >&2
    SKIP+=" cni "
fi
skipped() { [[ $SKIP == *" $1 "* ]]; }
# macspoofchk on costs ~0.5 s per pod at N=100 on a 2-vCPU machine and grows with
# N (DEL lists the whole ruleset): above this N it is left out of the run
CNI_MSC_ON_MAX=${BENCH_CNI_MSC_ON_MAX_N:-200}

PFX=pb$$-
TMP=$(mktemp -d "${TMPDIR:-/tmp}/plumbd-bench.XXXXXX")
PIDS=()
DAEMON_PID=
# a private copy: ./plumbd may be rebuilt while the bench runs
cp "$PLUMBD" "$TMP/plumbd" || exit 1
PLUMBD_SRC=$PLUMBD PLUMBD=$TMP/plumbd
HELP=$("$PLUMBD" --help 2>&1)
FLAP_OPT=() # the drift trials repair the same change 50 times in a few seconds
grep -q -- --flap-limit <<<"$HELP" && FLAP_OPT=(--flap-limit 100000)
# DHCP: see the header (the daemon holds a lease, as on a real node, so an
# idle daemon has nothing to retry). Whatever dns-resolver plumbd writes goes
# to a file of the bench's, never the host's /etc/resolv.conf.
DHCP_OPT=(--resolv-conf "$TMP/resolv.conf")
grep -q -- --dhcp-wait-ms <<<"$HELP" && DHCP_OPT+=(--dhcp-wait-ms 0)
HAVE_DNSMASQ=0
command -v dnsmasq >/dev/null && HAVE_DNSMASQ=1

# ---- cleanup (EXIT, Ctrl-C, TERM) ------------------------------------------------

ns_delete_prefix() { # delete every netns whose name starts with $1, in one ip process
    ip netns list 2>/dev/null | awk -v p="$1" 'index($1, p) == 1 { print "netns delete " $1 }' |
        ip -force -batch - >/dev/null 2>&1
    return 0
}
cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    ns_delete_prefix "$PFX"
    if [ -n "${BENCH_LOGS:-}" ] && mkdir -p "$BENCH_LOGS"; then
        for f in "$TMP"/*/work/daemon-*.log; do
            [ -f "$f" ] && cp "$f" "$BENCH_LOGS/n$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
        done
    fi
    rm -rf -- "$TMP"
    [ "$rc" = 130 ] && echo "bench: interrupted, lab removed" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- small helpers ---------------------------------------------------------------

exec {SLEEPFD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEPFD" _ || :; } # sleep without a fork
# cpu_stat: the machine's CPU ticks so far (all CPUs), from /proc/stat:
# "BUSY TOTAL STEAL" (busy leaves idle and iowait out; steal: the time a
# virtual machine's CPUs waited for the host)
cpu_stat() { local c u ni sy id io irq sirq st rest; read -r c u ni sy id io irq sirq st rest </proc/stat; echo "$((u + ni + sy + irq + sirq + st)) $((u + ni + sy + id + io + irq + sirq + st)) $st"; }
# machine_quiet NAME: before a method is timed, wait until the kernel's
# work left by the one before (a thousand veths deleted one by one, the
# RCU callbacks and namespace cleanup after them) is over: two 0.5 s
# windows in a row with at most one tick of CPU per CPU, at most 30 s.
# The wait goes into the JSON (quiet_wait_s of the method; quiet false
# when the 30 s ran out first).
machine_quiet() {
    local b0 b1 w=0 quiet=0 max
    max=$(nproc)
    while ((w < 60 && quiet < 2)); do
        read -r b0 _ _ <<<"$(cpu_stat)"; nap 0.5; read -r b1 _ _ <<<"$(cpu_stat)"
        if (($(( b1 - b0 )) <= max)); then quiet=$((quiet + 1)); else quiet=0; fi
        w=$((w + 1))
    done
    QUIET_WAIT[$1]=$(awk -v w="$w" 'BEGIN { printf "%.1f", w / 2 }')
    QUIET_OK[$1]=$([ "$quiet" -ge 2 ] && echo true || echo false)
    STEAL0[$1]=$(cpu_stat)
}
declare -A QUIET_WAIT QUIET_OK STEAL0
now_us() { echo "${EPOCHREALTIME/./}"; }
ms() { awk -v u="$1" 'BEGIN { if (u == "null" || u == "") print "null"; else printf "%.1f", u / 1000 }'; } # us -> ms
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a == "" || b == "" || a == "null" || b == "null" || b + 0 == 0) print "null"; else printf f, a / b }'; }
log() { printf '# %s\n' "$*" >&2; }

# stats FILE : "median p99 min max count" of the numbers in FILE (one a line)
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "null null null null 0"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        i = int(NR * 0.99); if (i < NR * 0.99) i++; if (i < 1) i = 1
        printf "%.2f %.2f %.2f %.2f %d\n", m, v[i], v[1], v[NR], NR }'
}

# results: "key<TAB>value" lines, turned into nested JSON at the end
RES=$TMP/results.tsv
: >"$RES"
put() { printf '%s\t%s\n' "$1" "$2" >>"$RES"; }
put_s() { printf '%s\ts:%s\n' "$1" "$2" >>"$RES"; } # always a JSON string

# ---- agents: a bash loop inside a namespace that polls kernel state without
# forking (sysfs, /proc/net/fib_trie, builtin timed reads) and answers one line
# per command line. Times are CLOCK_REALTIME microseconds, comparable with now_us.
agent_main() {
    shopt -s nullglob
    exec {SLP}<> <(:)
    nap() { read -r -t "$1" -u "$SLP" _ || :; }
    local_addr() { # IP: is IP a local address of this netns?
        local l
        mapfile -t L </proc/net/fib_trie
        for l in "${L[@]}"; do [[ $l == *"-- $1" ]] && return 0; done
        return 1
    }
    ports() { P=(/sys/class/net/br-1/brif/*); echo ${#P[@]}; }
    echo ready
    local cmd a b c d e f t0 dl
    while read -r cmd a b c d e f; do
        case $cmd in
        converge) # COUNT PODNS up|down IVAL TMO_S: br-1 has COUNT ports, then PODNS's net1 has an IPv4 address (up) / no net1 (down)
            dl=$(( ${EPOCHREALTIME/./} + e * 1000000 ))
            while :; do
                P=(/sys/class/net/br-1/brif/*)
                if [ ${#P[@]} -eq "$a" ]; then
                    if [ "$c" = up ]; then
                        grep -q inet <<<"$(ip -n "$b" -4 -o addr show dev net1 2>/dev/null)" && break
                    else
                        ip -n "$b" link show dev net1 >/dev/null 2>&1 || break
                    fi
                fi
                [ "${EPOCHREALTIME/./}" -gt "$dl" ] && { echo "timeout ${EPOCHREALTIME/./} ports=${#P[@]}"; continue 2; }
                nap "$d"
            done
            echo "ok ${EPOCHREALTIME/./}" ;;
        ports) echo "ok $(ports)" ;;
        change) # SRC DST NEW OLD IVAL TMO_S: rename SRC to DST, wait until NEW is local and OLD is not
            mv -f "$a" "$b" || { echo "error mv"; continue; }
            t0=${EPOCHREALTIME/./}
            dl=$((t0 + f * 1000000))
            until local_addr "$c" && ! local_addr "$d"; do
                [ "${EPOCHREALTIME/./}" -gt "$dl" ] && { echo "timeout"; continue 2; }
                nap "$e"
            done
            echo "ok $(( ${EPOCHREALTIME/./} - t0 ))" ;;
        waitaddr) # IP IVAL TMO_S
            dl=$(( ${EPOCHREALTIME/./} + c * 1000000 ))
            until local_addr "$a"; do
                [ "${EPOCHREALTIME/./}" -gt "$dl" ] && { echo "timeout"; continue 2; }
                nap "$b"
            done
            echo "ok" ;;
        drift) # PORT IVAL TMO_S: release PORT from its bridge, wait until it is enslaved again
            ip link set "$a" nomaster || { echo "error nomaster"; continue; }
            t0=${EPOCHREALTIME/./}
            dl=$((t0 + c * 1000000))
            until [ -e "/sys/class/net/$a/master" ]; do
                [ "${EPOCHREALTIME/./}" -gt "$dl" ] && { echo "timeout"; continue 2; }
                nap "$b"
            done
            echo "ok $(( ${EPOCHREALTIME/./} - t0 ))" ;;
        *) echo "error unknown $cmd" ;;
        esac
    done
}
declare -A AG_IN AG_OUT AG_PID
agent_start() { # NAME NETNS
    [ -z "${AG_IN[$1]:-}" ] || return 0 # already running
    mkfifo "$TMP/ag-$1.in" "$TMP/ag-$1.out"
    ip netns exec "$2" bash -c "$(declare -f agent_main); agent_main" \
        <"$TMP/ag-$1.in" >"$TMP/ag-$1.out" 2>>"$TMP/agent.err" &
    AG_PID[$1]=$!
    PIDS+=($!)
    local fi fo line
    exec {fi}>"$TMP/ag-$1.in"
    exec {fo}<"$TMP/ag-$1.out"
    AG_IN[$1]=$fi AG_OUT[$1]=$fo
    read -r -t 10 -u "$fo" line && [ "$line" = ready ] || { echo "bench: agent $1 did not start" >&2; exit 1; }
}
agent() { # NAME CMD... : prints the reply line
    local line
    echo "${*:2}" >&"${AG_IN[$1]}"
    read -r -t 600 -u "${AG_OUT[$1]}" line || line="error no reply"
    echo "$line"
}
agent_stop() {
    [ -n "${AG_IN[$1]:-}" ] || return 0
    local fi=${AG_IN[$1]} fo=${AG_OUT[$1]}
    exec {fi}>&- {fo}<&-
    wait "${AG_PID[$1]}" 2>/dev/null
    rm -f "$TMP/ag-$1.in" "$TMP/ag-$1.out"
    unset "AG_IN[$1]" "AG_OUT[$1]" "AG_PID[$1]"
}

# ---- the lab -------------------------------------------------------------------------

pod_ns() { echo "${LABP}p$1"; }
ip_for() { # I : the floor's address for pod I
    if [ "$WIDE" = 1 ]; then echo "192.168.$((248 + $1 / 256)).$(($1 % 256))"; else echo "192.168.255.$1"; fi
}

lab_build() { # N
    local n=$1 i
    LABP=${PFX}$n-
    NODE=${LABP}node PEER=${LABP}peer LAT=${LABP}lat
    CONF=$TMP/$n/conf STATE=$TMP/$n/state STAGE=$TMP/$n/stage W=$TMP/$n/work
    mkdir -p "$CONF" "$STATE" "$STAGE" "$W"
    if [ "$n" -gt 200 ]; then WIDE=1 SUBNET=192.168.248.0/21 PLEN=21; else WIDE=0 SUBNET=192.168.255.0/24 PLEN=24; fi
    {
        echo "netns add $NODE"; echo "netns add $PEER"; echo "netns add $LAT"
        for ((i = 1; i <= n; i++)); do echo "netns add $(pod_ns $i)"; done
    } | ip -batch - || return 1
    ip -n "$NODE" link set lo up &&
        ip -n "$NODE" link add ens19 type veth peer name eth0 netns "$PEER" &&
        ip -n "$NODE" link set ens19 up && ip -n "$PEER" link set eth0 up &&
        ip -n "$PEER" addr add 192.168.255.11/24 dev eth0 || return 1
    if [ "$HAVE_DNSMASQ" = 1 ]; then # leases from a subnet of their own: no pod's address
        ip -n "$PEER" addr add 10.251.0.1/24 dev eth0 || return 1
        ip netns exec "$PEER" dnsmasq --keep-in-foreground --port=0 --interface=eth0 \
            --bind-interfaces --no-ping --dhcp-range=10.251.0.100,10.251.0.200,255.255.255.0,1h \
            --dhcp-option=3 --dhcp-option=6 --dhcp-leasefile="$W/dnsmasq.leases" \
            --pid-file="$W/dnsmasq.pid" --log-facility="$W/dnsmasq.log" &
        DNSMASQ_PID=$!
        PIDS+=("$DNSMASQ_PID")
    fi
    cp "$ROOT/examples/linux-bridge-br1-ens19.yml" "$ROOT/examples/node.yml" "$CONF/" || return 1
    sed "s|192.168.255.0/24|$SUBNET|" "$ROOT/examples/linux-bridge-br-1.yml" >"$CONF/linux-bridge-br-1.yml" || return 1
    # br-1 from the seed policy, once, before any method runs
    plumbd apply >"$W/apply0.out" 2>&1 || { cat "$W/apply0.out" >&2; return 1; }
    [ -e "/run/netns/$NODE" ] && ip -n "$NODE" link show br-1 >/dev/null || return 1
}
lab_remove() {
    agent_stop node; agent_stop lat
    [ -n "${DNSMASQ_PID:-}" ] && { kill -TERM "$DNSMASQ_PID" 2>/dev/null; wait "$DNSMASQ_PID" 2>/dev/null; DNSMASQ_PID=; }
    ns_delete_prefix "$LABP"
}

plumbd() { "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" --node-name worker-1 "${DHCP_OPT[@]}" "$@"; }

daemon_start() { # SETTLE_MS [EXTRA OPTIONS...]
    DAEMON_LOG=$W/daemon-$1.log DAEMON_ARGS=("$@")
    "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" --node-name worker-1 \
        --resolv-conf "$TMP/resolv.conf" --settle-ms "$1" "${@:2}" run >>"$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    local i
    for ((i = 0; i < 100; i++)); do # ready: its first pass wrote a generation
        grep -q 'linux-bridge-br1-ens19 *Available' <<<"$(plumbd status 2>/dev/null)" && break
        nap 0.1
    done
    nap 0.5
}
daemon_stop() {
    [ -n "$DAEMON_PID" ] || return 0
    kill -TERM "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
}
proc_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat" 2>/dev/null; } # time on a CPU, ns

# row METHOD N ATTACH_US DETACH_US FAILURES
declare -A ATT DET
row() {
    ATT[$1]=$3 DET[$1]=$4
    local k=n$2.methods.$1
    put "$k.attach_ms" "$(ms "$3")"; put "$k.attach_ms_per_pod" "$(div "$(ms "$3")" "$2" %.3f)"
    [ -n "${QUIET_WAIT[$1]:-}" ] && put "$k.quiet_wait_s" "${QUIET_WAIT[$1]}" && put "$k.quiet" "${QUIET_OK[$1]}"
    local steal=
    if [ -n "${STEAL0[$1]:-}" ]; then # steal over the method's attach and detach
        local t0 s0 t1 s1
        read -r _ t0 s0 <<<"${STEAL0[$1]}"; read -r _ t1 s1 <<<"$(cpu_stat)"
        steal=$(div $(((s1 - s0) * 100)) $((t1 - t0)) %.1f)
        put "$k.steal_pct" "$steal"
    fi
    put "$k.detach_ms" "$(ms "$4")"; put "$k.detach_ms_per_pod" "$(div "$(ms "$4")" "$2" %.3f)"
    put "$k.failures" "$5"
    log "$1 N=$2: attach $(ms "$3") ms, detach $(ms "$4") ms, failures $5${QUIET_WAIT[$1]:+ (machine $([ "${QUIET_OK[$1]}" = true ] && echo quiet || echo "still busy") after ${QUIET_WAIT[$1]} s)}${steal:+, hypervisor steal $steal%}"
}
ports_now() { ip -n "$NODE" -o link show master br-1 2>/dev/null | wc -l; }

# ---- (1) the CNI reference plugins ----------------------------------------------------------

# runs inside the node netns: one plugin call per pod, sequentially
cni_loop() { # COMMAND N PODPREFIX CONFIG ERRLOG
    local i fail=0 t0
    export CNI_COMMAND=$1 CNI_IFNAME=net1 CNI_PATH=$CNI_PATH
    t0=${EPOCHREALTIME/./}
    for ((i = 1; i <= $2; i++)); do
        CNI_CONTAINERID=bench-$i CNI_NETNS=/run/netns/$3$i "$CNI_PATH/bridge" <"$4" >/dev/null 2>>"$5" || fail=$((fail + 1))
    done
    echo "$(( ${EPOCHREALTIME/./} - t0 )) $fail"
}
bench_cni() { # N MACSPOOFCHK(true|false)
    local n=$1 m=$2 name cfg add del
    name=cni-msc-$([ "$m" = true ] && echo on || echo off)
    cfg=$W/$name.conf
    mkdir -p "$W/$name-ipam"
    jq -n --arg s "$SUBNET" --arg d "$W/$name-ipam" --argjson m "$m" --arg gw $GW \
        '{cniVersion: "0.3.1", name: "br-1", type: "bridge", bridge: "br-1", macspoofchk: $m,
          ipam: {type: "host-local", subnet: $s, dataDir: $d, routes: [{dst: "0.0.0.0/0", gw: $gw}]},
          preserveDefaultVlan: false}' >"$cfg"
    machine_quiet "$name"
    add=$(CNI_PATH=$CNI_DIR ip netns exec "$NODE" bash -c "$(declare -f cni_loop); cni_loop ADD $n ${LABP}p $cfg $W/$name.err")
    local ports; ports=$(ports_now)
    [ "$ports" = $((n + 1)) ] || log "$name: br-1 has $ports ports after ADD, expected $((n + 1))"
    del=$(CNI_PATH=$CNI_DIR ip netns exec "$NODE" bash -c "$(declare -f cni_loop); cni_loop DEL $n ${LABP}p $cfg $W/$name.err")
    ports=$(ports_now)
    [ "$ports" = 1 ] || log "$name: br-1 has $ports ports after DEL, expected 1"
    [ -s "$W/$name.err" ] && { log "$name errors:"; tail -n 3 "$W/$name.err" | sed 's/^/#   /' >&2; }
    row "$name" "$n" "${add% *}" "${del% *}" $((${add#* } + ${del#* }))
}

# ---- (2) the ip -batch floor ------------------------------------------------------------------

bench_floor() { # N GROUP(0|1)
    local n=$1 g=$2 name i t0 t1 t2 fail=0 grp=
    name=floor$([ "$g" = 1 ] && echo -group)
    [ "$g" = 1 ] && grp="group 77"
    : >"$W/$name.host"
    : >"$W/$name.del"
    for ((i = 1; i <= n; i++)); do
        echo "link add fl$i master br-1 up $grp type veth peer name net1 netns $(pod_ns $i)" >>"$W/$name.host"
        echo "link del fl$i" >>"$W/$name.del"
        printf 'link set net1 up\naddr add %s/%s dev net1\nroute add default via %s dev net1\n' \
            "$(ip_for $i)" "$PLEN" "$GW" >"$W/floor-pod$i.batch"
    done
    machine_quiet "$name"
    t0=$(now_us)
    ip -n "$NODE" -batch "$W/$name.host" || fail=$((fail + 1))
    for ((i = 1; i <= n; i++)); do
        ip -n "$(pod_ns $i)" -batch "$W/floor-pod$i.batch" || fail=$((fail + 1))
    done
    t1=$(now_us)
    local ports; ports=$(ports_now)
    [ "$ports" = $((n + 1)) ] || log "$name: br-1 has $ports ports after attach, expected $((n + 1))"
    if [ "$g" = 1 ]; then
        ip -n "$NODE" link del group 77 || fail=$((fail + 1))
    else
        ip -n "$NODE" -batch "$W/$name.del" || fail=$((fail + 1))
    fi
    t2=$(now_us)
    ports=$(ports_now)
    [ "$ports" = 1 ] || log "$name: br-1 has $ports ports after detach, expected 1"
    row "$name" "$n" $((t1 - t0)) $((t2 - t1)) $fail
}

# ---- (3) plumbd ---------------------------------------------------------------------------------

pod_yaml() { # I INDENT
    local p=${2:-}
    printf '%sapiVersion: v1\n%skind: Pod\n%smetadata:\n%s  name: bench-%s\n%s  namespace: default\n%s  annotations:\n%s    plumbd/netns: %s\n%s    k8s.v1.cni.cncf.io/networks: '"'"'[{"name":"linux-bridge-br-1"}]'"'"'\n' \
        "$p" "$p" "$p" "$p" "$1" "$p" "$p" "$p" "$(pod_ns "$1")" "$p"
}
# wait_converged N up|down START_US -> elapsed us (or "null")
wait_converged() {
    local want r
    if [ "$2" = up ]; then want=$(($1 + 1)); else want=1; fi
    r=$(agent node converge "$want" "$(pod_ns "$1")" "$2" 0.02 300)
    if [ "${r%% *}" = ok ]; then echo $(( ${r#ok } - $3 )); else log "not converged ($2): $r"; echo null; fi
}
available_pods() { plumbd status 2>/dev/null | awk '$1 == "Pod" && $2 ~ /bench-[0-9]+$/ && $3 == "Available"' | wc -l; }
bench_plumbd() { # N
    local n=$1 i t0 a d fail
    agent_start node "$NODE"
    daemon_start "$SETTLE_MS"
    put "n$n.plumbd_settle_ms" "$SETTLE_MS"
    # one file per pod, renamed in by one mv (staged on the same filesystem)
    for ((i = 1; i <= n; i++)); do pod_yaml $i >"$STAGE/bench-$i.yaml"; done
    machine_quiet plumbd-files
    t0=$(now_us)
    mv "$STAGE"/bench-*.yaml "$CONF"/
    a=$(wait_converged "$n" up "$t0")
    nap 0.3
    fail=$((n - $(available_pods)))
    put "n$n.rss_kb.after_files_attach" "$(proc_field "$DAEMON_PID" VmHWM)"
    t0=$(now_us)
    rm -f "$CONF"/bench-*.yaml
    d=$(wait_converged "$n" down "$t0")
    row plumbd-files "$n" "$a" "$d" "$fail"
    nap 0.5
    # one file, kind: List
    { echo "apiVersion: v1"; echo "kind: List"; echo "items:"
      for ((i = 1; i <= n; i++)); do pod_yaml $i "  " | sed '1s/^  /- /'; done; } >"$STAGE/bench-list.yaml"
    machine_quiet plumbd-list
    t0=$(now_us)
    mv "$STAGE/bench-list.yaml" "$CONF/"
    a=$(wait_converged "$n" up "$t0")
    nap 0.3
    fail=$((n - $(available_pods)))
    cp "$CONF/bench-list.yaml" "$STAGE/bench-list.yaml"
    t0=$(now_us)
    rm -f "$CONF/bench-list.yaml"
    d=$(wait_converged "$n" down "$t0")
    row plumbd-list "$n" "$a" "$d" "$fail"
    put "n$n.rss_kb.after_list" "$(proc_field "$DAEMON_PID" VmHWM)"
}

# converged node: N pods (the List) + EXTRA_BRIDGES more policies; idle CPU and
# RSS from the daemon, then `plumbd apply` with the daemon stopped.
bench_converged() { # N
    local n=$1 k i t0 t1 out rc r
    [ -n "$DAEMON_PID" ] || { agent_start node "$NODE"; daemon_start "$SETTLE_MS"; }
    for ((k = 1; k <= EXTRA_BRIDGES; k++)); do
        cat >"$STAGE/bench-bridge-$k.yml" <<EOF
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: bench-bridge-$k
spec:
  nodeSelector:
    linux-bridge-br1: "true"
  desiredState:
    interfaces:
      - name: bx$k
        type: linux-bridge
        state: up
        ipv4:
          enabled: false
        bridge:
          options:
            stp:
              enabled: false
EOF
    done
    [ -f "$STAGE/bench-list.yaml" ] || { for ((i = 1; i <= n; i++)); do pod_yaml $i "  " | sed '1s/^  /- /'; done |
        { echo "apiVersion: v1"; echo "kind: List"; echo "items:"; cat; } >"$STAGE/bench-list.yaml"; }
    mv "$STAGE"/bench-bridge-*.yml "$STAGE/bench-list.yaml" "$CONF/"
    r=$(wait_converged "$n" up "$(now_us)")
    for ((i = 0; i < 100; i++)); do
        ip -n "$NODE" link show "bx$EXTRA_BRIDGES" >/dev/null 2>&1 && break
        nap 0.1
    done
    local nbr; nbr=$(ip -n "$NODE" -o link show type bridge | grep -c ': bx[0-9]*:')
    put "n$n.converged_pass.extra_bridges" "$nbr"
    [ "$nbr" = "$EXTRA_BRIDGES" ] || log "only $nbr of $EXTRA_BRIDGES extra bridges present"
    # idle means the pass is over: its statuses written (every pod and
    # every extra bridge's policy Available), then the kernel's trailing
    # events given 2 s
    for ((i = 0; i < 300; i++)); do
        [ "$(plumbd status 2>/dev/null | awk '$3 == "Available"' | wc -l)" -ge $((n + EXTRA_BRIDGES)) ] && break
        nap 0.1
    done
    nap 2
    # ... and the kernel's own settling over: a thousand veths' carrier
    # changes reach the daemon as events for several seconds after the
    # pass (the kernel's link watch works through them in batches, a
    # second apart; at 1000 pods they begin a few seconds after the pass
    # and last several, the tail a few carrier changes a second). Idle
    # starts once the daemon ran less than 0.2 ms in each of five 2 s
    # windows in a row (at most 60 s of waiting; "quiet after" says how
    # long it took).
    local c0 c1 n0 n1 w quiet=0
    for ((w = 0; w < 60 && quiet < 5; w += 2)); do
        n0=$(cpu_ns "$DAEMON_PID"); sleep 2; n1=$(cpu_ns "$DAEMON_PID")
        if [ $((n1 - n0)) -lt 200000 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    done
    put "n$n.idle_cpu.quiet_after_s" "$w"
    n0=$(cpu_ns "$DAEMON_PID"); c0=$(cpu_ticks "$DAEMON_PID")
    sleep 10
    n1=$(cpu_ns "$DAEMON_PID"); c1=$(cpu_ticks "$DAEMON_PID")
    put "n$n.idle_cpu.run_us" $(((n1 - n0) / 1000))
    local hz; hz=$(getconf CLK_TCK)
    put "n$n.idle_cpu.seconds" 10
    put "n$n.idle_cpu.ticks" $((c1 - c0))
    put "n$n.idle_cpu.cpu_ms" "$(div $(((c1 - c0) * 1000)) "$hz" %.0f)"
    put "n$n.rss_kb.converged_with_bridges" "$(proc_field "$DAEMON_PID" VmHWM)"
    put "n$n.rss_kb.vmrss_now" "$(proc_field "$DAEMON_PID" VmRSS)"
    log "idle 10 s (quiet after $w s): $((c1 - c0)) ticks, $(((n1 - n0) / 1000)) us on a CPU; VmHWM $(proc_field "$DAEMON_PID" VmHWM) kB"
    # `plumbd apply` with the daemon running is the daemon's pass (its
    # socket in the state dir); then, the daemon stopped, a one-shot one
    time_applies "n$n.converged_pass" "$n"
    daemon_stop
    time_applies "n$n.converged_pass_standalone" "$n" --standalone
}

# time_applies KEY N [OPTIONS...] : APPLY_RUNS converged `plumbd apply`s, timed
# from the shell (process start included); who converged (the daemon or the
# process itself) from one more run with -v.
time_applies() {
    local key=$1 n=$2 k t0 t1 out rc line ops wr med p99 min max cnt
    shift 2
    : >"$W/apply.times"
    for ((k = 0; k < APPLY_RUNS; k++)); do
        # (the clock read in place: $(now_us) would time a subshell's fork too)
        t0=${EPOCHREALTIME/./}; out=$(plumbd "$@" apply 2>&1); rc=$?; t1=${EPOCHREALTIME/./}
        echo "$(ms $((t1 - t0)))" >>"$W/apply.times"
    done
    read -r med p99 min max cnt < <(stats "$W/apply.times")
    line=$(printf '%s\n' "$out" | grep '^applied ' | tail -n 1)
    ops=$(sed -n 's/^applied \([0-9]*\) operations.*/\1/p' <<<"$line")
    wr=$(sed -n 's/^applied [0-9]* operations*, \([0-9]*\) netlink writes*.*/\1/p' <<<"$line")
    local by=process v
    v=$(plumbd -v "$@" apply 2>&1)
    [[ $v == *"converged by the daemon"* ]] && by=daemon
    put "$key.runs" "$cnt"
    put "$key.median_ms" "$med"; put "$key.min_ms" "$min"; put "$key.max_ms" "$max"
    put "$key.operations" "${ops:-null}"; put "$key.netlink_writes" "${wr:-null}"
    put "$key.exit" "$rc"
    put_s "$key.converged_by" "$by"
    put_s "$key.summary" "$line"
    log "converged apply (${*:-as is}, converged by the $by): median $med ms (min $min), '$line', exit $rc"
}

# one-file change -> converged, and drift repair, with the converged node as it is
# The latency pod toggles between two requested addresses of a network of
# its own on br-1 (10.250.0.0/24): the bench pods' host-local allocations
# go round robin through their whole range, so no address of theirs is
# safe to request.
lat_nad() {
    printf 'apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: bench-lat-net\n  namespace: default\nspec:\n  config: '"'"'{"cniVersion": "0.3.1", "name": "bench-lat-net", "type": "bridge", "bridge": "br-1", "ipam": {"type": "host-local", "subnet": "10.250.0.0/24"}}'"'"'\n'
}
lat_yaml() { # IP
    printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bench-lat\n  namespace: default\n  annotations:\n    plumbd/netns: %s\n    k8s.v1.cni.cncf.io/networks: '"'"'[{"name":"bench-lat-net","ips":["%s/24"]}]'"'"'\n' \
        "$LAT" "$1"
}
bench_latency() { # N SETTLE_MS
    local n=$1 s=$2 k new old r A=10.250.0.10 B=10.250.0.11
    lat_nad >"$CONF/bench-lat-net.yaml"
    daemon_start "$s" "${FLAP_OPT[@]}"
    agent_start node "$NODE"
    agent_stop lat; agent_start lat "$LAT"
    lat_yaml $A >"$CONF/.bench-lat.tmp" && mv "$CONF/.bench-lat.tmp" "$CONF/bench-lat.yaml"
    r=$(agent lat waitaddr $A 0.005 30)
    [ "$r" = ok ] || log "latency pod not attached: $r"
    nap 0.5
    : >"$W/lat-$s.us"
    local fails=0 perfpid=
    if [ -n "${BENCH_PERF:-}" ] && [ "$s" = 0 ]; then # where a change's pass goes
        perf record -q -g --call-graph dwarf,16384 -F 2000 -p "$DAEMON_PID" -o "$BENCH_PERF" >/dev/null 2>&1 &
        perfpid=$!
        nap 0.5
    fi
    for ((k = 1; k <= CHANGES; k++)); do
        if ((k % 2)); then new=$B old=$A; else new=$A old=$B; fi
        lat_yaml $new >"$CONF/.bench-lat.tmp"
        r=$(agent lat change "$CONF/.bench-lat.tmp" "$CONF/bench-lat.yaml" $new $old "$POLL_S" 10)
        if [ "${r%% *}" = ok ]; then awk -v u="${r#ok }" 'BEGIN { printf "%.2f\n", u / 1000 }' >>"$W/lat-$s.us"; else fails=$((fails + 1)); fi
        nap "$GAP_S"
    done
    if [ -n "$perfpid" ]; then kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null; fi
    read -r med p99 min max cnt < <(stats "$W/lat-$s.us")
    local key=n$n.change_latency.settle_$s
    put "$key.settle_ms" "$s"; put "$key.gap_ms" "$CHANGE_GAP_MS"; put "$key.poll_us" "$POLL_US"; put "$key.changes" "$CHANGES"; put "$key.converged" "$cnt"; put "$key.failures" "$fails"
    put "$key.median_ms" "$med"; put "$key.p99_ms" "$p99"; put "$key.min_ms" "$min"; put "$key.max_ms" "$max"
    put "$key.median_beyond_settle_ms" "$(awk -v a="$med" -v s="$s" 'BEGIN { if (a == "null") print "null"; else printf "%.2f", a - s }')"
    put "$key.p99_beyond_settle_ms" "$(awk -v a="$p99" -v s="$s" 'BEGIN { if (a == "null") print "null"; else printf "%.2f", a - s }')"
    log "change -> converged (settle $s ms): median $med ms, p99 $p99 ms, $fails failures"
    if [ "$s" = "$SETTLE_MS" ] && ! skipped drift; then bench_drift "$n"; fi
    rm -f "$CONF/bench-lat.yaml"
    for ((k = 0; k < 100; k++)); do ip -n "$LAT" link show net1 >/dev/null 2>&1 || break; nap 0.05; done
    rm -f "$CONF/bench-lat-net.yaml"
    agent_stop lat
    daemon_stop
}
bench_drift() { # N
    local n=$1 k r fails=0
    : >"$W/drift.ms"
    for ((k = 1; k <= DRIFTS; k++)); do
        # without --flap-limit the daemon backs off after 10 repairs a minute: restart it
        if [ ${#FLAP_OPT[@]} = 0 ] && [ $((k % 9)) = 0 ]; then
            local a=("${DAEMON_ARGS[@]}"); daemon_stop; daemon_start "${a[@]}"
        fi
        r=$(agent node drift ens19 "$POLL_S" 2)
        if [ "${r%% *}" = ok ]; then awk -v u="${r#ok }" 'BEGIN { printf "%.2f\n", u / 1000 }' >>"$W/drift.ms"; else fails=$((fails + 1)); nap 1; fi
        nap 0.1
    done
    read -r med p99 min max cnt < <(stats "$W/drift.ms")
    put "n$n.drift_repair.trials" "$DRIFTS"; put "n$n.drift_repair.poll_us" "$POLL_US"; put "n$n.drift_repair.repaired" "$cnt"; put "n$n.drift_repair.failures" "$fails"
    put "n$n.drift_repair.median_ms" "$med"; put "n$n.drift_repair.p99_ms" "$p99"; put "n$n.drift_repair.max_ms" "$max"
    log "drift repair: median $med ms, p99 $p99 ms, $fails failures"
}

# ---- main ---------------------------------------------------------------------------------------

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$([ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo true || echo false)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
put_s date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
put_s commit "$COMMIT"; put dirty "$DIRTY"
put machine.nproc "$(nproc)"; put_s machine.kernel "$(uname -r)"
put lab.dhcp_server "$([ "$HAVE_DNSMASQ" = 1 ] && echo true || echo false)"
put_s machine.cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
put_s machine.cni_plugins "$(dpkg-query -W -f='${Version}' containernetworking-plugins 2>/dev/null || echo unknown)"
put_s plumbd_sha256 "$(sha256sum "$PLUMBD" | cut -c1-16)"
put_s machine.iproute2 "$(ip -V 2>&1 | head -n 1)"
echo "plumbd bench: commit $COMMIT$([ "$DIRTY" = true ] && echo ' (dirty)'), $(nproc) CPUs, kernel $(uname -r), N = ${NS_LIST[*]}"

T_START=$SECONDS
for n in "${NS_LIST[@]}"; do
    log "N=$n: building the lab"
    lab_build "$n" || { echo "bench: could not build the lab for N=$n" >&2; exit 1; }
    put_s "n$n.subnet" "$SUBNET"
    ATT=() DET=()
    if ! skipped cni; then
        if [ "$n" -le "$CNI_MSC_ON_MAX" ]; then bench_cni "$n" true; else
            log "cni-msc-on N=$n: skipped (N > BENCH_CNI_MSC_ON_MAX_N=$CNI_MSC_ON_MAX, time budget)"
            put_s "n$n.methods.cni-msc-on.skipped" "N > BENCH_CNI_MSC_ON_MAX_N=$CNI_MSC_ON_MAX"
        fi
        bench_cni "$n" false
    fi
    if ! skipped floor; then bench_floor "$n" 0; bench_floor "$n" 1; fi
    if ! skipped plumbd; then bench_plumbd "$n"; fi
    if ! skipped converged; then bench_converged "$n"; fi
    if ! skipped latency; then
        bench_latency "$n" "$SETTLE_MS"
        [ "$SETTLE_MS" != 0 ] && bench_latency "$n" 0
    elif ! skipped drift; then
        daemon_start "$SETTLE_MS" "${FLAP_OPT[@]}"; agent_start node "$NODE"; bench_drift "$n"; daemon_stop
    fi
    daemon_stop
    # ratios: plumbd / CNI (macspoofchk off: the same work as plumbd today; and on),
    # plumbd / floor (the faster floor variant in each direction)
    fa=null fd=null
    for f in floor floor-group; do
        [ -n "${ATT[$f]:-}" ] || continue
        [ "$fa" = null ] || [ "${ATT[$f]}" -lt "$fa" ] && fa=${ATT[$f]}
        [ "$fd" = null ] || [ "${DET[$f]}" -lt "$fd" ] && fd=${DET[$f]}
    done
    for m in plumbd-files plumbd-list; do
        [ -n "${ATT[$m]:-}" ] || continue
        for ref in cni-msc-off cni-msc-on; do
            put "n$n.ratios.$m.attach_vs_$ref" "$(div "${ATT[$m]}" "${ATT[$ref]:-}" %.3f)"
            put "n$n.ratios.$m.detach_vs_$ref" "$(div "${DET[$m]}" "${DET[$ref]:-}" %.3f)"
        done
        put "n$n.ratios.$m.attach_vs_floor" "$(div "${ATT[$m]}" "$fa" %.2f)"
        put "n$n.ratios.$m.detach_vs_floor" "$(div "${DET[$m]}" "$fd" %.2f)"
    done
    lab_remove
    log "N=$n done ($((SECONDS - T_START)) s so far)"
done
put total_seconds $((SECONDS - T_START))

# ---- report -------------------------------------------------------------------------------------

JSON=$(jq -R -n '[inputs | split("\t")] | reduce .[] as $kv ({};
        setpath($kv[0] | split("."); ($kv[1] | if . == "null" or . == "" then null
                                               elif startswith("s:") then .[2:]
                                               elif . == "true" then true elif . == "false" then false
                                               else (tonumber? // .) end)))' <"$RES")
JSON=$(jq '. as $r | {date, commit, dirty, plumbd_sha256, machine, total_seconds,
        settings: {settle_ms: '"$SETTLE_MS"', changes: '"$CHANGES"', drift_trials: '"$DRIFTS"',
                   apply_runs: '"$APPLY_RUNS"', extra_bridges: '"$EXTRA_BRIDGES"'},
        runs: [to_entries[] | select(.key | test("^n[0-9]+$")) | {n: (.key[1:] | tonumber)} + .value]}' <<<"$JSON")
mkdir -p "$RESULTS_DIR"
OUT=$RESULTS_DIR/$STAMP-$COMMIT.json
printf '%s\n' "$JSON" >"$OUT"

echo
jq -r '.runs[] | .n as $n | .methods // {} | to_entries[] |
    [.key, $n, .value.attach_ms, .value.attach_ms_per_pod, .value.detach_ms, .value.detach_ms_per_pod, .value.failures] | @tsv' <<<"$JSON" |
    awk -F'\t' 'BEGIN { printf "%-13s %5s %10s %8s %10s %8s %5s\n", "method", "N", "attach ms", "ms/pod", "detach ms", "ms/pod", "fail" }
                { printf "%-13s %5s %10s %8s %10s %8s %5s\n", $1, $2, $3, $4, $5, $6, $7 }'
echo
jq -r '.runs[] | .n as $n | .ratios // {} | to_entries[] | .key as $m | .value |
    [$m, $n, .["attach_vs_cni-msc-off"], .["detach_vs_cni-msc-off"],
     .["attach_vs_cni-msc-on"], .["detach_vs_cni-msc-on"], .attach_vs_floor, .detach_vs_floor] | map(tostring) | @tsv' <<<"$JSON" |
    awk -F'\t' 'BEGIN { printf "%-13s %5s %23s %23s %17s\n", "ratio", "N", "plumbd/CNI(msc off) a/d", "plumbd/CNI(msc on) a/d", "plumbd/floor a/d" }
                { printf "%-13s %5s %11s / %-9s %11s / %-9s %7s / %-7s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
echo
jq -r '.runs[] | "N=\(.n) (subnet \(.subnet)):",
    (if .converged_pass then "  converged pass (apply, \(.converged_pass.extra_bridges) extra bridges, daemon running: converged by the \(.converged_pass.converged_by // "process")): median \(.converged_pass.median_ms) ms, min \(.converged_pass.min_ms) ms over \(.converged_pass.runs) runs; \(.converged_pass.summary)" else empty end),
    (if .converged_pass_standalone then "  converged pass (apply --standalone, daemon stopped): median \(.converged_pass_standalone.median_ms) ms, min \(.converged_pass_standalone.min_ms) ms over \(.converged_pass_standalone.runs) runs; \(.converged_pass_standalone.summary)" else empty end),
    (.change_latency // {} | to_entries[] | "  one-file change -> converged, settle \(.value.settle_ms) ms: median \(.value.median_ms) ms, p99 \(.value.p99_ms) ms (beyond settle: \(.value.median_beyond_settle_ms) / \(.value.p99_beyond_settle_ms) ms), \(.value.converged)/\(.value.changes) converged (probe every \(.value.poll_us) us, \(.value.gap_ms) ms between changes)"),
    (if .drift_repair then "  drift repair (ens19 nomaster -> enslaved): median \(.drift_repair.median_ms) ms, p99 \(.drift_repair.p99_ms) ms, \(.drift_repair.repaired)/\(.drift_repair.trials) (probe every \(.drift_repair.poll_us) us)" else empty end),
    (if .rss_kb then "  daemon VmHWM: \(.rss_kb.after_files_attach) kB after N files, \(.rss_kb.converged_with_bridges) kB converged with bridges" else empty end),
    (if .idle_cpu then "  idle CPU over \(.idle_cpu.seconds) s: \(.idle_cpu.ticks) ticks (\(.idle_cpu.cpu_ms) ms), \(.idle_cpu.run_us) us on a CPU (quiet after \(.idle_cpu.quiet_after_s) s)" else empty end)' <<<"$JSON"
echo
echo "results: $OUT ($((SECONDS - T_START)) s)"
