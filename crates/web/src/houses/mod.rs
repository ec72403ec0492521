//! 房屋: the filtered list (and its xlsx export) and the house page with its history, masked
//! people and the reveal-with-reason form.

pub mod evidence;
pub mod plaque;
pub mod record;
pub mod steps;

use crate::AppState;
use crate::error::{PageError, PageResult};
use crate::pages::{Frame, render_page};
use crate::session::{Caller, Ctx};
use anju_domain::Coded;
use anju_domain::dict::{Grade, Judgement};
use anju_domain::region::Region;
use anju_domain::state::Status;
use anju_domain::{ChangeKind, HouseCode, RegionCode, RegionLevel};
use anju_store::StoreError;
use anju_store::access::PeopleView;
use anju_store::houses::list::{HouseFilter, HousePage, Overdue, Sort};
use askama::Template;
use axum::extract::{Form, Path, Query};
use serde::Deserialize;
use std::collections::BTreeMap;

const PER_PAGE: i64 = 50;
/// Rows an xlsx export of the list may hold.
const EXPORT_LIMIT: i64 = 50_000;

/// The filter form's fields as typed (kept as text to show them again).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FilterForm {
    pub q: String,
    pub town: String,
    pub village: String,
    pub business: String,
    pub department: String,
    pub status: String,
    pub judgement: String,
    pub grade: String,
    pub overdue: String,
    pub sort: String,
    pub page: String,
    /// Rows a page (the web list only; one of `pages::PAGE_SIZES`).
    pub size: String,
}

impl FilterForm {
    /// The typed filter, or the first field that is not valid (named in Chinese).
    pub fn parse(&self) -> Result<(HouseFilter, Sort, i64), String> {
        let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
        let region = |s: &str, what: &str| -> Result<Option<RegionCode>, String> {
            opt(s)
                .map(|c| RegionCode::parse(&c).map_err(|_| format!("{what}代码无效：{c}")))
                .transpose()
        };
        let business = match self.business.as_str() {
            "" => None,
            "true" => Some(true),
            "false" => Some(false),
            other => return Err(format!("用途筛选无效：{other}")),
        };
        /// A coded field: none when empty, else the value `parse` knows it for.
        fn coded<T>(
            s: &str,
            parse: impl Fn(&str) -> Option<T>,
            what: &str,
        ) -> Result<Option<T>, String> {
            Some(s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| parse(s).ok_or_else(|| format!("{what}无效：{s}")))
                .transpose()
        }
        let status = coded(&self.status, Status::from_code, "状态")?;
        let judgement = coded(&self.judgement, Judgement::parse, "初判")?;
        let grade = coded(&self.grade, Grade::parse, "鉴定等级")?;
        let overdue = coded(&self.overdue, Overdue::from_code, "逾期筛选")?;
        let sort = coded(&self.sort, Sort::from_code, "排序")?.unwrap_or(Sort::Code);
        let page = match opt(&self.page) {
            None => 1,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| (1..=anju_store::houses::list::MAX_PAGE).contains(p))
                .ok_or_else(|| format!("页码无效：{p}"))?,
        };
        Ok((
            HouseFilter {
                town: region(&self.town, "镇街")?,
                village: region(&self.village, "村（社区）")?,
                business,
                department: opt(&self.department),
                status,
                judgement,
                grade,
                overdue,
                q: opt(&self.q)
                    .map(|q| anju_domain::text::check("搜索", &q, 100).map(|()| q))
                    .transpose()?,
            },
            sort,
            page,
        ))
    }

    /// The filter's parameters (without page and size), for links and the pager.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("q", &self.q),
            ("town", &self.town),
            ("village", &self.village),
            ("business", &self.business),
            ("department", &self.department),
            ("status", &self.status),
            ("judgement", &self.judgement),
            ("grade", &self.grade),
            ("overdue", &self.overdue),
            ("sort", &self.sort),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect()
    }

    /// The query string of this filter (for the exports).
    fn query(&self) -> String {
        serde_urlencoded::to_string(self.pairs()).unwrap_or_default()
    }
}

