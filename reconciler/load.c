/* load.c - YAML/JSON files -> ynode document trees with file:line:column.
 *
 * Built on libyaml's event parser (yaml_parser_parse) rather than its
 * document loader so that every limit is ours and enforced while parsing:
 * file size (checked with fstat before reading), nesting depth, documents
 * per file and nodes per file. Aliases are expanded by deep copy and every
 * copied node counts against LOAD_MAX_NODES_PER_FILE, so a "billion laughs"
 * file fails after at most that many cheap copies.
 *
 * The loader does not validate: it reports syntax errors, duplicate keys,
 * non-scalar keys and limit violations as diagnostics, and leaves meaning to
 * validate.c. A file stops at its first error: documents completed before
 * it are kept, the rest of the file is dropped, and the file returns -EINVAL.
 *
 * libyaml marks are 0-based; every line/col stored here is 1-based.
 * libyaml functions return 1/0; they are translated to -errno only here. */
#include "load.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <yaml.h>

#include "log.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* diagnostics                                                         */

void diags_append(struct diags *dst, const struct diags *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct diag *g = &src->v[i];
        diags_add(dst, g->severity, g->file, g->line, g->col, g->object, "%s", g->msg);
    }
}

void diags_add(struct diags *d, enum diag_severity sev, const char *file, unsigned line,
               unsigned col, const char *object, const char *fmt, ...)
{
    struct diag *x;
    va_list ap;
    int r;

    if (!d)
        return;
    x = ARRAY_PUSH(d->v, d->n);
    x->severity = sev;
    x->file = file ? xstrdup(file) : NULL;
    x->line = line;
    x->col = col;
    x->object = object ? xstrdup(object) : NULL;
    va_start(ap, fmt);
    r = vasprintf(&x->msg, fmt, ap);
    va_end(ap);
    if (r < 0)
        abort();
}

size_t diags_count(const struct diags *d, enum diag_severity sev)
{
    size_t c = 0;

    if (!d)
        return 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].severity == sev)
            c++;
    return c;
}

/* One line per diag: "FILE:LINE:COL: [warning: ][OBJECT: ]MSG". A diag
 * without a file prints "-" in its place. */
void diags_print(const struct diags *d, FILE *f)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        const struct diag *x = &d->v[i];
        fprintf(f, "%s:%u:%u: %s%s%s%s\n", x->file ? x->file : "-", x->line, x->col,
                x->severity == DIAG_WARNING ? "warning: " : "", x->object ? x->object : "",
                x->object ? ": " : "", x->msg);
    }
}

void diags_print_json(const struct diags *d, FILE *f)
{
    json_t *arr = json_array();
    for (size_t i = 0; d && i < d->n; i++) {
        const struct diag *x = &d->v[i];
        json_array_append_new(
            arr, json_pack("{s:s?, s:I, s:I, s:s, s:s?, s:s}", "file", x->file, "line",
                           (json_int_t)x->line, "column", (json_int_t)x->col, "severity",
                           x->severity == DIAG_WARNING ? "warning" : "error", "object",
                           x->object, "message", x->msg ? x->msg : ""));
    }
    json_dumpf(arr, f, JSON_COMPACT);
    fputc('\n', f);
    json_decref(arr);
}

void diags_clear(struct diags *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].object);
        free(d->v[i].msg);
    }
    free(d->v);
    d->v = NULL;
    d->n = 0;
}

/* ------------------------------------------------------------------ */
/* ynode trees                                                         */

void ynode_free(struct ynode *n)
{
    if (!n)
        return;
    if (n->refs) { /* a shared document root: one owner less */
        n->refs--;
        return;
    }
    free(n->scalar);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        if (n->items)
            ynode_free(n->items[i]);
    }
    free(n->keys);
    free(n->keypos);
    free(n->items);
    free(n);
}

const struct ynode *ynode_key(const struct ynode *n, size_t i, struct ynode *tmp)
{
    *tmp = (struct ynode){.kind = YNODE_SCALAR, .line = n->line, .col = n->col};
    if (!n->keys || i >= n->n)
        return tmp;
    tmp->scalar = n->keys[i];
    if (n->keypos) {
        tmp->line = n->keypos[i].line;
        tmp->col = n->keypos[i].col;
        tmp->quoted = n->keypos[i].quoted;
    }
    return tmp;
}

void docset_free(struct docset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].file);
        ynode_free(s->v[i].root);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void ynode_freep(struct ynode **n) { ynode_free(*n); }
#define _cleanup_ynode_ _cleanup_(ynode_freep)

