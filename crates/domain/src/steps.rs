//! The lifecycle steps' forms as tables: one table per step that has a form, naming each field's
//! form name, Chinese label, how it is entered, whether it is required and where its value goes.
//! The web form is built from the table and the posted form is read back into the step's
//! [`Change`](crate::Change) from it, so a field is added or renamed in one place.

use crate::Coded;
use crate::dict::{
    ClosureBasis, EngMeasure, Grade, HandlingAdvice, Judgement, MgmtMeasure, ReviewFinding,
    RiskLevel, kind,
};
use crate::event::{Change, ChangeKind, EvidenceKind};
use chrono::NaiveDate;
use serde_json::{Map, Value as Json, json};

/// A set of coded values, as the (code, label) pairs of its values in display order.
#[derive(Debug, Clone, Copy)]
pub struct CodeSet(fn() -> Vec<(&'static str, &'static str)>);

impl CodeSet {
    pub const fn of<T: Coded>() -> Self {
        CodeSet(pairs::<T>)
    }

    pub fn options(self) -> Vec<(&'static str, &'static str)> {
        (self.0)()
    }

    /// The code of the value written as this code or label (as [`Coded::parse`]).
    pub fn parse(self, s: &str) -> Option<&'static str> {
        let s = s.trim();
        self.options()
            .into_iter()
            .find(|(code, label)| *code == s || *label == s)
            .map(|(code, _)| code)
    }
}

fn pairs<T: Coded>() -> Vec<(&'static str, &'static str)> {
    T::ALL.iter().map(|v| (v.code(), v.label())).collect()
}

/// How a field is entered.
#[derive(Debug, Clone, Copy)]
pub enum Entry {
    Text,
    /// Several lines (意见, 备注, 原因).
    LongText,
    Date,
    /// A decimal number typed in (经纬度).
    Decimal,
    /// A decimal filled by the page's script, not typed (the accuracy of 「获取当前位置」).
    Hidden,
    /// One value of a coded set.
    Coded(CodeSet),
    /// Several values of a coded set.
    CodedMany(CodeSet),
    /// One value of a dictionary (its label is its value).
    Dict(&'static str),
    /// Several values of a dictionary.
    DictMany(&'static str),
    /// A closure basis: one of [`ClosureBasis`], those that stand for the house marked.
    Basis,
    /// 是/否 as a choice, with the words for each answer; the value is `true` or `false`.
    YesNo {
        no: &'static str,
        yes: &'static str,
    },
    /// One box to tick with its word; ticked is `true`, otherwise `false`.
    Flag(&'static str),
    /// Evidence files of one kind, uploaded under [`upload_field`].
    Files(EvidenceKind),
}

/// Where a field's value goes in the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The field of the step's `Change` variant with the form field's name.
    Change,
    /// The command's `effective` date.
    Effective,
    /// The command's `reason`.
    Reason,
    /// The survey's `location` (经度 and 纬度 both or neither).
    Location(Coord),
    /// The command's evidence.
    Evidence,
}

/// A part of a position ([`crate::event::GeoFix`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coord {
    Longitude,
    Latitude,
    Accuracy,
}

impl Coord {
    /// The key in the serialised `GeoFix`.
    pub fn key(self) -> &'static str {
        match self {
            Coord::Longitude => "longitude",
            Coord::Latitude => "latitude",
            Coord::Accuracy => "accuracy_m",
        }
    }
}

/// What an empty form starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefill {
    Nothing,
    /// Today's date (Beijing).
    Today,
    /// The name of whoever fills it in (who surveys usually records the survey).
    ActorName,
}

/// One field of a step form.
#[derive(Debug, Clone, Copy)]
pub struct StepField {
    /// The form field's name (and, for [`Target::Change`], the variant's field).
    pub name: &'static str,
    pub label: &'static str,
    pub entry: Entry,
    pub required: bool,
    pub target: Target,
    pub prefill: Prefill,
}

