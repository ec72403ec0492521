//! 导入销号确认: the closures and engineering acceptances an imported ledger claims, waiting
//! for the town's principal (tick houses, confirm with the password again, or reject with a
//! reason) or for the county office's cut-over date. Until then they count nowhere.

use crate::AppState;
use crate::error::{PageError, PageResult};
use crate::pages::{Frame, Pairs, TownPage, render};
use crate::session::{Caller, Ctx};
use anju_domain::auth::Action;
use anju_store::StoreError;
use anju_store::houses::imported::Decided;
use askama::Template;
use axum::extract::{Form, Query};
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
    frame: Frame,
    lines: Vec<HeldLine>,
    may_confirm: bool,
    may_cut_over: bool,
    error: Option<String>,
    town_options: Vec<(String, String)>,
    town: String,
    pager: crate::pages::Pager,
    today: String,
}

async fn pending_page(
    state: &AppState,
    caller: &Caller,
    q: &TownPage,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let access = caller.access(&state.store);
    let (town, held, pager) = q
        .fetch("/imports/pending", |town, page| async move {
            access.held_back_page(town.as_ref(), page).await
        })
        .await?;
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
            place: crate::problems::place(state, &h.town_code, &h.village_code),
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
        frame: Frame::of(state, &caller.session).await,
        lines,
        may_confirm: p.may(Action::ConfirmImports),
        may_cut_over: p.may(Action::CutOverImports),
        error,
        town_options,
        town: town.map(|t| t.to_string()).unwrap_or_default(),
        pager,
        today: state.store.today().to_string(),
    };
    Ok(render(&page, status))
}

pub async fn list(Ctx { state, caller }: Ctx, Query(q): Query<TownPage>) -> PageResult {
    pending_page(&state, &caller, &q, None, StatusCode::OK).await
}

/// The list again, with why the decision was refused (422).
async fn refused(state: &AppState, caller: &Caller, q: &TownPage, why: String) -> PageResult {
    pending_page(
        state,
        caller,
        q,
        Some(why),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// The holder's own act asked again with the form's statement, password and dynamic code
/// ([`Caller::reconfirm`]): `Some(message)` when refused.
async fn reconfirmed(
    state: &AppState,
    caller: &Caller,
    pairs: &Pairs,
) -> Result<Option<String>, PageError> {
    caller
        .reconfirm(
            &state.store,
            &pairs.value("confirm"),
            &pairs.value("password"),
            &pairs.value("totp"),
        )
        .await
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
pub async fn decide(
    Ctx { state, caller }: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let pairs = Pairs(pairs);
    let q = pairs.town_page();
    let refuse = |m: String| refused(&state, &caller, &q, m);
    let codes = pairs.codes()?;
    if !caller.principal().may(Action::ConfirmImports) {
        // The store refuses and audits it.
        caller.access(&state.store).confirm_imported(&codes).await?;
    }
    if codes.is_empty() {
        return refuse("请勾选要办理的房屋".to_string()).await;
    }
    let reject = pairs.value("decision") == "reject";
    if !reject && let Some(m) = reconfirmed(&state, &caller, &pairs).await? {
        return refuse(m).await;
    }
    let access = caller.access(&state.store);
    let done = if reject {
        access.reject_imported(&codes, &pairs.value("reason")).await
    } else {
        access.confirm_imported(&codes).await
    };
    let d = match done {
        Err(StoreError::Invalid(m) | StoreError::Denied(m)) => return refuse(m).await,
        r => r?,
    };
    let verb = if reject { "不予确认" } else { "确认" };
    if d.houses.is_empty() {
        // Nothing done is answered as a refusal, with the reasons.
        return refuse(said(verb, &d)).await;
    }
    Ok(crate::flash::redirect_with(
        &format!("/imports/pending?{}", q.query()),
        &said(verb, &d),
    ))
}

/// The county office's cut-over date: every held-back step dated on or before it is confirmed.
pub async fn cut_over(
    Ctx { state, caller }: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let pairs = Pairs(pairs);
    let q = TownPage::default();
    let refuse = |m: String| refused(&state, &caller, &q, m);
    let Ok(day) = NaiveDate::parse_from_str(&pairs.value("day"), "%Y-%m-%d") else {
        if !caller.principal().may(Action::CutOverImports) {
            let today = state.store.today();
            caller.access(&state.store).cut_over_imports(today).await?;
        }
        return refuse("请填写切换日期（如 2024-04-30）".to_string()).await;
    };
    if !caller.principal().may(Action::CutOverImports) {
        caller.access(&state.store).cut_over_imports(day).await?;
    }
    if let Some(m) = reconfirmed(&state, &caller, &pairs).await? {
        return refuse(m).await;
    }
    let d = match caller.access(&state.store).cut_over_imports(day).await {
        Err(StoreError::Invalid(m) | StoreError::Denied(m)) => return refuse(m).await,
        r => r?,
    };
    let m = said(&format!("按切换日期 {day} 确认"), &d);
    if d.houses.is_empty() {
        let m = if d.refused.is_empty() {
            format!("{day} 及以前没有待确认的导入台账销号")
        } else {
            m
        };
        return refuse(m).await;
    }
    Ok(crate::flash::redirect_with("/imports/pending", &m))
}
