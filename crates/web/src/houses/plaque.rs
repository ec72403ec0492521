//! 一房一码: the house page's QR code, and the public page it opens. The QR encodes
//! `{public URL}/q/{plaque token}`; the public page shows only the house's code, town and
//! village, its current safety status and the office to contact — no personal data. A
//! logged-in account that may read the house is sent to the full page instead.

use crate::AppState;
use crate::error::{NotFoundAs, PageError, PageResult};
use crate::houses::house_code;
use crate::pages::{Frame, render};
use crate::session::{Caller, Ctx, Source};
use anju_domain::Coded;
use anju_domain::HouseCode;
use anju_domain::state::Status;
use anju_store::Session;
use askama::Template;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};

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

/// A QR code of `url` as SVG.
fn qr_svg(url: &str) -> Option<String> {
    let qr =
        qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        qr.render::<qrcode::render::svg::Color>()
            .min_dimensions(160, 160)
            .quiet_zone(true)
            .build(),
    )
}

/// A QR code that could not be made (the URL too long for one): said in words.
fn qr_failed() -> PageError {
    PageError::from((StatusCode::INTERNAL_SERVER_ERROR, "二维码生成失败").into_response())
}

/// The typesetter says why it cannot (no fonts, busy) in words.
fn typeset_failed(e: String) -> PageError {
    PageError::from((StatusCode::SERVICE_UNAVAILABLE, e).into_response())
}

/// The house's QR code as SVG (in scope only).
#[tracing::instrument(skip_all, fields(house = %code))]
pub async fn qr(
    Ctx { state, caller }: Ctx,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> PageResult {
    let code = house_code(&code)?;
    let house = caller.access(&state.store).house(&code).await?;
    let url = public_url(&state, &headers, &house.plaque_token);
    let svg = qr_svg(&url).ok_or_else(qr_failed)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "plaque.html")]
struct PlaquePage {
    frame: Frame,
    code: String,
    place: String,
    status: String,
    safety: String,
    office: String,
}

/// The public page behind a plaque.
#[tracing::instrument(skip_all, fields(house = tracing::field::Empty))]
pub async fn public(
    State(state): State<AppState>,
    Path(token): Path<String>,
    req: Request,
) -> PageResult {
    const UNKNOWN: &str = "未找到该二维码对应的房屋";
    let house = state
        .store
        .plaque(&token)
        .await
        .not_found_as(UNKNOWN)?
        .ok_or_else(|| PageError::not_found(UNKNOWN))?;
    tracing::Span::current().record("house", house.code.as_str());
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
        return Ok(Redirect::to(&format!("/houses/{}", house.code)).into_response());
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
        (None, Some(j), _) => anju_domain::dict::Judgement::parse(j)
            .map_or_else(|| j.to_string(), |j| format!("排查初判：{}", j.label())),
        _ => "尚未排查".to_string(),
    };
    let page = PlaquePage {
        frame: Frame::bare(&state).await,
        code: house.code.clone(),
        place: format!("{} {}", name(&house.town_code), name(&house.village_code)),
        status: status.map_or_else(|| house.status.clone(), |s| s.label().to_string()),
        safety,
        office: format!("{}人民政府（街道办事处）", name(&house.town_code)),
    };
    Ok(render(&page, StatusCode::OK))
}

fn region_name(state: &AppState, code: &str) -> String {
    crate::problems::town_name(state, code)
}

/// The plaques of one village as a printable PDF sheet (eight to a page), for the houses of
/// the village the account reads.
#[tracing::instrument(skip_all, fields(village = %village))]
pub async fn village_plaques(
    Ctx { state, caller }: Ctx,
    Path(village): Path<String>,
    headers: HeaderMap,
) -> PageResult {
    const UNKNOWN: &str = "该村（社区）不存在或不在您的辖区内";
    let village = anju_domain::RegionCode::parse(&village)
        .ok()
        .filter(|v| v.level() == anju_domain::RegionLevel::Village)
        .ok_or_else(|| PageError::not_found(UNKNOWN))?;
    let access = caller.access(&state.store);
    let filter = anju_store::houses::list::HouseFilter {
        village: Some(village),
        ..Default::default()
    };
    let states = access
        .house_states(&filter, 5_000)
        .await
        .not_found_as(UNKNOWN)?;
    if states.is_empty() {
        return Err(PageError::not_found(UNKNOWN));
    }
    let mut plaques = Vec::with_capacity(states.len());
    for st in &states {
        let house = access.house(&st.code).await?;
        let qr =
            qr_svg(&public_url(&state, &headers, &house.plaque_token)).ok_or_else(qr_failed)?;
        plaques.push(anju_pdf::Plaque {
            code: st.code.to_string(),
            address: st
                .record
                .as_ref()
                .map(|r| r.address.clone())
                .unwrap_or_default(),
            qr,
        });
    }
    let town = region_name(&state, village.town().as_str());
    let name = region_name(&state, village.as_str());
    let sheet = anju_pdf::PlaqueSheet {
        title: format!("{town} {name} 自建房二维码标牌"),
        contact: format!("{town}自建房安全专项整治办公室"),
        plaques,
    };
    let file = crate::ledgers::Download {
        action: "plaques.print",
        object: village.as_str(),
        detail: serde_json::json!({ "houses": sheet.plaques.len() }),
        mime: "application/pdf",
        ascii_name: format!("plaques-{village}.pdf"),
        name: format!("{name}二维码标牌.pdf"),
    };
    send_pdf(&state, &caller, file, move |f| anju_pdf::plaques(f, &sheet)).await
}

