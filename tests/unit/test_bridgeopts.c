/* test_bridgeopts.c - nmstate linux-bridge options, bridge port options and
 * port VLANs: validation (units, ranges, file:line:col), the planner (merge
 * into what exists, "plan after apply is empty", port VLANs on a kernel
 * with VLAN filtering, prune to the before-image), the journal (JSON round
 * trip, inverses, read-back) and the netlink attribute codecs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "journal.h"
#include "plan.h"

#define POLICY_HEAD                                                                         \
    "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"                    \
    "metadata:\n  name: pol\nspec:\n  desiredState:\n    interfaces:\n"                    \
    "    - name: br-1\n      type: linux-bridge\n      state: up\n      bridge:\n"

static const char *opts_yaml = POLICY_HEAD
    "        options:\n"
    "          stp:\n            enabled: true\n            forward-delay: 10\n"
    "            hello-time: 3\n            max-age: 25\n            priority: 4096\n"
    "          mac-ageing-time: 120\n          multicast-snooping: false\n"
    "          group-forward-mask: 8\n          hash-max: 8192\n"
    "          multicast-router: enabled\n"
    "        port:\n        - name: ens19\n          stp-hairpin-mode: true\n"
    "          stp-path-cost: 150\n          stp-priority: 20\n";

static const char *vlan_yaml = POLICY_HEAD
    "        options:\n          vlan-protocol: 802.1ad\n          vlan-default-pvid: 1\n"
    "        port:\n"
    "        - name: ens19\n          vlan:\n            mode: access\n            tag: 100\n"
    "        - name: ens20\n          vlan:\n            mode: trunk\n"
    "            enable-native: true\n            tag: 10\n            trunk-tags:\n"
    "            - id: 101\n            - id-range:\n                min: 200\n"
    "                max: 299\n";

struct world {
    struct desired d;
    struct live_ns node;
    struct inventory inv;
    struct plan p;
    int next;
};

static struct live_link *add_link(struct world *w, const char *name, const char *kind)
{
    struct live_link *l = ARRAY_PUSH(w->node.links, w->node.nlinks);
    l->ifindex = ++w->next;
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(l->kind, sizeof(l->kind), "%s", kind);
    l->flags = IFF_UP;
    l->mtu = 1500;
    l->stp = streq(kind, "bridge") ? 0 : -1;
    l->vlan_filtering = streq(kind, "bridge") ? 0 : -1;
    l->brport_hairpin = l->brport_isolated = -1;
    if (streq(kind, "bridge")) { /* the kernel's defaults, as it reports them */
        struct bropts *o = &l->bropts;
        BROPT_SET(o, BROPT_FORWARD_DELAY, 1500);
        BROPT_SET(o, BROPT_HELLO_TIME, 200);
        BROPT_SET(o, BROPT_MAX_AGE, 2000);
        BROPT_SET(o, BROPT_PRIORITY, 32768);
        BROPT_SET(o, BROPT_AGEING_TIME, 30000);
        BROPT_SET(o, BROPT_MCAST_SNOOPING, 1);
        BROPT_SET(o, BROPT_GROUP_FWD_MASK, 0);
        BROPT_SET(o, BROPT_HASH_MAX, 4096);
        BROPT_SET(o, BROPT_MCAST_ROUTER, 1);
    }
    return l;
}

static struct live_link *find(struct world *w, const char *name)
{
    return (struct live_link *)live_find_link(&w->node, name);
}

static void load(struct world *w, const char *yaml, struct diags *out)
{
    struct docset docs = {0};
    struct diags diags = {0};
    desired_free(&w->d);
    load_buffer("t.yaml", yaml, strlen(yaml), &docs, &diags);
    assert_int_equal(diags_count(&diags, DIAG_ERROR), 0);
    validate_docs(&docs, &w->d);
    if (out)
        *out = w->d.diags, memset(&w->d.diags, 0, sizeof(w->d.diags));
    else
        assert_int_equal(diags_count(&w->d.diags, DIAG_ERROR), 0);
    docset_free(&docs);
    diags_clear(&diags);
}

static void world_init(struct world *w, const char *yaml, bool filtering_kernel)
{
    memset(w, 0, sizeof(*w));
    load(w, yaml, NULL);
    add_link(w, "ens19", "veth");
    add_link(w, "ens20", "veth");
    w->node.pvlans_known = filtering_kernel;
}

