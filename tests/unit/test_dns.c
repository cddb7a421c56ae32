/* test_dns.c - dns-resolver.config (issue 6): the validator (servers,
 * search domains, options and their errors), the planner (set, converged,
 * conflict by age, removal restores, prune "false" lets go) and the
 * journal (JSON round trip, inverse, read-back verification on a file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "dns.h"
#include "journal.h"
#include "plan.h"

#define ID_A "NodeNetworkConfigurationPolicy/a"
#define ID_B "NodeNetworkConfigurationPolicy/b"
#define ORIG "nameserver 9.9.9.9\n"

static char *policy_yaml(const char *name, const char *config)
{
    return xasprintf("apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
                     "metadata:\n  name: %s\nspec:\n  desiredState:\n    dns-resolver:\n"
                     "      config: %s\n",
                     name, config);
}

static void load(const char *yaml, struct desired *d, size_t want_errors)
{
    struct docset docs = {0};
    struct diags diags = {0};
    memset(d, 0, sizeof(*d));
    load_buffer("t.yaml", yaml, strlen(yaml), &docs, &diags);
    assert_int_equal(diags_count(&diags, DIAG_ERROR), 0);
    validate_docs(&docs, d);
    if (diags_count(&d->diags, DIAG_ERROR) != want_errors)
        for (size_t i = 0; i < d->diags.n; i++)
            print_message("diag: %s\n", d->diags.v[i].msg);
    assert_int_equal(diags_count(&d->diags, DIAG_ERROR), want_errors);
    docset_free(&docs);
    diags_clear(&diags);
}

static bool has_error(const struct desired *d, const char *needle)
{
    for (size_t i = 0; i < d->diags.n; i++)
        if (d->diags.v[i].severity == DIAG_ERROR && strstr(d->diags.v[i].msg, needle))
            return true;
    return false;
}

static void do_plan(const struct desired *d, const struct dns_state *ds, char *const *keep,
                    size_t nkeep, struct plan *p)
{
    struct live_ns node = {0};
    struct inventory inv = {0};
    struct plan_input in = {.desired = d, .node = &node, .inv = &inv, .dns = ds,
                            .keep_owners = keep, .nkeep_owners = nkeep};
    memset(p, 0, sizeof(*p));
    assert_int_equal(plan_build(&in, p), 0);
}

static const struct objstatus *status_of(const struct plan *p, const char *id)
{
    for (size_t i = 0; i < p->nstatus; i++)
        if (streq(p->status[i].id, id))
            return &p->status[i];
    fail_msg("no status for %s", id);
    return NULL;
}

/* ---- validator ---- */

static void test_validate(void **state)
{
    (void)state;
    struct desired d;
    _cleanup_free_ char *y = policy_yaml(
        "a", "{server: [192.0.2.53, \"2001:db8::53\", \"fe80::1%eth0\"], search: [example.com, "
             "lab.local.], options: [rotate, \"ndots:2\", \"timeout:1\"]}");
    load(y, &d, 0);
    assert_int_equal(d.npolicies, 1);
    const struct dns_config *c = &d.policies[0].dns;
    assert_true(c->set);
    assert_int_equal(c->nserver, 3);
    assert_string_equal(c->server[1], "2001:db8::53");
    assert_int_equal(c->nsearch, 2);
    assert_string_equal(c->search[1], "lab.local.");
    assert_int_equal(c->noptions, 3);
    assert_string_equal(c->options[1], "ndots:2");
    desired_free(&d);

    /* config: {} is set, and empty */
    _cleanup_free_ char *e = policy_yaml("a", "{}");
    load(e, &d, 0);
    assert_true(d.policies[0].dns.set);
    assert_int_equal(d.policies[0].dns.nserver + d.policies[0].dns.nsearch, 0);
    desired_free(&d);

    /* no dns-resolver: not set */
    load("interfaces: []\n", &d, 0);
    assert_false(d.policies[0].dns.set);
    desired_free(&d);
}

