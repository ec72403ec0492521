-- Issue 6: the problem ledger (问题台账). A batch is what a higher level sent down at once; each
-- problem concerns a town and usually a house; every step is a problem_events row with its actor
-- and evidence. Nothing is deleted.

CREATE TABLE problem_batches (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,                 -- ProblemSource code
    name        TEXT NOT NULL,                 -- 下发批次
    issued_on   DATE NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);

CREATE TABLE problems (
    id          INTEGER PRIMARY KEY,
    batch_id    BIGINT NOT NULL REFERENCES problem_batches(id),
    row_no      INTEGER NOT NULL,              -- its row in the batch as sent
    town_code   TEXT NOT NULL,
    house_id    BIGINT REFERENCES houses(id),
    is_business BOOLEAN NOT NULL,              -- the house's use when issued (附件2 线上检查)
    category    TEXT NOT NULL,
    description TEXT NOT NULL,
    deadline    DATE,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (batch_id, row_no)
);
CREATE INDEX problems_town ON problems(town_code, status);
CREATE INDEX problems_house ON problems(house_id);

CREATE TABLE problem_events (
    id          INTEGER PRIMARY KEY,
    problem_id  BIGINT NOT NULL REFERENCES problems(id),
    seq         INTEGER NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    detail      TEXT NOT NULL,                 -- JSON: the action with its reason or note
    evidence    TEXT NOT NULL,                 -- JSON: evidence references
    UNIQUE (problem_id, seq)
);
