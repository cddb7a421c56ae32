/* loop.h - the daemon's event loop (`plumbd run`). */
#pragma once

#include "reconcile.h"

struct loop_opts {
    unsigned settle_ms;  /* file events: wait this long for the burst to end */
    unsigned drift_ms;   /* netlink events: debounce before repairing */
    unsigned resync_s;   /* periodic full resync (safety net) */
    void (*on_ready)(void); /* after the first pass */
};

/* Run until SIGTERM/SIGINT. Returns 0 on a clean stop, -errno on failure. */
int loop_run(struct reconciler *r, const struct loop_opts *opts);
