/* test_notify.c - the hand-written sd_notify client: a datagram socket bound
 * in a temp dir (and one in the abstract namespace) plays systemd and must
 * receive exactly what the daemon announces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "notify.h"
#include "util.h"

struct peer {
    char dir[64];
    char path[96];
    int fd;
};

static int peer_setup(void **state)
{
    struct peer *p = xcalloc(1, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/tmp/plumbd-notify.XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->path, sizeof(p->path), "%s/notify", p->dir);
    p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(p->fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->path);
    assert_int_equal(bind(p->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setenv("NOTIFY_SOCKET", p->path, 1);
    *state = p;
    return 0;
}

static int peer_teardown(void **state)
{
    struct peer *p = *state;
    unsetenv("NOTIFY_SOCKET");
    close(p->fd);
    unlink(p->path);
    rmdir(p->dir);
    free(p);
    return 0;
}

/* One datagram, or "" when none is queued. */
static char *peer_recv(int fd)
{
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    if (n < 0)
        return xstrdup("");
    buf[n] = 0;
    return xstrdup(buf);
}

static void test_ready_status_watchdog(void **state)
{
    struct peer *p = *state;
    char *s;

    assert_int_equal(notify_ready(), 0);
    s = peer_recv(p->fd);
    assert_string_equal(s, "READY=1");
    free(s);

    assert_int_equal(notify_status("%d objects: %d available", 3, 3), 0);
    s = peer_recv(p->fd);
    assert_string_equal(s, "STATUS=3 objects: 3 available");
    free(s);

    /* The protocol is line based: a newline must not start a new variable. */
    assert_int_equal(notify_status("two\nlines\rREADY=1"), 0);
    s = peer_recv(p->fd);
    assert_string_equal(s, "STATUS=two lines READY=1");
    free(s);

    assert_int_equal(notify_watchdog(), 0);
    s = peer_recv(p->fd);
    assert_string_equal(s, "WATCHDOG=1");
    free(s);

    assert_int_equal(notify_stopping(), 0);
    s = peer_recv(p->fd);
    assert_string_equal(s, "STOPPING=1");
    free(s);

    assert_int_equal(notify_reloading(), 0);
    s = peer_recv(p->fd);
    assert_true(strncmp(s, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    assert_true(strtoull(s + 27, NULL, 10) > 0);
    free(s);

    /* Nothing else was sent. */
    s = peer_recv(p->fd);
    assert_string_equal(s, "");
    free(s);
}

static void test_abstract_socket(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof(name), "plumbd-test-notify-%d", (int)getpid());
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path + 1, name, strlen(name));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))),
                     0);
    char env[80];
    snprintf(env, sizeof(env), "@%s", name);
    setenv("NOTIFY_SOCKET", env, 1);
    assert_int_equal(notify_ready(), 0);
    char *s = peer_recv(fd);
    assert_string_equal(s, "READY=1");
    free(s);
    unsetenv("NOTIFY_SOCKET");
    close(fd);
}

static void test_no_socket_is_noop(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(notify_ready(), 0);
    assert_int_equal(notify_status("x"), 0);
    assert_int_equal(notify_watchdog(), 0);
    /* A socket path nobody listens on is an error the caller can log. */
    setenv("NOTIFY_SOCKET", "/nonexistent/plumbd-notify", 1);
    assert_int_equal(notify_ready(), -ENOENT);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    assert_int_equal(notify_ready(), -EAFNOSUPPORT);
    unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_enabled(void **state)
{
    (void)state;
    uint64_t usec = 7;
    char pid[32];

    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    assert_false(notify_watchdog_enabled(&usec));
    assert_int_equal(usec, 7);

    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_true(notify_watchdog_enabled(&usec));
    assert_int_equal(usec, 30000000);
    assert_true(notify_watchdog_enabled(NULL));

    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    usec = 7;
    assert_true(notify_watchdog_enabled(&usec));
    assert_int_equal(usec, 30000000);

    /* Meant for another process (e.g. our parent). */
    snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    usec = 7;
    assert_false(notify_watchdog_enabled(&usec));
    assert_int_equal(usec, 7);
    unsetenv("WATCHDOG_PID");

    const char *bad[] = {"0", "", "-5", "12x", "abc", "99999999999999999999999"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        setenv("WATCHDOG_USEC", bad[i], 1);
        assert_false(notify_watchdog_enabled(&usec));
    }
    assert_int_equal(usec, 7);
    unsetenv("WATCHDOG_USEC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_status_watchdog, peer_setup, peer_teardown),
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_no_socket_is_noop),
        cmocka_unit_test(test_watchdog_enabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
