/* plan.c - desired + observed + owned -> ordered operations and conditions.
 *
 * Pure: everything comes from struct plan_input. The rules:
 *  - compare before writing: an attribute already as desired yields no op,
 *    so a converged node plans nothing;
 *  - an object is planned as a whole: if any precondition fails (a port is
 *    missing, an address is taken), none of its ops are planned and it
 *    reports Failing or Pending with the reason;
 *  - prune is mark-and-sweep over the inventory: whatever plumbd owns that
 *    no active object still wants is deleted (if plumbd created it) or put
 *    back to its before-image (if plumbd only changed it);
 *  - ops are sorted into phases so dependencies hold: detaches and
 *    restores, deletions, bridge creation, link settings, addresses, pod
 *    attachments. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdarg.h>

#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "ipam.h"
#include "journal.h"
#include "plan.h"
#include "store.h"

enum phase {
    PH_POD_DETACH,
    PH_RULE_DEL,
    PH_ROUTE_DEL,
    PH_RESTORE,
    PH_DELETE,
    PH_FORGET,
    PH_CREATE,
    PH_CREATE_UPPER, /* links on a base-iface, once the base exists */
    PH_SET,
    PH_ADDR_DEL,
    PH_ADDR_ADD,
    PH_ROUTE_ADD,
    PH_RULE_ADD,
    PH_DNS,
    PH_POD_ATTACH,
};

static const char *const op_names[_OP_TYPE_MAX] = {
    [OP_BRIDGE_ADD] = "bridge-add", [OP_LINK_SET] = "link-set",  [OP_LINK_DEL] = "link-del",
    [OP_ADDR_ADD] = "addr-add",     [OP_ADDR_DEL] = "addr-del",  [OP_POD_ATTACH] = "pod-attach",
    [OP_POD_DETACH] = "pod-detach", [OP_FORGET] = "forget",   [OP_SYSCTL] = "sysctl",
    [OP_ROUTE_ADD] = "route-add",   [OP_ROUTE_DEL] = "route-del",
    [OP_DNS_SET] = "dns-set",
    [OP_RULE_ADD] = "rule-add",     [OP_RULE_DEL] = "rule-del",
};

const char *op_type_to_string(enum op_type t)
{
    return t < _OP_TYPE_MAX ? op_names[t] : "?";
}

static const char *const cond_names[_COND_MAX] = {
    [COND_AVAILABLE] = "Available", [COND_PROGRESSING] = "Progressing",
    [COND_FAILING] = "Failing",     [COND_PENDING] = "Pending",
    [COND_NOT_MATCHING] = "NotMatching", [COND_DEGRADED] = "Degraded",
    [COND_ABORTED] = "Aborted",     [COND_STALLED] = "Stalled",
};

const char *condition_to_string(enum condition c)
{
    return c < _COND_MAX ? cond_names[c] : "Unknown";
}

int condition_from_string(const char *s)
{
    for (int c = 0; c < _COND_MAX; c++)
        if (streq(s, cond_names[c]))
            return c;
    return -EINVAL;
}

void plan_host_ifname(const char *pod_id, const char *pod_if, char ret[IFNAMSIZ_PLUMBD])
{
    uint64_t h = hash64(pod_id, strlen(pod_id), HASH64_SEED);
    h = hash64("/", 1, h);
    h = hash64(pod_if, strlen(pod_if), h);
    char hex[17];
    hash64_hex(h, hex);
    snprintf(ret, IFNAMSIZ_PLUMBD, "pl%.12s", hex);
}

/* "198.51.100.0/24 via 192.0.2.1 dev eth1 metric 100 table 254 src …" */
static char *route_describe(const struct nm_route *r)
{
    char d[64], g[64], sr[64];
    const char *t = route_type_to_string(r->type);
    return xasprintf("%s%s%s%s%s%s%s metric %u table %u%s%s", t ? t : "", t ? " " : "",
                     r->has_dst ? ipaddr_format(&r->dst, true, d, sizeof(d)) : "?",
                     r->has_gw ? " via " : "", r->has_gw ? ipaddr_format(&r->gw, false, g, sizeof(g)) : "",
                     r->ifname[0] ? " dev " : "", r->ifname, r->metric, r->table,
                     r->has_src ? " src " : "",
                     r->has_src ? ipaddr_format(&r->src, false, sr, sizeof(sr)) : "");
}

char *op_describe(const struct op *op)
{
    char a[64], m[18];
    switch (op->type) {
    case OP_BRIDGE_ADD:
    case OP_LINK_SET: {
        char buf[512];
        size_t n = 0;
        buf[0] = 0;
#define ADD(...) n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, __VA_ARGS__)
        if (op->set & LS_MASTER)
            ADD(" master=%s", op->master[0] ? op->master : "none");
        if (op->set & LS_MTU)
            ADD(" mtu=%u", op->mtu);
        if (op->set & LS_STP)
            ADD(" stp=%s", op->stp ? "on" : "off");
        if (op->set & LS_ALIAS)
            ADD(" alias=\"%s\"", op->alias ? op->alias : "");
        if (op->set & LS_PROMISC)
            ADD(" promisc=%s", op->promisc ? "on" : "off");
        if (op->set & LS_MAC)
            ADD(" mac=%s", mac_format(op->mac, m, sizeof(m)));
        if (op->set & LS_BOND_PORT)
            ADD(" (bond port: down first)");
        if (op->set & LS_VLAN_FILTERING)
            ADD(" vlan_filtering=%d", op->vlan_filtering);
        if (op->set & LS_UP)
            ADD(" %s", op->up ? "up" : "down");
#undef ADD
        if (op->type == OP_BRIDGE_ADD && op->cfg.kind != LK_NONE && op->cfg.kind != LK_BRIDGE) {
            _cleanup_free_ char *k = link_cfg_describe(&op->cfg);
            return xasprintf("link-add %s %s%s  # %s", op->ifname, k, buf, op->owner);
        }
        _cleanup_free_ char *extra = NULL;
        if (op->set & LS_BROPTS)
            bropts_describe(&op->bropts, &extra);
        if (op->set & LS_BRPORT)
            brport_opts_describe(&op->brport, &extra);
        if (op->set & LS_PORT_VLANS)
            vlan_spans_describe("vlans", op->pvlan.want, op->pvlan.nwant, &extra);
        return xasprintf("%s %s%s%s%s  # %s", op_type_to_string(op->type), op->ifname, buf,
                         extra ? extra : "", op->forget ? " (restore)" : "", op->owner);
    }
    case OP_LINK_DEL:
        return xasprintf("link-del %s  # %s", op->ifname, op->owner);
    case OP_ADDR_ADD:
    case OP_ADDR_DEL:
        return xasprintf("%s %s %s  # %s", op_type_to_string(op->type), op->ifname,
                         ipaddr_format(&op->addr, true, a, sizeof(a)), op->owner);
    case OP_ROUTE_ADD:
    case OP_ROUTE_DEL: {
        _cleanup_free_ char *r = route_describe(&op->route);
        return xasprintf("%s %s%s  # %s", op_type_to_string(op->type), r,
                         op->type == OP_ROUTE_ADD && op->forget ? " (restore)" : "", op->owner);
    }
    case OP_DNS_SET: {
        if (op->dns.remove)
            return xasprintf("dns-set %s (restore: remove the file)  # %s", op->dns.path,
                             op->owner);
        struct dns_config c;
        dns_parse(op->dns.content, &c);
        _cleanup_free_ char *sv = dns_list_format(c.server, c.nserver);
        _cleanup_free_ char *se = dns_list_format(c.search, c.nsearch);
        _cleanup_free_ char *o = dns_list_format(c.options, c.noptions);
        dns_config_free(&c);
        return xasprintf("dns-set %s server=%s search=%s options=%s%s  # %s", op->dns.path, sv,
                         se, o, op->dns.holder ? "" : " (restore)", op->owner);
    }
    case OP_RULE_ADD:
    case OP_RULE_DEL: {
        _cleanup_free_ char *r = rule_describe(&op->rule);
        return xasprintf("%s %s%s  # %s", op_type_to_string(op->type), r,
                         op->type == OP_RULE_ADD && op->forget ? " (restore)" : "", op->owner);
    }
    case OP_FORGET:
        if (op->dns.set)
            return xasprintf("forget %s (ownership: %s)  # %s", op->dns.path,
                             op->dns.holder ? op->dns.holder : "none", op->owner);
        if (op->rule.family) {
            _cleanup_free_ char *r = rule_describe(&op->rule);
            return xasprintf("forget rule %s (gone)  # %s", r, op->owner);
        }
        if (op->route.family) {
            _cleanup_free_ char *r = route_describe(&op->route);
            return xasprintf("forget route %s (gone)  # %s", r, op->owner);
        }
        if (op->pa.pod_if[0])
            return xasprintf("forget attachment %s host=%s (kept: prune false)  # %s",
                             op->pa.pod_if, op->pa.host_if, op->owner);
        if (op->addr.family)
            return xasprintf("forget %s %s (gone)  # %s", op->ifname,
                             ipaddr_format(&op->addr, true, a, sizeof(a)), op->owner);
        return xasprintf("forget %s (gone)  # %s", op->ifname, op->owner);
    case OP_POD_ATTACH: {
        char addrs[512] = "", opts[256] = "";
        size_t n = 0, o = 0;
        for (size_t i = 0; i < op->pa.naddrs && n < sizeof(addrs); i++)
            n += (size_t)snprintf(addrs + n, sizeof(addrs) - n, " %s",
                                  ipaddr_format(&op->pa.addrs[i], true, a, sizeof(a)));
#define OPT(...) o += (size_t)snprintf(opts + o, o < sizeof(opts) ? sizeof(opts) - o : 0, __VA_ARGS__)
        if (op->pa.hairpin)
            OPT(" hairpin");
        if (op->pa.isolated)
            OPT(" isolated");
        if (op->pa.link_down)
            OPT(" down");
        if (op->pa.dad)
            OPT(" dad");
        if (op->pa.vlan)
            OPT(" vlan=%u", op->pa.vlan);
        for (size_t i = 0; i < op->pa.ntrunk; i++)
            OPT("%s%u-%u", i ? "," : " trunk=", op->pa.trunk[i].min, op->pa.trunk[i].max);
        if (op->pa.drop_default_vlan)
            OPT(" no-default-vlan");
        for (size_t i = 0; i < op->pa.ndefault_gw; i++)
            OPT("%s%s", i ? "," : " default-route=",
                ipaddr_format(&op->pa.default_gw[i], false, a, sizeof(a)));
#undef OPT
        if (op->pa.kind == ATTACH_MACVLAN)
            return xasprintf("pod-attach %s:%s macvlan master=%s mode=%s mac=%s%s%s%s  # %s",
                             op->pa.netns, op->pa.pod_if, op->pa.bridge,
                             macvlan_mode_to_string((enum cni_macvlan_mode)op->pa.macvlan_mode),
                             op->pa.has_mac ? mac_format(op->pa.mac, m, sizeof(m)) : "auto",
                             addrs, opts, op->pa.replace ? " (replace)" : "", op->owner);
        return xasprintf("pod-attach %s:%s host=%s bridge=%s mac=%s%s%s%s  # %s", op->pa.netns,
                         op->pa.pod_if, op->pa.host_if, op->pa.bridge,
                         op->pa.has_mac ? mac_format(op->pa.mac, m, sizeof(m)) : "auto", addrs,
                         opts, op->pa.replace ? " (replace)" : "", op->owner);
    }
    case OP_SYSCTL:
        return xasprintf("sysctl %s=%d (was %d)  # %s", op->sysctl ? op->sysctl : "?", op->value,
                         op->before, op->owner);
    case OP_POD_DETACH:
        return xasprintf("pod-detach %s host=%s  # %s", op->pa.pod_if, op->pa.host_if, op->owner);
    case _OP_TYPE_MAX:
        break;
    }
    return xstrdup("?");
}

void objstatus_free_fields(struct objstatus *s);

static void op_free_fields(struct op *op)
{
    op_clear(op);
}

void plan_free_ops(struct plan *p)
{
    for (size_t i = 0; i < p->nops; i++)
        op_free_fields(&p->ops[i]);
    free(p->ops);
    p->ops = NULL;
    p->nops = 0;
}

void plan_free(struct plan *p)
{
    if (!p)
        return;
    plan_free_ops(p);
    for (size_t i = 0; i < p->nstatus; i++)
        objstatus_free_fields(&p->status[i]);
    free(p->status);
    memset(p, 0, sizeof(*p));
}

void plan_drop_owner(struct plan *p, const char *owner)
{
    size_t j = 0;
    for (size_t i = 0; i < p->nops; i++) {
        if (streq(p->ops[i].owner, owner)) {
            op_free_fields(&p->ops[i]);
            continue;
        }
        p->ops[j++] = p->ops[i];
    }
    p->nops = j;
}

/* ---- builder ------------------------------------------------------------ */

struct opbuf {
    struct op *ops;
    int *phase;
    size_t n, nphase;
};

struct claim {
    const char *ifname;
    const char *owner; /* borrowed id string, lives in builder.ids */
    const char *file;
};

struct smap_slot;
struct smap {
    struct smap_slot *s;
    size_t cap, n;
};

struct builder {
    const struct plan_input *in;
    struct opbuf out;
    struct objstatus *st;
    size_t nst;
    struct ipam_index *ipam; /* the inventory's allocations + this plan's picks */
    struct smap attach_by_key; /* (owner, pod_if) -> inventory attachment */
    struct claim *claims;
    size_t nclaims;
    char **active; /* ids of objects whose owned state must be kept */
    size_t nactive;
    char **frozen; /* of those, the ones kept exactly as they are (pinned) */
    size_t nfrozen;
    char **pod_ids; /* object ids of desired->pods, computed once */
    const char *dns_owner; /* the policy that got dns-resolver (borrowed) */
    const char *dns_file;
    /* The memo of converged pods: in->memo usable for this plan (its key
     * matches), and the one this plan builds. */
    bool memo_usable;
    struct plan_memo *next_memo;
    /* Times an op was left out because another object had planned it: a
     * pod that leant on one is not remembered as converged (the other
     * object may go). */
    unsigned long leaned;
};

static struct op *opbuf_push(struct opbuf *b, enum op_type type, const char *owner,
                             const char *ifname, enum phase ph)
{
    struct op *op = ARRAY_PUSH(b->ops, b->n);
    *ARRAY_PUSH(b->phase, b->nphase) = ph;
    op->type = type;
    op->owner = xstrdup(owner);
    if (ifname)
        snprintf(op->ifname, sizeof(op->ifname), "%s", ifname);
    op->stp = -1;
    return op;
}

static void opbuf_clear(struct opbuf *b)
{
    for (size_t i = 0; i < b->n; i++)
        op_free_fields(&b->ops[i]);
    free(b->ops);
    free(b->phase);
    memset(b, 0, sizeof(*b));
}

/* Move all ops of src to dst. */
static void opbuf_take(struct opbuf *dst, struct opbuf *src)
{
    for (size_t i = 0; i < src->n; i++) {
        *ARRAY_PUSH(dst->ops, dst->n) = src->ops[i];
        *ARRAY_PUSH(dst->phase, dst->nphase) = src->phase[i];
    }
    free(src->ops);
    free(src->phase);
    memset(src, 0, sizeof(*src));
}

