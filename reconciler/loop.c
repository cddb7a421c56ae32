/* loop.c - the daemon: one single-threaded epoll loop that owns every fd.
 *
 *   inotify   config dir (every directory below it, and its parent) and
 *             /run/netns: "the set may have changed" -> settle, then a pass
 *   netlink   link/address/route events of the node namespace -> a pass
 *             soon (drift repair); ENOBUFS -> a full resync
 *   timerfd   the settle/debounce deadline; a second one is the periodic
 *             resync safety net
 *   signalfd  SIGTERM/SIGINT stop, SIGHUP full reload
 *   control   <state-dir>/plumbd.sock: `plumbd apply` asks for a pass
 *             (control.c); its answer follows the passes due
 *
 * No polling: an idle converged daemon sleeps in epoll_wait. Only when
 * inotify cannot be used (limits exhausted) does a 2 s rescan timer run,
 * until the watches can be placed again. */
#include <dirent.h>
#include <malloc.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include "control.h"
#include "dhcpmgr.h"
#include "load.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"

#define RUN_NETNS "/run/netns"
#define INOTIFY_MASK                                                                               \
    (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |           \
     IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

enum { SRC_INOTIFY_NETNS = 64, SRC_INOTIFY = 1, SRC_TIMER, SRC_RESYNC, SRC_SIGNAL, SRC_POLL, SRC_METRICS, SRC_WATCHDOG,
       SRC_CONTROL, SRC_CONTROL_CLIENT = 128 /* + slot */ };

struct loop {
    struct reconciler *r;
    bool objects_counted;  /* plumbd_objects has been filled once */
    const struct loop_opts *opts;
    int ep, ino, timer, resync, sig;
    bool pending;          /* a non-file pass is scheduled on `timer` */
    uint64_t due;          /* its deadline (monotonic usec) */
    enum gen_trigger trig;
    bool file_pending;     /* a file pass is scheduled (settle window) */
    uint64_t file_due;
    bool stop;
    unsigned netns_retries;
    unsigned fail_retries;
    bool settling;         /* a burst of file events is being absorbed */
    uint64_t burst_start;
    bool poll_fallback;    /* inotify unusable or a watch failed: rescan on a timer */
    struct dirty {
        int wd;
        char *name;
    } *dirty;              /* files open for writing (see dirty_set) */
    size_t ndirty;
    unsigned long overflows;
    struct metrics *m;
    int mfd;               /* metrics listening socket, -1 = none */
    int wd;                /* watchdog timerfd, -1 = none */
    bool reloading;        /* SIGHUP: READY=1 again after the next pass */
    bool watch_failed;     /* the last watch_all could not place every watch */
    int poll;              /* timerfd of the polling fallback */
    int netns_wd;          /* inotify watch of /run/netns */
    int ino_netns;         /* the inotify instance watching /run/netns */
    unsigned voided_reads; /* file reads voided in a row by concurrent writes */
    bool files_moved;      /* a config file event was read since the pass began */
    /* Netlink events that keep coming and drift passes that find nothing
     * to repair (the kernel settling after a thousand pods came: carrier,
     * operstate, link-local addresses) double the debounce, up to
     * DRIFT_DEBOUNCE_MAX_USEC; a pause in the events (DRIFT_QUIET_USEC
     * since the last event read or drift pass) or a repair resets it. */
    unsigned idle_drifts;
    uint64_t last_watch_event;
    /* The one config file written since the last file pass, for the quick
     * lane (reconciler.hint_file): the path of the first file event in a
     * config directory itself; void once any other file, directory or
     * name is touched, or events were lost. */
    int *cfg_wd;           /* watch of each config directory, -1 = none */
    int *par_wd;           /* ... and of its parent (for its own name only) */
    size_t ncfg_wd;
    char *hint;
    bool hint_void;
    bool hint_done;        /* its last event ended a write (close, rename in) */
    /* `plumbd apply` handed over (control.c), and the last pass it may be
     * answered with when nothing is due */
    struct control_server ctl;
    bool have_last;
    int last_rc;
    struct pass_result last;
    struct pass_result voided; /* a read voided after the quick lane wrote */
};

static int arm_timer(int fd, uint64_t usec_from_now, uint64_t interval_usec)
{
    struct itimerspec its = {0};
    if (usec_from_now == 0 && interval_usec == 0) {
        /* disarm */
    } else {
        uint64_t v = usec_from_now ? usec_from_now : 1;
        its.it_value.tv_sec = (time_t)(v / 1000000);
        its.it_value.tv_nsec = (long)(v % 1000000) * 1000;
        its.it_interval.tv_sec = (time_t)(interval_usec / 1000000);
        its.it_interval.tv_nsec = (long)(interval_usec % 1000000) * 1000;
    }
    return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* File events settle: each one pushes the pass back by the settle delay
 * (a burst of writes, a rename dance, a slow copy), but never beyond this
 * many settle delays after the first event of the burst (10 s by default).
 * A pass forced by the cap reads whatever is there, possibly a file caught
 * between an editor's rename and its rewrite, so the cap is generous: it
 * only bounds how long a never-ending stream of writes can delay work. */
#define SETTLE_MAX_FACTOR 50

/* Arm the timer for the sooner of the two pending passes. */
static void arm_due(struct loop *l)
{
    uint64_t now = now_usec(), due = UINT64_MAX;
    if (l->pending)
        due = l->due;
    if (l->file_pending && l->file_due < due)
        due = l->file_due;
    if (due == UINT64_MAX)
        arm_timer(l->timer, 0, 0);
    else
        arm_timer(l->timer, due > now ? due - now : 1, 0);
}

/* File events: a sliding settle window. The file pass has its own slot, so
 * a drift repair due sooner runs from the files as last read and never
 * sees a file in the middle of being rewritten. */
static void schedule_file(struct loop *l)
{
    uint64_t now = now_usec(), settle = (uint64_t)l->opts->settle_ms * 1000;
    if (!l->settling) {
        l->settling = true;
        l->burst_start = now;
    }
    uint64_t due = now + settle, cap = l->burst_start + settle * SETTLE_MAX_FACTOR;
    if (due > cap)
        due = cap;
    l->file_pending = true;
    l->file_due = due;
    arm_due(l);
}

/* Ask for a (non-file) pass in `delay` usec, unless one is due sooner. */
static void schedule(struct loop *l, enum gen_trigger trig, uint64_t delay)
{
    if (trig == TRIG_FILE) {
        schedule_file(l);
        return;
    }
    uint64_t due = now_usec() + delay;
    if (l->pending && l->due <= due)
        return;
    if (!l->pending || l->trig == TRIG_DRIFT)
        l->trig = trig; /* a resync outranks a drift repair */
    l->pending = true;
    l->due = due;
    arm_due(l);
}

#define POLL_FALLBACK_S 2
#define DIRTY_MAX_USEC (30ULL * 1000000ULL)

static int arm_timer(int fd, uint64_t usec_from_now, uint64_t interval_usec);

static void set_poll_fallback(struct loop *l, bool on)
{
    if (on == l->poll_fallback)
        return;
    l->poll_fallback = on;
    if (on)
        arm_timer(l->poll, POLL_FALLBACK_S * 1000000ULL, POLL_FALLBACK_S * 1000000ULL);
    else {
        arm_timer(l->poll, 0, 0);
        log_info("watch", "inotify watches restored; polling stopped");
    }
}

/* Watch dir and every directory below it (following symlinks, which is how
 * ConfigMap ..data and git-sync links swap whole trees). Adding a watch on
 * an already watched inode is harmless: the kernel returns the same wd. */
/* Test hook: PLUMBD_FAULT_INOTIFY_ENOSPC=N makes the first N watch
 * placements fail as if the inotify limits were exhausted, so tests can
 * see the polling fallback and the recovery without touching the host's
 * sysctls. */
static int add_watch(int fd, const char *path, uint32_t mask)
{
    static long faults = -1;
    if (faults < 0) {
        const char *e = getenv("PLUMBD_FAULT_INOTIFY_ENOSPC");
        faults = e ? strtol(e, NULL, 10) : 0;
    }
    if (faults > 0) {
        faults--;
        errno = ENOSPC;
        return -1;
    }
    return inotify_add_watch(fd, path, mask);
}

static int watch_tree(struct loop *l, const char *dir, int depth)
{
    int wd;
    if (depth > 16)
        return -1;
    if ((wd = add_watch(l->ino, dir, INOTIFY_MASK)) < 0) {
        if (errno == ENOSPC || errno == EMFILE || errno == ENOMEM) {
            /* inotify limits exhausted: rescan on a timer until a watch
             * can be placed again. */
            if (!l->poll_fallback)
                log_warn("watch", "cannot watch %s: %s; polling every %u s until the "
                                  "watch can be placed",
                         dir, strerror(errno), POLL_FALLBACK_S);
            l->watch_failed = true;
        } else if (errno != ENOENT && errno != ENOTDIR)
            log_warn("watch", "cannot watch %s: %s", dir, strerror(errno));
        return -1;
    }
    DIR *dp = opendir(dir);
    if (!dp)
        return wd;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
            continue;
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            watch_tree(l, p, depth + 1);
    }
    closedir(dp);
    return wd;
}

/* Does path lie in one of the config dirs (their real paths)? */
static bool inside_config_dirs(const struct reconciler *r, const char *path)
{
    _cleanup_free_ char *rp = realpath(path, NULL);
    if (!rp)
        return true; /* unknown: filter nothing */
    for (size_t i = 0; i < config_dir_count(r); i++) {
        _cleanup_free_ char *d = realpath(config_dir_at(r, i), NULL);
        size_t n = d ? strlen(d) : 0;
        if (d && strncmp(rp, d, n) == 0 && (rp[n] == '/' || rp[n] == 0 || streq(d, "/")))
            return true;
    }
    return false;
}

/* (Re)place every watch; enter or leave the polling fallback. */
static void watch_all(struct loop *l)
{
    if (l->ino < 0)
        return;
    l->watch_failed = false;
    size_t ndirs = config_dir_count(l->r);
    for (size_t i = 0; i < ndirs; i++) {
        const char *dir = config_dir_at(l->r, i);
        _cleanup_free_ char *parent = xstrdup(dir);
        char *slash = strrchr(parent, '/');
        /* The parent tells us when the config dir itself is removed or
         * recreated. */
        if (l->ncfg_wd < ndirs) {
            l->cfg_wd = xrealloc(l->cfg_wd, ndirs * sizeof(*l->cfg_wd));
            l->par_wd = xrealloc(l->par_wd, ndirs * sizeof(*l->par_wd));
            l->ncfg_wd = ndirs;
        }
        l->par_wd[i] = -1;
        if (slash && slash != parent) {
            *slash = 0;
            /* (IN_MASK_ADD: the parent may be a directory of another
             * config dir's tree, watched for everything) */
            int wd = inotify_add_watch(l->ino, parent, IN_CREATE | IN_MOVED_TO | IN_DELETE |
                                                           IN_MOVED_FROM | IN_ONLYDIR | IN_MASK_ADD);
            /* Its other names are noise, unless it lies in a config dir. */
            if (wd >= 0 && !inside_config_dirs(l->r, parent))
                l->par_wd[i] = wd;
        }
        l->cfg_wd[i] = watch_tree(l, dir, 0);
    }
    mkdir_p(RUN_NETNS, 0755);
    /* /run/netns has an inotify instance of its own: its events must not
     * look like config changes (see load_guard). */
    int wd = inotify_add_watch(l->ino_netns >= 0 ? l->ino_netns : l->ino, RUN_NETNS,
                               IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR);
    if (wd < 0) {
        log_warn("watch", "cannot watch %s: %s", RUN_NETNS, strerror(errno));
        l->watch_failed = true;
    }
    if (wd != l->netns_wd || !l->r->netns_watched)
        l->r->netns_events++; /* a new watch: what happened before it is unknown */
    l->netns_wd = wd;
    l->r->netns_watched = wd >= 0;
    set_poll_fallback(l, l->watch_failed);
}

/* Files being written: opened for writing and modified, not yet closed
 * (IN_MODIFY without IN_CLOSE_WRITE). A pass waits for them, so a slow
 * copy is never read half-written. */
static void dirty_set(struct loop *l, int wd, const char *name, bool on)
{
    for (size_t i = 0; i < l->ndirty; i++)
        if (l->dirty[i].wd == wd && streq(l->dirty[i].name, name)) {
            if (!on) {
                free(l->dirty[i].name);
                l->dirty[i] = l->dirty[--l->ndirty];
            }
            return;
        }
    if (on && l->ndirty < 1024) {
        struct dirty *d = ARRAY_PUSH(l->dirty, l->ndirty);
        d->wd = wd;
        d->name = xstrdup(name);
    }
}

static void dirty_clear(struct loop *l, int wd_or_all)
{
    for (size_t i = 0; i < l->ndirty;)
        if (wd_or_all < 0 || l->dirty[i].wd == wd_or_all) {
            free(l->dirty[i].name);
            l->dirty[i] = l->dirty[--l->ndirty];
        } else
            i++;
}

/* An event in the config directories, for the quick lane's hint. */
static void hint_note(struct loop *l, const struct inotify_event *ev)
{
    const char *dir = NULL;
    if (l->hint_void)
        return;
    for (size_t i = 0; i < l->ncfg_wd && !dir; i++)
        if (l->cfg_wd[i] >= 0 && l->cfg_wd[i] == ev->wd)
            dir = config_dir_at(l->r, i);
    if (!dir || !ev->len ||
        (ev->mask & (IN_ISDIR | IN_IGNORED | IN_Q_OVERFLOW | IN_DELETE | IN_MOVED_FROM)) ||
        !load_name_wanted(ev->name, false)) {
        l->hint_void = true;
        return;
    }
    char *path = path_join(dir, ev->name); /* as the directory walk names it */
    if (l->hint && !streq(l->hint, path)) {
        l->hint_void = true;
        free(path);
        return;
    }
    if (l->hint)
        free(path);
    else
        l->hint = path;
    l->hint_done = (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0;
}

/* An event in the parent of a config directory about another name (a
 * file written beside it, git-sync's worktrees): nothing plumbd reads. */
static bool parent_noise(const struct loop *l, const struct inotify_event *ev)
{
    bool parent = false;
    for (size_t i = 0; i < l->ncfg_wd; i++) {
        if (l->cfg_wd[i] >= 0 && l->cfg_wd[i] == ev->wd)
            return false; /* (config dirs nested in each other) */
        if (l->par_wd[i] >= 0 && l->par_wd[i] == ev->wd) {
            const char *dir = config_dir_at(l->r, i), *base = strrchr(dir, '/');
            if (ev->len && streq(base ? base + 1 : dir, ev->name))
                return false;
            /* a ConfigMap volume's swap (..data) when the config dir is
             * one of its subdirectories */
            if (ev->len && ev->name[0] == '.' && ev->name[1] == '.')
                return false;
            parent = true;
        }
    }
    return parent && ev->len && !(ev->mask & (IN_IGNORED | IN_Q_OVERFLOW));
}

static void hint_reset(struct loop *l)
{
    free(l->hint);
    l->hint = NULL;
    l->hint_void = l->hint_done = false;
}

static void on_inotify_fd(struct loop *l, int fd);

static void on_inotify(struct loop *l)
{
    on_inotify_fd(l, l->ino);
}

static void on_inotify_netns(struct loop *l)
{
    on_inotify_fd(l, l->ino_netns);
}

static void on_inotify_fd(struct loop *l, int fd)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool overflow = false, any = false, netns_event = false, rewatch = false;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                overflow = true;
            p += sizeof(*ev) + ev->len;
            /* Namespaces no desired pod uses come and go unnoticed. */
            /* (watch descriptors are per inotify instance: compare the
             * wd only when /run/netns shares the config dirs' instance) */
            bool netns_ev = l->ino_netns >= 0 ? fd == l->ino_netns : ev->wd == l->netns_wd;
            if (netns_ev || (ev->mask & IN_Q_OVERFLOW))
                l->r->netns_events++; /* cached pod namespaces are checked again */
            if (netns_ev && (ev->mask & IN_IGNORED))
                l->r->netns_watched = false; /* /run/netns itself went */
            if (netns_ev && !(ev->mask & IN_Q_OVERFLOW)) {
                if (ev->len && reconciler_wants_netns(l->r, ev->name))
                    netns_event = true;
                continue;
            }
            /* A hidden file (an atomic writer's ".x.tmp", an editor's
             * ".x.yaml.swp") is never read: its writes are no reason for a
             * pass; the rename that publishes it is. "..data" and the
             * other ".." names of a ConfigMap volume's swap still count. */
            if (ev->len && ev->name[0] == '.' && ev->name[1] != '.' && !(ev->mask & IN_ISDIR) &&
                !(ev->mask & (IN_IGNORED | IN_Q_OVERFLOW)))
                continue;
            if (parent_noise(l, ev))
                continue;
            hint_note(l, ev);
            /* Watches change only when a directory (or a link to one: not
             * a file name plumbd reads) comes or goes; a file written in a
             * watched directory leaves them as they are. */
            if ((ev->mask & (IN_ISDIR | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) ||
                (ev->len && !load_name_wanted(ev->name, false)))
                rewatch = true;
            if (ev->mask & IN_IGNORED)
                dirty_clear(l, ev->wd);
            else if (ev->len && !(ev->mask & IN_ISDIR) && load_name_wanted(ev->name, false)) {
                if (ev->mask & IN_MODIFY)
                    dirty_set(l, ev->wd, ev->name, true);
                if (ev->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))
                    dirty_set(l, ev->wd, ev->name, false);
            }
            any = true;
        }
    }
    if (any || overflow)
        l->files_moved = true;
    if (overflow) {
        l->hint_void = true;
        dirty_clear(l, -1); /* events were lost: trust nothing we tracked */
        l->overflows++;
        metrics_counter_add(l->m, "plumbd_inotify_overflows_total", 1, NULL);
    }
    /* A pod's namespace appeared or went: no files changed, act at once. */
    if (netns_event && !any && !overflow)
        schedule(l, TRIG_RESYNC, 0);
    if (overflow)
        log_warn("watch", "inotify queue overflowed: rescanning everything");
    if (any) {
        if (rewatch || overflow)
            watch_all(l); /* new directories, recreated config dir */
        schedule_file(l);
    }
}

