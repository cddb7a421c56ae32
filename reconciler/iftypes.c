/* iftypes.c - nmstate interface types beyond linux-bridge (issue 6): veth,
 * vxlan, mac-vlan, dummy, vlan, bond. Everything type-specific lives here:
 * the names, the validator's parsing of the type blocks (veth, vxlan,
 * mac-vlan, vlan, link-aggregation), the comparison of a desired type
 * configuration with a live link, the netlink attributes that create one
 * (apply.c) and parse one (live.c), the journal's JSON and `plumbd show`'s
 * block. plan.c decides when to create, re-create or delete. */
#include <arpa/inet.h>
#include <jansson.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "iftypes_impl.h"
#include "live.h"

/* ---- names ---- */

static const struct {
    const char *kernel, *nmstate;
} kinds[_LK_MAX] = {
    [LK_NONE] = {"", "ethernet"},       [LK_BRIDGE] = {"bridge", "linux-bridge"},
    [LK_VETH] = {"veth", "veth"},       [LK_VXLAN] = {"vxlan", "vxlan"},
    [LK_MACVLAN] = {"macvlan", "mac-vlan"}, [LK_DUMMY] = {"dummy", "dummy"},
    [LK_VLAN] = {"vlan", "vlan"},       [LK_BOND] = {"bond", "bond"},
};

enum link_kind link_kind_from_kernel(const char *kind)
{
    for (int k = LK_BRIDGE; k < _LK_MAX; k++)
        if (streq(kind, kinds[k].kernel))
            return (enum link_kind)k;
    return LK_NONE;
}

const char *link_kind_to_kernel(enum link_kind k)
{
    return k < _LK_MAX ? kinds[k].kernel : "";
}

const char *link_kind_to_nmstate(enum link_kind k)
{
    return k < _LK_MAX ? kinds[k].nmstate : "unknown";
}

bool link_kind_virtual(enum link_kind k)
{
    return k > LK_NONE && k < _LK_MAX;
}

struct name_val {
    const char *name;
    int val;
};

static const struct name_val macvlan_modes[] = {
    {"private", MACVLAN_MODE_PRIVATE}, {"vepa", MACVLAN_MODE_VEPA},
    {"bridge", MACVLAN_MODE_BRIDGE},   {"passthru", MACVLAN_MODE_PASSTHRU},
    {"source", MACVLAN_MODE_SOURCE},   {NULL, 0},
};
static const struct name_val bond_modes[] = {
    {"balance-rr", 0}, {"active-backup", 1}, {"balance-xor", 2}, {"broadcast", 3},
    {"802.3ad", 4},    {"balance-tlb", 5},   {"balance-alb", 6}, {NULL, 0},
};
static const struct name_val xmit_hash[] = {
    {"layer2", 0}, {"layer3+4", 1}, {"layer2+3", 2}, {"encap2+3", 3},
    {"encap3+4", 4}, {"vlan+srcmac", 5}, {NULL, 0},
};
static const struct name_val lacp_rates[] = {{"slow", 0}, {"fast", 1}, {NULL, 0}};
static const struct name_val ad_selects[] = {
    {"stable", 0}, {"bandwidth", 1}, {"count", 2}, {NULL, 0}};

static const char *nv_name(const struct name_val *t, int v)
{
    for (; t->name; t++)
        if (t->val == v)
            return t->name;
    return NULL;
}

static int nv_value(const struct name_val *t, const char *s)
{
    for (; t->name; t++)
        if (streq(t->name, s))
            return t->val;
    return -EINVAL;
}

const char *macvlan_kmode_to_string(int mode)
{
    return nv_name(macvlan_modes, mode);
}

int macvlan_kmode_from_string(const char *s)
{
    return nv_value(macvlan_modes, s);
}

const char *bond_mode_to_string(int mode)
{
    return nv_name(bond_modes, mode);
}

int bond_mode_from_string(const char *s)
{
    char *end;
    long v;
    if (!s)
        return -EINVAL;
    v = strtol(s, &end, 10);
    if (end != s && !*end)
        return v >= 0 && v <= 6 ? (int)v : -EINVAL;
    return nv_value(bond_modes, s);
}

/* Which modes an option applies to: the kernel refuses the others
 * (bond_opt_check_deps / unsuppmodes). */
#define ALL_MODES 0x7fu
#define MODE(m) (1u << (m))

const struct bond_opt_info bond_opts[_BOND_OPT_MAX] = {
    [BOND_MIIMON] = {"miimon", IFLA_BOND_MIIMON, 4, NULL, ALL_MODES},
    [BOND_UPDELAY] = {"updelay", IFLA_BOND_UPDELAY, 4, NULL, ALL_MODES},
    [BOND_DOWNDELAY] = {"downdelay", IFLA_BOND_DOWNDELAY, 4, NULL, ALL_MODES},
    [BOND_ARP_INTERVAL] = {"arp_interval", IFLA_BOND_ARP_INTERVAL, 4, NULL,
                           ALL_MODES & ~(MODE(4) | MODE(5) | MODE(6))},
    [BOND_MIN_LINKS] = {"min_links", IFLA_BOND_MIN_LINKS, 4, NULL, ALL_MODES},
    [BOND_USE_CARRIER] = {"use_carrier", IFLA_BOND_USE_CARRIER, 1, NULL, ALL_MODES},
    [BOND_ALL_SLAVES_ACTIVE] = {"all_slaves_active", IFLA_BOND_ALL_SLAVES_ACTIVE, 1, NULL,
                                ALL_MODES},
    [BOND_XMIT_HASH_POLICY] = {"xmit_hash_policy", IFLA_BOND_XMIT_HASH_POLICY, 1, xmit_hash,
                               MODE(2) | MODE(4) | MODE(5) | MODE(6)},
    [BOND_LACP_RATE] = {"lacp_rate", IFLA_BOND_AD_LACP_RATE, 1, lacp_rates, MODE(4)},
    [BOND_AD_SELECT] = {"ad_select", IFLA_BOND_AD_SELECT, 1, ad_selects, MODE(4)},
    [BOND_RESEND_IGMP] = {"resend_igmp", IFLA_BOND_RESEND_IGMP, 4, NULL, ALL_MODES},
    [BOND_NUM_PEER_NOTIF] = {"num_grat_arp", IFLA_BOND_NUM_PEER_NOTIF, 1, NULL, ALL_MODES},
};