static struct objstatus *status_add(struct builder *b, const struct object *o, enum condition c,
                                    const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static struct objstatus *status_add(struct builder *b, const struct object *o, enum condition c,
                                    const char *reason, const char *fmt, ...)
{
    char id[256];
    struct objstatus *s = ARRAY_PUSH(b->st, b->nst);
    va_list ap;
    s->id = xstrdup(object_id(o, id, sizeof(id)));
    s->kind = o->kind;
    s->ns = xstrdup(o->ns ? o->ns : "");
    s->name = xstrdup(o->name);
    s->file = xstrdup(o->file ? o->file : "");
    memcpy(s->rev, o->rev, sizeof(s->rev));
    s->cond = c;
    s->reason = xstrdup(reason);
    s->no_prune = !o->prune;
    va_start(ap, fmt);
    if (fmt[0] == '%' && fmt[1] == 's' && !fmt[2]) /* most statuses: "" */
        s->message = xstrdup(va_arg(ap, const char *));
    else if (vasprintf(&s->message, fmt, ap) < 0)
        abort();
    va_end(ap);
    /* Keys accepted but not implemented are never silently dropped. */
    for (size_t i = 0; i < o->warnings.n; i++) {
        char *m = xasprintf("%s%swarning: %s (%s:%u:%u)", s->message, s->message[0] ? "; " : "",
                            o->warnings.v[i].msg, o->warnings.v[i].file, o->warnings.v[i].line,
                            o->warnings.v[i].col);
        free(s->message);
        s->message = m;
    }
    return s;
}

static void set_active(struct builder *b, const struct object *o)
{
    char id[256];
    *ARRAY_PUSH(b->active, b->nactive) = xstrdup(object_id(o, id, sizeof(id)));
}

static bool pinned(struct builder *b, const struct object *o);

static bool is_active(const struct builder *b, const char *owner)
{
    for (size_t i = 0; i < b->nactive; i++)
        if (streq(b->active[i], owner))
            return true;
    return false;
}

static const struct owned_link *owned_link(const struct inventory *inv, const char *ifname)
{
    for (size_t i = 0; i < inv->nlinks; i++)
        if (streq(inv->links[i].ifname, ifname))
            return &inv->links[i];
    return NULL;
}

static bool link_up(const struct live_link *l)
{
    return l->flags & IFF_UP;
}

/* ---- policies ----------------------------------------------------------- */

/* Does policy p want ifname (as an interface, a port, or the peer of a veth
 * it keeps)? */
static bool policy_wants(const struct policy *p, const char *ifname)
{
    for (size_t j = 0; j < p->nifaces; j++) {
        const struct iface *f = &p->ifaces[j];
        /* absent too: a physical device it deconfigured stays so */
        if (f->state == IFSTATE_IGNORE)
            continue;
        if (streq(f->name, ifname))
            return true;
        if (f->cfg.kind == LK_VETH && streq(f->cfg.base, ifname))
            return true; /* the peer of a veth it keeps */
        for (size_t k = 0; k < f->nports; k++)
            if (streq(f->ports[k], ifname))
                return true;
    }
    return false;
}

static const struct claim *claim_find(const struct builder *b, const char *ifname)
{
    for (size_t i = 0; i < b->nclaims; i++)
        if (streq(b->claims[i].ifname, ifname))
            return &b->claims[i];
    return NULL;
}

/* ipv6.autoconf: SLAAC by the kernel. On: accept_ra=2 (router
 * advertisements are taken even when the node forwards) and autoconf=1;
 * off: both 0. The journal keeps the value before, for undo. */
static void plan_autoconf(struct builder *b, const char *id, const struct iface *f,
                          struct opbuf *ob)
{
    int ac = f->ipv6.autoconf;
    if ((ac != 0 && ac != 1) || !b->in->sysctl_get)
        return;
    static const char *const keys[] = {"accept_ra", "autoconf"};
    int want[] = {ac ? 2 : 0, ac};
    for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
        _cleanup_free_ char *key = xasprintf("net/ipv6/conf/%s/%s", f->name, keys[k]);
        int cur = b->in->sysctl_get(key, b->in->sysctl_ctx);
        if (cur == want[k])
            continue;
        struct op *op = opbuf_push(ob, OP_SYSCTL, id, NULL, PH_SET);
        op->sysctl = TAKE_PTR(key);
        op->value = want[k];
        /* a link created by this pass: the kernel's default before */
        op->before = cur >= 0 ? cur : 1;
    }
}

static bool owned_addr_of(const struct inventory *inv, const char *ifname,
                          const struct ipaddr *a)
{
    for (size_t i = 0; i < inv->naddrs; i++)
        if (streq(inv->addrs[i].ifname, ifname) && ipaddr_equal(&inv->addrs[i].addr, a))
            return true;
    return false;
}

/* allow-extra-address: false: addresses of the family on the link that the
 * policy does not list (nor lease) are removed; the journal can put them
 * back. Only with a defined set (an address list, or dhcp); IPv6
 * link-local and kernel-managed addresses (SLAAC, temporary: not
 * IFA_F_PERMANENT) stay. Owned ones are the prune's business. */
static void plan_extra_addrs(struct builder *b, const char *id, const struct iface *f,
                             const struct live_link *l, const struct ip_config *ipc, int family,
                             struct opbuf *ob)
{
    const struct live_ns *node = b->in->node;
    if (!ipc->has_address && ipc->dhcp != 1)
        return;
    for (size_t i = 0; i < node->naddrs; i++) {
        const struct live_addr *a = &node->addrs[i];
        if (a->ifindex != l->ifindex || a->addr.family != family)
            continue;
        if (family == AF_INET6 &&
            ((a->addr.bytes[0] == 0xfe && (a->addr.bytes[1] & 0xc0) == 0x80) ||
             !(a->flags & IFA_F_PERMANENT)))
            continue;
        bool listed = ipc->has_lease && ipaddr_equal(&ipc->lease, &a->addr);
        for (size_t k = 0; k < ipc->naddr && !listed; k++)
            listed = ipaddr_equal(&ipc->addr[k], &a->addr);
        if (listed || owned_addr_of(b->in->inv, f->name, &a->addr))
            continue;
        opbuf_push(ob, OP_ADDR_DEL, id, f->name, PH_ADDR_DEL)->addr = a->addr;
    }
}

static bool iface_wants_port_vlans(const struct iface *f)
{
    for (size_t i = 0; f->port_conf && i < f->nports; i++)
        if (f->port_conf[i].vlan_mode != PORT_VLAN_NONE)
            return true;
    return false;
}

/* The VLAN every new port gets from the kernel: the bridge's default PVID
 * (as the policy sets it, else as reported, else the kernel's 1). */
static uint16_t bridge_default_pvid(const struct iface *f, const struct live_link *br)
{
    if (BROPT_HAS(&f->bropts, BROPT_VLAN_DEFAULT_PVID))
        return (uint16_t)f->bropts.v[BROPT_VLAN_DEFAULT_PVID];
    if (br && BROPT_HAS(&br->bropts, BROPT_VLAN_DEFAULT_PVID))
        return (uint16_t)br->bropts.v[BROPT_VLAN_DEFAULT_PVID];
    return 1;
}

/* A port's options and VLANs (bridge.port[] entry pc of bridge f, live
 * bridge br or NULL when it is created by this plan): one op with what
 * differs. A port that is not on the bridge yet has none of its settings. */
static void plan_port_settings(struct builder *b, const char *id, const struct iface *f,
                               const struct live_link *br, const struct live_link *p,
                               const struct brport_conf *pc, bool may_record, struct opbuf *ob)
{
    const struct live_ns *node = b->in->node;
    bool on_bridge = br && p->master == br->ifindex;
    struct brport_opts none = {0}, d;
    unsigned set = 0;

    if (brport_opts_diff(&pc->opts, on_bridge ? &p->brport : &none, &d))
        set |= LS_BRPORT;
    struct vlan_span *want = NULL, *have = NULL;
    size_t nwant = 0, nhave = 0;
    bool known = false;
    if (pc->vlan_mode != PORT_VLAN_NONE) {
        nwant = brport_conf_spans(pc, &want);
        known = on_bridge && br->vlan_filtering == 1 && node->pvlans_known;
        if (known)
            nhave = live_port_vlans(node, p->ifindex, &have);
        if (!known || !vlan_spans_equal(want, nwant, have, nhave))
            set |= LS_PORT_VLANS;
    }
    if (!set) {
        free(want);
        free(have);
        return;
    }
    struct op *op = opbuf_push(ob, OP_LINK_SET, id, p->name, PH_SET);
    op->set = set;
    op->brport = d;
    if (set & LS_PORT_VLANS) {
        op->pvlan = (struct port_vlan_op){.want = want, .nwant = nwant, .have = have,
                                          .nhave = nhave, .have_known = known,
                                          .default_pvid = bridge_default_pvid(f, br)};
    } else {
        free(want);
        free(have);
    }
    op->record_before = may_record && !owned_link(b->in->inv, p->name);
}

/* A create op for name in this plan (ob: the policy being planned, or
 * already taken into b->out), or NULL. */
static const struct op *planned_create(const struct builder *b, const struct opbuf *ob,
                                       const char *name)
{
    const struct opbuf *bufs[2] = {ob, &b->out};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; bufs[k] && i < bufs[k]->n; i++)
            if (bufs[k]->ops[i].type == OP_BRIDGE_ADD && streq(bufs[k]->ops[i].ifname, name))
                return &bufs[k]->ops[i];
    return NULL;
}

/* Is name the peer of a veth this plan creates (an op already planned, or
 * an entry of policy p that will create it)? */
static bool veth_peer_planned(const struct builder *b, const struct opbuf *ob,
                              const struct policy *p, const char *name)
{
    const struct opbuf *bufs[2] = {ob, &b->out};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; bufs[k] && i < bufs[k]->n; i++)
            if (bufs[k]->ops[i].type == OP_BRIDGE_ADD && bufs[k]->ops[i].cfg.kind == LK_VETH &&
                streq(bufs[k]->ops[i].cfg.base, name))
                return true;
    for (size_t i = 0; p && i < p->nifaces; i++) {
        const struct iface *f = &p->ifaces[i];
        if (f->cfg.kind == LK_VETH && streq(f->cfg.base, name) && f->state == IFSTATE_UP &&
            !live_find_link(b->in->node, f->name))
            return true;
    }
    return false;
}

/* Will name exist once this plan ran (live, or created by it)? */
static bool link_will_exist(const struct builder *b, const struct opbuf *ob,
                            const struct policy *p, const char *name)
{
    if (live_find_link(b->in->node, name) || planned_create(b, ob, name) ||
        veth_peer_planned(b, ob, p, name))
        return true;
    /* an entry of the policy creating it further down the list */
    for (size_t i = 0; p && i < p->nifaces; i++)
        if (streq(p->ifaces[i].name, name) && p->ifaces[i].cfg.kind != LK_NONE &&
            p->ifaces[i].state == IFSTATE_UP)
            return true;
    return false;
}

/* Is name a bond (live, or created as one by this plan)? */
static bool is_bond(const struct builder *b, const struct opbuf *ob, const char *name)
{
    const struct live_link *l = live_find_link(b->in->node, name);
    const struct op *c = planned_create(b, ob, name);
    return (l && streq(l->kind, "bond")) || (c && c->cfg.kind == LK_BOND);
}

/* The MAC f asks for: mac-address, or copy-mac-from's MAC. 1 with *ret set,
 * 0 when none is asked for (or the source is created by this very plan
 * without a mac-address: its MAC is the kernel's pick, known on the next
 * pass), -EAGAIN when the source does not exist. */
static int wanted_mac(const struct builder *b, const struct opbuf *ob, const struct policy *pol,
                      const struct iface *f, uint8_t ret[6])
{
    if (f->has_mac) {
        memcpy(ret, f->mac, 6);
        return 1;
    }
    if (!f->copy_mac_from[0])
        return 0;
    /* the MAC this policy gives the source, if it gives one */
    for (size_t i = 0; pol && i < pol->nifaces; i++)
        if (streq(pol->ifaces[i].name, f->copy_mac_from) && pol->ifaces[i].has_mac &&
            pol->ifaces[i].state == IFSTATE_UP) {
            memcpy(ret, pol->ifaces[i].mac, 6);
            return 1;
        }
    const struct live_link *src = live_find_link(b->in->node, f->copy_mac_from);
    if (src && src->has_mac) {
        memcpy(ret, src->mac, 6);
        return 1;
    }
    return link_will_exist(b, ob, pol, f->copy_mac_from) ? 0 : -EAGAIN;
}

/* The settings of f that differ from live link l (NULL: a link this plan
 * creates, every setting given is written) into op. */
static void iface_settings(const struct iface *f, const struct live_link *l, bool has_mac,
                           const uint8_t mac[6], struct op *op)
{
    bool want_up = f->state == IFSTATE_UP;
    if (f->mtu && (!l || l->mtu != (unsigned)f->mtu)) {
        op->set |= LS_MTU;
        op->mtu = (unsigned)f->mtu;
    }
    if (f->stp >= 0 && (!l || (l->stp >= 0 && l->stp != f->stp))) {
        op->set |= LS_STP;
        op->stp = f->stp;
    }
    if (f->description && (!l || !streq(l->alias, f->description))) {
        op->set |= LS_ALIAS;
        op->alias = xstrdup(f->description);
    }
    if (!l || link_up(l) != want_up) {
        op->set |= LS_UP;
        op->up = want_up;
    }
    if (has_mac && (!l || !l->has_mac || memcmp(l->mac, mac, 6))) {
        op->set |= LS_MAC;
        memcpy(op->mac, mac, 6);
    }
    if (f->accept_all_mac >= 0 && (!l || (bool)(l->flags & IFF_PROMISC) != f->accept_all_mac)) {
        op->set |= LS_PROMISC;
        op->promisc = f->accept_all_mac;
    }
}

/* Plan one interface of policy p into ob. Returns 0, or -EINVAL (Failing)
 * / -EAGAIN (Pending) with *reason / *msg set when the policy cannot be
 * applied. */
static int plan_iface(struct builder *b, const char *id, const struct policy *pol,
                      const struct iface *f, struct opbuf *ob, const char **reason, char **msg)
{
    const struct live_ns *node = b->in->node;
    const struct inventory *inv = b->in->inv;
    const struct live_link *l = live_find_link(node, f->name);
    const struct owned_link *own = owned_link(inv, f->name);
    enum link_kind want_kind = iface_type_kind(f->type);

    if (f->state == IFSTATE_IGNORE)
        return 0;
    /* A virtual device (one plumbd created, or a kernel kind the entry does
     * not call ethernet) is deleted by absent, and by down when the entry's
     * type is virtual; nmstate keeps the entry's config for a later up. */
    bool virt = l && ((own && own->created) ||
                      (l->kind[0] && (want_kind != LK_NONE || f->type == IFACE_UNKNOWN)));
    if (f->state == IFSTATE_ABSENT ||
        (f->state == IFSTATE_DOWN && (virt || (!l && link_kind_virtual(want_kind))))) {
        if (!l)
            return 0;
        if (virt) {
            opbuf_push(ob, OP_LINK_DEL, id, f->name, PH_DELETE)->forget = true;
            return 0;
        }
        if (f->state == IFSTATE_ABSENT) {
            /* A physical device cannot be deleted: absent deconfigures it
             * (down, out of its controller), as nmstate does. */
            unsigned set = (link_up(l) ? LS_UP : 0) | (l->master ? LS_MASTER : 0);
            if (set) {
                struct op *op = opbuf_push(ob, OP_LINK_SET, id, f->name, PH_SET);
                op->set = set;
                op->record_before = !own;
            }
            return 0;
        }
    }
    if (l && want_kind != LK_NONE && link_kind_from_kernel(l->kind) != want_kind) {
        *reason = "InterfaceTypeMismatch";
        *msg = xasprintf("%s exists and is of kind '%s', not a %s", f->name,
                         l->kind[0] ? l->kind : "ethernet", link_kind_to_nmstate(want_kind));
        return -EINVAL;
    }
    /* The validator knows STP only from the file: a bridge whose STP runs
     * and stays on refuses a forward delay outside 2-30 s. */
    if (l && l->stp == 1 && f->stp != 0 && BROPT_HAS(&f->bropts, BROPT_FORWARD_DELAY) &&
        (f->bropts.v[BROPT_FORWARD_DELAY] < 200 || f->bropts.v[BROPT_FORWARD_DELAY] > 3000)) {
        *reason = "InvalidConfiguration";
        *msg = xasprintf("%s.bridge.options.stp.forward-delay must be 2-30 while STP runs on %s",
                         f->name, f->name);
        return -EINVAL;
    }
    uint8_t mac[6];
    int hm = wanted_mac(b, ob, pol, f, mac);
    if (hm == -EAGAIN) {
        *reason = "CopyMacSourceMissing";
        *msg = xasprintf("%s.copy-mac-from: %s does not exist", f->name, f->copy_mac_from);
        return -EAGAIN;
    }
    /* A link plumbd created whose type settings changed is re-created
     * (vxlan ids, bases, bond modes cannot all be changed in place); one it
     * did not create is not plumbd's to re-create. */
    if (l && f->cfg.kind != LK_NONE && f->cfg.kind != LK_BRIDGE) {
        _cleanup_free_ char *what = NULL;
        if (!link_cfg_satisfied(&f->cfg, &l->cfg, node, &what)) {
            if (!own || !own->created) {
                *reason = "InterfaceConfigMismatch";
                *msg = xasprintf("%s exists with %s and was not created by plumbd", f->name, what);
                return -EINVAL;
            }
            opbuf_push(ob, OP_LINK_DEL, id, f->name, PH_DELETE)->forget = true;
            l = NULL;
        }
    }
    /* The peer end of a veth this plan creates: only configured. An entry
     * with a veth block of its own creates the pair unless an op already
     * does (both ends listed, each naming the other). */
    bool new_peer = !l && (f->cfg.kind == LK_NONE || f->cfg.kind == LK_VETH) &&
                    veth_peer_planned(b, ob, f->cfg.kind == LK_NONE ? pol : NULL, f->name);
    if (!l && !new_peer) {
        if (f->cfg.kind == LK_NONE) {
            *reason = "InterfaceMissing";
            *msg = xasprintf("interface %s does not exist", f->name);
            return -EINVAL;
        }
        if (f->cfg.kind == LK_VETH && live_find_link(node, f->cfg.base)) {
            *reason = "Conflict";
            *msg = xasprintf("%s.veth.peer: %s already exists", f->name, f->cfg.base);
            return -EINVAL;
        }
        if (f->cfg.kind != LK_VETH && f->cfg.base[0] &&
            !link_will_exist(b, ob, pol, f->cfg.base)) {
            *reason = "BaseInterfaceMissing";
            *msg = xasprintf("%s: base-iface %s does not exist", f->name, f->cfg.base);
            return -EAGAIN;
        }
        /* Links on a base (vxlan, mac-vlan, vlan) after every other
         * creation: the base may be a veth or bond of this very plan. */
        bool upper = f->cfg.kind != LK_VETH && f->cfg.base[0];
        struct op *op = opbuf_push(ob, OP_BRIDGE_ADD, id, f->name, upper ? PH_CREATE_UPPER : PH_CREATE);
        op->cfg = f->cfg;
        iface_settings(f, NULL, hm > 0, mac, op);
        if (bropts_any(&f->bropts)) {
            op->set |= LS_BROPTS;
            op->bropts = f->bropts;
        }
        if (iface_wants_port_vlans(f)) {
            op->set |= LS_VLAN_FILTERING;
            op->vlan_filtering = 1;
        }
    } else {
        struct op tmp = {.stp = -1};
        iface_settings(f, l, hm > 0, mac, &tmp);
        if (l && bropts_diff(&f->bropts, &l->bropts, &tmp.bropts))
            tmp.set |= LS_BROPTS;
        if (l && iface_wants_port_vlans(f) && l->vlan_filtering != 1) {
            tmp.set |= LS_VLAN_FILTERING;
            tmp.vlan_filtering = 1;
        }
        if (l && f->has_controller) {
            const struct live_link *m = live_find_ifindex(node, l->master);
            if (!streq(m ? m->name : "", f->controller)) {
                tmp.set |= LS_MASTER;
                snprintf(tmp.master, sizeof(tmp.master), "%s", f->controller);
            }
        }
        if (tmp.set) {
            struct op *op = opbuf_push(ob, OP_LINK_SET, id, f->name, PH_SET);
            tmp.owner = op->owner; /* taken over */
            tmp.type = OP_LINK_SET;
            memcpy(tmp.ifname, op->ifname, sizeof(tmp.ifname));
            tmp.record_before = l && !own;
            *op = tmp;
        } else
            op_clear(&tmp);
    }
    /* The controller of a link this plan creates: once it exists. */
    if (f->has_controller && (!l || new_peer) && f->controller[0]) {
        struct op *op = opbuf_push(ob, OP_LINK_SET, id, f->name, PH_SET);
        op->set = LS_MASTER;
        snprintf(op->master, sizeof(op->master), "%s", f->controller);
    }
    if (f->has_controller && f->controller[0]) {
        if (!link_will_exist(b, ob, pol, f->controller)) {
            *reason = "ControllerMissing";
            *msg = xasprintf("%s.controller: %s does not exist", f->name, f->controller);
            return -EAGAIN;
        }
        /* a bond port is taken down to join: say which state it ends in */
        for (size_t i = 0; i < ob->n; i++)
            if (ob->ops[i].type == OP_LINK_SET && streq(ob->ops[i].ifname, f->name) &&
                (ob->ops[i].set & LS_MASTER) && is_bond(b, ob, f->controller)) {
                ob->ops[i].set |= LS_BOND_PORT | LS_UP;
                ob->ops[i].up = f->state == IFSTATE_UP;
            }
    }

    for (size_t i = 0; i < f->nports; i++) {
        const struct live_link *p = live_find_link(node, f->ports[i]);
        const struct claim *c = claim_find(b, f->ports[i]);
        if (c && !streq(c->owner, id)) {
            *reason = "Conflict";
            *msg = xasprintf("%s is also configured by %s (%s)", f->ports[i], c->owner, c->file);
            return -EINVAL;
        }
        if (!p && !link_will_exist(b, ob, pol, f->ports[i])) {
            *reason = "PortMissing";
            *msg = xasprintf("port %s of %s does not exist", f->ports[i], f->name);
            return -EINVAL;
        }
        bool recorded = false;
        if (!l || !p || p->master != l->ifindex || !link_up(p)) {
            struct op *op = opbuf_push(ob, OP_LINK_SET, id, f->ports[i], PH_SET);
            op->set = LS_MASTER | LS_UP | (f->cfg.kind == LK_BOND ? LS_BOND_PORT : 0);
            snprintf(op->master, sizeof(op->master), "%s", f->name);
            op->up = true;
            op->record_before = recorded = p && !owned_link(inv, f->ports[i]);
        }
        /* a port this plan creates gets its settings on the next pass */
        if (f->port_conf && p)
            plan_port_settings(b, id, f, l, p, &f->port_conf[i], !recorded, ob);
    }

    const struct ip_config *ipc[2] = {&f->ipv4, &f->ipv6};
    for (size_t k = 0; k < 2; k++) {
        if (k == 1)
            plan_autoconf(b, id, f, ob);
        if (ipc[k]->allow_extra == 0 && l)
            plan_extra_addrs(b, id, f, l, ipc[k], k ? AF_INET6 : AF_INET, ob);
        /* A DHCP lease's address is planned like a listed one. */
        if (ipc[k]->has_lease && (!l || !live_has_addr(node, l->ifindex, &ipc[k]->lease)))
            opbuf_push(ob, OP_ADDR_ADD, id, f->name, PH_ADDR_ADD)->addr = ipc[k]->lease;
        if (!ipc[k]->has_address)
            continue;
        for (size_t i = 0; i < ipc[k]->naddr; i++)
            if ((!ipc[k]->has_lease || !ipaddr_equal(&ipc[k]->lease, &ipc[k]->addr[i])) &&
                (!l || !live_has_addr(node, l->ifindex, &ipc[k]->addr[i]))) {
                struct op *op = opbuf_push(ob, OP_ADDR_ADD, id, f->name, PH_ADDR_ADD);
                op->addr = ipc[k]->addr[i];
            }
    }
    return 0;
}

