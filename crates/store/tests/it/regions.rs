//! A county goes live from the national division table, on SQLite and PostgreSQL: `init` of two
//! different counties (towns and villages as the table has them), refused for another county's
//! database, idempotent; the county office's region edits (refused ones explained and audited,
//! nothing written); a region list checked whole; and a merge that leaves an earlier ledger as
//! it was while later ledgers count the merged village's houses under the one it joined.

use anju_domain::Scope;
use anju_domain::auth::Principal;
use anju_domain::codes::{RegionCode, RegionLevel};
use anju_domain::dict::{Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_domain::ledger::{AsOf, Form};
use anju_domain::region::{RegionEdit, RegionRow};
use anju_store::Store;
use anju_store::testing::*;
use chrono::NaiveDate;

fn table(code: &str) -> Vec<anju_domain::region::Region> {
    anju_divisions::county(code)
        .unwrap()
        .regions(anju_divisions::edition().reference_date, true)
}

fn count(store: &Store, level: RegionLevel) -> usize {
    store
        .reference()
        .regions
        .iter()
        .filter(|r| r.level == level)
        .count()
}

fn county_office() -> Principal {
    Principal {
        account_id: 1,
        username: "county".into(),
        name: "县领导小组办公室".into(),
        role: Role::CountyOffice,
        region: Some(RegionCode::parse("370829").unwrap()),
        department: None,
    }
}

fn code(c: &str) -> RegionCode {
    RegionCode::parse(c).unwrap()
}

/// The region `c` of the store's reference data.
fn region(store: &Store, c: &str) -> anju_domain::region::Region {
    store
        .reference()
        .regions
        .iter()
        .find(|r| r.code == code(c))
        .cloned()
        .unwrap()
}

/// Why `who`'s region edit is refused.
async fn refusal(store: &Store, who: &Principal, edit: &RegionEdit) -> String {
    store
        .edit_region(who, edit, "127.0.0.1")
        .await
        .unwrap_err()
        .to_string()
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, m, d).unwrap()
}

async fn a_fresh_database_has_no_county_and_refuses_to_number_houses(store: &Store) {
    assert!(store.county().is_none());
    assert_eq!(count(store, RegionLevel::Town), 0);
    let e = store.county_code().unwrap_err().to_string();
    assert!(e.contains("anju init --county"), "{e}");
    // The dictionaries every county needs are there already.
    assert!(!store.reference().dictionaries.kinds.is_empty());
}

async fn two_counties_are_set_up_from_the_table_each_in_its_own_database(store: &Store) {
    // Jiaxiang here; Wenshang in a second database of the same backend.
    let out = store
        .init_county(&table("370829"), "nbs-2023")
        .await
        .unwrap();
    assert_eq!(
        (out.towns, out.villages, out.added),
        (16, 453, 3 + 16 + 453)
    );
    assert_eq!(count(store, RegionLevel::Town), 16);
    assert_eq!(count(store, RegionLevel::Village), 453);
    assert_eq!(store.county().unwrap().name, "嘉祥县");
    assert_eq!(
        store.region_edition().await.unwrap().as_deref(),
        Some("nbs-2023")
    );
    let village = region(store, "370829101200");
    assert_eq!(village.name, "东纸坊村");
    assert_eq!(village.parent, Some(code("370829101")));
    assert_eq!(village.valid_from, anju_divisions::edition().reference_date);

    let other = if store.backend() == "sqlite" {
        sqlite_empty().await
    } else {
        postgres_empty().await
    };
    let out = other
        .store
        .init_county(&table("370830"), "nbs-2023")
        .await
        .unwrap();
    assert_eq!((out.towns, out.villages), (15, 372));
    assert_eq!(count(&other.store, RegionLevel::Village), 372);
    assert_eq!(other.store.county().unwrap().name, "汶上县");
}

