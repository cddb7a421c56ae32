-- 006: routes plumbd added for a policy's routes.config (issue 6). spec is
-- the route as compact JSON (family, dst, dev, gw, src, metric, table,
-- type: journal.c's route_to_text), which is also the key: one row per
-- kernel route, whoever asked for it first owns it.
CREATE TABLE owned_routes (
    spec  TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