static int plan_routes(struct builder *b, const char *id, const struct policy *p,
                       struct opbuf *ob, const char **reason, char **msg);
static void plan_rules(struct builder *b, const char *id, const struct policy *p,
                       struct opbuf *ob);

/* dns-resolver.config of a policy: the resolv.conf file holds exactly
 * those lines. One policy at a time: the older one that got it first. */
static int plan_dns(struct builder *b, const char *id, const struct policy *p, struct opbuf *ob,
                    const char **reason, char **msg)
{
    const struct dns_state *ds = b->in->dns;
    if (!p->dns.set || !ds || !ds->path)
        return 0;
    if (b->dns_owner) {
        *reason = "Conflict";
        *msg = xasprintf("dns-resolver is also configured by %s (%s)", b->dns_owner, b->dns_file);
        return -EINVAL;
    }
    bool ours = streq(ds->holder, id);
    /* As asked already: nothing to write (a file plumbd did not write
     * stays not owned, like a route already there). */
    if ((ours || !ds->holder) && dns_file_matches(ds->exists ? ds->text : NULL, &p->dns))
        return 0;
    struct op *op = opbuf_push(ob, OP_DNS_SET, id, NULL, PH_DNS);
    struct dns_op *d = &op->dns;
    d->set = true;
    d->path = xstrdup(ds->path);
    d->content = dns_render(&p->dns, id);
    d->prev_exists = ds->exists;
    d->prev = ds->exists ? xstrdup(ds->text ? ds->text : "") : NULL;
    d->holder = xstrdup(id);
    d->prev_holder = ds->holder ? xstrdup(ds->holder) : NULL;
    /* The file before plumbd took it: carried over while plumbd owns it. */
    d->orig_exists = ds->holder ? ds->orig_exists : ds->exists;
    const char *orig = ds->holder ? ds->orig : ds->text;
    d->orig = d->orig_exists ? xstrdup(orig ? orig : "") : NULL;
    return 0;
}

static void plan_policies(struct builder *b)
{
    const struct desired *d = b->in->desired;

    for (size_t i = 0; i < d->npolicies; i++) {
        const struct policy *p = &d->policies[i];
        char id[256];
        object_id(&p->obj, id, sizeof(id));
        if (!selector_matches(p->selector, p->nselector, b->in->node_labels,
                              b->in->nnode_labels)) {
            status_add(b, &p->obj, COND_NOT_MATCHING, "NotMatching",
                       "the node's labels do not match spec.nodeSelector");
            continue;
        }
        if (pinned(b, &p->obj))
            continue;
        /* Keep what this policy owns while it is planned, even if it fails:
         * a broken revision must not tear down the last good one. */
        set_active(b, &p->obj);

        struct opbuf ob = {0};
        const char *reason = NULL;
        _cleanup_free_ char *msg = NULL;
        int r = 0;
        for (size_t j = 0; j < p->nifaces && r >= 0; j++) {
            const struct claim *c = claim_find(b, p->ifaces[j].name);
            if (c && p->ifaces[j].state != IFSTATE_IGNORE) {
                reason = "Conflict";
                msg = xasprintf("%s is also configured by %s (%s)", p->ifaces[j].name, c->owner,
                                c->file);
                r = -EINVAL;
                break;
            }
            r = plan_iface(b, b->active[b->nactive - 1], p, &p->ifaces[j], &ob, &reason, &msg);
        }
        if (r >= 0)
            r = plan_routes(b, b->active[b->nactive - 1], p, &ob, &reason, &msg);
        if (r >= 0)
            plan_rules(b, b->active[b->nactive - 1], p, &ob);
        if (r >= 0)
            r = plan_dns(b, b->active[b->nactive - 1], p, &ob, &reason, &msg);
        if (r < 0) {
            opbuf_clear(&ob);
            status_add(b, &p->obj, r == -EAGAIN ? COND_PENDING : COND_FAILING, reason, "%s", msg);
            continue;
        }
        if (p->dns.set && b->in->dns && b->in->dns->path) {
            b->dns_owner = b->active[b->nactive - 1];
            b->dns_file = p->obj.file;
        }
        /* Claim this policy's interfaces and ports for conflict detection. */
        for (size_t j = 0; j < p->nifaces; j++) {
            const struct iface *f = &p->ifaces[j];
            if (f->state == IFSTATE_IGNORE)
                continue;
            *ARRAY_PUSH(b->claims, b->nclaims) = (struct claim){
                f->name, b->active[b->nactive - 1], p->obj.file};
            for (size_t k = 0; k < f->nports; k++)
                *ARRAY_PUSH(b->claims, b->nclaims) = (struct claim){
                    f->ports[k], b->active[b->nactive - 1], p->obj.file};
        }
        bool pending = ob.n > 0;
        opbuf_take(&b->out, &ob);
        if (pending)
            status_add(b, &p->obj, COND_PROGRESSING, "ConfigurationProgressing", "%s", "");
        else
            status_add(b, &p->obj, COND_AVAILABLE, "SuccessfullyConfigured", "%s", "");
    }
}

static bool is_frozen(const struct builder *b, const char *owner)
{
    for (size_t i = 0; i < b->nfrozen; i++)
        if (streq(b->frozen[i], owner))
            return true;
    return false;
}

/* If the object's current revision is pinned (rolled back), report the pin,
 * freeze the object and return true: it plans nothing. */
static bool pinned(struct builder *b, const struct object *o)
{
    if (!b->in->npins)
        return false;
    char id[256];
    object_id(o, id, sizeof(id));
    for (size_t i = 0; i < b->in->npins; i++) {
        const struct pin *p = &b->in->pins[i];
        if (!streq(p->owner, id) || !streq(p->rev, o->rev))
            continue;
        set_active(b, o);
        *ARRAY_PUSH(b->frozen, b->nfrozen) = xstrdup(id);
        status_add(b, o, p->cond, p->reason, "%s (revision %s is pinned until its file changes)",
                   p->message ? p->message : "", p->rev);
        return true;
    }
    return false;
}

/* The valid, node-matching policy with this id, or NULL. */
static const struct policy *active_policy(const struct builder *b, const char *id)
{
    const struct desired *d = b->in->desired;
    if (!is_active(b, id) || is_frozen(b, id))
        return NULL;
    for (size_t i = 0; i < d->npolicies; i++) {
        char buf[256];
        if (streq(object_id(&d->policies[i].obj, buf, sizeof(buf)), id))
            return &d->policies[i];
    }
    return NULL;
}

/* Owned by an object that is kept as it is (an invalid revision)? */
static bool owner_frozen(const struct builder *b, const char *owner)
{
    return is_active(b, owner) && !active_policy(b, owner);
}

/* Does any active policy (planned or failing) want ifname? */
static bool any_policy_wants(const struct builder *b, const char *ifname)
{
    const struct desired *d = b->in->desired;
    for (size_t i = 0; i < d->npolicies; i++) {
        char id[256];
        if (!policy_wants(&d->policies[i], ifname))
            continue;
        if (is_active(b, object_id(&d->policies[i].obj, id, sizeof(id))))
            return true;
    }
    return false;
}

static bool gateway_wanted(const struct builder *b, const struct owned_addr *a);

static bool addr_wanted(const struct builder *b, const struct owned_addr *a)
{
    const struct policy *p = active_policy(b, a->owner);
    for (size_t j = 0; p && j < p->nifaces; j++) {
        const struct iface *f = &p->ifaces[j];
        if (!streq(f->name, a->ifname) || f->state == IFSTATE_ABSENT)
            continue;
        const struct ip_config *ipc = a->addr.family == AF_INET ? &f->ipv4 : &f->ipv6;
        /* An address added for a lease lives as long as the lease. */
        if (a->dynamic)
            return ipc->has_lease && ipaddr_equal(&ipc->lease, &a->addr);
        if (!ipc->has_address)
            return true; /* address list omitted: keep what is there */
        for (size_t k = 0; k < ipc->naddr; k++)
            if (ipaddr_equal(&ipc->addr[k], &a->addr))
                return true;
    }
    return false;
}


/* ---- dns-resolver ------------------------------------------------------- */

/* The file plumbd wrote for a policy that no longer asks for it (removed,
 * not matching, dns-resolver dropped from it): put back what was there
 * before plumbd took it. A policy kept as it is (invalid, pinned, or
 * failing this pass) keeps it; plumbd/prune: "false" lets go of it. */
static void plan_prune_dns(struct builder *b)
{
    const struct dns_state *ds = b->in->dns;
    if (!ds || !ds->path || !ds->holder || b->dns_owner)
        return;
    bool keep_only = false;
    for (size_t k = 0; k < b->in->nkeep_owners && !keep_only; k++)
        keep_only = streq(b->in->keep_owners[k], ds->holder);
    if (!keep_only) {
        if (is_active(b, ds->holder) && !active_policy(b, ds->holder))
            return; /* frozen: its last good state stays */
        const struct policy *hp = active_policy(b, ds->holder);
        if (hp && hp->dns.set)
            return; /* it still wants it (failing or pending this pass) */
    }
    bool same = ds->orig_exists == ds->exists &&
                (!ds->exists || streq(ds->orig ? ds->orig : "", ds->text ? ds->text : ""));
    struct op *op = opbuf_push(&b->out, keep_only || same ? OP_FORGET : OP_DNS_SET, ds->holder,
                               NULL, keep_only || same ? PH_FORGET : PH_DNS);
    struct dns_op *d = &op->dns;
    d->set = true;
    d->path = xstrdup(ds->path);
    d->prev_exists = ds->exists;
    d->prev = ds->exists ? xstrdup(ds->text ? ds->text : "") : NULL;
    d->prev_holder = xstrdup(ds->holder);
    d->orig_exists = ds->orig_exists;
    d->orig = ds->orig_exists ? xstrdup(ds->orig ? ds->orig : "") : NULL;
    if (keep_only) { /* the file stays as it is */
        d->remove = !ds->exists;
        d->content = ds->exists ? xstrdup(ds->text ? ds->text : "") : NULL;
    } else {
        d->remove = !ds->orig_exists;
        d->content = ds->orig_exists ? xstrdup(ds->orig ? ds->orig : "") : NULL;
    }
}

/* ---- routes ------------------------------------------------------------- */

bool route_is_manageable(const struct live_route *lr)
{
    return lr->table != RT_TABLE_LOCAL && lr->protocol != RTPROT_KERNEL &&
           (lr->type == RTN_UNICAST || lr->type == RTN_BLACKHOLE ||
            lr->type == RTN_UNREACHABLE || lr->type == RTN_PROHIBIT);
}

bool route_matches_live(const struct nm_route *r, const struct live_route *lr,
                        const struct live_ns *l, bool strict)
{
    if (!strict && !route_is_manageable(lr))
        return false;
    if (lr->tos)
        return false;
    if (r->family && r->family != lr->dst.family)
        return false;
    if (r->has_dst && !ipaddr_equal(&r->dst, &lr->dst))
        return false;
    /* IPv6 gives blackhole/unreachable/prohibit routes the loopback as
     * their device: those have no next hop. */
    int oif = lr->type == RTN_UNICAST ? lr->ifindex : 0;
    if (r->ifname[0]) {
        const struct live_link *k = live_find_ifindex(l, oif);
        if (!k || !streq(k->name, r->ifname))
            return false;
    } else if (strict && oif)
        return false;
    if (r->has_gw ? !lr->has_gw || !ipaddr_same_host(&r->gw, &lr->gw) : strict && lr->has_gw)
        return false;
    if (r->has_metric && r->metric != lr->priority)
        return false;
    if (r->has_table && r->table != lr->table)
        return false;
    if (r->type && r->type != lr->type)
        return false;
    if (r->has_src && (!lr->has_src || !ipaddr_same_host(&r->src, &lr->src)))
        return false;
    return true;
}

void route_from_live(const struct live_route *lr, const struct live_ns *l, struct nm_route *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->family = lr->dst.family;
    ret->has_dst = true;
    ret->dst = lr->dst;
    const struct live_link *k =
        lr->type == RTN_UNICAST ? live_find_ifindex(l, lr->ifindex) : NULL;
    if (k)
        snprintf(ret->ifname, sizeof(ret->ifname), "%s", k->name);
    ret->has_gw = lr->has_gw;
    ret->gw = lr->gw;
    ret->has_metric = ret->has_table = true;
    ret->metric = lr->priority;
    ret->table = lr->table;
    ret->type = lr->type;
    ret->has_src = lr->has_src;
    ret->src = lr->src;
}

