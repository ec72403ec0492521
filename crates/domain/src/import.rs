//! Taking in existing ledgers: the template's columns (the house record's, then the status
//! columns of 排查情况 and 整治情况), reading one row into a house and the steps that explain its
//! status, and deciding those steps with the same rules as every other step. Nothing is
//! invented: a value the ledger does not give stays empty, and where the rules need one that is
//! missing, the row is refused and says which column. A closure on management measures lands on
//! the look-back list (R2), never as closed.

use crate::Coded;
use crate::coded::joined_labels;
use crate::codes::{HouseCode, RegionCode, RegionLevel};
use crate::columns::{self, COLUMNS, Column, ColumnError, normalise_header, parse_date};
use crate::dict::{
    ClosureBasis, Dictionaries, EngMeasure, Grade, HandlingAdvice, Judgement, MgmtMeasure,
    RegistrationSource, ReviewFinding, RiskLevel, kind,
};
use crate::event::{Actor, Appraisal, Change, Command, Event, Evidence, EvidenceKind, Survey};
use crate::house::{HouseRecord, People};
use crate::region::Region;
use crate::rules::{RuleCode, RuleViolation, decide};
use crate::state::{HouseState, apply};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A status column of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusColumn {
    pub key: &'static str,
    pub header: &'static str,
    /// 排查情况 or 整治情况.
    pub block: &'static str,
}

const fn st(key: &'static str, header: &'static str, block: &'static str) -> StatusColumn {
    StatusColumn { key, header, block }
}

const SURVEY: &str = "排查情况";
const RECTIFY: &str = "整治情况";

/// The status columns, after the record's, in the platform's block order.
pub const STATUS_COLUMNS: &[StatusColumn] = &[
    st("surveyed_on", "排查日期", SURVEY),
    st("survey_round", "排查批次", SURVEY),
    st("surveyor", "排查人员", SURVEY),
    st("judgement", "隐患初判", SURVEY),
    st("risk_level", "风险等级", SURVEY),
    st("hazard_categories", "隐患类别", SURVEY),
    st("legacy_closed_on", "前期销号日期", SURVEY),
    st("legacy_measures", "前期销号管理措施", SURVEY),
    st("look_back_on", "回头看日期", SURVEY),
    st("look_back_finding", "回头看结论", SURVEY),
    st("look_back_reviewers", "回头看人员", SURVEY),
    st("reviewed_on", "复核日期", SURVEY),
    st("review_finding", "复核结论", SURVEY),
    st("reviewers", "复核人员", SURVEY),
    st("appraised_on", "鉴定日期", SURVEY),
    st("agency", "鉴定机构", SURVEY),
    st("report_no", "鉴定报告编号", SURVEY),
    st("standard", "鉴定依据标准", SURVEY),
    st("grade", "鉴定等级", SURVEY),
    st("advice", "处理建议", SURVEY),
    st("notified_on", "告知日期", RECTIFY),
    st("notice_method", "告知方式", RECTIFY),
    st("controls", "管理措施", RECTIFY),
    st("controls_on", "管理措施日期", RECTIFY),
    st("engineering", "工程措施", RECTIFY),
    st("engineering_started_on", "开工日期", RECTIFY),
    st("engineering_accepted_on", "竣工验收日期", RECTIFY),
    st("acceptors", "验收人员", RECTIFY),
    st("closed_on", "销号日期", RECTIFY),
    st("closure_basis", "销号依据", RECTIFY),
    st("platform_closed_on", "归集平台销号日期", RECTIFY),
];

/// Where a column of a file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Record(&'static Column),
    Status(&'static StatusColumn),
}

/// Every header of the template, in order: (block, header, required).
pub fn template() -> Vec<(&'static str, &'static str, bool)> {
    COLUMNS
        .iter()
        .map(|c| (c.block.label(), c.header, c.required))
        .chain(STATUS_COLUMNS.iter().map(|c| (c.block, c.header, false)))
        .collect()
}

