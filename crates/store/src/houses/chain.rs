//! Every event under the chain (issue 18). Each `events` row carries a SHA-256 over its fields
//! and the hash of its house's previous event, so a house's history hashes to one head; the
//! audit row written in the same transaction records that head — inline (`"chain": [[code, seq,
//! hash]]`, a single step) or, for many houses at once (a bulk load, an import, the baseline of
//! events written before the chain existed), as a batch of `chain_heads` rows whose count and
//! digest the audit row records (`"chain_batch": {"batch", "houses", "digest"}`). The audit chain
//! itself is SHA-256-linked (`infra/audit.rs`), so it vouches for every house's latest head.
//!
//! [`crate::Store::verify_all`] walks the audit chain, collects the heads it vouches for, then
//! reads every house once: each event's hash is recomputed, the house's head compared with the
//! one vouched for, and the projection (house row, fact spans, people) compared with a replay of
//! the events. What it finds is named by house code.
//!
//! Personal data enters an event's hash as its keyed search hash (HMAC under the index key, which
//! key rotation keeps), never as plain text: the hashes stored beside the rows give nothing to
//! guess an ID number against, and re-sealing under a new key leaves every hash as it was.

use crate::houses::{EventBody, StoredHouse};
use crate::infra::codec::{self, EventRow, SpanRow};
use crate::infra::db::Tx;
use crate::infra::error::{Result, StoreError};
use crate::infra::vault::column;
use crate::{Store, on_db, on_tx};
use anju_domain::{HouseCode, HouseState};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The "previous hash" of a house's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The keyed-hash domain of an event's personal data.
pub(crate) const PERSONAL_DIGEST: &str = "event-personal";

/// The fields of an event row that its hash covers, as stored.
pub struct Fields<'a> {
    pub code: &'a str,
    pub seq: i32,
    pub kind: &'a str,
    pub effective: NaiveDate,
    pub recorded_at: i64,
    pub actor_id: &'a str,
    pub actor_name: &'a str,
    pub actor_role: &'a str,
    pub reason: Option<&'a str>,
    pub evidence: &'a str,
    pub payload: &'a str,
    /// The keyed hash of the personal data's plain text, when the event carries any.
    pub personal: Option<&'a str>,
}

