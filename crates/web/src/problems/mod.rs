//! 问题台账 pages: the list with each town's 问题确认率 and 问题整改率; issuing a batch from the
//! problem list a higher level sent (xlsx or CSV, matched to houses by any identifier, refused
//! whole with every bad row named); a problem's page with its history and the steps this account
//! may take, with evidence uploads.

use crate::AppState;
use crate::error::{NotFoundAs, PageError, PageResult};
use crate::pages::{Frame, render};
use crate::session::{Caller, Ctx};
use anju_domain::Coded;
use anju_domain::RegionCode;
use anju_domain::auth::Action;
use anju_domain::event::{Evidence, EvidenceKind};
use anju_domain::problem::{
    ProblemAction, ProblemCategory, ProblemSource, ProblemStatus, decide_problem,
};
use anju_store::StoreError;
use anju_store::campaign::problems::{NewBatch, NewProblem};
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;

use chrono::NaiveDate;
use serde::Deserialize;

/// Largest problem list accepted (a few thousand rows fit in far less).
pub const LIST_LIMIT: usize = 5 * 1024 * 1024;

pub struct Line {
    pub id: i64,
    pub batch: String,
    pub source: String,
    pub town: String,
    pub house: String,
    pub category: String,
    pub description: String,
    pub deadline: String,
    /// Days past the deadline while the problem is still open (0 otherwise).
    pub days_over: i64,
    pub status: String,
}

pub struct RateLine {
    pub town: String,
    pub total: u64,
    pub with_verdict: u64,
    pub found_true: u64,
    pub closed: u64,
    pub confirmation: String,
    pub rectification: String,
}

#[derive(Template)]
#[template(path = "problems.html")]
struct ListPage {
    frame: Frame,
    lines: Vec<Line>,
    pager: crate::pages::Pager,
    rates: Vec<RateLine>,
    statuses: Vec<(String, String)>,
    status: String,
    may_issue: bool,
    sources: Vec<(String, String)>,
    today: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    status: String,
    page: String,
    size: String,
}

/// The name of the region with `code`, or the code itself when the reference data has none.
pub(crate) fn town_name(state: &AppState, code: &str) -> String {
    state.store.reference().region_name(code)
}

/// Where a house is, as the lists show it: "镇街 · 村（社区）".
pub(crate) fn place(state: &AppState, town: &str, village: &str) -> String {
    format!("{} · {}", town_name(state, town), town_name(state, village))
}

/// A problem as the pages show it.
fn line(state: &AppState, p: &anju_store::campaign::problems::Problem) -> Line {
    Line {
        id: p.id,
        batch: format!("{}（{}）", p.batch_name, p.issued_on),
        source: p.source.label().into(),
        town: town_name(state, &p.town_code),
        house: p.house_code.clone().unwrap_or_default(),
        category: p.category.label().into(),
        description: p.description.clone(),
        deadline: p.deadline.map(|d| d.to_string()).unwrap_or_default(),
        days_over: match p.deadline {
            Some(d) if p.status.is_open() => {
                let today = state.store.today();
                (-anju_domain::campaign::days_left(d, today)).max(0)
            }
            _ => 0,
        },
        status: p.status.label().into(),
    }
}

async fn list_page(
    state: &AppState,
    caller: &Caller,
    (status, page, size): (Option<ProblemStatus>, u64, u64),
    error: Option<String>,
    code: StatusCode,
) -> PageResult {
    let s = &caller.session;
    let access = caller.access(&state.store);
    let (problems, total) = access
        .problems_page(status, (page, size))
        .await
        .not_found_as("没有可查看的问题")?;
    let status_code = status.map(|x| x.code().to_string()).unwrap_or_default();
    let pager = crate::pages::Pager::new(
        "/problems",
        &[("status", status_code.clone())],
        total,
        page,
        size,
    );
    let counts = access
        .problem_counts()
        .await
        .not_found_as("没有可查看的问题")?;
    let lines = problems.iter().map(|p| line(state, p)).collect();
    let rates = counts
        .iter()
        .map(|(town, c)| RateLine {
            town: town_name(state, town),
            total: c.total,
            with_verdict: c.with_verdict,
            found_true: c.found_true,
            closed: c.closed,
            confirmation: c.confirmation_rate().display(),
            rectification: c.rectification_rate().display(),
        })
        .collect();
    let page = ListPage {
        frame: Frame::of(state, s).await,
        lines,
        pager,
        rates,
        statuses: ProblemStatus::ALL
            .iter()
            .map(|x| (x.code().to_string(), x.label().to_string()))
            .collect(),
        status: status_code,
        may_issue: s.principal.may(Action::IssueProblems),
        sources: ProblemSource::ALL
            .iter()
            .map(|x| (x.code().to_string(), x.label().to_string()))
            .collect(),
        today: state.store.today().to_string(),
        error,
    };
    Ok(render(&page, code))
}

