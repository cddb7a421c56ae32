/* store.h - SQLite state: inventory, IPAM allocations, object status, the
 * live cache and the journal. The only module that includes sqlite3.h.
 *
 * The database is <state-dir>/plumbd.db in WAL mode with a busy timeout.
 * The schema lives in state/NNN_*.sql, embedded at build time and applied
 * in order (PRAGMA user_version = number of the last applied migration). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "dhcp.h"
#include "live.h"
#include "plan.h"

struct store;

/* Open (creating dir and db if needed) and migrate. readonly opens without
 * migrating or writing (for plan/status/history); a missing db then gives
 * -ENOENT. Errors are logged with sqlite3_errmsg. */
int store_open(const char *state_dir, bool readonly, struct store **ret);
void store_close(struct store *s);

/* The daemon's WAL checkpoints. SQLite copies the write-ahead log back into
 * the database (and fsyncs both) inside the commit that takes the log past
 * its threshold: a pass that happens to cross it waits 5-20 ms on the disk.
 * After store_defer_checkpoints, a commit only notes the log's size;
 * store_checkpoint_due says when the log holds `frames` pages or more, and
 * the caller runs store_checkpoint when nothing waits (between passes). A
 * log that reaches 4 x `frames` (no idle moment came) is checkpointed by
 * the commit, as SQLite would. */
void store_defer_checkpoints(struct store *s, int frames);
bool store_checkpoint_due(const struct store *s);
void store_checkpoint(struct store *s);

/* Explicit transactions: the caller groups a whole pass or batch. */
int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* ---- inventory ---- */
int store_inventory_load(struct store *s, struct inventory *ret);
int store_link_put(struct store *s, const struct owned_link *l);      /* upsert by ifname */
int store_link_forget(struct store *s, const char *ifname);
int store_addr_put(struct store *s, const struct owned_addr *a);
int store_addr_forget(struct store *s, const char *ifname, const struct ipaddr *a);
int store_route_put(struct store *s, const char *owner, const struct nm_route *rt); /* upsert */
int store_route_forget(struct store *s, const struct nm_route *rt);
int store_rule_put(struct store *s, const char *owner, const struct nm_rule *rule); /* upsert */
int store_rule_forget(struct store *s, const struct nm_rule *rule);
int store_attach_put(struct store *s, const struct owned_attach *a);  /* upsert by owner+pod_if */
int store_attach_forget(struct store *s, const char *owner, const char *pod_if);

/* ---- IPAM ---- */
/* -EEXIST when ip is already allocated in network to someone else
 * (re-reserving one's own address is success). */
int store_alloc_put(struct store *s, const struct allocation *a);
int store_alloc_release(struct store *s, const char *owner, const char *ifname);
/* Releases one address of (owner, ifname) in a->network; nothing is success. */
int store_alloc_release_ip(struct store *s, const struct allocation *a);

/* ---- status ---- */
/* Upsert; `since` is kept when cond/reason are unchanged, else set to now. */
int store_status_put(struct store *s, const struct objstatus *st);
/* The same with the clock given: now_s becomes `since` when the condition
 * or reason changed, now_us `first_seen` of a new row. */
int store_status_put_at(struct store *s, const struct objstatus *st, int64_t now_s,
                        int64_t now_us);
/* PRAGMA data_version: changes when another connection commits. */
int store_data_version(struct store *s, int64_t *ret);
void objstatus_copy(struct objstatus *dst, const struct objstatus *src);
int store_status_delete(struct store *s, const char *id);
int store_status_list(struct store *s, struct objstatus **ret, size_t *ret_n);
void objstatus_list_free(struct objstatus *v, size_t n);

/* ---- live cache ---- */
/* Replace the cached snapshot of the node namespace (links, addresses). */
int store_live_put(struct store *s, const struct live_ns *l);

/* ---- journal ---- */
enum gen_trigger {
    TRIG_MANUAL,
    TRIG_FILE,
    TRIG_DRIFT,
    TRIG_RESYNC,
    TRIG_ROLLBACK,
    TRIG_START,
    TRIG_RECOVERY, /* undoing a generation left unfinished by a crash */
};
const char *gen_trigger_to_string(enum gen_trigger t);