const struct ynode *ynode_get(const struct ynode *map, const char *key)
{
    if (!map || !key || map->kind != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (streq(map->keys[i], key))
            return map->items[i];
    return NULL;
}

/* Walks maps by '.'-separated keys; "" returns root itself. Keys that
 * contain dots (annotations) need ynode_get(). */
const struct ynode *ynode_path(const struct ynode *root, const char *path)
{
    const struct ynode *n = root;

    if (!root || !path)
        return NULL;
    while (*path && n) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        const struct ynode *next = NULL;

        if (len == 0 || n->kind != YNODE_MAP)
            return NULL;
        for (size_t i = 0; i < n->n; i++)
            if (strlen(n->keys[i]) == len && memcmp(n->keys[i], path, len) == 0) {
                next = n->items[i];
                break;
            }
        n = next;
        path += len;
        if (*path == '.') {
            path++;
            if (!*path)
                return NULL;
        }
    }
    return n;
}

const char *ynode_str(const struct ynode *n)
{
    return n && n->kind == YNODE_SCALAR ? n->scalar : NULL;
}

/* YAML 1.1/1.2 boolean words, only when written without quotes: a quoted
 * "true" is a string and yields -EINVAL. */
int ynode_bool(const struct ynode *n, bool *ret)
{
    static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
    static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };

    if (!n || n->kind != YNODE_SCALAR || n->quoted || !n->scalar)
        return -EINVAL;
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
        if (streq(n->scalar, yes[i])) {
            *ret = true;
            return 0;
        }
    for (size_t i = 0; i < ARRAY_SIZE(no); i++)
        if (streq(n->scalar, no[i])) {
            *ret = false;
            return 0;
        }
    return -EINVAL;
}

/* Unquoted integer: optional sign, then decimal digits (leading zeros are
 * still decimal) or 0x/0X hex digits. -EINVAL when not an integer, -ERANGE
 * when it does not fit a long long. */
int ynode_int(const struct ynode *n, long long *ret)
{
    const char *s;
    bool neg = false;
    unsigned base = 10;
    unsigned long long v = 0, limit;

    if (!n || n->kind != YNODE_SCALAR || n->quoted || !n->scalar)
        return -EINVAL;
    s = n->scalar;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return -EINVAL;
    limit = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -EINVAL;
        if (v > (limit - d) / base)
            return -ERANGE;
        v = v * base + d;
    }
    *ret = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* canonical form and revision                                         */

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return hash64(b, sizeof(b), h);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    size_t len = s ? strlen(s) : 0;

    h = hash_u64(h, len);
    return hash64(s ? s : "", len, h);
}

static int cmp_key_index(const void *a, const void *b, void *keys)
{
    char **k = keys;
    return strcmp(k[*(const size_t *)a], k[*(const size_t *)b]);
}

/* Hash of a length-prefixed canonical serialization: node kind, scalar text
 * and quoted flag, map keys (sorted, so key order and key quoting do not
 * matter) and sequence order. Positions, comments, whitespace and scalar
 * style beyond quoted/plain do not enter. Cost: O(n log n) in tree size. */
static uint64_t hash_node(uint64_t h, const struct ynode *n)
{
    switch (n->kind) {
    case YNODE_SCALAR:
        h = hash64(n->quoted ? "q" : "s", 1, h);
        return hash_str(h, n->scalar);
    case YNODE_SEQ:
        h = hash64("[", 1, h);
        h = hash_u64(h, n->n);
        for (size_t i = 0; i < n->n; i++)
            h = hash_node(h, n->items[i]);
        return h;
    case YNODE_MAP: {
        _cleanup_free_ size_t *idx = xcalloc(n->n, sizeof(size_t));

        for (size_t i = 0; i < n->n; i++)
            idx[i] = i;
        qsort_r(idx, n->n, sizeof(size_t), cmp_key_index, n->keys);
        h = hash64("{", 1, h);
        h = hash_u64(h, n->n);
        for (size_t i = 0; i < n->n; i++) {
            h = hash_str(h, n->keys[idx[i]]);
            h = hash_node(h, n->items[idx[i]]);
        }
        return h;
    }
    }
    return h;
}

void doc_set_rev(struct doc *d)
{
    hash64_hex(hash_node(HASH64_SEED, d->root), d->rev);
}

/* ------------------------------------------------------------------ */
/* the event parser                                                    */

struct anchor {
    char *name;
    const struct ynode *node; /* borrowed: lives in the current document */
    size_t size;              /* nodes in that subtree */
};

struct parser {
    const char *name; /* file name for diags and doc->file */
    const char *buf;
    size_t len;
    yaml_parser_t yp;
    struct diags *diags;
    size_t nodes;  /* nodes created for this file, alias copies included */
    unsigned docs; /* documents appended from this file */
    struct anchor *anchors;
    size_t nanchors;
};

static void anchors_clear(struct parser *p)
{
    for (size_t i = 0; i < p->nanchors; i++)
        free(p->anchors[i].name);
    free(p->anchors);
    p->anchors = NULL;
    p->nanchors = 0;
}