/* Two normalized routes: the same route? */
bool route_spec_equal(const struct nm_route *a, const struct nm_route *b)
{
    return a->family == b->family && ipaddr_equal(&a->dst, &b->dst) &&
           streq(a->ifname, b->ifname) && a->has_gw == b->has_gw &&
           (!a->has_gw || ipaddr_same_host(&a->gw, &b->gw)) && a->metric == b->metric &&
           a->table == b->table && a->type == b->type && a->has_src == b->has_src &&
           (!a->has_src || ipaddr_same_host(&a->src, &b->src));
}

static const struct live_route *live_route_find(const struct live_ns *l, const struct nm_route *r)
{
    for (size_t i = 0; i < l->nroutes; i++)
        if (route_matches_live(r, &l->routes[i], l, true))
            return &l->routes[i];
    return NULL;
}

static bool route_owned_by(const struct inventory *inv, const char *owner,
                           const struct live_route *lr, const struct live_ns *l)
{
    for (size_t i = 0; i < inv->nroutes; i++)
        if (streq(inv->routes[i].owner, owner) &&
            route_matches_live(&inv->routes[i].rt, lr, l, true))
            return true;
    return false;
}

/* Does a present entry of a policy that applies to this node want lr? */
static bool route_wanted_by_any(const struct builder *b, const struct live_route *lr)
{
    const struct desired *d = b->in->desired;
    for (size_t i = 0; i < d->npolicies; i++) {
        const struct policy *p = &d->policies[i];
        if (!selector_matches(p->selector, p->nselector, b->in->node_labels,
                              b->in->nnode_labels))
            continue;
        for (size_t j = 0; j < p->nroutes; j++)
            if (!p->routes[j].absent &&
                route_matches_live(&p->routes[j], lr, b->in->node, true))
                return true;
    }
    return false;
}

/* Will ifname be up once this policy's interface ops ran? */
static bool iface_planned_up(const struct policy *p, const char *ifname)
{
    for (size_t j = 0; j < p->nifaces; j++)
        if (streq(p->ifaces[j].name, ifname))
            return p->ifaces[j].state == IFSTATE_UP;
    return false;
}

/* Plan routes.config of a policy into ob. -EINVAL: Failing; -EAGAIN:
 * Pending (a next-hop interface missing or down); *reason and *msg set. */
static int plan_routes(struct builder *b, const char *id, const struct policy *p,
                       struct opbuf *ob, const char **reason, char **msg)
{
    const struct live_ns *node = b->in->node;

    /* Absent entries first: every manageable route matching one, unless a
     * present entry (of any policy) wants it. */
    for (size_t i = 0; i < p->nroutes; i++) {
        const struct nm_route *r = &p->routes[i];
        if (!r->absent)
            continue;
        for (size_t k = 0; k < node->nroutes; k++) {
            const struct live_route *lr = &node->routes[k];
            if (!route_matches_live(r, lr, node, false) || route_wanted_by_any(b, lr))
                continue;
            struct nm_route spec;
            route_from_live(lr, node, &spec);
            bool dup = false;
            for (size_t o = 0; o < ob->n && !dup; o++)
                dup = ob->ops[o].type == OP_ROUTE_DEL && route_spec_equal(&ob->ops[o].route, &spec);
            if (dup)
                continue;
            struct op *op = opbuf_push(ob, OP_ROUTE_DEL, id, spec.ifname, PH_ROUTE_DEL);
            op->route = spec;
        }
    }
    for (size_t i = 0; i < p->nroutes; i++) {
        const struct nm_route *r = &p->routes[i];
        char a[64];
        if (r->absent || live_route_find(node, r))
            continue;
        if (r->ifname[0]) {
            const struct live_link *l = live_find_link(node, r->ifname);
            bool planned = iface_planned_up(p, r->ifname);
            if (!l && !planned) {
                *reason = "NextHopInterfaceMissing";
                *msg = xasprintf("route %s: next-hop-interface %s does not exist",
                                 ipaddr_format(&r->dst, true, a, sizeof(a)), r->ifname);
                return -EAGAIN;
            }
            if (l && !link_up(l) && !planned) {
                *reason = "NextHopInterfaceDown";
                *msg = xasprintf("route %s: next-hop-interface %s is down",
                                 ipaddr_format(&r->dst, true, a, sizeof(a)), r->ifname);
                return -EAGAIN;
            }
        }
        /* The kernel keys a route by table, destination and metric: another
         * route there (not ours, not removed by this policy) is a conflict. */
        for (size_t k = 0; k < node->nroutes; k++) {
            const struct live_route *lr = &node->routes[k];
            if (lr->table != r->table || lr->priority != r->metric || lr->tos ||
                !ipaddr_equal(&lr->dst, &r->dst) || route_owned_by(b->in->inv, id, lr, node))
                continue;
            bool removed = false;
            for (size_t o = 0; o < ob->n && !removed; o++)
                removed = ob->ops[o].type == OP_ROUTE_DEL &&
                          route_matches_live(&ob->ops[o].route, lr, node, true);
            if (removed)
                continue;
            struct nm_route have;
            route_from_live(lr, node, &have);
            _cleanup_free_ char *hd = route_describe(&have);
            *reason = "RouteConflict";
            *msg = xasprintf("route %s (table %u, metric %u): the node already has %s",
                             ipaddr_format(&r->dst, true, a, sizeof(a)), r->table, r->metric, hd);
            return -EINVAL;
        }
        struct op *op = opbuf_push(ob, OP_ROUTE_ADD, id, r->ifname, PH_ROUTE_ADD);
        op->route = *r;
        op->route.absent = false;
    }
    return 0;
}

/* ---- route rules ---------------------------------------------------------- */

bool rule_is_default(const struct live_rule *lr)
{
    if (lr->has_src || lr->has_dst || lr->fwmark || lr->fwmask || lr->iif[0] || lr->extra ||
        lr->action != FR_ACT_TO_TBL)
        return false;
    return (lr->priority == 0 && lr->table == RT_TABLE_LOCAL) ||
           (lr->priority == 32766 && lr->table == RT_TABLE_MAIN) ||
           (lr->priority == 32767 && lr->table == RT_TABLE_DEFAULT);
}

bool rule_matches_live(const struct nm_rule *r, const struct live_rule *lr, bool strict)
{
    if (strict ? lr->extra : rule_is_default(lr))
        return false;
    if (r->family && r->family != lr->family)
        return false;
    if (r->has_from ? !lr->has_src || !ipaddr_equal(&r->from, &lr->src)
                    : (strict || r->from_none) && lr->has_src)
        return false;
    if (r->has_to ? !lr->has_dst || !ipaddr_equal(&r->to, &lr->dst)
                  : (strict || r->to_none) && lr->has_dst)
        return false;
    if (r->has_priority && r->priority != lr->priority)
        return false;
    if (r->has_table && r->table != lr->table)
        return false;
    if (r->has_fwmark && r->fwmark != lr->fwmark)
        return false;
    if (r->has_fwmask && r->fwmask != lr->fwmask)
        return false;
    if (r->iif[0] ? !streq(r->iif, lr->iif) : strict && lr->iif[0])
        return false;
    if (r->action && r->action != lr->action)
        return false;
    return true;
}

void rule_from_live(const struct live_rule *lr, struct nm_rule *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->family = lr->family;
    ret->has_from = lr->has_src;
    ret->from = lr->src;
    ret->has_to = lr->has_dst;
    ret->to = lr->dst;
    ret->has_priority = ret->has_table = ret->has_fwmark = ret->has_fwmask = true;
    ret->priority = lr->priority;
    ret->table = lr->table;
    ret->fwmark = lr->fwmark;
    ret->fwmask = lr->fwmask;
    snprintf(ret->iif, sizeof(ret->iif), "%s", lr->iif);
    ret->action = lr->action;
}

bool rule_spec_equal(const struct nm_rule *a, const struct nm_rule *b)
{
    return a->family == b->family && a->has_from == b->has_from &&
           (!a->has_from || ipaddr_equal(&a->from, &b->from)) && a->has_to == b->has_to &&
           (!a->has_to || ipaddr_equal(&a->to, &b->to)) && a->has_priority == b->has_priority &&
           (!a->has_priority || a->priority == b->priority) && a->table == b->table &&
           a->fwmark == b->fwmark && a->fwmask == b->fwmask && streq(a->iif, b->iif) &&
           a->action == b->action;
}

bool rule_spec_covers(const struct nm_rule *want, const struct nm_rule *have)
{
    if (want->has_priority || !have->has_priority)
        return rule_spec_equal(want, have);
    struct nm_rule h = *have;
    h.has_priority = false;
    h.priority = 0;
    return rule_spec_equal(want, &h);
}

char *rule_describe(const struct nm_rule *r)
{
    char f[64], t[64], mark[40] = "", prio[24] = "", tbl[24] = "";
    const char *act = rule_action_to_string(r->action);
    if (r->has_fwmark || r->has_fwmask)
        snprintf(mark, sizeof(mark), " fwmark %#x/%#x", r->fwmark, r->fwmask);
    if (r->has_priority)
        snprintf(prio, sizeof(prio), " priority %u", r->priority);
    if (!act && r->has_table)
        snprintf(tbl, sizeof(tbl), " lookup %u", r->table);
    return xasprintf("%s from %s%s%s%s%s%s%s %s%s", r->family == AF_INET6 ? "ipv6" : r->family ? "ipv4" : "any",
                     r->has_from ? ipaddr_format(&r->from, true, f, sizeof(f)) : "all",
                     r->has_to ? " to " : "", r->has_to ? ipaddr_format(&r->to, true, t, sizeof(t)) : "",
                     mark, r->iif[0] ? " iif " : "", r->iif, tbl, act ? act : "", prio);
}

static const struct live_rule *live_rule_find(const struct live_ns *l, const struct nm_rule *r)
{
    for (size_t i = 0; i < l->nrules; i++)
        if (rule_matches_live(r, &l->rules[i], true))
            return &l->rules[i];
    return NULL;
}

/* Does a present entry of a policy that applies to this node want lr? */
static bool rule_wanted_by_any(const struct builder *b, const struct live_rule *lr)
{
    const struct desired *d = b->in->desired;
    for (size_t i = 0; i < d->npolicies; i++) {
        const struct policy *p = &d->policies[i];
        if (!selector_matches(p->selector, p->nselector, b->in->node_labels,
                              b->in->nnode_labels))
            continue;
        for (size_t j = 0; j < p->nrules; j++)
            if (!p->rules[j].absent && rule_matches_live(&p->rules[j], lr, true))
                return true;
    }
    return false;
}

/* Plan route-rules.config of a policy into ob: absent wildcards delete
 * every matching rule no present entry wants; present entries not in the
 * kernel are added. Rules need no interface (an iif that does not exist
 * yet makes an inactive rule), so nothing is Pending. */
static void plan_rules(struct builder *b, const char *id, const struct policy *p,
                       struct opbuf *ob)
{
    const struct live_ns *node = b->in->node;

    for (size_t i = 0; i < p->nrules; i++) {
        const struct nm_rule *r = &p->rules[i];
        if (!r->absent)
            continue;
        for (size_t k = 0; k < node->nrules; k++) {
            const struct live_rule *lr = &node->rules[k];
            if (!rule_matches_live(r, lr, false) || rule_wanted_by_any(b, lr))
                continue;
            struct nm_rule spec;
            rule_from_live(lr, &spec);
            bool dup = false;
            for (size_t o = 0; o < ob->n && !dup; o++)
                dup = ob->ops[o].type == OP_RULE_DEL && rule_spec_equal(&ob->ops[o].rule, &spec);
            if (dup)
                continue;
            opbuf_push(ob, OP_RULE_DEL, id, "", PH_RULE_DEL)->rule = spec;
        }
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const struct nm_rule *r = &p->rules[i];
        if (r->absent || live_rule_find(node, r))
            continue;
        struct op *op = opbuf_push(ob, OP_RULE_ADD, id, "", PH_RULE_ADD);
        op->rule = *r;
        op->rule.absent = false;
    }
}

/* Is an owned rule still wanted by its (active) policy? */
static bool rule_wanted(const struct builder *b, const struct owned_rule *o)
{
    const struct policy *p = active_policy(b, o->owner);
    for (size_t j = 0; p && j < p->nrules; j++)
        if (!p->rules[j].absent && rule_spec_covers(&p->rules[j], &o->rule))
            return true;
    return false;
}

/* Sweep owned rules no active policy wants: deleted (by the live rule's full
 * spec) when still there, forgotten when gone. */
static void plan_prune_rules(struct builder *b)
{
    const struct inventory *inv = b->in->inv;
    const struct live_ns *node = b->in->node;
    for (size_t i = 0; i < inv->nrules; i++) {
        const struct owned_rule *o = &inv->rules[i];
        if (owner_frozen(b, o->owner) || rule_wanted(b, o))
            continue;
        const struct live_rule *lr = live_rule_find(node, &o->rule);
        if (lr) {
            struct op *op = opbuf_push(&b->out, OP_RULE_DEL, o->owner, "", PH_RULE_DEL);
            rule_from_live(lr, &op->rule);
        } else
            opbuf_push(&b->out, OP_FORGET, o->owner, "", PH_FORGET)->rule = o->rule;
    }
}

/* Is an owned route still wanted by its (active) policy? */
static bool route_wanted(const struct builder *b, const struct owned_route *o)
{
    const struct policy *p = active_policy(b, o->owner);
    for (size_t j = 0; p && j < p->nroutes; j++)
        if (!p->routes[j].absent && route_spec_equal(&p->routes[j], &o->rt))
            return true;
    return false;
}

/* Sweep owned routes no active policy wants: deleted when still there,
 * forgotten when gone. */
static void plan_prune_routes(struct builder *b)
{
    const struct inventory *inv = b->in->inv;
    const struct live_ns *node = b->in->node;
    for (size_t i = 0; i < inv->nroutes; i++) {
        const struct owned_route *o = &inv->routes[i];
        if (owner_frozen(b, o->owner) || route_wanted(b, o))
            continue;
        struct op *op;
        if (live_route_find(node, &o->rt))
            op = opbuf_push(&b->out, OP_ROUTE_DEL, o->owner, o->rt.ifname, PH_ROUTE_DEL);
        else
            op = opbuf_push(&b->out, OP_FORGET, o->owner, o->rt.ifname, PH_FORGET);
        op->route = o->rt;
    }
}

/* Sweep: owned links/addresses no active policy wants any more. A link
 * plumbd created is deleted; a link it only changed is put back to its
 * before-image; a row whose link is gone is just forgotten. */
static void plan_prune_links(struct builder *b)
{
    const struct inventory *inv = b->in->inv;
    const struct live_ns *node = b->in->node;

    for (size_t i = 0; i < inv->naddrs; i++) {
        const struct owned_addr *a = &inv->addrs[i];
        if (owner_frozen(b, a->owner) || addr_wanted(b, a) || gateway_wanted(b, a))
            continue;
        const struct live_link *l = live_find_link(node, a->ifname);
        struct op *op;
        if (l && live_has_addr(node, l->ifindex, &a->addr))
            op = opbuf_push(&b->out, OP_ADDR_DEL, a->owner, a->ifname, PH_ADDR_DEL);
        else
            op = opbuf_push(&b->out, OP_FORGET, a->owner, a->ifname, PH_FORGET);
        op->addr = a->addr;
    }

    /* Ports before bridges: restore pre-existing links, then delete ours. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < inv->nlinks; i++) {
            const struct owned_link *o = &inv->links[i];
            if (o->created != (pass == 1))
                continue;
            if (owner_frozen(b, o->owner) || any_policy_wants(b, o->ifname))
                continue;
            const struct live_link *l = live_find_link(node, o->ifname);
            if (!l) {
                opbuf_push(&b->out, OP_FORGET, o->owner, o->ifname, PH_FORGET);
                continue;
            }
            if (o->created) {
                opbuf_push(&b->out, OP_LINK_DEL, o->owner, o->ifname, PH_DELETE)->forget = true;
                continue;
            }
            struct op *op = opbuf_push(&b->out, OP_LINK_SET, o->owner, o->ifname, PH_RESTORE);
            op->forget = true;
            const struct live_link *m = live_find_ifindex(node, l->master);
            if (!streq(m ? m->name : "", o->before_master)) {
                op->set |= LS_MASTER;
                snprintf(op->master, sizeof(op->master), "%s", o->before_master);
            }
            if (o->before_mtu && l->mtu != o->before_mtu) {
                op->set |= LS_MTU;
                op->mtu = o->before_mtu;
            }
            if (link_up(l) != o->before_up) {
                op->set |= LS_UP;
                op->up = o->before_up;
            }
            if (!streq_ptr(l->alias, o->before_alias)) {
                op->set |= LS_ALIAS;
                op->alias = o->before_alias ? xstrdup(o->before_alias) : NULL;
            }
            if (o->before_stp >= 0 && l->stp >= 0 && l->stp != o->before_stp) {
                op->set |= LS_STP;
                op->stp = o->before_stp;
            }
            if (bropts_diff(&o->before_bropts, &l->bropts, &op->bropts))
                op->set |= LS_BROPTS;
            /* Port options come back on the bridge it stays on (a port
             * that leaves its bridge loses them anyway). */
            if (!(op->set & LS_MASTER) && l->master &&
                brport_opts_diff(&o->before_brport, &l->brport, &op->brport))
                op->set |= LS_BRPORT;
            if (o->before_has_mac && l->has_mac && memcmp(l->mac, o->before_mac, 6)) {
                op->set |= LS_MAC;
                memcpy(op->mac, o->before_mac, 6);
            }
            if (o->before_promisc >= 0 && (bool)(l->flags & IFF_PROMISC) != o->before_promisc) {
                op->set |= LS_PROMISC;
                op->promisc = o->before_promisc;
            }
            if (!op->set)
                op->type = OP_FORGET; /* already as it was: just let go */
        }
}

