//! The house record forms: registering a house found in the field (登记) and correcting a
//! record (更正房屋信息). Both are drawn from `anju_domain::columns`, the same table the import
//! template and the exports use, grouped by the national platform's blocks. The store gives a
//! new house its code; the rules decide as for every step.

use crate::AppState;
use crate::error::{PageError, PageResult};
use crate::houses::house_code;
use crate::houses::steps::{Field, Input, Posted, one, read_submission};
use crate::pages::{Frame, render};
use crate::session::{Caller, Ctx, LoggedIn};
use anju_domain::Coded;
use anju_domain::codes::RegionLevel;
use anju_domain::columns::{self, COLUMNS, Column};
use anju_domain::dict::{RegistrationSource, UsageCategory};
use anju_domain::event::{Change, Command};
use anju_domain::house::{HouseRecord, People};
use anju_domain::rules::beijing_date;
use anju_domain::{HouseCode, RuleCode, Scope};
use anju_store::StoreError;
use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;

pub struct Group {
    pub label: &'static str,
    pub fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    frame: Frame,
    title: &'static str,
    action: String,
    back: String,
    /// Registration or correction header fields (date, source or reason).
    head: Vec<Field>,
    groups: Vec<Group>,
    /// Correction: whether the people block is replaced too.
    correcting: bool,
    people_checked: bool,
    version: u32,
    error: Option<String>,
    stale: bool,
}

/// The villages a form may offer: valid today and within the account's scope, named with their
/// town.
fn villages(state: &AppState, scope: &Scope, today: NaiveDate) -> Vec<(String, String)> {
    let reference = state.store.reference();
    let regions = &reference.regions;
    let name = |code: &anju_domain::RegionCode| reference.region_name(code.as_str());
    regions
        .iter()
        .filter(|r| r.level == RegionLevel::Village && r.valid_on(today))
        .filter(|r| match scope {
            Scope::All => true,
            Scope::Region { code } | Scope::Department { within: code, .. } => {
                code.contains(&r.code)
            }
            _ => false,
        })
        .map(|r| {
            (
                r.code.to_string(),
                format!("{} · {}", name(&r.code.town()), r.name),
            )
        })
        .collect()
}

fn input_of(state: &AppState, c: &Column, villages: &[(String, String)]) -> Option<Input> {
    let dict = |k: &str| crate::houses::steps::dict_opts(state, k);
    let yes_no = || vec![("否".into(), "否".into()), ("是".into(), "是".into())];
    Some(match c.input {
        columns::Input::Text
        | columns::Input::Integer
        | columns::Input::Decimal
        | columns::Input::OwnerId
        | columns::Input::Phone => Input::Text,
        columns::Input::Date => Input::Date,
        columns::Input::Bool => Input::Select(yes_no()),
        columns::Input::Usage => Input::Select(
            UsageCategory::ALL
                .iter()
                .map(|u| (u.label().to_string(), u.label().to_string()))
                .collect(),
        ),
        // The town follows from the village.
        columns::Input::Region(RegionLevel::Village) => Input::Select(villages.to_vec()),
        columns::Input::Region(_) => return None,
        columns::Input::Dict(k) => Input::Select(dict(k)),
        columns::Input::DictMany(k) => Input::Checks(dict(k)),
    })
}

/// The record's columns as form fields in their blocks, filled from `value`.
fn groups(
    state: &AppState,
    villages: &[(String, String)],
    with_people: bool,
    value: impl Fn(&Column) -> Vec<String>,
) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for c in COLUMNS {
        if c.block == columns::Block::People && !with_people {
            continue;
        }
        let Some(input) = input_of(state, c, villages) else {
            continue;
        };
        let f = Field {
            name: c.key,
            label: c.header,
            input,
            required: c.required,
            values: value(c),
        };
        match out.last_mut() {
            Some(g) if g.label == c.block.label() => g.fields.push(f),
            _ => out.push(Group {
                label: c.block.label(),
                fields: vec![f],
            }),
        }
    }
    out
}

fn posted_values(p: &Posted, name: &str) -> Vec<String> {
    p.get(name).cloned().unwrap_or_default()
}

/// Text values of a posted form for the columns (several checked values joined).
fn posted_text(p: &Posted, c: &Column) -> String {
    posted_values(p, c.key)
        .into_iter()
        .filter(|v| !v.trim().is_empty())
        .collect::<Vec<_>>()
        .join("、")
}

fn build(state: &AppState, p: &Posted, people: bool) -> Result<(HouseRecord, People), String> {
    let text: Vec<(&'static str, String)> = COLUMNS
        .iter()
        .filter(|c| people || c.block != columns::Block::People)
        .map(|c| (c.key, posted_text(p, c)))
        .collect();
    let reference = state.store.reference();
    let get = |c: &Column| {
        text.iter()
            .find(|(k, _)| *k == c.key)
            .map(|(_, v)| v.as_str())
            // Without the people block the owner is a placeholder, dropped by the caller.
            .or((!people && c.key == "owner_name").then_some("（不更正）"))
    };
    columns::build(get, &reference.dictionaries, state.store.today()).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("；")
    })
}

