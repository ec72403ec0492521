//! 附件1 and 附件2 over a hand-built county. Every expected figure below was worked out by hand
//! from the paths the houses walk (see the table in `build`), not by the code under test.

use anju_domain::Scope;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{ClosureBasis, Grade, Judgement, ReviewFinding, UsageCategory};
use anju_domain::event::Change;
use anju_domain::ledger::{AsOf, Form, LedgerRow, LedgerTable};
use anju_store::Store;
use anju_store::testing::*;
use chrono::NaiveDate;

/// The lifecycle paths of the fixture.
#[derive(Clone, Copy)]
enum P {
    Unsurveyed,
    NoHazard,
    Await,
    ReviewClosed,
    DirectClosed,
    Direct,
    AbClosed,
    Cd,
    CdEngClosed,
    LegacyPending,
    LegacyNoHazardClosed,
    LegacyHazardEngineered,
    LegacyHazard,
}

async fn walk<'a>(
    store: &'a Store,
    serial: u32,
    village: &str,
    usage: UsageCategory,
    path: P,
) -> House<'a> {
    let mut h = House::register(store, serial, village, usage).await;
    let legacy_2023 = legacy(NaiveDate::from_ymd_opt(2023, 9, 1).unwrap());
    if matches!(path, P::Unsurveyed) {
        return h;
    }
    let judgement = if matches!(path, P::NoHazard) {
        Judgement::NoHazard
    } else {
        Judgement::Hazard
    };
    h.ok(&clerk(), survey(judgement)).await;
    match path {
        P::Unsurveyed | P::NoHazard | P::Await => {}
        P::ReviewClosed => {
            h.ok(&reviewer(), review(ReviewFinding::NoHazard)).await;
            h.ok(&principal(), close(ClosureBasis::ReviewNoHazard))
                .await;
        }
        P::DirectClosed | P::Direct => {
            h.ok(&reviewer(), review(ReviewFinding::Hazard)).await;
            h.ok(&clerk(), start()).await;
            h.ok(&reviewer(), accept()).await;
            if matches!(path, P::DirectClosed) {
                h.ok(&principal(), close(ClosureBasis::Engineering)).await;
            }
        }
        P::AbClosed => {
            h.ok(&appraiser(), appraise(Grade::A)).await;
            h.ok(&principal(), close(ClosureBasis::AppraisalAB)).await;
        }
        P::Cd => {
            h.ok(&appraiser(), appraise(Grade::C)).await;
            h.ok(&clerk(), notify()).await;
        }
        P::CdEngClosed => {
            h.ok(&appraiser(), appraise(Grade::C)).await;
            h.ok(&clerk(), notify()).await;
            h.ok(&clerk(), start()).await;
            h.ok(&reviewer(), accept()).await;
            h.ok(&principal(), close(ClosureBasis::Engineering)).await;
        }
        P::LegacyPending => h.ok(&clerk(), legacy_2023).await,
        P::LegacyNoHazardClosed => {
            h.ok(&clerk(), legacy_2023).await;
            h.ok(&reviewer(), look_back(false)).await;
            h.ok(&principal(), close(ClosureBasis::ReviewNoHazard))
                .await;
        }
        P::LegacyHazardEngineered | P::LegacyHazard => {
            h.ok(&clerk(), legacy_2023).await;
            h.ok(&reviewer(), look_back(true)).await;
            if matches!(path, P::LegacyHazardEngineered) {
                h.ok(&clerk(), start()).await;
                h.ok(&reviewer(), accept()).await;
            }
        }
    }
    h
}

const TOWN1_VILLAGE: &str = "370829101201"; // 纸坊镇
const TOWN2_VILLAGE_A: &str = "370829102201"; // 梁宝寺镇
const TOWN2_VILLAGE_B: &str = "370829102202";