/// An event's chained hash: SHA-256 over the previous event's hash and the row's fields, each
/// followed by a separator; an absent optional field is told apart from an empty one.
pub fn event_hash(prev: &str, f: &Fields) -> String {
    let mut h = Sha256::new();
    let opt = |v: Option<&str>| v.map_or_else(|| "\u{0}".to_string(), |s| format!("={s}"));
    for part in [
        prev,
        f.code,
        &f.seq.to_string(),
        f.kind,
        &f.effective.to_string(),
        &f.recorded_at.to_string(),
        f.actor_id,
        f.actor_name,
        f.actor_role,
        &opt(f.reason),
        f.evidence,
        f.payload,
        &opt(f.personal),
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// The hash of a row about to be written, after `prev`.
pub(crate) fn row_hash(prev: &str, code: &str, r: &EventRow, personal: Option<&str>) -> String {
    event_hash(
        prev,
        &Fields {
            code,
            seq: r.seq,
            kind: r.kind,
            effective: r.effective,
            recorded_at: r.recorded_at,
            actor_id: &r.actor_id,
            actor_name: &r.actor_name,
            actor_role: &r.actor_role,
            reason: r.reason.as_deref(),
            evidence: &r.evidence,
            payload: &r.payload,
            personal,
        },
    )
}

/// A house's head: its code, the seq of its latest event and that event's hash.
pub type Head = (String, i32, String);

/// The digest of a batch of heads, over lines `code␟seq␟hash` in byte order of code.
pub fn heads_digest<'a>(sorted: impl IntoIterator<Item = (&'a str, i32, &'a str)>) -> String {
    let mut h = Sha256::new();
    for (code, seq, hash) in sorted {
        feed(&mut h, code, seq, hash);
    }
    hex::encode(h.finalize())
}

/// The audit detail vouching for a few heads inline.
pub fn inline(heads: &[Head]) -> serde_json::Value {
    serde_json::json!(
        heads
            .iter()
            .map(|(c, s, h)| serde_json::json!([c, s, h]))
            .collect::<Vec<_>>()
    )
}

/// Rows per multi-row statement of `chain_heads` (4 parameters each).
const HEAD_ROWS: usize = 500;

/// Writes `heads` as a new batch of `chain_heads` inside `tx` and returns what the audit row of
/// the same transaction records under `chain_batch`. A house named twice keeps its last head.
pub async fn vouch_batch(tx: &mut Tx, heads: Vec<Head>) -> Result<serde_json::Value> {
    let mut by_code: std::collections::BTreeMap<String, (i32, String)> = Default::default();
    for (c, s, h) in heads {
        by_code.insert(c, (s, h));
    }
    let batch = hex::encode(crate::infra::vault::random_bytes::<16>());
    let rows: Vec<(&String, &(i32, String))> = by_code.iter().collect();
    for chunk in rows.chunks(HEAD_ROWS) {
        on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO chain_heads (batch, code, seq, hash) ");
            qb.push_values(chunk, |mut b, (code, (seq, hash))| {
                b.push_bind(&batch).push_bind(*code).push_bind(*seq).push_bind(hash);
            });
            qb.build().persistent(chunk.len() == HEAD_ROWS).execute(&mut *c).await?;
        });
    }
    // BTreeMap order is byte order of the codes.
    let digest = heads_digest(
        by_code
            .iter()
            .map(|(c, (s, h))| (c.as_str(), *s, h.as_str())),
    );
    Ok(serde_json::json!({ "batch": batch, "houses": by_code.len(), "digest": digest }))
}

/// What is wrong with one house.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HouseFault {
    pub code: String,
    /// In Chinese, for the operator.
    pub message: String,
}

/// What [`Store::verify_all`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChainReport {
    /// Rows of the audit trail and the first one whose link does not hold.
    pub audit_rows: i64,
    pub audit_broken: Option<i64>,
    pub houses: u64,
    pub events: u64,
    /// Houses whose events, rows or derived data disagree with the audit trail or each other.
    pub faults: Vec<HouseFault>,
    /// Batches of vouched heads that do not match their audit row (no single house to name).
    pub batch_faults: Vec<String>,
    /// Event rows whose house row is gone (no code to name them by).
    pub orphan_events: i64,
}

impl ChainReport {
    pub fn is_clean(&self) -> bool {
        self.audit_broken.is_none()
            && self.faults.is_empty()
            && self.batch_faults.is_empty()
            && self.orphan_events == 0
    }

    fn fault(&mut self, code: &str, message: impl Into<String>) {
        self.faults.push(HouseFault {
            code: code.to_string(),
            message: message.into(),
        });
    }
}

/// A vouched head: seq, hash, and the audit row that vouched for it.
type Vouched = (i32, [u8; 32], i64);

fn raw(hash: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if hex::decode_to_slice(hash, &mut out).is_err() {
        // An unparsable hash matches nothing computed.
        out = [0xff; 32];
    }
    out
}

/// Houses read per round of the verification.
const HOUSES_PER_ROUND: i64 = 500;

/// A house as the chain check reads it.
#[derive(sqlx::FromRow)]
struct CheckedHouse {
    id: i64,
    #[sqlx(flatten)]
    house: StoredHouse,
}
/// An event as the chain check reads it, with its stored hash.
#[derive(sqlx::FromRow)]
struct CheckedEvent {
    house_id: i64,
    kind: String,
    #[sqlx(flatten)]
    body: EventBody,
    hash: Option<String>,
}
/// A stored fact span with its house.
#[derive(sqlx::FromRow)]
struct CheckedSpan {
    house_id: i64,
    #[sqlx(flatten)]
    span: SpanRow,
}

