#!/bin/bash
# daemon_apply: `plumbd apply` beside a running daemon of the same state dir
# hands its pass to the daemon (<state-dir>/plumbd.sock). Checks what an
# operator sees: on a converged node the answer comes without a pass and
# with no write; a file just written is applied before apply returns (the
# daemon's settle delay of 5 s is not waited for); configuration errors are
# printed as a one-shot apply prints them; other options, --standalone, a
# stopped daemon, a dead one (its socket left behind) and a restarted one.
# (A file written beside the config dir is no reason for a pass: the daemon
# watches the parent for the config dir's own name.)
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml"
for p in a b; do lab_netns "${P}$p" || { not_ok lab "no netns $p"; exit 1; }; done
pod() { # NAME IP : write the pod's file atomically
    lab_pod "$1" "${P}$1" "[{\"name\":\"linux-bridge-br-1\",\"ips\":[\"$2/24\"]}]" \
        >"$CONF/.$1.tmp" && mv "$CONF/.$1.tmp" "$CONF/$1.yml"
}
pod a 192.168.255.31
pod b 192.168.255.32
SOCK=$STATE/plumbd.sock
start_daemon() {
    PLUMBD_LOG=debug plumbd_daemon_with --resolv-conf "$RESOLV_CONF" --settle-ms 5000
}
start_daemon
all_up() { status_is default/a Available && status_is default/b Available; }
wait_for 20 all_up || not_ok "daemon: pods a and b Available" "$(plumbd_run status 2>&1)" "$DAEMON_LOG"
wait_for 5 test -S "$SOCK" || not_ok "the daemon listens on $SOCK" "no socket"
assert_eq "the socket is the daemon's alone (mode 600)" 600 "$(stat -c %a "$SOCK" 2>&1)"
lab_quiesce 1 "$NODE" "${P}a" "${P}b"

handed() { grep -c "converged by the daemon (pid $DAEMON_PID)" "$1"; }
passes_of() { sed -n "s/.*converged by the daemon (pid $DAEMON_PID) in \([0-9]*\) passes.*/\1/p" "$1" | tail -n 1; }

# --- a converged node: the daemon answers at once, nothing is written ----------
gens0=$(sql "SELECT count(*) FROM generations")
out=$(plumbd_run -v apply 2>"$LAB_TMP/e1"); rc=$?
assert_eq "converged: apply exits 0" 0 "$rc"
assert_eq "converged: handed to the daemon" 1 "$(handed "$LAB_TMP/e1")"
assert_eq "converged: answered without a pass" 0 "$(passes_of "$LAB_TMP/e1")"
assert_match "converged: the summary line of a one-shot apply" \
    '^applied 0 operations, 0 netlink writes; [0-9]+ objects: [0-9]+ available, 0 pending, 0 failing$' "$out"
assert_eq "converged: no generation recorded" "$gens0" "$(sql "SELECT count(*) FROM generations")"

# a file written and removed beside the config dir is no reason for a pass
echo x >"$LAB_TMP/beside.txt"; rm -f "$LAB_TMP/beside.txt"
plumbd_run -v apply >/dev/null 2>"$LAB_TMP/e1b"
assert_eq "a file beside the config dir: no pass due" 0 "$(passes_of "$LAB_TMP/e1b")"

# --- a file just written: applied before apply returns -------------------------
pod a 192.168.255.41
t0=$SECONDS
out=$(plumbd_run -v apply 2>"$LAB_TMP/e2"); rc=$?
dt=$((SECONDS - t0))
assert_eq "changed file: apply exits 0" 0 "$rc"
if has_addr "${P}a" net1 192.168.255.41/24; then
    ok "changed file: pod a has 192.168.255.41 when apply returns"
else
    not_ok "changed file: pod a has its new address when apply returns" \
        "$(ip -n "${P}a" -o addr show dev net1 2>&1)" "$DAEMON_LOG"
fi
[ "$dt" -lt 4 ] && ok "changed file: apply did not wait for the 5 s settle delay (${dt} s)" ||
    not_ok "changed file: apply did not wait for the settle delay" "took $dt s"
assert_eq "changed file: handed to the daemon" 1 "$(handed "$LAB_TMP/e2")"
[ "$(passes_of "$LAB_TMP/e2")" -ge 1 ] 2>/dev/null && ok "changed file: the daemon ran a pass for it" ||
    not_ok "changed file: the daemon ran a pass for it" "passes: $(passes_of "$LAB_TMP/e2")"
assert_match "changed file: the summary counts the operations" '^applied [1-9][0-9]* operations, [1-9][0-9]* netlink writes' "$out"
expect "the peer reaches pod a's new address" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.41
out=$(plumbd_run apply 2>&1)
assert_eq "after it: the next apply writes nothing" 0 "$(apply_writes "$out")"

# --- several applies at once, right after a change: each answered after it -----
pod b 192.168.255.43
pids=()
for i in 1 2 3 4 5 6; do
    plumbd_run -v apply >"$LAB_TMP/o9.$i" 2>"$LAB_TMP/e9.$i" &
    pids+=($!); lab_track_pid $!
done
bad=""
for i in 1 2 3 4 5 6; do
    wait "${pids[$((i - 1))]}" || bad="$bad $i(exit $?)"
    [ "$(handed "$LAB_TMP/e9.$i")" = 1 ] || bad="$bad $i(not handed)"
done
[ -z "$bad" ] && ok "six applies at once: each exits 0, answered by the daemon" ||
    not_ok "six applies at once" "$bad" "$DAEMON_LOG"
