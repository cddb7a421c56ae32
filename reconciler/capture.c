/* capture.c - nmpolicy capture expressions and desiredState templates
 * (see capture.h for the language).
 *
 * An expression is lexed into tokens (each with its byte offset, so every
 * error names a position), parsed into one struct cap_expr, and evaluated
 * over jansson trees. Evaluation never modifies its inputs: results share
 * unchanged subtrees by reference and copy what they change. */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>

#include "capture.h"
#include "model.h"
#include "show.h"
#include "util.h"

/* ---- errors --------------------------------------------------------------- */

void capture_error_clear(struct capture_error *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->expr);
    free(e->msg);
    memset(e, 0, sizeof(*e));
}

static void set_err(struct capture_error *e, const char *name, const char *expr, size_t pos,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_err(struct capture_error *e, const char *name, const char *expr, size_t pos,
                    const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    capture_error_clear(e);
    e->name = xstrdup(name ? name : "");
    e->expr = xstrdup(expr ? expr : "");
    e->pos = pos;
    e->msg = msg;
}

char *capture_error_line(const struct capture_error *e)
{
    if (!e->name || !e->name[0])
        return xasprintf("template '%s': %s at position %zu", e->expr ? e->expr : "",
                         e->msg ? e->msg : "error", e->pos);
    return xasprintf("capture %s: %s at position %zu of '%s'", e->name,
                     e->msg ? e->msg : "error", e->pos, e->expr ? e->expr : "");
}

char *capture_error_snippet(const struct capture_error *e)
{
    _cleanup_free_ char *line = capture_error_line(e);
    return xasprintf("%s\n| %s\n| %*s^", line, e->expr ? e->expr : "", (int)e->pos, "");
}

/* ---- lexer ---------------------------------------------------------------- */

enum tok_kind { T_EOF, T_IDENT, T_NUM, T_STR, T_DOT, T_EQ, T_REPLACE, T_PIPE };

struct tok {
    enum tok_kind kind;
    size_t pos;
    char *text;     /* T_IDENT, T_STR: the name or the unquoted string */
    long long num;  /* T_NUM */
};

struct toks {
    struct tok *v;
    size_t n;
};

static void toks_free(struct toks *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].text);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

static const char *tok_name(enum tok_kind k)
{
    switch (k) {
    case T_EOF:
        return "the end";
    case T_IDENT:
        return "a name";
    case T_NUM:
        return "a number";
    case T_STR:
        return "a string";
    case T_DOT:
        return "'.'";
    case T_EQ:
        return "'=='";
    case T_REPLACE:
        return "':='";
    case T_PIPE:
        return "'|'";
    }
    return "?";
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Tokens of s (at most len bytes), always ending with T_EOF. */
static int lex(const char *name, const char *s, size_t len, struct toks *ret,
               struct capture_error *err)
{
    struct toks t = {0};
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        struct tok *k = ARRAY_PUSH(t.v, t.n);
        k->pos = i;
        if (ident_start(c)) {
            size_t j = i;
            while (j < len && ident_char(s[j]))
                j++;
            k->kind = T_IDENT;
            k->text = xstrndup(s + i, j - i);
            i = j;
        } else if (c >= '0' && c <= '9') {
            size_t j = i;
            long long v = 0;
            while (j < len && s[j] >= '0' && s[j] <= '9') {
                if (v > (LLONG_MAX - 9) / 10)
                    goto toolong;
                v = v * 10 + (s[j] - '0');
                j++;
            }
            if (j < len && ident_char(s[j])) {
                set_err(err, name, s, j, "unexpected '%c' in a number", s[j]);
                goto fail;
            }
            k->kind = T_NUM;
            k->num = v;
            i = j;
        } else if (c == '"') {
            /* A string runs to the next unescaped quote; \" and \\ are the
             * only escapes (values are names and addresses). */
            size_t j = i + 1;
            char *buf = xcalloc(len - i + 1, 1);
            size_t n = 0;
            while (j < len && s[j] != '"') {
                if (s[j] == '\\' && j + 1 < len && (s[j + 1] == '"' || s[j + 1] == '\\'))
                    j++;
                buf[n++] = s[j++];
            }
            if (j >= len) {
                free(buf);
                set_err(err, name, s, i, "unterminated string");
                goto fail;
            }
            k->kind = T_STR;
            k->text = buf;
            i = j + 1;
        } else if (c == '.') {
            k->kind = T_DOT;
            i++;
        } else if (c == '|') {
            k->kind = T_PIPE;
            i++;
        } else if (c == '=' && i + 1 < len && s[i + 1] == '=') {
            k->kind = T_EQ;
            i += 2;
        } else if (c == ':' && i + 1 < len && s[i + 1] == '=') {
            k->kind = T_REPLACE;
            i += 2;
        } else if (c == '=') {
            set_err(err, name, s, i,
                    "'=' is not an operator (filter with '==', replace with ':=')");
            goto fail;
        } else {
            set_err(err, name, s, i, "unexpected character '%c'", c);
            goto fail;
        }
    }
    ARRAY_PUSH(t.v, t.n)->pos = len;
    *ret = t;
    return 0;
toolong:
    set_err(err, name, s, t.v[t.n - 1].pos, "number too large");
fail:
    toks_free(&t);
    return -EINVAL;
}

/* ---- parser --------------------------------------------------------------- */

struct cap_step {
    char *key;   /* NULL: an index */
    long long idx;
    size_t pos;
};

