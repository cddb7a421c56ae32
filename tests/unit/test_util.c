/* test_util.c - unit tests for util.c (hashing, ifname rules, atomic file
 * writes, arrays, mkdir_p) and log.c's line format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"

static void test_hash_determinism(void **state)
{
    (void)state;
    char hex[17], hex2[17];

    /* Known FNV-1a 64 vectors. */
    assert_true(hash64("", 0, HASH64_SEED) == 0xcbf29ce484222325ULL);
    assert_true(hash64("a", 1, HASH64_SEED) == 0xaf63dc4c8601ec8cULL);
    assert_true(hash64("foobar", 6, HASH64_SEED) == 0x85944171f73967e8ULL);
    /* Streaming equals one shot. */
    assert_true(hash64("bar", 3, hash64("foo", 3, HASH64_SEED)) ==
                hash64("foobar", 6, HASH64_SEED));
    assert_true(hash64("foo", 3, HASH64_SEED) != hash64("fop", 3, HASH64_SEED));

    hash64_hex(0x0123456789abcdefULL, hex);
    assert_string_equal(hex, "0123456789abcdef");
    hash64_hex(hash64("x", 1, HASH64_SEED), hex);
    hash64_hex(hash64("x", 1, HASH64_SEED), hex2);
    assert_string_equal(hex, hex2);
    assert_int_equal(strlen(hex), 16);
}

static void test_ifname_valid(void **state)
{
    (void)state;
    assert_true(ifname_valid("eth0"));
    assert_true(ifname_valid("br-1"));
    assert_true(ifname_valid("a"));
    assert_true(ifname_valid("123456789012345")); /* 15 bytes */
    assert_true(ifname_valid("veth.1@x"));
    assert_false(ifname_valid("1234567890123456")); /* 16 bytes */
    assert_false(ifname_valid(""));
    assert_false(ifname_valid(NULL));
    assert_false(ifname_valid("."));
    assert_false(ifname_valid(".."));
    assert_true(ifname_valid("..."));
    assert_false(ifname_valid("a/b"));
    assert_false(ifname_valid("a b"));
    assert_false(ifname_valid("a\tb"));
    assert_false(ifname_valid("a\nb"));
    assert_false(ifname_valid("eth0:1"));
}

static char *make_tmpdir(void)
{
    char *d = xstrdup("/tmp/plumbd-test-util-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len = 0;
    FILE *m;
    int c;

    if (!f)
        return NULL;
    m = open_memstream(&buf, &len);
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(m);
    fclose(f);
    return buf;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void test_write_file_atomic(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *path = xasprintf("%s/status.yaml", dir);
    _cleanup_free_ char *missing = xasprintf("%s/nodir/x", dir);
    _cleanup_free_ char *sub = xasprintf("%s/sub", dir);
    char *s;
    struct stat st;

    assert_int_equal(write_file_atomic(path, "hello\n", 6), 0);
    s = read_all(path);
    assert_string_equal(s, "hello\n");
    free(s);

    /* Replace: content fully swapped, no temp file left behind. */
    assert_int_equal(write_file_atomic(path, "bye", 3), 0);
    s = read_all(path);
    assert_string_equal(s, "bye");
    free(s);
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* Empty content is fine. */
    assert_int_equal(write_file_atomic(path, "", 0), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);

    /* Missing directory: -ENOENT and nothing created. */
    assert_int_equal(write_file_atomic(missing, "x", 1), -ENOENT);
    /* Target is a directory: rename fails, temp file cleaned up. */
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(write_file_atomic(sub, "x", 1), -EISDIR);
    assert_int_equal(count_entries(dir), 2);
    assert_int_equal(write_file_atomic("", "x", 1), -EINVAL);

    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_mkdir_p(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *deep = xasprintf("%s/a/b//c/", dir);
    _cleanup_free_ char *file = xasprintf("%s/a/f", dir);
    _cleanup_free_ char *under = xasprintf("%s/a/f/g", dir);
    _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
    struct stat st;

    assert_int_equal(mkdir_p(deep, 0755), 0);
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(mkdir_p(deep, 0755), 0); /* idempotent */
    assert_int_equal(write_file_atomic(file, "x", 1), 0);
    assert_int_equal(mkdir_p(under, 0755), -ENOTDIR);
    assert_int_equal(system(cmd), 0);
}

static void test_array_push(void **state)
{
    (void)state;
    struct item {
        int a;
        char b[9];
    } *v = NULL;
    size_t n = 0;

    for (int i = 0; i < 1000; i++) {
        struct item *it = ARRAY_PUSH(v, n);
        assert_int_equal(it->a, 0); /* zeroed */
        assert_int_equal(it->b[0], 0);
        it->a = i;
    }
    assert_int_equal(n, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(v[i].a, i);
    free(v);
}

static void test_take_and_streq(void **state)
{
    (void)state;
    _cleanup_free_ char *p = xstrdup("x");
    char *q = TAKE_PTR(p);
    assert_null(p);
    assert_string_equal(q, "x");
    free(q);
    assert_true(streq("a", "a"));
    assert_false(streq(NULL, NULL));
    assert_true(streq_ptr(NULL, NULL));
    assert_false(streq_ptr("a", NULL));
    char *s = xasprintf("%d-%s", 7, "x");
    assert_string_equal(s, "7-x");
    free(s);
    uint64_t t1 = now_usec(), t2 = now_usec();
    assert_true(t2 >= t1);
    assert_true(now_wall() > 1600000000);
}

/* Capture stderr into a pipe around one log call. */
static char *capture_log(enum log_level lvl, const char *obj, const char *msg)
{
    int p[2], saved;
    char buf[4096];
    ssize_t k;

    assert_int_equal(pipe(p), 0);
    saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    log_msg(lvl, obj, "%s", msg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    k = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    buf[k < 0 ? 0 : k] = '\0';
    return xstrdup(buf);
}

static void test_log_format(void **state)
{
    (void)state;
    char *s;

    log_max_level = LOG_INFO;
    s = capture_log(LOG_INFO, "Pod/default/x", "say \"hi\"\nbye");
    assert_int_equal(strncmp(s, "ts=", 3), 0);
    assert_true(s[26] == 'Z'); /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
    assert_non_null(strstr(s, " level=info obj=Pod/default/x msg=\"say \\\"hi\\\"\\nbye\"\n"));
    free(s);

    s = capture_log(LOG_WARN, NULL, "plain");
    assert_non_null(strstr(s, " level=warn msg=\"plain\"\n"));
    assert_null(strstr(s, "obj="));
    free(s);

    s = capture_log(LOG_DEBUG, NULL, "hidden");
    assert_string_equal(s, "");
    free(s);
    log_max_level = LOG_DEBUG;
    s = capture_log(LOG_DEBUG, NULL, "shown");
    assert_non_null(strstr(s, "level=debug"));
    free(s);
    log_max_level = LOG_INFO;

    errno = ENOENT;
    assert_int_equal(log_error_errno(NULL, -ENOENT, "%s", ""), -ENOENT);
    assert_int_equal(errno, ENOENT); /* preserved */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_determinism), cmocka_unit_test(test_ifname_valid),
        cmocka_unit_test(test_write_file_atomic), cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_array_push),        cmocka_unit_test(test_take_and_streq),
        cmocka_unit_test(test_log_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
