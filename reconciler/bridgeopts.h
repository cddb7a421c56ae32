/* bridgeopts.h - linux-bridge options, bridge port options and port VLANs of
 * nmstate policies (bridge.options, bridge.port[]).
 *
 * One table per kind maps each nmstate key to its netlink attribute
 * (IFLA_BR_* in IFLA_INFO_DATA of the bridge, IFLA_BRPORT_* in
 * IFLA_INFO_SLAVE_DATA of a port), its unit conversion and its range, so
 * validate, plan, apply, show and the journal read one description and
 * cannot disagree. Values are held in kernel units (centiseconds for the
 * timers, 0x8100/0x88a8 for the VLAN protocol); a value that is not set
 * is "not given" in a policy and "not reported" in a live snapshot. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct ynode;
struct nlattr;
struct nl_msg;

enum bropt {
    BROPT_FORWARD_DELAY,   /* stp.forward-delay: s -> IFLA_BR_FORWARD_DELAY cs */
    BROPT_HELLO_TIME,      /* stp.hello-time */
    BROPT_MAX_AGE,         /* stp.max-age */
    BROPT_PRIORITY,        /* stp.priority: IFLA_BR_PRIORITY */
    BROPT_AGEING_TIME,     /* mac-ageing-time: s -> IFLA_BR_AGEING_TIME cs */
    BROPT_MCAST_SNOOPING,  /* multicast-snooping */
    BROPT_GROUP_FWD_MASK,  /* group-forward-mask (alias group-fwd-mask) */
    BROPT_HASH_MAX,        /* hash-max: IFLA_BR_MCAST_HASH_MAX */
    BROPT_MCAST_ROUTER,    /* multicast-router: disabled 0, auto 1, enabled 2 */
    BROPT_VLAN_PROTOCOL,   /* vlan-protocol: 802.1q / 802.1ad */
    BROPT_VLAN_DEFAULT_PVID, /* vlan-default-pvid */
    _BROPT_MAX
};

enum brport_opt {
    BRPORT_HAIRPIN,  /* stp-hairpin-mode: IFLA_BRPORT_MODE */
    BRPORT_COST,     /* stp-path-cost: IFLA_BRPORT_COST */
    BRPORT_PRIORITY, /* stp-priority: IFLA_BRPORT_PRIORITY */
    _BRPORT_MAX
};

/* v[k] counts only when bit k of set is on: a zeroed struct holds nothing. */
struct bropts {
    uint32_t set;
    /* live only: values the kernel reports but does not hold for good, so
     * not compared (during an STP topology change it reports 2 x
     * forward-delay as the ageing time) */
    uint32_t transient;
    uint32_t v[_BROPT_MAX];
};
struct brport_opts {
    uint32_t set;
    uint32_t v[_BRPORT_MAX];
};
#define BROPT_HAS(o, k) (((o)->set >> (k)) & 1u)
#define BROPT_SET(o, k, val) ((o)->set |= 1u << (k), (o)->v[k] = (uint32_t)(val))

void bropts_init(struct bropts *o);          /* every value unset */
void brport_opts_init(struct brport_opts *o);
bool bropts_any(const struct bropts *o);     /* any value set? */
bool brport_opts_any(const struct brport_opts *o);

/* "stp.forward-delay", "stp-path-cost": the nmstate key, for messages */
const char *bropt_key(enum bropt k);
const char *brport_opt_key(enum brport_opt k);
/* Only a kernel with bridge VLAN filtering reports (and keeps) it. */
bool bropt_needs_vlan_filtering(enum bropt k);

/* ---- port VLANs (bridge.port[].vlan) ---- */

/* VLAN flags as the kernel's BRIDGE_VLAN_INFO_PVID / _UNTAGGED. */
#define PVLAN_PVID 0x2
#define PVLAN_UNTAGGED 0x4

/* VLANs min..max of a port, all with the same flags. */
struct vlan_span {
    uint16_t min, max;
    uint16_t flags; /* PVLAN_* */
};

enum port_vlan_mode { PORT_VLAN_NONE, PORT_VLAN_ACCESS, PORT_VLAN_TRUNK };

/* One bridge.port[] entry's settings beyond its name. */
struct brport_conf {
    struct brport_opts opts;
    enum port_vlan_mode vlan_mode; /* NONE: no `vlan` (or `vlan: {}`): left alone */
    uint16_t tag;                  /* access VLAN, or the native VLAN of a trunk */
    bool enable_native;
    struct vlan_span *trunk;       /* trunk-tags (flags 0) */
    size_t ntrunk;
};
void brport_conf_free(struct brport_conf *c);

/* The VLAN set a port entry asks for, as sorted, merged spans (caller
 * frees). Returns how many. */
