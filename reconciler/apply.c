/* apply.c - run planned operations as netlink writes. The only module that
 * changes the kernel.
 *
 * Each op is built as raw rtnetlink requests (no libnl objects: helpers like
 * rtnl_link_enslave_ifindex do extra synchronous reads) and sent with
 * netns_request(), which pipelines a batch and keeps the kernel's errno and
 * extended-ACK text. Every request sent is counted in ctx->writes.
 *
 * Names on the node side are resolved with if_nametoindex(), so the node
 * namespace (ctx->node) must be the namespace this process runs in, which is
 * what netns_enter() at start guarantees. Links themselves are addressed by
 * name in RTM_NEWLINK/RTM_DELLINK, which needs no lookup at all. */
#include "apply.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "iftypes_impl.h"
#include "log.h"
#include "util.h"

#define APPLY_MAX_BATCH 64

static void nlmsg_freep(struct nl_msg **m)
{
    if (*m)
        nlmsg_free(*m);
}

/* A batch of requests for one namespace, freed together. */
struct batch {
    struct nl_msg *m[APPLY_MAX_BATCH];
    size_t n;
};

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        nlmsg_free(b->m[i]);
    b->n = 0;
}

static int batch_add(struct batch *b, struct nl_msg *m)
{
    if (!m)
        return -ENOMEM; /* a builder failed: message too large */
    if (b->n >= ARRAY_SIZE(b->m)) {
        nlmsg_free(m);
        return -E2BIG;
    }
    b->m[b->n++] = m;
    return 0;
}

/* Send a batch of writes; every request sent counts as a write. */
static int send_writes(struct apply_ctx *ctx, struct netns *ns, struct batch *b,
                       size_t *ret_failed, char **ret_kmsg)
{
    ctx->writes += b->n;
    return netns_request(ns, b->m, b->n, NULL, NULL, ret_failed, ret_kmsg);
}

static int send_write(struct apply_ctx *ctx, struct netns *ns, struct nl_msg *m, char **ret_kmsg)
{
    ctx->writes++;
    return netns_request(ns, &m, 1, NULL, NULL, NULL, ret_kmsg);
}

/* Set *ret_err to "<prefix>: <strerror>[ (kernel: <kmsg>)]" and return r. */
static int __attribute__((format(printf, 4, 5)))
fail(char **ret_err, int r, const char *kmsg, const char *fmt, ...)
{
    _cleanup_free_ char *prefix = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&prefix, fmt, ap) < 0)
        prefix = NULL;
    va_end(ap);
    if (ret_err)
        *ret_err = xasprintf("%s: %s%s%s%s", prefix ? prefix : "?", strerror(-r),
                             kmsg ? " (kernel: " : "", kmsg ? kmsg : "", kmsg ? ")" : "");
    return r;
}

static const char *op_name(enum op_type t)
{
    switch (t) {
    case OP_BRIDGE_ADD:
        return "bridge-add";
    case OP_LINK_SET:
        return "link-set";
    case OP_LINK_DEL:
        return "link-del";
    case OP_ADDR_ADD:
        return "addr-add";
    case OP_ADDR_DEL:
        return "addr-del";
    case OP_POD_ATTACH:
        return "pod-attach";
    case OP_POD_DETACH:
        return "pod-detach";
    case OP_FORGET:
        return "forget";
    case OP_SYSCTL:
        return "sysctl";
    case OP_ROUTE_ADD:
        return "route-add";
    case OP_ROUTE_DEL:
        return "route-del";
    case OP_DNS_SET:
        return "dns-set";
    case OP_RULE_ADD:
        return "rule-add";
    case OP_RULE_DEL:
        return "rule-del";
    case _OP_TYPE_MAX:
        break;
    }
    return "op";
}

/* ---- message builders (return NULL only if the message overflows) ---- */

/* RTM_*LINK addressed by name (ifi_index 0: the kernel looks the name up). */
static struct nl_msg *link_msg(int type, int flags, const char *ifname, unsigned ifi_flags,
                               unsigned ifi_change)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, flags);
    struct ifinfomsg ifi = {
        .ifi_family = AF_UNSPEC,
        .ifi_flags = ifi_flags,
        .ifi_change = ifi_change,
    };

    if (!m)
        return NULL;
    if (nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
        nla_put_string(m, IFLA_IFNAME, ifname) < 0) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

/* IFLA_LINKINFO { KIND bridge, DATA { STP_STATE, VLAN_FILTERING, options } };
 * a negative value (NULL options) leaves that setting out. */
static int put_bridge_info3(struct nl_msg *m, int stp, int vlan_filtering,
                            const struct bropts *opts)
{
    struct nlattr *li, *data;

    if (!(li = nla_nest_start(m, IFLA_LINKINFO)) || nla_put_string(m, IFLA_INFO_KIND, "bridge") < 0)
        return -ENOMEM;
    if (stp >= 0 || vlan_filtering >= 0 || (opts && bropts_any(opts))) {
        if (!(data = nla_nest_start(m, IFLA_INFO_DATA)) ||
            (stp >= 0 && nla_put_u32(m, IFLA_BR_STP_STATE, stp ? 1 : 0) < 0) ||
            (vlan_filtering >= 0 &&
             nla_put_u8(m, IFLA_BR_VLAN_FILTERING, vlan_filtering ? 1 : 0) < 0) ||
            (opts && bropts_put(m, opts) < 0))
            return -ENOMEM;
        nla_nest_end(m, data);
    }
    nla_nest_end(m, li);
    return 0;
}

static int put_bridge_info2(struct nl_msg *m, int stp, int vlan_filtering)
{
    return put_bridge_info3(m, stp, vlan_filtering, NULL);
}

static int put_bridge_info(struct nl_msg *m, int stp)
{
    return put_bridge_info2(m, stp, -1);
}

/* Alias: NULL or "" clears (a zero-length IFLA_IFALIAS). */
static int put_alias(struct nl_msg *m, const char *alias)
{
    if (!alias || !*alias)
        return nla_put(m, IFLA_IFALIAS, 0, NULL);
    return nla_put(m, IFLA_IFALIAS, (int)strlen(alias), alias);
}

static struct nl_msg *addr_msg(int type, int flags, int ifindex, const struct ipaddr *a,
                               unsigned ifa_flags)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, flags);
    size_t len = a->family == AF_INET ? 4 : 16;
    struct ifaddrmsg ifa = {
        .ifa_family = (uint8_t)a->family,
        .ifa_prefixlen = a->prefix,
        .ifa_flags = (uint8_t)ifa_flags,
        .ifa_scope = RT_SCOPE_UNIVERSE,
        .ifa_index = (uint32_t)ifindex,
    };
    int r;

    if (!m)
        return NULL;
    r = nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO);
    if (r == 0)
        r = nla_put(m, IFA_LOCAL, (int)len, a->bytes);
    if (r == 0)
        r = nla_put(m, IFA_ADDRESS, (int)len, a->bytes);
    /* IPv4 with its subnet's broadcast address, as `ip addr add ... brd +`,
     * NetworkManager and the CNI plugins do. */
    if (r == 0 && a->family == AF_INET && a->prefix < 31 && type == RTM_NEWADDR) {
        uint8_t brd[4];
        for (int i = 0; i < 4; i++) {
            int bits = (int)a->prefix - 8 * i;
            uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
            brd[i] = (uint8_t)(a->bytes[i] | (uint8_t)~mask);
        }
        r = nla_put(m, IFA_BROADCAST, 4, brd);
    }
    if (r == 0 && ifa_flags > 0xff)
        r = nla_put_u32(m, IFA_FLAGS, ifa_flags);
    if (r < 0) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

/* Main-table unicast route; on-link (scope link) when there is no gateway. */
static struct nl_msg *route_msg(int type, int flags, int oif, const struct route *rt)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, flags);
    size_t len = rt->dst.family == AF_INET ? 4 : 16;
    struct rtmsg rtm = {
        .rtm_family = (uint8_t)rt->dst.family,
        .rtm_dst_len = rt->dst.prefix,
        .rtm_table = RT_TABLE_MAIN,
        .rtm_protocol = RTPROT_BOOT,
        .rtm_scope = rt->has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
        .rtm_type = RTN_UNICAST,
    };
    int r;

    if (!m)
        return NULL;
    r = nlmsg_append(m, &rtm, sizeof(rtm), NLMSG_ALIGNTO);
    if (r == 0 && rt->dst.prefix > 0)
        r = nla_put(m, RTA_DST, (int)len, rt->dst.bytes);
    if (r == 0 && rt->has_gw)
        r = nla_put(m, RTA_GATEWAY, (int)len, rt->gw.bytes);
    if (r == 0)
        r = nla_put_u32(m, RTA_OIF, (uint32_t)oif);
    if (r < 0) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}


/* A policy route (routes.config) in any table, of any type: protocol
 * static as NetworkManager writes them; a delete names the whole key (any
 * scope, any protocol). */
static struct nl_msg *nm_route_msg(int type, int flags, int oif, const struct nm_route *rt)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, flags);
    size_t len = rt->family == AF_INET ? 4 : 16;
    bool add = type == RTM_NEWROUTE;
    struct rtmsg rtm = {
        .rtm_family = (uint8_t)rt->family,
        .rtm_dst_len = rt->dst.prefix,
        .rtm_table = rt->table < 256 ? (uint8_t)rt->table : RT_TABLE_UNSPEC,
        .rtm_protocol = add ? RTPROT_STATIC : 0,
        .rtm_scope = !add ? RT_SCOPE_NOWHERE
                     : rt->type == RTN_UNICAST && !rt->has_gw ? RT_SCOPE_LINK
                                                              : RT_SCOPE_UNIVERSE,
        .rtm_type = (uint8_t)(rt->type ? rt->type : RTN_UNICAST),
    };
    int r;

    if (!m)
        return NULL;
    r = nlmsg_append(m, &rtm, sizeof(rtm), NLMSG_ALIGNTO);
    if (r == 0 && rt->dst.prefix > 0)
        r = nla_put(m, RTA_DST, (int)len, rt->dst.bytes);
    if (r == 0)
        r = nla_put_u32(m, RTA_TABLE, rt->table);
    if (r == 0)
        r = nla_put_u32(m, RTA_PRIORITY, rt->metric);
    if (r == 0 && rt->has_gw)
        r = nla_put(m, RTA_GATEWAY, (int)len, rt->gw.bytes);
    if (r == 0 && rt->has_src)
        r = nla_put(m, RTA_PREFSRC, (int)len, rt->src.bytes);
    if (r == 0 && oif > 0)
        r = nla_put_u32(m, RTA_OIF, (uint32_t)oif);
    if (r < 0) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

