/* log.c - logfmt lines to stderr:
 *   ts=2026-11-27T21:00:00.123Z level=info obj=Pod/default/x msg="..."
 * obj is omitted when NULL; msg is always quoted with ", \ and control
 * characters escaped, so one event is always exactly one line.
 *
 * The level comes from PLUMBD_LOG (error|warn|info|debug), read once at
 * program start. It is read from a constructor rather than on the first
 * log_msg() call because log_debug() tests log_max_level before it ever
 * calls into this file: a lazy read there would never enable debug. Code
 * (e.g. a --verbose flag) may still assign log_max_level afterwards. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

enum log_level log_max_level = LOG_INFO;

static const char *const level_names[] = {
    [LOG_ERR] = "error",
    [LOG_WARN] = "warn",
    [LOG_INFO] = "info",
    [LOG_DEBUG] = "debug",
};

static void __attribute__((constructor)) log_setup_from_env(void)
{
    const char *e = getenv("PLUMBD_LOG");

    if (!e || !*e)
        return;
    if (strcasecmp(e, "debug") == 0)
        log_max_level = LOG_DEBUG;
    else if (strcasecmp(e, "info") == 0)
        log_max_level = LOG_INFO;
    else if (strcasecmp(e, "warn") == 0 || strcasecmp(e, "warning") == 0)
        log_max_level = LOG_WARN;
    else if (strcasecmp(e, "error") == 0 || strcasecmp(e, "err") == 0)
        log_max_level = LOG_ERR;
}

/* Append s to f as a logfmt value. Quoted always when force_quote, else
 * only when it holds a space, '"', '=' or a control character. */
static void put_value(FILE *f, const char *s, bool force_quote)
{
    bool quote = force_quote;

    for (const char *c = s; !quote && *c; c++)
        if (*c == ' ' || *c == '"' || *c == '=' || (unsigned char)*c < 0x20 || *c == 0x7f)
            quote = true;
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*c < 0x20 || *c == 0x7f)
                fprintf(f, "\\x%02x", *c);
            else
                fputc(*c, f);
        }
    }
    fputc('"', f);
}

/* Format the whole line into memory and write it with one write(2) so lines
 * from concurrent processes sharing stderr do not interleave. errno is
 * preserved (callers use %m in fmt and may log before returning -errno). */
void log_msg(enum log_level lvl, const char *obj, const char *fmt, ...)
{
    int saved_errno = errno;
    char *line = NULL, *msg = NULL;
    size_t len = 0;
    struct timespec ts;
    struct tm tm;
    FILE *f;
    va_list ap;

    if (lvl > log_max_level)
        return;
    if ((unsigned)lvl >= ARRAY_SIZE(level_names))
        lvl = LOG_DEBUG;

    va_start(ap, fmt);
    errno = saved_errno;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);

    f = open_memstream(&line, &len);
    if (!f) {
        free(msg);
        errno = saved_errno;
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(f, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000L, level_names[lvl]);
    if (obj) {
        fputs(" obj=", f);
        put_value(f, obj, false);
    }
    fputs(" msg=", f);
    put_value(f, msg ? msg : "(log formatting failed)", true);
    fputc('\n', f);
    if (fclose(f) == 0 && line) {
        const char *p = line;
        while (len > 0) {
            ssize_t k = write(STDERR_FILENO, p, len);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            p += k;
            len -= (size_t)k;
        }
    }
    free(line);
    free(msg);
    errno = saved_errno;
}
