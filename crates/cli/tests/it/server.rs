//! The server as a client meets it: slow or idle connections closed after the header-read
//! limit, graceful shutdown (requests in flight finish, new connections refused), compressed
//! pages and assets, a request id on every response, and `/readyz`.

use crate::common::{assert_shut_down, slow_app};
use anju::serve::{ServerLimits, run_server};
use axum::routing::get;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(
    app: axum::Router,
    limits: ServerLimits,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run_server(listener, app, limits, async {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

/// Reads until the peer closes the connection (or `limit` passes): the bytes read.
async fn read_to_close(s: &mut tokio::net::TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    tokio::time::timeout(limit, s.read_to_end(&mut out))
        .await
        .ok()
        .map(|_| out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_idle_client_is_disconnected_after_the_header_limit() {
    let limits = ServerLimits {
        header_read: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let app = axum::Router::new().route("/", get(|| async { "ok" }));
    let (addr, _stop, _server) = start(app, limits).await;
    // Half a request line, then nothing: closed within the limit (plus slack), not held.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        read_to_close(&mut slow, Duration::from_secs(5))
            .await
            .is_some(),
        "a slow client's connection stays open"
    );
    // A kept-alive connection that sends nothing more is closed too.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut idle, Duration::from_secs(5)).await;
    let got = got.expect("an idle keep-alive connection stays open");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish_and_refuses_new_ones() {
    let (addr, stop, server) = start(slow_app(), ServerLimits::default()).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    let got = read_to_close(&mut s, Duration::from_secs(5)).await.unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.ends_with("done"),
        "{text}"
    );
    assert_shut_down(server, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_assets_are_compressed_and_every_response_has_a_request_id() {
    let db = anju_store::testing::sqlite().await;
    let app = anju_web::router(
        anju_web::AppState::new(db.store.clone(), anju_web::WebOptions::default()).unwrap(),
    );
    let (addr, _stop, _server) = start(app, ServerLimits::default()).await;
    let fetch = |path: &'static str, enc: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {enc}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let got = read_to_close(&mut s, Duration::from_secs(10))
            .await
            .unwrap();
        let split = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (
            String::from_utf8_lossy(&got[..split]).to_ascii_lowercase(),
            got.len() - split - 4,
        )
    };
    let (head, plain) = fetch("/static/echarts.min.js", "identity").await;
    assert!(!head.contains("content-encoding"), "{head}");
    let (head, gz) = fetch("/static/echarts.min.js", "gzip").await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(gz * 3 < plain, "gzip {gz} of {plain} bytes");
    let (head, br) = fetch("/static/echarts.min.js", "br").await;
    assert!(head.contains("content-encoding: br"), "{head}");
    assert!(br < gz, "br {br}, gzip {gz}");
    let (head, _) = fetch("/login", "gzip").await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("x-request-id: "), "{head}");
    let (head, _) = fetch("/readyz", "identity").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
}
