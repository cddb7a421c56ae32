/* test_nft.c - the macspoofchk and ipMasq transaction texts, pure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nft.h"

static void test_ruleset(void **state)
{
    (void)state;
    struct nft_port p[2] = {{.ifname = "pla"}, {.ifname = "plb"}};
    mac_parse("c2:b0:57:49:47:f1", p[0].mac);
    mac_parse("02:00:00:00:00:02", p[1].mac);
    _cleanup_free_ char *t = nft_ruleset(p, 2);
    /* replaces the whole table atomically */
    assert_non_null(strstr(t, "table bridge plumbd\ndelete table bridge plumbd\n"));
    assert_non_null(strstr(t, "elements = { \"pla\", \"plb\" }"));
    assert_non_null(strstr(t, "c2:b0:57:49:47:f1 . \"pla\", 02:00:00:00:00:02 . \"plb\""));
    assert_non_null(strstr(t, "iifname @ports ether saddr . iifname @allowed return"));
    assert_non_null(strstr(t, "iifname @ports drop"));
    assert_non_null(strstr(t, "priority -300"));

    /* no port: only the removal */
    _cleanup_free_ char *e = nft_ruleset(NULL, 0);
    assert_string_equal(e, "table bridge plumbd\ndelete table bridge plumbd\n");

    /* many ports: the buffer grows */
    struct nft_port *many = calloc(2000, sizeof(*many));
    for (int i = 0; i < 2000; i++)
        snprintf(many[i].ifname, sizeof(many[i].ifname), "pl%012d", i);
    _cleanup_free_ char *m = nft_ruleset(many, 2000);
    assert_non_null(strstr(m, "\"pl000000001999\""));
    free(many);
}


/* ipMasq: one set and one rule per subnet, both families, sorted, the
 * empty list removes the table. */
static void test_masq_ruleset(void **state)
{
    (void)state;
    struct nft_masq m[4];
    memset(m, 0, sizeof(m));
    ipaddr_parse("10.77.0.3", -1, &m[0].addr);
    ipaddr_parse("10.77.0.0/24", -1, &m[0].subnet);
    ipaddr_parse("10.77.0.2", -1, &m[1].addr);
    ipaddr_parse("10.77.0.0/24", -1, &m[1].subnet);
    ipaddr_parse("fd00::5", -1, &m[2].addr);
    ipaddr_parse("fd00::/64", -1, &m[2].subnet);
    ipaddr_parse("10.66.0.2", -1, &m[3].addr);
    ipaddr_parse("10.66.0.0/24", -1, &m[3].subnet);
    _cleanup_free_ char *t = nft_masq_ruleset(m, 4);
    assert_non_null(strstr(t, "table inet plumbd-nat\ndelete table inet plumbd-nat\n"));
    assert_non_null(strstr(t, "set m4_0 { type ipv4_addr; elements = { 10.66.0.2 } }"));
    assert_non_null(strstr(t, "set m4_1 { type ipv4_addr; elements = { 10.77.0.2, 10.77.0.3 } }"));
    assert_non_null(strstr(t, "set m6_2 { type ipv6_addr; elements = { fd00::5 } }"));
    assert_non_null(strstr(t, "type nat hook postrouting priority srcnat;"));
    assert_non_null(strstr(t, "ip saddr @m4_1 ip daddr != 10.77.0.0/24 ip daddr != 224.0.0.0/4 "
                              "masquerade"));
    assert_non_null(strstr(t, "ip6 saddr @m6_2 ip6 daddr != fd00::/64 ip6 daddr != ff00::/8 "
                              "masquerade"));
    _cleanup_free_ char *e = nft_masq_ruleset(NULL, 0);
    assert_string_equal(e, "table inet plumbd-nat\ndelete table inet plumbd-nat\n");
}

static struct nft_masq masq_of(const char *addr, const char *subnet)
{
    struct nft_masq m;
    memset(&m, 0, sizeof(m));
    ipaddr_parse(addr, -1, &m.addr);
    ipaddr_parse(subnet, -1, &m.subnet);
    return m;
}

/* A change of a few pods is made with set elements: ports that came are
 * added to both sets, ports that went are deleted from both, a port whose
 * MAC changed swaps its allowed element; masquerade addresses go into the
 * set of their subnet (its index among the distinct subnets); a table or a
 * subnet that comes or goes needs the replacement (NULL). */
