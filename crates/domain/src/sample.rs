//! Small well-formed values for tests, examples and the demo: a house record, its people, a
//! survey, an appraisal, evidence, and Jiaxiang's towns (the demo's county). Fictional people;
//! valid codes. No production path reads this module.

use crate::codes::{IdCardNumber, OwnerId, PhoneNumber, RegionCode};
use crate::dict::{Grade, Judgement, RiskLevel, UsageCategory};
use crate::event::{Appraisal, Evidence, EvidenceKind, Survey};
use crate::house::{Construction, HouseRecord, People};
use crate::region::Region;
use chrono::NaiveDate;

/// A plain two-storey brick house in the given village.
pub fn record(village: RegionCode, usage: UsageCategory) -> HouseRecord {
    HouseRecord {
        platform_code: None,
        census_id: None,
        unified_code: None,
        town: village.town(),
        village,
        group_name: Some("一组".into()),
        road: None,
        door_no: Some("1号".into()),
        address: "示例村一组1号".into(),
        longitude: Some(116.34),
        latitude: Some(35.41),
        usage,
        business_types: if usage.is_business() {
            vec!["餐饮饭店".into()]
        } else {
            vec![]
        },
        occupants_over_10: false,
        zone_type: Some("建制镇".into()),
        land_type: Some("集体土地".into()),
        land_use_subtype: Some("宅基地".into()),
        floors_above: 2,
        floors_below: 0,
        floor_area_m2: 180.5,
        build_year: Some(1998),
        structure_type: "砌体结构(砖混)".into(),
        wall_material: Some("红砖".into()),
        floor_slab: Some("预制板".into()),
        roof_type: Some("预制板".into()),
        qr_plaque_installed_on: None,
        construction: Construction {
            design_mode: Some("无专业设计、未采用标准图集".into()),
            builder_mode: Some("建筑工匠建造".into()),
            ..Construction::default()
        },
    }
}

pub fn people() -> People {
    People {
        owner_name: "张三".into(),
        owner_id: Some(OwnerId::Person(
            IdCardNumber::with_check("37082919650412301").expect("valid"),
        )),
        owner_phone: Some(PhoneNumber::parse("13805371234").expect("valid")),
        owner_role: Some("产权人".into()),
        user_name: None,
        user_phone: None,
        safety_person: Some("张三".into()),
        safety_phone: None,
        supervisor: Some("李网格".into()),
        supervisor_phone: None,
    }
}

pub fn survey(judgement: Judgement) -> Survey {
    let survey = Survey::new("攻坚行动首轮".into(), "王排查".into(), judgement);
    if !judgement.is_hazard() {
        return survey;
    }
    Survey {
        risk_level: Some(if judgement == Judgement::Severe {
            RiskLevel::CollapseRisk
        } else {
            RiskLevel::General
        }),
        hazard_categories: vec!["上部承重结构".into()],
        hazard_parts: vec!["墙体".into()],
        ..survey
    }
}

pub fn appraisal(grade: Grade, post_rectification: bool) -> Appraisal {
    Appraisal {
        agency_name: "济宁市建设工程质量检测中心".into(),
        agency_credit_code: None,
        reviewer_names: "赵鉴定、钱鉴定".into(),
        standard: "JGJ 125-2016".into(),
        report_no: "JD-2024-0001".into(),
        grade,
        advice: None,
        post_rectification,
    }
}

/// An evidence reference whose hash is derived from its name (tests and demo only).
pub fn evidence(kind: EvidenceKind, name: &str) -> Evidence {
    // A stable fake digest: the name's bytes folded into 32 bytes, hex.
    let mut digest = [0u8; 32];
    for (i, b) in name.bytes().enumerate() {
        digest[i % 32] = digest[i % 32].wrapping_mul(31).wrapping_add(b);
    }
    Evidence {
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        kind,
        name: name.into(),
    }
}

/// A county 附件2 with two towns: 纸坊镇 with every figure distinct, 梁宝寺镇 with none (for
/// renderer tests; the figures are those of the hand-built fixture in the store's ledger tests).
pub fn ledger_table() -> crate::ledger::LedgerTable {
    use crate::ledger::{AsOf, Form, LedgerRow, LedgerTable};
    let row = |code: &str, name: &str, counts: [i64; 12]| LedgerRow {
        code: code.into(),
        name: name.into(),
        counts: counts.to_vec(),
        online_confirmed: 0,
        online_total: 0,
    };
    LedgerTable::build(
        Form::Attachment2,
        "嘉祥县",
        AsOf::Now,
        vec![
            row(
                "370829101000",
                "纸坊镇",
                [63, 22, 17, 9, 41, 21, 2, 7, 5, 3, 1, 6],
            ),
            row("370829102000", "梁宝寺镇", [0; 12]),
        ],
    )
}

pub const JIAXIANG: &str = "370829";

/// Jiaxiang County's towns and sub-districts (DOMAIN §2): 9-digit code and name.
pub const JIAXIANG_TOWNS: &[(&str, &str)] = &[
    ("370829001", "嘉祥街道"),
    ("370829002", "卧龙山街道"),
    ("370829003", "万张街道"),
    ("370829101", "纸坊镇"),
    ("370829102", "梁宝寺镇"),
    ("370829104", "疃里镇"),
    ("370829105", "马村镇"),
    ("370829106", "金屯镇"),
    ("370829107", "大张楼镇"),
    ("370829108", "马集镇"),
    ("370829110", "孟姑集镇"),
    ("370829111", "老僧堂镇"),
    ("370829112", "仲山镇"),
    ("370829113", "满硐镇"),
    ("370829114", "黄垓镇"),
    ("370829400", "嘉祥经济开发区"),
];

/// The date the seeded divisions are valid from.
pub fn seed_valid_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid date")
}

/// Province, city, county and towns of Jiaxiang, the demo's and the tests' county (no villages):
/// test data only; a database gets its county from the national table (`anju init`).
pub fn jiaxiang_seed() -> Vec<Region> {
    let from = seed_valid_from();
    let r = |code: &str, name: &str, parent: Option<&str>, separately: bool| Region {
        code: RegionCode::parse(code).expect("seed codes are valid"),
        name: name.to_string(),
        level: RegionCode::parse(code).expect("valid").level(),
        parent: parent.map(|p| RegionCode::parse(p).expect("valid")),
        valid_from: from,
        valid_to: None,
        is_demo: false,
        reports_separately: separately,
    };
    let mut out = vec![
        r("37", "山东省", None, true),
        r("3708", "济宁市", Some("37"), true),
        r(JIAXIANG, "嘉祥县", Some("3708"), true),
    ];
    for (code, name) in JIAXIANG_TOWNS {
        // The development zone is a statistical unit; by default it reports on its own.
        out.push(r(code, name, Some(JIAXIANG), true));
    }
    out
}
