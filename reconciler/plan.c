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

#include "ipam.h"
#include "journal.h"
#include "plan.h"
#include "store.h"

enum phase {
    PH_POD_DETACH,
    PH_RESTORE,
    PH_DELETE,
    PH_FORGET,
    PH_CREATE,
    PH_SET,
    PH_ADDR_DEL,
    PH_ADDR_ADD,
    PH_POD_ATTACH,
};

static const char *const op_names[_OP_TYPE_MAX] = {
    [OP_BRIDGE_ADD] = "bridge-add", [OP_LINK_SET] = "link-set",  [OP_LINK_DEL] = "link-del",
    [OP_ADDR_ADD] = "addr-add",     [OP_ADDR_DEL] = "addr-del",  [OP_POD_ATTACH] = "pod-attach",
    [OP_POD_DETACH] = "pod-detach", [OP_FORGET] = "forget",
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
        if (op->set & LS_UP)
            ADD(" %s", op->up ? "up" : "down");
#undef ADD
        return xasprintf("%s %s%s%s  # %s", op_type_to_string(op->type), op->ifname, buf,
                         op->forget ? " (restore)" : "", op->owner);
    }
    case OP_LINK_DEL:
        return xasprintf("link-del %s  # %s", op->ifname, op->owner);
    case OP_ADDR_ADD:
    case OP_ADDR_DEL:
        return xasprintf("%s %s %s  # %s", op_type_to_string(op->type), op->ifname,
                         ipaddr_format(&op->addr, true, a, sizeof(a)), op->owner);
    case OP_FORGET:
        if (op->pa.pod_if[0])
            return xasprintf("forget attachment %s host=%s (kept: prune false)  # %s",
                             op->pa.pod_if, op->pa.host_if, op->owner);
        if (op->addr.family)
            return xasprintf("forget %s %s (gone)  # %s", op->ifname,
                             ipaddr_format(&op->addr, true, a, sizeof(a)), op->owner);
        return xasprintf("forget %s (gone)  # %s", op->ifname, op->owner);
    case OP_POD_ATTACH: {
        char addrs[512] = "";
        size_t n = 0;
        for (size_t i = 0; i < op->pa.naddrs && n < sizeof(addrs); i++)
            n += (size_t)snprintf(addrs + n, sizeof(addrs) - n, " %s",
                                  ipaddr_format(&op->pa.addrs[i], true, a, sizeof(a)));
        return xasprintf("pod-attach %s:%s host=%s bridge=%s mac=%s%s%s  # %s", op->pa.netns,
                         op->pa.pod_if, op->pa.host_if, op->pa.bridge,
                         op->pa.has_mac ? mac_format(op->pa.mac, m, sizeof(m)) : "auto", addrs,
                         op->pa.replace ? " (replace)" : "", op->owner);
    }
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

void plan_free(struct plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nops; i++)
        op_free_fields(&p->ops[i]);
    free(p->ops);
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

