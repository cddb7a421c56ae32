/* test_netlink.c - netns.c, live.c and apply.c against the real kernel.
 *
 * Root only (skipped with a message otherwise). The test builds its own lab:
 * two throwaway namespaces plt-<pid>-node and plt-<pid>-pod, enters the node
 * one, and deletes both at exit, on a failed assertion and on a fatal
 * signal, so `ip netns list` is clean afterwards. The host's root namespace
 * is never touched. Tests run in order and build on each other: br-1 made
 * by the bridge test is the bridge later tests attach to.
 *
 * PLT_FORCE_FAIL=1 makes one test fail on purpose, to check the cleanup. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <sys/stat.h>

#include "apply.h"
#include "live.h"
#include "plan.h"
#include "util.h"

static char node_name[64], pod_name[64], pod_path[128];
static struct netns *node;
static struct apply_ctx ctx;

static const uint8_t seed_mac[6] = { 0xc2, 0xb0, 0x57, 0x49, 0x47, 0xf1 };

/* ---- lab ---- */

static void lab_cleanup(void)
{
    char cmd[256];

    if (!node_name[0])
        return;
    snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null",
             node_name, pod_name);
    if (system(cmd) < 0)
        perror("cleanup");
    node_name[0] = '\0';
}

static void on_fatal(int sig)
{
    lab_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    _cleanup_free_ char *cmd = NULL;
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    if (r < 0)
        return -1;
    r = system(cmd);
    return r == 0 ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(node_name, sizeof(node_name), "plt-%d-node", (int)getpid());
    snprintf(pod_name, sizeof(pod_name), "plt-%d-pod", (int)getpid());
    snprintf(pod_path, sizeof(pod_path), "/run/netns/%s", pod_name);
    atexit(lab_cleanup);
    signal(SIGINT, on_fatal);
    signal(SIGTERM, on_fatal);
    signal(SIGABRT, on_fatal);
    if (sh("ip netns add %s && ip netns add %s", node_name, pod_name) < 0)
        return -1;
    if (netns_enter(node_name) < 0)
        return -1;
    if (sh("ip link set lo up") < 0)
        return -1;
    if (netns_open(NULL, &node) < 0)
        return -1;
    apply_ctx_init(&ctx, node);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    apply_ctx_done(&ctx);
    netns_free(node);
    lab_cleanup();
    return 0;
}

/* ---- helpers ---- */

static struct live_ns dump(struct netns *ns)
{
    struct live_ns l = { 0 };
    assert_int_equal(live_dump(ns, &l), 0);
    return l;
}

static struct netns *pod_ns(void)
{
    static struct netns *p;
    if (!p)
        assert_int_equal(netns_open(pod_path, &p), 0);
    return p;
}

static struct ipaddr ip(const char *s)
{
    struct ipaddr a;
    assert_int_equal(ipaddr_parse(s, -1, &a), 0);
    return a;
}

static int run(struct op *op, char **err)
{
    int r;

    free(*err);
    *err = NULL;
    r = apply_op(&ctx, op, err);
    if (r < 0 && getenv("PLT_VERBOSE"))
        printf("test_netlink: %s\n", *err);
    return r;
}

static void attach_op(struct op *op, const char *pod_if, const char *host_if, const char *bridge,
                      const uint8_t *mac, struct ipaddr *addrs, size_t naddrs,
                      struct route *routes, size_t nroutes)
{
    memset(op, 0, sizeof(*op));
    op->type = OP_POD_ATTACH;
    op->pa.netns = pod_path;
    snprintf(op->pa.pod_if, sizeof(op->pa.pod_if), "%s", pod_if);
    snprintf(op->pa.host_if, sizeof(op->pa.host_if), "%s", host_if);
    snprintf(op->pa.bridge, sizeof(op->pa.bridge), "%s", bridge);
    if (mac) {
        op->pa.has_mac = true;
        memcpy(op->pa.mac, mac, 6);
    }
    op->pa.addrs = addrs;
    op->pa.naddrs = naddrs;
    op->pa.routes = routes;
    op->pa.nroutes = nroutes;
}