/// The columns of a file by its header row. A header the template does not know is refused
/// (nothing in a file is silently dropped); so is a header given twice. Blank headers are
/// skipped. The village column is required; the other required columns are checked per row.
pub fn map_headers(headers: &[String]) -> Result<Vec<Option<Target>>, String> {
    let mut out = Vec::with_capacity(headers.len());
    let mut unknown = vec![];
    for h in headers {
        let n = normalise_header(h);
        if n.is_empty() {
            out.push(None);
            continue;
        }
        let target = columns::by_header(h).map(Target::Record).or_else(|| {
            STATUS_COLUMNS
                .iter()
                .find(|c| normalise_header(c.header) == n || c.key == h.trim())
                .map(Target::Status)
        });
        match target {
            Some(t) if out.contains(&Some(t)) => return Err(format!("列“{}”出现了两次", h.trim())),
            Some(t) => out.push(Some(t)),
            None => {
                unknown.push(h.trim().to_string());
                out.push(None);
            }
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "模板中没有这些列：{}（请使用导入模板的列名）",
            unknown.join("、")
        ));
    }
    let has_village = out
        .iter()
        .any(|t| matches!(t, Some(Target::Record(c)) if c.key == "village"));
    if !has_village {
        return Err("缺少“村（社区）”列".into());
    }
    Ok(out)
}

/// Town and village as written in a ledger (code or name) made into codes: a village name is
/// looked up within its town.
pub fn resolve_region(
    regions: &[Region],
    town: &str,
    village: &str,
    day: NaiveDate,
) -> Result<(RegionCode, RegionCode), String> {
    let (town, village) = (town.trim(), village.trim());
    let current = |r: &&Region| r.valid_on(day) || r.valid_to.is_none();
    let village_code = match RegionCode::parse(village) {
        Ok(c) if c.level() == RegionLevel::Village => c,
        _ => {
            let town_code = match RegionCode::parse(town) {
                Ok(c) if c.level() == RegionLevel::Town => Some(c),
                _ => regions
                    .iter()
                    .filter(current)
                    .find(|r| r.level == RegionLevel::Town && r.name == town)
                    .map(|r| r.code),
            };
            let candidates: Vec<&Region> = regions
                .iter()
                .filter(current)
                .filter(|r| r.level == RegionLevel::Village && r.name == village)
                .filter(|r| town_code.is_none_or(|t| r.code.town() == t))
                .collect();
            match candidates.as_slice() {
                [one] => one.code,
                [] if town.is_empty() => {
                    return Err(format!(
                        "村（社区）“{village}”不存在，请填写区划代码或所属镇街"
                    ));
                }
                [] => return Err(format!("镇街“{town}”下没有村（社区）“{village}”")),
                _ => {
                    return Err(format!(
                        "村（社区）“{village}”有重名，请填写所属镇街或区划代码"
                    ));
                }
            }
        }
    };
    let town_code = village_code.town();
    if !town.is_empty() {
        let named = regions
            .iter()
            .find(|r| r.code == town_code)
            .map(|r| r.name.as_str());
        let same = town == town_code.as_str()
            || RegionCode::parse(town).is_ok_and(|t| t == town_code)
            || named == Some(town);
        if !same {
            return Err(format!("村（社区）{village_code} 不属于镇街“{town}”"));
        }
    }
    Ok((town_code, village_code))
}

/// One ledger row read into a house: its record and people, and the status values.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The row number as the user sees it (header is row 1).
    pub number: usize,
    pub record: HouseRecord,
    pub people: People,
    status: Vec<(&'static str, String)>,
}

