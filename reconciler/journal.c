/* journal.c - operations as journal records, and their inverses.
 *
 * Every kernel write is journalled before it is made (write-ahead) together
 * with the operation that undoes it, computed from the before-image: the
 * node snapshot just before the write and the inventory. An op and its
 * inverse are stored as JSON (jansson), so the daemon after a crash and
 * `plumbd rollback` can run the inverses without the desired state that
 * produced them. Pure: no kernel, no SQLite. */
#include <arpa/inet.h>
#include <jansson.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "journal.h"
#include "iftypes_impl.h"

static json_t *ipaddr_json(const struct ipaddr *a)
{
    char buf[64];
    return json_string(ipaddr_format(a, true, buf, sizeof(buf)));
}

static int ipaddr_from(json_t *j, struct ipaddr *ret)
{
    const char *s = json_string_value(j);
    return s ? ipaddr_parse(s, -1, ret) : -EINVAL;
}

static json_t *saved_routes_json(const struct saved_route *v, size_t n, bool only_restore)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (only_restore && !v[i].restore)
            continue;
        json_t *r = json_pack("{s:s, s:o, s:I, s:I}", "dev", v[i].ifname, "dst",
                              ipaddr_json(&v[i].rt.dst), "metric", (json_int_t)v[i].metric,
                              "proto", (json_int_t)v[i].protocol);
        if (v[i].rt.has_gw)
            json_object_set_new(r, "gw", ipaddr_json(&v[i].rt.gw));
        if (!only_restore && !v[i].restore)
            json_object_set_new(r, "restore", json_false());
        json_array_append_new(arr, r);
    }
    return arr;
}

static int saved_routes_from(json_t *arr, struct saved_route **v, size_t *n)
{
    size_t i;
    json_t *r;
    if (arr && !json_is_array(arr))
        return -EINVAL;
    json_array_foreach(arr, i, r) {
        struct saved_route sr = {.restore = !json_is_false(json_object_get(r, "restore"))};
        const char *dev = json_string_value(json_object_get(r, "dev"));
        if (!dev || strlen(dev) >= IFNAMSIZ_PLUMBD ||
            ipaddr_from(json_object_get(r, "dst"), &sr.rt.dst) < 0)
            return -EINVAL;
        snprintf(sr.ifname, sizeof(sr.ifname), "%s", dev);
        if (json_object_get(r, "gw")) {
            if (ipaddr_from(json_object_get(r, "gw"), &sr.rt.gw) < 0 ||
                sr.rt.gw.family != sr.rt.dst.family)
                return -EINVAL;
            sr.rt.has_gw = true;
        }
        sr.metric = (unsigned)json_integer_value(json_object_get(r, "metric"));
        sr.protocol = (unsigned)json_integer_value(json_object_get(r, "proto"));
        *ARRAY_PUSH(*v, *n) = sr;
    }
    return 0;
}

static json_t *gws_json(const struct ipaddr *gw, size_t n)
{
    json_t *arr = json_array();
    char buf[64];
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(ipaddr_format(&gw[i], false, buf, sizeof(buf))));
    return arr;
}

static int gws_from(json_t *arr, struct ipaddr **v, size_t *n)
{
    size_t i;
    json_t *g;
    if (arr && !json_is_array(arr))
        return -EINVAL;
    json_array_foreach(arr, i, g) {
        if (ipaddr_from(g, ARRAY_PUSH(*v, *n)) < 0)
            return -EINVAL;
    }
    return 0;
}

