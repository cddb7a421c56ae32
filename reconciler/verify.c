/* verify.c - read-back verification: is a policy's desired state held by
 * the node's current state? (nmstate's verify: desired ⊆ current.)
 *
 * Both sides are JSON trees in nmstate's schema: the desired one converted
 * from the policy's YAML (verify_desired_json), the current one built by
 * show.c from a fresh netlink snapshot. Comparing the trees rather than
 * the validated model means every key a policy may give is read back as
 * soon as show prints it, without code here. The rules:
 *
 *  - interfaces, by name: `state: absent` must not exist, `state: ignore`
 *    is not looked at, any other must exist with every key the policy
 *    gives equal to show's (no state: up, nmstate's default). `type: ethernet` stands for any existing
 *    device the validator takes as one (show names veths `veth`),
 *    `unknown` for any type.
 *  - a list of maps with a `name` (bridge.port): every desired item is
 *    there, compared key by key; extra items are tolerated (the pods'
 *    veths are ports of the bridge too, and the planner releases only
 *    ports it enslaved). A list of maps without names: every desired item
 *    is held by some current item. A list of scalars: the same set.
 *  - ipv4/ipv6.address: a set of ip/prefix-length; every desired address
 *    is there; extra ones are tolerated (addresses plumbd did not add stay,
 *    as with nmstate) unless `allow-extra-address: false` (IPv6 link-local
 *    addresses always, and with `dhcp`/`autoconf` true any: those come and
 *    go with leases and router advertisements).
 *  - routes.config: a present entry matches some current route on every
 *    key it gives (table-id defaults to main, 254, as does 0; an IPv6
 *    metric 0 is the kernel's 1024); an absent entry is a
 *    wildcard that must match no current route, except one a present entry
 *    of this or another policy wants (the planner keeps those).
 *  - route-rules.config: the same, rules normalized as the validator does
 *    (family from the addresses, route-table 254 for lookups, fwmask
 *    0xffffffff with a fwmark, marks as integers or "0x10" strings, no
 *    priority: any).
 *  - dns-resolver.config: server, search and options equal as ordered
 *    lists (one not given: empty), as the file holds exactly those lines.
 *  - scalars: numbers numerically ("0x10" and 16 are equal), IP addresses
 *    and MACs in canonical form (case, zero compression), booleans. A
 *    desired false, 0, "", [] or {} equals a key show leaves out (show
 *    omits what is unset: no description, no fwmark).
 *  - keys in verify_skipped are not compared (below, with the reason), and
 *    keys the validator warned about as not implemented are not in the
 *    desired tree at all. A value still holding an nmstate capture
 *    reference ("{{ capture.x }}") is not compared, nor an interface, route
 *    or rule entry holding one.
 *
 * Costs one walk of the desired tree; each desired interface, route or
 * rule is looked up linearly in the current list (a node's show lists a
 * few hundred entries; verification runs only after a policy's writes). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <strings.h>

#include "model.h"
#include "verify.h"

const struct verify_skip verify_skipped[] = {
    {"interfaces[].ipv4.enabled",
     "show derives it from the addresses and plumbd does not act on it: the addresses are compared"},
    {"interfaces[].ipv6.enabled",
     "show derives it from the addresses and plumbd does not act on it: the addresses are compared"},
    {"interfaces[].ipv4.dhcp",
     "a lease may still be pending (the policy is Available meanwhile); the leased address is "
     "read back by its own operation"},
    {"interfaces[].ipv6.dhcp", "DHCPv6 is not supported (a warning)"},
    {"interfaces[].ipv6.autoconf", "sysctls, read back by their own operations, not in show's tree "
     "when off"},
    {"interfaces[].ipv4.allow-extra-address", "a verification option, not state"},
    {"interfaces[].ipv6.allow-extra-address", "a verification option, not state"},
    /* DHCP client options: what a lease is used for, not kernel state
     * show could read back. */
    {"interfaces[].ipv4.auto-dns", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv6.auto-dns", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv4.auto-gateway", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv6.auto-gateway", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv4.auto-routes", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv6.auto-routes", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv4.auto-route-table-id", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv6.auto-route-table-id", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv4.auto-route-metric", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv6.auto-route-metric", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv4.dhcp-client-id", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv6.dhcp-duid", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv4.dhcp-send-hostname", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv6.dhcp-send-hostname", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv4.dhcp-custom-hostname", "a DHCP client option, not kernel state"},
    {"interfaces[].ipv6.dhcp-custom-hostname", "a DHCP client option, not kernel state"},
    {"interfaces[].copy-mac-from",
     "an instruction, not state: the MAC it gives is read back by the operation that set it"},
    {"routes.running", "reported state, ignored when applying"},
    {"route-rules.running", "reported state, ignored when applying"},
    {"dns-resolver.running", "reported state, ignored when applying"},
    {NULL, NULL},
};

