/* main.c - the plumbd command line (DESIGN.md "CLI contract").
 *
 *   plumbd [--config-dir DIR] [--state-dir DIR] [--netns NAME|PATH]
 *          [--node-name N] [options] <command> [args]
 *
 * Exit codes: 0 success; 1 an object failed or is pending (apply), a check
 * failed (validate) or a runtime error; 2 usage error; 4 `plan` has
 * pending operations. */
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <sys/inotify.h>
#include <jansson.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "capture.h"
#include "control.h"
#include "load.h"
#include "log.h"
#include "journal.h"
#include "loop.h"
#include "reconcile.h"
#include "schema.h"
#include "show.h"
#include "dhcpmgr.h"

#define VERSION "0.1.0"

struct opts {
    const char *config_dir;
    const char *config_dirs[16]; /* every --config-dir given */
    size_t nconfig_dirs;
    const char *state_dir;
    const char *netns;
    char node_name[256];
    bool allow_empty;
    bool watch;
    unsigned flap_limit, flap_backoff_s, history_keep, probe_timeout_s;
    unsigned dhcp_wait_ms; /* apply: how long to wait for a DHCP lease */
    const char *output;
    const char *resolv_conf;
    const char *current;  /* capture: the state file (default: the live node) */
    bool recapture;       /* apply/plan: evaluate spec.capture again */
    bool standalone;      /* apply: converge here even beside a daemon */
    struct loop_opts loop;
};

static void usage(FILE *f)
{
    fputs("usage: plumbd [options] <command> [args]\n"
          "\n"
          "commands:\n"
          "  run             daemon: watch, converge, repair drift until SIGTERM\n"
          "  apply           converge once; exit 0 when every object is Available\n"
          "  plan            print the operations apply would run; exit 0 none, 4 some\n"
          "  show [-o yaml|json]          live node state as nmstate YAML\n"
          "  status [-o table|yaml|json] [--watch]  one line per object (--watch: follow)\n"
          "  events [-o json] [N]         the last N condition transitions (default 50)\n"
          "  history [-o table|json] [GEN]  journal generations, newest first; or GEN's ops\n"
          "  rollback [GEN]  undo the newest applied generation (or all after GEN)\n"
          "  validate PATH...  check files or directories; exit 1 on any error\n"
          "  capture [--current FILE] POLICY...  desiredState with spec.capture resolved\n"
          "\n"
          "options:\n"
          "  --config-dir DIR   desired-state files (default /etc/plumbd/desired.d);\n"
          "                     repeat to merge several sources\n"
          "  --state-dir DIR    database and status files (default /var/lib/plumbd)\n"
          "  --netns NAME|PATH  the node is this network namespace\n"
          "  --node-name N      this node's name for nodeSelector (default: hostname)\n"
          "  --allow-empty      an empty or missing config dir may prune everything\n"
          "  --settle-ms MS     wait after file events before converging (default 200)\n"
          "  --resync-s S       periodic full resync interval (default 300)\n"
          "  --flap-limit N     repairs of one change per minute before backing off\n"
          "                     and reporting Degraded (default 10, max 63)\n"
          "  --flap-backoff-s S how long a Degraded object is left alone (default 60)\n"
          "  --history N        journal generations kept (default 100)\n"
          "  --insecure-config  accept group- or world-writable config files and dirs\n"
          "  --probe-timeout-s S  how long probes after a policy may take (default 10)\n"
          "  --resolv-conf PATH the file dns-resolver is written to (default /etc/resolv.conf)\n"
          "  --recapture        apply/plan: evaluate every spec.capture again\n"
          "  --current FILE     capture: the state to evaluate against (default: the node)\n"
          "  --dhcp-wait-ms MS  apply: how long to wait for DHCP leases (default 3000)\n"
          "  --standalone       apply: converge here, not through a running daemon\n"
          "  --log-format FMT   logfmt (default) or json\n"
          "  --metrics-file P   write Prometheus metrics to P after each pass (run)\n"
          "  --metrics-listen A serve /metrics on A: 127.0.0.1:PORT or a unix socket path\n"
          "  -o, --output FMT   output format for status/history\n"
          "  -v, --verbose      debug logging\n"
          "  --version, -h/--help\n",
          f);
}

/* Serialize writers (apply, run) on <state-dir>/lock. */
static int lock_state(const char *state_dir)
{
    int rc = mkdir_p(state_dir, 0700);
    if (rc < 0)
        return rc;
    _cleanup_free_ char *p = xasprintf("%s/lock", state_dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) {
            close(fd);
            return -errno;
        }
        log_warn("state", "waiting for another plumbd holding %s", p);
        if (flock(fd, LOCK_EX) < 0) {
            close(fd);
            return -errno;
        }
    }
    return fd; /* held until exit */
}

