//! Ledger import, one batch at a time: each row is matched to a house by its identifier
//! (platform code, else census id). A new house is registered with the steps its row describes;
//! a known house whose record differs gets one correction event with the file as its reason; a
//! known house unchanged is left alone, so importing the same file again changes nothing. A
//! batch is checked whole first: one bad row and nothing of the batch is written.

use crate::houses::write::NewHouse;
use crate::infra::audit::{self, AuditEntry};
use crate::infra::codec::role_code;
use crate::infra::db::Tx;
use crate::infra::error::{Result, StoreError};
use crate::{Store, on_tx};
use anju_domain::Coded;
use anju_domain::auth::Principal;
use anju_domain::event::{Change, Command};
use anju_domain::import::{Importers, Row, events, ledger_evidence};
use anju_domain::rules::beijing_date;
use anju_domain::{HouseCode, RegionCode, Scope};
use std::collections::{BTreeMap, HashMap};

/// The file a batch comes from (stored as evidence under its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFile {
    pub name: String,
    pub sha256: String,
}

/// A refused row: its number as the user sees it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub message: String,
}

/// What a batch did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: usize,
    pub new_houses: usize,
    pub corrected: usize,
    pub unchanged: usize,
    /// New houses whose closure (or engineering acceptance) the file claims: held back, not
    /// counted in ⑥ or ⑦, until the town's principal confirms them.
    pub closed: usize,
    /// New houses with a closure on management measures: on the look-back list.
    pub look_back: usize,
    pub errors: Vec<RowError>,
}

impl ImportReport {
    pub fn add(&mut self, other: &ImportReport) {
        self.rows += other.rows;
        self.new_houses += other.new_houses;
        self.corrected += other.corrected;
        self.unchanged += other.unchanged;
        self.closed += other.closed;
        self.look_back += other.look_back;
        self.errors.extend(other.errors.iter().cloned());
    }
}