struct cap_path {
    struct cap_step *v;
    size_t n;
};

enum val_kind { VAL_STR, VAL_NUM, VAL_BOOL, VAL_REF };

struct cap_value {
    enum val_kind kind;
    size_t pos;
    char *str;          /* VAL_STR */
    long long num;      /* VAL_NUM */
    bool b;             /* VAL_BOOL */
    char *ref;          /* VAL_REF: capture name */
    size_t ref_pos;
    struct cap_path path; /* VAL_REF: steps inside that capture */
};

struct cap_expr {
    char *input;        /* capture whose result is the input; NULL: the live state */
    size_t input_pos;
    struct cap_path path;
    bool replace;       /* := (else ==) */
    size_t op_pos;
    struct cap_value val;
};

static void path_free(struct cap_path *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].key);
    free(p->v);
    memset(p, 0, sizeof(*p));
}

static void expr_free(struct cap_expr *e)
{
    free(e->input);
    path_free(&e->path);
    free(e->val.str);
    free(e->val.ref);
    path_free(&e->val.path);
    memset(e, 0, sizeof(*e));
}

struct parser {
    const char *name, *src;
    struct toks t;
    size_t at;
    struct capture_error *err;
};

static const struct tok *peek(const struct parser *p)
{
    return &p->t.v[p->at < p->t.n ? p->at : p->t.n - 1];
}

static const struct tok *next(struct parser *p)
{
    const struct tok *k = peek(p);
    if (p->at < p->t.n - 1)
        p->at++;
    return k;
}

static int unexpected(struct parser *p, const char *wanted)
{
    const struct tok *k = peek(p);
    if (k->kind == T_IDENT || k->kind == T_STR)
        set_err(p->err, p->name, p->src, k->pos, "expected %s, found %s '%s'", wanted,
                tok_name(k->kind), k->text);
    else
        set_err(p->err, p->name, p->src, k->pos, "expected %s, found %s", wanted,
                tok_name(k->kind));
    return -EINVAL;
}

/* ( '.' (IDENT | NUM) )* : steps appended to path (the caller consumed
 * the first name). */
static int parse_steps(struct parser *p, struct cap_path *path)
{
    while (peek(p)->kind == T_DOT) {
        next(p);
        const struct tok *k = peek(p);
        if (k->kind != T_IDENT && k->kind != T_NUM)
            return unexpected(p, "a key or an index after '.'");
        next(p);
        struct cap_step *s = ARRAY_PUSH(path->v, path->n);
        s->pos = k->pos;
        if (k->kind == T_IDENT)
            s->key = xstrdup(k->text);
        else
            s->idx = k->num;
    }
    return 0;
}

/* A path that may start with capture.NAME: *ret_cap gets NAME (or NULL). */
static int parse_path(struct parser *p, struct cap_path *path, char **ret_cap, size_t *ret_cap_pos)
{
    const struct tok *k = peek(p);
    if (k->kind != T_IDENT)
        return unexpected(p, "a path");
    next(p);
    if (streq(k->text, "capture")) {
        if (peek(p)->kind != T_DOT)
            return unexpected(p, "'.' and a capture name after 'capture'");
        next(p);
        const struct tok *n = peek(p);
        if (n->kind != T_IDENT)
            return unexpected(p, "a capture name after 'capture.'");
        next(p);
        *ret_cap = xstrdup(n->text);
        *ret_cap_pos = n->pos;
    } else {
        struct cap_step *s = ARRAY_PUSH(path->v, path->n);
        s->pos = k->pos;
        s->key = xstrdup(k->text);
    }
    return parse_steps(p, path);
}

static int parse_value(struct parser *p, struct cap_value *v)
{
    const struct tok *k = peek(p);
    v->pos = k->pos;
    switch (k->kind) {
    case T_STR:
        v->kind = VAL_STR;
        v->str = xstrdup(k->text);
        next(p);
        return 0;
    case T_NUM:
        v->kind = VAL_NUM;
        v->num = k->num;
        next(p);
        return 0;
    case T_IDENT:
        if (streq(k->text, "true") || streq(k->text, "false")) {
            v->kind = VAL_BOOL;
            v->b = streq(k->text, "true");
            next(p);
            return 0;
        }
        if (streq(k->text, "capture")) {
            v->kind = VAL_REF;
            return parse_path(p, &v->path, &v->ref, &v->ref_pos);
        }
        break;
    case T_EOF:
    case T_DOT:
    case T_EQ:
    case T_REPLACE:
    case T_PIPE:
        break;
    }
    return unexpected(p, "a \"string\", a number, true, false or capture.NAME.PATH");
}

