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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ruleset),
        cmocka_unit_test(test_masq_ruleset),
    };
    return cmocka_run_group_tests_name("nft", tests, NULL, NULL);
}
