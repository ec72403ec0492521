//! Reading ledger rows into houses and the steps that explain their status, decided by the
//! rules: a finished rectification is closed, a closure on management measures lands on the
//! look-back list, an impossible combination is refused naming the rule and the column.

use anju_domain::HouseCode;
use anju_domain::auth::Principal;
use anju_domain::codes::{RegionCode, RegionLevel};
use anju_domain::dict::Dictionaries;
use anju_domain::event::{Actor, ChangeKind, Role};
use anju_domain::event::{Change, EvidenceKind};
use anju_domain::import::{
    Importers, PendingStep, events, held_back, ledger_evidence, map_headers, read_row,
};
use anju_domain::ledger::Facts;
use anju_domain::region::Region;
use anju_domain::rules::decide;
use anju_domain::sample::{jiaxiang_seed, seed_valid_from};
use anju_domain::state::{HouseState, Status, apply};
use chrono::{NaiveDate, Utc};

const HEAD: &[&str] = &[
    "镇街",
    "村（社区）",
    "房屋地址",
    "产权人（户主）",
    "房屋用途",
    "地上层数",
    "建筑面积（㎡）",
    "结构类型",
    "普查房屋编号",
    "排查日期",
    "隐患初判",
    "隐患类别",
    "鉴定日期",
    "鉴定机构",
    "鉴定报告编号",
    "鉴定等级",
    "告知日期",
    "告知方式",
    "管理措施",
    "管理措施日期",
    "工程措施",
    "开工日期",
    "竣工验收日期",
    "销号日期",
    "销号依据",
];

fn regions() -> Vec<Region> {
    let mut r = jiaxiang_seed();
    r.push(Region {
        code: RegionCode::parse("370829101201").unwrap(),
        name: "前进村".into(),
        level: RegionLevel::Village,
        parent: Some(RegionCode::parse("370829101").unwrap()),
        valid_from: seed_valid_from(),
        valid_to: None,
        is_demo: true,
        reports_separately: true,
    });
    r
}

fn town_name(regions: &[Region]) -> String {
    regions
        .iter()
        .find(|r| r.code.as_str() == "370829101000")
        .unwrap()
        .name
        .clone()
}

/// A row: the record, then `status` as (header, value) pairs.
fn row(status: &[(&str, &str)]) -> Vec<String> {
    let regions = regions();
    let mut cells: Vec<String> = vec![
        town_name(&regions),
        "前进村".into(),
        "前进村三组5号".into(),
        "李四".into(),
        "其他自建房".into(),
        "2".into(),
        "150".into(),
        "砌体结构(砖混)".into(),
        "PC-1".into(),
    ];
    for h in &HEAD[9..] {
        cells.push(
            status
                .iter()
                .find(|(k, _)| k == h)
                .map_or(String::new(), |(_, v)| v.to_string()),
        );
    }
    cells
}

/// The clerk who imports the file in these tests, and the principal who confirms.
fn clerk() -> Principal {
    Principal {
        account_id: 7,
        username: "clerk01".into(),
        name: "陈填报".into(),
        role: Role::TownOperator,
        region: RegionCode::parse("370829100").ok(),
        department: None,
    }
}

fn principal() -> Actor {
    Actor {
        id: "chief01".into(),
        name: "王镇长".into(),
        role: Role::TownPrincipal,
    }
}

/// The row as imported: the house as recorded, and the steps held back for confirmation.
fn import(status: &[(&str, &str)]) -> Result<(HouseState, Vec<PendingStep>), String> {
    let headers: Vec<String> = HEAD.iter().map(|s| s.to_string()).collect();
    let map = map_headers(&headers).unwrap();
    let dict = Dictionaries::default();
    let today = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
    let r = read_row(2, &row(status), &map, &regions(), &dict, today).map_err(|e| e.join("；"))?;
    let sha = "ab".repeat(32);
    let who = Importers::new(&clerk(), "台账.xlsx", &sha);
    let code = HouseCode::new(&RegionCode::parse("370829").unwrap(), 1);
    let ev = ledger_evidence("台账.xlsx", &sha, 2);
    let imported = events(
        &r,
        code.clone(),
        "0".repeat(32),
        &who,
        noon(today),
        today,
        &dict,
        &ev,
    )?;
    let mut s = HouseState::new(code);
    for e in &imported.events {
        assert!(
            e.evidence
                .iter()
                .any(|x| x.kind == EvidenceKind::LedgerRecord)
        );
        assert_eq!(
            e.actor.id, "clerk01",
            "every imported step names the importer"
        );
        assert!(
            !held_back(&e.change),
            "{:?} recorded at the import",
            e.change
        );
        s = apply(s, e);
    }
    Ok((s, imported.pending))
}

