//! Ledgers: the figures (here) and the ledgers handed in, signed and accepted (`reports`).
//!
//! Ledgers from the facts: one `GROUP BY` over the projection (today) or over the fact spans
//! standing at a date or instant (as of), then rows per town or village, 合计 and checks.

pub mod reports;

use crate::infra::db::ReadRow;
use crate::infra::error::Result;
use crate::infra::scope::ScopeParams;
use crate::{Store, on_db, scope_sql, scope_sql_spans};
use anju_domain::codes::{RegionCode, RegionLevel};
use anju_domain::ledger::{AsOf, Count, Form, LedgerRow, LedgerTable};
use anju_domain::region::{name_on, resolve_on};
use anju_domain::rules::beijing_date;
use anju_domain::{Facts, HouseCode, Scope};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// A house behind a ledger figure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerHouse {
    pub code: String,
    pub address: String,
    pub village_code: String,
    pub status: String,
    /// For a house closed on an imported ledger's record: who confirmed the closure.
    pub imported_closure: Option<String>,
}

/// Per-town counts of today's projection (a quick summary for the status page).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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
    /// C/D (or obviously unsafe) houses without engineering started.
    pub needs_engineering: i64,
    /// C/D houses whose engineering is accepted (⑥ of 附件2, today).
    pub cd_engineered: i64,
}

/// The condition that a row `h` is counted by `c`: one `<> 0` per required bit, and the
/// excluded bits clear; an empty mask states nothing. PostgreSQL estimates `(facts & b) = b` (and
/// `(facts & 0) = 0`) at 0.5% of the rows, so a drill-down page over a dense figure sorted the
/// whole figure (a sequential scan; 1.3 s a page at 1,000,000 houses) instead of walking the
/// code index and stopping after its page (1 ms).
fn predicate(c: Count) -> String {
    let all = c.all.bits();
    let none = c.none.bits();
    let mut conds: Vec<String> = (0..32)
        .map(|i| 1u32 << i)
        .filter(|b| all & b != 0)
        .map(|b| format!("(h.facts & {b}) <> 0"))
        .collect();
    if none != 0 {
        conds.push(format!("(h.facts & {none}) = 0"));
    }
    if conds.is_empty() {
        return "1 = 1".into();
    }
    conds.join(" AND ")
}

fn sum(c: Count) -> String {
    format!(
        "CAST(COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS BIGINT)",
        predicate(c)
    )
}

/// The condition on a `fact_spans` row `h` standing at `$4` — the span effective on the date, or
/// recorded at the instant — or, when `$4` precedes the house's first span, that first span:
/// where something known about a house is to be placed as of a day the house may not have been
/// registered on yet (a problem issued before its house was registered, a legacy closure made
/// before it). `None` for [`AsOf::Now`] (the house row itself).
pub(crate) fn span_at_or_first(as_of: AsOf) -> Option<&'static str> {
    match as_of {
        AsOf::Now => None,
        AsOf::Happened(_) => Some(
            "((h.effective_from <= $4 AND (h.effective_to IS NULL OR h.effective_to > $4)) \
             OR (h.seq = 1 AND h.effective_from > $4))",
        ),
        AsOf::Recorded(_) => Some(
            "((h.recorded_from <= $4 AND (h.recorded_to IS NULL OR h.recorded_to > $4)) \
             OR (h.seq = 1 AND h.recorded_from > $4))",
        ),
    }
}

/// A ledger's rows: the table (or subquery) aliased `h`, its `WHERE` condition (scope
/// included), and the column naming the house.
struct Source {
    from: String,
    filter: String,
    id: &'static str,
}

impl Source {
    /// The FROM/WHERE part of a query over these rows.
    fn sql(&self) -> String {
        format!("FROM {} WHERE {}", self.from, self.filter)
    }

