/* validate.c - loader documents -> the typed desired model (model.h).
 *
 * Each document is checked on its own: a bad one becomes an entry of
 * desired->invalid (so its last good kernel state is kept, not pruned) plus
 * `file:line:col` diagnostics, and every other object carries on. Keys that
 * are valid for the kind but not implemented yet are accepted with a warning
 * naming the key, never silently dropped. */
#include <arpa/inet.h>
#include <jansson.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>

#include "ipam.h"
#include "probe.h"
#include "model.h"
#include "plan.h"
#include "schema.h"
#include "iftypes_impl.h"
#include "util.h"
#include "verify.h"

#define ANNOT_NETWORKS "k8s.v1.cni.cncf.io/networks"
#define ANNOT_NETNS "plumbd/netns"
#define ANNOT_PRUNE "plumbd/prune"

static const char *const kind_names[_OBJ_KIND_MAX] = {
    [OBJ_POLICY] = "NodeNetworkConfigurationPolicy",
    [OBJ_NAD] = "NetworkAttachmentDefinition",
    [OBJ_POD] = "Pod",
    [OBJ_NODE] = "Node",
};

const char *obj_kind_to_string(enum obj_kind k)
{
    return k < _OBJ_KIND_MAX ? kind_names[k] : "Unknown";
}

int obj_kind_from_string(const char *s)
{
    for (int k = 0; k < _OBJ_KIND_MAX; k++)
        if (streq(s, kind_names[k]))
            return k;
    return -EINVAL;
}

/* (Called for every object several times a pass: pieces copied, not
 * formatted; truncated like snprintf.) */
const char *object_id(const struct object *o, char *buf, size_t len)
{
    const char *part[] = {obj_kind_to_string(o->kind), o->ns && o->ns[0] ? o->ns : NULL,
                          o->name ? o->name : "(null)"};
    size_t at = 0;

    if (len == 0)
        return buf;
    for (size_t i = 0; i < ARRAY_SIZE(part); i++) {
        if (!part[i])
            continue;
        if (i > 0 && at < len - 1)
            buf[at++] = '/';
        size_t k = strlen(part[i]);
        if (k > len - 1 - at)
            k = len - 1 - at;
        memcpy(buf + at, part[i], k);
        at += k;
    }
    buf[at] = '\0';
    return buf;
}

bool selector_matches(const struct label *sel, size_t nsel, const struct label *labels,
                      size_t nlabels)
{
    for (size_t i = 0; i < nsel; i++) {
        bool found = false;
        for (size_t j = 0; j < nlabels && !found; j++)
            found = streq(sel[i].key, labels[j].key) && streq(sel[i].value, labels[j].value);
        if (!found)
            return false;
    }
    return true;
}

const struct nad *desired_find_nad(const struct desired *d, const char *ns, const char *name)
{
    for (size_t i = 0; i < d->nnads; i++)
        if (streq(d->nads[i].obj.ns, ns) && streq(d->nads[i].obj.name, name))
            return &d->nads[i];
    return NULL;
}

/* ---- validation context ------------------------------------------------ */

struct vctx {
    struct desired *d;
    const struct doc *doc;
    char id[256];   /* object id for messages */
    unsigned errors;
    struct diags *warnings; /* the object's own warning list */
};

