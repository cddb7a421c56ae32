/* test_schema.c - the JSON Schema interpreter (schema.c): each keyword on a
 * small inline schema, YAML scalar typing, $ref, contentSchema, and the
 * real embedded schemas on the seed files and on bad documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "embedded.h"
#include "schema.h"
#include "util.h"

struct seen {
    struct diags d;
};

static void collect(void *ud, enum diag_severity sev, const struct ynode *at, const char *msg)
{
    struct seen *s = ud;
    diags_add(&s->d, sev, "t", at ? at->line : 0, at ? at->col : 0, NULL, "%s", msg);
}

static struct ynode *parse(const char *yaml, struct docset *keep)
{
    struct diags diags = {0};
    memset(keep, 0, sizeof(*keep));
    assert_int_equal(load_buffer("t.yaml", yaml, strlen(yaml), keep, &diags), 0);
    assert_int_equal(diags.n, 0);
    assert_int_equal(keep->n, 1);
    return keep->v[0].root;
}

/* Validate instance yaml against inline schema yaml; returns errors. */
static int run_inline(const char *schema, const char *inst, struct seen *s)
{
    struct docset sd, id;
    struct ynode *sr = parse(schema, &sd), *ir = parse(inst, &id);
    memset(s, 0, sizeof(*s));
    int r = schema_validate_tree(sr, NULL, ir, "", collect, s);
    docset_free(&sd);
    docset_free(&id);
    return r;
}

static bool has(const struct seen *s, enum diag_severity sev, const char *needle, unsigned line)
{
    for (size_t i = 0; i < s->d.n; i++)
        if (s->d.v[i].severity == sev && strstr(s->d.v[i].msg, needle) &&
            (!line || s->d.v[i].line == line))
            return true;
    return false;
}

static void dump(const struct seen *s)
{
    diags_print(&s->d, stderr);
}

#define EXPECT(schema, inst, nerr, sev, needle, line)                                              \
    do {                                                                                           \
        struct seen s_;                                                                            \
        int r_ = run_inline(schema, inst, &s_);                                                    \
        if (r_ != (nerr) || ((needle) && !has(&s_, sev, (needle) ? (needle) : "", line)))         \
            dump(&s_);                                                                             \
        assert_int_equal(r_, nerr);                                                                \
        if (needle)                                                                                \
            assert_true(has(&s_, sev, (needle) ? (needle) : "", line));                            \
        diags_clear(&s_.d);                                                                        \
    } while (0)

static void test_types(void **state)
{
    (void)state;
    const char *obj = "type: object\nproperties:\n"
                      "  s: {type: string}\n  i: {type: integer}\n  b: {type: boolean}\n"
                      "  n: {type: number}\n  l: {type: array}\n  m: {type: object}\n"
                      "  u: {type: [integer, string]}\n";
    EXPECT(obj, "s: hello\ni: 12\nb: true\nn: 1.5\nl: []\nm: {}\nu: x\n", 0, DIAG_ERROR, NULL, 0);
    EXPECT(obj, "s: \"12\"\ni: 0x10\nb: off\nn: 3\nu: 4\n", 0, DIAG_ERROR, NULL, 0);
    /* a plain 12 is an integer, not a string: quoting is the fix */
    EXPECT(obj, "s: 12\n", 1, DIAG_ERROR, "s: must be a string (write \"12\" in quotes)", 1);
    EXPECT(obj, "i: \"12\"\n", 1, DIAG_ERROR, "i: must be an integer", 1);
    EXPECT(obj, "i: 1.5\n", 1, DIAG_ERROR, "i: must be an integer", 1);
    EXPECT(obj, "b: \"true\"\n", 1, DIAG_ERROR, "b: must be true or false", 1);
    EXPECT(obj, "n: abc\n", 1, DIAG_ERROR, "n: must be a number", 1);
    EXPECT(obj, "l: {}\n", 1, DIAG_ERROR, "l: must be a list", 1);
    EXPECT(obj, "m: []\n", 1, DIAG_ERROR, "m: must be a map", 1);
    EXPECT(obj, "u: true\n", 1, DIAG_ERROR, "u: must be an integer or a string", 1);
    EXPECT(obj, "[1]\n", 1, DIAG_ERROR, "must be a map", 1);
}

