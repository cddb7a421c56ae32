/* probe.c - is the node still connected after a policy? (kubernetes-nmstate
 * probes, on plain sockets in the node namespace).
 *
 * ping: ICMP / ICMPv6 echo on a raw socket, one request every 200 ms until a
 * matching reply or the deadline. tcp: a non-blocking connect that must
 * complete. Each probe blocks the caller up to its timeout: it runs inside
 * a pass, after the policy's writes, and the pass waits for its verdict. */
#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>

#include "probe.h"

static uint16_t icmp_csum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

static void to_sockaddr(const struct ipaddr *a, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, a->bytes, 4);
        *len = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        memcpy(&s6->sin6_addr, a->bytes, 16);
        *len = sizeof(*s6);
    }
}

static int probe_ping(const struct ipaddr *dst, unsigned timeout_ms)
{
    bool v6 = dst->family == AF_INET6;
    _cleanup_close_ int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC,
                                    v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    if (fd < 0)
        return -errno;
    struct sockaddr_storage ss;
    socklen_t sl;
    to_sockaddr(dst, 0, &ss, &sl);
    uint16_t id = (uint16_t)(getpid() ^ (now_usec() & 0xffff));
    uint64_t deadline = now_usec() + (uint64_t)timeout_ms * 1000, next = 0;
    for (uint16_t seq = 1;;) {
        uint64_t now = now_usec();
        if (now >= deadline)
            return -ETIMEDOUT;
        if (now >= next) {
            uint8_t pkt[16] = {v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO, 0};
            pkt[4] = id >> 8;
            pkt[5] = id & 0xff;
            pkt[6] = seq >> 8;
            pkt[7] = seq & 0xff;
            seq++;
            if (!v6) { /* the kernel fills the ICMPv6 checksum */
                uint16_t c = icmp_csum(pkt, sizeof(pkt));
                memcpy(pkt + 2, &c, 2);
            }
            sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, sl);
            next = now + 200000;
        }
        uint64_t until = next < deadline ? next : deadline;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, (int)((until - now) / 1000) + 1);
        if (n <= 0)
            continue;
        uint8_t buf[1500];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (len <= 0)
            continue;
        const uint8_t *icmp = buf;
        if (!v6) { /* raw IPv4 sockets deliver the IP header too */
            size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
            if ((size_t)len < ihl + 8)
                continue;
            icmp = buf + ihl;
            len -= (ssize_t)ihl;
        }
        if (len < 8 || icmp[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY))
            continue;
        if ((uint16_t)(icmp[4] << 8 | icmp[5]) == id)
            return 0;
    }
}

static int probe_tcp(const struct ipaddr *dst, uint16_t port, unsigned timeout_ms)
{
    _cleanup_close_ int fd = socket(dst->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_storage ss;
    socklen_t sl;
    to_sockaddr(dst, port, &ss, &sl);
    if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -errno;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int n = poll(&pfd, 1, (int)timeout_ms);
    if (n == 0)
        return -ETIMEDOUT;
    int err = 0;
    socklen_t el = sizeof(err);
    if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
        return -errno;
    return err ? -err : 0;
}

int probe_parse(const char *spec, struct probe **ret, size_t *ret_n, char **ret_err)
{
    struct probe *v = NULL;
    size_t n = 0;
    _cleanup_free_ char *copy = xstrdup(spec);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ' || *item == '\t')
            item++;
        char *end = item + strlen(item);
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        if (!*item)
            continue;
        struct probe p = {0};
        char *arg = strchr(item, ' ');
        if (!arg)
            goto bad;
        *arg++ = 0;
        while (*arg == ' ')
            arg++;
        if (streq(item, "ping")) {
            p.kind = PROBE_PING;
            if (ipaddr_parse(arg, -1, &p.addr) < 0 || strchr(arg, '/'))
                goto bad;
        } else if (streq(item, "tcp")) {
            p.kind = PROBE_TCP;
            char *colon = strrchr(arg, ':');
            if (!colon)
                goto bad;
            *colon = 0;
            char *host = arg, *pe;
            if (host[0] == '[' && colon[-1] == ']') { /* [v6]:port */
                host++;
                colon[-1] = 0;
            }
            unsigned long port = strtoul(colon + 1, &pe, 10);
            if (*pe || !port || port > 65535 || ipaddr_parse(host, -1, &p.addr) < 0)
                goto bad;
            p.port = (uint16_t)port;
        } else
            goto bad;
        *ARRAY_PUSH(v, n) = p;
        continue;
    bad:
        free(v);
        *ret_err = xasprintf("'%s %s' is not 'ping ADDRESS' or 'tcp ADDRESS:PORT'", item,
                             arg ? arg : "");
        return -EINVAL;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

int probe_run(const struct probe *p, unsigned timeout_ms)
{
    return p->kind == PROBE_PING ? probe_ping(&p->addr, timeout_ms)
                                 : probe_tcp(&p->addr, p->port, timeout_ms);
}

char *probe_describe(const struct probe *p)
{
    char a[64];
    ipaddr_format(&p->addr, false, a, sizeof(a));
    if (p->kind == PROBE_PING)
        return xasprintf("ping %s", a);
    return p->addr.family == AF_INET6 ? xasprintf("tcp [%s]:%u", a, p->port)
                                      : xasprintf("tcp %s:%u", a, p->port);
}