#define MIRROR_SLICE 16 /* status files written between two looks at events */
#define DRIFT_QUIET_USEC 500000ULL          /* no event for this long: a new burst */
#define DRIFT_DEBOUNCE_MAX_USEC 1000000ULL   /* the longest debounce in a storm */

/* Events on a namespace watch (the node's or a pod's): the snapshot takes
 * them in at once; a pass follows shortly (drift repair). An overrun means
 * events were lost: the next pass dumps afresh. */
static void on_watch(struct loop *l, struct live_watch *w)
{
    unsigned long overruns = w->overruns;
    int n = live_watch_read(w);
    if (w->overruns != overruns) {
        log_warn("netlink", "%s: event buffer overrun: full resync", w->ns->path);
        metrics_counter_add(l->m, "plumbd_netlink_overruns_total", 1, NULL);
        reconciler_invalidate(l->r);
        schedule(l, TRIG_RESYNC, 0);
    } else if (n > 0) {
        uint64_t now = now_usec();
        if (now - l->last_watch_event > DRIFT_QUIET_USEC)
            l->idle_drifts = 0;
        l->last_watch_event = now;
        /* (the first pass that finds nothing is usually the echo of a
         * repair's own writes: the doubling starts after it) */
        uint64_t delay = (uint64_t)l->opts->drift_ms * 1000;
        for (unsigned i = 1; i < l->idle_drifts && delay < DRIFT_DEBOUNCE_MAX_USEC; i++)
            delay *= 2;
        schedule(l, TRIG_DRIFT, delay < DRIFT_DEBOUNCE_MAX_USEC ? delay : DRIFT_DEBOUNCE_MAX_USEC);
    }
}