static bool skipped(const char *spath)
{
    for (const struct verify_skip *s = verify_skipped; s->path; s++)
        if (streq(s->path, spath))
            return true;
    return false;
}

/* ---- results -------------------------------------------------------------- */

struct vctx {
    const struct verify_opts *o;
    struct verify_result *r;
};

static void mismatch(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mismatch(struct vctx *c, const char *fmt, ...)
{
    c->r->total++;
    if (c->r->n >= VERIFY_MAX_REPORTED)
        return;
    va_list ap;
    char *m = NULL;
    va_start(ap, fmt);
    if (vasprintf(&m, fmt, ap) < 0)
        abort();
    va_end(ap);
    *ARRAY_PUSH(c->r->v, c->r->n) = m;
}

void verify_result_free(struct verify_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

char *verify_message(const struct verify_result *r)
{
    if (!r->total)
        return NULL;
    char *m = xstrdup("");
    for (size_t i = 0; i < r->n; i++) {
        char *t = xasprintf("%s%s%s", m, i ? "; " : "", r->v[i]);
        free(m);
        m = t;
    }
    if (r->total > r->n) {
        char *t = xasprintf("%s (and %zu more)", m, r->total - r->n);
        free(m);
        m = t;
    }
    return m;
}

/* A value as a message shows it: strings bare ("" when empty), the rest
 * as compact JSON; NULL is "absent". Caller frees. */
static char *fmt(const json_t *v)
{
    if (!v)
        return xstrdup("absent");
    if (json_is_string(v))
        return xstrdup(json_string_length(v) ? json_string_value(v) : "\"\"");
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    return s ? s : xstrdup("?");
}

static void mismatch_values(struct vctx *c, const char *path, const json_t *d, const json_t *cur)
{
    _cleanup_free_ char *a = fmt(d);
    _cleanup_free_ char *b = fmt(cur);
    mismatch(c, "%s: desired %s, current %s", path, a, b);
}

/* ---- scalars -------------------------------------------------------------- */

/* A whole string as an integer (decimal or 0x hex). */
static bool str_ll(const char *s, long long *ret)
{
    char *end;
    if (!s || !*s)
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || *end)
        return false;
    *ret = v;
    return true;
}

static bool json_ll(const json_t *v, long long *ret)
{
    if (json_is_integer(v)) {
        *ret = json_integer_value(v);
        return true;
    }
    return json_is_string(v) && str_ll(json_string_value(v), ret);
}

static bool str_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *ret = true, true;
        if (strcasecmp(s, no[i]) == 0)
            return *ret = false, true;
    }
    return false;
}

static bool scalar_eq(const json_t *d, const json_t *c)
{
    if (json_is_null(d))
        return true;
    if (json_is_integer(d) && json_is_integer(c))
        return json_integer_value(d) == json_integer_value(c);
    if (json_is_number(d) && json_is_number(c))
        return json_number_value(d) == json_number_value(c);
    if (json_is_boolean(d) && json_is_boolean(c))
        return json_is_true(d) == json_is_true(c);
    if (json_is_string(d) && json_is_string(c)) {
        const char *a = json_string_value(d), *b = json_string_value(c);
        struct ipaddr x, y;
        uint8_t m1[6], m2[6];
        if (streq(a, b))
            return true;
        if (ipaddr_parse(a, -1, &x) == 0 && ipaddr_parse(b, -1, &y) == 0)
            return ipaddr_equal(&x, &y);
        if (mac_parse(a, m1) == 0 && mac_parse(b, m2) == 0)
            return memcmp(m1, m2, 6) == 0;
        return false;
    }
    /* A string on one side: "9000", "0x10", "true" against a number or a
     * bool (YAML quoting, or show printing a string). */
    const json_t *s = json_is_string(d) ? d : json_is_string(c) ? c : NULL;
    const json_t *o = s == d ? c : d;
    long long i;
    bool b;
    if (!s)
        return false;
    if (json_is_integer(o) && str_ll(json_string_value(s), &i))
        return i == json_integer_value(o);
    if (json_is_boolean(o) && str_bool(json_string_value(s), &b))
        return b == json_is_true(o);
    return false;
}

