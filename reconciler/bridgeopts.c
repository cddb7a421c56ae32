/* bridgeopts.c - the tables of linux-bridge options and bridge port options
 * (nmstate key <-> netlink attribute, unit, range) and everything derived
 * from them: validation, netlink codecs, plan diffs, read-back, journal
 * JSON and `plumbd show`. Also the port VLAN sets of bridge.port[].vlan.
 * Pure but for the attribute codecs (no I/O). */
#include "bridgeopts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "load.h"
#include "util.h"

enum vkind {
    VK_INT,
    VK_BOOL,
    VK_MROUTER,   /* "disabled"/"auto"/"enabled" or 0/1/2 */
    VK_VLANPROTO, /* "802.1q"/"802.1ad"; kernel: the ethertype, big-endian on the wire */
};

struct optdef {
    const char *key;    /* nmstate key: path under bridge.options, or port entry key */
    const char *ipname; /* `ip -d link` name; the journal's key */
    uint16_t attr;      /* IFLA_BR_* / IFLA_BRPORT_* */
    uint8_t width;      /* attribute size in bytes */
    enum vkind kind;
    int64_t scale;      /* kernel value = nmstate value * scale */
    int64_t min, max;   /* accepted nmstate values */
    bool vlan;          /* the kernel keeps it only with bridge VLAN filtering */
};

/* Ranges are the kernel's (net/bridge): hello-time 1-10 s, max-age 6-40 s,
 * forward-delay 2-30 s while STP runs (any value without STP), port cost
 * 1-65535, port priority 0-63; group-forward-mask may not forward STP,
 * MAC pause or LACP frames (bits 0-2). */
static const struct optdef bro[_BROPT_MAX] = {
    [BROPT_FORWARD_DELAY] = {"stp.forward-delay", "forward_delay", IFLA_BR_FORWARD_DELAY, 4,
                             VK_INT, 100, 2, 30, false},
    [BROPT_HELLO_TIME] = {"stp.hello-time", "hello_time", IFLA_BR_HELLO_TIME, 4, VK_INT, 100, 1,
                          10, false},
    [BROPT_MAX_AGE] = {"stp.max-age", "max_age", IFLA_BR_MAX_AGE, 4, VK_INT, 100, 6, 40, false},
    [BROPT_PRIORITY] = {"stp.priority", "priority", IFLA_BR_PRIORITY, 2, VK_INT, 1, 0, 65535,
                        false},
    [BROPT_AGEING_TIME] = {"mac-ageing-time", "ageing_time", IFLA_BR_AGEING_TIME, 4, VK_INT, 100,
                           0, 42949672, false},
    [BROPT_MCAST_SNOOPING] = {"multicast-snooping", "mcast_snooping", IFLA_BR_MCAST_SNOOPING, 1,
                              VK_BOOL, 1, 0, 1, false},
    [BROPT_GROUP_FWD_MASK] = {"group-forward-mask", "group_fwd_mask", IFLA_BR_GROUP_FWD_MASK, 2,
                              VK_INT, 1, 0, 65535, false},
    [BROPT_HASH_MAX] = {"hash-max", "mcast_hash_max", IFLA_BR_MCAST_HASH_MAX, 4, VK_INT, 1, 1,
                        0xffffffffLL, false},
    [BROPT_MCAST_ROUTER] = {"multicast-router", "mcast_router", IFLA_BR_MCAST_ROUTER, 1,
                            VK_MROUTER, 1, 0, 2, false},
    [BROPT_VLAN_PROTOCOL] = {"vlan-protocol", "vlan_protocol", IFLA_BR_VLAN_PROTOCOL, 2,
                             VK_VLANPROTO, 1, 0, 0xffff, true},
    [BROPT_VLAN_DEFAULT_PVID] = {"vlan-default-pvid", "vlan_default_pvid",
                                 IFLA_BR_VLAN_DEFAULT_PVID, 2, VK_INT, 1, 0, 4094, true},
};

static const struct optdef brp[_BRPORT_MAX] = {
    [BRPORT_HAIRPIN] = {"stp-hairpin-mode", "hairpin", IFLA_BRPORT_MODE, 1, VK_BOOL, 1, 0, 1,
                        false},
    [BRPORT_COST] = {"stp-path-cost", "cost", IFLA_BRPORT_COST, 4, VK_INT, 1, 1, 65535, false},
    [BRPORT_PRIORITY] = {"stp-priority", "priority", IFLA_BRPORT_PRIORITY, 2, VK_INT, 1, 0, 63,
                         false},
};

