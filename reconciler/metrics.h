/* metrics.h - a small metrics registry rendered in the Prometheus text
 * exposition format (version 0.0.4), written atomically to a file for
 * node_exporter's textfile collector (--metrics-file) and served by a tiny
 * HTTP/1.0 responder on a TCP or unix socket (--metrics-listen) that the
 * event loop polls.
 *
 * A registry holds families (name, type, help) declared up front; a family
 * holds series told apart by their labels. Labels are passed as a
 * NULL-terminated list of key, value strings:
 *
 *   metrics_gauge_set(m, "plumbd_objects", 2, "kind", "Pod", "condition", "Available", NULL);
 *   metrics_counter_add(m, "plumbd_netlink_writes_total", 5, NULL);
 *
 * Series appear in the output in the order they were first touched, so the
 * output is deterministic. Single-threaded, like the daemon. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM, _METRIC_TYPE_MAX };
const char *metric_type_to_string(enum metric_type t); /* "counter", "gauge", "histogram" */

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m); /* NULL is fine */

/* Declare a counter or gauge family. Declaring the same name again with the
 * same type is a no-op (0); with another type -EEXIST; an invalid name
 * (not [a-zA-Z_:][a-zA-Z0-9_:]*) -EINVAL. */
int metrics_declare(struct metrics *m, const char *name, enum metric_type type, const char *help);
/* Declare a histogram with n strictly increasing finite upper bounds (the
 * +Inf bucket is implicit). -EINVAL on bad bounds. */
int metrics_declare_histogram(struct metrics *m, const char *name, const char *help,
                              const double *bounds, size_t n);

/* Update one series (created at 0 on first use). Return 0; -ENOENT for an
 * undeclared family, -EINVAL for a type mismatch, a negative counter
 * increment or a bad label name. The variadic tail is key, value, ...,
 * NULL. */
int metrics_counter_add(struct metrics *m, const char *name, double v, ...)
    __attribute__((sentinel));
int metrics_gauge_set(struct metrics *m, const char *name, double v, ...)
    __attribute__((sentinel));
int metrics_gauge_add(struct metrics *m, const char *name, double v, ...)
    __attribute__((sentinel));
int metrics_histogram_observe(struct metrics *m, const char *name, double v, ...)
    __attribute__((sentinel));

/* Current value of a counter/gauge series (a histogram's count); -1 when
 * the series does not exist. For tests and status lines. */
double metrics_get(const struct metrics *m, const char *name, ...) __attribute__((sentinel));

/* Forget every series of a family (it stays declared): for gauges that are
 * recomputed from scratch each pass, so vanished label sets disappear. */
void metrics_family_clear(struct metrics *m, const char *name);

/* Render the whole registry. *ret is NUL-terminated, owned by the caller. */
int metrics_render(const struct metrics *m, char **ret, size_t *ret_len);

/* Render and replace path atomically (temp file + fsync + rename, mode
 * 0644). Returns 0 or -errno. For the textfile collector the name must end
 * in .prom. */
int metrics_write_file(const struct metrics *m, const char *path);

/* Open a listening, non-blocking, close-on-exec stream socket for the HTTP
 * endpoint. spec is
 *   /path/to/sock or @abstract   a unix socket (a stale socket file at the
 *                                 path is replaced; anything else is -EEXIST)
 *   HOST:PORT, [V6]:PORT          numeric address (no DNS lookups)
 *   :PORT or PORT                 127.0.0.1:PORT (loopback by default)
 * Returns the fd (register it with epoll for EPOLLIN) or -errno. */
int metrics_listen(const char *spec);

/* The listening fd is readable: accept one connection, read its request
 * (at most ~250 ms), answer GET or HEAD /metrics with the registry (404 for
 * other paths, 405 for other methods, 400 for garbage), close. Returns 0
 * (also when nothing was pending or the client misbehaved) or -errno on an
 * accept error worth logging. Never blocks for more than about a second. */
int metrics_on_readable(const struct metrics *m, int listen_fd);

/* ---- plumbd's own metrics ---------------------------------------------- */

/* A registry with every family plumbd exports declared (see metrics.c for
 * the list and meaning), plus plumbd_build_info{version} 1 and
 * plumbd_start_time_seconds. */
struct metrics *metrics_plumbd_new(const char *version);

/* Operations, netlink writes and failed operations done (by a pass, or by
 * the quick lane of a pass whose read was then voided). */
void metrics_plumbd_ops(struct metrics *m, size_t nops, unsigned long writes, size_t nfailed_ops);
/* Account one reconcile pass: passes_total{trigger,result}, the duration
 * histogram, operations, netlink writes, failed operations, and (when it
 * succeeded with no failed op) the last-success timestamp; a drift-triggered
 * pass that planned operations counts as a drift repair. rc < 0 means the
 * pass itself failed. */
void metrics_plumbd_pass(struct metrics *m, const char *trigger, int rc, uint64_t duration_usec,
                         size_t nops, unsigned long writes, size_t nfailed_ops);
