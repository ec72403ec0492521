//! The demo's problem ledger (问题台账, DOMAIN §7): batches sent down by the online inspection
//! (线上巡检), the ministry's third-party verification (第三方现场核实) and the work teams
//! (四进工作队), each problem about a house whose story fits it, walked to a realistic state —
//! pending, confirmed, disputed (and decided), under rectification, fixed awaiting verification,
//! verified and closed — some of them past their deadline. Every step is decided here by
//! `decide_problem` (a step it refuses is a bug in the demo) and again by the store when the
//! plan is written. Pure: the plan names the instants the steps happen at; the writer sets the
//! store's clock to them.

use crate::{Demo, DemoHouse, Path, Rng, town_actor};
use anju_domain::codes::RegionCode;
use anju_domain::event::{Actor, Evidence, EvidenceKind, Role};
use anju_domain::problem::{
    ProblemAction, ProblemCategory, ProblemSource, ProblemStatus, decide_problem,
};
use anju_domain::state::Status;
use anju_domain::{HouseCode, sample};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

/// A batch as the county office sends it down.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedBatch {
    pub source: ProblemSource,
    pub name: String,
    pub issued_on: NaiveDate,
    /// When the county office issues it (the store's clock is set to it).
    pub issued_at: DateTime<Utc>,
    pub problems: Vec<PlannedProblem>,
}

/// One problem of a batch, the steps taken on it, and where they leave it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedProblem {
    /// 1-based, as in the batch's file.
    pub row_no: u32,
    pub town: RegionCode,
    pub house: Option<HouseCode>,
    /// About a business-use house (what 附件2's 线上检查 counts).
    pub business: bool,
    pub category: ProblemCategory,
    pub description: String,
    pub deadline: NaiveDate,
    pub steps: Vec<PlannedStep>,
    pub outcome: Outcome,
    /// The status the steps leave it in, as `decide_problem` decided them.
    pub status: ProblemStatus,
}

impl PlannedProblem {
    /// Still owes work after its deadline, as of `today`.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.status.is_open() && self.deadline < today
    }
}

/// A step on a problem, by whom and when.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    pub actor: Actor,
    pub action: ProblemAction,
    pub evidence: Vec<Evidence>,
    pub at: DateTime<Utc>,
}

/// How far a demo problem gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Not answered yet.
    Pending,
    /// Found true, nothing done yet.
    Confirmed,
    /// Found true, being fixed.
    Rectifying,
    /// Reported fixed, awaiting the county's verification.
    Rectified,
    /// Verified and closed (销号).
    Closed,
    /// The first fix was sent back, the second verified and closed.
    ReturnedThenClosed,
    /// The fix was sent back and is being redone.
    Returned,
    /// Reported untrue with evidence, awaiting the county's decision.
    Disputed,
    /// Reported untrue and accepted (不属实).
    Unfounded,
    /// Reported untrue, rejected by the county, being fixed.
    DisputeRejected,
}

impl Outcome {
    /// Whether the problem is ever found true. A problem found true about a closed house
    /// reopens it, so such outcomes go to houses that are not closed: the demo's house
    /// histories stay as generated.
    fn finds_true(self) -> bool {
        !matches!(
            self,
            Outcome::Pending | Outcome::Disputed | Outcome::Unfounded
        )
    }

    /// The actions, each by the town (`false`) or the county office (`true`), and the days
    /// that pass before it.
    fn actions(self, kind: Kind) -> Vec<(ProblemAction, (u64, u64))> {
        use ProblemAction as A;
        let fixed = |second: bool| A::ReportFixed {
            note: kind.fix(second).into(),
        };
        let dispute = A::Dispute {
            reason: kind.dispute().into(),
        };
        let confirm = (A::Confirm, (1, 4));
        let start = (A::StartRectify, (0, 2));
        let report = (fixed(false), (4, 12));
        let returned = (
            A::ReturnFix {
                reason: "整改佐证照片不能反映整改后现场情况，请补充后重新报送".into(),
            },
            (1, 4),
        );
        let verify = (A::Verify, (1, 5));
        match self {
            Outcome::Pending => vec![],
            Outcome::Confirmed => vec![confirm],
            Outcome::Rectifying => vec![confirm, start],
            Outcome::Rectified => vec![confirm, start, report],
            Outcome::Closed => vec![confirm, start, report, verify],
            Outcome::Returned => vec![confirm, start, report, returned],
            Outcome::ReturnedThenClosed => vec![
                confirm,
                start,
                report,
                returned,
                (fixed(true), (3, 8)),
                verify,
            ],
            Outcome::Disputed => vec![(dispute, (2, 5))],
            Outcome::Unfounded => vec![(dispute, (2, 5)), (A::AcceptDispute, (2, 6))],
            Outcome::DisputeRejected => vec![
                (dispute, (2, 5)),
                (
                    A::RejectDispute {
                        reason: "经现场复核，问题属实，请按期整改".into(),
                    },
                    (2, 6),
                ),
                start,
            ],
        }
    }
}