static void verr(struct vctx *c, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void verr(struct vctx *c, const struct ynode *at, const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *msg = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    unsigned line = at ? at->line : c->doc->line, col = at ? at->col : c->doc->col;
    diags_add(&c->d->diags, DIAG_ERROR, c->doc->file, line, col, c->id[0] ? c->id : NULL, "%s",
              msg);
    c->errors++;
}

static void vwarn(struct vctx *c, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void vwarn(struct vctx *c, const struct ynode *at, const char *fmt, ...)
{
    va_list ap;
    _cleanup_free_ char *msg = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    unsigned line = at ? at->line : c->doc->line, col = at ? at->col : c->doc->col;
    diags_add(&c->d->diags, DIAG_WARNING, c->doc->file, line, col, c->id[0] ? c->id : NULL,
              "%s", msg);
    if (c->warnings)
        diags_add(c->warnings, DIAG_WARNING, c->doc->file, line, col, NULL, "%s", msg);
}

/* schema_report_fn: schema problems become the object's diagnostics. */
static void schema_report(void *userdata, enum diag_severity sev, const struct ynode *at,
                          const char *msg)
{
    struct vctx *c = userdata;
    if (sev == DIAG_ERROR)
        verr(c, at, "%s", msg);
    else
        vwarn(c, at, "%s", msg);
}

/* Documents that passed their schema without a word, by schema and
 * content hash: the same content passes again, so a pass over a thousand
 * unchanged pods does not walk a thousand schemas. (A document with errors
 * or warnings is checked every time: its reports carry positions.) Bounded:
 * emptied when it grows past CLEAN_MAX, so a daemon that sees revisions
 * come and go for months does not grow with them. */
#define CLEAN_MAX 65536
static struct {
    struct strmap map;
    char **keys;
    size_t n;
} clean;

void validate_cache_free(void)
{
    strmap_free(&clean.map);
    for (size_t i = 0; i < clean.n; i++)
        free(clean.keys[i]);
    free(clean.keys);
    clean.keys = NULL;
    clean.n = 0;
}

struct counted {
    struct vctx *c;
    unsigned reports;
};

static void schema_report(void *userdata, enum diag_severity sev, const struct ynode *at,
                          const char *msg);

static void counted_report(void *userdata, enum diag_severity sev, const struct ynode *at,
                           const char *msg)
{
    struct counted *k = userdata;
    k->reports++;
    schema_report(k->c, sev, at, msg);
}

static int schema_check(struct vctx *c, const char *ref, const struct doc *doc)
{
    char key[128];
    snprintf(key, sizeof(key), "%s:%s", ref, doc->rev);
    if (strmap_get(&clean.map, key, NULL))
        return 0;
    struct counted k = {.c = c};
    int r = schema_validate(ref, doc->root, "", counted_report, &k);
    if (r == 0 && k.reports == 0) {
        if (clean.n >= CLEAN_MAX)
            validate_cache_free();
        char *kd = xstrdup(key);
        *ARRAY_PUSH(clean.keys, clean.n) = kd;
        strmap_put(&clean.map, kd, 0);
    }
    return r;
}

/* The schema (schema/NAME.yaml, embedded) of each kind; bare nmstate files
 * use nmstate.yaml. Structure, types, ranges and the list of implemented
 * keys live there; this file checks meaning (addresses, names, conflicts). */
static const char *const kind_schema[_OBJ_KIND_MAX] = {
    [OBJ_POLICY] = "nodenetworkconfigurationpolicy.yaml",
    [OBJ_NAD] = "networkattachmentdefinition.yaml",
    [OBJ_POD] = "pod.yaml",
    [OBJ_NODE] = "node.yaml",
};

static const char *get_str(struct vctx *c, const struct ynode *map, const char *key,
                           bool required, const char *where)
{
    const struct ynode *n = ynode_get(map, key);
    if (!n) {
        if (required)
            verr(c, map, "%s%s%s is required", where, where[0] ? "." : "", key);
        return NULL;
    }
    if (n->kind != YNODE_SCALAR) {
        verr(c, n, "%s%s%s must be a string", where, where[0] ? "." : "", key);
        return NULL;
    }
    return n->scalar;
}

/* -1 when absent, 0/1, or -2 on a type error (reported). */
static int get_bool(struct vctx *c, const struct ynode *map, const char *key, const char *where)
{
    const struct ynode *n = ynode_get(map, key);
    bool b;
    if (!n)
        return -1;
    if (ynode_bool(n, &b) < 0) {
        verr(c, n, "%s.%s must be true or false", where, key);
        return -2;
    }
    return b;
}

static struct label *parse_labels(struct vctx *c, const struct ynode *map, const char *where,
                                  size_t *ret_n)
{
    struct label *v = NULL;
    size_t n = 0;
    *ret_n = 0;
    if (!map)
        return NULL;
    if (map->kind != YNODE_MAP) {
        verr(c, map, "%s must be a map of strings", where);
        return NULL;
    }
    for (size_t i = 0; i < map->n; i++) {
        if (map->items[i]->kind != YNODE_SCALAR) {
            verr(c, map->items[i], "%s.%s must be a string", where, map->keys[i]);
            continue;
        }
        struct label *l = ARRAY_PUSH(v, n);
        l->key = xstrdup(map->keys[i]);
        l->value = xstrdup(map->items[i]->scalar);
    }
    *ret_n = n;
    return v;
}

static void labels_free(struct label *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

/* ---- NodeNetworkConfigurationPolicy ------------------------------------- */

/* dhcp, autoconf, auto-*, allow-extra-address (nmstate's names). */
static void parse_ip_dynamic(struct vctx *c, const struct ynode *n, int family, const char *where,
                             struct ip_config *ret)
{
    ret->dhcp = get_bool(c, n, "dhcp", where);
    ret->autoconf = get_bool(c, n, "autoconf", where);
    ret->auto_dns = get_bool(c, n, "auto-dns", where);
    ret->auto_gateway = get_bool(c, n, "auto-gateway", where);
    ret->auto_routes = get_bool(c, n, "auto-routes", where);
    ret->allow_extra = get_bool(c, n, "allow-extra-address", where);
    if (ret->autoconf >= 0 && family == AF_INET)
        verr(c, ynode_get(n, "autoconf"), "%s.autoconf is only valid for ipv6", where);
    if (ret->dhcp == 1 && family == AF_INET6)
        vwarn(c, ynode_get(n, "dhcp"), "%s.dhcp (DHCPv6) is not supported by plumbd; only "
                                       "autoconf (SLAAC) configures IPv6 dynamically", where);
    if (ret->dhcp == 1 && ret->enabled == 0)
        verr(c, ynode_get(n, "dhcp"), "%s.dhcp: true needs %s.enabled: true", where, where);
    const struct ynode *t = ynode_get(n, "auto-route-table-id");
    long long v;
    if (t && (ynode_int(t, &v) < 0 || v < 0 || v > 0xffffffffLL || v == 255))
        verr(c, t, "%s.auto-route-table-id must be a table id (0 = main, not 255)", where);
    else if (t)
        ret->auto_table = v;
    const struct ynode *m = ynode_get(n, "auto-route-metric");
    if (m && (ynode_int(m, &v) < 0 || v < 0 || v > 0xffffffffLL))
        verr(c, m, "%s.auto-route-metric must be an integer between 0 and 4294967295", where);
    else if (m)
        ret->auto_metric = v;
}

static void parse_ip_config(struct vctx *c, const struct ynode *n, int family, const char *where,
                            struct ip_config *ret)
{
    ret->enabled = -1;
    ret->dhcp = ret->autoconf = ret->auto_dns = ret->auto_gateway = ret->auto_routes = -1;
    ret->allow_extra = -1;
    ret->auto_metric = -1;
    if (!n)
        return;
    if (n->kind != YNODE_MAP) {
        verr(c, n, "%s must be a map", where);
        return;
    }
    int en = get_bool(c, n, "enabled", where);
    if (en >= 0)
        ret->enabled = en;
    parse_ip_dynamic(c, n, family, where, ret);

    const struct ynode *addrs = ynode_get(n, "address");
    if (!addrs)
        return;
    if (addrs->kind != YNODE_SEQ) {
        verr(c, addrs, "%s.address must be a list", where);
        return;
    }
    ret->has_address = true;
    for (size_t i = 0; i < addrs->n; i++) {
        const struct ynode *a = addrs->items[i];
        const char *ip = get_str(c, a, "ip", true, "address");
        long long plen;
        const struct ynode *pl = ynode_get(a, "prefix-length");
        if (!ip)
            continue;
        if (!pl || ynode_int(pl, &plen) < 0) {
            verr(c, pl ? pl : a, "%s.address[%zu].prefix-length must be an integer", where, i);
            continue;
        }
        struct ipaddr addr;
        if (ipaddr_parse(ip, -1, &addr) < 0 || addr.family != family || strchr(ip, '/')) {
            verr(c, ynode_get(a, "ip"), "%s.address[%zu].ip: '%s' is not an IPv%d address", where,
                 i, ip, family == AF_INET ? 4 : 6);
            continue;
        }
        if (plen < 0 || plen > (family == AF_INET ? 32 : 128)) {
            verr(c, pl, "%s.address[%zu].prefix-length %lld is out of range", where, i, plen);
            continue;
        }
        addr.prefix = (uint8_t)plen;
        *ARRAY_PUSH(ret->addr, ret->naddr) = addr;
    }
}

/* bridgeopts.c reports through this: file:line:col of the node. */
static void bropt_verr(void *ctx, const struct ynode *at, const char *msg)
{
    verr(ctx, at, "%s", msg);
}

/* nmstate type names of iftypes.c ("macvlan" is nmstate 1.x's spelling). */
static bool iftype_from_string(const char *s, enum iface_type *ret)
{
    static const struct {
        const char *name;
        enum iface_type t;
    } t[] = {{"veth", IFACE_VETH},       {"vxlan", IFACE_VXLAN}, {"mac-vlan", IFACE_MACVLAN},
             {"macvlan", IFACE_MACVLAN}, {"dummy", IFACE_DUMMY}, {"vlan", IFACE_VLAN},
             {"bond", IFACE_BOND}};
    for (size_t i = 0; i < ARRAY_SIZE(t); i++)
        if (streq(s, t[i].name)) {
            *ret = t[i].t;
            return true;
        }
    return false;
}

static void cfg_err(void *ctx, const struct ynode *at, const char *msg)
{
    verr(ctx, at, "%s", msg);
}

/* Keys every interface type has: mac-address, copy-mac-from, controller,
 * accept-all-mac-addresses. */
static void parse_iface_common(struct vctx *c, const struct ynode *n, struct iface *ret)
{
    const char *mac = get_str(c, n, "mac-address", false, ret->name);
    if (mac) {
        if (mac_parse(mac, ret->mac) < 0 || (ret->mac[0] & 1))
            verr(c, ynode_get(n, "mac-address"),
                 "%s.mac-address: '%s' is not a unicast MAC address", ret->name, mac);
        else
            ret->has_mac = true;
    }
    const char *from = get_str(c, n, "copy-mac-from", false, ret->name);
    if (from) {
        if (!ifname_valid(from) || streq(from, ret->name))
            verr(c, ynode_get(n, "copy-mac-from"),
                 "%s.copy-mac-from: '%s' is not another interface's name", ret->name, from);
        else if (mac)
            verr(c, ynode_get(n, "copy-mac-from"),
                 "%s: mac-address and copy-mac-from are mutually exclusive", ret->name);
        else
            snprintf(ret->copy_mac_from, sizeof(ret->copy_mac_from), "%s", from);
    }
    const char *ctl = get_str(c, n, "controller", false, ret->name);
    if (ctl) {
        if (ctl[0] && (!ifname_valid(ctl) || streq(ctl, ret->name)))
            verr(c, ynode_get(n, "controller"),
                 "%s.controller: '%s' is not another interface's name", ret->name, ctl);
        else {
            ret->has_controller = true;
            snprintf(ret->controller, sizeof(ret->controller), "%s", ctl);
        }
    }
    ret->accept_all_mac = get_bool(c, n, "accept-all-mac-addresses", ret->name);
    if (ret->accept_all_mac < -1)
        ret->accept_all_mac = -1;
}

static void parse_iface(struct vctx *c, const struct ynode *n, struct iface *ret)
{
    ret->stp = -1;
    bropts_init(&ret->bropts);
    ret->accept_all_mac = -1;
    ret->line = n->line;
    ret->col = n->col;
    if (n->kind != YNODE_MAP) {
        verr(c, n, "interfaces entry must be a map");
        return;
    }
    const char *name = get_str(c, n, "name", true, "interface");
    if (name) {
        if (!ifname_valid(name))
            verr(c, ynode_get(n, "name"),
                 "interface name '%s' is invalid (1-15 bytes, no '/' or whitespace)", name);
        else
            snprintf(ret->name, sizeof(ret->name), "%s", name);
    }
    const char *state = get_str(c, n, "state", false, "interface");
    ret->state = IFSTATE_UP;
    if (state) {
        if (streq(state, "up"))
            ret->state = IFSTATE_UP;
        else if (streq(state, "down"))
            ret->state = IFSTATE_DOWN;
        else if (streq(state, "absent"))
            ret->state = IFSTATE_ABSENT;
        else if (streq(state, "ignore"))
            ret->state = IFSTATE_IGNORE;
        else
            verr(c, ynode_get(n, "state"), "%s: state '%s' is not one of up, down, absent, ignore",
                 ret->name, state);
    }
    const char *type = get_str(c, n, "type", false, "interface");
    if (!type)
        ret->type = IFACE_UNKNOWN;
    else if (streq(type, "linux-bridge"))
        ret->type = IFACE_LINUX_BRIDGE;
    else if (streq(type, "ethernet") || streq(type, "loopback"))
        ret->type = IFACE_ETHERNET; /* an existing device: settings only */
    else if (iftype_from_string(type, &ret->type))
        ; /* iftypes.c */
    else {
        ret->type = IFACE_UNKNOWN;
        if (ret->state != IFSTATE_ABSENT && ret->state != IFSTATE_IGNORE)
            verr(c, ynode_get(n, "type"), "%s: interface type '%s' is not supported yet",
                 ret->name, type);
    }
    if (!type && ret->state == IFSTATE_UP)
        verr(c, n, "%s: type is required unless state is absent or ignore", ret->name);

    const struct ynode *mtu = ynode_get(n, "mtu");
    if (mtu) {
        long long v;
        if (ynode_int(mtu, &v) < 0 || v < 68 || v > 16777215)
            verr(c, mtu, "%s.mtu must be an integer between 68 and 16777215", ret->name);
        else
            ret->mtu = (int)v;
    }
    const char *descr = get_str(c, n, "description", false, ret->name);
    if (descr)
        ret->description = xstrdup(descr);
    parse_iface_common(c, n, ret);

    const struct ynode *br = ynode_get(n, "bridge");
    if (br) {
        if (ret->type != IFACE_LINUX_BRIDGE)
            verr(c, br, "%s: bridge: is only valid for type linux-bridge", ret->name);
        const struct ynode *stp = ynode_path(br, "options.stp");
        int en = get_bool(c, stp, "enabled", "bridge.options.stp");
        if (en >= 0)
            ret->stp = en;
        bropts_parse(ynode_get(br, "options"), ret->name, en, &ret->bropts, bropt_verr, c);
        const struct ynode *ports = ynode_get(br, "port");
        if (ports && ports->kind != YNODE_SEQ)
            verr(c, ports, "%s.bridge.port must be a list", ret->name);
        else if (ports) {
            ret->has_ports = true;
            for (size_t i = 0; i < ports->n; i++) {
                const char *pn = get_str(c, ports->items[i], "name", true, "bridge.port");
                if (!pn)
                    continue;
                if (!ifname_valid(pn)) {
                    verr(c, ports->items[i], "bridge port name '%s' is invalid", pn);
                    continue;
                }
                if (streq(pn, ret->name)) {
                    verr(c, ports->items[i], "%s cannot be a port of itself", pn);
                    continue;
                }
                struct brport_conf pc;
                brport_conf_parse(ports->items[i], ret->name, pn, &pc, bropt_verr, c);
                size_t np = ret->nports;
                *ARRAY_PUSH(ret->port_conf, np) = pc;
                char(*slot)[IFNAMSIZ_PLUMBD] = ARRAY_PUSH(ret->ports, ret->nports);
                snprintf(*slot, IFNAMSIZ_PLUMBD, "%s", pn);
            }
        }
    }
    parse_ip_config(c, ynode_get(n, "ipv4"), AF_INET, "ipv4", &ret->ipv4);
    parse_ip_config(c, ynode_get(n, "ipv6"), AF_INET6, "ipv6", &ret->ipv6);
    link_cfg_parse(n, ret, cfg_err, c);
}

static void iface_free(struct iface *f)
{
    free(f->description);
    free(f->ports);
    for (size_t i = 0; f->port_conf && i < f->nports; i++) /* none for bond ports */
        brport_conf_free(&f->port_conf[i]);
    free(f->port_conf);
    free(f->ipv4.addr);
    free(f->ipv6.addr);
}


/* ---- routes.config ------------------------------------------------------- */

int route_type_from_string(const char *s)
{
    if (streq(s, "blackhole"))
        return RTN_BLACKHOLE;
    if (streq(s, "unreachable"))
        return RTN_UNREACHABLE;
    if (streq(s, "prohibit"))
        return RTN_PROHIBIT;
    return -EINVAL;
}

const char *route_type_to_string(int type)
{
    switch (type) {
    case RTN_BLACKHOLE:
        return "blackhole";
    case RTN_UNREACHABLE:
        return "unreachable";
    case RTN_PROHIBIT:
        return "prohibit";
    }
    return NULL;
}

/* An address key of a route entry; family-checked against *family (0 = not
 * known yet, then set). Returns true when present and valid. */
static bool route_addr(struct vctx *c, const struct ynode *n, const char *key, size_t idx,
                       bool cidr, int *family, struct ipaddr *ret)
{
    const char *v = get_str(c, n, key, false, "routes.config");
    if (!v)
        return false;
    struct ipaddr a;
    if (ipaddr_parse(v, -1, &a) < 0 || (cidr && !strchr(v, '/')) || (!cidr && strchr(v, '/'))) {
        verr(c, ynode_get(n, key), "routes.config[%zu].%s: '%s' is not an %s", idx, key, v,
             cidr ? "IP prefix (address/length)" : "IP address");
        return false;
    }
    if (*family && a.family != *family) {
        verr(c, ynode_get(n, key), "routes.config[%zu].%s: '%s' is not of the family of the "
             "other addresses of the route", idx, key, v);
        return false;
    }
    if (cidr) {
        struct ipaddr net = a;
        size_t len = a.family == AF_INET ? 4 : 16;
        for (size_t b = 0; b < len; b++) {
            int keep = (int)a.prefix - (int)b * 8;
            net.bytes[b] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        }
        if (memcmp(net.bytes, a.bytes, len) != 0) {
            verr(c, ynode_get(n, key), "routes.config[%zu].%s: '%s' has host bits set", idx,
                 key, v);
            return false;
        }
    }
    *family = a.family;
    *ret = a;
    return true;
}

static void parse_route_entry(struct vctx *c, const struct ynode *n, size_t idx,
                              struct nm_route *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->line = n->line;
    ret->col = n->col;
    if (n->kind != YNODE_MAP) {
        verr(c, n, "routes.config[%zu] must be a map", idx);
        return;
    }
    const char *state = get_str(c, n, "state", false, "routes.config");
    if (state && !streq(state, "absent"))
        verr(c, ynode_get(n, "state"), "routes.config[%zu].state: '%s' is not 'absent'", idx,
             state);
    ret->absent = state && streq(state, "absent");
    int fam = 0;
    ret->has_dst = route_addr(c, n, "destination", idx, true, &fam, &ret->dst);
    ret->has_gw = route_addr(c, n, "next-hop-address", idx, false, &fam, &ret->gw);
    ret->has_src = route_addr(c, n, "source", idx, false, &fam, &ret->src);
    ret->family = fam;
    const char *nhi = get_str(c, n, "next-hop-interface", false, "routes.config");
    if (nhi) {
        if (!ifname_valid(nhi))
            verr(c, ynode_get(n, "next-hop-interface"),
                 "routes.config[%zu].next-hop-interface '%s' is not a valid interface name", idx,
                 nhi);
        else
            snprintf(ret->ifname, sizeof(ret->ifname), "%s", nhi);
    }
    long long v;
    const struct ynode *m = ynode_get(n, "metric");
    if (m) {
        if (ynode_int(m, &v) < 0 || v < 0 || v > 0xffffffffLL)
            verr(c, m, "routes.config[%zu].metric must be an integer from 0 to 4294967295", idx);
        else {
            ret->has_metric = true;
            ret->metric = (uint32_t)v;
        }
    }
    const struct ynode *t = ynode_get(n, "table-id");
    if (t) {
        if (ynode_int(t, &v) < 0 || v < 0 || v > 0xffffffffLL || v == 255 /* local */)
            verr(c, t, "routes.config[%zu].table-id must be an integer from 0 to 4294967295, "
                 "not 255 (local)", idx);
        else if (v != 0) { /* 0: nmstate's "not set" */
            ret->has_table = true;
            ret->table = (uint32_t)v;
        }
    }
    const char *rtype = get_str(c, n, "route-type", false, "routes.config");
    if (rtype) {
        int k = route_type_from_string(rtype);
        if (k < 0)
            verr(c, ynode_get(n, "route-type"),
                 "routes.config[%zu].route-type '%s' is not one of blackhole, unreachable, "
                 "prohibit", idx, rtype);
        else
            ret->type = k;
    }
    if (ret->absent)
        return;
    /* A present route: complete it. */
    if (!ret->has_dst) {
        if (!ynode_get(n, "destination")) /* (else already reported as invalid) */
            verr(c, n, "routes.config[%zu].destination is required", idx);
        return;
    }
    if (ret->type && (ret->ifname[0] || ret->has_gw))
        verr(c, n, "routes.config[%zu]: a %s route has no next-hop-interface or "
             "next-hop-address", idx, route_type_to_string(ret->type));
    if (!ret->type && !ret->ifname[0])
        verr(c, n, "routes.config[%zu].next-hop-interface is required (unless route-type is "
             "blackhole, unreachable or prohibit)", idx);
    if (!ret->type)
        ret->type = RTN_UNICAST;
    if (!ret->has_table) {
        ret->has_table = true;
        ret->table = RT_TABLE_MAIN;
    }
    if (ret->family == AF_INET6 && (!ret->has_metric || ret->metric == 0))
        ret->metric = 1024; /* the kernel's IPv6 default (0 means it) */
    ret->has_metric = true;
}

/* Do two present entries name the same kernel route? */
static bool route_same_key(const struct nm_route *a, const struct nm_route *b)
{
    return a->family == b->family && a->table == b->table && a->metric == b->metric &&
           ipaddr_equal(&a->dst, &b->dst);
}

static void parse_routes(struct vctx *c, const struct ynode *rs, struct policy *p)
{
    if (!rs)
        return;
    if (rs->kind != YNODE_MAP) {
        verr(c, rs, "routes must be a map");
        return;
    }
    const struct ynode *cfg = ynode_get(rs, "config");
    if (!cfg)
        return;
    if (cfg->kind != YNODE_SEQ) {
        verr(c, cfg, "routes.config must be a list");
        return;
    }
    for (size_t i = 0; i < cfg->n; i++) {
        struct nm_route r;
        parse_route_entry(c, cfg->items[i], i, &r);
        for (size_t j = 0; !r.absent && j < p->nroutes; j++)
            if (!p->routes[j].absent && route_same_key(&p->routes[j], &r)) {
                char a[64];
                verr(c, cfg->items[i], "routes.config[%zu]: %s (table %u, metric %u) is listed "
                     "twice", i, ipaddr_format(&r.dst, true, a, sizeof(a)), r.table, r.metric);
            }
        *ARRAY_PUSH(p->routes, p->nroutes) = r;
    }
}

/* One list of strings of dns-resolver.config; each item checked by ok. */
static void parse_dns_list(struct vctx *c, const struct ynode *cfg, const char *key,
                           bool (*ok)(const char *), const char *what, char ***ret, size_t *ret_n)
{
    const struct ynode *l = ynode_get(cfg, key);
    if (!l)
        return;
    if (l->kind != YNODE_SEQ) {
        verr(c, l, "dns-resolver.config.%s must be a list", key);
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct ynode *it = l->items[i];
        const char *v = it->kind == YNODE_SCALAR ? it->scalar : NULL;
        if (!v || !ok(v)) {
            verr(c, it, "dns-resolver.config.%s[%zu]: '%s' is not %s", key, i, v ? v : "(not a string)",
                 what);
            continue;
        }
        for (size_t j = 0; j < *ret_n; j++)
            if (streq((*ret)[j], v))
                verr(c, it, "dns-resolver.config.%s[%zu]: '%s' is listed twice", key, i, v);
        *ARRAY_PUSH(*ret, *ret_n) = xstrdup(v);
    }
}

/* dns-resolver: {config: {server, search, options}} ("running" is what
 * nmstate reports: ignored, as nmstate does). */
static void parse_dns(struct vctx *c, const struct ynode *dr, struct policy *p)
{
    if (!dr)
        return;
    if (dr->kind != YNODE_MAP) {
        verr(c, dr, "dns-resolver must be a map");
        return;
    }
    const struct ynode *cfg = ynode_get(dr, "config");
    if (!cfg)
        return;
    if (cfg->kind == YNODE_SCALAR && (!cfg->scalar || !cfg->scalar[0] || streq(cfg->scalar, "null") ||
                                      streq(cfg->scalar, "~")))
        cfg = NULL; /* config: (null) = {} */
    else if (cfg->kind != YNODE_MAP) {
        verr(c, cfg, "dns-resolver.config must be a map");
        return;
    }
    p->dns.set = true;
    p->dns.line = cfg ? cfg->line : dr->line;
    p->dns.col = cfg ? cfg->col : dr->col;
    if (!cfg)
        return;
    parse_dns_list(c, cfg, "server", dns_server_valid, "an IPv4 or IPv6 address", &p->dns.server,
                   &p->dns.nserver);
    parse_dns_list(c, cfg, "search", dns_domain_valid, "a domain name", &p->dns.search,
                   &p->dns.nsearch);
    parse_dns_list(c, cfg, "options", dns_option_valid,
                   "a resolver option (word or word:value, e.g. rotate, ndots:2)", &p->dns.options,
                   &p->dns.noptions);
    if (p->dns.nserver > 3)
        vwarn(c, ynode_get(cfg, "server"), "dns-resolver.config.server: %zu servers given; the "
              "resolver uses the first 3", p->dns.nserver);
}

/* ---- route-rules.config -------------------------------------------------- */

int rule_action_from_string(const char *s)
{
    if (streq(s, "blackhole"))
        return FR_ACT_BLACKHOLE;
    if (streq(s, "unreachable"))
        return FR_ACT_UNREACHABLE;
    if (streq(s, "prohibit"))
        return FR_ACT_PROHIBIT;
    return -EINVAL;
}

const char *rule_action_to_string(int action)
{
    switch (action) {
    case FR_ACT_BLACKHOLE:
        return "blackhole";
    case FR_ACT_UNREACHABLE:
        return "unreachable";
    case FR_ACT_PROHIBIT:
        return "prohibit";
    }
    return NULL;
}

/* ip-from / ip-to: a prefix or an address (a host prefix); "" in an absent
 * entry: "rules without one" (*ret_none). */
static bool rule_addr(struct vctx *c, const struct ynode *n, const char *key, size_t idx,
                      bool absent, int *family, struct ipaddr *ret, bool *ret_none)
{
    const char *v = get_str(c, n, key, false, "route-rules.config");
    if (!v)
        return false;
    if (!v[0]) {
        if (absent)
            *ret_none = true;
        else
            verr(c, ynode_get(n, key), "route-rules.config[%zu].%s must not be empty", idx, key);
        return false;
    }
    struct ipaddr a;
    if (ipaddr_parse(v, -1, &a) < 0) {
        verr(c, ynode_get(n, key), "route-rules.config[%zu].%s: '%s' is not an IP prefix or "
             "address", idx, key, v);
        return false;
    }
    size_t len = a.family == AF_INET ? 4 : 16;
    if (!strchr(v, '/'))
        a.prefix = (uint8_t)(len * 8);
    if (*family && a.family != *family) {
        verr(c, ynode_get(n, key), "route-rules.config[%zu].%s: '%s' is not of the family of "
             "the rule", idx, key, v);
        return false;
    }
    struct ipaddr net = a;
    for (size_t b = 0; b < len; b++) {
        int keep = (int)a.prefix - (int)b * 8;
        net.bytes[b] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    if (memcmp(net.bytes, a.bytes, len) != 0) {
        verr(c, ynode_get(n, key), "route-rules.config[%zu].%s: '%s' has host bits set", idx,
             key, v);
        return false;
    }
    *family = a.family;
    *ret = a;
    return true;
}

/* fwmark/fwmask: an integer or a hex string ("0x10"). */
static bool rule_u32(struct vctx *c, const struct ynode *n, const char *key, size_t idx,
                     uint32_t *ret)
{
    const struct ynode *m = ynode_get(n, key);
    long long v;
    if (!m)
        return false;
    if (ynode_int(m, &v) < 0) {
        const char *s = m->kind == YNODE_SCALAR ? m->scalar : NULL;
        char *end = NULL;
        errno = 0;
        unsigned long long u = s && s[0] && s[0] != '-' ? strtoull(s, &end, 0) : 0;
        if (!s || !end || *end || errno || end == s) {
            verr(c, m, "route-rules.config[%zu].%s must be an integer or a hex string "
                 "(0x...) from 0 to 0xffffffff", idx, key);
            return false;
        }
        v = (long long)u;
    }
    if (v < 0 || v > 0xffffffffLL) {
        verr(c, m, "route-rules.config[%zu].%s must be from 0 to 0xffffffff", idx, key);
        return false;
    }
    *ret = (uint32_t)v;
    return true;
}

static void parse_rule_entry(struct vctx *c, const struct ynode *n, size_t idx,
                             struct nm_rule *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->line = n->line;
    ret->col = n->col;
    if (n->kind != YNODE_MAP) {
        verr(c, n, "route-rules.config[%zu] must be a map", idx);
        return;
    }
    const char *state = get_str(c, n, "state", false, "route-rules.config");
    if (state && !streq(state, "absent"))
        verr(c, ynode_get(n, "state"), "route-rules.config[%zu].state: '%s' is not 'absent'",
             idx, state);
    ret->absent = state && streq(state, "absent");
    int fam = 0;
    const char *family = get_str(c, n, "family", false, "route-rules.config");
    if (family) {
        if (streq(family, "ipv4"))
            fam = AF_INET;
        else if (streq(family, "ipv6"))
            fam = AF_INET6;
        else
            verr(c, ynode_get(n, "family"), "route-rules.config[%zu].family '%s' is not ipv4 "
                 "or ipv6", idx, family);
    }
    ret->has_from = rule_addr(c, n, "ip-from", idx, ret->absent, &fam, &ret->from, &ret->from_none);
    ret->has_to = rule_addr(c, n, "ip-to", idx, ret->absent, &fam, &ret->to, &ret->to_none);
    ret->family = fam;
    long long v;
    const struct ynode *m = ynode_get(n, "priority");
    if (m) {
        if (ynode_int(m, &v) < 0 || v < -1 || v > 0xffffffffLL)
            verr(c, m, "route-rules.config[%zu].priority must be an integer from 0 to "
                 "4294967295 (or -1: unset)", idx);
        else if (v >= 0) {
            ret->has_priority = true;
            ret->priority = (uint32_t)v;
        }
    }
    const struct ynode *t = ynode_get(n, "route-table");
    if (t) {
        if (ynode_int(t, &v) < 0 || v < 0 || v > 0xffffffffLL)
            verr(c, t, "route-rules.config[%zu].route-table must be an integer from 0 to "
                 "4294967295", idx);
        else {
            ret->has_table = true;
            ret->table = v == 0 ? RT_TABLE_MAIN : (uint32_t)v; /* 0: nmstate's main */
        }
    }
    ret->has_fwmark = rule_u32(c, n, "fwmark", idx, &ret->fwmark);
    ret->has_fwmask = rule_u32(c, n, "fwmask", idx, &ret->fwmask);
    const char *iif = get_str(c, n, "iif", false, "route-rules.config");
    if (iif) {
        if (!ifname_valid(iif))
            verr(c, ynode_get(n, "iif"), "route-rules.config[%zu].iif '%s' is not a valid "
                 "interface name", idx, iif);
        else
            snprintf(ret->iif, sizeof(ret->iif), "%s", iif);
    }
    const char *action = get_str(c, n, "action", false, "route-rules.config");
    if (action) {
        int k = rule_action_from_string(action);
        if (k < 0)
            verr(c, ynode_get(n, "action"), "route-rules.config[%zu].action '%s' is not one of "
                 "blackhole, unreachable, prohibit", idx, action);
        else
            ret->action = k;
    }
    if (ret->absent)
        return;
    /* A present rule: complete it. */
    if (!ret->family)
        ret->family = AF_INET; /* nmstate: no address and no family is IPv4 */
    if (ret->action && ret->has_table)
        verr(c, t, "route-rules.config[%zu]: a %s rule has no route-table", idx,
             rule_action_to_string(ret->action));
    if (!ret->action) {
        ret->action = FR_ACT_TO_TBL;
        if (!ret->has_table)
            ret->table = RT_TABLE_MAIN;
    } else
        ret->table = 0;
    ret->has_table = true;
    if (!ret->has_fwmask)
        ret->fwmask = ret->fwmark ? 0xffffffffU : 0; /* the kernel's default */
    ret->has_fwmark = ret->has_fwmask = true;
}

static void parse_rules(struct vctx *c, const struct ynode *rs, struct policy *p)
{
    if (!rs)
        return;
    if (rs->kind != YNODE_MAP) {
        verr(c, rs, "route-rules must be a map");
        return;
    }
    const struct ynode *cfg = ynode_get(rs, "config");
    if (!cfg)
        return;
    if (cfg->kind != YNODE_SEQ) {
        verr(c, cfg, "route-rules.config must be a list");
        return;
    }
    for (size_t i = 0; i < cfg->n; i++) {
        struct nm_rule r;
        unsigned errors = c->errors;
        parse_rule_entry(c, cfg->items[i], i, &r);
        for (size_t j = 0; !r.absent && c->errors == errors && j < p->nrules; j++)
            if (!p->rules[j].absent && rule_spec_equal(&p->rules[j], &r))
                verr(c, cfg->items[i], "route-rules.config[%zu] is the same rule as "
                     "route-rules.config[%zu]", i, j);
        *ARRAY_PUSH(p->rules, p->nrules) = r;
    }
}

/* spec.desiredState (or a bare nmstate document) -> interfaces, routes. */
/* An interface's controller and the port lists of the policy's bridges and
 * bonds must agree: `controller: X` on a port that another entry lists
 * under its ports (or `controller: ""` on a listed port) is an error, not
 * a silent choice between the two. */
static void check_controllers(struct vctx *c, const struct ynode *ifs, const struct policy *p)
{
    for (size_t i = 0; i < p->nifaces; i++) {
        const struct iface *f = &p->ifaces[i];
        if (!f->has_controller)
            continue;
        for (size_t j = 0; j < p->nifaces; j++)
            for (size_t k = 0; k < p->ifaces[j].nports; k++)
                if (streq(p->ifaces[j].ports[k], f->name) &&
                    !streq(p->ifaces[j].name, f->controller))
                    verr(c, ynode_get(ifs->items[i], "controller"),
                         "%s.controller is '%s' but %s lists it as a port", f->name,
                         f->controller, p->ifaces[j].name);
    }
}

static void parse_desired_state(struct vctx *c, const struct ynode *ds, struct policy *p)
{
    if (!ds)
        return;
    if (ds->kind != YNODE_MAP) {
        verr(c, ds, "desiredState must be a map");
        return;
    }
    const struct ynode *ifs = ynode_get(ds, "interfaces");
    if (ifs && ifs->kind != YNODE_SEQ) {
        verr(c, ifs, "desiredState.interfaces must be a list");
        return;
    }
    for (size_t i = 0; ifs && i < ifs->n; i++) {
        struct iface f = {0};
        parse_iface(c, ifs->items[i], &f);
        for (size_t j = 0; j < p->nifaces; j++)
            if (f.name[0] && streq(p->ifaces[j].name, f.name))
                verr(c, ifs->items[i], "interface %s is listed twice", f.name);
        *ARRAY_PUSH(p->ifaces, p->nifaces) = f;
    }
    check_controllers(c, ifs, p);
    parse_routes(c, ynode_get(ds, "routes"), p);
    parse_dns(c, ynode_get(ds, "dns-resolver"), p);
    parse_rules(c, ynode_get(ds, "route-rules"), p);
}

static void policy_free(struct policy *p)
{
    free(p->probe);
    labels_free(p->selector, p->nselector);
    for (size_t i = 0; i < p->nifaces; i++)
        iface_free(&p->ifaces[i]);
    free(p->ifaces);
    free(p->routes);
    dns_config_free(&p->dns);
    free(p->rules);
    json_decref(p->state);
}

/* ---- NetworkAttachmentDefinition ---------------------------------------- */

static const char *json_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One host-local range object: subnet, rangeStart, rangeEnd, gateway,
 * normalized as host-local does (gateway default: the subnet's first
 * address). `where` names it in messages ("ipam" or "ipam.ranges[0][1]"). */
static int parse_ipam_range(struct vctx *c, const struct ynode *at, json_t *src,
                            const char *where, struct ipam_range *ret)
{
    struct ipam_range rg = {0};
    const char *subnet = json_str(src, "subnet");
    char a[64], b[64];

    if (!json_is_object(src)) {
        verr(c, at, "%s must be an object with a subnet", where);
        return -EINVAL;
    }
    if (!subnet || ipaddr_parse(subnet, -1, &rg.subnet) < 0 || !strchr(subnet, '/')) {
        verr(c, at, "%s.subnet '%s' is not a CIDR prefix", where, subnet ? subnet : "(missing)");
        return -EINVAL;
    }
    struct ipam_range probe = {.subnet = rg.subnet};
    if (ipam_range_normalize(&probe) < 0) {
        unsigned bits = rg.subnet.family == AF_INET ? 32 : 128;
        struct ipaddr net = rg.subnet;
        for (unsigned i = rg.subnet.prefix; i < bits; i++)
            net.bytes[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
        if ((unsigned)rg.subnet.prefix + 2 > bits)
            verr(c, at, "%s.subnet %s is too small to allocate from", where, subnet);
        else
            verr(c, at, "%s.subnet %s has host bits set (the network address is %s)", where,
                 subnet, ipaddr_format(&net, false, a, sizeof(a)));
        return -EINVAL;
    }
    struct {
        const char *key;
        struct ipaddr *dst;
        bool *flag;
    } opt[] = {
        {"rangeStart", &rg.start, NULL},
        {"rangeEnd", &rg.end, NULL},
        {"gateway", &rg.gateway, &rg.has_gateway},
    };
    for (size_t i = 0; i < ARRAY_SIZE(opt); i++) {
        const char *s = json_str(src, opt[i].key);
        if (!s)
            continue;
        if (ipaddr_parse(s, rg.subnet.prefix, opt[i].dst) < 0 ||
            !ipaddr_in_subnet(opt[i].dst, &rg.subnet)) {
            verr(c, at, "%s.%s '%s' is not an address inside %s", where, opt[i].key, s, subnet);
            return -EINVAL;
        }
        opt[i].dst->prefix = rg.subnet.prefix;
        if (opt[i].flag)
            *opt[i].flag = true;
    }
    /* host-local's default: the gateway is the subnet's first address, and
     * it is never handed out. */
    if (!rg.has_gateway) {
        rg.gateway = rg.subnet;
        ipaddr_add(&rg.gateway, 1);
        rg.has_gateway = true;
    }
    if (ipam_range_normalize(&rg) < 0) {
        verr(c, at, "%s: rangeStart %s is after rangeEnd %s", where,
             ipaddr_format(&rg.start, false, a, sizeof(a)),
             ipaddr_format(&rg.end, false, b, sizeof(b)));
        return -EINVAL;
    }
    *ret = rg;
    return 0;
}

static int parse_ipam_routes(struct vctx *c, const struct ynode *at, json_t *ipam,
                             struct nad *nad)
{
    json_t *routes = json_object_get(ipam, "routes");
    size_t i;
    json_t *r;
    json_array_foreach(routes, i, r) {
        const char *dst = json_str(r, "dst"), *gw = json_str(r, "gw");
        struct route rt = {0};
        if (!dst || ipaddr_parse(dst, -1, &rt.dst) < 0) {
            verr(c, at, "ipam.routes[%zu].dst '%s' is not a CIDR prefix", i, dst ? dst : "");
            return -EINVAL;
        }
        if (gw) {
            if (ipaddr_parse(gw, -1, &rt.gw) < 0 || rt.gw.family != rt.dst.family) {
                verr(c, at, "ipam.routes[%zu].gw '%s' is not an address of the family of %s",
                     i, gw, dst);
                return -EINVAL;
            }
            rt.has_gw = true;
        }
        *ARRAY_PUSH(nad->routes, nad->nroutes) = rt;
    }
    return 0;
}

/* A list of strings (dns.nameservers, dns.search, dns.options). */
static int parse_strv(struct vctx *c, const struct ynode *at, json_t *arr, const char *where,
                      bool addresses, char ***v, size_t *n)
{
    size_t i;
    json_t *e;
    if (arr && !json_is_array(arr)) {
        verr(c, at, "%s must be a list of strings", where);
        return -EINVAL;
    }
    json_array_foreach(arr, i, e) {
        const char *s = json_string_value(e);
        struct ipaddr ip;
        if (!s || (addresses && (ipaddr_parse(s, -1, &ip) < 0 || strchr(s, '/')))) {
            verr(c, at, "%s[%zu] '%s' is not %s", where, i, s ? s : "?",
                 addresses ? "an IP address" : "a string");
            return -EINVAL;
        }
        *ARRAY_PUSH(*v, *n) = xstrdup(s);
    }
    return 0;
}

/* host-local's resolvConf: a resolv.conf-format file read when the NAD is
 * validated; what `dns` did not set is taken from it. */
static void parse_resolv_conf(struct vctx *c, const struct ynode *at, const char *path,
                              struct ipam_dns *dns)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char line[1024];
    bool ns = dns->nnameservers == 0, search = dns->nsearch == 0, opts = dns->noptions == 0;
    if (!f) {
        vwarn(c, at, "ipam.resolvConf '%s' cannot be read (%s): no DNS recorded from it", path,
              strerror(errno));
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        char *save = NULL, *key = strtok_r(line, " \t\r\n", &save);
        if (!key || key[0] == '#' || key[0] == ';')
            continue;
        for (char *w = strtok_r(NULL, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
            struct ipaddr ip;
            if (streq(key, "nameserver") && ns && ipaddr_parse(w, -1, &ip) == 0)
                *ARRAY_PUSH(dns->nameservers, dns->nnameservers) = xstrdup(w);
            else if (streq(key, "domain") && !dns->domain)
                dns->domain = xstrdup(w);
            else if (streq(key, "search") && search)
                *ARRAY_PUSH(dns->search, dns->nsearch) = xstrdup(w);
            else if (streq(key, "options") && opts)
                *ARRAY_PUSH(dns->options, dns->noptions) = xstrdup(w);
        }
    }
}

static int parse_ipam_dns(struct vctx *c, const struct ynode *at, json_t *ipam, struct nad *nad)
{
    json_t *dns = json_object_get(ipam, "dns");
    if (dns && !json_is_object(dns)) {
        verr(c, at, "ipam.dns must be an object");
        return -EINVAL;
    }
    if (parse_strv(c, at, json_object_get(dns, "nameservers"), "ipam.dns.nameservers", true,
                   &nad->dns.nameservers, &nad->dns.nnameservers) < 0 ||
        parse_strv(c, at, json_object_get(dns, "search"), "ipam.dns.search", false,
                   &nad->dns.search, &nad->dns.nsearch) < 0 ||
        parse_strv(c, at, json_object_get(dns, "options"), "ipam.dns.options", false,
                   &nad->dns.options, &nad->dns.noptions) < 0)
        return -EINVAL;
    const char *domain = json_str(dns, "domain");
    if (domain)
        nad->dns.domain = xstrdup(domain);
    const char *rc = json_str(ipam, "resolvConf");
    if (rc && nad->ipam_type == IPAM_HOST_LOCAL)
        parse_resolv_conf(c, at, rc, &nad->dns);
    return 0;
}

static int parse_ipam_host_local(struct vctx *c, const struct ynode *at, json_t *ipam,
                                 struct nad *nad)
{
    char where[64];
    json_t *ranges = json_object_get(ipam, "ranges");

    /* The legacy top-level subnet is a set of one range, before `ranges`
     * (host-local prepends it the same way). */
    if (json_object_get(ipam, "subnet")) {
        struct ipam_set *set = ARRAY_PUSH(nad->ipam_sets, nad->nipam_sets);
        if (parse_ipam_range(c, at, ipam, "ipam", ARRAY_PUSH(set->ranges, set->nranges)) < 0)
            return -EINVAL;
    }
    if (ranges && (!json_is_array(ranges) || !json_array_size(ranges))) {
        verr(c, at, "ipam.ranges must be a non-empty list of lists of ranges");
        return -EINVAL;
    }
    size_t i, j;
    json_t *js, *jr;
    json_array_foreach(ranges, i, js) {
        if (!json_is_array(js) || !json_array_size(js)) {
            verr(c, at, "ipam.ranges[%zu] must be a non-empty list of ranges", i);
            return -EINVAL;
        }
        struct ipam_set *set = ARRAY_PUSH(nad->ipam_sets, nad->nipam_sets);
        json_array_foreach(js, j, jr) {
            snprintf(where, sizeof(where), "ipam.ranges[%zu][%zu]", i, j);
            struct ipam_range *rg = ARRAY_PUSH(set->ranges, set->nranges);
            if (parse_ipam_range(c, at, jr, where, rg) < 0)
                return -EINVAL;
            if (rg->subnet.family != set->ranges[0].subnet.family) {
                verr(c, at, "ipam.ranges[%zu]: mixed address families in one range set", i);
                return -EINVAL;
            }
        }
    }
    if (!nad->nipam_sets) {
        verr(c, at, "ipam: no IP ranges specified (subnet or ranges)");
        return -EINVAL;
    }
    /* No address may belong to two ranges, in a set or across sets. */
    for (size_t s1 = 0; s1 < nad->nipam_sets; s1++)
        for (size_t r1 = 0; r1 < nad->ipam_sets[s1].nranges; r1++)
            for (size_t s2 = s1; s2 < nad->nipam_sets; s2++)
                for (size_t r2 = s2 == s1 ? r1 + 1 : 0; r2 < nad->ipam_sets[s2].nranges; r2++) {
                    const struct ipam_range *a = &nad->ipam_sets[s1].ranges[r1];
                    const struct ipam_range *b = &nad->ipam_sets[s2].ranges[r2];
                    char x[64], y[64];
                    if (!ipam_ranges_overlap(a, b))
                        continue;
                    verr(c, at, "ipam: ranges %s and %s overlap%s",
                         ipaddr_format(&a->subnet, true, x, sizeof(x)),
                         ipaddr_format(&b->subnet, true, y, sizeof(y)),
                         s1 == s2 ? "" : " (in two range sets)");
                    return -EINVAL;
                }
    return 0;
}

static int parse_ipam_static(struct vctx *c, const struct ynode *at, json_t *ipam,
                             struct nad *nad)
{
    json_t *addrs = json_object_get(ipam, "addresses");
    size_t i;
    json_t *e;
    if (!json_is_array(addrs) || !json_array_size(addrs)) {
        verr(c, at, "ipam.addresses: static IPAM needs a list of addresses");
        return -EINVAL;
    }
    json_array_foreach(addrs, i, e) {
        const char *a = json_str(e, "address"), *gw = json_str(e, "gateway");
        struct ipam_static st = {0};
        if (!a || ipaddr_parse(a, -1, &st.addr) < 0 || !strchr(a, '/')) {
            verr(c, at, "ipam.addresses[%zu].address '%s' is not an address with a prefix "
                 "length (10.10.0.1/24)", i, a ? a : "(missing)");
            return -EINVAL;
        }
        if (gw) {
            if (ipaddr_parse(gw, -1, &st.gateway) < 0 || st.gateway.family != st.addr.family) {
                verr(c, at, "ipam.addresses[%zu].gateway '%s' is not an address of the family "
                     "of %s", i, gw, a);
                return -EINVAL;
            }
            st.has_gateway = true;
        }
        for (size_t k = 0; k < nad->nipam_static; k++)
            if (ipaddr_same_host(&nad->ipam_static[k].addr, &st.addr)) {
                verr(c, at, "ipam.addresses[%zu]: %s is listed twice", i, a);
                return -EINVAL;
            }
        *ARRAY_PUSH(nad->ipam_static, nad->nipam_static) = st;
    }
    return 0;
}

static int parse_ipam(struct vctx *c, const struct ynode *at, json_t *ipam, struct nad *nad)
{
    const char *type = json_str(ipam, "type");
    int r;
    if (!ipam || json_object_size(ipam) == 0) {
        nad->ipam_type = IPAM_NONE;
        return 0;
    }
    if (streq(type, "host-local")) {
        nad->ipam_type = IPAM_HOST_LOCAL;
        r = parse_ipam_host_local(c, at, ipam, nad);
    } else if (streq(type, "static")) {
        nad->ipam_type = IPAM_STATIC;
        r = parse_ipam_static(c, at, ipam, nad);
    } else {
        verr(c, at, "ipam type '%s' is not supported yet (host-local and static are)",
             type ? type : "");
        return -EINVAL;
    }
    if (r >= 0)
        r = parse_ipam_routes(c, at, ipam, nad);
    if (r >= 0)
        r = parse_ipam_dns(c, at, ipam, nad);
    if (r >= 0 && nad->ipam_type == IPAM_HOST_LOCAL) {
        nad->range = nad->ipam_sets[0].ranges[0];
    } else if (r >= 0) {
        const struct ipam_static *st = &nad->ipam_static[0];
        unsigned bits = st->addr.family == AF_INET ? 32 : 128;
        nad->range.subnet = st->addr;
        for (unsigned i = st->addr.prefix; i < bits; i++)
            nad->range.subnet.bytes[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
        nad->range.start = nad->range.end = st->addr;
        nad->range.has_gateway = st->has_gateway;
        nad->range.gateway = st->gateway;
    }
    return r; /* keys plumbd ignores: warned about by the schema */
}

static const char *const macvlan_modes[] = {
    [CNI_MACVLAN_BRIDGE] = "bridge", [CNI_MACVLAN_PRIVATE] = "private", [CNI_MACVLAN_VEPA] = "vepa",
    [CNI_MACVLAN_PASSTHRU] = "passthru",
};

const char *macvlan_mode_to_string(enum cni_macvlan_mode m)
{
    return (size_t)m < ARRAY_SIZE(macvlan_modes) ? macvlan_modes[m] : "?";
}

int macvlan_mode_from_string(const char *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(macvlan_modes); i++)
        if (streq(s, macvlan_modes[i]))
            return (int)i;
    return -EINVAL;
}

/* A boolean key of the plugin config: absent = dflt; a type error is
 * reported (the schema reports it too, with the position). */
static bool conf_bool(struct vctx *c, const struct ynode *at, json_t *conf, const char *key,
                      bool dflt, int *r)
{
    json_t *v = json_object_get(conf, key);
    if (!v)
        return dflt;
    if (!json_is_boolean(v)) {
        verr(c, at, "%s must be true or false", key);
        *r = -EINVAL;
        return dflt;
    }
    return json_is_true(v);
}

/* The bridge plugin's keys beyond bridge/mtu/ipam. */
static int parse_bridge_keys(struct vctx *c, const struct ynode *at, json_t *conf, struct nad *nad)
{
    int r = 0;
    nad->is_default_gateway = conf_bool(c, at, conf, "isDefaultGateway", false, &r);
    nad->is_gateway = conf_bool(c, at, conf, "isGateway", false, &r) || nad->is_default_gateway;
    nad->force_address = conf_bool(c, at, conf, "forceAddress", false, &r);
    nad->ip_masq = conf_bool(c, at, conf, "ipMasq", false, &r);
    nad->hairpin = conf_bool(c, at, conf, "hairpinMode", false, &r);
    nad->promisc = conf_bool(c, at, conf, "promiscMode", false, &r);
    nad->port_isolation = conf_bool(c, at, conf, "portIsolation", false, &r);
    nad->enable_dad = conf_bool(c, at, conf, "enabledad", false, &r);
    nad->disable_container_if = conf_bool(c, at, conf, "disableContainerInterface", false, &r);
    nad->preserve_default_vlan = conf_bool(c, at, conf, "preserveDefaultVlan", true, &r);
    if (r < 0)
        return r;
    /* The plugin refuses these together (a hairpin port on a promiscuous
     * bridge would see its own frames twice). */
    if (nad->hairpin && nad->promisc) {
        verr(c, at, "hairpinMode and promiscMode cannot both be true");
        return -EINVAL;
    }
    json_t *vlan = json_object_get(conf, "vlan");
    if (vlan) {
        if (!json_is_integer(vlan) || json_integer_value(vlan) < 0 ||
            json_integer_value(vlan) > 4094) {
            verr(c, at, "vlan must be an integer between 0 and 4094");
            return -EINVAL;
        }
        nad->vlan = (int)json_integer_value(vlan);
    }
    json_t *trunk = json_object_get(conf, "vlanTrunk");
    if (trunk && !json_is_array(trunk)) {
        verr(c, at, "vlanTrunk must be a list of {\"id\": N} or {\"minID\": N, \"maxID\": M}");
        return -EINVAL;
    }
    size_t i;
    json_t *t;
    json_array_foreach(trunk, i, t) {
        json_t *id = json_object_get(t, "id"), *mn = json_object_get(t, "minID"),
               *mx = json_object_get(t, "maxID");
        struct vlan_range vr;
        long long lo, hi;
        if (id && json_is_integer(id) && !mn && !mx) {
            lo = hi = json_integer_value(id);
        } else if (!id && json_is_integer(mn) && json_is_integer(mx)) {
            lo = json_integer_value(mn);
            hi = json_integer_value(mx);
        } else {
            verr(c, at, "vlanTrunk[%zu] must be {\"id\": N} or {\"minID\": N, \"maxID\": M}", i);
            return -EINVAL;
        }
        if (lo < 1 || hi > 4094 || lo > hi) {
            verr(c, at, "vlanTrunk[%zu]: VLAN ids must be within 1-4094 (min <= max)", i);
            return -EINVAL;
        }
        vr.min = (uint16_t)lo;
        vr.max = (uint16_t)hi;
        *ARRAY_PUSH(nad->trunk, nad->ntrunk) = vr;
    }
    if (nad->vlan && nad->ntrunk) {
        verr(c, at, "vlan and vlanTrunk cannot be used together");
        return -EINVAL;
    }
    return 0;
}

static int parse_macvlan_keys(struct vctx *c, const struct ynode *at, json_t *conf,
                              struct nad *nad)
{
    const char *master = json_str(conf, "master");
    if (json_object_get(conf, "master") && !master) {
        verr(c, at, "master must be a string");
        return -EINVAL;
    }
    if (master) {
        if (!ifname_valid(master)) {
            verr(c, at, "master interface name '%s' is invalid", master);
            return -EINVAL;
        }
        snprintf(nad->master, sizeof(nad->master), "%s", master);
    }
    const char *mode = json_str(conf, "mode");
    nad->macvlan_mode = CNI_MACVLAN_BRIDGE;
    if (mode) {
        int m = macvlan_mode_from_string(mode);
        if (m < 0) {
            verr(c, at, "macvlan mode '%s' is not one of bridge, private, vepa, passthru", mode);
            return -EINVAL;
        }
        nad->macvlan_mode = (enum cni_macvlan_mode)m;
    }
    return 0;
}

/* isGateway/isDefaultGateway against the IPAM result, as the bridge plugin
 * checks it: a default route of the IPAM config must go via the gateway. */
static int check_gateway_keys(struct vctx *c, const struct ynode *at, struct nad *nad)
{
    if (!nad->is_gateway)
        return 0;
    if (nad->ipam_type == IPAM_NONE || !nad->range.has_gateway) {
        vwarn(c, at, "isGateway/isDefaultGateway have no effect without IPAM (no gateway "
                     "address)");
        return 0;
    }
    for (size_t i = 0; nad->is_default_gateway && i < nad->nroutes; i++) {
        const struct route *rt = &nad->routes[i];
        char g[64];
        if (rt->dst.prefix != 0 || rt->dst.family != nad->range.gateway.family || !rt->has_gw ||
            ipaddr_same_host(&rt->gw, &nad->range.gateway))
            continue;
        verr(c, at, "isDefaultGateway ineffective because IPAM sets default route via %s",
             ipaddr_format(&rt->gw, false, g, sizeof(g)));
        return -EINVAL;
    }
    return 0;
}

static int parse_nad_config(struct vctx *c, const struct ynode *at, const char *text,
                            struct nad *nad)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    int r = 0;
    if (!root) {
        verr(c, at, "spec.config is not valid JSON: %s (config line %d, column %d)", jerr.text,
             jerr.line, jerr.column);
        return -EINVAL;
    }
    json_t *conf = root;
    json_t *plugins = json_object_get(root, "plugins");
    if (plugins) {
        conf = json_array_get(plugins, 0);
        if (!json_is_object(conf)) {
            verr(c, at, "spec.config.plugins must be a non-empty list");
            r = -EINVAL;
            goto out;
        }
    }
    if (!json_is_object(conf)) {
        verr(c, at, "spec.config must be a JSON object");
        r = -EINVAL;
        goto out;
    }
    const char *name = json_str(root, "name");
    nad->cni_name = xstrdup(name ? name : nad->obj.name);
    const char *type = json_str(conf, "type");
    nad->cni_type = xstrdup(type ? type : "");
    if (!type) {
        verr(c, at, "spec.config%s.type is required", plugins ? ".plugins[0]" : "");
        r = -EINVAL;
        goto out;
    }
    if (streq(type, "bridge"))
        nad->plugin = NAD_BRIDGE;
    else if (streq(type, "macvlan"))
        nad->plugin = NAD_MACVLAN;
    else {
        /* Valid, but nothing plumbd can run: the NAD (and every pod that
         * uses it) reports Failing/UnsupportedType; `plumbd validate`
         * reports it as an error. */
        nad->plugin = NAD_UNSUPPORTED;
        diags_add(&c->d->diags, DIAG_ERROR, c->doc->file, at->line, at->col, c->id,
                  "CNI type '%s' is not supported (UnsupportedType): plumbd implements bridge "
                  "and macvlan", type);
        goto out;
    }
    /* The rest of a conflist's chain is not run (tuning, portmap, ...). */
    for (size_t i = 1; plugins && i < json_array_size(plugins); i++) {
        const char *pt = json_str(json_array_get(plugins, i), "type");
        vwarn(c, at, "spec.config.plugins[%zu]: plugin '%s' is not run by plumbd; ignored", i,
              pt ? pt : "(no type)");
    }
    if (nad->plugin == NAD_BRIDGE) {
        const char *br = json_str(conf, "bridge");
        if (!br)
            br = "cni0";
        if (!ifname_valid(br)) {
            verr(c, at, "bridge name '%s' is invalid", br);
            r = -EINVAL;
            goto out;
        }
        snprintf(nad->bridge, sizeof(nad->bridge), "%s", br);
        r = parse_bridge_keys(c, at, conf, nad);
    } else
        r = parse_macvlan_keys(c, at, conf, nad);
    if (r < 0)
        goto out;
    json_t *mtu = json_object_get(conf, "mtu");
    if (mtu) {
        if (!json_is_integer(mtu) || json_integer_value(mtu) < 68 ||
            json_integer_value(mtu) > 65535) {
            verr(c, at, "mtu must be an integer between 68 and 65535");
            r = -EINVAL;
            goto out;
        }
        nad->mtu = (int)json_integer_value(mtu);
    }
    if (nad->plugin == NAD_BRIDGE)
        nad->macspoofchk = json_is_true(json_object_get(conf, "macspoofchk"));
    /* Keys plumbd does not act on are warned about by the schema
     * (cni-bridge.yaml). */
    r = parse_ipam(c, at, json_object_get(conf, "ipam"), nad);
    if (r < 0)
        goto out;
    r = check_gateway_keys(c, at, nad);
out:
    json_decref(root);
    return r;
}

static void nad_free(struct nad *n)
{
    free(n->cni_name);
    free(n->cni_type);
    ipam_config_free(n); /* sets, static addresses, dns, routes */
    free(n->trunk);
}

/* ---- Pod annotation ------------------------------------------------------ */

void attachments_free(struct attachment *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].nad_ns);
        free(a[i].nad_name);
        free(a[i].ips);
        free(a[i].default_gw);
        free(a[i].cni_args);
    }
    free(a);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

/* One "ns/name@ifname" element of the short form. */
static int parse_short_element(char *el, const char *pod_ns, struct attachment *ret, char **ret_err)
{
    char *at = strchr(el, '@');
    if (at) {
        *at++ = 0;
        if (!ifname_valid(at)) {
            *ret_err = xasprintf("interface name '%s' is invalid", at);
            return -EINVAL;
        }
        snprintf(ret->ifname, sizeof(ret->ifname), "%s", at);
    }
    char *slash = strchr(el, '/');
    if (slash) {
        *slash++ = 0;
        ret->nad_ns = xstrdup(el);
        ret->nad_name = xstrdup(slash);
    } else {
        ret->nad_ns = xstrdup(pod_ns);
        ret->nad_name = xstrdup(el);
    }
    if (!ret->nad_name[0] || !ret->nad_ns[0] || strchr(ret->nad_name, '/')) {
        *ret_err = xstrdup("network name must be 'name' or 'namespace/name'");
        return -EINVAL;
    }
    return 0;
}

/* The keys of a Multus network selection element. */
static const char *const element_keys[] = {
    "name", "namespace", "interface", "ips", "mac", "default-route", "cni-args",
};
/* Multus keys plumbd has nothing to do with: accepted with a warning. */
static const char *const element_unsupported[] = {
    "bandwidth-request", "portMappings", "infiniband-guid", "ipam-claim-reference",
};

static void ewarn(struct diags *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ewarn(struct diags *w, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;
    if (!w)
        return;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    diags_add(w, DIAG_WARNING, "", 0, 0, NULL, "%s", msg);
}

/* "default-route": a list of gateway addresses, at most one per family. */
static int parse_default_route(json_t *dr, size_t idx, struct attachment *ret, char **ret_err)
{
    if (!json_is_array(dr)) {
        *ret_err = xasprintf("element %zu: default-route must be a list of gateway addresses",
                             idx);
        return -EINVAL;
    }
    size_t i;
    json_t *g;
    json_array_foreach(dr, i, g) {
        const char *s = json_string_value(g);
        struct ipaddr a;
        if (!s || strchr(s, '/') || ipaddr_parse(s, -1, &a) < 0) {
            *ret_err = xasprintf("element %zu: default-route[%zu] '%s' is not a gateway IP "
                                 "address", idx, i, s ? s : "?");
            return -EINVAL;
        }
        static const uint8_t zero[16];
        bool multicast = a.family == AF_INET ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
        if (multicast || !memcmp(a.bytes, zero, a.family == AF_INET ? 4 : 16) ||
            (a.family == AF_INET && !memcmp(a.bytes, "\xff\xff\xff\xff", 4))) {
            *ret_err = xasprintf("element %zu: default-route gateway %s is not a unicast "
                                 "address", idx, s);
            return -EINVAL;
        }
        for (size_t k = 0; k < ret->ndefault_gw; k++)
            if (ret->default_gw[k].family == a.family) {
                char b[64];
                *ret_err = xasprintf("element %zu: default-route has two %s gateways (%s and "
                                     "%s); at most one per family", idx,
                                     a.family == AF_INET ? "IPv4" : "IPv6",
                                     ipaddr_format(&ret->default_gw[k], false, b, sizeof(b)), s);
                return -EINVAL;
            }
        *ARRAY_PUSH(ret->default_gw, ret->ndefault_gw) = a;
    }
    /* Requested addresses name the subnets: a gateway of a family the
     * element asks no address of can never be reached. */
    for (size_t k = 0; k < ret->ndefault_gw && ret->nips; k++) {
        bool fam = false;
        for (size_t j = 0; j < ret->nips && !fam; j++)
            fam = ret->ips[j].family == ret->default_gw[k].family;
        if (!fam) {
            char b[64];
            *ret_err = xasprintf("element %zu: default-route gateway %s is %s but ips has no "
                                 "%s address", idx,
                                 ipaddr_format(&ret->default_gw[k], false, b, sizeof(b)),
                                 ret->default_gw[k].family == AF_INET ? "IPv4" : "IPv6",
                                 ret->default_gw[k].family == AF_INET ? "IPv4" : "IPv6");
            return -EINVAL;
        }
    }
    return 0;
}

static int parse_json_element(json_t *o, size_t idx, const char *pod_ns, struct attachment *ret,
                              struct diags *warnings, char **ret_err)
{
    if (!json_is_object(o)) {
        *ret_err = xasprintf("element %zu is not an object", idx);
        return -EINVAL;
    }
    const char *name = json_str(o, "name");
    if (!name || !name[0]) {
        *ret_err = xasprintf("element %zu has no \"name\"", idx);
        return -EINVAL;
    }
    const char *ns = json_str(o, "namespace");
    ret->nad_ns = xstrdup(ns && ns[0] ? ns : pod_ns);
    ret->nad_name = xstrdup(name);
    const char *ifn = json_str(o, "interface");
    if (ifn) {
        if (!ifname_valid(ifn)) {
            *ret_err = xasprintf("element %zu: interface name '%s' is invalid (1-15 bytes, no "
                                 "'/' or whitespace)", idx, ifn);
            return -EINVAL;
        }
        snprintf(ret->ifname, sizeof(ret->ifname), "%s", ifn);
    }
    const char *mac = json_str(o, "mac");
    if (json_object_get(o, "mac")) {
        if (!mac || mac_parse(mac, ret->mac) < 0) {
            *ret_err = xasprintf("element %zu: mac '%s' is not a MAC address", idx,
                                 mac ? mac : "?");
            return -EINVAL;
        }
        if (ret->mac[0] & 1) {
            *ret_err = xasprintf("element %zu: mac %s is a multicast address", idx, mac);
            return -EINVAL;
        }
        ret->has_mac = true;
    }
    json_t *ips = json_object_get(o, "ips");
    if (ips && !json_is_array(ips)) {
        *ret_err = xasprintf("element %zu: ips must be a list", idx);
        return -EINVAL;
    }
    size_t i;
    json_t *ip;
    json_array_foreach(ips, i, ip) {
        const char *s = json_string_value(ip);
        struct ipaddr a;
        if (!s || ipaddr_parse(s, -1, &a) < 0) {
            *ret_err = xasprintf("element %zu: ips[%zu] '%s' is not an IP address", idx, i,
                                 s ? s : "?");
            return -EINVAL;
        }
        if (!strchr(s, '/'))
            a.prefix = 0; /* bare address: the range's prefix is used */
        *ARRAY_PUSH(ret->ips, ret->nips) = a;
    }
    json_t *dr = json_object_get(o, "default-route");
    if (dr && parse_default_route(dr, idx, ret, ret_err) < 0)
        return -EINVAL;
    json_t *ca = json_object_get(o, "cni-args");
    if (ca) {
        if (!json_is_object(ca)) {
            *ret_err = xasprintf("element %zu: cni-args must be an object", idx);
            return -EINVAL;
        }
        ret->cni_args = json_dumps(ca, JSON_COMPACT | JSON_SORT_KEYS);
        ewarn(warnings, "element %zu (%s): cni-args recorded but not used: plumbd runs no CNI "
              "plugin chain to pass them to", idx, name);
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        bool known = false;
        for (size_t k = 0; k < ARRAY_SIZE(element_keys) && !known; k++)
            known = streq(key, element_keys[k]);
        if (known)
            continue;
        for (size_t k = 0; k < ARRAY_SIZE(element_unsupported) && !known; k++)
            known = streq(key, element_unsupported[k]);
        if (known)
            ewarn(warnings, "element %zu (%s): \"%s\" is not supported by plumbd; ignored", idx,
                  name, key);
        else
            ewarn(warnings, "element %zu (%s): unknown key \"%s\" ignored", idx, name, key);
    }
    return 0;
}

int annotation_parse(const char *text, const char *pod_ns, struct attachment **ret_att,
                     size_t *ret_n, char **ret_err)
{
    return annotation_parse_warn(text, pod_ns, ret_att, ret_n, NULL, ret_err);
}

int annotation_parse_warn(const char *text, const char *pod_ns, struct attachment **ret_att,
                          size_t *ret_n, struct diags *warnings, char **ret_err)
{
    struct attachment *v = NULL;
    size_t n = 0;
    int r = 0;
    *ret_err = NULL;
    _cleanup_free_ char *copy = xstrdup(text);
    char *t = trim(copy);

    if (t[0] == '[') {
        json_error_t jerr;
        json_t *root = json_loads(t, 0, &jerr);
        if (!root || !json_is_array(root)) {
            *ret_err = root ? xstrdup("must be a JSON list")
                            : xasprintf("invalid JSON: %s (column %d)", jerr.text, jerr.column);
            json_decref(root);
            return -EINVAL;
        }
        size_t i;
        json_t *o;
        json_array_foreach(root, i, o) {
            r = parse_json_element(o, i, pod_ns, ARRAY_PUSH(v, n), warnings, ret_err);
            if (r < 0)
                break;
        }
        json_decref(root);
    } else if (t[0]) {
        char *save = NULL;
        for (char *el = strtok_r(t, ",", &save); el; el = strtok_r(NULL, ",", &save)) {
            el = trim(el);
            if (!el[0])
                continue;
            r = parse_short_element(el, pod_ns, ARRAY_PUSH(v, n), ret_err);
            if (r < 0)
                break;
        }
    }
    /* Names as Multus picks them: requested wins, else net<position>. */
    if (r >= 0 && n > 1000) {
        *ret_err = xasprintf("%zu networks requested; at most 1000 per pod", n);
        r = -EINVAL;
    }
    for (size_t i = 0; r >= 0 && i < n; i++) {
        if (!v[i].ifname[0])
            snprintf(v[i].ifname, sizeof(v[i].ifname), "net%u", (unsigned)((i + 1) % 100000u));
        for (size_t j = 0; j < i; j++)
            if (streq(v[i].ifname, v[j].ifname) && r >= 0) {
                *ret_err = xasprintf("interface %s is requested twice", v[i].ifname);
                r = -EINVAL;
            }
        /* Multus: one element carries the pod's default route. */
        for (size_t j = 0; j < i && v[i].ndefault_gw; j++)
            if (v[j].ndefault_gw && r >= 0) {
                *ret_err = xasprintf("default-route is set on %s/%s (%s) and %s/%s (%s); at most "
                                     "one network of a pod may carry the default route",
                                     v[j].nad_ns, v[j].nad_name, v[j].ifname, v[i].nad_ns,
                                     v[i].nad_name, v[i].ifname);
                r = -EINVAL;
            }
    }
    if (r < 0) {
        attachments_free(v, n);
        return r;
    }
    /* kept with the pod for as long as it is desired (the memo of
     * validated pods): a pod's one network does not hold room for four */
    array_fit(&v, n, sizeof(*v));
    *ret_att = v;
    *ret_n = n;
    return 0;
}

/* Pod namespaces are confined: a name under /run/netns (also written as
 * /run/netns/NAME or /var/run/netns/NAME) or a process's /proc/PID/ns/net.
 * Anything else could point plumbd at files that are not namespaces. */
static bool netns_name_ok(const char *n)
{
    return n[0] && !strchr(n, '/') && !streq(n, ".") && !streq(n, "..") && strlen(n) < 256;
}

static bool netns_path_allowed(const char *p)
{
    if (p[0] != '/')
        return netns_name_ok(p);
    if (strncmp(p, "/run/netns/", 11) == 0)
        return netns_name_ok(p + 11);
    if (strncmp(p, "/var/run/netns/", 15) == 0)
        return netns_name_ok(p + 15);
    if (strncmp(p, "/proc/", 6) == 0) {
        size_t digits = strspn(p + 6, "0123456789");
        return digits > 0 && digits < 11 && streq(p + 6 + digits, "/ns/net");
    }
    return false;
}

/* ---- documents --------------------------------------------------------- */

static void object_init(struct vctx *c, struct object *o, enum obj_kind kind, const char *ns,
                        const char *name)
{
    o->kind = kind;
    o->ns = xstrdup(ns ? ns : "");
    o->name = xstrdup(name);
    o->file = xstrdup(c->doc->file);
    o->line = c->doc->line;
    o->col = c->doc->col;
    memcpy(o->rev, c->doc->rev, sizeof(o->rev));
    o->prune = true;
}

static void object_free(struct object *o)
{
    free(o->ns);
    free(o->name);
    free(o->file);
    diags_clear(&o->warnings);
}

/* The object already defined with this identity, or NULL. */
/* Objects validated so far, by id: duplicates are found by hash, not by
 * scanning every object for every document. val = array << 32 | index. */
struct seen {
    struct strmap map;
    char **ids;
    size_t n;
};
enum { SEEN_POLICY, SEEN_NAD, SEEN_POD, SEEN_NODE, SEEN_INVALID };

static struct object *seen_object(struct desired *d, size_t val)
{
    size_t i = val & 0xffffffffu;
    switch (val >> 32) {
    case SEEN_POLICY:
        return &d->policies[i].obj;
    case SEEN_NAD:
        return &d->nads[i].obj;
    case SEEN_POD:
        return &d->pods[i].obj;
    case SEEN_NODE:
        return &d->nodes[i].obj;
    default:
        return &d->invalid[i];
    }
}

static struct object *object_find(struct desired *d, const struct seen *seen, const char *id)
{
    size_t val;
    return strmap_get(&seen->map, id, &val) ? seen_object(d, val) : NULL;
}

static void seen_add(struct seen *seen, const struct object *o, size_t val)
{
    char buf[256];
    char *id = xstrdup(object_id(o, buf, sizeof(buf)));
    *ARRAY_PUSH(seen->ids, seen->n) = id;
    if (!strmap_get(&seen->map, id, NULL)) /* the first definition is the one */
        strmap_put(&seen->map, id, val);
}

static const struct ynode *annotation(const struct ynode *root, const char *key)
{
    return ynode_get(ynode_path(root, "metadata.annotations"), key);
}

static void pod_copy(struct pod *dst, const struct pod *src);

static void validate_one(struct desired *d, const struct seen *seen, const struct doc *doc)
{
    struct vctx c = {.d = d, .doc = doc};
    const struct ynode *root = doc->root;

    if (!root || root->kind != YNODE_MAP) {
        verr(&c, root, "document is not a map");
        return;
    }
    const char *kind = ynode_str(ynode_get(root, "kind"));
    const char *api = ynode_str(ynode_get(root, "apiVersion"));
    const char *name = ynode_str(ynode_path(root, "metadata.name"));
    const char *ns = ynode_str(ynode_path(root, "metadata.namespace"));
    bool bare = !kind && (ynode_get(root, "interfaces") || ynode_get(root, "routes") ||
                          ynode_get(root, "dns-resolver"));
    int k;
    _cleanup_free_ char *bare_name = NULL;

    if (bare) {
        /* A bare nmstate state file: a policy for every node, named after
         * the file (and the document index when there are several). */
        const char *base = strrchr(doc->file, '/');
        base = base ? base + 1 : doc->file;
        bare_name = doc->index ? xasprintf("%s#%u", base, doc->index) : xstrdup(base);
        name = bare_name;
        k = OBJ_POLICY;
    } else {
        if (!kind) {
            verr(&c, root, "kind is missing");
            return;
        }
        k = obj_kind_from_string(kind);
        if (k < 0) {
            /* Kubernetes objects that live beside plumbd's files in a config
             * repository (the DaemonSet that runs plumbd, its ConfigMap)
             * are not errors, only not ours. */
            static const char *const k8s[] = {
                "Namespace", "ConfigMap", "Secret", "Service", "ServiceAccount", "DaemonSet",
                "Deployment", "StatefulSet", "Job", "CronJob", "Role", "RoleBinding",
                "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "NMState",
                "NodeNetworkState", "NodeNetworkConfigurationEnactment", NULL};
            for (const char *const *q = k8s; *q; q++)
                if (streq(kind, *q) && api) {
                    vwarn(&c, ynode_get(root, "kind"),
                          "%s (%s) is not a kind plumbd manages; ignored", kind, api);
                    return;
                }
            verr(&c, ynode_get(root, "kind"), "unknown kind '%s'", kind);
            return;
        }
        static const char *const apis[_OBJ_KIND_MAX][3] = {
            [OBJ_POLICY] = {"nmstate.io/v1", "nmstate.io/v1beta1", NULL},
            [OBJ_NAD] = {"k8s.cni.cncf.io/v1", NULL},
            [OBJ_POD] = {"v1", NULL},
            [OBJ_NODE] = {"v1", NULL},
        };
        bool api_ok = false;
        for (size_t i = 0; apis[k][i] && !api_ok; i++)
            api_ok = streq(api, apis[k][i]);
        if (!name || !name[0]) {
            verr(&c, root, "%s: metadata.name is required", kind);
            return;
        }
        if (!api_ok) {
            snprintf(c.id, sizeof(c.id), "%s/%s", kind, name);
            verr(&c, ynode_get(root, "apiVersion") ?: root, "apiVersion '%s' is not supported for %s",
                 api ? api : "(missing)", kind);
            return;
        }
    }
    if (k == OBJ_NAD || k == OBJ_POD)
        ns = ns && ns[0] ? ns : "default";
    else
        ns = "";

    struct object probe = {.kind = k, .ns = (char *)ns, .name = (char *)name};
    object_id(&probe, c.id, sizeof(c.id));
    struct object *first = object_find(d, seen, c.id);
    if (first && first->kind == OBJ_POD) {
        /* about to be given a warning: a borrowed pod becomes its own */
        struct pod *fp = (struct pod *)((char *)first - offsetof(struct pod, obj));
        if (fp->borrowed) {
            struct pod own;
            pod_copy(&own, fp);
            *fp = own;
        }
    }
    if (first) {
        /* Reported on both: an error here, a warning on the one in use. */
        verr(&c, root, "duplicate object %s: the first definition (%s:%u:%u) is used", c.id,
             first->file, first->line, first->col);
        diags_add(&first->warnings, DIAG_WARNING, doc->file, root->line, root->col, NULL,
                  "%s is defined again in %s:%u:%u; this definition is used", c.id, doc->file,
                  root->line, root->col);
        diags_add(&d->diags, DIAG_WARNING, first->file, first->line, first->col, c.id,
                  "defined again in %s:%u:%u; this definition is used", doc->file, root->line,
                  root->col);
        return;
    }

    /* Structure first: a document that does not match its schema is not
     * interpreted any further (its meaning could be anything). */
    struct object whole = {0};
    object_init(&c, &whole, k, ns, name);
    c.warnings = &whole.warnings;
    int r = schema_check(&c, bare ? "nmstate.yaml" : kind_schema[k], doc);
    if (r < 0)
        verr(&c, root, "internal error: no schema for %s", bare ? "nmstate" : kind);
    if (c.errors) {
        *ARRAY_PUSH(d->invalid, d->ninvalid) = whole;
        return;
    }

    const struct ynode *prune = annotation(root, ANNOT_PRUNE);
    bool prune_v = true;
    if (prune && (!prune->scalar || !(streq(prune->scalar, "false") || streq(prune->scalar, "true"))))
        verr(&c, prune, "annotation %s must be \"true\" or \"false\"", ANNOT_PRUNE);
    else if (prune)
        prune_v = streq(prune->scalar, "true");

    switch ((enum obj_kind)k) {
    case OBJ_POLICY: {
        struct policy p = {0};
        p.obj = whole; /* takes the schema warnings */
        c.warnings = &p.obj.warnings;
        p.obj.prune = prune_v;
        const struct ynode *pr = annotation(root, "plumbd/probe");
        if (pr && pr->scalar) {
            struct probe *pv = NULL;
            size_t npv = 0;
            _cleanup_free_ char *err = NULL;
            if (probe_parse(pr->scalar, &pv, &npv, &err) < 0)
                verr(&c, pr, "annotation plumbd/probe: %s", err);
            else
                p.probe = xstrdup(pr->scalar);
            free(pv);
        }
        if (bare) {
            parse_desired_state(&c, root, &p);
        } else {
            const struct ynode *spec = ynode_get(root, "spec");
            p.selector = parse_labels(&c, ynode_get(spec, "nodeSelector"), "spec.nodeSelector",
                                      &p.nselector);
            parse_desired_state(&c, ynode_get(spec, "desiredState"), &p);
        }
        if (!c.errors) /* after every warning: unimplemented keys are left out */
            p.state = verify_desired_json(bare ? root : ynode_path(root, "spec.desiredState"),
                                          &p.obj.warnings);
        if (c.errors) {
            *ARRAY_PUSH(d->invalid, d->ninvalid) = p.obj;
            policy_free(&p);
        } else
            *ARRAY_PUSH(d->policies, d->npolicies) = p;
        return;
    }
    case OBJ_NAD: {
        struct nad n = {0};
        n.obj = whole; /* takes the schema warnings */
        c.warnings = &n.obj.warnings;
        n.obj.prune = prune_v;
        const struct ynode *cfg = ynode_path(root, "spec.config");
        if (!cfg || cfg->kind != YNODE_SCALAR)
            verr(&c, cfg ? cfg : root, "spec.config must be a string holding the CNI config");
        else
            parse_nad_config(&c, cfg, cfg->scalar, &n);
        if (c.errors) {
            *ARRAY_PUSH(d->invalid, d->ninvalid) = n.obj;
            nad_free(&n);
        } else
            *ARRAY_PUSH(d->nads, d->nnads) = n;
        return;
    }
    case OBJ_POD: {
        struct pod p = {0};
        p.obj = whole; /* takes the schema warnings */
        c.warnings = &p.obj.warnings;
        p.obj.prune = prune_v;
        const struct ynode *nn = annotation(root, ANNOT_NETNS);
        const char *netns = ynode_str(nn);
        if (netns && !netns_path_allowed(netns))
            verr(&c, nn,
                 "annotation %s must be a name under /run/netns, /run/netns/NAME or "
                 "/proc/PID/ns/net, not '%s'",
                 ANNOT_NETNS, netns);
        else if (netns && netns[0] == '/')
            p.netns = xstrdup(netns);
        else
            p.netns = xasprintf("/run/netns/%s", netns ? netns : name);
        const struct ynode *an = annotation(root, ANNOT_NETWORKS);
        if (an) {
            _cleanup_free_ char *err = NULL;
            if (an->kind != YNODE_SCALAR)
                verr(&c, an, "annotation %s must be a string", ANNOT_NETWORKS);
            else {
                struct diags w = {0};
                if (annotation_parse_warn(an->scalar, ns, &p.att, &p.natt, &w, &err) < 0)
                    verr(&c, an, "annotation %s: %s", ANNOT_NETWORKS, err);
                else
                    for (size_t i = 0; i < w.n; i++)
                        vwarn(&c, an, "annotation %s: %s", ANNOT_NETWORKS, w.v[i].msg);
                diags_clear(&w);
            }
        }
        if (c.errors) {
            *ARRAY_PUSH(d->invalid, d->ninvalid) = p.obj;
            free(p.netns);
            attachments_free(p.att, p.natt);
        } else
            *ARRAY_PUSH(d->pods, d->npods) = p;
        return;
    }
    case OBJ_NODE: {
        struct node n = {0};
        n.obj = whole; /* takes the schema warnings */
        c.warnings = &n.obj.warnings;
        n.labels = parse_labels(&c, ynode_path(root, "metadata.labels"), "metadata.labels",
                                &n.nlabels);
        if (c.errors) {
            *ARRAY_PUSH(d->invalid, d->ninvalid) = n.obj;
            labels_free(n.labels, n.nlabels);
        } else
            *ARRAY_PUSH(d->nodes, d->nnodes) = n;
        return;
    }
    case _OBJ_KIND_MAX:
        break;
    }
}

/* ---- the memo of validated pods (model.h) ------------------------------- */

struct vmemo_ent {
    char *key;          /* the root's address in hex (the map borrows it) */
    struct ynode *root; /* one reference held */
    char *file;
    unsigned index, line, col;
    char rev[17];
    char *id;
    struct pod pod;       /* as validated */
    struct diags diags;   /* what validating it added to desired.diags */
    unsigned gen;         /* the last validate_docs_memo that used it */
};

struct validate_memo {
    struct vmemo_ent *v;
    size_t n;
    struct strmap by_root; /* the root's address in hex -> index in v */
    unsigned gen;
    size_t hits;
};

struct validate_memo *validate_memo_new(void)
{
    return xcalloc(1, sizeof(struct validate_memo));
}

size_t validate_memo_hits(const struct validate_memo *m)
{
    return m ? m->hits : 0;
}

static struct ipaddr *ipaddrs_dup(const struct ipaddr *v, size_t n)
{
    if (!n)
        return NULL;
    struct ipaddr *r = xmalloc(n * sizeof(*r));
    memcpy(r, v, n * sizeof(*r));
    return r;
}

static void pod_copy(struct pod *dst, const struct pod *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->obj = src->obj; /* scalars, rev, fail_reason (static) */
    dst->obj.ns = xstrdup(src->obj.ns);
    dst->obj.name = xstrdup(src->obj.name);
    dst->obj.file = xstrdup(src->obj.file);
    memset(&dst->obj.warnings, 0, sizeof(dst->obj.warnings));
    diags_append(&dst->obj.warnings, &src->obj.warnings);
    dst->netns = src->netns ? xstrdup(src->netns) : NULL;
    dst->natt = src->natt;
    dst->att = src->natt ? xcalloc(src->natt, sizeof(*dst->att)) : NULL;
    for (size_t i = 0; i < src->natt; i++) {
        const struct attachment *a = &src->att[i];
        struct attachment *b = &dst->att[i];
        *b = *a;
        b->nad_ns = a->nad_ns ? xstrdup(a->nad_ns) : NULL;
        b->nad_name = a->nad_name ? xstrdup(a->nad_name) : NULL;
        b->ips = ipaddrs_dup(a->ips, a->nips);
        b->default_gw = ipaddrs_dup(a->default_gw, a->ndefault_gw);
        b->cni_args = a->cni_args ? xstrdup(a->cni_args) : NULL;
    }
}

static void pod_free(struct pod *p)
{
    object_free(&p->obj);
    free(p->netns);
    attachments_free(p->att, p->natt);
}

static void vmemo_ent_free(struct vmemo_ent *e)
{
    free(e->key);
    ynode_free(e->root); /* the reference */
    free(e->file);
    free(e->id);
    pod_free(&e->pod);
    diags_clear(&e->diags);
}

void validate_memo_free(struct validate_memo *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        vmemo_ent_free(&m->v[i]);
    free(m->v);
    strmap_free(&m->by_root);
    free(m);
}

static void root_key(const struct ynode *root, char ret[17])
{
    hash64_hex((uint64_t)(uintptr_t)root, ret);
}

static struct vmemo_ent *vmemo_find(struct validate_memo *m, const struct doc *doc)
{
    char key[17];
    size_t i;
    if (!doc->root)
        return NULL;
    root_key(doc->root, key);
    if (!strmap_get(&m->by_root, key, &i))
        return NULL;
    struct vmemo_ent *e = &m->v[i];
    if (e->root != doc->root || e->index != doc->index || e->line != doc->line ||
        e->col != doc->col || memcmp(e->rev, doc->rev, sizeof(e->rev)) != 0 ||
        !streq(e->file, doc->file))
        return NULL;
    return e;
}

/* The document just validated into d: one pod (at pod index k, taken
 * over, d's becomes a borrowed view) and the diagnostics from index ndiags
 * on. */
static void vmemo_put(struct validate_memo *m, const struct doc *doc, struct desired *d,
                      size_t k, size_t ndiags)
{
    char key[17], id[256];
    size_t i;
    root_key(doc->root, key);
    char *kept;
    if (strmap_get(&m->by_root, key, &i)) { /* a stale entry for this address */
        if (m->v[i].gen == m->gen)
            return; /* in use by this call (two documents of one tree) */
        kept = m->v[i].key;
        m->v[i].key = NULL;
        vmemo_ent_free(&m->v[i]);
    } else {
        i = m->n;
        ARRAY_PUSH(m->v, m->n);
        kept = xstrdup(key);
        strmap_put(&m->by_root, kept, i);
    }
    struct vmemo_ent *e = &m->v[i];
    memset(e, 0, sizeof(*e));
    e->key = kept;
    e->root = doc->root;
    e->root->refs++;
    e->file = xstrdup(doc->file);
    e->index = doc->index;
    e->line = doc->line;
    e->col = doc->col;
    memcpy(e->rev, doc->rev, sizeof(e->rev));
    /* the memo takes the pod; the model borrows it back */
    e->pod = d->pods[k];
    d->pods[k].borrowed = true;
    e->id = xstrdup(object_id(&e->pod.obj, id, sizeof(id)));
    struct diags added = {.v = d->diags.v + ndiags, .n = d->diags.n - ndiags};
    diags_append(&e->diags, &added);
    e->gen = m->gen;
}

/* Entries no document of this call used go (with their references). */
static void vmemo_sweep(struct validate_memo *m)
{
    size_t j = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].gen != m->gen) {
            vmemo_ent_free(&m->v[i]);
            continue;
        }
        m->v[j++] = m->v[i];
    }
    if (j == m->n)
        return; /* nothing went: the map is current */
    m->n = j;
    strmap_free(&m->by_root);
    for (size_t i = 0; i < m->n; i++)
        strmap_put(&m->by_root, m->v[i].key, i);
}

