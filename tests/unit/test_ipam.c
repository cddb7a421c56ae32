/* test_ipam.c - unit tests of ipam.c: range normalisation and next-free
 * selection (gaps, gateway, full ranges, large taken lists), checked against
 * a naive reference on random inputs. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