/// Typesets a PDF (503 when the typesetter cannot) and sends it as `file`, audited.
async fn send_pdf(
    state: &AppState,
    caller: &Caller,
    file: crate::ledgers::Download<'_>,
    make: impl FnOnce(&anju_pdf::Fonts) -> Result<Vec<u8>, anju_pdf::PdfError> + Send + 'static,
) -> PageResult {
    let bytes = state.typeset(make).await.map_err(typeset_failed)?;
    crate::ledgers::send_file(state, caller, file, bytes).await
}

/// 房屋安全隐患告知书 for a C/D or obviously unsafe house, to print and serve; the service is
/// then recorded as the 告知 step with the signed receipt.
#[tracing::instrument(skip_all, fields(house = %code))]
pub async fn owner_notice(Ctx { state, caller }: Ctx, Path(code): Path<String>) -> PageResult {
    let code = house_code(&code)?;
    let house = caller.access(&state.store).house(&code).await?;
    let st = &house.state;
    if !st.must_notify() {
        return Err(PageError::Conflict(
            "只有鉴定为C、D级或初判存在严重安全隐患的房屋才出具房屋安全隐患告知书".into(),
        ));
    }
    let Some(record) = &st.record else {
        return Err(PageError::Conflict("该房屋尚未登记".into()));
    };
    use anju_domain::dict::Grade;
    let (finding_by, finding, demands): (&str, String, Vec<&str>) = match st.appraisal.as_ref() {
        Some(a) if a.value == Grade::D => (
            "和安全鉴定",
            format!("经安全鉴定为D级（整幢危房，{}）", a.on),
            vec![
                "立即停止使用该房屋，撤离全部人员，设置警示标志和围挡，严禁人员进入",
                "委托有资质的单位实施拆除或拆除重建，不得擅自加固后继续使用",
                "整治完成前不得用于经营、出租或居住",
            ],
        ),
        Some(a) => (
            "和安全鉴定",
            format!("经安全鉴定为C级（局部危房，{}）", a.on),
            vec![
                "立即停止使用存在危险的部位，必要时撤离人员并设置警示标志",
                "委托有资质的单位进行维修加固，加固完成后经专业技术人员验收",
                "整治完成前不得用于经营或出租",
            ],
        ),
        None => (
            "初判",
            "存在严重安全隐患，明显不能保证使用安全".to_string(),
            vec![
                "立即停止使用该房屋，撤离人员，设置警示标志和围挡",
                "尽快委托有资质的鉴定机构进行安全鉴定，并按鉴定结论采取工程措施",
            ],
        ),
    };
    let today = state.store.today();
    let deadline = today + chrono::Duration::days(15);
    let town = region_name(&state, record.town.as_str());
    let office = format!("{town}自建房安全专项整治办公室");
    let notice = anju_pdf::OwnerNotice {
        title: "房屋安全隐患告知书".into(),
        number: format!("{town}〔{}〕{code} 号", today.format("%Y")),
        owner: house
            .people
            .as_ref()
            .map(|p| p.owner_name.clone())
            .unwrap_or_else(|| "房屋所有权人".into()),
        code: code.to_string(),
        address: record.address.clone(),
        finding_by: finding_by.into(),
        finding,
        demands: demands.into_iter().map(String::from).collect(),
        deadline: deadline.format("%Y年%-m月%-d日").to_string(),
        office: office.clone(),
        contact: office,
        date: today.format("%Y年%-m月%-d日").to_string(),
    };
    let file = crate::ledgers::Download {
        action: "house.owner_notice",
        object: code.as_str(),
        detail: serde_json::json!({}),
        mime: "application/pdf",
        ascii_name: format!("notice-{code}.pdf"),
        name: format!("房屋安全隐患告知书-{code}.pdf"),
    };
    send_pdf(&state, &caller, file, move |f| {
        anju_pdf::owner_notice(f, &notice)
    })
    .await
}
