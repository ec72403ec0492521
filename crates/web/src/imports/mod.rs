//! 台账导入 in the browser: the template downloads, an upload checked in the background (the
//! page shows its progress and refreshes itself), the report of every bad row, and — for a file
//! that passed — importing it. Jobs are kept in memory per server process, each visible only to
//! the account that started it.

pub mod pending;

use crate::AppState;
use crate::error::{PageError, PageResult};
use crate::houses::XLSX;
use crate::pages::{Frame, render};
use crate::session::{Ctx, LoggedIn};
use anju_import::{Outcome, Pass, Progress, Request, import_file};
use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Largest upload.
pub const IMPORT_LIMIT: usize = 200 * 1024 * 1024;

/// One import job.
#[derive(Clone)]
pub struct Job {
    pub owner: String,
    pub name: String,
    pub commit: bool,
    pub file: PathBuf,
    pub progress: Option<Progress>,
    pub outcome: Option<Result<Outcome, String>>,
}

/// The jobs of this server process.
#[derive(Clone, Default)]
pub struct Jobs {
    inner: Arc<Mutex<(u64, HashMap<u64, Job>)>>,
}

impl Jobs {
    fn add(&self, job: Job) -> u64 {
        let mut g = self.inner.lock().expect("not poisoned");
        g.0 += 1;
        let id = g.0;
        g.1.insert(id, job);
        id
    }

    fn get(&self, id: u64, owner: &str) -> Option<Job> {
        let g = self.inner.lock().expect("not poisoned");
        g.1.get(&id).filter(|j| j.owner == owner).cloned()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Job)) {
        if let Some(j) = self.inner.lock().expect("not poisoned").1.get_mut(&id) {
            f(j);
        }
    }

    fn of(&self, owner: &str) -> Vec<(u64, Job)> {
        let g = self.inner.lock().expect("not poisoned");
        let mut v: Vec<(u64, Job)> =
            g.1.iter()
                .filter(|(_, j)| j.owner == owner)
                .map(|(id, j)| (*id, j.clone()))
                .collect();
        v.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        v
    }
}

fn may_import(s: &anju_store::Session) -> bool {
    anju_domain::rules::may_register(s.principal.role)
}

pub struct JobLine {
    pub id: u64,
    pub name: String,
    pub state: String,
}

fn state_of(j: &Job) -> String {
    match (&j.outcome, j.progress) {
        (Some(Ok(o)), _) if o.written => "已导入".into(),
        (Some(Ok(o)), _) if o.error_count > 0 => format!("有 {} 行有误", o.error_count),
        (Some(Ok(_)), _) => "检查通过".into(),
        (Some(Err(e)), _) => format!("未能导入：{e}"),
        (None, Some(p)) => format!(
            "{}中（已处理 {} 行）",
            match p.pass {
                Pass::Check => "检查",
                Pass::Write => "写入",
            },
            p.rows
        ),
        (None, None) => "排队中".into(),
    }
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    frame: Frame,
    jobs: Vec<JobLine>,
    error: Option<String>,
}

/// The role may not import: 403.
fn import_denied() -> PageError {
    PageError::Denied("您的角色不能导入房屋台账".into())
}

pub async fn page(State(state): State<AppState>, LoggedIn(s): LoggedIn) -> PageResult {
    if !may_import(&s) {
        return Err(import_denied());
    }
    Ok(list(&state, &s, None, StatusCode::OK).await)
}

async fn list(
    state: &AppState,
    s: &anju_store::Session,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let jobs = state
        .imports
        .of(&s.principal.username)
        .into_iter()
        .map(|(id, j)| JobLine {
            id,
            state: state_of(&j),
            name: j.name,
        })
        .collect();
    let page = ImportPage {
        frame: Frame::of(state, s).await,
        jobs,
        error,
    };
    render(&page, status)
}

pub async fn template(
    State(state): State<AppState>,
    LoggedIn(_): LoggedIn,
    Path(kind): Path<String>,
) -> PageResult {
    let (bytes, mime, name) = match kind.as_str() {
        "template.xlsx" => (
            anju_import::template_xlsx(&state.store.reference().dictionaries)
                .map_err(|e| PageError::internal("import template", e))?,
            XLSX,
            "import-template.xlsx",
        ),
        "template.csv" => (
            anju_import::template_csv(),
            "text/csv; charset=utf-8",
            "import-template.csv",
        ),
        _ => return Err(PageError::not_found("没有这个模板")),
    };
    let ext = name.rsplit('.').next().unwrap_or("xlsx");
    Ok(crate::ledgers::attachment(
        mime,
        name,
        &format!("房屋台账导入模板.{ext}"),
        bytes,
    ))
}

