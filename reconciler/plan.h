/* plan.h - the planner: desired + observed + owned -> ordered operations.
 *
 * Pure: no netlink, no SQLite, no clock. Everything it needs is passed in,
 * so it is unit-tested directly, including "plan after apply is empty". */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "live.h"
#include "model.h"

struct pin; /* store.h */

/* ---- What plumbd owns (read from the store's inventory) ---------------- */

/* A kernel link plumbd created or changed, with the before-image of what it
 * changed so a prune can put it back. */
struct owned_link {
    char *owner;                  /* object id: "NodeNetworkConfigurationPolicy/x" */
    char ifname[IFNAMSIZ_PLUMBD];
    bool created;                 /* plumbd created it: prune deletes it */
    /* before-image, valid when !created */
    char before_master[IFNAMSIZ_PLUMBD]; /* "" = had no master */
    unsigned before_mtu;
    bool before_up;
    char *before_alias;           /* NULL = none */
    int before_stp;               /* bridges: -1 unknown */
    /* bridge options (a bridge) and port options (a bridge port) it had,
     * as the kernel reported them (column before_opts, migration 012) */
    struct bropts before_bropts;
    struct brport_opts before_brport;
    bool before_has_mac;          /* MAC before plumbd set one (mac-address) */
    uint8_t before_mac[6];
    int before_promisc;           /* IFF_PROMISC before (accept-all-mac-addresses): -1 unknown */
};

/* An address plumbd added to a node interface. */
struct owned_addr {
    char *owner;
    char ifname[IFNAMSIZ_PLUMBD];
    struct ipaddr addr;
    bool dynamic;                 /* added for a DHCP lease: goes with it */
};

/* A route of a pod namespace that plumbd removed (a default route that
 * default-route displaced), to be put back as it was. */
struct saved_route {
    char ifname[IFNAMSIZ_PLUMBD]; /* its output interface, "" = none */
    struct route rt;
    unsigned metric;              /* RTA_PRIORITY */
    unsigned protocol;            /* RTPROT_* */
    bool restore;                 /* put back on detach (false: a default
                                   * route of another plumbd attachment of
                                   * the pod, only removed) */
};

/* One pod attachment plumbd made. */
struct owned_attach {
    char *owner;                  /* "Pod/ns/name" */
    char pod_if[IFNAMSIZ_PLUMBD];
    char host_if[IFNAMSIZ_PLUMBD];
    char bridge[IFNAMSIZ_PLUMBD];
    char *netns;                  /* path */
    char *network;                /* IPAM pool key (CNI network name) */
    uint8_t mac[6];
    struct ipaddr *addrs;
    size_t naddrs;
    /* default-route: the gateways it took the pod's default route over
     * with, and the default routes it displaced (restored on detach) */
    struct ipaddr *default_gw;
    size_t ndefault_gw;
    struct saved_route *prev_defaults;
    size_t nprev_defaults;
};

/* An IPAM allocation. */
struct allocation {
    char *network;
    struct ipaddr ip;
    char *owner;                  /* "Pod/ns/name" */
    char ifname[IFNAMSIZ_PLUMBD];
};

/* A route plumbd added (routes.config of a policy): the full kernel key. */
struct owned_route {
    char *owner;
    struct nm_route rt; /* normalized: family, dst, table, metric, type set */
};

/* A rule plumbd added (route-rules.config of a policy), as asked for
 * (normalized; priority only when the entry gave one). */
struct owned_rule {
    char *owner;
    struct nm_rule rule;
};

struct inventory {
    struct owned_rule *rules;
    size_t nrules;
    struct owned_route *routes;
    size_t nroutes;
    struct owned_link *links;
    size_t nlinks;
    struct owned_addr *addrs;
    size_t naddrs;
    struct owned_attach *attach;
    size_t nattach;
    struct allocation *allocs;
    size_t nallocs;
    /* host-local's last_reserved_ip: the newest IPAM reservations of each
     * network, oldest first (network and ip set; they outlive a release).
     * Picks continue after the newest one of the range set. */
    struct allocation *reserved;
    size_t nreserved;
};
void inventory_free(struct inventory *inv);

/* ---- Operations --------------------------------------------------------- */

