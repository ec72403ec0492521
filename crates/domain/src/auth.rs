//! Who may do what: the account acting ([`Principal`]), what it reads ([`Principal::scope`]) and
//! what its role may do ([`allows`]). This is the one authorisation table; the store's
//! `Access` layer consults it before every entry point, and `rules::permitted` refines it per
//! lifecycle step.

use crate::Coded;
use crate::codes::RegionCode;
use crate::event::{Actor, Role};
use crate::region::Scope;
use serde::{Deserialize, Serialize};

/// What a caller may ask for, apart from the lifecycle steps (those are `Action::Record` and
/// then `rules::permitted` per step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read houses, their histories and evidence, masked.
    ReadHouses,
    /// Record a lifecycle step (further checked per step by the rules).
    Record,
    /// See a person's full ID number or phone number, with a typed reason.
    RevealPersonal,
    /// Read and download the ledgers 附件1/附件2 and open their figures.
    ReadLedger,
    /// Prepare (填报) a ledger for sign-off.
    PrepareReport,
    /// Sign a prepared ledger (主要负责同志).
    SignReport,
    /// Submit a signed ledger to the county office.
    SubmitReport,
    /// Accept or return a submitted ledger.
    ReviewReport,
    /// Assign houses to technical reviewers and appraisers.
    AssignHouses,
    /// Create, reset, disable accounts and end their sessions.
    ManageAccounts,
    /// Change dictionaries, deadlines and settings.
    ManageSettings,
    /// Read the audit trail.
    ReadAudit,
    /// Export data with personal identifiers unmasked.
    ExportPersonal,
    /// Issue problems found by checks (问题台账), and decide disputes and fixes.
    IssueProblems,
    /// Confirm, dispute and fix the problems of one's own town or sector.
    HandleProblems,
    /// Send a supervision notice (督办) to a lagging town.
    Supervise,
    /// Answer a supervision notice sent to one's own town.
    AnswerSupervision,
    /// Confirm (or reject) the closures and acceptances an imported ledger claims, as their
    /// approver.
    ConfirmImports,
    /// Set the cut-over date before which imported closures count as history.
    CutOverImports,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::ReadHouses,
        Action::Record,
        Action::RevealPersonal,
        Action::ReadLedger,
        Action::PrepareReport,
        Action::SignReport,
        Action::SubmitReport,
        Action::ReviewReport,
        Action::AssignHouses,
        Action::ManageAccounts,
        Action::ManageSettings,
        Action::ReadAudit,
        Action::ExportPersonal,
        Action::IssueProblems,
        Action::HandleProblems,
        Action::Supervise,
        Action::AnswerSupervision,
        Action::ConfirmImports,
        Action::CutOverImports,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Action::ReadHouses => "查看房屋",
            Action::Record => "录入排查整治步骤",
            Action::RevealPersonal => "查看完整身份证号和电话",
            Action::ReadLedger => "查看台账",
            Action::PrepareReport => "填报台账",
            Action::SignReport => "签字台账",
            Action::SubmitReport => "报送台账",
            Action::ReviewReport => "审核台账（接收或退回）",
            Action::AssignHouses => "分派房屋给技术人员",
            Action::ManageAccounts => "管理账号",
            Action::ManageSettings => "修改字典和设置",
            Action::ReadAudit => "查看审计日志",
            Action::ExportPersonal => "导出未脱敏的个人信息",
            Action::IssueProblems => "下发和核验问题",
            Action::HandleProblems => "确认和整改问题",
            Action::Supervise => "下发督办通知",
            Action::AnswerSupervision => "答复督办通知",
            Action::ConfirmImports => "确认导入台账记载的销号",
            Action::CutOverImports => "确定导入台账销号的切换日期",
        }
    }
}

