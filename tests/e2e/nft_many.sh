#!/bin/bash
# nft_many: more macspoofchk pods at once than one nftables transaction
# takes (128 ports). With no table yet, the table is made with its first
# ports and the others are added in further transactions; many pods going
# are removed the same way. Every pod must end up with exactly its port and
# its (MAC, port) pair, none left over, and traffic between pods must pass
# the check.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml"
N=150 KEEP=10

for ((i = 1; i <= N; i++)); do
    lab_netns "${P}q$i" || { not_ok lab "no netns q$i"; exit 1; }
    lab_pod "q$i" "${P}q$i" '[{"name":"linux-bridge-br-1"}]' >"$CONF/q$i.yml"
done
nftn() { ip netns exec "$NODE" nft "$@" 2>&1; }
# set_elems SET : its elements, one per line, sorted (nft -j: no line wrapping)
set_elems() {
    nftn -j list set bridge plumbd "$1" | python3 -c '
import json, sys
for o in json.load(sys.stdin)["nftables"]:
    for e in o.get("set", {}).get("elem", []):
        print(" . ".join(e["concat"]) if isinstance(e, dict) else e)' | sort
}
# the inventory's view: every attached pod's host veth and MAC
want_ports() { sql "SELECT host_if FROM attachments ORDER BY host_if" | sort; }
want_pairs() { sql "SELECT lower(mac) || ' . ' || host_if FROM attachments" | sort; }

expect "apply attaches $N macspoofchk pods" plumbd_run apply
assert_eq "$N attachments in the inventory" "$N" "$(want_ports | wc -l)"
assert_eq "ports set: every pod's host veth, nothing else" "$(want_ports)" "$(set_elems ports)"
assert_eq "allowed set: every pod's (MAC, port)" "$(want_pairs)" "$(set_elems allowed)"
assert_match "one table, one chain" 'iifname @ports drop' "$(nftn list table bridge plumbd)"

ip1=$(ip -n "${P}q1" -4 -o addr show dev net1 | awk '{ print $4 }' | cut -d/ -f1)
if ip netns exec "${P}q$N" ping -c 1 -W 2 "$ip1" >/dev/null 2>&1; then
    ok "pod q$N reaches pod q1 through the spoof check"
else
    not_ok "pod q$N reaches pod q1 through the spoof check" "no reply from $ip1"
fi

# all but KEEP go in one pass: removed in pieces
for ((i = KEEP + 1; i <= N; i++)); do rm -f "$CONF/q$i.yml"; done
expect "apply detaches $((N - KEEP)) pods" plumbd_run apply
assert_eq "$KEEP attachments left" "$KEEP" "$(want_ports | wc -l)"
assert_eq "ports set: the $KEEP left" "$(want_ports)" "$(set_elems ports)"
assert_eq "allowed set: the $KEEP left" "$(want_pairs)" "$(set_elems allowed)"
ip2=$(ip -n "${P}q2" -4 -o addr show dev net1 | awk '{ print $4 }' | cut -d/ -f1)
if ip netns exec "${P}q$KEEP" ping -c 1 -W 2 "$ip2" >/dev/null 2>&1; then
    ok "pod q$KEEP still reaches pod q2"
else
    not_ok "pod q$KEEP still reaches pod q2" "no reply from $ip2"
fi
out=$(plumbd_run apply 2>&1)
assert_eq "converged: apply writes nothing" 0 "$(apply_writes "$out")"
# Pod host ends are made in plumbd's pod group (1886154096, "plmp"). When
# every member goes, the group is deleted whole (one write); a link of the
# group that is no pod's keeps the detach to the scratch-group path, and stays.
group_members() {
    ip -n "$NODE" -o link show group 1886154096 | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
}
assert_eq "the host ends left are the pod group" "$(want_ports)" "$(group_members)"
ip -n "$NODE" link add plgroupx group 1886154096 type veth peer name plgroupy
for ((i = 1; i <= KEEP / 2; i++)); do rm -f "$CONF/q$i.yml"; done
out=$(plumbd_run apply 2>&1)
assert_match "apply detaches $((KEEP / 2)) pods" "applied $((KEEP / 2)) operations" "$out"
w=$(apply_writes "$out")
if [ "${w:-0}" -gt $((KEEP / 2)) ]; then
    ok "with a foreign member the detach moves its pods to a scratch group first ($w writes)"
else
    not_ok "with a foreign member the detach moves its pods to a scratch group first" "$w writes"
fi
assert_eq "a link of the group that is no pod's stays" \
    "$( (want_ports; echo plgroupx) | sort)" "$(group_members)"
ip -n "$NODE" link del plgroupx
for ((i = KEEP / 2 + 1; i <= KEEP; i++)); do rm -f "$CONF/q$i.yml"; done
out=$(plumbd_run apply 2>&1)
assert_match "apply detaches the last $((KEEP - KEEP / 2)) pods" "applied $((KEEP - KEEP / 2)) operations" "$out"
assert_eq "no attachment left" 0 "$(want_ports | wc -l)"
assert_eq "nothing left in the pod group" "" "$(group_members)"
assert_eq "br-1 keeps only its wire" "ens19" \
    "$(ip -n "$NODE" -o link show master br-1 | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')"
assert_eq "the whole group goes in one write, nothing moved first" 1 "$(apply_writes "$out")"
lab_done
