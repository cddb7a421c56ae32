/* status.c - object status for people and for other processes:
 * the `plumbd status` table / YAML / JSON, and one YAML file per object
 * under <state-dir>/status/, written atomically, stale files removed. */
#include <dirent.h>
#include <jansson.h>
#include <time.h>

#include "reconcile.h"

static void iso_time(int64_t t, char buf[32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A JSON string is also a valid YAML double-quoted scalar. */
static char *quote(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (!j) /* not UTF-8: keep it readable */
        j = json_string("(invalid UTF-8)");
    char *q = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return q;
}

static json_t *status_json(const struct objstatus *s)
{
    char since[32];
    iso_time(s->since, since);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "kind",
                          obj_kind_to_string(s->kind), "namespace", s->ns ? s->ns : "", "name",
                          s->name, "file", s->file ? s->file : "", "revision", s->rev,
                          "condition", "type", condition_to_string(s->cond), "reason",
                          s->reason ? s->reason : "", "message", s->message ? s->message : "",
                          "lastTransitionTime", since);
    if (o && s->source)
        json_object_set_new(o, "source", json_string(s->source));
    if (o && s->network_status) {
        json_t *ns = json_loads(s->network_status, 0, NULL);
        if (ns)
            json_object_set_new(o, "networkStatus", ns);
    }
    return o;
}

char *status_to_yaml(const struct objstatus *s)
{
    char since[32];
    iso_time(s->since, since);
    _cleanup_free_ char *ns = quote(s->ns), *name = quote(s->name), *file = quote(s->file),
                        *reason = quote(s->reason), *msg = quote(s->message);
    char *y = xasprintf("kind: %s\nnamespace: %s\nname: %s\nfile: %s\nrevision: \"%s\"\n"
                        "condition:\n  type: %s\n  reason: %s\n  message: %s\n"
                        "  lastTransitionTime: \"%s\"\n",
                        obj_kind_to_string(s->kind), ns, name, file, s->rev,
                        condition_to_string(s->cond), reason, msg, since);
    if (s->source) {
        char *y2 = xasprintf("%ssource: \"%s\"\n", y, s->source);
        free(y);
        y = y2;
    }
    if (s->network_status) {
        /* JSON is YAML: the Multus record goes in as a flow sequence. */
        char *y2 = xasprintf("%snetworkStatus: %s\n", y, s->network_status);
        free(y);
        y = y2;
    }
    return y;
}

static char *status_filename(const struct objstatus *s)
{
    char *f = s->ns && s->ns[0]
                  ? xasprintf("%s_%s_%s.yaml", obj_kind_to_string(s->kind), s->ns, s->name)
                  : xasprintf("%s_%s.yaml", obj_kind_to_string(s->kind), s->name);
    for (char *c = f; *c; c++)
        if (*c == '/')
            *c = '_';
    return f;
}

/* The files under dir: stale ones (no status in st) are removed; missing[i]
 * (optional) says st[i] has no file. */
static void status_dir_scan(const char *dir, const struct objstatus *st, size_t n,
                            bool *missing)
{
    char **names = xcalloc(n ? n : 1, sizeof(char *));
    struct strmap want = {0};
    for (size_t i = 0; i < n; i++) {
        names[i] = status_filename(&st[i]);
        strmap_put(&want, names[i], i);
        if (missing)
            missing[i] = true;
    }
    DIR *dp = opendir(dir);
    struct dirent *de;
    while (dp && (de = readdir(dp))) {
        size_t len = strlen(de->d_name), i;
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 5, ".yaml") != 0)
            continue;
        if (!strmap_get(&want, de->d_name, &i))
            unlinkat(dirfd(dp), de->d_name, 0);
        else if (missing)
            missing[i] = false;
    }
    if (dp)
        closedir(dp);
    strmap_free(&want);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Write one status file under dir, unless it holds that text already (its
 * mtime then stays). */
static int status_write_one(const char *dir, const struct objstatus *s)
{
    _cleanup_free_ char *name = status_filename(s);
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    _cleanup_free_ char *y = status_to_yaml(s);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (f) {
        char buf[8192];
        size_t len = fread(buf, 1, sizeof(buf), f);
        if (len == strlen(y) && memcmp(buf, y, len) == 0)
            return 0;
    }
    /* A mirror of the database: atomic, but not worth two fsyncs per
     * object on a pass that attaches a thousand pods. */
    return write_file_replace(path, y, strlen(y), false);
}

int status_write_files(const char *state_dir, const struct objstatus *st, size_t n,
                       const bool *changed)
{
    _cleanup_free_ char *dir = xasprintf("%s/status", state_dir);
    int rc = mkdir_p(dir, 0755);
    if (rc < 0)
        return rc;
    bool *missing = xcalloc(n ? n : 1, sizeof(bool));
    status_dir_scan(dir, st, n, missing);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        /* An unchanged status whose file is there: nothing to do (the
         * files mirror the database, which said it is unchanged). */
        if (changed && !changed[i] && !missing[i])
            continue;
        rc = status_write_one(dir, &st[i]);
    }
    free(missing);
    return rc;
}

int status_mirror_scan(const char *state_dir, const struct objstatus *st, size_t n,
                       bool *missing)
{
    _cleanup_free_ char *dir = xasprintf("%s/status", state_dir);
    int rc = mkdir_p(dir, 0755);
    if (rc >= 0)
        status_dir_scan(dir, st, n, missing);
    return rc;
}

int status_mirror_write(const char *state_dir, const struct objstatus *s)
{
    _cleanup_free_ char *dir = xasprintf("%s/status", state_dir);
    return status_write_one(dir, s);
}

int status_print(FILE *f, const struct objstatus *st, size_t n, const char *format)
{
    if (streq(format, "json")) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, status_json(&st[i]));
        char *s = json_dumps(arr, JSON_INDENT(2));
        fprintf(f, "%s\n", s);
        free(s);
        json_decref(arr);
        return 0;
    }
    if (streq(format, "yaml")) {
        for (size_t i = 0; i < n; i++) {
            _cleanup_free_ char *y = status_to_yaml(&st[i]);
            fprintf(f, "---\n%s", y);
        }
        return 0;
    }
    if (!streq(format, "table"))
        return -EINVAL;
    size_t wk = 4, wn = 4, wc = 9, wr = 6;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(obj_kind_to_string(st[i].kind));
        wk = l > wk ? l : wk;
        l = strlen(st[i].name) + (st[i].ns && st[i].ns[0] ? strlen(st[i].ns) + 1 : 0);
        wn = l > wn ? l : wn;
        l = strlen(condition_to_string(st[i].cond));
        wc = l > wc ? l : wc;
        l = st[i].reason ? strlen(st[i].reason) : 0;
        wr = l > wr ? l : wr;
    }
    fprintf(f, "%-*s  %-*s  %-*s  %-*s  %s\n", (int)wk, "KIND", (int)wn, "NAME", (int)wc,
            "CONDITION", (int)wr, "REASON", "MESSAGE");
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *name = st[i].ns && st[i].ns[0]
                                        ? xasprintf("%s/%s", st[i].ns, st[i].name)
                                        : xstrdup(st[i].name);
        fprintf(f, "%-*s  %-*s  %-*s  %-*s  %s\n", (int)wk, obj_kind_to_string(st[i].kind),
                (int)wn, name, (int)wc, condition_to_string(st[i].cond), (int)wr,
                st[i].reason ? st[i].reason : "", st[i].message ? st[i].message : "");
    }
    return 0;
}
