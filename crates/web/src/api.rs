//! The JSON API under `/api/v1`: the same `Access` gate as the pages, the same session cookie,
//! and the CSRF token as the `X-CSRF-Token` header on every POST. Errors are
//! `{"error": {"code": …, "message": …}}` with the rule code for refusals.

use crate::AppState;
use crate::houses::FilterForm;
use crate::session::{LoggedIn, Source};
use anju_domain::event::{Change, Command, Evidence};
use anju_domain::ledger::{AsOf, Form};
use anju_domain::{HouseCode, RegionCode};
use anju_store::StoreError;
use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

/// The OpenAPI document (hand-written; a test checks it lists every `/api/v1` route).
pub const OPENAPI: &str = include_str!("../assets/openapi.json");

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound => error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        StoreError::Denied(m) => error(StatusCode::FORBIDDEN, "denied", m),
        StoreError::Invalid(m) => error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
        StoreError::Rule(v) if v.code == anju_domain::RuleCode::V1 => {
            error(StatusCode::CONFLICT, v.code.as_str(), v.message)
        }
        StoreError::Rule(v) => error(StatusCode::UNPROCESSABLE_ENTITY, v.code.as_str(), v.message),
        e => {
            tracing::error!(error = %e, "api failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "服务器内部错误，请稍后重试",
            )
        }
    }
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn houses(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Query(form): Query<FilterForm>,
) -> Response {
    let (filter, sort, page) = match form.parse() {
        Ok(p) => p,
        Err(m) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
    };
    match state
        .store
        .access(&s.principal, &source.0)
        .houses_page(&filter, sort, page, 50)
        .await
    {
        Ok(p) => Json(p).into_response(),
        Err(e) => store_error(e),
    }
}

pub async fn house(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(code): Path<String>,
) -> Response {
    let Ok(code) = HouseCode::parse(&code) else {
        return store_error(StoreError::NotFound);
    };
    let access = state.store.access(&s.principal, &source.0);
    let house = match access.house(&code).await {
        Ok(h) => h,
        Err(e) => return store_error(e),
    };
    let events = match access.house_events(&code).await {
        Ok(e) => e,
        Err(e) => return store_error(e),
    };
    let st = &house.state;
    Json(json!({
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
    .into_response()
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
pub async fn record(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(code): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(code) = HouseCode::parse(&code) else {
        return store_error(StoreError::NotFound);
    };
    let step: StepBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("请求格式有误：{e}"),
            );
        }
    };
    if matches!(
        step.change,
        Change::Registered { .. } | Change::Corrected { .. }
    ) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "登记和更正房屋信息请使用导入或房屋信息表单",
        );
    }
    // Evidence must name files that were uploaded (`POST /api/v1/evidence`): a closure cannot
    // rest on photos that do not exist.
    if let Some(e) = step
        .evidence
        .iter()
        .find(|e| state.evidence.find(&e.sha256).is_none())
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "E1",
            format!(
                "证据材料“{}”（{}）未上传，请先通过 /api/v1/evidence 上传文件",
                e.name,
                e.kind.label()
            ),
        );
    }
    let cmd = Command {
        house: code,
        expected_version: step.expected_version,
        change: step.change,
        effective: step.effective,
        reason: step.reason,
        evidence: step.evidence,
    };
    match state
        .store
        .access(&s.principal, &source.0)
        .execute(&cmd)
        .await
    {
        Ok(event) => (StatusCode::CREATED, Json(event)).into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LedgerParams {
    unit: String,
    as_of: String,
}

pub async fn ledger(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(n): Path<u8>,
    Query(q): Query<LedgerParams>,
) -> Response {
    let Some(form) = Form::from_number(n) else {
        return error(StatusCode::NOT_FOUND, "not_found", "台账只有附件1和附件2");
    };
    let unit = match Some(q.unit.trim()).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) => match RegionCode::parse(u) {
            Ok(c) => Some(c),
            Err(_) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "区划代码无效"),
        },
    };
    let as_of = match Some(q.as_of.trim()).filter(|d| !d.is_empty()) {
        None => AsOf::Now,
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => AsOf::Happened(d),
            Err(_) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "日期无效"),
        },
    };
    match state
        .store
        .access(&s.principal, &source.0)
        .ledger(form, unit.as_ref(), as_of)
        .await
    {
        Ok(t) => {
            let header = anju_render::Header {
                preparer: s.principal.name.clone(),
                contact: String::new(),
                filled_on: String::new(),
            };
            Json(anju_render::json(&t, &header)).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// Uploads one evidence file (the request body is the file). Answers its digest, to be named
/// in a step's `evidence`.
pub async fn upload(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    body: axum::body::Bytes,
) -> Response {
    if !s.principal.may(anju_domain::auth::Action::Record) {
        return error(
            StatusCode::FORBIDDEN,
            "denied",
            "您的角色不能办理步骤，也不能上传证据材料",
        );
    }
    let stored = match state.store_evidence(body.to_vec()).await {
        Ok(x) => x,
        Err(m) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
    };
    let entry = anju_store::audit::AuditEntry {
        at: anju_store::now(),
        actor_id: s.principal.username.clone(),
        actor_role: anju_store::codec::role_code(s.principal.role),
        source: source.0.clone(),
        action: "evidence.upload".into(),
        object: stored.sha256.clone(),
        outcome: "ok".into(),
        reason: None,
        detail: json!({ "media": stored.media.mime(), "bytes": stored.bytes }).to_string(),
    };
    if let Err(e) = state.store.record_audit(&entry).await {
        return store_error(e);
    }
    (
        StatusCode::CREATED,
        Json(json!({
            "sha256": stored.sha256,
            "media": stored.media.mime(),
            "bytes": stored.bytes,
        })),
    )
        .into_response()
}