/* ---- pods --------------------------------------------------------------- */

/* A small string-keyed hash (one or two borrowed keys -> size_t), open
 * addressing: the pod lookups of a pass are O(1) instead of a walk over
 * every attachment or object. */
struct smap_slot {
    uint64_t h;
    const char *k1, *k2;
    size_t v;
    bool used;
};

static uint64_t smap_hash(const char *k1, const char *k2)
{
    uint64_t h = hash64(k1, strlen(k1), HASH64_SEED);
    h = hash64("\n", 1, h);
    return k2 ? hash64(k2, strlen(k2), h) : h;
}

static size_t *smap_find(const struct smap *m, uint64_t h, const char *k1, const char *k2)
{
    if (!m->cap)
        return NULL;
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct smap_slot *s = &m->s[i];
        if (!s->used)
            return NULL;
        if (s->h == h && streq(s->k1, k1) && streq_ptr(s->k2, k2))
            return &s->v;
    }
}

static size_t *smap_get(const struct smap *m, const char *k1, const char *k2)
{
    return m->cap ? smap_find(m, smap_hash(k1, k2), k1, k2) : NULL;
}

/* A key known to be absent, its hash computed. */
static void smap_insert(struct smap *m, uint64_t h, const char *k1, const char *k2, size_t v)
{
    if ((m->n + 1) * 2 > m->cap) { /* grow: the slots keep their hashes */
        struct smap o = *m;
        m->cap = o.cap ? o.cap * 2 : 64;
        m->s = xcalloc(m->cap, sizeof(*m->s));
        m->n = 0;
        for (size_t i = 0; i < o.cap; i++)
            if (o.s[i].used)
                smap_insert(m, o.s[i].h, o.s[i].k1, o.s[i].k2, o.s[i].v);
        free(o.s);
    }
    size_t i = (size_t)h & (m->cap - 1);
    while (m->s[i].used)
        i = (i + 1) & (m->cap - 1);
    m->s[i] = (struct smap_slot){h, k1, k2, v, true};
    m->n++;
}

static void smap_put(struct smap *m, const char *k1, const char *k2, size_t v)
{
    uint64_t h = smap_hash(k1, k2);
    size_t *old = smap_find(m, h, k1, k2);
    if (old)
        *old = v;
    else
        smap_insert(m, h, k1, k2, v);
}

/* Room for n keys without growing. */
static void smap_reserve(struct smap *m, size_t n)
{
    if (m->cap || !n)
        return;
    size_t cap = 64;
    while (cap < 2 * n + 2)
        cap *= 2;
    m->cap = cap;
    m->s = xcalloc(cap, sizeof(*m->s));
}

static void smap_free(struct smap *m)
{
    free(m->s);
    memset(m, 0, sizeof(*m));
}

/* The recorded attachment (owner, pod_if), through a hash built on first
 * use (the inventory does not change during a plan). */
static const struct owned_attach *owned_attach(struct builder *b, const char *owner,
                                               const char *pod_if)
{
    const struct inventory *inv = b->in->inv;
    if (!b->attach_by_key.cap && inv->nattach) {
        smap_reserve(&b->attach_by_key, inv->nattach);
        for (size_t i = inv->nattach; i-- > 0;) /* the first row wins, as a scan would */
            smap_put(&b->attach_by_key, inv->attach[i].owner, inv->attach[i].pod_if, i);
    }
    size_t *v = smap_get(&b->attach_by_key, owner, pod_if);
    return v ? &inv->attach[*v] : NULL;
}

/* Every allocation and reservation of the inventory, in an index. Strings
 * are borrowed from inv. */
static struct ipam_index *ipam_index_of(const struct inventory *inv)
{
    struct ipam_index *x = ipam_index_new();
    for (size_t i = 0; i < inv->nallocs; i++) {
        const struct allocation *al = &inv->allocs[i];
        (void)ipam_index_take(x, al->network, &al->ip, al->owner, al->ifname);
    }
    for (size_t i = 0; i < inv->nreserved; i++)
        ipam_index_note(x, inv->reserved[i].network, &inv->reserved[i].ip);
    return x;
}

/* "subnet 192.168.255.0/24 (range 192.168.255.1-192.168.255.254), ..." */
static char *describe_sets(const struct nad *nad)
{
    char *s = xstrdup("");
    for (size_t i = 0; i < nad->nipam_sets; i++)
        for (size_t j = 0; j < nad->ipam_sets[i].nranges; j++) {
            const struct ipam_range *r = &nad->ipam_sets[i].ranges[j];
            char a[64], b[64], c[64];
            char *n = xasprintf("%s%ssubnet %s (range %s-%s)", s, s[0] ? ", " : "",
                                ipaddr_format(&r->subnet, true, a, sizeof(a)),
                                ipaddr_format(&r->start, false, b, sizeof(b)),
                                ipaddr_format(&r->end, false, c, sizeof(c)));
            free(s);
            s = n;
        }
    return s;
}

/* Take ip for (owner, ifname); -EEXIST with the holder named. */
static int take_or_conflict(struct ipam_index *x, const struct nad *nad, const struct ipaddr *ip,
                            const char *what, const char *owner, const char *ifname,
                            char **ret_err)
{
    const char *ho = NULL, *hi = NULL;
    char a[64];
    if (ipam_index_take(x, nad->cni_name, ip, owner, ifname) == 0)
        return 0;
    ipam_index_holder(x, nad->cni_name, ip, &ho, &hi);
    *ret_err = xasprintf("%s %s is already allocated to %s (%s)", what,
                         ipaddr_format(ip, false, a, sizeof(a)), ho ? ho : "?", hi ? hi : "?");
    return -EEXIST;
}

/* Contract (plan.h); the picks are recorded in x (the caller rolls x back
 * when the pod fails). owner and att must outlive x. */
/* Does text name object id as a whole word ("Pod/ns/p5" is not named by
 * "... Pod/ns/p588 (net1)")? */
static bool names_object(const char *text, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = strstr(text, id); p; p = strstr(p + 1, id)) {
        char after = p[n];
        if ((p == text || p[-1] == ' ') && (after == '\0' || after == ' ' || after == ','))
            return true;
    }
    return false;
}

static int pick_addresses(struct ipam_index *x, const struct nad *nad,
                          const struct attachment *att, const char *owner,
                          struct ipaddr **ret_addrs, size_t *ret_n, bool **ret_noted,
                          char **ret_err)
{
    const char *net = nad->cni_name;
    char a1[64], a2[64];
    struct ipaddr *out = NULL;
    size_t nout = 0, nnoted = 0;
    bool *noted = NULL; /* per address: host-local's newest reservation moved to it */
    _cleanup_free_ const struct ipaddr **req = NULL; /* per set: the requested address */
    int r = 0;

    if (nad->ipam_type == IPAM_NONE) {
        if (att->nips) {
            *ret_err = xasprintf("network %s/%s has no IPAM: cannot assign %s", nad->obj.ns,
                                 nad->obj.name,
                                 ipaddr_format(&att->ips[0], false, a1, sizeof(a1)));
            return -EADDRINUSE;
        }
        *ret_addrs = NULL;
        *ret_n = 0;
        if (ret_noted)
            *ret_noted = NULL;
        return 0;
    }
    if (nad->ipam_type == IPAM_STATIC) {
        /* The NAD's addresses, then the requested ones (the static plugin
         * with the "ips" capability); recorded like allocations so that no
         * one else on the network gets them. */
        for (size_t i = 0; i < nad->nipam_static + att->nips && r >= 0; i++) {
            const struct ipaddr *ip = i < nad->nipam_static ? &nad->ipam_static[i].addr
                                                            : &att->ips[i - nad->nipam_static];
            if (!ip->prefix) {
                *ret_err = xasprintf("requested address %s needs a prefix length (static IPAM)",
                                     ipaddr_format(ip, false, a1, sizeof(a1)));
                r = -EADDRINUSE;
                break;
            }
            r = take_or_conflict(x, nad, ip, "address", owner, att->ifname, ret_err);
            if (r >= 0) {
                *ARRAY_PUSH(out, nout) = *ip;
                *ARRAY_PUSH(noted, nnoted) = false;
            }
        }
        goto done;
    }

    /* host-local: every requested address belongs to exactly one set (the
     * sets do not overlap), at most one per set. */
    req = xcalloc(nad->nipam_sets + 1, sizeof(*req));
    for (size_t i = 0; i < att->nips; i++) {
        const struct ipaddr *ip = &att->ips[i];
        size_t s = 0;
        int k = -1;
        for (; s < nad->nipam_sets && k < 0; s++)
            k = ipam_set_find(&nad->ipam_sets[s], ip);
        if (k < 0) {
            _cleanup_free_ char *sets = describe_sets(nad);
            *ret_err = xasprintf("requested address %s is outside %s",
                                 ipaddr_format(ip, false, a1, sizeof(a1)), sets);
            r = -EADDRINUSE;
            goto done;
        }
        s--;
        const struct ipam_range *rg = &nad->ipam_sets[s].ranges[k];
        if (ip->prefix && ip->prefix != rg->subnet.prefix) {
            *ret_err = xasprintf("%s: prefix length /%u differs from subnet %s",
                                 ipaddr_format(ip, false, a1, sizeof(a1)), ip->prefix,
                                 ipaddr_format(&rg->subnet, true, a2, sizeof(a2)));
            r = -EADDRINUSE;
            goto done;
        }
        if (!ipam_in_range(rg, ip)) {
            *ret_err = xasprintf("requested address %s is the gateway of subnet %s",
                                 ipaddr_format(ip, false, a1, sizeof(a1)),
                                 ipaddr_format(&rg->subnet, true, a2, sizeof(a2)));
            r = -EADDRINUSE;
            goto done;
        }
        if (req[s]) {
            *ret_err = xasprintf("requested addresses %s and %s are in the same range set: "
                                 "one address per set",
                                 ipaddr_format(req[s], false, a1, sizeof(a1)),
                                 ipaddr_format(ip, false, a2, sizeof(a2)));
            r = -EADDRINUSE;
            goto done;
        }
        req[s] = ip;
    }
    for (size_t s = 0; s < nad->nipam_sets; s++) {
        const struct ipam_set *set = &nad->ipam_sets[s];
        struct ipaddr ip;
        bool note = true;
        if (req[s]) {
            ip = *req[s];
            ip.prefix = set->ranges[ipam_set_find(set, &ip)].subnet.prefix;
            r = take_or_conflict(x, nad, &ip, "requested address", owner, att->ifname, ret_err);
            if (r < 0)
                goto done;
            ipam_index_note(x, net, &ip);
        } else if (!ipam_index_held_in(x, net, owner, att->ifname, set, &ip)) {
            /* not held yet: the next free one (an attachment keeps what it
             * holds: stable addresses across passes and restarts) */
            if (ipam_index_next_free(x, net, set, &ip, NULL) < 0) {
                _cleanup_free_ char *d = set->nranges == 1
                                             ? xstrdup(ipaddr_format(&set->ranges[0].subnet, true,
                                                                     a1, sizeof(a1)))
                                             : ipam_set_describe(set);
                *ret_err = xasprintf("network %s: no free address in %s", net, d);
                r = -EADDRINUSE;
                goto done;
            }
            (void)ipam_index_take(x, net, &ip, owner, att->ifname);
            ipam_index_note(x, net, &ip);
        } else
            note = false;
        *ARRAY_PUSH(out, nout) = ip;
        *ARRAY_PUSH(noted, nnoted) = note;
    }
done:
    if (r < 0) {
        free(out);
        free(noted);
        return r;
    }
    *ret_addrs = out;
    *ret_n = nout;
    if (ret_noted)
        *ret_noted = noted;
    else
        free(noted);
    return 0;
}

int plan_pick_addresses(const struct nad *nad, const struct attachment *att, const char *owner,
                        const struct inventory *inv, struct ipaddr **ret_addrs, size_t *ret_n,
                        char **ret_err)
{
    struct ipam_index *x = ipam_index_of(inv);
    int r = pick_addresses(x, nad, att, owner, ret_addrs, ret_n, NULL, ret_err);
    ipam_index_free(x);
    return r;
}

/* The gateway of a pod address: the one of its host-local range, or of
 * its static address. false when there is none. */
static bool addr_gateway(const struct nad *nad, const struct ipaddr *ip, struct ipaddr *ret)
{
    for (size_t s = 0; s < nad->nipam_sets; s++) {
        int k = ipam_set_find(&nad->ipam_sets[s], ip);
        if (k >= 0 && nad->ipam_sets[s].ranges[k].has_gateway) {
            *ret = nad->ipam_sets[s].ranges[k].gateway;
            return true;
        }
    }
    for (size_t i = 0; i < nad->nipam_static; i++)
        if (ipaddr_same_host(&nad->ipam_static[i].addr, ip) && nad->ipam_static[i].has_gateway) {
            *ret = nad->ipam_static[i].gateway;
            return true;
        }
    return false;
}

/* The IPAM routes of the pod, per family: a route goes to the pod when it
 * has an address of the route's family; one without "gw" goes via the
 * gateway of the pod's first address of that family (as the CNI plugins'
 * ConfigureIface does), or on-link when there is none. */
static void plan_ipam_routes(const struct nad *nad, struct pod_attach_op *pa)
{
    struct ipaddr gw[2];
    bool has_addr[2] = {false, false}, has_gw[2] = {false, false};
    for (size_t i = 0; i < pa->naddrs; i++) {
        int f = pa->addrs[i].family == AF_INET6;
        if (has_addr[f])
            continue;
        has_addr[f] = true;
        has_gw[f] = addr_gateway(nad, &pa->addrs[i], &gw[f]);
    }
    for (size_t k = 0; k < nad->nroutes; k++) {
        struct route rt = nad->routes[k];
        int f = rt.dst.family == AF_INET6;
        if (!has_addr[f])
            continue;
        if (!rt.has_gw && has_gw[f]) {
            rt.has_gw = true;
            rt.gw = gw[f];
            rt.gw.prefix = f ? 128 : 32;
        }
        *ARRAY_PUSH(pa->routes, pa->nroutes) = rt;
    }
}

static bool bridge_planned(const struct builder *b, const char *name)
{
    for (size_t i = 0; i < b->out.n; i++)
        if (b->out.ops[i].type == OP_BRIDGE_ADD && streq(b->out.ops[i].ifname, name))
            return true;
    return false;
}

static bool live_has_route(const struct live_ns *l, int ifindex, const struct route *rt)
{
    for (size_t i = 0; i < l->nroutes; i++) {
        const struct live_route *r = &l->routes[i];
        if (LIVE_ROUTE_MAIN_UNICAST(r) && r->ifindex == ifindex && live_route_is(r, rt))
            return true;
    }
    return false;
}

/* The kernel's MACVLAN_MODE_* value of a macvlan_mode. */
static int macvlan_kernel_mode(int mode)
{
    switch (mode) {
    case CNI_MACVLAN_PRIVATE:
        return 1; /* MACVLAN_MODE_PRIVATE */
    case CNI_MACVLAN_VEPA:
        return 2; /* MACVLAN_MODE_VEPA */
    case CNI_MACVLAN_PASSTHRU:
        return 8; /* MACVLAN_MODE_PASSTHRU */
    default:
        return 4; /* MACVLAN_MODE_BRIDGE */
    }
}

/* Is the attachment exactly as wanted in the kernel? For a veth: the host
 * end on the bridge, up, with its port flags; for a macvlan: on its master
 * (bridge = the master's live link) in its mode. Then the pod end: up (or
 * down for disableContainerInterface), MAC, MTU, addresses, routes. Port
 * VLANs are not read back (one more dump per pass); the bridge's
 * vlan_filtering is, by plan_pod. */
static bool foreign_default(const struct live_ns *pod, int ifindex, const struct ipaddr *gw);

static bool attach_converged(const struct live_ns *node, const struct live_ns *pod,
                             const struct live_link *bridge, const struct pod_attach_op *pa)
{
    const struct live_link *p = live_find_link(pod, pa->pod_if);
    if (!p || !bridge || link_up(p) == pa->link_down)
        return false;
    if (pa->kind == ATTACH_MACVLAN) {
        if (!streq(p->kind, "macvlan") || p->link != bridge->ifindex ||
            p->macvlan_mode != macvlan_kernel_mode(pa->macvlan_mode))
            return false;
        if (pa->mtu && p->mtu != pa->mtu)
            return false;
    } else {
        const struct live_link *h = live_find_link(node, pa->host_if);
        if (!h || h->master != bridge->ifindex || !link_up(h))
            return false;
        if (!streq(p->kind, "veth") || p->link != h->ifindex)
            return false;
        if (pa->mtu && (p->mtu != pa->mtu || h->mtu != pa->mtu))
            return false;
        /* -1: the kernel did not report the flag; nothing to compare */
        if (h->brport_hairpin >= 0 && h->brport_hairpin != (int)pa->hairpin)
            return false;
        if (h->brport_isolated >= 0 && h->brport_isolated != (int)pa->isolated)
            return false;
    }
    if (pa->has_mac && (!p->has_mac || memcmp(p->mac, pa->mac, 6) != 0))
        return false;
    if (pa->link_down)
        return true; /* left unconfigured */
    for (size_t i = 0; i < pa->naddrs; i++)
        if (!live_has_addr(pod, p->ifindex, &pa->addrs[i]))
            return false;
    for (size_t i = 0; i < pa->nroutes; i++)
        if (!live_has_route(pod, p->ifindex, &pa->routes[i]))
            return false;
    /* default-route: the pod's only default route of the family */
    for (size_t i = 0; i < pa->ndefault_gw; i++)
        if (foreign_default(pod, p->ifindex, &pa->default_gw[i]))
            return false;
    return true;
}

