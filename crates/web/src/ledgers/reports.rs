//! 签字报送 on the web: a town operator prepares a ledger, the principal signs it (freezing the
//! figures and the houses behind them), it is submitted, the county office accepts or returns
//! it with a reason. A report page shows the frozen figures, whether the digest still holds,
//! and every cell where today's figures differ.

use crate::AppState;
use crate::error::{NotFoundAs, PageError, PageResult};
use crate::pages::{Frame, render_page};
use crate::session::{Caller, Ctx};
use anju_domain::Coded;
use anju_domain::RegionCode;
use anju_domain::auth::Action;
use anju_domain::ledger::{AsOf, Form};
use anju_domain::report::ReportAction;
use anju_store::ledgers::reports::{Integrity, NewReport};
use askama::Template;
use axum::extract::{Form as FormData, Path, Query};

use chrono::NaiveDate;
use serde::Deserialize;

/// What a 404 from the report queries names.
const REPORT: &str = "该台账不存在或不在您的辖区内";

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
    frame: Frame,
    unit: String,
    unit_name: String,
    lines: Vec<Line>,
    may_prepare: bool,
    today: String,
    /// Returned reports a new one may correct: (id, "第 N 号 附件2 截至 …").
    returned: Vec<(i64, String)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UnitQuery {
    unit: String,
}

pub async fn list(Ctx { state, caller }: Ctx, Query(q): Query<UnitQuery>) -> PageResult {
    let s = &caller.session;
    let unit = match Some(q.unit.trim()).filter(|u| !u.is_empty()) {
        Some(u) => RegionCode::parse(u).map_err(|_| PageError::refused("区划代码无效"))?,
        None => s
            .principal
            .region
            .ok_or_else(|| PageError::not_found("请指定镇街"))?,
    };
    let reports = caller
        .access(&state.store)
        .reports_of(&unit)
        .await
        .not_found_as(REPORT)?;
    let reference = state.store.reference();
    let unit_name = reference
        .regions
        .iter()
        .find(|r| r.code == unit)
        .map_or_else(|| unit.to_string(), |r| r.name.clone());
    let page = ListPage {
        frame: Frame::of(&state, s).await,
        unit: unit.to_string(),
        unit_name,
        returned: reports
            .iter()
            .filter(|r| r.status == anju_domain::report::ReportStatus::Returned)
            .map(|r| {
                (
                    r.id,
                    format!("第 {} 号 附件{} 截至 {}", r.id, r.form.number(), r.as_of),
                )
            })
            .collect(),
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
        today: state.store.today().to_string(),
    };
    Ok(render_page(&page))
}

#[derive(Deserialize)]
pub struct PrepareForm {
    unit: String,
    form: u8,
    as_of: String,
    contact: String,
    /// The returned report this one corrects (explicit, chosen from the list).
    #[serde(default)]
    supersedes: String,
}

