#!/bin/bash
# reconcile_degraded: a loop that fights another manager backs off and
# reports Degraded with the culprit attribute (issue 3). With --flap-limit 5
# --flap-backoff-s 3, a "manager" runs `ip link set ens19 nomaster` every
# 100 ms for 3 s: the policy becomes Degraded/FightingAnotherManager naming
# ens19 and master, the daemon's repairs stay bounded, the pods on br-1 are
# left alone, and once the fight stops and the backoff ends ens19 is
# enslaved again and the policy is Available.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
LIMIT=${DEGRADED_FLAP_LIMIT:-5} # (override only to see the test fail)
BACKOFF=3
POL=linux-bridge-br1-ens19
ens19_on_br1() { local o; o=$(ip -n "$NODE" -o link show dev ens19 2>/dev/null); [[ $o == *" master br-1 "* ]]; }
ping_ok() { ip netns exec "$PEER" ping -c 1 -W 1 192.168.255.100; }

plumbd_daemon_with --flap-limit "$LIMIT" --flap-backoff-s "$BACKOFF"
if wait_for 10 status_is default/multus-demo Available && wait_for 5 status_is "$POL" Available; then
    ok "daemon converges the seed"
else
    not_ok "daemon converges the seed" "not Available after 15 s" "$DAEMON_LOG"
    lab_done; exit
fi
lab_quiesce 1 "$NODE" "$POD_NS"
host=$(watch_seed_host)
idx0="$(watch_ifindex "$POD_NS" net1) $(watch_ifindex "$NODE" br-1) $(watch_ifindex "$NODE" "$host")"
diag "pod host veth $host; net1/br-1/host ifindex $idx0"
MON=$LAB_TMP/mon
monitor_start "$MON" "$NODE" "$POD_NS"
off=$(stat -c %s "$DAEMON_LOG")

# The other manager: `ip link set ens19 nomaster` every 100 ms for 3 s
# (about 30 undos; the ones that found ens19 enslaved are counted).
fight() {
    local t0=${EPOCHREALTIME/[.,]/} n=0 undone=0 o wait_us
    # (3 s at most however slow the machine: a fight longer than that
    # outlasts the backoff, and the daemon rightly repairs again)
    while [ "$n" -lt 30 ] && [ "${EPOCHREALTIME/[.,]/}" -lt $((t0 + 3000000)) ]; do
        o=$(ip -n "$NODE" -o link show dev ens19 2>/dev/null)
        [[ $o == *" master br-1 "* ]] && undone=$((undone + 1))
        ip -n "$NODE" link set ens19 nomaster 2>/dev/null
        n=$((n + 1))
        # next 100 ms tick (the ip commands take part of the period)
        wait_us=$((t0 + n * 100000 - ${EPOCHREALTIME/[.,]/}))
        [ "$wait_us" -gt 0 ] && sleep "$(printf '0.%06d' "$wait_us")"
    done
    echo "$n $undone" >"$LAB_TMP/undone"
}
fight &
FIGHT=$!
lab_track_pid "$FIGHT"

# Degraded while the fight goes on
seen=""
deadline=$((SECONDS + 5))
while [ "$SECONDS" -lt "$deadline" ]; do
    line=$(plumbd_status_line "$POL")
    if [ "$(awk '{ print $3 " " $4 }' <<<"$line")" = "Degraded FightingAnotherManager" ]; then
        seen=$line; break
    fi
    sleep 0.1
done
if [ -n "$seen" ]; then
    ok "policy becomes Degraded FightingAnotherManager during the fight"
    diag "status: $seen"
    assert_match "Degraded message names ens19 and master" 'ens19.*master|master.*ens19' "$seen"
else
    not_ok "policy becomes Degraded FightingAnotherManager during the fight" \
        "last status: $(plumbd_status_line "$POL")" "$DAEMON_LOG"
    not_ok "Degraded message names ens19 and master" "never Degraded"
fi
pods_during=$(plumbd_status_field default/multus-demo 3)

wait "$FIGHT"
lab_untrack_pid "$FIGHT"
fight_end=$SECONDS
fight_end_us=${EPOCHREALTIME/[.,]/}
read -r nfights undone <"$LAB_TMP/undone" || { nfights='?'; undone='?'; }
repairs=$(log_count_since "$DAEMON_LOG" "$off" 'link-set ens19 master=br-1')
diag "the fighter ran nomaster $nfights times, $undone of them undoing an enslaved ens19; the daemon logged $repairs repairs"
since=$(tail -c +"$((off + 1))" "$DAEMON_LOG")
printf '%s\n' "$since" | grep -E 'level=warn|link-set ens19' | head -n 20 | sed 's/^/#   log: /'
assert_match "daemon logs that it backs off" 'another manager keeps undoing it; backing off' "$since"
if [ "$repairs" -le $((LIMIT + 2)) ]; then
    ok "repairs bounded during the fight ($repairs <= limit+2 = $((LIMIT + 2)); fighter: $nfights undos)"