const char *bond_opt_name(enum bond_opt o)
{
    return o < _BOND_OPT_MAX ? bond_opts[o].name : "?";
}

int bond_opt_from_name(const char *s)
{
    for (int o = 0; o < _BOND_OPT_MAX; o++)
        if (streq(s, bond_opts[o].name))
            return o;
    if (streq(s, "num_unsol_na")) /* the kernel's other name of num_grat_arp */
        return BOND_NUM_PEER_NOTIF;
    return -EINVAL;
}

const char *bond_opt_format(enum bond_opt o, uint32_t v, char *buf, size_t len)
{
    const char *n = bond_opts[o].names ? nv_name(bond_opts[o].names, (int)v) : NULL;
    if (n)
        return n;
    snprintf(buf, len, "%u", v);
    return buf;
}

int bond_opt_parse(enum bond_opt o, const char *s, uint32_t *ret)
{
    char *end;
    unsigned long v;
    if (!s || !*s)
        return -EINVAL;
    if (bond_opts[o].names) {
        int n = nv_value(bond_opts[o].names, s);
        if (n >= 0) {
            *ret = (uint32_t)n;
            return 0;
        }
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || s[0] == '-')
        return -EINVAL;
    if (bond_opts[o].names && !nv_name(bond_opts[o].names, (int)v))
        return -EINVAL;
    if ((bond_opts[o].size == 1 && v > 255) || v > UINT32_MAX)
        return -EINVAL;
    if (bond_opts[o].size == 1 && !bond_opts[o].names && o != BOND_NUM_PEER_NOTIF && v > 1)
        return -EINVAL; /* use_carrier, all_slaves_active: 0 or 1 */
    *ret = (uint32_t)v;
    return 0;
}

bool bond_opt_applies(enum bond_opt o, int mode)
{
    return mode >= 0 && mode <= 6 && (bond_opts[o].modes & MODE(mode));
}

/* ---- comparison ---- */

static const char *base_name(const struct link_cfg *have, const struct live_ns *l)
{
    if (have->base_elsewhere)
        return "(another namespace)";
    const struct live_link *b = have->base_ifindex ? live_find_ifindex(l, have->base_ifindex) : NULL;
    return b ? b->name : "";
}

static char *addr_or_none(const struct ipaddr *a, char *buf, size_t len)
{
    if (!a->family) {
        snprintf(buf, len, "none");
        return buf;
    }
    return ipaddr_format(a, false, buf, len);
}

static bool addr_eq(const struct ipaddr *a, const struct ipaddr *b)
{
    if (a->family != b->family)
        return false;
    return !a->family || ipaddr_same_host(a, b);
}

