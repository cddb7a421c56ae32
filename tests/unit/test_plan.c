/* test_plan.c - the planner, pure: desired + a synthetic kernel snapshot +
 * inventory -> ops and conditions. Includes "plan after apply is empty":
 * the ops of a plan are simulated on the snapshot and the plan re-built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Timing bounds are for an optimised build (ASan copies on every realloc). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif
#include <arpa/inet.h>
#include <net/if.h>
#include <time.h>

#include "ipam.h"
#include "plan.h"
#include "store.h"

static const char *policy_yaml =
    "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
    "metadata:\n  name: pol\nspec:\n  nodeSelector:\n    role: bridge\n"
    "  desiredState:\n    interfaces:\n    - name: br-1\n      type: linux-bridge\n"
    "      state: up\n      bridge:\n        options:\n          stp:\n            enabled: false\n"
    "        port:\n        - name: ens19\n";
static const char *nad_yaml =
    "---\napiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\n"
    "metadata:\n  name: net\nspec:\n  config: '{\"type\":\"bridge\",\"bridge\":\"br-1\","
    "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"192.168.255.0/24\","
    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"192.168.255.254\"}]}}'\n";

struct world {
    struct desired d;
    struct live_ns node;
    struct live_ns pods[4];
    const struct live_ns *podptr[4];
    struct inventory inv;
    struct label labels[1];
    int next_ifindex;
    struct plan p;
    char **keep;
    size_t nkeep;
    int ip_forward, ip6_forward; /* FWD_* as reconcile reads them */
};

static void add_link(struct live_ns *ns, int *ifx, const char *name, const char *kind, int master,
                     bool up)
{
    struct live_link *l = ARRAY_PUSH(ns->links, ns->nlinks);
    l->ifindex = ++*ifx;
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(l->kind, sizeof(l->kind), "%s", kind);
    l->master = master;
    l->flags = up ? IFF_UP : 0;
    l->mtu = 1500;
    l->stp = streq(kind, "bridge") ? 0 : -1;
}

static struct live_link *find(struct live_ns *ns, const char *name)
{
    return (struct live_link *)live_find_link(ns, name);
}

/* Remove route i of ns (order is not kept). */
static void drop_route(struct live_ns *ns, size_t i)
{
    ns->routes[i] = ns->routes[--ns->nroutes];
}

static void world_init(struct world *w, const char *yaml, bool labelled)
{
    memset(w, 0, sizeof(*w));
    struct docset docs = {0};
    struct diags diags = {0};
    load_buffer("t.yaml", yaml, strlen(yaml), &docs, &diags);
    assert_int_equal(diags_count(&diags, DIAG_ERROR), 0);
    validate_docs(&docs, &w->d);
    assert_int_equal(diags_count(&w->d.diags, DIAG_ERROR), 0);
    docset_free(&docs);
    diags_clear(&diags);
    w->next_ifindex = 1;
    add_link(&w->node, &w->next_ifindex, "ens19", "veth", 0, false);
    w->labels[0] = (struct label){"role", labelled ? "bridge" : "other"};
    for (size_t i = 0; i < w->d.npods && i < 4; i++)
        w->podptr[i] = &w->pods[i];
}

/* The desired state changes (a file edited or removed): validate anew,
 * keeping the kernel snapshot and the inventory. */
static void reload(struct world *w, const char *yaml)
{
    struct docset docs = {0};
    struct diags diags = {0};
    desired_free(&w->d);
    load_buffer("t.yaml", yaml, strlen(yaml), &docs, &diags);
    validate_docs(&docs, &w->d);
    docset_free(&docs);
    diags_clear(&diags);
}

static void plan(struct world *w)
{
    plan_free(&w->p);
    struct plan_input in = {.desired = &w->d, .node_labels = w->labels, .nnode_labels = 1,
                            .node = &w->node, .pod_live = w->podptr, .inv = &w->inv,
                            .keep_owners = w->keep, .nkeep_owners = w->nkeep,
                            .ip_forward = w->ip_forward, .ip6_forward = w->ip6_forward};
    assert_int_equal(plan_build(&in, &w->p), 0);
}

static const struct objstatus *status_of(const struct world *w, const char *id)
{
    for (size_t i = 0; i < w->p.nstatus; i++)
        if (streq(w->p.status[i].id, id))
            return &w->p.status[i];
    fail_msg("no status for %s", id);
    return NULL;
}

/* Apply the plan to the synthetic kernel and inventory, as apply.c and
 * reconcile.c would. */
