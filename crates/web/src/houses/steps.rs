//! Forms for the lifecycle steps. Which steps a house offers an account comes from
//! `anju_domain::offer` (the rules themselves); what is recorded is decided by the rules again
//! on submit. A refusal shows the rule in words and keeps what was typed; a stale form says
//! who changed the house and when, and offers to reload.

use crate::AppState;
use crate::error::{PageError, PageResult};
use crate::houses::house_code;
use crate::pages::Frame;
use crate::session::{Caller, Ctx};
use anju_domain::Coded;
use anju_domain::dict::ClosureBasis;
use anju_domain::event::{ChangeKind, Command, Evidence, EvidenceKind};
use anju_domain::offer::offer;
use anju_domain::rules::beijing_date;
use anju_domain::steps::{self, CodeSet, Entry, Prefill, StepField, Value, upload_field};
use anju_domain::{HouseCode, RuleCode};
use anju_store::StoreError;
use askama::Template;
use axum::extract::{FromRequest, Multipart, Path, Request};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// How a field is entered.
pub enum Input {
    Text,
    Date,
    Area,
    Select(Vec<(String, String)>),
    Checks(Vec<(String, String)>),
    /// Evidence files of one kind (photos from the camera or the gallery, scans, PDFs).
    Files(EvidenceKind),
    /// Filled by the page's script, not typed (the accuracy of 「获取当前位置」).
    Hidden,
}

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub required: bool,
    pub values: Vec<String>,
}

impl Field {
    /// A field with nothing entered yet.
    pub(crate) fn new(
        name: &'static str,
        label: &'static str,
        input: Input,
        required: bool,
    ) -> Field {
        Field {
            name,
            label,
            input,
            required,
            values: vec![],
        }
    }

    pub fn value(&self) -> &str {
        self.values.first().map_or("", String::as_str)
    }

    pub fn has(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    pub fn is_text(&self) -> bool {
        matches!(self.input, Input::Text)
    }
    pub fn is_date(&self) -> bool {
        matches!(self.input, Input::Date)
    }
    pub fn is_area(&self) -> bool {
        matches!(self.input, Input::Area)
    }
    pub fn options(&self) -> &[(String, String)] {
        match &self.input {
            Input::Select(o) | Input::Checks(o) => o,
            _ => &[],
        }
    }
    pub fn is_select(&self) -> bool {
        matches!(self.input, Input::Select(_))
    }
    pub fn is_checks(&self) -> bool {
        matches!(self.input, Input::Checks(_))
    }
    pub fn is_files(&self) -> bool {
        matches!(self.input, Input::Files(_))
    }
    pub fn is_hidden(&self) -> bool {
        matches!(self.input, Input::Hidden)
    }
    /// What the file picker offers: photos only, or photos and PDFs.
    pub fn accept(&self) -> &'static str {
        match self.input {
            Input::Files(
                EvidenceKind::Photo | EvidenceKind::PhotoBefore | EvidenceKind::PhotoAfter,
            ) => "image/jpeg,image/png,image/webp",
            _ => "image/jpeg,image/png,image/webp,application/pdf",
        }
    }
}

/// A dictionary's values as select options (value and label are the label).
pub(crate) fn dict_opts(state: &AppState, k: &str) -> Vec<(String, String)> {
    state
        .store
        .reference()
        .dictionaries
        .values(k)
        .iter()
        .map(|v| (v.clone(), v.clone()))
        .collect()
}

/// The steps that have a form here: those with a table in the domain.
pub use anju_domain::steps::has_form;

