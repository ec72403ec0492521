-- Anju schema, SQLite. The event log is the truth; houses, house_people and house_sectors
-- are its projection, rewritten in the same transaction as each event.

CREATE TABLE regions (
    code               TEXT PRIMARY KEY,          -- 12-digit statistical division code
    name               TEXT NOT NULL,
    level              TEXT NOT NULL,             -- province | city | county | town | village
    parent_code        TEXT REFERENCES regions(code),
    valid_from         DATE NOT NULL,
    valid_to           DATE,                      -- first day it no longer exists
    is_demo            BOOLEAN NOT NULL,
    reports_separately BOOLEAN NOT NULL
);
CREATE INDEX regions_parent ON regions(parent_code);

-- Merges and renames (乡镇撤并): old ledgers keep the old towns, later ones map old -> new.
CREATE TABLE region_changes (
    id          INTEGER PRIMARY KEY,
    old_code    TEXT NOT NULL REFERENCES regions(code),
    new_code    TEXT NOT NULL REFERENCES regions(code),
    old_name    TEXT NOT NULL,                -- the name old_code had until effective
    effective   DATE NOT NULL,
    kind        TEXT NOT NULL,
    note        TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    recorded_by TEXT NOT NULL
);

CREATE TABLE departments (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

-- Business type -> supervising department (三管三必须); configurable.
CREATE TABLE sector_departments (
    business_type   TEXT PRIMARY KEY,
    department_code TEXT NOT NULL REFERENCES departments(code)
);

CREATE TABLE dictionary_entries (
    kind     TEXT NOT NULL,
    label    TEXT NOT NULL,
    position INTEGER NOT NULL,
    active   BOOLEAN NOT NULL,
    PRIMARY KEY (kind, label)
);

CREATE TABLE houses (
    id             INTEGER PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,          -- plaque code (一房一码)
    qr_token       TEXT NOT NULL UNIQUE,          -- unguessable token behind the public QR page
    version        INTEGER NOT NULL,              -- number of events; optimistic concurrency
    town_code      TEXT NOT NULL,
    village_code   TEXT NOT NULL,
    platform_code  TEXT,                          -- 归集平台自建房编号
    census_id      TEXT,                          -- 普查房屋编号
    address        TEXT NOT NULL,
    is_business    BOOLEAN NOT NULL,
    status         TEXT NOT NULL,
    judgement      TEXT,
    grade          TEXT,
    facts          INTEGER NOT NULL,              -- ledger facts bitmask (anju_domain::Facts): feeds 附件1/附件2
    registered_on  DATE NOT NULL,
    last_effective DATE NOT NULL,
    updated_at     BIGINT NOT NULL,               -- microseconds since the Unix epoch, UTC
    updated_by     TEXT NOT NULL,
    state          TEXT NOT NULL                  -- HouseState JSON; the record lives in the latest registered/corrected event
);
-- Scope (a village-code range) and ledgers (counts per village and facts) from the index alone.
CREATE INDEX houses_village_facts ON houses(village_code, facts);
CREATE INDEX houses_platform_code ON houses(platform_code);
CREATE INDEX houses_census_id ON houses(census_id);

-- Personal data, apart from the record so it can be protected at rest.
CREATE TABLE house_people (
    house_id   INTEGER PRIMARY KEY REFERENCES houses(id),
    owner_name TEXT NOT NULL,
    data       TEXT NOT NULL                      -- People JSON
);

-- Departments supervising a business-use house (one per distinct business type's department).
CREATE TABLE house_sectors (
    house_id        INTEGER NOT NULL REFERENCES houses(id),
    department_code TEXT NOT NULL,
    PRIMARY KEY (house_id, department_code)
);
CREATE INDEX house_sectors_department ON house_sectors(department_code, house_id);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    house_id     INTEGER NOT NULL REFERENCES houses(id),
    seq          INTEGER NOT NULL,                -- house version after this event
    kind         TEXT NOT NULL,
    effective    DATE NOT NULL,                   -- when it happened in the field
    recorded_at  BIGINT NOT NULL,                 -- when it was recorded, µs since epoch UTC
    actor_id     TEXT NOT NULL,
    actor_name   TEXT NOT NULL,
    actor_role   TEXT NOT NULL,
    reason       TEXT,
    evidence     TEXT NOT NULL,                   -- JSON array of evidence references
    payload      TEXT NOT NULL,                   -- Change JSON without personal data
    personal     TEXT,                            -- People JSON, when the change carries it
    UNIQUE (house_id, seq)
);

-- Derived, for ledgers "as of" a date (附件1/附件2): each event opens a span of the house's ledger
-- facts, town and village, closed by the house's next event. A house's facts on field date D are
-- those of its span with effective_from <= D < effective_to; as recorded at instant T, those of
-- the span with recorded_from <= T < recorded_to (NULL: still open).
CREATE TABLE fact_spans (
    house_id       BIGINT NOT NULL REFERENCES houses(id),
    seq            INTEGER NOT NULL,
    town_code      TEXT NOT NULL,
    village_code   TEXT NOT NULL,
    facts          INTEGER NOT NULL,
    effective_from DATE NOT NULL,
    effective_to   DATE,
    recorded_from  BIGINT NOT NULL,
    recorded_to    BIGINT,
    -- Clustered by village: a town's or the county's ledger as of a date reads one range.
    PRIMARY KEY (village_code, house_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX fact_spans_house ON fact_spans(house_id, seq);

-- Audit trail: append-only, each row chained to the previous one by SHA-256.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor_id  TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    source    TEXT NOT NULL,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    reason    TEXT,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- One row: the head of the audit chain, locked by each writer so the chain never forks.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_id   BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Ledgers handed in (附件1/附件2): prepared, signed (frozen: snapshot + digest), submitted,
-- accepted or returned. The snapshot holds the figures and the house codes behind each one.
CREATE TABLE ledger_reports (
    id             INTEGER PRIMARY KEY,
    form           INTEGER NOT NULL,              -- 1 = 附件1, 2 = 附件2
    unit_code      TEXT NOT NULL,                 -- the town (or county) the ledger is for
    as_of          DATE NOT NULL,                 -- figures as of this field date
    status         TEXT NOT NULL,
    preparer_id    TEXT NOT NULL,
    preparer_name  TEXT NOT NULL,
    contact        TEXT NOT NULL,
    prepared_at    BIGINT NOT NULL,
    signer_id      TEXT,
    signer_name    TEXT,
    signed_at      BIGINT,
    submitted_at   BIGINT,
    reviewer_id    TEXT,
    reviewed_at    BIGINT,
    return_reason  TEXT,
    snapshot       TEXT,                          -- frozen at signing; never changed after
    digest         TEXT,                          -- SHA-256 of snapshot
    scan_sha256    TEXT,                          -- scanned signed-and-stamped copy
    scan_name      TEXT,
    supersedes     BIGINT REFERENCES ledger_reports(id)
);
CREATE INDEX ledger_reports_unit ON ledger_reports(unit_code, form, as_of);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
