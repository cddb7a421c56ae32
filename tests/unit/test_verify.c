/* test_verify.c - read-back verification (verify.c, issue 6): desired ⊆
 * current on JSON trees as nmstate compares them (names, sets, canonical
 * addresses, defaults, wildcards, the skip list), the YAML -> JSON
 * conversion that leaves unimplemented keys out, and the property that
 * `plumbd show`'s own output verifies against the node it came from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "model.h"
#include "show.h"
#include "verify.h"

#include "desired_fixture.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fail_msg("bad JSON in the test: %s: %s", e.text, text);
    return v;
}

/* verify desired against current (JSON texts); returns the count and the
 * message in *ret_msg (caller frees, NULL when none). */
static size_t run_opts(const char *desired, const char *current, const struct verify_opts *o,
                       char **ret_msg)
{
    json_t *d = J(desired), *c = J(current);
    struct verify_result r = {0};
    size_t n = verify_state(d, c, o, &r);
    assert_int_equal(n, r.total);
    assert_true(r.n <= VERIFY_MAX_REPORTED);
    char *m = verify_message(&r);
    if (ret_msg)
        *ret_msg = m;
    else
        free(m);
    verify_result_free(&r);
    json_decref(d);
    json_decref(c);
    return n;
}

static size_t run(const char *desired, const char *current, char **ret_msg)
{
    struct verify_opts o = {.check_dns = true};
    return run_opts(desired, current, &o, ret_msg);
}

/* exactly one mismatch, whose text is want */
static void expect_one(const char *desired, const char *current, const char *want)
{
    char *m = NULL;
    size_t n = run(desired, current, &m);
    if (n != 1 || !streq(m, want))
        fail_msg("expected 1 mismatch \"%s\", got %zu: %s", want, n, m ? m : "(none)");
    free(m);
}

static void expect_ok(const char *desired, const char *current)
{
    char *m = NULL;
    size_t n = run(desired, current, &m);
    if (n)
        fail_msg("expected no mismatch, got %zu: %s", n, m);
    free(m);
}

#define BR1(extra)                                                                                 \
    "{\"interfaces\":[{\"name\":\"br-1\",\"type\":\"linux-bridge\",\"state\":\"up\",\"mtu\":1500," \
    "\"bridge\":{\"options\":{\"stp\":{\"enabled\":false}},\"port\":[{\"name\":\"ens19\"},"        \
    "{\"name\":\"plabc\"}]},\"ipv4\":{\"enabled\":true,\"address\":[{\"ip\":\"192.0.2.1\","      \
    "\"prefix-length\":24},{\"ip\":\"192.0.2.9\",\"prefix-length\":24}]},\"ipv6\":{\"enabled\":"  \
    "true,\"address\":[{\"ip\":\"2001:db8::1\",\"prefix-length\":64},{\"ip\":\"fe80::1\","        \
    "\"prefix-length\":64}]}" extra "},"                                                          \
    "{\"name\":\"ens19\",\"type\":\"veth\",\"state\":\"up\",\"mtu\":1500,\"mac-address\":"          \
    "\"c2:b0:57:49:47:f1\",\"controller\":\"br-1\"}]}"

static const char *cur_br1 = BR1("");

static void test_interfaces_scalars(void **state)
{
    (void)state;
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"type\":\"linux-bridge\",\"mtu\":1500}]}",
              cur_br1);
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"mtu\":9000}]}", cur_br1,
               "br-1.mtu: desired 9000, current 1500");
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"bridge\":{\"options\":{\"stp\":{\"enabled\":"
               "true}}}}]}",
               cur_br1, "br-1.bridge.options.stp.enabled: desired true, current false");
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"state\":\"down\"}]}", cur_br1,
               "br-1.state: desired down, current up");
    /* no state: up */
    expect_one("{\"interfaces\":[{\"name\":\"ens19\",\"mtu\":1500}]}",
               "{\"interfaces\":[{\"name\":\"ens19\",\"state\":\"down\",\"mtu\":1500}]}",
               "ens19.state: desired up, current down");
    /* mtu given as a string (quoted in YAML) */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"mtu\":\"1500\"}]}", cur_br1);
    /* MAC case */
    expect_ok("{\"interfaces\":[{\"name\":\"ens19\",\"mac-address\":\"C2:B0:57:49:47:F1\"}]}",
              cur_br1);
    expect_one("{\"interfaces\":[{\"name\":\"ens19\",\"mac-address\":\"C2:B0:57:49:47:F2\"}]}",
               cur_br1, "ens19.mac-address: desired C2:B0:57:49:47:F2, current c2:b0:57:49:47:f1");
}