pub async fn prepare(Ctx { state, caller }: Ctx, FormData(f): FormData<PrepareForm>) -> PageResult {
    let (Ok(unit), Some(form), Ok(as_of)) = (
        RegionCode::parse(f.unit.trim()),
        Form::from_number(f.form),
        NaiveDate::parse_from_str(f.as_of.trim(), "%Y-%m-%d"),
    ) else {
        return Err(PageError::refused("表单、区划或日期无效"));
    };
    if f.contact.trim().is_empty() {
        return Err(PageError::refused("请填写联系方式"));
    }
    let new = NewReport {
        form,
        unit,
        as_of,
        contact: f.contact.trim().to_string(),
        supersedes: match f.supersedes.trim() {
            "" => None,
            s => Some(
                s.parse()
                    .map_err(|_| PageError::refused("所更正的台账编号无效"))?,
            ),
        },
    };
    let id = caller
        .access(&state.store)
        .prepare_report(&new)
        .await
        .not_found_as(REPORT)?;
    Ok(crate::flash::redirect_with(
        &format!("/reports/{id}"),
        "已填报，请主要负责同志核对数字后签字",
    ))
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
    frame: Frame,
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
    /// Why the frozen figures are not the ones signed (snapshot, digest and the chained audit
    /// rows of the signature disagree), if they are not.
    broken: Option<String>,
    /// Signed before the audit rows carried the digest: only the snapshot's own digest checked.
    digest_only: bool,
    frozen: bool,
    headings: Vec<&'static str>,
    rows: Vec<(String, Vec<String>)>,
    diffs: Vec<DiffLine>,
    /// Actions the caller may take: (code, button label, statement confirmed when it needs
    /// the holder's password; empty when it does not).
    actions: Vec<(String, String, String)>,
    may_return: bool,
    /// What returning confirms (the county office's password is asked too).
    return_statement: String,
    /// A refused action's message, shown above its form.
    error: Option<String>,
    /// The scanned signed-and-stamped copy (name), if uploaded.
    scan: Option<String>,
    may_scan: bool,
    /// The signed report this one follows: (id, as of, status, "corrects it"), and the cells
    /// that changed from its frozen figures to this one's.
    predecessor: Option<(i64, String, String, bool)>,
    changes: Vec<DiffLine>,
}

