/* test_ipam.c - unit tests of ipam.c: range normalisation and next-free
 * selection (gaps, gateway, full ranges, large taken lists), checked against
 * a naive reference on random inputs; range sets and the allocation index
 * (fall-through, host-local's round-robin, dual stack, rollback), checked
 * against a literal transcription of host-local's iterator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>


#include <sys/socket.h>
#include <time.h>

#include "ipam.h"
#include "model.h"

static struct ipaddr P(const char *s)
{
    struct ipaddr a;
    assert_int_equal(ipaddr_parse(s, -1, &a), 0);
    return a;
}

static const char *F(const struct ipaddr *a)
{
    static char buf[4][64];
    static int i;
    i = (i + 1) % 4;
    return ipaddr_format(a, true, buf[i], sizeof(buf[i]));
}

static struct ipam_range R(const char *subnet, const char *start, const char *end, const char *gw)
{
    struct ipam_range r = {.subnet = P(subnet)};
    if (start)
        r.start = P(start);
    if (end)
        r.end = P(end);
    if (gw) {
        r.has_gateway = true;
        r.gateway = P(gw);
    }
    return r;
}

static void test_normalize_defaults(void **state)
{
    struct ipam_range r;
    (void)state;

    r = R("192.168.255.0/24", NULL, NULL, NULL);
    assert_int_equal(ipam_range_normalize(&r), 0);
    assert_string_equal(F(&r.start), "192.168.255.1/24");
    assert_string_equal(F(&r.end), "192.168.255.254/24");

    r = R("10.0.0.4/30", NULL, NULL, NULL);
    assert_int_equal(ipam_range_normalize(&r), 0);
    assert_string_equal(F(&r.start), "10.0.0.5/30");
    assert_string_equal(F(&r.end), "10.0.0.6/30");

    r = R("2001:db8:1::/64", NULL, NULL, NULL);
    assert_int_equal(ipam_range_normalize(&r), 0);
    assert_string_equal(F(&r.start), "2001:db8:1::1/64");
    assert_string_equal(F(&r.end), "2001:db8:1:0:ffff:ffff:ffff:ffff/64");

    r = R("10.0.0.0/8", NULL, NULL, NULL);
    assert_int_equal(ipam_range_normalize(&r), 0);
    assert_string_equal(F(&r.end), "10.255.255.254/8");
}

static void test_normalize_explicit(void **state)
{
    struct ipam_range r;
    (void)state;

    r = R("192.168.255.0/24", "192.168.255.100", "192.168.255.200", "192.168.255.254");
    assert_int_equal(ipam_range_normalize(&r), 0);
    assert_string_equal(F(&r.start), "192.168.255.100/24");
    assert_string_equal(F(&r.end), "192.168.255.200/24");

    r = R("192.168.255.0/24", "192.168.255.100", NULL, NULL);
    assert_int_equal(ipam_range_normalize(&r), 0);
    assert_string_equal(F(&r.end), "192.168.255.254/24");

    r = R("192.168.255.0/24", "192.168.255.7", "192.168.255.7", NULL); /* one address */
    assert_int_equal(ipam_range_normalize(&r), 0);
}

static void test_normalize_bad(void **state)
{
    struct {
        const char *subnet, *start, *end, *gw;
    } bad[] = {
        {"192.168.255.0/24", "192.168.254.10", NULL, NULL},     /* start outside */
        {"192.168.255.0/24", NULL, "192.168.0.10", NULL},       /* end outside */
        {"192.168.255.0/24", "192.168.255.50", "192.168.255.40", NULL}, /* start > end */
        {"192.168.255.0/24", NULL, NULL, "192.168.0.1"},        /* gateway outside */
        {"192.168.255.0/24", "2001:db8::1", NULL, NULL},        /* family mix */
        {"192.168.255.7/24", NULL, NULL, NULL},                 /* host bits set */
        {"10.0.0.0/31", NULL, NULL, NULL},                      /* too small */
        {"10.0.0.1/32", NULL, NULL, NULL},
        {"2001:db8::/127", NULL, NULL, NULL},
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct ipam_range r = R(bad[i].subnet, bad[i].start, bad[i].end, bad[i].gw);
        struct ipam_range keep = r;
        if (ipam_range_normalize(&r) != -EINVAL)
            fail_msg("accepted range #%zu (%s)", i, bad[i].subnet);
        assert_memory_equal(&r, &keep, sizeof(r)); /* untouched */
    }
}

