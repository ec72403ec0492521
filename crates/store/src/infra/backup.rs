//! Whole-system backup and restore, across backends. A backup is every table read in one
//! consistent snapshot (SQLite: one read transaction over the WAL; PostgreSQL: one REPEATABLE
//! READ transaction), written as gzipped JSON Lines (one array of values per row), the evidence
//! files beside them, and a manifest with row counts and the SHA-256 of every file, written
//! last. Restore fills an empty database of either backend in one transaction: accounts, the
//! audit chain (which still verifies), problems, signed reports, settings, regions and the
//! event log come back as they were. The key file personal data is sealed with is never in a
//! backup; the manifest names the key ids a restore needs.

use crate::infra::db::{Db, Tx};
use crate::infra::error::{Result, StoreError};
use crate::{Store, on_tx};
use chrono::NaiveDate;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What a backup directory says it holds. `format` changes when the layout does.
pub const FORMAT: &str = "anju-backup/1";

/// Every table a backup holds, parents before children (the order a restore inserts them).
/// Sessions are left out on purpose: a restored system starts with everyone logged out.
pub const TABLES: &[&str] = &[
    "regions",
    "region_changes",
    "departments",
    "sector_departments",
    "dictionary_entries",
    "settings",
    "accounts",
    "password_history",
    "login_failures",
    "login_locks",
    "houses",
    "house_people",
    "house_sectors",
    "events",
    "fact_spans",
    "assignments",
    "import_pending",
    "audit_log",
    "audit_head",
    "chain_heads",
    "ledger_reports",
    "problem_batches",
    "problems",
    "problem_events",
    "supervisions",
];

/// What the manifest's key check seals and digests (column, plain text).
const KEY_CHECK: (&str, &str) = ("backup.key_check", "anju");

/// Tables of the schema a backup deliberately leaves out.
/// `map_cells` is derived from `houses` by triggers, so a restore's houses rebuild it.
pub const LEFT_OUT: &[&str] = &[
    "sessions",
    "_sqlx_migrations",
    "map_backfill_pending",
    "map_cells",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    pub name: String,
    pub rows: u64,
    /// Relative to the backup directory.
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup directory, `/`-separated.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub taken_at: String,
    pub anju_version: String,
    /// The backend the backup was read from (`sqlite` or `postgres`).
    pub backend: String,
    /// Migration versions applied to the source; a restore needs the same schema.
    pub migrations: Vec<i64>,
    pub county: Option<String>,
    /// The personal-data key ids the sealed data uses: the key file given to a restore must
    /// hold them. The keys themselves are never in a backup.
    pub key_ids: Vec<u32>,
    /// A value sealed under the current key and a keyed digest: a restore checks that its key
    /// file opens the one and reproduces the other before writing anything.
    pub key_check: (String, String),
    /// The audit chain's head at the snapshot: `(last id, last hash)`.
    pub audit_head: (i64, String),
    pub tables: Vec<TableEntry>,
    pub evidence: Vec<FileEntry>,
}

impl Manifest {
    pub fn rows(&self, table: &str) -> Option<u64> {
        self.tables.iter().find(|t| t.name == table).map(|t| t.rows)
    }

    pub fn total_bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum::<u64>()
            + self.evidence.iter().map(|f| f.bytes).sum::<u64>()
    }
}

/// The three kinds of column the schema uses, read off the declared types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Date,
    /// REAL (SQLite) or DOUBLE PRECISION (PostgreSQL): the map's coordinates.
    Real,
    Text,
}

fn kind_of(declared: &str) -> Kind {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        Kind::Int
    } else if t.contains("bool") {
        Kind::Bool
    } else if t == "date" {
        Kind::Date
    } else if t == "real" || t == "double precision" {
        Kind::Real
    } else {
        Kind::Text
    }
}

fn invalid(m: impl Into<String>) -> StoreError {
    StoreError::Invalid(m.into())
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    invalid(format!("无法读写 {}：{e}", path.display()))
}