char *defroute_to_json(const struct ipaddr *gw, size_t ngw, const struct saved_route *prev,
                       size_t nprev)
{
    size_t keep = 0;
    for (size_t i = 0; i < nprev; i++)
        keep += prev[i].restore;
    if (!ngw && !keep)
        return NULL;
    json_t *o = json_pack("{s:o, s:o}", "gw", gws_json(gw, ngw), "prev",
                          saved_routes_json(prev, nprev, true));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

int defroute_from_json(const char *text, struct ipaddr **ret_gw, size_t *ret_ngw,
                       struct saved_route **ret_prev, size_t *ret_nprev)
{
    if (!text || !*text)
        return 0;
    json_t *o = json_loads(text, 0, NULL);
    int r = -EINVAL;
    if (json_is_object(o) && gws_from(json_object_get(o, "gw"), ret_gw, ret_ngw) == 0 &&
        saved_routes_from(json_object_get(o, "prev"), ret_prev, ret_nprev) == 0)
        r = 0;
    json_decref(o);
    return r;
}

static json_t *route_json(const struct nm_route *r);
static json_t *rule_json(const struct nm_rule *r);

char *op_to_json(const struct op *op)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "type", op_type_to_string(op->type), "owner",
                          op->owner ? op->owner : "", "ifname", op->ifname);
    if (op->set) {
        json_object_set_new(o, "set", json_integer(op->set));
        if (op->set & LS_MTU)
            json_object_set_new(o, "mtu", json_integer(op->mtu));
        if (op->set & LS_UP)
            json_object_set_new(o, "up", json_boolean(op->up));
        if (op->set & LS_MASTER)
            json_object_set_new(o, "master", json_string(op->master));
        if (op->set & LS_STP)
            json_object_set_new(o, "stp", json_integer(op->stp));
        if (op->set & LS_ALIAS)
            json_object_set_new(o, "alias", op->alias ? json_string(op->alias) : json_null());
        if (op->set & LS_PROMISC)
            json_object_set_new(o, "promisc", json_boolean(op->promisc));
        if (op->set & LS_VLAN_FILTERING)
            json_object_set_new(o, "vlan_filtering", json_integer(op->vlan_filtering));
        if (op->set & LS_BROPTS)
            json_object_set_new(o, "bropts", bropts_to_json(&op->bropts));
        if (op->set & LS_BRPORT)
            json_object_set_new(o, "brport", brport_opts_to_json(&op->brport));
        if (op->set & LS_PORT_VLANS)
            json_object_set_new(o, "pvlan",
                                json_pack("{s:o, s:o, s:b, s:i}", "want",
                                          vlan_spans_to_json(op->pvlan.want, op->pvlan.nwant),
                                          "have",
                                          vlan_spans_to_json(op->pvlan.have, op->pvlan.nhave),
                                          "known", op->pvlan.have_known, "default_pvid",
                                          op->pvlan.default_pvid));
        if (op->set & LS_MAC) {
            char mac[18];
            json_object_set_new(o, "mac", json_string(mac_format(op->mac, mac, sizeof(mac))));
        }
    }
    if (op->type == OP_BRIDGE_ADD && op->cfg.kind != LK_NONE && op->cfg.kind != LK_BRIDGE)
        json_object_set_new(o, "link", link_cfg_to_json(&op->cfg));
    if (op->type == OP_SYSCTL) {
        json_object_set_new(o, "sysctl", json_string(op->sysctl ? op->sysctl : ""));
        json_object_set_new(o, "value", json_integer(op->value));
        json_object_set_new(o, "before", json_integer(op->before));
    }
    if (op->addr.family)
        json_object_set_new(o, "addr", ipaddr_json(&op->addr));
    if (op->route.family)
        json_object_set_new(o, "route", route_json(&op->route));
    if (op->dns.set) {
        const struct dns_op *d = &op->dns;
        json_t *j = json_pack("{s:s}", "path", d->path ? d->path : "");
        if (d->remove)
            json_object_set_new(j, "remove", json_true());
        else
            json_object_set_new(j, "content", json_string(d->content ? d->content : ""));
        json_object_set_new(j, "prev", d->prev_exists ? json_string(d->prev ? d->prev : "")
                                                      : json_null());
        json_object_set_new(j, "holder", d->holder ? json_string(d->holder) : json_null());
        json_object_set_new(j, "prev_holder",
                            d->prev_holder ? json_string(d->prev_holder) : json_null());
        json_object_set_new(j, "orig", d->orig_exists ? json_string(d->orig ? d->orig : "")
                                                      : json_null());
        json_object_set_new(o, "dns", j);
    }
    if (op->rule.family)
        json_object_set_new(o, "rule", rule_json(&op->rule));
    if (op->forget)
        json_object_set_new(o, "forget", json_true());
    if (op->record_before)
        json_object_set_new(o, "record_before", json_true());
    if (op->type == OP_POD_ATTACH || op->type == OP_POD_DETACH || op->pa.pod_if[0]) {
        const struct pod_attach_op *pa = &op->pa;
        char mac[18];
        json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b}", "netns",
                              pa->netns ? pa->netns : "", "pod_if", pa->pod_if, "host_if",
                              pa->host_if, "bridge", pa->bridge, "network",
                              pa->network ? pa->network : "", "mtu", (int)pa->mtu, "replace",
                              pa->replace);
        if (pa->has_mac)
            json_object_set_new(p, "mac", json_string(mac_format(pa->mac, mac, sizeof(mac))));
        json_t *addrs = json_array();
        for (size_t i = 0; i < pa->naddrs; i++)
            json_array_append_new(addrs, ipaddr_json(&pa->addrs[i]));
        json_object_set_new(p, "addrs", addrs);
        json_t *routes = json_array();
        for (size_t i = 0; i < pa->nroutes; i++) {
            json_t *r = json_pack("{s:o}", "dst", ipaddr_json(&pa->routes[i].dst));
            if (pa->routes[i].has_gw)
                json_object_set_new(r, "gw", ipaddr_json(&pa->routes[i].gw));
            json_array_append_new(routes, r);
        }
        json_object_set_new(p, "routes", routes);
        /* the NAD's port and interface keys, only when set */
        if (pa->kind == ATTACH_MACVLAN) {
            json_object_set_new(p, "kind", json_string("macvlan"));
            json_object_set_new(p, "macvlan_mode", json_integer(pa->macvlan_mode));
        }
        if (pa->hairpin)
            json_object_set_new(p, "hairpin", json_true());
        if (pa->isolated)
            json_object_set_new(p, "isolated", json_true());
        if (pa->link_down)
            json_object_set_new(p, "link_down", json_true());
        if (pa->dad)
            json_object_set_new(p, "dad", json_true());
        if (pa->vlan)
            json_object_set_new(p, "vlan", json_integer(pa->vlan));
        if (pa->drop_default_vlan)
            json_object_set_new(p, "drop_default_vlan", json_true());
        if (pa->ntrunk) {
            json_t *t = json_array();
            for (size_t i = 0; i < pa->ntrunk; i++)
                json_array_append_new(t, json_pack("[i,i]", (int)pa->trunk[i].min,
                                                   (int)pa->trunk[i].max));
            json_object_set_new(p, "trunk", t);
        }
        if (pa->ndefault_gw)
            json_object_set_new(p, "default_gw", gws_json(pa->default_gw, pa->ndefault_gw));
        if (pa->nprev_defaults)
            json_object_set_new(p, "prev_defaults",
                                saved_routes_json(pa->prev_defaults, pa->nprev_defaults, false));
        json_object_set_new(o, "pod", p);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static int copy_name(json_t *j, char dst[IFNAMSIZ_PLUMBD])
{
    const char *s = json_string_value(j);
    if (!s || strlen(s) >= IFNAMSIZ_PLUMBD)
        return -EINVAL;
    snprintf(dst, IFNAMSIZ_PLUMBD, "%s", s);
    return 0;
}


static json_t *route_json(const struct nm_route *r)
{
    json_t *o = json_pack("{s:i, s:I, s:I, s:i}", "family", r->family == AF_INET6 ? 6 : 4,
                          "metric", (json_int_t)r->metric, "table", (json_int_t)r->table,
                          "type", r->type);
    if (r->has_dst)
        json_object_set_new(o, "dst", ipaddr_json(&r->dst));
    if (r->ifname[0])
        json_object_set_new(o, "dev", json_string(r->ifname));
    if (r->has_gw)
        json_object_set_new(o, "gw", ipaddr_json(&r->gw));
    if (r->has_src)
        json_object_set_new(o, "src", ipaddr_json(&r->src));
    return o;
}

/* An optional address of a family in a journal object: absent is fine
 * (*has false), present must parse and be of that family. */
static int opt_addr_from(json_t *o, const char *key, int family, struct ipaddr *ret, bool *has)
{
    json_t *j = json_object_get(o, key);
    *has = false;
    if (!j)
        return 0;
    if (ipaddr_from(j, ret) < 0 || ret->family != family)
        return -EINVAL;
    *has = true;
    return 0;
}

