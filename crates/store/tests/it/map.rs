//! The map on both backends: positions in the projection (record, survey overriding), cells
//! and points counted by hand on a small fixture, filters, scope, the cache following writes,
//! and the backfill of houses stored before migration 0010.

use anju_domain::Scope;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::{Change, GeoFix};
use anju_domain::sample;
use anju_store::houses::list::HouseFilter;
use anju_store::houses::map::{Bbox, MapData};
use anju_store::testing::*;
use anju_store::{Store, on_db};

/// A house registered at `at` (经度, 纬度), or without a position.
async fn house<'a>(
    store: &'a Store,
    serial: u32,
    village: &str,
    at: Option<(f64, f64)>,
) -> House<'a> {
    let mut record = sample::record(RegionCode::parse(village).unwrap(), UsageCategory::Other);
    record.longitude = at.map(|p| p.0);
    record.latitude = at.map(|p| p.1);
    House::register_record(store, serial, record, registration_day()).await
}

fn survey_at(j: Judgement, lon: f64, lat: f64) -> Change {
    let mut s = sample::survey(j);
    s.location = Some(GeoFix {
        longitude: lon,
        latitude: lat,
        accuracy_m: Some(8.0),
    });
    Change::Surveyed(Box::new(s))
}

/// Fixture (town 370829101 holds VILLAGE, town 370829102 OTHER_VILLAGE):
/// 1 at (116.30, 35.40), no hazard; 2 registered at (116.31, 35.41) but surveyed at
/// (116.60, 35.70), appraised C, notified; 3 at (116.32, 35.42), appraised D, not notified;
/// 4 at (116.33, 35.43) in the other town, not surveyed; 5 without a position.
async fn fixture(store: &Store) {
    with_villages(store).await;
    let mut h1 = house(store, 1, VILLAGE, Some((116.30, 35.40))).await;
    h1.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let mut h2 = house(store, 2, VILLAGE, Some((116.31, 35.41))).await;
    h2.ok(&clerk(), survey_at(Judgement::Hazard, 116.60, 35.70))
        .await;
    h2.ok(&appraiser(), appraise(Grade::C)).await;
    h2.ok(&clerk(), notify()).await;
    let mut h3 = house(store, 3, VILLAGE, Some((116.32, 35.42))).await;
    h3.ok(&clerk(), survey(Judgement::Hazard)).await;
    h3.ok(&appraiser(), appraise(Grade::D)).await;
    house(store, 4, OTHER_VILLAGE, Some((116.33, 35.43))).await;
    house(store, 5, VILLAGE, None).await;
}

type Row = (String, Option<f64>, Option<f64>, Option<i32>, Option<i32>);

async fn positions(store: &Store) -> Vec<Row> {
    const SQL: &str = "SELECT code, lon, lat, gx, gy FROM houses ORDER BY code";
    on_db!(store.db_for_tests(), p => sqlx::query_as(SQL).fetch_all(p).await).unwrap()
}

fn serial(code: &str) -> u32 {
    code[8..16].parse().unwrap()
}

/// (cell n, status counts, grade counts, overdue) of each cell, by position.
/// A cell as compared: (n, status counts, grade counts, overdue, lon, lat).
type CellView = (i64, Vec<(String, i64)>, Vec<(String, i64)>, i64, f64, f64);

fn cells(d: &MapData) -> Vec<CellView> {
    let MapData::Cells { cells, .. } = d else {
        panic!("cells expected: {d:?}")
    };
    cells
        .iter()
        .map(|c| {
            (
                c.n,
                c.status.clone().into_iter().collect(),
                c.grade.clone().into_iter().collect(),
                c.overdue,
                c.lon,
                c.lat,
            )
        })
        .collect()
}

fn s(k: &str, n: i64) -> (String, i64) {
    (k.to_string(), n)
}

