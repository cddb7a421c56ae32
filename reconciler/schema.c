/* schema.c - JSON Schema subset over ynode trees (see schema.h for the
 * keywords). Pure: no I/O beyond the embedded schema strings.
 *
 * Validation collects issues in a list first and hands them to the caller's
 * callback at the end: anyOf/oneOf try each alternative into its own list
 * and keep the best one, so a failed alternative never leaks messages.
 * Cost: one walk of the instance per schema applied to it; anyOf/oneOf
 * multiply that by their number of alternatives. */
#include "schema.h"

#include <jansson.h>
#include <regex.h>
#include <stdarg.h>

#include "embedded.h"
#include "util.h"

#define SCHEMA_MAX_REF_DEPTH 64
#define SCHEMA_PATH_MAX 1024

/* ---- embedded schema cache -------------------------------------------- */

struct cached {
    const char *name;
    struct docset docs;
    bool parsed;
};
static struct cached *cache;
static size_t ncache;

const struct ynode *schema_get(const char *name)
{
    for (size_t i = 0; i < ncache; i++)
        if (streq(cache[i].name, name))
            return cache[i].docs.n ? cache[i].docs.v[0].root : NULL;
    for (const struct embedded_file *f = embedded_schemas; f->name; f++) {
        if (!streq(f->name, name))
            continue;
        struct cached *c = ARRAY_PUSH(cache, ncache);
        c->name = f->name;
        struct diags diags = {0};
        _cleanup_free_ char *label = xasprintf("schema/%s", f->name);
        load_buffer(label, f->data, strlen(f->data), &c->docs, &diags);
        diags_clear(&diags); /* a broken schema fails its unit test */
        c->parsed = true;
        return c->docs.n ? c->docs.v[0].root : NULL;
    }
    return NULL;
}

/* Compiled schema patterns, keyed by the pattern string's address (the
 * schema trees live as long as the cache): compiling a regex per checked
 * scalar dominated validation. */
static struct compiled {
    const char *pat;
    regex_t re;
    bool ok;
} *patterns;
static size_t npatterns;

static const struct compiled *pattern_get(const char *pat)
{
    for (size_t i = 0; i < npatterns; i++)
        if (patterns[i].pat == pat)
            return &patterns[i];
    struct compiled *c = ARRAY_PUSH(patterns, npatterns);
    c->pat = pat;
    c->ok = regcomp(&c->re, pat, REG_EXTENDED | REG_NOSUB) == 0;
    return c;
}

void schema_cache_free(void)
{
    for (size_t i = 0; i < npatterns; i++)
        if (patterns[i].ok)
            regfree(&patterns[i].re);
    free(patterns);
    patterns = NULL;
    npatterns = 0;
    for (size_t i = 0; i < ncache; i++)
        docset_free(&cache[i].docs);
    free(cache);
    cache = NULL;
    ncache = 0;
}

/* ---- JSON -> ynode ------------------------------------------------------ */

static struct ynode *node_at(enum ynode_kind kind, unsigned line, unsigned col)
{
    struct ynode *n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->line = line;
    n->col = col;
    return n;
}

static struct ynode *json_convert(json_t *j, unsigned line, unsigned col)
{
    struct ynode *n;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        size_t i = 0;
        n = node_at(YNODE_MAP, line, col);
        n->n = json_object_size(j);
        n->keys = xcalloc(n->n ? n->n : 1, sizeof(*n->keys));
        n->keypos = xcalloc(n->n ? n->n : 1, sizeof(*n->keypos));
        n->items = xcalloc(n->n ? n->n : 1, sizeof(*n->items));
        json_object_foreach(j, k, v) {
            n->keys[i] = xstrdup(k);
            n->keypos[i] = (struct ykey){.line = line, .col = col, .quoted = true};
            n->items[i] = json_convert(v, line, col);
            i++;
        }
        return n;
    }
    case JSON_ARRAY: {
        n = node_at(YNODE_SEQ, line, col);
        n->n = json_array_size(j);
        n->items = xcalloc(n->n ? n->n : 1, sizeof(*n->items));
        for (size_t i = 0; i < n->n; i++)
            n->items[i] = json_convert(json_array_get(j, i), line, col);
        return n;
    }
    case JSON_STRING:
        n = node_at(YNODE_SCALAR, line, col);
        n->scalar = xstrdup(json_string_value(j));
        n->quoted = true;
        return n;
    case JSON_INTEGER:
        n = node_at(YNODE_SCALAR, line, col);
        n->scalar = xasprintf("%lld", (long long)json_integer_value(j));
        return n;
    case JSON_REAL:
        n = node_at(YNODE_SCALAR, line, col);
        n->scalar = xasprintf("%.17g", json_real_value(j));
        return n;
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        n = node_at(YNODE_SCALAR, line, col);
        n->scalar = xstrdup(json_is_true(j) ? "true" : json_is_false(j) ? "false" : "null");
        return n;
    }
    abort();
}

