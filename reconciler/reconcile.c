/* reconcile.c - one convergence pass.
 *
 *   load (config dir) -> validate -> observe (node + pod namespaces)
 *   -> plan -> journal intents (one transaction) -> kernel writes
 *   -> journal outcomes, inventory, status (one transaction) -> status files
 *
 * The intents are committed before the first kernel write (write-ahead), so
 * a pass killed in the middle leaves a record of what may have been done. */
#include <arpa/inet.h>
#include <jansson.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>

#include "apply.h"
#include "ipam.h"
#include "journal.h"
#include "nft.h"
#include "probe.h"
#include "load.h"
#include "log.h"
#include "dhcpmgr.h"
#include "reconcile.h"
#include "capture.h"
#include "show.h"
#include "verify.h"

static void nft_forget(struct reconciler *r);

int reconciler_init(struct reconciler *r, bool readonly)
{
    int rc = store_open(r->state_dir, readonly, &r->store);
    if (rc < 0)
        return rc;
    rc = netns_open(NULL, &r->node);
    if (rc < 0) {
        log_error("reconciler", "cannot open the node namespace: %s", strerror(-rc));
        return rc;
    }
    apply_ctx_init(&r->actx, r->node);
    r->dhcp = dhcp_ctx_new(r->node_name);
    return 0;
}

static void wanted_netns_clear(struct reconciler *r);

size_t config_dir_count(const struct reconciler *r)
{
    return r->nconfig_dirs ? r->nconfig_dirs : 1;
}

const char *config_dir_at(const struct reconciler *r, size_t i)
{
    return r->nconfig_dirs ? r->config_dirs[i] : r->config_dir;
}

/* Did the config files change while they were being read (the daemon's
 * watch saw a config file event since the pass began)? Then what was read
 * may be half a file. */
static bool files_moved(const struct reconciler *r)
{
    return r->load_guard && r->load_guard(r->load_guard_ctx);
}

/* Tests: PLUMBD_FAULT_VOID_READS=N voids the first N reads that follow a
 * quick lane's ops, as a file moving under them would. */
static bool fault_void_read(size_t quick_ops)
{
    static long faults = -1;
    if (faults < 0) {
        const char *e = getenv("PLUMBD_FAULT_VOID_READS");
        faults = e ? strtol(e, NULL, 10) : 0;
    }
    if (faults <= 0 || !quick_ops)
        return false;
    faults--;
    return true;
}

static void podent_free(struct podent *e)
{
    live_watch_free(e->w); /* closing the fd also drops it from epoll */
    netns_free(e->ns);
}

void reconciler_done(struct reconciler *r)
{
    if (r->store) /* the status files the daemon had still to write */
        reconciler_mirror_step(r, SIZE_MAX);
    for (size_t i = 0; i < r->nmirror_dirty; i++)
        free(r->mirror_dirty[i]);
    free(r->mirror_dirty);
    r->mirror_dirty = NULL;
    r->nmirror_dirty = 0;
    r->mirror_scan = false;
    reconciler_kept_forget(r);
    free(r->diag_text);
    r->diag_text = NULL;
    dhcp_ctx_free(r->dhcp);
    r->dhcp = NULL;
    dns_state_clear(&r->dns_owner);
    nft_forget(r);
    r->dns_loaded = false;
    apply_ctx_done(&r->actx);
    live_watch_free(r->node_watch);
    r->node_watch = NULL;
    for (size_t i = 0; i < r->nflaps; i++) {
        free(r->flaps[i].owner);
        free(r->flaps[i].what);
    }
    free(r->flaps);
    r->flaps = NULL;
    r->nflaps = 0;
    for (size_t i = 0; i < r->npodns; i++)
        podent_free(&r->podns[i]);
    free(r->podns);
    r->podns = NULL;
    r->npodns = 0;
    netns_free(r->node);
    r->node = NULL;
    store_close(r->store);
    r->store = NULL;
    if (r->lockfd >= 0)
        close(r->lockfd);
    r->lockfd = -1;
    free(r->source);
    r->source = NULL;
    free(r->empty_dir);
    r->empty_dir = NULL;
    wanted_netns_clear(r);
    docset_free(&r->docs);
    diags_clear(&r->load_diags);
    r->files_cached = false;
    load_cache_free(&r->load_cache);
    plan_memo_free(r->plan_memo);
    r->plan_memo = NULL;
    validate_memo_free(r->validate_memo);
    r->validate_memo = NULL;
}

