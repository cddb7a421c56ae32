/* metrics.c - metrics registry, Prometheus text rendering, the textfile
 * writer and a one-request-at-a-time HTTP/1.0 responder.
 *
 * The registry is a flat array of families, each a flat array of series
 * keyed by their rendered label string (`kind="Pod",condition="Available"`):
 * a daemon exports a few dozen series, so linear lookups cost less than any
 * index would. Rendering allocates the whole text at once; the HTTP answer
 * and the textfile are the same bytes. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

struct series {
    char *labels;      /* rendered, escaped; "" when none */
    double value;      /* counter/gauge; histogram: unused */
    double sum;        /* histogram */
    uint64_t count;    /* histogram */
    uint64_t *buckets; /* histogram: per bound, not cumulative */
};

struct family {
    char *name;
    char *help;
    enum metric_type type;
    double *bounds; /* histogram upper bounds, increasing */
    size_t nbounds;
    struct series *series;
    size_t nseries;
};

struct metrics {
    struct family *fams;
    size_t nfams;
};

static const char *const type_names[_METRIC_TYPE_MAX] = {
    [METRIC_COUNTER] = "counter",
    [METRIC_GAUGE] = "gauge",
    [METRIC_HISTOGRAM] = "histogram",
};

const char *metric_type_to_string(enum metric_type t)
{
    return (unsigned)t < _METRIC_TYPE_MAX ? type_names[t] : NULL;
}

struct metrics *metrics_new(void)
{
    return xcalloc(1, sizeof(struct metrics));
}

static void series_free(struct series *s)
{
    free(s->labels);
    free(s->buckets);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfams; i++) {
        struct family *f = &m->fams[i];
        for (size_t j = 0; j < f->nseries; j++)
            series_free(&f->series[j]);
        free(f->series);
        free(f->name);
        free(f->help);
        free(f->bounds);
    }
    free(m->fams);
    free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; no ':' in label names. */
static bool name_valid(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (const char *c = s; *c; c++) {
        bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                     (colon && *c == ':');
        if (!alpha && !(c > s && *c >= '0' && *c <= '9'))
            return false;
    }
    return true;
}

static struct family *family_find(const struct metrics *m, const char *name)
{
    for (size_t i = 0; i < m->nfams; i++)
        if (streq(m->fams[i].name, name))
            return &m->fams[i];
    return NULL;
}

static int declare(struct metrics *m, const char *name, enum metric_type type, const char *help,
                   const double *bounds, size_t n)
{
    if (!m || !name_valid(name, true) || (unsigned)type >= _METRIC_TYPE_MAX)
        return -EINVAL;
    struct family *f = family_find(m, name);
    if (f)
        return f->type == type ? 0 : -EEXIST;
    f = ARRAY_PUSH(m->fams, m->nfams);
    f->name = xstrdup(name);
    f->help = xstrdup(help ? help : "");
    f->type = type;
    if (n) {
        f->bounds = xmalloc(n * sizeof(double));
        memcpy(f->bounds, bounds, n * sizeof(double));
        f->nbounds = n;
    }
    return 0;
}

int metrics_declare(struct metrics *m, const char *name, enum metric_type type, const char *help)
{
    if (type == METRIC_HISTOGRAM)
        return -EINVAL; /* needs bounds */
    return declare(m, name, type, help, NULL, 0);
}

int metrics_declare_histogram(struct metrics *m, const char *name, const char *help,
                              const double *bounds, size_t n)
{
    if (!bounds || n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (bounds[i] != bounds[i] || bounds[i] > 1e300 || bounds[i] < -1e300)
            return -EINVAL; /* NaN or infinite */
        if (i > 0 && !(bounds[i] > bounds[i - 1]))
            return -EINVAL;
    }
    return declare(m, name, METRIC_HISTOGRAM, help, bounds, n);
}

/* Append v to a label value, escaped as the exposition format wants. */
static void put_escaped(FILE *f, const char *s, bool quote_too)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else if (*s == '"' && quote_too)
            fputs("\\\"", f);
        else
            fputc(*s, f);
    }
}

/* Render the key/value list into `k="v",k2="v2"`. -EINVAL on a bad key or
 * a key without value. */