static void plan(struct world *w)
{
    plan_free(&w->p);
    struct plan_input in = {.desired = &w->d, .node = &w->node, .inv = &w->inv};
    assert_int_equal(plan_build(&in, &w->p), 0);
}

static void set_opts(struct live_link *l, const struct op *op)
{
    for (size_t k = 0; k < _BROPT_MAX; k++)
        if ((op->set & LS_BROPTS) && BROPT_HAS(&op->bropts, k))
            BROPT_SET(&l->bropts, k, op->bropts.v[k]);
    for (size_t k = 0; k < _BRPORT_MAX; k++)
        if ((op->set & LS_BRPORT) && BROPT_HAS(&op->brport, k))
            BROPT_SET(&l->brport, k, op->brport.v[k]);
}

/* Apply the plan to the synthetic kernel as apply.c and the kernel would
 * (a new port gets the kernel's default PVID 1 and cost 2 / priority 32). */
static void simulate(struct world *w)
{
    for (size_t i = 0; i < w->p.nops; i++) {
        struct op *op = &w->p.ops[i];
        struct live_link *l = find(w, op->ifname);
        if (op->type == OP_BRIDGE_ADD) {
            l = add_link(w, op->ifname, "bridge");
            if (op->set & LS_STP)
                l->stp = op->stp;
            if (op->set & LS_VLAN_FILTERING)
                l->vlan_filtering = op->vlan_filtering;
            set_opts(l, op);
            struct owned_link *o = ARRAY_PUSH(w->inv.links, w->inv.nlinks);
            o->owner = xstrdup(op->owner);
            snprintf(o->ifname, sizeof(o->ifname), "%s", op->ifname);
            o->created = true;
            o->before_stp = -1;
            continue;
        }
        assert_int_equal(op->type, OP_LINK_SET);
        assert_non_null(l);
        if (op->record_before) {
            struct owned_link *o = ARRAY_PUSH(w->inv.links, w->inv.nlinks);
            o->owner = xstrdup(op->owner);
            snprintf(o->ifname, sizeof(o->ifname), "%s", op->ifname);
            o->before_mtu = l->mtu;
            o->before_up = true;
            o->before_stp = l->stp;
            const struct live_link *m = live_find_ifindex(&w->node, l->master);
            snprintf(o->before_master, sizeof(o->before_master), "%s", m ? m->name : "");
            o->before_bropts = l->bropts;
            o->before_brport = l->brport;
        }
        if (op->set & LS_MASTER) {
            const struct live_link *m = live_find_link(&w->node, op->master);
            l->master = m ? m->ifindex : 0;
            brport_opts_init(&l->brport);
            if (m) {
                BROPT_SET(&l->brport, BRPORT_HAIRPIN, 0);
                BROPT_SET(&l->brport, BRPORT_COST, 2);
                BROPT_SET(&l->brport, BRPORT_PRIORITY, 32);
                *ARRAY_PUSH(w->node.pvlans, w->node.npvlans) =
                    (struct live_port_vlan){l->ifindex, {1, 1, PVLAN_PVID | PVLAN_UNTAGGED}};
            }
        }
        if (op->set & LS_STP)
            l->stp = op->stp;
        if (op->set & LS_VLAN_FILTERING)
            l->vlan_filtering = op->vlan_filtering;
        set_opts(l, op);
        if (op->set & LS_PORT_VLANS) {
            struct vlan_span *add, *del;
            size_t nadd, ndel;
            vlan_spans_diff(op->pvlan.want, op->pvlan.nwant, op->pvlan.have, op->pvlan.nhave,
                            op->pvlan.have_known, op->pvlan.default_pvid, &add, &nadd, &del,
                            &ndel);
            for (size_t j = 0; j < w->node.npvlans;) /* the result: exactly want */
                if (w->node.pvlans[j].ifindex == l->ifindex)
                    w->node.pvlans[j] = w->node.pvlans[--w->node.npvlans];
                else
                    j++;
            for (size_t j = 0; j < op->pvlan.nwant; j++)
                *ARRAY_PUSH(w->node.pvlans, w->node.npvlans) =
                    (struct live_port_vlan){l->ifindex, op->pvlan.want[j]};
            free(add);
            free(del);
        }
    }
    w->node.gen++;
}