static void test_object_keywords(void **state)
{
    (void)state;
    const char *sch = "type: object\nrequired: [name]\nproperties:\n  name: {type: string}\n"
                      "  sub:\n    type: object\n    properties: {a: {}}\n"
                      "    additionalProperties: false\n"
                      "  labels:\n    additionalProperties: {type: string}\n"
                      "  dhcp:\n    type: boolean\n    x-plumbd-unimplemented: no lease\n"
                      "additionalProperties: false\n";
    EXPECT(sch, "name: x\nsub: {a: 1}\nlabels: {k: v}\n", 0, DIAG_ERROR, NULL, 0);
    EXPECT(sch, "sub: {}\n", 1, DIAG_ERROR, "name is required", 1);
    EXPECT(sch, "name: x\nsub:\n  a: 1\n  zz: 2\n", 0, DIAG_WARNING,
           "sub.zz is not implemented yet; ignored", 4);
    EXPECT(sch, "name: x\ntypo: 1\n", 0, DIAG_WARNING, "typo is not implemented yet; ignored", 2);
    EXPECT(sch, "name: x\nlabels: {k: 1}\n", 1, DIAG_ERROR, "labels.k: must be a string", 2);
    EXPECT(sch, "name: x\nlabels: {a.b/c: 1}\n", 1, DIAG_ERROR, "labels[\"a.b/c\"]: must be", 2);
    EXPECT(sch, "name: x\ndhcp: true\n", 0, DIAG_WARNING,
           "dhcp is not implemented yet; no lease", 2);
    /* set to its default: asks for nothing, no warning */
    struct seen s;
    assert_int_equal(run_inline(sch, "name: x\ndhcp: false\n", &s), 0);
    assert_int_equal(s.d.n, 0);
    diags_clear(&s.d);
}

static void test_scalar_keywords(void **state)
{
    (void)state;
    const char *sch = "type: object\nproperties:\n"
                      "  mtu: {type: integer, minimum: 68, maximum: 9000}\n"
                      "  state: {type: string, enum: [up, down]}\n"
                      "  name: {type: string, minLength: 1, maxLength: 15}\n"
                      "  mac: {type: string, pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$',\n"
                      "        x-plumbd-message: is not a MAC address}\n"
                      "  word: {type: string, pattern: '^[a-z]+$'}\n";
    EXPECT(sch, "mtu: 1500\nstate: up\nname: eth0\nmac: c2:b0:57:49:47:f1\nword: abc\n", 0,
           DIAG_ERROR, NULL, 0);
    EXPECT(sch, "mtu: 10\n", 1, DIAG_ERROR, "mtu: must be an integer >= 68", 1);
    EXPECT(sch, "mtu: 9001\n", 1, DIAG_ERROR, "mtu: must be an integer <= 9000", 1);
    EXPECT(sch, "state: sideways\n", 1, DIAG_ERROR, "state: 'sideways' is not one of up, down", 1);
    EXPECT(sch, "name: \"\"\n", 1, DIAG_ERROR, "name: must not be empty", 1);
    EXPECT(sch, "name: much-too-long-name0\n", 1, DIAG_ERROR, "is longer than 15 bytes", 1);
    EXPECT(sch, "mac: zz\n", 1, DIAG_ERROR, "mac: 'zz' is not a MAC address", 1);
    EXPECT(sch, "word: ABC\n", 1, DIAG_ERROR, "word: 'ABC' does not match ^[a-z]+$", 1);
}

static void test_arrays_refs_alternatives(void **state)
{
    (void)state;
    const char *sch = "type: object\nproperties:\n"
                      "  l:\n    type: array\n    minItems: 1\n    maxItems: 2\n"
                      "    items: {$ref: '#/definitions/port'}\n"
                      "  t:\n    type: array\n    items:\n    - {type: integer}\n"
                      "    additionalItems: {type: string}\n"
                      "  x:\n    anyOf:\n    - {type: integer}\n    - {type: string, enum: [auto]}\n"
                      "  c:\n    if: {required: [plugins]}\n    then: {required: [name]}\n"
                      "    else: {required: [type]}\n"
                      "definitions:\n  port:\n    type: object\n    required: [name]\n";
    EXPECT(sch, "l: [{name: a}]\nt: [1, a, b]\nx: auto\nc: {type: t}\n", 0, DIAG_ERROR, NULL, 0);
    EXPECT(sch, "l: []\n", 1, DIAG_ERROR, "l: must have at least 1 item", 1);
    EXPECT(sch, "l: [{name: a}, {name: b}, {name: c}]\n", 1, DIAG_ERROR, "at most 2 items", 1);
    EXPECT(sch, "l:\n- name: a\n- {}\n", 1, DIAG_ERROR, "l[1].name is required", 3);
    EXPECT(sch, "t: [a]\n", 1, DIAG_ERROR, "t[0]: must be an integer", 1);
    EXPECT(sch, "t: [1, 2]\n", 1, DIAG_ERROR, "t[1]: must be a string", 1);
    EXPECT(sch, "x: manual\n", 1, DIAG_ERROR, "x: 'manual' is not one of auto", 1);
    EXPECT(sch, "c: {plugins: []}\n", 1, DIAG_ERROR, "c.name is required", 1);
    EXPECT(sch, "c: {}\n", 1, DIAG_ERROR, "c.type is required", 1);
    /* a reference that does not resolve is reported, not ignored */
    EXPECT("$ref: '#/definitions/nope'\n", "a: 1\n", 1, DIAG_ERROR, "does not resolve", 1);
    /* a reference loop stops */
    EXPECT("$ref: '#/definitions/a'\ndefinitions:\n  a: {$ref: '#/definitions/a'}\n", "a: 1\n", 1,
           DIAG_ERROR, "nests too deep", 1);
}

