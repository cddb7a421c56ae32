/* test_store.c - unit tests of store.c against a real SQLite database in a
 * throwaway state directory: open/migrate/reopen, inventory round trips,
 * IPAM conflicts, status `since` handling, journal and history, read-only
 * and version errors, transactions and the live cache.
 *
 * The test (not plumbd) opens the database directly with sqlite3 to look at
 * and tamper with it (user_version, since, row counts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/stat.h>

#include "embedded.h"
#include "store.h"

struct fixture {
    char root[64]; /* mkdtemp */
    char dir[128]; /* root/state (does not exist before store_open) */
    char db[160];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->root, sizeof(f->root), "/tmp/plumbd-test-store-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s/state/sub", f->root);
    snprintf(f->db, sizeof(f->db), "%s/plumbd.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static struct store *open_rw(struct fixture *f)
{
    struct store *s = NULL;
    assert_int_equal(store_open(f->dir, false, &s), 0);
    assert_non_null(s);
    return s;
}

/* Run SQL directly on the database file; returns the first column of the
 * first row as an integer (or 0 when there is none). */
static long long sql_int(struct fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = 0;
    int rc;

    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        assert_int_equal(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int nmigrations(void)
{
    int n = 0;
    while (embedded_migrations[n].name)
        n++;
    return n;
}

static struct ipaddr P(const char *s)
{
    struct ipaddr a;
    assert_int_equal(ipaddr_parse(s, -1, &a), 0);
    return a;
}

static void test_open_migrate_reopen(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    struct store *s;

    s = open_rw(f);
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    store_close(s);
    assert_true(nmigrations() >= 1);
    assert_int_equal(sql_int(f, "PRAGMA user_version"), nmigrations());
    assert_int_equal(sql_int(f, "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                                "name IN ('owned_links','owned_addrs','attachments',"
                                "'ipam_allocations','object_status','live_links','live_addrs',"
                                "'generations','journal_ops')"),
                     9);

    /* reopening is idempotent: nothing re-applied, data kept */
    s = open_rw(f);
    assert_int_equal(store_link_put(s, &(struct owned_link){.owner = "P/x", .ifname = "br-1",
                                                            .created = true}),
                     0);
    store_close(s);
    s = open_rw(f);
    store_close(s);
    assert_int_equal(sql_int(f, "PRAGMA user_version"), nmigrations());
    assert_int_equal(sql_int(f, "SELECT count(*) FROM owned_links"), 1);

    /* the journal mode sticks to the file */
    {
        sqlite3 *db;
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
}

/* A database left at every earlier schema version (with a row written at
 * that version) migrates to the newest on open and keeps its data. */
static void test_migrate_from_every_version(void **state)
{
    struct fixture *f = *state;
    int n = nmigrations();
    for (int k = 1; k < n; k++) {
        sqlite3 *db = NULL;
        char side[600];
        assert_int_equal(mkdir_p(f->dir, 0700), 0);
        unlink(f->db);
        snprintf(side, sizeof(side), "%s-wal", f->db);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", f->db);
        unlink(side);
        assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
        for (int i = 0; i < k; i++)
            assert_int_equal(sqlite3_exec(db, embedded_migrations[i].data, NULL, NULL, NULL),
                             SQLITE_OK);
        char *v = sqlite3_mprintf("PRAGMA user_version = %d", k);
        assert_int_equal(sqlite3_exec(db, v, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_free(v);
        /* data written at version k */
        assert_int_equal(sqlite3_exec(db,
                                      "INSERT INTO ipam_allocations(network, ip, ipkey, prefix,"
                                      " owner, ifname, created) VALUES('n', '10.0.0.2',"
                                      " x'020a000002', 24, 'Pod/default/a', 'net1', 1)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);

        struct store *s = open_rw(f);
        assert_int_equal(sql_int(f, "PRAGMA user_version"), n);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_allocations"), 1);
        /* 005: the allocation counts as the network's newest reservation */
        assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_reserved WHERE network = 'n'"
                                    " AND ip = '10.0.0.2'"), 1);
        struct pin pin = {.owner = "Pod/default/a", .rev = "0123456789abcdef",
                          .cond = COND_ABORTED, .reason = "RolledBack", .message = "m"};
        assert_int_equal(store_pin_put(s, &pin), 0); /* a table of the newest schema */
        /* 007: owned routes round trip through the inventory */
        struct nm_route rt = {.family = AF_INET, .has_dst = true, .has_gw = true,
                              .has_metric = true, .has_table = true, .metric = 150,
                              .table = 100, .type = 1 /* RTN_UNICAST */};
        assert_int_equal(ipaddr_parse("198.51.100.0/24", -1, &rt.dst), 0);
        assert_int_equal(ipaddr_parse("192.0.2.2", -1, &rt.gw), 0);
        snprintf(rt.ifname, sizeof(rt.ifname), "ens19");
        assert_int_equal(store_route_put(s, "NodeNetworkConfigurationPolicy/r", &rt), 0);
        struct inventory inv = {0};
        assert_int_equal(store_inventory_load(s, &inv), 0);
        assert_int_equal(inv.nroutes, 1);
        assert_string_equal(inv.routes[0].owner, "NodeNetworkConfigurationPolicy/r");
        assert_true(route_spec_equal(&inv.routes[0].rt, &rt));
        inventory_free(&inv);
        assert_int_equal(store_route_forget(s, &rt), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM owned_routes"), 0);
        /* 008: owned rules round trip through the inventory */
        struct nm_rule ru = {.family = AF_INET6, .has_from = true, .has_priority = true,
                             .priority = 1000, .has_table = true, .table = 100,
                             .has_fwmark = true, .has_fwmask = true, .fwmark = 0x10,
                             .fwmask = 0xffffffffU, .action = 1 /* FR_ACT_TO_TBL */};
        assert_int_equal(ipaddr_parse("2001:db8:5::/64", -1, &ru.from), 0);
        snprintf(ru.iif, sizeof(ru.iif), "ens19");
        assert_int_equal(store_rule_put(s, "NodeNetworkConfigurationPolicy/r", &ru), 0);
        inv = (struct inventory){0};
        assert_int_equal(store_inventory_load(s, &inv), 0);
        assert_int_equal(inv.nrules, 1);
        assert_string_equal(inv.rules[0].owner, "NodeNetworkConfigurationPolicy/r");
        assert_true(rule_spec_equal(&inv.rules[0].rule, &ru));
        inventory_free(&inv);
        assert_int_equal(store_rule_forget(s, &ru), 0);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM owned_rules"), 0);
        store_close(s);
    }
}

/* Migrations are numbered 001, 002, ... with no gap, so user_version (the
 * count applied) is also the number of the last one. */
static void test_migration_names(void **state)
{
    (void)state;
    for (int i = 0; embedded_migrations[i].name; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%03d_", i + 1);
        assert_memory_equal(embedded_migrations[i].name, want, 4);
        assert_non_null(strstr(embedded_migrations[i].name, ".sql"));
    }
}

static void test_readonly(void **state)
{
    struct fixture *f = *state;
    struct store *s = (struct store *)0x1, *ro = NULL;
    struct objstatus *v = NULL;
    size_t n = 99;

    assert_int_equal(store_open(f->dir, true, &s), -ENOENT);
    assert_ptr_equal(s, (struct store *)0x1); /* untouched */
    assert_int_equal(access(f->dir, F_OK), -1); /* read-only creates nothing */

    s = open_rw(f);
    assert_int_equal(store_status_put(s, &(struct objstatus){.id = "Pod/a/b", .kind = OBJ_POD,
                                                             .cond = COND_AVAILABLE}),
                     0);
    assert_int_equal(store_open(f->dir, true, &ro), 0); /* while the daemon has it open */
    assert_int_equal(store_status_list(ro, &v, &n), 0);
    assert_int_equal(n, 1);
    objstatus_list_free(v, n);
    assert_int_equal(store_status_delete(ro, "Pod/a/b"), -EROFS);
    store_close(ro);
    store_close(s);

    /* and after the daemon is gone (WAL files checkpointed away) */
    assert_int_equal(store_open(f->dir, true, &ro), 0);
    assert_int_equal(store_status_list(ro, &v, &n), 0);
    assert_int_equal(n, 1);
    objstatus_list_free(v, n);
    store_close(ro);
}

static void test_future_version(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);

    store_close(s);
    sql_int(f, "PRAGMA user_version = 999");
    s = (struct store *)0x1;
    assert_int_equal(store_open(f->dir, false, &s), -EPROTO);
    assert_int_equal(store_open(f->dir, true, &s), -EPROTO);
    assert_ptr_equal(s, (struct store *)0x1);
    assert_int_equal(sql_int(f, "PRAGMA user_version"), 999); /* not touched */
}

static void test_not_a_database(void **state)
{
    struct fixture *f = *state;
    struct store *s = NULL;
    FILE *fp;

    store_close(open_rw(f));
    fp = fopen(f->db, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not an sqlite database, ", fp);
    fclose(fp);
    assert_int_equal(store_open(f->dir, false, &s), -EUCLEAN);
    assert_null(s);
}

static void test_inventory_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    struct inventory inv = {0};
    struct ipaddr pod_addrs[] = {P("192.168.255.100/24"), P("fd00::64/64")};

    assert_int_equal(store_link_put(s, &(struct owned_link){.owner = "NNCP/br", .ifname = "br-1",
                                                            .created = true}),
                     0);
    assert_int_equal(store_link_put(s, &(struct owned_link){.owner = "NNCP/br",
                                                            .ifname = "ens19",
                                                            .before_master = "",
                                                            .before_mtu = 1500,
                                                            .before_up = true,
                                                            .before_alias = "uplink",
                                                            .before_stp = -1}),
                     0);
    assert_int_equal(store_addr_put(s, &(struct owned_addr){.owner = "NNCP/br", .ifname = "br-1",
                                                            .addr = P("10.9.0.1/24")}),
                     0);
    assert_int_equal(store_addr_put(s, &(struct owned_addr){.owner = "NNCP/br", .ifname = "br-1",
                                                            .addr = P("10.8.0.1/24")}),
                     0);
    assert_int_equal(store_attach_put(s, &(struct owned_attach){
                                             .owner = "Pod/default/multus-demo",
                                             .pod_if = "net1",
                                             .host_if = "pl0123456789ab",
                                             .bridge = "br-1",
                                             .netns = "/run/netns/multus-demo",
                                             .network = "linux-bridge-br-1",
                                             .mac = {0xc2, 0xb0, 0x57, 0x49, 0x47, 0xf1},
                                             .addrs = pod_addrs,
                                             .naddrs = 2}),
                     0);
    /* host_if is unique across attachments */
    assert_int_equal(store_attach_put(s, &(struct owned_attach){.owner = "Pod/default/other",
                                                                .pod_if = "net1",
                                                                .host_if = "pl0123456789ab"}),
                     -EEXIST);

    assert_int_equal(store_inventory_load(s, &inv), 0);
    assert_int_equal(inv.nlinks, 2);
    assert_string_equal(inv.links[0].ifname, "br-1");
    assert_true(inv.links[0].created);
    assert_string_equal(inv.links[0].owner, "NNCP/br");
    assert_string_equal(inv.links[1].ifname, "ens19");
    assert_false(inv.links[1].created);
    assert_string_equal(inv.links[1].before_master, "");
    assert_int_equal(inv.links[1].before_mtu, 1500);
    assert_true(inv.links[1].before_up);
    assert_string_equal(inv.links[1].before_alias, "uplink");
    assert_int_equal(inv.links[1].before_stp, -1);
    assert_int_equal(inv.naddrs, 2);
    assert_true(ipaddr_equal(&inv.addrs[0].addr, &(struct ipaddr){0}) == false);
    assert_string_equal(inv.addrs[0].ifname, "br-1");
    assert_int_equal(inv.nattach, 1);
    assert_string_equal(inv.attach[0].host_if, "pl0123456789ab");
    assert_string_equal(inv.attach[0].bridge, "br-1");
    assert_string_equal(inv.attach[0].netns, "/run/netns/multus-demo");
    assert_string_equal(inv.attach[0].network, "linux-bridge-br-1");
    assert_memory_equal(inv.attach[0].mac, ((uint8_t[]){0xc2, 0xb0, 0x57, 0x49, 0x47, 0xf1}), 6);
    assert_int_equal(inv.attach[0].naddrs, 2);
    assert_true(ipaddr_equal(&inv.attach[0].addrs[0], &pod_addrs[0]));
    assert_true(ipaddr_equal(&inv.attach[0].addrs[1], &pod_addrs[1]));
    inventory_free(&inv);
    assert_int_equal(inv.nlinks, 0);

    /* upsert replaces the before-image */
    assert_int_equal(store_link_put(s, &(struct owned_link){.owner = "NNCP/br2",
                                                            .ifname = "ens19",
                                                            .before_master = "br-0",
                                                            .before_stp = 1}),
                     0);
    /* forget */
    assert_int_equal(store_link_forget(s, "br-1"), 0);
    assert_int_equal(store_link_forget(s, "nope"), 0);
    struct ipaddr a = P("10.9.0.1/24");
    assert_int_equal(store_addr_forget(s, "br-1", &a), 0);
    assert_int_equal(store_attach_forget(s, "Pod/default/multus-demo", "net1"), 0);

    assert_int_equal(store_inventory_load(s, &inv), 0);
    assert_int_equal(inv.nlinks, 1);
    assert_string_equal(inv.links[0].owner, "NNCP/br2");
    assert_string_equal(inv.links[0].before_master, "br-0");
    assert_null(inv.links[0].before_alias);
    assert_false(inv.links[0].before_up);
    assert_int_equal(inv.links[0].before_stp, 1);
    assert_int_equal(inv.naddrs, 1);
    char buf[64];
    assert_string_equal(ipaddr_format(&inv.addrs[0].addr, true, buf, sizeof(buf)), "10.8.0.1/24");
    assert_int_equal(inv.nattach, 0);
    inventory_free(&inv);
    store_close(s);
}

static struct allocation A(const char *net, const char *ip, const char *owner, const char *ifn)
{
    struct allocation a = {.network = (char *)net, .ip = P(ip), .owner = (char *)owner};
    snprintf(a.ifname, sizeof(a.ifname), "%s", ifn);
    return a;
}

static void test_alloc(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    struct inventory inv = {0};
    char buf[64];
    struct allocation a;

    a = A("n1", "192.168.255.10/24", "Pod/d/a", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0);
    assert_int_equal(store_alloc_put(s, &a), 0); /* idempotent */
    a = A("n1", "192.168.255.10/24", "Pod/d/b", "net1");
    assert_int_equal(store_alloc_put(s, &a), -EEXIST); /* someone else's */
    a = A("n1", "192.168.255.10/24", "Pod/d/a", "net2");
    assert_int_equal(store_alloc_put(s, &a), -EEXIST); /* same pod, other interface */
    a = A("n2", "192.168.255.10/24", "Pod/d/b", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0); /* another network */
    a = A("n1", "192.168.255.9/24", "Pod/d/a", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0);
    a = A("n1", "fd00::5/64", "Pod/d/a", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0);
    a = A("n1", "192.168.255.100/24", "Pod/d/c", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_allocations"), 5);

    assert_int_equal(store_inventory_load(s, &inv), 0);
    assert_int_equal(inv.nallocs, 5);
    /* by network, then numerically (not as text), IPv4 before IPv6 */
    const char *want[][3] = {
        {"n1", "192.168.255.9/24", "Pod/d/a"},  {"n1", "192.168.255.10/24", "Pod/d/a"},
        {"n1", "192.168.255.100/24", "Pod/d/c"}, {"n1", "fd00::5/64", "Pod/d/a"},
        {"n2", "192.168.255.10/24", "Pod/d/b"},
    };
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(inv.allocs[i].network, want[i][0]);
        assert_string_equal(ipaddr_format(&inv.allocs[i].ip, true, buf, sizeof(buf)), want[i][1]);
        assert_string_equal(inv.allocs[i].owner, want[i][2]);
        assert_string_equal(inv.allocs[i].ifname, "net1");
    }
    inventory_free(&inv);

    /* release drops every address of owner+ifname, nothing else */
    assert_int_equal(store_alloc_release(s, "Pod/d/a", "net1"), 0);
    assert_int_equal(store_alloc_release(s, "Pod/d/a", "net1"), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_allocations"), 2);
    a = A("n1", "192.168.255.10/24", "Pod/d/b", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0); /* free again */
    store_close(s);
}

/* host-local's last_reserved_ip (005): every new allocation is a
 * reservation, oldest first per network in the inventory; it outlives the
 * release; re-recording an allocation already held moves nothing; the
 * newest 64 per network are kept. */
static void test_alloc_reserved(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    struct inventory inv = {0};
    char buf[64];
    struct allocation a;

    a = A("n1", "10.0.0.7/24", "Pod/d/a", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0);
    a = A("n1", "10.0.0.3/24", "Pod/d/b", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0);
    a = A("n2", "fd00::9/64", "Pod/d/b", "net2");
    assert_int_equal(store_alloc_put(s, &a), 0);
    a = A("n1", "10.0.0.7/24", "Pod/d/a", "net1");
    assert_int_equal(store_alloc_put(s, &a), 0); /* re-recorded: not newer */
    assert_int_equal(store_alloc_release(s, "Pod/d/b", "net1"), 0);
    assert_int_equal(store_inventory_load(s, &inv), 0);
    assert_int_equal(inv.nreserved, 3);
    const char *want[][2] = {{"n1", "10.0.0.7"}, {"n1", "10.0.0.3"}, {"n2", "fd00::9"}};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(inv.reserved[i].network, want[i][0]);
        assert_string_equal(ipaddr_format(&inv.reserved[i].ip, false, buf, sizeof(buf)),
                            want[i][1]);
    }
    inventory_free(&inv);
    for (int i = 0; i < 100; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.1.0.%d/24", i + 1);
        a = A("n3", ip, "Pod/d/c", "net1");
        assert_int_equal(store_alloc_put(s, &a), 0);
    }
    assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_reserved WHERE network = 'n3'"), 64);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_reserved WHERE network = 'n3'"
                                " AND ip = '10.1.0.100'"), 1);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_reserved WHERE network = 'n1'"), 2);
    store_close(s);
}

static void test_status(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    struct objstatus *v = NULL;
    size_t n = 0;
    struct objstatus st = {.id = "Pod/default/multus-demo",
                           .kind = OBJ_POD,
                           .ns = "default",
                           .name = "multus-demo",
                           .file = "/etc/plumbd/pod.yaml",
                           .rev = "0123456789abcdef",
                           .cond = COND_PENDING,
                           .reason = "NetnsMissing",
                           .message = "waiting",
                           .since = 42};

    assert_int_equal(store_status_put(s, &st), 0);
    assert_true(sql_int(f, "SELECT since FROM object_status") > 1000000000); /* now, not 42 */
    sql_int(f, "UPDATE object_status SET since = 1000");

    /* same condition and reason: since kept, other fields updated */
    st.message = "still waiting";
    st.network_status = "[{\"name\":\"x\"}]";
    assert_int_equal(store_status_put(s, &st), 0);
    assert_int_equal(sql_int(f, "SELECT since FROM object_status"), 1000);
    assert_int_equal(store_status_list(s, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].message, "still waiting");
    assert_string_equal(v[0].network_status, "[{\"name\":\"x\"}]");
    assert_string_equal(v[0].rev, "0123456789abcdef");
    assert_int_equal(v[0].cond, COND_PENDING);
    assert_int_equal(v[0].kind, OBJ_POD);
    assert_int_equal(v[0].since, 1000);
    objstatus_list_free(v, n);

    /* reason changes: since moves */
    st.reason = "Other";
    assert_int_equal(store_status_put(s, &st), 0);
    assert_true(sql_int(f, "SELECT since FROM object_status") > 1000000000);
    sql_int(f, "UPDATE object_status SET since = 1000");
    /* condition changes: since moves */
    st.cond = COND_AVAILABLE;
    assert_int_equal(store_status_put(s, &st), 0);
    assert_true(sql_int(f, "SELECT since FROM object_status") > 1000000000);

    /* list order: kind, ns, name */
    assert_int_equal(store_status_put(s, &(struct objstatus){.id = "Pod/a/z", .kind = OBJ_POD,
                                                             .ns = "a", .name = "z"}),
                     0);
    assert_int_equal(store_status_put(s, &(struct objstatus){.id = "NAD/z/a", .kind = OBJ_NAD,
                                                             .ns = "z", .name = "a",
                                                             .cond = COND_FAILING}),
                     0);
    assert_int_equal(store_status_list(s, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].id, "NAD/z/a"); /* "NetworkAttachmentDefinition" < "Pod" */
    assert_int_equal(v[0].cond, COND_FAILING);
    assert_string_equal(v[1].id, "Pod/a/z");
    assert_string_equal(v[2].id, "Pod/default/multus-demo");
    objstatus_list_free(v, n);

    assert_int_equal(store_status_delete(s, "Pod/a/z"), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM object_status"), 2);
    assert_int_equal(store_status_put(s, &(struct objstatus){.id = "x", .cond = _COND_MAX}),
                     -EINVAL);
    store_close(s);
}

/* Trimming keeps the newest `keep` generations, the newest done generation
 * of each owner and the newest resolv.conf record; without any resolv.conf
 * record (no DNS op ever), the rest still goes. */
static void test_gen_trim(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    int64_t g[12];

    for (int i = 0; i < 12; i++) {
        assert_int_equal(store_gen_begin(s, TRIG_FILE, "x", &g[i]), 0);
        /* gen 0 is the only one of owner "old"; the others are "pod" */
        assert_int_equal(store_op_intent(s, g[i], 0, i == 0 ? "old" : "pod", "{}", "{}"), 0);
        assert_int_equal(store_op_state(s, g[i], 0, OPST_DONE, NULL), 0);
        assert_int_equal(store_gen_end(s, g[i], "applied", 1), 0);
    }
    assert_int_equal(store_gen_trim(s, 3), 0);
    store_close(s);
    /* kept: "old"'s only generation, and the newest 3 (g[9..11]; g[8] is
     * max - 3 and goes) */
    assert_int_equal(sql_int(f, "SELECT count(*) FROM generations"), 4);
    char q[128];
    snprintf(q, sizeof(q), "SELECT count(*) FROM generations WHERE id IN (%lld, %lld, %lld, %lld)",
             (long long)g[0], (long long)g[9], (long long)g[10], (long long)g[11]);
    assert_int_equal(sql_int(f, q), 4);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM journal_ops"), 4); /* cascaded */

    /* a resolv.conf record that is not its owner's newest still stays */
    s = open_rw(f);
    int64_t d[8];
    for (int i = 0; i < 8; i++) {
        assert_int_equal(store_gen_begin(s, TRIG_FILE, "x", &d[i]), 0);
        assert_int_equal(store_op_intent(s, d[i], 0, "pod",
                                         i == 0 ? "{\"dns\":{\"holder\":null}}" : "{}", "{}"),
                         0);
        assert_int_equal(store_op_state(s, d[i], 0, OPST_DONE, NULL), 0);
        assert_int_equal(store_gen_end(s, d[i], "applied", 1), 0);
    }
    assert_int_equal(store_gen_trim(s, 3), 0);
    store_close(s);
    snprintf(q, sizeof(q), "SELECT count(*) FROM generations WHERE id = %lld", (long long)d[0]);
    assert_int_equal(sql_int(f, q), 1);
    snprintf(q, sizeof(q), "SELECT count(*) FROM generations WHERE id = %lld", (long long)d[1]);
    assert_int_equal(sql_int(f, q), 0);
}

static void test_journal(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    struct gen_row *g = NULL;
    struct op_row *o = NULL;
    size_t n = 0;
    int64_t g1, g2, g3, u = -1;

    assert_int_equal(store_gen_unfinished(s, &u), -ENOENT);
    assert_int_equal(store_gen_begin(s, TRIG_START, "a", &g1), 0);
    assert_int_equal(store_op_intent(s, g1, 0, "NNCP/x", "bridge-add br-1", "link-del br-1"), 0);
    assert_int_equal(store_op_intent(s, g1, 0, "NNCP/x", "dup", "dup"), -EEXIST);
    assert_int_equal(store_op_intent(s, g1, 1, "NNCP/x", "link-set ens19 master=br-1",
                                     "link-set ens19 nomaster"),
                     0);
    assert_int_equal(store_op_state(s, g1, 0, OPST_DONE, NULL), 0);
    assert_int_equal(store_op_state(s, g1, 1, OPST_FAILED, "EBUSY"), 0);
    assert_int_equal(store_op_state(s, g1, 7, OPST_DONE, NULL), -ENOENT);
    assert_int_equal(store_op_intent(s, 999, 0, "x", "y", "z"), -EINVAL); /* no such gen */
    assert_int_equal(store_gen_end(s, g1, "aborted", 2), 0);
    assert_int_equal(store_gen_end(s, 999, "x", 0), -ENOENT);
    assert_int_equal(store_gen_begin(s, TRIG_FILE, "b", &g2), 0);
    assert_int_equal(store_gen_end(s, g2, "ok", 0), 0);
    assert_int_equal(store_gen_begin(s, TRIG_DRIFT, "c", &g3), 0); /* left unfinished */
    assert_true(g1 < g2 && g2 < g3);

    assert_int_equal(store_gen_unfinished(s, &u), 0);
    assert_int_equal(u, g3);

    assert_int_equal(store_history(s, 2, &g, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(g[0].id, g3);
    assert_string_equal(g[0].trigger, "drift");
    assert_null(g[0].outcome);
    assert_int_equal(g[0].ended, 0);
    assert_int_equal(g[1].id, g2);
    assert_string_equal(g[1].outcome, "ok");
    gen_rows_free(g, n);
    assert_int_equal(store_history(s, 0, &g, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(g[2].id, g1);
    assert_string_equal(g[2].trigger, "start");
    assert_string_equal(g[2].objects, "a");
    assert_int_equal(g[2].nops, 2);
    assert_true(g[2].started > 0 && g[2].ended >= g[2].started);
    gen_rows_free(g, n);

    assert_int_equal(store_gen_ops(s, g1, &o, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(o[0].seq, 0);
    assert_int_equal(o[0].state, OPST_DONE);
    assert_string_equal(o[0].inverse, "link-del br-1");
    assert_null(o[0].error);
    assert_int_equal(o[1].state, OPST_FAILED);
    assert_string_equal(o[1].error, "EBUSY");
    op_rows_free(o, n);

    store_close(s);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM journal_ops"), 2);

    assert_string_equal(gen_trigger_to_string(TRIG_RESYNC), "resync");
    assert_string_equal(gen_trigger_to_string(TRIG_ROLLBACK), "rollback");
    assert_string_equal(gen_trigger_to_string(TRIG_MANUAL), "manual");
    assert_string_equal(op_state_to_string(OPST_UNDONE), "undone");
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    struct allocation a = A("n1", "10.0.0.5/24", "Pod/d/a", "net1");

    assert_int_equal(store_commit(s), -EINVAL);
    assert_int_equal(store_rollback(s), 0);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_begin(s), -EBUSY);
    assert_int_equal(store_alloc_put(s, &a), 0);
    assert_int_equal(store_rollback(s), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_allocations"), 0);

    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_alloc_put(s, &a), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM ipam_allocations"), 1);
    store_close(s);
}

static void test_live_put(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    struct live_link links[] = {
        {.ifindex = 1, .name = "lo", .mtu = 65536, .flags = 9},
        {.ifindex = 5, .name = "br-1", .kind = "bridge", .mtu = 1500, .has_mac = true,
         .mac = {2, 0, 0, 0, 0, 1}, .alias = "desc"},
        {.ifindex = 5, .name = "br-1", .kind = "bridge"}, /* per-family duplicate */
    };
    struct live_addr addrs[] = {
        {.ifindex = 1, .addr = P("127.0.0.1/8")},
        {.ifindex = 5, .addr = P("192.168.255.1/24")},
    };
    struct live_ns l = {.links = links, .nlinks = 3, .addrs = addrs, .naddrs = 2};

    assert_int_equal(store_live_put(s, &l), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM live_links"), 2);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM live_addrs"), 2);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM live_addrs WHERE addr='192.168.255.1/24'"), 1);

    l.nlinks = 1;
    l.naddrs = 1;
    assert_int_equal(store_begin(s), 0); /* also inside the caller's transaction */
    assert_int_equal(store_live_put(s, &l), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM live_links"), 1);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM live_addrs"), 1);
    store_close(s);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* One commit that rewrites the live tables (a few log pages). */
static void put_links(struct store *s, int round)
{
    struct live_link links[8];
    memset(links, 0, sizeof(links));
    for (int i = 0; i < 8; i++) {
        links[i].ifindex = i + 1;
        snprintf(links[i].name, sizeof(links[i].name), "veth%d", i);
        links[i].mtu = (unsigned)(1500 + round);
    }
    struct live_ns l = {.links = links, .nlinks = 8};
    assert_int_equal(store_live_put(s, &l), 0);
}

/* The daemon's checkpoints: a commit only counts the log's pages; the log
 * is copied back by store_checkpoint, or by a commit once it reached four
 * times the threshold. */
static void test_deferred_checkpoints(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_rw(f);
    char wal[200];
    int k;
    snprintf(wal, sizeof(wal), "%s-wal", f->db);
    const long page = (long)sql_int(f, "PRAGMA page_size"); /* a log frame: a page + 24 */
    assert_true(page >= 512);

    assert_false(store_checkpoint_due(s)); /* not deferred: SQLite's own */
    store_defer_checkpoints(s, 32);
    store_checkpoint(s); /* the migrations' pages: the log starts over */
    for (k = 0; k < 200 && !store_checkpoint_due(s); k++)
        put_links(s, k);
    assert_true(store_checkpoint_due(s));
    assert_true(k > 1); /* one commit is not 32 pages */
    assert_true(file_size(wal) >= 32 * page); /* nothing copied back yet */

    store_checkpoint(s);
    assert_false(store_checkpoint_due(s));
    put_links(s, 1000); /* the log starts over: one commit's pages */
    assert_false(store_checkpoint_due(s));

    /* Never a checkpoint between commits: the log stops growing at four
     * times the threshold (plus a commit) instead of holding all of them. */
    for (k = 0; k < 40 * 32; k++)
        put_links(s, 2000 + k);
    assert_true(file_size(wal) < 6 * 32 * (page + 24) + 32);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM live_links"), 8);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_migrate_reopen, setup, teardown),
        cmocka_unit_test(test_migration_names),
        cmocka_unit_test_setup_teardown(test_migrate_from_every_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_future_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inventory_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_reserved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gen_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_checkpoints, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
