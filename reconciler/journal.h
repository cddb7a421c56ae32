/* journal.h - operations as journal records (JSON) and their inverses. */
#pragma once

#include "live.h"
#include "plan.h"

/* A route as compact JSON text (the inventory's and the journal's form;
 * caller frees) and back (-EINVAL on malformed input). */
char *route_to_text(const struct nm_route *r);
int route_from_text(const char *text, struct nm_route *ret);
/* The same for a rule. */
char *rule_to_text(const struct nm_rule *r);
int rule_from_text(const char *text, struct nm_rule *ret);

/* Compact JSON for an op (caller frees). */
char *op_to_json(const struct op *op);
/* Parse op_to_json's output into *ret (fields owned by *ret; op_clear).
 * -EINVAL on malformed input. */
int op_from_json(const char *text, struct op *ret);
void op_clear(struct op *op);

/* The op that undoes `op`, from the before-image: the node snapshot just
 * before op ran and the inventory. -ENOENT when nothing needs undoing (the
 * op changed nothing that existed), -EOPNOTSUPP when it cannot be undone
 * (deleting a link that is not a bridge). */
int op_inverse(const struct op *op, const struct live_ns *before, const struct inventory *inv,
               struct op *ret);

/* Read-back verification: is what op asked for visible in `after`? On a
 * mismatch returns false and names the attribute in *ret_msg, e.g.
 * "br-1.mtu: desired 9000, current 1500" (caller frees). Pod ops are not
 * checked here (true). */
bool op_verify(const struct op *op, const struct live_ns *after, char **ret_msg);

/* default-route of an attachment as one JSON text (the inventory's column):
 * {"gw":["a",...],"prev":[{"dev","dst","gw","metric","proto"},...]}, only
 * the displaced routes to restore. NULL when there is nothing to record. */
char *defroute_to_json(const struct ipaddr *gw, size_t ngw, const struct saved_route *prev,
                       size_t nprev);
/* Parse it (NULL or "" = nothing); arrays owned by the caller. -EINVAL. */
int defroute_from_json(const char *text, struct ipaddr **ret_gw, size_t *ret_ngw,
                       struct saved_route **ret_prev, size_t *ret_nprev);
