//! 回头看: houses closed before the system on management measures (rule R2). The county sees
//! each town's progress; the houses awaiting their on-site re-review, with the technical
//! reviewers they are assigned to; the reviewers see theirs.

use crate::infra::error::Result;
use crate::infra::scope::ScopeParams;
use crate::{Store, on_db};
use anju_domain::ledger::Facts;
use anju_domain::{RegionCode, Scope};

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
    pub(crate) async fn lookback_towns(&self, scope: &Scope) -> Result<Vec<LookBackTown>> {
        let sql = format!(
            // "= bit", not "<> 0": the partial index houses_legacy_town is written for this form.
            "SELECT h.town_code, {}, {}, {} FROM houses h WHERE (h.facts & {}) = {} AND {} GROUP BY h.town_code ORDER BY h.town_code",
            has(Facts::LEGACY),
            has(Facts::LOOK_BACK_DONE),
            has(Facts::LOOK_BACK_HAZARD),
            Facts::LEGACY.bits(),
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
    pub(crate) async fn lookback_pending(
        &self,
        scope: &Scope,
        limit: i64,
    ) -> Result<Vec<LookBackHouse>> {
        let limit = limit.max(0) as u64;
        Ok(self.lookback_pending_page(scope, None, (1, limit)).await?.1)
    }

    /// A page of them (`page`: number from 1 and size), optionally in one town: (how many in
    /// all, the page's), counted and paged by the database.
    pub(crate) async fn lookback_pending_page(
        &self,
        scope: &Scope,
        town: Option<&RegionCode>,
        page: (u64, u64),
    ) -> Result<(u64, Vec<LookBackHouse>)> {
        // A town code is digits only (checked when parsed): safe to inline.
        let in_town = town.map_or_else(String::new, |t| {
            format!(" AND h.town_code = '{}'", t.as_str())
        });
        let from = format!(
            "FROM houses h WHERE (h.facts & {}) <> 0 AND (h.facts & {}) = 0 AND {}{in_town}",
            Facts::LEGACY.bits(),
            Facts::LOOK_BACK_DONE.bits(),
            crate::scope_sql!()
        );
        let sp = ScopeParams::of(scope);
        let count = format!("SELECT COUNT(*) {from}");
        // Every page has the same total: counted once per write.
        let key = format!("{count}\u{1f}{}\u{1f}{}\u{1f}{:?}", sp.lo, sp.hi, sp.key);
        let total = self
            .cached_total(key, async {
                Ok(
                    on_db!(&self.db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(count))
                    .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).fetch_one(p).await)?,
                )
            })
            .await?;
        let (number, size) = (page.0.max(1), page.1.clamp(1, 100_000));
        let sql = format!(
            "SELECT h.id, h.code, h.town_code, h.village_code, h.address {from} ORDER BY h.code LIMIT {size} OFFSET {}",
            (number - 1).saturating_mul(size)
        );
        let rows: Vec<(i64, String, String, String, String)> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).fetch_all(p).await)?;
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
        Ok((total.max(0) as u64, out))
    }

    /// Enabled technical reviewer accounts: (username, display name), to assign houses to.
    pub async fn reviewer_accounts(&self) -> Result<Vec<(String, String)>> {
        const SQL: &str = "SELECT username, display_name FROM accounts WHERE role = 'tech_reviewer' AND NOT disabled ORDER BY username";
        Ok(on_db!(&self.db, p => sqlx::query_as(SQL).fetch_all(p).await)?)
    }
}

#[cfg(test)]
mod tests {
    use anju_domain::ledger::Facts;

    /// Migration 0007's partial index `houses_legacy` is written for this bit: the look-back
    /// statements use the index only while their condition reads the same.
    #[test]
    fn the_legacy_index_names_the_legacy_bit() {
        assert_eq!(Facts::LEGACY.bits(), 1024);
        use crate::infra::migrations::{Dialect, migrations};
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let m = migrations(d)
                .iter()
                .find(|m| m.0 == 7)
                .expect("migration 7")
                .2;
            assert!(m.contains("(code, town_code, village_code, facts) WHERE (facts & 1024) <> 0"));
            assert!(m.contains("(town_code, village_code, facts) WHERE (facts & 1024) = 1024"));
        }
    }
}
