//! 回头看: houses closed before the system on management measures (rule R2). The county sees
//! each town's progress; the houses awaiting their on-site re-review, with the technical
//! reviewers they are assigned to; the reviewers see theirs.

use crate::error::Result;
use crate::scope::ScopeParams;
use crate::{Store, on_db};
use anju_domain::Scope;
use anju_domain::ledger::Facts;

/// A town's look-back figures (today).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookBackTown {
    pub town_code: String,
    /// Legacy closures on management measures.
    pub legacy: i64,
    /// Of which re-reviewed on site.
    pub done: i64,
    /// Of which the hazard was found to remain.
    pub hazard_remained: i64,
}

/// A house awaiting its look-back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookBackHouse {
    pub code: String,
    pub town_code: String,
    pub village_code: String,
    pub address: String,
    /// Usernames of the reviewers it is assigned to.
    pub assignees: Vec<String>,
}

fn has(bit: Facts) -> String {
    let b = bit.bits();
    format!("CAST(COALESCE(SUM(CASE WHEN (h.facts & {b}) = {b} THEN 1 ELSE 0 END), 0) AS BIGINT)")
}

impl Store {
    pub async fn lookback_towns(&self, scope: &Scope) -> Result<Vec<LookBackTown>> {
        let sql = format!(
            "SELECT h.town_code, {}, {}, {} FROM houses h WHERE (h.facts & {}) <> 0 AND {} GROUP BY h.town_code ORDER BY h.town_code",
            has(Facts::LEGACY),
            has(Facts::LOOK_BACK_DONE),
            has(Facts::LOOK_BACK_HAZARD),
            Facts::LEGACY.bits(),
            crate::scope_sql!()
        );
        let sp = ScopeParams::of(scope);
        let rows: Vec<(String, i64, i64, i64)> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|r| LookBackTown {
                town_code: r.0,
                legacy: r.1,
                done: r.2,
                hazard_remained: r.3,
            })
            .collect())
    }

    /// The houses within scope whose look-back is not done, by code (at most `limit`).
    pub async fn lookback_pending(&self, scope: &Scope, limit: i64) -> Result<Vec<LookBackHouse>> {
        let sql = format!(
            "SELECT h.id, h.code, h.town_code, h.village_code, h.address FROM houses h \
             WHERE (h.facts & {}) = {} AND (h.facts & {}) = 0 AND {} ORDER BY h.code LIMIT $4",
            Facts::LEGACY.bits(),
            Facts::LEGACY.bits(),
            Facts::LOOK_BACK_DONE.bits(),
            crate::scope_sql!()
        );
        let sp = ScopeParams::of(scope);
        let rows: Vec<(i64, String, String, String, String)> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(limit).fetch_all(p).await)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, code, town_code, village_code, address) in rows {
            const ASSIGNED: &str =
                "SELECT assignee FROM assignments WHERE house_id = $1 ORDER BY assignee";
            let keys: Vec<String> =
                on_db!(&self.db, p => sqlx::query_scalar(ASSIGNED).bind(id).fetch_all(p).await)?;
            out.push(LookBackHouse {
                code,
                town_code,
                village_code,
                address,
                assignees: keys
                    .into_iter()
                    .filter_map(|k| k.strip_prefix("assignee:").map(str::to_string))
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Enabled technical reviewer accounts: (username, display name), to assign houses to.
    pub async fn reviewer_accounts(&self) -> Result<Vec<(String, String)>> {
        const SQL: &str = "SELECT username, display_name FROM accounts WHERE role = 'tech_reviewer' AND NOT disabled ORDER BY username";
        Ok(on_db!(&self.db, p => sqlx::query_as(SQL).fetch_all(p).await)?)
    }
}