/// A step's form, built from its table; coded options from the domain, dictionary options from
/// `dict` (the county's reference data), closure bases standing for the house marked.
fn fields(
    k: ChangeKind,
    dict: impl Fn(&str) -> Vec<(String, String)>,
    standing: &[ClosureBasis],
) -> Vec<Field> {
    let owned = |o: Vec<(&str, &str)>| {
        o.into_iter()
            .map(|(c, l)| (c.to_string(), l.to_string()))
            .collect()
    };
    steps::fields(k)
        .map(|f| {
            let input = match f.entry {
                Entry::Text | Entry::Decimal => Input::Text,
                Entry::LongText => Input::Area,
                Entry::Date => Input::Date,
                Entry::Hidden => Input::Hidden,
                Entry::Coded(set) => Input::Select(owned(set.options())),
                Entry::CodedMany(set) => Input::Checks(owned(set.options())),
                Entry::Dict(d) => Input::Select(dict(d)),
                Entry::DictMany(d) => Input::Checks(dict(d)),
                Entry::Basis => Input::Select(
                    steps::basis_options(standing)
                        .into_iter()
                        .map(|(c, l)| (c.to_string(), l))
                        .collect(),
                ),
                Entry::YesNo { no, yes } => {
                    Input::Select(owned(vec![("false", no), ("true", yes)]))
                }
                Entry::Flag(word) => Input::Checks(owned(vec![("true", word)])),
                Entry::Files(k) => Input::Files(k),
            };
            Field::new(f.name, f.label, input, f.required)
        })
        .collect()
}

pub(crate) type Posted = BTreeMap<String, Vec<String>>;

/// The first value posted as `k`, trimmed; `None` when absent or empty.
pub(crate) fn one(p: &Posted, k: &str) -> Option<String> {
    p.get(k)
        .and_then(|v| v.first())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn number(v: &str, label: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("“{label}”须为数字，如 116.397128"))
}

fn date(v: &str, label: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| format!("“{label}”须为日期，如 2024-05-01"))
}

/// A field's posted value, typed by the table; `None` when left empty.
fn value(p: &Posted, f: &StepField) -> Result<Option<Value>, String> {
    let label = f.short_label();
    let invalid = |v: &str| format!("“{label}”的值无效：{v}");
    let list = || {
        p.get(f.name)
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
    };
    let value = match (f.entry, one(p, f.name)) {
        (Entry::Files(_), _) => None,
        // Lists and ticks are always given (empty, unticked): the rules say why an empty
        // list is refused.
        (Entry::CodedMany(set), _) => Some(Value::List(
            list()
                .iter()
                .map(|v| set.parse(v).map(String::from).ok_or_else(|| invalid(v)))
                .collect::<Result<_, _>>()?,
        )),
        (Entry::DictMany(_), _) => Some(Value::List(list())),
        (Entry::Flag(_), v) => Some(Value::Bool(v.is_some())),
        (_, None) => None,
        (Entry::Text | Entry::LongText | Entry::Dict(_), Some(v)) => Some(Value::Text(v)),
        (Entry::Date, Some(v)) => Some(Value::Date(date(&v, label)?)),
        (Entry::Decimal | Entry::Hidden, Some(v)) => Some(Value::Number(number(&v, label)?)),
        (Entry::Coded(set), Some(v)) => {
            Some(Value::Code(set.parse(&v).ok_or_else(|| invalid(&v))?))
        }
        (Entry::Basis, Some(v)) => Some(Value::Code(
            CodeSet::of::<ClosureBasis>()
                .parse(&v)
                .ok_or_else(|| invalid(&v))?,
        )),
        (Entry::YesNo { .. }, Some(v)) => Some(Value::Bool(match v.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(invalid(&v)),
        })),
    };
    match value {
        None if f.required && f.is_choice() => Err(format!("请选择“{label}”")),
        None if f.required => Err(format!("请填写“{label}”")),
        v => Ok(v),
    }
}

/// The posted form as a command (parse, don't validate: the rules validate), read field by
/// field from the step's table.
fn command(
    code: &HouseCode,
    k: ChangeKind,
    p: &Posted,
    evidence: Vec<Evidence>,
) -> Result<Command, String> {
    let version: u32 = one(p, "version")
        .and_then(|v| v.parse().ok())
        .ok_or("表单缺少房屋版本，请重新打开")?;
    let mut values = vec![];
    for f in steps::fields(k) {
        if let Some(v) = value(p, f)? {
            values.push((f, v));
        }
    }
    let filled = steps::fill(k, &values)?;
    Ok(Command {
        house: code.clone(),
        expected_version: version,
        change: filled.change,
        effective: filled.effective,
        reason: filled.reason,
        evidence,
    })
}