static void validate_docs_with(const struct docset *docs, struct desired *ret,
                               struct validate_memo *m)
{
    struct seen seen = {0};
    if (m) {
        m->gen++;
        m->hits = 0;
    }
    for (size_t i = 0; i < docs->n; i++) {
        const struct doc *doc = &docs->v[i];
        size_t n[] = {ret->npolicies, ret->nnads, ret->npods, ret->nnodes, ret->ninvalid};
        size_t ndiags = ret->diags.n;
        struct vmemo_ent *e = m ? vmemo_find(m, doc) : NULL;
        /* a duplicate is reported, never copied */
        if (e && !strmap_get(&seen.map, e->id, NULL)) {
            struct pod *p = ARRAY_PUSH(ret->pods, ret->npods);
            *p = e->pod;
            p->borrowed = true;
            diags_append(&ret->diags, &e->diags);
            e->gen = m->gen;
            m->hits++;
        } else {
            validate_one(ret, &seen, doc);
            if (m && doc->root && ret->npods == n[2] + 1 && ret->npolicies == n[0] &&
                ret->nnads == n[1] && ret->nnodes == n[3] && ret->ninvalid == n[4])
                vmemo_put(m, doc, ret, n[2], ndiags);
        }
        size_t now[] = {ret->npolicies, ret->nnads, ret->npods, ret->nnodes, ret->ninvalid};
        for (size_t a = 0; a < ARRAY_SIZE(n); a++)
            for (size_t k = n[a]; k < now[a]; k++) {
                size_t val = (size_t)a << 32 | k;
                seen_add(&seen, seen_object(ret, val), val);
            }
    }
    strmap_free(&seen.map);
    for (size_t i = 0; i < seen.n; i++)
        free(seen.ids[i]);
    free(seen.ids);
    if (m)
        vmemo_sweep(m);
}