async fn the_projection_holds_the_survey_position_else_the_records(store: &Store) {
    fixture(store).await;
    let rows = positions(store).await;
    let at = |n: u32| rows.iter().find(|r| serial(&r.0) == n).unwrap().clone();
    // 116.30 × 4096 = 476364.8, 35.40 × 4096 = 144998.4: the fine cell is the floor.
    assert_eq!((at(1).1, at(1).2), (Some(116.30), Some(35.40)));
    assert_eq!((at(1).3, at(1).4), (Some(476364), Some(144998)));
    // The survey's fix replaces the record's position: 116.60 × 4096 = 477593.6.
    assert_eq!((at(2).1, at(2).2), (Some(116.60), Some(35.70)));
    assert_eq!((at(2).3, at(2).4), (Some(477593), Some(146227)));
    assert_eq!((at(5).1, at(5).3), (None, None));
}

async fn cells_are_counted_by_status_grade_and_overdue(store: &Store) {
    let county = store.system("test");
    fixture(store).await;
    // Zoom 10: cells of 512 fine cells (1/8°). Houses 1, 3, 4 fall in cell (930, 283)
    // (476364 / 512 = 930.4, 144998 / 512 = 283.2; 3 and 4 likewise), house 2 in (932, 285);
    // house 5 has no position.
    let all = county
        .map_data(&HouseFilter::default(), 10, None)
        .await
        .unwrap();
    let got = cells(&all);
    assert_eq!(got.len(), 2, "{got:?}");
    let (n, st, gr, late, lon, lat) = got[0].clone();
    assert_eq!(n, 3);
    assert_eq!(
        st,
        vec![
            s("awaiting_rectification", 1),
            s("awaiting_survey", 1),
            s("no_hazard", 1)
        ]
    );
    assert_eq!(gr, vec![s("d", 1), s("none", 2)]);
    assert_eq!(late, 1, "house 3: D and not notified");
    // The centre: the mean fine cell of 1, 3, 4 plus half a cell, about (116.3167, 35.4167).
    assert!(
        (lon - (116.30 + 116.32 + 116.33) / 3.0).abs() < 0.0003,
        "{lon}"
    );
    assert!(
        (lat - (35.40 + 35.42 + 35.43) / 3.0).abs() < 0.0003,
        "{lat}"
    );
    let (n, st, gr, late, lon, _) = got[1].clone();
    assert_eq!(
        (n, st, gr, late),
        (1, vec![s("awaiting_rectification", 1)], vec![s("c", 1)], 1)
    );
    assert!((lon - 116.60).abs() < 0.0003);
    if let MapData::Cells { side, .. } = &*all {
        assert_eq!(*side, 0.125);
    }
    // The town's scope leaves out house 4.
    let town = Scope::Region {
        code: RegionCode::parse("370829101").unwrap(),
    };
    let got = cells(
        &store
            .system("test")
            .within(&town)
            .map_data(&HouseFilter::default(), 10, None)
            .await
            .unwrap(),
    );
    assert_eq!(
        got.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![2, 1],
        "{got:?}"
    );
    // The list's filters apply: grade D is house 3 alone.
    let d = HouseFilter {
        grade: Some(Grade::D),
        ..HouseFilter::default()
    };
    let got = cells(&county.map_data(&d, 10, None).await.unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].2.clone()), (1, vec![s("d", 1)]));
    // Another town's filter within the town's scope: nothing.
    let other = HouseFilter {
        town: Some(RegionCode::parse("370829102").unwrap()),
        ..HouseFilter::default()
    };
    assert!(
        cells(
            &store
                .system("test")
                .within(&town)
                .map_data(&other, 10, None)
                .await
                .unwrap()
        )
        .is_empty()
    );
    // A write moves the audit head: the cached answer is not served again.
    house(store, 6, OTHER_VILLAGE, Some((116.33, 35.43))).await;
    let got = cells(
        &county
            .map_data(&HouseFilter::default(), 10, None)
            .await
            .unwrap(),
    );
    assert_eq!(got[0].0, 4);
}