/* Cross-object references `plumbd validate` can check without a kernel,
 * as warnings: a Pod's networks name NADs among the validated files, and a
 * NAD's bridge is created by a policy among them (the daemon would also
 * accept a bridge that already exists on the node; the CLI cannot see it). */
static void validate_references(const struct desired *d, struct diags *out)
{
    char id[256];
    for (size_t i = 0; i < d->npods; i++) {
        const struct pod *p = &d->pods[i];
        for (size_t j = 0; j < p->natt; j++) {
            const struct attachment *a = &p->att[j];
            bool found = desired_find_nad(d, a->nad_ns, a->nad_name) != NULL;
            for (size_t k = 0; k < d->ninvalid && !found; k++)
                found = d->invalid[k].kind == OBJ_NAD && streq(d->invalid[k].ns, a->nad_ns) &&
                        streq(d->invalid[k].name, a->nad_name);
            if (!found)
                diags_add(out, DIAG_WARNING, p->obj.file, p->obj.line, p->obj.col,
                          object_id(&p->obj, id, sizeof(id)),
                          "network %s/%s: no NetworkAttachmentDefinition %s/%s in these files",
                          a->nad_ns, a->nad_name, a->nad_ns, a->nad_name);
        }
    }
    for (size_t i = 0; i < d->nnads; i++) {
        const struct nad *n = &d->nads[i];
        bool found = n->plugin != NAD_BRIDGE; /* macvlan masters are node devices */
        for (size_t j = 0; j < d->npolicies && !found; j++)
            for (size_t k = 0; k < d->policies[j].nifaces && !found; k++) {
                const struct iface *f = &d->policies[j].ifaces[k];
                found = f->type == IFACE_LINUX_BRIDGE && f->state != IFSTATE_ABSENT &&
                        streq(f->name, n->bridge);
            }
        if (!found)
            diags_add(out, DIAG_WARNING, n->obj.file, n->obj.line, n->obj.col,
                      object_id(&n->obj, id, sizeof(id)),
                      "no policy in these files creates bridge %s", n->bridge);
    }
}

/* Order for `validate` output: by file, line, column; stable otherwise. */
static int diag_cmp(const void *a, const void *b)
{
    const struct diag *x = *(const struct diag *const *)a, *y = *(const struct diag *const *)b;
    int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x < y ? -1 : x > y; /* the array's own order */
}

static void diags_sort(struct diags *d)
{
    if (d->n < 2)
        return;
    const struct diag **idx = xcalloc(d->n, sizeof(*idx));
    for (size_t i = 0; i < d->n; i++)
        idx[i] = &d->v[i];
    qsort(idx, d->n, sizeof(*idx), diag_cmp);
    struct diag *v = xcalloc(d->n, sizeof(*v));
    for (size_t i = 0; i < d->n; i++)
        v[i] = *idx[i];
    free(idx);
    free(d->v);
    d->v = v;
}

/* plumbd validate PATH...: files or directories (walked like the config
 * dir, StrictModes included), no kernel. One line per problem, sorted by
 * file and position,
 * FILE:LINE:COL: [warning: ]Kind/name: message, or with -o json one JSON
 * array; a summary on stderr. Exit 0 clean or warnings only, 1 on any
 * error, 2 on usage error. */
static int cmd_validate(const char *output, int argc, char **argv)
{
    struct docset docs = {0};
    struct diags all = {0};
    struct desired d = {0};
    int rc = 0;
    bool json = false;
    if (output && streq(output, "json"))
        json = true;
    else if (output && !streq(output, "text")) {
        fprintf(stderr, "plumbd validate: unknown output format '%s' (text or json)\n", output);
        return 2;
    }
    if (argc < 1) {
        fprintf(stderr, "plumbd validate: no PATH given\n");
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            diags_add(&all, DIAG_ERROR, argv[i], 1, 1, NULL, "%s", strerror(errno));
            continue;
        }
        size_t before = all.n;
        int k = S_ISDIR(st.st_mode) ? load_dir(argv[i], &docs, &all)
                                    : load_file(argv[i], &docs, &all);
        if (k < 0 && all.n == before) /* most failures are diagnostics already */
            diags_add(&all, DIAG_ERROR, argv[i], 1, 1, NULL, "%s", strerror(-k));
    }
    /* Without a node, spec.capture expressions are only parsed; a
     * desiredState with templates is checked when it is applied. */
    struct docset view = {0};
    capture_docs_offline(&docs, &view, &all);
    validate_docs(&view, &d);
    docset_free(&view);
    diags_append(&all, &d.diags);
    validate_references(&d, &all);
    diags_sort(&all);
    if (json)
        diags_print_json(&all, stdout);
    else
        diags_print(&all, stdout);
    size_t nerr = diags_count(&all, DIAG_ERROR), nwarn = diags_count(&all, DIAG_WARNING);
    size_t nobj = d.npolicies + d.nnads + d.npods + d.nnodes;
    fprintf(stderr, "%zu objects valid, %zu invalid, %zu errors, %zu warnings\n", nobj,
            d.ninvalid, nerr, nwarn);
    if (nerr)
        rc = 1;
    desired_free(&d);
    docset_free(&docs);
    diags_clear(&all);
    return rc;
}