#define GROUP_FWD_RESTRICTED 0x7 /* STP, MAC pause, LACP: the kernel refuses them */
#define FWD_DELAY_NO_STP_MAX 42949672LL /* any u32 of centiseconds (also ageing) */

void bropts_init(struct bropts *o)
{
    memset(o, 0, sizeof(*o));
}

void brport_opts_init(struct brport_opts *o)
{
    memset(o, 0, sizeof(*o));
}

bool bropts_any(const struct bropts *o)
{
    return o->set != 0;
}

bool brport_opts_any(const struct brport_opts *o)
{
    return o->set != 0;
}

const char *bropt_key(enum bropt k)
{
    return (size_t)k < _BROPT_MAX ? bro[k].key : "?";
}

const char *brport_opt_key(enum brport_opt k)
{
    return (size_t)k < _BRPORT_MAX ? brp[k].key : "?";
}

bool bropt_needs_vlan_filtering(enum bropt k)
{
    return (size_t)k < _BROPT_MAX && bro[k].vlan;
}

/* ---- units ---- */

static const char *const mrouter_names[] = {"disabled", "auto", "enabled"};

/* The nmstate value (for show and messages) of a kernel value. */
static json_t *value_json(const struct optdef *d, int64_t v)
{
    switch (d->kind) {
    case VK_BOOL:
        return json_boolean(v);
    case VK_MROUTER:
        if (v >= 0 && v < (int64_t)ARRAY_SIZE(mrouter_names))
            return json_string(mrouter_names[v]);
        return json_integer(v);
    case VK_VLANPROTO:
        if (v == ETH_P_8021Q)
            return json_string("802.1q");
        if (v == ETH_P_8021AD)
            return json_string("802.1ad");
        return json_integer(v);
    case VK_INT:
        break;
    }
    return json_integer(v / d->scale);
}

static char *value_text(const struct optdef *d, int64_t v)
{
    json_t *j = value_json(d, v);
    char *s = json_is_string(j) ? xstrdup(json_string_value(j))
              : json_is_boolean(j) ? xstrdup(json_is_true(j) ? "true" : "false")
                                   : xasprintf("%lld", (long long)json_integer_value(j));
    json_decref(j);
    return s;
}

/* ---- validation ---- */

static void report(bropt_err_fn err, void *ctx, const struct ynode *at, char *msg)
{
    err(ctx, at, msg);
    free(msg);
}

/* One scalar as the kernel value of d; -EINVAL after reporting. where is
 * the full key for the message ("br-1.bridge.options.hash-max"). */
static int parse_value(const struct optdef *d, const struct ynode *n, const char *where,
                       int64_t min, int64_t max, bropt_err_fn err, void *ctx, int64_t *ret)
{
    long long v;
    bool b;

    switch (d->kind) {
    case VK_BOOL:
        if (ynode_bool(n, &b) < 0) {
            report(err, ctx, n, xasprintf("%s must be true or false", where));
            return -EINVAL;
        }
        *ret = b;
        return 0;
    case VK_MROUTER:
        if (ynode_int(n, &v) == 0) {
            if (v < 0 || v > 2) {
                report(err, ctx, n, xasprintf("%s must be auto, disabled, enabled (or 1, 0, 2)",
                                              where));
                return -EINVAL;
            }
            *ret = v;
            return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(mrouter_names); i++)
            if (ynode_str(n) && strcasecmp(ynode_str(n), mrouter_names[i]) == 0) {
                *ret = (int64_t)i;
                return 0;
            }
        report(err, ctx, n, xasprintf("%s must be auto, disabled, enabled (or 1, 0, 2)", where));
        return -EINVAL;
    case VK_VLANPROTO: {
        const char *s = ynode_str(n);
        if (s && strcasecmp(s, "802.1q") == 0)
            *ret = ETH_P_8021Q;
        else if (s && strcasecmp(s, "802.1ad") == 0)
            *ret = ETH_P_8021AD;
        else {
            report(err, ctx, n, xasprintf("%s must be 802.1q or 802.1ad", where));
            return -EINVAL;
        }
        return 0;
    }
    case VK_INT:
        break;
    }
    if (ynode_int(n, &v) < 0) {
        report(err, ctx, n, xasprintf("%s must be an integer", where));
        return -EINVAL;
    }
    if (v < min || v > max) {
        report(err, ctx, n, xasprintf("%s: %lld is out of range %lld-%lld", where, v,
                                      (long long)min, (long long)max));
        return -EINVAL;
    }
    *ret = (int64_t)v * d->scale;
    return 0;
}

