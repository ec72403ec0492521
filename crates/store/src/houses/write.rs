//! Writes. A step goes: load (in scope, locked) → `decide` → append the event, rewrite the
//! projection, write the audit row — all in one transaction. Bulk loads (demo, event-log import)
//! write many already-decided houses with multi-row statements, still in transactions.

use crate::houses::{code_taken, load_for_update};
use crate::infra::audit::Outcome;
use crate::infra::audit::{self, AuditEntry};
use crate::infra::codec::{self, EventRow, SpanRow};
use crate::infra::db::Tx;
use crate::infra::error::{Result, StoreError};
use crate::infra::vault::{Vault, column, digest_kind};
use crate::{Store, on_tx};
use anju_domain::Coded;
use anju_domain::event::{Actor, Change, Command, Event};
use anju_domain::house::People;
use anju_domain::rules::{conflict, decide};
use anju_domain::{HouseCode, HouseState, RegionCode, RuleCode, RuleViolation, Scope, apply};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The projection columns of one house.
#[derive(Debug, Clone)]
pub struct HouseRow {
    pub code: String,
    pub version: i32,
    pub town_code: String,
    pub village_code: String,
    pub platform_code: Option<String>,
    pub census_id: Option<String>,
    pub address: String,
    pub is_business: bool,
    pub status: &'static str,
    pub judgement: Option<&'static str>,
    pub grade: Option<&'static str>,
    pub facts: i32,
    pub registered_on: NaiveDate,
    pub last_effective: NaiveDate,
    pub updated_at: i64,
    pub updated_by: String,
    pub state: String,
    /// The map position ([`crate::houses::map::Position::of`]): coordinates and fine grid cell.
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub gx: Option<i32>,
    pub gy: Option<i32>,
}

impl HouseRow {
    /// Only for registered houses (`record` present), which is all that is ever stored.
    pub fn of(s: &HouseState) -> HouseRow {
        let r = s.record.as_ref().expect("a stored house is registered");
        let at = crate::houses::map::Position::of(s);
        HouseRow {
            lon: at.map(|p| p.lon),
            lat: at.map(|p| p.lat),
            gx: at.map(|p| p.gx as i32),
            gy: at.map(|p| p.gy as i32),
            code: s.code.to_string(),
            version: s.version as i32,
            town_code: r.town.to_string(),
            village_code: r.village.to_string(),
            platform_code: r.platform_code.clone(),
            census_id: r.census_id.clone(),
            address: r.address.clone(),
            is_business: r.is_business(),
            status: s.status().code(),
            judgement: s.judgement.map(|j| j.code()),
            grade: s.appraisal.as_ref().map(|a| a.value.code()),
            facts: s.facts().bits() as i32,
            registered_on: s.registered_on.expect("registered"),
            last_effective: s.last_effective.expect("has events"),
            updated_at: s.last_recorded_at.map_or(0, codec::micros),
            updated_by: s
                .last_actor
                .as_ref()
                .map_or_else(String::new, |a| a.id.clone()),
            state: serde_json::to_string(s).expect("state serializes"),
        }
    }
}

/// A house ready for a bulk write: its whole history, already decided.
#[derive(Debug, Clone)]
pub struct NewHouse {
    pub events: Vec<Event>,
    /// The state after the last event (equal to a replay of `events`).
    pub state: HouseState,
}

impl NewHouse {
    /// Folds `events` (assumed accepted by `decide`) into a house ready to write.
    pub fn from_events(events: Vec<Event>) -> NewHouse {
        let code = events.first().expect("a house has events").house.clone();
        let mut state = HouseState::new(code);
        for e in &events {
            state = apply(state, e);
        }
        NewHouse { events, state }
    }
}

/// Rows of a new house's `events`, chained from [`crate::houses::chain::GENESIS`], and the fact spans
/// they open, each closed by the next event.
pub(crate) fn event_rows(events: &[Event], vault: &Vault) -> (Vec<EventRow>, Vec<SpanRow>) {
    let mut prev = crate::houses::chain::GENESIS.to_string();
    let rows = events
        .iter()
        .map(|e| {
            let row = codec::to_row(e, vault, &prev);
            prev.clone_from(&row.hash);
            row
        })
        .collect();
    (rows, crate::houses::chain::spans_of(events))
}

