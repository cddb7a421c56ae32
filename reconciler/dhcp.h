/* dhcp.h - the built-in DHCPv4 client (RFC 2131).
 *
 * Three layers, so the protocol is tested without sockets:
 *   - a pure packet encoder/parser (struct dhcp_msg; bounded option
 *     parsing that rejects short packets, a bad magic cookie, option
 *     overruns, wrong op/htype/hlen), and the IPv4/UDP wrapping used on the
 *     packet socket (dhcp_wrap / dhcp_unwrap);
 *   - a pure state machine (struct dhcp_client) driven by events (start,
 *     packet, timer, stop) that fills a struct dhcp_actions (send this, wake
 *     me at, lease acquired/renewed/lost); times are milliseconds of the
 *     wall clock given by the caller, so a persisted lease keeps meaning
 *     across restarts;
 *   - the I/O glue (dhcp_sock_*): an AF_PACKET/SOCK_DGRAM socket bound to
 *     the interface with a BPF filter for UDP port 68, opened in the node
 *     namespace; it sends and receives before the interface has an address.
 *
 * The daemon runs the clients in its epoll loop (dhcpmgr.c); `plumbd
 * apply` runs them synchronously with a short deadline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_MAGIC 0x63825363u
#define DHCP_FIXED_LEN 236          /* BOOTP header before the magic cookie */
#define DHCP_MIN_LEN (DHCP_FIXED_LEN + 4)
#define DHCP_MAX_LEN 1500           /* what we accept and what we build into */
#define DHCP_MAX_ROUTERS 4
#define DHCP_MAX_DNS 4
#define DHCP_MAX_ROUTES 16

enum dhcp_type {
    DHCPDISCOVER = 1,
    DHCPOFFER = 2,
    DHCPREQUEST = 3,
    DHCPDECLINE = 4,
    DHCPACK = 5,
    DHCPNAK = 6,
    DHCPRELEASE = 7,
    DHCPINFORM = 8,
};
const char *dhcp_type_to_string(int type);

/* Option 121 (RFC 3442): a classless static route. Addresses are in
 * network byte order. */
struct dhcp_route {
    uint32_t dst;
    uint8_t plen;
    uint32_t gw;
};

/* One message, decoded. IPv4 addresses in network byte order; has_* say
 * whether an option was present. */
struct dhcp_msg {
    uint8_t op;                    /* 1 BOOTREQUEST, 2 BOOTREPLY */
    uint8_t htype, hlen;           /* 1, 6: Ethernet */
    uint32_t xid;                  /* host order */
    uint16_t secs, flags;
    uint32_t ciaddr, yiaddr, siaddr, giaddr;
    uint8_t chaddr[6];
    int type;                      /* option 53; 0 = none */
    bool has_server_id;
    uint32_t server_id;            /* option 54 */
    bool has_requested_ip;
    uint32_t requested_ip;         /* option 50 */
    bool has_netmask;
    uint32_t netmask;              /* option 1 */
    uint32_t routers[DHCP_MAX_ROUTERS]; /* option 3 */
    size_t nrouters;
    uint32_t dns[DHCP_MAX_DNS];    /* option 6 */
    size_t ndns;
    char domain[256];              /* option 15, "" = none */
    bool has_lease, has_t1, has_t2;
    uint32_t lease_s, t1_s, t2_s;  /* options 51, 58, 59 */
    struct dhcp_route routes[DHCP_MAX_ROUTES]; /* option 121 */
    size_t nroutes;
    char hostname[64];             /* option 12 (requests) */
};

/* Decode a DHCP payload (the UDP data). Returns 0, or -EINVAL for a short
 * packet, a bad cookie, a wrong op/htype/hlen or an option running past the
 * end, -EPROTO for an option of an impossible length. */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *ret);
/* Encode a request (op 1) into buf (>= 300 bytes, padded to BOOTP's 300).
 * Returns the length or -ENOSPC. */
int dhcp_encode(const struct dhcp_msg *m, uint8_t *buf, size_t len);

/* IPv4 + UDP around a payload (the packet socket sends from the IP header
 * on). src/dst in network byte order. Returns the length or -ENOSPC. */
int dhcp_wrap(uint32_t src, uint32_t dst, const uint8_t *payload, size_t plen, uint8_t *buf,
              size_t len);
/* The DHCP payload of an IPv4/UDP packet to port 68: checks the IP header
 * (version, length, checksum, not a fragment), the UDP header and length.
 * Returns 0 with *ret_off and *ret_len the payload, or -EINVAL. */
int dhcp_unwrap(const uint8_t *buf, size_t len, size_t *ret_off, size_t *ret_len);

/* ---- the state machine -------------------------------------------------- */

