//! Forms for the lifecycle steps. Which steps a house offers an account comes from
//! `anju_domain::offer` (the rules themselves); what is recorded is decided by the rules again
//! on submit. A refusal shows the rule in words and keeps what was typed; a stale form says
//! who changed the house and when, and offers to reload.

use crate::AppState;
use crate::error::{PageError, PageResult};
use crate::houses::house_code;
use crate::pages::{Chrome, chrome};
use crate::session::Caller;
use anju_domain::Coded;
use anju_domain::dict::{
    ClosureBasis, EngMeasure, Grade, HandlingAdvice, Judgement, MgmtMeasure, ReviewFinding,
    RiskLevel, kind,
};
use anju_domain::event::{
    Appraisal, Change, ChangeKind, Command, Evidence, EvidenceKind, GeoFix, Survey,
};
use anju_domain::offer::offer;
use anju_domain::rules::beijing_date;
use anju_domain::{HouseCode, RuleCode};
use anju_store::StoreError;
use askama::Template;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// How a field is entered.
pub enum Input {
    Text,
    Date,
    Area,
    Select(Vec<(String, String)>),
    Checks(Vec<(String, String)>),
    /// Evidence files of one kind (photos from the camera or the gallery, scans, PDFs).
    Files(EvidenceKind),
    /// Filled by the page's script, not typed (the accuracy of 「获取当前位置」).
    Hidden,
}

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub required: bool,
    pub values: Vec<String>,
}

impl Field {
    pub fn value(&self) -> &str {
        self.values.first().map_or("", String::as_str)
    }

    pub fn has(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    pub fn is_text(&self) -> bool {
        matches!(self.input, Input::Text)
    }
    pub fn is_date(&self) -> bool {
        matches!(self.input, Input::Date)
    }
    pub fn is_area(&self) -> bool {
        matches!(self.input, Input::Area)
    }
    pub fn options(&self) -> &[(String, String)] {
        match &self.input {
            Input::Select(o) | Input::Checks(o) => o,
            _ => &[],
        }
    }
    pub fn is_select(&self) -> bool {
        matches!(self.input, Input::Select(_))
    }
    pub fn is_checks(&self) -> bool {
        matches!(self.input, Input::Checks(_))
    }
    pub fn is_files(&self) -> bool {
        matches!(self.input, Input::Files(_))
    }
    pub fn is_hidden(&self) -> bool {
        matches!(self.input, Input::Hidden)
    }
    /// What the file picker offers: photos only, or photos and PDFs.
    pub fn accept(&self) -> &'static str {
        match self.input {
            Input::Files(
                EvidenceKind::Photo | EvidenceKind::PhotoBefore | EvidenceKind::PhotoAfter,
            ) => "image/jpeg,image/png,image/webp",
            _ => "image/jpeg,image/png,image/webp,application/pdf",
        }
    }
}

/// The form field an evidence kind is uploaded under; a ledger record is never uploaded.
fn file_field(k: EvidenceKind) -> Option<&'static str> {
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

fn files(k: EvidenceKind, label: &'static str) -> Field {
    field(
        file_field(k).expect("a kind people upload"),
        label,
        Input::Files(k),
        false,
    )
}

fn opts<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|x| (code(*x).to_string(), label(*x).to_string()))
        .collect()
}

/// A dictionary's values as select options (value and label are the label).
pub(crate) fn dict_opts(state: &AppState, k: &str) -> Vec<(String, String)> {
    state
        .store
        .reference()
        .dictionaries
        .values(k)
        .iter()
        .map(|v| (v.clone(), v.clone()))
        .collect()
}

fn field(name: &'static str, label: &'static str, input: Input, required: bool) -> Field {
    Field {
        name,
        label,
        input,
        required,
        values: vec![],
    }
}

/// The steps that have a form here (registration and record corrections have the record form,
/// `crate::record`).
pub fn has_form(k: ChangeKind) -> bool {
    matches!(
        k,
        ChangeKind::Surveyed
            | ChangeKind::Reviewed
            | ChangeKind::Appraised
            | ChangeKind::OwnerNotified
            | ChangeKind::InterimControlApplied
            | ChangeKind::EngineeringStarted
            | ChangeKind::EngineeringAccepted
            | ChangeKind::Closed
            | ChangeKind::LegacyClosureRecorded
            | ChangeKind::LookBackReviewed
            | ChangeKind::Reopened
            | ChangeKind::Reclassified
    )
}

