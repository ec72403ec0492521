//! Events to and from rows: the change's payload is stored without personal data, which goes
//! to its own column so that it can be protected at rest.

use crate::infra::error::{Result, StoreError};
use crate::infra::vault::{Vault, column};
use anju_domain::Coded;
use anju_domain::event::{Actor, Change, Event, Role};
use anju_domain::{Facts, HouseCode};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;

/// The columns of an `events` row, apart from ids.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i32,
    pub kind: &'static str,
    pub effective: NaiveDate,
    pub recorded_at: i64,
    pub actor_id: String,
    pub actor_name: String,
    pub actor_role: String,
    pub reason: Option<String>,
    pub evidence: String,
    pub payload: String,
    pub personal: Option<String>,
    /// The event's chained hash (`crate::houses::chain`).
    pub hash: String,
}

/// A `fact_spans` row: the ledger facts a house had from one event until its next.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SpanRow {
    pub seq: i32,
    pub town_code: String,
    pub village_code: String,
    pub facts: i32,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub recorded_from: i64,
    pub recorded_to: Option<i64>,
}

pub fn role_code(r: Role) -> String {
    r.code().to_string()
}

pub fn parse_role(s: &str) -> Result<Role> {
    Role::from_code(s).ok_or_else(|| StoreError::Corrupt(format!("unknown role {s}")))
}

/// Microseconds since the Unix epoch; the stored form of every instant.
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_micros(us)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp out of range: {us}")))
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialize")
}

/// The open span an event starts, with the house's facts, town and village after it.
pub fn span(e: &Event, facts: Facts, town: &str, village: &str) -> SpanRow {
    SpanRow {
        seq: e.seq as i32,
        town_code: town.to_string(),
        village_code: village.to_string(),
        facts: facts.bits() as i32,
        effective_from: e.effective,
        effective_to: None,
        recorded_from: micros(e.recorded_at),
        recorded_to: None,
    }
}

/// Splits an event into its row: the payload without personal data, which goes apart,
/// sealed with the vault's current key; `prev` is the hash of the house's previous event
/// ([`crate::houses::chain::GENESIS`] for its first), which the row's own hash links to.
pub fn to_row(e: &Event, vault: &Vault, prev: &str) -> EventRow {
    let mut payload = serde_json::to_value(&e.change).expect("domain types serialize");
    let (personal, digest) = match payload.as_object_mut().and_then(|o| o.remove("people")) {
        Some(Value::Null) | None => (None, None),
        Some(p) => {
            let plain = p.to_string();
            (
                Some(vault.seal(column::EVENT_PERSONAL, &plain)),
                Some(vault.digest(crate::houses::chain::PERSONAL_DIGEST, &plain)),
            )
        }
    };
    let mut row = EventRow {
        seq: e.seq as i32,
        kind: e.change.kind().code(),
        effective: e.effective,
        recorded_at: micros(e.recorded_at),
        actor_id: e.actor.id.clone(),
        actor_name: e.actor.name.clone(),
        actor_role: role_code(e.actor.role),
        reason: e.reason.clone(),
        evidence: json(&e.evidence),
        payload: payload.to_string(),
        personal,
        hash: String::new(),
    };
    row.hash = crate::houses::chain::row_hash(prev, e.house.as_str(), &row, digest.as_deref());
    row
}

/// Reassembles an event from its stored parts; `personal` is already opened.
#[allow(clippy::too_many_arguments)]
pub fn from_row(
    house: &str,
    seq: i32,
    effective: NaiveDate,
    recorded_at: i64,
    actor_id: String,
    actor_name: String,
    actor_role: &str,
    reason: Option<String>,
    evidence: &str,
    payload: &str,
    personal: Option<&str>,
) -> Result<Event> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("event {house}#{seq}: {what}: {e}"))
    };
    let mut change: Value = serde_json::from_str(payload).map_err(|e| corrupt("payload", &e))?;
    if let (Some(p), Some(obj)) = (personal, change.as_object_mut()) {
        let p: Value = serde_json::from_str(p).map_err(|e| corrupt("personal", &e))?;
        obj.insert("people".into(), p);
    }
    let change: Change = serde_json::from_value(change).map_err(|e| corrupt("change", &e))?;
    Ok(Event {
        house: HouseCode::parse(house).map_err(|e| corrupt("code", &e))?,
        seq: seq as u32,
        effective,
        recorded_at: from_micros(recorded_at)?,
        actor: Actor {
            id: actor_id,
            name: actor_name,
            role: parse_role(actor_role)?,
        },
        reason,
        evidence: serde_json::from_str(evidence).map_err(|e| corrupt("evidence", &e))?,
        change,
    })
}
