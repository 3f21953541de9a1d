-- The audit log: append-only, hash-chained (crates/access/src/audit.rs gives the hash).
-- `project` names a project when there is one; projects get their own tables in a later
-- migration.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY CHECK (seq > 0),
    time TEXT NOT NULL,
    account TEXT,
    project TEXT,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'refused', 'failed')),
    reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);

-- Entries are never changed or removed. Someone with direct access to the file can drop
-- these triggers: the hash chain is what shows it (`aim audit verify`).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries are never changed');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries are never removed');
END;