impl Row {
    fn get(&self, key: &str) -> Option<&str> {
        self.status
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// The identifiers that make a row the same house again: platform code, else census id.
    pub fn identity(&self) -> Option<(&'static str, &str)> {
        if let Some(p) = self.record.platform_code.as_deref() {
            Some(("自建房编号（归集平台）", p))
        } else {
            self.record
                .census_id
                .as_deref()
                .map(|c| ("普查房屋编号", c))
        }
    }
}

/// Reads one row (cells in header order). Every bad cell is reported, each naming its column.
pub fn read_row(
    number: usize,
    cells: &[String],
    map: &[Option<Target>],
    regions: &[Region],
    dict: &Dictionaries,
    today: NaiveDate,
) -> Result<Row, Vec<String>> {
    // A cell an export protected from being read as a formula ('=…) reads as typed.
    let cells: Vec<&str> = cells.iter().map(|c| unprotect(c)).collect();
    let cell = |key: &str| -> Option<&str> {
        map.iter().zip(&cells).find_map(|(t, v)| match t {
            Some(Target::Record(c)) if c.key == key => Some(*v),
            _ => None,
        })
    };
    let mut errors = vec![];
    let region = resolve_region(
        regions,
        cell("town").unwrap_or(""),
        cell("village").unwrap_or(""),
        today,
    );
    let (town, village) = match region {
        Ok((t, v)) => (t.to_string(), v.to_string()),
        Err(e) => {
            errors.push(e);
            (String::new(), String::new())
        }
    };
    let built = columns::build(
        |c: &Column| match c.key {
            "town" => Some(town.as_str()),
            "village" => Some(village.as_str()),
            k => cell(k),
        },
        dict,
        today,
    );
    let (record, people) = match built {
        Ok(x) => x,
        Err(errs) => {
            // A region already refused is not reported twice.
            let region_refused = !errors.is_empty();
            errors.extend(
                errs.iter()
                    .filter(|e: &&ColumnError| {
                        !(region_refused && matches!(e.key, "village" | "town"))
                    })
                    .map(ToString::to_string),
            );
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let status = map
        .iter()
        .zip(&cells)
        .filter_map(|(t, v)| match t {
            Some(Target::Status(c)) => Some((c.key, v.trim().to_string())),
            _ => None,
        })
        .collect();
    Ok(Row {
        number,
        record,
        people,
        status,
    })
}

/// `'=x` → `=x` (and likewise for `+`, `-`, `@`): the quote an export puts before a cell that
/// a spreadsheet would otherwise read as a formula.
pub fn unprotect(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => cell,
    }
}

/// Who an import's steps are recorded as: the account that imported the file, acting for the
/// ledger it carries (role [`Role::System`](crate::event::Role::System): the ledger records
/// steps of every kind, each resting on the file as 台账记载). Closures and engineering
/// acceptances are not recorded at the import at all (see [`held_back`]): a town's principal
/// confirms them later, in Anju, as the approver.
pub struct Importers {
    pub steps: Actor,
    /// Stands in for the approval the ledger reports while a row is checked whole; never
    /// recorded on an event.
    approval: Actor,
}

impl Importers {
    pub fn new(who: &crate::auth::Principal, file_name: &str, sha256: &str) -> Importers {
        let short = &sha256[..sha256.len().min(12)];
        Importers {
            steps: Actor {
                id: who.username.clone(),
                name: format!("{}（台账导入）", who.name),
                role: crate::event::Role::System,
            },
            approval: Actor {
                id: format!("import-approval:{short}"),
                name: format!("原台账销号审批（{file_name}）"),
                role: crate::event::Role::System,
            },
        }
    }
}

/// Whether an imported step waits for confirmation instead of being recorded: a closure (⑦)
/// and an engineering acceptance (⑥, and a closure's basis) are what a ledger could claim
/// without anyone in Anju approving them, so a file alone never counts them.
pub fn held_back(change: &Change) -> bool {
    matches!(
        change,
        Change::Closed { .. } | Change::EngineeringAccepted { .. }
    )
}

/// A closure or engineering acceptance read from an imported file, waiting for the town's
/// principal (or the county office's cut-over date) to confirm it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingStep {
    pub effective: NaiveDate,
    pub change: Change,
    pub evidence: Vec<Evidence>,
    pub reason: Option<String>,
}

impl PendingStep {
    /// The step as a command on `house` at `version`, its reason naming who confirmed it.
    pub fn command(&self, house: HouseCode, version: u32, confirmed_by: &str) -> Command {
        Command {
            house,
            expected_version: version,
            change: self.change.clone(),
            effective: self.effective,
            reason: Some(format!(
                "{}；{confirmed_by}确认",
                self.reason.as_deref().unwrap_or("台账导入")
            )),
            evidence: self.evidence.clone(),
        }
    }
}

/// A row as a new house: the events recorded now, and the steps held back for confirmation.
#[derive(Debug, Clone)]
pub struct Imported {
    pub events: Vec<Event>,
    pub pending: Vec<PendingStep>,
}

fn date_of(row: &Row, key: &str, header: &str) -> Result<Option<NaiveDate>, String> {
    row.get(key)
        .map(|v| parse_date(v).ok_or_else(|| format!("{header}：“{v}”不是日期（应为 2024-03-15）")))
        .transpose()
}

/// A column that must be filled in because `because` is: refused naming both when blank.
fn needed<'r>(row: &'r Row, key: &str, header: &str, because: &str) -> Result<&'r str, String> {
    row.get(key)
        .ok_or_else(|| format!("{header}：填写了{because}，须同时填写{header}"))
}