enum dhcp_state {
    DHCP_STOPPED,
    DHCP_INIT,
    DHCP_SELECTING,
    DHCP_REQUESTING,
    DHCP_INIT_REBOOT, /* a persisted lease: REQUEST it again, no DISCOVER */
    DHCP_BOUND,
    DHCP_RENEWING,
    DHCP_REBINDING,
};
const char *dhcp_state_to_string(enum dhcp_state s);

/* What a lease gives. Addresses in network byte order; times in seconds,
 * acquired in ms of the caller's (wall) clock. lease_s 0xffffffff =
 * infinite. */
struct dhcp_lease {
    uint32_t addr;
    uint8_t prefix;
    uint32_t router;               /* 0 = none */
    uint32_t server_id;
    uint32_t dns[DHCP_MAX_DNS];
    size_t ndns;
    char domain[256];
    struct dhcp_route routes[DHCP_MAX_ROUTES];
    size_t nroutes;
    uint32_t lease_s, t1_s, t2_s;
    uint64_t acquired_ms;
};
#define DHCP_INFINITE 0xffffffffu
/* Lease expiry / T1 / T2 as absolute ms; UINT64_MAX for an infinite lease. */
uint64_t dhcp_lease_end(const struct dhcp_lease *l);
uint64_t dhcp_lease_t1(const struct dhcp_lease *l);
uint64_t dhcp_lease_t2(const struct dhcp_lease *l);
/* Same address, prefix, router, DNS, domain and routes (what the node
 * configures from it): a renew that changes none of them needs no pass. */
bool dhcp_lease_same_config(const struct dhcp_lease *a, const struct dhcp_lease *b);

struct dhcp_client {
    enum dhcp_state state;
    uint8_t mac[6];
    char hostname[64];             /* option 12, "" = none */
    uint32_t xid;
    uint64_t rng;                  /* xid and jitter (xorshift) */
    bool has_lease;                /* lease is valid (bound, renewing, ...) */
    struct dhcp_lease lease;
    struct dhcp_lease offer;       /* SELECTING -> REQUESTING */
    uint64_t exchange_start_ms;    /* secs field */
    unsigned tries;                /* sends in the current state */
    uint64_t wake_ms;              /* next timer, 0 = none */
};

struct dhcp_actions {
    bool send;
    struct dhcp_msg out;
    uint32_t dst;                  /* network order: INADDR_BROADCAST or the server */
    uint32_t src;                  /* 0 before we have an address */
    uint64_t wake_ms;              /* 0 = no timer */
    bool acquired;                 /* a new lease (or a changed one): configure it */
    bool renewed;                  /* the same lease extended */
    bool lost;                     /* expired or NAKed: unconfigure it */
};

/* Set up a client for an interface's MAC; seed feeds the xid/jitter
 * generator. A persisted lease (lease != NULL) still valid at now_ms
 * starts in INIT-REBOOT; otherwise INIT. */
void dhcp_client_init(struct dhcp_client *c, const uint8_t mac[6], uint64_t seed,
                      const struct dhcp_lease *lease, uint64_t now_ms);
void dhcp_start(struct dhcp_client *c, uint64_t now_ms, struct dhcp_actions *a);
void dhcp_on_timer(struct dhcp_client *c, uint64_t now_ms, struct dhcp_actions *a);
/* A decoded packet: ignored (nothing in *a) unless it is a reply for this
 * client (xid, chaddr) of the type and server the state expects. */
void dhcp_on_packet(struct dhcp_client *c, const struct dhcp_msg *m, uint64_t now_ms,
                    struct dhcp_actions *a);
/* Stop: a DHCPRELEASE to the server when holding a lease (release=true). */
void dhcp_stop(struct dhcp_client *c, bool release, struct dhcp_actions *a);

/* ---- I/O ---------------------------------------------------------------- */

/* A packet socket on ifindex (in the calling namespace), non-blocking,
 * filtered to UDP port 68. Returns the fd or -errno. */
int dhcp_sock_open(int ifindex);
/* A UDP socket bound to port 68 on ifname that is never read: with it, a
 * server's unicast reply to our leased address is not answered by the
 * kernel with an ICMP port unreachable (the packet socket reads the reply).
 * Its receive buffer is minimal; what does not fit is dropped. Returns the
 * fd or -errno (e.g. another client holds the port: harmless). */
int dhcp_sock_sink(const char *ifname);
/* Send a's message (wrapped in IP/UDP, to the broadcast MAC or dst_mac
 * when given). Returns 0 or -errno. */
int dhcp_sock_send(int fd, int ifindex, const struct dhcp_actions *a, const uint8_t *dst_mac);
/* Read one packet: 1 with *ret decoded (and the sender's MAC), 0 when it
 * was not a DHCP reply we can read, -EAGAIN when there is nothing. */
int dhcp_sock_recv(int fd, struct dhcp_msg *ret, uint8_t ret_mac[6]);