void bropts_parse(const struct ynode *options, const char *ifname, int stp_enabled,
                  struct bropts *ret, bropt_err_fn err, void *ctx)
{
    bropts_init(ret);
    if (!options)
        return;
    for (size_t k = 0; k < _BROPT_MAX; k++) {
        const struct optdef *d = &bro[k];
        const struct ynode *n = ynode_path(options, d->key);
        if (k == BROPT_GROUP_FWD_MASK) { /* nmstate's preferred spelling, or the alias */
            const struct ynode *alias = ynode_get(options, "group-fwd-mask");
            if (n && alias && !streq(ynode_str(n), ynode_str(alias))) {
                report(err, ctx, alias, xasprintf("%s.bridge.options: group-fwd-mask and "
                                                  "group-forward-mask differ", ifname));
                continue;
            }
            if (!n)
                n = alias;
        }
        if (!n)
            continue;
        _cleanup_free_ char *where = xasprintf("%s.bridge.options.%s", ifname, d->key);
        int64_t min = d->min, max = d->max;
        if (k == BROPT_FORWARD_DELAY && stp_enabled != 1)
            min = 0, max = FWD_DELAY_NO_STP_MAX;
        int64_t v;
        if (parse_value(d, n, where, min, max, err, ctx, &v) < 0)
            continue;
        if (k == BROPT_FORWARD_DELAY && stp_enabled == 1 && (v < 200 || v > 3000)) {
            report(err, ctx, n, xasprintf("%s must be 2-30 with stp.enabled", where));
            continue;
        }
        if (k == BROPT_GROUP_FWD_MASK && (v & GROUP_FWD_RESTRICTED)) {
            report(err, ctx, n, xasprintf("%s: %lld sets bits 0-2 (STP, MAC pause, LACP), which "
                                          "the kernel never forwards", where, (long long)v));
            continue;
        }
        BROPT_SET(ret, k, v);
    }
}

/* trunk-tags: [{id: N} | {id-range: {min: N, max: M}}] */
static void parse_trunk(const struct ynode *vlan, const struct ynode *tags, const char *where,
                        struct brport_conf *ret, bropt_err_fn err, void *ctx)
{
    if (!tags || tags->kind != YNODE_SEQ || tags->n == 0) {
        report(err, ctx, tags ? tags : vlan, xasprintf("%s.trunk-tags must be a non-empty list of {id: N} or "
                                         "{id-range: {min: N, max: M}}", where));
        return;
    }
    for (size_t i = 0; i < tags->n; i++) {
        const struct ynode *t = tags->items[i];
        const struct ynode *id = ynode_get(t, "id"), *range = ynode_get(t, "id-range");
        long long lo, hi;
        if (id && !range && ynode_int(id, &lo) == 0)
            hi = lo;
        else if (range && !id && ynode_int(ynode_get(range, "min"), &lo) == 0 &&
                 ynode_int(ynode_get(range, "max"), &hi) == 0)
            ;
        else {
            report(err, ctx, t, xasprintf("%s.trunk-tags[%zu] must be {id: N} or {id-range: "
                                          "{min: N, max: M}}", where, i));
            continue;
        }
        if (lo < 1 || hi > 4094 || lo > hi) {
            report(err, ctx, t, xasprintf("%s.trunk-tags[%zu]: VLAN ids must be within 1-4094 "
                                          "(min <= max)", where, i));
            continue;
        }
        *ARRAY_PUSH(ret->trunk, ret->ntrunk) = (struct vlan_span){(uint16_t)lo, (uint16_t)hi, 0};
    }
}

