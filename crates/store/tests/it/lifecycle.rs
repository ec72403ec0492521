//! Storage behaviour, each case on SQLite and PostgreSQL: refused steps change nothing and are
//! audited, scope hides what lies outside it, stale changes conflict, the projection always
//! equals a replay of the stored events, and the event log moves losslessly.

use anju_domain::codes::RegionCode;
use anju_domain::dict::{
    ClosureBasis, Grade, Judgement, MgmtMeasure, RegistrationSource, ReviewFinding, UsageCategory,
};
use anju_domain::event::{Actor, Change, Command, Role};
use anju_domain::region::{RegionChange, RegionChangeKind};
use anju_domain::{HouseCode, RuleCode, Scope, sample};
use anju_store::houses::log::ImportError;
use anju_store::{Store, StoreError, on_db};
use chrono::{Duration, NaiveDate};

use anju_store::testing::*;

/// A registration of the sample people and a sample record in `village`, with plaque `token`.
fn registration(source: RegistrationSource, token: u32, village: &str) -> Change {
    Change::Registered {
        source,
        plaque_token: format!("{token:032x}"),
        record: Box::new(sample::record(
            RegionCode::parse(village).unwrap(),
            UsageCategory::Other,
        )),
        people: Box::new(sample::people()),
    }
}

async fn every_rule_refuses_through_the_store_and_changes_nothing(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    // L2: registered twice.
    let mut again = h.cmd(registration(RegistrationSource::Census, 1, VILLAGE));
    again.expected_version = h.version;
    h.refused(&clerk(), again, RuleCode::L2).await;
    // L1: a review before the survey.
    let c = h.cmd(review(ReviewFinding::NoHazard));
    h.refused(&reviewer(), c, RuleCode::L1).await;
    // F1: hazard without a category.
    let mut s = sample::survey(Judgement::Hazard);
    s.hazard_categories.clear();
    let c = h.cmd(Change::Surveyed(Box::new(s)));
    h.refused(&clerk(), c, RuleCode::F1).await;
    // D1: a survey dated before registration.
    let mut c = h.cmd(survey(Judgement::Hazard));
    c.effective -= Duration::days(30);
    h.refused(&clerk(), c, RuleCode::D1).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    // P1: a clerk may not appraise.
    let c = h.cmd(appraise(Grade::C));
    h.refused(&clerk(), c, RuleCode::P1).await;
    h.ok(&appraiser(), appraise(Grade::C)).await;
    h.ok(
        &clerk(),
        Change::InterimControlApplied {
            measures: vec![MgmtMeasure::Hoarding, MgmtMeasure::WallPatching],
        },
    )
    .await;
    // R1: closing on the hoarding.
    let c = h.cmd(close(ClosureBasis::ManagementMeasure));
    h.refused(&principal(), c, RuleCode::R1).await;
    // R3: engineering before the owner is told.
    let c = h.cmd(start());
    h.refused(&clerk(), c, RuleCode::R3).await;
    h.ok(&clerk(), notify()).await;
    h.ok(&clerk(), start()).await;
    // C1: engineering not yet accepted.
    let c = h.cmd(close(ClosureBasis::Engineering));
    h.refused(&principal(), c, RuleCode::C1).await;
    // E1: acceptance without photos.
    let mut c = h.cmd(accept());
    c.evidence.clear();
    h.refused(&reviewer(), c, RuleCode::E1).await;
    h.ok(&reviewer(), accept()).await;
    // C2: the person who accepted the work cannot approve the closure (same account).
    let c = h.cmd(close(ClosureBasis::Engineering));
    h.refused(&actor("reviewer", Role::System), c, RuleCode::C2)
        .await;
    // V1: a stale version.
    let mut c = h.cmd(close(ClosureBasis::Engineering));
    c.expected_version -= 1;
    h.refused(&principal(), c, RuleCode::V1).await;
    h.ok(&principal(), close(ClosureBasis::Engineering)).await;
    // C3: closed twice.
    let c = h.cmd(close(ClosureBasis::Engineering));
    h.refused(&principal(), c, RuleCode::C3).await;
    // R4: reopening without a reason.
    let mut c = h.cmd(Change::Reopened);
    c.reason = None;
    h.refused(&principal(), c, RuleCode::R4).await;
    // R2: a legacy closure must be looked back at first.
    let mut l = House::legacy_closed(store, 2, VILLAGE).await;
    let c = l.cmd(close(ClosureBasis::ReviewNoHazard));
    l.refused(&principal(), c, RuleCode::R2).await;
    // B1: no way down without someone else's professional basis — a hazard judgement is never
    // corrected to "no hazard" (out of ①), and the appraiser who graded C cannot lower it alone
    // (out of ⑤); a second appraiser can.
    let mut d = House::register(store, 3, VILLAGE, UsageCategory::Other).await;
    d.ok(&clerk(), survey(Judgement::Hazard)).await;
    let down = d.cmd(Change::Reclassified {
        judgement: Some(Judgement::NoHazard),
        risk_level: None,
        grade: None,
    });
    d.refused(&clerk(), down, RuleCode::B1).await;
    d.ok(&appraiser(), appraise(Grade::C)).await;
    let to_b = Change::Reclassified {
        judgement: None,
        risk_level: None,
        grade: Some(Grade::B),
    };
    let c = d.cmd(to_b.clone());
    d.refused(&appraiser(), c, RuleCode::B1).await;
    d.ok(&actor("second-appraiser", Role::Appraiser), to_b)
        .await;
    let faults = store.system("test").verify_projection().await.unwrap();
    assert!(faults.is_empty());
}