static void test_in_range(void **state)
{
    struct ipam_range r = R("192.168.255.0/24", "192.168.255.10", "192.168.255.20",
                            "192.168.255.15");
    (void)state;

    assert_int_equal(ipam_range_normalize(&r), 0);
    assert_true(ipam_in_range(&r, &(struct ipaddr){0}) == false);
    struct ipaddr a = P("192.168.255.10"), b = P("192.168.255.20"), g = P("192.168.255.15"),
                  o = P("192.168.255.21"), v6 = P("::1");
    assert_true(ipam_in_range(&r, &a));
    assert_true(ipam_in_range(&r, &b));
    assert_false(ipam_in_range(&r, &g));
    assert_false(ipam_in_range(&r, &o));
    assert_false(ipam_in_range(&r, &v6));
}

static void next_is(const struct ipam_range *r, const char *const *taken, size_t n,
                    const char *want)
{
    struct ipaddr t[64], got = {0};
    int ret;

    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        t[i] = P(taken[i]);
    ret = ipam_next_free(r, t, n, &got);
    if (!want) {
        assert_int_equal(ret, -ENOSPC);
        return;
    }
    assert_int_equal(ret, 0);
    assert_string_equal(F(&got), want);
}

static void test_next_free(void **state)
{
    struct ipam_range r = R("192.168.255.0/24", NULL, NULL, "192.168.255.1");
    (void)state;

    assert_int_equal(ipam_range_normalize(&r), 0);
    /* empty: first after the gateway */
    next_is(&r, NULL, 0, "192.168.255.2/24");
    /* gaps */
    next_is(&r, (const char *[]){"192.168.255.2", "192.168.255.3", "192.168.255.5"}, 3,
            "192.168.255.4/24");
    /* taken addresses of other families / outside the range are ignored */
    next_is(&r, (const char *[]){"10.0.0.1", "192.168.255.2", "::1"}, 3, "192.168.255.3/24");
    /* a run across the gateway */
    r.has_gateway = true;
    r.gateway = P("192.168.255.4");
    next_is(&r, (const char *[]){"192.168.255.1", "192.168.255.2", "192.168.255.3",
                                 "192.168.255.5", "192.168.255.6"},
            5, "192.168.255.7/24");

    /* a /30 has exactly two hosts */
    struct ipam_range s = R("10.0.0.4/30", NULL, NULL, NULL);
    assert_int_equal(ipam_range_normalize(&s), 0);
    next_is(&s, (const char *[]){"10.0.0.5"}, 1, "10.0.0.6/30");
    next_is(&s, (const char *[]){"10.0.0.5", "10.0.0.6"}, 2, NULL);
    s.has_gateway = true;
    s.gateway = P("10.0.0.6");
    next_is(&s, (const char *[]){"10.0.0.5"}, 1, NULL);

    /* the prefix of the result is the subnet's, whatever taken holds */
    next_is(&r, (const char *[]){"192.168.255.1/32"}, 1, "192.168.255.2/24");
}

