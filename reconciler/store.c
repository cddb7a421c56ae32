/* store.c - plumbd's SQLite state (store.h): the inventory of what plumbd
 * owns, IPAM allocations, object status, the cached live snapshot and the
 * journal. The only module that includes sqlite3.h.
 *
 * One connection per process, <state-dir>/plumbd.db, WAL mode, a 5 s busy
 * timeout, foreign keys on. The schema is the embedded state/NNN_*.sql
 * migrations; PRAGMA user_version counts the applied ones. Every statement is
 * prepared once (SQLITE_PREPARE_PERSISTENT), cached in struct store and reset
 * after use. SQLite result codes become negative errno values in exactly one
 * place, errno_from_sqlite(); sqlite3_errmsg() is logged where it happens. */
#include <errno.h>
#include <sqlite3.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "embedded.h"
#include "journal.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define STORE_DB_NAME "plumbd.db"
#define STORE_BUSY_TIMEOUT_MS 5000
#define LOG_OBJ "store"

enum stmt_id {
    ST_BEGIN,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_LINK_PUT,
    ST_LINK_FORGET,
    ST_LINK_LIST,
    ST_ADDR_PUT,
    ST_ADDR_FORGET,
    ST_ADDR_LIST,
    ST_ROUTE_PUT,
    ST_ROUTE_FORGET,
    ST_ROUTE_LIST,
    ST_RULE_PUT,
    ST_RULE_FORGET,
    ST_RULE_LIST,
    ST_ATTACH_PUT,
    ST_ATTACH_FORGET,
    ST_ATTACH_LIST,
    ST_ALLOC_PUT,
    ST_ALLOC_RELEASE,
    ST_ALLOC_RELEASE_IP,
    ST_DATA_VERSION,
    ST_ALLOC_LIST,
    ST_RESERVED_LIST,
    ST_STATUS_PUT,
    ST_STATUS_DELETE,
    ST_STATUS_LIST,
    ST_LIVE_CLEAR_ADDRS,
    ST_LIVE_CLEAR_LINKS,
    ST_LIVE_LINK,
    ST_LIVE_ADDR,
    ST_GEN_BEGIN,
    ST_OP_INTENT,
    ST_OP_STATE,
    ST_GEN_END,
    ST_HISTORY,
    ST_GEN_OPS,
    ST_GEN_UNFINISHED,
    ST_GEN_OUTCOME,
    ST_GEN_SOURCE,
    ST_GEN_TRIM,
    ST_DNS_OPS,
    ST_GEN_NEWEST,
    ST_PIN_PUT,
    ST_CAPTURE_GET,
    ST_CAPTURE_PUT,
    ST_CAPTURE_DELETE,
    ST_PIN_DELETE,
    ST_PIN_LIST,
    ST_EVENTS,
    _ST_MAX
};

static const struct {
    const char *name; /* for log lines */
    const char *sql;
} stmt_table[_ST_MAX] = {
    [ST_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
    [ST_BEGIN_READ] = {"begin-read", "BEGIN"},
    [ST_COMMIT] = {"commit", "COMMIT"},
    [ST_ROLLBACK] = {"rollback", "ROLLBACK"},
    [ST_LINK_PUT] = {"link-put",
                     "INSERT INTO owned_links(ifname, owner, created, before_master, before_mtu,"
                     " before_up, before_alias, before_stp, before_opts, before_mac,"
                     " before_promisc) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
                     " ON CONFLICT(ifname) DO UPDATE SET owner=excluded.owner,"
                     " created=excluded.created, before_master=excluded.before_master,"
                     " before_mtu=excluded.before_mtu, before_up=excluded.before_up,"
                     " before_alias=excluded.before_alias, before_stp=excluded.before_stp,"
                     " before_opts=excluded.before_opts, before_mac=excluded.before_mac,"
                     " before_promisc=excluded.before_promisc"},
    [ST_LINK_FORGET] = {"link-forget", "DELETE FROM owned_links WHERE ifname=?1"},
    [ST_LINK_LIST] = {"link-list",
                      "SELECT ifname, owner, created, before_master, before_mtu, before_up,"
                      " before_alias, before_stp, before_opts, before_mac, before_promisc"
                      " FROM owned_links ORDER BY ifname"},
    [ST_ADDR_PUT] = {"addr-put",
                     "INSERT INTO owned_addrs(ifname, family, addr, owner, dynamic)"
                     " VALUES(?1,?2,?3,?4,?5)"
                     " ON CONFLICT(ifname, addr) DO UPDATE SET family=excluded.family,"
                     " owner=excluded.owner, dynamic=excluded.dynamic"},
    [ST_ADDR_FORGET] = {"addr-forget", "DELETE FROM owned_addrs WHERE ifname=?1 AND addr=?2"},
    [ST_ADDR_LIST] = {"addr-list", "SELECT ifname, addr, owner, dynamic FROM owned_addrs"
                                   " ORDER BY ifname, family, addr"},
    [ST_ROUTE_PUT] = {"route-put",
                      "INSERT INTO owned_routes(spec, owner) VALUES(?1,?2)"
                      " ON CONFLICT(spec) DO UPDATE SET owner=excluded.owner"},
    [ST_ROUTE_FORGET] = {"route-forget", "DELETE FROM owned_routes WHERE spec=?1"},
    [ST_ROUTE_LIST] = {"route-list", "SELECT spec, owner FROM owned_routes ORDER BY spec"},
    [ST_RULE_PUT] = {"rule-put",
                     "INSERT INTO owned_rules(spec, owner) VALUES(?1,?2)"
                     " ON CONFLICT(spec) DO UPDATE SET owner=excluded.owner"},
    [ST_RULE_FORGET] = {"rule-forget", "DELETE FROM owned_rules WHERE spec=?1"},
    [ST_RULE_LIST] = {"rule-list", "SELECT spec, owner FROM owned_rules ORDER BY spec"},
    [ST_ATTACH_PUT] = {"attach-put",
                       "INSERT INTO attachments(owner, pod_if, host_if, bridge, netns, network,"
                       " mac, addrs, defroute) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"
                       " ON CONFLICT(owner, pod_if) DO UPDATE SET host_if=excluded.host_if,"
                       " bridge=excluded.bridge, netns=excluded.netns, network=excluded.network,"
                       " mac=excluded.mac, addrs=excluded.addrs, defroute=excluded.defroute"},
    [ST_ATTACH_FORGET] = {"attach-forget", "DELETE FROM attachments WHERE owner=?1 AND pod_if=?2"},
    [ST_ATTACH_LIST] = {"attach-list",
                        "SELECT owner, pod_if, host_if, bridge, netns, network, mac, addrs,"
                        " defroute FROM attachments ORDER BY owner, pod_if"},
    /* The DO UPDATE only fires for the same holder: a conflict with another
     * holder changes no row, which store_alloc_put reports as -EEXIST. */
    [ST_ALLOC_PUT] = {"alloc-put",
                      "INSERT INTO ipam_allocations(network, ip, ipkey, prefix, owner, ifname,"
                      " created) VALUES(?1,?2,?3,?4,?5,?6,?7)"
                      " ON CONFLICT(network, ipkey) DO UPDATE SET prefix=excluded.prefix"
                      " WHERE owner=excluded.owner AND ifname=excluded.ifname"},
    [ST_ALLOC_RELEASE] = {"alloc-release",
                          "DELETE FROM ipam_allocations WHERE owner=?1 AND ifname=?2"},
    [ST_ALLOC_RELEASE_IP] = {"alloc-release-ip",
                             "DELETE FROM ipam_allocations WHERE owner=?1 AND ifname=?2"
                             " AND network=?3 AND ipkey=?4"},
    [ST_DATA_VERSION] = {"data-version", "PRAGMA data_version"},
    [ST_ALLOC_LIST] = {"alloc-list", "SELECT network, ip, prefix, owner, ifname"
                                     " FROM ipam_allocations ORDER BY network, ipkey"},
    /* host-local's last_reserved_ip (005): oldest first per network */
    [ST_RESERVED_LIST] = {"reserved-list", "SELECT network, ip FROM ipam_reserved"
                                           " ORDER BY network, seq"},
    [ST_STATUS_PUT] = {"status-put",
                       "INSERT INTO object_status(id, kind, ns, name, file, rev, condition,"
                       " reason, message, since, network_status, prune, first_seen, source)"
                       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?14,?13)"
                       " ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, ns=excluded.ns,"
                       " name=excluded.name, file=excluded.file, rev=excluded.rev,"
                       " condition=excluded.condition, reason=excluded.reason,"
                       " message=excluded.message, network_status=excluded.network_status,"
                       " prune=excluded.prune, source=excluded.source,"
                       " first_seen=coalesce(object_status.first_seen, excluded.first_seen),"
                       " since=CASE WHEN object_status.condition IS excluded.condition"
                       " AND object_status.reason IS excluded.reason"
                       " THEN object_status.since ELSE excluded.since END"},
    [ST_STATUS_DELETE] = {"status-delete", "DELETE FROM object_status WHERE id=?1"},
    [ST_STATUS_LIST] = {"status-list",
                        "SELECT id, kind, ns, name, file, rev, condition, reason, message, since,"
                        " network_status, prune, first_seen, source FROM object_status"
                        " ORDER BY kind, ns, name, id"},
    [ST_LIVE_CLEAR_ADDRS] = {"live-clear-addrs", "DELETE FROM live_addrs"},
    [ST_LIVE_CLEAR_LINKS] = {"live-clear-links", "DELETE FROM live_links"},
    [ST_LIVE_LINK] = {"live-link",
                      "INSERT OR REPLACE INTO live_links(ifindex, name, kind, master, mtu, flags,"
                      " mac, alias) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"},
    [ST_LIVE_ADDR] = {"live-addr",
                      "INSERT OR REPLACE INTO live_addrs(ifindex, addr) VALUES(?1,?2)"},
    [ST_GEN_BEGIN] = {"gen-begin",
                      "INSERT INTO generations(started, \"trigger\", objects) VALUES(?1,?2,?3)"},
    [ST_OP_INTENT] = {"op-intent",
                      "INSERT INTO journal_ops(gen, seq, owner, op, inverse, state)"
                      " VALUES(?1,?2,?3,?4,?5,'intent')"},
    [ST_OP_STATE] = {"op-state",
                     "UPDATE journal_ops SET state=?3, error=?4 WHERE gen=?1 AND seq=?2"},
    [ST_GEN_END] = {"gen-end",
                    "UPDATE generations SET ended=?2, outcome=?3, nops=?4 WHERE id=?1"},
    [ST_HISTORY] = {"history", "SELECT id, started, ended, \"trigger\", objects, nops, outcome,"
                               " source FROM generations ORDER BY id DESC LIMIT ?1"},
    [ST_GEN_OPS] = {"gen-ops", "SELECT seq, owner, op, inverse, state, error FROM journal_ops"
                               " WHERE gen=?1 ORDER BY seq"},
    [ST_GEN_OUTCOME] = {"gen-outcome", "UPDATE generations SET outcome=?2 WHERE id=?1"},
    [ST_GEN_SOURCE] = {"gen-source", "UPDATE generations SET source=?2 WHERE id=?1"},
    [ST_GEN_TRIM] = {"gen-trim", "DELETE FROM generations WHERE id <= (SELECT max(id) FROM"
                                 " generations) - ?1 AND ended IS NOT NULL AND id NOT IN"
                                 " (SELECT max(gen) FROM journal_ops WHERE state='done'"
                                 " GROUP BY owner) AND id IS NOT"
                                 " (SELECT max(gen) FROM journal_ops WHERE state='done'"
                                 " AND op LIKE '%\"dns\":{%')"},
    /* The resolv.conf ownership record: the newest done op that carries a
     * "dns" object (dns-set, or a forget of the file) says who owns it. */
    [ST_DNS_OPS] = {"dns-ops", "SELECT op FROM journal_ops WHERE state='done' AND op LIKE"
                               " '%\"dns\":{%' ORDER BY gen DESC, seq DESC"},
    [ST_GEN_NEWEST] = {"gen-newest", "SELECT coalesce(max(id), 0) FROM generations"},
    [ST_PIN_PUT] = {"pin-put", "INSERT OR REPLACE INTO pins(owner, rev, condition, reason,"
                               " message, gen, created) VALUES(?1,?2,?3,?4,?5,?6,?7)"},
    [ST_PIN_DELETE] = {"pin-delete", "DELETE FROM pins WHERE owner=?1"},
    [ST_CAPTURE_GET] = {"capture-get", "SELECT results FROM captures WHERE policy=?1 AND rev=?2"},
    [ST_CAPTURE_DELETE] = {"capture-delete", "DELETE FROM captures WHERE policy=?1"},
    [ST_CAPTURE_PUT] = {"capture-put", "INSERT OR REPLACE INTO captures(policy, rev, results,"
                                       " created) VALUES(?1,?2,?3,?4)"},
    [ST_EVENTS] = {"events", "SELECT id, time, object, condition, reason, message, previous"
                             " FROM events ORDER BY id DESC LIMIT ?1"},
    [ST_PIN_LIST] = {"pin-list", "SELECT owner, rev, condition, reason, message, gen FROM pins"
                                 " ORDER BY owner"},
    [ST_GEN_UNFINISHED] = {"gen-unfinished",
                           "SELECT id FROM generations WHERE ended IS NULL"
                           " ORDER BY id DESC LIMIT 1"},
};