/// The authorisation table: may `role` ever do `action`? (Scope then limits to which houses.)
pub fn allows(role: Role, action: Action) -> bool {
    use Action as A;
    use Role as R;
    match role {
        // The county office prepares, signs and submits the county's own ledger too.
        R::System | R::CountyOffice => true,
        R::TownOperator => matches!(
            action,
            A::ReadHouses
                | A::Record
                | A::RevealPersonal
                | A::ReadLedger
                | A::PrepareReport
                | A::SubmitReport
                | A::AssignHouses
                | A::HandleProblems
                | A::AnswerSupervision
        ),
        R::TownPrincipal => matches!(
            action,
            A::ReadHouses
                | A::Record
                | A::RevealPersonal
                | A::ReadLedger
                | A::SignReport
                | A::SubmitReport
                | A::HandleProblems
                | A::AnswerSupervision
                | A::ConfirmImports
        ),
        R::Department => matches!(
            action,
            A::ReadHouses | A::Record | A::ReadLedger | A::HandleProblems
        ),
        R::TechReviewer | R::Appraiser => matches!(action, A::ReadHouses | A::Record),
        R::Inspector => matches!(
            action,
            A::ReadHouses | A::ReadLedger | A::IssueProblems | A::Supervise
        ),
        R::Auditor => matches!(action, A::ReadHouses | A::ReadLedger | A::ReadAudit),
    }
}

/// The message of a refusal by [`allows`].
/// How many times one account may reveal full ID and phone numbers in a Beijing day; beyond it
/// the reveal is refused and audited, and the county office is told on its home page.
pub const REVEALS_PER_DAY: i64 = 30;

/// Reasons that say nothing about why the numbers are needed.
const EMPTY_REASONS: &[&str] = &[
    "工作需要",
    "需要查看",
    "查看信息",
    "查看详情",
    "查看一下",
    "看一下",
    "查询",
    "查看",
    "测试",
    "test",
];

/// A reason for revealing personal data must say something: at least 4 characters, not one
/// character repeated, not a stock phrase such as 「工作需要」.
pub fn reveal_reason(reason: &str) -> Result<(), String> {
    let reason = reason.trim();
    let chars: Vec<char> = reason.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() < 4 {
        return Err("查看完整个人信息须填写事由（至少 4 个字）".into());
    }
    let distinct: std::collections::BTreeSet<char> = chars.iter().copied().collect();
    let stock = EMPTY_REASONS
        .iter()
        .any(|e| reason.eq_ignore_ascii_case(e) || reason.trim_end_matches(['。', '.']) == *e);
    if distinct.len() < 3 || stock || chars.iter().all(|c| c.is_ascii_digit()) {
        return Err(
            "事由须写明为何需要完整号码，如「联系产权人落实整治」；「工作需要」之类不能作为事由"
                .into(),
        );
    }
    Ok(())
}

pub fn denied_message(role: Role, action: Action) -> String {
    format!("{}无权{}", role.label(), action.label())
}

/// The account acting, as the store needs it: identity, role, and where it belongs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub account_id: i64,
    pub username: String,
    pub name: String,
    pub role: Role,
    /// The region whose subtree a region account reads (county, town or village); for a
    /// department account, the county it works in.
    pub region: Option<RegionCode>,
    /// A department account's department.
    pub department: Option<String>,
}

/// The assignment key of a reviewer or appraiser account (see `Scope::Assigned`).
pub fn assignee_key(username: &str) -> String {
    format!("assignee:{username}")
}

impl Principal {
    /// The houses this account reads: region accounts their subtree; department accounts the
    /// business-use houses of their sector within their county; reviewers and appraisers the
    /// houses assigned to them. An account with nothing to anchor it reads nothing.
    /// The system itself (imports, the demo, tests): every action, every house.
    pub fn system() -> Principal {
        Principal {
            account_id: 0,
            username: "system".into(),
            name: "系统".into(),
            role: Role::System,
            region: None,
            department: None,
        }
    }

    pub fn scope(&self) -> Scope {
        match self.role {
            Role::System => Scope::All,
            Role::TechReviewer | Role::Appraiser => Scope::Assigned {
                assignee: assignee_key(&self.username),
            },
            Role::Department => match (&self.department, &self.region) {
                (Some(d), Some(r)) => Scope::Department {
                    department: d.clone(),
                    within: *r,
                },
                _ => Scope::Nothing,
            },
            _ => self
                .region
                .map_or(Scope::Nothing, |code| Scope::Region { code }),
        }
    }

