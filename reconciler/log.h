/* log.h - one line per event to stderr, logfmt style by default:
 *   ts=... level=info obj=Pod/default/multus-demo msg="attached net1" netns=x ifname=net1
 * or, with --log-format json (or PLUMBD_LOG_FORMAT=json), one JSON object
 * per line for collectors:
 *   {"ts":"...","level":"info","obj":"Pod/default/multus-demo","msg":"attached net1","netns":"x","ifname":"net1"}
 * info is for real changes to the node; decisions and no-ops are debug. */
#pragma once

#include <stdarg.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_format { LOG_FORMAT_LOGFMT = 0, LOG_FORMAT_JSON = 1, _LOG_FORMAT_MAX };

extern enum log_level log_max_level;
extern enum log_format log_format;

/* "logfmt" / "json" (also "text" for logfmt); -EINVAL when unknown. */
int log_format_from_string(const char *s);
const char *log_format_to_string(enum log_format f);

void log_msg(enum log_level lvl, const char *obj, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A fixed message plus key/value extras (a NULL-terminated list of key,
 * value strings; a NULL value is skipped), e.g.
 *   log_kv(LOG_INFO, "Pod/default/x", "attached", "netns", ns, "ifname", "net1", NULL);
 * Keys should be [a-z_]+ and not ts, level, obj or msg. */
void log_kv(enum log_level lvl, const char *obj, const char *msg, ...)
    __attribute__((sentinel));

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
