//! Houses: registering and writing steps (`write`), reading them in a scope (here, `list`, `map`,
//! `lookback`), their event chain and log (`chain`, `log`), personal data at rest (`personal`),
//! ledger imports (`import`, `imported`) and the public plaque (`plaque`).
//!
//! Scoped reads of houses and their histories. Every function here takes a [`Scope`]; a house
//! outside it answers exactly like a missing one.

pub mod chain;
pub mod import;
pub mod imported;
pub mod list;
pub mod log;
pub mod lookback;
pub mod map;
pub mod personal;
pub mod plaque;
pub mod write;

use crate::infra::codec::{self, SpanRow};
use crate::infra::db::{ReadRow, Tx};
use crate::infra::error::{Result, StoreError};
use crate::infra::scope::ScopeParams;
use crate::infra::vault::{Vault, column};
use crate::{Store, on_db, on_tx, scope_sql};
use anju_domain::Coded;
use anju_domain::event::Event;
use anju_domain::house::People;
use anju_domain::{HouseCode, HouseState, RegionCode, Scope};
use chrono::NaiveDate;

/// A house as stored: its projected state, its people and the plaque token.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseView {
    pub id: i64,
    pub state: HouseState,
    pub people: Option<People>,
    pub plaque_token: String,
}

/// The payload of a house's latest record-bearing event, as a scalar subquery on alias `h`.
#[macro_export]
macro_rules! record_payload_sql {
    () => {
        "(SELECT e2.payload FROM events e2 WHERE e2.house_id = h.id AND e2.kind IN ('registered', 'corrected') ORDER BY e2.seq DESC LIMIT 1)"
    };
}

/// A stored state with its record put back from the latest registration or correction.
pub(crate) fn parse_state(json: &str, record_payload: Option<&str>) -> Result<HouseState> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("house state: {e}"));
    let mut state: HouseState = serde_json::from_str(json).map_err(corrupt)?;
    let payload =
        record_payload.ok_or_else(|| StoreError::Corrupt("house without registration".into()))?;
    let change: serde_json::Value = serde_json::from_str(payload).map_err(corrupt)?;
    let record = change
        .get("record")
        .cloned()
        .ok_or_else(|| StoreError::Corrupt("event without record".into()))?;
    state.record = Some(serde_json::from_value(record).map_err(corrupt)?);
    Ok(state)
}

/// A house row as stored, with the payload its record is put back from.
#[derive(sqlx::FromRow)]
pub(crate) struct StoredHouse {
    pub(crate) code: String,
    state: String,
    facts: i32,
    version: i32,
    status: String,
    town_code: String,
    village_code: String,
    record_payload: Option<String>,
}

/// The columns of [`StoredHouse`], on alias `h`.
#[macro_export]
macro_rules! stored_house_columns {
    () => {
        concat!(
            "h.code, h.state, h.facts, h.version, h.status, h.town_code, h.village_code, ",
            $crate::record_payload_sql!(),
            " AS record_payload"
        )
    };
}

impl StoredHouse {
    /// Whether the row is what a replay of the house's events gives (state, facts, version,
    /// status, town and village); an error when its state cannot be read.
    pub(crate) fn matches(&self, replayed: &HouseState) -> Result<bool> {
        let stored = parse_state(&self.state, self.record_payload.as_deref())?;
        let rec = replayed.record.as_ref();
        Ok(stored == *replayed
            && self.facts as u32 == replayed.facts().bits()
            && self.version as u32 == replayed.version
            && self.status == replayed.status().code()
            && rec.is_some_and(|r| {
                r.town.as_str() == self.town_code && r.village.as_str() == self.village_code
            }))
    }
}

/// The columns of an `events` row that every reader decodes, its personal data still sealed.
#[derive(sqlx::FromRow)]
pub(crate) struct EventBody {
    pub(crate) seq: i32,
    effective: NaiveDate,
    recorded_at: i64,
    actor_id: String,
    actor_name: String,
    actor_role: String,
    reason: Option<String>,
    evidence: String,
    payload: String,
    pub(crate) personal: Option<String>,
}

impl EventBody {
    /// The fields its chained hash covers, with the event's kind and its personal digest.
    pub(crate) fn fields<'a>(
        &'a self,
        code: &'a str,
        kind: &'a str,
        personal: Option<&'a str>,
    ) -> chain::Fields<'a> {
        chain::Fields {
            code,
            seq: self.seq,
            kind,
            effective: self.effective,
            recorded_at: self.recorded_at,
            actor_id: &self.actor_id,
            actor_name: &self.actor_name,
            actor_role: &self.actor_role,
            reason: self.reason.as_deref(),
            evidence: &self.evidence,
            payload: &self.payload,
            personal,
        }
    }

    /// The event of house `code`, given its personal data already opened.
    pub(crate) fn decode(self, code: &str, personal: Option<&str>) -> Result<Event> {
        codec::from_row(
            code,
            self.seq,
            self.effective,
            self.recorded_at,
            self.actor_id,
            self.actor_name,
            &self.actor_role,
            self.reason,
            &self.evidence,
            &self.payload,
            personal,
        )
    }
}

