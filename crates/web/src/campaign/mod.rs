//! Supervision of the campaign: the county ranking of towns and its circular (通报) in xlsx and
//! PDF, supervision notices (督办) and their answers, the look-back list with assignment of
//! technical reviewers, the reminders bell, and the sector ledgers (排查台账, 问题台账, 整治台账)
//! of whatever the account reads — a department's are its sector's business-use houses.

use crate::AppState;
use crate::error::{NotFoundAs, PageError, PageResult};
use crate::houses::XLSX;
use crate::ledgers::{Download, send_file};
use crate::pages::{Frame, render};
use crate::problems::town_name;
use crate::session::{Caller, Ctx};
use anju_domain::Coded;
use anju_domain::RegionCode;
use anju_domain::auth::Action;
use anju_domain::campaign::Ranked;
use anju_domain::codes::RegionLevel;
use anju_domain::rules::beijing_date;
use anju_store::StoreError;
use anju_store::campaign::supervision::NewSupervision;
use anju_store::houses::list::HouseFilter;
use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use serde::Deserialize;

// ---------------------------------------------------------------------------------------------
// Ranking and circular

const RANK_HEADERS: [&str; 10] = [
    "名次",
    "镇街",
    "房屋总数",
    "排查率",
    "隐患销号率",
    "问题确认率",
    "问题整改率",
    "历史销号待回头看",
    "C/D级未采取工程措施",
    "综合进度",
];

fn score(r: &Ranked) -> String {
    r.score
        .map_or_else(|| "—".into(), |bp| format!("{}.{:02}%", bp / 100, bp % 100))
}

fn rank_row(r: &Ranked) -> Vec<String> {
    vec![
        r.place.to_string(),
        r.town.name.clone(),
        r.town.houses.to_string(),
        r.survey_rate.display(),
        r.closure_rate.display(),
        r.confirmation_rate.display(),
        r.rectification_rate.display(),
        r.town.legacy_pending.to_string(),
        r.town.needs_engineering.to_string(),
        score(r),
    ]
}

const RANK_NOTE: &str = "注：按综合进度由低到高排列，滞后的镇街在前。综合进度为排查率、隐患销号率、问题确认率、问题整改率中有分母者的平均值（分母为 0 的比率显示为“—”，不计入平均）；综合进度相同的，未完成事项（历史销号待回头看、C/D级未采取工程措施）多者在前。";

pub struct RankLine {
    pub cells: Vec<String>,
    pub town: String,
}

#[derive(Template)]
#[template(path = "ranking.html")]
struct RankingPage {
    frame: Frame,
    headers: Vec<&'static str>,
    lines: Vec<RankLine>,
    note: &'static str,
    may_supervise: bool,
    today: String,
}

/// The towns the caller reads, ranked by progress.
async fn ranked(state: &AppState, caller: &Caller) -> PageResult<Vec<Ranked>> {
    caller
        .access(&state.store)
        .ranking()
        .await
        .not_found_as("没有可查看的镇街")
}

pub async fn ranking(Ctx { state, caller }: Ctx) -> PageResult {
    let s = &caller.session;
    let ranked = ranked(&state, &caller).await?;
    let page = RankingPage {
        frame: Frame::of(&state, s).await,
        headers: RANK_HEADERS.to_vec(),
        lines: ranked
            .iter()
            .map(|r| RankLine {
                cells: rank_row(r),
                town: r.town.code.clone(),
            })
            .collect(),
        note: RANK_NOTE,
        may_supervise: s.principal.may(Action::Supervise),
        today: state.store.today().to_string(),
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FormatQuery {
    format: String,
}

/// The ranking as a circular (通报), xlsx or PDF; audited.
pub async fn ranking_download(
    Ctx { state, caller }: Ctx,
    Query(q): Query<FormatQuery>,
) -> PageResult {
    let ranked = ranked(&state, &caller).await?;
    let day = state.store.today();
    let title = "自建房安全专项整治工作进展通报".to_string();
    let rows: Vec<Vec<String>> = ranked.iter().map(rank_row).collect();
    let (bytes, mime, ext) = match q.format.as_str() {
        "xlsx" => {
            let mut all = rows.clone();
            all.push(vec![RANK_NOTE.to_string()]);
            let b = anju_render::list_xlsx("通报", &RANK_HEADERS, &all)
                .map_err(|e| PageError::internal("circular xlsx", e))?;
            (b, XLSX, "xlsx")
        }
        "pdf" => {
            let doc = anju_pdf::Circular {
                title: title.clone(),
                subtitle: format!("（截至 {}）", day.format("%Y年%-m月%-d日")),
                intro: vec![format!(
                    "根据系统记录的房屋排查、整治、销号和问题台账数据，现将截至 {} 各镇街工作进展通报如下。请排名靠后的镇街对照滞后事项，逐项制定措施，按期完成。",
                    day.format("%Y年%-m月%-d日")
                )],
                headers: RANK_HEADERS.iter().map(|h| h.to_string()).collect(),
                widths: vec![2, 5, 3, 3, 3, 3, 3, 3, 3, 3],
                rows,
                notes: vec![RANK_NOTE.to_string()],
                signature: format!(
                    "县自建房安全专项整治领导小组办公室　{}",
                    day.format("%Y年%-m月%-d日")
                ),
                landscape: true,
            };
            let b = state
                .typeset(move |f| anju_pdf::circular(f, &doc))
                .await
                .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e).into_response())?;
            (b, "application/pdf", "pdf")
        }
        other => {
            return Err(PageError::refused(format!(
                "不支持的格式“{other}”：可选 xlsx、pdf"
            )));
        }
    };
    let file = Download {
        action: "ranking.export",
        object: "ranking",
        detail: serde_json::json!({ "format": ext, "towns": ranked.len() }),
        mime,
        ascii_name: format!("circular-{day}.{ext}"),
        name: format!("{title}-{day}.{ext}"),
    };
    send_file(&state, &caller, file, bytes).await
}

