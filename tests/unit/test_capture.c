/* test_capture.c - spec.capture (issue 6): the nmpolicy expression
 * language (lexer and parser errors with positions, filter, replace, pipe,
 * captures referring to captures, cycles), templates (whole subtrees,
 * types kept, errors at the character), a pass's documents (stored results
 * reused per revision, --recapture, CaptureError) and the golden cases of
 * tests/policy/<case>/ (current.yml + policy.yml -> expected.yml, or
 * expected.err: the lines the error must hold). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/rtnetlink.h>
#include <net/if.h>

#include "capture.h"
#include "model.h"
#include "plan.h"

static json_t *yaml_json(const char *yaml)
{
    struct docset ds = {0};
    struct diags dg = {0};
    assert_int_equal(load_buffer("t.yaml", yaml, strlen(yaml), &ds, &dg), 0);
    assert_int_equal(ds.n, 1);
    json_t *j = capture_ynode_json(ds.v[0].root);
    docset_free(&ds);
    diags_clear(&dg);
    return j;
}

static const char *STATE =
    "interfaces:\n"
    "- {name: eth0, type: ethernet, state: up, mtu: 1500,\n"
    "   ipv4: {enabled: true, address: [{ip: 10.0.0.5, prefix-length: 24}]}}\n"
    "- {name: eth1, type: ethernet, state: up, mtu: 9000, description: \"true\",\n"
    "   ipv4: {enabled: true, address: [{ip: 10.1.0.5, prefix-length: 24},\n"
    "                                   {ip: 10.1.0.6, prefix-length: 24}]}}\n"
    "- {name: eth2, type: ethernet, state: down, mtu: 1500, ipv4: {enabled: false}}\n"
    "routes:\n"
    "  running:\n"
    "  - {destination: 0.0.0.0/0, next-hop-interface: eth0, next-hop-address: 10.0.0.1,\n"
    "     metric: 100}\n"
    "  - {destination: 10.9.0.0/16, next-hop-interface: eth1, next-hop-address: 10.1.0.1,\n"
    "     metric: 0}\n"
    "  config: []\n"
    "dns-resolver: {config: {server: [10.0.0.53, 10.0.0.54]}}\n";

/* Evaluate one capture "x" and compare its result with want (YAML). */
static void check_eval(const char *expr, const char *want_yaml)
{
    json_t *state = yaml_json(STATE), *before = json_deep_copy(state);
    json_t *exprs = json_pack("{s:s}", "x", expr);
    struct capture_error err = {0};
    json_t *res = capture_eval(exprs, state, &err);
    if (!res)
        fail_msg("%s: %s", expr, err.msg);
    json_t *want = yaml_json(want_yaml);
    if (!json_equal(json_object_get(res, "x"), want)) {
        char *a = json_dumps(json_object_get(res, "x"), JSON_COMPACT);
        char *b = json_dumps(want, JSON_COMPACT);
        fail_msg("%s:\n got  %s\n want %s", expr, a, b);
    }
    /* Evaluation never changes its input. */
    assert_true(json_equal(state, before));
    json_decref(want);
    json_decref(res);
    json_decref(exprs);
    json_decref(state);
    json_decref(before);
}

static void check_error(const char *expr, size_t pos, const char *needle)
{
    json_t *state = yaml_json(STATE);
    json_t *exprs = json_pack("{s:s}", "x", expr);
    struct capture_error err = {0};
    json_t *res = capture_eval(exprs, state, &err);
    if (res)
        fail_msg("%s: no error", expr);
    if (err.pos != pos || !strstr(err.msg, needle))
        fail_msg("%s: got '%s' at %zu, want '%s' at %zu", expr, err.msg, err.pos, needle, pos);
    /* The one-line form names the capture, the position and the text; the
     * snippet puts a caret under the position. */
    _cleanup_free_ char *line = capture_error_line(&err);
    assert_non_null(strstr(line, "capture x: "));
    _cleanup_free_ char *snip = capture_error_snippet(&err);
    _cleanup_free_ char *caret = xasprintf("\n| %*s^", (int)pos, "");
    assert_non_null(strstr(snip, caret));
    capture_error_clear(&err);
    json_decref(exprs);
    json_decref(state);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    check_error("", 0, "expected a path");
    check_error("interfaces.name", 15, "expected '==' or ':='");
    check_error("interfaces.name==", 17, "expected a \"string\"");
    check_error("interfaces..name==\"a\"", 11, "a key or an index");
    check_error("interfaces.name==\"eth0", 17, "unterminated string");
    check_error("interfaces.name==eth0", 17, "found a name 'eth0'");
    check_error("interfaces.name=\"eth0\"", 15, "'=' is not an operator");
    check_error("interfaces.name==\"a\" \"b\"", 21, "the end of the expression");
    check_error("interfaces.0x==1", 12, "in a number");
    check_error("interfaces.name ~ 1", 16, "unexpected character '~'");
    check_error("capture.y.interfaces | name==\"a\"", 10, "a pipe takes a whole capture");
    check_error("routes | name==\"a\"", 7, "only capture.NAME can be piped");
    check_error("capture | a==1", 8, "'.' and a capture name");
    check_error("capture.x", 9, "a path into the capture");
    check_error("capture.y | capture.z.a==1", 12, "not a capture");
    check_error("capture.y | capture.z.", 22, "a key or an index");
    check_error("interfaces.name==capture.y.", 27, "a key or an index");
    check_error("interfaces.name==capture", 24, "'.' and a capture name");
}

