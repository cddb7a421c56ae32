/* ipam.h - host-local address selection, pure logic.
 *
 * The allocations themselves live in SQLite (store.c); this module decides
 * which address is free. */
#pragma once

#include "model.h"

/* Fill in range->start/end when the NAD did not give them: first and last
 * usable host of the subnet (network and broadcast excluded for IPv4).
 * Returns 0 or -EINVAL (start/end outside subnet, start > end). */
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