static int do_route(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    bool add = op->type == OP_ROUTE_ADD;
    const struct nm_route *rt = &op->route;
    _cleanup_(nlmsg_freep) struct nl_msg *m = NULL;
    _cleanup_free_ char *kmsg = NULL;
    char d[64];
    int oif = 0, r;

    if (rt->family != AF_INET && rt->family != AF_INET6)
        return fail(ret_err, -EAFNOSUPPORT, NULL, "%s", op_name(op->type));
    ipaddr_format(&rt->dst, true, d, sizeof(d));
    if (rt->ifname[0]) {
        oif = (int)if_nametoindex(rt->ifname);
        if (oif == 0) /* link gone: so is the route */
            return add ? fail(ret_err, -ENODEV, NULL, "route-add %s dev %s", d, rt->ifname) : 0;
    }
    m = add ? nm_route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, oif, rt)
            : nm_route_msg(RTM_DELROUTE, 0, oif, rt);
    if (!m)
        return fail(ret_err, -ENOMEM, NULL, "%s %s", op_name(op->type), d);
    r = send_write(ctx, ctx->node, m, &kmsg);
    if (!add && (r == -ESRCH || r == -ENOENT || r == -ENODEV))
        r = 0;
    if (r < 0)
        return fail(ret_err, r, kmsg, "%s %s%s%s table %u metric %u", op_name(op->type), d,
                    rt->ifname[0] ? " dev " : "", rt->ifname, rt->table, rt->metric);
    return 0;
}

/* A policy routing rule (route-rules.config): protocol static on add; a
 * delete names every selector of the rule (and its priority when known),
 * since the kernel matches a delete on what it is given. */
static struct nl_msg *nm_rule_msg(int type, int flags, const struct nm_rule *ru)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, flags);
    size_t len = ru->family == AF_INET ? 4 : 16;
    bool add = type == RTM_NEWRULE;
    struct fib_rule_hdr frh = {
        .family = (uint8_t)ru->family,
        .dst_len = ru->has_to ? ru->to.prefix : 0,
        .src_len = ru->has_from ? ru->from.prefix : 0,
        .table = ru->table < 256 ? (uint8_t)ru->table : RT_TABLE_UNSPEC,
        .action = (uint8_t)(ru->action ? ru->action : FR_ACT_TO_TBL),
    };
    int r;

    if (!m)
        return NULL;
    r = nlmsg_append(m, &frh, sizeof(frh), NLMSG_ALIGNTO);
    if (r == 0 && ru->has_from && ru->from.prefix > 0)
        r = nla_put(m, FRA_SRC, (int)len, ru->from.bytes);
    if (r == 0 && ru->has_to && ru->to.prefix > 0)
        r = nla_put(m, FRA_DST, (int)len, ru->to.bytes);
    if (r == 0 && ru->has_priority)
        r = nla_put_u32(m, FRA_PRIORITY, ru->priority);
    if (r == 0 && ru->table)
        r = nla_put_u32(m, FRA_TABLE, ru->table);
    if (r == 0 && (ru->fwmark || ru->fwmask))
        r = nla_put_u32(m, FRA_FWMARK, ru->fwmark);
    if (r == 0 && (ru->fwmark || ru->fwmask))
        r = nla_put_u32(m, FRA_FWMASK, ru->fwmask);
    if (r == 0 && ru->iif[0])
        r = nla_put_string(m, FRA_IIFNAME, ru->iif);
    if (r == 0 && add)
        r = nla_put_u8(m, FRA_PROTOCOL, RTPROT_STATIC);
    if (r < 0) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

static int do_rule(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    bool add = op->type == OP_RULE_ADD;
    _cleanup_(nlmsg_freep) struct nl_msg *m = NULL;
    _cleanup_free_ char *kmsg = NULL, *d = NULL;
    int r;

    if (op->rule.family != AF_INET && op->rule.family != AF_INET6)
        return fail(ret_err, -EAFNOSUPPORT, NULL, "%s", op_name(op->type));
    m = add ? nm_rule_msg(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, &op->rule)
            : nm_rule_msg(RTM_DELRULE, 0, &op->rule);
    d = rule_describe(&op->rule);
    if (!m)
        return fail(ret_err, -ENOMEM, NULL, "%s %s", op_name(op->type), d);
    r = send_write(ctx, ctx->node, m, &kmsg);
    if (!add && (r == -ENOENT || r == -ESRCH))
        r = 0;
    if (r < 0)
        return fail(ret_err, r, kmsg, "%s %s", op_name(op->type), d);
    return 0;
}

/* ---- bridge MAC ---- */

/* A stable, locally administered unicast MAC for a bridge: a hash of the
 * machine id, the node namespace's inode and the bridge name. Unique per
 * node (two nodes on one wire never share it), unchanged across restarts
 * and re-creations, and, given at creation, pinned: the kernel no longer
 * re-picks the bridge MAC from its ports as they come and go. */
static void bridge_mac(const struct apply_ctx *ctx, const char *name, uint8_t mac[6])
{
    static char machine_id[64];
    static bool loaded;
    uint64_t h;
    uint64_t ino = ctx->node ? (uint64_t)ctx->node->ino : 0;

    if (!loaded) {
        _cleanup_fclose_ FILE *f = fopen("/etc/machine-id", "re");
        if (!f || !fgets(machine_id, sizeof(machine_id), f))
            machine_id[0] = '\0';
        loaded = true;
    }
    h = hash64(machine_id, strlen(machine_id), HASH64_SEED);
    h = hash64(&ino, sizeof(ino), h);
    h = hash64(name, strlen(name), h);
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)(h >> (8 * i));
    mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

/* ---- ops ---- */

static int link_del(struct apply_ctx *ctx, struct netns *ns, const char *ifname, char **ret_kmsg);

/* The kinds of iftypes.c (veth, vxlan, mac-vlan, vlan, dummy, bond): the
 * base-iface is resolved here (this process runs in the node namespace). */
static int link_add_msg(const struct op *op, bool up, struct nl_msg **ret, char **ret_err)
{
    unsigned base = 0;
    unsigned flags = (up ? IFF_UP : 0) | ((op->set & LS_PROMISC) && op->promisc ? IFF_PROMISC : 0);
    unsigned change = (up ? IFF_UP : 0) | ((op->set & LS_PROMISC) ? IFF_PROMISC : 0);

    if (op->cfg.kind != LK_VETH && op->cfg.base[0] && !(base = if_nametoindex(op->cfg.base)))
        return fail(ret_err, -ENODEV, NULL, "link-add %s: base-iface %s", op->ifname,
                    op->cfg.base);
    struct nl_msg *m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, op->ifname, flags, change);
    if (!m || ((op->set & LS_MAC) && nla_put(m, IFLA_ADDRESS, 6, op->mac) < 0) ||
        ((op->set & LS_MTU) && op->mtu && nla_put_u32(m, IFLA_MTU, op->mtu) < 0) ||
        link_cfg_put(m, &op->cfg, base, (op->set & LS_MTU) ? op->mtu : 0) < 0) {
        if (m)
            nlmsg_free(m);
        return fail(ret_err, -ENOMEM, NULL, "link-add %s: building request", op->ifname);
    }
    *ret = m;
    return 0;
}

static int do_bridge_add(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    _cleanup_(nlmsg_freep) struct nl_msg *m = NULL;
    _cleanup_free_ char *kmsg = NULL;
    bool up = (op->set & LS_UP) && op->up;
    bool bridge = op->cfg.kind == LK_NONE || op->cfg.kind == LK_BRIDGE;
    const char *what = bridge ? "bridge-add" : "link-add";
    uint8_t mac[6];
    int r;

    if (!bridge) {
        if ((r = link_add_msg(op, up, &m, ret_err)) < 0)
            return r;
    } else {
        if (op->set & LS_MAC) /* copy-mac-from, mac-address */
            memcpy(mac, op->mac, 6);
        else
            bridge_mac(ctx, op->ifname, mac);
        unsigned pf = (op->set & LS_PROMISC) ? IFF_PROMISC : 0;
        m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, op->ifname,
                     (up ? IFF_UP : 0) | (op->promisc ? pf : 0), (up ? IFF_UP : 0) | pf);
        if (!m || nla_put(m, IFLA_ADDRESS, 6, mac) < 0 ||
            ((op->set & LS_MTU) && op->mtu && nla_put_u32(m, IFLA_MTU, op->mtu) < 0) ||
            put_bridge_info3(m, (op->set & LS_STP) ? op->stp : -1,
                             (op->set & LS_VLAN_FILTERING) ? op->vlan_filtering : -1,
                             (op->set & LS_BROPTS) ? &op->bropts : NULL) < 0)
            return fail(ret_err, -ENOMEM, NULL, "bridge-add %s: building request", op->ifname);
    }
    r = send_write(ctx, ctx->node, m, &kmsg);
    if (r < 0)
        return fail(ret_err, r, kmsg, "%s %s", what, op->ifname);
    /* A veth's peer comes up with it (nmstate creates both ends up; an
     * entry of the peer's own may say otherwise, planned after this). */
    if (op->cfg.kind == LK_VETH && up) {
        _cleanup_(nlmsg_freep) struct nl_msg *pu = link_msg(RTM_NEWLINK, 0, op->cfg.base, IFF_UP,
                                                            IFF_UP);
        r = pu ? send_write(ctx, ctx->node, pu, &kmsg) : -ENOMEM;
        if (r < 0) {
            (void)link_del(ctx, ctx->node, op->ifname, NULL);
            return fail(ret_err, r, kmsg, "%s %s: peer %s up", what, op->ifname, op->cfg.base);
        }
    }

    /* The kernel ignores IFLA_IFALIAS on creation: set it once the bridge
     * is ours (never pipelined, lest it land on a foreign bridge). */
    if ((op->set & LS_ALIAS) && op->alias && *op->alias) {
        _cleanup_(nlmsg_freep) struct nl_msg *a = link_msg(RTM_NEWLINK, 0, op->ifname, 0, 0);
        if (!a || put_alias(a, op->alias) < 0)
            r = -ENOMEM;
        else
            r = send_write(ctx, ctx->node, a, &kmsg);
        if (r < 0) {
            _cleanup_(nlmsg_freep) struct nl_msg *d = link_msg(RTM_DELLINK, 0, op->ifname, 0, 0);
            if (d)
                (void)send_write(ctx, ctx->node, d, NULL);
            return fail(ret_err, r, kmsg, "%s %s: alias", what, op->ifname);
        }
    }
    log_debug(op->ifname, bridge ? "bridge created" : "link created");
    return 0;
}