/* Metrics and the systemd status line after each pass. */
static void publish_metrics(struct loop *l, enum gen_trigger trig, int rc, uint64_t dt,
                            const struct pass_result *res)
{
    metrics_plumbd_pass(l->m, gen_trigger_to_string(trig), rc, dt, rc < 0 ? 0 : res->nops,
                        rc < 0 ? 0 : res->writes, rc < 0 ? 0 : res->nfailed_ops);
    if (rc >= 0) {
        metrics_gauge_set(l->m, "plumbd_config_errors", (double)res->nconfig_errors, NULL);
        /* Objects by kind and condition: a drift pass that changed no
         * status does not read a thousand rows again; any other pass does
         * (a `plumbd rollback` beside the daemon writes statuses too). */
        if (res->status_changed || trig != TRIG_DRIFT || !l->objects_counted) {
            metrics_family_clear(l->m, "plumbd_objects");
            struct objstatus *v = NULL;
            size_t n = 0;
            /* the statuses the pass just left, or (another process wrote
             * since) as the database holds them */
            const struct objstatus *kept = reconciler_statuses(l->r, &n);
            if (kept || store_status_list(l->r->store, &v, &n) >= 0) {
                const struct objstatus *s = kept ? kept : v;
                for (size_t i = 0; i < n; i++)
                    metrics_gauge_add(l->m, "plumbd_objects", 1, "kind",
                                      obj_kind_to_string(s[i].kind), "condition",
                                      condition_to_string(s[i].cond), NULL);
                l->objects_counted = true;
            }
            objstatus_list_free(v, kept ? 0 : n);
        }
        for (size_t i = 0; i < res->npools; i++) {
            metrics_gauge_set(l->m, "plumbd_ipam_pool_size", res->pools[i].size, "network",
                              res->pools[i].network, NULL);
            metrics_gauge_set(l->m, "plumbd_ipam_pool_used", res->pools[i].used, "network",
                              res->pools[i].network, NULL);
        }
        notify_status("%zu objects: %zu available, %zu pending, %zu failing", res->nobjects,
                      res->navailable, res->npending, res->nfailing);
    }
    if (l->opts->metrics_file && metrics_write_file(l->m, l->opts->metrics_file) < 0)
        log_warn("metrics", "cannot write %s", l->opts->metrics_file);
}

