/* netns.c - network namespace handles and the netlink request plumbing.
 *
 * A netlink socket belongs to the namespace it was created in, so each
 * namespace plumbd talks to gets one handle (struct netns) holding the
 * namespace fd, its identity (dev/ino: a re-created netns has a new inode)
 * and a NETLINK_ROUTE request socket created inside it.
 *
 * This file also holds the two helpers every netlink user in plumbd shares:
 * netns_nl_errno(), the single place where libnl's -NLE_* codes become
 * errno values, and netns_request(), which sends a batch of requests and
 * collects the kernel's answers, keeping the real errno and the extended
 * ACK text of a failure (libnl 3.7 throws both away). */
#include "live.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "log.h"
#include "util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NETNS_RUN_DIR "/run/netns"
#define NETNS_SELF "/proc/self/ns/net"
#define NETNS_THREAD_SELF "/proc/thread-self/ns/net"
#define NETNS_SOCK_BUF (1 << 20)

/* libnl return code -> -errno. libnl codes are lossy: NLE_NOMEM is what a
 * receive-buffer overrun (ENOBUFS) turns into, and on a netlink socket that
 * is by far its likeliest cause, so it maps to -ENOBUFS (callers resync). */
int netns_nl_errno(int nlerr)
{
    static const int map[] = {
        [NLE_SUCCESS] = 0,
        [NLE_FAILURE] = EIO,
        [NLE_INTR] = EINTR,
        [NLE_BAD_SOCK] = EBADF,
        [NLE_AGAIN] = EAGAIN,
        [NLE_NOMEM] = ENOBUFS,
        [NLE_EXIST] = EEXIST,
        [NLE_INVAL] = EINVAL,
        [NLE_RANGE] = ERANGE,
        [NLE_MSGSIZE] = EMSGSIZE,
        [NLE_OPNOTSUPP] = EOPNOTSUPP,
        [NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
        [NLE_OBJ_NOTFOUND] = ENOENT,
        [NLE_NOATTR] = ENODATA,
        [NLE_MISSING_ATTR] = EINVAL,
        [NLE_AF_MISMATCH] = EAFNOSUPPORT,
        [NLE_SEQ_MISMATCH] = EILSEQ,
        [NLE_MSG_OVERFLOW] = ENOBUFS,
        [NLE_MSG_TRUNC] = EMSGSIZE,
        [NLE_NOADDR] = EADDRNOTAVAIL,
        [NLE_SRCRT_NOSUPPORT] = EOPNOTSUPP,
        [NLE_MSG_TOOSHORT] = EBADMSG,
        [NLE_MSGTYPE_NOSUPPORT] = EOPNOTSUPP,
        [NLE_OBJ_MISMATCH] = EINVAL,
        [NLE_NOCACHE] = ENOENT,
        [NLE_BUSY] = EBUSY,
        [NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
        [NLE_NOACCESS] = EACCES,
        [NLE_PERM] = EPERM,
        [NLE_PKTLOC_FILE] = ENOENT,
        [NLE_PARSE_ERR] = EBADMSG,
        [NLE_NODEV] = ENODEV,
        [NLE_IMMUTABLE] = EPERM,
        [NLE_DUMP_INTR] = EAGAIN,
        [NLE_ATTRSIZE] = ERANGE,
    };
    int c = nlerr < 0 ? -nlerr : nlerr;

    if (c == 0)
        return 0;
    if ((size_t)c < ARRAY_SIZE(map) && map[c])
        return -map[c];
    return -EIO;
}

char *netns_path_resolve(const char *name_or_path)
{
    if (!name_or_path || !*name_or_path)
        return NULL;
    if (name_or_path[0] == '/')
        return xstrdup(name_or_path);
    if (strchr(name_or_path, '/') || streq(name_or_path, ".") || streq(name_or_path, ".."))
        return NULL;
    return xasprintf(NETNS_RUN_DIR "/%s", name_or_path);
}

/* Called once at start (for --netns), before any socket exists: sockets
 * keep the namespace they were created in. */
int netns_enter(const char *name_or_path)
{
    _cleanup_free_ char *path = netns_path_resolve(name_or_path);
    _cleanup_close_ int fd = -1;

    if (!path)
        return -EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (setns(fd, CLONE_NEWNET) < 0)
        return -errno;
    return 0;
}

static void nl_socket_freep(struct nl_sock **sk)
{
    if (*sk)
        nl_socket_free(*sk);
}

/* Create and configure a NETLINK_ROUTE request socket in the current
 * namespace: extended ACKs with capped echoes (errors carry the kernel's
 * message, not our whole request) and 1 MiB buffers. */
static int request_socket_new(struct nl_sock **ret)
{
    /* One callback set for every request socket (each request clones its
     * own, see netns_request): a daemon holds a socket per pod namespace,
     * and libnl's default is a fresh 448-byte set per socket. */
    static struct nl_cb *shared;
    _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
    int one = 1, buf = NETNS_SOCK_BUF, r, fd;

    if (!shared && !(shared = nl_cb_alloc(NL_CB_DEFAULT)))
        return -ENOMEM;
    sk = nl_socket_alloc_cb(shared);
    if (!sk)
        return -ENOMEM;
    r = nl_connect(sk, NETLINK_ROUTE);
    if (r < 0)
        return netns_nl_errno(r);
    fd = nl_socket_get_fd(sk);
    /* Best effort: old kernels lack them, and nothing breaks without. */
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    /* As root, go past net.core.[rw]mem_max; otherwise ask within it. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) < 0) {
        r = nl_socket_set_buffer_size(sk, NETNS_SOCK_BUF, NETNS_SOCK_BUF);
        if (r < 0)
            return netns_nl_errno(r);
    }
    *ret = TAKE_PTR(sk);
    return 0;
}

/* Opens the namespace file, records its identity, and creates the request
 * socket inside it by switching this thread there and back. Failing to
 * switch back would leave every later write aimed at the wrong namespace,
 * so that (never expected) case aborts. Cost: a few syscalls. */
int netns_open(const char *path, struct netns **ret)
{
    _cleanup_close_ int fd = -1, self = -1;
    _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
    struct netns *ns;
    struct stat st;
    int r;

    fd = open(path ? path : NETNS_THREAD_SELF, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        return -errno;

    if (!path) {
        r = request_socket_new(&sk);
        if (r < 0)
            return r;
    } else {
        self = open(NETNS_THREAD_SELF, O_RDONLY | O_CLOEXEC);
        if (self < 0)
            return -errno;
        if (setns(fd, CLONE_NEWNET) < 0)
            return -errno; /* e.g. EINVAL: not a network namespace file */
        r = request_socket_new(&sk);
        if (setns(self, CLONE_NEWNET) < 0) {
            log_error(path, "cannot return to our own network namespace: %s",
                      strerror(errno));
            abort();
        }
        if (r < 0)
            return r;
    }

    ns = xcalloc(1, sizeof(*ns));
    ns->path = xstrdup(path ? path : NETNS_SELF);
    ns->node = !path;
    ns->fd = TAKE_FD(fd);
    ns->dev = st.st_dev;
    ns->ino = st.st_ino;
    ns->sk = TAKE_PTR(sk);
    *ret = ns;
    return 0;
}

void netns_free(struct netns *ns)
{
    if (!ns)
        return;
    if (ns->sk)
        nl_socket_free(ns->sk);
    if (ns->fd >= 0)
        close(ns->fd);
    free(ns->path);
    free(ns);
}

/* ---- request / answer ---------------------------------------------------- */

struct req_state {
    const uint32_t *seqs; /* sequence number of each request sent */
    size_t nsent;
    size_t answered;      /* requests that got their ACK, error or DONE */
    int error;            /* first failure, -errno */
    size_t failed;        /* its request index */
    char *kmsg;           /* its extended ACK text */
    bool interrupted;     /* a dump was marked inconsistent */
    int (*valid)(struct nl_msg *msg, void *arg);
    void *arg;
};

static ssize_t req_index(const struct req_state *st, uint32_t seq)
{
    for (size_t i = 0; i < st->nsent; i++)
        if (st->seqs[i] == seq)
            return (ssize_t)i;
    return -1;
}

/* Extended ACK attributes of an error or DONE message start at `attrs`. */
static char *extack_msg(const struct nlmsghdr *nlh, const void *attrs)
{
    const char *end = (const char *)nlh + nlh->nlmsg_len;
    const char *start = (const char *)attrs;
    struct nlattr *a;

    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || start >= end)
        return NULL;
    a = nla_find((struct nlattr *)start, (int)(end - start), NLMSGERR_ATTR_MSG);
    if (!a || nla_len(a) < 1)
        return NULL;
    return xstrndup(nla_data(a), (size_t)nla_len(a));
}

static void req_fail(struct req_state *st, uint32_t seq, int error, char *kmsg)
{
    if (st->error == 0) {
        ssize_t i = req_index(st, seq);
        st->error = error;
        st->failed = i < 0 ? 0 : (size_t)i;
        st->kmsg = kmsg;
    } else {
        free(kmsg);
    }
}

static int req_answered(struct req_state *st)
{
    st->answered++;
    return st->answered >= st->nsent ? NL_STOP : NL_OK;
}

/* Drop answers to requests that are not ours (left over from an earlier
 * exchange that ended early), instead of failing on a sequence mismatch. */
static int cb_seq(struct nl_msg *msg, void *arg)
{
    struct req_state *st = arg;
    return req_index(st, nlmsg_hdr(msg)->nlmsg_seq) < 0 ? NL_SKIP : NL_OK;
}

static int cb_valid(struct nl_msg *msg, void *arg)
{
    struct req_state *st = arg;
    return st->valid ? st->valid(msg, st->arg) : NL_OK;
}

static int cb_ack(struct nl_msg *msg, void *arg)
{
    (void)msg;
    return req_answered(arg);
}

/* NLMSG_DONE ends a dump; since 4.x it carries the dump's error code. */
static int cb_finish(struct nl_msg *msg, void *arg)
{
    struct req_state *st = arg;
    struct nlmsghdr *nlh = nlmsg_hdr(msg);

    if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
        int e = *(int *)nlmsg_data(nlh);
        if (e < 0)
            req_fail(st, nlh->nlmsg_seq, e,
                     extack_msg(nlh, (char *)nlmsg_data(nlh) + NLMSG_ALIGN(sizeof(int))));
    }
    return req_answered(st);
}

static int cb_dump_intr(struct nl_msg *msg, void *arg)
{
    struct req_state *st = arg;
    (void)msg;
    st->interrupted = true;
    return NL_OK; /* keep reading to the end of the dump */
}

/* libnl hands us only the nlmsgerr; the header sits right before it. */
static int cb_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
    struct req_state *st = arg;
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
    size_t hlen = sizeof(*e);
    (void)nla;

    if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
        hlen += e->msg.nlmsg_len - NLMSG_HDRLEN;
    req_fail(st, nlh->nlmsg_seq, e->error, extack_msg(nlh, (char *)e + NLMSG_ALIGN(hlen)));
    /* NL_SKIP: go on reading (other answers of the batch may follow);
     * libnl would otherwise turn the errno into a lossy -NLE_* code. */
    return req_answered(st) == NL_STOP ? NL_STOP : NL_SKIP;
}

static void nl_cb_putp(struct nl_cb **cb)
{
    if (*cb)
        nl_cb_put(*cb);
}

int netns_request(struct netns *ns, struct nl_msg **msgs, size_t n,
                  int (*valid)(struct nl_msg *msg, void *arg), void *arg,
                  size_t *ret_failed, char **ret_kmsg)
{
    _cleanup_(nl_cb_putp) struct nl_cb *cb = NULL;
    _cleanup_free_ uint32_t *seqs = NULL;
    struct req_state st = { .valid = valid, .arg = arg };
    int send_err = 0, r;

    if (n == 0)
        return 0;
    {
        struct nl_cb *base = nl_socket_get_cb(ns->sk); /* takes a reference */
        cb = nl_cb_clone(base);
        nl_cb_put(base);
    }
    if (!cb)
        return -ENOMEM;
    nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, cb_seq, &st);
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, cb_valid, &st);
    nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, cb_ack, &st);
    nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, cb_finish, &st);
    nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, cb_dump_intr, &st);
    nl_cb_err(cb, NL_CB_CUSTOM, cb_error, &st);

    seqs = xcalloc(n, sizeof(*seqs));
    st.seqs = seqs;
    for (size_t i = 0; i < n; i++) {
        r = nl_send_auto(ns->sk, msgs[i]); /* adds NLM_F_REQUEST|NLM_F_ACK, seq */
        if (r < 0) {
            send_err = netns_nl_errno(r);
            break;
        }
        seqs[i] = nlmsg_hdr(msgs[i])->nlmsg_seq;
        st.nsent++;
    }

    while (st.answered < st.nsent) {
        r = nl_recvmsgs(ns->sk, cb);
        if (r < 0) {
            /* Lost answers (overrun) or a broken socket: report it. */
            if (st.error == 0) {
                st.error = netns_nl_errno(r);
                st.failed = st.answered;
            }
            break;
        }
    }

    if (st.error == 0 && send_err) {
        st.error = send_err;
        st.failed = st.nsent;
    }
    if (st.error == 0 && st.interrupted)
        st.error = -EAGAIN;
    if (st.error < 0) {
        if (ret_failed)
            *ret_failed = st.failed;
        if (ret_kmsg)
            *ret_kmsg = TAKE_PTR(st.kmsg);
    }
    free(st.kmsg);
    return st.error;
}
