/* test_metrics.c - metrics registry: exact Prometheus text, histogram
 * bucket arithmetic, label escaping, argument checks, the atomic textfile
 * and the HTTP responder on a real socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "metrics.h"
#include "util.h"

static char *render(const struct metrics *m)
{
    char *s = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render(m, &s, &len), 0);
    assert_int_equal(strlen(s), len);
    return s;
}

static void test_render_format(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();

    assert_int_equal(metrics_declare(m, "x_total", METRIC_COUNTER, "Things done"), 0);
    assert_int_equal(metrics_declare(m, "x_total", METRIC_COUNTER, "again"), 0);
    assert_int_equal(metrics_declare(m, "x_total", METRIC_GAUGE, "other type"), -EEXIST);
    assert_int_equal(metrics_declare(m, "objects", METRIC_GAUGE, "a\\b\nc"), 0);
    assert_int_equal(metrics_declare(m, "empty", METRIC_GAUGE, NULL), 0);

    assert_int_equal(metrics_counter_add(m, "x_total", 2, NULL), 0);
    assert_int_equal(metrics_counter_add(m, "x_total", 3, NULL), 0);
    assert_int_equal(metrics_gauge_set(m, "objects", 2, "kind", "Pod", "condition", "Available",
                                       NULL),
                     0);
    assert_int_equal(metrics_gauge_set(m, "objects", 1, "kind", "Pod", "condition", "Pending",
                                       NULL),
                     0);
    assert_int_equal(metrics_gauge_set(m, "objects", 7, "kind", "Pod", "condition", "Available",
                                       NULL),
                     0);
    assert_int_equal(metrics_gauge_add(m, "objects", -2, "kind", "Pod", "condition", "Available",
                                       NULL),
                     0);
    assert_int_equal(metrics_gauge_set(m, "objects", 0.25, "kind", "q\"u\\o\nte", NULL), 0);

    char *s = render(m);
    assert_string_equal(s, "# HELP x_total Things done\n"
                           "# TYPE x_total counter\n"
                           "x_total 5\n"
                           "# HELP objects a\\\\b\\nc\n"
                           "# TYPE objects gauge\n"
                           "objects{kind=\"Pod\",condition=\"Available\"} 5\n"
                           "objects{kind=\"Pod\",condition=\"Pending\"} 1\n"
                           "objects{kind=\"q\\\"u\\\\o\\nte\"} 0.25\n"
                           "# TYPE empty gauge\n");
    free(s);

    assert_true(metrics_get(m, "x_total", NULL) == 5);
    assert_true(metrics_get(m, "objects", "kind", "Pod", "condition", "Pending", NULL) == 1);
    assert_true(metrics_get(m, "objects", "kind", "Node", NULL) == -1);
    assert_true(metrics_get(m, "nope", NULL) == -1);

    metrics_family_clear(m, "objects");
    s = render(m);
    assert_null(strstr(s, "objects{"));
    assert_non_null(strstr(s, "# TYPE objects gauge\n"));
    free(s);
    metrics_free(m);
    metrics_free(NULL);
}

static void test_argument_checks(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const double b[] = {1, 2};
    const double bad_order[] = {1, 1};

    assert_int_equal(metrics_declare(m, "9starts_with_digit", METRIC_GAUGE, ""), -EINVAL);
    assert_int_equal(metrics_declare(m, "has-dash", METRIC_GAUGE, ""), -EINVAL);
    assert_int_equal(metrics_declare(m, "", METRIC_GAUGE, ""), -EINVAL);
    assert_int_equal(metrics_declare(m, "ns:sub_total", METRIC_COUNTER, ""), 0);
    assert_int_equal(metrics_declare(m, "h", METRIC_HISTOGRAM, ""), -EINVAL);
    assert_int_equal(metrics_declare_histogram(m, "h", "", bad_order, 2), -EINVAL);
    assert_int_equal(metrics_declare_histogram(m, "h", "", b, 0), -EINVAL);
    assert_int_equal(metrics_declare_histogram(m, "h", "", b, 2), 0);

    assert_int_equal(metrics_counter_add(m, "missing", 1, NULL), -ENOENT);
    assert_int_equal(metrics_counter_add(m, "ns:sub_total", -1, NULL), -EINVAL);
    assert_int_equal(metrics_gauge_set(m, "ns:sub_total", 1, NULL), -EINVAL);
    assert_int_equal(metrics_histogram_observe(m, "ns:sub_total", 1, NULL), -EINVAL);
    assert_int_equal(metrics_counter_add(m, "ns:sub_total", 1, "bad-key", "v", NULL), -EINVAL);
    assert_int_equal(metrics_counter_add(m, "ns:sub_total", 1, "__reserved", "v", NULL),
                     -EINVAL);
    /* A key without a value. */
    assert_int_equal(metrics_counter_add(m, "ns:sub_total", 1, "k", NULL), -EINVAL);
    metrics_free(m);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const double b[] = {0.005, 0.1, 1, 2.5};

    assert_int_equal(metrics_declare_histogram(m, "pass_seconds", "Pass time", b, 4), 0);
    /* On a bound counts into that bound (le = less or equal). */
    const double obs[] = {0.001, 0.005, 0.05, 0.1, 0.7, 2.5, 3, 100};
    for (size_t i = 0; i < ARRAY_SIZE(obs); i++)
        assert_int_equal(metrics_histogram_observe(m, "pass_seconds", obs[i], NULL), 0);
    assert_int_equal(metrics_histogram_observe(m, "pass_seconds", 0.2, "trigger", "drift", NULL),
                     0);

    char *s = render(m);
    assert_string_equal(s, "# HELP pass_seconds Pass time\n"
                           "# TYPE pass_seconds histogram\n"
                           "pass_seconds_bucket{le=\"0.005\"} 2\n"
                           "pass_seconds_bucket{le=\"0.1\"} 4\n"
                           "pass_seconds_bucket{le=\"1\"} 5\n"
                           "pass_seconds_bucket{le=\"2.5\"} 6\n"
                           "pass_seconds_bucket{le=\"+Inf\"} 8\n"
                           "pass_seconds_sum 106.356\n"
                           "pass_seconds_count 8\n"
                           "pass_seconds_bucket{trigger=\"drift\",le=\"0.005\"} 0\n"
                           "pass_seconds_bucket{trigger=\"drift\",le=\"0.1\"} 0\n"
                           "pass_seconds_bucket{trigger=\"drift\",le=\"1\"} 1\n"
                           "pass_seconds_bucket{trigger=\"drift\",le=\"2.5\"} 1\n"
                           "pass_seconds_bucket{trigger=\"drift\",le=\"+Inf\"} 1\n"
                           "pass_seconds_sum{trigger=\"drift\"} 0.2\n"
                           "pass_seconds_count{trigger=\"drift\"} 1\n");
    free(s);
    assert_true(metrics_get(m, "pass_seconds", NULL) == 8);
    metrics_free(m);
}

