/* test_nft.c - the macspoofchk transaction text (nft_ruleset), pure. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ruleset),
    };
    return cmocka_run_group_tests_name("nft", tests, NULL, NULL);
}