static void test_validate_errors(void **state)
{
    (void)state;
    struct desired d;
    _cleanup_free_ char *y = policy_yaml(
        "a", "{server: [192.0.2.300, \"192.0.2.1/24\", \"2001:db8::1%eth0\", 192.0.2.53, "
             "192.0.2.53], search: [\"bad domain\", \"a..b\"], options: [\"ndots:\", \"-x\"]}");
    load(y, &d, 8);
    assert_true(has_error(&d, "server[0]: '192.0.2.300' is not an IPv4 or IPv6 address"));
    assert_true(has_error(&d, "server[1]: '192.0.2.1/24' is not"));
    assert_true(has_error(&d, "server[2]: '2001:db8::1%eth0' is not")); /* zone: link-local only */
    assert_true(has_error(&d, "server[4]: '192.0.2.53' is listed twice"));
    assert_true(has_error(&d, "search[0]: 'bad domain' is not a domain name"));
    assert_true(has_error(&d, "search[1]: 'a..b' is not a domain name"));
    assert_true(has_error(&d, "options[0]: 'ndots:' is not a resolver option"));
    assert_true(has_error(&d, "options[1]: '-x' is not a resolver option"));
    assert_int_equal(d.npolicies, 0);
    assert_int_equal(d.ninvalid, 1);
    desired_free(&d);

    _cleanup_free_ char *s = policy_yaml("a", "{server: 192.0.2.53}");
    load(s, &d, 1);
    assert_true(has_error(&d, "must be an array") || has_error(&d, "must be a list"));
    desired_free(&d);
}

/* ---- resolv.conf text ---- */

static void test_render_parse(void **state)
{
    (void)state;
    char *srv[] = {"192.0.2.53", "2001:db8::53"}, *se[] = {"example.com"}, *op[] = {"rotate"};
    struct dns_config c = {.set = true, .server = srv, .nserver = 2, .search = se, .nsearch = 1,
                           .options = op, .noptions = 1};
    _cleanup_free_ char *t = dns_render(&c, ID_A);
    assert_string_equal(t, "# Generated by plumbd for " ID_A "; changes are put back\n"
                           "search example.com\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
                           "options rotate\n");
    assert_true(dns_file_matches(t, &c));
    /* another layout of the same settings matches; an extra line does not */
    assert_true(dns_file_matches("# x\nnameserver 192.0.2.53\noptions rotate\n"
                                 "nameserver 2001:db8::53\ndomain example.com\n", &c));
    assert_false(dns_file_matches("sortlist 10.0.0.0\nsearch example.com\nnameserver 192.0.2.53\n"
                                  "nameserver 2001:db8::53\noptions rotate\n", &c));
    assert_false(dns_file_matches(ORIG, &c));
    struct dns_config empty = {.set = true};
    assert_true(dns_file_matches(NULL, &empty)); /* no file: no DNS settings */
    struct dns_config have;
    dns_parse(ORIG, &have);
    _cleanup_free_ char *m = dns_mismatch(&c, &have);
    assert_string_equal(m, "dns-resolver.server: desired [192.0.2.53, 2001:db8::53], current "
                           "[9.9.9.9]");
    dns_config_free(&have);
}

/* ---- planner ---- */

