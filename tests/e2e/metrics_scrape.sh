#!/bin/bash
# metrics_scrape: the daemon's metrics, scraped during an end-to-end run and
# checked against what the test did (issue 9). The seed lab plus two pods
# with automatic addresses; metrics served on a unix socket (no TCP port)
# and written to a file; --log-format json on stderr.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
SOCK=$STATE/m.sock
MFILE=$STATE/m.prom
for i in 1 2; do
    lab_netns "${P}auto$i" || { not_ok lab "netns ${P}auto$i"; exit 1; }
    lab_pod "auto$i" "${P}auto$i" '[{"name":"linux-bridge-br-1"}]' >"$CONF/auto$i.yml"
done

scrape() { metrics_get_unix "$SOCK"; }
# metric_is EXPECTED NAME [LABEL=VALUE...] : the socket's value equals EXPECTED
metric_is() { local e=$1; shift; [ "$(prom_value "$(scrape 2>/dev/null)" "$@")" = "$e" ]; }

plumbd_daemon_with --metrics-file "$MFILE" --metrics-listen "$SOCK" --log-format json
ready() {
    status_is default/multus-demo Available && status_is default/auto1 Available &&
        status_is default/auto2 Available && metric_is 3 plumbd_objects kind=Pod condition=Available
}
if wait_for 15 ready; then
    ok "daemon converges the seed and two auto-IP pods"
else
    not_ok "daemon converges the seed and two auto-IP pods" "not after 15 s" "$DAEMON_LOG"
    plumbd_run status 2>&1 | sed 's/^/#   /'
fi
lab_quiesce 1 "$NODE" "$POD_NS" "${P}auto1" "${P}auto2"
diag "auto1 $(ip -n "${P}auto1" -o -4 addr show dev net1 2>/dev/null | awk '{ print $4 }'), auto2 $(ip -n "${P}auto2" -o -4 addr show dev net1 2>/dev/null | awk '{ print $4 }')"

# ---- the socket and the file ------------------------------------------------
[ -S "$SOCK" ] && ok "metrics socket $SOCK exists" || not_ok "metrics socket exists" "no socket at $SOCK"
m=$(scrape); rc=$?
assert_eq "GET /metrics over the unix socket: 200" 0 "$rc"
if lint=$(prom_lint "$m"); then ok "socket: valid Prometheus text format (HELP/TYPE, name{labels} value)"
else not_ok "socket: valid Prometheus text format" "$(printf '%s\n' "$lint" | head -n 1)"; printf '%s\n' "$lint" | sed 's/^/#   /'; fi
[ -s "$MFILE" ] && ok "metrics file written" || not_ok "metrics file written" "no $MFILE"
f=$(cat "$MFILE" 2>/dev/null)
if lint=$(prom_lint "$f"); then ok "file: valid Prometheus text format"
else not_ok "file: valid Prometheus text format" "$(printf '%s\n' "$lint" | head -n 1)"; printf '%s\n' "$lint" | sed 's/^/#   /'; fi
out=$(metrics_get_unix "$SOCK" /nope 2>&1); rc=$?
assert_eq "GET /nope is not 200" 1 "$rc"

for src in socket file; do
    [ "$src" = socket ] && t=$m || t=$f
    assert_eq "$src: plumbd_objects Pod Available" 3 "$(prom_value "$t" plumbd_objects kind=Pod condition=Available)"
    assert_eq "$src: plumbd_objects NAD Available" 1 \
        "$(prom_value "$t" plumbd_objects kind=NetworkAttachmentDefinition condition=Available)"
    assert_eq "$src: plumbd_objects policy Available" 1 \
        "$(prom_value "$t" plumbd_objects kind=NodeNetworkConfigurationPolicy condition=Available)"
    assert_eq "$src: no object in another condition" 5 "$(prom_sum "$t" plumbd_objects)"
    assert_eq "$src: plumbd_ipam_pool_used{network=br-1}" 3 "$(prom_value "$t" plumbd_ipam_pool_used network=br-1)"
    assert_eq "$src: plumbd_ipam_pool_size{network=br-1}" 253 "$(prom_value "$t" plumbd_ipam_pool_size network=br-1)"
    v=$(prom_sum "$t" plumbd_reconcile_passes_total)
    num_ge "$v" 1 && ok "$src: passes total $v >= 1" || not_ok "$src: passes total >= 1" "got '$v'"
    v=$(prom_value "$t" plumbd_netlink_writes_total)
    num_gt "$v" 0 && ok "$src: netlink writes total $v > 0" || not_ok "$src: netlink writes total > 0" "got '$v'"
    assert_eq "$src: config errors" 0 "$(prom_value "$t" plumbd_config_errors)"
done
assert_eq "IPAM allocations in the database" 3 "$(sql 'SELECT COUNT(*) FROM ipam_allocations')"