pub struct Row {
    pub code: String,
    pub address: String,
    pub village: String,
    pub owner: String,
    pub business: bool,
    pub status: String,
    pub judgement: String,
    pub grade: String,
    pub last: String,
}

#[derive(Template)]
#[template(path = "houses.html")]
struct HousesPage {
    frame: Frame,
    f: FilterForm,
    query: String,
    error: Option<String>,
    choices: FilterChoices,
    sorts: Vec<(String, String)>,
    rows: Vec<Row>,
    pager: crate::pages::Pager,
    may_register: bool,
}

/// What the house filters offer to choose from (`templates/house_filter_fields.html`, on the
/// list and on the map): the current towns within the account's scope and, once a town is
/// chosen, its villages; the departments; the coded values with their labels.
pub(crate) struct FilterChoices {
    pub(crate) towns: Vec<(String, String)>,
    pub(crate) villages: Vec<(String, String)>,
    pub(crate) departments: Vec<(String, String)>,
    pub(crate) statuses: Vec<(String, String)>,
    pub(crate) judgements: Vec<(String, String)>,
    pub(crate) grades: Vec<(String, String)>,
    pub(crate) overdues: Vec<(String, String)>,
}

impl FilterChoices {
    /// `scope` is the account's region (none: the whole county); `town` the town chosen.
    pub(crate) fn new(
        reference: &anju_store::Reference,
        scope: Option<RegionCode>,
        town: Option<RegionCode>,
    ) -> FilterChoices {
        let current = |keep: &dyn Fn(&Region) -> bool| -> Vec<(String, String)> {
            reference
                .regions
                .iter()
                .filter(|r| r.valid_to.is_none() && keep(r))
                .filter(|r| {
                    scope.is_none_or(|mine| mine.contains(&r.code) || r.code.contains(&mine))
                })
                .map(|r| (r.code.to_string(), r.name.clone()))
                .collect()
        };
        let pairs = |v: Vec<(&'static str, &'static str)>| -> Vec<(String, String)> {
            v.into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        FilterChoices {
            towns: current(&|r| r.level == RegionLevel::Town),
            villages: match town {
                Some(town) => {
                    current(&|r| r.level == RegionLevel::Village && town.contains(&r.code))
                }
                None => vec![],
            },
            departments: reference.departments.clone(),
            statuses: pairs(Status::ALL.iter().map(|x| (x.code(), x.label())).collect()),
            judgements: pairs(
                Judgement::ALL
                    .iter()
                    .map(|x| (x.code(), x.label()))
                    .collect(),
            ),
            grades: pairs(Grade::ALL.iter().map(|x| (x.code(), x.label())).collect()),
            overdues: pairs(Overdue::ALL.iter().map(|x| (x.code(), x.label())).collect()),
        }
    }
}

fn names(regions: &[Region]) -> BTreeMap<String, String> {
    regions
        .iter()
        .filter(|r| r.valid_to.is_none())
        .map(|r| (r.code.to_string(), r.name.clone()))
        .collect()
}

fn label<T: Copy>(
    code: Option<&str>,
    parse: fn(&str) -> Option<T>,
    label: fn(T) -> &'static str,
) -> String {
    code.and_then(parse)
        .map_or_else(String::new, |v| label(v).to_string())
}

fn rows_of(page: &HousePage, names: &BTreeMap<String, String>) -> Vec<Row> {
    page.houses
        .iter()
        .map(|h| Row {
            code: h.code.clone(),
            address: h.address.clone(),
            village: names
                .get(&h.village_code)
                .cloned()
                .unwrap_or_else(|| h.village_code.clone()),
            owner: h.owner_name.clone().unwrap_or_default(),
            business: h.is_business,
            status: label(Some(&h.status), Status::from_code, Status::label),
            judgement: label(h.judgement.as_deref(), Judgement::parse, Judgement::label),
            grade: label(h.grade.as_deref(), Grade::parse, Grade::label),
            last: h.last_effective.to_string(),
        })
        .collect()
}

pub async fn list(Ctx { state, caller }: Ctx, Query(form): Query<FilterForm>) -> PageResult {
    let s = &caller.session;
    let access = caller.access(&state.store);
    let reference = state.store.reference();
    let names = names(&reference.regions);
    let size = crate::pages::page_size(&form.size, PER_PAGE as u64);
    let (parsed, error) = match form.parse() {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e)),
    };
    let (page, sort_error) = match &parsed {
        Some((filter, sort, page)) => {
            match access.houses_page(filter, *sort, *page, size as i64).await {
                Err(StoreError::Denied(m)) => (None, Some(m)),
                p => (Some(p?), None),
            }
        }
        None => (None, None),
    };
    let choices = FilterChoices::new(
        &reference,
        s.principal.region,
        RegionCode::parse(form.town.trim()).ok(),
    );
    let (total, pno, rows) = match &page {
        Some(p) => (p.total, p.page, rows_of(p, &names)),
        None => (0, 1, vec![]),
    };
    let pager = crate::pages::Pager::new(
        "/houses",
        &form.pairs(),
        total.max(0) as u64,
        pno.max(1) as u64,
        size,
    );
    let out = HousesPage {
        may_register: anju_domain::rules::may_register(s.principal.role),
        frame: Frame::of(&state, s).await,
        query: form.query(),
        error: error.or(sort_error),
        choices,
        sorts: [
            ("code", "按房屋编码"),
            ("updated", "按最近变动"),
            ("address", "按地址"),
        ]
        .map(|(code, label)| (code.to_string(), label.to_string()))
        .to_vec(),
        rows,
        pager,
        f: form,
    };
    Ok(render_page(&out))
}

