-- Closures and engineering acceptances read from an imported ledger. They are not steps of the
-- house (so never counted in ⑥ or ⑦) until the town's principal confirms them in Anju, or the
-- county office's cut-over date covers them; then they are recorded as steps, the acceptance
-- naming the importer, the closure the one who confirmed it.
CREATE TABLE import_pending (
    id            INTEGER PRIMARY KEY,
    house_id      BIGINT NOT NULL REFERENCES houses(id),
    step          INTEGER NOT NULL,               -- order among the house's held-back steps
    kind          TEXT NOT NULL,                  -- engineering_accepted | closed
    effective     DATE NOT NULL,                  -- the date the ledger gives
    command       TEXT NOT NULL,                  -- PendingStep JSON (no personal data)
    file_name     TEXT NOT NULL,
    file_sha256   TEXT NOT NULL,
    imported_by   TEXT NOT NULL,                  -- the importing account's username
    imported_name TEXT NOT NULL,                  -- and its name, as its steps show it
    imported_at   BIGINT NOT NULL,
    decided_at    BIGINT,
    decided_by    TEXT,
    decision      TEXT,                           -- confirmed | rejected
    note          TEXT,
    UNIQUE (house_id, step)
);
CREATE INDEX import_pending_open ON import_pending(house_id) WHERE decided_at IS NULL;