static void fmt_time(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t) {
        snprintf(buf, 32, "-");
        return;
    }
    gmtime_r(&tt, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The database, read-only, for the commands that only look. */
static int open_state(const struct opts *o, struct store **ret)
{
    int rc = store_open(o->state_dir, true, ret);
    if (rc == -ENOENT)
        fprintf(stderr, "plumbd: no state in %s yet (nothing applied)\n", o->state_dir);
    return rc;
}

static int print_status(const struct opts *o)
{
    struct store *s;
    int rc = open_state(o, &s);
    if (rc < 0)
        return 1;
    struct objstatus *v = NULL;
    size_t n = 0;
    rc = store_status_list(s, &v, &n);
    if (rc >= 0)
        rc = status_print(stdout, v, n, o->output ? o->output : "table");
    objstatus_list_free(v, n);
    store_close(s);
    fflush(stdout);
    if (rc == -EINVAL) {
        fprintf(stderr, "plumbd: unknown output format '%s'\n", o->output);
        return 2;
    }
    return rc < 0 ? 1 : 0;
}

/* `status`, and with --watch: print again whenever a status file changes
 * (the daemon mirrors every object under <state-dir>/status/), until
 * interrupted. */
static int cmd_status(const struct opts *o)
{
    int rc = print_status(o);
    if (!o->watch || rc == 2)
        return rc;
    _cleanup_free_ char *dir = xasprintf("%s/status", o->state_dir);
    mkdir_p(dir, 0755);
    _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC);
    if (ino < 0 || inotify_add_watch(ino, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE) < 0) {
        fprintf(stderr, "plumbd: cannot watch %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (;;) {
        char buf[4096];
        if (read(ino, buf, sizeof(buf)) <= 0 && errno != EINTR)
            return 1;
        /* A pass rewrites several files: let it finish. */
        struct pollfd pfd = {.fd = ino, .events = POLLIN};
        while (poll(&pfd, 1, 100) > 0 && read(ino, buf, sizeof(buf)) > 0)
            ;
        char t[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("--- %s\n", t);
        print_status(o);
    }
}

/* The optional positive number argument of `events`, `rollback`,
 * `history`: 0 when absent, -1 (after a message) when malformed. */
static long long number_arg(const char *cmd, const char *what, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "plumbd %s: at most one %s\n", cmd, what);
        return -1;
    }
    if (argc == 0)
        return 0;
    char *end;
    long long v = strtoll(argv[0], &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "plumbd %s: '%s' is not a valid %s\n", cmd, argv[0], what);
        return -1;
    }
    return v;
}

/* `events [N]`: the last N condition transitions, oldest first. */
static int cmd_events(const struct opts *o, int argc, char **argv)
{
    long long n = number_arg("events", "count", argc, argv);
    if (n < 0)
        return 2;
    if (n == 0)
        n = 50;
    bool json = o->output && streq(o->output, "json");
    struct store *s;
    int rc = open_state(o, &s);
    if (rc < 0)
        return 1;
    struct event_row *v = NULL;
    size_t cnt = 0;
    rc = store_events(s, (int)n, &v, &cnt);
    json_t *arr = json ? json_array() : NULL;
    for (size_t k = cnt; rc >= 0 && k-- > 0;) {
        char t[32];
        fmt_time(v[k].time, t);
        if (json)
            json_array_append_new(
                arr, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s?}", "id",
                               (json_int_t)v[k].id, "time", t, "object", v[k].object,
                               "condition", v[k].condition, "previous", v[k].previous, "reason",
                               v[k].reason, "message", v[k].message));
        else
            printf("%s  %-50s  %s -> %s  %s%s%s\n", t, v[k].object,
                   v[k].previous ? v[k].previous : "(new)",
                   v[k].condition ? v[k].condition : "(gone)", v[k].reason ? v[k].reason : "",
                   v[k].message && v[k].message[0] ? ": " : "",
                   v[k].message ? v[k].message : "");
    }
    if (json) {
        char *out = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", out);
        free(out);
        json_decref(arr);
    }
    event_rows_free(v, cnt);
    store_close(s);
    return rc < 0 ? 1 : 0;
}

