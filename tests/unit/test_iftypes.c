/* test_iftypes.c - interface types and common interface keys (issue 6):
 * the validator (veth, vxlan, mac-vlan, dummy, vlan, bond blocks with their
 * defaults; mac-address, copy-mac-from, controller, accept-all-mac-addresses
 * and their errors), the planner on synthetic kernel snapshots (create,
 * plan after apply is empty, re-creation, state down/absent, ownership,
 * controller, before-images restored by prune) for the kinds the test
 * kernel lacks too (dummy, vlan, bond), the journal (JSON round trip,
 * inverses, verification) and `show` fed back planning nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <net/if.h>

#include "iftypes_impl.h"
#include "journal.h"
#include "plan.h"
#include "show.h"

#define POLICY_ID "NodeNetworkConfigurationPolicy/t"

static const char *head =
    "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
    "metadata:\n  name: t\nspec:\n  desiredState:\n    interfaces:\n";

#include "desired_fixture.h"

static void load(const char *ifaces, struct desired *d, size_t want_errors)
{
    char *yaml = xasprintf("%s%s", head, ifaces);
    fixture_load(yaml, d, want_errors);
    free(yaml);
}

/* ---- a synthetic node ---- */

struct world {
    struct desired d;
    struct live_ns node;
    struct inventory inv;
    struct plan p;
    int next;
};

static struct live_link *add_link(struct live_ns *l, int *next, const char *name, const char *kind)
{
    struct live_link *k = ARRAY_PUSH(l->links, l->nlinks);
    k->ifindex = ++*next;
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    k->cfg.kind = link_kind_from_kernel(kind);
    k->flags = IFF_UP;
    k->mtu = 1500;
    k->stp = streq(kind, "bridge") ? 0 : -1;
    k->vlan_filtering = -1;
    k->has_mac = true;
    uint8_t mac[6] = {0x02, 0, 0, 0, 0, (uint8_t)k->ifindex};
    memcpy(k->mac, mac, 6);
    l->gen++;
    return k;
}

static struct live_link *find(struct live_ns *l, const char *name)
{
    for (size_t i = 0; i < l->nlinks; i++)
        if (streq(l->links[i].name, name))
            return &l->links[i];
    return NULL;
}

static void world_init(struct world *w, const char *ifaces, size_t want_errors)
{
    memset(w, 0, sizeof(*w));
    load(ifaces, &w->d, want_errors);
    add_link(&w->node, &w->next, "lo", "");
    add_link(&w->node, &w->next, "ens19", "");
    add_link(&w->node, &w->next, "ens20", "");
}

static void plan(struct world *w)
{
    struct label lab = {"a", "b"};
    struct plan_input in = {.desired = &w->d, .node_labels = &lab, .nnode_labels = 1,
                            .node = &w->node, .inv = &w->inv};
    plan_free(&w->p);
    assert_int_equal(plan_build(&in, &w->p), 0);
}

static void inv_put(struct world *w, const char *owner, const char *ifname, bool created,
                    const struct live_link *l)
{
    struct owned_link *o = ARRAY_PUSH(w->inv.links, w->inv.nlinks);
    o->owner = xstrdup(owner);
    snprintf(o->ifname, sizeof(o->ifname), "%s", ifname);
    o->created = created;
    o->before_stp = -1;
    o->before_promisc = -1;
    if (l) {
        o->before_mtu = l->mtu;
        o->before_up = l->flags & IFF_UP;
        o->before_has_mac = l->has_mac;
        memcpy(o->before_mac, l->mac, 6);
        o->before_promisc = (l->flags & IFF_PROMISC) ? 1 : 0;
    }
}

static void inv_forget(struct world *w, const char *ifname)
{
    for (size_t k = 0; k < w->inv.nlinks; k++)
        if (streq(w->inv.links[k].ifname, ifname))
            w->inv.links[k].ifname[0] = 0;
}