static void parse_port_vlan(const struct ynode *vlan, const char *where, struct brport_conf *ret,
                            bropt_err_fn err, void *ctx)
{
    if (vlan->kind != YNODE_MAP) {
        report(err, ctx, vlan, xasprintf("%s must be a map", where));
        return;
    }
    if (vlan->n == 0)
        return; /* vlan: {} - no VLAN configuration, as nmstate */
    const struct ynode *mode = ynode_get(vlan, "mode"), *tag = ynode_get(vlan, "tag");
    const struct ynode *native = ynode_get(vlan, "enable-native");
    const struct ynode *trunk = ynode_get(vlan, "trunk-tags");
    const char *m = ynode_str(mode);
    long long t = 0;
    bool nat = false;

    if (tag && (ynode_int(tag, &t) < 0 || t < 1 || t > 4094)) {
        report(err, ctx, tag, xasprintf("%s.tag must be an integer within 1-4094", where));
        return;
    }
    if (native && ynode_bool(native, &nat) < 0) {
        report(err, ctx, native, xasprintf("%s.enable-native must be true or false", where));
        return;
    }
    if (m && streq(m, "access")) {
        if (!tag)
            report(err, ctx, vlan, xasprintf("%s: mode access needs a tag", where));
        else if (trunk)
            report(err, ctx, trunk, xasprintf("%s.trunk-tags is only for mode trunk", where));
        else if (nat)
            report(err, ctx, native, xasprintf("%s.enable-native is only for mode trunk", where));
        else {
            ret->vlan_mode = PORT_VLAN_ACCESS;
            ret->tag = (uint16_t)t;
        }
        return;
    }
    if (!m || !streq(m, "trunk")) {
        report(err, ctx, mode ? mode : vlan, xasprintf("%s.mode must be access or trunk", where));
        return;
    }
    if (nat && !tag) {
        report(err, ctx, native, xasprintf("%s: enable-native needs a tag (the native VLAN)",
                                           where));
        return;
    }
    if (tag && !nat) {
        report(err, ctx, tag, xasprintf("%s.tag of a trunk is its native VLAN: it needs "
                                        "enable-native: true", where));
        return;
    }
    size_t before = ret->ntrunk;
    parse_trunk(vlan, trunk, where, ret, err, ctx);
    if (ret->ntrunk == before)
        return;
    for (size_t i = 0; nat && i < ret->ntrunk; i++)
        if (t >= ret->trunk[i].min && t <= ret->trunk[i].max) {
            report(err, ctx, tag, xasprintf("%s: the native VLAN %lld is also in trunk-tags",
                                            where, t));
            return;
        }
    ret->vlan_mode = PORT_VLAN_TRUNK;
    ret->tag = nat ? (uint16_t)t : 0;
    ret->enable_native = nat;
}

void brport_conf_parse(const struct ynode *port, const char *ifname, const char *portname,
                       struct brport_conf *ret, bropt_err_fn err, void *ctx)
{
    memset(ret, 0, sizeof(*ret));
    brport_opts_init(&ret->opts);
    for (size_t k = 0; k < _BRPORT_MAX; k++) {
        const struct optdef *d = &brp[k];
        const struct ynode *n = ynode_get(port, d->key);
        if (!n)
            continue;
        _cleanup_free_ char *where = xasprintf("%s.bridge.port[%s].%s", ifname, portname, d->key);
        int64_t v;
        if (parse_value(d, n, where, d->min, d->max, err, ctx, &v) == 0)
            BROPT_SET(&ret->opts, k, v);
    }
    const struct ynode *vlan = ynode_get(port, "vlan");
    if (vlan) {
        _cleanup_free_ char *where = xasprintf("%s.bridge.port[%s].vlan", ifname, portname);
        parse_port_vlan(vlan, where, ret, err, ctx);
    }
}

void brport_conf_free(struct brport_conf *c)
{
    free(c->trunk);
    c->trunk = NULL;
    c->ntrunk = 0;
}

/* ---- VLAN spans ---- */

static int span_cmp(const void *a, const void *b)
{
    const struct vlan_span *x = a, *y = b;
    return x->min != y->min ? (int)x->min - (int)y->min : (int)x->max - (int)y->max;
}

size_t vlan_spans_normalize(struct vlan_span *v, size_t n)
{
    if (n < 2)
        return n;
    qsort(v, n, sizeof(*v), span_cmp);
    size_t j = 0;
    for (size_t i = 1; i < n; i++) {
        if (v[i].flags == v[j].flags && v[i].min <= v[j].max + 1) {
            if (v[i].max > v[j].max)
                v[j].max = v[i].max;
        } else
            v[++j] = v[i];
    }
    return j + 1;
}

