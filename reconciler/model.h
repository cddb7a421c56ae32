/* model.h - the desired state: typed objects built by validate.c from the
 * loader's documents. Pure data, no kernel, no SQLite. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridgeopts.h"
#include "dns.h"
#include "load.h"
#include "util.h"

struct json_t; /* jansson's json_t */

/* An IP prefix or address. family is AF_INET or AF_INET6. */
struct ipaddr {
    int family;
    uint8_t bytes[16];
    uint8_t prefix; /* prefix length; 32/128 for a plain address */
};

#include "iftypes.h" /* struct link_cfg: holds struct ipaddr */

/* "192.168.255.100/24" or "fe80::1/64"; a bare address gets a full-length
 * prefix unless default_prefix >= 0. Returns 0 or -EINVAL. */
int ipaddr_parse(const char *s, int default_prefix, struct ipaddr *ret);
/* "a.b.c.d/p" (with_prefix) or "a.b.c.d"; buf >= 64 bytes. */
char *ipaddr_format(const struct ipaddr *a, bool with_prefix, char *buf, size_t len);
bool ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b); /* addr+prefix */
bool ipaddr_same_host(const struct ipaddr *a, const struct ipaddr *b); /* addr only */
/* Is addr inside subnet (subnet's prefix)? Families must match. */
bool ipaddr_in_subnet(const struct ipaddr *addr, const struct ipaddr *subnet);
/* Compare two addresses of the same family as big-endian integers. */
int ipaddr_cmp(const struct ipaddr *a, const struct ipaddr *b);

int mac_parse(const char *s, uint8_t ret[6]); /* "c2:b0:57:49:47:f1" */
char *mac_format(const uint8_t mac[6], char *buf, size_t len); /* buf >= 18 */

enum obj_kind { OBJ_POLICY, OBJ_NAD, OBJ_POD, OBJ_NODE, _OBJ_KIND_MAX };
const char *obj_kind_to_string(enum obj_kind k); /* "NodeNetworkConfigurationPolicy" */
int obj_kind_from_string(const char *s);        /* -EINVAL when unknown */

/* Identity and provenance common to every object. */
struct object {
    enum obj_kind kind;
    char *ns;   /* namespace; "" for cluster-scoped kinds (policy, node) */
    char *name;
    char *file; /* where it came from */
    unsigned line, col;
    char rev[17];   /* content hash of its document */
    bool prune;     /* annotation plumbd/prune, default true */
    struct diags warnings; /* keys accepted but not implemented, etc. */
    const char *fail_reason; /* invalid: status reason (static); NULL = InvalidConfiguration */
};
/* "Kind/ns/name" or "Kind/name"; buf >= 256. */
const char *object_id(const struct object *o, char *buf, size_t len);

struct label {
    char *key;
    char *value;
};

enum iface_type {
    IFACE_LINUX_BRIDGE, IFACE_ETHERNET, IFACE_UNKNOWN,
    /* iftypes.c */
    IFACE_VETH, IFACE_VXLAN, IFACE_MACVLAN, IFACE_DUMMY, IFACE_VLAN, IFACE_BOND,
};
enum iface_state { IFSTATE_UP, IFSTATE_DOWN, IFSTATE_ABSENT, IFSTATE_IGNORE };

struct ip_config {
    int enabled;      /* -1 unset, 0, 1 */
    bool has_address; /* "address:" present: the list is authoritative */
    struct ipaddr *addr;
    size_t naddr;
    /* Dynamic configuration (dhcp.c, autoconf.c): -1 unset, 0, 1. The
     * auto-* keys default to true when dhcp (or autoconf) is on. */
    int dhcp;         /* ipv4: the built-in DHCPv4 client; ipv6: unsupported */
    int autoconf;     /* ipv6: SLAAC by the kernel (accept_ra/autoconf) */
    int auto_dns, auto_gateway, auto_routes;
    int64_t auto_table;  /* auto-route-table-id: 0 = unset (main) */
    int64_t auto_metric; /* auto-route-metric: -1 = unset (the kernel's) */
    int allow_extra;     /* allow-extra-address: -1 unset (true) */
    /* Set by the reconciler from the lease store, never from files: the
     * leased address, which the planner adds and keeps like a listed one. */
    bool has_lease;
    struct ipaddr lease;
};
/* Does this family ask for dynamic addressing that keeps the link's
 * address set open (dhcp or autoconf on)? */