/// How long an upload that passed its check waits to be imported. Jobs live in the server's
/// memory: after a restart, or after this long, the file is swept and must be uploaded again.
const UPLOAD_KEPT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes uploads in `dir` older than `age` (left by a check never followed by an import, or
/// by a restart).
fn sweep(dir: &std::path::Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let upload = path.extension().is_some_and(|x| x == "upload");
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed > age);
        if upload
            && old
            && let Err(err) = std::fs::remove_file(&path)
        {
            tracing::warn!(error = %err, "sweeping an old upload");
        }
    }
}

/// Starts a job in the background on `file`.
fn start(state: &AppState, s: &anju_store::Session, source: &str, job: Job) -> u64 {
    let id = state.imports.add(job.clone());
    let (state, who, source) = (state.clone(), s.principal.clone(), source.to_string());
    tokio::spawn(async move {
        let jobs = state.imports.clone();
        let mut progress = |p: Progress| jobs.update(id, |j| j.progress = Some(p));
        let outcome = import_file(
            &state.store,
            &who,
            &source,
            Request {
                path: &job.file,
                name: &job.name,
                commit: job.commit,
                evidence: Some(&state.evidence),
                limits: anju_sheet::Limits::default(),
            },
            &mut progress,
        )
        .await
        .map_err(|e| e.to_string());
        // A file that passed its check is kept for the import; otherwise it is not needed.
        let keep = matches!(&outcome, Ok(o) if !o.written && o.error_count == 0);
        if !keep {
            let _ = std::fs::remove_file(&job.file);
        }
        state.imports.update(id, |j| j.outcome = Some(outcome));
    });
    id
}

async fn too_large(state: &AppState, s: &anju_store::Session) -> Response {
    let message = format!("上传失败：文件不能超过 {} MB", IMPORT_LIMIT / 1024 / 1024);
    list(state, s, Some(message), StatusCode::PAYLOAD_TOO_LARGE).await
}