/* Add an error diag at 0-based libyaml mark m; returns -EINVAL. */
static int __attribute__((format(printf, 3, 4)))
perr(struct parser *p, yaml_mark_t m, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    diags_add(p->diags, DIAG_ERROR, p->name, (unsigned)m.line + 1, (unsigned)m.column + 1, NULL,
              "%s", msg);
    return -EINVAL;
}

/* Translate a failed yaml_parser_parse() into a diag and an errno. */
static int parser_error(struct parser *p)
{
    yaml_parser_t *y = &p->yp;
    const char *problem = y->problem ? y->problem : "syntax error";

    switch (y->error) {
    case YAML_MEMORY_ERROR:
        diags_add(p->diags, DIAG_ERROR, p->name, 1, 1, NULL, "out of memory while parsing");
        return -ENOMEM;
    case YAML_READER_ERROR: {
        /* Only a byte offset is known: count lines up to it. */
        yaml_mark_t m = { 0, 0, 0 };
        for (size_t i = 0; i < y->problem_offset && i < p->len; i++) {
            if (p->buf[i] == '\n') {
                m.line++;
                m.column = 0;
            } else {
                m.column++;
            }
        }
        if (y->problem_value != -1)
            return perr(p, m, "%s (byte 0x%02x)", problem, (unsigned)y->problem_value & 0xffu);
        return perr(p, m, "%s", problem);
    }
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
    default:
        if (y->context)
            return perr(p, y->problem_mark, "%s (%s at line %zu column %zu)", problem, y->context,
                        y->context_mark.line + 1, y->context_mark.column + 1);
        return perr(p, y->problem_mark, "%s", problem);
    }
}

static int next_event(struct parser *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->yp, ev))
        return parser_error(p);
    return 0;
}

static void yaml_event_deletep(yaml_event_t *ev) { yaml_event_delete(ev); }
#define _cleanup_event_ _cleanup_(yaml_event_deletep)

/* Allocate a node at mark m, counting it against the per-file limit. */
static int node_new(struct parser *p, enum ynode_kind kind, yaml_mark_t m, struct ynode **ret)
{
    struct ynode *n;

    if (p->nodes >= LOAD_MAX_NODES_PER_FILE)
        return perr(p, m, "too many nodes (limit %d per file, alias expansion included)",
                    LOAD_MAX_NODES_PER_FILE);
    p->nodes++;
    n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->line = (unsigned)m.line + 1;
    n->col = (unsigned)m.column + 1;
    *ret = n;
    return 0;
}

/* Grow an array so that index n fits; capacity doubles. */
static void grow(void *arr_ptr, size_t *cap, size_t n, size_t sz)
{
    void **arr = arr_ptr;
    size_t c = *cap ? *cap : 4;

    if (n < *cap)
        return;
    while (c <= n)
        c *= 2;
    *arr = xrealloc(*arr, c * sz);
    *cap = c;
}

/* Deep copy of src for an alias, depth being the nesting level of the copy.
 * Counts every node; children keep their original positions, the copy's
 * root takes the alias's position. */
static int copy_node(struct parser *p, const struct ynode *src, yaml_mark_t at, unsigned depth,
                     struct ynode **ret)
{
    _cleanup_ynode_ struct ynode *n = NULL;
    int r;

    if (src->kind != YNODE_SCALAR && depth > LOAD_MAX_DEPTH)
        return perr(p, at, "nesting too deep (limit %d levels)", LOAD_MAX_DEPTH);
    r = node_new(p, src->kind, at, &n);
    if (r < 0)
        return r;
    n->line = src->line;
    n->col = src->col;
    n->quoted = src->quoted;
    if (src->scalar)
        n->scalar = xstrdup(src->scalar);
    if (src->n > 0) {
        n->items = xcalloc(src->n, sizeof(*n->items));
        if (src->kind == YNODE_MAP) {
            n->keys = xcalloc(src->n, sizeof(*n->keys));
            n->keypos = xcalloc(src->n, sizeof(*n->keypos));
        }
    }
    for (size_t i = 0; i < src->n; i++) {
        yaml_mark_t cm = { 0, src->items[i]->line - 1, src->items[i]->col - 1 };
        n->n = i + 1; /* so a partial copy frees cleanly */
        if (src->kind == YNODE_MAP) {
            n->keys[i] = xstrdup(src->keys[i]);
            if (src->keypos)
                n->keypos[i] = src->keypos[i];
        }
        r = copy_node(p, src->items[i], cm, depth + 1, &n->items[i]);
        if (r < 0)
            return r;
    }
    *ret = TAKE_PTR(n);
    return 0;
}

/* Open-addressing set of key indices, used for duplicate detection once a
 * mapping has more than a handful of keys (keeps huge maps O(n)). */
struct keyset {
    size_t *slot; /* index + 1; 0 = empty */
    size_t cap;
};

static void keyset_insert(struct keyset *ks, char **keys, size_t idx)
{
    size_t mask = ks->cap - 1;
    size_t h = (size_t)hash64(keys[idx], strlen(keys[idx]), HASH64_SEED) & mask;

    while (ks->slot[h])
        h = (h + 1) & mask;
    ks->slot[h] = idx + 1;
}

