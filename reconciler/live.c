/* live.c - read the kernel state of one network namespace into a live_ns
 * snapshot: links, addresses, routes, policy routing rules.
 *
 * The dumps are our own RTM_GET* requests parsed from raw attributes rather
 * than libnl caches: it is faster (no object layer), it sees attributes
 * libnl 3.7 does not expose (IFLA_BR_STP_STATE), and asking the kernel for
 * AF_UNSPEC links gives exactly one entry per ifindex (libnl >= 3.6 caches
 * can hold per-family duplicates). A dump the kernel marks inconsistent
 * (NLM_F_DUMP_INTR: the table changed under it) is retried. */
#include "live.h"

#include <fcntl.h>
#include <sched.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "iftypes_impl.h"
#include "log.h"
#include "util.h"

#define LIVE_DUMP_RETRIES 10

static void nlmsg_freep(struct nl_msg **m)
{
    if (*m)
        nlmsg_free(*m);
}

/* Copy an address attribute of the right size into an ipaddr. */
static bool attr_ipaddr(const struct nlattr *a, int family, uint8_t prefix, struct ipaddr *ret)
{
    size_t len = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

    if (!a || len == 0 || (size_t)nla_len(a) != len)
        return false;
    memset(ret, 0, sizeof(*ret));
    ret->family = family;
    memcpy(ret->bytes, nla_data(a), len);
    ret->prefix = prefix;
    return true;
}

static uint32_t attr_u32(const struct nlattr *a, uint32_t dflt)
{
    return a && nla_len(a) >= 4 ? nla_get_u32((struct nlattr *)a) : dflt;
}

/* ---- links ---- */

/* Bridge STP state from IFLA_LINKINFO/IFLA_INFO_DATA; 0 off, 1 on (kernel
 * or user-space STP), -1 when not reported. */
static int parse_stp(struct nlattr *info_data)
{
    struct nlattr *tb[IFLA_BR_MAX + 1];

    if (!info_data || nla_parse_nested(tb, IFLA_BR_MAX, info_data, NULL) < 0)
        return -1;
    if (!tb[IFLA_BR_STP_STATE] || nla_len(tb[IFLA_BR_STP_STATE]) < 4)
        return -1;
    return nla_get_u32(tb[IFLA_BR_STP_STATE]) ? 1 : 0;
}

/* Bridge vlan_filtering from IFLA_INFO_DATA; -1 when not reported. */
static int parse_vlan_filtering(struct nlattr *info_data)
{
    struct nlattr *tb[IFLA_BR_MAX + 1];

    if (!info_data || nla_parse_nested(tb, IFLA_BR_MAX, info_data, NULL) < 0 ||
        !tb[IFLA_BR_VLAN_FILTERING] || nla_len(tb[IFLA_BR_VLAN_FILTERING]) < 1)
        return -1;
    return nla_get_u8(tb[IFLA_BR_VLAN_FILTERING]) ? 1 : 0;
}

/* Bridge port flags from IFLA_INFO_SLAVE_DATA (slave kind "bridge"). */
static void parse_brport(struct nlattr *slave_data, struct live_link *k)
{
    struct nlattr *tb[IFLA_BRPORT_MAX + 1];

    if (!slave_data || nla_parse_nested(tb, IFLA_BRPORT_MAX, slave_data, NULL) < 0)
        return;
    if (tb[IFLA_BRPORT_MODE] && nla_len(tb[IFLA_BRPORT_MODE]) >= 1)
        k->brport_hairpin = nla_get_u8(tb[IFLA_BRPORT_MODE]) ? 1 : 0;
    if (tb[IFLA_BRPORT_ISOLATED] && nla_len(tb[IFLA_BRPORT_ISOLATED]) >= 1)
        k->brport_isolated = nla_get_u8(tb[IFLA_BRPORT_ISOLATED]) ? 1 : 0;
}

/* macvlan mode from IFLA_INFO_DATA; 0 when not reported. */
static int parse_macvlan_mode(struct nlattr *info_data)
{
    struct nlattr *tb[IFLA_MACVLAN_MAX + 1];

    if (!info_data || nla_parse_nested(tb, IFLA_MACVLAN_MAX, info_data, NULL) < 0 ||
        !tb[IFLA_MACVLAN_MODE] || nla_len(tb[IFLA_MACVLAN_MODE]) < 4)
        return 0;
    return (int)nla_get_u32(tb[IFLA_MACVLAN_MODE]);
}

/* Parse an RTM_NEWLINK into *k (zeroed by the caller). false = not a link
 * message we keep (per-family duplicates, malformed). */
