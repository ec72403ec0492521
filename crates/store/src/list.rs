//! The house list: filters, search, sort and pages over the projection, always within a scope.
//! One constant statement per sort order; every filter is a parameter that may be NULL.

use crate::error::Result;
use crate::scope::ScopeParams;
use crate::{Store, on_db, scope_sql};
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

/// One line of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseSummary {
    pub code: String,
    pub town_code: String,
    pub village_code: String,
    pub address: String,
    pub is_business: bool,
    pub status: String,
    pub judgement: Option<String>,
    pub grade: Option<String>,
    pub owner_name: Option<String>,
    pub last_effective: NaiveDate,
    pub updated_at: i64,
}

/// A page of the list and how many houses match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HousePage {
    pub houses: Vec<HouseSummary>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// The filter conditions on alias `h`, parameters `$4` … `$14` (after the scope's three).
macro_rules! filter_sql {
    () => {
        " AND (CAST($4 AS TEXT) IS NULL OR h.town_code = $4) \
          AND (CAST($5 AS TEXT) IS NULL OR h.village_code = $5) \
          AND (CAST($6 AS BOOLEAN) IS NULL OR h.is_business = $6) \
          AND (CAST($7 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM house_sectors d WHERE d.house_id = h.id AND d.department_code = $7)) \
          AND (CAST($8 AS TEXT) IS NULL OR h.status = $8) \
          AND (CAST($9 AS TEXT) IS NULL OR h.judgement = $9) \
          AND (CAST($10 AS TEXT) IS NULL OR h.grade = $10) \
          AND (h.facts & $11) = $11 AND (h.facts & $12) = 0 \
          AND (CAST($13 AS TEXT) IS NULL OR h.code = $13 OR h.address LIKE $14 \
               OR EXISTS (SELECT 1 FROM house_people o WHERE o.house_id = h.id AND o.owner_name LIKE $15))"
    };
}

macro_rules! page_sql {
    ($order:literal) => {
        concat!(
            "SELECT h.code, h.town_code, h.village_code, h.address, h.is_business, h.status, h.judgement, h.grade, \
             (SELECT o.owner_name FROM house_people o WHERE o.house_id = h.id), h.last_effective, h.updated_at \
             FROM houses h WHERE ",
            scope_sql!(),
            filter_sql!(),
            " ORDER BY ",
            $order,
            " LIMIT $16 OFFSET $17"
        )
    };
}

const BY_CODE: &str = page_sql!("h.code");
const BY_UPDATED: &str = page_sql!("h.updated_at DESC, h.code");
const BY_ADDRESS: &str = page_sql!("h.address, h.code");
const COUNT: &str = concat!(
    "SELECT COUNT(*) FROM houses h WHERE ",
    scope_sql!(),
    filter_sql!()
);

/// Escapes `%`, `_` and `\` for a LIKE pattern (with `ESCAPE` not needed: none is left).
fn like_literal(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\'))
        .collect()
}

type Row = (
    String,
    String,
    String,
    String,
    bool,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDate,
    i64,
);

impl Store {
    /// A page (1-based) of the houses within `scope` that match `filter`.
    pub async fn houses_page(
        &self,
        scope: &Scope,
        filter: &HouseFilter,
        sort: Sort,
        page: i64,
        per_page: i64,
    ) -> Result<HousePage> {
        let per_page = per_page.clamp(1, 500);
        let page = page.max(1);
        let sp = ScopeParams::of(scope);
        let (set, clear) = filter
            .overdue
            .map_or((Facts::empty(), Facts::empty()), Overdue::masks);
        let q = filter
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(|q| q.chars().take(50).collect::<String>());
        let code_q = q.as_deref().map(|q| match HouseCode::parse(q) {
            Ok(c) => c.to_string(),
            Err(_) => q.to_string(),
        });
        let like_any = q.as_deref().map(|q| format!("%{}%", like_literal(q)));
        let like_start = q.as_deref().map(|q| format!("{}%", like_literal(q)));
        let sql = match sort {
            Sort::Code => BY_CODE,
            Sort::Updated => BY_UPDATED,
            Sort::Address => BY_ADDRESS,
        };
        macro_rules! bind_all {
            ($q:expr) => {
                $q.bind(&sp.lo)
                    .bind(&sp.hi)
                    .bind(&sp.key)
                    .bind(filter.town.map(|c| c.to_string()))
                    .bind(filter.village.map(|c| c.to_string()))
                    .bind(filter.business)
                    .bind(&filter.department)
                    .bind(filter.status.map(|s| s.code()))
                    .bind(filter.judgement.map(|j| j.code()))
                    .bind(filter.grade.map(|g| g.code()))
                    .bind(set.bits() as i32)
                    .bind(clear.bits() as i32)
                    .bind(&code_q)
                    .bind(&like_any)
                    .bind(&like_start)
            };
        }
        let rows: Vec<Row> = on_db!(&self.db, p => bind_all!(sqlx::query_as(sql))
            .bind(per_page).bind((page - 1) * per_page).fetch_all(p).await)?;
        let total: i64 =
            on_db!(&self.db, p => bind_all!(sqlx::query_scalar(COUNT)).fetch_one(p).await)?;
        let houses = rows
            .into_iter()
            .map(|r| HouseSummary {
                code: r.0,
                town_code: r.1,
                village_code: r.2,
                address: r.3,
                is_business: r.4,
                status: r.5,
                judgement: r.6,
                grade: r.7,
                owner_name: r.8,
                last_effective: r.9,
                updated_at: r.10,
            })
            .collect();
        Ok(HousePage {
            houses,
            total,
            page,
            per_page,
        })
    }
}