static struct nl_msg *port_vlan_msg(int type, int ifindex, uint16_t vid, uint16_t vid_end,
                                    uint16_t flags);

/* Bridge port options of ifname: IFLA_LINKINFO { SLAVE_KIND bridge,
 * SLAVE_DATA { MODE, COST, PRIORITY } }, as `ip link set X type
 * bridge_slave cost N priority N hairpin on`. Its own request: the kernel
 * reads slave data against the master the port has before the request. */
static int set_port_opts(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    _cleanup_(nlmsg_freep) struct nl_msg *m = link_msg(RTM_NEWLINK, 0, op->ifname, 0, 0);
    _cleanup_free_ char *kmsg = NULL;
    struct nlattr *li, *data;

    if (!m || !(li = nla_nest_start(m, IFLA_LINKINFO)) ||
        nla_put_string(m, IFLA_INFO_SLAVE_KIND, "bridge") < 0 ||
        !(data = nla_nest_start(m, IFLA_INFO_SLAVE_DATA)) || brport_opts_put(m, &op->brport) < 0)
        return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
    nla_nest_end(m, data);
    nla_nest_end(m, li);
    int r = send_write(ctx, ctx->node, m, &kmsg);
    if (r < 0)
        return fail(ret_err, r, kmsg, "link-set %s: bridge port options", op->ifname);
    return 0;
}

/* The port's VLANs from pvlan.have to pvlan.want: deletions, then additions
 * (with their flags, which also moves the PVID). A deletion of a VLAN the
 * port was only assumed to have (the default PVID) may find nothing. */
static int set_port_vlans(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    const struct port_vlan_op *pv = &op->pvlan;
    _cleanup_free_ struct vlan_span *add = NULL, *del = NULL;
    size_t nadd, ndel;
    unsigned idx = if_nametoindex(op->ifname);
    int r = 0;

    if (idx == 0)
        return fail(ret_err, -ENODEV, NULL, "link-set %s: VLANs", op->ifname);
    vlan_spans_diff(pv->want, pv->nwant, pv->have, pv->nhave, pv->have_known, pv->default_pvid,
                    &add, &nadd, &del, &ndel);
    for (size_t i = 0; i < ndel + nadd && r >= 0; i++) {
        bool is_del = i < ndel;
        const struct vlan_span *v = is_del ? &del[i] : &add[i - ndel];
        _cleanup_(nlmsg_freep) struct nl_msg *m =
            port_vlan_msg(is_del ? RTM_DELLINK : RTM_SETLINK, (int)idx, v->min, v->max,
                          is_del ? 0 : v->flags);
        _cleanup_free_ char *kmsg = NULL;
        if (!m)
            return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
        r = send_write(ctx, ctx->node, m, &kmsg);
        if (r == -ENOENT && is_del && !pv->have_known)
            r = 0;
        if (r < 0)
            return fail(ret_err, r, kmsg, "link-set %s: %s VLAN %u-%u (bridge vlan_filtering)",
                        op->ifname, is_del ? "deleting" : "adding", v->min, v->max);
    }
    return 0;
}

/* Port options and VLANs after the rest of the change (a port joins its
 * bridge first). */
static int do_port_settings(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    int r = 0;
    if ((op->set & LS_BRPORT) && brport_opts_any(&op->brport))
        r = set_port_opts(ctx, op, ret_err);
    if (r >= 0 && (op->set & LS_PORT_VLANS))
        r = set_port_vlans(ctx, op, ret_err);
    return r;
}

static int do_link_set(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    _cleanup_(nlmsg_freep) struct nl_msg *m = NULL;
    _cleanup_free_ char *kmsg = NULL;
    unsigned flags = 0, change = 0;
    int r;

    if (!(op->set & (LS_MTU | LS_UP | LS_MASTER | LS_STP | LS_ALIAS | LS_PROMISC |
                     LS_VLAN_FILTERING | LS_BROPTS | LS_MAC)))
        return do_port_settings(ctx, op, ret_err);
    /* STP goes off before the options: while it runs the kernel refuses a
     * forward delay outside 2-30 s, and it reads forward_delay first. */
    if ((op->set & LS_STP) && !op->stp && (op->set & LS_BROPTS) &&
        BROPT_HAS(&op->bropts, BROPT_FORWARD_DELAY)) {
        _cleanup_(nlmsg_freep) struct nl_msg *s = link_msg(RTM_NEWLINK, 0, op->ifname, 0, 0);
        if (!s || put_bridge_info(s, 0) < 0)
            return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
        r = send_write(ctx, ctx->node, s, &kmsg);
        if (r < 0)
            return fail(ret_err, r, kmsg, "link-set %s: stp off", op->ifname);
    }
    /* A bond takes a port only while the port is down. */
    if ((op->set & LS_BOND_PORT) && (op->set & LS_MASTER) && op->master[0]) {
        _cleanup_(nlmsg_freep) struct nl_msg *d = link_msg(RTM_NEWLINK, 0, op->ifname, 0, IFF_UP);
        if (!d)
            return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
        r = send_write(ctx, ctx->node, d, &kmsg);
        if (r < 0)
            return fail(ret_err, r, kmsg, "link-set %s: down before joining bond %s", op->ifname,
                        op->master);
    }
    if (op->set & LS_UP) {
        change = IFF_UP;
        flags = op->up ? IFF_UP : 0;
    }
    if (op->set & LS_PROMISC) {
        change |= IFF_PROMISC;
        flags |= op->promisc ? IFF_PROMISC : 0;
    }
    m = link_msg(RTM_NEWLINK, 0, op->ifname, flags, change);
    if (!m)
        return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
    if ((op->set & LS_MTU) && nla_put_u32(m, IFLA_MTU, op->mtu) < 0)
        return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
    if ((op->set & LS_MAC) && nla_put(m, IFLA_ADDRESS, 6, op->mac) < 0)
        return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
    if (op->set & LS_MASTER) {
        unsigned idx = 0;
        if (op->master[0]) {
            idx = if_nametoindex(op->master);
            if (idx == 0)
                return fail(ret_err, -ENODEV, NULL, "link-set %s: master %s", op->ifname,
                            op->master);
        }
        if (nla_put_u32(m, IFLA_MASTER, idx) < 0)
            return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
    }
    if ((op->set & (LS_STP | LS_VLAN_FILTERING | LS_BROPTS)) &&
        put_bridge_info3(m, (op->set & LS_STP) ? op->stp : -1,
                         (op->set & LS_VLAN_FILTERING) ? op->vlan_filtering : -1,
                         (op->set & LS_BROPTS) ? &op->bropts : NULL) < 0)
        return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);
    if ((op->set & LS_ALIAS) && put_alias(m, op->alias) < 0)
        return fail(ret_err, -ENOMEM, NULL, "link-set %s: building request", op->ifname);

    r = send_write(ctx, ctx->node, m, &kmsg);
    if (r < 0) {
        if (op->set & LS_MASTER)
            return fail(ret_err, r, kmsg, "link-set %s: master %s", op->ifname,
                        op->master[0] ? op->master : "(none)");
        return fail(ret_err, r, kmsg, "link-set %s", op->ifname);
    }
    log_debug(op->ifname, "link changed");
    return do_port_settings(ctx, op, ret_err);
}

/* Delete a link by name in ns; a missing link is success. */
static int link_del(struct apply_ctx *ctx, struct netns *ns, const char *ifname, char **ret_kmsg)
{
    _cleanup_(nlmsg_freep) struct nl_msg *m = link_msg(RTM_DELLINK, 0, ifname, 0, 0);
    _cleanup_free_ char *kmsg = NULL;
    int r;

    if (!m)
        return -ENOMEM;
    r = send_write(ctx, ns, m, &kmsg);
    if (r == -ENODEV)
        return 0;
    if (r < 0 && ret_kmsg)
        *ret_kmsg = TAKE_PTR(kmsg);
    return r;
}

static int do_link_del(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    _cleanup_free_ char *kmsg = NULL;
    int r = link_del(ctx, ctx->node, op->ifname, &kmsg);

    if (r < 0)
        return fail(ret_err, r, kmsg, "link-del %s", op->ifname);
    return 0;
}

