//! The problem ledger (问题台账 / 问题销号清单, DOMAIN §7). A problem found by a higher-level check
//! is sent down to a town (usually about one house); the town confirms it (or disputes it with
//! evidence, which the issuing level accepts or rejects), fixes it and reports the fix with
//! evidence; only the issuing level verifies and closes it (已销号). A town never closes its own
//! problem.

use crate::coded::Coded;
use crate::event::Role;
use crate::rules::{RuleCode, RuleViolation};
use serde::{Deserialize, Serialize};

crate::coded! {
    /// Where a problem was found.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum ProblemSource {
        #[strum(message = "部第三方现场核实")]
        ThirdParty,
        #[strum(message = "部/省线上巡检")]
        OnlineInspection,
        #[strum(message = "四进工作队巡查")]
        WorkTeam,
        #[strum(message = "帮扶督导")]
        Assistance,
        #[strum(message = "市级专项督导")]
        CitySupervision,
        #[strum(message = "县督导")]
        CountySupervision,
        #[strum(message = "自查")]
        SelfCheck,
    }
}

crate::coded! {
    /// What kind of problem.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum ProblemCategory {
        #[strum(message = "漏排")]
        Missed,
        #[strum(message = "判定不准确")]
        WrongJudgement,
        #[strum(message = "信息不符")]
        DataMismatch,
        #[strum(message = "销号不实")]
        FalseClosure,
        #[strum(message = "整治不彻底/以管代改")]
        Incomplete,
        #[strum(message = "其他")]
        Other,
    }
}

crate::coded! {
    /// Where a problem stands.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum ProblemStatus {
        #[strum(message = "待确认")]
        Pending,
        #[strum(message = "已确认")]
        Confirmed,
        #[strum(message = "申报不属实（待审核）")]
        Disputed,
        #[strum(message = "不属实")]
        Unfounded,
        #[strum(message = "整改中")]
        Rectifying,
        #[strum(message = "已整改（待核验）")]
        Rectified,
        #[strum(message = "已销号")]
        Closed,
    }
}

impl ProblemStatus {
    /// Has a verdict: found true (属实), or found untrue with the issuer's acceptance.
    /// The town still owes work on it (confirming or fixing): its deadline runs.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ProblemStatus::Pending | ProblemStatus::Confirmed | ProblemStatus::Rectifying
        )
    }

    pub fn has_verdict(self) -> bool {
        !matches!(self, ProblemStatus::Pending | ProblemStatus::Disputed)
    }

    /// Found true (属实).
    pub fn is_true(self) -> bool {
        matches!(
            self,
            ProblemStatus::Confirmed
                | ProblemStatus::Rectifying
                | ProblemStatus::Rectified
                | ProblemStatus::Closed
        )
    }
}

/// A step on a problem. Its code (the serde tag) and label come from strum.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumMessage,
)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ProblemAction {
    /// The town confirms the problem is real (属实).
    #[strum(message = "确认属实")]
    Confirm,
    /// The town says it is not real; evidence required.
    #[strum(message = "申报不属实")]
    Dispute { reason: String },
    /// The issuing level accepts the dispute (不属实).
    #[strum(message = "认可不属实")]
    AcceptDispute,
    /// The issuing level rejects the dispute: the problem is real after all.
    #[strum(message = "驳回不属实申报")]
    RejectDispute { reason: String },
    /// The town starts fixing it.
    #[strum(message = "开始整改")]
    StartRectify,
    /// The town reports it fixed; evidence required.
    #[strum(message = "报告整改完成")]
    ReportFixed { note: String },
    /// The issuing level checks the fix and closes the problem (销号).
    #[strum(message = "核验销号")]
    Verify,
    /// The issuing level finds the fix wanting and sends it back.
    #[strum(message = "退回重新整改")]
    ReturnFix { reason: String },
}

impl ProblemAction {
    /// The stable code, the same as the serde tag.
    pub fn code(&self) -> &'static str {
        self.into()
    }

    pub fn label(&self) -> &'static str {
        strum::EnumMessage::get_message(self).unwrap_or_else(|| self.code())
    }

    /// Taken by the issuing level (the county office), not by the town.
    pub fn by_issuer(&self) -> bool {
        matches!(
            self,
            ProblemAction::AcceptDispute
                | ProblemAction::RejectDispute { .. }
                | ProblemAction::Verify
                | ProblemAction::ReturnFix { .. }
        )
    }
}

/// Who issues problems and verifies fixes.
pub fn is_issuer(role: Role) -> bool {
    matches!(role, Role::CountyOffice | Role::System)
}

