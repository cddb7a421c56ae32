/* test_validate.c - documents -> desired model: the seed files, both
 * annotation forms, and the errors and warnings an operator sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>

#include "model.h"

static const char *seed_policy =
    "apiVersion: nmstate.io/v1\n"
    "kind: NodeNetworkConfigurationPolicy\n"
    "metadata:\n"
    "  name: linux-bridge-br1-ens19\n"
    "spec:\n"
    "  nodeSelector:\n"
    "    linux-bridge-br1: \"true\"\n"
    "  desiredState:\n"
    "    interfaces:\n"
    "      - name: br-1\n"
    "        description: Linux bridge with ens19 as a port\n"
    "        type: linux-bridge\n"
    "        state: up\n"
    "        ipv4:\n"
    "          dhcp: true\n"
    "          enabled: true\n"
    "        bridge:\n"
    "          options:\n"
    "            stp:\n"
    "              enabled: false\n"
    "          port:\n"
    "            - name: ens19\n";

static const char *seed_nad =
    "apiVersion: k8s.cni.cncf.io/v1\n"
    "kind: NetworkAttachmentDefinition\n"
    "metadata:\n"
    "  name: linux-bridge-br-1\n"
    "  namespace: default\n"
    "spec:\n"
    "  config: '{\n"
    "    \"name\":\"br-1\", \"type\":\"bridge\", \"cniVersion\":\"0.3.1\", \"bridge\":\"br-1\",\n"
    "    \"macspoofchk\":true,\n"
    "    \"ipam\": { \"type\": \"host-local\", \"subnet\": \"192.168.255.0/24\",\n"
    "      \"routes\": [ { \"dst\": \"0.0.0.0/0\", \"gw\": \"192.168.255.254\" } ] },\n"
    "    \"preserveDefaultVlan\":false\n"
    "  }'\n";

static const char *seed_pod =
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata:\n"
    "  name: multus-demo\n"
    "  annotations:\n"
    "    k8s.v1.cni.cncf.io/networks: '[\n"
    "      { \"name\": \"linux-bridge-br-1\",\n"
    "        \"ips\": [ \"192.168.255.100/24\" ],\n"
    "        \"mac\": \"c2:b0:57:49:47:f1\"\n"
    "      }]'\n";

static void build(const char *yaml, struct desired *d)
{
    struct docset docs = {0};
    struct diags diags = {0};
    load_buffer("t.yaml", yaml, strlen(yaml), &docs, &diags);
    assert_int_equal(diags_count(&diags, DIAG_ERROR), 0);
    memset(d, 0, sizeof(*d));
    validate_docs(&docs, d);
    docset_free(&docs);
    diags_clear(&diags);
}

static bool has_diag(const struct desired *d, enum diag_severity sev, const char *needle,
                     unsigned line)
{
    for (size_t i = 0; i < d->diags.n; i++)
        if (d->diags.v[i].severity == sev && strstr(d->diags.v[i].msg, needle) &&
            (!line || d->diags.v[i].line == line))
            return true;
    return false;
}

/* object_id: "Kind/ns/name" or "Kind/name", cut like snprintf when the
 * buffer is short. */
static void test_object_id(void **state)
{
    struct object pod = {.kind = OBJ_POD, .ns = "default", .name = "multus-demo"};
    struct object pol = {.kind = OBJ_POLICY, .ns = "", .name = "br1"};
    char buf[256], want[256];
    (void)state;

    assert_string_equal(object_id(&pod, buf, sizeof(buf)), "Pod/default/multus-demo");
    assert_string_equal(object_id(&pol, buf, sizeof(buf)), "NodeNetworkConfigurationPolicy/br1");
    for (size_t len = 1; len <= 26; len++) {
        snprintf(want, len, "Pod/default/multus-demo");
        memset(buf, 'x', sizeof(buf));
        assert_string_equal(object_id(&pod, buf, len), want);
    }
}

/* The memo of validated pods: the same documents give the same model, the
 * pods copied; a duplicate is reported every time; documents parsed again
 * (new trees) are validated again, and the memo lets go of the old trees. */