int schema_json_to_ynode(const char *text, unsigned line, unsigned col, struct ynode **ret)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
    if (!j)
        return -EINVAL;
    *ret = json_convert(j, line, col);
    json_decref(j);
    return 0;
}

/* ---- instance typing ---------------------------------------------------- */

enum itype { IT_NULL, IT_BOOL, IT_INT, IT_NUMBER, IT_STRING, IT_OBJECT, IT_ARRAY };

static bool plain_is_null(const char *s)
{
    return !s || !*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

static bool plain_is_float(const char *s)
{
    char *end;
    if (!strpbrk(s, "0123456789") || strpbrk(s, "xX"))
        return false;
    errno = 0;
    (void)strtod(s, &end);
    return *end == 0 && end != s;
}

static enum itype inst_type(const struct ynode *n)
{
    bool b;
    long long v;
    switch (n->kind) {
    case YNODE_MAP:
        return IT_OBJECT;
    case YNODE_SEQ:
        return IT_ARRAY;
    case YNODE_SCALAR:
        break;
    }
    if (n->quoted)
        return IT_STRING;
    if (plain_is_null(n->scalar))
        return IT_NULL;
    if (ynode_bool(n, &b) == 0)
        return IT_BOOL;
    int r = ynode_int(n, &v);
    if (r == 0 || r == -ERANGE)
        return IT_INT;
    if (plain_is_float(n->scalar))
        return IT_NUMBER;
    return IT_STRING;
}

static bool type_matches(const struct ynode *n, const char *t)
{
    enum itype it = inst_type(n);
    if (streq(t, "string"))
        return it == IT_STRING;
    if (streq(t, "integer"))
        return it == IT_INT;
    if (streq(t, "number"))
        return it == IT_INT || it == IT_NUMBER;
    if (streq(t, "boolean"))
        return it == IT_BOOL;
    if (streq(t, "null"))
        return it == IT_NULL;
    if (streq(t, "object"))
        return it == IT_OBJECT;
    if (streq(t, "array"))
        return it == IT_ARRAY;
    return false;
}

static const char *type_noun(const char *t)
{
    if (streq(t, "string"))
        return "a string";
    if (streq(t, "integer"))
        return "an integer";
    if (streq(t, "number"))
        return "a number";
    if (streq(t, "boolean"))
        return "true or false";
    if (streq(t, "null"))
        return "null";
    if (streq(t, "object"))
        return "a map";
    if (streq(t, "array"))
        return "a list";
    return t;
}

/* A value that asks for nothing: false, null, 0, "" (x-plumbd-unimplemented). */
static bool value_is_default(const struct ynode *n)
{
    switch (inst_type(n)) {
    case IT_NULL:
        return true;
    case IT_BOOL: {
        bool b = true;
        ynode_bool(n, &b);
        return !b;
    }
    case IT_INT:
        return streq(n->scalar, "0");
    case IT_STRING:
        return n->scalar && !n->scalar[0];
    case IT_NUMBER:
    case IT_OBJECT:
    case IT_ARRAY:
        return false;
    }
    return false;
}

/* ---- issues --------------------------------------------------------------- */

struct issue {
    enum diag_severity sev;
    const struct ynode *at; /* NULL: the issue is about a map key, in key */
    struct ynode key;       /* (its text borrowed from the map) */
    char *msg;
};

struct issues {
    struct issue *v;
    size_t n;
    unsigned errors;
};

static void issues_free(struct issues *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].msg);
    free(l->v);
    l->v = NULL;
    l->n = 0;
    l->errors = 0;
}