static void test_plan_set_converged(void **state)
{
    (void)state;
    struct desired d;
    struct plan p;
    _cleanup_free_ char *y = policy_yaml("a", "{server: [192.0.2.53], search: [example.com]}");
    load(y, &d, 0);
    struct dns_state ds = {.path = "/r/resolv.conf", .exists = true, .text = xstrdup(ORIG)};

    do_plan(&d, &ds, NULL, 0, &p);
    assert_int_equal(p.nops, 1);
    const struct op *op = &p.ops[0];
    assert_int_equal(op->type, OP_DNS_SET);
    assert_string_equal(op->owner, ID_A);
    assert_string_equal(op->dns.path, "/r/resolv.conf");
    assert_string_equal(op->dns.content, "# Generated by plumbd for " ID_A
                                         "; changes are put back\nsearch example.com\n"
                                         "nameserver 192.0.2.53\n");
    assert_true(op->dns.prev_exists);
    assert_string_equal(op->dns.prev, ORIG);
    assert_string_equal(op->dns.holder, ID_A);
    assert_null(op->dns.prev_holder);
    assert_true(op->dns.orig_exists);
    assert_string_equal(op->dns.orig, ORIG);
    assert_int_equal(status_of(&p, ID_A)->cond, COND_PROGRESSING);
    char *written = xstrdup(op->dns.content);
    plan_free(&p);

    /* after apply: the file is ours and as asked: nothing */
    free(ds.text);
    ds.text = written;
    ds.holder = xstrdup(ID_A);
    ds.orig_exists = true;
    ds.orig = xstrdup(ORIG);
    do_plan(&d, &ds, NULL, 0, &p);
    assert_int_equal(p.nops, 0);
    assert_int_equal(status_of(&p, ID_A)->cond, COND_AVAILABLE);
    plan_free(&p);

    /* a hand edit: put back, the original carried over */
    free(ds.text);
    ds.text = xstrdup("nameserver 1.1.1.1\n");
    do_plan(&d, &ds, NULL, 0, &p);
    assert_int_equal(p.nops, 1);
    assert_string_equal(p.ops[0].dns.orig, ORIG);
    assert_string_equal(p.ops[0].dns.prev, "nameserver 1.1.1.1\n");
    plan_free(&p);

    /* a file plumbd did not write that already says it: not touched */
    dns_state_clear(&ds);
    ds = (struct dns_state){.path = "/r/resolv.conf", .exists = true,
                            .text = xstrdup("search example.com\nnameserver 192.0.2.53\n")};
    do_plan(&d, &ds, NULL, 0, &p);
    assert_int_equal(p.nops, 0);
    plan_free(&p);

    /* DNS not managed (no path): nothing */
    struct dns_state none = {0};
    do_plan(&d, &none, NULL, 0, &p);
    assert_int_equal(p.nops, 0);
    plan_free(&p);
    dns_state_clear(&ds);
    desired_free(&d);
}

static void test_plan_conflict(void **state)
{
    (void)state;
    struct desired d;
    struct plan p;
    _cleanup_free_ char *a = policy_yaml("a", "{server: [192.0.2.53]}");
    _cleanup_free_ char *b = policy_yaml("b", "{server: [192.0.2.54]}");
    _cleanup_free_ char *y = xasprintf("%s---\n%s", a, b);
    load(y, &d, 0); /* in age order: a is the older */
    struct dns_state ds = {.path = "/r/resolv.conf"};
    do_plan(&d, &ds, NULL, 0, &p);
    assert_int_equal(p.nops, 1);
    assert_string_equal(p.ops[0].owner, ID_A);
    assert_null(p.ops[0].dns.orig);
    assert_false(p.ops[0].dns.orig_exists); /* there was no file */
    const struct objstatus *sb = status_of(&p, ID_B);
    assert_int_equal(sb->cond, COND_FAILING);
    assert_string_equal(sb->reason, "Conflict");
    assert_non_null(strstr(sb->message, "dns-resolver is also configured by " ID_A " (t.yaml)"));
    plan_free(&p);
    desired_free(&d);
}

static void test_plan_removal_restores(void **state)
{
    (void)state;
    struct desired d;
    struct plan p;
    load("interfaces: []\n", &d, 0); /* a policy without dns-resolver */
    struct dns_state ds = {.path = "/r/resolv.conf", .exists = true,
                           .text = xstrdup("# Generated by plumbd\nnameserver 192.0.2.53\n"),
                           .holder = xstrdup(ID_A), .orig_exists = true, .orig = xstrdup(ORIG)};
    do_plan(&d, &ds, NULL, 0, &p);
    assert_int_equal(p.nops, 1);
    const struct op *op = &p.ops[0];
    assert_int_equal(op->type, OP_DNS_SET);
    assert_string_equal(op->owner, ID_A);
    assert_false(op->dns.remove);
    assert_string_equal(op->dns.content, ORIG);
    assert_null(op->dns.holder);
    assert_string_equal(op->dns.prev_holder, ID_A);
    _cleanup_free_ char *desc = op_describe(op);
    assert_non_null(strstr(desc, "(restore)"));
    plan_free(&p);

    /* the file did not exist before plumbd: removed */
    ds.orig_exists = false;
    free(ds.orig);
    ds.orig = NULL;
    do_plan(&d, &ds, NULL, 0, &p);
    assert_int_equal(p.nops, 1);
    assert_true(p.ops[0].dns.remove);
    plan_free(&p);

    /* removed with plumbd/prune: "false": only the ownership goes */
    char *keep[] = {ID_A};
    do_plan(&d, &ds, keep, 1, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].type, OP_FORGET);
    assert_true(p.ops[0].dns.set);
    assert_null(p.ops[0].dns.holder);
    plan_free(&p);

    /* nobody owns it: nothing */
    free(ds.holder);
    ds.holder = NULL;
    do_plan(&d, &ds, NULL, 0, &p);
    assert_int_equal(p.nops, 0);
    plan_free(&p);
    dns_state_clear(&ds);
    desired_free(&d);
}

