//! 用户/设置 (county office): accounts (create with a one-time password, reset, disable,
//! enable, end sessions), campaign deadlines, the password and session policy, and the
//! descriptive dictionaries. Every change goes through the store, which checks the permission
//! (`ManageAccounts` / `ManageSettings`, settings only from a county-level account) and writes
//! the change with its audit row.

pub mod audit;
pub mod regions;

use crate::AppState;
use crate::error::{PageError, PageResult};
use crate::pages::{Frame, render};
use crate::session::{Ctx, LoggedIn};
use anju_domain::Coded;
use anju_domain::RegionCode;
use anju_domain::auth::Action;
use anju_domain::campaign::Deadline;
use anju_domain::event::Role;
use anju_store::NewAccount;
use anju_store::accounts::{AuthError, Security};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::NaiveDate;

pub struct AccountLine {
    pub username: String,
    pub name: String,
    pub role: String,
    pub unit: String,
    pub state: String,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    frame: Frame,
    accounts: Vec<AccountLine>,
    pager: crate::pages::Pager,
    q: AccountsQuery,
    roles: Vec<(String, String)>,
    units: Vec<(String, String)>,
    departments: Vec<(String, String)>,
    error: Option<String>,
    /// A one-time password just issued: (user name, password), shown once.
    issued: Option<(String, String)>,
}

/// A refused account or settings change as the message and status its page is shown with; a
/// store failure is a server error.
pub(crate) fn refusal(e: AuthError) -> PageResult<(String, StatusCode)> {
    let status = match e {
        AuthError::Store(e) => return Err(e.into()),
        AuthError::Denied(_) => StatusCode::FORBIDDEN,
        AuthError::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok((e.to_string(), status))
}

/// A urlencoded form body as pairs (repeated keys kept).
pub(crate) fn pairs(body: &Bytes) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// A form field's first value, trimmed (`""` when absent).
pub(crate) fn field<'a>(p: &'a [(String, String)], k: &str) -> &'a str {
    p.iter()
        .find(|(key, _)| key == k)
        .map_or("", |(_, v)| v.trim())
}

/// The account list's search (user name or name), role filter and page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct AccountsQuery {
    q: String,
    role: String,
    page: String,
    size: String,
}

async fn accounts_page(
    state: &AppState,
    s: &anju_store::Session,
    q: AccountsQuery,
    error: Option<String>,
    issued: Option<(String, String)>,
    status: StatusCode,
) -> PageResult {
    let list = state
        .store
        .accounts(&s.principal)
        .await
        .map_err(|e| match e {
            AuthError::Denied(m) => PageError::Denied(m),
            AuthError::Store(e) => e.into(),
            e => PageError::internal("accounts", e),
        })?;
    let reference = state.store.reference();
    let name_of = |r: &Option<RegionCode>| {
        r.and_then(|c| reference.regions.iter().find(|x| x.code == c))
            .map_or_else(String::new, |x| x.name.clone())
    };
    let wanted = q.q.trim();
    let matching: Vec<_> = list
        .iter()
        .filter(|a| {
            wanted.is_empty() || a.username.contains(wanted) || a.display_name.contains(wanted)
        })
        .filter(|a| q.role.is_empty() || anju_store::infra::codec::role_code(a.role) == q.role)
        .collect();
    let pager = crate::pages::Pager::new(
        "/admin/accounts",
        &[("q", wanted.to_string()), ("role", q.role.clone())],
        matching.len() as u64,
        crate::pages::page_number(&q.page),
        crate::pages::page_size(&q.size, 50),
    );
    let accounts = matching
        .into_iter()
        .skip(pager.offset() as usize)
        .take(pager.size as usize)
        .map(|a| {
            let mut st = vec![];
            if a.disabled {
                st.push("已停用");
            }
            if a.must_change {
                st.push("待修改初始密码");
            }
            if a.totp_enabled {
                st.push("已启用动态口令");
            }
            AccountLine {
                username: a.username.clone(),
                name: a.display_name.clone(),
                role: a.role.label().to_string(),
                unit: match &a.department {
                    Some(d) => format!("{} · {d}", name_of(&a.region)),
                    None => name_of(&a.region),
                },
                state: if st.is_empty() {
                    "正常".into()
                } else {
                    st.join("，")
                },
                disabled: a.disabled,
            }
        })
        .collect();
    // Units the administrator may anchor an account at: its own region and below, towns up.
    let mine = s.principal.region;
    let units = reference
        .regions
        .iter()
        .filter(|r| {
            r.valid_to.is_none()
                && matches!(
                    r.level,
                    anju_domain::RegionLevel::County | anju_domain::RegionLevel::Town
                )
        })
        .filter(|r| mine.is_none_or(|m| m.contains(&r.code)))
        .map(|r| (r.code.to_string(), r.name.clone()))
        .collect();
    let page = AccountsPage {
        frame: Frame::of(state, s).await,
        accounts,
        pager,
        q,
        roles: Role::ALL
            .iter()
            .filter(|r| **r != Role::System)
            .map(|r| {
                (
                    anju_store::infra::codec::role_code(*r),
                    r.label().to_string(),
                )
            })
            .collect(),
        units,
        departments: reference.departments.clone(),
        error,
        issued,
    };
    Ok(render(&page, status))
}

