/* test_log.c - log.c's two line formats: logfmt with key=value extras, and
 * JSON lines (parsed back with jansson, so the escaping is proven valid). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"
#include "util.h"

/* Run fn with stderr captured into a pipe; returns what was written. */
static char *capture(void (*fn)(void))
{
    int p[2], saved;
    char buf[8192];
    ssize_t k;

    assert_int_equal(pipe(p), 0);
    saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    k = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    buf[k < 0 ? 0 : k] = '\0';
    return xstrdup(buf);
}

static void emit_kv(void)
{
    log_kv(LOG_INFO, "Pod/default/x", "attached", "netns", "/run/netns/x", "ifname", "net1",
           "skipped", NULL, "note", "a b", NULL);
}

static void emit_tricky(void)
{
    /* quote, backslash, newline, tab, control, valid UTF-8, invalid UTF-8 */
    log_msg(LOG_WARN, "Policy/\"q\"", "say \"hi\"\\\n\tbye\x01 caf\xc3\xa9 bad\xff\xc3(");
}

static void emit_noobj(void)
{
    log_msg(LOG_ERR, NULL, "plain %d", 42);
}

static void emit_debug(void)
{
    log_kv(LOG_DEBUG, NULL, "hidden", NULL);
}

static void test_logfmt_extras(void **state)
{
    (void)state;
    log_format = LOG_FORMAT_LOGFMT;
    log_max_level = LOG_INFO;
    char *s = capture(emit_kv);
    assert_int_equal(strncmp(s, "ts=", 3), 0);
    assert_non_null(strstr(s, " level=info obj=Pod/default/x msg=\"attached\" "
                              "netns=/run/netns/x ifname=net1 note=\"a b\"\n"));
    assert_null(strstr(s, "skipped"));
    free(s);
    s = capture(emit_debug);
    assert_string_equal(s, "");
    free(s);
}

static void test_json_lines(void **state)
{
    (void)state;
    json_error_t err;
    json_t *j;
    char *s;

    log_format = LOG_FORMAT_JSON;
    log_max_level = LOG_INFO;

    s = capture(emit_kv);
    assert_int_equal(strchr(s, '\n') - s + 1, (long)strlen(s)); /* exactly one line */
    j = json_loads(s, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 7); /* ts level obj msg netns ifname note */
    const char *ts = json_string_value(json_object_get(j, "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24); /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    assert_true(ts[23] == 'Z');
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "obj")), "Pod/default/x");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "attached");
    assert_string_equal(json_string_value(json_object_get(j, "netns")), "/run/netns/x");
    assert_string_equal(json_string_value(json_object_get(j, "ifname")), "net1");
    assert_null(json_object_get(j, "skipped"));
    assert_string_equal(json_string_value(json_object_get(j, "note")), "a b");
    json_decref(j);
    /* Key order is fixed: ts, level, obj, msg, extras. */
    assert_int_equal(strncmp(s, "{\"ts\":\"", 7), 0);
    assert_non_null(strstr(s, "\",\"level\":\"info\",\"obj\":\"Pod/default/x\",\"msg\":\"attached\","
                              "\"netns\":"));
    free(s);

    s = capture(emit_tricky);
    assert_int_equal(strchr(s, '\n') - s + 1, (long)strlen(s));
    j = json_loads(s, 0, &err); /* jansson rejects invalid UTF-8 */
    if (!j)
        fail_msg("not JSON: %s: %s", err.text, s);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(j, "obj")), "Policy/\"q\"");
    assert_string_equal(json_string_value(json_object_get(j, "msg")),
                        "say \"hi\"\\\n\tbye\x01 caf\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd(");
    json_decref(j);
    free(s);

    s = capture(emit_noobj);
    j = json_loads(s, 0, &err);
    assert_non_null(j);
    assert_null(json_object_get(j, "obj"));
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "plain 42");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
    json_decref(j);
    free(s);

    s = capture(emit_debug);
    assert_string_equal(s, "");
    free(s);
    log_format = LOG_FORMAT_LOGFMT;
}

static void test_format_names(void **state)
{
    (void)state;
    assert_int_equal(log_format_from_string("json"), LOG_FORMAT_JSON);
    assert_int_equal(log_format_from_string("JSON"), LOG_FORMAT_JSON);
    assert_int_equal(log_format_from_string("logfmt"), LOG_FORMAT_LOGFMT);
    assert_int_equal(log_format_from_string("text"), LOG_FORMAT_LOGFMT);
    assert_int_equal(log_format_from_string("xml"), -EINVAL);
    assert_int_equal(log_format_from_string(NULL), -EINVAL);
    assert_string_equal(log_format_to_string(LOG_FORMAT_JSON), "json");
    assert_string_equal(log_format_to_string(LOG_FORMAT_LOGFMT), "logfmt");
}

static void test_errno_preserved(void **state)
{
    (void)state;
    log_max_level = LOG_ERR; /* suppressed, but still must not touch errno */
    errno = EBUSY;
    log_kv(LOG_INFO, NULL, "x", NULL);
    assert_int_equal(errno, EBUSY);
    log_max_level = LOG_INFO;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logfmt_extras),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_errno_preserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