/// What a problem is about, and which houses it fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Surveyed as no hazard, yet the photos show one.
    WrongJudgement,
    /// The platform's data differs from the house.
    DataMismatch,
    /// Closed on thin evidence (disputed by the town, never found true in the demo).
    FalseClosure,
    /// A C/D house still in use.
    UnsafeInUse,
    /// A legacy closure on management measures not looked back at.
    NoLookBack,
    /// A hazard judged and left without review or appraisal.
    Stalled,
    /// A house missing from the survey (no house record).
    Missed,
}

impl Kind {
    fn category(self) -> ProblemCategory {
        match self {
            Kind::WrongJudgement => ProblemCategory::WrongJudgement,
            Kind::DataMismatch => ProblemCategory::DataMismatch,
            Kind::FalseClosure => ProblemCategory::FalseClosure,
            Kind::UnsafeInUse | Kind::NoLookBack => ProblemCategory::Incomplete,
            Kind::Stalled => ProblemCategory::Other,
            Kind::Missed => ProblemCategory::Missed,
        }
    }

    fn fits(self, h: &DemoHouse) -> bool {
        let closed = h.state.status() == Status::Closed;
        match self {
            Kind::WrongJudgement => h.path == Path::NoHazard,
            Kind::DataMismatch => h.state.judgement.is_some() && !closed,
            Kind::FalseClosure => closed,
            Kind::UnsafeInUse => matches!(
                h.path,
                Path::AppraisedCDRectifying
                    | Path::AppraisedCDNotNotified
                    | Path::ReopenedRectifying
                    | Path::ReclassifiedRectifying
            ),
            Kind::NoLookBack => h.path == Path::LegacyPending,
            Kind::Stalled => h.path == Path::AwaitingAssessment,
            Kind::Missed => false,
        }
    }

    fn describe(self, rng: &mut Rng, h: Option<&DemoHouse>, place: &str) -> String {
        let record = h.and_then(|h| h.state.record.as_ref());
        let business = record.is_some_and(|r| r.is_business());
        match self {
            Kind::WrongJudgement => format!(
                "初判为未发现安全隐患，现场照片显示{}有明显裂缝，初判不准确",
                rng.pick(&["承重墙体", "梁柱", "楼板", "屋面"])
            ),
            Kind::DataMismatch => match record {
                Some(r) if business && rng.chance(0.5) => format!(
                    "归集平台经营类型为“{}”，现场核实与填报不一致",
                    r.business_types.first().map_or("其他", String::as_str)
                ),
                Some(r) => format!(
                    "归集平台填报地上{}层，现场为{}层，信息与现场不一致",
                    r.floors_above,
                    r.floors_above + 1
                ),
                None => "归集平台信息与现场不一致".into(),
            },
            Kind::FalseClosure => rng
                .pick(&[
                    "销号佐证材料不全，缺少整治后照片",
                    "销号依据与复核意见不一致，销号把关不严",
                    "销号时间早于工程措施验收时间，销号不实",
                ])
                .to_string(),
            Kind::UnsafeInUse => if business {
                "C、D级经营性自建房仍在经营，未停止使用，管控不到位"
            } else {
                "C、D级房屋仍有人员居住（人进危房），管控不到位"
            }
            .into(),
            Kind::NoLookBack => {
                "前期以管理措施（刷墙勾缝、增加围挡等）销号，尚未开展回头看复核".into()
            }
            Kind::Stalled => "初判存在安全隐患，尚未组织专业技术人员复核或安全鉴定".into(),
            Kind::Missed => format!(
                "{place}{}组{}号附近一处自建房未纳入排查台账（漏排）",
                1 + rng.below(8),
                1 + rng.below(120)
            ),
        }
    }

