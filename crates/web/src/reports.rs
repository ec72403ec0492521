//! 签字报送 on the web: a town operator prepares a ledger, the principal signs it (freezing the
//! figures and the houses behind them), it is submitted, the county office accepts or returns
//! it with a reason. A report page shows the frozen figures, whether the digest still holds,
//! and every cell where today's figures differ.

use crate::AppState;
use crate::pages::{Chrome, chrome, render_page};
use crate::session::{LoggedIn, Source};
use anju_domain::RegionCode;
use anju_domain::auth::Action;
use anju_domain::ledger::{AsOf, Form};
use anju_domain::report::ReportAction;
use anju_store::StoreError;
use anju_store::reports::NewReport;
use askama::Template;
use axum::Extension;
use axum::extract::{Form as FormData, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;

fn store_error(e: StoreError) -> Response {
    crate::session::page_error(e, "该台账不存在或不在您的辖区内")
}

pub struct Line {
    pub id: i64,
    pub form: u8,
    pub as_of: String,
    pub status: String,
    pub preparer: String,
    pub signer: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ListPage {
    chrome: Option<Chrome>,
    demo: bool,
    unit: String,
    unit_name: String,
    lines: Vec<Line>,
    may_prepare: bool,
    today: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UnitQuery {
    unit: String,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Query(q): Query<UnitQuery>,
) -> Response {
    let unit = match Some(q.unit.trim()).filter(|u| !u.is_empty()) {
        Some(u) => match RegionCode::parse(u) {
            Ok(c) => c,
            Err(_) => return (StatusCode::UNPROCESSABLE_ENTITY, "区划代码无效").into_response(),
        },
        None => match s.principal.region {
            Some(r) => r,
            None => return (StatusCode::NOT_FOUND, "请指定镇街").into_response(),
        },
    };
    let access = state.store.access(&s.principal, &source.0);
    let reports = match access.reports_of(&unit).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let reference = state.store.reference();
    let unit_name = reference
        .regions
        .iter()
        .find(|r| r.code == unit)
        .map_or_else(|| unit.to_string(), |r| r.name.clone());
    let page = ListPage {
        chrome: Some(chrome(&state, &s)),
        demo: state.is_demo().await,
        unit: unit.to_string(),
        unit_name,
        lines: reports
            .into_iter()
            .map(|r| Line {
                id: r.id,
                form: r.form.number(),
                as_of: r.as_of.to_string(),
                status: r.status.label().to_string(),
                preparer: r.preparer_name,
                signer: r.signer_name.unwrap_or_default(),
            })
            .collect(),
        may_prepare: s.principal.may(Action::PrepareReport),
        today: anju_domain::rules::beijing_date(anju_store::now()).to_string(),
    };
    render_page(&page)
}

#[derive(Deserialize)]
pub struct PrepareForm {
    unit: String,
    form: u8,
    as_of: String,
    contact: String,
}

pub async fn prepare(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    FormData(f): FormData<PrepareForm>,
) -> Response {
    let (Ok(unit), Some(form), Ok(as_of)) = (
        RegionCode::parse(f.unit.trim()),
        Form::from_number(f.form),
        NaiveDate::parse_from_str(f.as_of.trim(), "%Y-%m-%d"),
    ) else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "表单、区划或日期无效").into_response();
    };
    if f.contact.trim().is_empty() {
        return (StatusCode::UNPROCESSABLE_ENTITY, "请填写联系方式").into_response();
    }
    let new = NewReport {
        form,
        unit,
        as_of,
        contact: f.contact.trim().to_string(),
        supersedes: None,
    };
    match state
        .store
        .access(&s.principal, &source.0)
        .prepare_report(&new)
        .await
    {
        Ok(id) => Redirect::to(&format!("/reports/{id}")).into_response(),
        Err(e) => store_error(e),
    }
}

pub struct DiffLine {
    pub row: String,
    pub heading: String,
    pub frozen: i64,
    pub now: i64,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    chrome: Option<Chrome>,
    demo: bool,
    id: i64,
    title: String,
    unit: String,
    as_of: String,
    status: String,
    preparer: String,
    contact: String,
    signer: String,
    return_reason: String,
    digest: String,
    digest_holds: bool,
    frozen: bool,
    headings: Vec<&'static str>,
    rows: Vec<(String, Vec<String>)>,
    diffs: Vec<DiffLine>,
    actions: Vec<(String, String)>,
    may_return: bool,
    /// The scanned signed-and-stamped copy (name), if uploaded.
    scan: Option<String>,
    may_scan: bool,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(id): Path<i64>,
) -> Response {
    let access = state.store.access(&s.principal, &source.0);
    let r = match access.report(id).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let snapshot = match r.frozen() {
        Ok(s) => s,
        Err(e) => return store_error(e),
    };
    let diffs = if snapshot.is_some() {
        match access.compare_report(id, AsOf::Happened(r.as_of)).await {
            Ok(d) => d,
            Err(e) => return store_error(e),
        }
    } else {
        vec![]
    };
    let counts_headings: Vec<&'static str> = {
        let empty = anju_domain::ledger::LedgerRow::empty("", "", r.form);
        empty
            .cells(r.form)
            .iter()
            .zip(r.form.headings())
            .filter(|((_, src), _)| matches!(src, anju_domain::ledger::CellSource::Count(_)))
            .map(|(_, h)| *h)
            .collect()
    };
    let rows = snapshot
        .as_ref()
        .map(|snap| {
            snap.table
                .rows
                .iter()
                .chain(std::iter::once(&snap.table.total))
                .map(|row| {
                    (
                        row.name.clone(),
                        row.cells(r.form).iter().map(|(c, _)| c.display()).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let role_may = |a: Action| s.principal.may(a);
    let mut actions = vec![];
    use anju_domain::report::ReportStatus as S;
    match r.status {
        S::Prepared if role_may(Action::SignReport) => {
            actions.push(("sign".into(), "签字（冻结数字）".into()))
        }
        S::Signed if role_may(Action::SubmitReport) => {
            actions.push(("submit".into(), "报送".into()))
        }
        S::Submitted if role_may(Action::ReviewReport) => {
            actions.push(("accept".into(), "接收".into()))
        }
        _ => {}
    }
    let page = ReportPage {
        chrome: Some(chrome(&state, &s)),
        demo: state.is_demo().await,
        id,
        title: format!("附件{} {}", r.form.number(), r.form.title()),
        unit: r.unit.to_string(),
        as_of: r.as_of.to_string(),
        status: r.status.label().to_string(),
        preparer: r.preparer_name.clone(),
        contact: r.contact.clone(),
        signer: r.signer_name.clone().unwrap_or_default(),
        return_reason: r.return_reason.clone().unwrap_or_default(),
        digest: r.digest.clone().unwrap_or_default(),
        digest_holds: r.digest_holds(),
        frozen: snapshot.is_some(),
        headings: r.form.headings().to_vec(),
        rows,
        diffs: diffs
            .into_iter()
            .map(|d| DiffLine {
                heading: counts_headings
                    .get(d.column)
                    .copied()
                    .unwrap_or("")
                    .to_string(),
                row: d.row,
                frozen: d.frozen,
                now: d.now,
            })
            .collect(),
        actions,
        may_return: r.status == S::Submitted && role_may(Action::ReviewReport),
        scan: r
            .scan_sha256
            .as_ref()
            .map(|_| r.scan_name.clone().unwrap_or_else(|| "扫描件".into())),
        may_scan: matches!(r.status, S::Signed | S::Submitted | S::Accepted)
            && role_may(Action::SubmitReport),
    };
    render_page(&page)
}

#[derive(Deserialize)]
pub struct ActForm {
    action: String,
    #[serde(default)]
    reason: String,
}

pub async fn act(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(id): Path<i64>,
    FormData(f): FormData<ActForm>,
) -> Response {
    let action = match f.action.as_str() {
        "sign" => ReportAction::Sign,
        "submit" => ReportAction::Submit,
        "accept" => ReportAction::Accept,
        "return" => ReportAction::Return {
            reason: f.reason.trim().to_string(),
        },
        other => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("未知操作：{other}"),
            )
                .into_response();
        }
    };
    match state
        .store
        .access(&s.principal, &source.0)
        .act_on_report(id, &action)
        .await
    {
        Ok(_) => Redirect::to(&format!("/reports/{id}")).into_response(),
        Err(e) => store_error(e),
    }
}

/// Uploads the scanned signed-and-stamped copy of a signed report (PDF or photo).
pub async fn upload_scan(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(id): Path<i64>,
    mut form: axum::extract::Multipart,
) -> Response {
    let access = state.store.access(&s.principal, &source.0);
    // Scope first: nothing is stored for a report the account cannot see.
    if let Err(e) = access.report(id).await {
        return store_error(e);
    }
    let mut file = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("scan") {
            let name = field
                .file_name()
                .map(|n| {
                    n.rsplit(['/', '\\'])
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(80)
                        .collect::<String>()
                })
                .unwrap_or_default();
            match field.bytes().await {
                Ok(b) if !b.is_empty() => file = Some((name, b.to_vec())),
                Ok(_) => {}
                Err(_) => {
                    return (StatusCode::PAYLOAD_TOO_LARGE, "扫描件过大（不超过 15 MB）")
                        .into_response();
                }
            }
        }
    }
    let Some((name, bytes)) = file else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "请选择签字盖章后的扫描件（PDF 或照片）",
        )
            .into_response();
    };
    let stored = match state.store_evidence(bytes).await {
        Ok(x) => x,
        Err(m) => return (StatusCode::UNPROCESSABLE_ENTITY, m).into_response(),
    };
    let name = if name.is_empty() {
        format!("扫描件.{}", stored.media.extension())
    } else {
        name
    };
    match access
        .act_on_report(
            id,
            &ReportAction::AttachScan {
                sha256: stored.sha256,
                name,
            },
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/reports/{id}")).into_response(),
        Err(e) => store_error(e),
    }
}

