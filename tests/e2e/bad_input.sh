#!/bin/bash
# bad_input: a file that does not parse and a document of an unknown kind are
# reported as file:line:column, and every other object still converges.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }

# A tab in the indentation: libyaml stops at line 5, column 1.
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n\tbad: tab\n' >"$CONF/broken.yml"
printf 'apiVersion: example.com/v1\nkind: Frobnicator\nmetadata:\n  name: x\n' >"$CONF/unknown.yaml"
# Editor droppings and dot files are not read at all.
printf 'kind: [\n' >"$CONF/.hidden.yml"
printf 'kind: [\n' >"$CONF/multus-demo.yml.swp"
printf 'kind: [\n' >"$CONF/multus-demo.yml~"

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a broken file exits 1" 1 "$rc"
assert_match "parse error reported as broken.yml:5:1:" 'broken\.yml:5:1: ' "$out"
assert_match "unknown kind reported as unknown.yaml:LINE:COL" 'unknown\.yaml:[0-9]+:[0-9]+: .*Frobnicator' "$out"
assert_no_match "dot files and editor droppings are ignored" '\.hidden\.yml|\.swp|yml~' "$out"

assert_match "other objects converge: pod net1 has 192.168.255.100/24" 'inet 192\.168\.255\.100/24 ' \
    "$(ip -n "$POD_NS" addr show net1 2>&1)"
assert_match "other objects converge: ens19 on br-1" 'master br-1' "$(ip -n "$NODE" link show ens19 2>&1)"
for n in linux-bridge-br1-ens19 default/linux-bridge-br-1 default/multus-demo; do
    assert_eq "status: $n Available despite the broken file" Available "$(plumbd_status_field "$n" 3)"
done
expect "peer pings the pod" ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.100

out=$("$PLUMBD" validate "$CONF/broken.yml" 2>&1); rc=$?
assert_eq "validate exits 1 on the broken file" 1 "$rc"
assert_match "validate prints broken.yml:5:1:" 'broken\.yml:5:1: ' "$out"
out=$("$PLUMBD" validate "$CONF/linux-bridge-br-1.yml" 2>&1); rc=$?
assert_eq "validate exits 0 on a good file" 0 "$rc"

# An invalid annotation fails that pod only, with a position.
lab_netns "${P}badann"
lab_pod badann "${P}badann" '[{"name": "linux-bridge-br-1", ' >"$CONF/badann.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a bad annotation exits 1" 1 "$rc"
assert_match "bad annotation reported as badann.yml:LINE:COL" 'badann\.yml:[0-9]+:[0-9]+: ' "$out"
assert_eq "nothing created for the bad pod" "" "$(links_except_lo "${P}badann")"
assert_eq "the seed pod stays Available" Available "$(plumbd_status_field default/multus-demo 3)"

lab_done
