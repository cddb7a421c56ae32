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

# (the text goes to grep as a here-string, not through `printf | grep -q`:
# under pipefail grep leaving at its first match can SIGPIPE printf, which
# writes line by line, and turn a match into a failure; CI saw it once)
assert_match() { # NAME REGEX TEXT   (grep -E, any line)
    if grep -Eq -- "$2" <<<"$3"; then
        ok "$1"
    else
        not_ok "$1" "no line matches /$2/"
        printf '%s\n' "$3" | tail -n 15 | sed 's/^/#   /'
    fi
}

assert_no_match() { # NAME REGEX TEXT
    if grep -Eq -- "$2" <<<"$3"; then
        not_ok "$1" "unexpected line matching /$2/"
        printf '%s\n' "$3" | grep -E -- "$2" | head -n 5 | sed 's/^/#   /'
    else
        ok "$1"
    fi
}

# wait_for SECS CMD... : poll CMD every 0.1 s until it succeeds; 1 on timeout.
# (the clock is EPOCHREALTIME: $SECONDS counts whole seconds, so a wait for
# 3 s could end after 2)
wait_for() {
    local secs=$1; shift
    local deadline=$((${EPOCHREALTIME/[.,]/} + secs * 1000000))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "${EPOCHREALTIME/[.,]/}" -ge "$deadline" ] && return 1
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
    # The resolv.conf plumbd manages in tests: never the host's.
    RESOLV_CONF=$LAB_TMP/resolv.conf
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
    local st ppid
    for pid in "${LAB_PIDS[@]}"; do
        # only a child of this shell: a process reaped earlier may have left
        # its number to another one
        st=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        read -r _ ppid _ <<<"${st##*) }"
        [ "$ppid" = "$$" ] || continue
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

# The labs have no DHCP server on their wires, and the seed policy asks for
# ipv4.dhcp: `apply` would wait --dhcp-wait-ms (3 s) for a lease each time.
# plumbd_run passes LAB_DHCP_WAIT_MS (default 0: send the DISCOVER, do not
# wait); a test that sets it empty gets plumbd's own default (seed.sh's
# first apply, nmstate_dhcp.sh).
LAB_DHCP_WAIT_MS=${LAB_DHCP_WAIT_MS-0}
plumbd_run() {
    "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" \
        --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" \
        ${LAB_DHCP_WAIT_MS:+--dhcp-wait-ms "$LAB_DHCP_WAIT_MS"} "$@"
}