static bool parse_link(struct nlmsghdr *nlh, struct live_link *k)
{
    struct nlattr *tb[IFLA_MAX + 1];
    struct ifinfomsg *ifi;

    if (nlh->nlmsg_type != RTM_NEWLINK || !nlmsg_valid_hdr(nlh, sizeof(*ifi)))
        return false;
    ifi = nlmsg_data(nlh);
    if (ifi->ifi_family != AF_UNSPEC)
        return false;
    if (nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_IFNAME])
        return false;

    k->ifindex = ifi->ifi_index;
    k->flags = ifi->ifi_flags;
    k->stp = -1;
    k->brport_hairpin = k->brport_isolated = k->vlan_filtering = -1;
    snprintf(k->name, sizeof(k->name), "%.*s", nla_len(tb[IFLA_IFNAME]),
             (const char *)nla_data(tb[IFLA_IFNAME]));
    k->mtu = attr_u32(tb[IFLA_MTU], 0);
    k->master = (int)attr_u32(tb[IFLA_MASTER], 0);
    k->link = (int)attr_u32(tb[IFLA_LINK], 0);
    k->group = (int)attr_u32(tb[IFLA_GROUP], 0);
    if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6) {
        k->has_mac = true;
        memcpy(k->mac, nla_data(tb[IFLA_ADDRESS]), 6);
    }
    if (tb[IFLA_IFALIAS] && nla_len(tb[IFLA_IFALIAS]) > 0 &&
        *(const char *)nla_data(tb[IFLA_IFALIAS]))
        k->alias = xstrndup(nla_data(tb[IFLA_IFALIAS]), (size_t)nla_len(tb[IFLA_IFALIAS]));
    if (tb[IFLA_LINKINFO]) {
        struct nlattr *li[IFLA_INFO_MAX + 1];
        bool li_ok = nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) == 0;
        if (li_ok && li[IFLA_INFO_KIND]) {
            snprintf(k->kind, sizeof(k->kind), "%.*s", nla_len(li[IFLA_INFO_KIND]),
                     (const char *)nla_data(li[IFLA_INFO_KIND]));
            if (streq(k->kind, "bridge")) {
                k->stp = parse_stp(li[IFLA_INFO_DATA]);
                k->vlan_filtering = parse_vlan_filtering(li[IFLA_INFO_DATA]);
                bropts_from_nl(li[IFLA_INFO_DATA], &k->bropts);
            } else if (streq(k->kind, "macvlan"))
                k->macvlan_mode = parse_macvlan_mode(li[IFLA_INFO_DATA]);
            link_cfg_from_kernel(k->kind, li[IFLA_INFO_DATA], tb, &k->cfg);
        }
        if (li_ok && li[IFLA_INFO_SLAVE_KIND] && nla_len(li[IFLA_INFO_SLAVE_KIND]) >= 6 &&
            strncmp(nla_data(li[IFLA_INFO_SLAVE_KIND]), "bridge", 6) == 0)
        {
            parse_brport(li[IFLA_INFO_SLAVE_DATA], k);
            brport_opts_from_nl(li[IFLA_INFO_SLAVE_DATA], &k->brport);
        }
    }
    return true;
}

static int on_link(struct nl_msg *msg, void *arg)
{
    struct live_ns *l = arg;
    struct live_link k = {0};

    if (!parse_link(nlmsg_hdr(msg), &k))
        return NL_SKIP;
    *ARRAY_PUSH(l->links, l->nlinks) = k;
    return NL_OK;
}

/* ---- addresses ---- */

