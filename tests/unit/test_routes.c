/* test_routes.c - routes.config (issue 6): the validator (normalization and
 * errors), the planner (add, converged, absent wildcard, ownership and
 * prune, Pending, conflicts) and the journal (JSON round trip, inverses,
 * verification), on synthetic kernel snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "journal.h"
#include "plan.h"

#define POLICY_ID "NodeNetworkConfigurationPolicy/r"

static const char *head =
    "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
    "metadata:\n  name: r\nspec:\n  desiredState:\n    routes:\n      config:\n";

#include "desired_fixture.h"

/* A policy whose list is `entries` (indented list items). */
static void load(const char *entries, struct desired *d, size_t want_errors)
{
    char *yaml = xasprintf("%s%s", head, entries);
    fixture_load(yaml, d, want_errors);
    free(yaml);
}


static void add_link(struct live_ns *l, int idx, const char *name, bool up)
{
    struct live_link *k = ARRAY_PUSH(l->links, l->nlinks);
    memset(k, 0, sizeof(*k));
    k->ifindex = idx;
    snprintf(k->name, sizeof(k->name), "%s", name);
    k->flags = up ? IFF_UP : 0;
    k->mtu = 1500;
    k->stp = -1;
    k->vlan_filtering = -1;
}

static struct live_route *add_route(struct live_ns *l, const char *dst, const char *gw, int oif,
                                    unsigned table, unsigned metric, int type)
{
    struct live_route *r = ARRAY_PUSH(l->routes, l->nroutes);
    memset(r, 0, sizeof(*r));
    assert_int_equal(ipaddr_parse(dst, -1, &r->dst), 0);
    if (gw) {
        assert_int_equal(ipaddr_parse(gw, -1, &r->gw), 0);
        r->has_gw = true;
    }
    r->ifindex = oif;
    r->table = table;
    r->priority = metric;
    r->type = (unsigned char)type;
    r->protocol = RTPROT_STATIC;
    return r;
}

static void node_init(struct live_ns *l)
{
    memset(l, 0, sizeof(*l));
    add_link(l, 1, "lo", true);
    add_link(l, 2, "ens19", true);
    add_link(l, 3, "ens20", false);
    /* the kernel's own subnet route: never matched by a wildcard */
    add_route(l, "192.0.2.0/24", NULL, 2, 254, 0, RTN_UNICAST)->protocol = RTPROT_KERNEL;
}

static void do_plan(const struct desired *d, const struct live_ns *node,
                    const struct inventory *inv, struct plan *p)
{
    struct label lab = {"a", "b"};
    struct plan_input in = {.desired = d, .node_labels = &lab, .nnode_labels = 1, .node = node,
                            .inv = inv};
    memset(p, 0, sizeof(*p));
    assert_int_equal(plan_build(&in, p), 0);
}

static const struct objstatus *status(const struct plan *p)
{
    for (size_t i = 0; i < p->nstatus; i++)
        if (streq(p->status[i].id, POLICY_ID))
            return &p->status[i];
    fail_msg("no status");
    return NULL;
}

static size_t count_ops(const struct plan *p, enum op_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < p->nops; i++)
        n += p->ops[i].type == t;
    return n;
}

/* ---- validator ---- */

static void test_validate_normalizes(void **state)
{
    (void)state;
    struct desired d;
    load("      - destination: 198.51.100.0/24\n        next-hop-interface: ens19\n"
         "        next-hop-address: 192.0.2.2\n"
         "      - destination: 2001:db8:99::/64\n        next-hop-interface: ens19\n"
         "      - destination: 10.66.0.0/16\n        route-type: blackhole\n        table-id: 100\n"
         "        metric: 7\n"
         "      - next-hop-interface: ens19\n        state: absent\n", &d, 0);
    assert_int_equal(d.npolicies, 1);
    const struct policy *p = &d.policies[0];
    assert_int_equal(p->nroutes, 4);
    assert_int_equal(p->routes[0].table, 254);
    assert_int_equal(p->routes[0].metric, 0);
    assert_int_equal(p->routes[0].type, RTN_UNICAST);
    assert_true(p->routes[0].has_gw);
    assert_int_equal(p->routes[1].family, AF_INET6);
    assert_int_equal(p->routes[1].metric, 1024); /* the kernel's IPv6 default */
    assert_int_equal(p->routes[2].type, RTN_BLACKHOLE);
    assert_int_equal(p->routes[2].table, 100);
    assert_int_equal(p->routes[2].metric, 7);
    assert_true(p->routes[3].absent);
    assert_false(p->routes[3].has_table); /* wildcard: any table */
    assert_false(p->routes[3].has_metric);
    assert_int_equal(p->routes[3].type, 0);
    desired_free(&d);
}