fn fields(state: &AppState, k: ChangeKind, bases: &[ClosureBasis]) -> Vec<Field> {
    let mut f = vec![field("effective", "发生日期", Input::Date, true)];
    match k {
        ChangeKind::Surveyed => f.extend([
            field(
                "round",
                "排查批次",
                Input::Select(dict_opts(state, kind::SURVEY_ROUND)),
                true,
            ),
            field("surveyor", "排查人员", Input::Text, true),
            field(
                "judgement",
                "隐患初判",
                Input::Select(opts(Judgement::ALL, Judgement::code, Judgement::label)),
                true,
            ),
            field(
                "risk_level",
                "风险等级（存在隐患时填写）",
                Input::Select(opts(RiskLevel::ALL, RiskLevel::code, RiskLevel::label)),
                false,
            ),
            field(
                "hazard_categories",
                "隐患类别",
                Input::Checks(dict_opts(state, kind::HAZARD_CATEGORY)),
                false,
            ),
            // 排查定位: optional; 「获取当前位置」 beside 纬度 (field.html) fills all three (app.js).
            field("longitude", "经度", Input::Text, false),
            field("latitude", "纬度", Input::Text, false),
            field("accuracy_m", "定位精度（米）", Input::Hidden, false),
            field("remarks", "备注", Input::Area, false),
            files(EvidenceKind::Photo, "现场照片"),
        ]),
        ChangeKind::Reviewed => f.extend([
            field("reviewer_names", "复核人员", Input::Text, true),
            field(
                "finding",
                "复核结论",
                Input::Select(opts(
                    ReviewFinding::ALL,
                    ReviewFinding::code,
                    ReviewFinding::label,
                )),
                true,
            ),
            field("opinion", "复核意见", Input::Area, false),
            files(EvidenceKind::SignedForm, "复核人员签字的复核表"),
            files(EvidenceKind::Photo, "现场照片"),
        ]),
        ChangeKind::Appraised => f.extend([
            field("agency_name", "鉴定机构", Input::Text, true),
            field("reviewer_names", "鉴定人员", Input::Text, true),
            field(
                "standard",
                "鉴定标准",
                Input::Select(dict_opts(state, kind::APPRAISAL_STANDARD)),
                true,
            ),
            field("report_no", "鉴定报告编号", Input::Text, true),
            field(
                "grade",
                "鉴定等级",
                Input::Select(opts(Grade::ALL, Grade::code, Grade::label)),
                true,
            ),
            field(
                "advice",
                "处理建议",
                Input::Select(opts(
                    HandlingAdvice::ALL,
                    HandlingAdvice::code,
                    HandlingAdvice::label,
                )),
                false,
            ),
            field(
                "post_rectification",
                "整治后复核鉴定",
                Input::Checks(vec![("true".into(), "是".into())]),
                false,
            ),
            files(EvidenceKind::Report, "鉴定报告"),
        ]),
        ChangeKind::OwnerNotified => f.extend([
            field(
                "method",
                "告知方式",
                Input::Select(dict_opts(state, kind::NOTICE_METHOD)),
                true,
            ),
            field("recipient", "被告知人", Input::Text, true),
            files(EvidenceKind::SignedForm, "签收回执"),
        ]),
        ChangeKind::InterimControlApplied => f.extend([
            field(
                "measures",
                "管理措施（临时管控，不能作为销号依据）",
                Input::Checks(opts(
                    MgmtMeasure::ALL,
                    MgmtMeasure::code,
                    MgmtMeasure::label,
                )),
                true,
            ),
            files(EvidenceKind::Photo, "现场照片"),
        ]),
        ChangeKind::EngineeringStarted => f.extend([
            field(
                "measure",
                "工程措施",
                Input::Select(opts(EngMeasure::ALL, EngMeasure::code, EngMeasure::label)),
                true,
            ),
            field("contractor", "施工单位", Input::Text, false),
            field("deadline", "计划完成日期", Input::Date, false),
            files(EvidenceKind::PhotoBefore, "整治前照片"),
        ]),
        ChangeKind::EngineeringAccepted => f.extend([
            field(
                "measure",
                "完成的工程措施",
                Input::Select(opts(EngMeasure::ALL, EngMeasure::code, EngMeasure::label)),
                true,
            ),
            field(
                "reviewer_names",
                "验收人员（专业技术人员）",
                Input::Text,
                true,
            ),
            field("opinion", "验收意见", Input::Area, false),
            files(EvidenceKind::PhotoBefore, "整治前照片 *"),
            files(
                EvidenceKind::PhotoAfter,
                "整治后照片 *（拆除的可上传拆除后现场照片）",
            ),
            files(EvidenceKind::Photo, "拆除后现场照片"),
            files(EvidenceKind::Report, "验收资料"),
        ]),
        ChangeKind::LookBackReviewed => f.extend([
            field(
                "reviewer_names",
                "复核人员（专业技术人员）",
                Input::Text,
                true,
            ),
            field(
                "hazard_remains",
                "复核结论",
                Input::Select(vec![
                    ("false".into(), "隐患已消除".into()),
                    ("true".into(), "隐患仍存在（重新纳入整治）".into()),
                ]),
                true,
            ),
            field("opinion", "复核意见", Input::Area, false),
            files(EvidenceKind::SignedForm, "复核人员签字的复核表 *"),
            files(EvidenceKind::Photo, "现场照片"),
        ]),
        ChangeKind::Closed => f.extend([
            field(
                "basis",
                "销号依据（标“当前成立”的依据才能销号）",
                Input::Select(
                    ClosureBasis::ALL
                        .iter()
                        .map(|b| {
                            let standing = if bases.contains(b) {
                                "（当前成立）"
                            } else {
                                ""
                            };
                            (b.code().to_string(), format!("{}{standing}", b.label()))
                        })
                        .collect(),
                ),
                true,
            ),
            field("platform_closed_on", "归集平台销号日期", Input::Date, false),
            files(EvidenceKind::Other, "销号材料"),
        ]),
        ChangeKind::LegacyClosureRecorded => f.extend([
            field("closed_on", "前期销号日期", Input::Date, true),
            field(
                "measures",
                "前期销号时采取的管理措施",
                Input::Checks(opts(
                    MgmtMeasure::ALL,
                    MgmtMeasure::code,
                    MgmtMeasure::label,
                )),
                true,
            ),
            files(EvidenceKind::Other, "前期销号材料"),
        ]),
        ChangeKind::Reopened => f.extend([
            field("reason", "重新纳入整治的原因", Input::Area, true),
            files(EvidenceKind::Other, "相关材料"),
        ]),
        ChangeKind::Reclassified => f.extend([
            field(
                "judgement",
                "更正隐患初判为",
                Input::Select(opts(Judgement::ALL, Judgement::code, Judgement::label)),
                false,
            ),
            field(
                "risk_level",
                "更正风险等级为",
                Input::Select(opts(RiskLevel::ALL, RiskLevel::code, RiskLevel::label)),
                false,
            ),
            field(
                "grade",
                "更正鉴定等级为",
                Input::Select(opts(Grade::ALL, Grade::code, Grade::label)),
                false,
            ),
            field("reason", "更正原因", Input::Area, true),
            files(EvidenceKind::Other, "相关材料"),
        ]),
        _ => {}
    }
    f
}