static int parse_expr(const char *name, const char *src, struct cap_expr *ret,
                      struct capture_error *err)
{
    struct parser p = {.name = name, .src = src, .err = err};
    struct cap_expr e = {0};
    int r = lex(name, src, strlen(src), &p.t, err);
    if (r < 0)
        return r;
    char *cap = NULL;
    size_t cap_pos = 0;
    r = parse_path(&p, &e.path, &cap, &cap_pos);
    if (r < 0)
        goto fail;
    if (peek(&p)->kind == T_PIPE) {
        /* capture.NAME | PATH op VALUE: the pipe takes a whole capture. */
        if (!cap) {
            r = unexpected(&p, "'==' or ':=' (only capture.NAME can be piped)");
            goto fail;
        }
        if (e.path.n) {
            set_err(err, name, src, e.path.v[0].pos,
                    "a pipe takes a whole capture: capture.%s | ...", cap);
            r = -EINVAL;
            goto fail;
        }
        next(&p);
        e.input = TAKE_PTR(cap);
        e.input_pos = cap_pos;
        char *cap2 = NULL;
        size_t pos2 = 0;
        size_t at = peek(&p)->pos;
        r = parse_path(&p, &e.path, &cap2, &pos2);
        bool piped_capture = cap2 != NULL;
        free(cap2);
        if (r >= 0 && piped_capture) {
            set_err(err, name, src, at, "the right of a pipe is a path into the piped state, "
                                        "not a capture");
            r = -EINVAL;
        }
        if (r < 0)
            goto fail;
    } else if (cap) {
        e.input = TAKE_PTR(cap);
        e.input_pos = cap_pos;
    }
    if (e.path.n == 0) {
        r = unexpected(&p, "a path into the capture");
        goto fail;
    }
    const struct tok *op = peek(&p);
    if (op->kind != T_EQ && op->kind != T_REPLACE) {
        r = unexpected(&p, "'==' or ':=' after the path");
        goto fail;
    }
    e.replace = op->kind == T_REPLACE;
    e.op_pos = op->pos;
    next(&p);
    r = parse_value(&p, &e.val);
    if (r < 0)
        goto fail;
    if (peek(&p)->kind != T_EOF) {
        r = unexpected(&p, "the end of the expression");
        goto fail;
    }
    toks_free(&p.t);
    *ret = e;
    return 0;
fail:
    free(cap);
    toks_free(&p.t);
    expr_free(&e);
    return r;
}

int capture_check(const char *name, const char *expr, struct capture_error *ret_err)
{
    struct cap_expr e = {0};
    int r = parse_expr(name, expr, &e, ret_err);
    if (r >= 0)
        expr_free(&e);
    return r;
}

/* ---- evaluation ----------------------------------------------------------- */

struct eval {
    json_t *exprs;      /* name -> expression */
    json_t *current;
    json_t *results;    /* name -> result, filled as captures are evaluated */
    json_t *visiting;   /* names being evaluated (cycle detection) */
    struct capture_error *err;
};

static json_t *eval_capture(struct eval *ev, const char *name, const char *from,
                            const char *from_expr, size_t pos);

static const char *json_kind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "a map";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* Walk steps through v: the subtree (borrowed) or NULL with err naming the
 * step that is not there. what: "capture.NAME" for the messages. */
static json_t *walk(json_t *v, const struct cap_path *path, size_t from, const char *what,
                    const char *name, const char *src, struct capture_error *err)
{
    _cleanup_free_ char *walked = xstrdup(what);
    for (size_t i = from; i < path->n; i++) {
        const struct cap_step *s = &path->v[i];
        json_t *nv = NULL;
        if (s->key && json_is_object(v)) {
            nv = json_object_get(v, s->key);
            if (!nv && i == from && json_object_size(v) == 0) {
                set_err(err, name, src, s->pos, "%s is empty (its filter matched nothing): "
                        "no key '%s'", walked, s->key);
                return NULL;
            }
            if (!nv) {
                set_err(err, name, src, s->pos, "%s has no key '%s'", walked, s->key);
                return NULL;
            }
        } else if (!s->key && json_is_array(v)) {
            if ((size_t)s->idx >= json_array_size(v)) {
                set_err(err, name, src, s->pos, "%s has no entry %lld (it has %zu)", walked,
                        s->idx, json_array_size(v));
                return NULL;
            }
            nv = json_array_get(v, s->idx);
        } else {
            if (s->key)
                set_err(err, name, src, s->pos, "%s is %s, not a map: no key '%s'", walked,
                        json_kind(v), s->key);
            else
                set_err(err, name, src, s->pos, "%s is %s, not a list: no entry %lld", walked,
                        json_kind(v), s->idx);
            return NULL;
        }
        char *w = s->key ? xasprintf("%s.%s", walked, s->key)
                         : xasprintf("%s.%lld", walked, s->idx);
        free(walked);
        walked = w;
        v = nv;
    }
    return v;
}

/* The value an expression compares with or sets: a new reference. */
static json_t *value_json(struct eval *ev, const char *name, const char *src,
                          const struct cap_value *v)
{
    switch (v->kind) {
    case VAL_STR:
        return json_string(v->str);
    case VAL_NUM:
        return json_integer(v->num);
    case VAL_BOOL:
        return json_boolean(v->b);
    case VAL_REF: {
        json_t *res = eval_capture(ev, v->ref, name, src, v->ref_pos);
        if (!res)
            return NULL;
        _cleanup_free_ char *what = xasprintf("capture.%s", v->ref);
        json_t *sub = walk(res, &v->path, 0, what, name, src, ev->err);
        return sub ? json_incref(sub) : NULL;
    }
    }
    return NULL;
}

static bool same_kind(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return true;
    if (json_is_boolean(a) && json_is_boolean(b))
        return true;
    return json_typeof(a) == json_typeof(b);
}