static int labels_render(va_list ap, char **ret)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bool first = true;
    int r = 0;

    if (!f)
        return -ENOMEM;
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (!v || !name_valid(k, false) || strncmp(k, "__", 2) == 0) {
            r = -EINVAL;
            break;
        }
        fprintf(f, "%s%s=\"", first ? "" : ",", k);
        put_escaped(f, v, true);
        fputc('"', f);
        first = false;
    }
    if (fclose(f) != 0 && r == 0)
        r = -ENOMEM;
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret = buf;
    return 0;
}

static struct series *series_get(struct family *f, const char *labels, bool create)
{
    for (size_t i = 0; i < f->nseries; i++)
        if (streq(f->series[i].labels, labels))
            return &f->series[i];
    if (!create)
        return NULL;
    struct series *s = ARRAY_PUSH(f->series, f->nseries);
    s->labels = xstrdup(labels);
    if (f->type == METRIC_HISTOGRAM)
        s->buckets = xcalloc(f->nbounds, sizeof(uint64_t));
    return s;
}

enum upd { UPD_ADD, UPD_SET, UPD_OBSERVE };

static int update(struct metrics *m, const char *name, enum metric_type type, enum upd how,
                  double v, va_list ap)
{
    if (!m)
        return -EINVAL;
    struct family *f = family_find(m, name);
    if (!f)
        return -ENOENT;
    if (f->type != type)
        return -EINVAL;
    if (v != v || (type == METRIC_COUNTER && v < 0))
        return -EINVAL;
    _cleanup_free_ char *labels = NULL;
    int r = labels_render(ap, &labels);
    if (r < 0)
        return r;
    struct series *s = series_get(f, labels, true);
    switch (how) {
    case UPD_ADD:
        s->value += v;
        break;
    case UPD_SET:
        s->value = v;
        break;
    case UPD_OBSERVE:
        s->count++;
        s->sum += v;
        for (size_t i = 0; i < f->nbounds; i++)
            if (v <= f->bounds[i]) {
                s->buckets[i]++;
                break;
            }
        break;
    }
    return 0;
}

#define DEFINE_UPDATE(fn, type, how)                                                               \
    int fn(struct metrics *m, const char *name, double v, ...)                                     \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, v);                                                                           \
        int r = update(m, name, type, how, v, ap);                                                 \
        va_end(ap);                                                                                \
        return r;                                                                                  \
    }

DEFINE_UPDATE(metrics_counter_add, METRIC_COUNTER, UPD_ADD)
DEFINE_UPDATE(metrics_gauge_set, METRIC_GAUGE, UPD_SET)
DEFINE_UPDATE(metrics_gauge_add, METRIC_GAUGE, UPD_ADD)
DEFINE_UPDATE(metrics_histogram_observe, METRIC_HISTOGRAM, UPD_OBSERVE)

double metrics_get(const struct metrics *m, const char *name, ...)
{
    if (!m)
        return -1;
    struct family *f = family_find(m, name);
    if (!f)
        return -1;
    _cleanup_free_ char *labels = NULL;
    va_list ap;
    va_start(ap, name);
    int r = labels_render(ap, &labels);
    va_end(ap);
    if (r < 0)
        return -1;
    struct series *s = series_get(f, labels, false);
    if (!s)
        return -1;
    return f->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
}

void metrics_family_clear(struct metrics *m, const char *name)
{
    struct family *f = m ? family_find(m, name) : NULL;
    if (!f)
        return;
    for (size_t i = 0; i < f->nseries; i++)
        series_free(&f->series[i]);
    free(f->series);
    f->series = NULL;
    f->nseries = 0;
}

/* Shortest text that reads back as the same double; integers without a
 * fraction; +Inf, -Inf, NaN as the format spells them. */
