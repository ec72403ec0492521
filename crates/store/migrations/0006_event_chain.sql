-- Issue 18: every event under the chain. Each event row carries a SHA-256 linking it to its
-- house's previous event (`crate::chain`); the audit row written with an event records the
-- house's new head, so the audit chain vouches for every house's events. Events written before
-- this migration are chained once when the store opens (`Store::chain_legacy_events`), and the
-- heads then computed are vouched for by one audit row over a baseline in `chain_heads`.

ALTER TABLE events ADD COLUMN hash TEXT;           -- NULL only until chained at the first open

-- Heads of many houses vouched for by one audit row (a bulk load, an import, the baseline):
-- the audit row's detail names the batch, its number of houses and the SHA-256 over its rows
-- in code order.
CREATE TABLE chain_heads (
--sqlite     batch TEXT NOT NULL,
--sqlite     code  TEXT NOT NULL,
--postgres     batch TEXT COLLATE "C" NOT NULL,                -- byte order, as the digest is taken
--postgres     code  TEXT COLLATE "C" NOT NULL,
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL,
    PRIMARY KEY (batch, code)
);

-- The audit rows of one object (a report's signature, a house's steps) found without a scan.
CREATE INDEX audit_log_object ON audit_log(object, id);