static void issues_move(struct issues *dst, struct issues *src)
{
    for (size_t i = 0; i < src->n; i++) {
        *ARRAY_PUSH(dst->v, dst->n) = src->v[i];
        if (src->v[i].sev == DIAG_ERROR)
            dst->errors++;
    }
    free(src->v);
    src->v = NULL;
    src->n = 0;
    src->errors = 0;
}

static void issue_vadd(struct issues *l, enum diag_severity sev, const struct ynode *at,
                       const char *fmt, va_list ap)
{
    struct issue *x = ARRAY_PUSH(l->v, l->n);
    x->sev = sev;
    x->at = at;
    if (vasprintf(&x->msg, fmt, ap) < 0)
        abort();
    if (sev == DIAG_ERROR)
        l->errors++;
}

static void __attribute__((format(printf, 4, 5)))
issue_add(struct issues *l, enum diag_severity sev, const struct ynode *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    issue_vadd(l, sev, at, fmt, ap);
    va_end(ap);
}

/* An issue about key i of map n (a key has no node: its position is kept
 * in the issue, reported when the issues are). */
static void __attribute__((format(printf, 5, 6)))
issue_add_key(struct issues *l, enum diag_severity sev, const struct ynode *n, size_t i,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    issue_vadd(l, sev, NULL, fmt, ap);
    va_end(ap);
    ynode_key(n, i, &l->v[l->n - 1].key);
}

/* ---- paths ------------------------------------------------------------------ */

static bool key_is_simple(const char *k)
{
    if (!*k)
        return false;
    for (const char *c = k; *c; c++)
        if (!(*c == '-' || *c == '_' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z')))
            return false;
    return true;
}

static void path_key(char *dst, const char *base, const char *key)
{
    if (key_is_simple(key))
        snprintf(dst, SCHEMA_PATH_MAX, "%s%s%s", base, base[0] ? "." : "", key);
    else
        snprintf(dst, SCHEMA_PATH_MAX, "%s[\"%s\"]", base, key);
}

/* "PATH: " or "" at the root, for "PATH: must be ..." messages. */
#define P(path) (path)[0] ? (path) : "", (path)[0] ? ": " : ""

/* ---- the interpreter ------------------------------------------------------- */

struct sctx {
    const struct ynode *root; /* schema document "#/..." resolves against */
    unsigned depth;
};

static void check(struct sctx *c, const struct ynode *s, const struct ynode *n, const char *path,
                  struct issues *out);

/* "#/a/b" or "file.yaml#/a/b" -> schema node; *root updated for a file switch. */
static const struct ynode *resolve_ref(const char *ref, const struct ynode **root)
{
    const char *hash = strchr(ref, '#');
    const struct ynode *r = *root;
    if (hash != ref) {
        _cleanup_free_ char *file = hash ? xstrndup(ref, (size_t)(hash - ref)) : xstrdup(ref);
        const char *base = strrchr(file, '/');
        r = schema_get(base ? base + 1 : file);
        if (!r)
            return NULL;
    }
    const struct ynode *n = r;
    const char *p = hash ? hash + 1 : "";
    while (*p == '/' && n) {
        p++;
        size_t len = strcspn(p, "/");
        _cleanup_free_ char *seg = xstrndup(p, len);
        /* JSON Pointer escapes: ~1 is '/', ~0 is '~' */
        char *w = seg;
        for (const char *q = seg; *q; q++) {
            if (q[0] == '~' && q[1] == '1')
                *w++ = '/', q++;
            else if (q[0] == '~' && q[1] == '0')
                *w++ = '~', q++;
            else
                *w++ = *q;
        }
        *w = 0;
        if (n->kind == YNODE_SEQ) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            n = *end || i >= n->n ? NULL : n->items[i];
        } else
            n = ynode_get(n, seg);
        p += len;
    }
    if (n)
        *root = r;
    return n;
}

static bool scalar_number(const struct ynode *n, long double *ret)
{
    char *end;
    if (!n || n->kind != YNODE_SCALAR || !n->scalar)
        return false;
    long long v;
    if (ynode_int(n, &v) == 0) {
        *ret = (long double)v;
        return true;
    }
    *ret = strtold(n->scalar, &end);
    return *end == 0 && end != n->scalar;
}

static void fmt_num(char *buf, size_t len, const struct ynode *s)
{
    snprintf(buf, len, "%s", s->scalar ? s->scalar : "?");
}

static void check_type(const struct ynode *s, const struct ynode *n, const char *path,
                       struct issues *out, bool *ret_ok)
{
    const struct ynode *t = ynode_get(s, "type");
    *ret_ok = true;
    if (!t)
        return;
    if (t->kind == YNODE_SCALAR) {
        if (type_matches(n, t->scalar))
            return;
        *ret_ok = false;
        if (streq(t->scalar, "string") && n->kind == YNODE_SCALAR && !n->quoted)
            issue_add(out, DIAG_ERROR, n, "%s%smust be a string (write \"%s\" in quotes)", P(path),
                      n->scalar);
        else
            issue_add(out, DIAG_ERROR, n, "%s%smust be %s", P(path), type_noun(t->scalar));
        return;
    }
    if (t->kind != YNODE_SEQ)
        return;
    char buf[256] = "";
    for (size_t i = 0; i < t->n; i++) {
        if (type_matches(n, ynode_str(t->items[i])))
            return;
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof(buf) - l, "%s%s", i == 0 ? "" : i + 1 == t->n ? " or " : ", ",
                 type_noun(ynode_str(t->items[i])));
    }
    *ret_ok = false;
    issue_add(out, DIAG_ERROR, n, "%s%smust be %s", P(path), buf);
}

