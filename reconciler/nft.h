/* nft.h - macspoofchk and ipMasq rules in plumbd-owned nftables tables. */
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
/* An nft_delta text as transactions of at most max_lines lines each (max
 * even, at least 2), cut between two lines of one port never (its `ports`
 * and `allowed` elements come and go together): the offsets where each
 * piece ends, *ret_n of them. Caller frees. Pure. */
size_t *nft_delta_split(const char *delta, size_t max_lines, size_t *ret_n);
/* nft_apply, a piece of nft_delta_split at a time: libnftables' memory
 * grows with the elements of one transaction. Stops at the first failure
 * (the pieces before it stay: each leaves the tables consistent). */
int nft_apply_delta(const char *delta, size_t max_lines, char **ret_err);
/* Set elements per transaction when many come at once (128 ports). */
#define NFT_TXN_LINES 256

#define NFT_NAT_TABLE "plumbd-nat"

/* ipMasq: one pod address and the subnet of its network. */
struct nft_masq {
    struct ipaddr addr;   /* the pod's address */
    struct ipaddr subnet; /* its network's subnet (prefix) */
};

/* The transaction that replaces `table inet plumbd-nat` with masquerading
 * for these addresses (sorted in place; an empty list removes the table).
 * Caller frees. Pure. */
char *nft_masq_ruleset(struct nft_masq *m, size_t n);
/* Which of plumbd's tables the node has (one read for both). */
void nft_tables_present(bool *ret_spoof, bool *ret_nat);

/* Sort a masq list as nft_masq_ruleset does (subnet, then address). */
void nft_masq_sort(struct nft_masq *m, size_t n);
/* The transaction that turns the tables holding old/mold into ones holding
 * cur/mcur by adding and deleting set elements only (ports sorted by
 * ifname, masq lists by nft_masq_sort): "" when they hold the same, NULL
 * when only a replacement will do (a table or a subnet comes or goes).
 * Caller frees. Pure. */
char *nft_delta(const struct nft_port *old, size_t nold, const struct nft_port *cur, size_t ncur,
                const struct nft_masq *mold, size_t nmold, const struct nft_masq *mcur,
                size_t nmcur);
