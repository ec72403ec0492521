//! Lifecycle events: the append-only truth of a house. A [`Change`] is what a person asks for;
//! [`crate::rules::decide`] turns it into an [`Event`] or refuses it.

use crate::codes::HouseCode;
use crate::dict::{
    ClosureBasis, EngMeasure, Grade, HandlingAdvice, Judgement, MgmtMeasure, RegistrationSource,
    ReviewFinding, RiskLevel,
};
use crate::house::{HouseRecord, People};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

crate::coded! {
    /// The roles of DOMAIN §1.
    #[derive(Hash)]
    pub enum Role {
        /// 县领导小组办公室.
        #[strum(message = "县领导小组办公室")]
        CountyOffice,
        /// 镇街经办人.
        #[strum(message = "镇街经办人")]
        TownOperator,
        /// 镇街主要负责同志.
        #[strum(message = "镇街主要负责同志")]
        TownPrincipal,
        /// 行业部门.
        #[strum(message = "行业部门")]
        Department,
        /// 专业技术人员.
        #[strum(message = "专业技术人员")]
        TechReviewer,
        /// 鉴定机构.
        #[strum(message = "鉴定机构")]
        Appraiser,
        /// 督导/巡查人员.
        #[strum(message = "督导巡查人员")]
        Inspector,
        /// 审计（只读）.
        #[strum(message = "审计人员")]
        Auditor,
        /// Imports of existing ledgers and the demo generator.
        #[strum(message = "系统导入")]
        System,
    }
}

/// Who did something: the account's login, display name and role at that time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// A reference to an evidence file stored content-addressed (photo, report, signed form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// SHA-256 of the file content, lowercase hex.
    pub sha256: String,
    pub kind: EvidenceKind,
    pub name: String,
}

crate::coded! {
    pub enum EvidenceKind {
        #[strum(message = "照片")]
        Photo,
        /// 整治前照片.
        #[strum(message = "整治前照片")]
        PhotoBefore,
        /// 整治后照片.
        #[strum(message = "整治后照片")]
        PhotoAfter,
        #[strum(message = "报告")]
        Report,
        #[strum(message = "签字表")]
        SignedForm,
        #[strum(message = "其他材料")]
        Other,
        /// A row of an imported ledger (the file is kept as evidence): what an import's steps rest
        /// on when the ledger carries no photos. Never uploaded by a person.
        #[strum(message = "台账记载")]
        LedgerRecord,
    }
}

/// A lifecycle step. The same type is the request and, once accepted, the event's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// 登记: the house becomes known.
    Registered {
        source: RegistrationSource,
        /// The unguessable token behind the plaque's public QR page (32 lowercase hex digits);
        /// part of the house's permanent identity, so it moves with the event log.
        plaque_token: String,
        record: Box<HouseRecord>,
        people: Box<People>,
    },
    /// 排查 with its initial judgement (初判).
    Surveyed(Box<Survey>),
    /// 专业技术人员现场复核.
    Reviewed {
        reviewer_names: String,
        finding: ReviewFinding,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opinion: Option<String>,
    },
    /// 安全鉴定.
    Appraised(Box<Appraisal>),
    /// 告知所有权人/使用人.
    OwnerNotified { method: String, recipient: String },
    /// 管理措施 (interim control; never a closure basis).
    InterimControlApplied { measures: Vec<MgmtMeasure> },
    /// 工程措施开工.
    EngineeringStarted {
        measure: EngMeasure,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contractor: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<NaiveDate>,
    },
    /// 工程措施竣工并经专业技术人员验收 (before/after photos as evidence).
    EngineeringAccepted {
        measure: EngMeasure,
        reviewer_names: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opinion: Option<String>,
    },
    /// 销号, on a claimed basis the rules check.
    Closed {
        basis: ClosureBasis,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        platform_closed_on: Option<NaiveDate>,
    },
    /// A closure made before the system on management measures (legacy data, rule R2):
    /// recorded for the look-back list, never counted as closed.
    LegacyClosureRecorded {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        measures: Vec<MgmtMeasure>,
        closed_on: NaiveDate,
    },
    /// 回头看: a technical reviewer re-reviews a legacy closure on site and signs.
    LookBackReviewed {
        reviewer_names: String,
        hazard_remains: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opinion: Option<String>,
    },
    /// The hazard remains after a closure (look-back, confirmed problem, change of use).
    Reopened,
    /// Corrects the initial judgement, risk level or appraisal grade (one audited event).
    Reclassified {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        judgement: Option<Judgement>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        risk_level: Option<RiskLevel>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grade: Option<Grade>,
    },
    /// Corrects the house record and/or its people (identifiers, address, use, building data).
    Corrected {
        record: Box<HouseRecord>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        people: Option<Box<People>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    /// 排查批次, dictionary `survey_round`.
    pub round: String,
    pub surveyor: String,
    pub judgement: Judgement,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<RiskLevel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hazard_categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hazard_parts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geohazards: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fire_hazards: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub added_load: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remarks: Option<String>,
    /// 排查定位: where the surveyor stood, usually from the phone's 「获取当前位置」. Absent from
    /// the stored JSON when not given, so surveys recorded before it hash as they always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoFix>,
}

