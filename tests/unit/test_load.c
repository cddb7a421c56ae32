/* test_load.c - unit tests for load.c: documents and positions, List
 * expansion, parse errors, limits (aliases, depth, size), revisions, ynode
 * accessors, diags, and the directory walk rules (ConfigMap layout, dot
 * files, editor droppings, nested dirs, symlink loops). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "load.h"
#include "util.h"

struct parsed {
    struct docset docs;
    struct diags diags;
    int r;
};

static void parsed_free(struct parsed *p)
{
    docset_free(&p->docs);
    diags_clear(&p->diags);
}

static struct parsed parse(const char *text)
{
    struct parsed p = { 0 };
    p.r = load_buffer("t.yaml", text, strlen(text), &p.docs, &p.diags);
    return p;
}

/* The single diag's message must contain needle and sit at line:col. */
static void assert_one_error(const struct parsed *p, unsigned line, unsigned col,
                             const char *needle)
{
    assert_int_equal(p->r, -EINVAL);
    assert_int_equal(p->diags.n, 1);
    assert_int_equal(p->diags.v[0].severity, DIAG_ERROR);
    assert_string_equal(p->diags.v[0].file, "t.yaml");
    if (strstr(p->diags.v[0].msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", p->diags.v[0].msg, needle);
    assert_int_equal(p->diags.v[0].line, line);
    assert_int_equal(p->diags.v[0].col, col);
}

static void test_multidoc_positions(void **state)
{
    (void)state;
    struct parsed p = parse("# leading comment\n"
                            "kind: Pod\n"
                            "metadata:\n"
                            "  name: a\n"
                            "---\n"
                            "---\n"
                            "  kind: Node\n"
                            "  spec: [1, 2]\n"
                            "---\n");
    const struct ynode *n;

    assert_int_equal(p.r, 0);
    assert_int_equal(p.diags.n, 0);
    assert_int_equal(p.docs.n, 2); /* empty documents skipped */
    assert_string_equal(p.docs.v[0].file, "t.yaml");
    assert_int_equal(p.docs.v[0].index, 0);
    assert_int_equal(p.docs.v[0].line, 2);
    assert_int_equal(p.docs.v[0].col, 1);
    n = ynode_path(p.docs.v[0].root, "metadata.name");
    assert_string_equal(ynode_str(n), "a");
    assert_int_equal(n->line, 4);
    assert_int_equal(n->col, 9);
    n = ynode_get(p.docs.v[0].root, "metadata");
    assert_int_equal(n->keypos[0].line, 4);
    assert_int_equal(n->keypos[0].col, 3);

    assert_int_equal(p.docs.v[1].index, 1);
    assert_int_equal(p.docs.v[1].line, 7);
    assert_int_equal(p.docs.v[1].col, 3);
    n = ynode_get(p.docs.v[1].root, "spec");
    assert_int_equal(n->kind, YNODE_SEQ);
    assert_int_equal(n->n, 2);
    assert_int_equal(n->items[1]->line, 8);
    assert_int_equal(n->items[1]->col, 13);
    parsed_free(&p);

    /* Empty file and comment-only file: no docs, no errors. */
    p = parse("");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.docs.n, 0);
    parsed_free(&p);
    p = parse("# nothing\n---\n# more nothing\n");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.docs.n, 0);
    parsed_free(&p);
}

