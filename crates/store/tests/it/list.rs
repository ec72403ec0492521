//! The house list on both backends: every filter, search, sort and paging, within scope.
//! Expected codes are read off the fixture by hand.

use anju_domain::Scope;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::state::Status;
use anju_store::houses::list::{HouseFilter, Overdue, Sort};
use anju_store::testing::*;
use anju_store::{Store, on_db};

async fn codes(store: &Store, scope: &Scope, f: HouseFilter) -> Vec<u32> {
    let page = store
        .system("test")
        .within(scope)
        .houses_page(&f, Sort::Code, 1, 100)
        .await
        .unwrap();
    assert_eq!(page.total as usize, page.houses.len());
    page.houses
        .iter()
        .map(|h| h.code[8..16].parse::<u32>().unwrap())
        .collect()
}

/// Fixture: 1 other use, no hazard; 2 business, hazard → appraised C → notified; 3 business,
/// hazard → appraised D, not notified; 4 other use in the other town, not surveyed.
async fn fixture(store: &Store) {
    with_villages(store).await;
    let mut h1 = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h1.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let mut h2 = House::register(store, 2, VILLAGE, UsageCategory::MixedBusiness).await;
    h2.ok(&clerk(), survey(Judgement::Hazard)).await;
    h2.ok(&appraiser(), appraise(Grade::C)).await;
    h2.ok(&clerk(), notify()).await;
    let mut h3 = House::register(store, 3, VILLAGE, UsageCategory::MixedBusiness).await;
    h3.ok(&clerk(), survey(Judgement::Hazard)).await;
    h3.ok(&appraiser(), appraise(Grade::D)).await;
    House::register(store, 4, OTHER_VILLAGE, UsageCategory::Other).await;
}

async fn every_filter_narrows_the_list_within_scope(store: &Store) {
    fixture(store).await;
    let all = Scope::All;
    let town = Scope::Region {
        code: RegionCode::parse("370829101").unwrap(),
    };
    assert_eq!(
        codes(store, &all, HouseFilter::default()).await,
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        codes(store, &town, HouseFilter::default()).await,
        vec![1, 2, 3]
    );
    let f = |g: fn(&mut HouseFilter)| {
        let mut x = HouseFilter::default();
        g(&mut x);
        x
    };
    assert_eq!(
        codes(
            store,
            &all,
            f(|x| x.town = Some(RegionCode::parse("370829102").unwrap()))
        )
        .await,
        vec![4]
    );
    assert_eq!(
        codes(
            store,
            &all,
            f(|x| x.village = Some(RegionCode::parse(VILLAGE).unwrap()))
        )
        .await,
        vec![1, 2, 3]
    );
    assert_eq!(
        codes(store, &all, f(|x| x.business = Some(true))).await,
        vec![2, 3]
    );
    assert_eq!(
        codes(store, &all, f(|x| x.business = Some(false))).await,
        vec![1, 4]
    );
    assert_eq!(
        codes(store, &all, f(|x| x.judgement = Some(Judgement::Hazard))).await,
        vec![2, 3]
    );
    assert_eq!(
        codes(store, &all, f(|x| x.grade = Some(Grade::D))).await,
        vec![3]
    );
    assert_eq!(
        codes(store, &all, f(|x| x.status = Some(Status::AwaitingSurvey))).await,
        vec![4]
    );
    assert_eq!(
        codes(store, &all, f(|x| x.status = Some(Status::NoHazard))).await,
        vec![1]
    );
    assert_eq!(
        codes(store, &all, f(|x| x.overdue = Some(Overdue::NeedsNotice))).await,
        vec![3]
    );
    assert_eq!(
        codes(
            store,
            &all,
            f(|x| x.overdue = Some(Overdue::NeedsEngineering))
        )
        .await,
        vec![2, 3]
    );
    assert_eq!(
        codes(store, &all, f(|x| x.overdue = Some(Overdue::LookBack))).await,
        Vec::<u32>::new()
    );
    // Search: exact code, part of the address, start of the owner's name; LIKE wildcards inert.
    let code3 = anju_domain::HouseCode::new(&RegionCode::parse("370829").unwrap(), 3).to_string();
    assert_eq!(
        codes(
            store,
            &all,
            HouseFilter {
                q: Some(code3.to_lowercase()),
                ..Default::default()
            }
        )
        .await,
        vec![3]
    );
    assert_eq!(
        codes(
            store,
            &all,
            HouseFilter {
                q: Some("一组".into()),
                ..Default::default()
            }
        )
        .await,
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        codes(
            store,
            &town,
            HouseFilter {
                q: Some("张".into()),
                ..Default::default()
            }
        )
        .await,
        vec![1, 2, 3]
    );
    assert_eq!(
        codes(
            store,
            &all,
            HouseFilter {
                q: Some("%".into()),
                ..Default::default()
            }
        )
        .await,
        vec![1, 2, 3, 4],
        "% alone matches like an empty fragment"
    );
    assert_eq!(
        codes(
            store,
            &all,
            HouseFilter {
                q: Some("三".into()),
                ..Default::default()
            }
        )
        .await,
        Vec::<u32>::new(),
        "owner names match from the start"
    );
    // Filters combine with the scope, never widen it.
    assert_eq!(
        codes(
            store,
            &town,
            f(|x| x.town = Some(RegionCode::parse("370829102").unwrap()))
        )
        .await,
        Vec::<u32>::new()
    );
    // A department sees its sector's business houses only.
    let sector = store.reference().sector_map();
    let dept = sample_department(&sector);
    let dscope = Scope::Department {
        department: dept.clone(),
        within: RegionCode::parse("370829").unwrap(),
    };
    assert_eq!(
        codes(store, &dscope, HouseFilter::default()).await,
        vec![2, 3]
    );
    assert_eq!(
        codes(
            store,
            &all,
            HouseFilter {
                department: Some(dept),
                ..Default::default()
            }
        )
        .await,
        vec![2, 3]
    );
}