async fn init_again_changes_nothing_and_another_county_is_refused(store: &Store) {
    store
        .init_county(&table("370829"), "nbs-2023")
        .await
        .unwrap();
    let audits = audit_count(store).await;
    let regions = store.reference().regions.clone();
    let again = store
        .init_county(&table("370829"), "nbs-2023")
        .await
        .unwrap();
    assert_eq!(again.added, 0);
    assert_eq!(
        audit_count(store).await,
        audits,
        "a no-op init is not audited"
    );
    assert_eq!(store.reference().regions, regions);

    // Another county: refused, naming the one set up, with the houses it holds.
    House::register(store, 1, "370829101200", UsageCategory::Other).await;
    let e = store
        .init_county(&table("370830"), "nbs-2023")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("嘉祥县（370829）"), "{e}");
    assert!(e.contains("已有 1 栋房屋"), "{e}");
    assert!(e.contains("汶上县"), "{e}");
    store.reload_reference().await.unwrap();
    assert_eq!(store.reference().regions, regions, "nothing written");
    assert!(
        store
            .reference()
            .regions
            .iter()
            .all(|r| !r.code.as_str().starts_with("370830"))
    );
}

async fn the_county_office_edits_regions_and_refusals_change_nothing(store: &Store) {
    let county = county_office();
    let add = RegionEdit::Add {
        code: code("370829101230"),
        name: "新城社区".into(),
        parent: code("370829101"),
        valid_from: day(3, 1),
    };
    store.edit_region(&county, &add, "127.0.0.1").await.unwrap();
    let v = region(store, "370829101230");
    assert_eq!((v.name.as_str(), v.valid_from), ("新城社区", day(3, 1)));

    // Refused: a village merged into a town of another county; a code outside its parent.
    let before = snapshot(store).await;
    let regions = store.reference().regions.clone();
    let audits = audit_count(store).await;
    let cross = RegionEdit::Merge {
        old: code("370829101230"),
        into: code("370830102"),
        effective: day(6, 1),
        note: String::new(),
    };
    let e = refusal(store, &county, &cross).await;
    assert!(e.contains("370830102 不属于本县（嘉祥县，370829）"), "{e}");
    let wrong_parent = RegionEdit::Add {
        code: code("370829102230"),
        name: "错村".into(),
        parent: code("370829101"),
        valid_from: day(5, 1),
    };
    let e = refusal(store, &county, &wrong_parent).await;
    assert!(e.contains("须以上级代码 370829101 开头"), "{e}");
    assert_eq!(snapshot(store).await, before);
    assert_eq!(store.reference().regions, regions);
    assert_eq!(
        audit_count(store).await,
        audits + 2,
        "each refusal audited once"
    );

    // A town clerk may not edit regions at all.
    let clerk = Principal {
        role: Role::TownOperator,
        region: Some(code("370829101")),
        ..county_office()
    };
    assert!(store.edit_region(&clerk, &add, "x").await.is_err());

    // A village with houses cannot simply be ended; an empty one can.
    House::register(store, 1, "370829101230", UsageCategory::Other).await;
    let end = |c: &str| RegionEdit::Deactivate {
        code: code(c),
        effective: day(7, 1),
        note: "撤销".into(),
    };
    let e = refusal(store, &county, &end("370829101230")).await;
    assert!(e.contains("登记有 1 栋房屋"), "{e}");
    store
        .edit_region(&county, &end("370829101204"), "x")
        .await
        .unwrap();
    let ended = region(store, "370829101204");
    assert_eq!(ended.valid_to, Some(day(7, 1)));

    // A rename keeps the old name for earlier dates.
    let rename = RegionEdit::Rename {
        code: code("370829101200"),
        name: "纸坊村".into(),
        effective: day(8, 1),
        note: "民政批复".into(),
    };
    store.edit_region(&county, &rename, "x").await.unwrap();
    let now = region(store, "370829101200");
    assert_eq!(now.name, "纸坊村");
    assert_eq!(
        anju_domain::region::name_on(
            &now.code,
            &now.name,
            day(7, 31),
            &store.reference().region_changes
        ),
        "东纸坊村"
    );
}