/* Parse an RTM_NEWADDR or RTM_DELADDR. */
static bool parse_addr(struct nlmsghdr *nlh, struct live_addr *a)
{
    struct nlattr *tb[IFA_MAX + 1];
    struct ifaddrmsg *ifa;
    struct nlattr *addr;

    if ((nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR) ||
        !nlmsg_valid_hdr(nlh, sizeof(*ifa)))
        return false;
    ifa = nlmsg_data(nlh);
    if (nlmsg_parse(nlh, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
        return false;
    /* IPv4: IFA_LOCAL is the address, IFA_ADDRESS the peer on p-t-p links. */
    addr = ifa->ifa_family == AF_INET && tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (!attr_ipaddr(addr, ifa->ifa_family, ifa->ifa_prefixlen, &a->addr))
        return false;
    a->ifindex = (int)ifa->ifa_index;
    a->flags = attr_u32(tb[IFA_FLAGS], ifa->ifa_flags);
    return true;
}

static int on_addr(struct nl_msg *msg, void *arg)
{
    struct live_ns *l = arg;
    struct live_addr a = { 0 };

    if (nlmsg_hdr(msg)->nlmsg_type != RTM_NEWADDR || !parse_addr(nlmsg_hdr(msg), &a))
        return NL_SKIP;
    *ARRAY_PUSH(l->addrs, l->naddrs) = a;
    return NL_OK;
}

/* ---- routes ---- */

/* Parse an RTM_NEWROUTE or RTM_DELROUTE: every table but local (255), the
 * unicast, blackhole, unreachable and prohibit types, not cloned. The pod
 * planner only looks at main-table unicast ones (LIVE_ROUTE_MAIN_UNICAST). */
static bool parse_route(struct nlmsghdr *nlh, struct live_route *ret)
{
    struct nlattr *tb[RTA_MAX + 1];
    struct rtmsg *rtm;
    struct live_route r = { 0 };

    if ((nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE) ||
        !nlmsg_valid_hdr(nlh, sizeof(*rtm)))
        return false;
    rtm = nlmsg_data(nlh);
    if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
        (rtm->rtm_flags & RTM_F_CLONED))
        return false;
    if (rtm->rtm_type != RTN_UNICAST && rtm->rtm_type != RTN_BLACKHOLE &&
        rtm->rtm_type != RTN_UNREACHABLE && rtm->rtm_type != RTN_PROHIBIT)
        return false;
    if (nlmsg_parse(nlh, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
        return false;
    r.table = attr_u32(tb[RTA_TABLE], rtm->rtm_table);
    if (r.table == RT_TABLE_LOCAL || r.table == RT_TABLE_UNSPEC)
        return false;
    if (!attr_ipaddr(tb[RTA_DST], rtm->rtm_family, rtm->rtm_dst_len, &r.dst)) {
        if (tb[RTA_DST])
            return false;
        r.dst.family = rtm->rtm_family; /* no RTA_DST: the default route */
        r.dst.prefix = 0;
    }
    r.has_gw = attr_ipaddr(tb[RTA_GATEWAY], rtm->rtm_family,
                           rtm->rtm_family == AF_INET ? 32 : 128, &r.gw);
    r.has_src = attr_ipaddr(tb[RTA_PREFSRC], rtm->rtm_family,
                            rtm->rtm_family == AF_INET ? 32 : 128, &r.src);
    r.ifindex = (int)attr_u32(tb[RTA_OIF], 0);
    r.protocol = rtm->rtm_protocol;
    r.priority = attr_u32(tb[RTA_PRIORITY], 0);
    r.type = rtm->rtm_type;
    r.scope = rtm->rtm_scope;
    r.tos = rtm->rtm_tos;
    *ret = r;
    return true;
}

static int on_route(struct nl_msg *msg, void *arg)
{
    struct live_ns *l = arg;
    struct live_route r;

    if (nlmsg_hdr(msg)->nlmsg_type != RTM_NEWROUTE || !parse_route(nlmsg_hdr(msg), &r))
        return NL_SKIP;
    *ARRAY_PUSH(l->routes, l->nroutes) = r;
    return NL_OK;
}

/* ---- rules ---- */

/* Parse an RTM_NEWRULE or RTM_DELRULE of IPv4 or IPv6 (not the multicast
 * routing families). */
static bool parse_rule(struct nlmsghdr *nlh, struct live_rule *ret)
{
    struct nlattr *tb[FRA_MAX + 1];
    struct fib_rule_hdr *frh;
    struct live_rule r = {0};

    if ((nlh->nlmsg_type != RTM_NEWRULE && nlh->nlmsg_type != RTM_DELRULE) ||
        !nlmsg_valid_hdr(nlh, sizeof(*frh)))
        return false;
    frh = nlmsg_data(nlh);
    if (frh->family != AF_INET && frh->family != AF_INET6)
        return false;
    if (nlmsg_parse(nlh, sizeof(*frh), tb, FRA_MAX, NULL) < 0)
        return false;
    r.family = frh->family;
    r.has_src = frh->src_len > 0 && attr_ipaddr(tb[FRA_SRC], frh->family, frh->src_len, &r.src);
    r.has_dst = frh->dst_len > 0 && attr_ipaddr(tb[FRA_DST], frh->family, frh->dst_len, &r.dst);
    r.priority = attr_u32(tb[FRA_PRIORITY], 0);
    r.table = attr_u32(tb[FRA_TABLE], frh->table);
    r.fwmark = attr_u32(tb[FRA_FWMARK], 0);
    r.fwmask = attr_u32(tb[FRA_FWMASK], 0);
    if (tb[FRA_IIFNAME])
        snprintf(r.iif, sizeof(r.iif), "%.*s", nla_len(tb[FRA_IIFNAME]),
                 (const char *)nla_data(tb[FRA_IIFNAME]));
    r.action = frh->action;
    r.extra = frh->tos || (frh->flags & FIB_RULE_INVERT) || tb[FRA_OIFNAME] || tb[FRA_GOTO] ||
              (tb[FRA_L3MDEV] && nla_get_u8(tb[FRA_L3MDEV])) || tb[FRA_UID_RANGE] ||
              tb[FRA_IP_PROTO] || tb[FRA_SPORT_RANGE] || tb[FRA_DPORT_RANGE] ||
              (tb[FRA_SUPPRESS_PREFIXLEN] && nla_get_u32(tb[FRA_SUPPRESS_PREFIXLEN]) != 0xffffffffU) ||
              (tb[FRA_SUPPRESS_IFGROUP] && nla_get_u32(tb[FRA_SUPPRESS_IFGROUP]) != 0xffffffffU) ||
              (frh->action != FR_ACT_TO_TBL && frh->action != FR_ACT_BLACKHOLE &&
               frh->action != FR_ACT_UNREACHABLE && frh->action != FR_ACT_PROHIBIT);
    *ret = r;
    return true;
}

static int on_rule(struct nl_msg *msg, void *arg)
{
    struct live_ns *l = arg;
    struct live_rule r;

    if (nlmsg_hdr(msg)->nlmsg_type != RTM_NEWRULE || !parse_rule(nlmsg_hdr(msg), &r))
        return NL_SKIP;
    *ARRAY_PUSH(l->rules, l->nrules) = r;
    return NL_OK;
}

/* ---- bridge port VLANs ---- */

/* Drop the VLAN entries of ifindex. */
static void pvlans_drop(struct live_ns *l, int ifindex)
{
    for (size_t i = 0; i < l->npvlans;)
        if (l->pvlans[i].ifindex == ifindex)
            l->pvlans[i] = l->pvlans[--l->npvlans];
        else
            i++;
}

/* An AF_BRIDGE RTM_NEWLINK of a port: its VLANs replace what we had.
 * false when it is not such a message. */
static bool parse_brvlan(struct nlmsghdr *nlh, struct live_ns *l)
{
    struct nlattr *tb[IFLA_MAX + 1];
    struct ifinfomsg *ifi;

    if (nlh->nlmsg_type != RTM_NEWLINK || !nlmsg_valid_hdr(nlh, sizeof(*ifi)))
        return false;
    ifi = nlmsg_data(nlh);
    if (ifi->ifi_family != AF_BRIDGE || nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 ||
        !tb[IFLA_MASTER] || !tb[IFLA_AF_SPEC])
        return false;
    struct vlan_span *v;
    size_t n = vlan_spans_from_afspec(tb[IFLA_AF_SPEC], &v);
    pvlans_drop(l, ifi->ifi_index);
    for (size_t i = 0; i < n; i++)
        *ARRAY_PUSH(l->pvlans, l->npvlans) = (struct live_port_vlan){ifi->ifi_index, v[i]};
    free(v);
    return true;
}

static int on_brvlan(struct nl_msg *msg, void *arg)
{
    return parse_brvlan(nlmsg_hdr(msg), arg) ? NL_OK : NL_SKIP;
}

size_t live_port_vlans(const struct live_ns *l, int ifindex, struct vlan_span **ret)
{
    struct vlan_span *v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < l->npvlans; i++)
        if (l->pvlans[i].ifindex == ifindex)
            *ARRAY_PUSH(v, n) = l->pvlans[i].s;
    *ret = v;
    return vlan_spans_normalize(v, n);
}

static bool any_bridge_filters(const struct live_ns *l)
{
    for (size_t i = 0; i < l->nlinks; i++)
        if (l->links[i].vlan_filtering == 1)
            return true;
    return false;
}

/* ---- dump driver ---- */

/* Not an RTM type: the AF_BRIDGE link dump with the ports' VLANs. */
#define DUMP_BRIDGE_VLANS 0x10000

/* Build the dump request for one table: an all-zero header of the family's
 * struct (strict-check friendly); links ask the kernel to leave out stats. */
static struct nl_msg *dump_request(int type)
{
    struct nl_msg *m = nlmsg_alloc_simple(type, NLM_F_DUMP);
    int r = 0;

    if (!m)
        return NULL;
    switch (type) {
    case RTM_GETLINK: {
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        r = nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
        if (r == 0)
            r = nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        break;
    }
    case DUMP_BRIDGE_VLANS: {
        nlmsg_free(m);
        m = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_DUMP);
        struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE };
        if (!m)
            return NULL;
        r = nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
        if (r == 0)
            r = nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN_COMPRESSED);
        break;
    }
    case RTM_GETADDR: {
        struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
        r = nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO);
        break;
    }
    case RTM_GETROUTE: {
        struct rtmsg rtm = { .rtm_family = AF_UNSPEC };
        r = nlmsg_append(m, &rtm, sizeof(rtm), NLMSG_ALIGNTO);
        break;
    }
    case RTM_GETRULE: { /* AF_UNSPEC: every family's rules (IPv4, IPv6, ...) */
        struct fib_rule_hdr frh = { .family = AF_UNSPEC };
        r = nlmsg_append(m, &frh, sizeof(frh), NLMSG_ALIGNTO);
        break;
    }
    default:
        r = -NLE_INVAL;
    }
    if (r < 0) {
        nlmsg_free(m);
        return NULL;
    }
    return m;
}