static void put_num(FILE *f, double v)
{
    char buf[40];

    if (v != v) {
        fputs("NaN", f);
        return;
    }
    if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
        fputs(v > 0 ? "+Inf" : "-Inf", f);
        return;
    }
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
        fprintf(f, "%lld", (long long)v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

/* name{labels[,extra]} value\n */
static void put_sample(FILE *f, const char *name, const char *suffix, const char *labels,
                       const char *extra, double v)
{
    fprintf(f, "%s%s", name, suffix);
    if (*labels || extra) {
        fputc('{', f);
        fputs(labels, f);
        if (extra) {
            if (*labels)
                fputc(',', f);
            fputs(extra, f);
        }
        fputc('}', f);
    }
    fputc(' ', f);
    put_num(f, v);
    fputc('\n', f);
}

int metrics_render(const struct metrics *m, char **ret, size_t *ret_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    if (!m || !ret)
        return -EINVAL;
    f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    for (size_t i = 0; i < m->nfams; i++) {
        const struct family *fam = &m->fams[i];
        if (*fam->help) {
            fprintf(f, "# HELP %s ", fam->name);
            put_escaped(f, fam->help, false);
            fputc('\n', f);
        }
        fprintf(f, "# TYPE %s %s\n", fam->name, type_names[fam->type]);
        for (size_t j = 0; j < fam->nseries; j++) {
            const struct series *s = &fam->series[j];
            if (fam->type != METRIC_HISTOGRAM) {
                put_sample(f, fam->name, "", s->labels, NULL, s->value);
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b < fam->nbounds; b++) {
                char *le = NULL;
                size_t lelen = 0;
                FILE *lf = open_memstream(&le, &lelen);
                if (!lf)
                    continue;
                fputs("le=\"", lf);
                put_num(lf, fam->bounds[b]);
                fputc('"', lf);
                fclose(lf);
                cum += s->buckets[b];
                put_sample(f, fam->name, "_bucket", s->labels, le, (double)cum);
                free(le);
            }
            put_sample(f, fam->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
            put_sample(f, fam->name, "_sum", s->labels, NULL, s->sum);
            put_sample(f, fam->name, "_count", s->labels, NULL, (double)s->count);
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *ret = buf;
    if (ret_len)
        *ret_len = len;
    return 0;
}

int metrics_write_file(const struct metrics *m, const char *path)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = metrics_render(m, &text, &len);
    if (r < 0)
        return r;
    return write_file_atomic(path, text, len);
}

/* ---- listening socket ---------------------------------------------------- */

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    struct stat st;

    if (plen >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, plen);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    else if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return -EEXIST;
        (void)unlink(path); /* stale socket of an earlier run */
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
                                  (path[0] == '@' ? 0 : 1));
    if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 16) < 0)
        return -errno;
    return TAKE_FD(fd);
}

static int listen_tcp(const char *spec)
{
    _cleanup_free_ char *host = NULL;
    const char *port;

    if (spec[0] == '[') {
        const char *close_br = strchr(spec, ']');
        if (!close_br || close_br[1] != ':')
            return -EINVAL;
        host = xstrndup(spec + 1, (size_t)(close_br - spec - 1));
        port = close_br + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon) {
            host = xstrndup(spec, (size_t)(colon - spec));
            port = colon + 1;
        } else
            port = spec;
    }
    if (!host || !*host) {
        free(host);
        host = xstrdup("127.0.0.1");
    }
    if (!*port)
        return -EINVAL;
    for (const char *c = port; *c; c++)
        if (*c < '0' || *c > '9')
            return -EINVAL;

    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
    };
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0)
        return g == EAI_SYSTEM ? -errno : -EINVAL;
    int r = -EADDRNOTAVAIL;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 16) < 0) {
            r = -errno;
            close(fd);
            continue;
        }
        r = fd;
        break;
    }
    freeaddrinfo(ai);
    return r;
}

int metrics_listen(const char *spec)
{
    if (!spec || !*spec)
        return -EINVAL;
    if (spec[0] == '/' || spec[0] == '@' || strchr(spec, '/'))
        return listen_unix(spec);
    return listen_tcp(spec);
}

/* ---- HTTP/1.0 responder -------------------------------------------------- */

#define HTTP_READ_MS 250
#define HTTP_WRITE_MS 1000

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = now_usec();
    return now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
}

/* Read until the end of the request head, a full buffer, EOF or the
 * deadline. Returns the bytes read (NUL-terminated) or -errno. */
