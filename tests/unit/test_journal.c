/* test_journal.c - journal records and inverses (journal.c), pure: an op
 * survives its JSON round trip, each op's inverse is computed from the
 * before-image, and read-back verification names the attribute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <net/if.h>

#include "journal.h"

static struct live_link *add(struct live_ns *l, int idx, const char *name, const char *kind,
                             int master, bool up, unsigned mtu)
{
    struct live_link *k = ARRAY_PUSH(l->links, l->nlinks);
    k->ifindex = idx;
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    k->master = master;
    k->flags = up ? IFF_UP : 0;
    k->mtu = mtu;
    k->stp = streq(kind, "bridge") ? 0 : -1;
    return k;
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct op op = {.type = OP_POD_ATTACH, .owner = xstrdup("Pod/default/a"), .stp = -1};
    snprintf(op.ifname, sizeof(op.ifname), "plx");
    op.pa.netns = xstrdup("/run/netns/a");
    op.pa.network = xstrdup("br-1");
    snprintf(op.pa.pod_if, sizeof(op.pa.pod_if), "net1");
    snprintf(op.pa.host_if, sizeof(op.pa.host_if), "plx");
    snprintf(op.pa.bridge, sizeof(op.pa.bridge), "br-1");
    op.pa.has_mac = true;
    mac_parse("c2:b0:57:49:47:f1", op.pa.mac);
    struct ipaddr a;
    ipaddr_parse("192.168.255.100/24", -1, &a);
    *ARRAY_PUSH(op.pa.addrs, op.pa.naddrs) = a;
    struct route rt = {.has_gw = true};
    ipaddr_parse("0.0.0.0/0", -1, &rt.dst);
    ipaddr_parse("192.168.255.254", -1, &rt.gw);
    *ARRAY_PUSH(op.pa.routes, op.pa.nroutes) = rt;
    op.pa.replace = true;

    _cleanup_free_ char *js = op_to_json(&op);
    struct op back;
    assert_int_equal(op_from_json(js, &back), 0);
    _cleanup_free_ char *js2 = op_to_json(&back);
    assert_string_equal(js, js2);
    _cleanup_free_ char *d1 = op_describe(&op), *d2 = op_describe(&back);
    assert_string_equal(d1, d2);
    op_clear(&op);
    op_clear(&back);

    assert_int_equal(op_from_json("{\"type\":\"nonsense\"}", &back), -EINVAL);
    assert_int_equal(op_from_json("not json", &back), -EINVAL);
    assert_int_equal(op_from_json("{\"type\":\"link-del\",\"ifname\":\"0123456789abcdefX\"}",
                                  &back),
                     -EINVAL);
}

static void test_inverses(void **state)
{
    (void)state;
    struct live_ns before = {0};
    add(&before, 1, "ens19", "", 0, false, 1400);
    struct live_link *br = add(&before, 2, "br-old", "bridge", 0, true, 9000);
    br->alias = xstrdup("old bridge");
    struct inventory inv = {0};
    struct op inv_op;

    /* bridge-add -> link-del */
    struct op add_br = {.type = OP_BRIDGE_ADD, .owner = "P/x", .stp = -1};
    snprintf(add_br.ifname, sizeof(add_br.ifname), "br-1");
    assert_int_equal(op_inverse(&add_br, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_LINK_DEL);
    assert_string_equal(inv_op.ifname, "br-1");
    op_clear(&inv_op);

    /* link-set of a foreign link -> its before-image, and hand it back */
    struct op set = {.type = OP_LINK_SET, .owner = "P/x", .set = LS_MASTER | LS_UP | LS_MTU,
                     .up = true, .mtu = 1500, .record_before = true, .stp = -1};
    snprintf(set.ifname, sizeof(set.ifname), "ens19");
    snprintf(set.master, sizeof(set.master), "br-1");
    assert_int_equal(op_inverse(&set, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_LINK_SET);
    assert_string_equal(inv_op.master, "");
    assert_false(inv_op.up);
    assert_int_equal(inv_op.mtu, 1400);
    assert_true(inv_op.forget);
    op_clear(&inv_op);

    /* deleting a bridge -> re-create it as it was */
    struct op del = {.type = OP_LINK_DEL, .owner = "P/x", .stp = -1};
    snprintf(del.ifname, sizeof(del.ifname), "br-old");
    assert_int_equal(op_inverse(&del, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_BRIDGE_ADD);
    assert_int_equal(inv_op.mtu, 9000);
    assert_string_equal(inv_op.alias, "old bridge");
    op_clear(&inv_op);

    /* deleting something that is not a bridge cannot be undone */
    snprintf(del.ifname, sizeof(del.ifname), "ens19");
    assert_int_equal(op_inverse(&del, &before, &inv, &inv_op), -EOPNOTSUPP);

    /* pod-attach -> pod-detach; a replacing attach -> the old attachment */
    struct op att = {.type = OP_POD_ATTACH, .owner = "Pod/default/a", .stp = -1};
    snprintf(att.pa.pod_if, sizeof(att.pa.pod_if), "net1");
    snprintf(att.pa.host_if, sizeof(att.pa.host_if), "plx");
    att.pa.netns = "/run/netns/a";
    att.pa.network = "br-1";
    assert_int_equal(op_inverse(&att, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_POD_DETACH);
    op_clear(&inv_op);
    struct owned_attach old = {.owner = "Pod/default/a", .netns = "/run/netns/a",
                               .network = "br-1", .naddrs = 1};
    snprintf(old.pod_if, sizeof(old.pod_if), "net1");
    snprintf(old.host_if, sizeof(old.host_if), "plx");
    mac_parse("02:00:00:00:00:07", old.mac);
    struct ipaddr oa;
    ipaddr_parse("192.168.255.102/24", -1, &oa);
    old.addrs = &oa;
    inv.attach = &old;
    inv.nattach = 1;
    att.pa.replace = true;
    assert_int_equal(op_inverse(&att, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_POD_ATTACH);
    assert_int_equal(inv_op.pa.naddrs, 1);
    char buf[64];
    assert_string_equal(ipaddr_format(&inv_op.pa.addrs[0], true, buf, sizeof(buf)),
                        "192.168.255.102/24");
    assert_int_equal(inv_op.pa.mac[5], 7);
    op_clear(&inv_op);

    free(br->alias);
    br->alias = NULL;
    live_ns_free(&before);
}

/* default-route: gateways and displaced routes survive the journal, an
 * attach's undo (a detach) restores them, a detach's undo takes over again;
 * the inventory column round-trips the routes to restore. */
static void test_default_route_journal(void **state)
{
    (void)state;
    struct op att = {.type = OP_POD_ATTACH, .owner = "Pod/default/d", .stp = -1};
    snprintf(att.ifname, sizeof(att.ifname), "pl1");
    snprintf(att.pa.pod_if, sizeof(att.pa.pod_if), "net1");
    snprintf(att.pa.host_if, sizeof(att.pa.host_if), "pl1");
    att.pa.netns = "/run/netns/d";
    att.pa.network = "n";
    struct ipaddr gw;
    assert_int_equal(ipaddr_parse("192.168.255.1", -1, &gw), 0);
    att.pa.default_gw = &gw;
    att.pa.ndefault_gw = 1;
    struct saved_route prev[2] = {{.ifname = "eth0", .metric = 0, .protocol = 4, .restore = true},
                                  {.ifname = "net2", .metric = 100, .restore = false}};
    for (int i = 0; i < 2; i++) {
        prev[i].rt.dst.family = AF_INET;
        prev[i].rt.has_gw = true;
        assert_int_equal(ipaddr_parse(i ? "10.2.0.1" : "10.0.0.1", -1, &prev[i].rt.gw), 0);
    }
    att.pa.prev_defaults = prev;
    att.pa.nprev_defaults = 2;

    _cleanup_free_ char *j = op_to_json(&att);
    assert_non_null(strstr(j, "\"default_gw\":[\"192.168.255.1\"]"));
    struct op back;
    assert_int_equal(op_from_json(j, &back), 0);
    assert_int_equal(back.pa.ndefault_gw, 1);
    assert_true(ipaddr_same_host(&back.pa.default_gw[0], &gw));
    assert_int_equal(back.pa.nprev_defaults, 2);
    assert_string_equal(back.pa.prev_defaults[0].ifname, "eth0");
    assert_int_equal(back.pa.prev_defaults[0].protocol, 4);
    assert_true(back.pa.prev_defaults[0].restore);
    assert_false(back.pa.prev_defaults[1].restore);
    assert_int_equal(back.pa.prev_defaults[1].metric, 100);
    assert_true(ipaddr_same_host(&back.pa.prev_defaults[0].rt.gw, &prev[0].rt.gw));
    op_clear(&back);

    /* undo of the attach: a detach that puts the displaced routes back */
    struct live_ns before = {0};
    struct inventory inv = {0};
    struct op u;
    assert_int_equal(op_inverse(&att, &before, &inv, &u), 0);
    assert_int_equal(u.type, OP_POD_DETACH);
    assert_int_equal(u.pa.nprev_defaults, 2);
    op_clear(&u);

    /* the inventory's record keeps only what is to be restored */
    _cleanup_free_ char *rec = defroute_to_json(&gw, 1, prev, 2);
    assert_non_null(rec);
    struct ipaddr *g2 = NULL;
    size_t ng2 = 0, np2 = 0;
    struct saved_route *p2 = NULL;
    assert_int_equal(defroute_from_json(rec, &g2, &ng2, &p2, &np2), 0);
    assert_int_equal(ng2, 1);
    assert_int_equal(np2, 1);
    assert_string_equal(p2[0].ifname, "eth0");
    assert_null(defroute_to_json(NULL, 0, &prev[1], 1)); /* nothing to record */
    assert_int_equal(defroute_from_json("{\"gw\":[\"x\"]}", &g2, &ng2, &p2, &np2), -EINVAL);

    /* undo of a detach: re-attached as recorded, taking the route over */
    struct owned_attach oa = {.owner = "Pod/default/d", .netns = "/run/netns/d", .network = "n",
                              .default_gw = g2, .ndefault_gw = 1, .prev_defaults = p2,
                              .nprev_defaults = 1};
    snprintf(oa.pod_if, sizeof(oa.pod_if), "net1");
    snprintf(oa.host_if, sizeof(oa.host_if), "pl1");
    inv.attach = &oa;
    inv.nattach = 1;
    add(&before, 9, "pl1", "veth", 0, true, 1500);
    struct op det = {.type = OP_POD_DETACH, .owner = "Pod/default/d", .stp = -1};
    snprintf(det.ifname, sizeof(det.ifname), "pl1");
    snprintf(det.pa.pod_if, sizeof(det.pa.pod_if), "net1");
    snprintf(det.pa.host_if, sizeof(det.pa.host_if), "pl1");
    assert_int_equal(op_inverse(&det, &before, &inv, &u), 0);
    assert_int_equal(u.type, OP_POD_ATTACH);
    assert_int_equal(u.pa.ndefault_gw, 1);
    assert_int_equal(u.pa.nprev_defaults, 1);
    assert_int_equal(u.pa.nroutes, 1);
    assert_int_equal(u.pa.routes[0].dst.prefix, 0);
    assert_true(ipaddr_same_host(&u.pa.routes[0].gw, &gw));
    op_clear(&u);
    free(g2);
    free(p2);
    live_ns_free(&before);
}

static void test_verify(void **state)
{
    (void)state;
    struct live_ns after = {0};
    add(&after, 1, "ens19", "", 3, true, 1500);
    add(&after, 3, "br-1", "bridge", 0, true, 1500);
    char *msg = NULL;

    struct op ok = {.type = OP_LINK_SET, .owner = "P/x", .set = LS_MASTER | LS_UP, .up = true,
                    .stp = -1};
    snprintf(ok.ifname, sizeof(ok.ifname), "ens19");
    snprintf(ok.master, sizeof(ok.master), "br-1");
    assert_true(op_verify(&ok, &after, &msg));

    struct op mtu = {.type = OP_LINK_SET, .owner = "P/x", .set = LS_MTU, .mtu = 9000, .stp = -1};
    snprintf(mtu.ifname, sizeof(mtu.ifname), "br-1");
    assert_false(op_verify(&mtu, &after, &msg));
    assert_string_equal(msg, "br-1.mtu: desired 9000, current 1500");
    free(msg);

    struct op stp = {.type = OP_BRIDGE_ADD, .owner = "P/x", .set = LS_STP, .stp = 1};
    snprintf(stp.ifname, sizeof(stp.ifname), "br-1");
    assert_false(op_verify(&stp, &after, &msg));
    assert_string_equal(msg, "br-1.bridge.options.stp.enabled: desired true, current false");
    free(msg);

    struct op gone = {.type = OP_LINK_DEL, .owner = "P/x", .stp = -1};
    snprintf(gone.ifname, sizeof(gone.ifname), "br-1");
    assert_false(op_verify(&gone, &after, &msg));
    free(msg);
    live_ns_free(&after);
}


/* The NAD keys of issue 7: port flags, VLANs, macvlan, bridge settings and
 * sysctls survive the journal and undo to the before-image. */
static void test_nad_keys_roundtrip_and_undo(void **state)
{
    (void)state;
    struct op op = {.type = OP_POD_ATTACH, .owner = xstrdup("Pod/default/a"), .stp = -1};
    snprintf(op.ifname, sizeof(op.ifname), "plx");
    op.pa.netns = xstrdup("/run/netns/a");
    op.pa.network = xstrdup("n");
    snprintf(op.pa.pod_if, sizeof(op.pa.pod_if), "net1");
    snprintf(op.pa.host_if, sizeof(op.pa.host_if), "plx");
    snprintf(op.pa.bridge, sizeof(op.pa.bridge), "br-1");
    op.pa.hairpin = op.pa.isolated = op.pa.link_down = op.pa.dad = true;
    op.pa.vlan = 100;
    op.pa.drop_default_vlan = true;
    *ARRAY_PUSH(op.pa.trunk, op.pa.ntrunk) = (struct vlan_range){10, 20};
    _cleanup_free_ char *js = op_to_json(&op);
    struct op back;
    assert_int_equal(op_from_json(js, &back), 0);
    assert_true(back.pa.hairpin && back.pa.isolated && back.pa.link_down && back.pa.dad);
    assert_int_equal(back.pa.vlan, 100);
    assert_true(back.pa.drop_default_vlan);
    assert_int_equal(back.pa.ntrunk, 1);
    assert_int_equal(back.pa.trunk[0].max, 20);
    assert_int_equal(back.pa.kind, ATTACH_VETH);
    _cleanup_free_ char *js2 = op_to_json(&back);
    assert_string_equal(js, js2);
    op_clear(&back);
    op_clear(&op);

    /* macvlan: kind and mode; its detach needs no host end to be undone */
    struct op mv = {.type = OP_POD_ATTACH, .owner = xstrdup("Pod/default/m"), .stp = -1};
    snprintf(mv.ifname, sizeof(mv.ifname), "pm0123456789ab");
    mv.pa.kind = ATTACH_MACVLAN;
    mv.pa.macvlan_mode = CNI_MACVLAN_PRIVATE;
    mv.pa.netns = xstrdup("/run/netns/m");
    mv.pa.network = xstrdup("mv");
    snprintf(mv.pa.pod_if, sizeof(mv.pa.pod_if), "net1");
    snprintf(mv.pa.host_if, sizeof(mv.pa.host_if), "pm0123456789ab");
    snprintf(mv.pa.bridge, sizeof(mv.pa.bridge), "ens20");
    _cleanup_free_ char *mjs = op_to_json(&mv);
    assert_non_null(strstr(mjs, "\"kind\":\"macvlan\""));
    assert_int_equal(op_from_json(mjs, &back), 0);
    assert_int_equal(back.pa.kind, ATTACH_MACVLAN);
    assert_int_equal(back.pa.macvlan_mode, CNI_MACVLAN_PRIVATE);
    op_clear(&back);
    struct live_ns before = {0};
    struct inventory inv = {0};
    struct op inv_op;
    assert_int_equal(op_inverse(&mv, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_POD_DETACH);
    assert_int_equal(inv_op.pa.kind, ATTACH_MACVLAN);
    op_clear(&inv_op);
    struct owned_attach oa = {.owner = "Pod/default/m", .netns = "/run/netns/m",
                              .network = "mv"};
    snprintf(oa.pod_if, sizeof(oa.pod_if), "net1");
    snprintf(oa.host_if, sizeof(oa.host_if), "pm0123456789ab");
    snprintf(oa.bridge, sizeof(oa.bridge), "ens20");
    inv.attach = &oa;
    inv.nattach = 1;
    struct op det = {.type = OP_POD_DETACH, .owner = xstrdup("Pod/default/m"), .stp = -1};
    snprintf(det.pa.pod_if, sizeof(det.pa.pod_if), "net1");
    snprintf(det.pa.host_if, sizeof(det.pa.host_if), "pm0123456789ab");
    assert_int_equal(op_inverse(&det, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_POD_ATTACH);
    assert_int_equal(inv_op.pa.kind, ATTACH_MACVLAN);
    assert_string_equal(inv_op.pa.bridge, "ens20");
    op_clear(&inv_op);
    op_clear(&det);
    op_clear(&mv);

    /* promisc and vlan_filtering on a bridge: undo to what it was */
    struct live_link *br = add(&before, 3, "br-1", "bridge", 0, true, 1500);
    br->vlan_filtering = 0;
    struct op set = {.type = OP_LINK_SET, .owner = xstrdup("Pod/default/a"), .stp = -1};
    snprintf(set.ifname, sizeof(set.ifname), "br-1");
    set.set = LS_PROMISC | LS_VLAN_FILTERING;
    set.promisc = true;
    set.vlan_filtering = 1;
    _cleanup_free_ char *sjs = op_to_json(&set);
    assert_int_equal(op_from_json(sjs, &back), 0);
    assert_true(back.promisc);
    assert_int_equal(back.vlan_filtering, 1);
    assert_int_equal(back.set, LS_PROMISC | LS_VLAN_FILTERING);
    op_clear(&back);
    assert_int_equal(op_inverse(&set, &before, NULL, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_LINK_SET);
    assert_int_equal(inv_op.set, LS_PROMISC | LS_VLAN_FILTERING);
    assert_false(inv_op.promisc);
    assert_int_equal(inv_op.vlan_filtering, 0);
    _cleanup_free_ char *d = op_describe(&inv_op);
    assert_non_null(strstr(d, "promisc=off vlan_filtering=0"));
    op_clear(&inv_op);
    /* read-back names the attribute */
    char *msg = NULL;
    assert_false(op_verify(&set, &before, &msg));
    assert_non_null(strstr(msg, "br-1.promiscuous: desired on, current off"));
    free(msg);
    br->flags |= IFF_PROMISC;
    br->vlan_filtering = 1;
    assert_true(op_verify(&set, &before, &msg));
    op_clear(&set);

    /* a sysctl: the journal keeps the value before; undo writes it back */
    struct op sc = {.type = OP_SYSCTL, .owner = xstrdup("Pod/default/a"), .stp = -1,
                    .sysctl = xstrdup(SYSCTL_IP_FORWARD), .value = 1, .before = 0};
    _cleanup_free_ char *cjs = op_to_json(&sc);
    assert_int_equal(op_from_json(cjs, &back), 0);
    assert_string_equal(back.sysctl, SYSCTL_IP_FORWARD);
    assert_int_equal(back.value, 1);
    assert_int_equal(back.before, 0);
    op_clear(&back);
    assert_int_equal(op_inverse(&sc, &before, NULL, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_SYSCTL);
    assert_int_equal(inv_op.value, 0);
    assert_string_equal(inv_op.sysctl, SYSCTL_IP_FORWARD);
    op_clear(&inv_op);
    sc.before = 1; /* it was on already: nothing to undo */
    assert_int_equal(op_inverse(&sc, &before, NULL, &inv_op), -ENOENT);
    op_clear(&sc);
    assert_int_equal(op_from_json("{\"type\":\"sysctl\",\"ifname\":\"\"}", &back), -EINVAL);
    live_ns_free(&before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_inverses),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_default_route_journal),
        cmocka_unit_test(test_nad_keys_roundtrip_and_undo),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