/* `history`: generations newest first; `history GEN`: that generation's
 * operations with their inverses and outcomes. */
static int cmd_history(const struct opts *o, int argc, char **argv)
{
    struct store *s;
    bool json = o->output && streq(o->output, "json");
    if (o->output && !json && !streq(o->output, "table")) {
        fprintf(stderr, "plumbd: unknown output format '%s'\n", o->output);
        return 2;
    }
    long long gen = number_arg("history", "generation number", argc, argv);
    if (gen < 0)
        return 2;
    int rc = open_state(o, &s);
    if (rc < 0)
        return 1;
    if (gen > 0) {
        struct op_row *v = NULL;
        size_t n = 0;
        rc = store_gen_ops(s, gen, &v, &n);
        json_t *arr = json ? json_array() : NULL;
        if (rc >= 0 && !json)
            printf("%-4s  %-7s  %-60s  %s\n", "SEQ", "STATE", "OPERATION", "UNDO");
        for (size_t i = 0; rc >= 0 && i < n; i++) {
            struct op op, inv;
            _cleanup_free_ char *d = NULL, *id = NULL;
            if (op_from_json(v[i].op, &op) >= 0) {
                d = op_describe(&op);
                op_clear(&op);
            }
            if (v[i].inverse && v[i].inverse[0] && op_from_json(v[i].inverse, &inv) >= 0) {
                id = op_describe(&inv);
                op_clear(&inv);
            }
            if (json)
                json_array_append_new(
                    arr, json_pack("{s:i, s:s, s:s, s:s, s:s?, s:s?}", "seq", v[i].seq, "owner",
                                   v[i].owner ? v[i].owner : "", "state",
                                   op_state_to_string(v[i].state), "op", d ? d : v[i].op,
                                   "undo", id, "error", v[i].error));
            else
                printf("%-4d  %-7s  %-60s  %s%s%s\n", v[i].seq, op_state_to_string(v[i].state),
                       d ? d : v[i].op, id ? id : "-", v[i].error ? "  error: " : "",
                       v[i].error ? v[i].error : "");
        }
        if (json) {
            char *out = json_dumps(arr, JSON_INDENT(2));
            printf("%s\n", out);
            free(out);
            json_decref(arr);
        }
        op_rows_free(v, n);
        store_close(s);
        if (rc >= 0 && n == 0) {
            fprintf(stderr, "plumbd history: no generation %lld\n", gen);
            return 1;
        }
        return rc < 0 ? 1 : 0;
    }
    struct gen_row *v = NULL;
    size_t n = 0;
    rc = store_history(s, 0, &v, &n);
    if (rc >= 0 && json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            char t0[32], t1[32];
            fmt_time(v[i].started, t0);
            fmt_time(v[i].ended, t1);
            json_array_append_new(
                arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:s, s:s?}", "id",
                               (json_int_t)v[i].id, "started", t0, "ended", t1, "trigger",
                               v[i].trigger ? v[i].trigger : "", "objects",
                               v[i].objects ? v[i].objects : "", "ops", v[i].nops, "outcome",
                               v[i].outcome ? v[i].outcome : "unfinished", "source",
                               v[i].source));
        }
        char *out = json_dumps(arr, JSON_INDENT(2));
        printf("%s\n", out);
        free(out);
        json_decref(arr);
    } else if (rc >= 0) {
        printf("%-6s  %-20s  %-8s  %4s  %-12s  %s\n", "GEN", "STARTED", "TRIGGER", "OPS",
               "OUTCOME", "OBJECTS");
        for (size_t i = 0; i < n; i++) {
            char t[32];
            fmt_time(v[i].started, t);
            printf("%-6lld  %-20s  %-8s  %4d  %-12s  %s%s%s\n", (long long)v[i].id, t,
                   v[i].trigger ? v[i].trigger : "", v[i].nops,
                   v[i].outcome ? v[i].outcome : "unfinished", v[i].objects ? v[i].objects : "",
                   v[i].source ? "  from " : "", v[i].source ? v[i].source : "");
        }
    }
    gen_rows_free(v, n);
    store_close(s);
    return rc < 0 ? 1 : 0;
}

