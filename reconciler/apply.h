/* apply.h - operations -> netlink writes. The only module that changes the
 * kernel. Every write is counted, so tests and `make bench` can assert that
 * a converged pass writes nothing. */
#pragma once

#include "live.h"
#include "plan.h"

struct apply_ctx {
    struct netns *node;      /* borrowed: the node namespace */
    struct netns **pods;     /* owned: pod namespaces opened so far */
    size_t npods;
    unsigned long writes;    /* netlink write requests sent */
    int conf6_fd;            /* the node's /proc/sys/net/ipv6/conf, opened on first use */
};

void apply_ctx_init(struct apply_ctx *ctx, struct netns *node);
void apply_ctx_done(struct apply_ctx *ctx);

/* Run one operation. On failure returns -errno and sets *ret_err to a
 * message naming the object and the kernel's reason (caller frees).
 * OP_POD_ATTACH: when op->pa.has_mac is false, the kernel-chosen MAC of the
 * pod interface is written to op->pa.mac and has_mac set.
 * Idempotent where the kernel allows: deleting a missing link is success. */
int apply_op(struct apply_ctx *ctx, struct op *op, char **ret_err);

/* Detach many pods in one go (all ops OP_POD_DETACH). A pod's host end is
 * created in the interface group APPLY_POD_GROUP. When in_pod_group is not
 * NULL the caller has checked that every link of that group in the node
 * namespace belongs to one of the ops: the ops not already in it
 * (in_pod_group[i] false) are moved in, and the whole group is deleted by one
 * RTM_DELLINK. Otherwise the existing host ends are moved into a scratch
 * group (APPLY_DETACH_GROUP), deleted the same way. Either way the kernel
 * waits for one RCU grace period in all instead of ~20 ms per veth. Moves
 * are pipelined requests; each group move makes the kernel re-run IPv6
 * address configuration on that link, which is why the first form skips
 * them. Ops without a host end go through apply_op. Returns 0 or the first
 * failure (-errno, *ret_err set). */
#define APPLY_POD_GROUP 0x706c6d70u    /* "plmp": pod host ends, from creation */
#define APPLY_DETACH_GROUP 0x706c6d64u /* "plmd": only plumbd's veths go here */
int apply_detach_many(struct apply_ctx *ctx, struct op *const *ops, size_t n,
                      const bool *in_pod_group, char **ret_err);
