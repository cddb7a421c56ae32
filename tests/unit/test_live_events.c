/* test_live_events.c - live_apply_event: which netlink events change what a
 * plan can see (and so start a drift pass in the daemon) and which only
 * keep the snapshot current: an echo, a carrier change, DAD finishing, an
 * IPv6 link-local address. The snapshot takes every one of them in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include "live.h"
#include "util.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h, which clashes with net/if.h */
#endif

static struct nl_msg *link_event(int type, int ifindex, const char *name, unsigned flags,
                                 unsigned mtu)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, 0);
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = flags};
    assert_non_null(m);
    assert_int_equal(nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO), 0);
    nla_put_string(m, IFLA_IFNAME, name);
    nla_put_u32(m, IFLA_MTU, mtu);
    return m;
}

static struct nl_msg *addr_event(int type, int ifindex, int family, const char *addr,
                                 unsigned prefix, unsigned flags)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, 0);
    struct ifaddrmsg ifa = {.ifa_family = (uint8_t)family, .ifa_prefixlen = (uint8_t)prefix,
                            .ifa_index = (uint32_t)ifindex};
    uint8_t bytes[16];
    assert_non_null(m);
    assert_int_equal(inet_pton(family, addr, bytes), 1);
    assert_int_equal(nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO), 0);
    nla_put(m, IFA_ADDRESS, family == AF_INET ? 4 : 16, bytes);
    if (family == AF_INET)
        nla_put(m, IFA_LOCAL, 4, bytes);
    nla_put_u32(m, IFA_FLAGS, flags);
    return m;
}

/* Apply one message; the message is freed. */
static bool apply(struct live_ns *l, struct nl_msg *m)
{
    bool r = live_apply_event(l, nlmsg_hdr(m));
    nlmsg_free(m);
    return r;
}

static void test_link_events(void **state)
{
    (void)state;
    struct live_ns l = {0};
    unsigned up = IFF_UP | IFF_BROADCAST | IFF_MULTICAST;

    assert_true(apply(&l, link_event(RTM_NEWLINK, 7, "veth1", up, 1500)));
    assert_int_equal(l.nlinks, 1);
    /* the same again: an echo */
    assert_false(apply(&l, link_event(RTM_NEWLINK, 7, "veth1", up, 1500)));
    /* carrier and operstate: taken in, no pass */
    assert_false(apply(&l, link_event(RTM_NEWLINK, 7, "veth1", up | IFF_RUNNING | IFF_LOWER_UP, 1500)));
    assert_true(l.links[0].flags & IFF_LOWER_UP);
    assert_false(apply(&l, link_event(RTM_NEWLINK, 7, "veth1", up, 1500)));
    /* what a plan reads: up, promisc, the MTU, the name */
    assert_true(apply(&l, link_event(RTM_NEWLINK, 7, "veth1", up & ~IFF_UP, 1500)));
    assert_true(apply(&l, link_event(RTM_NEWLINK, 7, "veth1", up, 1500)));
    assert_true(apply(&l, link_event(RTM_NEWLINK, 7, "veth1", up | IFF_PROMISC, 1500)));
    assert_true(apply(&l, link_event(RTM_NEWLINK, 7, "veth1", up | IFF_PROMISC, 9000)));
    assert_int_equal(l.links[0].mtu, 9000);
    assert_true(apply(&l, link_event(RTM_NEWLINK, 7, "veth9", up | IFF_PROMISC, 9000)));
    assert_string_equal(l.links[0].name, "veth9");
    assert_true(apply(&l, link_event(RTM_DELLINK, 7, "veth9", 0, 9000)));
    assert_int_equal(l.nlinks, 0);
    live_ns_free(&l);
}

static void test_addr_events(void **state)
{
    (void)state;
    struct live_ns l = {0};

    /* a static address comes, its DAD finishes (tentative cleared) */
    assert_true(apply(&l, addr_event(RTM_NEWADDR, 7, AF_INET6, "2001:db8::5", 64,
                                     IFA_F_PERMANENT | IFA_F_TENTATIVE)));
    assert_false(apply(&l, addr_event(RTM_NEWADDR, 7, AF_INET6, "2001:db8::5", 64,
                                      IFA_F_PERMANENT)));
    assert_int_equal(l.addrs[0].flags, IFA_F_PERMANENT);
    /* permanent or not is what a plan reads */
    assert_true(apply(&l, addr_event(RTM_NEWADDR, 7, AF_INET6, "2001:db8::5", 64, 0)));
    /* a link-local address: kept, no pass, coming or going */
    assert_false(apply(&l, addr_event(RTM_NEWADDR, 7, AF_INET6, "fe80::1", 64,
                                      IFA_F_PERMANENT | IFA_F_TENTATIVE)));
    assert_int_equal(l.naddrs, 2);
    assert_false(apply(&l, addr_event(RTM_DELADDR, 7, AF_INET6, "fe80::1", 64, IFA_F_PERMANENT)));
    assert_int_equal(l.naddrs, 1);
    /* IPv4: new, echo, removed; removing one that is not there */
    assert_true(apply(&l, addr_event(RTM_NEWADDR, 7, AF_INET, "192.168.1.5", 24, IFA_F_PERMANENT)));
    assert_false(apply(&l, addr_event(RTM_NEWADDR, 7, AF_INET, "192.168.1.5", 24, IFA_F_PERMANENT)));
    assert_true(apply(&l, addr_event(RTM_DELADDR, 7, AF_INET, "192.168.1.5", 24, IFA_F_PERMANENT)));
    assert_false(apply(&l, addr_event(RTM_DELADDR, 7, AF_INET, "192.168.1.5", 24, IFA_F_PERMANENT)));
    assert_int_equal(l.naddrs, 1);
    live_ns_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_events),
        cmocka_unit_test(test_addr_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