static void test_filter(void **state)
{
    (void)state;
    /* Entries kept whole, maps pruned to the walked key. */
    check_eval("interfaces.name==\"eth1\"",
               "interfaces:\n- {name: eth1, type: ethernet, state: up, mtu: 9000,\n"
               "   description: \"true\", ipv4: {enabled: true, address: [{ip: 10.1.0.5,\n"
               "   prefix-length: 24}, {ip: 10.1.0.6, prefix-length: 24}]}}\n");
    check_eval("routes.running.destination==\"0.0.0.0/0\"",
               "routes: {running: [{destination: 0.0.0.0/0, next-hop-interface: eth0,\n"
               "   next-hop-address: 10.0.0.1, metric: 100}]}\n");
    /* Numbers, several matches in order. */
    check_eval("interfaces.mtu==1500",
               "interfaces:\n- {name: eth0, type: ethernet, state: up, mtu: 1500,\n"
               "   ipv4: {enabled: true, address: [{ip: 10.0.0.5, prefix-length: 24}]}}\n"
               "- {name: eth2, type: ethernet, state: down, mtu: 1500, ipv4: {enabled: false}}\n");
    /* Booleans; a key some entries lack (eth2 has no address) is no match. */
    check_eval("interfaces.ipv4.address.ip==\"10.0.0.5\"",
               "interfaces:\n- {name: eth0, type: ethernet, state: up, mtu: 1500,\n"
               "   ipv4: {enabled: true, address: [{ip: 10.0.0.5, prefix-length: 24}]}}\n");
    check_eval("interfaces.ipv4.enabled==false",
               "interfaces:\n- {name: eth2, type: ethernet, state: down, mtu: 1500,"
               " ipv4: {enabled: false}}\n");
    /* A quoted "true" is a string, not a boolean. */
    check_eval("interfaces.description==\"true\"",
               "interfaces:\n- {name: eth1, type: ethernet, state: up, mtu: 9000,\n"
               "   description: \"true\", ipv4: {enabled: true, address: [{ip: 10.1.0.5,\n"
               "   prefix-length: 24}, {ip: 10.1.0.6, prefix-length: 24}]}}\n");
    /* An index step picks one entry. */
    check_eval("interfaces.2.state==\"down\"",
               "interfaces:\n- {name: eth2, type: ethernet, state: down, mtu: 1500,"
               " ipv4: {enabled: false}}\n");
    check_eval("interfaces.0.state==\"down\"", "{}\n");
    /* A list of scalars matches when it holds the value. */
    check_eval("dns-resolver.config.server==\"10.0.0.54\"",
               "dns-resolver: {config: {server: [10.0.0.53, 10.0.0.54]}}\n");
    /* Nothing matches: an empty state; a path that is not there too. */
    check_eval("interfaces.name==\"eth9\"", "{}\n");
    check_eval("bonds.name==\"eth9\"", "{}\n");
    check_error("interfaces.mtu==\"1500\"", 16, "type mismatch");
    check_error("interfaces.name==1", 17, "type mismatch");
}