else
    not_ok "repairs bounded during the fight" "$repairs 'link-set ens19 master=br-1' lines (limit $LIMIT, $nfights undos)"
fi
# none at all inside the backoff window that starts at the first warning
inside=$(printf '%s\n' "$since" | python3 -c '
import re, sys, datetime
b = float(sys.argv[1]); start = None; n = 0
for l in sys.stdin:
    m = re.match(r"ts=(\S+)Z ", l)
    if not m: continue
    t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
    if start is None and "backing off" in l: start = t; continue
    if start is not None and start < t < start + b and "link-set ens19 master=br-1" in l: n += 1
print(n if start is not None else "no-backoff")' "$BACKOFF")
assert_eq "no repair of ens19 inside the ${BACKOFF} s backoff window" 0 "$inside"
# Until ens19 is back: the status never says Available while ens19 is
# still released (a status that lies during the backoff).
lie=""
deadline=$((SECONDS + BACKOFF + 3))
while [ "$SECONDS" -lt "$deadline" ]; do
    c=$(plumbd_status_field "$POL" 3)
    if ens19_on_br1; then break; fi
    # re-check after reading the status: ens19 may have been enslaved in between
    if [ "$c" = Available ] && ! ens19_on_br1; then
        lie="$(date +%T.%N | cut -c1-12) status Available, ens19: $(ip -n "$NODE" -o link show dev ens19 | grep -o 'master [^ ]*' || echo 'no master')"
        break
    fi
    sleep 0.05
done
if [ -z "$lie" ]; then
    ok "policy not Available while ens19 is still released after the fight"
else
    not_ok "policy not Available while ens19 is still released after the fight" "$lie"
    plumbd_run events 2>/dev/null | tail -n 8 | sed 's/^/#   events: /'
fi

# After the fight and the backoff: repaired and Available again.
if wait_for $((BACKOFF + 3)) ens19_on_br1; then
    ok "ens19 enslaved to br-1 again within backoff+3 s of the fight's end ($((SECONDS - fight_end)) s)"
else
    not_ok "ens19 enslaved to br-1 again within backoff+3 s" \
        "$(ip -n "$NODE" -o link show dev ens19 | cut -c1-120)" "$DAEMON_LOG"
fi
left=$((BACKOFF + 3 - (SECONDS - fight_end)))
[ "$left" -lt 1 ] && left=1
if wait_for "$left" status_is "$POL" Available; then
    ok "policy Available again within backoff+3 s of the fight's end ($((SECONDS - fight_end)) s)"
else
    not_ok "policy Available again within backoff+3 s" "$(plumbd_status_line "$POL")" "$DAEMON_LOG"
fi
monitor_stop

# The pods on br-1 were never torn down.
re="^Deleted ([0-9]+: (br-1|net1|$host)[@: ])"
if grep -Eq "$re" "$MON"; then
    not_ok "br-1, net1 and the pod's host veth never deleted" "netlink says:"
    grep -E "$re" "$MON" | head -n 5 | sed 's/^/#   /'
else
    ok "br-1, net1 and the pod's host veth never deleted"
fi
assert_eq "net1, br-1, host veth keep their ifindex" "$idx0" \
    "$(watch_ifindex "$POD_NS" net1) $(watch_ifindex "$NODE" br-1) $(watch_ifindex "$NODE" "$host")"
assert_no_match "no pod-detach in the daemon log" 'pod-detach|link-del' "$(tail -c +"$((off + 1))" "$DAEMON_LOG")"
assert_eq "pod stayed Available during the backoff" Available "$pods_during"
assert_eq "pod Available at the end" Available "$(plumbd_status_field default/multus-demo 3)"
assert_eq "pod host veth still on br-1" 1 \
    "$(bridge_ports "$NODE" br-1 | grep -cx -- "$host")"
if wait_for 5 ping_ok; then ok "peer pings the pod after the fight"
else not_ok "peer pings the pod after the fight" "no reply" "$DAEMON_LOG"; fi
proc_alive "$DAEMON_PID" && ok "daemon alive" || not_ok "daemon alive" "it died" "$DAEMON_LOG"

kill -TERM "$DAEMON_PID"
if wait_for 5 proc_gone "$DAEMON_PID"; then
    wait "$DAEMON_PID"; rc=$?
    assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
else
    not_ok "daemon exits on SIGTERM" "still running after 5 s" "$DAEMON_LOG"
fi
lab_done