struct builder {
    const struct plan_input *in;
    struct opbuf out;
    struct objstatus *st;
    size_t nst;
    struct allocation *extra; /* allocations chosen by this plan (borrowed strings) */
    size_t nextra;
    struct claim *claims;
    size_t nclaims;
    char **active; /* ids of objects whose owned state must be kept */
    size_t nactive;
    char **frozen; /* of those, the ones kept exactly as they are (pinned) */
    size_t nfrozen;
    char **pod_ids; /* object ids of desired->pods, computed once */
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
    if (vasprintf(&s->message, fmt, ap) < 0)
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

/* Does an active policy still want ifname (as an interface or a port)? */
static const struct policy *policy_wanting(const struct builder *b, const char *owner,
                                           const char *ifname)
{
    const struct desired *d = b->in->desired;
    for (size_t i = 0; i < d->npolicies; i++) {
        const struct policy *p = &d->policies[i];
        char id[256];
        if (!streq(object_id(&p->obj, id, sizeof(id)), owner))
            continue;
        for (size_t j = 0; j < p->nifaces; j++) {
            const struct iface *f = &p->ifaces[j];
            if (f->state == IFSTATE_ABSENT || f->state == IFSTATE_IGNORE)
                continue;
            if (streq(f->name, ifname))
                return p;
            for (size_t k = 0; k < f->nports; k++)
                if (streq(f->ports[k], ifname))
                    return p;
        }
    }
    return NULL;
}

static const struct claim *claim_find(const struct builder *b, const char *ifname)
{
    for (size_t i = 0; i < b->nclaims; i++)
        if (streq(b->claims[i].ifname, ifname))
            return &b->claims[i];
    return NULL;
}

/* Plan one interface of a policy into ob. Returns 0, or -EINVAL with
 * *reason / *msg set when the policy cannot be applied. */
static int plan_iface(struct builder *b, const char *id, const struct iface *f, struct opbuf *ob,
                      const char **reason, char **msg)
{
    const struct live_ns *node = b->in->node;
    const struct inventory *inv = b->in->inv;
    const struct live_link *l = live_find_link(node, f->name);

    if (f->state == IFSTATE_IGNORE)
        return 0;
    if (f->state == IFSTATE_ABSENT) {
        if (l)
            opbuf_push(ob, OP_LINK_DEL, id, f->name, PH_DELETE)->forget = true;
        return 0;
    }
    if (l && f->type == IFACE_LINUX_BRIDGE && !streq(l->kind, "bridge")) {
        *reason = "InterfaceTypeMismatch";
        *msg = xasprintf("%s exists and is of kind '%s', not a linux-bridge", f->name,
                         l->kind[0] ? l->kind : "ethernet");
        return -EINVAL;
    }
    if (!l && f->type != IFACE_LINUX_BRIDGE) {
        *reason = "InterfaceMissing";
        *msg = xasprintf("interface %s does not exist", f->name);
        return -EINVAL;
    }
    bool want_up = f->state == IFSTATE_UP;
    if (!l) {
        struct op *op = opbuf_push(ob, OP_BRIDGE_ADD, id, f->name, PH_CREATE);
        op->set = LS_UP;
        op->up = want_up;
        if (f->mtu) {
            op->set |= LS_MTU;
            op->mtu = (unsigned)f->mtu;
        }
        if (f->stp >= 0) {
            op->set |= LS_STP;
            op->stp = f->stp;
        }
        if (f->description) {
            op->set |= LS_ALIAS;
            op->alias = xstrdup(f->description);
        }
    } else {
        unsigned set = 0;
        if (f->mtu && l->mtu != (unsigned)f->mtu)
            set |= LS_MTU;
        if (f->stp >= 0 && l->stp >= 0 && l->stp != f->stp)
            set |= LS_STP;
        if (f->description && !streq(l->alias, f->description))
            set |= LS_ALIAS;
        if (link_up(l) != want_up)
            set |= LS_UP;
        if (set) {
            struct op *op = opbuf_push(ob, OP_LINK_SET, id, f->name, PH_SET);
            op->set = set;
            op->mtu = (unsigned)f->mtu;
            op->stp = f->stp;
            op->alias = f->description ? xstrdup(f->description) : NULL;
            op->up = want_up;
            op->record_before = !owned_link(inv, f->name);
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
        if (!p) {
            *reason = "PortMissing";
            *msg = xasprintf("port %s of %s does not exist", f->ports[i], f->name);
            return -EINVAL;
        }
        if (!l || p->master != l->ifindex || !link_up(p)) {
            struct op *op = opbuf_push(ob, OP_LINK_SET, id, f->ports[i], PH_SET);
            op->set = LS_MASTER | LS_UP;
            snprintf(op->master, sizeof(op->master), "%s", f->name);
            op->up = true;
            op->record_before = !owned_link(inv, f->ports[i]);
        }
    }

    const struct ip_config *ipc[2] = {&f->ipv4, &f->ipv6};
    for (size_t k = 0; k < 2; k++) {
        if (!ipc[k]->has_address)
            continue;
        for (size_t i = 0; i < ipc[k]->naddr; i++)
            if (!l || !live_has_addr(node, l->ifindex, &ipc[k]->addr[i])) {
                struct op *op = opbuf_push(ob, OP_ADDR_ADD, id, f->name, PH_ADDR_ADD);
                op->addr = ipc[k]->addr[i];
            }
    }
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
            r = plan_iface(b, b->active[b->nactive - 1], &p->ifaces[j], &ob, &reason, &msg);
        }
        if (r < 0) {
            opbuf_clear(&ob);
            status_add(b, &p->obj, COND_FAILING, reason, "%s", msg);
            continue;
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
        object_id(&d->policies[i].obj, id, sizeof(id));
        if (is_active(b, id) && policy_wanting(b, id, ifname))
            return true;
    }
    return false;
}

static bool addr_wanted(const struct builder *b, const struct owned_addr *a)
{
    const struct policy *p = active_policy(b, a->owner);
    for (size_t j = 0; p && j < p->nifaces; j++) {
        const struct iface *f = &p->ifaces[j];
        if (!streq(f->name, a->ifname) || f->state == IFSTATE_ABSENT)
            continue;
        const struct ip_config *ipc = a->addr.family == AF_INET ? &f->ipv4 : &f->ipv6;
        if (!ipc->has_address)
            return true; /* address list omitted: keep what is there */
        for (size_t k = 0; k < ipc->naddr; k++)
            if (ipaddr_equal(&ipc->addr[k], &a->addr))
                return true;
    }
    return false;
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
        if (owner_frozen(b, a->owner) || addr_wanted(b, a))
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
            if (!op->set)
                op->type = OP_FORGET; /* already as it was: just let go */
        }
}