    /// What the town reports when it has fixed the problem.
    fn fix(self, second: bool) -> &'static str {
        if second {
            return "已补充整改后现场照片和验收意见";
        }
        match self {
            Kind::WrongJudgement => "已组织专业技术人员现场复核，重新初判并更新台账",
            Kind::DataMismatch => "已核对现场，更正归集平台信息",
            Kind::FalseClosure => "已补充销号佐证材料",
            Kind::UnsafeInUse => "已停止使用并清空人员，设置警示围挡",
            Kind::NoLookBack => "已安排专业技术人员开展回头看复核",
            Kind::Stalled => "已委托鉴定机构开展安全鉴定",
            Kind::Missed => "已补充排查并录入台账",
        }
    }

    /// What the town says when it reports the problem untrue.
    fn dispute(self) -> &'static str {
        match self {
            Kind::FalseClosure => "销号依据为专业技术人员现场复核意见，佐证材料齐全，见附件",
            Kind::Missed => "该处为集体所有的公共用房，不属于自建房排查范围",
            _ => "经现场核实，问题与实际情况不符，附现场照片",
        }
    }
}

/// One batch's shape: when, who, how many, and how far its problems get.
struct Spec {
    source: ProblemSource,
    name: &'static str,
    /// Days after the campaign's start it is issued.
    issued: i64,
    /// Days from issue to the deadline.
    due: i64,
    /// Outcomes every batch has at least once (its first rows), however small the county.
    first: &'static [Outcome],
    /// The rest, by weight.
    rest: &'static [(Outcome, u32)],
    kinds: &'static [(Kind, u32)],
    /// Only business-use houses (the online inspection's scope in 附件2).
    business_only: bool,
}

const SPECS: &[Spec] = &[
    Spec {
        source: ProblemSource::OnlineInspection,
        name: "部/省线上巡检第1批",
        issued: 30,
        due: 20,
        first: &[
            Outcome::Closed,
            Outcome::ReturnedThenClosed,
            Outcome::Rectified,
            Outcome::Unfounded,
            Outcome::Rectifying,
            Outcome::Pending,
        ],
        rest: &[
            (Outcome::Closed, 6),
            (Outcome::Rectified, 2),
            (Outcome::Unfounded, 1),
            (Outcome::Rectifying, 1),
            (Outcome::ReturnedThenClosed, 1),
        ],
        kinds: &[
            (Kind::DataMismatch, 4),
            (Kind::WrongJudgement, 2),
            (Kind::UnsafeInUse, 2),
            (Kind::FalseClosure, 2),
            (Kind::NoLookBack, 1),
            (Kind::Stalled, 1),
        ],
        business_only: true,
    },
    Spec {
        source: ProblemSource::ThirdParty,
        name: "部第三方现场核实问题清单",
        issued: 55,
        due: 20,
        first: &[
            Outcome::Closed,
            Outcome::Rectified,
            Outcome::Rectifying,
            Outcome::Confirmed,
            Outcome::Disputed,
            Outcome::Unfounded,
            Outcome::DisputeRejected,
            Outcome::Pending,
        ],
        rest: &[
            (Outcome::Closed, 3),
            (Outcome::Rectified, 3),
            (Outcome::Rectifying, 3),
            (Outcome::Confirmed, 1),
            (Outcome::Unfounded, 1),
            (Outcome::Disputed, 1),
            (Outcome::DisputeRejected, 1),
        ],
        kinds: &[
            (Kind::WrongJudgement, 3),
            (Kind::FalseClosure, 2),
            (Kind::Missed, 2),
            (Kind::DataMismatch, 2),
            (Kind::UnsafeInUse, 1),
        ],
        business_only: false,
    },
    Spec {
        source: ProblemSource::WorkTeam,
        name: "四进工作队巡查第2轮",
        issued: 70,
        due: 25,
        first: &[
            Outcome::Confirmed,
            Outcome::Rectifying,
            Outcome::Rectified,
            Outcome::Closed,
            Outcome::Returned,
            Outcome::Pending,
            Outcome::Disputed,
        ],
        rest: &[
            (Outcome::Rectifying, 4),
            (Outcome::Confirmed, 3),
            (Outcome::Pending, 2),
            (Outcome::Rectified, 2),
            (Outcome::Closed, 1),
            (Outcome::Disputed, 1),
        ],
        kinds: &[
            (Kind::UnsafeInUse, 3),
            (Kind::NoLookBack, 3),
            (Kind::Stalled, 2),
            (Kind::Missed, 1),
            (Kind::DataMismatch, 1),
        ],
        business_only: false,
    },
    Spec {
        source: ProblemSource::OnlineInspection,
        name: "部/省线上巡检第2批",
        issued: 80,
        due: 20,
        first: &[Outcome::Pending, Outcome::Confirmed, Outcome::Disputed],
        rest: &[
            (Outcome::Pending, 5),
            (Outcome::Confirmed, 3),
            (Outcome::Disputed, 1),
            (Outcome::Rectifying, 1),
        ],
        kinds: &[
            (Kind::DataMismatch, 3),
            (Kind::WrongJudgement, 2),
            (Kind::UnsafeInUse, 1),
            (Kind::FalseClosure, 1),
        ],
        business_only: true,
    },
];