/// The fact spans a house's events open and close (as `write` stores them).
pub(crate) fn spans_of(events: &[anju_domain::event::Event]) -> Vec<SpanRow> {
    let Some(first) = events.first() else {
        return vec![];
    };
    let mut state = HouseState::new(first.house.clone());
    let mut spans: Vec<SpanRow> = Vec::with_capacity(events.len());
    for e in events {
        state = anju_domain::apply(
            std::mem::replace(&mut state, HouseState::new(e.house.clone())),
            e,
        );
        let Some(r) = state.record.as_ref() else {
            continue;
        };
        if let Some(prev) = spans.last_mut() {
            prev.effective_to = Some(e.effective);
            prev.recorded_to = Some(codec::micros(e.recorded_at));
        }
        spans.push(codec::span(
            e,
            state.facts(),
            r.town.as_str(),
            r.village.as_str(),
        ));
    }
    spans
}

impl Store {
    /// Chains the events written before the chain existed (migration 0006), once: in one
    /// transaction every such house's events get their hashes, the heads go into one batch of
    /// `chain_heads`, and one audit row (`chain.baseline`) vouches for the batch. Houses are
    /// read a page at a time, so memory stays flat at any size.
    pub async fn chain_legacy_events(&self) -> Result<Option<u64>> {
        const ANY: &str =
            "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE hash IS NULL LIMIT 1) t";
        let pending: i64 = on_db!(&self.db, p => sqlx::query_scalar(ANY).fetch_one(p).await)?;
        if pending == 0 {
            return Ok(None);
        }
        const HOUSES: &str = "SELECT h.id, h.code FROM houses h WHERE h.id > $1 \
            AND EXISTS (SELECT 1 FROM events e WHERE e.house_id = h.id AND e.hash IS NULL) ORDER BY h.id LIMIT $2";
        const EVENTS: &str = "SELECT e.id, e.house_id, e.seq, e.kind, e.effective, e.recorded_at, e.actor_id, e.actor_name, e.actor_role, e.reason, e.evidence, e.payload, e.personal \
            FROM events e WHERE e.house_id >= $1 AND e.house_id <= $2 ORDER BY e.house_id, e.seq";
        #[derive(sqlx::FromRow)]
        struct Ev {
            id: i64,
            house_id: i64,
            kind: String,
            #[sqlx(flatten)]
            body: EventBody,
        }
        let batch = hex::encode(crate::infra::vault::random_bytes::<16>());
        let mut tx = self.db.begin().await?;
        let (mut last, mut houses, mut events) = (0_i64, 0_u64, 0_u64);
        loop {
            let page: Vec<(i64, String)> = on_tx!(&mut tx, c => sqlx::query_as(HOUSES)
                .bind(last).bind(HOUSES_PER_ROUND).fetch_all(&mut *c).await)?;
            let (Some(first), Some(end)) = (page.first(), page.last()) else {
                break;
            };
            let (lo, hi) = (first.0, end.0);
            last = hi;
            let codes: HashMap<i64, &str> = page.iter().map(|(i, c)| (*i, c.as_str())).collect();
            let rows: Vec<Ev> = on_tx!(&mut tx, c => sqlx::query_as(EVENTS)
                .bind(lo).bind(hi).fetch_all(&mut *c).await)?;
            let mut updates: Vec<(i64, String)> = Vec::with_capacity(rows.len());
            let mut heads: Vec<Head> = Vec::with_capacity(page.len());
            let mut prev: Option<(i64, String)> = None;
            for r in rows {
                let Some(code) = codes.get(&r.house_id) else {
                    continue;
                };
                let before = match &prev {
                    Some((h, hash)) if *h == r.house_id => hash.clone(),
                    _ => GENESIS.to_string(),
                };
                let personal = r
                    .body
                    .personal
                    .as_deref()
                    .map(|p| self.personal_digest_of_sealed(p))
                    .transpose()?;
                let hash = event_hash(&before, &r.body.fields(code, &r.kind, personal.as_deref()));
                let seq = r.body.seq;
                match heads.last_mut() {
                    Some(head) if head.0 == *code => {
                        head.1 = seq;
                        head.2 = hash.clone();
                    }
                    _ => heads.push((code.to_string(), seq, hash.clone())),
                }
                updates.push((r.id, hash.clone()));
                prev = Some((r.house_id, hash));
            }
            events += updates.len() as u64;
            houses += heads.len() as u64;
            for chunk in updates.chunks(HEAD_ROWS) {
                on_tx!(&mut tx, c => {
                    let mut qb = sqlx::QueryBuilder::new("UPDATE events SET hash = v.column2 FROM (");
                    qb.push_values(chunk, |mut b, (id, hash)| {
                        b.push_bind(*id).push_bind(hash);
                    });
                    qb.push(") AS v WHERE events.id = v.column1");
                    // `push_values` writes `VALUES (…), (…)`, a table both backends accept in FROM
                    // with columns named column1, column2.
                    qb.build().persistent(chunk.len() == HEAD_ROWS).execute(&mut *c).await?;
                });
            }
            for chunk in heads.chunks(HEAD_ROWS) {
                on_tx!(&mut tx, c => {
                    let mut qb = sqlx::QueryBuilder::new("INSERT INTO chain_heads (batch, code, seq, hash) ");
                    qb.push_values(chunk, |mut b, (code, seq, hash)| {
                        b.push_bind(&batch).push_bind(code).push_bind(*seq).push_bind(hash);
                    });
                    qb.build().persistent(chunk.len() == HEAD_ROWS).execute(&mut *c).await?;
                });
            }
        }
        // The batch's digest, read back in code order a page at a time.
        const HEADS: &str = "SELECT code, seq, hash FROM chain_heads WHERE batch = $1 AND code > $2 ORDER BY code LIMIT 5000";
        let mut digest = Sha256::new();
        let mut after = String::new();
        loop {
            let rows: Vec<(String, i32, String)> = on_tx!(&mut tx, c => sqlx::query_as(HEADS)
                .bind(&batch).bind(&after).fetch_all(&mut *c).await)?;
            let Some(end) = rows.last() else { break };
            after = end.0.clone();
            for (code, seq, hash) in &rows {
                feed(&mut digest, code, *seq, hash);
            }
        }
        let digest = hex::encode(digest.finalize());
        let entry = crate::infra::audit::AuditEntry::ok(
            self.now(),
            "system",
            "system",
            "migrate",
            "chain.baseline",
            "events",
        )
        .with_detail(serde_json::json!({
            "chain_batch": { "batch": batch, "houses": houses, "digest": digest },
            "events": events,
        }));
        crate::infra::audit::append(&mut tx, &entry).await?;
        tx.commit().await?;
        tracing::info!(
            houses,
            events,
            "chained the events written before the chain"
        );
        Ok(Some(houses))
    }