static void simulate(struct world *w)
{
    for (size_t i = 0; i < w->p.nops; i++) {
        struct op *op = &w->p.ops[i];
        struct live_link *l = find(&w->node, op->ifname);
        switch (op->type) {
        case OP_BRIDGE_ADD: {
            add_link(&w->node, &w->next_ifindex, op->ifname, "bridge", 0, op->up);
            struct owned_link *o = ARRAY_PUSH(w->inv.links, w->inv.nlinks);
            o->owner = xstrdup(op->owner);
            snprintf(o->ifname, sizeof(o->ifname), "%s", op->ifname);
            o->created = true;
            o->before_stp = -1;
            break;
        }
        case OP_LINK_SET:
            assert_non_null(l);
            if (op->record_before) {
                struct owned_link *o = ARRAY_PUSH(w->inv.links, w->inv.nlinks);
                o->owner = xstrdup(op->owner);
                snprintf(o->ifname, sizeof(o->ifname), "%s", op->ifname);
                o->before_mtu = l->mtu;
                o->before_up = l->flags & IFF_UP;
                o->before_stp = -1;
            }
            if (op->set & LS_MASTER) {
                const struct live_link *m = live_find_link(&w->node, op->master);
                l->master = m ? m->ifindex : 0;
            }
            if (op->set & LS_UP)
                l->flags = op->up ? IFF_UP : 0;
            if (op->set & LS_STP)
                l->stp = op->stp;
            if (op->set & LS_PROMISC)
                l->flags = op->promisc ? (l->flags | IFF_PROMISC) : (l->flags & ~IFF_PROMISC);
            if (op->set & LS_VLAN_FILTERING)
                l->vlan_filtering = op->vlan_filtering;
            if (op->forget)
                for (size_t k = 0; k < w->inv.nlinks; k++)
                    if (streq(w->inv.links[k].ifname, op->ifname))
                        w->inv.links[k].ifname[0] = 0;
            break;
        case OP_LINK_DEL:
            assert_non_null(l);
            l->name[0] = 0;
            for (size_t k = 0; k < w->inv.nlinks; k++)
                if (streq(w->inv.links[k].ifname, op->ifname))
                    w->inv.links[k].ifname[0] = 0;
            break;
        case OP_ADDR_ADD:
        case OP_ADDR_DEL: {
            assert_non_null(l);
            if (op->type == OP_ADDR_ADD) {
                struct live_addr *a = ARRAY_PUSH(w->node.addrs, w->node.naddrs);
                a->ifindex = l->ifindex;
                a->addr = op->addr;
                struct owned_addr *o = ARRAY_PUSH(w->inv.addrs, w->inv.naddrs);
                o->owner = xstrdup(op->owner);
                snprintf(o->ifname, sizeof(o->ifname), "%s", op->ifname);
                o->addr = op->addr;
            } else {
                for (size_t k = 0; k < w->node.naddrs; k++)
                    if (w->node.addrs[k].ifindex == l->ifindex &&
                        ipaddr_equal(&w->node.addrs[k].addr, &op->addr))
                        w->node.addrs[k].ifindex = -1;
                for (size_t k = 0; k < w->inv.naddrs; k++)
                    if (streq(w->inv.addrs[k].ifname, op->ifname) &&
                        ipaddr_equal(&w->inv.addrs[k].addr, &op->addr))
                        w->inv.addrs[k].ifname[0] = 0;
            }
            break;
        }
        case OP_SYSCTL:
            if (streq(op->sysctl, SYSCTL_IP_FORWARD))
                w->ip_forward = op->value ? FWD_ON : FWD_OFF;
            else
                w->ip6_forward = op->value ? FWD_ON : FWD_OFF;
            break;
        case OP_POD_ATTACH: {
            size_t pi = 0;
            for (; pi < w->d.npods; pi++)
                if (streq(w->d.pods[pi].netns, op->pa.netns))
                    break;
            assert_true(pi < w->d.npods);
            const struct live_link *br = live_find_link(&w->node, op->pa.bridge);
            int hidx = 0;
            if (op->pa.replace) { /* the stale ends go first */
                if (find(&w->node, op->pa.host_if))
                    find(&w->node, op->pa.host_if)->name[0] = 0;
                struct live_link *old = find(&w->pods[pi], op->pa.pod_if);
                for (size_t q = w->pods[pi].nroutes; old && q-- > 0;)
                    if (w->pods[pi].routes[q].ifindex == old->ifindex)
                        drop_route(&w->pods[pi], q); /* gone with the link */
                if (old)
                    old->name[0] = 0;
            }
            /* default-route: the displaced default routes are removed */
            for (size_t k = 0; k < op->pa.nprev_defaults; k++) {
                const struct saved_route *sr = &op->pa.prev_defaults[k];
                const struct live_link *dev = find(&w->pods[pi], sr->ifname);
                for (size_t q = w->pods[pi].nroutes; q-- > 0;) {
                    struct live_route *r = &w->pods[pi].routes[q];
                    if (dev && r->ifindex == dev->ifindex && r->dst.prefix == 0 &&
                        r->dst.family == sr->rt.dst.family && r->priority == sr->metric)
                        drop_route(&w->pods[pi], q);
                }
            }
            if (op->pa.kind == ATTACH_VETH) {
                add_link(&w->node, &w->next_ifindex, op->pa.host_if, "veth", br->ifindex, true);
                hidx = w->next_ifindex;
                struct live_link *h = find(&w->node, op->pa.host_if);
                h->brport_hairpin = op->pa.hairpin;
                h->brport_isolated = op->pa.isolated;
            }
            add_link(&w->pods[pi], &w->next_ifindex, op->pa.pod_if,
                     op->pa.kind == ATTACH_VETH ? "veth" : "macvlan", 0, !op->pa.link_down);
            struct live_link *p = find(&w->pods[pi], op->pa.pod_if);
            p->link = op->pa.kind == ATTACH_VETH ? hidx : br->ifindex;
            p->macvlan_mode = op->pa.kind == ATTACH_MACVLAN
                                  ? (op->pa.macvlan_mode == CNI_MACVLAN_VEPA ? 2 : 4)
                                  : 0;
            p->has_mac = true;
            memcpy(p->mac, op->pa.has_mac ? op->pa.mac : (uint8_t[6]){2, 0, 0, 0, 0, 9}, 6);
            for (size_t k = 0; k < op->pa.naddrs && !op->pa.link_down; k++) {
                struct live_addr *a = ARRAY_PUSH(w->pods[pi].addrs, w->pods[pi].naddrs);
                a->ifindex = p->ifindex;
                a->addr = op->pa.addrs[k];
            }
            for (size_t k = 0; k < op->pa.nroutes; k++) {
                struct live_route *r = ARRAY_PUSH(w->pods[pi].routes, w->pods[pi].nroutes);
                r->ifindex = p->ifindex;
                r->table = 254;         /* main */
                r->type = 1;            /* RTN_UNICAST */
                r->dst = op->pa.routes[k].dst;
                r->has_gw = op->pa.routes[k].has_gw;
                r->gw = op->pa.routes[k].gw;
            }
            struct owned_attach *oa = NULL; /* upsert by owner and pod_if, as the store */
            for (size_t q = 0; q < w->inv.nattach && !oa; q++)
                if (streq(w->inv.attach[q].owner, op->owner) &&
                    streq(w->inv.attach[q].pod_if, op->pa.pod_if)) {
                    oa = &w->inv.attach[q];
                    free(oa->owner);
                    free(oa->network);
                    free(oa->netns);
                    free(oa->default_gw);
                    free(oa->prev_defaults);
                    memset(oa, 0, sizeof(*oa));
                }
            if (!oa)
                oa = ARRAY_PUSH(w->inv.attach, w->inv.nattach);
            oa->owner = xstrdup(op->owner);
            snprintf(oa->pod_if, sizeof(oa->pod_if), "%s", op->pa.pod_if);
            for (size_t k = 0; k < op->pa.ndefault_gw; k++)
                *ARRAY_PUSH(oa->default_gw, oa->ndefault_gw) = op->pa.default_gw[k];
            for (size_t k = 0; k < op->pa.nprev_defaults; k++)
                if (op->pa.prev_defaults[k].restore)
                    *ARRAY_PUSH(oa->prev_defaults, oa->nprev_defaults) = op->pa.prev_defaults[k];
            snprintf(oa->host_if, sizeof(oa->host_if), "%s", op->pa.host_if);
            oa->network = xstrdup(op->pa.network);
            oa->netns = xstrdup(op->pa.netns);
            memcpy(oa->mac, p->mac, 6); /* reconcile records the kernel's MAC */
            for (size_t k = 0; k < op->pa.naddrs; k++) {
                bool known = false; /* re-attached: the store keeps the row */
                for (size_t q = 0; q < w->inv.nallocs && !known; q++)
                    known = streq(w->inv.allocs[q].network, op->pa.network) &&
                            ipaddr_same_host(&w->inv.allocs[q].ip, &op->pa.addrs[k]);
                if (known)
                    continue;
                struct allocation *al = ARRAY_PUSH(w->inv.allocs, w->inv.nallocs);
                al->network = xstrdup(op->pa.network);
                al->owner = xstrdup(op->owner);
                al->ip = op->pa.addrs[k];
                snprintf(al->ifname, sizeof(al->ifname), "%s", op->pa.pod_if);
                /* the store's trigger records the reservation (005) */
                struct allocation *rv = ARRAY_PUSH(w->inv.reserved, w->inv.nreserved);
                rv->network = xstrdup(op->pa.network);
                rv->ip = op->pa.addrs[k];
            }
            break;
        }
        case OP_POD_DETACH: /* links gone, attachment and allocations released */
            if (l)
                l->name[0] = 0;
            for (size_t pi = 0; pi < w->d.npods && pi < 4; pi++) {
                if (!streq(w->d.pods[pi].netns, op->pa.netns))
                    continue;
                struct live_link *pl = find(&w->pods[pi], op->pa.pod_if);
                for (size_t q = w->pods[pi].nroutes; pl && q-- > 0;)
                    if (w->pods[pi].routes[q].ifindex == pl->ifindex)
                        drop_route(&w->pods[pi], q); /* gone with the link */
                if (pl)
                    pl->name[0] = 0;
                /* default-route: what it displaced is put back */
                for (size_t k = 0; k < op->pa.nprev_defaults; k++) {
                    const struct saved_route *sr = &op->pa.prev_defaults[k];
                    const struct live_link *dev = find(&w->pods[pi], sr->ifname);
                    if (!sr->restore || !dev)
                        continue;
                    struct live_route *r = ARRAY_PUSH(w->pods[pi].routes, w->pods[pi].nroutes);
                    r->ifindex = dev->ifindex;
                    r->dst = sr->rt.dst;
                    r->has_gw = sr->rt.has_gw;
                    r->gw = sr->rt.gw;
                    r->priority = sr->metric;
                    r->protocol = sr->protocol;
                }
            }
            for (size_t q = w->inv.nattach; q-- > 0;)
                if (streq(w->inv.attach[q].owner, op->owner) &&
                    streq(w->inv.attach[q].pod_if, op->pa.pod_if)) {
                    free(w->inv.attach[q].owner);
                    free(w->inv.attach[q].netns);
                    free(w->inv.attach[q].network);
                    free(w->inv.attach[q].addrs);
                    free(w->inv.attach[q].default_gw);
                    free(w->inv.attach[q].prev_defaults);
                    w->inv.attach[q] = w->inv.attach[--w->inv.nattach];
                }
            for (size_t q = w->inv.nallocs; q-- > 0;)
                if (streq(w->inv.allocs[q].owner, op->owner) &&
                    streq(w->inv.allocs[q].ifname, op->pa.pod_if)) {
                    free(w->inv.allocs[q].owner);
                    free(w->inv.allocs[q].network);
                    w->inv.allocs[q] = w->inv.allocs[--w->inv.nallocs];
                }
            break;
        default:
            fail_msg("unexpected op %s", op_type_to_string(op->type));
        }
    }
}

static void world_free(struct world *w)
{
    plan_free(&w->p);
    desired_free(&w->d);
    live_ns_free(&w->node);
    for (size_t i = 0; i < 4; i++)
        live_ns_free(&w->pods[i]);
    inventory_free(&w->inv);
}

static char *pod_yaml(const char *name, const char *ann)
{
    return xasprintf("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  annotations:\n"
                     "    k8s.v1.cni.cncf.io/networks: '%s'\n",
                     name, ann);
}

static void test_seed_then_empty(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *pod = pod_yaml("demo", "[{\"name\":\"net\",\"ips\":[\"192.168.255.100/24\"],"
                                                "\"mac\":\"c2:b0:57:49:47:f1\"}]");
    _cleanup_free_ char *y = xasprintf("%s%s%s", policy_yaml, nad_yaml, pod);
    world_init(&w, y, true);
    plan(&w);
    assert_int_equal(w.p.nops, 3);
    assert_int_equal(w.p.ops[0].type, OP_BRIDGE_ADD);
    assert_string_equal(w.p.ops[0].ifname, "br-1");
    assert_true(w.p.ops[0].set & LS_STP);
    assert_int_equal(w.p.ops[0].stp, 0);
    assert_int_equal(w.p.ops[1].type, OP_LINK_SET);
    assert_string_equal(w.p.ops[1].ifname, "ens19");
    assert_string_equal(w.p.ops[1].master, "br-1");
    assert_true(w.p.ops[1].record_before);
    assert_int_equal(w.p.ops[2].type, OP_POD_ATTACH);
    assert_string_equal(w.p.ops[2].pa.pod_if, "net1");
    assert_int_equal(strlen(w.p.ops[2].pa.host_if), 14);
    assert_int_equal(w.p.ops[2].pa.naddrs, 1);
    assert_int_equal(w.p.ops[2].pa.nroutes, 1);
    assert_int_equal(status_of(&w, "Pod/default/demo")->cond, COND_PROGRESSING);

    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0); /* plan after apply is empty */
    assert_int_equal(status_of(&w, "Pod/default/demo")->cond, COND_AVAILABLE);
    assert_int_equal(status_of(&w, "NodeNetworkConfigurationPolicy/pol")->cond, COND_AVAILABLE);

    /* drift: the pod's veth is deleted by hand -> re-attached, same MAC/IP */
    find(&w.node, w.inv.attach[0].host_if)->name[0] = 0;
    w.pods[0].links[0].name[0] = 0;
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_POD_ATTACH);
    assert_true(w.p.ops[0].pa.has_mac);
    assert_int_equal(w.p.ops[0].pa.mac[5], 0xf1);
    world_free(&w);
}

/* The memo of converged pods: a pod nothing changed for is answered from
 * it, with the plan a full planning gives (PLUMBD_MEMO_CHECK builds every
 * memo plan again without it and aborts on a difference); any change to
 * what a pod was planned from plans it in full again. */
/* A world converged from yaml with three pods, its snapshots numbered as
 * the daemon's are (live_ns.serial). */
static void converged_world(struct world *w, const char *yaml)
{
    world_init(w, yaml, true);
    plan(w);
    simulate(w);
    w->node.serial = 1;
    for (size_t i = 0; i < 3; i++)
        w->pods[i].serial = 10 + i;
}