/// The columns of `table` in order, with their kinds.
async fn columns(tx: &mut Tx, table: &str) -> Result<Vec<(String, Kind)>> {
    const SQLITE: &str = "SELECT name, type FROM pragma_table_info($1) ORDER BY cid";
    const PG: &str = "SELECT column_name, data_type FROM information_schema.columns \
        WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position";
    let rows: Vec<(String, String)> = match tx {
        Tx::Sqlite(t) => {
            sqlx::query_as(SQLITE)
                .bind(table)
                .fetch_all(&mut **t)
                .await?
        }
        Tx::Postgres(t) => sqlx::query_as(PG).bind(table).fetch_all(&mut **t).await?,
    };
    if rows.is_empty() {
        return Err(invalid(format!("数据库中没有表 {table}")));
    }
    Ok(rows.into_iter().map(|(n, t)| (n, kind_of(&t))).collect())
}

/// The schema's tables (for the test that every table is either backed up or left out on purpose).
pub async fn schema_tables(db: &Db) -> Result<Vec<String>> {
    const SQLITE: &str = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
    const PG: &str = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name";
    Ok(match db {
        Db::Sqlite(p) => sqlx::query_scalar(SQLITE).fetch_all(p).await?,
        Db::Postgres(p) => sqlx::query_scalar(PG).fetch_all(p).await?,
    })
}

/// One value of a row as JSON, decoded by the column's kind (a macro: the row types differ).
macro_rules! decode {
    ($row:expr, $i:expr, $kind:expr) => {{
        use serde_json::Value as V;
        match $kind {
            // PostgreSQL INTEGER columns decode only as i32; SQLite's are all i64.
            Kind::Int => match $row.try_get::<Option<i64>, _>($i) {
                Ok(v) => v,
                Err(_) => $row.try_get::<Option<i32>, _>($i)?.map(i64::from),
            }
            .map_or(V::Null, V::from),
            Kind::Bool => $row
                .try_get::<Option<bool>, _>($i)?
                .map_or(V::Null, V::from),
            Kind::Date => $row
                .try_get::<Option<NaiveDate>, _>($i)?
                .map_or(V::Null, |d| V::from(d.to_string())),
            Kind::Real => $row.try_get::<Option<f64>, _>($i)?.map_or(V::Null, V::from),
            Kind::Text => $row
                .try_get::<Option<String>, _>($i)?
                .map_or(V::Null, V::from),
        }
    }};
}

/// A gzipped file being written, hashed as it goes.
struct HashedWriter {
    inner: flate2::write::GzEncoder<BufWriter<std::fs::File>>,
    path: PathBuf,
}

impl HashedWriter {
    fn create(path: &Path) -> Result<HashedWriter> {
        let f = std::fs::File::create(path).map_err(|e| io(path, e))?;
        Ok(HashedWriter {
            inner: flate2::write::GzEncoder::new(BufWriter::new(f), flate2::Compression::fast()),
            path: path.to_path_buf(),
        })
    }

    fn line(&mut self, v: &serde_json::Value) -> Result<()> {
        serde_json::to_writer(&mut self.inner, v).map_err(|e| invalid(e.to_string()))?;
        self.inner.write_all(b"\n").map_err(|e| io(&self.path, e))
    }

    fn finish(self) -> Result<()> {
        let buf = self.inner.finish().map_err(|e| io(&self.path, e))?;
        let f = buf
            .into_inner()
            .map_err(|e| io(&self.path, e.into_error()))?;
        f.sync_all().map_err(|e| io(&self.path, e))
    }
}

/// SHA-256 and size of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(|e| io(path, e))?;
    Ok((hex::encode(h.finalize()), n))
}