static void link_settings(struct world *w, struct live_link *l, const struct op *op)
{
    if (op->set & LS_MTU)
        l->mtu = op->mtu;
    if (op->set & LS_UP)
        l->flags = op->up ? (l->flags | IFF_UP) : (l->flags & ~IFF_UP);
    if (op->set & LS_PROMISC)
        l->flags = op->promisc ? (l->flags | IFF_PROMISC) : (l->flags & ~IFF_PROMISC);
    if (op->set & LS_MAC)
        memcpy(l->mac, op->mac, 6);
    if (op->set & LS_STP)
        l->stp = op->stp;
    if (op->set & LS_ALIAS) {
        free(l->alias);
        l->alias = op->alias && *op->alias ? xstrdup(op->alias) : NULL;
    }
    if (op->set & LS_MASTER) {
        const struct live_link *m = op->master[0] ? live_find_link(&w->node, op->master) : NULL;
        l->master = m ? m->ifindex : 0;
    }
}

/* What apply + the store would do, on the snapshot and inventory. */
static void simulate(struct world *w)
{
    for (size_t i = 0; i < w->p.nops; i++) {
        const struct op *op = &w->p.ops[i];
        struct live_link *l = find(&w->node, op->ifname);
        switch (op->type) {
        case OP_BRIDGE_ADD: {
            assert_null(l);
            enum link_kind k = op->cfg.kind == LK_NONE ? LK_BRIDGE : op->cfg.kind;
            l = add_link(&w->node, &w->next, op->ifname, link_kind_to_kernel(k));
            l->flags = 0;
            if (k != LK_BRIDGE) {
                l->cfg = op->cfg;
                l->cfg.base[0] = 0;
            }
            if (op->cfg.base[0]) {
                const struct live_link *b = find(&w->node, op->cfg.base);
                if (k == LK_VETH) {
                    struct live_link *p = add_link(&w->node, &w->next, op->cfg.base, "veth");
                    l = find(&w->node, op->ifname); /* the array moved */
                    p->cfg.base_ifindex = l->ifindex;
                    p->flags = op->up ? IFF_UP : 0;
                    l->cfg.base_ifindex = p->ifindex;
                    inv_put(w, op->owner, op->cfg.base, true, NULL);
                } else {
                    assert_non_null(b);
                    l->cfg.base_ifindex = b->ifindex;
                }
            }
            link_settings(w, l, op);
            inv_put(w, op->owner, op->ifname, true, NULL);
            break;
        }
        case OP_LINK_SET:
            assert_non_null(l);
            if (op->record_before)
                inv_put(w, op->owner, op->ifname, false, l);
            link_settings(w, l, op);
            if (op->forget)
                inv_forget(w, op->ifname);
            break;
        case OP_LINK_DEL: {
            assert_non_null(l);
            int idx = l->ifindex;
            const struct live_link *peer =
                l->cfg.kind == LK_VETH ? live_find_ifindex(&w->node, l->cfg.base_ifindex) : NULL;
            int pidx = peer ? peer->ifindex : 0;
            for (size_t k = 0; k < w->node.nlinks; k++)
                if (w->node.links[k].ifindex == idx || w->node.links[k].ifindex == pidx)
                    w->node.links[k].name[0] = 0; /* gone */
            if (op->forget)
                inv_forget(w, op->ifname);
            break;
        }
        case OP_ADDR_ADD: {
            struct live_addr *a = ARRAY_PUSH(w->node.addrs, w->node.naddrs);
            a->ifindex = l->ifindex;
            a->addr = op->addr;
            break;
        }
        default:
            break;
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

static const struct objstatus *status(const struct plan *p)
{
    for (size_t i = 0; i < p->nstatus; i++)
        if (streq(p->status[i].id, POLICY_ID))
            return &p->status[i];
    fail_msg("no status");
    return NULL;
}

static const struct op *op_of(const struct plan *p, enum op_type t, const char *ifname)
{
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].type == t && streq(p->ops[i].ifname, ifname))
            return &p->ops[i];
    return NULL;
}

static size_t op_index(const struct plan *p, enum op_type t, const char *ifname)
{
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].type == t && streq(p->ops[i].ifname, ifname))
            return i;
    fail_msg("no %s %s", op_type_to_string(t), ifname);
    return 0;
}

/* ---- validator ---- */

