/* test_plan.c - the planner, pure: desired + a synthetic kernel snapshot +
 * inventory -> ops and conditions. Includes "plan after apply is empty":
 * the ops of a plan are simulated on the snapshot and the plan re-built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "plan.h"

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
                            .keep_owners = w->keep, .nkeep_owners = w->nkeep};
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
        case OP_POD_ATTACH: {
            size_t pi = 0;
            for (; pi < w->d.npods; pi++)
                if (streq(w->d.pods[pi].netns, op->pa.netns))
                    break;
            assert_true(pi < w->d.npods);
            const struct live_link *br = live_find_link(&w->node, op->pa.bridge);
            add_link(&w->node, &w->next_ifindex, op->pa.host_if, "veth", br->ifindex, true);
            int hidx = w->next_ifindex;
            add_link(&w->pods[pi], &w->next_ifindex, op->pa.pod_if, "veth", 0, true);
            struct live_link *p = find(&w->pods[pi], op->pa.pod_if);
            p->link = hidx;
            p->has_mac = true;
            memcpy(p->mac, op->pa.has_mac ? op->pa.mac : (uint8_t[6]){2, 0, 0, 0, 0, 9}, 6);
            for (size_t k = 0; k < op->pa.naddrs; k++) {
                struct live_addr *a = ARRAY_PUSH(w->pods[pi].addrs, w->pods[pi].naddrs);
                a->ifindex = p->ifindex;
                a->addr = op->pa.addrs[k];
            }
            for (size_t k = 0; k < op->pa.nroutes; k++) {
                struct live_route *r = ARRAY_PUSH(w->pods[pi].routes, w->pods[pi].nroutes);
                r->ifindex = p->ifindex;
                r->dst = op->pa.routes[k].dst;
                r->has_gw = op->pa.routes[k].has_gw;
                r->gw = op->pa.routes[k].gw;
            }
            struct owned_attach *oa = ARRAY_PUSH(w->inv.attach, w->inv.nattach);
            oa->owner = xstrdup(op->owner);
            snprintf(oa->pod_if, sizeof(oa->pod_if), "%s", op->pa.pod_if);
            snprintf(oa->host_if, sizeof(oa->host_if), "%s", op->pa.host_if);
            oa->network = xstrdup(op->pa.network);
            oa->netns = xstrdup(op->pa.netns);
            memcpy(oa->mac, p->mac, 6); /* reconcile records the kernel's MAC */
            for (size_t k = 0; k < op->pa.naddrs; k++) {
                struct allocation *al = ARRAY_PUSH(w->inv.allocs, w->inv.nallocs);
                al->network = xstrdup(op->pa.network);
                al->owner = xstrdup(op->owner);
                al->ip = op->pa.addrs[k];
                snprintf(al->ifname, sizeof(al->ifname), "%s", op->pa.pod_if);
            }
            break;
        }
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_then_empty),
        cmocka_unit_test(test_host_local_next_free),
        cmocka_unit_test(test_requested_ip_errors),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_not_matching_and_prune),
        cmocka_unit_test(test_pod_removed_detaches),
        cmocka_unit_test(test_foreign_untouched_and_conflict),
        cmocka_unit_test(test_removed_without_prune),
        cmocka_unit_test(test_host_ifname),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