impl StepField {
    /// The label without its parenthesised hint, as messages name the field
    /// ("风险等级（存在隐患时填写）" is “风险等级”).
    pub fn short_label(&self) -> &'static str {
        self.label.split('（').next().unwrap_or(self.label).trim()
    }

    /// Whether the field is chosen from given values (a missing one says 请选择, not 请填写).
    pub fn is_choice(&self) -> bool {
        !matches!(
            self.entry,
            Entry::Text | Entry::LongText | Entry::Date | Entry::Decimal | Entry::Hidden
        )
    }
}

const fn data(name: &'static str, label: &'static str, entry: Entry, required: bool) -> StepField {
    StepField {
        name,
        label,
        entry,
        required,
        target: Target::Change,
        prefill: Prefill::Nothing,
    }
}

/// A required field of the step's change.
const fn need(name: &'static str, label: &'static str, entry: Entry) -> StepField {
    data(name, label, entry, true)
}

/// An optional field of the step's change.
const fn may(name: &'static str, label: &'static str, entry: Entry) -> StepField {
    data(name, label, entry, false)
}

const fn reason(label: &'static str) -> StepField {
    StepField {
        target: Target::Reason,
        ..data("reason", label, Entry::LongText, true)
    }
}

/// The management measures a step records (临时管控 or 前期销号).
const fn measures(label: &'static str) -> StepField {
    need("measures", label, E::CodedMany(MGMT_MEASURE))
}

const fn position(name: &'static str, label: &'static str, entry: Entry, c: Coord) -> StepField {
    StepField {
        target: Target::Location(c),
        ..data(name, label, entry, false)
    }
}

const fn files(k: EvidenceKind, label: &'static str) -> StepField {
    let Some(name) = upload_field(k) else {
        panic!("a kind people do not upload")
    };
    StepField {
        target: Target::Evidence,
        ..data(name, label, Entry::Files(k), false)
    }
}

/// The form field an evidence kind is uploaded under; a ledger record is never uploaded.
pub const fn upload_field(k: EvidenceKind) -> Option<&'static str> {
    Some(match k {
        EvidenceKind::Photo => "ev_photo",
        EvidenceKind::PhotoBefore => "ev_photo_before",
        EvidenceKind::PhotoAfter => "ev_photo_after",
        EvidenceKind::Report => "ev_report",
        EvidenceKind::SignedForm => "ev_signed_form",
        EvidenceKind::Other => "ev_other",
        EvidenceKind::LedgerRecord => return None,
    })
}

/// 发生日期: the first field of every step form.
pub const EFFECTIVE: StepField = StepField {
    target: Target::Effective,
    prefill: Prefill::Today,
    ..need("effective", "发生日期", Entry::Date)
};

const JUDGEMENT: CodeSet = CodeSet::of::<Judgement>();
const RISK_LEVEL: CodeSet = CodeSet::of::<RiskLevel>();
const GRADE: CodeSet = CodeSet::of::<Grade>();
const MGMT_MEASURE: CodeSet = CodeSet::of::<MgmtMeasure>();
const ENG_MEASURE: CodeSet = CodeSet::of::<EngMeasure>();
const FINDING: CodeSet = CodeSet::of::<ReviewFinding>();
const ADVICE: CodeSet = CodeSet::of::<HandlingAdvice>();

use Entry as E;

const SURVEYED: &[StepField] = &[
    need("round", "排查批次", E::Dict(kind::SURVEY_ROUND)),
    StepField {
        prefill: Prefill::ActorName,
        ..need("surveyor", "排查人员", E::Text)
    },
    need("judgement", "隐患初判", E::Coded(JUDGEMENT)),
    may(
        "risk_level",
        "风险等级（存在隐患时填写）",
        E::Coded(RISK_LEVEL),
    ),
    may(
        "hazard_categories",
        "隐患类别",
        E::DictMany(kind::HAZARD_CATEGORY),
    ),
    // 排查定位: optional; 「获取当前位置」 beside 纬度 (field.html) fills all three (app.js).
    position("longitude", "经度", E::Decimal, Coord::Longitude),
    position("latitude", "纬度", E::Decimal, Coord::Latitude),
    position("accuracy_m", "定位精度（米）", E::Hidden, Coord::Accuracy),
    may("remarks", "备注", E::LongText),
    files(EvidenceKind::Photo, "现场照片"),
];

