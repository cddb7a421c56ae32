/* test_dhcp_plan.c - the ipv4/ipv6 dynamic keys (issue 6) through the
 * validator and the planner: dhcp, autoconf, the auto- keys and allow-extra-address
 * parsed and refused with positions; a DHCP lease injected as desired
 * state (address, default route in auto-route-table-id with
 * auto-route-metric, DNS) is planned, and the plan after applying it is
 * empty; the lease gone removes its (dynamic) address but keeps static
 * ones; allow-extra-address: false removes unlisted addresses but not
 * IPv6 link-local or SLAAC ones; ipv6.autoconf plans its two sysctls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "dhcpmgr.h"
#include "plan.h"

#define POLICY_ID "NodeNetworkConfigurationPolicy/d"

#include "desired_fixture.h"

static void load(const char *ip_block, struct desired *d, size_t want_errors)
{
    char *yaml = xasprintf(
        "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
        "metadata:\n  name: d\nspec:\n  desiredState:\n    interfaces:\n"
        "    - name: br-1\n      type: linux-bridge\n      state: up\n%s",
        ip_block);
    fixture_load(yaml, d, want_errors);
    free(yaml);
}

static void add_link(struct live_ns *l, int idx, const char *name, const char *kind)
{
    struct live_link *k = ARRAY_PUSH(l->links, l->nlinks);
    memset(k, 0, sizeof(*k));
    k->ifindex = idx;
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    k->flags = IFF_UP;
    k->mtu = 1500;
    k->stp = -1;
    k->vlan_filtering = -1;
}

static void add_addr(struct live_ns *l, int idx, const char *a, unsigned flags)
{
    struct live_addr *x = ARRAY_PUSH(l->addrs, l->naddrs);
    x->ifindex = idx;
    assert_int_equal(ipaddr_parse(a, -1, &x->addr), 0);
    x->flags = flags;
}

static int fake_sysctl(const char *key, void *ctx)
{
    const int *v = ctx;
    return strstr(key, "accept_ra") ? v[0] : v[1];
}

static void do_plan(const struct desired *d, const struct live_ns *node,
                    const struct inventory *inv, int *sysctls, struct plan *p)
{
    struct plan_input in = {.desired = d, .node = node, .inv = inv,
                            .sysctl_get = sysctls ? fake_sysctl : NULL, .sysctl_ctx = sysctls};
    memset(p, 0, sizeof(*p));
    assert_int_equal(plan_build(&in, p), 0);
}

static const struct op *find_op(const struct plan *p, enum op_type t, const char *needle)
{
    for (size_t i = 0; i < p->nops; i++) {
        if (p->ops[i].type != t)
            continue;
        _cleanup_free_ char *s = op_describe(&p->ops[i]);
        if (!needle || strstr(s, needle))
            return &p->ops[i];
    }
    return NULL;
}

static void dump(const struct plan *p)
{
    for (size_t i = 0; i < p->nops; i++) {
        _cleanup_free_ char *s = op_describe(&p->ops[i]);
        print_message("# op: %s\n", s);
    }
}

static uint32_t ip4(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

static struct dhcp_lease lease(void)
{
    struct dhcp_lease l = {.addr = ip4("192.168.255.55"), .prefix = 24,
                           .router = ip4("192.168.255.254"), .server_id = ip4("192.168.255.11"),
                           .ndns = 1, .lease_s = 120, .t1_s = 60, .t2_s = 105};
    l.dns[0] = ip4("192.168.255.11");
    snprintf(l.domain, sizeof(l.domain), "lab.example");
    return l;
}

/* ---- validator ---- */