fn plaque_token_of(events: &[Event]) -> String {
    events
        .iter()
        .find_map(|e| match &e.change {
            Change::Registered { plaque_token, .. } => Some(plaque_token.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn latest_people(events: &[Event]) -> Option<&People> {
    events.iter().rev().find_map(|e| e.change.people())
}

const INSERT_HOUSE: &str = "INSERT INTO houses (code, qr_token, version, town_code, village_code, platform_code, census_id, address, is_business, status, judgement, grade, facts, registered_on, last_effective, updated_at, updated_by, state, lon, lat, gx, gy) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) RETURNING id";
const UPDATE_HOUSE: &str = "UPDATE houses SET version = $2, town_code = $3, village_code = $4, platform_code = $5, census_id = $6, address = $7, is_business = $8, status = $9, judgement = $10, grade = $11, facts = $12, registered_on = $13, last_effective = $14, updated_at = $15, updated_by = $16, state = $17, \
    lon = $19, lat = $20, gx = $21, gy = $22 WHERE id = $1 AND version = $18";
const UPSERT_PEOPLE: &str = "INSERT INTO house_people (house_id, owner_name, data, owner_id_digest, owner_phone_digest) VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (house_id) DO UPDATE SET owner_name = excluded.owner_name, data = excluded.data, \
    owner_id_digest = excluded.owner_id_digest, owner_phone_digest = excluded.owner_phone_digest";
const DELETE_SECTORS: &str = "DELETE FROM house_sectors WHERE house_id = $1";
const INSERT_SECTOR: &str = "INSERT INTO house_sectors (house_id, department_code) VALUES ($1, $2)";
/// One event row (also used by `anju bench` as the bare single-row baseline).
pub const INSERT_EVENT: &str = "INSERT INTO events (house_id, seq, kind, effective, recorded_at, actor_id, actor_name, actor_role, reason, evidence, payload, personal, hash) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
/// The hash of a house's event (the previous one, when appending).
const EVENT_HASH: &str = "SELECT hash FROM events WHERE house_id = $1 AND seq = $2";
const CLOSE_SPAN: &str = "UPDATE fact_spans SET effective_to = $2, recorded_to = $3 WHERE house_id = $1 AND recorded_to IS NULL";
const INSERT_SPAN: &str = "INSERT INTO fact_spans (house_id, seq, town_code, village_code, facts, effective_from, effective_to, recorded_from, recorded_to) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl Store {
    /// Decides and records one step on a house within `scope`. On refusal nothing of the house
    /// changes; the refusal itself is audited. `source` is the client address or `cli`.
    #[tracing::instrument(skip_all, fields(house = %cmd.house, kind = cmd.change.kind().code()))]
    pub(crate) async fn execute(
        &self,
        scope: &Scope,
        actor: &Actor,
        cmd: &Command,
        source: &str,
    ) -> Result<Event> {
        self.run(scope, actor, cmd.clone(), source, false).await
    }

    /// Registers a new house: the next free house code of the county is given to it under the
    /// transaction's write lock (`cmd.house` is ignored). A platform code or census id already
    /// carried by another house is refused (L2): the same house is never registered twice.
    pub(crate) async fn register(
        &self,
        scope: &Scope,
        actor: &Actor,
        cmd: &Command,
        source: &str,
    ) -> Result<Event> {
        if !matches!(cmd.change, Change::Registered { .. }) {
            return Err(StoreError::Invalid("register takes a registration".into()));
        }
        self.run(scope, actor, cmd.clone(), source, true).await
    }

    async fn run(
        &self,
        scope: &Scope,
        actor: &Actor,
        mut cmd: Command,
        source: &str,
        allocate: bool,
    ) -> Result<Event> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let outcome = match allocate {
            true => match self.allocate(&mut tx, scope, &cmd).await {
                Ok(code) => {
                    cmd.house = code;
                    self.execute_in(&mut tx, scope, actor, &cmd, now).await
                }
                Err(e) => Err(e),
            },
            false => self.execute_in(&mut tx, scope, actor, &cmd, now).await,
        };
        let cmd = &cmd;
        match outcome {
            Ok((event, hash)) => {
                // The house's new head, vouched for by the chained audit row.
                let head = (event.house.to_string(), event.seq as i32, hash);
                let detail = serde_json::json!({
                    "seq": event.seq, "effective": event.effective,
                    "chain": crate::houses::chain::inline(&[head]),
                });
                let entry = audit_entry(actor, source, cmd, now, Outcome::Ok, detail.to_string());
                audit::append(&mut tx, &entry).await?;
                tx.commit().await?;
                Ok(event)
            }
            Err(err) => {
                tx.rollback().await?;
                if let StoreError::Rule(v) = &err {
                    let mut tx = self.db.begin().await?;
                    let outcome = Outcome::refused(v.code.as_str());
                    let detail =
                        serde_json::json!({ "rule": v.code.as_str(), "message": v.message });
                    let entry = audit_entry(actor, source, cmd, now, outcome, detail.to_string());
                    audit::append(&mut tx, &entry).await?;
                    tx.commit().await?;
                }
                Err(err)
            }
        }
    }

    /// Decides and writes one step inside `tx`; returns the event and its chained hash, the
    /// house's new head, which the caller's audit row must record (`crate::houses::chain`).
    pub(crate) async fn execute_in(
        &self,
        tx: &mut Tx,
        scope: &Scope,
        actor: &Actor,
        cmd: &Command,
        now: DateTime<Utc>,
    ) -> Result<(Event, String)> {
        let loaded = load_for_update(tx, scope, &cmd.house).await?;
        let registering = matches!(cmd.change, Change::Registered { .. });
        let (id, state) = match loaded {
            Some((id, state)) => (Some(id), state),
            None if registering => {
                if code_taken(tx, &cmd.house).await? {
                    return Err(RuleViolation {
                        code: RuleCode::L2,
                        message: format!("房屋编码 {} 已被使用", cmd.house),
                    }
                    .into());
                }
                (None, HouseState::new(cmd.house.clone()))
            }
            None => return Err(StoreError::NotFound),
        };
        if let Change::Registered { record, .. } | Change::Corrected { record, .. } = &cmd.change {
            self.check_village(scope, &record.village, cmd.effective)?;
        }
        let reference = self.reference();
        let event = decide(&state, cmd, actor, now, &reference.dictionaries)?;
        let expected = state.version;
        let next = apply(state, &event);
        let row = HouseRow::of(&next);
        let id = match id {
            None => insert_house(tx, &row, &plaque_token_of(std::slice::from_ref(&event))).await?,
            Some(id) => {
                if !update_house(tx, id, &row, expected).await? {
                    return Err(conflict(&next, expected).into());
                }
                id
            }
        };
        if let Some(p) = event.change.people() {
            upsert_people(tx, id, &PeopleRow::of(p, &self.vault)).await?;
        }
        if matches!(
            event.change,
            Change::Registered { .. } | Change::Corrected { .. }
        ) {
            self.write_sectors(tx, id, &next).await?;
        }
        let r = next.record.as_ref().expect("registered");
        let prev = match expected {
            0 => crate::houses::chain::GENESIS.to_string(),
            seq => {
                let h: Option<Option<String>> = on_tx!(tx, c => sqlx::query_scalar(EVENT_HASH)
                    .bind(id).bind(seq as i32).fetch_optional(&mut *c).await)?;
                h.flatten()
                    .ok_or_else(|| crate::houses::chain::unchained(cmd.house.as_str(), seq))?
            }
        };
        let row = codec::to_row(&event, &self.vault, &prev);
        insert_event(tx, id, &row).await?;
        let span = codec::span(&event, next.facts(), r.town.as_str(), r.village.as_str());
        on_tx!(tx, c => {
            sqlx::query(CLOSE_SPAN)
                .bind(id).bind(span.effective_from).bind(span.recorded_from)
                .execute(&mut *c).await?;
            sqlx::query(INSERT_SPAN)
                .bind(id).bind(span.seq).bind(&span.town_code).bind(&span.village_code).bind(span.facts)
                .bind(span.effective_from).bind(span.effective_to).bind(span.recorded_from).bind(span.recorded_to)
                .execute(&mut *c).await?;
        });
        Ok((event, row.hash))
    }

    /// The next house code of the county, after refusing identifiers another house carries.
    async fn allocate(&self, tx: &mut Tx, scope: &Scope, cmd: &Command) -> Result<HouseCode> {
        if let Change::Registered { record, .. } = &cmd.change
            && let Some((other, village)) = crate::houses::carrying_identifiers(tx, record).await?
        {
            // The code is named only to an account that may see that house.
            let visible = match scope {
                Scope::All => true,
                Scope::Region { code } => {
                    RegionCode::parse(&village).is_ok_and(|v| code.contains(&v))
                }
                _ => false,
            };
            let message = if visible {
                format!("该房屋已登记（房屋编码 {other}），请勿重复登记")
            } else {
                "该房屋（相同的归集平台编号或普查编号）已在其他辖区登记，请勿重复登记；如有疑问请联系县级办公室".into()
            };
            return Err(RuleViolation {
                code: RuleCode::L2,
                message,
            }
            .into());
        }
        let county = crate::ledgers::county_of(&self.reference().regions)?;
        let last = crate::houses::last_code(tx, &county).await?;
        Ok(HouseCode::new(&county, last.map_or(1, |c| c.serial() + 1)))
    }

    /// The village must exist, be valid on the day, and lie within the caller's scope.
    pub(crate) fn check_village(
        &self,
        scope: &Scope,
        village: &anju_domain::RegionCode,
        day: NaiveDate,
    ) -> Result<()> {
        let reference = self.reference();
        let region = reference.regions.iter().find(|r| r.code == *village);
        match region {
            Some(r) if r.valid_on(day) => {}
            Some(r) => {
                return Err(RuleViolation {
                    code: RuleCode::F1,
                    message: format!(
                        "村（社区）{}（{}）在 {day} 已撤并或尚未设立",
                        r.name, r.code
                    ),
                }
                .into());
            }
            None => {
                return Err(RuleViolation {
                    code: RuleCode::F1,
                    message: format!("村（社区）代码 {village} 不存在"),
                }
                .into());
            }
        }
        let inside = match scope {
            Scope::All => true,
            Scope::Nothing | Scope::Assigned { .. } => false,
            Scope::Region { code } | Scope::Department { within: code, .. } => {
                code.contains(village)
            }
        };
        if !inside {
            return Err(RuleViolation {
                code: RuleCode::P1,
                message: format!("村（社区）{village} 不在您的辖区内"),
            }
            .into());
        }
        Ok(())
    }

    /// The departments supervising a house, by its business types (`sectors`: type → department).
    fn departments_of(sectors: &BTreeMap<String, String>, state: &HouseState) -> BTreeSet<String> {
        state
            .record
            .iter()
            .filter(|r| r.is_business())
            .flat_map(|r| r.business_types.iter())
            .filter_map(|t| sectors.get(t).cloned())
            .collect()
    }

    async fn write_sectors(&self, tx: &mut Tx, id: i64, state: &HouseState) -> Result<()> {
        let depts = Self::departments_of(&self.reference().sector_map(), state);
        on_tx!(tx, c => {
            sqlx::query(DELETE_SECTORS).bind(id).execute(&mut *c).await?;
            for d in &depts {
                sqlx::query(INSERT_SECTOR).bind(id).bind(d).execute(&mut *c).await?;
            }
        });
        Ok(())
    }

    /// Writes houses whose events were already decided, with multi-row statements, inside `tx`.
    /// Ids are assigned after the current maximum, under the transaction's write lock.
    /// Returns the houses' heads, which the transaction's audit row must vouch for
    /// ([`crate::houses::chain::vouch_batch`]).
    pub async fn bulk_insert(
        &self,
        tx: &mut Tx,
        houses: &[NewHouse],
    ) -> Result<Vec<crate::houses::chain::Head>> {
        if houses.is_empty() {
            return Ok(vec![]);
        }
        const MAX_ID: &str = "SELECT COALESCE(MAX(id), 0) FROM houses";
        let base: i64 = on_tx!(tx, c => sqlx::query_scalar(MAX_ID).fetch_one(&mut *c).await)?;
        let rows = self.bulk_rows(base, houses);
        // SQLite: a bulk write touches index pages all over a large database, and the pool hands
        // consecutive transactions to whichever connection is idle (a connection goes back in a
        // spawned task), so a long import or demo load would fill the 64 MiB cache of two or
        // three connections — 280 MiB at a million imported rows. While it writes, the
        // connection's cache is held to 32 MiB; restored afterwards (raising it frees nothing).
        crate::infra::db::cache_kib(tx, BULK_CACHE_KIB).await?;
        let written = insert_rows(tx, &rows).await;
        crate::infra::db::cache_kib(tx, crate::infra::db::SQLITE_CACHE_KIB).await?;
        written?;
        Ok(rows.heads)
    }

    /// The rows `houses` become, with ids from `base + 1` on.
    pub fn bulk_rows(&self, base: i64, houses: &[NewHouse]) -> BulkRows {
        let mut rows = BulkRows::default();
        let sectors = self.reference().sector_map();
        for (i, h) in houses.iter().enumerate() {
            let id = base + 1 + i as i64;
            rows.houses
                .push((id, HouseRow::of(&h.state), plaque_token_of(&h.events)));
            if let Some(p) = latest_people(&h.events) {
                rows.people.push((id, PeopleRow::of(p, &self.vault)));
            }
            rows.sectors.extend(
                Self::departments_of(&sectors, &h.state)
                    .into_iter()
                    .map(|d| (id, d)),
            );
            let (events, spans) = event_rows(&h.events, &self.vault);
            if let Some(last) = events.last() {
                rows.heads
                    .push((h.state.code.to_string(), last.seq, last.hash.clone()));
            }
            rows.events.extend(events.into_iter().map(|r| (id, r)));
            rows.spans.extend(spans.into_iter().map(|r| (id, r)));
        }
        rows
    }
}

/// The page cache of a SQLite connection while it writes in bulk, KiB.
const BULK_CACHE_KIB: u32 = 32_768;

/// Precomputed rows of a bulk write: what [`insert_rows`] sends, and nothing else.
#[derive(Debug, Clone, Default)]
pub struct BulkRows {
    pub houses: Vec<(i64, HouseRow, String)>,
    pub people: Vec<(i64, PeopleRow)>,
    pub sectors: Vec<(i64, String)>,
    pub events: Vec<(i64, EventRow)>,
    pub spans: Vec<(i64, SpanRow)>,
    /// Each house's head: code, last seq and its hash (not written by [`insert_rows`]).
    pub heads: Vec<crate::houses::chain::Head>,
}

/// Rows per multi-row statement, by table: about 2,000 parameters each (see [`insert_rows`]).
const HOUSE_ROWS: usize = 100;
const PEOPLE_ROWS: usize = 400;
const SECTOR_ROWS: usize = 1000;
const EVENT_ROWS: usize = 150;
const SPAN_ROWS: usize = 200;

/// Bare batched `INSERT`s of precomputed rows (also the baseline of `anju bench`). Each statement
/// carries about 2,000 parameters; a full chunk's statement is prepared once per connection and
/// reused (a 27,000-parameter statement prepared afresh for every batch cost a tenth of the time
/// in SQLite's parser and left megabytes of freed memory with each connection's thread), only
/// a table's last, shorter chunk is prepared for the occasion.
pub async fn insert_rows(tx: &mut Tx, rows: &BulkRows) -> Result<()> {
    for chunk in rows.houses.chunks(HOUSE_ROWS) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO houses (id, code, qr_token, version, town_code, village_code, platform_code, census_id, address, is_business, status, judgement, grade, facts, registered_on, last_effective, updated_at, updated_by, state, lon, lat, gx, gy) ");
            qb.push_values(chunk, |mut b, (id, r, token)| {
                b.push_bind(*id).push_bind(&r.code).push_bind(token).push_bind(r.version)
                    .push_bind(&r.town_code).push_bind(&r.village_code).push_bind(&r.platform_code)
                    .push_bind(&r.census_id).push_bind(&r.address).push_bind(r.is_business)
                    .push_bind(r.status).push_bind(r.judgement).push_bind(r.grade).push_bind(r.facts)
                    .push_bind(r.registered_on).push_bind(r.last_effective).push_bind(r.updated_at)
                    .push_bind(&r.updated_by).push_bind(&r.state)
                    .push_bind(r.lon).push_bind(r.lat).push_bind(r.gx).push_bind(r.gy);
            });
            qb.build().persistent(chunk.len() == HOUSE_ROWS).execute(&mut *c).await?;
        });
    }
    for chunk in rows.people.chunks(PEOPLE_ROWS) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO house_people (house_id, owner_name, data, owner_id_digest, owner_phone_digest) ");
            qb.push_values(chunk, |mut b, (id, p)| {
                b.push_bind(*id).push_bind(&p.owner_name).push_bind(&p.sealed)
                    .push_bind(&p.id_digest).push_bind(&p.phone_digest);
            });
            qb.build().persistent(chunk.len() == PEOPLE_ROWS).execute(&mut *c).await?;
        });
    }
    for chunk in rows.sectors.chunks(SECTOR_ROWS) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO house_sectors (house_id, department_code) ");
            qb.push_values(chunk, |mut b, (id, d)| {
                b.push_bind(*id).push_bind(d);
            });
            qb.build().persistent(chunk.len() == SECTOR_ROWS).execute(&mut *c).await?;
        });
    }
    for chunk in rows.events.chunks(EVENT_ROWS) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO events (house_id, seq, kind, effective, recorded_at, actor_id, actor_name, actor_role, reason, evidence, payload, personal, hash) ");
            qb.push_values(chunk, |mut b, (id, e)| {
                b.push_bind(*id).push_bind(e.seq).push_bind(e.kind).push_bind(e.effective)
                    .push_bind(e.recorded_at).push_bind(&e.actor_id).push_bind(&e.actor_name)
                    .push_bind(&e.actor_role).push_bind(&e.reason).push_bind(&e.evidence)
                    .push_bind(&e.payload).push_bind(&e.personal).push_bind(&e.hash);
            });
            qb.build().persistent(chunk.len() == EVENT_ROWS).execute(&mut *c).await?;
        });
    }
    for chunk in rows.spans.chunks(SPAN_ROWS) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO fact_spans (house_id, seq, town_code, village_code, facts, effective_from, effective_to, recorded_from, recorded_to) ");
            qb.push_values(chunk, |mut b, (id, s)| {
                b.push_bind(*id).push_bind(s.seq).push_bind(&s.town_code).push_bind(&s.village_code)
                    .push_bind(s.facts).push_bind(s.effective_from).push_bind(s.effective_to)
                    .push_bind(s.recorded_from).push_bind(s.recorded_to);
            });
            qb.build().persistent(chunk.len() == SPAN_ROWS).execute(&mut *c).await?;
        });
    }
    if let Tx::Postgres(_) = tx {
        // Explicit ids leave the identity sequence behind; move it past them.
        const SYNC: &str =
            "SELECT setval(pg_get_serial_sequence('houses', 'id'), (SELECT MAX(id) FROM houses))";
        on_tx!(tx, c => sqlx::query(SYNC).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

fn audit_entry(
    actor: &Actor,
    source: &str,
    cmd: &Command,
    at: DateTime<Utc>,
    outcome: Outcome,
    detail: String,
) -> AuditEntry {
    AuditEntry {
        at,
        actor_id: actor.id.clone(),
        actor_role: codec::role_code(actor.role),
        source: source.to_string(),
        action: format!("house.{}", cmd.change.kind().code()),
        object: cmd.house.to_string(),
        outcome,
        reason: cmd.reason.clone(),
        detail,
    }
}

async fn insert_house(tx: &mut Tx, r: &HouseRow, token: &str) -> Result<i64> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(INSERT_HOUSE)
        .bind(&r.code).bind(token).bind(r.version).bind(&r.town_code).bind(&r.village_code)
        .bind(&r.platform_code).bind(&r.census_id).bind(&r.address).bind(r.is_business)
        .bind(r.status).bind(r.judgement).bind(r.grade).bind(r.facts).bind(r.registered_on)
        .bind(r.last_effective).bind(r.updated_at).bind(&r.updated_by).bind(&r.state)
        .bind(r.lon).bind(r.lat).bind(r.gx).bind(r.gy)
        .fetch_one(&mut *c).await)?)
}