/* Nothing asked: what show leaves out when it is unset. */
static bool is_default(const json_t *v)
{
    const char *k;
    json_t *m;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return true;
    case JSON_TRUE:
        return false;
    case JSON_INTEGER:
        return json_integer_value(v) == 0;
    case JSON_REAL:
        return json_real_value(v) == 0;
    case JSON_STRING:
        return json_string_length(v) == 0;
    case JSON_ARRAY:
        return json_array_size(v) == 0;
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, k, m)
            if (!is_default(m))
                return false;
        return true;
    }
    return false;
}

/* An nmstate capture reference left in the desired state ("{{ capture.x
 * }}"): what it stands for is not known here, so it is not compared (an
 * interface or entry naming one is skipped whole). */
static bool is_template(const json_t *v)
{
    const char *s = json_string_value(v), *o;
    return s && (o = strstr(s, "{{")) && strstr(o, "}}");
}

static bool has_template(const json_t *v)
{
    const char *k;
    size_t i;
    json_t *m;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m)
            if (has_template(m))
                return true;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
            if (has_template(m))
                return true;
    }
    return is_template(v);
}

/* ---- generic trees ------------------------------------------------------- */

#define VPATH 512

/* Paths longer than VPATH are cut: they only name things in messages. */
static void pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, VPATH, fmt, ap);
    va_end(ap);
}

static void join(char *buf, const char *parent, const char *key)
{
    pathf(buf, "%s%s%s", parent, parent[0] ? "." : "", key);
}

static const json_t *find_by_name(const json_t *list, const char *name)
{
    size_t i;
    json_t *it;
    if (!json_is_array(list))
        return NULL;
    json_array_foreach(list, i, it)
        if (streq(json_string_value(json_object_get(it, "name")), name))
            return it;
    return NULL;
}

static void cmp(struct vctx *c, const json_t *d, const json_t *cur, const char *path,
                const char *spath);

static void cmp_object(struct vctx *c, const json_t *d, const json_t *cur, const char *path,
                       const char *spath)
{
    const char *k;
    json_t *v;
    if (cur && !json_is_object(cur)) {
        mismatch_values(c, path, d, cur);
        return;
    }
    json_object_foreach((json_t *)d, k, v) {
        char p[VPATH], sp[VPATH];
        join(p, path, k);
        join(sp, spath, k);
        cmp(c, v, cur ? json_object_get(cur, k) : NULL, p, sp);
    }
}

/* Would d verify against cur (no report)? */
static bool holds(const struct vctx *c, const json_t *d, const json_t *cur, const char *path,
                  const char *spath)
{
    struct verify_result tmp = {0};
    struct vctx t = {.o = c->o, .r = &tmp};
    cmp(&t, d, cur, path, spath);
    bool ok = tmp.total == 0;
    verify_result_free(&tmp);
    return ok;
}

static bool has_scalar(const json_t *list, const json_t *v)
{
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
        if (!json_is_object(it) && !json_is_array(it) && scalar_eq(v, it))
            return true;
    return false;
}

static void cmp_array(struct vctx *c, const json_t *d, const json_t *cur, const char *path,
                      const char *spath)
{
    char sp[VPATH], p[VPATH];
    size_t i;
    json_t *di;
    bool scalars = true;
    pathf(sp, "%s[]", spath);
    if (!cur || json_is_null(cur)) {
        if (json_array_size(d))
            mismatch_values(c, path, d, NULL);
        return;
    }
    if (!json_is_array(cur)) {
        mismatch_values(c, path, d, cur);
        return;
    }
    json_array_foreach(d, i, di) {
        if (json_is_object(di)) {
            scalars = false;
            const char *name = json_string_value(json_object_get(di, "name"));
            if (name) {
                const json_t *ci = find_by_name(cur, name);
                pathf(p, "%s[%s]", path, name);
                if (!ci)
                    mismatch(c, "%s: desired present, current absent", p);
                else
                    cmp_object(c, di, ci, p, sp);
                continue;
            }
            size_t j;
            json_t *ci;
            bool found = false;
            json_array_foreach(cur, j, ci)
                if ((found = holds(c, di, ci, path, sp)))
                    break;
            if (!found) {
                _cleanup_free_ char *a = fmt(di);
                mismatch(c, "%s %s: desired present, current absent", path, a);
            }
        } else if (json_is_array(di))
            scalars = false; /* nmstate has no lists of lists */
    }
    /* A list of scalars is a set: the same items, in any order. */
    if (!scalars)
        return;
    bool same = true;
    json_array_foreach(d, i, di)
        same = same && has_scalar(cur, di);
    json_array_foreach(cur, i, di)
        same = same && (json_is_object(di) || json_is_array(di) || has_scalar(d, di));
    if (!same)
        mismatch_values(c, path, d, cur);
}