pub async fn accounts(
    State(state): State<AppState>,
    LoggedIn(s): LoggedIn,
    Query(q): Query<AccountsQuery>,
) -> PageResult {
    accounts_page(&state, &s, q, None, None, StatusCode::OK).await
}

/// Creates an account; its one-time password is shown once on the answer page.
pub async fn create(Ctx { state, caller }: Ctx, body: Bytes) -> PageResult {
    let s = &caller.session;
    let p = pairs(&body);
    let parsed = (|| {
        // The user name's form is checked by the store.
        let username = field(&p, "username").to_string();
        let display_name = field(&p, "display_name").to_string();
        if display_name.is_empty() {
            return Err("请填写姓名".into());
        }
        let role = anju_store::infra::codec::parse_role(field(&p, "role"))
            .ok()
            .filter(|r| *r != Role::System)
            .ok_or("请选择角色")?;
        let region = match field(&p, "region") {
            "" => None,
            r => Some(RegionCode::parse(r).map_err(|_| "所属单位无效".to_string())?),
        };
        let department = Some(field(&p, "department").to_string()).filter(|d| !d.is_empty());
        if role == Role::Department && department.is_none() {
            return Err("行业部门账号须选择所属部门".into());
        }
        if !matches!(role, Role::TechReviewer | Role::Appraiser) && region.is_none() {
            return Err("请选择所属单位（县或镇街）".into());
        }
        Ok(NewAccount {
            username,
            display_name,
            role,
            region,
            department,
        })
    })();
    let new = match parsed {
        Ok(n) => n,
        Err(m) => {
            return accounts_page(
                &state,
                s,
                AccountsQuery::default(),
                Some(m),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match state
        .store
        .create_account(&s.principal, &new, &caller.source)
        .await
    {
        Ok((a, otp)) => {
            accounts_page(
                &state,
                s,
                AccountsQuery::default(),
                None,
                Some((a.username, otp)),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let (m, status) = refusal(e)?;
            accounts_page(&state, s, AccountsQuery::default(), Some(m), None, status).await
        }
    }
}

/// reset | disable | enable | end-sessions on one account.
#[tracing::instrument(skip_all, fields(
    target = %username,
    op = %op,
))]
pub async fn act(
    Ctx { state, caller }: Ctx,
    Path((username, op)): Path<(String, String)>,
) -> PageResult {
    let (store, s, source) = (&state.store, &caller.session, &caller.source);
    let by = &s.principal;
    let outcome = match op.as_str() {
        "reset" => store
            .reset_password(by, &username, source)
            .await
            .map(|otp| Some((username.clone(), otp))),
        "disable" => store
            .set_disabled(by, &username, true, source)
            .await
            .map(|_| None),
        "enable" => store
            .set_disabled(by, &username, false, source)
            .await
            .map(|_| None),
        "end-sessions" => store
            .end_sessions(by, &username, source)
            .await
            .map(|_| None),
        _ => Err(AuthError::NotFound),
    };
    match outcome {
        Ok(None) => Ok(Redirect::to("/admin/accounts").into_response()),
        Ok(issued) => {
            accounts_page(
                &state,
                s,
                AccountsQuery::default(),
                None,
                issued,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let (m, status) = refusal(e)?;
            accounts_page(&state, s, AccountsQuery::default(), Some(m), None, status).await
        }
    }
}

pub struct DictLine {
    pub kind: String,
    pub title: String,
    pub values: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    frame: Frame,
    deadlines: Vec<Deadline>,
    blank_rows: usize,
    measures: Vec<(&'static str, &'static str)>,
    security: Security,
    dictionaries: Vec<DictLine>,
    backup: anju_store::infra::backup::Schedule,
    last_backup: Option<anju_store::infra::backup::LastBackup>,
    tiles: Option<anju_store::houses::map::Tiles>,
    error: Option<String>,
    saved: Option<String>,
}

/// The dictionary kinds' names as shown.
fn dict_title(kind: &str) -> String {
    use anju_domain::dict::kind as k;
    match kind {
        k::BUSINESS_TYPE => "经营类型",
        k::STRUCTURE_TYPE => "结构类型",
        k::ZONE_TYPE => "所在区域",
        k::LAND_TYPE => "土地性质",
        k::WALL_MATERIAL => "墙体材料",
        k::FLOOR_SLAB => "楼板",
        k::ROOF_TYPE => "屋盖",
        k::DESIGN_MODE => "设计方式（是否专业设计）",
        k::BUILDER_MODE => "施工方式（是否专业施工）",
        k::SEISMIC_MEASURE => "抗震构造措施",
        k::ALTERATION_TYPE => "改扩建内容",
        k::PERMIT => "已取得的行政许可",
        k::ILLEGAL_FLAG => "违法违规情况",
        k::SURVEY_ROUND => "排查批次",
        k::GEOHAZARD => "地质灾害隐患",
        k::HAZARD_CATEGORY => "隐患类别",
        k::HAZARD_PART => "隐患部位",
        k::FIRE_HAZARD => "消防隐患",
        k::APPRAISAL_STANDARD => "鉴定标准",
        k::OWNER_ROLE => "产权人类型",
        k::NOTICE_METHOD => "告知方式",
        k::ENFORCEMENT => "违法建设查处",
        // A dictionary added later without a title yet: its code, rather than nothing.
        other => other,
    }
    .to_string()
}

async fn settings_page(
    state: &AppState,
    s: &anju_store::Session,
    error: Option<String>,
    saved: Option<String>,
    status: StatusCode,
) -> PageResult {
    if !s.principal.may(Action::ManageSettings) {
        return Err(PageError::Denied("只有县领导小组办公室可以修改设置".into()));
    }
    let deadlines = state.store.deadlines().await?;
    let security = state.store.security().await?;
    let entries = state.store.dictionary_entries().await?;
    let backup = state.store.backup_schedule().await?;
    let last_backup = state.store.last_backup().await?;
    let mut dictionaries: Vec<DictLine> = vec![];
    for e in entries {
        match dictionaries.last_mut() {
            Some(d) if d.kind == e.kind => d.values.push((e.label, e.active)),
            _ => dictionaries.push(DictLine {
                title: dict_title(&e.kind),
                kind: e.kind,
                values: vec![(e.label, e.active)],
            }),
        }
    }
    let page = SettingsPage {
        frame: Frame::of(state, s).await,
        deadlines,
        blank_rows: 2,
        measures: anju_domain::campaign::Measure::ALL
            .iter()
            .map(|m| (m.code(), m.label()))
            .collect(),
        security,
        dictionaries,
        backup,
        last_backup,
        tiles: state.store.map_tiles().await?,
        error,
        saved,
    };
    Ok(render(&page, status))
}

pub async fn settings(State(state): State<AppState>, LoggedIn(s): LoggedIn) -> PageResult {
    settings_page(&state, &s, None, None, StatusCode::OK).await
}

async fn settings_outcome(
    state: &AppState,
    s: &anju_store::Session,
    r: Result<(), AuthError>,
    what: &str,
) -> PageResult {
    match r {
        Ok(()) => {
            settings_page(
                state,
                s,
                None,
                Some(format!("{what}已保存")),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let (m, status) = refusal(e)?;
            settings_page(state, s, Some(m), None, status).await
        }
    }
}

/// Phase deadlines: rows of phase / due / overdue; blank rows are ignored.
pub async fn save_deadlines(Ctx { state, caller }: Ctx, body: Bytes) -> PageResult {
    let (s, source) = (&caller.session, &caller.source);
    let p = pairs(&body);
    let col = |k: &str| {
        p.iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .collect::<Vec<_>>()
    };
    let (phases, dues, overdue) = (col("phase"), col("due"), col("overdue"));
    let measures = col("measure");
    let mut rows = vec![];
    for (i, phase) in phases.iter().enumerate() {
        let due = dues.get(i).map_or("", String::as_str);
        if phase.is_empty() && due.is_empty() {
            continue;
        }
        let Ok(due) = NaiveDate::parse_from_str(due, "%Y-%m-%d") else {
            let msg = format!("第 {} 行“{phase}”的截止日期无效（如 2024-06-30）", i + 1);
            return settings_page(&state, s, Some(msg), None, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        };
        rows.push(Deadline {
            phase: phase.clone(),
            due,
            overdue: overdue.get(i).cloned().unwrap_or_default(),
            measure: measures
                .get(i)
                .and_then(|m| anju_domain::campaign::Measure::from_code(m)),
        });
    }
    let r = state.store.set_deadlines(&s.principal, &rows, source).await;
    settings_outcome(&state, s, r, "阶段时限").await
}

/// The password and session policy.
pub async fn save_security(Ctx { state, caller }: Ctx, body: Bytes) -> PageResult {
    let (s, source) = (&caller.session, &caller.source);
    let p = pairs(&body);
    let current = state.store.security().await?;
    let num = |k: &str, lo: i64, hi: i64, label: &str| -> Result<i64, String> {
        field(&p, k)
            .parse::<i64>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .ok_or_else(|| format!("“{label}”须为 {lo} 至 {hi} 之间的整数"))
    };
    let parsed = (|| -> Result<Security, String> {
        let mut n = current.clone();
        n.password.min_length = num("min_length", 8, 64, "密码最短长度")? as usize;
        n.password.min_classes = num("min_classes", 2, 4, "字符类别数")? as usize;
        n.password.history = num("history", 0, 24, "不得重复使用的历史密码数")? as usize;
        n.password.max_age_days = num("max_age_days", 0, 365, "密码有效天数")?;
        n.session.max_failures = num("max_failures", 3, 20, "连续失败次数")?;
        n.session.lock_minutes = num("lock_minutes", 1, 1440, "锁定分钟数")?;
        n.session.idle_minutes = num("idle_minutes", 5, 240, "空闲超时分钟数")?;
        n.session.absolute_hours = num("absolute_hours", 1, 24, "会话最长小时数")?;
        n.session.totp_required_for_signers = field(&p, "totp_required_for_signers") == "true";
        Ok(n)
    })();
    match parsed {
        Ok(n) => {
            let r = state.store.set_security(&s.principal, &n, source).await;
            settings_outcome(&state, s, r, "安全策略").await
        }
        Err(m) => settings_page(&state, s, Some(m), None, StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

/// The backup schedule: on or off, time of day (Beijing), how many to keep.
pub async fn save_backup(Ctx { state, caller }: Ctx, body: Bytes) -> PageResult {
    let (s, source) = (&caller.session, &caller.source);
    let p = pairs(&body);
    let keep = match field(&p, "keep").parse::<u32>() {
        Ok(k) => k,
        Err(_) => {
            return settings_page(
                &state,
                s,
                Some("“保留份数”须为 1 至 365 的整数".into()),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let schedule = anju_store::infra::backup::Schedule {
        enabled: field(&p, "enabled") == "true",
        time: field(&p, "time").to_string(),
        keep,
    };
    let r = state
        .store
        .set_backup_schedule(&s.principal, &schedule, source)
        .await;
    settings_outcome(&state, s, r, "自动备份设置").await
}

/// The map's base layer: a tile URL template and its attribution (empty: no base map).
pub async fn save_map(Ctx { state, caller }: Ctx, body: Bytes) -> PageResult {
    let (s, source) = (&caller.session, &caller.source);
    let p = pairs(&body);
    let r = state
        .store
        .set_map_tiles(
            &s.principal,
            field(&p, "url"),
            field(&p, "attribution"),
            source,
        )
        .await;
    settings_outcome(&state, s, r, "地图底图").await
}

/// Adds, retires or restores a dictionary value.
pub async fn save_dictionary(Ctx { state, caller }: Ctx, body: Bytes) -> PageResult {
    let (s, source) = (&caller.session, &caller.source);
    let p = pairs(&body);
    let active = field(&p, "op") != "retire";
    let r = state
        .store
        .set_dictionary_entry(
            &s.principal,
            field(&p, "kind"),
            field(&p, "label"),
            active,
            source,
        )
        .await;
    settings_outcome(&state, s, r, "字典").await
}

/// Accounts, settings, dictionaries and regions (the county office's 用户/设置).
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route("/admin/accounts", get(accounts).post(create))
        .route("/admin/accounts/{username}/{op}", post(act))
        .route("/admin/settings", get(settings))
        .route("/admin/regions", get(regions::show).post(regions::edit))
        .route("/admin/settings/deadlines", post(save_deadlines))
        .route("/admin/settings/backup", post(save_backup))
        .route("/admin/settings/map", post(save_map))
        .route("/admin/settings/security", post(save_security))
        .route("/admin/dictionaries", post(save_dictionary))
        .route("/audit", get(audit::show))
        .route("/audit.csv", get(audit::export_csv))
}