static int watch_register(struct reconciler *r, struct live_watch *w)
{
    if (r->epfd < 0)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    return epoll_ctl(r->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

int reconciler_watch_start(struct reconciler *r, int epfd)
{
    r->watching = true;
    r->epfd = epfd;
    int rc = live_watch_open(r->node, &r->node_watch);
    if (rc < 0)
        return rc;
    return watch_register(r, r->node_watch);
}

static void wanted_netns_clear(struct reconciler *r)
{
    for (size_t i = 0; i < r->nwanted_netns; i++)
        free(r->wanted_netns[i]);
    free(r->wanted_netns);
    r->wanted_netns = NULL;
    r->nwanted_netns = 0;
}

bool reconciler_wants_netns(const struct reconciler *r, const char *name)
{
    for (size_t i = 0; i < r->nwanted_netns; i++)
        if (streq(r->wanted_netns[i], name))
            return true;
    return false;
}

void reconciler_invalidate(struct reconciler *r)
{
    load_cache_free(&r->load_cache);
    plan_memo_clear(r->plan_memo);
    if (r->node_watch)
        r->node_watch->valid = false;
    for (size_t i = 0; i < r->npodns; i++)
        if (r->podns[i].w)
            r->podns[i].w->valid = false;
}

/* A current snapshot from a watch: drain its events, re-dump if it lost
 * some. */
static int watch_current(struct live_watch *w)
{
    if (!w->parent) /* a member's events came with the node's, read first */
        live_watch_read(w);
    return w->valid && w->cache.pvlans_known ? 0 : live_watch_resync(w);
}

/* A handle on the pod namespace at path, reusing the cached one unless the
 * namespace was re-created (new inode). -ENOENT when it does not exist.
 * bypath maps cached paths to their index in r->podns (kept current). */
static int podns_get(struct reconciler *r, struct strmap *bypath, const char *path,
                     bool trust_events, struct podent **ret)
{
    struct stat st;
    size_t i;
    /* Nothing happened in /run/netns since this handle was checked: a
     * thousand stat() calls per pass are not needed to know it is the
     * same namespace (the periodic resync still checks). */
    if (trust_events && r->netns_watched && strncmp(path, "/run/netns/", 11) == 0 &&
        strmap_get(bypath, path, &i) && r->podns[i].netns_events == r->netns_events) {
        *ret = &r->podns[i];
        return 0;
    }
    if (stat(path, &st) < 0) {
        int err = -errno;
        /* Gone: let its handle go now (the kernel may give its namespace
         * id to the next namespace that appears). */
        if (err == -ENOENT && strmap_get(bypath, path, &i)) {
            podent_free(&r->podns[i]);
            r->podns[i] = r->podns[--r->npodns];
            strmap_free(bypath);
            for (size_t k = 0; k < r->npodns; k++)
                strmap_put(bypath, r->podns[k].ns->path, k);
        }
        return err;
    }
    if (strmap_get(bypath, path, &i)) {
        struct podent *e = &r->podns[i];
        if (e->ns->dev == st.st_dev && e->ns->ino == st.st_ino) {
            e->netns_events = r->netns_events;
            *ret = e;
            return 0;
        }
        /* Re-created: forget the old one (the last entry moves into its
         * slot; a map rebuilt is cheaper than a map with holes). */
        podent_free(e);
        r->podns[i] = r->podns[--r->npodns];
        strmap_free(bypath);
        for (size_t k = 0; k < r->npodns; k++)
            strmap_put(bypath, r->podns[k].ns->path, k);
    }
    struct podent e = {.netns_events = r->netns_events};
    int rc = netns_open(path, &e.ns);
    if (rc < 0)
        return rc;
    if (r->watching && r->node_watch) {
        rc = live_watch_open_member(r->node_watch, r->node, e.ns, &e.w);
        if (rc < 0) {
            podent_free(&e);
            return rc;
        }
    }
    *ARRAY_PUSH(r->podns, r->npodns) = e;
    *ret = &r->podns[r->npodns - 1];
    strmap_put(bypath, (*ret)->ns->path, r->npodns - 1);
    return 0;
}

/* Drop cached pod namespaces no desired pod uses any more. */
static void podns_gc(struct reconciler *r, const struct desired *d)
{
    struct strmap used = {0};
    for (size_t j = 0; j < d->npods; j++)
        strmap_put(&used, d->pods[j].netns, j);
    for (size_t i = 0; i < r->npodns;) {
        if (strmap_get(&used, r->podns[i].ns->path, NULL)) {
            i++;
            continue;
        }
        podent_free(&r->podns[i]);
        r->podns[i] = r->podns[--r->npodns];
    }
    strmap_free(&used);
}

static void node_labels(const struct reconciler *r, const struct desired *d,
                        struct label **ret, size_t *ret_n)
{
    struct label *v = NULL;
    size_t n = 0;
    struct label *h = ARRAY_PUSH(v, n);
    h->key = xstrdup("kubernetes.io/hostname");
    h->value = xstrdup(r->node_name);
    for (size_t i = 0; i < d->nnodes; i++) {
        if (!streq(d->nodes[i].obj.name, r->node_name))
            continue;
        for (size_t j = 0; j < d->nodes[i].nlabels; j++) {
            struct label *l = ARRAY_PUSH(v, n);
            l->key = xstrdup(d->nodes[i].labels[j].key);
            l->value = xstrdup(d->nodes[i].labels[j].value);
        }
    }
    *ret = v;
    *ret_n = n;
}

static void labels_free(struct label *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

/* Print diagnostics once per distinct set (the daemon re-loads often). */
static void report_diags(struct reconciler *r, const struct diags *d)
{
    uint64_t h = HASH64_SEED;
    for (size_t i = 0; i < d->n; i++)
        h = hash64(d->v[i].msg, strlen(d->v[i].msg), hash64(d->v[i].file, strlen(d->v[i].file), h));
    if (h == r->diag_hash)
        return;
    r->diag_hash = h;
    /* kept for `plumbd apply` answered by the daemon (control.c) */
    free(r->diag_text);
    r->diag_text = NULL;
    if (d->n) {
        size_t len;
        FILE *f = open_memstream(&r->diag_text, &len);
        if (f) {
            diags_print(d, f);
            fclose(f);
        }
    }
    if (log_format == LOG_FORMAT_JSON) {
        /* Collectors get one JSON line per problem, like every log line. */
        for (size_t i = 0; i < d->n; i++)
            log_msg(d->v[i].severity == DIAG_ERROR ? LOG_ERR : LOG_WARN, d->v[i].object,
                    "%s:%u:%u: %s", d->v[i].file, d->v[i].line, d->v[i].col, d->v[i].msg);
        return;
    }
    diags_print(d, stderr);
}

/* The inventory's attachments by owner: first[owner] is the first index,
 * next[i] the following one of the same owner (SIZE_MAX ends), so that a
 * pod's network-status does not scan every attachment of the node. */
struct attach_index {
    struct strmap first;
    size_t *next;
};

static void attach_index_build(struct attach_index *x, const struct inventory *inv)
{
    memset(x, 0, sizeof(*x));
    x->next = xcalloc(inv->nattach ? inv->nattach : 1, sizeof(size_t));
    for (size_t j = inv->nattach; j-- > 0;) {
        size_t head;
        x->next[j] = strmap_get(&x->first, inv->attach[j].owner, &head) ? head : SIZE_MAX;
        strmap_put(&x->first, inv->attach[j].owner, j);
    }
}

static void attach_index_free(struct attach_index *x)
{
    strmap_free(&x->first);
    free(x->next);
}

/* Multus-style network-status of a pod, from the inventory. */
static char *network_status(const struct pod *pod, const char *id, const struct inventory *inv,
                            const struct attach_index *x, const struct desired *d)
{
    json_t *arr = json_array();
    size_t head;
    if (!strmap_get(&x->first, id, &head))
        head = SIZE_MAX;
    for (size_t i = 0; i < pod->natt; i++) {
        const struct attachment *att = &pod->att[i];
        for (size_t j = head; j != SIZE_MAX; j = x->next[j]) {
            const struct owned_attach *a = &inv->attach[j];
            if (!streq(a->pod_if, att->ifname))
                continue;
            char buf[64], m[18];
            json_t *ips = json_array();
            for (size_t k = 0; k < a->naddrs; k++)
                json_array_append_new(ips, json_string(ipaddr_format(&a->addrs[k], false, buf,
                                                                     sizeof(buf))));
            char *name = xasprintf("%s/%s", att->nad_ns, att->nad_name);
            const struct nad *nad = desired_find_nad(d, att->nad_ns, att->nad_name);
            /* default: the element that carries the pod's default route
             * (default-route, as applied), with its gateways, as Multus */
            json_t *e = json_pack("{s:s, s:s, s:o, s:s, s:b, s:o}", "name", name, "interface",
                                  a->pod_if, "ips", ips, "mac", mac_format(a->mac, m, sizeof(m)),
                                  "default", a->ndefault_gw > 0, "dns",
                                  ipam_dns_json(nad ? &nad->dns : NULL));
            if (a->ndefault_gw) {
                json_t *gws = json_array();
                for (size_t k = 0; k < a->ndefault_gw; k++)
                    json_array_append_new(gws, json_string(ipaddr_format(&a->default_gw[k],
                                                                         false, buf,
                                                                         sizeof(buf))));
                json_object_set_new(e, "gateway", gws);
            }
            json_array_append_new(arr, e);
            free(name);
        }
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

/* Which of the last pass's objects (old, indexed by old_by_id) are desired
 * again: one lookup per desired object. ret[i] for old[i]; caller frees. */
static bool *old_wanted(const struct desired *d, size_t nold, const struct strmap *old_by_id)
{
    bool *w = xcalloc(nold ? nold : 1, sizeof(*w));
    char id[256];
    size_t k;
#define MARK(arr, cnt, field)                                                                      \
    for (size_t i = 0; i < d->cnt; i++)                                                           \
        if (strmap_get(old_by_id, object_id(&d->arr[i] field, id, sizeof(id)), &k))               \
            w[k] = true;
    MARK(policies, npolicies, .obj)
    MARK(nads, nnads, .obj)
    MARK(pods, npods, .obj)
    MARK(nodes, nnodes, .obj)
    MARK(invalid, ninvalid, )
#undef MARK
    return w;
}

/* Did the loader or validator report an error for this file that is not
 * tied to a known object (the file, or part of it, does not parse)? */
static bool file_has_errors(const struct diags *dg, const char *file)
{
    for (size_t i = 0; file && i < dg->n; i++) {
        const struct diag *g = &dg->v[i];
        if (g->severity != DIAG_ERROR || g->object)
            continue;
        size_t len = strlen(g->file);
        /* A refused directory covers the files below it. */
        if (streq(g->file, file) || (strncmp(g->file, file, len) == 0 && file[len] == '/'))
            return true;
    }
    return false;
}

/* Where the config dir's content comes from: a git-sync worktree names
 * its commit ("git:<hash>"); a ConfigMap volume its ..data timestamp
 * ("configmap:..2026_..."). NULL when neither. Caller frees. */
static char *source_revision(const char *dir)
{
    _cleanup_free_ char *real = realpath(dir, NULL);
    if (real) {
        char *save = NULL;
        for (char *c = strtok_r(real, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
            size_t n = strlen(c), hex = strspn(c, "0123456789abcdef");
            if ((n == 40 || n == 64) && hex == n)
                return xasprintf("git:%s", c);
        }
    }
    _cleanup_free_ char *data = xasprintf("%s/..data", dir);
    char target[256];
    ssize_t len = readlink(data, target, sizeof(target) - 1);
    if (len > 0) {
        target[len] = 0;
        return xasprintf("configmap:%s", target);
    }
    return NULL;
}

/* Did objects come from files under dir in the last pass (stored status)? */
static bool dir_had_objects(const struct objstatus *v, size_t n, const char *dir)
{
    size_t len = strlen(dir);
    for (size_t i = 0; i < n; i++)
        if (v[i].file && strncmp(v[i].file, dir, len) == 0 && v[i].file[len] == '/')
            return true;
    return false;
}

/* Stable order: documents of files that held objects in the last pass
 * first, new files after. The validator keeps the first definition of a
 * duplicated object, so a new file cannot take over an object in use. */
static void order_docs_by_age(const struct strmap *old_files, struct docset *ds)
{
    if (ds->n < 2)
        return;
    struct doc *sorted = xcalloc(ds->n, sizeof(*sorted));
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < ds->n; i++)
            if (strmap_get(old_files, ds->v[i].file, NULL) == (pass == 0))
                sorted[k++] = ds->v[i];
    memcpy(ds->v, sorted, ds->n * sizeof(*sorted));
    free(sorted);
}

/* Conflicts go to the older object: sort policies and pods by when plumbd
 * first saw them (objects new in this pass last), then by file order. */
struct aged {
    int64_t first_seen;
    size_t index;
};

static int cmp_aged(const void *a, const void *b)
{
    const struct aged *x = a, *y = b;
    if (x->first_seen != y->first_seen)
        return x->first_seen < y->first_seen ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int64_t first_seen_of(const struct object *o, const struct objstatus *old,
                             const struct strmap *old_by_id)
{
    char id[256];
    size_t i;
    object_id(o, id, sizeof(id));
    if (strmap_get(old_by_id, id, &i) && old[i].first_seen)
        return old[i].first_seen;
    return INT64_MAX;
}

#define SORT_BY_AGE(arr, cnt, type)                                                                \
    do {                                                                                           \
        struct aged *ag = xcalloc(cnt ? cnt : 1, sizeof(*ag));                                     \
        type *copy = xcalloc(cnt ? cnt : 1, sizeof(type));                                         \
        for (size_t i = 0; i < cnt; i++)                                                           \
            ag[i] = (struct aged){first_seen_of(&arr[i].obj, old, old_by_id), i};                       \
        qsort(ag, cnt, sizeof(*ag), cmp_aged);                                                     \
        for (size_t i = 0; i < cnt; i++)                                                           \
            copy[i] = arr[ag[i].index];                                                            \
        memcpy(arr, copy, cnt * sizeof(type));                                                     \
        free(copy);                                                                                \
        free(ag);                                                                                  \
    } while (0)

static void order_by_age(struct desired *d, const struct objstatus *old,
                         const struct strmap *old_by_id)
{
    if (d->npolicies > 1)
        SORT_BY_AGE(d->policies, d->npolicies, struct policy);
    if (d->npods > 1)
        SORT_BY_AGE(d->pods, d->npods, struct pod);
}

/* A link-del that a later op of the plan undoes by creating the link again
 * (a type setting changed: re-creation): verified by that op instead. */
static bool recreated_later(const struct plan *p, size_t i)
{
    if (p->ops[i].type != OP_LINK_DEL)
        return false;
    for (size_t j = i + 1; j < p->nops; j++)
        if (p->ops[j].type == OP_BRIDGE_ADD && streq(p->ops[j].ifname, p->ops[i].ifname))
            return true;
    return false;
}

static bool inventory_has_alloc(const struct inventory *inv, const char *owner, const char *ifname)
{
    for (size_t i = 0; i < inv->nallocs; i++)
        if (streq(inv->allocs[i].owner, owner) && streq(inv->allocs[i].ifname, ifname))
            return true;
    return false;
}

/* Before the kernel write: record what must be known if we die after it. */
static int prewrite(struct reconciler *r, const struct op *op, const struct live_ns *node,
                    const struct inventory *inv, char **ret_err)
{
    if (op->type == OP_LINK_SET && op->record_before) {
        const struct live_link *l = live_find_link(node, op->ifname);
        if (!l)
            return 0;
        const struct live_link *m = live_find_ifindex(node, l->master);
        struct owned_link ol = {
            .owner = op->owner,
            .created = false,
            .before_mtu = l->mtu,
            .before_up = l->flags & 1 /* IFF_UP */,
            .before_alias = l->alias,
            .before_stp = l->stp,
            .before_bropts = l->bropts,
            .before_brport = l->brport,
            .before_has_mac = l->has_mac,
            .before_promisc = (l->flags & 0x100 /* IFF_PROMISC */) ? 1 : 0,
        };
        memcpy(ol.before_mac, l->mac, 6);
        snprintf(ol.ifname, sizeof(ol.ifname), "%s", op->ifname);
        snprintf(ol.before_master, sizeof(ol.before_master), "%s", m ? m->name : "");
        return store_link_put(r->store, &ol);
    }
    if (op->type == OP_POD_ATTACH) {
        for (size_t i = 0; i < op->pa.naddrs; i++) {
            struct allocation al = {.network = op->pa.network, .ip = op->pa.addrs[i],
                                    .owner = op->owner};
            snprintf(al.ifname, sizeof(al.ifname), "%s", op->pa.pod_if);
            int rc = store_alloc_put(r->store, &al);
            if (rc < 0) {
                char a[64];
                *ret_err = xasprintf("cannot reserve %s in %s: %s",
                                     ipaddr_format(&al.ip, false, a, sizeof(a)), al.network,
                                     strerror(-rc));
                return rc;
            }
        }
    }
    (void)inv;
    return 0;
}

/* A deleted rule's row: the delete names the live rule with its priority;
 * the row of an entry that gave none has no priority. */
static int rule_forget(struct store *s, const struct nm_rule *rule)
{
    int rc = store_rule_forget(s, rule);
    if (rc >= 0 && rule->has_priority) {
        struct nm_rule any = *rule;
        any.has_priority = false;
        any.priority = 0;
        rc = store_rule_forget(s, &any);
    }
    return rc;
}

/* After the kernel write: the inventory follows what was done. */
static int postwrite(struct reconciler *r, const struct op *op, bool ok,
                     const struct inventory *inv)
{
    if (!ok) {
        if (op->type == OP_POD_ATTACH && !inventory_has_alloc(inv, op->owner, op->pa.pod_if))
            return store_alloc_release(r->store, op->owner, op->pa.pod_if);
        /* The before-image recorded for a first change that never happened. */
        if (op->type == OP_LINK_SET && op->record_before)
            return store_link_forget(r->store, op->ifname);
        return 0;
    }
    if (op->dns.set) { /* the ownership record is the journal's: reread it */
        r->dns_loaded = false;
        return 0;
    }
    switch (op->type) {
    case OP_DNS_SET:
        return 0;
    case OP_BRIDGE_ADD: {
        struct owned_link ol = {.owner = op->owner, .created = true, .before_stp = -1,
                                .before_promisc = -1};
        snprintf(ol.ifname, sizeof(ol.ifname), "%s", op->ifname);
        int rc = store_link_put(r->store, &ol);
        if (rc >= 0 && op->cfg.kind == LK_VETH) { /* the peer end is ours too */
            snprintf(ol.ifname, sizeof(ol.ifname), "%s", op->cfg.base);
            rc = store_link_put(r->store, &ol);
        }
        return rc;
    }
    case OP_LINK_SET:
    case OP_LINK_DEL:
        return op->forget ? store_link_forget(r->store, op->ifname) : 0;
    case OP_ADDR_ADD: {
        if (op->forget) /* a foreign address put back: not ours */
            return store_addr_forget(r->store, op->ifname, &op->addr);
        struct owned_addr oa = {.owner = op->owner, .addr = op->addr,
                                .dynamic = dhcp_is_lease_addr(r->dhcp, op->ifname, &op->addr)};
        snprintf(oa.ifname, sizeof(oa.ifname), "%s", op->ifname);
        return store_addr_put(r->store, &oa);
    }
    case OP_ADDR_DEL:
        return store_addr_forget(r->store, op->ifname, &op->addr);
    case OP_FORGET:
        if (op->rule.family)
            return rule_forget(r->store, &op->rule);
        if (op->route.family)
            return store_route_forget(r->store, &op->route);
        if (op->pa.pod_if[0]) {
            int rc = store_attach_forget(r->store, op->owner, op->pa.pod_if);
            return rc < 0 ? rc : store_alloc_release(r->store, op->owner, op->pa.pod_if);
        }
        return op->addr.family ? store_addr_forget(r->store, op->ifname, &op->addr)
                               : store_link_forget(r->store, op->ifname);
    case OP_POD_ATTACH: {
        struct owned_attach oa = {
            .owner = op->owner, .netns = op->pa.netns, .network = op->pa.network,
            .addrs = op->pa.addrs, .naddrs = op->pa.naddrs,
            .default_gw = op->pa.default_gw, .ndefault_gw = op->pa.ndefault_gw,
            .prev_defaults = op->pa.prev_defaults, .nprev_defaults = op->pa.nprev_defaults,
        };
        snprintf(oa.pod_if, sizeof(oa.pod_if), "%s", op->pa.pod_if);
        snprintf(oa.host_if, sizeof(oa.host_if), "%s", op->pa.host_if);
        snprintf(oa.bridge, sizeof(oa.bridge), "%s", op->pa.bridge);
        memcpy(oa.mac, op->pa.mac, 6);
        int rc = store_attach_put(r->store, &oa);
        /* The addresses it held before (a new requested IP) are free again. */
        for (size_t i = 0; rc >= 0 && inv && i < inv->nallocs; i++) {
            const struct allocation *al = &inv->allocs[i];
            bool kept = false;
            if (!streq(al->owner, op->owner) || !streq(al->ifname, op->pa.pod_if))
                continue;
            for (size_t k = 0; k < op->pa.naddrs && !kept; k++)
                kept = ipaddr_same_host(&al->ip, &op->pa.addrs[k]) &&
                       streq(al->network, op->pa.network ? op->pa.network : "");
            if (!kept)
                rc = store_alloc_release_ip(r->store, al);
        }
        return rc;
    }
    case OP_POD_DETACH: {
        int rc = store_attach_forget(r->store, op->owner, op->pa.pod_if);
        if (rc >= 0)
            rc = store_alloc_release(r->store, op->owner, op->pa.pod_if);
        return rc;
    }
    case OP_SYSCTL: /* not inventoried: the journal's inverse puts it back */
        return 0;
    case OP_ROUTE_ADD: /* ours, unless a foreign route put back */
        return op->forget ? store_route_forget(r->store, &op->route)
                          : store_route_put(r->store, op->owner, &op->route);
    case OP_ROUTE_DEL:
        return store_route_forget(r->store, &op->route);
    case OP_RULE_ADD: /* ours, unless a foreign rule put back */
        return op->forget ? rule_forget(r->store, &op->rule)
                          : store_rule_put(r->store, op->owner, &op->rule);
    case OP_RULE_DEL:
        return rule_forget(r->store, &op->rule);
    case _OP_TYPE_MAX:
        break;
    }
    return 0;
}

/* An errno that says the kernel was in the middle of something (a link
 * vanishing during drift): retry later rather than pin the revision. */
static bool error_transient(int e)
{
    return e == ENODEV || e == ENOENT || e == ENXIO || e == EAGAIN || e == EBUSY ||
           e == ENOBUFS || e == EINTR || e == ETIMEDOUT || e == EEXIST;
}

/* A fresh node snapshot after our writes: the watch's (drained) or a dump. */
static int snapshot_after(struct reconciler *r, struct live_ns *fresh, const struct live_ns **ret)
{
    if (r->node_watch) {
        int rc = watch_current(r->node_watch);
        *ret = &r->node_watch->cache;
        return rc;
    }
    int rc = live_dump(r->node, fresh);
    *ret = fresh;
    return rc;
}

static const char *owner_rev(const struct plan *p, const char *owner)
{
    for (size_t s = 0; s < p->nstatus; s++)
        if (streq(p->status[s].id, owner))
            return p->status[s].rev;
    return "";
}

/* Kernel writes for the plan, journalled write-ahead with their inverses.
 * Each object is a transaction: when one of its ops fails, or the kernel
 * does not show what a policy asked for (read-back verification), its done
 * ops are undone in reverse order, the object is Failing with the reason,
 * and its revision is pinned (not retried until its file changes) unless
 * the failure looks transient. */
static bool is_policy(const char *owner)
{
    return strncmp(owner, "NodeNetworkConfigurationPolicy/", 31) == 0;
}

/* The node's IPv4/IPv6 default gateway in the snapshot, if any. */
static bool default_gateway(const struct live_ns *node, struct ipaddr *ret)
{
    for (size_t i = 0; i < node->nroutes; i++)
        if (LIVE_ROUTE_MAIN_UNICAST(&node->routes[i]) && node->routes[i].dst.prefix == 0 &&
            node->routes[i].has_gw) {
            *ret = node->routes[i].gw;
            return true;
        }
    return false;
}

/* After a policy's writes: the default gateway (when it answered before
 * the pass) and the policy's own plumbd/probe targets must answer within
 * the probe timeout. Returns NULL when all do, else what failed. */
static char *run_probes(struct reconciler *r, const struct desired *d, const char *owner,
                        const struct ipaddr *gw)
{
    unsigned timeout = r->probe_timeout_ms ? r->probe_timeout_ms : 10000;
    if (gw) {
        struct probe pg = {.kind = PROBE_PING, .addr = *gw};
        int k = probe_run(&pg, timeout);
        if (k < 0) {
            char a[64];
            return xasprintf("the default gateway %s stopped answering (ping: %s)",
                             ipaddr_format(gw, false, a, sizeof(a)), strerror(-k));
        }
    }
    for (size_t i = 0; i < d->npolicies; i++) {
        char id[256];
        if (!d->policies[i].probe ||
            !streq(object_id(&d->policies[i].obj, id, sizeof(id)), owner))
            continue;
        struct probe *v = NULL;
        size_t n = 0;
        _cleanup_free_ char *err = NULL;
        if (probe_parse(d->policies[i].probe, &v, &n, &err) < 0)
            return xasprintf("plumbd/probe: %s", err);
        for (size_t k = 0; k < n; k++) {
            int e = probe_run(&v[k], timeout);
            if (e < 0) {
                _cleanup_free_ char *desc = probe_describe(&v[k]);
                char *m = xasprintf("probe %s failed: %s", desc, strerror(-e));
                free(v);
                return m;
            }
        }
        free(v);
    }
    return NULL;
}

/* Read-back verification (verify.h): the kernel may finish a change after
 * its ACK (a bridge's MTU follows its ports, an address leaves tentative),
 * so a mismatch is read again VERIFY_TRIES times, VERIFY_WAIT_MS apart,
 * as nmstate retries, before it counts. */
#define VERIFY_TRIES 5
#define VERIFY_WAIT_MS 100

static const struct policy *policy_by_id(const struct desired *d, const char *id)
{
    for (size_t i = 0; i < d->npolicies; i++) {
        char buf[256];
        if (streq(object_id(&d->policies[i].obj, buf, sizeof(buf)), id))
            return &d->policies[i];
    }
    return NULL;
}

static enum condition plan_cond(const struct plan *p, const char *id)
{
    for (size_t s = 0; s < p->nstatus; s++)
        if (streq(p->status[s].id, id))
            return p->status[s].cond;
    return COND_NOT_MATCHING;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* Every string of a JSON tree, into m (keys borrowed from the tree). */
static void json_strings(json_t *j, struct strmap *m)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_string(j))
        strmap_put(m, json_string_value(j), 0);
    else if (json_is_object(j))
        json_object_foreach(j, k, v) json_strings(v, m);
    else if (json_is_array(j))
        json_array_foreach(j, i, v) json_strings(v, m);
}

/* The node as the read-back of policies needs it: without the host ends of
 * pods (interface group APPLY_POD_GROUP) that no policy names, and their
 * addresses and routes. A thousand pod ports would make show's tree of the
 * node the biggest thing a pass holds (3 MB at 1000 pods), and verification
 * tolerates extra ports and interfaces. view borrows from after; free with
 * policy_view_free. */
static void policy_view(const struct live_ns *after, const struct desired *d,
                        struct live_ns *view)
{
    struct strmap named = {0};
    for (size_t i = 0; i < d->npolicies; i++)
        json_strings(d->policies[i].state, &named);
    *view = *after;
    view->index = NULL;
    view->links = xcalloc(after->nlinks ? after->nlinks : 1, sizeof(*view->links));
    view->addrs = xcalloc(after->naddrs ? after->naddrs : 1, sizeof(*view->addrs));
    view->routes = xcalloc(after->nroutes ? after->nroutes : 1, sizeof(*view->routes));
    view->nlinks = view->naddrs = view->nroutes = 0;
    int *dropped = xcalloc(after->nlinks ? after->nlinks : 1, sizeof(*dropped));
    size_t ndropped = 0; /* ifindexes, in the snapshot's order: sorted below */
    for (size_t i = 0; i < after->nlinks; i++) {
        const struct live_link *l = &after->links[i];
        if ((unsigned)l->group == APPLY_POD_GROUP && !strmap_get(&named, l->name, NULL))
            dropped[ndropped++] = l->ifindex;
        else
            view->links[view->nlinks++] = *l;
    }
    qsort(dropped, ndropped, sizeof(*dropped), cmp_int);
#define KEPT(ifx) (!bsearch(&(ifx), dropped, ndropped, sizeof(*dropped), cmp_int))
    for (size_t i = 0; i < after->naddrs; i++)
        if (KEPT(after->addrs[i].ifindex))
            view->addrs[view->naddrs++] = after->addrs[i];
    for (size_t i = 0; i < after->nroutes; i++)
        if (KEPT(after->routes[i].ifindex))
            view->routes[view->nroutes++] = after->routes[i];
#undef KEPT
    free(dropped);
    strmap_free(&named);
}

static void policy_view_free(struct live_ns *view)
{
    live_ns_drop_index(view);
    free(view->links);
    free(view->addrs);
    free(view->routes);
}

/* One look at the node after the writes. Each policy op's own effect
 * (op_verify), then, when whole, the whole desired state of each policy
 * planned this pass (Progressing: it had ops, none failed) against show's
 * tree of the node. Returns how many policies differ; on the last try, the
 * first mismatch of each is recorded on its first op (reason, message,
 * failed). */
static size_t readback_check(struct reconciler *r, const struct plan *p, const struct desired *d,
                             const struct live_ns *after, bool *failed, char **reasons,
                             char **errs, bool whole, bool last)
{
    size_t n = p->nops, bad = 0;
    char **why = xcalloc(n, sizeof(char *)); /* per op: its owner's first mismatch */
    json_t *cur = NULL;
    json_t **others = NULL;
    size_t nothers = 0;
    for (size_t i = 0; i < n; i++) {
        const struct op *op = &p->ops[i];
        const char *owner = op->owner;
        size_t first = i;
        bool owner_bad = false;
        if (failed[i] || !is_policy(owner) || op->type == OP_FORGET)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (!streq(p->ops[j].owner, owner))
                continue;
            owner_bad = owner_bad || failed[j] || why[j];
            if (j < first && p->ops[j].type != OP_FORGET)
                first = j;
        }
        if (owner_bad)
            continue;
        char *msg = NULL;
        if (!recreated_later(p, i) && !op_verify(op, after, &msg)) {
            why[i] = msg; /* blame the first mismatching op of the object */
            continue;
        }
        /* The whole policy, once, at its first op. */
        const struct policy *pol = policy_by_id(d, owner);
        if (!whole || i != first || !pol || !pol->state ||
            plan_cond(p, owner) != COND_PROGRESSING)
            continue;
        if (!cur) {
            struct live_ns view;
            policy_view(after, d, &view);
            cur = show_build(&view, r->resolv_conf);
            policy_view_free(&view);
            for (size_t k = 0; k < d->npolicies; k++) {
                char id[256];
                object_id(&d->policies[k].obj, id, sizeof(id));
                enum condition c = plan_cond(p, id);
                if (c == COND_AVAILABLE || c == COND_PROGRESSING)
                    *ARRAY_PUSH(others, nothers) = d->policies[k].state;
            }
        }
        struct verify_opts vo = {.check_dns = r->resolv_conf != NULL, .others = others,
                                 .nothers = nothers};
        struct verify_result vr = {0};
        if (verify_state(pol->state, cur, &vo, &vr))
            why[i] = verify_message(&vr);
        else
            log_debug(owner, "read back: the node holds the desired state");
        verify_result_free(&vr);
    }
    for (size_t i = 0; i < n; i++) {
        if (!why[i])
            continue;
        bad++;
        if (!last) {
            log_debug(p->ops[i].owner, "read-back differs (%s): reading again", why[i]);
            free(why[i]);
            continue;
        }
        reasons[i] = xstrdup("VerificationFailed");
        free(errs[i]);
        errs[i] = why[i];
        failed[i] = true;
        log_error(p->ops[i].owner, "verification failed: %s", errs[i]);
    }
    free(why);
    free(others);
    json_decref(cur);
    return bad;
}

/* judging: a pass that applies revisions (file, apply, start), as for the
 * probes: the whole policy is compared, with retries. A drift repair only
 * checks what each op wrote, once: a policy that differs elsewhere during
 * drift is more drift, which the next pass repairs (undoing this repair
 * would not help), and a repair must not wait half a second. */
static void readback(struct reconciler *r, const struct plan *p, const struct desired *d,
                     bool judging, bool *failed, char **reasons, char **errs,
                     struct live_ns *fresh)
{
    bool any = false;
    unsigned tries = judging ? VERIFY_TRIES : 1;
    for (size_t i = 0; i < p->nops && !any; i++)
        any = !failed[i] && is_policy(p->ops[i].owner) && p->ops[i].type != OP_FORGET;
    for (unsigned t = 1; any; t++) {
        const struct live_ns *after = NULL;
        live_ns_free(fresh);
        if (snapshot_after(r, fresh, &after) < 0 ||
            !readback_check(r, p, d, after, failed, reasons, errs, judging, t >= tries) ||
            t >= tries)
            return;
        struct timespec ts = {.tv_nsec = VERIFY_WAIT_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* For a batch of detaches: which host ends are in the pod group already,
 * or NULL when the group also holds a link the batch does not delete (it
 * cannot then be deleted whole). The snapshot holds every link plumbd made
 * before this pass: the kernel queues a link's event before acknowledging
 * its creation, and the daemon reads its events before planning. */
static bool *pod_group_members(const struct live_ns *node, struct op *const *ops, size_t n)
{
    bool *in = xcalloc(n, sizeof(bool));
    size_t members = 0, total = 0;

    for (size_t i = 0; i < node->nlinks; i++)
        total += node->links[i].group == (int)APPLY_POD_GROUP;
    for (size_t i = 0; i < n; i++) {
        const struct live_link *l = live_find_link(node, ops[i]->pa.host_if);
        in[i] = l && l->group == (int)APPLY_POD_GROUP;
        members += in[i];
    }
    if (members != total) {
        free(in);
        return NULL;
    }
    return in;
}

static int run_ops(struct reconciler *r, enum gen_trigger trig, struct plan *p,
                   const struct live_ns *node, const struct inventory *inv,
                   const struct desired *d, struct pass_result *res)
{
    size_t n = p->nops;
    int64_t gen = 0;
    int rc;
    char **errs = xcalloc(n, sizeof(char *));
    int *err_no = xcalloc(n, sizeof(int));
    bool *failed = xcalloc(n, sizeof(bool)), *undone = xcalloc(n, sizeof(bool));
    /* per op: its inverse as the journal holds it (parsed again for an
     * undo: n whole ops would be the biggest thing a big pass holds) */
    char **ijson = xcalloc(n, sizeof(char *));
    bool *has_inv = xcalloc(n, sizeof(bool));
    char **reasons = xcalloc(n, sizeof(char *)); /* per op: why its object was rolled back */
    struct live_ns fresh = {0};

    /* The objects involved, for history: each once, in op order. */
    _cleanup_free_ char *objects = NULL;
    {
        struct strmap seen = {0};
        size_t len = 0;
        FILE *f = open_memstream(&objects, &len);
        if (!f)
            abort(); /* out of memory, as xmalloc */
        for (size_t i = 0; i < n; i++) {
            if (strmap_get(&seen, p->ops[i].owner, NULL))
                continue;
            strmap_put(&seen, p->ops[i].owner, i);
            fprintf(f, "%s%s", seen.n > 1 ? " " : "", p->ops[i].owner);
        }
        fclose(f);
        strmap_free(&seen);
    }

    /* Write-ahead: every op with its inverse, and the pre-write records
     * (before-images, address reservations), in one commit. */
    rc = store_begin(r->store);
    if (rc < 0)
        goto out;
    rc = store_gen_begin(r->store, trig, objects, &gen);
    if (rc >= 0 && r->source)
        rc = store_gen_source(r->store, gen, r->source);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        _cleanup_free_ char *js = op_to_json(&p->ops[i]);
        struct op iop = {0};
        has_inv[i] = op_inverse(&p->ops[i], node, inv, &iop) >= 0;
        if (has_inv[i]) {
            ijson[i] = op_to_json(&iop);
            op_clear(&iop);
        }
        rc = store_op_intent(r->store, gen, (int)i, p->ops[i].owner, js,
                             ijson[i] ? ijson[i] : "");
        if (rc >= 0 && prewrite(r, &p->ops[i], node, inv, &errs[i]) < 0)
            failed[i] = true;
    }
    if (rc < 0) {
        store_rollback(r->store);
        goto out;
    }
    rc = store_commit(r->store);
    if (rc < 0)
        goto out;

    /* Probes judge a policy revision as it is applied (file, manual, start),
     * as kubernetes-nmstate does; a drift repair puts back what a probe
     * already accepted. Was the default gateway reachable before? Only
     * then must it be after. */
    bool judging = trig == TRIG_FILE || trig == TRIG_MANUAL || trig == TRIG_START;
    struct ipaddr gw;
    bool gw_ok = false;
    for (size_t i = 0; judging && i < n && !gw_ok; i++)
        if (is_policy(p->ops[i].owner) && p->ops[i].type != OP_FORGET) {
            struct probe pg = {.kind = PROBE_PING};
            gw_ok = default_gateway(node, &gw) && (pg.addr = gw, probe_run(&pg, 1000) == 0);
            break;
        }

    unsigned long w0 = r->actx.writes;
    /* Detaches go first and together: the kernel deletes veths one by one
     * at ~20 ms each, but a whole interface group in one request. If the
     * batch fails, each is retried alone below (deleting is idempotent). */
    bool detached = false;
    {
        struct op **batch = NULL;
        size_t nb = 0;
        for (size_t i = 0; i < n; i++)
            if (p->ops[i].type == OP_POD_DETACH && !failed[i])
                *ARRAY_PUSH(batch, nb) = &p->ops[i];
        if (nb > 1) {
            _cleanup_free_ char *e = NULL;
            _cleanup_free_ bool *in_group = pod_group_members(node, batch, nb);
            detached = apply_detach_many(&r->actx, batch, nb, in_group, &e) >= 0;
            if (!detached)
                log_warn("apply", "batched detach failed (%s): detaching one by one",
                         e ? e : "?");
        }
        free(batch);
    }
    for (size_t i = 0; i < n; i++) {
        struct op *op = &p->ops[i];
        bool skip = failed[i];
        for (size_t j = 0; j < i && !skip; j++)
            skip = failed[j] && streq(p->ops[j].owner, op->owner);
        if (skip) {
            failed[i] = true;
            if (!errs[i])
                errs[i] = xstrdup("skipped: an earlier operation of this object failed");
            continue;
        }
        if (op->type == OP_FORGET)
            continue;
        _cleanup_free_ char *d = op_describe(op);
        if (detached && op->type == OP_POD_DETACH) {
            log_info(op->owner, "%s", d);
            continue;
        }
        int k = apply_op(&r->actx, op, &errs[i]);
        if (k < 0) {
            failed[i] = true;
            err_no[i] = -k;
            if (!errs[i])
                errs[i] = xstrdup(strerror(-k));
            log_error(op->owner, "%s: %s", d, errs[i]);
        } else
            log_info(op->owner, "%s", d);
    }

    /* Read-back verification of the policies that went through. */
    readback(r, p, d, judging, failed, reasons, errs, &fresh);

    /* Probes, once per policy that went through. */
    for (size_t i = 0; judging && i < n; i++) {
        const char *owner = p->ops[i].owner;
        bool first = true, bad = false;
        if (!is_policy(owner) || p->ops[i].type == OP_FORGET)
            continue; /* (before the scans below: a big pass is mostly pods) */
        for (size_t j = 0; j < i && first; j++)
            first = !streq(p->ops[j].owner, owner);
        for (size_t j = 0; j < n && !bad; j++)
            bad = failed[j] && streq(p->ops[j].owner, owner);
        if (!first || bad)
            continue;
        char *why = run_probes(r, d, owner, gw_ok ? &gw : NULL);
        if (!why)
            continue;
        log_error(owner, "%s: rolling the policy back", why);
        reasons[i] = xstrdup("ProbeFailed");
        free(errs[i]);
        errs[i] = why;
        failed[i] = true;
    }

    /* Undo, in reverse order, the done ops of every object that failed. */
    for (size_t i = n; i-- > 0;) {
        bool owner_failed = false;
        for (size_t j = 0; j < n && !owner_failed; j++)
            owner_failed = failed[j] && streq(p->ops[j].owner, p->ops[i].owner);
        if (!owner_failed || !has_inv[i] || p->ops[i].type == OP_FORGET)
            continue;
        /* Ops that failed themselves mostly changed nothing (a pod attach
         * cleans up after itself), but a link-set is one request the kernel
         * applies field by field (flags before the master): put back what
         * it set. A verification or probe failure: the write went in. */
        if (failed[i] && !reasons[i] && (p->ops[i].type != OP_LINK_SET || !err_no[i]))
            continue;
        struct op iop = {0};
        if (op_from_json(ijson[i], &iop) < 0) {
            op_clear(&iop);
            log_error(p->ops[i].owner, "undo: the journalled inverse does not parse");
            continue;
        }
        _cleanup_free_ char *d = op_describe(&iop);
        _cleanup_free_ char *e = NULL;
        if (apply_op(&r->actx, &iop, &e) < 0)
            log_error(p->ops[i].owner, "undo %s: %s", d, e ? e : "failed");
        else {
            undone[i] = true;
            log_info(p->ops[i].owner, "undo: %s", d);
        }
        op_clear(&iop);
    }
    res->writes += r->actx.writes - w0;

    /* Outcomes, inventory, pins: one commit. */
    rc = store_begin(r->store);
    if (rc < 0)
        goto out;
    size_t nfailed = 0;
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        /* An op that failed stays "failed" even when what it half did was
         * put back; "undone" is for ops that went through. */
        enum op_state st = failed[i] && !reasons[i] ? OPST_FAILED
                           : undone[i]              ? OPST_UNDONE
                           : failed[i]              ? OPST_FAILED
                                                    : OPST_DONE;
        if (failed[i])
            nfailed++;
        store_op_state(r->store, gen, (int)i, st, errs[i]);
        bool took_effect = !failed[i] || reasons[i]; /* verification/probe: it went in */
        rc = postwrite(r, &p->ops[i], took_effect, inv);
        if (rc >= 0 && undone[i]) {
            struct op iop = {0};
            if (op_from_json(ijson[i], &iop) >= 0)
                rc = postwrite(r, &iop, true, inv);
            op_clear(&iop);
        }
    }
    /* Pin the revisions rolled back for a lasting reason. Only a pass that
     * applies revisions (a file change, a manual apply, the start) judges
     * them: a repair failing during drift says nothing about the file. */
    for (size_t i = 0; judging && rc >= 0 && i < n; i++) {
        if (!failed[i] || !errs[i] || streq(errs[i], "skipped: an earlier operation of this "
                                                      "object failed"))
            continue;
        if (!reasons[i] && error_transient(err_no[i]))
            continue;
        _cleanup_free_ char *d = op_describe(&p->ops[i]);
        _cleanup_free_ char *m = xasprintf("%s: %s; rolled back by generation %lld", d, errs[i],
                                           (long long)gen);
        struct pin pin = {.owner = p->ops[i].owner,
                          .cond = streq(reasons[i], "ProbeFailed") ? COND_ABORTED : COND_FAILING,
                          .reason = reasons[i] ? reasons[i] : "FailedToConfigure",
                          .message = m, .gen = gen};
        snprintf(pin.rev, sizeof(pin.rev), "%s", owner_rev(p, p->ops[i].owner));
        rc = store_pin_put(r->store, &pin);
    }
    if (rc >= 0)
        rc = store_gen_end(r->store, gen, nfailed ? "failed" : "applied", (int)n);
    /* Trimming scans the whole journal: every 16th generation is enough
     * (the journal holds at most 15 generations more than --history). */
    if (rc >= 0 && r->history_keep && gen % 16 == 0)
        rc = store_gen_trim(r->store, (int)r->history_keep);
    if (rc < 0) {
        store_rollback(r->store);
        goto out;
    }
    rc = store_commit(r->store);
    res->nfailed_ops += nfailed;
    /* The resolv.conf owner read for the generation before this one still
     * holds when none of this generation's ops touched the file (postwrite
     * forgets it when one did): no journal scan next pass. */
    if (rc >= 0 && r->dns_loaded && r->dns_gen == gen - 1)
        r->dns_gen = gen;

    /* Statuses: Failing with the first error, else Available. */
    for (size_t s = 0; s < p->nstatus; s++) {
        struct objstatus *st = &p->status[s];
        for (size_t i = 0; i < n; i++) {
            if (!failed[i] || !streq(p->ops[i].owner, st->id))
                continue;
            _cleanup_free_ char *d = op_describe(&p->ops[i]);
            bool rolled = false;
            for (size_t j = 0; j < n && !rolled; j++)
                rolled = undone[j] && streq(p->ops[j].owner, st->id);
            free(st->reason);
            free(st->message);
            st->cond = streq(reasons[i], "ProbeFailed") ? COND_ABORTED : COND_FAILING;
            st->reason = xstrdup(reasons[i] ? reasons[i] : "FailedToConfigure");
            st->message = xasprintf("%s: %s%s", d, errs[i],
                                    rolled ? "; the object's changes were rolled back" : "");
            break;
        }
        if (st->cond == COND_PROGRESSING) {
            st->cond = COND_AVAILABLE; /* the message keeps the warnings */
            free(st->reason);
            st->reason = xstrdup("SuccessfullyConfigured");
        }
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(errs[i]);
        free(reasons[i]);
        free(ijson[i]);
    }
    free(errs);
    free(err_no);
    free(failed);
    free(undone);
    free(ijson);
    free(has_inv);
    free(reasons);
    live_ns_free(&fresh);
    return rc;
}

/* The live cache in SQLite follows the node's snapshot: from the watch
 * when it changed since last written; in one-shot mode a fresh dump after
 * writes (or on first use). */
static void store_live_cache(struct reconciler *r, bool wrote)
{
    struct live_ns fresh = {0};
    const struct live_ns *l = NULL;
    if (r->node_watch) {
        if (r->node_watch->changes == r->live_stored)
            return;
        l = &r->node_watch->cache;
    } else {
        if (!wrote && r->live_cached)
            return;
        if (live_dump(r->node, &fresh) < 0)
            return;
        l = &fresh;
    }
    if (store_begin(r->store) >= 0) {
        if (store_live_put(r->store, l) >= 0 && store_commit(r->store) >= 0) {
            r->live_cached = true;
            if (r->node_watch)
                r->live_stored = r->node_watch->changes;
        } else
            store_rollback(r->store);
    }
    live_ns_free(&fresh);
}

/* The source is empty or missing and pruning everything was refused:
 * every known object says so, and keeps its kernel state. */
static int mark_stalled(struct reconciler *r, const char *dir, const char *why)
{
    struct objstatus *v = NULL;
    size_t n = 0;
    reconciler_kept_forget(r);
    int rc = store_status_list(r->store, &v, &n);
    if (rc < 0)
        return rc;
    rc = store_begin(r->store);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        if (v[i].cond == COND_STALLED)
            continue;
        v[i].cond = COND_STALLED;
        free(v[i].reason);
        v[i].reason = xstrdup("EmptySource");
        free(v[i].message);
        v[i].message = xasprintf("the config dir %s is %s: nothing is pruned until it has "
                                 "content again (or --allow-empty is given)",
                                 dir, why);
        rc = store_status_put(r->store, &v[i]);
    }
    if (rc < 0)
        store_rollback(r->store);
    else
        rc = store_commit(r->store);
    objstatus_list_free(v, n);
    if (rc < 0)
        return rc;
    rc = store_status_list(r->store, &v, &n);
    if (rc >= 0)
        rc = status_write_files(r->state_dir, v, n, NULL);
    objstatus_list_free(v, n);
    return rc;
}

static struct flap *flap_get(struct reconciler *r, const char *owner, const char *what)
{
    for (size_t i = 0; i < r->nflaps; i++)
        if (streq(r->flaps[i].owner, owner) && streq(r->flaps[i].what, what))
            return &r->flaps[i];
    struct flap *f = ARRAY_PUSH(r->flaps, r->nflaps);
    f->owner = xstrdup(owner);
    f->what = xstrdup(what);
    return f;
}

/* Fighting another manager: count drift repairs per (object, change); an
 * object that repaired the same change more than FLAP_LIMIT times within
 * FLAP_WINDOW backs off for FLAP_BACKOFF (its ops are dropped, whatever
 * the trigger) and reports Degraded naming the change it keeps making. */
/* Drop every op of `owner` that is planned; pods whose bridge was to be
 * created by a dropped op and does not exist become Pending too. */
static void drop_owner(struct plan *p, const char *owner, const struct live_ns *node)
{
    char **bridges = NULL;
    size_t nbridges = 0;
    for (size_t i = 0; i < p->nops; i++)
        if (streq(p->ops[i].owner, owner) && p->ops[i].type == OP_BRIDGE_ADD)
            *ARRAY_PUSH(bridges, nbridges) = xstrdup(p->ops[i].ifname);
    plan_drop_owner(p, owner);
    for (size_t b = 0; b < nbridges; b++) {
        if (live_find_link(node, bridges[b]))
            continue;
        for (size_t i = 0; i < p->nops; i++) {
            if (p->ops[i].type != OP_POD_ATTACH || !streq(p->ops[i].pa.bridge, bridges[b]))
                continue;
            _cleanup_free_ char *pod = xstrdup(p->ops[i].owner);
            for (size_t s = 0; s < p->nstatus; s++)
                if (streq(p->status[s].id, pod)) {
                    p->status[s].cond = COND_PENDING;
                    free(p->status[s].reason);
                    free(p->status[s].message);
                    p->status[s].reason = xstrdup("BridgeMissing");
                    p->status[s].message =
                        xasprintf("bridge %s does not exist (%s is not being applied)",
                                  bridges[b], owner);
                }
            plan_drop_owner(p, pod);
            i = (size_t)-1; /* the array shifted: rescan */
        }
        free(bridges[b]);
    }
    free(bridges);
}

static void flap_filter(struct reconciler *r, enum gen_trigger trig, struct plan *p,
                        struct pass_result *res, const struct live_ns *node)
{
    uint64_t now = now_usec();
    unsigned limit = r->flap_limit ? r->flap_limit : 10;
    uint64_t backoff = (r->flap_backoff_s ? r->flap_backoff_s : 60) * 1000000ULL;
    if (limit >= FLAP_HISTORY)
        limit = FLAP_HISTORY - 1;

    if (trig == TRIG_DRIFT)
        for (size_t i = 0; i < p->nops; i++) {
            if (p->ops[i].type == OP_FORGET)
                continue;
            _cleanup_free_ char *what = op_describe(&p->ops[i]);
            struct flap *f = flap_get(r, p->ops[i].owner, what);
            while (f->n && now - f->t[0] > FLAP_WINDOW_USEC) {
                memmove(f->t, f->t + 1, (f->n - 1) * sizeof(f->t[0]));
                f->n--;
            }
            if (f->n == ARRAY_SIZE(f->t)) {
                memmove(f->t, f->t + 1, (f->n - 1) * sizeof(f->t[0]));
                f->n--;
            }
            f->t[f->n++] = now;
            if (f->n > limit && f->degraded_until <= now) {
                f->degraded_until = now + backoff;
                f->n = 0; /* after the backoff, count afresh */
                log_warn(f->owner, "repaired the same change more than %u times within %llu s "
                                   "(%s): another manager keeps undoing it; backing off for "
                                   "%llu s",
                         limit, FLAP_WINDOW_USEC / 1000000, what,
                         (unsigned long long)(backoff / 1000000));
            }
        }
    for (size_t i = 0; i < r->nflaps; i++) {
        struct flap *f = &r->flaps[i];
        if (f->degraded_until <= now)
            continue;
        uint64_t wake = f->degraded_until - now + 1000;
        if (!res->wake_in_usec || wake < res->wake_in_usec)
            res->wake_in_usec = wake;
        drop_owner(p, f->owner, node);
        for (size_t s = 0; s < p->nstatus; s++) {
            struct objstatus *st = &p->status[s];
            if (!streq(st->id, f->owner) || st->cond == COND_DEGRADED)
                continue;
            st->cond = COND_DEGRADED;
            free(st->reason);
            st->reason = xstrdup("FightingAnotherManager");
            free(st->message);
            st->message = xasprintf("changed back more than %u times within %llu s: %s; not "
                                    "repairing for %llu s more",
                                    limit, FLAP_WINDOW_USEC / 1000000, f->what,
                                    (unsigned long long)((f->degraded_until - now) / 1000000 + 1));
        }
    }
}

static int cmp_port(const void *a, const void *b)
{
    return strcmp(((const struct nft_port *)a)->ifname, ((const struct nft_port *)b)->ifname);
}

/* Forget what the nftables tables hold (the next change replaces them). */
static void nft_forget(struct reconciler *r)
{
    free(r->nft_ports);
    free(r->nft_masq);
    r->nft_ports = NULL;
    r->nft_masq = NULL;
    r->nnft_ports = r->nnft_masq = 0;
    r->nft_have_last = false;
}

/* The tables now hold these (taken over). */
static void nft_remember(struct reconciler *r, struct nft_port *ports, size_t n,
                         struct nft_masq *masq, size_t nmasq, const char rev[17])
{
    nft_forget(r);
    r->nft_ports = ports;
    r->nnft_ports = n;
    r->nft_masq = masq;
    r->nnft_masq = nmasq;
    r->nft_have_last = true;
    r->nft_known = true;
    memcpy(r->nft_rev, rev, 17);
}

/* macspoofchk and ipMasq: the plumbd nftables tables hold exactly the
 * attachments whose network asks for them: `bridge plumbd` the host veth
 * and MAC each was given, `inet plumbd-nat` the addresses to masquerade.
 * Both are rewritten in one transaction, only when their content changed or
 * a table vanished; the applied content's hash is kept in
 * <state-dir>/nft.rev. An attachment that is gone (pod removed, netns
 * vanished: its inventory row went with the detach) leaves both. */
static void nft_sync(struct reconciler *r, const struct desired *d, enum gen_trigger trig,
                     const struct inventory *inv)
{
    struct nft_port *ports = NULL;
    struct nft_masq *masq = NULL;
    size_t n = 0, nmasq = 0;
    /* Pod ids once, looked up by hash: a thousand pods, a thousand ports. */
    char (*ids)[256] = xcalloc(d->npods ? d->npods : 1, sizeof(*ids));
    struct strmap byid = {0};
    for (size_t k = 0; k < d->npods; k++)
        strmap_put(&byid, object_id(&d->pods[k].obj, ids[k], sizeof(ids[k])), k);
    for (size_t i = 0; i < inv->nattach; i++) {
        const struct owned_attach *a = &inv->attach[i];
        size_t k;
        if (!strmap_get(&byid, a->owner, &k))
            continue;
        for (size_t j = 0; j < d->pods[k].natt; j++) {
            const struct attachment *att = &d->pods[k].att[j];
            const struct nad *nad = desired_find_nad(d, att->nad_ns, att->nad_name);
            if (!streq(att->ifname, a->pod_if) || !nad || nad->plugin != NAD_BRIDGE)
                continue;
            if (nad->macspoofchk && attach_kind_of(a->host_if) == ATTACH_VETH) {
                struct nft_port *pt = ARRAY_PUSH(ports, n);
                snprintf(pt->ifname, sizeof(pt->ifname), "%s", a->host_if);
                memcpy(pt->mac, a->mac, 6);
            }
            for (size_t q = 0; nad->ip_masq && q < a->naddrs; q++) {
                struct nft_masq m = {.addr = a->addrs[q]};
                if (nad_subnet_of(nad, &a->addrs[q], &m.subnet))
                    *ARRAY_PUSH(masq, nmasq) = m;
            }
        }
    }
    strmap_free(&byid);
    free(ids);
    if (n > 1)
        qsort(ports, n, sizeof(*ports), cmp_port);
    nft_masq_sort(masq, nmasq);
    _cleanup_free_ char *spoof = nft_ruleset(ports, n);
    _cleanup_free_ char *nat = nft_masq_ruleset(masq, nmasq);
    _cleanup_free_ char *text = xasprintf("%s%s", spoof, nat);
    char rev[17];
    hash64_hex(hash64(text, strlen(text), HASH64_SEED), rev);
    /* The daemon knows what it installed; asking nftables whether the
     * tables are still there costs a listing of every element, so file and
     * drift passes trust the last answer and the start, resync (timer,
     * SIGHUP, overrun), rollback and one-shot passes ask. */
    bool ask = !r->nft_known || (trig != TRIG_FILE && trig != TRIG_DRIFT);
    _cleanup_free_ char *path = xasprintf("%s/nft.rev", r->state_dir);
    _cleanup_free_ char *err = NULL;
    char applied[17] = "";
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (f && !fgets(applied, sizeof(applied), f))
        applied[0] = 0;
    /* Another process (plumbd apply, rollback) wrote the tables since: what
     * this one remembers is stale. */
    if (!streq(applied, r->nft_rev))
        ask = true;
    if (!ask && streq(r->nft_rev, rev)) {
        free(ports);
        free(masq);
        return;
    }
    /* A few pods came or went: add and delete their set elements instead
     * of replacing a table of a thousand (a fraction of the time and of the
     * memory libnftables takes for it). */
    if (!ask && r->nft_have_last) {
        _cleanup_free_ char *delta = nft_delta(r->nft_ports, r->nnft_ports, ports, n, r->nft_masq,
                                               r->nnft_masq, masq, nmasq);
        if (delta && nft_apply_delta(delta, NFT_TXN_LINES, &err) == 0) {
            write_file_atomic(path, rev, strlen(rev));
            log_debug("nftables", "macspoofchk rules: %zu pod port%s; ipMasq: %zu address%s (set elements changed)",
                      n, n == 1 ? "" : "s", nmasq, nmasq == 1 ? "" : "es");
            nft_remember(r, ports, n, masq, nmasq, rev);
            return;
        }
        if (delta)
            log_warn("nftables", "changing set elements failed (%s): replacing the tables",
                        err ? err : "?");
        free(err);
        err = NULL;
    }
    bool has_spoof, has_nat;
    nft_tables_present(&has_spoof, &has_nat);
    r->nft_known = true;
    if (streq(applied, rev) && has_spoof == (n > 0) && has_nat == (nmasq > 0)) {
        nft_remember(r, ports, n, masq, nmasq, rev);
        return;
    }
    if (n == 0 && nmasq == 0 && !has_spoof && !has_nat) {
        write_file_atomic(path, rev, strlen(rev));
        nft_remember(r, ports, n, masq, nmasq, rev);
        return;
    }
    /* No spoof table yet (a node starting with its pods, a first mass
     * attach): it is made with its first ports, the others follow in
     * transactions of NFT_TXN_LINES elements (libnftables takes ~3 kB per
     * element of one transaction). A table that exists is replaced in one
     * transaction: no port goes unchecked in between. */
    size_t first = n;
    if (!has_spoof && n > NFT_TXN_LINES / 2) {
        first = NFT_TXN_LINES / 2;
        free(text);
        free(spoof);
        spoof = nft_ruleset(ports, first);
        text = xasprintf("%s%s", spoof, nat);
    }
    int k = nft_apply(text, &err);
    if (k >= 0 && first < n) {
        _cleanup_free_ char *rest = nft_delta(ports, first, ports, n, masq, nmasq, masq, nmasq);
        k = rest ? nft_apply_delta(rest, NFT_TXN_LINES, &err) : -EINVAL;
    }
    if (k < 0) {
        log_error("nftables", "cannot install the macspoofchk/ipMasq rules: %s", err ? err : "?");
        r->nft_known = false;
        nft_forget(r);
        free(ports);
        free(masq);
        return;
    }
    write_file_atomic(path, rev, strlen(rev));
    log_info("nftables", "macspoofchk rules: %zu pod port%s; ipMasq: %zu address%s", n,
             n == 1 ? "" : "s", nmasq, nmasq == 1 ? "" : "es");
    nft_remember(r, ports, n, masq, nmasq, rev);
}

/* nft_sync outside a pass (after `plumbd rollback`): the undo changed the
 * inventory, so the tables follow it; which networks ask for macspoofchk or
 * ipMasq is read from the config dirs as they are now. */
static void nft_sync_from_config(struct reconciler *r)
{
    struct docset docs = {0};
    struct diags diags = {0};
    struct desired d = {0};
    struct inventory inv = {0};
    for (size_t i = 0; i < config_dir_count(r); i++)
        (void)load_dir(config_dir_at(r, i), &docs, &diags);
    validate_docs(&docs, &d);
    if (store_inventory_load(r->store, &inv) >= 0)
        nft_sync(r, &d, TRIG_ROLLBACK, &inv);
    inventory_free(&inv);
    desired_free(&d);
    docset_free(&docs);
    diags_clear(&diags);
}

/* A sysctl of the node namespace for the planner (ipv6.autoconf): its
 * value, or -1 when it cannot be read (an interface not created yet). */
static int node_sysctl(const char *key, void *ctx)
{
    (void)ctx;
    _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    int v;
    if (!f || fscanf(f, "%d", &v) != 1)
        return -1;
    return v;
}

/* A node forwarding sysctl for the planner (isGateway): FWD_ON/FWD_OFF, or
 * FWD_UNKNOWN when no NAD is a gateway (nothing to read) or unreadable. */
static int node_forwarding(const struct desired *d, const char *key, int family)
{
    bool wanted = false;
    for (size_t i = 0; i < d->nnads && !wanted; i++) {
        struct ipaddr gws[8];
        size_t n = d->nads[i].plugin == NAD_BRIDGE && d->nads[i].is_gateway
                       ? nad_gateways(&d->nads[i], gws, ARRAY_SIZE(gws))
                       : 0;
        for (size_t k = 0; k < n && !wanted; k++)
            wanted = gws[k].family == family;
    }
    if (!wanted)
        return FWD_UNKNOWN;
    _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    int v;
    if (!f || fscanf(f, "%d", &v) != 1)
        return FWD_UNKNOWN;
    return v ? FWD_ON : FWD_OFF;
}

/* Store statuses (dropping those of objects that are gone) and mirror them
 * to files. */
static bool status_same(const struct objstatus *a, const struct objstatus *b)
{
    return a->kind == b->kind && a->cond == b->cond && a->no_prune == b->no_prune &&
           b->first_seen != 0 && streq(a->rev, b->rev) && streq_ptr(a->ns, b->ns) &&
           streq_ptr(a->name, b->name) && streq_ptr(a->file, b->file) &&
           streq_ptr(a->reason, b->reason) && streq_ptr(a->message, b->message) &&
           streq_ptr(a->network_status, b->network_status) && streq_ptr(a->source, b->source);
}

/* The order of store_status_list: kind (as stored, a string), ns, name, id. */
static int objstatus_cmp(const void *a_, const void *b_)
{
    const struct objstatus *a = a_, *b = b_;
    int c = strcmp(obj_kind_to_string(a->kind), obj_kind_to_string(b->kind));
    if (!c)
        c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "");
    if (!c)
        c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
    return c ? c : strcmp(a->id, b->id);
}

/* Is what the last pass left still what the database holds? */
static bool kept_current(struct reconciler *r)
{
    int64_t dv;
    return r->kept && store_data_version(r->store, &dv) >= 0 && dv == r->kept_dv;
}

void reconciler_kept_forget(struct reconciler *r)
{
    objstatus_list_free(r->kept_st, r->nkept_st);
    r->kept_st = NULL;
    r->nkept_st = 0;
    inventory_free(&r->kept_inv);
    memset(&r->kept_inv, 0, sizeof(r->kept_inv));
    r->kept = false;
}

/* Daemon: keep the statuses st and the inventory inv (both as the database
 * now holds them; taken over) for the next pass. */
static void kept_put(struct reconciler *r, struct objstatus *st, size_t nst,
                     struct inventory *inv)
{
    reconciler_kept_forget(r);
    r->kept_st = st;
    r->nkept_st = nst;
    r->kept_inv = *inv;
    memset(inv, 0, sizeof(*inv));
    r->kept = r->watching && store_data_version(r->store, &r->kept_dv) >= 0;
    if (!r->kept)
        reconciler_kept_forget(r);
}

const struct objstatus *reconciler_statuses(struct reconciler *r, size_t *ret_n)
{
    if (!kept_current(r))
        return NULL;
    *ret_n = r->nkept_st;
    return r->kept_st;
}

/* Every network has the revision its status was written for, and none
 * went (a network-status names networks and carries their dns). */
static bool nads_unchanged(const struct desired *d, const struct objstatus *old, size_t nold,
                           const struct strmap *oldid)
{
    size_t had = 0;
    for (size_t i = 0; i < nold; i++)
        had += old[i].kind == OBJ_NAD;
    if (had != d->nnads)
        return false;
    for (size_t i = 0; i < d->nnads; i++) {
        char id[256];
        size_t o;
        if (!strmap_get(oldid, object_id(&d->nads[i].obj, id, sizeof(id)), &o) ||
            !streq(old[o].rev, d->nads[i].obj.rev))
            return false;
    }
    return true;
}

/* Store this pass's statuses (only those that changed: a converged pass of
 * a thousand objects writes nothing) and mirror them to files. inv is the
 * inventory as this pass left it. */
static int publish_status(struct reconciler *r, struct plan *p, const struct desired *d,
                          const struct inventory *inv, const struct objstatus *old, size_t nold,
                          const struct strmap *oldid, bool old_trusted, bool *ret_changed,
                          struct objstatus **ret_cur, size_t *ret_ncur)
{
    struct strmap byid = {0};
    for (size_t s = 0; s < p->nstatus; s++) {
        if (r->source && !p->status[s].source)
            p->status[s].source = xstrdup(r->source);
        strmap_put(&byid, p->status[s].id, s);
    }
    /* A pod's network-status follows its attachments in the inventory, its
     * own revision and its networks' (dns). When the old statuses are the
     * daemon's own from its last pass, a pod at the same revision that had
     * no operation this pass keeps the text it had, unless a network
     * changed: no thousand JSON documents per pass for one pod's change. */
    bool reuse = old_trusted && nads_unchanged(d, old, nold, oldid);
    struct strmap op_owner = {0};
    for (size_t i = 0; reuse && i < p->nops; i++)
        if (p->ops[i].owner)
            strmap_put(&op_owner, p->ops[i].owner, i);
    struct attach_index ax;
    attach_index_build(&ax, inv);
    for (size_t i = 0; i < d->npods; i++) {
        char id[256];
        size_t s, o;
        object_id(&d->pods[i].obj, id, sizeof(id));
        if (!strmap_get(&byid, id, &s) || p->status[s].network_status)
            continue;
        if (reuse && !strmap_get(&op_owner, id, NULL) && strmap_get(oldid, id, &o) &&
            old[o].network_status && streq(old[o].rev, d->pods[i].obj.rev))
            p->status[s].network_status = xstrdup(old[o].network_status);
        else
            p->status[s].network_status = network_status(&d->pods[i], id, inv, &ax, d);
    }
    attach_index_free(&ax);
    strmap_free(&op_owner);

    /* old: the statuses as the pass found them (read at its start; the
     * state lock keeps other writers out until it ends). */
    bool dirty = false;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_s = (int64_t)now_wall(), now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int rc = store_begin(r->store);
    for (size_t i = 0; rc >= 0 && i < nold; i++)
        if (!strmap_get(&byid, old[i].id, NULL)) {
            rc = store_status_delete(r->store, old[i].id);
            dirty = true;
            /* A policy that is gone forgets its captures: added again, it
             * is a new policy and captures afresh. */
            if (rc >= 0 && old[i].kind == OBJ_POLICY)
                rc = store_capture_delete(r->store, old[i].name);
        }
    for (size_t s = 0; rc >= 0 && s < p->nstatus; s++) {
        size_t o;
        if (strmap_get(oldid, p->status[s].id, &o) && status_same(&p->status[s], &old[o]))
            continue;
        rc = store_status_put_at(r->store, &p->status[s], now_s, now_us);
        dirty = true;
    }
    if (rc < 0)
        store_rollback(r->store);
    else
        rc = store_commit(r->store);
    strmap_free(&byid);
    if (rc < 0)
        return rc;
    *ret_changed = dirty;

    /* Files carry the stored `since`: the rows as the database now holds
     * them, worked out here rather than read back (the rules of
     * ST_STATUS_PUT: since moves when the condition or reason changed,
     * first_seen stays). */
    struct objstatus *cur = (struct objstatus *)old;
    size_t ncur = nold;
    if (dirty) {
        cur = xcalloc(p->nstatus ? p->nstatus : 1, sizeof(*cur));
        ncur = p->nstatus;
        for (size_t s = 0; s < p->nstatus; s++) {
            size_t o;
            bool had = strmap_get(oldid, p->status[s].id, &o);
            if (had && status_same(&p->status[s], &old[o])) {
                objstatus_copy(&cur[s], &old[o]);
                continue;
            }
            objstatus_copy(&cur[s], &p->status[s]);
            cur[s].first_seen = had && old[o].first_seen ? old[o].first_seen : now_us;
            cur[s].since = had && old[o].cond == cur[s].cond &&
                                   streq_ptr(old[o].reason, cur[s].reason)
                               ? old[o].since
                               : now_s;
        }
        qsort(cur, ncur, sizeof(*cur), objstatus_cmp);
    }
    *ret_cur = cur == old ? NULL : cur;
    *ret_ncur = cur == old ? 0 : ncur;
    bool *changed = xcalloc(ncur ? ncur : 1, sizeof(bool));
    for (size_t i = 0; i < ncur; i++) {
        size_t o;
        changed[i] = cur == old ? false
                                : !strmap_get(oldid, cur[i].id, &o) ||
                                      !status_same(&cur[i], &old[o]) ||
                                      cur[i].since != old[o].since;
    }
    if (r->mirror_defer) {
        /* The daemon writes the files after the pass (reconciler_mirror_step). */
        for (size_t i = 0; i < ncur; i++)
            if (changed[i])
                *ARRAY_PUSH(r->mirror_dirty, r->nmirror_dirty) = xstrdup(cur[i].id);
        r->mirror_scan = true;
        free(changed);
        return 0;
    }
    rc = status_write_files(r->state_dir, cur, ncur, changed);
    free(changed);
    return rc;
}

bool reconciler_mirror_pending(const struct reconciler *r)
{
    return r->mirror_scan || r->nmirror_dirty > 0;
}

size_t reconciler_mirror_step(struct reconciler *r, size_t max)
{
    if (!reconciler_mirror_pending(r))
        return 0;
    /* The statuses as the database holds them now: the last pass's, or
     * read when another process wrote since. */
    struct objstatus *own = NULL;
    size_t n = 0;
    const struct objstatus *st = reconciler_statuses(r, &n);
    if (!st) {
        if (store_status_list(r->store, &own, &n) < 0) {
            log_warn("status", "cannot read the statuses for the status files: retried after the next pass");
            return r->nmirror_dirty;
        }
        st = own;
    }
    struct strmap byid = {0};
    for (size_t i = 0; i < n; i++)
        strmap_put(&byid, st[i].id, i);
    if (r->mirror_scan) {
        bool *missing = xcalloc(n ? n : 1, sizeof(bool));
        r->mirror_scan = false;
        if (status_mirror_scan(r->state_dir, st, n, missing) >= 0)
            for (size_t i = 0; i < n; i++)
                if (missing[i])
                    *ARRAY_PUSH(r->mirror_dirty, r->nmirror_dirty) = xstrdup(st[i].id);
        free(missing);
    }
    for (size_t k = 0; k < max && r->nmirror_dirty > 0; k++) {
        char *id = r->mirror_dirty[--r->nmirror_dirty];
        size_t i;
        int k2;
        /* (an object gone since has no file to write: the scan removed it) */
        if (strmap_get(&byid, id, &i) && (k2 = status_mirror_write(r->state_dir, &st[i])) < 0)
            log_warn(id, "cannot write its status file: %s", strerror(-k2));
        free(id);
    }
    strmap_free(&byid);
    objstatus_list_free(own, own ? n : 0);
    return r->nmirror_dirty;
}

/* The resolv.conf file as it is now (one read) and its owner (from the
 * journal, cached while no generation was added). */
static void dns_observe(struct reconciler *r, struct dns_state *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!r->resolv_conf)
        return;
    int64_t gen = 0;
    if (store_gen_newest(r->store, &gen) < 0 || !r->dns_loaded || gen != r->dns_gen) {
        dns_state_clear(&r->dns_owner);
        if (store_dns_owner(r->store, r->resolv_conf, &r->dns_owner) >= 0) {
            r->dns_loaded = true;
            r->dns_gen = gen;
        }
    }
    ret->path = r->resolv_conf;
    int k = dns_read(r->resolv_conf, &ret->text);
    ret->exists = k >= 0;
    if (k < 0 && k != -ENOENT)
        log_warn("dns", "cannot read %s: %s", r->resolv_conf, strerror(-k));
    if (k < 0 && k != -ENOENT) { /* unreadable: plan nothing for it */
        ret->path = NULL;
        return;
    }
    ret->holder = r->dns_owner.holder ? xstrdup(r->dns_owner.holder) : NULL;
    ret->orig_exists = r->dns_owner.orig_exists;
    ret->orig = r->dns_owner.orig ? xstrdup(r->dns_owner.orig) : NULL;
}

/* ---- spec.capture: the store and the live state for capture_docs -------- */

static int capture_get(void *ud, const char *name, const char *rev, char **ret_json)
{
    struct reconciler *r = ud;
    return store_capture_get(r->store, name, rev, ret_json);
}

static void capture_put(void *ud, const char *name, const char *rev, const char *json)
{
    struct reconciler *r = ud;
    if (store_capture_put(r->store, name, rev, json) < 0)
        log_warn(name, "cannot store the captures: they are evaluated again next pass");
    else
        log_info(name, "spec.capture evaluated for revision %s", rev);
}

static json_t *capture_current(void *ud)
{
    struct reconciler *r = ud;
    struct live_ns l = {0};
    const struct live_ns *lp = &l;
    int rc;
    if (r->node_watch) {
        rc = watch_current(r->node_watch);
        lp = &r->node_watch->cache;
    } else
        rc = live_dump(r->node, &l);
    json_t *j = rc < 0 ? NULL : capture_current_state(lp, r->resolv_conf);
    if (rc < 0)
        log_error("node", "cannot read the node's state for spec.capture: %s", strerror(-rc));
    live_ns_free(&l);
    return j;
}

/* ---- the quick lane ------------------------------------------------------- */

static int cmp_root(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;
    return x < y ? -1 : x > y;
}

/* The documents' trees, sorted (a tree shared with the load cache is an
 * unchanged document). */
static const struct ynode **roots_sorted(const struct docset *ds)
{
    const struct ynode **v = xcalloc(ds->n ? ds->n : 1, sizeof(*v));
    for (size_t i = 0; i < ds->n; i++)
        v[i] = ds->v[i].root;
    qsort(v, ds->n, sizeof(*v), cmp_root);
    return v;
}

static bool root_in(const struct ynode *const *sorted, size_t n, const struct ynode *root)
{
    return bsearch(&root, sorted, n, sizeof(*sorted), cmp_root) != NULL;
}

/* One Pod document changed or appeared since the last pass and nothing
 * else did: plan that pod alone against the memo of the other (converged)
 * pods and run its attach and detach ops now, before the full pass
 * validates and plans the thousand objects that did not change (which then
 * finds the pod converged). Returns the ops run (0: the lane did not apply,
 * the full pass does everything). prev: the documents of the last pass,
 * fresh: this pass's (ordered), old: the last pass's statuses. */
static size_t quick_pass(struct reconciler *r, const struct docset *prev,
                         const struct docset *fresh, const struct objstatus *old, size_t nold,
                         const struct strmap *old_by_id, struct pass_result *res,
                         char ret_id[256])
{
    size_t nops = 0, changed = SIZE_MAX, removed = SIZE_MAX, nnew = 0;
    const char *why = "documents";
    const struct ynode **pr = roots_sorted(prev);
    struct docset mini = {0};
    struct desired dq = {0}, dr = {0};
    struct plan pq = {0};
    char id[256];
    size_t k = SIZE_MAX;
    /* A document is unchanged when its tree is one of the last pass's, or
     * when it was parsed again (its file was touched, or changed less than
     * a second before it was read) and is the same at the same place. */
    for (size_t i = 0; i < fresh->n && nnew < 2; i++) {
        const struct doc *f = &fresh->v[i];
        if (f->root && root_in(pr, prev->n, f->root))
            continue;
        size_t same_place = SIZE_MAX;
        for (size_t j = 0; j < prev->n && same_place == SIZE_MAX; j++)
            if (prev->v[j].index == f->index && streq(prev->v[j].file, f->file))
                same_place = j;
        if (same_place != SIZE_MAX) {
            const struct doc *o = &prev->v[same_place];
            if (memcmp(o->rev, f->rev, sizeof(o->rev)) == 0 && o->line == f->line &&
                o->col == f->col)
                continue;
        }
        changed = i;
        removed = same_place; /* its previous version, if any */
        nnew++;
    }
    /* exactly one document changed in place or appeared; none went */
    why = nnew ? "more than one document changed, or one went" : "no document changed";
    if (nnew != 1 || prev->n + (removed == SIZE_MAX) != fresh->n)
        goto out;
    /* the changed document with every NAD, in the full pass's order */
    for (size_t i = 0; i < fresh->n; i++) {
        const char *kind = ynode_str(ynode_get(fresh->v[i].root, "kind"));
        if (i == changed || (kind && streq(kind, "NetworkAttachmentDefinition")))
            *ARRAY_PUSH(mini.v, mini.n) = fresh->v[i]; /* borrowed */
    }
    validate_docs(&mini, &dq);
    why = "not one valid pod";
    if (dq.npods != 1 || dq.npolicies || dq.nnodes || dq.ninvalid ||
        diags_count(&dq.diags, DIAG_ERROR))
        goto out;
    const struct pod *pod = &dq.pods[0];
    object_id(&pod->obj, id, sizeof(id));
    /* an edit of this pod's document, or a pod never seen: not an object
     * that another file defines, not another object replaced in place */
    bool is_new = true;
    if (old_by_id)
        is_new = !strmap_get(old_by_id, id, &k);
    else /* the hinted lane runs before the map is built: one scan costs less */
        for (size_t i = 0; i < nold && is_new; i++)
            if (streq(old[i].id, id))
                is_new = false, k = i;
    why = "another object";
    if (is_new ? removed != SIZE_MAX : !streq_ptr(old[k].file, pod->obj.file))
        goto out;
    if (removed != SIZE_MAX) {
        struct docset one = {.v = &prev->v[removed], .n = 1};
        char rid[256];
        validate_docs(&one, &dr);
        if (dr.npods != 1 || !streq(object_id(&dr.pods[0].obj, rid, sizeof(rid)), id))
            goto out;
    }
    /* Every other pod converged (in the plan memo, counted here), or held
     * back by its plan alone: a pod Pending or Failing for a reason found
     * while planning leaves the IPAM index as it found it (its picks are
     * rolled back). One whose ops failed is retried by the full pass. */
    static const char *const plan_time[] = {
        "Conflict", "AddressUnavailable", "UnsupportedType", "InvalidDefaultRoute",
        "InterfaceExists", "GatewayAddressConflict", "InvalidConfiguration", NULL};
    size_t nother = 0;
    why = "another pod is neither converged nor held back by its plan";
    for (size_t i = 0; i < nold; i++) {
        if (old[i].kind != OBJ_POD || (!is_new && i == k)) /* (a new one is not there) */
            continue;
        bool held = old[i].cond == COND_PENDING;
        for (size_t q = 0; old[i].cond == COND_FAILING && plan_time[q] && !held; q++)
            held = streq_ptr(old[i].reason, plan_time[q]);
        if (old[i].cond == COND_AVAILABLE)
            nother++;
        else if (!held)
            goto out;
    }
    /* no revision pinned (a rollback, a verification failure): the full
     * plan decides what a pin holds */
    struct pin *pins = NULL;
    size_t npins = 0;
    why = "a revision is pinned";
    int prc = store_pin_list(r->store, &pins, &npins);
    pins_free(pins, npins);
    if (prc < 0 || npins)
        goto out;
    /* the pod's namespace: known, watched, current */
    struct podent *e = NULL;
    why = "its namespace is not watched or not current";
    for (size_t i = 0; i < r->npodns && !e; i++)
        if (streq(r->podns[i].ns->path, pod->netns))
            e = &r->podns[i];
    if (!e || !e->w || !r->netns_watched || e->netns_events != r->netns_events ||
        watch_current(r->node_watch) < 0 || watch_current(e->w) < 0)
        goto out;
    const struct live_ns *podsnap = &e->w->cache;
    struct plan_input in = {
        .desired = &dq,
        .node = &r->node_watch->cache,
        .pod_live = &podsnap,
        .inv = &r->kept_inv,
        .memo = r->plan_memo,
    };
    why = "its plan needs the full pass (or nothing)";
    if (plan_build_quick(&in, nother, is_new, &pq) < 0 || !pq.nops)
        goto out;
    log_debug(id, "quick lane: planned alone (%zu ops), before the full pass", pq.nops);
    struct pass_result qres = {0};
    nops = pq.nops; /* from here on the store may have changed */
    snprintf(ret_id, 256, "%s", id);
    if (run_ops(r, TRIG_FILE, &pq, &r->node_watch->cache, &r->kept_inv, &dq, &qres) >= 0)
        live_watch_read(r->node_watch);
    res->nfailed_ops += qres.nfailed_ops;
    res->writes += qres.writes;
    if (qres.nfailed_ops)
        ret_id[0] = 0; /* not converged: the full pass may well plan it again */
out:
    if (!nops)
        log_debug("reconciler", "quick lane not taken: %s", why);
    free(pr);
    free(mini.v);
    desired_free(&dq);
    desired_free(&dr);
    plan_free(&pq);
    return nops;
}

/* The quick lane before the directory is read, when the watch saw one file
 * change and nothing else: that file is parsed alone and stands in for its
 * documents of the last pass, every other file as last read. The full pass
 * reads the directory after it, as always. Returns the lane's ops; *tried
 * says whether the lane looked at the documents at all (then the lane is
 * not tried again after the full read: it would see the same). */
static size_t hinted_quick_pass(struct reconciler *r, const struct objstatus *old, size_t nold,
                                struct pass_result *res, char ret_id[256], bool *tried)
{
    struct docset one = {0}, fq = {0};
    struct diags od = {0};
    size_t nops = 0;
    bool placed = false;

    *tried = false;
    if (load_file_in_dir(r->hint_file, &one, &od) < 0 || od.n)
        goto out;
    if (files_moved(r)) /* a write begun while it was read: the full read sorts it out */
        goto out;
    for (size_t i = 0; i < r->docs.n; i++) {
        if (!streq(r->docs.v[i].file, r->hint_file)) {
            *ARRAY_PUSH(fq.v, fq.n) = r->docs.v[i]; /* borrowed */
            continue;
        }
        for (size_t j = 0; j < one.n && !placed; j++)
            *ARRAY_PUSH(fq.v, fq.n) = one.v[j];
        placed = true;
    }
    for (size_t j = 0; j < one.n && !placed; j++) /* a new file */
        *ARRAY_PUSH(fq.v, fq.n) = one.v[j];
    if (r->docs_capture || capture_any(&one))
        goto out;
    *tried = true;
    nops = quick_pass(r, &r->docs, &fq, old, nold, NULL, res, ret_id);
out:
    free(fq.v);
    docset_free(&one);
    diags_clear(&od);
    return nops;
}

int reconcile_pass(struct reconciler *r, enum gen_trigger trig, bool dry_run, FILE *plan_out,
                   struct pass_result *ret)
{
    struct diags ldiags = {0};
    struct desired d = {0};
    struct live_ns node = {0};
    struct live_ns *podlive = NULL;
    const struct live_ns **podptr = NULL;
    struct inventory inv = {0};
    struct dns_state dns = {0};
    struct label *labels = NULL;
    size_t nlabels = 0;
    struct plan p = {0};
    struct pass_result res = {0};
    char **keep = NULL;
    size_t nkeep = 0;
    int rc;
    /* Where a pass spends its CPU and wall time, for PLUMBD_LOG=debug (the
     * bench's profile: CPU does not blur on a busy machine, wall shows the
     * waits). */
    uint64_t tph = cpu_usec(), ph[8] = {0}, twh = now_usec(), pw[8] = {0}, tpass = twh;
#define PHASE(i)                                                                              \
    do {                                                                                      \
        uint64_t t_ = cpu_usec(), w_ = now_usec();                                            \
        ph[i] += t_ - tph;                                                                    \
        pw[i] += w_ - twh;                                                                    \
        tph = t_;                                                                             \
        twh = w_;                                                                             \
    } while (0)

    /* What the last pass knew, read once: statuses name each object's file,
     * first sighting, prune flag. */
    struct objstatus *old = NULL;
    size_t nold = 0;
    struct strmap old_by_id = {0}, old_files = {0};
    bool *wanted = NULL;
    struct objstatus *cur = NULL;
    size_t ncur = 0;
    bool published = false, inv_reread_failed = false;
    size_t quick_ops = 0;
    char quick_id[256] = "";
    /* The daemon starts from what its last pass left, unless another
     * process wrote the database since (the state lock keeps writers out
     * for the rest of the pass). */
    bool old_trusted = kept_current(r);
    rc = 0;
    if (old_trusted) {
        old = r->kept_st;
        nold = r->nkept_st;
        r->kept_st = NULL;
        r->nkept_st = 0;
        r->kept = false; /* the inventory stays in r->kept_inv until taken */
    } else {
        reconciler_kept_forget(r);
        rc = store_status_list(r->store, &old, &nold);
    }
    if (rc < 0)
        goto out;
    /* One file changed, by the watch's account: its pod first. */
    bool quick_tried = false;
    if (r->hint_file && r->watching && !dry_run && trig == TRIG_FILE && old_trusted &&
        r->plan_memo && r->files_cached && !r->reuse_files && r->load_rc == 0 &&
        r->load_diags.n == 0 && r->node_watch) {
        quick_ops = hinted_quick_pass(r, old, nold, &res, quick_id, &quick_tried);
        if (quick_ops)
            log_debug("reconciler", "quick lane (%s alone): done %.2f ms into the pass",
                      r->hint_file, (double)(now_usec() - tpass) / 1000.0);
    }
    for (size_t i = 0; i < nold; i++) {
        strmap_put(&old_by_id, old[i].id, i);
        if (old[i].file)
            strmap_put(&old_files, old[i].file, i);
    }

    /* A drift repair works from the files as last read: file events are
     * still settling (an editor's rename dance, a slow copy), and a file
     * pass is due to read them once they have. */
    if (!r->reuse_files || !r->files_cached) {
        struct docset fresh = {0};
        struct diags fdiags = {0};
        int lrc = 0;
        free(r->empty_dir);
        r->empty_dir = NULL;
        /* Several sources merge (a site-wide ConfigMap and a node-local
         * directory); one that is missing counts as missing: nothing of
         * what it held may be pruned because it is not there. One that is
         * there but empty while objects came from it last time counts as
         * empty (checked below, against the stored status). */
        for (size_t i = 0; i < config_dir_count(r); i++) {
            const char *dir = config_dir_at(r, i);
            size_t before = fresh.n, dbefore = fdiags.n;
            /* The daemon parses only files that changed since it last
             * read them; a resync reads everything. */
            int k = load_dir_cached(dir, r->watching ? &r->load_cache : NULL, &fresh, &fdiags);
            if (k < 0 && k != -EINVAL && k != -ENOENT) {
                log_error("config", "cannot read %s: %s", dir, strerror(-k));
                docset_free(&fresh);
                diags_clear(&fdiags);
                rc = k;
                goto out;
            }
            if (k == -ENOENT) {
                lrc = -ENOENT;
                if (!r->empty_dir)
                    r->empty_dir = xstrdup(dir);
            } else if (fresh.n == before && fdiags.n == dbefore && config_dir_count(r) > 1 &&
                       dir_had_objects(old, nold, dir) && !r->empty_dir && lrc == 0) {
                lrc = -ENODATA;
                r->empty_dir = xstrdup(dir);
            }
        }
        if (r->watching)
            load_cache_sweep(&r->load_cache);
        /* Documents from files that held objects before come first: when
         * two sources define one object, the definition in use stays. */
        order_docs_by_age(&old_files, &fresh);
        /* A file changed while it was being read (an editor or a copy
         * started again): what was read may be half a file. Read again
         * once the events have settled. */
        if (files_moved(r) || fault_void_read(quick_ops)) {
            log_debug("config", "files changed while being read: reading again later");
            docset_free(&fresh);
            diags_clear(&fdiags);
            res.nops = quick_ops; /* the lane's ops ran all the same */
            rc = -EAGAIN;
            goto out;
        }
        /* One pod changed: its ops first (the quick lane). */
        if (!quick_tried && r->watching && !dry_run && trig == TRIG_FILE && old_trusted && r->plan_memo &&
            r->files_cached && r->load_rc == 0 && lrc == 0 && fdiags.n == 0 &&
            r->load_diags.n == 0 && r->node_watch && !capture_any(&fresh)) {
            quick_ops = quick_pass(r, &r->docs, &fresh, old, nold, &old_by_id, &res, quick_id);
            if (quick_ops)
                log_debug("reconciler", "quick lane: done %.2f ms into the pass",
                          (double)(now_usec() - tpass) / 1000.0);
        }
        docset_free(&r->docs);
        diags_clear(&r->load_diags);
        r->docs = fresh;
        r->docs_capture = capture_any(&r->docs);
        r->load_diags = fdiags;
        r->load_rc = lrc;
        r->files_cached = true;
        free(r->source);
        r->source = NULL;
        for (size_t i = 0; i < config_dir_count(r); i++) {
            _cleanup_free_ char *src = source_revision(config_dir_at(r, i));
            if (!src)
                continue;
            char *joined = r->source ? xasprintf("%s,%s", r->source, src) : xstrdup(src);
            free(r->source);
            r->source = joined;
        }
    }
    diags_append(&ldiags, &r->load_diags);
    bool source_missing = r->load_rc == -ENOENT;
    bool empty_source = source_missing || r->load_rc == -ENODATA ||
                        (r->docs.n == 0 && ldiags.n == 0);
    const char *empty_dir = r->empty_dir ? r->empty_dir : r->config_dir;
    PHASE(0);
    if (r->watching && !r->validate_memo)
        r->validate_memo = validate_memo_new();
    if (!r->docs_capture) {
        validate_docs_memo(&r->docs, &d, r->validate_memo);
    } else {
        /* spec.capture: evaluated against the node when a policy's revision
         * is new (or on --recapture), else the stored results are reused;
         * the templates are expanded before validation. */
        struct capture_source cs = {
            .get = capture_get,
            .put = dry_run ? NULL : capture_put,
            .current = capture_current,
            .ud = r,
            .recapture = r->recapture,
            .node_name = r->node_name,
        };
        struct docset view = {0};
        capture_docs(&r->docs, &cs, &view, &d);
        validate_docs_memo(&view, &d, r->validate_memo);
        docset_free(&view);
        if (!dry_run)
            r->recapture = false;
    }
    /* Loader diagnostics first, then the validator's; the planner sees
     * both (it names a file's parse error in the status of the objects
     * that file held). */
    size_t nload = ldiags.n;
    diags_append(&ldiags, &d.diags);
    struct diags loaded = {.v = ldiags.v, .n = nload};
    diags_append(&d.diags, &loaded);
    report_diags(r, &ldiags);
    res.nconfig_errors = diags_count(&ldiags, DIAG_ERROR);

    /* What the last pass knew: objects gone since then that said
     * plumbd/prune: "false" are let go of; objects whose file no longer
     * parses are kept at their last good state. */
    wanted = old_wanted(&d, nold, &old_by_id);
    for (size_t i = 0; i < nold; i++) {
        if (wanted[i])
            continue;
        if (file_has_errors(&ldiags, old[i].file)) {
            struct object *o = ARRAY_PUSH(d.invalid, d.ninvalid);
            o->kind = old[i].kind;
            o->ns = xstrdup(old[i].ns ? old[i].ns : "");
            o->name = xstrdup(old[i].name);
            o->file = xstrdup(old[i].file);
            memcpy(o->rev, old[i].rev, sizeof(o->rev));
            o->prune = !old[i].no_prune;
            log_debug(old[i].id, "%s does not parse: kept at its last good state",
                      old[i].file);
            continue;
        }
        if (!old[i].no_prune)
            continue;
        *ARRAY_PUSH(keep, nkeep) = xstrdup(old[i].id);
        log_info(old[i].id, "removed with plumbd/prune: \"false\": its kernel state is "
                            "left as it is");
    }
    order_by_age(&d, old, &old_by_id);
    PHASE(1);
    if (old_trusted && !quick_ops) {
        inv = r->kept_inv;
        memset(&r->kept_inv, 0, sizeof(r->kept_inv));
    } else {
        /* the quick lane wrote the store */
        inventory_free(&r->kept_inv);
        memset(&r->kept_inv, 0, sizeof(r->kept_inv));
        rc = store_inventory_load(r->store, &inv);
    }
    if (rc < 0)
        goto out;
    dns_observe(r, &dns);
    if (empty_source && !r->allow_empty &&
        (inv.nlinks || inv.naddrs || inv.nattach || inv.nallocs || dns.holder)) {
        log_error("config",
                  "%s is %s: refusing to prune everything plumbd manages (EmptySource); "
                  "pass --allow-empty to allow it",
                  empty_dir, source_missing ? "missing" : "empty");
        res.refused = true;
        rc = mark_stalled(r, empty_dir, source_missing ? "missing" : "empty");
        goto out;
    }

    /* The node's snapshot: kept current from events in daemon mode, a
     * fresh dump otherwise. */
    const struct live_ns *nodep = &node;
    if (r->node_watch) {
        rc = watch_current(r->node_watch);
        nodep = &r->node_watch->cache;
    } else
        rc = live_dump(r->node, &node);
    if (rc < 0) {
        log_error("node", "cannot read the node's links: %s", strerror(-rc));
        goto out;
    }
    podlive = xcalloc(d.npods ? d.npods : 1, sizeof(*podlive));
    podptr = xcalloc(d.npods ? d.npods : 1, sizeof(*podptr));
    struct strmap bypath = {0};
    for (size_t i = 0; i < r->npodns; i++)
        strmap_put(&bypath, r->podns[i].ns->path, i);
    for (size_t i = 0; i < d.npods; i++) {
        struct podent *e = NULL;
        int k = podns_get(r, &bypath, d.pods[i].netns, trig == TRIG_FILE || trig == TRIG_DRIFT,
                          &e);
        if (k < 0) {
            if (k != -ENOENT)
                res.retry_netns = true;
            continue;
        }
        if (e->w) {
            if (watch_current(e->w) < 0)
                continue;
            podptr[i] = &e->w->cache;
        } else {
            if (live_dump(e->ns, &podlive[i]) < 0)
                continue;
            podptr[i] = &podlive[i];
        }
    }
    strmap_free(&bypath);
    wanted_netns_clear(r);
    for (size_t i = 0; i < d.npods; i++)
        if (strncmp(d.pods[i].netns, "/run/netns/", 11) == 0)
            *ARRAY_PUSH(r->wanted_netns, r->nwanted_netns) = xstrdup(d.pods[i].netns + 11);
    node_labels(r, &d, &labels, &nlabels);
    /* DHCP leases become desired state of their policies. */
    if (r->dhcp && dhcp_prepare(r->dhcp, r->store, &d, labels, nlabels) < 0)
        log_warn("dhcp", "cannot read the stored leases");

    PHASE(2);
    struct pin *pins = NULL;
    size_t npins = 0;
    store_pin_list(r->store, &pins, &npins);
    struct plan_input in = {
        .desired = &d,
        .node_labels = labels,
        .nnode_labels = nlabels,
        .node = nodep,
        .pod_live = podptr,
        .inv = &inv,
        .keep_owners = keep,
        .nkeep_owners = nkeep,
        .pins = pins,
        .npins = npins,
        .ip_forward = node_forwarding(&d, SYSCTL_IP_FORWARD, AF_INET),
        .ip6_forward = node_forwarding(&d, SYSCTL_IP6_FORWARD, AF_INET6),
        .dns = &dns,
        .sysctl_get = node_sysctl,
    };
    /* The daemon answers pods that nothing changed for from the last
     * plan's memo; not when the inventory may have changed behind it, and
     * not in the periodic resync (the safety net plans everything). */
    if (r->watching && !dry_run) {
        if (!r->plan_memo)
            r->plan_memo = plan_memo_new();
        if (!old_trusted || trig == TRIG_RESYNC)
            plan_memo_clear(r->plan_memo);
        in.memo = r->plan_memo;
    }
    rc = plan_build(&in, &p);
    /* A pin lasts while its revision does: a changed file (or a removed
     * object) frees it. */
    if (!dry_run && rc >= 0)
        for (size_t i = 0; i < npins; i++) {
            bool same = false;
            for (size_t s = 0; s < p.nstatus && !same; s++)
                same = streq(p.status[s].id, pins[i].owner) &&
                       streq(p.status[s].rev, pins[i].rev);
            if (!same) {
                log_info(pins[i].owner, "revision %s is no longer current: unpinned",
                         pins[i].rev);
                store_pin_delete(r->store, pins[i].owner);
            }
        }
    pins_free(pins, npins);
    if (rc < 0)
        goto out;
    if (r->dhcp)
        dhcp_note_status(r->dhcp, &p);
    res.nops = p.nops + quick_ops;
    /* PLUMBD_MEMO_CHECK=1 (the tests): the quick lane did all the full
     * plan would do for its pod */
    if (quick_id[0] && env_flag("PLUMBD_MEMO_CHECK"))
        for (size_t i = 0; i < p.nops; i++)
            if (streq(p.ops[i].owner, quick_id)) {
                _cleanup_free_ char *desc = op_describe(&p.ops[i]);
                log_error(quick_id, "quick lane missed an op the full plan has: %s", desc);
                abort();
            }
    PHASE(3);

    if (dry_run) {
        podns_gc(r, &d);
        for (size_t i = 0; i < p.nops; i++) {
            _cleanup_free_ char *s = op_describe(&p.ops[i]);
            fprintf(plan_out, "%s\n", s);
        }
    } else {
        flap_filter(r, trig, &p, &res, nodep);
        if (trig == TRIG_DRIFT)
            r->repairs += p.nops;
        if (p.nops) {
            rc = run_ops(r, trig, &p, nodep, &inv, &d, &res);
            if (rc < 0)
                goto out;
            bool detached = false, wanting = false;
            for (size_t i = 0; i < p.nops && !detached; i++)
                detached = p.ops[i].type == OP_POD_DETACH;
            for (size_t s = 0; s < p.nstatus && !wanting; s++)
                wanting = p.status[s].kind == OBJ_POD && p.status[s].cond == COND_FAILING &&
                          (streq(p.status[s].reason, "Conflict") ||
                           streq(p.status[s].reason, "AddressUnavailable"));
            res.addresses_freed = detached && wanting && !res.nfailed_ops;
            for (size_t i = 0; r->plan_memo && !res.nfailed_ops && i < p.nops && !res.memo_short;
                 i++)
                res.memo_short = p.ops[i].type == OP_POD_ATTACH; /* (a detached pod is gone) */
            /* Our own writes' events are queued by now (the kernel sends
             * them before the ACK): take them in, so they do not look like
             * drift and the snapshots stay current. */
            if (r->node_watch)
                live_watch_read(r->node_watch); /* pods' events come with it */
        }
        /* Handles on namespaces no pod wants any more go after the writes:
         * closing a thousand of them is not on the way of a mass detach. */
        podns_gc(r, &d);
        PHASE(4);
        store_live_cache(r, p.nops > 0);
        /* What this pass's writes left: for network-status, the
         * macspoofchk ports and the IPAM pool use. */
        if (p.nops) {
            inventory_free(&inv);
            if (store_inventory_load(r->store, &inv) < 0) {
                memset(&inv, 0, sizeof(inv));
                inv_reread_failed = true;
            }
        }
        rc = publish_status(r, &p, &d, &inv, old, nold, &old_by_id, old_trusted,
                            &res.status_changed, &cur, &ncur);
        if (rc < 0)
            goto out;
        published = true;
        PHASE(5);
        /* The ops are done with; nft_sync builds its own batch on top of
         * whatever is still held, so this is where a big pass peaks. */
        plan_free_ops(&p);
        nft_sync(r, &d, trig, &inv);
        PHASE(6);
    }
    for (size_t i = 0; i < d.nnads && res.npools < ARRAY_SIZE(res.pools); i++) {
        const struct nad *nd = &d.nads[i];
        bool dup = false;
        for (size_t k = 0; k < res.npools && !dup; k++)
            dup = streq(res.pools[k].network, nd->cni_name);
        if (dup || nd->ipam_type != IPAM_HOST_LOCAL)
            continue;
        struct pool_use *pu = &res.pools[res.npools++];
        snprintf(pu->network, sizeof(pu->network), "%s", nd->cni_name);
        /* every range of every set, gateways excluded (ipam_set_size) */
        for (size_t k = 0; k < nd->nipam_sets; k++)
            pu->size += ipam_set_size(&nd->ipam_sets[k]);
        for (size_t k = 0; k < inv.nallocs; k++)
            pu->used += streq(inv.allocs[k].network, nd->cni_name);
    }
    for (size_t s = 0; s < p.nstatus; s++) {
        res.nobjects++;
        switch (p.status[s].cond) {
        case COND_AVAILABLE:
        case COND_NOT_MATCHING:
            res.navailable++;
            break;
        case COND_PENDING:
        case COND_PROGRESSING:
            res.npending++;
            break;
        case COND_FAILING:
        case COND_DEGRADED:
        case COND_ABORTED:
        case COND_STALLED:
            res.nfailing++;
            break;
        case _COND_MAX:
            break;
        }
    }
    PHASE(7);
    log_debug("reconciler",
              "pass CPU (ms): load %.2f validate %.2f snapshots %.2f plan %.2f ops %.2f "
              "status %.2f nft %.2f pools %.2f",
              ph[0] / 1e3, ph[1] / 1e3, ph[2] / 1e3, ph[3] / 1e3, ph[4] / 1e3, ph[5] / 1e3,
              ph[6] / 1e3, ph[7] / 1e3);
    log_debug("reconciler",
              "pass wall (ms): load %.2f validate %.2f snapshots %.2f plan %.2f ops %.2f "
              "status %.2f nft %.2f pools %.2f",
              pw[0] / 1e3, pw[1] / 1e3, pw[2] / 1e3, pw[3] / 1e3, pw[4] / 1e3, pw[5] / 1e3,
              pw[6] / 1e3, pw[7] / 1e3);
    if (r->plan_memo) {
        size_t hits, entries;
        plan_memo_stats(r->plan_memo, &hits, &entries);
        log_debug("reconciler", "%zu of %zu pods answered from the memo of converged pods, "
                                "%zu remembered; %zu copied from the memo of validated pods",
                  hits, d.npods, entries, validate_memo_hits(r->validate_memo));
    }
#undef PHASE
    rc = 0;
out:
    *ret = res;
    strmap_free(&old_by_id);
    strmap_free(&old_files);
    free(wanted);
    if (published && rc >= 0 && !inv_reread_failed) {
        /* the statuses as written (or as found, when unchanged), the
         * inventory as re-read after the writes */
        if (cur)
            objstatus_list_free(old, nold);
        kept_put(r, cur ? cur : old, cur ? ncur : nold, &inv);
    } else {
        objstatus_list_free(old, nold);
        objstatus_list_free(cur, ncur);
        inventory_free(&inv);
    }
    for (size_t i = 0; i < nkeep; i++)
        free(keep[i]);
    free(keep);
    plan_free(&p);
    labels_free(labels, nlabels);
    dns_state_clear(&dns);
    for (size_t i = 0; podlive && i < d.npods; i++)
        live_ns_free(&podlive[i]);
    free(podlive);
    free(podptr);
    live_ns_free(&node);
    desired_free(&d);
    diags_clear(&ldiags);
    return rc;
}

/* ---- undoing generations: `plumbd rollback` and crash recovery ---------- */

/* Undo the given generations, newest first, as one new journalled
 * generation of trigger `trig` whose ops are the inverses (and whose
 * inverses are the original ops, so it can be undone in turn). Each
 * original op that took effect (done; also intent when recovering from a
 * crash: it may have reached the kernel) is undone in reverse order.
 * The undone generations' outcome becomes "rolled-back by N".
 * *ret_owners gets the objects involved (caller frees). */
static int undo_generations(struct reconciler *r, const int64_t *gens, size_t ngens,
                            enum gen_trigger trig, int64_t *ret_gen, char ***ret_owners,
                            size_t *ret_nowners, size_t *ret_nops)
{
    reconciler_kept_forget(r); /* its writes are this connection's: data_version misses them */
    struct op *undo = NULL, *orig = NULL;
    size_t n = 0;
    char **owners = NULL;
    size_t nowners = 0;
    struct live_ns node = {0};
    struct inventory inv = {0};
    int64_t gen = 0;
    int rc = 0;
    _cleanup_free_ char *objects = NULL;

    int *gen_nops = xcalloc(ngens ? ngens : 1, sizeof(int));
    for (size_t g = 0; g < ngens && rc >= 0; g++) {
        struct op_row *rows = NULL;
        size_t nrows = 0;
        rc = store_gen_ops(r->store, gens[g], &rows, &nrows);
        gen_nops[g] = (int)nrows;
        for (size_t i = nrows; rc >= 0 && i-- > 0;) {
            bool took = rows[i].state == OPST_DONE ||
                        (trig == TRIG_RECOVERY && rows[i].state == OPST_INTENT);
            if (!took || !rows[i].inverse || !rows[i].inverse[0])
                continue;
            struct op u, o;
            if (op_from_json(rows[i].inverse, &u) < 0)
                continue;
            if (op_from_json(rows[i].op, &o) < 0) {
                op_clear(&u);
                continue;
            }
            *ARRAY_PUSH(undo, n) = u;
            orig = xrealloc(orig, n * sizeof(*orig));
            orig[n - 1] = o;
            bool seen = false;
            for (size_t k = 0; k < nowners && !seen; k++)
                seen = streq(owners[k], u.owner);
            if (!seen)
                *ARRAY_PUSH(owners, nowners) = xstrdup(u.owner);
        }
        op_rows_free(rows, nrows);
    }
    if (rc < 0)
        goto out;

    rc = live_dump(r->node, &node);
    if (rc >= 0)
        rc = store_inventory_load(r->store, &inv);
    if (rc < 0)
        goto out;

    /* Write-ahead, as for any pass. */
    objects = xstrdup("");
    for (size_t k = 0; k < nowners; k++) {
        char *x = xasprintf("%s%s%s", objects, k ? " " : "", owners[k]);
        free(objects);
        objects = x;
    }
    char **errs = xcalloc(n ? n : 1, sizeof(char *));
    bool *failed = xcalloc(n ? n : 1, sizeof(bool));
    rc = store_begin(r->store);
    if (rc >= 0)
        rc = store_gen_begin(r->store, trig, objects, &gen);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        _cleanup_free_ char *js = op_to_json(&undo[i]), *ijs = op_to_json(&orig[i]);
        rc = store_op_intent(r->store, gen, (int)i, undo[i].owner, js, ijs);
        if (rc >= 0 && prewrite(r, &undo[i], &node, &inv, &errs[i]) < 0)
            failed[i] = true;
    }
    if (rc >= 0)
        rc = store_commit(r->store);
    else
        store_rollback(r->store);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        if (failed[i] || undo[i].type == OP_FORGET)
            continue;
        _cleanup_free_ char *d = op_describe(&undo[i]);
        int k = apply_op(&r->actx, &undo[i], &errs[i]);
        if (k < 0) {
            failed[i] = true;
            if (!errs[i])
                errs[i] = xstrdup(strerror(-k));
            log_error(undo[i].owner, "%s: %s: %s", gen_trigger_to_string(trig), d, errs[i]);
        } else
            log_info(undo[i].owner, "%s: %s", gen_trigger_to_string(trig), d);
    }
    size_t nfailed = 0;
    if (rc >= 0)
        rc = store_begin(r->store);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        nfailed += failed[i];
        store_op_state(r->store, gen, (int)i, failed[i] ? OPST_FAILED : OPST_DONE, errs[i]);
        rc = postwrite(r, &undo[i], !failed[i], &inv);
    }
    for (size_t g = 0; rc >= 0 && g < ngens; g++) {
        _cleanup_free_ char *outcome = xasprintf("rolled-back by %lld", (long long)gen);
        rc = store_gen_outcome(r->store, gens[g], outcome);
        /* A crashed generation never got its end time. */
        if (rc >= 0 && trig == TRIG_RECOVERY)
            rc = store_gen_end(r->store, gens[g], outcome, gen_nops[g]);
    }
    if (rc >= 0)
        rc = store_gen_end(r->store, gen, nfailed ? "failed" : "applied", (int)n);
    if (rc >= 0)
        rc = store_commit(r->store);
    else
        store_rollback(r->store);
    for (size_t i = 0; i < n; i++)
        free(errs[i]);
    free(errs);
    free(failed);
    if (ret_nops)
        *ret_nops = n;