enum attach_kind attach_kind_of(const char *host_if)
{
    return strncmp(host_if, ATTACH_MACVLAN_PREFIX, 2) == 0 ? ATTACH_MACVLAN : ATTACH_VETH;
}

/* Is an op like this one already in the plan (or in this object's ops)?
 * Bridge settings, gateway addresses and sysctls are wanted by every pod of
 * a network and planned once. */
static bool op_planned_in(const struct builder *b, const struct opbuf *ob, const struct op *want)
{
    const struct opbuf *bufs[2] = {&b->out, ob};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < bufs[k]->n; i++) {
            const struct op *o = &bufs[k]->ops[i];
            if (o->type != want->type)
                continue;
            if (o->type == OP_SYSCTL && streq_ptr(o->sysctl, want->sysctl))
                return true;
            if (o->type == OP_LINK_SET && streq(o->ifname, want->ifname) &&
                (o->set & want->set) == want->set)
                return true;
            if ((o->type == OP_ADDR_ADD || o->type == OP_ADDR_DEL) &&
                streq(o->ifname, want->ifname) && ipaddr_equal(&o->addr, &want->addr))
                return true;
        }
    return false;
}

static bool op_planned(struct builder *b, const struct opbuf *ob, const struct op *want)
{
    bool r = op_planned_in(b, ob, want);
    b->leaned += r;
    return r;
}

/* The node link of the IPv4 default route (else IPv6): a macvlan's master
 * when the NAD names none, as the macvlan plugin picks it. */
static const struct live_link *default_route_link(const struct live_ns *node)
{
    for (int fam = 0; fam < 2; fam++)
        for (size_t i = 0; i < node->nroutes; i++) {
            const struct live_route *r = &node->routes[i];
            if (LIVE_ROUTE_MAIN_UNICAST(r) && r->dst.prefix == 0 && r->ifindex > 0 &&
                r->dst.family == (fam == 0 ? AF_INET : AF_INET6))
                return live_find_ifindex(node, r->ifindex);
        }
    return NULL;
}

size_t nad_gateways(const struct nad *nad, struct ipaddr *ret, size_t max)
{
    size_t n = 0;
    if (nad->ipam_type == IPAM_NONE)
        return 0;
    for (size_t i = 0; i < nad->nipam_sets && n < max; i++) {
        const struct ipam_set *set = &nad->ipam_sets[i];
        if (!set->nranges || !set->ranges[0].has_gateway)
            continue;
        ret[n] = set->ranges[0].gateway;
        ret[n++].prefix = set->ranges[0].subnet.prefix;
    }
    if (n == 0 && nad->range.has_gateway && max) {
        ret[n] = nad->range.gateway;
        ret[n++].prefix = nad->range.subnet.prefix;
    }
    return n;
}

bool nad_subnet_of(const struct nad *nad, const struct ipaddr *addr, struct ipaddr *ret)
{
    if (nad->ipam_type == IPAM_NONE)
        return false;
    for (size_t i = 0; i < nad->nipam_sets; i++)
        for (size_t j = 0; j < nad->ipam_sets[i].nranges; j++) {
            const struct ipaddr *sn = &nad->ipam_sets[i].ranges[j].subnet;
            if (sn->family == addr->family && ipaddr_in_subnet(addr, sn)) {
                *ret = *sn;
                return true;
            }
        }
    if (nad->range.subnet.family == addr->family && ipaddr_in_subnet(addr, &nad->range.subnet)) {
        *ret = nad->range.subnet;
        return true;
    }
    for (size_t i = 0; i < nad->nipam_static; i++) {
        struct ipaddr sn = nad->ipam_static[i].addr;
        if (sn.family == addr->family && ipaddr_in_subnet(addr, &sn)) {
            *ret = sn;
            return true;
        }
    }
    return false;
}

/* The bridge address isGateway puts on the bridge for the family of the
 * pod's address: the IPAM gateway with its subnet's prefix. */
static bool nad_gateway(const struct nad *nad, int family, struct ipaddr *ret)
{
    struct ipaddr gws[8];
    size_t n = nad_gateways(nad, gws, ARRAY_SIZE(gws));
    for (size_t i = 0; i < n; i++)
        if (gws[i].family == family) {
            *ret = gws[i];
            return true;
        }
    return false;
}

static bool has_family(const struct ipaddr *a, size_t n, int family)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].family == family)
            return true;
    return false;
}

/* What the bridge plugin changes on the node for an attachment of nad, as
 * ops of the pod (planned once per bridge): promiscMode, VLAN filtering,
 * the isGateway address (forceAddress: other addresses of the subnet on the
 * bridge go first) and IP forwarding. br is the live bridge, or NULL when
 * this plan creates it. -EADDRINUSE with *ret_msg when the bridge holds
 * another address of the subnet and forceAddress is off. */
static int plan_bridge_gateway(struct builder *b, struct opbuf *ob, const char *id,
                               const struct nad *nad, const struct live_link *br,
                               const struct ipaddr *gwp, char **ret_msg);

static int plan_bridge_needs(struct builder *b, struct opbuf *ob, const char *id,
                             const struct nad *nad, const struct live_link *br,
                             const struct ipaddr *addrs, size_t naddrs, char **ret_msg)
{
    struct op want = {.type = OP_LINK_SET};
    snprintf(want.ifname, sizeof(want.ifname), "%s", nad->bridge);

    if (nad->promisc && (!br || !(br->flags & IFF_PROMISC))) {
        want.set = LS_PROMISC;
        if (!op_planned(b, ob, &want)) {
            struct op *op = opbuf_push(ob, OP_LINK_SET, id, nad->bridge, PH_SET);
            op->set = LS_PROMISC;
            op->promisc = true;
        }
    }
    if ((nad->vlan || nad->ntrunk) && (!br || br->vlan_filtering != 1)) {
        want.set = LS_VLAN_FILTERING;
        if (!op_planned(b, ob, &want)) {
            struct op *op = opbuf_push(ob, OP_LINK_SET, id, nad->bridge, PH_SET);
            op->set = LS_VLAN_FILTERING;
            op->vlan_filtering = 1;
        }
    }
    if (!nad->is_gateway)
        return 0;
    for (int f = 0; f < 2; f++) {
        int family = f ? AF_INET6 : AF_INET;
        struct ipaddr gw;
        if (!has_family(addrs, naddrs, family) || !nad_gateway(nad, family, &gw))
            continue;
        int r = plan_bridge_gateway(b, ob, id, nad, br, &gw, ret_msg);
        if (r < 0)
            return r;
    }
    return 0;
}

static int plan_bridge_gateway(struct builder *b, struct opbuf *ob, const char *id,
                               const struct nad *nad, const struct live_link *br,
                               const struct ipaddr *gwp, char **ret_msg)
{
    const struct live_ns *node = b->in->node;
    struct op want = {.type = OP_ADDR_ADD};
    struct ipaddr gw = *gwp;
    snprintf(want.ifname, sizeof(want.ifname), "%s", nad->bridge);
    if (!br || !live_has_addr(node, br->ifindex, &gw)) {
        /* Other addresses of the subnet on the bridge: the plugin fails,
         * or with forceAddress replaces them. */
        for (size_t i = 0; br && i < node->naddrs; i++) {
            const struct live_addr *a = &node->addrs[i];
            char x[64], g[64];
            struct ipaddr subnet = gw; /* the gateway's prefix is its subnet's */
            if (a->ifindex != br->ifindex || a->addr.family != gw.family ||
                !ipaddr_in_subnet(&a->addr, &subnet))
                continue;
            if (!nad->force_address) {
                *ret_msg = xasprintf("bridge %s already has an IP address (%s) different from "
                                     "the gateway %s; set forceAddress to replace it",
                                     nad->bridge, ipaddr_format(&a->addr, true, x, sizeof(x)),
                                     ipaddr_format(&gw, true, g, sizeof(g)));
                return -EADDRINUSE;
            }
            want.type = OP_ADDR_DEL;
            want.addr = a->addr;
            if (!op_planned(b, ob, &want))
                opbuf_push(ob, OP_ADDR_DEL, id, nad->bridge, PH_ADDR_DEL)->addr = a->addr;
        }
        want.type = OP_ADDR_ADD;
        want.addr = gw;
        if (!op_planned(b, ob, &want))
            opbuf_push(ob, OP_ADDR_ADD, id, nad->bridge, PH_ADDR_ADD)->addr = gw;
    }
    int fwd = gw.family == AF_INET ? b->in->ip_forward : b->in->ip6_forward;
    const char *key = gw.family == AF_INET ? SYSCTL_IP_FORWARD : SYSCTL_IP6_FORWARD;
    struct op ws = {.type = OP_SYSCTL, .sysctl = (char *)key};
    if (fwd == FWD_OFF && !op_planned(b, ob, &ws)) {
        struct op *op = opbuf_push(ob, OP_SYSCTL, id, NULL, PH_SET);
        op->sysctl = xstrdup(key);
        op->value = 1;
        op->before = 0;
    }
    return 0;
}

/* Is the owned address the isGateway address of a network some desired pod
 * attaches to on that bridge? (The pod that added it may be gone.) */
static bool gateway_wanted(const struct builder *b, const struct owned_addr *a)
{
    const struct desired *d = b->in->desired;
    for (size_t i = 0; i < d->nnads; i++) {
        const struct nad *nad = &d->nads[i];
        struct ipaddr gw;
        if (nad->plugin != NAD_BRIDGE || !nad->is_gateway || !streq(nad->bridge, a->ifname) ||
            !nad_gateway(nad, a->addr.family, &gw) || !ipaddr_equal(&gw, &a->addr))
            continue;
        for (size_t p = 0; p < d->npods; p++)
            for (size_t j = 0; j < d->pods[p].natt; j++)
                if (streq(d->pods[p].att[j].nad_ns, nad->obj.ns) &&
                    streq(d->pods[p].att[j].nad_name, nad->obj.name))
                    return true;
    }
    return false;
}

/* A pod-detach of a recorded attachment. */
static void push_detach(struct builder *b, const struct owned_attach *a)
{
    struct op *op = opbuf_push(&b->out, OP_POD_DETACH, a->owner, a->host_if, PH_POD_DETACH);
    op->pa.netns = xstrdup(a->netns ? a->netns : "");
    snprintf(op->pa.pod_if, sizeof(op->pa.pod_if), "%s", a->pod_if);
    snprintf(op->pa.host_if, sizeof(op->pa.host_if), "%s", a->host_if);
    snprintf(op->pa.bridge, sizeof(op->pa.bridge), "%s", a->bridge);
    op->pa.network = xstrdup(a->network ? a->network : "");
    op->pa.kind = attach_kind_of(a->host_if);
    /* default-route: what it displaced goes back after the detach */
    for (size_t i = 0; i < a->ndefault_gw; i++)
        *ARRAY_PUSH(op->pa.default_gw, op->pa.ndefault_gw) = a->default_gw[i];
    for (size_t i = 0; i < a->nprev_defaults; i++)
        *ARRAY_PUSH(op->pa.prev_defaults, op->pa.nprev_defaults) = a->prev_defaults[i];
}

/* The per-attachment keys of the NAD: port flags, VLANs, the pod end's
 * state and routes (the IPAM routes of the address family, plus the
 * default route via the gateway for isDefaultGateway). */
static void plan_attach_settings(const struct nad *nad, struct pod_attach_op *pa)
{
    pa->link_down = nad->disable_container_if;
    pa->dad = nad->enable_dad;
    if (nad->plugin == NAD_BRIDGE) {
        pa->hairpin = nad->hairpin;
        pa->isolated = nad->port_isolation;
        pa->vlan = (uint16_t)nad->vlan;
        for (size_t k = 0; k < nad->ntrunk; k++)
            *ARRAY_PUSH(pa->trunk, pa->ntrunk) = nad->trunk[k];
        pa->drop_default_vlan = (nad->vlan || nad->ntrunk) && !nad->preserve_default_vlan;
    }
    if (pa->link_down)
        return; /* no routes on a link that is down */
    plan_ipam_routes(nad, pa); /* per family, gw-less routes via the gateway */
    if (nad->plugin != NAD_BRIDGE || !nad->is_default_gateway)
        return;
    /* isDefaultGateway: a default route via the gateway, per family of
     * the pod's addresses, unless IPAM has one (via it: validated) */
    for (int f = 0; f < 2; f++) {
        int family = f ? AF_INET6 : AF_INET;
        struct ipaddr gw;
        bool have = false;
        if (!has_family(pa->addrs, pa->naddrs, family) || !nad_gateway(nad, family, &gw))
            continue;
        for (size_t k = 0; k < pa->nroutes && !have; k++)
            have = pa->routes[k].dst.prefix == 0 && pa->routes[k].dst.family == family;
        if (have)
            continue;
        struct route *rt = ARRAY_PUSH(pa->routes, pa->nroutes);
        memset(rt, 0, sizeof(*rt));
        rt->dst.family = family;
        rt->has_gw = true;
        rt->gw = gw;
        rt->gw.prefix = family == AF_INET ? 32 : 128;
    }
}

static void pod_attach_op_free(struct pod_attach_op *pa)
{
    free(pa->netns);
    free(pa->network);
    free(pa->addrs);
    free(pa->routes);
    free(pa->trunk);
    free(pa->default_gw);
    free(pa->prev_defaults);
    memset(pa, 0, sizeof(*pa));
}

/* ---- default-route ------------------------------------------------------ */

static bool family_in(const struct ipaddr *gw, size_t n, int family)
{
    for (size_t i = 0; i < n; i++)
        if (gw[i].family == family)
            return true;
    return false;
}

/* Drop the default routes of the families of gw from pa's routes (the
 * IPAM's own, or isDefaultGateway's): default-route decides them. */
static void drop_default_routes(struct pod_attach_op *pa, const struct ipaddr *gw, size_t ngw)
{
    size_t j = 0;
    for (size_t i = 0; i < pa->nroutes; i++)
        if (!(pa->routes[i].dst.prefix == 0 && family_in(gw, ngw, pa->routes[i].dst.family)))
            pa->routes[j++] = pa->routes[i];
    pa->nroutes = j;
}

/* Add sr to v unless a route of the same family, interface, gateway and
 * metric is there; a restore flag set wins. */
static void saved_route_add(struct saved_route **v, size_t *n, const struct saved_route *sr)
{
    for (size_t i = 0; i < *n; i++) {
        struct saved_route *o = &(*v)[i];
        if (o->rt.dst.family == sr->rt.dst.family && streq(o->ifname, sr->ifname) &&
            o->metric == sr->metric && o->rt.has_gw == sr->rt.has_gw &&
            (!sr->rt.has_gw || ipaddr_same_host(&o->rt.gw, &sr->rt.gw))) {
            o->restore |= sr->restore;
            return;
        }
    }
    *ARRAY_PUSH(*v, *n) = *sr;
}

/* Is a default route of family in the pod that is not "default via gw dev
 * ifindex" (it would be removed by the takeover)? */
static bool foreign_default(const struct live_ns *pod, int ifindex, const struct ipaddr *gw)
{
    for (size_t i = 0; i < pod->nroutes; i++) {
        const struct live_route *r = &pod->routes[i];
        if (!LIVE_ROUTE_MAIN_UNICAST(r) || r->dst.prefix != 0 || r->dst.family != gw->family)
            continue;
        if (r->ifindex != ifindex || !r->has_gw || !ipaddr_same_host(&r->gw, gw))
            return true;
    }
    return false;
}

/* The takeover of the pod's default route by this attachment: the routes
 * "default via gw dev pod_if", and what it displaces: the default routes
 * of those families the pod has on other interfaces now (restored on
 * detach, unless they are on another attachment of the pod's), plus those
 * the pod's attachments recorded as displaced before. Returns 0, or
 * -EINVAL with ret_err when a gateway is in none of the attachment's
 * subnets. */
