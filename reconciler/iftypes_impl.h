/* iftypes_impl.h - the parts of iftypes.c that speak netlink, JSON or
 * YAML: for live.c, apply.c, journal.c, show.c and validate.c only (the
 * planner and the model see iftypes.h through model.h). */
#pragma once

#include "live.h"
#include "load.h"
#include "model.h"

struct nlattr;
struct nl_msg;
struct json_t;

struct bond_opt_info {
    const char *name;  /* nmstate/sysfs name */
    int attr;          /* IFLA_BOND_* */
    int size;          /* 1: u8, 4: u32 */
    const void *names; /* symbolic values (struct name_val[]), or NULL */
    unsigned modes;    /* modes it applies to, 1 << mode */
};
extern const struct bond_opt_info bond_opts[_BOND_OPT_MAX];
/* Does option o apply to bond mode `mode` (the kernel refuses it otherwise)? */
bool bond_opt_applies(enum bond_opt o, int mode);

/* Fill c from a link's IFLA_INFO_KIND, IFLA_INFO_DATA and top-level
 * attributes tb (IFLA_LINK, IFLA_LINK_NETNSID). */
void link_cfg_from_kernel(const char *kind, struct nlattr *data, struct nlattr **tb,
                          struct link_cfg *c);
/* IFLA_LINK (mac-vlan, vlan: base_ifindex) and IFLA_LINKINFO creating a
 * link of c's kind; a veth's peer gets peer_mtu (0: the default) and is
 * created down (bring it up with a second request). */
int link_cfg_put(struct nl_msg *m, const struct link_cfg *c, unsigned base_ifindex,
                 unsigned peer_mtu);

/* IFLA_NUM_TX_QUEUES and IFLA_NUM_RX_QUEUES of 1 (a veth end): a veth left
 * to the default queue count is cut down to one after registration, which
 * waits for two RCU grace periods per end. 0 or -ENOMEM. */
int put_one_queue(struct nl_msg *m);

struct json_t *link_cfg_to_json(const struct link_cfg *c);
int link_cfg_from_json(struct json_t *o, struct link_cfg *c);

/* `plumbd show`: the type block of k (*ret_key: "vxlan", "mac-vlan", ...)
 * or NULL; the nmstate type of k. */
struct json_t *link_cfg_show(const struct live_link *k, const struct live_ns *l,
                             const char **ret_key);
const char *link_show_type(const struct live_link *k);

/* The validator's part: the type block of interface entry n (f->type is
 * set) into f->cfg, and link-aggregation.port into f->ports. err reports
 * an error at a node. */
typedef void (*cfg_err_fn)(void *ctx, const struct ynode *at, const char *msg);
void link_cfg_parse(const struct ynode *n, struct iface *f, cfg_err_fn err, void *ctx);