static void test_interfaces_defaults_and_absent_keys(void **state)
{
    (void)state;
    /* show leaves an empty description out */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"description\":\"\"}]}", cur_br1);
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"description\":\"uplink\"}]}", cur_br1,
               "br-1.description: desired uplink, current absent");
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"description\":\"uplink\"}]}",
              BR1(",\"description\":\"uplink\""));
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"description\":\"up\"}]}",
               BR1(",\"description\":\"uplink\""), "br-1.description: desired up, current uplink");
    /* a key show does not print, given with its default: nothing asked */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"bridge\":{\"options\":{\"mac-ageing\":0}}}]}",
              cur_br1);
    /* ... and with a value: named, not silently passed */
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"bridge\":{\"options\":{\"mac-ageing\":"
               "300}}}]}",
               cur_br1, "br-1.bridge.options.mac-ageing: desired 300, current absent");
}

static void test_interfaces_state_and_type(void **state)
{
    (void)state;
    expect_one("{\"interfaces\":[{\"name\":\"br-9\",\"type\":\"linux-bridge\"}]}", cur_br1,
               "br-9: desired present, current absent");
    expect_ok("{\"interfaces\":[{\"name\":\"br-9\",\"state\":\"absent\"}]}", cur_br1);
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"state\":\"absent\"}]}", cur_br1,
               "br-1: desired absent, current present");
    /* ignore: nothing of it is compared, not even its existence */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"state\":\"ignore\",\"mtu\":9000},"
              "{\"name\":\"gone\",\"state\":\"ignore\"}]}",
              cur_br1);
    /* ethernet stands for an existing device show names veth */
    expect_ok("{\"interfaces\":[{\"name\":\"ens19\",\"type\":\"ethernet\"}]}", cur_br1);
    expect_ok("{\"interfaces\":[{\"name\":\"ens19\",\"type\":\"unknown\"}]}", cur_br1);
    expect_one("{\"interfaces\":[{\"name\":\"ens19\",\"type\":\"linux-bridge\"}]}", cur_br1,
               "ens19.type: desired linux-bridge, current veth");
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"type\":\"ethernet\"}]}", cur_br1,
               "br-1.type: desired ethernet, current linux-bridge");
    /* down: a virtual device deleted, or there and down */
    expect_ok("{\"interfaces\":[{\"name\":\"vx9\",\"type\":\"vxlan\",\"state\":\"down\"}]}",
              cur_br1);
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"state\":\"down\"}]}", cur_br1,
               "br-1.state: desired down, current up");
    const char *ens_down = "{\"interfaces\":[{\"name\":\"ens21\",\"type\":\"veth\","
                           "\"state\":\"down\"}]}";
    expect_ok("{\"interfaces\":[{\"name\":\"ens21\",\"state\":\"down\"}]}", ens_down);
    /* absent on a physical device (an ethernet entry): it stays, down */
    expect_ok("{\"interfaces\":[{\"name\":\"ens21\",\"type\":\"ethernet\",\"state\":"
              "\"absent\"}]}",
              ens_down);
    expect_one("{\"interfaces\":[{\"name\":\"ens21\",\"type\":\"veth\",\"state\":"
               "\"absent\"}]}",
               ens_down, "ens21: desired absent, current present");
    /* copy-mac-from is an instruction: the MAC is what its op reads back */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"copy-mac-from\":\"ens19\"}]}", cur_br1);
}