/// Evidence already stored for a form that is shown again (after a refusal): kept, so that
/// photos need not be taken again. The tag binds it to the session, so a form cannot claim a
/// file it did not upload.
pub struct Kept {
    pub evidence: Evidence,
    pub tag: String,
    pub is_image: bool,
}

impl Kept {
    pub fn label(&self) -> &'static str {
        self.evidence.kind.label()
    }
    pub fn value(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.evidence.kind.code(),
            self.evidence.sha256,
            self.tag,
            self.evidence.name
        )
    }
}

pub(crate) fn kept_tag(csrf: &str, kind: EvidenceKind, sha: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("anju-kept|{csrf}|{}|{sha}", kind.code()));
    hex::encode(&d[..12])
}

fn kept(state: &AppState, csrf: &str, e: Evidence) -> Kept {
    Kept {
        tag: kept_tag(csrf, e.kind, &e.sha256),
        is_image: state
            .evidence
            .find(&e.sha256)
            .is_some_and(|(_, m)| m.is_image()),
        evidence: e,
    }
}

/// The kept evidence a resubmitted form carries, checked against the session and the store.
fn kept_from(state: &AppState, csrf: &str, p: &Posted) -> Vec<Evidence> {
    p.get("kept")
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let mut it = v.splitn(4, '|');
            let kind = EvidenceKind::from_code(it.next()?)?;
            let sha = it.next()?.to_string();
            let tag = it.next()?;
            let name = it.next().unwrap_or("").to_string();
            (tag == kept_tag(csrf, kind, &sha) && state.evidence.find(&sha).is_some()).then_some(
                Evidence {
                    sha256: sha,
                    kind,
                    name,
                },
            )
        })
        .collect()
}

/// A file's name as shown: no path, at most 80 characters.
fn file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '|')
        .take(80)
        .collect();
    if clean.is_empty() {
        "未命名文件".into()
    } else {
        clean
    }
}

#[derive(Template)]
#[template(path = "step.html")]
struct StepPage {
    frame: Frame,
    code: String,
    kind: String,
    title: String,
    version: u32,
    fields: Vec<Field>,
    kept: Vec<Kept>,
    error: Option<String>,
    stale: bool,
}

fn parse_kind(s: &str) -> Option<ChangeKind> {
    ChangeKind::ALL
        .iter()
        .copied()
        .find(|k| k.code() == s)
        .filter(|k| has_form(*k))
}

/// What a form is shown again with.
#[derive(Default)]
struct Draft<'a> {
    posted: Option<&'a Posted>,
    kept: Vec<Evidence>,
    error: Option<String>,
    stale: bool,
}

/// The form, empty or refilled.
async fn form_page(
    state: &AppState,
    caller: &Caller,
    code: &HouseCode,
    k: ChangeKind,
    draft: Draft<'_>,
    status: StatusCode,
) -> PageResult {
    let s = &caller.session;
    let house = caller.access(&state.store).house(code).await?;
    let now = state.store.now();
    let reference = state.store.reference();
    let offered = offer(
        &house.state,
        &s.principal.actor(),
        now,
        &reference.dictionaries,
    );
    let posted = draft.posted;
    if !offered.kinds.contains(&k) && posted.is_none() {
        return Err(PageError::Conflict(format!(
            "当前状态下不能办理“{}”",
            k.label()
        )));
    }
    let mut fields = fields(k, |d| dict_opts(state, d), &offered.closure_bases);
    for (f, table) in fields.iter_mut().zip(steps::fields(k)) {
        f.values = match (posted, table.prefill) {
            (Some(p), _) => p.get(f.name).cloned().unwrap_or_default(),
            (None, Prefill::Today) => vec![beijing_date(now).to_string()],
            (None, Prefill::ActorName) => vec![s.principal.name.clone()],
            (None, Prefill::Nothing) => vec![],
        };
    }
    let version = match posted
        .and_then(|p| one(p, "version"))
        .and_then(|v| v.parse().ok())
    {
        Some(v) if !draft.stale => v,
        _ => house.state.version,
    };
    let page = StepPage {
        frame: Frame::of(state, s).await,
        code: code.to_string(),
        kind: k.code().to_string(),
        title: k.label().to_string(),
        version,
        fields,
        kept: draft
            .kept
            .into_iter()
            .map(|e| kept(state, &s.csrf, e))
            .collect(),
        error: draft.error,
        stale: draft.stale,
    };
    Ok((status, axum::response::Html(page.render()?)).into_response())
}

