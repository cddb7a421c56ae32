/* dhcpmgr.c - DHCP leases as desired state, and the clients that get them
 * (see dhcpmgr.h). */
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>

#include "dhcpmgr.h"
#include "log.h"
#include "metrics.h"

#define LOG_OBJ "dhcp"

struct dhcp_run {
    char ifname[IFNAMSIZ_PLUMBD];
    char *owner;
    int ifindex;
    int fd;
    int sink;                  /* UDP port 68: no ICMP for unicast replies */
    int slot;
    uint8_t server_mac[6];     /* learnt from the last reply: unicast renew */
    bool has_server_mac;
    struct dhcp_client cl;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct dhcp_ctx *dhcp_ctx_new(const char *hostname)
{
    struct dhcp_ctx *c = xcalloc(1, sizeof(*c));
    snprintf(c->hostname, sizeof(c->hostname), "%s", hostname ? hostname : "");
    c->timerfd = -1;
    c->epfd = -1;
    return c;
}

static void wants_clear(struct dhcp_ctx *c)
{
    for (size_t i = 0; i < c->nwants; i++)
        free(c->wants[i].owner);
    free(c->wants);
    c->wants = NULL;
    c->nwants = 0;
}

static void run_free(struct dhcp_run *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd); /* also leaves the epoll set */
    if (r->sink >= 0)
        close(r->sink);
    free(r->owner);
    free(r);
}

void dhcp_ctx_free(struct dhcp_ctx *c)
{
    if (!c)
        return;
    wants_clear(c);
    lease_rows_free(c->leases, c->nleases);
    dhcp_daemon_stop(c);
    free(c->runs);
    if (c->timerfd >= 0)
        close(c->timerfd);
    free(c);
}

static const struct lease_row *lease_of(const struct dhcp_ctx *c, const char *ifname)
{
    for (size_t i = 0; i < c->nleases; i++)
        if (streq(c->leases[i].ifname, ifname))
            return &c->leases[i];
    return NULL;
}

static void ipaddr_from4(uint32_t a, uint8_t prefix, struct ipaddr *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->family = AF_INET;
    memcpy(ret->bytes, &a, 4);
    ret->prefix = prefix;
}

static const struct dhcp_want *want_of(const struct dhcp_ctx *c, const char *ifname);

/* ---- the lease as desired state ------------------------------------------ */

