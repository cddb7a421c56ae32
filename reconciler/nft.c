/* nft.c - macspoofchk and ipMasq with nftables, one transaction for all pods.
 *
 * plumbd owns the table `bridge plumbd` in the node namespace. Frames that
 * enter the bridge from a pod's host-side veth must carry that pod's MAC:
 *
 *   set ports   { type ifname; }                  host veths with macspoofchk
 *   set allowed { type ether_addr . ifname; }     (pod MAC, host veth)
 *   chain prerouting (filter, priority -300):
 *       iifname @ports ether saddr . iifname @allowed return
 *       iifname @ports drop
 *
 * Two set lookups in total, whatever the number of pods (the CNI plugin adds
 * a chain and a jump per pod). The whole table is replaced in one
 * libnftables transaction (`table` + `delete table` + definition), only when
 * its content changed; no `nft` process is ever started.
 *
 * libnftables (and the five libraries it brings) is opened on first use,
 * not linked: the commands that never touch nftables (`status`, `history`,
 * an `apply` the daemon answers) start without mapping it. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nftables/libnftables.h>

#include "log.h"
#include "nft.h"

#define NFT_TABLE "plumbd"

static struct {
    bool loaded;
    void *h;
    struct nft_ctx *(*ctx_new)(uint32_t flags);
    void (*ctx_free)(struct nft_ctx *ctx);
    int (*buffer_output)(struct nft_ctx *ctx);
    int (*buffer_error)(struct nft_ctx *ctx);
    const char *(*get_output)(struct nft_ctx *ctx);
    const char *(*get_error)(struct nft_ctx *ctx);
    int (*run)(struct nft_ctx *ctx, const char *buf);
} lib;

/* A libnftables context, the library opened the first time (NULL when it
 * cannot be, the reason in *ret_why; tried again at the next call). */
static struct nft_ctx *ctx_new(const char **ret_why)
{
    static char why[256];
    if (!lib.loaded) {
        lib.h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib.h) {
            const char *e = dlerror();
            snprintf(why, sizeof(why), "cannot open libnftables.so.1: %s", e ? e : "?");
        } else {
            *(void **)&lib.ctx_new = dlsym(lib.h, "nft_ctx_new");
            *(void **)&lib.ctx_free = dlsym(lib.h, "nft_ctx_free");
            *(void **)&lib.buffer_output = dlsym(lib.h, "nft_ctx_buffer_output");
            *(void **)&lib.buffer_error = dlsym(lib.h, "nft_ctx_buffer_error");
            *(void **)&lib.get_output = dlsym(lib.h, "nft_ctx_get_output_buffer");
            *(void **)&lib.get_error = dlsym(lib.h, "nft_ctx_get_error_buffer");
            *(void **)&lib.run = dlsym(lib.h, "nft_run_cmd_from_buffer");
        }
        if (lib.h && (!lib.ctx_new || !lib.ctx_free || !lib.buffer_output ||
                      !lib.buffer_error || !lib.get_output || !lib.get_error || !lib.run)) {
            snprintf(why, sizeof(why), "libnftables.so.1 lacks a function plumbd uses");
            dlclose(lib.h);
            lib.h = NULL;
        }
        lib.loaded = lib.h != NULL;
    }
    *ret_why = lib.loaded ? "libnftables could not make a context" : why;
    return lib.loaded ? lib.ctx_new(NFT_CTX_DEFAULT) : NULL;
}

/* Append printf-style to the growing buffer b (len used, cap allocated):
 * a ruleset is one text, built once per change. */
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(b + len, cap - len, __VA_ARGS__);                                        \
        if ((size_t)k_ >= cap - len) {                                                             \
            cap = cap * 2 + (size_t)k_;                                                            \
            b = xrealloc(b, cap);                                                                  \
            k_ = snprintf(b + len, cap - len, __VA_ARGS__);                                        \
        }                                                                                          \
        len += (size_t)k_;                                                                         \
    } while (0)

char *nft_ruleset(const struct nft_port *ports, size_t n)
{
    size_t cap = 512 + n * 64, len = 0;
    char *b = xmalloc(cap);
    PUT("table bridge " NFT_TABLE "\ndelete table bridge " NFT_TABLE "\n");
    if (n == 0)
        return b; /* nothing wants spoof checks: the table goes */
    PUT("table bridge " NFT_TABLE " {\n  set ports { type ifname; elements = { ");
    for (size_t i = 0; i < n; i++)
        PUT("%s\"%s\"", i ? ", " : "", ports[i].ifname);
    PUT(" } }\n  set allowed { type ether_addr . ifname; elements = { ");
    for (size_t i = 0; i < n; i++) {
        char mac[18];
        PUT("%s%s . \"%s\"", i ? ", " : "", mac_format(ports[i].mac, mac, sizeof(mac)),
            ports[i].ifname);
    }
    PUT(" } }\n  chain prerouting {\n"
        "    type filter hook prerouting priority -300; policy accept;\n"
        "    iifname @ports ether saddr . iifname @allowed return\n"
        "    iifname @ports drop\n  }\n}\n");
    return b;
}

