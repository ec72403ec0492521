//! The event log as JSON Lines: the lossless way to move a county between databases.
//! Line 1 is `{"reference": …}` (regions, dictionaries, sectors); every further line is one
//! event, grouped by house in order. Import re-decides every event against the rules and writes
//! nothing unless the whole log is valid.

use crate::houses::write::NewHouse;
use crate::houses::{StoredEvent, event_of};
use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::Tx;
use crate::infra::error::{Result, StoreError};
use crate::infra::reference::{self, Reference};
use crate::infra::scope::ScopeParams;
use crate::{Store, event_columns, on_db, on_tx, scope_sql};
use anju_domain::event::{Actor, Change, Event, Role};
use anju_domain::rules::decide;
use anju_domain::{HouseState, Scope, apply};
use std::collections::HashSet;
use std::io::{BufRead, Write};

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    reference: Reference,
}

/// Why an import was refused: the 1-based line and the reason, in Chinese.
#[derive(Debug, thiserror::Error)]
#[error("第 {line} 行：{message}")]
pub struct ImportError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    pub houses: u64,
    pub events: u64,
}

/// Houses are written in batches of this many inside the one import transaction.
const BATCH: usize = 2000;

impl Store {
    /// Writes the reference line and every event of the houses within `scope`, ordered by
    /// house then sequence. Reads in pages, so memory does not grow with the log.
    pub(crate) async fn export_events(&self, scope: &Scope, out: &mut dyn Write) -> Result<u64> {
        const PAGE: &str = concat!(
            "SELECT ",
            event_columns!(),
            ", e.house_id FROM events e JOIN houses h ON h.id = e.house_id WHERE ",
            scope_sql!(),
            " AND (e.house_id > $4 OR (e.house_id = $4 AND e.seq > $5)) ORDER BY e.house_id, e.seq LIMIT 5000"
        );
        let io = |e: std::io::Error| StoreError::Corrupt(format!("write failed: {e}"));
        let header = Header {
            reference: reference::load(&self.db).await?,
        };
        serde_json::to_writer(&mut *out, &header)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.write_all(b"\n").map_err(io)?;
        let sp = ScopeParams::of(scope);
        let (mut last_house, mut last_seq, mut n) = (0_i64, 0_i32, 0_u64);
        loop {
            #[derive(sqlx::FromRow)]
            struct Row {
                #[sqlx(flatten)]
                event: StoredEvent,
                house_id: i64,
            }
            let rows: Vec<Row> = on_db!(&self.db, p => sqlx::query_as::<_, Row>(PAGE)
                .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(last_house).bind(last_seq)
                .fetch_all(p).await)?;
            if rows.is_empty() {
                break;
            }
            for Row { event, house_id } in rows {
                last_house = house_id;
                last_seq = event.body.seq;
                let e = event_of(&self.vault, event)?;
                serde_json::to_writer(&mut *out, &e)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.write_all(b"\n").map_err(io)?;
                n += 1;
            }
        }
        out.flush().map_err(io)?;
        Ok(n)
    }

