//! `anju bench --only web`: the web application under load. The real router and server on
//! 127.0.0.1, a built-in HTTP/1.1 load generator (keep-alive connections, each sending its next
//! request as soon as the last answer is read), for a fixed time per endpoint:
//!
//! - the house list with a filter (`/houses?town=…&judgement=…&page=…`, county-wide account);
//! - the house page (`/houses/{code}`, random houses);
//! - `/healthz`, the floor of the HTTP stack and the generator on this machine;
//!
//! and side by side, in the same run and at the same concurrency, the same reads through the
//! store without HTTP (`Access::houses_page`; `Access::house` + `Access::house_events`), so the
//! ratio shows what sessions, templates and HTTP add. Client and server share the machine's
//! cores, as `oha` or `wrk` on the same host would.

use crate::bench::BenchArgs;
use anju_domain::Coded;
use anju_domain::auth::Principal;
use anju_domain::event::Role;
use anju_store::houses::list::{HouseFilter, Sort};
use anju_store::{NewAccount, Store};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one endpoint did under load.
pub struct Load {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Load {
    pub(crate) fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    pub(crate) fn pct(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1]
    }
    pub(crate) fn line(&self, what: &str) -> String {
        format!(
            "{what}: {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests, {} errors)",
            self.rps(),
            self.pct(0.50).as_secs_f64() * 1e3,
            self.pct(0.99).as_secs_f64() * 1e3,
            self.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            self.requests,
            self.errors
        )
    }

    /// Prints this load's figures as a row of a benchmark's report.
    pub(crate) fn print(&self, what: &str) {
        println!("  {}", self.line(what));
    }
}

/// `name=value&` for a value, nothing for none: an optional query parameter.
pub(crate) fn param(name: &str, value: Option<&impl std::fmt::Display>) -> String {
    value.map_or_else(String::new, |v| format!("{name}={v}&"))
}

/// The paths a load asks for, one per item, shared by its connections.
pub(crate) fn paths<T>(items: &[T], path: impl Fn(&T) -> String) -> Arc<Vec<String>> {
    Arc::new(items.iter().map(path).collect())
}

/// The server `anju serve` runs, with its limits, over `store` on a free port of 127.0.0.1: its
/// address, and its task to abort when done.
pub(crate) async fn spawn_server(
    store: &Store,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = anju_web::router(anju_web::AppState::new(
        store.clone(),
        anju_web::WebOptions::default(),
    )?);
    let server = tokio::spawn(crate::serve::run_server(
        listener,
        app,
        crate::serve::ServerLimits::default(),
        std::future::pending(),
    ));
    Ok((addr, server))
}

/// What the web and map benchmarks load: a demo county of `args.houses` houses in `store` on
/// `backend`, through `args.connections` connections for `args.seconds` per endpoint.
pub struct Target<'a> {
    pub store: &'a Store,
    pub backend: &'a str,
    pub args: &'a BenchArgs,
}

impl Target<'_> {
    pub(crate) fn conns(&self) -> usize {
        self.args.connections
    }

    pub(crate) fn time(&self) -> Duration {
        Duration::from_secs(self.args.seconds)
    }

    /// Prints the report's first line, e.g. `[sqlite] web, 1000 houses, 64 connections, 15 s each:`.
    pub(crate) fn print_heading(&self, what: &str) {
        println!(
            "[{}] {what}, {} houses, {} connections, {} s each:",
            self.backend,
            self.args.houses,
            self.conns(),
            self.args.seconds
        );
    }

    /// [`http_load`] of `paths` through this target's connections for its time.
    pub(crate) async fn http(
        &self,
        addr: SocketAddr,
        cookie: &str,
        paths: Arc<Vec<String>>,
    ) -> anyhow::Result<Load> {
        http_load(addr, cookie, paths, self.conns(), self.time()).await
    }

    /// Every one of `paths` asked for two seconds, to warm caches and connections.
    pub(crate) async fn warm_up(
        &self,
        addr: SocketAddr,
        cookie: &str,
        paths: Arc<Vec<String>>,
    ) -> anyhow::Result<()> {
        http_load(addr, cookie, paths, self.conns(), Duration::from_secs(2)).await?;
        Ok(())
    }

    /// [`direct_load`] over `items` in turn: each call is handed the store, the principal and
    /// its item; what it answers is dropped, an error counted.
    pub(crate) async fn direct<T, F, Fut, R, E>(
        &self,
        principal: &Principal,
        items: &[T],
        work: F,
    ) -> anyhow::Result<Load>
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(Store, Principal, T) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<R, E>> + Send,
        E: Into<anyhow::Error>,
    {
        let (store, principal, items) = (self.store.clone(), principal.clone(), items.to_vec());
        direct_load(self.conns(), self.time(), move |i| {
            let answer = work(
                store.clone(),
                principal.clone(),
                items[i % items.len()].clone(),
            );
            async move { answer.await.map(drop).map_err(Into::into) }
        })
        .await
    }
}

