//! Importing ledger batches through the store, on both backends: a dry run writes nothing, a
//! commit registers each house with the steps its row describes, the same rows again change
//! nothing, a changed row becomes one correction naming the file, and one bad row keeps the
//! whole batch out.

use anju_domain::auth::Principal;
use anju_domain::event::Role;
use anju_domain::import::{Row, map_headers, read_row};
use anju_domain::state::Status;
use anju_domain::{HouseCode, RegionCode};
use anju_store::Store;
use anju_store::houses::import::{ImportFile, ImportReport};
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

/// The status cells of a house surveyed on 2024-03-20 and judged hazardous for `category`,
/// then `later` ones (管理措施, 销号日期, 销号依据, 复核日期, 复核结论).
fn hazardous<'a>(category: &'a str, later: &[&'a str]) -> Vec<&'a str> {
    [&["2024-03-20", "存在一定安全隐患", category][..], later].concat()
}

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

/// The test villages set up, and the importing clerk of the first one's town.
async fn town_clerk(store: &Store) -> Principal {
    with_villages(store).await;
    clerk_of("370829101")
}

fn file() -> ImportFile {
    ImportFile {
        name: "梁宝寺镇台账.xlsx".into(),
        sha256: "cd".repeat(32),
    }
}

/// `who` imports `batch` from [`file`], committing it or as a dry run: the report.
async fn import(store: &Store, who: &Principal, batch: &[Row], commit: bool) -> ImportReport {
    store
        .import_batch(who, "t", &file(), batch, commit)
        .await
        .unwrap()
}

async fn a_ledger_is_imported_once_and_corrected_by_a_changed_row(store: &Store) {
    let who = town_clerk(store).await;
    let lines = vec![
        cells("PC-1", "一组1号", &[]),
        cells(
            "PC-2",
            "一组2号",
            &hazardous("上部承重结构", &["刷墙勾缝", "2024-04-01", "采取管理措施"]),
        ),
        cells(
            "PC-3",
            "一组3号",
            &hazardous(
                "地基基础",
                &[
                    "",
                    "2024-04-02",
                    "专业技术人员复核无隐患",
                    "2024-03-30",
                    "经复核无安全隐患",
                ],
            ),
        ),
    ];
    let batch = rows(store, &lines).await;
    let before = snapshot(store).await;
    let dry = import(store, &who, &batch, false).await;
    assert_eq!(
        (dry.rows, dry.new_houses, dry.closed, dry.look_back),
        (3, 3, 1, 1)
    );
    assert!(dry.errors.is_empty(), "{:?}", dry.errors);
    assert_eq!(snapshot(store).await, before, "a dry run writes nothing");

    let done = import(store, &who, &batch, true).await;
    assert_eq!((done.new_houses, done.closed, done.look_back), (3, 1, 1));
    let county = RegionCode::parse("370829").unwrap();
    let status = |serial| async move {
        store
            .system("test")
            .house(&HouseCode::new(&county, serial))
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
    assert_eq!(
        status(3).await,
        Status::AwaitingClosure,
        "the file's closure waits for the principal"
    );

    // The same file again: nothing changes.
    let after = snapshot(store).await;
    let again = import(store, &who, &batch, true).await;
    assert_eq!(
        (again.new_houses, again.corrected, again.unchanged),
        (0, 0, 3)
    );
    assert_eq!(snapshot(store).await, after, "idempotent");

    // One row changed: one correction, naming the file and the row.
    let mut changed = lines.clone();
    changed[0][2] = "一组1号之一".into();
    let batch = rows(store, &changed).await;
    let c = import(store, &who, &batch, true).await;
    assert_eq!((c.corrected, c.unchanged), (1, 2));
    let events = store
        .system("test")
        .house_events(&HouseCode::new(&county, 1))
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
    let check = store.system("test").verify_all().await.unwrap();
    assert!(check.is_clean() && check.houses == 3, "{check:?}");
    let sources: Vec<String> = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT DISTINCT source FROM audit_log WHERE action = 'houses.import'").fetch_all(p).await)
    .unwrap();
    assert_eq!(sources, ["import:t"]);
}

async fn one_bad_row_keeps_the_whole_batch_out(store: &Store) {
    let who = town_clerk(store).await;
    let lines = vec![
        cells("PC-1", "一组1号", &[]),
        // C/D-like impossible: closed on a review that never happened.
        cells(
            "PC-2",
            "一组2号",
            &hazardous(
                "上部承重结构",
                &["", "2024-04-01", "专业技术人员复核无隐患"],
            ),
        ),
        cells("PC-1", "一组1号重复", &[]),
        cells("", "无标识", &[]),
    ];
    let batch = rows(store, &lines).await;
    let before = snapshot(store).await;
    let r = import(store, &who, &batch, true).await;
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
    let who = town_clerk(store).await;
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
            &hazardous(
                "地基基础",
                &[
                    "",
                    "2024-04-02",
                    "专业技术人员复核无隐患",
                    "2024-04-05",
                    "经复核无安全隐患",
                ],
            ),
        ),
        cells(
            "PC-3",
            "一组3号",
            &hazardous("地基基础", &["", "", "", "2024-03-10", "经复核无安全隐患"]),
        ),
        cells("PC-4", "一组4号", &["2026-12-01", "未发现安全隐患"]),
    ];
    let batch = rows(store, &lines).await;
    let report = import(store, &who, &batch, true).await;
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
    assert_eq!(store.system("test").count_houses().await.unwrap(), 0);
}

