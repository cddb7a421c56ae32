/* test_dhcp.c - the DHCPv4 client without sockets: the encoder/parser
 * (and what it rejects), the IP/UDP wrapping, the state machine through
 * DISCOVER/OFFER/REQUEST/ACK, T1 renew, T2 rebind, expiry, NAK, INIT-REBOOT
 * of a persisted lease, retransmission backoff, release, and a
 * deterministic mutation fuzz of the parser (100k packets; under
 * `make check-asan` it runs with ASan+UBSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>

#include "dhcp.h"
#include "util.h"

/* replies are written positionally: type, xid, yiaddr, server, lease, T1, T2 */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static const uint8_t MAC[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
#define SERVER "192.168.255.11"
#define OTHER "192.168.255.12"
#define YIADDR "192.168.255.50"

static uint32_t ip4(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

struct reply {
    int type;
    uint32_t xid;
    const char *yiaddr, *server;
    uint32_t lease, t1, t2;
    bool no_server_id;
};

static size_t opt(uint8_t *b, size_t off, uint8_t code, const void *v, size_t n)
{
    b[off] = code;
    b[off + 1] = (uint8_t)n;
    memcpy(b + off + 2, v, n);
    return off + 2 + n;
}

static size_t opt32(uint8_t *b, size_t off, uint8_t code, uint32_t host)
{
    uint32_t n = htonl(host);
    return opt(b, off, code, &n, 4);
}

/* A server's reply, built by hand (the encoder only builds requests). */
static size_t build_reply(const struct reply *r, uint8_t *b, size_t len)
{
    assert_true(len >= 400);
    memset(b, 0, len);
    b[0] = 2;
    b[1] = 1;
    b[2] = 6;
    uint32_t x = htonl(r->xid);
    memcpy(b + 4, &x, 4);
    uint32_t y = r->yiaddr ? ip4(r->yiaddr) : 0;
    memcpy(b + 16, &y, 4);
    memcpy(b + 28, MAC, 6);
    uint32_t magic = htonl(DHCP_MAGIC);
    memcpy(b + 236, &magic, 4);
    size_t off = 240;
    uint8_t t = (uint8_t)r->type;
    off = opt(b, off, 53, &t, 1);
    if (!r->no_server_id) {
        uint32_t s = ip4(r->server ? r->server : SERVER);
        off = opt(b, off, 54, &s, 4);
    }
    uint32_t mask = ip4("255.255.255.0"), gw = ip4("192.168.255.254");
    uint32_t dns[2] = {ip4("192.168.255.11"), ip4("192.0.2.53")};
    off = opt(b, off, 1, &mask, 4);
    off = opt(b, off, 3, &gw, 4);
    off = opt(b, off, 6, dns, 8);
    off = opt(b, off, 15, "lab.example", 11);
    if (r->lease)
        off = opt32(b, off, 51, r->lease);
    if (r->t1)
        off = opt32(b, off, 58, r->t1);
    if (r->t2)
        off = opt32(b, off, 59, r->t2);
    /* option 121: 10.0.0.0/8 via 192.168.255.1 */
    uint8_t cl[] = {8, 10, 192, 168, 255, 1};
    off = opt(b, off, 121, cl, sizeof(cl));
    b[off++] = 255;
    return off;
}

static void parse_ok(const struct reply *r, struct dhcp_msg *m)
{
    uint8_t b[600];
    size_t n = build_reply(r, b, sizeof(b));
    assert_int_equal(dhcp_parse(b, n, m), 0);
}

/* ---- packets ---- */

static void test_parse_reply(void **state)
{
    (void)state;
    struct dhcp_msg m;
    parse_ok(&(struct reply){DHCPACK, 42, YIADDR, SERVER, 120, 10, 100}, &m);
    assert_int_equal(m.op, 2);
    assert_int_equal(m.type, DHCPACK);
    assert_int_equal(m.xid, 42);
    assert_int_equal(m.yiaddr, ip4(YIADDR));
    assert_true(m.has_server_id);
    assert_int_equal(m.server_id, ip4(SERVER));
    assert_int_equal(m.netmask, ip4("255.255.255.0"));
    assert_int_equal(m.nrouters, 1);
    assert_int_equal(m.ndns, 2);
    assert_string_equal(m.domain, "lab.example");
    assert_int_equal(m.lease_s, 120);
    assert_int_equal(m.t1_s, 10);
    assert_int_equal(m.t2_s, 100);
    assert_int_equal(m.nroutes, 1);
    assert_int_equal(m.routes[0].plen, 8);
    assert_int_equal(m.routes[0].dst, ip4("10.0.0.0"));
    assert_int_equal(m.routes[0].gw, ip4("192.168.255.1"));
}

static void test_parse_rejects(void **state)
{
    (void)state;
    uint8_t b[600], c[600];
    struct dhcp_msg m;
    size_t n = build_reply(&(struct reply){DHCPOFFER, 1, YIADDR, SERVER, 60, 0, 0}, b, sizeof(b));
    /* short packets, down to nothing */
    for (size_t k = 0; k < 241; k++)
        assert_int_not_equal(dhcp_parse(b, k, &m), 0);
    assert_int_equal(dhcp_parse(NULL, 0, &m), -EINVAL);
    /* bad cookie */
    memcpy(c, b, n);
    c[236] ^= 1;
    assert_int_equal(dhcp_parse(c, n, &m), -EINVAL);
    /* wrong op, htype, hlen */
    memcpy(c, b, n);
    c[0] = 3;
    assert_int_equal(dhcp_parse(c, n, &m), -EINVAL);
    memcpy(c, b, n);
    c[1] = 6;
    assert_int_equal(dhcp_parse(c, n, &m), -EINVAL);
    memcpy(c, b, n);
    c[2] = 16;
    assert_int_equal(dhcp_parse(c, n, &m), -EINVAL);
    /* an option running past the end: cut before the end option */
    assert_int_equal(dhcp_parse(b, 245, &m), -EINVAL);
    /* a length byte pointing past the end */
    memcpy(c, b, n);
    c[240 + 3 + 1] = 250; /* the server id's length (after type's 3 bytes) */
    assert_int_equal(dhcp_parse(c, n, &m), -EINVAL);
    /* impossible lengths: type of 2 bytes, server id of 3 */
    memcpy(c, b, n);
    c[241] = 2;
    assert_int_not_equal(dhcp_parse(c, n, &m), 0);
    /* no end option */
    memcpy(c, b, n);
    c[n - 1] = 0;
    assert_int_equal(dhcp_parse(c, n, &m), -EINVAL);
    /* classless route with a prefix > 32 */
    uint8_t d[600];
    memcpy(d, b, n);
    size_t off = n - 1;
    uint8_t bad[] = {33, 1, 2, 3, 4, 5, 6, 7, 8};
    off = opt(d, off, 121, bad, sizeof(bad));
    d[off++] = 255;
    assert_int_equal(dhcp_parse(d, off, &m), -EPROTO);
    /* and a truncated route */
    memcpy(d, b, n);
    off = n - 1;
    uint8_t trunc[] = {24, 10, 0, 0, 192};
    off = opt(d, off, 121, trunc, sizeof(trunc));
    d[off++] = 255;
    assert_int_equal(dhcp_parse(d, off, &m), -EPROTO);
    /* routers not a multiple of 4 */
    memcpy(d, b, n);
    off = n - 1;
    off = opt(d, off, 3, "abc", 3);
    d[off++] = 255;
    assert_int_equal(dhcp_parse(d, off, &m), -EPROTO);
}

static void test_encode_roundtrip(void **state)
{
    (void)state;
    struct dhcp_msg m = {.xid = 0xdeadbeef, .type = DHCPREQUEST, .has_requested_ip = true,
                         .requested_ip = ip4(YIADDR), .has_server_id = true,
                         .server_id = ip4(SERVER), .secs = 3};
    memcpy(m.chaddr, MAC, 6);
    snprintf(m.hostname, sizeof(m.hostname), "worker-1");
    uint8_t b[DHCP_MAX_LEN];
    int n = dhcp_encode(&m, b, sizeof(b));
    assert_int_equal(n, 300); /* padded to BOOTP's minimum */
    struct dhcp_msg p;
    assert_int_equal(dhcp_parse(b, (size_t)n, &p), 0);
    assert_int_equal(p.op, 1);
    assert_int_equal(p.xid, 0xdeadbeef);
    assert_int_equal(p.type, DHCPREQUEST);
    assert_int_equal(p.requested_ip, ip4(YIADDR));
    assert_int_equal(p.server_id, ip4(SERVER));
    assert_int_equal(p.secs, 3);
    assert_string_equal(p.hostname, "worker-1");
    assert_memory_equal(p.chaddr, MAC, 6);
    assert_int_equal(dhcp_encode(&m, b, 200), -ENOSPC);
}

static void test_wrap_unwrap(void **state)
{
    (void)state;
    uint8_t payload[300] = {1, 2, 3}, pkt[400];
    int n = dhcp_wrap(0, htonl(INADDR_BROADCAST), payload, sizeof(payload), pkt, sizeof(pkt));
    assert_int_equal(n, 328);
    /* a reply comes to port 68: turn ours around */
    pkt[21] = 67, pkt[23] = 68;
    size_t off, len;
    assert_int_equal(dhcp_unwrap(pkt, (size_t)n, &off, &len), 0);
    assert_int_equal(off, 28);
    assert_int_equal(len, 300);
    assert_int_equal(dhcp_unwrap(pkt, 27, &off, &len), -EINVAL);   /* short */
    pkt[10] ^= 1;                                                 /* checksum */
    assert_int_equal(dhcp_unwrap(pkt, (size_t)n, &off, &len), -EINVAL);
    pkt[10] ^= 1;
    pkt[6] |= 0x20; /* more fragments */
    assert_int_equal(dhcp_unwrap(pkt, (size_t)n, &off, &len), -EINVAL);
    pkt[6] &= (uint8_t)~0x20;
    pkt[25] = 200; /* UDP length beyond the IP packet */
    pkt[24] = 1;
    assert_int_equal(dhcp_unwrap(pkt, (size_t)n, &off, &len), -EINVAL);
}

/* ---- state machine ---- */

static void feed(struct dhcp_client *c, const struct reply *r, uint64_t now, struct dhcp_actions *a)
{
    struct dhcp_msg m;
    parse_ok(r, &m);
    dhcp_on_packet(c, &m, now, a);
}

/* INIT -> SELECTING -> REQUESTING -> BOUND; returns the time bound. */
static uint64_t do_bind(struct dhcp_client *c, uint32_t lease, uint32_t t1, uint32_t t2)
{
    struct dhcp_actions a;
    uint64_t now = 1000000;
    dhcp_client_init(c, MAC, 7, NULL, now);
    dhcp_start(c, now, &a);
    assert_int_equal(c->state, DHCP_SELECTING);
    assert_true(a.send);
    assert_int_equal(a.out.type, DHCPDISCOVER);
    assert_int_equal(a.dst, htonl(INADDR_BROADCAST));
    assert_int_equal(a.src, 0);
    uint32_t xid = a.out.xid;
    /* first retransmission after 4 s +- 1 s */
    assert_true(a.wake_ms >= now + 3000 && a.wake_ms <= now + 5000);
    /* an offer for another transaction, or without a server id: ignored */
    feed(c, &(struct reply){DHCPOFFER, xid + 1, YIADDR, SERVER, lease}, now, &a);
    assert_false(a.send);
    feed(c, &(struct reply){DHCPOFFER, xid, YIADDR, SERVER, lease, .no_server_id = true}, now, &a);
    assert_false(a.send);
    assert_int_equal(c->state, DHCP_SELECTING);
    /* an ACK while selecting: ignored */
    feed(c, &(struct reply){DHCPACK, xid, YIADDR, SERVER, lease}, now, &a);
    assert_false(a.send);
    feed(c, &(struct reply){DHCPOFFER, xid, YIADDR, SERVER, lease, t1, t2}, now + 10, &a);
    assert_int_equal(c->state, DHCP_REQUESTING);
    assert_true(a.send);
    assert_int_equal(a.out.type, DHCPREQUEST);
    assert_int_equal(a.out.xid, xid);
    assert_true(a.out.has_server_id);
    assert_int_equal(a.out.server_id, ip4(SERVER));
    assert_int_equal(a.out.requested_ip, ip4(YIADDR));
    /* an ACK from another server than the offer's: ignored */
    feed(c, &(struct reply){DHCPACK, xid, YIADDR, OTHER, lease, t1, t2}, now + 20, &a);
    assert_false(a.acquired);
    assert_int_equal(c->state, DHCP_REQUESTING);
    /* an ACK of another address: ignored */
    feed(c, &(struct reply){DHCPACK, xid, "192.168.255.51", SERVER, lease, t1, t2}, now + 20, &a);
    assert_false(a.acquired);
    feed(c, &(struct reply){DHCPACK, xid, YIADDR, SERVER, lease, t1, t2}, now + 20, &a);
    assert_true(a.acquired);
    assert_int_equal(c->state, DHCP_BOUND);
    assert_int_equal(c->lease.addr, ip4(YIADDR));
    assert_int_equal(c->lease.prefix, 24);
    assert_int_equal(c->lease.router, ip4("192.168.255.254"));
    assert_int_equal(c->lease.ndns, 2);
    return now + 20;
}

static void test_full_exchange_and_renew(void **state)
{
    (void)state;
    struct dhcp_client c;
    struct dhcp_actions a;
    uint64_t t0 = do_bind(&c, 120, 10, 100);
    assert_int_equal(c.wake_ms, t0 + 10000); /* T1 from option 58 */
    /* early timer: nothing */
    dhcp_on_timer(&c, t0 + 5000, &a);
    assert_false(a.send);
    /* T1: unicast REQUEST to the server with ciaddr */
    dhcp_on_timer(&c, t0 + 10000, &a);
    assert_int_equal(c.state, DHCP_RENEWING);
    assert_true(a.send);
    assert_int_equal(a.out.type, DHCPREQUEST);
    assert_int_equal(a.dst, ip4(SERVER));
    assert_int_equal(a.src, ip4(YIADDR));
    assert_int_equal(a.out.ciaddr, ip4(YIADDR));
    assert_false(a.out.has_server_id);
    assert_false(a.out.has_requested_ip);
    /* retransmit no sooner than 60 s, never after T2 */
    assert_int_equal(a.wake_ms, t0 + 70000);
    uint32_t xid = a.out.xid;
    /* an ACK from another server while renewing: ignored */
    feed(&c, &(struct reply){DHCPACK, xid, YIADDR, OTHER, 120, 10, 100}, t0 + 10100, &a);
    assert_false(a.renewed || a.acquired);
    feed(&c, &(struct reply){DHCPACK, xid, YIADDR, SERVER, 120, 10, 100}, t0 + 10100, &a);
    assert_true(a.renewed);
    assert_false(a.acquired);
    assert_int_equal(c.state, DHCP_BOUND);
    assert_int_equal(c.wake_ms, t0 + 10100 + 10000);
}

static void test_rebind_and_expiry(void **state)
{
    (void)state;
    struct dhcp_client c;
    struct dhcp_actions a;
    uint64_t t0 = do_bind(&c, 200, 0, 0); /* defaults: T1 100 s, T2 175 s */
    assert_int_equal(c.lease.t1_s, 100);
    assert_int_equal(c.lease.t2_s, 175);
    dhcp_on_timer(&c, t0 + 100000, &a);
    assert_int_equal(c.state, DHCP_RENEWING);
    assert_int_equal(a.wake_ms, t0 + 160000);
    dhcp_on_timer(&c, t0 + 160000, &a);
    assert_int_equal(c.state, DHCP_RENEWING);
    assert_int_equal(a.wake_ms, t0 + 175000); /* capped at T2 */
    dhcp_on_timer(&c, t0 + 175000, &a);
    assert_int_equal(c.state, DHCP_REBINDING);
    assert_int_equal(a.dst, htonl(INADDR_BROADCAST));
    assert_int_equal(a.out.ciaddr, ip4(YIADDR));
    assert_int_equal(a.wake_ms, t0 + 200000);
    /* a rebind ACK may come from any server */
    uint32_t xid = a.out.xid;
    struct dhcp_client c2 = c;
    feed(&c2, &(struct reply){DHCPACK, xid, YIADDR, OTHER, 200}, t0 + 176000, &a);
    assert_true(a.renewed); /* the same address and settings from another server */
    assert_int_equal(c2.state, DHCP_BOUND);
    assert_int_equal(c2.lease.server_id, ip4(OTHER));
    /* no answer: the lease ends, back to DISCOVER */
    dhcp_on_timer(&c, t0 + 200000, &a);
    assert_true(a.lost);
    assert_int_equal(c.state, DHCP_SELECTING);
    assert_int_equal(a.out.type, DHCPDISCOVER);
    assert_false(c.has_lease);
}

static void test_nak(void **state)
{
    (void)state;
    struct dhcp_client c;
    struct dhcp_actions a;
    uint64_t t0 = do_bind(&c, 120, 10, 100);
    dhcp_on_timer(&c, t0 + 10000, &a);
    uint32_t xid = a.out.xid;
    feed(&c, &(struct reply){DHCPNAK, xid, NULL, SERVER}, t0 + 10001, &a);
    assert_true(a.lost);
    assert_int_equal(c.state, DHCP_SELECTING);
    assert_true(a.send);
    assert_int_equal(a.out.type, DHCPDISCOVER);
}

static void test_backoff(void **state)
{
    (void)state;
    struct dhcp_client c;
    struct dhcp_actions a;
    uint64_t now = 5000000;
    dhcp_client_init(&c, MAC, 1, NULL, now);
    dhcp_start(&c, now, &a);
    uint64_t expect[] = {4000, 8000, 16000, 32000, 64000, 64000, 64000};
    for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
        uint64_t d = a.wake_ms - now;
        assert_true(d >= expect[i] - 1000 && d <= expect[i] + 1000);
        now = a.wake_ms;
        dhcp_on_timer(&c, now, &a);
        assert_true(a.send);
        assert_int_equal(a.out.type, DHCPDISCOVER);
        assert_true(a.out.secs > 0);
    }
}

static void test_init_reboot(void **state)
{
    (void)state;
    struct dhcp_client c;
    struct dhcp_actions a;
    do_bind(&c, 120, 10, 100);
    struct dhcp_lease saved = c.lease;
    uint64_t later = saved.acquired_ms + 30000; /* restarted 30 s later */
    struct dhcp_client r;
    dhcp_client_init(&r, MAC, 9, &saved, later);
    assert_int_equal(r.state, DHCP_INIT_REBOOT);
    dhcp_start(&r, later, &a);
    assert_true(a.send);
    assert_int_equal(a.out.type, DHCPREQUEST);
    assert_true(a.out.has_requested_ip);
    assert_int_equal(a.out.requested_ip, ip4(YIADDR));
    assert_false(a.out.has_server_id);
    assert_int_equal(a.dst, htonl(INADDR_BROADCAST));
    uint32_t xid = a.out.xid;
    feed(&r, &(struct reply){DHCPACK, xid, YIADDR, SERVER, 120, 10, 100}, later + 5, &a);
    assert_true(a.renewed);
    assert_int_equal(r.state, DHCP_BOUND);

    /* no server after the restart: the valid lease is kept, renewed at T1 */
    dhcp_client_init(&r, MAC, 9, &saved, later);
    dhcp_start(&r, later, &a);
    dhcp_on_timer(&r, a.wake_ms, &a);
    assert_int_equal(r.state, DHCP_INIT_REBOOT);
    dhcp_on_timer(&r, a.wake_ms, &a);
    assert_true(r.state == DHCP_RENEWING || r.state == DHCP_REBINDING);
    assert_true(r.has_lease);

    /* an expired lease starts from DISCOVER */
    dhcp_client_init(&r, MAC, 9, &saved, saved.acquired_ms + 121000);
    assert_int_equal(r.state, DHCP_INIT);
    dhcp_start(&r, saved.acquired_ms + 121000, &a);
    assert_int_equal(a.out.type, DHCPDISCOVER);
}

static void test_release(void **state)
{
    (void)state;
    struct dhcp_client c;
    struct dhcp_actions a;
    do_bind(&c, 120, 0, 0);
    dhcp_stop(&c, true, &a);
    assert_true(a.send);
    assert_int_equal(a.out.type, DHCPRELEASE);
    assert_int_equal(a.out.ciaddr, ip4(YIADDR));
    assert_int_equal(a.out.server_id, ip4(SERVER));
    assert_int_equal(a.dst, ip4(SERVER));
    assert_int_equal(c.state, DHCP_STOPPED);
    uint8_t b[DHCP_MAX_LEN];
    assert_true(dhcp_encode(&a.out, b, sizeof(b)) >= 300);
    dhcp_stop(&c, true, &a); /* nothing held any more */
    assert_false(a.send);
}

static void test_lease_times_sanitized(void **state)
{
    (void)state;
    struct dhcp_client c;
    uint64_t t0 = do_bind(&c, 100, 500, 50); /* T1 > lease, T2 < T1 */
    assert_true(c.lease.t1_s > 0 && c.lease.t1_s < c.lease.t2_s && c.lease.t2_s < c.lease.lease_s);
    (void)t0;
}

/* ---- fuzz: random mutations of valid replies through unwrap + parse +
 * the state machine. Nothing may crash, read out of bounds (ASan) or
 * leave a malformed lease. ---- */

static uint64_t fz = 0x1234567887654321ULL;
static uint32_t fr(void)
{
    fz ^= fz << 13;
    fz ^= fz >> 7;
    fz ^= fz << 17;
    return (uint32_t)fz;
}

static void test_fuzz_parser(void **state)
{
    (void)state;
    const char *env = getenv("DHCP_FUZZ_N");
    long iters = env ? strtol(env, NULL, 10) : 100000;
    uint8_t seed[600], pkt[700];
    size_t seedlen = build_reply(&(struct reply){DHCPACK, 77, YIADDR, SERVER, 120, 10, 100},
                                 seed, sizeof(seed));
    long accepted = 0;
    for (long it = 0; it < iters; it++) {
        size_t n = seedlen;
        memcpy(pkt, seed, n);
        unsigned nmut = 1 + fr() % 8;
        for (unsigned k = 0; k < nmut; k++) {
            if (n == 0)
                break;
            switch (fr() % 5) {
            case 0: pkt[fr() % n] = (uint8_t)fr(); break;           /* byte */
            case 1: pkt[fr() % n] ^= (uint8_t)(1u << (fr() % 8)); break; /* bit */
            case 2: n = fr() % (n + 1); break;                       /* truncate */
            case 3: /* grow with junk */
                for (unsigned g = fr() % 8; g && n < sizeof(pkt); g--)
                    pkt[n++] = (uint8_t)fr();
                break;
            case 4: pkt[240 + fr() % (n > 240 ? n - 240 : 1)] = (uint8_t)(fr() % 4 ? fr() : 255); break;
            }
        }
        /* exact-size heap copy so ASan sees any read past the end */
        uint8_t *h = xmalloc(n ? n : 1);
        memcpy(h, pkt, n);
        struct dhcp_msg m;
        if (dhcp_parse(h, n, &m) == 0) {
            accepted++;
            assert_true(m.nroutes <= DHCP_MAX_ROUTES && m.ndns <= DHCP_MAX_DNS &&
                        m.nrouters <= DHCP_MAX_ROUTERS);
            assert_true(strlen(m.domain) < sizeof(m.domain));
            struct dhcp_client c;
            struct dhcp_actions a;
            dhcp_client_init(&c, MAC, (uint64_t)it, NULL, 1000);
            dhcp_start(&c, 1000, &a);
            m.xid = c.xid; /* let it reach the state machine */
            dhcp_on_packet(&c, &m, 1001, &a);
            dhcp_on_packet(&c, &m, 1002, &a);
            if (c.has_lease)
                assert_true(c.lease.t1_s < c.lease.t2_s && c.lease.t2_s < c.lease.lease_s);
        }
        /* the same bytes behind an IP/UDP header */
        uint8_t *w = xmalloc(n + 28);
        int wn = dhcp_wrap(ip4(SERVER), htonl(INADDR_BROADCAST), h, n, w, n + 28);
        assert_int_equal(wn, (int)(n + 28));
        w[21] = 67, w[23] = 68;
        size_t cut = fr() % 3 ? (size_t)wn : fr() % ((size_t)wn + 1), off, len;
        if (dhcp_unwrap(w, cut, &off, &len) == 0) {
            assert_true(off + len <= cut);
            dhcp_parse(w + off, len, &m);
        }
        free(w);
        free(h);
    }
    print_message("# fuzz: %ld packets, %ld parsed\n", iters, accepted);
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_reply),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_wrap_unwrap),
        cmocka_unit_test(test_full_exchange_and_renew),
        cmocka_unit_test(test_rebind_and_expiry),
        cmocka_unit_test(test_nak),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_init_reboot),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_lease_times_sanitized),
        cmocka_unit_test(test_fuzz_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