size_t brport_conf_spans(const struct brport_conf *c, struct vlan_span **ret)
{
    struct vlan_span *v = NULL;
    size_t n = 0;
    *ret = NULL;
    if (c->vlan_mode == PORT_VLAN_NONE)
        return 0;
    if (c->tag)
        *ARRAY_PUSH(v, n) = (struct vlan_span){c->tag, c->tag, PVLAN_PVID | PVLAN_UNTAGGED};
    for (size_t i = 0; c->vlan_mode == PORT_VLAN_TRUNK && i < c->ntrunk; i++)
        *ARRAY_PUSH(v, n) = (struct vlan_span){c->trunk[i].min, c->trunk[i].max, 0};
    *ret = v;
    return vlan_spans_normalize(v, n);
}

bool vlan_spans_equal(const struct vlan_span *a, size_t na, const struct vlan_span *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].min != b[i].min || a[i].max != b[i].max || a[i].flags != b[i].flags)
            return false;
    return true;
}

#define VID_MEMBER 0x1 /* bitmap marker: the VLAN is on the port (flags above) */

static void spans_to_map(const struct vlan_span *v, size_t n, uint8_t map[4096])
{
    for (size_t i = 0; i < n; i++)
        for (unsigned vid = v[i].min; vid <= v[i].max && vid < 4096; vid++)
            map[vid] = (uint8_t)(VID_MEMBER | v[i].flags);
}

/* Runs of VLANs with pick[vid] != 0, flags from flags[vid]. */
static size_t map_to_spans(const uint8_t pick[4096], const uint8_t flags[4096],
                           struct vlan_span **ret)
{
    struct vlan_span *v = NULL;
    size_t n = 0;
    for (unsigned vid = 1; vid < 4095; vid++) {
        if (!pick[vid])
            continue;
        uint16_t f = flags[vid] & (PVLAN_PVID | PVLAN_UNTAGGED);
        if (n && v[n - 1].max == vid - 1 && v[n - 1].flags == f)
            v[n - 1].max = (uint16_t)vid;
        else
            *ARRAY_PUSH(v, n) = (struct vlan_span){(uint16_t)vid, (uint16_t)vid, f};
    }
    *ret = v;
    return n;
}

void vlan_spans_diff(const struct vlan_span *want, size_t nwant, const struct vlan_span *have,
                     size_t nhave, bool have_known, uint16_t default_pvid,
                     struct vlan_span **ret_add, size_t *ret_nadd, struct vlan_span **ret_del,
                     size_t *ret_ndel)
{
    uint8_t w[4096] = {0}, h[4096] = {0}, add[4096] = {0}, del[4096] = {0};
    spans_to_map(want, nwant, w);
    if (have_known)
        spans_to_map(have, nhave, h);
    else if (default_pvid >= 1 && default_pvid <= 4094)
        h[default_pvid] = VID_MEMBER | PVLAN_PVID | PVLAN_UNTAGGED;
    for (unsigned vid = 1; vid < 4095; vid++) {
        add[vid] = w[vid] && (!have_known || w[vid] != h[vid]);
        del[vid] = h[vid] && !w[vid];
    }
    *ret_nadd = map_to_spans(add, w, ret_add);
    *ret_ndel = map_to_spans(del, h, ret_del);
}

/* ---- netlink codecs ---- */

/* The attribute's value; false when absent or short. */
static bool attr_get(const struct optdef *d, struct nlattr *a, uint32_t *ret)
{
    if (!a || nla_len(a) < d->width)
        return false;
    switch (d->width) {
    case 1:
        *ret = nla_get_u8(a);
        break;
    case 2:
        *ret = d->kind == VK_VLANPROTO ? ntohs(nla_get_u16(a)) : nla_get_u16(a);
        break;
    default:
        *ret = nla_get_u32(a);
    }
    return true;
}

static int attr_put(struct nl_msg *m, const struct optdef *d, int64_t v)
{
    switch (d->width) {
    case 1:
        return nla_put_u8(m, d->attr, (uint8_t)v);
    case 2:
        return nla_put_u16(m, d->attr, d->kind == VK_VLANPROTO ? htons((uint16_t)v) : (uint16_t)v);
    default:
        return nla_put_u32(m, d->attr, (uint32_t)v);
    }
}

