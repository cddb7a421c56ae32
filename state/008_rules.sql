-- 008: policy routing rules plumbd added for a policy's route-rules.config
-- (issue 6). spec is the rule as compact JSON (family, from, to, priority
-- when the entry gave one, table, fwmark, fwmask, iif, action: journal.c's
-- rule_to_text), which is also the key: one row per rule, whoever asked
-- for it first owns it.
CREATE TABLE owned_rules (
    spec  TEXT PRIMARY KEY,
    owner TEXT NOT NULL
);