static void test_validate_errors(void **state)
{
    (void)state;
    struct desired d;
    load("      - destination: 198.51.100.1/24\n        next-hop-interface: ens19\n", &d, 1);
    assert_true(has_error(&d, "host bits"));
    desired_free(&d);
    load("      - destination: 198.51.100.0/24\n", &d, 1);
    assert_true(has_error(&d, "next-hop-interface is required"));
    desired_free(&d);
    load("      - destination: 198.51.100.0/24\n        route-type: blackhole\n"
         "        next-hop-interface: ens19\n", &d, 1);
    assert_true(has_error(&d, "has no next-hop-interface"));
    desired_free(&d);
    load("      - destination: 198.51.100.0/24\n        next-hop-interface: ens19\n"
         "        next-hop-address: 2001:db8::1\n", &d, 1);
    assert_true(has_error(&d, "family"));
    desired_free(&d);
    load("      - destination: 198.51.100.0/24\n        next-hop-interface: ens19\n"
         "      - destination: 198.51.100.0/24\n        next-hop-interface: ens20\n", &d, 1);
    assert_true(has_error(&d, "listed twice"));
    desired_free(&d);
    load("      - next-hop-interface: ens19\n", &d, 1); /* present without destination */
    assert_true(has_error(&d, "destination is required"));
    desired_free(&d);
}

/* ---- planner ---- */

static void test_plan_add_then_converged(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns node;
    struct inventory inv = {0};
    struct plan p;
    load("      - destination: 198.51.100.0/24\n        next-hop-interface: ens19\n"
         "        next-hop-address: 192.0.2.2\n        metric: 150\n"
         "      - destination: 10.66.0.0/16\n        route-type: blackhole\n        table-id: 100\n",
         &d, 0);
    node_init(&node);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 2);
    assert_int_equal(count_ops(&p, OP_ROUTE_ADD), 2);
    assert_int_equal(status(&p)->cond, COND_PROGRESSING);
    plan_free(&p);
    /* as the kernel shows them after apply (IPv4 blackhole: no device) */
    add_route(&node, "198.51.100.0/24", "192.0.2.2", 2, 254, 150, RTN_UNICAST);
    add_route(&node, "10.66.0.0/16", NULL, 0, 100, 0, RTN_BLACKHOLE);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 0);
    assert_int_equal(status(&p)->cond, COND_AVAILABLE);
    plan_free(&p);
    /* a different metric is another route: planned again */
    node.routes[1].priority = 151;
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(count_ops(&p, OP_ROUTE_ADD), 1);
    plan_free(&p);
    live_ns_free(&node);
    desired_free(&d);
}

