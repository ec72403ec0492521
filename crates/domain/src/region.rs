//! Administrative regions with history, the seed of Jiaxiang County, and [`Scope`]: what part of
//! the house register a caller may read.

use crate::codes::{RegionCode, RegionLevel};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One administrative division, valid over a span of dates (乡镇撤并 keeps the old one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<RegionCode>,
    pub valid_from: NaiveDate,
    /// The first day it no longer exists; `None` while current.
    pub valid_to: Option<NaiveDate>,
    /// Villages generated for the demo are marked so.
    pub is_demo: bool,
    /// For statistical units such as a development zone: whether it reports as its own row.
    pub reports_separately: bool,
}

impl Region {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|t| day < t)
    }
}

/// A merge or rename taking effect on `effective`. A merge (or a rename that changes the code)
/// ends `old`, and its houses report under `new` from then on; a rename that keeps the code has
/// `old == new`. `old_name` is the name `old` had until then, so an earlier ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionChange {
    pub old: RegionCode,
    pub new: RegionCode,
    pub old_name: String,
    pub effective: NaiveDate,
    pub kind: RegionChangeKind,
    pub note: String,
}

/// The name a region had on `day`, given its current name and the recorded changes.
pub fn name_on(
    code: &RegionCode,
    current: &str,
    day: NaiveDate,
    changes: &[RegionChange],
) -> String {
    changes
        .iter()
        .filter(|c| c.old == *code && c.effective > day)
        .min_by_key(|c| c.effective)
        .map_or_else(|| current.to_string(), |c| c.old_name.clone())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionChangeKind {
    Merge,
    Rename,
}

/// The code a house recorded under `code` reports under on `day`: follows merges and renames
/// that took effect on or before that day, so a ledger of an earlier date keeps the old towns.
pub fn resolve_on(code: &RegionCode, day: NaiveDate, changes: &[RegionChange]) -> RegionCode {
    let mut current = *code;
    // Bounded: a chain of changes cannot be longer than the list itself.
    for _ in 0..changes.len() {
        match changes
            .iter()
            .find(|c| c.effective <= day && c.old == current)
        {
            Some(c) => current = c.new,
            None => break,
        }
    }
    current
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

/// Province, city, county and towns of the demo county; villages come from the demo generator.
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

/// What a caller may read. Every store function that returns houses takes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// The whole register (county office of the only county, system tasks, auditors).
    All,
    /// A region's subtree: county, town or village.
    Region { code: RegionCode },
    /// A sector department: business-use houses of its business types, within a region.
    Department {
        department: String,
        within: RegionCode,
    },
    /// The houses assigned to a technical reviewer or appraiser, wherever they lie.
    Assigned { assignee: String },
    /// Nothing at all: a caller with no grant.
    Nothing,
}

impl Scope {
    /// The region subtree this scope is confined to, if any.
    pub fn region(&self) -> Option<&RegionCode> {
        match self {
            Scope::Region { code } => Some(code),
            Scope::Department { within, .. } => Some(within),
            Scope::All | Scope::Assigned { .. } | Scope::Nothing => None,
        }
    }

    /// Narrows a scope to a region subtree (e.g. one town of the county): the intersection.
    pub fn narrowed_to(&self, code: &RegionCode) -> Scope {
        let inter = |mine: &RegionCode| {
            if mine.contains(code) {
                Some(*code)
            } else if code.contains(mine) {
                Some(*mine)
            } else {
                None
            }
        };
        match self {
            Scope::All => Scope::Region { code: *code },
            Scope::Region { code: mine } => {
                inter(mine).map_or(Scope::Nothing, |c| Scope::Region { code: c })
            }
            Scope::Department { department, within } => {
                inter(within).map_or(Scope::Nothing, |c| Scope::Department {
                    department: department.clone(),
                    within: c,
                })
            }
            // Assignments cut across regions and cannot be intersected with one: a narrowed
            // view of them is empty (reviewers read houses, not regional ledgers).
            Scope::Assigned { .. } => Scope::Nothing,
            Scope::Nothing => Scope::Nothing,
        }
    }
}

/// The level a region-scoped ledger breaks down by: towns under a county, villages under a town.
pub fn child_level(level: RegionLevel) -> RegionLevel {
    match level {
        RegionLevel::Province => RegionLevel::City,
        RegionLevel::City => RegionLevel::County,
        RegionLevel::County => RegionLevel::Town,
        RegionLevel::Town | RegionLevel::Village => RegionLevel::Village,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_has_the_county_and_its_sixteen_reporting_units() {
        let seed = jiaxiang_seed();
        let towns: Vec<_> = seed
            .iter()
            .filter(|r| r.level == RegionLevel::Town)
            .collect();
        assert_eq!(towns.len(), 16);
        assert!(
            towns
                .iter()
                .all(|t| t.parent.unwrap().as_str() == "370829000000")
        );
        assert!(towns.iter().any(|t| t.name == "嘉祥经济开发区"));
    }

    #[test]
    fn narrowing_a_town_scope_to_another_town_gives_nothing() {
        let t1 = RegionCode::parse("370829001").unwrap();
        let t2 = RegionCode::parse("370829002").unwrap();
        let county = RegionCode::parse("370829").unwrap();
        assert_eq!(Scope::Region { code: t1 }.narrowed_to(&t2), Scope::Nothing);
        assert_eq!(
            Scope::Region { code: t1 }.narrowed_to(&county),
            Scope::Region { code: t1 }
        );
        assert_eq!(Scope::All.narrowed_to(&t2), Scope::Region { code: t2 });
    }

    #[test]
    fn a_merge_maps_the_old_town_only_from_its_effective_date() {
        let old = RegionCode::parse("370829114").unwrap();
        let new = RegionCode::parse("370829113").unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2024, 5, d).unwrap();
        let changes = vec![RegionChange {
            old,
            new,
            old_name: "黄垓镇".into(),
            effective: day(10),
            kind: RegionChangeKind::Merge,
            note: "黄垓镇并入满硐镇".into(),
        }];
        assert_eq!(resolve_on(&old, day(9), &changes), old);
        assert_eq!(resolve_on(&old, day(10), &changes), new);
        let other = RegionCode::parse("370829001").unwrap();
        assert_eq!(resolve_on(&other, day(20), &changes), other);
        let rename = RegionChange {
            old: other,
            new: other,
            old_name: "嘉祥镇".into(),
            effective: day(15),
            kind: RegionChangeKind::Rename,
            note: "更名".into(),
        };
        assert_eq!(
            resolve_on(&other, day(20), std::slice::from_ref(&rename)),
            other
        );
        assert_eq!(
            name_on(&other, "嘉祥街道", day(14), std::slice::from_ref(&rename)),
            "嘉祥镇"
        );
        assert_eq!(name_on(&other, "嘉祥街道", day(15), &[rename]), "嘉祥街道");
    }

    #[test]
    fn a_merged_region_is_valid_only_before_the_merge() {
        let mut r = jiaxiang_seed().pop().unwrap();
        r.valid_to = NaiveDate::from_ymd_opt(2024, 5, 1);
        assert!(r.valid_on(NaiveDate::from_ymd_opt(2024, 4, 30).unwrap()));
        assert!(!r.valid_on(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap()));
    }
}