/* Returns the index of an earlier key equal to keys[idx], or -1. */
static ssize_t keyset_find(const struct keyset *ks, char **keys, size_t idx)
{
    size_t mask = ks->cap - 1;
    size_t h = (size_t)hash64(keys[idx], strlen(keys[idx]), HASH64_SEED) & mask;

    while (ks->slot[h]) {
        if (streq(keys[ks->slot[h] - 1], keys[idx]))
            return (ssize_t)(ks->slot[h] - 1);
        h = (h + 1) & mask;
    }
    return -1;
}

/* Remember key idx; rebuild at double size when half full. */
static void keyset_add(struct keyset *ks, char **keys, size_t idx)
{
    if ((idx + 1) * 2 > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        while ((idx + 1) * 2 > cap)
            cap *= 2;
        free(ks->slot);
        ks->slot = xcalloc(cap, sizeof(size_t));
        ks->cap = cap;
        for (size_t i = 0; i < idx; i++)
            keyset_insert(ks, keys, i);
    }
    keyset_insert(ks, keys, idx);
}

static int parse_node(struct parser *p, const yaml_event_t *ev, unsigned depth, struct ynode **ret);

static int parse_seq(struct parser *p, const yaml_event_t *start, unsigned depth,
                     struct ynode **ret)
{
    _cleanup_ynode_ struct ynode *n = NULL;
    size_t cap = 0;
    int r;

    r = node_new(p, YNODE_SEQ, start->start_mark, &n);
    if (r < 0)
        return r;
    for (;;) {
        _cleanup_event_ yaml_event_t ev = { 0 };
        struct ynode *child = NULL;

        r = next_event(p, &ev);
        if (r < 0)
            return r;
        if (ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        r = parse_node(p, &ev, depth + 1, &child);
        if (r < 0)
            return r;
        grow(&n->items, &cap, n->n, sizeof(*n->items));
        n->items[n->n++] = child;
    }
    *ret = TAKE_PTR(n);
    return 0;
}

static int parse_map(struct parser *p, const yaml_event_t *start, unsigned depth,
                     struct ynode **ret)
{
    _cleanup_ynode_ struct ynode *n = NULL;
    struct keyset ks = { 0 };
    size_t cap = 0, kcap = 0, kpcap = 0;
    int r;