static void test_validate_memo(void **state)
{
    (void)state;
    static const char *const yaml =
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n"
        "    k8s.v1.cni.cncf.io/networks: '[{\"name\":\"n\",\"ips\":[\"10.0.0.5/24\"],"
        "\"cni-args\":{\"x\":1}}]'\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  annotations:\n"
        "    k8s.v1.cni.cncf.io/networks: n@eth9, other/m\n    plumbd/prune: \"false\"\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  annotations:\n"
        "    k8s.v1.cni.cncf.io/networks: '[{'\n";
    struct docset docs = {0};
    struct diags ld = {0};
    load_buffer("m.yaml", yaml, strlen(yaml), &docs, &ld);
    assert_int_equal(docs.n, 4);
    struct validate_memo *m = validate_memo_new();
    struct desired plain = {0}, d1 = {0}, d2 = {0};
    validate_docs(&docs, &plain);
    validate_docs_memo(&docs, &d1, m);
    assert_int_equal(validate_memo_hits(m), 0);
    validate_docs_memo(&docs, &d2, m);
    assert_int_equal(validate_memo_hits(m), 2); /* a and b; not the duplicate, not bad */
    const struct desired *all[] = {&d1, &d2};
    for (size_t k = 0; k < 2; k++) {
        const struct desired *d = all[k];
        assert_int_equal(d->npods, plain.npods);
        assert_int_equal(d->ninvalid, plain.ninvalid);
        assert_int_equal(d->diags.n, plain.diags.n);
        for (size_t i = 0; i < d->diags.n; i++) {
            assert_string_equal(d->diags.v[i].msg, plain.diags.v[i].msg);
            assert_int_equal(d->diags.v[i].line, plain.diags.v[i].line);
        }
        for (size_t i = 0; i < d->npods; i++) {
            const struct pod *x = &d->pods[i], *y = &plain.pods[i];
            assert_string_equal(x->obj.name, y->obj.name);
            assert_string_equal(x->netns, y->netns);
            assert_int_equal(x->obj.prune, y->obj.prune);
            assert_int_equal(x->obj.warnings.n, y->obj.warnings.n);
            assert_int_equal(x->natt, y->natt);
            for (size_t j = 0; j < x->natt; j++) {
                assert_string_equal(x->att[j].nad_ns, y->att[j].nad_ns);
                assert_string_equal(x->att[j].ifname, y->att[j].ifname);
                assert_int_equal(x->att[j].nips, y->att[j].nips);
                assert_true(streq_ptr(x->att[j].cni_args, y->att[j].cni_args));
            }
        }
    }
    /* the duplicate warning lands on the copy in use, every time */
    assert_true(has_diag(&d2, DIAG_ERROR, "duplicate object Pod/default/a", 0));
    bool redefined = false;
    for (size_t i = 0; i < d2.pods[0].obj.warnings.n; i++)
        redefined |= strstr(d2.pods[0].obj.warnings.v[i].msg, "is defined again") != NULL;
    assert_true(redefined);
    desired_free(&plain);
    desired_free(&d1);
    desired_free(&d2);

    /* parsed again: new trees, validated again; the old ones are let go of */
    struct docset again = {0};
    load_buffer("m.yaml", yaml, strlen(yaml), &again, &ld);
    docset_free(&docs);
    validate_docs_memo(&again, &d1, m);
    assert_int_equal(validate_memo_hits(m), 0);
    desired_free(&d1);
    validate_docs_memo(&again, &d1, m);
    assert_int_equal(validate_memo_hits(m), 2);
    desired_free(&d1);
    docset_free(&again);
    validate_memo_free(m); /* the last references: leak checkers see the trees go */
    diags_clear(&ld);
}

static void test_seed_policy(void **state)
{
    (void)state;
    struct desired d;
    build(seed_policy, &d);
    assert_int_equal(d.npolicies, 1);
    const struct policy *p = &d.policies[0];
    assert_int_equal(p->nselector, 1);
    assert_string_equal(p->selector[0].key, "linux-bridge-br1");
    assert_string_equal(p->selector[0].value, "true");
    assert_int_equal(p->nifaces, 1);
    assert_string_equal(p->ifaces[0].name, "br-1");
    assert_int_equal(p->ifaces[0].type, IFACE_LINUX_BRIDGE);
    assert_int_equal(p->ifaces[0].state, IFSTATE_UP);
    assert_int_equal(p->ifaces[0].stp, 0);
    assert_int_equal(p->ifaces[0].nports, 1);
    assert_string_equal(p->ifaces[0].ports[0], "ens19");
    assert_string_equal(p->ifaces[0].description, "Linux bridge with ens19 as a port");
    assert_false(p->ifaces[0].ipv4.has_address);
    /* ipv4.dhcp is implemented (the built-in client): no warning */
    assert_int_equal(p->obj.warnings.n, 0);
    assert_int_equal(p->ifaces[0].ipv4.dhcp, 1);
    assert_int_equal(p->ifaces[0].ipv4.enabled, 1);
    assert_int_equal(p->ifaces[0].ipv4.auto_dns, -1);
    assert_int_equal(p->ifaces[0].ipv6.dhcp, -1);
    desired_free(&d);
}

