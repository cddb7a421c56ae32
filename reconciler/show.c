/* show.c - `plumbd show`: the node's live state in nmstate's schema.
 *
 * The state is built once as a JSON tree (jansson) and printed either as
 * JSON or as block YAML, so both outputs always agree. Feeding the YAML
 * back as a desired-state file plans zero operations: every interface is
 * shown with the type the validator accepts for an existing device, its
 * state, MAC, MTU, description, controller, accept-all-mac-addresses,
 * addresses, for bridges STP and ports, and the type block of iftypes.c
 * (veth peer, vxlan, mac-vlan, vlan, link-aggregation). */
#include <arpa/inet.h>
#include <jansson.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "iftypes_impl.h"
#include "plan.h"
#include "show.h"

static const struct show_lease *show_leases;
static size_t show_nleases;

void show_set_leases(const struct show_lease *v, size_t n)
{
    show_leases = v;
    show_nleases = n;
}

static const struct show_lease *lease_on(const struct live_ns *l, const struct live_link *k,
                                         int family)
{
    for (size_t i = 0; family == AF_INET && i < show_nleases; i++)
        if (streq(show_leases[i].ifname, k->name) &&
            live_has_addr(l, k->ifindex, &show_leases[i].addr))
            return &show_leases[i];
    return NULL;
}

