/* loop.h - the daemon's event loop (`plumbd run`). */
#pragma once

#include "reconcile.h"

struct loop_opts {
    unsigned settle_ms;  /* file events: wait this long for the burst to end */
    unsigned drift_ms;   /* netlink events: debounce before repairing */
    unsigned resync_s;   /* periodic full resync (safety net) */
    void (*on_ready)(void); /* after the first pass */
    const char *metrics_file;   /* Prometheus text file, rewritten after each pass */
    const char *metrics_listen; /* "127.0.0.1:PORT", "[::1]:PORT" or a unix socket path */
    const char *version;
};

/* Run until SIGTERM/SIGINT. Returns 0 on a clean stop, -errno on failure. */
int loop_run(struct reconciler *r, const struct loop_opts *opts);