static int cmd_rollback(const struct opts *o, int argc, char **argv)
{
    long long after = number_arg("rollback", "generation number", argc, argv);
    if (after < 0)
        return 2;
    _cleanup_close_ int lock = lock_state(o->state_dir);
    if (lock < 0) {
        log_error("state", "cannot lock %s: %s", o->state_dir, strerror(-lock));
        return 1;
    }
    struct reconciler r = {.config_dir = o->config_dir, .state_dir = o->state_dir,
                           .node_name = o->node_name, .epfd = -1, .lockfd = -1};
    int rc = reconciler_init(&r, false);
    int64_t gen = 0;
    size_t nundone = 0;
    if (rc >= 0)
        rc = reconcile_rollback(&r, after, &gen, &nundone);
    reconciler_done(&r);
    if (rc == -ENOENT) {
        fprintf(stderr, "plumbd rollback: no applied generation %s%s to roll back\n",
                after ? "after " : "", after ? argv[0] : "");
        return 1;
    }
    if (rc < 0)
        return 1;
    printf("rolled back %zu generation%s as generation %lld\n", nundone, nundone == 1 ? "" : "s",
           (long long)gen);
    return 0;
}

static int cmd_show(const struct opts *o)
{
    struct netns *ns = NULL;
    struct live_ns l = {0};
    int rc = netns_open(NULL, &ns);
    if (rc >= 0)
        rc = live_dump(ns, &l);
    /* Addresses from plumbd's DHCP leases are shown as dhcp: true. */
    struct store *s = NULL;
    struct lease_row *lv = NULL;
    size_t nl = 0;
    _cleanup_free_ struct show_lease *sl = NULL;
    _cleanup_free_ char *db = xasprintf("%s/plumbd.db", o->state_dir);
    if (rc >= 0 && access(db, R_OK) == 0 && store_open(o->state_dir, true, &s) >= 0 &&
        store_lease_list(s, &lv, &nl) >= 0 && nl) {
        sl = xcalloc(nl, sizeof(*sl));
        for (size_t i = 0; i < nl; i++) {
            snprintf(sl[i].ifname, sizeof(sl[i].ifname), "%s", lv[i].ifname);
            sl[i].addr.family = AF_INET;
            memcpy(sl[i].addr.bytes, &lv[i].lease.addr, 4);
            sl[i].addr.prefix = lv[i].lease.prefix;
        }
        show_set_leases(sl, nl);
    }
    lease_rows_free(lv, nl);
    store_close(s);
    if (rc >= 0) {
        rc = show_print(stdout, &l, o->resolv_conf, o->output ? o->output : "yaml");
        show_set_leases(NULL, 0);
        if (rc == -EINVAL) {
            fprintf(stderr, "plumbd: unknown output format '%s'\n", o->output);
            live_ns_free(&l);
            netns_free(ns);
            return 2;
        }
    } else
        log_error("show", "cannot read the node's state: %s", strerror(-rc));
    live_ns_free(&l);
    netns_free(ns);
    return rc < 0 ? 1 : 0;
}

/* plumbd capture [--current FILE] POLICY...: each policy's desiredState
 * with its spec.capture evaluated against FILE (a `plumbd show` output, or
 * any nmstate state) or the live node, printed as YAML (or -o json), one
 * document per policy. Errors name the expression position with a caret.
 * Exit 0, 1 on any error, 2 on usage error. */
