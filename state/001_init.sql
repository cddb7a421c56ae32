-- 001_init.sql - the initial plumbd state schema.
-- Applied by store.c inside one transaction; afterwards PRAGMA user_version = 1.
-- Addresses are stored as text ("a/p" or "a") so the sqlite3 CLI shows them
-- readably; ipam_allocations.ipkey is the sortable binary form.

-- Kernel links plumbd created (created = 1: prune deletes them) or changed
-- (created = 0: before_* hold what to restore; before_master NULL = none,
-- before_alias NULL = none, before_stp -1/NULL = unknown).
CREATE TABLE owned_links (
    ifname        TEXT PRIMARY KEY,
    owner         TEXT NOT NULL,
    created       INTEGER NOT NULL,
    before_master TEXT,
    before_mtu    INTEGER,
    before_up     INTEGER,
    before_alias  TEXT,
    before_stp    INTEGER
);

-- Addresses plumbd added to node interfaces.
CREATE TABLE owned_addrs (
    ifname TEXT,
    family INTEGER,               -- AF_INET / AF_INET6
    addr   TEXT,                  -- "a/p"
    owner  TEXT NOT NULL,
    PRIMARY KEY (ifname, addr)
);

-- Pod attachments plumbd made.
CREATE TABLE attachments (
    owner   TEXT,                 -- "Pod/ns/name"
    pod_if  TEXT,
    host_if TEXT NOT NULL UNIQUE,
    bridge  TEXT,
    netns   TEXT,                 -- path
    network TEXT,                 -- IPAM pool key
    mac     TEXT,                 -- "xx:xx:xx:xx:xx:xx" or NULL
    addrs   TEXT,                 -- space-separated "a/p"
    PRIMARY KEY (owner, pod_if)
);

-- host-local IPAM allocations, one row per address in use.
CREATE TABLE ipam_allocations (
    network TEXT,
    ip      TEXT,                 -- address without prefix
    ipkey   BLOB,                 -- 17 bytes: family (4|6) + 16 address bytes
    prefix  INTEGER,
    owner   TEXT NOT NULL,
    ifname  TEXT NOT NULL,
    created INTEGER NOT NULL,     -- wall clock, seconds
    PRIMARY KEY (network, ipkey)
);
CREATE INDEX ipam_allocations_owner ON ipam_allocations (owner, ifname);

-- Per-object condition, mirrored to <state-dir>/status/.
CREATE TABLE object_status (
    id             TEXT PRIMARY KEY, -- "Kind/ns/name" or "Kind/name"
    kind           TEXT,
    ns             TEXT,
    name           TEXT,
    file           TEXT,
    rev            TEXT,
    condition      TEXT,             -- Available, Progressing, Failing, ...
    reason         TEXT,
    message        TEXT,
    since          INTEGER,          -- wall clock of the last transition
    network_status TEXT              -- pods: Multus network-status JSON
);

-- Cached snapshot of the node namespace (replaced as a whole).
CREATE TABLE live_links (
    ifindex INTEGER PRIMARY KEY,
    name    TEXT,
    kind    TEXT,
    master  INTEGER,
    mtu     INTEGER,
    flags   INTEGER,
    mac     TEXT,
    alias   TEXT
);
CREATE TABLE live_addrs (
    ifindex INTEGER,
    addr    TEXT,                 -- "a/p"
    PRIMARY KEY (ifindex, addr)
);

-- Journal: one generation per convergence pass (outcome NULL = unfinished),
-- its operations written before each kernel write.
CREATE TABLE generations (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    started INTEGER,
    ended   INTEGER,
    trigger TEXT,
    objects TEXT,
    nops    INTEGER,
    outcome TEXT
);
CREATE TABLE journal_ops (
    gen     INTEGER REFERENCES generations(id) ON DELETE CASCADE,
    seq     INTEGER,
    owner   TEXT,
    op      TEXT,
    inverse TEXT,
    state   TEXT,                 -- intent|done|undone|failed
    error   TEXT,
    PRIMARY KEY (gen, seq)
);
