-- 009: spec.capture results of NodeNetworkConfigurationPolicies (issue 6).
-- One row per policy: the document revision the captures were evaluated
-- for and their results (a JSON object, capture name -> captured state).
-- A pass reuses them while the policy's revision is the same, so a policy
-- that moved an address does not capture again against the state it made
-- (kubernetes-nmstate captures once per policy generation); a new revision
-- or `plumbd apply --recapture` evaluates again.
CREATE TABLE captures (
    policy  TEXT PRIMARY KEY,
    rev     TEXT NOT NULL,
    results TEXT NOT NULL,
    created INTEGER NOT NULL
);