    /// [`Source::sql`] with the current house row as `x` (its code, address, status). Today's
    /// rows are the house rows themselves, so `x` is `h` and nothing is joined: a drill-down
    /// page then walks `houses(town_code, code)` or the code index in order and stops after
    /// its page, instead of sorting every house of the figure (2.5 s a page at 1,000,000).
    fn with_houses(&self) -> String {
        if self.id == "h.id" {
            format!("FROM {} WHERE {}", self.from, self.filter)
        } else {
            format!(
                "FROM {} JOIN houses x ON x.id = {} WHERE {}",
                self.from, self.id, self.filter
            )
        }
    }

    /// The alias whose `code`, `address` and `status` are the current house's.
    fn house_alias(&self) -> &'static str {
        if self.id == "h.id" { "h" } else { "x" }
    }
}

/// The rows `form` counts for a reading of "as of"; `$4` is the date or instant when there is
/// one.
///
/// 附件1 as of a field date counts a legacy closure from the day the closure was made (its
/// 前期销号日期), not from the day it was recorded in the system: every house whose legacy
/// closure, as known now, was made on or before the date, with the facts of its span on that
/// date (or of its first span, when it was registered later) and [`Facts::LEGACY`] added. Its
/// look-back columns still count only look-backs done by then. As recorded at an instant, a
/// legacy closure counts from the instant it was recorded (what could have been reported then).
fn source(db: &crate::infra::db::Db, form: Form, as_of: AsOf) -> Source {
    match (form, as_of) {
        (_, AsOf::Now) => Source {
            from: "houses h".into(),
            filter: scope_sql!().into(),
            id: "h.id",
        },
        (Form::Attachment1, AsOf::Happened(_)) => {
            let legacy = Facts::LEGACY.bits();
            // The closure date is in the projection's state (`HouseState::legacy.closed_on`),
            // read only for houses whose facts say they have one: those are found first from
            // the covering index `(village_code, facts)` (`m`), their state read by id (`l`),
            // their spans by `fact_spans_house`. Joining the houses to the spans directly
            // scanned every span (SQLite: 2.1 s against 0.11 s at 300,000 houses, 2% legacy).
            let closed_on = match db.backend() {
                "postgres" => "CAST(CAST(l.state AS jsonb) #>> '{legacy,closed_on}' AS DATE)",
                _ => "json_extract(l.state, '$.legacy.closed_on')",
            };
            let span = span_at_or_first(as_of).expect("a date");
            Source {
                from: format!(
                    "(SELECT h.house_id, h.town_code, h.village_code, h.facts | {legacy} AS facts \
                     FROM fact_spans h WHERE {span} AND h.house_id IN (SELECT l.id FROM houses l \
                     WHERE l.id IN (SELECT m.id FROM houses m WHERE (m.facts & {legacy}) = {legacy}) \
                     AND {closed_on} <= $4)) h"
                ),
                filter: scope_sql_spans!().into(),
                id: "h.house_id",
            }
        }
        (_, AsOf::Happened(_)) => Source {
            from: "fact_spans h".into(),
            filter: format!(
                "h.effective_from <= $4 AND (h.effective_to IS NULL OR h.effective_to > $4) AND {}",
                scope_sql_spans!()
            ),
            id: "h.house_id",
        },
        (_, AsOf::Recorded(_)) => Source {
            from: "fact_spans h".into(),
            filter: format!(
                "h.recorded_from <= $4 AND (h.recorded_to IS NULL OR h.recorded_to > $4) AND {}",
                scope_sql_spans!()
            ),
            id: "h.house_id",
        },
    }
}

/// The day regions are named and merged for.
fn region_day(as_of: AsOf, now: DateTime<Utc>) -> NaiveDate {
    match as_of {
        AsOf::Now => beijing_date(now),
        AsOf::Happened(d) => d,
        AsOf::Recorded(t) => beijing_date(t),
    }
}