anju_store::both!(implausible_rows_are_refused_by_column_and_nothing_is_written);

fn account(username: &str, role: Role, region: &str) -> Principal {
    principal_of(username, role, Some(region), None)
}

/// ⑥ and ⑦ of 附件2's total (non-business houses), and ① beside them.
async fn hazard_engineered_closed(store: &Store) -> (i64, i64, i64) {
    let t = store
        .system("test")
        .ledger(
            anju_domain::ledger::Form::Attachment2,
            anju_domain::ledger::AsOf::Now,
        )
        .await
        .unwrap();
    (t.total.counts[5], t.total.counts[10], t.total.counts[11])
}

fn reviewed_closed(census: &str, closed_on: &str) -> Vec<String> {
    cells(
        census,
        &format!("二组{census}号"),
        &hazardous(
            "地基基础",
            &[
                "",
                closed_on,
                "专业技术人员复核无隐患",
                "2024-03-30",
                "经复核无安全隐患",
            ],
        ),
    )
}

/// Issue 18 item 3: a town clerk imports a ledger whose houses are closed. ⑦ does not move
/// until the town's principal confirms in Anju; confirmed, ⑦ counts them and the events name
/// the clerk (the review from the file) and the principal (the closure). The clerk cannot
/// confirm, a principal of another town cannot, a rejection needs a reason and records nothing.
async fn imported_closures_count_only_once_the_principal_confirms(store: &Store) {
    let clerk = town_clerk(store).await;
    let batch = rows(
        store,
        &[
            reviewed_closed("C-1", "2024-04-02"),
            reviewed_closed("C-2", "2024-04-03"),
            cells("C-3", "二组3号", &hazardous("地基基础", &[])),
        ],
    )
    .await;
    let done = store
        .import_batch(&clerk, "web:10.0.0.7", &file(), &batch, true)
        .await
        .unwrap();
    assert_eq!((done.new_houses, done.closed), (3, 2));
    // Worked by hand: three houses judged hazardous (①), none engineered (⑥), none closed (⑦).
    assert_eq!(hazard_engineered_closed(store).await, (3, 0, 0));
    let county = RegionCode::parse("370829").unwrap();
    let (c1, c2, c3) = (
        HouseCode::new(&county, 1),
        HouseCode::new(&county, 2),
        HouseCode::new(&county, 3),
    );
    for c in [&c1, &c2, &c3] {
        let events = store.system("test").house_events(c).await.unwrap();
        assert!(
            events.iter().all(|e| e.actor.id == "imp"),
            "every imported step names the clerk who imported it"
        );
    }

    // The list the principal sees: two houses, each with the closure the file claims.
    let (total, held) = store
        .system("test")
        .held_back_page(None, (1, 50))
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        held.iter().map(|h| h.code.as_str()).collect::<Vec<_>>(),
        [c1.as_str(), c2.as_str()]
    );
    let step = &held[0].steps[0];
    assert_eq!(
        (
            step.label.as_str(),
            step.basis.as_deref(),
            step.effective.to_string(),
            step.imported_by.as_str(),
            step.file_name.as_str()
        ),
        (
            "销号",
            Some("专业技术人员复核无隐患"),
            "2024-04-02".to_string(),
            "imp",
            "梁宝寺镇台账.xlsx"
        )
    );

    // The clerk may not confirm: refused, audited, nothing recorded.
    let audit_before = audit_count(store).await;
    let err = store
        .access(&clerk, "web:10.0.0.7")
        .confirm_imported(std::slice::from_ref(&c1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("确认导入台账"), "{err}");
    assert_eq!(audit_count(store).await, audit_before + 1);
    // A principal of another town sees nothing of these houses.
    let other = account("chief2", Role::TownPrincipal, "370829102");
    let d = store
        .access(&other, "web:10.0.0.8")
        .confirm_imported(std::slice::from_ref(&c1))
        .await
        .unwrap();
    assert!(d.houses.is_empty() && d.refused.len() == 1, "{d:?}");
    assert_eq!(hazard_engineered_closed(store).await, (3, 0, 0));

    // The town's principal confirms one of the two.
    let chief = account("chief", Role::TownPrincipal, "370829101");
    let d = store
        .access(&chief, "web:10.0.0.9")
        .confirm_imported(std::slice::from_ref(&c1))
        .await
        .unwrap();
    assert_eq!((d.houses.clone(), d.steps), (vec![c1.to_string()], 1));
    assert_eq!(hazard_engineered_closed(store).await, (3, 0, 1));
    let events = store.system("test").house_events(&c1).await.unwrap();
    let closure = events.last().unwrap();
    assert_eq!(closure.change.kind(), anju_domain::ChangeKind::Closed);
    assert_eq!(closure.actor.id, "chief", "the principal approved it");
    assert_eq!(
        closure.effective.to_string(),
        "2024-04-02",
        "the ledger's date"
    );
    let reason = closure.reason.as_deref().unwrap();
    assert!(
        reason.contains("梁宝寺镇台账.xlsx") && reason.contains("确认"),
        "{reason}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.change.kind() == anju_domain::ChangeKind::Reviewed && e.actor.id == "imp"),
        "the basis stays the clerk's record"
    );
    // Confirming again does nothing: nothing is held back for it any more.
    let again = store
        .access(&chief, "web:10.0.0.9")
        .confirm_imported(std::slice::from_ref(&c1))
        .await
        .unwrap();
    assert!(again.houses.is_empty() && again.refused.len() == 1);

    // The other is rejected: a reason is needed; then nothing is recorded and it is off the list.
    let err = store
        .access(&chief, "web:10.0.0.9")
        .reject_imported(std::slice::from_ref(&c2), "不对")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("理由"), "{err}");
    let d = store
        .access(&chief, "web:10.0.0.9")
        .reject_imported(std::slice::from_ref(&c2), "无复核记录原件，须重新现场复核")
        .await
        .unwrap();
    assert_eq!(d.houses, vec![c2.to_string()]);
    assert_eq!(store.system("test").held_back_count().await.unwrap(), 0);
    assert_eq!(hazard_engineered_closed(store).await, (3, 0, 1));
    assert_eq!(
        store
            .system("test")
            .house(&c2)
            .await
            .unwrap()
            .state
            .status(),
        Status::AwaitingClosure
    );

    // Audited from where it came, and the chain vouches for the confirmed closure.
    let rows: Vec<(String, String, String)> = anju_store::on_db!(store.db_for_tests(), p => sqlx::query_as(
        "SELECT action, actor_id, source FROM audit_log WHERE action LIKE 'imports.%' ORDER BY id").fetch_all(p).await)
    .unwrap();
    assert_eq!(
        rows,
        [
            (
                "imports.confirm".into(),
                "chief2".into(),
                "web:10.0.0.8".into()
            ),
            (
                "imports.confirm".into(),
                "chief".into(),
                "web:10.0.0.9".into()
            ),
            (
                "imports.confirm".into(),
                "chief".into(),
                "web:10.0.0.9".into()
            ),
            (
                "imports.reject".into(),
                "chief".into(),
                "web:10.0.0.9".into()
            ),
        ]
    );
    let check = store.system("test").verify_all().await.unwrap();
    assert!(check.is_clean(), "{check:?}");
}