out:
    free(gen_nops);
    for (size_t i = 0; i < n; i++) {
        op_clear(&undo[i]);
        op_clear(&orig[i]);
    }
    free(undo);
    free(orig);
    live_ns_free(&node);
    inventory_free(&inv);
    if (rc >= 0) {
        *ret_gen = gen;
        *ret_owners = owners;
        *ret_nowners = nowners;
    } else {
        for (size_t k = 0; k < nowners; k++)
            free(owners[k]);
        free(owners);
    }
    return rc;
}

int reconcile_recover(struct reconciler *r)
{
    struct gen_row *v = NULL;
    size_t n = 0;
    int rc = store_history(r->store, 0, &v, &n);
    if (rc < 0)
        return rc;
    /* Every generation left unfinished, newest first. An interrupted
     * recovery is only closed: its ops undid ops of a generation that is
     * itself still unfinished, and undoing that one again is idempotent. */
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        if (v[i].ended || v[i].outcome)
            continue;
        if (streq(v[i].trigger, "recovery")) {
            rc = store_gen_end(r->store, v[i].id, "interrupted", v[i].nops);
            continue;
        }
        log_warn("journal",
                 "generation %lld did not finish (plumbd stopped mid-pass): undoing it",
                 (long long)v[i].id);
        int64_t gen;
        char **owners = NULL;
        size_t nowners = 0, nops = 0;
        rc = undo_generations(r, &v[i].id, 1, TRIG_RECOVERY, &gen, &owners, &nowners, &nops);
        if (rc >= 0)
            log_info("journal", "generation %lld undone by generation %lld (%zu operations)",
                     (long long)v[i].id, (long long)gen, nops);
        for (size_t k = 0; k < nowners; k++)
            free(owners[k]);
        free(owners);
    }
    gen_rows_free(v, n);
    return rc;
}