/// Most problems in one batch, however large the county.
const MAX_PER_BATCH: u64 = 150;

/// Houses tried when looking for one a problem fits.
const TRIES: u32 = 400;

/// The county office as the demo's events and accounts name it.
pub fn county_office() -> Actor {
    Actor {
        id: "county".into(),
        name: "县领导小组办公室（演示）".into(),
        role: Role::CountyOffice,
    }
}

/// 09:30–16:30 in Beijing on `day`.
fn office_hours(rng: &mut Rng, day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(1, 30, 0).expect("valid"))
        + Duration::minutes(rng.below(420) as i64)
}

impl Demo {
    /// The demo's problem batches, oldest first: about one problem per 100 houses, every
    /// source, every status, some overdue. Deterministic for a seed and a timeline; a batch
    /// issued after the demo's last day is left out.
    pub fn problems(&self) -> Vec<PlannedBatch> {
        let mut rng = Rng::new(self.seed ^ 0x5052_4F42_4C45_4D53);
        let mut used = std::collections::HashSet::new();
        let mut out = Vec::new();
        for spec in SPECS {
            let issued_on = self.start + Duration::days(spec.issued);
            if issued_on > self.last_day {
                continue;
            }
            let issued_at = office_hours(&mut rng, issued_on);
            let deadline = issued_on + Duration::days(spec.due);
            let n = (self.houses / 400).clamp(spec.first.len() as u64 + 2, MAX_PER_BATCH);
            let mut problems = Vec::new();
            for j in 0..n {
                let outcome = match spec.first.get(j as usize) {
                    Some(o) => *o,
                    None => *rng.weighted(spec.rest),
                };
                let Some((kind, house)) = self.pick_house(&mut rng, spec, outcome, &mut used)
                else {
                    continue;
                };
                let (town, place) = match &house {
                    Some(h) => {
                        let r = h.state.record.as_ref().expect("registered");
                        (r.town, String::new())
                    }
                    None => {
                        let v = &self.villages[rng.below(self.villages.len() as u64) as usize];
                        (v.code.town(), v.name.clone())
                    }
                };
                let description = kind.describe(&mut rng, house.as_ref(), &place);
                let row_no = problems.len() as u32 + 1;
                let clerk = town_actor(&town, Role::TownOperator);
                let mut at = issued_at;
                let mut status = ProblemStatus::Pending;
                let mut steps = Vec::new();
                for (action, (lo, hi)) in outcome.actions(kind) {
                    let day = (at.date_naive()
                        + Duration::days((lo + rng.below(hi - lo + 1)) as i64))
                    .min(self.last_day);
                    at = office_hours(&mut rng, day).max(at + Duration::minutes(7));
                    let actor = if action.by_issuer() {
                        county_office()
                    } else {
                        clerk.clone()
                    };
                    let evidence = match &action {
                        ProblemAction::Dispute { .. } => vec![sample::evidence(
                            EvidenceKind::Photo,
                            &format!("{}-{row_no}-现场核实照片.jpg", spec.name),
                        )],
                        ProblemAction::ReportFixed { .. } => vec![sample::evidence(
                            EvidenceKind::PhotoAfter,
                            &format!("{}-{row_no}-整改后照片{}.jpg", spec.name, steps.len()),
                        )],
                        _ => vec![],
                    };
                    status = decide_problem(status, &action, actor.role, evidence.len())
                        .unwrap_or_else(|v| panic!("demo problem step refused: {v}"));
                    steps.push(PlannedStep {
                        actor,
                        action,
                        evidence,
                        at,
                    });
                }
                problems.push(PlannedProblem {
                    row_no,
                    town,
                    business: house.as_ref().is_some_and(|h| h.state.is_business()),
                    house: house.map(|h| h.state.code),
                    category: kind.category(),
                    description,
                    deadline,
                    steps,
                    outcome,
                    status,
                });
            }
            if !problems.is_empty() {
                out.push(PlannedBatch {
                    source: spec.source,
                    name: format!("{}年{}", issued_on.year(), spec.name),
                    issued_on,
                    issued_at,
                    problems,
                });
            }
        }
        out
    }