/// An event as [`event_columns`] reads it, its personal data still sealed.
#[derive(sqlx::FromRow)]
pub(crate) struct StoredEvent {
    code: String,
    #[sqlx(flatten)]
    pub(crate) body: EventBody,
}

pub(crate) fn event_of(vault: &Vault, r: StoredEvent) -> Result<Event> {
    let personal = r
        .body
        .personal
        .as_deref()
        .map(|p| vault.open(column::EVENT_PERSONAL, p))
        .transpose()?;
    r.body.decode(&r.code, personal.as_deref())
}

/// The columns of [`StoredEvent`], for `SELECT … FROM events e JOIN houses h`.
#[macro_export]
macro_rules! event_columns {
    () => {
        "h.code, e.seq, e.effective, e.recorded_at, e.actor_id, e.actor_name, e.actor_role, e.reason, e.evidence, e.payload, e.personal"
    };
}

impl Store {
    /// One house with its people, if it exists within `scope`.
    pub(crate) async fn house(&self, scope: &Scope, code: &HouseCode) -> Result<HouseView> {
        const SQL: &str = concat!(
            "SELECT h.id, h.state, h.qr_token, p.data, ",
            record_payload_sql!(),
            " AS record_payload FROM houses h LEFT JOIN house_people p ON p.house_id = h.id WHERE h.code = $4 AND ",
            scope_sql!()
        );
        let sp = ScopeParams::of(scope);
        #[derive(sqlx::FromRow)]
        struct Row {
            id: i64,
            state: String,
            qr_token: String,
            data: Option<String>,
            record_payload: Option<String>,
        }
        let row: Option<Row> = on_db!(&self.db, p => sqlx::query_as(SQL)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(code.as_str())
            .fetch_optional(p).await)?;
        let Row {
            id,
            state,
            qr_token: plaque_token,
            data: people,
            record_payload: record,
        } = row.ok_or(StoreError::NotFound)?;
        let people = people
            .map(|p| self.vault.open(column::HOUSE_PEOPLE, &p))
            .transpose()?
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("house people: {e}")))?;
        Ok(HouseView {
            id,
            state: parse_state(&state, record.as_deref())?,
            people,
            plaque_token,
        })
    }

    /// A house's events in order, if it exists within `scope`.
    pub(crate) async fn house_events(&self, scope: &Scope, code: &HouseCode) -> Result<Vec<Event>> {
        const SQL: &str = concat!(
            "SELECT ",
            event_columns!(),
            " FROM houses h JOIN events e ON e.house_id = h.id WHERE h.code = $4 AND ",
            scope_sql!(),
            " ORDER BY e.seq"
        );
        let rows: Vec<StoredEvent> = self.rows_of_house(SQL, scope, code).await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.into_iter().map(|t| event_of(&self.vault, t)).collect()
    }

    /// How many houses lie within `scope`.
    pub(crate) async fn count_houses(&self, scope: &Scope) -> Result<i64> {
        const SQL: &str = concat!("SELECT COUNT(*) FROM houses h WHERE ", scope_sql!());
        let sp = ScopeParams::of(scope);
        Ok(on_db!(&self.db, p => sqlx::query_scalar(SQL)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key)
            .fetch_one(p).await)?)
    }

    /// How many events the houses within `scope` have.
    pub(crate) async fn count_events(&self, scope: &Scope) -> Result<i64> {
        const SQL: &str = concat!(
            "SELECT COUNT(*) FROM events e JOIN houses h ON h.id = e.house_id WHERE ",
            scope_sql!()
        );
        let sp = ScopeParams::of(scope);
        Ok(on_db!(&self.db, p => sqlx::query_scalar(SQL)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key)
            .fetch_one(p).await)?)
    }

    /// Checks, for every house within `scope`, that the stored projection equals a fresh replay
    /// of its stored events (state, facts, version, status). Returns the houses that differ.
    pub(crate) async fn verify_projection(&self, scope: &Scope) -> Result<Vec<String>> {
        const HOUSES: &str = concat!(
            "SELECT ",
            stored_house_columns!(),
            " FROM houses h WHERE ",
            scope_sql!(),
            " ORDER BY h.id"
        );
        let sp = ScopeParams::of(scope);
        let houses: Vec<StoredHouse> = on_db!(&self.db, p => sqlx::query_as(HOUSES)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key)
            .fetch_all(p).await)?;
        let mut bad = Vec::new();
        for house in houses {
            let code = HouseCode::parse(&house.code).map_err(|e| StoreError::Corrupt(e.0))?;
            let events = self.house_events(scope, &code).await?;
            let spans_ok = self.spans_match(scope, &code, &events).await?;
            let replayed = HouseState::replay(code.clone(), &events);
            let matches = house.matches(&replayed)?;
            if !(spans_ok && matches) {
                bad.push(code.to_string());
            }
        }
        Ok(bad)
    }
}