static void test_validate_keys(void **state)
{
    (void)state;
    struct desired d;
    load("      ipv4:\n        enabled: true\n        dhcp: true\n        auto-dns: false\n"
         "        auto-gateway: true\n        auto-routes: true\n"
         "        auto-route-table-id: 100\n        auto-route-metric: 50\n"
         "        allow-extra-address: false\n"
         "      ipv6:\n        enabled: true\n        autoconf: true\n        dhcp: false\n",
         &d, 0);
    assert_int_equal(d.npolicies, 1);
    const struct iface *f = &d.policies[0].ifaces[0];
    assert_int_equal(f->ipv4.dhcp, 1);
    assert_int_equal(f->ipv4.auto_dns, 0);
    assert_int_equal(f->ipv4.auto_gateway, 1);
    assert_int_equal(f->ipv4.auto_routes, 1);
    assert_int_equal(f->ipv4.auto_table, 100);
    assert_int_equal(f->ipv4.auto_metric, 50);
    assert_int_equal(f->ipv4.allow_extra, 0);
    assert_int_equal(f->ipv6.autoconf, 1);
    assert_int_equal(f->ipv6.dhcp, 0);
    assert_int_equal(d.policies[0].obj.warnings.n, 0);
    desired_free(&d);

    load("      ipv4:\n        enabled: true\n        autoconf: true\n"
         "        auto-route-table-id: 255\n",
         &d, 2);
    assert_true(has_error(&d, "ipv4.autoconf is only valid for ipv6"));
    assert_true(has_error(&d, "auto-route-table-id must be a table id"));
    desired_free(&d);
    /* the schema's range */
    load("      ipv4:\n        enabled: true\n        auto-route-metric: -1\n", &d, 1);
    assert_true(has_error(&d, "auto-route-metric: must be an integer >= 0"));
    desired_free(&d);

    load("      ipv4:\n        enabled: false\n        dhcp: true\n", &d, 1);
    assert_true(has_error(&d, "ipv4.dhcp: true needs ipv4.enabled: true"));
    desired_free(&d);

    /* DHCPv6: accepted with a warning naming it */
    load("      ipv6:\n        enabled: true\n        dhcp: true\n", &d, 0);
    bool warned = false;
    for (size_t i = 0; i < d.diags.n; i++)
        warned |= d.diags.v[i].severity == DIAG_WARNING &&
                  strstr(d.diags.v[i].msg, "ipv6.dhcp (DHCPv6) is not supported") &&
                  d.diags.v[i].line == 13;
    assert_true(warned);
    desired_free(&d);
}

/* ---- the lease as desired state ---- */

static void test_lease_planned_then_converged(void **state)
{
    (void)state;
    struct desired d;
    load("      ipv4:\n        enabled: true\n        dhcp: true\n"
         "        auto-route-table-id: 100\n        auto-route-metric: 50\n",
         &d, 0);
    struct dhcp_lease l = lease();
    dhcp_inject_lease(&d.policies[0], &d.policies[0].ifaces[0], &l, true);
    struct live_ns node = {0};
    add_link(&node, 1, "lo", "");
    add_link(&node, 5, "br-1", "bridge");
    struct inventory inv = {0};
    struct plan p;
    do_plan(&d, &node, &inv, NULL, &p);
    dump(&p);
    assert_non_null(find_op(&p, OP_ADDR_ADD, "br-1 192.168.255.55/24"));
    assert_non_null(find_op(&p, OP_ROUTE_ADD, "0.0.0.0/0 via 192.168.255.254 dev br-1 metric 50 table 100"));
    const struct op *dns = find_op(&p, OP_DNS_SET, NULL);
    assert_null(dns); /* no resolv.conf given to this planner: DNS not managed */
    assert_int_equal(d.policies[0].dns.nserver, 1);
    assert_string_equal(d.policies[0].dns.server[0], "192.168.255.11");
    assert_string_equal(d.policies[0].dns.search[0], "lab.example");
    plan_free(&p);

    /* applied: the kernel has them, the inventory owns them */
    add_addr(&node, 5, "192.168.255.55/24", IFA_F_PERMANENT);
    struct live_route *r = ARRAY_PUSH(node.routes, node.nroutes);
    assert_int_equal(ipaddr_parse("0.0.0.0/0", -1, &r->dst), 0);
    assert_int_equal(ipaddr_parse("192.168.255.254", -1, &r->gw), 0);
    r->has_gw = true;
    r->ifindex = 5;
    r->table = 100;
    r->priority = 50;
    r->type = RTN_UNICAST;
    r->protocol = RTPROT_STATIC;
    struct owned_addr *oa = ARRAY_PUSH(inv.addrs, inv.naddrs);
    oa->owner = xstrdup(POLICY_ID);
    snprintf(oa->ifname, sizeof(oa->ifname), "br-1");
    assert_int_equal(ipaddr_parse("192.168.255.55/24", -1, &oa->addr), 0);
    oa->dynamic = true;
    struct owned_route *orr = ARRAY_PUSH(inv.routes, inv.nroutes);
    orr->owner = xstrdup(POLICY_ID);
    route_from_live(r, &node, &orr->rt);
    do_plan(&d, &node, &inv, NULL, &p);
    dump(&p);
    assert_int_equal(p.nops, 0); /* plan after apply is empty */
    assert_int_equal(p.status[0].cond, COND_AVAILABLE);
    plan_free(&p);
    desired_free(&d);

    /* the lease is gone (no injection): its address and route go, a
     * static owned address stays (address list omitted = keep) */
    load("      ipv4:\n        enabled: true\n        dhcp: true\n"
         "        auto-route-table-id: 100\n        auto-route-metric: 50\n",
         &d, 0);
    add_addr(&node, 5, "10.1.1.1/24", IFA_F_PERMANENT);
    oa = ARRAY_PUSH(inv.addrs, inv.naddrs);
    oa->owner = xstrdup(POLICY_ID);
    snprintf(oa->ifname, sizeof(oa->ifname), "br-1");
    assert_int_equal(ipaddr_parse("10.1.1.1/24", -1, &oa->addr), 0);
    do_plan(&d, &node, &inv, NULL, &p);
    dump(&p);
    assert_non_null(find_op(&p, OP_ADDR_DEL, "br-1 192.168.255.55/24"));
    assert_non_null(find_op(&p, OP_ROUTE_DEL, "0.0.0.0/0"));
    assert_null(find_op(&p, OP_ADDR_DEL, "10.1.1.1"));
    plan_free(&p);
    desired_free(&d);
    inventory_free(&inv);
    live_ns_free(&node);
}

