//! Every event under the chain (issue 18), each case on SQLite and PostgreSQL: an intact database
//! verifies clean; an event edited, inserted or deleted outside Anju, a house whose rows are
//! gone, and derived rows edited are each named by house code; a database from before the chain
//! gets its chain once when opened, then verifies, and tampering after that is caught.

use anju_domain::dict::{Judgement, UsageCategory};
use anju_store::houses::chain::ChainReport;
use anju_store::testing::*;
use anju_store::{Store, on_db};

/// Runs one statement with the house code as `$1`.
async fn sql(store: &Store, statement: &'static str, code: &str) {
    on_db!(store.db_for_tests(), p => sqlx::query(statement).bind(code).execute(p).await.map(|_| ())).unwrap();
}

/// The house codes a report names, each once, in order.
fn named(r: &ChainReport) -> Vec<String> {
    let mut v: Vec<String> = r.faults.iter().map(|f| f.code.clone()).collect();
    v.sort();
    v.dedup();
    v
}

fn messages(r: &ChainReport, code: &str) -> String {
    r.faults
        .iter()
        .filter(|f| f.code == code)
        .map(|f| f.message.clone())
        .collect::<Vec<_>>()
        .join("；")
}

/// Three houses: the first registered and surveyed (2 events), the second registered and
/// surveyed (2), the third only registered (1) — 5 events in all.
async fn three_houses(store: &Store) -> [String; 3] {
    with_villages(store).await;
    let mut a = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    a.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let mut b = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    b.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let c = House::register(store, 3, OTHER_VILLAGE, UsageCategory::Other).await;
    [a.code.to_string(), b.code.to_string(), c.code.to_string()]
}

async fn an_intact_database_verifies_clean(store: &Store) {
    let [a, ..] = three_houses(store).await;
    let r = store.system("test").verify_all().await.unwrap();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!((r.houses, r.events), (3, 5));
    // Every step's audit row names the house's new head: the first house's last is its survey.
    let detail: String = on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE object = $1 AND action = 'house.surveyed'")
        .bind(&a).fetch_one(p).await)
    .unwrap();
    let hash: String = on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT e.hash FROM events e JOIN houses h ON h.id = e.house_id WHERE h.code = $1 AND e.seq = 2")
        .bind(&a).fetch_one(p).await).unwrap();
    assert!(
        detail.contains(&format!("[\"{a}\",2,\"{hash}\"]")),
        "{detail}"
    );
}

async fn an_event_edited_outside_anju_is_named(store: &Store) {
    let [a, b, c] = three_houses(store).await;
    // The first house's survey changes hands; its stored hash is left as it was.
    sql(
        store,
        "UPDATE events SET actor_name = '伪造' WHERE seq = 2 AND house_id = (SELECT id FROM houses WHERE code = $1)",
        &a,
    )
    .await;
    // The second house's survey is edited by someone who also recomputes its hash (a survey
    // carries no personal data, so the hash needs no key).
    type Row = (
        String,
        chrono::NaiveDate,
        i64,
        String,
        String,
        String,
        Option<String>,
        String,
        String,
    );
    let (kind, eff, rec, aid, _, role, reason, evidence, payload): Row = on_db!(store.db_for_tests(), p => sqlx::query_as(
        "SELECT e.kind, e.effective, e.recorded_at, e.actor_id, e.actor_name, e.actor_role, e.reason, e.evidence, e.payload \
         FROM events e JOIN houses h ON h.id = e.house_id WHERE h.code = $1 AND e.seq = 2")
        .bind(&b).fetch_one(p).await).unwrap();
    let prev: String = on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT e.hash FROM events e JOIN houses h ON h.id = e.house_id WHERE h.code = $1 AND e.seq = 1")
        .bind(&b).fetch_one(p).await).unwrap();
    let forged = anju_store::houses::chain::event_hash(
        &prev,
        &anju_store::houses::chain::Fields {
            code: &b,
            seq: 2,
            kind: &kind,
            effective: eff,
            recorded_at: rec,
            actor_id: &aid,
            actor_name: "伪造",
            actor_role: &role,
            reason: reason.as_deref(),
            evidence: &evidence,
            payload: &payload,
            personal: None,
        },
    );
    on_db!(store.db_for_tests(), p => sqlx::query(
        "UPDATE events SET actor_name = '伪造', hash = $2 WHERE seq = 2 AND house_id = (SELECT id FROM houses WHERE code = $1)")
        .bind(&b).bind(&forged).execute(p).await.map(|_| ())).unwrap();
    let r = store.system("test").verify_all().await.unwrap();
    assert_eq!(named(&r), vec![a.clone(), b.clone()], "{r:?}");
    assert!(!named(&r).contains(&c));
    assert!(
        messages(&r, &a).contains("第 2 条事件（surveyed）在数据库中被改动"),
        "{r:?}"
    );
    assert!(messages(&r, &b).contains("事件与审计日志"), "{r:?}");
    assert_eq!(
        r.audit_broken, None,
        "the audit trail itself was not touched"
    );
}