static int route_from_json(json_t *o, struct nm_route *ret)
{
    struct nm_route r = {0};
    if (!json_is_object(o))
        return -EINVAL;
    json_int_t fam = json_integer_value(json_object_get(o, "family"));
    if (fam != 4 && fam != 6)
        return -EINVAL;
    r.family = fam == 6 ? AF_INET6 : AF_INET;
    if (opt_addr_from(o, "dst", r.family, &r.dst, &r.has_dst) < 0 ||
        opt_addr_from(o, "gw", r.family, &r.gw, &r.has_gw) < 0 ||
        opt_addr_from(o, "src", r.family, &r.src, &r.has_src) < 0)
        return -EINVAL;
    if (json_object_get(o, "dev") && copy_name(json_object_get(o, "dev"), r.ifname) < 0)
        return -EINVAL;
    json_int_t metric = json_integer_value(json_object_get(o, "metric")),
               table = json_integer_value(json_object_get(o, "table")),
               type = json_integer_value(json_object_get(o, "type"));
    if (metric < 0 || metric > 0xffffffffLL || table < 0 || table > 0xffffffffLL || type < 0 ||
        type > 255)
        return -EINVAL;
    r.has_metric = r.has_table = true;
    r.metric = (uint32_t)metric;
    r.table = (uint32_t)table;
    r.type = (int)type;
    *ret = r;
    return 0;
}

static json_t *rule_json(const struct nm_rule *r)
{
    json_t *o = json_pack("{s:i, s:I, s:I, s:I, s:i}", "family", r->family == AF_INET6 ? 6 : 4,
                          "table", (json_int_t)r->table, "fwmark", (json_int_t)r->fwmark,
                          "fwmask", (json_int_t)r->fwmask, "action", r->action);
    if (r->has_from)
        json_object_set_new(o, "from", ipaddr_json(&r->from));
    if (r->has_to)
        json_object_set_new(o, "to", ipaddr_json(&r->to));
    if (r->has_priority)
        json_object_set_new(o, "priority", json_integer((json_int_t)r->priority));
    if (r->iif[0])
        json_object_set_new(o, "iif", json_string(r->iif));
    return o;
}

static bool json_u32(json_t *j, uint32_t *ret)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) > 0xffffffffLL)
        return false;
    *ret = (uint32_t)json_integer_value(j);
    return true;
}

static int rule_from_json(json_t *o, struct nm_rule *ret)
{
    struct nm_rule r = {0};
    if (!json_is_object(o))
        return -EINVAL;
    json_int_t fam = json_integer_value(json_object_get(o, "family"));
    if (fam != 4 && fam != 6)
        return -EINVAL;
    r.family = fam == 6 ? AF_INET6 : AF_INET;
    if (opt_addr_from(o, "from", r.family, &r.from, &r.has_from) < 0 ||
        opt_addr_from(o, "to", r.family, &r.to, &r.has_to) < 0)
        return -EINVAL;
    if (json_object_get(o, "priority")) {
        if (!json_u32(json_object_get(o, "priority"), &r.priority))
            return -EINVAL;
        r.has_priority = true;
    }
    if (json_object_get(o, "iif") && copy_name(json_object_get(o, "iif"), r.iif) < 0)
        return -EINVAL;
    uint32_t action;
    if (!json_u32(json_object_get(o, "table"), &r.table) ||
        !json_u32(json_object_get(o, "fwmark"), &r.fwmark) ||
        !json_u32(json_object_get(o, "fwmask"), &r.fwmask) ||
        !json_u32(json_object_get(o, "action"), &action) || action == 0 || action > 255)
        return -EINVAL;
    r.action = (int)action;
    r.has_table = r.has_fwmark = r.has_fwmask = true;
    *ret = r;
    return 0;
}

char *rule_to_text(const struct nm_rule *r)
{
    json_t *o = rule_json(r);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

int rule_from_text(const char *text, struct nm_rule *ret)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    int r = o ? rule_from_json(o, ret) : -EINVAL;
    json_decref(o);
    return r;
}

char *route_to_text(const struct nm_route *r)
{
    json_t *o = route_json(r);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

int route_from_text(const char *text, struct nm_route *ret)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    int r = o ? route_from_json(o, ret) : -EINVAL;
    json_decref(o);
    return r;
}

