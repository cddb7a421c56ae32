/* ipam.c - host-local and static IPAM, pure logic (ipam.h).
 *
 * A range is a subnet with a first and last allocatable address and a
 * gateway that is never handed out; a range set is a list of ranges tried
 * in order. The allocations live in SQLite (store.c); the planner loads them
 * into a struct ipam_index once per pass: hashes answer "who holds this
 * address" and "what does this attachment hold", a treap of runs of taken
 * addresses per network and family answers "next free address after X" in
 * O(log n), whatever the number of allocations. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ipam.h"
#include "util.h"

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* The subnet's address with its host bits set to `ones` (0 or 1):
 * the network address (ones=false) or the last address (ones=true). */
static struct ipaddr subnet_edge(const struct ipaddr *subnet, bool ones)
{
    struct ipaddr r = *subnet;
    unsigned bits = family_bits(subnet->family);

    for (unsigned i = subnet->prefix; i < bits; i++) {
        uint8_t bit = (uint8_t)(0x80 >> (i % 8));
        if (ones)
            r.bytes[i / 8] |= bit;
        else
            r.bytes[i / 8] &= (uint8_t)~bit;
    }
    return r;
}

/* a - 1 as a big-endian integer (a is never zero here). */
static void ipaddr_dec(struct ipaddr *a)
{
    size_t l = family_bits(a->family) / 8;

    for (size_t i = l; i-- > 0;)
        if (a->bytes[i]-- != 0)
            break;
}

/* Contract (ipam.h). Also rejects: an unknown family, mixed families, a
 * subnet with host bits set (as the CNI host-local plugin does), subnets
 * too small to allocate from (IPv4 /31, /32; IPv6 /127, /128), a gateway
 * outside the subnet. start/end get the subnet's prefix length.
 * On -EINVAL *range is untouched. */
int ipam_range_normalize(struct ipam_range *range)
{
    struct ipam_range r = *range;
    unsigned bits = family_bits(r.subnet.family);
    struct ipaddr net, last;

    if (!bits || r.subnet.prefix > bits - 2)
        return -EINVAL;
    net = subnet_edge(&r.subnet, false);
    if (!ipaddr_same_host(&net, &r.subnet))
        return -EINVAL;
    last = subnet_edge(&r.subnet, true);

    /* An unset start/end has family 0 (zero-initialised struct). */
    if (r.start.family == 0) {
        r.start = net;
        ipaddr_add(&r.start, 1);
    }
    if (r.end.family == 0) {
        r.end = last;
        if (r.subnet.family == AF_INET)
            ipaddr_dec(&r.end); /* IPv4 broadcast is not a host */
    }
    r.start.prefix = r.end.prefix = r.subnet.prefix;

    if (!ipaddr_in_subnet(&r.start, &r.subnet) || !ipaddr_in_subnet(&r.end, &r.subnet) ||
        ipaddr_cmp(&r.start, &r.end) > 0)
        return -EINVAL;
    if (r.has_gateway && !ipaddr_in_subnet(&r.gateway, &r.subnet))
        return -EINVAL;

    *range = r;
    return 0;
}

static bool is_gateway(const struct ipam_range *range, const struct ipaddr *ip)
{
    return range->has_gateway && ipaddr_same_host(&range->gateway, ip);
}

bool ipam_in_range(const struct ipam_range *range, const struct ipaddr *ip)
{
    return ip->family == range->subnet.family && ipaddr_cmp(ip, &range->start) >= 0 &&
           ipaddr_cmp(ip, &range->end) <= 0 && !is_gateway(range, ip);
}

/* Index of the first element of taken[0..n) that is >= ip (n when none). */
static size_t lower_bound(const struct ipaddr *taken, size_t n, const struct ipaddr *ip)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ipaddr_cmp(&taken[mid], ip) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Is taken[i + j] == taken[i] + j? */
static bool run_holds(const struct ipaddr *taken, size_t i, size_t j)
{
    struct ipaddr want = taken[i];

    ipaddr_add(&want, j);
    return ipaddr_same_host(&taken[i + j], &want);
}

/* taken[i] is taken; return the largest j such that taken[i..i+j] are the
 * consecutive addresses taken[i], taken[i]+1, ..., taken[i]+j. With a
 * strictly ascending array this predicate holds for a prefix of j values,
 * so it is found by galloping then bisecting: O(log run length). */