impl Store {
    /// Writes every table in [`TABLES`] from one consistent snapshot into `dir/tables`, and
    /// returns the manifest's database part (no evidence yet). Writers go on meanwhile: the
    /// snapshot holds no write lock on either backend.
    pub(crate) async fn dump(&self, dir: &Path) -> Result<Manifest> {
        let tables_dir = dir.join("tables");
        std::fs::create_dir_all(&tables_dir).map_err(|e| io(&tables_dir, e))?;
        // The snapshot starts at the first read and holds to the end, while writers commit.
        let mut tx = self.db.begin_snapshot().await?;
        let taken_at = self.now();
        let head: (i64, String) = on_tx!(&mut tx, c => sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1").fetch_one(&mut *c).await)?;
        let migrations: Vec<i64> = on_tx!(&mut tx, c => sqlx::query_scalar(crate::infra::db::APPLIED_VERSIONS).fetch_all(&mut *c).await)?;
        let mut tables = Vec::new();
        for table in TABLES {
            let cols = columns(&mut tx, table).await?;
            let file = format!("tables/{table}.jsonl.gz");
            let path = dir.join(&file);
            let mut out = HashedWriter::create(&path)?;
            out.line(&serde_json::json!(
                cols.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
            ))?;
            // Compressing and writing happen on a blocking thread fed by a bounded channel, so a
            // backup taken by the running server does not hold its async threads.
            let (send, receive) = std::sync::mpsc::sync_channel::<Vec<serde_json::Value>>(256);
            let writer = tokio::task::spawn_blocking(move || -> Result<()> {
                for row in receive {
                    out.line(&serde_json::Value::Array(row))?;
                }
                out.finish()
            });
            // Table names come from the constant list above, never from input.
            let sql = format!("SELECT * FROM {table} ORDER BY 1");
            let mut rows = 0u64;
            macro_rules! stream {
                ($c:expr) => {{
                    let mut s = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).fetch($c);
                    while let Some(row) = s.try_next().await? {
                        let mut values = Vec::with_capacity(cols.len());
                        for (i, (_, k)) in cols.iter().enumerate() {
                            values.push(decode!(row, i, *k));
                        }
                        let send = send.clone();
                        // The channel is bounded: wait off the async threads when it is full.
                        let sent = match send.try_send(values) {
                            Ok(()) => true,
                            Err(std::sync::mpsc::TrySendError::Full(v)) => {
                                tokio::task::spawn_blocking(move || send.send(v).is_ok())
                                    .await
                                    .unwrap_or(false)
                            }
                            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => false,
                        };
                        if !sent {
                            break;
                        }
                        rows += 1;
                    }
                }};
            }
            match &mut tx {
                Tx::Sqlite(t) => stream!(&mut **t),
                Tx::Postgres(t) => stream!(&mut **t),
            }
            drop(send);
            writer
                .await
                .map_err(|e| invalid(format!("备份写入线程失败：{e}")))??;
            let (sha256, bytes) = hash_file(&path)?;
            tables.push(TableEntry {
                name: table.to_string(),
                rows,
                file,
                sha256,
                bytes,
            });
        }
        tx.rollback().await?;
        Ok(Manifest {
            format: FORMAT.into(),
            taken_at: taken_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            anju_version: env!("CARGO_PKG_VERSION").into(),
            backend: self.db.backend().into(),
            migrations,
            county: self.county().map(|c| c.code.prefix().to_string()),
            key_ids: self.vault().key_ids(),
            key_check: (
                self.vault().seal(KEY_CHECK.0, KEY_CHECK.1),
                self.vault().digest(KEY_CHECK.0, KEY_CHECK.1),
            ),
            audit_head: head,
            tables,
            evidence: vec![],
        })
    }