async fn a_town_account_cannot_see_or_touch_another_towns_house(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 7, OTHER_VILLAGE, UsageCategory::Other).await;
    let mine = store.system("test").within(&Scope::Region {
        code: RegionCode::parse("370829101").unwrap(),
    });
    let theirs = store.system("test").within(&Scope::Region {
        code: RegionCode::parse("370829102").unwrap(),
    });
    assert!(is_not_found(&mine.house(&h.code).await));
    assert!(is_not_found(&mine.house_events(&h.code).await));
    assert!(theirs.house(&h.code).await.is_ok());
    assert_eq!(mine.count_houses().await.unwrap(), 0);
    assert_eq!(
        store
            .system("test")
            .within(&Scope::Nothing)
            .count_houses()
            .await
            .unwrap(),
        0
    );
    // Writing to it from the wrong town answers exactly like a missing house.
    let cmd = h.cmd(survey(Judgement::NoHazard));
    let err = mine.execute(&clerk(), &cmd).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    assert_eq!(err.to_string(), "该房屋不存在或不在您的辖区内");
    // Registering a house in another town's village is refused.
    let code = HouseCode::new(&RegionCode::parse("370829").unwrap(), 8);
    let cmd = Command {
        house: code,
        expected_version: 0,
        change: registration(RegistrationSource::DynamicSurvey, 8, OTHER_VILLAGE),
        effective: h.day,
        reason: None,
        evidence: vec![],
    };
    let err = mine.execute(&clerk(), &cmd).await.unwrap_err();
    assert_eq!(err.rule().map(|v| v.code), Some(RuleCode::P1));
}

async fn a_department_sees_only_business_houses_of_its_sector(store: &Store) {
    with_villages(store).await;
    let restaurant = House::register(store, 11, VILLAGE, UsageCategory::Business).await; // 餐饮饭店 → 商务
    let home = House::register(store, 12, VILLAGE, UsageCategory::Other).await;
    let county = RegionCode::parse("370829").unwrap();
    let commerce = store.system("test").within(&Scope::Department {
        department: "商务".into(),
        within: county,
    });
    let education = store.system("test").within(&Scope::Department {
        department: "教育".into(),
        within: county,
    });
    assert!(commerce.house(&restaurant.code).await.is_ok());
    assert!(is_not_found(&commerce.house(&home.code).await));
    assert!(is_not_found(&education.house(&restaurant.code).await));
    assert_eq!(commerce.count_houses().await.unwrap(), 1);
}

async fn a_stale_change_is_refused_naming_who_changed_the_house(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 3, VILLAGE, UsageCategory::Other).await;
    let seen = h.cmd(survey(Judgement::Hazard));
    h.ok(
        &actor("colleague", Role::TownOperator),
        survey(Judgement::Severe),
    )
    .await;
    let err = store
        .system("test")
        .execute(&clerk(), &seen)
        .await
        .unwrap_err();
    let v = err.rule().expect("a rule violation");
    assert_eq!(v.code, RuleCode::V1);
    assert!(v.message.contains("colleague姓名"), "{}", v.message);
    let view = store.system("test").house(&h.code).await.unwrap();
    assert_eq!(view.state.judgement, Some(Judgement::Severe));
}

async fn personal_data_is_stored_apart_from_the_event_payload(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 4, VILLAGE, UsageCategory::Other).await;
    let payload: String = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT payload FROM events WHERE seq = 1").fetch_one(p).await).unwrap();
    let id = sample::people().owner_id.unwrap();
    assert!(
        !payload.contains(id.as_str()),
        "ID number inside the payload"
    );
    assert!(!payload.contains("13805371234"), "phone inside the payload");
    let view = store.system("test").house(&h.code).await.unwrap();
    assert_eq!(view.people, Some(sample::people()));
    let events = store.system("test").house_events(&h.code).await.unwrap();
    assert_eq!(events[0].change.people(), Some(&sample::people()));
}