struct store {
    sqlite3 *db;
    char *path;
    bool readonly;
    sqlite3_stmt *stmt[_ST_MAX]; /* prepared on first use */
    int ckpt_frames;             /* store_defer_checkpoints: 0 = SQLite's own */
    int wal_frames;              /* pages in the log after the last commit */
};

/* ---- errors ------------------------------------------------------------ */

/* The one translation of SQLite result codes (extended codes are enabled)
 * into negative errno values. */
static int errno_from_sqlite(sqlite3 *db, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_CONSTRAINT:
        /* a duplicate key is "exists"; a missing value or a dangling
         * reference is the caller's bad argument */
        if (rc == SQLITE_CONSTRAINT_NOTNULL || rc == SQLITE_CONSTRAINT_CHECK ||
            rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return -EINVAL;
        return -EEXIST;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EUCLEAN;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_CANTOPEN: {
        int e = db ? sqlite3_system_errno(db) : 0;
        return e == EACCES || e == EPERM ? -EACCES : -ENOENT;
    }
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_FULL:
        return -ENOSPC;
    default:
        return -EIO;
    }
}

/* Log "<what>: <sqlite3_errmsg>" and return the errno for rc. */
static int store_err(struct store *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int store_err(struct store *s, int rc, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    log_error(LOG_OBJ, "%s: %s: %s", s->path ? s->path : "db", what,
              s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    return errno_from_sqlite(s->db, rc);
}

/* ---- statements -------------------------------------------------------- */

static void stmt_resetp(sqlite3_stmt **p)
{
    if (*p) {
        sqlite3_reset(*p);
        sqlite3_clear_bindings(*p);
    }
}
static void stmt_finalizep(sqlite3_stmt **p)
{
    sqlite3_finalize(*p);
}
#define _cleanup_reset_ _cleanup_(stmt_resetp)
#define _cleanup_finalize_ _cleanup_(stmt_finalizep)

/* The cached statement id, prepared on first use. */
static int stmt_get(struct store *s, enum stmt_id id, sqlite3_stmt **ret)
{
    if (!s->stmt[id]) {
        int rc = sqlite3_prepare_v3(s->db, stmt_table[id].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->stmt[id], NULL);
        if (rc != SQLITE_OK)
            return store_err(s, rc, "prepare %s", stmt_table[id].name);
    }
    *ret = s->stmt[id];
    return 0;
}

/* Bind parameters 1.. from fmt: 't' text (NULL binds NULL), 'i' int,
 * 'I' int64_t, 'b' blob (const void *, int length), 'n' NULL (no
 * argument). fmt must cover every parameter of the statement: a forgotten
 * one would silently be NULL, so a mismatch is refused with -EINVAL. */
static int bind_va(struct store *s, sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int rc = SQLITE_OK, idx = 0;

    if ((int)strlen(fmt) != sqlite3_bind_parameter_count(st))
        return log_error_errno(LOG_OBJ, -EINVAL, "%s: %zu values for %d parameters of %s",
                               s->path, strlen(fmt), sqlite3_bind_parameter_count(st),
                               sqlite3_sql(st));

    for (const char *f = fmt; *f && rc == SQLITE_OK; f++) {
        idx++;
        switch (*f) {
        case 't': {
            const char *t = va_arg(ap, const char *);
            rc = t ? sqlite3_bind_text(st, idx, t, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, idx);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int(st, idx, va_arg(ap, int));
            break;
        case 'I':
            rc = sqlite3_bind_int64(st, idx, va_arg(ap, int64_t));
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            int n = va_arg(ap, int);
            rc = sqlite3_bind_blob(st, idx, p, n, SQLITE_TRANSIENT);
            break;
        }
        case 'n':
            rc = sqlite3_bind_null(st, idx);
            break;
        default:
            rc = SQLITE_MISUSE;
        }
    }
    if (rc != SQLITE_OK)
        return store_err(s, rc, "bind parameter %d of %s", idx, sqlite3_sql(st));
    return 0;
}

/* Prepare (cached) statement id, bind fmt/args, step it to completion and
 * reset it. For writes; result rows, if any, are not expected. Returns the
 * number of rows changed (>= 0) or -errno. */
static int run(struct store *s, enum stmt_id id, const char *fmt, ...)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    sqlite3_stmt *p = NULL;
    va_list ap;
    int r, rc;

    r = stmt_get(s, id, &p);
    if (r < 0)
        return r;
    st = p;
    va_start(ap, fmt);
    r = bind_va(s, st, fmt, ap);
    va_end(ap);
    if (r < 0)
        return r;
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store_err(s, rc, "%s", stmt_table[id].name);
    return sqlite3_changes(s->db);
}

/* Prepare (cached) statement id and bind fmt/args, for a query that the
 * caller steps; the caller's _cleanup_reset_ variable resets it. */
static int query(struct store *s, enum stmt_id id, sqlite3_stmt **ret, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    int r;

    r = stmt_get(s, id, &st);
    if (r < 0)
        return r;
    va_start(ap, fmt);
    r = bind_va(s, st, fmt, ap);
    va_end(ap);
    if (r < 0) {
        sqlite3_clear_bindings(st);
        return r;
    }
    *ret = st;
    return 0;
}

/* Run SQL text once (pragmas, migrations); not cached. */
static int exec(struct store *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return store_err(s, rc, "%s", what);
    return 0;
}

static char *col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? xstrdup((const char *)t) : NULL;
}

