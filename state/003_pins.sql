-- 003: pinned revisions. A revision (content hash) of an object that was
-- rolled back - automatically after a failed op, verification or probe, or
-- by `plumbd rollback` - is not applied again until its file changes.
CREATE TABLE pins (
    owner     TEXT PRIMARY KEY,   -- object id
    rev       TEXT NOT NULL,      -- the pinned revision
    condition TEXT NOT NULL,      -- Failing or Aborted
    reason    TEXT NOT NULL,      -- FailedToConfigure, VerificationFailed, ProbeFailed, RolledBack
    message   TEXT,
    gen       INTEGER,            -- the generation that rolled it back
    created   INTEGER NOT NULL
);
-- Where the desired state came from when a generation ran (e.g. the
-- git-sync commit of the config dir), for history.
ALTER TABLE generations ADD COLUMN source TEXT;
-- When plumbd first saw each object: the older object wins a conflict.
ALTER TABLE object_status ADD COLUMN first_seen INTEGER;
-- Where the object's revision came from (e.g. a git-sync commit).
ALTER TABLE object_status ADD COLUMN source TEXT;
