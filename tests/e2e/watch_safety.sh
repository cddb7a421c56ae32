#!/bin/bash
# watch_safety: bad input under a running daemon (issue 5, Safety against bad
# input). A broken YAML pushed over a good file of the same name keeps the
# node converged on the last good revision and reports file:line:column (log
# and status); fixing the file converges. The config dir emptied, or removed
# and recreated with the same content, is not "delete everything": the
# daemon refuses (EmptySource) while it is empty/missing, then converges
# again without re-attaching anything, and keeps watching the new directory.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
F=$CONF/multus-demo.yml
POL=$CONF/linux-bridge-br1-ens19.yml
cp "$F" "$LAB_TMP/pod.good"; cp "$POL" "$LAB_TMP/pol.good"
sed 's/^spec:$/spec: [/' "$LAB_TMP/pod.good" >"$LAB_TMP/pod.bad"
sed 's/^  nodeSelector:$/&\n    linux-bridge-br1: "true"\n  bad: {x/' "$LAB_TMP/pol.good" >"$LAB_TMP/pol.bad"

plumbd_daemon
watch_ready || exit 1

# bad_input_reported FILE BADCOPY : the daemon log, since the mark, has the
# file:line:col that `plumbd validate` gives for the same content.
bad_input_reported() {
    local where
    where=$(plumbd_run validate "$2" 2>&1 | grep -oE '^[^ ]*:[0-9]+:[0-9]+:' | head -n 1)
    where=${where#"$2"}
    diag "validate: $2 is wrong at ${where%:}"
    if grep -qF -- "$1$where" <<<"$(watch_log_since)"; then
        ok "error reported in the log as $1${where%:}"
        diag "log: $(watch_log_since | grep -F -- "$1$where" | head -n 1)"
    else
        not_ok "error reported in the log as $1${where%:}" "not in the daemon log" "$DAEMON_LOG"
    fi
}

# --- a broken pod file pushed over the good one -------------------------------
watch_mark
cp "$LAB_TMP/pod.bad" "$F"
watch_expect "broken pod file" 0 "" 5 true
bad_input_reported "$F" "$LAB_TMP/pod.bad"
line=$(plumbd_status_line default/multus-demo)
diag "status: $line"
assert_match "status of the pod names file:line:col" "multus-demo\.yml:[0-9]+:[0-9]+" "$line"
expect "peer still pings the pod" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.100

# --- a broken policy file pushed over the good one -----------------------------
watch_mark
cp "$LAB_TMP/pol.bad" "$POL"
watch_expect "broken policy file" 0 "" 5 true
bad_input_reported "$POL" "$LAB_TMP/pol.bad"
line=$(plumbd_status_line linux-bridge-br1-ens19)
diag "status: $line"
assert_match "status of the policy names file:line:col" "linux-bridge-br1-ens19\.yml:[0-9]+:[0-9]+" "$line"
assert_match "ens19 still on br-1" 'master br-1' "$(ip -n "$NODE" link show ens19 2>&1)"

# --- both fixed, the pod file with a second pod: one convergence ----------------
lab_netns "${P}fixed"
sleep 0.5
watch_mark
cp "$LAB_TMP/pol.good" "$POL"
{ cat "$LAB_TMP/pod.good"; echo "---"; watch_pod_doc fixed "${P}fixed" 192.168.255.110; } >"$F"
watch_expect "files fixed" 1 "" 10 has_addr "${P}fixed" net1 192.168.255.110/24
for o in default/multus-demo linux-bridge-br1-ens19 default/fixed; do
    wait_for 3 status_is "$o" Available
    assert_eq "after the fix: $o Available" Available "$(plumbd_status_field "$o" 3)"
done
assert_no_match "after the fix: no file:line:col left in status" "\.yml:[0-9]+:[0-9]+: [^w]" \
    "$(plumbd_run status 2>&1 | grep -v 'warning:')"

# --- the config dir emptied -------------------------------------------------------
watch_mark
mkdir "$LAB_TMP/away"
mv "$CONF"/* "$LAB_TMP/away/"
if wait_for 5 grep -q EmptySource "$DAEMON_LOG"; then
    ok "empty config dir: refused (EmptySource)"
    diag "log: $(grep EmptySource "$DAEMON_LOG" | tail -n 1)"
else
    not_ok "empty config dir: refused (EmptySource)" "no EmptySource in the log" "$DAEMON_LOG"
fi
diag "status while empty: $(plumbd_run status 2>&1 | tr '\n' '|')"
mv "$LAB_TMP/away"/* "$CONF/"
watch_expect "config dir emptied and refilled" 0 "" 5 true

# --- the config dir removed and recreated with the same content -----------------
cp -a "$CONF" "$LAB_TMP/conf.copy"
before=$(grep -c EmptySource "$DAEMON_LOG")
watch_mark
rm -rf "$CONF"
more_empty_source() { [ "$(grep -c EmptySource "$DAEMON_LOG")" -gt "$before" ]; }
if wait_for 5 more_empty_source; then
    ok "missing config dir: refused (EmptySource)"
    diag "log: $(grep EmptySource "$DAEMON_LOG" | tail -n 1)"
else
    not_ok "missing config dir: refused (EmptySource)" "no new EmptySource line in the log" "$DAEMON_LOG"
fi
assert_match "missing config dir: the log says it is missing" "$CONF is missing: refusing.*EmptySource" \
    "$(watch_log_since)"
st=$(plumbd_run status 2>&1)
diag "status while missing: $(printf '%s' "$st" | tr '\n' '|')"
assert_match "missing config dir: status says Stalled/EmptySource" 'Stalled +EmptySource' "$st"
sleep 0.5
cp -a "$LAB_TMP/conf.copy" "$CONF"
watch_expect "config dir removed and recreated" 0 "" 5 true
assert_eq "pod Available after the recreation" Available "$(plumbd_status_field default/multus-demo 3)"

# --- the recreated dir is watched: a new file is seen at once -------------------
lab_netns "${P}late"
sleep 0.5
watch_mark
watch_pod_doc late "${P}late" 192.168.255.111 >"$CONF/late.yml"
watch_expect "new file in the recreated dir" 1 "" 5 has_addr "${P}late" net1 192.168.255.111/24

# --- a new subdirectory is watched: a file written into it later is seen -----
# (the daemon places watches again only when a directory comes or goes, not
# on every file event)
lab_netns "${P}sub"
mkdir "$CONF/more"
sleep 1 # (the directory's own event handled first, alone)
watch_mark
watch_pod_doc insub "${P}sub" 192.168.255.112 >"$CONF/more/insub.yml"
watch_expect "new file in a new subdirectory" 1 "" 5 has_addr "${P}sub" net1 192.168.255.112/24
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"

lab_done
