//! Anju's storage: one API over SQLite and PostgreSQL. The event log is the truth; each write
//! appends an event, rewrites the house's projection and adds an audit row in one transaction.
//! Every function that returns houses takes a [`anju_domain::Scope`].
#![forbid(unsafe_code)]

pub mod audit;
pub mod codec;
pub mod db;
pub mod error;
pub mod houses;
pub mod ledger;
pub mod log;
pub mod reference;
pub mod reports;
pub mod scope;
#[cfg(feature = "testing")]
pub mod testing;
pub mod write;

pub use db::{Db, Tx};
pub use error::{Result, StoreError};
pub use houses::HouseView;
pub use reference::Reference;
pub use write::{NewHouse, RefusedAttempt, now};

use std::sync::{Arc, RwLock};

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    codec::micros(chrono::Utc::now())
}

/// The database plus a cached copy of the reference data (regions, dictionaries, sectors).
#[derive(Clone)]
pub struct Store {
    pub db: Db,
    reference: Arc<RwLock<Arc<Reference>>>,
}

impl Store {
    /// Connects, applies pending migrations, seeds the default reference data into an empty
    /// database, and loads the reference cache.
    pub async fn open(url: &str) -> Result<Store> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        let store = Store {
            db,
            reference: Arc::new(RwLock::new(Arc::new(Reference::defaults()))),
        };
        if store.count_regions().await? == 0 {
            let mut tx = store.db.begin().await?;
            reference::insert_missing(&mut tx, &Reference::defaults()).await?;
            tx.commit().await?;
        }
        store.reload_reference().await?;
        Ok(store)
    }

    async fn count_regions(&self) -> Result<i64> {
        Ok(
            on_db!(&self.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM regions").fetch_one(p).await)?,
        )
    }

    /// The reference data as last loaded.
    pub fn reference(&self) -> Arc<Reference> {
        self.reference.read().expect("reference lock").clone()
    }

    /// Re-reads the reference data after it changed.
    pub async fn reload_reference(&self) -> Result<()> {
        let fresh = reference::load(&self.db).await?;
        *self.reference.write().expect("reference lock") = Arc::new(fresh);
        Ok(())
    }

    /// Adds reference rows that are missing (e.g. the demo's villages), then reloads the cache.
    pub async fn add_reference(&self, r: &Reference) -> Result<()> {
        let mut tx = self.db.begin().await?;
        reference::insert_missing(&mut tx, r).await?;
        tx.commit().await?;
        self.reload_reference().await
    }
}
