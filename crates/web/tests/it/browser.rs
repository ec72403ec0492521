//! End to end in headless Chromium (Debian `chromium` + `chromium-driver`), against the real
//! server on a real port with the embedded database: a town clerk logs in, finds a house,
//! records a survey, a principal tries to close on management measures and reads the refusal,
//! then closes on the standing basis; the county office opens 附件2 and drills into a figure.
//! Screenshots at phone and desktop width go to `target/screenshots/`.
//!
//! `ANJU_BROWSER_TESTS=skip` skips this on a machine without Chromium; CI never sets it.

use crate::common::{TEST_PASSWORD, account, problem_list_xlsx, xlsx_rows};
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use anju_web::{AppState, WebOptions};
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

// Offline field work: a module of this one, using its helpers.
#[path = "browser_offline.rs"]
mod offline;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> (Driver, u16) {
    let port = free_port();
    let bin = std::env::var("ANJU_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin} is required for the browser tests (apt-get install chromium chromium-driver): {e}"));
    let driver = Driver(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (driver, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(driver);
    panic!("chromedriver did not start");
}

async fn browser(port: u16, width: u32, height: u32) -> Client {
    browser_with(port, width, height, &[]).await
}

/// [`browser`] with more Chromium switches.
async fn browser_with(port: u16, width: u32, height: u32, extra: &[&str]) -> Client {
    let mut caps = serde_json::Map::new();
    let chrome = std::env::var("ANJU_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        format!("--window-size={width},{height}"),
        "--lang=zh-CN".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chrome, "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session")
}

/// A Chrome DevTools Protocol command, sent through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp(&'static str, serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({ "cmd": self.0, "params": self.1 });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

async fn cdp(c: &Client, cmd: &'static str, params: serde_json::Value) {
    c.issue_cmd(Cdp(cmd, params))
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
}

async fn serve(store: &Store) -> SocketAddr {
    serve_app(anju_web::router(
        AppState::new(store.clone(), WebOptions::default()).unwrap(),
    ))
    .await
}

/// Serves `app` on a port of its own: the address.
async fn serve_app(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

fn shots() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&p).unwrap();
    p
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(&[0x89, b'P', b'N', b'G']));
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Types `user` and the test password into the login form on screen and sends it.
async fn submit_login(c: &Client, user: &str) {
    type_into(c, Locator::Id("username"), user).await;
    type_into(c, Locator::Id("password"), TEST_PASSWORD).await;
    click(c, "button[type=submit]").await;
}

async fn log_in(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    submit_login(c, user).await;
    if c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("header.top"))
        .await
        .is_err()
    {
        shot(c, &format!("login-failed-{user}")).await;
        panic!("login as {user} failed: {}", text(c).await);
    }
}

/// Waits for `css`; on a timeout keeps a screenshot and fails with the page's text.
async fn wait_for(c: &Client, css: &str, name: &str) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(_) => {
            shot(c, &format!("failed-{name}")).await;
            panic!("{name}: no {css} on the page: {}", text(c).await);
        }
    }
}

/// The text of what `css` finds once it is on the page (see [`wait_for`]).
async fn wait_text(c: &Client, css: &str, name: &str) -> String {
    wait_for(c, css, name).await.text().await.unwrap()
}

/// Waits until the address bar holds `part` (a navigation has completed).
async fn wait_for_url(c: &Client, part: &str) {
    for _ in 0..100 {
        if let Ok(u) = c.current_url().await
            && u.as_str().contains(part)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(c, "failed-url").await;
    panic!("the address never held {part}");
}

/// What a browser test drives: the server (or a relay in front of it) at `base`, and
/// chromedriver on `port`.
struct Stage {
    addr: SocketAddr,
    base: String,
    port: u16,
    _driver: Driver,
}

impl Stage {
    /// The server over `store` on a port of its own, and chromedriver.
    async fn over(store: &Store) -> Stage {
        Stage::at(serve(store).await).await
    }

    /// What listens at `addr`, and chromedriver.
    async fn at(addr: SocketAddr) -> Stage {
        let (driver, port) = start_driver().await;
        Stage {
            addr,
            base: format!("http://{addr}"),
            port,
            _driver: driver,
        }
    }

    /// A browser window of `width` × `height`, logged in as `user`.
    async fn open(&self, width: u32, height: u32, user: &str) -> Client {
        let c = browser(self.port, width, height).await;
        log_in(&c, &self.base, user).await;
        c
    }

    /// [`Stage::open`], at `path`.
    async fn open_at(&self, width: u32, height: u32, user: &str, path: &str) -> Client {
        let c = self.open(width, height, user).await;
        self.go(&c, path).await;
        c
    }

    /// Goes to `path` on the server.
    async fn go(&self, c: &Client, path: &str) {
        c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// The same server under a name that is not a secure context (plain HTTP to a name other
    /// than localhost); only browsers from [`Stage::phone_with_plain_name`] resolve it.
    fn plain(&self) -> String {
        format!("http://anju.test:{}", self.addr.port())
    }

    /// A phone-sized browser window, not logged in, that resolves the name of [`Stage::plain`].
    async fn phone_with_plain_name(&self) -> Client {
        browser_with(
            self.port,
            360,
            780,
            &["--host-resolver-rules=MAP anju.test 127.0.0.1"],
        )
        .await
    }

    /// Follows the link `css` (once it is on the page) outside the browser, with the browser's
    /// session cookie: what a download through it would save.
    async fn download(&self, c: &Client, css: &str, name: &str) -> Vec<u8> {
        let href = wait_for(c, css, name)
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: {css} has no href"));
        let session = c.get_named_cookie("anju_session").await.unwrap();
        fetch(
            &format!("{}{href}", self.base),
            &format!("anju_session={}", session.value()),
        )
        .await
    }
}

/// A GET with the browser's session cookie, outside the browser.
async fn fetch(url: &str, cookie: &str) -> Vec<u8> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let req = axum::http::Request::get(url)
        .header(axum::http::header::COOKIE, cookie)
        .body(http_body_util::Empty::new())
        .unwrap();
    let res = client.request(req).await.unwrap();
    assert_eq!(res.status(), axum::http::StatusCode::OK);
    res.into_body().collect().await.unwrap().to_bytes().to_vec()
}

/// The page's text; retried while a navigation replaces the page under it.
async fn text(c: &Client) -> String {
    for _ in 0..50 {
        if let Ok(body) = c.find(Locator::Css("body")).await
            && let Ok(t) = body.text().await
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no page text");
}

/// Whether the browser tests are to be skipped (`ANJU_BROWSER_TESTS=skip`); says so when they are.
fn skipped() -> bool {
    let skip = std::env::var("ANJU_BROWSER_TESTS").as_deref() == Ok("skip");
    if skip {
        eprintln!("browser tests skipped (ANJU_BROWSER_TESTS=skip)");
    }
    skip
}

/// A browser test's database: SQLite with the test county's villages; `None` when the browser
/// tests are skipped.
async fn village_db() -> Option<TestDb> {
    if skipped() {
        return None;
    }
    let db = sqlite().await;
    with_villages(&db.store).await;
    Some(db)
}

/// Runs `script` in the page: what it returns.
async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{e}: {script}"))
}

/// House `serial` in [`VILLAGE`], registered and surveyed with `judgement`.
async fn surveyed(store: &Store, serial: u32, judgement: Judgement) -> House<'_> {
    let mut h = House::register(store, serial, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(judgement)).await;
    h
}

