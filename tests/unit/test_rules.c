/* test_rules.c - route-rules.config (issue 6): the validator (normalization
 * and errors), the planner (add, converged, absent wildcard never touching
 * the kernel's defaults, ownership and prune) and the journal (JSON round
 * trip, inverses, verification), on synthetic kernel snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "journal.h"
#include "plan.h"

#define POLICY_ID "NodeNetworkConfigurationPolicy/r"

static const char *head =
    "apiVersion: nmstate.io/v1\nkind: NodeNetworkConfigurationPolicy\n"
    "metadata:\n  name: r\nspec:\n  desiredState:\n    route-rules:\n      config:\n";

#include "desired_fixture.h"

/* A policy whose list is `entries` (indented list items). */
static void load(const char *entries, struct desired *d, size_t want_errors)
{
    char *yaml = xasprintf("%s%s", head, entries);
    fixture_load(yaml, d, want_errors);
    free(yaml);
}


static struct live_rule *add_rule(struct live_ns *l, int family, const char *from, uint32_t prio,
                                  uint32_t table, int action)
{
    struct live_rule *r = ARRAY_PUSH(l->rules, l->nrules);
    memset(r, 0, sizeof(*r));
    r->family = family;
    if (from) {
        assert_int_equal(ipaddr_parse(from, -1, &r->src), 0);
        r->has_src = true;
    }
    r->priority = prio;
    r->table = table;
    r->action = (unsigned char)action;
    return r;
}

/* The kernel's defaults, IPv4 and IPv6. */
static void node_init(struct live_ns *l)
{
    memset(l, 0, sizeof(*l));
    add_rule(l, AF_INET, NULL, 0, RT_TABLE_LOCAL, FR_ACT_TO_TBL);
    add_rule(l, AF_INET, NULL, 32766, RT_TABLE_MAIN, FR_ACT_TO_TBL);
    add_rule(l, AF_INET, NULL, 32767, RT_TABLE_DEFAULT, FR_ACT_TO_TBL);
    add_rule(l, AF_INET6, NULL, 0, RT_TABLE_LOCAL, FR_ACT_TO_TBL);
    add_rule(l, AF_INET6, NULL, 32766, RT_TABLE_MAIN, FR_ACT_TO_TBL);
}

static void do_plan(const struct desired *d, const struct live_ns *node,
                    const struct inventory *inv, struct plan *p)
{
    struct label lab = {"a", "b"};
    struct plan_input in = {.desired = d, .node_labels = &lab, .nnode_labels = 1, .node = node,
                            .inv = inv};
    memset(p, 0, sizeof(*p));
    assert_int_equal(plan_build(&in, p), 0);
}

/* Apply a plan's rule ops to a snapshot, as the kernel would. */
static void simulate(struct live_ns *node, const struct plan *p)
{
    for (size_t i = 0; i < p->nops; i++) {
        const struct op *op = &p->ops[i];
        if (op->type == OP_RULE_ADD) {
            struct live_rule *r = add_rule(node, op->rule.family, NULL,
                                           op->rule.has_priority ? op->rule.priority : 32765,
                                           op->rule.table, op->rule.action);
            r->has_src = op->rule.has_from;
            r->src = op->rule.from;
            r->has_dst = op->rule.has_to;
            r->dst = op->rule.to;
            r->fwmark = op->rule.fwmark;
            r->fwmask = op->rule.fwmask;
            snprintf(r->iif, sizeof(r->iif), "%s", op->rule.iif);
        } else if (op->type == OP_RULE_DEL) {
            for (size_t k = 0; k < node->nrules; k++)
                if (rule_matches_live(&op->rule, &node->rules[k], true)) {
                    node->rules[k] = node->rules[--node->nrules];
                    break;
                }
        }
    }
}

/* ---- validator ---- */

