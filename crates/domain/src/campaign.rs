//! The campaign's phases and deadlines (DOMAIN §8). Configurable; the notice's dates are the
//! defaults.

use crate::coded::Coded;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub phase: String,
    pub due: NaiveDate,
    /// What is overdue after the date (shown with the phase).
    pub overdue: String,
    /// What each town's progress in the phase is measured by, if anything countable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measure>,
}

impl Deadline {
    /// The measure's code, or "" when the phase has none.
    pub fn measure_code(&self) -> &'static str {
        self.measure.map_or("", Measure::code)
    }
}

crate::coded! {
    /// A countable measure of a phase's progress: done out of due, per town.
    pub enum Measure {
        /// Houses surveyed, of all houses.
        #[strum(message = "已排查/房屋总数")]
        Survey,
        /// Legacy closures looked back at, of all legacy closures.
        #[strum(message = "已回头看/历史销号")]
        LookBack,
        /// C/D houses whose engineering is accepted, of all C/D houses.
        #[strum(message = "C、D级已完成工程措施/C、D级")]
        Engineering,
        /// Hazard houses closed, of all hazard houses.
        #[strum(message = "已销号/初判隐患")]
        Closure,
    }
}

/// A town's progress in one phase: done of due, and how many days the phase is overdue
/// while work remains (0 when on time or complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseProgress {
    pub done: i64,
    pub due: i64,
    pub days_over: i64,
}

impl PhaseProgress {
    pub fn new(done: i64, due: i64, deadline: NaiveDate, today: NaiveDate) -> PhaseProgress {
        let left = days_left(deadline, today);
        PhaseProgress {
            done,
            due,
            days_over: if done < due && left < 0 { -left } else { 0 },
        }
    }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

/// The notice's timeline.
pub fn default_deadlines() -> Vec<Deadline> {
    vec![
        Deadline {
            phase: "全面复查复核（含附件1回头看）".into(),
            due: d(2024, 4, 30),
            overdue: "历史销号未回头看".into(),
            measure: Some(Measure::LookBack),
        },
        Deadline {
            phase: "攻坚行动报告报送（附件1、附件2签字）".into(),
            due: d(2024, 6, 5),
            overdue: "台账未签字报送".into(),
            measure: None,
        },
        Deadline {
            phase: "集中整治攻坚（C、D级及明显危险房屋完成工程措施）".into(),
            due: d(2024, 6, 15),
            overdue: "C、D级未采取工程措施".into(),
            measure: Some(Measure::Engineering),
        },
        Deadline {
            phase: "验收评估".into(),
            due: d(2024, 6, 30),
            overdue: "未完成验收评估".into(),
            measure: Some(Measure::Closure),
        },
    ]
}

/// Days from `today` to `due`: positive ahead, negative overdue.
pub fn days_left(due: NaiveDate, today: NaiveDate) -> i64 {
    (due - today).num_days()
}

/// A town's progress, the input of the county ranking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TownProgress {
    pub code: String,
    pub name: String,
    pub houses: i64,
    pub surveyed: i64,
    pub hazard: i64,
    pub closed: i64,
    /// Legacy closures whose look-back is not done.
    pub legacy_pending: i64,
    /// C/D (or obviously unsafe) houses without engineering started.
    pub needs_engineering: i64,
    pub problems: crate::problem::ProblemCounts,
}

/// One line of the ranking (通报): the rates it is ranked by and the resulting place.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub place: usize,
    pub town: TownProgress,
    /// 排查率 = surveyed / houses.
    pub survey_rate: crate::ledger::Rate,
    /// 隐患销号率 = closed / hazard.
    pub closure_rate: crate::ledger::Rate,
    pub confirmation_rate: crate::ledger::Rate,
    pub rectification_rate: crate::ledger::Rate,
    /// The mean of the rates that have a denominator, in hundredths of a percent; `None`
    /// when none has.
    pub score: Option<i64>,
}