anju_store::both!(imported_closures_count_only_once_the_principal_confirms);

/// The county moves its history in: the county office imports, and a second county-office
/// account's cut-over date confirms every held-back closure dated on or before it; later ones
/// stay held back. The importing account cannot approve its own file's closures (C2), and a
/// cut-over after today is refused.
async fn a_cut_over_date_confirms_the_history_before_it(store: &Store) {
    with_villages(store).await;
    let importer = account("county1", Role::CountyOffice, "370829");
    let batch = rows(
        store,
        &[
            reviewed_closed("K-1", "2024-04-02"),
            reviewed_closed("K-2", "2024-05-20"),
        ],
    )
    .await;
    store
        .import_batch(&importer, "cli", &file(), &batch, true)
        .await
        .unwrap();
    assert_eq!(hazard_engineered_closed(store).await, (2, 0, 0));
    let day = chrono::NaiveDate::from_ymd_opt(2024, 4, 30).unwrap();

    let own = store
        .access(&importer, "cli")
        .cut_over_imports(day)
        .await
        .unwrap();
    assert!(own.houses.is_empty(), "{own:?}");
    assert!(own.refused[0].1.contains("C2"), "{:?}", own.refused);
    assert_eq!(hazard_engineered_closed(store).await, (2, 0, 0));

    let other = account("county2", Role::CountyOffice, "370829");
    let future = store.today() + chrono::Days::new(1);
    assert!(
        store
            .access(&other, "cli")
            .cut_over_imports(future)
            .await
            .is_err()
    );
    // A principal may confirm houses, but not set the county's cut-over.
    let chief = account("chief", Role::TownPrincipal, "370829101");
    assert!(
        store
            .access(&chief, "cli")
            .cut_over_imports(day)
            .await
            .is_err()
    );
    let d = store
        .access(&other, "cli")
        .cut_over_imports(day)
        .await
        .unwrap();
    assert_eq!(d.houses.len(), 1, "{d:?}");
    assert_eq!(hazard_engineered_closed(store).await, (2, 0, 1));
    assert_eq!(store.system("test").held_back_count().await.unwrap(), 1);
}

anju_store::both!(a_cut_over_date_confirms_the_history_before_it);