int reconcile_rollback(struct reconciler *r, int64_t after_gen, int64_t *ret_gen,
                       size_t *ret_nundone)
{
    struct gen_row *v = NULL;
    size_t n = 0;
    int64_t *targets = NULL;
    size_t nt = 0;
    bool undoing_rollback = false;
    int rc = store_history(r->store, 0, &v, &n);
    if (rc < 0)
        return rc;
    /* Newest first. An applied generation is one that ran (applied or
     * failed) and was not rolled back since. */
    for (size_t i = 0; i < n; i++) {
        bool applied = v[i].outcome && (streq(v[i].outcome, "applied") ||
                                        streq(v[i].outcome, "failed"));
        if (!applied || v[i].nops <= 0)
            continue;
        if (after_gen > 0 && v[i].id <= after_gen)
            break;
        *ARRAY_PUSH(targets, nt) = v[i].id;
        /* Undoing just the newest generation, itself a rollback, re-applies
         * and unpins; `rollback GEN` returns to GEN's state and pins. */
        if (after_gen <= 0 && streq(v[i].trigger, "rollback"))
            undoing_rollback = true;
        if (after_gen <= 0)
            break;
    }
    if (!nt) {
        gen_rows_free(v, n);
        free(targets);
        *ret_nundone = 0;
        return -ENOENT;
    }
    int64_t gen;
    char **owners = NULL;
    size_t nowners = 0, nops = 0;
    rc = undo_generations(r, targets, nt, TRIG_ROLLBACK, &gen, &owners, &nowners, &nops);
    if (rc < 0)
        goto out;
    nft_sync_from_config(r);

    /* Pin what was rolled back at its current revision (undoing a rollback
     * frees the pins again), and say so in the status. */
    struct objstatus *st = NULL;
    size_t nst = 0;
    reconciler_kept_forget(r);
    rc = store_status_list(r->store, &st, &nst);
    if (rc >= 0)
        rc = store_begin(r->store);
    for (size_t k = 0; rc >= 0 && k < nowners; k++)
        for (size_t i = 0; rc >= 0 && i < nst; i++) {
            if (!streq(st[i].id, owners[k]))
                continue;
            _cleanup_free_ char *msg = NULL;
            if (undoing_rollback) {
                rc = store_pin_delete(r->store, owners[k]);
                msg = xasprintf("re-applied by generation %lld (undid a rollback)",
                                (long long)gen);
                st[i].cond = COND_AVAILABLE;
                free(st[i].reason);
                st[i].reason = xstrdup("SuccessfullyConfigured");
            } else {
                msg = xasprintf("rolled back by generation %lld (undid generation%s %lld%s)",
                                (long long)gen, nt > 1 ? "s" : "", (long long)targets[nt - 1],
                                nt > 1 ? " and later" : "");
                struct pin pin = {.owner = owners[k], .cond = COND_ABORTED,
                                  .reason = "RolledBack", .message = msg, .gen = gen};
                snprintf(pin.rev, sizeof(pin.rev), "%s", st[i].rev);
                rc = store_pin_put(r->store, &pin);
                st[i].cond = COND_ABORTED;
                free(st[i].reason);
                st[i].reason = xstrdup("RolledBack");
            }
            free(st[i].message);
            st[i].message = TAKE_PTR(msg);
            if (rc >= 0)
                rc = store_status_put(r->store, &st[i]);
        }
    if (rc >= 0)
        rc = store_commit(r->store);
    else
        store_rollback(r->store);
    objstatus_list_free(st, nst);
    if (rc >= 0 && store_status_list(r->store, &st, &nst) >= 0) {
        status_write_files(r->state_dir, st, nst, NULL);
        objstatus_list_free(st, nst);
    }
    *ret_gen = gen;
    *ret_nundone = nt;
out:
    for (size_t k = 0; k < nowners; k++)
        free(owners[k]);
    free(owners);
    free(targets);
    gen_rows_free(v, n);
    return rc;
}
