/* live.h - the observed kernel state of one network namespace, read with
 * libnl-3. Only live.c reads netlink; only apply.c writes it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model.h"

struct nl_sock;

struct live_link {
    int ifindex;
    char name[IFNAMSIZ_PLUMBD];
    char kind[16];   /* IFLA_INFO_KIND: "bridge", "veth", ""(physical) ... */
    int master;      /* ifindex of master, 0 = none */
    unsigned mtu;
    unsigned flags;  /* IFF_UP, ... */
    bool has_mac;
    uint8_t mac[6];
    int stp;         /* bridges: 0/1; -1 otherwise or unknown */
    char *alias;     /* IFLA_IFALIAS (nmstate "description"), NULL if none */
    int link;        /* IFLA_LINK: veth peer's ifindex (in the peer's netns) */
    int group;       /* interface group */
    /* bridge ports (IFLA_LINKINFO/IFLA_INFO_SLAVE_DATA): -1 not a port */
    int brport_hairpin;  /* IFLA_BRPORT_MODE: 0/1 */
    int brport_isolated; /* IFLA_BRPORT_ISOLATED: 0/1 */
    int vlan_filtering;  /* bridges: IFLA_BR_VLAN_FILTERING 0/1; -1 otherwise */
    int macvlan_mode;    /* macvlans: IFLA_MACVLAN_MODE (MACVLAN_MODE_*); 0 otherwise */
    struct bropts bropts;     /* bridges: the options the kernel reports */
    struct brport_opts brport; /* bridge ports: cost, priority, hairpin */
    struct link_cfg cfg; /* kind and type settings (iftypes.c); base_ifindex set */
};

struct live_addr {
    int ifindex;
    struct ipaddr addr; /* with prefix length */
    unsigned flags;     /* IFA_F_* */
};

struct live_route {
    int ifindex;        /* output interface, 0 = none */
    struct ipaddr dst;  /* 0.0.0.0/0 = default */
    bool has_gw;
    struct ipaddr gw;
    unsigned table;
    unsigned protocol;
    unsigned priority;
    unsigned char type;  /* RTN_UNICAST, RTN_BLACKHOLE, ... */
    unsigned char scope;
    unsigned char tos;
    bool has_src;
    struct ipaddr src;   /* RTA_PREFSRC */
};
/* The pod planner's view: main table, unicast. */
#define LIVE_ROUTE_MAIN_UNICAST(r) ((r)->table == 254 && (r)->type == 1)

/* One policy routing rule (RTM_NEWRULE), IPv4 or IPv6. */
struct live_rule {
    int family;          /* AF_INET/AF_INET6 */
    bool has_src, has_dst;
    struct ipaddr src, dst; /* FRA_SRC/src_len, FRA_DST/dst_len */
    uint32_t priority;   /* FRA_PRIORITY (0 when absent) */
    uint32_t table;      /* FRA_TABLE or the header's table */
    uint32_t fwmark, fwmask;
    char iif[IFNAMSIZ_PLUMBD]; /* FRA_IIFNAME, "" = any */
    unsigned char action; /* FR_ACT_* */
    bool extra;          /* selectors plumbd does not model (tos, oif, l3mdev,
                          * uid range, ports, ip proto, goto, suppress_*,
                          * invert): never strictly equal to an entry */
};

/* VLANs of a bridge port (of a bridge that filters VLANs). */
struct live_port_vlan {
    int ifindex;
    struct vlan_span s;
};

/* A snapshot of one namespace. */
struct live_ns {
    struct live_link *links;
    size_t nlinks;
    struct live_addr *addrs;
    size_t naddrs;
    struct live_route *routes; /* every table but local; unicast, blackhole,
                                * unreachable, prohibit (see LIVE_ROUTE_MAIN_UNICAST) */
    size_t nroutes;
    struct live_rule *rules;   /* policy routing rules, IPv4 and IPv6 */
    size_t nrules;
    /* Bridge port VLANs: dumped (AF_BRIDGE) only when a bridge filters
     * VLANs; pvlans_known says the list is complete for the ports of every
     * filtering bridge (false after a bridge started filtering under an
     * event-fed snapshot: the next pass re-dumps). */
    struct live_port_vlan *pvlans;
    size_t npvlans;
    bool pvlans_known;
    /* Lookups by name on a node with a thousand veths: an index built on
     * first use, valid for this links array, count and generation (every
     * event that changes links bumps gen). */
    unsigned long gen;
    struct live_index *index;
    /* The snapshot's identity: a new number from a process-wide counter
     * (never reused) whenever it is dumped or an event changes what a plan
     * reads of it (live_apply_event's answer). The same serial is the same
     * content for a plan: the planner's memo of converged pods (plan.h)
     * relies on it. */
    uint64_t serial;
};

/* A handle on a network namespace with its own netlink request socket
 * (a netlink socket belongs to the namespace it was created in). */
struct netns {
    char *path;          /* "/run/netns/x", "/proc/self/ns/net" for the node */
    int fd;              /* open fd of the namespace file */
    dev_t dev;
    ino_t ino;           /* identity: a re-created netns has a new inode */
    struct nl_sock *sk;  /* NETLINK_ROUTE socket living in that namespace */
    bool node;           /* the node's own namespace (policy rules live there) */
};