static bool values_equal(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

struct filter {
    struct eval *ev;
    const char *name, *src;
    const struct cap_expr *e;
    json_t *want;
};

/* Does the value at the end of the path equal the filter's? A list of
 * scalars matches when it holds the value (dns-resolver.config.server ==
 * "10.0.0.1"). Different kinds are an error, as in nmpolicy. */
static bool leaf_match(struct filter *f, json_t *have, bool *failed)
{
    if (json_is_array(have) && !json_is_array(f->want)) {
        size_t k;
        json_t *item;
        json_array_foreach(have, k, item)
            if (same_kind(item, f->want) && values_equal(item, f->want))
                return true;
        return false;
    }
    if (!same_kind(have, f->want)) {
        set_err(f->ev->err, f->name, f->src, f->e->val.pos,
                "type mismatch: the state holds %s where the filter has %s", json_kind(have),
                json_kind(f->want));
        *failed = true;
        return false;
    }
    return values_equal(have, f->want);
}

/* Filter v by steps[i..]: NULL when nothing under v matches (or on error,
 * with ev->err set and *failed), else a new reference: a map keeps only
 * the walked key, a list only its matching entries, whole. */
static json_t *filter_at(struct filter *f, json_t *v, size_t i, bool *failed)
{
    const struct cap_path *path = &f->e->path;
    const struct cap_step *s = &path->v[i];
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t k;
        json_t *item;
        json_array_foreach(v, k, item) {
            bool keep;
            if (s->key) {
                /* A key step applies to every entry. */
                json_t *m = filter_at(f, item, i, failed);
                keep = m != NULL;
                json_decref(m);
            } else if ((long long)k != s->idx) {
                continue;
            } else if (i + 1 == path->n) {
                /* The path ends on an index: compare the entry itself. */
                if (!leaf_match(f, item, failed))
                    continue;
                keep = true;
            } else {
                json_t *m = filter_at(f, item, i + 1, failed);
                keep = m != NULL;
                json_decref(m);
            }
            if (*failed) {
                json_decref(out);
                return NULL;
            }
            if (keep)
                json_array_append(out, item);
        }
        if (json_array_size(out) == 0) {
            json_decref(out);
            return NULL;
        }
        return out;
    }
    if (!json_is_object(v) || !s->key)
        return NULL; /* the path does not go through here: no match */
    json_t *child = json_object_get(v, s->key);
    if (!child)
        return NULL;
    if (i + 1 == path->n)
        return leaf_match(f, child, failed) ? json_incref(v) : NULL;
    json_t *sub = filter_at(f, child, i + 1, failed);
    if (!sub)
        return NULL;
    json_t *out = json_object();
    json_object_set_new(out, s->key, sub);
    return out;
}

/* Replace: v with the value at steps[i..] set to want, in every list
 * entry on the way; a new reference (unchanged parts shared). */
static json_t *replace_at(const struct cap_path *path, size_t i, json_t *v, json_t *want)
{
    const struct cap_step *s = &path->v[i];
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t k;
        json_t *item;
        json_array_foreach(v, k, item) {
            if (!s->key && (long long)k != s->idx) {
                json_array_append(out, item);
                continue;
            }
            if (!s->key && i + 1 == path->n)
                json_array_append_new(out, json_deep_copy(want));
            else
                json_array_append_new(out, replace_at(path, s->key ? i : i + 1, item, want));
        }
        return out;
    }
    if (!json_is_object(v) || !s->key)
        return json_incref(v); /* the path does not go through here */
    json_t *child = json_object_get(v, s->key);
    if (i + 1 < path->n && !child)
        return json_incref(v);
    json_t *out = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        if (!streq(key, s->key))
            json_object_set(out, key, val);
        else if (i + 1 == path->n)
            json_object_set_new(out, key, json_deep_copy(want));
        else
            json_object_set_new(out, key, replace_at(path, i + 1, val, want));
    }
    if (!child) /* a replace may add the key */
        json_object_set_new(out, s->key, json_deep_copy(want));
    return out;
}

static json_t *eval_expr(struct eval *ev, const char *name, const char *src,
                         const struct cap_expr *e)
{
    json_t *input = ev->current;
    if (e->input) {
        input = eval_capture(ev, e->input, name, src, e->input_pos);
        if (!input)
            return NULL;
    }
    json_t *want = value_json(ev, name, src, &e->val);
    if (!want)
        return NULL;
    json_t *out;
    if (e->replace) {
        out = replace_at(&e->path, 0, input, want);
    } else {
        struct filter f = {.ev = ev, .name = name, .src = src, .e = e, .want = want};
        bool failed = false;
        out = filter_at(&f, input, 0, &failed);
        if (failed) {
            json_decref(want);
            json_decref(out);
            return NULL;
        }
        if (!out || !json_is_object(out)) {
            /* Nothing matched: the capture is an empty state. */
            json_decref(out);
            out = json_object();
        }
    }
    json_decref(want);
    return out;
}

/* The result of capture `name` (borrowed from ev->results), evaluating it
 * first if needed. from/from_expr/pos: the expression that refers to it,
 * for the errors "unknown capture" and "cycle". */
static json_t *eval_capture(struct eval *ev, const char *name, const char *from,
                            const char *from_expr, size_t pos)
{
    json_t *done = json_object_get(ev->results, name);
    if (done)
        return done;
    json_t *src = json_object_get(ev->exprs, name);
    if (!src) {
        set_err(ev->err, from, from_expr, pos, "unknown capture '%s'", name);
        return NULL;
    }
    if (json_object_get(ev->visiting, name)) {
        set_err(ev->err, from, from_expr, pos, "capture '%s' refers to itself (a cycle)", name);
        return NULL;
    }
    const char *text = json_string_value(src);
    if (!text) {
        set_err(ev->err, name, "", 0, "the expression must be a string");
        return NULL;
    }
    struct cap_expr e = {0};
    if (parse_expr(name, text, &e, ev->err) < 0)
        return NULL;
    json_object_set_new(ev->visiting, name, json_true());
    json_t *res = eval_expr(ev, name, text, &e);
    json_object_del(ev->visiting, name);
    expr_free(&e);
    if (!res)
        return NULL;
    json_object_set_new(ev->results, name, res);
    return res;
}