pub async fn list(Ctx { state, caller }: Ctx, Query(q): Query<ListQuery>) -> PageResult {
    let status = ProblemStatus::parse(&q.status);
    let page = (
        status,
        crate::pages::page_number(&q.page),
        crate::pages::page_size(&q.size, 50),
    );
    list_page(&state, &caller, page, None, StatusCode::OK).await
}

/// The rows of an uploaded problem list, read like a house ledger (`anju-sheet`: xlsx or CSV in
/// UTF-8 or GBK, told by content; hostile files refused with a reason), blank rows kept so row
/// numbers stay as Excel shows them.
fn sheet_rows(dir: &std::path::Path, bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let failed = |e: std::io::Error| {
        tracing::error!(error = %e, "problem list upload");
        "上传的文件无法保存，请稍后重试".to_string()
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let file = tempfile::Builder::new()
        .prefix("problems-")
        .suffix(".upload")
        .tempfile_in(dir)
        .map_err(failed)?;
    std::fs::write(file.path(), bytes).map_err(failed)?;
    let mut out: Vec<Vec<String>> = vec![];
    for row in anju_sheet::open(file.path(), &anju_sheet::Limits::default())
        .map_err(|e| e.message().to_string())?
    {
        let row = row.map_err(|e| e.message().to_string())?;
        while out.len() + 1 < row.number {
            out.push(vec![]);
        }
        out.push(
            row.cells
                .into_iter()
                .map(|c| c.trim().to_string())
                .collect(),
        );
    }
    Ok(out)
}

/// The problems of an uploaded list, or every bad row named. Columns by header: 镇街 and 问题描述
/// required; 房屋编号 (plaque code, platform code or census id), 问题类别, 整改时限 optional.
fn parse_list(state: &AppState, bytes: &[u8]) -> Result<Vec<NewProblem>, String> {
    let rows = sheet_rows(&state.evidence.root().join("incoming"), bytes)?;
    let header = rows.first().ok_or("文件为空")?;
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.trim() == *n))
    };
    let town_col = col(&["镇街", "镇（街道）", "乡镇"]).ok_or("缺少“镇街”列")?;
    let text_col = col(&["问题描述", "问题"]).ok_or("缺少“问题描述”列")?;
    let house_col = col(&["房屋编号", "房屋编码", "归集平台编码", "普查编号"]);
    let cat_col = col(&["问题类别", "类别"]);
    let due_col = col(&["整改时限", "整改期限"]);
    let reference = state.store.reference();
    let mut out = vec![];
    let mut errors = vec![];
    for (i, r) in rows.iter().enumerate().skip(1) {
        let line = i + 1;
        let cell = |c: Option<usize>| c.and_then(|c| r.get(c)).map_or("", |s| s.trim());
        if r.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let t = cell(Some(town_col));
        let town = RegionCode::parse(t).ok().or_else(|| {
            reference
                .regions
                .iter()
                .find(|x| x.level == anju_domain::RegionLevel::Town && x.name == t)
                .map(|x| x.code)
        });
        let Some(town) = town else {
            errors.push(format!(
                "第 {line} 行：镇街“{t}”无法识别（请填写本县镇街的名称，如“{}”，或其代码）",
                reference
                    .regions
                    .iter()
                    .find(|x| x.level == anju_domain::RegionLevel::Town)
                    .map_or("某某镇", |x| x.name.as_str())
            ));
            continue;
        };
        let category = match cell(cat_col) {
            "" => ProblemCategory::Other,
            c => match ProblemCategory::parse(c) {
                Some(x) => x,
                None => {
                    let known: Vec<&str> = ProblemCategory::ALL.iter().map(|x| x.label()).collect();
                    errors.push(format!(
                        "第 {line} 行：问题类别“{c}”无法识别（可填：{}）",
                        known.join("、")
                    ));
                    continue;
                }
            },
        };
        let deadline = match cell(due_col) {
            "" => None,
            d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(format!(
                        "第 {line} 行：整改时限“{d}”不是日期（如 2024-06-15）"
                    ));
                    continue;
                }
            },
        };
        out.push(NewProblem {
            row_no: line as u32,
            town,
            house: Some(cell(house_col).to_string()).filter(|h| !h.is_empty()),
            category,
            description: cell(Some(text_col)).to_string(),
            deadline,
        });
    }
    if !errors.is_empty() {
        return Err(format!(
            "问题清单有 {} 行不能导入，未写入任何数据：{}",
            errors.len(),
            errors.join("；")
        ));
    }
    if out.is_empty() {
        return Err("问题清单没有数据行".into());
    }
    Ok(out)
}

