//! 区划 (county office, under 用户/设置): the county's towns and villages with their codes and
//! validity, the changes made so far, and the forms to add a village (or town), rename, merge,
//! split or end one with an effective date. The store checks each change against the regions
//! (`anju_domain::region::check_edit`) and writes it with its audit row; houses are never
//! rewritten, so earlier ledgers keep their rows and names.

use crate::AppState;
use crate::admin::{field, pairs, refusal};
use crate::error::{PageError, PageResult};
use crate::pages::{Frame, render};
use crate::session::{Ctx, LoggedIn};
use anju_domain::Coded;
use anju_domain::RegionCode;
use anju_domain::auth::Action;
use anju_domain::codes::RegionLevel;
use anju_domain::region::RegionEdit;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::NaiveDate;

pub struct RegionLine {
    pub code: String,
    pub name: String,
    pub valid: String,
    pub ended: bool,
}

pub struct TownBlock {
    pub town: RegionLine,
    pub villages: Vec<RegionLine>,
    pub current_villages: usize,
}

pub struct ChangeLine {
    pub effective: String,
    pub kind: String,
    pub what: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "regions.html")]
struct RegionsPage {
    frame: Frame,
    county: String,
    edition: String,
    towns: Vec<TownBlock>,
    /// Current towns and villages for the select lists: (code, label).
    current_towns: Vec<(String, String)>,
    current_villages: Vec<(String, String)>,
    changes: Vec<ChangeLine>,
    today: String,
    error: Option<String>,
    saved: Option<String>,
    /// The town whose block is open.
    open: String,
    /// The county's 6-digit code (empty before `anju init`), as the parent of a new town.
    county_code: String,
}

#[derive(serde::Deserialize, Default)]
pub struct RegionsQuery {
    /// The town to show open (9-digit code).
    pub town: Option<String>,
}

fn line(r: &anju_domain::region::Region) -> RegionLine {
    RegionLine {
        code: r.code.prefix().to_string(),
        name: r.name.clone(),
        valid: match r.valid_to {
            Some(t) => format!("{} 至 {}（已撤并或撤销）", r.valid_from, t),
            None => format!("自 {} 起", r.valid_from),
        },
        ended: r.valid_to.is_some(),
    }
}

async fn page(
    state: &AppState,
    s: &anju_store::Session,
    open: String,
    error: Option<String>,
    saved: Option<String>,
    status: StatusCode,
) -> PageResult {
    if !s.principal.may(Action::ManageSettings) {
        return Err(PageError::Denied("只有县领导小组办公室可以维护区划".into()));
    }
    let reference = state.store.reference();
    let county = state.store.county().map_or_else(
        || "（尚未设置县）".to_string(),
        |c| format!("{}（{}）", c.name, c.code.prefix()),
    );
    let edition = match state.store.region_edition().await? {
        Some(e) if e == anju_divisions::edition().id => anju_divisions::edition().label.to_string(),
        Some(e) => e,
        None => "未记录".into(),
    };
    let mut towns = Vec::new();
    for t in reference
        .regions
        .iter()
        .filter(|r| r.level == RegionLevel::Town)
    {
        let villages: Vec<_> = reference
            .regions
            .iter()
            .filter(|v| v.level == RegionLevel::Village && v.parent == Some(t.code))
            .collect();
        towns.push(TownBlock {
            town: line(t),
            current_villages: villages.iter().filter(|v| v.valid_to.is_none()).count(),
            villages: villages.into_iter().map(line).collect(),
        });
    }
    let label = |r: &anju_domain::region::Region| {
        (
            r.code.prefix().to_string(),
            format!("{}（{}）", r.name, r.code.prefix()),
        )
    };
    let current = |level| {
        reference
            .regions
            .iter()
            .filter(|r| r.level == level && r.valid_to.is_none())
            .map(label)
            .collect::<Vec<_>>()
    };
    let name_of = |c: &RegionCode| {
        reference.regions.iter().find(|r| r.code == *c).map_or_else(
            || c.prefix().to_string(),
            |r| format!("{}（{}）", r.name, c.prefix()),
        )
    };
    let mut changes: Vec<ChangeLine> = reference
        .region_changes
        .iter()
        .map(|c| {
            use anju_domain::region::RegionChangeKind as K;
            let what = match c.kind {
                K::Merge => format!(
                    "{}（{}）并入 {}",
                    c.old_name,
                    c.old.prefix(),
                    name_of(&c.new)
                ),
                K::Rename => format!(
                    "{}（{}）更名为 {}",
                    c.old_name,
                    c.old.prefix(),
                    name_of(&c.new)
                ),
                K::Split => format!(
                    "自 {}（{}）拆分出 {}",
                    c.old_name,
                    c.old.prefix(),
                    name_of(&c.new)
                ),
                K::Deactivate => format!("{}（{}）撤销", c.old_name, c.old.prefix()),
            };
            ChangeLine {
                effective: c.effective.to_string(),
                kind: c.kind.label().into(),
                what,
                note: c.note.clone(),
            }
        })
        .collect();
    changes.reverse();
    let view = RegionsPage {
        frame: Frame::of(state, s).await,
        county,
        edition,
        towns,
        current_towns: current(RegionLevel::Town),
        current_villages: current(RegionLevel::Village),
        changes,
        today: state.store.today().to_string(),
        error,
        saved,
        open,
        county_code: state
            .store
            .county()
            .map(|c| c.code.prefix().to_string())
            .unwrap_or_default(),
    };
    Ok(render(&view, status))
}

