-- The audit log: append-only, hash-chained (crates/access/src/audit.rs gives the hash).
-- `project` names a project when there is one; projects get their own tables in a later
-- migration.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY CHECK (seq > 0),
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

-- Entries are never changed or removed. A database owner can drop this trigger: the hash
-- chain is what shows it (`aim audit verify`).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: entries are never changed or removed';
END;
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