static int cmd_capture(const struct opts *o, int argc, char **argv)
{
    const char *fmt = o->output ? o->output : "yaml";
    if (!streq(fmt, "yaml") && !streq(fmt, "json")) {
        fprintf(stderr, "plumbd capture: unknown output format '%s' (yaml or json)\n", fmt);
        return 2;
    }
    if (argc < 1) {
        fprintf(stderr, "plumbd capture: no POLICY file given\n");
        return 2;
    }
    struct docset docs = {0};
    struct diags dg = {0};
    json_t *current = NULL;
    int rc = 0;
    size_t printed = 0;
    if (o->current) {
        struct docset cur = {0};
        if (load_file(o->current, &cur, &dg) < 0 || cur.n < 1) {
            diags_print(&dg, stderr);
            fprintf(stderr, "plumbd capture: cannot read the state %s\n", o->current);
            docset_free(&cur);
            diags_clear(&dg);
            return 1;
        }
        current = capture_ynode_json(cur.v[0].root);
        docset_free(&cur);
    } else {
        struct netns *ns = NULL;
        struct live_ns l = {0};
        int k = netns_open(NULL, &ns);
        if (k >= 0)
            k = live_dump(ns, &l);
        if (k >= 0)
            current = capture_current_state(&l, o->resolv_conf);
        live_ns_free(&l);
        netns_free(ns);
        if (!current) {
            log_error("capture", "cannot read the node's state: %s", strerror(-k));
            return 1;
        }
    }
    for (int i = 0; i < argc; i++)
        if (load_file(argv[i], &docs, &dg) < 0)
            rc = 1;
    diags_print(&dg, stderr);
    diags_clear(&dg);
    for (size_t i = 0; i < docs.n; i++) {
        const struct doc *doc = &docs.v[i];
        if (!streq(ynode_str(ynode_get(doc->root, "kind")), "NodeNetworkConfigurationPolicy")) {
            fprintf(stderr, "%s:%u:%u: not a NodeNetworkConfigurationPolicy: skipped\n",
                    doc->file, doc->line, doc->col);
            continue;
        }
        const struct ynode *spec = ynode_get(doc->root, "spec");
        const struct ynode *cap = ynode_get(spec, "capture");
        const struct ynode *ds = ynode_get(spec, "desiredState");
        json_t *exprs = cap ? capture_ynode_json(cap) : json_object();
        struct capture_error err = {0};
        json_t *results = json_is_object(exprs) ? capture_eval(exprs, current, &err) : NULL;
        json_decref(exprs);
        struct ynode *x = NULL;
        unsigned line = doc->line, col = doc->col;
        if (!results && cap)
            capture_error_position(cap, &err, &line, &col);
        if (results && ds)
            x = capture_expand(ds, results, &err, &line, &col);
        if (!results || (ds && !x)) {
            _cleanup_free_ char *snip = err.msg ? capture_error_snippet(&err)
                                                : xstrdup("spec.capture must be a map");
            fprintf(stderr, "%s:%u:%u: %s\n", doc->file, line, col, snip);
            capture_error_clear(&err);
            json_decref(results);
            rc = 1;
            continue;
        }
        json_t *out = x ? capture_ynode_json(x) : json_object();
        if (streq(fmt, "json")) {
            char *t = json_dumps(out, JSON_INDENT(2));
            printf("%s\n", t);
            free(t);
        } else {
            if (printed++)
                printf("---\n");
            yaml_emit(stdout, out);
        }
        json_decref(out);
        ynode_free(x);
        json_decref(results);
    }
    json_decref(current);
    docset_free(&docs);
    return rc;
}

static int cmd_converge(const struct opts *o, const char *cmd)
{
    bool dry = streq(cmd, "plan"), daemon = streq(cmd, "run");
    _cleanup_close_ int lock = -1;
    struct reconciler r = {
        .config_dir = o->config_dir,
        .config_dirs = o->config_dirs,
        .nconfig_dirs = o->nconfig_dirs,
        .state_dir = o->state_dir,
        .node_name = o->node_name,
        .allow_empty = o->allow_empty,
        .flap_limit = o->flap_limit,
        .flap_backoff_s = o->flap_backoff_s,
        .history_keep = o->history_keep,
        .probe_timeout_ms = o->probe_timeout_s * 1000,
        .resolv_conf = o->resolv_conf,
        .recapture = o->recapture,
        .epfd = -1,
        .lockfd = -1,
    };
    /* Beside a daemon of this state dir, apply is its pass (control.c):
     * it holds every namespace's state and the parsed files already. */
    if (streq(cmd, "apply") && !o->standalone && !o->recapture) {
        _cleanup_free_ char *fp = control_fingerprint(&r);
        int k = control_apply(o->state_dir, fp);
        if (k >= 0)
            return k;
    }
    if (!dry) {
        lock = lock_state(o->state_dir);
        if (lock < 0) {
            log_error("state", "cannot lock %s: %s", o->state_dir, strerror(-lock));
            return 1;
        }
    }
    int rc = reconciler_init(&r, false);
    if (rc < 0) {
        reconciler_done(&r);
        return 1;
    }
    /* A generation a crash left unfinished is undone before anything else. */
    if (!dry && reconcile_recover(&r) < 0)
        log_error("journal", "could not undo the unfinished generation; converging anyway");
    if (daemon) {
        /* The daemon holds the state lock only during its passes, so that
         * `plumbd apply` and `plumbd rollback` can run beside it. */
        r.lockfd = TAKE_FD(lock);
        rc = loop_run(&r, &o->loop);
        reconciler_done(&r);
        return rc < 0 ? 1 : 0;
    }
    struct pass_result res;
    rc = reconcile_pass(&r, TRIG_MANUAL, dry, stdout, &res);
    /* DHCP once the interfaces exist: a lease that came (or went) is
     * applied by a second pass. */
    bool changed = false;
    if (!dry && rc >= 0 && !res.refused && r.dhcp &&
        dhcp_oneshot(r.dhcp, r.store, o->dhcp_wait_ms, &changed) >= 0 && changed) {
        struct pass_result res2;
        rc = reconcile_pass(&r, TRIG_MANUAL, false, NULL, &res2);
        res2.nops += res.nops;
        res2.writes += res.writes;
        res2.nfailed_ops += res.nfailed_ops;
        res = res2;
    }
    reconciler_done(&r);
    if (rc < 0)
        return 1;
    if (res.refused)
        return 1;
    if (dry)
        return res.nops ? 4 : 0;
    printf("applied %zu operations, %lu netlink writes; %zu objects: %zu available, %zu pending, "
           "%zu failing\n",
           res.nops, res.writes, res.nobjects, res.navailable, res.npending, res.nfailing);
    if (res.nconfig_errors)
        fprintf(stderr, "plumbd: %zu configuration errors (see above)\n", res.nconfig_errors);
    return res.nfailing || res.npending || res.nconfig_errors ? 1 : 0;
}

