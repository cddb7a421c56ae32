/* iftypes.h - nmstate interface types beyond linux-bridge (issue 6): veth,
 * vxlan, mac-vlan, dummy, vlan, bond. One plain struct, struct link_cfg,
 * holds a type's settings wherever they travel: in the desired interface
 * (normalized by the validator: every default filled in), in a create op
 * and its journal entry, and in a live link (parsed from IFLA_INFO_DATA).
 * It has no pointers, so it is copied by value.
 *
 * Included by model.h after struct ipaddr; include model.h, not this. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum link_kind {
    LK_NONE,    /* physical device, or a kind plumbd does not model */
    LK_BRIDGE,
    LK_VETH,
    LK_VXLAN,
    LK_MACVLAN,
    LK_DUMMY,
    LK_VLAN,
    LK_BOND,
    _LK_MAX
};

/* Bond options plumbd maps to IFLA_BOND_* (link-aggregation.options). */
enum bond_opt {
    BOND_MIIMON,
    BOND_UPDELAY,
    BOND_DOWNDELAY,
    BOND_ARP_INTERVAL,
    BOND_MIN_LINKS,
    BOND_USE_CARRIER,
    BOND_ALL_SLAVES_ACTIVE,
    BOND_XMIT_HASH_POLICY,
    BOND_LACP_RATE,
    BOND_AD_SELECT,
    BOND_RESEND_IGMP,
    BOND_NUM_PEER_NOTIF,
    _BOND_OPT_MAX
};

struct link_cfg {
    enum link_kind kind;
    char base[16];           /* veth: peer; vxlan/mac-vlan/vlan: base-iface; "" none */
    int base_ifindex;        /* live: IFLA_LINK (IFLA_VXLAN_LINK), 0 none */
    bool base_elsewhere;     /* live: the peer/base is in another namespace */
    uint32_t id;             /* vxlan VNI, vlan id */
    uint16_t port;           /* vxlan destination-port (host order) */
    uint16_t protocol;       /* vlan: ETH_P_8021Q / ETH_P_8021AD (host order) */
    bool learning;           /* vxlan */
    bool promisc;            /* mac-vlan: promiscuous (no MACVLAN_FLAG_NOPROMISC) */
    int mode;                /* mac-vlan: MACVLAN_MODE_*; bond: BOND_MODE_* 0..6 */
    /* Every live link carries one of these: the kinds' big parts share
     * their bytes (read them only for their kind). */
    union {
        struct {
            struct ipaddr local;  /* vxlan: family 0 = none */
            struct ipaddr remote; /* vxlan: family 0 = none */
        };
        struct {
            uint32_t bond_set;    /* bond: 1 << BOND_* for each option given */
            uint32_t bond[_BOND_OPT_MAX];
        };
    };
};

/* "veth" ... (IFLA_INFO_KIND) <-> LK_*; LK_NONE for "" and kinds not modelled. */
enum link_kind link_kind_from_kernel(const char *kind);
const char *link_kind_to_kernel(enum link_kind k);
/* The nmstate type name: "linux-bridge", "mac-vlan", ... */
const char *link_kind_to_nmstate(enum link_kind k);
/* Kinds plumbd creates and deletes (every kind but LK_NONE). */
bool link_kind_virtual(enum link_kind k);

const char *macvlan_kmode_to_string(int mode); /* MACVLAN_MODE_* -> "vepa", NULL */
int macvlan_kmode_from_string(const char *s);  /* -EINVAL */
const char *bond_mode_to_string(int mode);     /* 0..6 -> "balance-rr", NULL */
int bond_mode_from_string(const char *s);      /* name or number; -EINVAL */
const char *bond_opt_name(enum bond_opt o);    /* "miimon" */
int bond_opt_from_name(const char *s);         /* -EINVAL */
/* The value of option o as nmstate writes it ("layer3+4", "fast", 100)
 * into buf; numeric options as decimal. */
const char *bond_opt_format(enum bond_opt o, uint32_t v, char *buf, size_t len);
/* A string or integer value of option o; -EINVAL. */
int bond_opt_parse(enum bond_opt o, const char *s, uint32_t *ret);

/* Does the live link's type configuration (have, parsed from the kernel;
 * base names resolved through l) satisfy want (normalized)? When not, and
 * what is set, *what names the first key that differs ("vxlan.id: desired
 * 10, current 11"; caller frees). */
struct live_ns;
bool link_cfg_satisfied(const struct link_cfg *want, const struct link_cfg *have,
                        const struct live_ns *l, char **what);

/* "vxlan id=10 base=ens19 remote=... port=4789 learning=on" (caller frees) */
char *link_cfg_describe(const struct link_cfg *c);