static void test_json_content(void **state)
{
    (void)state;
    const char *sch = "type: object\nproperties:\n  config:\n    type: string\n"
                      "    contentMediaType: application/json\n    contentSchema:\n"
                      "      type: object\n      properties:\n        mtu: {type: integer}\n"
                      "        on: {type: boolean}\n      additionalProperties: false\n";
    EXPECT(sch, "config: '{\"mtu\": 1500, \"on\": true}'\n", 0, DIAG_ERROR, NULL, 0);
    /* positions point at the YAML scalar holding the JSON */
    EXPECT(sch, "x: 1\nconfig: '{\"mtu\": \"1500\"}'\n", 1, DIAG_ERROR, "config.mtu: must be an integer",
           2);
    EXPECT(sch, "config: '{\"on\": \"yes\"}'\n", 1, DIAG_ERROR, "config.on: must be true or false", 1);
    EXPECT(sch, "config: '{\"zz\": 1}'\n", 0, DIAG_WARNING, "config.zz is not implemented", 1);
    /* text that is not JSON is left to the caller */
    EXPECT(sch, "config: 'a/b@c'\n", 0, DIAG_ERROR, NULL, 0);
    EXPECT(sch, "config: '{broken'\n", 0, DIAG_ERROR, NULL, 0);

    struct ynode *n = NULL;
    assert_int_equal(schema_json_to_ynode("[1, \"a\", null, {\"k\": 2.5}]", 7, 3, &n), 0);
    assert_int_equal(n->kind, YNODE_SEQ);
    assert_int_equal(n->n, 4);
    assert_int_equal(n->items[1]->quoted, true);
    assert_int_equal(n->items[0]->quoted, false);
    assert_int_equal(n->items[3]->line, 7);
    assert_string_equal(ynode_str(ynode_get(n->items[3], "k")), "2.5");
    ynode_free(n);
    assert_int_equal(schema_json_to_ynode("{", 1, 1, &n), -EINVAL);
}

/* Every embedded schema parses, and declares a $schema. */
static void test_embedded_parse(void **state)
{
    (void)state;
    size_t n = 0;
    for (const struct embedded_file *f = embedded_schemas; f->name; f++, n++) {
        struct docset ds = {0};
        struct diags dg = {0};
        int r = load_buffer(f->name, f->data, strlen(f->data), &ds, &dg);
        if (r < 0)
            diags_print(&dg, stderr);
        assert_int_equal(r, 0);
        assert_int_equal(ds.n, 1);
        assert_non_null(ynode_get(ds.v[0].root, "$schema"));
        assert_non_null(schema_get(f->name));
        docset_free(&ds);
        diags_clear(&dg);
    }
    assert_true(n >= 6);
    assert_null(schema_get("nope.yaml"));
}

static int run_real(const char *ref, const char *inst, struct seen *s)
{
    struct docset id;
    struct ynode *ir = parse(inst, &id);
    memset(s, 0, sizeof(*s));
    int r = schema_validate(ref, ir, "", collect, s);
    docset_free(&id);
    return r;
}

