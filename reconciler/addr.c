/* addr.c - IP address and MAC address values: parsing, formatting,
 * comparison and arithmetic (struct ipaddr, declared in model.h; ipaddr_add
 * in ipam.h). Pure functions, no allocation, no kernel. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ipam.h"
#include "model.h"

/* Number of address bytes of a family, 0 when the family is unknown. */
static size_t family_len(int family)
{
    if (family == AF_INET)
        return 4;
    if (family == AF_INET6)
        return 16;
    return 0;
}

/* Parse a decimal prefix length "0".."max": digits only, no sign, no
 * whitespace, no leading zeros beyond a single "0". Returns it or -EINVAL. */
static int parse_prefix(const char *s, unsigned max)
{
    unsigned v = 0;

    if (!*s || strlen(s) > 3 || (s[0] == '0' && s[1]))
        return -EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > max)
        return -EINVAL;
    return (int)v;
}

/* Contract (model.h): "addr" or "addr/prefix", IPv4 dotted quad or any
 * inet_pton IPv6 form. Without "/p" the prefix is default_prefix when it is
 * >= 0 (and fits the family), else the full length. The address keeps its
 * host bits. *ret untouched on failure (-EINVAL). */
int ipaddr_parse(const char *s, int default_prefix, struct ipaddr *ret)
{
    char buf[INET6_ADDRSTRLEN + 8];
    struct ipaddr a = {0};
    const char *slash;
    size_t alen;
    unsigned bits;
    int prefix;

    if (!s || !ret)
        return -EINVAL;
    slash = strchr(s, '/');
    alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= INET6_ADDRSTRLEN)
        return -EINVAL;
    memcpy(buf, s, alen);
    buf[alen] = '\0';

    a.family = memchr(buf, ':', alen) ? AF_INET6 : AF_INET;
    if (inet_pton(a.family, buf, a.bytes) != 1)
        return -EINVAL;
    bits = a.family == AF_INET ? 32 : 128;

    if (slash) {
        prefix = parse_prefix(slash + 1, bits);
        if (prefix < 0)
            return prefix;
    } else if (default_prefix >= 0) {
        if ((unsigned)default_prefix > bits)
            return -EINVAL;
        prefix = default_prefix;
    } else
        prefix = (int)bits;
    a.prefix = (uint8_t)prefix;

    *ret = a;
    return 0;
}

/* Contract (model.h): writes "addr" or "addr/prefix" into buf and returns
 * buf. A buffer too small (< 64 bytes is never needed, but < 50 may be)
 * or an unknown family yields "" rather than a truncated address. */
char *ipaddr_format(const struct ipaddr *a, bool with_prefix, char *buf, size_t len)
{
    char tmp[INET6_ADDRSTRLEN];
    int n;

    if (!buf || len == 0)
        return buf;
    buf[0] = '\0';
    if (!a || !family_len(a->family) || !inet_ntop(a->family, a->bytes, tmp, sizeof(tmp)))
        return buf;
    if (with_prefix)
        n = snprintf(buf, len, "%s/%u", tmp, a->prefix);
    else
        n = snprintf(buf, len, "%s", tmp);
    if (n < 0 || (size_t)n >= len)
        buf[0] = '\0';
    return buf;
}

bool ipaddr_same_host(const struct ipaddr *a, const struct ipaddr *b)
{
    size_t l = family_len(a->family);

    return a->family == b->family && l && memcmp(a->bytes, b->bytes, l) == 0;
}

bool ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b)
{
    return ipaddr_same_host(a, b) && a->prefix == b->prefix;
}

/* Contract (model.h): true when families match and the first
 * subnet->prefix bits of addr equal those of subnet. */
bool ipaddr_in_subnet(const struct ipaddr *addr, const struct ipaddr *subnet)
{
    size_t l = family_len(subnet->family);
    unsigned full, rem;

    if (addr->family != subnet->family || !l || subnet->prefix > l * 8)
        return false;
    full = subnet->prefix / 8;
    rem = subnet->prefix % 8;
    if (memcmp(addr->bytes, subnet->bytes, full) != 0)
        return false;
    if (rem) {
        uint8_t mask = (uint8_t)(0xff << (8 - rem));
        if ((addr->bytes[full] & mask) != (subnet->bytes[full] & mask))
            return false;
    }
    return true;
}

/* Contract (model.h): total order on addresses: family first (IPv4 before
 * IPv6), then the address bytes as a big-endian integer. The prefix length
 * is ignored. Returns <0, 0, >0. */
int ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
    int r;

    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    r = memcmp(a->bytes, b->bytes, family_len(a->family));
    return (r > 0) - (r < 0);
}

/* Contract (ipam.h): a += n as a big-endian integer of the family's width,
 * wrapping modulo 2^32 / 2^128. The prefix is kept. */
void ipaddr_add(struct ipaddr *a, uint64_t n)
{
    size_t l = family_len(a->family);
    unsigned carry = 0;

    for (size_t i = l; i-- > 0 && (n || carry);) {
        unsigned sum = a->bytes[i] + (unsigned)(n & 0xff) + carry;
        a->bytes[i] = (uint8_t)sum;
        carry = sum >> 8;
        n >>= 8;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Contract (model.h): exactly "xx:xx:xx:xx:xx:xx", hex digits of either
 * case. The all-zero address is rejected (it means "unset"); multicast and
 * locally administered addresses are accepted. -EINVAL, ret untouched. */
int mac_parse(const char *s, uint8_t ret[6])
{
    uint8_t m[6];
    bool nonzero = false;

    if (!s || strlen(s) != 17)
        return -EINVAL;
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
            return -EINVAL;
        m[i] = (uint8_t)(hi << 4 | lo);
        nonzero |= m[i] != 0;
    }
    if (!nonzero)
        return -EINVAL;
    memcpy(ret, m, 6);
    return 0;
}

/* Contract (model.h): lowercase "xx:xx:xx:xx:xx:xx"; buf >= 18 bytes, a
 * shorter buffer yields "". Returns buf. */
char *mac_format(const uint8_t mac[6], char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    if (len < 18) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
    return buf;
}