bool link_cfg_satisfied(const struct link_cfg *want, const struct link_cfg *have,
                        const struct live_ns *l, char **what)
{
    char a[64], b[64];
    const char *t = link_kind_to_nmstate(want->kind);
#define DIFF(...)                                                                                  \
    do {                                                                                           \
        if (what)                                                                                  \
            *what = xasprintf(__VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)
    if (want->kind != have->kind)
        DIFF("type: desired %s, current %s", t, link_kind_to_nmstate(have->kind));
    switch (want->kind) {
    case LK_VETH:
        if (want->base[0] && !streq(want->base, base_name(have, l)))
            DIFF("veth.peer: desired %s, current %s", want->base, base_name(have, l));
        break;
    case LK_VXLAN:
        if (want->id != have->id)
            DIFF("vxlan.id: desired %u, current %u", want->id, have->id);
        if (!streq(want->base, base_name(have, l)))
            DIFF("vxlan.base-iface: desired '%s', current '%s'", want->base, base_name(have, l));
        if (!addr_eq(&want->local, &have->local))
            DIFF("vxlan.local: desired %s, current %s", addr_or_none(&want->local, a, sizeof(a)),
                 addr_or_none(&have->local, b, sizeof(b)));
        if (!addr_eq(&want->remote, &have->remote))
            DIFF("vxlan.remote: desired %s, current %s",
                 addr_or_none(&want->remote, a, sizeof(a)),
                 addr_or_none(&have->remote, b, sizeof(b)));
        if (want->port != have->port)
            DIFF("vxlan.destination-port: desired %u, current %u", want->port, have->port);
        if (want->learning != have->learning)
            DIFF("vxlan.learning: desired %s, current %s", want->learning ? "true" : "false",
                 have->learning ? "true" : "false");
        break;
    case LK_MACVLAN:
        if (!streq(want->base, base_name(have, l)))
            DIFF("mac-vlan.base-iface: desired %s, current %s", want->base, base_name(have, l));
        if (want->mode != have->mode)
            DIFF("mac-vlan.mode: desired %s, current %s", macvlan_kmode_to_string(want->mode),
                 macvlan_kmode_to_string(have->mode) ?: "?");
        if (want->promisc != have->promisc)
            DIFF("mac-vlan.promiscuous: desired %s, current %s", want->promisc ? "true" : "false",
                 have->promisc ? "true" : "false");
        break;
    case LK_VLAN:
        if (!streq(want->base, base_name(have, l)))
            DIFF("vlan.base-iface: desired %s, current %s", want->base, base_name(have, l));
        if (want->id != have->id)
            DIFF("vlan.id: desired %u, current %u", want->id, have->id);
        if (want->protocol != have->protocol)
            DIFF("vlan.protocol: desired %s, current %s",
                 want->protocol == ETH_P_8021AD ? "802.1ad" : "802.1q",
                 have->protocol == ETH_P_8021AD ? "802.1ad" : "802.1q");
        break;
    case LK_BOND:
        /* Only the options given are compared (the kernel reports them
         * all). A difference re-creates the bond: some options can only be
         * changed with the bond down and without ports, re-creation always
         * works. */
        if (want->mode != have->mode)
            DIFF("link-aggregation.mode: desired %s, current %s", bond_mode_to_string(want->mode),
                 bond_mode_to_string(have->mode) ?: "?");
        for (int o = 0; o < _BOND_OPT_MAX; o++)
            if ((want->bond_set & (1u << o)) && want->bond[o] != have->bond[o])
                DIFF("link-aggregation.options.%s: desired %s, current %s", bond_opts[o].name,
                     bond_opt_format((enum bond_opt)o, want->bond[o], a, sizeof(a)),
                     bond_opt_format((enum bond_opt)o, have->bond[o], b, sizeof(b)));
        break;
    case LK_NONE:
    case LK_BRIDGE:
    case LK_DUMMY:
    case _LK_MAX:
        break;
    }
#undef DIFF
    return true;
}

char *link_cfg_describe(const struct link_cfg *c)
{
    char a[64], b[64], buf[512] = "";
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, __VA_ARGS__)
    switch (c->kind) {
    case LK_VETH:
        ADD(" peer=%s", c->base);
        break;
    case LK_VXLAN:
        ADD(" id=%u", c->id);
        if (c->base[0])
            ADD(" base=%s", c->base);
        if (c->local.family)
            ADD(" local=%s", ipaddr_format(&c->local, false, a, sizeof(a)));
        if (c->remote.family)
            ADD(" remote=%s", ipaddr_format(&c->remote, false, b, sizeof(b)));
        ADD(" port=%u learning=%s", c->port, c->learning ? "on" : "off");
        break;
    case LK_MACVLAN:
        ADD(" base=%s mode=%s promiscuous=%s", c->base, macvlan_kmode_to_string(c->mode) ?: "?",
            c->promisc ? "on" : "off");
        break;
    case LK_VLAN:
        ADD(" base=%s id=%u protocol=%s", c->base, c->id,
            c->protocol == ETH_P_8021AD ? "802.1ad" : "802.1q");
        break;
    case LK_BOND:
        ADD(" mode=%s", bond_mode_to_string(c->mode) ?: "?");
        for (int o = 0; o < _BOND_OPT_MAX; o++)
            if (c->bond_set & (1u << o))
                ADD(" %s=%s", bond_opts[o].name,
                    bond_opt_format((enum bond_opt)o, c->bond[o], a, sizeof(a)));
        break;
    case LK_NONE:
    case LK_BRIDGE:
    case LK_DUMMY:
    case _LK_MAX:
        break;
    }
#undef ADD
    return xasprintf("%s%s", link_kind_to_kernel(c->kind), buf);
}

/* ---- kernel: parse (live.c) ---- */

static void parse_vxlan(struct nlattr *data, struct link_cfg *c)
{
    struct nlattr *tb[IFLA_VXLAN_MAX + 1];
    if (!data || nla_parse_nested(tb, IFLA_VXLAN_MAX, data, NULL) < 0)
        return;
    if (tb[IFLA_VXLAN_ID] && nla_len(tb[IFLA_VXLAN_ID]) >= 4)
        c->id = nla_get_u32(tb[IFLA_VXLAN_ID]);
    if (tb[IFLA_VXLAN_LINK] && nla_len(tb[IFLA_VXLAN_LINK]) >= 4)
        c->base_ifindex = (int)nla_get_u32(tb[IFLA_VXLAN_LINK]);
    if (tb[IFLA_VXLAN_PORT] && nla_len(tb[IFLA_VXLAN_PORT]) >= 2)
        c->port = ntohs(nla_get_u16(tb[IFLA_VXLAN_PORT]));
    if (tb[IFLA_VXLAN_LEARNING] && nla_len(tb[IFLA_VXLAN_LEARNING]) >= 1)
        c->learning = nla_get_u8(tb[IFLA_VXLAN_LEARNING]) != 0;
    struct {
        int attr, family, len;
        struct ipaddr *dst;
    } addrs[] = {
        {IFLA_VXLAN_GROUP, AF_INET, 4, &c->remote},
        {IFLA_VXLAN_GROUP6, AF_INET6, 16, &c->remote},
        {IFLA_VXLAN_LOCAL, AF_INET, 4, &c->local},
        {IFLA_VXLAN_LOCAL6, AF_INET6, 16, &c->local},
    };
    for (size_t i = 0; i < ARRAY_SIZE(addrs); i++) {
        struct nlattr *a = tb[addrs[i].attr];
        static const uint8_t zero[16];
        /* the kernel reports an unset IPv4 group/local as 0.0.0.0 */
        if (!a || nla_len(a) != addrs[i].len || !memcmp(nla_data(a), zero, (size_t)addrs[i].len))
            continue;
        memset(addrs[i].dst, 0, sizeof(*addrs[i].dst));
        addrs[i].dst->family = addrs[i].family;
        addrs[i].dst->prefix = (uint8_t)(addrs[i].len * 8);
        memcpy(addrs[i].dst->bytes, nla_data(a), (size_t)addrs[i].len);
    }
}

