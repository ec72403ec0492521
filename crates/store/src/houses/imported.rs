//! 导入台账销号确认: the closures and engineering acceptances an imported ledger claims.
//!
//! A file may carry a house's whole history, but a closure (⑦) or an engineering acceptance
//! (⑥) in it was approved outside Anju, by no one Anju knows. So the import records every other
//! step and holds these back ([`anju_domain::import::held_back`]) in `import_pending`, where
//! they count nowhere. They become steps only when
//!
//! - the town's principal confirms them, for the houses of a batch they tick (all or some):
//!   the acceptance is recorded as the importer's (its record is the ledger's), the closure as
//!   the principal's, each with the ledger's date and a reason naming the file and the
//!   confirmation; or
//! - the county office sets a cut-over date: every held-back closure and acceptance dated on or
//!   before it is confirmed as history, the county office account the approver.
//!
//! Either way every step is decided again by the rules against the house as it is now (a house
//! reopened or closed meanwhile is refused, and stays held back), and all of a house's steps
//! are recorded together or not at all. A principal may instead reject a house's claim with a
//! reason: nothing is recorded, the house stays open. Every decision is one audited write.

use crate::houses::import::ImportFile;
use crate::infra::db::Tx;
use crate::infra::error::{Result, StoreError};
use crate::infra::scope::ScopeParams;
use crate::{Store, on_db, on_tx};
use anju_domain::Coded;
use anju_domain::auth::Principal;
use anju_domain::event::{Actor, Change, Role};
use anju_domain::import::PendingStep;
use anju_domain::rules::decide;
use anju_domain::state::apply;
use anju_domain::{HouseCode, RegionCode, Scope};
use chrono::{DateTime, NaiveDate, Utc};

/// One held-back step, as the confirmation list and the house page show it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldStep {
    /// 工程措施竣工验收 or 销号.
    pub label: String,
    /// 销号依据, for a closure.
    pub basis: Option<String>,
    /// The date the ledger gives.
    pub effective: NaiveDate,
    pub file_name: String,
    /// The importing account: username and name.
    pub imported_by: String,
    pub imported_name: String,
    pub imported_at: i64,
}

/// A house with held-back steps.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldHouse {
    pub code: String,
    pub address: String,
    pub town_code: String,
    pub village_code: String,
    pub steps: Vec<HeldStep>,
}

/// Which held-back houses a decision covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These houses (those not in scope or with nothing held back are named as refused).
    Houses(Vec<HouseCode>),
    /// The cut-over: every house in scope whose held-back steps are all dated on or before.
    DatedUpTo(NaiveDate),
}

/// What a decision did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    /// Houses whose steps were recorded (or, for a rejection, set aside).
    pub houses: Vec<String>,
    /// Steps recorded.
    pub steps: usize,
    /// Houses left held back, each with the rule that refused it.
    pub refused: Vec<(String, String)>,
}

/// Houses per transaction of a cut-over.
const CHUNK: usize = 500;

const OPEN_IN_SCOPE: &str =
    "h.id IN (SELECT p.house_id FROM import_pending p WHERE p.decided_at IS NULL)";

/// A held-back step as [`HELD_ROWS`] reads it.
#[derive(sqlx::FromRow)]
struct HeldRow {
    house_id: i64,
    effective: NaiveDate,
    command: String,
    file_name: String,
    imported_by: String,
    imported_name: String,
    imported_at: i64,
}

fn held_step(r: &HeldRow) -> Result<HeldStep> {
    let step: PendingStep = serde_json::from_str(&r.command)
        .map_err(|e| StoreError::Corrupt(format!("import_pending {}: {e}", r.house_id)))?;
    let basis = match &step.change {
        Change::Closed { basis, .. } => Some(basis.label().to_string()),
        _ => None,
    };
    Ok(HeldStep {
        label: step.change.kind().label().to_string(),
        basis,
        effective: r.effective,
        file_name: r.file_name.clone(),
        imported_by: r.imported_by.clone(),
        imported_name: r.imported_name.clone(),
        imported_at: r.imported_at,
    })
}