async fn build(store: &Store) {
    with_villages(store).await;
    add_village(store, TOWN2_VILLAGE_B, "测试二村", "370829102").await;
    // Town 1, non-business (letters as in the hand calculation):
    //   a=20 NoHazard, b=3 Await, c=1 ReviewClosed, d=1 DirectClosed, e=5 Direct, f=2 AbClosed,
    //   g=2 Cd, h=1 CdEngClosed, i=3 LegacyPending, j=1 LegacyNoHazardClosed,
    //   k=1 LegacyHazardEngineered, l=1 LegacyHazard, and 1 Unsurveyed.
    // Town 1, business:
    //   p=5 NoHazard, q=2 Await, r=7 ReviewClosed, s=1 LegacyPending, t=2 LegacyNoHazardClosed,
    //   u=1 LegacyHazard, v=4 LegacyHazardEngineered.
    let plan: &[(P, u32, UsageCategory)] = &[
        (P::NoHazard, 20, UsageCategory::Other),
        (P::Await, 3, UsageCategory::Other),
        (P::ReviewClosed, 1, UsageCategory::Other),
        (P::DirectClosed, 1, UsageCategory::Other),
        (P::Direct, 5, UsageCategory::Other),
        (P::AbClosed, 2, UsageCategory::Other),
        (P::Cd, 2, UsageCategory::Other),
        (P::CdEngClosed, 1, UsageCategory::Other),
        (P::LegacyPending, 3, UsageCategory::Other),
        (P::LegacyNoHazardClosed, 1, UsageCategory::Other),
        (P::LegacyHazardEngineered, 1, UsageCategory::Other),
        (P::LegacyHazard, 1, UsageCategory::Other),
        (P::Unsurveyed, 1, UsageCategory::Other),
        (P::NoHazard, 5, UsageCategory::MixedBusiness),
        (P::Await, 2, UsageCategory::MixedBusiness),
        (P::ReviewClosed, 7, UsageCategory::MixedBusiness),
        (P::LegacyPending, 1, UsageCategory::MixedBusiness),
        (P::LegacyNoHazardClosed, 2, UsageCategory::MixedBusiness),
        (P::LegacyHazard, 1, UsageCategory::MixedBusiness),
        (P::LegacyHazardEngineered, 4, UsageCategory::MixedBusiness),
    ];
    let mut serial = 100;
    for (path, n, usage) in plan {
        for _ in 0..*n {
            serial += 1;
            walk(store, serial, TOWN1_VILLAGE, *usage, *path).await;
        }
    }
    // Town 2: X in village B walks C → engineering → closure one day a step from 2024-03-20:
    // registered 20, surveyed 21, appraised 22, notified 23, started 24, accepted 25, closed 26.
    walk(
        store,
        1,
        TOWN2_VILLAGE_B,
        UsageCategory::Other,
        P::CdEngClosed,
    )
    .await;
    // Y in village A: appraised C, then corrected to B by a second appraiser (B1), then closed
    // on the appraisal.
    let mut y = walk(store, 2, TOWN2_VILLAGE_A, UsageCategory::Other, P::Cd).await;
    y.ok(
        &actor("appraiser2", anju_domain::Role::Appraiser),
        Change::Reclassified {
            judgement: None,
            risk_level: None,
            grade: Some(Grade::B),
        },
    )
    .await;
    y.ok(&principal(), close(ClosureBasis::AppraisalAB)).await;
    // Z in village A: closed on a review, then reopened.
    let mut z = walk(
        store,
        3,
        TOWN2_VILLAGE_A,
        UsageCategory::Other,
        P::ReviewClosed,
    )
    .await;
    z.ok(&reviewer(), Change::Reopened).await;
}

/// Today's `form` of the county built by [`build`].
async fn built_ledger(store: &Store, form: Form) -> LedgerTable {
    build(store).await;
    store.system("test").ledger(form, AsOf::Now).await.unwrap()
}

/// The first row whose code starts with `code` (a town's, a village's).
fn row<'t>(table: &'t LedgerTable, code: &str) -> &'t LedgerRow {
    table
        .all_rows()
        .find(|r| r.code.starts_with(code))
        .unwrap_or_else(|| panic!("no row {code}"))
}

fn counts(table: &LedgerTable, code: &str) -> Vec<i64> {
    row(table, code).counts.clone()
}

