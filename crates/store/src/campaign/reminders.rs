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
        let mut push = |label: &str, (count, href): (i64, String)| {
            if count > 0 {
                out.push(Reminder {
                    label: label.to_string(),
                    count,
                    href,
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
        let to_fix =
            problem_count(ProblemStatus::Confirmed) + problem_count(ProblemStatus::Rectifying);
        // How many, and the list that shows them: a list filtered to one status, or another.
        let problems_in =
            |st: ProblemStatus| (problem_count(st), format!("/problems?status={}", st.code()));
        let houses_in = |st: Status| (status(st), format!("/houses?status={}", st.code()));
        let at = |count: i64, href: &str| (count, href.to_string());
        let problem_lists = match who.role {
            Role::TownOperator | Role::TownPrincipal | Role::Department => vec![
                ("问题待确认", problems_in(ProblemStatus::Pending)),
                ("问题待整改", at(to_fix, "/problems")),
                ("问题整改期限 7 天内到期", at(due_soon, "/problems")),
                ("问题已超整改期限", at(overdue, "/problems")),
            ],
            Role::CountyOffice | Role::Inspector => vec![
                ("问题已整改待核验", problems_in(ProblemStatus::Rectified)),
                ("不属实申辩待审核", problems_in(ProblemStatus::Disputed)),
                ("问题已超整改期限", at(overdue, "/problems")),
            ],
            _ => vec![],
        };
        let house_lists = match who.role {
            Role::TownPrincipal | Role::CountyOffice => {
                vec![("房屋待销号审批", houses_in(Status::AwaitingClosure))]
            }
            Role::TechReviewer => vec![
                (
                    "分派给您待复核的房屋",
                    houses_in(Status::AwaitingAssessment),
                ),
                (
                    "分派给您待回头看的房屋",
                    houses_in(Status::AwaitingLookBack),
                ),
            ],
            Role::Appraiser => vec![(
                "分派给您待鉴定的房屋",
                houses_in(Status::AwaitingAssessment),
            )],
            Role::TownOperator => {
                vec![(
                    "历史销号待回头看",
                    at(status(Status::AwaitingLookBack), "/lookback"),
                )]
            }
            _ => vec![],
        };
        for (label, found) in problem_lists.into_iter().chain(house_lists) {
            push(label, found);
        }
        if matches!(who.role, Role::TownOperator | Role::TownPrincipal) {
            let waiting = self
                .supervisions(&scope)
                .await?
                .iter()
                .filter(|s| s.answer.is_none())
                .count() as i64;
            push("督办通知待答复", at(waiting, "/supervision"));
        }
        if matches!(
            who.role,
            Role::CountyOffice | Role::TownOperator | Role::TownPrincipal
        ) {
            for d in self.deadlines().await? {
                let left = days_left(d.due, today);
                if (0..=7).contains(&left) {
                    let label = format!("{}：{} 到期（剩 {left} 天）", d.phase, d.due);
                    push(&label, at(1, "/"));
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
        let name = |code: &str| reference.region_name(code);
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