static void test_replace(void **state)
{
    (void)state;
    check_eval("routes.running.next-hop-interface:=\"br1\"",
               "interfaces:\n- {name: eth0, type: ethernet, state: up, mtu: 1500,\n"
               "   ipv4: {enabled: true, address: [{ip: 10.0.0.5, prefix-length: 24}]}}\n"
               "- {name: eth1, type: ethernet, state: up, mtu: 9000, description: \"true\",\n"
               "   ipv4: {enabled: true, address: [{ip: 10.1.0.5, prefix-length: 24},\n"
               "                                   {ip: 10.1.0.6, prefix-length: 24}]}}\n"
               "- {name: eth2, type: ethernet, state: down, mtu: 1500, ipv4: {enabled: false}}\n"
               "routes:\n"
               "  running:\n"
               "  - {destination: 0.0.0.0/0, next-hop-interface: br1, next-hop-address: 10.0.0.1,\n"
               "     metric: 100}\n"
               "  - {destination: 10.9.0.0/16, next-hop-interface: br1,\n"
               "     next-hop-address: 10.1.0.1, metric: 0}\n"
               "  config: []\n"
               "dns-resolver: {config: {server: [10.0.0.53, 10.0.0.54]}}\n");
    /* Piped: a replace adds a key an entry lacks; an index step replaces
     * in one entry only. */
    json_t *st = yaml_json(STATE);
    json_t *exprs = json_pack("{s:s, s:s}", "r", "routes.running.metric==0", "x",
                              "capture.r | routes.running.0.table-id:=100");
    struct capture_error err = {0};
    json_t *res = capture_eval(exprs, st, &err);
    assert_non_null(res);
    json_t *want = yaml_json("routes: {running: [{destination: 10.9.0.0/16, next-hop-interface:"
                             " eth1, next-hop-address: 10.1.0.1, metric: 0, table-id: 100}]}\n");
    assert_true(json_equal(json_object_get(res, "x"), want));
    json_decref(want);
    json_decref(res);
    json_decref(exprs);
    /* The value of a replace may come from another capture. */
    exprs = json_pack("{s:s, s:s}", "gw", "routes.running.destination==\"0.0.0.0/0\"", "x",
                      "capture.gw | routes.running.metric:=capture.gw.routes.running.0.metric");
    res = capture_eval(exprs, st, &err);
    assert_non_null(res);
    assert_true(json_equal(json_object_get(res, "x"), json_object_get(res, "gw")));
    json_decref(res);
    json_decref(exprs);
    json_decref(st);
}

/* Several captures: pipes, references in any order, cycles, unknown names. */
static void test_references(void **state)
{
    (void)state;
    json_t *st = yaml_json(STATE);
    json_t *exprs = json_pack(
        "{s:s, s:s, s:s, s:s}", "bridge-routes",
        "capture.base-routes | routes.running.next-hop-interface:=\"br1\"", "base-routes",
        "routes.running.next-hop-interface==capture.gw.routes.running.0.next-hop-interface",
        "gw", "routes.running.destination==\"0.0.0.0/0\"", "base",
        "interfaces.name==capture.gw.routes.running.0.next-hop-interface");
    struct capture_error err = {0};
    json_t *res = capture_eval(exprs, st, &err);
    assert_non_null(res);
    /* In the order written. */
    const char *k;
    json_t *v;
    const char *order[] = {"bridge-routes", "base-routes", "gw", "base"};
    size_t i = 0;
    json_object_foreach(res, k, v)
        assert_string_equal(k, order[i++]);
    json_t *want = yaml_json("routes: {running: [{destination: 0.0.0.0/0, next-hop-interface: "
                             "br1, next-hop-address: 10.0.0.1, metric: 100}]}\n");
    assert_true(json_equal(json_object_get(res, "bridge-routes"), want));
    json_decref(want);
    json_t *r = capture_ref(res, "capture.base.interfaces.0.ipv4.address.0.ip", &err);
    assert_string_equal(json_string_value(r), "10.0.0.5");
    json_decref(r);
    r = capture_ref(res, "capture.base.interfaces.1", &err);
    assert_null(r);
    assert_int_equal(err.pos, 24);
    assert_non_null(strstr(err.msg, "has no entry 1 (it has 1)"));
    r = capture_ref(res, "capture.nope.interfaces", &err);
    assert_null(r);
    assert_non_null(strstr(err.msg, "unknown capture 'nope'"));
    r = capture_ref(res, "interfaces.0", &err);
    assert_null(r);
    assert_non_null(strstr(err.msg, "expected capture.NAME.PATH"));
    r = capture_ref(res, "capture.gw.routes.running.0.metric.x", &err);
    assert_null(r);
    assert_non_null(strstr(err.msg, "is a number, not a map"));
    capture_error_clear(&err);
    json_decref(res);
    json_decref(exprs);

    /* A cycle, and a name that is no capture. */
    exprs = json_pack("{s:s, s:s}", "a", "capture.b | interfaces.mtu:=1", "b",
                      "capture.a | interfaces.mtu:=2");
    assert_null(capture_eval(exprs, st, &err));
    assert_non_null(strstr(err.msg, "refers to itself"));
    capture_error_clear(&err);
    json_decref(exprs);
    exprs = json_pack("{s:s}", "a", "interfaces.name==capture.zz.interfaces.0.name");
    assert_null(capture_eval(exprs, st, &err));
    assert_string_equal(err.name, "a");
    assert_int_equal(err.pos, 25);
    assert_non_null(strstr(err.msg, "unknown capture 'zz'"));
    capture_error_clear(&err);
    json_decref(exprs);
    exprs = json_pack("{s:s}", "1a", "interfaces.mtu==1");
    assert_null(capture_eval(exprs, st, &err));
    assert_non_null(strstr(err.msg, "a capture name starts with a letter"));
    capture_error_clear(&err);
    json_decref(exprs);
    json_decref(st);
}