/* ---- interfaces ----------------------------------------------------------- */

static void cmp_type(struct vctx *c, const json_t *d, const json_t *cur, const char *path)
{
    const char *want = json_string_value(d), *have = json_string_value(cur);
    if (streq(want, "unknown"))
        return;
    /* The validator takes ethernet for any existing device it configures
     * without creating it: show names veths veth. */
    if (streq(want, "ethernet") && (streq(have, "ethernet") || streq(have, "veth")))
        return;
    if (!cur || !scalar_eq(d, cur))
        mismatch_values(c, path, d, cur);
}

static bool addr_from_json(const json_t *it, struct ipaddr *ret)
{
    long long plen;
    const char *ip = json_string_value(json_object_get(it, "ip"));
    if (!ip || ipaddr_parse(ip, -1, ret) < 0)
        return false;
    if (json_ll(json_object_get(it, "prefix-length"), &plen) && plen >= 0 &&
        plen <= (ret->family == AF_INET ? 32 : 128))
        ret->prefix = (uint8_t)plen;
    return true;
}

static bool addr_in(const json_t *list, const struct ipaddr *a)
{
    size_t i;
    json_t *it;
    struct ipaddr b;
    json_array_foreach(list, i, it)
        if (addr_from_json(it, &b) && ipaddr_equal(a, &b))
            return true;
    return false;
}

static bool link_local6(const struct ipaddr *a)
{
    return a->family == AF_INET6 && a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80;
}

/* ipv4/ipv6.address of one interface; ip is the desired ipv4/ipv6 map. */
static void cmp_addresses(struct vctx *c, const json_t *ip, const json_t *d, const json_t *cur,
                          const char *path)
{
    size_t i;
    json_t *it;
    char a[64];
    bool allow_extra = !json_is_false(json_object_get(ip, "allow-extra-address")) ||
                       json_is_true(json_object_get(ip, "dhcp")) ||
                       json_is_true(json_object_get(ip, "autoconf"));
    if (!json_is_array(d))
        return;
    if (!json_is_array(cur))
        cur = NULL;
    json_array_foreach(d, i, it) {
        struct ipaddr x;
        if (!addr_from_json(it, &x))
            continue; /* the validator refused it already */
        if (!cur || !addr_in(cur, &x))
            mismatch(c, "%s %s: desired present, current absent", path,
                     ipaddr_format(&x, true, a, sizeof(a)));
    }
    if (allow_extra || !cur)
        return;
    json_array_foreach(cur, i, it) {
        struct ipaddr x;
        if (addr_from_json(it, &x) && !link_local6(&x) && !addr_in(d, &x))
            mismatch(c, "%s %s: desired absent (allow-extra-address: false), current present",
                     path, ipaddr_format(&x, true, a, sizeof(a)));
    }
}

static void cmp_ip(struct vctx *c, const json_t *d, const json_t *cur, const char *path,
                   const char *spath)
{
    const char *k;
    json_t *v;
    if (!json_is_object(d)) {
        cmp(c, d, cur, path, "");
        return;
    }
    if (cur && !json_is_object(cur))
        cur = NULL;
    json_object_foreach((json_t *)d, k, v) {
        char p[VPATH], sp[VPATH];
        join(p, path, k);
        join(sp, spath, k);
        if (streq(k, "address"))
            cmp_addresses(c, d, v, json_object_get(cur, "address"), p);
        else
            cmp(c, v, cur ? json_object_get(cur, k) : NULL, p, sp);
    }
}

