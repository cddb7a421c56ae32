/* verify.h - read-back verification of a policy, as nmstate does it: is
 * the policy's desired state (a JSON tree in nmstate's schema) contained
 * in the node's current state (the tree `plumbd show` prints)?
 *
 * Pure: two JSON trees in, mismatches out; no kernel, no files. The caller
 * (reconcile.c) reads the node again after a policy's writes, builds the
 * show tree and calls verify_state; a mismatch rolls the policy back
 * (Failing, VerificationFailed). What is compared, what is tolerated and
 * what is skipped is described at the top of verify.c and in README.md
 * ("Verification"). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "load.h"

/* Mismatches kept with their text; more are only counted. */
#define VERIFY_MAX_REPORTED 3

struct verify_opts {
    /* dns-resolver is compared (false when plumbd manages no resolv.conf,
     * so show has nothing to read). */
    bool check_dns;
    /* The desired states of the other policies applied on the node: a route
     * or rule one of their present entries asks for stays although an
     * absent entry of this policy matches it (the planner keeps it). */
    json_t *const *others;
    size_t nothers;
};

struct verify_result {
    char **v;     /* the first VERIFY_MAX_REPORTED: "path: desired X, current Y" */
    size_t n;
    size_t total; /* every mismatch found */
};

/* Compare desired (spec.desiredState as JSON) with current (show_build's
 * tree). Returns the number of mismatches, 0 when current holds desired;
 * ret (zeroed by the caller) gets their texts. */
size_t verify_state(const json_t *desired, const json_t *current, const struct verify_opts *o,
                    struct verify_result *ret);
/* "a; b; c (and 2 more)", caller frees; NULL when there is none. */
char *verify_message(const struct verify_result *r);
void verify_result_free(struct verify_result *r);

/* spec.desiredState (or a bare nmstate document) as a JSON tree, scalars
 * typed as the loader's YAML 1.1 reading gives them (unquoted true/false
 * bool, unquoted integers integer, the rest strings). Keys the validator
 * warned about as "not implemented yet" (warnings: the object's, whose
 * positions are the keys') are left out: plumbd did nothing for them, so
 * there is nothing to read back; keys verification skips anyway are kept,
 * as hints (dhcp, allow-extra-address). NULL for a NULL state. */
json_t *verify_desired_json(const struct ynode *state, const struct diags *warnings);

/* The keys of the schema verification does not compare, each with why
 * ("interfaces[].ipv4.dhcp"; "[]" stands for any list item). When `plumbd
 * show` learns to print one, its entry goes. NULL-terminated. */
struct verify_skip {
    const char *path;
    const char *why;
};
extern const struct verify_skip verify_skipped[];