static inline bool ip_config_dynamic(const struct ip_config *c)
{
    return c->dhcp == 1 || c->autoconf == 1;
}

/* One entry of desiredState.interfaces. */
struct iface {
    char name[IFNAMSIZ_PLUMBD];
    enum iface_type type;
    enum iface_state state;
    unsigned line, col;
    int mtu;            /* 0 = not set */
    char *description;  /* NULL = not set */
    int stp;            /* -1 unset, 0 off, 1 on (linux-bridge) */
    bool has_ports;     /* bridge.port present: the list is authoritative */
    char (*ports)[IFNAMSIZ_PLUMBD];
    size_t nports;
    struct brport_conf *port_conf; /* per port (same index): options, vlan */
    struct bropts bropts; /* bridge.options but stp.enabled: merged (unset = left alone) */
    struct ip_config ipv4, ipv6;
    /* iftypes.c: the type's own settings (veth.peer, vxlan, mac-vlan, vlan,
     * link-aggregation; normalized). cfg.kind LK_NONE: the entry only
     * configures an existing device (ethernet, or a veth/vxlan/... given
     * without its block); ports of a bond are in ports. */
    struct link_cfg cfg;
    bool has_mac;                 /* mac-address */
    uint8_t mac[6];
    char copy_mac_from[IFNAMSIZ_PLUMBD]; /* copy-mac-from, "" = not set */
    bool has_controller;          /* controller: "" detaches */
    char controller[IFNAMSIZ_PLUMBD];
    int accept_all_mac;           /* accept-all-mac-addresses (IFF_PROMISC): -1 unset, 0, 1 */
};
/* The link kind an nmstate type creates (LK_NONE: ethernet, loopback). */
enum link_kind iface_type_kind(enum iface_type t);

/* One entry of desiredState.routes.config (nmstate 2.x). A present entry is
 * normalized by the validator: table (default 254 main), metric (default the
 * kernel's: 0 for IPv4, 1024 for IPv6) and type (unicast) are always set.
 * An absent entry matches, as a wildcard, every route that has each
 * property it gives. */
struct nm_route {
    bool absent;                  /* state: absent */
    unsigned line, col;
    int family;                   /* AF_INET/AF_INET6; 0 = any (absent only) */
    bool has_dst;
    struct ipaddr dst;            /* destination */
    char ifname[IFNAMSIZ_PLUMBD]; /* next-hop-interface, "" = none */
    bool has_gw;
    struct ipaddr gw;             /* next-hop-address */
    bool has_metric;
    uint32_t metric;
    bool has_table;
    uint32_t table;               /* table-id */
    int type;                     /* RTN_*: 0 = unset (absent), RTN_UNICAST,
                                   * RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT */
    bool has_src;
    struct ipaddr src;            /* source (preferred source address) */
};
/* "blackhole", "unreachable", "prohibit" <-> RTN_*; -EINVAL when unknown. */
int route_type_from_string(const char *s);
const char *route_type_to_string(int type); /* NULL for unicast */

/* One entry of desiredState.route-rules.config (nmstate 2.x). A present
 * entry is normalized by the validator: family (from its addresses, else
 * `family`, else IPv4), action (FR_ACT_TO_TBL unless blackhole/unreachable/
 * prohibit), table (254 main by default; 0 for the non-lookup actions),
 * fwmark and fwmask (0; fwmask 0xffffffff when only fwmark is given, as the
 * kernel does) are always set; priority is optional (unset: the kernel
 * picks one on add, and any priority matches). An absent entry matches, as
 * a wildcard, every rule (but the kernel's defaults) that has each property
 * it gives; ip-from/ip-to "" match rules without one. */
struct nm_rule {
    bool absent;                  /* state: absent */
    unsigned line, col;
    int family;                   /* AF_INET/AF_INET6; 0 = any (absent only) */
    bool has_from, from_none;     /* ip-from; from_none: "" (absent only) */
    struct ipaddr from;
    bool has_to, to_none;         /* ip-to */
    struct ipaddr to;
    bool has_priority;
    uint32_t priority;
    bool has_table;
    uint32_t table;               /* route-table */
    bool has_fwmark, has_fwmask;
    uint32_t fwmark, fwmask;
    char iif[IFNAMSIZ_PLUMBD];    /* "" = any (absent) / none (present) */
    int action;                   /* FR_ACT_*: 0 = unset (absent only) */
};
/* "blackhole", "unreachable", "prohibit" <-> FR_ACT_*; -EINVAL when unknown. */
int rule_action_from_string(const char *s);
const char *rule_action_to_string(int action); /* NULL for a table lookup */

