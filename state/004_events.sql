-- 004: object condition transitions, for `plumbd events`. Recorded by
-- triggers, so every writer of object_status (daemon passes, `apply`,
-- `rollback`) produces them the same way. The newest 10000 are kept.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time      INTEGER NOT NULL,
    object    TEXT NOT NULL,
    condition TEXT,          -- the new condition; NULL when the object went away
    reason    TEXT,
    message   TEXT,
    previous  TEXT           -- the condition before; NULL for a new object
);
CREATE TRIGGER events_insert AFTER INSERT ON object_status BEGIN
    INSERT INTO events(time, object, condition, reason, message, previous)
    VALUES (new.since, new.id, new.condition, new.reason, new.message, NULL);
    DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - 10000;
END;
CREATE TRIGGER events_update AFTER UPDATE OF condition, reason ON object_status
WHEN old.condition IS NOT new.condition OR old.reason IS NOT new.reason BEGIN
    INSERT INTO events(time, object, condition, reason, message, previous)
    VALUES (new.since, new.id, new.condition, new.reason, new.message, old.condition);
    DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - 10000;
END;
CREATE TRIGGER events_delete AFTER DELETE ON object_status BEGIN
    INSERT INTO events(time, object, condition, reason, message, previous)
    VALUES (strftime('%s', 'now'), old.id, NULL, 'Removed', 'the object is no longer desired',
            old.condition);
END;