/// The row imported and its held-back steps confirmed: acceptances by the importer's record,
/// closures by the town's principal.
fn run(status: &[(&str, &str)]) -> Result<HouseState, String> {
    let (mut s, pending) = import(status)?;
    let dict = Dictionaries::default();
    let now = noon(NaiveDate::from_ymd_opt(2024, 6, 2).unwrap());
    let who = Importers::new(&clerk(), "台账.xlsx", &"ab".repeat(32));
    for p in pending {
        let actor = match p.change {
            Change::Closed { .. } => principal(),
            _ => who.steps.clone(),
        };
        let cmd = p.command(s.code.clone(), s.version, "王镇长");
        let e = decide(&s, &cmd, &actor, now, &dict).map_err(|v| v.to_string())?;
        s = apply(s, &e);
    }
    Ok(s)
}

#[test]
fn a_closure_and_acceptance_in_a_file_wait_for_the_principal() {
    let (s, pending) = import(&rectified(&[])).unwrap();
    assert_eq!(
        s.status(),
        Status::Rectifying,
        "works started, nothing accepted"
    );
    assert!(s.closure.is_none() && s.engineering_accepted().is_none());
    assert!(!s.facts().contains(Facts::CLOSED) && !s.facts().contains(Facts::CD_ENGINEERED));
    assert_eq!(
        pending.iter().map(|p| p.change.kind()).collect::<Vec<_>>(),
        vec![ChangeKind::EngineeringAccepted, ChangeKind::Closed]
    );
    assert_eq!(
        pending
            .iter()
            .map(|p| p.effective.to_string())
            .collect::<Vec<_>>(),
        vec!["2024-05-01", "2024-05-10"],
        "the ledger's own dates"
    );
    // The importer alone cannot approve the closure the file claims (C2: the acceptance is theirs).
    let who = Importers::new(&clerk(), "台账.xlsx", &"ab".repeat(32));
    let dict = Dictionaries::default();
    let now = noon(NaiveDate::from_ymd_opt(2024, 6, 2).unwrap());
    // A pending step taken by the importer on `s`, confirmed in the name of `confirmer`.
    let by_importer = |s: &HouseState, p: &PendingStep, confirmer: &str| {
        let cmd = p.command(s.code.clone(), s.version, confirmer);
        decide(s, &cmd, &who.steps, now, &dict)
    };
    let accepted = by_importer(&s, &pending[0], "王镇长").unwrap();
    let s2 = apply(s.clone(), &accepted);
    let own = by_importer(&s2, &pending[1], "陈填报").unwrap_err();
    assert!(own.to_string().contains("C2"), "{own}");
    let closed = run(&rectified(&[])).unwrap();
    assert_eq!(closed.status(), Status::Closed);
    assert!(
        closed.facts().contains(Facts::CLOSED) && closed.facts().contains(Facts::CD_ENGINEERED)
    );
    assert_eq!(closed.closure.as_ref().unwrap().by, "chief01");
}

#[test]
fn a_rectified_house_is_imported_closed() {
    // Dates as people type them are read too.
    let s = run(&rectified(&[
        ("鉴定日期", "2024/3/25"),
        ("竣工验收日期", "2024年5月1日"),
    ]))
    .unwrap();
    assert_eq!(s.status(), Status::Closed);
    assert_eq!(s.registered_on, NaiveDate::from_ymd_opt(2024, 3, 20));
    assert_eq!(s.version, 7, "registration and six steps");
}

#[test]
fn a_closure_on_management_measures_lands_on_the_look_back_list() {
    let s = run(&[
        ("排查日期", "2024-03-20"),
        ("隐患初判", "存在一定安全隐患"),
        ("隐患类别", "上部承重结构"),
        ("管理措施", "刷墙勾缝、增加围挡"),
        ("销号日期", "2024-04-10"),
        ("销号依据", "采取管理措施"),
    ])
    .unwrap();
    assert_eq!(s.status(), Status::AwaitingLookBack);
    assert!(s.closure.is_none(), "never counted as closed");
    assert_eq!(s.legacy.unwrap().measures.len(), 2);
}