/* ---- ipMasq: table inet plumbd-nat --------------------------------------
 *
 *   set m4_K { type ipv4_addr; }        pod addresses of the K-th subnet
 *   chain postrouting (nat, srcnat):
 *       ip saddr @m4_K ip daddr != SUBNET ip daddr != 224.0.0.0/4 masquerade
 *       (IPv6: ip6 saddr @m6_K ... ip6 daddr != ff00::/8 masquerade)
 *
 * One set and one rule per subnet, whatever the number of pods (the CNI
 * plugin adds a chain and two rules per pod), replaced with the macspoofchk
 * table in the same transaction. */

/* The network address of a prefix (host bits cleared). */
static void ipaddr_mask(struct ipaddr *a)
{
    size_t len = a->family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < len; i++) {
        int bits = (int)a->prefix - (int)(i * 8);
        if (bits >= 8)
            continue;
        a->bytes[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
    }
}

static int cmp_masq(const void *a, const void *b)
{
    const struct nft_masq *x = a, *y = b;
    if (x->subnet.family != y->subnet.family)
        return x->subnet.family - y->subnet.family;
    int c = ipaddr_cmp(&x->subnet, &y->subnet);
    if (c)
        return c;
    if (x->subnet.prefix != y->subnet.prefix)
        return (int)x->subnet.prefix - (int)y->subnet.prefix;
    return ipaddr_cmp(&x->addr, &y->addr);
}

char *nft_masq_ruleset(struct nft_masq *m, size_t n)
{
    size_t cap = 512 + n * 48, len = 0;
    char *b = xmalloc(cap);
    PUT("table inet " NFT_NAT_TABLE "\ndelete table inet " NFT_NAT_TABLE "\n");
    if (n == 0)
        return b;
    if (n > 1)
        qsort(m, n, sizeof(*m), cmp_masq);
    PUT("table inet " NFT_NAT_TABLE " {\n");
    /* sets: one per subnet */
    size_t nsub = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        bool v4 = m[i].subnet.family == AF_INET;
        PUT("  set m%d_%zu { type %s; elements = { ", v4 ? 4 : 6, nsub,
            v4 ? "ipv4_addr" : "ipv6_addr");
        for (; j < n && ipaddr_equal(&m[j].subnet, &m[i].subnet); j++) {
            char a[64];
            if (j > i && ipaddr_same_host(&m[j].addr, &m[j - 1].addr))
                continue; /* the same address twice */
            PUT("%s%s", j > i ? ", " : "", ipaddr_format(&m[j].addr, false, a, sizeof(a)));
        }
        PUT(" } }\n");
        i = j;
        nsub++;
    }
    PUT("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
    nsub = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        char sn[64];
        bool v4 = m[i].subnet.family == AF_INET;
        while (j < n && ipaddr_equal(&m[j].subnet, &m[i].subnet))
            j++;
        struct ipaddr net = m[i].subnet;
        ipaddr_mask(&net);
        PUT("    %s saddr @m%d_%zu %s daddr != %s %s daddr != %s masquerade\n", v4 ? "ip" : "ip6",
            v4 ? 4 : 6, nsub, v4 ? "ip" : "ip6", ipaddr_format(&net, true, sn, sizeof(sn)),
            v4 ? "ip" : "ip6", v4 ? "224.0.0.0/4" : "ff00::/8");
        i = j;
        nsub++;
    }
    PUT("  }\n}\n");
    return b;
}

void nft_masq_sort(struct nft_masq *m, size_t n)
{
    if (n > 1)
        qsort(m, n, sizeof(*m), cmp_masq);
}

/* The distinct subnets of a sorted masq list, in order: the K of set mF_K. */
static size_t masq_subnets(const struct nft_masq *m, size_t n, struct ipaddr *ret)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !ipaddr_equal(&m[i].subnet, &m[i - 1].subnet))
            ret[k++] = m[i].subnet;
    return k;
}

