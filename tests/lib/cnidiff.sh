# tests/lib/cnidiff.sh - the differential test of issue 7 (bash, sourced after
# tests/lib/lab.sh, by tests/e2e/cni_diff.sh).
#
# One case = one NetworkAttachmentDefinition config and the pods' annotations,
# run in two identical labs:
#   lab "c": the CNI reference plugins (/usr/lib/cni/bridge or macvlan, with
#            host-local or static IPAM) called as Multus calls them, inside the
#            node netns;
#   lab "p": plumbd (`plumbd apply` with the NAD file and one Pod file per pod).
# Each lab: ${P}<case><lab>-node with ens19 wired to ${P}<case><lab>-peer
# (192.168.255.11/24 and .254/24 = the NAD's gateway, fd00:255::11/64 and
# ::254/64), optionally ${P}<case><lab>-out routed behind the node's ens20
# (10.99.0.2/24 <-> 10.99.0.1/24), and one netns per pod. When the case uses
# the bridge, br-1 is made in BOTH labs by `plumbd apply` of the seed policy
# alone (so the CNI plugin finds br-1 with ens19 enslaved, as on a node where
# kubernetes-nmstate made it).
#
# Then what a user observes is captured in both labs, normalised (host veth
# names -> HOST:<pod>:<if>, MACs not requested -> auto, EUI-64 link-locals ->
# fe80::EUI64, ifindexes dropped) and compared aspect by aspect; each aspect
# gives one `ok - cni_diff: CASE: ASPECT` or `not ok - ...` with the diff in
# `# ` lines (and is recorded for the markdown report, $CD_REPORT).
#
#   cd_case NAME TITLE          start a case (resets the CD_* knobs below)
#   cd_pod NAME ANNOTATION      a pod of the case (k8s.v1.cni.cncf.io/networks value)
#   cd_ping FROM TO-ADDR...     traffic checks: FROM is a pod name or "peer"/"out";
#                               TO-ADDR an address or pod:<name>[:<if>][:6]
#   cd_run                      build, attach, observe, compare, detach, compare
#
# CNI_DIFF_SAVE=DIR keeps each lab's configs, plugin/plumbd outputs and
# snapshots in DIR/<case>-c and DIR/<case>-p.
#
# Knobs set by the case after cd_case: CD_NAD (the CNI config JSON, one line),
# CD_BRIDGE (1: br-1 from the seed policy), CD_OUT (1: the routed outside host,
# for ipMasq), CD_SPOOF (pod:if: macspoofchk effect check), CD_POLICY (policy file).

CNI_DIR=${CNI_DIR:-/usr/lib/cni}
CD_PY=/usr/bin/python3
[ -x "$CD_PY" ] || CD_PY=python3
CD_REPORT=${CD_REPORT:-/tmp/cni_diff_report.md}
CD_SPOOF_MAC=02:00:00:00:00:99
declare -A CD_DELIBERATE=()
CD_FINDINGS=()     # "case<TAB>aspect<TAB>diff-file" of every difference
CD_CASES_RUN=()
CD_NOTES=()        # free text lines for the report

