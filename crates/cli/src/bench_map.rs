//! `anju bench --only map`: the map's data endpoint under load, at county and town scale.
//!
//! Over HTTP (`/map/data`, county-wide account, `conns` keep-alive connections): the county at
//! zooms 9–12 (cells of the whole scope) and each town at zoom 12. Beside it, in the same run:
//! the same answers through the store (`Access::map_data`, which keeps an answer while the
//! audit chain's head is unchanged, as the list's totals are kept), and the work that cache
//! saves — the county's cells read afresh from the counted cells (`map_cells`, what a request
//! after a write reads), from every house through the store, and by the bare `GROUP BY` over
//! the houses. Then the county over HTTP while a write lands every 200 ms, so answers are
//! recounted all the time.

use crate::bench_web::{Target, direct_load, param, paths};
use anju_store::houses::list::HouseFilter;
use anju_store::houses::map::CellSource;
use std::sync::Arc;
use std::time::Duration;

/// The county's cells at zoom 10 by the bare statement (no scope beyond the county's range,
/// no filter): what `map.rs` sends, written out.
const BARE: &str = "SELECT h.gx / $3 AS cx, h.gy / $3 AS cy, h.status, h.grade, COUNT(*), SUM(h.gx), SUM(h.gy), \
    SUM(CASE WHEN ((h.facts & $4) = $4 OR (h.facts & $5) = $5) THEN 1 ELSE 0 END) \
    FROM houses h WHERE h.village_code >= $1 AND h.village_code < $2 AND h.gx IS NOT NULL \
    GROUP BY h.gx / $3, h.gy / $3, h.status, h.grade";

type BareRow = (i64, i64, String, Option<String>, i64, i64, i64, i64);