static void world_free(struct world *w)
{
    plan_free(&w->p);
    desired_free(&w->d);
    live_ns_free(&w->node);
    inventory_free(&w->inv);
}

static const struct op *op_for(const struct world *w, const char *ifname, unsigned bit)
{
    for (size_t i = 0; i < w->p.nops; i++)
        if (streq(w->p.ops[i].ifname, ifname) && (w->p.ops[i].set & bit))
            return &w->p.ops[i];
    return NULL;
}

/* ---- validation ---- */

static void test_units_and_keys(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, opts_yaml, false);
    const struct iface *f = &w.d.policies[0].ifaces[0];
    const struct bropts *o = &f->bropts;
    assert_int_equal(f->stp, 1);
    assert_int_equal(o->v[BROPT_FORWARD_DELAY], 1000); /* seconds -> centiseconds */
    assert_int_equal(o->v[BROPT_HELLO_TIME], 300);
    assert_int_equal(o->v[BROPT_MAX_AGE], 2500);
    assert_int_equal(o->v[BROPT_PRIORITY], 4096);
    assert_int_equal(o->v[BROPT_AGEING_TIME], 12000);
    assert_int_equal(o->v[BROPT_MCAST_SNOOPING], 0);
    assert_int_equal(o->v[BROPT_GROUP_FWD_MASK], 8);
    assert_int_equal(o->v[BROPT_HASH_MAX], 8192);
    assert_int_equal(o->v[BROPT_MCAST_ROUTER], 2);
    assert_false(BROPT_HAS(o, BROPT_VLAN_PROTOCOL));
    assert_false(BROPT_HAS(o, BROPT_VLAN_DEFAULT_PVID));
    const struct brport_conf *pc = &f->port_conf[0];
    assert_int_equal(pc->opts.v[BRPORT_HAIRPIN], 1);
    assert_int_equal(pc->opts.v[BRPORT_COST], 150);
    assert_int_equal(pc->opts.v[BRPORT_PRIORITY], 20);
    assert_int_equal(pc->vlan_mode, PORT_VLAN_NONE); /* no default trunk injected */
    world_free(&w);

    world_init(&w, vlan_yaml, true);
    f = &w.d.policies[0].ifaces[0];
    assert_int_equal(f->bropts.v[BROPT_VLAN_PROTOCOL], ETH_P_8021AD);
    assert_int_equal(f->bropts.v[BROPT_VLAN_DEFAULT_PVID], 1);
    struct vlan_span *v;
    size_t n = brport_conf_spans(&f->port_conf[1], &v);
    assert_int_equal(n, 3);
    assert_true(v[0].min == 10 && v[0].max == 10 && v[0].flags == (PVLAN_PVID | PVLAN_UNTAGGED));
    assert_true(v[1].min == 101 && v[1].max == 101 && v[1].flags == 0);
    assert_true(v[2].min == 200 && v[2].max == 299 && v[2].flags == 0);
    free(v);
    world_free(&w);
}

static void expect_error(const char *options_and_ports, const char *needle, unsigned line)
{
    struct world w = {0};
    _cleanup_free_ char *y = xasprintf("%s%s", POLICY_HEAD, options_and_ports);
    struct diags d = {0};
    load(&w, y, &d);
    bool found = false;
    for (size_t i = 0; i < d.n; i++)
        if (d.v[i].severity == DIAG_ERROR && strstr(d.v[i].msg, needle) && d.v[i].line == line)
            found = true;
    if (!found)
        fail_msg("no error containing '%s' at line %u", needle, line);
    diags_clear(&d);
    world_free(&w);
}

