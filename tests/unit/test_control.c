/* test_control.c - unit tests for control.c: the fingerprint and its
 * difference, and the exchange between `apply` and the daemon over a real
 * socket in a temporary state dir (the client in a child process): the
 * summary line and exit code, configuration errors, other options, a stale
 * socket replaced, a live one left alone, no daemon at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "control.h"
#include "util.h"

static void test_fingerprint(void **state)
{
    (void)state;
    const char *dirs[] = {"conf", "/abs/conf2"};
    struct reconciler r = {.config_dirs = dirs, .nconfig_dirs = 2, .node_name = "w1",
                           .resolv_conf = "/etc/resolv.conf", .history_keep = 100};
    _cleanup_free_ char *fp = control_fingerprint(&r);
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    _cleanup_free_ char *want = xasprintf("config-dir=%s/conf\n", cwd);
    assert_non_null(strstr(fp, want));
    assert_non_null(strstr(fp, "config-dir=/abs/conf2\n"));
    assert_non_null(strstr(fp, "node-name=w1\n"));
    assert_non_null(strstr(fp, "history=100\n"));
    assert_non_null(strstr(fp, "netns="));
    r.history_keep = 50;
    _cleanup_free_ char *fp2 = control_fingerprint(&r);
    assert_string_equal(control_fingerprint_diff(fp2, fp), "history=50");
    assert_string_equal(control_fingerprint_diff(fp, fp), "");
    /* the same dir however it is written */
    const char *same[] = {"conf/", "./conf", "conf//", "/abs/conf2/"};
    r.config_dirs = same;
    r.nconfig_dirs = 4;
    _cleanup_free_ char *fp3 = control_fingerprint(&r);
    assert_non_null(strstr(fp3, want));
    assert_non_null(strstr(fp3, "config-dir=/abs/conf2\n"));
    assert_null(strstr(fp3, "conf/\n"));
    /* a line the other lacks entirely (one more config dir) */
    assert_string_equal(control_fingerprint_diff("a=1\nb=2\n", "a=1\n"), "b=2");
}