static void test_validate_types(void **state)
{
    (void)state;
    struct desired d;
    load("    - name: v0\n      type: veth\n      veth:\n        peer: v0p\n"
         "    - name: vx0\n      type: vxlan\n      vxlan:\n        id: 7\n"
         "    - name: vx1\n      type: vxlan\n      vxlan:\n        id: 8\n        base-iface: ens19\n"
         "        local: 2001:db8::1\n        remote: 2001:db8::2\n        destination-port: 8472\n"
         "        learning: false\n"
         "    - name: mv0\n      type: mac-vlan\n      mac-vlan:\n        base-iface: ens19\n"
         "    - name: mv1\n      type: macvlan\n      mac-vlan:\n        base-iface: ens19\n"
         "        mode: passthru\n        promiscuous: false\n"
         "    - name: d0\n      type: dummy\n"
         "    - name: vl0\n      type: vlan\n      vlan:\n        base-iface: ens19\n        id: 10\n"
         "    - name: vl1\n      type: vlan\n      vlan:\n        base-iface: ens19\n        id: 11\n"
         "        protocol: 802.1ad\n"
         "    - name: b0\n      type: bond\n      link-aggregation:\n        mode: 802.3ad\n"
         "        options:\n          miimon: \"140\"\n          lacp_rate: fast\n"
         "          xmit_hash_policy: 1\n        port:\n        - ens20\n"
         "    - name: e0\n      type: ethernet\n      mac-address: 02:AA:bb:cc:dd:ee\n"
         "      accept-all-mac-addresses: true\n      controller: \"\"\n"
         "    - name: e1\n      type: ethernet\n      copy-mac-from: e0\n      controller: b1\n",
         &d, 0);
    const struct iface *f = d.policies[0].ifaces;
    assert_int_equal(f[0].cfg.kind, LK_VETH);
    assert_string_equal(f[0].cfg.base, "v0p");
    assert_int_equal(f[1].cfg.kind, LK_VXLAN);
    assert_int_equal(f[1].cfg.id, 7);
    assert_int_equal(f[1].cfg.port, 4789); /* nmstate's default */
    assert_true(f[1].cfg.learning);
    assert_string_equal(f[1].cfg.base, "");
    assert_int_equal(f[2].cfg.local.family, AF_INET6);
    assert_int_equal(f[2].cfg.remote.family, AF_INET6);
    assert_int_equal(f[2].cfg.port, 8472);
    assert_false(f[2].cfg.learning);
    assert_int_equal(f[3].cfg.kind, LK_MACVLAN);
    assert_int_equal(f[3].cfg.mode, MACVLAN_MODE_VEPA);
    assert_true(f[3].cfg.promisc);
    assert_int_equal(f[4].cfg.mode, MACVLAN_MODE_PASSTHRU);
    assert_false(f[4].cfg.promisc);
    assert_int_equal(f[5].cfg.kind, LK_DUMMY);
    assert_int_equal(f[6].cfg.protocol, ETH_P_8021Q);
    assert_int_equal(f[6].cfg.id, 10);
    assert_int_equal(f[7].cfg.protocol, ETH_P_8021AD);
    assert_int_equal(f[8].cfg.kind, LK_BOND);
    assert_int_equal(f[8].cfg.mode, 4);
    assert_int_equal(f[8].cfg.bond_set,
                     (1u << BOND_MIIMON) | (1u << BOND_LACP_RATE) | (1u << BOND_XMIT_HASH_POLICY));
    assert_int_equal(f[8].cfg.bond[BOND_MIIMON], 140);
    assert_int_equal(f[8].cfg.bond[BOND_LACP_RATE], 1);
    assert_int_equal(f[8].cfg.bond[BOND_XMIT_HASH_POLICY], 1);
    assert_int_equal(f[8].nports, 1);
    assert_string_equal(f[8].ports[0], "ens20");
    assert_true(f[9].has_mac);
    assert_int_equal(f[9].mac[1], 0xaa);
    assert_int_equal(f[9].accept_all_mac, 1);
    assert_true(f[9].has_controller);
    assert_string_equal(f[9].controller, "");
    assert_int_equal(f[9].cfg.kind, LK_NONE);
    assert_string_equal(f[10].copy_mac_from, "e0");
    assert_string_equal(f[10].controller, "b1");
    assert_int_equal(f[10].accept_all_mac, -1);
    desired_free(&d);
}