pub async fn bench_map(target: &Target<'_>) -> anyhow::Result<()> {
    let store = target.store;
    let (cookie, principal, towns) = crate::bench_web::county_login(store, "bench-map").await?;
    let mut views: Vec<(Option<String>, u8)> = (9..=12).map(|z| (None, z)).collect();
    views.extend(towns.iter().map(|t| (Some(t.clone()), 12)));
    let urls = paths(&views, |(t, z)| {
        format!("/map/data?{}zoom={z}", param("town", t.as_ref()))
    });
    let county_only = Arc::new(vec!["/map/data?zoom=10".to_string()]);
    // Zoomed in on each town's centre (about a 1920×1080 screen): at 14, the counted cells of
    // the view's box; at 16, the houses in it.
    let places = store.access(&principal, "bench").map_places().await?;
    let views_at = |zoom: u8, half_lon: f64, half_lat: f64| {
        Arc::new(
            places
                .iter()
                .filter(|p| towns.contains(&p.code))
                .map(|p| {
                    format!(
                        "/map/data?zoom={zoom}&west={}&south={}&east={}&north={}",
                        p.lon - half_lon,
                        p.lat - half_lat,
                        p.lon + half_lon,
                        p.lat + half_lat
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    let zoomed = views_at(14, 0.08, 0.04);
    let closest = views_at(16, 0.02, 0.01);
    let (addr, server) = crate::bench_web::spawn_server(store).await?;

    // Cold: the county's cells read afresh, one at a time, from each source; then the
    // counted cells under `conns` concurrent readers.
    let scope = principal.scope();
    let county = *scope
        .region()
        .ok_or_else(|| anyhow::anyhow!("the county login has no region"))?;
    let fresh = |source| {
        let s = store.clone();
        async move {
            let mut times = vec![];
            let mut cells = 0;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let none = HouseFilter::default();
                let got = s
                    .system("bench")
                    .narrowed_to(&county)
                    .map_cells_fresh(&none, 10, source)
                    .await?;
                cells = got.map_or(0, |c| c.len());
                times.push(t.elapsed());
            }
            anyhow::Ok((times, cells))
        }
    };
    store.compact_map_cells().await?;
    let (counted, cells) = fresh(CellSource::Counted).await?;
    let (scanned, scanned_cells) = fresh(CellSource::Houses).await?;
    anyhow::ensure!(
        cells == scanned_cells,
        "the counted cells ({cells}) and the houses ({scanned_cells}) disagree"
    );
    let counted_rows: i64 = anju_store::on_db!(store.system("bench").db(), p => sqlx::query_scalar("SELECT COUNT(*) FROM map_cells").fetch_one(p).await)?;
    let sp = anju_store::infra::scope::ScopeParams::of(&scope);
    let mut bare = vec![];
    let mut bare_rows = 0;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let rows: Vec<BareRow> = anju_store::on_db!(store.system("bench").db(), p => sqlx::query_as(BARE)
            .bind(&sp.lo).bind(&sp.hi).bind(anju_store::houses::map::cell_side(10))
            .bind(i64::from(anju_domain::ledger::Facts::NEEDS_NOTICE.bits()))
            .bind(i64::from(anju_domain::ledger::Facts::NEEDS_ENGINEERING.bits()))
            .fetch_all(p).await)?;
        bare_rows = rows.len();
        bare.push(t.elapsed());
    }
    let s = store.clone();
    let cold_load = direct_load(target.conns(), target.time(), move |_| {
        let s = s.clone();
        async move {
            s.system("bench")
                .narrowed_to(&county)
                .map_cells_fresh(&HouseFilter::default(), 10, CellSource::Counted)
                .await?;
            Ok(())
        }
    })
    .await?;

    // Warm: every view asked once, then under load.
    target.warm_up(addr, &cookie, urls.clone()).await?;
    let county_http = target.http(addr, &cookie, county_only.clone()).await?;
    let mixed_http = target.http(addr, &cookie, urls).await?;
    // A write every 200 ms (the base-map setting, which appends an audit row) moves the head.
    let writes = {
        let (s, p) = (store.clone(), principal.clone());
        tokio::spawn(async move {
            let mut n = 0_u64;
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let url = format!("https://tiles{}.example.cn/{{z}}/{{x}}/{{y}}.png", n % 2);
                if s.set_map_tiles(&p, &url, "", "bench").await.is_ok() {
                    n += 1;
                }
            }
        })
    };
    let county_writes = target.http(addr, &cookie, county_only.clone()).await?;
    let zoomed_writes = target.http(addr, &cookie, zoomed.clone()).await?;
    let closest_writes = target.http(addr, &cookie, closest.clone()).await?;
    writes.abort();
    let direct = target
        .direct(&principal, &views, |s, p, (town, zoom)| async move {
            let filter = HouseFilter {
                town: town
                    .as_deref()
                    .and_then(|t| anju_domain::RegionCode::parse(t).ok()),
                ..HouseFilter::default()
            };
            s.access(&p, "bench").map_data(&filter, zoom, None).await
        })
        .await?;
    server.abort();

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    target.print_heading("map");
    county_http.print("county cells, zoom 10 (HTTP /map/data)");
    mixed_http.print("county zooms 9-12 and each town at 12 (HTTP)");
    direct.print("  the same through the store");
    county_writes.print("county cells, zoom 10, a write every 200 ms (HTTP)");
    zoomed_writes.print(&format!(
        "each town's centre at zoom 14 ({} views), a write every 200 ms (HTTP)",
        zoomed.len()
    ));
    closest_writes.print(&format!(
        "each town's centre at zoom 16, the houses ({} views), a write every 200 ms (HTTP)",
        closest.len()
    ));
    let med = |v: &[Duration]| ms(crate::bench::median(v.to_vec()));
    let max = |v: &[Duration]| ms(*v.iter().max().unwrap_or(&Duration::ZERO));
    println!(
        "  county cells read afresh, alone ({cells} cells): from the counted cells ({counted_rows} rows) median {:.1} ms, max {:.1} ms; from every house median {:.0} ms, max {:.0} ms; bare GROUP BY over the houses median {:.0} ms ({bare_rows} rows)",
        med(&counted),
        max(&counted),
        med(&scanned),
        max(&scanned),
        med(&bare),
    );
    cold_load.print("  read afresh from the counted cells under load (store)");
    anyhow::ensure!(
        county_http.errors == 0
            && mixed_http.errors == 0
            && county_writes.errors == 0
            && zoomed_writes.errors == 0
            && closest_writes.errors == 0
            && county_http.requests > 0,
        "the server answered with errors under load"
    );
    Ok(())
}