static size_t run_length(const struct ipaddr *taken, size_t n, size_t i)
{
    size_t good = 0, step = 1, bad;

    /* gallop: find bad with the predicate false (or past the end) */
    for (;;) {
        if (i + good + step >= n || !run_holds(taken, i, good + step)) {
            bad = good + step;
            break;
        }
        good += step;
        step *= 2;
    }
    if (bad > n - i)
        bad = n - i;
    /* bisect in (good, bad) */
    while (bad - good > 1) {
        size_t mid = good + (bad - good) / 2;
        if (run_holds(taken, i, mid))
            good = mid;
        else
            bad = mid;
    }
    return good;
}

/* Contract (ipam.h). taken must be sorted ascending by ipaddr_cmp and hold
 * no duplicates (the store's primary key guarantees it); it may contain
 * addresses of another family or outside the range, they are ignored.
 *
 * Cost: one binary search to place start, then for a contiguous run of taken
 * addresses one gallop+bisect, O(log n) probes of 16-byte arithmetic; the
 * gateway splits at most one extra run. So O(log n) overall, never a walk
 * over the taken array. Should duplicates slip in, a taken address is still
 * never returned (every candidate is checked by binary search), but a free
 * one may be skipped. */
int ipam_next_free(const struct ipam_range *range, const struct ipaddr *taken, size_t ntaken,
                   struct ipaddr *ret)
{
    struct ipaddr cand = range->start;

    if (range->start.family != range->subnet.family ||
        range->end.family != range->subnet.family)
        return -EINVAL;

    for (;;) {
        size_t i;

        if (ipaddr_cmp(&cand, &range->end) > 0)
            return -ENOSPC;
        if (is_gateway(range, &cand)) {
            if (ipaddr_cmp(&cand, &range->end) == 0)
                return -ENOSPC;
            ipaddr_add(&cand, 1);
            continue;
        }
        i = lower_bound(taken, ntaken, &cand);
        if (i == ntaken || !ipaddr_same_host(&taken[i], &cand))
            break;
        /* cand is taken: jump past the whole consecutive run */
        cand = taken[i + run_length(taken, ntaken, i)];
        if (ipaddr_cmp(&cand, &range->end) >= 0)
            return -ENOSPC;
        ipaddr_add(&cand, 1);
    }

    cand.prefix = range->subnet.prefix;
    *ret = cand;
    return 0;
}

/* ---- range sets ----------------------------------------------------------- */

int ipam_set_find(const struct ipam_set *set, const struct ipaddr *ip)
{
    for (size_t i = 0; set && i < set->nranges; i++) {
        const struct ipam_range *r = &set->ranges[i];
        if (ip->family == r->subnet.family && ipaddr_cmp(ip, &r->start) >= 0 &&
            ipaddr_cmp(ip, &r->end) <= 0)
            return (int)i;
    }
    return -1;
}

bool ipam_ranges_overlap(const struct ipam_range *a, const struct ipam_range *b)
{
    return a->start.family == b->start.family && ipaddr_cmp(&a->start, &b->end) <= 0 &&
           ipaddr_cmp(&b->start, &a->end) <= 0;
}

double ipam_set_size(const struct ipam_set *set)
{
    double total = 0;

    for (size_t i = 0; i < set->nranges; i++) {
        const struct ipam_range *r = &set->ranges[i];
        unsigned len = family_bits(r->start.family) / 8;
        double size = 0;
        for (unsigned b = 0; b < len; b++)
            size = size * 256 + (double)r->end.bytes[b] - (double)r->start.bytes[b];
        size += 1;
        if (r->has_gateway && ipaddr_cmp(&r->gateway, &r->start) >= 0 &&
            ipaddr_cmp(&r->gateway, &r->end) <= 0)
            size -= 1;
        total += size;
    }
    return total;
}

char *ipam_set_describe(const struct ipam_set *set)
{
    char *s = xstrdup("");

    for (size_t i = 0; i < set->nranges; i++) {
        char a[64], b[64];
        char *n = xasprintf("%s%s%s-%s", s, i ? ", " : "",
                            ipaddr_format(&set->ranges[i].start, false, a, sizeof(a)),
                            ipaddr_format(&set->ranges[i].end, false, b, sizeof(b)));
        free(s);
        s = n;
    }
    return s;
}

