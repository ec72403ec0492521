//! The county's regions: set up once from the national division table ([`Store::init_county`]),
//! then kept by the county office — villages added, renamed, merged, split or ended with an
//! effective date ([`Store::edit_region`]), or added from a list ([`Store::import_regions`]).
//! Houses are never rewritten: merges map old codes to new ones from their date (`resolve_on`).

use crate::accounts::{AuthError, AuthResult, admin};
use crate::campaign::settings::require_county_wide;
use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::Tx;
use crate::infra::error::{Result, StoreError};
use crate::{Store, on_db, on_tx};
use anju_domain::Coded;
use anju_domain::auth::Principal;
use anju_domain::codes::{RegionCode, RegionLevel};
use anju_domain::region::{
    Region, RegionChange, RegionChangeKind, RegionEdit, RegionRow, RowErrors, check_edit,
    plan_region_import,
};
use chrono::NaiveDate;

/// What a database without a county says, wherever a county is needed.
pub const NO_COUNTY: &str = "本数据库尚未设置县（市、区）：请先在服务器上运行 anju init --county 六位区划代码（例如 anju init --county 370829），再启动服务";

/// The settings key holding which division table the county was set up from.
pub const EDITION_KEY: &str = "regions.edition";

/// What `init_county` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutcome {
    pub county: Region,
    /// Regions written now (0 when the county was already set up as given).
    pub added: usize,
    pub towns: usize,
    pub villages: usize,
}

/// What a region list did (or would do, unchecked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionImport {
    pub added: Vec<RegionEdit>,
    pub unchanged: usize,
}

const INSERT: &str = "INSERT INTO regions (code, name, level, parent_code, valid_from, valid_to, is_demo, reports_separately) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO NOTHING";

