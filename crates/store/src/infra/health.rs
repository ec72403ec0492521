//! What kind of trouble a database error shows: a full disk, or a database that cannot be
//! reached. The web layer's error type answers such an error with a 507 or 503 page that says
//! so in Chinese; `/readyz` asks the database itself. Nothing here needs a restart to clear:
//! the pool opens new connections once the database answers again.

use std::time::Duration;

/// Why the database could not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No room left to write (SQLite SQLITE_FULL, PostgreSQL 53100, ENOSPC).
    DiskFull,
    /// The database does not answer (connection refused or reset, pool timed out, server
    /// shutting down).
    Down,
}

impl Unavailable {
    /// For the page shown meanwhile.
    pub fn message(self) -> &'static str {
        match self {
            Unavailable::DiskFull => {
                "服务器磁盘空间已满，刚才的操作没有保存。请通知系统管理员清理磁盘空间；空间释放后无需重启即可继续使用，请稍后重试。"
            }
            Unavailable::Down => {
                "数据库暂时无法连接，刚才的操作没有保存。请稍后重试；数据库恢复后系统会自动恢复，无需重启。"
            }
        }
    }
}

/// What a database error says about the database, if anything.
pub fn classify(e: &sqlx::Error) -> Option<Unavailable> {
    match e {
        sqlx::Error::Io(io) if io.raw_os_error() == Some(28) => Some(Unavailable::DiskFull),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(Unavailable::Down),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let message = db.message();
            // SQLite's primary result code 13 (and extended codes over it); PostgreSQL 53100.
            if code == "13" || code == "53100" || message.contains("disk is full") {
                Some(Unavailable::DiskFull)
            } else if code.starts_with("08") || code.starts_with("57P") {
                Some(Unavailable::Down)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Free space below which the system is not ready: writes would soon fail.
pub const MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

/// Bytes free for an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &std::path::Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(path)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

impl crate::Store {
    /// What keeps the system from serving, in Chinese (empty when ready): the database does not
    /// answer within two seconds, its schema is older or newer than this build's, or the
    /// file system of `data_dir` has less than [`MIN_FREE_BYTES`] free.
    pub async fn readiness(&self, data_dir: Option<&std::path::Path>) -> Vec<String> {
        let mut problems = Vec::new();
        const SQL: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        let probe = crate::on_db!(&self.db, p => tokio::time::timeout(Duration::from_secs(2), sqlx::query_scalar::<_, i64>(SQL).fetch_one(p)).await);
        match probe {
            Err(_) => problems.push("数据库 2 秒内没有响应".to_string()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the database does not answer");
                problems.push("数据库无法连接".to_string());
            }
            Ok(Ok(v)) if v != self.db.latest_migration() => problems.push(format!(
                "数据库结构版本为 {v}，本程序为 {}：请运行 anju migrate",
                self.db.latest_migration()
            )),
            Ok(Ok(_)) => {}
        }
        if let Some(dir) = data_dir {
            match free_bytes(dir) {
                Ok(n) if n < MIN_FREE_BYTES => problems.push(format!(
                    "数据目录所在磁盘仅剩 {:.1} MB 可用空间",
                    n as f64 / 1048576.0
                )),
                Ok(_) => {}
                Err(e) => problems.push(format!("无法读取数据目录的磁盘空间：{e}")),
            }
        }
        problems
    }
}
