//! `anju serve`: the web application (crate `anju-web`). On first start with an empty
//! database, creates the county office's administrator with a one-time password and prints it.
//! Plain HTTP (behind a proxy that terminates HTTPS), or HTTPS itself with `--tls-cert` and
//! `--tls-key` (rustls).

use crate::config::Config;
use anju_store::Store;
use anju_web::{AppState, WebOptions};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

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
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key; session cookies become
    /// Secure). Without both, plain HTTP.
    #[arg(long, env = "ANJU_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "ANJU_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

impl ServeArgs {
    /// The certificate and key files, when HTTPS is asked for: both or neither.
    pub fn tls_files(&self) -> anyhow::Result<Option<(&Path, &Path)>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            (Some(_), None) => anyhow::bail!(
                "只给了 --tls-cert（证书），还需要 --tls-key（私钥）：启用 HTTPS 须同时提供两者"
            ),
            (None, Some(_)) => anyhow::bail!(
                "只给了 --tls-key（私钥），还需要 --tls-cert（证书）：启用 HTTPS 须同时提供两者"
            ),
        }
    }

    /// The HTTPS server of `--tls-cert`/`--tls-key`, if given; an error if they are unusable.
    pub fn tls(&self) -> anyhow::Result<Option<TlsAcceptor>> {
        match self.tls_files()? {
            Some((cert, key)) => tls_acceptor(cert, key).map(Some),
            None => Ok(None),
        }
    }

    /// Session cookies are Secure behind an HTTPS proxy (`--secure-cookies`) and with built-in
    /// HTTPS.
    fn secure(&self) -> bool {
        self.secure_cookies || self.tls_cert.is_some()
    }
}

/// The rustls server of `--tls-cert`/`--tls-key`, or a Chinese message naming the file that
/// cannot be used.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "文件不存在".to_string(),
                std::io::ErrorKind::PermissionDenied => "没有读取权限".to_string(),
                std::io::ErrorKind::IsADirectory => "这是一个目录".to_string(),
                _ => e.to_string(),
            };
            anyhow::anyhow!("无法读取{what}文件 {}：{why}", path.display())
        })
    };
    let pem = read(cert, "证书")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("证书文件 {} 不是有效的 PEM 格式：{e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!(
            "证书文件 {} 中没有证书（应为 PEM 格式，以 -----BEGIN CERTIFICATE----- 开头）",
            cert.display()
        );
    }
    let pem = read(key, "私钥")?;
    let private = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => anyhow::anyhow!(
            "私钥文件 {} 中没有私钥（应为 PEM 格式，以 -----BEGIN PRIVATE KEY----- 等开头）",
            key.display()
        ),
        e => anyhow::anyhow!("私钥文件 {} 不是有效的 PEM 格式：{e}", key.display()),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS 初始化失败")?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            anyhow::anyhow!(
                "证书文件 {} 与私钥文件 {} 无法使用（证书无效、私钥无效或两者不匹配）：{e}",
                cert.display(),
                key.display()
            )
        })?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

pub async fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    // Unusable TLS flags or files are said before anything else happens (and before the first
    // administrator's one-time password is printed by a start that then fails).
    let tls = args.tls()?;
    let store = config.open().await?;
    bootstrap(&store).await?;
    serve_with(store, &args, config, tls).await
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
            secure_cookies: args.secure(),
            font_dirs: config.font_dirs(),
            evidence_dir: Some(evidence_dir.clone()),
            public_url: args.public_url.clone(),
        },
    )
    .with_context(|| format!("无法创建证据材料目录 {}", evidence_dir.display()))?;
    Ok(anju_web::router(state))
}

pub async fn serve(store: Store, args: &ServeArgs, config: &Config) -> anyhow::Result<()> {
    let tls = args.tls()?;
    serve_with(store, args, config, tls).await
}

async fn serve_with(
    store: Store,
    args: &ServeArgs,
    config: &Config,
    tls: Option<TlsAcceptor>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("无法监听 {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("安居已启动：{scheme}://{}/", listener.local_addr()?);
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
    match tls {
        Some(tls) => {
            run_tls_server(
                listener,
                app,
                ServerLimits::default(),
                tls,
                shutdown_signal(),
            )
            .await?
        }
        None => run_server(listener, app, ServerLimits::default(), shutdown_signal()).await?,
    }
    scheduler.abort();
    store.close().await;
    println!("安居已停止");
    Ok(())
}

/// The server's time limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may sit idle before its next request: slow or idle clients do not hold
    /// connections (and memory) for ever. With HTTPS, also the limit of the TLS handshake.
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
    serve_loop(listener, app, limits, None, shutdown).await
}

/// [`run_server`] over TLS: each connection's handshake first (within the header-read limit),
/// then the same HTTP/1.1 service, limits and graceful shutdown.
pub async fn run_tls_server(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ServerLimits,
    tls: TlsAcceptor,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    serve_loop(listener, app, limits, Some(tls), shutdown).await
}

async fn serve_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ServerLimits,
    tls: Option<TlsAcceptor>,
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
        let Some(tls) = &tls else {
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
            continue;
        };
        // The watcher is taken now: shutdown waits for a handshake under way (bounded by the
        // header-read limit) and then for the request that follows it.
        let watcher = graceful.watcher();
        let (tls, builder) = (tls.clone(), builder.clone());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(limits.header_read, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, %addr, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%addr, "TLS handshake timed out");
                    return;
                }
            };
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
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
