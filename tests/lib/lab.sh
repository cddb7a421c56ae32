# tests/lib/lab.sh - helpers for end-to-end tests and the demo (bash, sourced).
#
# A lab is a set of network namespaces and temp dirs with a unique name
# prefix ($P), removed by an EXIT trap even when the test fails. Nothing here
# touches the root namespace's interfaces: veths are created inside a lab
# namespace and their peer is moved straight into another lab namespace.
#
#   lab_init                 prefix, temp dirs, cleanup trap
#   lab_seed                 the DESIGN scenario: ${P}node with ens19 wired to
#                            ${P}peer (192.168.255.11/24), seed files in $CONF
#   plumbd_run ARGS...       the CLI with --config-dir/--state-dir/--netns/--node-name
#   plumbd_daemon            `plumbd run` in the background ($DAEMON_PID, $DAEMON_LOG)
#   wait_for SECS CMD...     poll CMD until it succeeds (tests may poll; plumbd may not)
#   ok / not_ok / skip / expect / assert_eq / assert_match    TAP-like lines
#   lab_done                 exit status of the script (non-zero on any not ok)
#
# Output protocol read by tests/run.sh: `ok - NAME`, `not ok - NAME: why`,
# `skip - NAME (why)`; any other line starting with `#` is a diagnostic.

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PLUMBD=${PLUMBD:-$LAB_ROOT/plumbd}
LAB_PASSED=0
LAB_FAILED=0
LAB_SKIPPED=0
LAB_NETNS=()
LAB_PIDS=()

# ---- results ---------------------------------------------------------------

ok() { echo "ok - $1"; LAB_PASSED=$((LAB_PASSED + 1)); }
not_ok() { # NAME WHY [DETAIL-FILE]
    echo "not ok - $1: $2"
    LAB_FAILED=$((LAB_FAILED + 1))
    if [ -n "${3:-}" ] && [ -s "$3" ]; then tail -n 15 "$3" | sed 's/^/#   /'; fi
}
skip() { echo "skip - $1 ($2)"; LAB_SKIPPED=$((LAB_SKIPPED + 1)); }
diag() { echo "# $*"; }

# expect NAME CMD... : ok when CMD exits 0; its output is shown on failure.
expect() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then
        ok "$name"
    else
        local rc=$?
        not_ok "$name" "'$*' exited $rc"
        [ -n "$out" ] && printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
    fi
    return 0
}

# expect_fail NAME CMD... : ok when CMD exits non-zero.
expect_fail() {
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then not_ok "$name" "'$*' succeeded"; else ok "$name"; fi
}

assert_eq() { # NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected '$2', got '$3'"; fi
}

assert_match() { # NAME REGEX TEXT   (grep -E, any line)
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then
        ok "$1"
    else
        not_ok "$1" "no line matches /$2/"
        printf '%s\n' "$3" | tail -n 15 | sed 's/^/#   /'
    fi
}

assert_no_match() { # NAME REGEX TEXT
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then
        not_ok "$1" "unexpected line matching /$2/"
        printf '%s\n' "$3" | grep -E -- "$2" | head -n 5 | sed 's/^/#   /'
    else
        ok "$1"
    fi
}

# wait_for SECS CMD... : poll CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
    local secs=$1; shift
    local deadline=$((SECONDS + secs))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

lab_done() {
    diag "$LAB_PASSED passed, $LAB_FAILED failed, $LAB_SKIPPED skipped"
    [ "$LAB_FAILED" -eq 0 ]
}

# ---- lab life cycle -------------------------------------------------------