static char *tmpdir(void)
{
    char *d = xstrdup("/tmp/plumbd-test-control.XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rmtree(char *d)
{
    _cleanup_free_ char *s = path_join(d, CONTROL_SOCKET);
    unlink(s);
    rmdir(d);
    free(d);
}

/* Fork `apply`'s side: its exit code (or, when it would converge itself,
 * 50 for -ESTALE, 51 for -ECONNRESET, 52 otherwise), its stdout and stderr
 * in the pipes. */
static pid_t client(const char *dir, const char *fp, int *out, int *err)
{
    int po[2], pe[2];
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        int k = control_apply(dir, fp);
        fflush(stdout);
        _exit(k >= 0 ? k : k == -ESTALE ? 50 : k == -ECONNRESET ? 51 : 52);
    }
    close(po[1]);
    close(pe[1]);
    *out = po[0];
    *err = pe[0];
    return pid;
}

static char *slurp(int fd)
{
    char *buf = xmalloc(65536);
    size_t n = 0;
    ssize_t k;
    while ((k = read(fd, buf + n, 65535 - n)) > 0)
        n += (size_t)k;
    buf[n] = 0;
    close(fd);
    return buf;
}

/* The connection waiting on s (up to 5 s), accepted: its slot. */
static int accept_one(struct control_server *s)
{
    int slot = -1;
    for (int i = 0; i < 500 && slot < 0; i++)
        if ((slot = control_accept(s)) < 0)
            usleep(10000);
    assert_true(slot >= 0);
    return slot;
}

/* Its request read whole (up to 5 s). */
static void read_whole(struct control_server *s, int slot, struct control_request *q)
{
    int k = 0;
    for (int i = 0; i < 500 && (k = control_read(s, slot, q)) == 0; i++)
        usleep(10000);
    assert_int_equal(k, 1);
}

/* Serve one request on s: accepted and read whole, its slot. */
static int serve_one(struct control_server *s, struct control_request *q)
{
    int slot = accept_one(s);
    read_whole(s, slot, q);
    return slot;
}

static int wait_exit(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_exchange(void **state)
{
    (void)state;
    char *dir = tmpdir();
    struct control_server s;
    control_init(&s);
    assert_int_equal(control_listen(&s, dir, "netns=1:2\nhistory=100\n"), 0);
    _cleanup_free_ char *sock = path_join(dir, CONTROL_SOCKET);
    struct stat st;
    assert_int_equal(stat(sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* converged: the summary line, exit 0 */
    int out, err;
    pid_t pid = client(dir, "netns=1:2\nhistory=100\n", &out, &err);
    struct control_request q;
    int slot = serve_one(&s, &q);
    assert_string_equal(q.fingerprint, "netns=1:2\nhistory=100\n");
    struct control_result res = {.nobjects = 3, .navailable = 3};
    control_reply(&s, slot, &res, NULL);
    _cleanup_free_ char *o1 = slurp(out);
    free(slurp(err));
    assert_int_equal(wait_exit(pid), 0);
    assert_string_equal(o1, "applied 0 operations, 0 netlink writes; 3 objects: 3 available, 0 "
                            "pending, 0 failing\n");

    /* operations, a pending object and configuration errors: exit 1 */
    pid = client(dir, "netns=1:2\nhistory=100\n", &out, &err);
    slot = serve_one(&s, &q);
    res = (struct control_result){.nops = 4, .writes = 6, .nobjects = 3, .navailable = 2,
                                  .npending = 1, .nconfig_errors = 1, .passes = 1};
    control_reply(&s, slot, &res, "bad.yml:6:7: did not find expected node content\n");
    _cleanup_free_ char *o2 = slurp(out), *e2 = slurp(err);
    assert_int_equal(wait_exit(pid), 1);
    assert_string_equal(o2, "applied 4 operations, 6 netlink writes; 3 objects: 2 available, 1 "
                            "pending, 0 failing\n");
    assert_non_null(strstr(e2, "bad.yml:6:7: did not find expected node content\n"));
    assert_non_null(strstr(e2, "plumbd: 1 configuration errors"));

    /* the daemon's pass failed: exit 1, nothing on stdout */
    pid = client(dir, "netns=1:2\nhistory=100\n", &out, &err);
    slot = serve_one(&s, &q);
    res = (struct control_result){.failed = true};
    control_reply(&s, slot, &res, NULL);
    _cleanup_free_ char *o3 = slurp(out);
    free(slurp(err));
    assert_int_equal(wait_exit(pid), 1);
    assert_string_equal(o3, "");

    /* other options: the client converges itself (-ESTALE), told why */
    pid = client(dir, "netns=1:2\nhistory=50\n", &out, &err);
    slot = serve_one(&s, &q);
    control_reply_other(&s, slot, control_fingerprint_diff(q.fingerprint, "netns=1:2\nhistory=100\n"));
    free(slurp(out));
    _cleanup_free_ char *e4 = slurp(err);
    assert_int_equal(wait_exit(pid), 50);
    assert_non_null(strstr(e4, "not history=50"));

    /* the daemon closes without an answer (it stops): converge here */
    pid = client(dir, "netns=1:2\nhistory=100\n", &out, &err);
    slot = serve_one(&s, &q);
    control_close(&s);
    free(slurp(out));
    free(slurp(err));
    assert_int_equal(wait_exit(pid), 51);
    /* ... and its socket is gone with it: no daemon */
    assert_int_equal(stat(sock, &st), -1);
    assert_int_equal(control_apply(dir, "x=1\n"), -ENOENT);
    rmtree(dir);
}

static void test_stale_and_live(void **state)
{
    (void)state;
    char *dir = tmpdir();
    _cleanup_free_ char *sock = path_join(dir, CONTROL_SOCKET);
    /* a socket a dead daemon left: bound, nobody listening */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    assert_int_equal(control_apply(dir, "x=1\n"), -ECONNREFUSED);
    struct control_server s, s2;
    control_init(&s);
    control_init(&s2);
    assert_int_equal(control_listen(&s, dir, "x=1\n"), 0);
    /* a second daemon leaves a live one alone */
    assert_int_equal(control_listen(&s2, dir, "x=1\n"), -EADDRINUSE);
    control_close(&s2);
    struct stat st;
    assert_int_equal(stat(sock, &st), 0);
    control_close(&s);
    rmtree(dir);
}

static int raw_connect(const char *dir)
{
    _cleanup_free_ char *sock = path_join(dir, CONTROL_SOCKET);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* A request in pieces, a long one, one followed by a half-close; a slot
 * held by a connection that never asks makes room when all are taken. */
static void test_requests(void **state)
{
    (void)state;
    char *dir = tmpdir();
    struct control_server s;
    control_init(&s);
    assert_int_equal(control_listen(&s, dir, "x=1\n"), 0);
    struct control_request q;

    int fd = raw_connect(dir);
    assert_int_equal(write(fd, "plumbd-apply 1\nx=", 17), 17);
    int slot = accept_one(&s);
    assert_int_equal(control_read(&s, slot, &q), 0); /* more to come */
    assert_int_equal(write(fd, "1\n\n", 3), 3);
    shutdown(fd, SHUT_WR);
    usleep(20000);
    assert_int_equal(control_read(&s, slot, &q), 1);
    assert_string_equal(q.fingerprint, "x=1\n");
    control_reply(&s, slot, &(struct control_result){.nobjects = 1, .navailable = 1}, NULL);
    char buf[512] = "";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    assert_memory_equal(buf, "result ops=0 ", 13);
    close(fd);

    /* 20 kB of options */
    size_t big = 20000;
    char *req = xmalloc(big + 64);
    int k = snprintf(req, 64, "plumbd-apply 1\n");
    for (size_t i = 0; i < big; i += 9)
        k += snprintf(req + k, 10, "k%07zu\n", i); /* 9 bytes a line */
    req[k++] = '\n'; /* the empty line that ends it */
    int pid, st;
    fd = raw_connect(dir);
    if ((pid = fork()) == 0) {
        size_t off = 0;
        while (off < (size_t)k) {
            ssize_t w = write(fd, req + off, (size_t)k - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    slot = accept_one(&s);
    read_whole(&s, slot, &q);
    assert_int_equal(strlen(q.fingerprint), (size_t)k - strlen("plumbd-apply 1\n") - 1);
    waitpid(pid, &st, 0);
    control_drop(&s, slot);
    close(fd);
    free(req);

    /* every slot held by a silent connection: the oldest makes room */
    int fds[CONTROL_MAX_CLIENTS + 1];
    for (int i = 0; i <= CONTROL_MAX_CLIENTS; i++) {
        fds[i] = raw_connect(dir);
        accept_one(&s);
        usleep(1000);
    }
    assert_int_equal(read(fds[0], buf, sizeof(buf)), 0); /* the oldest: closed */
    for (int i = 0; i <= CONTROL_MAX_CLIENTS; i++)
        close(fds[i]);
    control_close(&s);
    rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_stale_and_live),
        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