async fn attachment2_counts_every_column_as_worked_out_by_hand(store: &Store) {
    let t = built_ledger(store, Form::Attachment2).await;
    assert_eq!(t.unit, "嘉祥县");
    assert_eq!(
        t.rows.len(),
        16,
        "every town is listed, even with nothing to count"
    );
    // Town 1. Non-business ① = b+c+d+e+f+g+h+i+j+k+l = 3+1+1+5+2+2+1+3+1+1+1 = 21;
    // ② = c+j = 2; ③ = d+e+k = 7; ④ = f+g+h = 5; ⑤ = g+h = 3; ⑥ = h = 1; ⑦ = c+d+f+h+j = 6;
    // 已排查非经营性 = a+① = 41. Business 已排查 = p+q+r+s+t+u+v = 22, 初判隐患 = 17,
    // 动态销号 = r+t = 9. 总量 = 41+22 = 63.
    assert_eq!(
        counts(&t, "370829101"),
        vec![63, 22, 17, 9, 41, 21, 2, 7, 5, 3, 1, 6]
    );
    let [confirm, appraisal, rectification, closure] = row(&t, "370829101").attachment2_rates();
    assert_eq!(
        confirm.display(),
        "—",
        "no online problems: the rate is a dash, never 0%"
    );
    assert_eq!(appraisal.display(), "41.67%"); // 5 / (21-2-7) = 5/12
    assert_eq!(rectification.display(), "80.00%"); // (1+7) / (3+7)
    assert_eq!(closure.display(), "28.57%"); // 6/21
    // Town 2 now: X ④⑤⑥⑦; Y ④⑦ (corrected to B: out of ⑤); Z ① only (reopened: out of ② and ⑦).
    assert_eq!(
        counts(&t, "370829102"),
        vec![3, 0, 0, 0, 3, 3, 0, 0, 2, 1, 1, 2]
    );
    // 合计 = town 1 + town 2.
    assert_eq!(
        t.total.counts,
        vec![66, 22, 17, 9, 44, 24, 2, 7, 7, 4, 2, 8]
    );
    // A town with no houses shows dashes for its rates.
    let empty = row(&t, "370829001");
    assert!(empty.attachment2_rates().iter().all(|r| r.display() == "—"));
    assert!(t.checks.is_empty(), "{:?}", t.checks);
}

async fn attachment1_counts_the_look_back_list(store: &Store) {
    let t = built_ledger(store, Form::Attachment1).await;
    // Business: 数量 s+t+u+v = 8, 复核 t+u+v = 7, 隐患 u+v = 5, 工程 v = 4.
    // Non-business: 数量 i+j+k+l = 6, 复核 j+k+l = 3, 隐患 k+l = 2, 工程 k = 1. 总量 14.
    assert_eq!(counts(&t, "370829101"), vec![14, 8, 7, 5, 4, 6, 3, 2, 1]);
    assert_eq!(counts(&t, "370829102"), vec![0; 9]);
}

async fn a_ledger_as_of_a_date_counts_what_had_happened_by_then(store: &Store) {
    let county = store.system("test");
    build(store).await;
    let town2 = Scope::Region {
        code: RegionCode::parse("370829102").unwrap(),
    };
    let as_town2 = store.system("test").within(&town2);
    let on = |d| AsOf::Happened(NaiveDate::from_ymd_opt(2024, 3, d).unwrap());
    // X (village B): appraised C on the 22nd, accepted on the 25th, closed on the 26th.
    let before = as_town2.ledger(Form::Attachment2, on(24)).await.unwrap();
    assert_eq!(before.unit, "梁宝寺镇");
    assert_eq!(
        counts(&before, TOWN2_VILLAGE_B),
        vec![1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]
    );
    let accepted = as_town2.ledger(Form::Attachment2, on(25)).await.unwrap();
    assert_eq!(
        counts(&accepted, TOWN2_VILLAGE_B),
        vec![1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0]
    );
    let closed = as_town2.ledger(Form::Attachment2, on(26)).await.unwrap();
    assert_eq!(
        counts(&closed, TOWN2_VILLAGE_B),
        vec![1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1]
    );
    // Before anything was surveyed, nothing counts; the house registered on the 20th exists
    // but is not yet surveyed.
    let start = county.ledger(Form::Attachment2, on(20)).await.unwrap();
    assert!(start.total.counts.iter().all(|c| *c == 0));
    // As recorded: before the test wrote anything, nothing; now, the same as today.
    let long_ago = chrono::DateTime::from_timestamp(1_600_000_000, 0).unwrap();
    let then = county
        .ledger(Form::Attachment2, AsOf::Recorded(long_ago))
        .await
        .unwrap();
    assert!(then.total.counts.iter().all(|c| *c == 0));
    let now = county
        .ledger(Form::Attachment2, AsOf::Recorded(store.now()))
        .await
        .unwrap();
    let today = county.ledger(Form::Attachment2, AsOf::Now).await.unwrap();
    assert_eq!(now.rows, today.rows);
}

