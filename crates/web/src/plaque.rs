//! 一房一码: the house page's QR code, and the public page it opens. The QR encodes
//! `{public URL}/q/{plaque token}`; the public page shows only the house's code, town and
//! village, its current safety status and the office to contact — no personal data. A
//! logged-in account that may read the house is sent to the full page instead.

use crate::AppState;
use crate::pages::render;
use crate::session::{LoggedIn, Source, page_error};
use anju_domain::HouseCode;
use anju_domain::state::Status;
use anju_store::Session;
use askama::Template;
use axum::Extension;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The address the QR code points at.
fn public_url(state: &AppState, headers: &HeaderMap, token: &str) -> String {
    let base = match &state.options.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".:-[]".contains(&b))
                })
                .unwrap_or("127.0.0.1");
            let scheme = if state.options.secure_cookies {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        }
    };
    format!("{base}/q/{token}")
}

/// The house's QR code as SVG (in scope only).
pub async fn qr(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    LoggedIn(s): LoggedIn,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(code) = HouseCode::parse(&code) else {
        return (StatusCode::NOT_FOUND, "该房屋不存在或不在您的辖区内").into_response();
    };
    let house = match state
        .store
        .access(&s.principal, &source.0)
        .house(&code)
        .await
    {
        Ok(h) => h,
        Err(e) => return page_error(e, "该房屋不存在或不在您的辖区内"),
    };
    let url = public_url(&state, &headers, &house.plaque_token);
    let Ok(qr) = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
    else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "二维码生成失败").into_response();
    };
    let svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build();
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "plaque.html")]
struct PlaquePage {
    chrome: Option<crate::pages::Chrome>,
    demo: bool,
    code: String,
    place: String,
    status: String,
    safety: String,
    office: String,
}

/// The public page behind a plaque.
pub async fn public(
    State(state): State<AppState>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let house = match state.store.plaque(&token).await {
        Ok(Some(h)) => h,
        Ok(None) => return (StatusCode::NOT_FOUND, "未找到该二维码对应的房屋").into_response(),
        Err(e) => return page_error(e, "未找到该二维码对应的房屋"),
    };
    // A logged-in account that may read the house gets the full page.
    if let (Some(s), Some(src)) = (
        req.extensions().get::<Session>(),
        req.extensions().get::<Source>(),
    ) && let Ok(code) = HouseCode::parse(&house.code)
        && !s.must_change_password
        && state
            .store
            .access(&s.principal, &src.0)
            .house(&code)
            .await
            .is_ok()
    {
        return Redirect::to(&format!("/houses/{}", house.code)).into_response();
    }
    let reference = state.store.reference();
    let name = |c: &str| {
        reference
            .regions
            .iter()
            .find(|r| r.code.as_str() == c)
            .map_or_else(String::new, |r| r.name.clone())
    };
    let status = Status::from_code(&house.status);
    let safety = match (house.grade.as_deref(), house.judgement.as_deref(), status) {
        (_, _, Some(Status::Closed)) => "隐患已整治销号".to_string(),
        (Some(g), _, _) => format!("经安全鉴定为 {g} 级"),
        (None, Some(j), _) => anju_domain::dict::Judgement::from_label(j)
            .map_or_else(|| j.to_string(), |j| format!("排查初判：{}", j.label())),
        _ => "尚未排查".to_string(),
    };
    let page = PlaquePage {
        chrome: None,
        demo: state.is_demo().await,
        code: house.code.clone(),
        place: format!("{} {}", name(&house.town_code), name(&house.village_code)),
        status: status.map_or_else(|| house.status.clone(), |s| s.label().to_string()),
        safety,
        office: format!("{}人民政府（街道办事处）", name(&house.town_code)),
    };
    render(&page, StatusCode::OK)
}