/* The reconciler asks while it reads the files: did a config file change
 * since the pass began? The events waiting are read and handled here as
 * the loop would handle them (a file pass scheduled, watches placed);
 * names plumbd never reads (a file written beside the config dir, an
 * editor's hidden swap file, /run/netns) do not void the read. */
static bool load_guard(void *ctx)
{
    struct loop *l = ctx;
    on_inotify(l); /* (non-blocking: one read when nothing waits) */
    return l->files_moved;
}

/* Returns false when the read was voided (the files moved under it). */
static bool run_pass(struct loop *l, enum gen_trigger trig)
{
    /* While file events settle, every other pass works from the files as
     * last read; a file pass reads them once they have settled. */
    l->r->reuse_files = trig != TRIG_FILE && (trig == TRIG_DRIFT || l->settling);
    struct pass_result res;
    uint64_t t0 = now_usec();
    if (trig == TRIG_FILE)
        log_debug("watch", "file pass %.2f ms after the last file event's settle delay ran out",
                  t0 > l->file_due ? (double)(t0 - l->file_due) / 1000.0 : 0.0);
    /* The state lock is held for the pass only (see cmd_converge). */
    if (l->r->lockfd >= 0 && flock(l->r->lockfd, LOCK_EX) < 0)
        log_warn("state", "cannot take the state lock: %s", strerror(errno));
    /* A read voided by concurrent writes is retried after they settle; a
     * writer that never stops does not starve convergence (5 tries). */
    l->r->load_guard = l->voided_reads < 5 && !l->r->reuse_files && l->ino >= 0 ? load_guard : NULL;
    l->r->load_guard_ctx = l;
    l->files_moved = false;
    /* the file events since the last file pass named one file, whole */
    bool file_pass = trig == TRIG_FILE;
    l->r->hint_file = file_pass && !l->hint_void && l->hint_done && !l->poll_fallback &&
                              l->voided_reads == 0 && l->r->load_guard
                          ? l->hint
                          : NULL;
    int rc = reconcile_pass(l->r, trig, false, NULL, &res);
    l->r->hint_file = NULL;
    if (file_pass)
        hint_reset(l); /* events read from here on are the next pass's */
    if (l->r->lockfd >= 0)
        flock(l->r->lockfd, LOCK_UN);
    uint64_t dt = now_usec() - t0;
    if (rc == -EAGAIN) { /* the files moved under the read: read them again */
        l->voided = res; /* (the quick lane may have run before) */
        l->voided_reads++;
        /* The lane's ops are in the kernel: count and log them, as the
         * pass that reads the files again will find nothing left to do. */
        if (res.nops) {
            metrics_plumbd_ops(l->m, res.nops, res.writes, res.nfailed_ops);
            log_info("reconciler",
                     "pass (%s): %zu operations, %lu netlink writes, %zu failed (quick lane), then "
                     "the files changed while being read: reading them again in %.1f ms",
                     gen_trigger_to_string(trig), res.nops, res.writes, res.nfailed_ops,
                     (double)dt / 1000.0);
        }
        schedule_file(l);
        return false;
    }
    l->voided_reads = 0;
    l->have_last = true;
    l->last_rc = rc;
    l->last = res;
    if (trig == TRIG_DRIFT) {
        l->idle_drifts = rc >= 0 && res.nops == 0 ? l->idle_drifts + 1 : 0;
        /* the events read next arrived while this pass ran: the quiet
         * spell that ends a storm is counted from here */
        l->last_watch_event = now_usec();
    }
    publish_metrics(l, trig, rc, dt, &res);
    /* A big pass leaves free holes all over the heap, and free() gives back
     * only its top: hand the free pages back to the kernel (one walk of the
     * heap, only after a pass of hundreds of ops). */
    if (res.nops >= 64)
        malloc_trim(0);
    /* DHCP clients follow the pass: new wants start, dropped ones release. */
    if (rc >= 0 && !res.refused && l->r->dhcp) {
        dhcp_daemon_sync(l->r->dhcp, l->r->store, l->ep);
        dhcp_daemon_metrics(l->r->dhcp, l->m);
    }
    if (rc < 0) {
        log_error("reconciler", "pass failed: %s; retrying in 5s", strerror(-rc));
        schedule(l, TRIG_RESYNC, 5000000);
        return true;
    }
    if (res.nops)
        log_info("reconciler",
                 "pass (%s): %zu operations, %lu netlink writes, %zu failed, %zu objects "
                 "(%zu available, %zu pending, %zu failing) in %.1f ms",
                 gen_trigger_to_string(trig), res.nops, res.writes, res.nfailed_ops,
                 res.nobjects, res.navailable, res.npending, res.nfailing, (double)dt / 1000.0);
    else
        log_debug("reconciler", "pass (%s): converged, %zu objects in %.1f ms",
                  gen_trigger_to_string(trig), res.nobjects, (double)dt / 1000.0);
    /* A netns file exists but is not mounted yet (`ip netns add` creates
     * the file, then bind-mounts it; the mount makes no inotify event).
     * Retry with backoff, giving up after ~30 s. */
    if (res.retry_netns && l->netns_retries < 40) {
        uint64_t delay = 50000ULL << (l->netns_retries < 6 ? l->netns_retries : 6);
        l->netns_retries++;
        schedule(l, TRIG_RESYNC, delay);
    } else if (!res.retry_netns)
        l->netns_retries = 0;
    /* Addresses this pass released may be what a failing pod waits for:
     * one more file pass (after the settle delay) plans it again. */
    if (res.addresses_freed)
        schedule(l, TRIG_FILE, 0);
    /* Pods this file pass attached or changed outside the quick lane are
     * remembered as converged only by a pass that finds them so; until
     * then the lane steps aside for every pod. The events of the pass's
     * own writes were read during it, so no drift pass would come: one
     * follows, from the files as read. */
    if (trig == TRIG_FILE && res.memo_short)
        schedule(l, TRIG_DRIFT, (uint64_t)l->opts->drift_ms * 1000);
    /* An object backing off (Degraded) is retried when its backoff ends. */
    if (res.wake_in_usec)
        schedule(l, TRIG_DRIFT, res.wake_in_usec);
    /* Kernel writes that failed are retried with backoff (200 ms doubling
     * to 60 s): a failure during drift is often a transition (a bridge
     * being deleted still shows up for a moment). */
    if (res.nfailed_ops) {
        unsigned shift = l->fail_retries < 9 ? l->fail_retries : 9;
        l->fail_retries++;
        schedule(l, TRIG_DRIFT, 200000ULL << shift > 60000000ULL ? 60000000ULL : 200000ULL << shift);
    } else
        l->fail_retries = 0;
    return true;
}

