#!/bin/bash
# reconcile_chaos: `plumbd run` under 30 s of random drift (bounded loop,
# seeded RANDOM; RECONCILE_SEED / CHAOS_SECS override) with 3 pods attached:
# br-1 deleted, ens19 released, a pod's host veth deleted, a pod's net1
# address deleted, br-1 set down, 50-300 ms apart. Afterwards the node must
# converge within 5 s with no leaked veth, address or IP allocation, the
# daemon must have stayed alive and exit 0 on SIGTERM, and a one-shot plan
# must be empty (issue 3, "Tests that must exist").
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
SEED=${RECONCILE_SEED:-$(( ($$ + SECONDS + ${EPOCHREALTIME/[.,]/}) % 32768 ))}
SECS=${CHAOS_SECS:-30}
RANDOM=$SEED
diag "random drift seed $SEED ($SECS s); rerun with RECONCILE_SEED=$SEED"

# pods: name netns ip mac (multus-demo is the seed pod)
PODS=(multus-demo p2 p3)
declare -A PNS PIP PMAC
PNS[multus-demo]=$POD_NS; PIP[multus-demo]=192.168.255.100; PMAC[multus-demo]=c2:b0:57:49:47:f1
for i in 2 3; do
    PNS[p$i]=${P}p$i; PIP[p$i]=192.168.255.10$i; PMAC[p$i]=c2:b0:57:49:47:f$i
    lab_netns "${PNS[p$i]}"
    lab_pod "p$i" "${PNS[p$i]}" "[{\"name\":\"linux-bridge-br-1\",\"ips\":[\"${PIP[p$i]}/24\"],\"mac\":\"${PMAC[p$i]}\"}]" \
        >"$CONF/p$i.yml"
done

pods_ok() {
    local p
    for p in "${PODS[@]}"; do pod_net1_is "${PNS[$p]}" "${PIP[$p]}/24" "${PMAC[$p]}" || return 1; done
}
# the peer ifindex of NETNS's net1 (node side)
peer_of() { ip -n "$1" -o link show dev net1 2>/dev/null | sed -n 's/^[0-9]*: net1@if\([0-9]*\):.*/\1/p'; }
converged() {
    pod_if_up "$NODE" br-1 || return 1
    ip -n "$NODE" -o link show dev ens19 | grep 'master br-1 ' >/dev/null || return 1
    pods_ok || return 1
    [ "$(node_veths | wc -l)" = 3 ] || return 1
    local p idx
    for p in "${PODS[@]}"; do
        idx=$(peer_of "${PNS[$p]}")
        [ -n "$idx" ] && ip -n "$NODE" -o link show master br-1 | grep "^$idx: " >/dev/null || return 1
    done
}

# A change undone more than --flap-limit times a minute makes plumbd back off
# (Degraded, issue 3) for --flap-backoff-s, 60 s by default: random drift is
# exactly such a fight. The test is about ending converged, so the backoff is
# cut to 1 s (CHAOS_DAEMON_OPTS overrides); Degraded lines are counted below.
read -r -a DOPTS <<<"${CHAOS_DAEMON_OPTS---flap-backoff-s 1}"
diag "daemon options: ${DOPTS[*]}"
plumbd_daemon_with "${DOPTS[@]}"
if wait_for 10 converged; then ok "daemon attaches 3 pods"
else not_ok "daemon attaches 3 pods" "not converged after 10 s" "$DAEMON_LOG"; lab_done; exit; fi

# ---- the random drift ------------------------------------------------------------
declare -A COUNT
end=$((SECONDS + SECS))
n=0
while [ "$SECONDS" -lt "$end" ] && [ "$n" -lt 1000 ]; do
    n=$((n + 1))
    case $((RANDOM % 5)) in
        0) act="del br-1"; ip -n "$NODE" link del br-1 2>/dev/null ;;
        1) act="ens19 nomaster"; ip -n "$NODE" link set ens19 nomaster 2>/dev/null ;;
        2) act="del host veth"
           mapfile -t vs < <(node_veths)
           [ ${#vs[@]} -gt 0 ] && ip -n "$NODE" link del "${vs[RANDOM % ${#vs[@]}]}" 2>/dev/null ;;
        3) act="del net1 address"
           p=${PODS[RANDOM % 3]}
           ip -n "${PNS[$p]}" addr del "${PIP[$p]}/24" dev net1 2>/dev/null ;;
        4) act="br-1 down"; ip -n "$NODE" link set br-1 down 2>/dev/null ;;
    esac
    COUNT[$act]=$((${COUNT[$act]:-0} + 1))
    echo "${EPOCHREALTIME} $act" >>"$LAB_TMP/drift.log"
    sleep "0.$(printf '%03d' $((50 + RANDOM % 251)))"
done
summary=""
for k in "${!COUNT[@]}"; do summary+="$k=${COUNT[$k]} "; done
diag "$n drift actions: $summary"
proc_alive "$DAEMON_PID" && ok "daemon alive after $n random drift actions" ||
    not_ok "daemon alive after the random drift" "it exited (seed $SEED)" "$DAEMON_LOG"

heal_start
# (10 s: a flap backoff, the drift debounce and a failed write's retry may
# all be due; each probe starts a score of processes)
if heal_wait 10000 converged; then
    ok "converged $HEAL_MS ms after the last drift"