static int read_sysctl(const char *ifname, const char *key)
{
    _cleanup_free_ char *path = xasprintf("/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    int v;
    return f && fscanf(f, "%d", &v) == 1 ? v : -1;
}

static bool ipv6_autoconf_on(const char *ifname)
{
    return read_sysctl(ifname, "accept_ra") == 2 && read_sysctl(ifname, "autoconf") == 1;
}

static json_t *ip_block(const struct live_ns *l, const struct live_link *k, int family)
{
    json_t *addrs = json_array();
    const struct show_lease *lease = lease_on(l, k, family);
    for (size_t i = 0; i < l->naddrs; i++) {
        const struct live_addr *a = &l->addrs[i];
        char buf[64];
        if (a->ifindex != k->ifindex || a->addr.family != family)
            continue;
        if (lease && ipaddr_equal(&lease->addr, &a->addr))
            continue; /* dynamic: shown as dhcp: true */
        if (family == AF_INET6 && !(a->flags & IFA_F_PERMANENT))
            continue; /* the kernel's own (SLAAC, temporary): not a static address */
        json_array_append_new(addrs, json_pack("{s:s, s:i}", "ip",
                                               ipaddr_format(&a->addr, false, buf, sizeof(buf)),
                                               "prefix-length", a->addr.prefix));
    }
    if (lease) {
        json_t *o = json_pack("{s:b, s:b}", "enabled", 1, "dhcp", 1);
        if (json_array_size(addrs))
            json_object_set_new(o, "address", addrs);
        else
            json_decref(addrs);
        return o;
    }
    /* ipv6.autoconf as plumbd sets it (accept_ra=2, autoconf=1); the
     * kernel's defaults (1, 1) are not shown, so a fed-back show does not
     * take over every interface's router advertisements. */
    if (family == AF_INET6 && ipv6_autoconf_on(k->name)) {
        json_t *o = json_pack("{s:b, s:b}", "enabled", 1, "autoconf", 1);
        if (json_array_size(addrs))
            json_object_set_new(o, "address", addrs);
        else
            json_decref(addrs);
        return o;
    }
    if (json_array_size(addrs) == 0) {
        json_decref(addrs);
        return json_pack("{s:b}", "enabled", 0);
    }
    return json_pack("{s:b, s:o}", "enabled", 1, "address", addrs);
}

static int route_cmp(const void *pa, const void *pb)
{
    const struct live_route *a = *(const struct live_route *const *)pa,
                            *b = *(const struct live_route *const *)pb;
    if (a->table != b->table)
        return a->table < b->table ? -1 : 1;
    if (a->dst.family != b->dst.family)
        return a->dst.family < b->dst.family ? -1 : 1;
    int c = ipaddr_cmp(&a->dst, &b->dst);
    if (c)
        return c;
    if (a->dst.prefix != b->dst.prefix)
        return a->dst.prefix < b->dst.prefix ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    return a->ifindex - b->ifindex;
}

static int rule_cmp(const void *pa, const void *pb)
{
    const struct live_rule *a = *(const struct live_rule *const *)pa,
                           *b = *(const struct live_rule *const *)pb;
    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return 0;
}

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* dns-resolver.config from the resolv.conf file: {} when there is none. */
static json_t *dns_json(const char *resolv)
{
    json_t *cfg = json_object();
    _cleanup_free_ char *text = NULL;
    if (!resolv || dns_read(resolv, &text) < 0)
        return cfg;
    struct dns_config c;
    dns_parse(text, &c);
    json_object_set_new(cfg, "server", strv_json(c.server, c.nserver));
    json_object_set_new(cfg, "search", strv_json(c.search, c.nsearch));
    json_object_set_new(cfg, "options", strv_json(c.options, c.noptions));
    dns_config_free(&c);
    return cfg;
}

json_t *show_build(const struct live_ns *l, const char *resolv)
{
    json_t *ifaces = json_array();
    /* Interfaces in name order, so the output is stable. */
    const struct live_link **v = xcalloc(l->nlinks ? l->nlinks : 1, sizeof(*v));
    for (size_t i = 0; i < l->nlinks; i++)
        v[i] = &l->links[i];
    for (size_t i = 1; i < l->nlinks; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1]->name, v[j]->name) > 0; j--) {
            const struct live_link *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    for (size_t i = 0; i < l->nlinks; i++) {
        const struct live_link *k = v[i];
        char mac[18];
        json_t *o = json_pack("{s:s, s:s, s:s}", "name", k->name, "type", link_show_type(k), "state",
                              (k->flags & IFF_UP) ? "up" : "down");
        static const uint8_t zero_mac[6];
        if (k->has_mac && memcmp(k->mac, zero_mac, 6)) /* lo's is all zeros */
            json_object_set_new(o, "mac-address", json_string(mac_format(k->mac, mac, sizeof(mac))));
        json_object_set_new(o, "mtu", json_integer(k->mtu));
        if (k->alias)
            json_object_set_new(o, "description", json_string(k->alias));
        json_object_set_new(o, "accept-all-mac-addresses", json_boolean(k->flags & IFF_PROMISC));
        if (k->master) {
            const struct live_link *m = live_find_ifindex(l, k->master);
            if (m)
                json_object_set_new(o, "controller", json_string(m->name));
        }
        json_object_set_new(o, "ipv4", ip_block(l, k, AF_INET));
        json_object_set_new(o, "ipv6", ip_block(l, k, AF_INET6));
        if (streq(k->kind, "bridge")) {
            json_t *ports = json_array();
            bool vlans = k->vlan_filtering == 1 && l->pvlans_known;
            for (size_t j = 0; j < l->nlinks; j++)
                if (v[j]->master == k->ifindex) {
                    json_t *p = json_pack("{s:s}", "name", v[j]->name);
                    struct vlan_span *pv = NULL;
                    size_t npv = vlans ? live_port_vlans(l, v[j]->ifindex, &pv) : 0;
                    brport_show(p, &v[j]->brport, pv, npv);
                    free(pv);
                    json_array_append_new(ports, p);
                }
            json_t *br = json_object();
            json_t *opts = json_object();
            if (k->stp >= 0)
                json_object_set_new(opts, "stp", json_pack("{s:b}", "enabled", k->stp));
            bropts_show(opts, &k->bropts);
            json_object_set_new(br, "options", opts);
            json_object_set_new(br, "port", ports);
            json_object_set_new(o, "bridge", br);
        }
        const char *key = NULL;
        json_t *blk = link_cfg_show(k, l, &key); /* veth, vxlan, mac-vlan, vlan, bond */
        if (blk)
            json_object_set_new(o, key, blk);
        json_array_append_new(ifaces, o);
    }
    free(v);

    /* Routes a policy can manage (every table but local, not the kernel's
     * own), ordered by table, family, destination, metric. */
    const struct live_route **rv = xcalloc(l->nroutes ? l->nroutes : 1, sizeof(*rv));
    size_t nr = 0;
    for (size_t i = 0; i < l->nroutes; i++)
        if (route_is_manageable(&l->routes[i]) && !l->routes[i].tos)
            rv[nr++] = &l->routes[i];
    qsort(rv, nr, sizeof(*rv), route_cmp);
    json_t *routes = json_array();
    for (size_t i = 0; i < nr; i++) {
        const struct live_route *r = rv[i];
        const struct live_link *k =
            r->type == RTN_UNICAST ? live_find_ifindex(l, r->ifindex) : NULL;
        char dst[64], gw[64];
        json_t *o = json_pack("{s:s}", "destination", ipaddr_format(&r->dst, true, dst, sizeof(dst)));
        if (k)
            json_object_set_new(o, "next-hop-interface", json_string(k->name));
        if (r->has_gw)
            json_object_set_new(o, "next-hop-address",
                                json_string(ipaddr_format(&r->gw, false, gw, sizeof(gw))));
        json_object_set_new(o, "metric", json_integer(r->priority));
        json_object_set_new(o, "table-id", json_integer(r->table));
        if (route_type_to_string(r->type))
            json_object_set_new(o, "route-type", json_string(route_type_to_string(r->type)));
        if (r->has_src)
            json_object_set_new(o, "source",
                                json_string(ipaddr_format(&r->src, false, gw, sizeof(gw))));
        json_array_append_new(routes, o);
    }
    free(rv);

    /* Rules but the kernel's defaults and those with selectors plumbd does
     * not model, ordered by priority, family. */
    const struct live_rule **uv = xcalloc(l->nrules ? l->nrules : 1, sizeof(*uv));
    size_t nu = 0;
    for (size_t i = 0; i < l->nrules; i++)
        if (!rule_is_default(&l->rules[i]) && !l->rules[i].extra)
            uv[nu++] = &l->rules[i];
    qsort(uv, nu, sizeof(*uv), rule_cmp);
    json_t *rules = json_array();
    for (size_t i = 0; i < nu; i++) {
        const struct live_rule *u = uv[i];
        char a[64];
        json_t *o = json_object();
        if (!u->has_src && !u->has_dst)
            json_object_set_new(o, "family", json_string(u->family == AF_INET6 ? "ipv6" : "ipv4"));
        if (u->has_src)
            json_object_set_new(o, "ip-from", json_string(ipaddr_format(&u->src, true, a, sizeof(a))));
        if (u->has_dst)
            json_object_set_new(o, "ip-to", json_string(ipaddr_format(&u->dst, true, a, sizeof(a))));
        json_object_set_new(o, "priority", json_integer(u->priority));
        if (u->action == FR_ACT_TO_TBL)
            json_object_set_new(o, "route-table", json_integer(u->table));
        else
            json_object_set_new(o, "action", json_string(rule_action_to_string(u->action)));
        if (u->fwmark || u->fwmask) {
            json_object_set_new(o, "fwmark", json_integer(u->fwmark));
            json_object_set_new(o, "fwmask", json_integer(u->fwmask));
        }
        if (u->iif[0])
            json_object_set_new(o, "iif", json_string(u->iif));
        json_array_append_new(rules, o);
    }
    free(uv);
    return json_pack("{s:o, s:{s:o}, s:{s:o}, s:{s:o}}", "interfaces", ifaces, "routes", "config",
                     routes, "route-rules", "config", rules, "dns-resolver", "config",
                     dns_json(resolv));
}