static void test_ports_as_set(void **state)
{
    (void)state;
    /* extra ports (pods' veths) tolerated, order free */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"bridge\":{\"port\":[{\"name\":\"ens19\"}]}}]}",
              cur_br1);
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"bridge\":{\"port\":[{\"name\":\"plabc\"},"
              "{\"name\":\"ens19\"}]}}]}",
              cur_br1);
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"bridge\":{\"port\":[]}}]}", cur_br1);
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"bridge\":{\"port\":[{\"name\":\"ens19\"},"
               "{\"name\":\"ens20\"}]}}]}",
               cur_br1, "br-1.bridge.port[ens20]: desired present, current absent");
    /* a port's own keys (as bridge options grow) are compared by name */
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"bridge\":{\"port\":[{\"name\":\"ens19\","
               "\"stp-priority\":32}]}}]}",
               cur_br1, "br-1.bridge.port[ens19].stp-priority: desired 32, current absent");
}

static void test_addresses(void **state)
{
    (void)state;
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"ipv4\":{\"address\":[{\"ip\":\"192.0.2.1\","
              "\"prefix-length\":24}]}}]}",
              cur_br1);
    /* prefix-length as a string, IPv6 in another spelling */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"ipv4\":{\"address\":[{\"ip\":\"192.0.2.1\","
              "\"prefix-length\":\"24\"}]},\"ipv6\":{\"address\":[{\"ip\":\"2001:DB8:0::1\","
              "\"prefix-length\":64}]}}]}",
              cur_br1);
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"ipv4\":{\"address\":[{\"ip\":\"192.0.2.1\","
               "\"prefix-length\":25}]}}]}",
               cur_br1, "br-1.ipv4.address 192.0.2.1/25: desired present, current absent");
    /* allow-extra-address: false names every extra one but IPv6 link-local */
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"ipv4\":{\"allow-extra-address\":false,"
               "\"address\":[{\"ip\":\"192.0.2.1\",\"prefix-length\":24}]}}]}",
               cur_br1,
               "br-1.ipv4.address 192.0.2.9/24: desired absent (allow-extra-address: false), "
               "current present");
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"ipv6\":{\"allow-extra-address\":false,"
              "\"address\":[{\"ip\":\"2001:db8::1\",\"prefix-length\":64}]}}]}",
              cur_br1);
    /* with dhcp, leased addresses come and go: tolerated */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"ipv4\":{\"dhcp\":true,"
              "\"allow-extra-address\":false,\"address\":[{\"ip\":\"192.0.2.1\","
              "\"prefix-length\":24}]}}]}",
              cur_br1);
    /* an interface without addresses */
    expect_one("{\"interfaces\":[{\"name\":\"ens19\",\"ipv4\":{\"enabled\":true,\"address\":["
               "{\"ip\":\"10.0.0.1\",\"prefix-length\":8}]}}]}",
               cur_br1, "ens19.ipv4.address 10.0.0.1/8: desired present, current absent");
}

static void test_skip_list(void **state)
{
    (void)state;
    /* enabled is derived by show and not acted on: compared through the
     * addresses; dhcp/autoconf are not printed by show */
    expect_ok("{\"interfaces\":[{\"name\":\"ens19\",\"ipv4\":{\"enabled\":true,\"dhcp\":true},"
              "\"ipv6\":{\"enabled\":false,\"dhcp\":true,\"autoconf\":true}}]}",
              cur_br1);
    expect_ok("{\"routes\":{\"running\":[{\"destination\":\"10.0.0.0/8\"}]},"
              "\"route-rules\":{\"running\":[{\"priority\":5}]},"
              "\"dns-resolver\":{\"running\":{\"server\":[\"9.9.9.9\"]}}}",
              "{}");
    size_t n = 0;
    for (const struct verify_skip *s = verify_skipped; s->path; s++, n++)
        assert_non_null(s->why);
    assert_true(n >= 10);
    /* DHCP client options are not kernel state */
    expect_ok("{\"interfaces\":[{\"name\":\"br-1\",\"ipv4\":{\"auto-dns\":true,"
              "\"auto-gateway\":true,\"auto-routes\":true,\"auto-route-table-id\":100}}]}",
              cur_br1);
}