json_t *capture_eval(json_t *exprs, json_t *current, struct capture_error *ret_err)
{
    struct eval ev = {
        .exprs = exprs,
        .current = current,
        .results = json_object(),
        .visiting = json_object(),
        .err = ret_err,
    };
    const char *name;
    json_t *v;
    json_object_foreach(exprs, name, v) {
        if (!ident_start(name[0])) {
            set_err(ret_err, name, json_string_value(v), 0,
                    "a capture name starts with a letter and holds letters, digits, '-', '_'");
            goto fail;
        }
        for (const char *c = name; *c; c++)
            if (!ident_char(*c)) {
                set_err(ret_err, name, json_string_value(v), 0,
                        "a capture name starts with a letter and holds letters, digits, "
                        "'-', '_'");
                goto fail;
            }
        if (!eval_capture(&ev, name, name, json_string_value(v), 0))
            goto fail;
    }
    /* The results in the order the captures were written. */
    json_t *ordered = json_object();
    json_object_foreach(exprs, name, v)
        json_object_set(ordered, name, json_object_get(ev.results, name));
    json_decref(ev.results);
    json_decref(ev.visiting);
    return ordered;
fail:
    json_decref(ev.results);
    json_decref(ev.visiting);
    return NULL;
}

json_t *capture_ref(json_t *results, const char *ref, struct capture_error *ret_err)
{
    struct parser p = {.name = "", .src = ref, .err = ret_err};
    struct cap_path path = {0};
    char *cap = NULL;
    size_t cap_pos = 0;
    json_t *out = NULL;
    if (lex("", ref, strlen(ref), &p.t, ret_err) < 0)
        return NULL;
    const struct tok *k = peek(&p);
    if (k->kind != T_IDENT || !streq(k->text, "capture")) {
        unexpected(&p, "capture.NAME.PATH");
        goto out;
    }
    if (parse_path(&p, &path, &cap, &cap_pos) < 0)
        goto out;
    if (peek(&p)->kind != T_EOF) {
        unexpected(&p, "the end of the template");
        goto out;
    }
    json_t *res = json_object_get(results, cap);
    if (!res) {
        set_err(ret_err, "", ref, cap_pos, "unknown capture '%s'", cap);
        goto out;
    }
    char *what = xasprintf("capture.%s", cap);
    out = walk(res, &path, 0, what, "", ref, ret_err);
    free(what);
    if (out)
        json_incref(out);
out:
    free(cap);
    path_free(&path);
    toks_free(&p.t);
    return out;
}

/* ---- templates and ynodes -------------------------------------------------- */

bool capture_is_template(const char *s, const char **ret_inner, size_t *ret_len)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    if (n < 4 || strncmp(s, "{{", 2) != 0 || strncmp(s + n - 2, "}}", 2) != 0)
        return false;
    const char *a = s + 2, *b = s + n - 2;
    while (a < b && isspace((unsigned char)*a))
        a++;
    while (b > a && isspace((unsigned char)b[-1]))
        b--;
    if (ret_inner)
        *ret_inner = a;
    if (ret_len)
        *ret_len = b - a;
    return true;
}

static bool all_digits(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

json_t *capture_ynode_json(const struct ynode *n)
{
    if (!n)
        return json_null();
    switch (n->kind) {
    case YNODE_MAP: {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(o, n->keys[i], capture_ynode_json(n->items[i]));
        return o;
    }
    case YNODE_SEQ: {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(a, capture_ynode_json(n->items[i]));
        return a;
    }
    case YNODE_SCALAR:
        break;
    }
    const char *s = n->scalar ? n->scalar : "";
    if (n->quoted)
        return json_string(s);
    if (!s[0] || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL"))
        return json_null();
    if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE"))
        return json_true();
    if (streq(s, "false") || streq(s, "False") || streq(s, "FALSE"))
        return json_false();
    if (all_digits(s)) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == 0)
            return json_integer(v);
    }
    char *end = NULL;
    if (strchr(s, '.') && (isdigit((unsigned char)s[0]) || s[0] == '-') &&
        !strchr(s, ':')) {
        double d = strtod(s, &end);
        if (end && !*end && strspn(s, "0123456789.-+eE") == strlen(s))
            return json_real(d);
    }
    return json_string(s);
}

static struct ynode *ynode_new(enum ynode_kind k, unsigned line, unsigned col)
{
    struct ynode *y = xcalloc(1, sizeof(*y));
    y->kind = k;
    y->line = line;
    y->col = col;
    return y;
}

static struct ynode *scalar_new(const char *s, bool quoted, unsigned line, unsigned col)
{
    struct ynode *y = ynode_new(YNODE_SCALAR, line, col);
    y->scalar = xstrdup(s);
    y->quoted = quoted;
    return y;
}