impl Store {
    /// Whether the stored fact spans of a house are those its events open and close.
    async fn spans_match(&self, scope: &Scope, code: &HouseCode, events: &[Event]) -> Result<bool> {
        const SQL: &str = concat!(
            "SELECT s.seq, s.town_code, s.village_code, s.facts, s.effective_from, s.effective_to, s.recorded_from, s.recorded_to \
             FROM fact_spans s JOIN houses h ON h.id = s.house_id WHERE h.code = $4 AND ",
            scope_sql!(),
            " ORDER BY s.seq"
        );
        let stored: Vec<SpanRow> = self.rows_of_house(SQL, scope, code).await?;
        Ok(stored == crate::houses::chain::spans_of(events))
    }

    /// The rows of `sql`, a statement about one house: the scope bound at `$1`–`$3`, the
    /// house's code at `$4`.
    async fn rows_of_house<T: ReadRow>(
        &self,
        sql: &'static str,
        scope: &Scope,
        code: &HouseCode,
    ) -> Result<Vec<T>> {
        let sp = ScopeParams::of(scope);
        Ok(on_db!(&self.db, p => sqlx::query_as(sql)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(code.as_str())
            .fetch_all(p).await)?)
    }
}

/// Loads a house for a write, within scope, locking its row on PostgreSQL. SQLite needs no row
/// lock: the write transaction began with `BEGIN IMMEDIATE` and holds the database's write lock.
pub(crate) async fn load_for_update(
    tx: &mut Tx,
    scope: &Scope,
    code: &HouseCode,
) -> Result<Option<(i64, HouseState)>> {
    const SQLITE: &str = concat!(
        "SELECT h.id, h.state, ",
        record_payload_sql!(),
        " FROM houses h WHERE h.code = $4 AND ",
        scope_sql!()
    );
    const POSTGRES: &str = concat!(
        "SELECT h.id, h.state, ",
        record_payload_sql!(),
        " FROM houses h WHERE h.code = $4 AND ",
        scope_sql!(),
        " FOR UPDATE OF h"
    );
    let sp = ScopeParams::of(scope);
    let row: Option<(i64, String, Option<String>)> = match tx {
        Tx::Sqlite(_) => on_tx!(tx, c => sqlx::query_as(SQLITE)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(code.as_str())
            .fetch_optional(&mut *c).await)?,
        Tx::Postgres(_) => on_tx!(tx, c => sqlx::query_as(POSTGRES)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(code.as_str())
            .fetch_optional(&mut *c).await)?,
    };
    row.map(|(id, s, r)| Ok((id, parse_state(&s, r.as_deref())?)))
        .transpose()
}

/// Whether a house code is taken at all, regardless of scope (only for allocating codes).
pub(crate) async fn code_taken(tx: &mut Tx, code: &HouseCode) -> Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM houses WHERE code = $1";
    let n: i64 =
        on_tx!(tx, c => sqlx::query_scalar(SQL).bind(code.as_str()).fetch_one(&mut *c).await)?;
    Ok(n > 0)
}

/// The highest house code of a county, under the write lock (PostgreSQL takes an advisory lock
/// so that two registrations cannot draw the same serial).
pub(crate) async fn last_code(tx: &mut Tx, county: &RegionCode) -> Result<Option<HouseCode>> {
    const SQL: &str = "SELECT code FROM houses WHERE code LIKE $1 ORDER BY code DESC LIMIT 1";
    let prefix = format!("AJ{}%", &county.as_str()[..6]);
    let code: Option<String> = match tx {
        Tx::Sqlite(c) => {
            sqlx::query_scalar(SQL)
                .bind(&prefix)
                .fetch_optional(&mut **c)
                .await?
        }
        Tx::Postgres(c) => {
            sqlx::query("SELECT pg_advisory_xact_lock(7301)")
                .execute(&mut **c)
                .await?;
            sqlx::query_scalar(SQL)
                .bind(&prefix)
                .fetch_optional(&mut **c)
                .await?
        }
    };
    Ok(code.and_then(|c| HouseCode::parse(&c).ok()))
}

/// The code and village of a house that already carries the record's platform code or census
/// id.
pub(crate) async fn carrying_identifiers(
    tx: &mut Tx,
    record: &anju_domain::house::HouseRecord,
) -> Result<Option<(String, String)>> {
    const SQL: &str =
        "SELECT code, village_code FROM houses WHERE platform_code = $1 OR census_id = $2 LIMIT 1";
    if record.platform_code.is_none() && record.census_id.is_none() {
        return Ok(None);
    }
    let found: Option<(String, String)> = on_tx!(tx, c => sqlx::query_as(SQL)
        .bind(record.platform_code.as_deref())
        .bind(record.census_id.as_deref())
        .fetch_optional(&mut *c).await)?;
    Ok(found)
}