fn merge(parts: Vec<(usize, Vec<Duration>)>, elapsed: Duration) -> Load {
    let mut latencies = vec![];
    let mut errors = 0;
    for (e, l) in parts {
        errors += e;
        latencies.extend(l);
    }
    latencies.sort();
    Load {
        requests: latencies.len(),
        errors,
        elapsed,
        latencies,
    }
}

/// `conns` keep-alive connections GET `paths` in turn for `time`; non-200 answers are errors.
pub async fn http_load(
    addr: SocketAddr,
    cookie: &str,
    paths: Arc<Vec<String>>,
    conns: usize,
    time: Duration,
) -> anyhow::Result<Load> {
    let start = Instant::now();
    let deadline = start + time;
    let mut tasks = vec![];
    for c in 0..conns {
        let paths = paths.clone();
        let cookie = cookie.to_string();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(
                hyper_util::rt::TokioIo::new(stream),
            )
            .await?;
            tokio::spawn(conn);
            let (mut errors, mut lat) = (0usize, Vec::with_capacity(4096));
            let mut i = c;
            while Instant::now() < deadline {
                let path = &paths[i % paths.len()];
                i += conns;
                let req = hyper::Request::get(path.as_str())
                    .header(hyper::header::HOST, "127.0.0.1")
                    .header(hyper::header::COOKIE, &cookie)
                    .body(Empty::<Bytes>::new())?;
                let t = Instant::now();
                sender.ready().await?;
                let res = sender.send_request(req).await?;
                let ok = res.status() == hyper::StatusCode::OK;
                let body = res.into_body().collect().await?.to_bytes();
                lat.push(t.elapsed());
                if !ok || body.is_empty() {
                    errors += 1;
                }
            }
            anyhow::Ok((errors, lat))
        }));
    }
    let mut parts = vec![];
    for t in tasks {
        parts.push(t.await??);
    }
    Ok(merge(parts, start.elapsed()))
}

/// `conns` tasks run `work(i)` in turn for `time` (the same reads without HTTP).
pub(crate) async fn direct_load<F, Fut>(
    conns: usize,
    time: Duration,
    work: F,
) -> anyhow::Result<Load>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let work = Arc::new(work);
    let start = Instant::now();
    let deadline = start + time;
    let mut tasks = vec![];
    for c in 0..conns {
        let work = work.clone();
        tasks.push(tokio::spawn(async move {
            let (mut errors, mut lat) = (0usize, Vec::with_capacity(4096));
            let mut i = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = work(i).await;
                lat.push(t.elapsed());
                if r.is_err() {
                    errors += 1;
                }
                i += conns;
            }
            (errors, lat)
        }));
    }
    let mut parts = vec![];
    for t in tasks {
        parts.push(t.await?);
    }
    Ok(merge(parts, start.elapsed()))
}

/// The list filters sent: each town × two judgements × pages 1–3.
fn list_paths(towns: &[String]) -> Vec<(String, HouseFilter, i64)> {
    use anju_domain::dict::Judgement;
    let mut out = vec![];
    for t in towns {
        for j in [Judgement::Hazard, Judgement::NoHazard] {
            for page in 1..=3 {
                let filter = HouseFilter {
                    town: anju_domain::RegionCode::parse(t).ok(),
                    judgement: Some(j),
                    ..HouseFilter::default()
                };
                out.push((
                    format!("/houses?town={t}&judgement={}&page={page}", j.code()),
                    filter,
                    page,
                ));
            }
        }
    }
    out
}

