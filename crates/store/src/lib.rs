//! Anju's storage: one API over SQLite and PostgreSQL. The event log is the truth; each write
//! appends an event, rewrites the house's projection and adds an audit row in one transaction.
//! Every function that returns houses takes a [`anju_domain::Scope`] and is crate-private:
//! people reach it through [`Access`], the operator's own processes through [`System`].
#![forbid(unsafe_code)]

/// The face for logged-in people: role check, then the account's scope.
pub mod access;
/// Accounts, login, sessions, passwords and the second factor.
pub mod accounts;
/// Problems, supervision notices, reminders and ranking, regions, the county's settings.
pub mod campaign;
/// Houses: writes, scoped reads, list and map, event chain and log, imports, plaques.
pub mod houses;
/// The plumbing: backends, codecs, clock, errors, scope as SQL, audit, reference data, keys, backup.
pub mod infra;
/// Ledgers: the figures from one `GROUP BY`, and ledgers handed in, signed and accepted.
pub mod ledgers;
/// The face for the operator's processes (CLI, importer, demo, benchmarks): all houses.
pub mod system;
#[cfg(feature = "testing")]
pub mod testing;

pub use access::Access;
pub use accounts::{Account, AuthError, NewAccount, Session};
pub use houses::HouseView;
pub use houses::write::{NewHouse, RefusedAttempt};
pub use infra::clock::{Clock, SystemClock, TestClock};
pub use infra::db::{Db, Tx};
pub use infra::error::{Result, StoreError};
pub use infra::reference::Reference;
pub use infra::vault::Vault;
pub use system::System;

use std::sync::{Arc, RwLock};

/// The database plus a cached copy of the reference data (regions, dictionaries, sectors).
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// What time it is ([`Store::now`]): the machine's clock, or a test's.
    clock: Arc<dyn Clock>,
    reference: Arc<RwLock<Arc<Reference>>>,
    vault: Arc<Vault>,
    /// House-list totals, valid while the audit chain's head is unchanged (`houses/list.rs`).
    pub(crate) counts: Arc<std::sync::Mutex<houses::list::CountCache>>,
    /// Map cells and places, valid while the audit chain's head is unchanged (`houses/map.rs`).
    pub(crate) maps: Arc<std::sync::Mutex<houses::map::MapCache>>,
    /// Settings read on every request (security policy, demo flag), kept for
    /// [`SETTINGS_TTL`]; a change made through this store is seen at once.
    settings: Arc<std::sync::Mutex<SettingsCache>>,
}

/// Settings by key, with when they were read.
type SettingsCache = std::collections::HashMap<String, (std::time::Instant, Option<String>)>;

/// How long another process's change to a setting may take to be seen.
pub const SETTINGS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Store {
    /// Connects, applies pending migrations, seeds the default dictionaries, departments and
    /// sector table into an empty database (regions come from `init_county`), seals personal data left in plain text by an older version, and loads the
    /// reference cache. `vault` holds the keys personal data is sealed with.
    pub async fn open(url: &str, vault: Vault) -> Result<Store> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        let store = Store {
            db,
            clock: Arc::new(SystemClock),
            reference: Arc::new(RwLock::new(Arc::new(Reference::defaults()))),
            counts: Arc::default(),
            maps: Arc::default(),
            settings: Arc::default(),
            vault: Arc::new(vault),
        };
        store.check_keys().await?;
        // Events written before the chain existed get their hashes once (migration 0006).
        store.chain_legacy_events().await?;
        // Houses stored before the map get their positions once (migration 0010).
        store.backfill_map_positions().await?;
        if store.count_departments().await? == 0 {
            let mut tx = store.db.begin().await?;
            infra::reference::insert_missing(&mut tx, &Reference::defaults()).await?;
            tx.commit().await?;
        }
        store.reload_reference().await?;
        Ok(store)
    }

    /// Now, by this store's clock, to the microsecond (what the database keeps).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let t = self.clock.now();
        infra::codec::from_micros(infra::codec::micros(t)).unwrap_or(t)
    }

    /// Today in Beijing, by this store's clock: the day deadlines and ledgers count in.
    pub fn today(&self) -> chrono::NaiveDate {
        anju_domain::rules::beijing_date(self.now())
    }

    /// The same store (and database) telling time by `clock`; clones of the result share it.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Store {
        self.clock = clock;
        self
    }

    async fn count_departments(&self) -> Result<i64> {
        Ok(
            on_db!(&self.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM departments").fetch_one(p).await)?,
        )
    }

    /// The same database with another key set (e.g. after a key was added for rotation).
    pub async fn with_vault(&self, vault: Vault) -> Result<Store> {
        let store = Store {
            db: self.db.clone(),
            clock: self.clock.clone(),
            reference: self.reference.clone(),
            vault: Arc::new(vault),
            counts: self.counts.clone(),
            maps: self.maps.clone(),
            settings: self.settings.clone(),
        };
        store.check_keys().await?;
        Ok(store)
    }

    /// Which backend this store runs on (`sqlite` or `postgres`), for messages and reports.
    pub fn backend(&self) -> &'static str {
        self.db.backend()
    }

    /// Closes the connection pool (before a process ends or a database file is replaced).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The keys personal data is sealed with.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The reference data as last loaded.
    pub fn reference(&self) -> Arc<Reference> {
        self.reference.read().expect("reference lock").clone()
    }

    /// Re-reads the reference data after it changed.
    pub async fn reload_reference(&self) -> Result<()> {
        let fresh = infra::reference::load(&self.db).await?;
        *self.reference.write().expect("reference lock") = Arc::new(fresh);
        Ok(())
    }

    /// A plain setting (`settings` table), if set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        if let Some((at, v)) = self.settings.lock().expect("settings cache").get(key)
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(v.clone());
        }
        const SQL: &str = "SELECT value FROM settings WHERE key = $1";
        let v: Option<String> =
            on_db!(&self.db, p => sqlx::query_scalar(SQL).bind(key).fetch_optional(p).await)?;
        self.settings
            .lock()
            .expect("settings cache")
            .insert(key.to_string(), (std::time::Instant::now(), v.clone()));
        Ok(v)
    }

    /// Forgets a cached setting (after changing it).
    pub(crate) fn forget_setting(&self, key: &str) {
        self.settings.lock().expect("settings cache").remove(key);
    }

    /// Sets a plain setting with its audit row, in one transaction.
    pub async fn put_setting(
        &self,
        key: &str,
        value: &str,
        entry: &infra::audit::AuditEntry,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        const SQL: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        on_tx!(&mut tx, c => sqlx::query(SQL).bind(key).bind(value).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        infra::audit::append(&mut tx, entry).await?;
        tx.commit().await?;
        self.forget_setting(key);
        Ok(())
    }

    /// Adds reference rows that are missing (e.g. the demo's villages), then reloads the cache.
    pub async fn add_reference(&self, r: &Reference) -> Result<()> {
        let mut tx = self.db.begin().await?;
        infra::reference::insert_missing(&mut tx, r).await?;
        tx.commit().await?;
        self.reload_reference().await
    }
}