static int do_addr(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    bool add = op->type == OP_ADDR_ADD;
    _cleanup_(nlmsg_freep) struct nl_msg *m = NULL;
    _cleanup_free_ char *kmsg = NULL;
    char abuf[64];
    unsigned idx;
    int r;

    if (op->addr.family != AF_INET && op->addr.family != AF_INET6)
        return fail(ret_err, -EAFNOSUPPORT, NULL, "%s %s", op_name(op->type), op->ifname);
    ipaddr_format(&op->addr, true, abuf, sizeof(abuf));
    idx = if_nametoindex(op->ifname);
    if (idx == 0) /* link gone: so is the address */
        return add ? fail(ret_err, -ENODEV, NULL, "addr-add %s %s", op->ifname, abuf) : 0;
    m = add ? addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, (int)idx, &op->addr, 0)
            : addr_msg(RTM_DELADDR, 0, (int)idx, &op->addr, 0);
    if (!m)
        return fail(ret_err, -ENOMEM, NULL, "%s %s %s", op_name(op->type), op->ifname, abuf);
    r = send_write(ctx, ctx->node, m, &kmsg);
    if (!add && (r == -EADDRNOTAVAIL || r == -ENODEV))
        r = 0;
    if (r < 0)
        return fail(ret_err, r, kmsg, "%s %s %s", op_name(op->type), op->ifname, abuf);
    return 0;
}

/* The handle of a pod namespace, opened once and cached by path; reopened
 * when the file now names another namespace (new inode). -ENOENT when the
 * namespace does not exist. Cost: one stat when cached. */
static int pod_ns(struct apply_ctx *ctx, const char *path, struct netns **ret)
{
    struct netns *ns;
    struct stat st;
    size_t i;
    int r;

    if (!path || !*path)
        return -EINVAL;
    if (stat(path, &st) < 0)
        return -errno;
    for (i = 0; i < ctx->npods; i++)
        if (streq(ctx->pods[i]->path, path))
            break;
    if (i < ctx->npods && ctx->pods[i]->dev == st.st_dev && ctx->pods[i]->ino == st.st_ino) {
        *ret = ctx->pods[i];
        return 0;
    }
    r = netns_open(path, &ns);
    if (r < 0)
        return r;
    if (i < ctx->npods) {
        netns_free(ctx->pods[i]);
        ctx->pods[i] = ns;
    } else {
        *ARRAY_PUSH(ctx->pods, ctx->npods) = ns;
    }
    *ret = ns;
    return 0;
}

struct link_info {
    int ifindex;
    bool has_mac;
    uint8_t mac[6];
    int master;      /* IFLA_MASTER, 0 none */
    int link;        /* IFLA_LINK: a veth's peer */
    unsigned mtu;
    unsigned flags;  /* IFF_* */
    char kind[16];   /* IFLA_INFO_KIND */
    bool has_accept_dad; /* the interface has IPv6: accept_dad is its value */
    int accept_dad;
};

/* IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_CONF: s32 per DEVCONF_* } }: the
 * interface's IPv6 settings, read with the link (no /proc/sys walk). */
static void parse_inet6_conf(struct nlattr *af_spec, struct link_info *li)
{
    struct nlattr *af;
    int rem;
    nla_for_each_nested(af, af_spec, rem) {
        if (nla_type(af) != AF_INET6)
            continue;
        struct nlattr *in6[IFLA_INET6_MAX + 1];
        if (nla_parse_nested(in6, IFLA_INET6_MAX, af, NULL) < 0 || !in6[IFLA_INET6_CONF])
            return;
        if ((size_t)nla_len(in6[IFLA_INET6_CONF]) >= (DEVCONF_ACCEPT_DAD + 1) * sizeof(int32_t)) {
            const int32_t *conf = nla_data(in6[IFLA_INET6_CONF]);
            li->has_accept_dad = true;
            li->accept_dad = conf[DEVCONF_ACCEPT_DAD];
        }
        return;
    }
}

static int on_link_info(struct nl_msg *msg, void *arg)
{
    struct link_info *li = arg;
    struct nlmsghdr *nlh = nlmsg_hdr(msg);
    struct nlattr *tb[IFLA_MAX + 1];
    struct ifinfomsg *ifi;

    if (nlh->nlmsg_type != RTM_NEWLINK || !nlmsg_valid_hdr(nlh, sizeof(*ifi)))
        return NL_SKIP;
    ifi = nlmsg_data(nlh);
    if (nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
        return NL_SKIP;
    li->ifindex = ifi->ifi_index;
    li->flags = ifi->ifi_flags;
    if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6) {
        li->has_mac = true;
        memcpy(li->mac, nla_data(tb[IFLA_ADDRESS]), 6);
    }
    if (tb[IFLA_MASTER])
        li->master = (int)nla_get_u32(tb[IFLA_MASTER]);
    if (tb[IFLA_LINK])
        li->link = (int)nla_get_u32(tb[IFLA_LINK]);
    if (tb[IFLA_MTU])
        li->mtu = nla_get_u32(tb[IFLA_MTU]);
    if (tb[IFLA_LINKINFO]) {
        struct nlattr *info[IFLA_INFO_MAX + 1];
        if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) == 0 &&
            info[IFLA_INFO_KIND])
            snprintf(li->kind, sizeof(li->kind), "%s", nla_get_string(info[IFLA_INFO_KIND]));
    }
    if (tb[IFLA_AF_SPEC])
        parse_inet6_conf(tb[IFLA_AF_SPEC], li);
    return NL_OK;
}

/* One RTM_GETLINK by name in ns (a read: not counted as a write). */
static int link_get(struct netns *ns, const char *ifname, struct link_info *ret, char **ret_kmsg)
{
    _cleanup_(nlmsg_freep) struct nl_msg *m = link_msg(RTM_GETLINK, 0, ifname, 0, 0);
    struct link_info li = { 0 };
    int r;

    if (!m || nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
        return -ENOMEM;
    r = netns_request(ns, &m, 1, on_link_info, &li, NULL, ret_kmsg);
    if (r < 0)
        return r;
    if (li.ifindex <= 0)
        return -ENODEV;
    *ret = li;
    return 0;
}

/* The veth: host end in the node namespace (on the bridge, up), peer
 * created directly in the pod namespace (its fd is open in pns for as long
 * as the request is in flight), with MAC and MTU. */
static struct nl_msg *veth_msg(const struct pod_attach_op *pa, int bridge_idx, int pod_fd)
{
    struct nl_msg *m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, pa->host_if, IFF_UP, IFF_UP);
    /* The peer cannot be brought up in this request: the kernel opens it
     * before the pair is linked (veth_open fails with ENOTCONN). */
    struct ifinfomsg peer = { .ifi_family = AF_UNSPEC };
    struct nlattr *li, *data, *pn;

    if (!m)
        return NULL;
    if (nla_put_u32(m, IFLA_MASTER, (uint32_t)bridge_idx) < 0 ||
        nla_put_u32(m, IFLA_GROUP, APPLY_POD_GROUP) < 0 ||
        (pa->mtu && nla_put_u32(m, IFLA_MTU, pa->mtu) < 0) || put_one_queue(m) < 0 ||
        !(li = nla_nest_start(m, IFLA_LINKINFO)) || nla_put_string(m, IFLA_INFO_KIND, "veth") < 0 ||
        !(data = nla_nest_start(m, IFLA_INFO_DATA)) || !(pn = nla_nest_start(m, VETH_INFO_PEER)) ||
        nlmsg_append(m, &peer, sizeof(peer), NLMSG_ALIGNTO) < 0 ||
        nla_put_string(m, IFLA_IFNAME, pa->pod_if) < 0 ||
        nla_put_u32(m, IFLA_NET_NS_FD, (uint32_t)pod_fd) < 0 || put_one_queue(m) < 0 ||
        (pa->has_mac && nla_put(m, IFLA_ADDRESS, 6, pa->mac) < 0) ||
        (pa->mtu && nla_put_u32(m, IFLA_MTU, pa->mtu) < 0)) {
        nlmsg_free(m);
        return NULL;
    }
    nla_nest_end(m, pn);
    nla_nest_end(m, data);
    nla_nest_end(m, li);
    return m;
}

/* Write a per-interface sysctl ("net/ipv6/conf/IF/accept_dad") of the pod
 * namespace ns. /proc/sys/net shows the namespace of whoever opens it, so
 * it is opened from inside ns (switching there and back). Returns 0 or
 * -errno. (The node's: node_conf6_write.) */
static int sysctl_write(struct netns *ns, const char *key, const char *value)
{
    _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
    _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd, r = 0;

    if (self < 0 || setns(ns->fd, CLONE_NEWNET) < 0)
        return -errno;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        r = -errno;
    if (setns(self, CLONE_NEWNET) < 0)
        abort(); /* cannot get back to the node namespace: nothing is safe any more */
    if (r < 0)
        return r;
    if (write(fd, value, strlen(value)) < 0)
        r = -errno;
    close(fd);
    return r;
}

/* Write the node's net/ipv6/conf/IFNAME/LEAF. Every namespace has its own
 * /proc/sys/net, ipv6 and conf entries, and the kernel tells them apart by
 * comparing each entry of one hash chain: a path walked from /proc/sys costs
 * a step per namespace and component, a lot with a thousand pods. From a
 * held descriptor of the node's conf directory only the (unique) interface
 * name is looked up. Returns 0 or -errno. */