struct ynode *capture_json_ynode(json_t *v, unsigned line, unsigned col)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        struct ynode *y = ynode_new(YNODE_MAP, line, col);
        size_t n = json_object_size(v);
        y->keys = xcalloc(n ? n : 1, sizeof(*y->keys));
        y->keypos = xcalloc(n ? n : 1, sizeof(*y->keypos));
        y->items = xcalloc(n ? n : 1, sizeof(*y->items));
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) {
            y->keys[y->n] = xstrdup(key);
            y->keypos[y->n] = (struct ykey){.line = line, .col = col};
            y->items[y->n] = capture_json_ynode(val, line, col);
            y->n++;
        }
        return y;
    }
    case JSON_ARRAY: {
        struct ynode *y = ynode_new(YNODE_SEQ, line, col);
        size_t n = json_array_size(v), i;
        json_t *val;
        y->items = xcalloc(n ? n : 1, sizeof(*y->items));
        json_array_foreach(v, i, val)
            y->items[y->n++] = capture_json_ynode(val, line, col);
        return y;
    }
    case JSON_STRING:
        return scalar_new(json_string_value(v), true, line, col);
    case JSON_INTEGER: {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return scalar_new(buf, false, line, col);
    }
    case JSON_REAL: {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
        return scalar_new(buf, false, line, col);
    }
    case JSON_TRUE:
        return scalar_new("true", false, line, col);
    case JSON_FALSE:
        return scalar_new("false", false, line, col);
    case JSON_NULL:
        break;
    }
    return scalar_new("null", false, line, col);
}

/* A copy of n; with resolve, templates are replaced (see capture_expand). */
static struct ynode *expand(const struct ynode *n, json_t *results, bool resolve,
                            struct capture_error *err, unsigned *ret_line, unsigned *ret_col)
{
    const char *inner;
    size_t len;
    if (n->kind == YNODE_SCALAR) {
        if (!resolve || !capture_is_template(n->scalar, &inner, &len))
            return scalar_new(n->scalar ? n->scalar : "", n->quoted, n->line, n->col);
        _cleanup_free_ char *ref = xstrndup(inner, len);
        json_t *v = capture_ref(results, ref, err);
        if (!v) {
            /* Point at the character: the template's column plus the
             * offset of the reference inside the scalar (and the quote). */
            *ret_line = n->line;
            *ret_col = n->col + (n->quoted ? 1 : 0) + (unsigned)(inner - n->scalar) +
                       (unsigned)err->pos;
            return NULL;
        }
        struct ynode *y = capture_json_ynode(v, n->line, n->col);
        json_decref(v);
        return y;
    }
    struct ynode *y = ynode_new(n->kind, n->line, n->col);
    y->items = xcalloc(n->n ? n->n : 1, sizeof(*y->items));
    if (n->kind == YNODE_MAP) {
        y->keys = xcalloc(n->n ? n->n : 1, sizeof(*y->keys));
        y->keypos = xcalloc(n->n ? n->n : 1, sizeof(*y->keypos));
    }
    for (size_t i = 0; i < n->n; i++) {
        struct ynode *c = expand(n->items[i], results, resolve, err, ret_line, ret_col);
        if (!c) {
            ynode_free(y);
            return NULL;
        }
        if (n->kind == YNODE_MAP) {
            y->keys[i] = xstrdup(n->keys[i]);
            y->keypos[i] = n->keypos ? n->keypos[i]
                                     : (struct ykey){.line = n->line, .col = n->col};
        }
        y->items[i] = c;
        y->n = i + 1;
    }
    return y;
}

struct ynode *capture_expand(const struct ynode *n, json_t *results,
                             struct capture_error *ret_err, unsigned *ret_line,
                             unsigned *ret_col)
{
    unsigned line = 0, col = 0;
    struct ynode *y = expand(n, results, true, ret_err, &line, &col);
    if (!y) {
        if (ret_line)
            *ret_line = line;
        if (ret_col)
            *ret_col = col;
    }
    return y;
}

/* ---- the live state ------------------------------------------------------- */

json_t *capture_current_state(const struct live_ns *l, const char *resolv)
{
    json_t *root = show_build(l, resolv);
    if (!root)
        return NULL;
    json_t *routes = json_object_get(root, "routes");
    json_t *cfg = routes ? json_object_get(routes, "config") : NULL;
    if (cfg)
        json_object_set_new(routes, "running", json_deep_copy(cfg));
    return root;
}

/* ---- a pass's documents ---------------------------------------------------- */

static void expr_position(const struct ynode *cap, const char *name, size_t pos, unsigned *line,
                          unsigned *col);

static bool is_policy_doc(const struct ynode *root)
{
    return root && root->kind == YNODE_MAP &&
           streq(ynode_str(ynode_get(root, "kind")), "NodeNetworkConfigurationPolicy");
}

static void doc_share(struct docset *out, const struct doc *d)
{
    struct doc *o = ARRAY_PUSH(out->v, out->n);
    *o = *d;
    o->file = xstrdup(d->file);
    if (o->root)
        o->root->refs++; /* one more owner (ynode_free drops it) */
}

/* The expressions of spec.capture as a JSON object, or NULL when it is
 * not a map of strings (the schema check reports that). */
static json_t *capture_map(const struct ynode *cap)
{
    if (cap->kind != YNODE_MAP)
        return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i < cap->n; i++) {
        const struct ynode *v = cap->items[i];
        if (v->kind != YNODE_SCALAR || !v->scalar) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, cap->keys[i], json_string(v->scalar));
    }
    return o;
}

void capture_error_position(const struct ynode *cap, const struct capture_error *e,
                            unsigned *ret_line, unsigned *ret_col)
{
    expr_position(cap, e->name ? e->name : "", e->pos, ret_line, ret_col);
}