pub(crate) type Posted = BTreeMap<String, Vec<String>>;

fn one(p: &Posted, k: &str) -> Option<String> {
    p.get(k)
        .and_then(|v| v.first())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn need(p: &Posted, k: &str, label: &str) -> Result<String, String> {
    one(p, k).ok_or_else(|| format!("请填写“{label}”"))
}

fn pick<T>(
    p: &Posted,
    k: &str,
    label: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, String> {
    one(p, k)
        .map(|v| parse(&v).ok_or_else(|| format!("“{label}”的值无效：{v}")))
        .transpose()
}

fn number(p: &Posted, k: &str, label: &str) -> Result<Option<f64>, String> {
    one(p, k)
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("“{label}”须为数字，如 116.397128"))
        })
        .transpose()
}

/// The survey's position: 经度 and 纬度 together or neither; the accuracy only with them (it
/// comes from 「获取当前位置」). Bounds are the rules' (F1).
fn fix(p: &Posted) -> Result<Option<GeoFix>, String> {
    let longitude = number(p, "longitude", "经度")?;
    let latitude = number(p, "latitude", "纬度")?;
    match (longitude, latitude) {
        (Some(longitude), Some(latitude)) => Ok(Some(GeoFix {
            longitude,
            latitude,
            accuracy_m: number(p, "accuracy_m", "定位精度")?,
        })),
        (None, None) => Ok(None),
        _ => Err("经度和纬度须同时填写".into()),
    }
}