const REVIEWED: &[StepField] = &[
    need("reviewer_names", "复核人员", E::Text),
    need("finding", "复核结论", E::Coded(FINDING)),
    may("opinion", "复核意见", E::LongText),
    files(EvidenceKind::SignedForm, "复核人员签字的复核表"),
    files(EvidenceKind::Photo, "现场照片"),
];

const APPRAISED: &[StepField] = &[
    need("agency_name", "鉴定机构", E::Text),
    need("reviewer_names", "鉴定人员", E::Text),
    need("standard", "鉴定标准", E::Dict(kind::APPRAISAL_STANDARD)),
    need("report_no", "鉴定报告编号", E::Text),
    need("grade", "鉴定等级", E::Coded(GRADE)),
    may("advice", "处理建议", E::Coded(ADVICE)),
    may("post_rectification", "整治后复核鉴定", E::Flag("是")),
    files(EvidenceKind::Report, "鉴定报告"),
];

const OWNER_NOTIFIED: &[StepField] = &[
    need("method", "告知方式", E::Dict(kind::NOTICE_METHOD)),
    need("recipient", "被告知人", E::Text),
    files(EvidenceKind::SignedForm, "签收回执"),
];

const INTERIM_CONTROL_APPLIED: &[StepField] = &[
    measures("管理措施（临时管控，不能作为销号依据）"),
    files(EvidenceKind::Photo, "现场照片"),
];

const ENGINEERING_STARTED: &[StepField] = &[
    need("measure", "工程措施", E::Coded(ENG_MEASURE)),
    may("contractor", "施工单位", E::Text),
    may("deadline", "计划完成日期", E::Date),
    files(EvidenceKind::PhotoBefore, "整治前照片"),
];

const ENGINEERING_ACCEPTED: &[StepField] = &[
    need("measure", "完成的工程措施", E::Coded(ENG_MEASURE)),
    need("reviewer_names", "验收人员（专业技术人员）", E::Text),
    may("opinion", "验收意见", E::LongText),
    files(EvidenceKind::PhotoBefore, "整治前照片 *"),
    files(
        EvidenceKind::PhotoAfter,
        "整治后照片 *（拆除的可上传拆除后现场照片）",
    ),
    files(EvidenceKind::Photo, "拆除后现场照片"),
    files(EvidenceKind::Report, "验收资料"),
];

const LOOK_BACK_REVIEWED: &[StepField] = &[
    need("reviewer_names", "复核人员（专业技术人员）", E::Text),
    need(
        "hazard_remains",
        "复核结论",
        E::YesNo {
            no: "隐患已消除",
            yes: "隐患仍存在（重新纳入整治）",
        },
    ),
    may("opinion", "复核意见", E::LongText),
    files(EvidenceKind::SignedForm, "复核人员签字的复核表 *"),
    files(EvidenceKind::Photo, "现场照片"),
];

const CLOSED: &[StepField] = &[
    need("basis", "销号依据（标“当前成立”的依据才能销号）", E::Basis),
    may("platform_closed_on", "归集平台销号日期", E::Date),
    files(EvidenceKind::Other, "销号材料"),
];

const LEGACY_CLOSURE_RECORDED: &[StepField] = &[
    need("closed_on", "前期销号日期", E::Date),
    measures("前期销号时采取的管理措施"),
    files(EvidenceKind::Other, "前期销号材料"),
];

const REOPENED: &[StepField] = &[
    reason("重新纳入整治的原因"),
    files(EvidenceKind::Other, "相关材料"),
];

const RECLASSIFIED: &[StepField] = &[
    may("judgement", "更正隐患初判为", E::Coded(JUDGEMENT)),
    may("risk_level", "更正风险等级为", E::Coded(RISK_LEVEL)),
    may("grade", "更正鉴定等级为", E::Coded(GRADE)),
    reason("更正原因"),
    files(EvidenceKind::Other, "相关材料"),
];