static void test_seed_nad_and_pod(void **state)
{
    (void)state;
    struct desired d;
    _cleanup_free_ char *all = xasprintf("%s---\n%s", seed_nad, seed_pod);
    build(all, &d);
    assert_int_equal(d.nnads, 1);
    assert_int_equal(d.npods, 1);
    const struct nad *n = &d.nads[0];
    assert_string_equal(n->bridge, "br-1");
    assert_string_equal(n->cni_name, "br-1");
    assert_true(n->macspoofchk);
    assert_int_equal(n->ipam_type, IPAM_HOST_LOCAL);
    char buf[64];
    assert_string_equal(ipaddr_format(&n->range.subnet, true, buf, sizeof(buf)), "192.168.255.0/24");
    assert_int_equal(n->nroutes, 1);
    assert_true(n->routes[0].has_gw);
    assert_string_equal(ipaddr_format(&n->routes[0].gw, false, buf, sizeof(buf)), "192.168.255.254");
    assert_false(has_diag(&d, DIAG_WARNING, "macspoofchk", 0)); /* implemented */
    /* preserveDefaultVlan:false asks for the default: no warning */
    assert_false(has_diag(&d, DIAG_WARNING, "preserveDefaultVlan", 0));

    const struct pod *p = &d.pods[0];
    assert_string_equal(p->obj.ns, "default");
    assert_string_equal(p->netns, "/run/netns/multus-demo");
    assert_int_equal(p->natt, 1);
    assert_string_equal(p->att[0].nad_ns, "default");
    assert_string_equal(p->att[0].nad_name, "linux-bridge-br-1");
    assert_string_equal(p->att[0].ifname, "net1");
    assert_true(p->att[0].has_mac);
    assert_int_equal(p->att[0].mac[0], 0xc2);
    assert_int_equal(p->att[0].nips, 1);
    assert_string_equal(ipaddr_format(&p->att[0].ips[0], true, buf, sizeof(buf)), "192.168.255.100/24");
    assert_ptr_equal(desired_find_nad(&d, "default", "linux-bridge-br-1"), n);
    desired_free(&d);
}

