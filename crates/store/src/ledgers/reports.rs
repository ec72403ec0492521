//! Ledgers handed in: prepare, sign (freeze the figures and the houses behind them, with a
//! SHA-256 digest), submit, accept or return. Each step in one transaction with its audit row.

use crate::infra::audit::{self, AuditEntry};
use crate::infra::codec;
use crate::infra::error::{Result, StoreError};
use crate::{Store, on_db, on_tx};
use anju_domain::Coded;
use anju_domain::codes::RegionCode;
use anju_domain::event::Actor;
use anju_domain::ledger::{AsOf, Form, LedgerTable};
use anju_domain::report::{ReportAction, ReportStatus, decide_report, may_prepare};
use anju_domain::{RuleCode, RuleViolation, Scope};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// What a signature freezes: the table and, per row and column, the codes of the houses counted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub table: LedgerTable,
    pub houses: Vec<Vec<Vec<String>>>,
}

/// What a town operator fills in to prepare a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub form: Form,
    /// The town (or county) the ledger is for.
    pub unit: RegionCode,
    /// The field date the figures are as of.
    pub as_of: NaiveDate,
    /// 联系方式 printed in the header block.
    pub contact: String,
    /// The returned report this one corrects.
    pub supersedes: Option<i64>,
}

/// A ledger report as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: i64,
    pub form: Form,
    pub unit: RegionCode,
    pub as_of: NaiveDate,
    pub status: ReportStatus,
    pub preparer_name: String,
    pub contact: String,
    pub signer_name: Option<String>,
    pub return_reason: Option<String>,
    pub snapshot: Option<String>,
    pub digest: Option<String>,
    pub scan_sha256: Option<String>,
    /// The scanned copy's file name as uploaded.
    pub scan_name: Option<String>,
    /// The returned report this one corrects.
    pub supersedes: Option<i64>,
}

impl Report {
    pub fn frozen(&self) -> Result<Option<Snapshot>> {
        self.snapshot
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("report snapshot: {e}")))
    }

    /// Whether the stored snapshot still hashes to the digest recorded at signing.
    pub fn digest_holds(&self) -> bool {
        match (&self.snapshot, &self.digest) {
            (Some(s), Some(d)) => sha256_hex(s.as_bytes()) == *d,
            (None, None) => true,
            _ => false,
        }
    }
}

/// One cell whose figure differs between a frozen snapshot and a fresh computation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CellDiff {
    pub row: String,
    pub column: usize,
    pub frozen: i64,
    pub now: i64,
}

/// Whether a caller's scope covers a ledger's unit (a town account: its own town only).
/// Whether a unit (town or county) lies within a scope: region and department accounts only.
pub(crate) fn covers(scope: &Scope, unit: &RegionCode) -> bool {
    match scope {
        Scope::Nothing | Scope::Assigned { .. } => false,
        Scope::All | Scope::Region { .. } | Scope::Department { .. } => {
            scope.region().is_none_or(|r| r.contains(unit))
        }
    }
}

