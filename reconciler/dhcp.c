/* dhcp.c - the DHCPv4 client: packets, state machine, packet socket.
 * See dhcp.h for the layering. Everything received is untrusted: every
 * read is bounded by the received length, options are copied into fixed
 * fields, and a reply only moves the state machine when its xid, chaddr,
 * type and server identifier are the ones the state expects. */
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dhcp.h"
#include "util.h"

static const char *const type_names[] = {
    [DHCPDISCOVER] = "DHCPDISCOVER", [DHCPOFFER] = "DHCPOFFER", [DHCPREQUEST] = "DHCPREQUEST",
    [DHCPDECLINE] = "DHCPDECLINE",   [DHCPACK] = "DHCPACK",     [DHCPNAK] = "DHCPNAK",
    [DHCPRELEASE] = "DHCPRELEASE",   [DHCPINFORM] = "DHCPINFORM",
};

const char *dhcp_type_to_string(int type)
{
    if (type > 0 && (size_t)type < ARRAY_SIZE(type_names))
        return type_names[type];
    return "unknown";
}

static const char *const state_names[] = {
    [DHCP_STOPPED] = "stopped",       [DHCP_INIT] = "init",
    [DHCP_SELECTING] = "selecting",   [DHCP_REQUESTING] = "requesting",
    [DHCP_INIT_REBOOT] = "init-reboot", [DHCP_BOUND] = "bound",
    [DHCP_RENEWING] = "renewing",     [DHCP_REBINDING] = "rebinding",
};

