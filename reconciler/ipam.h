/* ipam.h - host-local and static IPAM, pure logic.
 *
 * The allocations themselves live in SQLite (store.c); this module decides
 * which address is free. The planner builds one struct ipam_index per pass
 * from the store's allocations and asks it for every attachment. */
#pragma once

#include <jansson.h>

#include "model.h"

/* Fill in range->start/end when the NAD did not give them: first and last
 * usable host of the subnet (network and broadcast excluded for IPv4; for
 * IPv6 only the subnet's first address, "::", is excluded, as host-local
 * does). Returns 0 or -EINVAL (start/end outside subnet, start > end). */
int ipam_range_normalize(struct ipam_range *range);

/* Is ip allocatable in range (inside start..end, not the gateway)? */
bool ipam_in_range(const struct ipam_range *range, const struct ipaddr *ip);

/* Next free address in range, given the taken ones sorted ascending
 * (ipaddr_cmp). Prefix of the result = subnet prefix. O(log n) lookups
 * on the sorted array. -ENOSPC when the range is full. */
int ipam_next_free(const struct ipam_range *range, const struct ipaddr *taken, size_t ntaken,
                   struct ipaddr *ret);

/* Add n to an address (wrapping is the caller's concern). */
void ipaddr_add(struct ipaddr *a, uint64_t n);

/* ---- range sets (host-local "ranges") ------------------------------------ */

/* Index of the range of set whose start..end holds ip (the gateway counts:
 * this is host-local's RangeSet.RangeFor), or -1. */
int ipam_set_find(const struct ipam_set *set, const struct ipaddr *ip);
/* Do two sets (or two ranges of one set) share an address? */
bool ipam_ranges_overlap(const struct ipam_range *a, const struct ipam_range *b);
/* Number of allocatable addresses of the set (gateways excluded), as a
 * double (an IPv6 /64 does not fit 64 bits once summed). */
double ipam_set_size(const struct ipam_set *set);
/* "10.1.0.1-10.1.0.6, 10.2.0.1-10.2.0.2" (host-local's RangeSet.String);
 * caller frees. */
char *ipam_set_describe(const struct ipam_set *set);

/* The NAD's ipam.dns as Multus network-status "dns" ({} when empty); new ref. */
json_t *ipam_dns_json(const struct ipam_dns *dns);
/* Free the IPAM fields of a NAD (sets, static addresses, dns, routes). */
void ipam_config_free(struct nad *nad);

/* ---- the allocation index --------------------------------------------------
 *
 * Every address in use, per network (the IPAM pool key, the CNI network
 * name), built once per plan from the store and updated as the plan picks:
 *   - a hash of (network, address) -> holder (owner, ifname);
 *   - a hash of (owner, ifname) -> the addresses it holds;
 *   - per network and family a treap of maximal runs of taken addresses, so
 *     the next free address after any point is found in O(log n): one
 *     lookup jumps over a whole run;
 *   - per network the recent reservations (host-local's last_reserved_ip),
 *     so picks go round-robin like host-local: after the set's last
 *     reservation, wrapping to the set's first range.
 * Strings passed in are borrowed: they must outlive the index. */
struct ipam_index;

struct ipam_index *ipam_index_new(void);
void ipam_index_free(struct ipam_index *x);

/* Record ip as held in network by (owner, ifname). 0 (also when that holder
 * already has it), -EEXIST when someone else holds it (nothing changes). */
int ipam_index_take(struct ipam_index *x, const char *network, const struct ipaddr *ip,
                    const char *owner, const char *ifname);
/* Forget ip in network. 0 or -ENOENT. */
int ipam_index_release(struct ipam_index *x, const char *network, const struct ipaddr *ip);
/* Who holds ip in network? false when nobody. */
bool ipam_index_holder(const struct ipam_index *x, const char *network, const struct ipaddr *ip,
                       const char **ret_owner, const char **ret_ifname);
/* The address (owner, ifname) holds in network that is allocatable in set
 * (inside a range, not its gateway), or false. */
bool ipam_index_held_in(const struct ipam_index *x, const char *network, const char *owner,
                        const char *ifname, const struct ipam_set *set, struct ipaddr *ret);
/* Number of addresses held in network. */
size_t ipam_index_used(const struct ipam_index *x, const char *network);

/* Remember ip as the newest reservation in network (host-local writes
 * last_reserved_ip on every reservation, requested or picked). */
void ipam_index_note(struct ipam_index *x, const char *network, const struct ipaddr *ip);
/* The next free address of set in host-local's order: after the set's
 * newest reservation (ipam_index_note) to the end of its range, then the
 * following ranges, wrapping around to the set's first range, back to that
 * reservation; without one, from the first range's start. The gateway of a
 * range is skipped. Nothing is recorded. ret gets the subnet's prefix;
 * *ret_range (optional) the index of its range. -ENOSPC when full. */
int ipam_index_next_free(const struct ipam_index *x, const char *network,
                         const struct ipam_set *set, struct ipaddr *ret, size_t *ret_range);

/* Undo support for the planner: every take, release and note after a
 * savepoint is undone by rolling back to it. */
size_t ipam_index_savepoint(const struct ipam_index *x);
void ipam_index_rollback(struct ipam_index *x, size_t savepoint);