size_t brport_conf_spans(const struct brport_conf *c, struct vlan_span **ret);
/* Sort and merge adjacent spans of equal flags in place; returns the count. */
size_t vlan_spans_normalize(struct vlan_span *v, size_t n);
bool vlan_spans_equal(const struct vlan_span *a, size_t na, const struct vlan_span *b, size_t nb);
/* What to write to turn `have` into `want`: VLANs to add (or re-add with
 * other flags) and to delete. Without have_known (the port's VLANs were not
 * read: its bridge did not filter yet), everything wanted is added and the
 * kernel's default PVID (added to every new port) is deleted unless wanted.
 * Both lists normalized; caller frees. */
void vlan_spans_diff(const struct vlan_span *want, size_t nwant, const struct vlan_span *have,
                     size_t nhave, bool have_known, uint16_t default_pvid,
                     struct vlan_span **ret_add, size_t *ret_nadd, struct vlan_span **ret_del,
                     size_t *ret_ndel);

/* ---- validation (nmstate units in, kernel units out) ---- */

/* Report one problem at node `at` (the validator's file:line:col). */
typedef void (*bropt_err_fn)(void *ctx, const struct ynode *at, const char *msg);

/* bridge.options of interface ifname (NULL: none) into ret; stp_enabled is
 * the entry's stp.enabled (-1 not given): with STP on the kernel only takes
 * forward-delay 2-30 s. Errors go to err. */
void bropts_parse(const struct ynode *options, const char *ifname, int stp_enabled,
                  struct bropts *ret, bropt_err_fn err, void *ctx);
/* The keys of one bridge.port[] entry (but name) into ret. */
void brport_conf_parse(const struct ynode *port, const char *ifname, const char *portname,
                       struct brport_conf *ret, bropt_err_fn err, void *ctx);

/* ---- netlink (attribute codecs; I/O stays in live.c and apply.c) ---- */

/* Read IFLA_INFO_DATA of a bridge / IFLA_INFO_SLAVE_DATA of a bridge port. */
void bropts_from_nl(struct nlattr *info_data, struct bropts *ret);
void brport_opts_from_nl(struct nlattr *slave_data, struct brport_opts *ret);
/* Put the set values as IFLA_BR_* / IFLA_BRPORT_* into an open nest. */
int bropts_put(struct nl_msg *m, const struct bropts *o);
int brport_opts_put(struct nl_msg *m, const struct brport_opts *o);
/* The VLAN spans of an IFLA_AF_SPEC (AF_BRIDGE, compressed or not). */
size_t vlan_spans_from_afspec(struct nlattr *afspec, struct vlan_span **ret);

/* ---- plan ---- */

/* The values of want that live does not already have (unknown in live
 * counts as different, so a kernel that cannot keep a value fails the
 * read-back instead of silently passing); returns how many. */
size_t bropts_diff(const struct bropts *want, const struct bropts *live, struct bropts *ret);
size_t brport_opts_diff(const struct brport_opts *want, const struct brport_opts *live,
                        struct brport_opts *ret);
/* Of live, the values of the keys set in keys (the before-image of a change). */
void bropts_pick(const struct bropts *keys, const struct bropts *live, struct bropts *ret);
void brport_opts_pick(const struct brport_opts *keys, const struct brport_opts *live,
                      struct brport_opts *ret);
/* Read-back: does live hold every value of want? *ret_msg names the first
 * that differs, e.g. "br-1.bridge.options.stp.forward-delay: desired 10, current 15". */
bool bropts_verify(const char *ifname, const struct bropts *want, const struct bropts *live,
                   char **ret_msg);
bool brport_opts_verify(const char *ifname, const struct brport_opts *want,
                        const struct brport_opts *live, char **ret_msg);

/* " forward_delay=1000 priority=4096" appended to *buf (op_describe). */
void bropts_describe(const struct bropts *o, char **buf);
void brport_opts_describe(const struct brport_opts *o, char **buf);
void vlan_spans_describe(const char *what, const struct vlan_span *v, size_t n, char **buf);

/* ---- journal / before-images: {"forward_delay": 1500, ...} in kernel units ---- */
json_t *bropts_to_json(const struct bropts *o);
void bropts_from_json(json_t *j, struct bropts *ret);
json_t *brport_opts_to_json(const struct brport_opts *o);
void brport_opts_from_json(json_t *j, struct brport_opts *ret);
json_t *vlan_spans_to_json(const struct vlan_span *v, size_t n);
size_t vlan_spans_from_json(json_t *j, struct vlan_span **ret);

/* ---- show: nmstate keys and units ---- */

/* Add the known values of o to bridge.options (an object holding "stp"). */
void bropts_show(json_t *options, const struct bropts *o);
/* Add the known values of o (and the port's VLANs when vlans != NULL) to a
 * bridge.port[] entry. */
void brport_show(json_t *port, const struct brport_opts *o, const struct vlan_span *vlans,
                 size_t nvlans);