/* ---- tests ---- */

static void test_netns_open(void **state)
{
    struct netns *self = NULL, *pod = NULL, *missing = NULL;
    _cleanup_free_ char *p1 = netns_path_resolve("x");
    _cleanup_free_ char *p2 = netns_path_resolve("/proc/1/ns/net");
    (void)state;

    assert_string_equal(p1, "/run/netns/x");
    assert_string_equal(p2, "/proc/1/ns/net");
    assert_null(netns_path_resolve("a/b"));
    assert_null(netns_path_resolve(".."));
    assert_null(netns_path_resolve("."));
    assert_null(netns_path_resolve(""));

    assert_int_equal(netns_open(NULL, &self), 0);
    assert_string_equal(self->path, "/proc/self/ns/net");
    assert_non_null(self->sk);
    assert_true(self->fd >= 0);
    assert_int_equal(netns_open(pod_path, &pod), 0);
    assert_string_equal(pod->path, pod_path);
    assert_true(pod->ino != self->ino);
    assert_int_equal(netns_open("/run/netns/plt-does-not-exist", &missing), -ENOENT);
    assert_null(missing);
    assert_int_equal(netns_enter("plt-does-not-exist"), -ENOENT);
    netns_free(self);
    netns_free(pod);
    netns_free(NULL);
}

static void test_live_lo(void **state)
{
    struct live_ns l = dump(node);
    const struct live_link *lo = live_find_link(&l, "lo");
    struct ipaddr a = ip("127.0.0.1/8");
    (void)state;

    assert_non_null(lo);
    assert_int_equal(lo->ifindex, 1);
    assert_ptr_equal(live_find_ifindex(&l, 1), lo);
    assert_null(live_find_link(&l, "nope0"));
    assert_true(lo->flags & IFF_UP);
    assert_int_equal(lo->stp, -1);
    assert_true(live_has_addr(&l, 1, &a));
    a.prefix = 16;
    assert_false(live_has_addr(&l, 1, &a));
    /* one entry per ifindex (no per-family duplicates) */
    assert_int_equal(l.nlinks, 1);
    live_ns_free(&l);
    live_ns_free(&l); /* idempotent */
}

static void test_bridge_add(void **state)
{
    struct op op = { .type = OP_BRIDGE_ADD, .set = LS_MTU | LS_STP | LS_UP | LS_ALIAS,
                     .mtu = 1400, .up = true, .stp = 0, .alias = "plumbd test bridge" };
    unsigned long w0 = ctx.writes;
    _cleanup_free_ char *err = NULL, *err2 = NULL;
    struct live_ns l;
    const struct live_link *br;
    (void)state;

    strcpy(op.ifname, "br-1");
    assert_int_equal(run(&op, &err), 0);
    assert_null(err);
    assert_int_equal(ctx.writes - w0, 2); /* create + alias (ignored at creation) */

    l = dump(node);
    br = live_find_link(&l, "br-1");
    assert_non_null(br);
    assert_string_equal(br->kind, "bridge");
    assert_int_equal(br->stp, 0);
    assert_true(br->flags & IFF_UP);
    assert_int_equal(br->mtu, 1400);
    assert_string_equal(br->alias, "plumbd test bridge");
    assert_true(br->has_mac);
    assert_int_equal(br->mac[0] & 0x03, 0x02); /* locally administered unicast */
    live_ns_free(&l);

    /* creating it again is an error naming the object */
    assert_int_equal(run(&op, &err2), -EEXIST);
    assert_non_null(err2);
    assert_non_null(strstr(err2, "bridge-add br-1: File exists"));
}

