//! The audit trail: one row per login, refusal, write, export or import, chained by SHA-256 so
//! that any edit or deletion breaks the chain. Written inside the transaction of the change.

use crate::infra::db::Tx;
use crate::infra::error::Result;
use crate::on_tx;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// How an audited action ended, stored as `ok`, `refused:<rule or reason>`, `error` or
/// `broken` (an integrity check that failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Refused, with the rule code or the kind of refusal (`F1`, `denied`, `csrf`, `locked`…).
    Refused(String),
    Error,
    Broken,
}

impl Outcome {
    /// Refused for `why` (a rule code or the kind of refusal).
    pub fn refused(why: impl Into<String>) -> Outcome {
        Outcome::Refused(why.into())
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Refused(why) => write!(f, "refused:{why}"),
            Outcome::Error => f.write_str("error"),
            Outcome::Broken => f.write_str("broken"),
        }
    }
}

/// What happened, by whom, from where, to what, with what outcome. No personal data in `detail`.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_role: String,
    /// Source address, or `cli` for the command line.
    pub source: String,
    pub action: String,
    pub object: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// JSON with the particulars (rule code, counts …).
    pub detail: String,
}

impl AuditEntry {
    /// A successful action at `at` by `actor_id` in `actor_role` from `source`, with no detail.
    pub fn ok(
        at: DateTime<Utc>,
        actor_id: &str,
        actor_role: &str,
        source: &str,
        action: &str,
        object: &str,
    ) -> AuditEntry {
        AuditEntry {
            at,
            actor_id: actor_id.into(),
            actor_role: actor_role.into(),
            source: source.into(),
            action: action.into(),
            object: object.into(),
            outcome: Outcome::Ok,
            reason: None,
            detail: "{}".into(),
        }
    }

    /// The particulars, as JSON.
    pub fn with_detail(mut self, detail: serde_json::Value) -> AuditEntry {
        self.detail = detail.to_string();
        self
    }

    /// The reason the actor gave.
    pub fn with_reason(mut self, reason: &str) -> AuditEntry {
        self.reason = Some(reason.to_string());
        self
    }

    /// Another outcome than `ok`.
    pub fn with_outcome(mut self, outcome: Outcome) -> AuditEntry {
        self.outcome = outcome;
        self
    }
}

/// The chained hash of a row: SHA-256 over the previous hash and the row's fields.
pub fn chain_hash(prev: &str, id: i64, e: &AuditEntry) -> String {
    hash_stored(
        prev,
        id,
        crate::infra::codec::micros(e.at),
        [
            &e.actor_id,
            &e.actor_role,
            &e.source,
            &e.action,
            &e.object,
            &e.outcome.to_string(),
            e.reason.as_deref().unwrap_or(""),
            &e.detail,
        ],
    )
}

