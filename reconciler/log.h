/* log.h - one line per event to stderr, logfmt style:
 *   level=info obj=Pod/default/multus-demo msg="attached net1"
 * info is for real changes to the node; decisions and no-ops are debug. */
#pragma once

#include <stdarg.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern enum log_level log_max_level;

void log_msg(enum log_level lvl, const char *obj, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(obj, ...) log_msg(LOG_ERR, obj, __VA_ARGS__)
#define log_warn(obj, ...) log_msg(LOG_WARN, obj, __VA_ARGS__)
#define log_info(obj, ...) log_msg(LOG_INFO, obj, __VA_ARGS__)
#define log_debug(obj, ...)                                                    \
    do {                                                                       \
        if (log_max_level >= LOG_DEBUG)                                        \
            log_msg(LOG_DEBUG, obj, __VA_ARGS__);                              \
    } while (0)

/* Log and return r (a negative errno) in one statement. */
#define log_error_errno(obj, r, ...) (log_msg(LOG_ERR, obj, __VA_ARGS__), (r))