    /// A kind of problem the outcome allows and a house it fits (none for a missed house),
    /// not used by another problem; `None` when the county is too small to have one.
    fn pick_house(
        &self,
        rng: &mut Rng,
        spec: &Spec,
        outcome: Outcome,
        used: &mut std::collections::HashSet<u64>,
    ) -> Option<(Kind, Option<DemoHouse>)> {
        let kinds: Vec<(Kind, u32)> = spec
            .kinds
            .iter()
            .copied()
            .filter(|(k, _)| !(outcome.finds_true() && *k == Kind::FalseClosure))
            .collect();
        let kind = *rng.weighted(&kinds);
        if kind == Kind::Missed {
            return Some((kind, None));
        }
        // The drawn kind if a house fits it, else any surveyed house that is not closed.
        for kind in [kind, Kind::DataMismatch] {
            for _ in 0..TRIES {
                let i = rng.below(self.houses.max(1));
                if used.contains(&i) {
                    continue;
                }
                let h = self.house(i);
                if kind.fits(&h) && (!spec.business_only || h.state.is_business()) {
                    used.insert(i);
                    return Some((kind, Some(h)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anju_domain::Coded;

    #[test]
    fn every_source_and_status_and_some_overdue_with_steps_in_order() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let demo = Demo::in_progress(2_000, 5, today);
        let batches = demo.problems();
        assert_eq!(batches, demo.problems(), "deterministic");
        let sources: std::collections::HashSet<_> = batches.iter().map(|b| b.source).collect();
        for s in [
            ProblemSource::OnlineInspection,
            ProblemSource::ThirdParty,
            ProblemSource::WorkTeam,
        ] {
            assert!(sources.contains(&s), "no {s:?} batch");
        }
        let all: Vec<&PlannedProblem> = batches.iter().flat_map(|b| &b.problems).collect();
        for s in ProblemStatus::ALL {
            assert!(all.iter().any(|p| p.status == *s), "no problem {s:?}");
        }
        assert!(all.iter().any(|p| p.overdue(today)), "none overdue");
        assert!(all.iter().any(|p| p.status.is_open() && !p.overdue(today)));
        let online: Vec<&PlannedBatch> = batches
            .iter()
            .filter(|b| b.source == ProblemSource::OnlineInspection)
            .collect();
        for b in &online {
            assert!(b.problems.iter().all(|p| p.business && p.house.is_some()));
            assert!(b.issued_on < today);
        }
        // 附件2's 问题确认/问题: some online problems with a verdict, some without.
        let verdicts: Vec<bool> = online
            .iter()
            .flat_map(|b| &b.problems)
            .map(|p| p.status.has_verdict())
            .collect();
        assert!(verdicts.contains(&true) && verdicts.contains(&false));
        for b in &batches {
            for p in &b.problems {
                let mut last = b.issued_at;
                for s in &p.steps {
                    assert!(
                        s.at > last,
                        "{} row {}: steps out of order",
                        b.name,
                        p.row_no
                    );
                    assert!(
                        anju_domain::rules::beijing_date(s.at) < today,
                        "in the future"
                    );
                    last = s.at;
                }
                assert!(p.deadline > b.issued_on);
                // Found true about a closed house would reopen it: never planned.
                if p.status.is_true() || p.outcome.finds_true() {
                    let h = p.house.as_ref().map(|c| {
                        let i = u64::from(c.serial()) - 1;
                        demo.house(i).state.status()
                    });
                    assert_ne!(h, Some(Status::Closed), "{} row {}", b.name, p.row_no);
                }
            }
        }
    }
}