/// A date column that must be filled in because `because` is.
fn date_needed(row: &Row, key: &str, header: &str, because: &str) -> Result<NaiveDate, String> {
    date_of(row, key, header)?
        .ok_or_else(|| format!("{header}：填写了{because}，须同时填写{header}"))
}

/// The coded value in a column, by its code or Chinese label; anything else is refused
/// naming the column and listing the labels.
fn coded<T: Coded>(row: &Row, key: &str, header: &str) -> Result<Option<T>, String> {
    row.get(key)
        .map(|v| {
            T::parse(v).ok_or_else(|| format!("{header}：“{v}”应为 {}", joined_labels(T::ALL)))
        })
        .transpose()
}

fn split(v: &str) -> Vec<String> {
    columns::split_values(v)
        .into_iter()
        .map(String::from)
        .collect()
}

/// Management measures by label, separated by 、 or commas.
fn measures(row: &Row, key: &str, header: &str) -> Result<Vec<MgmtMeasure>, String> {
    row.get(key)
        .map(split)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            MgmtMeasure::parse(m)
                .ok_or_else(|| format!("{header}：“{m}”应为 {}", joined_labels(MgmtMeasure::ALL)))
        })
        .collect()
}

/// A row's dates refused under rule D1, naming the columns.
fn d1(message: String) -> String {
    RuleViolation {
        code: RuleCode::D1,
        message,
    }
    .to_string()
}

/// The row's dates, each named by its column: none after `today` (the day of the import), and
/// in the order the lifecycle puts their steps in — every step after the survey it rests on
/// (a closure before the system, 前期销号日期, may precede it), the acceptance after the start
/// of the works, the look-back after the closure it re-reviews, a closure and its closure on
/// the national platform after the basis they rest on. The rules would refuse such a row
/// anyway, but by the step that came out first, not by the columns that are out of order.
fn check_dates(row: &Row, basis: Option<ClosureBasis>, today: NaiveDate) -> Result<(), String> {
    let mut dates = vec![];
    for c in STATUS_COLUMNS.iter().filter(|c| c.key.ends_with("_on")) {
        if let Some(d) = date_of(row, c.key, c.header)? {
            if d > today {
                return Err(d1(format!("{} {d} 不能晚于今天（{today}）", c.header)));
            }
            dates.push((c.key, c.header, d));
        }
    }
    let get = |key: &str| dates.iter().find(|(k, _, _)| *k == key).map(|x| (x.1, x.2));
    let after = |later: &str, earlier: &str| match (get(later), get(earlier)) {
        (Some((lh, l)), Some((eh, e))) if l < e => Err(d1(format!("{lh} {l} 不能早于{eh} {e}"))),
        _ => Ok(()),
    };
    let legacy = basis == Some(ClosureBasis::ManagementMeasure);
    for later in [
        "look_back_on",
        "reviewed_on",
        "appraised_on",
        "notified_on",
        "controls_on",
        "engineering_started_on",
        "engineering_accepted_on",
        "closed_on",
    ] {
        // A closure on management measures is one before the system, like 前期销号日期.
        if legacy && matches!(later, "closed_on" | "controls_on") {
            continue;
        }
        after(later, "surveyed_on")?;
    }
    after("engineering_accepted_on", "engineering_started_on")?;
    after("look_back_on", "legacy_closed_on")?;
    if legacy {
        after("look_back_on", "closed_on")?;
    }
    let rests_on = match basis {
        Some(ClosureBasis::ReviewNoHazard) => Some("reviewed_on"),
        Some(ClosureBasis::AppraisalAB) => Some("appraised_on"),
        Some(ClosureBasis::Engineering) => Some("engineering_accepted_on"),
        Some(ClosureBasis::ManagementMeasure) | None => None,
    };
    if let Some(b) = rests_on {
        after("closed_on", b)?;
        after("platform_closed_on", b)?;
    }
    Ok(())
}