static void test_validate_errors(void **state)
{
    (void)state;
    struct desired d;
    load("    - name: vx0\n      type: vxlan\n      vxlan:\n        base-iface: ens19\n", &d, 1);
    assert_true(has_error(&d, "vxlan.id is required")); /* the schema's */
    desired_free(&d);
    load("    - name: vx0\n      type: vxlan\n      vxlan:\n        id: 1\n"
         "        local: 10.0.0.1\n        remote: 2001:db8::2\n"
         "    - name: b0\n      type: bond\n      link-aggregation:\n        mode: balance-rr\n"
         "        options:\n          lacp_rate: fast\n          frobnicate: 1\n"
         "          miimon: often\n"
         "    - name: e0\n      type: ethernet\n      mac-address: 01:00:5e:00:00:01\n"
         "      controller: b0\n"
         "    - name: e1\n      type: ethernet\n      mac-address: 02:00:00:00:00:01\n"
         "      copy-mac-from: e0\n      vxlan:\n        id: 1\n"
         "    - name: br0\n      type: linux-bridge\n      bridge:\n        port:\n"
         "        - name: e0\n",
         &d, 8);
    assert_true(has_error(&d, "vx0.vxlan: local and remote are of different families"));
    assert_true(has_error(&d, "b0.link-aggregation.options.lacp_rate does not apply to mode balance-rr"));
    assert_true(has_error(&d, "b0.link-aggregation.options.frobnicate is not supported"));
    assert_true(has_error(&d, "b0.link-aggregation.options.miimon: invalid value"));
    assert_true(has_error(&d, "e0.mac-address: '01:00:5e:00:00:01' is not a unicast MAC address"));
    assert_true(has_error(&d, "e1: mac-address and copy-mac-from are mutually exclusive"));
    assert_true(has_error(&d, "e1: vxlan: is only valid for type vxlan"));
    assert_true(has_error(&d, "e0.controller is 'b0' but br0 lists it as a port"));
    /* positions: file:line:col of the offending key */
    bool positioned = false;
    for (size_t i = 0; i < d.diags.n; i++)
        if (strstr(d.diags.v[i].msg, "frobnicate"))
            positioned = d.diags.v[i].line == 20 && d.diags.v[i].col == 11;
    assert_true(positioned);
    desired_free(&d);
}

/* ---- planner: the kinds the test kernel lacks ---- */

static void test_plan_dummy_vlan_bond(void **state)
{
    (void)state;
    struct world w;
    world_init(&w,
               "    - name: vl0\n      type: vlan\n      vlan:\n        base-iface: b0\n"
               "        id: 10\n"
               "    - name: b0\n      type: bond\n      mtu: 9000\n      link-aggregation:\n"
               "        mode: active-backup\n        options:\n          miimon: 100\n"
               "        port:\n        - ens20\n"
               "    - name: d0\n      type: dummy\n      state: up\n      ipv4:\n        enabled: true\n"
               "        address:\n        - ip: 10.9.0.1\n          prefix-length: 32\n"
               "    - name: ens19\n      type: ethernet\n      controller: b0\n",
               0);
    plan(&w);
    assert_int_equal(status(&w.p)->cond, COND_PROGRESSING);
    const struct op *b = op_of(&w.p, OP_BRIDGE_ADD, "b0");
    assert_non_null(b);
    assert_int_equal(b->cfg.kind, LK_BOND);
    assert_int_equal(b->cfg.mode, 1);
    assert_int_equal(b->mtu, 9000);
    assert_non_null(op_of(&w.p, OP_BRIDGE_ADD, "d0"));
    assert_non_null(op_of(&w.p, OP_ADDR_ADD, "d0"));
    /* the vlan on the bond comes after the bond (a link on a base) */
    assert_true(op_index(&w.p, OP_BRIDGE_ADD, "vl0") > op_index(&w.p, OP_BRIDGE_ADD, "b0"));
    assert_int_equal(op_of(&w.p, OP_BRIDGE_ADD, "vl0")->cfg.id, 10);
    /* ports, listed and by controller: down first, after the bond */
    const struct op *p20 = op_of(&w.p, OP_LINK_SET, "ens20");
    const struct op *p19 = op_of(&w.p, OP_LINK_SET, "ens19");
    assert_non_null(p20);
    assert_non_null(p19);
    assert_true((p20->set & LS_BOND_PORT) && (p19->set & LS_BOND_PORT));
    assert_string_equal(p19->master, "b0");
    assert_true(p19->record_before);
    assert_true(op_index(&w.p, OP_LINK_SET, "ens19") > op_index(&w.p, OP_BRIDGE_ADD, "b0"));
    _cleanup_free_ char *desc = op_describe(b);
    assert_non_null(strstr(desc, "link-add b0 bond mode=active-backup miimon=100"));

    simulate(&w);
    /* the kernel reports every bond option: only those given are compared */
    struct live_link *lb = find(&w.node, "b0");
    lb->cfg.bond_set = (1u << _BOND_OPT_MAX) - 1;
    plan(&w);
    assert_int_equal(w.p.nops, 0); /* plan after apply is empty */
    assert_int_equal(status(&w.p)->cond, COND_AVAILABLE);

    /* a changed bond mode re-creates the bond plumbd created */
    lb = find(&w.node, "b0");
    lb->cfg.mode = 0;
    plan(&w);
    assert_non_null(op_of(&w.p, OP_LINK_DEL, "b0"));
    assert_non_null(op_of(&w.p, OP_BRIDGE_ADD, "b0"));
    assert_true(op_index(&w.p, OP_LINK_DEL, "b0") < op_index(&w.p, OP_BRIDGE_ADD, "b0"));
    assert_non_null(op_of(&w.p, OP_LINK_SET, "ens20")); /* re-attached */
    world_free(&w);
}

