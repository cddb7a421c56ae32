/* reconcile.h - one convergence pass, shared by `apply`, `plan` and the
 * daemon: load -> validate -> observe -> plan -> journal + apply -> status. */
#pragma once

#include <stdio.h>

#include "nft.h"
#include "apply.h"
#include "load.h"
#include "live.h"
#include "store.h"

struct reconciler {
    /* configuration (borrowed) */
    const char *config_dir;    /* the first (or only) config dir, for messages */
    const char *const *config_dirs; /* every --config-dir, merged in order */
    size_t nconfig_dirs;
    const char *state_dir;
    const char *node_name;
    bool allow_empty;          /* an empty/missing config dir may prune everything */
    unsigned flap_limit;       /* repairs of one change per minute before backing off
                                * (0 = default 10, at most FLAP_HISTORY - 1) */
    unsigned flap_backoff_s;   /* how long to back off (0 = default 60) */
    unsigned history_keep;     /* generations kept in the journal (0 = all) */
    unsigned probe_timeout_ms; /* probes after a policy (0 = default 10 s) */
    const char *resolv_conf;   /* the file dns-resolver is written to
                                * (NULL: DNS is not managed) */
    bool recapture;            /* the next pass evaluates every spec.capture
                                * again (`apply --recapture`); cleared after it */
    /* owned */
    struct store *store;
    struct netns *node;        /* the node namespace */
    struct podent *podns;      /* pod namespaces opened so far (cache) */
    size_t npodns;
    /* Daemon mode: snapshots kept current from netlink events instead of a
     * dump per pass. epfd >= 0 is the loop's epoll, where watch fds are
     * registered with data.ptr = the struct live_watch. */
    bool watching;
    int epfd;
    int lockfd;                /* daemon: the state lock, taken per pass; -1 = none */
    struct live_watch *node_watch;
    struct load_cache load_cache; /* daemon: parsed files between passes */
    struct plan_memo *plan_memo;  /* daemon: pods found converged (plan.h) */
    struct validate_memo *validate_memo; /* daemon: pods validated (model.h) */
    bool nft_known;          /* nft_rev is what the kernel holds */
    char nft_rev[17];
    /* What the tables hold (valid with nft_known and nft_have_last): the
     * next change is made by adding and deleting set elements. */
    bool nft_have_last;
    struct nft_port *nft_ports;
    size_t nnft_ports;
    struct nft_masq *nft_masq;
    size_t nnft_masq;
    unsigned long live_stored;  /* node_watch->changes last written to SQLite */
    /* Flap detection: repairs of the same change per object (drift passes),
     * and the objects backing off because something keeps undoing them. */
    struct flap *flaps;
    size_t nflaps;
    unsigned long repairs;     /* drift repairs done (ops run by drift passes) */
    struct apply_ctx actx;
    uint64_t diag_hash;        /* last printed diagnostics, to avoid repeats */
    char *diag_text;           /* and their text (NULL: none) */
    char *source;              /* where the config came from (git commit, ...) */
    /* The config files as last read (drift passes reuse them). */
    struct docset docs;
    struct diags load_diags;
    int load_rc;               /* -ENOENT: a source is missing; -ENODATA: one emptied */
    char *empty_dir;           /* the source that is missing or emptied */
    bool files_cached;
    bool docs_capture;         /* docs hold a policy with spec.capture (set with docs) */
    bool reuse_files;          /* set by the loop: this pass works from the cached files */
    /* daemon: asked while the files are read; true when a config file
     * changed since the pass began (the read is then void: -EAGAIN).
     * NULL: nothing guards the read. */
    bool (*load_guard)(void *ctx);
    void *load_guard_ctx;
    const char *hint_file;     /* set by the loop for a file pass: the one config
                                * file its watch saw written since the last file
                                * pass, nothing else changed; NULL: not known */
    char **wanted_netns;       /* names under /run/netns that desired pods use */
    size_t nwanted_netns;
    bool live_cached;
    /* resolv.conf ownership read from the journal, valid while the newest
     * generation is dns_gen (another process may have run a pass). */
    struct dns_state dns_owner;
    bool dns_loaded;
    int64_t dns_gen;
    struct dhcp_ctx *dhcp;     /* DHCP leases and clients (dhcpmgr.c) */
    /* Daemon: /run/netns is watched (netns_watched) and netns_events counts
     * its events: a cached handle on a /run/netns path checked since the
     * last event is not stat()ed again by file and drift passes. */
    bool netns_watched;
    unsigned long netns_events;
    /* Daemon: what the last pass left, its statuses and inventory as the
     * database holds them, valid while no other connection has written it
     * since (PRAGMA data_version kept_dv) and no undo ran here. The next
     * pass starts from them instead of reading them. */
    bool kept;
    int64_t kept_dv;
    struct objstatus *kept_st;
    size_t nkept_st;
    struct inventory kept_inv;
    /* Daemon: the status files follow the database after the pass, a few
     * at a time between events (reconciler_mirror_step), so a thousand new
     * files do not hold up the next pass. mirror_dirty: ids whose file is
     * to be written; mirror_scan: stale files to remove, missing ones to
     * find. */
    bool mirror_defer;
    bool mirror_scan;
    char **mirror_dirty;
    size_t nmirror_dirty;
};

/* The daemon's statuses as its last pass left them (borrowed, valid until
 * the next pass), or NULL when another process wrote since: read them. */