enum op_type {
    OP_BRIDGE_ADD, /* create link ifname of kind cfg.kind (LK_NONE: a bridge;
                    * mtu, stp, alias, mac, promisc from the set mask) */
    OP_LINK_SET,   /* change fields in `set` of ifname */
    OP_LINK_DEL,   /* delete ifname */
    OP_ADDR_ADD,   /* add addr to ifname */
    OP_ADDR_DEL,   /* remove addr from ifname */
    OP_POD_ATTACH, /* veth pair, pod side in netns, addresses, routes */
    OP_POD_DETACH, /* remove host veth (and pod side), release addresses */
    OP_FORGET,     /* no kernel write: drop the inventory row of a link (or of
                    * addr when addr.family != 0, or of the attachment and
                    * its addresses when pa.pod_if is set) */
    OP_SYSCTL,     /* write sysctl `sysctl` (e.g. "net/ipv4/ip_forward") of the
                    * node namespace to `value`; `before` is what it was */
    OP_ROUTE_ADD,  /* add route `route` (ifname = its next-hop-interface);
                    * owned afterwards unless forget (a foreign route put back) */
    OP_ROUTE_DEL,  /* delete route `route`; its inventory row goes (OP_FORGET
                    * with route.family set: only the row) */
    OP_DNS_SET,    /* write dns.content to the resolv.conf dns.path (or remove
                    * it: dns.remove); dns.prev is the before-image. OP_FORGET
                    * with dns.set: only hand the file's ownership over */
    OP_RULE_ADD,   /* add rule `rule`; owned afterwards unless forget (a
                    * foreign rule put back) */
    OP_RULE_DEL,   /* delete rule `rule` (the live rule's full spec, with its
                    * priority); its inventory row goes (OP_FORGET with
                    * rule.family set: only the row) */
    _OP_TYPE_MAX
};
const char *op_type_to_string(enum op_type t);

/* Fields of OP_LINK_SET / OP_BRIDGE_ADD */
enum {
    LS_MTU = 1 << 0,
    LS_UP = 1 << 1,     /* bring up (up=true) or down */
    LS_MASTER = 1 << 2, /* master = "" means release (nomaster) */
    LS_STP = 1 << 3,
    LS_ALIAS = 1 << 4,  /* alias NULL means clear */
    LS_PROMISC = 1 << 5, /* IFF_PROMISC on (promisc=true) or off (bridge promiscMode) */
    LS_VLAN_FILTERING = 1 << 6, /* bridge vlan_filtering = vlan_filtering */
    LS_BROPTS = 1 << 7,  /* bridge options: the values set in bropts */
    LS_BRPORT = 1 << 8,  /* bridge port options of ifname: the values set in brport */
    LS_PORT_VLANS = 1 << 9, /* the VLANs of bridge port ifname become pvlan.want */
    LS_MAC = 1 << 10,    /* IFLA_ADDRESS = mac (mac-address, copy-mac-from) */
    LS_BOND_PORT = 1 << 11, /* with LS_MASTER: taken down first (a bond port) */
};

/* The VLANs of a bridge port, from what it has to what is wanted (the
 * inverse swaps them). Without have_known the port's VLANs were not read
 * (its bridge did not filter yet): the kernel's default PVID is removed
 * unless wanted. */
struct port_vlan_op {
    struct vlan_span *want, *have;
    size_t nwant, nhave;
    bool have_known;
    uint16_t default_pvid;
};

/* What a pod attachment is made of. */
enum attach_kind {
    ATTACH_VETH,    /* bridge plugin: veth pair, host end on pa.bridge */
    ATTACH_MACVLAN, /* macvlan plugin: macvlan on pa.bridge (the master),
                     * created straight into the pod namespace */
};

/* Host-side names: "pl" + 12 hex digits for a veth's host end; a macvlan
 * has no host end, its inventory key is "pm" + the same digits. */
#define ATTACH_MACVLAN_PREFIX "pm"
enum attach_kind attach_kind_of(const char *host_if); /* by the prefix */

/* The isGateway addresses of a NAD: the gateway of each IPAM range set (its
 * first range), with the subnet's prefix. Returns how many (<= max). */
size_t nad_gateways(const struct nad *nad, struct ipaddr *ret, size_t max);
/* The IPAM subnet of nad that holds addr (ipMasq's "leaving the subnet"). */
bool nad_subnet_of(const struct nad *nad, const struct ipaddr *addr, struct ipaddr *ret);