static void test_annotation_forms(void **state)
{
    (void)state;
    struct attachment *a;
    size_t n;
    char *err;
    assert_int_equal(annotation_parse(" other/a@eth9, b ,b", "ns1", &a, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(a[0].nad_ns, "other");
    assert_string_equal(a[0].nad_name, "a");
    assert_string_equal(a[0].ifname, "eth9");
    assert_string_equal(a[1].nad_ns, "ns1");
    assert_string_equal(a[1].ifname, "net2"); /* by position, like Multus */
    assert_string_equal(a[2].ifname, "net3"); /* the same NAD twice: two interfaces */
    attachments_free(a, n);

    assert_int_equal(annotation_parse("[{\"name\":\"x\",\"namespace\":\"n2\",\"interface\":\"data0\"}]",
                                      "ns1", &a, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(a[0].nad_ns, "n2");
    assert_string_equal(a[0].ifname, "data0");
    assert_false(a[0].has_mac);
    attachments_free(a, n);

    static const char *bad[] = {
        "[{\"name\":\"x\",\"interface\":\"much-too-long-name\"}]",
        "[{\"name\":\"x\",\"mac\":\"zz:00:00:00:00:00\"}]",
        "[{\"name\":\"x\",\"mac\":\"01:00:5e:00:00:01\"}]",
        "[{\"name\":\"x\",\"ips\":[\"300.1.1.1/24\"]}]",
        "[{\"interface\":\"a\"}]",
        "[{\"name\":\"x\",\"interface\":\"a\"},{\"name\":\"y\",\"interface\":\"a\"}]",
        "x@bad/name",
        "[{\"name\": ",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err = NULL;
        assert_int_equal(annotation_parse(bad[i], "ns", &a, &n, &err), -EINVAL);
        assert_non_null(err);
        free(err);
    }
}

static bool invalid_named(const struct desired *d, const char *name);

/* Multus default-route, cni-args and keys plumbd does not know. */
static void test_annotation_default_route(void **state)
{
    (void)state;
    struct attachment *a;
    size_t n;
    char *err = NULL, buf[64];
    struct diags w = {0};

    assert_int_equal(annotation_parse_warn(
                         "[{\"name\":\"x\"},{\"name\":\"y\",\"ips\":[\"10.1.0.5/24\",\"fd00::5/64\"],"
                         "\"default-route\":[\"10.1.0.1\",\"fd00::1\"]}]",
                         "ns", &a, &n, &w, &err), 0);
    assert_null(err);
    assert_int_equal(n, 2);
    assert_int_equal(a[0].ndefault_gw, 0);
    assert_int_equal(a[1].ndefault_gw, 2);
    assert_string_equal(ipaddr_format(&a[1].default_gw[0], false, buf, sizeof(buf)), "10.1.0.1");
    assert_int_equal(a[1].default_gw[1].family, AF_INET6);
    assert_int_equal(w.n, 0); /* every key known: no warning */
    attachments_free(a, n);

    /* an empty list asks for nothing */
    assert_int_equal(annotation_parse("[{\"name\":\"x\",\"default-route\":[]}]", "ns", &a, &n,
                                      &err), 0);
    assert_int_equal(a[0].ndefault_gw, 0);
    attachments_free(a, n);

    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"[{\"name\":\"x\",\"default-route\":\"10.1.0.1\"}]", "must be a list"},
        {"[{\"name\":\"x\",\"default-route\":[\"10.1.0.1/24\"]}]", "is not a gateway IP"},
        {"[{\"name\":\"x\",\"default-route\":[\"gateway\"]}]", "is not a gateway IP"},
        {"[{\"name\":\"x\",\"default-route\":[1]}]", "is not a gateway IP"},
        {"[{\"name\":\"x\",\"default-route\":[\"224.0.0.1\"]}]", "not a unicast"},
        {"[{\"name\":\"x\",\"default-route\":[\"0.0.0.0\"]}]", "not a unicast"},
        {"[{\"name\":\"x\",\"default-route\":[\"10.1.0.1\",\"10.1.0.2\"]}]", "two IPv4 gateways"},
        /* gateway of a family the element asks no address of */
        {"[{\"name\":\"x\",\"ips\":[\"10.1.0.5/24\"],\"default-route\":[\"fd00::1\"]}]",
         "is IPv6 but ips has no IPv6 address"},
        /* two elements with default-route */
        {"[{\"name\":\"x\",\"default-route\":[\"10.1.0.1\"]},"
         "{\"name\":\"y\",\"default-route\":[\"fd00::1\"]}]",
         "at most one network of a pod may carry the default route"},
        {"[{\"name\":\"x\",\"cni-args\":[1,2]}]", "cni-args must be an object"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err = NULL;
        assert_int_equal(annotation_parse(bad[i].text, "ns", &a, &n, &err), -EINVAL);
        assert_non_null(err);
        if (!strstr(err, bad[i].needle))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].needle);
        free(err);
    }

    /* unknown and unsupported keys, cni-args: warnings, not errors */
    assert_int_equal(annotation_parse_warn(
                         "[{\"name\":\"x\",\"colour\":\"blue\",\"portMappings\":[],"
                         "\"bandwidth-request\":{},\"cni-args\":{\"b\":1,\"a\":\"z\"}}]",
                         "ns", &a, &n, &w, &err), 0);
    assert_int_equal(n, 1);
    assert_non_null(a[0].cni_args);
    assert_string_equal(a[0].cni_args, "{\"a\":\"z\",\"b\":1}");
    assert_int_equal(w.n, 4);
    bool colour = false, ports = false, bw = false, args = false;
    for (size_t i = 0; i < w.n; i++) {
        assert_int_equal(w.v[i].severity, DIAG_WARNING);
        colour |= strstr(w.v[i].msg, "unknown key \"colour\"") != NULL;
        ports |= strstr(w.v[i].msg, "\"portMappings\" is not supported") != NULL;
        bw |= strstr(w.v[i].msg, "\"bandwidth-request\" is not supported") != NULL;
        args |= strstr(w.v[i].msg, "cni-args recorded but not used") != NULL;
    }
    assert_true(colour && ports && bw && args);
    attachments_free(a, n);
    diags_clear(&w);
    /* without a warnings list the old entry point still parses */
    assert_int_equal(annotation_parse("[{\"name\":\"x\",\"colour\":\"blue\"}]", "ns", &a, &n, &err),
                     0);
    attachments_free(a, n);
}

/* Through the validator: warnings land on the pod (its status), errors make
 * it invalid (Failing, nothing applied). */
static void test_pod_annotation_warnings(void **state)
{
    (void)state;
    struct desired d;
    build("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
          "    k8s.v1.cni.cncf.io/networks: '[{\"name\":\"n\",\"colour\":\"blue\","
          "\"cni-args\":{\"k\":\"v\"},\"default-route\":[\"10.0.0.1\"]}]'\n"
          "---\n"
          "apiVersion: v1\nkind: Pod\nmetadata:\n  name: two\n  annotations:\n"
          "    k8s.v1.cni.cncf.io/networks: '[{\"name\":\"n\",\"default-route\":[\"10.0.0.1\"]},"
          "{\"name\":\"m\",\"default-route\":[\"10.0.1.1\"]}]'\n",
          &d);
    assert_int_equal(d.npods, 1);
    const struct pod *p = &d.pods[0];
    assert_string_equal(p->obj.name, "p");
    assert_int_equal(p->att[0].ndefault_gw, 1);
    bool colour = false, args = false;
    for (size_t i = 0; i < p->obj.warnings.n; i++) {
        colour |= strstr(p->obj.warnings.v[i].msg, "unknown key \"colour\"") != NULL;
        args |= strstr(p->obj.warnings.v[i].msg, "cni-args") != NULL;
    }
    assert_true(colour);
    assert_true(args);
    assert_true(has_diag(&d, DIAG_WARNING, "unknown key \"colour\"", 6));
    /* nothing warns twice (the schema leaves element keys to the parser) */
    size_t nc = 0;
    for (size_t i = 0; i < d.diags.n; i++)
        nc += strstr(d.diags.v[i].msg, "colour") != NULL;
    assert_int_equal(nc, 1);
    assert_true(invalid_named(&d, "two"));
    assert_true(has_diag(&d, DIAG_ERROR, "at most one network of a pod may carry", 0));
    desired_free(&d);
}

static void test_errors_positions(void **state)
{
    (void)state;
    struct desired d;
    build("apiVersion: v1\nkind: Gadget\nmetadata:\n  name: x\n"
          "---\n"
          "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
          "    k8s.v1.cni.cncf.io/networks: '[{\"name\":\"n\",\"mac\":\"bad\"}]'\n"
          "---\n"
          "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\nmetadata:\n  name: q\n"
          "spec:\n  desiredState:\n    interfaces:\n    - name: team0\n      type: team\n",
          &d);
    assert_true(has_diag(&d, DIAG_ERROR, "unknown kind 'Gadget'", 2));
    assert_true(has_diag(&d, DIAG_ERROR, "mac: 'bad' is not a MAC address", 11));
    assert_true(has_diag(&d, DIAG_ERROR, "'team' is not supported", 21));
    assert_int_equal(d.npods, 0);
    assert_int_equal(d.npolicies, 0);
    /* invalid objects keep their identity so their kernel state is kept */
    assert_int_equal(d.ninvalid, 2);
    assert_string_equal(d.invalid[0].name, "p");
    assert_string_equal(d.invalid[1].name, "q");
    desired_free(&d);
}

static void test_duplicates_and_netns(void **state)
{
    (void)state;
    struct desired d;
    build("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    plumbd/netns: other\n"
          "---\n"
          "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n"
          "---\n"
          "apiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  namespace: x\n  annotations:\n"
          "    plumbd/netns: ../etc\n",
          &d);
    assert_int_equal(d.npods, 1);
    assert_string_equal(d.pods[0].netns, "/run/netns/other");
    assert_true(has_diag(&d, DIAG_ERROR, "duplicate object Pod/default/a", 8));
    assert_true(has_diag(&d, DIAG_ERROR, "plumbd/netns", 0));
    desired_free(&d);
}

static void test_netns_confined(void **state)
{
    (void)state;
    static const struct {
        const char *netns;
        bool ok;
    } cases[] = {
        {"pod-a", true},          {"/run/netns/pod-a", true}, {"/var/run/netns/x", true},
        {"/proc/42/ns/net", true}, {"/etc/passwd", false},     {"/run/netns/../x", false},
        {"/proc/self/ns/net", false}, {"/proc/42/ns/mnt", false}, {"/run/netns/", false},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct desired d;
        _cleanup_free_ char *y = xasprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                                           "  annotations:\n    plumbd/netns: \"%s\"\n",
                                           cases[i].netns);
        build(y, &d);
        if (cases[i].ok != (d.npods == 1))
            fail_msg("plumbd/netns %s: expected %s", cases[i].netns,
                     cases[i].ok ? "accepted" : "refused");
        desired_free(&d);
    }
}