static void test_plumbd_families(void **state)
{
    (void)state;
    struct metrics *m = metrics_plumbd_new("9.9.9");

    metrics_plumbd_pass(m, "start", 0, 12000, 5, 9, 0);
    metrics_plumbd_pass(m, "drift", 0, 3000, 2, 2, 0);
    metrics_plumbd_pass(m, "drift", 0, 1000, 0, 0, 0); /* converged: not a repair */
    metrics_plumbd_pass(m, "file", -EIO, 1000, 0, 0, 0);
    metrics_plumbd_pass(m, "file", 0, 2000, 1, 1, 1);

    assert_true(metrics_get(m, "plumbd_build_info", "version", "9.9.9", NULL) == 1);
    assert_true(metrics_get(m, "plumbd_reconcile_passes_total", "trigger", "drift", "result", "ok",
                            NULL) == 2);
    assert_true(metrics_get(m, "plumbd_reconcile_passes_total", "trigger", "file", "result",
                            "error", NULL) == 1);
    assert_true(metrics_get(m, "plumbd_reconcile_duration_seconds", NULL) == 5);
    assert_true(metrics_get(m, "plumbd_netlink_writes_total", NULL) == 12);
    assert_true(metrics_get(m, "plumbd_reconcile_operations_total", NULL) == 8);
    assert_true(metrics_get(m, "plumbd_reconcile_failed_operations_total", NULL) == 1);
    assert_true(metrics_get(m, "plumbd_drift_repairs_total", NULL) == 1);
    assert_true(metrics_get(m, "plumbd_rollbacks_total", NULL) == 0);
    assert_true(metrics_get(m, "plumbd_inotify_overflows_total", NULL) == 0);
    assert_true(metrics_get(m, "plumbd_last_success_timestamp_seconds", NULL) > 1.5e9);

    char *s = render(m);
    assert_non_null(strstr(s, "# TYPE plumbd_reconcile_duration_seconds histogram\n"));
    assert_non_null(strstr(s, "plumbd_reconcile_duration_seconds_bucket{le=\"0.0025\"} 3\n"));
    assert_non_null(strstr(s, "plumbd_reconcile_duration_seconds_bucket{le=\"0.025\"} 5\n"));
    assert_non_null(strstr(s, "plumbd_reconcile_duration_seconds_bucket{le=\"0.001\"} 2\n"));
    assert_non_null(strstr(s, "plumbd_reconcile_duration_seconds_sum 0.0190"));
    assert_non_null(strstr(s, "plumbd_rollbacks_total 0\n"));
    /* Every sample line belongs to a family declared just above it. */
    char *line = s, *fam = NULL;
    while (*line) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            free(fam);
            fam = xstrndup(line + 7, strcspn(line + 7, " "));
        } else if (line[0] != '#') {
            assert_non_null(fam);
            assert_true(strncmp(line, fam, strlen(fam)) == 0);
        }
        line = nl + 1;
    }
    free(fam);
    free(s);
    metrics_free(m);
}