static void test_bridge_stp(void **state)
{
    struct op op = { .type = OP_BRIDGE_ADD, .set = LS_STP, .stp = 1 };
    _cleanup_free_ char *err = NULL;
    struct live_ns l;
    unsigned long w0 = ctx.writes;
    (void)state;

    strcpy(op.ifname, "br-2");
    assert_int_equal(run(&op, &err), 0);
    l = dump(node);
    assert_int_equal(live_find_link(&l, "br-2")->stp, 1);
    assert_false(live_find_link(&l, "br-2")->flags & IFF_UP);
    assert_null(live_find_link(&l, "br-2")->alias);
    live_ns_free(&l);

    op.type = OP_LINK_SET;
    op.stp = 0;
    assert_int_equal(run(&op, &err), 0);
    l = dump(node);
    assert_int_equal(live_find_link(&l, "br-2")->stp, 0);
    live_ns_free(&l);

    op.type = OP_LINK_DEL;
    assert_int_equal(run(&op, &err), 0);
    l = dump(node);
    assert_null(live_find_link(&l, "br-2"));
    live_ns_free(&l);
    assert_int_equal(ctx.writes - w0, 3);
}

static void test_bridge_mac_pinned(void **state)
{
    struct live_ns l = dump(node);
    uint8_t before[6];
    (void)state;

    memcpy(before, live_find_link(&l, "br-1")->mac, 6);
    live_ns_free(&l);
    /* a port with a MAC lower than the bridge's would normally take over */
    assert_int_equal(sh("ip link add plt-p0 address 02:00:00:00:00:01 type veth peer name plt-p1 && "
                        "ip link set plt-p0 master br-1 up"), 0);
    l = dump(node);
    assert_memory_equal(live_find_link(&l, "br-1")->mac, before, 6);
    assert_int_equal(live_find_link(&l, "plt-p0")->master, live_find_link(&l, "br-1")->ifindex);
    assert_string_equal(live_find_link(&l, "plt-p0")->kind, "veth");
    assert_int_equal(live_find_link(&l, "plt-p0")->link, live_find_link(&l, "plt-p1")->ifindex);
    live_ns_free(&l);
    assert_int_equal(sh("ip link del plt-p0"), 0);
    l = dump(node);
    assert_memory_equal(live_find_link(&l, "br-1")->mac, before, 6);
    live_ns_free(&l);
}

static void test_link_set(void **state)
{
    struct op op = { .type = OP_LINK_SET, .set = LS_MASTER | LS_UP | LS_MTU | LS_ALIAS,
                     .up = true, .mtu = 1400, .alias = "uplink" };
    _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;
    unsigned long w0;
    struct live_ns l;
    const struct live_link *e;
    (void)state;

    /* a fake NIC: ens19, whose peer is "the wire" */
    assert_int_equal(sh("ip link add ens19 type veth peer name plt-wire"), 0);
    strcpy(op.ifname, "ens19");
    strcpy(op.master, "br-1");
    w0 = ctx.writes;
    assert_int_equal(run(&op, &err), 0);
    assert_int_equal(ctx.writes - w0, 1); /* one sparse request */
    l = dump(node);
    e = live_find_link(&l, "ens19");
    assert_non_null(e);
    assert_int_equal(e->master, live_find_link(&l, "br-1")->ifindex);
    assert_true(e->flags & IFF_UP);
    assert_int_equal(e->mtu, 1400);
    assert_string_equal(e->alias, "uplink");
    live_ns_free(&l);

    /* release (nomaster), clear the alias, leave the rest alone */
    op.set = LS_MASTER | LS_ALIAS;
    op.master[0] = '\0';
    op.alias = NULL;
    assert_int_equal(run(&op, &err), 0);
    l = dump(node);
    e = live_find_link(&l, "ens19");
    assert_int_equal(e->master, 0);
    assert_null(e->alias);
    assert_true(e->flags & IFF_UP);
    assert_int_equal(e->mtu, 1400);
    live_ns_free(&l);

    /* down */
    op.set = LS_UP;
    op.up = false;
    assert_int_equal(run(&op, &err), 0);
    l = dump(node);
    assert_false(live_find_link(&l, "ens19")->flags & IFF_UP);
    live_ns_free(&l);

    /* nothing to change: no write */
    op.set = 0;
    w0 = ctx.writes;
    assert_int_equal(run(&op, &err), 0);
    assert_int_equal(ctx.writes, w0);

    /* a missing master is named */
    op.set = LS_MASTER;
    strcpy(op.master, "br-nope");
    assert_int_equal(run(&op, &err2), -ENODEV);
    assert_non_null(strstr(err2, "link-set ens19: master br-nope"));

    /* the kernel's extended ACK text is kept */
    op.set = LS_MTU;
    op.mtu = 10;
    assert_int_equal(run(&op, &err3), -EINVAL);
    assert_non_null(strstr(err3, "link-set ens19: Invalid argument (kernel: "));

    /* back on the bridge, up, for the pod tests */
    op.set = LS_MASTER | LS_UP;
    op.up = true;
    strcpy(op.master, "br-1");
    assert_int_equal(run(&op, &err), 0);
}