/* The inventory loses owner's allocation behind the planner's back. */
static void drop_alloc(struct world *w, const char *owner)
{
    for (size_t i = 0; i < w->inv.nallocs; i++)
        if (streq(w->inv.allocs[i].owner, owner)) {
            free(w->inv.allocs[i].owner);
            free(w->inv.allocs[i].network);
            w->inv.allocs[i] = w->inv.allocs[--w->inv.nallocs];
            return;
        }
    fail_msg("no allocation of %s", owner);
}

static int memo_plan(struct world *w, struct plan_memo *m, size_t npins)
{
    static const struct pin pin = {.owner = (char *)"Pod/default/zz", .rev = "0"};
    size_t hits, entries;
    plan_free(&w->p);
    struct plan_input in = {.desired = &w->d, .node_labels = w->labels, .nnode_labels = 1,
                            .node = &w->node, .pod_live = w->podptr, .inv = &w->inv,
                            .ip_forward = w->ip_forward, .ip6_forward = w->ip6_forward,
                            .pins = &pin, .npins = npins, .memo = m};
    assert_int_equal(plan_build(&in, &w->p), 0);
    plan_memo_stats(m, &hits, &entries);
    return (int)hits;
}

static void test_converged_memo(void **state)
{
    (void)state;
    struct world w;
    setenv("PLUMBD_MEMO_CHECK", "1", 1);
    _cleanup_free_ char *a = pod_yaml("a", "net");
    _cleanup_free_ char *b = pod_yaml("b", "[{\"name\":\"net\",\"ips\":[\"192.168.255.9/24\"]}]");
    _cleanup_free_ char *c = pod_yaml("c", "net");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s%s", policy_yaml, nad_yaml, a, b, c);
    converged_world(&w, y);
    struct plan_memo *m = plan_memo_new();
    size_t hits, entries;

    assert_int_equal(memo_plan(&w, m, 0), 0); /* nothing remembered yet */
    assert_int_equal(w.p.nops, 0);
    plan_memo_stats(m, &hits, &entries);
    assert_int_equal(entries, 3);
    assert_int_equal(memo_plan(&w, m, 0), 3);
    assert_int_equal(w.p.nops, 0);
    assert_int_equal(status_of(&w, "Pod/default/b")->cond, COND_AVAILABLE);

    /* a's namespace changed: a is planned in full, the others are not */
    w.pods[0].serial = 20;
    assert_int_equal(memo_plan(&w, m, 0), 2);
    /* a's address removed by hand: re-attached, and not remembered */
    w.pods[0].naddrs = 0;
    w.pods[0].serial = 21;
    assert_int_equal(memo_plan(&w, m, 0), 2);
    assert_int_equal(w.p.nops, 1);
    assert_string_equal(w.p.ops[0].owner, "Pod/default/a");
    plan_memo_stats(m, &hits, &entries);
    assert_int_equal(entries, 2);
    simulate(&w);
    w.pods[0].serial = 22;
    assert_int_equal(memo_plan(&w, m, 0), 2);
    assert_int_equal(memo_plan(&w, m, 0), 3);

    /* b's allocation vanished from the inventory behind the memo's back:
     * the replay finds it no longer held and b is planned in full (the
     * check compares that plan with a full one) */
    drop_alloc(&w, "Pod/default/c");
    assert_int_equal(memo_plan(&w, m, 0), 2);

    /* the node changed: everything planned in full */
    w.node.serial = 2;
    assert_int_equal(memo_plan(&w, m, 0), 0);
    /* a revision pinned: no memo at all, none kept */
    assert_true(memo_plan(&w, m, 0) > 0);
    assert_int_equal(memo_plan(&w, m, 1), 0);
    plan_memo_stats(m, &hits, &entries);
    assert_int_equal(entries, 0);
    /* a NAD edited: its revision is part of every pod's inputs */
    assert_int_equal(memo_plan(&w, m, 0), 0);
    assert_true(memo_plan(&w, m, 0) > 0);
    w.d.nads[0].obj.rev[0] ^= 1;
    assert_int_equal(memo_plan(&w, m, 0), 0);
    plan_memo_free(m);
    unsetenv("PLUMBD_MEMO_CHECK");
    world_free(&w);
}

/* The quick lane: one pod planned alone against the memo of the others
 * gives the ops the full plan gives it; anything the lane cannot vouch for
 * is -EAGAIN. */
static int quick(struct world *w, struct plan_memo *m, const char *yaml, size_t nother,
                 bool is_new, struct plan *ret)
{
    struct docset docs = {0};
    struct diags diags = {0};
    struct desired d = {0};
    load_buffer("t.yaml", yaml, strlen(yaml), &docs, &diags);
    validate_docs(&docs, &d);
    assert_int_equal(d.npods, 1);
    const struct live_ns *pod = &w->pods[1];
    struct plan_input in = {.desired = &d, .node = &w->node, .pod_live = &pod, .inv = &w->inv,
                            .memo = m};
    int r = plan_build_quick(&in, nother, is_new, ret);
    desired_free(&d);
    docset_free(&docs);
    diags_clear(&diags);
    return r;
}

static void test_quick_lane(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *a = pod_yaml("a", "[{\"name\":\"net\",\"ips\":[\"192.168.255.8/24\"]}]");
    _cleanup_free_ char *b = pod_yaml("b", "[{\"name\":\"net\",\"ips\":[\"192.168.255.9/24\"]}]");
    _cleanup_free_ char *b2 = pod_yaml("b", "[{\"name\":\"net\",\"ips\":[\"192.168.255.19/24\"]}]");
    _cleanup_free_ char *b3 = pod_yaml("b", "[{\"name\":\"net\",\"ips\":[\"192.168.255.8/24\"]}]");
    _cleanup_free_ char *c = pod_yaml("c", "net");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s%s", policy_yaml, nad_yaml, a, b, c);
    _cleanup_free_ char *y2 = xasprintf("%s%s%s%s%s", policy_yaml, nad_yaml, a, b2, c);
    _cleanup_free_ char *lane2 = xasprintf("%s%s", nad_yaml, b2);
    _cleanup_free_ char *lane3 = xasprintf("%s%s", nad_yaml, b3);
    converged_world(&w, y);
    struct plan_memo *m = plan_memo_new();
    struct plan q = {0};
    assert_int_equal(memo_plan(&w, m, 0), 0);
    assert_int_equal(w.p.nops, 0);

    /* b asks for another address: the lane's op is the full plan's */
    assert_int_equal(quick(&w, m, lane2, 2, false, &q), 0);
    assert_int_equal(q.nops, 1);
    assert_int_equal(q.ops[0].type, OP_POD_ATTACH);
    assert_string_equal(q.ops[0].owner, "Pod/default/b");
    reload(&w, y2);
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    _cleanup_free_ char *lane_op = op_describe(&q.ops[0]);
    _cleanup_free_ char *full_op = op_describe(&w.p.ops[0]);
    assert_string_equal(lane_op, full_op);
    plan_free(&q);

    /* b asks for a's address: a conflict is the full pass's to report */
    assert_int_equal(quick(&w, m, lane3, 2, false, &q), -EAGAIN);
    /* the memo does not cover every other pod */
    assert_int_equal(quick(&w, m, lane2, 3, false, &q), -EAGAIN);
    /* the node changed since the memo */
    w.node.serial = 2;
    assert_int_equal(quick(&w, m, lane2, 2, false, &q), -EAGAIN);
    w.node.serial = 1;
    /* a's address no longer held behind the memo's back: the full plan
     * would take it back before b is planned */
    drop_alloc(&w, "Pod/default/a");
    assert_int_equal(quick(&w, m, lane2, 2, false, &q), -EAGAIN);
    plan_memo_free(m);
    world_free(&w);
}

static void test_host_local_next_free(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *a = pod_yaml("a", "net");
    _cleanup_free_ char *b = pod_yaml("b", "net");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s", policy_yaml, nad_yaml, a, b);
    world_init(&w, y, true);
    plan(&w);
    char buf[64];
    assert_int_equal(w.p.nops, 4);
    assert_string_equal(ipaddr_format(&w.p.ops[2].pa.addrs[0], true, buf, sizeof(buf)), "192.168.255.2/24");
    assert_string_equal(ipaddr_format(&w.p.ops[3].pa.addrs[0], true, buf, sizeof(buf)), "192.168.255.3/24");
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    /* the MAC the kernel chose is kept in the inventory by reconcile; here the
     * allocation must be stable across passes */
    assert_int_equal(w.inv.nallocs, 2);
    world_free(&w);
}

static void test_requested_ip_errors(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *a = pod_yaml("a", "[{\"name\":\"net\",\"ips\":[\"10.0.0.5/24\"]}]");
    _cleanup_free_ char *b = pod_yaml("b", "[{\"name\":\"net\",\"ips\":[\"192.168.255.7/24\"]}]");
    _cleanup_free_ char *c = pod_yaml("c", "[{\"name\":\"net\",\"ips\":[\"192.168.255.7/24\"]}]");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s%s", policy_yaml, nad_yaml, a, b, c);
    world_init(&w, y, true);
    plan(&w);
    const struct objstatus *s = status_of(&w, "Pod/default/a");
    assert_int_equal(s->cond, COND_FAILING);
    assert_non_null(strstr(s->message, "outside subnet 192.168.255.0/24"));
    s = status_of(&w, "Pod/default/c");
    assert_int_equal(s->cond, COND_FAILING);
    assert_non_null(strstr(s->message, "already allocated to Pod/default/b"));
    /* nothing half-done: only b gets an attach op */
    size_t attaches = 0;
    for (size_t i = 0; i < w.p.nops; i++)
        if (w.p.ops[i].type == OP_POD_ATTACH) {
            attaches++;
            assert_string_equal(w.p.ops[i].owner, "Pod/default/b");
        }
    assert_int_equal(attaches, 1);
    world_free(&w);
}

