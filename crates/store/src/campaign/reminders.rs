//! What an account must do next (the bell): counts by kind, each linking to its list, and the
//! county ranking of towns (通报) built from the same figures as the dashboard.

use crate::infra::error::Result;
use crate::infra::scope::ScopeParams;
use crate::{Store, on_db};
use anju_domain::Coded;
use anju_domain::Scope;
use anju_domain::auth::Principal;
use anju_domain::campaign::{Ranked, TownProgress, days_left, rank};
use anju_domain::event::Role;
use anju_domain::problem::ProblemStatus;
use anju_domain::state::Status;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// One reminder: what, how many, where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub label: String,
    pub count: i64,
    pub href: String,
}

impl Store {
    /// Houses in scope per lifecycle status.
    pub(crate) async fn status_counts(&self, scope: &Scope) -> Result<BTreeMap<String, i64>> {
        const SQL: &str = concat!(
            "SELECT h.status, COUNT(*) FROM houses h WHERE ",
            crate::scope_sql!(),
            " GROUP BY h.status"
        );
        let sp = ScopeParams::of(scope);
        let rows: Vec<(String, i64)> = on_db!(&self.db, p => sqlx::query_as(SQL)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).fetch_all(p).await)?;
        Ok(rows.into_iter().collect())
    }

    /// The reminders of `who` on `today`, only those with something to do.
    pub async fn reminders(&self, who: &Principal, today: NaiveDate) -> Result<Vec<Reminder>> {
        let scope = who.scope();
        let mut out = Vec::new();
        let mut push = |label: String, count: i64, href: &str| {
            if count > 0 {
                out.push(Reminder {
                    label,
                    count,
                    href: href.to_string(),
                });
            }
        };
        let statuses = self.status_counts(&scope).await?;
        let status = |s: Status| statuses.get(s.code()).copied().unwrap_or(0);
        let problems = self.problems(&scope, None).await?;
        let problem_count =
            |st: ProblemStatus| problems.iter().filter(|p| p.status == st).count() as i64;
        let due_soon = problems
            .iter()
            .filter(|p| p.status.is_open())
            .filter_map(|p| p.deadline)
            .filter(|d| (0..=7).contains(&days_left(*d, today)))
            .count() as i64;
        let overdue = problems
            .iter()
            .filter(|p| p.status.is_open())
            .filter_map(|p| p.deadline)
            .filter(|d| days_left(*d, today) < 0)
            .count() as i64;
        match who.role {
            Role::TownOperator | Role::TownPrincipal | Role::Department => {
                push(
                    "问题待确认".into(),
                    problem_count(ProblemStatus::Pending),
                    "/problems?status=pending",
                );
                push(
                    "问题待整改".into(),
                    problem_count(ProblemStatus::Confirmed)
                        + problem_count(ProblemStatus::Rectifying),
                    "/problems",
                );
                push("问题整改期限 7 天内到期".into(), due_soon, "/problems");
                push("问题已超整改期限".into(), overdue, "/problems");
            }
            Role::CountyOffice | Role::Inspector => {
                push(
                    "问题已整改待核验".into(),
                    problem_count(ProblemStatus::Rectified),
                    "/problems?status=rectified",
                );
                push(
                    "不属实申辩待审核".into(),
                    problem_count(ProblemStatus::Disputed),
                    "/problems?status=disputed",
                );
                push("问题已超整改期限".into(), overdue, "/problems");
            }
            _ => {}
        }
        match who.role {
            Role::TownPrincipal | Role::CountyOffice => push(
                "房屋待销号审批".into(),
                status(Status::AwaitingClosure),
                "/houses?status=awaiting_closure",
            ),
            Role::TechReviewer => {
                push(
                    "分派给您待复核的房屋".into(),
                    status(Status::AwaitingAssessment),
                    "/houses?status=awaiting_assessment",
                );
                push(
                    "分派给您待回头看的房屋".into(),
                    status(Status::AwaitingLookBack),
                    "/houses?status=awaiting_look_back",
                );
            }
            Role::Appraiser => push(
                "分派给您待鉴定的房屋".into(),
                status(Status::AwaitingAssessment),
                "/houses?status=awaiting_assessment",
            ),
            Role::TownOperator => push(
                "历史销号待回头看".into(),
                status(Status::AwaitingLookBack),
                "/lookback",
            ),
            _ => {}
        }
        if matches!(who.role, Role::TownOperator | Role::TownPrincipal) {
            let waiting = self
                .supervisions(&scope)
                .await?
                .iter()
                .filter(|s| s.answer.is_none())
                .count() as i64;
            push("督办通知待答复".into(), waiting, "/supervision");
        }
        if matches!(
            who.role,
            Role::CountyOffice | Role::TownOperator | Role::TownPrincipal
        ) {
            for d in self.deadlines().await? {
                let left = days_left(d.due, today);
                if (0..=7).contains(&left) {
                    push(
                        format!("{}：{} 到期（剩 {left} 天）", d.phase, d.due),
                        1,
                        "/",
                    );
                }
            }
        }
        Ok(out)
    }

    /// The towns within `scope` ranked by progress, the lagging first.
    pub(crate) async fn ranking(&self, scope: &Scope) -> Result<Vec<Ranked>> {
        let totals = self.town_totals(scope).await?;
        let problems = self.problem_counts(scope).await?;
        let reference = self.reference();
        let name = |code: &str| {
            reference
                .regions
                .iter()
                .find(|r| r.code.as_str() == code)
                .map_or_else(|| code.to_string(), |r| r.name.clone())
        };
        let mut towns: BTreeMap<String, TownProgress> = BTreeMap::new();
        for t in totals {
            towns.insert(
                t.town_code.clone(),
                TownProgress {
                    name: name(&t.town_code),
                    code: t.town_code,
                    houses: t.houses,
                    surveyed: t.surveyed,
                    hazard: t.hazard,
                    closed: t.closed,
                    legacy_pending: t.legacy_pending,
                    needs_engineering: t.needs_engineering,
                    problems: Default::default(),
                },
            );
        }
        for (town, counts) in problems {
            let entry = towns.entry(town.clone()).or_insert_with(|| TownProgress {
                name: name(&town),
                code: town.clone(),
                ..TownProgress::default()
            });
            entry.problems = counts;
        }
        Ok(rank(towns.into_values().collect()))
    }
}