async fn the_event_log_round_trips_and_an_invalid_log_writes_nothing(store: &Store) {
    let county = store.system("test");
    with_villages(store).await;
    let mut h = House::register(store, 5, VILLAGE, UsageCategory::MixedBusiness).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(&appraiser(), appraise(Grade::B)).await;
    h.ok(&principal(), close(ClosureBasis::AppraisalAB)).await;
    let mut first = Vec::new();
    county.export_events(&mut first).await.unwrap();

    // Into a fresh database of the other backend and back: byte-identical.
    let other = if store.backend() == "sqlite" {
        anju_store::testing::postgres().await
    } else {
        anju_store::testing::sqlite().await
    };
    let there = other.store.system("test");
    let actor = anju_store::houses::log::cli_actor();
    let summary = there
        .import_events(&mut first.as_slice(), &actor)
        .await
        .unwrap();
    assert_eq!((summary.houses, summary.events), (1, 4));
    let mut second = Vec::new();
    there.export_events(&mut second).await.unwrap();
    assert_eq!(
        String::from_utf8(first.clone()).unwrap(),
        String::from_utf8(second).unwrap()
    );
    let faults = there.verify_projection().await;
    assert!(faults.unwrap().is_empty());

    // A log whose closure rests on management measures is refused at that line; nothing written.
    let text = String::from_utf8(first).unwrap();
    let tampered = text.replace(
        "\"basis\":\"appraisal_a_b\"",
        "\"basis\":\"management_measure\"",
    );
    assert_ne!(tampered, text, "the closure line was not found");
    let err = refused_import(anju_store::testing::sqlite().await, &tampered, &actor).await;
    assert_eq!(err.line, 5, "{err}");
    assert!(err.message.contains("R1"), "{err}");
    // A log carrying a NUL (as an old SQLite database could hold, and PostgreSQL refuses) is
    // refused at that line with the field named, on either backend; nothing written.
    let survey_line = text
        .lines()
        .position(|l| l.contains("\"surveyed\""))
        .unwrap()
        + 1;
    let with_nul = text.replacen("\"surveyor\":\"", "\"surveyor\":\"\\u0000", 1);
    assert_ne!(with_nul, text, "the survey line was not found");
    for target in fresh_databases().await {
        let err = refused_import(target, &with_nul, &actor).await;
        assert_eq!(err.line, survey_line, "{err}");
        assert!(err.message.contains("控制字符"), "{err}");
    }
    // A log whose registration carries a build year after the year it was recorded in (the
    // test clock's 2026) is refused at that line, the field named with its bound.
    let future = text.replacen("\"build_year\":1998", "\"build_year\":2099", 1);
    assert_ne!(future, text, "the build year was not found");
    let registration_line = text
        .lines()
        .position(|l| l.contains("\"build_year\":1998"))
        .unwrap()
        + 1;
    for target in fresh_databases().await {
        let err = refused_import(target, &future, &actor).await;
        assert_eq!(err.line, registration_line, "{err}");
        assert!(
            err.message
                .contains("建成年份不能晚于当前年份（2026），填写的是 2099（规则 F1）"),
            "{err}"
        );
    }
    // Importing the same log twice is refused at its first house.
    let err = there
        .import_events(&mut text.as_bytes(), &actor)
        .await
        .unwrap_err();
    assert!(err.message.contains("已存在"), "{err}");
}

/// A fresh database of each backend.
async fn fresh_databases() -> [TestDb; 2] {
    [
        anju_store::testing::sqlite().await,
        anju_store::testing::postgres().await,
    ]
}

/// Imports `log` into `target`, which must refuse it and stay empty: the refusal.
async fn refused_import(target: TestDb, log: &str, actor: &Actor) -> ImportError {
    let target = target.store.system("test");
    let err = target
        .import_events(&mut log.as_bytes(), actor)
        .await
        .unwrap_err();
    assert_eq!(target.count_houses().await.unwrap(), 0);
    assert_eq!(target.count_events().await.unwrap(), 0);
    err
}

async fn a_merged_town_keeps_its_history(store: &Store) {
    with_villages(store).await;
    let old = RegionCode::parse("370829114").unwrap();
    let new = RegionCode::parse("370829113").unwrap();
    let effective = NaiveDate::from_ymd_opt(2024, 5, 10).unwrap();
    let merge = anju_domain::region::RegionEdit::Merge {
        old,
        into: new,
        effective,
        note: "撤并".into(),
    };
    let county = anju_domain::auth::Principal::system();
    store.edit_region(&county, &merge, "test").await.unwrap();
    let r = store.reference();
    let town = r.regions.iter().find(|x| x.code == old).unwrap();
    assert!(town.valid_on(NaiveDate::from_ymd_opt(2024, 5, 9).unwrap()));
    assert!(!town.valid_on(effective));
    assert_eq!(
        r.region_changes,
        vec![RegionChange {
            old,
            new,
            old_name: "黄垓镇".into(),
            effective,
            kind: RegionChangeKind::Merge,
            note: "撤并".into(),
        }]
    );
    // Merging it again is refused: it no longer exists on that day.
    let again = store
        .edit_region(&county, &merge, "test")
        .await
        .unwrap_err();
    assert!(again.to_string().contains("已撤并或撤销"), "{again}");
}

