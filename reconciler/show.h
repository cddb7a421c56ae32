/* show.h - the node's live state in nmstate's schema (`plumbd show`). */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "live.h"

/* The nmstate document (interfaces, routes, dns-resolver) as JSON;
 * dns-resolver.config is read from the file resolv (NULL: none). */
json_t *show_build(const struct live_ns *l, const char *resolv);
/* format: "yaml" or "json"; -EINVAL for another. */
int show_print(FILE *f, const struct live_ns *l, const char *resolv, const char *format);
/* Block-style YAML for a JSON tree (keys in insertion order). */
void yaml_emit(FILE *f, json_t *v);