    /// Whether the database holds anything a restore would overwrite.
    pub async fn is_empty_for_restore(&self) -> Result<bool> {
        for table in ["regions", "accounts", "houses", "audit_log", "problems"] {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let n: i64 = crate::on_db!(&self.db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(p).await)?;
            if n > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Loads the tables of a verified backup into this (empty) database in one transaction;
    /// nothing is written if any row is refused. The vault must hold the manifest's key ids.
    pub(crate) async fn restore_tables(&self, dir: &Path, manifest: &Manifest) -> Result<()> {
        if !self.is_empty_for_restore().await? {
            return Err(invalid(
                "目标数据库不是空的（已有区划、账号、房屋、审计记录或问题）：恢复只写入空数据库，请新建一个数据库再恢复",
            ));
        }
        let missing: Vec<u32> = manifest
            .key_ids
            .iter()
            .copied()
            .filter(|id| !self.vault().key_ids().contains(id))
            .collect();
        let opens = self
            .vault()
            .open(KEY_CHECK.0, &manifest.key_check.0)
            .is_ok_and(|v| v == KEY_CHECK.1);
        if !missing.is_empty()
            || !opens
            || self.vault().digest(KEY_CHECK.0, KEY_CHECK.1) != manifest.key_check.1
        {
            return Err(invalid(format!(
                "密钥文件与备份不符（备份用的是密钥 {:?}）：请使用原系统的密钥文件（备份时提示的位置）再恢复",
                manifest.key_ids
            )));
        }
        let mut tx = self.db.begin().await?;
        let mine: Vec<i64> = on_tx!(&mut tx, c => sqlx::query_scalar(crate::infra::db::APPLIED_VERSIONS).fetch_all(&mut *c).await)?;
        if mine != manifest.migrations {
            return Err(invalid(format!(
                "备份的数据库结构版本 {:?} 与本程序的 {:?} 不同：请用与备份时相同版本的 anju 恢复，再升级",
                manifest.migrations, mine
            )));
        }
        // The seeded defaults of a fresh database give way to the backup's rows.
        for table in TABLES.iter().rev() {
            let sql = format!("DELETE FROM {table}");
            on_tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        for entry in &manifest.tables {
            if !TABLES.contains(&entry.name.as_str()) {
                return Err(invalid(format!("备份中的表 {} 不是本程序的表", entry.name)));
            }
            restore_table(&mut tx, dir, entry).await?;
        }
        if let Tx::Postgres(t) = &mut tx {
            // Identity columns continue after the restored ids.
            const IDS: &str = "SELECT table_name FROM information_schema.columns \
                WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES'";
            let tables: Vec<String> = sqlx::query_scalar(IDS).fetch_all(&mut **t).await?;
            for table in tables.iter().filter(|t| TABLES.contains(&t.as_str())) {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut **t)
                    .await?;
            }
        }
        tx.commit().await?;
        self.reload_reference().await?;
        Ok(())
    }
}

/// Rows per INSERT statement: about 900 bound values, under both backends' limits.
const VALUES_PER_STATEMENT: usize = 900;

async fn restore_table(tx: &mut Tx, dir: &Path, entry: &TableEntry) -> Result<()> {
    let path = dir.join(&entry.file);
    let f = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
    let mut lines = BufReader::new(flate2::read::GzDecoder::new(f)).lines();
    let header: Vec<String> = match lines.next() {
        Some(l) => serde_json::from_str(&l.map_err(|e| io(&path, e))?)
            .map_err(|e| invalid(format!("{}：表头无法读取：{e}", entry.file)))?,
        None => return Err(invalid(format!("{} 是空文件", entry.file))),
    };
    let cols = columns(tx, &entry.name).await?;
    // The backup's columns must be this schema's, by name; their order may differ.
    let mut positions = Vec::with_capacity(cols.len());
    for (name, _) in &cols {
        positions.push(
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| invalid(format!("备份的表 {} 缺少列 {name}", entry.name)))?,
        );
    }
    if header.len() != cols.len() {
        return Err(invalid(format!(
            "备份的表 {} 有 {} 列，本程序的有 {} 列",
            entry.name,
            header.len(),
            cols.len()
        )));
    }
    let per = (VALUES_PER_STATEMENT / cols.len()).max(1);
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    let mut batch: Vec<Vec<serde_json::Value>> = Vec::with_capacity(per);
    let mut count = 0u64;
    let mut line_no = 1u64;
    loop {
        let next = lines.next();
        if let Some(line) = &next {
            line_no += 1;
            let line = line
                .as_ref()
                .map_err(|e| invalid(format!("{}：{e}", entry.file)))?;
            let row: Vec<serde_json::Value> = serde_json::from_str(line)
                .map_err(|e| invalid(format!("{} 第 {line_no} 行无法读取：{e}", entry.file)))?;
            if row.len() != cols.len() {
                return Err(invalid(format!("{} 第 {line_no} 行的列数不对", entry.file)));
            }
            batch.push(positions.iter().map(|&p| row[p].clone()).collect());
            count += 1;
        }
        if batch.len() == per || (next.is_none() && !batch.is_empty()) {
            insert_rows(tx, &entry.name, &names, &cols, &batch)
                .await
                .map_err(|e| match e {
                    StoreError::Invalid(m) => invalid(format!("{}：{m}", entry.file)),
                    other => other,
                })?;
            batch.clear();
        }
        if next.is_none() {
            break;
        }
    }
    if count != entry.rows {
        return Err(invalid(format!(
            "表 {} 应有 {} 行，备份文件中有 {count} 行",
            entry.name, entry.rows
        )));
    }
    Ok(())
}

async fn insert_rows(
    tx: &mut Tx,
    table: &str,
    names: &[&str],
    cols: &[(String, Kind)],
    rows: &[Vec<serde_json::Value>],
) -> Result<()> {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    let mut n = 0;
    for (r, _) in rows.iter().enumerate() {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&format!("${n}"));
        }
        sql.push(')');
    }
    macro_rules! bind_all {
        ($c:expr) => {{
            // Not kept as a prepared statement: a one-row batch can have the very text of a
            // statement the application prepares (fact_spans' INSERT), and PostgreSQL would then
            // be sent this batch's BIGINT where the cached statement expects INTEGER, or the
            // reverse ("insufficient data left in message") on the next write.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).persistent(false);
            for row in rows {
                for (v, (name, kind)) in row.iter().zip(cols) {
                    let bad = || invalid(format!("列 {name} 的值 {v} 不是应有的类型"));
                    q = match (kind, v) {
                        (Kind::Int, serde_json::Value::Null) => q.bind(None::<i64>),
                        (Kind::Int, v) => q.bind(v.as_i64().ok_or_else(bad)?),
                        (Kind::Bool, serde_json::Value::Null) => q.bind(None::<bool>),
                        (Kind::Bool, serde_json::Value::Number(x)) => {
                            q.bind(x.as_i64().ok_or_else(bad)? != 0)
                        }
                        (Kind::Bool, v) => q.bind(v.as_bool().ok_or_else(bad)?),
                        (Kind::Date, serde_json::Value::Null) => q.bind(None::<NaiveDate>),
                        (Kind::Date, v) => q.bind(
                            v.as_str()
                                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                                .ok_or_else(bad)?,
                        ),
                        (Kind::Real, serde_json::Value::Null) => q.bind(None::<f64>),
                        (Kind::Real, v) => q.bind(v.as_f64().ok_or_else(bad)?),
                        (Kind::Text, serde_json::Value::Null) => q.bind(None::<String>),
                        (Kind::Text, v) => q.bind(v.as_str().ok_or_else(bad)?.to_string()),
                    };
                }
            }
            q.execute($c).await?;
        }};
    }
    match tx {
        Tx::Sqlite(t) => bind_all!(&mut **t),
        Tx::Postgres(t) => bind_all!(&mut **t),
    }
    Ok(())
}