static void test_addr(void **state)
{
    struct op op = { .type = OP_ADDR_ADD, .addr = ip("192.168.255.1/24") };
    struct ipaddr v6 = ip("fd00:255::1/64");
    _cleanup_free_ char *err = NULL;
    unsigned long w0 = ctx.writes;
    struct live_ns l;
    int br;
    (void)state;

    strcpy(op.ifname, "br-1");
    assert_int_equal(run(&op, &err), 0);
    assert_int_equal(run(&op, &err), 0); /* re-adding is harmless */
    op.addr = v6;
    assert_int_equal(run(&op, &err), 0);
    l = dump(node);
    br = live_find_link(&l, "br-1")->ifindex;
    op.addr = ip("192.168.255.1/24");
    assert_true(live_has_addr(&l, br, &op.addr));
    assert_true(live_has_addr(&l, br, &v6));
    live_ns_free(&l);

    op.type = OP_ADDR_DEL;
    assert_int_equal(run(&op, &err), 0);
    assert_int_equal(run(&op, &err), 0); /* already gone */
    op.addr = v6;
    assert_int_equal(run(&op, &err), 0);
    l = dump(node);
    assert_false(live_has_addr(&l, br, &v6));
    op.addr = ip("192.168.255.1/24");
    assert_false(live_has_addr(&l, br, &op.addr));
    live_ns_free(&l);

    strcpy(op.ifname, "nope0"); /* link gone: address gone */
    assert_int_equal(run(&op, &err), 0);
    assert_int_equal(ctx.writes - w0, 6);
}

static void test_pod_attach(void **state)
{
    struct ipaddr addrs[2] = { ip("192.168.255.100/24"), ip("fd00:255::100/64") };
    struct route rt = { .dst = ip("0.0.0.0/0"), .has_gw = true, .gw = ip("192.168.255.254") };
    _cleanup_free_ char *err = NULL;
    unsigned long w0 = ctx.writes;
    struct op op;
    struct live_ns n, p;
    const struct live_link *h, *net1;
    bool found = false;
    (void)state;

    attach_op(&op, "net1", "pl0000000001", "br-1", seed_mac, addrs, 2, &rt, 1);
    op.pa.mtu = 1400;
    assert_int_equal(run(&op, &err), 0);
    assert_null(err);
    /* veth + the host end's addrgenmode + up + 2 addresses + route */
    assert_int_equal(ctx.writes - w0, 6);

    n = dump(node);
    p = dump(pod_ns());
    h = live_find_link(&n, "pl0000000001");
    net1 = live_find_link(&p, "net1");
    assert_non_null(h);
    assert_non_null(net1);
    assert_null(live_find_link(&n, "net1"));
    assert_int_equal(h->master, live_find_link(&n, "br-1")->ifindex);
    assert_true(h->flags & IFF_UP);
    assert_int_equal(h->mtu, 1400);
    assert_string_equal(net1->kind, "veth");
    assert_int_equal(net1->link, h->ifindex);
    assert_true(net1->flags & IFF_UP);
    assert_int_equal(net1->mtu, 1400);
    assert_true(net1->has_mac);
    assert_memory_equal(net1->mac, seed_mac, 6);
    assert_true(live_has_addr(&p, net1->ifindex, &addrs[0]));
    assert_true(live_has_addr(&p, net1->ifindex, &addrs[1]));
    /* no DAD: the IPv6 address is usable at once, not tentative (DAD is
     * off on the interface, accept_dad=0, as the CNI bridge plugin does,
     * and nodad on the address, so it is never tentative) */
    bool seen6 = false;
    for (size_t i = 0; i < p.naddrs; i++)
        if (p.addrs[i].ifindex == net1->ifindex && ipaddr_equal(&p.addrs[i].addr, &addrs[1])) {
            seen6 = true;
            assert_true(p.addrs[i].flags & IFA_F_NODAD);
            assert_false(p.addrs[i].flags & IFA_F_TENTATIVE);
        }
    assert_true(seen6);
    for (size_t i = 0; i < p.nroutes; i++) {
        const struct live_route *r = &p.routes[i];
        if (r->dst.family == AF_INET && r->dst.prefix == 0) {
            found = true;
            assert_int_equal(r->ifindex, net1->ifindex);
            assert_true(r->has_gw);
            assert_memory_equal(r->gw.bytes, rt.gw.bytes, 4);
            assert_int_equal(r->table, 254);
        }
    }
    assert_true(found);
    live_ns_free(&n);
    live_ns_free(&p);

    /* the wire sees the pod: 192.168.255.11 on plt-wire pings it */
    assert_int_equal(sh("ip link set plt-wire up && ip addr add 192.168.255.11/24 dev plt-wire"), 0);
    if (sh("command -v ping >/dev/null") == 0)
        assert_int_equal(sh("ping -c1 -W2 192.168.255.100 >/dev/null"), 0);
    else
        printf("test_netlink: ping not installed, wire check skipped\n");
    assert_int_equal(sh("ip addr del 192.168.255.11/24 dev plt-wire"), 0);
}