static void test_auto_keys_off(void **state)
{
    (void)state;
    struct desired d;
    load("      ipv4:\n        enabled: true\n        dhcp: true\n        auto-gateway: false\n"
         "        auto-dns: false\n",
         &d, 0);
    struct dhcp_lease l = lease();
    l.nroutes = 2; /* option 121: a default and 10.0.0.0/8 */
    l.routes[0] = (struct dhcp_route){.dst = 0, .plen = 0, .gw = ip4("192.168.255.1")};
    l.routes[1] = (struct dhcp_route){.dst = ip4("10.0.0.0"), .plen = 8, .gw = ip4("192.168.255.2")};
    dhcp_inject_lease(&d.policies[0], &d.policies[0].ifaces[0], &l, true);
    assert_int_equal(d.policies[0].nroutes, 1); /* no default route */
    assert_false(d.policies[0].dns.set);
    char buf[64];
    assert_string_equal(ipaddr_format(&d.policies[0].routes[0].dst, true, buf, sizeof(buf)),
                        "10.0.0.0/8");
    desired_free(&d);

    load("      ipv4:\n        enabled: true\n        dhcp: true\n        auto-routes: false\n",
         &d, 0);
    dhcp_inject_lease(&d.policies[0], &d.policies[0].ifaces[0], &l, false);
    assert_int_equal(d.policies[0].nroutes, 0);
    assert_false(d.policies[0].dns.set); /* dns_free false: another policy sets it */
    assert_true(d.policies[0].ifaces[0].ipv4.has_lease);
    desired_free(&d);
}

/* ---- allow-extra-address ---- */

static void test_allow_extra_address(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns node = {0};
    add_link(&node, 5, "br-1", "bridge");
    add_addr(&node, 5, "192.0.2.1/24", IFA_F_PERMANENT);
    add_addr(&node, 5, "10.9.9.9/24", IFA_F_PERMANENT);
    add_addr(&node, 5, "fe80::1/64", IFA_F_PERMANENT);
    add_addr(&node, 5, "2001:db8::5/64", 0);              /* SLAAC */
    add_addr(&node, 5, "2001:db8:9::9/64", IFA_F_PERMANENT);
    struct inventory inv = {0};
    struct plan p;

    /* default (true): extra addresses are tolerated */
    load("      ipv4:\n        enabled: true\n        address:\n"
         "        - ip: 192.0.2.1\n          prefix-length: 24\n",
         &d, 0);
    do_plan(&d, &node, &inv, NULL, &p);
    assert_int_equal(p.nops, 0);
    plan_free(&p);
    desired_free(&d);

    load("      ipv4:\n        enabled: true\n        allow-extra-address: false\n        address:\n"
         "        - ip: 192.0.2.1\n          prefix-length: 24\n"
         "      ipv6:\n        enabled: true\n        allow-extra-address: false\n"
         "        address: []\n",
         &d, 0);
    do_plan(&d, &node, &inv, NULL, &p);
    dump(&p);
    assert_non_null(find_op(&p, OP_ADDR_DEL, "br-1 10.9.9.9/24"));
    assert_non_null(find_op(&p, OP_ADDR_DEL, "br-1 2001:db8:9::9/64"));
    assert_null(find_op(&p, OP_ADDR_DEL, "192.0.2.1"));
    assert_null(find_op(&p, OP_ADDR_DEL, "fe80::1"));
    assert_null(find_op(&p, OP_ADDR_DEL, "2001:db8::5"));
    assert_int_equal(p.nops, 2);
    plan_free(&p);
    desired_free(&d);
    live_ns_free(&node);
}

/* ---- ipv6.autoconf ---- */