/// The problem list's template: its columns, and one example row naming a real town of the
/// county and a category as the list accepts them.
pub async fn template(
    State(state): State<AppState>,
    crate::session::LoggedIn(_): crate::session::LoggedIn,
) -> PageResult {
    let town = state
        .store
        .reference()
        .regions
        .iter()
        .find(|x| x.level == anju_domain::RegionLevel::Town && x.valid_to.is_none())
        .map_or_else(|| "某某镇".to_string(), |x| x.name.clone());
    let bytes = anju_render::list_csv(
        &["镇街", "房屋编号", "问题类别", "问题描述", "整改时限"],
        &[vec![
            town,
            String::new(),
            ProblemCategory::WrongJudgement.label().to_string(),
            "（示例，导入前请删除本行）房屋存在明显裂缝，初判为无隐患".to_string(),
            (state.store.today() + chrono::Duration::days(30)).to_string(),
        ]],
    );
    Ok(crate::ledgers::attachment(
        "text/csv; charset=utf-8",
        "problem-list-template.csv",
        "问题清单模板.csv",
        bytes,
    ))
}

/// Issues a batch from an uploaded list (county office, inspectors).
pub async fn issue(Ctx { state, caller }: Ctx, mut form: Multipart) -> PageResult {
    let mut fields = std::collections::HashMap::new();
    let mut file = None;
    while let Ok(Some(f)) = form.next_field().await {
        let name = f.name().unwrap_or("").to_string();
        if name == "file" {
            let b = f
                .bytes()
                .await
                .map_err(|_| PageError::TooLarge("文件过大（不超过 5 MB）".into()))?;
            file = Some(b.to_vec());
        } else if let Ok(t) = f.text().await {
            fields.insert(name, t.trim().to_string());
        }
    }
    let field = |k: &str| fields.get(k).map_or("", String::as_str);
    let refuse = |m: String| {
        list_page(
            &state,
            &caller,
            (None, 1, 50),
            Some(m),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if !caller.principal().may(Action::IssueProblems) {
        return Err(PageError::Denied("您的角色不能下发问题".into()));
    }
    let Some(src) = ProblemSource::parse(field("source")) else {
        return refuse("请选择问题来源".into()).await;
    };
    let Ok(issued_on) = NaiveDate::parse_from_str(field("issued_on"), "%Y-%m-%d") else {
        return refuse("请填写下发日期".into()).await;
    };
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return refuse("请选择问题清单文件（Excel 或 CSV）".into()).await;
    };
    let problems = match parse_list(&state, &bytes) {
        Ok(p) => p,
        Err(m) => return refuse(m).await,
    };
    let batch = NewBatch {
        source: src,
        name: field("name").to_string(),
        issued_on,
    };
    match caller
        .access(&state.store)
        .issue_problems(&batch, &problems)
        .await
    {
        Err(StoreError::Invalid(m)) => return refuse(m).await,
        r => {
            r.not_found_as("没有可查看的问题")?;
        }
    }
    Ok(crate::flash::redirect_with("/problems", "已下发问题清单"))
}

pub struct StepLine {
    pub at: String,
    pub action: String,
    pub to: String,
    pub actor: String,
    pub detail: String,
    pub evidence: Vec<String>,
}

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage {
    frame: Frame,
    id: i64,
    version: i32,
    line: Line,
    steps: Vec<StepLine>,
    /// (action code, label, needs text, needs files)
    actions: Vec<(String, String, bool, bool)>,
    error: Option<String>,
}

/// The actions the rules would accept from this account now (asked of `decide_problem`).
fn offered(status: ProblemStatus, s: &anju_store::Session) -> Vec<(String, String, bool, bool)> {
    let samples = [
        ProblemAction::Confirm,
        ProblemAction::Dispute { reason: "x".into() },
        ProblemAction::StartRectify,
        ProblemAction::ReportFixed { note: "x".into() },
        ProblemAction::AcceptDispute,
        ProblemAction::RejectDispute { reason: "x".into() },
        ProblemAction::Verify,
        ProblemAction::ReturnFix { reason: "x".into() },
    ];
    let allowed = |a: &ProblemAction| {
        s.principal.may(if a.by_issuer() {
            Action::IssueProblems
        } else {
            Action::HandleProblems
        })
    };
    samples
        .iter()
        .filter(|a| allowed(a) && decide_problem(status, a, s.principal.role, 1).is_ok())
        .map(|a| {
            let text = matches!(
                a,
                ProblemAction::Dispute { .. }
                    | ProblemAction::RejectDispute { .. }
                    | ProblemAction::ReportFixed { .. }
                    | ProblemAction::ReturnFix { .. }
            );
            let files = matches!(
                a,
                ProblemAction::Dispute { .. } | ProblemAction::ReportFixed { .. }
            );
            (a.code().to_string(), a.label().to_string(), text, files)
        })
        .collect()
}

async fn problem_page(
    state: &AppState,
    caller: &Caller,
    id: i64,
    error: Option<String>,
    code: StatusCode,
) -> PageResult {
    let s = &caller.session;
    let (p, steps) = caller
        .access(&state.store)
        .problem(id)
        .await
        .not_found_as("该问题不存在或不在您的辖区内")?;
    let page = ProblemPage {
        frame: Frame::of(state, s).await,
        id,
        version: p.version,
        actions: offered(p.status, s),
        line: line(state, &p),
        steps: steps
            .iter()
            .map(|x| {
                let detail: Option<ProblemAction> = serde_json::from_str(&x.detail).ok();
                StepLine {
                    at: x
                        .at
                        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    action: detail
                        .as_ref()
                        .map_or_else(|| x.action.clone(), |a| a.label().to_string()),
                    to: x.to.label().into(),
                    actor: x.actor_name.clone(),
                    detail: match detail {
                        Some(
                            ProblemAction::Dispute { reason }
                            | ProblemAction::RejectDispute { reason }
                            | ProblemAction::ReturnFix { reason },
                        ) => reason,
                        Some(ProblemAction::ReportFixed { note }) => note,
                        _ => String::new(),
                    },
                    evidence: x
                        .evidence
                        .iter()
                        .map(|e| format!("{}：{}", e.kind.label(), e.name))
                        .collect(),
                }
            })
            .collect(),
        error,
    };
    Ok(render(&page, code))
}

#[tracing::instrument(skip_all, fields(problem = id))]
pub async fn show(Ctx { state, caller }: Ctx, Path(id): Path<i64>) -> PageResult {
    problem_page(&state, &caller, id, None, StatusCode::OK).await
}

/// One step on a problem (multipart: the text and any evidence files).
#[tracing::instrument(skip_all, fields(problem = id))]
pub async fn act(
    Ctx { state, caller }: Ctx,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> PageResult {
    let mut fields = std::collections::HashMap::new();
    let mut files = vec![];
    while let Ok(Some(f)) = form.next_field().await {
        let name = f.name().unwrap_or("").to_string();
        if name == "files" {
            let fname = f
                .file_name()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect::<String>();
            let b = f
                .bytes()
                .await
                .map_err(|_| PageError::TooLarge("上传内容过大".into()))?;
            if !b.is_empty() {
                files.push((fname, b.to_vec()));
            }
        } else if let Ok(t) = f.text().await {
            fields.insert(name, t.trim().to_string());
        }
    }
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let text = field("text");
    let action = match field("action").as_str() {
        "confirm" => ProblemAction::Confirm,
        "dispute" => ProblemAction::Dispute { reason: text },
        "accept_dispute" => ProblemAction::AcceptDispute,
        "reject_dispute" => ProblemAction::RejectDispute { reason: text },
        "start_rectify" => ProblemAction::StartRectify,
        "report_fixed" => ProblemAction::ReportFixed { note: text },
        "verify" => ProblemAction::Verify,
        "return_fix" => ProblemAction::ReturnFix { reason: text },
        other => return Err(PageError::refused(format!("未知操作：{other}"))),
    };
    let Ok(version) = field("version").parse::<i32>() else {
        return Err(PageError::refused("表单缺少版本，请刷新后重试"));
    };
    // Scope first: nothing is stored for a problem the account cannot see.
    let access = caller.access(&state.store);
    access
        .problem(id)
        .await
        .not_found_as("该问题不存在或不在您的辖区内")?;
    let mut evidence = vec![];
    for (name, bytes) in files {
        match state.store_evidence(bytes).await {
            Ok(st) => evidence.push(Evidence {
                sha256: st.sha256,
                kind: EvidenceKind::Other,
                name: if name.is_empty() {
                    "佐证材料".into()
                } else {
                    name
                },
            }),
            Err(m) => {
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                return problem_page(&state, &caller, id, Some(m), status).await;
            }
        }
    }
    match access.act_on_problem(id, version, &action, &evidence).await {
        Err(StoreError::Rule(v)) => {
            let status = if v.code == anju_domain::RuleCode::V1 {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            return problem_page(&state, &caller, id, Some(v.to_string()), status).await;
        }
        r => {
            r.not_found_as("该问题不存在或不在您的辖区内")?;
        }
    }
    Ok(crate::flash::redirect_with(
        &format!("/problems/{id}"),
        "已保存",
    ))
}

/// Problems (问题清单): issuing, the list and each problem's rectification.
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route("/problems/template.csv", get(template))
        .route(
            "/problems",
            get(list)
                .post(issue)
                .layer(axum::extract::DefaultBodyLimit::max(LIST_LIMIT)),
        )
        .route("/problems/{id}", get(show))
        .route(
            "/problems/{id}/act",
            post(act).layer(axum::extract::DefaultBodyLimit::max(
                crate::houses::steps::UPLOAD_LIMIT,
            )),
        )
}
