//! 导入销号确认: the closures and engineering acceptances an imported ledger claims, waiting
//! for the town's principal (tick houses, confirm with the password again, or reject with a
//! reason) or for the county office's cut-over date. Until then they count nowhere.

use crate::AppState;
use crate::error::{NotFoundAs, PageError, PageResult};
use crate::pages::{Chrome, Pairs, TownPage, chrome, render};
use crate::problems::town_name;
use crate::session::Caller;
use anju_domain::RegionCode;
use anju_domain::auth::Action;
use anju_store::StoreError;
use anju_store::houses::imported::Decided;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use chrono::NaiveDate;

pub struct HeldLine {
    pub code: String,
    pub place: String,
    pub address: String,
    /// Each held-back step: "销号（专业技术人员复核无隐患）2024-04-02".
    pub steps: Vec<String>,
    /// The file and who imported it.
    pub source: String,
}

#[derive(Template)]
#[template(path = "imports_pending.html")]
struct PendingPage {
    chrome: Option<Chrome>,
    demo: bool,
    lines: Vec<HeldLine>,
    may_confirm: bool,
    may_cut_over: bool,
    error: Option<String>,
    town_options: Vec<(String, String)>,
    town: String,
    first: u64,
    pager: crate::pages::Pager,
    today: String,
}

fn parse_town(t: &str) -> Result<Option<RegionCode>, PageError> {
    Some(t.trim())
        .filter(|t| !t.is_empty())
        .map(|t| RegionCode::parse(t).map_err(|_| PageError::refused("镇街代码无效")))
        .transpose()
}

async fn pending_page(
    state: &AppState,
    caller: &Caller,
    q: &TownPage,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let access = caller.access(&state.store);
    let town = parse_town(&q.town)?;
    let size = crate::pages::page_size(&q.size, 50);
    let number = crate::pages::page_number(&q.page);
    let (total, held) = access
        .held_back_page(town.as_ref(), (number, size))
        .await
        .not_found_as("没有可查看的房屋")?;
    let town_param = town.map(|t| t.to_string()).unwrap_or_default();
    let pager = crate::pages::Pager::new(
        "/imports/pending",
        &[("town", town_param.clone())],
        total,
        number,
        size,
    );
    let p = caller.principal();
    let scope = p.scope();
    let town_options = state
        .store
        .reference()
        .regions
        .iter()
        .filter(|r| r.code.level() == anju_domain::RegionLevel::Town)
        .filter(|r| scope.region().is_none_or(|s| s.contains(&r.code)))
        .map(|r| (r.code.to_string(), r.name.clone()))
        .collect();
    let lines = held
        .iter()
        .map(|h| HeldLine {
            code: h.code.clone(),
            place: format!(
                "{} · {}",
                town_name(state, &h.town_code),
                town_name(state, &h.village_code)
            ),
            address: h.address.clone(),
            steps: h
                .steps
                .iter()
                .map(|s| match &s.basis {
                    Some(b) => format!("{}（{b}）{}", s.label, s.effective),
                    None => format!("{} {}", s.label, s.effective),
                })
                .collect(),
            source: h.steps.first().map_or_else(String::new, |s| {
                format!("{}，{}导入", s.file_name, s.imported_name)
            }),
        })
        .collect();
    let page = PendingPage {
        chrome: Some(chrome(state, &caller.session)),
        demo: state.is_demo().await,
        lines,
        may_confirm: p.may(Action::ConfirmImports),
        may_cut_over: p.may(Action::CutOverImports),
        error,
        town_options,
        town: town_param,
        first: (pager.page - 1) * pager.size + 1,
        pager,
        today: state.store.today().to_string(),
    };
    Ok(render(&page, status))
}

#[tracing::instrument(skip_all, fields(account = %caller.session.principal.username))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TownPage>,
) -> PageResult {
    pending_page(&state, &caller, &q, None, StatusCode::OK).await
}