static int node_conf6_write(struct apply_ctx *ctx, const char *ifname, const char *leaf,
                            const char *value)
{
    if (ctx->conf6_fd < 0) {
        ctx->conf6_fd = open("/proc/sys/net/ipv6/conf", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ctx->conf6_fd < 0)
            return -errno;
    }
    _cleanup_free_ char *path = xasprintf("%s/%s", ifname, leaf);
    _cleanup_close_ int fd = openat(ctx->conf6_fd, path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return write(fd, value, strlen(value)) < 0 ? -errno : 0;
}

/* The pod's IPv6 addresses skip DAD unless the NAD sets enabledad: as the
 * CNI bridge plugin, accept_dad=0 on the pod interface (it covers every
 * address there, link-local included), and IFA_F_NODAD on each address we
 * add: with accept_dad=0 alone a new address is still tentative until the
 * kernel's DAD work runs, so it would not be usable the moment apply
 * returns. IPv4 has no DAD. */
static bool pod_skips_dad(const struct pod_attach_op *pa)
{
    /* the CNI macvlan plugin has no enabledad: its addresses do DAD */
    return !pa->dad && pa->kind != ATTACH_MACVLAN;
}

static unsigned pod_addr_flags(const struct pod_attach_op *pa, const struct ipaddr *a)
{
    return a->family == AF_INET6 && pod_skips_dad(pa) ? IFA_F_NODAD : 0;
}

/* Bridge port flags of the host end: IFLA_LINKINFO { SLAVE_KIND bridge,
 * SLAVE_DATA { MODE (hairpin), ISOLATED } }, as `ip link set X type
 * bridge_slave hairpin on isolated on`. NULL when nothing is asked. */
static struct nl_msg *port_flags_msg(const struct pod_attach_op *pa)
{
    struct nl_msg *m;
    struct nlattr *li, *data;

    if (!pa->hairpin && !pa->isolated)
        return NULL;
    m = link_msg(RTM_NEWLINK, 0, pa->host_if, 0, 0);
    if (!m || !(li = nla_nest_start(m, IFLA_LINKINFO)) ||
        nla_put_string(m, IFLA_INFO_SLAVE_KIND, "bridge") < 0 ||
        !(data = nla_nest_start(m, IFLA_INFO_SLAVE_DATA)) ||
        (pa->hairpin && nla_put_u8(m, IFLA_BRPORT_MODE, 1) < 0) ||
        (pa->isolated && nla_put_u8(m, IFLA_BRPORT_ISOLATED, 1) < 0)) {
        if (m)
            nlmsg_free(m);
        return NULL;
    }
    nla_nest_end(m, data);
    nla_nest_end(m, li);
    return m;
}

/* No IPv6 link-local address on the host end: IFLA_AF_SPEC { AF_INET6 {
 * ADDR_GEN_MODE none } }, as `ip link set X addrgenmode none`. A bridge
 * port's own IPv6 stack never receives what crosses the bridge, so the
 * address serves nothing; generating it costs a DAD probe, MLD reports and
 * router solicitations towards the pod and ipv6 work items that take the
 * RTNL lock while the next pods attach. The kernel refuses the attribute on
 * creation (the device has no IPv6 state yet); it takes it before the pod
 * end comes up, which is when the host end gets a carrier and would make
 * the address. */
static struct nl_msg *no_linklocal_msg(const char *ifname)
{
    struct nl_msg *m = link_msg(RTM_NEWLINK, 0, ifname, 0, 0);
    struct nlattr *spec, *inet6;

    if (!m)
        return NULL;
    if (!(spec = nla_nest_start(m, IFLA_AF_SPEC)) || !(inet6 = nla_nest_start(m, AF_INET6)) ||
        nla_put_u8(m, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE) < 0) {
        nlmsg_free(m);
        return NULL;
    }
    nla_nest_end(m, inet6);
    nla_nest_end(m, spec);
    return m;
}

/* RTM_SETLINK (add) or RTM_DELLINK (remove) of VLANs vid..vid_end on a
 * bridge port (AF_BRIDGE, IFLA_AF_SPEC { IFLA_BRIDGE_VLAN_INFO }), as
 * `bridge vlan add dev X vid N [pvid untagged]`. A range is sent as two
 * entries flagged RANGE_BEGIN/RANGE_END. */
static struct nl_msg *port_vlan_msg(int type, int ifindex, uint16_t vid, uint16_t vid_end,
                                    uint16_t flags)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, 0);
    struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };
    struct nlattr *spec;

    if (!m)
        return NULL;
    if (nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
        !(spec = nla_nest_start(m, IFLA_AF_SPEC)))
        goto err;
    if (vid_end > vid) {
        struct bridge_vlan_info b = { .flags = flags | BRIDGE_VLAN_INFO_RANGE_BEGIN, .vid = vid };
        struct bridge_vlan_info e = { .flags = flags | BRIDGE_VLAN_INFO_RANGE_END, .vid = vid_end };
        if (nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(b), &b) < 0 ||
            nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(e), &e) < 0)
            goto err;
    } else {
        struct bridge_vlan_info v = { .flags = flags, .vid = vid };
        if (nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(v), &v) < 0)
            goto err;
    }
    nla_nest_end(m, spec);
    return m;
err:
    nlmsg_free(m);
    return NULL;
}

/* The host port's settings after the veth is on the bridge: hairpin and
 * isolation flags, the PVID (untagged), the trunk VLANs, and VLAN 1 removed
 * unless preserveDefaultVlan. One pipelined batch in the node namespace;
 * nothing is sent when nothing is asked. */
static int configure_host_port(struct apply_ctx *ctx, const struct pod_attach_op *pa, char *what,
                               size_t whatlen, char **ret_kmsg)
{
    struct batch b = { .n = 0 };
    size_t failed = 0;
    unsigned idx;
    int r = 0;

    if (!pa->hairpin && !pa->isolated && !pa->vlan && !pa->ntrunk && !pa->drop_default_vlan)
        return 0;
    if (pa->hairpin || pa->isolated)
        r = batch_add(&b, port_flags_msg(pa));
    if (r >= 0 && (pa->vlan || pa->ntrunk || pa->drop_default_vlan)) {
        idx = if_nametoindex(pa->host_if);
        if (idx == 0) {
            snprintf(what, whatlen, "host port %s", pa->host_if);
            return -ENODEV;
        }
        if (pa->drop_default_vlan)
            r = batch_add(&b, port_vlan_msg(RTM_DELLINK, (int)idx, 1, 1, 0));
        if (r >= 0 && pa->vlan)
            r = batch_add(&b, port_vlan_msg(RTM_SETLINK, (int)idx, pa->vlan, pa->vlan,
                                            BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED));
        for (size_t i = 0; i < pa->ntrunk && r >= 0; i++)
            r = batch_add(&b, port_vlan_msg(RTM_SETLINK, (int)idx, pa->trunk[i].min,
                                            pa->trunk[i].max, 0));
    }
    if (r < 0) {
        batch_free(&b);
        snprintf(what, whatlen, "building port requests");
        return r;
    }
    r = send_writes(ctx, ctx->node, &b, &failed, ret_kmsg);
    if (r < 0) {
        bool flags_first = pa->hairpin || pa->isolated;
        if (flags_first && failed == 0)
            snprintf(what, whatlen, "port %s%s%s", pa->host_if, pa->hairpin ? " hairpin" : "",
                     pa->isolated ? " isolated" : "");
        else
            snprintf(what, whatlen, "VLANs of port %s (bridge vlan_filtering)", pa->host_if);
    }
    batch_free(&b);
    return r;
}

/* Set a pod interface up with arp_notify on (a gratuitous ARP when it comes
 * up or its address changes, so neighbours learn a re-used address at
 * once), as the CNI plugins do: IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF {
 * ARP_NOTIFY = 1 } } } in the same request. */
static struct nl_msg *up_arp_notify_msg(const char *ifname)
{
    struct nl_msg *m = link_msg(RTM_NEWLINK, 0, ifname, IFF_UP, IFF_UP);
    struct nlattr *spec, *inet, *conf;

    if (!m)
        return NULL;
    if (!(spec = nla_nest_start(m, IFLA_AF_SPEC)) || !(inet = nla_nest_start(m, AF_INET)) ||
        !(conf = nla_nest_start(m, IFLA_INET_CONF)) ||
        nla_put_u32(m, IPV4_DEVCONF_ARP_NOTIFY, 1) < 0) {
        nlmsg_free(m);
        return NULL;
    }
    nla_nest_end(m, conf);
    nla_nest_end(m, inet);
    nla_nest_end(m, spec);
    return m;
}

/* ---- default-route (Multus): the pod's default route moves to pod_if ---- */

/* RTM_NEWROUTE/RTM_DELROUTE of a saved pod route (a default route that
 * default-route displaces), with its metric and, when added, its protocol.
 * A delete matches any scope and protocol, as `ip route del`. */
static struct nl_msg *saved_route_msg(int type, int flags, int oif, const struct saved_route *sr)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, flags);
    size_t len = sr->rt.dst.family == AF_INET ? 4 : 16;
    struct rtmsg rtm = {
        .rtm_family = (uint8_t)sr->rt.dst.family,
        .rtm_dst_len = sr->rt.dst.prefix,
        .rtm_table = RT_TABLE_MAIN,
        .rtm_protocol = type == RTM_NEWROUTE ? (uint8_t)(sr->protocol ? sr->protocol : RTPROT_BOOT) : 0,
        .rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE
                     : sr->rt.has_gw      ? RT_SCOPE_UNIVERSE
                                          : RT_SCOPE_LINK,
        .rtm_type = RTN_UNICAST,
    };
    int r;

    if (!m)
        return NULL;
    r = nlmsg_append(m, &rtm, sizeof(rtm), NLMSG_ALIGNTO);
    if (r == 0 && sr->rt.dst.prefix > 0)
        r = nla_put(m, RTA_DST, (int)len, sr->rt.dst.bytes);
    if (r == 0 && sr->rt.has_gw)
        r = nla_put(m, RTA_GATEWAY, (int)len, sr->rt.gw.bytes);
    if (r == 0 && oif > 0)
        r = nla_put_u32(m, RTA_OIF, (uint32_t)oif);
    if (r == 0)
        r = nla_put_u32(m, RTA_PRIORITY, sr->metric);
    if (r < 0) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

/* The output interface of a saved route in the pod namespace: 0 when it
 * names none, -ENODEV when that interface is gone. */