const struct objstatus *reconciler_statuses(struct reconciler *r, size_t *ret_n);
/* Daemon: write up to max status files the passes left to write (stale
 * ones removed first); returns how many are still to write, 0 when the
 * files match the database. */
size_t reconciler_mirror_step(struct reconciler *r, size_t max);
bool reconciler_mirror_pending(const struct reconciler *r);
/* Let go of what the last pass left (after writing the database outside a
 * pass: this connection's writes do not change data_version). */
void reconciler_kept_forget(struct reconciler *r);

/* Same repair more than flap_limit times in FLAP_WINDOW: the object backs
 * off for flap_backoff_s and reports Degraded. */
#define FLAP_WINDOW_USEC (60ULL * 1000000ULL)
#define FLAP_HISTORY 64

struct flap {
    char *owner;
    char *what;                /* the repair, as op_describe() says it */
    uint64_t t[FLAP_HISTORY];  /* recent repair times, oldest first */
    unsigned n;
    uint64_t degraded_until;   /* monotonic usec; 0 = not backing off */
};

struct podent {
    struct netns *ns;
    struct live_watch *w;      /* daemon mode only */
    unsigned long netns_events; /* r->netns_events when last checked with stat() */
};

struct pass_result {
    size_t nops;               /* operations planned */
    size_t nfailed_ops;
    unsigned long writes;      /* netlink write requests sent */
    size_t nobjects;
    size_t navailable;
    size_t npending;
    size_t nfailing;           /* Failing, Aborted, Degraded */
    uint64_t wake_in_usec;     /* a pass is needed again after this long
                                * (a backoff ends); 0 = no need */
    size_t nconfig_errors;     /* file:line:col errors in the config dir */
    bool refused;              /* the pass refused to run (empty source) */
    /* IPAM pools (for metrics): per network, addresses in range and used */
    struct pool_use {
        char network[64];
        double size, used;
    } pools[32];
    size_t npools;
    bool retry_netns;          /* a pod netns file exists but is not a namespace yet
                                * (`ip netns add` creates, then mounts) */
    bool status_changed;       /* some object's stored status changed */
    /* detaches went through while a pod failed for want of an address (a
     * pod that renamed its interface asks for the address its old one
     * held): another pass may now give it one */
    bool addresses_freed;
    /* the full plan attached or changed pods: the memo of converged pods
     * does not hold them until a pass finds them converged, and the quick
     * lane waits for that */
    bool memo_short;
};

/* The config directories (--config-dir, repeatable): how many, the i-th. */
size_t config_dir_count(const struct reconciler *r);
const char *config_dir_at(const struct reconciler *r, size_t i);

/* Open the store (read-write unless readonly) and the node namespace. */
int reconciler_init(struct reconciler *r, bool readonly);
void reconciler_done(struct reconciler *r);

/* Daemon mode: open the node's event watch and register it (and every pod
 * watch opened later) with epfd. */
int reconciler_watch_start(struct reconciler *r, int epfd);
/* Does a desired pod use the namespace /run/netns/<name>? (The daemon
 * ignores the comings and goings of other namespaces.) */
bool reconciler_wants_netns(const struct reconciler *r, const char *name);
/* Forget the trust in every snapshot: the next pass dumps afresh. */
void reconciler_invalidate(struct reconciler *r);

/* At start: a generation left unfinished by a crash is undone (its done
 * and intended ops, in reverse order) as a "recovery" generation. */
int reconcile_recover(struct reconciler *r);

/* `plumbd rollback [GEN]`: undo the newest applied generation (after_gen
 * <= 0) or every applied generation after after_gen, newest first, as a new
 * journalled "rollback" generation; pin the undone objects' revisions
 * (Aborted/RolledBack). Undoing a rollback generation re-applies and
 * unpins. -ENOENT when there is nothing to roll back. */
int reconcile_rollback(struct reconciler *r, int64_t after_gen, int64_t *ret_gen,
                       size_t *ret_nundone);

/* Run one pass. dry_run: plan only, print the ops to plan_out, change
 * nothing (no kernel writes, no database writes). Returns 0 or -errno for
 * a pass that could not run at all (objects failing is not an error);
 * -EAGAIN when the files moved while they were read (read again later):
 * *ret then holds what the quick lane did before (nops, writes). */
int reconcile_pass(struct reconciler *r, enum gen_trigger trig, bool dry_run, FILE *plan_out,
                   struct pass_result *ret);

/* status.c: mirror object status as YAML files under <state-dir>/status/,
 * and print it for `plumbd status`. */
/* Mirror statuses to one YAML file each under <state_dir>/status; stale files are removed.
 * changed (optional, one per status): false = the status is as stored
 * last time, its file is left alone when it exists. */
int status_write_files(const char *state_dir, const struct objstatus *st, size_t n,
                       const bool *changed);
/* The same a piece at a time (the daemon's deferred mirror): stale files
 * removed and missing[i] set for a status with no file; one file written. */
int status_mirror_scan(const char *state_dir, const struct objstatus *st, size_t n,
                       bool *missing);
int status_mirror_write(const char *state_dir, const struct objstatus *s);
char *status_to_yaml(const struct objstatus *s);
/* "table", "yaml" or "json" */
int status_print(FILE *f, const struct objstatus *st, size_t n, const char *format);