int op_from_json(const char *text, struct op *ret)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    struct op op = {.stp = -1};
    int r = -EINVAL;

    if (!json_is_object(o))
        goto out;
    const char *type = json_string_value(json_object_get(o, "type"));
    int t;
    for (t = 0; t < _OP_TYPE_MAX; t++)
        if (streq(type, op_type_to_string(t)))
            break;
    if (t == _OP_TYPE_MAX)
        goto out;
    op.type = t;
    op.owner = xstrdup(json_string_value(json_object_get(o, "owner")) ?: "");
    if (copy_name(json_object_get(o, "ifname"), op.ifname) < 0)
        goto out;
    op.set = (unsigned)json_integer_value(json_object_get(o, "set"));
    op.mtu = (unsigned)json_integer_value(json_object_get(o, "mtu"));
    op.up = json_is_true(json_object_get(o, "up"));
    if ((op.set & LS_MASTER) && copy_name(json_object_get(o, "master"), op.master) < 0)
        goto out;
    if (op.set & LS_STP)
        op.stp = (int)json_integer_value(json_object_get(o, "stp"));
    if (json_is_string(json_object_get(o, "alias")))
        op.alias = xstrdup(json_string_value(json_object_get(o, "alias")));
    op.promisc = json_is_true(json_object_get(o, "promisc"));
    op.vlan_filtering = (int)json_integer_value(json_object_get(o, "vlan_filtering"));
    if (op.set & LS_BROPTS)
        bropts_from_json(json_object_get(o, "bropts"), &op.bropts);
    if (op.set & LS_BRPORT)
        brport_opts_from_json(json_object_get(o, "brport"), &op.brport);
    if (op.set & LS_PORT_VLANS) {
        json_t *pv = json_object_get(o, "pvlan");
        op.pvlan.nwant = vlan_spans_from_json(json_object_get(pv, "want"), &op.pvlan.want);
        op.pvlan.nhave = vlan_spans_from_json(json_object_get(pv, "have"), &op.pvlan.have);
        op.pvlan.have_known = json_is_true(json_object_get(pv, "known"));
        op.pvlan.default_pvid = (uint16_t)json_integer_value(json_object_get(pv, "default_pvid"));
    }
    if ((op.set & LS_MAC) &&
        mac_parse(json_string_value(json_object_get(o, "mac")) ?: "", op.mac) < 0)
        goto out;
    if (json_object_get(o, "link") && link_cfg_from_json(json_object_get(o, "link"), &op.cfg) < 0)
        goto out;
    if (op.type == OP_SYSCTL) {
        const char *sc = json_string_value(json_object_get(o, "sysctl"));
        if (!sc || !sc[0])
            goto out;
        op.sysctl = xstrdup(sc);
        op.value = (int)json_integer_value(json_object_get(o, "value"));
        op.before = (int)json_integer_value(json_object_get(o, "before"));
    }
    if (json_object_get(o, "addr") && ipaddr_from(json_object_get(o, "addr"), &op.addr) < 0)
        goto out;
    if (json_object_get(o, "route") && route_from_json(json_object_get(o, "route"), &op.route) < 0)
        goto out;
    if ((op.type == OP_ROUTE_ADD || op.type == OP_ROUTE_DEL) && !op.route.family)
        goto out;
    json_t *dj = json_object_get(o, "dns");
    if (dj) {
        struct dns_op *d = &op.dns;
        const char *path = json_string_value(json_object_get(dj, "path"));
        if (!json_is_object(dj) || !path || !path[0])
            goto out;
        d->set = true;
        d->path = xstrdup(path);
        d->remove = json_is_true(json_object_get(dj, "remove"));
        const char *c = json_string_value(json_object_get(dj, "content"));
        if (!d->remove && !c)
            goto out;
        d->content = c ? xstrdup(c) : NULL;
        const char *v = json_string_value(json_object_get(dj, "prev"));
        d->prev_exists = v != NULL;
        d->prev = v ? xstrdup(v) : NULL;
        v = json_string_value(json_object_get(dj, "orig"));
        d->orig_exists = v != NULL;
        d->orig = v ? xstrdup(v) : NULL;
        v = json_string_value(json_object_get(dj, "holder"));
        d->holder = v ? xstrdup(v) : NULL;
        v = json_string_value(json_object_get(dj, "prev_holder"));
        d->prev_holder = v ? xstrdup(v) : NULL;
    }
    if (op.type == OP_DNS_SET && !op.dns.set)
        goto out;
    if (json_object_get(o, "rule") && rule_from_json(json_object_get(o, "rule"), &op.rule) < 0)
        goto out;
    if ((op.type == OP_RULE_ADD || op.type == OP_RULE_DEL) && !op.rule.family)
        goto out;
    op.forget = json_is_true(json_object_get(o, "forget"));
    op.record_before = json_is_true(json_object_get(o, "record_before"));
    json_t *p = json_object_get(o, "pod");
    if (p) {
        struct pod_attach_op *pa = &op.pa;
        pa->netns = xstrdup(json_string_value(json_object_get(p, "netns")) ?: "");
        pa->network = xstrdup(json_string_value(json_object_get(p, "network")) ?: "");
        if (copy_name(json_object_get(p, "pod_if"), pa->pod_if) < 0 ||
            copy_name(json_object_get(p, "host_if"), pa->host_if) < 0 ||
            copy_name(json_object_get(p, "bridge"), pa->bridge) < 0)
            goto out;
        pa->mtu = (unsigned)json_integer_value(json_object_get(p, "mtu"));
        pa->replace = json_is_true(json_object_get(p, "replace"));
        pa->kind = streq(json_string_value(json_object_get(p, "kind")), "macvlan") ||
                           attach_kind_of(pa->host_if) == ATTACH_MACVLAN
                       ? ATTACH_MACVLAN
                       : ATTACH_VETH;
        pa->macvlan_mode = (int)json_integer_value(json_object_get(p, "macvlan_mode"));
        pa->hairpin = json_is_true(json_object_get(p, "hairpin"));
        pa->isolated = json_is_true(json_object_get(p, "isolated"));
        pa->link_down = json_is_true(json_object_get(p, "link_down"));
        pa->dad = json_is_true(json_object_get(p, "dad"));
        json_int_t vlan = json_integer_value(json_object_get(p, "vlan"));
        if (vlan < 0 || vlan > 4094)
            goto out;
        pa->vlan = (uint16_t)vlan;
        pa->drop_default_vlan = json_is_true(json_object_get(p, "drop_default_vlan"));
        size_t ti;
        json_t *tv;
        json_array_foreach(json_object_get(p, "trunk"), ti, tv) {
            json_int_t lo = json_integer_value(json_array_get(tv, 0)),
                       hi = json_integer_value(json_array_get(tv, 1));
            if (lo < 1 || hi > 4094 || lo > hi)
                goto out;
            *ARRAY_PUSH(pa->trunk, pa->ntrunk) = (struct vlan_range){(uint16_t)lo, (uint16_t)hi};
        }
        if (gws_from(json_object_get(p, "default_gw"), &pa->default_gw, &pa->ndefault_gw) < 0 ||
            saved_routes_from(json_object_get(p, "prev_defaults"), &pa->prev_defaults,
                              &pa->nprev_defaults) < 0)
            goto out;
        const char *mac = json_string_value(json_object_get(p, "mac"));
        if (mac) {
            if (mac_parse(mac, pa->mac) < 0)
                goto out;
            pa->has_mac = true;
        }
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(p, "addrs"), i, v) {
            if (ipaddr_from(v, ARRAY_PUSH(pa->addrs, pa->naddrs)) < 0)
                goto out;
        }
        json_array_foreach(json_object_get(p, "routes"), i, v) {
            struct route *rt = ARRAY_PUSH(pa->routes, pa->nroutes);
            if (ipaddr_from(json_object_get(v, "dst"), &rt->dst) < 0)
                goto out;
            if (json_object_get(v, "gw")) {
                if (ipaddr_from(json_object_get(v, "gw"), &rt->gw) < 0)
                    goto out;
                rt->has_gw = true;
            }
        }
    }
    *ret = op;
    memset(&op, 0, sizeof(op));
    r = 0;
out:
    op_clear(&op);
    json_decref(o);
    return r;
}

void dns_op_clear(struct dns_op *d)
{
    free(d->path);
    free(d->content);
    free(d->prev);
    free(d->holder);
    free(d->prev_holder);
    free(d->orig);
    memset(d, 0, sizeof(*d));
}

static char *strdup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void dns_op_copy(struct dns_op *dst, const struct dns_op *src)
{
    *dst = *src;
    dst->path = strdup_or_null(src->path);
    dst->content = strdup_or_null(src->content);
    dst->prev = strdup_or_null(src->prev);
    dst->holder = strdup_or_null(src->holder);
    dst->prev_holder = strdup_or_null(src->prev_holder);
    dst->orig = strdup_or_null(src->orig);
}