/// Who answers for problems in their town or sector.
pub fn is_handler(role: Role) -> bool {
    matches!(
        role,
        Role::TownOperator | Role::TownPrincipal | Role::Department | Role::System
    )
}

fn refuse<T>(code: RuleCode, message: impl Into<String>) -> Result<T, RuleViolation> {
    Err(RuleViolation {
        code,
        message: message.into(),
    })
}

/// Decides a step on a problem: the next status, or the rule that refuses it.
/// `evidence` is how many files come with the step.
pub fn decide_problem(
    status: ProblemStatus,
    action: &ProblemAction,
    role: Role,
    evidence: usize,
) -> Result<ProblemStatus, RuleViolation> {
    use ProblemAction as A;
    use ProblemStatus as S;
    if let A::Dispute { reason: t }
    | A::RejectDispute { reason: t }
    | A::ReturnFix { reason: t }
    | A::ReportFixed { note: t } = action
        && let Err(message) = crate::text::check("说明", t, crate::text::MAX_TEXT)
    {
        return Err(RuleViolation {
            code: RuleCode::F1,
            message,
        });
    }
    if action.by_issuer() && !is_issuer(role) {
        return refuse(
            RuleCode::P1,
            format!(
                "“{}”须由下发问题的县领导小组办公室办理，{}不能核验本级的问题",
                action.label(),
                role.label()
            ),
        );
    }
    if !action.by_issuer() && !is_handler(role) {
        return refuse(
            RuleCode::P1,
            format!("“{}”由问题所在镇街或行业部门办理", action.label()),
        );
    }
    let need_text = |t: &str, what: &str| {
        if t.trim().is_empty() {
            refuse(RuleCode::R4, format!("{what}须填写原因或说明"))
        } else {
            Ok(())
        }
    };
    match (status, action) {
        (S::Pending, A::Confirm) => Ok(S::Confirmed),
        (S::Pending, A::Dispute { reason }) => {
            need_text(reason, "申报不属实")?;
            if evidence == 0 {
                return refuse(RuleCode::E1, "申报不属实须上传佐证材料（照片、鉴定报告等）");
            }
            Ok(S::Disputed)
        }
        (S::Disputed, A::AcceptDispute) => Ok(S::Unfounded),
        (S::Disputed, A::RejectDispute { reason }) => {
            need_text(reason, "驳回不属实申报")?;
            Ok(S::Confirmed)
        }
        (S::Confirmed, A::StartRectify) => Ok(S::Rectifying),
        (S::Confirmed | S::Rectifying, A::ReportFixed { note }) => {
            need_text(note, "报告整改完成")?;
            if evidence == 0 {
                return refuse(
                    RuleCode::E1,
                    "报告整改完成须上传整改佐证材料（整改后照片等）",
                );
            }
            Ok(S::Rectified)
        }
        (S::Rectified, A::Verify) => Ok(S::Closed),
        (S::Rectified, A::ReturnFix { reason }) => {
            need_text(reason, "退回重新整改")?;
            Ok(S::Rectifying)
        }
        (s, a) => refuse(
            RuleCode::L1,
            format!("问题当前为“{}”，不能“{}”", s.label(), a.label()),
        ),
    }
}

/// A town's (or the county's) problem figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemCounts {
    pub total: u64,
    /// With a verdict (属实, or 不属实 accepted).
    pub with_verdict: u64,
    /// Found true.
    pub found_true: u64,
    /// Fixed and verified (已销号).
    pub closed: u64,
}

impl ProblemCounts {
    pub fn add(&mut self, status: ProblemStatus) {
        self.total += 1;
        self.with_verdict += u64::from(status.has_verdict());
        self.found_true += u64::from(status.is_true());
        self.closed += u64::from(status == ProblemStatus::Closed);
    }

    /// 问题确认率 = with a verdict / all problems (`—` without problems).
    pub fn confirmation_rate(&self) -> crate::ledger::Rate {
        crate::ledger::Rate::new(self.with_verdict as i64, self.total as i64)
    }