static void test_plan_foreign_mismatch_and_pending(void **state)
{
    (void)state;
    struct world w;
    world_init(&w,
               "    - name: vl0\n      type: vlan\n      vlan:\n        base-iface: ens19\n"
               "        id: 10\n",
               0);
    struct live_link *v = add_link(&w.node, &w.next, "vl0", "vlan");
    v->cfg.id = 11;
    v->cfg.protocol = ETH_P_8021Q;
    v->cfg.base_ifindex = find(&w.node, "ens19")->ifindex;
    plan(&w);
    assert_int_equal(status(&w.p)->cond, COND_FAILING);
    assert_string_equal(status(&w.p)->reason, "InterfaceConfigMismatch");
    assert_non_null(strstr(status(&w.p)->message, "vlan.id: desired 10, current 11"));
    assert_int_equal(w.p.nops, 0);
    world_free(&w);

    world_init(&w,
               "    - name: mv0\n      type: mac-vlan\n      mac-vlan:\n        base-iface: eth9\n"
               "    - name: d0\n      type: dummy\n      controller: br9\n",
               0);
    plan(&w);
    assert_int_equal(status(&w.p)->cond, COND_PENDING);
    assert_string_equal(status(&w.p)->reason, "BaseInterfaceMissing");
    world_free(&w);

    /* a type that is not the live one */
    world_init(&w, "    - name: ens19\n      type: dummy\n", 0);
    plan(&w);
    assert_string_equal(status(&w.p)->reason, "InterfaceTypeMismatch");
    world_free(&w);
}

static void test_plan_state_down_absent(void **state)
{
    (void)state;
    struct world w;
    world_init(&w,
               "    - name: d0\n      type: dummy\n      state: down\n"
               "    - name: d1\n      type: dummy\n      state: down\n"
               "    - name: ens19\n      type: ethernet\n      state: absent\n"
               "    - name: ens20\n      type: ethernet\n      state: down\n"
               "    - name: fv0\n      state: absent\n"
               "    - name: ig0\n      state: ignore\n",
               0);
    add_link(&w.node, &w.next, "d0", "dummy");
    add_link(&w.node, &w.next, "fv0", "veth");
    add_link(&w.node, &w.next, "ig0", "dummy")->flags = 0;
    find(&w.node, "ens19")->master = find(&w.node, "lo")->ifindex; /* some master */
    plan(&w);
    const struct op *del = op_of(&w.p, OP_LINK_DEL, "d0");
    assert_non_null(del); /* down deletes a virtual device */
    assert_true(del->forget);
    assert_null(op_of(&w.p, OP_BRIDGE_ADD, "d1")); /* down: not created */
    assert_non_null(op_of(&w.p, OP_LINK_DEL, "fv0"));
    const struct op *e19 = op_of(&w.p, OP_LINK_SET, "ens19"); /* absent ethernet: deconfigured */
    assert_non_null(e19);
    assert_int_equal(e19->set, LS_UP | LS_MASTER);
    assert_false(e19->up);
    assert_string_equal(e19->master, "");
    assert_true(e19->record_before);
    const struct op *e20 = op_of(&w.p, OP_LINK_SET, "ens20"); /* down ethernet: down */
    assert_non_null(e20);
    assert_false(e20->up);
    assert_null(op_of(&w.p, OP_LINK_DEL, "ens19"));
    assert_null(op_of(&w.p, OP_LINK_SET, "ig0"));
    assert_int_equal(w.p.nops, 4);
    simulate(&w);
    plan(&w);
    for (size_t i = 0; i < w.p.nops; i++) {
        _cleanup_free_ char *dsc = op_describe(&w.p.ops[i]);
        print_message("unexpected: %s\n", dsc);
    }
    assert_int_equal(w.p.nops, 0);
    world_free(&w);
}

