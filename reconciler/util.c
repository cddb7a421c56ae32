/* util.c - small helpers shared by every module: allocation that aborts on
 * OOM, growable arrays, FNV-1a content hashing, clocks, atomic file writes,
 * mkdir -p and interface-name checks. See util.h for the contracts. */
#include "util.h"

#include <ctype.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

static void __attribute__((noreturn)) oom(void)
{
    static const char m[] = "plumbd: out of memory\n";
    ssize_t r = write(STDERR_FILENO, m, sizeof(m) - 1);
    (void)r;
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        oom();
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        oom();
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom();
    return s;
}

/* Grows the array by exactly one element with realloc (glibc grows large
 * blocks in place or with mremap, so this is amortised cheap) and zeroes the
 * new slot. Exact sizing means callers may build arrays with any allocator
 * of ours and keep pushing. Aborts on size overflow or OOM. */
void *array_push(void *arr_ptr, size_t *n, size_t sz)
{
    void **arr = arr_ptr;
    char *p;

    if (sz == 0 || *n >= SIZE_MAX / sz / 2 - 1)
        oom();
    /* Geometric growth without a capacity field: the allocator knows how
     * big the block is (any malloc'd array works, however it was made). */
    p = *arr;
    if (!p || malloc_usable_size(p) < (*n + 1) * sz)
        p = xrealloc(p, (*n < 4 ? 4 : *n * 2) * sz);
    memset(p + *n * sz, 0, sz);
    *arr = p;
    return p + (*n)++ * sz;
}

void array_fit(void *arr_ptr, size_t n, size_t sz)
{
    void **arr = arr_ptr;

    if (!*arr)
        return;
    if (n == 0) {
        free(*arr);
        *arr = NULL;
    } else if (malloc_usable_size(*arr) >= n * sz + 64)
        *arr = xrealloc(*arr, n * sz);
}

/* FNV-1a over len bytes, starting from seed (HASH64_SEED for a fresh hash;
 * a previous result to continue hashing a stream). */
uint64_t hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void hash64_hex(uint64_t h, char ret_hex[17])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 15; i >= 0; i--) {
        ret_hex[i] = hex[h & 0xf];
        h >>= 4;
    }
    ret_hex[16] = '\0';
}

bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && streq(v, "1");
}

uint64_t cpu_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t now_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t now_wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, data, len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Creates "DIR/.BASE.tmp.XXXXXXXXXXXXXXXX" (dot-prefixed so the config
 * loader and most globbing tools ignore it) with O_EXCL, writes, fsyncs,
 * renames over path, then fsyncs the directory (best effort). The temp file
 * is unlinked on every error path. Mode 0644. Cost: two fsyncs. */
int write_file_atomic(const char *path, const char *data, size_t len)
{
    return write_file_replace(path, data, len, true);
}

int write_file_replace(const char *path, const char *data, size_t len, bool durable)
{
    _cleanup_free_ char *dir = NULL, *tmp = NULL;
    _cleanup_close_ int fd = -1;
    const char *slash, *base;
    int r;

    if (!path || !*path || (!data && len > 0))
        return -EINVAL;
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    if (!*base)
        return -EISDIR;
    dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");

    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        uint64_t rnd;
        char hex[17];

        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
            rnd = hash64(&attempt, sizeof(attempt), now_usec() ^ (uint64_t)getpid());
        hash64_hex(rnd, hex);
        free(tmp);
        tmp = xasprintf("%.*s.%s.tmp.%s", (int)(base - path), path, base, hex);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0 && errno != EEXIST)
            return -errno;
    }
    if (fd < 0)
        return -EEXIST;

    r = write_all(fd, data, len);
    if (r == 0 && durable && fsync(fd) < 0)
        r = -errno;
    if (r == 0) {
        int cfd = TAKE_FD(fd);
        if (close(cfd) < 0 && errno != EINTR)
            r = -errno;
    }
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlink(tmp);
        return r;
    }

    /* Make the rename itself durable; failure here does not undo it. */
    if (durable) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
            (void)fsync(dfd);
    }
    return 0;
}

/* mkdir -p: creates every missing component with mode; existing
 * directories are fine, an existing non-directory is -ENOTDIR. */
int mkdir_p(const char *path, unsigned mode)
{
    _cleanup_free_ char *p = NULL;
    struct stat st;

    if (!path || !*path)
        return -EINVAL;
    p = xstrdup(path);
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0) {
            if (errno != EEXIST)
                return -errno;
            if (stat(p, &st) < 0)
                return -errno;
            if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        }
        if (end)
            break;
        *s = '/';
        while (s[1] == '/')
            s++;
        if (s[1] == '\0')
            break;
    }
    return 0;
}

/* Mirrors the kernel's dev_valid_name(): 1..15 bytes, not "." or "..", and
 * no '/', ':' or whitespace (':' is rejected by the kernel too: it was the
 * old alias separator). */
bool ifname_valid(const char *s)
{
    size_t len;

    if (!s)
        return false;
    len = strlen(s);
    if (len == 0 || len >= IFNAMSIZ_PLUMBD)
        return false;
    if (streq(s, ".") || streq(s, ".."))
        return false;
    for (const char *c = s; *c; c++)
        if (*c == '/' || *c == ':' || isspace((unsigned char)*c))
            return false;
    return true;
}

static int lowfd = -1;

void lowfd_reserve(void)
{
    if (lowfd < 0)
        lowfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void lowfd_release(void)
{
    if (lowfd >= 0)
        close(lowfd);
    lowfd = -1;
}

static size_t strmap_slot_of(const struct strmap_slot *slots, size_t cap, const char *key)
{
    size_t i = (size_t)hash64(key, strlen(key), HASH64_SEED) & (cap - 1);
    while (slots[i].key && !streq(slots[i].key, key))
        i = (i + 1) & (cap - 1);
    return i;
}

void strmap_put(struct strmap *m, const char *key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap) { /* at most half full */
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct strmap_slot *v = xcalloc(cap, sizeof(*v));
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                v[strmap_slot_of(v, cap, m->slots[i].key)] = m->slots[i];
        free(m->slots);
        m->slots = v;
        m->cap = cap;
    }
    size_t i = strmap_slot_of(m->slots, m->cap, key);
    if (!m->slots[i].key)
        m->n++;
    m->slots[i].key = key;
    m->slots[i].val = val;
}

bool strmap_get(const struct strmap *m, const char *key, size_t *ret)
{
    if (!m->cap)
        return false;
    size_t i = strmap_slot_of(m->slots, m->cap, key);
    if (!m->slots[i].key)
        return false;
    if (ret)
        *ret = m->slots[i].val;
    return true;
}

void strmap_free(struct strmap *m)
{
    free(m->slots);
    *m = (struct strmap){0};
}

char *path_join(const char *dir, const char *name)
{
    size_t l = strlen(dir);
    return xasprintf("%s%s%s", dir, l > 0 && dir[l - 1] == '/' ? "" : "/", name);
}