static json_t *str_array(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *ipam_dns_json(const struct ipam_dns *dns)
{
    json_t *o = json_object();

    if (!dns)
        return o;
    if (dns->nnameservers)
        json_object_set_new(o, "nameservers", str_array(dns->nameservers, dns->nnameservers));
    if (dns->domain)
        json_object_set_new(o, "domain", json_string(dns->domain));
    if (dns->nsearch)
        json_object_set_new(o, "search", str_array(dns->search, dns->nsearch));
    if (dns->noptions)
        json_object_set_new(o, "options", str_array(dns->options, dns->noptions));
    return o;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void ipam_config_free(struct nad *nad)
{
    for (size_t i = 0; i < nad->nipam_sets; i++)
        free(nad->ipam_sets[i].ranges);
    free(nad->ipam_sets);
    free(nad->ipam_static);
    strv_free(nad->dns.nameservers, nad->dns.nnameservers);
    free(nad->dns.domain);
    strv_free(nad->dns.search, nad->dns.nsearch);
    strv_free(nad->dns.options, nad->dns.noptions);
    free(nad->routes);
    nad->ipam_sets = NULL;
    nad->ipam_static = NULL;
    nad->routes = NULL;
    nad->nipam_sets = nad->nipam_static = nad->nroutes = 0;
    memset(&nad->dns, 0, sizeof(nad->dns));
}

/* ---- the allocation index ------------------------------------------------ */

typedef unsigned __int128 u128;

static u128 ip_u128(const struct ipaddr *a)
{
    unsigned len = family_bits(a->family) / 8;
    u128 v = 0;
    for (unsigned i = 0; i < len; i++)
        v = (v << 8) | a->bytes[i];
    return v;
}

static struct ipaddr u128_ip(u128 v, int family, uint8_t prefix)
{
    struct ipaddr a = {.family = family, .prefix = prefix};
    unsigned len = family_bits(family) / 8;
    for (unsigned i = len; i-- > 0; v >>= 8)
        a.bytes[i] = (uint8_t)(v & 0xff);
    return a;
}

static int fam_idx(int family)
{
    return family == AF_INET6;
}

/* A treap node: the maximal run lo..hi of taken addresses, keyed by lo. */
struct run {
    u128 lo, hi;
    uint32_t prio;
    struct run *l, *r;
};

/* The run holding v, or NULL: one descent, O(depth) = O(log n) expected. */
static struct run *run_find(struct run *t, u128 v)
{
    while (t) {
        if (v < t->lo)
            t = t->l;
        else if (v > t->hi)
            t = t->r;
        else
            return t;
    }
    return NULL;
}

/* Split t into runs with lo < key (*l) and the others (*r). */
static void run_split(struct run *t, u128 key, struct run **l, struct run **r)
{
    if (!t) {
        *l = *r = NULL;
    } else if (t->lo < key) {
        run_split(t->r, key, &t->r, r);
        *l = t;
    } else {
        run_split(t->l, key, l, &t->l);
        *r = t;
    }
}

/* Join two treaps, every key of a below every key of b. */
static struct run *run_merge(struct run *a, struct run *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->prio > b->prio) {
        a->r = run_merge(a->r, b);
        return a;
    }
    b->l = run_merge(a, b->l);
    return b;
}

static struct run *run_insert(struct run *t, struct run *n)
{
    if (!t)
        return n;
    if (n->prio > t->prio) {
        run_split(t, n->lo, &n->l, &n->r);
        return n;
    }
    if (n->lo < t->lo)
        t->l = run_insert(t->l, n);
    else
        t->r = run_insert(t->r, n);
    return t;
}

/* Unlink the run keyed lo (it exists) and free it. */
static struct run *run_erase(struct run *t, u128 lo)
{
    if (t->lo == lo) {
        struct run *m = run_merge(t->l, t->r);
        free(t);
        return m;
    }
    if (lo < t->lo)
        t->l = run_erase(t->l, lo);
    else
        t->r = run_erase(t->r, lo);
    return t;
}

static void run_free(struct run *t)
{
    while (t) {
        struct run *r = t->r;
        run_free(t->l);
        free(t);
        t = r;
    }
}

/* Open addressing, linear probing; a slot holds a value index + 1 (0 =
 * empty) and its full hash. Keys live in the caller's arrays. */
struct hslot {
    uint64_t h;
    uint32_t v;
};
struct hmap {
    struct hslot *s;
    size_t cap, n; /* cap a power of two */
};

static void hmap_insert(struct hmap *m, uint64_t h, uint32_t v);

static void hmap_grow(struct hmap *m)
{
    struct hmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->s = xcalloc(m->cap, sizeof(*m->s));
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.s[i].v)
            hmap_insert(m, old.s[i].h, old.s[i].v);
    free(old.s);
}