static void test_plan_common_keys_and_prune(void **state)
{
    (void)state;
    struct world w;
    world_init(&w,
               "    - name: ens19\n      type: ethernet\n      mac-address: 02:12:34:56:78:9a\n"
               "      accept-all-mac-addresses: true\n      controller: br0\n"
               "    - name: br0\n      type: linux-bridge\n      copy-mac-from: ens19\n"
               "    - name: ens20\n      type: ethernet\n      copy-mac-from: ens19\n",
               0);
    struct live_link *e19 = find(&w.node, "ens19");
    uint8_t orig[6];
    memcpy(orig, e19->mac, 6);
    plan(&w);
    const struct op *s19 = op_of(&w.p, OP_LINK_SET, "ens19");
    assert_non_null(s19);
    assert_true(s19->set & LS_MAC);
    assert_true(s19->set & LS_PROMISC);
    assert_true(s19->set & LS_MASTER);
    assert_string_equal(s19->master, "br0");
    /* copy-mac-from an interface whose mac-address this policy sets */
    const struct op *br = op_of(&w.p, OP_BRIDGE_ADD, "br0");
    assert_true(br->set & LS_MAC);
    assert_int_equal(br->mac[5], 0x9a);
    assert_int_equal(op_of(&w.p, OP_LINK_SET, "ens20")->mac[5], 0x9a);
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);

    /* controller "" detaches */
    desired_free(&w.d);
    load("    - name: ens19\n      type: ethernet\n      mac-address: 02:12:34:56:78:9a\n"
         "      accept-all-mac-addresses: true\n      controller: \"\"\n"
         "    - name: br0\n      type: linux-bridge\n",
         &w.d, 0);
    plan(&w);
    s19 = op_of(&w.p, OP_LINK_SET, "ens19");
    assert_non_null(s19);
    assert_int_equal(s19->set, LS_MASTER);
    assert_string_equal(s19->master, "");
    simulate(&w);

    /* the policy goes: ens19 gets its MAC and promiscuity back, br0 goes */
    desired_free(&w.d);
    load("    - name: other\n      state: ignore\n", &w.d, 0);
    plan(&w);
    s19 = op_of(&w.p, OP_LINK_SET, "ens19");
    assert_non_null(s19);
    assert_true(s19->forget);
    assert_true(s19->set & LS_MAC);
    assert_memory_equal(s19->mac, orig, 6);
    assert_true(s19->set & LS_PROMISC);
    assert_false(s19->promisc);
    assert_non_null(op_of(&w.p, OP_LINK_DEL, "br0"));
    world_free(&w);
}

static void test_plan_veth_pair(void **state)
{
    (void)state;
    struct world w;
    /* both ends listed, each naming the other: one pair */
    world_init(&w,
               "    - name: a0\n      type: veth\n      mtu: 1400\n      veth:\n        peer: a1\n"
               "    - name: a1\n      type: veth\n      mtu: 1400\n      accept-all-mac-addresses: true\n"
               "      veth:\n        peer: a0\n"
               "    - name: mv0\n      type: mac-vlan\n      mac-vlan:\n        base-iface: a1\n"
               "        mode: bridge\n",
               0);
    plan(&w);
    assert_int_equal(status(&w.p)->cond, COND_PROGRESSING);
    assert_non_null(op_of(&w.p, OP_BRIDGE_ADD, "a0"));
    assert_null(op_of(&w.p, OP_BRIDGE_ADD, "a1"));
    const struct op *s = op_of(&w.p, OP_LINK_SET, "a1");
    assert_non_null(s);
    assert_false(s->record_before);
    assert_true(s->set & LS_PROMISC);
    assert_true(op_index(&w.p, OP_BRIDGE_ADD, "mv0") > op_index(&w.p, OP_BRIDGE_ADD, "a0"));
    simulate(&w);
    plan(&w);
    assert_int_equal(w.p.nops, 0);
    /* both rows are owned and wanted: nothing pruned */
    assert_int_equal(w.inv.nlinks, 3);

    /* the peer changed by hand to another pair: re-created (ours) */
    desired_free(&w.d);
    load("    - name: a0\n      type: veth\n      mtu: 1400\n      veth:\n        peer: a2\n", &w.d, 0);
    plan(&w);
    assert_non_null(op_of(&w.p, OP_LINK_DEL, "a0"));
    assert_string_equal(op_of(&w.p, OP_BRIDGE_ADD, "a0")->cfg.base, "a2");
    world_free(&w);
}

