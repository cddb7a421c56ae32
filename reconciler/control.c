/* control.c - `plumbd apply` beside a running daemon: the daemon converges.
 *
 * A one-shot `apply` reads every file and dumps every pod namespace (a
 * quarter of a second at a thousand pods); the daemon already holds all of
 * it, kept current by inotify and netlink events. So when a daemon serves
 * the state dir, `apply` asks it:
 *
 *   apply  -> "plumbd-apply 1\n" + fingerprint lines + "\n"
 *   daemon -> "result ops=N failed_ops=N writes=N objects=N available=N
 *              pending=N failing=N config_errors=N refused=0|1 failed=0|1
 *              passes=N\n" + the configuration errors' text, then closes
 *          or "other LINE\n": its own options differ (LINE is the
 *              client's line the daemon does not share); apply converges
 *              itself, as it always could beside a daemon.
 *
 * The daemon runs every pass that is due at once (file changes without
 * waiting for the settle delay, a drift repair, a retry) and answers after
 * them; with nothing due and its last pass's statuses still what the
 * database holds, the answer is that pass's, without a pass (passes=0).
 * The socket is 0600 in the state dir (itself 0700); each side checks the
 * other's uid (root or its own). */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include "control.h"
#include "load.h"
#include "log.h"

#define HELLO "plumbd-apply 1\n"

/* p as an absolute path, without trailing slashes or "./" (symlinks are
 * not resolved: a git-sync link is the same config dir whatever its target
 * is now). */
static char *abs_path(const char *p)
{
    if (!p)
        return xstrdup("");
    char cwd[4096];
    char *a;
    while (p[0] == '.' && p[1] == '/')
        for (p += 2; *p == '/';)
            p++;
    if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        a = xstrdup(p);
    else
        a = p[0] && !streq(p, ".") ? path_join(cwd, p) : xstrdup(cwd);
    for (size_t n = strlen(a); n > 1 && a[n - 1] == '/';)
        a[--n] = 0;
    return a;
}

char *control_fingerprint(const struct reconciler *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    struct stat st;
    if (stat("/proc/self/ns/net", &st) == 0)
        fprintf(f, "netns=%llu:%llu\n", (unsigned long long)st.st_dev,
                (unsigned long long)st.st_ino);
    for (size_t i = 0; i < config_dir_count(r); i++) {
        _cleanup_free_ char *d = abs_path(config_dir_at(r, i));
        fprintf(f, "config-dir=%s\n", d);
    }
    _cleanup_free_ char *rc = abs_path(r->resolv_conf);
    fprintf(f, "resolv-conf=%s\n", rc);
    fprintf(f, "node-name=%s\n", r->node_name ? r->node_name : "");
    fprintf(f, "allow-empty=%d\n", r->allow_empty);
    fprintf(f, "insecure-config=%d\n", !load_strict_modes);
    fprintf(f, "flap-limit=%u\nflap-backoff-s=%u\n", r->flap_limit, r->flap_backoff_s);
    fprintf(f, "history=%u\nprobe-timeout-ms=%u\n", r->history_keep, r->probe_timeout_ms);
    fclose(f);
    return buf;
}

const char *control_fingerprint_diff(const char *a, const char *b)
{
    static char line[512];
    for (const char *p = a; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        bool found = false;
        for (const char *q = b; *q && !found;) {
            const char *ql = strchr(q, '\n');
            size_t m = ql ? (size_t)(ql - q) : strlen(q);
            found = m == n && memcmp(p, q, n) == 0;
            q += m + (ql != NULL);
        }
        if (!found) {
            snprintf(line, sizeof(line), "%.*s", (int)n, p);
            return line;
        }
        p += n + (nl != NULL);
    }
    return "";
}

static int socket_path(const char *state_dir, struct sockaddr_un *sa, socklen_t *len)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", state_dir, CONTROL_SOCKET);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    return 0;
}

/* The peer is root or runs as we do. */
static bool peer_trusted(int fd, int *ret_pid)
{
    struct ucred uc;
    socklen_t l = sizeof(uc);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0)
        return false;
    if (ret_pid)
        *ret_pid = (int)uc.pid;
    return uc.uid == 0 || uc.uid == geteuid();
}

