//! Login, logout, password change and the home page.

use crate::AppState;
use crate::error::AuthRefusal as _;
use crate::error::{NotFoundAs, PageError, PageResult};
use crate::session::{
    AnySession, Ctx, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Source, Token, append_cookie,
};
use anju_domain::Coded;
use anju_store::infra::vault::random_bytes;
use anju_store::{AuthError, StoreError};
use askama::Template;
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

/// A page, or the server error its template failed with.
pub fn render<T: Template>(t: &T, status: StatusCode) -> Response {
    t.render()
        .map(|html| (status, Html(html)))
        .map_err(PageError::from)
        .into_response()
}

fn random_token() -> String {
    random_bytes::<24>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The header every logged-in page shows.
pub struct Chrome {
    pub csrf: String,
    pub name: String,
    pub role: String,
    pub unit: String,
    /// What the last write said (shown once, after its redirect).
    pub flash: Option<String>,
    /// Minutes of no request after which the session ends (pages with forms warn before).
    pub idle_minutes: i64,
    /// The left menu: groups of (label, address), only what the role can use.
    pub menu: Vec<(&'static str, Vec<(&'static str, &'static str)>)>,
    /// The menu item of the page at hand (its address), if any.
    pub active: &'static str,
    /// Where the page sits: (label, address; none for the page itself or a group).
    pub crumbs: Vec<(&'static str, Option<&'static str>)>,
}

/// The menu item a path belongs to (the longest address it is at or under; 首页 only for
/// `/`), and the breadcrumbs to it: 首页 › group › item (a link unless it is the page itself).
fn place(
    menu: &[(&'static str, Vec<(&'static str, &'static str)>)],
    path: &str,
) -> (&'static str, Vec<(&'static str, Option<&'static str>)>) {
    let under = |href: &str| {
        path == href
            || (href != "/"
                && path.starts_with(href)
                && path[href.len()..].starts_with(['/', '.', '?']))
    };
    let best = menu
        .iter()
        .flat_map(|(g, items)| items.iter().map(move |i| (*g, *i)))
        .filter(|(_, (_, href))| under(href))
        .max_by_key(|(_, (_, href))| href.len());
    match best {
        None => ("", vec![]),
        Some((_, (_, "/"))) => ("/", vec![]),
        Some((group, (label, href))) => (
            href,
            vec![
                ("首页", Some("/")),
                (group, None),
                (label, (path != href).then_some(href)),
            ],
        ),
    }
}

/// The left menu for a role, grouped by work as officials know it.
fn menu(
    p: &anju_domain::auth::Principal,
) -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    use anju_domain::auth::Action as A;
    let may = |a: A| p.may(a);
    let mut groups = vec![];
    let mut houses = vec![("首页", "/")];
    if may(A::ReadHouses) {
        houses.push(("房屋清单", "/houses"));
        houses.push(("房屋地图", "/map"));
    }
    if may(A::Record) && anju_domain::rules::may_register(p.role) {
        houses.push(("登记房屋", "/houses/new"));
    }
    if may(A::ReadHouses) {
        houses.push(("历史销号回头看", "/lookback"));
    }
    groups.push(("房屋", houses));
    let mut ledgers = vec![];
    if may(A::ReadLedger) {
        ledgers.extend([
            ("附件2 工作台账", "/ledgers/2"),
            ("附件1 复核台账", "/ledgers/1"),
            ("签字报送", "/reports"),
        ]);
    }
    if may(A::Record) && anju_domain::rules::may_register(p.role) {
        ledgers.push(("导入台账", "/import"));
    }
    if may(A::ConfirmImports) || may(A::Record) && anju_domain::rules::may_register(p.role) {
        ledgers.push(("导入销号确认", "/imports/pending"));
    }
    if !ledgers.is_empty() {
        groups.push(("台账", ledgers));
    }
    let mut follow = vec![];
    if may(A::IssueProblems) || may(A::HandleProblems) {
        follow.push(("问题台账", "/problems"));
    }
    if may(A::ReadLedger) {
        follow.push(("进展排名", "/ranking"));
    }
    if may(A::Supervise) || may(A::AnswerSupervision) {
        follow.push(("督办", "/supervision"));
    }
    follow.push(("待办提醒", "/reminders"));
    groups.push(("问题与督办", follow));
    let mut system = vec![];
    if may(A::ManageAccounts) {
        system.push(("用户", "/admin/accounts"));
    }
    if may(A::ManageSettings) {
        system.extend([("设置", "/admin/settings"), ("区划", "/admin/regions")]);
    }
    if may(A::ReadAudit) {
        system.push(("审计日志", "/audit"));
    }
    system.push(("修改密码", "/password"));
    groups.push(("系统管理", system));
    groups
}

/// The frame every page is drawn in (`base.html`): the signed-in chrome — none on the login,
/// public and expired-session pages — and whether the system holds demo data, which puts a
/// banner on every page.
pub struct Frame {
    pub chrome: Option<Chrome>,
    pub demo: bool,
}

impl Frame {
    /// A signed-in page's frame.
    pub async fn of(state: &AppState, s: &anju_store::Session) -> Frame {
        Frame {
            chrome: Some(chrome(state, s)),
            demo: state.is_demo().await,
        }
    }

    /// A page drawn without the signed-in chrome.
    pub async fn bare(state: &AppState) -> Frame {
        Frame {
            chrome: None,
            demo: state.is_demo().await,
        }
    }
}

pub fn chrome(state: &AppState, s: &anju_store::Session) -> Chrome {
    let reference = state.store.reference();
    let menu = menu(&s.principal);
    let (active, crumbs) = place(&menu, &crate::flash::current_path());
    Chrome {
        csrf: s.csrf.clone(),
        name: s.principal.name.clone(),
        role: s.principal.role.label().to_string(),
        flash: crate::flash::current(),
        idle_minutes: s.idle_minutes,
        active,
        crumbs,
        menu,
        unit: s
            .principal
            .region
            .and_then(|r| reference.regions.iter().find(|x| x.code == r))
            .map_or_else(String::new, |r| r.name.clone()),
    }
}

pub fn render_page<T: Template>(t: &T) -> Response {
    render(t, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    csrf: String,
    username: String,
    error: Option<String>,
    /// Why the login is asked for again (a kept form waits).
    notice: Option<String>,
}

async fn login_page(
    state: &AppState,
    username: String,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let csrf = random_token();
    let page = LoginPage {
        frame: Frame::bare(state).await,
        csrf: csrf.clone(),
        username,
        error,
        notice,
    };
    let mut res = render(&page, status);
    append_cookie(
        &mut res,
        LOGIN_CSRF_COOKIE,
        &csrf,
        Some(3600),
        state.options.secure_cookies,
    );
    res
}

pub async fn login_form(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let notice = crate::drafts::waiting(&headers).then(|| {
        "登录已过期。您刚才填写的内容（含已选的照片）已保存，重新登录后将回到该表单，请核对后再提交。"
            .to_string()
    });
    login_page(&state, String::new(), None, notice, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    totp: String,
}

/// A refused login re-renders the form with the reason (401).
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    headers: axum::http::HeaderMap,
    Form(f): Form<LoginForm>,
) -> PageResult {
    let totp = Some(f.totp.as_str()).filter(|t| !t.trim().is_empty());
    match state
        .store
        .login(&f.username, &f.password, totp, &source.0, state.store.now())
        .await
        .refusal()?
    {
        Ok(ok) => {
            let back = crate::drafts::return_to(&headers);
            let to = if ok.session.must_change_password {
                "/password"
            } else {
                back.as_deref().unwrap_or("/")
            };
            let mut res = Redirect::to(to).into_response();
            let secure = state.options.secure_cookies;
            if back.is_some() && !ok.session.must_change_password {
                crate::drafts::forget_return(&mut res, secure);
            }
            append_cookie(&mut res, SESSION_COOKIE, &ok.token, None, secure);
            append_cookie(&mut res, LOGIN_CSRF_COOKIE, "", Some(0), secure);
            Ok(res)
        }
        Err(e) => Ok(login_page(
            &state,
            f.username.chars().take(64).collect(),
            Some(e.to_string()),
            None,
            StatusCode::UNAUTHORIZED,
        )
        .await),
    }
}

#[tracing::instrument(skip_all)]
pub async fn logout(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    token: Option<Extension<Token>>,
) -> PageResult {
    if let Some(Extension(Token(t))) = token {
        state.store.logout(&t, &source.0).await?;
    }
    let mut res = Redirect::to("/login").into_response();
    append_cookie(
        &mut res,
        SESSION_COOKIE,
        "",
        Some(0),
        state.options.secure_cookies,
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    frame: Frame,
    csrf: String,
    forced: bool,
    done: bool,
    error: Option<String>,
    policy: String,
}

async fn password_page(
    state: &AppState,
    s: &anju_store::Session,
    done: bool,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let policy = state.store.security().await.unwrap_or_default().password;
    let page = PasswordPage {
        frame: Frame::bare(state).await,
        csrf: s.csrf.clone(),
        forced: s.must_change_password && !done,
        done,
        error,
        policy: format!(
            "密码要求：至少 {} 位，包含大写字母、小写字母、数字、其他符号中的至少 {} 类，不能包含用户名，不能与最近 {} 次相同；每 {} 天须更换。",
            policy.min_length, policy.min_classes, policy.history, policy.max_age_days
        ),
    };
    render(&page, status)
}

pub async fn password_form(State(state): State<AppState>, AnySession(s): AnySession) -> Response {
    password_page(&state, &s, false, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    old: String,
    new: String,
    confirm: String,
}

/// A refused change re-renders the form with the reason (422).
pub async fn change_password(
    State(state): State<AppState>,
    Extension(source): Extension<Source>,
    AnySession(s): AnySession,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    let refused = |message: &str| {
        password_page(
            &state,
            &s,
            false,
            Some(message.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if f.new != f.confirm {
        return Ok(refused("两次输入的新密码不一致").await);
    }
    match state
        .store
        .change_password(
            &s.principal.username,
            &f.old,
            &f.new,
            &source.0,
            state.store.now(),
        )
        .await
        .refusal()?
    {
        Ok(()) => Ok(Redirect::to("/").into_response()),
        Err(AuthError::Failed) => Ok(refused("原密码不正确").await),
        Err(e) => Ok(refused(&e.to_string()).await),
    }
}

pub struct TownRow {
    pub code: String,
    pub name: String,
    pub houses: i64,
    pub surveyed: i64,
    pub survey_rate: String,
    pub hazard: i64,
    pub appraised: i64,
    pub cd: i64,
    pub cd_engineered: i64,
    pub engineering_rate: String,
    pub closed: i64,
    pub legacy_pending: i64,
    pub needs_notice: i64,
    pub needs_engineering: i64,
    /// Progress in each measured phase, in the order of `HomePage::phase_heads`.
    pub phases: Vec<PhaseCell>,
}

pub struct PhaseCell {
    pub text: String,
    pub days_over: i64,
}

pub struct DeadlineRow {
    pub phase: String,
    pub due: String,
    pub days: i64,
    pub overdue: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    frame: Frame,
    unit: String,
    level: &'static str,
    deadlines: Vec<DeadlineRow>,
    phase_heads: Vec<String>,
    rows: Vec<TownRow>,
    chart: String,
    sum_notice: i64,
    sum_engineering: i64,
    sum_look_back: i64,
    /// For the county office: the last good backup is stale (or there is none).
    backup_warning: Option<String>,
    /// For county-wide readers of the audit trail: accounts with unusual volumes in the last
    /// 24 hours (account, reveals, refusals, their trail).
    audit_alerts: Vec<(String, i64, i64, String)>,
    alert_reveals: i64,
    alert_refusals: i64,
    /// The map's configuration (`map.rs`) for accounts that see houses.
    map: Option<String>,
    map_has_tiles: bool,
}

/// A percentage with two decimals, or `—` when there is nothing to divide by.
fn rate(n: i64, d: i64) -> (String, Option<f64>) {
    let r = anju_domain::ledger::Rate::new(n, d);
    (r.display(), r.percent())
}

/// 首页: phase deadlines, overdue items and each town's progress, within the account's scope.
pub async fn home(Ctx { state, caller }: Ctx) -> PageResult {
    let s = &caller.session;
    let access = caller.access(&state.store);
    // A role without a town table (denied) sees the page without one.
    let totals = match access.town_totals().await {
        Err(StoreError::Denied(_)) => vec![],
        t => t?,
    };
    let reference = state.store.reference();
    let today = state.store.today();
    let deadlines = state.store.deadlines().await?;
    let backup_warning = if s.principal.may(anju_domain::auth::Action::ManageSettings) {
        state.store.backup_warning(state.store.now()).await?
    } else {
        None
    };
    let since = anju_domain::rules::beijing_date(state.store.now() - chrono::Duration::hours(24));
    let audit_alerts = access
        .audit_alerts()
        .await?
        .into_iter()
        .map(|a| {
            let href = format!(
                "/audit?{}",
                serde_urlencoded::to_string([
                    ("actor", a.actor.as_str()),
                    ("from", &since.to_string())
                ])
                .unwrap_or_default()
            );
            (a.actor, a.reveals, a.refusals, href)
        })
        .collect();
    let name_of = |code: &str| reference.region_name(code);
    use anju_domain::campaign::{Measure, PhaseProgress};
    let measured: Vec<(&anju_domain::campaign::Deadline, Measure)> = deadlines
        .iter()
        .filter_map(|d| d.measure.map(|m| (d, m)))
        .collect();
    let look_back = if measured.iter().any(|(_, m)| *m == Measure::LookBack) {
        match access.lookback_towns().await {
            Err(StoreError::Denied(_)) => vec![],
            t => t?,
        }
    } else {
        vec![]
    };
    let phases_of = |r: &anju_store::ledgers::TownTotals| -> Vec<PhaseCell> {
        measured
            .iter()
            .map(|(d, m)| {
                let (done, due) = match m {
                    Measure::Survey => (r.surveyed, r.houses),
                    Measure::Engineering => (r.cd_engineered, r.cd),
                    Measure::Closure => (r.closed, r.hazard),
                    Measure::LookBack => look_back
                        .iter()
                        .find(|t| t.town_code == r.town_code)
                        .map_or((0, 0), |t| (t.done, t.legacy)),
                };
                let p = PhaseProgress::new(done, due, d.due, today);
                PhaseCell {
                    text: format!("{done}/{due}"),
                    days_over: p.days_over,
                }
            })
            .collect()
    };
    let rows: Vec<(TownRow, Option<f64>, Option<f64>)> = totals
        .into_iter()
        .map(|r| {
            let phases = phases_of(&r);
            let (survey_rate, sv) = rate(r.surveyed, r.houses);
            let (engineering_rate, ev) = rate(r.cd_engineered, r.cd);
            (
                TownRow {
                    name: name_of(&r.town_code),
                    code: r.town_code,
                    houses: r.houses,
                    surveyed: r.surveyed,
                    survey_rate,
                    hazard: r.hazard,
                    appraised: r.appraised,
                    cd: r.cd,
                    cd_engineered: r.cd_engineered,
                    engineering_rate,
                    closed: r.closed,
                    legacy_pending: r.legacy_pending,
                    needs_notice: r.needs_notice,
                    needs_engineering: r.needs_engineering,
                    phases,
                },
                sv,
                ev,
            )
        })
        .collect();
    let chart = serde_json::json!({
        "tooltip": { "trigger": "axis" },
        "legend": { "data": ["排查率", "整治率"] },
        "grid": { "left": 40, "right": 10, "bottom": 80 },
        "xAxis": { "type": "category", "data": rows.iter().map(|r| r.0.name.clone()).collect::<Vec<_>>(), "axisLabel": { "rotate": 45 } },
        "yAxis": { "type": "value", "max": 100, "axisLabel": { "formatter": "{value}%" } },
        "series": [
            { "name": "排查率", "type": "bar", "data": rows.iter().map(|r| r.1).collect::<Vec<_>>() },
            { "name": "整治率", "type": "bar", "data": rows.iter().map(|r| r.2).collect::<Vec<_>>() },
        ]
    })
    .to_string();
    let rows: Vec<TownRow> = rows.into_iter().map(|r| r.0).collect();
    let (map, tiles) = if s.principal.may(anju_domain::auth::Action::ReadHouses) {
        let (config, tiles) = crate::map::config(&state, &caller, None).await?;
        (
            Some(serde_json::to_string(&config).expect("serializes")),
            tiles,
        )
    } else {
        (None, None)
    };
    let c = chrome(&state, s);
    let page = HomePage {
        unit: if c.unit.is_empty() {
            "辖区".into()
        } else {
            c.unit.clone()
        },
        frame: Frame {
            chrome: Some(c),
            demo: state.is_demo().await,
        },
        level: "镇街",
        phase_heads: measured
            .iter()
            .map(|(d, m)| format!("{}（{}，{}）", d.phase, m.label(), d.due))
            .collect(),
        deadlines: deadlines
            .clone()
            .into_iter()
            .map(|d: anju_domain::campaign::Deadline| DeadlineRow {
                days: anju_domain::campaign::days_left(d.due, today),
                due: d.due.to_string(),
                phase: d.phase,
                overdue: d.overdue,
            })
            .collect(),
        sum_notice: rows.iter().map(|r| r.needs_notice).sum(),
        sum_engineering: rows.iter().map(|r| r.needs_engineering).sum(),
        sum_look_back: rows.iter().map(|r| r.legacy_pending).sum(),
        backup_warning,
        audit_alerts,
        alert_reveals: anju_store::infra::audit_view::ALERT_REVEALS,
        alert_refusals: anju_store::infra::audit_view::ALERT_REFUSALS,
        rows,
        chart,
        map,
        map_has_tiles: tiles.is_some(),
    };
    Ok(crate::map::with_tiles_csp(
        render_page(&page),
        tiles.as_ref(),
    ))
}

/// Login, logout, the password change and the home page.
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_form).post(change_password))
}

/// Page sizes a list offers.
pub const PAGE_SIZES: [u64; 4] = [20, 50, 100, 200];

/// Numbered paging for a list (`templates/pager.html`): how many in all, where we are, links
/// to the first, previous, nearby, next and last pages, and a jump-to form that keeps the
/// list's other parameters.
pub struct Pager {
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub size: u64,
    /// (label, address; none for the current page or a gap).
    pub links: Vec<(String, Option<String>)>,
    pub path: String,
    /// The list's other parameters, kept by the jump-to form.
    pub hidden: Vec<(String, String)>,
    pub sizes: Vec<u64>,
}

impl Pager {
    /// `params` are the list's parameters other than `page` and `size`; `page` is clamped to
    /// the pages there are.
    pub fn new(path: &str, params: &[(&str, String)], total: u64, page: u64, size: u64) -> Pager {
        let pages = total.div_ceil(size).max(1);
        let page = page.clamp(1, pages);
        let href = |n: u64| {
            let mut all: Vec<(&str, String)> = params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .cloned()
                .collect();
            all.push(("page", n.to_string()));
            all.push(("size", size.to_string()));
            format!(
                "{path}?{}",
                serde_urlencoded::to_string(&all).unwrap_or_default()
            )
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(("上一页".to_string(), Some(href(page - 1))));
        }
        let window = page.saturating_sub(3).max(1)..=(page + 3).min(pages);
        if *window.start() > 1 {
            links.push(("1".to_string(), Some(href(1))));
            if *window.start() > 2 {
                links.push(("…".to_string(), None));
            }
        }
        for n in window.clone() {
            links.push((n.to_string(), (n != page).then(|| href(n))));
        }
        if *window.end() < pages {
            if *window.end() < pages - 1 {
                links.push(("…".to_string(), None));
            }
            links.push((pages.to_string(), Some(href(pages))));
        }
        if page < pages {
            links.push(("下一页".to_string(), Some(href(page + 1))));
        }
        Pager {
            total,
            page,
            pages,
            size,
            links,
            path: path.to_string(),
            hidden: params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            sizes: PAGE_SIZES.to_vec(),
        }
    }

    /// How many lines come before this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.size
    }

    /// The 序号 of the line at `index` (from 0) on this page.
    /// (Templates pass `loop.index0` by reference.)
    pub fn number(&self, index: &usize) -> u64 {
        self.offset() + *index as u64 + 1
    }
}

/// A list's town filter and page, as its query string or its bulk form carries them.
#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
pub struct TownPage {
    pub town: String,
    pub page: String,
    pub size: String,
}

impl TownPage {
    /// The same filter and page, as a query string to redirect back to.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string([
            ("town", &self.town),
            ("page", &self.page),
            ("size", &self.size),
        ])
        .unwrap_or_default()
    }

    /// One page of a town-filtered list at `path`: the town asked for (a code that is not one
    /// is refused), the lines `fetch` finds for it on the page asked for (50 to a page unless
    /// another size was chosen), and the pager over them that keeps the town.
    pub async fn fetch<T, Found>(
        &self,
        path: &str,
        fetch: impl FnOnce(Option<anju_domain::RegionCode>, (u64, u64)) -> Found,
    ) -> PageResult<(Option<anju_domain::RegionCode>, Vec<T>, Pager)>
    where
        Found: std::future::Future<Output = Result<(u64, Vec<T>), StoreError>>,
    {
        let town = Some(self.town.trim())
            .filter(|t| !t.is_empty())
            .map(|t| {
                anju_domain::RegionCode::parse(t).map_err(|_| PageError::refused("镇街代码无效"))
            })
            .transpose()?;
        let size = page_size(&self.size, 50);
        let number = page_number(&self.page);
        let (total, lines) = fetch(town, (number, size))
            .await
            .not_found_as("没有可查看的房屋")?;
        let town_param = town.map(|t| t.to_string()).unwrap_or_default();
        let pager = Pager::new(path, &[("town", town_param)], total, number, size);
        Ok((town, lines, pager))
    }
}

/// A bulk form posted as name/value pairs, `code` repeated for each ticked house.
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    /// The value of `name`, trimmed; empty when absent.
    pub fn value(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or(String::new(), |(_, v)| v.trim().to_string())
    }

    /// The list's filter and page the form came from.
    pub fn town_page(&self) -> TownPage {
        TownPage {
            town: self.value("town"),
            page: self.value("page"),
            size: self.value("size"),
        }
    }

    /// The ticked houses; an unreadable code is answered like a missing house.
    pub fn codes(&self) -> Result<Vec<anju_domain::HouseCode>, crate::error::PageError> {
        self.0
            .iter()
            .filter(|(k, _)| k == "code")
            .map(|(_, v)| {
                anju_domain::HouseCode::parse(v.trim())
                    .map_err(|_| crate::error::PageError::not_found("该房屋不存在或不在您的辖区内"))
            })
            .collect()
    }
}

/// A page size from a query: one of [`PAGE_SIZES`], else `default`.
pub fn page_size(asked: &str, default: u64) -> u64 {
    asked
        .parse()
        .ok()
        .filter(|s| PAGE_SIZES.contains(s))
        .unwrap_or(default)
}

/// A page number from a query (1 when absent or unreadable; bounded).
pub fn page_number(asked: &str) -> u64 {
    asked
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .unwrap_or(1)
        .min(1_000_000)
}

#[cfg(test)]
mod place_tests {
    use super::place;

    #[test]
    fn a_page_finds_its_menu_item_and_crumbs() {
        let menu = vec![
            (
                "房屋",
                vec![
                    ("首页", "/"),
                    ("房屋清单", "/houses"),
                    ("登记房屋", "/houses/new"),
                ],
            ),
            (
                "台账",
                vec![
                    ("附件2 工作台账", "/ledgers/2"),
                    ("附件1 复核台账", "/ledgers/1"),
                ],
            ),
        ];
        assert_eq!(place(&menu, "/"), ("/", vec![]));
        assert_eq!(
            place(&menu, "/houses"),
            (
                "/houses",
                vec![("首页", Some("/")), ("房屋", None), ("房屋清单", None)]
            )
        );
        // A house page sits under the list, which is then a link; registration is its own item.
        assert_eq!(
            place(&menu, "/houses/AJ370829000001231").1[2],
            ("房屋清单", Some("/houses"))
        );
        assert_eq!(place(&menu, "/houses/new").0, "/houses/new");
        // A drill-down of 附件2 is under 附件2, not 附件1, and /ledgers/20 is under neither.
        assert_eq!(place(&menu, "/ledgers/2/houses").0, "/ledgers/2");
        assert_eq!(place(&menu, "/ledgers/20").0, "");
        assert_eq!(place(&menu, "/password"), ("", vec![]));
    }
}

#[cfg(test)]
mod pager_tests {
    use super::*;

    #[test]
    fn pages_are_numbered_around_the_current_one_with_the_ends() {
        let p = Pager::new("/x", &[("column", "0".into())], 1001, 10, 50);
        assert_eq!(p.pages, 21);
        let labels: Vec<&str> = p.links.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(
            labels,
            [
                "上一页",
                "1",
                "…",
                "7",
                "8",
                "9",
                "10",
                "11",
                "12",
                "13",
                "…",
                "21",
                "下一页"
            ]
        );
        assert_eq!(p.links[5].1.as_deref(), Some("/x?column=0&page=9&size=50"));
        assert!(p.links.iter().any(|l| l.0 == "10" && l.1.is_none()));
        // A page past the end is the last; an empty list has one page.
        assert_eq!(Pager::new("/x", &[], 40, 9, 20).page, 2);
        assert_eq!(Pager::new("/x", &[], 0, 1, 20).pages, 1);
        assert_eq!(page_size("37", 50), 50);
        assert_eq!(page_number("0"), 1);
    }
}