void dns_state_clear(struct dns_state *s)
{
    free(s->text);
    free(s->holder);
    free(s->orig);
    memset(s, 0, sizeof(*s));
}

void op_clear(struct op *op)
{
    dns_op_clear(&op->dns);
    free(op->owner);
    free(op->alias);
    free(op->pa.netns);
    free(op->pa.network);
    free(op->pa.addrs);
    free(op->pa.routes);
    free(op->pa.trunk);
    free(op->pa.default_gw);
    free(op->pa.prev_defaults);
    free(op->sysctl);
    free(op->pvlan.want);
    free(op->pvlan.have);
    memset(op, 0, sizeof(*op));
}

static const struct owned_attach *find_attach(const struct inventory *inv, const char *owner,
                                              const char *pod_if)
{
    for (size_t i = 0; inv && i < inv->nattach; i++)
        if (streq(inv->attach[i].owner, owner) && streq(inv->attach[i].pod_if, pod_if))
            return &inv->attach[i];
    return NULL;
}

/* inv_op becomes a (replacing) attach of the attachment as recorded. */
static void attach_as_owned(struct op *inv_op, const struct owned_attach *a)
{
    inv_op->type = OP_POD_ATTACH;
    inv_op->pa.netns = xstrdup(a->netns ? a->netns : "");
    inv_op->pa.network = xstrdup(a->network ? a->network : "");
    snprintf(inv_op->pa.pod_if, sizeof(inv_op->pa.pod_if), "%s", a->pod_if);
    snprintf(inv_op->pa.host_if, sizeof(inv_op->pa.host_if), "%s", a->host_if);
    snprintf(inv_op->pa.bridge, sizeof(inv_op->pa.bridge), "%s", a->bridge);
    inv_op->pa.kind = attach_kind_of(a->host_if);
    inv_op->pa.has_mac = true;
    memcpy(inv_op->pa.mac, a->mac, 6);
    for (size_t i = 0; i < a->naddrs; i++)
        *ARRAY_PUSH(inv_op->pa.addrs, inv_op->pa.naddrs) = a->addrs[i];
    inv_op->pa.replace = true;
}

static void copy_default_route(struct pod_attach_op *dst, const struct ipaddr *gw, size_t ngw,
                               const struct saved_route *prev, size_t nprev)
{
    for (size_t i = 0; i < ngw; i++)
        *ARRAY_PUSH(dst->default_gw, dst->ndefault_gw) = gw[i];
    for (size_t i = 0; i < nprev; i++)
        *ARRAY_PUSH(dst->prev_defaults, dst->nprev_defaults) = prev[i];
}

static void *xmemdup(const void *p, size_t n)
{
    if (!n)
        return NULL;
    void *q = xcalloc(1, n);
    memcpy(q, p, n);
    return q;
}

/* The inverse of a port options change: the values the port had. */
static void bropts_port_before(const struct op *op, const struct live_link *l, struct op *inv_op)
{
    brport_opts_pick(&op->brport, &l->brport, &inv_op->brport);
    if (brport_opts_any(&inv_op->brport))
        inv_op->set |= LS_BRPORT;
}

/* The type configuration re-creating live link l of snapshot `before`
 * (base names from their ifindexes); -EOPNOTSUPP when it cannot be: a
 * base or peer in another namespace, or gone. */
static int link_recreate_cfg(const struct live_link *l, const struct live_ns *before,
                             struct link_cfg *ret)
{
    *ret = l->cfg;
    ret->kind = link_kind_from_kernel(l->kind);
    ret->base[0] = 0;
    if (l->cfg.base_ifindex) {
        const struct live_link *b = live_find_ifindex(before, l->cfg.base_ifindex);
        if (l->cfg.base_elsewhere || !b)
            return -EOPNOTSUPP;
        snprintf(ret->base, sizeof(ret->base), "%s", b->name);
    }
    if (ret->kind == LK_VETH && !ret->base[0])
        return -EOPNOTSUPP;
    /* a live bond reports every option: re-create with those that apply */
    for (int o = 0; o < _BOND_OPT_MAX; o++)
        if (ret->kind == LK_BOND && !bond_opt_applies((enum bond_opt)o, ret->mode))
            ret->bond_set &= ~(1u << o);
    ret->base_ifindex = 0;
    ret->base_elsewhere = false;
    return 0;
}

int op_inverse(const struct op *op, const struct live_ns *before, const struct inventory *inv,
               struct op *ret)
{
    struct op inv_op = {.stp = -1};
    const struct live_link *l = live_find_link(before, op->ifname);

    inv_op.owner = xstrdup(op->owner ? op->owner : "");
    snprintf(inv_op.ifname, sizeof(inv_op.ifname), "%s", op->ifname);