static ssize_t read_head(int fd, char *buf, size_t size)
{
    uint64_t deadline = now_usec() + HTTP_READ_MS * 1000ULL;
    size_t len = 0;

    while (len + 1 < size) {
        ssize_t k = read(fd, buf + len, size - 1 - len);
        if (k > 0) {
            len += (size_t)k;
            buf[len] = 0;
            if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
                break;
            continue;
        }
        if (k == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = remaining_ms(deadline);
        if (ms == 0 || poll(&p, 1, ms) <= 0)
            return len ? (ssize_t)len : -ETIMEDOUT;
    }
    buf[len] = 0;
    return (ssize_t)len;
}

static void write_all_deadline(int fd, const char *p, size_t len)
{
    uint64_t deadline = now_usec() + HTTP_WRITE_MS * 1000ULL;

    while (len > 0) {
        ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            len -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return;
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        int ms = remaining_ms(deadline);
        if (ms == 0 || poll(&pf, 1, ms) <= 0)
            return;
    }
}

static void respond(int fd, int code, const char *reason, const char *ctype, const char *body,
                    size_t blen, bool head_only)
{
    _cleanup_free_ char *hdr = xasprintf("HTTP/1.0 %d %s\r\n"
                                         "Content-Type: %s\r\n"
                                         "Content-Length: %zu\r\n"
                                         "Connection: close\r\n"
                                         "\r\n",
                                         code, reason, ctype, blen);
    write_all_deadline(fd, hdr, strlen(hdr));
    if (!head_only && blen)
        write_all_deadline(fd, body, blen);
}

int metrics_on_readable(const struct metrics *m, int listen_fd)
{
    char req[4096];
    _cleanup_close_ int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        /* Nothing pending, or the client gave up: not our error. */
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED ||
            errno == EPROTO || errno == EPERM)
            return 0;
        return -errno;
    }
    ssize_t n = read_head(fd, req, sizeof(req));
    if (n <= 0)
        return 0;

    /* Request line: METHOD SP TARGET SP HTTP/x.y */
    char *eol = strpbrk(req, "\r\n");
    if (eol)
        *eol = 0;
    char *method = req, *target = strchr(req, ' '), *version = NULL;
    if (target) {
        *target++ = 0;
        version = strchr(target, ' ');
        if (version)
            *version++ = 0;
    }
    static const char text[] = "text/plain; charset=utf-8";
    if (!target || !*target || (version && strncmp(version, "HTTP/", 5) != 0)) {
        static const char msg[] = "bad request\n";
        respond(fd, 400, "Bad Request", text, msg, sizeof(msg) - 1, false);
    } else if (!streq(method, "GET") && !streq(method, "HEAD")) {
        static const char msg[] = "only GET and HEAD\n";
        respond(fd, 405, "Method Not Allowed", text, msg, sizeof(msg) - 1, false);
    } else {
        size_t plen = strcspn(target, "?#");
        bool head = streq(method, "HEAD");
        if (plen == 8 && strncmp(target, "/metrics", 8) == 0) {
            _cleanup_free_ char *body = NULL;
            size_t blen = 0;
            if (metrics_render(m, &body, &blen) < 0) {
                static const char msg[] = "cannot render metrics\n";
                respond(fd, 500, "Internal Server Error", text, msg, sizeof(msg) - 1, head);
            } else
                respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, blen,
                        head);
        } else {
            static const char msg[] = "not found: try /metrics\n";
            respond(fd, 404, "Not Found", text, msg, sizeof(msg) - 1, head);
        }
    }
    (void)shutdown(fd, SHUT_WR);
    return 0;
}

/* ---- plumbd's families --------------------------------------------------- */

static const double pass_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,     10,   30};

