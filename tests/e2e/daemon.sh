#!/bin/bash
# daemon: `plumbd run` converges files dropped into the config dir (inotify),
# removes what a removed Pod file had, attaches a Pending pod as soon as its
# netns appears (inotify on /run/netns), and exits 0 promptly on SIGTERM.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
mv "$CONF/multus-demo.yml" "$LAB_TMP/multus-demo.yml" # dropped in later
POD_NS=${P}multus-demo
lab_netns "$POD_NS"

plumbd_daemon
if wait_for 10 link_exists "$NODE" br-1; then
    ok "daemon converges the policy at start (br-1 within 10 s)"
else
    not_ok "daemon converges the policy at start" "no br-1 after 10 s" "$DAEMON_LOG"
fi
proc_alive "$DAEMON_PID" && ok "daemon keeps running" || not_ok "daemon keeps running" "it exited" "$DAEMON_LOG"

# --- a pod file dropped in ----------------------------------------------------
# Written elsewhere and renamed in, as git-sync and editors do.
cp "$LAB_TMP/multus-demo.yml" "$CONF/.multus-demo.yml.tmp" && mv "$CONF/.multus-demo.yml.tmp" "$CONF/multus-demo.yml"
t0=$SECONDS
if wait_for 10 has_addr "$POD_NS" net1 192.168.255.100/24; then
    ok "dropped pod file attached net1 with 192.168.255.100/24 in $((SECONDS - t0)) s"
else
    not_ok "dropped pod file attached within 10 s" "no net1 with 192.168.255.100" "$DAEMON_LOG"
fi
expect "peer pings the pod" ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.100
wait_for 5 status_is default/multus-demo Available
assert_eq "pod status Available" Available "$(plumbd_status_field default/multus-demo 3)"
host=""
for p in $(bridge_ports "$NODE" br-1); do [ "$p" != ens19 ] && host=$p; done
[ -n "$host" ] && ok "host veth $host on br-1" || not_ok "host veth on br-1" "none"

# --- drift: someone deletes the pod's host veth; repaired without a file change
if [ -n "$host" ]; then
    ip -n "$NODE" link del "$host"
    if wait_for 10 ip netns exec "$PEER" ping -c 1 -W 1 192.168.255.100; then
        ok "deleted host veth repaired by the daemon (drift)"
    else
        not_ok "deleted host veth repaired by the daemon (drift)" "no ping after 10 s" "$DAEMON_LOG"
    fi
fi

# --- the pod file removed -------------------------------------------------------
host_now=""
for p in $(bridge_ports "$NODE" br-1); do [ "$p" != ens19 ] && host_now=$p; done
rm -f "$CONF/multus-demo.yml"
if wait_for 10 link_absent "$POD_NS" net1; then
    ok "removed pod file: net1 gone"
else
    not_ok "removed pod file: net1 gone" "still there after 10 s" "$DAEMON_LOG"
fi
if [ -n "$host_now" ]; then
    wait_for 5 link_absent "$NODE" "$host_now" && ok "removed pod file: host veth $host_now gone" ||
        not_ok "removed pod file: host veth gone" "$host_now still present"
fi
wait_for 5 no_alloc Pod/default/multus-demo
assert_eq "removed pod file: allocation released" "" "$(alloc_of Pod/default/multus-demo)"
assert_eq "br-1 (owned by the policy) stays" 1 "$(link_exists "$NODE" br-1 && echo 1 || echo 0)"

# --- a pod whose netns does not exist yet -------------------------------------
LATE=${P}late
lab_netns_track "$LATE"
lab_pod late "$LATE" '[{"name":"linux-bridge-br-1","ips":["192.168.255.120/24"]}]' >"$CONF/late.yml"
if wait_for 10 status_is default/late Pending; then
    ok "pod without a netns is Pending"
else
    not_ok "pod without a netns is Pending" "status: $(plumbd_status_line default/late)" "$DAEMON_LOG"
fi
lab_netns "$LATE"
if wait_for 10 has_addr "$LATE" net1 192.168.255.120/24; then
    ok "pod attached once its netns appears"
else
    not_ok "pod attached once its netns appears" "no net1 after 10 s" "$DAEMON_LOG"
fi
wait_for 5 status_is default/late Available
assert_eq "late pod becomes Available" Available "$(plumbd_status_field default/late 3)"

# --- idle daemon sleeps ---------------------------------------------------------
# (once the late pod's kernel events are over: its IPv6 address finishes
# DAD a second or two after the attach, and the daemon reads that)
lab_quiesce 2 "$NODE" "$LATE"
if [ -r "/proc/$DAEMON_PID/stat" ]; then
    cpu0=$(awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat")
    sleep 3
    cpu1=$(awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat")
    # 3 s idle: under 3 clock ticks of CPU (no polling loop)
    [ $((cpu1 - cpu0)) -lt 3 ] && ok "idle daemon uses no CPU ($((cpu1 - cpu0)) ticks in 3 s)" ||
        not_ok "idle daemon uses no CPU" "$((cpu1 - cpu0)) ticks in 3 s"
fi

# --- SIGTERM --------------------------------------------------------------------
kill -TERM "$DAEMON_PID"
if wait_for 5 proc_gone "$DAEMON_PID"; then
    wait "$DAEMON_PID"; rc=$?
    assert_eq "SIGTERM: daemon exits 0 within 5 s" 0 "$rc"
else
    not_ok "SIGTERM: daemon exits within 5 s" "still running" "$DAEMON_LOG"
fi
assert_eq "SIGTERM leaves the attachments in place" 1 \
    "$(link_exists "$LATE" net1 && echo 1 || echo 0)"

lab_done