/// The step's own fields (after [`EFFECTIVE`]), if the step has a form here; registration and
/// record corrections have the record form (built from [`crate::columns`]).
pub fn form(k: ChangeKind) -> Option<&'static [StepField]> {
    Some(match k {
        ChangeKind::Surveyed => SURVEYED,
        ChangeKind::Reviewed => REVIEWED,
        ChangeKind::Appraised => APPRAISED,
        ChangeKind::OwnerNotified => OWNER_NOTIFIED,
        ChangeKind::InterimControlApplied => INTERIM_CONTROL_APPLIED,
        ChangeKind::EngineeringStarted => ENGINEERING_STARTED,
        ChangeKind::EngineeringAccepted => ENGINEERING_ACCEPTED,
        ChangeKind::Closed => CLOSED,
        ChangeKind::LegacyClosureRecorded => LEGACY_CLOSURE_RECORDED,
        ChangeKind::LookBackReviewed => LOOK_BACK_REVIEWED,
        ChangeKind::Reopened => REOPENED,
        ChangeKind::Reclassified => RECLASSIFIED,
        ChangeKind::Registered | ChangeKind::Corrected => return None,
    })
}

/// Whether the step has a form here.
pub fn has_form(k: ChangeKind) -> bool {
    form(k).is_some()
}

/// Every field of the step's form in order: [`EFFECTIVE`], then the step's own.
pub fn fields(k: ChangeKind) -> impl Iterator<Item = &'static StepField> {
    form(k)
        .into_iter()
        .flat_map(|f| std::iter::once(&EFFECTIVE).chain(f))
}

/// The closure basis options, those standing for the house marked （当前成立）.
pub fn basis_options(standing: &[ClosureBasis]) -> Vec<(&'static str, String)> {
    ClosureBasis::ALL
        .iter()
        .map(|b| {
            let mark = if standing.contains(b) {
                "（当前成立）"
            } else {
                ""
            };
            (b.code(), format!("{}{mark}", b.label()))
        })
        .collect()
}

/// A field's value read from a form, typed by its [`Entry`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Date(NaiveDate),
    Number(f64),
    Bool(bool),
    /// A coded value's code.
    Code(&'static str),
    /// Several codes or dictionary values.
    List(Vec<String>),
}

impl Value {
    fn json(&self) -> Json {
        match self {
            Value::Text(s) => json!(s),
            Value::Date(d) => json!(d),
            Value::Number(x) => json!(x),
            Value::Bool(b) => json!(b),
            Value::Code(c) => json!(c),
            Value::List(v) => json!(v),
        }
    }
}

/// What a step form yields besides the evidence: the change, when it happened and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Filled {
    pub change: Change,
    pub effective: NaiveDate,
    pub reason: Option<String>,
}