static void test_templates(void **state)
{
    (void)state;
    assert_true(capture_is_template("{{ capture.a.b }}", NULL, NULL));
    assert_true(capture_is_template("{{capture.a.b}}", NULL, NULL));
    assert_false(capture_is_template("x {{ capture.a.b }}", NULL, NULL));
    assert_false(capture_is_template("{ capture.a.b }", NULL, NULL));
    assert_false(capture_is_template(NULL, NULL, NULL));

    json_t *res = yaml_json("a: {interfaces: [{name: eth0, mtu: 1500, up: true,"
                            " description: \"007\", ipv4: {enabled: true}}]}\n");
    const char *doc = "x:\n"
                      "  ipv4: \"{{ capture.a.interfaces.0.ipv4 }}\"\n"
                      "  mtu: '{{capture.a.interfaces.0.mtu}}'\n"
                      "  name: \"{{ capture.a.interfaces.0.name }}\"\n"
                      "  d: \"{{ capture.a.interfaces.0.description }}\"\n"
                      "  up: \"{{ capture.a.interfaces.0.up }}\"\n"
                      "  plain: \"{{ not a template\"\n"
                      "  list: [\"{{ capture.a.interfaces }}\"]\n";
    struct docset ds = {0};
    struct diags dg = {0};
    load_buffer("t.yaml", doc, strlen(doc), &ds, &dg);
    struct capture_error err = {0};
    struct ynode *x = capture_expand(ds.v[0].root, res, &err, NULL, NULL);
    assert_non_null(x);
    json_t *got = capture_ynode_json(x);
    json_t *want = yaml_json("x:\n  ipv4: {enabled: true}\n  mtu: 1500\n  name: eth0\n"
                             "  d: \"007\"\n  up: true\n  plain: \"{{ not a template\"\n"
                             "  list: [[{name: eth0, mtu: 1500, up: true, description: \"007\","
                             " ipv4: {enabled: true}}]]\n");
    assert_true(json_equal(got, want));
    /* Types survive the trip through ynodes: "007" stays a quoted string. */
    const struct ynode *d = ynode_path(x, "x.d");
    assert_true(d->quoted);
    assert_int_equal(ynode_path(x, "x.mtu")->line, 3);
    json_decref(got);
    json_decref(want);
    ynode_free(x);
    docset_free(&ds);

    /* An error points at the character of the template. */
    const char *bad = "x:\n  name: \"{{ capture.a.interfaces.3.name }}\"\n";
    load_buffer("t.yaml", bad, strlen(bad), &ds, &dg);
    unsigned line = 0, col = 0;
    assert_null(capture_expand(ds.v[0].root, res, &err, &line, &col));
    assert_int_equal(line, 2);
    /* col of the quote 9, +1, "{{ " 3, "capture.a.interfaces." 21 */
    assert_int_equal(col, 9 + 1 + 3 + 21);
    assert_non_null(strstr(err.msg, "capture.a.interfaces has no entry 3 (it has 1)"));
    capture_error_clear(&err);
    docset_free(&ds);
    diags_clear(&dg);
    json_decref(res);
}

/* ---- capture_docs: what a pass does ---- */

struct fake_src {
    json_t *current;
    int ncurrent, nput;
    char *stored_rev, *stored;
};

static int fake_get(void *ud, const char *name, const char *rev, char **ret)
{
    struct fake_src *f = ud;
    (void)name;
    if (!f->stored || !streq(rev, f->stored_rev))
        return -ENOENT;
    *ret = xstrdup(f->stored);
    return 0;
}