static void live_links_clear(struct live_ns *l)
{
    for (size_t i = 0; i < l->nlinks; i++)
        free(l->links[i].alias);
    free(l->links);
    l->links = NULL;
    l->nlinks = 0;
}

/* One dump, retried (from scratch: a partial result is discarded) while the
 * kernel reports it inconsistent. */
static int dump_one(struct netns *ns, int type, int (*cb)(struct nl_msg *, void *),
                    struct live_ns *l)
{
    int r = -EAGAIN;

    for (int attempt = 0; attempt < LIVE_DUMP_RETRIES && r == -EAGAIN; attempt++) {
        _cleanup_(nlmsg_freep) struct nl_msg *m = dump_request(type);
        _cleanup_free_ char *kmsg = NULL;

        if (!m)
            return -ENOMEM;
        switch (type) {
        case RTM_GETLINK:
            live_links_clear(l);
            break;
        case RTM_GETADDR:
            free(l->addrs);
            l->addrs = NULL;
            l->naddrs = 0;
            break;
        case RTM_GETROUTE:
            free(l->routes);
            l->routes = NULL;
            l->nroutes = 0;
            break;
        case RTM_GETRULE:
            free(l->rules);
            l->rules = NULL;
            l->nrules = 0;
            break;
        case DUMP_BRIDGE_VLANS:
            free(l->pvlans);
            l->pvlans = NULL;
            l->npvlans = 0;
            break;
        }
        r = netns_request(ns, &m, 1, cb, l, NULL, &kmsg);
        if (r == -EAGAIN)
            log_debug(ns->path, "dump %d interrupted, retrying", type);
        else if (r < 0)
            log_warn(ns->path, "dump %d: %s%s%s%s", type, strerror(-r), kmsg ? " (kernel: " : "",
                     kmsg ? kmsg : "", kmsg ? ")" : "");
    }
    return r;
}