static void hmap_insert(struct hmap *m, uint64_t h, uint32_t v)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        hmap_grow(m);
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->s[i].v)
        i = (i + 1) & mask;
    m->s[i] = (struct hslot){h, v};
    m->n++;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void hmap_delete_at(struct hmap *m, size_t i)
{
    size_t mask = m->cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->s[j].v)
            break;
        size_t k = (size_t)m->s[j].h & mask;
        /* move j back to i unless its home k lies cyclically in (i, j] */
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        m->s[i] = m->s[j];
        i = j;
    }
    m->s[i].v = 0;
    m->n--;
}

/* A network's state. */
struct pool {
    char *network;
    struct run *runs[2]; /* IPv4, IPv6 */
    struct ipaddr *notes; /* reservations, oldest first */
    size_t nnotes, cnotes;
    size_t used;
};

/* One address held. */
struct held {
    uint32_t pool;
    struct ipaddr ip;
    const char *owner, *ifname;
    uint32_t next; /* next entry of the same (owner, ifname) + 1, 0 = end */
    bool live;
};

enum undo_kind { U_TAKE, U_RELEASE, U_NOTE };
struct undo {
    enum undo_kind kind;
    uint32_t v; /* held index, or pool index for U_NOTE */
};

struct ipam_index {
    struct pool *pools;
    size_t npools, cpools;
    struct hmap by_network; /* network -> pool */
    struct held *held;
    size_t nheld, cheld;
    struct hmap by_addr;  /* (pool, ip) -> live held entry */
    struct hmap by_owner; /* (owner, ifname) -> newest held entry (chain) */
    struct undo *undo;
    size_t nundo, cundo;
    uint32_t rng;
};

/* Room for one more element at the end of *arr (n used, *cap allocated),
 * growing geometrically: array_push's exact sizing is amortised by glibc,
 * not by every allocator (ASan copies on each realloc). Returns the new,
 * zeroed slot; the caller increments n. */
static void *grow(void *arr_ptr, size_t n, size_t *cap, size_t sz)
{
    void **arr = arr_ptr;
    if (n >= *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *arr = xrealloc(*arr, *cap * sz);
    }
    char *slot = (char *)*arr + n * sz;
    memset(slot, 0, sz);
    return slot;
}

static uint64_t hash_str(const char *s, uint64_t seed)
{
    return hash64(s, strlen(s), seed);
}

static uint64_t addr_hash(uint32_t pool, const struct ipaddr *ip)
{
    uint64_t h = hash64(&pool, sizeof(pool), HASH64_SEED);
    uint8_t fam = (uint8_t)fam_idx(ip->family);
    h = hash64(&fam, 1, h);
    return hash64(ip->bytes, family_bits(ip->family) / 8, h);
}

static uint64_t owner_hash(const char *owner, const char *ifname)
{
    return hash_str(ifname, hash64("/", 1, hash_str(owner, HASH64_SEED)));
}

struct ipam_index *ipam_index_new(void)
{
    struct ipam_index *x = xcalloc(1, sizeof(*x));
    x->rng = 0x9e3779b9u; /* fixed seed: the planner stays deterministic */
    return x;
}

void ipam_index_free(struct ipam_index *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->npools; i++) {
        free(x->pools[i].network);
        run_free(x->pools[i].runs[0]);
        run_free(x->pools[i].runs[1]);
        free(x->pools[i].notes);
    }
    free(x->pools);
    free(x->by_network.s);
    free(x->held);
    free(x->by_addr.s);
    free(x->by_owner.s);
    free(x->undo);
    free(x);
}