static void cmp_interfaces(struct vctx *c, const json_t *d, const json_t *cur)
{
    size_t i;
    json_t *di;
    if (!json_is_array(d))
        return;
    json_array_foreach(d, i, di) {
        const char *name = json_string_value(json_object_get(di, "name"));
        const char *state = json_string_value(json_object_get(di, "state"));
        if (!name || streq(state, "ignore") || is_template(json_object_get(di, "name")))
            continue;
        const json_t *ci = find_by_name(cur, name);
        if (streq(state, "absent")) {
            /* a physical device cannot go: absent takes it down */
            const char *ct = json_string_value(json_object_get(ci, "type"));
            const char *dt = json_string_value(json_object_get(di, "type"));
            const char *cs = json_string_value(json_object_get(ci, "state"));
            if (ci && !(streq(cs, "down") && (streq(dt, "ethernet") || streq(ct, "ethernet") ||
                                              streq(ct, "loopback"))))
                mismatch(c, "%s: desired absent, current present", name);
            continue;
        }
        if (streq(state, "down")) {
            /* a virtual device is deleted by down, a physical one is down */
            const char *cs = json_string_value(json_object_get(ci, "state"));
            if (ci && !streq(cs, "down"))
                mismatch(c, "%s.state: desired down, current %s", name, cs ? cs : "absent");
            continue;
        }
        if (!ci) {
            mismatch(c, "%s: desired present, current absent", name);
            continue;
        }
        const char *k;
        json_t *v;
        if (!json_object_get(di, "state")) { /* nmstate's default, the planner's too */
            json_t *up = json_string("up");
            char p[VPATH];
            join(p, name, "state");
            cmp(c, up, json_object_get(ci, "state"), p, "interfaces[].state");
            json_decref(up);
        }
        json_object_foreach(di, k, v) {
            char p[VPATH], sp[VPATH];
            if (streq(k, "name"))
                continue;
            join(p, name, k);
            join(sp, "interfaces[]", k);
            cmp(c, v, json_object_get(ci, k), p, sp);
        }
    }
}

/* Dispatch on the schema path: the few keys with their own rules, then
 * the generic walk. */
static void cmp(struct vctx *c, const json_t *d, const json_t *cur, const char *path,
                const char *spath)
{
    if (!d || json_is_null(d) || skipped(spath) || is_template(d))
        return;
    if (streq(spath, "interfaces[].type")) {
        cmp_type(c, d, cur, path);
        return;
    }
    if (streq(spath, "interfaces[].ipv4") || streq(spath, "interfaces[].ipv6")) {
        cmp_ip(c, d, cur, path, spath);
        return;
    }
    if (json_is_object(d)) {
        cmp_object(c, d, cur, path, spath);
        return;
    }
    if (json_is_array(d)) {
        cmp_array(c, d, cur, path, spath);
        return;
    }
    if (!cur || json_is_null(cur)) {
        if (!is_default(d))
            mismatch_values(c, path, d, NULL);
        return;
    }
    if (!scalar_eq(d, cur))
        mismatch_values(c, path, d, cur);
}

/* ---- routes.config -------------------------------------------------------- */

/* Does the current route have every property the entry gives? A present
 * entry without table-id means the main table. */
static bool route_matches(const json_t *want, const json_t *have, bool present)
{
    const char *k;
    json_t *v;
    if (present && !json_object_get(want, "table-id")) {
        long long t;
        if (!json_ll(json_object_get(have, "table-id"), &t) || t != 254)
            return false;
    }
    const char *dst = json_string_value(json_object_get(have, "destination"));
    bool v6 = dst && strchr(dst, ':');
    json_object_foreach((json_t *)want, k, v) {
        long long x;
        if (streq(k, "state"))
            continue;
        const json_t *h = json_object_get(have, k);
        /* As the validator reads them: table-id 0 is unset (main), and an
         * IPv6 metric 0 is the kernel's 1024. */
        if (present && json_ll(v, &x) && x == 0 &&
            (streq(k, "table-id") || (streq(k, "metric") && v6))) {
            long long y;
            if (!json_ll(h, &y) || y != (streq(k, "metric") ? 1024 : 254))
                return false;
            continue;
        }
        if (h ? !scalar_eq(v, h) : !is_default(v))
            return false;
    }
    return true;
}