    r = node_new(p, YNODE_MAP, start->start_mark, &n);
    if (r < 0)
        return r;
    for (;;) {
        _cleanup_event_ yaml_event_t kev = { 0 }, vev = { 0 };
        struct ynode *key = NULL, *val = NULL;
        ssize_t dup = -1;

        r = next_event(p, &kev);
        if (r < 0)
            goto out;
        if (kev.type == YAML_MAPPING_END_EVENT)
            break;
        if (kev.type == YAML_MAPPING_START_EVENT || kev.type == YAML_SEQUENCE_START_EVENT) {
            r = perr(p, kev.start_mark, "mapping key must be a scalar");
            goto out;
        }
        r = parse_node(p, &kev, depth + 1, &key);
        if (r < 0)
            goto out;
        if (key->kind != YNODE_SCALAR) { /* an alias to a collection */
            ynode_free(key);
            r = perr(p, kev.start_mark, "mapping key must be a scalar");
            goto out;
        }
        grow(&n->keys, &kcap, n->n, sizeof(*n->keys));
        grow(&n->keypos, &kpcap, n->n, sizeof(*n->keypos));
        grow(&n->items, &cap, n->n, sizeof(*n->items));
        n->keys[n->n] = TAKE_PTR(key->scalar);
        n->keypos[n->n] = (struct ykey){.line = key->line, .col = key->col, .quoted = key->quoted};
        n->items[n->n] = NULL;
        n->n++;
        ynode_free(key);

        if (n->n <= 16) {
            for (size_t i = 0; i + 1 < n->n; i++)
                if (streq(n->keys[i], n->keys[n->n - 1])) {
                    dup = (ssize_t)i;
                    break;
                }
        } else {
            if (ks.cap == 0)
                for (size_t i = 0; i + 1 < n->n; i++)
                    keyset_add(&ks, n->keys, i);
            dup = keyset_find(&ks, n->keys, n->n - 1);
            if (dup < 0)
                keyset_add(&ks, n->keys, n->n - 1);
        }
        if (dup >= 0) {
            r = perr(p, kev.start_mark, "duplicate key \"%s\" (first at line %u column %u)",
                     n->keys[n->n - 1], n->keypos[dup].line, n->keypos[dup].col);
            goto out;
        }

        r = next_event(p, &vev);
        if (r < 0)
            goto out;
        r = parse_node(p, &vev, depth + 1, &val);
        if (r < 0)
            goto out;
        n->items[n->n - 1] = val;
    }
    *ret = TAKE_PTR(n);
    r = 0;
out:
    free(ks.slot);
    return r;
}

static void anchor_add(struct parser *p, const yaml_char_t *name, const struct ynode *node,
                       size_t size)
{
    struct anchor *a = ARRAY_PUSH(p->anchors, p->nanchors);

    a->name = xstrdup((const char *)name);
    a->node = node;
    a->size = size;
}

/* Build the node that starts with event ev (scalar, alias, sequence or
 * mapping start), consuming the events of its children. depth is the
 * nesting level (document root = 1); collections deeper than
 * LOAD_MAX_DEPTH are an error. Anchors are registered once their node is
 * complete, so an alias cannot refer to an enclosing node (no cycles). */
static int parse_node(struct parser *p, const yaml_event_t *ev, unsigned depth, struct ynode **ret)
{
    size_t nodes_before = p->nodes;
    const yaml_char_t *anchor = NULL;
    struct ynode *n = NULL;
    int r;

    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *tag = (const char *)ev->data.scalar.tag;

        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
            return perr(p, ev->start_mark, "scalar contains a NUL character");
        r = node_new(p, YNODE_SCALAR, ev->start_mark, &n);
        if (r < 0)
            return r;
        n->scalar = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        /* An explicit !!str tag makes a plain scalar a string, like quotes. */
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                    streq(tag, YAML_STR_TAG);
        anchor = ev->data.scalar.anchor;
        break;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        const struct anchor *a = NULL;

        for (size_t i = p->nanchors; i > 0; i--)
            if (streq(p->anchors[i - 1].name, name)) {
                a = &p->anchors[i - 1];
                break;
            }
        if (!a)
            return perr(p, ev->start_mark, "undefined alias \"%s\"", name);
        if (p->nodes + a->size > LOAD_MAX_NODES_PER_FILE)
            return perr(p, ev->start_mark,
                        "alias \"%s\" expands past the limit of %d nodes per file", name,
                        LOAD_MAX_NODES_PER_FILE);
        r = copy_node(p, a->node, ev->start_mark, depth, &n);
        if (r < 0)
            return r;
        n->line = (unsigned)ev->start_mark.line + 1;
        n->col = (unsigned)ev->start_mark.column + 1;
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
        if (depth > LOAD_MAX_DEPTH)
            return perr(p, ev->start_mark, "nesting too deep (limit %d levels)", LOAD_MAX_DEPTH);
        r = parse_seq(p, ev, depth, &n);
        if (r < 0)
            return r;
        anchor = ev->data.sequence_start.anchor;
        break;
    case YAML_MAPPING_START_EVENT:
        if (depth > LOAD_MAX_DEPTH)
            return perr(p, ev->start_mark, "nesting too deep (limit %d levels)", LOAD_MAX_DEPTH);
        r = parse_map(p, ev, depth, &n);
        if (r < 0)
            return r;
        anchor = ev->data.mapping_start.anchor;
        break;
    default:
        return perr(p, ev->start_mark, "unexpected YAML event %d", (int)ev->type);
    }
    if (anchor)
        anchor_add(p, anchor, n, p->nodes - nodes_before);
    *ret = n;
    return 0;
}

/* An empty document ("---" followed by nothing, or only comments) parses as
 * a plain null scalar; those are skipped. */
static bool root_is_empty(const struct ynode *n)
{
    if (n->kind != YNODE_SCALAR || n->quoted)
        return false;
    return streq(n->scalar, "") || streq(n->scalar, "~") || streq(n->scalar, "null") ||
           streq(n->scalar, "Null") || streq(n->scalar, "NULL");
}

static int doc_append(struct parser *p, struct docset *out, struct ynode *root)
{
    struct doc *d;

    if (p->docs >= LOAD_MAX_DOCS_PER_FILE) {
        yaml_mark_t m = { 0, root->line - 1, root->col - 1 };
        ynode_free(root);
        return perr(p, m, "too many documents (limit %d per file)", LOAD_MAX_DOCS_PER_FILE);
    }
    d = ARRAY_PUSH(out->v, out->n);
    d->file = xstrdup(p->name);
    d->index = p->docs++;
    d->line = root->line;
    d->col = root->col;
    d->root = root;
    doc_set_rev(d);
    return 0;
}

/* Append root as a document, or each of its items when it is a
 * `kind: List` with an `items:` sequence. Takes ownership of root. */
static int doc_emit(struct parser *p, struct docset *out, struct ynode *root)
{
    const struct ynode *items = ynode_get(root, "items");
    struct ynode *seq;
    int r;

    if (!streq(ynode_str(ynode_get(root, "kind")), "List") || !items || items->kind != YNODE_SEQ)
        return doc_append(p, out, root);

    seq = (struct ynode *)items;
    for (size_t i = 0; i < seq->n; i++) {
        struct ynode *item = TAKE_PTR(seq->items[i]);
        r = doc_append(p, out, item);
        if (r < 0) {
            ynode_free(root);
            return r;
        }
    }
    ynode_free(root);
    return 0;
}