async fn every_figure_opens_to_the_houses_it_counts(store: &Store) {
    let county = store.system("test");
    build(store).await;
    let town1 = RegionCode::parse("370829101").unwrap();
    // ⑦ of town 1: c+d+f+h+j = 6 houses; the 合计 adds X and Y of town 2.
    let closed = county
        .ledger_houses(Form::Attachment2, AsOf::Now, 11, Some(&town1))
        .await
        .unwrap();
    assert_eq!(closed.len(), 6);
    let all = county
        .ledger_houses(Form::Attachment2, AsOf::Now, 11, None)
        .await
        .unwrap();
    assert_eq!(all.len(), 8);
    // Each cell's list has exactly the cell's count, for every column of both forms.
    for form in [Form::Attachment1, Form::Attachment2] {
        let t = county.ledger(form, AsOf::Now).await.unwrap();
        let row = row(&t, "370829101");
        for (i, n) in row.counts.iter().enumerate() {
            let houses = county
                .ledger_houses(form, AsOf::Now, i, Some(&town1))
                .await
                .unwrap();
            assert_eq!(houses.len() as i64, *n, "{form:?} column {i}");
        }
    }
    // A town account drilling into another town's figure gets nothing.
    let town2 = Scope::Region {
        code: RegionCode::parse("370829102").unwrap(),
    };
    let as_town2 = store.system("test").within(&town2);
    let leak = as_town2
        .ledger_houses(Form::Attachment2, AsOf::Now, 11, Some(&town1))
        .await
        .unwrap();
    assert!(leak.is_empty());
    // As of a date: X is not yet in ⑦ on the 25th.
    let b = RegionCode::parse(TOWN2_VILLAGE_B).unwrap();
    let d25 = AsOf::Happened(NaiveDate::from_ymd_opt(2024, 3, 25).unwrap());
    let x = as_town2
        .ledger_houses(Form::Attachment2, d25, 11, Some(&b))
        .await
        .unwrap();
    assert!(x.is_empty());
    let x = as_town2
        .ledger_houses(Form::Attachment2, d25, 10, Some(&b))
        .await
        .unwrap();
    assert_eq!(x.len(), 1);
}

