#!/bin/bash
# journal_history: what `plumbd history` keeps and shows. A generation names
# every object it touched, once each, even when one object's name is the
# start of another's (Pod/default/h1 and Pod/default/h10); --history N keeps
# the newest N generations, trimmed every 16th generation, so the journal
# never holds more than N + 15, and what was trimmed is gone.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml"
lab_netns "${P}h1" && lab_netns "${P}h10" || { not_ok lab "no pod netns"; exit 1; }
# h10 sorts first (a.yml), so its id comes first in the generation's list
lab_pod h10 "${P}h10" '[{"name":"linux-bridge-br-1"}]' >"$CONF/a.yml"
lab_pod h1 "${P}h1" '[{"name":"linux-bridge-br-1"}]' >"$CONF/b.yml"

expect "apply attaches h10 and h1" plumbd_run apply
newest=$(plumbd_run history | awk 'NR == 2') # newest first
diag "newest generation: $newest"
for o in Pod/default/h10 Pod/default/h1; do
    if grep -qx "$o" <<<"${newest// /$'\n'}"; then
        ok "the generation names $o"
    else
        not_ok "the generation names $o" "$newest"
    fi
done
assert_eq "each object named once" 1 "$(tr ' ' '\n' <<<"$newest" | grep -cx Pod/default/h1)"

# 40 generations with --history 3: h1's requested IP goes back and forth
H=3
for ((i = 0; i < 40; i++)); do
    lab_pod h1 "${P}h1" "[{\"name\":\"linux-bridge-br-1\",\"ips\":[\"192.168.255.$((60 + i % 2))/24\"]}]" \
        >"$CONF/b.yml"
    plumbd_run --history $H apply >/dev/null 2>&1 || { not_ok "apply $i" "exit $?"; break; }
done
gens=$(sql "SELECT count(*) FROM generations")
newest=$(sql "SELECT max(id) FROM generations")
oldest=$(sql "SELECT min(id) FROM generations")
diag "after 40 more generations: $gens kept, ids $oldest..$newest"
if [ "$gens" -ge "$H" ] && [ "$gens" -le $((H + 15 + 3)) ]; then
    ok "the journal holds between $H and $H + 15 generations (and the newest of each object): $gens"
else
    not_ok "the journal holds between $H and $H + 15 generations (and the newest of each object)" "$gens"
fi
assert_eq "generation 2 was trimmed" 0 "$(sql "SELECT count(*) FROM generations WHERE id = 2")"
assert_eq "the newest generation is kept" 1 "$(sql "SELECT count(*) FROM generations WHERE id = $newest")"
assert_eq "h1 has the address of the last apply" "192.168.255.61/24" \
    "$(ip -n "${P}h1" -4 -o addr show dev net1 | awk '{ print $4 }')"
lab_done
