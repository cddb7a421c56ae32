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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_inverses),
        cmocka_unit_test(test_verify),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