static void fake_put(void *ud, const char *name, const char *rev, const char *json)
{
    struct fake_src *f = ud;
    (void)name;
    f->nput++;
    free(f->stored_rev);
    free(f->stored);
    f->stored_rev = xstrdup(rev);
    f->stored = xstrdup(json);
}

static json_t *fake_current(void *ud)
{
    struct fake_src *f = ud;
    f->ncurrent++;
    return json_incref(f->current);
}

static const char *POLICY =
    "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
    "metadata: {name: p}\n"
    "spec:\n"
    "  capture:\n"
    "    gw: routes.running.destination==\"0.0.0.0/0\"\n"
    "    base: interfaces.name==capture.gw.routes.running.0.next-hop-interface\n"
    "  desiredState:\n"
    "    interfaces:\n"
    "    - name: br1\n"
    "      type: linux-bridge\n"
    "      state: up\n"
    "      ipv4: \"{{ capture.base.interfaces.0.ipv4 }}\"\n"
    "      bridge: {port: [{name: \"{{ capture.base.interfaces.0.name }}\"}]}\n"
    "---\n"
    "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
    "metadata: {name: plain}\n"
    "spec: {desiredState: {interfaces: [{name: br2, type: linux-bridge, state: up}]}}\n";

static void run_docs(const char *yaml, struct fake_src *f, bool recapture, struct desired *d,
                     size_t want_fresh)
{
    struct docset in = {0}, out = {0};
    struct diags dg = {0};
    load_buffer("p.yaml", yaml, strlen(yaml), &in, &dg);
    struct capture_source src = {.get = fake_get, .put = fake_put, .current = fake_current,
                                 .ud = f, .recapture = recapture};
    memset(d, 0, sizeof(*d));
    assert_int_equal(capture_docs(&in, &src, &out, d), want_fresh);
    validate_docs(&out, d);
    for (size_t i = 0; i < d->diags.n; i++)
        if (d->diags.v[i].severity == DIAG_ERROR)
            print_message("diag: %u:%u %s\n", d->diags.v[i].line, d->diags.v[i].col,
                          d->diags.v[i].msg);
    /* The unexpanded policy keeps its own revision elsewhere; the
     * expanded one has the revision of what it became. */
    if (out.n == 2)
        assert_string_not_equal(out.v[0].rev, in.v[0].rev);
    docset_free(&in);
    docset_free(&out);
    diags_clear(&dg);
}

static void test_docs(void **state)
{
    (void)state;
    struct fake_src f = {.current = yaml_json(STATE)};
    struct desired d;
    /* New revision: evaluated against the node and stored. */
    run_docs(POLICY, &f, false, &d, 1);
    assert_int_equal(f.ncurrent, 1);
    assert_int_equal(f.nput, 1);
    assert_int_equal(diags_count(&d.diags, DIAG_ERROR), 0);
    assert_int_equal(d.npolicies, 2);
    const struct policy *p = &d.policies[0];
    assert_string_equal(p->obj.name, "p");
    assert_int_equal(p->nifaces, 1);
    assert_string_equal(p->ifaces[0].name, "br1");
    char rev1[17];
    memcpy(rev1, p->obj.rev, sizeof(rev1));
    desired_free(&d);

    /* The node changed (eth0 is a port now, its address gone): the stored
     * results of this revision are used, nothing is read. */
    json_decref(f.current);
    f.current = yaml_json("interfaces: []\nroutes: {running: []}\n");
    run_docs(POLICY, &f, false, &d, 0);
    assert_int_equal(f.ncurrent, 1);
    assert_int_equal(d.npolicies, 2);
    assert_string_equal(d.policies[0].obj.rev, rev1);
    desired_free(&d);

    /* --recapture evaluates against the changed node: nothing matches now,
     * so the template fails, CaptureError at the character. */
    run_docs(POLICY, &f, true, &d, 0);
    assert_int_equal(f.ncurrent, 2);
    assert_int_equal(d.npolicies, 1); /* "plain" */
    assert_int_equal(d.ninvalid, 1);
    assert_string_equal(d.invalid[0].name, "p");
    assert_string_equal(d.invalid[0].fail_reason, "CaptureError");
    assert_int_equal(diags_count(&d.diags, DIAG_ERROR), 1);
    assert_int_equal(d.diags.v[0].line, 7); /* base: refers to gw, which is empty */
    assert_string_equal(d.diags.v[0].object, "NodeNetworkConfigurationPolicy/p");
    assert_non_null(strstr(d.diags.v[0].msg, "capture base: capture.gw is empty"));
    desired_free(&d);

    /* A syntax error: CaptureError at the character of the expression. */
    _cleanup_free_ char *bad = xstrdup(POLICY);
    char *eq = strstr(bad, "destination==");
    memmove(eq + 12, eq + 13, strlen(eq + 13) + 1); /* "==" -> "=" */
    run_docs(bad, &f, false, &d, 0);
    assert_int_equal(d.ninvalid, 1);
    assert_string_equal(d.invalid[0].fail_reason, "CaptureError");
    assert_int_equal(d.diags.v[0].line, 6);
    assert_int_equal(d.diags.v[0].col, 9 + 26);
    assert_non_null(strstr(d.diags.v[0].msg, "'=' is not an operator"));
    desired_free(&d);

    /* Defined twice (a second file): only the first definition captures;
     * the second is the validator's duplicate. */
    _cleanup_free_ char *twice = xasprintf("%s---\n%s", POLICY, bad);
    f.ncurrent = 0;
    json_decref(f.current);
    f.current = yaml_json(STATE);
    run_docs(twice, &f, true, &d, 1);
    assert_int_equal(f.ncurrent, 1);
    assert_int_equal(d.npolicies, 2);
    bool dup = false;
    for (size_t i = 0; i < d.diags.n; i++)
        dup |= strstr(d.diags.v[i].msg, "duplicate object") != NULL;
    assert_true(dup);
    desired_free(&d);

    free(f.stored);
    free(f.stored_rev);
    json_decref(f.current);
}