# ---- drift: a pod's host veth deleted -----------------------------------------
drift0=$(prom_value "$(scrape)" plumbd_drift_repairs_total)
writes0=$(prom_value "$(scrape)" plumbd_netlink_writes_total)
host=$(watch_seed_host)
if [ -n "$host" ] && ip -n "$NODE" link del "$host"; then
    host_back() { [ -n "$(watch_seed_host)" ] && pod_net1_is "$POD_NS" 192.168.255.100/24 c2:b0:57:49:47:f1; }
    if wait_for 5 host_back; then ok "drift: the seed pod is re-attached"
    else not_ok "drift: the seed pod is re-attached" "not after 5 s" "$DAEMON_LOG"; fi
    drift_up() { num_gt "$(prom_value "$(scrape 2>/dev/null)" plumbd_drift_repairs_total)" "$drift0"; }
    if wait_for 5 drift_up; then
        ok "plumbd_drift_repairs_total increased after the host veth deletion ($drift0 -> $(prom_value "$(scrape)" plumbd_drift_repairs_total))"
    else
        not_ok "plumbd_drift_repairs_total increased after the host veth deletion" \
            "still '$(prom_value "$(scrape)" plumbd_drift_repairs_total)'" "$DAEMON_LOG"
    fi
    v=$(prom_value "$(scrape)" plumbd_netlink_writes_total)
    num_gt "$v" "$writes0" && ok "netlink writes grew with the repair ($writes0 -> $v)" ||
        not_ok "netlink writes grew with the repair" "$writes0 -> $v"
    v=$(prom_value "$(scrape)" plumbd_reconcile_passes_total trigger=drift)
    num_ge "$v" 1 && ok "passes_total{trigger=drift} = $v" || not_ok "passes_total{trigger=drift} >= 1" "got '$v'"
else
    not_ok "drift: host veth deleted" "no host veth for the seed pod ('$host')"
fi

# ---- a pod removed ----------------------------------------------------------------
rm -f "$CONF/auto2.yml"
if wait_for 5 metric_is 2 plumbd_objects kind=Pod condition=Available; then
    ok "pod file removed: plumbd_objects Pod Available == 2"
else
    not_ok "pod file removed: plumbd_objects Pod Available == 2" \
        "got '$(prom_value "$(scrape)" plumbd_objects kind=Pod condition=Available)'" "$DAEMON_LOG"
fi
if wait_for 5 metric_is 2 plumbd_ipam_pool_used network=br-1; then
    ok "pod file removed: plumbd_ipam_pool_used == 2"
else
    not_ok "pod file removed: plumbd_ipam_pool_used == 2" \
        "got '$(prom_value "$(scrape)" plumbd_ipam_pool_used network=br-1)'"
    diag "allocations in the database: $(sql 'SELECT owner || "=" || ip FROM ipam_allocations' | tr '\n' ' ')"
    diag "status: $(plumbd_run status 2>/dev/null | awk 'NR > 1 { print $2 "=" $3 }' | tr '\n' ' ')"
    tail -n 4 "$DAEMON_LOG" | cut -c1-220 | sed 's/^/#   daemon: /'
    # one more pass with nothing to do (a netlink event on a link plumbd does
    # not own): does the gauge catch up? (tells a lag from a leak)
    ip -n "$NODE" link add plpoke0 type bridge && sleep 1 && ip -n "$NODE" link del plpoke0
    if wait_for 4 metric_is 2 plumbd_ipam_pool_used network=br-1; then
        diag "pool_used becomes 2 after one more (no-op) pass: the gauge lags one pass behind"
    else
        diag "pool_used still '$(prom_value "$(scrape)" plumbd_ipam_pool_used network=br-1)' after another pass"
        tail -n 2 "$DAEMON_LOG" | cut -c1-200 | sed "s/^/#   daemon: /"
    fi
fi
assert_eq "pod file removed: pool_size still 253" 253 "$(prom_value "$(scrape)" plumbd_ipam_pool_size network=br-1)"
sleep 0.5 # the file is rewritten after the pass
f=$(cat "$MFILE" 2>/dev/null)
assert_eq "file agrees: Pod Available 2, pool_used 2" "2 2" \
    "$(prom_value "$f" plumbd_objects kind=Pod condition=Available) $(prom_value "$f" plumbd_ipam_pool_used network=br-1)"

# ---- timestamps ---------------------------------------------------------------------
m=$(scrape)
ts=$(prom_value "$m" plumbd_last_success_timestamp_seconds)
now=$(date +%s)
if [ -n "$ts" ] && awk -v t="$ts" -v n="$now" 'BEGIN { d = n - t; exit !(d >= -2 && d <= 30) }'; then
    ok "last successful convergence is recent ($ts, now $now)"
else
    not_ok "last successful convergence is recent" "'$ts', now $now"
fi
st=$(prom_value "$m" plumbd_start_time_seconds)
num_ge "$ts" "${st:-x}" && ok "last success >= start time" || not_ok "last success >= start time" "$ts < '$st'"
if lint=$(prom_lint "$m"); then ok "socket after the changes: valid Prometheus text format"
else not_ok "socket after the changes: valid Prometheus text format" "$(printf '%s\n' "$lint" | head -n 1)"; fi

kill -TERM "$DAEMON_PID"
if wait_for 5 proc_gone "$DAEMON_PID"; then
    wait "$DAEMON_PID"; rc=$?
    assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
else
    not_ok "daemon exits on SIGTERM" "still running after 5 s" "$DAEMON_LOG"
fi

# ---- --log-format json: every stderr line is a JSON object with ts, level, msg
bad=$(python3 - "$DAEMON_LOG" <<'EOP'
import json, sys
n = 0
for i, l in enumerate(open(sys.argv[1], errors="replace"), 1):
    l = l.rstrip("\n")
    n += 1
    try:
        o = json.loads(l)
        if not isinstance(o, dict) or not all(k in o for k in ("ts", "level", "msg")):
            raise ValueError("missing ts/level/msg")
    except Exception as e:
        print("%d: %s: %s" % (i, e, l[:200]))
if n == 0:
    print("empty log")
EOP
)
if [ -z "$bad" ]; then
    ok "json log: all $(wc -l <"$DAEMON_LOG") stderr lines are JSON objects with ts, level, msg"
else
    not_ok "json log: every stderr line is a JSON object with ts, level, msg" "$(printf '%s\n' "$bad" | grep -c .) bad lines"
    printf '%s\n' "$bad" | head -n 8 | sed 's/^/#   /'
fi
lab_done