/// The audit trail's name of a step on a report.
pub fn audit_action(action: &ReportAction) -> &'static str {
    match action {
        ReportAction::Sign => "report.sign",
        ReportAction::Submit => "report.submit",
        ReportAction::Accept => "report.accept",
        ReportAction::Return { .. } => "report.return",
        ReportAction::AttachScan { .. } => "report.attach_scan",
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn rule(code: RuleCode, message: impl Into<String>) -> StoreError {
    StoreError::Rule(RuleViolation {
        code,
        message: message.into(),
    })
}

fn form_of(n: i32) -> Result<Form> {
    Form::from_number(n as u8).ok_or_else(|| StoreError::Corrupt(format!("form {n}")))
}

/// A row of `ledger_reports` as [`SELECT`] reads it, before its codes are parsed.
#[derive(sqlx::FromRow)]
struct ReportRow {
    id: i64,
    form: i32,
    unit_code: String,
    as_of: NaiveDate,
    status: String,
    preparer_name: String,
    contact: String,
    signer_name: Option<String>,
    return_reason: Option<String>,
    snapshot: Option<String>,
    digest: Option<String>,
    scan_sha256: Option<String>,
    scan_name: Option<String>,
    supersedes: Option<i64>,
}

fn report_of(r: ReportRow) -> Result<Report> {
    Ok(Report {
        id: r.id,
        form: form_of(r.form)?,
        unit: RegionCode::parse(&r.unit_code).map_err(|e| StoreError::Corrupt(e.0))?,
        as_of: r.as_of,
        status: ReportStatus::from_code(&r.status)
            .ok_or_else(|| StoreError::Corrupt(r.status.clone()))?,
        preparer_name: r.preparer_name,
        contact: r.contact,
        signer_name: r.signer_name,
        return_reason: r.return_reason,
        snapshot: r.snapshot,
        digest: r.digest,
        scan_sha256: r.scan_sha256,
        scan_name: r.scan_name,
        supersedes: r.supersedes,
    })
}

const SELECT: &str = "SELECT id, form, unit_code, as_of, status, preparer_name, contact, signer_name, return_reason, snapshot, digest, scan_sha256, scan_name, supersedes FROM ledger_reports WHERE id = $1";

impl Store {
    /// A town operator (or the county office, for the county) prepares a ledger as of a date.
    pub(crate) async fn prepare_report(
        &self,
        actor: &Actor,
        scope: &Scope,
        new: &NewReport,
        source: &str,
    ) -> Result<i64> {
        let NewReport {
            form,
            unit,
            as_of,
            contact,
            supersedes,
        } = new.clone();
        if !may_prepare(actor.role) {
            return Err(rule(
                RuleCode::P1,
                format!("{}无权填报台账", actor.role.label()),
            ));
        }
        if !covers(scope, &unit) {
            return Err(rule(RuleCode::P1, format!("{unit} 不在您的辖区内")));
        }
        if as_of > self.today() {
            return Err(rule(RuleCode::D1, "台账截止日期不能晚于今天"));
        }
        if let Some(old) = supersedes {
            let r = self.report(old).await?;
            if r.status != ReportStatus::Returned || r.unit != unit || r.form != form {
                return Err(rule(
                    RuleCode::L1,
                    "只能对同一单位、同一表单且已退回的台账重新填报",
                ));
            }
        }
        // No quiet way round a signed report: a report dated on or before one already signed
        // (and not returned) for the same unit and form is refused. A correction goes through
        // the county office returning the signed one, and the new one superseding it.
        const LATER: &str = "SELECT id, as_of FROM ledger_reports WHERE unit_code = $1 AND form = $2 AND status IN ('signed', 'submitted', 'accepted') AND as_of >= $3 ORDER BY as_of DESC, id DESC LIMIT 1";
        let later: Option<(i64, NaiveDate)> = on_db!(&self.db, p => sqlx::query_as(LATER)
            .bind(unit.as_str()).bind(i32::from(form.number())).bind(as_of).fetch_optional(p).await)?;
        if let Some((other, day)) = later {
            return Err(rule(
                RuleCode::L1,
                format!(
                    "第 {other} 号附件{} 台账（截至 {day}）已签字，不能再填报截至 {as_of} 的同一台账；如需更正，请县专班退回第 {other} 号后，重新填报并注明更正该台账",
                    form.number()
                ),
            ));
        }
        const INSERT: &str = "INSERT INTO ledger_reports (form, unit_code, as_of, status, preparer_id, preparer_name, contact, prepared_at, supersedes) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(INSERT)
            .bind(i32::from(form.number())).bind(unit.as_str()).bind(as_of)
            .bind(ReportStatus::Prepared.code()).bind(&actor.id).bind(&actor.name).bind(&contact)
            .bind(codec::micros(now)).bind(supersedes)
            .fetch_one(&mut *c).await)?;
        audit::append(
            &mut tx,
            &entry(
                actor,
                now,
                "report.prepare",
                id,
                None,
                source,
                serde_json::json!({}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(crate) async fn report(&self, id: i64) -> Result<Report> {
        let row: Option<ReportRow> =
            on_db!(&self.db, p => sqlx::query_as(SELECT).bind(id).fetch_optional(p).await)?;
        report_of(row.ok_or(StoreError::NotFound)?)
    }

    /// The reports of one unit, newest first.
    pub(crate) async fn reports_of(&self, unit: &RegionCode) -> Result<Vec<Report>> {
        const LIST: &str = "SELECT id, form, unit_code, as_of, status, preparer_name, contact, signer_name, return_reason, snapshot, digest, scan_sha256, scan_name, supersedes FROM ledger_reports WHERE unit_code = $1 ORDER BY id DESC LIMIT 200";
        let rows: Vec<ReportRow> =
            on_db!(&self.db, p => sqlx::query_as(LIST).bind(unit.as_str()).fetch_all(p).await)?;
        rows.into_iter().map(report_of).collect()
    }

    /// Takes a step on a report. Signing computes the ledger as of its date, house by house,
    /// and freezes it; nothing afterwards changes the snapshot.
    pub(crate) async fn act_on_report(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: i64,
        action: &ReportAction,
        source: &str,
    ) -> Result<ReportStatus> {
        let report = self.report(id).await?;
        if !covers(scope, &report.unit) {
            return Err(StoreError::NotFound);
        }
        let next = decide_report(report.status, action, actor.role)?;
        // Freeze before taking the write lock: computing a ledger can take a while.
        let frozen = match action {
            ReportAction::Sign => {
                let unit_scope = Scope::Region { code: report.unit };
                let (table, houses) = self
                    .ledger_with_houses(report.form, &unit_scope, AsOf::Happened(report.as_of))
                    .await?;
                let snapshot =
                    serde_json::to_string(&Snapshot { table, houses }).expect("serializes");
                let digest = sha256_hex(snapshot.as_bytes());
                Some((snapshot, digest))
            }
            _ => None,
        };
        let reason = match action {
            ReportAction::Return { reason } => Some(reason.clone()),
            _ => None,
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        // Each update is guarded by the status read above: a concurrent step makes it match nothing.
        macro_rules! guarded {
            ($set:literal) => {
                concat!(
                    "UPDATE ledger_reports SET status = $3, ",
                    $set,
                    " WHERE id = $1 AND status = $2"
                )
            };
        }
        let (from, to) = (report.status.code(), next.code());
        let n = match (action, &frozen) {
            (ReportAction::Sign, Some((snapshot, digest))) => {
                const SQL: &str = guarded!(
                    "signer_id = $4, signer_name = $5, signed_at = $6, snapshot = $7, digest = $8"
                );
                on_tx!(&mut tx, c => sqlx::query(SQL)
                    .bind(id).bind(from).bind(to).bind(&actor.id).bind(&actor.name)
                    .bind(codec::micros(now)).bind(snapshot).bind(digest)
                    .execute(&mut *c).await.map(|r| r.rows_affected()))?
            }
            (ReportAction::Submit, _) => {
                const SQL: &str = guarded!("submitted_at = $4");
                on_tx!(&mut tx, c => sqlx::query(SQL)
                    .bind(id).bind(from).bind(to).bind(codec::micros(now))
                    .execute(&mut *c).await.map(|r| r.rows_affected()))?
            }
            (ReportAction::Accept | ReportAction::Return { .. }, _) => {
                const SQL: &str =
                    guarded!("reviewer_id = $4, reviewed_at = $5, return_reason = $6");
                on_tx!(&mut tx, c => sqlx::query(SQL)
                    .bind(id).bind(from).bind(to).bind(&actor.id)
                    .bind(codec::micros(now)).bind(&reason)
                    .execute(&mut *c).await.map(|r| r.rows_affected()))?
            }
            (ReportAction::AttachScan { sha256, name }, _) => {
                const SQL: &str = guarded!("scan_sha256 = $4, scan_name = $5");
                on_tx!(&mut tx, c => sqlx::query(SQL)
                    .bind(id).bind(from).bind(to).bind(sha256).bind(name)
                    .execute(&mut *c).await.map(|r| r.rows_affected()))?
            }
            (ReportAction::Sign, None) => unreachable!("frozen above"),
        };
        if n != 1 {
            tx.rollback().await?;
            return Err(rule(RuleCode::V1, "台账已被他人处理，请刷新后重试"));
        }
        let kind = audit_action(action);
        // The chained audit row carries the digest of the figures acted on: editing a snapshot
        // together with its digest then breaks the chain or disagrees with it.
        let digest = match &frozen {
            Some((_, d)) => Some(d.clone()),
            None => report.digest.clone(),
        };
        let detail = serde_json::json!({ "digest": digest });
        audit::append(
            &mut tx,
            &entry(actor, now, kind, id, reason, source, detail),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Per cell, where the frozen snapshot and a fresh computation for the same unit differ.
    /// The signed report `id` follows: the returned one it corrects, else the latest report of
    /// the same unit and form signed (submitted or accepted) with an earlier date; with the
    /// cells that changed from its frozen figures to this one's (none until this is signed).
    pub(crate) async fn report_predecessor(
        &self,
        id: i64,
    ) -> Result<Option<(Report, Vec<CellDiff>)>> {
        let report = self.report(id).await?;
        let before = match report.supersedes {
            Some(old) => Some(self.report(old).await?),
            None => {
                const EARLIER: &str = "SELECT id FROM ledger_reports WHERE unit_code = $1 AND form = $2 AND status IN ('signed', 'submitted', 'accepted') AND as_of < $3 ORDER BY as_of DESC, id DESC LIMIT 1";
                let other: Option<i64> = on_db!(&self.db, p => sqlx::query_scalar(EARLIER)
                    .bind(report.unit.as_str()).bind(i32::from(report.form.number())).bind(report.as_of)
                    .fetch_optional(p).await)?;
                match other {
                    Some(o) => Some(self.report(o).await?),
                    None => None,
                }
            }
        };
        let Some(before) = before else {
            return Ok(None);
        };
        let changes = match (before.frozen()?, report.frozen()?) {
            (Some(a), Some(b)) => changes(&a.table, &b.table),
            _ => vec![],
        };
        Ok(Some((before, changes)))
    }

    pub(crate) async fn compare_report(&self, id: i64, as_of: AsOf) -> Result<Vec<CellDiff>> {
        let report = self.report(id).await?;
        let Some(frozen) = report.frozen()? else {
            return Err(rule(RuleCode::L1, "台账尚未签字，没有冻结的数字可比较"));
        };
        let now = self
            .ledger(report.form, &Scope::Region { code: report.unit }, as_of)
            .await?;
        Ok(changes(&frozen.table, &now))
    }
}

/// The cells whose count differs from `a` to `b`, by row (a row missing on one side counts 0).
fn changes(a: &LedgerTable, b: &LedgerTable) -> Vec<CellDiff> {
    let mut diffs = Vec::new();
    for row in a.all_rows() {
        let other = b.all_rows().find(|r| r.code == row.code);
        for (i, f) in row.counts.iter().enumerate() {
            let n = other.map_or(0, |r| r.counts.get(i).copied().unwrap_or(0));
            if n != *f {
                diffs.push(CellDiff {
                    row: row.name.clone(),
                    column: i,
                    frozen: *f,
                    now: n,
                });
            }
        }
    }
    for row in b
        .all_rows()
        .filter(|r| !a.all_rows().any(|x| x.code == r.code))
    {
        for (i, n) in row.counts.iter().enumerate().filter(|(_, n)| **n != 0) {
            diffs.push(CellDiff {
                row: row.name.clone(),
                column: i,
                frozen: 0,
                now: *n,
            });
        }
    }
    diffs
}

fn entry(
    actor: &Actor,
    at: chrono::DateTime<chrono::Utc>,
    action: &str,
    id: i64,
    reason: Option<String>,
    source: &str,
    detail: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        at,
        reason,
        ..AuditEntry::ok(
            at,
            &actor.id,
            &codec::role_code(actor.role),
            source,
            action,
            &format!("ledger_report:{id}"),
        )
        .with_detail(detail)
    }
}

/// Whether a report's frozen figures are still the ones signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// Not signed yet: nothing frozen to check.
    Unsigned,
    /// The snapshot hashes to its digest, the digest is the one in the chained audit row of the
    /// signature, and the audit chain holds up to that row.
    Intact,
    /// Signed before digests went into the audit trail: only the snapshot's own digest checked.
    DigestOnly,
    /// Changed after signing; what does not agree.
    Broken(String),
}

impl Store {
    /// Checks a signed report against the chained audit rows of its signature and later steps
    /// (see [`Integrity`]), and the whole audit chain up to the signature (`anju report show`).
    pub async fn verify_report(&self, id: i64) -> Result<Integrity> {
        self.report_integrity(id, true).await
    }

    /// [`Store::verify_report`] for a page view: the audit rows carrying the digest are each
    /// checked against their own hash and their successor's link, without walking the whole
    /// chain (which `anju audit verify` and `anju report show` do).
    pub async fn check_report(&self, id: i64) -> Result<Integrity> {
        self.report_integrity(id, false).await
    }

    async fn report_integrity(&self, id: i64, whole_chain: bool) -> Result<Integrity> {
        let r = self.report(id).await?;
        let Some(digest) = r.digest.clone() else {
            return Ok(Integrity::Unsigned);
        };
        if !r.digest_holds() {
            return Ok(Integrity::Broken(format!(
                "台账 {id} 的冻结数字与其摘要不一致：快照在签字后被改动"
            )));
        }
        // The steps since (and including) the latest signature, in order.
        const ROWS: &str = "SELECT id, action, detail FROM audit_log WHERE object = $1 AND outcome = 'ok' \
            AND action IN ('report.sign', 'report.submit', 'report.accept', 'report.return') ORDER BY id";
        let rows: Vec<(i64, String, String)> = on_db!(&self.db, p => sqlx::query_as(ROWS)
            .bind(format!("ledger_report:{id}"))
            .fetch_all(p).await)?;
        let Some(sign_at) = rows.iter().rposition(|r| r.1 == "report.sign") else {
            return Ok(Integrity::Broken(format!(
                "台账 {id} 已签字，但审计日志中没有签字记录"
            )));
        };
        let since = &rows[sign_at..];
        let audit_id = since[0].0;
        if whole_chain {
            if let Some(broken) = audit::verify(&self.db).await?
                && broken <= since.last().map_or(audit_id, |r| r.0)
            {
                return Ok(Integrity::Broken(format!(
                    "审计日志自第 {broken} 条记录起被改动，台账 {id} 的签字记录（第 {audit_id} 条）不可信"
                )));
            }
        } else {
            for (row, _, _) in since {
                if !audit::row_holds(&self.db, *row).await? {
                    return Ok(Integrity::Broken(format!(
                        "审计日志第 {row} 条记录（台账 {id} 的签字或报送记录）被改动：签字记录不可信"
                    )));
                }
            }
        }
        let digest_of = |detail: &str| {
            serde_json::from_str::<serde_json::Value>(detail)
                .ok()
                .and_then(|v| v["digest"].as_str().map(str::to_string))
        };
        let Some(signed) = digest_of(&since[0].2) else {
            return Ok(Integrity::DigestOnly);
        };
        if signed != digest {
            return Ok(Integrity::Broken(format!(
                "台账 {id} 的摘要 {digest} 与签字时审计日志记录的 {signed} 不同：快照和摘要在签字后被改动"
            )));
        }
        for (row, action, detail) in &since[1..] {
            if let Some(d) = digest_of(detail)
                && d != digest
            {
                return Ok(Integrity::Broken(format!(
                    "台账 {id} 的摘要与审计日志第 {row} 条（{action}）记录的 {d} 不同：快照和摘要被改动"
                )));
            }
        }
        Ok(Integrity::Intact)
    }
}
