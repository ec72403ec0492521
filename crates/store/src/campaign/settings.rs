//! Campaign settings the county office edits: phase deadlines and the descriptive
//! dictionaries. Each change is checked (`ManageSettings`), written with its audit row (old and
//! new values) in one transaction, and never removes a dictionary value that records may use:
//! values are retired (hidden from forms) and can be restored.

use crate::accounts::{AuthError, AuthResult, admin, require};
use crate::{Store, on_db, on_tx};
use anju_domain::auth::{Action, Principal};
use anju_domain::campaign::{Deadline, default_deadlines};
use anju_domain::codes::RegionLevel;
use anju_domain::event::Role;

/// Settings are county-wide: only an account anchored at the county (or above) may change them.
pub(crate) fn require_county_wide(by: &Principal) -> AuthResult<()> {
    require(by, Action::ManageSettings)?;
    let wide =
        by.role == Role::System || by.region.is_some_and(|r| r.level() <= RegionLevel::County);
    if wide {
        Ok(())
    } else {
        Err(AuthError::Denied("全县设置只能由县级账号修改".into()))
    }
}

/// The settings key of the phase deadlines.
pub const DEADLINES_KEY: &str = "deadlines";

/// A dictionary value with whether forms still offer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictionaryEntry {
    pub kind: String,
    pub label: String,
    pub active: bool,
}

impl Store {
    /// The phase deadlines in force (the notice's dates until the county office changes them).
    pub async fn deadlines(&self) -> crate::Result<Vec<Deadline>> {
        Ok(match self.setting(DEADLINES_KEY).await? {
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| crate::StoreError::Corrupt(format!("deadlines: {e}")))?,
            None => default_deadlines(),
        })
    }

    /// Replaces the phase deadlines; every phase needs a name and a date, names are unique.
    pub async fn set_deadlines(
        &self,
        by: &Principal,
        new: &[Deadline],
        source: &str,
    ) -> AuthResult<()> {
        require_county_wide(by)?;
        if new.is_empty() {
            return Err(AuthError::Invalid("至少保留一个阶段".into()));
        }
        for (i, d) in new.iter().enumerate() {
            if d.phase.trim().is_empty() {
                return Err(AuthError::Invalid(format!("第 {} 个阶段缺少名称", i + 1)));
            }
            if new[..i].iter().any(|x| x.phase.trim() == d.phase.trim()) {
                return Err(AuthError::Invalid(format!("阶段“{}”重复", d.phase)));
            }
        }
        let old = self.deadlines().await?;
        let value = serde_json::to_string(new).expect("serializes");
        let detail = serde_json::json!({ "old": old, "new": new });
        let e = admin(self.now(), by, source).entry("setting.deadlines", DEADLINES_KEY, detail);
        self.put_setting(DEADLINES_KEY, &value, &e).await?;
        Ok(())
    }

    /// Every value of every dictionary, retired ones included, in form order.
    pub async fn dictionary_entries(&self) -> crate::Result<Vec<DictionaryEntry>> {
        const SQL: &str =
            "SELECT kind, label, active FROM dictionary_entries ORDER BY kind, position, label";
        let rows: Vec<(String, String, bool)> =
            on_db!(&self.db, p => sqlx::query_as(SQL).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|(kind, label, active)| DictionaryEntry {
                kind,
                label,
                active,
            })
            .collect())
    }

    /// Adds a value to a dictionary (at its end), or retires or restores one. Only the
    /// descriptive dictionaries that exist can be edited; values are never deleted.
    pub async fn set_dictionary_entry(
        &self,
        by: &Principal,
        kind: &str,
        label: &str,
        active: bool,
        source: &str,
    ) -> AuthResult<()> {
        require_county_wide(by)?;
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 40 {
            return Err(AuthError::Invalid("字典值须为 1 至 40 个字".into()));
        }
        if !self.reference().dictionaries.kinds.contains_key(kind)
            && !self
                .dictionary_entries()
                .await?
                .iter()
                .any(|e| e.kind == kind)
        {
            return Err(AuthError::Invalid(format!("没有名为“{kind}”的字典")));
        }
        let existing = self
            .dictionary_entries()
            .await?
            .into_iter()
            .find(|e| e.kind == kind && e.label == label);
        if existing.is_none() && !active {
            return Err(AuthError::Invalid(format!("字典中没有“{label}”")));
        }
        if existing.as_ref().is_some_and(|e| e.active == active) {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        const ADD: &str = "INSERT INTO dictionary_entries (kind, label, position, active) \
            SELECT $1, $2, COALESCE(MAX(position), 0) + 1, TRUE FROM dictionary_entries WHERE kind = $1";
        const SET: &str =
            "UPDATE dictionary_entries SET active = $3 WHERE kind = $1 AND label = $2";
        let action = match (&existing, active) {
            (None, _) => {
                on_tx!(&mut tx, c => sqlx::query(ADD).bind(kind).bind(label).execute(&mut *c).await.map(|r| r.rows_affected()))?;
                "dictionary.add"
            }
            (Some(_), a) => {
                on_tx!(&mut tx, c => sqlx::query(SET).bind(kind).bind(label).bind(a).execute(&mut *c).await.map(|r| r.rows_affected()))?;
                if a {
                    "dictionary.restore"
                } else {
                    "dictionary.retire"
                }
            }
        };
        let detail = serde_json::json!({});
        admin(self.now(), by, source)
            .commit(tx, action, &format!("{kind}:{label}"), detail)
            .await?;
        self.reload_reference().await?;
        Ok(())
    }
}