static void check_scalar(const struct ynode *s, const struct ynode *n, const char *path,
                         struct issues *out)
{
    const struct ynode *t = ynode_get(s, "type");
    bool is_int_schema = streq(ynode_str(t), "integer");
    enum itype it = inst_type(n);

    const struct ynode *en = ynode_get(s, "enum");
    if (en && en->kind == YNODE_SEQ) {
        bool found = false;
        for (size_t i = 0; i < en->n && !found; i++) {
            const struct ynode *e = en->items[i];
            found = e->kind == YNODE_SCALAR && streq(e->scalar, n->scalar) &&
                    (inst_type(e) == IT_STRING) == (it == IT_STRING);
        }
        if (!found) {
            char buf[512] = "";
            for (size_t i = 0; i < en->n; i++) {
                size_t l = strlen(buf);
                snprintf(buf + l, sizeof(buf) - l, "%s%s", i ? ", " : "",
                         ynode_str(en->items[i]) ?: "?");
            }
            issue_add(out, DIAG_ERROR, n, "%s%s'%s' is not one of %s", P(path), n->scalar, buf);
            return;
        }
    }
    if (it == IT_INT || it == IT_NUMBER) {
        long double v, lim;
        const struct ynode *mn = ynode_get(s, "minimum"), *mx = ynode_get(s, "maximum");
        char nb[64];
        if (scalar_number(n, &v)) {
            if (mn && scalar_number(mn, &lim) && v < lim) {
                fmt_num(nb, sizeof(nb), mn);
                issue_add(out, DIAG_ERROR, n, "%s%smust be %s >= %s", P(path),
                          is_int_schema ? "an integer" : "a number", nb);
            } else if (mx && scalar_number(mx, &lim) && v > lim) {
                fmt_num(nb, sizeof(nb), mx);
                issue_add(out, DIAG_ERROR, n, "%s%smust be %s <= %s", P(path),
                          is_int_schema ? "an integer" : "a number", nb);
            }
        }
    }
    if (it != IT_STRING)
        return;
    long long lim;
    size_t len = strlen(n->scalar);
    if (ynode_int(ynode_get(s, "minLength"), &lim) == 0 && (long long)len < lim) {
        if (lim == 1)
            issue_add(out, DIAG_ERROR, n, "%s%smust not be empty", P(path));
        else
            issue_add(out, DIAG_ERROR, n, "%s%smust be at least %lld bytes long", P(path), lim);
        return;
    }
    if (ynode_int(ynode_get(s, "maxLength"), &lim) == 0 && (long long)len > lim) {
        issue_add(out, DIAG_ERROR, n, "%s%s'%s' is longer than %lld bytes", P(path), n->scalar,
                  lim);
        return;
    }
    const char *pat = ynode_str(ynode_get(s, "pattern"));
    if (pat) {
        const struct compiled *cp = pattern_get(pat);
        if (!cp->ok) {
            issue_add(out, DIAG_ERROR, n, "%s%sschema pattern '%s' does not compile", P(path), pat);
            return;
        }
        int r = regexec(&cp->re, n->scalar, 0, NULL, 0);
        if (r != 0) {
            const char *m = ynode_str(ynode_get(s, "x-plumbd-message"));
            if (m)
                issue_add(out, DIAG_ERROR, n, "%s%s'%s' %s", P(path), n->scalar, m);
            else
                issue_add(out, DIAG_ERROR, n, "%s%s'%s' does not match %s", P(path), n->scalar,
                          pat);
        }
    }
}

