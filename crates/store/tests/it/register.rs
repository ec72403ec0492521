//! Registration through the store: the store gives each new house the next code of the county,
//! also when registrations race, and refuses identifiers another house already carries.

use anju_domain::dict::{RegistrationSource, UsageCategory};
use anju_domain::event::{Change, Command};
use anju_domain::{HouseCode, RegionCode, RuleCode, sample};
use anju_store::testing::*;
use anju_store::{Store, StoreError};
use chrono::NaiveDate;

fn registration(census: &str) -> Command {
    let mut record = sample::record(RegionCode::parse(VILLAGE).unwrap(), UsageCategory::Other);
    record.census_id = Some(census.into());
    Command {
        // Ignored: the store gives the code.
        house: HouseCode::new(&RegionCode::parse("370829").unwrap(), 99_999),
        expected_version: 0,
        change: Change::Registered {
            source: RegistrationSource::DynamicSurvey,
            plaque_token: anju_store::houses::plaque::new_plaque_token(),
            record: Box::new(record),
            people: Box::new(sample::people()),
        },
        effective: NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(),
        reason: None,
        evidence: vec![],
    }
}

async fn codes_are_given_in_order_and_never_twice(store: &Store) {
    with_villages(store).await;
    House::register(store, 41, VILLAGE, UsageCategory::Other).await;
    let county = RegionCode::parse("370829").unwrap();
    let e = store
        .system("test")
        .register(&clerk(), &registration("C-1"))
        .await
        .unwrap();
    assert_eq!(
        e.house,
        HouseCode::new(&county, 42),
        "after the highest code"
    );
    // Eight registrations at once: eight distinct codes 43..=50.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .system("test")
                    .register(&clerk(), &registration(&format!("R-{i}")))
                    .await
                    .map(|e| e.house.serial())
            })
        })
        .collect();
    let mut serials = Vec::new();
    for t in tasks {
        serials.push(t.await.unwrap().unwrap());
    }
    serials.sort();
    assert_eq!(serials, (43..=50).collect::<Vec<_>>());

    // The same census id again: refused (L2), nothing written.
    let before = snapshot(store).await;
    let err = store
        .system("test")
        .register(&clerk(), &registration("C-1"))
        .await
        .unwrap_err();
    match err {
        StoreError::Rule(v) => {
            assert_eq!(v.code, RuleCode::L2);
            assert!(v.message.contains(HouseCode::new(&county, 42).as_str()));
        }
        other => panic!("expected L2, got {other:?}"),
    }
    assert_eq!(snapshot(store).await, before);
}

anju_store::both!(codes_are_given_in_order_and_never_twice);