static void test_bad_values(void **state)
{
    (void)state;
    /* POLICY_HEAD ends on line 11: the options start on line 12 */
    expect_error("        options:\n          stp:\n            enabled: true\n"
                 "            forward-delay: 1\n",
                 "stp.forward-delay: 1 is out of range 2-30", 15);
    expect_error("        options:\n          stp:\n            hello-time: 0\n",
                 "hello-time: 0 is out of range 1-10", 14);
    expect_error("        options:\n          group-forward-mask: 4\n",
                 "sets bits 0-2", 13);
    expect_error("        port:\n        - name: ens19\n          vlan:\n            mode: trunk\n",
                 "trunk-tags must be a non-empty list", 15);
    expect_error("        port:\n        - name: ens19\n          vlan:\n            mode: access\n"
                 "            tag: 5\n            trunk-tags:\n            - id: 6\n",
                 "trunk-tags is only for mode trunk", 18);
    expect_error("        port:\n        - name: ens19\n          vlan:\n            mode: trunk\n"
                 "            tag: 5\n            trunk-tags:\n            - id: 6\n",
                 "needs enable-native: true", 16);
    expect_error("        options:\n          group-forward-mask: 8\n          group-fwd-mask: 16\n",
                 "group-fwd-mask and group-forward-mask differ", 14);
    /* without STP any forward delay is the kernel's to take */
    struct world w = {0};
    load(&w, POLICY_HEAD "        options:\n          stp:\n            forward-delay: 0\n", NULL);
    assert_int_equal(w.d.policies[0].ifaces[0].bropts.v[BROPT_FORWARD_DELAY], 0);
    world_free(&w);
}

/* ---- planner ---- */

static void test_new_bridge_then_empty(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, opts_yaml, false);
    plan(&w);
    const struct op *add = op_for(&w, "br-1", LS_BROPTS);
    assert_non_null(add);
    assert_int_equal(add->type, OP_BRIDGE_ADD);
    assert_int_equal(add->bropts.v[BROPT_FORWARD_DELAY], 1000);
    assert_false(add->set & LS_VLAN_FILTERING);
    const struct op *port = op_for(&w, "ens19", LS_BRPORT);
    assert_non_null(port);
    assert_false(port->set & LS_MASTER); /* after the join, in its own op */
    assert_false(port->record_before);   /* the join recorded the before-image */
    assert_int_equal(port->brport.v[BRPORT_COST], 150);
    _cleanup_free_ char *d = op_describe(port);
    assert_non_null(strstr(d, "hairpin=1 cost=150 priority=20"));
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);

    /* drift of one option: one op with only that value */
    find(&w, "br-1")->bropts.v[BROPT_AGEING_TIME] = 500;
    find(&w, "ens19")->brport.v[BRPORT_PRIORITY] = 1;
    plan(&w);
    assert_int_equal(w.p.nops, 2);
    const struct op *b = op_for(&w, "br-1", LS_BROPTS);
    assert_non_null(b);
    assert_int_equal(b->bropts.set, 1u << BROPT_AGEING_TIME);
    assert_int_equal(op_for(&w, "ens19", LS_BRPORT)->brport.set, 1u << BRPORT_PRIORITY);
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);

    /* an STP topology change makes the reported ageing time transient */
    struct live_link *br = find(&w, "br-1");
    br->bropts.set &= ~(1u << BROPT_AGEING_TIME);
    br->bropts.transient |= 1u << BROPT_AGEING_TIME;
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    world_free(&w);
}