    /// 问题整改率 = closed / found true (`—` when none was found true).
    pub fn rectification_rate(&self) -> crate::ledger::Rate {
        crate::ledger::Rate::new(self.closed as i64, self.found_true as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProblemAction as A;
    use ProblemStatus as S;

    #[test]
    fn an_action_code_is_its_serde_tag_and_every_action_has_its_label() {
        let reason = || String::from("理由");
        let actions = [
            (A::Confirm, "confirm", "确认属实"),
            (A::Dispute { reason: reason() }, "dispute", "申报不属实"),
            (A::AcceptDispute, "accept_dispute", "认可不属实"),
            (
                A::RejectDispute { reason: reason() },
                "reject_dispute",
                "驳回不属实申报",
            ),
            (A::StartRectify, "start_rectify", "开始整改"),
            (
                A::ReportFixed { note: reason() },
                "report_fixed",
                "报告整改完成",
            ),
            (A::Verify, "verify", "核验销号"),
            (
                A::ReturnFix { reason: reason() },
                "return_fix",
                "退回重新整改",
            ),
        ];
        for (action, code, label) in actions {
            assert_eq!(action.code(), code);
            assert_eq!(action.label(), label);
            assert_eq!(serde_json::to_value(&action).unwrap()["type"], code);
        }
    }

    #[test]
    fn the_whole_path_and_its_refusals() {
        let town = Role::TownOperator;
        let county = Role::CountyOffice;
        let fixed = A::ReportFixed {
            note: "已加固".into(),
        };
        assert_eq!(
            decide_problem(S::Pending, &A::Confirm, town, 0),
            Ok(S::Confirmed)
        );
        assert_eq!(
            decide_problem(S::Confirmed, &A::StartRectify, town, 0),
            Ok(S::Rectifying)
        );
        assert_eq!(
            decide_problem(S::Rectifying, &fixed, town, 1),
            Ok(S::Rectified)
        );
        // A town cannot verify its own fix.
        let e = decide_problem(S::Rectified, &A::Verify, town, 0).unwrap_err();
        assert_eq!(e.code, RuleCode::P1);
        assert!(e.message.contains("县领导小组办公室"), "{e}");
        assert_eq!(
            decide_problem(S::Rectified, &A::Verify, county, 0),
            Ok(S::Closed)
        );
        assert_eq!(
            decide_problem(
                S::Rectified,
                &A::ReturnFix {
                    reason: "照片不清".into()
                },
                county,
                0
            ),
            Ok(S::Rectifying)
        );
        // Fixed without evidence, disputed without evidence or reason.
        assert_eq!(
            decide_problem(S::Confirmed, &fixed, town, 0)
                .unwrap_err()
                .code,
            RuleCode::E1
        );
        let dispute = A::Dispute {
            reason: "该房屋已拆除".into(),
        };
        assert_eq!(
            decide_problem(S::Pending, &dispute, town, 0)
                .unwrap_err()
                .code,
            RuleCode::E1
        );
        assert_eq!(
            decide_problem(S::Pending, &A::Dispute { reason: " ".into() }, town, 2)
                .unwrap_err()
                .code,
            RuleCode::R4
        );
        assert_eq!(
            decide_problem(S::Pending, &dispute, town, 1),
            Ok(S::Disputed)
        );
        // The issuer, not the town, decides a dispute.
        assert_eq!(
            decide_problem(S::Disputed, &A::AcceptDispute, town, 0)
                .unwrap_err()
                .code,
            RuleCode::P1
        );
        assert_eq!(
            decide_problem(S::Disputed, &A::AcceptDispute, county, 0),
            Ok(S::Unfounded)
        );
        assert_eq!(
            decide_problem(
                S::Disputed,
                &A::RejectDispute {
                    reason: "现场核实仍存在".into()
                },
                county,
                0
            ),
            Ok(S::Confirmed)
        );
        // Out of order.
        assert_eq!(
            decide_problem(S::Closed, &A::Confirm, town, 0)
                .unwrap_err()
                .code,
            RuleCode::L1
        );
        assert_eq!(
            decide_problem(S::Pending, &A::Verify, county, 0)
                .unwrap_err()
                .code,
            RuleCode::L1
        );
        // Roles that neither issue nor answer.
        assert_eq!(
            decide_problem(S::Pending, &A::Confirm, Role::Auditor, 0)
                .unwrap_err()
                .code,
            RuleCode::P1
        );
    }

    #[test]
    fn rates_count_verdicts_and_verified_fixes() {
        // 7 problems: pending, disputed, unfounded, confirmed, rectifying, rectified, closed.
        let mut c = ProblemCounts::default();
        for s in ProblemStatus::ALL {
            c.add(*s);
        }
        // Verdicts: unfounded, confirmed, rectifying, rectified, closed = 5 of 7.
        // True: confirmed, rectifying, rectified, closed = 4; closed 1.
        assert_eq!(
            c,
            ProblemCounts {
                total: 7,
                with_verdict: 5,
                found_true: 4,
                closed: 1
            }
        );
        assert_eq!(c.confirmation_rate().display(), "71.43%");
        assert_eq!(c.rectification_rate().display(), "25.00%");
        assert_eq!(ProblemCounts::default().confirmation_rate().display(), "—");
    }
}
