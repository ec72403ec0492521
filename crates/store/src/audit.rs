//! The audit trail: one row per login, refusal, write, export or import, chained by SHA-256 so
//! that any edit or deletion breaks the chain. Written inside the transaction of the change.

use crate::db::Tx;
use crate::error::Result;
use crate::on_tx;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

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
    /// `ok` or `refused:<rule>` or `error`.
    pub outcome: String,
    pub reason: Option<String>,
    /// JSON with the particulars (rule code, counts …).
    pub detail: String,
}

/// The chained hash of a row: SHA-256 over the previous hash and the row's fields.
pub fn chain_hash(prev: &str, id: i64, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &id.to_string(),
        &crate::codec::micros(e.at).to_string(),
        &e.actor_id,
        &e.actor_role,
        &e.source,
        &e.action,
        &e.object,
        &e.outcome,
        e.reason.as_deref().unwrap_or(""),
        &e.detail,
    ] {
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
            .bind(crate::codec::micros(e.at))
            .bind(&e.actor_id)
            .bind(&e.actor_role)
            .bind(&e.source)
            .bind(&e.action)
            .bind(&e.object)
            .bind(&e.outcome)
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