static void test_adopt_merge_and_prune(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, POLICY_HEAD "        options:\n          stp:\n            priority: 8192\n"
                               "        port:\n        - name: ens19\n"
                               "          stp-path-cost: 77\n", false);
    struct live_link *br = add_link(&w, "br-1", "bridge"); /* there already, not ours */
    br->bropts.v[BROPT_HELLO_TIME] = 400;
    struct live_link *p = find(&w, "ens19");
    p->master = br->ifindex;
    BROPT_SET(&p->brport, BRPORT_COST, 33);
    BROPT_SET(&p->brport, BRPORT_PRIORITY, 32);
    plan(&w);
    assert_int_equal(w.p.nops, 2);
    const struct op *b = op_for(&w, "br-1", LS_BROPTS);
    assert_int_equal(b->bropts.set, 1u << BROPT_PRIORITY); /* merged: only what is given */
    assert_true(b->record_before);
    const struct op *po = op_for(&w, "ens19", LS_BRPORT);
    assert_int_equal(po->brport.set, 1u << BRPORT_COST);
    assert_true(po->record_before);

    /* the journal's inverse puts the old values back */
    struct op inv;
    assert_int_equal(op_inverse(b, &w.node, &w.inv, &inv), 0);
    assert_true(inv.set & LS_BROPTS);
    assert_int_equal(inv.bropts.set, 1u << BROPT_PRIORITY);
    assert_int_equal(inv.bropts.v[BROPT_PRIORITY], 32768);
    op_clear(&inv);
    assert_int_equal(op_inverse(po, &w.node, &w.inv, &inv), 0);
    assert_int_equal(inv.brport.set, 1u << BRPORT_COST);
    assert_int_equal(inv.brport.v[BRPORT_COST], 33);
    op_clear(&inv);

    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);

    /* the policy goes: the before-image comes back, the links stay */
    load(&w, "apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n", NULL);
    plan(&w);
    const struct op *rb = op_for(&w, "br-1", LS_BROPTS);
    assert_non_null(rb);
    assert_true(rb->forget);
    assert_int_equal(rb->bropts.set, 1u << BROPT_PRIORITY);
    assert_int_equal(rb->bropts.v[BROPT_PRIORITY], 32768);
    const struct op *rp = op_for(&w, "ens19", LS_BRPORT);
    assert_non_null(rp);
    assert_int_equal(rp->brport.v[BRPORT_COST], 33);
    for (size_t i = 0; i < w.p.nops; i++)
        assert_int_not_equal(w.p.ops[i].type, OP_LINK_DEL);
    world_free(&w);
}

static void test_port_vlans(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, vlan_yaml, true);
    plan(&w);
    const struct op *add = op_for(&w, "br-1", LS_VLAN_FILTERING);
    assert_non_null(add);
    assert_int_equal(add->type, OP_BRIDGE_ADD);
    assert_int_equal(add->vlan_filtering, 1);
    assert_int_equal(add->bropts.v[BROPT_VLAN_PROTOCOL], ETH_P_8021AD);
    const struct op *a = op_for(&w, "ens19", LS_PORT_VLANS);
    assert_non_null(a);
    assert_false(a->pvlan.have_known); /* its bridge did not filter yet */
    assert_int_equal(a->pvlan.default_pvid, 1);
    assert_int_equal(a->pvlan.nwant, 1);
    _cleanup_free_ char *d = op_describe(a);
    assert_non_null(strstr(d, "vlans=100pu"));
    const struct op *t = op_for(&w, "ens20", LS_PORT_VLANS);
    _cleanup_free_ char *d2 = op_describe(t);
    assert_non_null(strstr(d2, "vlans=10pu,101,200-299"));

    /* what apply sends: the default PVID goes, the wanted VLANs come */
    struct vlan_span *va, *vd;
    size_t na, nd;
    vlan_spans_diff(a->pvlan.want, a->pvlan.nwant, NULL, 0, false, 1, &va, &na, &vd, &nd);
    assert_int_equal(na, 1);
    assert_int_equal(va[0].min, 100);
    assert_int_equal(nd, 1);
    assert_int_equal(vd[0].min, 1);
    free(va);
    free(vd);

    /* the journal keeps them; the inverse goes back to the default PVID */
    _cleanup_free_ char *js = op_to_json(a);
    struct op back;
    assert_int_equal(op_from_json(js, &back), 0);
    assert_true(vlan_spans_equal(back.pvlan.want, back.pvlan.nwant, a->pvlan.want, a->pvlan.nwant));
    assert_false(back.pvlan.have_known);
    op_clear(&back);
    struct op inv;
    assert_int_equal(op_inverse(a, &w.node, &w.inv, &inv), 0);
    assert_true(inv.set & LS_PORT_VLANS);
    assert_int_equal(inv.pvlan.nwant, 1);
    assert_int_equal(inv.pvlan.want[0].min, 1);
    assert_true(inv.pvlan.have_known);
    op_clear(&inv);

    simulate(&w);
    plan(&w);
    /* vlan-protocol and the VLANs read back: nothing left to do */
    assert_int_equal(w.p.nops, 0);
    char *msg = NULL;
    world_free(&w);

    /* a trunk changed by hand: the VLANs of that port only */
    world_init(&w, vlan_yaml, true);
    plan(&w);
    simulate(&w);
    struct live_link *p20 = find(&w, "ens20");
    *ARRAY_PUSH(w.node.pvlans, w.node.npvlans) = (struct live_port_vlan){p20->ifindex, {555, 555, 0}};
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    const struct op *fix = op_for(&w, "ens20", LS_PORT_VLANS);
    assert_non_null(fix);
    assert_true(fix->pvlan.have_known);
    vlan_spans_diff(fix->pvlan.want, fix->pvlan.nwant, fix->pvlan.have, fix->pvlan.nhave, true, 1,
                    &va, &na, &vd, &nd);
    assert_int_equal(na, 0);
    assert_int_equal(nd, 1);
    assert_int_equal(vd[0].min, 555);
    free(va);
    free(vd);
    /* read-back after the write names the port */
    assert_false(op_verify(fix, &w.node, &msg));
    assert_non_null(strstr(msg, "ens20.bridge.port.vlan"));
    free(msg);
    world_free(&w);
}