fn sample_department(sector: &std::collections::BTreeMap<String, String>) -> String {
    let record = anju_domain::sample::record(
        RegionCode::parse(VILLAGE).unwrap(),
        UsageCategory::MixedBusiness,
    );
    let t = record
        .business_types
        .first()
        .expect("the sample business house has a type");
    sector.get(t).expect("its type has a department").clone()
}

async fn pages_and_sorts(store: &Store) {
    fixture(store).await;
    let all = Scope::All;
    let p1 = store
        .system("test")
        .within(&all)
        .houses_page(&HouseFilter::default(), Sort::Code, 1, 3)
        .await
        .unwrap();
    let p2 = store
        .system("test")
        .within(&all)
        .houses_page(&HouseFilter::default(), Sort::Code, 2, 3)
        .await
        .unwrap();
    assert_eq!((p1.total, p1.houses.len(), p2.houses.len()), (4, 3, 1));
    assert!(p1.houses[2].code < p2.houses[0].code);
    // Most recently changed first: house 4 was written last.
    let u = store
        .system("test")
        .within(&all)
        .houses_page(&HouseFilter::default(), Sort::Updated, 1, 10)
        .await
        .unwrap();
    assert!(u.houses[0].code.contains("00000004"), "{:?}", u.houses[0]);
    assert_eq!(u.houses[0].owner_name.as_deref(), Some("张三"));
}

/// Migration 0009: a database whose projection still holds the variant names ('Hazard', 'C')
/// has them rewritten to the one code JSON, forms and events use, once, and the filters then
/// find the houses again.
async fn an_older_databases_stored_codes_are_rewritten_once(store: &Store) {
    fixture(store).await;
    for statement in [
        "UPDATE houses SET judgement = CASE judgement WHEN 'no_hazard' THEN 'NoHazard' WHEN 'hazard' THEN 'Hazard' END, grade = upper(grade)",
        "DELETE FROM _sqlx_migrations WHERE version = 9",
    ] {
        on_db!(store.db_for_tests(), p => sqlx::query(statement).execute(p).await.map(|_| ()))
            .unwrap();
    }
    type Row = (Option<String>, Option<String>);
    let stored = || async {
        let rows: Vec<Row> = on_db!(store.db_for_tests(), p => sqlx::query_as(
            "SELECT judgement, grade FROM houses ORDER BY code").fetch_all(p).await)
        .unwrap();
        rows
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        stored().await,
        vec![
            (s("NoHazard"), None),
            (s("Hazard"), s("C")),
            (s("Hazard"), s("D")),
            (None, None)
        ]
    );
    assert_eq!(store.db_for_tests().migrate().await.unwrap(), vec![9]);
    assert_eq!(
        stored().await,
        vec![
            (s("no_hazard"), None),
            (s("hazard"), s("c")),
            (s("hazard"), s("d")),
            (None, None)
        ]
    );
    assert!(store.db_for_tests().migrate().await.unwrap().is_empty());
    let all = Scope::All;
    let by = |j: Option<Judgement>, g: Option<Grade>| HouseFilter {
        judgement: j,
        grade: g,
        ..HouseFilter::default()
    };
    assert_eq!(
        codes(store, &all, by(Some(Judgement::Hazard), None)).await,
        vec![2, 3]
    );
    assert_eq!(
        codes(store, &all, by(Some(Judgement::NoHazard), None)).await,
        vec![1]
    );
    assert_eq!(codes(store, &all, by(None, Some(Grade::C))).await, vec![2]);
    assert_eq!(codes(store, &all, by(None, Some(Grade::D))).await, vec![3]);
}

anju_store::both!(
    every_filter_narrows_the_list_within_scope,
    pages_and_sorts,
    an_older_databases_stored_codes_are_rewritten_once
);

/// Totals are cached, but never across a write: a step or a new house changes them at once,
/// and a refused step (audited, nothing else written) leaves them right.
async fn totals_follow_every_write(store: &Store) {
    with_villages(store).await;
    let scope = Scope::Region {
        code: RegionCode::parse("370829101").unwrap(),
    };
    let hazard = HouseFilter {
        judgement: Some(Judgement::Hazard),
        ..HouseFilter::default()
    };
    let total = |f: HouseFilter| {
        let scope = scope.clone();
        async move {
            store
                .system("test")
                .within(&scope)
                .houses_page(&f, Sort::Code, 1, 10)
                .await
                .unwrap()
                .total
        }
    };
    let mut h1 = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    assert_eq!(total(HouseFilter::default()).await, 1);
    assert_eq!(total(hazard.clone()).await, 0);
    assert_eq!(
        total(hazard.clone()).await,
        0,
        "asked again without a write"
    );
    h1.ok(&clerk(), survey(Judgement::Hazard)).await;
    assert_eq!(total(hazard.clone()).await, 1);
    House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    assert_eq!(total(HouseFilter::default()).await, 2);
    // A refused step writes only its audit row: the totals stay what they are.
    let cmd = h1.cmd(close(anju_domain::dict::ClosureBasis::ManagementMeasure));
    h1.refused(&principal(), cmd, anju_domain::RuleCode::R1)
        .await;
    assert_eq!(total(hazard).await, 1);
    assert_eq!(total(HouseFilter::default()).await, 2);
}

anju_store::both!(totals_follow_every_write);