/// The scanned copy, to those who may see the report.
pub async fn scan(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(id): Path<i64>,
) -> Response {
    let r = match state.store.access(&s.principal, &source.0).report(id).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let found = r
        .scan_sha256
        .as_deref()
        .and_then(|sha| state.evidence.find(sha));
    match found {
        Some((path, media)) => {
            let download = (!media.is_image()).then(|| r.scan_name.clone().unwrap_or_default());
            crate::evidence::file_response(path, media.mime(), download).await
        }
        None => (StatusCode::NOT_FOUND, "该台账尚未上传扫描件").into_response(),
    }
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    format: String,
}

/// A signed report as printed: the figures frozen at signing (never today's), with the
/// preparer's line and blank spaces for the principal's signature and the unit's seal.
pub async fn download(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<DownloadQuery>,
) -> Response {
    let r = match state.store.access(&s.principal, &source.0).report(id).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let snapshot = match r.frozen() {
        Ok(Some(snap)) => snap,
        Ok(None) => {
            return (
                StatusCode::CONFLICT,
                "台账尚未签字，没有冻结的数字；请先签字，或在台账页面下载当前数字",
            )
                .into_response();
        }
        Err(e) => return store_error(e),
    };
    if !r.digest_holds() {
        return (
            StatusCode::CONFLICT,
            "冻结数据与签字时的摘要不符，已拒绝输出，请联系管理员核查",
        )
            .into_response();
    }
    let header = anju_render::Header {
        preparer: r.preparer_name.clone(),
        contact: r.contact.clone(),
        filled_on: r.as_of.to_string(),
    };
    let format = if q.format.is_empty() {
        "pdf"
    } else {
        q.format.as_str()
    };
    let detail = serde_json::json!({ "report": id, "form": r.form.number(), "format": format, "digest": r.digest });
    crate::ledgers::send_ledger(
        &state,
        &s,
        &source.0,
        snapshot.table,
        header,
        format,
        &format!("report:{id}"),
        detail,
    )
    .await
}