async fn opening_twice_applies_migrations_once(store: &Store) {
    let applied = store.db_for_tests().migrate().await.unwrap();
    assert!(applied.is_empty());
    assert_eq!(
        store.reference().regions.len(),
        anju_store::testing::test_county().len()
    );
}

async fn an_edited_migration_is_refused_and_changes_nothing(store: &Store) {
    let before = store.db_for_tests().applied_versions().await.unwrap();
    assert_eq!(
        before,
        (1..=store.db_for_tests().latest_migration()).collect::<Vec<_>>()
    );
    // Migration 3 as applied, then edited by someone since (one added statement).
    let edited: Vec<(i64, &str, String)> = store
        .db_for_tests()
        .migrations()
        .iter()
        .map(|&(v, name, sql)| {
            let sql = if v == 3 {
                format!("{sql}\nCREATE TABLE sneaked_in (id BIGINT);\n")
            } else {
                sql.to_string()
            };
            (v, name, sql)
        })
        .collect();
    let list: Vec<(i64, &str, &str)> = edited
        .iter()
        .map(|(v, n, s)| (*v, *n, s.as_str()))
        .collect();
    let e = store.db_for_tests().migrate_with(&list).await.unwrap_err();
    assert!(
        matches!(&e, sqlx::Error::Migrate(m) if matches!(**m, sqlx::migrate::MigrateError::VersionMismatch(3))),
        "{e}"
    );
    let sneaked: Result<i64, _> = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM sneaked_in").fetch_one(p).await);
    assert!(sneaked.is_err(), "the edited migration must not run");
    // A new migration after the applied ones is applied, once.
    let mut longer = store.db_for_tests().migrations().to_vec();
    longer.push((99, "later", "CREATE TABLE later_one (id BIGINT);"));
    assert_eq!(
        store.db_for_tests().migrate_with(&longer).await.unwrap(),
        vec![99]
    );
    assert!(
        store
            .db_for_tests()
            .migrate_with(&longer)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_database_from_before_checksums_adopts_them_without_rerunning(store: &Store) {
    // As an older build left it: versions in `schema_migrations`, no checksums.
    let last = store.db_for_tests().latest_migration();
    on_db!(store.db_for_tests(), p => sqlx::query("DROP TABLE _sqlx_migrations").execute(p).await.map(|_| ()))
        .unwrap();
    on_db!(store.db_for_tests(), p => sqlx::query("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)").execute(p).await.map(|_| ())).unwrap();
    for v in 1..=last {
        on_db!(store.db_for_tests(), p => sqlx::query("INSERT INTO schema_migrations VALUES ($1, 'x', 0)").bind(v).execute(p).await.map(|_| ())).unwrap();
    }
    // Nothing re-runs (migration 1 creating existing tables again would fail), the versions
    // are adopted with checksums, and the old table is gone.
    assert!(store.db_for_tests().migrate().await.unwrap().is_empty());
    assert_eq!(
        store.db_for_tests().applied_versions().await.unwrap(),
        (1..=last).collect::<Vec<_>>()
    );
    let old: Result<i64, _> = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations").fetch_one(p).await);
    assert!(old.is_err());
    assert!(store.db_for_tests().migrate().await.unwrap().is_empty());
    assert!(store.readiness(None).await.is_empty());
}

async fn the_audit_chain_links_every_row(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 6, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    assert_eq!(
        anju_store::infra::audit::verify(store.db_for_tests())
            .await
            .unwrap(),
        None
    );
    on_db!(store.db_for_tests(), p => sqlx::query("UPDATE audit_log SET object = 'forged' WHERE id = 1").execute(p).await.map(|_| ())).unwrap();
    assert_eq!(
        anju_store::infra::audit::verify(store.db_for_tests())
            .await
            .unwrap(),
        Some(1)
    );
}

anju_store::both!(
    every_rule_refuses_through_the_store_and_changes_nothing,
    a_town_account_cannot_see_or_touch_another_towns_house,
    a_department_sees_only_business_houses_of_its_sector,
    a_stale_change_is_refused_naming_who_changed_the_house,
    personal_data_is_stored_apart_from_the_event_payload,
    the_event_log_round_trips_and_an_invalid_log_writes_nothing,
    a_merged_town_keeps_its_history,
    opening_twice_applies_migrations_once,
    an_edited_migration_is_refused_and_changes_nothing,
    a_database_from_before_checksums_adopts_them_without_rerunning,
    the_audit_chain_links_every_row,
);