struct policy {
    struct object obj;
    char *probe;            /* annotation plumbd/probe, checked by probe_parse; NULL */
    struct label *selector; /* spec.nodeSelector; empty selects every node */
    size_t nselector;
    struct iface *ifaces;
    size_t nifaces;
    struct nm_route *routes;  /* routes.config, in file order */
    size_t nroutes;
    struct dns_config dns;    /* dns-resolver.config (dns.set: present) */
    struct nm_rule *rules;    /* route-rules.config, in file order */
    size_t nrules;
    /* The desiredState as JSON (verify.h), what read-back verification
     * compares with the node; owned. */
    struct json_t *state;
};

struct route {
    struct ipaddr dst; /* 0.0.0.0/0 for default */
    bool has_gw;
    struct ipaddr gw;
};

/* One host-local range: a subnet and the addresses handed out from it. */
struct ipam_range {
    struct ipaddr subnet;
    struct ipaddr start, end; /* first/last allocatable, computed when absent */
    bool has_gateway;         /* always true after validation */
    struct ipaddr gateway;    /* never allocated; default: subnet's first address */
};

/* A host-local range set (one element of ipam.ranges): its ranges are tried
 * in order; a pod gets one address from every set (an IPv4 set and an IPv6
 * set give a dual-stack pod). All ranges of a set have one family. */
struct ipam_set {
    struct ipam_range *ranges;
    size_t nranges;
};

/* One address of static IPAM. */
struct ipam_static {
    struct ipaddr addr; /* with its prefix */
    bool has_gateway;
    struct ipaddr gateway;
};

/* ipam.dns (and, host-local, the nameservers of ipam.resolvConf): recorded
 * for the pod's network-status. */
struct ipam_dns {
    char **nameservers;
    size_t nnameservers;
    char *domain;
    char **search;
    size_t nsearch;
    char **options;
    size_t noptions;
};

enum ipam_type { IPAM_NONE, IPAM_HOST_LOCAL, IPAM_STATIC };

/* The CNI plugin a NAD names (its config's "type", or the first plugin of
 * a conflist). */
enum nad_plugin { NAD_BRIDGE, NAD_MACVLAN, NAD_UNSUPPORTED };
enum cni_macvlan_mode { CNI_MACVLAN_BRIDGE, CNI_MACVLAN_PRIVATE, CNI_MACVLAN_VEPA, CNI_MACVLAN_PASSTHRU };
const char *macvlan_mode_to_string(enum cni_macvlan_mode m);
int macvlan_mode_from_string(const char *s); /* -EINVAL when unknown */

/* One vlanTrunk entry: a single id (min == max) or minID..maxID. */
struct vlan_range {
    uint16_t min, max;
};

struct nad {
    struct object obj;
    char *cni_name;     /* config "name", default the NAD name */
    char *cni_type;     /* "bridge", "macvlan", or the unsupported type */
    enum nad_plugin plugin;
    char bridge[IFNAMSIZ_PLUMBD]; /* bridge plugin */
    int mtu;            /* 0 = not set */
    bool macspoofchk;
    /* bridge plugin keys (false/0 = the plugin's default) */
    bool is_gateway;         /* isGateway, or implied by isDefaultGateway */
    bool is_default_gateway; /* isDefaultGateway */
    bool force_address;      /* forceAddress */
    bool ip_masq;            /* ipMasq */
    bool hairpin;            /* hairpinMode */
    bool promisc;            /* promiscMode */
    bool port_isolation;     /* portIsolation */
    bool enable_dad;         /* enabledad */
    bool disable_container_if; /* disableContainerInterface */
    int vlan;                /* vlan: 0 = none */
    struct vlan_range *trunk; /* vlanTrunk */
    size_t ntrunk;
    bool preserve_default_vlan; /* preserveDefaultVlan (default true) */
    /* macvlan plugin */
    char master[IFNAMSIZ_PLUMBD]; /* "" = the node's default-route interface */
    enum cni_macvlan_mode macvlan_mode;
    /* IPAM (ipam.c): host-local range sets (normalized: start/end/gateway
     * filled in) or static addresses, the routes (a route without gw goes
     * via the gateway of its family, as the CNI plugins do) and dns. */
    enum ipam_type ipam_type;
    /* The primary range: host-local, the first range of the first set;
     * static, the first address's subnet (has_gateway when it names one).
     * What the single-gateway bridge keys (isGateway) use. */
    struct ipam_range range;
    struct ipam_set *ipam_sets;
    size_t nipam_sets;
    struct ipam_static *ipam_static;
    size_t nipam_static;
    struct ipam_dns dns;
    struct route *routes;
    size_t nroutes;
};