static void test_pod_attach_kernel_mac(void **state)
{
    struct ipaddr addr = ip("192.168.255.101/24");
    _cleanup_free_ char *err = NULL;
    struct op op;
    struct live_ns p;
    uint8_t zero[6] = { 0 };
    (void)state;

    attach_op(&op, "net2", "pl0000000002", "br-1", NULL, &addr, 1, NULL, 0);
    assert_int_equal(run(&op, &err), 0);
    assert_true(op.pa.has_mac);
    assert_memory_not_equal(op.pa.mac, zero, 6);
    p = dump(pod_ns());
    assert_memory_equal(live_find_link(&p, "net2")->mac, op.pa.mac, 6);
    live_ns_free(&p);

    /* replace: a stale pair is removed first, then re-created */
    op.pa.replace = true;
    op.pa.has_mac = false;
    assert_int_equal(run(&op, &err), 0);
    p = dump(pod_ns());
    assert_non_null(live_find_link(&p, "net2"));
    live_ns_free(&p);
}

static void assert_no_leftovers(const char *host_if, const char *pod_if)
{
    struct live_ns n = dump(node), p = dump(pod_ns());
    assert_null(live_find_link(&n, host_if));
    assert_null(live_find_link(&p, pod_if));
    live_ns_free(&n);
    live_ns_free(&p);
}

