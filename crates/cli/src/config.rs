//! Configuration shared by every subcommand: where the data lives and which database to use.

use anju_store::{Store, Vault};
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Clone)]
pub struct Config {
    /// Data directory: the SQLite file and evidence files live here.
    #[arg(long, global = true, env = "ANJU_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`; default: `sqlite://DATA_DIR/anju.db`.
    #[arg(long, global = true, env = "ANJU_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directories with the Chinese fonts PDFs are typeset in (default: Debian's Noto CJK and
    /// WenQuanYi directories).
    #[arg(
        long = "font-dir",
        global = true,
        env = "ANJU_FONT_DIRS",
        value_delimiter = ':'
    )]
    pub font_dirs: Vec<PathBuf>,
    /// The key file personal data is sealed with (default: `DATA_DIR/keys.json`; keep it on
    /// another volume than the database and its backups). `ANJU_KEYS` may hold its content.
    #[arg(long, global = true, env = "ANJU_KEY_FILE")]
    pub key_file: Option<PathBuf>,
}

impl Config {
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("anju.db").display()))
    }

    pub fn font_dirs(&self) -> Vec<PathBuf> {
        if self.font_dirs.is_empty() {
            anju_pdf::default_font_dirs()
        } else {
            self.font_dirs.clone()
        }
    }

    pub fn key_path(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys.json"))
    }

    /// The key set: from `ANJU_KEYS`, else from the key file. `Ok(None)` when neither exists.
    pub fn load_vault(&self) -> anyhow::Result<Option<Vault>> {
        if let Ok(json) = std::env::var("ANJU_KEYS") {
            return Ok(Some(
                Vault::from_json(&json).context("环境变量 ANJU_KEYS 中的密钥无法读取")?,
            ));
        }
        let path = self.key_path();
        match std::fs::read_to_string(&path) {
            Ok(s) => {
                Ok(Some(Vault::from_json(&s).with_context(|| {
                    format!("密钥文件 {} 无法读取", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("无法读取密钥文件 {}", path.display())),
        }
    }

    /// Writes a key file readable by its owner only, atomically (temporary file, then rename).
    pub fn write_vault(&self, vault: &Vault) -> anyhow::Result<()> {
        let path = self.key_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("无法创建目录 {}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut f = create_private(&tmp)
                .with_context(|| format!("无法写入密钥文件 {}", tmp.display()))?;
            f.write_all(vault.to_json().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("无法写入密钥文件 {}", path.display()))?;
        Ok(())
    }

    /// Opens the store, creating the data directory for an embedded database. Without a key
    /// set, a new one is generated and written first; if the database already holds data
    /// sealed under other keys, the new file is removed again and the error names the cause.
    pub async fn open(&self) -> anyhow::Result<Store> {
        let url = self.url();
        if url.starts_with("sqlite:") {
            std::fs::create_dir_all(&self.data_dir)
                .with_context(|| format!("无法创建数据目录 {}", self.data_dir.display()))?;
        }
        let (vault, created) = match self.load_vault()? {
            Some(v) => (v, false),
            None => {
                let v = Vault::generate();
                self.write_vault(&v)?;
                eprintln!(
                    "已生成个人信息加密密钥文件 {}（请妥善备份，与数据库分开保存）",
                    self.key_path().display()
                );
                (v, true)
            }
        };
        match Store::open(&url, vault).await {
            Ok(s) => Ok(s),
            Err(e) => {
                if created && matches!(e, anju_store::StoreError::Vault(_)) {
                    let _ = std::fs::remove_file(self.key_path());
                }
                Err(e).with_context(|| {
                    format!("无法打开数据库 {}", anju_store::infra::db::redact(&url))
                })
            }
        }
    }
}

/// Creates (or empties) a file only its owner may read or write (mode 0600 on Unix): key
/// files and passwords.
pub(crate) fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path)
}

/// Who a command acts as: the account named by `--user` (its scope and permissions apply), or
/// the system, county-wide.
pub async fn acting_as(
    store: &Store,
    user: Option<String>,
) -> anyhow::Result<anju_domain::auth::Principal> {
    Ok(match user {
        Some(u) => store
            .account(&u)
            .await
            .map_err(|_| anyhow::anyhow!("账号 {u} 不存在"))?
            .principal(),
        None => anju_domain::auth::Principal::system(),
    })
}
