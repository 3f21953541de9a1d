-- Accounts, their roles, their API keys (digests only) and their OpenID Connect identity.
CREATE TABLE accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    organisation TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    -- Argon2id, PHC string format; NULL: no local password (OpenID Connect or key only).
    password_hash TEXT,
    -- The OpenID Connect identity (issuer URL, subject) mapped to this account.
    oidc_issuer TEXT,
    oidc_subject TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (oidc_issuer, oidc_subject),
    CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL))
);

CREATE TABLE account_roles (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    role TEXT NOT NULL,
    PRIMARY KEY (account_id, role)
);

CREATE TABLE api_keys (
    -- SHA-256 of the key, hex.
    key_digest TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE INDEX api_keys_account ON api_keys (account_id);
