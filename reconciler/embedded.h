/* embedded.h - files compiled into the binary by tools/embed.sh:
 * the SQLite migrations (state/NNN_*.sql, in order) and the input schemas
 * (schema/NAME.yaml). Each array ends with a { NULL, NULL } entry. */
#pragma once

struct embedded_file {
    const char *name; /* basename, e.g. "001_init.sql" */
    const char *data; /* NUL-terminated contents */
};

extern const struct embedded_file embedded_migrations[];
extern const struct embedded_file embedded_schemas[];