static const char *col_str(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

/* Copy an interface-name column; -EUCLEAN (logged) when it cannot be one. */
static int col_ifname(struct store *s, sqlite3_stmt *st, int col, char dst[IFNAMSIZ_PLUMBD])
{
    const char *t = col_str(st, col);

    if (strlen(t) >= IFNAMSIZ_PLUMBD)
        return log_error_errno(LOG_OBJ, -EUCLEAN, "%s: bad interface name \"%s\" in %s",
                               s->path, t, sqlite3_sql(st));
    snprintf(dst, IFNAMSIZ_PLUMBD, "%s", t);
    return 0;
}

/* Parse an address column ("a/p", or "a" with default_prefix). */
static int col_ipaddr(struct store *s, sqlite3_stmt *st, int col, int default_prefix,
                      struct ipaddr *ret)
{
    const char *t = col_str(st, col);

    if (ipaddr_parse(t, default_prefix, ret) < 0)
        return log_error_errno(LOG_OBJ, -EUCLEAN, "%s: bad address \"%s\" in %s", s->path, t,
                               sqlite3_sql(st));
    return 0;
}

/* The end of a stepping loop: rc must be SQLITE_DONE. */
static int step_end(struct store *s, sqlite3_stmt *st, int rc)
{
    if (rc != SQLITE_DONE)
        return store_err(s, rc, "step %s", sqlite3_sql(st));
    return 0;
}

/* ---- open / migrate ---------------------------------------------------- */

static int user_version_get(struct store *s, int *ret)
{
    _cleanup_finalize_ sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_err(s, rc, "read user_version");
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return store_err(s, rc, "read user_version");
    *ret = sqlite3_column_int(st, 0);
    return 0;
}

static int migrations_known(void)
{
    int n = 0;

    while (embedded_migrations[n].name)
        n++;
    return n;
}

/* Bring the schema to the newest embedded migration. Each migration runs in
 * its own IMMEDIATE transaction together with its user_version bump, and the
 * version is re-read under the write lock, so two processes starting at once
 * apply each migration exactly once. -EPROTO when the database is newer than
 * this binary. A read-only store only checks the version. */
static int store_migrate(struct store *s)
{
    int known = migrations_known(), v, r;

    r = user_version_get(s, &v);
    if (r < 0)
        return r;
    if (v > known)
        return log_error_errno(LOG_OBJ, -EPROTO,
                               "%s: schema version %d is newer than this plumbd knows (%d); "
                               "refusing to use it (downgrade?)",
                               s->path, v, known);
    if (s->readonly) {
        if (v < known)
            log_warn(LOG_OBJ, "%s: schema version %d is older than %d; run the daemon to migrate",
                     s->path, v, known);
        return 0;
    }

    while (v < known) {
        char bump[64];

        r = exec(s, "BEGIN IMMEDIATE", "begin migration");
        if (r < 0)
            return r;
        r = user_version_get(s, &v);
        if (r < 0)
            goto fail;
        if (v > known) {
            r = log_error_errno(LOG_OBJ, -EPROTO, "%s: schema version %d is newer than %d",
                                s->path, v, known);
            goto fail;
        }
        if (v == known) { /* someone else finished it */
            r = exec(s, "COMMIT", "commit migration");
            if (r < 0)
                goto fail;
            break;
        }
        r = exec(s, embedded_migrations[v].data, embedded_migrations[v].name);
        if (r < 0)
            goto fail;
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        r = exec(s, bump, "set user_version");
        if (r < 0)
            goto fail;
        r = exec(s, "COMMIT", "commit migration");
        if (r < 0)
            goto fail;
        log_info(LOG_OBJ, "%s: applied migration %s", s->path, embedded_migrations[v].name);
        v++;
    }
    return 0;

fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static void store_closep(struct store **s)
{
    store_close(*s);
}

/* Contract (store.h). The directory is created 0700. Read-write opens set
 * WAL, synchronous=NORMAL and migrate; read-only opens neither write nor
 * migrate and report a missing database as -ENOENT without logging an
 * error. Both set foreign_keys and the busy timeout. */
int store_open(const char *state_dir, bool readonly, struct store **ret)
{
    _cleanup_(store_closep) struct store *s = NULL;
    int flags, rc, r;

    if (!state_dir || !*state_dir || !ret)
        return -EINVAL;

    s = xcalloc(1, sizeof(*s));
    s->readonly = readonly;
    s->path = xasprintf("%s/%s", state_dir, STORE_DB_NAME);

    if (readonly) {
        if (access(s->path, F_OK) < 0) {
            r = -errno;
            log_debug(LOG_OBJ, "%s: %s", s->path, strerror(-r));
            return r;
        }
        flags = SQLITE_OPEN_READONLY;
    } else {
        r = mkdir_p(state_dir, 0700);
        if (r < 0)
            return log_error_errno(LOG_OBJ, r, "%s: cannot create: %s", state_dir, strerror(-r));
        flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    }
    /* single-threaded daemon: no SQLite mutexes needed on this handle */
    flags |= SQLITE_OPEN_NOMUTEX;

    rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    if (rc != SQLITE_OK)
        return store_err(s, rc, "open");
    sqlite3_extended_result_codes(s->db, 1);
    rc = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK)
        return store_err(s, rc, "busy_timeout");

    r = exec(s, "PRAGMA foreign_keys=ON", "foreign_keys");
    if (r < 0)
        return r;
    /* A 512 KiB page cache instead of SQLite's 2 MiB: the daemon lives for
     * months beside the pods it serves, and a page it misses comes back
     * from the kernel's page cache in a pread. */
    r = exec(s, "PRAGMA cache_size=-512", "cache_size");
    if (r < 0)
        return r;
    if (!readonly) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;

        /* journal_mode answers with the mode in force; check it took */
        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            return store_err(s, rc, "journal_mode=WAL");
        if (strcasecmp(col_str(st, 0), "wal") != 0)
            log_warn(LOG_OBJ, "%s: journal_mode is %s, not wal", s->path, col_str(st, 0));
        r = exec(s, "PRAGMA synchronous=NORMAL", "synchronous");
        if (r < 0)
            return r;
    }

    r = store_migrate(s);
    if (r < 0)
        return r;

    *ret = TAKE_PTR(s);
    return 0;
}

/* After each commit (the write lock released): note the log's size; far
 * past the threshold, checkpoint here after all. */
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int nframes)
{
    struct store *s = ctx;
    s->wal_frames = nframes;
    if ((int64_t)nframes >= 4 * (int64_t)s->ckpt_frames) {
        int nlog = 0, nckpt = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        if (rc == SQLITE_OK) {
            s->wal_frames = 0;
            log_debug(LOG_OBJ, "checkpoint in a commit (no idle moment came): %d of %d log pages",
                      nckpt, nlog);
        } else if (rc != SQLITE_BUSY)
            log_warn(LOG_OBJ, "%s: checkpoint: %s", s->path, sqlite3_errmsg(db));
    }
    return SQLITE_OK;
}