else
    not_ok "converged within 10 s after the last drift" "seed $SEED" "$DAEMON_LOG"
    diag "br-1 ports: $(bridge_ports "$NODE" br-1 | tr '\n' ' ')"
    diag "node veths: $(node_veths | tr '\n' ' ')"
    for p in "${PODS[@]}"; do diag "$p: $(ip -n "${PNS[$p]}" -o addr show dev net1 2>&1 | awk '{print $3, $4}' | tr '\n' ' ')"; done
    plumbd_run status 2>&1 | cut -c1-200 | sed 's/^/#   /'
    diag "last daemon passes:"
    grep 'pass (' "$DAEMON_LOG" | tail -n 3 | sed 's/^/#   /'
    diag "last drift actions (epoch s):"
    tail -n 5 "$LAB_TMP/drift.log" | sed 's/^/#   /'
fi
lab_quiesce 1 "$NODE"

proc_alive "$DAEMON_PID" && ok "daemon alive before SIGTERM" || not_ok "daemon alive before SIGTERM" "it exited" "$DAEMON_LOG"
kill -TERM "$DAEMON_PID"
if wait_for 5 proc_gone "$DAEMON_PID"; then
    wait "$DAEMON_PID"; rc=$?
    assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
else
    not_ok "daemon exits on SIGTERM within 5 s" "still running" "$DAEMON_LOG"
fi
if grep -Eq 'level=(fatal|crit)|AddressSanitizer|Segmentation|assert' "$DAEMON_LOG"; then
    not_ok "no crash/fatal lines in the daemon log" "found" 
    grep -E 'level=(fatal|crit)|AddressSanitizer|Segmentation|assert' "$DAEMON_LOG" | head -n 5 | sed 's/^/#   /'
else
    ok "no crash/fatal lines in the daemon log"
fi
diag "daemon log: $(grep -c 'backing off' "$DAEMON_LOG") backoffs (Degraded), $(grep -c 'pass (' "$DAEMON_LOG") passes, $(grep -c 'level=error' "$DAEMON_LOG") error lines, $(grep -c 'level=warn' "$DAEMON_LOG") warnings"

out=$(plumbd_run plan 2>"$LAB_TMP/plan.err"); rc=$?
if [ "$rc" = 0 ] && [ -z "$(plan_ops "$out")" ]; then
    ok "one-shot plan after the chaos is empty"
else
    not_ok "one-shot plan after the chaos is empty" "exit $rc"
    printf '%s\n' "$out" | head -n 10 | sed 's/^/#   /'
fi
for p in "${PODS[@]}"; do
    pod_net1_is "${PNS[$p]}" "${PIP[$p]}/24" "${PMAC[$p]}" && ok "$p: net1 ${PIP[$p]}/24 ${PMAC[$p]}" ||
        not_ok "$p: net1 ${PIP[$p]}/24 ${PMAC[$p]}" "$(ip -n "${PNS[$p]}" -o link show dev net1 2>&1) $(ip -n "${PNS[$p]}" -o -4 addr show dev net1 2>&1 | awk '{print $4}')"
    assert_eq "$p: net1 has exactly one IPv4 address" 1 "$(ip -n "${PNS[$p]}" -o -4 addr show dev net1 2>/dev/null | wc -l)"
    assert_eq "$p: only lo and net1 in the pod" "net1" "$(links_except_lo "${PNS[$p]}" | tr '\n' ' ' | sed 's/ $//')"
done
want=$(for p in "${PODS[@]}"; do peer_of "${PNS[$p]}"; done | sort -n | tr '\n' ' ')
have=$(ip -n "$NODE" -o link show type veth | awk -F': ' '{ n = $2; sub(/@.*/, "", n); if (n != "ens19") print $1 }' | sort -n | tr '\n' ' ')
assert_eq "3 pods with a veth peer on the node" 3 "$(printf '%s' "$want" | wc -w)"
assert_eq "no leaked veth: host veths are exactly the 3 pods' peers (ifindexes)" "$want" "$have"
assert_eq "br-1 ports: ens19 + 3 host veths" 4 "$(bridge_ports "$NODE" br-1 | wc -l)"
assert_eq "ipam_allocations has exactly 3 rows" 3 "$(sql 'SELECT count(*) FROM ipam_allocations')"
assert_eq "ipam_allocations are the 3 pods' addresses" \
    "192.168.255.100 Pod/default/multus-demo,192.168.255.102 Pod/default/p2,192.168.255.103 Pod/default/p3" \
    "$(sql "SELECT ip || ' ' || owner FROM ipam_allocations ORDER BY ip" | tr '\n' ',' | sed 's/,$//')"
assert_eq "attachments table has exactly 3 rows" 3 "$(sql 'SELECT count(*) FROM attachments')"
assert_eq "no IPv4 address on br-1 (the seed policy has none)" "" "$(ip -n "$NODE" -o -4 addr show dev br-1 2>&1)"
expect "peer pings every pod" sh -c "for ip in ${PIP[*]}; do ip netns exec $PEER ping -c 1 -w 3 \$ip || exit 1; done"

# RECONCILE_KEEP_LOG=FILE keeps the daemon's log for a post-mortem.
[ -n "${RECONCILE_KEEP_LOG:-}" ] && cp "$DAEMON_LOG" "$RECONCILE_KEEP_LOG" && cp "$LAB_TMP/drift.log" "$RECONCILE_KEEP_LOG.drift"
lab_done