static void test_pod_attach_failure(void **state)
{
    struct ipaddr addr = ip("192.168.255.102/24");
    struct route bad = { .dst = ip("0.0.0.0/0"), .has_gw = true, .gw = ip("10.9.9.9") };
    _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;
    unsigned long w0 = ctx.writes;
    struct op op;
    (void)state;

    /* a gateway that is not reachable from the pod: the veth is undone */
    attach_op(&op, "net3", "pl0000000003", "br-1", NULL, &addr, 1, &bad, 1);
    assert_int_equal(run(&op, &err), -ENETUNREACH);
    assert_non_null(err);
    assert_non_null(strstr(err, "pod-attach net3 in "));
    assert_non_null(strstr(err, "route 0.0.0.0/0 via 10.9.9.9"));
    assert_false(op.pa.has_mac);
    assert_int_equal(ctx.writes - w0, 6); /* veth, addrgenmode, up, addr, route, rollback */
    assert_no_leftovers("pl0000000003", "net3");

    /* a missing bridge: nothing is created */
    attach_op(&op, "net3", "pl0000000003", "br-nope", NULL, &addr, 1, NULL, 0);
    assert_int_equal(run(&op, &err2), -ENODEV);
    assert_non_null(strstr(err2, "bridge br-nope"));
    assert_no_leftovers("pl0000000003", "net3");

    /* a pod interface name that already exists in the pod: EEXIST, nothing left */
    attach_op(&op, "net1", "pl0000000003", "br-1", NULL, &addr, 1, NULL, 0);
    assert_int_equal(run(&op, &err3), -EEXIST);
    {
        struct live_ns n = dump(node);
        assert_null(live_find_link(&n, "pl0000000003"));
        live_ns_free(&n);
    }

    /* a missing pod netns */
    attach_op(&op, "net3", "pl0000000003", "br-1", NULL, &addr, 1, NULL, 0);
    op.pa.netns = "/run/netns/plt-does-not-exist";
    free(err);
    err = NULL;
    assert_int_equal(run(&op, &err), -ENOENT);

    if (getenv("PLT_FORCE_FAIL"))
        fail_msg("PLT_FORCE_FAIL set: failing on purpose to check the cleanup");
}

static void test_pod_detach(void **state)
{
    _cleanup_free_ char *err = NULL;
    unsigned long w0 = ctx.writes;
    struct op op;
    struct live_ns p;
    (void)state;

    attach_op(&op, "net1", "pl0000000001", "br-1", NULL, NULL, 0, NULL, 0);
    op.type = OP_POD_DETACH;
    assert_int_equal(run(&op, &err), 0);
    assert_no_leftovers("pl0000000001", "net1");
    assert_int_equal(ctx.writes - w0, 1);

    /* again: the host end is missing; the pod has no net1 either */
    assert_int_equal(run(&op, &err), 0);

    /* host end gone but an interface of that name in the pod: removed */
    assert_int_equal(sh("ip -n %s link add net9 type veth peer name net9p", pod_name), 0);
    attach_op(&op, "net9", "pl0000000009", "br-1", NULL, NULL, 0, NULL, 0);
    op.type = OP_POD_DETACH;
    assert_int_equal(run(&op, &err), 0);
    p = dump(pod_ns());
    assert_null(live_find_link(&p, "net9"));
    live_ns_free(&p);

    /* pod netns gone entirely */
    op.pa.netns = "/run/netns/plt-does-not-exist";
    assert_int_equal(run(&op, &err), 0);

    attach_op(&op, "net2", "pl0000000002", "br-1", NULL, NULL, 0, NULL, 0);
    op.type = OP_POD_DETACH;
    assert_int_equal(run(&op, &err), 0);
    assert_no_leftovers("pl0000000002", "net2");
}

static void test_detach_many(void **state)
{
    struct ipaddr addr[2] = { ip("192.168.255.105/24"), ip("192.168.255.106/24") };
    _cleanup_free_ char *err = NULL;
    struct op ops[3];
    struct op *pp[3] = { &ops[0], &ops[1], &ops[2] };
    unsigned long w0;
    struct live_ns n, p;
    (void)state;

    attach_op(&ops[0], "net5", "pl0000000005", "br-1", NULL, &addr[0], 1, NULL, 0);
    attach_op(&ops[1], "net6", "pl0000000006", "br-1", NULL, &addr[1], 1, NULL, 0);
    assert_int_equal(run(&ops[0], &err), 0);
    assert_int_equal(run(&ops[1], &err), 0);
    attach_op(&ops[2], "net7", "pl0000000007", "br-1", NULL, NULL, 0, NULL, 0); /* never made */
    for (int i = 0; i < 3; i++)
        ops[i].type = OP_POD_DETACH;

    w0 = ctx.writes;
    assert_int_equal(apply_detach_many(&ctx, pp, 3, NULL, &err), 0);
    /* 2 group moves + 1 group delete + the missing one: host and pod side */
    assert_int_equal(ctx.writes - w0, 5);
    assert_no_leftovers("pl0000000005", "net5");
    assert_no_leftovers("pl0000000006", "net6");
    n = dump(node);
    p = dump(pod_ns());
    assert_non_null(live_find_link(&n, "ens19")); /* nothing else went with them */
    assert_non_null(live_find_link(&n, "br-1"));
    assert_non_null(live_find_link(&p, "lo"));
    live_ns_free(&n);
    live_ns_free(&p);
}