void validate_docs(const struct docset *docs, struct desired *ret)
{
    validate_docs_with(docs, ret, NULL);
}

static bool ipaddrs_same(const struct ipaddr *a, const struct ipaddr *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].family != b[i].family || !ipaddr_equal(&a[i], &b[i]))
            return false;
    return true;
}

static bool attachment_same(const struct attachment *a, const struct attachment *b)
{
    return streq_ptr(a->nad_ns, b->nad_ns) && streq_ptr(a->nad_name, b->nad_name) &&
           streq(a->ifname, b->ifname) && a->has_mac == b->has_mac &&
           memcmp(a->mac, b->mac, sizeof(a->mac)) == 0 && a->nips == b->nips &&
           ipaddrs_same(a->ips, b->ips, a->nips) && a->ndefault_gw == b->ndefault_gw &&
           ipaddrs_same(a->default_gw, b->default_gw, a->ndefault_gw) &&
           streq_ptr(a->cni_args, b->cni_args);
}

static bool diags_same(const struct diags *a, const struct diags *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].severity != b->v[i].severity || !streq_ptr(a->v[i].file, b->v[i].file) ||
            a->v[i].line != b->v[i].line || a->v[i].col != b->v[i].col ||
            !streq_ptr(a->v[i].object, b->v[i].object) || !streq(a->v[i].msg, b->v[i].msg))
            return false;
    return true;
}