/* ---- `plumbd apply` handed over ---- */

/* Nothing can have changed since the last pass: every file event and
 * netlink event read and none left a pass to run, the watches in place,
 * and the database as that pass left it (no `plumbd rollback` since). */
static bool nothing_due(struct loop *l)
{
    size_t n;
    return l->have_last && l->last_rc >= 0 && !l->file_pending && !l->pending &&
           !l->poll_fallback && !l->ndirty && reconciler_statuses(l->r, &n) != NULL;
}

/* Run what is due now: the file pass without the rest of its settle delay
 * (a file still being written holds it back as ever), a drift repair or a
 * retry without their debounce; with nothing scheduled, a pass as apply's. */
static void run_due_now(struct loop *l)
{
    uint64_t now = now_usec();
    if (l->file_pending)
        l->file_due = now;
    if (l->pending)
        l->due = now;
    if (!l->file_pending && !l->pending)
        schedule(l, TRIG_MANUAL, 0);
    arm_due(l);
}

static void control_answer(struct loop *l, int slot)
{
    struct control_client *c = l->ctl.clients[slot];
    struct control_result res = {
        .nops = c->nops, .nfailed_ops = c->nfailed_ops, .writes = c->writes,
        .nobjects = l->last.nobjects, .navailable = l->last.navailable,
        .npending = l->last.npending, .nfailing = l->last.nfailing,
        .nconfig_errors = l->last.nconfig_errors, .refused = l->last.refused,
        .failed = l->last_rc < 0, .passes = c->passes,
    };
    log_debug("control", "apply (pid %d) answered after %u passes: %zu operations", c->pid,
              c->passes, c->nops);
    control_reply(&l->ctl, slot, &res, l->r->diag_text);
}