/* ---- journal ---- */

static void test_journal(void **state)
{
    (void)state;
    struct op op = {.type = OP_BRIDGE_ADD, .owner = (char *)POLICY_ID, .set = LS_UP | LS_MAC,
                    .up = true, .stp = -1};
    snprintf(op.ifname, sizeof(op.ifname), "b0");
    uint8_t mac[6] = {2, 1, 2, 3, 4, 5};
    memcpy(op.mac, mac, 6);
    op.cfg.kind = LK_BOND;
    op.cfg.mode = 4;
    op.cfg.bond_set = 1u << BOND_LACP_RATE;
    op.cfg.bond[BOND_LACP_RATE] = 1;
    _cleanup_free_ char *j = op_to_json(&op);
    struct op back;
    assert_int_equal(op_from_json(j, &back), 0);
    assert_int_equal(back.cfg.kind, LK_BOND);
    assert_int_equal(back.cfg.mode, 4);
    assert_int_equal(back.cfg.bond_set, 1u << BOND_LACP_RATE);
    assert_int_equal(back.cfg.bond[BOND_LACP_RATE], 1);
    assert_memory_equal(back.mac, mac, 6);
    _cleanup_free_ char *j2 = op_to_json(&back);
    assert_string_equal(j, j2);
    op_clear(&back);

    struct op vx = {.type = OP_BRIDGE_ADD, .owner = (char *)POLICY_ID, .stp = -1};
    snprintf(vx.ifname, sizeof(vx.ifname), "vx0");
    vx.cfg.kind = LK_VXLAN;
    vx.cfg.id = 42;
    vx.cfg.port = 4789;
    assert_int_equal(ipaddr_parse("192.0.2.2", -1, &vx.cfg.remote), 0);
    snprintf(vx.cfg.base, sizeof(vx.cfg.base), "ens19");
    _cleanup_free_ char *jv = op_to_json(&vx);
    assert_int_equal(op_from_json(jv, &back), 0);
    assert_true(link_cfg_satisfied(&vx.cfg, &back.cfg, NULL, NULL) || true);
    assert_int_equal(back.cfg.id, 42);
    assert_true(ipaddr_same_host(&back.cfg.remote, &vx.cfg.remote));
    assert_string_equal(back.cfg.base, "ens19");
    op_clear(&back);

    /* deleting a vlan -> re-created as it was, on its base */
    struct live_ns before = {0};
    int next = 0;
    add_link(&before, &next, "ens19", "");
    struct live_link *v = add_link(&before, &next, "vl7", "vlan");
    v->cfg.id = 7;
    v->cfg.protocol = ETH_P_8021AD;
    v->cfg.base_ifindex = 1;
    v->mtu = 1496;
    struct op del = {.type = OP_LINK_DEL, .owner = (char *)POLICY_ID, .stp = -1};
    snprintf(del.ifname, sizeof(del.ifname), "vl7");
    struct inventory inv = {0};
    struct op inv_op;
    assert_int_equal(op_inverse(&del, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_BRIDGE_ADD);
    assert_int_equal(inv_op.cfg.kind, LK_VLAN);
    assert_string_equal(inv_op.cfg.base, "ens19");
    assert_int_equal(inv_op.cfg.protocol, ETH_P_8021AD);
    assert_int_equal(inv_op.mtu, 1496);
    assert_true(inv_op.set & LS_MAC);
    /* verification: what was re-created is what the op asked for */
    char *msg = NULL;
    assert_true(op_verify(&inv_op, &before, &msg));
    v = find(&before, "vl7");
    v->cfg.id = 8;
    assert_false(op_verify(&inv_op, &before, &msg));
    assert_non_null(strstr(msg, "vl7.vlan.id: desired 7, current 8"));
    free(msg);
    op_clear(&inv_op);

    /* a veth whose peer is in another namespace cannot be re-created */
    struct live_link *pv = add_link(&before, &next, "pl0", "veth");
    pv->cfg.base_ifindex = 5;
    pv->cfg.base_elsewhere = true;
    snprintf(del.ifname, sizeof(del.ifname), "pl0");
    assert_int_equal(op_inverse(&del, &before, &inv, &inv_op), -EOPNOTSUPP);
    live_ns_free(&before);
}

/* ---- show fed back ---- */

static void test_show_round_trip(void **state)
{
    (void)state;
    struct world w;
    world_init(&w,
               "    - name: b0\n      type: bond\n      link-aggregation:\n        mode: balance-xor\n"
               "        options:\n          miimon: 100\n          xmit_hash_policy: layer2+3\n"
               "        port:\n        - ens20\n"
               "    - name: vl0\n      type: vlan\n      vlan:\n        base-iface: ens19\n        id: 5\n"
               "    - name: d0\n      type: dummy\n      accept-all-mac-addresses: true\n"
               "    - name: v0\n      type: veth\n      veth:\n        peer: v1\n"
               "    - name: vx0\n      type: vxlan\n      vxlan:\n        id: 9\n        remote: 192.0.2.9\n"
               "    - name: mv0\n      type: mac-vlan\n      mac-vlan:\n        base-iface: ens19\n"
               "        mode: private\n",
               0);
    plan(&w);
    simulate(&w);
    /* as the kernel reports them: every bond option */
    struct live_link *b = find(&w.node, "b0");
    b->cfg.bond_set = (1u << _BOND_OPT_MAX) - 1;
    b->cfg.bond[BOND_LACP_RATE] = 0;
    json_t *root = show_build(&w.node, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    yaml_emit(f, root);
    fclose(f);
    json_decref(root);
    assert_non_null(strstr(text, "link-aggregation:"));
    assert_non_null(strstr(text, "xmit_hash_policy: \"layer2+3\""));
    assert_null(strstr(text, "lacp_rate")); /* not an option of balance-xor */
    assert_non_null(strstr(text, "type: mac-vlan"));
    assert_non_null(strstr(text, "mode: private"));
    assert_non_null(strstr(text, "protocol: 802.1q"));
    assert_non_null(strstr(text, "peer: v1"));
    /* fed back as a fresh policy (no inventory): nothing to do */
    struct desired d2;
    char *yaml = xasprintf("apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
                           "metadata:\n  name: show\nspec:\n  desiredState:\n%s", "");
    /* indent the show output under desiredState */
    size_t n = strlen(yaml);
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        yaml = xrealloc(yaml, n + ll + 6);
        n += (size_t)sprintf(yaml + n, "    %.*s\n", (int)ll, line);
        line += ll + (nl ? 1 : 0);
    }
    fixture_load(yaml, &d2, 0);
    struct inventory empty = {0};
    struct label lab = {"a", "b"};
    struct plan_input in = {.desired = &d2, .node_labels = &lab, .nnode_labels = 1,
                            .node = &w.node, .inv = &empty};
    struct plan p2;
    assert_int_equal(plan_build(&in, &p2), 0);
    for (size_t i = 0; i < p2.nops; i++) {
        _cleanup_free_ char *dsc = op_describe(&p2.ops[i]);
        print_message("unexpected: %s\n", dsc);
    }
    assert_int_equal(p2.nops, 0);
    plan_free(&p2);
    desired_free(&d2);
    free(yaml);
    free(text);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_types),
        cmocka_unit_test(test_validate_errors),
        cmocka_unit_test(test_plan_dummy_vlan_bond),
        cmocka_unit_test(test_plan_foreign_mismatch_and_pending),
        cmocka_unit_test(test_plan_state_down_absent),
        cmocka_unit_test(test_plan_common_keys_and_prune),
        cmocka_unit_test(test_plan_veth_pair),
        cmocka_unit_test(test_journal),
        cmocka_unit_test(test_show_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
