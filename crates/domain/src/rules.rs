//! The campaign rules (DOMAIN §4): [`decide`] accepts a step as an event or refuses it with a
//! rule code and a message a town clerk understands. Pure: no clock, no I/O.

use crate::Coded;
use crate::dict::{ClosureBasis, Dictionaries, Judgement, ReviewFinding, kind};
use crate::event::{Actor, Change, ChangeKind, Command, Event, EvidenceKind, Role};
use crate::state::HouseState;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable rule codes. The code is for machines and support; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RuleCode {
    /// Management measures are never a basis for closure.
    R1,
    /// Legacy closures on management measures need an on-site look-back first.
    R2,
    /// C/D or obviously unsafe houses need the owner notification on record.
    R3,
    /// Nothing is deleted or overwritten: corrections need a reason.
    R4,
    /// A signed or submitted ledger is frozen.
    R5,
    /// A closure needs a standing basis.
    C1,
    /// A closure is approved by someone other than whoever recorded its basis.
    C2,
    /// The house is already closed.
    C3,
    /// The step does not fit the house's stage.
    L1,
    /// Registration: unknown house, or already registered.
    L2,
    /// Dates: not before the house's previous step, not in the future.
    D1,
    /// The role may not take this step.
    P1,
    /// A field is missing or invalid.
    F1,
    /// Required evidence (photos, signed form) is missing.
    E1,
    /// The house changed since the person loaded it.
    V1,
    /// No quiet way down: a house leaves ①/④/⑤ (or enters ②/⑦) only on a professional basis
    /// recorded by an account other than the one taking the step.
    B1,
}

impl RuleCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleCode::R1 => "R1",
            RuleCode::R2 => "R2",
            RuleCode::R3 => "R3",
            RuleCode::R4 => "R4",
            RuleCode::R5 => "R5",
            RuleCode::C1 => "C1",
            RuleCode::C2 => "C2",
            RuleCode::C3 => "C3",
            RuleCode::L1 => "L1",
            RuleCode::L2 => "L2",
            RuleCode::D1 => "D1",
            RuleCode::P1 => "P1",
            RuleCode::F1 => "F1",
            RuleCode::E1 => "E1",
            RuleCode::V1 => "V1",
            RuleCode::B1 => "B1",
        }
    }
}

/// A refused step: which rule, and why in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct RuleViolation {
    pub code: RuleCode,
    pub message: String,
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What happened first, in words; the rule's code after, for whoever looks it up.
        write!(f, "{}（规则 {}）", self.message, self.code.as_str())
    }
}

fn refuse<T>(code: RuleCode, message: impl Into<String>) -> Result<T, RuleViolation> {
    Err(RuleViolation {
        code,
        message: message.into(),
    })
}

/// Beijing time, the date people in the field mean.
pub fn beijing_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("valid offset"))
        .date_naive()
}

/// The stale-version refusal, naming who changed the house last and when.
pub fn conflict(state: &HouseState, expected: u32) -> RuleViolation {
    let who = state
        .last_actor
        .as_ref()
        .map_or_else(|| "他人".to_string(), |a| format!("{}（{}）", a.name, a.id));
    let when = state.last_recorded_at.map_or_else(String::new, |t| {
        t.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("valid offset"))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    });
    RuleViolation {
        code: RuleCode::V1,
        message: format!(
            "该房屋已于 {when} 被 {who} 修改（您看到的是第 {expected} 版，当前为第 {} 版），请刷新后核对再提交",
            state.version
        ),
    }
}

/// Which roles may take which step (the domain half of authorisation; scope is the other).
pub fn permitted(role: Role, change: &Change) -> bool {
    use ChangeKind as K;
    let k = change.kind();
    match role {
        Role::System => true,
        Role::Auditor | Role::Inspector => false,
        Role::CountyOffice => !matches!(
            k,
            K::Reviewed | K::Appraised | K::EngineeringAccepted | K::LookBackReviewed
        ),
        Role::TownOperator => {
            matches!(
                k,
                K::Registered
                    | K::Surveyed
                    | K::OwnerNotified
                    | K::InterimControlApplied
                    | K::EngineeringStarted
                    | K::LegacyClosureRecorded
                    | K::Corrected
            ) || matches!(change, Change::Reclassified { grade: None, .. })
        }
        Role::TownPrincipal => matches!(k, K::Closed | K::Reopened),
        Role::Department => matches!(k, K::Surveyed | K::OwnerNotified | K::InterimControlApplied),
        Role::TechReviewer => {
            matches!(
                k,
                K::Surveyed
                    | K::Reviewed
                    | K::EngineeringAccepted
                    | K::LookBackReviewed
                    | K::Reopened
            ) || matches!(change, Change::Reclassified { grade: None, .. })
        }
        Role::Appraiser => {
            matches!(k, K::Appraised)
                || matches!(
                    change,
                    Change::Reclassified {
                        judgement: None,
                        risk_level: None,
                        grade: Some(_)
                    }
                )
        }
    }
}