void store_defer_checkpoints(struct store *s, int frames)
{
    if (!s || s->readonly || frames <= 0)
        return;
    s->ckpt_frames = frames;
    sqlite3_wal_hook(s->db, wal_hook, s); /* replaces SQLite's auto-checkpoint */
    /* SQLite reuses the log file and never shrinks it: once a checkpoint
     * let the log start over, it is cut back to the threshold's size (a
     * burst that took it to 4x does not keep the disk space). */
    _cleanup_finalize_ sqlite3_stmt *st = NULL;
    long long page = 4096;
    if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
        page = sqlite3_column_int64(st, 0);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%lld", (long long)frames * page);
    (void)exec(s, sql, "journal_size_limit");
}

bool store_checkpoint_due(const struct store *s)
{
    return s && s->ckpt_frames > 0 && s->wal_frames >= s->ckpt_frames;
}

/* PASSIVE: copies what no reader still needs, never waits for one. The
 * count is cleared whatever came of it: the next commit tells the log's
 * size again (small once the log restarted from its beginning), so a
 * checkpoint a reader held back is tried again after that commit, not in
 * a loop. */
void store_checkpoint(struct store *s)
{
    if (!s || s->ckpt_frames <= 0)
        return;
    int nlog = 0, nckpt = 0;
    uint64_t t0 = now_usec();
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
    if (rc == SQLITE_BUSY)
        log_debug(LOG_OBJ, "checkpoint busy: tried again after the next commit");
    else if (rc != SQLITE_OK)
        log_warn(LOG_OBJ, "%s: checkpoint: %s", s->path, sqlite3_errmsg(s->db));
    else
        log_debug(LOG_OBJ, "checkpoint: %d of %d log pages copied in %.2f ms", nckpt, nlog,
                  (double)(now_usec() - t0) / 1000.0);
    s->wal_frames = 0;
}

/* Finalizes the cached statements and closes; accepts NULL. */
void store_close(struct store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < _ST_MAX; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        log_error(LOG_OBJ, "%s: close: %s", s->path, sqlite3_errmsg(s->db));
    free(s->path);
    free(s);
}

/* ---- transactions ------------------------------------------------------ */

/* run() returns a row count; most callers want 0 or -errno. */
static int min_zero(int r)
{
    return r < 0 ? r : 0;
}

/* Begin a transaction unless one is open; *ret_own tells whether the
 * caller must end it (with end_own). read: deferred BEGIN for a consistent
 * multi-table read, else IMMEDIATE. */
static int begin_own(struct store *s, bool read, bool *ret_own)
{
    int r;

    if (!sqlite3_get_autocommit(s->db)) {
        *ret_own = false;
        return 0;
    }
    r = run(s, read ? ST_BEGIN_READ : ST_BEGIN, "");
    if (r < 0)
        return r;
    *ret_own = true;
    return 0;
}

/* End a transaction begun by begin_own: commit when r >= 0, else roll back.
 * Returns r, or the commit error. */
static int end_own(struct store *s, bool own, int r)
{
    if (!own)
        return r;
    if (r >= 0) {
        int q = run(s, ST_COMMIT, "");
        if (q >= 0)
            return r;
        r = q;
    }
    run(s, ST_ROLLBACK, "");
    return r;
}

/* Contract: plain BEGIN IMMEDIATE / COMMIT / ROLLBACK, no nesting.
 * store_begin inside an open transaction is -EBUSY; store_commit without one
 * is -EINVAL; store_rollback without one is a no-op success (so cleanup
 * paths may call it unconditionally). A failed COMMIT leaves the transaction
 * open: roll it back. */
int store_begin(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        return log_error_errno(LOG_OBJ, -EBUSY, "%s: begin: a transaction is already open",
                               s->path);
    return min_zero(run(s, ST_BEGIN, ""));
}

int store_commit(struct store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return log_error_errno(LOG_OBJ, -EINVAL, "%s: commit: no transaction is open", s->path);
    return min_zero(run(s, ST_COMMIT, ""));
}

int store_rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return 0;
    return min_zero(run(s, ST_ROLLBACK, ""));
}

/* ---- inventory --------------------------------------------------------- */

static void before_opts_from_text(const char *text, struct bropts *br, struct brport_opts *port)
{
    bropts_init(br);
    brport_opts_init(port);
    if (!text || !*text)
        return;
    json_t *o = json_loads(text, 0, NULL);
    if (json_is_object(o)) {
        bropts_from_json(json_object_get(o, "br"), br);
        brport_opts_from_json(json_object_get(o, "port"), port);
    }
    json_decref(o);
}

static int load_links(struct store *s, struct inventory *inv)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int rc, r;

    r = query(s, ST_LINK_LIST, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct owned_link *l = ARRAY_PUSH(inv->links, inv->nlinks);

        r = col_ifname(s, st, 0, l->ifname);
        if (r < 0)
            return r;
        l->owner = xstrdup(col_str(st, 1));
        l->created = sqlite3_column_int(st, 2) != 0;
        r = col_ifname(s, st, 3, l->before_master);
        if (r < 0)
            return r;
        l->before_mtu = (unsigned)sqlite3_column_int64(st, 4);
        l->before_up = sqlite3_column_int(st, 5) != 0;
        l->before_alias = col_dup(st, 6);
        l->before_stp = sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 7);
        before_opts_from_text(col_str(st, 8), &l->before_bropts, &l->before_brport);
        const char *mac = col_str(st, 9);
        l->before_has_mac = mac && mac_parse(mac, l->before_mac) == 0;
        l->before_promisc =
            sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 10);
    }
    return step_end(s, st, rc);
}

static int load_addrs(struct store *s, struct inventory *inv)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int rc, r;

    r = query(s, ST_ADDR_LIST, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct owned_addr *a = ARRAY_PUSH(inv->addrs, inv->naddrs);

        r = col_ifname(s, st, 0, a->ifname);
        if (r < 0)
            return r;
        r = col_ipaddr(s, st, 1, -1, &a->addr);
        if (r < 0)
            return r;
        a->owner = xstrdup(col_str(st, 2));
        a->dynamic = sqlite3_column_int(st, 3) != 0;
    }
    return step_end(s, st, rc);
}

static int load_routes(struct store *s, struct inventory *inv)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int rc, r;

    r = query(s, ST_ROUTE_LIST, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct owned_route o = {0};
        if (route_from_text(col_str(st, 0), &o.rt) < 0)
            return store_err(s, -EUCLEAN, "owned_routes: cannot parse '%s'", col_str(st, 0));
        o.owner = xstrdup(col_str(st, 1));
        *ARRAY_PUSH(inv->routes, inv->nroutes) = o;
    }
    return step_end(s, st, rc);
}

int store_route_put(struct store *s, const char *owner, const struct nm_route *rt)
{
    _cleanup_free_ char *spec = route_to_text(rt);
    if (!owner || !spec)
        return -EINVAL;
    return min_zero(run(s, ST_ROUTE_PUT, "tt", spec, owner));
}

int store_route_forget(struct store *s, const struct nm_route *rt)
{
    _cleanup_free_ char *spec = route_to_text(rt);
    if (!spec)
        return -EINVAL;
    return min_zero(run(s, ST_ROUTE_FORGET, "t", spec));
}

static int load_rules(struct store *s, struct inventory *inv)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int rc, r;

    r = query(s, ST_RULE_LIST, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct owned_rule o = {0};
        if (rule_from_text(col_str(st, 0), &o.rule) < 0)
            return store_err(s, -EUCLEAN, "owned_rules: cannot parse '%s'", col_str(st, 0));
        o.owner = xstrdup(col_str(st, 1));
        *ARRAY_PUSH(inv->rules, inv->nrules) = o;
    }
    return step_end(s, st, rc);
}

int store_rule_put(struct store *s, const char *owner, const struct nm_rule *rule)
{
    _cleanup_free_ char *spec = rule_to_text(rule);
    if (!owner || !spec)
        return -EINVAL;
    return min_zero(run(s, ST_RULE_PUT, "tt", spec, owner));
}

int store_rule_forget(struct store *s, const struct nm_rule *rule)
{
    _cleanup_free_ char *spec = rule_to_text(rule);
    if (!spec)
        return -EINVAL;
    return min_zero(run(s, ST_RULE_FORGET, "t", spec));
}

