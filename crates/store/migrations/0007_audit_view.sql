-- Reading the audit trail by account and by time (the 审计日志 page, the per-account bound on
-- revealing personal data, the dashboard's unusual volumes) without scanning the whole trail.
CREATE INDEX audit_log_actor_at ON audit_log(actor_id, at);
CREATE INDEX audit_log_at ON audit_log(at);

-- 回头看: the legacy closures (a few in a hundred houses) found without scanning every house, for
-- the per-town progress and the pending list in code order (their statements carry the same condition).
CREATE INDEX houses_legacy ON houses(code, town_code, village_code, facts) WHERE (facts & 1024) <> 0;
-- The per-town progress states the bit as "= 1024", so that only it uses this one.
CREATE INDEX houses_legacy_town ON houses(town_code, village_code, facts) WHERE (facts & 1024) = 1024;
