//! 台账 附件1 / 附件2 on the web: the table as printed (the same multi-row header as the xlsx
//! and PDF), every figure a link to the houses it counts, downloads in xlsx, CSV and PDF.

pub mod reports;

use crate::AppState;
use crate::error::{NotFoundAs, PageError, PageResult};
use crate::pages::{Frame, render_page};
use crate::session::{Caller, Ctx};
use anju_domain::Coded;
use anju_domain::RegionCode;
use anju_domain::ledger::{AsOf, CellSource, Form, LedgerTable};

use anju_render::Header;
use anju_store::access::Access;
use askama::Template;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LedgerQuery {
    /// The town (or county) the ledger is for; default: the account's whole scope.
    pub unit: String,
    /// What had happened by this date; default: today.
    pub as_of: String,
    pub column: String,
    pub group: String,
    pub format: String,
    /// The drill-down's page and page size.
    pub page: String,
    pub size: String,
}

struct Parsed {
    form: Form,
    unit: Option<RegionCode>,
    as_of: AsOf,
    day: Option<NaiveDate>,
}

fn parse(n: &str, q: &LedgerQuery) -> Result<Parsed, String> {
    let form = n
        .parse::<u8>()
        .ok()
        .and_then(Form::from_number)
        .ok_or("台账只有附件1和附件2")?;
    let unit = Some(q.unit.trim())
        .filter(|s| !s.is_empty())
        .map(|u| RegionCode::parse(u).map_err(|_| format!("区划代码无效：{u}")))
        .transpose()?;
    let day = Some(q.as_of.trim())
        .filter(|s| !s.is_empty())
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| format!("日期无效：{d}")))
        .transpose()?;
    Ok(Parsed {
        form,
        unit,
        as_of: day.map_or(AsOf::Now, AsOf::Happened),
        day,
    })
}

/// A ledger asked for: the form named in the path (`/ledgers/{n}…`) and the query, read.
pub struct Asked {
    q: LedgerQuery,
    p: Parsed,
}

impl FromRequestParts<AppState> for Asked {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Path(n) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(q) = Query::<LedgerQuery>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let p = parse(&n, &q).map_err(|e| PageError::refused(e).into_response())?;
        Ok(Asked { q, p })
    }
}