/* Parse a space-separated list of "a/p" into an owned_attach. */
static int parse_addr_list(struct store *s, const char *text, struct owned_attach *a)
{
    _cleanup_free_ char *copy = xstrdup(text);
    char *save = NULL;

    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        struct ipaddr ip;

        if (ipaddr_parse(tok, -1, &ip) < 0)
            return log_error_errno(LOG_OBJ, -EUCLEAN, "%s: bad address \"%s\" in attachment %s/%s",
                                   s->path, tok, a->owner, a->pod_if);
        *ARRAY_PUSH(a->addrs, a->naddrs) = ip;
    }
    /* the inventory is kept between passes: no room for four per row */
    array_fit(&a->addrs, a->naddrs, sizeof(*a->addrs));
    return 0;
}

static int load_attach(struct store *s, struct inventory *inv)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int rc, r;

    r = query(s, ST_ATTACH_LIST, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct owned_attach *a = ARRAY_PUSH(inv->attach, inv->nattach);
        const char *mac;

        a->owner = xstrdup(col_str(st, 0));
        if ((r = col_ifname(s, st, 1, a->pod_if)) < 0 ||
            (r = col_ifname(s, st, 2, a->host_if)) < 0 ||
            (r = col_ifname(s, st, 3, a->bridge)) < 0)
            return r;
        a->netns = col_dup(st, 4);
        a->network = col_dup(st, 5);
        mac = col_str(st, 6);
        if (*mac && mac_parse(mac, a->mac) < 0)
            return log_error_errno(LOG_OBJ, -EUCLEAN, "%s: bad MAC \"%s\" in attachment %s/%s",
                                   s->path, mac, a->owner, a->pod_if);
        r = parse_addr_list(s, col_str(st, 7), a);
        if (r < 0)
            return r;
        if (defroute_from_json(col_str(st, 8), &a->default_gw, &a->ndefault_gw,
                               &a->prev_defaults, &a->nprev_defaults) < 0)
            return log_error_errno(LOG_OBJ, -EUCLEAN, "%s: bad default-route record in "
                                   "attachment %s/%s", s->path, a->owner, a->pod_if);
    }
    return step_end(s, st, rc);
}

static int load_allocs(struct store *s, struct inventory *inv)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int rc, r;

    r = query(s, ST_ALLOC_LIST, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct allocation *a = ARRAY_PUSH(inv->allocs, inv->nallocs);
        int prefix = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);

        a->network = xstrdup(col_str(st, 0));
        r = col_ipaddr(s, st, 1, prefix, &a->ip);
        if (r < 0)
            return r;
        a->owner = xstrdup(col_str(st, 3));
        r = col_ifname(s, st, 4, a->ifname);
        if (r < 0)
            return r;
    }
    r = step_end(s, st, rc);
    if (r < 0)
        return r;
    /* the reservations that decide where host-local picks continue */
    _cleanup_reset_ sqlite3_stmt *rs = NULL;
    r = query(s, ST_RESERVED_LIST, &rs, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(rs)) == SQLITE_ROW) {
        struct allocation *a = ARRAY_PUSH(inv->reserved, inv->nreserved);
        a->network = xstrdup(col_str(rs, 0));
        r = col_ipaddr(s, rs, 1, -1, &a->ip);
        if (r < 0)
            return r;
    }
    return step_end(s, rs, rc);
}

/* Contract (store.h): fills every array from one consistent snapshot (a read
 * transaction unless the caller has one open), in a deterministic order:
 * links by ifname, addrs by ifname/family/text, attachments by owner/pod_if,
 * allocations by network then address. A row that cannot be parsed fails the
 * load with -EUCLEAN rather than silently forgetting what plumbd owns.
 * *ret untouched on failure. Cost: one pass over the four tables. */
int store_inventory_load(struct store *s, struct inventory *ret)
{
    _cleanup_(inventory_free) struct inventory inv = {0};
    bool own;
    int r;

    r = begin_own(s, true, &own);
    if (r < 0)
        return r;
    r = load_links(s, &inv);
    if (r >= 0)
        r = load_addrs(s, &inv);
    if (r >= 0)
        r = load_routes(s, &inv);
    if (r >= 0)
        r = load_rules(s, &inv);
    if (r >= 0)
        r = load_attach(s, &inv);
    if (r >= 0)
        r = load_allocs(s, &inv);
    r = end_own(s, own, r);
    if (r < 0)
        return r;

    *ret = inv;
    memset(&inv, 0, sizeof(inv));
    return 0;
}

/* Frees the contents (not the struct itself, which may live on the stack)
 * and zeroes it; accepts NULL. */
void inventory_free(struct inventory *inv)
{
    if (!inv)
        return;
    for (size_t i = 0; i < inv->nlinks; i++) {
        free(inv->links[i].owner);
        free(inv->links[i].before_alias);
    }
    for (size_t i = 0; i < inv->naddrs; i++)
        free(inv->addrs[i].owner);
    for (size_t i = 0; i < inv->nroutes; i++)
        free(inv->routes[i].owner);
    free(inv->routes);
    for (size_t i = 0; i < inv->nrules; i++)
        free(inv->rules[i].owner);
    free(inv->rules);
    for (size_t i = 0; i < inv->nattach; i++) {
        free(inv->attach[i].owner);
        free(inv->attach[i].netns);
        free(inv->attach[i].network);
        free(inv->attach[i].addrs);
        free(inv->attach[i].default_gw);
        free(inv->attach[i].prev_defaults);
    }
    for (size_t i = 0; i < inv->nallocs; i++) {
        free(inv->allocs[i].network);
        free(inv->allocs[i].owner);
    }
    for (size_t i = 0; i < inv->nreserved; i++)
        free(inv->reserved[i].network);
    free(inv->reserved);
    free(inv->links);
    free(inv->addrs);
    free(inv->attach);
    free(inv->allocs);
    memset(inv, 0, sizeof(*inv));
}

/* The before_opts column: NULL when nothing was recorded. */
static char *before_opts_to_text(const struct bropts *br, const struct brport_opts *port)
{
    if (!bropts_any(br) && !brport_opts_any(port))
        return NULL;
    json_t *o = json_pack("{s:o, s:o}", "br", bropts_to_json(br), "port",
                          brport_opts_to_json(port));
    char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return t;
}

/* Upsert by ifname. For a created link the before-image is stored as NULLs;
 * before_master "" is stored as NULL (no master). */
int store_link_put(struct store *s, const struct owned_link *l)
{
    if (!l || !l->owner || !l->ifname[0])
        return -EINVAL;
    if (l->created)
        return min_zero(run(s, ST_LINK_PUT, "ttinnnnnnnn", l->ifname, l->owner, 1));
    _cleanup_free_ char *opts = before_opts_to_text(&l->before_bropts, &l->before_brport);
    char mac[18];
    return min_zero(run(s, ST_LINK_PUT, "ttitIitIttI", l->ifname, l->owner, 0,
                        l->before_master[0] ? l->before_master : NULL, (int64_t)l->before_mtu,
                        l->before_up ? 1 : 0, l->before_alias, (int64_t)l->before_stp, opts,
                        l->before_has_mac ? mac_format(l->before_mac, mac, sizeof(mac)) : NULL,
                        (int64_t)l->before_promisc));
}

/* Deleting a name that is not there is success. The link's owned_addrs rows
 * are separate and stay until forgotten. */
int store_link_forget(struct store *s, const char *ifname)
{
    return min_zero(run(s, ST_LINK_FORGET, "t", ifname));
}

/* Upsert by (ifname, "a/p"). */
int store_addr_put(struct store *s, const struct owned_addr *a)
{
    char buf[64];

    if (!a || !a->owner || !a->ifname[0] || !*ipaddr_format(&a->addr, true, buf, sizeof(buf)))
        return -EINVAL;
    return min_zero(run(s, ST_ADDR_PUT, "titti", a->ifname, a->addr.family, buf, a->owner,
                        (int)a->dynamic));
}

int store_addr_forget(struct store *s, const char *ifname, const struct ipaddr *a)
{
    char buf[64];

    if (!*ipaddr_format(a, true, buf, sizeof(buf)))
        return -EINVAL;
    return min_zero(run(s, ST_ADDR_FORGET, "tt", ifname, buf));
}

/* Upsert by (owner, pod_if). -EEXIST when host_if belongs to another
 * attachment. An all-zero MAC is stored as NULL. */