/* Host ends are created in the pod group; when the caller vouches that the
 * batch holds the whole group, only the ends not in it yet are moved and the
 * group goes in one request. */
static void test_detach_pod_group(void **state)
{
    struct ipaddr addr[2] = { ip("192.168.255.108/24"), ip("192.168.255.109/24") };
    _cleanup_free_ char *err = NULL;
    struct op ops[2];
    struct op *pp[2] = { &ops[0], &ops[1] };
    bool in[2];
    unsigned long w0;
    struct live_ns n;
    (void)state;

    attach_op(&ops[0], "net8", "pl0000000008", "br-1", NULL, &addr[0], 1, NULL, 0);
    attach_op(&ops[1], "net9", "pl0000000009", "br-1", NULL, &addr[1], 1, NULL, 0);
    assert_int_equal(run(&ops[0], &err), 0);
    assert_int_equal(run(&ops[1], &err), 0);
    n = dump(node);
    assert_int_equal(live_find_link(&n, "pl0000000008")->group, (int)APPLY_POD_GROUP);
    assert_int_equal(live_find_link(&n, "pl0000000009")->group, (int)APPLY_POD_GROUP);
    live_ns_free(&n);
    /* a host end made before the group existed */
    assert_int_equal(sh("ip link set pl0000000009 group default"), 0);
    for (int i = 0; i < 2; i++)
        ops[i].type = OP_POD_DETACH;
    in[0] = true, in[1] = false;

    w0 = ctx.writes;
    assert_int_equal(apply_detach_many(&ctx, pp, 2, in, &err), 0);
    assert_int_equal(ctx.writes - w0, 2); /* one move, one group delete */
    assert_no_leftovers("pl0000000008", "net8");
    assert_no_leftovers("pl0000000009", "net9");
    n = dump(node);
    assert_non_null(live_find_link(&n, "ens19"));
    assert_non_null(live_find_link(&n, "br-1"));
    live_ns_free(&n);
}

static void test_link_del(void **state)
{
    struct op op = { .type = OP_LINK_DEL };
    _cleanup_free_ char *err = NULL;
    unsigned long w0 = ctx.writes;
    struct live_ns l;
    (void)state;

    strcpy(op.ifname, "nope0");
    assert_int_equal(run(&op, &err), 0);
    assert_null(err);
    strcpy(op.ifname, "br-1");
    assert_int_equal(run(&op, &err), 0);
    l = dump(node);
    assert_null(live_find_link(&l, "br-1"));
    assert_int_equal(live_find_link(&l, "ens19")->master, 0);
    live_ns_free(&l);
    assert_int_equal(ctx.writes - w0, 2);

    op.type = OP_FORGET;
    w0 = ctx.writes;
    assert_int_equal(run(&op, &err), 0);
    assert_int_equal(ctx.writes, w0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netns_open),
        cmocka_unit_test(test_live_lo),
        cmocka_unit_test(test_bridge_add),
        cmocka_unit_test(test_bridge_stp),
        cmocka_unit_test(test_bridge_mac_pinned),
        cmocka_unit_test(test_link_set),
        cmocka_unit_test(test_addr),
        cmocka_unit_test(test_pod_attach),
        cmocka_unit_test(test_pod_attach_kernel_mac),
        cmocka_unit_test(test_pod_attach_failure),
        cmocka_unit_test(test_pod_detach),
        cmocka_unit_test(test_detach_many),
        cmocka_unit_test(test_detach_pod_group),
        cmocka_unit_test(test_link_del),
    };

    if (geteuid() != 0) {
        printf("test_netlink: skipped (needs root to create network namespaces)\n");
        return 0;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