struct pod_attach_op {
    enum attach_kind kind;        /* derived from host_if's prefix when read back */
    char *netns;                  /* pod netns path */
    char pod_if[IFNAMSIZ_PLUMBD];
    char host_if[IFNAMSIZ_PLUMBD];
    char bridge[IFNAMSIZ_PLUMBD]; /* veth: the bridge; macvlan: the master */
    char *network;                /* IPAM pool key */
    bool has_mac;
    uint8_t mac[6];
    unsigned mtu;                 /* 0 = kernel default */
    struct ipaddr *addrs;
    size_t naddrs;
    struct route *routes;
    size_t nroutes;
    bool replace;                 /* remove a stale pod-side/host-side first */
    /* port and pod-interface settings (bridge plugin keys) */
    bool hairpin;                 /* host port hairpin mode on */
    bool isolated;                /* host port isolated */
    bool link_down;               /* disableContainerInterface: pod end left
                                   * down, no addresses, no routes */
    bool dad;                     /* enabledad: no IFA_F_NODAD on IPv6 */
    uint16_t vlan;                /* PVID untagged on the host port, 0 none */
    struct vlan_range *trunk;     /* tagged VLANs on the host port */
    size_t ntrunk;
    bool drop_default_vlan;       /* !preserveDefaultVlan: remove VLAN 1 */
    int macvlan_mode;             /* enum cni_macvlan_mode */
    /* default-route (Multus): the pod's default route of each family of
     * default_gw is "default via gw dev pod_if" (also in routes); the
     * default routes of those families on other interfaces of the pod are
     * removed first. prev_defaults: what was displaced, put back on detach
     * (the attachment's record, plus what the pod has now). */
    struct ipaddr *default_gw;
    size_t ndefault_gw;
    struct saved_route *prev_defaults;
    size_t nprev_defaults;
};

/* The resolv.conf part of an op (OP_DNS_SET, or OP_FORGET of the file).
 * Each such op says who owns the file after it (holder; NULL: plumbd does
 * not) and what the file was before plumbd first took it (orig), so the
 * newest done one in the journal is the ownership record (no inventory
 * table): a removed policy gets orig put back. */
struct dns_op {
    bool set;                     /* this op carries a resolv.conf change */
    char *path;
    bool remove;                  /* delete the file (it did not exist) */
    char *content;                /* the new file (!remove) */
    bool prev_exists;
    char *prev;                   /* the file before this op (prev_exists) */
    char *holder, *prev_holder;   /* owning policy after / before this op */
    bool orig_exists;
    char *orig;                   /* the file before plumbd took it */
};
void dns_op_clear(struct dns_op *d);
void dns_op_copy(struct dns_op *dst, const struct dns_op *src);

/* What the planner knows of the resolv.conf file. */
struct dns_state {
    const char *path;             /* NULL: DNS is not managed (plans nothing) */
    bool exists;
    char *text;                   /* its content (exists) */
    char *holder;                 /* the policy that owns it, NULL: none */
    bool orig_exists;
    char *orig;                   /* the file before plumbd took it */
};
void dns_state_clear(struct dns_state *s);

struct op {
    enum op_type type;
    char *owner;                  /* object id that wants this op */
    char ifname[IFNAMSIZ_PLUMBD];
    unsigned set;                 /* LS_* */
    unsigned mtu;
    bool up;
    char master[IFNAMSIZ_PLUMBD];
    int stp;
    char *alias;
    struct ipaddr addr;           /* OP_ADDR_* */
    struct pod_attach_op pa;      /* OP_POD_ATTACH / OP_POD_DETACH */
    bool record_before;           /* first change to a link we did not create */
    bool forget;                  /* after success, drop ifname's inventory row
                                   * (prune/restore of a link) */
    bool promisc;                 /* LS_PROMISC */
    int vlan_filtering;           /* LS_VLAN_FILTERING: 0/1 */
    struct bropts bropts;         /* LS_BROPTS */
    struct brport_opts brport;    /* LS_BRPORT */
    struct port_vlan_op pvlan;    /* LS_PORT_VLANS */
    char *sysctl;                 /* OP_SYSCTL: "net/ipv4/ip_forward" */
    int value, before;            /* OP_SYSCTL */
    struct nm_route route;        /* OP_ROUTE_*, OP_FORGET of a route */
    struct dns_op dns;            /* OP_DNS_SET, OP_FORGET of resolv.conf */
    struct nm_rule rule;          /* OP_RULE_*, OP_FORGET of a rule */
    struct link_cfg cfg;          /* OP_BRIDGE_ADD: the kind and its settings */
    uint8_t mac[6];               /* LS_MAC */
};