/* Is a present entry of this or another policy asking for this route? */
static bool route_wanted(const struct vctx *c, const json_t *config, const json_t *have)
{
    for (size_t p = 0; p <= c->o->nothers; p++) {
        const json_t *list =
            p == 0 ? config : json_object_get(json_object_get(c->o->others[p - 1], "routes"), "config");
        size_t i;
        json_t *e;
        if (p > 0 && !c->o->others[p - 1])
            continue;
        json_array_foreach(list, i, e)
            if (!streq(json_string_value(json_object_get(e, "state")), "absent") &&
                route_matches(e, have, true))
                return true;
    }
    return false;
}

/* An entry as messages show it: its JSON without `state`. */
static char *entry_fmt(const json_t *e)
{
    json_t *copy = json_copy((json_t *)e);
    json_object_del(copy, "state");
    char *s = fmt(copy);
    json_decref(copy);
    return s;
}

static void cmp_routes_config(struct vctx *c, const json_t *d, const json_t *cur)
{
    size_t i, j;
    json_t *e, *r;
    if (!json_is_array(d))
        return;
    if (!json_is_array(cur))
        cur = NULL;
    json_array_foreach(d, i, e) {
        if (!json_is_object(e) || has_template(e))
            continue;
        bool absent = streq(json_string_value(json_object_get(e, "state")), "absent");
        bool found = false;
        json_array_foreach(cur, j, r) {
            if (!route_matches(e, r, !absent))
                continue;
            if (!absent) {
                found = true;
                break;
            }
            if (route_wanted(c, d, r))
                continue;
            _cleanup_free_ char *a = entry_fmt(e);
            _cleanup_free_ char *b = fmt(r);
            mismatch(c, "routes.config %s: desired absent, current present (%s)", a, b);
        }
        if (!absent && !found) {
            _cleanup_free_ char *a = entry_fmt(e);
            mismatch(c, "routes.config %s: desired present, current absent", a);
        }
    }
}

/* ---- route-rules.config --------------------------------------------------- */

/* A rule in the validator's normalized form; for an absent entry, only
 * what it gives (the rest "any"). */
struct vrule {
    int family;         /* AF_INET/AF_INET6; 0 any */
    int from, to;       /* -1 any, 0 none, 1 the address */
    struct ipaddr from_a, to_a;
    long long prio;     /* -1 any */
    long long table;    /* -1 any */
    const char *action; /* NULL any, "" a table lookup */
    long long fwmark, fwmask; /* -1 any */
    const char *iif;    /* NULL any, "" none */
};

static void rule_addr(const json_t *v, int *set, struct ipaddr *a, int *family)
{
    const char *s = json_string_value(v);
    if (!s)
        return;
    if (!*s) {
        *set = 0;
        return;
    }
    if (ipaddr_parse(s, -1, a) == 0) {
        *set = 1;
        *family = a->family;
    }
}

/* full: a present entry or a current rule, with the validator's defaults. */
static void rule_parse(const json_t *o, bool full, struct vrule *r)
{
    long long v;
    *r = (struct vrule){.from = -1, .to = -1, .prio = -1, .table = -1, .fwmark = -1, .fwmask = -1};
    rule_addr(json_object_get(o, "ip-from"), &r->from, &r->from_a, &r->family);
    rule_addr(json_object_get(o, "ip-to"), &r->to, &r->to_a, &r->family);
    const char *fam = json_string_value(json_object_get(o, "family"));
    if (!r->family && fam)
        r->family = streq(fam, "ipv6") ? AF_INET6 : AF_INET;
    if (json_ll(json_object_get(o, "priority"), &v) && v >= 0)
        r->prio = v;
    if (json_ll(json_object_get(o, "route-table"), &v))
        r->table = v ? v : 254;
    r->action = json_string_value(json_object_get(o, "action"));
    if (json_ll(json_object_get(o, "fwmark"), &v))
        r->fwmark = v;
    if (json_ll(json_object_get(o, "fwmask"), &v))
        r->fwmask = v;
    r->iif = json_string_value(json_object_get(o, "iif"));
    if (!full)
        return;
    if (!r->family)
        r->family = AF_INET;
    if (r->from < 0)
        r->from = 0;
    if (r->to < 0)
        r->to = 0;
    if (!r->action)
        r->action = "";
    if (r->action[0])
        r->table = -1; /* a blackhole/unreachable/prohibit rule looks up nothing */
    else if (r->table < 0)
        r->table = 254;
    if (r->fwmark < 0)
        r->fwmark = 0;
    if (r->fwmask < 0)
        r->fwmask = r->fwmark ? 0xffffffffLL : 0;
    if (!r->iif)
        r->iif = "";
}