/* A snapshot's serial (live.h): never the same twice in a process. */
static uint64_t live_serial_next(void)
{
    static uint64_t serial;
    return ++serial;
}

/* Three dumps, one after the other (a socket runs one dump at a time).
 * Cost: O(links + addresses + routes), a handful of round trips. */
int live_dump(struct netns *ns, struct live_ns *ret)
{
    struct live_ns l = { 0 };
    int r;

    r = dump_one(ns, RTM_GETLINK, on_link, &l);
    if (r >= 0)
        r = dump_one(ns, RTM_GETADDR, on_addr, &l);
    if (r >= 0)
        r = dump_one(ns, RTM_GETROUTE, on_route, &l);
    /* Policy routing rules are the node's business: a pod namespace's are
     * never planned, so a thousand pods cost no thousand rule dumps. */
    if (r >= 0 && ns->node)
        r = dump_one(ns, RTM_GETRULE, on_rule, &l);
    /* Port VLANs cost one more dump: only when some bridge filters VLANs
     * (without one, no plan looks at them). */
    if (r >= 0 && any_bridge_filters(&l))
        r = dump_one(ns, DUMP_BRIDGE_VLANS, on_brvlan, &l);
    l.pvlans_known = true;
    if (r < 0) {
        live_ns_free(&l);
        return r;
    }
    /* kept for as long as the namespace is watched: a pod's has two links */
    array_fit(&l.links, l.nlinks, sizeof(*l.links));
    array_fit(&l.addrs, l.naddrs, sizeof(*l.addrs));
    array_fit(&l.routes, l.nroutes, sizeof(*l.routes));
    l.serial = live_serial_next();
    *ret = l;
    return 0;
}

static void live_index_free(struct live_index *x);

void live_ns_free(struct live_ns *l)
{
    if (!l)
        return;
    live_links_clear(l);
    free(l->addrs);
    free(l->routes);
    free(l->rules);
    free(l->pvlans);
    live_index_free(l->index);
    memset(l, 0, sizeof(*l));
}

struct live_index {
    struct strmap byname; /* keys point into links[].name */
    const struct live_link *links;
    size_t n;
    unsigned long gen;
};

static void live_index_free(struct live_index *x)
{
    if (!x)
        return;
    strmap_free(&x->byname);
    free(x);
}

void live_ns_drop_index(struct live_ns *l)
{
    live_index_free(l->index);
    l->index = NULL;
}

/* Small namespaces (a pod's) are scanned; a node's links are indexed. The
 * index is a cache inside a const snapshot: lookups may build it. */
const struct live_link *live_find_link(const struct live_ns *l, const char *name)
{
    if (!l || !name)
        return NULL;
    if (l->nlinks < 32) {
        for (size_t i = 0; i < l->nlinks; i++)
            if (streq(l->links[i].name, name))
                return &l->links[i];
        return NULL;
    }
    struct live_ns *m = (struct live_ns *)l;
    struct live_index *x = m->index;
    if (!x || x->links != l->links || x->n != l->nlinks || x->gen != l->gen) {
        live_index_free(x);
        x = m->index = xcalloc(1, sizeof(*x));
        x->links = l->links;
        x->n = l->nlinks;
        x->gen = l->gen;
        for (size_t i = 0; i < l->nlinks; i++)
            strmap_put(&x->byname, l->links[i].name, i);
    }
    size_t i;
    return strmap_get(&x->byname, name, &i) ? &l->links[i] : NULL;
}

const struct live_link *live_find_ifindex(const struct live_ns *l, int ifindex)
{
    if (!l)
        return NULL;
    for (size_t i = 0; i < l->nlinks; i++)
        if (l->links[i].ifindex == ifindex)
            return &l->links[i];
    return NULL;
}

