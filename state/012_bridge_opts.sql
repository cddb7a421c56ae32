-- 012: before-images of bridge options and bridge port options (issue 6,
-- nmstate linux-bridge options). A bridge or port plumbd adopted (did not
-- create) gets the values it changes recorded here, so prune and undo put
-- them back. JSON in kernel units, as journal.c writes them:
-- {"br": {"forward_delay": 1500, ...}, "port": {"cost": 100, ...}};
-- NULL when there was nothing to record.
ALTER TABLE owned_links ADD COLUMN before_opts TEXT;