/// Clicks what `at` finds on the page.
async fn click_on(c: &Client, at: Locator<'_>) {
    c.find(at)
        .await
        .unwrap_or_else(|e| panic!("nothing to click at {at:?}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Clicks what `css` finds on the page.
async fn click(c: &Client, css: &str) {
    click_on(c, Locator::Css(css)).await;
}

/// Presses the submit button of the page's main form.
async fn submit_form(c: &Client) {
    click(c, "main form button[type=submit]").await;
}

/// Types `keys` into the field `at` finds (for a file input: chooses the file at that path).
async fn type_into(c: &Client, at: Locator<'_>, keys: &str) {
    c.find(at)
        .await
        .unwrap_or_else(|e| panic!("no field at {at:?}: {e}"))
        .send_keys(keys)
        .await
        .unwrap();
}

/// The text of what `css` finds now.
async fn text_at(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .text()
        .await
        .unwrap()
}

/// Waits up to five seconds for the page's text to hold `part`: whether it came.
async fn text_comes(c: &Client, part: &str) -> bool {
    for _ in 0..50 {
        if text(c).await.contains(part) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_and_a_principal_walk_a_house_to_closure_and_the_county_drills_into_the_ledger() {
    let Some(db) = village_db().await else {
        return;
    };
    let store = &db.store;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    House::register(store, 2, VILLAGE, UsageCategory::MixedBusiness).await;
    account(store, "clerk", Role::TownOperator, "370829101").await;
    account(store, "boss", Role::TownPrincipal, "370829101").await;
    account(store, "county", Role::CountyOffice, "370829").await;
    let stage = Stage::over(store).await;

    // The clerk, on a phone.
    let c = stage.open(360, 780, "clerk").await;
    shot(&c, "phone-home").await;
    stage.go(&c, "/houses").await;
    type_into(&c, Locator::Css("input[name=q]"), h.code.as_str()).await;
    click(&c, "form.filters button[type=submit]").await;
    // The unfiltered list holds the same link: wait for the filtered page
    // first, or the click can land on the page being replaced.
    wait_for_url(&c, "q=").await;
    c.wait()
        .for_element(Locator::Css(&format!("a[href='/houses/{}']", h.code)))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shot(&c, "phone-house").await;
    click(&c, &format!("a[href='/houses/{}/steps/surveyed']", h.code)).await;
    let f = c.wait().for_element(Locator::Css("form")).await.unwrap();
    let _ = f;
    // 排查人员 comes prefilled with the clerk's name; another surveyor's name replaces it.
    assert_eq!(value(&c, "f-surveyor").await, "clerk姓名");
    let page = send_survey(&c, "phone-survey-form").await;
    assert!(
        page.contains("存在一定安全隐患") && page.contains("现场照片.jpg"),
        "{page}"
    );
    // Saved, said so once, and the upload's token never reached the address bar.
    let said = wait_text(&c, "p.flash", "saved message").await;
    assert_eq!(said, "已保存：排查初判");
    no_token_in_address(&c).await;
    // The thumbnail is served and decodes in the browser.
    let mut width = serde_json::Value::Null;
    for _ in 0..50 {
        width = js(&c, "const i = document.querySelector('ul.evidence img'); if (!i) return null; i.scrollIntoView(); return i.complete && i.naturalWidth > 0 ? i.naturalWidth : null;").await;
        if !width.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        width,
        serde_json::json!(320),
        "thumbnail of a 640 × 480 photo"
    );
    shot(&c, "phone-house-with-photo").await;
    c.close().await.unwrap();

    // A reviewer finds no hazard (recorded outside the browser); the principal tries the
    // management measure first and reads the refusal, then closes on the review.
    let mut h = h;
    h.version = 2;
    // The browser's steps default to today in Beijing (UTC+8), not UTC.
    h.day = store.today();
    h.ok(
        &reviewer(),
        Change::Reviewed {
            reviewer_names: "孙工".into(),
            finding: anju_domain::dict::ReviewFinding::NoHazard,
            opinion: None,
        },
    )
    .await;
    let closure = format!("/houses/{}/steps/closed", h.code);
    let c = stage.open_at(1920, 1080, "boss", &closure).await;
    wait_for(&c, "select[name=basis]", "closure-form").await;
    click(&c, "select[name=basis] option[value=management_measure]").await;
    submit_form(&c).await;
    let err = wait_text(&c, "p.error", "refusal").await;
    assert!(
        err.contains("（规则 R1）") && err.contains("管理措施"),
        "{err}"
    );
    shot(&c, "desktop-refusal").await;
    click(&c, "select[name=basis] option[value=review_no_hazard]").await;
    submit_form(&c).await;
    wait_for(&c, "ol.timeline", "closure").await;
    assert!(text(&c).await.contains("已销号"));
    c.close().await.unwrap();

    // The county office opens 附件2 and drills into the county total of surveyed houses.
    let c = stage.open(1920, 1080, "county").await;
    // The dashboard draws its chart (ECharts, served from the binary).
    wait_for(&c, "div.chart canvas", "dashboard-chart").await;
    let home = text(&c).await;
    assert!(
        home.contains("阶段与时限") && home.contains("C、D级未采取工程措施"),
        "{home}"
    );
    shot(&c, "desktop-home").await;
    stage.go(&c, "/ledgers/2").await;
    shot(&c, "desktop-ledger2").await;
    click(&c, "tr.total a[href*='column=0']").await;
    wait_for(&c, "table.list", "drill-down").await;
    let page = text(&c).await;
    assert!(
        page.contains("共 1 条，第 1 / 1 页") && page.contains(h.code.as_str()),
        "{page}"
    );
    // Download the xlsx with the browser's session (downloads go to disk inside the browser),
    // and re-read it.
    stage.go(&c, "/ledgers/2").await;
    let xlsx = stage
        .download(&c, "a[href*='format=xlsx']", "xlsx-link")
        .await;
    let rows = xlsx_rows(&xlsx);
    let total = rows.iter().find(|r| r[0] == "合计").expect("a 合计 row");
    assert_eq!(total[1], "1", "one surveyed house");
    // 用户/设置 as the county office sees them.
    stage.go(&c, "/admin/accounts").await;
    wait_for(&c, "form[action='/admin/accounts']", "accounts").await;
    shot(&c, "desktop-accounts").await;
    stage.go(&c, "/admin/settings").await;
    wait_for(&c, "form[action='/admin/settings/deadlines']", "settings").await;
    shot(&c, "desktop-settings").await;
    c.close().await.unwrap();
    let _ = Grade::A;
}

use anju_domain::event::Change;

/// Clicks the submit button of the problem page's form for `action`, then waits for the page
/// to show `status`.
async fn problem_step(c: &Client, action: &str, status: &str) {
    click(c, &format!("form.action-{action} button[type=submit]")).await;
    if text_comes(c, status).await {
        return;
    }
    shot(c, &format!("failed-problem-{action}")).await;
    panic!("after {action}: no {status} in {}", text(c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_county_issues_a_problem_the_town_fixes_it_and_the_ranking_shows_who_lags() {
    let Some(db) = village_db().await else {
        return;
    };
    let store = &db.store;
    // 梁宝寺镇 (101): two houses, both surveyed. The other town (102): two houses, none surveyed.
    let h = surveyed(store, 1, Judgement::NoHazard).await;
    surveyed(store, 2, Judgement::NoHazard).await;
    House::register(store, 3, OTHER_VILLAGE, UsageCategory::Other).await;
    House::register(store, 4, OTHER_VILLAGE, UsageCategory::Other).await;
    account(store, "clerk", Role::TownOperator, "370829101").await;
    account(store, "county", Role::CountyOffice, "370829").await;
    let stage = Stage::over(store).await;
    let files = tempfile::tempdir().unwrap();

    // The county office issues a batch from an xlsx list.
    let list = files.path().join("第3批问题清单.xlsx");
    let row = [
        "370829101",
        h.code.as_str(),
        "信息不符",
        "房屋层数与现场不符",
        "2099-06-30",
    ];
    std::fs::write(&list, problem_list_xlsx(&[row])).unwrap();
    let c = stage.open_at(1366, 900, "county", "/problems").await;
    click(&c, "#p-source option:nth-child(2)").await;
    type_into(&c, Locator::Id("p-name"), "2024年第3批线上巡检").await;
    type_into(&c, Locator::Id("p-file"), list.to_str().unwrap()).await;
    click(
        &c,
        "form[action='/problems'][enctype='multipart/form-data'] button[type=submit]",
    )
    .await;
    let link = wait_for(
        &c,
        "a[href^='/problems/']:not([href$='.csv'])",
        "issued problem",
    )
    .await;
    no_token_in_address(&c).await;
    let href = link.attr("href").await.unwrap().unwrap();
    shot(&c, "desktop-problems").await;
    c.close().await.unwrap();

    // The town clerk, on a phone: confirms, starts, reports it fixed with a photo.
    let c = stage.open_at(360, 780, "clerk", &href).await;
    wait_for(&c, "form.action-confirm", "problem page").await;
    problem_step(&c, "confirm", "已确认").await;
    problem_step(&c, "start_rectify", "整改中").await;
    let photo = files.path().join("整改后.jpg");
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([(x / 2) as u8, (y / 2) as u8, 40])
    }))
    .save_with_format(&photo, image::ImageFormat::Jpeg)
    .unwrap();
    type_into(
        &c,
        Locator::Css("form.action-report_fixed textarea[name=text]"),
        "已核实并更正层数",
    )
    .await;
    type_into(
        &c,
        Locator::Css("form.action-report_fixed input[type=file]"),
        photo.to_str().unwrap(),
    )
    .await;
    problem_step(&c, "report_fixed", "已整改（待核验）").await;
    assert!(
        c.find(Locator::Css("form.action-verify")).await.is_err(),
        "a town cannot verify its own fix"
    );
    shot(&c, "phone-problem").await;
    // The registration form, as a clerk sees it in the field.
    stage.go(&c, "/houses/new").await;
    wait_for(&c, "select[name=village]", "registration form").await;
    shot(&c, "phone-register").await;
    c.close().await.unwrap();

    // The county office verifies and closes it, then reads the ranking.
    let c = stage.open_at(1366, 900, "county", &href).await;
    wait_for(&c, "form.action-verify", "verify form").await;
    problem_step(&c, "verify", "已销号").await;
    stage.go(&c, "/ranking").await;
    let row = wait_text(&c, "table.ranking tbody tr:first-child", "ranking").await;
    let other_town = store
        .reference()
        .regions
        .iter()
        .find(|r| r.code.as_str() == "370829102000")
        .map(|r| r.name.clone())
        .unwrap();
    assert!(
        row.contains(&other_town) && row.contains("0.00%"),
        "the lagging town first: {row}"
    );
    let second = text_at(&c, "table.ranking tbody tr:nth-child(2)").await;
    assert!(second.contains("100.00%"), "{second}");
    shot(&c, "desktop-ranking").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_county_office_adds_a_village_and_the_clerk_can_register_a_house_there() {
    if skipped() {
        return;
    }
    // A fresh install for a county set up from the table, with no demo data.
    let db = sqlite_empty().await;
    let store = &db.store;
    let county = anju_divisions::county("370830").unwrap();
    store
        .init_county(
            &county.regions(anju_divisions::edition().reference_date, true),
            anju_divisions::edition().id,
        )
        .await
        .unwrap();
    account(store, "ws-county", Role::CountyOffice, "370830").await;
    account(store, "ws-clerk", Role::TownOperator, "370830102").await;
    let stage = Stage::over(store).await;

    let c = stage
        .open_at(1920, 1080, "ws-county", "/admin/accounts")
        .await;
    click_on(&c, Locator::LinkText("区划（镇街、村（社区））→")).await;
    let form = wait_for(&c, "form[data-region-form=add]", "the 区划 page").await;
    form.find(Locator::Css("select[name=parent]"))
        .await
        .unwrap()
        .select_by_value("370830102")
        .await
        .unwrap();
    for (name, value) in [("code", "370830102901"), ("name", "南旺新村")] {
        let field = format!("form[data-region-form=add] input[name={name}]");
        type_into(&c, Locator::Css(&field), value).await;
    }
    click(&c, "form[data-region-form=add] button[type=submit]").await;
    let ok = wait_text(&c, "p.ok", "the saved message").await;
    assert!(ok.contains("370830102901"));
    let open = wait_text(&c, "details[open]", "the town's villages").await;
    assert!(open.contains("南旺新村"));
    shot(&c, "desktop-regions").await;
    c.close().await.unwrap();

    // The clerk of that town sees it in the registration form's village list.
    let c = stage.open_at(360, 800, "ws-clerk", "/houses/new").await;
    let select = wait_for(&c, "select[name=village]", "registration form").await;
    let options = select.text().await.unwrap();
    assert!(options.contains("南旺新村"), "{options}");
    select.select_by_value("370830102901").await.unwrap();
    shot(&c, "phone-register-new-village").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_sees_the_figures_before_signing_and_confirms_with_the_password() {
    let Some(db) = village_db().await else {
        return;
    };
    let store = &db.store;
    // Two houses surveyed, one with a hazard: by hand, 已排查 2 and 初步判断存在隐患 1.
    surveyed(store, 1, Judgement::NoHazard).await;
    surveyed(store, 2, Judgement::Hazard).await;
    account(store, "sign-op", Role::TownOperator, "370829101").await;
    account(store, "sign-boss", Role::TownPrincipal, "370829101").await;
    let op = store.account("sign-op").await.unwrap().principal();
    let id = store
        .access(&op, "test")
        .prepare_report(&anju_store::ledgers::reports::NewReport {
            form: anju_domain::ledger::Form::from_number(2).unwrap(),
            unit: RegionCode::parse("370829101000").unwrap(),
            as_of: store.today(),
            contact: "0537-6812345".into(),
            supersedes: None,
        })
        .await
        .unwrap();
    let stage = Stage::over(store).await;
    let c = stage
        .open_at(1920, 1080, "sign-boss", &format!("/reports/{id}"))
        .await;
    wait_for(&c, "form.confirm input[name=password]", "sign-form").await;
    let page = text(&c).await;
    assert!(page.contains("签字将冻结的数字"), "{page}");
    assert!(page.contains("确认以主要负责同志身份签字"), "{page}");
    let total: Vec<String> = {
        let row = c
            .find(Locator::XPath(
                "//table[contains(@class,'ledger')]//tr[td[1]='合计']",
            ))
            .await
            .unwrap();
        let mut cells = vec![];
        for td in row.find_all(Locator::Css("td")).await.unwrap() {
            cells.push(td.text().await.unwrap());
        }
        cells
    };
    assert_eq!(total.get(1).map(String::as_str), Some("2"), "{total:?}");
    shot(&c, "desktop-report-before-signing").await;
    // Signing with the box ticked but a wrong password is refused on the same page.
    sign_with(&c, "wrong-password").await;
    let refused = wait_text(&c, "p.error", "reauth-refused").await;
    assert!(refused.contains("身份确认未通过"));
    // Again, with the password: signed, and the frozen figures are what was shown.
    sign_with(&c, TEST_PASSWORD).await;
    wait_for_url(&c, &format!("/reports/{id}")).await;
    // The signed page is judged by what it says, whether or not its heading came in time.
    text_comes(&c, "签字时冻结的数字").await;
    let page = text(&c).await;
    assert!(
        page.contains("已签字") && page.contains("核对一致"),
        "{page}"
    );
    shot(&c, "desktop-report-signed").await;
    c.close().await.unwrap();
}

/// Every address the browser has been at in a walk must be free of the session's token.
async fn no_token_in_address(c: &Client) {
    let url = c.current_url().await.unwrap();
    assert!(
        !url.as_str().contains("csrf"),
        "a CSRF token in the address: {url}"
    );
}

/// Ticks the signing statement, types `password` and signs.
async fn sign_with(c: &Client, password: &str) {
    click(c, "form.confirm input[name=confirm]").await;
    type_into(
        c,
        Locator::Css("form.confirm input[name=password]"),
        password,
    )
    .await;
    click(c, "form.confirm button[type=submit]").await;
}

/// A 640 × 480 JPEG named `name` in `dir`, as a phone's camera would hand it to the file input.
fn jpeg(dir: &std::path::Path, name: &str, blue: u8) -> PathBuf {
    let path = dir.join(name);
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8, (y / 2) as u8, blue])
    }))
    .save_with_format(&path, image::ImageFormat::Jpeg)
    .unwrap();
    path
}

/// Fills the survey form open in `c`: the first round, `surveyor` typed over the prefilled
/// name, a hazard of general risk in the first category, and `photo` chosen for upload.
async fn fill_survey(c: &Client, surveyor: &str, photo: &std::path::Path) {
    for css in [
        "select[name=round] option:nth-child(2)",
        "select[name=judgement] option[value=hazard]",
        "select[name=risk_level] option[value=general]",
        "input[name=hazard_categories]",
    ] {
        click(c, css).await;
    }
    let field = c.find(Locator::Id("f-surveyor")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(surveyor).await.unwrap();
    type_into(c, Locator::Id("f-ev_photo"), photo.to_str().unwrap()).await;
}

/// Fills the survey form open in `c` as [`fill_survey`] does (王排查, a fresh photo
/// 现场照片.jpg), keeps a screenshot `name` of it, sends it and waits for the house page: its text.
async fn send_survey(c: &Client, name: &str) -> String {
    let photo_dir = tempfile::tempdir().unwrap();
    let photo = jpeg(photo_dir.path(), "现场照片.jpg", 90);
    fill_survey(c, "王排查", &photo).await;
    shot(c, name).await;
    submit_form(c).await;
    wait_for(c, "ol.timeline", "survey").await;
    text(c).await
}

/// Fails when the page is wider than the window (something scrolls the whole page sideways).
async fn no_sideways_scroll(c: &Client, name: &str) {
    let widths = js(
        c,
        "return [document.documentElement.scrollWidth, window.innerWidth];",
    )
    .await;
    let (page, window) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    if page > window {
        shot(c, &format!("overflow-{name}")).await;
        panic!("{name}: the page is {page} px wide in a {window} px window");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerks_form_with_its_photo_survives_an_expired_session_and_back_shows_the_saved_page() {
    let Some(db) = village_db().await else {
        return;
    };
    let clock = anju_store::TestClock::at(test_start());
    let store = &db
        .store
        .clone()
        .with_clock(std::sync::Arc::new(clock.clone()));
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    account(store, "cellar", Role::TownOperator, "370829101").await;
    let stage = Stage::over(store).await;
    let form = format!("/houses/{}/steps/surveyed", h.code);
    let c = stage.open_at(360, 780, "cellar", &form).await;
    wait_for(&c, "select[name=judgement]", "survey-form").await;
    no_sideways_scroll(&c, "phone-survey-form").await;
    let photo_dir = tempfile::tempdir().unwrap();
    let photo = jpeg(photo_dir.path(), "地窖裂缝.jpg", 40);
    fill_survey(&c, "王地窖", &photo).await;
    // Two hours in the cellar: the session has expired when the clerk presses 提交.
    clock.advance(chrono::Duration::hours(2));
    submit_form(&c).await;
    wait_for_url(&c, "/login").await;
    let page = text(&c).await;
    assert!(
        page.contains("已保存"),
        "the login page says the form is kept: {page}"
    );
    no_token_in_address(&c).await;
    shot(&c, "phone-login-form-kept").await;
    submit_login(&c, "cellar").await;
    // Back on the form, filled in as it was, the photo already uploaded.
    wait_for_url(&c, "/steps/surveyed").await;
    wait_for(&c, "select[name=judgement]", "restored-form").await;
    let page = text(&c).await;
    assert!(
        page.contains("已恢复，尚未保存") && page.contains("地窖裂缝.jpg"),
        "{page}"
    );
    assert_eq!(value(&c, "f-surveyor").await, "王地窖");
    shot(&c, "phone-form-restored").await;
    submit_form(&c).await;
    wait_for(&c, "ol.timeline", "saved").await;
    let said = wait_text(&c, "p.flash", "saved message").await;
    assert_eq!(said, "已保存：排查初判");
    let page = text(&c).await;
    assert!(
        page.contains("王地窖") || page.contains("地窖裂缝.jpg"),
        "the survey with its photo is on the house page: {page}"
    );
    no_sideways_scroll(&c, "phone-house-saved").await;
    // Back goes to a page served afresh (Post/Redirect/Get: no "resubmit the form?" and
    // no browser error page), and forward again shows the saved house.
    c.back().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let title = c.title().await.unwrap();
    assert!(
        title.contains("自建房安全专项整治"),
        "back shows an Anju page, not an error: {title}"
    );
    c.forward().await.unwrap();
    wait_for(&c, "ol.timeline", "forward").await;
    assert!(text(&c).await.contains("排查初判"));
    let history = store
        .access(&store.account("cellar").await.unwrap().principal(), "test")
        .house_events(&h.code)
        .await
        .unwrap();
    assert_eq!(
        history.len(),
        2,
        "registered, then surveyed once: not twice"
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_main_page_at_phone_and_desktop_width_and_the_county_pages_its_drill_down() {
    let Some(db) = village_db().await else {
        return;
    };
    let store = &db.store;
    // 120 houses surveyed: by hand, the 合计 of 已排查 is 120, three pages of 50 (50, 50, 20).
    let code = surveyed(store, 1, Judgement::NoHazard).await.code;
    for serial in 2..=120 {
        surveyed(store, serial, Judgement::NoHazard).await;
    }
    account(store, "walk-clerk", Role::TownOperator, "370829101").await;
    account(store, "walk-county", Role::CountyOffice, "370829").await;
    let stage = Stage::over(store).await;

    // The county office drills into 附件2's 合计 of 已排查, 50 rows at a time.
    let c = stage.open_at(1920, 1080, "walk-county", "/ledgers/2").await;
    click(&c, "tr.total a[href*='column=0']").await;
    wait_for(&c, "table.list", "drill-down").await;
    let rows = |c: &Client| {
        let c = c.clone();
        async move {
            c.find_all(Locator::Css("table.list tbody tr"))
                .await
                .unwrap()
                .len()
        }
    };
    assert!(text(&c).await.contains("共 120 条，第 1 / 3 页"));
    assert_eq!(rows(&c).await, 50);
    click_on(&c, Locator::LinkText("下一页")).await;
    wait_for_url(&c, "page=2").await;
    assert!(text(&c).await.contains("第 2 / 3 页"));
    assert_eq!(rows(&c).await, 50);
    let first_no = text_at(&c, "table.list tbody tr td").await;
    assert_eq!(first_no, "51", "序号 runs on across pages");
    click_on(&c, Locator::LinkText("3")).await;
    wait_for_url(&c, "page=3").await;
    assert_eq!(rows(&c).await, 20);
    shot(&c, "desktop-drill-down-page-3").await;
    // The audit trail: the clerk's logins are there, filtered by account, exportable.
    c.close().await.unwrap();

    // Every main page, as the clerk and as the county office, at both widths: it loads, it
    // does not scroll sideways on a phone, and no token is in the address.
    let clerk_pages = [
        ("home", "/".to_string()),
        ("houses", "/houses".to_string()),
        ("map", "/map".to_string()),
        ("house", format!("/houses/{code}")),
        ("survey-form", format!("/houses/{code}/steps/surveyed")),
        ("register", "/houses/new".to_string()),
        ("lookback", "/lookback".to_string()),
        ("import", "/import".to_string()),
        ("problems", "/problems".to_string()),
        ("reminders", "/reminders".to_string()),
        ("reports", "/reports".to_string()),
        ("password", "/password".to_string()),
    ];
    let county_pages = [
        ("county-home", "/".to_string()),
        ("ledger2", "/ledgers/2".to_string()),
        ("county-map", "/map".to_string()),
        ("county-map-town", "/map?town=370829101".to_string()),
        ("ledger1", "/ledgers/1".to_string()),
        ("drill-down", "/ledgers/2/houses?column=0".to_string()),
        ("ranking", "/ranking".to_string()),
        ("supervision", "/supervision".to_string()),
        ("accounts", "/admin/accounts".to_string()),
        ("settings", "/admin/settings".to_string()),
        ("regions", "/admin/regions".to_string()),
        ("audit", "/audit?actor=walk-clerk".to_string()),
        ("imports-pending", "/imports/pending".to_string()),
    ];
    for (user, pages) in [
        ("walk-clerk", &clerk_pages[..]),
        ("walk-county", &county_pages[..]),
    ] {
        for (width, height, prefix) in [(360, 780, "phone"), (1920, 1080, "desktop")] {
            let c = stage.open(width, height, user).await;
            for (name, path) in pages {
                stage.go(&c, path).await;
                let h1 = wait_for(&c, "main h1", name).await.text().await.unwrap();
                assert!(!h1.is_empty(), "{name}");
                let page = text(&c).await;
                assert!(
                    !page.contains("服务器内部错误") && !page.contains("页面不存在"),
                    "{name}: {page}"
                );
                no_token_in_address(&c).await;
                if path == "/" || path.starts_with("/map") {
                    // The map has drawn what /map/data answered.
                    wait_for(&c, "[data-map][data-loaded]", name).await;
                    if path.starts_with("/map") {
                        scroll_to_map(&c).await;
                    }
                }
                if width == 360 {
                    no_sideways_scroll(&c, name).await;
                }
                shot(&c, &format!("{prefix}-{name}")).await;
            }
            c.close().await.unwrap();
        }
    }

    // The audit page filters: the clerk's logins (four walks above logged in twice as clerk).
    let c = stage
        .open_at(
            1920,
            1080,
            "walk-county",
            "/audit?actor=walk-clerk&action=login&outcome=ok",
        )
        .await;
    wait_for(&c, "table.audit", "audit").await;
    let page = text(&c).await;
    assert!(page.contains("共 2 条"), "two logins by the clerk: {page}");
    assert!(page.contains("登录"), "{page}");
    let csv = stage
        .download(&c, "a[href^='/audit.csv']", "audit-export")
        .await;
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.trim_start_matches('\u{feff}').starts_with("时间,账号"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3, "a header and two logins: {csv}");
    c.close().await.unwrap();
}

/// Clicks 「获取当前位置」 and waits for its note to say `part`: the note.
async fn locate(c: &Client, part: &str) -> String {
    click(c, "button[data-locate]").await;
    let status = c.find(Locator::Css("[data-locate-status]")).await.unwrap();
    let mut said = String::new();
    for _ in 0..100 {
        said = status.text().await.unwrap();
        if said.contains(part) {
            return said;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(c, "failed-locate").await;
    panic!("the location note never said {part}: {said}");
}

/// The value of the field with `id` ("" without one).
async fn value(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// 「获取当前位置」 in Chromium with a position set through DevTools: it fills 经度/纬度 and says the
/// accuracy; refused, it says so and leaves the fields as they were; on an origin that is not
/// secure (plain HTTP to a name other than localhost) it is disabled and says HTTPS is needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_location_button_fills_the_coordinates_and_needs_https() {
    let Some(db) = village_db().await else {
        return;
    };
    let store = &db.store;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    account(store, "clerk", Role::TownOperator, "370829101").await;
    let stage = Stage::over(store).await;
    // http://127.0.0.1 is a secure context; http://anju.test (the same server) is not.
    let base = &stage.base;
    let plain = stage.plain();
    let c = stage.phone_with_plain_name().await;
    cdp(
        &c,
        "Browser.grantPermissions",
        serde_json::json!({ "origin": base, "permissions": ["geolocation"] }),
    )
    .await;
    cdp(
        &c,
        "Emulation.setGeolocationOverride",
        serde_json::json!({ "latitude": 35.412345, "longitude": 116.345678, "accuracy": 12.4 }),
    )
    .await;

    log_in(&c, base, "clerk").await;
    stage.go(&c, "/houses/new").await;
    assert_eq!(value(&c, "f-longitude").await, "");
    let said = locate(&c, "精度约").await;
    assert!(said.contains("精度约 12 米"), "{said}");
    assert_eq!(value(&c, "f-longitude").await, "116.345678");
    assert_eq!(value(&c, "f-latitude").await, "35.412345");
    shot(&c, "phone-locate").await;

    // The survey form: the accuracy goes into its hidden field too, is dropped when 经度 is
    // then typed over, and is recorded with the survey; the house page shows the position.
    stage
        .go(&c, &format!("/houses/{}/steps/surveyed", h.code))
        .await;
    assert_eq!(value(&c, "f-accuracy_m").await, "");
    let said = locate(&c, "精度约").await;
    assert!(said.contains("精度约 12 米"), "{said}");
    assert_eq!(value(&c, "f-longitude").await, "116.345678");
    assert_eq!(value(&c, "f-latitude").await, "35.412345");
    assert_eq!(value(&c, "f-accuracy_m").await, "12");
    type_into(&c, Locator::Id("f-longitude"), "9").await;
    assert_eq!(
        value(&c, "f-accuracy_m").await,
        "",
        "typed over: no accuracy"
    );
    locate(&c, "精度约").await;
    assert_eq!(value(&c, "f-accuracy_m").await, "12");
    let page = send_survey(&c, "phone-survey-locate").await;
    assert!(
        page.contains("东经 116.345678°，北纬 35.412345°（精度约 12 米）"),
        "{page}"
    );

    // Refused: the correction form keeps the recorded coordinates.
    cdp(
        &c,
        "Browser.setPermission",
        serde_json::json!({ "origin": base, "permission": { "name": "geolocation" }, "setting": "denied" }),
    )
    .await;
    stage.go(&c, &format!("/houses/{}/correct", h.code)).await;
    locate(&c, "未获得定位权限").await;
    assert_eq!(value(&c, "f-longitude").await, "116.340000");
    assert_eq!(value(&c, "f-latitude").await, "35.410000");

    // Not a secure context: disabled, with the reason.
    log_in(&c, &plain, "clerk").await;
    c.goto(&format!("{plain}/houses/new")).await.unwrap();
    let button = c.find(Locator::Css("button[data-locate]")).await.unwrap();
    assert!(!button.is_enabled().await.unwrap());
    let note = text_at(&c, "[data-locate-status]").await;
    assert_eq!(note, "需通过 HTTPS 访问才能获取位置");
    js(
        &c,
        "document.querySelector('button[data-locate]').scrollIntoView({block: 'center'})",
    )
    .await;
    shot(&c, "phone-locate-http").await;
    c.close().await.unwrap();
}

/// A house registered at (经度, 纬度) in `village`, surveyed (hazard or not), appraised when
/// `grade` is given.
async fn located<'a>(
    store: &'a Store,
    serial: u32,
    village: &str,
    at: (f64, f64),
    hazard: bool,
    grade: Option<Grade>,
) -> House<'a> {
    let mut h = House {
        store,
        code: anju_domain::HouseCode::new(
            &RegionCode::parse(anju_domain::sample::JIAXIANG).unwrap(),
            serial,
        ),
        version: 0,
        day: chrono::NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
    };
    let mut record =
        anju_domain::sample::record(RegionCode::parse(village).unwrap(), UsageCategory::Other);
    record.platform_code = Some(format!("YH370829{serial:09}"));
    record.longitude = Some(at.0);
    record.latitude = Some(at.1);
    h.ok(
        &clerk(),
        anju_domain::event::Change::Registered {
            source: anju_domain::dict::RegistrationSource::Census,
            plaque_token: format!("{serial:032x}"),
            record: Box::new(record),
            people: Box::new(anju_domain::sample::people()),
        },
    )
    .await;
    h.ok(
        &clerk(),
        survey(if hazard {
            Judgement::Hazard
        } else {
            Judgement::NoHazard
        }),
    )
    .await;
    if let Some(g) = grade {
        h.ok(&appraiser(), appraise(g)).await;
    }
    h
}

/// The map at county and town scale, at phone and desktop width: cells counted on the server
/// with the legend, a town's view, the fallback layer's note without a tile server, and a house
/// opened from its point when zoomed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_counts_cells_at_county_scale_and_opens_a_house_zoomed_in() {
    let Some(db) = village_db().await else {
        return;
    };
    let store = &db.store;
    // Two clusters in town 101 (around 116.30/35.40 and 116.36/35.45) and one in town 102
    // (116.45/35.33): 30 + 20 + 25 houses, every fifth a hazard, some appraised C or D.
    let mut serial = 0;
    for (village, (lon, lat), n) in [
        (VILLAGE, (116.30, 35.40), 30),
        (VILLAGE, (116.36, 35.45), 20),
        (OTHER_VILLAGE, (116.45, 35.33), 25),
    ] {
        for i in 0..n {
            serial += 1;
            let at = (
                lon + f64::from(i % 6) * 0.0015,
                lat + f64::from(i / 6) * 0.0012,
            );
            let grade = match i % 10 {
                0 => Some(Grade::D),
                5 => Some(Grade::C),
                _ => None,
            };
            located(store, serial, village, at, i % 5 == 0, grade).await;
        }
    }
    account(store, "map-county", Role::CountyOffice, "370829").await;
    account(store, "map-clerk", Role::TownOperator, "370829101").await;
    let stage = Stage::over(store).await;
    let cells_total = |c: &Client| {
        let c = c.clone();
        async move {
            js(&c, "return Array.from(document.querySelectorAll('.cluster span')).reduce(function (s, e) { return s + parseInt(e.textContent, 10); }, 0);").await
            .as_i64()
            .unwrap()
        }
    };
    for (width, height, prefix) in [(360, 780, "phone"), (1920, 1080, "desktop")] {
        let c = stage.open_at(width, height, "map-county", "/map").await;
        wait_for(&c, "#map[data-loaded='cells']", "map-county").await;
        assert!(text(&c).await.contains("未配置底图"));
        assert!(text(&c).await.contains("待排查") || text(&c).await.contains("未发现隐患"));
        assert_eq!(cells_total(&c).await, 75, "every located house in a cell");
        assert!(
            !c.find_all(Locator::Css(".cluster.late"))
                .await
                .unwrap()
                .is_empty(),
            "the overdue C/D houses are ringed"
        );
        if width == 360 {
            no_sideways_scroll(&c, "map-county").await;
        }
        scroll_to_map(&c).await;
        shot(&c, &format!("{prefix}-map-county")).await;
        stage.go(&c, "/map?town=370829101&by=grade").await;
        wait_for(&c, "#map[data-loaded]", "map-town").await;
        assert!(text(&c).await.contains("D级"));
        if width == 360 {
            no_sideways_scroll(&c, "map-town").await;
        }
        scroll_to_map(&c).await;
        shot(&c, &format!("{prefix}-map-town")).await;
        c.close().await.unwrap();
    }
    // The town clerk sees the town's 50 houses only; zoomed in on a cluster, the houses
    // themselves, and a click opens one.
    let c = stage.open_at(1920, 1080, "map-clerk", "/map").await;
    wait_for(&c, "#map[data-loaded='cells']", "map-clerk").await;
    // The clerk's whole scope at county scale, asked with the clerk's session.
    let total = js(&c, "var x = new XMLHttpRequest(); x.open('GET', '/map/data?zoom=10', false); x.send(); \
             return JSON.parse(x.responseText).cells.reduce(function (s, c) { return s + c.n; }, 0);").await
        .as_i64()
        .unwrap();
    assert_eq!(
        total, 50,
        "the other town's 25 houses are not on the clerk's map"
    );
    stage.go(&c, "/map?q=").await;
    wait_for(&c, "#map[data-loaded]", "map-clerk-again").await;
    // Zoom in on the first cluster (a click zooms by two, twice more by the control).
    js(&c, "var el = document.querySelector('.cluster'); el.dispatchEvent(new MouseEvent('click', {bubbles: true}));").await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        if c.find(Locator::Css("#map[data-loaded='points']"))
            .await
            .is_ok()
        {
            break;
        }
        click(&c, ".leaflet-control-zoom-in").await;
    }
    wait_for(&c, "#map[data-loaded='points']", "map-points").await;
    scroll_to_map(&c).await;
    shot(&c, "desktop-map-points").await;
    js(&c, "var p = document.querySelector('path.leaflet-interactive'); p.dispatchEvent(new MouseEvent('click', {bubbles: true}));").await;
    wait_for_url(&c, "/houses/AJ").await;
    c.close().await.unwrap();
}

/// Scrolls the map to the top of the window (for its screenshot).
async fn scroll_to_map(c: &Client) {
    js(
        c,
        "document.querySelector('[data-map]').scrollIntoView(); return true;",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}