/* A policy for other nodes (nodeSelector) is not captured here: it would
 * fail against this node's state; it is NotMatching instead. */
static void test_selector(void **state)
{
    (void)state;
    const char *yaml =
        "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
        "metadata: {name: p}\n"
        "spec:\n"
        "  nodeSelector: {role: storage}\n"
        "  capture: {nic: interfaces.name==\"eth9\"}\n"
        "  desiredState: {interfaces: [{name: \"{{ capture.nic.interfaces.0.name }}\","
        " type: ethernet, state: up}]}\n"
        "---\n"
        "apiVersion: v1\nkind: Node\nmetadata: {name: w1, labels: {role: %s}}\n";
    struct fake_src f = {.current = yaml_json(STATE)};
    for (int matching = 0; matching < 2; matching++) {
        _cleanup_free_ char *text = xasprintf(yaml, matching ? "storage" : "web");
        struct docset in = {0}, out = {0};
        struct diags dg = {0};
        load_buffer("p.yaml", text, strlen(text), &in, &dg);
        struct capture_source src = {.current = fake_current, .ud = &f, .node_name = "w1"};
        struct desired d = {0};
        capture_docs(&in, &src, &out, &d);
        validate_docs(&out, &d);
        assert_int_equal(f.ncurrent, matching);
        if (matching) {
            assert_int_equal(d.ninvalid, 1);
            assert_string_equal(d.invalid[0].fail_reason, "CaptureError");
        } else {
            assert_int_equal(diags_count(&d.diags, DIAG_ERROR), 0);
            assert_int_equal(d.npolicies, 1);
            struct label l = {"role", "web"};
            assert_false(selector_matches(d.policies[0].selector, d.policies[0].nselector, &l, 1));
        }
        desired_free(&d);
        docset_free(&in);
        docset_free(&out);
        diags_clear(&dg);
    }
    json_decref(f.current);
}

/* `plumbd validate`: expressions parsed, templated desiredState left for
 * the node (a warning), a syntax error at its character. */
static void test_offline(void **state)
{
    (void)state;
    struct docset in = {0}, out = {0};
    struct diags dg = {0};
    _cleanup_free_ char *bad = xstrdup(POLICY);
    char *eq = strstr(bad, "destination==");
    memmove(eq + 12, eq + 13, strlen(eq + 13) + 1);
    load_buffer("p.yaml", bad, strlen(bad), &in, &dg);
    capture_docs_offline(&in, &out, &dg);
    assert_int_equal(out.n, 2);
    assert_int_equal(diags_count(&dg, DIAG_ERROR), 1);
    assert_int_equal(diags_count(&dg, DIAG_WARNING), 1);
    struct desired d = {0};
    validate_docs(&out, &d);
    assert_int_equal(diags_count(&d.diags, DIAG_ERROR), 0);
    assert_int_equal(d.npolicies, 2);
    desired_free(&d);
    docset_free(&in);
    docset_free(&out);
    diags_clear(&dg);
}