/// Whether the role may register houses (the permission does not depend on the content).
pub fn may_register(role: Role) -> bool {
    let village = crate::RegionCode::parse("370829100201").expect("valid");
    permitted(
        role,
        &Change::Registered {
            source: crate::dict::RegistrationSource::DynamicSurvey,
            plaque_token: String::new(),
            record: Box::new(crate::sample::record(
                village,
                crate::dict::UsageCategory::Other,
            )),
            people: Box::default(),
        },
    )
}

fn nonempty(s: &str, what: &str) -> Result<(), RuleViolation> {
    if s.trim().is_empty() {
        return refuse(RuleCode::F1, format!("{what}不能为空"));
    }
    Ok(())
}

fn in_dict(dict: &Dictionaries, k: &str, what: &str, v: &[String]) -> Result<(), RuleViolation> {
    match v.iter().find(|x| !dict.allows(k, x)) {
        Some(x) => refuse(RuleCode::F1, format!("{what}“{x}”不在字典中")),
        None => Ok(()),
    }
}

/// A registered or corrected record whose numbers or dates no house can have is refused (F1),
/// every such field named with its bound ([`crate::bounds`]), against the day it is recorded.
fn check_plausible(cmd: &Command, recorded_at: DateTime<Utc>) -> Result<(), RuleViolation> {
    let record = match &cmd.change {
        Change::Registered { record, .. } | Change::Corrected { record, .. } => record,
        _ => return Ok(()),
    };
    let problems = crate::bounds::implausible(record, beijing_date(recorded_at));
    if problems.is_empty() {
        Ok(())
    } else {
        let named: Vec<String> = problems.iter().map(ToString::to_string).collect();
        refuse(RuleCode::F1, named.join("；"))
    }
}

/// Every text of a command within [`crate::text`]'s limits, each refusal naming its field
/// (the house record's Chinese header where the key is one of its columns).
fn check_text(cmd: &Command) -> Result<(), RuleViolation> {
    let label = |key: &str| match key {
        "reason" => "事由".to_string(),
        "opinion" | "opinions" => "意见".to_string(),
        "remark" | "remarks" | "note" => "备注".to_string(),
        k => crate::columns::column(k).map_or_else(|| k.to_string(), |c| c.header.to_string()),
    };
    let value = serde_json::to_value(&cmd.change).map_err(|e| RuleViolation {
        code: RuleCode::F1,
        message: format!("命令无法读取：{e}"),
    })?;
    let reason = cmd.reason.as_deref().unwrap_or("");
    crate::text::check("事由", reason, crate::text::MAX_TEXT)
        .and_then(|()| crate::text::check_json(&value, "", &label))
        .map_err(|message| RuleViolation {
            code: RuleCode::F1,
            message,
        })
}

/// Decides whether `cmd`, asked by `actor` at `recorded_at`, may happen to the house in `state`.
/// On success the event to append; on refusal the rule, and nothing is to be written.
pub fn decide(
    state: &HouseState,
    cmd: &Command,
    actor: &Actor,
    recorded_at: DateTime<Utc>,
    dict: &Dictionaries,
) -> Result<Event, RuleViolation> {
    if cmd.house != state.code {
        return refuse(RuleCode::F1, "命令与房屋编码不一致");
    }
    if cmd.expected_version != state.version {
        return Err(conflict(state, cmd.expected_version));
    }
    if !permitted(actor.role, &cmd.change) {
        return refuse(
            RuleCode::P1,
            format!(
                "{}无权进行“{}”操作",
                actor.role.label(),
                cmd.change.kind().label()
            ),
        );
    }
    check_dates(state, cmd, recorded_at)?;
    check_reason(cmd)?;
    check_text(cmd)?;
    check_plausible(cmd, recorded_at)?;
    check_step(state, cmd, actor, dict)?;
    Ok(Event {
        house: cmd.house.clone(),
        seq: state.version + 1,
        effective: cmd.effective,
        recorded_at,
        actor: actor.clone(),
        reason: cmd.reason.clone(),
        evidence: cmd.evidence.clone(),
        change: cmd.change.clone(),
    })
}