/// The step's change from its fields' values, put where the table says: a variant's field is
/// given by its serialised form (`{"type": kind, name: value, …}`), so fields not on the form
/// keep the variant's defaults. A field left empty is simply absent from `values`.
pub fn fill(k: ChangeKind, values: &[(&StepField, Value)]) -> Result<Filled, String> {
    let mut change = Map::new();
    change.insert("type".into(), json!(k.code()));
    let (mut effective, mut reason, mut location) = (None, None, Map::new());
    for (f, v) in values {
        match (f.target, v) {
            (Target::Change, v) => {
                change.insert(f.name.into(), v.json());
            }
            (Target::Effective, Value::Date(d)) => effective = Some(*d),
            (Target::Reason, Value::Text(s)) => reason = Some(s.clone()),
            (Target::Location(c), v) => {
                location.insert(c.key().into(), v.json());
            }
            (Target::Evidence, _) | (Target::Effective | Target::Reason, _) => {}
        }
    }
    // 经度 and 纬度 together or neither; the accuracy only with them.
    let has = |c: Coord| location.contains_key(c.key());
    match (has(Coord::Longitude), has(Coord::Latitude)) {
        (true, true) => {
            change.insert("location".into(), Json::Object(location));
        }
        (false, false) => {}
        _ => return Err("经度和纬度须同时填写".into()),
    }
    let change = serde_json::from_value(Json::Object(change))
        .map_err(|e| format!("表单与步骤不符，请重新打开：{e}"))?;
    Ok(Filled {
        change,
        effective: effective.ok_or_else(|| format!("请填写“{}”", EFFECTIVE.label))?,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dict::ReviewFinding;
    use crate::sample;

    /// A value for each field that no serde default would drop.
    fn example(f: &StepField) -> Option<Value> {
        let first = |set: CodeSet| set.options()[0].0;
        Some(match (f.entry, f.target) {
            (Entry::Files(_), _) => return None,
            (_, Target::Location(Coord::Longitude)) => Value::Number(116.397128),
            (_, Target::Location(Coord::Latitude)) => Value::Number(35.405421),
            (_, Target::Location(Coord::Accuracy)) => Value::Number(18.0),
            (Entry::Text | Entry::LongText | Entry::Dict(_), _) => Value::Text("样例".into()),
            (Entry::Date, _) => Value::Date(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap()),
            (Entry::Decimal | Entry::Hidden, _) => Value::Number(1.5),
            (Entry::Coded(set), _) => Value::Code(first(set)),
            (Entry::Basis, _) => Value::Code(ClosureBasis::ALL[0].code()),
            (Entry::CodedMany(set), _) => Value::List(vec![first(set).into()]),
            (Entry::DictMany(_), _) => Value::List(vec!["样例".into()]),
            (Entry::YesNo { .. } | Entry::Flag(_), _) => Value::Bool(true),
        })
    }

    fn form_kinds() -> impl Iterator<Item = ChangeKind> {
        ChangeKind::ALL.iter().copied().filter(|k| has_form(*k))
    }

    /// One change of each kind with a form, as recorded (the fields no form has included).
    fn recorded(k: ChangeKind) -> Change {
        let on = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        match k {
            ChangeKind::Surveyed => Change::Surveyed(Box::new(sample::survey(Judgement::Hazard))),
            ChangeKind::Reviewed => Change::Reviewed {
                reviewer_names: "孙复核".into(),
                finding: ReviewFinding::NoHazard,
                opinion: Some("无隐患".into()),
            },
            ChangeKind::Appraised => Change::Appraised(Box::new(sample::appraisal(Grade::C, true))),
            ChangeKind::OwnerNotified => Change::OwnerNotified {
                method: "书面告知".into(),
                recipient: "张三".into(),
            },
            ChangeKind::InterimControlApplied => Change::InterimControlApplied {
                measures: MgmtMeasure::ALL.to_vec(),
            },
            ChangeKind::EngineeringStarted => Change::EngineeringStarted {
                measure: EngMeasure::ALL[0],
                contractor: Some("某建筑公司".into()),
                deadline: Some(on),
            },
            ChangeKind::EngineeringAccepted => Change::EngineeringAccepted {
                measure: EngMeasure::ALL[0],
                reviewer_names: "孙验收".into(),
                opinion: Some("合格".into()),
            },
            ChangeKind::Closed => Change::Closed {
                basis: ClosureBasis::ALL[0],
                platform_closed_on: Some(on),
            },
            ChangeKind::LegacyClosureRecorded => Change::LegacyClosureRecorded {
                measures: MgmtMeasure::ALL.to_vec(),
                closed_on: on,
            },
            ChangeKind::LookBackReviewed => Change::LookBackReviewed {
                reviewer_names: "孙复核".into(),
                hazard_remains: true,
                opinion: None,
            },
            ChangeKind::Reopened => Change::Reopened,
            ChangeKind::Reclassified => Change::Reclassified {
                judgement: Some(Judgement::Hazard),
                risk_level: Some(RiskLevel::General),
                grade: Some(Grade::C),
            },
            ChangeKind::Registered | ChangeKind::Corrected => unreachable!("no step form"),
        }
    }

    fn keys(change: &Change) -> Vec<String> {
        let Json::Object(m) = serde_json::to_value(change).unwrap() else {
            panic!("a change serialises as an object")
        };
        m.keys().filter(|k| *k != "type").cloned().collect()
    }

    #[test]
    fn every_field_a_table_names_lands_in_its_change() {
        for k in form_kinds() {
            let values: Vec<_> = fields(k)
                .filter_map(|f| example(f).map(|v| (f, v)))
                .collect();
            let filled = fill(k, &values).unwrap_or_else(|e| panic!("{k:?}: {e}"));
            assert_eq!(filled.change.kind(), k);
            assert_eq!(filled.effective.to_string(), "2024-05-01");
            let keys = keys(&filled.change);
            for f in fields(k) {
                match f.target {
                    Target::Change => assert!(
                        keys.iter().any(|key| key == f.name),
                        "{k:?}: the table's “{}” is not a field of the change: {keys:?}",
                        f.name
                    ),
                    Target::Location(_) => assert!(keys.iter().any(|key| key == "location")),
                    Target::Reason => assert_eq!(filled.reason.as_deref(), Some("样例")),
                    Target::Effective | Target::Evidence => {}
                }
            }
        }
    }

    #[test]
    fn every_field_a_change_requires_is_in_its_table_as_required() {
        for k in form_kinds() {
            let values: Vec<_> = fields(k)
                .filter(|f| f.required)
                .filter_map(|f| example(f).map(|v| (f, v)))
                .collect();
            let filled = fill(k, &values).unwrap_or_else(|e| panic!("{k:?}: {e}"));
            assert_eq!(filled.change.kind(), k);
        }
    }

    /// A recorded change of each kind, without the fields its table does not name, reads back:
    /// what no form asks for has a default.
    #[test]
    fn what_no_form_asks_for_has_a_default() {
        for k in form_kinds() {
            let change = recorded(k);
            let Json::Object(mut json) = serde_json::to_value(&change).unwrap() else {
                panic!()
            };
            let named = |key: &str| {
                key == "type"
                    || fields(k).any(|f| {
                        f.name == key && f.target == Target::Change
                            || key == "location" && matches!(f.target, Target::Location(_))
                    })
            };
            let dropped: Vec<_> = json.keys().filter(|key| !named(key)).cloned().collect();
            for key in &dropped {
                json.remove(key);
            }
            let back: Change = serde_json::from_value(Json::Object(json))
                .unwrap_or_else(|e| panic!("{k:?} without {dropped:?}: {e}"));
            assert_eq!(back.kind(), k);
            for key in keys(&back) {
                assert!(keys(&change).contains(&key), "{k:?}: {key}");
            }
        }
    }

    #[test]
    fn a_position_needs_both_coordinates() {
        let lon = fields(ChangeKind::Surveyed)
            .find(|f| f.target == Target::Location(Coord::Longitude))
            .unwrap();
        let on = Value::Date(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap());
        let values = [(&EFFECTIVE, on), (lon, Value::Number(116.4))];
        let err = fill(ChangeKind::Surveyed, &values).unwrap_err();
        assert_eq!(err, "经度和纬度须同时填写");
    }

    #[test]
    fn messages_name_a_field_without_its_hint() {
        let risk = fields(ChangeKind::Surveyed)
            .find(|f| f.name == "risk_level")
            .unwrap();
        assert_eq!(risk.short_label(), "风险等级");
        assert_eq!(EFFECTIVE.short_label(), "发生日期");
    }

    #[test]
    fn standing_closure_bases_are_marked() {
        let standing = [ClosureBasis::ALL[1]];
        let options = basis_options(&standing);
        assert_eq!(options.len(), ClosureBasis::ALL.len());
        assert!(options[1].1.ends_with("（当前成立）"));
        assert!(!options[0].1.contains("当前成立"));
    }

    #[test]
    fn names_are_unique_within_a_form_and_files_use_their_upload_field() {
        for k in form_kinds() {
            let mut seen = std::collections::BTreeSet::new();
            for f in fields(k) {
                assert!(seen.insert(f.name), "{k:?}: {} twice", f.name);
                if let Entry::Files(e) = f.entry {
                    assert_eq!(upload_field(e), Some(f.name));
                    assert_eq!(f.target, Target::Evidence);
                }
            }
        }
        assert!(!has_form(ChangeKind::Registered) && !has_form(ChangeKind::Corrected));
    }
}