async fn a_house_whose_rows_were_deleted_is_named(store: &Store) {
    let [a, b, _] = three_houses(store).await;
    for statement in [
        "DELETE FROM fact_spans WHERE house_id = (SELECT id FROM houses WHERE code = $1)",
        "DELETE FROM house_people WHERE house_id = (SELECT id FROM houses WHERE code = $1)",
        "DELETE FROM house_sectors WHERE house_id = (SELECT id FROM houses WHERE code = $1)",
        "DELETE FROM assignments WHERE house_id = (SELECT id FROM houses WHERE code = $1)",
        "DELETE FROM events WHERE house_id = (SELECT id FROM houses WHERE code = $1)",
        "DELETE FROM houses WHERE code = $1",
    ] {
        sql(store, statement, &a).await;
    }
    // The second house loses only its last event (the survey).
    sql(
        store,
        "DELETE FROM events WHERE seq = 2 AND house_id = (SELECT id FROM houses WHERE code = $1)",
        &b,
    )
    .await;
    let r = store.system("test").verify_all().await.unwrap();
    assert_eq!(named(&r), vec![a.clone(), b.clone()], "{r:?}");
    assert!(messages(&r, &a).contains("已从数据库中删除"), "{r:?}");
    assert!(
        messages(&r, &b).contains("事件被删除：审计日志（第"),
        "{r:?}"
    );
    assert!(messages(&r, &b).contains("记载 2 条，现存 1 条"), "{r:?}");
    assert_eq!(r.houses, 2);
}

async fn an_event_inserted_by_sql_is_named(store: &Store) {
    let [_, _, c] = three_houses(store).await;
    // A copy of the third house's registration as its second event, with a hash that looks
    // right in form.
    sql(
        store,
        "INSERT INTO events (house_id, seq, kind, effective, recorded_at, actor_id, actor_name, actor_role, reason, evidence, payload, personal, hash) \
         SELECT house_id, 2, kind, effective, recorded_at, actor_id, actor_name, actor_role, reason, evidence, payload, personal, hash \
         FROM events WHERE seq = 1 AND house_id = (SELECT id FROM houses WHERE code = $1)",
        &c,
    )
    .await;
    let r = store.system("test").verify_all().await.unwrap();
    assert_eq!(named(&r), vec![c.clone()], "{r:?}");
    assert!(
        messages(&r, &c).contains("有审计日志未记载的事件（第 2 至 2 条）"),
        "{r:?}"
    );
    // A whole house written by SQL (a copy of the first under a new code and plaque token).
    let ghost = anju_domain::HouseCode::new(
        &anju_domain::RegionCode::parse(anju_domain::sample::JIAXIANG).unwrap(),
        99,
    )
    .to_string();
    for statement in [
        "INSERT INTO houses (code, qr_token, version, town_code, village_code, platform_code, census_id, address, is_business, status, judgement, grade, facts, registered_on, last_effective, updated_at, updated_by, state) \
         SELECT $1, 'ghost-token', version, town_code, village_code, NULL, NULL, address, is_business, status, judgement, grade, facts, registered_on, last_effective, updated_at, updated_by, state \
         FROM houses WHERE id = (SELECT MIN(id) FROM houses)",
        "INSERT INTO events (house_id, seq, kind, effective, recorded_at, actor_id, actor_name, actor_role, reason, evidence, payload, personal, hash) \
         SELECT (SELECT id FROM houses WHERE code = $1), seq, kind, effective, recorded_at, actor_id, actor_name, actor_role, reason, evidence, payload, personal, hash \
         FROM events WHERE house_id = (SELECT MIN(id) FROM houses)",
    ] {
        sql(store, statement, &ghost).await;
    }
    let r = store.system("test").verify_all().await.unwrap();
    assert_eq!(named(&r), vec![c.clone(), ghost.clone()], "{r:?}");
    assert!(
        messages(&r, &ghost).contains("审计日志中没有该房屋的登记或变更记录"),
        "{r:?}"
    );
}