fn date(p: &Posted, k: &str, label: &str) -> Result<Option<NaiveDate>, String> {
    one(p, k)
        .map(|v| {
            NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|_| format!("“{label}”须为日期，如 2024-05-01"))
        })
        .transpose()
}

/// The posted form as a command (parse, don't validate: the rules validate).
fn command(
    code: &HouseCode,
    k: ChangeKind,
    p: &Posted,
    evidence: Vec<Evidence>,
) -> Result<Command, String> {
    let version: u32 = one(p, "version")
        .and_then(|v| v.parse().ok())
        .ok_or("表单缺少房屋版本，请重新打开")?;
    let effective = date(p, "effective", "发生日期")?.ok_or("请填写“发生日期”")?;
    let list = |k: &str| {
        p.get(k)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    };
    let change = match k {
        ChangeKind::Surveyed => Change::Surveyed(Box::new(Survey {
            round: need(p, "round", "排查批次")?,
            surveyor: need(p, "surveyor", "排查人员")?,
            judgement: pick(p, "judgement", "隐患初判", Judgement::parse)?
                .ok_or("请选择“隐患初判”")?,
            risk_level: pick(p, "risk_level", "风险等级", RiskLevel::parse)?,
            hazard_categories: list("hazard_categories"),
            hazard_parts: vec![],
            geohazards: vec![],
            fire_hazards: vec![],
            added_load: false,
            remarks: one(p, "remarks"),
            location: fix(p)?,
        })),
        ChangeKind::Reviewed => Change::Reviewed {
            reviewer_names: need(p, "reviewer_names", "复核人员")?,
            finding: pick(p, "finding", "复核结论", ReviewFinding::parse)?
                .ok_or("请选择“复核结论”")?,
            opinion: one(p, "opinion"),
        },
        ChangeKind::Appraised => Change::Appraised(Box::new(Appraisal {
            agency_name: need(p, "agency_name", "鉴定机构")?,
            agency_credit_code: None,
            reviewer_names: need(p, "reviewer_names", "鉴定人员")?,
            standard: need(p, "standard", "鉴定标准")?,
            report_no: need(p, "report_no", "鉴定报告编号")?,
            grade: pick(p, "grade", "鉴定等级", Grade::parse)?.ok_or("请选择“鉴定等级”")?,
            advice: pick(p, "advice", "处理建议", HandlingAdvice::parse)?,
            post_rectification: one(p, "post_rectification").is_some(),
        })),
        ChangeKind::OwnerNotified => Change::OwnerNotified {
            method: need(p, "method", "告知方式")?,
            recipient: need(p, "recipient", "被告知人")?,
        },
        ChangeKind::InterimControlApplied => Change::InterimControlApplied {
            measures: list("measures")
                .iter()
                .map(|m| MgmtMeasure::parse(m).ok_or_else(|| format!("管理措施无效：{m}")))
                .collect::<Result<_, _>>()?,
        },
        ChangeKind::EngineeringStarted => Change::EngineeringStarted {
            measure: pick(p, "measure", "工程措施", EngMeasure::parse)?
                .ok_or("请选择“工程措施”")?,
            contractor: one(p, "contractor"),
            deadline: date(p, "deadline", "计划完成日期")?,
        },
        ChangeKind::EngineeringAccepted => Change::EngineeringAccepted {
            measure: pick(p, "measure", "工程措施", EngMeasure::parse)?
                .ok_or("请选择“完成的工程措施”")?,
            reviewer_names: need(p, "reviewer_names", "验收人员")?,
            opinion: one(p, "opinion"),
        },
        ChangeKind::LookBackReviewed => Change::LookBackReviewed {
            reviewer_names: need(p, "reviewer_names", "复核人员")?,
            hazard_remains: match one(p, "hazard_remains").as_deref() {
                Some("true") => true,
                Some("false") => false,
                _ => return Err("请选择“复核结论”".into()),
            },
            opinion: one(p, "opinion"),
        },
        ChangeKind::Closed => Change::Closed {
            basis: pick(p, "basis", "销号依据", ClosureBasis::parse)?.ok_or("请选择“销号依据”")?,
            platform_closed_on: date(p, "platform_closed_on", "归集平台销号日期")?,
        },
        ChangeKind::LegacyClosureRecorded => Change::LegacyClosureRecorded {
            measures: list("measures")
                .iter()
                .map(|m| MgmtMeasure::parse(m).ok_or_else(|| format!("管理措施无效：{m}")))
                .collect::<Result<_, _>>()?,
            closed_on: date(p, "closed_on", "前期销号日期")?.ok_or("请填写“前期销号日期”")?,
        },
        ChangeKind::Reopened => Change::Reopened,
        ChangeKind::Reclassified => Change::Reclassified {
            judgement: pick(p, "judgement", "隐患初判", Judgement::parse)?,
            risk_level: pick(p, "risk_level", "风险等级", RiskLevel::parse)?,
            grade: pick(p, "grade", "鉴定等级", Grade::parse)?,
        },
        _ => return Err("该步骤不能在此表单办理".into()),
    };
    Ok(Command {
        house: code.clone(),
        expected_version: version,
        change,
        effective,
        reason: one(p, "reason"),
        evidence,
    })
}

