//! Ledgers from the facts: one `GROUP BY` over the projection (today) or over the fact spans
//! standing at a date or instant (as of), then rows per town or village, 合计 and checks.

use crate::error::Result;
use crate::scope::ScopeParams;
use crate::{Store, on_db, scope_sql, scope_sql_spans};
use anju_domain::codes::{RegionCode, RegionLevel};
use anju_domain::ledger::{AsOf, Count, Form, LedgerRow, LedgerTable};
use anju_domain::region::{name_on, resolve_on};
use anju_domain::rules::beijing_date;
use anju_domain::{Facts, Scope};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// A house behind a ledger figure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerHouse {
    pub code: String,
    pub address: String,
    pub village_code: String,
    pub status: String,
}

/// Per-town counts of today's projection (a quick summary for the status page).
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

fn predicate(c: Count) -> String {
    let (all, none) = (c.all.bits(), c.none.bits());
    format!("(h.facts & {all}) = {all} AND (h.facts & {none}) = 0")
}

fn sum(c: Count) -> String {
    format!(
        "CAST(COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS BIGINT)",
        predicate(c)
    )
}

/// The FROM/WHERE part for a reading of "as of"; `$4` is the date or instant when there is one.
fn source(as_of: AsOf) -> String {
    match as_of {
        AsOf::Now => format!("FROM houses h WHERE {}", scope_sql!()),
        AsOf::Happened(_) => format!(
            "FROM fact_spans h WHERE h.effective_from <= $4 AND (h.effective_to IS NULL OR h.effective_to > $4) AND {}",
            scope_sql_spans!()
        ),
        AsOf::Recorded(_) => format!(
            "FROM fact_spans h WHERE h.recorded_from <= $4 AND (h.recorded_to IS NULL OR h.recorded_to > $4) AND {}",
            scope_sql_spans!()
        ),
    }
}

/// The day regions are named and merged for.
fn region_day(as_of: AsOf) -> NaiveDate {
    match as_of {
        AsOf::Now => beijing_date(crate::now()),
        AsOf::Happened(d) => d,
        AsOf::Recorded(t) => beijing_date(t),
    }
}

macro_rules! bind_as_of {
    ($q:expr, $as_of:expr) => {
        match $as_of {
            AsOf::Now => $q,
            AsOf::Happened(d) => $q.bind(d),
            AsOf::Recorded(t) => $q.bind(crate::codec::micros(t)),
        }
    };
}