static void test_write_file_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/plumbd-metrics.XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = xasprintf("%s/plumbd.prom", dir);
    struct metrics *m = metrics_new();
    assert_int_equal(metrics_declare(m, "g", METRIC_GAUGE, "G"), 0);

    for (int i = 1; i <= 3; i++) {
        assert_int_equal(metrics_gauge_set(m, "g", i, NULL), 0);
        assert_int_equal(metrics_write_file(m, path), 0);
        char buf[256] = {0};
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        _cleanup_free_ char *want = xasprintf("# HELP g G\n# TYPE g gauge\ng %d\n", i);
        assert_int_equal(n, strlen(want));
        assert_string_equal(buf, want);
    }
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* node_exporter runs unprivileged */

    /* No temp file is left behind: the directory holds exactly the file. */
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
            n++, assert_string_equal(de->d_name, "plumbd.prom");
    closedir(d);
    assert_int_equal(n, 1);

    /* An unwritable target fails and leaves the old file intact. */
    _cleanup_free_ char *bad = xasprintf("%s/nodir/x.prom", dir);
    assert_int_equal(metrics_write_file(m, bad), -ENOENT);

    unlink(path);
    rmdir(dir);
    metrics_free(m);
}

/* Connect to the listener, send req, let the responder run, read all. */
static char *http_exchange(const struct metrics *m, int lfd, const struct sockaddr *sa,
                           socklen_t salen, const char *req)
{
    int c = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, sa, salen), 0);
    if (req)
        assert_int_equal(send(c, req, strlen(req), 0), (ssize_t)strlen(req));
    uint64_t t0 = now_usec();
    assert_int_equal(metrics_on_readable(m, lfd), 0);
    assert_true(now_usec() - t0 < 1500000); /* never blocks the loop for long */
    char *out = NULL;
    size_t len = 0;
    char buf[4096];
    ssize_t k;
    while ((k = recv(c, buf, sizeof(buf), 0)) > 0) {
        out = xrealloc(out, len + (size_t)k + 1);
        memcpy(out + len, buf, (size_t)k);
        len += (size_t)k;
    }
    close(c);
    if (!out)
        out = xstrdup("");
    out[len] = 0;
    return out;
}