static void test_autoconf_sysctls(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns node = {0};
    add_link(&node, 5, "br-1", "bridge");
    struct inventory inv = {0};
    struct plan p;
    load("      ipv6:\n        enabled: true\n        autoconf: true\n", &d, 0);
    int cur[2] = {1, 1}; /* the kernel's defaults */
    do_plan(&d, &node, &inv, cur, &p);
    dump(&p);
    const struct op *o = find_op(&p, OP_SYSCTL, "accept_ra");
    assert_non_null(o);
    assert_string_equal(o->sysctl, "net/ipv6/conf/br-1/accept_ra");
    assert_int_equal(o->value, 2);
    assert_int_equal(o->before, 1);
    assert_int_equal(p.nops, 1); /* autoconf is 1 already */
    plan_free(&p);
    int done[2] = {2, 1};
    do_plan(&d, &node, &inv, done, &p);
    assert_int_equal(p.nops, 0);
    plan_free(&p);
    desired_free(&d);

    load("      ipv6:\n        enabled: true\n        autoconf: false\n", &d, 0);
    do_plan(&d, &node, &inv, done, &p);
    assert_int_equal(p.nops, 2);
    assert_int_equal(find_op(&p, OP_SYSCTL, "accept_ra")->value, 0);
    assert_int_equal(find_op(&p, OP_SYSCTL, "/autoconf")->value, 0);
    plan_free(&p);
    desired_free(&d);
    live_ns_free(&node);
}

/* ---- the dhcp_lease table (migration 010) ---- */

static void test_store_leases(void **state)
{
    (void)state;
    char dir[] = "/tmp/plumbd-test-lease.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct store *s = NULL;
    assert_int_equal(store_open(dir, false, &s), 0);
    struct lease_row row = {.owner = POLICY_ID, .lease = lease(), .xid = 0xdeadbeef,
                            .mac = {2, 0, 0, 0, 0, 1}};
    snprintf(row.ifname, sizeof(row.ifname), "br-1");
    row.lease.acquired_ms = 1795834831232ULL;
    row.lease.nroutes = 2;
    row.lease.routes[0] = (struct dhcp_route){.dst = ip4("10.0.0.0"), .plen = 8, .gw = ip4("192.168.255.1")};
    row.lease.routes[1] = (struct dhcp_route){.dst = 0, .plen = 0, .gw = ip4("192.168.255.254")};
    row.lease.ndns = 2;
    row.lease.dns[1] = ip4("192.0.2.53");
    assert_int_equal(store_lease_put(s, &row), 0);
    struct lease_row *v = NULL;
    size_t n = 0;
    assert_int_equal(store_lease_list(s, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].ifname, "br-1");
    assert_string_equal(v[0].owner, POLICY_ID);
    assert_memory_equal(v[0].mac, row.mac, 6);
    assert_int_equal(v[0].xid, 0xdeadbeef);
    assert_true(dhcp_lease_same_config(&v[0].lease, &row.lease));
    assert_int_equal(v[0].lease.server_id, row.lease.server_id);
    assert_int_equal(v[0].lease.lease_s, 120);
    assert_int_equal(v[0].lease.t1_s, 60);
    assert_int_equal(v[0].lease.t2_s, 105);
    assert_true(v[0].lease.acquired_ms == row.lease.acquired_ms);
    lease_rows_free(v, n);
    /* upsert by interface, then delete */
    row.lease.addr = ip4("192.168.255.56");
    assert_int_equal(store_lease_put(s, &row), 0);
    assert_int_equal(store_lease_list(s, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].lease.addr, ip4("192.168.255.56"));
    lease_rows_free(v, n);
    /* a dynamic owned address keeps its mark */
    struct owned_addr oa = {.owner = POLICY_ID, .dynamic = true};
    snprintf(oa.ifname, sizeof(oa.ifname), "br-1");
    assert_int_equal(ipaddr_parse("192.168.255.56/24", -1, &oa.addr), 0);
    assert_int_equal(store_addr_put(s, &oa), 0);
    struct inventory inv = {0};
    assert_int_equal(store_inventory_load(s, &inv), 0);
    assert_int_equal(inv.naddrs, 1);
    assert_true(inv.addrs[0].dynamic);
    inventory_free(&inv);
    assert_int_equal(store_lease_delete(s, "br-1"), 0);
    assert_int_equal(store_lease_list(s, &v, &n), 0);
    assert_int_equal(n, 0);
    lease_rows_free(v, n);
    store_close(s);
    char *cmd = xasprintf("rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_keys),
        cmocka_unit_test(test_lease_planned_then_converged),
        cmocka_unit_test(test_auto_keys_off),
        cmocka_unit_test(test_allow_extra_address),
        cmocka_unit_test(test_autoconf_sysctls),
        cmocka_unit_test(test_store_leases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