static char *slurp(const char *path);
static json_t *file_json(const char *path);

/* ---- plan after apply is empty; recapturing would flip-flop ---- */

static void live_link_add(struct live_ns *l, int ifindex, const char *name, const char *kind,
                          int master)
{
    struct live_link *k = ARRAY_PUSH(l->links, l->nlinks);
    k->ifindex = ifindex;
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    k->master = master;
    k->flags = IFF_UP;
    k->mtu = 1500;
    k->stp = streq(kind, "bridge") ? 0 : -1;
    k->vlan_filtering = streq(kind, "bridge") ? 0 : -1;
    k->brport_hairpin = k->brport_isolated = -1;
}

static void live_route_add(struct live_ns *l, const char *dst, const char *gw, int ifindex,
                           unsigned metric)
{
    struct live_route *r = ARRAY_PUSH(l->routes, l->nroutes);
    assert_int_equal(ipaddr_parse(dst, -1, &r->dst), 0);
    assert_int_equal(ipaddr_parse(gw, -1, &r->gw), 0);
    r->has_gw = true;
    r->ifindex = ifindex;
    r->priority = metric;
    r->table = RT_TABLE_MAIN;
    r->protocol = RTPROT_STATIC;
    r->type = RTN_UNICAST;
}

/* The expanded kubernetes-nmstate example, once applied: eth0 a port of
 * br1, br1 holding 10.0.0.5/24 and the two routes. The captures stored
 * for the revision keep the plan empty; evaluated again against this
 * state they would ask for something else (br1 as a port of itself). */
static void test_plan_after_apply(void **state)
{
    (void)state;
    const char *dir = "tests/policy/bridge-on-default-gw";
    _cleanup_free_ char *cur = xasprintf("%s/current.yml", dir);
    _cleanup_free_ char *pol = xasprintf("%s/policy.yml", dir);
    _cleanup_free_ char *text = slurp(pol);
    assert_non_null(text);
    struct fake_src f = {.current = file_json(cur)};
    struct desired d;
    run_docs(text, &f, false, &d, 1);
    assert_int_equal(d.npolicies, 1);

    struct live_ns node = {0};
    live_link_add(&node, 1, "lo", "", 0);
    live_link_add(&node, 2, "eth0", "", 3);
    live_link_add(&node, 3, "br1", "bridge", 0);
    node.links[2].alias = xstrdup("Linux bridge with base interface as a port");
    struct live_addr *a = ARRAY_PUSH(node.addrs, node.naddrs);
    a->ifindex = 3;
    assert_int_equal(ipaddr_parse("10.0.0.5/24", -1, &a->addr), 0);
    live_route_add(&node, "0.0.0.0/0", "10.0.0.1", 3, 100);
    live_route_add(&node, "10.10.0.0/16", "10.0.0.254", 3, 0);
    struct inventory inv = {0};
    struct plan p = {0};
    struct plan_input in = {.desired = &d, .node = &node, .inv = &inv};
    assert_int_equal(plan_build(&in, &p), 0);
    for (size_t i = 0; i < p.nops; i++) {
        _cleanup_free_ char *op = op_describe(&p.ops[i]);
        print_message("op: %s\n", op);
    }
    assert_int_equal(p.nops, 0);
    plan_free(&p);
    desired_free(&d);

    /* The same revision again, the node as it is now: stored results. */
    json_decref(f.current);
    f.current = capture_current_state(&node, NULL);
    run_docs(text, &f, false, &d, 0);
    assert_int_equal(d.npolicies, 1);
    assert_int_equal(f.ncurrent, 1);
    desired_free(&d);

    /* Recaptured against the applied state: the default route is on br1
     * now, so br1 would be asked to be its own port. */
    run_docs(text, &f, true, &d, 1);
    assert_int_equal(f.ncurrent, 2);
    bool self_port = false;
    for (size_t i = 0; i < d.npolicies; i++)
        for (size_t k = 0; k < d.policies[i].nifaces; k++)
            for (size_t j = 0; j < d.policies[i].ifaces[k].nports; j++)
                self_port |= streq(d.policies[i].ifaces[k].ports[j], "br1");
    for (size_t i = 0; i < d.ninvalid; i++)
        self_port |= streq(d.invalid[i].name, "bridge-on-default-gw");
    assert_true(self_port);
    desired_free(&d);
    live_ns_free(&node);
    free(f.stored);
    free(f.stored_rev);
    json_decref(f.current);
}

