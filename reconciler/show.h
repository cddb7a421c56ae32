/* show.h - the node's live state in nmstate's schema (`plumbd show`). */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "live.h"
#include "model.h"

/* Addresses that come from plumbd's DHCP leases (main.c reads them from
 * the state dir): such an interface is shown with `dhcp: true` and the
 * leased address left out of `address` (nmstate shows dynamic addresses
 * as dhcp, and a static entry for it would outlive the lease). Borrowed
 * until show_build returns; NULL/0 = none. */
struct show_lease {
    char ifname[16];
    struct ipaddr addr;
};
void show_set_leases(const struct show_lease *v, size_t n);

/* The nmstate document (interfaces, routes, dns-resolver) as JSON;
 * dns-resolver.config is read from the file resolv (NULL: none). */
json_t *show_build(const struct live_ns *l, const char *resolv);
/* format: "yaml" or "json"; -EINVAL for another. */
int show_print(FILE *f, const struct live_ns *l, const char *resolv, const char *format);
/* Block-style YAML for a JSON tree (keys in insertion order). */
void yaml_emit(FILE *f, json_t *v);