static void test_list_expansion(void **state)
{
    (void)state;
    struct parsed p = parse("apiVersion: v1\n"
                            "kind: List\n"
                            "items:\n"
                            "- kind: Pod\n"
                            "  metadata: {name: a}\n"
                            "- kind: Node\n"
                            "  metadata: {name: b}\n"
                            "---\n"
                            "kind: Pod\n");

    assert_int_equal(p.r, 0);
    assert_int_equal(p.docs.n, 3);
    assert_string_equal(ynode_str(ynode_path(p.docs.v[0].root, "metadata.name")), "a");
    assert_int_equal(p.docs.v[0].line, 4);
    assert_int_equal(p.docs.v[0].col, 3);
    assert_string_equal(ynode_str(ynode_path(p.docs.v[1].root, "metadata.name")), "b");
    assert_int_equal(p.docs.v[1].line, 6);
    assert_string_equal(ynode_str(ynode_get(p.docs.v[2].root, "kind")), "Pod");
    assert_int_equal(p.docs.v[2].line, 9);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(p.docs.v[i].index, i);
    /* Each item has its own revision. */
    assert_string_not_equal(p.docs.v[0].rev, p.docs.v[1].rev);
    parsed_free(&p);

    /* kind: List without an items sequence stays one document. */
    p = parse("kind: List\nitems: 3\n");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.docs.n, 1);
    parsed_free(&p);
    /* An empty List yields nothing. */
    p = parse("kind: List\nitems: []\n");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.docs.n, 0);
    parsed_free(&p);
}

static void test_parse_error(void **state)
{
    (void)state;
    /* First document survives; the error is at the bad line. */
    struct parsed p = parse("kind: Pod\n"
                            "---\n"
                            "kind: Node\n"
                            "metadata:\n"
                            "  name: [unclosed\n"
                            "  x: 1\n"
                            "---\n"
                            "kind: Lost\n");
    assert_int_equal(p.r, -EINVAL);
    assert_int_equal(p.docs.n, 1);
    assert_string_equal(ynode_str(ynode_get(p.docs.v[0].root, "kind")), "Pod");
    assert_int_equal(p.diags.n, 1);
    assert_int_equal(p.diags.v[0].line, 6);
    assert_non_null(strstr(p.diags.v[0].msg, "flow sequence"));
    parsed_free(&p);

    p = parse("a: b: c\n");
    assert_one_error(&p, 1, 5, "mapping values are not allowed");
    parsed_free(&p);

    p = parse("a:\n  - x\n b: 2\n");
    assert_int_equal(p.r, -EINVAL);
    assert_int_equal(p.diags.v[0].line, 3);
    parsed_free(&p);

    /* Invalid UTF-8 is located by byte offset. */
    p = parse("a: 1\nb: \xff\n");
    assert_int_equal(p.r, -EINVAL);
    assert_int_equal(p.diags.n, 1);
    assert_int_equal(p.diags.v[0].line, 2);
    assert_int_equal(p.diags.v[0].col, 4);
    parsed_free(&p);

    p = parse("a: *nope\n");
    assert_one_error(&p, 1, 4, "undefined alias \"nope\"");
    parsed_free(&p);

    p = parse("? [a, b]\n: 1\n");
    assert_one_error(&p, 1, 3, "mapping key must be a scalar");
    parsed_free(&p);
}

static void test_duplicate_key(void **state)
{
    (void)state;
    struct parsed p = parse("kind: Pod\n"
                            "metadata:\n"
                            "  name: a\n"
                            "  labels: {}\n"
                            "  name: b\n");
    assert_one_error(&p, 5, 3, "duplicate key \"name\" (first at line 3 column 3)");
    assert_int_equal(p.docs.n, 0);
    parsed_free(&p);

    /* Big map: the hashed path finds duplicates too. */
    {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        for (int i = 0; i < 500; i++)
            fprintf(f, "k%d: %d\n", i, i);
        fprintf(f, "k17: again\n");
        fclose(f);
        p = parse(buf);
        assert_one_error(&p, 501, 1, "duplicate key \"k17\"");
        parsed_free(&p);
        free(buf);
    }

    /* Same text in different maps is fine. */
    p = parse("a: {name: x}\nb: {name: x}\n");
    assert_int_equal(p.r, 0);
    parsed_free(&p);
}