static const char *cur_routes =
    "{\"routes\":{\"config\":["
    "{\"destination\":\"198.51.100.0/24\",\"next-hop-interface\":\"ens19\","
    "\"next-hop-address\":\"192.0.2.2\",\"metric\":150,\"table-id\":254},"
    "{\"destination\":\"203.0.113.0/24\",\"next-hop-interface\":\"ens19\","
    "\"next-hop-address\":\"192.0.2.2\",\"metric\":0,\"table-id\":100},"
    "{\"destination\":\"10.66.0.0/16\",\"metric\":0,\"table-id\":100,\"route-type\":\"blackhole\"},"
    "{\"destination\":\"2001:db8:99::/64\",\"next-hop-interface\":\"ens19\","
    "\"next-hop-address\":\"2001:db8:1::2\",\"metric\":1024,\"table-id\":254}]}}";

static void test_routes(void **state)
{
    (void)state;
    expect_ok("{\"routes\":{\"config\":[{\"destination\":\"198.51.100.0/24\","
              "\"next-hop-interface\":\"ens19\",\"next-hop-address\":\"192.0.2.2\","
              "\"metric\":150},{\"destination\":\"203.0.113.0/24\",\"table-id\":100},"
              "{\"destination\":\"10.66.0.0/16\",\"route-type\":\"blackhole\",\"table-id\":100},"
              "{\"destination\":\"2001:DB8:99::/64\",\"next-hop-address\":\"2001:db8:1:0::2\"}]}}",
              cur_routes);
    /* table-id 0 is main; an IPv6 metric 0 is 1024 */
    expect_ok("{\"routes\":{\"config\":[{\"destination\":\"198.51.100.0/24\",\"table-id\":0},"
              "{\"destination\":\"2001:db8:99::/64\",\"metric\":0}]}}",
              cur_routes);
    assert_int_equal(run("{\"routes\":{\"config\":[{\"destination\":\"203.0.113.0/24\","
                         "\"metric\":0,\"table-id\":0}]}}",
                         cur_routes, NULL),
                     1);
    /* no table-id: the main table, where there is none */
    expect_one("{\"routes\":{\"config\":[{\"destination\":\"203.0.113.0/24\"}]}}", cur_routes,
               "routes.config {\"destination\":\"203.0.113.0/24\"}: desired present, current absent");
    expect_one("{\"routes\":{\"config\":[{\"destination\":\"198.51.100.0/24\",\"metric\":100}]}}",
               cur_routes,
               "routes.config {\"destination\":\"198.51.100.0/24\",\"metric\":100}: desired "
               "present, current absent");
    /* absent: a wildcard that must match nothing */
    expect_ok("{\"routes\":{\"config\":[{\"destination\":\"10.99.0.0/16\",\"state\":\"absent\"}]}}",
              cur_routes);
    char *m = NULL;
    assert_int_equal(run("{\"routes\":{\"config\":[{\"table-id\":100,\"state\":\"absent\"}]}}",
                         cur_routes, &m),
                     2);
    assert_non_null(strstr(m, "routes.config {\"table-id\":100}: desired absent, current present"));
    free(m);
    /* ... unless a present entry wants the route: of this policy */
    expect_ok("{\"routes\":{\"config\":[{\"table-id\":100,\"state\":\"absent\"},"
              "{\"destination\":\"203.0.113.0/24\",\"table-id\":100},"
              "{\"destination\":\"10.66.0.0/16\",\"route-type\":\"blackhole\",\"table-id\":100}]}}",
              cur_routes);
    /* ... or of another policy */
    json_t *other = J("{\"routes\":{\"config\":[{\"destination\":\"203.0.113.0/24\","
                      "\"table-id\":100},{\"destination\":\"10.66.0.0/16\",\"table-id\":100}]}}");
    struct verify_opts o = {.check_dns = true, .others = &other, .nothers = 1};
    assert_int_equal(
        run_opts("{\"routes\":{\"config\":[{\"table-id\":100,\"state\":\"absent\"}]}}", cur_routes,
                 &o, NULL),
        0);
    json_decref(other);
}

