-- Issue 4: accounts, sessions, assignments; keyed hashes of personal identifiers.
-- Personal data in house_people.data and events.personal is sealed (AES-256-GCM) by the
-- application from this version on; the digests below allow exact search without decrypting.

ALTER TABLE house_people ADD COLUMN owner_id_digest TEXT;
ALTER TABLE house_people ADD COLUMN owner_phone_digest TEXT;
CREATE INDEX house_people_id_digest ON house_people(owner_id_digest);
CREATE INDEX house_people_phone_digest ON house_people(owner_phone_digest);

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    region_code     TEXT,                       -- region accounts: their subtree
    department_code TEXT,                       -- department accounts: their sector
    password_hash   TEXT NOT NULL,              -- argon2id PHC string
    password_set_at BIGINT NOT NULL,
    must_change     BOOLEAN NOT NULL,           -- one-time password: change at next login
    totp_secret     TEXT,                       -- sealed; NULL = no second factor
    totp_last_step  BIGINT,                     -- last accepted TOTP step (no replay)
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);

CREATE TABLE password_history (
    id         INTEGER PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    hash       TEXT NOT NULL,
    set_at     BIGINT NOT NULL
);
CREATE INDEX password_history_account ON password_history(account_id, id);

-- Failures and locks by the user name typed, known or not: an unknown name locks exactly like
-- a real one, so the answer never tells whether an account exists.
CREATE TABLE login_failures (
    username TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX login_failures_username ON login_failures(username, at);

CREATE TABLE login_locks (
    username TEXT PRIMARY KEY,
    until    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,                -- SHA-256 of the cookie value; the value itself is never stored
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    source     TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

-- Houses assigned to a technical reviewer or appraiser (their whole read scope).
CREATE TABLE assignments (
    assignee    TEXT NOT NULL,                  -- 'assignee:<username>'
    house_id    BIGINT NOT NULL REFERENCES houses(id),
    assigned_by TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (assignee, house_id)
);
CREATE INDEX assignments_house ON assignments(house_id, assignee);