static void test_scalars(void **state)
{
    (void)state;
    struct parsed p = parse("a: true\n"
                            "b: \"true\"\n"
                            "c: 'x'\n"
                            "d: |\n  block\n"
                            "e: 0x1F\n"
                            "f: \"12\"\n"
                            "g: -42\n"
                            "h: off\n"
                            "i: !!str yes\n"
                            "j: 99999999999999999999\n"
                            "k: 12abc\n"
                            "l: ~\n");
    const struct ynode *r;
    bool b = false;
    long long v = 0;

    assert_int_equal(p.r, 0);
    r = p.docs.v[0].root;
    assert_false(ynode_get(r, "a")->quoted);
    assert_true(ynode_get(r, "b")->quoted);
    assert_true(ynode_get(r, "c")->quoted);
    assert_true(ynode_get(r, "d")->quoted);
    assert_string_equal(ynode_str(ynode_get(r, "d")), "block\n");
    assert_string_equal(ynode_str(ynode_get(r, "b")), "true");

    assert_int_equal(ynode_bool(ynode_get(r, "a"), &b), 0);
    assert_true(b);
    assert_int_equal(ynode_bool(ynode_get(r, "h"), &b), 0);
    assert_false(b);
    b = true;
    assert_int_equal(ynode_bool(ynode_get(r, "b"), &b), -EINVAL);
    assert_int_equal(ynode_bool(ynode_get(r, "i"), &b), -EINVAL);
    assert_int_equal(ynode_bool(ynode_get(r, "c"), &b), -EINVAL);
    assert_int_equal(ynode_bool(ynode_get(r, "missing"), &b), -EINVAL);
    assert_true(b); /* untouched on failure */

    assert_int_equal(ynode_int(ynode_get(r, "e"), &v), 0);
    assert_int_equal(v, 31);
    assert_int_equal(ynode_int(ynode_get(r, "g"), &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(ynode_int(ynode_get(r, "f"), &v), -EINVAL);
    assert_int_equal(ynode_int(ynode_get(r, "j"), &v), -ERANGE);
    assert_int_equal(ynode_int(ynode_get(r, "k"), &v), -EINVAL);
    assert_int_equal(ynode_int(ynode_get(r, "a"), &v), -EINVAL);
    assert_int_equal(v, -42);
    assert_string_equal(ynode_str(ynode_get(r, "l")), "~");

    /* Accessors tolerate NULL and wrong kinds. */
    assert_null(ynode_get(NULL, "a"));
    assert_null(ynode_get(ynode_get(r, "a"), "x"));
    assert_null(ynode_path(r, "a.b"));
    assert_null(ynode_path(r, "a."));
    assert_null(ynode_str(NULL));
    assert_ptr_equal(ynode_path(r, ""), r);
    parsed_free(&p);

    p = parse("a: \"x\\0y\"\n");
    assert_one_error(&p, 1, 4, "NUL");
    parsed_free(&p);
}

static void test_json(void **state)
{
    (void)state;
    struct parsed p = parse("{\n"
                            "  \"kind\": \"NetworkAttachmentDefinition\",\n"
                            "  \"spec\": {\"config\": \"{\\\"type\\\":\\\"bridge\\\"}\",\n"
                            "\t\"n\": [1, true, null]}\n"
                            "}\n");
    const struct ynode *n;

    assert_int_equal(p.r, 0);
    assert_int_equal(p.docs.n, 1);
    n = ynode_get(p.docs.v[0].root, "kind");
    assert_string_equal(ynode_str(n), "NetworkAttachmentDefinition");
    assert_true(n->quoted);
    assert_int_equal(n->line, 2);
    assert_int_equal(n->col, 11);
    assert_string_equal(ynode_str(ynode_path(p.docs.v[0].root, "spec.config")),
                        "{\"type\":\"bridge\"}");
    n = ynode_path(p.docs.v[0].root, "spec.n");
    assert_int_equal(n->n, 3);
    assert_false(n->items[1]->quoted);
    parsed_free(&p);

    p = parse("{\"a\": 1, \"a\": 2}");
    assert_one_error(&p, 1, 10, "duplicate key");
    parsed_free(&p);
}

static void test_alias(void **state)
{
    (void)state;
    struct parsed p = parse("base: &b {mtu: 1500, name: x}\n"
                            "copy: *b\n"
                            "s: &s hello\n"
                            "t: *s\n");
    const struct ynode *c;

    assert_int_equal(p.r, 0);
    c = ynode_get(p.docs.v[0].root, "copy");
    assert_int_equal(c->kind, YNODE_MAP);
    assert_string_equal(ynode_str(ynode_get(c, "mtu")), "1500");
    assert_int_equal(c->line, 2);
    assert_ptr_not_equal(c, ynode_get(p.docs.v[0].root, "base"));
    assert_string_equal(ynode_str(ynode_get(p.docs.v[0].root, "t")), "hello");
    parsed_free(&p);

    /* Anchors do not cross documents. */
    p = parse("a: &x 1\n---\nb: *x\n");
    assert_int_equal(p.r, -EINVAL);
    assert_int_equal(p.docs.n, 1);
    parsed_free(&p);

    /* A node cannot alias itself. */
    p = parse("a: &x [*x]\n");
    assert_int_equal(p.r, -EINVAL);
    parsed_free(&p);
}

static void test_alias_bomb(void **state)
{
    (void)state;
    const char *bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                       "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                       "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                       "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                       "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    uint64_t t0 = now_usec();
    struct parsed p = parse(bomb);
    uint64_t dt = now_usec() - t0;

    assert_int_equal(p.r, -EINVAL);
    assert_int_equal(p.docs.n, 0);
    assert_int_equal(p.diags.n, 1);
    assert_non_null(strstr(p.diags.v[0].msg, "200000 nodes"));
    assert_int_equal(p.diags.v[0].line, 6); /* f: 9 x 66430-node copies of e */
    /* Bounded work is proven by the node count above (expansion stops at the
     * limit, line 6); the clock only guards against a hang on a loaded CI. */
    assert_true(dt < 30000000);
    parsed_free(&p);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char buf[512];
    struct parsed p;
    size_t k = 0;

    /* 64 nested sequences are fine, 65 are not. */
    for (int i = 0; i < 64; i++)
        buf[k++] = '[';
    buf[k++] = '1';
    for (int i = 0; i < 64; i++)
        buf[k++] = ']';
    buf[k] = '\0';
    p = parse(buf);
    assert_int_equal(p.r, 0);
    parsed_free(&p);

    k = 0;
    for (int i = 0; i < 65; i++)
        buf[k++] = '[';
    for (int i = 0; i < 65; i++)
        buf[k++] = ']';
    buf[k] = '\0';
    p = parse(buf);
    assert_one_error(&p, 1, 65, "nesting too deep (limit 64");
    parsed_free(&p);

    /* Very deep input fails at the limit, without reading it all. */
    {
        char *deep = xmalloc(1000001);
        memset(deep, '[', 1000000);
        deep[1000000] = '\0';
        p = parse(deep);
        assert_one_error(&p, 1, 65, "nesting too deep");
        parsed_free(&p);
        free(deep);
    }

    /* Alias copies count their depth too. */
    p = parse("a: &a [[[[1]]]]\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]"
              "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n");
    assert_int_equal(p.r, -EINVAL);
    assert_non_null(strstr(p.diags.v[0].msg, "nesting too deep"));
    parsed_free(&p);
}

static char *make_tmpdir(void)
{
    char *d = xstrdup("/tmp/plumbd-test-load-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void put(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void rm_rf(const char *dir)
{
    _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_oversized_file(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *path = xasprintf("%s/big.yaml", dir);
    struct docset docs = { 0 };
    struct diags diags = { 0 };
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, LOAD_MAX_FILE_BYTES + 1), 0);
    close(fd);
    assert_int_equal(load_file(path, &docs, &diags), -EINVAL);
    assert_int_equal(diags.n, 1);
    assert_string_equal(diags.v[0].msg, "file too large (4194305 bytes, limit 4194304)");
    assert_string_equal(diags.v[0].file, path);
    diags_clear(&diags);

    /* Exactly at the limit is read (and here, a plain scalar doc). */
    assert_int_equal(truncate(path, 0), 0);
    put(dir, "big.yaml", "a: 1\n");
    assert_int_equal(load_file(path, &docs, &diags), 0);
    assert_int_equal(docs.n, 1);
    docset_free(&docs);

    /* Missing file through load_file: -ENOENT with a diag. */
    assert_int_equal(load_file("/nonexistent/x.yaml", &docs, &diags), -ENOENT);
    assert_int_equal(diags.n, 1);
    diags_clear(&diags);

    /* load_buffer enforces the same limit. */
    assert_int_equal(load_buffer("b", "", LOAD_MAX_FILE_BYTES + 1, &docs, &diags), -EINVAL);
    assert_int_equal(docs.n, 0);
    diags_clear(&diags);
    rm_rf(dir);
}

static void test_rev(void **state)
{
    (void)state;
    struct parsed a = parse("kind: Pod\nmetadata:\n  name: x\n  labels: {a: b}\n");
    struct parsed b = parse("# comment\nkind:   Pod   # trailing\n\nmetadata: {name: x,\n"
                            "  labels: {\"a\": b}}\n");
    struct parsed c = parse("metadata:\n  labels: {a: b}\n  name: x\nkind: Pod\n");
    struct parsed d = parse("kind: Pod\nmetadata:\n  name: y\n  labels: {a: b}\n");
    struct parsed e = parse("kind: Pod\nmetadata:\n  name: \"x\"\n  labels: {a: b}\n");
    struct parsed f = parse("kind: Pod\nmetadata:\n  name: x\n  labels: [a, b]\n");

    assert_int_equal(strlen(a.docs.v[0].rev), 16);
    assert_string_equal(a.docs.v[0].rev, b.docs.v[0].rev); /* whitespace, comments, style */
    assert_string_equal(a.docs.v[0].rev, c.docs.v[0].rev); /* key order */
    assert_string_not_equal(a.docs.v[0].rev, d.docs.v[0].rev);
    assert_string_not_equal(a.docs.v[0].rev, e.docs.v[0].rev); /* quoted flag */
    assert_string_not_equal(a.docs.v[0].rev, f.docs.v[0].rev);
    parsed_free(&a);
    parsed_free(&b);
    parsed_free(&c);
    parsed_free(&d);
    parsed_free(&e);
    parsed_free(&f);

    /* Same content in a seq: order matters; [ab] vs [a, b] differ. */
    a = parse("x: [ab]\n");
    b = parse("x: [a, b]\n");
    assert_string_not_equal(a.docs.v[0].rev, b.docs.v[0].rev);
    parsed_free(&a);
    parsed_free(&b);
}

static void test_diags(void **state)
{
    (void)state;
    struct diags d = { 0 };
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    diags_add(&d, DIAG_ERROR, "a.yaml", 3, 7, "Pod/default/x", "bad %s", "thing");
    diags_add(&d, DIAG_WARNING, "a.yaml", 4, 1, NULL, "meh");
    diags_add(&d, DIAG_ERROR, "b.yaml", 1, 1, NULL, "oops");
    assert_int_equal(diags_count(&d, DIAG_ERROR), 2);
    assert_int_equal(diags_count(&d, DIAG_WARNING), 1);
    f = open_memstream(&buf, &len);
    diags_print(&d, f);
    fclose(f);
    assert_string_equal(buf, "a.yaml:3:7: Pod/default/x: bad thing\n"
                             "a.yaml:4:1: warning: meh\n"
                             "b.yaml:1:1: oops\n");
    free(buf);
    diags_clear(&d);
    assert_int_equal(d.n, 0);
    assert_null(d.v);
    diags_clear(NULL);
    docset_free(NULL);
    ynode_free(NULL);
}

static void test_name_rules(void **state)
{
    (void)state;
    assert_true(load_name_wanted("a.yaml", false));
    assert_true(load_name_wanted("a.yml", false));
    assert_true(load_name_wanted("a.json", false));
    assert_false(load_name_wanted("a.YAML", false));
    assert_false(load_name_wanted("a.txt", false));
    assert_false(load_name_wanted("yaml", false));
    assert_false(load_name_wanted(".a.yaml", false));
    assert_false(load_name_wanted(".a.yaml.swp", false));
    assert_false(load_name_wanted("a.yaml.swp", false));
    assert_false(load_name_wanted("a.yaml.swx", false));
    assert_false(load_name_wanted("a.yaml~", false));
    assert_false(load_name_wanted("4913", false));
    assert_false(load_name_wanted("#a.yaml#", false));
    assert_false(load_name_wanted(".#a.yaml", false));
    assert_false(load_name_wanted("", false));
    assert_false(load_name_wanted(NULL, false));
    assert_true(load_name_wanted("sub", true));
    assert_true(load_name_wanted("sub.yaml", true));
    assert_false(load_name_wanted("..data", true));
    assert_false(load_name_wanted(".git", true));
    assert_false(load_name_wanted(".", true));
    assert_false(load_name_wanted("..", true));
}

/* One file of a directory, as the walk would read it (the daemon's quick
 * lane): wanted names only, regular files only, and StrictModes. */
static void test_load_file_in_dir(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *ok = xasprintf("%s/p.yaml", dir);
    _cleanup_free_ char *open_to_all = xasprintf("%s/w.yaml", dir);
    _cleanup_free_ char *dropping = xasprintf("%s/p.yaml~", dir);
    _cleanup_free_ char *sub = xasprintf("%s/sub.yaml", dir);
    _cleanup_free_ char *gone = xasprintf("%s/gone.yaml", dir);
    struct docset docs = { 0 };
    struct diags diags = { 0 };

    put(dir, "p.yaml", "kind: Pod\nmetadata: {name: p}\n---\nkind: Pod\nmetadata: {name: q}\n");
    put(dir, "w.yaml", "kind: Pod\nmetadata: {name: w}\n");
    assert_int_equal(chmod(open_to_all, 0666), 0);
    put(dir, "p.yaml~", "kind: Pod\nmetadata: {name: old}\n");
    assert_int_equal(mkdir(sub, 0755), 0);

    assert_int_equal(load_file_in_dir(ok, &docs, &diags), 0);
    assert_int_equal(docs.n, 2);
    assert_string_equal(docs.v[0].file, ok);
    assert_int_equal(docs.v[1].index, 1);
    assert_int_equal(load_file_in_dir(open_to_all, &docs, &diags), -EPERM);
    load_strict_modes = false;
    assert_int_equal(load_file_in_dir(open_to_all, &docs, &diags), 0);
    load_strict_modes = true;
    assert_int_equal(load_file_in_dir(dropping, &docs, &diags), -EINVAL);
    assert_int_equal(load_file_in_dir(sub, &docs, &diags), -EINVAL);
    assert_int_equal(load_file_in_dir(gone, &docs, &diags), -ENOENT);
    assert_int_equal(docs.n, 3); /* p, q, then w without StrictModes */
    assert_int_equal(diags.n, 0);
    docset_free(&docs);
    diags_clear(&diags);
    rm_rf(dir);
}

static void test_load_dir(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *ts = xasprintf("%s/..2026_11_27_21_00_00.123", dir);
    _cleanup_free_ char *sub = xasprintf("%s/sub", dir);
    _cleanup_free_ char *subsub = xasprintf("%s/sub/deeper", dir);
    _cleanup_free_ char *hidden = xasprintf("%s/.git", dir);
    _cleanup_free_ char *missing = xasprintf("%s/nope", dir);
    _cleanup_free_ char *withslash = xasprintf("%s/", dir);
    _cleanup_free_ char *cwd = get_current_dir_name();
    struct docset docs = { 0 };
    struct diags diags = { 0 };
    const char *want[] = { "a.yaml", "b.yml", "c.json", "cm.yaml", "sub/d.yaml",
                           "sub/deeper/e.yaml", "z.yaml" };

    /* ConfigMap layout: ..TS/ real files, ..data -> ..TS, name -> ..data/name */
    assert_int_equal(mkdir(ts, 0755), 0);
    put(ts, "cm.yaml", "kind: Pod\nmetadata: {name: cm}\n");
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(symlink("..2026_11_27_21_00_00.123", "..data"), 0);
    assert_int_equal(symlink("..data/cm.yaml", "cm.yaml"), 0);
    /* Plain files, unsorted creation order. */
    put(dir, "z.yaml", "kind: Pod\nmetadata: {name: z}\n");
    put(dir, "a.yaml", "kind: Pod\nmetadata: {name: a}\n---\n");
    put(dir, "b.yml", "kind: Pod\nmetadata: {name: b}\n");
    put(dir, "c.json", "{\"kind\": \"Pod\", \"metadata\": {\"name\": \"c\"}}\n");
    /* Ignored: dotfiles, droppings, other extensions, dotted dirs. */
    put(dir, ".hidden.yaml", "kind: Pod\n");
    put(dir, "a.yaml~", "kind: Pod\n");
    put(dir, "a.yaml.swp", "kind: Pod\n");
    put(dir, ".a.yaml.swp", "kind: Pod\n");
    put(dir, "4913", "kind: Pod\n");
    put(dir, "#a.yaml#", "kind: Pod\n");
    put(dir, "notes.txt", "kind: Pod\n");
    assert_int_equal(mkdir(hidden, 0755), 0);
    put(hidden, "x.yaml", "kind: Pod\n");
    /* Nested dirs and a loop back to the top. */
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(mkdir(subsub, 0755), 0);
    put(sub, "d.yaml", "kind: Pod\nmetadata: {name: d}\n");
    put(subsub, "e.yaml", "kind: Pod\nmetadata: {name: e}\n");
    assert_int_equal(chdir(subsub), 0);
    assert_int_equal(symlink("../..", "loop"), 0);
    assert_int_equal(symlink("gone.yaml", "dangling.yaml"), 0);
    assert_int_equal(symlink("self.yaml", "self.yaml"), 0);
    assert_int_equal(chdir(cwd), 0);

    assert_int_equal(load_dir(dir, &docs, &diags), 0);
    if (docs.n != ARRAY_SIZE(want)) {
        for (size_t i = 0; i < docs.n; i++)
            print_error("doc %zu: %s\n", i, docs.v[i].file);
        diags_print(&diags, stderr);
        fail();
    }
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, want[i]);
        assert_string_equal(docs.v[i].file, p);
    }
    assert_string_equal(ynode_str(ynode_path(docs.v[3].root, "metadata.name")), "cm");
    /* Only warnings: the loop and the self-referencing link. */
    assert_int_equal(diags_count(&diags, DIAG_ERROR), 0);
    assert_int_equal(diags_count(&diags, DIAG_WARNING), 2);
    docset_free(&docs);
    diags_clear(&diags);

    /* Trailing slash does not double it. */
    assert_int_equal(load_dir(withslash, &docs, &diags), 0);
    assert_int_equal(docs.n, ARRAY_SIZE(want));
    {
        _cleanup_free_ char *p = xasprintf("%s/a.yaml", dir);
        assert_string_equal(docs.v[0].file, p);
    }
    docset_free(&docs);
    diags_clear(&diags);

    /* A bad file is reported; the others still load; the walk returns 0. */
    put(dir, "bad.yaml", "kind: Pod\n---\na: [\n");
    assert_int_equal(load_dir(dir, &docs, &diags), 0);
    assert_int_equal(docs.n, ARRAY_SIZE(want) + 1);
    assert_int_equal(diags_count(&diags, DIAG_ERROR), 1);
    docset_free(&docs);
    diags_clear(&diags);

    assert_int_equal(load_dir(missing, &docs, &diags), -ENOENT);
    {
        _cleanup_free_ char *f = xasprintf("%s/a.yaml", dir);
        assert_int_equal(load_dir(f, &docs, &diags), -ENOTDIR);
    }
    assert_int_equal(docs.n, 0);
    rm_rf(dir);

    /* Empty dir: nothing, no error. */
    {
        _cleanup_free_ char *e = make_tmpdir();
        assert_int_equal(load_dir(e, &docs, &diags), 0);
        assert_int_equal(docs.n, 0);
        assert_int_equal(diags.n, 0);
        rm_rf(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multidoc_positions),
        cmocka_unit_test(test_list_expansion),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_alias),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_oversized_file),
        cmocka_unit_test(test_rev),
        cmocka_unit_test(test_diags),
        cmocka_unit_test(test_name_rules),
        cmocka_unit_test(test_load_file_in_dir),
        cmocka_unit_test(test_load_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