static const char *cur_rules =
    "{\"route-rules\":{\"config\":["
    "{\"ip-from\":\"10.0.0.0/8\",\"priority\":500,\"route-table\":100},"
    "{\"family\":\"ipv4\",\"priority\":600,\"route-table\":100,\"fwmark\":16,"
    "\"fwmask\":4294967295},"
    "{\"family\":\"ipv6\",\"priority\":700,\"action\":\"blackhole\",\"iif\":\"ens19\"},"
    "{\"ip-to\":\"2001:db8::/32\",\"priority\":800,\"route-table\":254}]}}";

static void test_rules(void **state)
{
    (void)state;
    expect_ok("{\"route-rules\":{\"config\":[{\"ip-from\":\"10.0.0.0/8\",\"route-table\":100},"
              "{\"priority\":600,\"route-table\":100,\"fwmark\":\"0x10\"},"
              "{\"family\":\"ipv6\",\"action\":\"blackhole\",\"iif\":\"ens19\"},"
              "{\"ip-to\":\"2001:DB8::/32\"}]}}",
              cur_rules);
    expect_one("{\"route-rules\":{\"config\":[{\"ip-from\":\"10.0.0.0/8\",\"priority\":501,"
               "\"route-table\":100}]}}",
               cur_rules,
               "route-rules.config {\"ip-from\":\"10.0.0.0/8\",\"priority\":501,\"route-table\":100}"
               ": desired present, current absent");
    /* normalization: no route-table is main, which 10.0.0.0/8 does not use */
    assert_int_equal(run("{\"route-rules\":{\"config\":[{\"ip-from\":\"10.0.0.0/8\"}]}}", cur_rules,
                         NULL),
                     1);
    /* a present rule without iif is not the one with iif */
    assert_int_equal(run("{\"route-rules\":{\"config\":[{\"family\":\"ipv6\",\"priority\":700,"
                         "\"action\":\"blackhole\"}]}}",
                         cur_rules, NULL),
                     1);
    /* absent wildcards */
    expect_ok("{\"route-rules\":{\"config\":[{\"priority\":900,\"state\":\"absent\"}]}}", cur_rules);
    expect_one("{\"route-rules\":{\"config\":[{\"priority\":500,\"state\":\"absent\"}]}}", cur_rules,
               "route-rules.config {\"priority\":500}: desired absent, current present "
               "({\"ip-from\":\"10.0.0.0/8\",\"priority\":500,\"route-table\":100})");
    assert_int_equal(run("{\"route-rules\":{\"config\":[{\"route-table\":100,\"state\":"
                         "\"absent\"}]}}",
                         cur_rules, NULL),
                     2);
    /* ip-from "" matches rules without a source */
    assert_int_equal(run("{\"route-rules\":{\"config\":[{\"ip-from\":\"\",\"route-table\":100,"
                         "\"state\":\"absent\"}]}}",
                         cur_rules, NULL),
                     1);
    expect_ok("{\"route-rules\":{\"config\":[{\"route-table\":100,\"state\":\"absent\"},"
              "{\"ip-from\":\"10.0.0.0/8\",\"route-table\":100},{\"fwmark\":16,\"route-table\":100}"
              "]}}",
              cur_rules);
}