/// A county-office account made for a benchmark and logged in: its session cookie, its
/// principal and the county's current towns (shared by the web and map benchmarks).
pub(crate) async fn county_login(
    store: &Store,
    username: &str,
) -> anyhow::Result<(String, Principal, Vec<String>)> {
    let password = "Bench-2024q";
    let account = NewAccount {
        username: username.into(),
        display_name: "压测".into(),
        role: Role::CountyOffice,
        region: Some(anju_domain::RegionCode::parse("370829").context("county code")?),
        department: None,
    };
    store
        .create_demo_account(&Principal::system(), &account, password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let login = store
        .login(username, password, None, "bench", chrono::Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let towns = store
        .reference()
        .regions
        .iter()
        .filter(|r| r.level == anju_domain::RegionLevel::Town && r.valid_to.is_none())
        .map(|r| r.code.to_string())
        .collect();
    Ok((
        format!("anju_session={}", login.token),
        login.session.principal.clone(),
        towns,
    ))
}

pub async fn bench_web(target: &Target<'_>) -> anyhow::Result<()> {
    let store = target.store;
    let (cookie, principal, towns) = county_login(store, "bench-county").await?;
    let lists = list_paths(&towns);
    // Every 97th house, shuffled by a fixed stride so neighbours are not read together.
    let codes: Vec<String> = anju_store::on_db!(store.system("bench").db(), p => sqlx::query_scalar(
        "SELECT code FROM houses WHERE id % 97 = 0 ORDER BY id LIMIT 10000").fetch_all(p).await)?;
    anyhow::ensure!(!codes.is_empty(), "no houses");
    let codes: Vec<String> = (0..codes.len())
        .map(|i| codes[(i * 7919) % codes.len()].clone())
        .collect();

    let (addr, server) = spawn_server(store).await?;

    let list_urls = paths(&lists, |x| x.0.clone());
    let house_urls = paths(&codes, |c| format!("/houses/{c}"));
    // The county's 合计 drill-down of 附件2 (已排查, column 0), 20 pages, and each town's first,
    // 50 a page: the page that was one 20,000-row answer.
    let pages: Vec<(Option<anju_domain::RegionCode>, u64)> = (1..=20)
        .map(|page| (None, page))
        .chain(
            towns
                .iter()
                .map(|t| (anju_domain::RegionCode::parse(t).ok(), 1)),
        )
        .collect();
    let drill_urls = paths(&pages, |(g, page)| {
        let group = param("group", g.as_ref());
        format!("/ledgers/2/houses?column=0&{group}page={page}&size=50")
    });
    // 回头看: the legacy closures still to be looked back at, in the same pages.
    let lookback_urls = paths(&pages, |(t, page)| {
        format!("/lookback?{}page={page}&size=50", param("town", t.as_ref()))
    });
    let health = Arc::new(vec!["/healthz".to_string()]);
    // Warm up caches and connections.
    for urls in [&list_urls, &house_urls, &drill_urls, &lookback_urls] {
        target.warm_up(addr, &cookie, urls.clone()).await?;
    }
    let list = target.http(addr, &cookie, list_urls).await?;
    let lookback = target.http(addr, &cookie, lookback_urls).await?;
    let drill = target.http(addr, &cookie, drill_urls).await?;
    let page = target.http(addr, &cookie, house_urls).await?;
    let floor = target.http(addr, &cookie, health).await?;
    let list_direct = target
        .direct(&principal, &lists, |s, p, (_, filter, page)| async move {
            s.access(&p, "bench")
                .houses_page(&filter, Sort::Code, page, 50)
                .await
        })
        .await?;
    let drill_direct = target
        .direct(&principal, &pages, |s, p, (group, page)| async move {
            s.access(&p, "bench")
                .ledger_houses_page(
                    anju_domain::ledger::Form::Attachment2,
                    None,
                    anju_domain::ledger::AsOf::Now,
                    0,
                    group.as_ref(),
                    (page, 50),
                )
                .await
        })
        .await?;
    // The same mix as over HTTP: 20 county pages, then each town's first.
    let lookback_direct = target
        .direct(&principal, &pages, |s, p, (town, page)| async move {
            s.access(&p, "bench")
                .lookback_pending_page(town.as_ref(), (page, 50))
                .await
        })
        .await?;
    let page_direct = target
        .direct(&principal, &codes, |s, p, code| async move {
            let code = anju_domain::HouseCode::parse(&code)?;
            let a = s.access(&p, "bench");
            a.house(&code).await?;
            a.house_events(&code).await?;
            anyhow::Ok(())
        })
        .await?;
    server.abort();

    target.print_heading("web");
    let same = "  the same through the store";
    list.print("房屋 list with a filter (HTTP)");
    list_direct.print(same);
    drill.print("附件2 合计 drill-down, 50 a page (HTTP)");
    drill_direct.print(same);
    lookback.print("回头看 pending list, 50 a page (HTTP)");
    lookback_direct.print(same);
    page.print("房屋 page (HTTP)");
    page_direct.print(same);
    floor.print("/healthz (HTTP floor)");
    println!(
        "  ratios HTTP/store: list {:.2}× (throughput {:.2}×), page {:.2}× (throughput {:.2}×)",
        list.pct(0.99).as_secs_f64() / list_direct.pct(0.99).as_secs_f64().max(1e-9),
        list_direct.rps() / list.rps().max(1e-9),
        page.pct(0.99).as_secs_f64() / page_direct.pct(0.99).as_secs_f64().max(1e-9),
        page_direct.rps() / page.rps().max(1e-9),
    );
    anyhow::ensure!(
        list.errors == 0
            && page.errors == 0
            && drill.errors == 0
            && lookback.errors == 0
            && lookback.requests > 0
            && list.requests > 0
            && page.requests > 0
            && drill.requests > 0,
        "the server answered with errors under load"
    );
    Ok(())
}
