/* capture.h - spec.capture of a NodeNetworkConfigurationPolicy: nmstate's
 * nmpolicy expression language, evaluated against the node's live state,
 * and the "{{ capture.NAME.PATH }}" templates of desiredState.
 *
 * An expression is one of
 *     PATH == VALUE                      filter
 *     PATH := VALUE                      replace
 *     capture.NAME | PATH (==|:=) VALUE  the same on another capture's result
 *     capture.NAME.PATH (==|:=) VALUE    the same (the path names its input)
 * PATH is steps separated by dots, each a key of a map or the index of a
 * list entry (interfaces.0.name); VALUE a "string", a number, true/false,
 * or capture.NAME.PATH (a value of another capture). A filter walks the
 * path through the state; in every list on the way it keeps the entries
 * (whole) whose value at the rest of the path equals VALUE; maps on the
 * way keep only the key walked, so the result is the state pruned to the
 * matching entries ({} when nothing matched). A replace returns the whole
 * input with the value at the path set to VALUE in every list entry.
 *
 * This module is pure: JSON trees in, JSON trees out (jansson), plus the
 * conversion between the loader's ynodes and JSON. reconcile_capture.c
 * decides when captures are evaluated and where they are kept. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "live.h"
#include "load.h"

/* Where and why an evaluation failed. pos is the byte offset in expr (the
 * capture's expression, or a template's text) of the offending token. */
struct capture_error {
    char *name; /* capture entry ("" for a template) */
    char *expr; /* the expression or template text */
    size_t pos;
    char *msg;
};
void capture_error_clear(struct capture_error *e);
/* One line: "capture NAME: MSG at position N of 'EXPR'" (template:
 * "template 'EXPR': MSG at position N"). Caller frees. */
char *capture_error_line(const struct capture_error *e);
/* Two more lines under the first: the expression and a caret under the
 * position, as nmpolicy prints it. Caller frees. */
char *capture_error_snippet(const struct capture_error *e);

/* The file position of a capture_eval error: the character of the
 * expression under spec.capture (cap) when it is a one-line scalar. */
void capture_error_position(const struct ynode *cap, const struct capture_error *e,
                            unsigned *ret_line, unsigned *ret_col);

/* Parse an expression only (for `plumbd validate`): 0 or -EINVAL with
 * *ret_err filled. */
int capture_check(const char *name, const char *expr, struct capture_error *ret_err);

/* Evaluate every entry of exprs (a JSON object: name -> expression string)
 * against current (a JSON nmstate state). Entries may reference each other
 * in any order (a cycle is an error). Returns a new object name -> result,
 * or NULL with *ret_err filled (the innermost failing expression). */
json_t *capture_eval(json_t *exprs, json_t *current, struct capture_error *ret_err);

/* Resolve "capture.NAME.PATH" against results (what capture_eval gave):
 * a new reference to the subtree, or NULL with *ret_err. */
json_t *capture_ref(json_t *results, const char *ref, struct capture_error *ret_err);

/* Is this scalar text a whole "{{ ... }}" template? *ret_inner/len: the
 * text between the braces, trimmed (borrowed, not NUL-terminated). */
bool capture_is_template(const char *s, const char **ret_inner, size_t *ret_len);

/* A copy of tree n in which every scalar that is a template is replaced
 * by the subtree it references (a whole map or list, not only a scalar;
 * the new nodes carry the template's line:col). NULL on error, with
 * *ret_err and *ret_line/col the template's position. */
struct ynode *capture_expand(const struct ynode *n, json_t *results,
                             struct capture_error *ret_err, unsigned *ret_line,
                             unsigned *ret_col);

/* ynode <-> JSON: an unquoted scalar that reads as an integer, a real,
 * true/false or null becomes that; anything else a string. */
json_t *capture_ynode_json(const struct ynode *n);
struct ynode *capture_json_ynode(json_t *v, unsigned line, unsigned col);

/* The live state captures run against: `plumbd show`'s tree with the
 * routes also under routes.running (nmstate's running vs configured
 * split; plumbd sees only the kernel, so both hold the same routes). */
json_t *capture_current_state(const struct live_ns *l, const char *resolv);

/* ---- a pass's documents (capture_docs) ------------------------------------ */

/* Where a pass gets what capture_docs needs; every callback may be NULL. */
struct capture_source {
    /* The results stored for policy name when it was captured at revision
     * rev (a JSON object text, caller frees): 0, or -ENOENT. */
    int (*get)(void *ud, const char *name, const char *rev, char **ret_json);
    /* Keep results for (name, rev). */
    void (*put)(void *ud, const char *name, const char *rev, const char *json);
    /* The live state (capture_current_state), asked at most once per call
     * and only when some policy has to be captured; NULL when unreadable. */
    json_t *(*current)(void *ud);
    void *ud;
    bool recapture; /* evaluate again even when results are stored */
    /* This node's name: a policy whose spec.nodeSelector does not match
     * the node's labels (its Node document's, and kubernetes.io/hostname)
     * is not captured here; it goes on without its desiredState and is
     * NotMatching. NULL: every policy is captured. */
    const char *node_name;
};

struct desired;

/* Does any NodeNetworkConfigurationPolicy of docs have spec.capture? (A
 * pass without one validates the loaded documents as they are.) */
bool capture_any(const struct docset *docs);

/* For every NodeNetworkConfigurationPolicy of in that has spec.capture:
 * its captures are evaluated (or, unless src->recapture, the results
 * stored for its revision reused) and the templates of desiredState
 * expanded; the expanded document (new revision: the hash of the expanded
 * tree) goes to out, the others are shared into out as they are. A policy
 * whose capture or templates fail is left out of out and added to
 * d->invalid (reason CaptureError) with an error diag at the expression.
 * Results are stored (src->put) only when the templates expanded, so a
 * failed recapture leaves the last good results for the next pass.
 * Returns the number of policies captured afresh and stored. */
size_t capture_docs(const struct docset *in, const struct capture_source *src, struct docset *out,
                    struct desired *d);
/* The same checks without a node (`plumbd validate`): every expression
 * must parse and every template name a capture of its policy; desiredState
 * values that are templates are left out of the copy in out (they are
 * checked when the policy is applied). */
void capture_docs_offline(const struct docset *in, struct docset *out, struct diags *diags);