static int plan_default_route(struct builder *b, const char *id, const struct pod *pod,
                              const struct attachment *att, const struct live_ns *podns,
                              struct pod_attach_op *pa, char **ret_err)
{
    char g[64], a[64];
    if (pa->link_down) {
        *ret_err = xasprintf("%s: default-route asks for the pod's default route on an "
                             "interface that is left down (disableContainerInterface)",
                             att->ifname);
        return -EINVAL;
    }
    for (size_t i = 0; i < att->ndefault_gw; i++) {
        const struct ipaddr *gw = &att->default_gw[i];
        bool inside = false;
        for (size_t k = 0; k < pa->naddrs && !inside; k++)
            inside = pa->addrs[k].family == gw->family && ipaddr_in_subnet(gw, &pa->addrs[k]);
        if (!inside) {
            char subnets[512] = "";
            size_t n = 0;
            for (size_t k = 0; k < pa->naddrs && n < sizeof(subnets); k++)
                n += (size_t)snprintf(subnets + n, sizeof(subnets) - n, "%s%s", k ? ", " : "",
                                      ipaddr_format(&pa->addrs[k], true, a, sizeof(a)));
            *ret_err = xasprintf("%s: default-route gateway %s is not inside a subnet of %s/%s "
                                 "on %s (%s)", att->ifname,
                                 ipaddr_format(gw, false, g, sizeof(g)), att->nad_ns,
                                 att->nad_name, att->ifname,
                                 n ? subnets : "no address of that family");
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < att->ndefault_gw; i++) {
        struct route *rt = ARRAY_PUSH(pa->routes, pa->nroutes);
        memset(rt, 0, sizeof(*rt));
        rt->dst.family = att->default_gw[i].family;
        rt->has_gw = true;
        rt->gw = att->default_gw[i];
        rt->gw.prefix = rt->dst.family == AF_INET ? 32 : 128;
        *ARRAY_PUSH(pa->default_gw, pa->ndefault_gw) = rt->gw;
    }
    /* what the pod's attachments recorded as displaced */
    const struct inventory *inv = b->in->inv;
    for (size_t i = 0; i < inv->nattach; i++) {
        const struct owned_attach *oa = &inv->attach[i];
        if (!streq(oa->owner, id))
            continue;
        for (size_t k = 0; k < oa->nprev_defaults; k++)
            if (family_in(pa->default_gw, pa->ndefault_gw, oa->prev_defaults[k].rt.dst.family))
                saved_route_add(&pa->prev_defaults, &pa->nprev_defaults, &oa->prev_defaults[k]);
    }
    /* what the pod has now */
    const struct live_link *self = live_find_link(podns, pa->pod_if);
    for (size_t i = 0; i < podns->nroutes; i++) {
        const struct live_route *r = &podns->routes[i];
        if (!LIVE_ROUTE_MAIN_UNICAST(r) || r->dst.prefix != 0 ||
            !family_in(pa->default_gw, pa->ndefault_gw, r->dst.family))
            continue;
        if (self && r->ifindex == self->ifindex)
            continue; /* ours: replaced by the takeover itself */
        const struct live_link *l = live_find_ifindex(podns, r->ifindex);
        struct saved_route sr = {.metric = r->priority, .protocol = r->protocol, .restore = true};
        sr.rt.dst = r->dst;
        sr.rt.has_gw = r->has_gw;
        sr.rt.gw = r->gw;
        snprintf(sr.ifname, sizeof(sr.ifname), "%s", l ? l->name : "");
        for (size_t k = 0; k < pod->natt && sr.restore; k++)
            if (streq(pod->att[k].ifname, sr.ifname))
                sr.restore = false; /* another of our attachments: only removed */
        saved_route_add(&pa->prev_defaults, &pa->nprev_defaults, &sr);
    }
    return 0;
}

/* ---- the memo of converged pods (plan.h) ------------------------------- */

struct memo_att { /* what one attachment's IPAM picks were */
    char *network; /* the NAD's CNI network name */
    struct ipaddr *addrs;
    bool *noted; /* per address: the network's newest reservation moved to it */
    size_t n;
};

struct memo_pod {
    char *id;
    char rev[17];
    uint64_t pod_serial;
    struct memo_att *att; /* one per attachment of the pod */
    size_t natt;
};

struct plan_memo {
    uint64_t key; /* node snapshot, NAD and policy revisions, forwarding */
    /* parts of it, for the quick lane */
    uint64_t node_serial, nads_key;
    int fwd[2];
    bool any_noted; /* some pick moved a network's newest reservation */
    struct memo_pod *v;
    size_t n;
    struct strmap by_id;
    size_t hits;
};

struct plan_memo *plan_memo_new(void)
{
    return xcalloc(1, sizeof(struct plan_memo));
}

static void memo_att_free(struct memo_att *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].network);
        free(a[i].addrs);
        free(a[i].noted);
    }
    free(a);
}

void plan_memo_clear(struct plan_memo *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].id);
        memo_att_free(m->v[i].att, m->v[i].natt);
    }
    free(m->v);
    strmap_free(&m->by_id);
    memset(m, 0, sizeof(*m));
}

void plan_memo_free(struct plan_memo *m)
{
    plan_memo_clear(m);
    free(m);
}

void plan_memo_stats(const struct plan_memo *m, size_t *ret_hits, size_t *ret_entries)
{
    *ret_hits = m ? m->hits : 0;
    *ret_entries = m ? m->n : 0;
}

/* What every pod's plan reads beyond its own document, snapshot and
 * inventory rows. */
static uint64_t nads_key(const struct desired *d)
{
    uint64_t h = HASH64_SEED;
    for (size_t i = 0; i < d->nnads; i++) {
        const struct object *o = &d->nads[i].obj;
        h = hash64(o->ns, strlen(o->ns) + 1, h);
        h = hash64(o->name, strlen(o->name) + 1, h);
        h = hash64(o->rev, sizeof(o->rev), h);
    }
    return h;
}

static uint64_t memo_key(const struct plan_input *in)
{
    const struct desired *d = in->desired;
    uint64_t h = hash64(&in->node->serial, sizeof(in->node->serial), nads_key(d));
    int fwd[2] = {in->ip_forward, in->ip6_forward};
    h = hash64(fwd, sizeof(fwd), h);
    for (size_t i = 0; i < d->npolicies; i++) {
        const struct object *o = &d->policies[i].obj;
        h = hash64(o->name, strlen(o->name) + 1, h);
        h = hash64(o->rev, sizeof(o->rev), h);
    }
    return h;
}

/* Pod idx, found converged by the last plan from the same inputs: replay
 * its picks into the IPAM index. False (the index as it was) when it is not
 * in the memo, or a pick no longer fits: a held address must still be held
 * by it, a taken one must still be free. */
static bool memo_replay(struct builder *b, size_t idx, const struct live_ns *podns,
                        size_t *ret_entry)
{
    const struct plan_memo *m = b->in->memo;
    const struct pod *pod = &b->in->desired->pods[idx];
    const char *owner = b->active[b->nactive - 1];
    size_t k;
    if (!b->memo_usable || !podns || !strmap_get(&m->by_id, b->pod_ids[idx], &k))
        return false;
    const struct memo_pod *e = &m->v[k];
    if (e->pod_serial != podns->serial || memcmp(e->rev, pod->obj.rev, sizeof(e->rev)) != 0 ||
        e->natt != pod->natt)
        return false;
    size_t sp = ipam_index_savepoint(b->ipam);
    for (size_t i = 0; i < pod->natt; i++) {
        const struct attachment *att = &pod->att[i];
        const struct nad *nad = desired_find_nad(b->in->desired, att->nad_ns, att->nad_name);
        if (!nad)
            goto undo;
        for (size_t j = 0; j < e->att[i].n; j++) {
            size_t before = ipam_index_savepoint(b->ipam);
            if (ipam_index_take(b->ipam, nad->cni_name, &e->att[i].addrs[j], owner,
                                att->ifname) < 0)
                goto undo;
            if (e->att[i].noted[j])
                ipam_index_note(b->ipam, nad->cni_name, &e->att[i].addrs[j]);
            else if (ipam_index_savepoint(b->ipam) != before)
                goto undo; /* it was held: now it is not */
        }
    }
    *ret_entry = k;
    return true;
undo:
    ipam_index_rollback(b->ipam, sp);
    return false;
}

/* Remember pod idx as converged, with its picks (taken). */
static void memo_record(struct builder *b, size_t idx, const struct live_ns *podns,
                        struct memo_att *att, char *id)
{
    const struct pod *pod = &b->in->desired->pods[idx];
    struct plan_memo *m = b->next_memo;
    struct memo_pod *e = ARRAY_PUSH(m->v, m->n);
    e->id = id ? id : xstrdup(b->pod_ids[idx]);
    memcpy(e->rev, pod->obj.rev, sizeof(e->rev));
    e->pod_serial = podns->serial;
    e->att = att;
    e->natt = pod->natt;
}

static void plan_pod(struct builder *b, size_t idx)
{
    const struct pod *pod = &b->in->desired->pods[idx];
    const struct live_ns *podns = b->in->pod_live ? b->in->pod_live[idx] : NULL;
    const struct live_ns *node = b->in->node;
    const struct inventory *inv = b->in->inv;
    const char *id = b->pod_ids[idx];
    if (pinned(b, &pod->obj))
        return;
    *ARRAY_PUSH(b->active, b->nactive) = xstrdup(id); /* set_active */
    size_t hit;
    if (memo_replay(b, idx, podns, &hit)) {
        struct memo_pod *e = &b->in->memo->v[hit];
        b->in->memo->hits++;
        memo_record(b, idx, podns, e->att, e->id); /* the picks move on */
        e->att = NULL;
        e->natt = 0;
        e->id = NULL; /* the old map's key stays valid: the new entry owns it */
        status_add(b, &pod->obj, COND_AVAILABLE, "SuccessfullyConfigured", "%s", "");
        return;
    }

    struct opbuf ob = {0};
    /* its picks, should it turn out converged (and remembered) */
    struct memo_att *rec = b->next_memo ? xcalloc(pod->natt + 1, sizeof(*rec)) : NULL;
    unsigned long leaned = b->leaned;
    /* this pod's picks are undone when it does not converge */
    size_t ipam_sp = ipam_index_savepoint(b->ipam);
    enum condition cond = COND_AVAILABLE;
    const char *reason = "SuccessfullyConfigured";
    _cleanup_free_ char *msg = NULL;
    /* the element carrying default-route (at most one: validated) */
    const struct attachment *dr_att = NULL;
    for (size_t i = 0; i < pod->natt; i++)
        if (pod->att[i].ndefault_gw)
            dr_att = &pod->att[i];

    for (size_t i = 0; i < pod->natt && cond == COND_AVAILABLE; i++) {
        const struct attachment *att = &pod->att[i];
        const struct nad *nad = desired_find_nad(b->in->desired, att->nad_ns, att->nad_name);
        if (!nad) {
            cond = COND_PENDING;
            reason = "NetworkAttachmentDefinitionMissing";
            msg = xasprintf("NetworkAttachmentDefinition %s/%s not found", att->nad_ns,
                            att->nad_name);
            break;
        }
        if (nad->plugin == NAD_UNSUPPORTED) {
            cond = COND_FAILING;
            reason = "UnsupportedType";
            msg = xasprintf("%s: network %s/%s has CNI type '%s', which plumbd does not "
                            "implement (bridge, macvlan)", att->ifname, nad->obj.ns,
                            nad->obj.name, nad->cni_type);
            break;
        }
        const struct live_link *br = NULL; /* the bridge, or the macvlan's master */
        if (nad->plugin == NAD_MACVLAN) {
            br = nad->master[0] ? live_find_link(node, nad->master) : default_route_link(node);
            if (!br) {
                cond = COND_PENDING;
                reason = "MasterMissing";
                msg = nad->master[0]
                          ? xasprintf("macvlan master %s (of %s/%s) does not exist", nad->master,
                                      nad->obj.ns, nad->obj.name)
                          : xasprintf("network %s/%s names no master and the node has no "
                                      "default route", nad->obj.ns, nad->obj.name);
                break;
            }
        } else {
            br = live_find_link(node, nad->bridge);
            if (br && !streq(br->kind, "bridge"))
                br = NULL;
            if (!br && !bridge_planned(b, nad->bridge)) {
                cond = COND_PENDING;
                reason = "BridgeMissing";
                msg = xasprintf("bridge %s (of %s/%s) does not exist", nad->bridge, nad->obj.ns,
                                nad->obj.name);
                break;
            }
        }
        struct ipaddr *addrs = NULL;
        size_t naddrs = 0;
        bool *noted = NULL;
        char *err = NULL;
        int k = pick_addresses(b->ipam, nad, att, b->active[b->nactive - 1], &addrs, &naddrs,
                               &noted, &err);
        if (k >= 0 && rec) {
            rec[i].network = xstrdup(nad->cni_name);
            rec[i].addrs = naddrs ? xmalloc(naddrs * sizeof(*addrs)) : NULL;
            if (naddrs)
                memcpy(rec[i].addrs, addrs, naddrs * sizeof(*addrs));
            rec[i].noted = noted;
            rec[i].n = naddrs;
        } else
            free(noted);
        if (k < 0) {
            cond = COND_FAILING;
            reason = k == -EEXIST ? "Conflict" : "AddressUnavailable";
            msg = xasprintf("%s: %s", att->ifname, err);
            /* Name the holder's file too, when it is a pod in this config. */
            for (size_t q = 0; k == -EEXIST && q < b->in->desired->npods; q++) {
                const struct pod *o = &b->in->desired->pods[q];
                char oid[256];
                object_id(&o->obj, oid, sizeof(oid));
                if (o != pod && names_object(err, oid)) {
                    char *m = xasprintf("%s, defined in %s", msg, o->obj.file);
                    free(msg);
                    msg = m;
                    break;
                }
            }
            free(err);
            break;
        }
        if (!podns) {
            free(addrs);
            cond = COND_PENDING;
            reason = "NetnsMissing";
            msg = xasprintf("network namespace %s does not exist yet", pod->netns);
            break;
        }
        struct pod_attach_op pa = {0};
        pa.netns = xstrdup(pod->netns);
        snprintf(pa.pod_if, sizeof(pa.pod_if), "%s", att->ifname);
        plan_host_ifname(id, att->ifname, pa.host_if);
        if (nad->plugin == NAD_MACVLAN) {
            pa.kind = ATTACH_MACVLAN;
            memcpy(pa.host_if, ATTACH_MACVLAN_PREFIX, 2); /* an inventory key, no link */
            snprintf(pa.bridge, sizeof(pa.bridge), "%s", br->name);
            pa.macvlan_mode = (int)nad->macvlan_mode;
        } else
            snprintf(pa.bridge, sizeof(pa.bridge), "%s", nad->bridge);
        pa.network = xstrdup(nad->cni_name);
        const struct owned_attach *oa = owned_attach(b, id, att->ifname);
        if (att->has_mac) {
            pa.has_mac = true;
            memcpy(pa.mac, att->mac, 6);
        } else if (oa) {
            pa.has_mac = true; /* re-attach with the MAC it had */
            memcpy(pa.mac, oa->mac, 6);
        }
        pa.mtu = (unsigned)nad->mtu;
        pa.addrs = addrs;
        pa.naddrs = naddrs;
        plan_attach_settings(nad, &pa);
        /* default-route: as Multus, the default route of its families is
         * the carrying element's alone (other networks' are filtered) */
        if (dr_att)
            drop_default_routes(&pa, dr_att->default_gw, dr_att->ndefault_gw);
        if (att->ndefault_gw) {
            char *derr = NULL;
            if (plan_default_route(b, id, pod, att, podns, &pa, &derr) < 0) {
                cond = COND_FAILING;
                reason = "InvalidDefaultRoute";
                msg = derr;
                pod_attach_op_free(&pa);
                break;
            }
        }

        if (nad->plugin == NAD_BRIDGE) {
            char *bmsg = NULL;
            if (plan_bridge_needs(b, &ob, id, nad, br, addrs, naddrs, &bmsg) < 0) {
                cond = COND_FAILING;
                reason = "GatewayAddressConflict";
                msg = bmsg;
                pod_attach_op_free(&pa);
                break;
            }
        }
        if (attach_converged(node, podns, br, &pa)) {
            pod_attach_op_free(&pa);
            continue;
        }
        const struct live_link *h = pa.kind == ATTACH_VETH ? live_find_link(node, pa.host_if)
                                                           : NULL;
        const struct live_link *p = live_find_link(podns, pa.pod_if);
        bool ours = pa.kind == ATTACH_VETH
                        ? h && p && streq(p->kind, "veth") && p->link == h->ifindex
                        : p && oa && streq(p->kind, "macvlan");
        if (p && !ours) {
            cond = COND_FAILING;
            reason = "InterfaceExists";
            msg = xasprintf("%s already exists in %s and was not created by plumbd", pa.pod_if,
                            pod->netns);
            pod_attach_op_free(&pa);
            break;
        }
        pa.replace = h || p;
        struct op *op = opbuf_push(&ob, OP_POD_ATTACH, id, pa.host_if, PH_POD_ATTACH);
        op->pa = pa;
    }

    if (cond != COND_AVAILABLE || ob.n || b->leaned != leaned || !podns) {
        memo_att_free(rec, pod->natt);
        rec = NULL;
    }
    if (cond != COND_AVAILABLE) {
        opbuf_clear(&ob);
        ipam_index_rollback(b->ipam, ipam_sp);
        /* The pod's namespace is gone (pod deleted, node rebooted): what was
         * attached went with it; release its addresses and forget it, so a
         * new namespace starts clean. */
        if (streq(reason, "NetnsMissing"))
            for (size_t i = 0; i < inv->nattach; i++)
                if (streq(inv->attach[i].owner, id))
                    push_detach(b, &inv->attach[i]);
        status_add(b, &pod->obj, cond, reason, "%s", msg);
        return;
    }
    bool progressing = ob.n > 0;
    if (rec)
        memo_record(b, idx, podns, rec, NULL);
    opbuf_take(&b->out, &ob);
    if (progressing)
        status_add(b, &pod->obj, COND_PROGRESSING, "AttachmentProgressing", "%s", "");
    else
        status_add(b, &pod->obj, COND_AVAILABLE, "SuccessfullyConfigured", "%s", "");
}