#[test]
fn impossible_combinations_are_refused_naming_the_rule() {
    // C/D closed with no engineering.
    let err = run(&[
        ("排查日期", "2024-03-20"),
        ("隐患初判", "存在一定安全隐患"),
        ("隐患类别", "上部承重结构"),
        ("鉴定日期", "2024-03-25"),
        ("鉴定机构", "鉴定所"),
        ("鉴定报告编号", "JD-1"),
        ("鉴定等级", "D级"),
        ("告知日期", "2024-03-26"),
        ("告知方式", "直接送达"),
        ("销号日期", "2024-05-10"),
        ("销号依据", "鉴定为A、B级"),
    ])
    .unwrap_err();
    assert!(
        err.starts_with("销号（2024-05-10）") && err.contains("C1"),
        "{err}"
    );
    // A closure without a judgement of hazard.
    let err = run(&[
        ("销号日期", "2024-05-10"),
        ("销号依据", "专业技术人员复核无隐患"),
    ])
    .unwrap_err();
    assert!(err.contains("L1") || err.contains("C1"), "{err}");
    // A grade without its date.
    let err = run(&[
        ("排查日期", "2024-03-20"),
        ("隐患初判", "存在一定安全隐患"),
        ("隐患类别", "上部承重结构"),
        ("鉴定等级", "C级"),
    ])
    .unwrap_err();
    assert!(err.starts_with("鉴定日期"), "{err}");
    // A date that is no date.
    let err = run(&[("排查日期", "3月20日"), ("隐患初判", "未发现安全隐患")]).unwrap_err();
    assert!(err.contains("排查日期：“3月20日”不是日期"), "{err}");
}

#[test]
fn bad_record_cells_are_all_named() {
    let headers: Vec<String> = HEAD.iter().map(|s| s.to_string()).collect();
    let map = map_headers(&headers).unwrap();
    let mut cells = row(&[]);
    cells[1] = "后退村".into();
    cells[5] = "两层".into();
    let err = read_row(
        7,
        &cells,
        &map,
        &regions(),
        &Dictionaries::default(),
        NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
    )
    .unwrap_err();
    assert!(err[0].contains("后退村"), "{err:?}");
    assert!(err.iter().any(|e| e.starts_with("地上层数")), "{err:?}");
    let _ = Change::Reopened;
}

mod fuzz {
    //! The importer's row reading and deciding, fed arbitrary cells: it refuses or accepts,
    //! never panics, and whatever it accepts the rules accepted step by step.
    use super::*;
    use proptest::prelude::*;

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("2024-03-20".to_string()),
            Just("2024/13/40".to_string()),
            Just("存在一定安全隐患".to_string()),
            Just("采取管理措施".to_string()),
            Just("C级".to_string()),
            Just("维修加固".to_string()),
            Just("刷墙勾缝、增加围挡".to_string()),
            Just("'=1+1".to_string()),
            "[0-9]{1,20}",
            "\\PC{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_row_is_refused_or_decided_never_a_panic(cells in proptest::collection::vec(cell(), HEAD.len())) {
            let headers: Vec<String> = HEAD.iter().map(|s| s.to_string()).collect();
            let map = map_headers(&headers).unwrap();
            let dict = Dictionaries::default();
            let today = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
            let mut cells = cells;
            // Half the rows keep a valid record, so the status columns get exercised too.
            if cells[0].len() % 2 == 0 {
                let base = row(&[]);
                cells[..9].clone_from_slice(&base[..9]);
            }
            if let Ok(r) = read_row(2, &cells, &map, &regions(), &dict, today) {
                let sha = "ab".repeat(32);
                let who = Importers::new(&clerk(), "f.xlsx", &sha);
                let code = HouseCode::new(&RegionCode::parse("370829").unwrap(), 1);
                let ev = ledger_evidence("f.xlsx", &sha, 2);
                if let Ok(imported) = events(&r, code.clone(), "0".repeat(32), &who, noon(today), today, &dict, &ev) {
                    let mut s = HouseState::new(code);
                    for e in &imported.events {
                        s = apply(s, e);
                    }
                    prop_assert_eq!(s.version as usize, imported.events.len());
                    prop_assert!(s.closure.is_none() && s.engineering_accepted().is_none());
                }
            }
        }
    }
}

/// Noon in Beijing on `day`, as a recording time: the import's clock in these tests.
fn noon(day: NaiveDate) -> chrono::DateTime<Utc> {
    day.and_hms_opt(4, 0, 0).unwrap().and_utc()
}