# plumbd_daemon : start `plumbd run` in the background; log in $DAEMON_LOG.
plumbd_daemon() {
    DAEMON_LOG=$LAB_TMP/daemon.log
    # A simple command, not the plumbd_run function: $! must be plumbd itself.
    "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" \
        --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" run >>"$DAEMON_LOG" 2>&1 &
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
# status_files_same : the status files under $STATE/status, as a set of
# documents, equal `plumbd status -o yaml` (read from the database); the
# difference on stdout when not.
status_files_same() {
    local db files
    db=$(plumbd_run status -o yaml 2>/dev/null | python3 -c '
import sys
docs = [d for d in sys.stdin.read().split("---\n") if d.strip()]
print("\n===\n".join(sorted(docs)))')
    files=$(python3 -c '
import glob, sys
docs = [open(f).read() for f in glob.glob(sys.argv[1] + "/status/*.yaml")]
print("\n===\n".join(sorted(docs)))' "$STATE")
    [ -n "$db" ] && [ "$db" = "$files" ] && return 0
    diff <(printf '%s\n' "$db") <(printf '%s\n' "$files") | head -20
    return 1
}
# status_files_agree LABEL [SECS] : a check that they agree (within SECS,
# default at once).
status_files_agree() {
    local why
    if [ -n "${2:-}" ] && wait_for "$2" status_files_same >/dev/null; then :; fi
    if why=$(status_files_same); then
        ok "$1: status files = database ($(plumbd_run status 2>/dev/null | tail -n +2 | wc -l) objects)"
    else
        not_ok "$1: status files = database" "$why"
    fi
}

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
# (no `| grep -q` in these probes: under pipefail grep exiting at the first
# match can SIGPIPE ip and turn a match into a failure)
pod_if_up() { local o; o=$(ip -n "$1" -o link show dev "$2" 2>/dev/null); [[ $o =~ [\<,]UP[,\>] ]]; }
# links NETNS : names of every link but lo
links_except_lo() { ip -n "$1" -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); if ($2 != "lo") print $2 }'; }
# bridge_ports NETNS BRIDGE : names of the ports of BRIDGE
bridge_ports() { ip -n "$1" -o link show master "$2" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }

# lab_quiesce SECS NETNS... : wait until none of the namespaces has produced
# a netlink event for SECS seconds (IPv6 DAD, carrier, bridge port state
# settle after a change), at most 15 s. Used before asserting "no events".
lab_quiesce() {
    local quiet=$(($1 * 1000000)); shift
    local f=$LAB_TMP/quiesce.$RANDOM ns pids=() last=-1 size now stable
    for ns in "$@"; do
        ip -n "$ns" monitor link address route >>"$f" 2>/dev/null &
        pids+=($!); lab_track_pid $!
    done
    # (microseconds: with $SECONDS, "quiet for 1 s" could end after 0.2 s)
    now=${EPOCHREALTIME/[.,]/}
    stable=$now
    local deadline=$((now + 15000000))
    while [ "$now" -lt "$deadline" ]; do
        size=$(stat -c %s "$f" 2>/dev/null || echo 0)
        if [ "$size" != "$last" ]; then last=$size; stable=$now; fi
        [ $((now - stable)) -ge "$quiet" ] && break
        sleep 0.2
        now=${EPOCHREALTIME/[.,]/}
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
has_addr() { local o; o=$(ip -n "$1" -o addr show dev "$2" 2>/dev/null); [[ $o == *" inet $3 "* ]]; }

# ---- helpers of the reconcile_* tests (issue 3) ------------------------------

# lab_bridge_policy NAME BRIDGE [mtu=N] [addr=A/P] [port=IF]... [prune=false]
# : print a NodeNetworkConfigurationPolicy (selecting the lab's worker-1
# label) that creates BRIDGE up, STP off, with those settings.
lab_bridge_policy() {
    local name=$1 br=$2 mtu="" addrs=() ports=() prune="" kv
    shift 2
    for kv in "$@"; do
        case $kv in
            mtu=*) mtu=${kv#mtu=} ;;
            addr=*) addrs+=("${kv#addr=}") ;;
            port=*) ports+=("${kv#port=}") ;;
            prune=*) prune=${kv#prune=} ;;
        esac
    done
    echo "apiVersion: nmstate.io/v1"
    echo "kind: NodeNetworkConfigurationPolicy"
    echo "metadata:"
    echo "  name: $name"
    if [ -n "$prune" ]; then
        echo "  annotations:"
        echo "    plumbd/prune: \"$prune\""
    fi
    echo "spec:"
    echo "  nodeSelector:"
    echo "    linux-bridge-br1: \"true\""
    echo "  desiredState:"
    echo "    interfaces:"
    echo "      - name: $br"
    echo "        type: linux-bridge"
    echo "        state: up"
    [ -n "$mtu" ] && echo "        mtu: $mtu"
    if [ ${#addrs[@]} -gt 0 ]; then
        echo "        ipv4:"
        echo "          enabled: true"
        echo "          address:"
        for kv in "${addrs[@]}"; do
            echo "            - ip: ${kv%/*}"
            echo "              prefix-length: ${kv#*/}"
        done
    fi
    echo "        bridge:"
    echo "          options:"
    echo "            stp:"
    echo "              enabled: false"
    if [ ${#ports[@]} -gt 0 ]; then
        echo "          port:"
        for kv in "${ports[@]}"; do echo "            - name: $kv"; done
    fi
}

# lab_nad NAME BRIDGE SUBNET : print a bridge + host-local NAD (namespace
# default, CNI network name NAME).
lab_nad() {
    cat <<EON
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: $1
  namespace: default
spec:
  config: '{"cniVersion":"0.3.1","name":"$1","type":"bridge","bridge":"$2","ipam":{"type":"host-local","subnet":"$3"}}'
EON
}

# link_image NETNS IF : one normalised JSON line describing IF (master, mtu,
# operstate, flags, addresses without lifetimes/DAD flags, IPv4 routes via
# IF), for before/after comparisons; "absent" when IF does not exist.
link_image() {
    python3 - "$1" "$2" <<'EOP'
import json, subprocess, sys
ns, dev = sys.argv[1:3]
def ipj(*args):
    out = subprocess.run(["ip", "-n", ns, "-j", *args], capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else []
link = ipj("link", "show", "dev", dev)
if not link:
    print("absent")
    sys.exit(0)
link = link[0]
addr = ipj("addr", "show", "dev", dev)
addrs = sorted("%s %s/%s scope %s" % (a["family"], a["local"], a["prefixlen"], a.get("scope"))
               for a in (addr[0].get("addr_info", []) if addr else []))
routes = sorted("%s proto %s scope %s src %s" % (r.get("dst"), r.get("protocol"), r.get("scope"),
                                               r.get("prefsrc")) for r in ipj("-4", "route", "show", "dev", dev))
print(json.dumps({"master": link.get("master"), "mtu": link.get("mtu"),
                  "operstate": link.get("operstate"), "flags": sorted(link.get("flags", [])),
                  "addresses": addrs, "routes4": routes}, sort_keys=True))
EOP
}
# image_is NETNS IF IMAGE (for wait_for)
image_is() { [ "$(link_image "$1" "$2")" = "$3" ]; }

# pod_net1_is NETNS CIDR MAC : net1 in NETNS is up with MAC and CIDR.
pod_net1_is() {
    local l
    l=$(ip -n "$1" -o link show dev net1 2>/dev/null) || return 1
    # (no `| grep -q` here: under pipefail an early grep exit can SIGPIPE the writer)
    [[ $l == *[\<,]UP[,\>]* ]] || return 1
    [[ $l == *"link/ether $3 "* ]] || return 1
    l=$(ip -n "$1" -o -4 addr show dev net1 2>/dev/null)
    [[ $l == *" inet $2 "* ]]
}

# heal_start / heal_wait LIMIT_MS CMD... : time how long CMD takes to start
# succeeding, polled every 10 ms from heal_start (call it right after the
# drift command). Sets HEAL_MS; returns 1 when LIMIT_MS passed first.
# (The time is taken when the probe that succeeds starts: a probe starts
# several processes, a few hundred ms on a loaded machine, which is the
# probe's time, not the daemon's.)
heal_start() { HEAL_T0=${EPOCHREALTIME/[.,]/}; }
heal_wait() {
    local limit=$1 now t
    shift
    while :; do
        t=${EPOCHREALTIME/[.,]/}
        if "$@" >/dev/null 2>&1; then
            HEAL_MS=$(((t - HEAL_T0) / 1000))
            return 0
        fi
        now=${EPOCHREALTIME/[.,]/}
        if [ $(((now - HEAL_T0) / 1000)) -ge "$limit" ]; then
            HEAL_MS=$(((now - HEAL_T0) / 1000))
            return 1
        fi
        sleep 0.01
    done
}

# node_veths : names of the veths in the node netns other than ens19.
node_veths() {
    ip -n "$NODE" -o link show type veth 2>/dev/null |
        awk -F': ' '{ sub(/@.*/, "", $2); if ($2 != "ens19") print $2 }'
}

# ---- helpers of the watch_* tests (issue 5: file sources) --------------------
# A step reproduces one writer pattern against a running daemon:
#   watch_ready                after plumbd_daemon: wait for the seed pod
#   watch_mark                 newest generation, daemon log offset, the host
#                              veth ($WATCH_HOST) and ifindexes, netlink
#                              monitors on the node and the seed pod netns
#   ... the writer pattern ...
#   watch_expect NAME N [ALLOWED] SECS CMD...
#                              CMD reached within SECS, then: exactly N new
#                              generations, no deleting op (pod-detach,
#                              link-del, addr-del) unless its owner matches the
#                              regex ALLOWED ("" = none), br-1/ens19/net1/host
#                              veth never deleted, ifindexes unchanged.

# watch_gens [AFTER] : "id trigger ops outcome" per generation newer than
# AFTER (default 0), oldest first, from `plumbd history -o json`.
watch_gens() {
    local j i
    for i in 1 2 3 4 5; do
        j=$(plumbd_run history -o json 2>/dev/null) && break
        sleep 0.2
    done
    # Flat objects, any field order, compact or pretty-printed.
    printf '%s' "$j" | tr -d '\n' | grep -o '{[^{}]*}' | awk -v a="${1:-0}" '
        function field(o, k,   m) {
            if (match(o, "\"" k "\" *: *(\"[^\"]*\"|[^,} ]*)")) {
                m = substr(o, RSTART, RLENGTH)
                sub(/^"[^"]*" *: */, "", m); gsub(/"/, "", m)
                return m
            }
            return "-"
        }
        { id = field($0, "id"); if (id + 0 > a + 0)
              print id, field($0, "trigger"), field($0, "ops"), field($0, "outcome") }' | sort -n
}
# watch_gen_newest : the newest generation id (0 when none); retried, so a
# busy database does not reset the count.
watch_gen_newest() {
    local g i
    for i in 1 2 3 4 5; do
        g=$(sql "SELECT COALESCE(MAX(id), 0) FROM generations" 2>/dev/null)
        case $g in '' | *[!0-9]*) sleep 0.2 ;; *) echo "$g"; return 0 ;; esac
    done
    echo 0
}
# watch_log_since : the daemon log written after watch_mark.
watch_log_since() { tail -c +"$((WATCH_LOGOFF + 1))" "$DAEMON_LOG" 2>/dev/null; }
# watch_ifindex NETNS IF : ifindex of IF, empty when absent.
watch_ifindex() { ip -n "$1" -o link show dev "$2" 2>/dev/null | awk -F': ' '{ print $1; exit }'; }
# watch_deleting_ops AFTER : "gen owner op" of journal ops of later
# generations that take something away.
watch_deleting_ops() {
    local t w=""
    for t in pod-detach link-del addr-del; do # text ops or JSON ops
        w="$w OR op LIKE '$t%' OR op LIKE '%\"type\":\"$t\"%'"
    done
    sql "SELECT gen || ' ' || owner || ' ' || CASE WHEN json_valid(op) THEN
         json_extract(op, '\$.type') || ' ' || json_extract(op, '\$.ifname') ELSE substr(op, 1, 100) END FROM journal_ops
         WHERE gen > $1 AND (0 $w) ORDER BY gen, seq" 2>&1
}

watch_ready() {
    if ! wait_for 15 has_addr "$POD_NS" net1 192.168.255.100/24; then
        not_ok "daemon converges the seed lab" "no net1 in $POD_NS after 15 s" "$DAEMON_LOG"
        return 1
    fi
    ok "daemon converged the seed lab (net1 ifindex $(watch_ifindex "$POD_NS" net1), host veth $(watch_seed_host))"
    # IPv6 DAD and carrier settle on the new links: their netlink events
    # would start drift passes during the first step (see watch_churn.sh).
    lab_quiesce 1 "$NODE" "$POD_NS"
}

# watch_seed_host : the node-side veth of the seed pod's net1 (net1@ifN).
watch_seed_host() {
    local peer
    peer=$(ip -n "$POD_NS" -o link show dev net1 2>/dev/null | sed -n 's/^[0-9]*: net1@if\([0-9]*\):.*/\1/p')
    [ -n "$peer" ] && ip -n "$NODE" -o link show 2>/dev/null |
        awk -F': ' -v i="$peer" '$1 == i { sub(/@.*/, "", $2); print $2 }'
}

watch_mark() {
    # No netlink event in flight: a drift pass starting during the write
    # would be the race watch_churn.sh tests on purpose, not this step's.
    lab_quiesce 1 "${LAB_NETNS[@]}"
    WATCH_HOST=$(watch_seed_host)
    WATCH_NET1_IDX=$(watch_ifindex "$POD_NS" net1)
    WATCH_BR_IDX=$(watch_ifindex "$NODE" br-1)
    WATCH_HOST_IDX=$(watch_ifindex "$NODE" "$WATCH_HOST")
    WATCH_GEN=$(watch_gen_newest)
    WATCH_LOGOFF=$(stat -c %s "$DAEMON_LOG" 2>/dev/null || echo 0)
    WATCH_MON=$LAB_TMP/watch-mon.$RANDOM
    monitor_start "$WATCH_MON" "$NODE" "$POD_NS"
}

watch_expect() { # NAME NGENS ALLOWED-OWNER-REGEX SECS CMD...
    local name=$1 want=$2 allowed=$3 secs=$4 rows n bad del
    shift 4
    if wait_for "$secs" "$@"; then
        ok "$name: final state reached"
    else
        not_ok "$name: final state reached" "'$*' still false after $secs s" "$DAEMON_LOG"
    fi
    sleep 1.5 # settle delay and its cap are far shorter: later passes would show
    monitor_stop
    rows=$(watch_gens "$WATCH_GEN")
    n=$(printf '%s' "$rows" | grep -c .)
    printf '%s\n' "$rows" | grep . | head -n 10 | sed 's/^/#   generation: /'
    watch_log_since | grep -E 'msg="pass \(|EmptySource|overflow|pod-detach|link-del|addr-del' |
        sed 's/^/#   log: /' | head -n 20
    if [ "$n" = "$want" ]; then
        ok "$name: exactly $want convergence(s)"
    else
        not_ok "$name: exactly $want convergence(s)" "$n generations"
    fi
    bad=$(printf '%s\n' "$rows" | awk '$1 != "" && ($2 != "file" || $4 != "applied")')
    [ -z "$bad" ] && ok "$name: generations triggered by the file change, applied" ||
        not_ok "$name: generations triggered by the file change, applied" "$(echo $bad)"
    del=$(watch_deleting_ops "$WATCH_GEN")
    [ -n "$allowed" ] && del=$(printf '%s\n' "$del" | awk -v a="$allowed" '$2 !~ a')
    if [ -z "$del" ]; then
        ok "$name: no prune"
    else
        not_ok "$name: no prune" "deleting ops in the journal"
        printf '%s\n' "$del" | head -n 10 | sed 's/^/#   /'
    fi
    local names="br-1|ens19|net1${WATCH_HOST:+|$WATCH_HOST}"
    local re="^Deleted ([0-9]+: ($names)[@: ]|.* dev ($names)( |\$))"
    if grep -Eq "$re" "$WATCH_MON"; then
        not_ok "$name: br-1, net1 and the host veth never deleted" "netlink says:"
        grep -E "$re" "$WATCH_MON" | head -n 5 | sed 's/^/#   /'
    else
        ok "$name: br-1, net1 and the host veth never deleted"
    fi
    assert_eq "$name: net1, br-1, host veth keep their ifindex" \
        "$WATCH_NET1_IDX $WATCH_BR_IDX $WATCH_HOST_IDX" \
        "$(watch_ifindex "$POD_NS" net1) $(watch_ifindex "$NODE" br-1) $(watch_ifindex "$NODE" "$WATCH_HOST")"
}

# watch_pod_doc NAME NETNS IP : a Pod document on linux-bridge-br-1 with IP/24.
watch_pod_doc() {
    lab_pod "$1" "$2" "[{\"name\":\"linux-bridge-br-1\",\"ips\":[\"$3/24\"]}]"
}

# plumbd_daemon_with OPTION... : plumbd_daemon with extra global options
# (e.g. --flap-backoff-s 1) before `run`; sets $DAEMON_PID, $DAEMON_LOG.
plumbd_daemon_with() {
    DAEMON_LOG=$LAB_TMP/daemon.log
    "$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" \
        --node-name "$NODE_NAME" "$@" run >>"$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    lab_track_pid "$DAEMON_PID"
}

# addr_present NETNS IF CIDR : like has_addr, without a `| grep -q` pipe
# (under `set -o pipefail` grep -q exiting at the first match can make ip
# die of SIGPIPE while printing the next address: a false "absent").
addr_present() {
    local out
    out=$(ip -n "$1" -o addr show dev "$2" 2>/dev/null) || return 1
    [[ $out == *" inet $3 "* || $out == *" inet6 $3 "* ]]
}

# ---- helpers of the journal_* tests (issue 4: journal, rollback, crash) ------

# netns_image NETNS [IF...] : the whole namespace as normalised JSON (one
# line): per link name, kind, master, mtu, up, alias, bridge stp_state; MACs
# only of the IFs named (the others are random per creation: veths, bridges
# following their ports); addresses but IPv6 link-local ones (derived from
# random MACs); IPv4 and IPv6 main-table routes. No ifindex, netnsid, stats,
# operstate or timers. For before/after comparisons of `plumbd rollback`.
netns_image() {
    python3 - "$@" <<'EOP'
import json, subprocess, sys
ns, keepmac = sys.argv[1], set(sys.argv[2:])
def ipj(*args):
    out = subprocess.run(["ip", "-n", ns, "-j", *args], capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else []
links = {}
for l in ipj("-d", "link", "show"):
    name = l["ifname"]
    info = l.get("linkinfo", {})
    e = {"kind": info.get("info_kind"), "slave": info.get("info_slave_kind"),
         "master": l.get("master"), "mtu": l.get("mtu"),
         "up": "UP" in l.get("flags", []), "alias": l.get("ifalias")}
    if info.get("info_kind") == "bridge":
        e["stp_state"] = info.get("info_data", {}).get("stp_state")
    if name in keepmac:
        e["mac"] = l.get("address")
    links[name] = e
addrs = {}
for a in ipj("addr", "show"):
    addrs[a["ifname"]] = sorted("%s %s/%s scope %s" % (i["family"], i["local"], i["prefixlen"], i.get("scope"))
                                for i in a.get("addr_info", [])
                                if not (i["family"] == "inet6" and i.get("scope") == "link"))
routes = sorted("%s via %s dev %s proto %s scope %s src %s metric %s" % (
    r.get("dst"), r.get("gateway"), r.get("dev"), r.get("protocol"), r.get("scope"),
    r.get("prefsrc"), r.get("metric")) for f in ("-4", "-6") for r in ipj(f, "route", "show"))
print(json.dumps({"links": links, "addrs": addrs, "routes": routes}, sort_keys=True))
EOP
}

# image_diff A B : the differing lines of two netns_image outputs (pretty).
image_diff() {
    diff <(printf '%s\n' "$1" | python3 -m json.tool) <(printf '%s\n' "$2" | python3 -m json.tool) |
        grep '^[<>]' | head -n 20
}

# hist_gen GEN FIELD : FIELD (id, trigger, ops, outcome, objects, ended...)
# of generation GEN from `plumbd history -o json`; "newest" as GEN = the
# first row. Empty when absent.
hist_gen() {
    plumbd_run history -o json 2>/dev/null | python3 -c '
import json, sys
g, f = sys.argv[1], sys.argv[2]
try: rows = json.load(sys.stdin)
except Exception: sys.exit(0)
for r in rows:
    if g == "newest" or str(r.get("id")) == g:
        v = r.get(f)
        print("" if v is None else v); break' "$1" "$2"
}

# hist_ops GEN : "seq state op-first-word op-second-word" per op of GEN, from
# `plumbd history -o json GEN` (e.g. "2 failed link-set lo").
hist_ops() {
    plumbd_run history -o json "$1" 2>/dev/null | python3 -c '
import json, sys
try: rows = json.load(sys.stdin)
except Exception: sys.exit(0)
for r in rows:
    w = (r.get("op") or "").split()
    print(r.get("seq"), r.get("state"), *w[:2])'
}

# kernel_enslave_error NETNS IF : the kernel's answer to enslaving IF to a
# scratch bridge (empty when the kernel accepts it; the bridge is removed).
kernel_enslave_error() {
    local out
    ip -n "$1" link add plprobe0 type bridge >/dev/null 2>&1 || return 1
    out=$(ip -n "$1" link set "$2" master plprobe0 2>&1)
    ip -n "$1" link del plprobe0 >/dev/null 2>&1
    printf '%s\n' "$out" | sed -n 's/^RTNETLINK answers: //p; s/^Error: //p' | head -n 1
}

# lab_untrack_pid PID : forget a background process that has been reaped
# (a test that starts and kills many daemons must not have the cleanup trap
# signal PIDs that may since have been reused).
lab_untrack_pid() {
    local p keep=()
    for p in "${LAB_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    LAB_PIDS=("${keep[@]}")
}

# ---- helpers of sources_multi, reconcile_degraded, metrics_scrape -----------
# (issues 5, 3, 9)

# lab_split_sources : move the seed files of $CONF into two sources,
# $SITE (policy + NAD) and $LOCAL (pod + node); CONF becomes $SITE, so
# plumbd_run/plumbd_daemon_with given `--config-dir $LOCAL` read both, in
# that order.
lab_split_sources() {
    SITE=$LAB_TMP/site
    LOCAL=$LAB_TMP/local
    mkdir -p "$SITE" "$LOCAL" || return 1
    mv "$CONF/linux-bridge-br1-ens19.yml" "$CONF/linux-bridge-br-1.yml" "$SITE/" || return 1
    mv "$CONF/multus-demo.yml" "$CONF/node.yml" "$LOCAL/" || return 1
    rmdir "$CONF" 2>/dev/null
    CONF=$SITE
}
# plumbd_multi ARGS... : the CLI reading $SITE then $LOCAL.
plumbd_multi() { plumbd_run --config-dir "$LOCAL" "$@"; }

# net1_addr NETNS : the IPv4 CIDR of net1 in NETNS (empty when none).
net1_addr() { ip -n "$1" -o -4 addr show dev net1 2>/dev/null | awk '{ print $4; exit }'; }

# log_count_since FILE OFFSET REGEX : lines of FILE after byte OFFSET
# matching REGEX (grep -E).
log_count_since() { tail -c +"$(($2 + 1))" "$1" 2>/dev/null | grep -Ec -- "$3"; }
# daemon_started_since OFFSET : the daemon whose log is $DAEMON_LOG logged
# its start pass after byte OFFSET (a restarted daemon appending to the log
# of the one before; its statuses are in the database already, so only
# this says it is up). For wait_for.
daemon_started_since() { [ "$(log_count_since "$DAEMON_LOG" "$1" 'pass \(start\)')" -gt 0 ]; }

# metrics_get_unix SOCK [PATH] : HTTP/1.0 GET PATH (default /metrics) over a
# unix socket; prints the body, exits 1 unless the status is 200.
metrics_get_unix() {
    python3 - "$1" "${2:-/metrics}" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % sys.argv[2]).encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
status = head.split(b"\r\n", 1)[0].decode(errors="replace")
sys.stdout.write(body.decode(errors="replace"))
sys.exit(0 if " 200 " in status + " " else 1)
EOP
}

# num_ge A B, num_gt A B : numeric comparisons (metric values may be
# floats); false when either is empty.
num_ge() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
num_gt() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

# prom_value TEXT NAME [LABEL=VALUE...] : the value of the first sample of
# NAME whose labels include every LABEL=VALUE given (other labels allowed);
# empty when there is none. (awk, not python: python3 takes up to a second
# to start on a busy test host; label values must not contain '",')
prom_value() { _prom_pick first "$@"; }
# prom_sum TEXT NAME [LABEL=VALUE...] : the sum of every matching sample.
prom_sum() { _prom_pick sum "$@"; }
_prom_pick() {
    local mode=$1 text=$2 name=$3
    shift 3
    printf '%s\n' "$text" | awk -v mode="$mode" -v name="$name" -v want="$*" '
        BEGIN { nw = split(want, w, " ") }
        /^#/ || NF < 2 { next }
        {
            i = index($0, "{")
            if (i) { n = substr($0, 1, i - 1); j = index($0, "}"); labels = "," substr($0, i + 1, j - i - 1) ","; rest = substr($0, j + 1) }
            else { n = $1; labels = ",,"; rest = substr($0, length($1) + 1) }
            if (n != name) next
            for (k = 1; k <= nw; k++) {
                eq = index(w[k], "=")
                if (!index(labels, "," substr(w[k], 1, eq - 1) "=\"" substr(w[k], eq + 1) "\",")) next
            }
            split(rest, v, " ")
            if (mode == "first") { print v[1]; found = 1; exit }
            tot += v[1]; found = 1
        }
        END { if (mode == "sum" && found) printf "%.15g\n", tot }'
}

# prom_lint TEXT : check Prometheus text exposition format 0.0.4; prints one
# line per problem, exits 1 when there is any.
prom_lint() {
    printf '%s\n' "$1" | python3 -c '
import re, sys
lines = sys.stdin.read().split("\n")
if lines and lines[-1] == "": lines.pop()
bad, help_, type_, seen = [], {}, {}, set()
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
lab_re = r"[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\[\\\"n])*\""
sample = re.compile(r"^(" + name_re + r")(\{(" + lab_re + r")(," + lab_re + r")*,?\})? "
                    r"([-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|NaN|[-+]?Inf))( -?\d+)?$")
for i, l in enumerate(lines, 1):
    if l.startswith("# HELP "):
        p = l.split(" ", 3)
        if len(p) < 3 or not re.fullmatch(name_re, p[2]): bad.append("%d: bad HELP: %s" % (i, l))
        elif p[2] in help_: bad.append("%d: second HELP for %s" % (i, p[2]))
        else: help_[p[2]] = i
    elif l.startswith("# TYPE "):
        p = l.split(" ")
        if len(p) != 4 or p[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
            bad.append("%d: bad TYPE: %s" % (i, l))
        elif p[2] in type_: bad.append("%d: second TYPE for %s" % (i, p[2]))
        elif p[2] in seen: bad.append("%d: TYPE after samples of %s" % (i, p[2]))
        else: type_[p[2]] = p[3]
    elif l.startswith("#"):
        continue
    else:
        m = sample.match(l)
        if not m:
            bad.append("%d: not name{labels} value: %r" % (i, l)); continue
        n = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", n)
        fam = n if n in type_ else base
        if fam not in type_: bad.append("%d: sample %s without TYPE" % (i, n))
        if fam not in help_: bad.append("%d: sample %s without HELP" % (i, n))
        seen.add(fam)
if not type_: bad.append("no TYPE line at all")
for b in bad[:20]: print(b)
sys.exit(1 if bad else 0)'
}