static void test_validate_normalizes(void **state)
{
    (void)state;
    struct desired d;
    load("      - ip-from: 10.1.0.0/16\n        priority: 1000\n        route-table: 100\n"
         "      - family: ipv4\n        fwmark: \"0x10\"\n        route-table: 0\n"
         "      - ip-to: 2001:db8:6::1\n        iif: ens19\n        action: blackhole\n"
         "      - fwmark: 16\n        fwmask: 0xff\n        family: ipv6\n"
         "      - priority: 500\n        state: absent\n"
         "      - ip-from: \"\"\n        route-table: 100\n        state: absent\n", &d, 0);
    const struct policy *p = &d.policies[0];
    assert_int_equal(p->nrules, 6);
    const struct nm_rule *r = &p->rules[0];
    assert_int_equal(r->family, AF_INET);
    assert_true(r->has_from && r->from.prefix == 16);
    assert_true(r->has_priority && r->priority == 1000);
    assert_int_equal(r->table, 100);
    assert_int_equal(r->action, FR_ACT_TO_TBL);
    assert_int_equal(r->fwmark, 0);
    assert_int_equal(r->fwmask, 0);
    r = &p->rules[1];
    assert_false(r->has_priority);
    assert_int_equal(r->table, RT_TABLE_MAIN); /* 0: main */
    assert_int_equal(r->fwmark, 0x10);
    assert_int_equal(r->fwmask, 0xffffffffU); /* the kernel's default with a mark */
    r = &p->rules[2];
    assert_int_equal(r->family, AF_INET6);
    assert_int_equal(r->to.prefix, 128); /* an address is a host prefix */
    assert_string_equal(r->iif, "ens19");
    assert_int_equal(r->action, FR_ACT_BLACKHOLE);
    assert_int_equal(r->table, 0);
    r = &p->rules[3];
    assert_int_equal(r->family, AF_INET6);
    assert_int_equal(r->fwmask, 0xff);
    r = &p->rules[4];
    assert_true(r->absent);
    assert_int_equal(r->family, 0); /* any */
    assert_true(r->has_priority && r->priority == 500);
    assert_false(r->has_table);
    r = &p->rules[5];
    assert_true(r->absent && r->from_none && !r->has_from);
    desired_free(&d);
}

static void test_validate_errors(void **state)
{
    (void)state;
    struct desired d;
    load("      - ip-from: 10.1.0.1/16\n", &d, 1);
    assert_true(has_error(&d, "host bits"));
    desired_free(&d);
    load("      - ip-from: 10.1.0.0/16\n        ip-to: 2001:db8::/64\n", &d, 1);
    assert_true(has_error(&d, "not of the family"));
    desired_free(&d);
    load("      - family: ipv6\n        ip-from: 10.1.0.0/16\n", &d, 1);
    assert_true(has_error(&d, "not of the family"));
    desired_free(&d);
    load("      - fwmark: zz\n", &d, 1);
    assert_true(has_error(&d, "fwmark must be an integer or a hex string"));
    desired_free(&d);
    load("      - action: blackhole\n        route-table: 5\n", &d, 1);
    assert_true(has_error(&d, "a blackhole rule has no route-table"));
    desired_free(&d);
    load("      - ip-from: \"\"\n", &d, 1);
    assert_true(has_error(&d, "ip-from must not be empty"));
    desired_free(&d);
    load("      - ip-from: 10.9.0.0/16\n        priority: 5\n"
         "      - ip-from: 10.9.0.0/16\n        priority: 5\n        route-table: 254\n", &d, 1);
    assert_true(has_error(&d, "is the same rule as route-rules.config[0]"));
    desired_free(&d);
    load("      - action: drop\n", &d, 1); /* the schema's enum */
    desired_free(&d);
}

/* ---- planner ---- */

static void test_plan_add_then_converged(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns node;
    struct inventory inv = {0};
    struct plan p;
    node_init(&node);
    load("      - ip-from: 10.1.0.0/16\n        priority: 1000\n        route-table: 100\n"
         "      - family: ipv4\n        fwmark: 0x10\n        priority: 1001\n        route-table: 200\n"
         "      - ip-from: 2001:db8:5::/64\n        priority: 1003\n        route-table: 100\n"
         "      - ip-to: 203.0.113.0/24\n        action: prohibit\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 4);
    for (size_t i = 0; i < p.nops; i++) {
        assert_int_equal(p.ops[i].type, OP_RULE_ADD);
        assert_string_equal(p.ops[i].owner, POLICY_ID);
        char *s = op_describe(&p.ops[i]);
        assert_non_null(strstr(s, "rule-add"));
        free(s);
    }
    simulate(&node, &p);
    plan_free(&p);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 0); /* converged: any priority matches an entry without one */
    plan_free(&p);
    /* a rule that differs only by its mark is not the rule asked for */
    node.rules[node.nrules - 3].fwmark = 0x11;
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].type, OP_RULE_ADD);
    assert_int_equal(p.ops[0].rule.fwmark, 0x10);
    plan_free(&p);
    desired_free(&d);
    live_ns_free(&node);
}