fn check_dates(
    state: &HouseState,
    cmd: &Command,
    recorded_at: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    let today = beijing_date(recorded_at);
    let effective = cmd.effective;
    let misdated = |message: String| refuse(RuleCode::D1, message);
    if effective > today {
        return misdated(format!(
            "发生日期 {effective} 晚于今天（{today}），不能预填未发生的事项"
        ));
    }
    if let Some(last) = state.last_effective
        && effective < last
    {
        return misdated(format!(
            "发生日期 {effective} 早于该房屋上一步的日期 {last}；如需补录更早的事项，请先核对时间顺序"
        ));
    }
    if let Some(prev) = state.last_recorded_at
        && recorded_at < prev
    {
        return misdated("记录时间早于该房屋上一条记录，时间顺序有误".into());
    }
    // Dates a step carries besides its own: in the past, and in order with the step's.
    match &cmd.change {
        Change::Closed {
            platform_closed_on: Some(d),
            ..
        } if *d > today => misdated(format!("归集平台销号日期 {d} 不能晚于今天（{today}）")),
        Change::LegacyClosureRecorded { closed_on, .. } if *closed_on > effective => {
            misdated(format!(
                "前期销号日期 {closed_on} 不能晚于登记日期 {effective}（前期销号须在登记之前）"
            ))
        }
        Change::EngineeringStarted {
            deadline: Some(d), ..
        } if *d < effective => misdated(format!(
            "整治时限（计划完成日期）{d} 不能早于开工日期 {effective}"
        )),
        _ => Ok(()),
    }
}

fn check_reason(cmd: &Command) -> Result<(), RuleViolation> {
    let kind = cmd.change.kind();
    let needs = matches!(
        kind,
        ChangeKind::Reopened | ChangeKind::Reclassified | ChangeKind::Corrected
    );
    let has = cmd.reason.as_deref().is_some_and(|r| !r.trim().is_empty());
    if needs && !has {
        let step = kind.label();
        return refuse(
            RuleCode::R4,
            format!("“{step}”会改变已记录的事实，须填写原因；原记录保留不删除（规则R4）"),
        );
    }
    Ok(())
}