async fn derived_rows_edited_are_named(store: &Store) {
    let [a, b, c] = three_houses(store).await;
    // Each house has one derived table edited, and is named for it.
    let edits = [
        (
            "UPDATE fact_spans SET facts = facts + 1 WHERE seq = 1 AND house_id = (SELECT id FROM houses WHERE code = $1)",
            &a,
            "台账时段（fact_spans）与事件推导结果不一致",
        ),
        (
            "UPDATE houses SET status = 'closed' WHERE code = $1",
            &b,
            "房屋当前状态（houses）与事件重放结果不一致",
        ),
        (
            "DELETE FROM house_people WHERE house_id = (SELECT id FROM houses WHERE code = $1)",
            &c,
            "房屋人员信息（house_people）与事件记载不一致",
        ),
    ];
    for (statement, code, _) in edits {
        sql(store, statement, code).await;
    }
    let r = store.system("test").verify_all().await.unwrap();
    assert_eq!(named(&r), vec![a.clone(), b.clone(), c.clone()], "{r:?}");
    for (_, code, message) in edits {
        assert_eq!(messages(&r, code), message);
    }
}

/// Houses written in bulk (the demo's and imports' path) are vouched for by one audit row over
/// a batch of heads; a batch row edited together with the event is caught as the batch.
async fn bulk_written_houses_are_vouched_by_their_batch(store: &Store) {
    with_villages(store).await;
    let mut one = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    one.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let events = store.system("test").house_events(&one.code).await.unwrap();
    // The same history for two new codes, written as one batch.
    let copy = |serial: u32| {
        let code = anju_domain::HouseCode::new(
            &anju_domain::RegionCode::parse(anju_domain::sample::JIAXIANG).unwrap(),
            serial,
        );
        let evs = events
            .iter()
            .cloned()
            .map(|mut e| {
                e.house = code.clone();
                if let anju_domain::event::Change::Registered {
                    plaque_token,
                    record,
                    ..
                } = &mut e.change
                {
                    *plaque_token = format!("{serial:032x}");
                    record.platform_code = Some(format!("YH370829{serial:09}"));
                }
                e
            })
            .collect();
        anju_store::NewHouse::from_events(evs)
    };
    store
        .system("test")
        .write_batch(&[copy(10), copy(11)], &[], "test.load", &clerk())
        .await
        .unwrap();
    let r = store.system("test").verify_all().await.unwrap();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!((r.houses, r.events), (3, 6));
    let batch_rows: i64 = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM chain_heads").fetch_one(p).await).unwrap();
    assert_eq!(batch_rows, 2);

    // An insider edits house 10's survey and the batch's row for it: the batch no longer
    // hashes to its audit row.
    let ten = copy(10).state.code.to_string();
    for statement in [
        "UPDATE events SET actor_name = '伪造', hash = 'f' WHERE seq = 2 AND house_id = (SELECT id FROM houses WHERE code = $1)",
        "UPDATE chain_heads SET hash = 'f' WHERE code = $1",
    ] {
        sql(store, statement, &ten).await;
    }
    let r = store.system("test").verify_all().await.unwrap();
    assert_eq!(r.batch_faults.len(), 1, "{r:?}");
    assert!(r.batch_faults[0].contains("（2 栋）已被改动"), "{r:?}");
    assert!(named(&r).contains(&ten), "{r:?}");
}

anju_store::both!(
    an_intact_database_verifies_clean,
    an_event_edited_outside_anju_is_named,
    a_house_whose_rows_were_deleted_is_named,
    an_event_inserted_by_sql_is_named,
    derived_rows_edited_are_named,
    bulk_written_houses_are_vouched_by_their_batch,
);