static int saved_route_oif(struct netns *pns, const struct saved_route *sr)
{
    struct link_info li = { 0 };
    if (!sr->ifname[0])
        return 0;
    int r = link_get(pns, sr->ifname, &li, NULL);
    return r < 0 ? r : li.ifindex;
}

/* Before the takeover: remove the default routes it displaces (one write
 * each; one that is gone already is fine). */
static int remove_displaced_defaults(struct apply_ctx *ctx, const struct pod_attach_op *pa,
                                     struct netns *pns, char *what, size_t whatlen,
                                     char **ret_kmsg)
{
    for (size_t i = 0; i < pa->nprev_defaults; i++) {
        const struct saved_route *sr = &pa->prev_defaults[i];
        int oif = saved_route_oif(pns, sr);
        if (oif < 0)
            continue; /* its interface is gone, and the route with it */
        struct nl_msg *m = saved_route_msg(RTM_DELROUTE, 0, oif, sr);
        if (!m) {
            snprintf(what, whatlen, "building requests");
            return -ENOMEM;
        }
        _cleanup_free_ char *kmsg = NULL;
        int r = send_write(ctx, pns, m, &kmsg);
        nlmsg_free(m);
        if (r == -ESRCH || r == -ENOENT || r == -ENODEV)
            continue;
        if (r < 0) {
            char g[64];
            snprintf(what, whatlen, "removing the default route%s%s dev %s",
                     sr->rt.has_gw ? " via " : "",
                     sr->rt.has_gw ? ipaddr_format(&sr->rt.gw, false, g, sizeof(g)) : "",
                     sr->ifname[0] ? sr->ifname : "?");
            if (ret_kmsg)
                *ret_kmsg = TAKE_PTR(kmsg);
            return r;
        }
    }
    return 0;
}

/* After a detach: put back the default routes the attachment displaced
 * (those marked restore). Best effort: one already there (someone else's
 * default route) is left alone, an interface that is gone is skipped, and
 * a refusal is logged; the detach itself is done either way. */
static void restore_displaced_defaults(struct apply_ctx *ctx, const struct pod_attach_op *pa)
{
    struct netns *pns;
    if (!pa->nprev_defaults || !pa->netns || !*pa->netns || pod_ns(ctx, pa->netns, &pns) < 0)
        return;
    for (size_t i = 0; i < pa->nprev_defaults; i++) {
        const struct saved_route *sr = &pa->prev_defaults[i];
        char g[64];
        if (!sr->restore)
            continue;
        int oif = saved_route_oif(pns, sr);
        if (oif < 0) {
            log_warn(pa->pod_if, "default route via %s dev %s not restored in %s: %s is gone",
                     sr->rt.has_gw ? ipaddr_format(&sr->rt.gw, false, g, sizeof(g)) : "-",
                     sr->ifname, pa->netns, sr->ifname);
            continue;
        }
        struct nl_msg *m = saved_route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, oif, sr);
        if (!m)
            continue;
        _cleanup_free_ char *kmsg = NULL;
        int r = send_write(ctx, pns, m, &kmsg);
        nlmsg_free(m);
        if (r < 0 && r != -EEXIST)
            log_warn(pa->pod_if, "default route via %s dev %s not restored in %s: %s%s%s",
                     sr->rt.has_gw ? ipaddr_format(&sr->rt.gw, false, g, sizeof(g)) : "-",
                     sr->ifname, pa->netns, strerror(-r), kmsg ? ": " : "", kmsg ? kmsg : "");
        else if (r == 0)
            log_debug(pa->pod_if, "restored default route via %s dev %s in %s",
                      sr->rt.has_gw ? ipaddr_format(&sr->rt.gw, false, g, sizeof(g)) : "-",
                      sr->ifname, pa->netns);
    }
}

/* The pod end once it exists (pod: as read): up, its addresses, then
 * routes (whose gateway needs the up link's prefix route), pipelined in one
 * batch in the pod namespace. disableContainerInterface: left down and
 * unconfigured. */
static int configure_pod_end(struct apply_ctx *ctx, const struct pod_attach_op *pa,
                             struct netns *pns, const struct link_info *pod, char *what,
                             size_t whatlen, char **ret_kmsg)
{
    struct batch b = { .n = 0 };
    size_t failed = 0;
    const int ifindex = pod->ifindex;
    int r;

    if (pa->link_down)
        return 0;
    /* Only when the link read says it is not 0 yet (a pair changed in
     * place has it): a path under /proc/sys/net is compared with every
     * namespace's entry of the same name on the way, ~85 us at 1000 pods. */
    if (pod_skips_dad(pa) && !(pod->has_accept_dad && pod->accept_dad == 0)) {
        _cleanup_free_ char *key = xasprintf("net/ipv6/conf/%s/accept_dad", pa->pod_if);
        (void)sysctl_write(pns, key, "0"); /* no IPv6 in the pod: nothing to turn off */
    }
    /* default-route: the default routes it replaces go first */
    if (pa->ndefault_gw) {
        r = remove_displaced_defaults(ctx, pa, pns, what, whatlen, ret_kmsg);
        if (r < 0)
            return r;
    }
    r = batch_add(&b, up_arp_notify_msg(pa->pod_if));
    for (size_t i = 0; i < pa->naddrs && r >= 0; i++)
        r = batch_add(&b, addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex,
                                   &pa->addrs[i], pod_addr_flags(pa, &pa->addrs[i])));
    for (size_t i = 0; i < pa->nroutes && r >= 0; i++)
        r = batch_add(&b, route_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, ifindex,
                                    &pa->routes[i]));
    if (r < 0) {
        batch_free(&b);
        snprintf(what, whatlen, "building requests");
        return r;
    }
    r = send_writes(ctx, pns, &b, &failed, ret_kmsg);
    if (r < 0) {
        char a[64], g[64];
        if (failed == 0) {
            snprintf(what, whatlen, "setting %s up", pa->pod_if);
        } else if (failed - 1 < pa->naddrs) {
            snprintf(what, whatlen, "address %s",
                     ipaddr_format(&pa->addrs[failed - 1], true, a, sizeof(a)));
        } else if (failed - 1 - pa->naddrs < pa->nroutes) {
            const struct route *rt = &pa->routes[failed - 1 - pa->naddrs];
            snprintf(what, whatlen, "route %s%s%s", ipaddr_format(&rt->dst, true, a, sizeof(a)),
                     rt->has_gw ? " via " : "",
                     rt->has_gw ? ipaddr_format(&rt->gw, false, g, sizeof(g)) : "");
        } else {
            snprintf(what, whatlen, "configuring");
        }
        /* default-route: the caller removes the interface; the routes it
         * displaced go back, nothing is left half-done */
        if (pa->ndefault_gw)
            restore_displaced_defaults(ctx, pa);
    }
    batch_free(&b);
    return r;
}

/* configure_pod_end on the pod end as read (pod), then the MAC the kernel
 * chose kept in the op, so the inventory records it. */
static int configure_pod_link(struct apply_ctx *ctx, struct pod_attach_op *pa, struct netns *pns,
                              const struct link_info *pod, char *what, size_t whatlen,
                              char **ret_kmsg)
{
    int r = configure_pod_end(ctx, pa, pns, pod, what, whatlen, ret_kmsg);
    if (r < 0)
        return r;
    if (!pa->has_mac && pod->has_mac) {
        memcpy(pa->mac, pod->mac, 6);
        pa->has_mac = true;
    }
    return 0;
}

/* The pod end once it exists, for both kinds: its ifindex and the MAC the
 * kernel chose (kept in the op, so the inventory records it), then
 * configure_pod_end. */
static int finish_pod_end(struct apply_ctx *ctx, struct pod_attach_op *pa, struct netns *pns,
                          char *what, size_t whatlen, char **ret_kmsg)
{
    struct link_info pod = { 0 };
    int r = link_get(pns, pa->pod_if, &pod, ret_kmsg);
    if (r < 0) {
        snprintf(what, whatlen, "reading back %s", pa->pod_if);
        return r;
    }
    return configure_pod_link(ctx, pa, pns, &pod, what, whatlen, ret_kmsg);
}

/* The kernel's MACVLAN_MODE_* of a CNI mode. */
static uint32_t macvlan_kmode(int mode)
{
    switch (mode) {
    case CNI_MACVLAN_PRIVATE:
        return MACVLAN_MODE_PRIVATE;
    case CNI_MACVLAN_VEPA:
        return MACVLAN_MODE_VEPA;
    case CNI_MACVLAN_PASSTHRU:
        return MACVLAN_MODE_PASSTHRU;
    default:
        return MACVLAN_MODE_BRIDGE;
    }
}

/* A macvlan on master (pa->bridge), created straight into the pod namespace
 * under its final name (IFLA_NET_NS_FD), with MAC, MTU and mode. */
static struct nl_msg *macvlan_msg(const struct pod_attach_op *pa, int master_idx, int pod_fd)
{
    struct nl_msg *m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, pa->pod_if, 0, 0);
    struct nlattr *li, *data;

    if (!m)
        return NULL;
    if (nla_put_u32(m, IFLA_LINK, (uint32_t)master_idx) < 0 ||
        nla_put_u32(m, IFLA_NET_NS_FD, (uint32_t)pod_fd) < 0 ||
        (pa->mtu && nla_put_u32(m, IFLA_MTU, pa->mtu) < 0) ||
        (pa->has_mac && nla_put(m, IFLA_ADDRESS, 6, pa->mac) < 0) ||
        !(li = nla_nest_start(m, IFLA_LINKINFO)) ||
        nla_put_string(m, IFLA_INFO_KIND, "macvlan") < 0 ||
        !(data = nla_nest_start(m, IFLA_INFO_DATA)) ||
        nla_put_u32(m, IFLA_MACVLAN_MODE, macvlan_kmode(pa->macvlan_mode)) < 0) {
        nlmsg_free(m);
        return NULL;
    }
    nla_nest_end(m, data);
    nla_nest_end(m, li);
    return m;
}

