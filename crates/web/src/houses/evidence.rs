//! Serving evidence files. A file is served only under a house the account may read whose
//! history references it (`Access::house_events`, the one scoped path to houses); the same file
//! under another house, or a house out of scope, answers like a missing one. Photos are served
//! inline, PDFs only as downloads, both with a sandboxing CSP.

use crate::AppState;
use crate::error::{NotFoundAs, PageError, PageResult};
use crate::session::{Caller, Ctx, LoggedIn};
use anju_domain::Coded;
use anju_domain::HouseCode;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const MISSING: &str = "该材料不存在或不在您的辖区内";

pub(crate) async fn file_response(
    path: std::path::PathBuf,
    mime: &'static str,
    download: Option<String>,
) -> Response {
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return (StatusCode::NOT_FOUND, MISSING).into_response();
    };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    // Private to the browser that fetched it (it may show a person's house or signature).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if let Some(name) = download {
        let encoded = crate::flash::percent_encode(&name, b"-_.");
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"evidence.pdf\"; filename*=UTF-8''{encoded}"
        )) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    res
}

async fn serve(
    state: &AppState,
    caller: &Caller,
    code: &str,
    sha: &str,
    thumb: bool,
) -> PageResult {
    let missing = || PageError::not_found(MISSING);
    let code = HouseCode::parse(code).map_err(|_| missing())?;
    let events = caller
        .access(&state.store)
        .house_events(&code)
        .await
        .not_found_as(MISSING)?;
    let ev = events
        .iter()
        .flat_map(|e| e.evidence.iter())
        // A ledger file holds every house of its batch: never served under one house.
        .find(|x| x.sha256 == sha && x.kind != anju_domain::event::EvidenceKind::LedgerRecord)
        .ok_or_else(missing)?;
    let (path, media) = state
        .evidence
        .find(sha)
        .ok_or_else(|| PageError::not_found("该材料的文件未入库（可能是导入的历史记录）"))?;
    if thumb {
        let t = state.evidence.thumbnail(sha).ok_or_else(missing)?;
        return Ok(file_response(t, "image/jpeg", None).await);
    }
    let download = (!media.is_image()).then(|| ev.name.clone());
    Ok(file_response(path, media.mime(), download).await)
}

/// A house's evidence file, or with `THUMB` its thumbnail (the two routes differ in nothing else).
#[tracing::instrument(skip_all, fields(house = %code, sha256 = %sha, thumb = THUMB))]
pub async fn file<const THUMB: bool>(
    Ctx { state, caller }: Ctx,
    Path((code, sha)): Path<(String, String)>,
) -> PageResult {
    serve(&state, &caller, &code, &sha, THUMB).await
}

/// The thumbnail of a photo this session uploaded with a form that was refused and is being
/// filled in again (not yet part of any house's history).
#[tracing::instrument(skip_all, fields(sha256 = %sha))]
pub async fn pending(
    State(state): State<AppState>,
    LoggedIn(s): LoggedIn,
    Path((sha, tag)): Path<(String, String)>,
) -> PageResult {
    let owned = anju_domain::event::EvidenceKind::ALL
        .iter()
        .any(|k| crate::houses::steps::kept_tag(&s.csrf, *k, &sha) == tag);
    match state.evidence.thumbnail(&sha) {
        Some(t) if owned => Ok(file_response(t, "image/jpeg", None).await),
        _ => Err(PageError::not_found(MISSING)),
    }
}