static void test_forward_delay_with_running_stp(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, POLICY_HEAD "        options:\n          stp:\n            forward-delay: 0\n",
               false);
    add_link(&w, "br-1", "bridge")->stp = 1; /* STP runs and the policy leaves it on */
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    assert_int_equal(w.p.status[0].cond, COND_FAILING);
    assert_string_equal(w.p.status[0].reason, "InvalidConfiguration");
    assert_non_null(strstr(w.p.status[0].message, "forward-delay must be 2-30 while STP runs"));
    world_free(&w);
}

static void test_vlan_options_unreported(void **state)
{
    (void)state;
    /* A kernel without bridge VLAN filtering reports no vlan-protocol: the
     * read-back fails naming it, instead of a silent pass. */
    struct world w;
    world_init(&w, POLICY_HEAD "        options:\n          vlan-protocol: 802.1q\n", false);
    add_link(&w, "br-1", "bridge");
    plan(&w);
    const struct op *b = op_for(&w, "br-1", LS_BROPTS);
    assert_non_null(b);
    char *msg = NULL;
    assert_false(op_verify(b, &w.node, &msg));
    assert_non_null(strstr(msg, "vlan-protocol: desired 802.1q, current not reported"));
    assert_non_null(strstr(msg, "lacks bridge VLAN filtering"));
    free(msg);
    world_free(&w);
}

/* ---- codecs ---- */

static void test_netlink_codecs(void **state)
{
    (void)state;
    struct bropts o = {0}, back;
    BROPT_SET(&o, BROPT_FORWARD_DELAY, 1000);
    BROPT_SET(&o, BROPT_PRIORITY, 4096);
    BROPT_SET(&o, BROPT_MCAST_SNOOPING, 0);
    BROPT_SET(&o, BROPT_VLAN_PROTOCOL, ETH_P_8021AD);
    struct nl_msg *m = nlmsg_alloc();
    struct nlattr *nest = nla_nest_start(m, IFLA_INFO_DATA);
    assert_int_equal(bropts_put(m, &o), 0);
    nla_nest_end(m, nest);
    bropts_from_nl(nest, &back);
    assert_int_equal(back.set, o.set);
    for (size_t k = 0; k < _BROPT_MAX; k++)
        if (BROPT_HAS(&o, k))
            assert_int_equal(back.v[k], o.v[k]);
    /* the protocol is big-endian on the wire */
    struct nlattr *tb[IFLA_BR_MAX + 1];
    nla_parse_nested(tb, IFLA_BR_MAX, nest, NULL);
    assert_int_equal(nla_get_u16(tb[IFLA_BR_VLAN_PROTOCOL]), htons(ETH_P_8021AD));
    nlmsg_free(m);

    /* port VLANs as the kernel dumps them (compressed ranges) */
    m = nlmsg_alloc();
    nest = nla_nest_start(m, IFLA_AF_SPEC);
    struct bridge_vlan_info vi[] = {
        {BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 10},
        {BRIDGE_VLAN_INFO_RANGE_BEGIN, 200},
        {BRIDGE_VLAN_INFO_RANGE_END, 299},
        {0, 101},
    };
    for (size_t i = 0; i < 4; i++)
        nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(vi[i]), &vi[i]);
    nla_nest_end(m, nest);
    struct vlan_span *v;
    size_t n = vlan_spans_from_afspec(nest, &v);
    assert_int_equal(n, 3);
    assert_true(v[0].min == 10 && v[0].flags == (PVLAN_PVID | PVLAN_UNTAGGED));
    assert_true(v[1].min == 101 && v[1].max == 101);
    assert_true(v[2].min == 200 && v[2].max == 299 && v[2].flags == 0);
    /* show: a trunk with its native VLAN */
    json_t *port = json_object();
    struct brport_opts po = {0};
    BROPT_SET(&po, BRPORT_COST, 7);
    brport_show(port, &po, v, n);
    _cleanup_free_ char *s = json_dumps(port, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"stp-path-cost\":7,\"vlan\":{\"enable-native\":true,\"mode\":\"trunk\","
                           "\"tag\":10,\"trunk-tags\":[{\"id\":101},{\"id-range\":{\"max\":299,"
                           "\"min\":200}}]}}");
    json_decref(port);
    free(v);
    nlmsg_free(m);

    /* show of the options: nmstate units and names */
    json_t *opts = json_pack("{s:{s:b}}", "stp", "enabled", 1);
    struct bropts lo = {0};
    BROPT_SET(&lo, BROPT_FORWARD_DELAY, 1500);
    BROPT_SET(&lo, BROPT_AGEING_TIME, 30000);
    BROPT_SET(&lo, BROPT_MCAST_ROUTER, 0);
    BROPT_SET(&lo, BROPT_MCAST_SNOOPING, 1);
    bropts_show(opts, &lo);
    _cleanup_free_ char *so = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(so, "{\"mac-ageing-time\":300,\"multicast-router\":\"disabled\","
                            "\"multicast-snooping\":true,\"stp\":{\"enabled\":true,"
                            "\"forward-delay\":15}}");
    json_decref(opts);
}