# deliberate CASE ASPECT REASON : a difference between the CNI plugins and
# plumbd that we decided to keep. CASE may be '*'. ASPECT is the aspect's
# name as printed (e.g. "host veth identity").
# An optional fourth argument, an extended regex, narrows it to the diff
# lines that match: any other differing line in that aspect still fails.
declare -gA CD_DELIB_RE=()
deliberate() { CD_DELIBERATE["$1|$2"]=$3; [ $# -lt 4 ] || CD_DELIB_RE["$1|$2"]=$4; }

cd_note() { CD_NOTES+=("$*"); }

cd_case() {
    CD_CASE=$1 CD_TITLE=$2
    CD_NAD='' CD_BRIDGE=1 CD_OUT=0 CD_SPOOF='' CD_PODS=() CD_PINGS=()
    CD_POLICY=$LAB_ROOT/examples/linux-bridge-br1-ens19.yml
    declare -gA CD_ANN=()
    diag "case $1: $2"
}
cd_pod() { CD_PODS+=("$1"); CD_ANN[$1]=$2; }
cd_ping() { local from=$1 t; shift; for t in "$@"; do CD_PINGS+=("$from $t"); done; }

cd_ns() { echo "${P}${CD_CASE}$1-$2"; } # LAB ROLE
cd_dir() { echo "$LAB_TMP/$CD_CASE-$1"; }

# ---- the lab ------------------------------------------------------------------

cd_lab_build() { # LAB
    local l=$1 node peer out p d
    node=$(cd_ns "$l" node) peer=$(cd_ns "$l" peer) d=$(cd_dir "$l")
    mkdir -p "$d/conf" "$d/state" "$d/snap" || return 1
    lab_netns "$node" && lab_netns "$peer" || return 1
    lab_wire "$node" ens19 "$peer" eth0 || return 1
    ip -n "$peer" addr add 192.168.255.11/24 dev eth0 &&
        ip -n "$peer" addr add 192.168.255.254/24 dev eth0 &&
        ip -n "$peer" addr add fd00:255::11/64 dev eth0 nodad &&
        ip -n "$peer" addr add fd00:255::254/64 dev eth0 nodad || return 1
    if [ "$CD_OUT" = 1 ]; then
        out=$(cd_ns "$l" out)
        lab_netns "$out" && lab_wire "$node" ens20 "$out" eth0 || return 1
        ip -n "$node" addr add 10.99.0.1/24 dev ens20 &&
            ip -n "$out" addr add 10.99.0.2/24 dev eth0 &&
            ip -n "$out" route add 192.168.255.0/24 via 10.99.0.1 || return 1
        # what the outside host sees: echo requests by source address
        ip netns exec "$out" nft -f - <<'EON' || return 1
table ip obs {
    chain in {
        type filter hook input priority 0; policy accept;
        icmp type echo-request ip saddr 10.99.0.1 counter comment "from-node"
        icmp type echo-request ip saddr 192.168.255.0/24 counter comment "from-pod-subnet"
    }
}
EON
    fi
    for p in "${CD_PODS[@]}"; do lab_netns "$(cd_ns "$l" "$p")" || return 1; done
    cp "$LAB_ROOT/examples/node.yml" "$d/conf/" || return 1
    if [ "$CD_BRIDGE" = 1 ]; then
        cp "$CD_POLICY" "$d/conf/policy.yml" || return 1
        cd_plumbd "$l" apply >"$d/apply0.out" 2>&1 || {
            diag "lab $l: plumbd apply of the policy alone failed:"; tail -n 5 "$d/apply0.out" | sed 's/^/#   /'
            return 1; }
        ip -n "$node" link show br-1 >/dev/null 2>&1 || return 1
    fi
}

cd_plumbd() { # LAB ARGS...
    local d; d=$(cd_dir "$1")
    "$CD_PLUMBD" --config-dir "$d/conf" --state-dir "$d/state" --netns "$(cd_ns "$1" node)" \
        --node-name worker-1 "${@:2}"
}

# cd_attachments POD : "ifname<TAB>ips-json<TAB>mac" per network element of
# the pod's annotation (interface names net1, net2... in order, as Multus).
cd_attachments() {
    jq -r 'to_entries[] | [(.value.interface // ("net" + ((.key + 1) | tostring))),
            ((.value.ips // []) | tojson), (.value.mac // "")] | @tsv' <<<"${CD_ANN[$1]}"
}

# the CNI config Multus would pass: the NAD's config, the lab's private
# host-local dataDir, and for a requested MAC / IPs the runtimeConfig with the
# capabilities declared (libcni only injects declared capabilities).
cd_cni_conf() { # IPS-JSON MAC
    jq -c --arg dd "$(cd_dir c)/hl" --argjson ips "$1" --arg mac "$2" '
        (if .ipam.type == "host-local" then .ipam.dataDir = $dd else . end)
        | (if ($ips | length) > 0 then .capabilities.ips = true | .runtimeConfig.ips = $ips else . end)
        | (if $mac != "" then .capabilities.mac = true | .runtimeConfig.mac = $mac else . end)' <<<"$CD_NAD"
}

cd_cni() { # COMMAND POD : run the plugin once per network element of POD
    local cmd=$1 pod=$2 ifname ips mac rc=0 conf out
    local node pns d; node=$(cd_ns c node) pns=$(cd_ns c "$pod") d=$(cd_dir c)
    local type; type=$(jq -r .type <<<"$CD_NAD")
    while IFS=$'\t' read -r ifname ips mac; do
        conf=$(cd_cni_conf "$ips" "$mac")
        printf '%s\n' "$conf" >"$d/cni-$pod-$ifname.json"
        out=$(printf '%s' "$conf" | ip netns exec "$node" env CNI_COMMAND="$cmd" \
            CNI_CONTAINERID="cd-$pod" CNI_NETNS="/run/netns/$pns" CNI_IFNAME="$ifname" \
            CNI_PATH="$CNI_DIR" \
            CNI_ARGS="IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$pod;K8S_POD_INFRA_CONTAINER_ID=cd-$pod" \
            "$CNI_DIR/$type" 2>&1) || { rc=1; printf '%s %s %s: %s\n' "$cmd" "$pod" "$ifname" "$out" >>"$d/cni.err"; }
        printf '%s\n' "$out" >"$d/cni-$cmd-$pod-$ifname.out"
    done < <(cd_attachments "$pod")
    return $rc
}

cd_nad_yaml() {
    local name; name=$(jq -r '.[0].name' <<<"${CD_ANN[${CD_PODS[0]}]}")
    cat <<EOF
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: $name
  namespace: default
spec:
  config: '$CD_NAD'
EOF
}

# ---- observing ----------------------------------------------------------------

# cd_settle : wait until the links and addresses of both labs are settled:
# every link that is UP also has operstate UP (the kernel's linkwatch lags
# carrier changes by up to 1 s, and the IPv6 link-local appears only then) and
# no IPv6 address is tentative (DAD takes ~1 s where it is on); the condition
# must hold twice 0.3 s apart; at most 5 s.
cd_settle() {
    local deadline=$((SECONDS + 5)) good=0
    while [ "$SECONDS" -lt "$deadline" ]; do
        if cd_settled; then
            good=$((good + 1))
            [ "$good" -ge 2 ] && return 0
        else
            good=0
        fi
        sleep 0.3
    done
    diag "  links or addresses still settling after 5 s"
}
cd_settled() {
    local ns o
    for ns in $(cd_all_ns); do
        o=$(ip -n "$ns" -6 addr show tentative 2>/dev/null)
        [[ $o == *inet6* ]] && return 1
        # "<...,UP,...> ... state DOWN" or NO-CARRIER while UP: still settling
        o=$(ip -n "$ns" -o link show up 2>/dev/null | grep -v 'state UP\|state UNKNOWN' || true)
        [ -n "$o" ] && return 1
    done
    return 0
}
cd_all_ns() { local l p; for l in c p; do echo "$(cd_ns $l node)"; for p in "${CD_PODS[@]}"; do cd_ns $l "$p"; done; done; }

# cd_requested_macs : every MAC asked for in the case's annotations
cd_requested_macs() { local p; for p in "${CD_PODS[@]}"; do jq -r '.[].mac // empty' <<<"${CD_ANN[$p]}"; done; }

# cd_snap LAB PHASE : every observed aspect into $(cd_dir LAB)/snap/PHASE/*
cd_snap() {
    local l=$1 phase=$2 d pods=() p
    d=$(cd_dir "$l")/snap/$phase
    mkdir -p "$d"
    for p in "${CD_PODS[@]}"; do pods+=("$p=$(cd_ns "$l" "$p")"); done
    local before=""
    [ "$phase" != before ] && before=$(cd_dir "$l")/snap/before
    CD_BEFORE=$before CD_DELTA_PREFIX=${CD_DELTA_PREFIX:-sysctls_set_in_} \
        "$CD_PY" "$LAB_TMP/cdsnap.py" "$d" "$(cd_ns "$l" node)" "$(cd_requested_macs | tr '\n' ',')" "${pods[@]}" \
        2>>"$(cd_dir "$l")/snap.err"
    [ "$phase" != before ] && cd_allocations "$l" >"$d/allocations"
    [ "$phase" = detached ] && cd_nft_residue "$l" >"$d/nftables_rules_naming_a_pod"
}

# the addresses IPAM holds: host-local's files in the dataDir (lab c), the
# ipam_allocations table (lab p); "static IPAM" has no state in CNI.
cd_allocations() {
    local l=$1 d; d=$(cd_dir "$l")
    if [ "$(jq -r '.ipam.type // ""' <<<"$CD_NAD")" != host-local ]; then echo "(no host-local IPAM)"; return; fi
    if [ "$l" = c ]; then
        find "$d/hl" -type f 2>/dev/null | awk -F/ '$NF ~ /^[0-9a-f.:]+$/ && $NF ~ /[.:]/ { print $NF }' | sort
    else
        sqlite3 -batch -noheader -cmd '.timeout 2000' "$d/state/plumbd.db" \
            "SELECT ip FROM ipam_allocations ORDER BY ip" 2>/dev/null | sort
    fi
}

# nftables rules that still name a pod (its requested MAC, its host veth, its
# container id) - for after the detach.
cd_nft_residue() {
    local l=$1 rs n=0 m
    rs=$(ip netns exec "$(cd_ns "$l" node)" nft list ruleset 2>/dev/null)
    for m in $(cd_requested_macs) $(jq -r 'keys[]' "$(cd_dir "$l")/names.attached.json" 2>/dev/null) \
        $(for p in "${CD_PODS[@]}"; do echo "cd-$p"; done); do
        n=$((n + $(printf '%s\n' "$rs" | grep -ciF -- "$m" || true)))
    done
    [ "$n" = 0 ] && echo "no rule or set element names the detached pods" ||
        echo "$n ruleset line(s) still name a detached pod (its MAC, host veth or container id)"
}

# ---- effects: traffic, macspoofchk, ipMasq ---------------------------------------

# cd_addr_of LAB SPEC : pod:<name>[:<if>][:6] -> the pod's first global
# address of that family on that interface (default net1, IPv4)
cd_addr_of() {
    local l=$1 spec=$2 pod ifn fam=-4
    [[ $spec == pod:* ]] || { echo "$spec"; return; }
    IFS=: read -r _ pod ifn f6 <<<"$spec"
    [ "$ifn" = 6 ] && { ifn=''; f6=6; }
    [ "$f6" = 6 ] && fam=-6
    ip -n "$(cd_ns "$l" "$pod")" -o "$fam" addr show dev "${ifn:-net1}" scope global 2>/dev/null |
        awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

cd_traffic() { # LAB -> lines "FROM -> TO: reachable|unreachable"
    local l=$1 line from to addr ns v d i=0
    d=$(cd_dir "$l")/ping
    mkdir -p "$d"
    for line in "${CD_PINGS[@]}"; do
        read -r from to <<<"$line"
        addr=$(cd_addr_of "$l" "$to")
        ns=$(cd_ns "$l" "$from")
        i=$((i + 1))
        if [ -z "$addr" ]; then echo "$from -> $to: no address" >"$d/$i"; continue; fi
        v=-4; [[ $addr == *:* ]] && v=-6
        # one reply within 2 s, asking every 0.2 s
        ( if ip netns exec "$ns" ping "$v" -c 1 -i 0.2 -w 2 -q "$addr" >/dev/null 2>&1; then
              echo "$from -> $to: reachable"; else echo "$from -> $to: unreachable"; fi >"$d/$i" ) &
    done
    wait
    for ((; i > 0; i--)); do cat "$d/$i"; done | sort
}

# macspoofchk: the pod sends with another source MAC; do frames with that
# source reach the peer on the ens19 wire? (netdev ingress counter on the peer)
cd_spoof() { # LAB -> lines
    local l=$1 pod ifn pns peer mac n
    IFS=: read -r pod ifn <<<"$CD_SPOOF"
    pns=$(cd_ns "$l" "$pod") peer=$(cd_ns "$l" peer)
    mac=$(ip -n "$pns" -j link show dev "$ifn" 2>/dev/null | jq -r '.[0].address // empty')
    [ -n "$mac" ] || { echo "no $ifn in the pod"; return; }
    ip netns exec "$peer" nft -f - <<EON 2>/dev/null || { echo "cannot observe (no netdev ingress)"; return; }
table netdev spoofobs {
    chain in {
        type filter hook ingress device eth0 priority 0; policy accept;
        ether saddr $CD_SPOOF_MAC counter
    }
}
EON
    ip -n "$pns" link set dev "$ifn" address "$CD_SPOOF_MAC"
    ip netns exec "$pns" ping -c 3 -i 0.2 -w 1 -q 192.168.255.11 >/dev/null 2>&1
    n=$(ip netns exec "$peer" nft -j list chain netdev spoofobs in 2>/dev/null |
        jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add // 0')
    ip -n "$pns" link set dev "$ifn" address "$mac"
    ip -n "$peer" neigh flush dev eth0 2>/dev/null
    ip netns exec "$peer" nft delete table netdev spoofobs 2>/dev/null
    [ "${n:-0}" -gt 0 ] && echo "frames from the pod with a spoofed source MAC reach the peer" ||
        echo "frames from the pod with a spoofed source MAC are dropped"
    if ip netns exec "$pns" ping -c 1 -i 0.2 -w 2 -q 192.168.255.11 >/dev/null 2>&1; then
        echo "with its own MAC again the pod reaches the peer"
    else
        echo "with its own MAC again the pod does not reach the peer"
    fi
}

# ipMasq: pod1 pings the outside host 10.99.0.2 (routed by the node); which
# source address does the outside host see?
cd_masq() { # LAB -> lines
    local l=$1 out pns r
    out=$(cd_ns "$l" out) pns=$(cd_ns "$l" "${CD_PODS[0]}")
    ip netns exec "$out" nft reset counters table ip obs >/dev/null 2>&1
    if ip netns exec "$pns" ping -c 1 -i 0.2 -w 2 -q 10.99.0.2 >/dev/null 2>&1; then
        echo "${CD_PODS[0]} -> outside host 10.99.0.2: reachable"
    else
        echo "${CD_PODS[0]} -> outside host 10.99.0.2: unreachable"
    fi
    r=$(ip netns exec "$out" nft -j list table ip obs 2>/dev/null | jq -r '.nftables[] | select(.rule) | .rule |
        "\(.comment) \([.expr[] | select(.counter) | .counter.packets][0])"')
    if [[ $r == *"from-node "[1-9]* ]]; then echo "the outside host sees the node's address 10.99.0.1 as source"
    elif [[ $r == *"from-pod-subnet "[1-9]* ]]; then echo "the outside host sees the pod's own address as source"
    else echo "the outside host sees no echo request"; fi
}

# ---- comparing -------------------------------------------------------------------

# cd_compare ASPECT FILE-C FILE-P : one result line; the diff in # lines.
cd_compare() {
    local df
    df=$LAB_TMP/diff.$CD_CASE.$(printf '%s' "$1" | tr -c 'a-zA-Z0-9' _)
    diff -U0 --label cni --label plumbd "$2" "$3" 2>&1 | grep -Ev '^@@' >"$df"
    cd_verdict "$1" "$df"
}
# cd_verdict ASPECT DIFF-FILE : ok when DIFF-FILE is empty or the difference
# is listed as deliberate, else not ok with the diff in # lines.
cd_verdict() {
    local aspect=$1 df=$2 name="cni_diff: $CD_CASE: $1" reason nl
    local key="$CD_CASE|$aspect" re rest
    [ -n "${CD_DELIBERATE[$key]:-}" ] || key="*|$aspect"
    reason=${CD_DELIBERATE[$key]:-}
    re=${CD_DELIB_RE[$key]:-}
    if [ -n "$reason" ] && [ -n "$re" ] && [ -n "$df" ] && [ -s "$df" ]; then
        # only the lines the entry names are excused
        rest=$(grep -Ev '^(---|\+\+\+) ' "$df" | grep -Ev -- "$re")
        if [ -n "$rest" ]; then
            reason=''
            { echo "--- cni"; echo "+++ plumbd"; printf '%s\n' "$rest"; } >"$df.rest"
            df=$df.rest
        fi
    fi
    if [ -z "$df" ] || [ ! -s "$df" ]; then
        ok "$name"
    elif [ -n "$reason" ]; then
        ok "$name"
        diag "  deliberate difference: $reason"
        head -n 12 "$df" | sed 's/^/#   /'
    else
        echo "not ok - $name: CNI and plumbd differ"
        LAB_FAILED=$((LAB_FAILED + 1))
        head -n 30 "$df" | sed 's/^/#   /'
        nl=$(wc -l <"$df")
        [ "$nl" -gt 30 ] && diag "  ($((nl - 30)) more lines in the report)"
        CD_FINDINGS+=("$CD_CASE"$'\t'"$aspect"$'\t'"$df")
    fi
}

# compare every file present in either snapshot dir (one python for all the
# diffs; the verdicts stay here)
cd_compare_snaps() { # PHASE PREFIX
    local phase=$1 pre=$2 aspect df
    while IFS=$'\t' read -r aspect df; do
        cd_verdict "$pre$aspect" "$df"
    done < <("$CD_PY" "$LAB_TMP/cdsnap.py" --compare "$(cd_dir c)/snap/$phase" "$(cd_dir p)/snap/$phase" \
        "$LAB_TMP/diff.$CD_CASE.$phase")
}

# ---- the case ---------------------------------------------------------------------

cd_t() { [ -n "${CNI_DIFF_TIMING:-}" ] && diag "  t+$(( (${EPOCHREALTIME/./} - CD_T0) / 1000 )) ms: $*"; return 0; }
cd_run() {
    local l p rc d t0=$SECONDS
    CD_T0=${EPOCHREALTIME/./}
    for l in c p; do
        if ! cd_lab_build "$l"; then
            not_ok "cni_diff: $CD_CASE: lab" "could not build lab $l"
            return 1
        fi
    done
    cd_t labs built
    for l in c p; do cd_snap "$l" before & done; wait
    cd_t snapshots before

    # attach, both labs at once: CNI ADD per pod / plumbd apply with the NAD and the pods
    (
        d=$(cd_dir c)
        : >"$d/attach"
        for p in "${CD_PODS[@]}"; do
            if cd_cni ADD "$p"; then echo "$p: attached" >>"$d/attach"; else echo "$p: attach failed" >>"$d/attach"; fi
        done
    ) &
    (
        d=$(cd_dir p)
        cd_nad_yaml >"$d/conf/nad.yml"
        for p in "${CD_PODS[@]}"; do lab_pod "$p" "$(cd_ns p "$p")" "${CD_ANN[$p]}" >"$d/conf/pod-$p.yml"; done
        cd_plumbd p apply >"$d/apply1.out" 2>&1
        local st; st=$(cd_plumbd p status 2>/dev/null)
        : >"$d/attach"
        for p in "${CD_PODS[@]}"; do
            if [ "$(awk -v n="default/$p" '$2 == n { print $3 }' <<<"$st")" = Available ]; then
                echo "$p: attached" >>"$d/attach"
            else
                echo "$p: attach failed" >>"$d/attach"
            fi
        done
    ) &
    wait
    cd_t attached
    cd_compare "attach succeeds" "$(cd_dir c)/attach" "$(cd_dir p)/attach"
    if grep -q failed "$(cd_dir c)/attach"; then sed 's/^/#   cni: /' "$(cd_dir c)/cni.err" | head -n 5; fi
    if grep -q failed "$(cd_dir p)/attach"; then
        cd_plumbd p status 2>/dev/null | awk 'NR > 1 && $1 != "NodeNetworkConfigurationPolicy"' | sed 's/^/#   plumbd status: /' | head -n 5
    fi

    cd_settle
    cd_t settled
    for l in c p; do cd_snap "$l" attached & done; wait
    cd_t snapshots attached
    for l in c p; do
        (
            d=$(cd_dir "$l")/snap/attached
            mv -f "$d/names.json" "$(cd_dir "$l")/names.attached.json"
            [ ${#CD_PINGS[@]} -gt 0 ] && cd_traffic "$l" >"$d/traffic"
            [ -n "$CD_SPOOF" ] && cd_spoof "$l" >"$d/macspoofchk_effect"
            [ "$CD_OUT" = 1 ] && cd_masq "$l" >"$d/ipMasq_effect"
        ) &
    done
    wait
    cd_t effects
    cd_compare_snaps attached ""
    cd_t compared

    # detach: CNI DEL / the pod files removed and plumbd apply
    ( for p in "${CD_PODS[@]}"; do cd_cni DEL "$p" || true; done ) &
    ( rm -f "$(cd_dir p)"/conf/pod-*.yml; cd_plumbd p apply >"$(cd_dir p)/apply2.out" 2>&1 ) &
    wait
    for l in c p; do
        (
            CD_DELTA_PREFIX=sysctls_left_in_ cd_snap "$l" detached
            d=$(cd_dir "$l")/snap/detached
            rm -f "$d/names.json" "$d/host_veth_identity"
        ) &
    done
    wait
    cd_t detached
    cd_compare_snaps detached "after detach: "
    diag "case $CD_CASE took $((SECONDS - t0)) s"
    if [ -n "${CNI_DIFF_SAVE:-}" ]; then # keep configs, outputs and snapshots for a closer look
        mkdir -p "$CNI_DIFF_SAVE" && cp -r "$(cd_dir c)" "$(cd_dir p)" "$CNI_DIFF_SAVE/" 2>/dev/null
    fi
    cd_lab_remove
}

cd_lab_remove() { # delete this case's namespaces now (the trap is the safety net)
    local ns keep=()
    for ns in "${LAB_NETNS[@]}"; do
        if [[ $ns == "${P}${CD_CASE}"[cp]-* ]]; then ip netns delete "$ns" 2>/dev/null; else keep+=("$ns"); fi
    done
    LAB_NETNS=("${keep[@]}")
}

# ---- running the cases ------------------------------------------------------------

# cd_run_cases NAME... : case_NAME functions, CNI_DIFF_JOBS at a time (each in
# a subshell with its own labs; most of a case is waiting for pings, DAD and
# plugin processes, so two overlap well on two cores); their output is printed
# and counted in the given order.
cd_run_cases() {
    local jobs=${CNI_DIFF_JOBS:-2} queue=() pids=() c
    CD_CASES_RUN=("$@")
    for c in "$@"; do
        if [ ${#queue[@]} -ge "$jobs" ]; then
            cd_collect "${queue[0]}" "${pids[0]}"
            queue=("${queue[@]:1}") pids=("${pids[@]:1}")
        fi
        ( cd_case_main "$c" ) >"$LAB_TMP/case.$c.out" 2>"$LAB_TMP/case.$c.err" &
        queue+=("$c") pids+=($!)
        lab_track_pid $!
    done
    while [ ${#queue[@]} -gt 0 ]; do
        cd_collect "${queue[0]}" "${pids[0]}"
        queue=("${queue[@]:1}") pids=("${pids[@]:1}")
    done
}
cd_case_main() { # in the case's subshell
    trap - EXIT # the parent's trap cleans up (prefix-wide)
    CD_FINDINGS=() CD_NOTES=() # this case's only (the parent has the others')
    "case_$1"
    local f
    for f in "${CD_FINDINGS[@]}"; do printf '%s\n' "$f"; done >"$LAB_TMP/case.$1.findings"
    for f in "${CD_NOTES[@]}"; do printf '%s\n' "$f"; done >"$LAB_TMP/case.$1.notes"
}
cd_collect() { # NAME PID
    local line rc
    wait "$2"; rc=$?
    while IFS= read -r line; do
        printf '%s\n' "$line"
        case $line in
            "ok - "*) LAB_PASSED=$((LAB_PASSED + 1)) ;;
            "not ok - "*) LAB_FAILED=$((LAB_FAILED + 1)) ;;
            "skip - "*) LAB_SKIPPED=$((LAB_SKIPPED + 1)) ;;
        esac
    done <"$LAB_TMP/case.$1.out"
    if [ "$rc" != 0 ]; then
        not_ok "cni_diff: $1" "the case exited $rc" "$LAB_TMP/case.$1.err"
    fi
    while IFS= read -r line; do [ -n "$line" ] && CD_FINDINGS+=("$line"); done <"$LAB_TMP/case.$1.findings" 2>/dev/null
    while IFS= read -r line; do [ -n "$line" ] && CD_NOTES+=("$line"); done <"$LAB_TMP/case.$1.notes" 2>/dev/null
}

# every namespace of this test (the cases' subshells create their own), then
# lab.sh's cleanup
cd_cleanup() {
    local rc=$?
    ip netns list 2>/dev/null | awk -v p="$P" 'index($1, p) == 1 { print $1 }' |
        while read -r ns; do ip netns delete "$ns" 2>/dev/null; done
    (exit $rc)
    lab_cleanup
}

# ---- the report ---------------------------------------------------------------------

cd_write_report() {
    local f n=${#CD_FINDINGS[@]} k
    {
        printf '%s\n' "${CD_FINDINGS[@]}" >"$LAB_TMP/findings.tsv"
        echo "# cni_diff report: CNI reference plugins vs plumbd"
        echo
        echo "Generated by \`tests/e2e/cni_diff.sh\` on $(date -u +%Y-%m-%dT%H:%M:%SZ) against \`$PLUMBD\`"
        echo "(sha256 $(sha256sum "$CD_PLUMBD" | cut -c1-16)), CNI plugins $(dpkg-query -W -f='${Version}' containernetworking-plugins 2>/dev/null || echo '?'), kernel $(uname -r)."
        echo "Cases run: ${CD_CASES_RUN[*]}; $n aspect(s) differ."
        echo
        echo "Values are normalised: host veth names -> \`HOST:<pod>:<if>\`, MACs not requested -> \`auto\`,"
        echo "EUI-64 link-locals -> \`fe80::EUI64\`. \"CNI\" = /usr/lib/cni plugins called as Multus calls them."
        echo
        [ "$n" -gt 0 ] && "$CD_PY" "$LAB_TMP/cdsnap.py" --report "$LAB_TMP/findings.tsv"
        [ "$n" = 0 ] && { echo "No differences."; echo; }
        echo "## Deliberate differences (reported as ok)"
        echo
        for k in "${!CD_DELIBERATE[@]}"; do echo "* \`${k%%|*}\` / ${k#*|}: ${CD_DELIBERATE[$k]}"; done
        echo
        if [ ${#CD_NOTES[@]} -gt 0 ]; then
            echo "## Notes"
            echo
            printf '* %s\n' "${CD_NOTES[@]}"
        fi
    } >"$CD_REPORT"
    diag "report: $CD_REPORT ($n difference(s))"
}

# ---- the snapshot program (python: ip -j output -> normalised aspect files) -----------

cd_write_snapper() {
    cat >"$LAB_TMP/cdsnap.py" <<'EOP'
import json, os, re, subprocess, sys

def run(*a):
    return subprocess.run(list(a), capture_output=True, text=True).stdout

def ipj(ns, *args):
    out = run("ip", "-n", ns, "-j", *args)
    try:
        return json.loads(out) if out.strip() else []
    except ValueError:
        return []

def sysctls(ns):
    """every readable net.* sysctl of netns NS: /proc/sys/net shows the
    netns of the reading task, so enter it (setns) instead of forking
    `ip netns exec NS sysctl -a` (a mount namespace and a sysfs mount each)"""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    d = {}
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            return d
        for root, dirs, files in os.walk("/proc/sys/net"):
            for f in files:
                p = os.path.join(root, f)
                try:
                    with open(p) as h:
                        v = h.read()
                except OSError:
                    continue  # write-only or unreadable (stable_secret unset...)
                k = p[len("/proc/sys/"):].replace(".", "\x00").replace("/", ".").replace("\x00", "/")
                d[k] = " ".join(v.split())
    finally:
        libc.setns(home, 0x40000000)
        os.close(fd)
        os.close(home)
    return d

VOLATILE = re.compile(r"^net\.netfilter\.nf_conntrack_count$|\.stable_secret$|^net\.core\.netdev_rss_key$")
IFKEY = re.compile(r"^(net\.(?:ipv4|ipv6)\.(?:conf|neigh))\.([^.]+)\.(.*)$")

def sysctl_delta(a, b, names):
    """a, b: sysctl dicts before/after; names: raw ifname -> normalised"""
    def nk(k):
        m = IFKEY.match(k)
        return "%s.%s.%s" % (m.group(1), names.get(m.group(2), m.group(2)), m.group(3)) if m else k
    out = []
    for k in sorted(set(a) | set(b)):
        if VOLATILE.search(k):
            continue
        va, vb = a.get(k), b.get(k)
        if va == vb:
            continue
        m = IFKEY.match(k)
        if va is None:
            if m:  # a new interface: only what differs from the defaults
                dv = b.get("%s.default.%s" % (m.group(1), m.group(3)))
                if dv is None and ".neigh" in m.group(1):  # no neigh.default outside init_net
                    dv = b.get("%s.lo.%s" % (m.group(1), m.group(3)))
                if dv == vb:
                    continue
                out.append("%s = %s   (new interface; default %s)" % (nk(k), vb, dv))
            else:
                out.append("%s = %s   (new key)" % (k, vb))
        elif vb is None:
            if m:
                continue  # an interface went away: the links aspect says so
            out.append("%s gone (was %s)" % (k, va))
        else:
            out.append("%s = %s   (was %s)" % (nk(k), vb, va))
    return sorted(out)

def keyof(aspect, line):
    """the part of an observation line that names the thing observed"""
    if "sysctl" in aspect:
        return line.split(" = ")[0].split(" gone")[0]
    if "traffic" in aspect or "effect" in aspect:
        return line.split(":")[0] if " -> " in line else line.split(" ")[0]
    t = line.split()
    if "addresses" in aspect:
        return " ".join(t[:4]) if t and t[0].endswith(":") else " ".join(t[:3])
    if "routes" in aspect:
        i = t.index("dev") if "dev" in t else len(t)
        return " ".join(t[:i])
    if "links" in aspect:
        return " ".join(t[:2]) if t and t[0].endswith(":") else t[0] if t else line
    if "flags" in aspect or "bridge" in aspect or "identity" in aspect:
        return t[0] if t else line
    return line

def sentences(case, aspect, diff):
    cni = [l[1:] for l in diff if l.startswith("-") and not l.startswith("---")]
    plm = [l[1:] for l in diff if l.startswith("+") and not l.startswith("+++")]
    kc, kp = {}, {}
    for l in cni: kc.setdefault(keyof(aspect, l), []).append(l)
    for l in plm: kp.setdefault(keyof(aspect, l), []).append(l)
    out = []
    where = aspect.replace("after detach: ", "")
    for k in list(dict.fromkeys(list(kc) + list(kp))):
        a, b = kc.get(k, []), kp.get(k, [])
        if "sysctl" in aspect:
            ns = where.split(" in ")[-1]
            va = a[0].split(" = ", 1)[1] if a and " = " in a[0] else None
            vb = b[0].split(" = ", 1)[1] if b and " = " in b[0] else None
            if a and b:
                out.append("`%s` in %s: CNI sets %s, plumbd sets %s" % (k, ns, va, vb))
            elif a:
                out.append("CNI %s `%s` = %s in %s; plumbd does not" % (
                    "leaves" if aspect.startswith("after detach") else "sets", k, va, ns))
            else:
                out.append("plumbd %s `%s` = %s in %s; CNI does not" % (
                    "leaves" if aspect.startswith("after detach") else "sets", k, vb, ns))
            continue
        if len(a) == 1 and len(b) == 1:
            ta, tb = a[0].split(), b[0].split()
            oa = [x for x in ta if x not in tb]
            ob = [x for x in tb if x not in ta]
            if oa and ob:
                out.append("`%s`: CNI has `%s`, plumbd has `%s`" % (k, " ".join(oa), " ".join(ob)))
            elif oa:
                out.append("`%s`: CNI has `%s`, plumbd has not" % (k, " ".join(oa)))
            elif ob:
                out.append("`%s`: plumbd has `%s`, CNI has not" % (k, " ".join(ob)))
            else:
                out.append("`%s`: CNI `%s`, plumbd `%s` (order)" % (k, a[0], b[0]))
        else:
            for l in a:
                out.append("only with CNI: `%s`" % l)
            for l in b:
                out.append("only with plumbd: `%s`" % l)
    return out

def report(tsv):
    rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
    bycase = {}
    for case, aspect, df in rows:
        diff = [l.rstrip("\n") for l in open(df)]
        bycase.setdefault(case, []).append((aspect, diff))
    # the same difference in several cases, once (pods, addresses generalised)
    groups = {}
    for case, items in bycase.items():
        for aspect, diff in items:
            for x in sentences(case, aspect, diff):
                g = re.sub(r"HOST:[^:`]+:[^.`\s]+", "HOST:<pod>:<if>", x)
                g = re.sub(r"`[\w-]+: ", "`<pod>: ", g)
                g = re.sub(r" in (?!node\b)[\w-]+([;:,]|$)", r" in the pod\1", g)
                g = re.sub(r"\b\d+\.\d+\.\d+\.\d+(/\d+)?|\bfd00:[0-9a-f:]+(/\d+)?", "<addr>", g)
                g = re.sub(r"\.(net1|data0)\.", ".<if>.", g)
                g = re.sub(r"(`<pod>: )(net1|data0) ", r"\1<if> ", g)
                key = ("after detach: " if aspect.startswith("after detach") else "") + g
                groups.setdefault(key, [])
                if case not in groups[key]:
                    groups[key].append(case)
    print("## Summary: distinct differences\n")
    for g, cases in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print("* %s  \n  cases: %s" % (g, ", ".join(cases)))
    print()
    print("## Differences per case\n")
    for case, items in bycase.items():
        print("### %s\n" % case)
        for aspect, diff in items:
            print("* **%s**" % aspect)
            for x in sentences(case, aspect, diff):
                print("  * %s" % x)
        print()
        print("<details><summary>raw diffs (%s)</summary>\n" % case)
        for aspect, diff in items:
            print("%s:\n\n```diff" % aspect)
            print("\n".join(l for l in diff))
            print("```\n")
        print("</details>\n")

def compare(dc, dp, prefix):
    import difflib
    names = sorted(set(os.listdir(dc)) | set(os.listdir(dp)))
    for n in names:
        def lines(d):
            try:
                return open(os.path.join(d, n)).read().splitlines()
            except OSError:
                return []
        a, b = lines(dc), lines(dp)
        df = ""
        if a != b:
            df = "%s.%s" % (prefix, n)
            with open(df, "w") as f:
                for l in difflib.unified_diff(a, b, "cni", "plumbd", n=0, lineterm=""):
                    if not l.startswith("@@"):
                        f.write(l + "\n")
        print("%s\t%s" % (n.replace("_", " "), df))

if sys.argv[1] == "--compare":
    compare(sys.argv[2], sys.argv[3], sys.argv[4])
    sys.exit(0)

if sys.argv[1] == "--report":
    report(sys.argv[2])
    sys.exit(0)


outdir, node, macs = sys.argv[1], sys.argv[2], set(m.lower() for m in sys.argv[3].split(",") if m)
SYS = {}
# CD_BEFORE: the "before" snapshot dir -> write the sysctl changes since then
# as <CD_DELTA_PREFIX><netns role>; without it, keep the raw values
BEFORE, DPREFIX = os.environ.get("CD_BEFORE"), os.environ.get("CD_DELTA_PREFIX", "sysctls_set_in_")
pods = [a.split("=", 1) for a in sys.argv[4:]]   # name=netns
os.makedirs(outdir, exist_ok=True)

def eui64(mac):
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 2
    w = b[:3] + [0xff, 0xfe] + b[3:]
    return "fe80::%x:%x:%x:%x" % (w[0] << 8 | w[1], w[2] << 8 | w[3], w[4] << 8 | w[5], w[6] << 8 | w[7])

def norm_ll(addr, mac):
    if mac and addr == eui64(mac):
        return "fe80::EUI64"
    if addr.startswith("fe80:"):
        return "fe80::(not EUI-64 of the MAC)"
    return addr

# node links by ifindex, and the host side of every pod veth
nlinks = ipj(node, "-d", "link", "show")
byidx = {l["ifindex"]: l for l in nlinks}
hostname = {}    # node ifname -> normalised name
podlinks = {}
for pname, pns in pods:
    pl = ipj(pns, "-d", "link", "show")
    podlinks[pname] = pl
    for l in pl:
        if l["ifname"] == "lo":
            continue
        kind = l.get("linkinfo", {}).get("info_kind")
        if kind == "veth" and "link_index" in l and l["link_index"] in byidx:
            hostname[byidx[l["link_index"]]["ifname"]] = "HOST:%s:%s" % (pname, l["ifname"])

def nn(name):
    return hostname.get(name, name)

def mac_of(l, keep_lower=False):
    a = (l.get("address") or "").lower()
    if a in macs:
        return a
    return "auto" if a else "-"

def link_line(l, where):
    info = l.get("linkinfo", {})
    kind = info.get("info_kind") or "-"
    e = ["%s" % nn(l["ifname"]), "kind=%s" % kind, "mtu=%s" % l.get("mtu"),
         "operstate=%s" % l.get("operstate"),
         "flags=%s" % ",".join(sorted(f for f in l.get("flags", []))),
         "mac=%s" % mac_of(l)]
    if l.get("master"):
        e.append("master=%s" % nn(l["master"]))
    if kind == "veth":
        e.append("peer=%s" % ("other-netns" if "link_netnsid" in l else "same-netns"))
    if kind in ("macvlan", "ipvlan"):
        e.append("mode=%s" % info.get("info_data", {}).get("mode"))
        lk = l.get("link")
        e.append("lower=%s" % (lk if lk else "(other netns)"))
    if l.get("ifalias"):
        e.append("alias=%s" % l["ifalias"])
    e.append("promiscuity=%s" % l.get("promiscuity"))
    return " ".join(e)

# the queues a link was created with, a line of its own (see the deliberate
# 'links' entries of cni_diff.sh)
def queue_line(l):
    return "%s txqueues=%s" % (nn(l["ifname"]), l.get("num_tx_queues"))

# the interface group, a line of its own (node links only)
def group_line(l):
    return "%s group=%s" % (nn(l["ifname"]), l.get("group"))

def addr_lines(ns, only=None):
    out = []
    for a in ipj(ns, "addr", "show"):
        if a["ifname"] == "lo" or (only is not None and a["ifname"] not in only):
            continue
        mac = (a.get("address") or "").lower()
        for i in a.get("addr_info", []):
            fl = [f for f in ("nodad", "noprefixroute", "dadfailed", "tentative", "optimistic",
                              "deprecated", "home", "mngtmpaddr", "secondary") if i.get(f)]
            if i.get("dynamic"):
                fl.append("dynamic")
            if i.get("valid_life_time", 4294967295) != 4294967295:
                fl.append("valid_lft-finite")
            local = i["local"]
            if local.startswith("fe80:"):
                local = norm_ll(local, mac)
            out.append("%s %s %s/%s scope %s%s%s" % (
                nn(a["ifname"]), i["family"], local, i["prefixlen"], i.get("scope"),
                (" brd %s" % i["broadcast"]) if i.get("broadcast") else "",
                (" " + ",".join(fl)) if fl else ""))
    return sorted(out)

def route_lines(ns, fam):
    out = []
    for r in ipj(ns, fam, "route", "show", "table", "main"):
        out.append("%s %s%s dev %s proto %s scope %s%s%s%s" % (
            fam, r.get("dst"), (" via %s" % r["gateway"]) if r.get("gateway") else "",
            nn(r.get("dev", "-")), r.get("protocol", "boot"), r.get("scope", "global"),
            (" src %s" % r["prefsrc"]) if r.get("prefsrc") else "",
            (" metric %s" % r["metric"]) if r.get("metric") is not None else "",
            (" " + ",".join(r["flags"])) if r.get("flags") else ""))
    return sorted(out)

def write(name, lines):
    with open(os.path.join(outdir, name), "w") as f:
        for l in lines:
            f.write(l + "\n")

# pod side
pl_links, pl_addrs, pl_routes = [], [], []
for pname, pns in pods:
    for l in podlinks[pname]:
        if l["ifname"] != "lo":
            pl_links.append("%s: %s" % (pname, link_line(l, "pod")))
            pl_links.append("%s: %s" % (pname, queue_line(l)))
    pl_addrs += ["%s: %s" % (pname, x) for x in addr_lines(pns)]
    pl_routes += ["%s: %s" % (pname, x) for x in route_lines(pns, "-4") + route_lines(pns, "-6")]
    SYS[pname] = sysctls(pns)
write("pod_links", pl_links)
write("pod_addresses", pl_addrs)
write("pod_routes", pl_routes)
SYS["node"] = sysctls(node)

# node side
hosts = sorted(hostname)
write("node_links", sorted([link_line(l, "node") for l in nlinks if l["ifname"] != "lo"] +
                           [queue_line(l) for l in nlinks if l["ifname"] != "lo"] +
                           [group_line(l) for l in nlinks if l["ifname"] != "lo"]))
write("node_routes", route_lines(node, "-4") + route_lines(node, "-6"))
brs = [l["ifname"] for l in nlinks if l.get("linkinfo", {}).get("info_kind") == "bridge"]
write("node_addresses", addr_lines(node, set(brs) | set(hosts)))
bl = []
for l in nlinks:
    info = l.get("linkinfo", {})
    if info.get("info_kind") != "bridge":
        continue
    d = info.get("info_data", {})
    keys = ("stp_state", "vlan_filtering", "vlan_default_pvid", "mcast_snooping", "ageing_time",
            "forward_delay", "nf_call_iptables", "nf_call_ip6tables", "group_fwd_mask")
    bl.append("%s mtu=%s promiscuity=%s operstate=%s %s" % (
        l["ifname"], l.get("mtu"), l.get("promiscuity"), l.get("operstate"),
        " ".join("%s=%s" % (k, d.get(k)) for k in keys if k in d)))
write("bridge", bl)
pf = []
bridge_j = run("bridge", "-n", node, "-d", "-j", "link", "show")
try:
    bports = json.loads(bridge_j) if bridge_j.strip() else []
except ValueError:
    bports = []
for p in bports:
    name = p.get("ifname")
    if name not in hostname:
        continue
    skip = ("ifindex", "ifname", "link", "address", "link_type", "txqlen", "group", "master",
            "mtu", "flags", "operstate", "qdisc", "link_netnsid", "link_index", "altnames")
    pf.append("%s master=%s %s" % (nn(name), p.get("master"), " ".join(
        "%s=%s" % (k, p[k]) for k in sorted(p) if k not in skip)))
write("host_port_flags", sorted(pf))
json.dump(hostname, open(os.path.join(outdir, "names.json"), "w"))
for role, cur in SYS.items():
    if BEFORE:
        try:
            old = json.load(open(os.path.join(BEFORE, "sysctl.%s.json" % role)))
        except (OSError, ValueError):
            old = {}
        write(DPREFIX + role, sysctl_delta(old, cur, hostname))
    else:
        json.dump(cur, open(os.path.join(outdir, "sysctl.%s.json" % role), "w"))
write("host_veth_identity", sorted("%s is %s (mac %s)" % (hostname[h], h, next(
    (l.get("address") for l in nlinks if l["ifname"] == h), "?")) for h in hosts))
vl = []
vj = run("bridge", "-n", node, "-j", "vlan", "show")
try:
    for e in (json.loads(vj) if vj.strip() else []):
        for v in e.get("vlans", []):
            vl.append("%s vlan %s%s" % (nn(e.get("ifname")), v.get("vlan"),
                      (" " + ",".join(v.get("flags", []))) if v.get("flags") else ""))
except ValueError:
    pass
if vl:
    write("bridge_vlans", sorted(vl))
EOP
}
