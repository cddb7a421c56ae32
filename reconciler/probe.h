/* probe.h - connectivity probes run after a policy is applied. */
#pragma once

#include "model.h"

enum probe_kind { PROBE_PING, PROBE_TCP };

struct probe {
    enum probe_kind kind;
    struct ipaddr addr;
    uint16_t port; /* tcp */
};

/* "ping 192.168.255.254, tcp 192.168.255.11:6443" (annotation plumbd/probe).
 * -EINVAL with *ret_err (caller frees) on a malformed item. */
int probe_parse(const char *spec, struct probe **ret, size_t *ret_n, char **ret_err);
/* 0 reachable, -ETIMEDOUT / -errno otherwise. Blocks up to timeout_ms. */
int probe_run(const struct probe *p, unsigned timeout_ms);
char *probe_describe(const struct probe *p);
