/* dns.c - dns-resolver.config and resolv.conf (see dns.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "dns.h"
#include "util.h"

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void dns_config_free(struct dns_config *c)
{
    strv_free(c->server, c->nserver);
    strv_free(c->search, c->nsearch);
    strv_free(c->options, c->noptions);
    memset(c, 0, sizeof(*c));
}

static bool strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!streq(a[i], b[i]))
            return false;
    return true;
}

bool dns_config_equal(const struct dns_config *a, const struct dns_config *b)
{
    return strv_equal(a->server, a->nserver, b->server, b->nserver) &&
           strv_equal(a->search, a->nsearch, b->search, b->nsearch) &&
           strv_equal(a->options, a->noptions, b->options, b->noptions);
}

static void append(char **buf, size_t *len, const char *s)
{
    size_t n = strlen(s);
    *buf = xrealloc(*buf, *len + n + 1);
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

static void append_line(char **buf, size_t *len, const char *key, char *const *v, size_t n)
{
    if (!n)
        return;
    append(buf, len, key);
    for (size_t i = 0; i < n; i++) {
        append(buf, len, " ");
        append(buf, len, v[i]);
    }
    append(buf, len, "\n");
}

char *dns_render(const struct dns_config *c, const char *owner)
{
    char *buf = NULL;
    size_t len = 0;
    _cleanup_free_ char *h = xasprintf("%s for %s; changes are put back\n", DNS_HEADER,
                                       owner ? owner : "?");
    append(&buf, &len, h);
    append_line(&buf, &len, "search", c->search, c->nsearch);
    for (size_t i = 0; i < c->nserver; i++) {
        _cleanup_free_ char *l = xasprintf("nameserver %s\n", c->server[i]);
        append(&buf, &len, l);
    }
    append_line(&buf, &len, "options", c->options, c->noptions);
    return buf;
}

void dns_parse(const char *text, struct dns_config *ret)
{
    struct dns_config c = {0};
    const char *p = text ? text : "";
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        _cleanup_free_ char *line = xstrndup(p, n);
        p += n + (eol ? 1 : 0);
        char *save = NULL, *key = strtok_r(line, " \t\r", &save);
        if (!key || key[0] == '#' || key[0] == ';')
            continue;
        char ***v = NULL;
        size_t *nv = NULL;
        if (streq(key, "nameserver")) {
            v = &c.server;
            nv = &c.nserver;
        } else if (streq(key, "search") || streq(key, "domain")) {
            /* the last search/domain line wins (glibc) */
            strv_free(c.search, c.nsearch);
            c.search = NULL;
            c.nsearch = 0;
            v = &c.search;
            nv = &c.nsearch;
        } else if (streq(key, "options")) {
            v = &c.options;
            nv = &c.noptions;
        } else {
            c.extra = true;
            continue;
        }
        for (char *w; (w = strtok_r(NULL, " \t\r", &save));) {
            if (w[0] == '#' || w[0] == ';')
                break;
            *ARRAY_PUSH(*v, *nv) = xstrdup(w);
            if (v == &c.server)
                break; /* one address per nameserver line */
        }
    }
    *ret = c;
}

bool dns_file_matches(const char *text, const struct dns_config *c)
{
    struct dns_config have;
    dns_parse(text, &have);
    bool eq = !have.extra && dns_config_equal(c, &have);
    dns_config_free(&have);
    return eq;
}

char *dns_list_format(char *const *v, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    append(&buf, &len, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            append(&buf, &len, ", ");
        append(&buf, &len, v[i]);
    }
    append(&buf, &len, "]");
    return buf;
}

char *dns_mismatch(const struct dns_config *want, const struct dns_config *have)
{
    static const char *const keys[] = {"server", "search", "options"};
    char *const *wv[] = {want->server, want->search, want->options};
    size_t wn[] = {want->nserver, want->nsearch, want->noptions};
    char *const *hv[] = {have->server, have->search, have->options};
    size_t hn[] = {have->nserver, have->nsearch, have->noptions};
    for (size_t k = 0; k < 3; k++) {
        if (strv_equal(wv[k], wn[k], hv[k], hn[k]))
            continue;
        _cleanup_free_ char *a = dns_list_format(wv[k], wn[k]);
        _cleanup_free_ char *b = dns_list_format(hv[k], hn[k]);
        return xasprintf("dns-resolver.%s: desired %s, current %s", keys[k], a, b);
    }
    if (have->extra)
        return xstrdup("dns-resolver: the file holds lines other than nameserver, search and "
                       "options");
    return NULL;
}

int dns_read(const char *path, char **ret)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = (len + 4096 + 1) * 2;
            if (cap > (1u << 20) * 4) { /* a resolv.conf is small */
                free(buf);
                return -EFBIG;
            }
            buf = xrealloc(buf, cap);
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            free(buf);
            return e;
        }
        if (k == 0)
            break;
        len += (size_t)k;
    }
    if (!buf)
        buf = xmalloc(1);
    buf[len] = 0;
    *ret = buf;
    return 0;
}

int dns_write(const char *path, const char *text)
{
    if (!text)
        return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    return write_file_atomic(path, text, strlen(text));
}

bool dns_server_valid(const char *s)
{
    unsigned char buf[16];
    if (!s || !s[0])
        return false;
    if (inet_pton(AF_INET, s, buf) == 1)
        return true;
    const char *pct = strchr(s, '%');
    _cleanup_free_ char *a = xstrndup(s, pct ? (size_t)(pct - s) : strlen(s));
    if (inet_pton(AF_INET6, a, buf) != 1)
        return false;
    if (pct && (!pct[1] || !ifname_valid(pct + 1) || !(buf[0] == 0xfe && (buf[1] & 0xc0) == 0x80)))
        return false; /* a zone only on a link-local address */
    return true;
}

/* A domain name as resolv.conf takes it: labels of letters, digits, '-'
 * and '_', 1..63 bytes, at most 253 in all, an optional final dot. */
bool dns_domain_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 254 || (n == 254 && s[253] != '.') || streq(s, "."))
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!isalnum(ch) && ch != '-' && ch != '_')
            return false;
        if (++label > 63)
            return false;
    }
    return true;
}

/* Loosely: "word" or "word:value", a word of letters, digits, '-' and '_'
 * (glibc ignores options it does not know; so does plumbd). */
bool dns_option_valid(const char *s)
{
    if (!s || !isalpha((unsigned char)s[0]))
        return false;
    const char *c = s;
    while (isalnum((unsigned char)*c) || *c == '-' || *c == '_')
        c++;
    if (*c == 0)
        return true;
    if (*c != ':' || !c[1])
        return false;
    for (c++; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
            return false;
    return true;
}