void bropts_from_nl(struct nlattr *info_data, struct bropts *ret)
{
    struct nlattr *tb[IFLA_BR_MAX + 1];
    bropts_init(ret);
    if (!info_data || nla_parse_nested(tb, IFLA_BR_MAX, info_data, NULL) < 0)
        return;
    for (size_t k = 0; k < _BROPT_MAX; k++)
        if (attr_get(&bro[k], tb[bro[k].attr], &ret->v[k]))
            ret->set |= 1u << k;
    /* STP topology change: the kernel ages entries out after 2 x
     * forward-delay and reports that instead of the configured time. */
    if (tb[IFLA_BR_TOPOLOGY_CHANGE] && nla_len(tb[IFLA_BR_TOPOLOGY_CHANGE]) >= 1 &&
        nla_get_u8(tb[IFLA_BR_TOPOLOGY_CHANGE]) && BROPT_HAS(ret, BROPT_AGEING_TIME)) {
        ret->set &= ~(1u << BROPT_AGEING_TIME);
        ret->transient |= 1u << BROPT_AGEING_TIME;
    }
}

void brport_opts_from_nl(struct nlattr *slave_data, struct brport_opts *ret)
{
    struct nlattr *tb[IFLA_BRPORT_MAX + 1];
    brport_opts_init(ret);
    if (!slave_data || nla_parse_nested(tb, IFLA_BRPORT_MAX, slave_data, NULL) < 0)
        return;
    for (size_t k = 0; k < _BRPORT_MAX; k++)
        if (attr_get(&brp[k], tb[brp[k].attr], &ret->v[k]))
            ret->set |= 1u << k;
}

int bropts_put(struct nl_msg *m, const struct bropts *o)
{
    for (size_t k = 0; k < _BROPT_MAX; k++)
        if (BROPT_HAS(o, k) && attr_put(m, &bro[k], o->v[k]) < 0)
            return -ENOMEM;
    return 0;
}

int brport_opts_put(struct nl_msg *m, const struct brport_opts *o)
{
    for (size_t k = 0; k < _BRPORT_MAX; k++)
        if (BROPT_HAS(o, k) && attr_put(m, &brp[k], o->v[k]) < 0)
            return -ENOMEM;
    return 0;
}

size_t vlan_spans_from_afspec(struct nlattr *afspec, struct vlan_span **ret)
{
    struct vlan_span *v = NULL;
    size_t n = 0;
    struct nlattr *a;
    int rem;
    uint16_t begin = 0;

    *ret = NULL;
    if (!afspec)
        return 0;
    nla_for_each_nested(a, afspec, rem) {
        if (nla_type(a) != IFLA_BRIDGE_VLAN_INFO || nla_len(a) < (int)sizeof(struct bridge_vlan_info))
            continue;
        const struct bridge_vlan_info *vi = nla_data(a);
        uint16_t f = vi->flags & (PVLAN_PVID | PVLAN_UNTAGGED);
        if (vi->vid < 1 || vi->vid > 4094)
            continue;
        if (vi->flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
            begin = vi->vid;
            continue;
        }
        uint16_t lo = (vi->flags & BRIDGE_VLAN_INFO_RANGE_END) && begin && begin <= vi->vid
                          ? begin : vi->vid;
        begin = 0;
        *ARRAY_PUSH(v, n) = (struct vlan_span){lo, vi->vid, f};
    }
    *ret = v;
    return vlan_spans_normalize(v, n);
}

/* ---- plan and read-back ---- */

/* The tables share one shape: a set mask and values, n of them. */
static size_t diff_vals(uint32_t wset, const uint32_t *want, uint32_t lset, const uint32_t *live,
                        uint32_t *rset, uint32_t *ret, size_t n)
{
    size_t c = 0;
    *rset = 0;
    for (size_t k = 0; k < n; k++)
        if (((wset >> k) & 1) && (!((lset >> k) & 1) || live[k] != want[k])) {
            *rset |= 1u << k;
            ret[k] = want[k];
            c++;
        }
    return c;
}

size_t bropts_diff(const struct bropts *want, const struct bropts *live, struct bropts *ret)
{
    bropts_init(ret);
    return diff_vals(want->set & ~live->transient, want->v, live->set, live->v, &ret->set,
                     ret->v, _BROPT_MAX);
}