fn query_string(
    form: Form,
    unit: Option<&RegionCode>,
    day: Option<NaiveDate>,
    extra: &[(&str, String)],
) -> String {
    let mut pairs: Vec<(&str, String)> = vec![];
    if let Some(u) = unit {
        pairs.push(("unit", u.to_string()));
    }
    if let Some(d) = day {
        pairs.push(("as_of", d.to_string()));
    }
    pairs.extend(extra.iter().cloned());
    let _ = form;
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

pub struct HeadCell {
    pub text: &'static str,
    pub rowspan: u32,
    pub colspan: u16,
}

pub struct BodyCell {
    pub text: String,
    pub link: Option<String>,
}

pub struct BodyRow {
    pub name: String,
    pub link: Option<String>,
    pub cells: Vec<BodyCell>,
    pub total: bool,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    frame: Frame,
    number: u8,
    title: String,
    unit_name: String,
    as_of: String,
    unit: String,
    head: Vec<Vec<HeadCell>>,
    rows: Vec<BodyRow>,
    checks: Vec<String>,
    downloads: String,
}

/// What a 404 from the ledger queries names.
const REGION: &str = "该区划不存在或不在您的辖区内";

async fn table(access: &Access<'_>, p: &Parsed) -> PageResult<LedgerTable> {
    access
        .ledger(p.form, p.unit.as_ref(), p.as_of)
        .await
        .not_found_as(REGION)
}

pub async fn show(Ctx { state, caller }: Ctx, Asked { p, .. }: Asked) -> PageResult {
    let t = table(&caller.access(&state.store), &p).await?;
    let (cells, header_rows) = anju_render::header_cells(&t);
    let mut head: Vec<Vec<HeadCell>> = (0..header_rows).map(|_| vec![]).collect();
    for c in cells {
        head[c.row as usize].push(HeadCell {
            text: c.text,
            rowspan: c.rowspan,
            colspan: c.colspan,
        });
    }
    // A town row links to that town's own ledger; a village row has no finer ledger.
    let town_level = t.rows.iter().all(|r| {
        RegionCode::parse(&r.code).is_ok_and(|c| c.level() == anju_domain::RegionLevel::Town)
    });
    let row = |r: &anju_domain::ledger::LedgerRow, total: bool| {
        BodyRow {
        name: r.name.clone(),
        link: (!total && town_level)
            .then(|| format!("/ledgers/{}?{}", p.form.number(), query_string(p.form, RegionCode::parse(&r.code).ok().as_ref(), p.day, &[]))),
        cells: r
            .cells(p.form)
            .into_iter()
            .map(|(cell, src)| BodyCell {
                text: cell.display(),
                link: match src {
                    CellSource::Count(i) if matches!(cell, anju_domain::ledger::Cell::Count(n) if n > 0) => {
                        let mut extra = vec![("column", i.to_string())];
                        if !total {
                            extra.push(("group", r.code.clone()));
                        }
                        Some(format!("/ledgers/{}/houses?{}", p.form.number(), query_string(p.form, p.unit.as_ref(), p.day, &extra)))
                    }
                    _ => None,
                },
            })
            .collect(),
        total,
    }
    };
    let mut rows: Vec<BodyRow> = t.rows.iter().map(|r| row(r, false)).collect();
    rows.push(row(&t.total, true));
    let page = LedgerPage {
        frame: Frame::of(&state, &caller.session).await,
        number: p.form.number(),
        title: anju_render::title(&t),
        unit_name: t.unit.clone(),
        as_of: p.day.map_or_else(
            || format!("{}（今日）", state.store.today()),
            |d| d.to_string(),
        ),
        unit: p.unit.map(|u| u.to_string()).unwrap_or_default(),
        head,
        rows,
        checks: t
            .checks
            .iter()
            .map(|c| format!("{}：{}", c.row, c.check))
            .collect(),
        downloads: query_string(p.form, p.unit.as_ref(), p.day, &[]),
    };
    Ok(render_page(&page))
}

pub struct HouseRow {
    pub code: String,
    pub address: String,
    pub village: String,
    pub status: String,
    /// Who confirmed a closure taken over from an imported ledger.
    pub imported_closure: Option<String>,
}

#[derive(Template)]
#[template(path = "ledger_houses.html")]
struct HousesPage {
    frame: Frame,
    number: u8,
    heading: String,
    back: String,
    rows: Vec<HouseRow>,
    pager: crate::pages::Pager,
    /// Houses in scope whose imported closures or acceptances wait for confirmation.
    held: i64,
}

/// The houses behind one figure (same scope, same date).
pub async fn houses(Ctx { state, caller }: Ctx, Asked { q, p }: Asked) -> PageResult {
    let column = q
        .column
        .parse::<usize>()
        .map_err(|_| PageError::refused("栏目无效"))?;
    let group = Some(q.group.trim())
        .filter(|g| !g.is_empty())
        .map(|g| RegionCode::parse(g).map_err(|_| PageError::refused("区划代码无效")))
        .transpose()?;
    let size = crate::pages::page_size(&q.size, 50);
    let number = crate::pages::page_number(&q.page);
    let (total, list) = caller
        .access(&state.store)
        .ledger_houses_page(
            p.form,
            p.unit.as_ref(),
            p.as_of,
            column,
            group.as_ref(),
            (number, size),
        )
        .await
        .not_found_as(REGION)?;
    let params = [
        ("unit", p.unit.map(|u| u.to_string()).unwrap_or_default()),
        ("as_of", p.day.map(|d| d.to_string()).unwrap_or_default()),
        ("column", column.to_string()),
        ("group", group.map(|g| g.to_string()).unwrap_or_default()),
    ];
    let pager = crate::pages::Pager::new(
        &format!("/ledgers/{}/houses", p.form.number()),
        &params,
        total,
        number,
        size,
    );
    let reference = state.store.reference();
    let name = |code: &str| reference.region_name(code);
    let heading = format!(
        "{}：{}",
        group.map_or_else(|| "合计".to_string(), |g| name(g.as_str())),
        p.form
            .headings()
            .get(column_heading_index(p.form, column))
            .copied()
            .unwrap_or("")
    );
    let rows = list
        .into_iter()
        .map(|h| HouseRow {
            village: name(&h.village_code),
            status: anju_domain::state::Status::from_code(&h.status)
                .map_or(h.status.clone(), |s| s.label().to_string()),
            code: h.code,
            address: h.address,
            imported_closure: h.imported_closure,
        })
        .collect();
    let held = caller.access(&state.store).held_back_count().await?;
    let page = HousesPage {
        frame: Frame::of(&state, &caller.session).await,
        number: p.form.number(),
        heading,
        back: format!(
            "/ledgers/{}?{}",
            p.form.number(),
            query_string(p.form, p.unit.as_ref(), p.day, &[])
        ),
        rows,
        pager,
        held,
    };
    Ok(render_page(&page))
}

/// The heading of counted column `i` (rates sit between counts in the printed order).
fn column_heading_index(form: Form, i: usize) -> usize {
    let empty = anju_domain::ledger::LedgerRow::empty("", "", form);
    empty
        .cells(form)
        .iter()
        .position(|(_, src)| matches!(src, CellSource::Count(j) if *j == i))
        .unwrap_or(0)
}

/// xlsx, CSV or PDF of the ledger as shown; audited.
pub async fn download(Ctx { state, caller }: Ctx, Asked { q, p }: Asked) -> PageResult {
    let t = table(&caller.access(&state.store), &p).await?;
    let header = Header {
        preparer: caller.principal().name.clone(),
        contact: String::new(),
        filled_on: p.day.unwrap_or_else(|| state.store.today()).to_string(),
    };
    let detail = serde_json::json!({ "form": p.form.number(), "format": q.format, "as_of": p.day });
    let object = p
        .unit
        .map_or_else(|| "scope".to_string(), |u| u.to_string());
    send_ledger(&state, &caller, t, header, &q.format, &object, detail).await
}

/// Renders a ledger table as xlsx, CSV or PDF and answers it as a download; the export is
/// audited (`ledger.export`, with `object` and `detail`) before anything is sent.
pub(crate) async fn send_ledger(
    state: &AppState,
    caller: &Caller,
    t: LedgerTable,
    header: Header,
    format: &str,
    object: &str,
    detail: serde_json::Value,
) -> PageResult {
    let (bytes, mime, ext) = match format {
        "xlsx" => (
            anju_render::xlsx(&t, &header).map_err(|e| PageError::internal("ledger xlsx", e))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        "csv" => (anju_render::csv(&t), "text/csv; charset=utf-8", "csv"),
        // The typesetter says why it cannot (no fonts, busy) in words.
        "pdf" => (
            state.pdf(t.clone(), header).await.map_err(|e| {
                PageError::from((StatusCode::SERVICE_UNAVAILABLE, e).into_response())
            })?,
            "application/pdf",
            "pdf",
        ),
        other => {
            return Err(PageError::refused(format!(
                "不支持的格式“{other}”：可选 xlsx、csv、pdf"
            )));
        }
    };
    let number = t.form.number();
    let file = Download {
        action: "ledger.export",
        object,
        detail,
        mime,
        ascii_name: format!("ledger{number}.{ext}"),
        name: format!("附件{number}-{}.{ext}", t.unit),
    };
    send_file(state, caller, file, bytes).await
}

/// A file to answer as a download, and what the audit trail says of it.
pub(crate) struct Download<'a> {
    pub action: &'a str,
    pub object: &'a str,
    pub detail: serde_json::Value,
    pub mime: &'a str,
    /// The file name for old browsers (ASCII).
    pub ascii_name: String,
    /// The file name (Chinese allowed).
    pub name: String,
}

/// Audits an export, then answers it as a download; nothing is sent if the audit fails (a
/// server error).
pub(crate) async fn send_file(
    state: &AppState,
    caller: &Caller,
    file: Download<'_>,
    bytes: Vec<u8>,
) -> PageResult {
    let (s, source) = (&caller.session, &caller.source);
    let entry = anju_store::infra::audit::AuditEntry {
        at: state.store.now(),
        actor_id: s.principal.username.clone(),
        actor_role: anju_store::infra::codec::role_code(s.principal.role),
        source: source.to_string(),
        action: file.action.into(),
        object: file.object.to_string(),
        outcome: anju_store::infra::audit::Outcome::Ok,
        reason: None,
        detail: file.detail.to_string(),
    };
    state.store.record_audit(&entry).await?;
    Ok(attachment(file.mime, &file.ascii_name, &file.name, bytes))
}

/// A download: `ascii_name` for old browsers, `name` (Chinese allowed) for the others.
pub(crate) fn attachment(mime: &str, ascii_name: &str, name: &str, bytes: Vec<u8>) -> Response {
    let disposition = format!(
        "attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{}",
        crate::flash::percent_encode(name, b"-._")
    );
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// The two ledgers, their drill-down and downloads, and signed reports (签字报送).
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route("/ledgers/{n}", get(show))
        .route("/ledgers/{n}/houses", get(houses))
        .route("/ledgers/{n}/download", get(download))
        .route("/reports", get(reports::list).post(reports::prepare))
        .route("/reports/{id}", get(reports::show))
        .route("/reports/{id}/act", post(reports::act))
        .route("/reports/{id}/download", get(reports::download))
        .route(
            "/reports/{id}/scan",
            get(reports::scan).post(reports::upload_scan).layer(
                axum::extract::DefaultBodyLimit::max(
                    anju_evidence::Policy::default().max_bytes + 64 * 1024,
                ),
            ),
        )
}
