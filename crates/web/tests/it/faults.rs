//! Faults are answered and recovered from without a restart: SQLite on a full disk (a small
//! tmpfs, mounted by the test — it runs as root here and in CI) refuses writes with a 507 page,
//! and once space is freed the same process writes again on every pooled connection; a
//! PostgreSQL server that goes away (cut behind a local TCP proxy) is answered with a 503 within
//! the pool's acquire bound, `/readyz` says so, and service resumes when it is back. Bad input:
//! NUL characters and oversized fields refused by name on both backends, absurd page numbers.

use crate::common;

use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::http::StatusCode;
use common::{Answer, TestApp, User, get, post};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A tmpfs of `mib` MiB mounted at `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, mib: u32) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "the full-disk test mounts a tmpfs and needs root (CI runs as root)"
        );
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, mib: u32) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Saves one phase deadline as `user`: a page that writes.
async fn save_deadline(app: &TestApp, user: &User, phase: &str) -> Answer {
    let form = [("phase", phase), ("due", "2024-06-30"), ("overdue", "x")];
    app.post_form("/admin/settings/deadlines", user, &form)
        .await
}

/// Sends a GET without a session cookie.
async fn anonymous(app: &TestApp, path: &str) -> Answer {
    app.send(get(path, "")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_answered_507_and_writes_resume_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = Tmpfs::mount(&dir.path().join("disk"), 4);
    let url = format!("sqlite://{}", mnt.0.join("anju.db").display());
    let store = Store::open(&url, test_vault()).await.unwrap();
    store.init_county(test_county(), "test").await.unwrap();
    let app = TestApp::new(&store);
    let county = app.user("co", Role::CountyOffice, "370829").await;

    // Fill the disk through the store until a commit fails, with ever smaller values, so that
    // not even a small write fits.
    let mut failed = None;
    let mut i = 0;
    for size in [200_000, 20_000, 1_000, 50] {
        let value = "满".repeat(size);
        loop {
            i += 1;
            let entry = anju_store::infra::audit::AuditEntry {
                at: store.now(),
                actor_id: "test".into(),
                actor_role: "system".into(),
                source: "test".into(),
                action: "fill".into(),
                object: format!("{i}"),
                outcome: anju_store::infra::audit::Outcome::Ok,
                reason: None,
                detail: "{}".into(),
            };
            match store
                .put_setting(&format!("fill.{i}"), &value, &entry)
                .await
            {
                Ok(()) => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            assert!(i < 10_000, "the disk never filled");
        }
    }
    let e = failed.expect("the 4 MiB disk filled up");
    assert_eq!(
        e.unavailable(),
        Some(anju_store::infra::health::Unavailable::DiskFull),
        "{e}"
    );
    // A page that writes is answered 507 with a Chinese page, not a bare 500.
    let res = save_deadline(&app, &county, "满盘测试").await;
    let html = res.text();
    assert_eq!(res.status, StatusCode::INSUFFICIENT_STORAGE, "{html}");
    assert!(
        html.contains("磁盘空间已满") && html.contains("无需重启"),
        "{html}"
    );

    // Space is freed (the tmpfs grows); the same process writes again, on every connection.
    mnt.resize(64);
    for round in 0..12 {
        let res = save_deadline(&app, &county, &format!("恢复后第{round}次")).await;
        assert_eq!(res.status, StatusCode::OK, "round {round}: {}", res.text());
    }
    with_villages(&store).await;
    House::register(&store, 1, VILLAGE, anju_domain::dict::UsageCategory::Other).await;
    assert_eq!(
        anju_store::infra::audit::verify(store.db_for_tests())
            .await
            .unwrap(),
        None
    );
    let res = anonymous(&app, "/readyz").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    store.close().await;
}

/// A TCP proxy to the local PostgreSQL that can be cut (every connection dropped, new ones
/// refused) and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    async fn start(target: &'static str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (u, g) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (u, g) = (u.clone(), g.clone());
                let born = g.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let watch = async {
                        while u.load(Ordering::SeqCst) && g.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watch => {}
                    }
                });
            }
        });
        Proxy {
            port,
            up,
            generation,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_going_away_is_a_fast_503_and_service_resumes_without_a_restart() {
    let db = postgres().await;
    let admin = postgres_admin_url();
    let host = if admin.contains("127.0.0.1:5432") {
        "127.0.0.1:5432"
    } else {
        "localhost:5432"
    };
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let url = db.url.replace(host, &format!("127.0.0.1:{}", proxy.port));
    let keys = anju_store::Vault::from_json(&db.store.vault().to_json()).unwrap();
    let store = Store::open(&url, keys).await.unwrap();
    let app = TestApp::new(&store);
    let clerk = app.user("pg-clerk", Role::TownOperator, "370829101").await;
    assert_eq!(app.get("/houses", &clerk).await.status, StatusCode::OK);

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let res = app.get("/houses", &clerk).await;
    let took = started.elapsed();
    let html = res.text();
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{html}");
    assert!(html.contains("数据库暂时无法连接"), "{html}");
    assert!(
        took <= anju_store::infra::db::ACQUIRE_TIMEOUT + Duration::from_secs(2),
        "answered after {took:?}"
    );
    let res = anonymous(&app, "/readyz").await;
    let body = res.text();
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("数据库"), "{body}");
    let res = anonymous(&app, "/healthz").await;
    assert_eq!(res.status, StatusCode::OK, "the process itself is alive");

    proxy.restore();
    let mut last = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..20 {
        let status = app.get("/houses", &clerk).await.status;
        last = status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last, StatusCode::OK, "service resumed by itself");
    assert_eq!(anonymous(&app, "/readyz").await.status, StatusCode::OK);
    store.close().await;
}

async fn nul_and_oversized_input_is_refused_by_name(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, anju_domain::dict::UsageCategory::Other).await;
    let app = TestApp::new(store);
    let clerk = app.user("nul-clerk", Role::TownOperator, "370829101").await;
    let before = snapshot(store).await;
    // A search with a NUL: a clear refusal, not a database error.
    let html = app.page("/houses?q=%00abc", &clerk).await;
    assert!(html.contains("“搜索”含有不可见的控制字符"), "{html}");
    let res = app.get("/api/v1/houses?q=%00abc", &clerk).await;
    let (status, body) = (res.status, res.text());
    assert!(status.is_client_error(), "{status}: {body}");
    // Page numbers past any list: refused, never an overflow.
    let html = app.page("/houses?page=9223372036854775807", &clerk).await;
    assert!(html.contains("页码无效"), "{html}");
    // A login with a NUL in the name is just a failed login.
    let ok = store
        .login("nul-\u{0}clerk", "x\u{0}", None, "t", store.now())
        .await;
    assert!(matches!(ok, Err(anju_store::AuthError::Failed)), "{ok:?}");
    // A step whose remark holds a NUL, or 500,000 characters: refused naming the field.
    let version = h.version.to_string();
    let round = store
        .reference()
        .dictionaries
        .values(anju_domain::dict::kind::SURVEY_ROUND)[0]
        .clone();
    // A 500,000-character remark is stopped by the form's body limit (413) before any parsing;
    // one just over the field limit reaches the rules and is refused by name (422).
    for (remark, status_wanted, needle) in [
        (
            "已核实\u{0}".to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "控制字符",
        ),
        (
            "长".repeat(2_001),
            StatusCode::UNPROCESSABLE_ENTITY,
            "不能超过 2000 个字",
        ),
        ("长".repeat(500_000), StatusCode::PAYLOAD_TOO_LARGE, ""),
    ] {
        let form = [
            ("version", version.as_str()),
            ("effective", "2024-03-25"),
            ("judgement", "no_hazard"),
            ("surveyor", "张三"),
            ("round", round.as_str()),
            ("remarks", remark.as_str()),
        ];
        let res = app
            .post_step(h.code.as_str(), "surveyed", &clerk, &form)
            .await;
        let html = res.text();
        assert_eq!(res.status, status_wanted, "{html}");
        assert!(html.contains(needle), "{needle}: {html}");
    }
    assert_eq!(snapshot(store).await, before, "nothing written");
}

anju_store::both!(nul_and_oversized_input_is_refused_by_name);

async fn error_answers_are_pages_with_the_layout_and_a_phone_viewport(store: &Store) {
    let app = TestApp::new(store);
    let clerk = app.user("err-clerk", Role::TownOperator, "370829101").await;
    // An unknown address; a form sent without its CSRF token (refused, on a page, naming what
    // to do); a refusal in words, which keeps its words, escaped.
    let no_csrf = post("/houses/new", &clerk.cookie, &[("census_id", "X-1")]);
    for (req, status, needles) in [
        (
            get("/no/such/page", &clerk.cookie),
            StatusCode::NOT_FOUND,
            &[
                "name=\"viewport\"",
                "页面不存在",
                "/static/app.css",
                "返回首页",
            ][..],
        ),
        (
            no_csrf,
            StatusCode::FORBIDDEN,
            &["name=\"viewport\"", "CSRF"],
        ),
        (
            get("/houses/AJ37082900000999X", &clerk.cookie),
            StatusCode::NOT_FOUND,
            &["不存在或不在您的辖区内", "<main>"],
        ),
    ] {
        let res = app.send(req).await;
        let html = res.text();
        assert_eq!(res.status, status, "{html}");
        for needle in needles {
            assert!(html.contains(needle), "{needle}: {html}");
        }
    }
    // The API still answers JSON, downloads are untouched, and the favicon is there.
    let res = app.get("/api/v1/houses/AJ37082900000999X", &clerk).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let body = res.text();
    assert!(!body.contains("<html"), "{body}");
    let res = anonymous(&app, "/favicon.ico").await;
    assert_eq!(
        (res.status, res.location()),
        (StatusCode::PERMANENT_REDIRECT, "/favicon.svg")
    );
    let res = anonymous(&app, "/favicon.svg").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().starts_with("<svg"));
}

anju_store::both!(error_answers_are_pages_with_the_layout_and_a_phone_viewport);