static void test_pending(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *a = pod_yaml("a", "net");
    _cleanup_free_ char *b = pod_yaml("b", "missing-nad");
    _cleanup_free_ char *y = xasprintf("%s%s%s", nad_yaml, a, b);
    world_init(&w, y, true);
    plan(&w);
    assert_int_equal(status_of(&w, "Pod/default/a")->cond, COND_PENDING);
    assert_string_equal(status_of(&w, "Pod/default/a")->reason, "BridgeMissing");
    assert_string_equal(status_of(&w, "Pod/default/b")->reason, "NetworkAttachmentDefinitionMissing");
    /* bridge present, netns missing */
    add_link(&w.node, &w.next_ifindex, "br-1", "bridge", 0, true);
    w.podptr[0] = NULL;
    plan(&w);
    assert_string_equal(status_of(&w, "Pod/default/a")->reason, "NetnsMissing");
    assert_int_equal(w.p.nops, 0);
    world_free(&w);
}

static void test_not_matching_and_prune(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *pod = pod_yaml("demo", "net");
    _cleanup_free_ char *y = xasprintf("%s%s%s", policy_yaml, nad_yaml, pod);
    world_init(&w, y, true);
    plan(&w);
    simulate(&w);
    /* the Node loses its label: the policy is pruned, ens19 restored first */
    w.labels[0].value = "other";
    plan(&w);
    assert_int_equal(status_of(&w, "NodeNetworkConfigurationPolicy/pol")->cond, COND_NOT_MATCHING);
    size_t restore = SIZE_MAX, del = SIZE_MAX;
    for (size_t i = 0; i < w.p.nops; i++) {
        if (w.p.ops[i].type == OP_LINK_SET && streq(w.p.ops[i].ifname, "ens19")) {
            restore = i;
            assert_true(w.p.ops[i].forget);
            assert_string_equal(w.p.ops[i].master, "");
            assert_true(w.p.ops[i].set & LS_UP);
            assert_false(w.p.ops[i].up); /* it was down before */
        }
        if (w.p.ops[i].type == OP_LINK_DEL && streq(w.p.ops[i].ifname, "br-1"))
            del = i;
    }
    assert_true(restore < del && del != SIZE_MAX);
    world_free(&w);
}

static void test_pod_removed_detaches(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *pod = pod_yaml("demo", "net");
    _cleanup_free_ char *y = xasprintf("%s%s%s", policy_yaml, nad_yaml, pod);
    world_init(&w, y, true);
    plan(&w);
    simulate(&w);
    /* drop the pod from the desired state */
    _cleanup_free_ char *y2 = xasprintf("%s%s", policy_yaml, nad_yaml);
    reload(&w, y2);
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_POD_DETACH);
    assert_string_equal(w.p.ops[0].owner, "Pod/default/demo");
    assert_string_equal(w.p.ops[0].pa.pod_if, "net1");
    world_free(&w);
}

static void test_foreign_untouched_and_conflict(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *y = xasprintf(
        "%s---\napiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
        "metadata:\n  name: zz-other\nspec:\n  desiredState:\n    interfaces:\n"
        "    - name: br-1\n      type: linux-bridge\n      mtu: 9000\n",
        policy_yaml);
    world_init(&w, y, true);
    add_link(&w.node, &w.next_ifindex, "foreign0", "bridge", 0, true);
    plan(&w);
    for (size_t i = 0; i < w.p.nops; i++)
        assert_string_not_equal(w.p.ops[i].ifname, "foreign0");
    const struct objstatus *s = status_of(&w, "NodeNetworkConfigurationPolicy/zz-other");
    assert_int_equal(s->cond, COND_FAILING);
    assert_string_equal(s->reason, "Conflict");
    assert_non_null(strstr(s->message, "NodeNetworkConfigurationPolicy/pol"));
    world_free(&w);
}

/* A policy removed with plumbd/prune: "false": nothing is deleted or
 * restored, its inventory rows are only forgotten. */
static void test_removed_without_prune(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *y = xasprintf("%s%s", policy_yaml, nad_yaml);
    world_init(&w, y, true);
    plan(&w);
    simulate(&w);
    reload(&w, nad_yaml);
    char *keep[] = {"NodeNetworkConfigurationPolicy/pol"};
    w.keep = keep;
    w.nkeep = 1;
    plan(&w);
    assert_int_equal(w.p.nops, 2); /* br-1 and ens19 rows */
    for (size_t i = 0; i < w.p.nops; i++)
        assert_int_equal(w.p.ops[i].type, OP_FORGET);
    w.keep = NULL;
    w.nkeep = 0;
    world_free(&w);
}

static void test_host_ifname(void **state)
{
    (void)state;
    char a[IFNAMSIZ_PLUMBD], b[IFNAMSIZ_PLUMBD], c[IFNAMSIZ_PLUMBD];
    plan_host_ifname("Pod/default/x", "net1", a);
    plan_host_ifname("Pod/default/x", "net1", b);
    plan_host_ifname("Pod/default/x", "net2", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(ifname_valid(a));
    assert_int_equal(strncmp(a, "pl", 2), 0);
}


/* ---- bridge plugin keys and macvlan (issue 7) ---------------------------- */

static char *nad_cfg(const char *name, const char *config)
{
    return xasprintf("---\napiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\n"
                     "metadata:\n  name: %s\nspec:\n  config: '%s'\n",
                     name, config);
}

/* A world without policies: br-1 exists (up) beside ens19. */
static void world_bridge(struct world *w, const char *yaml)
{
    world_init(w, yaml, false);
    add_link(&w->node, &w->next_ifindex, "br-1", "bridge", 0, true);
}

static size_t count_ops(const struct world *w, enum op_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < w->p.nops; i++)
        n += w->p.ops[i].type == t;
    return n;
}

static const struct op *op_of(const struct world *w, enum op_type t, size_t nth)
{
    for (size_t i = 0; i < w->p.nops; i++)
        if (w->p.ops[i].type == t && nth-- == 0)
            return &w->p.ops[i];
    fail_msg("no %s op", op_type_to_string(t));
    return NULL;
}

static void test_gateway_masq_port_flags(void **state)
{
    (void)state;
    struct world w;
    char a[64];
    _cleanup_free_ char *nad = nad_cfg(
        "gw", "{\"type\":\"bridge\",\"bridge\":\"br-1\",\"isDefaultGateway\":true,\"ipMasq\":true,"
              "\"hairpinMode\":true,\"portIsolation\":true,"
              "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.77.0.0/24\"}}");
    _cleanup_free_ char *p1 = pod_yaml("a", "gw");
    _cleanup_free_ char *p2 = pod_yaml("b", "gw");
    _cleanup_free_ char *y = xasprintf("%s%s%s", nad, p1, p2);
    world_bridge(&w, y);
    w.ip_forward = FWD_OFF;
    plan(&w);
    /* once per bridge: the gateway address and the forwarding sysctl */
    assert_int_equal(count_ops(&w, OP_ADDR_ADD), 1);
    assert_int_equal(count_ops(&w, OP_SYSCTL), 1);
    assert_int_equal(count_ops(&w, OP_POD_ATTACH), 2);
    const struct op *ad = op_of(&w, OP_ADDR_ADD, 0);
    assert_string_equal(ad->ifname, "br-1");
    assert_string_equal(ipaddr_format(&ad->addr, true, a, sizeof(a)), "10.77.0.1/24");
    assert_string_equal(ad->owner, "Pod/default/a");
    const struct op *sc = op_of(&w, OP_SYSCTL, 0);
    assert_string_equal(sc->sysctl, SYSCTL_IP_FORWARD);
    assert_int_equal(sc->value, 1);
    assert_int_equal(sc->before, 0);
    const struct op *at = op_of(&w, OP_POD_ATTACH, 0);
    assert_true(at->pa.hairpin);
    assert_true(at->pa.isolated);
    assert_false(at->pa.link_down);
    assert_int_equal(at->pa.nroutes, 1); /* isDefaultGateway */
    assert_int_equal(at->pa.routes[0].dst.prefix, 0);
    assert_string_equal(ipaddr_format(&at->pa.routes[0].gw, false, a, sizeof(a)), "10.77.0.1");
    /* the gateway is never handed out */
    assert_string_equal(ipaddr_format(&at->pa.addrs[0], true, a, sizeof(a)), "10.77.0.2/24");
    /* order: sysctl (set) and address before the attachments */
    assert_int_equal(w.p.ops[w.p.nops - 1].type, OP_POD_ATTACH);
    _cleanup_free_ char *d = op_describe(at);
    assert_non_null(strstr(d, " hairpin isolated"));

    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0); /* converged, flags and sysctl included */

    /* drift: hairpin off by hand -> the attachment is redone */
    find(&w.node, w.inv.attach[0].host_if)->brport_hairpin = 0;
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_POD_ATTACH);
    assert_true(w.p.ops[0].pa.replace);
    find(&w.node, w.inv.attach[0].host_if)->brport_hairpin = 1;
    /* drift: the gateway address removed by hand -> added again, once */
    for (size_t k = 0; k < w.node.naddrs; k++)
        w.node.addrs[k].ifindex = -1;
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_ADDR_ADD);
    world_free(&w);

    /* the pod that added the gateway goes, another still uses it: kept;
     * the last one goes: removed */
    world_bridge(&w, y);
    plan(&w);
    simulate(&w);
    _cleanup_free_ char *only_b = xasprintf("%s%s", nad, p2);
    reload(&w, only_b);
    plan(&w);
    assert_int_equal(count_ops(&w, OP_ADDR_DEL), 0);
    assert_int_equal(count_ops(&w, OP_POD_DETACH), 1);
    reload(&w, nad);
    plan(&w);
    assert_int_equal(count_ops(&w, OP_ADDR_DEL), 1);
    assert_int_equal(count_ops(&w, OP_POD_DETACH), 2);
    /* forwarding already on: no sysctl op */
    world_free(&w);
    world_bridge(&w, y);
    w.ip_forward = FWD_ON;
    plan(&w);
    assert_int_equal(count_ops(&w, OP_SYSCTL), 0);
    world_free(&w);
}