/* ---- pods --------------------------------------------------------------- */

static const struct owned_attach *owned_attach(const struct inventory *inv, const char *owner,
                                               const char *pod_if)
{
    for (size_t i = 0; i < inv->nattach; i++)
        if (streq(inv->attach[i].owner, owner) && streq(inv->attach[i].pod_if, pod_if))
            return &inv->attach[i];
    return NULL;
}

static int cmp_ip(const void *a, const void *b)
{
    return ipaddr_cmp(a, b);
}

/* The address-picking core: allocations = inventory + this plan's picks. */
static int pick_addresses(const struct nad *nad, const struct attachment *att, const char *owner,
                          const struct allocation *const *allocs, const size_t *nallocs,
                          size_t nlists, struct ipaddr **ret_addrs, size_t *ret_n, char **ret_err)
{
    struct ipam_range range = nad->range;
    char a1[64], a2[64];

    if (nad->ipam_type == IPAM_NONE) {
        if (att->nips) {
            *ret_err = xasprintf("network %s/%s has no IPAM: cannot assign %s", nad->obj.ns,
                                 nad->obj.name,
                                 ipaddr_format(&att->ips[0], false, a1, sizeof(a1)));
            return -EINVAL;
        }
        *ret_addrs = NULL;
        *ret_n = 0;
        return 0;
    }
    if (ipam_range_normalize(&range) < 0) {
        *ret_err = xasprintf("network %s/%s: invalid IPAM range", nad->obj.ns, nad->obj.name);
        return -EINVAL;
    }
    const char *net = nad->cni_name;
    struct ipaddr *out = NULL;
    size_t nout = 0;

    if (att->nips) {
        for (size_t i = 0; i < att->nips; i++) {
            struct ipaddr ip = att->ips[i];
            if (ip.family != range.subnet.family) {
                *ret_err = xasprintf("%s is not of the family of subnet %s",
                                     ipaddr_format(&ip, false, a1, sizeof(a1)),
                                     ipaddr_format(&range.subnet, true, a2, sizeof(a2)));
                goto fail;
            }
            if (ip.prefix && ip.prefix != range.subnet.prefix) {
                *ret_err = xasprintf("%s: prefix length /%u differs from subnet %s",
                                     ipaddr_format(&ip, false, a1, sizeof(a1)), ip.prefix,
                                     ipaddr_format(&range.subnet, true, a2, sizeof(a2)));
                goto fail;
            }
            ip.prefix = range.subnet.prefix;
            if (!ipaddr_in_subnet(&ip, &range.subnet) || !ipam_in_range(&range, &ip)) {
                char s[64], e[64];
                *ret_err = xasprintf("requested address %s is outside subnet %s (range %s-%s)",
                                     ipaddr_format(&ip, false, a1, sizeof(a1)),
                                     ipaddr_format(&range.subnet, true, a2, sizeof(a2)),
                                     ipaddr_format(&range.start, false, s, sizeof(s)),
                                     ipaddr_format(&range.end, false, e, sizeof(e)));
                goto fail;
            }
            for (size_t l = 0; l < nlists; l++)
                for (size_t j = 0; j < nallocs[l]; j++) {
                    const struct allocation *al = &allocs[l][j];
                    if (streq(al->network, net) && ipaddr_same_host(&al->ip, &ip) &&
                        !(streq(al->owner, owner) && streq(al->ifname, att->ifname))) {
                        *ret_err = xasprintf("requested address %s is already allocated to %s "
                                             "(%s)",
                                             ipaddr_format(&ip, false, a1, sizeof(a1)), al->owner,
                                             al->ifname);
                        free(out);
                        return -EEXIST;
                    }
                }
            *ARRAY_PUSH(out, nout) = ip;
        }
        *ret_addrs = out;
        *ret_n = nout;
        return 0;
    }
    /* An allocation this attachment already holds is kept (stable IP). */
    for (size_t l = 0; l < nlists; l++)
        for (size_t j = 0; j < nallocs[l]; j++) {
            const struct allocation *al = &allocs[l][j];
            if (streq(al->network, net) && streq(al->owner, owner) &&
                streq(al->ifname, att->ifname) && ipam_in_range(&range, &al->ip)) {
                struct ipaddr ip = al->ip;
                ip.prefix = range.subnet.prefix;
                *ARRAY_PUSH(out, nout) = ip;
                *ret_addrs = out;
                *ret_n = nout;
                return 0;
            }
        }
    struct ipaddr *taken = NULL;
    size_t ntaken = 0;
    for (size_t l = 0; l < nlists; l++)
        for (size_t j = 0; j < nallocs[l]; j++)
            if (streq(allocs[l][j].network, net) &&
                allocs[l][j].ip.family == range.subnet.family)
                *ARRAY_PUSH(taken, ntaken) = allocs[l][j].ip;
    if (ntaken)
        qsort(taken, ntaken, sizeof(*taken), cmp_ip);
    struct ipaddr ip;
    int r = ipam_next_free(&range, taken, ntaken, &ip);
    free(taken);
    if (r < 0) {
        *ret_err = xasprintf("network %s: no free address in %s", net,
                             ipaddr_format(&range.subnet, true, a1, sizeof(a1)));
        goto fail;
    }
    *ARRAY_PUSH(out, nout) = ip;
    *ret_addrs = out;
    *ret_n = nout;
    return 0;
fail:
    free(out);
    return -EADDRINUSE;
}