/* One line describing the op, e.g. "link-set ens19 master=br-1 up" */
char *op_describe(const struct op *op);

/* ---- Object conditions -------------------------------------------------- */

enum condition {
    COND_AVAILABLE,
    COND_PROGRESSING,
    COND_FAILING,
    COND_PENDING,
    COND_NOT_MATCHING,
    COND_DEGRADED,
    COND_ABORTED,
    COND_STALLED, /* nothing is converged: e.g. the config source is empty */
    _COND_MAX
};
const char *condition_to_string(enum condition c);
int condition_from_string(const char *s);

struct objstatus {
    char *id;       /* object id */
    enum obj_kind kind;
    char *ns;
    char *name;
    char *file;
    char rev[17];
    enum condition cond;
    char *reason;   /* CamelCase: SuccessfullyConfigured, NetnsMissing, ... */
    char *message;
    int64_t since;  /* wall time of last transition, set by the store */
    char *network_status; /* pods: Multus network-status JSON, or NULL */
    bool no_prune;  /* annotation plumbd/prune: "false" */
    int64_t first_seen; /* wall time plumbd first saw the object (store) */
    char *source;   /* where its revision came from (git-sync commit), or NULL */
};
void objstatus_free_fields(struct objstatus *s);

/* ---- The plan ----------------------------------------------------------- */

struct plan_input {
    const struct desired *desired;
    const struct label *node_labels; /* labels of this node (from its Node) */
    size_t nnode_labels;
    const struct live_ns *node;      /* node namespace snapshot */
    /* Per desired pod (same index as desired->pods): snapshot of its netns,
     * or NULL when the netns does not exist. */
    const struct live_ns *const *pod_live;
    const struct inventory *inv;
    /* Objects that are gone but carried plumbd/prune: "false": what they
     * own is left in the kernel and only forgotten (OP_FORGET). */
    char *const *keep_owners;
    size_t nkeep_owners;
    /* Rolled-back revisions: an object whose current revision is pinned
     * plans nothing and keeps its kernel state (reported as the pin says). */
    const struct pin *pins;
    size_t npins;
    /* Node sysctls the planner may change (isGateway): FWD_UNKNOWN (the
     * zero value) plans nothing. */
    int ip_forward;    /* net.ipv4.ip_forward */
    int ip6_forward;   /* net.ipv6.conf.all.forwarding */
    /* The resolv.conf file and its owner (NULL: DNS not managed). */
    const struct dns_state *dns;
    /* Per-interface sysctls of the node (ipv6.autoconf): the current value
     * of "net/ipv6/conf/IF/accept_ra" and the like, -1 when unknown (the
     * interface does not exist yet). NULL: nothing of the kind is planned. */
    int (*sysctl_get)(const char *key, void *ctx);
    void *sysctl_ctx;
    /* The daemon's memo of converged pods (NULL: none, every pod planned in
     * full). Read for this plan, then replaced by this plan's converged
     * pods. */
    struct plan_memo *memo;
};

/* A pod that a plan found converged (Available, no op of its own) is found
 * converged again by the next plan when nothing it was planned from
 * changed: its revision, its namespace's snapshot (live_ns.serial), the
 * node's snapshot, every NetworkAttachmentDefinition and policy revision,
 * the node's forwarding sysctls, and its inventory rows (which only its own
 * ops change: a pod with an op in a plan is left out of the memo). Such a
 * pod is not planned again: its address picks are replayed into the IPAM
 * index in the same order (one that no longer fits is planned in full) and
 * its status is Available. No memo is used while a revision is pinned.
 * Whoever changes the inventory behind the planner's back (another process,
 * a rollback) must plan_memo_clear it. */
struct plan_memo;
struct plan_memo *plan_memo_new(void);
void plan_memo_clear(struct plan_memo *m);
void plan_memo_free(struct plan_memo *m);
/* Pods the last plan could answer from the memo, and how many it held. */
void plan_memo_stats(const struct plan_memo *m, size_t *ret_hits, size_t *ret_entries);
enum { FWD_UNKNOWN = 0, FWD_OFF, FWD_ON };
#define SYSCTL_IP_FORWARD "net/ipv4/ip_forward"
#define SYSCTL_IP6_FORWARD "net/ipv6/conf/all/forwarding"

struct plan {
    struct op *ops;
    size_t nops;
    struct objstatus *status; /* one per desired object (not nodes) */
    size_t nstatus;
};