async fn zoomed_in_the_map_shows_the_houses_in_view(store: &Store) {
    let county = store.system("test");
    fixture(store).await;
    let view = Bbox {
        west: 116.29,
        south: 35.39,
        east: 116.34,
        north: 35.44,
    };
    let points = |d: &MapData| match d {
        MapData::Points { points } => points
            .iter()
            .map(|p| {
                (
                    serial(&p.code),
                    p.status.clone(),
                    p.grade.clone(),
                    p.overdue,
                )
            })
            .collect::<Vec<_>>(),
        other => panic!("points expected: {other:?}"),
    };
    let all = county
        .map_data(&HouseFilter::default(), 16, Some(view))
        .await
        .unwrap();
    assert_eq!(
        points(&all),
        vec![
            (1, "no_hazard".to_string(), None, false),
            (
                3,
                "awaiting_rectification".to_string(),
                Some("d".to_string()),
                true
            ),
            (4, "awaiting_survey".to_string(), None, false),
        ]
    );
    let town = Scope::Region {
        code: RegionCode::parse("370829102").unwrap(),
    };
    let mine = store
        .system("test")
        .within(&town)
        .map_data(&HouseFilter::default(), 16, Some(view))
        .await
        .unwrap();
    assert_eq!(
        points(&mine),
        vec![(4, "awaiting_survey".to_string(), None, false)]
    );
    // Zoom 13 answers cells of the view: (116.29–116.34) leaves out house 2 at 116.60.
    let got = cells(
        &county
            .map_data(&HouseFilter::default(), 13, Some(view))
            .await
            .unwrap(),
    );
    assert_eq!(got.iter().map(|c| c.0).sum::<i64>(), 3);
    // The places: each town and village at the centre of its located houses.
    let places = county.map_places().await.unwrap();
    let got: Vec<(String, i64)> = places.iter().map(|p| (p.code.clone(), p.n)).collect();
    assert_eq!(
        got,
        vec![
            ("370829101000".to_string(), 3),
            ("370829102000".to_string(), 1),
            (VILLAGE.to_string(), 3),
            (OTHER_VILLAGE.to_string(), 1),
        ]
    );
    let places = store
        .system("test")
        .within(&town)
        .map_places()
        .await
        .unwrap();
    assert_eq!(places.len(), 2);
}

anju_store::both!(
    the_projection_holds_the_survey_position_else_the_records,
    cells_are_counted_by_status_grade_and_overdue,
    zoomed_in_the_map_shows_the_houses_in_view,
);