int store_attach_put(struct store *s, const struct owned_attach *a)
{
    static const uint8_t zero_mac[6];
    _cleanup_free_ char *addrs = NULL;
    char mac[18] = "";
    size_t len = 0;

    if (!a || !a->owner || !a->pod_if[0] || !a->host_if[0])
        return -EINVAL;
    addrs = xmalloc(a->naddrs * 64 + 1);
    addrs[0] = '\0';
    for (size_t i = 0; i < a->naddrs; i++) {
        char buf[64];

        if (!*ipaddr_format(&a->addrs[i], true, buf, sizeof(buf)))
            return -EINVAL;
        len += (size_t)sprintf(addrs + len, "%s%s", i ? " " : "", buf);
    }
    if (memcmp(a->mac, zero_mac, 6) != 0)
        mac_format(a->mac, mac, sizeof(mac));
    _cleanup_free_ char *defroute = defroute_to_json(a->default_gw, a->ndefault_gw,
                                                     a->prev_defaults, a->nprev_defaults);
    return min_zero(run(s, ST_ATTACH_PUT, "ttttttttt", a->owner, a->pod_if, a->host_if,
                        a->bridge[0] ? a->bridge : NULL, a->netns, a->network,
                        mac[0] ? mac : NULL, addrs, defroute));
}

int store_attach_forget(struct store *s, const char *owner, const char *pod_if)
{
    return min_zero(run(s, ST_ATTACH_FORGET, "tt", owner, pod_if));
}

/* ---- IPAM -------------------------------------------------------------- */

/* 17-byte sortable key: family tag (4 or 6) then the address bytes,
 * IPv4 zero-padded. */
static int ipkey_make(const struct ipaddr *ip, uint8_t key[17])
{
    memset(key, 0, 17);
    if (ip->family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, ip->bytes, 4);
    } else if (ip->family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, ip->bytes, 16);
    } else
        return -EINVAL;
    return 0;
}

/* Contract (store.h). One statement: an insert whose conflict update only
 * fires for the same (owner, ifname), so the check and the write are atomic
 * even without a surrounding transaction. */
int store_alloc_put(struct store *s, const struct allocation *a)
{
    uint8_t key[17];
    char ip[64];
    int r;

    if (!a || !a->network || !a->owner || !a->ifname[0] || ipkey_make(&a->ip, key) < 0)
        return -EINVAL;
    ipaddr_format(&a->ip, false, ip, sizeof(ip));
    r = run(s, ST_ALLOC_PUT, "ttbittI", a->network, ip, key, 17, (int)a->ip.prefix, a->owner,
            a->ifname, (int64_t)now_wall());
    if (r < 0)
        return r;
    if (r == 0) {
        log_debug(LOG_OBJ, "%s: %s already allocated in %s to someone else (wanted by %s/%s)",
                  s->path, ip, a->network, a->owner, a->ifname);
        return -EEXIST;
    }
    return 0;
}

/* Releases every address of (owner, ifname) in every network; releasing
 * nothing is success. */
int store_alloc_release(struct store *s, const char *owner, const char *ifname)
{
    return min_zero(run(s, ST_ALLOC_RELEASE, "tt", owner, ifname));
}

int store_alloc_release_ip(struct store *s, const struct allocation *a)
{
    uint8_t key[17];
    if (!a || !a->network || !a->owner || !a->ifname[0] || ipkey_make(&a->ip, key) < 0)
        return -EINVAL;
    return min_zero(run(s, ST_ALLOC_RELEASE_IP, "tttb", a->owner, a->ifname, a->network, key, 17));
}

/* ---- status ------------------------------------------------------------ */

/* Contract (store.h): st->since is ignored; the row's since is now_wall()
 * on insert and whenever condition or reason change. */
int store_status_put_at(struct store *s, const struct objstatus *st, int64_t now_s,
                        int64_t now_us)
{
    const char *cond, *kind;

    if (!st || !st->id || (unsigned)st->cond >= _COND_MAX || (unsigned)st->kind >= _OBJ_KIND_MAX)
        return -EINVAL;
    cond = condition_to_string(st->cond);
    kind = obj_kind_to_string(st->kind);
    return min_zero(run(s, ST_STATUS_PUT, "tttttttttItItI", st->id, kind, st->ns, st->name,
                        st->file, st->rev, cond, st->reason, st->message, now_s,
                        st->network_status, (int64_t)!st->no_prune, st->source, now_us));
}