static struct hslot *network_slot(const struct ipam_index *x, const char *network, uint64_t h)
{
    const struct hmap *m = &x->by_network;
    if (!m->cap)
        return NULL;
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct hslot *s = &m->s[i];
        if (!s->v)
            return NULL;
        if (s->h == h && streq(x->pools[s->v - 1].network, network))
            return s;
    }
}

static int pool_find(const struct ipam_index *x, const char *network)
{
    struct hslot *s = network_slot(x, network, hash_str(network, HASH64_SEED));
    return s ? (int)s->v - 1 : -1;
}

static uint32_t pool_get(struct ipam_index *x, const char *network)
{
    int p = pool_find(x, network);
    if (p >= 0)
        return (uint32_t)p;
    struct pool *n = grow(&x->pools, x->npools++, &x->cpools, sizeof(*x->pools));
    n->network = xstrdup(network);
    hmap_insert(&x->by_network, hash_str(network, HASH64_SEED), (uint32_t)x->npools);
    return (uint32_t)(x->npools - 1);
}

/* Index of the slot of (pool, ip) in by_addr, or SIZE_MAX. */
static size_t addr_slot(const struct ipam_index *x, uint32_t pool, const struct ipaddr *ip)
{
    const struct hmap *m = &x->by_addr;
    if (!m->cap)
        return SIZE_MAX;
    uint64_t h = addr_hash(pool, ip);
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const struct hslot *s = &m->s[i];
        if (!s->v)
            return SIZE_MAX;
        const struct held *e = &x->held[s->v - 1];
        if (s->h == h && e->pool == pool && ipaddr_same_host(&e->ip, ip))
            return i;
    }
}

/* The first entry of (owner, ifname)'s chain, + 1 (0 = none); *ret_slot
 * gets its by_owner slot (SIZE_MAX when none). */
static uint32_t owner_head(const struct ipam_index *x, const char *owner, const char *ifname,
                           size_t *ret_slot)
{
    const struct hmap *m = &x->by_owner;
    *ret_slot = SIZE_MAX;
    if (!m->cap)
        return 0;
    uint64_t h = owner_hash(owner, ifname);
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const struct hslot *s = &m->s[i];
        if (!s->v)
            return 0;
        const struct held *e = &x->held[s->v - 1];
        if (s->h == h && streq(e->owner, owner) && streq(e->ifname, ifname)) {
            *ret_slot = i;
            return s->v;
        }
    }
}

/* Mark v taken in a treap of maximal runs: extend a neighbour, join two,
 * or add a run of one. O(log n) expected. */
static void runs_add(struct ipam_index *x, struct run **t, u128 v)
{
    struct run *left = v > 0 ? run_find(*t, v - 1) : NULL;
    struct run *right = v < ~(u128)0 ? run_find(*t, v + 1) : NULL;

    if (left && right) {
        u128 hi = right->hi;
        *t = run_erase(*t, right->lo);
        left->hi = hi;
    } else if (left) {
        left->hi = v;
    } else if (right) {
        right->lo = v; /* no run starts between v and right->lo: order kept */
    } else {
        struct run *n = xcalloc(1, sizeof(*n));
        n->lo = n->hi = v;
        x->rng ^= x->rng << 13;
        x->rng ^= x->rng >> 17;
        x->rng ^= x->rng << 5;
        n->prio = x->rng;
        *t = run_insert(*t, n);
    }
}

/* Mark v free: shrink or split its run. */
static void runs_del(struct ipam_index *x, struct run **t, u128 v)
{
    struct run *n = run_find(*t, v);
    if (!n)
        return;
    if (n->lo == n->hi) {
        *t = run_erase(*t, n->lo);
    } else if (v == n->lo) {
        n->lo = v + 1;
    } else if (v == n->hi) {
        n->hi = v - 1;
    } else {
        u128 hi = n->hi;
        n->hi = v - 1;
        runs_add(x, t, v + 1); /* a run of one, then extended to hi */
        struct run *m = run_find(*t, v + 1);
        m->hi = hi;
    }
}

