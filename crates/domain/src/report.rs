//! Sign-off of a ledger (签字报送): a town operator prepares it, the town principal signs it —
//! which freezes it (R5) — it is submitted, and the county office accepts it or returns it with
//! a reason. A returned ledger is corrected by preparing a new one that supersedes it.

use crate::coded::Coded;
use crate::event::Role;
use crate::rules::{RuleCode, RuleViolation};
use serde::{Deserialize, Serialize};

crate::coded! {
    pub enum ReportStatus {
        /// 已填报: figures not yet frozen.
        #[strum(message = "已填报")]
        Prepared,
        /// 已签字: frozen snapshot with digest.
        #[strum(message = "已签字")]
        Signed,
        /// 已报送.
        #[strum(message = "已报送")]
        Submitted,
        /// 已接收.
        #[strum(message = "已接收")]
        Accepted,
        /// 已退回 (with a reason).
        #[strum(message = "已退回")]
        Returned,
    }
}

impl ReportStatus {
    /// Signed and later: the figures are frozen.
    pub fn is_frozen(self) -> bool {
        !matches!(self, ReportStatus::Prepared)
    }
}

/// A step on a prepared ledger. Its label comes from strum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::EnumMessage)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReportAction {
    #[strum(message = "签字")]
    Sign,
    #[strum(message = "报送")]
    Submit,
    #[strum(message = "接收")]
    Accept,
    #[strum(message = "退回")]
    Return { reason: String },
    /// Attach the scanned signed-and-stamped copy (SHA-256 of the file).
    #[strum(message = "上传盖章扫描件")]
    AttachScan { sha256: String, name: String },
}

impl ReportAction {
    pub fn label(&self) -> &'static str {
        // Every action carries a message; the test below holds that.
        strum::EnumMessage::get_message(self).unwrap_or_default()
    }
}

fn refuse<T>(code: RuleCode, message: impl Into<String>) -> Result<T, RuleViolation> {
    Err(RuleViolation {
        code,
        message: message.into(),
    })
}

/// Who may prepare a ledger: the town's operator for a town, the county office for the county.
pub fn may_prepare(role: Role) -> bool {
    matches!(role, Role::TownOperator | Role::CountyOffice | Role::System)
}

/// Whether `role` may take `action` on a ledger at all (whatever its status).
pub fn may_act_on_report(role: Role, action: &ReportAction) -> bool {
    match action {
        ReportAction::Sign => matches!(
            role,
            Role::TownPrincipal | Role::CountyOffice | Role::System
        ),
        ReportAction::Submit => matches!(
            role,
            Role::TownPrincipal | Role::TownOperator | Role::CountyOffice | Role::System
        ),
        ReportAction::Accept | ReportAction::Return { .. } => {
            matches!(role, Role::CountyOffice | Role::System)
        }
        ReportAction::AttachScan { .. } => matches!(
            role,
            Role::TownPrincipal | Role::TownOperator | Role::CountyOffice | Role::System
        ),
    }
}

/// Decides a step on a ledger in `status`; the status after it, or the rule that refuses it.
pub fn decide_report(
    status: ReportStatus,
    action: &ReportAction,
    role: Role,
) -> Result<ReportStatus, RuleViolation> {
    use ReportStatus as S;
    let allowed = may_act_on_report(role, action);
    if !allowed {
        return refuse(
            RuleCode::P1,
            format!("{}无权对台账进行“{}”", role.label(), action.label()),
        );
    }
    match (status, action) {
        (S::Prepared, ReportAction::Sign) => Ok(S::Signed),
        (S::Signed, ReportAction::Submit) => Ok(S::Submitted),
        (S::Submitted, ReportAction::Accept) => Ok(S::Accepted),
        (S::Submitted, ReportAction::Return { reason }) => {
            if reason.trim().is_empty() {
                return refuse(RuleCode::R4, "退回台账须填写退回原因（规则R4）");
            }
            Ok(S::Returned)
        }
        (S::Signed | S::Submitted | S::Accepted, ReportAction::AttachScan { sha256, .. }) => {
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return refuse(RuleCode::F1, "扫描件摘要格式不正确");
            }
            Ok(status)
        }
        (S::Prepared, ReportAction::AttachScan { .. }) => {
            refuse(RuleCode::L1, "台账尚未签字，不能上传签字盖章扫描件")
        }
        (S::Signed | S::Submitted | S::Accepted | S::Returned, ReportAction::Sign) => refuse(
            RuleCode::R5,
            "台账已签字，数字已冻结，不能重新签字；如需更正，请在下一期台账中体现或被退回后重新填报（规则R5）",
        ),
        (s, a) => refuse(
            RuleCode::L1,
            format!("台账当前为“{}”，不能“{}”", s.label(), a.label()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_off_path_and_its_refusals() {
        use ReportAction as A;
        use ReportStatus as S;
        use Role as R;
        use RuleCode as C;
        let blank_return = A::Return { reason: " ".into() };
        // (status, action, role, the status after it or the rule that refuses it)
        let cases = [
            (S::Prepared, A::Sign, R::TownPrincipal, Ok(S::Signed)),
            (S::Prepared, A::Sign, R::TownOperator, Err(C::P1)),
            (S::Signed, A::Sign, R::TownPrincipal, Err(C::R5)),
            (S::Signed, A::Submit, R::TownOperator, Ok(S::Submitted)),
            (S::Submitted, blank_return, R::CountyOffice, Err(C::R4)),
            (S::Submitted, A::Accept, R::TownPrincipal, Err(C::P1)),
            (S::Submitted, A::Accept, R::CountyOffice, Ok(S::Accepted)),
            (S::Prepared, A::Accept, R::CountyOffice, Err(C::L1)),
        ];
        for (status, action, role, expected) in cases {
            let got = decide_report(status, &action, role).map_err(|e| e.code);
            assert_eq!(got, expected, "{status:?} {action:?} by {role:?}");
        }
    }

    #[test]
    fn every_action_has_its_label() {
        use ReportAction as A;
        for (action, label) in [
            (A::Sign, "签字"),
            (A::Submit, "报送"),
            (A::Accept, "接收"),
            (A::Return { reason: "x".into() }, "退回"),
            (
                A::AttachScan {
                    sha256: "x".into(),
                    name: "x".into(),
                },
                "上传盖章扫描件",
            ),
        ] {
            assert_eq!(action.label(), label);
        }
    }
}