char *nft_delta(const struct nft_port *old, size_t nold, const struct nft_port *cur, size_t ncur,
                const struct nft_masq *mold, size_t nmold, const struct nft_masq *mcur,
                size_t nmcur)
{
    /* The tables themselves come or go: only a replacement does that. */
    if ((nold == 0) != (ncur == 0) || (nmold == 0) != (nmcur == 0))
        return NULL;
    /* A subnet that comes or goes changes the sets and rules. */
    struct ipaddr *sold = xcalloc(nmold + 1, sizeof(*sold)), *scur = xcalloc(nmcur + 1, sizeof(*scur));
    size_t ks = masq_subnets(mold, nmold, sold), kc = masq_subnets(mcur, nmcur, scur);
    bool same = ks == kc;
    for (size_t i = 0; same && i < ks; i++)
        same = ipaddr_equal(&sold[i], &scur[i]);
    free(sold);
    free(scur);
    if (!same)
        return NULL;

    size_t cap = 256, len = 0;
    char *b = xmalloc(cap);
    b[0] = 0;
    char mac[18];
    /* ports: both lists sorted by ifname (nft_ruleset's order) */
    for (size_t i = 0, j = 0; i < nold || j < ncur;) {
        int c = i == nold ? 1 : j == ncur ? -1 : strcmp(old[i].ifname, cur[j].ifname);
        if (c < 0) { /* gone */
            PUT("delete element bridge " NFT_TABLE " ports { \"%s\" }\n", old[i].ifname);
            PUT("delete element bridge " NFT_TABLE " allowed { %s . \"%s\" }\n",
                mac_format(old[i].mac, mac, sizeof(mac)), old[i].ifname);
            i++;
        } else if (c > 0) { /* new */
            PUT("add element bridge " NFT_TABLE " ports { \"%s\" }\n", cur[j].ifname);
            PUT("add element bridge " NFT_TABLE " allowed { %s . \"%s\" }\n",
                mac_format(cur[j].mac, mac, sizeof(mac)), cur[j].ifname);
            j++;
        } else {
            if (memcmp(old[i].mac, cur[j].mac, 6) != 0) { /* same port, new MAC */
                PUT("delete element bridge " NFT_TABLE " allowed { %s . \"%s\" }\n",
                    mac_format(old[i].mac, mac, sizeof(mac)), old[i].ifname);
                PUT("add element bridge " NFT_TABLE " allowed { %s . \"%s\" }\n",
                    mac_format(cur[j].mac, mac, sizeof(mac)), cur[j].ifname);
            }
            i++;
            j++;
        }
    }
    /* masquerade: both sorted by subnet, then address (nft_masq_sort); the
     * K-th distinct subnet is set mF_K; an address listed twice is one
     * element */
    struct nft_masq *xo = xcalloc(nmold + 1, sizeof(*xo)), *xc = xcalloc(nmcur + 1, sizeof(*xc));
    size_t no = 0, nc = 0, nsub = 0;
    for (size_t i = 0; i < nmold; i++)
        if (!no || cmp_masq(&xo[no - 1], &mold[i]) != 0)
            xo[no++] = mold[i];
    for (size_t i = 0; i < nmcur; i++)
        if (!nc || cmp_masq(&xc[nc - 1], &mcur[i]) != 0)
            xc[nc++] = mcur[i];
    struct ipaddr *subs = xcalloc(nmcur + 1, sizeof(*subs));
    nsub = masq_subnets(xc, nc, subs);
    for (size_t i = 0, j = 0; i < no || j < nc;) {
        int c = i == no ? 1 : j == nc ? -1 : cmp_masq(&xo[i], &xc[j]);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        const struct nft_masq *e = c < 0 ? &xo[i++] : &xc[j++];
        size_t k = 0;
        while (k < nsub && !ipaddr_equal(&subs[k], &e->subnet))
            k++;
        char a[64];
        bool v4 = e->subnet.family == AF_INET;
        PUT("%s element inet " NFT_NAT_TABLE " m%d_%zu { %s }\n", c < 0 ? "delete" : "add",
            v4 ? 4 : 6, k, ipaddr_format(&e->addr, false, a, sizeof(a)));
    }
    free(xo);
    free(xc);
    free(subs);
    return b;
}

#undef PUT

static int run(const char *cmd, bool quiet_missing, char **ret_err)
{
    lowfd_release(); /* libnftables select()s on its socket */
    const char *why;
    struct nft_ctx *ctx = ctx_new(&why);
    if (!ctx) {
        lowfd_reserve();
        if (ret_err)
            *ret_err = xstrdup(why);
        return -ELIBACC;
    }
    lib.buffer_output(ctx);
    lib.buffer_error(ctx);
    int r = lib.run(ctx, cmd);
    if (r != 0 && ret_err && !quiet_missing) {
        const char *e = lib.get_error(ctx);
        *ret_err = xstrdup(e && e[0] ? e : "nftables refused the ruleset");
    }
    lib.ctx_free(ctx);
    lowfd_reserve();
    return r == 0 ? 0 : -EINVAL;
}

/* Which tables the node has, asked straight over nfnetlink (a dump of the
 * tables alone): libnftables' `list tables` fills its cache with every set
 * element first, tens of milliseconds with a thousand pods. -errno when the
 * socket cannot be used. */