bool live_route_is(const struct live_route *lr, const struct route *rt)
{
    return ipaddr_equal(&lr->dst, &rt->dst) && lr->has_gw == rt->has_gw &&
           (!rt->has_gw || ipaddr_same_host(&lr->gw, &rt->gw));
}

bool live_has_addr(const struct live_ns *l, int ifindex, const struct ipaddr *a)
{
    size_t len;

    if (!l || !a)
        return false;
    len = a->family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < l->naddrs; i++) {
        const struct live_addr *x = &l->addrs[i];
        if (x->ifindex == ifindex && x->addr.family == a->family &&
            x->addr.prefix == a->prefix && memcmp(x->addr.bytes, a->bytes, len) == 0)
            return true;
    }
    return false;
}

/* ---- keeping a snapshot current from events ---- */

static bool route_same(const struct live_route *a, const struct live_route *b)
{
    return a->ifindex == b->ifindex && a->priority == b->priority && a->table == b->table &&
           a->type == b->type && a->tos == b->tos && a->dst.family == b->dst.family &&
           ipaddr_equal(&a->dst, &b->dst) && a->has_gw == b->has_gw &&
           (!a->has_gw || ipaddr_same_host(&a->gw, &b->gw));
}

static bool rule_same(const struct live_rule *a, const struct live_rule *b)
{
    return a->family == b->family && a->priority == b->priority && a->table == b->table &&
           a->action == b->action && a->fwmark == b->fwmark && a->fwmask == b->fwmask &&
           a->extra == b->extra && streq(a->iif, b->iif) && a->has_src == b->has_src &&
           (!a->has_src || ipaddr_equal(&a->src, &b->src)) && a->has_dst == b->has_dst &&
           (!a->has_dst || ipaddr_equal(&a->dst, &b->dst));
}

/* What a plan reads of a link is the same in a and b: every field, the
 * alias by its text, of the flags only up and promisc (a carrier or
 * operstate change is not drift). Compared as bytes: a difference in
 * padding can only make a pass that finds nothing, never hide a change. */
static bool link_seen_same(const struct live_link *a, const struct live_link *b)
{
    struct live_link x = *a, y = *b;
    if (!streq(a->alias ? a->alias : "", b->alias ? b->alias : ""))
        return false;
    x.alias = y.alias = NULL;
    x.flags &= IFF_UP | IFF_PROMISC;
    y.flags &= IFF_UP | IFF_PROMISC;
    return memcmp(&x, &y, sizeof(x)) == 0;
}

static bool addr_link_local6(const struct ipaddr *a)
{
    return a->family == AF_INET6 && a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80;
}

static bool apply_event(struct live_ns *l, struct nlmsghdr *nlh);

/* A new serial only for a change a plan reads: an event that changes
 * nothing of the kind (a carrier flicker, an IPv6 link-local address, the
 * echo of a write) keeps the snapshot's identity for the plan memo, as it
 * is not drift for the daemon. */
bool live_apply_event(struct live_ns *l, struct nlmsghdr *nlh)
{
    bool changed = apply_event(l, nlh);
    if (changed)
        l->serial = live_serial_next();
    return changed;
}

