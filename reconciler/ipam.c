/* ipam.c - host-local address selection, pure logic (ipam.h).
 *
 * A range is a subnet with a first and last allocatable address and an
 * optional gateway that is never handed out. The allocations live in SQLite
 * (store.c); callers pass the taken addresses as a sorted array and this
 * module finds the lowest free one without scanning the whole array. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ipam.h"

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* The subnet's address with its host bits set to `ones` (0 or 1):
 * the network address (ones=false) or the last address (ones=true). */
static struct ipaddr subnet_edge(const struct ipaddr *subnet, bool ones)
{
    struct ipaddr r = *subnet;
    unsigned bits = family_bits(subnet->family);

    for (unsigned i = subnet->prefix; i < bits; i++) {
        uint8_t bit = (uint8_t)(0x80 >> (i % 8));
        if (ones)
            r.bytes[i / 8] |= bit;
        else
            r.bytes[i / 8] &= (uint8_t)~bit;
    }
    return r;
}

/* a - 1 as a big-endian integer (a is never zero here). */
static void ipaddr_dec(struct ipaddr *a)
{
    size_t l = family_bits(a->family) / 8;

    for (size_t i = l; i-- > 0;)
        if (a->bytes[i]-- != 0)
            break;
}

/* Contract (ipam.h). Also rejects: an unknown family, mixed families, a
 * subnet with host bits set (as the CNI host-local plugin does), subnets
 * too small to allocate from (IPv4 /31, /32; IPv6 /127, /128), a gateway
 * outside the subnet. start/end get the subnet's prefix length.
 * On -EINVAL *range is untouched. */
int ipam_range_normalize(struct ipam_range *range)
{
    struct ipam_range r = *range;
    unsigned bits = family_bits(r.subnet.family);
    struct ipaddr net, last;

    if (!bits || r.subnet.prefix > bits - 2)
        return -EINVAL;
    net = subnet_edge(&r.subnet, false);
    if (!ipaddr_same_host(&net, &r.subnet))
        return -EINVAL;
    last = subnet_edge(&r.subnet, true);

    /* An unset start/end has family 0 (zero-initialised struct). */
    if (r.start.family == 0) {
        r.start = net;
        ipaddr_add(&r.start, 1);
    }
    if (r.end.family == 0) {
        r.end = last;
        if (r.subnet.family == AF_INET)
            ipaddr_dec(&r.end); /* IPv4 broadcast is not a host */
    }
    r.start.prefix = r.end.prefix = r.subnet.prefix;

    if (!ipaddr_in_subnet(&r.start, &r.subnet) || !ipaddr_in_subnet(&r.end, &r.subnet) ||
        ipaddr_cmp(&r.start, &r.end) > 0)
        return -EINVAL;
    if (r.has_gateway && !ipaddr_in_subnet(&r.gateway, &r.subnet))
        return -EINVAL;

    *range = r;
    return 0;
}

static bool is_gateway(const struct ipam_range *range, const struct ipaddr *ip)
{
    return range->has_gateway && ipaddr_same_host(&range->gateway, ip);
}

bool ipam_in_range(const struct ipam_range *range, const struct ipaddr *ip)
{
    return ip->family == range->subnet.family && ipaddr_cmp(ip, &range->start) >= 0 &&
           ipaddr_cmp(ip, &range->end) <= 0 && !is_gateway(range, ip);
}

/* Index of the first element of taken[0..n) that is >= ip (n when none). */
static size_t lower_bound(const struct ipaddr *taken, size_t n, const struct ipaddr *ip)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ipaddr_cmp(&taken[mid], ip) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Is taken[i + j] == taken[i] + j? */
static bool run_holds(const struct ipaddr *taken, size_t i, size_t j)
{
    struct ipaddr want = taken[i];

    ipaddr_add(&want, j);
    return ipaddr_same_host(&taken[i + j], &want);
}

/* taken[i] is taken; return the largest j such that taken[i..i+j] are the
 * consecutive addresses taken[i], taken[i]+1, ..., taken[i]+j. With a
 * strictly ascending array this predicate holds for a prefix of j values,
 * so it is found by galloping then bisecting: O(log run length). */
static size_t run_length(const struct ipaddr *taken, size_t n, size_t i)
{
    size_t good = 0, step = 1, bad;

    /* gallop: find bad with the predicate false (or past the end) */
    for (;;) {
        if (i + good + step >= n || !run_holds(taken, i, good + step)) {
            bad = good + step;
            break;
        }
        good += step;
        step *= 2;
    }
    if (bad > n - i)
        bad = n - i;
    /* bisect in (good, bad) */
    while (bad - good > 1) {
        size_t mid = good + (bad - good) / 2;
        if (run_holds(taken, i, mid))
            good = mid;
        else
            bad = mid;
    }
    return good;
}

/* Contract (ipam.h). taken must be sorted ascending by ipaddr_cmp and hold
 * no duplicates (the store's primary key guarantees it); it may contain
 * addresses of another family or outside the range, they are ignored.
 *
 * Cost: one binary search to place start, then for a contiguous run of taken
 * addresses one gallop+bisect, O(log n) probes of 16-byte arithmetic; the
 * gateway splits at most one extra run. So O(log n) overall, never a walk
 * over the taken array. Should duplicates slip in, a taken address is still
 * never returned (every candidate is checked by binary search), but a free
 * one may be skipped. */
int ipam_next_free(const struct ipam_range *range, const struct ipaddr *taken, size_t ntaken,
                   struct ipaddr *ret)
{
    struct ipaddr cand = range->start;

    if (range->start.family != range->subnet.family ||
        range->end.family != range->subnet.family)
        return -EINVAL;

    for (;;) {
        size_t i;

        if (ipaddr_cmp(&cand, &range->end) > 0)
            return -ENOSPC;
        if (is_gateway(range, &cand)) {
            if (ipaddr_cmp(&cand, &range->end) == 0)
                return -ENOSPC;
            ipaddr_add(&cand, 1);
            continue;
        }
        i = lower_bound(taken, ntaken, &cand);
        if (i == ntaken || !ipaddr_same_host(&taken[i], &cand))
            break;
        /* cand is taken: jump past the whole consecutive run */
        cand = taken[i + run_length(taken, ntaken, i)];
        if (ipaddr_cmp(&cand, &range->end) >= 0)
            return -ENOSPC;
        ipaddr_add(&cand, 1);
    }

    cand.prefix = range->subnet.prefix;
    *ret = cand;
    return 0;
}