/// The filtered list as xlsx (no personal identifiers: owner names only), audited.
pub async fn export_xlsx(Ctx { state, caller }: Ctx, Query(form): Query<FilterForm>) -> PageResult {
    export(&state, &caller, form, false).await
}

pub async fn export_csv(Ctx { state, caller }: Ctx, Query(form): Query<FilterForm>) -> PageResult {
    export(&state, &caller, form, true).await
}

/// The filtered list as xlsx or CSV (at most [`EXPORT_LIMIT`] houses), audited.
async fn export(state: &AppState, caller: &Caller, form: FilterForm, csv: bool) -> PageResult {
    let (filter, sort, _) = form.parse().map_err(PageError::refused)?;
    let page = caller
        .access(&state.store)
        .houses_page(&filter, sort, 1, EXPORT_LIMIT)
        .await?;
    if page.total > EXPORT_LIMIT {
        return Err(PageError::refused(format!(
            "符合条件的房屋有 {} 栋，超过单次导出上限 {EXPORT_LIMIT} 栋，请增加筛选条件",
            page.total
        )));
    }
    let names = names(&state.store.reference().regions);
    let rows: Vec<Vec<String>> = rows_of(&page, &names)
        .into_iter()
        .map(|r| {
            vec![
                r.code,
                r.address,
                r.village,
                r.owner,
                if r.business { "是" } else { "否" }.to_string(),
                r.status,
                r.judgement,
                r.grade,
                r.last,
            ]
        })
        .collect();
    let headers = [
        "房屋编码",
        "地址",
        "村（社区）",
        "产权人",
        "经营性",
        "状态",
        "初判",
        "鉴定等级",
        "最近变动日期",
    ];
    let bytes = if csv {
        anju_render::list_csv(&headers, &rows)
    } else {
        anju_render::list_xlsx("房屋清单", &headers, &rows)
            .map_err(|e| PageError::internal("house list xlsx", e))?
    };
    let ext = if csv { "csv" } else { "xlsx" };
    let file = crate::ledgers::Download {
        action: "houses.export",
        object: "houses",
        detail: serde_json::json!({ "rows": rows.len(), "filter": form.query() }),
        mime: if csv { "text/csv; charset=utf-8" } else { XLSX },
        ascii_name: format!("houses.{ext}"),
        name: format!("房屋清单.{ext}"),
    };
    crate::ledgers::send_file(state, caller, file, bytes).await
}

