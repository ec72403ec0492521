//! Configuration shared by every subcommand: where the data lives and which database to use.

use anju_store::Store;
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

    /// Opens the store, creating the data directory for an embedded database.
    pub async fn open(&self) -> anyhow::Result<Store> {
        let url = self.url();
        if url.starts_with("sqlite:") {
            std::fs::create_dir_all(&self.data_dir)
                .with_context(|| format!("无法创建数据目录 {}", self.data_dir.display()))?;
        }
        Store::open(&url)
            .await
            .with_context(|| format!("无法打开数据库 {}", anju_store::db::redact(&url)))
    }
}