/// Evidence already stored for a form that is shown again (after a refusal): kept, so that
/// photos need not be taken again. The tag binds it to the session, so a form cannot claim a
/// file it did not upload.
pub struct Kept {
    pub evidence: Evidence,
    pub tag: String,
    pub is_image: bool,
}

impl Kept {
    pub fn label(&self) -> &'static str {
        self.evidence.kind.label()
    }
    pub fn value(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.evidence.kind.code(),
            self.evidence.sha256,
            self.tag,
            self.evidence.name
        )
    }
}

pub(crate) fn kept_tag(csrf: &str, kind: EvidenceKind, sha: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("anju-kept|{csrf}|{}|{sha}", kind.code()));
    hex::encode(&d[..12])
}

fn kept(state: &AppState, csrf: &str, e: Evidence) -> Kept {
    Kept {
        tag: kept_tag(csrf, e.kind, &e.sha256),
        is_image: state
            .evidence
            .find(&e.sha256)
            .is_some_and(|(_, m)| m.is_image()),
        evidence: e,
    }
}

/// The kept evidence a resubmitted form carries, checked against the session and the store.
fn kept_from(state: &AppState, csrf: &str, p: &Posted) -> Vec<Evidence> {
    p.get("kept")
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let mut it = v.splitn(4, '|');
            let kind = EvidenceKind::from_code(it.next()?)?;
            let sha = it.next()?.to_string();
            let tag = it.next()?;
            let name = it.next().unwrap_or("").to_string();
            (tag == kept_tag(csrf, kind, &sha) && state.evidence.find(&sha).is_some()).then_some(
                Evidence {
                    sha256: sha,
                    kind,
                    name,
                },
            )
        })
        .collect()
}

/// A file's name as shown: no path, at most 80 characters.
fn file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '|')
        .take(80)
        .collect();
    if clean.is_empty() {
        "未命名文件".into()
    } else {
        clean
    }
}

#[derive(Template)]
#[template(path = "step.html")]
struct StepPage {
    chrome: Option<Chrome>,
    demo: bool,
    code: String,
    kind: String,
    title: String,
    version: u32,
    fields: Vec<Field>,
    kept: Vec<Kept>,
    error: Option<String>,
    stale: bool,
}

fn parse_kind(s: &str) -> Option<ChangeKind> {
    ChangeKind::ALL
        .iter()
        .copied()
        .find(|k| k.code() == s)
        .filter(|k| has_form(*k))
}

/// What a form is shown again with.
#[derive(Default)]
struct Draft<'a> {
    posted: Option<&'a Posted>,
    kept: Vec<Evidence>,
    error: Option<String>,
    stale: bool,
}