size_t brport_opts_diff(const struct brport_opts *want, const struct brport_opts *live,
                        struct brport_opts *ret)
{
    brport_opts_init(ret);
    return diff_vals(want->set, want->v, live->set, live->v, &ret->set, ret->v, _BRPORT_MAX);
}

void bropts_pick(const struct bropts *keys, const struct bropts *live, struct bropts *ret)
{
    *ret = *live;
    ret->set &= keys->set;
    ret->transient = 0;
}

void brport_opts_pick(const struct brport_opts *keys, const struct brport_opts *live,
                      struct brport_opts *ret)
{
    *ret = *live;
    ret->set &= keys->set;
}

static bool verify_vals(const char *prefix, const struct optdef *defs, uint32_t wset,
                        const uint32_t *want, uint32_t lset, const uint32_t *live, size_t n,
                        char **ret_msg)
{
    for (size_t k = 0; k < n; k++) {
        bool have = (lset >> k) & 1;
        if (!((wset >> k) & 1) || (have && live[k] == want[k]))
            continue;
        _cleanup_free_ char *w = value_text(&defs[k], want[k]);
        if (!have) {
            *ret_msg = xasprintf("%s%s: desired %s, current not reported by the kernel%s", prefix,
                                 defs[k].key, w,
                                 defs[k].vlan ? " (it lacks bridge VLAN filtering)" : "");
            return false;
        }
        _cleanup_free_ char *c = value_text(&defs[k], live[k]);
        *ret_msg = xasprintf("%s%s: desired %s, current %s", prefix, defs[k].key, w, c);
        return false;
    }
    return true;
}

bool bropts_verify(const char *ifname, const struct bropts *want, const struct bropts *live,
                   char **ret_msg)
{
    _cleanup_free_ char *p = xasprintf("%s.bridge.options.", ifname);
    return verify_vals(p, bro, want->set & ~live->transient, want->v, live->set, live->v,
                       _BROPT_MAX, ret_msg);
}

bool brport_opts_verify(const char *ifname, const struct brport_opts *want,
                        const struct brport_opts *live, char **ret_msg)
{
    _cleanup_free_ char *p = xasprintf("%s.bridge.port.", ifname);
    return verify_vals(p, brp, want->set, want->v, live->set, live->v, _BRPORT_MAX, ret_msg);
}

static void append(char **buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(char **buf, const char *fmt, ...)
{
    va_list ap;
    char *add, *n;
    va_start(ap, fmt);
    if (vasprintf(&add, fmt, ap) < 0)
        abort();
    va_end(ap);
    n = xasprintf("%s%s", *buf ? *buf : "", add);
    free(add);
    free(*buf);
    *buf = n;
}

static void describe_vals(const struct optdef *defs, uint32_t set, const uint32_t *v, size_t n,
                          char **buf)
{
    for (size_t k = 0; k < n; k++)
        if ((set >> k) & 1) {
            if (defs[k].kind == VK_VLANPROTO)
                append(buf, " %s=0x%04llx", defs[k].ipname, (unsigned long long)v[k]);
            else
                append(buf, " %s=%lld", defs[k].ipname, (long long)v[k]);
        }
}

void bropts_describe(const struct bropts *o, char **buf)
{
    describe_vals(bro, o->set, o->v, _BROPT_MAX, buf);
}

void brport_opts_describe(const struct brport_opts *o, char **buf)
{
    describe_vals(brp, o->set, o->v, _BRPORT_MAX, buf);
}

void vlan_spans_describe(const char *what, const struct vlan_span *v, size_t n, char **buf)
{
    append(buf, " %s=", what);
    if (!n)
        append(buf, "none");
    for (size_t i = 0; i < n; i++) {
        append(buf, "%s%u", i ? "," : "", v[i].min);
        if (v[i].max != v[i].min)
            append(buf, "-%u", v[i].max);
        if (v[i].flags & PVLAN_PVID)
            append(buf, "p");
        if (v[i].flags & PVLAN_UNTAGGED)
            append(buf, "u");
    }
}

/* ---- JSON ---- */

static json_t *vals_json(const struct optdef *defs, uint32_t set, const uint32_t *v, size_t n)
{
    json_t *o = json_object();
    for (size_t k = 0; k < n; k++)
        if ((set >> k) & 1)
            json_object_set_new(o, defs[k].ipname, json_integer(v[k]));
    return o;
}

static void vals_from_json(const struct optdef *defs, json_t *j, uint32_t *set, uint32_t *v,
                           size_t n)
{
    *set = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *x = json_object_get(j, defs[k].ipname);
        v[k] = 0;
        if (json_is_integer(x) && json_integer_value(x) >= 0 &&
            json_integer_value(x) <= 0xffffffffLL) {
            v[k] = (uint32_t)json_integer_value(x);
            *set |= 1u << k;
        }
    }
}