/* Build the ordered op list and the planned condition of every object.
 * Ordering: bridge creation, port enslaving, link settings, addresses, pod
 * attachments; removals before additions of the same name, prunes in
 * reverse dependency order. Returns 0 or -ENOMEM. */
int plan_build(const struct plan_input *in, struct plan *ret);
/* The daemon's quick lane for a file pass where one Pod document changed
 * (or appeared) and nothing else did: in->desired holds that pod and every
 * NetworkAttachmentDefinition (no policy), in->memo every other Available
 * pod (nother_pods of them; the caller makes sure any other pod is held back
 * by its own plan, which leaves the IPAM index as it was), is_new says
 * whether plumbd has seen the pod before. Plans the pod as the full plan
 * would: the IPAM
 * reservations of the pods planned before it are replayed first, its stale
 * attachments are detached. -EAGAIN when the memo does not cover every
 * other pod or does not match the node and NADs, or when the outcome needs
 * more than attach and detach ops of its own (the full pass decides). The
 * full pass runs after it in any case. */
int plan_build_quick(const struct plan_input *in, size_t nother_pods, bool is_new,
                     struct plan *ret);
void plan_free(struct plan *p);
/* Free the ops only (the statuses stay): once they are run. */
void plan_free_ops(struct plan *p);
/* Drop every op of owner from the plan (its status is the caller's). */
void plan_drop_owner(struct plan *p, const char *owner);

/* Does live route lr (of snapshot l) match route entry r? strict: r is a
 * present (normalized) entry and lr must be exactly that route (no
 * next-hop-address in r means none in lr); otherwise r is an absent entry
 * and each property it gives must match (nmstate's wildcard). */
bool route_matches_live(const struct nm_route *r, const struct live_route *lr,
                        const struct live_ns *l, bool strict);
/* Routes a policy manages or reports: every table but local, unicast and
 * the blackhole/unreachable/prohibit types, not created by the kernel
 * itself (proto kernel) nor cloned. */
bool route_is_manageable(const struct live_route *lr);
/* Two normalized (present) routes: the same route? */
bool route_spec_equal(const struct nm_route *a, const struct nm_route *b);
/* The nm_route (normalized, present) describing a live route. */
void route_from_live(const struct live_route *lr, const struct live_ns *l, struct nm_route *ret);

/* Does live rule lr match rule entry r? strict: r is a present
 * (normalized) entry and lr must be exactly that rule (any priority when r
 * gives none); otherwise r is an absent entry and each property it gives
 * must match (nmstate's wildcard), never a kernel default rule. */
bool rule_matches_live(const struct nm_rule *r, const struct live_rule *lr, bool strict);
/* The kernel's own rules: 0 lookup local, 32766 lookup main, 32767 lookup
 * default, without selectors. */
bool rule_is_default(const struct live_rule *lr);
/* Two normalized (present) rules: the same rule? */
bool rule_spec_equal(const struct nm_rule *a, const struct nm_rule *b);
/* Does wanted rule want (normalized) rule have? Equal, or equal but for
 * the priority when want gives none. */
bool rule_spec_covers(const struct nm_rule *want, const struct nm_rule *have);
/* The nm_rule (normalized, present, with its priority) describing a live rule. */
void rule_from_live(const struct live_rule *lr, struct nm_rule *ret);
/* "from 10.1.0.0/16 fwmark 0x10/0xffffffff iif ens19 lookup 100 priority 1000" (caller frees) */
char *rule_describe(const struct nm_rule *r);

/* Host-side veth name for a pod attachment: "pl" + 12 hex digits of a hash
 * of pod id and pod ifname; stable across runs, 14 characters. */
void plan_host_ifname(const char *pod_id, const char *pod_if, char ret[IFNAMSIZ_PLUMBD]);

/* Pick the addresses for one attachment, one per host-local range set: a
 * requested ip of the set (checked against its ranges and the allocations),
 * else the address (owner, ifname) already holds in the set, else the next
 * free one after the set's last reservation (host-local's order); static
 * IPAM: the NAD's addresses plus the requested ones, none held by someone
 * else. -EEXIST (Conflict: ret_err names the holder) or -EADDRINUSE
 * (AddressUnavailable); ret_err explains a refusal (caller frees). */
int plan_pick_addresses(const struct nad *nad, const struct attachment *att,
                        const char *owner, const struct inventory *inv,
                        struct ipaddr **ret_addrs, size_t *ret_n, char **ret_err);