/// The survey, appraisal C, notification, works and closure of a rectified house, with
/// `changes` made to its cells.
fn rectified(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut cells = vec![
        ("排查日期", "2024-03-20"),
        ("隐患初判", "存在一定安全隐患"),
        ("隐患类别", "上部承重结构"),
        ("鉴定日期", "2024-03-25"),
        ("鉴定机构", "济宁市建筑鉴定所"),
        ("鉴定报告编号", "JD-2024-01"),
        ("鉴定等级", "C级"),
        ("告知日期", "2024-03-26"),
        ("告知方式", "直接送达"),
        ("工程措施", "维修加固"),
        ("开工日期", "2024-04-01"),
        ("竣工验收日期", "2024-05-01"),
        ("销号日期", "2024-05-10"),
        ("销号依据", "工程措施整治完成并验收"),
    ];
    for (k, v) in changes {
        cells.iter_mut().find(|(h, _)| h == k).unwrap().1 = v;
    }
    cells
}

#[test]
fn a_row_s_dates_are_in_the_past_and_in_lifecycle_order_each_named_by_its_column() {
    // The import runs on 2024-06-01 (see `run`).
    assert_eq!(
        run(&rectified(&[("销号日期", "2024-06-01")]))
            .unwrap()
            .status(),
        Status::Closed
    );
    for (changes, expected) in [
        (
            &[("销号日期", "2024-06-02")][..],
            "销号日期 2024-06-02 不能晚于今天（2024-06-01）（规则 D1）",
        ),
        (
            &[("竣工验收日期", "2024-03-31")][..],
            "竣工验收日期 2024-03-31 不能早于开工日期 2024-04-01（规则 D1）",
        ),
        (
            &[("鉴定日期", "2024-03-19")][..],
            "鉴定日期 2024-03-19 不能早于排查日期 2024-03-20（规则 D1）",
        ),
        (
            &[("告知日期", "2024-03-01")][..],
            "告知日期 2024-03-01 不能早于排查日期 2024-03-20（规则 D1）",
        ),
        (
            &[("销号日期", "2024-04-30")][..],
            "销号日期 2024-04-30 不能早于竣工验收日期 2024-05-01（规则 D1）",
        ),
    ] {
        let err = run(&rectified(changes)).unwrap_err();
        assert_eq!(err, expected, "{changes:?}");
    }
    // On the day of completion the works may start, be accepted and the house be closed.
    let same_day = rectified(&[
        ("开工日期", "2024-05-01"),
        ("竣工验收日期", "2024-05-01"),
        ("销号日期", "2024-05-01"),
    ]);
    assert_eq!(run(&same_day).unwrap().status(), Status::Closed);
}

#[test]
fn a_closure_on_management_measures_may_predate_the_survey() {
    // A closure before the system, given as 销号日期 with 采取管理措施, like 前期销号日期.
    let s = run(&[
        ("排查日期", "2024-03-20"),
        ("隐患初判", "存在一定安全隐患"),
        ("隐患类别", "上部承重结构"),
        ("管理措施", "刷墙勾缝"),
        ("销号日期", "2023-08-01"),
        ("销号依据", "采取管理措施"),
    ])
    .unwrap();
    assert_eq!(s.status(), Status::AwaitingLookBack);
    assert_eq!(
        s.legacy.unwrap().closed_on,
        NaiveDate::from_ymd_opt(2023, 8, 1).unwrap()
    );
}

#[test]
fn a_record_cell_outside_its_bound_is_named_against_the_day_of_the_import() {
    let headers: Vec<String> = HEAD
        .iter()
        .map(|s| s.to_string())
        .chain([
            "建成年份".to_string(),
            "经度".to_string(),
            "纬度".to_string(),
        ])
        .collect();
    let map = map_headers(&headers).unwrap();
    let today = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
    let read = |year: &str, lng: &str| {
        let mut cells = row(&[]);
        cells.extend([year.to_string(), lng.to_string(), "35.4".to_string()]);
        read_row(9, &cells, &map, &regions(), &Dictionaries::default(), today)
    };
    assert!(read("2024", "116.3").is_ok());
    assert!(read("1900", "73").is_ok());
    assert_eq!(
        read("2025", "116.3").unwrap_err(),
        ["建成年份不能晚于当前年份（2024），填写的是 2025"]
    );
    assert_eq!(
        read("1899", "72.9").unwrap_err(),
        [
            "经度不能小于 73°，填写的是 72.9",
            "建成年份不能早于 1900 年，填写的是 1899"
        ]
    );
}