/// The steps a row's status columns describe, in the order they happened: (date, change,
/// evidence). Missing dates the rules need are errors naming the column; so are dates after
/// `today` or out of order ([`check_dates`]).
fn steps(
    row: &Row,
    dict: &Dictionaries,
    ledger: &Evidence,
    today: NaiveDate,
) -> Result<Vec<(NaiveDate, Change, Vec<Evidence>)>, String> {
    let basis = coded::<ClosureBasis>(row, "closure_basis", "销号依据")?;
    check_dates(row, basis, today)?;
    let mut out = vec![];
    // Every step of the row carries the ledger it came from as its evidence.
    let mut step = |on: NaiveDate, change: Change| out.push((on, change, vec![ledger.clone()]));
    let judgement = coded::<Judgement>(row, "judgement", "隐患初判")?;
    let surveyed_on = date_of(row, "surveyed_on", "排查日期")?;
    match (surveyed_on, judgement) {
        (Some(on), Some(judgement)) => {
            let round = row.get("survey_round").unwrap_or("其他").to_string();
            if !dict.allows(kind::SURVEY_ROUND, &round) {
                return Err(format!("排查批次：“{round}”不在字典中"));
            }
            let surveyor = row.get("surveyor").unwrap_or("未载明").to_string();
            let hazard_categories = row.get("hazard_categories").map(split).unwrap_or_default();
            step(
                on,
                Change::Surveyed(Box::new(Survey {
                    risk_level: coded::<RiskLevel>(row, "risk_level", "风险等级")?,
                    hazard_categories,
                    ..Survey::new(round, surveyor, judgement)
                })),
            );
        }
        (None, Some(_)) => return Err("排查日期：填写了隐患初判，须同时填写排查日期".into()),
        (Some(_), None) => return Err("隐患初判：填写了排查日期，须同时填写隐患初判".into()),
        (None, None) => {}
    }
    // A closure before the system on management measures, recorded right after the survey
    // (its own date may lie before it), and its look-back.
    if let Some(closed_on) = date_of(row, "legacy_closed_on", "前期销号日期")? {
        let on = surveyed_on.ok_or("排查日期：填写了前期销号日期，须同时填写排查情况")?;
        let measures = measures(row, "legacy_measures", "前期销号管理措施")?;
        if measures.is_empty() {
            return Err(
                "前期销号管理措施：填写了前期销号日期，须同时填写当时采取的管理措施".into(),
            );
        }
        step(
            on.max(closed_on),
            Change::LegacyClosureRecorded {
                measures,
                closed_on,
            },
        );
    }
    if let Some(finding) = row.get("look_back_finding") {
        let hazard_remains = match finding {
            "隐患仍存在" | "仍有隐患" | "存在隐患" => true,
            "隐患已消除" | "无隐患" | "未发现安全隐患" => false,
            other => {
                return Err(format!(
                    "回头看结论：“{other}”应为 隐患已消除 或 隐患仍存在"
                ));
            }
        };
        step(
            date_needed(row, "look_back_on", "回头看日期", "回头看结论")?,
            Change::LookBackReviewed {
                reviewer_names: row
                    .get("look_back_reviewers")
                    .unwrap_or("未载明")
                    .to_string(),
                hazard_remains,
                opinion: None,
            },
        );
    }
    if let Some(finding) = coded::<ReviewFinding>(row, "review_finding", "复核结论")? {
        step(
            date_needed(row, "reviewed_on", "复核日期", "复核结论")?,
            Change::Reviewed {
                reviewer_names: row.get("reviewers").unwrap_or("未载明").to_string(),
                finding,
                opinion: None,
            },
        );
    }
    if let Some(grade) = coded::<Grade>(row, "grade", "鉴定等级")? {
        step(
            date_needed(row, "appraised_on", "鉴定日期", "鉴定等级")?,
            Change::Appraised(Box::new(Appraisal {
                agency_name: needed(row, "agency", "鉴定机构", "鉴定等级")?.to_string(),
                agency_credit_code: None,
                reviewer_names: "未载明".into(),
                // The dictionary's 其他 when the ledger does not say which standard.
                standard: row.get("standard").unwrap_or("其他").to_string(),
                report_no: needed(row, "report_no", "鉴定报告编号", "鉴定等级")?.to_string(),
                grade,
                advice: coded::<HandlingAdvice>(row, "advice", "处理建议")?,
                post_rectification: false,
            })),
        );
    }
    if let Some(on) = date_of(row, "notified_on", "告知日期")? {
        step(
            on,
            Change::OwnerNotified {
                method: row
                    .get("notice_method")
                    .ok_or("告知方式：填写了告知日期，须同时填写告知方式（如 直接送达）")?
                    .to_string(),
                recipient: row.people.owner_name.clone(),
            },
        );
    }
    let controls = measures(row, "controls", "管理措施")?;
    let legacy = basis == Some(ClosureBasis::ManagementMeasure);
    if !controls.is_empty() && !legacy {
        step(
            date_needed(row, "controls_on", "管理措施日期", "管理措施")?,
            Change::InterimControlApplied {
                measures: controls.clone(),
            },
        );
    }
    if let Some(measure) = coded::<EngMeasure>(row, "engineering", "工程措施")? {
        let started = date_needed(row, "engineering_started_on", "开工日期", "工程措施")?;
        step(
            started,
            Change::EngineeringStarted {
                measure,
                contractor: None,
                deadline: None,
            },
        );
        if let Some(on) = date_of(row, "engineering_accepted_on", "竣工验收日期")? {
            step(
                on,
                Change::EngineeringAccepted {
                    measure,
                    reviewer_names: row.get("acceptors").unwrap_or("未载明").to_string(),
                    opinion: None,
                },
            );
        }
    } else if row.get("engineering_accepted_on").is_some() {
        return Err("工程措施：填写了竣工验收日期，须同时填写工程措施".into());
    }
    let closed_on = date_of(row, "closed_on", "销号日期")?;
    match (basis, closed_on) {
        (Some(ClosureBasis::ManagementMeasure), Some(on)) => {
            if controls.is_empty() {
                return Err("管理措施：以管理措施销号的，须填写所采取的管理措施".into());
            }
            // Like 前期销号日期: recorded right after the survey, its own date maybe before it.
            step(
                surveyed_on.map_or(on, |s| s.max(on)),
                Change::LegacyClosureRecorded {
                    measures: controls,
                    closed_on: on,
                },
            );
        }
        (Some(basis), Some(on)) => step(
            on,
            Change::Closed {
                basis,
                platform_closed_on: date_of(row, "platform_closed_on", "归集平台销号日期")?,
            },
        ),
        (None, Some(_)) => return Err("销号依据：填写了销号日期，须同时填写销号依据".into()),
        (Some(_), None) => return Err("销号日期：填写了销号依据，须同时填写销号日期".into()),
        (None, None) => {}
    }
    // Steps in the order they happened; the same day keeps the lifecycle's order.
    out.sort_by_key(|(d, _, _)| *d);
    Ok(out)
}

