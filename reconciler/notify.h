/* notify.h - the sd_notify(3) protocol, spoken directly over the datagram
 * socket systemd names in $NOTIFY_SOCKET (no libsystemd).
 *
 * Every call is a no-op returning 0 when $NOTIFY_SOCKET is unset, so the
 * daemon calls them unconditionally. Sends never block: a full receive
 * queue returns -EAGAIN and the message is dropped (the next watchdog ping
 * or status replaces it). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Send one raw notification, e.g. "READY=1\nSTATUS=converged". Returns 0
 * (also when $NOTIFY_SOCKET is unset) or -errno. */
int notify_send(const char *msg);

/* READY=1: the first full convergence is done (Type=notify start-up ends). */
int notify_ready(void);

/* STATUS=<one line>: shown by `systemctl status`. Newlines in the
 * formatted text are replaced by spaces (the protocol is line based). */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* RELOADING=1 (SIGHUP taken) and READY=1 again once reloaded. */
int notify_reloading(void);

/* STOPPING=1: SIGTERM taken, shutting down. */
int notify_stopping(void);

/* WATCHDOG=1: the event loop is alive. Send every ret_usec/2 at least. */
int notify_watchdog(void);

/* Is the service manager's watchdog on for this process? True when
 * $WATCHDOG_USEC is a positive number and $WATCHDOG_PID is unset or equals
 * getpid(); then *ret_usec (if not NULL) is the timeout in microseconds.
 * False otherwise, *ret_usec untouched. */
bool notify_watchdog_enabled(uint64_t *ret_usec);