/// Inserts a region unless its code is there already; 1 if it was written.
pub(crate) async fn insert(tx: &mut Tx, r: &Region) -> Result<u64> {
    let level = serde_json::to_value(r.level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(on_tx!(tx, c => sqlx::query(INSERT)
        .bind(r.code.as_str())
        .bind(&r.name)
        .bind(level)
        .bind(r.parent.map(|p| p.as_str().to_string()))
        .bind(r.valid_from)
        .bind(r.valid_to)
        .bind(r.is_demo)
        .bind(r.reports_separately)
        .execute(&mut *c)
        .await?
        .rows_affected()))
}

/// A change of regions, recorded at `at` (microseconds) by `by`.
const RECORD_CHANGE: &str = "INSERT INTO region_changes (old_code, new_code, old_name, effective, kind, note, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// [`RECORD_CHANGE`] unless the same old code's change on the same day is there already.
const RECORD_CHANGE_ONCE: &str = "INSERT INTO region_changes (old_code, new_code, old_name, effective, kind, note, recorded_at, recorded_by) \
    SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE NOT EXISTS (SELECT 1 FROM region_changes WHERE old_code = $1 AND effective = $4)";

/// Records a change of regions; with `once`, not when the same old code's change on the same
/// day is recorded already (reference data seeded again).
pub(crate) async fn record_change(
    tx: &mut Tx,
    ch: &RegionChange,
    at: i64,
    by: &str,
    once: bool,
) -> Result<()> {
    let sql = if once {
        RECORD_CHANGE_ONCE
    } else {
        RECORD_CHANGE
    };
    on_tx!(tx, c => sqlx::query(sql)
        .bind(ch.old.as_str())
        .bind(ch.new.as_str())
        .bind(&ch.old_name)
        .bind(ch.effective)
        .bind(ch.kind.code())
        .bind(&ch.note)
        .bind(at)
        .bind(by)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

impl Store {
    /// The county this database serves, once set up.
    pub fn county(&self) -> Option<Region> {
        self.reference()
            .regions
            .iter()
            .find(|r| r.level == RegionLevel::County)
            .cloned()
    }

    /// The county's code, or [`NO_COUNTY`] as a refusal.
    pub fn county_code(&self) -> Result<RegionCode> {
        self.county()
            .map(|r| r.code)
            .ok_or_else(|| StoreError::Invalid(NO_COUNTY.into()))
    }

    /// Which division table the county was set up from (`None` before `init`, or for a
    /// database set up by a version before tables were shipped).
    pub async fn region_edition(&self) -> Result<Option<String>> {
        self.setting(EDITION_KEY).await
    }

    /// Sets up the county of an empty database from the national table: its province, city,
    /// county, towns and villages (`regions`, parents first), all in one transaction with its
    /// audit row. Running it again for the same county adds only what is missing (nothing, if
    /// nothing changed) and keeps the county office's own edits; another county is refused.
    pub async fn init_county(&self, regions: &[Region], edition: &str) -> Result<InitOutcome> {
        let county = regions
            .iter()
            .find(|r| r.level == RegionLevel::County)
            .cloned()
            .ok_or_else(|| StoreError::Invalid("区划数据中没有县级区划".into()))?;
        let mut tx = self.db.begin().await?;
        const COUNTIES: &str = "SELECT code, name FROM regions WHERE level = 'county'";
        let present: Vec<(String, String)> =
            on_tx!(&mut tx, c => sqlx::query_as(COUNTIES).fetch_all(&mut *c).await)?;
        if let Some((code, name)) = present.iter().find(|(c, _)| c != county.code.as_str()) {
            const HOUSES: &str = "SELECT COUNT(*) FROM houses";
            let houses: i64 =
                on_tx!(&mut tx, c => sqlx::query_scalar(HOUSES).fetch_one(&mut *c).await)?;
            let code = RegionCode::parse(code).map_or(code.clone(), |c| c.prefix().to_string());
            return Err(StoreError::Invalid(format!(
                "本数据库已设置为{name}（{code}），{}一个数据库只服务一个县：请为{}另建数据库（另一个数据文件或 PostgreSQL 库）",
                if houses > 0 {
                    format!("已有 {houses} 栋房屋；")
                } else {
                    String::new()
                },
                county.name
            )));
        }
        let mut added = 0;
        for r in regions {
            added += insert(&mut tx, r).await? as usize;
        }
        if added > 0 {
            const EDITION: &str =
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
            on_tx!(&mut tx, c => sqlx::query(EDITION).bind(EDITION_KEY).bind(edition).execute(&mut *c).await.map(|r| r.rows_affected()))?;
            let e = AuditEntry::ok(
                self.now(),
                "system",
                "system",
                "cli",
                "regions.init",
                county.code.prefix(),
            )
            .with_detail(
                serde_json::json!({ "edition": edition, "added": added, "county": county.name }),
            );
            audit::append(&mut tx, &e).await?;
            tx.commit().await?;
            self.forget_setting(EDITION_KEY);
            self.reload_reference().await?;
        } else {
            tx.rollback().await?;
        }
        let count = |l: RegionLevel| regions.iter().filter(|r| r.level == l).count();
        Ok(InitOutcome {
            county,
            added,
            towns: count(RegionLevel::Town),
            villages: count(RegionLevel::Village),
        })
    }

    /// Houses recorded in a region's subtree (any status), for refusing to end a region that
    /// still has them.
    async fn houses_under(&self, tx: &mut Tx, code: &RegionCode) -> Result<i64> {
        let p = crate::infra::scope::ScopeParams::of(&anju_domain::Scope::Region { code: *code });
        const SQL: &str = concat!("SELECT COUNT(*) FROM houses h WHERE ", crate::scope_sql!());
        Ok(on_tx!(tx, c => sqlx::query_scalar(SQL)
            .bind(&p.lo)
            .bind(&p.hi)
            .bind(&p.key)
            .fetch_one(&mut *c)
            .await)?)
    }

    /// A county office's change to a town or village, checked by the domain
    /// ([`check_edit`]) and written with its audit row; a refusal is audited too and changes
    /// nothing.
    pub async fn edit_region(
        &self,
        by: &Principal,
        edit: &RegionEdit,
        source: &str,
    ) -> AuthResult<()> {
        require_county_wide(by)?;
        let subject = edit.subject();
        let detail = serde_json::to_value(edit).unwrap_or_default();
        // The edit's audit row, whether it is written or refused.
        let entry =
            || admin(self.now(), by, source).entry("region.edit", subject.prefix(), detail.clone());
        let mut tx = self.db.begin().await?;
        // Read inside the write transaction: two edits cannot both pass the check.
        let reference = crate::infra::reference::load_regions(&mut tx).await?;
        let mut verdict = check_edit(&reference, edit);
        if verdict.is_ok()
            && let Some(county) = by.region
            && !county.contains(&subject)
            && by.role != anju_domain::Role::System
        {
            verdict = Err(format!("区划 {} 不在本账号的辖区内", subject.prefix()));
        }
        if verdict.is_ok()
            && let RegionEdit::Deactivate { code, .. } = edit
        {
            let n = self.houses_under(&mut tx, code).await?;
            if n > 0 {
                verdict = Err(format!(
                    "区划 {} 下登记有 {n} 栋房屋，不能撤销；请改为撤并到其他区划，或先更正这些房屋的所在村（社区）",
                    code.prefix()
                ));
            }
        }
        if let Err(message) = verdict {
            tx.rollback().await?;
            let refused = entry()
                .with_outcome(crate::infra::audit::Outcome::refused("F1"))
                .with_reason(&message);
            self.record_audit(&refused).await?;
            return Err(AuthError::Invalid(message));
        }
        let at = crate::infra::codec::micros(self.now());
        let find = |c: &RegionCode| reference.iter().find(|r| r.code == *c).cloned();
        const END: &str = "UPDATE regions SET valid_to = $1 WHERE code = $2 AND valid_to IS NULL";
        const RENAME: &str = "UPDATE regions SET name = $1 WHERE code = $2";
        let change = |old: RegionCode, new: RegionCode, kind, effective, note: &str| RegionChange {
            old,
            new,
            old_name: find(&old).map(|r| r.name).unwrap_or_default(),
            effective,
            kind,
            note: note.trim().to_string(),
        };
        // Each edit writes its row, then (all but an addition) its line of region history.
        let history = match edit {
            RegionEdit::Add {
                code,
                name,
                parent,
                valid_from,
            } => {
                insert(
                    &mut tx,
                    &Region::new(*code, name, Some(*parent), *valid_from),
                )
                .await?;
                None
            }
            RegionEdit::Rename {
                code,
                name,
                effective,
                note,
            } => {
                on_tx!(&mut tx, c => sqlx::query(RENAME).bind(name.trim()).bind(code.as_str()).execute(&mut *c).await.map(|r| r.rows_affected()))?;
                Some(change(
                    *code,
                    *code,
                    RegionChangeKind::Rename,
                    *effective,
                    note,
                ))
            }
            RegionEdit::Merge {
                old,
                into,
                effective,
                note,
            } => {
                on_tx!(&mut tx, c => sqlx::query(END).bind(effective).bind(old.as_str()).execute(&mut *c).await.map(|r| r.rows_affected()))?;
                Some(change(
                    *old,
                    *into,
                    RegionChangeKind::Merge,
                    *effective,
                    note,
                ))
            }
            RegionEdit::Split {
                from,
                code,
                name,
                effective,
                note,
            } => {
                let parent = find(from).and_then(|r| r.parent).ok_or_else(|| {
                    AuthError::Invalid(format!("区划 {} 没有上级区划", from.prefix()))
                })?;
                insert(&mut tx, &Region::new(*code, name, Some(parent), *effective)).await?;
                Some(change(
                    *from,
                    *code,
                    RegionChangeKind::Split,
                    *effective,
                    note,
                ))
            }
            RegionEdit::Deactivate {
                code,
                effective,
                note,
            } => {
                on_tx!(&mut tx, c => sqlx::query(END).bind(effective).bind(code.as_str()).execute(&mut *c).await.map(|r| r.rows_affected()))?;
                Some(change(
                    *code,
                    *code,
                    RegionChangeKind::Deactivate,
                    *effective,
                    note,
                ))
            }
        };
        if let Some(ch) = history {
            record_change(&mut tx, &ch, at, &by.username, false).await?;
        }
        audit::append(&mut tx, &entry()).await?;
        tx.commit().await?;
        self.reload_reference().await?;
        Ok(())
    }

    /// A list of towns and villages (代码, 名称, 上级代码) checked whole against the county's
    /// regions; with `commit`, the new ones are added from `valid_from` in one transaction with
    /// one audit row. Rows already there as written are left alone, so a list can be imported
    /// twice. Every bad row is returned with its line, and nothing is written.
    pub async fn import_regions(
        &self,
        by: &Principal,
        rows: &[RegionRow],
        valid_from: NaiveDate,
        commit: bool,
        source: &str,
    ) -> AuthResult<std::result::Result<RegionImport, RowErrors>> {
        require_county_wide(by)?;
        let county = self.county_code()?;
        let mut tx = self.db.begin().await?;
        let regions = crate::infra::reference::load_regions(&mut tx).await?;
        let (added, unchanged) = match plan_region_import(&regions, rows, valid_from) {
            Ok(plan) => plan,
            Err(errors) => {
                tx.rollback().await?;
                return Ok(Err(errors));
            }
        };
        let outside: RowErrors = rows
            .iter()
            .filter(|r| RegionCode::parse(r.code.trim()).is_ok_and(|c| !county.contains(&c)))
            .map(|r| {
                (
                    r.line,
                    format!("代码 {} 不属于本县（{}）", r.code.trim(), county.prefix()),
                )
            })
            .collect();
        if !outside.is_empty() {
            tx.rollback().await?;
            return Ok(Err(outside));
        }
        if !commit || added.is_empty() {
            tx.rollback().await?;
            return Ok(Ok(RegionImport { added, unchanged }));
        }
        for edit in &added {
            if let RegionEdit::Add {
                code,
                name,
                parent,
                valid_from,
            } = edit
            {
                insert(
                    &mut tx,
                    &Region::new(*code, name, Some(*parent), *valid_from),
                )
                .await?;
            }
        }
        let codes: Vec<String> = added
            .iter()
            .map(|e| e.subject().prefix().to_string())
            .collect();
        let detail = serde_json::json!({ "added": codes, "unchanged": unchanged });
        admin(self.now(), by, source)
            .commit(tx, "regions.import", county.prefix(), detail)
            .await?;
        self.reload_reference().await?;
        Ok(Ok(RegionImport { added, unchanged }))
    }

    /// Whether the database has a county at all (a fresh one does not until `init`).
    pub async fn has_county(&self) -> Result<bool> {
        const SQL: &str = "SELECT COUNT(*) FROM regions WHERE level = 'county'";
        let n: i64 = on_db!(&self.db, p => sqlx::query_scalar(SQL).fetch_one(p).await)?;
        Ok(n > 0)
    }
}
