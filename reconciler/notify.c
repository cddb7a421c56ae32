/* notify.c - sd_notify over $NOTIFY_SOCKET, written by hand.
 *
 * The protocol: one AF_UNIX datagram per notification holding
 * newline-separated VAR=value assignments. $NOTIFY_SOCKET is a filesystem
 * path ("/run/systemd/notify") or, starting with '@', a name in the
 * abstract namespace. A fresh socket per message keeps this module free of
 * state; it costs a socket(2) per watchdog ping (every WatchdogSec/2), which
 * is nothing next to a reconcile pass. */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int notify_send(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen;

    if (!path || !*path)
        return 0;
    if (path[0] != '/' && path[0] != '@')
        return -EAFNOSUPPORT; /* e.g. "vsock:": not for a node daemon */
    plen = strlen(path);
    if (plen >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, plen);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: no trailing NUL in the length */

    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    size_t len = strlen(msg);
    for (;;) {
        ssize_t k = sendto(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
                           salen);
        if (k >= 0)
            return (size_t)k == len ? 0 : -EMSGSIZE;
        if (errno != EINTR)
            return -errno;
    }
}

int notify_ready(void)
{
    return notify_send("READY=1");
}

int notify_status(const char *fmt, ...)
{
    _cleanup_free_ char *text = NULL;
    va_list ap;

    if (!getenv("NOTIFY_SOCKET"))
        return 0;
    va_start(ap, fmt);
    int k = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (k < 0)
        return -ENOMEM;
    for (char *c = text; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    _cleanup_free_ char *msg = xasprintf("STATUS=%s", text);
    return notify_send(msg);
}

int notify_reloading(void)
{
    /* MONOTONIC_USEC lets Type=notify-reload managers match the reload. */
    char msg[64];
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)now_usec());
    return notify_send(msg);
}

int notify_stopping(void)
{
    return notify_send("STOPPING=1");
}

int notify_watchdog(void)
{
    return notify_send("WATCHDOG=1");
}

bool notify_watchdog_enabled(uint64_t *ret_usec)
{
    const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    char *end;
    unsigned long long v;

    if (!us || !*us)
        return false;
    errno = 0;
    v = strtoull(us, &end, 10);
    if (errno || *end || v == 0 || us[0] == '-')
        return false;
    if (pid && *pid) {
        errno = 0;
        unsigned long long p = strtoull(pid, &end, 10);
        if (errno || *end || p != (unsigned long long)getpid())
            return false;
    }
    if (ret_usec)
        *ret_usec = v;
    return true;
}