lab_init() {
    if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
        skip "${0##*/}" "needs root and iproute2"
        exit 0
    fi
    if [ ! -x "$PLUMBD" ] && [ -z "${LAB_NO_PLUMBD:-}" ]; then
        not_ok "${0##*/}" "no plumbd binary at $PLUMBD (run make)"
        exit 1
    fi
    # Under tests/run.sh the run's prefix comes first, so run.sh can check
    # that nothing of this run is left; standalone: pt<pid>-.
    P="${PLUMBD_TEST_PREFIX:-pt}$$-"
    LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/plumbd-lab.XXXXXX")
    CONF=$LAB_TMP/conf
    STATE=$LAB_TMP/state
    mkdir -p "$CONF" "$STATE"
    NODE=${P}node
    PEER=${P}peer
    NODE_NAME=worker-1
    trap lab_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

lab_cleanup() {
    local rc=$? pid ns i
    trap - EXIT INT TERM
    for pid in "${LAB_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
        for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    for ns in "${LAB_NETNS[@]}"; do
        # ip netns delete only removes the name; processes we started are gone.
        [ -e "/run/netns/$ns" ] && ip netns delete "$ns" 2>/dev/null
    done
    [ -n "${LAB_TMP:-}" ] && [ -d "$LAB_TMP" ] && rm -rf -- "$LAB_TMP"
    exit "$rc"
}

# Remember a background process for the cleanup trap.
lab_track_pid() { LAB_PIDS+=("$1"); }

# lab_netns NAME : create netns NAME (already prefixed by the caller), lo up.
lab_netns() {
    LAB_NETNS+=("$1")
    ip netns add "$1" || return 1
    ip -n "$1" link set lo up
}

# lab_netns_track NAME : delete NAME on exit without creating it now (for a
# namespace the test creates later, e.g. a pod netns that appears late).
lab_netns_track() { LAB_NETNS+=("$1"); }

# lab_wire NS1 IF1 NS2 IF2 : veth between two lab namespaces, both ends up.
lab_wire() {
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" || return 1
    ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# lab_has_kind KIND : can the kernel create links of this kind? (probed in
# the node netns, so call after lab_seed or lab_netns "$NODE").
lab_has_kind() {
    ip -n "$NODE" link add plprobe0 type "$1" >/dev/null 2>&1 || return 1
    ip -n "$NODE" link del plprobe0 >/dev/null 2>&1
    return 0
}

# lab_seed : the DESIGN scenario. Node netns with ens19 (a veth, up, no
# address) wired to a peer netns holding 192.168.255.11/24 on eth0; the
# seed files from examples/ copied into $CONF with the pod's netns pointed at
# ${P}multus-demo through the plumbd/netns annotation (created here unless
# LAB_NO_POD=1).
lab_seed() {
    lab_netns "$NODE" || return 1
    lab_netns "$PEER" || return 1
    lab_wire "$NODE" ens19 "$PEER" eth0 || return 1
    ip -n "$PEER" addr add 192.168.255.11/24 dev eth0 || return 1
    POD_NS=${P}multus-demo
    if [ -z "${LAB_NO_POD:-}" ]; then lab_netns "$POD_NS" || return 1; fi
    cp "$LAB_ROOT/examples/linux-bridge-br1-ens19.yml" "$LAB_ROOT/examples/linux-bridge-br-1.yml" \
        "$LAB_ROOT/examples/node.yml" "$CONF/" || return 1
    lab_pod_netns_override "$LAB_ROOT/examples/multus-demo.yml" "$POD_NS" > "$CONF/multus-demo.yml"
}

# lab_pod_netns_override FILE NETNS : print a Pod file with annotation
# plumbd/netns: NETNS added under metadata.annotations (the seed file itself
# stays verbatim; only the lab's copy gets the override).
lab_pod_netns_override() {
    sed "s|^  annotations:\$|  annotations:\n    plumbd/netns: $2|" "$1"
}

# lab_pod NAME NETNS ANNOTATION-VALUE : print a Pod file (namespace default).
lab_pod() {
    cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: default
  annotations:
    plumbd/netns: $2
    k8s.v1.cni.cncf.io/networks: '$3'
spec:
  containers:
  - name: c
    image: busybox
EOF
}

# ---- the CLI ---------------------------------------------------------------

plumbd_run() {
    "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" \
        --node-name "$NODE_NAME" "$@"
}

# plumbd_daemon : start `plumbd run` in the background; log in $DAEMON_LOG.
plumbd_daemon() {
    DAEMON_LOG=$LAB_TMP/daemon.log
    # A simple command, not the plumbd_run function: $! must be plumbd itself.
    "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" \
        --node-name "$NODE_NAME" run >>"$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    lab_track_pid "$DAEMON_PID"
}

# plumbd_status_field NAME COLUMN : from `plumbd status`, the COLUMN (3 =
# condition, 4 = reason) of the object whose NAME column is NAME.
plumbd_status_field() {
    plumbd_run status 2>/dev/null | awk -v n="$1" -v c="$2" 'NR > 1 && $2 == n { print $c; exit }'
}
plumbd_status_line() {
    plumbd_run status 2>/dev/null | awk -v n="$1" 'NR > 1 && $2 == n { print; exit }'
}
# status_is NAME CONDITION (for wait_for)
status_is() { [ "$(plumbd_status_field "$1" 3)" = "$2" ]; }

# apply_writes OUTPUT : M from the line "applied N operations, M netlink writes".
apply_writes() {
    printf '%s\n' "$1" | sed -n 's/^applied [0-9]* operations\{0,1\}, \([0-9]*\) netlink writes\{0,1\}\([;,. ].*\)\{0,1\}$/\1/p' | tail -n 1
}

# sql QUERY : run a query on the state database.
# (the daemon may be writing: wait for locks up to 2 s)
sql() { sqlite3 -batch -noheader -cmd '.timeout 2000' "$STATE/plumbd.db" "$1"; }
# alloc_of OWNER : "ip|ifname" lines of OWNER's IPAM allocations ("Pod/ns/name")
alloc_of() { sql "SELECT ip || '|' || ifname FROM ipam_allocations WHERE owner = '$1' ORDER BY ip" 2>&1; }
no_alloc() { [ -z "$(alloc_of "$1")" ]; }

# ---- kernel-state probes (all inside lab namespaces) -----------------------

link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
link_absent() { ! link_exists "$@"; }
# pod_has_if NETNS IF : pod interface present and up
pod_if_up() { ip -n "$1" -o link show dev "$2" 2>/dev/null | grep -q '[<,]UP[,>]'; }
# links NETNS : names of every link but lo
links_except_lo() { ip -n "$1" -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); if ($2 != "lo") print $2 }'; }
# bridge_ports NETNS BRIDGE : names of the ports of BRIDGE
bridge_ports() { ip -n "$1" -o link show master "$2" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }

# lab_quiesce SECS NETNS... : wait until none of the namespaces has produced
# a netlink event for SECS seconds (IPv6 DAD, carrier, bridge port state
# settle after a change), at most 15 s. Used before asserting "no events".
lab_quiesce() {
    local quiet=$1; shift
    local f=$LAB_TMP/quiesce.$RANDOM ns pids=() last=-1 size stable=$SECONDS
    for ns in "$@"; do
        ip -n "$ns" monitor link address route >>"$f" 2>/dev/null &
        pids+=($!); lab_track_pid $!
    done
    local deadline=$((SECONDS + 15))
    while [ "$SECONDS" -lt "$deadline" ]; do
        size=$(stat -c %s "$f" 2>/dev/null || echo 0)
        if [ "$size" != "$last" ]; then last=$size; stable=$SECONDS; fi
        [ $((SECONDS - stable)) -ge "$quiet" ] && break
        sleep 0.2
    done
    kill "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    return 0
}

# monitor_start FILE NETNS... / monitor_stop : record netlink events.
monitor_start() {
    local f=$1 ns; shift
    MON_PIDS=()
    : >"$f"
    for ns in "$@"; do
        ip -n "$ns" monitor link address route >>"$f" 2>&1 &
        MON_PIDS+=($!); lab_track_pid $!
    done
    sleep 0.3 # let the monitors subscribe
}
monitor_stop() {
    sleep 0.3
    kill "${MON_PIDS[@]}" 2>/dev/null
    wait "${MON_PIDS[@]}" 2>/dev/null
    return 0
}

# plan_ops OUTPUT : the operation lines of `plumbd plan` stdout (comments,
# blank lines and a "nothing to do"-style remark are not operations).
plan_ops() {
    printf '%s\n' "$1" | grep -Ev '^[[:space:]]*(#|$)' | grep -Eiv '^(no (operations|changes)|nothing to do)' || true
}

# proc_alive PID : running (a zombie not yet reaped by `wait` is not alive).
proc_alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case $st in Z*) return 1 ;; esac
    return 0
}
proc_gone() { ! proc_alive "$1"; }

# has_addr NETNS IF CIDR : IF in NETNS carries exactly CIDR (e.g. 10.0.0.1/24).
has_addr() { ip -n "$1" -o addr show dev "$2" 2>/dev/null | grep -qF " inet $3 "; }