    /// The keyed hash of a sealed personal value's plain text.
    fn personal_digest_of_sealed(&self, sealed: &str) -> Result<String> {
        let plain = self.open_or_plain(column::EVENT_PERSONAL, sealed)?;
        Ok(self.vault().digest(PERSONAL_DIGEST, &plain))
    }

    /// Checks everything the audit trail vouches for (see the module's documentation): the audit
    /// chain, every house's events against the head the trail recorded, and the house rows, fact
    /// spans and people against a replay of the events. Reads the houses a page at a time; holds
    /// the vouched heads in memory (about 100 bytes a house).
    pub(crate) async fn verify_all(&self) -> Result<ChainReport> {
        let mut report = ChainReport::default();
        let mut vouched: HashMap<String, Vouched> = HashMap::new();
        // batch → (audit id, houses, digest)
        let mut batches: HashMap<String, (i64, i64, String)> = HashMap::new();
        let mut rows = 0_i64;
        report.audit_broken = crate::infra::audit::verify_with(&self.db, |id, outcome, detail| {
            rows = id;
            if outcome != "ok" || !detail.contains("\"chain") {
                return;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(detail) else {
                return;
            };
            if let Some(list) = v["chain"].as_array() {
                for h in list {
                    if let (Some(c), Some(s), Some(x)) =
                        (h[0].as_str(), h[1].as_i64(), h[2].as_str())
                    {
                        vouched.insert(c.to_string(), (s as i32, raw(x), id));
                    }
                }
            }
            let b = &v["chain_batch"];
            if let (Some(t), Some(n), Some(d)) = (
                b["batch"].as_str(),
                b["houses"].as_i64(),
                b["digest"].as_str(),
            ) {
                batches.insert(t.to_string(), (id, n, d.to_string()));
            }
        })
        .await?;
        report.audit_rows = rows;

        // Batches of heads: each must be the one its audit row describes.
        const HEADS: &str = "SELECT batch, code, seq, hash FROM chain_heads WHERE (batch, code) > ($1, $2) ORDER BY batch, code LIMIT 5000";
        let (mut after_batch, mut after_code) = (String::new(), String::new());
        let mut current: Option<(String, Sha256, i64)> = None;
        let mut seen: std::collections::HashSet<String> = Default::default();
        let mut close = |report: &mut ChainReport, cur: Option<(String, Sha256, i64)>| {
            if let Some((batch, digest, n)) = cur {
                let digest = hex::encode(digest.finalize());
                match batches.get(&batch) {
                    None => report.batch_faults.push(format!(
                        "chain_heads 中的批次 {batch}（{n} 栋房屋）不在审计日志中：系外写入"
                    )),
                    Some((id, houses, d)) if *houses != n || *d != digest => {
                        report.batch_faults.push(format!(
                            "审计日志第 {id} 条记录的房屋批次（{houses} 栋）已被改动：现有 {n} 栋，摘要不符"
                        ))
                    }
                    Some(_) => {}
                }
                seen.insert(batch);
            }
        };
        loop {
            let page: Vec<(String, String, i32, String)> = on_db!(&self.db, p => sqlx::query_as(HEADS)
                .bind(&after_batch).bind(&after_code).fetch_all(p).await)?;
            let Some(end) = page.last() else { break };
            (after_batch, after_code) = (end.0.clone(), end.1.clone());
            for (batch, code, seq, hash) in page {
                if current.as_ref().is_none_or(|c| c.0 != batch) {
                    close(&mut report, current.take());
                    current = Some((batch.clone(), Sha256::new(), 0));
                }
                let cur = current.as_mut().expect("set above");
                feed(&mut cur.1, &code, seq, &hash);
                cur.2 += 1;
                if let Some((id, _, _)) = batches.get(&batch) {
                    let keep = vouched.get(&code).is_none_or(|v| v.2 < *id);
                    if keep {
                        vouched.insert(code, (seq, raw(&hash), *id));
                    }
                }
            }
        }
        close(&mut report, current.take());
        for (batch, (id, houses, _)) in &batches {
            if !seen.contains(batch) && *houses > 0 {
                report.batch_faults.push(format!(
                    "审计日志第 {id} 条记录的房屋批次（{houses} 栋）在 chain_heads 中已被删除"
                ));
            }
        }

        // Every house, a page at a time.
        const HOUSES: &str = concat!(
            "SELECT h.id, ",
            crate::stored_house_columns!(),
            " FROM houses h WHERE h.id > $1 ORDER BY h.id LIMIT $2"
        );
        const EVENTS: &str = "SELECT e.house_id, e.seq, e.kind, e.effective, e.recorded_at, e.actor_id, e.actor_name, e.actor_role, e.reason, e.evidence, e.payload, e.personal, e.hash \
            FROM events e WHERE e.house_id >= $1 AND e.house_id <= $2 ORDER BY e.house_id, e.seq";
        const SPANS: &str = "SELECT house_id, seq, town_code, village_code, facts, effective_from, effective_to, recorded_from, recorded_to \
            FROM fact_spans WHERE house_id >= $1 AND house_id <= $2 ORDER BY house_id, seq";
        const PEOPLE: &str =
            "SELECT house_id, data FROM house_people WHERE house_id >= $1 AND house_id <= $2";
        let mut last = 0_i64;
        loop {
            let page: Vec<CheckedHouse> = on_db!(&self.db, p => sqlx::query_as(HOUSES)
                .bind(last).bind(HOUSES_PER_ROUND).fetch_all(p).await)?;
            let (Some(first), Some(end)) = (page.first(), page.last()) else {
                break;
            };
            let (lo, hi) = (first.id, end.id);
            last = hi;
            let events: Vec<CheckedEvent> = on_db!(&self.db, p => sqlx::query_as(EVENTS)
                .bind(lo).bind(hi).fetch_all(p).await)?;
            let spans: Vec<CheckedSpan> = on_db!(&self.db, p => sqlx::query_as(SPANS)
                .bind(lo).bind(hi).fetch_all(p).await)?;
            let people: Vec<(i64, String)> = on_db!(&self.db, p => sqlx::query_as(PEOPLE)
                .bind(lo).bind(hi).fetch_all(p).await)?;
            let mut events_of: HashMap<i64, Vec<CheckedEvent>> = HashMap::new();
            for e in events {
                events_of.entry(e.house_id).or_default().push(e);
            }
            let mut spans_of_house: HashMap<i64, Vec<SpanRow>> = HashMap::new();
            for s in spans {
                spans_of_house.entry(s.house_id).or_default().push(s.span);
            }
            let people: HashMap<i64, String> = people.into_iter().collect();
            for h in page {
                report.houses += 1;
                let id = h.id;
                let code = h.house.code.clone();
                let evs = events_of.remove(&id).unwrap_or_default();
                report.events += evs.len() as u64;
                let expected = vouched.remove(&code);
                self.check_house(
                    &mut report,
                    h,
                    evs,
                    spans_of_house.remove(&id).unwrap_or_default(),
                    people.get(&id).map(String::as_str),
                    expected,
                );
            }
        }
        let mut gone: Vec<(String, Vouched)> = vouched.into_iter().collect();
        gone.sort_by(|a, b| a.0.cmp(&b.0));
        for (code, (seq, _, id)) in gone {
            report.fault(
                &code,
                format!(
                    "审计日志（第 {id} 条）记载该房屋有 {seq} 条事件，但其房屋记录和事件已从数据库中删除"
                ),
            );
        }
        const ORPHANS: &str = "SELECT COUNT(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM houses h WHERE h.id = e.house_id)";
        report.orphan_events =
            on_db!(&self.db, p => sqlx::query_scalar(ORPHANS).fetch_one(p).await)?;
        Ok(report)
    }

    /// One house: its event chain against the vouched head, then its derived rows against a
    /// replay. Faults go into `report`.
    fn check_house(
        &self,
        report: &mut ChainReport,
        h: CheckedHouse,
        events: Vec<CheckedEvent>,
        spans: Vec<SpanRow>,
        people: Option<&str>,
        expected: Option<Vouched>,
    ) {
        let house = h.house;
        let code = house.code.as_str();
        let mut prev = GENESIS.to_string();
        let mut decoded = Vec::with_capacity(events.len());
        let mut first_bad: Option<String> = None;
        for (i, e) in events.into_iter().enumerate() {
            let CheckedEvent {
                kind,
                body,
                hash: stored,
                ..
            } = e;
            let seq = body.seq;
            if seq != i as i32 + 1 && first_bad.is_none() {
                first_bad = Some(format!("事件序号不连续：第 {} 条之后是第 {seq} 条", i));
            }
            let plain = match body
                .personal
                .as_deref()
                .map(|p| self.open_or_plain(column::EVENT_PERSONAL, p))
                .transpose()
            {
                Ok(p) => p,
                Err(_) => {
                    report.fault(
                        code,
                        format!("第 {seq} 条事件的个人信息无法解开（密钥不对或被改动）"),
                    );
                    return;
                }
            };
            let digest = plain
                .as_deref()
                .map(|p| self.vault().digest(PERSONAL_DIGEST, p));
            let hash = event_hash(&prev, &body.fields(code, &kind, digest.as_deref()));
            if stored.as_deref() != Some(hash.as_str()) && first_bad.is_none() {
                first_bad = Some(format!(
                    "第 {seq} 条事件（{kind}）在数据库中被改动或系外写入"
                ));
            }
            match body.decode(code, plain.as_deref()) {
                Ok(ev) => decoded.push(ev),
                Err(e) => {
                    report.fault(code, format!("第 {seq} 条事件无法读取：{e}"));
                    return;
                }
            }
            prev = hash;
        }
        let head = decoded.last().map(|e| (e.seq as i32, raw(&prev)));
        match (expected, head) {
            (None, _) => report.fault(
                code,
                "审计日志中没有该房屋的登记或变更记录：房屋或其事件系在系统之外写入",
            ),
            (Some((seq, _, id)), None) => report.fault(
                code,
                format!("审计日志（第 {id} 条）记载该房屋有 {seq} 条事件，现已全部被删除"),
            ),
            (Some((seq, hash, id)), Some((now, computed))) => {
                if now < seq {
                    report.fault(
                        code,
                        format!("事件被删除：审计日志（第 {id} 条）记载 {seq} 条，现存 {now} 条"),
                    );
                } else if now > seq {
                    report.fault(
                        code,
                        format!(
                            "有审计日志未记载的事件（第 {} 至 {now} 条）：系在系统之外插入",
                            seq + 1
                        ),
                    );
                } else if computed != hash {
                    report.fault(
                        code,
                        first_bad.clone().unwrap_or_else(|| {
                            format!("事件与审计日志（第 {id} 条）记载的不符：被改动、删除或插入")
                        }),
                    );
                } else if let Some(m) = first_bad.take() {
                    report.fault(code, m);
                }
            }
        }
        // The projection is what a replay of the events gives.
        let Ok(hc) = HouseCode::parse(code) else {
            report.fault(code, "房屋编码格式错误");
            return;
        };
        let replayed = HouseState::replay(hc, &decoded);
        if !house.matches(&replayed).unwrap_or(false) {
            report.fault(code, "房屋当前状态（houses）与事件重放结果不一致");
        }
        let expected_spans = spans_of(&decoded);
        if spans != expected_spans {
            report.fault(code, "台账时段（fact_spans）与事件推导结果不一致");
        }
        let latest = decoded.iter().rev().find_map(|e| e.change.people());
        let stored_people = people.map(|p| {
            self.open_or_plain(column::HOUSE_PEOPLE, p)
                .ok()
                .and_then(|p| serde_json::from_str::<anju_domain::house::People>(&p).ok())
        });
        let people_same = match (latest, stored_people) {
            (None, None) => true,
            (Some(l), Some(Some(s))) => *l == s,
            _ => false,
        };
        if !people_same {
            report.fault(code, "房屋人员信息（house_people）与事件记载不一致");
        }
    }
}

fn feed(h: &mut Sha256, code: &str, seq: i32, hash: &str) {
    h.update(code.as_bytes());
    h.update([0x1f]);
    h.update(seq.to_string().as_bytes());
    h.update([0x1f]);
    h.update(hash.as_bytes());
    h.update(b"\n");
}

/// Why a stored event could not be chained.
pub(crate) fn unchained(code: &str, seq: u32) -> StoreError {
    StoreError::Corrupt(format!(
        "house {code} event {seq} has no chain hash (written by an older version and not yet chained)"
    ))
}