/* What plan_prune_pods knows of an owner id: OW_* bits, and the index + 1
 * of the desired pod with that id shifted by OW_SHIFT (0: no valid pod). */
enum { OW_ACTIVE = 1, OW_FROZEN = 2, OW_SHIFT = 2 };

/* Is (owner, ifname) a current attachment of an active pod? Invalid pods
 * (kept at their last good state) count as wanting all they have. One hash
 * lookup and a walk over that pod's own attachments. */
static bool attach_wanted(const struct builder *b, const struct smap *owners, const char *owner,
                          const char *ifname)
{
    const size_t *v = smap_get(owners, owner, NULL);
    if (!v || !(*v & OW_ACTIVE))
        return false;
    if (*v & OW_FROZEN)
        return true;
    size_t pod = *v >> OW_SHIFT;
    if (!pod)
        return true; /* active but not a valid pod: an invalid revision, keep */
    const struct pod *p = &b->in->desired->pods[pod - 1];
    for (size_t j = 0; j < p->natt; j++)
        if (streq(p->att[j].ifname, ifname))
            return true;
    return false;
}

static void plan_prune_pods(struct builder *b, const char *only_owner)
{
    const struct inventory *inv = b->in->inv;
    const struct desired *d = b->in->desired;
    struct smap owners = {0}, detached = {0};
    char **keys = NULL; /* owned copies of the keys of detached */
    size_t nkeys = 0;

    smap_reserve(&owners, b->nactive + b->nfrozen);
    for (size_t i = 0; i < b->nactive; i++) {
        uint64_t h = smap_hash(b->active[i], NULL);
        size_t *v = smap_find(&owners, h, b->active[i], NULL);
        if (v)
            *v |= OW_ACTIVE;
        else
            smap_insert(&owners, h, b->active[i], NULL, OW_ACTIVE);
    }
    for (size_t i = 0; i < b->nfrozen; i++) {
        size_t *v = smap_get(&owners, b->frozen[i], NULL);
        smap_put(&owners, b->frozen[i], NULL, (v ? *v : 0) | OW_FROZEN);
    }
    for (size_t i = 0; i < d->npods; i++) {
        size_t *v = smap_get(&owners, b->pod_ids[i], NULL);
        if (v && !(*v >> OW_SHIFT)) /* the first pod of that id, as a scan would */
            *v |= (i + 1) << OW_SHIFT;
    }

    for (size_t i = 0; i < inv->nattach; i++) {
        const struct owned_attach *a = &inv->attach[i];
        if (only_owner && !streq(a->owner, only_owner))
            continue;
        if (!attach_wanted(b, &owners, a->owner, a->pod_if))
            push_detach(b, a);
    }
    /* Allocations left without an attachment (a failed attach, a crash):
     * one detach each, unless one is planned already. */
    for (size_t i = 0; i < b->out.n; i++)
        if (b->out.ops[i].type == OP_POD_DETACH) {
            char *o = xstrdup(b->out.ops[i].owner), *f = xstrdup(b->out.ops[i].pa.pod_if);
            *ARRAY_PUSH(keys, nkeys) = o;
            *ARRAY_PUSH(keys, nkeys) = f;
            smap_put(&detached, o, f, 1);
        }
    for (size_t i = 0; i < inv->nallocs; i++) {
        const struct allocation *al = &inv->allocs[i];
        if (only_owner && !streq(al->owner, only_owner))
            continue;
        if (attach_wanted(b, &owners, al->owner, al->ifname) ||
            owned_attach(b, al->owner, al->ifname) || smap_get(&detached, al->owner, al->ifname))
            continue;
        smap_put(&detached, al->owner, al->ifname, 1);
        char host[IFNAMSIZ_PLUMBD];
        plan_host_ifname(al->owner, al->ifname, host);
        struct op *op = opbuf_push(&b->out, OP_POD_DETACH, al->owner, host, PH_POD_DETACH);
        op->pa.netns = xstrdup("");
        snprintf(op->pa.pod_if, sizeof(op->pa.pod_if), "%s", al->ifname);
        snprintf(op->pa.host_if, sizeof(op->pa.host_if), "%s", host);
        op->pa.network = xstrdup(al->network);
    }
    smap_free(&owners);
    smap_free(&detached);
    for (size_t i = 0; i < nkeys; i++)
        free(keys[i]);
    free(keys);
}

/* The builder's ops in a stable order by phase, and its statuses, into p.
 * The ops are put in order where they are (a thousand of them are nearly a
 * megabyte: no second array). */
static void builder_finish(struct builder *b, struct plan *p)
{
    size_t n = b->out.n, k = 0;
    size_t *from = xcalloc(n ? n : 1, sizeof(*from)); /* new[j] = old[from[j]] */
    bool *done = xcalloc(n ? n : 1, sizeof(*done));
    for (int ph = PH_POD_DETACH; ph <= PH_POD_ATTACH; ph++)
        for (size_t i = 0; i < n; i++)
            if (b->out.phase[i] == ph)
                from[k++] = i;
    for (size_t c = 0; c < n; c++) { /* each cycle of the permutation */
        if (done[c])
            continue;
        struct op first = b->out.ops[c];
        for (size_t j = c;;) {
            size_t src = from[j];
            done[j] = true;
            if (src == c) {
                b->out.ops[j] = first;
                break;
            }
            b->out.ops[j] = b->out.ops[src];
            j = src;
        }
    }
    free(from);
    free(done);
    array_fit(&b->out.ops, n, sizeof(struct op));
    p->ops = b->out.ops ? b->out.ops : xcalloc(1, sizeof(struct op));
    p->nops = n;
    free(b->out.phase);
    p->status = b->st;
    p->nstatus = b->nst;
}

static void builder_free(struct builder *b)
{
    ipam_index_free(b->ipam);
    smap_free(&b->attach_by_key);
    free(b->claims);
    for (size_t i = 0; i < b->nactive; i++)
        free(b->active[i]);
    free(b->active);
    for (size_t i = 0; i < b->nfrozen; i++)
        free(b->frozen[i]);
    free(b->frozen);
    for (size_t i = 0; i < b->in->desired->npods; i++)
        free(b->pod_ids[i]);
    free(b->pod_ids);
}

static int plan_build_one(const struct plan_input *in, struct plan *ret)
{
    struct builder b = {.in = in};
    const struct desired *d = in->desired;
    uint64_t key = 0;
    if (in->memo && in->node && in->npins == 0) {
        key = memo_key(in);
        b.memo_usable = in->memo->key == key && in->memo->n;
        b.next_memo = plan_memo_new();
        b.next_memo->key = key;
        b.next_memo->node_serial = in->node->serial;
        b.next_memo->nads_key = nads_key(d);
        b.next_memo->fwd[0] = in->ip_forward;
        b.next_memo->fwd[1] = in->ip6_forward;
    }
    if (in->memo)
        in->memo->hits = 0;
    b.ipam = ipam_index_of(in->inv);
    b.pod_ids = xcalloc(d->npods ? d->npods : 1, sizeof(char *));
    for (size_t i = 0; i < d->npods; i++) {
        char id[256];
        b.pod_ids[i] = xstrdup(object_id(&d->pods[i].obj, id, sizeof(id)));
    }

    /* Invalid objects keep their last good state: nothing of theirs is pruned. */
    for (size_t i = 0; i < d->ninvalid; i++) {
        const struct object *o = &d->invalid[i];
        const char *first = "invalid configuration";
        char id[256];
        object_id(o, id, sizeof(id));
        unsigned line = o->line, col = o->col;
        bool found = false;
        for (size_t j = 0; j < d->diags.n && !found; j++)
            if (d->diags.v[j].severity == DIAG_ERROR && streq(d->diags.v[j].object, id)) {
                first = d->diags.v[j].msg;
                line = d->diags.v[j].line;
                col = d->diags.v[j].col;
                found = true;
            }
        /* An object kept because its file no longer parses: name the
         * file's error. */
        for (size_t j = 0; j < d->diags.n && !found; j++)
            if (d->diags.v[j].severity == DIAG_ERROR && !d->diags.v[j].object &&
                streq(d->diags.v[j].file, o->file)) {
                first = d->diags.v[j].msg;
                line = d->diags.v[j].line;
                col = d->diags.v[j].col;
                found = true;
            }
        set_active(&b, o);
        if (o->kind != OBJ_NODE)
            status_add(&b, o, COND_FAILING,
                       o->fail_reason ? o->fail_reason : "InvalidConfiguration",
                       "%s:%u:%u: %s (the last good revision stays applied)", o->file, line, col,
                       first);
    }
    /* Gone objects with plumbd/prune: "false": let go of what they own,
     * leave the kernel as it is. */
    for (size_t k = 0; k < in->nkeep_owners; k++) {
        const char *owner = in->keep_owners[k];
        const struct inventory *inv = in->inv;
        *ARRAY_PUSH(b.active, b.nactive) = xstrdup(owner);
        for (size_t i = 0; i < inv->naddrs; i++)
            if (streq(inv->addrs[i].owner, owner))
                opbuf_push(&b.out, OP_FORGET, owner, inv->addrs[i].ifname, PH_FORGET)->addr =
                    inv->addrs[i].addr;
        for (size_t i = 0; i < inv->nlinks; i++)
            if (streq(inv->links[i].owner, owner))
                opbuf_push(&b.out, OP_FORGET, owner, inv->links[i].ifname, PH_FORGET);
        for (size_t i = 0; i < inv->nrules; i++)
            if (streq(inv->rules[i].owner, owner))
                opbuf_push(&b.out, OP_FORGET, owner, "", PH_FORGET)->rule = inv->rules[i].rule;
        for (size_t i = 0; i < inv->nroutes; i++)
            if (streq(inv->routes[i].owner, owner))
                opbuf_push(&b.out, OP_FORGET, owner, inv->routes[i].rt.ifname, PH_FORGET)->route =
                    inv->routes[i].rt;
        for (size_t i = 0; i < inv->nattach; i++)
            if (streq(inv->attach[i].owner, owner)) {
                struct op *op = opbuf_push(&b.out, OP_FORGET, owner, inv->attach[i].host_if,
                                           PH_FORGET);
                snprintf(op->pa.pod_if, sizeof(op->pa.pod_if), "%s", inv->attach[i].pod_if);
                snprintf(op->pa.host_if, sizeof(op->pa.host_if), "%s", inv->attach[i].host_if);
            }
    }
    plan_policies(&b);
    plan_prune_dns(&b);
    plan_prune_routes(&b);
    plan_prune_rules(&b);
    plan_prune_links(&b);
    for (size_t i = 0; i < d->nnads; i++) {
        const struct nad *nd = &d->nads[i];
        if (nd->plugin == NAD_UNSUPPORTED)
            status_add(&b, &nd->obj, COND_FAILING, "UnsupportedType",
                       "CNI type '%s' is not supported: plumbd implements bridge and macvlan",
                       nd->cni_type);
        else
            status_add(&b, &nd->obj, COND_AVAILABLE, "SuccessfullyConfigured", "%s", "");
    }
    for (size_t i = 0; i < d->npods; i++)
        plan_pod(&b, i);
    plan_prune_pods(&b, NULL);

    struct plan p = {0};
    builder_finish(&b, &p);
    if (in->memo) {
        /* The next plan's memo: the converged pods, less any owner of an
         * op (a prune of a stale attachment changes its inventory rows). */
        size_t hits = in->memo->hits;
        plan_memo_clear(in->memo);
        in->memo->hits = hits;
        if (b.next_memo) {
            struct strmap owners = {0};
            struct plan_memo *m = b.next_memo;
            for (size_t i = 0; i < p.nops; i++)
                strmap_put(&owners, p.ops[i].owner, i);
            size_t j = 0;
            for (size_t i = 0; i < m->n; i++) {
                if (strmap_get(&owners, m->v[i].id, NULL)) {
                    free(m->v[i].id);
                    memo_att_free(m->v[i].att, m->v[i].natt);
                    continue;
                }
                m->v[j] = m->v[i];
                strmap_put(&m->by_id, m->v[j].id, j);
                for (size_t a = 0; a < m->v[j].natt; a++)
                    for (size_t k = 0; k < m->v[j].att[a].n; k++)
                        m->any_noted |= m->v[j].att[a].noted[k];
                j++;
            }
            m->n = j;
            strmap_free(&owners);
            m->hits = hits;
            *in->memo = *m;
            free(m);
        }
    }
    builder_free(&b);
    *ret = p;
    return 0;
}

/* The quick lane (plan.h). */
int plan_build_quick(const struct plan_input *in, size_t nother_pods, bool is_new,
                     struct plan *ret)
{
    const struct desired *d = in->desired;
    const struct plan_memo *m = in->memo;
    char id[256];
    size_t pos;
    if (!m || d->npods != 1 || !in->node || in->npins || d->npolicies || d->ninvalid ||
        in->nkeep_owners || m->node_serial != in->node->serial || m->nads_key != nads_key(d))
        return -EAGAIN;
    object_id(&d->pods[0].obj, id, sizeof(id));
    /* every other pod converged and remembered; its place among them */
    bool remembered = strmap_get(&m->by_id, id, &pos);
    if (m->n - remembered != nother_pods)
        return -EAGAIN;
    /* A pod not remembered (its last plan had ops) has its place by age,
     * which only the reservations replayed before it depend on: without
     * any, the place does not matter; a new pod comes after every other. */
    if (!remembered && !is_new && m->any_noted)
        return -EAGAIN;
    if (!remembered)
        pos = m->n;

    struct plan_input q = *in;
    q.ip_forward = m->fwd[0];
    q.ip6_forward = m->fwd[1];
    q.memo = NULL;
    struct builder b = {.in = &q};
    b.ipam = ipam_index_of(in->inv);
    b.pod_ids = xcalloc(1, sizeof(char *));
    b.pod_ids[0] = xstrdup(id);
    /* the networks' newest reservations as the pods planned before it
     * leave them; their addresses must be held already (the full plan
     * would take one that is not, before this pod could) */
    bool held = true;
    for (size_t i = 0; i < pos && held; i++)
        for (size_t a = 0; a < m->v[i].natt && held; a++)
            for (size_t k = 0; k < m->v[i].att[a].n && held; k++) {
                const struct memo_att *ma = &m->v[i].att[a];
                const char *ho = NULL, *hi = NULL;
                held = ipam_index_holder(b.ipam, ma->network, &ma->addrs[k], &ho, &hi) &&
                       streq_ptr(ho, m->v[i].id);
                if (held && ma->noted[k])
                    ipam_index_note(b.ipam, ma->network, &ma->addrs[k]);
            }
    if (!held) {
        builder_free(&b);
        return -EAGAIN;
    }
    plan_pod(&b, 0);
    plan_prune_pods(&b, id);
    struct plan p = {0};
    builder_finish(&b, &p);
    builder_free(&b);
    bool ok = p.nstatus == 1 &&
              (p.status[0].cond == COND_AVAILABLE || p.status[0].cond == COND_PROGRESSING);
    for (size_t i = 0; ok && i < p.nops; i++)
        ok = (p.ops[i].type == OP_POD_ATTACH || p.ops[i].type == OP_POD_DETACH) &&
             streq(p.ops[i].owner, id);
    if (!ok) {
        plan_free(&p);
        return -EAGAIN;
    }
    *ret = p;
    return 0;
}

/* PLUMBD_MEMO_CHECK=1 (the tests): every plan that uses the memo is built
 * again without it, and any difference in ops or statuses aborts. */
static bool plans_same(const struct plan *a, const struct plan *b)
{
    if (a->nops != b->nops || a->nstatus != b->nstatus)
        return false;
    for (size_t i = 0; i < a->nops; i++) {
        _cleanup_free_ char *x = op_describe(&a->ops[i]);
        _cleanup_free_ char *y = op_describe(&b->ops[i]);
        if (!streq(x, y) || !streq(a->ops[i].owner, b->ops[i].owner)) {
            fprintf(stderr, "plan memo: op %zu differs: '%s' (%s) vs '%s' (%s)\n", i, x,
                    a->ops[i].owner, y, b->ops[i].owner);
            return false;
        }
    }
    for (size_t i = 0; i < a->nstatus; i++) {
        const struct objstatus *x = &a->status[i], *y = &b->status[i];
        if (!streq(x->id, y->id) || x->cond != y->cond || !streq(x->reason, y->reason) ||
            !streq(x->message, y->message)) {
            fprintf(stderr, "plan memo: status of %s differs: %s %s '%s' vs %s %s '%s'\n", x->id,
                    condition_to_string(x->cond), x->reason, x->message,
                    condition_to_string(y->cond), y->reason, y->message);
            return false;
        }
    }
    return true;
}

int plan_build(const struct plan_input *in, struct plan *ret)
{
    if (!in->memo || !env_flag("PLUMBD_MEMO_CHECK"))
        return plan_build_one(in, ret);
    struct plan_input whole = *in;
    struct plan full = {0};
    whole.memo = NULL;
    int r = plan_build_one(in, ret);
    if (r < 0 || plan_build_one(&whole, &full) < 0)
        return r;
    bool same = plans_same(ret, &full);
    plan_free(&full);
    if (!same)
        abort();
    return r;
}