static void add_route(struct policy *p, const struct iface *f, uint32_t dst, uint8_t plen,
                      uint32_t gw)
{
    const struct ip_config *ipc = &f->ipv4;
    struct nm_route *r = ARRAY_PUSH(p->routes, p->nroutes);
    r->line = f->line;
    r->col = f->col;
    r->family = AF_INET;
    r->has_dst = true;
    ipaddr_from4(dst, plen, &r->dst);
    /* no host bits in a destination */
    for (unsigned b = plen; b < 32; b++)
        r->dst.bytes[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
    snprintf(r->ifname, sizeof(r->ifname), "%s", f->name);
    if (gw) {
        r->has_gw = true;
        ipaddr_from4(gw, 32, &r->gw);
    }
    r->has_metric = true;
    r->metric = ipc->auto_metric >= 0 ? (uint32_t)ipc->auto_metric : 0;
    r->has_table = true;
    r->table = ipc->auto_table > 0 ? (uint32_t)ipc->auto_table : RT_TABLE_MAIN;
    r->type = RTN_UNICAST;
}

void dhcp_inject_lease(struct policy *p, struct iface *f, const struct dhcp_lease *l,
                       bool dns_free)
{
    struct ip_config *ipc = &f->ipv4;
    ipc->has_lease = true;
    ipaddr_from4(l->addr, l->prefix, &ipc->lease);
    /* RFC 3442: with classless routes the router option is ignored; the
     * default route then comes from a 0.0.0.0/0 entry among them. */
    if (ipc->auto_routes != 0) {
        if (l->nroutes) {
            for (size_t i = 0; i < l->nroutes; i++) {
                if (l->routes[i].plen == 0 && ipc->auto_gateway == 0)
                    continue;
                add_route(p, f, l->routes[i].dst, l->routes[i].plen, l->routes[i].gw);
            }
        } else if (l->router && ipc->auto_gateway != 0)
            add_route(p, f, 0, 0, l->router);
    }
    if (dns_free && ipc->auto_dns != 0 && l->ndns) {
        struct dns_config *d = &p->dns;
        d->set = true;
        d->line = f->line;
        d->col = f->col;
        for (size_t i = 0; i < l->ndns; i++) {
            char buf[INET_ADDRSTRLEN];
            struct in_addr in = {.s_addr = l->dns[i]};
            if (inet_ntop(AF_INET, &in, buf, sizeof(buf)))
                *ARRAY_PUSH(d->server, d->nserver) = xstrdup(buf);
        }
        if (l->domain[0] && dns_domain_valid(l->domain))
            *ARRAY_PUSH(d->search, d->nsearch) = xstrdup(l->domain);
    }
}

int dhcp_prepare(struct dhcp_ctx *c, struct store *s, struct desired *d,
                 const struct label *labels, size_t nlabels)
{
    wants_clear(c);
    lease_rows_free(c->leases, c->nleases);
    c->leases = NULL;
    c->nleases = 0;
    int rc = store_lease_list(s, &c->leases, &c->nleases);
    if (rc < 0)
        return rc;
    uint64_t now = wall_ms();
    /* DNS from a lease only when no matching policy sets dns-resolver
     * itself, and then from one lease only. */
    bool dns_free = true;
    for (size_t i = 0; i < d->npolicies; i++)
        if (d->policies[i].dns.set &&
            selector_matches(d->policies[i].selector, d->policies[i].nselector, labels, nlabels))
            dns_free = false;
    for (size_t i = 0; i < d->npolicies; i++) {
        struct policy *p = &d->policies[i];
        if (!selector_matches(p->selector, p->nselector, labels, nlabels))
            continue;
        char id[256];
        object_id(&p->obj, id, sizeof(id));
        for (size_t j = 0; j < p->nifaces; j++) {
            struct iface *f = &p->ifaces[j];
            if (f->ipv4.dhcp != 1 || f->state != IFSTATE_UP || f->ipv4.enabled == 0)
                continue;
            bool dup = false;
            for (size_t k = 0; k < c->nwants && !dup; k++)
                dup = streq(c->wants[k].ifname, f->name);
            if (dup)
                continue; /* the planner reports the Conflict */
            struct dhcp_want *w = ARRAY_PUSH(c->wants, c->nwants);
            snprintf(w->ifname, sizeof(w->ifname), "%s", f->name);
            w->owner = xstrdup(id);
            const struct lease_row *lr = lease_of(c, f->name);
            if (!lr || dhcp_lease_end(&lr->lease) <= now)
                continue; /* none, or expired while nobody renewed it */
            w->has_lease = true;
            dhcp_inject_lease(p, f, &lr->lease, dns_free && f->ipv4.auto_dns != 0);
            if (f->ipv4.auto_dns != 0 && lr->lease.ndns)
                dns_free = false;
        }
    }
    /* A policy whose file no longer validates keeps its last good state,
     * so its leases keep being renewed (not released). */
    for (size_t i = 0; i < d->ninvalid; i++) {
        char id[256];
        if (d->invalid[i].kind != OBJ_POLICY)
            continue;
        object_id(&d->invalid[i], id, sizeof(id));
        for (size_t k = 0; k < c->nleases; k++) {
            if (!streq(c->leases[k].owner, id) || want_of(c, c->leases[k].ifname))
                continue;
            struct dhcp_want *w = ARRAY_PUSH(c->wants, c->nwants);
            snprintf(w->ifname, sizeof(w->ifname), "%s", c->leases[k].ifname);
            w->owner = xstrdup(id);
            w->has_lease = true;
        }
    }
    return 0;
}

bool dhcp_is_lease_addr(const struct dhcp_ctx *c, const char *ifname, const struct ipaddr *addr)
{
    if (!c)
        return false;
    for (size_t i = 0; i < c->nwants; i++) {
        if (!c->wants[i].has_lease || !streq(c->wants[i].ifname, ifname))
            continue;
        const struct lease_row *lr = lease_of(c, ifname);
        struct ipaddr a;
        if (!lr)
            continue;
        ipaddr_from4(lr->lease.addr, lr->lease.prefix, &a);
        if (ipaddr_equal(&a, addr))
            return true;
    }
    return false;
}

void dhcp_note_status(const struct dhcp_ctx *c, struct plan *p)
{
    for (size_t i = 0; i < c->nwants; i++) {
        if (c->wants[i].has_lease)
            continue;
        for (size_t k = 0; k < p->nstatus; k++) {
            struct objstatus *st = &p->status[k];
            if (!streq(st->id, c->wants[i].owner) ||
                (st->cond != COND_AVAILABLE && st->cond != COND_PROGRESSING))
                continue;
            char *m = xasprintf("%s%s%s: ipv4 DHCP lease pending (no server answered yet)",
                                st->message ? st->message : "",
                                st->message && st->message[0] ? "; " : "", c->wants[i].ifname);
            free(st->message);
            st->message = m;
        }
    }
}

/* ---- clients: shared pieces ------------------------------------------------ */

static int if_mac(const char *ifname, uint8_t ret[6])
{
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
        return -errno;
    memcpy(ret, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

static const struct dhcp_want *want_of(const struct dhcp_ctx *c, const char *ifname)
{
    for (size_t i = 0; i < c->nwants; i++)
        if (streq(c->wants[i].ifname, ifname))
            return &c->wants[i];
    return NULL;
}

static void log_lease(const char *what, const char *ifname, const struct dhcp_lease *l)
{
    char a[INET_ADDRSTRLEN] = "", s[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &l->addr, a, sizeof(a));
    inet_ntop(AF_INET, &l->server_id, s, sizeof(s));
    log_info(LOG_OBJ, "%s: lease %s %s/%u from %s for %u s (T1 %u s, T2 %u s)", ifname, what, a,
             l->prefix, s, l->lease_s, l->t1_s, l->t2_s);
}

/* Send what the state machine asked for; store and report lease changes.
 * Returns true when the node's configuration must follow (a pass). */
static bool handle(struct dhcp_run *r, struct store *s, const struct dhcp_actions *a)
{
    if (a->send) {
        int e = dhcp_sock_send(r->fd, r->ifindex, a, r->has_server_mac ? r->server_mac : NULL);
        log_debug(LOG_OBJ, "%s: %s sent (%s)%s%s", r->ifname, dhcp_type_to_string(a->out.type),
                  dhcp_state_to_string(r->cl.state), e < 0 ? ": " : "", e < 0 ? strerror(-e) : "");
    }
    if (a->acquired || a->renewed) {
        struct lease_row row = {.owner = r->owner, .lease = r->cl.lease, .xid = r->cl.xid};
        snprintf(row.ifname, sizeof(row.ifname), "%s", r->ifname);
        memcpy(row.mac, r->cl.mac, 6);
        if (store_lease_put(s, &row) < 0)
            log_warn(LOG_OBJ, "%s: cannot store the lease", r->ifname);
        log_lease(a->acquired ? "acquired" : "renewed", r->ifname, &r->cl.lease);
    }
    if (a->lost) {
        log_warn(LOG_OBJ, "%s: lease lost (expired or refused by the server)", r->ifname);
        store_lease_delete(s, r->ifname);
    }
    return a->acquired || a->lost;
}

static struct dhcp_run *run_new(struct dhcp_ctx *c, const char *ifname, const char *owner,
                                const struct lease_row *stored)
{
    uint8_t mac[6];
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex <= 0 || if_mac(ifname, mac) < 0)
        return NULL; /* not there yet: the next pass tries again */
    int fd = dhcp_sock_open(ifindex);
    if (fd < 0) {
        log_warn(LOG_OBJ, "%s: cannot open a packet socket: %s", ifname, strerror(-fd));
        return NULL;
    }
    struct dhcp_run *r = xcalloc(1, sizeof(*r));
    snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
    r->owner = xstrdup(owner);
    r->ifindex = ifindex;
    r->fd = fd;
    r->sink = dhcp_sock_sink(ifname);
    r->slot = -1;
    /* A stored lease for another MAC is another client's: discover. */
    bool same = stored && !memcmp(stored->mac, mac, 6);
    dhcp_client_init(&r->cl, mac, wall_ms() ^ (uint64_t)getpid() << 32, same ? &stored->lease : NULL,
                     wall_ms());
    snprintf(r->cl.hostname, sizeof(r->cl.hostname), "%s", c->hostname);
    return r;
}

/* DHCPRELEASE for a stored lease nobody wants any more, then forget it. */
static void release_stored(struct store *s, const struct lease_row *lr)
{
    int ifindex = (int)if_nametoindex(lr->ifname);
    if (ifindex > 0 && lr->lease.server_id) {
        int fd = dhcp_sock_open(ifindex);
        if (fd >= 0) {
            struct dhcp_client cl;
            struct dhcp_actions a;
            dhcp_client_init(&cl, lr->mac, wall_ms(), &lr->lease, 0);
            dhcp_stop(&cl, true, &a);
            if (a.send)
                dhcp_sock_send(fd, ifindex, &a, NULL);
            close(fd);
        }
    }
    char buf[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &lr->lease.addr, buf, sizeof(buf));
    log_info(LOG_OBJ, "%s: lease of %s released", lr->ifname, buf);
    store_lease_delete(s, lr->ifname);
}

/* ---- one shot (`plumbd apply`) -------------------------------------------- */

int dhcp_oneshot(struct dhcp_ctx *c, struct store *s, unsigned timeout_ms, bool *ret_changed)
{
    *ret_changed = false;
    uint64_t now = wall_ms();
    for (size_t i = 0; i < c->nleases; i++)
        if (!want_of(c, c->leases[i].ifname)) {
            release_stored(s, &c->leases[i]);
            *ret_changed = true;
        }
    struct dhcp_run *runs[DHCP_MAX_RUNS];
    size_t n = 0;
    for (size_t i = 0; i < c->nwants && n < DHCP_MAX_RUNS; i++) {
        const struct lease_row *lr = lease_of(c, c->wants[i].ifname);
        /* A valid lease before its T1 is used as it is. */
        if (lr && now < dhcp_lease_t1(&lr->lease))
            continue;
        struct dhcp_run *r = run_new(c, c->wants[i].ifname, c->wants[i].owner, lr);
        if (!r)
            continue;
        struct dhcp_actions a;
        dhcp_start(&r->cl, now, &a);
        *ret_changed |= handle(r, s, &a);
        runs[n++] = r;
    }
    uint64_t deadline = now + timeout_ms;
    for (;;) {
        size_t pending = 0;
        struct pollfd pfd[DHCP_MAX_RUNS];
        uint64_t t = wall_ms(), wake = deadline;
        for (size_t i = 0; i < n; i++) {
            pfd[i] = (struct pollfd){.fd = runs[i]->fd, .events = POLLIN};
            if (runs[i]->cl.state != DHCP_BOUND) {
                pending++;
                if (runs[i]->cl.wake_ms && runs[i]->cl.wake_ms < wake)
                    wake = runs[i]->cl.wake_ms;
            }
        }
        if (!pending || t >= deadline)
            break;
        int k = poll(pfd, n, (int)(wake > t ? wake - t : 0));
        if (k < 0 && errno != EINTR)
            break;
        t = wall_ms();
        for (size_t i = 0; i < n; i++) {
            struct dhcp_run *r = runs[i];
            struct dhcp_actions a;
            if (pfd[i].revents & POLLIN) {
                struct dhcp_msg m;
                uint8_t mac[6];
                int got;
                while ((got = dhcp_sock_recv(r->fd, &m, mac)) >= 0) {
                    if (!got)
                        continue;
                    dhcp_on_packet(&r->cl, &m, t, &a);
                    if (a.acquired || a.renewed) {
                        memcpy(r->server_mac, mac, 6);
                        r->has_server_mac = true;
                    }
                    *ret_changed |= handle(r, s, &a);
                }
            }
            if (r->cl.wake_ms && t >= r->cl.wake_ms && r->cl.state != DHCP_BOUND) {
                dhcp_on_timer(&r->cl, t, &a);
                *ret_changed |= handle(r, s, &a);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (runs[i]->cl.state != DHCP_BOUND)
            log_info(LOG_OBJ, "%s: no DHCP lease within %u ms (%s); `plumbd run` keeps trying",
                     runs[i]->ifname, timeout_ms, dhcp_state_to_string(runs[i]->cl.state));
        run_free(runs[i]);
    }
    return 0;
}

/* ---- daemon ---------------------------------------------------------------- */

static void arm(struct dhcp_ctx *c)
{
    if (c->timerfd < 0)
        return;
    uint64_t wake = 0;
    for (size_t i = 0; i < c->nruns; i++) {
        uint64_t w = c->runs[i] ? c->runs[i]->cl.wake_ms : 0;
        if (w && (!wake || w < wake))
            wake = w;
    }
    struct itimerspec its = {0};
    if (wake) {
        uint64_t now = wall_ms(), d = wake > now ? wake - now : 1;
        its.it_value.tv_sec = (time_t)(d / 1000);
        its.it_value.tv_nsec = (long)(d % 1000) * 1000000;
    }
    timerfd_settime(c->timerfd, 0, &its, NULL);
}

static void run_stop(struct dhcp_ctx *c, size_t slot, struct store *s, bool release)
{
    struct dhcp_run *r = c->runs[slot];
    if (!r)
        return;
    if (release && s) {
        struct dhcp_actions a;
        dhcp_stop(&r->cl, true, &a);
        if (a.send)
            dhcp_sock_send(r->fd, r->ifindex, &a, r->has_server_mac ? r->server_mac : NULL);
        log_info(LOG_OBJ, "%s: DHCP stopped%s", r->ifname, a.send ? ", lease released" : "");
        store_lease_delete(s, r->ifname);
    }
    run_free(r);
    c->runs[slot] = NULL;
}

void dhcp_daemon_stop(struct dhcp_ctx *c)
{
    for (size_t i = 0; c && i < c->nruns; i++)
        run_stop(c, i, NULL, false);
}

int dhcp_daemon_sync(struct dhcp_ctx *c, struct store *s, int epfd)
{
    if (c->timerfd < 0) {
        c->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (c->timerfd < 0)
            return -errno;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = DHCP_TAG_TIMER};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->timerfd, &ev) < 0)
            return -errno;
        c->epfd = epfd;
        c->runs = xcalloc(DHCP_MAX_RUNS, sizeof(*c->runs));
        c->nruns = DHCP_MAX_RUNS;
    }
    /* Clients whose interface is no longer wanted (or was re-created, or
     * changed MAC) stop; the unwanted ones release their lease. */
    char released[DHCP_MAX_RUNS][IFNAMSIZ_PLUMBD];
    size_t nreleased = 0;
    for (size_t i = 0; i < c->nruns; i++) {
        struct dhcp_run *r = c->runs[i];
        if (!r)
            continue;
        const struct dhcp_want *w = want_of(c, r->ifname);
        uint8_t mac[6];
        if (!w) {
            snprintf(released[nreleased++], IFNAMSIZ_PLUMBD, "%s", r->ifname);
            run_stop(c, i, s, true);
            continue;
        }
        if ((int)if_nametoindex(r->ifname) != r->ifindex || if_mac(r->ifname, mac) < 0 ||
            memcmp(mac, r->cl.mac, 6) || !streq(w->owner, r->owner)) {
            log_info(LOG_OBJ, "%s: interface re-created or changed: DHCP restarts", r->ifname);
            run_stop(c, i, s, false);
        }
    }
    /* Stored leases nobody wants (the daemon was down when their policy
     * went) are released. */
    for (size_t i = 0; i < c->nleases; i++) {
        bool running = false;
        for (size_t k = 0; k < c->nruns && !running; k++)
            running = c->runs[k] && streq(c->runs[k]->ifname, c->leases[i].ifname);
        for (size_t k = 0; k < nreleased && !running; k++)
            running = streq(released[k], c->leases[i].ifname); /* released just now */
        if (!want_of(c, c->leases[i].ifname) && !running) {
            release_stored(s, &c->leases[i]);
            c->changed = true;
        }
    }
    for (size_t i = 0; i < c->nwants; i++) {
        bool running = false;
        for (size_t k = 0; k < c->nruns && !running; k++)
            running = c->runs[k] && streq(c->runs[k]->ifname, c->wants[i].ifname);
        if (running)
            continue;
        size_t slot = 0;
        while (slot < c->nruns && c->runs[slot])
            slot++;
        if (slot == c->nruns) {
            log_warn(LOG_OBJ, "more than %d DHCP interfaces: %s waits", DHCP_MAX_RUNS,
                     c->wants[i].ifname);
            break;
        }
        struct dhcp_run *r = run_new(c, c->wants[i].ifname, c->wants[i].owner,
                                     lease_of(c, c->wants[i].ifname));
        if (!r)
            continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = DHCP_TAG_SOCK + slot};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0) {
            run_free(r);
            continue;
        }
        r->slot = (int)slot;
        c->runs[slot] = r;
        log_info(LOG_OBJ, "%s: DHCP started (%s)", r->ifname, dhcp_state_to_string(r->cl.state));
        struct dhcp_actions a;
        dhcp_start(&r->cl, wall_ms(), &a);
        c->changed |= handle(r, s, &a);
    }
    arm(c);
    return 0;
}

