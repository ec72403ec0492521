//! Aggregates of ledger facts, computed by the database in one `GROUP BY` over the projection.

use crate::error::Result;
use crate::scope::ScopeParams;
use crate::{Store, on_db, scope_sql};
use anju_domain::Scope;

/// Per-town counts of today's projection (a summary; the official ledgers build on the same facts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TownTotals {
    pub town_code: String,
    pub houses: i64,
    pub surveyed: i64,
    pub business: i64,
    pub hazard: i64,
    pub appraised: i64,
    pub cd: i64,
    pub closed: i64,
    pub legacy_pending: i64,
    pub needs_notice: i64,
}

/// `SUM` of one fact bit as BIGINT on both backends (PostgreSQL's SUM of bigint is NUMERIC).
macro_rules! count_bit {
    ($bit:literal) => {
        concat!(
            "CAST(COALESCE(SUM(CASE WHEN (h.facts & ",
            $bit,
            ") <> 0 THEN 1 ELSE 0 END), 0) AS BIGINT)"
        )
    };
}

impl Store {
    pub async fn town_totals(&self, scope: &Scope) -> Result<Vec<TownTotals>> {
        // Bits from anju_domain::Facts: SURVEYED 1, BUSINESS 2, HAZARD 4, APPRAISED 32, CD 64,
        // CLOSED 256, LEGACY 1024, LOOK_BACK_DONE 2048, NEEDS_NOTICE 32768.
        const SQL: &str = concat!(
            "SELECT h.town_code, COUNT(*), ",
            count_bit!("1"),
            ", ",
            count_bit!("2"),
            ", ",
            count_bit!("4"),
            ", ",
            count_bit!("32"),
            ", ",
            count_bit!("64"),
            ", ",
            count_bit!("256"),
            ", ",
            "CAST(COALESCE(SUM(CASE WHEN (h.facts & 3072) = 1024 THEN 1 ELSE 0 END), 0) AS BIGINT), ",
            count_bit!("32768"),
            " FROM houses h WHERE ",
            scope_sql!(),
            " GROUP BY h.town_code ORDER BY h.town_code"
        );
        let sp = ScopeParams::of(scope);
        type Row = (String, i64, i64, i64, i64, i64, i64, i64, i64, i64);
        let rows: Vec<Row> = on_db!(&self.db, p => sqlx::query_as(SQL)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.department)
            .fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|r| TownTotals {
                town_code: r.0,
                houses: r.1,
                surveyed: r.2,
                business: r.3,
                hazard: r.4,
                appraised: r.5,
                cd: r.6,
                closed: r.7,
                legacy_pending: r.8,
                needs_notice: r.9,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use anju_domain::Facts;

    #[test]
    fn the_bits_in_the_sql_are_the_domain_facts() {
        assert_eq!(Facts::SURVEYED.bits(), 1);
        assert_eq!(Facts::BUSINESS.bits(), 2);
        assert_eq!(Facts::HAZARD.bits(), 4);
        assert_eq!(Facts::APPRAISED.bits(), 32);
        assert_eq!(Facts::CD.bits(), 64);
        assert_eq!(Facts::CLOSED.bits(), 256);
        assert_eq!((Facts::LEGACY | Facts::LOOK_BACK_DONE).bits(), 3072);
        assert_eq!(Facts::LEGACY.bits(), 1024);
        assert_eq!(Facts::NEEDS_NOTICE.bits(), 32768);
    }
}