static void parse_bond(struct nlattr *data, struct link_cfg *c)
{
    struct nlattr *tb[IFLA_BOND_MAX + 1];
    if (!data || nla_parse_nested(tb, IFLA_BOND_MAX, data, NULL) < 0)
        return;
    if (tb[IFLA_BOND_MODE] && nla_len(tb[IFLA_BOND_MODE]) >= 1)
        c->mode = nla_get_u8(tb[IFLA_BOND_MODE]);
    for (int o = 0; o < _BOND_OPT_MAX; o++) {
        struct nlattr *a = tb[bond_opts[o].attr];
        if (!a || nla_len(a) < bond_opts[o].size)
            continue;
        c->bond[o] = bond_opts[o].size == 1 ? nla_get_u8(a) : nla_get_u32(a);
        c->bond_set |= 1u << o;
    }
}

void link_cfg_from_kernel(const char *kind, struct nlattr *data, struct nlattr **tb,
                          struct link_cfg *c)
{
    c->kind = link_kind_from_kernel(kind);
    /* IFLA_LINK: a veth's peer, the lower device of a macvlan or vlan; with
     * IFLA_LINK_NETNSID it is in another namespace (a pod's veth). */
    if (c->kind == LK_VETH || c->kind == LK_MACVLAN || c->kind == LK_VLAN) {
        if (tb[IFLA_LINK] && nla_len(tb[IFLA_LINK]) >= 4)
            c->base_ifindex = (int)nla_get_u32(tb[IFLA_LINK]);
        c->base_elsewhere = tb[IFLA_LINK_NETNSID] != NULL;
    }
    switch (c->kind) {
    case LK_VXLAN:
        c->learning = true;
        parse_vxlan(data, c);
        c->base_elsewhere = tb[IFLA_LINK_NETNSID] != NULL;
        break;
    case LK_MACVLAN: {
        struct nlattr *m[IFLA_MACVLAN_MAX + 1];
        c->promisc = true;
        if (data && nla_parse_nested(m, IFLA_MACVLAN_MAX, data, NULL) == 0) {
            if (m[IFLA_MACVLAN_MODE] && nla_len(m[IFLA_MACVLAN_MODE]) >= 4)
                c->mode = (int)nla_get_u32(m[IFLA_MACVLAN_MODE]);
            if (m[IFLA_MACVLAN_FLAGS] && nla_len(m[IFLA_MACVLAN_FLAGS]) >= 2)
                c->promisc = !(nla_get_u16(m[IFLA_MACVLAN_FLAGS]) & MACVLAN_FLAG_NOPROMISC);
        }
        break;
    }
    case LK_VLAN: {
        struct nlattr *v[IFLA_VLAN_MAX + 1];
        c->protocol = ETH_P_8021Q;
        if (data && nla_parse_nested(v, IFLA_VLAN_MAX, data, NULL) == 0) {
            if (v[IFLA_VLAN_ID] && nla_len(v[IFLA_VLAN_ID]) >= 2)
                c->id = nla_get_u16(v[IFLA_VLAN_ID]);
            if (v[IFLA_VLAN_PROTOCOL] && nla_len(v[IFLA_VLAN_PROTOCOL]) >= 2)
                c->protocol = ntohs(nla_get_u16(v[IFLA_VLAN_PROTOCOL]));
        }
        break;
    }
    case LK_BOND:
        parse_bond(data, c);
        break;
    default:
        break;
    }
}

/* ---- kernel: create (apply.c) ---- */

/* One TX and one RX queue, asked for at creation. A veth left to the
 * default gets one queue per CPU and is then cut down to one, and cutting a
 * registered device's queues waits for an RCU grace period (about 1.5 ms
 * here) twice per end: that was two thirds of a pod attach. */
int put_one_queue(struct nl_msg *m)
{
    return nla_put_u32(m, IFLA_NUM_TX_QUEUES, 1) < 0 || nla_put_u32(m, IFLA_NUM_RX_QUEUES, 1) < 0
               ? -ENOMEM
               : 0;
}