/* Where in the file position pos of capture `name`'s expression is. */
static void expr_position(const struct ynode *cap, const char *name, size_t pos, unsigned *line,
                          unsigned *col)
{
    const struct ynode *v = ynode_get(cap, name);
    if (!v) {
        *line = cap->line;
        *col = cap->col;
        return;
    }
    *line = v->line;
    /* A one-line scalar: the column of the character (after the quote). */
    *col = v->col + (v->quoted ? 1 : 0) + (unsigned)pos;
}

static void fail_policy(struct desired *d, const struct doc *doc, const char *name,
                        unsigned line, unsigned col, const char *msg)
{
    struct object *o = ARRAY_PUSH(d->invalid, d->ninvalid);
    o->kind = OBJ_POLICY;
    o->ns = xstrdup("");
    o->name = xstrdup(name);
    o->file = xstrdup(doc->file);
    o->line = doc->line;
    o->col = doc->col;
    memcpy(o->rev, doc->rev, sizeof(o->rev));
    const char *prune = ynode_str(ynode_get(ynode_path(doc->root, "metadata.annotations"),
                                            "plumbd/prune"));
    o->prune = !streq(prune, "false");
    o->fail_reason = "CaptureError";
    char id[256];
    diags_add(&d->diags, DIAG_ERROR, doc->file, line, col, object_id(o, id, sizeof(id)), "%s",
              msg);
}

/* A copy of the document with spec.desiredState replaced by ds (owned;
 * NULL: the key is dropped). */
static struct ynode *with_desired_state(const struct ynode *root, struct ynode *ds)
{
    struct ynode *copy = expand(root, NULL, false, NULL, NULL, NULL);
    struct ynode *spec = (struct ynode *)ynode_get(copy, "spec");
    for (size_t k = 0; spec && k < spec->n; k++) {
        if (!streq(spec->keys[k], "desiredState"))
            continue;
        ynode_free(spec->items[k]);
        if (ds) {
            spec->items[k] = ds;
            return copy;
        }
        free(spec->keys[k]);
        size_t rest = spec->n - k - 1;
        memmove(&spec->keys[k], &spec->keys[k + 1], rest * sizeof(*spec->keys));
        if (spec->keypos)
            memmove(&spec->keypos[k], &spec->keypos[k + 1], rest * sizeof(*spec->keypos));
        memmove(&spec->items[k], &spec->items[k + 1], rest * sizeof(*spec->items));
        spec->n--;
        return copy;
    }
    ynode_free(ds);
    return copy;
}

static bool has_template(const struct ynode *n)
{
    if (!n)
        return false;
    if (n->kind == YNODE_SCALAR)
        return capture_is_template(n->scalar, NULL, NULL);
    for (size_t i = 0; i < n->n; i++)
        if (has_template(n->items[i]))
            return true;
    return false;
}

bool capture_any(const struct docset *docs)
{
    for (size_t i = 0; i < docs->n; i++)
        if (is_policy_doc(docs->v[i].root) && ynode_path(docs->v[i].root, "spec.capture"))
            return true;
    return false;
}

/* The labels of node `name` as the documents give them (what
 * reconcile.c's node_labels reads from the validated Node). */
static void doc_labels(const struct docset *in, const char *name, struct label **ret,
                       size_t *ret_n)
{
    struct label *v = NULL;
    size_t n = 0;
    struct label *h = ARRAY_PUSH(v, n);
    h->key = xstrdup("kubernetes.io/hostname");
    h->value = xstrdup(name);
    for (size_t i = 0; i < in->n; i++) {
        const struct ynode *root = in->v[i].root;
        if (!root || root->kind != YNODE_MAP ||
            !streq(ynode_str(ynode_get(root, "kind")), "Node") ||
            !streq(ynode_str(ynode_path(root, "metadata.name")), name))
            continue;
        const struct ynode *labels = ynode_path(root, "metadata.labels");
        for (size_t k = 0; labels && labels->kind == YNODE_MAP && k < labels->n; k++) {
            const char *val = ynode_str(labels->items[k]);
            if (!val)
                continue;
            struct label *l = ARRAY_PUSH(v, n);
            l->key = xstrdup(labels->keys[k]);
            l->value = xstrdup(val);
        }
    }
    *ret = v;
    *ret_n = n;
}

static bool doc_selected(const struct ynode *root, const struct label *labels, size_t nlabels)
{
    const struct ynode *sel = ynode_path(root, "spec.nodeSelector");
    if (!sel || sel->kind != YNODE_MAP)
        return true; /* no selector (or a bad one: the validator says so) */
    for (size_t i = 0; i < sel->n; i++) {
        struct label want = {.key = sel->keys[i], .value = (char *)ynode_str(sel->items[i])};
        if (!want.value || !selector_matches(&want, 1, labels, nlabels))
            return false;
    }
    return true;
}