/// Houses stored before migration 0010 (no position, the marker row present) get their
/// positions when the database is next opened, once.
async fn backfill(db: TestDb) {
    fixture(&db.store).await;
    let before = positions(&db.store).await;
    on_db!(db.store.db_for_tests(), p => {
        sqlx::query("UPDATE houses SET lon = NULL, lat = NULL, gx = NULL, gy = NULL").execute(p).await.unwrap();
        sqlx::query("INSERT INTO map_backfill_pending (id) VALUES (1)").execute(p).await.unwrap();
    });
    assert!(positions(&db.store).await.iter().all(|r| r.1.is_none()));
    let vault = anju_store::Vault::from_json(&db.store.vault().to_json()).unwrap();
    let reopened = Store::open(&db.url, vault).await.unwrap();
    assert_eq!(positions(&reopened).await, before);
    let pending: i64 = on_db!(reopened.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM map_backfill_pending").fetch_one(p).await).unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_sqlite() {
    backfill(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_postgres() {
    backfill(postgres().await).await;
}

/// The cells of the whole scope from the counted cells equal those from every house, for
/// several scopes, filters and zooms (the counted cells cannot answer a search).
async fn counted_equals_houses(store: &Store) {
    use anju_domain::Status;
    use anju_store::houses::map::CellSource;
    let town = |c: &str| Scope::Region {
        code: RegionCode::parse(c).unwrap(),
    };
    let scopes = [
        Scope::All,
        town("370829101"),
        town("370829102"),
        town(VILLAGE),
    ];
    let filters = [
        HouseFilter::default(),
        HouseFilter {
            status: Some(Status::AwaitingRectification),
            ..HouseFilter::default()
        },
        HouseFilter {
            grade: Some(Grade::D),
            ..HouseFilter::default()
        },
        HouseFilter {
            judgement: Some(Judgement::Hazard),
            town: Some(RegionCode::parse("370829101").unwrap()),
            ..HouseFilter::default()
        },
        HouseFilter {
            business: Some(false),
            ..HouseFilter::default()
        },
    ];
    for scope in &scopes {
        for filter in &filters {
            for zoom in [0, 6, 9, 10, 11, 12] {
                let counted = store
                    .system("test")
                    .within(scope)
                    .map_cells_fresh(filter, zoom, CellSource::Counted)
                    .await
                    .unwrap()
                    .expect("the counted cells answer this filter");
                let houses = store
                    .system("test")
                    .within(scope)
                    .map_cells_fresh(filter, zoom, CellSource::Houses)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(counted, houses, "{scope:?} {filter:?} zoom {zoom}");
            }
        }
    }
    let searched = HouseFilter {
        q: Some("张".into()),
        ..HouseFilter::default()
    };
    let none = store
        .system("test")
        .map_cells_fresh(&searched, 10, CellSource::Counted)
        .await
        .unwrap();
    assert!(none.is_none());
}

async fn map_cell_rows(store: &Store) -> i64 {
    on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM map_cells").fetch_one(p).await)
        .unwrap()
}

/// Totals of the county's cells at zoom 10: (houses, overdue).
async fn county_totals(store: &Store) -> (i64, i64) {
    let d = store
        .system("test")
        .map_data(&HouseFilter::default(), 10, None)
        .await
        .unwrap();
    let got = cells(&d);
    (got.iter().map(|c| c.0).sum(), got.iter().map(|c| c.3).sum())
}

/// The counted cells (`map_cells`, kept by triggers) follow every kind of write: a house
/// registered with and without a position, surveyed elsewhere, appraised, notified, moved to
/// another village, its position cleared, deleted; compaction keeps the answers and leaves one
/// row per key.
async fn the_counted_cells_follow_every_write(store: &Store) {
    fixture(store).await;
    counted_equals_houses(store).await;
    // Houses 1–4 are located: 4 houses, overdue: 2 (C not notified? no — 2 is notified, so
    // overdue for want of engineering) and 3 (D, not notified).
    assert_eq!(county_totals(store).await, (4, 2));
    // House 6 is registered in the other town, surveyed with a hazard at a new position and
    // appraised D (overdue), then notified (still overdue: no engineering begun).
    let mut h6 = house(store, 6, OTHER_VILLAGE, Some((116.33, 35.43))).await;
    h6.ok(&clerk(), survey_at(Judgement::Hazard, 116.90, 35.90))
        .await;
    h6.ok(&appraiser(), appraise(Grade::D)).await;
    assert_eq!(county_totals(store).await, (5, 3));
    h6.ok(&clerk(), notify()).await;
    counted_equals_houses(store).await;
    assert_eq!(county_totals(store).await, (5, 3));
    // Every row so far is one house entering or leaving a key: more rows than houses.
    let before = map_cell_rows(store).await;
    assert!(before > 5, "{before}");
    // Moved to the other town's village, by the statement a region change would amount to;
    // house 4's position cleared; house 3 deleted (as a restore's emptying does).
    let of =
        |serial: &str| format!("(SELECT id FROM houses WHERE substr(code, 9, 8) = '{serial}')");
    let mut statements = vec![
        format!(
            "UPDATE houses SET village_code = '{OTHER_VILLAGE}', town_code = '370829102000' WHERE id = {}",
            of("00000001")
        ),
        format!(
            "UPDATE houses SET lon = NULL, lat = NULL, gx = NULL, gy = NULL WHERE id = {}",
            of("00000004")
        ),
    ];
    for t in [
        "house_people",
        "house_sectors",
        "events",
        "fact_spans",
        "assignments",
        "problems",
        "import_pending",
    ] {
        statements.push(format!(
            "DELETE FROM {t} WHERE house_id = {}",
            of("00000003")
        ));
    }
    statements.push(format!("DELETE FROM houses WHERE id = {}", of("00000003")));
    for statement in statements {
        on_db!(store.db_for_tests(), p => sqlx::query(sqlx::AssertSqlSafe(statement.clone())).execute(p).await.map(|_| ()))
            .unwrap();
    }
    counted_equals_houses(store).await;
    let fresh = |scope: Scope| async move {
        let got = store
            .system("test")
            .within(&scope)
            .map_cells_fresh(
                &HouseFilter::default(),
                10,
                anju_store::houses::map::CellSource::Counted,
            )
            .await
            .unwrap()
            .unwrap();
        got.iter().map(|c| c.n).sum::<i64>()
    };
    // Located now: 1 (other town), 2 (C, first town), 6 (other town).
    assert_eq!(fresh(Scope::All).await, 3);
    let other = Scope::Region {
        code: RegionCode::parse("370829102").unwrap(),
    };
    assert_eq!(fresh(other.clone()).await, 2);
    // Compaction: one row for each of the three houses (each has its own 1/128° cell and
    // classification), the same answers.
    let rows = store.compact_map_cells().await.unwrap();
    assert_eq!(rows, 3);
    assert_eq!(map_cell_rows(store).await, 3);
    counted_equals_houses(store).await;
    assert_eq!(fresh(other).await, 2);
    // Zoomed in (13, 14): the counted cells that meet a view holding all three houses.
    let view = Bbox {
        west: 116.0,
        south: 35.0,
        east: 117.0,
        north: 36.0,
    };
    for zoom in [13, 14] {
        let d = store
            .system("test")
            .map_data(&HouseFilter::default(), zoom, Some(view))
            .await
            .unwrap();
        assert_eq!(cells(&d).iter().map(|c| c.0).sum::<i64>(), 3, "zoom {zoom}");
    }
    // A second compaction changes nothing.
    assert_eq!(store.compact_map_cells().await.unwrap(), 3);
    counted_equals_houses(store).await;
}

anju_store::both!(the_counted_cells_follow_every_write);

/// Migration 0011 counts the houses a database already holds, once.
async fn counted_cells_migration(db: TestDb) {
    fixture(&db.store).await;
    let undo: &[&str] = match db.store.db_for_tests() {
        anju_store::infra::db::Db::Sqlite(_) => &[
            "DROP TRIGGER map_cells_insert",
            "DROP TRIGGER map_cells_update",
            "DROP TRIGGER map_cells_delete",
            "DROP TABLE map_cells",
            "DROP INDEX houses_tile",
            "DELETE FROM _sqlx_migrations WHERE version = 11",
        ],
        anju_store::infra::db::Db::Postgres(_) => &[
            "DROP FUNCTION map_cells_track() CASCADE",
            "DROP TABLE map_cells",
            "DROP INDEX houses_tile",
            "DELETE FROM _sqlx_migrations WHERE version = 11",
        ],
    };
    for statement in undo {
        on_db!(db.store.db_for_tests(), p => sqlx::query(*statement).execute(p).await.map(|_| ()))
            .unwrap();
    }
    assert_eq!(db.store.db_for_tests().migrate().await.unwrap(), vec![11]);
    // One row per located house (1–4 each in its own cell), counted by hand in the fixture.
    assert_eq!(map_cell_rows(&db.store).await, 4);
    counted_equals_houses(&db.store).await;
    assert_eq!(county_totals(&db.store).await, (4, 2));
    assert!(db.store.db_for_tests().migrate().await.unwrap().is_empty());
    // The triggers are back: a new located house is counted.
    house(&db.store, 6, OTHER_VILLAGE, Some((116.33, 35.43))).await;
    assert_eq!(county_totals(&db.store).await, (5, 2));
    counted_equals_houses(&db.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counted_cells_migration_sqlite() {
    counted_cells_migration(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counted_cells_migration_postgres() {
    counted_cells_migration(postgres().await).await;
}