/* A scalar that YAML would read back as something else (bool, number,
 * null) or that needs escaping is written as a JSON string, which is also
 * a YAML double-quoted scalar. */
static bool plain_ok(const char *s)
{
    static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "null",
                                          "~", "y", "n", NULL};
    if (!s[0] || strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]))
        return false;
    for (const char *const *p = special; *p; p++)
        if (strcasecmp(s, *p) == 0)
            return false;
    bool numeric = true;
    for (const char *c = s; *c; c++) {
        if (!(*c >= '0' && *c <= '9') && *c != '.' && *c != '-' && *c != '+' && *c != 'e' &&
            *c != 'E' && *c != 'x')
            numeric = false;
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("-_./:", *c)))
            return false;
        if (*c == ':' && (c[1] == ' ' || c[1] == 0))
            return false;
    }
    return !numeric;
}

static void emit_scalar(FILE *f, json_t *v)
{
    if (json_is_string(v) && plain_ok(json_string_value(v))) {
        fputs(json_string_value(v), f);
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    fputs(s ? s : "null", f);
    free(s);
}

static bool is_container(json_t *v)
{
    return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

static void emit(FILE *f, json_t *v, int indent);

/* "key: value" or "key:\n  nested" */
static void emit_member(FILE *f, const char *key, json_t *val, int indent)
{
    fputs(key, f);
    fputc(':', f);
    if (is_container(val)) {
        fputc('\n', f);
        emit(f, val, json_is_array(val) ? indent : indent + 2);
    } else {
        fputc(' ', f);
        if (json_is_object(val))
            fputs("{}", f);
        else if (json_is_array(val))
            fputs("[]", f);
        else
            emit_scalar(f, val);
        fputc('\n', f);
    }
}

static void emit(FILE *f, json_t *v, int indent)
{
    const char *key;
    json_t *val;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, val) {
            fprintf(f, "%*s", indent, "");
            emit_member(f, key, val, indent);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, val) {
            fprintf(f, "%*s- ", indent, "");
            if (json_is_object(val) && json_object_size(val)) {
                bool first = true;
                const char *k2;
                json_t *v2;
                json_object_foreach(val, k2, v2) {
                    if (!first)
                        fprintf(f, "%*s", indent + 2, "");
                    first = false;
                    emit_member(f, k2, v2, indent + 2);
                }
            } else if (is_container(val)) {
                fputc('\n', f);
                emit(f, val, indent + 2);
            } else {
                emit_scalar(f, val);
                fputc('\n', f);
            }
        }
    }
}

void yaml_emit(FILE *f, json_t *v)
{
    emit(f, v, 0);
}

int show_print(FILE *f, const struct live_ns *l, const char *resolv, const char *format)
{
    json_t *root = show_build(l, resolv);
    if (!root)
        return -ENOMEM;
    if (streq(format, "json")) {
        char *s = json_dumps(root, JSON_INDENT(2));
        fprintf(f, "%s\n", s);
        free(s);
    } else if (streq(format, "yaml"))
        yaml_emit(f, root);
    else {
        json_decref(root);
        return -EINVAL;
    }
    json_decref(root);
    return 0;
}