static void test_plan_absent_wildcard(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns node;
    struct inventory inv = {0};
    struct plan p;
    node_init(&node);
    add_route(&node, "10.70.0.0/16", "192.0.2.2", 2, 254, 0, RTN_UNICAST);  /* ens19 main */
    add_route(&node, "10.71.0.0/16", "192.0.2.2", 2, 100, 0, RTN_UNICAST);  /* ens19 t100 */
    add_route(&node, "10.72.0.0/16", NULL, 3, 254, 5, RTN_UNICAST);         /* ens20 */
    add_route(&node, "10.73.0.0/16", NULL, 0, 100, 0, RTN_BLACKHOLE);       /* no dev */
    add_route(&node, "203.0.113.0/24", "192.0.2.2", 2, 254, 0, RTN_UNICAST); /* wanted */
    load("      - next-hop-interface: ens19\n        state: absent\n"
         "      - destination: 203.0.113.0/24\n        next-hop-interface: ens19\n"
         "        next-hop-address: 192.0.2.2\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    /* every route via ens19 in any table but the wanted one and the kernel's */
    assert_int_equal(p.nops, 2);
    for (size_t i = 0; i < p.nops; i++) {
        char a[64];
        assert_int_equal(p.ops[i].type, OP_ROUTE_DEL);
        ipaddr_format(&p.ops[i].route.dst, true, a, sizeof(a));
        assert_true(streq(a, "10.70.0.0/16") || streq(a, "10.71.0.0/16"));
    }
    plan_free(&p);
    desired_free(&d);
    /* narrower: table 100 only; then by destination only; then by type */
    load("      - next-hop-interface: ens19\n        table-id: 100\n        state: absent\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].route.table, 100);
    assert_string_equal(p.ops[0].route.ifname, "ens19");
    plan_free(&p);
    desired_free(&d);
    load("      - destination: 10.72.0.0/16\n        state: absent\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].route.metric, 5);
    plan_free(&p);
    desired_free(&d);
    load("      - route-type: blackhole\n        state: absent\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].route.type, RTN_BLACKHOLE);
    plan_free(&p);
    desired_free(&d);
    /* a metric that nothing has matches nothing */
    load("      - next-hop-interface: ens19\n        metric: 99\n        state: absent\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 0);
    plan_free(&p);
    desired_free(&d);
    live_ns_free(&node);
}

static void test_plan_ownership_prune(void **state)
{
    (void)state;
    struct desired d, empty;
    struct live_ns node;
    struct inventory inv = {0};
    struct plan p;
    node_init(&node);
    add_route(&node, "198.51.100.0/24", "192.0.2.2", 2, 254, 0, RTN_UNICAST); /* ours */
    add_route(&node, "10.70.0.0/16", "192.0.2.2", 2, 254, 0, RTN_UNICAST);    /* foreign */
    load("      - destination: 198.51.100.0/24\n        next-hop-interface: ens19\n"
         "        next-hop-address: 192.0.2.2\n"
         "      - destination: 10.70.0.0/16\n        next-hop-interface: ens19\n"
         "        next-hop-address: 192.0.2.2\n", &d, 0);
    struct owned_route *o = ARRAY_PUSH(inv.routes, inv.nroutes);
    o->owner = xstrdup(POLICY_ID);
    o->rt = d.policies[0].routes[0];
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 0); /* converged: the foreign one is there, not re-added */
    plan_free(&p);
    /* the entry goes: only the owned route is removed */
    desired_free(&d);
    load("      - destination: 10.70.0.0/16\n        next-hop-interface: ens19\n"
         "        next-hop-address: 192.0.2.2\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].type, OP_ROUTE_DEL);
    assert_string_equal(p.ops[0].owner, POLICY_ID);
    char a[64];
    assert_string_equal(ipaddr_format(&p.ops[0].route.dst, true, a, sizeof(a)), "198.51.100.0/24");
    plan_free(&p);
    /* the policy goes: same; the foreign route stays */
    memset(&empty, 0, sizeof(empty));
    do_plan(&empty, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].type, OP_ROUTE_DEL);
    plan_free(&p);
    /* the owned route is already gone: only forgotten */
    node.nroutes = 1;
    do_plan(&empty, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].type, OP_FORGET);
    assert_int_equal(p.ops[0].route.family, AF_INET);
    plan_free(&p);
    inventory_free(&inv);
    desired_free(&d);
    live_ns_free(&node);
}

static void test_plan_pending_and_conflict(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns node;
    struct inventory inv = {0};
    struct plan p;
    node_init(&node);
    load("      - destination: 10.80.0.0/16\n        next-hop-interface: nosuch0\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 0);
    assert_int_equal(status(&p)->cond, COND_PENDING);
    assert_string_equal(status(&p)->reason, "NextHopInterfaceMissing");
    plan_free(&p);
    desired_free(&d);
    load("      - destination: 10.80.0.0/16\n        next-hop-interface: ens20\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(status(&p)->cond, COND_PENDING);
    assert_string_equal(status(&p)->reason, "NextHopInterfaceDown");
    plan_free(&p);
    desired_free(&d);
    /* the kernel keys a route by table, destination, metric */
    add_route(&node, "10.81.0.0/16", "192.0.2.9", 2, 254, 0, RTN_UNICAST);
    load("      - destination: 10.81.0.0/16\n        next-hop-interface: ens19\n"
         "        next-hop-address: 192.0.2.2\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 0);
    assert_int_equal(status(&p)->cond, COND_FAILING);
    assert_string_equal(status(&p)->reason, "RouteConflict");
    plan_free(&p);
    desired_free(&d);
    live_ns_free(&node);
}

/* ---- journal ---- */

static void test_journal_routes(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns before, after;
    struct inventory inv = {0};
    load("      - destination: 2001:db8:99::/64\n        next-hop-interface: ens19\n"
         "        next-hop-address: 2001:db8:1::2\n        table-id: 100\n"
         "        source: 2001:db8:1::1\n", &d, 0);
    struct op op = {.type = OP_ROUTE_ADD, .owner = xstrdup(POLICY_ID), .stp = -1};
    op.route = d.policies[0].routes[0];
    snprintf(op.ifname, sizeof(op.ifname), "ens19");
    char *js = op_to_json(&op);
    struct op back;
    assert_int_equal(op_from_json(js, &back), 0);
    assert_int_equal(back.type, OP_ROUTE_ADD);
    assert_true(route_spec_equal(&back.route, &op.route));
    assert_true(back.route.has_src);
    op_clear(&back);
    free(js);
    assert_int_equal(op_from_json("{\"type\":\"route-add\",\"owner\":\"x\",\"ifname\":\"\"}",
                                  &back), -EINVAL);

    node_init(&before);
    struct op inv_op;
    assert_int_equal(op_inverse(&op, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_ROUTE_DEL);
    assert_true(route_spec_equal(&inv_op.route, &op.route));
    op_clear(&inv_op);

    /* verification names the route */
    char *msg = NULL;
    assert_false(op_verify(&op, &before, &msg));
    assert_non_null(strstr(msg, "2001:db8:99::/64"));
    assert_non_null(strstr(msg, "table-id 100"));
    free(msg);
    node_init(&after);
    struct live_route *lr = add_route(&after, "2001:db8:99::/64", "2001:db8:1::2", 2, 100, 1024,
                                      RTN_UNICAST);
    assert_int_equal(ipaddr_parse("2001:db8:1::1", -1, &lr->src), 0);
    lr->has_src = true;
    msg = NULL;
    assert_true(op_verify(&op, &after, &msg));
    /* already there before: nothing to undo */
    assert_int_equal(op_inverse(&op, &after, &inv, &inv_op), -ENOENT);

    /* deleting a foreign route: the undo puts it back without owning it */
    struct op del = {.type = OP_ROUTE_DEL, .owner = xstrdup(POLICY_ID), .stp = -1};
    route_from_live(lr, &after, &del.route);
    assert_int_equal(op_inverse(&del, &after, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_ROUTE_ADD);
    assert_true(inv_op.forget);
    op_clear(&inv_op);
    /* an owned one is owned again */
    struct owned_route *o = ARRAY_PUSH(inv.routes, inv.nroutes);
    o->owner = xstrdup(POLICY_ID);
    o->rt = del.route;
    assert_int_equal(op_inverse(&del, &after, &inv, &inv_op), 0);
    assert_false(inv_op.forget);
    op_clear(&inv_op);
    op_clear(&del);
    op_clear(&op);
    inventory_free(&inv);
    live_ns_free(&before);
    live_ns_free(&after);
    desired_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_normalizes),
        cmocka_unit_test(test_validate_errors),
        cmocka_unit_test(test_plan_add_then_converged),
        cmocka_unit_test(test_plan_absent_wildcard),
        cmocka_unit_test(test_plan_ownership_prune),
        cmocka_unit_test(test_plan_pending_and_conflict),
        cmocka_unit_test(test_journal_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
