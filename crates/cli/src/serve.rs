//! `anju serve`: the web application (crate `anju-web`). On first start with an empty
//! database, creates the county office's administrator with a one-time password and prints it.

use crate::config::Config;
use anju_store::Store;
use anju_web::{AppState, WebOptions};
use anyhow::Context;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ANJU_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Mark the session cookie Secure (set this when a proxy serves Anju over HTTPS).
    #[arg(long, env = "ANJU_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// The address plaques' QR codes point at, e.g. https://anju.example.gov.cn (default: the
    /// address each request came in on).
    #[arg(long, env = "ANJU_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where scheduled backups go (default: DATA_DIR/backups; best on another disk). Time of day
    /// and how many to keep are set on 设置 → 自动备份.
    #[arg(long, env = "ANJU_BACKUP_DIR")]
    pub backup_dir: Option<std::path::PathBuf>,
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
    let app = router(store.clone(), args, config)?;
    let backups = args
        .backup_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("backups"));
    std::fs::create_dir_all(&backups)
        .with_context(|| format!("无法创建备份目录 {}", backups.display()))?;
    let scheduler = tokio::spawn(crate::backup::scheduler(
        store.clone(),
        config.data_dir.join("evidence"),
        backups,
    ));
    run_server(listener, app, ServerLimits::default(), shutdown_signal()).await?;
    scheduler.abort();
    store.db.close().await;
    println!("安居已停止");
    Ok(())
}

/// The server's time limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may sit idle before its next request: slow or idle clients do not hold
    /// connections (and memory) for ever.
    pub header_read: Duration,
    /// How long requests in flight may take to finish once shutdown began.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` (HTTP/1.1 with keep-alive) until `shutdown` resolves, then stops
/// accepting, lets the requests in flight finish (up to the grace period) and returns.
pub async fn run_server(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ServerLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo::<SocketAddr>(addr));
                tower::ServiceExt::oneshot(app.clone(), req)
            });
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still running after the grace period; stopping anyway");
        }
    }
    Ok(())
}

/// SIGTERM (systemd stopping the service) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