/// Copies the evidence files under `from` (content-addressed; uploads in progress under
/// `incoming/` left out) into `dir/evidence`, skipping files already there with the same size,
/// or hard-linking them from `previous` (an earlier backup) when it has them: backups after the
/// first copy only new evidence.
pub fn copy_evidence(from: &Path, dir: &Path, previous: Option<&Path>) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    if !from.exists() {
        return Ok(out);
    }
    let mut stack = vec![from.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| io(&d, e))?;
        for item in rd {
            let item = item.map_err(|e| io(&d, e))?;
            let path = item.path();
            let rel = path.strip_prefix(from).expect("under the root");
            // Uploads still being checked or written are not evidence yet.
            let name = item.file_name().to_string_lossy().into_owned();
            if rel.starts_with("incoming")
                || name.starts_with("incoming")
                || name.ends_with(".tmp")
                || name.ends_with(".part")
            {
                continue;
            }
            let ft = item.file_type().map_err(|e| io(&path, e))?;
            if ft.is_dir() {
                stack.push(path);
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let rel_s = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let target = dir.join("evidence").join(rel);
            let size = item.metadata().map_err(|e| io(&path, e))?.len();
            let present = std::fs::metadata(&target).is_ok_and(|m| m.len() == size);
            if !present {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                }
                let linked = previous
                    .map(|p| p.join("evidence").join(rel))
                    .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == size))
                    .is_some_and(|p| std::fs::hard_link(&p, &target).is_ok());
                if !linked {
                    let tmp = target.with_extension("part");
                    std::fs::copy(&path, &tmp).map_err(|e| io(&path, e))?;
                    std::fs::rename(&tmp, &target).map_err(|e| io(&target, e))?;
                }
            }
            let (sha256, bytes) = hash_file(&target)?;
            out.push(FileEntry {
                path: format!("evidence/{rel_s}"),
                sha256,
                bytes,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Writes the manifest last and atomically: a directory without `manifest.json` holds no
/// finished backup.
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = dir.join("manifest.json");
    let tmp = dir.join("manifest.json.tmp");
    let json = serde_json::to_vec_pretty(m).map_err(|e| invalid(e.to_string()))?;
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(&json).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
}

/// Reads a backup's manifest and checks every file it lists against its size and SHA-256.
/// Returns the manifest, or what is wrong (missing, changed or truncated files named).
pub fn verify(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("{} 无法读取：{e}", path.display())))?;
    if m.format != FORMAT {
        return Err(invalid(format!("不是本程序的备份格式（{}）", m.format)));
    }
    let mut problems = Vec::new();
    let files = m
        .tables
        .iter()
        .map(|t| (t.file.as_str(), t.sha256.as_str(), t.bytes))
        .chain(
            m.evidence
                .iter()
                .map(|f| (f.path.as_str(), f.sha256.as_str(), f.bytes)),
        );
    for (rel, sha, bytes) in files {
        if rel.contains("..") || rel.starts_with('/') {
            problems.push(format!("{rel}：路径无效"));
            continue;
        }
        match hash_file(&dir.join(rel)) {
            Ok((s, n)) if s == sha && n == bytes => {}
            Ok(_) => problems.push(format!("{rel}：内容与清单不符（已被改动或损坏）")),
            Err(_) => problems.push(format!("{rel}：文件缺失或无法读取")),
        }
    }
    if problems.is_empty() {
        Ok(m)
    } else {
        Err(invalid(format!(
            "备份 {} 有 {} 个文件不符：\n{}",
            dir.display(),
            problems.len(),
            problems.join("\n")
        )))
    }
}

