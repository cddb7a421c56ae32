/* nft.h - macspoofchk rules in the plumbd-owned nftables table. */
#pragma once

#include "model.h"

struct nft_port {
    char ifname[IFNAMSIZ_PLUMBD]; /* the pod's host-side veth */
    uint8_t mac[6];               /* the only source MAC it may send */
};

/* The complete transaction that replaces the table with these ports (an
 * empty list removes it). Caller frees. Pure. */
char *nft_ruleset(const struct nft_port *ports, size_t n);
/* Run a transaction in the current (node) namespace: 0 or -EINVAL with
 * nftables' own message in *ret_err. */
int nft_apply(const char *ruleset, char **ret_err);
/* Does the node have plumbd's table? (a read, not a write) */
bool nft_table_present(void);
