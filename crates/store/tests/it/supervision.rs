//! 督办, reminders, the ranking and the look-back list through the store, on both backends.

use anju_domain::auth::Principal;
use anju_domain::dict::{Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_domain::{RegionCode, RuleCode};
use anju_store::campaign::supervision::NewSupervision;
use anju_store::testing::*;
use anju_store::{NewAccount, Store, StoreError};
use chrono::{Duration, NaiveDate};

const TOWN: &str = "370829101";
const OTHER_TOWN: &str = "370829102";

fn who(username: &str, role: Role, region: &str) -> Principal {
    principal_of(username, role, Some(region), None)
}

fn rule(e: StoreError) -> RuleCode {
    match e {
        StoreError::Rule(v) => v.code,
        other => panic!("expected a rule, got {other:?}"),
    }
}

fn today() -> NaiveDate {
    anju_domain::rules::beijing_date(anju_store::testing::test_start())
}

async fn a_lagging_town_is_told_and_answers_once(store: &Store) {
    with_villages(store).await;
    let county = who("co", Role::CountyOffice, "370829");
    let town_county = who("co-town", Role::CountyOffice, TOWN);
    let clerk_p = who("clerk", Role::TownOperator, TOWN);
    let far = who("far", Role::TownOperator, OTHER_TOWN);
    let notice = |town: &str, body: &str, due: NaiveDate| NewSupervision {
        town: RegionCode::parse(town).unwrap(),
        subject: "历史销号回头看滞后".into(),
        body: body.into(),
        answer_due: due,
    };
    let due = today() + Duration::days(5);
    let a = store.access(&county, "t");
    let before = snapshot(store).await;
    assert_eq!(
        rule(a.supervise(&notice(TOWN, "快", due)).await.unwrap_err()),
        RuleCode::F1
    );
    assert_eq!(
        rule(
            a.supervise(&notice(
                TOWN,
                "请于期限内完成回头看",
                today() - Duration::days(1)
            ))
            .await
            .unwrap_err()
        ),
        RuleCode::D1
    );
    assert_eq!(
        rule(
            a.supervise(&notice(VILLAGE, "请于期限内完成回头看", due))
                .await
                .unwrap_err()
        ),
        RuleCode::F1,
        "a village is not a town"
    );
    assert!(is_not_found(
        &store
            .access(&town_county, "t")
            .supervise(&notice(OTHER_TOWN, "请于期限内完成回头看", due))
            .await
    ));
    assert!(matches!(
        store
            .access(&clerk_p, "t")
            .supervise(&notice(TOWN, "请于期限内完成回头看", due))
            .await,
        Err(StoreError::Denied(_))
    ));
    assert_eq!(snapshot(store).await, before);

    let id = a
        .supervise(&notice(TOWN, "请于期限内完成回头看", due))
        .await
        .unwrap();
    let clerk = store.access(&clerk_p, "t");
    assert_eq!(clerk.supervisions().await.unwrap().len(), 1);
    assert!(
        store
            .access(&far, "t")
            .supervisions()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(is_not_found(
        &store
            .access(&far, "t")
            .answer_supervision(id, "已完成全部回头看", &[])
            .await
    ));
    let reminders = clerk.reminders(today()).await.unwrap();
    assert!(
        reminders
            .iter()
            .any(|r| r.label == "督办通知待答复" && r.count == 1),
        "{reminders:?}"
    );
    assert_eq!(
        rule(clerk.answer_supervision(id, "好", &[]).await.unwrap_err()),
        RuleCode::F1
    );
    clerk
        .answer_supervision(id, "已组织技术人员完成回头看", &[])
        .await
        .unwrap();
    assert_eq!(
        rule(
            clerk
                .answer_supervision(id, "再次答复覆盖原答复", &[])
                .await
                .unwrap_err()
        ),
        RuleCode::R4,
        "an answer is never overwritten"
    );
    let s = a.supervision(id).await.unwrap();
    let answer = s.answer.expect("answered");
    assert_eq!(answer.text, "已组织技术人员完成回头看");
    assert_eq!(answer.by, "clerk");
    assert!(
        !clerk
            .reminders(today())
            .await
            .unwrap()
            .iter()
            .any(|r| r.label == "督办通知待答复"),
        "answered: no longer a reminder"
    );
    let dept = Principal {
        role: Role::Department,
        department: Some("教育".into()),
        ..who("dp", Role::Department, "370829")
    };
    assert!(matches!(
        store.access(&dept, "t").supervisions().await,
        Err(StoreError::Denied(_))
    ));
}

async fn the_ranking_puts_the_lagging_town_first(store: &Store) {
    with_villages(store).await;
    // TOWN: 2 houses, both surveyed, no hazard → 排查率 100%.
    for serial in [1, 2] {
        let mut h = House::register(store, serial, VILLAGE, UsageCategory::Other).await;
        h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    }
    // OTHER_TOWN: 2 houses, 1 surveyed with a hazard, not closed → (50% + 0%) / 2 = 25%.
    let mut h = House::register(store, 3, OTHER_VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    House::register(store, 4, OTHER_VILLAGE, UsageCategory::Other).await;
    let county = who("co", Role::CountyOffice, "370829");
    let ranked = store.access(&county, "t").ranking().await.unwrap();
    let order: Vec<(&str, Option<i64>)> = ranked
        .iter()
        .map(|r| (r.town.code.as_str(), r.score))
        .collect();
    assert_eq!(
        order,
        [("370829102000", Some(2500)), ("370829101000", Some(10000))]
    );
    // A town account ranks only its own town.
    let town = store
        .access(&who("op", Role::TownOperator, TOWN), "t")
        .ranking()
        .await
        .unwrap();
    assert_eq!(town.len(), 1);
}

async fn legacy_closures_are_listed_and_assigned_for_look_back(store: &Store) {
    with_villages(store).await;
    let h = House::legacy_closed(store, 1, VILLAGE).await;
    House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    let sys = Principal::system();
    store
        .create_demo_account(
            &sys,
            &NewAccount {
                username: "rv1".into(),
                display_name: "李工".into(),
                role: Role::TechReviewer,
                region: None,
                department: None,
            },
            "Anju-2024q",
        )
        .await
        .unwrap();
    let op = who("op", Role::TownOperator, TOWN);
    let a = store.access(&op, "t");
    let towns = a.lookback_towns().await.unwrap();
    assert_eq!(towns.len(), 1);
    assert_eq!(
        (towns[0].legacy, towns[0].done, towns[0].hazard_remained),
        (1, 0, 0)
    );
    let pending = a.lookback_pending(100).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].code, h.code.to_string());
    assert!(pending[0].assignees.is_empty());
    assert_eq!(
        a.reviewer_accounts().await.unwrap(),
        [("rv1".to_string(), "李工".to_string())]
    );
    a.assign(&h.code, "rv1").await.unwrap();
    assert_eq!(a.lookback_pending(100).await.unwrap()[0].assignees, ["rv1"]);
    // The reviewer sees the house in their own list.
    let rv = Principal {
        region: None,
        ..who("rv1", Role::TechReviewer, TOWN)
    };
    assert_eq!(
        store
            .access(&rv, "t")
            .lookback_pending(100)
            .await
            .unwrap()
            .len(),
        1
    );
    let far = who("far", Role::TownOperator, OTHER_TOWN);
    assert!(
        store
            .access(&far, "t")
            .lookback_pending(100)
            .await
            .unwrap()
            .is_empty()
    );
}

anju_store::both!(a_lagging_town_is_told_and_answers_once);
anju_store::both!(the_ranking_puts_the_lagging_town_first);
anju_store::both!(legacy_closures_are_listed_and_assigned_for_look_back);
