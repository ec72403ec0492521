//! `anju serve`: the web application (crate `anju-web`). On first start with an empty
//! database, creates the county office's administrator with a one-time password and prints it.

use crate::config::Config;
use anju_store::Store;
use anju_web::{AppState, WebOptions};
use anyhow::Context;
use std::net::SocketAddr;

#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Mark the session cookie Secure (set this when a proxy serves Anju over HTTPS).
    #[arg(long, env = "ANJU_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// The address plaques' QR codes point at, e.g. https://anju.example.gov.cn (default: the
    /// address each request came in on).
    #[arg(long, env = "ANJU_PUBLIC_URL")]
    pub public_url: Option<String>,
}

pub async fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    let store = config.open().await?;
    bootstrap(&store).await?;
    serve(store, &args, config).await
}

/// The first account of an empty database, printed once.
pub async fn bootstrap(store: &Store) -> anyhow::Result<()> {
    let county = store.county_code()?;
    if let Some((account, otp)) = store.bootstrap_admin(county).await? {
        println!(
            "已创建首个管理员账号：用户名 {}，一次性密码 {otp}（首次登录后须修改）",
            account.username
        );
    }
    Ok(())
}

pub fn router(store: Store, args: &ServeArgs, config: &Config) -> anyhow::Result<axum::Router> {
    let evidence_dir = config.data_dir.join("evidence");
    let state = AppState::new(
        store,
        WebOptions {
            secure_cookies: args.secure_cookies,
            font_dirs: config.font_dirs(),
            evidence_dir: Some(evidence_dir.clone()),
            public_url: args.public_url.clone(),
        },
    )
    .with_context(|| format!("无法创建证据材料目录 {}", evidence_dir.display()))?;
    Ok(anju_web::router(state))
}

pub async fn serve(store: Store, args: &ServeArgs, config: &Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("安居已启动：http://{}/", listener.local_addr()?);
    let app = router(store, args, config)?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
