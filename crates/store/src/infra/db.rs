//! The two backends behind one type. Every backend difference lives in this module: connection
//! options, migrations, how a write transaction begins.

use crate::infra::migrations::Dialect;
use sqlx::pool::{PoolConnection, PoolOptions};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Database, Executor, PgPool, Postgres, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// A connection pool to either backend.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction on either backend.
pub enum Tx {
    Sqlite(TxConn<Sqlite>),
    Postgres(TxConn<Postgres>),
}

/// A pooled connection inside a transaction that Anju began with plain SQL. Unlike sqlx's own
/// transaction, a connection whose COMMIT or ROLLBACK failed — or that is dropped with the
/// transaction still open — is closed instead of going back to the pool: a connection left
/// mid-transaction (a full disk failing a commit, a server gone away) would otherwise poison
/// every later write until a restart. The database rolls back what a closed connection held.
pub struct TxConn<DB: Database> {
    conn: Option<PoolConnection<DB>>,
}

impl<DB: Database> std::ops::Deref for TxConn<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        self.conn.as_ref().expect("open transaction")
    }
}

impl<DB: Database> std::ops::DerefMut for TxConn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.conn.as_mut().expect("open transaction")
    }
}

impl<DB: Database> Drop for TxConn<DB> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            // Dropped without COMMIT or ROLLBACK (an early return): never reuse it.
            c.close_on_drop();
        }
    }
}

impl<DB: Database> TxConn<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    async fn begin(pool: &sqlx::Pool<DB>, sql: &'static str) -> Result<TxConn<DB>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        if let Err(e) = (&mut *conn).execute(sql).await {
            conn.close_on_drop();
            return Err(e);
        }
        Ok(TxConn { conn: Some(conn) })
    }

    /// Runs COMMIT or ROLLBACK; on failure tries to roll back, and closes the connection.
    async fn end(mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        let mut conn = self.conn.take().expect("open transaction");
        match (&mut *conn).execute(sql).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, statement = sql, "transaction end failed; connection closed");
                let _ = (&mut *conn).execute("ROLLBACK").await;
                conn.close_on_drop();
                Err(e)
            }
        }
    }
}

/// A row type `query_as` can read on either backend.
pub(crate) trait ReadRow:
    for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
    + Send
    + Unpin
{
}

impl<T> ReadRow for T where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin
{
}

/// Runs the same code on whichever pool or transaction is at hand: `on_db!(db, p => expr)`.
/// The SQL inside is one `&'static str` with `$N` placeholders that both backends accept.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::infra::db::Db::Sqlite($p) => $body,
            $crate::infra::db::Db::Postgres($p) => $body,
        }
    };
}

#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::infra::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::infra::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// The versions applied to a database, in order (for the manifest of a backup and readiness).
pub(crate) const APPLIED_VERSIONS: &str =
    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";

