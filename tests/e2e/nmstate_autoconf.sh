#!/bin/bash
# nmstate_autoconf: ipv6.autoconf through the kernel's SLAAC (issue 6).
# The seed lab with the policy's br-1 asking for ipv6 {enabled: true,
# autoconf: true}: plumbd sets net.ipv6.conf.br-1.accept_ra=2 and
# autoconf=1 (a second apply writes nothing); dnsmasq in the peer netns
# sends router advertisements (enable-ra, ra-only for 2001:db8:1::/64) and
# br-1 gets a SLAAC address of that prefix. autoconf: false puts both
# sysctls to 0; plumbd rollback puts them back. `show` says autoconf: true
# and leaves the SLAAC address out, and fed back plans nothing.
# ipv4.allow-extra-address: false removes an address added by hand, and
# rollback puts it back not owned. ipv6.dhcp is reported as not supported
# (a warning), and autoconf under ipv4 is refused.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml" "$CONF/linux-bridge-br-1.yml"
POLICY=$CONF/linux-bridge-br1-ens19.yml
# ipv6 block after the seed's ipv4 block (same indentation as ipv4:)
sed -i 's/^\( *\)ipv4:$/\1ipv6:\n\1  enabled: true\n\1  autoconf: true\n&/' "$POLICY"
sysctl_of() { ip netns exec "$NODE" cat "/proc/sys/net/ipv6/conf/br-1/$1" 2>/dev/null; }

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
assert_eq "accept_ra=2 on br-1" 2 "$(sysctl_of accept_ra)"
assert_eq "autoconf=1 on br-1" 1 "$(sysctl_of autoconf)"
out=$(plumbd_run apply 2>&1)
assert_eq "second apply writes nothing" 0 "$(apply_writes "$out")"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after apply is empty" "0:" "$rc:$out"

# ---- a router advertisement from dnsmasq gives a SLAAC address -------------------
if ! command -v dnsmasq >/dev/null; then
    skip "SLAAC address from a router advertisement" "dnsmasq not installed"
else
    ip -n "$PEER" addr add 2001:db8:1::11/64 dev eth0 nodad
    ip netns exec "$PEER" dnsmasq --keep-in-foreground --port=0 --interface=eth0 \
        --bind-interfaces --enable-ra --ra-param=eth0,3 \
        --dhcp-range=::,constructor:eth0,ra-only,64,10m \
        --log-facility="$LAB_TMP/dnsmasq.log" --pid-file="$LAB_TMP/dnsmasq.pid" &
    lab_track_pid $!
    slaac() { grep -q 'inet6 2001:db8:1:0:' <<<"$(ip -n "$NODE" -6 -o addr show dev br-1 scope global 2>/dev/null)"; }
    if wait_for 20 slaac; then
        ok "br-1 gets a SLAAC address of 2001:db8:1::/64"
    else
        not_ok "br-1 gets a SLAAC address of 2001:db8:1::/64" "none" "$LAB_TMP/dnsmasq.log"
        ip -n "$NODE" -6 addr show dev br-1 | sed 's/^/#   /'
    fi
fi

# ---- show: autoconf: true, the SLAAC address not listed; fed back: nothing -----------
show=$(plumbd_run show 2>/dev/null)
br=$(printf '%s\n' "$show" | awk '/^- name: br-1$/ {p=1; next} /^- name:/ {p=0} p')
assert_match "show: br-1 ipv6 autoconf: true" '^ *autoconf: true$' "$br"
assert_no_match "show: the SLAAC address is not a static one" 'ip: 2001:db8:1:' "$br"
assert_no_match "show: ens19 (kernel defaults) has no autoconf" 'autoconf' \
    "$(printf '%s\n' "$show" | awk '/^- name: ens19$/ {p=1; next} /^- name:/ {p=0} p')"
CONF2=$LAB_TMP/conf2 STATE2=$LAB_TMP/state2
mkdir -p "$CONF2" "$STATE2"
printf '%s\n' "$show" >"$CONF2/show.yaml"
out=$("$PLUMBD" --config-dir "$CONF2" --state-dir "$STATE2" --netns "$NODE" --node-name "$NODE_NAME" \
    --resolv-conf "$RESOLV_CONF" plan 2>/dev/null); rc=$?
assert_eq "show fed back: plan is empty" "0:" "$rc:$(plan_ops "$out")"

# ---- autoconf: false; rollback ------------------------------------------------------
sed -i 's/autoconf: true/autoconf: false/' "$POLICY"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "autoconf: false: apply exits 0" 0 "$rc"
assert_eq "autoconf: false: accept_ra=0" 0 "$(sysctl_of accept_ra)"
assert_eq "autoconf: false: autoconf=0" 0 "$(sysctl_of autoconf)"
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback exits 0" 0 "$rc"
assert_eq "rollback: accept_ra=2 again" 2 "$(sysctl_of accept_ra)"
assert_eq "rollback: autoconf=1 again" 1 "$(sysctl_of autoconf)"

# ---- allow-extra-address: false removes an unlisted address; rollback puts it back ----
ip -n "$NODE" addr add 10.9.9.9/24 dev br-1
sed -i 's/^\( *\)dhcp: true$/\1allow-extra-address: false\n\1address:\n\1- ip: 192.168.255.1\n\1  prefix-length: 24/' "$POLICY"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "allow-extra-address: false: apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
v4=$(ip -n "$NODE" -4 -o addr show dev br-1 | awk '{print $4}' | sort | tr '\n' ' ')
assert_eq "allow-extra-address: false: only the listed address" "192.168.255.1/24 " "$v4"
assert_match "allow-extra-address is ipv4's only: the IPv6 link-local stays" 'inet6 fe80::' \
    "$(ip -n "$NODE" -6 -o addr show dev br-1)"
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback exits 0" 0 "$rc"
assert_match "rollback: 10.9.9.9/24 is back" 'inet 10\.9\.9\.9/24' "$(ip -n "$NODE" -4 -o addr show dev br-1)"
assert_eq "rollback: 10.9.9.9 comes back foreign (not owned)" "" \
    "$(sql "SELECT addr FROM owned_addrs WHERE addr LIKE '10.9.9.9%'")"

# ---- ipv6.dhcp: a warning; autoconf under ipv4: an error -----------------------------
cat >"$LAB_TMP/v6dhcp.yml" <<'YAML'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: v6dhcp
spec:
  desiredState:
    interfaces:
    - name: br-9
      type: linux-bridge
      state: up
      ipv4:
        enabled: true
        autoconf: true
      ipv6:
        enabled: true
        dhcp: true
YAML
out=$("$PLUMBD" validate "$LAB_TMP/v6dhcp.yml" 2>&1); rc=$?
assert_eq "validate: autoconf under ipv4 is an error (exit 1)" 1 "$rc"
assert_match "validate: ipv4.autoconf refused with its position" 'v6dhcp.yml:13:19: .*ipv4.autoconf is only valid for ipv6' "$out"
assert_match "validate: ipv6.dhcp warned as unsupported" 'v6dhcp.yml:16:15: warning: .*ipv6.dhcp \(DHCPv6\) is not supported' "$out"

lab_done