    /// Imports a log written by [`Store::export_events`] into this database, all or nothing.
    /// `actor` is who runs the import (audited), not the authors of the events.
    pub(crate) async fn import_events(
        &self,
        input: &mut dyn BufRead,
        actor: &Actor,
    ) -> std::result::Result<ImportSummary, ImportError> {
        let db_err = |line: usize| {
            move |e: StoreError| ImportError {
                line,
                message: format!("写入失败：{e}"),
            }
        };
        let mut lines = input.lines().enumerate().map(|(i, l)| (i + 1, l));
        let header: Header = match lines.next() {
            Some((_, Ok(l))) => serde_json::from_str(&l).map_err(|e| ImportError {
                line: 1,
                message: format!("首行应为参考数据（区划、字典）：{e}"),
            })?,
            Some((_, Err(e))) => {
                return Err(ImportError {
                    line: 1,
                    message: format!("读取失败：{e}"),
                });
            }
            None => {
                return Err(ImportError {
                    line: 1,
                    message: "文件为空".into(),
                });
            }
        };
        let mut tx = self.db.begin().await.map_err(|e| db_err(1)(e.into()))?;
        let mut heads = Vec::new();
        let result = self
            .import_into(&mut tx, &header.reference, &mut lines, &mut heads)
            .await;
        match result {
            Ok(summary) => {
                let chain = crate::houses::chain::vouch_batch(&mut tx, heads)
                    .await
                    .map_err(db_err(0))?;
                let entry = AuditEntry {
                    at: self.now(),
                    actor_id: actor.id.clone(),
                    actor_role: crate::infra::codec::role_code(actor.role),
                    source: "import:cli".into(),
                    action: "events.import".into(),
                    object: "events".into(),
                    outcome: crate::infra::audit::Outcome::Ok,
                    reason: None,
                    detail:
                        serde_json::json!({ "houses": summary.houses, "events": summary.events, "chain_batch": chain })
                            .to_string(),
                };
                audit::append(&mut tx, &entry).await.map_err(db_err(0))?;
                tx.commit().await.map_err(|e| db_err(0)(e.into()))?;
                self.reload_reference().await.map_err(db_err(0))?;
                Ok(summary)
            }
            Err(e) => {
                // Nothing of the log stays: the transaction holds all of it.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn import_into(
        &self,
        tx: &mut Tx,
        reference: &Reference,
        lines: &mut dyn Iterator<Item = (usize, std::io::Result<String>)>,
        heads: &mut Vec<crate::houses::chain::Head>,
    ) -> std::result::Result<ImportSummary, ImportError> {
        reference::insert_missing(tx, reference)
            .await
            .map_err(|e| ImportError {
                line: 1,
                message: format!("参考数据写入失败：{e}"),
            })?;
        let dict = &reference.dictionaries;
        let villages: HashSet<&str> = reference.regions.iter().map(|r| r.code.as_str()).collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut batch: Vec<(usize, NewHouse)> = Vec::new();
        let mut current: Option<(usize, HouseState, Vec<Event>)> = None;
        let mut summary = ImportSummary::default();
        for (line, text) in lines {
            let text = text.map_err(|e| ImportError {
                line,
                message: format!("读取失败：{e}"),
            })?;
            if text.trim().is_empty() {
                continue;
            }
            let event: Event = serde_json::from_str(&text).map_err(|e| ImportError {
                line,
                message: format!("不是有效的事件记录：{e}"),
            })?;
            let starts_new = current
                .as_ref()
                .is_none_or(|(_, s, _)| s.code != event.house);
            if starts_new {
                if let Some((first, state, events)) = current.take() {
                    batch.push((first, NewHouse { events, state }));
                }
                if !seen.insert(event.house.to_string()) {
                    return Err(ImportError {
                        line,
                        message: format!(
                            "房屋 {} 的事件不连续：事件须按房屋分组、按顺序排列",
                            event.house
                        ),
                    });
                }
                if batch.len() >= BATCH {
                    self.flush(tx, &mut batch, &mut summary, heads).await?;
                }
                current = Some((line, HouseState::new(event.house.clone()), Vec::new()));
            }
            let (_, state, events) = current.as_mut().expect("set above");
            if let Change::Registered { record, .. } | Change::Corrected { record, .. } =
                &event.change
                && !villages.contains(record.village.as_str())
            {
                return Err(ImportError {
                    line,
                    message: format!("村（社区）代码 {} 不在参考数据中", record.village),
                });
            }
            let decided = decide(
                state,
                &event.to_command(),
                &event.actor,
                event.recorded_at,
                dict,
            )
            .map_err(|v| ImportError {
                line,
                message: format!("房屋 {} 第 {} 步被规则拒绝：{v}", event.house, event.seq),
            })?;
            if decided != event {
                return Err(ImportError {
                    line,
                    message: format!(
                        "房屋 {} 第 {} 步与规则推导的事件不一致",
                        event.house, event.seq
                    ),
                });
            }
            *state = apply(
                std::mem::replace(state, HouseState::new(event.house.clone())),
                &event,
            );
            events.push(event);
        }
        if let Some((first, state, events)) = current.take() {
            batch.push((first, NewHouse { events, state }));
        }
        self.flush(tx, &mut batch, &mut summary, heads).await?;
        Ok(summary)
    }

    async fn flush(
        &self,
        tx: &mut Tx,
        batch: &mut Vec<(usize, NewHouse)>,
        summary: &mut ImportSummary,
        heads: &mut Vec<crate::houses::chain::Head>,
    ) -> std::result::Result<(), ImportError> {
        if batch.is_empty() {
            return Ok(());
        }
        for chunk in batch.chunks(500) {
            let taken = existing_codes(tx, chunk.iter().map(|(_, h)| h.state.code.to_string()))
                .await
                .map_err(|e| ImportError {
                    line: chunk[0].0,
                    message: format!("读取失败：{e}"),
                })?;
            if let Some((line, h)) = chunk
                .iter()
                .find(|(_, h)| taken.contains(h.state.code.as_str()))
            {
                return Err(ImportError {
                    line: *line,
                    message: format!("房屋 {} 在本数据库中已存在", h.state.code),
                });
            }
        }
        let houses: Vec<NewHouse> = batch.drain(..).map(|(_, h)| h).collect();
        summary.houses += houses.len() as u64;
        summary.events += houses.iter().map(|h| h.events.len() as u64).sum::<u64>();
        heads.extend(
            self.bulk_insert(tx, &houses)
                .await
                .map_err(|e| ImportError {
                    line: 0,
                    message: format!("写入失败：{e}"),
                })?,
        );
        Ok(())
    }
}

async fn existing_codes(
    tx: &mut Tx,
    codes: impl Iterator<Item = String>,
) -> Result<HashSet<String>> {
    let codes: Vec<String> = codes.collect();
    let found: Vec<String> = on_tx!(tx, c => {
        let mut qb = sqlx::QueryBuilder::new("SELECT code FROM houses WHERE code IN (");
        let mut sep = qb.separated(", ");
        for code in &codes {
            sep.push_bind(code);
        }
        qb.push(")");
        qb.build_query_scalar().fetch_all(&mut *c).await?
    });
    Ok(found.into_iter().collect())
}

/// The actor recorded for imports run from the command line.
pub fn cli_actor() -> Actor {
    Actor {
        id: "system".into(),
        name: "系统".into(),
        role: Role::System,
    }
}