/* Link entry e (index) in every structure. */
static void held_link(struct ipam_index *x, uint32_t e)
{
    struct held *h = &x->held[e];
    struct pool *p = &x->pools[h->pool];
    size_t slot;
    uint32_t head = owner_head(x, h->owner, h->ifname, &slot);

    h->live = true;
    hmap_insert(&x->by_addr, addr_hash(h->pool, &h->ip), e + 1);
    if (slot != SIZE_MAX)
        x->by_owner.s[slot].v = e + 1;
    else
        hmap_insert(&x->by_owner, owner_hash(h->owner, h->ifname), e + 1);
    h->next = head;
    runs_add(x, &p->runs[fam_idx(h->ip.family)], ip_u128(&h->ip));
    p->used++;
}

int ipam_index_take(struct ipam_index *x, const char *network, const struct ipaddr *ip,
                    const char *owner, const char *ifname)
{
    if (ip->family != AF_INET && ip->family != AF_INET6)
        return -EINVAL;
    uint32_t p = pool_get(x, network);
    size_t s = addr_slot(x, p, ip);
    if (s != SIZE_MAX) {
        const struct held *e = &x->held[x->by_addr.s[s].v - 1];
        return streq(e->owner, owner) && streq(e->ifname, ifname) ? 0 : -EEXIST;
    }
    struct held *h = grow(&x->held, x->nheld++, &x->cheld, sizeof(*x->held));
    *h = (struct held){.pool = p, .ip = *ip, .owner = owner, .ifname = ifname};
    held_link(x, (uint32_t)(x->nheld - 1));
    *(struct undo *)grow(&x->undo, x->nundo++, &x->cundo, sizeof(*x->undo)) =
        (struct undo){U_TAKE, (uint32_t)(x->nheld - 1)};
    return 0;
}

/* Remove entry e from the address hash and the runs (it stays in its
 * owner chain, marked dead). */
static void held_unlink(struct ipam_index *x, uint32_t e)
{
    struct held *h = &x->held[e];
    struct pool *p = &x->pools[h->pool];
    size_t s = addr_slot(x, h->pool, &h->ip);
    if (s != SIZE_MAX)
        hmap_delete_at(&x->by_addr, s);
    runs_del(x, &p->runs[fam_idx(h->ip.family)], ip_u128(&h->ip));
    h->live = false;
    p->used--;
}

int ipam_index_release(struct ipam_index *x, const char *network, const struct ipaddr *ip)
{
    int p = pool_find(x, network);
    size_t s = p < 0 ? SIZE_MAX : addr_slot(x, (uint32_t)p, ip);
    if (s == SIZE_MAX)
        return -ENOENT;
    uint32_t e = x->by_addr.s[s].v - 1;
    held_unlink(x, e);
    *(struct undo *)grow(&x->undo, x->nundo++, &x->cundo, sizeof(*x->undo)) =
        (struct undo){U_RELEASE, e};
    return 0;
}

bool ipam_index_holder(const struct ipam_index *x, const char *network, const struct ipaddr *ip,
                       const char **ret_owner, const char **ret_ifname)
{
    int p = pool_find(x, network);
    size_t s = p < 0 ? SIZE_MAX : addr_slot(x, (uint32_t)p, ip);
    if (s == SIZE_MAX)
        return false;
    const struct held *e = &x->held[x->by_addr.s[s].v - 1];
    if (ret_owner)
        *ret_owner = e->owner;
    if (ret_ifname)
        *ret_ifname = e->ifname;
    return true;
}

bool ipam_index_held_in(const struct ipam_index *x, const char *network, const char *owner,
                        const char *ifname, const struct ipam_set *set, struct ipaddr *ret)
{
    int p = pool_find(x, network);
    size_t slot;
    if (p < 0)
        return false;
    for (uint32_t v = owner_head(x, owner, ifname, &slot); v; v = x->held[v - 1].next) {
        const struct held *e = &x->held[v - 1];
        int r;
        if (!e->live || e->pool != (uint32_t)p || (r = ipam_set_find(set, &e->ip)) < 0 ||
            !ipam_in_range(&set->ranges[r], &e->ip))
            continue;
        *ret = e->ip;
        ret->prefix = set->ranges[r].subnet.prefix;
        return true;
    }
    return false;
}

size_t ipam_index_used(const struct ipam_index *x, const char *network)
{
    int p = pool_find(x, network);
    return p < 0 ? 0 : x->pools[p].used;
}