static void test_dns(void **state)
{
    (void)state;
    const char *cur = "{\"dns-resolver\":{\"config\":{\"server\":[\"192.0.2.53\",\"2001:db8::53\"],"
                      "\"search\":[\"example.com\"],\"options\":[]}}}";
    expect_ok("{\"dns-resolver\":{\"config\":{\"server\":[\"192.0.2.53\",\"2001:DB8::53\"],"
              "\"search\":[\"example.com\"]}}}",
              cur);
    expect_one("{\"dns-resolver\":{\"config\":{\"server\":[\"2001:db8::53\",\"192.0.2.53\"],"
               "\"search\":[\"example.com\"]}}}",
               cur,
               "dns-resolver.config.server: desired [\"2001:db8::53\",\"192.0.2.53\"], current "
               "[\"192.0.2.53\",\"2001:db8::53\"]");
    /* config: {} asks for no setting at all */
    assert_int_equal(run("{\"dns-resolver\":{\"config\":{}}}", cur, NULL), 2);
    expect_ok("{\"dns-resolver\":{\"config\":{}}}", "{\"dns-resolver\":{\"config\":{}}}");
    /* no resolv.conf managed: not compared */
    struct verify_opts o = {.check_dns = false};
    assert_int_equal(run_opts("{\"dns-resolver\":{\"config\":{}}}", cur, &o, NULL), 0);
}

static void test_generic_lists(void **state)
{
    (void)state;
    const char *cur = "{\"interfaces\":[{\"name\":\"bond0\",\"state\":\"up\",\"link-aggregation\":{\"mode\":"
                      "\"active-backup\",\"port\":[\"eth1\",\"eth2\"],\"options\":{\"miimon\":100}}"
                      ",\"vlan-ranges\":[{\"min\":2,\"max\":9},{\"min\":20,\"max\":29}]}]}";
    /* scalars: the same set */
    expect_ok("{\"interfaces\":[{\"name\":\"bond0\",\"link-aggregation\":{\"port\":[\"eth2\","
              "\"eth1\"]}}]}",
              cur);
    expect_one("{\"interfaces\":[{\"name\":\"bond0\",\"link-aggregation\":{\"port\":[\"eth1\"]}}]}",
               cur,
               "bond0.link-aggregation.port: desired [\"eth1\"], current [\"eth1\",\"eth2\"]");
    expect_one("{\"interfaces\":[{\"name\":\"bond0\",\"link-aggregation\":{\"options\":{\"miimon\":"
               "\"200\"}}}]}",
               cur, "bond0.link-aggregation.options.miimon: desired 200, current 100");
    /* maps without a name: each held by some current item */
    expect_ok("{\"interfaces\":[{\"name\":\"bond0\",\"vlan-ranges\":[{\"min\":20,\"max\":29}]}]}",
              cur);
    expect_one("{\"interfaces\":[{\"name\":\"bond0\",\"vlan-ranges\":[{\"min\":20,\"max\":30}]}]}",
               cur,
               "bond0.vlan-ranges {\"min\":20,\"max\":30}: desired present, current absent");
}

static void test_capture_templates(void **state)
{
    (void)state;
    /* references the capture step did not resolve are not compared */
    expect_ok("{\"interfaces\":[{\"name\":\"{{ capture.gw.interfaces.0.name }}\",\"mtu\":9000},"
              "{\"name\":\"br-1\",\"description\":\"{{ capture.x.y }}\"}],"
              "\"routes\":{\"config\":[{\"destination\":\"0.0.0.0/0\",\"next-hop-address\":"
              "\"{{ capture.gw.routes.running.0.next-hop-address }}\"}]},"
              "\"route-rules\":{\"config\":[{\"ip-from\":\"{{ capture.a.b }}\"}]}}",
              cur_br1);
    /* "{{" alone is an ordinary string */
    expect_one("{\"interfaces\":[{\"name\":\"br-1\",\"description\":\"{{\"}]}", cur_br1,
               "br-1.description: desired {{, current absent");
}