int load_buffer(const char *name, const char *buf, size_t len, struct docset *out,
                struct diags *diags)
{
    struct parser p = { .name = name ? name : "-", .buf = buf, .len = len, .diags = diags };
    yaml_event_t ev = { 0 };
    unsigned stream_docs = 0;
    int r;

    if (!out || (!buf && len > 0))
        return -EINVAL;
    if (len > LOAD_MAX_FILE_BYTES) {
        diags_add(diags, DIAG_ERROR, p.name, 1, 1, NULL, "file too large (%zu bytes, limit %u)",
                  len, LOAD_MAX_FILE_BYTES);
        return -EINVAL;
    }
    if (!yaml_parser_initialize(&p.yp)) {
        diags_add(diags, DIAG_ERROR, p.name, 1, 1, NULL, "cannot initialize YAML parser");
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)(buf ? buf : ""), len);

    r = next_event(&p, &ev); /* STREAM_START */
    yaml_event_delete(&ev);
    while (r >= 0) {
        struct ynode *root = NULL;

        r = next_event(&p, &ev);
        if (r < 0)
            break;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_DOCUMENT_START_EVENT) {
            r = perr(&p, ev.start_mark, "unexpected YAML event %d", (int)ev.type);
            yaml_event_delete(&ev);
            break;
        }
        if (++stream_docs > LOAD_MAX_DOCS_PER_FILE) {
            r = perr(&p, ev.start_mark, "too many documents (limit %d per file)",
                     LOAD_MAX_DOCS_PER_FILE);
            yaml_event_delete(&ev);
            break;
        }
        yaml_event_delete(&ev);

        r = next_event(&p, &ev);
        if (r < 0)
            break;
        r = parse_node(&p, &ev, 1, &root);
        yaml_event_delete(&ev);
        if (r < 0)
            break;
        r = next_event(&p, &ev); /* DOCUMENT_END */
        yaml_event_delete(&ev);
        anchors_clear(&p); /* anchors are scoped to their document */
        if (r < 0) {
            ynode_free(root);
            break;
        }
        if (root_is_empty(root)) {
            ynode_free(root);
            continue;
        }
        r = doc_emit(&p, out, root);
    }
    anchors_clear(&p);
    yaml_parser_delete(&p.yp);
    return r < 0 ? r : 0;
}

/* Open, size-check with fstat, read and parse one file. When quiet_enoent,
 * a missing file returns -ENOENT without a diag (a file that vanished
 * between readdir and open). Other I/O errors add a diag and return -errno. */
static int load_file_full(const char *path, struct docset *out, struct diags *diags,
                          bool quiet_enoent)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0, cap;
    struct stat st;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int r = -errno;
        if (!(quiet_enoent && r == -ENOENT))
            diags_add(diags, DIAG_ERROR, path, 1, 1, NULL, "cannot open: %s", strerror(-r));
        return r;
    }
    if (fstat(fd, &st) < 0) {
        int r = -errno;
        diags_add(diags, DIAG_ERROR, path, 1, 1, NULL, "cannot stat: %s", strerror(-r));
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        diags_add(diags, DIAG_ERROR, path, 1, 1, NULL, "not a regular file");
        return -EINVAL;
    }
    if (st.st_size > (off_t)LOAD_MAX_FILE_BYTES) {
        diags_add(diags, DIAG_ERROR, path, 1, 1, NULL, "file too large (%lld bytes, limit %u)",
                  (long long)st.st_size, LOAD_MAX_FILE_BYTES);
        return -EINVAL;
    }
    /* The file may grow after fstat: read until EOF, but never past the limit. */
    cap = (size_t)st.st_size + 1;
    buf = xmalloc(cap);
    for (;;) {
        ssize_t k;
        if (len == cap) {
            if (cap > LOAD_MAX_FILE_BYTES) {
                diags_add(diags, DIAG_ERROR, path, 1, 1, NULL,
                          "file too large (more than %u bytes, limit %u)", LOAD_MAX_FILE_BYTES,
                          LOAD_MAX_FILE_BYTES);
                return -EINVAL;
            }
            cap = cap * 2 > LOAD_MAX_FILE_BYTES + 1 ? LOAD_MAX_FILE_BYTES + 1 : cap * 2;
            buf = xrealloc(buf, cap);
        }
        k = read(fd, buf + len, cap - len);
        if (k < 0) {
            int r = -errno;
            if (r == -EINTR)
                continue;
            diags_add(diags, DIAG_ERROR, path, 1, 1, NULL, "read error: %s", strerror(-r));
            return r;
        }
        if (k == 0)
            break;
        len += (size_t)k;
    }
    return load_buffer(path, buf, len, out, diags);
}