static void test_http_unix(void **state)
{
    (void)state;
    char dir[] = "/tmp/plumbd-metrics.XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = xasprintf("%s/metrics.sock", dir);
    struct metrics *m = metrics_new();
    assert_int_equal(metrics_declare(m, "up", METRIC_GAUGE, "U"), 0);
    assert_int_equal(metrics_gauge_set(m, "up", 1, NULL), 0);

    int lfd = metrics_listen(path);
    assert_true(lfd >= 0);
    /* Nothing pending: returns at once. */
    assert_int_equal(metrics_on_readable(m, lfd), 0);

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    const char *body = "# HELP up U\n# TYPE up gauge\nup 1\n";
    char *r = http_exchange(m, lfd, (struct sockaddr *)&sa, sizeof(sa),
                            "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
    _cleanup_free_ char *cl = xasprintf("Content-Length: %zu\r\n", strlen(body));
    assert_non_null(strstr(r, cl));
    assert_non_null(strstr(r, "\r\n\r\n"));
    assert_string_equal(strstr(r, "\r\n\r\n") + 4, body);
    free(r);

    r = http_exchange(m, lfd, (struct sockaddr *)&sa, sizeof(sa), "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0);
    assert_string_equal(strstr(r, "\r\n\r\n") + 4, "");
    free(r);

    r = http_exchange(m, lfd, (struct sockaddr *)&sa, sizeof(sa), "GET / HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 404 ", 13) == 0);
    free(r);
    r = http_exchange(m, lfd, (struct sockaddr *)&sa, sizeof(sa),
                      "POST /metrics HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 405 ", 13) == 0);
    free(r);
    r = http_exchange(m, lfd, (struct sockaddr *)&sa, sizeof(sa), "garbage\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 400 ", 13) == 0);
    free(r);
    /* A client that connects and says nothing is dropped after the short
     * read timeout (checked inside http_exchange), without an answer. */
    r = http_exchange(m, lfd, (struct sockaddr *)&sa, sizeof(sa), NULL);
    assert_string_equal(r, "");
    free(r);

    /* A stale socket file from an earlier run is replaced; a regular file
     * at the path is not. */
    close(lfd);
    lfd = metrics_listen(path);
    assert_true(lfd >= 0);
    close(lfd);
    unlink(path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(metrics_listen(path), -EEXIST);
    unlink(path);
    rmdir(dir);
    metrics_free(m);
}

static void test_http_tcp(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    assert_int_equal(metrics_declare(m, "up", METRIC_GAUGE, ""), 0);

    assert_int_equal(metrics_listen("127.0.0.1:notaport"), -EINVAL);
    assert_int_equal(metrics_listen("localhost:9100"), -EINVAL); /* numeric only: no DNS */
    assert_int_equal(metrics_listen(""), -EINVAL);

    /* Port 0: the kernel picks one; the default host is loopback. */
    int lfd = metrics_listen(":0");
    assert_true(lfd >= 0);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &sl), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);

    char *r = http_exchange(m, lfd, (struct sockaddr *)&ss, sl,
                            "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.0 200 OK\r\n", 17) == 0);
    assert_string_equal(strstr(r, "\r\n\r\n") + 4, "# TYPE up gauge\n");
    free(r);
    close(lfd);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_format),     cmocka_unit_test(test_argument_checks),
        cmocka_unit_test(test_histogram_buckets), cmocka_unit_test(test_plumbd_families),
        cmocka_unit_test(test_write_file_atomic), cmocka_unit_test(test_http_unix),
        cmocka_unit_test(test_http_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