static bool rule_covers(const struct vrule *w, const struct vrule *h)
{
    if (w->family && w->family != h->family)
        return false;
    if (w->from >= 0 && (w->from != h->from || (w->from && !ipaddr_equal(&w->from_a, &h->from_a))))
        return false;
    if (w->to >= 0 && (w->to != h->to || (w->to && !ipaddr_equal(&w->to_a, &h->to_a))))
        return false;
    if (w->prio >= 0 && w->prio != h->prio)
        return false;
    if (w->table >= 0 && w->table != h->table)
        return false;
    if (w->action && !streq_ptr(w->action, h->action))
        return false;
    if (w->fwmark >= 0 && w->fwmark != h->fwmark)
        return false;
    if (w->fwmask >= 0 && w->fwmask != h->fwmask)
        return false;
    return !w->iif || streq_ptr(w->iif, h->iif);
}

static bool rule_wanted(const struct vctx *c, const json_t *config, const struct vrule *have)
{
    for (size_t p = 0; p <= c->o->nothers; p++) {
        const json_t *list = p == 0 ? config
                                    : json_object_get(json_object_get(c->o->others[p - 1],
                                                                      "route-rules"), "config");
        size_t i;
        json_t *e;
        if (p > 0 && !c->o->others[p - 1])
            continue;
        json_array_foreach(list, i, e) {
            struct vrule w;
            if (streq(json_string_value(json_object_get(e, "state")), "absent"))
                continue;
            rule_parse(e, true, &w);
            if (rule_covers(&w, have))
                return true;
        }
    }
    return false;
}

static void cmp_rules_config(struct vctx *c, const json_t *d, const json_t *cur)
{
    size_t i, j;
    json_t *e, *r;
    if (!json_is_array(d))
        return;
    if (!json_is_array(cur))
        cur = NULL;
    json_array_foreach(d, i, e) {
        if (!json_is_object(e) || has_template(e))
            continue;
        bool absent = streq(json_string_value(json_object_get(e, "state")), "absent");
        bool found = false;
        struct vrule w;
        rule_parse(e, !absent, &w);
        json_array_foreach(cur, j, r) {
            struct vrule h;
            rule_parse(r, true, &h);
            if (!rule_covers(&w, &h))
                continue;
            if (!absent) {
                found = true;
                break;
            }
            if (rule_wanted(c, d, &h))
                continue;
            _cleanup_free_ char *a = entry_fmt(e);
            _cleanup_free_ char *b = fmt(r);
            mismatch(c, "route-rules.config %s: desired absent, current present (%s)", a, b);
        }
        if (!absent && !found) {
            _cleanup_free_ char *a = entry_fmt(e);
            mismatch(c, "route-rules.config %s: desired present, current absent", a);
        }
    }
}

/* routes / route-rules: config has its own rules, the rest (running:
 * skipped) the generic walk. */
static void cmp_list_section(struct vctx *c, const char *section, const json_t *d,
                             const json_t *cur)
{
    const char *k;
    json_t *v;
    if (!json_is_object(d)) {
        cmp(c, d, cur, section, section);
        return;
    }
    if (cur && !json_is_object(cur))
        cur = NULL;
    json_object_foreach((json_t *)d, k, v) {
        char p[VPATH];
        join(p, section, k);
        const json_t *cv = cur ? json_object_get(cur, k) : NULL;
        if (!streq(k, "config"))
            cmp(c, v, cv, p, p);
        else if (streq(section, "routes"))
            cmp_routes_config(c, v, cv);
        else
            cmp_rules_config(c, v, cv);
    }
}

/* ---- dns-resolver ----------------------------------------------------------- */

static bool list_equal(const json_t *a, const json_t *b)
{
    size_t na = json_is_array(a) ? json_array_size(a) : 0;
    size_t nb = json_is_array(b) ? json_array_size(b) : 0;
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!scalar_eq(json_array_get(a, i), json_array_get(b, i)))
            return false;
    return true;
}