/// The events of a row as a new house `code`: registration, then each step decided by the
/// rules as the importers. A refused step refuses the row, naming the rule.
#[allow(clippy::too_many_arguments)]
pub fn events(
    row: &Row,
    code: HouseCode,
    plaque_token: String,
    who: &Importers,
    now: DateTime<Utc>,
    today: NaiveDate,
    dict: &Dictionaries,
    ledger: &Evidence,
) -> Result<Imported, String> {
    let steps = steps(row, dict, ledger, today)?;
    let registered_on = steps.first().map_or(today, |(d, _, _)| *d);
    let mut state = HouseState::new(code.clone());
    let mut out = Vec::with_capacity(steps.len() + 1);
    let registration = (
        registered_on,
        Change::Registered {
            source: RegistrationSource::LedgerImport,
            plaque_token,
            record: Box::new(row.record.clone()),
            people: Box::new(row.people.clone()),
        },
        vec![ledger.clone()],
    );
    let all: Vec<_> = std::iter::once(registration).chain(steps).collect();
    // The row is checked whole, closures and acceptances included, as if the ledger's approval
    // were recorded: a file whose closures could never be confirmed is refused now.
    for (effective, change, evidence) in &all {
        let actor = if matches!(change, Change::Closed { .. }) {
            &who.approval
        } else {
            &who.steps
        };
        let what = change.kind().label();
        let cmd = Command {
            house: code.clone(),
            expected_version: state.version,
            change: change.clone(),
            effective: *effective,
            reason: Some(format!("台账导入：{}", ledger.name)),
            evidence: evidence.clone(),
        };
        let event = decide(&state, &cmd, actor, now, dict)
            .map_err(|v| format!("{what}（{effective}）：{v}"))?;
        state = apply(state, &event);
    }
    // What is recorded: every step but those held back, which wait for confirmation.
    let mut state = HouseState::new(code.clone());
    let mut pending = vec![];
    for (effective, change, evidence) in all {
        let reason = Some(format!("台账导入：{}", ledger.name));
        if held_back(&change) {
            pending.push(PendingStep {
                effective,
                change,
                evidence,
                reason,
            });
            continue;
        }
        let what = change.kind().label();
        let cmd = Command {
            house: code.clone(),
            expected_version: state.version,
            change,
            effective,
            reason,
            evidence,
        };
        let event = decide(&state, &cmd, &who.steps, now, dict).map_err(|v| {
            format!("{what}（{effective}）：{v}（该步骤须在导入台账的销号、验收确认之后才能记录）")
        })?;
        state = apply(state, &event);
        out.push(event);
    }
    Ok(Imported {
        events: out,
        pending,
    })
}

