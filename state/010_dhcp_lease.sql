-- 010: DHCPv4 leases of the built-in client (issue 6). One row per
-- interface whose policy asks for ipv4.dhcp: the lease is desired state
-- owned by that policy (address, routes, DNS), kept across restarts so a
-- restarted daemon asks for the same address (INIT-REBOOT) instead of
-- discovering again. Addresses are text ("a.b.c.d", the address with
-- "/prefix"); dns is space-separated; routes are "dst/plen gw" joined by
-- commas (option 121); times: lease_s/t1/t2 in seconds from acquired_at
-- (wall clock, milliseconds).
CREATE TABLE dhcp_lease (
    ifname      TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    mac         TEXT,
    address     TEXT NOT NULL,
    router      TEXT,
    dns         TEXT,
    domain      TEXT,
    routes      TEXT,
    server_id   TEXT,
    lease_s     INTEGER,
    t1          INTEGER,
    t2          INTEGER,
    acquired_at INTEGER,
    xid         INTEGER
);

-- An address plumbd added for a lease (dynamic = 1) goes when the lease
-- goes, even where the policy's address list is omitted (which keeps the
-- static ones).
ALTER TABLE owned_addrs ADD COLUMN dynamic INTEGER NOT NULL DEFAULT 0;