/* One network selection element of the pod annotation. */
struct attachment {
    char *nad_ns;   /* default: the pod's namespace */
    char *nad_name;
    char ifname[IFNAMSIZ_PLUMBD]; /* requested or net<N> by position */
    bool has_mac;
    uint8_t mac[6];
    struct ipaddr *ips; /* requested addresses (with prefix) */
    size_t nips;
    /* "default-route": the pod's default route of each family given moves
     * onto this interface via these gateways (plain addresses, at most one
     * per family; at most one element of a pod has any). */
    struct ipaddr *default_gw;
    size_t ndefault_gw;
    char *cni_args; /* "cni-args" as compact JSON, or NULL: recorded only */
};

struct pod {
    struct object obj;
    char *netns; /* absolute path: /run/netns/<name> by default */
    struct attachment *att;
    size_t natt;
    /* Its fields belong to the memo of validated pods (desired_free leaves
     * them alone): a read-only copy, valid until the memo's next use. */
    bool borrowed;
};

struct node {
    struct object obj;
    struct label *labels;
    size_t nlabels;
};

/* Everything desired, from one load of the config dir. */
struct desired {
    struct policy *policies;
    size_t npolicies;
    struct nad *nads;
    size_t nnads;
    struct pod *pods;
    size_t npods;
    struct node *nodes;
    size_t nnodes;
    /* Documents that failed validation: identity known (kind/ns/name) so
     * their last good state can be kept, with the errors. */
    struct object *invalid;
    size_t ninvalid;
    struct diags diags; /* every error and warning, file:line:col */
};

/* Build the desired model from loaded documents. Never fails as a whole:
 * bad documents land in d->invalid and d->diags. */
void validate_docs(const struct docset *docs, struct desired *ret);

/* The daemon's memo of validated pods: a Pod document the loader hands over
 * unchanged (the same shared parse tree, at the same place in the same file,
 * with the same revision) validates to the same pod with the same
 * diagnostics, so the model borrows the memo's pod (pod.borrowed) instead
 * of validating the document again. An entry
 * holds a reference on its tree (no other tree can take its address) and is
 * dropped by the first validate_docs_memo call that does not use it. */
struct validate_memo;
struct validate_memo *validate_memo_new(void);
void validate_memo_free(struct validate_memo *m);
/* validate_docs with the memo (NULL: without); the same result. */
void validate_docs_memo(const struct docset *docs, struct desired *ret, struct validate_memo *m);
size_t validate_memo_hits(const struct validate_memo *m);
void desired_free(struct desired *d);
/* Free the validator's memo of documents that passed their schema (for
 * leak checkers at exit). */
void validate_cache_free(void);

/* Parse the k8s.v1.cni.cncf.io/networks annotation (JSON list or
 * "ns/name@ifname, ..." short form). pod_ns is the default namespace.
 * On error returns -EINVAL with a message in *ret_err (caller frees). */
int annotation_parse(const char *text, const char *pod_ns, struct attachment **ret_att,
                     size_t *ret_n, char **ret_err);
/* The same, with the problems that are not errors (unknown or unsupported
 * keys, cni-args that have nowhere to go) appended to warnings as
 * DIAG_WARNING entries (file "", position 0, object NULL) when it is not
 * NULL. */
int annotation_parse_warn(const char *text, const char *pod_ns, struct attachment **ret_att,
                          size_t *ret_n, struct diags *warnings, char **ret_err);
void attachments_free(struct attachment *a, size_t n);

/* Does a policy's nodeSelector match these labels? Empty selector matches. */
bool selector_matches(const struct label *sel, size_t nsel, const struct label *labels,
                      size_t nlabels);

const struct nad *desired_find_nad(const struct desired *d, const char *ns, const char *name);