macro_rules! bind_as_of {
    ($q:expr, $as_of:expr) => {
        match $as_of {
            AsOf::Now => $q,
            AsOf::Happened(d) => $q.bind(d),
            AsOf::Recorded(t) => $q.bind(crate::infra::codec::micros(t)),
        }
    };
}

impl Store {
    /// Computes `form` for `scope` as of `as_of`: one row per town under a county (per village
    /// under a town), every region valid on the day listed even when it counts nothing.
    pub(crate) async fn ledger(
        &self,
        form: Form,
        scope: &Scope,
        as_of: AsOf,
    ) -> Result<LedgerTable> {
        let unit = self.unit_of(scope)?;
        let by_village = unit.level() >= RegionLevel::Town;
        // The database counts houses per (village, facts) — a covering index scan yielding a few
        // thousand rows for a county — and the domain's column definitions do the rest.
        let sql = format!(
            "SELECT h.village_code, h.facts, COUNT(*) {} GROUP BY h.village_code, h.facts",
            source(&self.db, form, as_of).sql()
        );
        let raw: Vec<(String, i32, i64)> = self.rows_as_of(sql, scope, as_of).await?;
        let counts = form.counts();
        let mut groups: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (village, facts, n) in raw {
            let key = match RegionCode::parse(&village) {
                Ok(v) if !by_village => v.town().to_string(),
                _ => village,
            };
            let facts = Facts::from_bits(facts as u32);
            let row = groups.entry(key).or_insert_with(|| vec![0; counts.len()]);
            for (i, c) in counts.iter().enumerate() {
                if c.matches(facts) {
                    row[i] += n;
                }
            }
        }
        let online = self.online_for(form, scope, as_of).await?;
        Ok(self
            .assemble(
                form,
                &unit,
                as_of,
                groups.into_iter().map(|(c, n)| (c, n, None)),
                online,
            )
            .0)
    }

    /// The same table as [`Store::ledger`], computed house by house so that every figure keeps
    /// the codes of the houses it counts (for a frozen snapshot). `houses[row][column]` lists
    /// the codes behind `table.rows[row].counts[column]`; the 合计 row is their union.
    pub(crate) async fn ledger_with_houses(
        &self,
        form: Form,
        scope: &Scope,
        as_of: AsOf,
    ) -> Result<(LedgerTable, Vec<Vec<Vec<String>>>)> {
        let unit = self.unit_of(scope)?;
        let by_village = unit.level() >= RegionLevel::Town;
        let sql = format!(
            "SELECT x.code, h.town_code, h.village_code, h.facts {} ORDER BY x.code",
            source(&self.db, form, as_of).with_houses()
        );
        let rows: Vec<(String, String, String, i32)> = self.rows_as_of(sql, scope, as_of).await?;
        let counts = form.counts();
        let mut groups: BTreeMap<String, (Vec<i64>, Vec<Vec<String>>)> = BTreeMap::new();
        for (code, town, village, facts) in rows {
            let key = if by_village { village } else { town };
            let facts = Facts::from_bits(facts as u32);
            let (n, lists) = groups
                .entry(key)
                .or_insert_with(|| (vec![0; counts.len()], vec![Vec::new(); counts.len()]));
            for (i, c) in counts.iter().enumerate() {
                if c.matches(facts) {
                    n[i] += 1;
                    lists[i].push(code.clone());
                }
            }
        }
        let online = self.online_for(form, scope, as_of).await?;
        let (table, lists) = self.assemble(
            form,
            &unit,
            as_of,
            groups
                .into_iter()
                .map(|(code, (n, lists))| (code, n, Some(lists))),
            online,
        );
        Ok((table, lists))
    }