static int do_macvlan_attach(struct apply_ctx *ctx, struct op *op, char **ret_err)
{
    struct pod_attach_op *pa = &op->pa;
    _cleanup_(nlmsg_freep) struct nl_msg *mv = NULL;
    _cleanup_free_ char *kmsg = NULL;
    struct netns *pns;
    unsigned master;
    char what[128];
    int r;

#define ATTACH_FAIL(r_, k_, ...) \
    fail(ret_err, (r_), (k_), "pod-attach %s in %s: " __VA_ARGS__)

    r = pod_ns(ctx, pa->netns, &pns);
    if (r < 0)
        return ATTACH_FAIL(r, NULL, "pod netns", pa->pod_if, pa->netns ? pa->netns : "(none)");
    if (pa->replace) {
        r = link_del(ctx, pns, pa->pod_if, &kmsg);
        if (r < 0)
            return ATTACH_FAIL(r, kmsg, "removing stale %s", pa->pod_if, pa->netns, pa->pod_if);
    }
    master = if_nametoindex(pa->bridge);
    if (master == 0)
        return ATTACH_FAIL(-ENODEV, NULL, "macvlan master %s", pa->pod_if, pa->netns,
                           pa->bridge);

    /* 1. the macvlan, in the pod namespace already, one request */
    mv = macvlan_msg(pa, (int)master, pns->fd);
    if (!mv)
        return ATTACH_FAIL(-ENOMEM, NULL, "building request", pa->pod_if, pa->netns);
    r = send_write(ctx, ctx->node, mv, &kmsg);
    if (r < 0)
        return ATTACH_FAIL(r, kmsg, "macvlan on %s", pa->pod_if, pa->netns, pa->bridge);

    /* 2-3. its ifindex and MAC, then up, addresses, routes */
    r = finish_pod_end(ctx, pa, pns, what, sizeof(what), &kmsg);
    if (r < 0)
        goto undo;
    log_debug(pa->pod_if, "macvlan %s in %s on %s", pa->pod_if, pa->netns, pa->bridge);
    return 0;

undo:
    {
        int u = link_del(ctx, pns, pa->pod_if, NULL);
        if (u < 0)
            log_warn(pa->pod_if, "rollback of failed attach: %s", strerror(-u));
    }
    return ATTACH_FAIL(r, kmsg, "%s", pa->pod_if, pa->netns, what);
#undef ATTACH_FAIL
}

/* RTM_DELROUTE for a route the pod has: any protocol and scope, its
 * metric and gateway. */