static void check_object(struct sctx *c, const struct ynode *s, const struct ynode *n,
                         const char *path, struct issues *out)
{
    char sub[SCHEMA_PATH_MAX];
    const struct ynode *props = ynode_get(s, "properties");
    const struct ynode *req = ynode_get(s, "required");
    const struct ynode *addl = ynode_get(s, "additionalProperties");

    for (size_t i = 0; req && req->kind == YNODE_SEQ && i < req->n; i++) {
        const char *k = ynode_str(req->items[i]);
        if (k && !ynode_get(n, k)) {
            path_key(sub, path, k);
            issue_add(out, DIAG_ERROR, n, "%s is required", sub);
        }
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *ps = ynode_get(props, n->keys[i]);
        path_key(sub, path, n->keys[i]);
        if (ps) {
            const struct ynode *un = ynode_get(ps, "x-plumbd-unimplemented");
            if (un && !value_is_default(n->items[i])) {
                const char *why = un->quoted || inst_type(un) == IT_STRING ? un->scalar : NULL;
                issue_add_key(out, DIAG_WARNING, n, i, "%s is not implemented yet; %s",
                          sub, why ? why : "ignored");
            }
            check(c, ps, n->items[i], sub, out);
        } else if (addl && addl->kind == YNODE_MAP)
            check(c, addl, n->items[i], sub, out);
        else if (addl && inst_type(addl) == IT_BOOL && value_is_default(addl))
            issue_add_key(out, DIAG_WARNING, n, i, "%s is not implemented yet; ignored",
                      sub);
    }
}

static void check_array(struct sctx *c, const struct ynode *s, const struct ynode *n,
                        const char *path, struct issues *out)
{
    char sub[SCHEMA_PATH_MAX];
    long long lim;
    const struct ynode *items = ynode_get(s, "items");
    const struct ynode *more = ynode_get(s, "additionalItems");

    if (ynode_int(ynode_get(s, "minItems"), &lim) == 0 && (long long)n->n < lim)
        issue_add(out, DIAG_ERROR, n, "%s%smust have at least %lld item%s", P(path), lim,
                  lim == 1 ? "" : "s");
    if (ynode_int(ynode_get(s, "maxItems"), &lim) == 0 && (long long)n->n > lim)
        issue_add(out, DIAG_ERROR, n, "%s%smust have at most %lld items", P(path), lim);
    for (size_t i = 0; items && i < n->n; i++) {
        const struct ynode *is = items;
        if (items->kind == YNODE_SEQ)
            is = i < items->n ? items->items[i] : (more && more->kind == YNODE_MAP ? more : NULL);
        if (!is)
            continue;
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        check(c, is, n->items[i], sub, out);
    }
}

/* anyOf (need_one false) or oneOf (need_one true). The alternatives are
 * tried into private lists; a matching one (no errors) contributes its
 * warnings; otherwise the closest one (fewest errors) contributes all. */
static void check_alternatives(struct sctx *c, const struct ynode *alts, const struct ynode *n,
                               const char *path, bool need_one, struct issues *out)
{
    struct issues best = {0};
    size_t matches = 0;
    bool have_best = false;
    for (size_t i = 0; i < alts->n; i++) {
        struct issues tmp = {0}, ty = {0};
        bool type_ok;
        check(c, alts->items[i], n, path, &tmp);
        /* an alternative of another type is the worst match of all */
        check_type(alts->items[i], n, path, &ty, &type_ok);
        issues_free(&ty);
        if (!type_ok)
            tmp.errors += 1000;
        bool better = !have_best || (tmp.errors == 0 && best.errors > 0) ||
                      (tmp.errors > 0 && best.errors > 0 && tmp.errors < best.errors);
        if (tmp.errors == 0)
            matches++;
        if (better) {
            issues_free(&best);
            best = tmp;
            have_best = true;
        } else
            issues_free(&tmp);
    }
    if (need_one && matches > 1)
        issue_add(out, DIAG_ERROR, n, "%s%sis ambiguous: it matches %zu of the allowed forms",
                  P(path), matches);
    issues_move(out, &best);
}

