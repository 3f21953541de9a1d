-- Projects (docs/projects.md): the sheet, the state its events give, who created it; its
-- events (documents attached, transitions), append-only, from which aim-projects' workflow
-- rebuilds it on every read; its members. Times are UTC, RFC 3339 with nanoseconds.
CREATE TABLE projects (
    -- P-2026-001: year of filing and its number in that year.
    id TEXT PRIMARY KEY,
    request_type TEXT NOT NULL,
    title TEXT NOT NULL,
    -- The project sheet (aim_projects::ProjectSheet) as JSON (text: read back as written).
    sheet TEXT NOT NULL,
    -- The state its events give, and when it entered it: checked against the replay on
    -- every read (a difference is an error, never silently fixed).
    state TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_by_account BIGINT NOT NULL REFERENCES accounts (id),
    created_at TEXT NOT NULL
);

CREATE TABLE project_events (
    project_id TEXT NOT NULL REFERENCES projects (id),
    -- 1, 2, 3, … per project, in the order they happened.
    seq BIGINT NOT NULL CHECK (seq > 0),
    kind TEXT NOT NULL CHECK (kind IN ('document', 'transition')),
    at TEXT NOT NULL,
    -- The acting account's e-mail.
    actor TEXT NOT NULL,
    -- A document: its kind and reference.
    document_kind TEXT,
    reference TEXT,
    -- A transition: the action, from and to, the note, the privacy committee's decision number.
    action TEXT,
    from_state TEXT,
    to_state TEXT,
    note TEXT,
    decision_number TEXT,
    PRIMARY KEY (project_id, seq),
    CHECK ((kind = 'document') = (document_kind IS NOT NULL AND reference IS NOT NULL)),
    CHECK ((kind = 'transition') = (action IS NOT NULL AND from_state IS NOT NULL AND to_state IS NOT NULL))
);

-- A project's history is never rewritten: events are only appended.
CREATE FUNCTION project_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a project''s events are append-only: never changed or removed';
END;
$$;

CREATE TRIGGER project_events_no_change BEFORE UPDATE OR DELETE ON project_events
    FOR EACH ROW EXECUTE FUNCTION project_events_append_only();

CREATE TRIGGER project_events_no_truncate BEFORE TRUNCATE ON project_events
    FOR EACH STATEMENT EXECUTE FUNCTION project_events_append_only();

CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    -- requester: who filed it (one per project); member: added later.
    role TEXT NOT NULL CHECK (role IN ('requester', 'member')),
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (project_id, account_id)
);

CREATE INDEX project_members_account ON project_members (account_id);