int store_status_put(struct store *s, const struct objstatus *st)
{
    /* first_seen in microseconds: objects seen in two passes within one
     * second still have an order (the older wins a conflict). */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return store_status_put_at(s, st, (int64_t)now_wall(),
                               (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

int store_data_version(struct store *s, int64_t *ret)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int r = query(s, ST_DATA_VERSION, &st, "");
    if (r < 0)
        return r;
    if (sqlite3_step(st) != SQLITE_ROW)
        return -EIO;
    *ret = sqlite3_column_int64(st, 0);
    return 0;
}

void objstatus_copy(struct objstatus *dst, const struct objstatus *src)
{
    *dst = *src;
    dst->id = src->id ? xstrdup(src->id) : NULL;
    dst->ns = src->ns ? xstrdup(src->ns) : NULL;
    dst->name = src->name ? xstrdup(src->name) : NULL;
    dst->file = src->file ? xstrdup(src->file) : NULL;
    dst->reason = src->reason ? xstrdup(src->reason) : NULL;
    dst->message = src->message ? xstrdup(src->message) : NULL;
    dst->network_status = src->network_status ? xstrdup(src->network_status) : NULL;
    dst->source = src->source ? xstrdup(src->source) : NULL;
}

int store_status_delete(struct store *s, const char *id)
{
    return min_zero(run(s, ST_STATUS_DELETE, "t", id));
}

/* Sorted by kind, ns, name (then id). -EUCLEAN for an unknown kind or
 * condition string. *ret and *ret_n untouched on failure; caller frees with
 * objstatus_list_free. */
int store_status_list(struct store *s, struct objstatus **ret, size_t *ret_n)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    struct objstatus *v = NULL;
    size_t n = 0;
    int rc, r;

    r = query(s, ST_STATUS_LIST, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct objstatus *o = ARRAY_PUSH(v, n);
        int kind = obj_kind_from_string(col_str(st, 1));
        int cond = condition_from_string(col_str(st, 6));

        o->id = col_dup(st, 0);
        if (kind < 0 || cond < 0) {
            r = log_error_errno(LOG_OBJ, -EUCLEAN, "%s: status of %s: bad kind \"%s\" or "
                                "condition \"%s\"", s->path, o->id, col_str(st, 1),
                                col_str(st, 6));
            objstatus_list_free(v, n);
            return r;
        }
        o->kind = (enum obj_kind)kind;
        o->cond = (enum condition)cond;
        o->ns = col_dup(st, 2);
        o->name = col_dup(st, 3);
        o->file = col_dup(st, 4);
        snprintf(o->rev, sizeof(o->rev), "%s", col_str(st, 5));
        o->reason = col_dup(st, 7);
        o->message = col_dup(st, 8);
        o->since = sqlite3_column_int64(st, 9);
        o->network_status = col_dup(st, 10);
        o->no_prune = sqlite3_column_int64(st, 11) == 0;
        o->first_seen = sqlite3_column_int64(st, 12);
        o->source = col_dup(st, 13);
    }
    r = step_end(s, st, rc);
    if (r < 0) {
        objstatus_list_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* Frees the strings of one status, sets them to NULL; accepts NULL. */
void objstatus_free_fields(struct objstatus *st)
{
    if (!st)
        return;
    free(st->id);
    free(st->ns);
    free(st->name);
    free(st->file);
    free(st->reason);
    free(st->message);
    free(st->network_status);
    free(st->source);
    st->id = st->ns = st->name = st->file = st->reason = st->message = st->network_status = NULL;
    st->source = NULL;
}

void objstatus_list_free(struct objstatus *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        objstatus_free_fields(&v[i]);
    free(v);
}

/* ---- live cache -------------------------------------------------------- */

/* Contract (store.h): delete + insert of live_links/live_addrs. Runs in the
 * caller's transaction, or in its own one when none is open, so the cache
 * is never half-replaced. Duplicate ifindexes (libnl per-family copies)
 * collapse to one row. Cost: one insert per link and address. */
int store_live_put(struct store *s, const struct live_ns *l)
{
    bool own;
    int r;

    r = begin_own(s, false, &own);
    if (r < 0)
        return r;
    r = run(s, ST_LIVE_CLEAR_ADDRS, "");
    if (r >= 0)
        r = run(s, ST_LIVE_CLEAR_LINKS, "");
    for (size_t i = 0; r >= 0 && i < l->nlinks; i++) {
        const struct live_link *k = &l->links[i];
        char mac[18];

        if (k->has_mac)
            mac_format(k->mac, mac, sizeof(mac));
        r = run(s, ST_LIVE_LINK, "ittiIItt", k->ifindex, k->name, k->kind, k->master,
                (int64_t)k->mtu, (int64_t)k->flags, k->has_mac ? mac : NULL, k->alias);
    }
    for (size_t i = 0; r >= 0 && i < l->naddrs; i++) {
        char buf[64];

        r = run(s, ST_LIVE_ADDR, "it", l->addrs[i].ifindex,
                ipaddr_format(&l->addrs[i].addr, true, buf, sizeof(buf)));
    }
    return min_zero(end_own(s, own, r));
}

/* ---- journal ----------------------------------------------------------- */

static const char *const trigger_names[] = {
    [TRIG_MANUAL] = "manual", [TRIG_FILE] = "file",         [TRIG_DRIFT] = "drift",
    [TRIG_RESYNC] = "resync", [TRIG_ROLLBACK] = "rollback", [TRIG_START] = "start",
    [TRIG_RECOVERY] = "recovery",
};

const char *gen_trigger_to_string(enum gen_trigger t)
{
    if ((unsigned)t >= ARRAY_SIZE(trigger_names))
        return NULL;
    return trigger_names[t];
}

static const char *const op_state_names[] = {
    [OPST_INTENT] = "intent",
    [OPST_DONE] = "done",
    [OPST_UNDONE] = "undone",
    [OPST_FAILED] = "failed",
};

const char *op_state_to_string(enum op_state st)
{
    if ((unsigned)st >= ARRAY_SIZE(op_state_names))
        return NULL;
    return op_state_names[st];
}

static int op_state_from_string(const char *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(op_state_names); i++)
        if (streq(s, op_state_names[i]))
            return (int)i;
    return -EINVAL;
}

/* A new generation row (started = now, unfinished); its id in *ret_gen. */
int store_gen_begin(struct store *s, enum gen_trigger trig, const char *objects, int64_t *ret_gen)
{
    const char *t = gen_trigger_to_string(trig);
    int r;

    if (!t || !ret_gen)
        return -EINVAL;
    r = run(s, ST_GEN_BEGIN, "Itt", (int64_t)now_wall(), t, objects);
    if (r < 0)
        return r;
    *ret_gen = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* -EINVAL for an unknown gen (foreign key), -EEXIST for a reused seq. */
int store_op_intent(struct store *s, int64_t gen, int seq, const char *owner, const char *op,
                    const char *inverse)
{
    return min_zero(run(s, ST_OP_INTENT, "Iittt", gen, seq, owner, op, inverse));
}

/* -ENOENT when (gen, seq) was never recorded. */
int store_op_state(struct store *s, int64_t gen, int seq, enum op_state st, const char *error)
{
    const char *name = op_state_to_string(st);
    int r;

    if (!name)
        return -EINVAL;
    r = run(s, ST_OP_STATE, "Iitt", gen, seq, name, error);
    if (r < 0)
        return r;
    return r == 0 ? -ENOENT : 0;
}

/* Sets ended = now, outcome, nops. -ENOENT for an unknown gen. */
int store_gen_end(struct store *s, int64_t gen, const char *outcome, int nops)
{
    int r = run(s, ST_GEN_END, "IIti", gen, (int64_t)now_wall(), outcome, nops);

    if (r < 0)
        return r;
    return r == 0 ? -ENOENT : 0;
}

/* Newest first, at most limit rows (limit <= 0: all). An unfinished
 * generation has ended = 0 and outcome NULL. */
int store_history(struct store *s, int limit, struct gen_row **ret, size_t *ret_n)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    struct gen_row *v = NULL;
    size_t n = 0;
    int rc, r;

    r = query(s, ST_HISTORY, &st, "i", limit > 0 ? limit : -1);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct gen_row *g = ARRAY_PUSH(v, n);

        g->id = sqlite3_column_int64(st, 0);
        g->started = sqlite3_column_int64(st, 1);
        g->ended = sqlite3_column_int64(st, 2);
        g->trigger = col_dup(st, 3);
        g->objects = col_dup(st, 4);
        g->nops = sqlite3_column_int(st, 5);
        g->outcome = col_dup(st, 6);
        g->source = col_dup(st, 7);
    }
    r = step_end(s, st, rc);
    if (r < 0) {
        gen_rows_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void gen_rows_free(struct gen_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].trigger);
        free(v[i].objects);
        free(v[i].outcome);
        free(v[i].source);
    }
    free(v);
}

/* Contract (store.h). -EUCLEAN for an unknown state string. */
int store_gen_ops(struct store *s, int64_t gen, struct op_row **ret, size_t *ret_n)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    struct op_row *v = NULL;
    size_t n = 0;
    int rc, r;

    r = query(s, ST_GEN_OPS, &st, "I", gen);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct op_row *o = ARRAY_PUSH(v, n);
        int state = op_state_from_string(col_str(st, 4));

        o->seq = sqlite3_column_int(st, 0);
        o->owner = col_dup(st, 1);
        o->op = col_dup(st, 2);
        o->inverse = col_dup(st, 3);
        o->error = col_dup(st, 5);
        if (state < 0) {
            r = log_error_errno(LOG_OBJ, -EUCLEAN, "%s: generation %lld op %d: bad state \"%s\"",
                                s->path, (long long)gen, o->seq, col_str(st, 4));
            op_rows_free(v, n);
            return r;
        }
        o->state = (enum op_state)state;
    }
    r = step_end(s, st, rc);
    if (r < 0) {
        op_rows_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void op_rows_free(struct op_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].owner);
        free(v[i].op);
        free(v[i].inverse);
        free(v[i].error);
    }
    free(v);
}

/* Contract (store.h): "unfinished" means ended IS NULL. */
int store_dns_owner(struct store *s, const char *path, struct dns_state *ret)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int rc, r;

    r = query(s, ST_DNS_OPS, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct op op;
        if (op_from_json(col_str(st, 0), &op) < 0 || !op.dns.set)
            continue;
        if (!streq(op.dns.path, path)) {
            op_clear(&op);
            continue;
        }
        ret->holder = TAKE_PTR(op.dns.holder);
        ret->orig_exists = op.dns.orig_exists;
        ret->orig = TAKE_PTR(op.dns.orig);
        op_clear(&op);
        return 0;
    }
    return step_end(s, st, rc);
}

int store_gen_newest(struct store *s, int64_t *ret_gen)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int r = query(s, ST_GEN_NEWEST, &st, "");
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return store_err(s, rc, "gen-newest");
    *ret_gen = sqlite3_column_int64(st, 0);
    return 0;
}

int store_gen_unfinished(struct store *s, int64_t *ret_gen)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int rc, r;

    r = query(s, ST_GEN_UNFINISHED, &st, "");
    if (r < 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    if (rc != SQLITE_ROW)
        return store_err(s, rc, "gen-unfinished");
    *ret_gen = sqlite3_column_int64(st, 0);
    return 0;
}

/* ---- generations: outcome, source, retention; pins ---------------------- */

int store_gen_outcome(struct store *s, int64_t gen, const char *outcome)
{
    int r = run(s, ST_GEN_OUTCOME, "It", gen, outcome);
    return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int store_gen_source(struct store *s, int64_t gen, const char *source)
{
    return min_zero(run(s, ST_GEN_SOURCE, "It", gen, source));
}

/* Keep the newest `keep` generations, and older ones still needed to undo
 * the current state (each object's newest generation that changed it);
 * unfinished ones are never dropped (start-up recovery needs them).
 * Journal rows go with their generation (cascade). */
int store_gen_trim(struct store *s, int keep)
{
    return min_zero(run(s, ST_GEN_TRIM, "i", keep > 0 ? keep : 1));
}

int store_pin_put(struct store *s, const struct pin *p)
{
    return min_zero(run(s, ST_PIN_PUT, "tttttII", p->owner, p->rev,
                        condition_to_string(p->cond), p->reason, p->message, p->gen,
                        (int64_t)now_wall()));
}

int store_capture_get(struct store *s, const char *policy, const char *rev, char **ret_json)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    int r = query(s, ST_CAPTURE_GET, &st, "tt", policy, rev);
    if (r < 0)
        return r;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret_json = col_dup(st, 0);
        return 0;
    }
    r = step_end(s, st, rc);
    return r < 0 ? r : -ENOENT;
}

int store_capture_put(struct store *s, const char *policy, const char *rev, const char *json)
{
    return min_zero(run(s, ST_CAPTURE_PUT, "tttI", policy, rev, json, (int64_t)now_wall()));
}