void ipam_index_note(struct ipam_index *x, const char *network, const struct ipaddr *ip)
{
    uint32_t p = pool_get(x, network);
    struct pool *pl = &x->pools[p];
    *(struct ipaddr *)grow(&pl->notes, pl->nnotes++, &pl->cnotes, sizeof(*pl->notes)) = *ip;
    *(struct undo *)grow(&x->undo, x->nundo++, &x->cundo, sizeof(*x->undo)) =
        (struct undo){U_NOTE, p};
}

/* Lowest free address of range r within from..to (from >= start, to <=
 * end), the gateway excluded. Each run lookup jumps over a whole run, and
 * the address after a maximal run is free, so this takes at most three
 * lookups. */
static bool free_between(struct run *t, const struct ipam_range *r, u128 from, u128 to,
                         u128 *ret)
{
    bool has_gw = r->has_gateway && r->gateway.family == r->start.family;
    u128 gw = has_gw ? ip_u128(&r->gateway) : 0, c = from;

    while (c <= to) {
        struct run *n = run_find(t, c);
        if (n) {
            if (n->hi >= to)
                return false;
            c = n->hi + 1;
            continue;
        }
        if (has_gw && c == gw) {
            if (c == to)
                return false;
            c++;
            continue;
        }
        *ret = c;
        return true;
    }
    return false;
}

int ipam_index_next_free(const struct ipam_index *x, const char *network,
                         const struct ipam_set *set, struct ipaddr *ret, size_t *ret_range)
{
    if (!set || !set->nranges)
        return -EINVAL;
    int p = pool_find(x, network);
    const struct pool *pl = p >= 0 ? &x->pools[p] : NULL;
    int family = set->ranges[0].start.family;
    struct run *t = pl ? pl->runs[fam_idx(family)] : NULL;
    size_t n = set->nranges;
    int cur = -1;
    u128 last = 0, got;

    /* The set's newest reservation: newest first, so with sets picked in
     * lockstep this stops after a step or two. */
    for (size_t k = pl ? pl->nnotes : 0; k-- > 0;) {
        int r = ipam_set_find(set, &pl->notes[k]);
        if (r >= 0) {
            cur = r;
            last = ip_u128(&pl->notes[k]);
            break;
        }
    }
    /* Visit: (last, end of its range], the following ranges, wrapping,
     * then [start of its range, last]. */
    for (size_t step = 0; step <= n; step++) {
        size_t i;
        u128 from, to;
        if (cur < 0) {
            if (step == n)
                break;
            i = step;
            from = ip_u128(&set->ranges[i].start);
            to = ip_u128(&set->ranges[i].end);
        } else {
            i = ((size_t)cur + step) % n;
            from = ip_u128(&set->ranges[i].start);
            to = ip_u128(&set->ranges[i].end);
            if (step == 0) {
                if (last >= to)
                    continue;
                from = last + 1;
            } else if (step == n) {
                to = last;
            }
        }
        if (free_between(t, &set->ranges[i], from, to, &got)) {
            *ret = u128_ip(got, family, set->ranges[i].subnet.prefix);
            if (ret_range)
                *ret_range = i;
            return 0;
        }
    }
    return -ENOSPC;
}

size_t ipam_index_savepoint(const struct ipam_index *x)
{
    return x->nundo;
}

void ipam_index_rollback(struct ipam_index *x, size_t savepoint)
{
    while (x->nundo > savepoint) {
        struct undo u = x->undo[--x->nundo];
        switch (u.kind) {
        case U_TAKE: {
            /* the newest entry, head of its owner chain */
            struct held *h = &x->held[u.v];
            size_t slot;
            if (h->live)
                held_unlink(x, u.v);
            if (owner_head(x, h->owner, h->ifname, &slot) == u.v + 1) {
                if (h->next)
                    x->by_owner.s[slot].v = h->next;
                else
                    hmap_delete_at(&x->by_owner, slot);
            }
            if (u.v + 1 == x->nheld)
                x->nheld--;
            break;
        }
        case U_RELEASE: {
            struct held *h = &x->held[u.v];
            struct pool *p = &x->pools[h->pool];
            h->live = true;
            hmap_insert(&x->by_addr, addr_hash(h->pool, &h->ip), u.v + 1);
            runs_add(x, &p->runs[fam_idx(h->ip.family)], ip_u128(&h->ip));
            p->used++;
            break;
        }
        case U_NOTE:
            x->pools[u.v].nnotes--;
            break;
        }
    }
}