/// A migrator over `(version, name, SQL)` triples.
pub fn migrator(list: &[(i64, &str, &str)]) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    sqlx::migrate::Migrator::with_migrations(
        list.iter()
            .map(|(version, name, sql)| {
                sqlx::migrate::Migration::new(
                    *version,
                    std::borrow::Cow::Owned(name.to_string()),
                    sqlx::migrate::MigrationType::Simple,
                    sqlx::AssertSqlSafe(sql.to_string()).into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// How long a request waits for a connection before it is answered "database unavailable"
/// (503): a database that went away must not hold every request for half a minute.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Each SQLite connection's page cache, KiB.
pub(crate) const SQLITE_CACHE_KIB: u32 = 65_536;

/// A pool of at most `max` connections that waits [`ACQUIRE_TIMEOUT`] for one.
fn pool_options<DB: Database>(max: u32) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(max)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

impl Db {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                // Negative: a size in KiB, not a page count.
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
                .pragma("temp_store", "memory");
            Ok(Db::Sqlite(pool_options(8).connect_with(opts).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            Ok(Db::Postgres(pool_options(16).connect_with(opts).await?))
        } else {
            Err(sqlx::Error::Configuration(
                format!(
                    "unsupported database URL scheme (use sqlite:// or postgres://): {}",
                    redact(url)
                )
                .into(),
            ))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Begins a write transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`) so two
    /// writers never deadlock upgrading a read lock; PostgreSQL locks rows as it goes.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(TxConn::begin(p, "BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(TxConn::begin(p, "BEGIN").await?),
        })
    }

    /// Begins a read-only transaction that sees one snapshot to its end while writers go on
    /// (SQLite: a deferred transaction over the WAL; PostgreSQL: REPEATABLE READ).
    pub async fn begin_snapshot(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(TxConn::begin(p, "BEGIN").await?),
            Db::Postgres(p) => Tx::Postgres(
                TxConn::begin(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?,
            ),
        })
    }

    /// This build's migrations for the backend: (version, name, SQL).
    pub fn migrations(&self) -> &'static [(i64, &'static str, &'static str)] {
        crate::infra::migrations::migrations(match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        })
    }

    /// The newest migration this build knows for the backend.
    pub fn latest_migration(&self) -> i64 {
        self.migrations().iter().map(|m| m.0).max().unwrap_or(0)
    }

    /// Applies the pending migrations of this backend, each in its own transaction, and
    /// returns the versions applied. Refuses (changing nothing) a database on which an applied
    /// migration's text differs from this build's.
    pub async fn migrate(&self) -> Result<Vec<i64>, sqlx::Error> {
        self.migrate_with(self.migrations()).await
    }

    /// [`Db::migrate`] over a given list (tests hand it an edited one).
    pub async fn migrate_with(&self, list: &[(i64, &str, &str)]) -> Result<Vec<i64>, sqlx::Error> {
        let migrator = migrator(list);
        self.adopt_hand_applied(&migrator).await?;
        let before = self.applied_versions().await?;
        self.run_migrator(&migrator, None).await?;
        let applied: Vec<i64> = self
            .applied_versions()
            .await?
            .into_iter()
            .filter(|v| !before.contains(v))
            .collect();
        for v in &applied {
            tracing::info!(version = v, "applied migration");
        }
        Ok(applied)
    }

    /// The versions recorded as applied (none on a database never migrated).
    pub async fn applied_versions(&self) -> Result<Vec<i64>, sqlx::Error> {
        if !self.has_table("_sqlx_migrations").await? {
            return Ok(vec![]);
        }
        on_db!(self, p => sqlx::query_scalar(APPLIED_VERSIONS).fetch_all(p).await)
    }

    /// Databases made before the migrator kept their versions in `schema_migrations`,
    /// without checksums: those versions are recorded as applied (with this build's checksums,
    /// never re-run) and the old table dropped. Safe to repeat if interrupted.
    async fn adopt_hand_applied(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<(), sqlx::Error> {
        if !self.has_table("schema_migrations").await? {
            return Ok(());
        }
        let done: Option<i64> = on_db!(self, p => sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(p).await)?;
        if let Some(last) = done {
            self.run_migrator(migrator, Some(last)).await?;
            tracing::info!(
                last,
                "adopted the versions recorded before checksummed migrations"
            );
        }
        on_db!(self, p => sqlx::query("DROP TABLE schema_migrations").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Runs `migrator` (or with `skip_to`, records the versions up to it as applied without
    /// running them) on a connection of its own, closed if the run fails: PostgreSQL's
    /// migrator holds a session-wide advisory lock that a refused run would otherwise leave on
    /// a pooled connection, blocking every later migration.
    async fn run_migrator(
        &self,
        migrator: &sqlx::migrate::Migrator,
        skip_to: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        on_db!(self, p => {
            let mut c = p.acquire().await?;
            let run = match skip_to {
                Some(last) => migrator.skip(&mut *c, Some(last)).await,
                None => migrator.run(&mut *c).await,
            };
            if run.is_err() {
                c.close_on_drop();
            }
            Ok(run?)
        })
    }

    async fn has_table(&self, name: &str) -> Result<bool, sqlx::Error> {
        let n: i64 = match self {
            Db::Sqlite(p) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1")
                    .bind(name)
                    .fetch_one(p)
                    .await?
            }
            Db::Postgres(p) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1")
                    .bind(name)
                    .fetch_one(p)
                    .await?
            }
        };
        Ok(n > 0)
    }

    /// Drops every table (PostgreSQL: the `public` schema). Only for an explicit reset.
    pub async fn reset_schema(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Postgres(p) => {
                sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
                    .execute(p)
                    .await?;
            }
            Db::Sqlite(p) => {
                // Every table there is, foreign keys off on this one connection while dropping.
                let mut c = p.acquire().await?;
                sqlx::query("PRAGMA foreign_keys = OFF")
                    .execute(&mut *c)
                    .await?;
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                )
                .fetch_all(&mut *c)
                .await?;
                for t in tables {
                    let sql = format!("DROP TABLE IF EXISTS \"{t}\"");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut *c)
                        .await?;
                }
                sqlx::query("PRAGMA foreign_keys = ON")
                    .execute(&mut *c)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }
}

/// Sets the page cache of the SQLite connection `tx` runs on (nothing on PostgreSQL).
pub(crate) async fn cache_kib(tx: &mut Tx, kib: u32) -> Result<(), sqlx::Error> {
    if let Tx::Sqlite(t) = tx {
        let sql = format!("PRAGMA cache_size = -{kib}");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.end("COMMIT").await,
            Tx::Postgres(t) => t.end("COMMIT").await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.end("ROLLBACK").await,
            Tx::Postgres(t) => t.end("ROLLBACK").await,
        }
    }
}

/// A database URL with its password replaced, fit for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The same server URL pointing at database `name` (scratch databases for tests and benches).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let start = base.find("://").map_or(0, |i| i + 3);
    let base = base[start..].find('/').map_or(base, |i| &base[..start + i]);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_swapped_in_a_server_url() {
        use super::with_database;
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            super::redact("postgres://anju:s3cret@db:5432/anju"),
            "postgres://anju:***@db:5432/anju"
        );
        assert_eq!(
            super::redact("sqlite://data/anju.db"),
            "sqlite://data/anju.db"
        );
    }
}
