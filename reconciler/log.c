/* log.c - one event per line to stderr, logfmt (default) or JSON:
 *   ts=2026-11-27T21:00:00.123Z level=info obj=Pod/default/x msg="..." k=v
 *   {"ts":"2026-11-27T21:00:00.123Z","level":"info","obj":"Pod/default/x","msg":"...","k":"v"}
 * obj is omitted when NULL; in logfmt msg is always quoted with ", \ and
 * control characters escaped; in JSON every string is escaped and invalid
 * UTF-8 becomes U+FFFD. Either way one event is exactly one line.
 *
 * The level comes from PLUMBD_LOG (error|warn|info|debug) and the format
 * from PLUMBD_LOG_FORMAT (logfmt|json), read once at program start. They
 * are read from a constructor rather than on the first log_msg() call
 * because log_debug() tests log_max_level before it ever calls into this
 * file: a lazy read there would never enable debug. Code (-v,
 * --log-format) may still assign log_max_level / log_format afterwards. */
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
enum log_format log_format = LOG_FORMAT_LOGFMT;

static const char *const level_names[] = {
    [LOG_ERR] = "error",
    [LOG_WARN] = "warn",
    [LOG_INFO] = "info",
    [LOG_DEBUG] = "debug",
};

static const char *const format_names[_LOG_FORMAT_MAX] = {
    [LOG_FORMAT_LOGFMT] = "logfmt",
    [LOG_FORMAT_JSON] = "json",
};

int log_format_from_string(const char *s)
{
    if (!s)
        return -EINVAL;
    if (strcasecmp(s, "logfmt") == 0 || strcasecmp(s, "text") == 0)
        return LOG_FORMAT_LOGFMT;
    if (strcasecmp(s, "json") == 0)
        return LOG_FORMAT_JSON;
    return -EINVAL;
}

const char *log_format_to_string(enum log_format f)
{
    return (unsigned)f < _LOG_FORMAT_MAX ? format_names[f] : NULL;
}

static void __attribute__((constructor)) log_setup_from_env(void)
{
    const char *e = getenv("PLUMBD_LOG");
    const char *fmt = getenv("PLUMBD_LOG_FORMAT");

    if (fmt && *fmt && log_format_from_string(fmt) >= 0)
        log_format = (enum log_format)log_format_from_string(fmt);
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
 * only when it is empty or holds a space, '"', '=' or a control character. */
/* One byte inside a quoted value: the escapes logfmt and JSON share;
 * other control bytes in ctl_fmt ("\\x%02x" or "\\u%04x"). */
static void put_escaped(FILE *f, unsigned char c, const char *ctl_fmt)
{
    switch (c) {
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
        if (c < 0x20 || c == 0x7f)
            fprintf(f, ctl_fmt, c);
        else
            fputc(c, f);
    }
}

static void put_value(FILE *f, const char *s, bool force_quote)
{
    bool quote = force_quote || !*s;

    for (const char *c = s; !quote && *c; c++)
        if (*c == ' ' || *c == '"' || *c == '=' || (unsigned char)*c < 0x20 || *c == 0x7f)
            quote = true;
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        put_escaped(f, *c, "\\x%02x");
    }
    fputc('"', f);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Append s as a JSON string, quotes included. */
static void put_json(FILE *f, const char *s)
{
    const unsigned char *c = (const unsigned char *)s;

    fputc('"', f);
    while (*c) {
        size_t n = utf8_seq_len(c);
        if (n == 0) {
            fputs("\\ufffd", f);
            c++;
            continue;
        }
        if (n > 1) {
            fwrite(c, 1, n, f);
            c += n;
            continue;
        }
        put_escaped(f, *c, "\\u%04x");
        c++;
    }
    fputc('"', f);
}

/* Write the line with one write(2) so lines from concurrent processes
 * sharing stderr do not interleave. */
static void write_line(const char *p, size_t len)
{
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

/* Format one event (kv: key, value, ..., NULL; NULL values skipped) and
 * write it. */
static void log_emit(enum log_level lvl, const char *obj, const char *msg, va_list kv)
{
    char *line = NULL;
    size_t len = 0;
    struct timespec ts;
    struct tm tm;
    char tsbuf[96];
    bool json = log_format == LOG_FORMAT_JSON;
    FILE *f;

    if ((unsigned)lvl >= ARRAY_SIZE(level_names))
        lvl = LOG_DEBUG;
    f = open_memstream(&line, &len);
    if (!f)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(tsbuf, sizeof(tsbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
    if (json) {
        fprintf(f, "{\"ts\":\"%s\",\"level\":\"%s\"", tsbuf, level_names[lvl]);
        if (obj) {
            fputs(",\"obj\":", f);
            put_json(f, obj);
        }
        fputs(",\"msg\":", f);
        put_json(f, msg);
    } else {
        fprintf(f, "ts=%s level=%s", tsbuf, level_names[lvl]);
        if (obj) {
            fputs(" obj=", f);
            put_value(f, obj, false);
        }
        fputs(" msg=", f);
        put_value(f, msg, true);
    }
    for (;;) {
        const char *k = va_arg(kv, const char *);
        if (!k)
            break;
        const char *v = va_arg(kv, const char *);
        if (!v)
            continue;
        if (json) {
            fputc(',', f);
            put_json(f, k);
            fputc(':', f);
            put_json(f, v);
        } else {
            fputc(' ', f);
            fputs(k, f);
            fputc('=', f);
            put_value(f, v, false);
        }
    }
    fputs(json ? "}\n" : "\n", f);
    if (fclose(f) == 0 && line)
        write_line(line, len);
    free(line);
}

/* A va_list holding just the terminating NULL, for events without extras. */
static void emit_plain(enum log_level lvl, const char *obj, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    log_emit(lvl, obj, msg, ap);
    va_end(ap);
}

/* errno is preserved (callers use %m in fmt and may log before returning
 * -errno). */
void log_msg(enum log_level lvl, const char *obj, const char *fmt, ...)
{
    int saved_errno = errno;
    char *msg = NULL;
    va_list ap;

    if (lvl > log_max_level)
        return;
    va_start(ap, fmt);
    errno = saved_errno;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    emit_plain(lvl, obj, msg ? msg : "(log formatting failed)", (const char *)NULL);
    free(msg);
    errno = saved_errno;
}

void log_kv(enum log_level lvl, const char *obj, const char *msg, ...)
{
    int saved_errno = errno;
    va_list ap;

    if (lvl > log_max_level)
        return;
    va_start(ap, msg);
    log_emit(lvl, obj, msg ? msg : "", ap);
    va_end(ap);
    errno = saved_errno;
}