static int tables_dump(bool *ret_spoof, bool *ret_nat)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0)
        return -errno;
    struct {
        struct nlmsghdr nh;
        struct nfgenmsg nf;
    } req = {
        .nh = {.nlmsg_len = sizeof(req),
               .nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE,
               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
               .nlmsg_seq = 1},
        .nf = {.nfgen_family = NFPROTO_UNSPEC, .version = NFNETLINK_V0},
    };
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int rc = -EIO;
    if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        rc = -errno;
        goto out;
    }
    /* 32 KiB: a dump part holds whole messages up to the page size */
    static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
             nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_seq != 1)
                continue;
            if (nh->nlmsg_type == NLMSG_DONE) {
                rc = 0;
                goto out;
            }
            if (nh->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(nh);
                rc = nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ? e->error : -EIO;
                goto out;
            }
            if (nh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE) ||
                nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
                continue;
            const struct nfgenmsg *nf = NLMSG_DATA(nh);
            const struct nlattr *a = (const struct nlattr *)((const char *)nf + NLMSG_ALIGN(sizeof(*nf)));
            size_t left = nh->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*nf)));
            while (left >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= left) {
                if ((a->nla_type & NLA_TYPE_MASK) == NFTA_TABLE_NAME) {
                    const char *name = (const char *)a + NLA_HDRLEN;
                    size_t len = strnlen(name, a->nla_len - NLA_HDRLEN);
                    if (nf->nfgen_family == NFPROTO_BRIDGE && len == strlen(NFT_TABLE) &&
                        memcmp(name, NFT_TABLE, len) == 0)
                        *ret_spoof = true;
                    if (nf->nfgen_family == NFPROTO_INET && len == strlen(NFT_NAT_TABLE) &&
                        memcmp(name, NFT_NAT_TABLE, len) == 0)
                        *ret_nat = true;
                }
                size_t step = NLA_ALIGN(a->nla_len);
                if (step >= left)
                    break;
                left -= step;
                a = (const struct nlattr *)((const char *)a + step);
            }
        }
    }
out:
    close(fd);
    return rc;
}

void nft_tables_present(bool *ret_spoof, bool *ret_nat)
{
    *ret_spoof = *ret_nat = false;
    if (tables_dump(ret_spoof, ret_nat) == 0)
        return;
    *ret_spoof = *ret_nat = false;
    /* no nfnetlink socket: ask libnftables */
    const char *why;
    struct nft_ctx *ctx = ctx_new(&why);
    if (!ctx) {
        log_error("nftables", "cannot list the tables: %s", why);
        return;
    }
    lib.buffer_output(ctx);
    lib.buffer_error(ctx);
    if (lib.run(ctx, "list tables") == 0) {
        const char *out = lib.get_output(ctx);
        for (const char *l = out; l && *l;) {
            const char *e = strchr(l, '\n');
            size_t len = e ? (size_t)(e - l) : strlen(l);
            if (len == strlen("table bridge " NFT_TABLE) &&
                strncmp(l, "table bridge " NFT_TABLE, len) == 0)
                *ret_spoof = true;
            if (len == strlen("table inet " NFT_NAT_TABLE) &&
                strncmp(l, "table inet " NFT_NAT_TABLE, len) == 0)
                *ret_nat = true;
            l = e ? e + 1 : l + len;
        }
    }
    lib.ctx_free(ctx);
}

int nft_apply(const char *ruleset, char **ret_err)
{
    return run(ruleset, false, ret_err);
}

size_t *nft_delta_split(const char *delta, size_t max_lines, size_t *ret_n)
{
    size_t *ends = NULL, n = 0, lines = 0, len = strlen(delta);
    if (max_lines < 2)
        max_lines = 2;
    max_lines &= ~(size_t)1;
    /* The port lines come first, two for each port: a cut after an even
     * number of lines never splits a port; masquerade lines stand alone. */
    for (size_t i = 0; i < len; i++) {
        if (delta[i] != '\n')
            continue;
        if (++lines == max_lines) {
            *ARRAY_PUSH(ends, n) = i + 1;
            lines = 0;
        }
    }
    if (lines || (n == 0 && len))
        *ARRAY_PUSH(ends, n) = len;
    *ret_n = n;
    return ends;
}

int nft_apply_delta(const char *delta, size_t max_lines, char **ret_err)
{
    size_t n, start = 0;
    _cleanup_free_ size_t *ends = nft_delta_split(delta, max_lines, &n);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *piece = xstrndup(delta + start, ends[i] - start);
        int r = nft_apply(piece, ret_err);
        if (r < 0)
            return r;
        start = ends[i];
    }
    return 0;
}