/// An identifier as stored: which column, which value.
type Key = (&'static str, String);

fn key(row: &Row) -> Option<Key> {
    if let Some(p) = &row.record.platform_code {
        Some(("platform_code", p.clone()))
    } else {
        row.record.census_id.clone().map(|c| ("census_id", c))
    }
}

/// A known house a row names: its code and village.
#[derive(Debug, Clone)]
struct Known {
    code: String,
    village: String,
}

impl Store {
    /// The houses carrying any of `keys`, by key.
    async fn known(&self, tx: &mut Tx, keys: &[Key]) -> Result<HashMap<Key, Known>> {
        let mut out = HashMap::new();
        for column in ["platform_code", "census_id"] {
            let values: Vec<&String> = keys
                .iter()
                .filter(|(c, _)| *c == column)
                .map(|(_, v)| v)
                .collect();
            for chunk in values.chunks(500) {
                let placeholders: Vec<String> =
                    (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT {column}, code, village_code FROM houses WHERE {column} IN ({})",
                    placeholders.join(", ")
                );
                let rows: Vec<(String, String, String)> = on_tx!(tx, c => {
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                    for v in chunk {
                        q = q.bind(v.as_str());
                    }
                    q.fetch_all(&mut *c).await
                })?;
                for (value, code, village) in rows {
                    out.insert((column, value), Known { code, village });
                }
            }
        }
        Ok(out)
    }

    /// Checks one batch of rows and, if `commit` and every row passes, writes it in one
    /// transaction with its audit row. `who` must be allowed to register houses; every house
    /// lies within its scope.
    pub async fn import_batch(
        &self,
        who: &Principal,
        source: &str,
        file: &ImportFile,
        rows: &[Row],
        commit: bool,
    ) -> Result<ImportReport> {
        if !anju_domain::rules::may_register(who.role) {
            return Err(StoreError::Denied(format!(
                "{}不能导入房屋台账",
                who.role.label()
            )));
        }
        let scope = who.scope();
        let now = self.now();
        let today = beijing_date(now);
        let reference = self.reference();
        let dict = &reference.dictionaries;
        let importers = Importers::new(who, &file.name, &file.sha256);
        let mut report = ImportReport {
            rows: rows.len(),
            ..ImportReport::default()
        };
        let mut refuse = |row: usize, message: String| {
            report.errors.push(RowError { row, message });
        };

        // Identifiers: every row needs one, once.
        let mut first: BTreeMap<Key, usize> = BTreeMap::new();
        let mut keyed: Vec<(usize, Key)> = vec![];
        for (i, r) in rows.iter().enumerate() {
            match key(r) {
                None => refuse(
                    r.number,
                    "缺少房屋标识：须填写“自建房编号（归集平台）”或“普查房屋编号”，重复导入时据此识别同一房屋".into(),
                ),
                Some(k) => match first.get(&k) {
                    Some(n) => refuse(r.number, format!("房屋标识“{}”与第 {n} 行重复", k.1)),
                    None => {
                        first.insert(k.clone(), r.number);
                        keyed.push((i, k));
                    }
                },
            }
        }
        let mut tx = self.db.begin().await?;
        let keys: Vec<Key> = keyed.iter().map(|(_, k)| k.clone()).collect();
        let known = self.known(&mut tx, &keys).await?;

        // Known houses: unchanged, or one correction.
        let mut corrections: Vec<Command> = vec![];
        let mut fresh: Vec<usize> = vec![];
        for (i, k) in &keyed {
            let r = &rows[*i];
            let Some(house) = known.get(k) else {
                fresh.push(*i);
                continue;
            };
            let inside =
                RegionCode::parse(&house.village).is_ok_and(|v| scope_contains(&scope, &v));
            if !inside {
                refuse(
                    r.number,
                    format!("房屋标识“{}”对应的房屋不在您的辖区内", k.1),
                );
                continue;
            }
            let code = HouseCode::parse(&house.code)
                .map_err(|e| StoreError::Corrupt(format!("house code: {}", e.0)))?;
            let view = self.house(&Scope::All, &code).await?;
            let same_record = view.state.record.as_ref() == Some(&r.record);
            let same_people = view.people.as_ref() == Some(&r.people);
            if same_record && same_people {
                report.unchanged += 1;
                continue;
            }
            corrections.push(Command {
                house: code,
                expected_version: view.state.version,
                change: Change::Corrected {
                    record: Box::new(r.record.clone()),
                    people: (!same_people).then(|| Box::new(r.people.clone())),
                },
                effective: today.max(view.state.last_effective.unwrap_or(today)),
                reason: Some(format!("台账导入：{} 第 {} 行", file.name, r.number)),
                evidence: vec![ledger_evidence(&file.name, &file.sha256, r.number)],
            });
        }

        // New houses: codes after the county's last (placeholders in a dry run).
        let county = crate::ledgers::county_of(&reference.regions)?;
        let next = if commit {
            crate::houses::last_code(&mut tx, &county)
                .await?
                .map_or(1, |c| c.serial() + 1)
        } else {
            1
        };
        let mut houses: Vec<NewHouse> = Vec::with_capacity(fresh.len());
        let mut held: Vec<(String, Vec<anju_domain::import::PendingStep>)> = vec![];
        for (n, i) in fresh.iter().enumerate() {
            let r = &rows[*i];
            if let Err(e) = self.check_village_pub(&scope, &r.record.village, today) {
                refuse(r.number, e);
                continue;
            }
            let code = HouseCode::new(&county, next + n as u32);
            let evidence = ledger_evidence(&file.name, &file.sha256, r.number);
            match events(
                r,
                code,
                crate::houses::plaque::new_plaque_token(),
                &importers,
                now,
                today,
                dict,
                &evidence,
            ) {
                Ok(imported) => {
                    let h = NewHouse::from_events(imported.events);
                    if !imported.pending.is_empty() {
                        report.closed += 1;
                        held.push((h.state.code.to_string(), imported.pending));
                    }
                    if h.state.legacy.is_some() {
                        report.look_back += 1;
                    }
                    houses.push(h);
                }
                Err(e) => refuse(r.number, e),
            }
        }
        report.new_houses = houses.len();
        report.corrected = corrections.len();
        report.errors.sort_by_key(|e| e.row);
        if !report.errors.is_empty() || !commit {
            tx.rollback().await?;
            if !report.errors.is_empty() {
                report.new_houses = 0;
                report.corrected = 0;
                report.unchanged = 0;
                report.closed = 0;
                report.look_back = 0;
            }
            return Ok(report);
        }
        let mut heads = self.bulk_insert(&mut tx, &houses).await?;
        self.hold_back(&mut tx, who, file, now, &held).await?;
        for cmd in &corrections {
            let (event, hash) = self
                .execute_in(&mut tx, &scope, &importers.steps, cmd, now)
                .await
                .map_err(|e| match e {
                    StoreError::Rule(v) => StoreError::Invalid(format!(
                        "{}：{v}",
                        cmd.reason.clone().unwrap_or_default()
                    )),
                    e => e,
                })?;
            heads.push((event.house.to_string(), event.seq as i32, hash));
        }
        let chain = crate::houses::chain::vouch_batch(&mut tx, heads).await?;
        let entry = AuditEntry {
            at: now,
            actor_id: who.username.clone(),
            actor_role: role_code(who.role),
            // An import, and from where it was started (`import:cli`, `import:web:ADDRESS`).
            source: format!("import:{source}"),
            action: "houses.import".into(),
            object: format!("file:{}", file.sha256),
            outcome: crate::infra::audit::Outcome::Ok,
            reason: Some(format!("台账导入：{}", file.name)),
            detail: serde_json::json!({
                "file": file.name, "rows": report.rows, "new": report.new_houses,
                "corrected": report.corrected, "unchanged": report.unchanged,
                "held_back": report.closed,
                "chain_batch": chain,
            })
            .to_string(),
        };
        audit::append(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// [`Store::check_village`] as a message.
    fn check_village_pub(
        &self,
        scope: &Scope,
        village: &RegionCode,
        day: chrono::NaiveDate,
    ) -> std::result::Result<(), String> {
        self.check_village(scope, village, day)
            .map_err(|e| match e {
                StoreError::Rule(v) => v.to_string(),
                e => e.to_string(),
            })
    }
}

fn scope_contains(scope: &Scope, village: &RegionCode) -> bool {
    match scope {
        Scope::All => true,
        Scope::Region { code } => code.contains(village),
        _ => false,
    }
}