static void test_force_address(void **state)
{
    (void)state;
    struct world w;
    char a[64];
    const char *cfg = "{\"type\":\"bridge\",\"bridge\":\"br-1\",\"isGateway\":true,%s"
                      "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.66.0.0/24\"}}";
    _cleanup_free_ char *c1 = xasprintf(cfg, "");
    _cleanup_free_ char *c2 = xasprintf(cfg, "\"forceAddress\":true,");
    _cleanup_free_ char *n1 = nad_cfg("gw", c1);
    _cleanup_free_ char *n2 = nad_cfg("gw", c2);
    _cleanup_free_ char *pod = pod_yaml("a", "gw");
    _cleanup_free_ char *y1 = xasprintf("%s%s", n1, pod);
    _cleanup_free_ char *y2 = xasprintf("%s%s", n2, pod);
    world_bridge(&w, y1);
    struct live_addr *la = ARRAY_PUSH(w.node.addrs, w.node.naddrs);
    la->ifindex = find(&w.node, "br-1")->ifindex;
    ipaddr_parse("10.66.0.9/24", -1, &la->addr);
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    const struct objstatus *st = status_of(&w, "Pod/default/a");
    assert_int_equal(st->cond, COND_FAILING);
    assert_string_equal(st->reason, "GatewayAddressConflict");
    assert_non_null(strstr(st->message, "10.66.0.9/24"));
    assert_non_null(strstr(st->message, "forceAddress"));

    reload(&w, y2);
    plan(&w);
    assert_int_equal(w.p.nops, 3);
    assert_int_equal(w.p.ops[0].type, OP_ADDR_DEL); /* the other address first */
    assert_string_equal(ipaddr_format(&w.p.ops[0].addr, true, a, sizeof(a)), "10.66.0.9/24");
    assert_int_equal(w.p.ops[1].type, OP_ADDR_ADD);
    assert_string_equal(ipaddr_format(&w.p.ops[1].addr, true, a, sizeof(a)), "10.66.0.1/24");
    assert_int_equal(w.p.ops[2].type, OP_POD_ATTACH);
    assert_int_equal(w.p.ops[2].pa.nroutes, 0); /* isGateway alone: no default route */
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    world_free(&w);
}

static void test_promisc_and_down(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *nad = nad_cfg(
        "p", "{\"type\":\"bridge\",\"bridge\":\"br-1\",\"promiscMode\":true,\"enabledad\":true,"
             "\"disableContainerInterface\":true,"
             "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.5.0.0/24\","
             "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}");
    _cleanup_free_ char *pod = pod_yaml("a", "p");
    _cleanup_free_ char *y = xasprintf("%s%s", nad, pod);
    world_bridge(&w, y);
    plan(&w);
    assert_int_equal(w.p.nops, 2);
    assert_int_equal(w.p.ops[0].type, OP_LINK_SET);
    assert_string_equal(w.p.ops[0].ifname, "br-1");
    assert_int_equal(w.p.ops[0].set, LS_PROMISC);
    assert_true(w.p.ops[0].promisc);
    assert_false(w.p.ops[0].record_before); /* not a before-image: undo is the journal's */
    const struct op *at = &w.p.ops[1];
    assert_true(at->pa.link_down);
    assert_true(at->pa.dad);
    assert_int_equal(at->pa.nroutes, 0); /* no routes on a down link */
    assert_int_equal(at->pa.naddrs, 1);  /* still allocated (network-status) */
    _cleanup_free_ char *d = op_describe(&w.p.ops[0]);
    assert_non_null(strstr(d, "promisc=on"));
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    /* someone brings the pod end up: not as configured -> redone */
    find(&w.pods[0], "net1")->flags |= IFF_UP;
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_POD_ATTACH);
    world_free(&w);
}

static void test_vlan_planning(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *nad = nad_cfg(
        "v", "{\"type\":\"bridge\",\"bridge\":\"br-1\",\"vlan\":100,"
             "\"preserveDefaultVlan\":false,\"ipam\":{}}");
    _cleanup_free_ char *tr = nad_cfg(
        "t", "{\"type\":\"bridge\",\"bridge\":\"br-1\",\"vlanTrunk\":[{\"id\":42},"
             "{\"minID\":100,\"maxID\":199}],\"ipam\":{}}");
    _cleanup_free_ char *p1 = pod_yaml("a", "v");
    _cleanup_free_ char *p2 = pod_yaml("b", "t");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s", nad, tr, p1, p2);
    world_bridge(&w, y);
    find(&w.node, "br-1")->vlan_filtering = -1; /* a kernel without it */
    plan(&w);
    /* vlan_filtering on the bridge, once for both networks */
    assert_int_equal(count_ops(&w, OP_LINK_SET), 1);
    const struct op *ls = op_of(&w, OP_LINK_SET, 0);
    assert_int_equal(ls->set, LS_VLAN_FILTERING);
    assert_int_equal(ls->vlan_filtering, 1);
    const struct op *a = op_of(&w, OP_POD_ATTACH, 0);
    assert_int_equal(a->pa.vlan, 100);
    assert_true(a->pa.drop_default_vlan);
    assert_int_equal(a->pa.ntrunk, 0);
    const struct op *b = op_of(&w, OP_POD_ATTACH, 1);
    assert_int_equal(b->pa.vlan, 0);
    assert_false(b->pa.drop_default_vlan); /* preserveDefaultVlan defaults to true */
    assert_int_equal(b->pa.ntrunk, 2);
    assert_int_equal(b->pa.trunk[1].min, 100);
    assert_int_equal(b->pa.trunk[1].max, 199);
    _cleanup_free_ char *d = op_describe(b);
    assert_non_null(strstr(d, "trunk=42-42,100-199"));
    _cleanup_free_ char *d2 = op_describe(a);
    assert_non_null(strstr(d2, "vlan=100 no-default-vlan"));
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0); /* vlan_filtering read back */
    world_free(&w);
}

static void test_macvlan_plan(void **state)
{
    (void)state;
    struct world w;
    char a[64];
    _cleanup_free_ char *nad = nad_cfg(
        "mv", "{\"type\":\"macvlan\",\"master\":\"ens19\",\"mode\":\"vepa\",\"mtu\":1400,"
              "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.4.0.0/24\"}}");
    _cleanup_free_ char *pod = pod_yaml("a", "mv");
    _cleanup_free_ char *y = xasprintf("%s%s", nad, pod);
    world_init(&w, y, false);
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    const struct op *op = &w.p.ops[0];
    assert_int_equal(op->type, OP_POD_ATTACH);
    assert_int_equal(op->pa.kind, ATTACH_MACVLAN);
    assert_string_equal(op->pa.bridge, "ens19"); /* the master */
    assert_int_equal(op->pa.macvlan_mode, CNI_MACVLAN_VEPA);
    assert_int_equal(op->pa.mtu, 1400);
    assert_int_equal(strncmp(op->pa.host_if, "pm", 2), 0);
    assert_int_equal(attach_kind_of(op->pa.host_if), ATTACH_MACVLAN);
    assert_string_equal(ipaddr_format(&op->pa.addrs[0], true, a, sizeof(a)), "10.4.0.2/24");
    _cleanup_free_ char *d = op_describe(op);
    assert_non_null(strstr(d, "macvlan master=ens19 mode=vepa"));
    simulate(&w);
    find(&w.pods[0], "net1")->mtu = 1400;
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    /* its mode changed by hand: redone */
    find(&w.pods[0], "net1")->macvlan_mode = 4;
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_true(w.p.ops[0].pa.replace);
    /* the pod goes: a macvlan detach (no host end) */
    reload(&w, nad);
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_POD_DETACH);
    assert_int_equal(w.p.ops[0].pa.kind, ATTACH_MACVLAN);
    world_free(&w);

    /* no master named: the default route's interface; none: Pending */
    _cleanup_free_ char *nad2 = nad_cfg("mv", "{\"type\":\"macvlan\",\"ipam\":{}}");
    _cleanup_free_ char *y2 = xasprintf("%s%s", nad2, pod);
    world_init(&w, y2, false);
    plan(&w);
    assert_int_equal(status_of(&w, "Pod/default/a")->cond, COND_PENDING);
    assert_string_equal(status_of(&w, "Pod/default/a")->reason, "MasterMissing");
    struct live_route *r = ARRAY_PUSH(w.node.routes, w.node.nroutes);
    r->ifindex = find(&w.node, "ens19")->ifindex;
    r->dst.family = AF_INET;
    r->table = 254; /* main */
    r->type = 1;    /* RTN_UNICAST */
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_string_equal(w.p.ops[0].pa.bridge, "ens19");
    assert_int_equal(w.p.ops[0].pa.macvlan_mode, CNI_MACVLAN_BRIDGE);
    world_free(&w);
}

static const struct op *attach_of(const struct world *w, const char *owner);

/* A pod namespace with its own eth0 and a default route via 10.0.0.1. */
static void pod_with_eth0(struct world *w, size_t pi)
{
    add_link(&w->pods[pi], &w->next_ifindex, "eth0", "veth", 0, true);
    struct live_route *r = ARRAY_PUSH(w->pods[pi].routes, w->pods[pi].nroutes);
    r->ifindex = w->next_ifindex;
    r->dst.family = AF_INET;
    r->has_gw = true;
    assert_int_equal(ipaddr_parse("10.0.0.1", -1, &r->gw), 0);
    r->protocol = 4; /* static */
    r->table = 254;  /* main */
    r->type = 1;     /* RTN_UNICAST */
}

static int pod_defaults(const struct live_ns *pod, const char *dev, const char *gw)
{
    const struct live_link *l = live_find_link(pod, dev);
    struct ipaddr g;
    assert_int_equal(ipaddr_parse(gw, -1, &g), 0);
    int n = 0;
    for (size_t i = 0; l && i < pod->nroutes; i++)
        n += pod->routes[i].ifindex == l->ifindex && pod->routes[i].dst.prefix == 0 &&
             pod->routes[i].dst.family == AF_INET && pod->routes[i].has_gw &&
             ipaddr_same_host(&pod->routes[i].gw, &g);
    return n;
}