/* ---- golden cases: tests/policy/<case>/ ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    fclose(f);
    return buf;
}

static json_t *file_json(const char *path)
{
    struct docset ds = {0};
    struct diags dg = {0};
    assert_int_equal(load_file(path, &ds, &dg), 0);
    assert_int_equal(ds.n, 1);
    json_t *j = capture_ynode_json(ds.v[0].root);
    docset_free(&ds);
    diags_clear(&dg);
    return j;
}

static json_t *golden_current;
static json_t *golden_cur(void *ud)
{
    (void)ud;
    return json_incref(golden_current);
}

static void golden_case(const char *dir)
{
    _cleanup_free_ char *cur = xasprintf("%s/current.yml", dir);
    _cleanup_free_ char *pol = xasprintf("%s/policy.yml", dir);
    _cleanup_free_ char *exp = xasprintf("%s/expected.yml", dir);
    _cleanup_free_ char *experr = xasprintf("%s/expected.err", dir);
    json_t *current = file_json(cur);
    struct docset ds = {0};
    struct diags dg = {0};
    assert_int_equal(load_file(pol, &ds, &dg), 0);
    const struct ynode *spec = ynode_get(ds.v[0].root, "spec");
    json_t *exprs = capture_ynode_json(ynode_get(spec, "capture"));
    struct capture_error err = {0};
    json_t *res = capture_eval(exprs, current, &err);
    struct ynode *x = res ? capture_expand(ynode_get(spec, "desiredState"), res, &err, NULL, NULL)
                          : NULL;
    _cleanup_free_ char *want_err = slurp(experr);
    if (want_err) {
        if (x)
            fail_msg("%s: expected an error, got none", dir);
        _cleanup_free_ char *snip = capture_error_snippet(&err);
        for (char *save = NULL, *l = strtok_r(want_err, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save))
            if (!strstr(snip, l))
                fail_msg("%s: error\n%s\ndoes not hold the line\n%s", dir, snip, l);
    } else {
        if (!x)
            fail_msg("%s: %s", dir, err.msg);
        json_t *got = capture_ynode_json(x), *want = file_json(exp);
        if (!json_equal(got, want)) {
            char *a = json_dumps(got, JSON_INDENT(2)), *b = json_dumps(want, JSON_INDENT(2));
            fail_msg("%s: got\n%s\nwant\n%s", dir, a, b);
        }
        json_decref(got);
        json_decref(want);
    }
    /* The same through a pass's path: the expanded policy validates (or the
     * policy is CaptureError). */
    golden_current = current;
    struct capture_source src = {.current = golden_cur};
    struct docset out = {0};
    struct desired d = {0};
    capture_docs(&ds, &src, &out, &d);
    validate_docs(&out, &d);
    for (size_t i = 0; i < d.diags.n; i++)
        if (d.diags.v[i].severity == DIAG_ERROR && !want_err)
            fail_msg("%s: %u:%u: %s", dir, d.diags.v[i].line, d.diags.v[i].col,
                     d.diags.v[i].msg);
    if (want_err) {
        assert_int_equal(d.ninvalid, 1);
        assert_string_equal(d.invalid[0].fail_reason, "CaptureError");
    } else
        assert_int_equal(d.npolicies, 1);
    desired_free(&d);
    docset_free(&out);
    capture_error_clear(&err);
    ynode_free(x);
    json_decref(res);
    json_decref(exprs);
    json_decref(current);
    docset_free(&ds);
    diags_clear(&dg);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_golden(void **state)
{
    (void)state;
    DIR *dir = opendir("tests/policy");
    assert_non_null(dir);
    char *names[64];
    size_t n = 0, nerr = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < ARRAY_SIZE(names))
        if (e->d_name[0] != '.')
            names[n++] = xstrdup(e->d_name);
    closedir(dir);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *d = xasprintf("tests/policy/%s", names[i]);
        _cleanup_free_ char *experr = xasprintf("%s/expected.err", d);
        nerr += access(experr, F_OK) == 0;
        golden_case(d);
        print_message("# golden %s ok\n", names[i]);
        free(names[i]);
    }
    /* At least 8 cases, errors among them. */
    assert_true(n >= 8);
    assert_true(nerr >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax_errors), cmocka_unit_test(test_filter),
        cmocka_unit_test(test_replace),       cmocka_unit_test(test_references),
        cmocka_unit_test(test_templates),     cmocka_unit_test(test_docs),
        cmocka_unit_test(test_offline),       cmocka_unit_test(test_selector),
        cmocka_unit_test(test_plan_after_apply),
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