/* A request read whole: other options are answered at once; the others
 * are decided once every event ready now is read (control_decide). */
static void on_control_client(struct loop *l, int slot)
{
    struct control_request q;
    if (!l->ctl.clients[slot] || control_read(&l->ctl, slot, &q) <= 0)
        return; /* more to come, or it went */
    struct control_client *c = l->ctl.clients[slot];
    epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL); /* it says nothing more */
    if (!streq(q.fingerprint, l->ctl.fingerprint)) {
        const char *why = control_fingerprint_diff(q.fingerprint, l->ctl.fingerprint);
        _cleanup_free_ char *s =
            why[0] ? xstrdup(why)
                   : xasprintf("the daemon's %s", control_fingerprint_diff(l->ctl.fingerprint,
                                                                          q.fingerprint));
        log_info("control", "apply (pid %d) has other options (%s): it converges itself",
                 c->pid, s);
        control_reply_other(&l->ctl, slot, s);
        return;
    }
    c->asked = true;
}

/* After the events of this turn: the requests read. What `apply` wrote
 * before it asked is in the inotify queue by now, but its event may not
 * have been reported in this batch yet (nor a netlink event): both queues
 * are read first, then nothing_due() tells. */
static void control_decide(struct loop *l)
{
    bool any = false;
    for (int i = 0; i < CONTROL_MAX_CLIENTS && !any; i++)
        any = l->ctl.clients[i] && l->ctl.clients[i]->asked;
    if (!any)
        return;
    if (l->ino >= 0)
        on_inotify(l);
    if (l->ino_netns >= 0)
        on_inotify_netns(l);
    if (l->r->node_watch)
        on_watch(l, l->r->node_watch);
    bool due = !nothing_due(l);
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        struct control_client *c = l->ctl.clients[i];
        if (!c || !c->asked)
            continue;
        c->asked = false;
        if (!due) {
            control_answer(l, i);
            continue;
        }
        size_t n;
        log_debug("control",
                  "apply (pid %d): a pass first (file pass due %d, other pass due %d (%s), "
                  "polling %d, files being written %zu, statuses as the database holds them %d)",
                  c->pid, l->file_pending, l->pending, gen_trigger_to_string(l->trig),
                  l->poll_fallback, l->ndirty, reconciler_statuses(l->r, &n) != NULL);
        c->waiting = true;
    }
    if (due)
        run_due_now(l);
}

static void on_control(struct loop *l)
{
    int slot;
    while ((slot = control_accept(&l->ctl)) >= 0) {
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = SRC_CONTROL_CLIENT + (uint64_t)slot};
        if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->ctl.clients[slot]->fd, &ev) < 0) {
            control_drop(&l->ctl, slot); /* that apply converges itself */
            continue;
        }
        on_control_client(l, slot); /* the request is usually there already */
    }
}