async fn a_signed_ledger_is_frozen_with_its_houses_and_digest(store: &Store) {
    let system = store.system("test");
    use anju_domain::report::{ReportAction, ReportStatus};
    build(store).await;
    let town1 = RegionCode::parse("370829101").unwrap();
    let as_town = store.system("test").within(&Scope::Region { code: town1 });
    let day = NaiveDate::from_ymd_opt(2024, 6, 4).unwrap();
    let op = actor("t101-jb", anju_domain::Role::TownOperator);
    let boss = actor("t101-fz", anju_domain::Role::TownPrincipal);
    let county = actor("county", anju_domain::Role::CountyOffice);
    let new = anju_store::ledgers::reports::NewReport {
        form: Form::Attachment2,
        unit: town1,
        as_of: day,
        contact: "0537-1234567".into(),
        supersedes: None,
    };
    let id = as_town.prepare_report(&op, &new).await.unwrap();
    // Only the principal signs.
    let e = as_town
        .act_on_report(&op, id, &ReportAction::Sign)
        .await
        .unwrap_err();
    assert_eq!(e.rule().unwrap().code, anju_domain::RuleCode::P1);
    assert_eq!(
        as_town
            .act_on_report(&boss, id, &ReportAction::Sign)
            .await
            .unwrap(),
        ReportStatus::Signed
    );
    let signed = system.report(id).await.unwrap();
    assert!(signed.digest_holds());
    let frozen = signed.frozen().unwrap().unwrap();
    // The frozen table is the ledger as of that day, and each figure lists its houses.
    let live = as_town
        .ledger(Form::Attachment2, anju_domain::ledger::AsOf::Happened(day))
        .await
        .unwrap();
    assert_eq!(frozen.table, live);
    let v = RegionCode::parse(TOWN1_VILLAGE).unwrap();
    let row = frozen
        .table
        .rows
        .iter()
        .position(|r| r.code == TOWN1_VILLAGE)
        .unwrap();
    let behind = as_town
        .ledger_houses(
            Form::Attachment2,
            anju_domain::ledger::AsOf::Happened(day),
            11,
            Some(&v),
        )
        .await
        .unwrap();
    let codes: Vec<String> = behind.into_iter().map(|h| h.code).collect();
    assert_eq!(frozen.houses[row][11], codes);
    assert_eq!(frozen.houses[row][11].len(), 6);
    // Signing again is refused: the figures are frozen.
    let e = as_town
        .act_on_report(&boss, id, &ReportAction::Sign)
        .await
        .unwrap_err();
    assert_eq!(e.rule().unwrap().code, anju_domain::RuleCode::R5);

    // Later events change today's figures, not the frozen ones.
    walk(
        store,
        900,
        TOWN1_VILLAGE,
        UsageCategory::Other,
        P::ReviewClosed,
    )
    .await;
    let again = system.report(id).await.unwrap();
    assert_eq!(again.snapshot, signed.snapshot);
    assert!(again.digest_holds());
    let diffs = system
        .compare_report(id, anju_domain::ledger::AsOf::Now)
        .await
        .unwrap();
    // The late house is surveyed, hazardous, reviewed no-hazard and closed: 总量, 非经营性已排查,
    // ①, ② and ⑦ each go up by one, in the village row and in 合计.
    let cols: Vec<usize> = diffs
        .iter()
        .filter(|d| d.row == "合计")
        .map(|d| d.column)
        .collect();
    assert_eq!(cols, vec![0, 4, 5, 6, 11]);
    assert!(diffs.iter().all(|d| d.now == d.frozen + 1));

    // Submitted, returned with a reason, prepared again superseding it.
    as_town
        .act_on_report(&op, id, &ReportAction::Submit)
        .await
        .unwrap();
    let e = system
        .act_on_report(&county, id, &ReportAction::Return { reason: "".into() })
        .await
        .unwrap_err();
    assert_eq!(e.rule().unwrap().code, anju_domain::RuleCode::R4);
    system
        .act_on_report(
            &county,
            id,
            &ReportAction::Return {
                reason: "②栏与复核记录不符".into(),
            },
        )
        .await
        .unwrap();
    let again = anju_store::ledgers::reports::NewReport {
        supersedes: Some(id),
        ..new
    };
    let id2 = as_town.prepare_report(&op, &again).await.unwrap();
    assert_ne!(id, id2);
    // Another town cannot act on it: it looks missing.
    let other = Scope::Region {
        code: RegionCode::parse("370829102").unwrap(),
    };
    let as_other_town = store.system("test").within(&other);
    assert!(matches!(
        as_other_town
            .act_on_report(&boss, id2, &ReportAction::Sign)
            .await,
        Err(anju_store::StoreError::NotFound)
    ));

    // Tampering with the stored snapshot is detected by the digest.
    anju_store::on_db!(store.db_for_tests(), p => sqlx::query("UPDATE ledger_reports SET snapshot = REPLACE(snapshot, '\"counts\":[', '\"counts\":[1') WHERE id = $1")
        .bind(id).execute(p).await.map(|_| ())).unwrap();
    assert!(!system.report(id).await.unwrap().digest_holds());
}

/// Editing a signed snapshot together with a recomputed digest is caught: the digest is also in
/// the chained audit row of the signature, which records where the signature came from.
async fn a_snapshot_edited_with_its_digest_is_caught_by_the_signature_audit_row(store: &Store) {
    let county = store.system("test");
    use anju_domain::report::ReportAction;
    use anju_store::ledgers::reports::{Integrity, NewReport};
    with_villages(store).await;
    let mut h = House::register(store, 1, TOWN1_VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let town = RegionCode::parse("370829101").unwrap();
    let as_town = store
        .system("203.0.113.7")
        .within(&Scope::Region { code: town });
    let new = NewReport {
        form: Form::Attachment2,
        unit: town,
        as_of: NaiveDate::from_ymd_opt(2024, 6, 4).unwrap(),
        contact: "0537-1234567".into(),
        supersedes: None,
    };
    let op = actor("t101-jb", anju_domain::Role::TownOperator);
    let boss = actor("t101-fz", anju_domain::Role::TownPrincipal);
    let id = as_town.prepare_report(&op, &new).await.unwrap();
    assert_eq!(store.verify_report(id).await.unwrap(), Integrity::Unsigned);
    as_town
        .act_on_report(&boss, id, &ReportAction::Sign)
        .await
        .unwrap();
    assert_eq!(store.verify_report(id).await.unwrap(), Integrity::Intact);
    let (source, detail): (String, String) =
        anju_store::on_db!(store.db_for_tests(), p => sqlx::query_as(
        "SELECT source, detail FROM audit_log WHERE action = 'report.sign'").fetch_one(p).await)
        .unwrap();
    assert_eq!(
        source, "203.0.113.7",
        "the signature names where it came from"
    );
    let digest = county.report(id).await.unwrap().digest.unwrap();
    assert!(detail.contains(&digest), "{detail}");

    // An insider rewrites the frozen figures and recomputes their digest.
    let snapshot = county.report(id).await.unwrap().snapshot.unwrap();
    let forged = snapshot.replacen("[1,", "[2,", 1);
    assert_ne!(forged, snapshot, "the snapshot holds a count to change");
    let forged_digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(forged.as_bytes()))
    };
    anju_store::on_db!(store.db_for_tests(), p => sqlx::query("UPDATE ledger_reports SET snapshot = $1, digest = $2 WHERE id = $3")
        .bind(&forged).bind(&forged_digest).bind(id).execute(p).await.map(|_| ())).unwrap();
    assert!(
        county.report(id).await.unwrap().digest_holds(),
        "self-consistent forgery"
    );
    match store.verify_report(id).await.unwrap() {
        Integrity::Broken(m) => assert!(m.contains("签字时审计日志记录"), "{m}"),
        other => panic!("forgery not caught: {other:?}"),
    }
}