static void test_selector(void **state)
{
    (void)state;
    struct label sel[] = {{"a", "1"}, {"b", "2"}};
    struct label have[] = {{"b", "2"}, {"a", "1"}, {"c", "3"}};
    assert_true(selector_matches(NULL, 0, NULL, 0));
    assert_true(selector_matches(sel, 2, have, 3));
    assert_false(selector_matches(sel, 2, have, 1));
    struct label wrong[] = {{"a", "2"}, {"b", "2"}};
    assert_false(selector_matches(sel, 2, wrong, 2));
}

static void test_bare_nmstate(void **state)
{
    (void)state;
    struct desired d;
    build("interfaces:\n- name: br9\n  type: linux-bridge\n  state: up\n"
          "  ipv4:\n    enabled: true\n    address:\n    - ip: 10.9.0.1\n      prefix-length: 24\n",
          &d);
    assert_int_equal(d.npolicies, 1);
    assert_string_equal(d.policies[0].obj.name, "t.yaml");
    assert_int_equal(d.policies[0].nselector, 0);
    assert_true(d.policies[0].ifaces[0].ipv4.has_address);
    assert_int_equal(d.policies[0].ifaces[0].ipv4.addr[0].prefix, 24);
    desired_free(&d);
}


/* ---- bridge plugin keys, macvlan, unsupported types (issue 7) ---------- */