    switch (op->type) {
    case OP_BRIDGE_ADD:
        inv_op.type = OP_LINK_DEL;
        inv_op.forget = true;
        break;
    case OP_LINK_SET:
        if (!l) { /* nothing to put back: the link did not exist */
            op_clear(&inv_op);
            return -ENOENT;
        }
        inv_op.type = OP_LINK_SET;
        if (op->set & LS_MTU) {
            inv_op.set |= LS_MTU;
            inv_op.mtu = l->mtu;
        }
        if (op->set & LS_UP) {
            inv_op.set |= LS_UP;
            inv_op.up = l->flags & IFF_UP;
        }
        if (op->set & LS_MASTER) {
            const struct live_link *m = live_find_ifindex(before, l->master);
            inv_op.set |= LS_MASTER;
            snprintf(inv_op.master, sizeof(inv_op.master), "%s", m ? m->name : "");
        }
        if ((op->set & LS_STP) && l->stp >= 0) {
            inv_op.set |= LS_STP;
            inv_op.stp = l->stp;
        }
        if (op->set & LS_ALIAS) {
            inv_op.set |= LS_ALIAS;
            inv_op.alias = l->alias ? xstrdup(l->alias) : NULL;
        }
        if (op->set & LS_PROMISC) {
            inv_op.set |= LS_PROMISC;
            inv_op.promisc = l->flags & IFF_PROMISC;
        }
        if ((op->set & LS_VLAN_FILTERING) && l->vlan_filtering >= 0) {
            inv_op.set |= LS_VLAN_FILTERING;
            inv_op.vlan_filtering = l->vlan_filtering;
        }
        if (op->set & LS_BROPTS) {
            bropts_pick(&op->bropts, &l->bropts, &inv_op.bropts);
            if (bropts_any(&inv_op.bropts))
                inv_op.set |= LS_BROPTS;
        }
        /* A port's options before it joined its bridge do not exist: undoing
         * the join (LS_MASTER) takes them away. */
        if ((op->set & LS_BRPORT) && !(op->set & LS_MASTER)) {
            bropts_port_before(op, l, &inv_op);
        }
        if (op->set & LS_PORT_VLANS) {
            /* Undo: from what was wanted back to what the port had (when
             * that was not known, to the kernel's default PVID alone). */
            const struct port_vlan_op *pv = &op->pvlan;
            inv_op.set |= LS_PORT_VLANS;
            inv_op.pvlan.have_known = true;
            inv_op.pvlan.default_pvid = pv->default_pvid;
            inv_op.pvlan.nhave = pv->nwant;
            inv_op.pvlan.have = xmemdup(pv->want, pv->nwant * sizeof(*pv->want));
            if (pv->have_known) {
                inv_op.pvlan.nwant = pv->nhave;
                inv_op.pvlan.want = xmemdup(pv->have, pv->nhave * sizeof(*pv->have));
            } else if (pv->default_pvid) {
                inv_op.pvlan.nwant = 1;
                inv_op.pvlan.want = xmemdup(&(struct vlan_span){pv->default_pvid, pv->default_pvid,
                                                                PVLAN_PVID | PVLAN_UNTAGGED},
                                            sizeof(struct vlan_span));
            }
        }
        if ((op->set & LS_MAC) && l->has_mac) {
            inv_op.set |= LS_MAC;
            memcpy(inv_op.mac, l->mac, 6);
        }
        /* Undoing a first change to a foreign link hands it back. */
        inv_op.forget = op->record_before;
        break;
    case OP_LINK_DEL:
        /* Bridges and the kinds of iftypes.c are re-created as they were
         * (a veth with its peer, when the peer is in this namespace). */
        if (!l || !link_kind_virtual(link_kind_from_kernel(l->kind)) || link_recreate_cfg(l, before, &inv_op.cfg) < 0) {
            op_clear(&inv_op);
            return -EOPNOTSUPP;
        }
        inv_op.type = OP_BRIDGE_ADD;
        inv_op.set = LS_MTU | LS_UP | (l->stp >= 0 ? LS_STP : 0) | (l->alias ? LS_ALIAS : 0);
        if (l->has_mac) {
            inv_op.set |= LS_MAC;
            memcpy(inv_op.mac, l->mac, 6);
        }
        if (l->flags & IFF_PROMISC) {
            inv_op.set |= LS_PROMISC;
            inv_op.promisc = true;
        }
        inv_op.mtu = l->mtu;
        inv_op.up = l->flags & IFF_UP;
        inv_op.stp = l->stp;
        inv_op.alias = l->alias ? xstrdup(l->alias) : NULL;
        /* Its options as they were (the VLAN ones only where the kernel
         * reports them). */
        inv_op.bropts = l->bropts;
        if (bropts_any(&inv_op.bropts))
            inv_op.set |= LS_BROPTS;
        break;
    case OP_ADDR_ADD:
    case OP_ADDR_DEL:
        if (op->type == OP_ADDR_ADD && l && live_has_addr(before, l->ifindex, &op->addr)) {
            op_clear(&inv_op); /* it was there already: nothing to undo */
            return -ENOENT;
        }
        inv_op.type = op->type == OP_ADDR_ADD ? OP_ADDR_DEL : OP_ADDR_ADD;
        inv_op.addr = op->addr;
        if (op->type == OP_ADDR_DEL) {
            /* Putting back an address plumbd did not own (one that
             * allow-extra-address: false removed) leaves it foreign. */
            bool owned = false;
            for (size_t i = 0; inv && i < inv->naddrs && !owned; i++)
                owned = streq(inv->addrs[i].ifname, op->ifname) &&
                        ipaddr_equal(&inv->addrs[i].addr, &op->addr);
            inv_op.forget = !owned;
        }
        break;
    case OP_POD_ATTACH: {
        /* Replacing an attachment (new address, MAC): undo puts the old one
         * back, from the inventory; the routes are the network's. */
        const struct owned_attach *a = op->pa.replace ? find_attach(inv, op->owner, op->pa.pod_if)
                                                      : NULL;
        if (a) {
            attach_as_owned(&inv_op, a);
            inv_op.pa.mtu = op->pa.mtu;
            /* the port/interface keys are the network's, as the routes */
            inv_op.pa.macvlan_mode = op->pa.macvlan_mode;
            inv_op.pa.hairpin = op->pa.hairpin;
            inv_op.pa.isolated = op->pa.isolated;
            inv_op.pa.link_down = op->pa.link_down;
            inv_op.pa.dad = op->pa.dad;
            inv_op.pa.vlan = op->pa.vlan;
            inv_op.pa.drop_default_vlan = op->pa.drop_default_vlan;
            for (size_t i = 0; i < op->pa.ntrunk; i++)
                *ARRAY_PUSH(inv_op.pa.trunk, inv_op.pa.ntrunk) = op->pa.trunk[i];
            for (size_t i = 0; i < op->pa.nroutes; i++)
                *ARRAY_PUSH(inv_op.pa.routes, inv_op.pa.nroutes) = op->pa.routes[i];
            copy_default_route(&inv_op.pa, op->pa.default_gw, op->pa.ndefault_gw,
                               op->pa.prev_defaults, op->pa.nprev_defaults);
            break;
        }
        inv_op.type = OP_POD_DETACH;
        inv_op.pa.kind = op->pa.kind;
        inv_op.pa.netns = xstrdup(op->pa.netns ? op->pa.netns : "");
        inv_op.pa.network = xstrdup(op->pa.network ? op->pa.network : "");
        snprintf(inv_op.pa.pod_if, sizeof(inv_op.pa.pod_if), "%s", op->pa.pod_if);
        snprintf(inv_op.pa.host_if, sizeof(inv_op.pa.host_if), "%s", op->pa.host_if);
        snprintf(inv_op.pa.bridge, sizeof(inv_op.pa.bridge), "%s", op->pa.bridge);
        /* the default routes the attach displaced go back */
        copy_default_route(&inv_op.pa, op->pa.default_gw, op->pa.ndefault_gw,
                           op->pa.prev_defaults, op->pa.nprev_defaults);
        break;
    }
    case OP_POD_DETACH: {
        const struct owned_attach *a = find_attach(inv, op->owner, op->pa.pod_if);
        /* (a macvlan has no host end to look for in the node snapshot: one
         * that was recorded is put back) */
        if (!a || (attach_kind_of(a->host_if) == ATTACH_VETH &&
                   !live_find_link(before, a->host_if))) {
            op_clear(&inv_op); /* nothing was attached: nothing to put back */
            return -ENOENT;
        }
        attach_as_owned(&inv_op, a);
        /* re-attached as recorded: it takes the default route over again */
        copy_default_route(&inv_op.pa, a->default_gw, a->ndefault_gw, a->prev_defaults,
                           a->nprev_defaults);
        for (size_t i = 0; i < a->ndefault_gw; i++) {
            struct route rt = {.dst.family = a->default_gw[i].family, .has_gw = true,
                               .gw = a->default_gw[i]};
            *ARRAY_PUSH(inv_op.pa.routes, inv_op.pa.nroutes) = rt;
        }
        break;
    }
    case OP_SYSCTL:
        if (op->before == op->value) {
            op_clear(&inv_op);
            return -ENOENT;
        }
        inv_op.type = OP_SYSCTL;
        inv_op.sysctl = xstrdup(op->sysctl ? op->sysctl : "");
        inv_op.value = op->before;
        inv_op.before = op->value;
        break;
    case OP_ROUTE_ADD:
    case OP_ROUTE_DEL: {
        bool there = false;
        for (size_t i = 0; i < before->nroutes && !there; i++)
            there = route_matches_live(&op->route, &before->routes[i], before, true);
        if (op->type == OP_ROUTE_ADD ? there : !there) {
            op_clear(&inv_op); /* already as asked: nothing to undo */
            return -ENOENT;
        }
        inv_op.type = op->type == OP_ROUTE_ADD ? OP_ROUTE_DEL : OP_ROUTE_ADD;
        inv_op.route = op->route;
        if (op->type == OP_ROUTE_DEL) {
            /* Putting back a route plumbd did not own leaves it foreign. */
            bool owned = false;
            for (size_t i = 0; inv && i < inv->nroutes && !owned; i++)
                owned = streq(inv->routes[i].owner, op->owner) &&
                        route_spec_equal(&inv->routes[i].rt, &op->route);
            inv_op.forget = !owned;
        }
        break;
    }
    case OP_RULE_ADD:
    case OP_RULE_DEL: {
        bool there = false;
        for (size_t i = 0; i < before->nrules && !there; i++)
            there = rule_matches_live(&op->rule, &before->rules[i], true);
        if (op->type == OP_RULE_ADD ? there : !there) {
            op_clear(&inv_op); /* already as asked: nothing to undo */
            return -ENOENT;
        }
        inv_op.type = op->type == OP_RULE_ADD ? OP_RULE_DEL : OP_RULE_ADD;
        inv_op.rule = op->rule;
        if (op->type == OP_RULE_DEL) {
            /* Putting back a rule plumbd did not own leaves it foreign. */
            bool owned = false;
            for (size_t i = 0; inv && i < inv->nrules && !owned; i++)
                owned = streq(inv->rules[i].owner, op->owner) &&
                        rule_spec_covers(&inv->rules[i].rule, &op->rule);
            inv_op.forget = !owned;
        }
        break;
    }
    case OP_DNS_SET:
    case OP_FORGET:
        if (!op->dns.set) {
            op_clear(&inv_op);
            return -ENOENT;
        }
        /* The before-image is in the op: write it back (or remove the file
         * when there was none), and hand the ownership back. */
        inv_op.type = op->type;
        dns_op_copy(&inv_op.dns, &op->dns);
        inv_op.dns.remove = !op->dns.prev_exists;
        free(inv_op.dns.content);
        free(inv_op.dns.holder);
        inv_op.dns.content = TAKE_PTR(inv_op.dns.prev);
        inv_op.dns.prev_exists = !op->dns.remove;
        inv_op.dns.prev = op->dns.remove ? NULL : xstrdup(op->dns.content ? op->dns.content : "");
        inv_op.dns.holder = TAKE_PTR(inv_op.dns.prev_holder);
        inv_op.dns.prev_holder = op->dns.holder ? xstrdup(op->dns.holder) : NULL;
        if (op->type == OP_DNS_SET && !inv_op.dns.remove && !inv_op.dns.content)
            inv_op.dns.content = xstrdup("");
        break;
    case _OP_TYPE_MAX:
        op_clear(&inv_op);
        return -ENOENT;
    }
    *ret = inv_op;
    return 0;
}