/// A house registered on `day` (the fixture's `House::register` registers on 2024-03-20).
async fn register_on<'a>(
    store: &'a Store,
    serial: u32,
    usage: UsageCategory,
    day: NaiveDate,
) -> House<'a> {
    let record = anju_domain::sample::record(RegionCode::parse(TOWN1_VILLAGE).unwrap(), usage);
    House::register_record(store, serial, record, day).await
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// 附件1 as of a field date counts a legacy closure from its 前期销号日期 (when the closure was
/// made), not from the day it was recorded; as recorded at an instant, from when it was
/// recorded. Four houses of town 101 (dates are field dates, 2024 unless said):
///
/// | house | use | registered | surveyed (hazard) | legacy closure made / recorded | later |
/// |---|---|---|---|---|---|
/// | A | non-business | 3-20 | 3-21 | 2023-09-01 / 4-30 | look-back: no hazard 5-06 |
/// | B | non-business | 3-20 | 3-21 | 2023-11-15 / 3-22 | look-back: hazard 4-10, works started 4-11, accepted 4-12 |
/// | C | business | 4-30 | 4-30 | 3-01 / 4-30 | — |
/// | D | non-business | 3-20 | 3-21 | 5-01 / 5-01 | — |
///
/// Columns: 总量; 经营性 数量, 复核, 隐患, 工程; 非经营性 数量, 复核, 隐患, 工程.
async fn a_legacy_closure_enters_attachment1_on_the_day_it_was_closed(store: &Store) {
    let system = store.system("test");
    with_villages(store).await;
    let mut a = House::register(store, 1, TOWN1_VILLAGE, UsageCategory::Other).await;
    let mut b = House::register(store, 2, TOWN1_VILLAGE, UsageCategory::Other).await;
    let mut d = House::register(store, 4, TOWN1_VILLAGE, UsageCategory::Other).await;
    for h in [&mut a, &mut b, &mut d] {
        h.ok(&clerk(), survey(Judgement::Hazard)).await; // 3-21
    }
    b.ok(&clerk(), legacy(ymd(2023, 11, 15))).await; // 3-22
    b.day = ymd(2024, 4, 10);
    b.ok(&reviewer(), look_back(true)).await; // 4-10
    b.ok(&clerk(), start()).await; // 4-11
    b.ok(&reviewer(), accept()).await; // 4-12
    // Everything of B is on record now; nothing of A, C or D's legacy closures yet.
    let b_only = store.now();
    a.day = ymd(2024, 4, 30);
    a.ok(&clerk(), legacy(ymd(2023, 9, 1))).await;
    a.day = ymd(2024, 5, 6);
    a.ok(&reviewer(), look_back(false)).await;
    let mut c = register_on(store, 3, UsageCategory::MixedBusiness, ymd(2024, 4, 30)).await;
    c.day = ymd(2024, 4, 30);
    c.ok(&clerk(), survey(Judgement::Hazard)).await;
    c.ok(&clerk(), legacy(ymd(2024, 3, 1))).await;
    d.day = ymd(2024, 5, 1);
    d.ok(&clerk(), legacy(ymd(2024, 5, 1))).await;

    let system = &system;
    let town1 = |as_of| async move {
        let t = system.ledger(Form::Attachment1, as_of).await.unwrap();
        assert!(t.checks.is_empty(), "{:?}", t.checks);
        counts(&t, "370829101")
    };
    let on = |y, m, d| AsOf::Happened(ymd(y, m, d));
    // 2023-08-31: no closure had been made yet.
    assert_eq!(town1(on(2023, 8, 31)).await, vec![0; 9]);
    // 2023-09-01: A's closure had been made (A was not even registered; its first span, 3-20,
    // places it: non-business, town 101). 1 non-business, nothing reviewed.
    assert_eq!(town1(on(2023, 9, 1)).await, vec![1, 0, 0, 0, 0, 1, 0, 0, 0]);
    // 2024-03-21: A and B (closed 2023) and C (closed 3-01, registered only on 4-30: its first
    // span says business) — although none of the three was yet recorded as a legacy closure.
    // Business 数量 1 (C); non-business 数量 2 (A, B), no look-back yet.
    assert_eq!(
        town1(on(2024, 3, 21)).await,
        vec![3, 1, 0, 0, 0, 2, 0, 0, 0]
    );
    // 2024-04-30, the look-back deadline: A, B, C as above; B's look-back (4-10) found a hazard
    // and its works were accepted (4-12): non-business 复核 1, 隐患 1, 工程 1. A's look-back is
    // on 5-06, D's closure on 5-01: neither counts. Counting from the day recorded would have
    // given B alone: [1, 0, 0, 0, 0, 1, 1, 1, 1].
    assert_eq!(
        town1(on(2024, 4, 30)).await,
        vec![3, 1, 0, 0, 0, 2, 1, 1, 1]
    );
    // 2024-05-06: D (closed 5-01) joins the non-business 数量 (3), A's look-back (no hazard)
    // the non-business 复核 (2). 总量 = 1 + 3 = 4.
    let may6 = vec![4, 1, 0, 0, 0, 3, 2, 1, 1];
    assert_eq!(town1(on(2024, 5, 6)).await, may6);
    // Today: the same as on 5-06, the last step.
    assert_eq!(town1(AsOf::Now).await, may6);
    // As recorded when only B's steps were on record: B alone, with its look-back and works.
    assert_eq!(
        town1(AsOf::Recorded(b_only)).await,
        vec![1, 0, 0, 0, 0, 1, 1, 1, 1]
    );
    assert_eq!(town1(AsOf::Recorded(store.now())).await, may6);

    // Every figure of 4-30 opens to its houses: 总量 to A, B and C; 经营性数量 to C.
    let d430 = on(2024, 4, 30);
    let t1 = RegionCode::parse("370829101").unwrap();
    let codes = |houses: Vec<anju_store::ledgers::LedgerHouse>| {
        houses.into_iter().map(|h| h.code).collect::<Vec<_>>()
    };
    let all = system
        .ledger_houses(Form::Attachment1, d430, 0, Some(&t1))
        .await
        .unwrap();
    let mut abc = vec![a.code.to_string(), b.code.to_string(), c.code.to_string()];
    abc.sort();
    assert_eq!(codes(all), abc);
    let business = system
        .ledger_houses(Form::Attachment1, d430, 1, Some(&t1))
        .await
        .unwrap();
    assert_eq!(codes(business), vec![c.code.to_string()]);
    // The town's own 附件1 (by village) and its frozen form agree with the county's.
    let as_town = store.system("test").within(&Scope::Region { code: t1 });
    let (table, houses) = as_town
        .ledger_with_houses(Form::Attachment1, d430)
        .await
        .unwrap();
    assert_eq!(
        counts(&table, TOWN1_VILLAGE),
        vec![3, 1, 0, 0, 0, 2, 1, 1, 1]
    );
    let row = table
        .rows
        .iter()
        .position(|r| r.code == TOWN1_VILLAGE)
        .unwrap();
    assert_eq!(houses[row][0], abc);
    // 附件2 on 4-30 is not widened: C, registered that day, is surveyed (4-30) and counts; the
    // legacy closures add nothing to it. Surveyed 4 (C business); non-business 3 (A, B, D), ①
    // 3, ③ 1 (B: engineering accepted without appraisal); business 初判隐患 1 (C).
    let t = system.ledger(Form::Attachment2, d430).await.unwrap();
    assert_eq!(
        counts(&t, "370829101"),
        vec![4, 1, 1, 0, 3, 3, 0, 1, 0, 0, 0, 0]
    );
}

