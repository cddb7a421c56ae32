-- 002: remember each object's plumbd/prune annotation, so that when the
-- object disappears plumbd still knows whether to undo what it did
-- (prune: 1) or to leave the kernel state and let go of it (prune: 0).
ALTER TABLE object_status ADD COLUMN prune INTEGER NOT NULL DEFAULT 1;