/// The chained hash over a row's fields as stored (actor id, role, source, action, object,
/// outcome, reason, detail).
pub fn hash_stored(prev: &str, id: i64, at_micros: i64, fields: [&str; 8]) -> String {
    let mut h = Sha256::new();
    for part in [prev, &id.to_string(), &at_micros.to_string()]
        .into_iter()
        .chain(fields)
    {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// Appends one audit row inside `tx`. Locks the chain head so concurrent writers serialise.
pub async fn append(tx: &mut Tx, e: &AuditEntry) -> Result<i64> {
    // The UPDATE takes the row lock (PostgreSQL) and yields the new id and previous hash.
    const HEAD: &str =
        "UPDATE audit_head SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id, last_hash";
    const INSERT: &str = "INSERT INTO audit_log (id, at, actor_id, actor_role, source, action, object, outcome, reason, detail, prev_hash, hash) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    const SET_HASH: &str = "UPDATE audit_head SET last_hash = $1 WHERE id = 1";
    on_tx!(tx, c => {
        let (id, prev): (i64, String) = sqlx::query_as(HEAD).fetch_one(&mut *c).await?;
        let hash = chain_hash(&prev, id, e);
        sqlx::query(INSERT)
            .bind(id)
            .bind(crate::infra::codec::micros(e.at))
            .bind(&e.actor_id)
            .bind(&e.actor_role)
            .bind(&e.source)
            .bind(&e.action)
            .bind(&e.object)
            .bind(e.outcome.to_string())
            .bind(&e.reason)
            .bind(&e.detail)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *c)
            .await?;
        sqlx::query(SET_HASH).bind(&hash).execute(&mut *c).await?;
        Ok(id)
    })
}

/// An audit row as stored, with its link and hash.
#[derive(sqlx::FromRow)]
struct StoredRow {
    #[sqlx(flatten)]
    row: ListedRow,
    prev_hash: String,
    hash: String,
}

impl StoredRow {
    /// Whether the row hashes to its recorded hash when linked to `prev`.
    fn hashes_from(&self, prev: &str) -> bool {
        let r = &self.row;
        let fields = [
            r.actor_id.as_str(),
            &r.actor_role,
            &r.source,
            &r.action,
            &r.object,
            &r.outcome,
            r.reason.as_deref().unwrap_or(""),
            &r.detail,
        ];
        hash_stored(prev, r.id, r.at, fields) == self.hash
    }
}

/// Walks the chain from the first row; returns the id of the first row whose link or hash does
/// not hold (or the id after the last row, when rows were cut off the end), or `None` when the
/// whole chain is intact.
pub async fn verify(db: &crate::Db) -> Result<Option<i64>> {
    verify_with(db, |_, _, _| {}).await
}

/// [`verify`], handing `on_row` the id, outcome and detail of each row whose link holds, in
/// order, up to the first that does not.
pub async fn verify_with(
    db: &crate::Db,
    mut on_row: impl FnMut(i64, &str, &str),
) -> Result<Option<i64>> {
    const PAGE: &str = "SELECT id, at, actor_id, actor_role, source, action, object, outcome, reason, detail, prev_hash, hash \
        FROM audit_log WHERE id > $1 ORDER BY id LIMIT 5000";
    let mut prev = "0".repeat(64);
    let mut last = 0_i64;
    loop {
        let rows: Vec<StoredRow> =
            crate::on_db!(db, p => sqlx::query_as(PAGE).bind(last).fetch_all(p).await)?;
        if rows.is_empty() {
            // Rows cut off the end leave the head pointing past them.
            const HEAD: &str = "SELECT last_id, last_hash FROM audit_head WHERE id = 1";
            let (head_id, head_hash): (i64, String) =
                crate::on_db!(db, p => sqlx::query_as(HEAD).fetch_one(p).await)?;
            let prev_ok = head_hash == prev || (last == 0 && head_id == 0);
            return Ok((head_id != last || !prev_ok).then_some(last + 1));
        }
        for stored in rows {
            let row = &stored.row;
            if row.id != last + 1 || stored.prev_hash != prev || !stored.hashes_from(&prev) {
                return Ok(Some(row.id));
            }
            on_row(row.id, &row.outcome, &row.detail);
            last = row.id;
            prev = stored.hash;
        }
    }
}

/// Whether one stored row still hashes to its recorded hash from its recorded link, and the
/// next row (or the head, for the last row) links to it: the check of a single row that the
/// report page makes without walking the whole chain (`anju audit verify` walks it).
pub async fn row_holds(db: &crate::Db, id: i64) -> Result<bool> {
    const ROW: &str = "SELECT id, at, actor_id, actor_role, source, action, object, outcome, reason, detail, prev_hash, hash \
        FROM audit_log WHERE id = $1";
    const NEXT: &str = "SELECT prev_hash FROM audit_log WHERE id = $1";
    const HEAD: &str = "SELECT last_id, last_hash FROM audit_head WHERE id = 1";
    let row: Option<StoredRow> =
        crate::on_db!(db, p => sqlx::query_as(ROW).bind(id).fetch_optional(p).await)?;
    let Some(row) = row else {
        return Ok(false);
    };
    if !row.hashes_from(&row.prev_hash) {
        return Ok(false);
    }
    let next: Option<String> =
        crate::on_db!(db, p => sqlx::query_scalar(NEXT).bind(id + 1).fetch_optional(p).await)?;
    Ok(match next {
        Some(p) => p == row.hash,
        None => {
            let (last, last_hash): (i64, String) =
                crate::on_db!(db, p => sqlx::query_as(HEAD).fetch_one(p).await)?;
            last == id && last_hash == row.hash
        }
    })
}

/// One stored audit row, as read back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_role: String,
    pub source: String,
    pub action: String,
    pub object: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub detail: String,
}

/// A row as the lists read it (the columns of [`LISTED`]), its time still in microseconds.
#[derive(sqlx::FromRow)]
pub(crate) struct ListedRow {
    id: i64,
    at: i64,
    actor_id: String,
    actor_role: String,
    source: String,
    action: String,
    object: String,
    outcome: String,
    reason: Option<String>,
    detail: String,
}

/// The columns of a [`ListedRow`].
pub(crate) const LISTED: &str =
    "id, at, actor_id, actor_role, source, action, object, outcome, reason, detail";

/// A listed row as an [`AuditRow`].
pub(crate) fn listed(r: ListedRow) -> Result<AuditRow> {
    Ok(AuditRow {
        id: r.id,
        at: crate::infra::codec::from_micros(r.at)?,
        actor_id: r.actor_id,
        actor_role: r.actor_role,
        source: r.source,
        action: r.action,
        object: r.object,
        outcome: r.outcome,
        reason: r.reason,
        detail: r.detail,
    })
}

/// The latest `limit` rows, newest first.
pub async fn tail(db: &crate::Db, limit: i64) -> Result<Vec<AuditRow>> {
    let sql = format!("SELECT {LISTED} FROM audit_log ORDER BY id DESC LIMIT $1");
    let rows: Vec<ListedRow> = crate::on_db!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit).fetch_all(p).await)?;
    rows.into_iter().map(listed).collect()
}

/// The retention floor of the audit trail. Anju itself never deletes audit rows (the table is
/// append-only and the chain would show a gap); archiving older rows is an operator's decision
/// that must keep at least this many days online.
pub const RETENTION_DAYS: i64 = 180;

impl crate::Store {
    /// Appends one audit row in its own transaction (for events that change nothing else:
    /// refused requests, exports, verifications).
    pub async fn record_audit(&self, e: &AuditEntry) -> Result<i64> {
        let mut tx = self.db.begin().await?;
        let id = append(&mut tx, e).await?;
        tx.commit().await?;
        Ok(id)
    }
}