/// Copies a verified backup's evidence files into `to` (the data directory's evidence store).
pub fn restore_evidence(dir: &Path, m: &Manifest, to: &Path) -> Result<usize> {
    let mut n = 0;
    for f in &m.evidence {
        let rel = f.path.strip_prefix("evidence/").unwrap_or(&f.path);
        let target = to.join(rel);
        if std::fs::metadata(&target).is_ok_and(|x| x.len() == f.bytes) {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::copy(dir.join(&f.path), &target).map_err(|e| io(&target, e))?;
        n += 1;
    }
    Ok(n)
}

/// The settings key of the backup schedule.
pub const SCHEDULE_KEY: &str = "backup.schedule";
/// The settings key of the last scheduled or manual backup's outcome.
pub const LAST_KEY: &str = "backup.last";

/// When `anju serve` backs up by itself. The directory is the server's (`--backup-dir`), never
/// typed in a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub enabled: bool,
    /// Time of day in Beijing, `HH:MM`.
    pub time: String,
    /// How many backups to keep; older ones are removed after a good new one.
    pub keep: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            enabled: true,
            time: "02:30".into(),
            keep: 7,
        }
    }
}

impl Schedule {
    /// The time of day, if well formed.
    pub fn time_of_day(&self) -> Option<chrono::NaiveTime> {
        chrono::NaiveTime::parse_from_str(&self.time, "%H:%M").ok()
    }

    /// Whether a backup is due at `now`: the time of day has passed in Beijing today and the
    /// last attempt was before it.
    pub fn due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        last: Option<chrono::DateTime<chrono::Utc>>,
    ) -> bool {
        let Some(t) = self.time_of_day().filter(|_| self.enabled) else {
            return false;
        };
        let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
        let local = now.with_timezone(&beijing);
        let Some(slot) = local
            .date_naive()
            .and_time(t)
            .and_local_timezone(beijing)
            .single()
        else {
            return false;
        };
        local >= slot && last.is_none_or(|l| l < slot)
    }
}

/// What the last backup did, shown on 设置 and behind the dashboard's warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastBackup {
    /// When it ran (RFC 3339).
    pub at: String,
    pub ok: bool,
    /// Where it went, or what went wrong.
    pub detail: String,
    pub bytes: u64,
    pub houses: u64,
    /// The last good one, when this one failed.
    pub last_good: Option<String>,
}

impl LastBackup {
    /// The time of the last good backup.
    pub fn good_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let s = if self.ok {
            Some(&self.at)
        } else {
            self.last_good.as_ref()
        }?;
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc))
    }
}

/// The county office is warned when the last good backup is older than this (or there is none).
pub const STALE_AFTER: chrono::Duration = chrono::Duration::days(2);