static const struct {
    const char *name;
    enum metric_type type;
    const char *help;
} plumbd_families[] = {
    {"plumbd_build_info", METRIC_GAUGE, "plumbd version (always 1)"},
    {"plumbd_start_time_seconds", METRIC_GAUGE, "Unix time the daemon started"},
    {"plumbd_objects", METRIC_GAUGE,
     "Desired objects by kind and condition (Available, Progressing, Pending, Failing, Aborted)"},
    {"plumbd_config_errors", METRIC_GAUGE,
     "file:line:column errors in the config dir at the last pass"},
    {"plumbd_reconcile_passes_total", METRIC_COUNTER,
     "Reconcile passes by trigger (start, file, drift, resync, ...) and result (ok, error)"},
    {"plumbd_reconcile_duration_seconds", METRIC_HISTOGRAM, "Duration of reconcile passes"},
    {"plumbd_reconcile_operations_total", METRIC_COUNTER, "Planned operations executed"},
    {"plumbd_reconcile_failed_operations_total", METRIC_COUNTER, "Operations that failed"},
    {"plumbd_netlink_writes_total", METRIC_COUNTER, "Netlink write requests sent to the kernel"},
    {"plumbd_drift_repairs_total", METRIC_COUNTER,
     "Passes triggered by a kernel change (drift) that had to write something"},
    {"plumbd_rollbacks_total", METRIC_COUNTER, "Generations rolled back (failed transactions, "
                                               "crash recovery, plumbd rollback)"},
    {"plumbd_ipam_pool_size", METRIC_GAUGE, "Assignable addresses in a network's host-local range"},
    {"plumbd_ipam_pool_used", METRIC_GAUGE, "Addresses allocated in a network's range"},
    {"plumbd_dhcp_leases", METRIC_GAUGE, "DHCP client leases by interface and state"},
    {"plumbd_inotify_overflows_total", METRIC_COUNTER,
     "inotify queue overflows (each forces a full rescan)"},
    {"plumbd_netlink_overruns_total", METRIC_COUNTER,
     "Netlink event buffer overruns (each forces a full resync)"},
    {"plumbd_last_success_timestamp_seconds", METRIC_GAUGE,
     "Unix time of the last pass that ended with no failed operation"},
    {"plumbd_last_pass_timestamp_seconds", METRIC_GAUGE, "Unix time of the last pass"},
};

struct metrics *metrics_plumbd_new(const char *version)
{
    struct metrics *m = metrics_new();

    for (size_t i = 0; i < ARRAY_SIZE(plumbd_families); i++) {
        if (plumbd_families[i].type == METRIC_HISTOGRAM)
            metrics_declare_histogram(m, plumbd_families[i].name, plumbd_families[i].help,
                                      pass_buckets, ARRAY_SIZE(pass_buckets));
        else
            metrics_declare(m, plumbd_families[i].name, plumbd_families[i].type,
                            plumbd_families[i].help);
        /* Label-less counters start visible at 0 (rate() needs the start). */
        if (plumbd_families[i].type == METRIC_COUNTER &&
            !streq(plumbd_families[i].name, "plumbd_reconcile_passes_total"))
            metrics_counter_add(m, plumbd_families[i].name, 0, NULL);
    }
    metrics_gauge_set(m, "plumbd_build_info", 1, "version", version ? version : "unknown", NULL);
    metrics_gauge_set(m, "plumbd_start_time_seconds", (double)now_wall(), NULL);
    return m;
}

void metrics_plumbd_ops(struct metrics *m, size_t nops, unsigned long writes, size_t nfailed_ops)
{
    if (!m)
        return;
    metrics_counter_add(m, "plumbd_reconcile_operations_total", (double)nops, NULL);
    metrics_counter_add(m, "plumbd_netlink_writes_total", (double)writes, NULL);
    metrics_counter_add(m, "plumbd_reconcile_failed_operations_total", (double)nfailed_ops, NULL);
}

void metrics_plumbd_pass(struct metrics *m, const char *trigger, int rc, uint64_t duration_usec,
                         size_t nops, unsigned long writes, size_t nfailed_ops)
{
    if (!m)
        return;
    const char *t = trigger ? trigger : "unknown";
    int64_t now = now_wall();
    metrics_counter_add(m, "plumbd_reconcile_passes_total", 1, "trigger", t, "result",
                        rc < 0 ? "error" : "ok", NULL);
    metrics_histogram_observe(m, "plumbd_reconcile_duration_seconds",
                              (double)duration_usec / 1e6, NULL);
    metrics_gauge_set(m, "plumbd_last_pass_timestamp_seconds", (double)now, NULL);
    if (rc < 0)
        return;
    metrics_plumbd_ops(m, nops, writes, nfailed_ops);
    if (streq(t, "drift") && nops > 0)
        metrics_counter_add(m, "plumbd_drift_repairs_total", 1, NULL);
    if (nfailed_ops == 0)
        metrics_gauge_set(m, "plumbd_last_success_timestamp_seconds", (double)now, NULL);
}
