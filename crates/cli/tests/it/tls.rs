//! `anju serve --tls-cert --tls-key`: HTTPS without a proxy, as a browser meets it — a
//! self-signed certificate made here, the real binary serving it, a client that trusts it.

use crate::common::{Running, anju_in, assert_shut_down, init_wenshang, slow_app};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// `serve` with `args`: the server and the port it printed.
pub(crate) fn start(data: &Path, args: &[&str]) -> (Running, u16) {
    let child = anju_in(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let out = BufReader::new(server.0.stdout.take().unwrap());
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("安居已启动：https://127.0.0.1:") {
            let port = rest.trim_end_matches('/').parse().unwrap();
            return (server, port);
        }
    }
    panic!("the server ended without saying where it listens");
}

/// One HTTP/1.1 request on its own connection: what came back, up to the close.
async fn exchange(stream: &mut (impl AsyncReadExt + AsyncWriteExt + Unpin), path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await;
    String::from_utf8_lossy(&got).into_owned()
}

async fn https_connect(
    port: u16,
    trusted: &CertificateDer<'static>,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the trusted certificate")
}

async fn https_get(port: u16, trusted: &CertificateDer<'static>, path: &str) -> String {
    exchange(&mut https_connect(port, trusted).await, path).await
}

/// A self-signed certificate for localhost in `dir`: its file names and the certificate.
fn certificate(dir: &Path) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("证书.pem"), dir.join("私钥.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key, made.cert.der().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_https_with_the_given_certificate_and_refuses_bad_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("county");
    init_wenshang(&data);

    let (cert, key, trusted) = certificate(dir.path());
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());

    let (_server, port) = start(&data, &["--tls-cert", c, "--tls-key", k]);
    let health = https_get(port, &trusted, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok"), "{health}");
    // The session's cookies are Secure without --secure-cookies.
    let login = https_get(port, &trusted, "/login").await;
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    let cookies: Vec<&str> = login
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .collect();
    assert!(!cookies.is_empty(), "{login}");
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );

    // Plain HTTP on the HTTPS port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let got = exchange(&mut plain, "/healthz").await;
    assert!(!got.contains("HTTP/1.1"), "{got}");

    // Refusals, each naming what is wrong, and no server started.
    let refused = |args: &[&str]| {
        let out = anju_in(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused(&["--tls-cert", c]);
    assert!(err.contains("还需要 --tls-key"), "{err}");
    let err = refused(&["--tls-key", k]);
    assert!(err.contains("还需要 --tls-cert"), "{err}");
    let missing = dir.path().join("无此文件.pem");
    let err = refused(&["--tls-cert", missing.to_str().unwrap(), "--tls-key", k]);
    assert!(
        err.contains("无法读取证书文件") && err.contains("无此文件.pem：文件不存在"),
        "{err}"
    );
    let garbage = dir.path().join("乱码.pem");
    std::fs::write(&garbage, "这不是证书\n").unwrap();
    let err = refused(&["--tls-cert", garbage.to_str().unwrap(), "--tls-key", k]);
    assert!(
        err.contains("证书文件") && err.contains("乱码.pem"),
        "{err}"
    );
    let err = refused(&["--tls-cert", c, "--tls-key", garbage.to_str().unwrap()]);
    assert!(
        err.contains("私钥文件") && err.contains("乱码.pem"),
        "{err}"
    );
    // A key that is not the certificate's.
    let other = dir.path().join("别的私钥.pem");
    let stranger = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&other, stranger.serialize_pem()).unwrap();
    let err = refused(&["--tls-cert", c, "--tls-key", other.to_str().unwrap()]);
    assert!(
        err.contains("不匹配") && err.contains("别的私钥.pem"),
        "{err}"
    );
}

/// Over TLS the server keeps its limits: a client that never finishes its handshake is let go
/// after the header-read limit, and shutdown lets a request in flight finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_keeps_the_header_limit_and_graceful_shutdown() {
    use anju::serve::{ServerLimits, run_tls_server, tls_acceptor};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, trusted) = certificate(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = ServerLimits {
        header_read: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let server = tokio::spawn(run_tls_server(
        listener,
        slow_app(),
        limits,
        tls_acceptor(&cert, &key).unwrap(),
        async {
            let _ = stopped.await;
        },
    ));

    // Connected, and silent: closed within the limit (plus slack), not held.
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut got = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut got)).await;
    assert!(closed.is_ok(), "a silent client's connection stays open");

    let mut tls = https_connect(port, &trusted).await;
    tls.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.ends_with("done"),
        "{text}"
    );
    assert_shut_down(server, addr).await;
}