static void test_message_limit(void **state)
{
    (void)state;
    char *m = NULL;
    size_t n = run("{\"interfaces\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"},"
                   "{\"name\":\"d\"},{\"name\":\"e\"}]}",
                   "{\"interfaces\":[]}", &m);
    assert_int_equal(n, 5);
    assert_string_equal(m, "a: desired present, current absent; b: desired present, current "
                           "absent; c: desired present, current absent (and 2 more)");
    free(m);
    struct verify_result r = {0};
    assert_null(verify_message(&r));
    /* no current tree at all: everything desired is missing */
    json_t *d = J("{\"interfaces\":[{\"name\":\"a\"}]}");
    assert_int_equal(verify_state(d, NULL, NULL, &r), 1);
    verify_result_free(&r);
    json_decref(d);
}

/* ---- from YAML ---------------------------------------------------------- */

static const struct policy *only_policy(const struct desired *d)
{
    assert_int_equal(d->npolicies, 1);
    assert_non_null(d->policies[0].state);
    return &d->policies[0];
}

static void test_desired_from_yaml(void **state)
{
    (void)state;
    struct desired d;
    fixture_load("apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
                 "metadata:\n  name: p\nspec:\n  desiredState:\n    interfaces:\n"
                 "    - name: br-1\n      type: linux-bridge\n      mtu: 9000\n"
                 "      description: \"1500\"\n      mac-address: 02:00:00:00:00:01\n"
                 "      bridge:\n        options:\n          stp:\n            enabled: no\n"
                 "      ipv4:\n        enabled: true\n        dhcp: true\n"
                 "        allow-extra-address: false\n"
                 "    routes:\n      config:\n      - destination: 10.0.0.0/8\n"
                 "        next-hop-interface: br-1\n        weight: 5\n",
                 &d, 0);
    const struct policy *p = only_policy(&d);
    char *s = json_dumps(p->state, JSON_COMPACT | JSON_SORT_KEYS);
    /* typed as YAML reads it; weight (not implemented) is out; dhcp (on
     * the skip list) stays as a hint, like allow-extra-address */
    assert_string_equal(
        s, "{\"interfaces\":[{\"bridge\":{\"options\":{\"stp\":{\"enabled\":false}}},"
           "\"description\":\"1500\",\"ipv4\":{\"allow-extra-address\":false,\"dhcp\":true,"
           "\"enabled\":true},\"mac-address\":\"02:00:00:00:00:01\",\"mtu\":9000,\"name\":\"br-1\",\"type\":\"linux-bridge\"}],"
           "\"routes\":{\"config\":[{\"destination\":\"10.0.0.0/8\",\"next-hop-interface\":"
           "\"br-1\"}]}}");
    free(s);
    desired_free(&d);

    /* a bare nmstate file: the document itself */
    fixture_load("interfaces:\n- name: ens19\n  type: ethernet\n  mtu: 1400\n", &d, 0);
    s = json_dumps(only_policy(&d)->state, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"interfaces\":[{\"mtu\":1400,\"name\":\"ens19\",\"type\":"
                           "\"ethernet\"}]}");
    free(s);
    desired_free(&d);
    assert_null(verify_desired_json(NULL, NULL));

    /* allow-extra-address is a boolean of the schema */
    fixture_load("interfaces:\n- name: ens19\n  type: ethernet\n  ipv4:\n"
                 "    allow-extra-address: sometimes\n",
                 &d, 1);
    assert_true(has_error(&d, "allow-extra-address"));
    desired_free(&d);
}

/* ---- show's output verifies against the node it came from ---------------- */

static void add_link(struct live_ns *l, int idx, const char *name, const char *kind, int master,
                     unsigned mtu)
{
    struct live_link *k = ARRAY_PUSH(l->links, l->nlinks);
    k->ifindex = idx;
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    k->master = master;
    k->mtu = mtu;
    k->flags = IFF_UP;
    k->stp = streq(kind, "bridge") ? 1 : -1;
    k->vlan_filtering = -1;
    k->brport_hairpin = k->brport_isolated = -1;
    k->has_mac = true;
    k->mac[0] = 2;
    k->mac[5] = (uint8_t)idx;
}