/// Rewrites the projection if the stored version is still `expected`; false when it is not.
async fn update_house(tx: &mut Tx, id: i64, r: &HouseRow, expected: u32) -> Result<bool> {
    let n = on_tx!(tx, c => sqlx::query(UPDATE_HOUSE)
        .bind(id).bind(r.version).bind(&r.town_code).bind(&r.village_code)
        .bind(&r.platform_code).bind(&r.census_id).bind(&r.address).bind(r.is_business)
        .bind(r.status).bind(r.judgement).bind(r.grade).bind(r.facts).bind(r.registered_on)
        .bind(r.last_effective).bind(r.updated_at).bind(&r.updated_by).bind(&r.state)
        .bind(expected as i32)
        .bind(r.lon).bind(r.lat).bind(r.gx).bind(r.gy)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A `house_people` row: the owner's name in clear (searched by name), everything else sealed,
/// and keyed hashes of the owner's ID and phone number for exact search and duplicates.
#[derive(Debug, Clone)]
pub struct PeopleRow {
    pub owner_name: String,
    pub sealed: String,
    pub id_digest: Option<String>,
    pub phone_digest: Option<String>,
}

impl PeopleRow {
    pub fn of(p: &People, vault: &Vault) -> PeopleRow {
        let data = serde_json::to_string(p).expect("serializes");
        PeopleRow {
            owner_name: p.owner_name.clone(),
            sealed: vault.seal(column::HOUSE_PEOPLE, &data),
            id_digest: p
                .owner_id
                .as_ref()
                .map(|i| vault.digest(digest_kind::ID, i.as_str())),
            phone_digest: p
                .owner_phone
                .as_ref()
                .map(|n| vault.digest(digest_kind::PHONE, n.as_str())),
        }
    }
}

async fn upsert_people(tx: &mut Tx, id: i64, p: &PeopleRow) -> Result<()> {
    on_tx!(tx, c => sqlx::query(UPSERT_PEOPLE).bind(id).bind(&p.owner_name).bind(&p.sealed)
        .bind(&p.id_digest).bind(&p.phone_digest)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

async fn insert_event(tx: &mut Tx, house_id: i64, e: &EventRow) -> Result<()> {
    on_tx!(tx, c => sqlx::query(INSERT_EVENT)
        .bind(house_id).bind(e.seq).bind(e.kind).bind(e.effective).bind(e.recorded_at)
        .bind(&e.actor_id).bind(&e.actor_name).bind(&e.actor_role).bind(&e.reason)
        .bind(&e.evidence).bind(&e.payload).bind(&e.personal).bind(&e.hash)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A refused attempt made outside `execute` (demo, import), to be audited with a batch.
#[derive(Debug, Clone)]
pub struct RefusedAttempt {
    pub house: String,
    pub actor: Actor,
    pub change: String,
    pub violation: RuleViolation,
    pub at: DateTime<Utc>,
}

impl Store {
    /// Writes one batch of already-decided houses and the refusals met while deciding them, in
    /// one transaction with its audit rows: one for the batch, one per refusal.
    pub(crate) async fn write_batch(
        &self,
        houses: &[NewHouse],
        refusals: &[RefusedAttempt],
        action: &str,
        actor: &Actor,
        source: &str,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let heads = self.bulk_insert(&mut tx, houses).await?;
        let chain = crate::houses::chain::vouch_batch(&mut tx, heads).await?;
        for r in refusals {
            let entry = AuditEntry {
                at: r.at,
                actor_id: r.actor.id.clone(),
                actor_role: codec::role_code(r.actor.role),
                source: source.to_string(),
                action: format!("house.{}", r.change),
                object: r.house.clone(),
                outcome: crate::infra::audit::Outcome::refused(r.violation.code.as_str()),
                reason: None,
                detail: serde_json::json!({ "rule": r.violation.code.as_str(), "message": r.violation.message }).to_string(),
            };
            audit::append(&mut tx, &entry).await?;
        }
        let events: usize = houses.iter().map(|h| h.events.len()).sum();
        let entry = AuditEntry {
            at: self.now(),
            actor_id: actor.id.clone(),
            actor_role: codec::role_code(actor.role),
            source: source.to_string(),
            action: action.to_string(),
            object: "houses".into(),
            outcome: crate::infra::audit::Outcome::Ok,
            reason: None,
            detail: serde_json::json!({ "houses": houses.len(), "events": events, "refused": refusals.len(), "chain_batch": chain }).to_string(),
        };
        audit::append(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(())
    }
}