/// A position on the ground: degrees (WGS-84, as the phone gives them) and, when it came from a
/// device, the accuracy it reported. Bounds: [`crate::bounds::implausible_fix`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoFix {
    pub longitude: f64,
    pub latitude: f64,
    /// The device's accuracy radius in metres; absent when the position was typed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appraisal {
    pub agency_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_credit_code: Option<String>,
    pub reviewer_names: String,
    pub standard: String,
    pub report_no: String,
    pub grade: Grade,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<HandlingAdvice>,
    /// 整治后复核: an appraisal after engineering (closure evidence; does not change ⑤).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub post_rectification: bool,
}

crate::coded! {
    /// Kinds of change, for permissions, counts and filters.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum ChangeKind {
        #[strum(message = "登记")]
        Registered,
        #[strum(message = "排查初判")]
        Surveyed,
        #[strum(message = "专业技术人员现场复核")]
        Reviewed,
        #[strum(message = "安全鉴定")]
        Appraised,
        #[strum(message = "告知所有权人")]
        OwnerNotified,
        #[strum(message = "采取管理措施")]
        InterimControlApplied,
        #[strum(message = "工程措施开工")]
        EngineeringStarted,
        #[strum(message = "工程措施完成验收")]
        EngineeringAccepted,
        #[strum(message = "销号")]
        Closed,
        #[strum(message = "登记前期管理措施销号")]
        LegacyClosureRecorded,
        #[strum(message = "回头看现场复核")]
        LookBackReviewed,
        #[strum(message = "重新纳入整治")]
        Reopened,
        #[strum(message = "更正判定/等级")]
        Reclassified,
        #[strum(message = "更正房屋信息")]
        Corrected,
    }
}

impl Survey {
    /// A survey of only what every survey records — its round, surveyor and judgement —
    /// with nothing else found or noted.
    pub fn new(round: String, surveyor: String, judgement: Judgement) -> Survey {
        Survey {
            round,
            surveyor,
            judgement,
            risk_level: None,
            hazard_categories: vec![],
            hazard_parts: vec![],
            geohazards: vec![],
            fire_hazards: vec![],
            added_load: false,
            remarks: None,
            location: None,
        }
    }
}