/* Multus default-route: the pod's default route moves from eth0 onto the
 * attachment (the NAD's own default route is replaced), converged after
 * one pass, repaired after drift, restored on detach. */
static void test_default_route(void **state)
{
    (void)state;
    struct world w;
    char buf[64];
    _cleanup_free_ char *pod = pod_yaml("dr", "[{\"name\":\"net\",\"default-route\":[\"192.168.255.1\"]}]");
    _cleanup_free_ char *y = xasprintf("%s%s%s", policy_yaml, nad_yaml, pod);
    world_init(&w, y, true);
    pod_with_eth0(&w, 0);
    plan(&w);
    const struct op *at = attach_of(&w, "Pod/default/dr");
    assert_int_equal(at->pa.ndefault_gw, 1);
    assert_string_equal(ipaddr_format(&at->pa.default_gw[0], false, buf, sizeof(buf)),
                        "192.168.255.1");
    /* one default route, via the requested gateway (not the IPAM's .254) */
    size_t ndef = 0;
    for (size_t i = 0; i < at->pa.nroutes; i++)
        if (at->pa.routes[i].dst.prefix == 0) {
            ndef++;
            assert_string_equal(ipaddr_format(&at->pa.routes[i].gw, false, buf, sizeof(buf)),
                                "192.168.255.1");
        }
    assert_int_equal(ndef, 1);
    /* what it displaces, to be restored */
    assert_int_equal(at->pa.nprev_defaults, 1);
    assert_string_equal(at->pa.prev_defaults[0].ifname, "eth0");
    assert_true(at->pa.prev_defaults[0].restore);
    assert_int_equal(at->pa.prev_defaults[0].protocol, 4);
    assert_string_equal(ipaddr_format(&at->pa.prev_defaults[0].rt.gw, false, buf, sizeof(buf)),
                        "10.0.0.1");
    _cleanup_free_ char *desc = op_describe(at);
    assert_non_null(strstr(desc, "default-route=192.168.255.1"));

    simulate(&w);
    assert_int_equal(pod_defaults(&w.pods[0], "net1", "192.168.255.1"), 1);
    assert_int_equal(pod_defaults(&w.pods[0], "eth0", "10.0.0.1"), 0);
    assert_int_equal(w.inv.attach[0].nprev_defaults, 1);
    plan(&w);
    assert_int_equal(w.p.nops, 0); /* converged */
    assert_int_equal(status_of(&w, "Pod/default/dr")->cond, COND_AVAILABLE);

    /* drift: someone deletes the default route -> the attachment is redone,
     * still knowing what to restore */
    const struct live_link *n1 = live_find_link(&w.pods[0], "net1");
    for (size_t i = w.pods[0].nroutes; i-- > 0;)
        if (w.pods[0].routes[i].ifindex == n1->ifindex && w.pods[0].routes[i].dst.prefix == 0)
            drop_route(&w.pods[0], i);
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_POD_ATTACH);
    assert_true(w.p.ops[0].pa.replace);
    assert_int_equal(w.p.ops[0].pa.nprev_defaults, 1);
    assert_string_equal(w.p.ops[0].pa.prev_defaults[0].ifname, "eth0");
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);

    /* drift: a default route appears on eth0 again -> taken over again */
    pod_with_eth0(&w, 0); /* a second eth0 link: rename it away */
    struct live_link *e2 = &w.pods[0].links[w.pods[0].nlinks - 1];
    snprintf(e2->name, sizeof(e2->name), "eth1");
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    bool eth1 = false;
    for (size_t i = 0; i < w.p.ops[0].pa.nprev_defaults; i++)
        eth1 |= streq(w.p.ops[0].pa.prev_defaults[i].ifname, "eth1");
    assert_true(eth1);
    simulate(&w);
    assert_int_equal(pod_defaults(&w.pods[0], "eth1", "10.0.0.1"), 0);
    plan(&w);
    assert_int_equal(w.p.nops, 0);

    /* detach (the annotation drops the network): the old default is back */
    _cleanup_free_ char *pod2 = pod_yaml("dr", "");
    _cleanup_free_ char *y2 = xasprintf("%s%s%s", policy_yaml, nad_yaml, pod2);
    reload(&w, y2);
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_POD_DETACH);
    assert_true(w.p.ops[0].pa.nprev_defaults >= 1);
    simulate(&w);
    assert_int_equal(pod_defaults(&w.pods[0], "eth0", "10.0.0.1"), 1);
    assert_int_equal(pod_defaults(&w.pods[0], "net1", "192.168.255.1"), 0);
    world_free(&w);
}

/* The gateway must be in the attachment's subnet; another network's
 * default route of the family is filtered, as Multus does. */
static void test_default_route_checks(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *pod = pod_yaml("far", "[{\"name\":\"net\",\"default-route\":[\"10.9.9.1\"]}]");
    _cleanup_free_ char *y = xasprintf("%s%s%s", policy_yaml, nad_yaml, pod);
    world_init(&w, y, true);
    pod_with_eth0(&w, 0);
    plan(&w);
    const struct objstatus *st = status_of(&w, "Pod/default/far");
    assert_int_equal(st->cond, COND_FAILING);
    assert_string_equal(st->reason, "InvalidDefaultRoute");
    assert_non_null(strstr(st->message, "10.9.9.1 is not inside a subnet of default/net"));
    for (size_t i = 0; i < w.p.nops; i++)
        assert_false(streq(w.p.ops[i].owner, "Pod/default/far")); /* nothing half-done */
    world_free(&w);

    _cleanup_free_ char *pod2 = pod_yaml(
        "two", "[{\"name\":\"net\"},{\"name\":\"net\",\"default-route\":[\"192.168.255.1\"]}]");
    _cleanup_free_ char *y2 = xasprintf("%s%s%s", policy_yaml, nad_yaml, pod2);
    world_init(&w, y2, true);
    plan(&w);
    size_t seen = 0;
    for (size_t i = 0; i < w.p.nops; i++) {
        const struct op *op = &w.p.ops[i];
        if (op->type != OP_POD_ATTACH)
            continue;
        seen++;
        size_t ndef = 0;
        for (size_t k = 0; k < op->pa.nroutes; k++)
            ndef += op->pa.routes[k].dst.prefix == 0;
        /* net1: its IPAM default route is filtered; net2 carries it */
        assert_int_equal(ndef, streq(op->pa.pod_if, "net2") ? 1 : 0);
        assert_int_equal(op->pa.ndefault_gw, streq(op->pa.pod_if, "net2") ? 1 : 0);
    }
    assert_int_equal(seen, 2);
    world_free(&w);
}

static void test_unsupported_type(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *pod = pod_yaml("a", "ipv");
    world_init(&w, pod, false);
    _cleanup_free_ char *nad = nad_cfg("ipv", "{\"type\":\"ipvlan\",\"master\":\"ens19\"}");
    _cleanup_free_ char *y = xasprintf("%s%s", nad, pod);
    reload(&w, y);
    assert_int_equal(w.d.nnads, 1);
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    const struct objstatus *n = status_of(&w, "NetworkAttachmentDefinition/default/ipv");
    assert_int_equal(n->cond, COND_FAILING);
    assert_string_equal(n->reason, "UnsupportedType");
    assert_non_null(strstr(n->message, "'ipvlan'"));
    const struct objstatus *p = status_of(&w, "Pod/default/a");
    assert_int_equal(p->cond, COND_FAILING);
    assert_string_equal(p->reason, "UnsupportedType");
    assert_non_null(strstr(p->message, "'ipvlan'"));
    world_free(&w);
}

/* ---- IPAM: range sets, dual stack, static (issue 7) ---------------------- */

static char *nad_ipam_yaml(const char *name, const char *cni_name, const char *ipam)
{
    return xasprintf("---\napiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\n"
                     "metadata:\n  name: %s\nspec:\n  config: '{\"name\":\"%s\",\"type\":\"bridge\","
                     "\"bridge\":\"br-1\",\"ipam\":%s}'\n",
                     name, cni_name, ipam);
}

static const char *addr_of(const struct op *op, size_t k)
{
    static char buf[4][64];
    static int i;
    i = (i + 1) % 4;
    assert_true(k < op->pa.naddrs);
    return ipaddr_format(&op->pa.addrs[k], true, buf[i], sizeof(buf[i]));
}

static const struct op *attach_of(const struct world *w, const char *owner)
{
    for (size_t i = 0; i < w->p.nops; i++)
        if (w->p.ops[i].type == OP_POD_ATTACH && streq(w->p.ops[i].owner, owner))
            return &w->p.ops[i];
    fail_msg("no pod-attach for %s", owner);
    return NULL;
}

static const char *route_of(const struct op *op, size_t k)
{
    static char buf[2][160];
    static int i;
    char d[64], g[64];
    i = (i + 1) % 2;
    assert_true(k < op->pa.nroutes);
    const struct route *r = &op->pa.routes[k];
    snprintf(buf[i], sizeof(buf[i]), "%s%s%s", ipaddr_format(&r->dst, true, d, sizeof(d)),
             r->has_gw ? " via " : "", r->has_gw ? ipaddr_format(&r->gw, false, g, sizeof(g)) : "");
    return buf[i];
}

/* An IPv4 set of two ranges and an IPv6 set: each pod gets one address of
 * each (host-local's order: .2 first, gateways skipped), the routes of each
 * family, gw-less ones via the gateway of that family; plan after apply is
 * empty and a second pass keeps the addresses. */
