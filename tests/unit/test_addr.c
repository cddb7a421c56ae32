/* test_addr.c - unit tests of addr.c: ipaddr_* parsing, formatting,
 * comparison, subnet membership, arithmetic, and mac_parse/mac_format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>

#include "ipam.h"
#include "model.h"

static struct ipaddr P(const char *s)
{
    struct ipaddr a;
    int r = ipaddr_parse(s, -1, &a);
    assert_int_equal(r, 0);
    return a;
}

static void fmt_is(const char *in, int def, const char *want)
{
    struct ipaddr a;
    char buf[64];

    assert_int_equal(ipaddr_parse(in, def, &a), 0);
    assert_string_equal(ipaddr_format(&a, true, buf, sizeof(buf)), want);
}

static void test_parse_v4(void **state)
{
    struct ipaddr a;
    char buf[64];
    (void)state;

    assert_int_equal(ipaddr_parse("192.168.255.100/24", -1, &a), 0);
    assert_int_equal(a.family, AF_INET);
    assert_int_equal(a.prefix, 24);
    assert_int_equal(a.bytes[0], 192);
    assert_int_equal(a.bytes[3], 100);
    assert_string_equal(ipaddr_format(&a, true, buf, sizeof(buf)), "192.168.255.100/24");
    assert_string_equal(ipaddr_format(&a, false, buf, sizeof(buf)), "192.168.255.100");

    fmt_is("10.0.0.1", -1, "10.0.0.1/32");
    fmt_is("10.0.0.1", 8, "10.0.0.1/8");
    fmt_is("10.0.0.1/16", 8, "10.0.0.1/16"); /* explicit wins */
    fmt_is("0.0.0.0/0", -1, "0.0.0.0/0");
    fmt_is("1.2.3.4/32", -1, "1.2.3.4/32");
}

static void test_parse_v6(void **state)
{
    struct ipaddr a;
    (void)state;

    assert_int_equal(ipaddr_parse("fe80::1/64", -1, &a), 0);
    assert_int_equal(a.family, AF_INET6);
    assert_int_equal(a.prefix, 64);
    assert_int_equal(a.bytes[0], 0xfe);
    assert_int_equal(a.bytes[15], 1);
    fmt_is("2001:DB8:0:0::1", -1, "2001:db8::1/128");
    fmt_is("2001:db8::1", 64, "2001:db8::1/64");
    fmt_is("::/0", -1, "::/0");
    fmt_is("::ffff:1.2.3.4/96", -1, "::ffff:1.2.3.4/96");
}

static void test_parse_bad(void **state)
{
    static const char *const bad[] = {
        "", "/24", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/", "1.2.3.4/33",
        "1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/08", "1.2.3.4/ 8", "1.2.3.4 /8", "1.2.3.4/8x",
        "1.2.3.4/8/8", "fe80::1/129", "fe80:::1", "fe80::g", "hello", " 1.2.3.4",
        "1.2.3.4/1000", "01.2.3.4",
    };
    struct ipaddr a = {.family = 77, .prefix = 99};
    (void)state;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (ipaddr_parse(bad[i], -1, &a) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(a.family, 77); /* untouched */
        assert_int_equal(a.prefix, 99);
    }
    assert_int_equal(ipaddr_parse(NULL, -1, &a), -EINVAL);
    assert_int_equal(ipaddr_parse("1.2.3.4", 33, &a), -EINVAL);
    assert_int_equal(ipaddr_parse("::1", 129, &a), -EINVAL);
    assert_int_equal(ipaddr_parse("::1", 128, &a), 0);
}

static void test_format_small_buffer(void **state)
{
    struct ipaddr a = P("192.168.255.100/24");
    char buf[8] = "xxxxxxx";
    (void)state;

    /* never a truncated address */
    assert_string_equal(ipaddr_format(&a, true, buf, sizeof(buf)), "");
}

static void test_equal_same_host(void **state)
{
    struct ipaddr a = P("10.1.2.3/24"), b = P("10.1.2.3/16"), c = P("10.1.2.3/24");
    struct ipaddr d = P("::ffff:10.1.2.3");
    (void)state;

    assert_true(ipaddr_same_host(&a, &b));
    assert_false(ipaddr_equal(&a, &b));
    assert_true(ipaddr_equal(&a, &c));
    assert_false(ipaddr_same_host(&a, &d));
}

static bool in(const char *addr, const char *net)
{
    struct ipaddr a = P(addr), n = P(net);
    return ipaddr_in_subnet(&a, &n);
}