    /// The rows of `sql`, a statement over a [`source`] with the scope bound at `$1`–`$3` and
    /// the date or instant of `as_of`, if any, at `$4`.
    async fn rows_as_of<T: ReadRow>(
        &self,
        sql: String,
        scope: &Scope,
        as_of: AsOf,
    ) -> Result<Vec<T>> {
        let sp = ScopeParams::of(scope);
        Ok(on_db!(&self.db, p => {
            let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&sp.lo).bind(&sp.hi).bind(&sp.key);
            bind_as_of!(q, as_of).fetch_all(p).await
        })?)
    }

    /// 附件2's online-inspection figures per village (none for 附件1).
    async fn online_for(
        &self,
        form: Form,
        scope: &Scope,
        as_of: AsOf,
    ) -> Result<BTreeMap<String, (i64, i64)>> {
        match form {
            Form::Attachment2 => self.online_inspection(scope, as_of).await,
            Form::Attachment1 => Ok(BTreeMap::new()),
        }
    }

    /// The unit a scope's ledger is for: its region, or the county.
    fn unit_of(&self, scope: &Scope) -> Result<RegionCode> {
        match scope.region() {
            Some(r) => Ok(*r),
            None => county_of(&self.reference().regions),
        }
    }

    /// Rows for every town (or village) of `unit` valid on the day, the grouped counts added in
    /// (old codes mapped through merges), the 合计 and checks; and, when given, the house lists
    /// in the same row order.
    fn assemble(
        &self,
        form: Form,
        unit: &RegionCode,
        as_of: AsOf,
        groups: impl Iterator<Item = (String, Vec<i64>, Option<Vec<Vec<String>>>)>,
        online: BTreeMap<String, (i64, i64)>,
    ) -> (LedgerTable, Vec<Vec<Vec<String>>>) {
        let reference = self.reference();
        let day = region_day(as_of, self.now());
        let changes = &reference.region_changes;
        let level = if unit.level() >= RegionLevel::Town {
            RegionLevel::Village
        } else {
            RegionLevel::Town
        };
        let width = form.counts().len();
        let mut rows: BTreeMap<RegionCode, (LedgerRow, Vec<Vec<String>>)> = reference
            .regions
            .iter()
            .filter(|r| r.level == level && r.valid_on(day) && unit.contains(&r.code))
            .map(|r| {
                let name = name_on(&r.code, &r.name, day, changes);
                (
                    r.code,
                    (
                        LedgerRow::empty(r.code.as_str(), &name, form),
                        vec![Vec::new(); width],
                    ),
                )
            })
            .collect();
        for (code, counts, lists) in groups {
            let Ok(code) = RegionCode::parse(&code) else {
                continue;
            };
            let code = resolve_on(&code, day, changes);
            let (row, houses) = rows.entry(code).or_insert_with(|| {
                (
                    LedgerRow::empty(code.as_str(), code.as_str(), form),
                    vec![Vec::new(); width],
                )
            });
            for (a, b) in row.counts.iter_mut().zip(counts) {
                *a += b;
            }
            for (a, b) in houses.iter_mut().zip(lists.unwrap_or_default()) {
                a.extend(b);
            }
        }
        for (village, (confirmed, total)) in online {
            let Ok(v) = RegionCode::parse(&village) else {
                continue;
            };
            let code = resolve_on(
                &if level == RegionLevel::Village {
                    v
                } else {
                    v.town()
                },
                day,
                changes,
            );
            let (row, _) = rows.entry(code).or_insert_with(|| {
                (
                    LedgerRow::empty(code.as_str(), code.as_str(), form),
                    vec![Vec::new(); width],
                )
            });
            row.online_confirmed += confirmed;
            row.online_total += total;
        }
        let unit_name = reference
            .regions
            .iter()
            .find(|r| r.code == *unit)
            .map_or_else(
                || unit.to_string(),
                |r| name_on(&r.code, &r.name, day, changes),
            );
        let (rows, houses): (Vec<LedgerRow>, Vec<Vec<Vec<String>>>) = rows.into_values().unzip();
        (LedgerTable::build(form, &unit_name, as_of, rows), houses)
    }

    /// The houses counted in one cell: `column` of [`Form::counts`], in the row `group` (a town or
    /// village code as the ledger shows it), or in the 合计 row when `group` is `None`; a page
    /// at a time (`page`: its number from 1 and its size; `None` for all): how many there are,
    /// and the page's, by house code. Paged and counted in SQL, so that a county's 合计 over a
    /// million houses costs one page.
    pub(crate) async fn ledger_houses_page(
        &self,
        form: Form,
        scope: &Scope,
        as_of: AsOf,
        column: usize,
        group: Option<&RegionCode>,
        page: Option<(u64, u64)>,
    ) -> Result<(u64, Vec<LedgerHouse>)> {
        let Some(count) = form.counts().get(column).copied() else {
            return Ok((0, vec![]));
        };
        let reference = self.reference();
        let day = region_day(as_of, self.now());
        let by_village = self.unit_of(scope)?.level() >= RegionLevel::Town;
        // A row's region is its village's (or town's) code as recorded, resolved through the
        // merges in force on the day: the recorded codes that resolve to `group`.
        let in_group = match group {
            None => String::new(),
            Some(g) => {
                let level = if by_village {
                    RegionLevel::Village
                } else {
                    RegionLevel::Town
                };
                let codes: Vec<String> = reference
                    .regions
                    .iter()
                    .filter(|r| r.code.level() == level)
                    .filter(|r| resolve_on(&r.code, day, &reference.region_changes) == *g)
                    // Region codes are digits only (checked when parsed): safe to inline.
                    .map(|r| format!("'{}'", r.code.as_str()))
                    .collect();
                if codes.is_empty() {
                    return Ok((0, vec![]));
                }
                let column = if by_village {
                    "h.village_code"
                } else {
                    "h.town_code"
                };
                // One code as an equality, so `houses(town_code, code)` can serve the page.
                if codes.len() == 1 {
                    format!(" AND {column} = {}", codes[0])
                } else {
                    format!(" AND {column} IN ({})", codes.join(", "))
                }
            }
        };
        drop(reference);
        let rows_of = source(&self.db, form, as_of);
        let x = rows_of.house_alias();
        let from = format!(
            "{} AND {}{in_group}",
            rows_of.with_houses(),
            predicate(count)
        );
        let sp = ScopeParams::of(scope);
        let (limit, total) = match page {
            Some((number, size)) => {
                let sql = format!("SELECT COUNT(*) {from}");
                // Every page of a figure has the same total: counted once per write.
                let key = format!(
                    "{sql}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{as_of:?}",
                    sp.lo, sp.hi, sp.key
                );
                let total = self
                    .cached_total(key, async {
                        Ok(on_db!(&self.db, p => {
                            let q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(&sp.lo).bind(&sp.hi).bind(&sp.key);
                            bind_as_of!(q, as_of).fetch_one(p).await
                        })?)
                    })
                    .await?;
                let size = size.clamp(1, 1000);
                let offset = number.saturating_sub(1).saturating_mul(size);
                (
                    format!(" LIMIT {size} OFFSET {offset}"),
                    Some(total.max(0) as u64),
                )
            }
            None => (String::new(), None),
        };
        let sql = format!(
            "SELECT {x}.code, {x}.address, h.village_code, {x}.status {from} ORDER BY {x}.code{limit}"
        );
        let rows: Vec<(String, String, String, String)> =
            self.rows_as_of(sql, scope, as_of).await?;
        let houses: Vec<LedgerHouse> = rows
            .into_iter()
            .map(|(code, address, village_code, status)| LedgerHouse {
                code,
                address,
                village_code,
                status,
                imported_closure: None,
            })
            .collect();
        let mut houses = houses;
        if page.is_some() {
            self.mark_imported_closures(&mut houses).await?;
        }
        Ok((total.unwrap_or(houses.len() as u64), houses))
    }

    /// Notes, on a page of houses, each closure that rests on an imported ledger's record
    /// (confirmed in Anju by the account named).
    async fn mark_imported_closures(&self, houses: &mut [LedgerHouse]) -> Result<()> {
        if houses.is_empty() {
            return Ok(());
        }
        // House codes are checked digits: safe to inline.
        let codes: Vec<String> = houses
            .iter()
            .filter(|h| HouseCode::parse(&h.code).is_ok())
            .map(|h| format!("'{}'", h.code))
            .collect();
        let sql = format!(
            "SELECT h.code, e.actor_name FROM events e JOIN houses h ON h.id = e.house_id \
             WHERE e.kind = 'closed' AND e.evidence LIKE '%\"ledger_record\"%' AND h.code IN ({}) \
             ORDER BY e.seq",
            codes.join(", ")
        );
        let rows: Vec<(String, String)> =
            on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await)?;
        for (code, by) in rows {
            if let Some(h) = houses.iter_mut().find(|h| h.code == code) {
                h.imported_closure = Some(by);
            }
        }
        Ok(())
    }

    /// Per-town counts of today's projection.
    pub(crate) async fn town_totals(&self, scope: &Scope) -> Result<Vec<TownTotals>> {
        // Each count under the name of its `TownTotals` field.
        let counts = [
            ("surveyed", Count::new(Facts::SURVEYED, Facts::empty())),
            ("business", Count::new(Facts::BUSINESS, Facts::empty())),
            ("hazard", Count::new(Facts::HAZARD, Facts::empty())),
            ("appraised", Count::new(Facts::APPRAISED, Facts::empty())),
            ("cd", Count::new(Facts::CD, Facts::empty())),
            ("closed", Count::new(Facts::CLOSED, Facts::empty())),
            (
                "legacy_pending",
                Count::new(Facts::LEGACY, Facts::LOOK_BACK_DONE),
            ),
            (
                "needs_notice",
                Count::new(Facts::NEEDS_NOTICE, Facts::empty()),
            ),
            (
                "needs_engineering",
                Count::new(Facts::NEEDS_ENGINEERING, Facts::empty()),
            ),
            (
                "cd_engineered",
                Count::new(Facts::CD_ENGINEERED, Facts::empty()),
            ),
        ];
        let columns: Vec<String> = counts
            .iter()
            .map(|(name, c)| format!("{} AS {name}", sum(*c)))
            .collect();
        let sql = format!(
            "SELECT h.town_code, COUNT(*) AS houses, {} {} GROUP BY h.town_code ORDER BY h.town_code",
            columns.join(", "),
            source(&self.db, Form::Attachment2, AsOf::Now).sql()
        );
        let sp = ScopeParams::of(scope);
        Ok(
            on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key)
            .fetch_all(p).await)?,
        )
    }
}

/// The county of the reference data (the unit of an unscoped ledger), or the refusal that
/// names `anju init` on a database not yet set up.
pub(crate) fn county_of(regions: &[anju_domain::region::Region]) -> crate::Result<RegionCode> {
    regions
        .iter()
        .find(|r| r.level == RegionLevel::County)
        .map(|r| r.code)
        .ok_or_else(|| crate::StoreError::Invalid(crate::campaign::regions::NO_COUNTY.into()))
}

#[cfg(test)]
mod predicate_tests {
    use super::*;

    #[test]
    fn a_count_is_stated_bit_by_bit() {
        let c = Count::new(Facts::CLOSED.union(Facts::HAZARD), Facts::BUSINESS);
        assert_eq!(
            predicate(c),
            "(h.facts & 4) <> 0 AND (h.facts & 256) <> 0 AND (h.facts & 2) = 0"
        );
        assert_eq!(
            predicate(Count::new(Facts::SURVEYED, Facts::empty())),
            "(h.facts & 1) <> 0"
        );
        assert_eq!(
            predicate(Count::new(Facts::empty(), Facts::empty())),
            "1 = 1"
        );
    }
}