pub async fn show(
    State(state): State<AppState>,
    LoggedIn(s): LoggedIn,
    Query(q): Query<RegionsQuery>,
) -> PageResult {
    page(
        &state,
        &s,
        q.town.unwrap_or_default(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

/// The form's fields as one edit, or what is missing.
fn parse(p: &[(String, String)]) -> Result<RegionEdit, String> {
    let code = |k: &str, label: &str| {
        RegionCode::parse(field(p, k)).map_err(|_| format!("请填写或选择{label}（区划代码）"))
    };
    let date = |k: &str| {
        NaiveDate::parse_from_str(field(p, k), "%Y-%m-%d")
            .map_err(|_| "请填写生效日期（如 2024-06-30）".to_string())
    };
    let note = field(p, "note").to_string();
    if note.chars().count() > 200 {
        return Err("说明不能超过 200 个字".into());
    }
    match field(p, "op") {
        "add" => Ok(RegionEdit::Add {
            code: code("code", "新区划代码")?,
            name: field(p, "name").to_string(),
            parent: code("parent", "上级区划")?,
            valid_from: date("effective")?,
        }),
        "rename" => Ok(RegionEdit::Rename {
            code: code("code", "要更名的区划")?,
            name: field(p, "name").to_string(),
            effective: date("effective")?,
            note,
        }),
        "merge" => Ok(RegionEdit::Merge {
            old: code("code", "被撤并的区划")?,
            into: code("into", "并入的区划")?,
            effective: date("effective")?,
            note,
        }),
        "split" => Ok(RegionEdit::Split {
            from: code("from", "原区划")?,
            code: code("code", "新区划代码")?,
            name: field(p, "name").to_string(),
            effective: date("effective")?,
            note,
        }),
        "deactivate" => Ok(RegionEdit::Deactivate {
            code: code("code", "要撤销的区划")?,
            effective: date("effective")?,
            note,
        }),
        _ => Err("未知的区划操作".into()),
    }
}

pub async fn edit(Ctx { state, caller }: Ctx, body: Bytes) -> PageResult {
    let s = &caller.session;
    let p = pairs(&body);
    let open = field(&p, "town").to_string();
    let edit = match parse(&p) {
        Ok(e) => e,
        Err(m) => {
            return page(
                &state,
                s,
                open,
                Some(m),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let open = if open.is_empty() {
        edit.subject().town().prefix().to_string()
    } else {
        open
    };
    match state
        .store
        .edit_region(&s.principal, &edit, &caller.source)
        .await
    {
        Ok(()) => {
            let msg = format!("区划{}已保存：{}", edit.label(), edit.subject().prefix());
            page(&state, s, open, None, Some(msg), StatusCode::OK).await
        }
        Err(e) => {
            let (m, status) = refusal(e)?;
            page(&state, s, open, Some(m), None, status).await
        }
    }
}