static void test_dual_stack_ranges(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *nad = nad_ipam_yaml(
        "ds", "ds",
        "{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.0.0/30\"},"
        "{\"subnet\":\"10.2.0.0/29\",\"rangeStart\":\"10.2.0.4\"}],[{\"subnet\":\"fd00::/125\"}]],"
        "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"::/0\"},"
        "{\"dst\":\"10.50.0.0/16\",\"gw\":\"10.1.0.1\"}]}");
    _cleanup_free_ char *a = pod_yaml("a", "ds");
    _cleanup_free_ char *b = pod_yaml("b", "ds");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s", policy_yaml, nad, a, b);
    world_init(&w, y, true);
    plan(&w);
    const struct op *oa = attach_of(&w, "Pod/default/a"), *ob = attach_of(&w, "Pod/default/b");
    assert_int_equal(oa->pa.naddrs, 2);
    assert_string_equal(addr_of(oa, 0), "10.1.0.2/30");
    assert_string_equal(addr_of(oa, 1), "fd00::2/125");
    assert_string_equal(addr_of(ob, 0), "10.2.0.4/29"); /* the first range is full */
    assert_string_equal(addr_of(ob, 1), "fd00::3/125");
    assert_int_equal(oa->pa.nroutes, 3);
    assert_string_equal(route_of(oa, 0), "0.0.0.0/0 via 10.1.0.1");
    assert_string_equal(route_of(oa, 1), "::/0 via fd00::1");
    assert_string_equal(route_of(oa, 2), "10.50.0.0/16 via 10.1.0.1");
    assert_string_equal(route_of(ob, 0), "0.0.0.0/0 via 10.2.0.1"); /* its range's gateway */
    assert_false(oa->pa.dad); /* enabledad unset: IFA_F_NODAD on IPv6 */
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    assert_int_equal(status_of(&w, "Pod/default/b")->cond, COND_AVAILABLE);
    assert_int_equal(w.inv.nallocs, 4);
    world_free(&w);
}

/* A set runs full: the pod that finds no address is Failing,
 * AddressUnavailable, with nothing planned for it; the others converge. */
static void test_range_full(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *nad = nad_ipam_yaml(
        "small", "small",
        "{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.0.0/30\"},"
        "{\"subnet\":\"10.2.0.0/30\"}]]}");
    _cleanup_free_ char *a = pod_yaml("a", "small");
    _cleanup_free_ char *b = pod_yaml("b", "small");
    _cleanup_free_ char *c = pod_yaml("c", "small");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s%s", policy_yaml, nad, a, b, c);
    world_init(&w, y, true);
    plan(&w);
    assert_string_equal(addr_of(attach_of(&w, "Pod/default/a"), 0), "10.1.0.2/30");
    assert_string_equal(addr_of(attach_of(&w, "Pod/default/b"), 0), "10.2.0.2/30");
    const struct objstatus *s = status_of(&w, "Pod/default/c");
    assert_int_equal(s->cond, COND_FAILING);
    assert_string_equal(s->reason, "AddressUnavailable");
    assert_non_null(strstr(s->message, "no free address in 10.1.0.1-10.1.0.2, 10.2.0.1-10.2.0.2"));
    for (size_t i = 0; i < w.p.nops; i++)
        assert_string_not_equal(w.p.ops[i].owner, "Pod/default/c");
    world_free(&w);
}

/* Requested addresses: one per set (dual stack in one element), the
 * gateway refused, two in one set refused, a taken one names its holder;
 * a set with no requested address still gets one (host-local). */
static void test_requested_sets(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *nad = nad_ipam_yaml(
        "ds", "ds",
        "{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.0.0/29\"}],"
        "[{\"subnet\":\"fd00::/125\"}]]}");
    _cleanup_free_ char *a =
        pod_yaml("a", "[{\"name\":\"ds\",\"ips\":[\"10.1.0.5/29\",\"fd00::5/125\"]}]");
    _cleanup_free_ char *b = pod_yaml("b", "[{\"name\":\"ds\",\"ips\":[\"10.1.0.1/29\"]}]");
    _cleanup_free_ char *c = pod_yaml("c", "[{\"name\":\"ds\",\"ips\":[\"fd00::5\"]}]");
    _cleanup_free_ char *d = pod_yaml("d", "[{\"name\":\"ds\",\"ips\":[\"10.1.0.3\",\"10.1.0.4\"]}]");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s%s%s", policy_yaml, nad, a, b, c, d);
    world_init(&w, y, true);
    plan(&w);
    const struct op *oa = attach_of(&w, "Pod/default/a");
    assert_string_equal(addr_of(oa, 0), "10.1.0.5/29");
    assert_string_equal(addr_of(oa, 1), "fd00::5/125");
    const struct objstatus *s = status_of(&w, "Pod/default/b");
    assert_string_equal(s->reason, "AddressUnavailable");
    assert_non_null(strstr(s->message, "gateway"));
    s = status_of(&w, "Pod/default/c");
    assert_string_equal(s->reason, "Conflict");
    assert_non_null(strstr(s->message, "fd00::5 is already allocated to Pod/default/a (net1)"));
    s = status_of(&w, "Pod/default/d");
    assert_string_equal(s->reason, "AddressUnavailable");
    assert_non_null(strstr(s->message, "same range set"));
    world_free(&w);

    /* only the IPv4 one requested: the IPv6 set allocates (after a's .5
     * reservation in the other set nothing changes for IPv6: ::2) */
    _cleanup_free_ char *e = pod_yaml("e", "[{\"name\":\"ds\",\"ips\":[\"10.1.0.6/29\"]}]");
    _cleanup_free_ char *y2 = xasprintf("%s%s%s", policy_yaml, nad, e);
    world_init(&w, y2, true);
    plan(&w);
    const struct op *oe = attach_of(&w, "Pod/default/e");
    assert_int_equal(oe->pa.naddrs, 2);
    assert_string_equal(addr_of(oe, 0), "10.1.0.6/29");
    assert_string_equal(addr_of(oe, 1), "fd00::2/125");
    world_free(&w);
}

/* static IPAM: exactly the NAD's addresses, routes via its gateway; a
 * second pod with the same static address, or a host-local pod of the same
 * network holding it, is a Conflict naming the holder. */
static void test_static_ipam(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *st = nad_ipam_yaml(
        "st", "shared",
        "{\"type\":\"static\",\"addresses\":[{\"address\":\"10.10.0.2/24\",\"gateway\":"
        "\"10.10.0.254\"},{\"address\":\"fd10::2/64\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\"},"
        "{\"dst\":\"fd20::/64\"}],\"dns\":{\"nameservers\":[\"10.10.0.53\"]}}");
    _cleanup_free_ char *hl = nad_ipam_yaml("hl", "shared",
                                            "{\"type\":\"host-local\",\"subnet\":\"10.10.0.0/24\"}");
    _cleanup_free_ char *a = pod_yaml("a", "hl");
    _cleanup_free_ char *b = pod_yaml("b", "st");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s%s", policy_yaml, hl, st, a, b);
    world_init(&w, y, true);
    plan(&w);
    /* a (host-local) took 10.10.0.2 first: b's static address collides */
    assert_string_equal(addr_of(attach_of(&w, "Pod/default/a"), 0), "10.10.0.2/24");
    const struct objstatus *s = status_of(&w, "Pod/default/b");
    assert_string_equal(s->reason, "Conflict");
    assert_non_null(strstr(s->message, "10.10.0.2 is already allocated to Pod/default/a"));
    world_free(&w);

    _cleanup_free_ char *c = pod_yaml("c", "st");
    _cleanup_free_ char *y2 = xasprintf("%s%s%s%s", policy_yaml, st, b, c);
    world_init(&w, y2, true);
    plan(&w);
    const struct op *ob = attach_of(&w, "Pod/default/b");
    assert_int_equal(ob->pa.naddrs, 2);
    assert_string_equal(addr_of(ob, 0), "10.10.0.2/24");
    assert_string_equal(addr_of(ob, 1), "fd10::2/64");
    assert_int_equal(ob->pa.nroutes, 2);
    assert_string_equal(route_of(ob, 0), "0.0.0.0/0 via 10.10.0.254");
    assert_string_equal(route_of(ob, 1), "fd20::/64"); /* no IPv6 gateway: on-link */
    assert_string_equal(status_of(&w, "Pod/default/c")->reason, "Conflict");
    const struct nad *n = desired_find_nad(&w.d, "default", "st");
    assert_non_null(n);
    assert_int_equal(n->dns.nnameservers, 1);
    assert_string_equal(n->dns.nameservers[0], "10.10.0.53");
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    assert_int_equal(w.inv.nallocs, 2); /* static addresses are recorded */
    world_free(&w);
}

/* After a pod goes, its address is not handed out again at once: the next
 * pod gets the one after the last reservation (host-local's round robin),
 * across passes (the reservations come from the store). */
static void test_round_robin_across_passes(void **state)
{
    (void)state;
    struct world w;
    _cleanup_free_ char *a = pod_yaml("a", "net");
    _cleanup_free_ char *b = pod_yaml("b", "net");
    _cleanup_free_ char *c = pod_yaml("c", "net");
    _cleanup_free_ char *y = xasprintf("%s%s%s%s", policy_yaml, nad_yaml, a, b);
    world_init(&w, y, true);
    plan(&w);
    assert_string_equal(addr_of(attach_of(&w, "Pod/default/a"), 0), "192.168.255.2/24");
    assert_string_equal(addr_of(attach_of(&w, "Pod/default/b"), 0), "192.168.255.3/24");
    simulate(&w);
    _cleanup_free_ char *y2 = xasprintf("%s%s%s", policy_yaml, nad_yaml, b);
    reload(&w, y2);
    plan(&w);
    assert_int_equal(w.p.nops, 1);
    assert_int_equal(w.p.ops[0].type, OP_POD_DETACH);
    simulate(&w);
    assert_int_equal(w.inv.nallocs, 1);
    /* c takes pod slot 0: a fresh namespace */
    live_ns_free(&w.pods[0]);
    memset(&w.pods[0], 0, sizeof(w.pods[0]));
    _cleanup_free_ char *y3 = xasprintf("%s%s%s%s", policy_yaml, nad_yaml, c, b);
    reload(&w, y3);
    plan(&w);
    const struct objstatus *sc = status_of(&w, "Pod/default/c");
    if (sc->cond != COND_PROGRESSING)
        fail_msg("c: %s %s", sc->reason, sc->message);
    assert_string_equal(addr_of(attach_of(&w, "Pod/default/c"), 0), "192.168.255.4/24");
    world_free(&w);
}