int plan_pick_addresses(const struct nad *nad, const struct attachment *att, const char *owner,
                        const struct inventory *inv, struct ipaddr **ret_addrs, size_t *ret_n,
                        char **ret_err)
{
    const struct allocation *lists[1] = {inv->allocs};
    size_t n[1] = {inv->nallocs};
    return pick_addresses(nad, att, owner, lists, n, 1, ret_addrs, ret_n, ret_err);
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
        if (r->ifindex == ifindex && ipaddr_equal(&r->dst, &rt->dst) && r->has_gw == rt->has_gw &&
            (!rt->has_gw || ipaddr_same_host(&r->gw, &rt->gw)))
            return true;
    }
    return false;
}

/* Is the attachment exactly as wanted in the kernel? */
static bool attach_converged(const struct live_ns *node, const struct live_ns *pod,
                             const struct live_link *bridge, const struct pod_attach_op *pa)
{
    const struct live_link *h = live_find_link(node, pa->host_if);
    const struct live_link *p = live_find_link(pod, pa->pod_if);
    if (!h || !p || !bridge || h->master != bridge->ifindex || !link_up(h) || !link_up(p))
        return false;
    if (!streq(p->kind, "veth") || p->link != h->ifindex)
        return false;
    if (pa->has_mac && (!p->has_mac || memcmp(p->mac, pa->mac, 6) != 0))
        return false;
    if (pa->mtu && (p->mtu != pa->mtu || h->mtu != pa->mtu))
        return false;
    for (size_t i = 0; i < pa->naddrs; i++)
        if (!live_has_addr(pod, p->ifindex, &pa->addrs[i]))
            return false;
    for (size_t i = 0; i < pa->nroutes; i++)
        if (!live_has_route(pod, p->ifindex, &pa->routes[i]))
            return false;
    return true;
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
}