int link_cfg_put(struct nl_msg *m, const struct link_cfg *c, unsigned base_ifindex,
                 unsigned peer_mtu)
{
    struct nlattr *li, *data;

    if ((c->kind == LK_MACVLAN || c->kind == LK_VLAN) && nla_put_u32(m, IFLA_LINK, base_ifindex) < 0)
        return -ENOMEM;
    if (c->kind == LK_VETH && put_one_queue(m) < 0)
        return -ENOMEM;
    if (!(li = nla_nest_start(m, IFLA_LINKINFO)) ||
        nla_put_string(m, IFLA_INFO_KIND, link_kind_to_kernel(c->kind)) < 0)
        return -ENOMEM;
    if (c->kind == LK_DUMMY) {
        nla_nest_end(m, li);
        return 0;
    }
    if (!(data = nla_nest_start(m, IFLA_INFO_DATA)))
        return -ENOMEM;
    switch (c->kind) {
    case LK_VETH: {
        /* VETH_INFO_PEER carries a struct ifinfomsg, then the peer's
         * attributes. The peer cannot be brought up in this request (the
         * kernel opens it before the pair is linked: ENOTCONN). */
        struct nlattr *peer = nla_nest_start(m, VETH_INFO_PEER);
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
        if (!peer || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
            nla_put_string(m, IFLA_IFNAME, c->base) < 0 || put_one_queue(m) < 0 ||
            (peer_mtu && nla_put_u32(m, IFLA_MTU, peer_mtu) < 0))
            return -ENOMEM;
        nla_nest_end(m, peer);
        break;
    }
    case LK_VXLAN:
        if (nla_put_u32(m, IFLA_VXLAN_ID, c->id) < 0 ||
            (base_ifindex && nla_put_u32(m, IFLA_VXLAN_LINK, base_ifindex) < 0) ||
            nla_put_u16(m, IFLA_VXLAN_PORT, htons(c->port)) < 0 ||
            nla_put_u8(m, IFLA_VXLAN_LEARNING, c->learning ? 1 : 0) < 0)
            return -ENOMEM;
        if (c->remote.family &&
            nla_put(m, c->remote.family == AF_INET ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6,
                    c->remote.family == AF_INET ? 4 : 16, c->remote.bytes) < 0)
            return -ENOMEM;
        if (c->local.family &&
            nla_put(m, c->local.family == AF_INET ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6,
                    c->local.family == AF_INET ? 4 : 16, c->local.bytes) < 0)
            return -ENOMEM;
        break;
    case LK_MACVLAN:
        if (nla_put_u32(m, IFLA_MACVLAN_MODE, (uint32_t)c->mode) < 0 ||
            nla_put_u16(m, IFLA_MACVLAN_FLAGS, c->promisc ? 0 : MACVLAN_FLAG_NOPROMISC) < 0)
            return -ENOMEM;
        break;
    case LK_VLAN:
        if (nla_put_u16(m, IFLA_VLAN_ID, (uint16_t)c->id) < 0 ||
            nla_put_u16(m, IFLA_VLAN_PROTOCOL, htons(c->protocol)) < 0)
            return -ENOMEM;
        break;
    case LK_BOND:
        if (nla_put_u8(m, IFLA_BOND_MODE, (uint8_t)c->mode) < 0)
            return -ENOMEM;
        for (int o = 0; o < _BOND_OPT_MAX; o++) {
            if (!(c->bond_set & (1u << o)))
                continue;
            int r = bond_opts[o].size == 1 ? nla_put_u8(m, bond_opts[o].attr, (uint8_t)c->bond[o])
                                           : nla_put_u32(m, bond_opts[o].attr, c->bond[o]);
            if (r < 0)
                return -ENOMEM;
        }
        break;
    default:
        break;
    }
    nla_nest_end(m, data);
    nla_nest_end(m, li);
    return 0;
}

/* ---- journal ---- */

static json_t *addr_json(const struct ipaddr *a)
{
    char buf[64];
    return json_string(ipaddr_format(a, false, buf, sizeof(buf)));
}

static int addr_from(json_t *j, struct ipaddr *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!j)
        return 0;
    const char *s = json_string_value(j);
    return s && ipaddr_parse(s, -1, ret) == 0 ? 0 : -EINVAL;
}

json_t *link_cfg_to_json(const struct link_cfg *c)
{
    json_t *o = json_pack("{s:s}", "kind", link_kind_to_kernel(c->kind));
    if (c->base[0])
        json_object_set_new(o, "base", json_string(c->base));
    switch (c->kind) {
    case LK_VXLAN:
        json_object_set_new(o, "id", json_integer(c->id));
        json_object_set_new(o, "port", json_integer(c->port));
        json_object_set_new(o, "learning", json_boolean(c->learning));
        if (c->local.family)
            json_object_set_new(o, "local", addr_json(&c->local));
        if (c->remote.family)
            json_object_set_new(o, "remote", addr_json(&c->remote));
        break;
    case LK_MACVLAN:
        json_object_set_new(o, "mode", json_integer(c->mode));
        json_object_set_new(o, "promisc", json_boolean(c->promisc));
        break;
    case LK_VLAN:
        json_object_set_new(o, "id", json_integer(c->id));
        json_object_set_new(o, "protocol", json_integer(c->protocol));
        break;
    case LK_BOND: {
        json_object_set_new(o, "mode", json_integer(c->mode));
        json_t *opts = json_object();
        for (int i = 0; i < _BOND_OPT_MAX; i++)
            if (c->bond_set & (1u << i))
                json_object_set_new(opts, bond_opts[i].name, json_integer(c->bond[i]));
        json_object_set_new(o, "options", opts);
        break;
    }
    default:
        break;
    }
    return o;
}