static double mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 3000 pods on one /20: the first pass picks 3000 addresses, the second
 * (every pod holding its address, attachments recorded) keeps them. Both
 * take well under 0.3 s each (about 10-30 ms here): no per-pod walk over
 * every allocation, attachment or object. */
static void test_many_pods_fast(void **state)
{
    (void)state;
    /* under ASan every exact-size array_push copies the whole array: fewer
     * pods, and only the optimised build is timed */
    enum { N = SANITIZED ? 1000 : 3000 };
    _cleanup_free_ char *nad = nad_ipam_yaml("big", "big",
                                             "{\"type\":\"host-local\",\"subnet\":\"10.16.0.0/20\"}");
    size_t cap = 1 << 20, len = 0;
    char *y = xmalloc(cap);
    len += (size_t)snprintf(y + len, cap - len, "%s%s", policy_yaml, nad);
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        char *p = pod_yaml(name, "big");
        len += (size_t)snprintf(y + len, cap - len, "%s", p);
        free(p);
    }
    assert_true(len < cap);
    struct world w;
    world_init(&w, y, true);
    free(y);
    assert_int_equal(w.d.npods, N);
    add_link(&w.node, &w.next_ifindex, "br-1", "bridge", 0, true);
    struct live_ns empty = {0};
    const struct live_ns **podl = xcalloc(N, sizeof(*podl));
    for (int i = 0; i < N; i++)
        podl[i] = &empty;
    struct plan_input in = {.desired = &w.d, .node_labels = w.labels, .nnode_labels = 1,
                            .node = &w.node, .pod_live = podl, .inv = &w.inv};
    double t0 = mono_sec();
    assert_int_equal(plan_build(&in, &w.p), 0);
    double t1 = mono_sec() - t0;
    size_t att = 0;
    for (size_t i = 0; i < w.p.nops; i++) {
        const struct op *op = &w.p.ops[i];
        if (op->type != OP_POD_ATTACH)
            continue;
        struct ipaddr want;
        assert_int_equal(ipaddr_parse("10.16.0.2/20", -1, &want), 0);
        ipaddr_add(&want, att++);
        assert_true(ipaddr_equal(&op->pa.addrs[0], &want));
        /* what reconcile records after the write */
        struct allocation *al = ARRAY_PUSH(w.inv.allocs, w.inv.nallocs);
        al->network = xstrdup("big");
        al->owner = xstrdup(op->owner);
        al->ip = op->pa.addrs[0];
        snprintf(al->ifname, sizeof(al->ifname), "%s", op->pa.pod_if);
        struct owned_attach *oa = ARRAY_PUSH(w.inv.attach, w.inv.nattach);
        oa->owner = xstrdup(op->owner);
        snprintf(oa->pod_if, sizeof(oa->pod_if), "%s", op->pa.pod_if);
        snprintf(oa->host_if, sizeof(oa->host_if), "%s", op->pa.host_if);
        oa->network = xstrdup("big");
        oa->netns = xstrdup(op->pa.netns);
    }
    assert_int_equal(att, N);
    plan_free(&w.p);
    t0 = mono_sec();
    assert_int_equal(plan_build(&in, &w.p), 0);
    double t2 = mono_sec() - t0;
    att = 0;
    for (size_t i = 0; i < w.p.nops; i++) {
        const struct op *op = &w.p.ops[i];
        assert_int_not_equal(op->type, OP_POD_DETACH);
        if (op->type != OP_POD_ATTACH)
            continue;
        struct ipaddr want;
        assert_int_equal(ipaddr_parse("10.16.0.2/20", -1, &want), 0);
        ipaddr_add(&want, att++);
        assert_true(ipaddr_equal(&op->pa.addrs[0], &want)); /* kept */
    }
    assert_int_equal(att, N);
    /* Reported, not asserted: speed is measured by `make bench`, and a
     * timing bound fails under valgrind or on a loaded machine. */
    print_message("# plan of %d pods: %.3f s, then %.3f s\n", N, t1, t2);
    free(podl);
    world_free(&w);
}

/* NAD IPAM configs host-local refuses are refused (overlapping ranges,
 * mixed families in a set, host bits, no range, static without a prefix);
 * resolvConf is read at validation (a warning when it cannot be). */
static void test_ipam_validation(void **state)
{
    (void)state;
    static const struct {
        const char *ipam, *msg;
    } bad[] = {
        {"{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"},{\"subnet\":\"10.1.0.0/25\"}]]}",
         "overlap"},
        {"{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"}],[{\"subnet\":\"10.1.0.128/25\"}]]}",
         "overlap (in two range sets)"},
        {"{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"},{\"subnet\":\"fd00::/64\"}]]}",
         "mixed address families"},
        {"{\"type\":\"host-local\",\"subnet\":\"10.1.0.1/24\"}", "host bits set"},
        {"{\"type\":\"host-local\",\"routes\":[]}", "no IP ranges"},
        {"{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.1.0.0/31\"}]]}", "too small"},
        {"{\"type\":\"static\",\"addresses\":[{\"address\":\"10.1.0.1\"}]}", "prefix length"},
        {"{\"type\":\"static\"}", "needs a list of addresses"},
        {"{\"type\":\"dhcp\"}", "not supported"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *y = nad_ipam_yaml("n", "n", bad[i].ipam);
        struct docset docs = {0};
        struct diags diags = {0};
        struct desired d = {0};
        load_buffer("t.yaml", y, strlen(y), &docs, &diags);
        validate_docs(&docs, &d);
        bool found = false;
        for (size_t k = 0; k < d.diags.n; k++)
            found |= d.diags.v[k].severity == DIAG_ERROR && strstr(d.diags.v[k].msg, bad[i].msg);
        if (!found || d.nnads)
            fail_msg("#%zu %s: no error '%s'", i, bad[i].ipam, bad[i].msg);
        desired_free(&d);
        docset_free(&docs);
        diags_clear(&diags);
    }

    char path[] = "/tmp/plumbd-resolv.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *rc = "# a comment\nnameserver 10.0.0.53\nnameserver fd00::53\n"
                     "search a.example b.example\noptions ndots:2\n";
    assert_int_equal(write(fd, rc, strlen(rc)), (ssize_t)strlen(rc));
    close(fd);
    _cleanup_free_ char *ipam = xasprintf(
        "{\"type\":\"host-local\",\"subnet\":\"10.1.0.0/24\",\"resolvConf\":\"%s\","
        "\"dns\":{\"domain\":\"d.example\"}}", path);
    _cleanup_free_ char *nr = nad_ipam_yaml("r", "r", ipam);
    _cleanup_free_ char *nm = nad_ipam_yaml("m", "m",
                                            "{\"type\":\"host-local\",\"subnet\":"
                                            "\"10.2.0.0/24\",\"resolvConf\":\"/nonexistent\"}");
    _cleanup_free_ char *y = xasprintf("%s%s", nr, nm);
    struct docset docs = {0};
    struct diags diags = {0};
    struct desired d = {0};
    load_buffer("t.yaml", y, strlen(y), &docs, &diags);
    validate_docs(&docs, &d);
    unlink(path);
    assert_int_equal(diags_count(&d.diags, DIAG_ERROR), 0);
    const struct nad *n = desired_find_nad(&d, "default", "r");
    assert_non_null(n);
    assert_int_equal(n->dns.nnameservers, 2);
    assert_string_equal(n->dns.nameservers[1], "fd00::53");
    assert_string_equal(n->dns.domain, "d.example");
    assert_int_equal(n->dns.nsearch, 2);
    assert_int_equal(n->dns.noptions, 1);
    json_t *j = ipam_dns_json(&n->dns);
    char *js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(js, "{\"domain\":\"d.example\",\"nameservers\":[\"10.0.0.53\",\"fd00::53\"],"
                            "\"options\":[\"ndots:2\"],\"search\":[\"a.example\",\"b.example\"]}");
    free(js);
    json_decref(j);
    bool warned = false;
    for (size_t k = 0; k < d.diags.n; k++)
        warned |= d.diags.v[k].severity == DIAG_WARNING &&
                  strstr(d.diags.v[k].msg, "resolvConf '/nonexistent' cannot be read");
    assert_true(warned);
    desired_free(&d);
    docset_free(&docs);
    diags_clear(&diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_then_empty),
        cmocka_unit_test(test_host_local_next_free),
        cmocka_unit_test(test_converged_memo),
        cmocka_unit_test(test_quick_lane),
        cmocka_unit_test(test_requested_ip_errors),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_not_matching_and_prune),
        cmocka_unit_test(test_pod_removed_detaches),
        cmocka_unit_test(test_foreign_untouched_and_conflict),
        cmocka_unit_test(test_removed_without_prune),
        cmocka_unit_test(test_host_ifname),
        cmocka_unit_test(test_dual_stack_ranges),
        cmocka_unit_test(test_range_full),
        cmocka_unit_test(test_requested_sets),
        cmocka_unit_test(test_static_ipam),
        cmocka_unit_test(test_round_robin_across_passes),
        cmocka_unit_test(test_many_pods_fast),
        cmocka_unit_test(test_ipam_validation),
        cmocka_unit_test(test_gateway_masq_port_flags),
        cmocka_unit_test(test_force_address),
        cmocka_unit_test(test_promisc_and_down),
        cmocka_unit_test(test_vlan_planning),
        cmocka_unit_test(test_macvlan_plan),
        cmocka_unit_test(test_unsupported_type),
        cmocka_unit_test(test_default_route),
        cmocka_unit_test(test_default_route_checks),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