enum op_state { OPST_INTENT, OPST_DONE, OPST_UNDONE, OPST_FAILED };

int store_gen_begin(struct store *s, enum gen_trigger trig, const char *objects, int64_t *ret_gen);
/* Write-ahead: op recorded with its description and inverse before the write. */
int store_op_intent(struct store *s, int64_t gen, int seq, const char *owner, const char *op,
                    const char *inverse);
int store_op_state(struct store *s, int64_t gen, int seq, enum op_state st, const char *error);
int store_gen_end(struct store *s, int64_t gen, const char *outcome, int nops);

struct gen_row {
    int64_t id;
    int64_t started, ended;
    char *trigger;
    char *objects;
    int nops;
    char *outcome;
    char *source;   /* e.g. "git:<commit>", or NULL */
};
int store_history(struct store *s, int limit, struct gen_row **ret, size_t *ret_n);
void gen_rows_free(struct gen_row *v, size_t n);

/* "intent", "done", "undone", "failed" (the journal_ops.state column). */
const char *op_state_to_string(enum op_state st);

/* One journal_ops row. */
struct op_row {
    int seq;
    char *owner;
    char *op;
    char *inverse;
    enum op_state state;
    char *error; /* NULL when none */
};
/* Ops of generation gen ordered by seq (an unknown gen yields none). */
int store_gen_ops(struct store *s, int64_t gen, struct op_row **ret, size_t *ret_n);
void op_rows_free(struct op_row *v, size_t n);
/* Newest generation without an outcome (killed mid-pass): its id, or
 * -ENOENT when every generation was ended. */
int store_gen_unfinished(struct store *s, int64_t *ret_gen);

/* The resolv.conf file's owner (holder, orig) from the newest done op of
 * the journal that carries it for path (no such op: left empty). The
 * generation holding it is never trimmed. */
int store_dns_owner(struct store *s, const char *path, struct dns_state *ret);
/* The newest generation's id (0: none): a cache of the above is stale when
 * it changed. */
int store_gen_newest(struct store *s, int64_t *ret_gen);

/* ---- generations: outcome, source, retention ---- */
int store_gen_outcome(struct store *s, int64_t gen, const char *outcome);
int store_gen_source(struct store *s, int64_t gen, const char *source);
int store_gen_trim(struct store *s, int keep);

/* ---- pinned revisions (not retried until the file changes) ---- */
struct pin {
    char *owner;
    char rev[17];
    enum condition cond;   /* Failing or Aborted */
    char *reason;
    char *message;
    int64_t gen;
};
int store_pin_put(struct store *s, const struct pin *p);
int store_pin_delete(struct store *s, const char *owner);
int store_pin_list(struct store *s, struct pin **ret, size_t *ret_n);
void pins_free(struct pin *v, size_t n);

/* ---- spec.capture results per policy (migration 009) ---- */
/* The results stored for policy at revision rev: 0, or -ENOENT. */
int store_capture_get(struct store *s, const char *policy, const char *rev, char **ret_json);
int store_capture_put(struct store *s, const char *policy, const char *rev, const char *json);
int store_capture_delete(struct store *s, const char *policy);

/* ---- events: condition transitions, newest first ---- */
struct event_row {
    int64_t id, time;
    char *object;
    char *condition; /* NULL: the object went away */
    char *reason;
    char *message;
    char *previous;  /* NULL: a new object */
};
int store_events(struct store *s, int limit, struct event_row **ret, size_t *ret_n);
void event_rows_free(struct event_row *v, size_t n);

/* ---- DHCP leases (dhcp_lease, migration 010) ---- */
struct lease_row {
    char ifname[IFNAMSIZ_PLUMBD];
    char *owner;             /* the policy whose ipv4.dhcp asked for it */
    uint8_t mac[6];          /* the interface's MAC when it was leased */
    struct dhcp_lease lease;
    uint32_t xid;
};
int store_lease_put(struct store *s, const struct lease_row *row); /* upsert by ifname */
int store_lease_delete(struct store *s, const char *ifname);
int store_lease_list(struct store *s, struct lease_row **ret, size_t *ret_n);
void lease_rows_free(struct lease_row *v, size_t n);