static void test_delta(void **state)
{
    (void)state;
    struct nft_port a[3] = {{.ifname = "pla"}, {.ifname = "plb"}, {.ifname = "plc"}};
    mac_parse("02:00:00:00:00:0a", a[0].mac);
    mac_parse("02:00:00:00:00:0b", a[1].mac);
    mac_parse("02:00:00:00:00:0c", a[2].mac);
    struct nft_port b[3];
    memcpy(b, a, sizeof(a));
    mac_parse("02:00:00:00:00:bb", b[1].mac);

    _cleanup_free_ char *same = nft_delta(a, 3, a, 3, NULL, 0, NULL, 0);
    assert_string_equal(same, "");
    /* plb goes, the others stay */
    struct nft_port ac[2] = {a[0], a[2]};
    _cleanup_free_ char *gone = nft_delta(a, 3, ac, 2, NULL, 0, NULL, 0);
    assert_string_equal(gone, "delete element bridge plumbd ports { \"plb\" }\n"
                              "delete element bridge plumbd allowed { 02:00:00:00:00:0b . \"plb\" }\n");
    _cleanup_free_ char *came = nft_delta(ac, 2, a, 3, NULL, 0, NULL, 0);
    assert_string_equal(came, "add element bridge plumbd ports { \"plb\" }\n"
                              "add element bridge plumbd allowed { 02:00:00:00:00:0b . \"plb\" }\n");
    _cleanup_free_ char *mac = nft_delta(a, 3, b, 3, NULL, 0, NULL, 0);
    assert_string_equal(mac, "delete element bridge plumbd allowed { 02:00:00:00:00:0b . \"plb\" }\n"
                             "add element bridge plumbd allowed { 02:00:00:00:00:bb . \"plb\" }\n");
    /* the first port, the last port: the table comes or goes */
    assert_null(nft_delta(NULL, 0, a, 1, NULL, 0, NULL, 0));
    assert_null(nft_delta(a, 1, NULL, 0, NULL, 0, NULL, 0));

    /* masquerade: 10.66/24 is set 0, 10.77/24 set 1, fd00::/64 set 2 */
    struct nft_masq m1[4] = {masq_of("10.77.0.3", "10.77.0.0/24"),
                             masq_of("10.66.0.2", "10.66.0.0/24"),
                             masq_of("fd00::5", "fd00::/64"),
                             masq_of("10.77.0.2", "10.77.0.0/24")};
    struct nft_masq m2[5] = {masq_of("10.77.0.9", "10.77.0.0/24"),
                             masq_of("10.66.0.2", "10.66.0.0/24"),
                             masq_of("fd00::5", "fd00::/64"),
                             masq_of("10.77.0.3", "10.77.0.0/24"),
                             masq_of("10.77.0.3", "10.77.0.0/24")}; /* twice: one element */
    nft_masq_sort(m1, 4);
    nft_masq_sort(m2, 5);
    _cleanup_free_ char *md = nft_delta(a, 3, a, 3, m1, 4, m2, 5);
    assert_string_equal(md, "delete element inet plumbd-nat m4_1 { 10.77.0.2 }\n"
                            "add element inet plumbd-nat m4_1 { 10.77.0.9 }\n");
    struct nft_masq m3[4] = {m2[0], m2[1], m2[3], m2[4]}; /* 10.77.0.3 once */
    _cleanup_free_ char *md0 = nft_delta(a, 3, a, 3, m2, 5, m3, 4);
    assert_string_equal(md0, ""); /* the duplicate's going changes nothing */
    /* fd00::/64 goes: its set and rule go, a replacement */
    assert_null(nft_delta(a, 3, a, 3, m1, 4, m1, 3));
    /* masquerading starts: the nat table comes */
    assert_null(nft_delta(a, 3, a, 3, NULL, 0, m1, 4));
}

/* A delta cut into transactions: never between the two lines of a port. */
static void test_delta_split(void **state)
{
    (void)state;
    struct nft_port p[5];
    for (size_t i = 0; i < 5; i++) {
        snprintf(p[i].ifname, sizeof(p[i].ifname), "pl%zu", i);
        memset(p[i].mac, 0, 6);
        p[i].mac[5] = (uint8_t)i;
    }
    struct nft_masq m[2] = {masq_of("10.66.0.2", "10.66.0.0/24"),
                            masq_of("10.66.0.3", "10.66.0.0/24")};
    /* pl0 stays; pl1..pl4 come (8 lines); 10.66.0.3 comes (1 line) */
    _cleanup_free_ char *d = nft_delta(p, 1, p, 5, m, 1, m, 2);
    size_t n, start = 0;
    _cleanup_free_ size_t *ends = nft_delta_split(d, 3, &n); /* 3 -> 2 lines a piece */
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *piece = xstrndup(d + start, ends[i] - start);
        if (i < 4) { /* one port each: its ports and allowed elements */
            char want[256];
            snprintf(want, sizeof(want),
                     "add element bridge plumbd ports { \"pl%zu\" }\n"
                     "add element bridge plumbd allowed { 00:00:00:00:00:%02zx . \"pl%zu\" }\n",
                     i + 1, i + 1, i + 1);
            assert_string_equal(piece, want);
        } else {
            assert_string_equal(piece, "add element inet plumbd-nat m4_0 { 10.66.0.3 }\n");
        }
        start = ends[i];
    }
    assert_int_equal(start, strlen(d));
    free(ends);
    ends = nft_delta_split(d, 256, &n); /* all of it in one */
    assert_int_equal(n, 1);
    assert_int_equal(ends[0], strlen(d));
    free(ends);
    ends = nft_delta_split("", 256, &n); /* nothing to do: no transaction */
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ruleset),
        cmocka_unit_test(test_masq_ruleset),
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_delta_split),
    };
    return cmocka_run_group_tests_name("nft", tests, NULL, NULL);
}
