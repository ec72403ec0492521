//! The map on both backends: positions in the projection (record, survey overriding), cells
//! and points counted by hand on a small fixture, filters, scope, the cache following writes,
//! and the backfill of houses stored before migration 0010.

use anju_domain::Scope;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, RegistrationSource, UsageCategory};
use anju_domain::event::{Change, GeoFix};
use anju_domain::{HouseCode, sample};
use anju_store::list::HouseFilter;
use anju_store::map::{Bbox, MapData};
use anju_store::testing::*;
use anju_store::{Store, on_db};
use chrono::NaiveDate;

/// A house registered at `at` (经度, 纬度), or without a position.
async fn house<'a>(
    store: &'a Store,
    serial: u32,
    village: &str,
    at: Option<(f64, f64)>,
) -> House<'a> {
    let mut h = House {
        store,
        code: HouseCode::new(
            &RegionCode::parse(anju_domain::sample::JIAXIANG).unwrap(),
            serial,
        ),
        version: 0,
        day: NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
    };
    let mut record = sample::record(RegionCode::parse(village).unwrap(), UsageCategory::Other);
    record.platform_code = Some(format!("YH370829{serial:09}"));
    record.longitude = at.map(|p| p.0);
    record.latitude = at.map(|p| p.1);
    h.ok(
        &clerk(),
        Change::Registered {
            source: RegistrationSource::Census,
            plaque_token: format!("{serial:032x}"),
            record: Box::new(record),
            people: Box::new(sample::people()),
        },
    )
    .await;
    h
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
    on_db!(&store.db, p => sqlx::query_as(SQL).fetch_all(p).await).unwrap()
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
    fixture(store).await;
    // Zoom 10: cells of 512 fine cells (1/8°). Houses 1, 3, 4 fall in cell (930, 283)
    // (476364 / 512 = 930.4, 144998 / 512 = 283.2; 3 and 4 likewise), house 2 in (932, 285);
    // house 5 has no position.
    let all = store
        .map_data(&Scope::All, &HouseFilter::default(), 10, None)
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
            .map_data(&town, &HouseFilter::default(), 10, None)
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
    let got = cells(&store.map_data(&Scope::All, &d, 10, None).await.unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].2.clone()), (1, vec![s("d", 1)]));
    // Another town's filter within the town's scope: nothing.
    let other = HouseFilter {
        town: Some(RegionCode::parse("370829102").unwrap()),
        ..HouseFilter::default()
    };
    assert!(cells(&store.map_data(&town, &other, 10, None).await.unwrap()).is_empty());
    // A write moves the audit head: the cached answer is not served again.
    house(store, 6, OTHER_VILLAGE, Some((116.33, 35.43))).await;
    let got = cells(
        &store
            .map_data(&Scope::All, &HouseFilter::default(), 10, None)
            .await
            .unwrap(),
    );
    assert_eq!(got[0].0, 4);
}

async fn zoomed_in_the_map_shows_the_houses_in_view(store: &Store) {
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
    let all = store
        .map_data(&Scope::All, &HouseFilter::default(), 16, Some(view))
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
        .map_data(&town, &HouseFilter::default(), 16, Some(view))
        .await
        .unwrap();
    assert_eq!(
        points(&mine),
        vec![(4, "awaiting_survey".to_string(), None, false)]
    );
    // Zoom 13 answers cells of the view: (116.29–116.34) leaves out house 2 at 116.60.
    let got = cells(
        &store
            .map_data(&Scope::All, &HouseFilter::default(), 13, Some(view))
            .await
            .unwrap(),
    );
    assert_eq!(got.iter().map(|c| c.0).sum::<i64>(), 3);
    // The places: each town and village at the centre of its located houses.
    let places = store.map_places(&Scope::All).await.unwrap();
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
    let places = store.map_places(&town).await.unwrap();
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
    on_db!(&db.store.db, p => {
        sqlx::query("UPDATE houses SET lon = NULL, lat = NULL, gx = NULL, gy = NULL").execute(p).await.unwrap();
        sqlx::query("INSERT INTO map_backfill_pending (id) VALUES (1)").execute(p).await.unwrap();
    });
    assert!(positions(&db.store).await.iter().all(|r| r.1.is_none()));
    let vault = anju_store::Vault::from_json(&db.store.vault().to_json()).unwrap();
    let reopened = Store::open(&db.url, vault).await.unwrap();
    assert_eq!(positions(&reopened).await, before);
    let pending: i64 = on_db!(&reopened.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM map_backfill_pending").fetch_one(p).await).unwrap();
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