async fn a_region_list_with_a_bad_row_adds_nothing_and_a_good_one_adds_once(store: &Store) {
    let county = county_office();
    let row = |line, code: &str, name: &str, parent: &str| RegionRow {
        line,
        code: code.into(),
        name: name.into(),
        parent: parent.into(),
    };
    let bad = vec![
        row(2, "370829401", "高新片区", "370829"),
        row(3, "370829401001", "一片区", "370829401"),
        row(4, "370829101230", "", "370829101"),
        row(5, "370830102001", "外县村", "370830102"),
    ];
    let regions = store.reference().regions.clone();
    let errors = store
        .import_regions(&county, &bad, day(5, 1), true, "cli")
        .await
        .unwrap()
        .unwrap_err();
    let lines: Vec<u64> = errors.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [4, 5], "{errors:?}");
    store.reload_reference().await.unwrap();
    assert_eq!(store.reference().regions, regions, "nothing written");

    let good = &bad[..2];
    // The good rows checked, or committed: what was added and what was there already.
    let import = |commit: bool| {
        let county = &county;
        async move {
            store
                .import_regions(county, good, day(5, 1), commit, "cli")
                .await
                .unwrap()
                .unwrap()
        }
    };
    let dry = import(false).await;
    assert_eq!(dry.added.len(), 2);
    store.reload_reference().await.unwrap();
    assert_eq!(store.reference().regions, regions, "a check writes nothing");
    let done = import(true).await;
    assert_eq!((done.added.len(), done.unchanged), (2, 0));
    assert_eq!(store.reference().regions.len(), regions.len() + 2);
    let again = import(true).await;
    assert_eq!((again.added.len(), again.unchanged), (0, 2));
}

async fn a_village_merge_keeps_the_earlier_ledger_and_moves_later_counts(store: &Store) {
    let county = county_office();
    let town = &Scope::Region {
        code: code("370829101"),
    };
    // 纸坊镇 has 35 villages in the table; two of them get a surveyed house each.
    let (a, b) = ("370829101200", "370829101204"); // 东纸坊村, 吴店村
    let mut h1 = House::register(store, 1, a, UsageCategory::Other).await;
    h1.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let mut h2 = House::register(store, 2, b, UsageCategory::Other).await;
    h2.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let before = day(5, 9);
    let ledger = |as_of| async move {
        store
            .system("test")
            .within(town)
            .ledger(Form::Attachment2, as_of)
            .await
            .unwrap()
    };
    let earlier = ledger(AsOf::Happened(before)).await;
    let row = |t: &anju_domain::ledger::LedgerTable, c: &str| {
        t.rows
            .iter()
            .find(|r| r.code == c)
            .map(|r| (r.name.clone(), r.counts[0]))
    };
    assert_eq!(earlier.rows.len(), 35);
    assert_eq!(row(&earlier, a), Some(("东纸坊村".into(), 1)));
    assert_eq!(row(&earlier, b), Some(("吴店村".into(), 1)));

    let merge = RegionEdit::Merge {
        old: code(b),
        into: code(a),
        effective: day(5, 10),
        note: "嘉政字〔2024〕1号".into(),
    };
    store
        .edit_region(&county, &merge, "127.0.0.1")
        .await
        .unwrap();

    // The earlier ledger is exactly as it was; from the merge on, 吴店村 is gone and its house
    // counts under 东纸坊村 (2 surveyed), the town total unchanged (2).
    assert_eq!(ledger(AsOf::Happened(before)).await, earlier);
    let after = ledger(AsOf::Happened(day(5, 10))).await;
    assert_eq!(after.rows.len(), 34);
    assert_eq!(row(&after, a), Some(("东纸坊村".into(), 2)));
    assert_eq!(row(&after, b), None);
    assert_eq!(after.total.counts[0], 2);
    assert_eq!(ledger(AsOf::Now).await.rows, after.rows);
}

async fn init_table_county(store: &Store) {
    store
        .init_county(&table("370829"), "nbs-2023")
        .await
        .unwrap();
}

async fn edits(store: &Store) {
    init_table_county(store).await;
    the_county_office_edits_regions_and_refusals_change_nothing(store).await;
}

async fn list(store: &Store) {
    init_table_county(store).await;
    a_region_list_with_a_bad_row_adds_nothing_and_a_good_one_adds_once(store).await;
}

async fn merge(store: &Store) {
    init_table_county(store).await;
    a_village_merge_keeps_the_earlier_ledger_and_moves_later_counts(store).await;
}

anju_store::both_empty!(
    a_fresh_database_has_no_county_and_refuses_to_number_houses,
    two_counties_are_set_up_from_the_table_each_in_its_own_database,
    init_again_changes_nothing_and_another_county_is_refused,
    edits,
    list,
    merge,
);