/// A step of a house from the path; an unknown step answers like a house out of scope.
fn house_step(code: &str, k: &str) -> PageResult<(HouseCode, ChangeKind)> {
    Ok((
        house_code(code)?,
        parse_kind(k).ok_or(StoreError::NotFound)?,
    ))
}

#[tracing::instrument(skip_all, fields(house = %code, step = %k))]
pub async fn form(
    Ctx { state, caller }: Ctx,
    Path((code, k)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> PageResult {
    let (code, k) = house_step(&code, &k)?;
    let path = format!("/houses/{code}/steps/{}", k.code());
    // A form kept when the session expired: offered again, filled in, its files uploaded;
    // nothing is recorded until the clerk submits it.
    if let Some(sub) = kept_submission(&state, &headers, &path).await? {
        let mut kept = vec![];
        for (kind, name, bytes) in sub.uploads {
            if let Ok(stored) = state.store_evidence(bytes).await {
                kept.push(Evidence {
                    sha256: stored.sha256,
                    kind,
                    name,
                });
            }
        }
        let draft = Draft {
            posted: Some(&sub.posted),
            kept,
            error: Some(RESTORED.into()),
            stale: false,
        };
        let mut res = form_page(&state, &caller, &code, k, draft, StatusCode::OK).await?;
        crate::drafts::forget(&mut res, state.options.secure_cookies);
        return Ok(res);
    }
    form_page(&state, &caller, &code, k, Draft::default(), StatusCode::OK).await
}

/// The message over a form given back after the session expired.
pub(crate) const RESTORED: &str =
    "登录过期前填写的内容和上传的文件已恢复，尚未保存：请核对后再提交。";

/// The form kept for `path` when the session expired (drafts.rs), read as it was posted.
pub(crate) async fn kept_submission(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    path: &str,
) -> PageResult<Option<Submission>> {
    let Some((content_type, bytes)) = crate::drafts::take(state, headers, path).await else {
        return Ok(None);
    };
    let req = axum::http::Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(bytes))
        .map_err(|e| PageError::internal("kept form", e))?;
    Ok(Some(read_submission(state, req).await.unwrap_or(
        Submission {
            posted: BTreeMap::new(),
            uploads: vec![],
        },
    )))
}

/// A posted form: its fields, and the files uploaded with it (not yet checked).
pub(crate) struct Submission {
    pub(crate) posted: Posted,
    uploads: Vec<(EvidenceKind, String, Vec<u8>)>,
}

pub(crate) async fn read_submission(state: &AppState, req: Request) -> Result<Submission, String> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut sub = Submission {
        posted: BTreeMap::new(),
        uploads: vec![],
    };
    if !multipart {
        let body = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| "表单内容过大".to_string())?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        for (key, v) in pairs {
            sub.posted.entry(key).or_default().push(v);
        }
        return Ok(sub);
    }
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| format!("表单格式有误：{e}"))?;
    let too_large = || {
        format!(
            "上传内容过大：一次提交的文件合计不能超过 {} MB",
            UPLOAD_LIMIT / 1024 / 1024
        )
    };
    while let Some(field) = form.next_field().await.map_err(|_| too_large())? {
        let name = field.name().unwrap_or("").to_string();
        let kind = EvidenceKind::ALL
            .iter()
            .copied()
            .find(|k| upload_field(*k) == Some(name.as_str()));
        match (kind, field.file_name().map(file_name)) {
            (Some(k), Some(fname)) => {
                let bytes = field.bytes().await.map_err(|_| too_large())?;
                if !bytes.is_empty() {
                    if sub.uploads.len() >= MAX_FILES {
                        return Err(format!("一次最多上传 {MAX_FILES} 个文件"));
                    }
                    sub.uploads.push((k, fname, bytes.to_vec()));
                }
            }
            _ => {
                let text = field.text().await.map_err(|_| too_large())?;
                sub.posted.entry(name).or_default().push(text);
            }
        }
    }
    Ok(sub)
}

