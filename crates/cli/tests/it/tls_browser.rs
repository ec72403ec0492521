//! `anju serve --tls-cert --tls-key` as Chromium meets it: a certificate for a name that is not
//! localhost (so only HTTPS makes the page a secure context), made here and trusted by
//! Chromium through its key's hash, the real binary serving it — and the service worker
//! registers there and keeps the app shell (issue 19, item 5).
//!
//! Chromium is driven through chromedriver's WebDriver protocol, spoken here over plain HTTP
//! (no client library). `ANJU_BROWSER_TESTS=skip` skips it on a machine without Chromium.

use super::tls::start;
use crate::common::{Running, init_wenshang};
use sha2::{Digest, Sha256};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One WebDriver command: the JSON answer's `value`.
async fn webdriver(
    port: u16,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let body = body.to_string();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    // Read up to the end of the body its Content-Length names (chromedriver may keep the
    // connection open).
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 8192];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if n == 0 {
                break;
            }
            if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                let len = head.lines().find_map(|l| {
                    let l = l.to_ascii_lowercase();
                    l.strip_prefix("content-length:")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                });
                if len.is_some_and(|len| rest.len() >= len) {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(90), read)
        .await
        .expect("chromedriver answered");
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let json = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        rest.to_string()
    };
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {text}"));
    v["value"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_with_a_trusted_certificate_the_service_worker_registers() {
    if std::env::var("ANJU_BROWSER_TESTS").as_deref() == Ok("skip") {
        eprintln!("browser tests skipped (ANJU_BROWSER_TESTS=skip)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("county");
    init_wenshang(&data);
    // The county's name for the server: not localhost, so a secure context only over HTTPS.
    let made = rcgen::generate_simple_self_signed(vec!["anju.test".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let spki = {
        use rcgen::PublicKeyData;
        base64(&Sha256::digest(made.signing_key.subject_public_key_info()))
    };
    let (_server, port) = start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );

    let driver_port = free_port();
    let bin = std::env::var("ANJU_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let _driver = Running(
        Command::new(&bin)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} is required for the browser tests: {e}")),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", driver_port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let chrome = std::env::var("ANJU_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let session = webdriver(
        driver_port,
        "POST",
        "/session",
        serde_json::json!({ "capabilities": { "alwaysMatch": {
            "goog:chromeOptions": { "binary": chrome, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP anju.test 127.0.0.1",
                // Trust this one certificate (by its key), nothing else.
                format!("--ignore-certificate-errors-spki-list={spki}"),
            ]},
            "timeouts": { "script": 30000 },
        }}}),
    )
    .await;
    let id = session["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("a Chromium session: {session}"))
        .to_string();
    let s = format!("/session/{id}");
    let base = format!("https://anju.test:{port}");
    webdriver(
        driver_port,
        "POST",
        &format!("{s}/url"),
        serde_json::json!({ "url": format!("{base}/login") }),
    )
    .await;
    let title = webdriver(
        driver_port,
        "GET",
        &format!("{s}/title"),
        serde_json::json!({}),
    )
    .await;
    assert!(
        title.as_str().unwrap_or("").contains("自建房安全专项整治"),
        "the login page over HTTPS: {title}"
    );
    let script = r#"
        var done = arguments[arguments.length - 1];
        if (!window.isSecureContext) { done("not a secure context"); return; }
        if (!navigator.serviceWorker) { done("no service worker support"); return; }
        navigator.serviceWorker.register("/sw.js");
        navigator.serviceWorker.ready.then(function (reg) {
          var w = reg.active;
          return new Promise(function (ok) {
            if (w.state === "activated") { ok(); return; }
            w.addEventListener("statechange", function () { if (w.state === "activated") { ok(); } });
          }).then(function () { return caches.keys(); }).then(function (keys) {
            done({ scope: reg.scope, script: reg.active && reg.active.scriptURL,
                   state: reg.active && reg.active.state, caches: keys,
                   protocol: location.protocol });
          });
        }, function (e) { done("refused: " + e); });
    "#;
    let got = webdriver(
        driver_port,
        "POST",
        &format!("{s}/execute/async"),
        serde_json::json!({ "script": script, "args": [] }),
    )
    .await;
    let _ = webdriver(driver_port, "DELETE", &s, serde_json::json!({})).await;
    assert_eq!(got["protocol"], "https:", "{got}");
    assert_eq!(got["scope"], format!("{base}/"), "{got}");
    assert_eq!(got["script"], format!("{base}/sw.js"), "{got}");
    assert_eq!(got["state"], "activated", "{got}");
    let caches: Vec<&str> = got["caches"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        caches.iter().any(|c| c.starts_with("anju-shell-")),
        "the shell is kept: {caches:?}"
    );
}