/// The MIME type of an xlsx workbook.
pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub struct Field {
    pub name: &'static str,
    pub value: String,
}

pub struct TimelineItem {
    pub date: String,
    pub kind: String,
    pub actor: String,
    pub reason: String,
    pub evidence: Vec<EvidenceLink>,
}

/// An evidence file in the timeline: a thumbnail for a stored photo, a link for a document,
/// a label for a reference whose file is not stored (imported history).
pub struct EvidenceLink {
    pub label: String,
    pub name: String,
    pub url: Option<String>,
    pub thumb: Option<String>,
}

#[derive(Template)]
#[template(path = "house.html")]
struct HousePageT {
    frame: Frame,
    code: String,
    status: String,
    basic: Vec<Field>,
    survey: Vec<Field>,
    rectification: Vec<Field>,
    people: Vec<Field>,
    revealed: bool,
    may_reveal: bool,
    error: Option<String>,
    timeline: Vec<TimelineItem>,
    actions: Vec<(String, String)>,
    /// A C/D or obviously unsafe house: the owner notice is offered.
    notice: bool,
    /// What identifies the house at a glance, above the actions: address, village, owner and
    /// phone (masked unless revealed).
    summary: Vec<String>,
    /// Closures and acceptances an imported ledger claims, waiting for confirmation.
    held: Vec<String>,
}

/// A survey's position as the house page says it: `东经 116.397128°，北纬 35.405421°（精度约 18 米）`.
fn fix_text(fix: &anju_domain::event::GeoFix) -> String {
    let accuracy = fix
        .accuracy_m
        .map_or_else(String::new, |a| format!("（精度约 {a:.0} 米）"));
    format!(
        "东经 {:.6}°，北纬 {:.6}°{accuracy}",
        fix.longitude, fix.latitude
    )
}

fn f(name: &'static str, value: impl Into<String>) -> Field {
    Field {
        name,
        value: value.into(),
    }
}

fn people_fields(p: &PeopleView) -> Vec<Field> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        f("产权人（户主）", p.owner_name.clone()),
        f("身份证号/信用代码", o(&p.owner_id)),
        f("产权人电话", o(&p.owner_phone)),
        f("产权人类型", o(&p.owner_role)),
        f("使用人", o(&p.user_name)),
        f("使用人电话", o(&p.user_phone)),
        f("房屋安全责任人", o(&p.safety_person)),
        f("责任人电话", o(&p.safety_phone)),
        f("安全监管责任人", o(&p.supervisor)),
        f("监管责任人电话", o(&p.supervisor_phone)),
    ]
}

/// A house code from a path; one that cannot be a code answers like a house out of scope.
pub(crate) fn house_code(code: &str) -> PageResult<HouseCode> {
    HouseCode::parse(code).map_err(|_| StoreError::NotFound.into())
}