/* Read-back: is what op asked for visible in `after`? */
bool op_verify(const struct op *op, const struct live_ns *after, char **ret_msg)
{
    const struct live_link *l = live_find_link(after, op->ifname);
    switch (op->type) {
    case OP_BRIDGE_ADD:
    case OP_LINK_SET:
        if (!l) {
            *ret_msg = xasprintf("%s: desired to exist, current absent", op->ifname);
            return false;
        }
        if ((op->set & LS_MTU) && l->mtu != op->mtu) {
            *ret_msg = xasprintf("%s.mtu: desired %u, current %u", op->ifname, op->mtu, l->mtu);
            return false;
        }
        if ((op->set & LS_UP) && (bool)(l->flags & IFF_UP) != op->up) {
            *ret_msg = xasprintf("%s.state: desired %s, current %s", op->ifname,
                                 op->up ? "up" : "down", op->up ? "down" : "up");
            return false;
        }
        if (op->set & LS_MASTER) {
            const struct live_link *m = live_find_ifindex(after, l->master);
            if (!streq(m ? m->name : "", op->master)) {
                *ret_msg = xasprintf("%s.controller: desired %s, current %s", op->ifname,
                                     op->master[0] ? op->master : "none",
                                     m ? m->name : "none");
                return false;
            }
        }
        if ((op->set & LS_STP) && l->stp >= 0 && l->stp != op->stp) {
            *ret_msg = xasprintf("%s.bridge.options.stp.enabled: desired %s, current %s",
                                 op->ifname, op->stp ? "true" : "false",
                                 l->stp ? "true" : "false");
            return false;
        }
        if ((op->set & LS_PROMISC) && (bool)(l->flags & IFF_PROMISC) != op->promisc) {
            *ret_msg = xasprintf("%s.promiscuous: desired %s, current %s", op->ifname,
                                 op->promisc ? "on" : "off", op->promisc ? "off" : "on");
            return false;
        }
        if ((op->set & LS_VLAN_FILTERING) && l->vlan_filtering >= 0 &&
            l->vlan_filtering != op->vlan_filtering) {
            *ret_msg = xasprintf("%s.vlan_filtering: desired %d, current %d", op->ifname,
                                 op->vlan_filtering, l->vlan_filtering);
            return false;
        }
        if ((op->set & LS_BROPTS) && !bropts_verify(op->ifname, &op->bropts, &l->bropts, ret_msg))
            return false;
        if ((op->set & LS_BRPORT) && !brport_opts_verify(op->ifname, &op->brport, &l->brport,
                                                         ret_msg))
            return false;
        if ((op->set & LS_PORT_VLANS) && after->pvlans_known && l->master) {
            const struct live_link *m = live_find_ifindex(after, l->master);
            struct vlan_span *v = NULL;
            size_t n = m && m->vlan_filtering == 1 ? live_port_vlans(after, l->ifindex, &v) : 0;
            bool ok = m && m->vlan_filtering == 1 &&
                      vlan_spans_equal(v, n, op->pvlan.want, op->pvlan.nwant);
            free(v);
            if (!ok) {
                *ret_msg = xasprintf("%s.bridge.port.vlan: the port's VLANs are not as desired%s",
                                     op->ifname, m && m->vlan_filtering == 1 ? ""
                                     : " (its bridge does not filter VLANs)");
                return false;
            }
        }
        if ((op->set & LS_MAC) && (!l->has_mac || memcmp(l->mac, op->mac, 6))) {
            char a[18], b[18];
            *ret_msg = xasprintf("%s.mac-address: desired %s, current %s", op->ifname,
                                 mac_format(op->mac, a, sizeof(a)),
                                 l->has_mac ? mac_format(l->mac, b, sizeof(b)) : "none");
            return false;
        }
        if (op->type == OP_BRIDGE_ADD && op->cfg.kind != LK_NONE &&
            !link_cfg_satisfied(&op->cfg, &l->cfg, after, ret_msg)) {
            char *m = xasprintf("%s.%s", op->ifname, *ret_msg);
            free(*ret_msg);
            *ret_msg = m;
            return false;
        }
        if ((op->set & LS_ALIAS) && !streq_ptr(l->alias, op->alias) &&
            !(op->alias && !op->alias[0] && !l->alias)) {
            *ret_msg = xasprintf("%s.description: desired \"%s\", current \"%s\"", op->ifname,
                                 op->alias ? op->alias : "", l->alias ? l->alias : "");
            return false;
        }
        return true;
    case OP_LINK_DEL:
        if (l) {
            *ret_msg = xasprintf("%s: desired absent, still present", op->ifname);
            return false;
        }
        return true;
    case OP_ADDR_ADD:
    case OP_ADDR_DEL: {
        bool present = l && live_has_addr(after, l->ifindex, &op->addr);
        if (present != (op->type == OP_ADDR_ADD)) {
            char a[64];
            *ret_msg = xasprintf("%s.address %s: desired %s, current %s", op->ifname,
                                 ipaddr_format(&op->addr, true, a, sizeof(a)),
                                 op->type == OP_ADDR_ADD ? "present" : "absent",
                                 present ? "present" : "absent");
            return false;
        }
        return true;
    }
    case OP_ROUTE_ADD:
    case OP_ROUTE_DEL: {
        bool present = false;
        for (size_t i = 0; i < after->nroutes && !present; i++)
            present = route_matches_live(&op->route, &after->routes[i], after, true);
        if (present != (op->type == OP_ROUTE_ADD)) {
            char a[64];
            *ret_msg = xasprintf("routes.config %s (next-hop-interface %s, table-id %u, metric %u): "
                                 "desired %s, current %s",
                                 ipaddr_format(&op->route.dst, true, a, sizeof(a)),
                                 op->route.ifname[0] ? op->route.ifname : "none", op->route.table,
                                 op->route.metric, present ? "absent" : "present",
                                 present ? "present" : "absent");
            return false;
        }
        return true;
    }
    case OP_DNS_SET: {
        /* Read the file back: removed, or holding what was written (the
         * servers, search domains and options; comments aside). */
        _cleanup_free_ char *text = NULL;
        int r = dns_read(op->dns.path, &text);
        if (op->dns.remove) {
            if (r == -ENOENT)
                return true;
            *ret_msg = xasprintf("dns-resolver: %s: desired no file, current %s", op->dns.path,
                                 r < 0 ? strerror(-r) : "present");
            return false;
        }
        if (r < 0 && r != -ENOENT) {
            *ret_msg = xasprintf("dns-resolver: %s: %s", op->dns.path, strerror(-r));
            return false;
        }
        struct dns_config want, have;
        dns_parse(op->dns.content, &want);
        dns_parse(r < 0 ? NULL : text, &have);
        char *m = NULL;
        if (want.extra) /* a file put back as it was: byte for byte */
            m = streq(text, op->dns.content)
                    ? NULL
                    : xasprintf("dns-resolver: %s: does not hold what was written", op->dns.path);
        else
            m = dns_mismatch(&want, &have);
        if (!m && !want.extra && r == -ENOENT && op->dns.content && op->dns.content[0])
            m = xasprintf("dns-resolver: %s: desired present, current no file", op->dns.path);
        dns_config_free(&want);
        dns_config_free(&have);
        if (m) {
            *ret_msg = m;
            return false;
        }
        return true;
    }
    case OP_RULE_ADD:
    case OP_RULE_DEL: {
        bool present = false;
        for (size_t i = 0; i < after->nrules && !present; i++)
            present = rule_matches_live(&op->rule, &after->rules[i], true);
        if (present != (op->type == OP_RULE_ADD)) {
            _cleanup_free_ char *d = rule_describe(&op->rule);
            *ret_msg = xasprintf("route-rules.config %s: desired %s, current %s", d,
                                 present ? "absent" : "present", present ? "present" : "absent");
            return false;
        }
        return true;
    }
    case OP_POD_ATTACH:
    case OP_POD_DETACH:
    case OP_FORGET:
    case OP_SYSCTL: /* not in the snapshot */
    case _OP_TYPE_MAX:
        break;
    }
    return true;
}