/// An upload: saved to a temporary file as it arrives, then checked (or checked and written).
/// An upload over the limit re-renders the page with the reason (413).
pub async fn upload(Ctx { state, caller }: Ctx, mut form: Multipart) -> PageResult {
    let s = &caller.session;
    if !may_import(s) {
        return Err(import_denied());
    }
    let dir = state.evidence.root().join("incoming");
    std::fs::create_dir_all(&dir).map_err(|e| PageError::internal("import upload dir", e))?;
    sweep(&dir, UPLOAD_KEPT);
    let mut saved: Option<(PathBuf, String)> = None;
    let mut commit = false;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return Ok(too_large(&state, s).await),
        };
        match field.name() {
            Some("mode") => commit = field.text().await.is_ok_and(|t| t == "commit"),
            Some("file") => {
                let name = field
                    .file_name()
                    .map(|n| n.rsplit(['/', '\\']).next().unwrap_or("").to_string())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "台账".into());
                let path = dir.join(format!(
                    "import-{}.upload",
                    hex::encode(anju_store::infra::vault::random_bytes::<8>())
                ));
                let mut field = field;
                let mut out = tokio::fs::File::create(&path)
                    .await
                    .map_err(|e| PageError::internal("import upload file", e))?;
                use tokio::io::AsyncWriteExt;
                loop {
                    match field.chunk().await {
                        Ok(Some(bytes)) => {
                            if let Err(e) = out.write_all(&bytes).await {
                                let _ = tokio::fs::remove_file(&path).await;
                                return Err(PageError::internal("import upload write", e));
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            let _ = tokio::fs::remove_file(&path).await;
                            return Ok(too_large(&state, s).await);
                        }
                    }
                }
                let _ = out.flush().await;
                saved = Some((path, name));
            }
            _ => {}
        }
    }
    let Some((file, name)) = saved else {
        return Ok(list(
            &state,
            s,
            Some("请选择要导入的 Excel（xlsx）或 CSV 文件".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await);
    };
    let id = start(
        &state,
        s,
        &caller.source,
        Job {
            owner: s.principal.username.clone(),
            name,
            commit,
            file,
            progress: None,
            outcome: None,
        },
    );
    Ok(Redirect::to(&format!("/import/jobs/{id}")).into_response())
}

pub struct ErrorLine {
    pub row: usize,
    pub message: String,
}

#[derive(Template)]
#[template(path = "import_job.html")]
struct JobPage {
    frame: Frame,
    id: u64,
    name: String,
    state: String,
    running: bool,
    outcome: Option<Outcome>,
    errors: Vec<ErrorLine>,
    may_commit: bool,
}

/// A job of someone else's, or of a server process that has since restarted, is not there.
fn no_job() -> PageError {
    PageError::not_found("没有这个导入任务")
}

#[tracing::instrument(skip_all, fields(job = id))]
pub async fn job(
    State(state): State<AppState>,
    LoggedIn(s): LoggedIn,
    Path(id): Path<u64>,
) -> PageResult {
    let j = state
        .imports
        .get(id, &s.principal.username)
        .ok_or_else(no_job)?;
    let outcome = j.outcome.clone().and_then(Result::ok);
    let page = JobPage {
        frame: Frame::of(&state, &s).await,
        id,
        state: state_of(&j),
        running: j.outcome.is_none(),
        may_commit: outcome
            .as_ref()
            .is_some_and(|o| !o.written && o.error_count == 0 && !j.commit && o.report.rows > 0),
        errors: outcome
            .as_ref()
            .map(|o| {
                o.report
                    .errors
                    .iter()
                    .map(|e| ErrorLine {
                        row: e.row,
                        message: e.message.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        outcome,
        name: j.name,
    };
    Ok(render(&page, StatusCode::OK))
}

/// Imports a file whose check passed.
#[tracing::instrument(skip_all, fields(job = id))]
pub async fn commit(Ctx { state, caller }: Ctx, Path(id): Path<u64>) -> PageResult {
    let j = state
        .imports
        .get(id, &caller.principal().username)
        .ok_or_else(no_job)?;
    let passed = matches!(&j.outcome, Some(Ok(o)) if !o.written && o.error_count == 0);
    if !passed || !j.file.is_file() {
        return Err(PageError::Conflict(
            "只有检查通过的文件才能导入，请重新上传".into(),
        ));
    }
    let new = start(
        &state,
        &caller.session,
        &caller.source,
        Job {
            commit: true,
            progress: None,
            outcome: None,
            ..j
        },
    );
    Ok(Redirect::to(&format!("/import/jobs/{new}")).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ExportQuery {
    /// `1`: personal data in full (accounts that may export it; audited).
    reveal: String,
}

/// The houses the account reads, in the national platform's five blocks (the import template's
/// columns), xlsx or CSV; personal data masked unless revealed.
pub async fn national(
    Ctx { state, caller }: Ctx,
    Path(file): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ExportQuery>,
) -> PageResult {
    let csv = match file.as_str() {
        "national.xlsx" => false,
        "national.csv" => true,
        _ => return Err(PageError::not_found("没有这种导出")),
    };
    let reveal = q.reveal == "1";
    let rows =
        anju_import::export::rows(&state.store, caller.principal(), &caller.source, reveal).await?;
    let (bytes, mime) = if csv {
        (anju_import::export::csv(&rows), "text/csv; charset=utf-8")
    } else {
        let xlsx = tokio::task::spawn_blocking(move || anju_import::export::xlsx(&rows))
            .await
            .map_err(|e| PageError::internal("national xlsx", e))?
            .map_err(|e| PageError::internal("national xlsx", e))?;
        (xlsx, XLSX)
    };
    let ext = if csv { "csv" } else { "xlsx" };
    // Audited by `export::rows`.
    Ok(crate::ledgers::attachment(
        mime,
        &format!("houses-national.{ext}"),
        &format!("自建房信息.{ext}"),
        bytes,
    ))
}

/// Ledger imports, their templates and the national-platform exports.
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route(
            "/import",
            get(page)
                .post(upload)
                .layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/import/{file}", get(template))
        .route("/export/{file}", get(national))
        .route("/import/jobs/{id}", get(job))
        .route("/import/jobs/{id}/commit", post(commit))
        .route("/imports/pending", get(pending::list).post(pending::decide))
        .route("/imports/cutover", post(pending::cut_over))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sweeping_removes_only_old_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("import-1.upload");
        let other = dir.path().join("notes.txt");
        std::fs::write(&old, b"x").unwrap();
        std::fs::write(&other, b"x").unwrap();
        super::sweep(dir.path(), std::time::Duration::from_secs(3600));
        assert!(old.exists(), "a fresh upload stays");
        std::thread::sleep(std::time::Duration::from_millis(20));
        super::sweep(dir.path(), std::time::Duration::from_millis(10));
        assert!(!old.exists(), "an old upload goes");
        assert!(other.exists(), "only uploads are swept");
    }
}