impl Change {
    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::Registered { .. } => ChangeKind::Registered,
            Change::Surveyed(_) => ChangeKind::Surveyed,
            Change::Reviewed { .. } => ChangeKind::Reviewed,
            Change::Appraised(_) => ChangeKind::Appraised,
            Change::OwnerNotified { .. } => ChangeKind::OwnerNotified,
            Change::InterimControlApplied { .. } => ChangeKind::InterimControlApplied,
            Change::EngineeringStarted { .. } => ChangeKind::EngineeringStarted,
            Change::EngineeringAccepted { .. } => ChangeKind::EngineeringAccepted,
            Change::Closed { .. } => ChangeKind::Closed,
            Change::LegacyClosureRecorded { .. } => ChangeKind::LegacyClosureRecorded,
            Change::LookBackReviewed { .. } => ChangeKind::LookBackReviewed,
            Change::Reopened => ChangeKind::Reopened,
            Change::Reclassified { .. } => ChangeKind::Reclassified,
            Change::Corrected { .. } => ChangeKind::Corrected,
        }
    }

    /// The personal part of a change, if it carries one (stored apart, protected at rest).
    pub fn people(&self) -> Option<&People> {
        match self {
            Change::Registered { people, .. } => Some(people),
            Change::Corrected { people, .. } => people.as_deref(),
            _ => None,
        }
    }
}

/// A request to change a house: the step plus its circumstances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub house: HouseCode,
    /// The house version the person saw (0 for a new house). A stale one is a conflict.
    pub expected_version: u32,
    pub change: Change,
    /// When it happened in the field (排查日期, 鉴定日期, 竣工日期 …).
    pub effective: NaiveDate,
    /// Required where the step changes earlier facts (rule R4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// An accepted step. `seq` is the house version after it (1 for registration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub house: HouseCode,
    pub seq: u32,
    pub effective: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    pub change: Change,
}

impl Event {
    /// The command that, decided against the state before this event, yields it again.
    pub fn to_command(&self) -> Command {
        Command {
            house: self.house.clone(),
            expected_version: self.seq - 1,
            change: self.change.clone(),
            effective: self.effective,
            reason: self.reason.clone(),
            evidence: self.evidence.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dict::Judgement;

    /// The sample hazard survey (round, surveyor, risk level, hazard category and part) with
    /// every other field filled in too.
    fn survey() -> Survey {
        Survey {
            geohazards: vec!["滑坡".into()],
            fire_hazards: vec!["电线私拉乱接".into()],
            added_load: true,
            remarks: Some("备注".into()),
            ..crate::sample::survey(Judgement::Hazard)
        }
    }

    /// Events are hash-chained over their stored JSON: a survey without a position must
    /// serialize exactly as surveys did before positions existed, and read back the same.
    #[test]
    fn a_survey_without_a_position_serializes_as_before() {
        const BEFORE: &str = r#"{"type":"surveyed","round":"攻坚行动首轮","surveyor":"王排查","judgement":"hazard","risk_level":"general","hazard_categories":["上部承重结构"],"hazard_parts":["墙体"],"geohazards":["滑坡"],"fire_hazards":["电线私拉乱接"],"added_load":true,"remarks":"备注"}"#;
        let change = Change::Surveyed(Box::new(survey()));
        assert_eq!(serde_json::to_string(&change).unwrap(), BEFORE);
        assert_eq!(serde_json::from_str::<Change>(BEFORE).unwrap(), change);
    }

    #[test]
    fn a_survey_position_is_stored_after_the_other_fields() {
        let mut s = survey();
        s.remarks = None;
        s.location = Some(GeoFix {
            longitude: 116.397128,
            latitude: 35.405421,
            accuracy_m: Some(18.0),
        });
        let json = serde_json::to_string(&Change::Surveyed(Box::new(s.clone()))).unwrap();
        assert!(
            json.ends_with(r#""added_load":true,"location":{"longitude":116.397128,"latitude":35.405421,"accuracy_m":18.0}}"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<Change>(&json).unwrap(),
            Change::Surveyed(Box::new(s.clone()))
        );
        // Typed in by hand: no accuracy.
        s.location = Some(GeoFix {
            longitude: 116.4,
            latitude: 35.4,
            accuracy_m: None,
        });
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.ends_with(r#""location":{"longitude":116.4,"latitude":35.4}}"#),
            "{json}"
        );
    }
}