fn date(p: &Posted, k: &str) -> Result<NaiveDate, String> {
    one(p, k)
        .and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok())
        .ok_or_else(|| "请填写日期，如 2024-05-01".to_string())
}

const SOURCES: &[RegistrationSource] = &[
    RegistrationSource::DynamicSurvey,
    RegistrationSource::MissedFound,
    RegistrationSource::Census,
];

fn registration_head(p: Option<&Posted>, today: NaiveDate) -> Vec<Field> {
    let mut head = vec![
        Field::new("effective", "登记日期", Input::Date, true),
        Field::new(
            "source",
            "登记来源",
            Input::Select(
                SOURCES
                    .iter()
                    .map(|s| (s.label().to_string(), s.label().to_string()))
                    .collect(),
            ),
            true,
        ),
    ];
    for f in &mut head {
        f.values = match p {
            Some(p) => posted_values(p, f.name),
            None if f.name == "effective" => vec![today.to_string()],
            None => vec![RegistrationSource::DynamicSurvey.label().to_string()],
        };
    }
    head
}

struct Shown<'a> {
    posted: Option<&'a Posted>,
    error: Option<String>,
    status: StatusCode,
}

impl<'a> Shown<'a> {
    /// A blank form, or the one kept when the session expired, filled in again and saying so.
    fn kept(kept: Option<&'a crate::houses::steps::Submission>) -> Shown<'a> {
        Shown {
            posted: kept.map(|k| &k.posted),
            error: kept.map(|_| crate::houses::steps::RESTORED.to_string()),
            status: StatusCode::OK,
        }
    }

    /// The form as posted, with why it was refused.
    fn refused(posted: &'a Posted, error: String, status: StatusCode) -> Shown<'a> {
        Shown {
            posted: Some(posted),
            error: Some(error),
            status,
        }
    }
}

async fn registration_page(
    state: &AppState,
    s: &anju_store::Session,
    shown: Shown<'_>,
) -> Response {
    let now = state.store.now();
    let today = beijing_date(now);
    let scope = state.store.access(&s.principal, "web").scope();
    let villages = villages(state, &scope, today);
    let posted = shown.posted;
    let page = RecordPage {
        frame: Frame::of(state, s).await,
        title: "登记房屋",
        action: "/houses/new".into(),
        back: "/houses".into(),
        head: registration_head(posted, today),
        groups: groups(state, &villages, true, |c| match posted {
            Some(p) => posted_values(p, c.key),
            None => vec![],
        }),
        correcting: false,
        people_checked: true,
        version: 0,
        error: shown.error,
        stale: false,
    };
    render(&page, shown.status)
}

fn may_register(s: &anju_store::Session) -> bool {
    anju_domain::rules::may_register(s.principal.role)
}

pub async fn new_form(
    State(state): State<AppState>,
    LoggedIn(s): LoggedIn,
    headers: axum::http::HeaderMap,
) -> PageResult {
    if !may_register(&s) {
        return Err(PageError::Denied("您的角色不能登记房屋".into()));
    }
    // A registration kept when the session expired comes back filled in.
    let kept = crate::houses::steps::kept_submission(&state, &headers, "/houses/new").await?;
    let shown = Shown::kept(kept.as_ref());
    let mut res = registration_page(&state, &s, shown).await;
    if kept.is_some() {
        crate::drafts::forget(&mut res, state.options.secure_cookies);
    }
    Ok(res)
}

/// A submission that could not be read: too large, or not a form (the message says which).
pub async fn register(Ctx { state, caller }: Ctx, req: Request) -> PageResult {
    let s = &caller.session;
    let sub = read_submission(&state, req)
        .await
        .map_err(|m| PageError::TooLarge(m.into()))?;
    let p = &sub.posted;
    let refused = |error: String, status| {
        let state = &state;
        async move { registration_page(state, s, Shown::refused(p, error, status)).await }
    };
    let parsed = (|| {
        let county = state.store.county_code().map_err(|e| e.to_string())?;
        let effective = date(p, "effective").map_err(|e| format!("登记日期：{e}"))?;
        let reg_source = one(p, "source")
            .as_deref()
            .and_then(RegistrationSource::parse)
            .filter(|s| SOURCES.contains(s))
            .ok_or("请选择“登记来源”")?;
        let (record, people) = build(&state, p, true)?;
        Ok::<_, String>(Command {
            // Given by the store.
            house: HouseCode::new(&county, 0),
            expected_version: 0,
            change: Change::Registered {
                source: reg_source,
                plaque_token: anju_store::houses::plaque::new_plaque_token(),
                record: Box::new(record),
                people: Box::new(people),
            },
            effective,
            reason: None,
            evidence: vec![],
        })
    })();
    let cmd = match parsed {
        Ok(c) => c,
        Err(e) => return Ok(refused(e, StatusCode::UNPROCESSABLE_ENTITY).await),
    };
    match caller.access(&state.store).register(&cmd).await {
        Err(StoreError::Rule(v)) => {
            Ok(refused(v.to_string(), StatusCode::UNPROCESSABLE_ENTITY).await)
        }
        event => {
            let house = event?.house;
            Ok(crate::flash::redirect_with(
                &format!("/houses/{house}"),
                &format!("已登记，房屋编码 {house}"),
            ))
        }
    }
}

async fn correction_page(
    state: &AppState,
    caller: &Caller,
    code: &HouseCode,
    shown: Shown<'_>,
    stale: bool,
) -> PageResult {
    let access = caller.access(&state.store);
    let house = access.house(code).await?;
    let Some(record) = house.state.record.clone() else {
        return Err(PageError::Conflict("该房屋尚未登记".into()));
    };
    let now = state.store.now();
    let today = beijing_date(now);
    let villages = villages(state, &access.scope(), today);
    let posted = shown.posted;
    let blank = People::default();
    let mut head = vec![
        Field::new("effective", "更正日期", Input::Date, true),
        Field::new("reason", "更正原因", Input::Area, true),
    ];
    for f in &mut head {
        f.values = match posted {
            Some(p) => posted_values(p, f.name),
            None if f.name == "effective" => vec![today.to_string()],
            None => vec![],
        };
    }
    let version = match posted
        .and_then(|p| one(p, "version"))
        .and_then(|v| v.parse().ok())
    {
        Some(v) if !stale => v,
        _ => house.state.version,
    };
    let page = RecordPage {
        frame: Frame::of(state, &caller.session).await,
        title: "更正房屋信息",
        action: format!("/houses/{code}/correct"),
        back: format!("/houses/{code}"),
        head,
        // Personal data is never pre-filled: a person who corrects it types it anew.
        groups: groups(state, &villages, true, |c| match posted {
            Some(p) => posted_values(p, c.key),
            None if c.block == columns::Block::People => vec![],
            None => {
                let v = columns::get(c, &record, &blank);
                match c.input {
                    columns::Input::DictMany(_) => v
                        .split('、')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect(),
                    _ => vec![v],
                }
            }
        }),
        correcting: true,
        people_checked: posted.is_some_and(|p| one(p, "with_people").is_some()),
        version,
        error: shown.error,
        stale,
    };
    Ok(render(&page, shown.status))
}

#[tracing::instrument(skip_all, fields(house = %code))]
pub async fn correct_form(
    Ctx { state, caller }: Ctx,
    Path(code): Path<String>,
    headers: axum::http::HeaderMap,
) -> PageResult {
    let code = house_code(&code)?;
    let path = format!("/houses/{code}/correct");
    // A correction kept when the session expired comes back filled in.
    let kept = crate::houses::steps::kept_submission(&state, &headers, &path).await?;
    let shown = Shown::kept(kept.as_ref());
    let mut res = correction_page(&state, &caller, &code, shown, false).await?;
    if kept.is_some() {
        crate::drafts::forget(&mut res, state.options.secure_cookies);
    }
    Ok(res)
}

#[tracing::instrument(skip_all, fields(house = %code))]
pub async fn correct(
    Ctx { state, caller }: Ctx,
    Path(code): Path<String>,
    req: Request,
) -> PageResult {
    let code = house_code(&code)?;
    let sub = read_submission(&state, req)
        .await
        .map_err(|m| PageError::TooLarge(m.into()))?;
    let p = &sub.posted;
    let refused = |error: String, status, stale| {
        let (state, caller, code) = (&state, &caller, &code);
        async move {
            correction_page(state, caller, code, Shown::refused(p, error, status), stale).await
        }
    };
    let with_people = one(p, "with_people").is_some();
    let parsed = (|| {
        let effective = date(p, "effective").map_err(|e| format!("更正日期：{e}"))?;
        let version: u32 = one(p, "version")
            .and_then(|v| v.parse().ok())
            .ok_or("表单缺少房屋版本，请重新打开")?;
        let (record, people) = build(&state, p, with_people)?;
        Ok::<_, String>(Command {
            house: code.clone(),
            expected_version: version,
            change: Change::Corrected {
                record: Box::new(record),
                people: with_people.then(|| Box::new(people)),
            },
            effective,
            reason: one(p, "reason"),
            evidence: vec![],
        })
    })();
    let cmd = match parsed {
        Ok(c) => c,
        Err(e) => return refused(e, StatusCode::UNPROCESSABLE_ENTITY, false).await,
    };
    match caller.access(&state.store).execute(&cmd).await {
        Err(StoreError::Rule(v)) if v.code == RuleCode::V1 => {
            let msg = format!("{v}。请核对最新情况后再提交（您填写的内容已保留）。");
            refused(msg, StatusCode::CONFLICT, true).await
        }
        Err(StoreError::Rule(v)) => {
            refused(v.to_string(), StatusCode::UNPROCESSABLE_ENTITY, false).await
        }
        done => {
            done?;
            Ok(crate::flash::redirect_with(
                &format!("/houses/{code}"),
                "已保存更正",
            ))
        }
    }
}