fn check_step(
    s: &HouseState,
    cmd: &Command,
    actor: &Actor,
    dict: &Dictionaries,
) -> Result<(), RuleViolation> {
    let registered = s.record.is_some();
    if !registered && !matches!(cmd.change, Change::Registered { .. }) {
        return refuse(RuleCode::L2, "该房屋尚未登记，请先登记房屋");
    }
    let closed = s.closure.is_some();
    let legacy_pending = s.legacy.as_ref().is_some_and(|l| l.look_back.is_none());
    let kind = cmd.change.kind();
    let may_follow_closure = matches!(
        kind,
        ChangeKind::Reopened
            | ChangeKind::Reclassified
            | ChangeKind::Corrected
            | ChangeKind::Closed
    );
    if closed && !may_follow_closure {
        let step = kind.label();
        return refuse(
            RuleCode::L1,
            format!("该房屋已销号，不能再进行“{step}”；如发现隐患仍存在，请先重新纳入整治"),
        );
    }
    let need_hazard = |what: &str| -> Result<(), RuleViolation> {
        if s.judgement.is_none() {
            return refuse(RuleCode::L1, format!("该房屋尚未排查初判，不能{what}"));
        }
        if !s.hazard {
            return refuse(
                RuleCode::L1,
                format!("该房屋初判未发现安全隐患，不能{what}；如初判有误，请先更正初判"),
            );
        }
        Ok(())
    };

    match &cmd.change {
        Change::Registered { record, people, .. } => {
            if registered {
                return refuse(
                    RuleCode::L2,
                    format!("房屋 {} 已登记，不能重复登记", s.code),
                );
            }
            record.check(dict).or_else(|m| refuse(RuleCode::F1, m))?;
            people.check(dict).or_else(|m| refuse(RuleCode::F1, m))?;
        }
        Change::Surveyed(v) => {
            nonempty(&v.surveyor, "排查人员")?;
            if !dict.allows(kind::SURVEY_ROUND, &v.round) {
                return refuse(RuleCode::F1, format!("排查批次“{}”不在字典中", v.round));
            }
            in_dict(
                dict,
                kind::HAZARD_CATEGORY,
                "隐患类别",
                &v.hazard_categories,
            )?;
            in_dict(dict, kind::HAZARD_PART, "隐患部位", &v.hazard_parts)?;
            in_dict(dict, kind::GEOHAZARD, "地质灾害隐患", &v.geohazards)?;
            in_dict(dict, kind::FIRE_HAZARD, "消防隐患", &v.fire_hazards)?;
            if let Some(fix) = &v.location {
                let problems = crate::bounds::implausible_fix(fix);
                if !problems.is_empty() {
                    return refuse(RuleCode::F1, problems.join("；"));
                }
            }
            if v.judgement.is_hazard() && v.hazard_categories.is_empty() {
                return refuse(RuleCode::F1, "初判存在安全隐患的，须至少选择一项隐患类别");
            }
            if !v.judgement.is_hazard() && !v.hazard_categories.is_empty() {
                return refuse(RuleCode::F1, "初判未发现安全隐患的，不应选择隐患类别");
            }
            if s.hazard && !v.judgement.is_hazard() {
                return refuse(
                    RuleCode::L1,
                    "该房屋已初判存在隐患，再次排查不能直接改为无隐患：请经专业技术人员复核，或以“更正判定”并说明原因",
                );
            }
        }
        Change::Reviewed { reviewer_names, .. } => {
            need_hazard("进行专业技术人员现场复核")?;
            nonempty(reviewer_names, "复核人员")?;
            if legacy_pending {
                return refuse(
                    RuleCode::R2,
                    "该房屋前期以管理措施销号，请以“回头看现场复核”记录专业技术人员的复核并签字（规则R2）",
                );
            }
            if s.appraisal.is_some() {
                return refuse(
                    RuleCode::L1,
                    "该房屋已有安全鉴定结论，以鉴定为准，不能再以现场复核代替",
                );
            }
            if s.engineering_accepted().is_some() {
                return refuse(RuleCode::L1, "该房屋工程措施已验收，不再进行整治前复核");
            }
        }
        Change::Appraised(a) => {
            need_hazard("录入安全鉴定")?;
            nonempty(&a.agency_name, "鉴定机构")?;
            nonempty(&a.report_no, "鉴定报告编号")?;
            nonempty(&a.reviewer_names, "鉴定人员")?;
            if !dict.allows(kind::APPRAISAL_STANDARD, &a.standard) {
                return refuse(RuleCode::F1, format!("依据标准“{}”不在字典中", a.standard));
            }
            if let Some(code) = &a.agency_credit_code {
                crate::codes::CreditCode::parse(code).or_else(|e| refuse(RuleCode::F1, e.0))?;
            }
            let eng_done = s.engineering_accepted().is_some();
            if a.post_rectification && !eng_done {
                return refuse(RuleCode::L1, "工程措施尚未完成验收，不能录入整治后鉴定");
            }
            if !a.post_rectification && eng_done {
                return refuse(
                    RuleCode::L1,
                    "工程措施已完成验收，之后的鉴定请标记为“整治后鉴定”",
                );
            }
        }
        Change::OwnerNotified { method, recipient } => {
            need_hazard("告知所有权人")?;
            nonempty(recipient, "被告知人")?;
            if !dict.allows(kind::NOTICE_METHOD, method) {
                return refuse(RuleCode::F1, format!("送达方式“{method}”不在字典中"));
            }
        }
        Change::InterimControlApplied { measures } => {
            need_hazard("采取管理措施")?;
            if measures.is_empty() {
                return refuse(RuleCode::F1, "请至少选择一项管理措施");
            }
        }
        Change::EngineeringStarted { .. } => {
            need_hazard("开始工程措施")?;
            if s.must_notify() && s.notified_on.is_none() {
                return refuse(
                    RuleCode::R3,
                    "C、D级或明显不能保证使用安全的房屋，须先记录向所有权人/使用人告知结果，再开始工程整治（规则R3）",
                );
            }
            if let Some(e) = &s.engineering {
                if e.accepted.is_some() {
                    return refuse(RuleCode::L1, "该房屋工程措施已完成验收");
                }
                return refuse(
                    RuleCode::L1,
                    format!(
                        "该房屋已于 {} 开始{}，不能重复开工",
                        e.started_on,
                        e.measure.label()
                    ),
                );
            }
        }
        Change::EngineeringAccepted {
            measure,
            reviewer_names,
            ..
        } => {
            nonempty(reviewer_names, "验收人员")?;
            let Some(e) = &s.engineering else {
                return refuse(RuleCode::L1, "该房屋尚未开始工程措施，不能验收");
            };
            if e.accepted.is_some() {
                return refuse(RuleCode::L1, "该房屋工程措施已验收");
            }
            let has = |k| cmd.evidence.iter().any(|x| x.kind == k);
            let demolished = matches!(measure, crate::dict::EngMeasure::Demolish);
            let photos = has(EvidenceKind::PhotoBefore)
                && (has(EvidenceKind::PhotoAfter) || demolished && has(EvidenceKind::Photo));
            // An acceptance taken over from an existing ledger rests on that ledger's record
            // (the file is kept as evidence); only an import may record one so.
            let from_ledger = actor.role == Role::System && has(EvidenceKind::LedgerRecord);
            if !photos && !from_ledger {
                return refuse(
                    RuleCode::E1,
                    "工程措施验收须上传整治前、整治后照片各至少一张",
                );
            }
        }
        Change::Closed {
            basis,
            platform_closed_on,
        } => check_closure(s, *basis, *platform_closed_on, actor)?,
        Change::LegacyClosureRecorded { measures, .. } => {
            need_hazard("登记前期销号")?;
            if measures.is_empty() {
                return refuse(RuleCode::F1, "请填写前期销号时采取的管理措施");
            }
            if s.legacy.is_some() {
                return refuse(RuleCode::L1, "该房屋已登记前期管理措施销号");
            }
        }
        Change::LookBackReviewed { reviewer_names, .. } => {
            nonempty(reviewer_names, "复核人员")?;
            if !legacy_pending {
                return refuse(
                    RuleCode::L1,
                    "回头看现场复核只用于前期以管理措施销号、尚未复核的房屋",
                );
            }
            let signed = cmd
                .evidence
                .iter()
                .any(|x| matches!(x.kind, EvidenceKind::SignedForm));
            let from_ledger = actor.role == Role::System
                && cmd
                    .evidence
                    .iter()
                    .any(|x| x.kind == EvidenceKind::LedgerRecord);
            if !signed && !from_ledger {
                return refuse(
                    RuleCode::E1,
                    "回头看现场复核须上传专业技术人员签字的复核表（规则R2）",
                );
            }
        }
        Change::Reopened => {
            if !closed {
                return refuse(RuleCode::L1, "该房屋未销号，无需重新纳入整治");
            }
        }
        Change::Reclassified {
            judgement,
            risk_level,
            grade,
        } => {
            if judgement.is_none() && risk_level.is_none() && grade.is_none() {
                return refuse(RuleCode::F1, "请选择要更正的初判、风险等级或鉴定等级");
            }
            if (judgement.is_some() || risk_level.is_some()) && s.judgement.is_none() {
                return refuse(RuleCode::L1, "该房屋尚未排查初判，无可更正的初判");
            }
            if *judgement == s.judgement && judgement.is_some() {
                return refuse(RuleCode::F1, "更正后的初判与原初判相同");
            }
            // Out of ① only through a professional's finding: a hazard judgement is never
            // corrected to "no hazard"; a review finding no hazard (②) is the way.
            if let Some(j) = judgement
                && !j.is_hazard()
                && s.judgement.is_some_and(|cur| cur.is_hazard())
            {
                return refuse(
                    RuleCode::B1,
                    "初判存在安全隐患的房屋不能改判为未发现隐患：须由专业技术人员现场复核，复核无隐患的计入②；改判须有他人记录的专业依据（规则B1）",
                );
            }
            if let Some(g) = grade {
                match &s.appraisal {
                    None => return refuse(RuleCode::L1, "该房屋没有鉴定结论，无可更正的等级"),
                    Some(a) if a.value == *g => {
                        return refuse(RuleCode::F1, "更正后的鉴定等级与原等级相同");
                    }
                    // Out of ⑤ only on a second appraiser's finding: the one who recorded
                    // the C/D grade cannot lower it alone.
                    Some(a) if a.value.is_dangerous() && !g.is_dangerous() && a.by == actor.id => {
                        return refuse(
                            RuleCode::B1,
                            format!(
                                "鉴定等级由{}改为{}须由另一名鉴定人员复核后更正，原鉴定记录人不能自行降级（规则B1）",
                                a.value.label(),
                                g.label()
                            ),
                        );
                    }
                    Some(a)
                        if a.value.is_dangerous()
                            && !g.is_dangerous()
                            && s.engineering_accepted().is_some() =>
                    {
                        return refuse(
                            RuleCode::L1,
                            "整治完成后的复核请录入“整治后鉴定”，不能改写整治前的鉴定等级",
                        );
                    }
                    _ => {}
                }
            }
        }
        Change::Corrected { record, people } => {
            record.check(dict).or_else(|m| refuse(RuleCode::F1, m))?;
            if let Some(p) = people {
                p.check(dict).or_else(|m| refuse(RuleCode::F1, m))?;
            }
            if s.record.as_ref() == Some(record) && people.is_none() {
                return refuse(RuleCode::F1, "更正内容与原记录相同");
            }
        }
    }
    Ok(())
}

