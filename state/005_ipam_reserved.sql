-- 005: host-local's last_reserved_ip. Every new IPAM allocation is also
-- recorded here, by a trigger (so every writer does it the same way), with
-- a per-network sequence number; a row outlives the allocation's release.
-- The planner picks the next address after the newest reservation of the
-- NAD's range set, wrapping around, like host-local (round-robin rather
-- than lowest-free). The newest 64 reservations per network are kept:
-- enough for every range set of a network, which are picked in lockstep.
-- Re-recording an allocation a holder already has (the upsert's update
-- path) fires no INSERT trigger and moves nothing.
CREATE TABLE ipam_reserved (
    network TEXT NOT NULL,
    ipkey   BLOB NOT NULL,        -- as ipam_allocations.ipkey
    ip      TEXT NOT NULL,        -- address without prefix
    seq     INTEGER NOT NULL,     -- per network, grows with every reservation
    PRIMARY KEY (network, ipkey)
);
CREATE INDEX ipam_reserved_seq ON ipam_reserved (network, seq);
-- What is allocated when this migration runs counts as reserved, in the
-- order it was allocated.
INSERT INTO ipam_reserved(network, ipkey, ip, seq)
    SELECT network, ipkey, ip, rowid FROM ipam_allocations;
CREATE TRIGGER ipam_reserved_insert AFTER INSERT ON ipam_allocations BEGIN
    INSERT OR REPLACE INTO ipam_reserved(network, ipkey, ip, seq)
    VALUES (new.network, new.ipkey, new.ip,
            coalesce((SELECT max(seq) FROM ipam_reserved WHERE network = new.network), 0) + 1);
    DELETE FROM ipam_reserved WHERE network = new.network AND seq <
        (SELECT seq FROM ipam_reserved WHERE network = new.network
         ORDER BY seq DESC LIMIT 1 OFFSET 63);
END;
