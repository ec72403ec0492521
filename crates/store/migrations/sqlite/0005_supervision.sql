-- Issue 6: supervision notices (督办) sent by the county office to a lagging town, and the town's
-- answer. Kept for good: an answer is written once, never overwritten.

CREATE TABLE supervisions (
    id              INTEGER PRIMARY KEY,
    town_code       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    answer_due      DATE NOT NULL,
    issued_at       BIGINT NOT NULL,
    issued_by       TEXT NOT NULL,
    issued_by_name  TEXT NOT NULL,
    answer          TEXT,
    answered_at     BIGINT,
    answered_by     TEXT,
    answered_by_name TEXT,
    evidence        TEXT NOT NULL                  -- JSON: evidence references of the answer
);
CREATE INDEX supervisions_town ON supervisions(town_code, id);
