//! Reading the audit trail as the county office and the auditor do: filtered by account,
//! action, object (a house code, a report …), outcome and time, newest first, a page at a time
//! with the count of all matching rows. Only accounts that may read the audit trail get here
//! (`Access::audit_page`); a refusal is itself audited.

use crate::access::Access;
use crate::infra::audit::{AuditRow, LISTED, ListedRow, listed};
use crate::infra::error::Result;
use anju_domain::auth::Action;
use anju_domain::{RegionLevel, Scope};
use chrono::{DateTime, Utc};

/// What to look for; every part optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The account's user name, exactly.
    pub actor: Option<String>,
    /// The action, or the start of one (`report.` finds every report action).
    pub action: Option<String>,
    /// The object, or the start of one (a house code finds that house's rows).
    pub object: Option<String>,
    /// Only refused actions (`refused:…`), or only what went through (`ok`).
    pub outcome: Option<OutcomeFilter>,
    /// From this instant on.
    pub from: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    Ok,
    Refused,
    /// An error or a failed integrity check.
    Failed,
}

impl OutcomeFilter {
    pub fn code(self) -> &'static str {
        match self {
            OutcomeFilter::Ok => "ok",
            OutcomeFilter::Refused => "refused",
            OutcomeFilter::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OutcomeFilter> {
        [
            OutcomeFilter::Ok,
            OutcomeFilter::Refused,
            OutcomeFilter::Failed,
        ]
        .into_iter()
        .find(|o| o.code() == s)
    }
}

/// `prefix%` for LIKE, with LIKE's own characters escaped (`\` is the escape).
fn like_prefix(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

const WHERE: &str = "WHERE (CAST($1 AS TEXT) IS NULL OR actor_id = $1) \
    AND (CAST($2 AS TEXT) IS NULL OR action LIKE $2 ESCAPE '\\') \
    AND (CAST($3 AS TEXT) IS NULL OR object LIKE $3 ESCAPE '\\') \
    AND (CAST($4 AS TEXT) IS NULL \
         OR ($4 = 'ok' AND outcome = 'ok') \
         OR ($4 = 'refused' AND outcome LIKE 'refused:%') \
         OR ($4 = 'failed' AND outcome IN ('error', 'broken'))) \
    AND (CAST($5 AS BIGINT) IS NULL OR at >= $5) \
    AND (CAST($6 AS BIGINT) IS NULL OR at < $6)";

impl Access<'_> {
    /// One page of the audit trail matching `filter`, newest first, and how many rows match
    /// (`page` from 1, `size` rows, at most 500).
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        (page, size): (u64, u64),
    ) -> Result<(Vec<AuditRow>, u64)> {
        self.require(Action::ReadAudit, "audit").await?;
        // The trail records the whole county's work (house codes, accounts, reports of every
        // town): only an account whose scope is the whole county reads it.
        let county_wide = match self.scope() {
            Scope::All => true,
            Scope::Region { code } => code.level() <= RegionLevel::County,
            _ => false,
        };
        if !county_wide {
            self.refuse(
                Action::ReadAudit,
                "audit",
                "审计日志记录全县的操作，只对县级账号开放".into(),
            )
            .await?;
        }
        let size = size.clamp(1, 500) as i64;
        let offset = (page.clamp(1, 1_000_000) as i64 - 1) * size;
        let actor = filter.actor.clone();
        let action = filter.action.as_deref().map(like_prefix);
        let object = filter.object.as_deref().map(like_prefix);
        let outcome = filter.outcome.map(OutcomeFilter::code);
        let from = filter.from.map(crate::infra::codec::micros);
        let until = filter.until.map(crate::infra::codec::micros);
        let db = &self.store.db;
        let sql =
            format!("SELECT {LISTED} FROM audit_log {WHERE} ORDER BY id DESC LIMIT $7 OFFSET $8");
        let rows: Vec<ListedRow> = crate::on_db!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&actor).bind(&action).bind(&object).bind(outcome).bind(from).bind(until)
            .bind(size).bind(offset)
            .fetch_all(p).await)?;
        let count = format!("SELECT COUNT(*) FROM audit_log {WHERE}");
        let total: i64 = crate::on_db!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(count))
            .bind(&actor).bind(&action).bind(&object).bind(outcome).bind(from).bind(until)
            .fetch_one(p).await)?;
        let rows = rows.into_iter().map(listed).collect::<Result<Vec<_>>>()?;
        Ok((rows, total.max(0) as u64))
    }
}

/// An account whose last 24 hours look unusual: many reveals of personal data, or many
/// refusals (denied, out of scope, over the bound, refused by the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAlert {
    pub actor: String,
    pub reveals: i64,
    pub refusals: i64,
}

/// Reveals in 24 hours from which an account is shown (half the daily bound).
pub const ALERT_REVEALS: i64 = anju_domain::auth::REVEALS_PER_DAY / 2;
/// Refusals in 24 hours from which an account is shown.
pub const ALERT_REFUSALS: i64 = 10;

impl Access<'_> {
    /// Accounts with unusual volumes of reveals or refusals in the 24 hours before now, most
    /// first; empty for a caller who may not read the whole audit trail.
    pub async fn audit_alerts(&self) -> Result<Vec<AuditAlert>> {
        let county_wide = match self.scope() {
            Scope::All => true,
            Scope::Region { code } => code.level() <= RegionLevel::County,
            _ => false,
        };
        if !self.principal().may(Action::ReadAudit) || !county_wide {
            return Ok(vec![]);
        }
        let since = crate::infra::codec::micros(self.now() - chrono::Duration::hours(24));
        const SQL: &str = "SELECT actor_id, \
            SUM(CASE WHEN action = 'personal.reveal' AND outcome = 'ok' THEN 1 ELSE 0 END), \
            SUM(CASE WHEN outcome LIKE 'refused:%' THEN 1 ELSE 0 END) \
            FROM audit_log WHERE at >= $1 GROUP BY actor_id";
        let rows: Vec<(String, i64, i64)> = crate::on_db!(&self.store.db, p => sqlx::query_as(SQL)
            .bind(since).fetch_all(p).await)?;
        let mut out: Vec<AuditAlert> = rows
            .into_iter()
            .filter(|(_, reveals, refusals)| {
                *reveals >= ALERT_REVEALS || *refusals >= ALERT_REFUSALS
            })
            .map(|(actor, reveals, refusals)| AuditAlert {
                actor,
                reveals,
                refusals,
            })
            .collect();
        out.sort_by_key(|a| std::cmp::Reverse(a.reveals + a.refusals));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn like_characters_are_escaped() {
        assert_eq!(like_prefix("report."), "report.%");
        assert_eq!(like_prefix("a%b_c\\"), "a\\%b\\_c\\\\%");
    }
}