static void check(struct sctx *c, const struct ynode *s, const struct ynode *n, const char *path,
                  struct issues *out)
{
    if (!s || s->kind != YNODE_MAP || !n)
        return; /* `true`/`{}`-like schemas accept anything */
    const char *ref = ynode_str(ynode_get(s, "$ref"));
    if (ref) {
        const struct ynode *root = c->root;
        const struct ynode *target = resolve_ref(ref, &root);
        if (!target) {
            issue_add(out, DIAG_ERROR, n, "%s%sschema $ref '%s' does not resolve", P(path), ref);
            return;
        }
        if (c->depth >= SCHEMA_MAX_REF_DEPTH) {
            issue_add(out, DIAG_ERROR, n, "%s%sschema $ref '%s' nests too deep", P(path), ref);
            return;
        }
        struct sctx inner = {.root = root, .depth = c->depth + 1};
        check(&inner, target, n, path, out);
        return; /* draft-07: keywords next to $ref are ignored */
    }
    bool ok;
    check_type(s, n, path, out, &ok);
    if (!ok)
        return;
    const struct ynode *alts;
    if ((alts = ynode_get(s, "anyOf")) && alts->kind == YNODE_SEQ && alts->n)
        check_alternatives(c, alts, n, path, false, out);
    if ((alts = ynode_get(s, "oneOf")) && alts->kind == YNODE_SEQ && alts->n)
        check_alternatives(c, alts, n, path, true, out);

    const struct ynode *cond = ynode_get(s, "if");
    if (cond && cond->kind == YNODE_MAP) {
        struct issues tmp = {0};
        check(c, cond, n, path, &tmp);
        const struct ynode *branch = ynode_get(s, tmp.errors == 0 ? "then" : "else");
        issues_free(&tmp);
        check(c, branch, n, path, out);
    }

    switch (n->kind) {
    case YNODE_MAP:
        check_object(c, s, n, path, out);
        break;
    case YNODE_SEQ:
        check_array(c, s, n, path, out);
        break;
    case YNODE_SCALAR:
        check_scalar(s, n, path, out);
        if (n->quoted && streq(ynode_str(ynode_get(s, "contentMediaType")), "application/json")) {
            const struct ynode *cs = ynode_get(s, "contentSchema");
            const char *t = n->scalar + strspn(n->scalar, " \t\r\n");
            struct ynode *j = NULL;
            /* Text that is not JSON is left to the caller, which knows
             * the other forms (the annotation's short form) and reports
             * parse errors with the parser's position. */
            if (cs && (*t == '{' || *t == '[') &&
                schema_json_to_ynode(n->scalar, n->line, n->col, &j) == 0) {
                size_t first = out->n;
                check(c, cs, j, path, out);
                /* those issues point into j: re-point them at the string */
                for (size_t i = first; i < out->n; i++)
                    out->v[i].at = n;
                ynode_free(j);
            }
        }
        break;
    }
}

static int run(const struct ynode *root, const struct ynode *schema, const struct ynode *inst,
               const char *path, schema_report_fn report, void *userdata)
{
    struct sctx c = {.root = root};
    struct issues out = {0};
    check(&c, schema, inst, path ? path : "", &out);
    int errors = (int)out.errors;
    for (size_t i = 0; i < out.n; i++)
        if (report)
            report(userdata, out.v[i].sev, out.v[i].at ? out.v[i].at : &out.v[i].key,
                   out.v[i].msg);
    issues_free(&out);
    return errors;
}

int schema_validate_tree(const struct ynode *root, const struct ynode *schema,
                         const struct ynode *inst, const char *path, schema_report_fn report,
                         void *userdata)
{
    return run(root, schema ? schema : root, inst, path, report, userdata);
}

int schema_validate(const char *ref, const struct ynode *inst, const char *path,
                    schema_report_fn report, void *userdata)
{
    const struct ynode *root = NULL;
    const struct ynode *s = resolve_ref(ref, &root);
    if (!s)
        return -ENOENT;
    return run(root, s, inst, path, report, userdata);
}