const char *dhcp_state_to_string(enum dhcp_state s)
{
    return (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

/* ---- packets ------------------------------------------------------------ */

enum {
    OPT_PAD = 0,
    OPT_NETMASK = 1,
    OPT_ROUTER = 3,
    OPT_DNS = 6,
    OPT_HOSTNAME = 12,
    OPT_DOMAIN = 15,
    OPT_REQUESTED_IP = 50,
    OPT_LEASE = 51,
    OPT_MSG_TYPE = 53,
    OPT_SERVER_ID = 54,
    OPT_PARAMS = 55,
    OPT_MAX_SIZE = 57,
    OPT_T1 = 58,
    OPT_T2 = 59,
    OPT_CLIENT_ID = 61,
    OPT_CLASSLESS = 121,
    OPT_END = 255,
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An address kept as the bytes of the wire (network order). */
static uint32_t get_addr(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A printable copy of a string option (anything else becomes '?'). */
static void copy_text(char *dst, size_t dlen, const uint8_t *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < dlen; i++) {
        if (p[i] == 0)
            break;
        dst[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    }
    dst[k] = 0;
}

/* RFC 3442: each route is a prefix length, the significant octets of the
 * destination, and the router. */
static int parse_classless(const uint8_t *p, size_t n, struct dhcp_msg *m)
{
    size_t i = 0;
    while (i < n) {
        uint8_t plen = p[i++];
        if (plen > 32)
            return -EPROTO;
        size_t sig = (plen + 7u) / 8u;
        if (i + sig + 4 > n)
            return -EPROTO;
        uint8_t dst[4] = {0};
        memcpy(dst, p + i, sig);
        i += sig;
        if (m->nroutes < DHCP_MAX_ROUTES) {
            struct dhcp_route *r = &m->routes[m->nroutes++];
            r->plen = plen;
            memcpy(&r->dst, dst, 4);
            r->gw = get_addr(p + i);
        }
        i += 4;
    }
    return 0;
}

static int parse_option(uint8_t code, const uint8_t *p, size_t n, struct dhcp_msg *m)
{
    switch (code) {
    case OPT_MSG_TYPE:
        if (n != 1)
            return -EPROTO;
        m->type = p[0];
        return 0;
    case OPT_SERVER_ID:
    case OPT_REQUESTED_IP:
    case OPT_NETMASK:
        if (n != 4)
            return -EPROTO;
        if (code == OPT_SERVER_ID) {
            m->has_server_id = true;
            m->server_id = get_addr(p);
        } else if (code == OPT_REQUESTED_IP) {
            m->has_requested_ip = true;
            m->requested_ip = get_addr(p);
        } else {
            m->has_netmask = true;
            m->netmask = get_addr(p);
        }
        return 0;
    case OPT_LEASE:
    case OPT_T1:
    case OPT_T2:
        if (n != 4)
            return -EPROTO;
        if (code == OPT_LEASE) {
            m->has_lease = true;
            m->lease_s = get32(p);
        } else if (code == OPT_T1) {
            m->has_t1 = true;
            m->t1_s = get32(p);
        } else {
            m->has_t2 = true;
            m->t2_s = get32(p);
        }
        return 0;
    case OPT_ROUTER:
    case OPT_DNS: {
        if (n == 0 || n % 4)
            return -EPROTO;
        uint32_t *v = code == OPT_ROUTER ? m->routers : m->dns;
        size_t *cnt = code == OPT_ROUTER ? &m->nrouters : &m->ndns;
        for (size_t i = 0; i + 4 <= n && *cnt < DHCP_MAX_DNS; i += 4)
            v[(*cnt)++] = get_addr(p + i);
        return 0;
    }
    case OPT_DOMAIN:
        copy_text(m->domain, sizeof(m->domain), p, n);
        return 0;
    case OPT_HOSTNAME:
        copy_text(m->hostname, sizeof(m->hostname), p, n);
        return 0;
    case OPT_CLASSLESS:
        return parse_classless(p, n, m);
    default:
        return 0; /* not ours: skipped */
    }
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *ret)
{
    struct dhcp_msg m = {0};
    if (!buf || len < DHCP_MIN_LEN || len > 65535)
        return -EINVAL;
    m.op = buf[0];
    m.htype = buf[1];
    m.hlen = buf[2];
    if ((m.op != 1 && m.op != 2) || m.htype != 1 || m.hlen != 6)
        return -EINVAL;
    m.xid = get32(buf + 4);
    m.secs = (uint16_t)(buf[8] << 8 | buf[9]);
    m.flags = (uint16_t)(buf[10] << 8 | buf[11]);
    m.ciaddr = get_addr(buf + 12);
    m.yiaddr = get_addr(buf + 16);
    m.siaddr = get_addr(buf + 20);
    m.giaddr = get_addr(buf + 24);
    memcpy(m.chaddr, buf + 28, 6);
    if (get32(buf + DHCP_FIXED_LEN) != DHCP_MAGIC)
        return -EINVAL;
    /* Options: code, length, value; pad and end have no length. The
     * overload option (52) is not honoured: sname and file are never read. */
    size_t i = DHCP_MIN_LEN;
    bool end = false;
    while (i < len) {
        uint8_t code = buf[i++];
        if (code == OPT_PAD)
            continue;
        if (code == OPT_END) {
            end = true;
            break;
        }
        if (i >= len)
            return -EINVAL;
        size_t n = buf[i++];
        if (i + n > len)
            return -EINVAL;
        int r = parse_option(code, buf + i, n, &m);
        if (r < 0)
            return r;
        i += n;
    }
    if (!end)
        return -EINVAL; /* options must be terminated */
    *ret = m;
    return 0;
}

static int opt_put(uint8_t *buf, size_t len, size_t *off, uint8_t code, const void *v, size_t n)
{
    if (*off + 2 + n + 1 > len || n > 255)
        return -ENOSPC;
    buf[(*off)++] = code;
    buf[(*off)++] = (uint8_t)n;
    memcpy(buf + *off, v, n);
    *off += n;
    return 0;
}

int dhcp_encode(const struct dhcp_msg *m, uint8_t *buf, size_t len)
{
    if (len < 300)
        return -ENOSPC;
    memset(buf, 0, len);
    buf[0] = 1; /* BOOTREQUEST */
    buf[1] = 1;
    buf[2] = 6;
    put32(buf + 4, m->xid);
    buf[8] = (uint8_t)(m->secs >> 8);
    buf[9] = (uint8_t)m->secs;
    buf[10] = (uint8_t)(m->flags >> 8);
    buf[11] = (uint8_t)m->flags;
    memcpy(buf + 12, &m->ciaddr, 4);
    memcpy(buf + 28, m->chaddr, 6);
    put32(buf + DHCP_FIXED_LEN, DHCP_MAGIC);
    size_t off = DHCP_MIN_LEN;
    uint8_t t = (uint8_t)m->type;
    int r = opt_put(buf, len, &off, OPT_MSG_TYPE, &t, 1);
    /* Client identifier: hardware type 1 + MAC, as most clients send. */
    uint8_t cid[7] = {1};
    memcpy(cid + 1, m->chaddr, 6);
    if (r >= 0)
        r = opt_put(buf, len, &off, OPT_CLIENT_ID, cid, sizeof(cid));
    if (r >= 0 && m->has_requested_ip)
        r = opt_put(buf, len, &off, OPT_REQUESTED_IP, &m->requested_ip, 4);
    if (r >= 0 && m->has_server_id)
        r = opt_put(buf, len, &off, OPT_SERVER_ID, &m->server_id, 4);
    if (r >= 0 && m->type != DHCPRELEASE && m->type != DHCPDECLINE) {
        static const uint8_t params[] = {OPT_NETMASK, OPT_ROUTER, OPT_DNS, OPT_DOMAIN,
                                         OPT_LEASE, OPT_T1, OPT_T2, OPT_CLASSLESS};
        uint8_t maxsz[2] = {DHCP_MAX_LEN >> 8, DHCP_MAX_LEN & 0xff};
        r = opt_put(buf, len, &off, OPT_PARAMS, params, sizeof(params));
        if (r >= 0)
            r = opt_put(buf, len, &off, OPT_MAX_SIZE, maxsz, 2);
        if (r >= 0 && m->hostname[0])
            r = opt_put(buf, len, &off, OPT_HOSTNAME, m->hostname, strlen(m->hostname));
    }
    if (r < 0)
        return r;
    buf[off++] = OPT_END;
    return off < 300 ? 300 : (int)off;
}

static uint16_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

int dhcp_wrap(uint32_t src, uint32_t dst, const uint8_t *payload, size_t plen, uint8_t *buf,
              size_t len)
{
    size_t total = 20 + 8 + plen;
    if (total > len || total > 65535)
        return -ENOSPC;
    uint8_t *ip = buf, *udp = buf + 20;
    memset(buf, 0, 28);
    ip[0] = 0x45;
    ip[1] = 0x10; /* low delay, as other clients */
    ip[2] = (uint8_t)(total >> 8);
    ip[3] = (uint8_t)total;
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    memcpy(ip + 12, &src, 4);
    memcpy(ip + 16, &dst, 4);
    uint16_t c = (uint16_t)~csum_add(0, ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    udp[0] = 0;
    udp[1] = DHCP_CLIENT_PORT;
    udp[2] = 0;
    udp[3] = DHCP_SERVER_PORT;
    udp[4] = (uint8_t)((8 + plen) >> 8);
    udp[5] = (uint8_t)(8 + plen);
    memcpy(udp + 8, payload, plen);
    /* UDP checksum over the pseudo-header, header and data. */
    uint8_t pseudo[12];
    memcpy(pseudo, &src, 4);
    memcpy(pseudo + 4, &dst, 4);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_UDP;
    pseudo[10] = udp[4];
    pseudo[11] = udp[5];
    uint32_t s = csum_add(0, pseudo, sizeof(pseudo));
    s = csum_add(s, udp, 8 + plen);
    c = (uint16_t)~s;
    if (c == 0)
        c = 0xffff;
    udp[6] = (uint8_t)(c >> 8);
    udp[7] = (uint8_t)c;
    return (int)total;
}

int dhcp_unwrap(const uint8_t *buf, size_t len, size_t *ret_off, size_t *ret_len)
{
    if (len < 28 || (buf[0] >> 4) != 4)
        return -EINVAL;
    size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
    size_t total = (size_t)buf[2] << 8 | buf[3];
    if (ihl < 20 || total < ihl + 8 || total > len)
        return -EINVAL;
    if (buf[9] != IPPROTO_UDP || ((buf[6] & 0x3f) | buf[7]) != 0) /* MF or an offset */
        return -EINVAL;
    if (csum_add(0, buf, ihl) != 0xffff)
        return -EINVAL;
    const uint8_t *udp = buf + ihl;
    size_t ulen = (size_t)udp[4] << 8 | udp[5];
    if ((udp[2] << 8 | udp[3]) != DHCP_CLIENT_PORT || ulen < 8 || ihl + ulen > total)
        return -EINVAL;
    *ret_off = ihl + 8;
    *ret_len = ulen - 8;
    return 0;
}

/* ---- state machine ------------------------------------------------------ */

static uint64_t rng_next(struct dhcp_client *c)
{
    /* xorshift64*: jitter and transaction ids need no more than this */
    uint64_t x = c->rng ? c->rng : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint64_t dhcp_lease_end(const struct dhcp_lease *l)
{
    return l->lease_s == DHCP_INFINITE ? UINT64_MAX : l->acquired_ms + (uint64_t)l->lease_s * 1000;
}

uint64_t dhcp_lease_t1(const struct dhcp_lease *l)
{
    return l->lease_s == DHCP_INFINITE ? UINT64_MAX : l->acquired_ms + (uint64_t)l->t1_s * 1000;
}

uint64_t dhcp_lease_t2(const struct dhcp_lease *l)
{
    return l->lease_s == DHCP_INFINITE ? UINT64_MAX : l->acquired_ms + (uint64_t)l->t2_s * 1000;
}

bool dhcp_lease_same_config(const struct dhcp_lease *a, const struct dhcp_lease *b)
{
    if (a->addr != b->addr || a->prefix != b->prefix || a->router != b->router ||
        a->ndns != b->ndns || a->nroutes != b->nroutes || strcmp(a->domain, b->domain))
        return false;
    if (memcmp(a->dns, b->dns, a->ndns * sizeof(a->dns[0])))
        return false;
    for (size_t i = 0; i < a->nroutes; i++)
        if (a->routes[i].dst != b->routes[i].dst || a->routes[i].plen != b->routes[i].plen ||
            a->routes[i].gw != b->routes[i].gw)
            return false;
    return true;
}

static uint8_t mask_to_prefix(uint32_t mask_n)
{
    uint32_t m = ntohl(mask_n);
    uint8_t p = 0;
    while (p < 32 && (m & (0x80000000u >> p)))
        p++;
    return p;
}

/* The lease an OFFER or ACK describes (times sanitized: 0 < T1 < T2 <
 * lease, defaults 1/2 and 7/8 of it). */
static void lease_from_msg(const struct dhcp_msg *m, uint64_t now_ms, struct dhcp_lease *l)
{
    memset(l, 0, sizeof(*l));
    l->addr = m->yiaddr;
    l->prefix = m->has_netmask ? mask_to_prefix(m->netmask) : 24;
    if (l->prefix == 0)
        l->prefix = 24;
    l->router = m->nrouters ? m->routers[0] : 0;
    l->server_id = m->server_id;
    l->ndns = m->ndns;
    memcpy(l->dns, m->dns, sizeof(l->dns));
    snprintf(l->domain, sizeof(l->domain), "%s", m->domain);
    l->nroutes = m->nroutes;
    memcpy(l->routes, m->routes, sizeof(l->routes));
    uint32_t lease = m->has_lease && m->lease_s ? m->lease_s : 3600;
    l->lease_s = lease;
    if (lease == DHCP_INFINITE) {
        l->t1_s = l->t2_s = DHCP_INFINITE;
    } else {
        uint32_t t1 = m->has_t1 ? m->t1_s : lease / 2;
        uint32_t t2 = m->has_t2 ? m->t2_s : (uint32_t)((uint64_t)lease * 7 / 8);
        if (t2 == 0 || t2 >= lease)
            t2 = (uint32_t)((uint64_t)lease * 7 / 8);
        if (t1 == 0 || t1 >= t2)
            t1 = t2 / 2 ? t2 / 2 : 1;
        if (t2 <= t1)
            t2 = t1 + 1 < lease ? t1 + 1 : lease;
        l->t1_s = t1;
        l->t2_s = t2;
    }
    l->acquired_ms = now_ms;
}

/* RFC 2131 4.1: retransmit after 4, 8, 16, 32, 64 s, each +-1 s. */
static uint64_t backoff_ms(struct dhcp_client *c)
{
    unsigned shift = c->tries > 5 ? 4 : (c->tries ? c->tries - 1 : 0);
    uint64_t base = 4000ULL << shift;
    return base - 1000 + rng_next(c) % 2001;
}

static void new_xid(struct dhcp_client *c)
{
    c->xid = (uint32_t)(rng_next(c) >> 16);
}

static void msg_init(struct dhcp_client *c, struct dhcp_msg *m, int type, uint64_t now_ms)
{
    memset(m, 0, sizeof(*m));
    m->op = 1;
    m->htype = 1;
    m->hlen = 6;
    m->xid = c->xid;
    m->type = type;
    memcpy(m->chaddr, c->mac, 6);
    uint64_t secs = now_ms > c->exchange_start_ms ? (now_ms - c->exchange_start_ms) / 1000 : 0;
    m->secs = (uint16_t)(secs > 0xffff ? 0xffff : secs);
    snprintf(m->hostname, sizeof(m->hostname), "%s", c->hostname);
}

static void send_discover(struct dhcp_client *c, uint64_t now_ms, struct dhcp_actions *a)
{
    c->tries++;
    a->send = true;
    msg_init(c, &a->out, DHCPDISCOVER, now_ms);
    a->dst = htonl(INADDR_BROADCAST);
    c->wake_ms = now_ms + backoff_ms(c);
}

static void enter_init(struct dhcp_client *c, uint64_t now_ms, struct dhcp_actions *a)
{
    c->state = DHCP_SELECTING;
    c->tries = 0;
    new_xid(c);
    c->exchange_start_ms = now_ms;
    send_discover(c, now_ms, a);
}

/* REQUEST in SELECTING->REQUESTING (server id + requested ip), INIT-REBOOT
 * (requested ip), RENEWING (ciaddr, unicast) or REBINDING (ciaddr,
 * broadcast). */
static void send_request(struct dhcp_client *c, uint64_t now_ms, struct dhcp_actions *a)
{
    c->tries++;
    a->send = true;
    struct dhcp_msg *m = &a->out;
    msg_init(c, m, DHCPREQUEST, now_ms);
    a->dst = htonl(INADDR_BROADCAST);
    switch (c->state) {
    case DHCP_REQUESTING:
        m->has_server_id = true;
        m->server_id = c->offer.server_id;
        m->has_requested_ip = true;
        m->requested_ip = c->offer.addr;
        c->wake_ms = now_ms + backoff_ms(c);
        break;
    case DHCP_INIT_REBOOT:
        m->has_requested_ip = true;
        m->requested_ip = c->lease.addr;
        c->wake_ms = now_ms + backoff_ms(c);
        break;
    case DHCP_RENEWING:
    case DHCP_REBINDING: {
        m->ciaddr = c->lease.addr;
        a->src = c->lease.addr;
        if (c->state == DHCP_RENEWING)
            a->dst = c->lease.server_id;
        /* RFC 2131 4.4.5: wait half the time left to T2 (renewing) or to
         * the end of the lease (rebinding), at least 60 s. */
        uint64_t until = c->state == DHCP_RENEWING ? dhcp_lease_t2(&c->lease)
                                                   : dhcp_lease_end(&c->lease);
        uint64_t wait = until > now_ms ? (until - now_ms) / 2 : 0;
        if (wait < 60000)
            wait = 60000;
        c->wake_ms = now_ms + wait < until ? now_ms + wait : until;
        break;
    }
    default:
        break;
    }
}

void dhcp_client_init(struct dhcp_client *c, const uint8_t mac[6], uint64_t seed,
                      const struct dhcp_lease *lease, uint64_t now_ms)
{
    memset(c, 0, sizeof(*c));
    memcpy(c->mac, mac, 6);
    c->rng = seed ^ 0x5851f42d4c957f2dULL;
    for (int i = 0; i < 6; i++)
        c->rng = c->rng * 31 + mac[i];
    c->state = DHCP_INIT;
    if (lease && lease->addr && dhcp_lease_end(lease) > now_ms) {
        c->lease = *lease;
        c->has_lease = true;
        c->state = DHCP_INIT_REBOOT;
    }
}

void dhcp_start(struct dhcp_client *c, uint64_t now_ms, struct dhcp_actions *a)
{
    memset(a, 0, sizeof(*a));
    if (c->state == DHCP_INIT_REBOOT && c->has_lease) {
        c->tries = 0;
        new_xid(c);
        c->exchange_start_ms = now_ms;
        send_request(c, now_ms, a);
    } else
        enter_init(c, now_ms, a);
    a->wake_ms = c->wake_ms;
}

static void lose_lease(struct dhcp_client *c, uint64_t now_ms, struct dhcp_actions *a)
{
    if (c->has_lease)
        a->lost = true;
    c->has_lease = false;
    enter_init(c, now_ms, a);
}

/* Bound: the next wake-up is T1. */
static void enter_bound(struct dhcp_client *c)
{
    c->state = DHCP_BOUND;
    c->tries = 0;
    uint64_t t1 = dhcp_lease_t1(&c->lease);
    c->wake_ms = t1 == UINT64_MAX ? 0 : t1;
}

void dhcp_on_timer(struct dhcp_client *c, uint64_t now_ms, struct dhcp_actions *a)
{
    memset(a, 0, sizeof(*a));
    if (c->state == DHCP_STOPPED || !c->wake_ms || now_ms < c->wake_ms) {
        a->wake_ms = c->wake_ms;
        return;
    }
    /* A lease past its end is gone, whatever the state. */
    if (c->has_lease && now_ms >= dhcp_lease_end(&c->lease) && c->state != DHCP_SELECTING &&
        c->state != DHCP_REQUESTING) {
        lose_lease(c, now_ms, a);
        a->wake_ms = c->wake_ms;
        return;
    }
    switch (c->state) {
    case DHCP_INIT:
    case DHCP_SELECTING:
        if (c->state == DHCP_INIT)
            enter_init(c, now_ms, a);
        else
            send_discover(c, now_ms, a);
        break;
    case DHCP_REQUESTING:
        if (c->tries >= 4) /* no ACK: start over */
            enter_init(c, now_ms, a);
        else
            send_request(c, now_ms, a);
        break;
    case DHCP_INIT_REBOOT:
        /* No answer: the lease is still ours until it ends (RFC 2131
         * 3.2); renew it from BOUND's timers. */
        if (c->tries >= 2) {
            enter_bound(c);
            if (c->wake_ms && c->wake_ms <= now_ms) {
                dhcp_on_timer(c, now_ms, a);
                return;
            }
        } else
            send_request(c, now_ms, a);
        break;
    case DHCP_BOUND:
        c->state = DHCP_RENEWING;
        c->tries = 0;
        new_xid(c);
        c->exchange_start_ms = now_ms;
        /* Past T2 already (a daemon that slept): rebind. */
        if (now_ms >= dhcp_lease_t2(&c->lease))
            c->state = DHCP_REBINDING;
        send_request(c, now_ms, a);
        break;
    case DHCP_RENEWING:
        if (now_ms >= dhcp_lease_t2(&c->lease)) {
            c->state = DHCP_REBINDING;
            new_xid(c);
        }
        send_request(c, now_ms, a);
        break;
    case DHCP_REBINDING:
        send_request(c, now_ms, a);
        break;
    case DHCP_STOPPED:
        break;
    }
    a->wake_ms = c->wake_ms;
}

void dhcp_on_packet(struct dhcp_client *c, const struct dhcp_msg *m, uint64_t now_ms,
                    struct dhcp_actions *a)
{
    memset(a, 0, sizeof(*a));
    a->wake_ms = c->wake_ms;
    if (m->op != 2 || m->xid != c->xid || memcmp(m->chaddr, c->mac, 6))
        return;
    switch (c->state) {
    case DHCP_SELECTING:
        /* The first acceptable offer wins. */
        if (m->type != DHCPOFFER || !m->has_server_id || !m->yiaddr ||
            m->yiaddr == htonl(INADDR_BROADCAST))
            return;
        lease_from_msg(m, now_ms, &c->offer);
        c->state = DHCP_REQUESTING;
        c->tries = 0;
        send_request(c, now_ms, a);
        break;
    case DHCP_REQUESTING:
    case DHCP_INIT_REBOOT:
    case DHCP_RENEWING:
    case DHCP_REBINDING: {
        if (m->type != DHCPACK && m->type != DHCPNAK)
            return;
        /* The server we asked (REQUESTING: the one whose offer we took;
         * RENEWING: the lease's); any server may answer a broadcast
         * rebind or reboot, but it must name itself. */
        if (!m->has_server_id)
            return;
        uint32_t want = c->state == DHCP_REQUESTING ? c->offer.server_id
                        : c->state == DHCP_RENEWING ? c->lease.server_id : 0;
        if (want && m->server_id != want)
            return;
        if (m->type == DHCPNAK) {
            lose_lease(c, now_ms, a);
            break;
        }
        uint32_t expect = c->state == DHCP_REQUESTING ? c->offer.addr : c->lease.addr;
        if (m->yiaddr != expect || !m->yiaddr)
            return;
        struct dhcp_lease nl;
        lease_from_msg(m, now_ms, &nl);
        if (c->has_lease && dhcp_lease_same_config(&c->lease, &nl))
            a->renewed = true;
        else
            a->acquired = true;
        c->lease = nl;
        c->has_lease = true;
        enter_bound(c);
        break;
    }
    default:
        return;
    }
    a->wake_ms = c->wake_ms;
}

void dhcp_stop(struct dhcp_client *c, bool release, struct dhcp_actions *a)
{
    memset(a, 0, sizeof(*a));
    if (release && c->has_lease && c->lease.server_id) {
        new_xid(c);
        c->exchange_start_ms = 0;
        a->send = true;
        msg_init(c, &a->out, DHCPRELEASE, 0);
        a->out.ciaddr = c->lease.addr;
        a->out.has_server_id = true;
        a->out.server_id = c->lease.server_id;
        a->src = c->lease.addr;
        a->dst = c->lease.server_id;
    }
    c->has_lease = false;
    c->state = DHCP_STOPPED;
    c->wake_ms = 0;
}

/* ---- packet socket ------------------------------------------------------ */

int dhcp_sock_open(int ifindex)
{
    /* Offsets are from the IP header (SOCK_DGRAM): UDP, not a fragment,
     * destination port 68. Everything else on a busy bridge never wakes
     * the loop. */
    static struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DHCP_CLIENT_PORT, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffff),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = {.len = ARRAY_SIZE(code), .filter = code};
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* The filter goes on before the bind, so nothing unfiltered queues. */
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
                              .sll_ifindex = ifindex};
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int dhcp_sock_sink(const char *ifname)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1, small = 1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(DHCP_CLIENT_PORT)};
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int dhcp_sock_send(int fd, int ifindex, const struct dhcp_actions *a, const uint8_t *dst_mac)
{
    uint8_t payload[DHCP_MAX_LEN], pkt[DHCP_MAX_LEN + 28];
    int n = dhcp_encode(&a->out, payload, sizeof(payload));
    if (n < 0)
        return n;
    int m = dhcp_wrap(a->src, a->dst, payload, (size_t)n, pkt, sizeof(pkt));
    if (m < 0)
        return m;
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
                              .sll_ifindex = ifindex, .sll_halen = 6};
    if (dst_mac && a->dst != htonl(INADDR_BROADCAST))
        memcpy(sll.sll_addr, dst_mac, 6);
    else
        memset(sll.sll_addr, 0xff, 6);
    if (sendto(fd, pkt, (size_t)m, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
        return -errno;
    return 0;
}

int dhcp_sock_recv(int fd, struct dhcp_msg *ret, uint8_t ret_mac[6])
{
    uint8_t buf[4096];
    struct sockaddr_ll sll;
    socklen_t sl = sizeof(sll);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sll, &sl);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (sll.sll_pkttype == PACKET_OUTGOING)
        return 0;
    size_t off, len;
    if (dhcp_unwrap(buf, (size_t)n, &off, &len) < 0 || dhcp_parse(buf + off, len, ret) < 0)
        return 0;
    if (ret_mac)
        memcpy(ret_mac, sll.sll_addr, 6);
    return 1;
}