/// A changed cell as the page lists it.
fn line(d: anju_store::ledgers::reports::CellDiff, headings: &[&'static str]) -> DiffLine {
    DiffLine {
        heading: headings.get(d.column).copied().unwrap_or("").to_string(),
        row: d.row,
        frozen: d.frozen,
        now: d.now,
    }
}

#[tracing::instrument(skip_all, fields(report = id))]
pub async fn show(Ctx { state, caller }: Ctx, Path(id): Path<i64>) -> PageResult {
    report_page(&state, &caller, id, None).await
}

/// The report page; with `error`, answered 422 with the refusal above the forms.
async fn report_page(
    state: &AppState,
    caller: &Caller,
    id: i64,
    error: Option<String>,
) -> PageResult {
    let s = &caller.session;
    let access = caller.access(&state.store);
    let r = access.report(id).await.not_found_as(REPORT)?;
    let snapshot = r.frozen()?;
    // Snapshot ↔ digest ↔ the chained audit rows of the signature and later steps.
    let integrity = state.store.check_report(id).await?;
    let diffs = if snapshot.is_some() {
        access
            .compare_report(id, AsOf::Happened(r.as_of))
            .await
            .not_found_as(REPORT)?
    } else {
        vec![]
    };
    let predecessor = access.report_predecessor(id).await.not_found_as(REPORT)?;
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
    use anju_domain::report::ReportStatus as S;
    // What is shown is what is (or will be) signed: the frozen table once signed; before,
    // the figures signing would freeze now.
    let table = match &snapshot {
        Some(snap) => Some(snap.table.clone()),
        None if r.status == S::Prepared => Some(
            access
                .ledger(r.form, Some(&r.unit), AsOf::Happened(r.as_of))
                .await
                .not_found_as(REPORT)?,
        ),
        None => None,
    };
    let rows = table
        .as_ref()
        .map(|t| {
            t.rows
                .iter()
                .chain(std::iter::once(&t.total))
                .map(|row| {
                    (
                        row.name.clone(),
                        row.cells(r.form).iter().map(|(c, _)| c.display()).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let unit_name = state
        .store
        .reference()
        .regions
        .iter()
        .find(|x| x.code == r.unit)
        .map_or_else(|| r.unit.to_string(), |x| x.name.clone());
    let title = format!("附件{} {}", r.form.number(), r.form.title());
    let statement = |what: &str| format!("{what}：{unit_name} {title}，截至 {}", r.as_of);
    let role_may = |a: Action| s.principal.may(a);
    let mut actions = vec![];
    match r.status {
        S::Prepared if role_may(Action::SignReport) => actions.push((
            "sign".into(),
            "签字（冻结数字）".into(),
            statement("我已逐项核对上表数字，确认以主要负责同志身份签字"),
        )),
        S::Signed if role_may(Action::SubmitReport) => {
            actions.push(("submit".into(), "报送".into(), String::new()))
        }
        S::Submitted if role_may(Action::ReviewReport) => actions.push((
            "accept".into(),
            "接收".into(),
            statement("我已核对签字冻结的数字，确认接收"),
        )),
        _ => {}
    }
    let page = ReportPage {
        frame: Frame::of(state, s).await,
        id,
        title: title.clone(),
        unit: r.unit.to_string(),
        as_of: r.as_of.to_string(),
        status: r.status.label().to_string(),
        preparer: r.preparer_name.clone(),
        contact: r.contact.clone(),
        signer: r.signer_name.clone().unwrap_or_default(),
        return_reason: r.return_reason.clone().unwrap_or_default(),
        digest: r.digest.clone().unwrap_or_default(),
        broken: match &integrity {
            Integrity::Broken(m) => Some(m.clone()),
            _ => None,
        },
        digest_only: integrity == Integrity::DigestOnly,
        frozen: snapshot.is_some(),
        headings: r.form.headings().to_vec(),
        rows,
        diffs: diffs
            .into_iter()
            .map(|d| line(d, &counts_headings))
            .collect(),
        changes: predecessor
            .as_ref()
            .map(|(_, c)| {
                c.iter()
                    .cloned()
                    .map(|d| line(d, &counts_headings))
                    .collect()
            })
            .unwrap_or_default(),
        predecessor: predecessor.map(|(p, _)| {
            (
                p.id,
                p.as_of.to_string(),
                p.status.label().to_string(),
                r.supersedes == Some(p.id),
            )
        }),
        actions,
        may_return: r.status == S::Submitted && role_may(Action::ReviewReport),
        return_statement: statement("确认退回"),
        error: error.clone(),
        scan: r
            .scan_sha256
            .as_ref()
            .map(|_| r.scan_name.clone().unwrap_or_else(|| "扫描件".into())),
        may_scan: matches!(r.status, S::Signed | S::Submitted | S::Accepted)
            && role_may(Action::SubmitReport),
    };
    let status = if error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok(crate::pages::render(&page, status))
}

#[derive(Deserialize)]
pub struct ActForm {
    action: String,
    #[serde(default)]
    reason: String,
    /// The holder's password, asked again to sign, accept or return.
    #[serde(default)]
    password: String,
    /// The holder's dynamic code, where the account has one.
    #[serde(default)]
    totp: String,
    /// The confirmation box naming the unit, form and date.
    #[serde(default)]
    confirm: String,
}

#[tracing::instrument(skip_all, fields(report = id))]
pub async fn act(
    Ctx { state, caller }: Ctx,
    Path(id): Path<i64>,
    FormData(f): FormData<ActForm>,
) -> PageResult {
    let action = match f.action.as_str() {
        "sign" => ReportAction::Sign,
        "submit" => ReportAction::Submit,
        "accept" => ReportAction::Accept,
        "return" => ReportAction::Return {
            reason: f.reason.trim().to_string(),
        },
        other => return Err(PageError::refused(format!("未知操作：{other}"))),
    };
    // Signing, accepting and returning are the holder's own acts: the box naming what is
    // signed must be ticked and the password (and dynamic code) given again.
    if !matches!(action, ReportAction::Submit) {
        // Scope first: nothing is asked of a report the account cannot see.
        caller
            .access(&state.store)
            .report(id)
            .await
            .not_found_as(REPORT)?;
        // Who may is decided before anything is asked (a clerk's "sign" is refused as such),
        // by the same rule the store applies.
        if !anju_domain::report::may_act_on_report(caller.principal().role, &action) {
            return Err(PageError::Denied(format!(
                "{}无权对台账进行“{}”",
                caller.principal().role.label(),
                action.label()
            )));
        }
        if let Some(m) = caller
            .reconfirm(&state.store, &f.confirm, &f.password, &f.totp)
            .await?
        {
            return report_page(&state, &caller, id, Some(m)).await;
        }
    }
    let done = caller.access(&state.store).act_on_report(id, &action).await;
    if let Err(anju_store::StoreError::Rule(v)) = &done {
        return report_page(&state, &caller, id, Some(v.to_string())).await;
    }
    done.not_found_as(REPORT)?;
    let said = match action {
        ReportAction::Sign => "已签字，数字已冻结",
        ReportAction::Submit => "已报送",
        ReportAction::Accept => "已接收",
        ReportAction::Return { .. } => "已退回",
        ReportAction::AttachScan { .. } => "已上传扫描件",
    };
    Ok(crate::flash::redirect_with(&format!("/reports/{id}"), said))
}

/// Uploads the scanned signed-and-stamped copy of a signed report (PDF or photo).
#[tracing::instrument(skip_all, fields(report = id))]
pub async fn upload_scan(
    Ctx { state, caller }: Ctx,
    Path(id): Path<i64>,
    mut form: axum::extract::Multipart,
) -> PageResult {
    let access = caller.access(&state.store);
    // Scope first: nothing is stored for a report the account cannot see.
    access.report(id).await.not_found_as(REPORT)?;
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
            let b = field
                .bytes()
                .await
                .map_err(|_| PageError::TooLarge("扫描件过大（不超过 15 MB）".into()))?;
            if !b.is_empty() {
                file = Some((name, b.to_vec()));
            }
        }
    }
    let Some((name, bytes)) = file else {
        return Err(PageError::refused("请选择签字盖章后的扫描件（PDF 或照片）"));
    };
    let stored = state
        .store_evidence(bytes)
        .await
        .map_err(PageError::refused)?;
    let name = if name.is_empty() {
        format!("扫描件.{}", stored.media.extension())
    } else {
        name
    };
    access
        .act_on_report(
            id,
            &ReportAction::AttachScan {
                sha256: stored.sha256,
                name,
            },
        )
        .await
        .not_found_as(REPORT)?;
    Ok(crate::flash::redirect_with(
        &format!("/reports/{id}"),
        "已上传扫描件",
    ))
}

/// The scanned copy, to those who may see the report.
#[tracing::instrument(skip_all, fields(report = id))]
pub async fn scan(Ctx { state, caller }: Ctx, Path(id): Path<i64>) -> PageResult {
    let r = caller
        .access(&state.store)
        .report(id)
        .await
        .not_found_as(REPORT)?;
    let (path, media) = r
        .scan_sha256
        .as_deref()
        .and_then(|sha| state.evidence.find(sha))
        .ok_or_else(|| PageError::not_found("该台账尚未上传扫描件"))?;
    let download = (!media.is_image()).then(|| r.scan_name.clone().unwrap_or_default());
    Ok(crate::houses::evidence::file_response(path, media.mime(), download).await)
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    format: String,
}

/// A signed report as printed: the figures frozen at signing (never today's), with the
/// preparer's line and blank spaces for the principal's signature and the unit's seal.
#[tracing::instrument(skip_all, fields(report = id))]
pub async fn download(
    Ctx { state, caller }: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<DownloadQuery>,
) -> PageResult {
    let r = caller
        .access(&state.store)
        .report(id)
        .await
        .not_found_as(REPORT)?;
    let snapshot = r.frozen()?.ok_or_else(|| {
        PageError::Conflict(
            "台账尚未签字，没有冻结的数字；请先签字，或在台账页面下载当前数字".into(),
        )
    })?;
    if !r.digest_holds() {
        return Err(PageError::Conflict(
            "冻结数据与签字时的摘要不符，已拒绝输出，请联系管理员核查".into(),
        ));
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
        &caller,
        snapshot.table,
        header,
        format,
        &format!("report:{id}"),
        detail,
    )
    .await
}