size_t capture_docs(const struct docset *in, const struct capture_source *src, struct docset *out,
                    struct desired *d)
{
    json_t *current = NULL;
    bool current_asked = false;
    size_t fresh = 0;
    /* A policy defined twice: only the first definition (the one in use;
     * the validator refuses the other) captures, or the two revisions
     * would take turns at the stored results and capture on every pass. */
    struct strmap seen = {0};
    struct label *labels = NULL;
    size_t nlabels = 0;
    for (size_t i = 0; i < in->n; i++) {
        const struct doc *doc = &in->v[i];
        const struct ynode *cap = is_policy_doc(doc->root) ? ynode_path(doc->root, "spec.capture")
                                                           : NULL;
        const char *name = is_policy_doc(doc->root)
                               ? ynode_str(ynode_path(doc->root, "metadata.name"))
                               : NULL;
        bool dup = name && strmap_get(&seen, name, NULL);
        if (name && !dup)
            strmap_put(&seen, name, i);
        if (!cap || !name || dup) {
            doc_share(out, doc);
            continue;
        }
        if (src->node_name && !labels)
            doc_labels(in, src->node_name, &labels, &nlabels);
        if (src->node_name && !doc_selected(doc->root, labels, nlabels)) {
            /* Not for this node: nothing to read here; NotMatching. */
            struct doc *o = ARRAY_PUSH(out->v, out->n);
            *o = *doc;
            o->file = xstrdup(doc->file);
            o->root = with_desired_state(doc->root, NULL);
            doc_set_rev(o);
            continue;
        }
        json_t *exprs = capture_map(cap);
        if (!exprs) {
            doc_share(out, doc); /* the schema check reports it */
            continue;
        }
        json_t *results = NULL;
        struct capture_error err = {0};
        bool fresh_now = false;
        _cleanup_free_ char *stored = NULL;
        if (!src->recapture && src->get && src->get(src->ud, name, doc->rev, &stored) == 0)
            results = json_loads(stored, 0, NULL);
        if (!results || !json_is_object(results)) {
            json_decref(results);
            results = NULL;
            if (!current_asked) {
                current_asked = true;
                current = src->current ? src->current(src->ud) : NULL;
            }
            if (!current) {
                fail_policy(d, doc, name, cap->line, cap->col,
                            "cannot read the node's state to evaluate spec.capture");
                json_decref(exprs);
                continue;
            }
            results = capture_eval(exprs, current, &err);
            if (!results) {
                unsigned line, col;
                expr_position(cap, err.name, err.pos, &line, &col);
                _cleanup_free_ char *msg = capture_error_line(&err);
                fail_policy(d, doc, name, line, col, msg);
                capture_error_clear(&err);
                json_decref(exprs);
                continue;
            }
            fresh_now = true;
        }
        json_decref(exprs);
        const struct ynode *ds = ynode_path(doc->root, "spec.desiredState");
        struct ynode *expanded = NULL;
        unsigned line = 0, col = 0;
        if (ds && !(expanded = capture_expand(ds, results, &err, &line, &col))) {
            _cleanup_free_ char *msg = capture_error_line(&err);
            fail_policy(d, doc, name, line, col, msg);
            capture_error_clear(&err);
            json_decref(results);
            continue;
        }
        /* Kept only once the templates expanded: a failed --recapture
         * leaves the last good results for the next pass. */
        if (fresh_now) {
            fresh++;
            if (src->put) {
                _cleanup_free_ char *text = json_dumps(results, JSON_COMPACT);
                src->put(src->ud, name, doc->rev, text);
            }
        }
        json_decref(results);
        if (!expanded) { /* no desiredState: nothing to expand */
            doc_share(out, doc);
            continue;
        }
        struct doc *o = ARRAY_PUSH(out->v, out->n);
        *o = *doc;
        o->file = xstrdup(doc->file);
        o->root = with_desired_state(doc->root, expanded);
        doc_set_rev(o);
    }
    json_decref(current);
    strmap_free(&seen);
    for (size_t i = 0; i < nlabels; i++) {
        free(labels[i].key);
        free(labels[i].value);
    }
    free(labels);
    return fresh;
}

void capture_docs_offline(const struct docset *in, struct docset *out, struct diags *diags)
{
    for (size_t i = 0; i < in->n; i++) {
        const struct doc *doc = &in->v[i];
        const struct ynode *cap = is_policy_doc(doc->root) ? ynode_path(doc->root, "spec.capture")
                                                           : NULL;
        const char *name = ynode_str(ynode_path(doc->root, "metadata.name"));
        const struct ynode *ds = ynode_path(doc->root, "spec.desiredState");
        if (!name || (!cap && !has_template(ds))) {
            doc_share(out, doc);
            continue;
        }
        char id[256];
        snprintf(id, sizeof(id), "NodeNetworkConfigurationPolicy/%s", name);
        json_t *exprs = cap ? capture_map(cap) : json_object();
        if (!exprs) {
            doc_share(out, doc);
            continue;
        }
        const char *cname;
        json_t *v;
        json_object_foreach(exprs, cname, v) {
            struct capture_error err = {0};
            if (capture_check(cname, json_string_value(v), &err) < 0) {
                unsigned line, col;
                expr_position(cap, cname, err.pos, &line, &col);
                _cleanup_free_ char *msg = capture_error_line(&err);
                diags_add(diags, DIAG_ERROR, doc->file, line, col, id, "%s", msg);
            }
            capture_error_clear(&err);
        }
        json_decref(exprs);
        if (!has_template(ds)) {
            doc_share(out, doc);
            continue;
        }
        diags_add(diags, DIAG_WARNING, doc->file, ds->line, ds->col, id,
                  "desiredState uses capture templates: it is checked when the policy is "
                  "applied to a node (plumbd capture --current FILE POLICY shows it expanded)");
        struct doc *o = ARRAY_PUSH(out->v, out->n);
        *o = *doc;
        o->file = xstrdup(doc->file);
        o->root = with_desired_state(doc->root, NULL);
        doc_set_rev(o);
    }
}