/// Largest urlencoded form.
const FORM_LIMIT: usize = 256 * 1024;
/// Largest multipart submission (the route's body limit).
pub const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;
/// Most files in one submission.
const MAX_FILES: usize = 12;

#[tracing::instrument(skip_all, fields(house = %code, step = %k))]
pub async fn submit(
    Ctx { state, caller }: Ctx,
    Path((code, k)): Path<(String, String)>,
    req: Request,
) -> PageResult {
    let (code, k) = house_step(&code, &k)?;
    let refill = |posted, kept, error: String, stale, status| {
        let (state, caller, code) = (&state, &caller, &code);
        async move {
            let draft = Draft {
                posted: Some(posted),
                kept,
                error: Some(error),
                stale,
            };
            form_page(state, caller, code, k, draft, status).await
        }
    };
    let sub = match read_submission(&state, req).await {
        Ok(sub) => sub,
        Err(e) => {
            return refill(
                &BTreeMap::new(),
                vec![],
                e,
                false,
                StatusCode::PAYLOAD_TOO_LARGE,
            )
            .await;
        }
    };
    // Files are checked and stored first (content-addressed: a refused step leaves at most
    // unreferenced files, never a half-written event), then kept across a refusal.
    let mut evidence = kept_from(&state, &caller.session.csrf, &sub.posted);
    let mut refused = vec![];
    for (kind, name, bytes) in sub.uploads {
        match state.store_evidence(bytes).await {
            Ok(stored) => evidence.push(Evidence {
                sha256: stored.sha256,
                kind,
                name,
            }),
            Err(e) => refused.push(format!("{}“{name}”：{e}", kind.label())),
        }
    }
    if !refused.is_empty() {
        let msg = format!("以下文件未能上传，请更换后重新提交：{}", refused.join("；"));
        return refill(
            &sub.posted,
            evidence,
            msg,
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let cmd = match command(&code, k, &sub.posted, evidence.clone()) {
        Ok(c) => c,
        Err(e) => {
            return refill(
                &sub.posted,
                evidence,
                e,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match caller.access(&state.store).execute(&cmd).await {
        Err(StoreError::Rule(v)) if v.code == RuleCode::V1 => {
            let msg = format!(
                "{v}。请重新载入房屋的最新情况后再办理（您填写的内容和已上传的文件已保留）。"
            );
            refill(&sub.posted, evidence, msg, true, StatusCode::CONFLICT).await
        }
        Err(StoreError::Rule(v)) => {
            refill(
                &sub.posted,
                evidence,
                v.to_string(),
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        done => {
            done?;
            Ok(crate::flash::redirect_with(
                &format!("/houses/{code}"),
                &format!("已保存：{}", k.label()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anju_domain::steps::Target;
    use serde_json::json;

    /// What a person picks or types into each field: the first option, or a sample.
    fn typed(f: &Field, t: &StepField) -> Vec<String> {
        match (&f.input, t.target) {
            (Input::Files(_), _) => vec![],
            (_, Target::Location(c)) => vec![format!("{}.5", 30 + c as u8)],
            (Input::Date, _) => vec!["2024-05-01".into()],
            (Input::Select(o) | Input::Checks(o), _) => vec![o[0].0.clone()],
            _ => vec![format!("样例{}", t.name)],
        }
    }

    /// The names the rendered form posts.
    fn names_in(html: &str) -> Vec<&str> {
        html.split("name=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect()
    }

    /// For every step with a form: the form built from its table, rendered and posted back
    /// with what a person would choose, yields the command the table describes.
    #[test]
    fn every_step_form_posted_back_yields_the_command_its_table_describes() {
        let code = HouseCode::parse("AJ370829000001231").unwrap();
        let dict = |d: &str| vec![(format!("{d}值"), format!("{d}值"))];
        let kinds = ChangeKind::ALL.iter().copied().filter(|k| has_form(*k));
        for k in kinds {
            let mut form = fields(k, dict, &[]);
            let table: Vec<_> = steps::fields(k).collect();
            assert_eq!(form.len(), table.len(), "{k:?}");
            let mut posted = Posted::new();
            posted.insert("version".into(), vec!["3".into()]);
            for (f, t) in form.iter_mut().zip(&table) {
                assert_eq!((f.name, f.label, f.required), (t.name, t.label, t.required));
                f.values = typed(f, t);
                posted.insert(f.name.into(), f.values.clone());
            }
            let page = StepPage {
                frame: Frame {
                    chrome: None,
                    demo: false,
                },
                code: code.to_string(),
                kind: k.code().into(),
                title: k.label().into(),
                version: 3,
                fields: form,
                kept: vec![],
                error: None,
                stale: false,
            };
            let html = page.render().unwrap();
            let names = names_in(&html);
            for t in &table {
                assert!(names.contains(&t.name), "{k:?}: {} not on the form", t.name);
            }

            let cmd = command(&code, k, &posted, vec![]).unwrap_or_else(|e| panic!("{k:?}: {e}"));
            assert_eq!((cmd.expected_version, cmd.change.kind()), (3, k));
            assert_eq!(cmd.effective.to_string(), "2024-05-01");
            let change = serde_json::to_value(&cmd.change).unwrap();
            for t in &table {
                let sent = &posted[t.name];
                let want = match t.entry {
                    _ if sent.is_empty() => continue,
                    Entry::YesNo { .. } | Entry::Flag(_) => json!(sent[0] == "true"),
                    Entry::CodedMany(_) | Entry::DictMany(_) => json!(sent),
                    Entry::Decimal | Entry::Hidden => json!(sent[0].parse::<f64>().unwrap()),
                    _ => json!(sent[0]),
                };
                let got = match t.target {
                    Target::Change => change[t.name].clone(),
                    Target::Location(c) => change["location"][c.key()].clone(),
                    Target::Reason => json!(cmd.reason),
                    Target::Effective | Target::Evidence => continue,
                };
                assert_eq!(got, want, "{k:?}: {}", t.name);
            }
        }
    }

    #[test]
    fn a_missing_or_invalid_value_is_named_by_its_label() {
        let code = HouseCode::parse("AJ370829000001231").unwrap();
        // Each case: the step, the form (query strings after 发生日期), the message.
        let post = |form: &str| {
            let mut p = Posted::new();
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(form).unwrap();
            for (k, v) in pairs {
                p.entry(k).or_default().push(v);
            }
            p
        };
        assert_eq!(
            command(&code, ChangeKind::Reviewed, &post("version=1"), vec![]).unwrap_err(),
            "请填写“发生日期”"
        );
        const SURVEY: &str = "round=r&surveyor=s&judgement=hazard";
        const APPRAISAL: &str = "agency_name=a&reviewer_names=b&standard=c&report_no=d";
        use ChangeKind as K;
        let cases = [
            (K::Reviewed, "", "", "请填写“复核人员”"),
            (K::Reviewed, "reviewer_names=孙", "", "请选择“复核结论”"),
            (K::Appraised, APPRAISAL, "grade=Z", "“鉴定等级”的值无效：Z"),
            (
                K::EngineeringStarted,
                "measure=x",
                "",
                "“工程措施”的值无效：x",
            ),
            (
                K::EngineeringAccepted,
                "measure=",
                "",
                "请选择“完成的工程措施”",
            ),
            (K::Surveyed, SURVEY, "risk_level=x", "“风险等级”的值无效：x"),
            (K::Surveyed, SURVEY, "latitude=35.4", "经度和纬度须同时填写"),
            (K::LegacyClosureRecorded, "", "", "请填写“前期销号日期”"),
        ];
        for (k, given, more, message) in cases {
            let p = post(&format!("version=1&effective=2024-05-01&{given}&{more}"));
            let refused = command(&code, k, &p, vec![]).unwrap_err();
            assert_eq!(refused, message, "{k:?}");
        }
    }
}