has_addr "${P}b" net1 192.168.255.43/24 && ok "six applies at once: pod b has its new address" ||
    not_ok "six applies at once: pod b has its new address" "$(ip -n "${P}b" -o addr show dev net1 2>&1)"
# (which of them reports the change's writes depends on timing: the daemon
# may even have run a pass of its own, say a DHCP retry, that read the file
# first; what holds is that nothing is left to do)
out=$(plumbd_run apply 2>&1)
assert_eq "six applies at once: nothing left for the next apply" 0 "$(apply_writes "$out")"

# --- configuration errors: printed, exit 1 -------------------------------------
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  namespace: default\nspec: [\n' >"$CONF/.bad.tmp"
mv "$CONF/.bad.tmp" "$CONF/bad.yml"
plumbd_run -v apply >"$LAB_TMP/o3" 2>"$LAB_TMP/e3"; rc=$?
assert_eq "config error: apply exits 1" 1 "$rc"
assert_eq "config error: handed to the daemon" 1 "$(handed "$LAB_TMP/e3")"
assert_match "config error: file:line:column printed" "bad\.yml:[0-9]+:[0-9]+: " "$(cat "$LAB_TMP/e3")"
assert_match "config error: counted" "plumbd: 1 configuration errors" "$(cat "$LAB_TMP/e3")"
# asked again with nothing due: the same errors, from the daemon's last pass
plumbd_run -v apply >/dev/null 2>"$LAB_TMP/e3b"; rc=$?
assert_eq "config error, asked again: exit 1" 1 "$rc"
assert_eq "config error, asked again: without a pass" 0 "$(passes_of "$LAB_TMP/e3b")"
assert_match "config error, asked again: still printed" "bad\.yml:[0-9]+:[0-9]+: " "$(cat "$LAB_TMP/e3b")"
rm -f "$CONF/bad.yml"
plumbd_run apply >/dev/null 2>&1
assert_eq "config error gone: apply exits 0" 0 "$?"

# --- other options: apply converges itself -------------------------------------
plumbd_run -v --history 50 apply >"$LAB_TMP/o4" 2>"$LAB_TMP/e4"; rc=$?
assert_eq "other options: apply exits 0" 0 "$rc"
assert_match "other options: says which one, converges here" "other options \(not history=50\): converging here" "$(cat "$LAB_TMP/e4")"
assert_eq "other options: not handed over" 0 "$(handed "$LAB_TMP/e4")"
assert_eq "other options: it converged itself, writing nothing" 0 "$(apply_writes "$(cat "$LAB_TMP/o4")")"

# --- --standalone: converges here, beside the daemon ---------------------------
out=$(plumbd_run -v --standalone apply 2>"$LAB_TMP/e5"); rc=$?
assert_eq "--standalone: exits 0" 0 "$rc"
assert_eq "--standalone: not handed over" 0 "$(handed "$LAB_TMP/e5")"
assert_eq "--standalone: writes nothing" 0 "$(apply_writes "$out")"

# --- a stopped daemon: apply waits for it --------------------------------------
# (stopped between two passes: the lock free)
for i in $(seq 50); do
    kill -STOP "$DAEMON_PID"
    flock -n "$STATE/lock" true && break
    kill -CONT "$DAEMON_PID"; sleep 0.1
done
plumbd_run -v apply >"$LAB_TMP/o6" 2>"$LAB_TMP/e6" &
CLI=$!
lab_track_pid "$CLI"
sleep 1
proc_alive "$CLI" && ok "stopped daemon: apply waits for its answer" ||
    not_ok "stopped daemon: apply waits for its answer" "it returned" "$LAB_TMP/e6"
kill -CONT "$DAEMON_PID"
wait "$CLI"; rc=$?
assert_eq "stopped daemon, continued: apply exits 0" 0 "$rc"
assert_eq "stopped daemon, continued: answered by it" 1 "$(handed "$LAB_TMP/e6")"

# --- a dead daemon: its socket is left, apply converges itself -----------------
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
test -S "$SOCK" && ok "killed daemon: its socket is left behind" || not_ok "killed daemon leaves its socket" "no socket"
pod b 192.168.255.42
out=$(plumbd_run -v apply 2>"$LAB_TMP/e7"); rc=$?
assert_eq "dead daemon: apply exits 0" 0 "$rc"
assert_eq "dead daemon: not handed over" 0 "$(handed "$LAB_TMP/e7")"
has_addr "${P}b" net1 192.168.255.42/24 && ok "dead daemon: apply converged itself (pod b's new address)" ||
    not_ok "dead daemon: apply converged itself" "$(ip -n "${P}b" -o addr show dev net1 2>&1)" "$LAB_TMP/e7"

# --- a new daemon replaces the stale socket ------------------------------------
# (the log is appended to: wait for this daemon's start pass, after the
# offset; it listens before that pass)
off=$(stat -c %s "$DAEMON_LOG")
start_daemon
wait_for 20 daemon_started_since "$off" || not_ok "restarted daemon: its start pass" "not logged" "$DAEMON_LOG"
out=$(plumbd_run -v apply 2>"$LAB_TMP/e8"); rc=$?
assert_eq "restarted daemon: apply exits 0" 0 "$rc"
assert_eq "restarted daemon: handed to the new daemon" 1 "$(handed "$LAB_TMP/e8")"
assert_no_match "restarted daemon: it took the socket over" "no socket" "$(cat "$DAEMON_LOG")"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
test -S "$SOCK" && not_ok "stopped daemon removes its socket" "still there" || ok "stopped daemon removes its socket"
lab_done