/* After a pass (completed, or voided by moving files, when only what the
 * quick lane ran before counts): the applies waiting count it; they are
 * answered once no file pass is due (files written while it ran are taken
 * in too, up to 8 passes). */
static void control_after_pass(struct loop *l, bool completed)
{
    bool any = false, more = false;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        struct control_client *c = l->ctl.clients[i];
        if (!c || !c->waiting)
            continue;
        const struct pass_result *p = completed ? &l->last : &l->voided;
        c->passes += completed;
        c->nops += p->nops;
        c->nfailed_ops += p->nfailed_ops;
        c->writes += p->writes;
        if ((l->file_pending || !l->have_last) && c->passes < 8 && l->last_rc >= 0)
            more = true;
        else
            any = true;
    }
    if (more) {
        run_due_now(l);
        return;
    }
    for (int i = 0; any && i < CONTROL_MAX_CLIENTS; i++)
        if (l->ctl.clients[i] && l->ctl.clients[i]->waiting)
            control_answer(l, i);
}

static void on_signal(struct loop *l)
{
    struct signalfd_siginfo si;
    while (read(l->sig, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            log_info("daemon", "SIGHUP: full reload");
            notify_reloading();
            l->reloading = true;
            watch_all(l);
            l->r->diag_hash = 0;
            reconciler_invalidate(l->r);
            schedule(l, TRIG_RESYNC, 0);
        } else {
            log_info("daemon", "signal %u: stopping", si.ssi_signo);
            notify_stopping();
            l->stop = true;
        }
    }
}