static void test_plan_absent_wildcard(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns node;
    struct inventory inv = {0};
    struct plan p;
    node_init(&node);
    add_rule(&node, AF_INET, "10.50.0.0/16", 500, 100, FR_ACT_TO_TBL);
    add_rule(&node, AF_INET6, "2001:db8:50::/64", 500, 100, FR_ACT_TO_TBL);
    add_rule(&node, AF_INET, NULL, 600, 300, FR_ACT_TO_TBL)->fwmark = 0x20;
    add_rule(&node, AF_INET, "10.60.0.0/16", 700, 100, FR_ACT_TO_TBL);
    /* priority only: both families' 500 rules, nothing else */
    load("      - priority: 500\n        state: absent\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 2);
    for (size_t i = 0; i < p.nops; i++) {
        assert_int_equal(p.ops[i].type, OP_RULE_DEL);
        assert_int_equal(p.ops[i].rule.priority, 500);
        assert_true(p.ops[i].rule.has_priority); /* the delete names the live rule */
    }
    plan_free(&p);
    desired_free(&d);
    /* table 100 and IPv4 only; a present entry keeps its rule */
    load("      - family: ipv4\n        route-table: 100\n        state: absent\n"
         "      - ip-from: 10.60.0.0/16\n        priority: 700\n        route-table: 100\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    char a[64];
    assert_string_equal(ipaddr_format(&p.ops[0].rule.from, true, a, sizeof(a)), "10.50.0.0/16");
    plan_free(&p);
    desired_free(&d);
    /* never the kernel's defaults, even by their own table */
    load("      - route-table: 254\n        state: absent\n"
         "      - route-table: 255\n        state: absent\n"
         "      - priority: 32767\n        state: absent\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 0);
    plan_free(&p);
    desired_free(&d);
    /* ip-from "": rules without a source (the fwmark one) */
    load("      - ip-from: \"\"\n        state: absent\n", &d, 0);
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 1);
    assert_int_equal(p.ops[0].rule.fwmark, 0x20);
    plan_free(&p);
    desired_free(&d);
    live_ns_free(&node);
}

static void test_plan_ownership_prune(void **state)
{
    (void)state;
    struct desired d, empty;
    struct live_ns node;
    struct inventory inv = {0};
    struct plan p;
    node_init(&node);
    add_rule(&node, AF_INET, "10.1.0.0/16", 1000, 100, FR_ACT_TO_TBL); /* ours */
    add_rule(&node, AF_INET, "10.2.0.0/16", 1001, 100, FR_ACT_TO_TBL); /* foreign */
    add_rule(&node, AF_INET, "10.3.0.0/16", 32765, 0, FR_ACT_PROHIBIT); /* ours, no priority asked */
    load("      - ip-from: 10.1.0.0/16\n        priority: 1000\n        route-table: 100\n"
         "      - ip-from: 10.2.0.0/16\n        priority: 1001\n        route-table: 100\n"
         "      - ip-from: 10.3.0.0/16\n        action: prohibit\n", &d, 0);
    struct owned_rule *o = ARRAY_PUSH(inv.rules, inv.nrules);
    o->owner = xstrdup(POLICY_ID);
    o->rule = d.policies[0].rules[0];
    o = ARRAY_PUSH(inv.rules, inv.nrules);
    o->owner = xstrdup(POLICY_ID);
    o->rule = d.policies[0].rules[2];
    do_plan(&d, &node, &inv, &p);
    assert_int_equal(p.nops, 0);
    plan_free(&p);
    /* the policy goes: the owned rules go (with the live priority), the foreign stays */
    memset(&empty, 0, sizeof(empty));
    do_plan(&empty, &node, &inv, &p);
    assert_int_equal(p.nops, 2);
    bool saw1000 = false, saw32765 = false;
    for (size_t i = 0; i < p.nops; i++) {
        assert_int_equal(p.ops[i].type, OP_RULE_DEL);
        assert_true(p.ops[i].rule.has_priority);
        saw1000 |= p.ops[i].rule.priority == 1000;
        saw32765 |= p.ops[i].rule.priority == 32765;
    }
    assert_true(saw1000 && saw32765);
    plan_free(&p);
    /* the owned rules already gone: only forgotten */
    node.nrules = 5;
    do_plan(&empty, &node, &inv, &p);
    assert_int_equal(p.nops, 2);
    for (size_t i = 0; i < p.nops; i++) {
        assert_int_equal(p.ops[i].type, OP_FORGET);
        assert_int_equal(p.ops[i].rule.family, AF_INET);
    }
    plan_free(&p);
    inventory_free(&inv);
    desired_free(&d);
    live_ns_free(&node);
}

/* ---- journal ---- */

static void test_journal_rules(void **state)
{
    (void)state;
    struct desired d;
    struct live_ns before, after;
    struct inventory inv = {0};
    load("      - ip-from: 2001:db8:5::/64\n        ip-to: 2001:db8:6::/64\n"
         "        priority: 1003\n        route-table: 100\n        fwmark: 7\n"
         "        iif: ens19\n", &d, 0);
    struct op op = {.type = OP_RULE_ADD, .owner = xstrdup(POLICY_ID), .stp = -1};
    op.rule = d.policies[0].rules[0];
    char *js = op_to_json(&op);
    struct op back;
    assert_int_equal(op_from_json(js, &back), 0);
    assert_int_equal(back.type, OP_RULE_ADD);
    assert_true(rule_spec_equal(&back.rule, &op.rule));
    assert_string_equal(back.rule.iif, "ens19");
    op_clear(&back);
    free(js);
    assert_int_equal(op_from_json("{\"type\":\"rule-add\",\"owner\":\"x\",\"ifname\":\"\"}",
                                  &back), -EINVAL);
    /* the inventory's text form round trips too */
    char *t = rule_to_text(&op.rule);
    struct nm_rule rt;
    assert_int_equal(rule_from_text(t, &rt), 0);
    assert_true(rule_spec_equal(&rt, &op.rule));
    free(t);

    node_init(&before);
    struct op inv_op;
    assert_int_equal(op_inverse(&op, &before, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_RULE_DEL);
    assert_true(rule_spec_equal(&inv_op.rule, &op.rule));
    op_clear(&inv_op);

    /* verification names the rule */
    char *msg = NULL;
    assert_false(op_verify(&op, &before, &msg));
    assert_non_null(strstr(msg, "2001:db8:5::/64"));
    assert_non_null(strstr(msg, "priority 1003"));
    free(msg);
    node_init(&after);
    struct live_rule *lr = add_rule(&after, AF_INET6, "2001:db8:5::/64", 1003, 100, FR_ACT_TO_TBL);
    assert_int_equal(ipaddr_parse("2001:db8:6::/64", -1, &lr->dst), 0);
    lr->has_dst = true;
    lr->fwmark = 7;
    lr->fwmask = 0xffffffffU;
    snprintf(lr->iif, sizeof(lr->iif), "ens19");
    msg = NULL;
    assert_true(op_verify(&op, &after, &msg));
    /* already there before: nothing to undo */
    assert_int_equal(op_inverse(&op, &after, &inv, &inv_op), -ENOENT);

    /* deleting a foreign rule: the undo puts it back without owning it */
    struct op del = {.type = OP_RULE_DEL, .owner = xstrdup(POLICY_ID), .stp = -1};
    rule_from_live(lr, &del.rule);
    assert_int_equal(op_inverse(&del, &after, &inv, &inv_op), 0);
    assert_int_equal(inv_op.type, OP_RULE_ADD);
    assert_true(inv_op.forget);
    assert_true(inv_op.rule.has_priority && inv_op.rule.priority == 1003);
    op_clear(&inv_op);
    /* an owned one (owned as asked: without a priority) is owned again */
    struct owned_rule *o = ARRAY_PUSH(inv.rules, inv.nrules);
    o->owner = xstrdup(POLICY_ID);
    o->rule = del.rule;
    o->rule.has_priority = false;
    assert_int_equal(op_inverse(&del, &after, &inv, &inv_op), 0);
    assert_false(inv_op.forget);
    op_clear(&inv_op);
    op_clear(&del);
    op_clear(&op);
    inventory_free(&inv);
    live_ns_free(&before);
    live_ns_free(&after);
    desired_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_normalizes),
        cmocka_unit_test(test_validate_errors),
        cmocka_unit_test(test_plan_add_then_converged),
        cmocka_unit_test(test_plan_absent_wildcard),
        cmocka_unit_test(test_plan_ownership_prune),
        cmocka_unit_test(test_journal_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
