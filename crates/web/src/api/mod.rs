//! The JSON API under `/api/v1`: the same `Access` gate as the pages, the same session cookie,
//! and the CSRF token as the `X-CSRF-Token` header on every POST. Errors are
//! `{"error": {"code": …, "message": …}}` with the rule code for refusals.

use crate::AppState;
use crate::error::{ApiError, ApiResult, PageError};
use crate::houses::FilterForm;
use crate::session::Caller;
use anju_domain::event::{Change, Command, Evidence};
use anju_domain::ledger::{AsOf, Form};
use anju_domain::{HouseCode, RegionCode};
use anju_store::StoreError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

/// The OpenAPI document (hand-written; a test checks it lists every `/api/v1` route).
pub const OPENAPI: &str = include_str!("../../assets/openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[tracing::instrument(skip_all, fields(account = %caller.session.principal.username))]
pub async fn houses(
    State(state): State<AppState>,
    caller: Caller,
    Query(form): Query<FilterForm>,
) -> ApiResult {
    let (filter, sort, page) = form.parse().map_err(PageError::refused)?;
    let p = caller
        .access(&state.store)
        .houses_page(&filter, sort, page, 50)
        .await?;
    Ok(Json(p).into_response())
}

#[tracing::instrument(skip_all, fields(account = %caller.session.principal.username, house = %code))]
pub async fn house(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult {
    let code = HouseCode::parse(&code).map_err(|_| StoreError::NotFound)?;
    let access = caller.access(&state.store);
    let house = access.house(&code).await?;
    let events = access.house_events(&code).await?;
    let st = &house.state;
    Ok(Json(json!({
        "code": st.code,
        "version": st.version,
        "status": st.status().code(),
        "status_label": st.status().label(),
        "record": st.record,
        "people": house.people,
        "judgement": st.judgement.map(|j| j.code()),
        "grade": st.appraisal.as_ref().map(|a| a.value.code()),
        "events": events,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct StepBody {
    pub expected_version: u32,
    pub effective: NaiveDate,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    pub change: Change,
}

/// Records one lifecycle step; 201 with the event, or the rule that refused it.
#[tracing::instrument(skip_all, fields(account = %caller.session.principal.username, house = %code))]
pub async fn record(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let code = HouseCode::parse(&code).map_err(|_| StoreError::NotFound)?;
    let step: StepBody = serde_json::from_slice(&body)
        .map_err(|e| PageError::refused(format!("请求格式有误：{e}")))?;
    if matches!(
        step.change,
        Change::Registered { .. } | Change::Corrected { .. }
    ) {
        return Err(PageError::refused("登记和更正房屋信息请使用导入或房屋信息表单").into());
    }
    // Evidence must name files that were uploaded (`POST /api/v1/evidence`): a closure cannot
    // rest on photos that do not exist.
    if let Some(e) = step
        .evidence
        .iter()
        .find(|e| state.evidence.find(&e.sha256).is_none())
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "E1",
            format!(
                "证据材料“{}”（{}）未上传，请先通过 /api/v1/evidence 上传文件",
                e.name,
                e.kind.label()
            ),
        ));
    }
    let cmd = Command {
        house: code,
        expected_version: step.expected_version,
        change: step.change,
        effective: step.effective,
        reason: step.reason,
        evidence: step.evidence,
    };
    let event = caller.access(&state.store).execute(&cmd).await?;
    Ok((StatusCode::CREATED, Json(event)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LedgerParams {
    unit: String,
    as_of: String,
}

#[tracing::instrument(skip_all, fields(account = %caller.session.principal.username, ledger = n))]
pub async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    Path(n): Path<u8>,
    Query(q): Query<LedgerParams>,
) -> ApiResult {
    let form = Form::from_number(n).ok_or_else(|| PageError::not_found("台账只有附件1和附件2"))?;
    let unit = Some(q.unit.trim())
        .filter(|u| !u.is_empty())
        .map(|u| RegionCode::parse(u).map_err(|_| PageError::refused("区划代码无效")))
        .transpose()?;
    let as_of = match Some(q.as_of.trim()).filter(|d| !d.is_empty()) {
        None => AsOf::Now,
        Some(d) => AsOf::Happened(
            NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| PageError::refused("日期无效"))?,
        ),
    };
    let t = caller
        .access(&state.store)
        .ledger(form, unit.as_ref(), as_of)
        .await?;
    let header = anju_render::Header {
        preparer: caller.principal().name.clone(),
        contact: String::new(),
        filled_on: String::new(),
    };
    Ok(Json(anju_render::json(&t, &header)).into_response())
}

/// Uploads one evidence file (the request body is the file). Answers its digest, to be named
/// in a step's `evidence`.
#[tracing::instrument(skip_all, fields(account = %caller.session.principal.username))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult {
    let p = caller.principal();
    if !p.may(anju_domain::auth::Action::Record) {
        return Err(PageError::Denied("您的角色不能办理步骤，也不能上传证据材料".into()).into());
    }
    let stored = state
        .store_evidence(body.to_vec())
        .await
        .map_err(PageError::refused)?;
    let entry = anju_store::audit::AuditEntry {
        at: anju_store::now(),
        actor_id: p.username.clone(),
        actor_role: anju_store::codec::role_code(p.role),
        source: caller.source.clone(),
        action: "evidence.upload".into(),
        object: stored.sha256.clone(),
        outcome: "ok".into(),
        reason: None,
        detail: json!({ "media": stored.media.mime(), "bytes": stored.bytes }).to_string(),
    };
    state.store.record_audit(&entry).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sha256": stored.sha256,
            "media": stored.media.mime(),
            "bytes": stored.bytes,
        })),
    )
        .into_response())
}

/// The JSON API under `/api/v1`.
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/houses", get(houses))
        .route("/api/v1/houses/{code}", get(house))
        .route("/api/v1/houses/{code}/events", post(record))
        .route("/api/v1/ledgers/{n}", get(ledger))
        .route(
            "/api/v1/evidence",
            post(upload).layer(axum::extract::DefaultBodyLimit::max(
                anju_evidence::Policy::default().max_bytes + 1024,
            )),
        )
}