static int add_fd(struct loop *l, int fd, uint32_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int loop_run(struct reconciler *r, const struct loop_opts *opts)
{
    struct loop l = {.r = r, .opts = opts, .ep = -1, .ino = -1, .timer = -1, .poll = -1,
                     .ctl = {.fd = -1},
                     .netns_wd = -1, .ino_netns = -1,
                     .mfd = -1, .wd = -1,
                     .resync = -1, .sig = -1};
    sigset_t mask;
    int rc = 0;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    l.ep = epoll_create1(EPOLL_CLOEXEC);
    l.sig = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    l.timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    l.resync = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    l.poll = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    l.ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    l.ino_netns = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (l.ep < 0 || l.sig < 0 || l.timer < 0 || l.resync < 0 || l.poll < 0) {
        rc = -errno;
        log_error("daemon", "cannot set up the event loop: %s", strerror(errno));
        goto out;
    }
    if (l.ino < 0 && l.poll >= 0) {
        log_warn("watch", "inotify unavailable (%s): polling every %u s", strerror(errno),
                 POLL_FALLBACK_S);
        set_poll_fallback(&l, true);
    }
    if ((rc = add_fd(&l, l.sig, SRC_SIGNAL)) < 0 || (rc = add_fd(&l, l.timer, SRC_TIMER)) < 0 ||
        (rc = add_fd(&l, l.resync, SRC_RESYNC)) < 0 || (rc = add_fd(&l, l.poll, SRC_POLL)) < 0 ||
        (l.ino >= 0 && (rc = add_fd(&l, l.ino, SRC_INOTIFY)) < 0) ||
        (l.ino_netns >= 0 && (rc = add_fd(&l, l.ino_netns, SRC_INOTIFY_NETNS)) < 0))
        goto out;
    l.m = metrics_plumbd_new(opts->version ? opts->version : "");
    if (opts->metrics_listen) {
        l.mfd = metrics_listen(opts->metrics_listen);
        if (l.mfd < 0) {
            rc = l.mfd;
            log_error("metrics", "cannot listen on %s: %s", opts->metrics_listen, strerror(-rc));
            goto out;
        }
        if ((rc = add_fd(&l, l.mfd, SRC_METRICS)) < 0)
            goto out;
    }
    uint64_t wd_usec;
    if (notify_watchdog_enabled(&wd_usec)) {
        /* Fed from the loop itself: a stuck loop starves the watchdog. */
        l.wd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (l.wd >= 0 && add_fd(&l, l.wd, SRC_WATCHDOG) >= 0)
            arm_timer(l.wd, wd_usec / 2, wd_usec / 2);
    }
    /* Subscribe to the node's netlink events before its first dump, so
     * nothing is missed between the two. */
    rc = reconciler_watch_start(r, l.ep);
    if (rc < 0) {
        log_error("daemon", "cannot watch the node's netlink events: %s", strerror(-rc));
        goto out;
    }
    if (l.ino >= 0)
        watch_all(&l);
    {
        _cleanup_free_ char *fp = control_fingerprint(r);
        int k = control_listen(&l.ctl, r->state_dir, fp);
        if (k < 0)
            log_warn("control", "no socket %s/%s (%s): `plumbd apply` converges by itself",
                     r->state_dir, CONTROL_SOCKET,
                     k == -EADDRINUSE ? "another daemon answers there" : strerror(-k));
        else if ((rc = add_fd(&l, l.ctl.fd, SRC_CONTROL)) < 0)
            goto out;
    }
    arm_timer(l.resync, (uint64_t)opts->resync_s * 1000000, (uint64_t)opts->resync_s * 1000000);

    log_info("daemon", "started: config %s, state %s, node %s", r->config_dir, r->state_dir,
             r->node_name);
    r->mirror_defer = true;
    /* Tests: hold the status files back until exit (the deferral made
     * visible; SIGTERM must still write them). */
    bool mirror_hold = getenv("PLUMBD_FAULT_MIRROR_HOLD") != NULL;
    /* The database's log is copied back between passes, not inside one
     * (SQLite's threshold: 1000 pages; PLUMBD_CHECKPOINT_PAGES: tests). */
    {
        const char *e = getenv("PLUMBD_CHECKPOINT_PAGES");
        char *end = NULL;
        long pages = e ? strtol(e, &end, 10) : 0;
        if (e && (end == e || *end || pages < 1 || pages > 1000000)) {
            log_warn("store", "PLUMBD_CHECKPOINT_PAGES=%s is not 1..1000000: 1000 pages", e);
            pages = 0;
        }
        store_defer_checkpoints(r->store, pages > 0 ? (int)pages : 1000);
    }
    run_pass(&l, TRIG_START);
    notify_ready(); /* even if the pass failed: the daemon is up and retrying */
    if (opts->on_ready)
        opts->on_ready();

    while (!l.stop) {
        struct epoll_event evs[8];
        /* Status files still to write, or the database's log to copy
         * back: look at events, then do some of it. */
        bool idle_work = (!mirror_hold && reconciler_mirror_pending(r)) ||
                         store_checkpoint_due(r->store);
        int n = epoll_wait(l.ep, evs, ARRAY_SIZE(evs), idle_work ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t x;
            /* Our own sources carry small tags; namespace watches carry
             * their struct live_watch pointer. */
            if (evs[i].data.u64 >= 4096) {
                on_watch(&l, evs[i].data.ptr);
                continue;
            }
            if (evs[i].data.u64 >= SRC_CONTROL_CLIENT &&
                evs[i].data.u64 < SRC_CONTROL_CLIENT + CONTROL_MAX_CLIENTS) {
                on_control_client(&l, (int)(evs[i].data.u64 - SRC_CONTROL_CLIENT));
                continue;
            }
            if (evs[i].data.u64 >= DHCP_TAG_TIMER && r->dhcp) {
                dhcp_daemon_event(r->dhcp, r->store, evs[i].data.u64);
                dhcp_daemon_metrics(r->dhcp, l.m);
                continue;
            }
            switch (evs[i].data.u64) {
            case SRC_INOTIFY:
                on_inotify(&l);
                break;
            case SRC_INOTIFY_NETNS:
                on_inotify_netns(&l);
                break;
            case SRC_SIGNAL:
                on_signal(&l);
                break;
            case SRC_RESYNC:
                while (read(l.resync, &x, sizeof(x)) > 0)
                    ;
                reconciler_invalidate(r); /* the safety net re-dumps */
                schedule(&l, TRIG_RESYNC, 0);
                break;
            case SRC_METRICS:
                metrics_on_readable(l.m, l.mfd);
                break;
            case SRC_CONTROL:
                on_control(&l);
                break;
            case SRC_WATCHDOG:
                while (read(l.wd, &x, sizeof(x)) > 0)
                    ;
                notify_watchdog();
                break;
            case SRC_POLL:
                while (read(l.poll, &x, sizeof(x)) > 0)
                    ;
                watch_all(&l); /* try to get the watches back */
                schedule(&l, TRIG_FILE, 0);
                break;
            case SRC_TIMER:
                while (read(l.timer, &x, sizeof(x)) > 0)
                    ;
                break;
            }
        }
        /* A lease acquired or lost: its address, routes and DNS follow. */
        if (r->dhcp && r->dhcp->changed) {
            r->dhcp->changed = false;
            schedule(&l, TRIG_RESYNC, 0);
        }
        control_decide(&l);
        /* Work happens at a safe point: after all ready events are read.
         * A file still being written holds the pass back (up to 30 s). */
        uint64_t now = now_usec();
        bool ran = false;
        if (!l.stop && l.file_pending && now >= l.file_due) {
            if (l.ndirty && now - l.burst_start < DIRTY_MAX_USEC) {
                l.file_due = now + (uint64_t)opts->settle_ms * 1000 + 1000;
            } else {
                /* A file pass covers any other pending one. */
                l.file_pending = l.settling = l.pending = false;
                control_after_pass(&l, run_pass(&l, TRIG_FILE));
                ran = true;
            }
        }
        if (!l.stop && !ran && l.pending && now >= l.due) {
            l.pending = false;
            control_after_pass(&l, run_pass(&l, l.trig));
            ran = true;
        }
        if (ran && l.reloading) {
            notify_ready();
            l.reloading = false;
        }
        /* Between passes, a few status files at a time: a pass that comes
         * due meanwhile runs first (its files then join the queue). */
        if (!l.stop && !ran && !mirror_hold && reconciler_mirror_pending(r))
            reconciler_mirror_step(r, MIRROR_SLICE);
        else if (!l.stop && !ran && store_checkpoint_due(r->store))
            store_checkpoint(r->store);
        arm_due(&l);
    }
out:
    if (r->dhcp)
        dhcp_daemon_stop(r->dhcp); /* leases stay: a restart asks for them again */
    if (l.ep >= 0)
        close(l.ep);
    if (l.ino >= 0)
        close(l.ino);
    if (l.ino_netns >= 0)
        close(l.ino_netns);
    if (l.timer >= 0)
        close(l.timer);
    if (l.resync >= 0)
        close(l.resync);
    if (l.poll >= 0)
        close(l.poll);
    dirty_clear(&l, -1);
    free(l.dirty);
    hint_reset(&l);
    free(l.cfg_wd);
    free(l.par_wd);
    if (l.mfd >= 0)
        close(l.mfd);
    if (l.wd >= 0)
        close(l.wd);
    if (opts->metrics_listen && opts->metrics_listen[0] == '/')
        unlink(opts->metrics_listen);
    control_close(&l.ctl);
    metrics_free(l.m);
    if (l.sig >= 0)
        close(l.sig);
    return rc;
}