const HELD_ROWS: &str = "SELECT house_id, effective, command, file_name, imported_by, imported_name, imported_at FROM import_pending WHERE decided_at IS NULL AND house_id IN ";

impl Store {
    /// Keeps the held-back steps of the houses just written (by code) for confirmation.
    pub(crate) async fn hold_back(
        &self,
        tx: &mut Tx,
        who: &Principal,
        file: &ImportFile,
        now: DateTime<Utc>,
        held: &[(String, Vec<PendingStep>)],
    ) -> Result<()> {
        const INSERT: &str = "INSERT INTO import_pending (house_id, step, kind, effective, command, file_name, file_sha256, imported_by, imported_name, imported_at) \
            VALUES ((SELECT id FROM houses WHERE code = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        let at = crate::infra::codec::micros(now);
        for (code, steps) in held {
            for (i, s) in steps.iter().enumerate() {
                let command = serde_json::to_string(s)
                    .map_err(|e| StoreError::Invalid(format!("held-back step: {e}")))?;
                let kind = s.change.kind().code();
                on_tx!(tx, c => sqlx::query(INSERT)
                    .bind(code).bind(i as i32).bind(kind).bind(s.effective).bind(&command)
                    .bind(&file.name).bind(&file.sha256).bind(&who.username).bind(&who.name).bind(at)
                    .execute(&mut *c).await.map(|_| ()))?;
            }
        }
        Ok(())
    }