static void test_embedded_seed(void **state)
{
    (void)state;
    static const char *policy =
        "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
        "metadata:\n  name: linux-bridge-br1-ens19\nspec:\n  nodeSelector:\n"
        "    linux-bridge-br1: \"true\"\n  desiredState:\n    interfaces:\n"
        "      - name: br-1\n        description: Linux bridge with ens19 as a port\n"
        "        type: linux-bridge\n        state: up\n        ipv4:\n          dhcp: true\n"
        "          enabled: true\n        bridge:\n          options:\n            stp:\n"
        "              enabled: false\n          port:\n            - name: ens19\n";
    struct seen s;
    assert_int_equal(run_real("nodenetworkconfigurationpolicy.yaml", policy, &s), 0);
    assert_int_equal(s.d.n, 0); /* ipv4.dhcp is implemented: nothing to say */
    diags_clear(&s.d);

    static const char *nad =
        "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\n"
        "metadata:\n  name: linux-bridge-br-1\n  namespace: default\nspec:\n"
        "  config: '{\"name\":\"br-1\",\"type\":\"bridge\",\"cniVersion\":\"0.3.1\",\"bridge\":\"br-1\","
        "\"macspoofchk\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"192.168.255.0/24\","
        "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"192.168.255.254\"}]},"
        "\"preserveDefaultVlan\":false}'\n";
    assert_int_equal(run_real("networkattachmentdefinition.yaml", nad, &s), 0);
    /* macspoofchk is implemented; preserveDefaultVlan: false is the default */
    assert_int_equal(s.d.n, 0);
    diags_clear(&s.d);

    static const char *pod =
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: multus-demo\n  annotations:\n"
        "    k8s.v1.cni.cncf.io/networks: '[{\"name\":\"linux-bridge-br-1\","
        "\"ips\":[\"192.168.255.100/24\"],\"mac\":\"c2:b0:57:49:47:f1\"}]'\n"
        "spec:\n  containers:\n  - name: busybox\n    image: busybox\n";
    assert_int_equal(run_real("pod.yaml", pod, &s), 0);
    assert_int_equal(s.d.n, 0);
    diags_clear(&s.d);

    static const char *node = "apiVersion: v1\nkind: Node\nmetadata:\n  name: worker-1\n"
                              "  labels:\n    linux-bridge-br1: \"true\"\n";
    assert_int_equal(run_real("node.yaml", node, &s), 0);
    assert_int_equal(s.d.n, 0);
    diags_clear(&s.d);

    assert_int_equal(run_real("nmstate.yaml", "interfaces:\n- name: br0\n  type: linux-bridge\n",
                              &s), 0);
    assert_int_equal(s.d.n, 0);
    diags_clear(&s.d);
}

static void test_embedded_errors(void **state)
{
    (void)state;
    struct seen s;
    assert_int_equal(run_real("nmstate.yaml",
                              "interfaces:\n- name: br0\n  type: linux-bridge\n  mtu: 10\n"
                              "- name: much-too-long-name\n  state: sideways\n",
                              &s), 3);
    assert_true(has(&s, DIAG_ERROR, "interfaces[0].mtu: must be an integer >= 68", 4));
    assert_true(has(&s, DIAG_ERROR, "interfaces[1].name: 'much-too-long-name' is longer", 5));
    assert_true(has(&s, DIAG_ERROR, "interfaces[1].state: 'sideways' is not one of", 6));
    diags_clear(&s.d);

    assert_int_equal(run_real("node.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: W1\n"
                                           "  labels:\n    a: true\n", &s), 2);
    assert_true(has(&s, DIAG_ERROR, "metadata.name: 'W1' is not a valid object name", 4));
    assert_true(has(&s, DIAG_ERROR, "metadata.labels.a: must be a string", 6));
    diags_clear(&s.d);

    /* conflist: the first plugin is the bridge */
    assert_int_equal(run_real("cni-bridge.yaml#/definitions/conflist",
                              "{plugins: [{type: bridge, mtu: 20}, {type: tuning}]}\n", &s), 1);
    assert_true(has(&s, DIAG_ERROR, "plugins[0].mtu: must be an integer >= 68", 1));
    diags_clear(&s.d);

    assert_int_equal(run_real("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                                          "  annotations:\n    plumbd/prune: \"no\"\n", &s), 1);
    assert_true(has(&s, DIAG_ERROR, "metadata.annotations[\"plumbd/prune\"]: 'no' is not one of",
                    6));
    diags_clear(&s.d);
    assert_int_equal(run_real("nope.yaml", "a: 1\n", &s), -ENOENT);
    schema_cache_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_object_keywords),
        cmocka_unit_test(test_scalar_keywords),
        cmocka_unit_test(test_arrays_refs_alternatives),
        cmocka_unit_test(test_json_content),
        cmocka_unit_test(test_embedded_parse),
        cmocka_unit_test(test_embedded_seed),
        cmocka_unit_test(test_embedded_errors),
    };
    return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}
