//! The house list: filters, search, sort and pages over the projection, always within a scope.
//!
//! The statement is assembled from the conditions actually present (every value a bound
//! parameter, never spliced in), so the planner sees what it can use: the scope, the town and
//! the village filters fold into one range on `village_code`, and a single town or village is
//! also stated as an equality so `houses(town_code, code)` serves "this town, by code" in order.
//! Totals are cached per statement and parameters, keyed by the audit chain's head: every write
//! appends an audit row under the head's row lock, so an unchanged head means unchanged houses.

use crate::infra::error::Result;
use crate::infra::scope::ScopeParams;
use crate::{Store, on_db};
use anju_domain::Coded;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement};
use anju_domain::ledger::Facts;
use anju_domain::state::Status;
use anju_domain::{HouseCode, Scope};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Overdue work the dashboard and the list single out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overdue {
    /// C/D (or obviously unsafe) without the owner notified.
    NeedsNotice,
    /// C/D without engineering started.
    NeedsEngineering,
    /// A legacy closure whose look-back is not done.
    LookBack,
}

impl Overdue {
    pub const ALL: &'static [Overdue] = &[
        Overdue::NeedsNotice,
        Overdue::NeedsEngineering,
        Overdue::LookBack,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Overdue::NeedsNotice => "C/D级未告知产权人",
            Overdue::NeedsEngineering => "C/D级未采取工程措施",
            Overdue::LookBack => "历史销号待回头看",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Overdue::NeedsNotice => "needs_notice",
            Overdue::NeedsEngineering => "needs_engineering",
            Overdue::LookBack => "look_back",
        }
    }

    pub fn from_code(s: &str) -> Option<Overdue> {
        Overdue::ALL.iter().copied().find(|o| o.code() == s)
    }

    /// Facts that must all be set, and facts that must all be clear.
    fn masks(self) -> (Facts, Facts) {
        match self {
            Overdue::NeedsNotice => (Facts::NEEDS_NOTICE, Facts::empty()),
            Overdue::NeedsEngineering => (Facts::NEEDS_ENGINEERING, Facts::empty()),
            Overdue::LookBack => (Facts::LEGACY, Facts::LOOK_BACK_DONE),
        }
    }
}

/// The highest page number a list serves (a bigger one is answered as this one, never as an
/// arithmetic overflow in the OFFSET).
pub const MAX_PAGE: i64 = 1_000_000;

/// What the list is narrowed to (all optional; the scope always applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseFilter {
    pub town: Option<RegionCode>,
    pub village: Option<RegionCode>,
    pub business: Option<bool>,
    /// The supervising department of a business-use house (by its business types).
    pub department: Option<String>,
    pub status: Option<Status>,
    pub judgement: Option<Judgement>,
    pub grade: Option<Grade>,
    pub overdue: Option<Overdue>,
    /// A house code, part of an address, or the start of an owner's name.
    pub q: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Code,
    /// Most recently changed first.
    Updated,
    Address,
}

impl Sort {
    pub fn code(self) -> &'static str {
        match self {
            Sort::Code => "code",
            Sort::Updated => "updated",
            Sort::Address => "address",
        }
    }

    pub fn from_code(s: &str) -> Option<Sort> {
        [Sort::Code, Sort::Updated, Sort::Address]
            .into_iter()
            .find(|x| x.code() == s)
    }
}

/// One line of the list, read by column name from the list's statement. The JSON API answers
/// with it as it is; the field docs are its descriptions there, so in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(description = "清单中的一行。")
)]
pub struct HouseSummary {
    pub code: String,
    pub town_code: String,
    pub village_code: String,
    pub address: String,
    pub is_business: bool,
    /// 办理状态代码（见 `HouseStatus`）
    pub status: String,
    /// 初判代码（见 `Judgement`）
    pub judgement: Option<String>,
    /// 鉴定等级代码（见 `Grade`）
    pub grade: Option<String>,
    pub owner_name: Option<String>,
    /// 最近一步的现场日期
    pub last_effective: NaiveDate,
    /// 最近改动时间：Unix 纪元以来的微秒数
    pub updated_at: i64,
}