static struct nl_msg *live_route_del_msg(const struct live_route *lr)
{
    struct nl_msg *m = nlmsg_alloc_simple(RTM_DELROUTE, 0);
    size_t len = lr->dst.family == AF_INET ? 4 : 16;
    struct rtmsg rtm = {
        .rtm_family = (uint8_t)lr->dst.family,
        .rtm_dst_len = lr->dst.prefix,
        .rtm_table = RT_TABLE_MAIN,
        .rtm_scope = RT_SCOPE_NOWHERE,
        .rtm_type = RTN_UNICAST,
    };
    if (!m)
        return NULL;
    if (nlmsg_append(m, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
        (lr->dst.prefix > 0 && nla_put(m, RTA_DST, (int)len, lr->dst.bytes) < 0) ||
        (lr->has_gw && nla_put(m, RTA_GATEWAY, (int)len, lr->gw.bytes) < 0) ||
        nla_put_u32(m, RTA_OIF, (uint32_t)lr->ifindex) < 0 ||
        nla_put_u32(m, RTA_PRIORITY, lr->priority) < 0) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

static bool pa_has_addr(const struct pod_attach_op *pa, const struct ipaddr *a)
{
    for (size_t i = 0; i < pa->naddrs; i++)
        if (ipaddr_equal(&pa->addrs[i], a))
            return true;
    return false;
}

static bool pa_has_route(const struct pod_attach_op *pa, const struct live_route *lr)
{
    for (size_t i = 0; i < pa->nroutes; i++)
        if (live_route_is(lr, &pa->routes[i]))
            return true;
    return false;
}

/* An attachment to replace whose veth pair is still the one wanted (the
 * host end up on its bridge, the pod end its peer, same MAC and MTU): only
 * its addresses or routes changed, a new requested IP say. They are changed
 * in place: the pod's interface stays up with its ifindex, and no veth is
 * deleted (that waits for RCU grace periods, ~20 ms). The end state is the
 * one a new pair would have: addresses and routes not wanted any more go
 * (the kernel's own routes and IPv6 link-local stay), then the usual
 * configuration. 1: done in place; 0: not such a case (nothing was
 * written); < 0: a write failed (the caller replaces the pair). */
static int attach_in_place(struct apply_ctx *ctx, struct pod_attach_op *pa, struct netns *pns,
                           unsigned br, char *what, size_t whatlen, char **ret_kmsg)
{
    struct link_info h = { 0 }, p = { 0 };
    if (pa->kind != ATTACH_VETH || pa->link_down || pa->ndefault_gw || pa->nprev_defaults ||
        pa->vlan || pa->ntrunk || pa->drop_default_vlan)
        return 0;
    if (link_get(ctx->node, pa->host_if, &h, NULL) < 0 || link_get(pns, pa->pod_if, &p, NULL) < 0)
        return 0;
    if (!streq(h.kind, "veth") || !streq(p.kind, "veth") || h.master != (int)br ||
        !(h.flags & IFF_UP) || p.link != h.ifindex || h.link != p.ifindex ||
        (pa->mtu && (h.mtu != pa->mtu || p.mtu != pa->mtu)) ||
        (pa->has_mac && (!p.has_mac || memcmp(p.mac, pa->mac, 6) != 0)))
        return 0;

    struct live_ns l = { 0 };
    if (live_dump(pns, &l) < 0)
        return 0;
    struct batch b = { .n = 0 };
    int r = 0;
    for (size_t i = 0; i < l.naddrs && r >= 0; i++) {
        const struct live_addr *a = &l.addrs[i];
        bool ll6 = a->addr.family == AF_INET6 && a->addr.bytes[0] == 0xfe &&
                   (a->addr.bytes[1] & 0xc0) == 0x80;
        if (a->ifindex == p.ifindex && !ll6 && !pa_has_addr(pa, &a->addr))
            r = batch_add(&b, addr_msg(RTM_DELADDR, 0, p.ifindex, &a->addr, 0));
    }
    for (size_t i = 0; i < l.nroutes && r >= 0; i++) {
        const struct live_route *lr = &l.routes[i];
        if (lr->ifindex == p.ifindex && LIVE_ROUTE_MAIN_UNICAST(lr) &&
            lr->protocol != RTPROT_KERNEL && lr->protocol != RTPROT_RA && !pa_has_route(pa, lr))
            r = batch_add(&b, live_route_del_msg(lr));
    }
    live_ns_free(&l);
    if (r >= 0 && b.n)
        r = send_writes(ctx, pns, &b, NULL, ret_kmsg);
    batch_free(&b);
    if (r == -ESRCH || r == -EADDRNOTAVAIL)
        r = 0; /* gone meanwhile (a route with its address) */
    if (r < 0) {
        snprintf(what, whatlen, "removing old addresses or routes of %s", pa->pod_if);
        return r;
    }
    r = configure_host_port(ctx, pa, what, whatlen, ret_kmsg);
    if (r < 0)
        return r;
    r = configure_pod_link(ctx, pa, pns, &p, what, whatlen, ret_kmsg);
    return r < 0 ? r : 1;
}

static int do_pod_attach(struct apply_ctx *ctx, struct op *op, char **ret_err)
{
    struct pod_attach_op *pa = &op->pa;
    _cleanup_(nlmsg_freep) struct nl_msg *veth = NULL;
    _cleanup_free_ char *kmsg = NULL;
    struct netns *pns;
    unsigned br;
    char what[128];
    int r;

    if (pa->kind == ATTACH_MACVLAN)
        return do_macvlan_attach(ctx, op, ret_err);

#define ATTACH_FAIL(r_, k_, ...) \
    fail(ret_err, (r_), (k_), "pod-attach %s in %s: " __VA_ARGS__)

    r = pod_ns(ctx, pa->netns, &pns);
    if (r < 0)
        return ATTACH_FAIL(r, NULL, "pod netns", pa->pod_if, pa->netns ? pa->netns : "(none)");

    if (pa->replace) {
        unsigned brx = if_nametoindex(pa->bridge);
        r = brx ? attach_in_place(ctx, pa, pns, brx, what, sizeof(what), &kmsg) : 0;
        if (r > 0) {
            log_debug(pa->host_if, "%s in %s changed in place", pa->pod_if, pa->netns);
            return 0;
        }
        if (r < 0)
            log_info(pa->host_if, "changing %s in %s in place failed (%s: %s): replacing it",
                     pa->pod_if, pa->netns, what, strerror(-r));
        free(TAKE_PTR(kmsg));
        r = link_del(ctx, ctx->node, pa->host_if, &kmsg);
        if (r < 0)
            return ATTACH_FAIL(r, kmsg, "removing stale %s", pa->pod_if, pa->netns, pa->host_if);
        r = link_del(ctx, pns, pa->pod_if, &kmsg);
        if (r < 0)
            return ATTACH_FAIL(r, kmsg, "removing stale %s", pa->pod_if, pa->netns, pa->pod_if);
    }

    br = if_nametoindex(pa->bridge);
    if (br == 0)
        return ATTACH_FAIL(-ENODEV, NULL, "bridge %s", pa->pod_if, pa->netns, pa->bridge);

    /* 1. the veth pair, one request */
    veth = veth_msg(pa, (int)br, pns->fd);
    if (!veth)
        return ATTACH_FAIL(-ENOMEM, NULL, "building request", pa->pod_if, pa->netns);
    r = send_write(ctx, ctx->node, veth, &kmsg);
    if (r < 0)
        return ATTACH_FAIL(r, kmsg, "veth %s on %s", pa->pod_if, pa->netns, pa->host_if,
                           pa->bridge);

    /* 1a. no router advertisements taken on the host end (it is a bridge
     * port, not an interface of the node's), as the CNI bridge plugin, and
     * no link-local address on it. Both are refused only where the node
     * has no IPv6, and then there is nothing to turn off. */
    (void)node_conf6_write(ctx, pa->host_if, "accept_ra", "0");
    {
        _cleanup_(nlmsg_freep) struct nl_msg *m = no_linklocal_msg(pa->host_if);
        if (m && send_write(ctx, ctx->node, m, NULL) < 0)
            log_debug(pa->host_if, "host end keeps its IPv6 link-local address");
    }

    /* 1b. the host port's flags and VLANs (only when the NAD asks) */
    r = configure_host_port(ctx, pa, what, sizeof(what), &kmsg);
    if (r < 0)
        goto undo;

    /* 2-3. the pod end's ifindex (and kernel-chosen MAC), one read; then
     * up, addresses, routes: one batch */
    r = finish_pod_end(ctx, pa, pns, what, sizeof(what), &kmsg);
    if (r < 0)
        goto undo;
    log_debug(pa->host_if, "attached %s in %s to %s", pa->pod_if, pa->netns, pa->bridge);
    return 0;

undo:
    /* Deleting the host end removes the pod end with it: nothing is left
     * half-done. */
    {
        int u = link_del(ctx, ctx->node, pa->host_if, NULL);
        if (u < 0)
            log_warn(pa->host_if, "rollback of failed attach: %s", strerror(-u));
    }
    return ATTACH_FAIL(r, kmsg, "%s", pa->pod_if, pa->netns, what);
#undef ATTACH_FAIL
}

static int do_pod_detach(struct apply_ctx *ctx, struct op *op, char **ret_err)
{
    struct pod_attach_op *pa = &op->pa;
    _cleanup_(nlmsg_freep) struct nl_msg *m = link_msg(RTM_DELLINK, 0, pa->host_if, 0, 0);
    _cleanup_free_ char *kmsg = NULL;
    struct netns *pns;
    int r;

    if (!m)
        return fail(ret_err, -ENOMEM, NULL, "pod-detach %s: building request", pa->host_if);
    /* A macvlan has no host end: it lives (and goes) in the pod namespace;
     * with the namespace gone there is nothing left. */
    if (pa->kind != ATTACH_MACVLAN && attach_kind_of(pa->host_if) != ATTACH_MACVLAN) {
        r = send_write(ctx, ctx->node, m, &kmsg);
        if (r == 0) {
            restore_displaced_defaults(ctx, pa); /* default-route */
            return 0;
        }
        if (r != -ENODEV)
            return fail(ret_err, r, kmsg, "pod-detach %s", pa->host_if);
        free(TAKE_PTR(kmsg));
    }

    /* The host end is gone. If the pod netns still has the pod end (not
     * ours any more, or left by a crash), remove it there. */
    if (!pa->netns || pod_ns(ctx, pa->netns, &pns) < 0)
        return 0;
    r = link_del(ctx, pns, pa->pod_if, &kmsg);
    if (r < 0)
        return fail(ret_err, r, kmsg, "pod-detach %s in %s", pa->pod_if, pa->netns);
    restore_displaced_defaults(ctx, pa); /* default-route */
    return 0;
}

/* Move every existing host end that is not there yet into the group to
 * delete (one pipelined batch per APPLY_MAX_BATCH), then delete the whole
 * group with one request. An op whose host end is already gone takes the
 * single path (pod-side cleanup). */
int apply_detach_many(struct apply_ctx *ctx, struct op *const *ops, size_t n,
                      const bool *in_pod_group, char **ret_err)
{
    _cleanup_(nlmsg_freep) struct nl_msg *del = NULL;
    _cleanup_free_ char *kmsg = NULL;
    const uint32_t group = in_pod_group ? APPLY_POD_GROUP : APPLY_DETACH_GROUP;
    struct batch b = { .n = 0 };
    size_t grouped = 0;
    bool err_set = false;
    int r = 0;

    for (size_t i = 0; i < n && r >= 0; i++) {
        struct nl_msg *m;
        if (ops[i]->type != OP_POD_DETACH)
            return fail(ret_err, -EINVAL, NULL, "detach-many: op %zu is %s", i,
                        op_name(ops[i]->type));
        /* (default-route: restoring the displaced routes is per op) */
        if (ops[i]->pa.kind == ATTACH_MACVLAN || ops[i]->pa.nprev_defaults ||
            if_nametoindex(ops[i]->pa.host_if) == 0) {
            r = do_pod_detach(ctx, ops[i], ret_err);
            err_set = r < 0;
            continue;
        }
        if (in_pod_group && in_pod_group[i]) {
            grouped++;
            continue;
        }
        m = link_msg(RTM_NEWLINK, 0, ops[i]->pa.host_if, 0, 0);
        if (m && nla_put_u32(m, IFLA_GROUP, group) < 0) {
            nlmsg_free(m);
            m = NULL;
        }
        r = batch_add(&b, m);
        if (r >= 0 && b.n == ARRAY_SIZE(b.m)) {
            r = send_writes(ctx, ctx->node, &b, NULL, &kmsg);
            grouped += b.n;
            batch_free(&b);
        }
    }
    if (r >= 0 && b.n) {
        r = send_writes(ctx, ctx->node, &b, NULL, &kmsg);
        grouped += b.n;
    }
    batch_free(&b);
    if (r == -ENODEV) /* one vanished meanwhile: fine */
        r = 0;
    if (r < 0 && !err_set)
        fail(ret_err, r, kmsg, "pod-detach (batch)");
    if (grouped == 0)
        return r;

    /* Even after a failure above: delete what was grouped, never leave it. */
    del = nlmsg_alloc_simple(RTM_DELLINK, 0);
    {
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        if (!del || nlmsg_append(del, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
            nla_put_u32(del, IFLA_GROUP, group) < 0)
            return r < 0 ? r : fail(ret_err, -ENOMEM, NULL, "pod-detach (batch)");
    }
    free(TAKE_PTR(kmsg));
    {
        int k = send_write(ctx, ctx->node, del, &kmsg);
        if (k < 0 && k != -ENODEV && r >= 0)
            r = fail(ret_err, k, kmsg, "pod-detach (batch): deleting group");
    }
    return r;
}

/* Write a node sysctl (the process is in the node namespace, so
 * /proc/sys/net is the node's). Counted as a write. */
static int do_sysctl(struct apply_ctx *ctx, const struct op *op, char **ret_err)
{
    _cleanup_free_ char *path = NULL;
    char val[16];
    int fd, n, r = 0;

    if (!op->sysctl || strstr(op->sysctl, "..") || strncmp(op->sysctl, "net/", 4) != 0)
        return fail(ret_err, -EINVAL, NULL, "sysctl %s", op->sysctl ? op->sysctl : "?");
    path = xasprintf("/proc/sys/%s", op->sysctl);
    n = snprintf(val, sizeof(val), "%d\n", op->value);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(ret_err, -errno, NULL, "sysctl %s=%d", op->sysctl, op->value);
    ctx->writes++;
    if (write(fd, val, (size_t)n) != n)
        r = -errno;
    close(fd);
    if (r < 0)
        return fail(ret_err, r, NULL, "sysctl %s=%d", op->sysctl, op->value);
    log_debug("sysctl", "%s=%d", op->sysctl, op->value);
    return 0;
}

/* ---- entry points ---- */

void apply_ctx_init(struct apply_ctx *ctx, struct netns *node)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->node = node;
    ctx->conf6_fd = -1;
}

void apply_ctx_done(struct apply_ctx *ctx)
{
    for (size_t i = 0; i < ctx->npods; i++)
        netns_free(ctx->pods[i]);
    free(ctx->pods);
    ctx->pods = NULL;
    ctx->npods = 0;
    if (ctx->conf6_fd >= 0)
        close(ctx->conf6_fd);
    ctx->conf6_fd = -1;
}

int apply_op(struct apply_ctx *ctx, struct op *op, char **ret_err)
{
    switch (op->type) {
    case OP_BRIDGE_ADD:
        return do_bridge_add(ctx, op, ret_err);
    case OP_LINK_SET:
        return do_link_set(ctx, op, ret_err);
    case OP_LINK_DEL:
        return do_link_del(ctx, op, ret_err);
    case OP_ADDR_ADD:
    case OP_ADDR_DEL:
        return do_addr(ctx, op, ret_err);
    case OP_POD_ATTACH:
        return do_pod_attach(ctx, op, ret_err);
    case OP_POD_DETACH:
        return do_pod_detach(ctx, op, ret_err);
    case OP_FORGET: /* inventory only: nothing to write */
        return 0;
    case OP_SYSCTL:
        return do_sysctl(ctx, op, ret_err);
    case OP_ROUTE_ADD:
    case OP_ROUTE_DEL:
        return do_route(ctx, op, ret_err);
    case OP_DNS_SET: { /* a file, not netlink: not counted as a netlink write */
        int r = op->dns.set ? dns_write(op->dns.path, op->dns.remove ? NULL : op->dns.content)
                            : -EINVAL;
        if (r < 0 && ret_err)
            *ret_err = xasprintf("%s %s: %s", op->dns.remove ? "remove" : "write",
                                 op->dns.path ? op->dns.path : "?", strerror(-r));
        return r;
    }
    case OP_RULE_ADD:
    case OP_RULE_DEL:
        return do_rule(ctx, op, ret_err);
    case _OP_TYPE_MAX:
        break;
    }
    return fail(ret_err, -EINVAL, NULL, "op %d", (int)op->type);
}