json_t *bropts_to_json(const struct bropts *o)
{
    return vals_json(bro, o->set, o->v, _BROPT_MAX);
}

void bropts_from_json(json_t *j, struct bropts *ret)
{
    vals_from_json(bro, j, &ret->set, ret->v, _BROPT_MAX);
}

json_t *brport_opts_to_json(const struct brport_opts *o)
{
    return vals_json(brp, o->set, o->v, _BRPORT_MAX);
}

void brport_opts_from_json(json_t *j, struct brport_opts *ret)
{
    vals_from_json(brp, j, &ret->set, ret->v, _BRPORT_MAX);
}

json_t *vlan_spans_to_json(const struct vlan_span *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("[i,i,i]", v[i].min, v[i].max, v[i].flags));
    return a;
}

size_t vlan_spans_from_json(json_t *j, struct vlan_span **ret)
{
    struct vlan_span *v = NULL;
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(j, i, e) {
        json_int_t lo = json_integer_value(json_array_get(e, 0));
        json_int_t hi = json_integer_value(json_array_get(e, 1));
        json_int_t f = json_integer_value(json_array_get(e, 2));
        if (lo < 1 || hi > 4094 || lo > hi)
            continue;
        *ARRAY_PUSH(v, n) = (struct vlan_span){(uint16_t)lo, (uint16_t)hi,
                                               (uint16_t)(f & (PVLAN_PVID | PVLAN_UNTAGGED))};
    }
    *ret = v;
    return n;
}

/* ---- show ---- */

void bropts_show(json_t *options, const struct bropts *o)
{
    for (size_t k = 0; k < _BROPT_MAX; k++) {
        if (!BROPT_HAS(o, k))
            continue;
        const char *key = bro[k].key;
        json_t *into = options;
        if (strncmp(key, "stp.", 4) == 0) {
            into = json_object_get(options, "stp");
            if (!into) {
                into = json_object();
                json_object_set_new(options, "stp", into);
            }
            key += 4;
        }
        json_object_set_new(into, key, value_json(&bro[k], o->v[k]));
    }
}

/* nmstate's port vlan block of a VLAN set: access when it is one untagged
 * PVID, else a trunk of its tagged VLANs with the untagged PVID as native.
 * NULL when the set has no such form (untagged non-PVID VLANs). */
static json_t *port_vlan_json(const struct vlan_span *v, size_t n)
{
    const uint16_t pu = PVLAN_PVID | PVLAN_UNTAGGED;
    if (n == 1 && v[0].min == v[0].max && v[0].flags == pu)
        return json_pack("{s:s, s:i}", "mode", "access", "tag", v[0].min);
    json_t *tags = json_array();
    int native = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].flags == pu && v[i].min == v[i].max && !native)
            native = v[i].min;
        else if (v[i].flags == 0)
            json_array_append_new(tags, v[i].min == v[i].max
                                            ? json_pack("{s:i}", "id", v[i].min)
                                            : json_pack("{s:{s:i, s:i}}", "id-range", "min",
                                                        v[i].min, "max", v[i].max));
        else {
            json_decref(tags);
            return NULL;
        }
    }
    if (!json_array_size(tags)) {
        json_decref(tags);
        return NULL;
    }
    json_t *o = json_pack("{s:s, s:o}", "mode", "trunk", "trunk-tags", tags);
    json_object_set_new(o, "enable-native", json_boolean(native != 0));
    if (native)
        json_object_set_new(o, "tag", json_integer(native));
    return o;
}

void brport_show(json_t *port, const struct brport_opts *o, const struct vlan_span *vlans,
                 size_t nvlans)
{
    for (size_t k = 0; k < _BRPORT_MAX; k++)
        if (BROPT_HAS(o, k))
            json_object_set_new(port, brp[k].key, value_json(&brp[k], o->v[k]));
    if (vlans) {
        json_t *v = port_vlan_json(vlans, nvlans);
        if (v)
            json_object_set_new(port, "vlan", v);
    }
}
