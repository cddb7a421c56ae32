/* nft.c - macspoofchk with nftables, one transaction for all pods.
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
 * its content changed; no `nft` process is ever started. */
#include <nftables/libnftables.h>

#include "log.h"
#include "nft.h"

#define NFT_TABLE "plumbd"

char *nft_ruleset(const struct nft_port *ports, size_t n)
{
    size_t cap = 512 + n * 64, len = 0;
    char *b = xmalloc(cap);
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
#undef PUT
    return b;
}

static int run(const char *cmd, bool quiet_missing, char **ret_err)
{
    lowfd_release(); /* libnftables select()s on its socket */
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        lowfd_reserve();
        return -ENOMEM;
    }
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    int r = nft_run_cmd_from_buffer(ctx, cmd);
    if (r != 0 && ret_err && !quiet_missing) {
        const char *e = nft_ctx_get_error_buffer(ctx);
        *ret_err = xstrdup(e && e[0] ? e : "nftables refused the ruleset");
    }
    nft_ctx_free(ctx);
    lowfd_reserve();
    return r == 0 ? 0 : -EINVAL;
}

bool nft_table_present(void)
{
    return run("list table bridge " NFT_TABLE, true, NULL) == 0;
}

int nft_apply(const char *ruleset, char **ret_err)
{
    return run(ruleset, false, ret_err);
}