void dhcp_daemon_event(struct dhcp_ctx *c, struct store *s, uint64_t tag)
{
    uint64_t now = wall_ms();
    if (tag == DHCP_TAG_TIMER) {
        uint64_t x;
        while (read(c->timerfd, &x, sizeof(x)) > 0)
            ;
        for (size_t i = 0; i < c->nruns; i++) {
            struct dhcp_run *r = c->runs[i];
            if (!r || !r->cl.wake_ms || now < r->cl.wake_ms)
                continue;
            struct dhcp_actions a;
            dhcp_on_timer(&r->cl, now, &a);
            c->changed |= handle(r, s, &a);
        }
    } else if (tag >= DHCP_TAG_SOCK && tag < DHCP_TAG_SOCK + c->nruns) {
        struct dhcp_run *r = c->runs[tag - DHCP_TAG_SOCK];
        struct dhcp_msg m;
        uint8_t mac[6];
        int got;
        while (r && (got = dhcp_sock_recv(r->fd, &m, mac)) >= 0) {
            if (!got)
                continue;
            struct dhcp_actions a;
            dhcp_on_packet(&r->cl, &m, now, &a);
            if (a.acquired || a.renewed) {
                memcpy(r->server_mac, mac, 6);
                r->has_server_mac = true;
            }
            c->changed |= handle(r, s, &a);
        }
    }
    arm(c);
}

void dhcp_daemon_metrics(const struct dhcp_ctx *c, struct metrics *m)
{
    if (!m)
        return;
    metrics_family_clear(m, "plumbd_dhcp_leases");
    for (size_t i = 0; c && i < c->nruns; i++)
        if (c->runs[i])
            metrics_gauge_set(m, "plumbd_dhcp_leases", 1, "interface", c->runs[i]->ifname,
                              "state", dhcp_state_to_string(c->runs[i]->cl.state), NULL);
}