static void test_in_subnet(void **state)
{
    (void)state;

    assert_true(in("192.168.255.100", "192.168.255.0/24"));
    assert_true(in("192.168.255.0", "192.168.255.0/24"));
    assert_true(in("192.168.255.255", "192.168.255.0/24"));
    assert_false(in("192.168.254.255", "192.168.255.0/24"));
    assert_false(in("192.168.0.1", "192.168.255.0/24"));
    assert_true(in("10.0.15.255", "10.0.0.0/20"));
    assert_false(in("10.0.16.0", "10.0.0.0/20"));
    assert_true(in("2001:db8::ffff:1", "2001:db8::/64"));
    assert_false(in("2001:db8:0:1::1", "2001:db8::/64"));
    assert_false(in("::", "0.0.0.0/0")); /* family mismatch */
    assert_true(in("8.8.8.8", "0.0.0.0/0"));
    assert_true(in("1.2.3.4", "1.2.3.4/32"));
    assert_false(in("1.2.3.5", "1.2.3.4/32"));
    /* the subnet's host bits are masked away too */
    assert_true(in("192.168.255.7", "192.168.255.100/24"));
    assert_false(ipaddr_in_subnet(&(struct ipaddr){0}, &(struct ipaddr){0}));
}

static void test_cmp(void **state)
{
    struct ipaddr a = P("10.0.0.2/8"), b = P("10.0.0.10/32"), c = P("9.255.255.255");
    struct ipaddr v6 = P("::1"), a2 = P("10.0.0.2/30");
    (void)state;

    assert_true(ipaddr_cmp(&a, &b) < 0);
    assert_true(ipaddr_cmp(&b, &a) > 0);
    assert_true(ipaddr_cmp(&c, &a) < 0);
    assert_int_equal(ipaddr_cmp(&a, &a2), 0); /* prefix ignored */
    assert_true(ipaddr_cmp(&a, &v6) < 0);     /* IPv4 before IPv6 */
    assert_true(ipaddr_cmp(&v6, &c) > 0);
}

static void test_add(void **state)
{
    struct ipaddr a = P("10.0.0.255/24"), v6 = P("2001:db8::ffff:ffff/64");
    struct ipaddr top = P("255.255.255.255");
    char buf[64];
    (void)state;

    ipaddr_add(&a, 1);
    assert_string_equal(ipaddr_format(&a, true, buf, sizeof(buf)), "10.0.1.0/24");
    ipaddr_add(&a, 65536);
    assert_string_equal(ipaddr_format(&a, true, buf, sizeof(buf)), "10.1.1.0/24");
    ipaddr_add(&v6, 1);
    assert_string_equal(ipaddr_format(&v6, true, buf, sizeof(buf)), "2001:db8::1:0:0/64");
    ipaddr_add(&v6, UINT64_C(0xffffffffffffffff));
    assert_string_equal(ipaddr_format(&v6, false, buf, sizeof(buf)), "2001:db8:0:1::ffff:ffff");
    ipaddr_add(&top, 1); /* wraps within 32 bits, no spill into bytes[4] */
    assert_string_equal(ipaddr_format(&top, false, buf, sizeof(buf)), "0.0.0.0");
    assert_int_equal(top.bytes[4], 0);
}

static void test_mac(void **state)
{
    static const char *const bad[] = {
        "", "c2:b0:57:49:47", "c2:b0:57:49:47:f1:00", "c2-b0-57-49-47-f1", "c2:b0:57:49:47:g1",
        "c2:b0:57:49:47:f", "c2b0:57:49:47:f1:", "00:00:00:00:00:00", " c2:b0:57:49:47:f1",
        "c2:b0:57:49:47:f1 ",
    };
    uint8_t m[6] = {9, 9, 9, 9, 9, 9};
    char buf[18];
    (void)state;

    assert_int_equal(mac_parse("C2:b0:57:49:47:F1", m), 0);
    assert_int_equal(m[0], 0xc2);
    assert_int_equal(m[5], 0xf1);
    assert_string_equal(mac_format(m, buf, sizeof(buf)), "c2:b0:57:49:47:f1");
    assert_int_equal(mac_parse("ff:ff:ff:ff:ff:ff", m), 0); /* broadcast/multicast accepted */
    assert_int_equal(mac_parse("01:00:5e:00:00:01", m), 0);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint8_t keep[6] = {1, 2, 3, 4, 5, 6};
        if (mac_parse(bad[i], keep) != -EINVAL)
            fail_msg("accepted MAC \"%s\"", bad[i]);
        assert_int_equal(keep[0], 1); /* untouched */
    }
    assert_string_equal(mac_format(m, buf, 10), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_v4),
        cmocka_unit_test(test_parse_v6),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_equal_same_host),
        cmocka_unit_test(test_in_subnet),
        cmocka_unit_test(test_cmp),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_mac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