/// What a decision says afterwards.
fn said(verb: &str, d: &Decided) -> String {
    let mut m = format!("已{verb} {} 栋", d.houses.len());
    if !d.refused.is_empty() {
        let first: Vec<String> = d
            .refused
            .iter()
            .take(5)
            .map(|(c, why)| format!("{c}：{why}"))
            .collect();
        m.push_str(&format!(
            "；{} 栋未能确认，仍待确认（{}{}）",
            d.refused.len(),
            first.join("；"),
            if d.refused.len() > 5 { "……" } else { "" }
        ));
    }
    m
}

/// Confirms or rejects the ticked houses (`code`, repeated); back to the same filter and page.
#[tracing::instrument(skip_all, fields(account = %caller.session.principal.username))]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let pairs = Pairs(pairs);
    let value = |k: &str| pairs.value(k);
    let q = pairs.town_page();
    let codes = pairs.codes()?;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    if !caller.principal().may(Action::ConfirmImports) {
        // The store refuses and audits it.
        caller.access(&state.store).confirm_imported(&codes).await?;
    }
    if codes.is_empty() {
        let m = "请勾选要办理的房屋".to_string();
        return pending_page(&state, &caller, &q, Some(m), unprocessable).await;
    }
    let reject = value("decision") == "reject";
    if !reject
        && let Some(m) = caller
            .reconfirm(
                &state.store,
                &value("confirm"),
                &value("password"),
                &value("totp"),
            )
            .await?
    {
        return pending_page(&state, &caller, &q, Some(m), unprocessable).await;
    }
    let access = caller.access(&state.store);
    let done = if reject {
        access.reject_imported(&codes, &value("reason")).await
    } else {
        access.confirm_imported(&codes).await
    };
    let d = match done {
        Err(StoreError::Invalid(m) | StoreError::Denied(m)) => {
            return pending_page(&state, &caller, &q, Some(m), unprocessable).await;
        }
        r => r?,
    };
    let verb = if reject { "不予确认" } else { "确认" };
    if d.houses.is_empty() {
        // Nothing done is answered as a refusal, with the reasons.
        return pending_page(&state, &caller, &q, Some(said(verb, &d)), unprocessable).await;
    }
    Ok(crate::flash::redirect_with(
        &format!("/imports/pending?{}", q.query()),
        &said(verb, &d),
    ))
}

/// The county office's cut-over date: every held-back step dated on or before it is confirmed.
#[tracing::instrument(skip_all, fields(account = %caller.session.principal.username))]
pub async fn cut_over(
    State(state): State<AppState>,
    caller: Caller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let pairs = Pairs(pairs);
    let value = |k: &str| pairs.value(k);
    let q = TownPage::default();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let Ok(day) = NaiveDate::parse_from_str(&value("day"), "%Y-%m-%d") else {
        if !caller.principal().may(Action::CutOverImports) {
            let today = state.store.today();
            caller.access(&state.store).cut_over_imports(today).await?;
        }
        let m = "请填写切换日期（如 2024-04-30）".to_string();
        return pending_page(&state, &caller, &q, Some(m), unprocessable).await;
    };
    if !caller.principal().may(Action::CutOverImports) {
        caller.access(&state.store).cut_over_imports(day).await?;
    }
    if let Some(m) = caller
        .reconfirm(
            &state.store,
            &value("confirm"),
            &value("password"),
            &value("totp"),
        )
        .await?
    {
        return pending_page(&state, &caller, &q, Some(m), unprocessable).await;
    }
    let d = match caller.access(&state.store).cut_over_imports(day).await {
        Err(StoreError::Invalid(m) | StoreError::Denied(m)) => {
            return pending_page(&state, &caller, &q, Some(m), unprocessable).await;
        }
        r => r?,
    };
    let m = said(&format!("按切换日期 {day} 确认"), &d);
    if d.houses.is_empty() {
        let m = if d.refused.is_empty() {
            format!("{day} 及以前没有待确认的导入台账销号")
        } else {
            m
        };
        return pending_page(&state, &caller, &q, Some(m), unprocessable).await;
    }
    Ok(crate::flash::redirect_with("/imports/pending", &m))
}