int load_file(const char *path, struct docset *out, struct diags *diags)
{
    if (!path || !out)
        return -EINVAL;
    return load_file_full(path, out, diags, false);
}

/* ------------------------------------------------------------------ */
/* directory walk                                                      */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Name rules. Skipped for every entry: names starting with '.' (this also
 * covers ".", "..", ConfigMap's "..data"/"..2026_..." and editor files like
 * ".x.yaml.swp" and emacs ".#x.yaml" locks; the dotted targets are still
 * read through non-dotted symlinks because the walk follows links). For
 * files, these editor droppings are ignored: "*.swp", "*.swx", "*.swo",
 * "*.swn" (vim swap), "*~" (backups), "4913" (vim's write test), "#*#"
 * (emacs autosave); and then only "*.yaml", "*.yml", "*.json" are wanted
 * (case-sensitive). */
bool load_name_wanted(const char *name, bool is_dir)
{
    size_t len;

    if (!name || !*name || name[0] == '.')
        return false;
    if (is_dir)
        return true;
    len = strlen(name);
    if (has_suffix(name, ".swp") || has_suffix(name, ".swx") || has_suffix(name, ".swo") ||
        has_suffix(name, ".swn") || has_suffix(name, "~") || streq(name, "4913") ||
        (len >= 2 && name[0] == '#' && name[len - 1] == '#'))
        return false;
    return has_suffix(name, ".yaml") || has_suffix(name, ".yml") || has_suffix(name, ".json");
}

struct dirid {
    dev_t dev;
    ino_t ino;
};

struct walk {
    struct docset *out;
    struct diags *diags;
    struct load_cache *cache;
    struct dirid *seen; /* every directory read so far */
    size_t nseen;
};

#define LOAD_MAX_DIR_DEPTH 32

bool load_strict_modes = true;

/* StrictModes: may someone other than the owner write it? */
static bool mode_insecure(const struct stat *st)
{
    return load_strict_modes && (st->st_mode & (S_IWGRP | S_IWOTH));
}

static void diag_insecure(struct diags *diags, const char *path, const struct stat *st)
{
    diags_add(diags, DIAG_ERROR, path, 1, 1, NULL,
              "refused: %s is group- or world-writable (mode %04o); run chmod go-w on it, or "
              "pass --insecure-config",
              S_ISDIR(st->st_mode) ? "directory" : "file", (unsigned)(st->st_mode & 07777));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Read one directory (already identified by st): sorted names, recursing
 * into wanted subdirectories. Problems with single entries become diags;
 * returns -errno only when dir itself cannot be read. */
static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t ts_ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static bool ts_eq(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static void cached_release(struct load_cached *c)
{
    for (size_t i = 0; i < c->ndocs; i++) {
        free(c->docs[i].file);
        ynode_free(c->docs[i].root);
    }
    free(c->docs);
    c->docs = NULL;
    c->ndocs = 0;
}

static struct load_cached *cached_find(struct load_cache *cache, const char *path)
{
    size_t i;
    return strmap_get(&cache->bypath, path, &i) ? &cache->v[i] : NULL;
}

/* One file through the cache: shared documents when it is unchanged, a
 * fresh parse (remembered when clean) otherwise. */
static void load_cached_file(struct walk *w, const char *path, const struct stat *st)
{
    struct load_cache *cache = w->cache;
    struct load_cached *c = cached_find(cache, path);
    if (c && c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
        ts_eq(&c->mtime, &st->st_mtim) && ts_eq(&c->ctime, &st->st_ctim) &&
        ts_ns(&st->st_ctim) + 1000000000 < c->read_ns) {
        for (size_t i = 0; i < c->ndocs; i++) {
            struct doc *d = ARRAY_PUSH(w->out->v, w->out->n);
            *d = c->docs[i];
            d->file = xstrdup(c->docs[i].file);
            d->root->refs++;
        }
        c->gen = cache->gen;
        cache->hits++;
        return;
    }
    cache->misses++;
    int64_t read_ns = wall_ns();
    size_t first = w->out->n, ndiags = w->diags->n;
    int r = load_file_full(path, w->out, w->diags, true);
    if (r == -ENOENT)
        log_debug(path, "vanished before it could be read, skipped");
    if (!c) {
        c = ARRAY_PUSH(cache->v, cache->n);
        c->path = xstrdup(path);
        strmap_put(&cache->bypath, c->path, cache->n - 1);
    }
    cached_release(c);
    c->gen = cache->gen;
    /* Only a clean read is worth remembering (a file with problems is
     * read again, so its reports are made again). */
    if (r < 0 || w->diags->n != ndiags) {
        c->read_ns = 0; /* never matches */
        return;
    }
    c->dev = st->st_dev;
    c->ino = st->st_ino;
    c->size = st->st_size;
    c->mtime = st->st_mtim;
    c->ctime = st->st_ctim;
    c->read_ns = read_ns;
    for (size_t i = first; i < w->out->n; i++) {
        struct doc *d = ARRAY_PUSH(c->docs, c->ndocs);
        *d = w->out->v[i];
        d->file = xstrdup(w->out->v[i].file);
        d->root->refs++;
    }
}

void load_cache_sweep(struct load_cache *cache)
{
    for (size_t i = 0; i < cache->n;) {
        if (cache->v[i].gen == cache->gen) {
            i++;
            continue;
        }
        cached_release(&cache->v[i]);
        free(cache->v[i].path);
        cache->v[i] = cache->v[--cache->n];
    }
    strmap_free(&cache->bypath);
    for (size_t i = 0; i < cache->n; i++)
        strmap_put(&cache->bypath, cache->v[i].path, i);
    cache->gen++;
}

void load_cache_free(struct load_cache *cache)
{
    for (size_t i = 0; i < cache->n; i++) {
        cached_release(&cache->v[i]);
        free(cache->v[i].path);
    }
    free(cache->v);
    cache->v = NULL;
    cache->n = 0;
    strmap_free(&cache->bypath);
}

int load_file_in_dir(const char *path, struct docset *out, struct diags *diags)
{
    const char *base = strrchr(path, '/');
    struct stat st;

    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || !load_name_wanted(base ? base + 1 : path, false))
        return -EINVAL;
    if (mode_insecure(&st))
        return -EPERM;
    return load_file(path, out, diags);
}

static int walk_dir(struct walk *w, const char *dir, const struct stat *st, unsigned depth)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;
    struct dirid *id;

    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino) {
            diags_add(w->diags, DIAG_WARNING, dir, 1, 1, NULL,
                      "directory already read through another path (symlink loop?), skipped");
            return 0;
        }
    id = ARRAY_PUSH(w->seen, w->nseen);
    id->dev = st->st_dev;
    id->ino = st->st_ino;

    d = opendir(dir);
    if (!d)
        return -errno;
    while ((errno = 0, de = readdir(d))) {
        if (!load_name_wanted(de->d_name, true)) /* dot rule, both kinds */
            continue;
        *(char **)ARRAY_PUSH(names, n) = xstrdup(de->d_name);
    }
    if (errno) {
        int r = -errno;
        closedir(d);
        strv_free(names, n);
        return r;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str);

    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = path_join(dir, names[i]);
        struct stat cst;
        int r;

        if (stat(path, &cst) < 0) {
            /* Vanished, or a dangling link mid-swap: not an error. */
            if (errno == ENOENT)
                continue;
            diags_add(w->diags, DIAG_WARNING, path, 1, 1, NULL, "cannot stat: %s",
                      strerror(errno));
            continue;
        }
        if ((S_ISDIR(cst.st_mode) || (S_ISREG(cst.st_mode) && load_name_wanted(names[i], false))) &&
            mode_insecure(&cst)) {
            diag_insecure(w->diags, path, &cst);
            continue;
        }
        if (S_ISDIR(cst.st_mode)) {
            if (depth >= LOAD_MAX_DIR_DEPTH) {
                diags_add(w->diags, DIAG_WARNING, path, 1, 1, NULL,
                          "directory nested too deep (limit %d), skipped", LOAD_MAX_DIR_DEPTH);
                continue;
            }
            r = walk_dir(w, path, &cst, depth + 1);
            if (r < 0 && r != -ENOENT)
                diags_add(w->diags, DIAG_ERROR, path, 1, 1, NULL, "cannot read directory: %s",
                          strerror(-r));
            continue;
        }
        if (!S_ISREG(cst.st_mode) || !load_name_wanted(names[i], false))
            continue;
        if (w->cache) {
            load_cached_file(w, path, &cst);
            continue;
        }
        r = load_file_full(path, w->out, w->diags, true);
        if (r == -ENOENT)
            log_debug(path, "vanished before it could be read, skipped");
    }
    strv_free(names, n);
    return 0;
}

/* Returns 0 once dir was walked, even when single files had errors (those
 * are in diags, error severity, and their good documents are in out);
 * -ENOENT/-ENOTDIR/-EACCES... when dir itself cannot be read. */
int load_dir(const char *dir, struct docset *out, struct diags *diags)
{
    return load_dir_cached(dir, NULL, out, diags);
}

int load_dir_cached(const char *dir, struct load_cache *cache, struct docset *out,
                    struct diags *diags)
{
    struct walk w = { .out = out, .diags = diags, .cache = cache };
    struct stat st;
    int r;

    if (!dir || !out)
        return -EINVAL;
    if (stat(dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if (mode_insecure(&st)) {
        diag_insecure(diags, dir, &st);
        log_error(dir, "refusing a group- or world-writable config directory (mode %04o); "
                       "run chmod go-w on it, or pass --insecure-config",
                  (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    r = walk_dir(&w, dir, &st, 0);
    free(w.seen);
    return r;
}
