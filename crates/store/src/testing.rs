//! Test databases (feature `testing`): every test gets its own SQLite file or PostgreSQL
//! database, and every storage test runs on both through [`both!`]. PostgreSQL tests fail,
//! never skip, when the server cannot be reached: `ANJU_TEST_POSTGRES` names it (default: the
//! local `postgres` user).

use crate::Store;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct TestDb {
    pub store: Store,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("ANJU_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("anju.db").display());
    TestDb {
        store: Store::open(&url).await.expect("open sqlite"),
        pg_name: None,
        _dir: Some(dir),
    }
}

pub async fn postgres() -> TestDb {
    let admin = postgres_admin_url();
    let name = format!(
        "anju_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let pool = sqlx::PgPool::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is required for the test suite ({admin}): {e}. Start it, or set ANJU_TEST_POSTGRES.")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&pool)
    .await
    .expect("drop old test database");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    TestDb {
        store: Store::open(&crate::db::with_database(&admin, &name))
            .await
            .expect("open postgres"),
        pg_name: Some(name),
        _dir: None,
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Dropping needs async; do it on a thread with its own small runtime.
            let admin = postgres_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Generates `sqlite` and `postgres` tests from one `async fn case(&Store)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::testing::sqlite().await;
                    super::$name(&db.store).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = $crate::testing::postgres().await;
                    super::$name(&db.store).await;
                }
            }
        )*
    };
}