/// A page of the list and how many houses match in all (the JSON API's answer as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(description = "房屋清单的一页。")
)]
pub struct HousePage {
    pub houses: Vec<HouseSummary>,
    /// 符合条件的房屋总数
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Escapes `%`, `_` and `\` for a LIKE pattern (with `ESCAPE` not needed: none is left).
fn like_literal(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\'))
        .collect()
}

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// Binds `binds` in order to a query of whichever backend.
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut q = $query;
        for b in $binds {
            q = match b {
                Bind::Text(t) => q.bind(t.clone()),
                Bind::Int(i) => q.bind(*i),
                Bind::Bool(v) => q.bind(*v),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

/// A WHERE clause under construction: conditions and their parameters.
#[derive(Default)]
pub(crate) struct Where {
    pub(crate) conds: Vec<String>,
    pub(crate) binds: Vec<Bind>,
}

impl Where {
    /// The placeholder of a new parameter.
    pub(crate) fn p(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
    fn eq_text(&mut self, col: &str, v: Option<&str>) {
        if let Some(v) = v {
            let p = self.p(Bind::Text(v.to_string()));
            self.conds.push(format!("{col} = {p}"));
        }
    }
}

/// Totals by statement and parameters, with the audit head they were counted at.
#[derive(Default)]
pub(crate) struct CountCache {
    map: std::collections::HashMap<String, (i64, i64)>,
}

const COUNT_CACHE_MAX: usize = 4096;

/// The prefix range of a region's codes (as `ScopeParams` computes for a scope).
fn region_range(code: &RegionCode) -> (String, String) {
    let p = ScopeParams::of(&Scope::Region { code: *code });
    (p.lo, p.hi)
}

/// The WHERE clause of the houses within `scope` that match `filter` (alias `h`).
pub(crate) fn where_of(scope: &Scope, filter: &HouseFilter) -> Where {
    let sp = ScopeParams::of(scope);
    let mut w = Where::default();
    // One range on village_code: the scope's, narrowed by the town and village filters.
    let (mut lo, mut hi) = (sp.lo.clone(), sp.hi.clone());
    for r in [filter.town, filter.village].into_iter().flatten() {
        let (l, h) = region_range(&r);
        lo = lo.max(l);
        hi = hi.min(h);
    }
    // A single town (by filter or by the account's scope), stated as an equality for the
    // (town_code, code) index; a village likewise.
    let town = filter.town.or(match scope {
        Scope::Region { code } if code.level() == anju_domain::RegionLevel::Town => Some(*code),
        _ => None,
    });
    // The range is implied by an equality that lies wholly inside it; otherwise it stays
    // (and, for a town outside the scope, matches nothing).
    let implied = [filter.village, town].into_iter().flatten().any(|r| {
        let (l, h) = region_range(&r);
        sp.lo <= l && h <= sp.hi
    });
    if !implied {
        let plo = w.p(Bind::Text(lo));
        let phi = w.p(Bind::Text(hi));
        w.conds.push(format!(
            "h.village_code >= {plo} AND h.village_code < {phi}"
        ));
    }
    w.eq_text("h.town_code", town.map(|t| t.to_string()).as_deref());
    w.eq_text(
        "h.village_code",
        filter.village.map(|v| v.to_string()).as_deref(),
    );
    if let Some(key) = &sp.key {
        let p = w.p(Bind::Text(key.clone()));
        w.conds.push(format!(
            "(EXISTS (SELECT 1 FROM house_sectors s WHERE s.house_id = h.id AND s.department_code = {p}) \
             OR EXISTS (SELECT 1 FROM assignments a WHERE a.assignee = {p} AND a.house_id = h.id))"
        ));
    }
    if let Some(b) = filter.business {
        let p = w.p(Bind::Bool(b));
        w.conds.push(format!("h.is_business = {p}"));
    }
    if let Some(d) = &filter.department {
        let p = w.p(Bind::Text(d.clone()));
        w.conds.push(format!(
            "EXISTS (SELECT 1 FROM house_sectors d WHERE d.house_id = h.id AND d.department_code = {p})"
        ));
    }
    w.eq_text("h.status", filter.status.map(|s| s.code()));
    w.eq_text("h.judgement", filter.judgement.map(|j| j.code()));
    w.eq_text("h.grade", filter.grade.map(|g| g.code()));
    if let Some(o) = filter.overdue {
        let (set, clear) = o.masks();
        let ps = w.p(Bind::Int(i64::from(set.bits())));
        let pc = w.p(Bind::Int(i64::from(clear.bits())));
        w.conds
            .push(format!("(h.facts & {ps}) = {ps} AND (h.facts & {pc}) = 0"));
    }
    let q = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().take(50).collect::<String>());
    if let Some(q) = q {
        let code = match HouseCode::parse(&q) {
            Ok(c) => c.to_string(),
            Err(_) => q.clone(),
        };
        let pc = w.p(Bind::Text(code));
        let pa = w.p(Bind::Text(format!("%{}%", like_literal(&q))));
        let po = w.p(Bind::Text(format!("{}%", like_literal(&q))));
        w.conds.push(format!(
            "(h.code = {pc} OR h.address LIKE {pa} \
             OR EXISTS (SELECT 1 FROM house_people o WHERE o.house_id = h.id AND o.owner_name LIKE {po}))"
        ));
    }
    w
}

impl Store {
    /// The states of the houses within `scope` that match `filter`, by code, at most `limit`
    /// (for ledgers that need more than the list's columns). `Err(Invalid)` names how many
    /// match when there are more.
    pub(crate) async fn house_states(
        &self,
        scope: &Scope,
        filter: &HouseFilter,
        limit: i64,
    ) -> Result<Vec<anju_domain::HouseState>> {
        let w = where_of(scope, filter);
        let cond = w.conds.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) FROM houses h WHERE {cond}");
        let mut binds = w.binds;
        let total = self.cached_count(&count_sql, &binds).await?;
        if total > limit {
            return Err(crate::StoreError::Invalid(format!(
                "符合条件的房屋有 {total} 栋，超过单次导出上限 {limit} 栋，请增加筛选条件"
            )));
        }
        binds.push(Bind::Int(limit));
        let sql = format!(
            "SELECT h.state, {} FROM houses h WHERE {cond} ORDER BY h.code LIMIT ${}",
            crate::record_payload_sql!(),
            binds.len()
        );
        let rows: Vec<(String, Option<String>)> = on_db!(&self.db, p => {
            let query = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &binds);
            query.fetch_all(p).await
        })?;
        rows.iter()
            .map(|(state, record)| crate::houses::parse_state(state, record.as_deref()))
            .collect()
    }

    /// A page (1-based) of the houses within `scope` that match `filter`.
    pub(crate) async fn houses_page(
        &self,
        scope: &Scope,
        filter: &HouseFilter,
        sort: Sort,
        page: i64,
        per_page: i64,
    ) -> Result<HousePage> {
        let per_page = per_page.clamp(1, 500);
        let page = page.clamp(1, MAX_PAGE);
        if let Some(q) = &filter.q {
            anju_domain::text::check("搜索", q, 100).map_err(crate::StoreError::Invalid)?;
        }
        let w = where_of(scope, filter);
        let cond = w.conds.join(" AND ");
        let order = match sort {
            Sort::Code => "h.code",
            Sort::Updated => "h.updated_at DESC, h.code",
            Sort::Address => "h.address, h.code",
        };
        let count_sql = format!("SELECT COUNT(*) FROM houses h WHERE {cond}");
        let mut binds = w.binds;
        let total = self.cached_count(&count_sql, &binds).await?;
        let pl = binds.len() + 1;
        binds.push(Bind::Int(per_page));
        binds.push(Bind::Int((page - 1) * per_page));
        let sql = format!(
            "SELECT h.code, h.town_code, h.village_code, h.address, h.is_business, h.status, h.judgement, h.grade, \
             (SELECT o.owner_name FROM house_people o WHERE o.house_id = h.id) AS owner_name, h.last_effective, h.updated_at \
             FROM houses h WHERE {cond} ORDER BY {order} LIMIT ${pl} OFFSET ${}",
            pl + 1
        );
        let houses: Vec<HouseSummary> = on_db!(&self.db, p => {
            let query = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &binds);
            query.fetch_all(p).await
        })?;
        Ok(HousePage {
            houses,
            total,
            page,
            per_page,
        })
    }

    /// `COUNT(*)` of a list statement, from the cache while no write has happened since.
    async fn cached_count(&self, sql: &str, binds: &[Bind]) -> Result<i64> {
        let key = format!("{sql}\u{1f}{binds:?}");
        self.cached_total(key, async {
            Ok(on_db!(&self.db, p => {
                let query = bind_all!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())), binds);
                query.fetch_one(p).await
            })?)
        })
        .await
    }

    /// The id of the last audit row (0 before any): every write appends one, so an unchanged
    /// head means unchanged houses. What the list's totals and the map's answers are kept by.
    pub(crate) async fn audit_head_id(&self) -> Result<i64> {
        const HEAD: &str = "SELECT last_id FROM audit_head WHERE id = 1";
        let head: Option<i64> =
            on_db!(&self.db, p => sqlx::query_scalar(HEAD).fetch_optional(p).await)?;
        Ok(head.unwrap_or(0))
    }

    /// A count (or any figure of the houses) under `key` — the statement and everything bound
    /// to it — from the cache while the audit chain's head has not moved (every write appends
    /// an audit row, so an unchanged head means unchanged houses), else `count`, then kept.
    pub(crate) async fn cached_total(
        &self,
        key: String,
        count: impl std::future::Future<Output = Result<i64>>,
    ) -> Result<i64> {
        let head = self.audit_head_id().await?;
        if let Some((at, n)) = self.counts.lock().expect("count cache").map.get(&key)
            && *at == head
        {
            return Ok(*n);
        }
        let n = count.await?;
        let mut cache = self.counts.lock().expect("count cache");
        if cache.map.len() >= COUNT_CACHE_MAX {
            cache.map.retain(|_, (at, _)| *at == head);
            if cache.map.len() >= COUNT_CACHE_MAX {
                cache.map.clear();
            }
        }
        cache.map.insert(key, (head, n));
        Ok(n)
    }
}
