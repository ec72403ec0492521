//! Importing ledger batches through the store, on both backends: a dry run writes nothing, a
//! commit registers each house with the steps its row describes, the same rows again change
//! nothing, a changed row becomes one correction naming the file, and one bad row keeps the
//! whole batch out.

use anju_domain::auth::Principal;
use anju_domain::event::Role;
use anju_domain::import::{Row, map_headers, read_row};
use anju_domain::state::Status;
use anju_domain::{HouseCode, RegionCode, Scope};
use anju_store::Store;
use anju_store::import::ImportFile;
use anju_store::testing::*;

const HEAD: &[&str] = &[
    "普查房屋编号",
    "村（社区）",
    "房屋地址",
    "产权人（户主）",
    "房屋用途",
    "地上层数",
    "建筑面积（㎡）",
    "结构类型",
    "排查日期",
    "隐患初判",
    "隐患类别",
    "管理措施",
    "销号日期",
    "销号依据",
    "复核日期",
    "复核结论",
];

fn cells(census: &str, address: &str, status: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        census,
        VILLAGE,
        address,
        "赵六",
        "其他自建房",
        "2",
        "120",
        "砌体结构(砖混)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(status.iter().map(|s| s.to_string()));
    v.resize(HEAD.len(), String::new());
    v
}

async fn rows(store: &Store, lines: &[Vec<String>]) -> Vec<Row> {
    let headers: Vec<String> = HEAD.iter().map(|s| s.to_string()).collect();
    let map = map_headers(&headers).unwrap();
    let reference = store.reference();
    lines
        .iter()
        .enumerate()
        .map(|(i, c)| {
            read_row(
                i + 2,
                c,
                &map,
                &reference.regions,
                &reference.dictionaries,
                chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
            )
            .unwrap_or_else(|e| panic!("row {}: {e:?}", i + 2))
        })
        .collect()
}

fn clerk_of(town: &str) -> Principal {
    Principal {
        account_id: 1,
        username: "imp".into(),
        name: "导入员".into(),
        role: Role::TownOperator,
        region: Some(RegionCode::parse(town).unwrap()),
        department: None,
    }
}

fn file() -> ImportFile {
    ImportFile {
        name: "梁宝寺镇台账.xlsx".into(),
        sha256: "cd".repeat(32),
    }
}

async fn a_ledger_is_imported_once_and_corrected_by_a_changed_row(store: &Store) {
    with_villages(store).await;
    let who = clerk_of("370829101");
    let lines = vec![
        cells("PC-1", "一组1号", &[]),
        cells(
            "PC-2",
            "一组2号",
            &[
                "2024-03-20",
                "存在一定安全隐患",
                "上部承重结构",
                "刷墙勾缝",
                "2024-04-01",
                "采取管理措施",
            ],
        ),
        cells(
            "PC-3",
            "一组3号",
            &[
                "2024-03-20",
                "存在一定安全隐患",
                "地基基础",
                "",
                "2024-04-02",
                "专业技术人员复核无隐患",
                "2024-03-30",
                "经复核无安全隐患",
            ],
        ),
    ];
    let batch = rows(store, &lines).await;
    let before = snapshot(store).await;
    let dry = store
        .import_batch(&who, "t", &file(), &batch, false)
        .await
        .unwrap();
    assert_eq!(
        (dry.rows, dry.new_houses, dry.closed, dry.look_back),
        (3, 3, 1, 1)
    );
    assert!(dry.errors.is_empty(), "{:?}", dry.errors);
    assert_eq!(snapshot(store).await, before, "a dry run writes nothing");

    let done = store
        .import_batch(&who, "t", &file(), &batch, true)
        .await
        .unwrap();
    assert_eq!((done.new_houses, done.closed, done.look_back), (3, 1, 1));
    let county = RegionCode::parse("370829").unwrap();
    let status = |serial| async move {
        store
            .house(&Scope::All, &HouseCode::new(&county, serial))
            .await
            .unwrap()
            .state
            .status()
    };
    assert_eq!(status(1).await, Status::AwaitingSurvey);
    assert_eq!(
        status(2).await,
        Status::AwaitingLookBack,
        "never counted as closed"
    );
    assert_eq!(status(3).await, Status::Closed);

    // The same file again: nothing changes.
    let after = snapshot(store).await;
    let again = store
        .import_batch(&who, "t", &file(), &batch, true)
        .await
        .unwrap();
    assert_eq!(
        (again.new_houses, again.corrected, again.unchanged),
        (0, 0, 3)
    );
    assert_eq!(snapshot(store).await, after, "idempotent");

    // One row changed: one correction, naming the file and the row.
    let mut changed = lines.clone();
    changed[0][2] = "一组1号之一".into();
    let batch = rows(store, &changed).await;
    let c = store
        .import_batch(&who, "t", &file(), &batch, true)
        .await
        .unwrap();
    assert_eq!((c.corrected, c.unchanged), (1, 2));
    let events = store
        .house_events(&Scope::All, &HouseCode::new(&county, 1))
        .await
        .unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.change.kind(), anju_domain::ChangeKind::Corrected);
    assert_eq!(
        last.reason.as_deref(),
        Some("台账导入：梁宝寺镇台账.xlsx 第 2 行")
    );
    // Both imports' audit rows vouch for their houses' heads (the correction's too), and say
    // the rows came in by an import.
    let check = store.verify_all().await.unwrap();
    assert!(check.is_clean() && check.houses == 3, "{check:?}");
    let sources: Vec<String> = anju_store::on_db!(&store.db, p => sqlx::query_scalar(
        "SELECT DISTINCT source FROM audit_log WHERE action = 'houses.import'").fetch_all(p).await)
    .unwrap();
    assert_eq!(sources, ["import:t"]);
}