anju_store::both!(
    a_legacy_closure_enters_attachment1_on_the_day_it_was_closed,
    a_snapshot_edited_with_its_digest_is_caught_by_the_signature_audit_row,
    a_signed_ledger_is_frozen_with_its_houses_and_digest,
    attachment2_counts_every_column_as_worked_out_by_hand,
    attachment1_counts_the_look_back_list,
    a_ledger_as_of_a_date_counts_what_had_happened_by_then,
    every_figure_opens_to_the_houses_it_counts,
);

/// Issue 18 item 4: no quiet way round a signed report. Once 附件2 as of 6-04 is signed, the
/// same unit's 附件2 as of that day or earlier is refused (naming the signed one); a later one
/// shows the signed one as its predecessor and, once signed, the cells that moved between the
/// two (one house registered after the first was signed, surveyed, reviewed no-hazard and
/// closed: 总量, 非经营性已排查, ①, ② and ⑦ up by one, in its village row and in 合计 — worked by
/// hand); a correction of a returned report names it.
async fn an_earlier_dated_report_after_a_signed_one_is_refused_and_changes_are_shown(
    store: &Store,
) {
    let system = store.system("test");
    use anju_domain::report::ReportAction;
    build(store).await;
    let town1 = RegionCode::parse("370829101").unwrap();
    let as_town = store.system("test").within(&Scope::Region { code: town1 });
    let op = actor("t101-jb", anju_domain::Role::TownOperator);
    let boss = actor("t101-fz", anju_domain::Role::TownPrincipal);
    let county = actor("county", anju_domain::Role::CountyOffice);
    let new = |day: u32| anju_store::ledgers::reports::NewReport {
        form: Form::Attachment2,
        unit: town1,
        as_of: NaiveDate::from_ymd_opt(2024, 6, day).unwrap(),
        contact: "0537-1234567".into(),
        supersedes: None,
    };
    let first = as_town.prepare_report(&op, &new(4)).await.unwrap();
    as_town
        .act_on_report(&boss, first, &ReportAction::Sign)
        .await
        .unwrap();
    for day in [4, 3] {
        let e = as_town.prepare_report(&op, &new(day)).await.unwrap_err();
        let v = e.rule().unwrap();
        assert_eq!(v.code, anju_domain::RuleCode::L1);
        assert!(v.message.contains(&format!("第 {first} 号")), "{v}");
    }
    // The other form is not held back by it.
    as_town
        .prepare_report(
            &op,
            &anju_store::ledgers::reports::NewReport {
                form: Form::Attachment1,
                ..new(3)
            },
        )
        .await
        .unwrap();

    // After the first was signed, one house is registered, surveyed, reviewed no-hazard and
    // closed (its field dates in March): a report as of 6-10 counts it, the signed one did not.
    walk(
        store,
        901,
        TOWN1_VILLAGE,
        UsageCategory::Other,
        P::ReviewClosed,
    )
    .await;
    let second = as_town.prepare_report(&op, &new(10)).await.unwrap();
    let (before, changes) = system.report_predecessor(second).await.unwrap().unwrap();
    assert_eq!(before.id, first);
    assert!(changes.is_empty(), "nothing to compare until it is signed");
    as_town
        .act_on_report(&boss, second, &ReportAction::Sign)
        .await
        .unwrap();
    let (_, changes) = system.report_predecessor(second).await.unwrap().unwrap();
    let total: Vec<(usize, i64, i64)> = changes
        .iter()
        .filter(|d| d.row == "合计")
        .map(|d| (d.column, d.frozen, d.now))
        .collect();
    let cols: Vec<usize> = total.iter().map(|t| t.0).collect();
    assert_eq!(cols, vec![0, 4, 5, 6, 11]);
    assert!(total.iter().all(|(_, a, b)| *b == a + 1), "{total:?}");
    assert_eq!(
        changes.iter().filter(|d| d.row != "合计").count(),
        5,
        "the same five in the village row"
    );

    // Returned, corrected: the correction names the one it corrects as its predecessor.
    as_town
        .act_on_report(&op, second, &ReportAction::Submit)
        .await
        .unwrap();
    system
        .act_on_report(
            &county,
            second,
            &ReportAction::Return {
                reason: "②栏与复核记录不符".into(),
            },
        )
        .await
        .unwrap();
    let third = as_town
        .prepare_report(
            &op,
            &anju_store::ledgers::reports::NewReport {
                supersedes: Some(second),
                ..new(10)
            },
        )
        .await
        .unwrap();
    let (before, _) = system.report_predecessor(third).await.unwrap().unwrap();
    assert_eq!(before.id, second);
    assert_eq!(system.report(third).await.unwrap().supersedes, Some(second));
}

anju_store::both!(an_earlier_dated_report_after_a_signed_one_is_refused_and_changes_are_shown);