static bool apply_event(struct live_ns *l, struct nlmsghdr *nlh)
{
    switch (nlh->nlmsg_type) {
    case RTM_NEWLINK: {
        struct live_link k = {0};
        if (parse_brvlan(nlh, l))
            return true;
        if (!parse_link(nlh, &k))
            return false;
        for (size_t i = 0; i < l->nlinks; i++)
            if (l->links[i].ifindex == k.ifindex) {
                /* A bridge that starts filtering: its ports' VLANs were
                 * not dumped; the next pass re-dumps. */
                if (k.vlan_filtering == 1 && l->links[i].vlan_filtering != 1)
                    l->pvlans_known = false;
                bool changed = !link_seen_same(&l->links[i], &k);
                free(l->links[i].alias);
                l->links[i] = k;
                if (changed)
                    l->gen++; /* a rename keeps the slot: the name index is stale */
                return changed;
            }
        *ARRAY_PUSH(l->links, l->nlinks) = k;
        return true;
    }
    case RTM_DELLINK: {
        struct ifinfomsg *ifi;
        if (!nlmsg_valid_hdr(nlh, sizeof(*ifi)))
            return false;
        ifi = nlmsg_data(nlh);
        if (ifi->ifi_family == AF_BRIDGE) { /* a port left its bridge */
            pvlans_drop(l, ifi->ifi_index);
            return true;
        }
        if (ifi->ifi_family != AF_UNSPEC)
            return false;
        int idx = ifi->ifi_index;
        pvlans_drop(l, idx);
        for (size_t i = 0; i < l->nlinks; i++)
            if (l->links[i].ifindex == idx) {
                free(l->links[i].alias);
                l->links[i] = l->links[--l->nlinks];
                break;
            }
        /* Its addresses and routes went with it. */
        for (size_t i = 0; i < l->naddrs;)
            if (l->addrs[i].ifindex == idx)
                l->addrs[i] = l->addrs[--l->naddrs];
            else
                i++;
        for (size_t i = 0; i < l->nroutes;)
            if (l->routes[i].ifindex == idx)
                l->routes[i] = l->routes[--l->nroutes];
            else
                i++;
        return true;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
        struct live_addr a = {0};
        if (!parse_addr(nlh, &a))
            return false;
        bool seen = !addr_link_local6(&a.addr);
        for (size_t i = 0; i < l->naddrs; i++)
            if (l->addrs[i].ifindex == a.ifindex && ipaddr_equal(&l->addrs[i].addr, &a.addr)) {
                bool changed = nlh->nlmsg_type == RTM_DELADDR ||
                               ((l->addrs[i].flags ^ a.flags) & IFA_F_PERMANENT);
                if (nlh->nlmsg_type == RTM_NEWADDR)
                    l->addrs[i] = a;
                else
                    l->addrs[i] = l->addrs[--l->naddrs];
                return seen && changed;
            }
        if (nlh->nlmsg_type != RTM_NEWADDR)
            return false; /* not here: nothing to take out */
        *ARRAY_PUSH(l->addrs, l->naddrs) = a;
        return seen;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
        struct live_route r;
        if (!parse_route(nlh, &r))
            return false;
        for (size_t i = 0; i < l->nroutes; i++)
            if (route_same(&l->routes[i], &r)) {
                bool changed = nlh->nlmsg_type == RTM_DELROUTE ||
                               memcmp(&l->routes[i], &r, sizeof(r)) != 0;
                if (nlh->nlmsg_type == RTM_NEWROUTE)
                    l->routes[i] = r;
                else
                    l->routes[i] = l->routes[--l->nroutes];
                return changed;
            }
        if (nlh->nlmsg_type != RTM_NEWROUTE)
            return false;
        *ARRAY_PUSH(l->routes, l->nroutes) = r;
        return true;
    }
    case RTM_NEWRULE:
    case RTM_DELRULE: {
        struct live_rule r;
        if (!parse_rule(nlh, &r))
            return false;
        for (size_t i = 0; i < l->nrules; i++)
            if (rule_same(&l->rules[i], &r)) {
                bool changed = nlh->nlmsg_type == RTM_DELRULE ||
                               memcmp(&l->rules[i], &r, sizeof(r)) != 0;
                if (nlh->nlmsg_type == RTM_NEWRULE)
                    l->rules[i] = r;
                else
                    l->rules[i] = l->rules[--l->nrules];
                return changed;
            }
        if (nlh->nlmsg_type != RTM_NEWRULE)
            return false;
        *ARRAY_PUSH(l->rules, l->nrules) = r;
        return true;
    }
    }
    return false;
}

/* A raw NETLINK_ROUTE socket in the current (node) namespace subscribed to
 * link/address/route/rule groups of it and of every namespace it has an id for. */