/// The form, empty or refilled.
async fn form_page(
    state: &AppState,
    caller: &Caller,
    code: &HouseCode,
    k: ChangeKind,
    draft: Draft<'_>,
    status: StatusCode,
) -> PageResult {
    let s = &caller.session;
    let house = caller.access(&state.store).house(code).await?;
    let now = state.store.now();
    let reference = state.store.reference();
    let offered = offer(
        &house.state,
        &s.principal.actor(),
        now,
        &reference.dictionaries,
    );
    let posted = draft.posted;
    if !offered.kinds.contains(&k) && posted.is_none() {
        return Err(PageError::Conflict(format!(
            "当前状态下不能办理“{}”",
            k.label()
        )));
    }
    let mut fields = fields(state, k, &offered.closure_bases);
    for f in &mut fields {
        f.values = match posted {
            Some(p) => p.get(f.name).cloned().unwrap_or_default(),
            None if f.name == "effective" => vec![beijing_date(now).to_string()],
            // Whoever fills the survey in is usually who surveyed: prefilled, changeable.
            None if f.name == "surveyor" => vec![s.principal.name.clone()],
            None => vec![],
        };
    }
    let version = match posted
        .and_then(|p| one(p, "version"))
        .and_then(|v| v.parse().ok())
    {
        Some(v) if !draft.stale => v,
        _ => house.state.version,
    };
    let page = StepPage {
        chrome: Some(chrome(state, s)),
        demo: state.is_demo().await,
        code: code.to_string(),
        kind: k.code().to_string(),
        title: k.label().to_string(),
        version,
        fields,
        kept: draft
            .kept
            .into_iter()
            .map(|e| kept(state, &s.csrf, e))
            .collect(),
        error: draft.error,
        stale: draft.stale,
    };
    Ok((status, axum::response::Html(page.render()?)).into_response())
}

/// A step of a house from the path; an unknown step answers like a house out of scope.
fn house_step(code: &str, k: &str) -> PageResult<(HouseCode, ChangeKind)> {
    Ok((
        house_code(code)?,
        parse_kind(k).ok_or(StoreError::NotFound)?,
    ))
}

#[tracing::instrument(skip_all, fields(house = %code, step = %k, account = %caller.session.principal.username))]
pub async fn form(
    State(state): State<AppState>,
    caller: Caller,
    Path((code, k)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> PageResult {
    let (code, k) = house_step(&code, &k)?;
    let path = format!("/houses/{code}/steps/{}", k.code());
    // A form kept when the session expired: offered again, filled in, its files uploaded;
    // nothing is recorded until the clerk submits it.
    if let Some(sub) = kept_submission(&state, &headers, &path).await? {
        let mut kept = vec![];
        for (kind, name, bytes) in sub.uploads {
            if let Ok(stored) = state.store_evidence(bytes).await {
                kept.push(Evidence {
                    sha256: stored.sha256,
                    kind,
                    name,
                });
            }
        }
        let draft = Draft {
            posted: Some(&sub.posted),
            kept,
            error: Some(RESTORED.into()),
            stale: false,
        };
        let mut res = form_page(&state, &caller, &code, k, draft, StatusCode::OK).await?;
        crate::drafts::forget(&mut res, state.options.secure_cookies);
        return Ok(res);
    }
    form_page(&state, &caller, &code, k, Draft::default(), StatusCode::OK).await
}

/// The message over a form given back after the session expired.
pub(crate) const RESTORED: &str =
    "登录过期前填写的内容和上传的文件已恢复，尚未保存：请核对后再提交。";

/// The form kept for `path` when the session expired (drafts.rs), read as it was posted.
pub(crate) async fn kept_submission(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    path: &str,
) -> PageResult<Option<Submission>> {
    let Some((content_type, bytes)) = crate::drafts::take(state, headers, path).await else {
        return Ok(None);
    };
    let req = axum::http::Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(bytes))
        .map_err(|e| PageError::internal("kept form", e))?;
    Ok(Some(read_submission(state, req).await.unwrap_or(
        Submission {
            posted: BTreeMap::new(),
            uploads: vec![],
        },
    )))
}

/// A posted form: its fields, and the files uploaded with it (not yet checked).
pub(crate) struct Submission {
    pub(crate) posted: Posted,
    uploads: Vec<(EvidenceKind, String, Vec<u8>)>,
}

pub(crate) async fn read_submission(state: &AppState, req: Request) -> Result<Submission, String> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut sub = Submission {
        posted: BTreeMap::new(),
        uploads: vec![],
    };
    if !multipart {
        let body = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| "表单内容过大".to_string())?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        for (key, v) in pairs {
            sub.posted.entry(key).or_default().push(v);
        }
        return Ok(sub);
    }
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| format!("表单格式有误：{e}"))?;
    let too_large = || {
        format!(
            "上传内容过大：一次提交的文件合计不能超过 {} MB",
            UPLOAD_LIMIT / 1024 / 1024
        )
    };
    while let Some(field) = form.next_field().await.map_err(|_| too_large())? {
        let name = field.name().unwrap_or("").to_string();
        let kind = EvidenceKind::ALL
            .iter()
            .copied()
            .find(|k| file_field(*k) == Some(name.as_str()));
        match (kind, field.file_name().map(file_name)) {
            (Some(k), Some(fname)) => {
                let bytes = field.bytes().await.map_err(|_| too_large())?;
                if !bytes.is_empty() {
                    if sub.uploads.len() >= MAX_FILES {
                        return Err(format!("一次最多上传 {MAX_FILES} 个文件"));
                    }
                    sub.uploads.push((k, fname, bytes.to_vec()));
                }
            }
            _ => {
                let text = field.text().await.map_err(|_| too_large())?;
                sub.posted.entry(name).or_default().push(text);
            }
        }
    }
    Ok(sub)
}