int store_capture_delete(struct store *s, const char *policy)
{
    return min_zero(run(s, ST_CAPTURE_DELETE, "t", policy));
}

int store_pin_delete(struct store *s, const char *owner)
{
    return min_zero(run(s, ST_PIN_DELETE, "t", owner));
}

int store_pin_list(struct store *s, struct pin **ret, size_t *ret_n)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    struct pin *v = NULL;
    size_t n = 0;
    int rc, r;

    r = query(s, ST_PIN_LIST, &st, "");
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct pin *p = ARRAY_PUSH(v, n);
        int c = condition_from_string(col_str(st, 2));
        p->owner = col_dup(st, 0);
        snprintf(p->rev, sizeof(p->rev), "%s", col_str(st, 1));
        p->cond = c < 0 ? COND_FAILING : (enum condition)c;
        p->reason = col_dup(st, 3);
        p->message = col_dup(st, 4);
        p->gen = sqlite3_column_int64(st, 5);
    }
    r = step_end(s, st, rc);
    if (r < 0) {
        pins_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void pins_free(struct pin *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].owner);
        free(v[i].reason);
        free(v[i].message);
    }
    free(v);
}

/* ---- events (condition transitions, recorded by triggers) ------------- */

int store_events(struct store *s, int limit, struct event_row **ret, size_t *ret_n)
{
    _cleanup_reset_ sqlite3_stmt *st = NULL;
    struct event_row *v = NULL;
    size_t n = 0;
    int rc, r;

    r = query(s, ST_EVENTS, &st, "i", limit > 0 ? limit : -1);
    if (r < 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct event_row *e = ARRAY_PUSH(v, n);
        e->id = sqlite3_column_int64(st, 0);
        e->time = sqlite3_column_int64(st, 1);
        e->object = col_dup(st, 2);
        e->condition = col_dup(st, 3);
        e->reason = col_dup(st, 4);
        e->message = col_dup(st, 5);
        e->previous = col_dup(st, 6);
    }
    r = step_end(s, st, rc);
    if (r < 0) {
        event_rows_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void event_rows_free(struct event_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].object);
        free(v[i].condition);
        free(v[i].reason);
        free(v[i].message);
        free(v[i].previous);
    }
    free(v);
}

/* ---- DHCP leases (010) ---------------------------------------------------
 * Rare writes (a lease acquired, renewed, lost): statements are prepared
 * per call instead of cached. */

static char *addr4_text(uint32_t a, char *buf, size_t len)
{
    struct in_addr in = {.s_addr = a};
    if (!inet_ntop(AF_INET, &in, buf, (socklen_t)len))
        buf[0] = 0;
    return buf;
}

static uint32_t text_addr4(const char *s)
{
    struct in_addr in = {0};
    if (!s || inet_pton(AF_INET, s, &in) != 1)
        return 0;
    return in.s_addr;
}

int store_lease_put(struct store *s, const struct lease_row *row)
{
    const struct dhcp_lease *l = &row->lease;
    char addr[64], tmp[32], router[32], server[32], mac[18];
    snprintf(addr, sizeof(addr), "%s/%u", addr4_text(l->addr, tmp, sizeof(tmp)), l->prefix);
    _cleanup_free_ char *dns = xstrdup(""), *routes = xstrdup("");
    for (size_t i = 0; i < l->ndns && i < DHCP_MAX_DNS; i++) {
        char *n = xasprintf("%s%s%s", dns, i ? " " : "", addr4_text(l->dns[i], tmp, sizeof(tmp)));
        free(dns);
        dns = n;
    }
    for (size_t i = 0; i < l->nroutes && i < DHCP_MAX_ROUTES; i++) {
        char gw[32];
        char *n = xasprintf("%s%s%s/%u %s", routes, i ? "," : "",
                            addr4_text(l->routes[i].dst, tmp, sizeof(tmp)), l->routes[i].plen,
                            addr4_text(l->routes[i].gw, gw, sizeof(gw)));
        free(routes);
        routes = n;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db,
        "INSERT OR REPLACE INTO dhcp_lease(ifname, owner, mac, address, router, dns, domain,"
        " routes, server_id, lease_s, t1, t2, acquired_at, xid)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_err(s, rc, "prepare lease-put");
    sqlite3_bind_text(st, 1, row->ifname, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, row->owner ? row->owner : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, mac_format(row->mac, mac, sizeof(mac)), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, addr, -1, SQLITE_TRANSIENT);
    if (l->router)
        sqlite3_bind_text(st, 5, addr4_text(l->router, router, sizeof(router)), -1,
                          SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, dns, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, l->domain, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, routes, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, addr4_text(l->server_id, server, sizeof(server)), -1,
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 10, l->lease_s);
    sqlite3_bind_int64(st, 11, l->t1_s);
    sqlite3_bind_int64(st, 12, l->t2_s);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)l->acquired_ms);
    sqlite3_bind_int64(st, 14, row->xid);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_err(s, rc, "lease-put %s", row->ifname);
}

int store_lease_delete(struct store *s, const char *ifname)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "DELETE FROM dhcp_lease WHERE ifname=?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_err(s, rc, "prepare lease-delete");
    sqlite3_bind_text(st, 1, ifname, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_err(s, rc, "lease-delete %s", ifname);
}

static void lease_parse_lists(struct dhcp_lease *l, const char *dns, const char *routes)
{
    _cleanup_free_ char *d = xstrdup(dns ? dns : ""), *r = xstrdup(routes ? routes : "");
    char *save = NULL;
    for (char *t = strtok_r(d, " ", &save); t && l->ndns < DHCP_MAX_DNS;
         t = strtok_r(NULL, " ", &save))
        l->dns[l->ndns++] = text_addr4(t);
    for (char *t = strtok_r(r, ",", &save); t && l->nroutes < DHCP_MAX_ROUTES;
         t = strtok_r(NULL, ",", &save)) {
        char dst[32] = "", gw[32] = "";
        unsigned plen = 0;
        if (sscanf(t, "%31[^/]/%u %31s", dst, &plen, gw) != 3 || plen > 32)
            continue;
        struct dhcp_route *rt = &l->routes[l->nroutes++];
        rt->dst = text_addr4(dst);
        rt->plen = (uint8_t)plen;
        rt->gw = text_addr4(gw);
    }
}

int store_lease_list(struct store *s, struct lease_row **ret, size_t *ret_n)
{
    sqlite3_stmt *st = NULL;
    struct lease_row *v = NULL;
    size_t n = 0;
    int rc = sqlite3_prepare_v2(
        s->db,
        "SELECT ifname, owner, mac, address, router, dns, domain, routes, server_id, lease_s,"
        " t1, t2, acquired_at, xid FROM dhcp_lease ORDER BY ifname",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_err(s, rc, "prepare lease-list");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct lease_row row = {0};
        struct ipaddr a;
        if (!col_str(st, 0) || strlen(col_str(st, 0)) >= IFNAMSIZ_PLUMBD ||
            ipaddr_parse(col_str(st, 3), -1, &a) < 0 || a.family != AF_INET)
            continue; /* a row this binary cannot read is ignored */
        snprintf(row.ifname, sizeof(row.ifname), "%s", col_str(st, 0));
        row.owner = xstrdup(col_str(st, 1) ? col_str(st, 1) : "");
        if (col_str(st, 2))
            mac_parse(col_str(st, 2), row.mac);
        memcpy(&row.lease.addr, a.bytes, 4);
        row.lease.prefix = a.prefix;
        row.lease.router = text_addr4(col_str(st, 4));
        lease_parse_lists(&row.lease, col_str(st, 5), col_str(st, 7));
        snprintf(row.lease.domain, sizeof(row.lease.domain), "%s",
                 col_str(st, 6) ? col_str(st, 6) : "");
        row.lease.server_id = text_addr4(col_str(st, 8));
        row.lease.lease_s = (uint32_t)sqlite3_column_int64(st, 9);
        row.lease.t1_s = (uint32_t)sqlite3_column_int64(st, 10);
        row.lease.t2_s = (uint32_t)sqlite3_column_int64(st, 11);
        row.lease.acquired_ms = (uint64_t)sqlite3_column_int64(st, 12);
        row.xid = (uint32_t)sqlite3_column_int64(st, 13);
        *ARRAY_PUSH(v, n) = row;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        lease_rows_free(v, n);
        return store_err(s, rc, "lease-list");
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void lease_rows_free(struct lease_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].owner);
    free(v);
}
