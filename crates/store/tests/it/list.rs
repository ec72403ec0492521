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

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

/// The list narrowed by one field of the filter, set by `set`.
fn only(set: impl FnOnce(&mut HouseFilter)) -> HouseFilter {
    let mut f = HouseFilter::default();
    set(&mut f);
    f
}

/// The list searched for `q`.
fn search(q: &str) -> HouseFilter {
    only(|f| f.q = Some(q.into()))
}

async fn every_filter_narrows_the_list_within_scope(store: &Store) {
    fixture(store).await;
    let all = Scope::All;
    let town = Scope::Region {
        code: region("370829101"),
    };
    // A department sees its sector's business houses only.
    let sector = store.reference().sector_map();
    let dept = sample_department(&sector);
    let dscope = Scope::Department {
        department: dept.clone(),
        within: region("370829"),
    };
    let code3 = anju_domain::HouseCode::new(&region("370829"), 3).to_string();
    let none = Vec::<u32>::new();
    let cases: Vec<(&Scope, HouseFilter, Vec<u32>)> = vec![
        (&all, HouseFilter::default(), vec![1, 2, 3, 4]),
        (&town, HouseFilter::default(), vec![1, 2, 3]),
        (&all, only(|f| f.town = Some(region("370829102"))), vec![4]),
        (
            &all,
            only(|f| f.village = Some(region(VILLAGE))),
            vec![1, 2, 3],
        ),
        (&all, only(|f| f.business = Some(true)), vec![2, 3]),
        (&all, only(|f| f.business = Some(false)), vec![1, 4]),
        (
            &all,
            only(|f| f.judgement = Some(Judgement::Hazard)),
            vec![2, 3],
        ),
        (&all, only(|f| f.grade = Some(Grade::D)), vec![3]),
        (
            &all,
            only(|f| f.status = Some(Status::AwaitingSurvey)),
            vec![4],
        ),
        (&all, only(|f| f.status = Some(Status::NoHazard)), vec![1]),
        (
            &all,
            only(|f| f.overdue = Some(Overdue::NeedsNotice)),
            vec![3],
        ),
        (
            &all,
            only(|f| f.overdue = Some(Overdue::NeedsEngineering)),
            vec![2, 3],
        ),
        (
            &all,
            only(|f| f.overdue = Some(Overdue::LookBack)),
            none.clone(),
        ),
        // Search: exact code, part of the address, start of the owner's name; LIKE wildcards
        // inert (% alone matches like an empty fragment); owner names match from the start.
        (&all, search(&code3.to_lowercase()), vec![3]),
        (&all, search("一组"), vec![1, 2, 3, 4]),
        (&town, search("张"), vec![1, 2, 3]),
        (&all, search("%"), vec![1, 2, 3, 4]),
        (&all, search("三"), none.clone()),
        // Filters combine with the scope, never widen it.
        (&town, only(|f| f.town = Some(region("370829102"))), none),
        (&dscope, HouseFilter::default(), vec![2, 3]),
        (&all, only(|f| f.department = Some(dept)), vec![2, 3]),
    ];
    for (scope, filter, expected) in cases {
        let got = codes(store, scope, filter.clone()).await;
        assert_eq!(got, expected, "{scope:?} {filter:?}");
    }
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
    let all = store.system("test").within(&Scope::All);
    let unfiltered = HouseFilter::default();
    let page = |sort, number, size| all.houses_page(&unfiltered, sort, number, size);
    let p1 = page(Sort::Code, 1, 3).await.unwrap();
    let p2 = page(Sort::Code, 2, 3).await.unwrap();
    assert_eq!((p1.total, p1.houses.len(), p2.houses.len()), (4, 3, 1));
    assert!(p1.houses[2].code < p2.houses[0].code);
    // Most recently changed first: house 4 was written last.
    let u = page(Sort::Updated, 1, 10).await.unwrap();
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
    // The fixture's four houses (no hazard; hazard C; hazard D; not surveyed), spelled so.
    let spelled = |no_hazard: &str, hazard: &str, c: &str, d: &str| -> Vec<Row> {
        let s = |v: &str| Some(v.to_string());
        vec![
            (s(no_hazard), None),
            (s(hazard), s(c)),
            (s(hazard), s(d)),
            (None, None),
        ]
    };
    assert_eq!(stored().await, spelled("NoHazard", "Hazard", "C", "D"));
    assert_eq!(store.db_for_tests().migrate().await.unwrap(), vec![9]);
    assert_eq!(stored().await, spelled("no_hazard", "hazard", "c", "d"));
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
