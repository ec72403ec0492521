-- Reading the audit trail by account and by time (the 审计日志 page, the per-account bound on
-- revealing personal data, the dashboard's unusual volumes) without scanning the whole trail.
CREATE INDEX audit_log_actor_at ON audit_log(actor_id, at);
CREATE INDEX audit_log_at ON audit_log(at);

-- 回头看: the legacy closures (a few in a hundred houses) found without scanning every house, for
-- the per-town progress and the pending list (their statements carry the same condition).
CREATE INDEX houses_legacy ON houses(town_code, village_code, facts) WHERE (facts & 1024) <> 0;