fn check_closure(
    s: &HouseState,
    basis: ClosureBasis,
    platform_closed_on: Option<NaiveDate>,
    actor: &Actor,
) -> Result<(), RuleViolation> {
    if basis == ClosureBasis::ManagementMeasure {
        return refuse(
            RuleCode::R1,
            "管理措施（刷墙勾缝、增加立柱、增加围挡、停止使用等）不能作为销号依据；须经专业技术人员复核无隐患、鉴定为A/B级，或工程措施完成并验收后方可销号（规则R1）",
        );
    }
    if s.closure.is_some() {
        return refuse(RuleCode::C3, "该房屋已销号");
    }
    if s.judgement.is_none() || !s.hazard {
        return refuse(RuleCode::L1, "该房屋未初判存在安全隐患，无需销号");
    }
    if s.legacy.as_ref().is_some_and(|l| l.look_back.is_none()) {
        return refuse(
            RuleCode::R2,
            "该房屋前期以管理措施销号，须经专业技术人员回头看现场复核并签字后，方可按有效依据销号（规则R2）",
        );
    }
    let bases = s.valid_bases();
    let Some((_, step)) = bases.iter().find(|(b, _)| *b == basis) else {
        let why = match basis {
            ClosureBasis::ReviewNoHazard => {
                if s.appraisal.as_ref().is_some_and(|a| a.value.is_dangerous()) {
                    "该房屋已鉴定为C、D级，复核结论不能代替工程措施"
                } else {
                    "没有专业技术人员“复核无隐患”的结论"
                }
            }
            ClosureBasis::AppraisalAB => match &s.appraisal {
                Some(a) if a.value.is_dangerous() => "该房屋鉴定为C、D级，须完成工程措施并验收",
                _ => "没有鉴定为A、B级的结论",
            },
            ClosureBasis::Engineering => "工程措施尚未完成验收",
            ClosureBasis::ManagementMeasure => unreachable!("refused above"),
        };
        let reopened = if s.reopen_count > 0 {
            "（重新纳入整治之前的依据已失效）"
        } else {
            ""
        };
        return refuse(
            RuleCode::C1,
            format!("销号依据“{}”不成立：{why}{reopened}", basis.label()),
        );
    };
    // The national platform cannot have closed the house before its basis existed.
    if let Some(d) = platform_closed_on
        && d < step.on
    {
        return refuse(
            RuleCode::D1,
            format!(
                "归集平台销号日期 {d} 不能早于销号依据“{}”的日期 {}",
                basis.label(),
                step.on
            ),
        );
    }
    if step.by == actor.id {
        return refuse(
            RuleCode::C2,
            format!("销号依据由您本人（{}）记录，须由其他人员审核销号", actor.id),
        );
    }
    let must_be_engineered = s.appraisal.as_ref().is_some_and(|a| a.value.is_dangerous())
        || (s.appraisal.is_none()
            && s.judgement == Some(Judgement::Severe)
            && s.review
                .as_ref()
                .is_none_or(|r| r.value != ReviewFinding::NoHazard));
    if must_be_engineered && s.engineering_accepted().is_none() {
        return refuse(
            RuleCode::C1,
            "C、D级或明显不能保证使用安全的房屋，须完成工程措施并验收后方可销号",
        );
    }
    Ok(())
}