int link_cfg_from_json(json_t *o, struct link_cfg *c)
{
    memset(c, 0, sizeof(*c));
    if (!json_is_object(o))
        return -EINVAL;
    c->kind = link_kind_from_kernel(json_string_value(json_object_get(o, "kind")));
    if (c->kind == LK_NONE)
        return -EINVAL;
    const char *base = json_string_value(json_object_get(o, "base"));
    if (base) {
        if (!ifname_valid(base))
            return -EINVAL;
        snprintf(c->base, sizeof(c->base), "%s", base);
    }
    c->id = (uint32_t)json_integer_value(json_object_get(o, "id"));
    c->port = (uint16_t)json_integer_value(json_object_get(o, "port"));
    c->learning = json_is_true(json_object_get(o, "learning"));
    c->mode = (int)json_integer_value(json_object_get(o, "mode"));
    c->promisc = json_is_true(json_object_get(o, "promisc"));
    c->protocol = (uint16_t)json_integer_value(json_object_get(o, "protocol"));
    if (c->kind == LK_VXLAN && (addr_from(json_object_get(o, "local"), &c->local) < 0 ||
                                addr_from(json_object_get(o, "remote"), &c->remote) < 0))
        return -EINVAL;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "options"), k, v) {
        int i = bond_opt_from_name(k);
        if (i < 0 || !json_is_integer(v))
            return -EINVAL;
        c->bond_set |= 1u << i;
        c->bond[i] = (uint32_t)json_integer_value(v);
    }
    if (c->kind == LK_VETH && !c->base[0])
        return -EINVAL;
    return 0;
}

/* ---- show ---- */

/* The type block of a live link for `plumbd show` (key and value), or
 * NULL: a veth whose peer is in another namespace is shown without one
 * (it can only be configured, not created, from this namespace). */
json_t *link_cfg_show(const struct live_link *k, const struct live_ns *l, const char **ret_key)
{
    const struct link_cfg *c = &k->cfg;
    char a[64];
    json_t *o = json_object();
    const struct live_link *b = c->base_ifindex && !c->base_elsewhere
                                    ? live_find_ifindex(l, c->base_ifindex)
                                    : NULL;
    switch (c->kind) {
    case LK_VETH:
        if (!b)
            break;
        *ret_key = "veth";
        json_object_set_new(o, "peer", json_string(b->name));
        return o;
    case LK_VXLAN:
        *ret_key = "vxlan";
        json_object_set_new(o, "id", json_integer(c->id));
        if (b)
            json_object_set_new(o, "base-iface", json_string(b->name));
        if (c->local.family)
            json_object_set_new(o, "local", addr_json(&c->local));
        if (c->remote.family)
            json_object_set_new(o, "remote", addr_json(&c->remote));
        json_object_set_new(o, "destination-port", json_integer(c->port));
        json_object_set_new(o, "learning", json_boolean(c->learning));
        return o;
    case LK_MACVLAN:
        if (!b || !macvlan_kmode_to_string(c->mode))
            break;
        *ret_key = "mac-vlan";
        json_object_set_new(o, "base-iface", json_string(b->name));
        json_object_set_new(o, "mode", json_string(macvlan_kmode_to_string(c->mode)));
        json_object_set_new(o, "promiscuous", json_boolean(c->promisc));
        return o;
    case LK_VLAN:
        if (!b)
            break;
        *ret_key = "vlan";
        json_object_set_new(o, "base-iface", json_string(b->name));
        json_object_set_new(o, "id", json_integer(c->id));
        json_object_set_new(o, "protocol",
                            json_string(c->protocol == ETH_P_8021AD ? "802.1ad" : "802.1q"));
        return o;
    case LK_BOND: {
        if (!bond_mode_to_string(c->mode))
            break;
        *ret_key = "link-aggregation";
        json_object_set_new(o, "mode", json_string(bond_mode_to_string(c->mode)));
        json_t *opts = json_object();
        for (int i = 0; i < _BOND_OPT_MAX; i++)
            if ((c->bond_set & (1u << i)) && bond_opt_applies((enum bond_opt)i, c->mode)) {
                const char *v = bond_opt_format((enum bond_opt)i, c->bond[i], a, sizeof(a));
                json_object_set_new(opts, bond_opts[i].name,
                                    bond_opts[i].names ? json_string(v)
                                                       : json_integer(c->bond[i]));
            }
        json_object_set_new(o, "options", opts);
        json_t *ports = json_array();
        for (size_t j = 0; j < l->nlinks; j++)
            if (l->links[j].master == k->ifindex)
                json_array_append_new(ports, json_string(l->links[j].name));
        json_object_set_new(o, "port", ports);
        return o;
    }
    default:
        break;
    }
    json_decref(o);
    return NULL;
}

/* The nmstate type `plumbd show` gives a live link. */
const char *link_show_type(const struct live_link *k)
{
    if (streq(k->name, "lo"))
        return "loopback";
    if (!k->kind[0])
        return "ethernet";
    enum link_kind lk = k->cfg.kind != LK_NONE ? k->cfg.kind : link_kind_from_kernel(k->kind);
    if (lk != LK_NONE)
        return link_kind_to_nmstate(lk);
    return k->kind; /* ipvlan, tun, ...: as the kernel names them */
}

/* ---- validator ---- */

struct pctx {
    cfg_err_fn err;
    void *ctx;
    const char *name;
};

