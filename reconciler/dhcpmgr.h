/* dhcpmgr.h - DHCP leases as desired state, and the clients that get them.
 *
 * Each pass (reconcile.c) calls dhcp_prepare() before planning: the leases
 * stored in SQLite (dhcp_lease, migration 010) of the interfaces whose
 * policy asks for ipv4.dhcp are put into the desired model as if the
 * policy listed them (the address; a default route via the router when
 * auto-gateway, the classless routes when auto-routes, in
 * auto-route-table-id with auto-route-metric; the servers and domain as
 * dns-resolver when auto-dns and no policy sets dns-resolver), so the
 * planner adds, verifies, journals and repairs them like anything else.
 *
 * The clients themselves run either in the daemon's epoll loop
 * (dhcp_daemon_*: one packet socket per interface, one timerfd for every
 * client's next deadline) or, for `plumbd apply`, synchronously with a
 * short deadline (dhcp_oneshot). A lease acquired or lost asks for a pass;
 * a lease whose interface is no longer wanted is released (DHCPRELEASE)
 * and forgotten. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "dhcp.h"
#include "model.h"
#include "plan.h"
#include "store.h"

/* An interface a valid, node-matching policy wants a DHCPv4 lease on. */
struct dhcp_want {
    char ifname[IFNAMSIZ_PLUMBD];
    char *owner;
    bool has_lease;            /* a valid stored lease was injected */
};

struct dhcp_run; /* a running client (dhcpmgr.c) */

struct dhcp_ctx {
    struct dhcp_want *wants;   /* of the last pass */
    size_t nwants;
    struct lease_row *leases;  /* as stored at the last pass */
    size_t nleases;
    char hostname[64];         /* option 12: the node name */
    /* daemon */
    struct dhcp_run **runs;
    size_t nruns;
    int timerfd;               /* -1 until the daemon starts */
    int epfd;
    bool changed;              /* a lease came or went: a pass is needed */
};

/* Epoll tags of the daemon's DHCP fds (loop.c's own tags are below 4096;
 * namespace watches are pointers). */
#define DHCP_TAG_TIMER 3000
#define DHCP_TAG_SOCK 3001     /* + the run's slot */
#define DHCP_MAX_RUNS 64

struct dhcp_ctx *dhcp_ctx_new(const char *hostname);
void dhcp_ctx_free(struct dhcp_ctx *c);

/* Before planning: read the leases, note the wanted interfaces (policies
 * that match the node's labels), inject valid leases into d. */
int dhcp_prepare(struct dhcp_ctx *c, struct store *s, struct desired *d,
                 const struct label *labels, size_t nlabels);
/* After planning: a policy that is Available while a lease it asks for is
 * still missing says so in its message. */
void dhcp_note_status(const struct dhcp_ctx *c, struct plan *p);
/* Is addr on ifname the address of a lease injected this pass? */
bool dhcp_is_lease_addr(const struct dhcp_ctx *c, const char *ifname, const struct ipaddr *addr);
/* Injected routes and dns of a lease (exported for the unit tests). */
void dhcp_inject_lease(struct policy *p, struct iface *f, const struct dhcp_lease *l,
                       bool dns_free);

/* `plumbd apply`: release leases no longer wanted; get (or renew, past
 * T1) the wanted ones within timeout_ms. *ret_changed: a lease came or
 * went (run another pass). */
int dhcp_oneshot(struct dhcp_ctx *c, struct store *s, unsigned timeout_ms, bool *ret_changed);

/* Daemon: after each pass, start clients for new wants, stop (release)
 * the others. */
int dhcp_daemon_sync(struct dhcp_ctx *c, struct store *s, int epfd);
/* An epoll event with a DHCP tag. */
void dhcp_daemon_event(struct dhcp_ctx *c, struct store *s, uint64_t tag);
/* plumbd_dhcp_leases{interface, state}: 1 per running client. */
struct metrics;
void dhcp_daemon_metrics(const struct dhcp_ctx *c, struct metrics *m);
/* Stop every client without releasing (the daemon stops; leases stay). */
void dhcp_daemon_stop(struct dhcp_ctx *c);