async fn house_page(
    state: &AppState,
    caller: &Caller,
    code: &str,
    reveal_reason: Option<&str>,
) -> PageResult {
    let s = &caller.session;
    let code = house_code(code)?;
    let access = caller.access(&state.store);
    let house = access.house(&code).await?;
    let events = access.house_events(&code).await?;
    let held = access
        .held_back_of(&code)
        .await?
        .into_iter()
        .map(|h| {
            let basis = h.basis.map(|b| format!("（{b}）")).unwrap_or_default();
            format!(
                "{}{basis} {}：{}，{}导入",
                h.label, h.effective, h.file_name, h.imported_name
            )
        })
        .collect();
    // A closure taken over from an imported ledger says so, and who confirmed it.
    let imported_closure = events
        .iter()
        .rev()
        .find(|e| matches!(e.change, anju_domain::event::Change::Closed { .. }))
        .filter(|e| {
            e.evidence
                .iter()
                .any(|x| x.kind == anju_domain::event::EvidenceKind::LedgerRecord)
        })
        .map(|e| format!("；导入台账记载，由{}确认", e.actor.name));
    let mut error = None;
    let mut revealed = false;
    let mut people = house.people.as_ref().map(people_fields).unwrap_or_default();
    if let Some(reason) = reveal_reason {
        match access.reveal_people(&code, reason).await {
            Err(StoreError::Denied(m)) => error = Some(m),
            full => {
                people = people_fields(&PeopleView::full(&full?));
                revealed = true;
            }
        }
    }
    let reference = state.store.reference();
    let names = names(&reference.regions);
    let st = &house.state;
    let mut basic = vec![f("房屋编码", st.code.to_string())];
    if let Some(r) = &st.record {
        basic.extend([
            f(
                "镇街",
                names
                    .get(r.town.as_str())
                    .cloned()
                    .unwrap_or_else(|| r.town.to_string()),
            ),
            f(
                "村（社区）",
                names
                    .get(r.village.as_str())
                    .cloned()
                    .unwrap_or_else(|| r.village.to_string()),
            ),
            f("地址", r.address.clone()),
            f(
                "经纬度",
                match (r.longitude, r.latitude) {
                    (Some(lon), Some(lat)) => format!("东经 {lon:.6}°，北纬 {lat:.6}°"),
                    _ => String::new(),
                },
            ),
            f("归集平台编号", r.platform_code.clone().unwrap_or_default()),
            f("普查编号", r.census_id.clone().unwrap_or_default()),
            f("用途", r.usage.label()),
            f("经营类型", r.business_types.join("、")),
            f(
                "层数（地上/地下）",
                format!("{} / {}", r.floors_above, r.floors_below),
            ),
            f("建筑面积（㎡）", format!("{:.1}", r.floor_area_m2)),
        ]);
    }
    let date = |d: Option<chrono::NaiveDate>| d.map_or_else(String::new, |d| d.to_string());
    let mut survey = vec![
        f("排查日期", date(st.surveyed_on)),
        f(
            "隐患初判",
            st.judgement
                .map_or_else(String::new, |j| j.label().to_string()),
        ),
        f(
            "风险等级",
            st.risk_level
                .map_or_else(String::new, |r| r.label().to_string()),
        ),
        f(
            "专业复核",
            st.review
                .as_ref()
                .map_or_else(String::new, |r| format!("{}（{}）", r.value.label(), r.on)),
        ),
        f(
            "安全鉴定",
            st.appraisal
                .as_ref()
                .map_or_else(String::new, |a| format!("{}（{}）", a.value.label(), a.on)),
        ),
    ];
    // 排查定位, after 风险等级: only where the latest survey recorded one. Never on the public
    // plaque page (plaque.rs), which shows no coordinates.
    if let Some(fix) = &st.survey_location {
        survey.insert(3, f("排查定位", fix_text(fix)));
    }
    let rectification = vec![
        f("告知产权人", date(st.notified_on)),
        f(
            "管理措施",
            st.controls
                .iter()
                .map(|m| m.label())
                .collect::<Vec<_>>()
                .join("、"),
        ),
        f(
            "工程措施",
            st.engineering.as_ref().map_or_else(String::new, |e| {
                let accepted = e
                    .accepted
                    .as_ref()
                    .map_or_else(|| "未验收".to_string(), |a| format!("{} 验收", a.on));
                format!("{}（{} 开工，{accepted}）", e.measure.label(), e.started_on)
            }),
        ),
        f(
            "销号",
            st.closure.as_ref().map_or_else(String::new, |c| {
                format!(
                    "{}（{}{}）",
                    c.basis.label(),
                    c.on,
                    imported_closure.clone().unwrap_or_default()
                )
            }),
        ),
        f(
            "历史销号",
            st.legacy.as_ref().map_or_else(String::new, |l| {
                let lb = l
                    .look_back
                    .as_ref()
                    .map_or_else(|| "待回头看".to_string(), |s| format!("{} 已回头看", s.on));
                format!("{} 以管理措施销号，{lb}", l.closed_on)
            }),
        ),
    ];
    let timeline = events
        .iter()
        .rev()
        .map(|e| TimelineItem {
            date: e.effective.to_string(),
            kind: e.change.kind().label().to_string(),
            actor: format!("{}（{}）", e.actor.name, e.actor.role.label()),
            reason: e.reason.clone().unwrap_or_default(),
            evidence: e
                .evidence
                .iter()
                .map(|x| {
                    // A ledger file holds every house of its batch: named, never linked.
                    let found = state
                        .evidence
                        .find(&x.sha256)
                        .filter(|_| x.kind != anju_domain::event::EvidenceKind::LedgerRecord);
                    let url = format!("/houses/{}/evidence/{}", code, x.sha256);
                    EvidenceLink {
                        label: x.kind.label().to_string(),
                        name: x.name.clone(),
                        thumb: found
                            .as_ref()
                            .filter(|(_, m)| m.is_image())
                            .map(|_| format!("{url}/thumb")),
                        url: found.map(|_| url),
                    }
                })
                .collect(),
        })
        .collect();
    let offered = anju_domain::offer::offer(
        st,
        &s.principal.actor(),
        state.store.now(),
        &reference.dictionaries,
    );
    let actions = offered
        .kinds
        .iter()
        .filter_map(|k| {
            let href = match k {
                ChangeKind::Corrected => format!("/houses/{}/correct", st.code),
                k if crate::houses::steps::has_form(*k) => {
                    format!("/houses/{}/steps/{}", st.code, k.code())
                }
                _ => return None,
            };
            Some((href, k.label().to_string()))
        })
        .collect();
    let field = |fields: &[Field], name: &str| {
        fields
            .iter()
            .find(|x| x.name == name)
            .map(|x| x.value.clone())
            .filter(|v| !v.is_empty())
    };
    let summary = [
        field(&basic, "地址"),
        field(&basic, "村（社区）"),
        field(&people, "产权人（户主）").map(|o| format!("产权人 {o}")),
        field(&people, "产权人电话"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let page = HousePageT {
        summary,
        held,
        actions,
        notice: st.must_notify() && st.closure.is_none(),
        frame: Frame::of(state, s).await,
        code: st.code.to_string(),
        status: st.status().label().to_string(),
        basic,
        survey,
        rectification,
        people,
        revealed,
        may_reveal: s.principal.may(anju_domain::auth::Action::RevealPersonal),
        error,
        timeline,
    };
    Ok(render_page(&page))
}

#[tracing::instrument(skip_all, fields(house = %code))]
pub async fn show(Ctx { state, caller }: Ctx, Path(code): Path<String>) -> PageResult {
    house_page(&state, &caller, &code, None).await
}

#[derive(Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    reason: String,
}

/// Shows the full personal data once, for the typed reason (audited); nothing is stored.
#[tracing::instrument(skip_all, fields(house = %code))]
pub async fn reveal(
    Ctx { state, caller }: Ctx,
    Path(code): Path<String>,
    Form(form): Form<RevealForm>,
) -> PageResult {
    house_page(&state, &caller, &code, Some(&form.reason)).await
}

/// The house list and page, registration and correction, steps, evidence and plaques.
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route("/houses", get(list))
        .route("/houses.xlsx", get(export_xlsx))
        .route("/houses.csv", get(export_csv))
        .route("/houses/new", get(record::new_form).post(record::register))
        .route("/houses/{code}", get(show))
        .route(
            "/houses/{code}/correct",
            get(record::correct_form).post(record::correct),
        )
        .route("/houses/{code}/reveal", post(reveal))
        .route(
            "/houses/{code}/steps/{kind}",
            get(steps::form)
                .post(steps::submit)
                .layer(axum::extract::DefaultBodyLimit::max(steps::UPLOAD_LIMIT)),
        )
        .route("/houses/{code}/qr.svg", get(plaque::qr))
        .route("/houses/{code}/notice.pdf", get(plaque::owner_notice))
        .route("/villages/{code}/plaques.pdf", get(plaque::village_plaques))
        .route("/q/{token}", get(plaque::public))
        .route(
            "/houses/{code}/evidence/{sha}",
            get(evidence::file::<false>),
        )
        .route(
            "/houses/{code}/evidence/{sha}/thumb",
            get(evidence::file::<true>),
        )
        .route("/evidence/pending/{sha}/{tag}", get(evidence::pending))
}
