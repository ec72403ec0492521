-- Reading the audit trail by account and by time (the 审计日志 page, the per-account bound on
-- revealing personal data, the dashboard's unusual volumes) without scanning the whole trail.
CREATE INDEX audit_log_actor_at ON audit_log(actor_id, at);
CREATE INDEX audit_log_at ON audit_log(at);