static bool pod_same(const struct pod *a, const struct pod *b)
{
    const struct object *x = &a->obj, *y = &b->obj;
    if (x->kind != y->kind || !streq(x->ns, y->ns) || !streq(x->name, y->name) ||
        !streq(x->file, y->file) || x->line != y->line || x->col != y->col ||
        memcmp(x->rev, y->rev, sizeof(x->rev)) != 0 || x->prune != y->prune ||
        x->fail_reason != y->fail_reason || !diags_same(&x->warnings, &y->warnings) ||
        !streq_ptr(a->netns, b->netns) || a->natt != b->natt)
        return false;
    for (size_t i = 0; i < a->natt; i++)
        if (!attachment_same(&a->att[i], &b->att[i]))
            return false;
    return true;
}

void validate_docs_memo(const struct docset *docs, struct desired *ret, struct validate_memo *m)
{
    validate_docs_with(docs, ret, m);
    /* PLUMBD_MEMO_CHECK=1 (the tests): validated again without the memo;
     * any difference in the pods or the diagnostics aborts. */
    if (!m || !env_flag("PLUMBD_MEMO_CHECK"))
        return;
    struct desired full = {0};
    validate_docs_with(docs, &full, NULL);
    bool same = full.npods == ret->npods && full.npolicies == ret->npolicies &&
                full.nnads == ret->nnads && full.nnodes == ret->nnodes &&
                full.ninvalid == ret->ninvalid && diags_same(&full.diags, &ret->diags);
    for (size_t i = 0; same && i < full.npods; i++)
        same = pod_same(&full.pods[i], &ret->pods[i]);
    desired_free(&full);
    if (!same) {
        fprintf(stderr, "validate memo: the pods or diagnostics differ from a full validation\n");
        abort();
    }
}

void desired_free(struct desired *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->npolicies; i++) {
        object_free(&d->policies[i].obj);
        policy_free(&d->policies[i]);
    }
    for (size_t i = 0; i < d->nnads; i++) {
        object_free(&d->nads[i].obj);
        nad_free(&d->nads[i]);
    }
    for (size_t i = 0; i < d->npods; i++)
        if (!d->pods[i].borrowed)
            pod_free(&d->pods[i]);
    for (size_t i = 0; i < d->nnodes; i++) {
        object_free(&d->nodes[i].obj);
        labels_free(d->nodes[i].labels, d->nodes[i].nlabels);
    }
    for (size_t i = 0; i < d->ninvalid; i++)
        object_free(&d->invalid[i]);
    free(d->policies);
    free(d->nads);
    free(d->pods);
    free(d->nodes);
    free(d->invalid);
    diags_clear(&d->diags);
    memset(d, 0, sizeof(*d));
}