async fn one_bad_row_keeps_the_whole_batch_out(store: &Store) {
    with_villages(store).await;
    let who = clerk_of("370829101");
    let lines = vec![
        cells("PC-1", "一组1号", &[]),
        // C/D-like impossible: closed on a review that never happened.
        cells(
            "PC-2",
            "一组2号",
            &[
                "2024-03-20",
                "存在一定安全隐患",
                "上部承重结构",
                "",
                "2024-04-01",
                "专业技术人员复核无隐患",
            ],
        ),
        cells("PC-1", "一组1号重复", &[]),
        cells("", "无标识", &[]),
    ];
    let batch = rows(store, &lines).await;
    let before = snapshot(store).await;
    let r = store
        .import_batch(&who, "t", &file(), &batch, true)
        .await
        .unwrap();
    let rows: Vec<usize> = r.errors.iter().map(|e| e.row).collect();
    assert_eq!(rows, [3, 4, 5], "{:?}", r.errors);
    assert!(
        r.errors[0].message.contains("C1"),
        "{}",
        r.errors[0].message
    );
    assert!(r.errors[1].message.contains("与第 2 行重复"));
    assert!(r.errors[2].message.contains("缺少房屋标识"));
    assert_eq!(r.new_houses, 0);
    assert_eq!(
        snapshot(store).await,
        before,
        "nothing of the batch written"
    );

    // Another town's clerk may not import into this town's village.
    let far = clerk_of("370829102");
    let r = store
        .import_batch(&far, "t", &file(), &batch[..1], true)
        .await
        .unwrap();
    assert!(
        r.errors[0].message.contains("不在您的辖区内"),
        "{:?}",
        r.errors
    );
    // A principal may not import at all.
    let mut p = clerk_of("370829101");
    p.role = Role::TownPrincipal;
    assert!(
        store
            .import_batch(&p, "t", &file(), &batch[..1], true)
            .await
            .is_err()
    );
    assert_eq!(snapshot(store).await, before);
}

anju_store::both!(a_ledger_is_imported_once_and_corrected_by_a_changed_row);
anju_store::both!(one_bad_row_keeps_the_whole_batch_out);

async fn implausible_rows_are_refused_by_column_and_nothing_is_written(store: &Store) {
    with_villages(store).await;
    let who = clerk_of("370829101");
    let before = snapshot(store).await;

    // A record cell outside its bound is named while the row is read, against the store's
    // day (30 November 2026 on the test clock).
    let mut headers: Vec<String> = HEAD.iter().map(|s| s.to_string()).collect();
    headers.push("建成年份".into());
    let map = map_headers(&headers).unwrap();
    let reference = store.reference();
    let read = |year: &str| {
        let mut c = cells("PC-9", "一组9号", &[]);
        c.push(year.into());
        read_row(
            2,
            &c,
            &map,
            &reference.regions,
            &reference.dictionaries,
            store.today(),
        )
    };
    assert!(read("2026").is_ok());
    assert_eq!(
        read("2027").unwrap_err(),
        ["建成年份不能晚于当前年份（2026），填写的是 2027"]
    );

    // Dates out of order or after today, named by their columns when the batch is checked.
    let lines = vec![
        cells("PC-1", "一组1号", &[]),
        cells(
            "PC-2",
            "一组2号",
            &[
                "2024-03-20",
                "存在一定安全隐患",
                "地基基础",
                "",
                "2024-04-02",
                "专业技术人员复核无隐患",
                "2024-04-05",
                "经复核无安全隐患",
            ],
        ),
        cells(
            "PC-3",
            "一组3号",
            &[
                "2024-03-20",
                "存在一定安全隐患",
                "地基基础",
                "",
                "",
                "",
                "2024-03-10",
                "经复核无安全隐患",
            ],
        ),
        cells("PC-4", "一组4号", &["2026-12-01", "未发现安全隐患"]),
    ];
    let batch = rows(store, &lines).await;
    let report = store
        .import_batch(&who, "t", &file(), &batch, true)
        .await
        .unwrap();
    let errors: Vec<(usize, &str)> = report
        .errors
        .iter()
        .map(|e| (e.row, e.message.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                3,
                "销号日期 2024-04-02 不能早于复核日期 2024-04-05（规则 D1）"
            ),
            (
                4,
                "复核日期 2024-03-10 不能早于排查日期 2024-03-20（规则 D1）"
            ),
            (
                5,
                "排查日期 2026-12-01 不能晚于今天（2026-11-30）（规则 D1）"
            ),
        ]
    );
    assert_eq!(report.new_houses, 0);
    assert_eq!(snapshot(store).await, before, "nothing written");
    assert_eq!(store.count_houses(&Scope::All).await.unwrap(), 0);
}

anju_store::both!(implausible_rows_are_refused_by_column_and_nothing_is_written);
