#!/bin/bash
# status_events: `plumbd events` lists condition transitions (new objects,
# changes, removals) and `plumbd status --watch` follows changes live
# (issue 9, Observability).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }

plumbd_run apply >/dev/null 2>&1
ev=$(plumbd_run events 2>&1)
assert_match "events: the pod appeared Available" 'Pod/default/multus-demo +\(new\) -> Available' "$ev"
assert_match "events: the policy appeared Available" \
    'NodeNetworkConfigurationPolicy/linux-bridge-br1-ens19 +\(new\) -> Available' "$ev"

# status --watch prints again when something changes
WATCH_OUT=$LAB_TMP/watch.out
"$PLUMBD" --state-dir "$STATE" status --watch >"$WATCH_OUT" 2>&1 &
WPID=$!
lab_track_pid "$WPID"
# (its first table printed: it watches from then on)
wait_for 5 grep -q . "$WATCH_OUT"
sleep 0.2
rm -f "$CONF/multus-demo.yml"
plumbd_run apply >/dev/null 2>&1
wait_for 5 grep -q '^--- ' "$WATCH_OUT" &&
    ok "status --watch printed a new table after the change" ||
    not_ok "status --watch printed a new table after the change" "$(cat "$WATCH_OUT")"
after=$(sed -n '/^--- /,$p' "$WATCH_OUT")
if [[ $after == *multus-demo* ]]; then
    not_ok "status --watch: the removed pod is gone from the new table" "$after"
else
    ok "status --watch: the removed pod is gone from the new table"
fi
kill "$WPID" 2>/dev/null
wait "$WPID" 2>/dev/null

ev=$(plumbd_run events 2>&1)
assert_match "events: the pod's removal" 'Pod/default/multus-demo +Available -> \(gone\) +Removed' "$ev"
js=$(plumbd_run events -o json 2 2>&1)
assert_eq "events -o json 2: two entries" 2 "$(grep -c '"object":' <<<"$js")"
assert_eq "events: a bad count is a usage error" 2 \
    "$(plumbd_run events zero >/dev/null 2>&1; echo $?)"
lab_done
