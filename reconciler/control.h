/* control.h - `plumbd apply` hands its pass to the daemon of its state dir.
 *
 * The daemon listens on <state-dir>/plumbd.sock (mode 0600). `apply`
 * connects and sends the options a pass depends on; when they are the
 * daemon's own, the daemon runs what is due at once and answers with the
 * result. See control.c for the protocol. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "reconcile.h"

#define CONTROL_SOCKET "plumbd.sock"
#define CONTROL_MAX_CLIENTS 16

/* What a pass depends on besides the files, one "key=value" line each:
 * the node namespace (device and inode), the config dirs and resolv.conf
 * as absolute paths, the node name and the pass options. Both sides build
 * it after entering the node namespace. */
char *control_fingerprint(const struct reconciler *r);

/* One request, read whole: apply's fingerprint and its flags. */
struct control_request {
    char *fingerprint;
};

/* The daemon's side. */
struct control_server {
    int fd;                 /* listening socket, -1 = none */
    char *path;
    char *fingerprint;      /* the daemon's own */
    struct control_client {
        int fd;
        int pid;            /* the client's (SO_PEERCRED), for the log */
        uint64_t since;     /* when it connected (monotonic usec) */
        bool asked;         /* its request is read, not yet decided */
        bool waiting;       /* answered once the passes due have run */
        unsigned passes;    /* passes run since it asked */
        size_t nops, nfailed_ops;
        unsigned long writes;
        char *buf;          /* the request as read so far */
        size_t len, cap;
    } *clients[CONTROL_MAX_CLIENTS]; /* NULL = free slot */
};

/* The summary a client is answered with. */
struct control_result {
    size_t nops, nfailed_ops;
    unsigned long writes;
    size_t nobjects, navailable, npending, nfailing, nconfig_errors;
    bool refused, failed;   /* the pass refused to run (empty source); it failed */
    unsigned passes;        /* how many passes the daemon ran for it (0: none was due) */
};

void control_init(struct control_server *s);
/* Listen on <state_dir>/plumbd.sock unless another daemon answers there
 * (a stale socket of a dead one is replaced). 0, or -errno (the daemon
 * runs without it). */
int control_listen(struct control_server *s, const char *state_dir, const char *fingerprint);
void control_close(struct control_server *s);

/* A connection came: accept it into a free slot (all taken: the oldest
 * connection still sending its request is dropped for it). Returns the
 * slot, or -1. */
int control_accept(struct control_server *s);
/* Close a slot without an answer (its apply converges itself). */
void control_drop(struct control_server *s, int slot);
/* The slot is readable: read. Returns 1 when its request is complete (in
 * *ret, the fingerprint pointing into the slot's buffer), 0 for more to
 * come, -1 when the slot was closed (the client went, or spoke nonsense). */
int control_read(struct control_server *s, int slot, struct control_request *ret);
/* Answer and close: a result (diag_text: the configuration errors, may be
 * NULL), or that the options differ (key, and the daemon's line). */
void control_reply(struct control_server *s, int slot, const struct control_result *res,
                   const char *diag_text);
void control_reply_other(struct control_server *s, int slot, const char *why);
/* The first line of a that b lacks ("" when equal); static buffer. */
const char *control_fingerprint_diff(const char *a, const char *b);

/* The client's side (`apply`). Returns apply's exit code once the daemon
 * answered (the summary line printed on stdout as a one-shot apply prints
 * it, configuration errors on stderr); -ENOENT/-ECONNREFUSED when no
 * daemon listens, -ESTALE when it runs with other options (said on stderr),
 * other -errno when it could not be asked: the caller converges itself. */
int control_apply(const char *state_dir, const char *fingerprint);