int control_listen(struct control_server *s, const char *state_dir, const char *fingerprint)
{
    struct sockaddr_un sa;
    socklen_t len;
    int rc = socket_path(state_dir, &sa, &len);
    if (rc < 0)
        return rc;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* A socket left by a daemon that died refuses connections; one that
     * accepts belongs to a daemon alive on this state dir. */
    {
        _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, len) == 0)
            return -EADDRINUSE;
    }
    if (unlink(sa.sun_path) < 0 && errno != ENOENT)
        return -errno;
    mode_t old = umask(0177);
    rc = bind(fd, (struct sockaddr *)&sa, len);
    umask(old);
    if (rc < 0 || listen(fd, CONTROL_MAX_CLIENTS) < 0)
        return -errno;
    s->fd = TAKE_FD(fd);
    s->path = xstrdup(sa.sun_path);
    s->fingerprint = xstrdup(fingerprint);
    return 0;
}

void control_init(struct control_server *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

static void client_close(struct control_server *s, int slot)
{
    if (!s->clients[slot])
        return;
    close(s->clients[slot]->fd);
    free(s->clients[slot]->buf);
    free(s->clients[slot]);
    s->clients[slot] = NULL;
}

void control_drop(struct control_server *s, int slot)
{
    client_close(s, slot);
}

void control_close(struct control_server *s)
{
    for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
        client_close(s, (int)i); /* a client waiting converges itself */
    if (s->fd >= 0) {
        close(s->fd);
        unlink(s->path);
    }
    s->fd = -1;
    free(s->path);
    free(s->fingerprint);
    s->path = s->fingerprint = NULL;
}

int control_accept(struct control_server *s)
{
    int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return -1;
    int pid = 0;
    if (!peer_trusted(fd, &pid)) {
        log_warn("control", "refused a connection from pid %d (another user)", pid);
        close(fd);
        return -1;
    }
    int slot = -1, oldest = -1;
    for (int i = 0; i < CONTROL_MAX_CLIENTS && slot < 0; i++) {
        struct control_client *c = s->clients[i];
        if (!c)
            slot = i;
        else if (!c->asked && !c->waiting &&
                 (oldest < 0 || c->since < s->clients[oldest]->since))
            oldest = i;
    }
    if (slot < 0 && oldest >= 0) {
        /* every slot taken: one that never finished asking makes room */
        log_warn("control", "dropped a connection from pid %d that sent no whole request",
                 s->clients[oldest]->pid);
        client_close(s, oldest);
        slot = oldest;
    }
    if (slot < 0) {
        close(fd); /* that many applies waiting: this one converges itself */
        return -1;
    }
    struct control_client *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->pid = pid;
    c->since = now_usec();
    s->clients[slot] = c;
    return slot;
}

#define REQUEST_MAX (256 * 1024) /* 16 config dirs of PATH_MAX, and more */

int control_read(struct control_server *s, int slot, struct control_request *ret)
{
    struct control_client *c = s->clients[slot];
    bool eof = false;
    for (;;) {
        if (c->len + 1 >= c->cap) {
            if (c->cap >= REQUEST_MAX) {
                client_close(s, slot);
                return -1;
            }
            c->cap = c->cap ? c->cap * 2 : 4096;
            c->buf = xrealloc(c->buf, c->cap);
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - 1 - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            eof = true; /* (a client may close its side once it asked) */
            break;
        }
        c->len += (size_t)n;
    }
    if (!c->buf) {
        client_close(s, slot);
        return -1;
    }
    c->buf[c->len] = 0;
    char *end = strstr(c->buf, "\n\n");
    if (!end && eof) {
        client_close(s, slot);
        return -1;
    }
    if (!end)
        return 0;
    if (strncmp(c->buf, HELLO, strlen(HELLO)) != 0) {
        client_close(s, slot);
        return -1;
    }
    end[1] = 0;
    ret->fingerprint = c->buf + strlen(HELLO);
    return 1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The answer may be long (the errors of many files): the socket blocks
 * for it, but a client that does not read makes the daemon wait 2 s at
 * most, and loses the rest. */
static void reply_mode(int fd)
{
    struct timeval tv = {.tv_sec = 2};
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void control_reply(struct control_server *s, int slot, const struct control_result *res,
                   const char *diag_text)
{
    struct control_client *c = s->clients[slot];
    _cleanup_free_ char *line =
        xasprintf("result ops=%zu failed_ops=%zu writes=%lu objects=%zu available=%zu "
                  "pending=%zu failing=%zu config_errors=%zu refused=%d failed=%d passes=%u\n",
                  res->nops, res->nfailed_ops, res->writes, res->nobjects, res->navailable,
                  res->npending, res->nfailing, res->nconfig_errors, res->refused, res->failed,
                  res->passes);
    reply_mode(c->fd);
    send_all(c->fd, line, strlen(line));
    if (res->nconfig_errors && diag_text)
        send_all(c->fd, diag_text, strlen(diag_text));
    client_close(s, slot);
}

void control_reply_other(struct control_server *s, int slot, const char *why)
{
    _cleanup_free_ char *line = xasprintf("other %s\n", why);
    reply_mode(s->clients[slot]->fd);
    send_all(s->clients[slot]->fd, line, strlen(line));
    client_close(s, slot);
}

/* ---- the client ---- */

static int read_reply(int fd, int pid, char **ret)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool said = false;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int k = poll(&p, 1, said ? -1 : 5000);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0) {
            log_info("control", "waiting for the daemon (pid %d) to finish its pass", pid);
            said = true;
            continue;
        }
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            free(buf);
            return e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (!len) {
        free(buf);
        return -ECONNRESET; /* closed without an answer: it stopped */
    }
    buf[len] = 0;
    *ret = buf;
    return 0;
}

static bool field(const char *line, const char *key, unsigned long *ret)
{
    _cleanup_free_ char *k = xasprintf(" %s=", key);
    const char *p = strstr(line, k);
    if (!p)
        return false;
    char *end;
    errno = 0;
    *ret = strtoul(p + strlen(k), &end, 10);
    return !errno && (*end == ' ' || *end == '\n' || !*end);
}

int control_apply(const char *state_dir, const char *fingerprint)
{
    struct sockaddr_un sa;
    socklen_t len;
    int rc = socket_path(state_dir, &sa, &len);
    if (rc < 0)
        return rc;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, len) < 0)
        return -errno;
    int pid = 0;
    if (!peer_trusted(fd, &pid)) {
        log_warn("control", "%s belongs to another user: not asking it", sa.sun_path);
        return -EPERM;
    }
    _cleanup_free_ char *req = xasprintf("%s%s\n", HELLO, fingerprint);
    if ((rc = send_all(fd, req, strlen(req))) < 0)
        return rc;
    _cleanup_free_ char *reply = NULL;
    rc = read_reply(fd, pid, &reply);
    if (rc < 0) {
        log_warn("control", "the daemon (pid %d) closed without an answer: converging here", pid);
        return rc;
    }
    if (strncmp(reply, "other ", 6) == 0) {
        char *nl = strchr(reply, '\n');
        if (nl)
            *nl = 0;
        log_warn("control",
                 "the daemon (pid %d) on %s runs with other options (not %s): converging here",
                 pid, state_dir, reply + 6);
        return -ESTALE;
    }
    char *body = strchr(reply, '\n');
    if (strncmp(reply, "result ", 7) != 0 || !body) {
        log_warn("control", "the daemon (pid %d) gave no result: converging here", pid);
        return -EPROTO;
    }
    *body++ = 0;
    unsigned long ops = 0, writes = 0, objs = 0, avail = 0, pend = 0, fail = 0, cerr = 0,
                  refused = 0, failed = 0, passes = 0;
    if (!field(reply, "ops", &ops) || !field(reply, "writes", &writes) ||
        !field(reply, "objects", &objs) || !field(reply, "available", &avail) ||
        !field(reply, "pending", &pend) || !field(reply, "failing", &fail) ||
        !field(reply, "config_errors", &cerr) || !field(reply, "refused", &refused) ||
        !field(reply, "failed", &failed) || !field(reply, "passes", &passes)) {
        log_warn("control", "the daemon (pid %d) gave a result this apply cannot read: "
                            "converging here", pid);
        return -EPROTO;
    }
    log_debug("control", "converged by the daemon (pid %d) in %lu passes", pid, passes);
    if (failed) {
        log_error("control", "the daemon's pass failed (see its log)");
        return 1;
    }
    if (refused) {
        log_error("control", "the daemon refused to converge (an empty source: see its log)");
        return 1;
    }
    /* the configuration errors, as a one-shot prints them */
    if (log_format == LOG_FORMAT_JSON)
        for (char *l = body, *e; *l; l = e ? e + 1 : l + strlen(l)) {
            e = strchr(l, '\n');
            if (e)
                *e = 0;
            if (*l)
                log_msg(strstr(l, ": warning: ") ? LOG_WARN : LOG_ERR, "config", "%s", l);
        }
    else
        fputs(body, stderr);
    printf("applied %lu operations, %lu netlink writes; %lu objects: %lu available, %lu pending, "
           "%lu failing\n",
           ops, writes, objs, avail, pend, fail);
    if (cerr)
        fprintf(stderr, "plumbd: %lu configuration errors (see above)\n", cerr);
    return fail || pend || cerr ? 1 : 0;
}