static void test_next_free_v6(void **state)
{
    struct ipam_range r = R("2001:db8::/64", NULL, "2001:db8::3", NULL);
    (void)state;

    assert_int_equal(ipam_range_normalize(&r), 0);
    next_is(&r, (const char *[]){"2001:db8::1", "2001:db8::2"}, 2, "2001:db8::3/64");
    next_is(&r, (const char *[]){"2001:db8::1", "2001:db8::2", "2001:db8::3"}, 3, NULL);

    /* the very last address of the whole space must not wrap to :: */
    struct ipam_range t = R("ffff:ffff:ffff:ffff::/64", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                            NULL, NULL);
    assert_int_equal(ipam_range_normalize(&t), 0);
    next_is(&t,
            (const char *[]){"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
            2, NULL);
    next_is(&t, (const char *[]){"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"}, 1,
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/64");
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 60000 contiguous taken addresses from the start of a /16: the answer is
 * found without walking the array. 2000 calls must take well under a second
 * (a linear walk would do 120M comparisons). */
static void test_next_free_large(void **state)
{
    struct ipam_range r = R("10.1.0.0/16", NULL, NULL, NULL);
    size_t n = 60000;
    struct ipaddr *t = calloc(n, sizeof(*t)), got;
    double t0;
    (void)state;

    assert_non_null(t);
    assert_int_equal(ipam_range_normalize(&r), 0);
    t[0] = r.start;
    for (size_t i = 1; i < n; i++) {
        t[i] = t[i - 1];
        ipaddr_add(&t[i], 1);
    }
    t0 = now_sec();
    for (int k = 0; k < 2000; k++)
        assert_int_equal(ipam_next_free(&r, t, n, &got), 0);
    assert_true(now_sec() - t0 < 1.0);
    assert_string_equal(F(&got), "10.1.234.97/16"); /* 10.1.0.1 + 60000 */

    /* a hole in the middle is found */
    memmove(&t[30000], &t[30001], (n - 30001) * sizeof(*t));
    assert_int_equal(ipam_next_free(&r, t, n - 1, &got), 0);
    assert_string_equal(F(&got), "10.1.117.49/16"); /* 10.1.0.1 + 30000 */
    free(t);

    /* a full /16 */
    size_t full = 65534;
    t = calloc(full, sizeof(*t));
    assert_non_null(t);
    t[0] = r.start;
    for (size_t i = 1; i < full; i++) {
        t[i] = t[i - 1];
        ipaddr_add(&t[i], 1);
    }
    t0 = now_sec();
    for (int k = 0; k < 2000; k++)
        assert_int_equal(ipam_next_free(&r, t, full, &got), -ENOSPC);
    assert_true(now_sec() - t0 < 1.0);
    free(t);
}

/* Naive reference: the lowest address in start..end not taken, not gateway. */
static int naive_next(const struct ipam_range *r, const struct ipaddr *t, size_t n,
                      struct ipaddr *ret)
{
    for (struct ipaddr c = r->start; ipaddr_cmp(&c, &r->end) <= 0; ipaddr_add(&c, 1)) {
        bool taken = r->has_gateway && ipaddr_same_host(&c, &r->gateway);
        for (size_t i = 0; i < n && !taken; i++)
            taken = ipaddr_same_host(&c, &t[i]);
        if (!taken) {
            *ret = c;
            return 0;
        }
    }
    return -ENOSPC;
}

static void test_next_free_random(void **state)
{
    unsigned seed = 12345;
    (void)state;

    for (int iter = 0; iter < 3000; iter++) {
        struct ipam_range r = R("172.16.0.0/26", NULL, NULL, NULL);
        struct ipaddr t[70], a, b;
        size_t n = 0;
        int density = rand_r(&seed) % 100;

        if (rand_r(&seed) % 2) {
            r.has_gateway = true;
            r.gateway = P("172.16.0.0");
            ipaddr_add(&r.gateway, (uint64_t)(rand_r(&seed) % 64));
        }
        assert_int_equal(ipam_range_normalize(&r), 0);
        /* strictly ascending subset of the subnet (and a bit beyond) */
        struct ipaddr c = P("172.15.255.254");
        for (int i = 0; i < 68; i++, ipaddr_add(&c, 1))
            if (rand_r(&seed) % 100 < density)
                t[n++] = c;
        int ra = ipam_next_free(&r, t, n, &a), rb = naive_next(&r, t, n, &b);
        assert_int_equal(ra, rb);
        if (ra == 0)
            assert_true(ipaddr_same_host(&a, &b));
    }
}

/* ---- range sets and the allocation index --------------------------------- */

/* A range as validate.c builds it: gateway default the subnet's first
 * address, normalized. */
static struct ipam_range HR(const char *subnet, const char *start, const char *end,
                            const char *gw)
{
    struct ipam_range r = R(subnet, start, end, gw);
    if (!gw) {
        r.has_gateway = true;
        r.gateway = r.subnet;
        ipaddr_add(&r.gateway, 1);
    }
    assert_int_equal(ipam_range_normalize(&r), 0);
    return r;
}

/* Pick the next address of set in net for owner (as the planner does:
 * next free, take, note); NULL when full. */
static const char *pick(struct ipam_index *x, const char *net, const struct ipam_set *set,
                        const char *owner)
{
    struct ipaddr ip;
    if (ipam_index_next_free(x, net, set, &ip, NULL) < 0)
        return NULL;
    assert_int_equal(ipam_index_take(x, net, &ip, owner, "net1"), 0);
    ipam_index_note(x, net, &ip);
    return F(&ip);
}

/* Two ranges in one set: the first is used up, then the second (host-local's
 * RangeSet), gateways never handed out; then the set is full. The sequence
 * is what /usr/lib/cni/host-local answers for the same config. */
static void test_set_fall_through(void **state)
{
    struct ipam_range rr[2] = {HR("10.1.0.0/29", NULL, NULL, NULL),
                               HR("10.2.0.0/30", NULL, NULL, NULL)};
    struct ipam_set set = {rr, 2};
    struct ipam_index *x = ipam_index_new();
    const char *want[] = {"10.1.0.2/29", "10.1.0.3/29", "10.1.0.4/29", "10.1.0.5/29",
                          "10.1.0.6/29", "10.2.0.2/30"};
    static const char *owners[] = {"a", "b", "c", "d", "e", "f", "g"};
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        assert_string_equal(pick(x, "n", &set, owners[i]), want[i]);
    assert_null(pick(x, "n", &set, owners[6])); /* full: AddressUnavailable */
    /* another network is a pool of its own */
    assert_string_equal(pick(x, "other", &set, "a"), "10.1.0.2/29");
    assert_int_equal(ipam_index_used(x, "n"), 6);
    assert_true(ipam_set_size(&set) == 6.0);
    char *d = ipam_set_describe(&set);
    assert_string_equal(d, "10.1.0.1-10.1.0.6, 10.2.0.1-10.2.0.2");
    free(d);
    ipam_index_free(x);
}

/* host-local's round-robin: after a release the next pick continues after
 * the last reservation, wraps to the first range, and skips what is taken.
 * Same sequence as the real plugin (ADD a b c, DEL a, ADD d, DEL c, ADD e,
 * ADD f requesting .6 is refused, ADD g h i). */
static void test_round_robin_like_host_local(void **state)
{
    struct ipam_range rr[2] = {HR("10.1.0.0/29", NULL, NULL, NULL),
                               HR("10.2.0.0/30", NULL, NULL, NULL)};
    struct ipam_set set = {rr, 2};
    struct ipam_index *x = ipam_index_new();
    struct ipaddr ip;
    const char *o = NULL, *f = NULL;
    (void)state;

    assert_string_equal(pick(x, "n", &set, "a"), "10.1.0.2/29");
    assert_string_equal(pick(x, "n", &set, "b"), "10.1.0.3/29");
    assert_string_equal(pick(x, "n", &set, "c"), "10.1.0.4/29");
    ip = P("10.1.0.2");
    assert_int_equal(ipam_index_release(x, "n", &ip), 0);
    assert_int_equal(ipam_index_release(x, "n", &ip), -ENOENT);
    assert_string_equal(pick(x, "n", &set, "d"), "10.1.0.5/29"); /* not .2 */
    ip = P("10.1.0.4");
    assert_int_equal(ipam_index_release(x, "n", &ip), 0);
    assert_string_equal(pick(x, "n", &set, "e"), "10.1.0.6/29");
    ip = P("10.1.0.6");
    assert_int_equal(ipam_index_take(x, "n", &ip, "f", "net1"), -EEXIST);
    assert_true(ipam_index_holder(x, "n", &ip, &o, &f));
    assert_string_equal(o, "e");
    assert_string_equal(f, "net1");
    assert_string_equal(pick(x, "n", &set, "g"), "10.2.0.2/30");
    assert_string_equal(pick(x, "n", &set, "h"), "10.1.0.2/29"); /* wrapped */
    assert_string_equal(pick(x, "n", &set, "i"), "10.1.0.4/29");
    assert_null(pick(x, "n", &set, "j"));
    ipam_index_free(x);
}

/* An explicit gateway inside the range is skipped, wherever it is; a
 * requested address counts as the newest reservation (host-local writes
 * last_reserved_ip for it too). */
static void test_gateway_and_requested(void **state)
{
    struct ipam_range rr[1] = {HR("10.1.0.0/29", NULL, NULL, "10.1.0.3")};
    struct ipam_set set = {rr, 1};
    struct ipam_index *x = ipam_index_new();
    struct ipaddr ip = P("10.1.0.5");
    (void)state;

    assert_string_equal(pick(x, "n", &set, "a"), "10.1.0.1/29");
    assert_string_equal(pick(x, "n", &set, "b"), "10.1.0.2/29"); /* .3 is the gateway */
    assert_string_equal(pick(x, "n", &set, "c"), "10.1.0.4/29");
    assert_int_equal(ipam_index_take(x, "n", &ip, "r", "net1"), 0);
    ipam_index_note(x, "n", &ip);
    assert_string_equal(pick(x, "n", &set, "d"), "10.1.0.6/29");
    assert_null(pick(x, "n", &set, "e"));
    /* the gateway is in the set (RangeFor) but not allocatable */
    ip = P("10.1.0.3");
    assert_int_equal(ipam_set_find(&set, &ip), 0);
    assert_false(ipam_in_range(&rr[0], &ip));
    ipam_index_free(x);
}

/* IPv6: only the subnet's first address (::) is excluded, the last one is
 * a host; the default gateway is ::1. As host-local: fd00::/125 gives
 * ::2 .. ::7. Dual stack: an IPv4 set and an IPv6 set in one network. */
static void test_v6_and_dual_stack(void **state)
{
    struct ipam_range r4[1] = {HR("10.1.0.0/29", NULL, NULL, NULL)};
    struct ipam_range r6[1] = {HR("fd00::/125", NULL, NULL, NULL)};
    struct ipam_set s4 = {r4, 1}, s6 = {r6, 1};
    struct ipam_index *x = ipam_index_new();
    struct ipaddr held;
    (void)state;

    for (int i = 2; i <= 7; i++) {
        char want[32];
        const char *owner = i == 2 ? "a" : i == 3 ? "b" : i == 4 ? "c" : i == 5 ? "d"
                                                                         : i == 6 ? "e" : "f";
        snprintf(want, sizeof(want), "fd00::%d/125", i);
        assert_string_equal(pick(x, "n", &s6, owner), want);
        if (i < 7) {
            snprintf(want, sizeof(want), "10.1.0.%d/29", i);
            assert_string_equal(pick(x, "n", &s4, owner), want);
        }
    }
    assert_null(pick(x, "n", &s6, "g"));
    assert_null(pick(x, "n", &s4, "g"));
    assert_true(ipam_index_held_in(x, "n", "c", "net1", &s6, &held));
    assert_string_equal(F(&held), "fd00::4/125");
    assert_true(ipam_index_held_in(x, "n", "c", "net1", &s4, &held));
    assert_string_equal(F(&held), "10.1.0.4/29");
    assert_false(ipam_index_held_in(x, "n", "c", "net2", &s4, &held));
    assert_false(ipam_index_held_in(x, "m", "c", "net1", &s4, &held));
    assert_int_equal(ipam_index_used(x, "n"), 11);
    ipam_index_free(x);
}

/* Savepoint/rollback undoes takes, releases and notes (the planner rolls a
 * pod's picks back when the pod does not converge). */
static void test_rollback(void **state)
{
    struct ipam_range rr[1] = {HR("10.1.0.0/28", NULL, NULL, NULL)};
    struct ipam_set set = {rr, 1};
    struct ipam_index *x = ipam_index_new();
    struct ipaddr ip = P("10.1.0.2"), held;
    (void)state;

    assert_string_equal(pick(x, "n", &set, "a"), "10.1.0.2/28");
    size_t sp = ipam_index_savepoint(x);
    assert_string_equal(pick(x, "n", &set, "b"), "10.1.0.3/28");
    assert_int_equal(ipam_index_release(x, "n", &ip), 0);
    assert_string_equal(pick(x, "n", &set, "b"), "10.1.0.4/28");
    ipam_index_rollback(x, sp);
    assert_int_equal(ipam_index_used(x, "n"), 1);
    assert_true(ipam_index_holder(x, "n", &ip, NULL, NULL));
    assert_false(ipam_index_held_in(x, "n", "b", "net1", &set, &held));
    assert_string_equal(pick(x, "n", &set, "c"), "10.1.0.3/28");
    ipam_index_free(x);
}

/* ---- brute-force reference: host-local's RangeIter, literally ---------- */

struct ref {
    struct ipaddr taken[64];
    size_t ntaken;
    struct ipaddr notes[512];
    size_t nnotes;
};

static bool ref_taken(const struct ref *m, const struct ipaddr *ip)
{
    for (size_t i = 0; i < m->ntaken; i++)
        if (ipaddr_same_host(&m->taken[i], ip))
            return true;
    return false;
}

struct ref_iter {
    const struct ipam_set *set;
    size_t ri;
    bool has_cur, has_start;
    struct ipaddr cur, start;
};

static bool ref_iter_next(struct ref_iter *it, struct ipaddr *ret)
{
    const struct ipam_range *r = &it->set->ranges[it->ri];
    if (!it->has_cur) {
        it->cur = r->start;
        it->has_cur = it->has_start = true;
        it->start = it->cur;
        if (ipaddr_same_host(&it->cur, &r->gateway))
            return ref_iter_next(it, ret);
        *ret = it->cur;
        return true;
    }
    if (ipaddr_same_host(&it->cur, &r->end)) {
        it->ri = (it->ri + 1) % it->set->nranges;
        r = &it->set->ranges[it->ri];
        it->cur = r->start;
    } else {
        ipaddr_add(&it->cur, 1);
    }
    if (!it->has_start) {
        it->start = it->cur;
        it->has_start = true;
    } else if (ipaddr_same_host(&it->cur, &it->start)) {
        return false;
    }
    if (ipaddr_same_host(&it->cur, &r->gateway))
        return ref_iter_next(it, ret);
    *ret = it->cur;
    return true;
}

static int ref_next(const struct ref *m, const struct ipam_set *set, struct ipaddr *ret)
{
    struct ref_iter it = {.set = set};
    for (size_t k = m->nnotes; k-- > 0;) {
        int r = ipam_set_find(set, &m->notes[k]);
        if (r >= 0) {
            it.ri = (size_t)r;
            it.cur = m->notes[k];
            it.has_cur = true;
            break;
        }
    }
    struct ipaddr c;
    while (ref_iter_next(&it, &c))
        if (!ref_taken(m, &c)) {
            c.prefix = set->ranges[ipam_set_find(set, &c)].subnet.prefix;
            *ret = c;
            return 0;
        }
    return -ENOSPC;
}

/* Random sets of 1-3 small ranges (random rangeStart/rangeEnd/gateway, IPv4
 * or IPv6) and random sequences of picks, requested addresses, releases and
 * rollbacks: the index answers exactly what the literal host-local iterator
 * over a plain list answers. */
static void test_index_matches_reference(void **state)
{
    unsigned seed = 4242;
    static char step_owner[120][16]; /* one holder per step: a re-take is a conflict */
    (void)state;

    for (int i = 0; i < 120; i++)
        snprintf(step_owner[i], sizeof(step_owner[i]), "q%d", i);

    for (int iter = 0; iter < 400; iter++) {
        bool v6 = rand_r(&seed) % 3 == 0;
        struct ipam_range rr[3];
        size_t n = 1 + (size_t)(rand_r(&seed) % 3);
        for (size_t i = 0; i < n; i++) {
            char sub[64], st[64], en[64], gw[64];
            int base = (int)i * 16, lo = 1 + rand_r(&seed) % 4, hi = 10 + rand_r(&seed) % 5;
            snprintf(sub, sizeof(sub), v6 ? "fd00::%x/124" : "10.9.0.%d/28", base);
            snprintf(st, sizeof(st), v6 ? "fd00::%x" : "10.9.0.%d", base + lo);
            snprintf(en, sizeof(en), v6 ? "fd00::%x" : "10.9.0.%d", base + hi);
            snprintf(gw, sizeof(gw), v6 ? "fd00::%x" : "10.9.0.%d", base + 1 + rand_r(&seed) % 14);
            bool explicit_range = rand_r(&seed) % 2, explicit_gw = rand_r(&seed) % 2;
            rr[i] = HR(sub, explicit_range ? st : NULL, explicit_range ? en : NULL,
                       explicit_gw ? gw : NULL);
        }
        struct ipam_set set = {rr, n};
        struct ipam_index *x = ipam_index_new();
        struct ref m = {0}, saved = {0};
        size_t sp = 0;
        bool has_sp = false;
        for (int step = 0; step < 120; step++) {
            int op = rand_r(&seed) % 10;
            struct ipaddr a, b;
            if (op < 5) { /* pick */
                int ra = ipam_index_next_free(x, "n", &set, &a, NULL), rb = ref_next(&m, &set, &b);
                assert_int_equal(ra, rb);
                if (ra < 0)
                    continue;
                if (!ipaddr_equal(&a, &b))
                    fail_msg("iter %d step %d: index %s, reference %s", iter, step, F(&a), F(&b));
                assert_int_equal(ipam_index_take(x, "n", &a, "o", "net1"), 0);
                ipam_index_note(x, "n", &a);
                m.taken[m.ntaken++] = a;
                m.notes[m.nnotes++] = a;
            } else if (op < 7 && m.ntaken) { /* release */
                size_t k = (size_t)rand_r(&seed) % m.ntaken;
                assert_int_equal(ipam_index_release(x, "n", &m.taken[k]), 0);
                m.taken[k] = m.taken[--m.ntaken];
            } else if (op < 8) { /* a requested address, when free */
                a = set.ranges[rand_r(&seed) % n].start;
                ipaddr_add(&a, (uint64_t)(rand_r(&seed) % 8));
                bool busy = ref_taken(&m, &a);
                assert_int_equal(ipam_index_take(x, "n", &a, step_owner[step], "net1"),
                                 busy ? -EEXIST : 0);
                if (!busy) {
                    ipam_index_note(x, "n", &a);
                    m.taken[m.ntaken++] = a;
                    m.notes[m.nnotes++] = a;
                }
            } else if (op < 9) {
                sp = ipam_index_savepoint(x);
                saved = m;
                has_sp = true;
            } else if (has_sp) {
                ipam_index_rollback(x, sp);
                m = saved;
                has_sp = false;
            }
            assert_int_equal(ipam_index_used(x, "n"), m.ntaken);
            if (m.nnotes > 500)
                break;
        }
        ipam_index_free(x);
    }
}

/* 10000 allocations in a /16 and in an IPv6 /64, each with a holder lookup
 * and a "what does it hold" lookup, then picks after releases: far under a
 * second (a scan per allocation would be 10^8 comparisons). */
static void test_index_10000_fast(void **state)
{
    struct ipam_range r4[1] = {HR("10.200.0.0/16", NULL, NULL, NULL)};
    struct ipam_range r6[1] = {HR("fd00:1::/64", NULL, NULL, NULL)};
    struct ipam_set s4 = {r4, 1}, s6 = {r6, 1};
    struct ipam_index *x = ipam_index_new();
    static char owners[10000][24];
    double t0 = now_sec();
    struct ipaddr a, held;
    (void)state;

    for (int i = 0; i < 10000; i++) {
        snprintf(owners[i], sizeof(owners[i]), "Pod/p%d", i);
        for (int f = 0; f < 2; f++) {
            const struct ipam_set *set = f ? &s6 : &s4;
            assert_false(ipam_index_held_in(x, "n", owners[i], "net1", set, &held));
            assert_int_equal(ipam_index_next_free(x, "n", set, &a, NULL), 0);
            assert_false(ipam_index_holder(x, "n", &a, NULL, NULL));
            assert_int_equal(ipam_index_take(x, "n", &a, owners[i], "net1"), 0);
            ipam_index_note(x, "n", &a);
        }
    }
    assert_string_equal(F(&a), "fd00:1::2711/64"); /* ::2 + 9999 */
    assert_true(ipam_index_held_in(x, "n", owners[9999], "net1", &s4, &held));
    assert_string_equal(F(&held), "10.200.39.17/16"); /* .0.2 + 9999 */
    /* release every other one; picks continue after the newest (no wrap) */
    for (int i = 0; i < 10000; i += 2) {
        assert_true(ipam_index_held_in(x, "n", owners[i], "net1", &s4, &held));
        assert_int_equal(ipam_index_release(x, "n", &held), 0);
    }
    assert_int_equal(ipam_index_next_free(x, "n", &s4, &a, NULL), 0);
    assert_string_equal(F(&a), "10.200.39.18/16");
    assert_int_equal(ipam_index_used(x, "n"), 15000);
    /* Reported, not asserted: speed is measured by `make bench`; what this
     * test holds is the result of 20000 picks through the index. */
    print_message("# 10000 dual-stack allocations: %.3f s\n", now_sec() - t0);
    ipam_index_free(x);
}

/* A range filled then emptied from the middle: the lowest hole after the
 * cursor is found by jumping over runs, with the gateway inside a run. */
static void test_index_runs(void **state)
{
    struct ipam_range rr[1] = {HR("10.3.0.0/24", NULL, NULL, "10.3.0.100")};
    struct ipam_set set = {rr, 1};
    struct ipam_index *x = ipam_index_new();
    struct ipaddr a;
    char owner[253][24];
    (void)state;

    for (int i = 0; i < 253; i++) {
        snprintf(owner[i], sizeof(owner[i]), "o%d", i);
        assert_non_null(pick(x, "n", &set, owner[i]));
    }
    assert_null(pick(x, "n", &set, "full"));
    a = P("10.3.0.101");
    assert_int_equal(ipam_index_release(x, "n", &a), 0);
    a = P("10.3.0.50");
    assert_int_equal(ipam_index_release(x, "n", &a), 0);
    /* newest reservation is .254: wrap, first hole is .50 */
    assert_string_equal(pick(x, "n", &set, "p"), "10.3.0.50/24");
    assert_string_equal(pick(x, "n", &set, "q"), "10.3.0.101/24"); /* over .100 */
    assert_null(pick(x, "n", &set, "r"));
    ipam_index_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_defaults),
        cmocka_unit_test(test_normalize_explicit),
        cmocka_unit_test(test_normalize_bad),
        cmocka_unit_test(test_in_range),
        cmocka_unit_test(test_next_free),
        cmocka_unit_test(test_next_free_v6),
        cmocka_unit_test(test_next_free_large),
        cmocka_unit_test(test_next_free_random),
        cmocka_unit_test(test_set_fall_through),
        cmocka_unit_test(test_round_robin_like_host_local),
        cmocka_unit_test(test_gateway_and_requested),
        cmocka_unit_test(test_v6_and_dual_stack),
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_index_matches_reference),
        cmocka_unit_test(test_index_10000_fast),
        cmocka_unit_test(test_index_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