static void plan_pod(struct builder *b, size_t idx)
{
    const struct pod *pod = &b->in->desired->pods[idx];
    const struct live_ns *podns = b->in->pod_live ? b->in->pod_live[idx] : NULL;
    const struct live_ns *node = b->in->node;
    const struct inventory *inv = b->in->inv;
    char id[256];
    object_id(&pod->obj, id, sizeof(id));
    if (pinned(b, &pod->obj))
        return;
    set_active(b, &pod->obj);

    struct opbuf ob = {0};
    struct allocation *mine = NULL; /* this pod's picks, merged on success */
    size_t nmine = 0;
    enum condition cond = COND_AVAILABLE;
    const char *reason = "SuccessfullyConfigured";
    _cleanup_free_ char *msg = NULL;

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
        const struct live_link *br = live_find_link(node, nad->bridge);
        if ((!br || !streq(br->kind, "bridge")) && !bridge_planned(b, nad->bridge)) {
            cond = COND_PENDING;
            reason = "BridgeMissing";
            msg = xasprintf("bridge %s (of %s/%s) does not exist", nad->bridge, nad->obj.ns,
                            nad->obj.name);
            break;
        }
        struct ipaddr *addrs = NULL;
        size_t naddrs = 0;
        char *err = NULL;
        const struct allocation *lists[3] = {inv->allocs, b->extra, mine};
        size_t nl[3] = {inv->nallocs, b->nextra, nmine};
        int k = pick_addresses(nad, att, id, lists, nl, 3, &addrs, &naddrs, &err);
        if (k < 0) {
            cond = COND_FAILING;
            reason = k == -EEXIST ? "Conflict" : "AddressUnavailable";
            msg = xasprintf("%s: %s", att->ifname, err);
            /* Name the holder's file too, when it is a pod in this config. */
            for (size_t q = 0; k == -EEXIST && q < b->in->desired->npods; q++) {
                const struct pod *o = &b->in->desired->pods[q];
                char oid[256];
                object_id(&o->obj, oid, sizeof(oid));
                if (o != pod && strstr(err, oid)) {
                    char *m = xasprintf("%s, defined in %s", msg, o->obj.file);
                    free(msg);
                    msg = m;
                    break;
                }
            }
            free(err);
            break;
        }
        for (size_t k = 0; k < naddrs; k++) {
            struct allocation *al = ARRAY_PUSH(mine, nmine);
            al->network = nad->cni_name; /* borrowed */
            al->ip = addrs[k];
            al->owner = b->active[b->nactive - 1];
            snprintf(al->ifname, sizeof(al->ifname), "%s", att->ifname);
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
        snprintf(pa.bridge, sizeof(pa.bridge), "%s", nad->bridge);
        pa.network = xstrdup(nad->cni_name);
        const struct owned_attach *oa = owned_attach(inv, id, att->ifname);
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
        for (size_t k = 0; k < nad->nroutes; k++)
            if (nad->routes[k].dst.family == (naddrs ? addrs[0].family : 0))
                *ARRAY_PUSH(pa.routes, pa.nroutes) = nad->routes[k];

        if (attach_converged(node, podns, br, &pa)) {
            free(pa.netns);
            free(pa.network);
            free(pa.addrs);
            free(pa.routes);
            continue;
        }
        const struct live_link *h = live_find_link(node, pa.host_if);
        const struct live_link *p = live_find_link(podns, pa.pod_if);
        if (p && (!h || !streq(p->kind, "veth") || p->link != h->ifindex)) {
            cond = COND_FAILING;
            reason = "InterfaceExists";
            msg = xasprintf("%s already exists in %s and was not created by plumbd", pa.pod_if,
                            pod->netns);
            free(pa.netns);
            free(pa.network);
            free(pa.addrs);
            free(pa.routes);
            break;
        }
        pa.replace = h || p;
        struct op *op = opbuf_push(&ob, OP_POD_ATTACH, id, pa.host_if, PH_POD_ATTACH);
        op->pa = pa;
    }

    if (cond != COND_AVAILABLE) {
        opbuf_clear(&ob);
        free(mine);
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
    for (size_t k = 0; k < nmine; k++)
        *ARRAY_PUSH(b->extra, b->nextra) = mine[k];
    free(mine);
    bool progressing = ob.n > 0;
    opbuf_take(&b->out, &ob);
    if (progressing)
        status_add(b, &pod->obj, COND_PROGRESSING, "AttachmentProgressing", "%s", "");
    else
        status_add(b, &pod->obj, COND_AVAILABLE, "SuccessfullyConfigured", "%s", "");
}

/* Is (owner, ifname) a current attachment of an active pod? Invalid pods
 * (kept at their last good state) count as wanting all they have. */
static bool attach_wanted(const struct builder *b, const char *owner, const char *ifname)
{
    if (!is_active(b, owner))
        return false;
    if (is_frozen(b, owner))
        return true;
    const struct desired *d = b->in->desired;
    for (size_t i = 0; i < d->npods; i++) {
        if (!streq(b->pod_ids[i], owner))
            continue;
        for (size_t j = 0; j < d->pods[i].natt; j++)
            if (streq(d->pods[i].att[j].ifname, ifname))
                return true;
        return false;
    }
    return true; /* active but not a valid pod: an invalid revision, keep */
}

static void plan_prune_pods(struct builder *b)
{
    const struct inventory *inv = b->in->inv;
    for (size_t i = 0; i < inv->nattach; i++) {
        const struct owned_attach *a = &inv->attach[i];
        if (!attach_wanted(b, a->owner, a->pod_if))
            push_detach(b, a);
    }
    /* Allocations left without an attachment (a failed attach, a crash). */
    for (size_t i = 0; i < inv->nallocs; i++) {
        const struct allocation *al = &inv->allocs[i];
        if (attach_wanted(b, al->owner, al->ifname) || owned_attach(inv, al->owner, al->ifname))
            continue;
        bool dup = false;
        for (size_t j = 0; j < b->out.n && !dup; j++)
            dup = b->out.ops[j].type == OP_POD_DETACH && streq(b->out.ops[j].owner, al->owner) &&
                  streq(b->out.ops[j].pa.pod_if, al->ifname);
        if (dup)
            continue;
        char host[IFNAMSIZ_PLUMBD];
        plan_host_ifname(al->owner, al->ifname, host);
        struct op *op = opbuf_push(&b->out, OP_POD_DETACH, al->owner, host, PH_POD_DETACH);
        op->pa.netns = xstrdup("");
        snprintf(op->pa.pod_if, sizeof(op->pa.pod_if), "%s", al->ifname);
        snprintf(op->pa.host_if, sizeof(op->pa.host_if), "%s", host);
        op->pa.network = xstrdup(al->network);
    }
}

int plan_build(const struct plan_input *in, struct plan *ret)
{
    struct builder b = {.in = in};
    const struct desired *d = in->desired;
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
            status_add(&b, o, COND_FAILING, "InvalidConfiguration",
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
        for (size_t i = 0; i < inv->nattach; i++)
            if (streq(inv->attach[i].owner, owner)) {
                struct op *op = opbuf_push(&b.out, OP_FORGET, owner, inv->attach[i].host_if,
                                           PH_FORGET);
                snprintf(op->pa.pod_if, sizeof(op->pa.pod_if), "%s", inv->attach[i].pod_if);
                snprintf(op->pa.host_if, sizeof(op->pa.host_if), "%s", inv->attach[i].host_if);
            }
    }
    plan_policies(&b);
    plan_prune_links(&b);
    for (size_t i = 0; i < d->nnads; i++)
        status_add(&b, &d->nads[i].obj, COND_AVAILABLE, "SuccessfullyConfigured", "%s", "");
    for (size_t i = 0; i < d->npods; i++)
        plan_pod(&b, i);
    plan_prune_pods(&b);

    /* Stable order by phase. */
    struct plan p = {0};
    p.ops = xcalloc(b.out.n ? b.out.n : 1, sizeof(struct op));
    for (int ph = PH_POD_DETACH; ph <= PH_POD_ATTACH; ph++)
        for (size_t i = 0; i < b.out.n; i++)
            if (b.out.phase[i] == ph)
                p.ops[p.nops++] = b.out.ops[i];
    free(b.out.ops);
    free(b.out.phase);
    p.status = b.st;
    p.nstatus = b.nst;
    free(b.extra);
    free(b.claims);
    for (size_t i = 0; i < b.nactive; i++)
        free(b.active[i]);
    free(b.active);
    for (size_t i = 0; i < b.nfrozen; i++)
        free(b.frozen[i]);
    free(b.frozen);
    for (size_t i = 0; i < d->npods; i++)
        free(b.pod_ids[i]);
    free(b.pod_ids);
    *ret = p;
    return 0;
}
