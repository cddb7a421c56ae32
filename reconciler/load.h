/* load.h - YAML/JSON files -> generic document trees with file:line:column.
 *
 * The loader reads, it does not validate: it turns every document of every
 * *.yaml / *.yml / *.json file under a directory into a tree of ynodes that
 * remember where each node came from, expands `kind: List`, and reports
 * parse errors as diagnostics. Meaning is given by validate.c. */
#pragma once

#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

/* Where a map key was written (a key is text, not a node of its own: a
 * thousand Pod files hold tens of thousands of keys). */
struct ykey {
    unsigned line, col;
    bool quoted;
};

struct ynode { /* 56 bytes: a 64-byte block each */
    enum ynode_kind kind : 8;
    bool quoted;        /* scalars written in quotes: "true" is a string, not a bool */
    unsigned line, col; /* 1-based, where the node starts */
    unsigned refs;      /* a document root shared with a load_cache: extra owners */
    /* YNODE_SCALAR */
    char *scalar;
    /* YNODE_MAP: keys[i] -> items[i]; YNODE_SEQ: items[i] */
    size_t n;
    char **keys;
    struct ykey *keypos; /* map only: where each key was written */
    struct ynode **items;
};

/* Key i of map n as a scalar node, for a message that points at the key:
 * *tmp is filled (borrowing keys[i]) and returned. */
const struct ynode *ynode_key(const struct ynode *n, size_t i, struct ynode *tmp);

/* One severity for every problem the loader and validator report. */
enum diag_severity { DIAG_ERROR, DIAG_WARNING };

struct diag {
    enum diag_severity severity;
    char *file;
    unsigned line, col;
    char *object; /* "Kind/name" or NULL when unknown */
    char *msg;
};

struct diags {
    struct diag *v;
    size_t n;
};
void diags_add(struct diags *d, enum diag_severity sev, const char *file, unsigned line,
               unsigned col, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
size_t diags_count(const struct diags *d, enum diag_severity sev);
void diags_print(const struct diags *d, FILE *f); /* file:line:col: [warning: ]obj: msg */
/* A JSON array of {file, line, column, severity ("error"|"warning"),
 * object (null when unknown), message}, one line, newline-terminated. */
void diags_print_json(const struct diags *d, FILE *f);
void diags_clear(struct diags *d);
/* Copies of every diagnostic of src, appended to dst. */
void diags_append(struct diags *dst, const struct diags *src);

struct doc {
    char *file;           /* path as found (under the config dir) */
    unsigned index;       /* 0-based document index within the file */
    unsigned line, col;   /* where the document (or List item) starts */
    char rev[17];         /* content hash of this document's canonical form */
    struct ynode *root;   /* a mapping for a well-formed object */
};

struct docset {
    struct doc *v;
    size_t n;
};

/* Loader limits (issue 5 "Safety against bad input"). */
#define LOAD_MAX_FILE_BYTES (4u << 20)
#define LOAD_MAX_DEPTH 64
#define LOAD_MAX_NODES_PER_FILE 200000 /* bounds alias expansion too */
#define LOAD_MAX_DOCS_PER_FILE 10000

/* Parse one file (any number of documents). Appends to out and diags.
 * Returns 0 when the file parsed cleanly, -EINVAL when it had errors
 * (documents before the error are still appended), -errno on I/O error. */
int load_file(const char *path, struct docset *out, struct diags *diags);

/* One file of a config directory as the directory walk reads it: a
 * regular file with a wanted name, not group- or world-writable under
 * load_strict_modes (-EPERM; -EINVAL for the others, with nothing read);
 * then as load_file. */
int load_file_in_dir(const char *path, struct docset *out, struct diags *diags);

/* Parse a buffer as if it were file `name` (used by tests and load_file). */
int load_buffer(const char *name, const char *buf, size_t len, struct docset *out,
                struct diags *diags);

/* sshd StrictModes: when true (the default), load_dir refuses a config
 * directory, subdirectory or file that is group- or world-writable (after
 * following symlinks), because whoever can write it can rewire the node. The
 * CLI flag --insecure-config sets it to false. load_file (explicit paths,
 * `plumbd validate FILE`) does not check. */
extern bool load_strict_modes;

/* Walk dir recursively: every .yaml, .yml and .json file, names starting with '.'
 * skipped (but symlinks followed, so ConfigMap ..data and git-sync links
 * work), editor droppings (*.swp, *~, 4913, #*#) ignored, files in sorted
 * order. A missing dir is -ENOENT; an empty one yields no docs. With
 * load_strict_modes, a group/world-writable dir is -EPERM (logged and in
 * diags, nothing read), and a writable subdirectory or file is skipped
 * with an error diag whose file is its path. */
int load_dir(const char *dir, struct docset *out, struct diags *diags);

/* The daemon's memory of parsed files between loads: a file whose identity
 * (device, inode, size, mtime, ctime) is what it was when it was last read,
 * and that had last changed more than a second before that read (file
 * timestamps are coarse: a write within the same tick keeps them), is not
 * read and parsed again; its documents are shared (ynode refs). Only files
 * that loaded without a word are kept. */
struct load_cache {
    struct load_cached {
        char *path;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime, ctime;
        int64_t read_ns; /* wall clock when it was read */
        struct doc *docs;
        size_t ndocs;
        unsigned gen; /* last load that saw it */
    } *v;
    size_t n;
    struct strmap bypath; /* path -> index in v */
    unsigned gen;
    unsigned long hits, misses;
};
/* load_dir with a cache (NULL: plain load_dir). */
int load_dir_cached(const char *dir, struct load_cache *cache, struct docset *out,
                    struct diags *diags);
/* Files not seen since the last load_cache_sweep are forgotten; call after
 * every directory of one load was read. */
void load_cache_sweep(struct load_cache *cache);
void load_cache_free(struct load_cache *cache);

/* Should this directory entry name be considered at all? */
bool load_name_wanted(const char *name, bool is_dir);

void docset_free(struct docset *s);
/* Recompute d->rev from d->root (after a document was rewritten: capture.c). */
void doc_set_rev(struct doc *d);
void ynode_free(struct ynode *n);

/* Tree access helpers; all accept NULL and return NULL when absent. */
const struct ynode *ynode_get(const struct ynode *map, const char *key);
/* Dotted path through maps: ynode_path(root, "metadata.name"). */
const struct ynode *ynode_path(const struct ynode *root, const char *path);
const char *ynode_str(const struct ynode *n); /* scalar text or NULL */
/* Interpret a scalar: bool true/false (yes/no/on/off, unquoted only for YAML 1.1
 * words), integers. Return 0 or -EINVAL when not of that type. */
int ynode_bool(const struct ynode *n, bool *ret);
int ynode_int(const struct ynode *n, long long *ret);