impl Store {
    pub async fn backup_schedule(&self) -> Result<Schedule> {
        Ok(match self.setting(SCHEDULE_KEY).await? {
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| StoreError::Corrupt(format!("backup schedule: {e}")))?,
            None => Schedule::default(),
        })
    }

    /// Changes the schedule (county office), audited with the old and new values.
    pub async fn set_backup_schedule(
        &self,
        by: &anju_domain::auth::Principal,
        new: &Schedule,
        source: &str,
    ) -> crate::accounts::AuthResult<()> {
        crate::campaign::settings::require_county_wide(by)?;
        if new.time_of_day().is_none() {
            return Err(crate::AuthError::Invalid(format!(
                "备份时间“{}”无效，应为 00:00 至 23:59（北京时间）",
                new.time
            )));
        }
        if !(1..=365).contains(&new.keep) {
            return Err(crate::AuthError::Invalid("保留份数须为 1 至 365".into()));
        }
        let old = self.backup_schedule().await?;
        let detail = serde_json::json!({ "old": old, "new": new });
        let e = crate::accounts::admin(self.now(), by, source).entry(
            "setting.backup",
            SCHEDULE_KEY,
            detail,
        );
        let value = serde_json::to_string(new).expect("serializes");
        self.put_setting(SCHEDULE_KEY, &value, &e).await?;
        Ok(())
    }

    pub async fn last_backup(&self) -> Result<Option<LastBackup>> {
        Ok(match self.setting(LAST_KEY).await? {
            Some(v) => Some(
                serde_json::from_str(&v)
                    .map_err(|e| StoreError::Corrupt(format!("last backup: {e}")))?,
            ),
            None => None,
        })
    }

    /// Records a backup's outcome with its audit row (by the system).
    pub async fn record_backup(&self, mut last: LastBackup) -> Result<()> {
        if !last.ok {
            last.last_good = self
                .last_backup()
                .await?
                .and_then(|l| l.good_at())
                .map(|t| t.to_rfc3339());
        }
        let object: String = last.detail.chars().take(200).collect();
        let e = crate::infra::audit::AuditEntry::ok(
            self.now(),
            "system",
            "system",
            "serve",
            "backup",
            &object,
        )
        .with_outcome(if last.ok {
            crate::infra::audit::Outcome::Ok
        } else {
            crate::infra::audit::Outcome::Error
        })
        .with_detail(serde_json::json!({ "bytes": last.bytes, "houses": last.houses }));
        let value = serde_json::to_string(&last).expect("serializes");
        self.put_setting(LAST_KEY, &value, &e).await
    }

    /// The warning for the county office's dashboard, if the last good backup is stale.
    pub async fn backup_warning(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>> {
        let last = self.last_backup().await?;
        Ok(match last.as_ref().and_then(LastBackup::good_at) {
            None => Some("系统尚未成功备份过：请在“设置 → 自动备份”中开启每日备份，或在服务器上运行 anju backup".into()),
            Some(t) if now - t > STALE_AFTER => Some(format!(
                "最近一次成功备份是 {} 天前（{}）：请检查“设置 → 自动备份”和服务器磁盘",
                (now - t).num_days(),
                anju_domain::rules::beijing_date(t)
            )),
            Some(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(d: u32, h: u32, m: u32) -> chrono::DateTime<chrono::Utc> {
        // Beijing 02:30 is 18:30 UTC the day before.
        chrono::Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
    }

    #[test]
    fn a_backup_is_due_once_a_day_after_its_time_in_beijing() {
        let s = Schedule::default(); // 02:30 Beijing
        assert!(!s.due(utc(29, 18, 29), None), "before 02:30 Beijing");
        assert!(s.due(utc(29, 18, 30), None));
        assert!(
            s.due(utc(30, 3, 0), Some(utc(28, 18, 31))),
            "yesterday's was before today's slot"
        );
        assert!(!s.due(utc(30, 3, 0), Some(utc(29, 18, 31))), "today's done");
        let off = Schedule {
            enabled: false,
            ..Schedule::default()
        };
        assert!(!off.due(utc(30, 3, 0), None));
        let bad = Schedule {
            time: "25:00".into(),
            ..Schedule::default()
        };
        assert!(!bad.due(utc(30, 3, 0), None));
    }
}