// ---------------------------------------------------------------------------------------------
// 督办

pub struct NoticeLine {
    pub id: i64,
    pub town: String,
    pub subject: String,
    pub issued: String,
    pub due: String,
    pub answered: bool,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "supervision.html")]
struct SupervisionList {
    frame: Frame,
    lines: Vec<NoticeLine>,
    may_supervise: bool,
    towns: Vec<(String, String)>,
    town: String,
    subject: String,
    body: String,
    due: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeForm {
    town: String,
    subject: String,
    body: String,
    answer_due: String,
}

fn towns_in_scope(state: &AppState, s: &anju_store::Session) -> Vec<(String, String)> {
    let scope = s.principal.scope();
    state
        .store
        .reference()
        .regions
        .iter()
        .filter(|r| r.level == RegionLevel::Town && r.valid_to.is_none())
        .filter(|r| {
            scope.region().is_some_and(|c| c.contains(&r.code)) || scope == anju_domain::Scope::All
        })
        .map(|r| (r.code.to_string(), r.name.clone()))
        .collect()
}

async fn supervision_list(
    state: &AppState,
    caller: &Caller,
    form: NoticeForm,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let s = &caller.session;
    let notices = caller
        .access(&state.store)
        .supervisions()
        .await
        .not_found_as("没有可查看的督办通知")?;
    let day = state.store.today();
    let page = SupervisionList {
        frame: Frame::of(state, s).await,
        lines: notices
            .iter()
            .map(|n| NoticeLine {
                id: n.id,
                town: town_name(state, &n.town_code),
                subject: n.subject.clone(),
                issued: beijing_date(n.issued_at).to_string(),
                due: n.answer_due.to_string(),
                answered: n.answer.is_some(),
                overdue: n.answer.is_none() && n.answer_due < day,
            })
            .collect(),
        may_supervise: s.principal.may(Action::Supervise),
        towns: towns_in_scope(state, s),
        town: form.town,
        subject: form.subject,
        body: form.body,
        due: if form.answer_due.is_empty() {
            (day + chrono::Duration::days(7)).to_string()
        } else {
            form.answer_due
        },
        error,
    };
    Ok(render(&page, status))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TownQuery {
    town: String,
}

pub async fn supervisions(Ctx { state, caller }: Ctx, Query(q): Query<TownQuery>) -> PageResult {
    let form = NoticeForm {
        town: q.town,
        ..NoticeForm::default()
    };
    supervision_list(&state, &caller, form, None, StatusCode::OK).await
}

#[tracing::instrument(skip_all, fields(town = %form.town))]
pub async fn supervise(Ctx { state, caller }: Ctx, Form(form): Form<NoticeForm>) -> PageResult {
    let parsed = (|| {
        let town =
            RegionCode::parse(form.town.trim()).map_err(|_| "请选择督办的镇街".to_string())?;
        let answer_due = NaiveDate::parse_from_str(form.answer_due.trim(), "%Y-%m-%d")
            .map_err(|_| "请填写答复期限，如 2024-05-01".to_string())?;
        Ok::<_, String>(NewSupervision {
            town,
            subject: form.subject.clone(),
            body: form.body.clone(),
            answer_due,
        })
    })();
    let refuse = |form, m| {
        supervision_list(
            &state,
            &caller,
            form,
            Some(m),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let new = match parsed {
        Ok(n) => n,
        Err(m) => return refuse(form, m).await,
    };
    let id = match caller.access(&state.store).supervise(&new).await {
        Err(StoreError::Rule(v)) => return refuse(form, v.to_string()).await,
        r => r.not_found_as("该镇街不在您的辖区内")?,
    };
    Ok(saved(id))
}

/// Back to the notice, saying the answer was saved.
fn saved(id: i64) -> axum::response::Response {
    crate::flash::redirect_with(&format!("/supervision/{id}"), "已保存")
}

#[derive(Template)]
#[template(path = "supervision_one.html")]
struct NoticePage {
    frame: Frame,
    id: i64,
    town: String,
    subject: String,
    body: String,
    issued: String,
    issued_by: String,
    due: String,
    answer: Option<(String, String, String)>,
    may_answer: bool,
    typed: String,
    error: Option<String>,
}

async fn notice_page(
    state: &AppState,
    caller: &Caller,
    id: i64,
    typed: String,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let s = &caller.session;
    let n = caller
        .access(&state.store)
        .supervision(id)
        .await
        .not_found_as("该督办通知不存在或不在您的辖区内")?;
    let page = NoticePage {
        frame: Frame::of(state, s).await,
        id,
        town: town_name(state, &n.town_code),
        subject: n.subject.clone(),
        body: n.body.clone(),
        issued: beijing_date(n.issued_at).to_string(),
        issued_by: n.issued_by_name.clone(),
        due: n.answer_due.to_string(),
        may_answer: n.answer.is_none() && s.principal.may(Action::AnswerSupervision),
        answer: n
            .answer
            .map(|a| (a.text, a.by_name, beijing_date(a.at).to_string())),
        typed,
        error,
    };
    Ok(render(&page, status))
}

#[tracing::instrument(skip_all, fields(supervision = id))]
pub async fn supervision(Ctx { state, caller }: Ctx, Path(id): Path<i64>) -> PageResult {
    notice_page(&state, &caller, id, String::new(), None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswerForm {
    answer: String,
}

#[tracing::instrument(skip_all, fields(supervision = id))]
pub async fn answer(
    Ctx { state, caller }: Ctx,
    Path(id): Path<i64>,
    Form(form): Form<AnswerForm>,
) -> PageResult {
    let access = caller.access(&state.store);
    match access.answer_supervision(id, &form.answer, &[]).await {
        Err(StoreError::Rule(v)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let error = Some(v.to_string());
            return notice_page(&state, &caller, id, form.answer, error, status).await;
        }
        r => r.not_found_as("该督办通知不存在或不在您的辖区内")?,
    }
    Ok(saved(id))
}

// ---------------------------------------------------------------------------------------------
// Reminders

#[derive(Template)]
#[template(path = "reminders.html")]
struct RemindersPage {
    frame: Frame,
    items: Vec<anju_store::campaign::reminders::Reminder>,
}

pub async fn reminders(Ctx { state, caller }: Ctx) -> PageResult {
    let items = caller
        .access(&state.store)
        .reminders(state.store.today())
        .await?;
    let page = RemindersPage {
        frame: Frame::of(&state, &caller.session).await,
        items,
    };
    Ok(render(&page, StatusCode::OK))
}

/// The bell's figure: how many things are waiting (JSON, fetched after the page is shown so
/// that no page waits for it).
pub async fn reminder_count(Ctx { state, caller }: Ctx) -> PageResult {
    let items = caller
        .access(&state.store)
        .reminders(state.store.today())
        .await?;
    let count: i64 = items.iter().map(|i| i.count).sum();
    Ok(axum::Json(serde_json::json!({ "count": count, "kinds": items.len() })).into_response())
}

// ---------------------------------------------------------------------------------------------
// 回头看

pub struct LookBackTownLine {
    pub town: String,
    pub legacy: i64,
    pub done: i64,
    pub pending: i64,
    pub hazard_remained: i64,
}

pub struct LookBackLine {
    pub code: String,
    pub place: String,
    pub address: String,
    pub assignees: String,
}

#[derive(Template)]
#[template(path = "lookback.html")]
struct LookBackPage {
    frame: Frame,
    towns: Vec<LookBackTownLine>,
    lines: Vec<LookBackLine>,
    reviewers: Vec<(String, String)>,
    may_assign: bool,
    is_reviewer: bool,
    error: Option<String>,
    /// The towns to filter by (code, name) and the one chosen ("" for all).
    town_options: Vec<(String, String)>,
    town: String,
    pager: crate::pages::Pager,
}

async fn lookback_page(
    state: &AppState,
    caller: &Caller,
    q: &crate::pages::TownPage,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let s = &caller.session;
    // Borrowed, to be lent to the page's fetch and used again after it.
    let access = &caller.access(&state.store);
    let towns = access
        .lookback_towns()
        .await
        .not_found_as("没有可查看的房屋")?;
    let (town, pending, pager) = q
        .fetch("/lookback", |town, page| async move {
            access.lookback_pending_page(town.as_ref(), page).await
        })
        .await?;
    let may_assign = s.principal.may(Action::AssignHouses);
    let reviewers = if may_assign {
        access.reviewer_accounts().await?
    } else {
        vec![]
    };
    let name_of = |u: &str| {
        reviewers
            .iter()
            .find(|(n, _)| n == u)
            .map_or_else(|| u.to_string(), |(_, d)| d.clone())
    };
    let page = LookBackPage {
        frame: Frame::of(state, s).await,
        towns: towns
            .iter()
            .map(|t| LookBackTownLine {
                town: town_name(state, &t.town_code),
                legacy: t.legacy,
                done: t.done,
                pending: t.legacy - t.done,
                hazard_remained: t.hazard_remained,
            })
            .collect(),
        lines: pending
            .iter()
            .map(|h| LookBackLine {
                code: h.code.clone(),
                place: crate::problems::place(state, &h.town_code, &h.village_code),
                address: h.address.clone(),
                assignees: h
                    .assignees
                    .iter()
                    .map(|a| name_of(a))
                    .collect::<Vec<_>>()
                    .join("、"),
            })
            .collect(),
        reviewers,
        may_assign,
        is_reviewer: matches!(s.principal.role, anju_domain::event::Role::TechReviewer),
        error,
        town_options: towns
            .iter()
            .map(|t| (t.town_code.clone(), town_name(state, &t.town_code)))
            .collect(),
        town: town.map(|t| t.to_string()).unwrap_or_default(),
        pager,
    };
    Ok(render(&page, status))
}

pub async fn lookback(
    Ctx { state, caller }: Ctx,
    Query(q): Query<crate::pages::TownPage>,
) -> PageResult {
    lookback_page(&state, &caller, &q, None, StatusCode::OK).await
}

/// Assigns the ticked houses (`code`, repeated) to one reviewer, all or none; back to the
/// same filter and page.
pub async fn assign(
    Ctx { state, caller }: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let pairs = crate::pages::Pairs(pairs);
    let q = pairs.town_page();
    let reviewer = pairs.value("reviewer");
    let codes = pairs.codes()?;
    let access = caller.access(&state.store);
    match access.assign_many(&codes, &reviewer).await {
        Err(StoreError::Denied(m) | StoreError::Invalid(m))
            if caller.principal().may(Action::AssignHouses) =>
        {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return lookback_page(&state, &caller, &q, Some(m), status).await;
        }
        r => r?,
    }
    Ok(crate::flash::redirect_with(
        &format!("/lookback?{}", q.query()),
        &format!("已分派 {} 栋", codes.len()),
    ))
}

// ---------------------------------------------------------------------------------------------
// Sector ledgers: 排查台账, 问题台账, 整治台账 of what the account reads

/// Largest ledger exported at once.
const LEDGER_LIMIT: i64 = 50_000;

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

#[tracing::instrument(skip_all, fields(ledger = %kind))]
pub async fn sector_ledger(Ctx { state, caller }: Ctx, Path(kind): Path<String>) -> PageResult {
    let s = &caller.session;
    let access = caller.access(&state.store);
    let village = |code: &RegionCode| town_name(&state, code.as_str());
    let no_filter = HouseFilter::default();
    let every_house = || access.house_states(&no_filter, LEDGER_LIMIT);
    let (sheet, headers, rows): (&str, Vec<&str>, Vec<Vec<String>>) = match kind.as_str() {
        "survey.xlsx" => {
            let states = every_house().await?;
            let rows = states
                .iter()
                .map(|h| {
                    let r = h.record.as_ref();
                    vec![
                        h.code.to_string(),
                        r.map(|r| village(&r.town)).unwrap_or_default(),
                        r.map(|r| village(&r.village)).unwrap_or_default(),
                        r.map(|r| r.address.clone()).unwrap_or_default(),
                        r.map(|r| r.usage.label().to_string()).unwrap_or_default(),
                        r.map(|r| r.business_types.join("、")).unwrap_or_default(),
                        date(h.surveyed_on),
                        h.judgement
                            .map(|j| j.label().to_string())
                            .unwrap_or_default(),
                        h.risk_level
                            .map(|j| j.label().to_string())
                            .unwrap_or_default(),
                        h.status().label().to_string(),
                    ]
                })
                .collect();
            (
                "排查台账",
                vec![
                    "房屋编码",
                    "镇街",
                    "村（社区）",
                    "房屋地址",
                    "房屋用途",
                    "经营类型",
                    "排查日期",
                    "隐患初判",
                    "风险等级",
                    "房屋状态",
                ],
                rows,
            )
        }
        "rectification.xlsx" => {
            let states = every_house().await?;
            let rows = states
                .iter()
                .filter(|h| h.hazard || h.legacy.is_some() || h.closure.is_some())
                .map(|h| {
                    let r = h.record.as_ref();
                    vec![
                        h.code.to_string(),
                        r.map(|r| village(&r.town)).unwrap_or_default(),
                        r.map(|r| r.address.clone()).unwrap_or_default(),
                        h.judgement
                            .map(|j| j.label().to_string())
                            .unwrap_or_default(),
                        h.appraisal
                            .as_ref()
                            .map(|a| a.value.label().to_string())
                            .unwrap_or_default(),
                        date(h.notified_on),
                        h.controls
                            .iter()
                            .map(|m| m.label())
                            .collect::<Vec<_>>()
                            .join("、"),
                        h.engineering
                            .as_ref()
                            .map(|e| e.measure.label().to_string())
                            .unwrap_or_default(),
                        date(h.engineering.as_ref().map(|e| e.started_on)),
                        date(
                            h.engineering
                                .as_ref()
                                .and_then(|e| e.accepted.as_ref())
                                .map(|a| a.on),
                        ),
                        h.closure
                            .as_ref()
                            .map(|c| c.basis.label().to_string())
                            .unwrap_or_default(),
                        date(h.closure.as_ref().map(|c| c.on)),
                        h.status().label().to_string(),
                    ]
                })
                .collect();
            (
                "整治台账",
                vec![
                    "房屋编码",
                    "镇街",
                    "房屋地址",
                    "隐患初判",
                    "鉴定等级",
                    "告知日期",
                    "管理措施",
                    "工程措施",
                    "开工日期",
                    "验收日期",
                    "销号依据",
                    "销号日期",
                    "房屋状态",
                ],
                rows,
            )
        }
        "problems.xlsx" => {
            let problems = access.problems(None).await?;
            let rows = problems
                .iter()
                .map(|p| {
                    vec![
                        p.id.to_string(),
                        p.source.label().to_string(),
                        p.batch_name.clone(),
                        p.issued_on.to_string(),
                        town_name(&state, &p.town_code),
                        p.house_code.clone().unwrap_or_default(),
                        p.category.label().to_string(),
                        p.description.clone(),
                        date(p.deadline),
                        p.status.label().to_string(),
                    ]
                })
                .collect();
            (
                "问题台账",
                vec![
                    "问题编号",
                    "问题来源",
                    "下发批次",
                    "下发日期",
                    "镇街",
                    "房屋编码",
                    "问题类别",
                    "问题描述",
                    "整改时限",
                    "状态",
                ],
                rows,
            )
        }
        _ => return Err(PageError::not_found("没有这种台账")),
    };
    let bytes = anju_render::list_xlsx(sheet, &headers, &rows)
        .map_err(|e| PageError::internal("sector ledger xlsx", e))?;
    let unit = match (&s.principal.department, s.principal.region) {
        (Some(d), _) => d.clone(),
        (None, Some(r)) => town_name(&state, r.as_str()),
        _ => "全县".into(),
    };
    let file = Download {
        action: "sector_ledger.export",
        object: sheet,
        detail: serde_json::json!({ "rows": rows.len() }),
        mime: XLSX,
        ascii_name: kind.clone(),
        name: format!("{unit}{sheet}.xlsx"),
    };
    send_file(&state, &caller, file, bytes).await
}

/// Supervision: ranking, notices, reminders, the look-back (回头看) and sector ledgers.
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route("/ranking", get(ranking))
        .route("/ranking/download", get(ranking_download))
        .route("/supervision", get(supervisions).post(supervise))
        .route("/supervision/{id}", get(supervision))
        .route("/supervision/{id}/answer", post(answer))
        .route("/reminders", get(reminders))
        .route("/reminders/count", get(reminder_count))
        .route("/lookback", get(lookback))
        .route("/lookback/assign", post(assign))
        .route("/sector/{kind}", get(sector_ledger))
}