impl Store {
    /// Computes `form` for `scope` as of `as_of`: one row per town under a county (per village
    /// under a town), every region valid on the day listed even when it counts nothing.
    pub async fn ledger(&self, form: Form, scope: &Scope, as_of: AsOf) -> Result<LedgerTable> {
        let reference = self.reference();
        let day = region_day(as_of);
        let unit_code = scope
            .region()
            .copied()
            .unwrap_or_else(|| county_of(&reference.regions));
        let by_village = unit_code.level() >= RegionLevel::Town;
        let group = if by_village {
            "h.village_code"
        } else {
            "h.town_code"
        };
        let columns: Vec<String> = form.counts().iter().map(|c| sum(*c)).collect();
        let sql = format!(
            "SELECT {group}, {} {} GROUP BY {group}",
            columns.join(", "),
            source(as_of)
        );
        let sp = ScopeParams::of(scope);
        let raw: Vec<(String, Vec<i64>)> = on_db!(&self.db, p => {
            use sqlx::Row;
            let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&sp.lo).bind(&sp.hi).bind(&sp.department);
            let rows = bind_as_of!(q, as_of).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    let code: String = r.try_get(0)?;
                    let counts = (1..=columns.len()).map(|i| r.try_get::<i64, _>(i)).collect::<Result<Vec<_>, _>>()?;
                    Ok((code, counts))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?;
        let changes = &reference.region_changes;
        let level = if by_village {
            RegionLevel::Village
        } else {
            RegionLevel::Town
        };
        let mut rows: BTreeMap<RegionCode, LedgerRow> = reference
            .regions
            .iter()
            .filter(|r| r.level == level && r.valid_on(day) && unit_code.contains(&r.code))
            .map(|r| {
                (
                    r.code,
                    LedgerRow::empty(
                        r.code.as_str(),
                        &name_on(&r.code, &r.name, day, changes),
                        form,
                    ),
                )
            })
            .collect();
        for (code, counts) in raw {
            let Ok(code) = RegionCode::parse(&code) else {
                continue;
            };
            let code = resolve_on(&code, day, changes);
            let row = rows
                .entry(code)
                .or_insert_with(|| LedgerRow::empty(code.as_str(), code.as_str(), form));
            for (a, b) in row.counts.iter_mut().zip(counts) {
                *a += b;
            }
        }
        let unit = reference
            .regions
            .iter()
            .find(|r| r.code == unit_code)
            .map_or_else(
                || unit_code.to_string(),
                |r| name_on(&r.code, &r.name, day, changes),
            );
        Ok(LedgerTable::build(
            form,
            &unit,
            as_of,
            rows.into_values().collect(),
        ))
    }

    /// The houses counted in one cell: `column` of [`Form::counts`], in the row `group` (a town or
    /// village code as the ledger shows it), or in the 合计 row when `group` is `None`.
    pub async fn ledger_houses(
        &self,
        form: Form,
        scope: &Scope,
        as_of: AsOf,
        column: usize,
        group: Option<&RegionCode>,
    ) -> Result<Vec<LedgerHouse>> {
        let Some(count) = form.counts().get(column).copied() else {
            return Ok(vec![]);
        };
        let reference = self.reference();
        let day = region_day(as_of);
        let unit_code = scope
            .region()
            .copied()
            .unwrap_or_else(|| county_of(&reference.regions));
        let by_village = unit_code.level() >= RegionLevel::Town;
        let id = if matches!(as_of, AsOf::Now) {
            "h.id"
        } else {
            "h.house_id"
        };
        let sql = format!(
            "SELECT x.code, x.address, h.village_code, x.status, h.town_code {} AND {} ORDER BY x.code",
            source(as_of).replacen(
                " WHERE ",
                &format!(" JOIN houses x ON x.id = {id} WHERE "),
                1
            ),
            predicate(count)
        );
        let sp = ScopeParams::of(scope);
        let rows: Vec<(String, String, String, String, String)> = on_db!(&self.db, p => {
            let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&sp.lo).bind(&sp.hi).bind(&sp.department);
            bind_as_of!(q, as_of).fetch_all(p).await
        })?;
        let changes = &reference.region_changes;
        Ok(rows
            .into_iter()
            .filter(|(_, _, village, _, town)| match group {
                None => true,
                Some(g) => {
                    let raw = if by_village { village } else { town };
                    RegionCode::parse(raw).is_ok_and(|c| resolve_on(&c, day, changes) == *g)
                }
            })
            .map(|(code, address, village_code, status, _)| LedgerHouse {
                code,
                address,
                village_code,
                status,
            })
            .collect())
    }

    /// Per-town counts of today's projection.
    pub async fn town_totals(&self, scope: &Scope) -> Result<Vec<TownTotals>> {
        let counts = [
            Count::new(Facts::SURVEYED, Facts::empty()),
            Count::new(Facts::BUSINESS, Facts::empty()),
            Count::new(Facts::HAZARD, Facts::empty()),
            Count::new(Facts::APPRAISED, Facts::empty()),
            Count::new(Facts::CD, Facts::empty()),
            Count::new(Facts::CLOSED, Facts::empty()),
            Count::new(Facts::LEGACY, Facts::LOOK_BACK_DONE),
            Count::new(Facts::NEEDS_NOTICE, Facts::empty()),
        ];
        let columns: Vec<String> = counts.iter().map(|c| sum(*c)).collect();
        let sql = format!(
            "SELECT h.town_code, COUNT(*), {} {} GROUP BY h.town_code ORDER BY h.town_code",
            columns.join(", "),
            source(AsOf::Now)
        );
        let sp = ScopeParams::of(scope);
        type Row = (String, i64, i64, i64, i64, i64, i64, i64, i64, i64);
        let rows: Vec<Row> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
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

/// The county of the reference data (the unit of an unscoped ledger).
fn county_of(regions: &[anju_domain::region::Region]) -> RegionCode {
    regions
        .iter()
        .find(|r| r.level == RegionLevel::County)
        .map_or_else(
            || RegionCode::parse(anju_domain::region::JIAXIANG).expect("valid"),
            |r| r.code,
        )
}