/* A port VLAN event (AF_BRIDGE RTM_NEWLINK with IFLA_AF_SPEC), as the
 * kernel sends one when a port's VLANs change. */
static struct nl_msg *brvlan_event(int type, int ifindex, int master, const struct bridge_vlan_info *vi,
                                   size_t n)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, 0);
    struct ifinfomsg ifi = {.ifi_family = AF_BRIDGE, .ifi_index = ifindex};
    nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
    nla_put_u32(m, IFLA_MASTER, (uint32_t)master);
    if (n) {
        struct nlattr *spec = nla_nest_start(m, IFLA_AF_SPEC);
        for (size_t i = 0; i < n; i++)
            nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(vi[i]), &vi[i]);
        nla_nest_end(m, spec);
    }
    return m;
}

static void test_live_vlan_events(void **state)
{
    (void)state;
    struct live_ns l = {.pvlans_known = true};
    struct bridge_vlan_info a[] = {{BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 1}},
                            b[] = {{BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 100},
                                   {0, 7}};
    struct nl_msg *m = brvlan_event(RTM_NEWLINK, 5, 3, a, 1);
    assert_true(live_apply_event(&l, nlmsg_hdr(m)));
    nlmsg_free(m);
    m = brvlan_event(RTM_NEWLINK, 5, 3, b, 2); /* replaces what port 5 had */
    assert_true(live_apply_event(&l, nlmsg_hdr(m)));
    nlmsg_free(m);
    struct vlan_span *v;
    size_t n = live_port_vlans(&l, 5, &v);
    assert_int_equal(n, 2);
    assert_true(v[0].min == 7 && v[0].flags == 0);
    assert_true(v[1].min == 100 && v[1].flags == (PVLAN_PVID | PVLAN_UNTAGGED));
    free(v);
    m = brvlan_event(RTM_DELLINK, 5, 3, NULL, 0); /* the port left its bridge */
    assert_true(live_apply_event(&l, nlmsg_hdr(m)));
    nlmsg_free(m);
    assert_int_equal(live_port_vlans(&l, 5, &v), 0);
    free(v);
    assert_true(l.pvlans_known);
    live_ns_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_and_keys),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_new_bridge_then_empty),
        cmocka_unit_test(test_adopt_merge_and_prune),
        cmocka_unit_test(test_port_vlans),
        cmocka_unit_test(test_forward_delay_with_running_stp),
        cmocka_unit_test(test_vlan_options_unreported),
        cmocka_unit_test(test_netlink_codecs),
        cmocka_unit_test(test_live_vlan_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