static void perr(struct pctx *p, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perr(struct pctx *p, const struct ynode *at, const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *msg = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    p->err(p->ctx, at, msg);
}

/* A boolean of block b at key into *ret (left as it is when absent). */
static void pbool(struct pctx *p, const struct ynode *b, const char *blk, const char *key,
                  bool *ret)
{
    const struct ynode *n = ynode_get(b, key);
    bool v;
    if (!n)
        return;
    if (ynode_bool(n, &v) < 0)
        perr(p, n, "%s.%s.%s must be true or false", p->name, blk, key);
    else
        *ret = v;
}

/* A scalar of block b at key (NULL when absent; an error when not a scalar). */
static const char *pstr(struct pctx *p, const struct ynode *b, const char *blk, const char *key)
{
    const struct ynode *n = ynode_get(b, key);
    if (!n)
        return NULL;
    if (n->kind != YNODE_SCALAR) {
        perr(p, n, "%s.%s.%s must be a string", p->name, blk, key);
        return NULL;
    }
    return n->scalar;
}

/* An integer in [lo, hi]: 1 found, 0 absent, -1 bad (reported). */
static int pint(struct pctx *p, const struct ynode *b, const char *blk, const char *key,
                long long lo, long long hi, long long *ret)
{
    const struct ynode *n = ynode_get(b, key);
    if (!n)
        return 0;
    if (ynode_int(n, ret) < 0 || *ret < lo || *ret > hi) {
        perr(p, n, "%s.%s.%s must be an integer between %lld and %lld", p->name, blk, key, lo, hi);
        return -1;
    }
    return 1;
}

static void pbase(struct pctx *p, const struct ynode *b, const char *blk, const char *key,
                  bool required, struct link_cfg *c)
{
    const char *s = pstr(p, b, blk, key);
    if (!s) {
        if (required && !ynode_get(b, key))
            perr(p, b, "%s.%s.%s is required", p->name, blk, key);
        return;
    }
    if (!ifname_valid(s))
        perr(p, ynode_get(b, key), "%s.%s.%s: '%s' is not a valid interface name", p->name, blk,
             key, s);
    else if (streq(s, p->name))
        perr(p, ynode_get(b, key), "%s.%s.%s: an interface cannot be its own %s", p->name, blk,
             key, key);
    else
        snprintf(c->base, sizeof(c->base), "%s", s);
}

static void paddr(struct pctx *p, const struct ynode *b, const char *key, struct ipaddr *ret)
{
    const char *s = pstr(p, b, "vxlan", key);
    if (s && (ipaddr_parse(s, -1, ret) < 0 || strchr(s, '/'))) {
        perr(p, ynode_get(b, key), "%s.vxlan.%s: '%s' is not an IP address", p->name, key, s);
        memset(ret, 0, sizeof(*ret));
    }
}

static void parse_vxlan_block(struct pctx *p, const struct ynode *b, struct link_cfg *c)
{
    long long v;
    c->port = 4789; /* nmstate's default (the kernel's own is 8472) */
    c->learning = true;
    if (pint(p, b, "vxlan", "id", 0, 16777215, &v) > 0)
        c->id = (uint32_t)v;
    else if (!ynode_get(b, "id"))
        perr(p, b, "%s.vxlan.id is required", p->name);
    pbase(p, b, "vxlan", "base-iface", false, c);
    paddr(p, b, "local", &c->local);
    paddr(p, b, "remote", &c->remote);
    if (c->local.family && c->remote.family && c->local.family != c->remote.family)
        perr(p, ynode_get(b, "remote"), "%s.vxlan: local and remote are of different families",
             p->name);
    if (pint(p, b, "vxlan", "destination-port", 0, 65535, &v) > 0)
        c->port = (uint16_t)v;
    pbool(p, b, "vxlan", "learning", &c->learning);
}

static void parse_macvlan_block(struct pctx *p, const struct ynode *b, struct link_cfg *c)
{
    c->mode = MACVLAN_MODE_VEPA; /* the kernel's default */
    c->promisc = true;
    pbase(p, b, "mac-vlan", "base-iface", true, c);
    const char *m = pstr(p, b, "mac-vlan", "mode");
    if (m) {
        int k = macvlan_kmode_from_string(m);
        if (k < 0)
            perr(p, ynode_get(b, "mode"),
                 "%s.mac-vlan.mode '%s' is not one of vepa, bridge, private, passthru, source",
                 p->name, m);
        else
            c->mode = k;
    }
    pbool(p, b, "mac-vlan", "promiscuous", &c->promisc);
}

static void parse_vlan_block(struct pctx *p, const struct ynode *b, struct link_cfg *c)
{
    long long v;
    c->protocol = ETH_P_8021Q;
    pbase(p, b, "vlan", "base-iface", true, c);
    if (pint(p, b, "vlan", "id", 0, 4094, &v) > 0)
        c->id = (uint32_t)v;
    else if (!ynode_get(b, "id"))
        perr(p, b, "%s.vlan.id is required", p->name);
    const char *pr = pstr(p, b, "vlan", "protocol");
    if (pr) {
        if (streq(pr, "802.1q"))
            c->protocol = ETH_P_8021Q;
        else if (streq(pr, "802.1ad"))
            c->protocol = ETH_P_8021AD;
        else
            perr(p, ynode_get(b, "protocol"), "%s.vlan.protocol '%s' is not 802.1q or 802.1ad",
                 p->name, pr);
    }
}

static void parse_bond_block(struct pctx *p, const struct ynode *b, struct iface *f)
{
    struct link_cfg *c = &f->cfg;
    const char *m = pstr(p, b, "link-aggregation", "mode");
    const struct ynode *mn = ynode_get(b, "mode");
    c->mode = -1;
    if (m) {
        c->mode = bond_mode_from_string(m);
        if (c->mode < 0)
            perr(p, mn,
                 "%s.link-aggregation.mode '%s' is not one of balance-rr, active-backup, "
                 "balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb",
                 p->name, m);
    } else if (!mn)
        perr(p, b, "%s.link-aggregation.mode is required", p->name);
    const struct ynode *opts = ynode_get(b, "options");
    if (opts && opts->kind != YNODE_MAP)
        perr(p, opts, "%s.link-aggregation.options must be a map", p->name);
    for (size_t i = 0; opts && opts->kind == YNODE_MAP && i < opts->n; i++) {
        struct ynode kn;
        const char *k = opts->keys[i];
        const struct ynode *vn = opts->items[i];
        int o = bond_opt_from_name(k);
        uint32_t v;
        if (o < 0) {
            perr(p, ynode_key(opts, i, &kn), "%s.link-aggregation.options.%s is not supported",
                 p->name, k);
            continue;
        }
        if (vn->kind != YNODE_SCALAR || bond_opt_parse((enum bond_opt)o, vn->scalar, &v) < 0) {
            perr(p, vn, "%s.link-aggregation.options.%s: invalid value", p->name, k);
            continue;
        }
        if (c->mode >= 0 && !bond_opt_applies((enum bond_opt)o, c->mode)) {
            perr(p, ynode_key(opts, i, &kn),
                 "%s.link-aggregation.options.%s does not apply to mode %s", p->name, k,
                 bond_mode_to_string(c->mode));
            continue;
        }
        c->bond_set |= 1u << o;
        c->bond[o] = v;
    }
    const struct ynode *ports = ynode_get(b, "port");
    if (ports && ports->kind != YNODE_SEQ) {
        perr(p, ports, "%s.link-aggregation.port must be a list", p->name);
        return;
    }
    if (!ports)
        return;
    f->has_ports = true;
    for (size_t i = 0; i < ports->n; i++) {
        const char *pn = ynode_str(ports->items[i]);
        if (!pn || !ifname_valid(pn) || streq(pn, f->name)) {
            perr(p, ports->items[i], "%s.link-aggregation.port[%zu] is not a valid port name",
                 p->name, i);
            continue;
        }
        snprintf(*ARRAY_PUSH(f->ports, f->nports), IFNAMSIZ_PLUMBD, "%s", pn);
    }
}

/* The block key of each type, and whether the block is required to
 * create one (without it: an existing device is configured, not created). */
void link_cfg_parse(const struct ynode *n, struct iface *f, cfg_err_fn err, void *ctx)
{
    struct pctx p = {err, ctx, f->name};
    static const struct {
        enum iface_type type;
        const char *key;
    } blocks[] = {
        {IFACE_VETH, "veth"},   {IFACE_VXLAN, "vxlan"}, {IFACE_MACVLAN, "mac-vlan"},
        {IFACE_VLAN, "vlan"},   {IFACE_BOND, "link-aggregation"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(blocks); i++) {
        const struct ynode *b = ynode_get(n, blocks[i].key);
        if (!b)
            continue;
        if (blocks[i].type != f->type) {
            perr(&p, b, "%s: %s: is only valid for type %s", f->name, blocks[i].key,
                 blocks[i].type == IFACE_MACVLAN ? "mac-vlan"
                 : blocks[i].type == IFACE_BOND  ? "bond"
                                                 : blocks[i].key);
            continue;
        }
        if (b->kind != YNODE_MAP) {
            perr(&p, b, "%s.%s must be a map", f->name, blocks[i].key);
            continue;
        }
        switch (f->type) {
        case IFACE_VETH:
            f->cfg.kind = LK_VETH;
            pbase(&p, b, "veth", "peer", true, &f->cfg);
            break;
        case IFACE_VXLAN:
            f->cfg.kind = LK_VXLAN;
            parse_vxlan_block(&p, b, &f->cfg);
            break;
        case IFACE_MACVLAN:
            f->cfg.kind = LK_MACVLAN;
            parse_macvlan_block(&p, b, &f->cfg);
            break;
        case IFACE_VLAN:
            f->cfg.kind = LK_VLAN;
            parse_vlan_block(&p, b, &f->cfg);
            break;
        case IFACE_BOND:
            f->cfg.kind = LK_BOND;
            parse_bond_block(&p, b, f);
            break;
        default:
            break;
        }
    }
    /* Types without settings of their own are always creatable. */
    if (f->type == IFACE_DUMMY)
        f->cfg.kind = LK_DUMMY;
    else if (f->type == IFACE_LINUX_BRIDGE)
        f->cfg.kind = LK_BRIDGE;
}

/* The kind of link an nmstate type is (LK_NONE: ethernet, loopback). */
enum link_kind iface_type_kind(enum iface_type t)
{
    switch (t) {
    case IFACE_LINUX_BRIDGE:
        return LK_BRIDGE;
    case IFACE_VETH:
        return LK_VETH;
    case IFACE_VXLAN:
        return LK_VXLAN;
    case IFACE_MACVLAN:
        return LK_MACVLAN;
    case IFACE_DUMMY:
        return LK_DUMMY;
    case IFACE_VLAN:
        return LK_VLAN;
    case IFACE_BOND:
        return LK_BOND;
    default:
        return LK_NONE;
    }
}