/* One netns descriptor and up to two netlink sockets per pod: a node with
 * a thousand pods needs more than the usual soft limit of 1024. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    lowfd_reserve();
    raise_nofile();
    /* A daemon that runs for months: big transient buffers (libnftables'
     * 2 MB batch, netlink dumps) get their own mappings and go back to the
     * kernel when freed, instead of raising the heap for good (glibc's
     * dynamic threshold would otherwise keep them in the heap). */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024);
    struct opts o = {
        .config_dir = "/etc/plumbd/desired.d",
        .state_dir = "/var/lib/plumbd",
        .loop = {.settle_ms = 200, .drift_ms = 10, .resync_s = 300, .version = VERSION},
        .history_keep = 100,
        .probe_timeout_s = 10,
        .dhcp_wait_ms = 3000,
        .resolv_conf = RESOLV_CONF_DEFAULT,
    };
    enum { OPT_CONFIG = 256, OPT_STATE, OPT_NETNS, OPT_NODE, OPT_ALLOW_EMPTY, OPT_SETTLE,
           OPT_RESYNC, OPT_VERSION, OPT_FLAP_LIMIT, OPT_FLAP_BACKOFF, OPT_HISTORY,
           OPT_INSECURE, OPT_LOG_FORMAT, OPT_METRICS_FILE, OPT_METRICS_LISTEN, OPT_PROBE,
           OPT_WATCH, OPT_RESOLV_CONF, OPT_CURRENT, OPT_RECAPTURE,
           OPT_DHCP_WAIT, OPT_STANDALONE };
    static const struct option longopts[] = {
        {"config-dir", required_argument, NULL, OPT_CONFIG},
        {"state-dir", required_argument, NULL, OPT_STATE},
        {"netns", required_argument, NULL, OPT_NETNS},
        {"node-name", required_argument, NULL, OPT_NODE},
        {"allow-empty", no_argument, NULL, OPT_ALLOW_EMPTY},
        {"settle-ms", required_argument, NULL, OPT_SETTLE},
        {"resync-s", required_argument, NULL, OPT_RESYNC},
        {"flap-limit", required_argument, NULL, OPT_FLAP_LIMIT},
        {"flap-backoff-s", required_argument, NULL, OPT_FLAP_BACKOFF},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"insecure-config", no_argument, NULL, OPT_INSECURE},
        {"probe-timeout-s", required_argument, NULL, OPT_PROBE},
        {"dhcp-wait-ms", required_argument, NULL, OPT_DHCP_WAIT},
        {"resolv-conf", required_argument, NULL, OPT_RESOLV_CONF},
        {"watch", no_argument, NULL, OPT_WATCH},
        {"current", required_argument, NULL, OPT_CURRENT},
        {"recapture", no_argument, NULL, OPT_RECAPTURE},
        {"standalone", no_argument, NULL, OPT_STANDALONE},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
        {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
        {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {0},
    };
    atexit(schema_cache_free); /* valgrind-clean exits */
    atexit(validate_cache_free);
    if (gethostname(o.node_name, sizeof(o.node_name) - 1) < 0)
        snprintf(o.node_name, sizeof(o.node_name), "localhost");

    /* Options may come before or after the command word. */
    int c;
    while ((c = getopt_long(argc, argv, "o:vh", longopts, NULL)) != -1) {
        char *end;
        unsigned long v;
        switch (c) {
        case OPT_CONFIG:
            if (o.nconfig_dirs == ARRAY_SIZE(o.config_dirs)) {
                fprintf(stderr, "plumbd: at most %zu --config-dir\n", ARRAY_SIZE(o.config_dirs));
                return 2;
            }
            o.config_dirs[o.nconfig_dirs++] = optarg;
            o.config_dir = o.config_dirs[0];
            break;
        case OPT_STATE:
            o.state_dir = optarg;
            break;
        case OPT_NETNS:
            o.netns = optarg;
            break;
        case OPT_NODE:
            snprintf(o.node_name, sizeof(o.node_name), "%s", optarg);
            break;
        case OPT_ALLOW_EMPTY:
            o.allow_empty = true;
            break;
        case OPT_INSECURE:
            load_strict_modes = false;
            break;
        case OPT_WATCH:
            o.watch = true;
            break;
        case OPT_CURRENT:
            o.current = optarg;
            break;
        case OPT_RECAPTURE:
            o.recapture = true;
            break;
        case OPT_STANDALONE:
            o.standalone = true;
            break;
        case OPT_LOG_FORMAT: {
            int f = log_format_from_string(optarg);
            if (f < 0) {
                fprintf(stderr, "plumbd: --log-format takes logfmt or json, not '%s'\n", optarg);
                return 2;
            }
            log_format = (enum log_format)f;
            break;
        }
        case OPT_METRICS_FILE:
            o.loop.metrics_file = optarg;
            break;
        case OPT_RESOLV_CONF:
            if (!optarg[0]) {
                fprintf(stderr, "plumbd: --resolv-conf needs a path\n");
                return 2;
            }
            o.resolv_conf = optarg;
            break;
        case OPT_METRICS_LISTEN:
            o.loop.metrics_listen = optarg;
            break;
        case OPT_SETTLE:
        case OPT_RESYNC:
        case OPT_FLAP_LIMIT:
        case OPT_FLAP_BACKOFF:
        case OPT_HISTORY:
        case OPT_PROBE:
        case OPT_DHCP_WAIT:
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || *end || v > 86400000) {
                fprintf(stderr, "plumbd: invalid number '%s'\n", optarg);
                return 2;
            }
            if (c == OPT_SETTLE)
                o.loop.settle_ms = (unsigned)v;
            else if (c == OPT_RESYNC)
                o.loop.resync_s = v ? (unsigned)v : 1;
            else if (c == OPT_PROBE)
                o.probe_timeout_s = v ? (unsigned)v : 1;
            else if (c == OPT_DHCP_WAIT)
                o.dhcp_wait_ms = (unsigned)v;
            else if (c == OPT_HISTORY)
                o.history_keep = v ? (unsigned)v : 1;
            else if (c == OPT_FLAP_LIMIT)
                o.flap_limit = v ? (unsigned)v : 1;
            else
                o.flap_backoff_s = v ? (unsigned)v : 1;
            break;
        case 'o':
            o.output = optarg;
            break;
        case 'v':
            log_max_level = LOG_DEBUG;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("plumbd %s\n", VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;

    if (streq(cmd, "validate"))
        return cmd_validate(o.output, nargs, args);
    if (streq(cmd, "history"))
        return cmd_history(&o, nargs, args);
    if (streq(cmd, "events"))
        return cmd_events(&o, nargs, args);
    if (streq(cmd, "rollback") && o.netns) {
        int rc = netns_enter(o.netns);
        if (rc < 0) {
            log_error("netns", "cannot enter network namespace %s: %s", o.netns, strerror(-rc));
            return 1;
        }
    }
    if (streq(cmd, "rollback"))
        return cmd_rollback(&o, nargs, args);
    if (streq(cmd, "capture")) {
        if (!o.current && o.netns) {
            int rc = netns_enter(o.netns);
            if (rc < 0) {
                log_error("netns", "cannot enter network namespace %s: %s", o.netns,
                          strerror(-rc));
                return 1;
            }
        }
        return cmd_capture(&o, nargs, args);
    }
    if (nargs > 0) {
        fprintf(stderr, "plumbd %s: unexpected argument '%s'\n", cmd, args[0]);
        return 2;
    }
    if (streq(cmd, "status"))
        return cmd_status(&o);
    if (!streq(cmd, "run") && !streq(cmd, "apply") && !streq(cmd, "plan") &&
        !streq(cmd, "show")) {
        fprintf(stderr, "plumbd: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (o.netns) {
        int rc = netns_enter(o.netns);
        if (rc < 0) {
            log_error("netns", "cannot enter network namespace %s: %s", o.netns, strerror(-rc));
            return 1;
        }
    }
    if (streq(cmd, "show"))
        return cmd_show(&o);
    return cmd_converge(&o, cmd);
}