    /// The held-back steps of houses `ids`, by house id.
    async fn held_steps(&self, ids: &[i64]) -> Result<Vec<(i64, HeldStep)>> {
        let mut out = vec![];
        for chunk in ids.chunks(500) {
            // Ids are integers: safe to inline.
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let sql = format!("{HELD_ROWS}({}) ORDER BY house_id, step", list.join(", "));
            let rows: Vec<HeldRow> =
                on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await)?;
            for r in &rows {
                out.push((r.house_id, held_step(r)?));
            }
        }
        Ok(out)
    }

    /// A page of the houses in scope with held-back steps, by code, optionally in one town:
    /// (how many in all, the page's).
    pub(crate) async fn held_back_page(
        &self,
        scope: &Scope,
        town: Option<&RegionCode>,
        page: (u64, u64),
    ) -> Result<(u64, Vec<HeldHouse>)> {
        // A town code is digits only (checked when parsed): safe to inline.
        let in_town = town.map_or_else(String::new, |t| format!(" AND h.town_code = '{t}'"));
        let filter = format!("{OPEN_IN_SCOPE} AND {}{in_town}", crate::scope_sql!());
        let sp = ScopeParams::of(scope);
        let count = format!("SELECT COUNT(*) FROM houses h WHERE {filter}");
        let total: i64 = on_db!(&self.db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(count))
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).fetch_one(p).await)?;
        let (number, size) = (page.0.max(1), page.1.clamp(1, 1000));
        let offset = (number - 1).saturating_mul(size);
        let sql = format!(
            "SELECT h.id, h.code, h.address, h.town_code, h.village_code FROM houses h WHERE {filter} ORDER BY h.code LIMIT {size} OFFSET {offset}"
        );
        let rows: Vec<(i64, String, String, String, String)> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).fetch_all(p).await)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let mut steps = self.held_steps(&ids).await?;
        let houses = rows
            .into_iter()
            .map(|(id, code, address, town_code, village_code)| HeldHouse {
                code,
                address,
                town_code,
                village_code,
                steps: steps
                    .extract_if(.., |(h, _)| *h == id)
                    .map(|(_, s)| s)
                    .collect(),
            })
            .collect();
        Ok((total.max(0) as u64, houses))
    }

    /// The held-back steps of one house in scope (none: an empty list).
    pub(crate) async fn held_back_of(
        &self,
        scope: &Scope,
        code: &HouseCode,
    ) -> Result<Vec<HeldStep>> {
        let view = self.house(scope, code).await?;
        Ok(self
            .held_steps(&[view.id])
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// Confirms the held-back steps of the houses `selection` names, as `who` (the approver of
    /// every closure): each house's steps decided by the rules against the house as it is,
    /// recorded together or, when one is refused, not at all (the house named in `refused`).
    pub(crate) async fn confirm_held_back(
        &self,
        scope: &Scope,
        who: &Principal,
        source: &str,
        selection: &Selection,
    ) -> Result<Decided> {
        let (ids, mut decided) = self.selected(scope, selection).await?;
        // Even a decision that covers nothing is audited (once).
        let chunks: Vec<&[(i64, String)]> = if ids.is_empty() {
            vec![&[]]
        } else {
            ids.chunks(CHUNK).collect()
        };
        let unknown = std::mem::take(&mut decided.refused);
        for (i, chunk) in chunks.into_iter().enumerate() {
            let named = if i == 0 { unknown.as_slice() } else { &[] };
            let part = self
                .confirm_chunk(scope, who, source, selection, chunk, named)
                .await?;
            decided.houses.extend(part.houses);
            decided.steps += part.steps;
            decided.refused.extend(part.refused);
        }
        Ok(decided)
    }

    /// Sets aside the held-back steps of `codes` with `reason`: nothing is recorded; the houses
    /// stay as they are, to be closed (if ever) through Anju's own steps.
    pub(crate) async fn reject_held_back(
        &self,
        scope: &Scope,
        who: &Principal,
        source: &str,
        codes: &[HouseCode],
        reason: &str,
    ) -> Result<Decided> {
        let reason = reason.trim();
        if reason.chars().count() < 4 {
            return Err(StoreError::Invalid(
                "不予确认须写明理由（至少 4 个字），如「无验收资料，须现场核查」".into(),
            ));
        }
        let selection = Selection::Houses(codes.to_vec());
        let (ids, mut decided) = self.selected(scope, &selection).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        for (id, code) in &ids {
            mark(&mut tx, *id, who, now, "rejected", Some(reason)).await?;
            decided.houses.push(code.clone());
        }
        let entry = crate::infra::audit::AuditEntry::ok(
            now,
            &who.username,
            &crate::infra::codec::role_code(who.role),
            source,
            "imports.reject",
            &format!("houses:{}", decided.houses.len()),
        )
        .with_reason(reason)
        .with_detail(serde_json::json!({ "houses": decided.houses }));
        crate::infra::audit::append(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(decided)
    }

    /// The houses (id, code) a selection covers within scope; codes it names that have nothing
    /// held back in scope go to `refused`.
    async fn selected(
        &self,
        scope: &Scope,
        selection: &Selection,
    ) -> Result<(Vec<(i64, String)>, Decided)> {
        let sp = ScopeParams::of(scope);
        let mut decided = Decided::default();
        let filter = format!("{OPEN_IN_SCOPE} AND {}", crate::scope_sql!());
        let ids: Vec<(i64, String)> = match selection {
            Selection::Houses(codes) => {
                let mut out = vec![];
                let sql =
                    format!("SELECT h.id, h.code FROM houses h WHERE {filter} AND h.code = $4");
                for code in codes {
                    let row: Option<(i64, String)> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(code.as_str()).fetch_optional(p).await)?;
                    match row {
                        Some(r) if !out.contains(&r) => out.push(r),
                        Some(_) => {}
                        None => decided.refused.push((
                            code.to_string(),
                            "该房屋没有待确认的导入台账销号，或不在您的辖区内".into(),
                        )),
                    }
                }
                out
            }
            Selection::DatedUpTo(day) => {
                let sql = format!(
                    "SELECT h.id, h.code FROM houses h WHERE {filter} AND h.id IN \
                     (SELECT p.house_id FROM import_pending p WHERE p.decided_at IS NULL \
                      GROUP BY p.house_id HAVING MAX(p.effective) <= $4) ORDER BY h.code"
                );
                on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(*day).fetch_all(p).await)?
            }
        };
        Ok((ids, decided))
    }

    async fn confirm_chunk(
        &self,
        scope: &Scope,
        who: &Principal,
        source: &str,
        selection: &Selection,
        houses: &[(i64, String)],
        unknown: &[(String, String)],
    ) -> Result<Decided> {
        let now = self.now();
        let approver = who.actor();
        let dict = self.reference().dictionaries.clone();
        let mut decided = Decided {
            refused: unknown.to_vec(),
            ..Decided::default()
        };
        let mut tx = self.db.begin().await?;
        let mut heads = vec![];
        for (id, code) in houses {
            const STEPS: &str = "SELECT command, imported_by, imported_name FROM import_pending WHERE house_id = $1 AND decided_at IS NULL ORDER BY step";
            let rows: Vec<(String, String, String)> = on_tx!(&mut tx, c => sqlx::query_as(STEPS)
                .bind(*id).fetch_all(&mut *c).await)?;
            let code = HouseCode::parse(code)
                .map_err(|e| StoreError::Corrupt(format!("house code: {}", e.0)))?;
            let mut steps = vec![];
            for (command, by, name) in rows {
                let step: PendingStep = serde_json::from_str(&command)
                    .map_err(|e| StoreError::Corrupt(format!("import_pending of {code}: {e}")))?;
                // The acceptance is the ledger's record, entered by the importer; the closure
                // is the approval, given now by the one confirming.
                let actor = match step.change {
                    Change::Closed { .. } => approver.clone(),
                    _ => Actor {
                        id: by,
                        name: format!("{name}（台账导入）"),
                        role: Role::System,
                    },
                };
                steps.push((step, actor));
            }
            // Decided first against the house as it is: all of a house's steps or none.
            let view = self.house(scope, &code).await?;
            let mut state = view.state;
            let mut refusal = None;
            for (step, actor) in &steps {
                let cmd = step.command(code.clone(), state.version, &who.name);
                match decide(&state, &cmd, actor, now, &dict) {
                    Ok(e) => state = apply(state, &e),
                    Err(v) => {
                        refusal = Some(format!(
                            "{}（{}）：{v}",
                            cmd.change.kind().label(),
                            step.effective
                        ));
                        break;
                    }
                }
            }
            if let Some(why) = refusal {
                decided.refused.push((code.to_string(), why));
                continue;
            }
            let first = state.version - steps.len() as u32;
            for (version, (step, actor)) in (first..).zip(&steps) {
                let cmd = step.command(code.clone(), version, &who.name);
                let (event, hash) = self.execute_in(&mut tx, scope, actor, &cmd, now).await?;
                heads.push((event.house.to_string(), event.seq as i32, hash));
            }
            mark(&mut tx, *id, who, now, "confirmed", None).await?;
            decided.houses.push(code.to_string());
            decided.steps += steps.len();
        }
        let chain = crate::houses::chain::vouch_batch(&mut tx, heads).await?;
        let (action, object) = match selection {
            Selection::Houses(_) => (
                "imports.confirm",
                format!("houses:{}", decided.houses.len()),
            ),
            Selection::DatedUpTo(d) => ("imports.cutover", format!("cutover:{d}")),
        };
        let entry = crate::infra::audit::AuditEntry::ok(
            now,
            &who.username,
            &crate::infra::codec::role_code(who.role),
            source,
            action,
            &object,
        )
        .with_detail(serde_json::json!({
            "houses": decided.houses, "steps": decided.steps,
            "refused": decided.refused.iter().map(|(c, _)| c).collect::<Vec<_>>(),
            "chain_batch": chain,
        }));
        crate::infra::audit::append(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(decided)
    }

    /// How many houses in scope have held-back steps (the ledger page says so under ⑥ and ⑦).
    pub(crate) async fn held_back_count(&self, scope: &Scope) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM houses h WHERE {OPEN_IN_SCOPE} AND {}",
            crate::scope_sql!()
        );
        let sp = ScopeParams::of(scope);
        Ok(
            on_db!(&self.db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).fetch_one(p).await)?,
        )
    }
}

/// Marks a house's open held-back steps decided.
async fn mark(
    tx: &mut Tx,
    house_id: i64,
    who: &Principal,
    now: DateTime<Utc>,
    decision: &str,
    note: Option<&str>,
) -> Result<()> {
    const MARK: &str = "UPDATE import_pending SET decided_at = $1, decided_by = $2, decision = $3, note = $4 WHERE house_id = $5 AND decided_at IS NULL";
    on_tx!(tx, c => sqlx::query(MARK)
        .bind(crate::infra::codec::micros(now)).bind(&who.username).bind(decision).bind(note).bind(house_id)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