/* Move this process into the namespace named (under /run/netns) or at path.
 * Called once at start for --netns. Returns 0 or -errno. */
int netns_enter(const char *name_or_path);

/* Open a handle on the namespace at path; NULL path = the current (node)
 * namespace. -ENOENT when the path does not exist. */
int netns_open(const char *path, struct netns **ret);
void netns_free(struct netns *ns);

/* Resolve "name" to "/run/netns/name"; absolute paths are kept. Caller frees. */
char *netns_path_resolve(const char *name_or_path);

/* Dump links, addresses, routes and rules of the namespace.
 * Retries on NLE_DUMP_INTR. Returns 0 or -errno. */
int live_dump(struct netns *ns, struct live_ns *ret);
void live_ns_free(struct live_ns *l);

const struct live_link *live_find_link(const struct live_ns *l, const char *name);
const struct live_link *live_find_ifindex(const struct live_ns *l, int ifindex);
/* The VLANs of bridge port ifindex (normalized; caller frees). */
size_t live_port_vlans(const struct live_ns *l, int ifindex, struct vlan_span **ret);
/* Is this address (addr+prefix) on ifindex? */
bool live_has_addr(const struct live_ns *l, int ifindex, const struct ipaddr *a);
/* Is lr the route rt (destination, gateway or none), whatever its table,
 * interface and metric? */
bool live_route_is(const struct live_route *lr, const struct route *rt);

/* ---- Netlink plumbing shared by live.c (reads) and apply.c (writes) ----
 * Implemented in netns.c, which owns the sockets. */
struct nl_msg;

/* libnl's -NLE_* codes are not errno values (and collide with them): the one
 * place that turns a libnl return code (negative or positive) into -errno. */
int netns_nl_errno(int nlerr);

/* Send n requests on ns's socket back to back (each sendmsg is processed by
 * the kernel in order before the next), then read until every one has been
 * answered (ACK, error, or end of dump). valid, when set, is called for each
 * data message (dump entries, GET replies) and returns NL_OK/NL_SKIP.
 * Returns 0, or the first failure as -errno; then *ret_failed (optional) is
 * the index of the failing request and *ret_kmsg (optional, caller frees)
 * the kernel's extended-ACK text or NULL. A dump that the kernel marked
 * inconsistent (NLM_F_DUMP_INTR) returns -EAGAIN after being drained.
 * Messages are not freed. Costs one round trip for the whole batch. */
int netns_request(struct netns *ns, struct nl_msg **msgs, size_t n,
                  int (*valid)(struct nl_msg *msg, void *arg), void *arg,
                  size_t *ret_failed, char **ret_kmsg);

/* ---- snapshots kept current from netlink events (the daemon) ---- */

struct nlmsghdr;

/* Apply one RTM_{NEW,DEL}{LINK,ADDR,ROUTE,RULE} message to a snapshot. Returns
 * true when it changed what a plan can see: not for an echo of what the
 * snapshot holds, a carrier or operstate change (link flags other than up
 * and promisc), DAD finishing (address flags other than permanent), nor an
 * IPv6 link-local address (no plan looks at those). The snapshot takes
 * the message in either way. */
bool live_apply_event(struct live_ns *l, struct nlmsghdr *nlh);
/* Free the name index live_find_link built on l (for a snapshot whose
 * arrays the caller owns and frees itself). */
void live_ns_drop_index(struct live_ns *l);

/* A namespace's snapshot kept current from events. The node's watch owns
 * the one event socket: it is opened in the node namespace with
 * NETLINK_LISTEN_ALL_NSID, so events of every namespace the node has an id
 * for arrive on it, tagged with that id (one socket instead of one per pod:
 * the kernel walks every subscribed socket on every event, so a socket per
 * pod makes a thousand-pod node quadratic). A pod's watch is a member fed
 * by the node's: no socket of its own. */
struct live_watch {
    struct netns *ns;        /* borrowed */
    int fd;                  /* event socket, non-blocking, in the node ns; -1 for members */
    struct live_ns cache;
    bool valid;              /* false after an overrun until a resync */
    unsigned long changes;   /* bumped by every applied event or resync */
    unsigned long overruns;
    /* node watch: members indexed by the id the node gives their netns */
    struct live_watch **members;
    size_t nmembers;
    int self_nsid;           /* the node's id for itself, -1 if none */
    /* member: its feeder and id */
    struct live_watch *parent;
    int nsid;
};

/* Subscribe to ns's events (ns is the current namespace: the node), then
 * dump it. */
int live_watch_open(struct netns *ns, struct live_watch **ret);
/* A member watch of pod namespace ns fed by the node's watch: gives ns an
 * id in the node namespace if it has none, then dumps it. */
int live_watch_open_member(struct live_watch *node, struct netns *node_ns, struct netns *ns,
                           struct live_watch **ret);
/* Drain pending events (all namespaces: a member drains its feeder) into
 * the caches; returns how many applied. An overrun marks every cache
 * invalid. */
int live_watch_read(struct live_watch *w);
/* Replace the cache with a fresh dump. */
int live_watch_resync(struct live_watch *w);
void live_watch_free(struct live_watch *w);