/// Ranks towns by progress, the lagging town first: by the mean of 排查率, 隐患销号率,
/// 问题确认率 and 问题整改率 (a rate without a denominator is left out of the mean, not
/// counted as 0 or 100%), then by more open work (legacy closures not looked back, C/D
/// without engineering), then by town code. A town with no rate at all comes last.
pub fn rank(towns: Vec<TownProgress>) -> Vec<Ranked> {
    use crate::ledger::Rate;
    let mut out: Vec<Ranked> = towns
        .into_iter()
        .map(|t| {
            let survey_rate = Rate::new(t.surveyed, t.houses);
            let closure_rate = Rate::new(t.closed, t.hazard);
            let confirmation_rate = t.problems.confirmation_rate();
            let rectification_rate = t.problems.rectification_rate();
            let bps: Vec<i64> = [
                survey_rate,
                closure_rate,
                confirmation_rate,
                rectification_rate,
            ]
            .iter()
            .filter_map(|r| r.basis_points())
            .collect();
            let score = (!bps.is_empty()).then(|| {
                let n = bps.len() as i64;
                (bps.iter().sum::<i64>() * 2 + n) / (n * 2)
            });
            Ranked {
                place: 0,
                town: t,
                survey_rate,
                closure_rate,
                confirmation_rate,
                rectification_rate,
                score,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |r: &Ranked| (r.score.is_none(), r.score);
        let open = |r: &Ranked| r.town.legacy_pending + r.town.needs_engineering;
        key(a)
            .cmp(&key(b))
            .then(open(b).cmp(&open(a)))
            .then(a.town.code.cmp(&b.town.code))
    });
    for (i, r) in out.iter_mut().enumerate() {
        r.place = i + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemCounts;

    fn town(code: &str, houses: i64, surveyed: i64, hazard: i64, closed: i64) -> TownProgress {
        TownProgress {
            code: code.into(),
            name: code.into(),
            houses,
            surveyed,
            hazard,
            closed,
            ..TownProgress::default()
        }
    }

    #[test]
    fn the_lagging_town_comes_first_with_hand_computed_scores() {
        // A: 排查 10/10 = 100%, 销号 1/4 = 25%, no problems → (10000 + 2500) / 2 = 6250.
        let a = town("A", 10, 10, 4, 1);
        // B: 排查 5/10 = 50%, 销号 0/2 = 0%, 问题确认 1/2 = 50%, 整改 0/1 = 0%
        //    → (5000 + 0 + 5000 + 0) / 4 = 2500.
        let mut b = town("B", 10, 5, 2, 0);
        b.problems = ProblemCounts {
            total: 2,
            with_verdict: 1,
            found_true: 1,
            closed: 0,
        };
        // C: 排查 2/3 = 66.67%, no hazard → 6667.
        let c = town("C", 3, 2, 0, 0);
        // D: no houses at all → no score, last.
        let d = town("D", 0, 0, 0, 0);
        let ranked = rank(vec![a, d, c, b]);
        let order: Vec<(&str, usize, Option<i64>)> = ranked
            .iter()
            .map(|r| (r.town.code.as_str(), r.place, r.score))
            .collect();
        assert_eq!(
            order,
            [
                ("B", 1, Some(2500)),
                ("A", 2, Some(6250)),
                ("C", 3, Some(6667)),
                ("D", 4, None)
            ]
        );
        assert_eq!(ranked[1].closure_rate.display(), "25.00%");
        assert_eq!(ranked[2].closure_rate.display(), "—");
    }

    #[test]
    fn a_phase_is_overdue_only_while_work_remains() {
        let due = NaiveDate::from_ymd_opt(2024, 4, 30).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2024, 5, d).unwrap();
        assert_eq!(PhaseProgress::new(1, 3, due, day(3)).days_over, 3);
        assert_eq!(
            PhaseProgress::new(3, 3, due, day(3)).days_over,
            0,
            "complete"
        );
        let before = NaiveDate::from_ymd_opt(2024, 4, 29).unwrap();
        assert_eq!(
            PhaseProgress::new(0, 3, due, before).days_over,
            0,
            "not yet due"
        );
        assert_eq!(
            PhaseProgress::new(0, 0, due, day(9)).days_over,
            0,
            "nothing due"
        );
    }

    #[test]
    fn equal_scores_put_more_open_work_first() {
        let mut a = town("A", 4, 2, 0, 0);
        let mut b = town("B", 4, 2, 0, 0);
        a.legacy_pending = 1;
        b.needs_engineering = 3;
        let ranked = rank(vec![a, b]);
        assert_eq!(ranked[0].town.code, "B");
    }
}