static int monitor_open(void)
{
    int fd, r = 0, one = 1;

    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    struct sockaddr_nl sa = {
        .nl_family = AF_NETLINK,
        .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                     RTMGRP_IPV6_ROUTE | 1U << (RTNLGRP_IPV4_RULE - 1) |
                     1U << (RTNLGRP_IPV6_RULE - 1),
    };
    /* A thousand pods attaching at once queue a few events each. */
    int sz = 16 << 20;
    /* SO_RCVBUFFORCE works as root and ignores rmem_max; fall back quietly. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    if (setsockopt(fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* The id the node namespace (node_ns's socket) gives the namespace open at
 * fd; with assign, one is allocated when it has none. -1 when none. */
static int nsid_reply(struct nl_msg *msg, void *arg)
{
    struct nlmsghdr *h = nlmsg_hdr(msg);
    struct nlattr *tb[NETNSA_MAX + 1];
    if (h->nlmsg_type != RTM_NEWNSID ||
        nlmsg_parse(h, sizeof(struct rtgenmsg), tb, NETNSA_MAX, NULL) < 0)
        return NL_SKIP;
    if (tb[NETNSA_NSID])
        *(int *)arg = (int)nla_get_s32(tb[NETNSA_NSID]);
    return NL_OK;
}

static int nsid_request(struct netns *node_ns, int type, int fd, int *ret_nsid)
{
    struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
    _cleanup_(nlmsg_freep) struct nl_msg *m = nlmsg_alloc_simple(type, type == RTM_NEWNSID ? NLM_F_ACK : 0);
    if (!m || nlmsg_append(m, &g, sizeof(g), NLMSG_ALIGNTO) < 0 ||
        nla_put_u32(m, NETNSA_FD, (uint32_t)fd) < 0 ||
        (type == RTM_NEWNSID && nla_put_s32(m, NETNSA_NSID, -1) < 0))
        return -ENOMEM;
    return netns_request(node_ns, &m, 1, type == RTM_GETNSID ? nsid_reply : NULL, ret_nsid,
                         NULL, NULL);
}

static int nsid_of(struct netns *node_ns, int fd, bool assign, int *ret)
{
    int nsid = -1;
    int r = nsid_request(node_ns, RTM_GETNSID, fd, &nsid);
    if (r >= 0 && nsid < 0 && assign) {
        r = nsid_request(node_ns, RTM_NEWNSID, fd, NULL);
        if (r < 0 && r != -EEXIST) /* a racing assignment is as good */
            return r;
        r = nsid_request(node_ns, RTM_GETNSID, fd, &nsid);
    }
    if (r < 0)
        return r;
    if (assign && nsid < 0)
        return -ENOENT;
    *ret = nsid;
    return 0;
}

int live_watch_open(struct netns *ns, struct live_watch **ret)
{
    struct live_watch *w = xcalloc(1, sizeof(*w));
    w->ns = ns;
    w->nsid = -1;
    /* Subscribe before the first dump, so nothing falls between them. */
    w->fd = monitor_open();
    if (w->fd < 0) {
        int r = w->fd;
        free(w);
        return r;
    }
    /* Events of the node itself carry no id, unless it was given one. */
    if (nsid_of(ns, ns->fd, false, &w->self_nsid) < 0)
        w->self_nsid = -1;
    int r = live_watch_resync(w);
    if (r < 0) {
        live_watch_free(w);
        return r;
    }
    *ret = w;
    return 0;
}

int live_watch_open_member(struct live_watch *node, struct netns *node_ns, struct netns *ns,
                           struct live_watch **ret)
{
    int nsid;
    int r = nsid_of(node_ns, ns->fd, true, &nsid);
    if (r < 0)
        return r;
    if (nsid == node->self_nsid)
        return -EINVAL; /* the node itself */
    if ((size_t)nsid >= node->nmembers) {
        size_t n = (size_t)nsid + 64;
        node->members = xrealloc(node->members, n * sizeof(*node->members));
        memset(node->members + node->nmembers, 0, (n - node->nmembers) * sizeof(*node->members));
        node->nmembers = n;
    }
    if (node->members[nsid]) {
        /* The id was the namespace of another watch, which is gone (the
         * kernel hands a dead namespace's id to the next): that watch
         * gets no events any more and is left without a feeder. */
        struct live_watch *old = node->members[nsid];
        old->parent = NULL;
        old->nsid = -1;
        old->valid = false;
        node->members[nsid] = NULL;
    }
    struct live_watch *w = xcalloc(1, sizeof(*w));
    w->ns = ns;
    w->fd = -1;
    w->parent = node;
    w->nsid = nsid;
    w->self_nsid = -1;
    /* A member before the dump: its events from now on are kept. */
    node->members[nsid] = w;
    r = live_watch_resync(w);
    if (r < 0) {
        live_watch_free(w);
        return r;
    }
    *ret = w;
    return 0;
}

int live_watch_resync(struct live_watch *w)
{
    struct live_ns fresh;
    int r = live_dump(w->ns, &fresh);
    if (r < 0) {
        w->valid = false;
        return r;
    }
    live_ns_free(&w->cache);
    w->cache = fresh;
    w->valid = true;
    w->changes++;
    return 0;
}

int live_watch_read(struct live_watch *w)
{
    if (w->parent)
        return live_watch_read(w->parent);
    char buf[65536] __attribute__((aligned(NLMSG_ALIGNTO)));
    char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(sizeof(size_t))));
    int events = 0;
    for (;;) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof(cbuf)};
        ssize_t n = recvmsg(w->fd, &mh, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                /* Events were lost: no snapshot can be trusted until
                 * its next full dump. */
                w->valid = false;
                for (size_t i = 0; i < w->nmembers; i++)
                    if (w->members[i])
                        w->members[i]->valid = false;
                w->overruns++;
                continue;
            }
            break; /* EAGAIN: drained */
        }
        if (n == 0)
            break;
        /* Which namespace: no id = the node itself. */
        int nsid = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID)
                memcpy(&nsid, CMSG_DATA(c), sizeof(nsid));
        struct live_watch *t = NULL;
        if (nsid < 0 || nsid == w->self_nsid)
            t = w;
        else if ((size_t)nsid < w->nmembers)
            t = w->members[nsid];
        if (!t)
            continue; /* a namespace we do not watch */
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (live_apply_event(&t->cache, h)) {
                events++;
                t->changes++;
            }
        }
    }
    return events;
}

void live_watch_free(struct live_watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->parent && (size_t)w->nsid < w->parent->nmembers &&
        w->parent->members[w->nsid] == w)
        w->parent->members[w->nsid] = NULL;
    /* Members outliving their node watch no longer have a feeder. */
    for (size_t i = 0; i < w->nmembers; i++)
        if (w->members[i])
            w->members[i]->parent = NULL;
    free(w->members);
    live_ns_free(&w->cache);
    free(w);
}