static void add_addr(struct live_ns *l, int idx, const char *a)
{
    struct live_addr *x = ARRAY_PUSH(l->addrs, l->naddrs);
    x->ifindex = idx;
    assert_int_equal(ipaddr_parse(a, -1, &x->addr), 0);
}

static void node_build(struct live_ns *l)
{
    memset(l, 0, sizeof(*l));
    add_link(l, 1, "lo", "", 0, 65536);
    add_link(l, 2, "ens19", "veth", 3, 1500);
    add_link(l, 3, "br-1", "bridge", 0, 1500);
    add_link(l, 4, "ens20", "veth", 0, 9000);
    l->links[2].alias = xstrdup("the bridge");
    add_addr(l, 1, "127.0.0.1/8");
    add_addr(l, 3, "192.0.2.1/24");
    add_addr(l, 3, "2001:db8::1/64");
    add_addr(l, 3, "fe80::1/64");
    struct live_route *r = ARRAY_PUSH(l->routes, l->nroutes);
    assert_int_equal(ipaddr_parse("198.51.100.0/24", -1, &r->dst), 0);
    assert_int_equal(ipaddr_parse("192.0.2.2", -1, &r->gw), 0);
    r->has_gw = true;
    r->ifindex = 3;
    r->table = 100;
    r->priority = 150;
    r->type = RTN_UNICAST;
    r->protocol = RTPROT_STATIC;
    r = ARRAY_PUSH(l->routes, l->nroutes);
    assert_int_equal(ipaddr_parse("10.66.0.0/16", -1, &r->dst), 0);
    r->table = 254;
    r->type = RTN_BLACKHOLE;
    r->protocol = RTPROT_STATIC;
    struct live_rule *u = ARRAY_PUSH(l->rules, l->nrules);
    u->family = AF_INET;
    u->has_src = true;
    assert_int_equal(ipaddr_parse("10.0.0.0/8", -1, &u->src), 0);
    u->priority = 500;
    u->table = 100;
    u->action = FR_ACT_TO_TBL;
    u = ARRAY_PUSH(l->rules, l->nrules);
    u->family = AF_INET6;
    u->priority = 600;
    u->fwmark = 0x10;
    u->fwmask = 0xffffffff;
    u->action = FR_ACT_PROHIBIT;
}

static void test_show_verifies_against_itself(void **state)
{
    (void)state;
    struct live_ns l;
    node_build(&l);
    json_t *cur = show_build(&l, NULL);
    char *yaml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&yaml, &len);
    yaml_emit(f, cur);
    fclose(f);

    struct desired d;
    fixture_load(yaml, &d, 0);
    const struct policy *p = only_policy(&d);
    struct verify_result r = {0};
    struct verify_opts o = {.check_dns = true};
    size_t n = verify_state(p->state, cur, &o, &r);
    char *m = verify_message(&r);
    if (n)
        fail_msg("show's own output does not verify: %s\n%s", m, yaml);

    /* and a change on the node is named */
    l.links[2].mtu = 9000;
    l.links[2].stp = 0;
    json_t *changed = show_build(&l, NULL);
    verify_result_free(&r);
    n = verify_state(p->state, changed, &o, &r);
    free(m);
    m = verify_message(&r);
    assert_int_equal(n, 2);
    assert_string_equal(m, "br-1.mtu: desired 1500, current 9000; "
                           "br-1.bridge.options.stp.enabled: desired true, current false");
    free(m);
    verify_result_free(&r);
    json_decref(changed);
    json_decref(cur);
    desired_free(&d);
    free(yaml);
    live_ns_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interfaces_scalars),
        cmocka_unit_test(test_interfaces_defaults_and_absent_keys),
        cmocka_unit_test(test_interfaces_state_and_type),
        cmocka_unit_test(test_ports_as_set),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_skip_list),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_dns),
        cmocka_unit_test(test_generic_lists),
        cmocka_unit_test(test_capture_templates),
        cmocka_unit_test(test_message_limit),
        cmocka_unit_test(test_desired_from_yaml),
        cmocka_unit_test(test_show_verifies_against_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
