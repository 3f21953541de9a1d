-- Web sessions (docs/web-projects.md): the SHA-256 digest of each session's random token
-- (the token itself is only in the browser's cookie), its CSRF token, and its two
-- deadlines, in Unix seconds: idle (pushed back on use) and absolute (never moved). Several
-- server processes read the same rows, so a session opened by one is known to all.
CREATE TABLE web_sessions (
    token_digest TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    csrf_token TEXT NOT NULL,
    -- How the account signed in: password, oidc.
    method TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL
);

CREATE INDEX web_sessions_account ON web_sessions (account_id);

-- Failed logins, to slow down password guessing: per account (`account:<e-mail>`) and per
-- address (`address:<ip>`). Rows older than the counting window are deleted.
CREATE TABLE login_failures (
    subject TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX login_failures_subject ON login_failures (subject, at);