static void cmp_dns(struct vctx *c, const json_t *d, const json_t *cur)
{
    static const char *const lists[] = {"server", "search", "options"};
    const char *k;
    json_t *v;
    if (!c->o->check_dns || !json_is_object(d))
        return;
    json_object_foreach((json_t *)d, k, v) {
        char p[VPATH];
        join(p, "dns-resolver", k);
        if (!streq(k, "config") || !json_is_object(v)) {
            cmp(c, v, json_object_get(cur, k), p, p);
            continue;
        }
        /* The file holds exactly these lines: a list not given is empty. */
        const json_t *cc = json_object_get(cur, "config");
        for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
            const json_t *want = json_object_get(v, lists[i]), *have = json_object_get(cc, lists[i]);
            if (list_equal(want, have))
                continue;
            json_t *empty = json_array();
            char q[VPATH];
            join(q, p, lists[i]);
            mismatch_values(c, q, want ? want : empty, have ? have : empty);
            json_decref(empty);
        }
        const char *k2;
        json_t *v2;
        json_object_foreach(v, k2, v2) {
            char q[VPATH];
            bool listed = false;
            for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
                listed = listed || streq(k2, lists[i]);
            join(q, p, k2);
            if (!listed)
                cmp(c, v2, json_object_get(cc, k2), q, q);
        }
    }
}

size_t verify_state(const json_t *desired, const json_t *current, const struct verify_opts *o,
                    struct verify_result *ret)
{
    static const struct verify_opts none = {0};
    struct vctx c = {.o = o ? o : &none, .r = ret};
    size_t before = ret->total;
    const char *k;
    json_t *v;
    if (!json_is_object(desired))
        return 0;
    json_object_foreach((json_t *)desired, k, v) {
        const json_t *cur = json_object_get(current, k);
        if (streq(k, "interfaces"))
            cmp_interfaces(&c, v, cur);
        else if (streq(k, "routes") || streq(k, "route-rules"))
            cmp_list_section(&c, k, v, cur);
        else if (streq(k, "dns-resolver"))
            cmp_dns(&c, v, cur);
        else
            cmp(&c, v, cur, k, k);
    }
    return ret->total - before;
}

/* ---- YAML -> JSON ----------------------------------------------------------- */

/* Did the validator warn that this key is not implemented? */
static bool unimplemented(const struct diags *w, const struct ynode *key)
{
    for (size_t i = 0; w && key && i < w->n; i++)
        if (w->v[i].severity == DIAG_WARNING && w->v[i].line == key->line &&
            w->v[i].col == key->col && strstr(w->v[i].msg, "is not implemented yet"))
            return true;
    return false;
}

static json_t *str_json(const char *s)
{
    json_t *v = json_string(s);
    return v ? v : json_string_nocheck(s); /* not UTF-8: compared byte for byte */
}

static json_t *scalar_json(const struct ynode *n)
{
    bool b;
    long long i;
    if (!n->scalar)
        return json_null();
    if (n->quoted)
        return str_json(n->scalar);
    if (ynode_bool(n, &b) == 0)
        return json_boolean(b);
    if (ynode_int(n, &i) == 0)
        return json_integer(i);
    if (!n->scalar[0] || streq(n->scalar, "~") || strcasecmp(n->scalar, "null") == 0)
        return json_null();
    return str_json(n->scalar);
}

static json_t *to_json(const struct ynode *n, const struct diags *w, const char *spath)
{
    char sub[VPATH];
    json_t *v;
    switch (n->kind) {
    case YNODE_SCALAR:
        return scalar_json(n);
    case YNODE_MAP:
        v = json_object();
        for (size_t i = 0; i < n->n; i++) {
            join(sub, spath, n->keys[i]);
            struct ynode kn;
            if (n->keypos && unimplemented(w, ynode_key(n, i, &kn)) && !skipped(sub))
                continue;
            json_object_set_new_nocheck(v, n->keys[i], to_json(n->items[i], w, sub));
        }
        return v;
    case YNODE_SEQ:
        v = json_array();
        pathf(sub, "%s[]", spath);
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(v, to_json(n->items[i], w, sub));
        return v;
    }
    return json_null();
}

json_t *verify_desired_json(const struct ynode *state, const struct diags *warnings)
{
    return state ? to_json(state, warnings, "") : NULL;
}