/// Turns a current database back into one of migration 0005: no event hashes, no batches of
/// heads, and audit rows that never named a head (their chain recomputed as it was).
async fn back_to_0005(store: &Store) {
    for statement in [
        "DROP INDEX audit_log_object",
        "DROP TABLE chain_heads",
        "ALTER TABLE events DROP COLUMN hash",
        "DELETE FROM _sqlx_migrations WHERE version = 6",
    ] {
        on_db!(store.db_for_tests(), p => sqlx::query(statement).execute(p).await.map(|_| ()))
            .unwrap();
    }
    type Row = (
        i64,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        String,
    );
    let rows: Vec<Row> = on_db!(store.db_for_tests(), p => sqlx::query_as(
        "SELECT id, at, actor_id, actor_role, source, action, object, outcome, reason, detail FROM audit_log ORDER BY id")
        .fetch_all(p).await).unwrap();
    let mut prev = "0".repeat(64);
    for (id, at, actor_id, role, source, action, object, outcome, reason, detail) in rows {
        let mut v: serde_json::Value = serde_json::from_str(&detail).unwrap();
        if let Some(o) = v.as_object_mut() {
            o.remove("chain");
            o.remove("chain_batch");
        }
        let detail = v.to_string();
        let hash = anju_store::infra::audit::hash_stored(
            &prev,
            id,
            at,
            [
                &actor_id,
                &role,
                &source,
                &action,
                &object,
                &outcome,
                reason.as_deref().unwrap_or(""),
                &detail,
            ],
        );
        on_db!(store.db_for_tests(), p => sqlx::query("UPDATE audit_log SET detail = $1, prev_hash = $2, hash = $3 WHERE id = $4")
            .bind(&detail).bind(&prev).bind(&hash).bind(id).execute(p).await.map(|_| ())).unwrap();
        prev = hash;
    }
    on_db!(store.db_for_tests(), p => sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&prev).execute(p).await.map(|_| ()))
    .unwrap();
    assert_eq!(
        anju_store::infra::audit::verify(store.db_for_tests())
            .await
            .unwrap(),
        None
    );
}

async fn a_database_from_before_the_chain_is_chained_once(db: anju_store::testing::TestDb) {
    let [a, _, c] = three_houses(&db.store).await;
    back_to_0005(&db.store).await;
    let keys = anju_store::Vault::from_json(&db.store.vault().to_json()).unwrap();
    db.store.close().await;
    // Opening migrates (0006) and chains the five events once, under one baseline audit row.
    let store = Store::open(&db.url, keys.clone()).await.unwrap();
    let baseline: Vec<String> = on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'chain.baseline'").fetch_all(p).await)
    .unwrap();
    assert_eq!(baseline.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&baseline[0]).unwrap();
    assert_eq!(v["chain_batch"]["houses"], 3);
    assert_eq!(v["events"], 5);
    let r = store.system("test").verify_all().await.unwrap();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!((r.houses, r.events), (3, 5));
    // Opened again: nothing left to chain, no second baseline.
    store.close().await;
    let store = Store::open(&db.url, keys).await.unwrap();
    let n: i64 = on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'chain.baseline'").fetch_one(p).await)
    .unwrap();
    assert_eq!(n, 1);
    // A step after the migration links to the baseline's head.
    let mut h = House {
        store: &store,
        code: anju_domain::HouseCode::parse(&c).unwrap(),
        version: 1,
        day: chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
    };
    h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    assert!(store.system("test").verify_all().await.unwrap().is_clean());
    // Tampering after the migration is caught and named.
    sql(
        &store,
        "UPDATE events SET actor_name = '伪造' WHERE seq = 1 AND house_id = (SELECT id FROM houses WHERE code = $1)",
        &a,
    )
    .await;
    let r = store.system("test").verify_all().await.unwrap();
    assert_eq!(named(&r), vec![a.clone()], "{r:?}");
    store.close().await;
}

mod a_database_from_before_the_chain {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_database_from_before_the_chain_is_chained_once(
            anju_store::testing::sqlite().await,
        )
        .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_database_from_before_the_chain_is_chained_once(
            anju_store::testing::postgres().await,
        )
        .await;
    }
}
