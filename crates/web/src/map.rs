//! 地图: the houses in the caller's scope on a map (Leaflet, vendored), with the list's
//! filters. The page carries its settings in data attributes; `assets/map.js` asks
//! `/map/data` for what a view shows — cells counted on the server at county and town scale,
//! the houses themselves zoomed in — and opens a house on a click. The base map is the tile
//! server the county office set in 设置, whose origin (only on these pages) the CSP lets
//! images come from; without one, the towns' and villages' places are drawn instead.

use crate::AppState;
use crate::error::{PageError, PageResult};
use crate::houses::{FilterChoices, FilterForm};
use crate::pages::Frame;
use crate::session::{Caller, Ctx};
use anju_domain::Coded;
use anju_domain::dict::Grade;
use anju_domain::state::Status;
use anju_domain::{RegionCode, RegionLevel};
use anju_store::StoreError;
use anju_store::houses::map::{Bbox, Tiles};
use askama::Template;
use axum::extract::Query;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The colours of each status and grade (the legend's, `map.css`, and the markers', `map.js`,
/// by class name and by this table sent with the page).
pub const STATUS_COLOURS: &[(&str, &str)] = &[
    ("awaiting_survey", "#8c8c8c"),
    ("no_hazard", "#2e7d32"),
    ("awaiting_assessment", "#f9a825"),
    ("awaiting_rectification", "#c62828"),
    ("rectifying", "#ef6c00"),
    ("awaiting_closure", "#1565c0"),
    ("closed", "#00838f"),
    ("awaiting_look_back", "#6a1b9a"),
];

pub const GRADE_COLOURS: &[(&str, &str)] = &[
    ("a", "#2e7d32"),
    ("b", "#9e9d24"),
    ("c", "#ef6c00"),
    ("d", "#c62828"),
    ("none", "#8c8c8c"),
];

/// The CSP of a page showing the map: the application's, with the tile server's origin as a
/// source of images (nothing else is loosened).
pub(crate) fn csp_with_tiles(tiles: Option<&Tiles>) -> Option<HeaderValue> {
    let origin = tiles?.origin();
    HeaderValue::from_str(&crate::CSP.replacen(
        "img-src 'self' data: blob:",
        &format!("img-src 'self' data: blob: {origin}"),
        1,
    ))
    .ok()
}

/// A response with the map's CSP when a tile server is set.
pub(crate) fn with_tiles_csp(mut res: Response, tiles: Option<&Tiles>) -> Response {
    if let Some(v) = csp_with_tiles(tiles) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// A town's or village's place on the fallback layer.
#[derive(Debug, Serialize)]
struct PlaceOut {
    name: String,
    lon: f64,
    lat: f64,
    n: i64,
    town: bool,
}

/// What `map.js` needs to draw a map: the base layer, the places, where to look first.
#[derive(Debug, Serialize)]
pub(crate) struct MapConfig {
    tiles: Option<String>,
    attribution: String,
    /// [[south, west], [north, east]] of the places in view, if any.
    bounds: Option<[[f64; 2]; 2]>,
    places: Vec<PlaceOut>,
    status: Vec<(&'static str, &'static str, &'static str)>,
    grade: Vec<(&'static str, &'static str, &'static str)>,
}

/// The map's configuration for the caller: tiles, and the places within scope (narrowed to a
/// town when the filter names one).
pub(crate) async fn config(
    state: &AppState,
    caller: &Caller,
    town: Option<RegionCode>,
) -> Result<(MapConfig, Option<Tiles>), StoreError> {
    let tiles = state.store.map_tiles().await?;
    let places = caller.access(&state.store).map_places().await?;
    let reference = state.store.reference();
    let name = |code: &str| reference.region_name(code);
    let places: Vec<PlaceOut> = places
        .iter()
        .filter(|p| town.is_none_or(|t| p.code.starts_with(t.prefix())))
        .map(|p| PlaceOut {
            name: name(&p.code),
            lon: p.lon,
            lat: p.lat,
            n: p.n,
            town: RegionCode::parse(&p.code).is_ok_and(|c| c.level() == RegionLevel::Town),
        })
        .collect();
    let bounds = places.iter().fold(None, |b: Option<[[f64; 2]; 2]>, p| {
        let [[s, w], [n, e]] = b.unwrap_or([[p.lat, p.lon], [p.lat, p.lon]]);
        Some([[s.min(p.lat), w.min(p.lon)], [n.max(p.lat), e.max(p.lon)]])
    });
    let label = |code: &str| -> &'static str {
        Status::from_code(code)
            .map(Status::label)
            .or_else(|| Grade::parse(code).map(Grade::label))
            .unwrap_or("未鉴定")
    };
    Ok((
        MapConfig {
            tiles: tiles.as_ref().map(|t| t.url.clone()),
            attribution: tiles
                .as_ref()
                .map(|t| t.attribution.clone())
                .unwrap_or_default(),
            bounds,
            places,
            status: STATUS_COLOURS
                .iter()
                .map(|(c, col)| (*c, label(c), *col))
                .collect(),
            grade: GRADE_COLOURS
                .iter()
                .map(|(c, col)| (*c, label(c), *col))
                .collect(),
        },
        tiles,
    ))
}

#[derive(Template)]
#[template(path = "map.html")]
struct MapPage {
    frame: Frame,
    f: FilterForm,
    /// `by=grade` colours by grade, else by status.
    by_grade: bool,
    query: String,
    error: Option<String>,
    config: String,
    has_tiles: bool,
    may_configure: bool,
    choices: FilterChoices,
    status_legend: Vec<(&'static str, &'static str)>,
    grade_legend: Vec<(&'static str, &'static str)>,
}

/// The map page's query: the list's filter and how to colour.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MapForm {
    #[serde(flatten)]
    pub f: FilterForm,
    pub by: String,
}

pub async fn page(Ctx { state, caller }: Ctx, Query(form): Query<MapForm>) -> PageResult {
    let s = &caller.session;
    if !s.principal.may(anju_domain::auth::Action::ReadHouses) {
        return Err(PageError::Denied("您的角色不能查看房屋".into()));
    }
    let parsed = form.f.parse();
    let town = parsed.as_ref().ok().and_then(|(f, _, _)| f.town);
    let (config, tiles) = config(&state, &caller, town).await?;
    let reference = state.store.reference();
    let choices = FilterChoices::new(&reference, s.principal.region, town);
    let mut query: Vec<(&str, String)> = [
        ("q", &form.f.q),
        ("town", &form.f.town),
        ("village", &form.f.village),
        ("business", &form.f.business),
        ("department", &form.f.department),
        ("status", &form.f.status),
        ("judgement", &form.f.judgement),
        ("grade", &form.f.grade),
        ("overdue", &form.f.overdue),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k, v.clone()))
    .collect();
    let by_grade = form.by == "grade";
    if by_grade {
        query.push(("by", "grade".into()));
    }
    let page = MapPage {
        frame: Frame::of(&state, s).await,
        by_grade,
        query: serde_urlencoded::to_string(&query).unwrap_or_default(),
        error: parsed.err(),
        config: serde_json::to_string(&config).expect("serializes"),
        has_tiles: tiles.is_some(),
        may_configure: s.principal.may(anju_domain::auth::Action::ManageSettings),
        choices,
        status_legend: Status::ALL.iter().map(|x| (x.code(), x.label())).collect(),
        grade_legend: Grade::ALL
            .iter()
            .map(|x| (x.code(), x.label()))
            .chain([("none", "未鉴定")])
            .collect(),
        f: form.f,
    };
    Ok(with_tiles_csp(
        crate::pages::render_page(&page),
        tiles.as_ref(),
    ))
}

/// `/map/data`'s query: the list's filter, the zoom and the view.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DataForm {
    #[serde(flatten)]
    pub f: FilterForm,
    pub zoom: String,
    pub west: String,
    pub south: String,
    pub east: String,
    pub north: String,
}

/// What a view shows, as JSON (see [`anju_store::houses::map::MapData`]); no personal data.
pub async fn data(Ctx { state, caller }: Ctx, Query(form): Query<DataForm>) -> PageResult {
    let (filter, _, _) = form.f.parse().map_err(PageError::refused)?;
    let zoom = form
        .zoom
        .parse::<u8>()
        .ok()
        .filter(|z| *z <= 22)
        .ok_or_else(|| PageError::refused("缩放级别无效"))?;
    let num = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    let bbox = match (
        num(&form.west),
        num(&form.south),
        num(&form.east),
        num(&form.north),
    ) {
        (Some(west), Some(south), Some(east), Some(north)) => Some(Bbox {
            west,
            south,
            east,
            north,
        }),
        _ => None,
    };
    let data = caller
        .access(&state.store)
        .map_data(&filter, zoom, bbox)
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&*data).expect("serializes"),
    )
        .into_response())
}

pub(crate) fn routes() -> crate::Routes {
    use axum::routing::get;
    crate::Routes::default()
        .route("/map", get(page))
        .route("/map/data", get(data))
}