/// Largest urlencoded form.
const FORM_LIMIT: usize = 256 * 1024;
/// Largest multipart submission (the route's body limit).
pub const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;
/// Most files in one submission.
const MAX_FILES: usize = 12;

#[tracing::instrument(skip_all, fields(house = %code, step = %k, account = %caller.session.principal.username))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path((code, k)): Path<(String, String)>,
    req: Request,
) -> PageResult {
    let (code, k) = house_step(&code, &k)?;
    let refill = |posted, kept, error: String, stale, status| {
        let (state, caller, code) = (&state, &caller, &code);
        async move {
            let draft = Draft {
                posted: Some(posted),
                kept,
                error: Some(error),
                stale,
            };
            form_page(state, caller, code, k, draft, status).await
        }
    };
    let sub = match read_submission(&state, req).await {
        Ok(sub) => sub,
        Err(e) => {
            return refill(
                &BTreeMap::new(),
                vec![],
                e,
                false,
                StatusCode::PAYLOAD_TOO_LARGE,
            )
            .await;
        }
    };
    // Files are checked and stored first (content-addressed: a refused step leaves at most
    // unreferenced files, never a half-written event), then kept across a refusal.
    let mut evidence = kept_from(&state, &caller.session.csrf, &sub.posted);
    let mut refused = vec![];
    for (kind, name, bytes) in sub.uploads {
        match state.store_evidence(bytes).await {
            Ok(stored) => evidence.push(Evidence {
                sha256: stored.sha256,
                kind,
                name,
            }),
            Err(e) => refused.push(format!("{}“{name}”：{e}", kind.label())),
        }
    }
    if !refused.is_empty() {
        let msg = format!("以下文件未能上传，请更换后重新提交：{}", refused.join("；"));
        return refill(
            &sub.posted,
            evidence,
            msg,
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let cmd = match command(&code, k, &sub.posted, evidence.clone()) {
        Ok(c) => c,
        Err(e) => {
            return refill(
                &sub.posted,
                evidence,
                e,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match caller.access(&state.store).execute(&cmd).await {
        Err(StoreError::Rule(v)) if v.code == RuleCode::V1 => {
            let msg = format!(
                "{v}。请重新载入房屋的最新情况后再办理（您填写的内容和已上传的文件已保留）。"
            );
            refill(&sub.posted, evidence, msg, true, StatusCode::CONFLICT).await
        }
        Err(StoreError::Rule(v)) => {
            refill(
                &sub.posted,
                evidence,
                v.to_string(),
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        done => {
            done?;
            Ok(crate::flash::redirect_with(
                &format!("/houses/{code}"),
                &format!("已保存：{}", k.label()),
            ))
        }
    }
}
