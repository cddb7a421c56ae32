/* util.h - small helpers shared by every module: cleanup attributes,
 * ownership transfer, string helpers, content hashing.
 *
 * Conventions (see STYLE.md): functions that can fail return a negative
 * errno; output parameters are named ret_* and are untouched on failure. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define IFNAMSIZ_PLUMBD 16 /* kernel IFNAMSIZ: 15 bytes + NUL */

/* Hand a pointer out of a cleanup scope: returns it and clears the source. */
#define TAKE_PTR(p)                                                            \
    ({                                                                         \
        __typeof__(p) _tp = (p);                                               \
        (p) = NULL;                                                            \
        _tp;                                                                   \
    })

#define TAKE_FD(fd)                                                            \
    ({                                                                         \
        int _tf = (fd);                                                        \
        (fd) = -1;                                                             \
        _tf;                                                                   \
    })

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
static inline void fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* xmalloc family: abort on OOM (a daemon that cannot allocate a few bytes
 * cannot do anything useful; failing loudly beats corrupt state). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* dir + "/" + name, without doubling a slash dir already ends with. */
char *path_join(const char *dir, const char *name);

/* Grow *arr (of *n elements of size sz) by one zeroed element; returns it. */
void *array_push(void *arr_ptr, size_t *n, size_t sz);
#define ARRAY_PUSH(arr, n) ((__typeof__(arr))array_push(&(arr), &(n), sizeof(*(arr))))
/* Give an array built by ARRAY_PUSH back its spare room (it can keep
 * growing afterwards): for arrays that are kept, one per pod namespace. */
void array_fit(void *arr_ptr, size_t n, size_t sz);

/* FNV-1a 64-bit; used for content revisions and deterministic names. */
uint64_t hash64(const void *data, size_t len, uint64_t seed);
#define HASH64_SEED 0xcbf29ce484222325ULL
/* 16 lowercase hex digits + NUL */
void hash64_hex(uint64_t h, char ret_hex[17]);

/* A string -> index map (open addressing, FNV-1a): the per-pass lookups
 * by object id, netns path or file name that were linear scans. Keys are
 * borrowed and must outlive the map. */
struct strmap {
    struct strmap_slot {
        const char *key;
        size_t val;
    } *slots;
    size_t cap, n;
};
void strmap_put(struct strmap *m, const char *key, size_t val); /* replaces */
bool strmap_get(const struct strmap *m, const char *key, size_t *ret);
void strmap_free(struct strmap *m);

/* Is environment variable name set to "1"? */
bool env_flag(const char *name);
/* Monotonic clock in microseconds; wall clock in seconds. */
uint64_t now_usec(void);
uint64_t cpu_usec(void); /* CPU time of the calling thread */
int64_t now_wall(void);

/* Write data to path atomically (temp file in the same directory, fsync,
 * rename). Returns 0 or -errno. */
int write_file_atomic(const char *path, const char *data, size_t len);
/* The same; durable=false skips both fsyncs (readers still never see a
 * half-written file, but a crash may lose the newest content): for mirrors
 * of state kept elsewhere, like the status files. */
int write_file_replace(const char *path, const char *data, size_t len, bool durable);
int mkdir_p(const char *path, unsigned mode);

/* A daemon with a thousand pods holds thousands of descriptors, but some
 * libraries (libnftables' netlink batch talk) still select() on theirs,
 * which aborts for a descriptor >= FD_SETSIZE. lowfd_reserve() parks a
 * descriptor early, while numbers are low; lowfd_release() frees it just
 * before such a library opens its socket (it gets the lowest free number,
 * at most the parked one) and lowfd_reserve() parks one again after. */
void lowfd_reserve(void);
void lowfd_release(void);

/* Valid kernel interface name: 1..15 bytes, no '/', ':' or whitespace, not "." or "..". */
bool ifname_valid(const char *s);