/* ---- journal ---- */

static void test_journal(void **state)
{
    (void)state;
    char dir[] = "/tmp/plumbd-test-dns.XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = xasprintf("%s/resolv.conf", dir);
    struct op op = {.type = OP_DNS_SET, .owner = xstrdup(ID_A), .stp = -1};
    op.dns = (struct dns_op){.set = true, .path = xstrdup(path),
                             .content = xstrdup("# Generated by plumbd\nnameserver 192.0.2.53\n"),
                             .prev_exists = true, .prev = xstrdup(ORIG),
                             .holder = xstrdup(ID_A), .orig_exists = true, .orig = xstrdup(ORIG)};
    _cleanup_free_ char *js = op_to_json(&op);
    struct op back;
    assert_int_equal(op_from_json(js, &back), 0);
    _cleanup_free_ char *js2 = op_to_json(&back);
    assert_string_equal(js, js2);
    assert_string_equal(back.dns.content, op.dns.content);
    assert_string_equal(back.dns.prev, ORIG);
    assert_null(back.dns.prev_holder);
    op_clear(&back);

    /* the inverse writes the previous content back and hands ownership back */
    struct op inv;
    assert_int_equal(op_inverse(&op, NULL, NULL, &inv), 0);
    assert_int_equal(inv.type, OP_DNS_SET);
    assert_false(inv.dns.remove);
    assert_string_equal(inv.dns.content, ORIG);
    assert_string_equal(inv.dns.prev, op.dns.content);
    assert_null(inv.dns.holder);
    assert_string_equal(inv.dns.prev_holder, ID_A);
    assert_string_equal(inv.dns.orig, ORIG);
    op_clear(&inv);

    /* verification reads the file back */
    char *msg = NULL;
    assert_int_equal(dns_write(path, ORIG), 0);
    assert_false(op_verify(&op, NULL, &msg));
    assert_string_equal(msg, "dns-resolver.server: desired [192.0.2.53], current [9.9.9.9]");
    free(msg);
    msg = NULL;
    assert_int_equal(dns_write(path, op.dns.content), 0);
    assert_true(op_verify(&op, NULL, &msg));
    assert_null(msg);

    /* a file that did not exist: the inverse removes it */
    op.dns.prev_exists = false;
    free(op.dns.prev);
    op.dns.prev = NULL;
    assert_int_equal(op_inverse(&op, NULL, NULL, &inv), 0);
    assert_true(inv.dns.remove);
    assert_null(inv.dns.content);
    _cleanup_free_ char *ijs = op_to_json(&inv);
    assert_int_equal(op_from_json(ijs, &back), 0);
    assert_true(back.dns.remove);
    op_clear(&back);
    assert_false(op_verify(&inv, NULL, &msg)); /* the file is there */
    free(msg);
    msg = NULL;
    assert_int_equal(dns_write(path, NULL), 0);
    assert_true(op_verify(&inv, NULL, &msg));
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    op_clear(&inv);
    op_clear(&op);

    /* malformed: a dns-set without its dns object */
    assert_int_not_equal(op_from_json("{\"type\":\"dns-set\",\"owner\":\"x\",\"ifname\":\"\"}", &back),
                         0);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_validate_errors),
        cmocka_unit_test(test_render_parse),
        cmocka_unit_test(test_plan_set_converged),
        cmocka_unit_test(test_plan_conflict),
        cmocka_unit_test(test_plan_removal_restores),
        cmocka_unit_test(test_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