/// The evidence reference of one row of an imported file.
pub fn ledger_evidence(file_name: &str, sha256: &str, row: usize) -> Evidence {
    Evidence {
        sha256: sha256.to_string(),
        kind: EvidenceKind::LedgerRecord,
        name: format!("{file_name} 第 {row} 行"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::jiaxiang_seed;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unknown_and_doubled_headers_are_refused() {
        let err = map_headers(&headers(&["村（社区）", "房屋地址", "备注栏"])).unwrap_err();
        assert!(err.contains("备注栏"), "{err}");
        let err = map_headers(&headers(&["村（社区）", "房屋地址", "房屋地址 "])).unwrap_err();
        assert!(err.contains("两次"), "{err}");
        assert!(
            map_headers(&headers(&["房屋地址"]))
                .unwrap_err()
                .contains("村（社区）")
        );
        let ok = map_headers(&headers(&["村(社区)", "", "排查日期"])).unwrap();
        assert_eq!(ok.len(), 3);
        assert!(ok[1].is_none());
    }

    #[test]
    fn the_template_starts_with_the_record_and_ends_with_rectification() {
        let t = template();
        assert_eq!(t[0].0, "房屋基本情况");
        assert_eq!(t.last().unwrap().0, "整治情况");
        assert_eq!(t.len(), COLUMNS.len() + STATUS_COLUMNS.len());
    }

    #[test]
    fn a_village_name_is_found_within_its_town() {
        let regions = jiaxiang_seed();
        let town = regions
            .iter()
            .find(|r| r.level == RegionLevel::Town)
            .unwrap()
            .clone();
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let err = resolve_region(&regions, &town.name, "不存在村", day).unwrap_err();
        assert!(err.contains("不存在村"), "{err}");
        let err = resolve_region(&regions, "某镇", "370829101201", day).unwrap_err();
        assert!(err.contains("不属于"), "{err}");
    }
}