    /// The actor recorded on events and audit rows.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.username.clone(),
            name: self.name.clone(),
            role: self.role,
        }
    }

    pub fn may(&self, action: Action) -> bool {
        allows(self.role, action)
    }
}

/// Password rules (等保 2.0 level-3 profile by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// Of lower case, upper case, digits, other characters.
    pub min_classes: usize,
    /// How many previous passwords may not be reused.
    pub history: usize,
    /// Days after which a password must be changed (0 = never).
    pub max_age_days: i64,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            min_classes: 3,
            history: 5,
            max_age_days: 90,
        }
    }
}

impl PasswordPolicy {
    /// Checks the password's form (reuse is checked by the store against the history).
    pub fn check(&self, username: &str, password: &str) -> Result<(), String> {
        if password.chars().count() < self.min_length {
            return Err(format!("密码至少 {} 位", self.min_length));
        }
        let classes = [
            password.chars().any(|c| c.is_ascii_lowercase()),
            password.chars().any(|c| c.is_ascii_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_ascii_alphanumeric()),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if classes < self.min_classes {
            return Err(format!(
                "密码须包含小写字母、大写字母、数字、其他符号中的至少 {} 类",
                self.min_classes
            ));
        }
        let user = username.trim().to_lowercase();
        if !user.is_empty() && password.to_lowercase().contains(&user) {
            return Err("密码不能包含用户名".into());
        }
        Ok(())
    }
}

/// Login and session limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    /// Failures within `failure_window_minutes` that lock an account (by the name typed).
    pub max_failures: i64,
    pub failure_window_minutes: i64,
    pub lock_minutes: i64,
    pub idle_minutes: i64,
    pub absolute_hours: i64,
    /// When on, county-office and principal (signing) accounts may log in only with TOTP.
    pub totp_required_for_signers: bool,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            max_failures: 5,
            failure_window_minutes: 15,
            lock_minutes: 30,
            idle_minutes: 30,
            absolute_hours: 12,
            totp_required_for_signers: false,
        }
    }
}

/// Roles whose accounts must use a second factor when TOTP is required.
pub fn needs_second_factor(role: Role) -> bool {
    matches!(role, Role::CountyOffice | Role::TownPrincipal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy_profile() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("zhang", "Ab1!").unwrap_err(), "密码至少 8 位");
        assert!(
            p.check("zhang", "abcdefgh1")
                .unwrap_err()
                .contains("至少 3 类")
        );
        assert_eq!(
            p.check("zhang", "xZhang2024!").unwrap_err(),
            "密码不能包含用户名"
        );
        assert!(p.check("zhang", "Anju-2024").is_ok());
        assert!(
            p.check("zhang", "anju-2024").is_ok(),
            "lower, digit, other: 3 classes"
        );
    }

    #[test]
    fn only_principals_sign_and_only_the_county_office_reviews() {
        for &r in Role::ALL {
            assert_eq!(
                allows(r, Action::SignReport),
                matches!(r, Role::TownPrincipal | Role::CountyOffice | Role::System),
                "{r:?}"
            );
            assert_eq!(
                allows(r, Action::ReviewReport),
                matches!(r, Role::CountyOffice | Role::System),
                "{r:?}"
            );
            assert_eq!(
                allows(r, Action::ManageAccounts),
                matches!(r, Role::CountyOffice | Role::System),
                "{r:?}"
            );
        }
        assert!(!allows(Role::Auditor, Action::Record));
        assert!(allows(Role::Auditor, Action::ReadAudit));
    }

    #[test]
    fn a_reveal_reason_must_say_why() {
        assert!(reveal_reason("联系产权人落实整治").is_ok());
        assert!(reveal_reason("电话通知户主").is_ok());
        for empty in [
            "",
            "看看",
            "工作需要",
            "工作需要。",
            "啊啊啊啊啊",
            "1234",
            "TEST",
            "查看详情",
        ] {
            assert!(reveal_reason(empty).is_err(), "{empty}");
        }
    }
}