static char *nad_doc(const char *name, const char *config)
{
    return xasprintf("---\napiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\n"
                     "metadata:\n  name: %s\nspec:\n  config: '%s'\n",
                     name, config);
}

static const struct nad *nad_named(const struct desired *d, const char *name)
{
    return desired_find_nad(d, "default", name);
}

static bool invalid_named(const struct desired *d, const char *name)
{
    for (size_t i = 0; i < d->ninvalid; i++)
        if (streq(d->invalid[i].name, name))
            return true;
    return false;
}

static void test_bridge_keys(void **state)
{
    (void)state;
    struct desired d;
    _cleanup_free_ char *a = nad_doc(
        "gw", "{\"type\":\"bridge\",\"bridge\":\"br0\",\"isGateway\":true,\"ipMasq\":true,"
              "\"hairpinMode\":true,\"portIsolation\":true,\"forceAddress\":true,"
              "\"enabledad\":true,\"ipMasqBackend\":\"nftables\","
              "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.9.0.0/24\"}}");
    _cleanup_free_ char *b = nad_doc(
        "dgw", "{\"type\":\"bridge\",\"bridge\":\"br0\",\"isDefaultGateway\":true,"
               "\"promiscMode\":true,\"disableContainerInterface\":true,"
               "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.8.0.0/24\","
               "\"gateway\":\"10.8.0.254\"}}");
    _cleanup_free_ char *c = nad_doc(
        "vl", "{\"type\":\"bridge\",\"bridge\":\"br0\",\"vlan\":100,"
              "\"preserveDefaultVlan\":false,\"ipam\":{}}");
    _cleanup_free_ char *t = nad_doc(
        "trunk", "{\"type\":\"bridge\",\"bridge\":\"br0\",\"vlanTrunk\":[{\"id\":42},"
                 "{\"minID\":100,\"maxID\":199}],\"ipam\":{}}");
    _cleanup_free_ char *all = xasprintf("%s%s%s%s", a, b, c, t);
    build(all, &d);
    assert_int_equal(d.nnads, 4);
    const struct nad *n = nad_named(&d, "gw");
    assert_non_null(n);
    assert_int_equal(n->plugin, NAD_BRIDGE);
    assert_true(n->is_gateway);
    assert_false(n->is_default_gateway);
    assert_true(n->ip_masq);
    assert_true(n->hairpin);
    assert_true(n->port_isolation);
    assert_true(n->force_address);
    assert_true(n->enable_dad);
    assert_false(n->promisc);
    assert_false(n->disable_container_if);
    assert_true(n->preserve_default_vlan); /* the plugin's default */
    n = nad_named(&d, "dgw");
    assert_true(n->is_default_gateway);
    assert_true(n->is_gateway); /* implied */
    assert_true(n->promisc);
    assert_true(n->disable_container_if);
    n = nad_named(&d, "vl");
    assert_int_equal(n->vlan, 100);
    assert_false(n->preserve_default_vlan);
    n = nad_named(&d, "trunk");
    assert_int_equal(n->ntrunk, 2);
    assert_int_equal(n->trunk[0].min, 42);
    assert_int_equal(n->trunk[0].max, 42);
    assert_int_equal(n->trunk[1].min, 100);
    assert_int_equal(n->trunk[1].max, 199);
    /* implemented keys are not "not implemented" warnings any more */
    const char *keys[] = {"isGateway", "isDefaultGateway", "ipMasq", "hairpinMode",
                          "portIsolation", "forceAddress", "enabledad", "promiscMode",
                          "disableContainerInterface", "vlan", "vlanTrunk",
                          "preserveDefaultVlan"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        assert_false(has_diag(&d, DIAG_WARNING, keys[i], 0));
    assert_int_equal(diags_count(&d.diags, DIAG_ERROR), 0);
    desired_free(&d);
}

static void test_bridge_key_errors(void **state)
{
    (void)state;
    struct desired d;
    const char *bad[][2] = {
        {"hp", "{\"type\":\"bridge\",\"hairpinMode\":true,\"promiscMode\":true,\"ipam\":{}}"},
        {"vr", "{\"type\":\"bridge\",\"vlan\":5000,\"ipam\":{}}"},
        {"vt", "{\"type\":\"bridge\",\"vlanTrunk\":[{\"minID\":10,\"maxID\":5}],\"ipam\":{}}"},
        {"vb", "{\"type\":\"bridge\",\"vlan\":10,\"vlanTrunk\":[{\"id\":11}],\"ipam\":{}}"},
        {"ty", "{\"type\":\"bridge\",\"isGateway\":\"yes\",\"ipam\":{}}"},
        {"dg", "{\"type\":\"bridge\",\"isDefaultGateway\":true,\"ipam\":{\"type\":\"host-local\","
               "\"subnet\":\"10.1.0.0/24\",\"routes\":[{\"dst\":\"0.0.0.0/0\","
               "\"gw\":\"10.1.0.9\"}]}}"},
        {"mm", "{\"type\":\"macvlan\",\"master\":\"eth0\",\"mode\":\"sideways\",\"ipam\":{}}"},
    };
    const char *why[] = {"cannot both be true", "vlan", "vlanTrunk[0]", "cannot be used together",
                         "isGateway", "isDefaultGateway ineffective", "sideways"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        _cleanup_free_ char *y = nad_doc(bad[i][0], bad[i][1]);
        build(y, &d);
        if (!invalid_named(&d, bad[i][0]) || !has_diag(&d, DIAG_ERROR, why[i], 0))
            fail_msg("%s: expected an error naming '%s'", bad[i][0], why[i]);
        desired_free(&d);
    }
    /* isGateway without IPAM: accepted, warned (nothing to put on the bridge) */
    _cleanup_free_ char *y = nad_doc("l2", "{\"type\":\"bridge\",\"isGateway\":true,\"ipam\":{}}");
    build(y, &d);
    assert_non_null(nad_named(&d, "l2"));
    assert_true(has_diag(&d, DIAG_WARNING, "no effect without IPAM", 0));
    desired_free(&d);
}

static void test_macvlan_and_types(void **state)
{
    (void)state;
    struct desired d;
    _cleanup_free_ char *m = nad_doc(
        "mv", "{\"type\":\"macvlan\",\"master\":\"ens19\",\"mode\":\"vepa\",\"mtu\":1400,"
              "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.7.0.0/24\"}}");
    _cleanup_free_ char *m2 = nad_doc("mvd", "{\"type\":\"macvlan\",\"ipam\":{}}");
    _cleanup_free_ char *u = nad_doc("ipv", "{\"type\":\"ipvlan\",\"master\":\"eth0\"}");
    _cleanup_free_ char *cl = nad_doc(
        "chain", "{\"cniVersion\":\"1.0.0\",\"name\":\"chain\",\"plugins\":[{\"type\":\"bridge\","
                 "\"bridge\":\"br0\",\"ipam\":{}},{\"type\":\"tuning\",\"sysctl\":{}},"
                 "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}");
    _cleanup_free_ char *cl2 = nad_doc(
        "chain2", "{\"cniVersion\":\"1.0.0\",\"name\":\"c2\",\"plugins\":[{\"type\":\"ptp\"},"
                  "{\"type\":\"bridge\"}]}");
    _cleanup_free_ char *unk = nad_doc(
        "unk", "{\"type\":\"bridge\",\"bridge\":\"br0\",\"frobnicate\":true,\"ipam\":{}}");
    _cleanup_free_ char *all = xasprintf("%s%s%s%s%s%s", m, m2, u, cl, cl2, unk);
    build(all, &d);
    const struct nad *n = nad_named(&d, "mv");
    assert_non_null(n);
    assert_int_equal(n->plugin, NAD_MACVLAN);
    assert_string_equal(n->master, "ens19");
    assert_int_equal(n->macvlan_mode, CNI_MACVLAN_VEPA);
    assert_int_equal(n->mtu, 1400);
    assert_string_equal(macvlan_mode_to_string(n->macvlan_mode), "vepa");
    n = nad_named(&d, "mvd");
    assert_int_equal(n->plugin, NAD_MACVLAN);
    assert_string_equal(n->master, ""); /* the default-route interface */
    assert_int_equal(n->macvlan_mode, CNI_MACVLAN_BRIDGE);
    /* another type: valid object, UnsupportedType error naming the type */
    n = nad_named(&d, "ipv");
    assert_non_null(n);
    assert_int_equal(n->plugin, NAD_UNSUPPORTED);
    assert_string_equal(n->cni_type, "ipvlan");
    assert_true(has_diag(&d, DIAG_ERROR, "CNI type 'ipvlan' is not supported (UnsupportedType)", 0));
    assert_false(has_diag(&d, DIAG_WARNING, "master", 0)); /* its keys are not checked */
    /* a conflist: the first plugin runs, the others are warnings */
    n = nad_named(&d, "chain");
    assert_int_equal(n->plugin, NAD_BRIDGE);
    assert_string_equal(n->cni_name, "chain");
    assert_true(has_diag(&d, DIAG_WARNING, "plugins[1]: plugin 'tuning' is not run", 0));
    assert_true(has_diag(&d, DIAG_WARNING, "plugins[2]: plugin 'portmap' is not run", 0));
    n = nad_named(&d, "chain2");
    assert_int_equal(n->plugin, NAD_UNSUPPORTED);
    assert_true(has_diag(&d, DIAG_ERROR, "CNI type 'ptp' is not supported", 0));
    /* unknown keys warn */
    assert_non_null(nad_named(&d, "unk"));
    assert_true(has_diag(&d, DIAG_WARNING, "frobnicate is not implemented yet", 0));
    desired_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_id),
        cmocka_unit_test(test_seed_policy),
        cmocka_unit_test(test_seed_nad_and_pod),
        cmocka_unit_test(test_annotation_forms),
        cmocka_unit_test(test_annotation_default_route),
        cmocka_unit_test(test_pod_annotation_warnings),
        cmocka_unit_test(test_errors_positions),
        cmocka_unit_test(test_duplicates_and_netns),
        cmocka_unit_test(test_netns_confined),
        cmocka_unit_test(test_selector),
        cmocka_unit_test(test_validate_memo),
        cmocka_unit_test(test_bare_nmstate),
        cmocka_unit_test(test_bridge_keys),
        cmocka_unit_test(test_bridge_key_errors),
        cmocka_unit_test(test_macvlan_and_types),
    };
    return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
