//! Administrative regions with history, the county office's edits of them (add, rename, merge,
//! split, deactivate) checked before they are stored, and [`Scope`]: what part of the house
//! register a caller may read.

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
    /// Marks a region made up for tests (never set for the national table's divisions).
    pub is_demo: bool,
    /// For statistical units such as a development zone: whether it reports as its own row.
    pub reports_separately: bool,
}

impl Region {
    /// A region that exists from `valid_from` on, reporting as its own row.
    pub fn new(
        code: RegionCode,
        name: &str,
        parent: Option<RegionCode>,
        valid_from: NaiveDate,
    ) -> Region {
        Region {
            code,
            name: name.trim().to_string(),
            level: code.level(),
            parent,
            valid_from,
            valid_to: None,
            is_demo: false,
            reports_separately: true,
        }
    }

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
        .filter(|c| c.kind.follows() && c.old == *code && c.effective > day)
        .min_by_key(|c| c.effective)
        .map_or_else(|| current.to_string(), |c| c.old_name.clone())
}

crate::coded! {
    pub enum RegionChangeKind {
        #[strum(message = "撤并")]
        Merge,
        #[strum(message = "更名")]
        Rename,
        /// A new region carved out of `old` (as `new`) from `effective`; `old` goes on, and its
        /// houses move only by a correction of each house (the ledger cannot know which).
        #[strum(message = "拆分")]
        Split,
        /// `old` ended on `effective` without a successor (it held no houses).
        #[strum(message = "撤销")]
        Deactivate,
    }
}

impl RegionChangeKind {
    /// Whether houses and names follow the change: merges and renames map old to new.
    pub fn follows(self) -> bool {
        matches!(self, RegionChangeKind::Merge | RegionChangeKind::Rename)
    }
}

/// The code a house recorded under `code` reports under on `day`: follows merges and renames
/// that took effect on or before that day, so a ledger of an earlier date keeps the old towns.
pub fn resolve_on(code: &RegionCode, day: NaiveDate, changes: &[RegionChange]) -> RegionCode {
    let mut current = *code;
    // Bounded: a chain of changes cannot be longer than the list itself.
    for _ in 0..changes.len() {
        match changes
            .iter()
            .find(|c| c.kind.follows() && c.effective <= day && c.old == current)
        {
            Some(c) => current = c.new,
            None => break,
        }
    }
    current
}

/// A change the county office asks for. Checked against the regions by [`check_edit`] before
/// the store writes it; houses are never rewritten by any of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RegionEdit {
    /// A new town or village (a new community, a development zone's 片区) from `valid_from`.
    Add {
        code: RegionCode,
        name: String,
        parent: RegionCode,
        valid_from: NaiveDate,
    },
    /// A new name from `effective`; ledgers of earlier dates keep the old one.
    Rename {
        code: RegionCode,
        name: String,
        effective: NaiveDate,
        note: String,
    },
    /// `old` ends on `effective`; its houses report under `into` from then on.
    Merge {
        old: RegionCode,
        into: RegionCode,
        effective: NaiveDate,
        note: String,
    },
    /// A new region `code` carved out of `from` on `effective` (`from` goes on).
    Split {
        from: RegionCode,
        code: RegionCode,
        name: String,
        effective: NaiveDate,
        note: String,
    },
    /// `code` ends on `effective` with no successor; only a region without houses or current
    /// children (the store counts the houses).
    Deactivate {
        code: RegionCode,
        effective: NaiveDate,
        note: String,
    },
}

impl RegionEdit {
    /// The region the edit is about (for the audit trail).
    pub fn subject(&self) -> RegionCode {
        match self {
            RegionEdit::Add { code, .. }
            | RegionEdit::Rename { code, .. }
            | RegionEdit::Split { code, .. }
            | RegionEdit::Deactivate { code, .. } => *code,
            RegionEdit::Merge { old, .. } => *old,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            RegionEdit::Add { .. } => "新增",
            RegionEdit::Rename { .. } => "更名",
            RegionEdit::Merge { .. } => "撤并",
            RegionEdit::Split { .. } => "拆分",
            RegionEdit::Deactivate { .. } => "撤销",
        }
    }
}

/// Longest region name accepted (the longest in the national table has 36 characters).
pub const MAX_REGION_NAME: usize = 60;

/// A region's name as typed: trimmed, 1 to [`MAX_REGION_NAME`] characters, no control characters.
pub fn check_region_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("请填写区划名称".into());
    }
    if name.chars().count() > MAX_REGION_NAME {
        return Err(format!("区划名称不能超过 {MAX_REGION_NAME} 个字"));
    }
    if name.chars().any(char::is_control) {
        return Err("区划名称不能含有控制字符".into());
    }
    Ok(name.to_string())
}

/// Whether `edit` may be made to `regions` (all of the database's, ended ones included). The
/// Chinese message names what is wrong. Towns and villages only: the county and above come from
/// the national table.
pub fn check_edit(regions: &[Region], edit: &RegionEdit) -> Result<(), String> {
    let find = |code: &RegionCode| regions.iter().find(|r| r.code == *code);
    let county = regions.iter().find(|r| r.level == RegionLevel::County);
    let existing = |code: &RegionCode| {
        find(code).ok_or_else(|| match county {
            Some(k) if !k.code.contains(code) => format!(
                "区划 {} 不属于本县（{}，{}），不能办理",
                code.prefix(),
                k.name,
                k.code.prefix()
            ),
            _ => format!("区划 {} 不存在", code.prefix()),
        })
    };
    let editable = |r: &Region| {
        if matches!(r.level, RegionLevel::Town | RegionLevel::Village) {
            Ok(())
        } else {
            Err(format!(
                "{}（{}）是{}级区划，来自国家统计用区划代码，不能在此修改",
                r.name,
                r.code.prefix(),
                r.level.label()
            ))
        }
    };
    let current_on = |r: &Region, day: NaiveDate| {
        if r.valid_on(day) {
            Ok(())
        } else if r.valid_from > day {
            Err(format!(
                "{}（{}）在 {day} 尚未设立（自 {} 起）",
                r.name,
                r.code.prefix(),
                r.valid_from
            ))
        } else {
            Err(format!(
                "{}（{}）在 {day} 已撤并或撤销",
                r.name,
                r.code.prefix()
            ))
        }
    };
    let fresh = |code: &RegionCode, parent: &Region| {
        if let Some(r) = find(code) {
            return Err(format!("区划代码 {} 已被“{}”使用", code.prefix(), r.name));
        }
        let level = code.level();
        if !matches!(level, RegionLevel::Town | RegionLevel::Village) {
            return Err(format!(
                "区划代码 {} 不是镇街（9 位）或村（社区）（12 位）代码",
                code.as_str()
            ));
        }
        if parent.level != parent_level(level) || !parent.code.contains(code) {
            return Err(format!(
                "区划代码 {} 不在上级区划 {}（{}）之下：{}代码须以上级代码 {} 开头",
                code.prefix(),
                parent.name,
                parent.code.prefix(),
                level.label(),
                parent.code.prefix()
            ));
        }
        Ok(())
    };
    match edit {
        RegionEdit::Add {
            code,
            name,
            parent,
            valid_from,
        } => {
            check_region_name(name)?;
            let p = find(parent).ok_or_else(|| {
                format!("上级区划 {} 不存在（须为本县的县或镇街）", parent.prefix())
            })?;
            fresh(code, p)?;
            current_on(p, *valid_from)
        }
        RegionEdit::Rename {
            code,
            name,
            effective,
            ..
        } => {
            let r = existing(code)?;
            editable(r)?;
            let name = check_region_name(name)?;
            if r.valid_to.is_some() {
                return Err(format!(
                    "{}（{}）已撤并或撤销，不能更名",
                    r.name,
                    code.prefix()
                ));
            }
            if name == r.name {
                return Err(format!("新名称与现名称“{}”相同", r.name));
            }
            current_on(r, *effective)
        }
        RegionEdit::Merge {
            old,
            into,
            effective,
            ..
        } => {
            let (o, n) = (existing(old)?, existing(into)?);
            editable(o)?;
            if old == into {
                return Err("不能并入自身".into());
            }
            if o.code.ancestor(RegionLevel::County) != n.code.ancestor(RegionLevel::County) {
                return Err(format!(
                    "{}（{}）与{}（{}）不属于同一个县，不能撤并",
                    o.name,
                    o.code.prefix(),
                    n.name,
                    n.code.prefix()
                ));
            }
            if o.level != n.level {
                return Err(format!(
                    "{}只能并入{}：{}（{}）是{}",
                    o.level.label(),
                    o.level.label(),
                    n.name,
                    n.code.prefix(),
                    n.level.label()
                ));
            }
            if o.level == RegionLevel::Village && o.code.town() != n.code.town() {
                return Err(format!(
                    "村（社区）只能并入同一镇街的村（社区）：{} 属于 {}，{} 属于 {}",
                    o.name,
                    o.code.town().prefix(),
                    n.name,
                    n.code.town().prefix()
                ));
            }
            current_on(o, *effective)?;
            current_on(n, *effective)
        }
        RegionEdit::Split {
            from,
            code,
            name,
            effective,
            ..
        } => {
            check_region_name(name)?;
            let f = existing(from)?;
            editable(f)?;
            current_on(f, *effective)?;
            let parent = f
                .parent
                .and_then(|p| find(&p))
                .ok_or_else(|| format!("{}（{}）没有上级区划", f.name, from.prefix()))?;
            fresh(code, parent)?;
            current_on(parent, *effective)
        }
        RegionEdit::Deactivate {
            code, effective, ..
        } => {
            let r = existing(code)?;
            editable(r)?;
            if regions
                .iter()
                .any(|c| c.parent == Some(*code) && c.valid_to.is_none_or(|t| t > *effective))
            {
                return Err(format!(
                    "{}（{}）下还有村（社区），不能撤销；请先撤并或撤销其下的村（社区）",
                    r.name,
                    code.prefix()
                ));
            }
            current_on(r, *effective)
        }
    }
}

/// The level directly above `level` (a village's town, a town's county).
fn parent_level(level: RegionLevel) -> RegionLevel {
    match level {
        RegionLevel::Village => RegionLevel::Town,
        RegionLevel::Town => RegionLevel::County,
        RegionLevel::County => RegionLevel::City,
        RegionLevel::City | RegionLevel::Province => RegionLevel::Province,
    }
}

/// A row of a region list (代码, 名称, 上级代码) as read from a file, with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionRow {
    pub line: u64,
    pub code: String,
    pub name: String,
    pub parent: String,
}

/// Every bad row of a list: its line and what is wrong.
pub type RowErrors = Vec<(u64, String)>;

/// What a region list adds: the new regions in order (parents first), how many rows were
/// already there as written, or every bad row with its line. Checked whole: one bad row and
/// nothing is added.
pub fn plan_region_import(
    regions: &[Region],
    rows: &[RegionRow],
    valid_from: NaiveDate,
) -> Result<(Vec<RegionEdit>, usize), RowErrors> {
    let mut known: Vec<Region> = regions.to_vec();
    let mut errors = Vec::new();
    let mut adds = Vec::new();
    let mut unchanged = 0;
    // Towns before villages, so a new town and its villages can come in one file.
    let mut sorted: Vec<&RegionRow> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.code.trim().len(), r.line));
    let mut seen = std::collections::HashMap::new();
    for row in sorted {
        let parsed = (|| {
            let code = RegionCode::parse(row.code.trim()).map_err(|_| {
                format!(
                    "代码“{}”不是 9 位镇街或 12 位村（社区）区划代码",
                    row.code.trim()
                )
            })?;
            let parent = RegionCode::parse(row.parent.trim())
                .map_err(|_| format!("上级代码“{}”不是区划代码", row.parent.trim()))?;
            let name = check_region_name(&row.name)?;
            if let Some(first) = seen.insert(code, row.line) {
                return Err(format!("与第 {first} 行的代码 {} 重复", code.prefix()));
            }
            if let Some(r) = known.iter().find(|r| r.code == code) {
                return if r.name == name && r.parent == Some(parent) {
                    Ok(None)
                } else {
                    Err(format!(
                        "代码 {} 已是“{}”（上级 {}）；更名或调整请在区划页面办理",
                        code.prefix(),
                        r.name,
                        r.parent
                            .map_or_else(|| "—".to_string(), |p| p.prefix().to_string())
                    ))
                };
            }
            let edit = RegionEdit::Add {
                code,
                name: name.clone(),
                parent,
                valid_from,
            };
            check_edit(&known, &edit)?;
            known.push(Region::new(code, &name, Some(parent), valid_from));
            Ok(Some(edit))
        })();
        match parsed {
            Ok(Some(edit)) => adds.push(edit),
            Ok(None) => unchanged += 1,
            Err(e) => errors.push((row.line, e)),
        }
    }
    if errors.is_empty() {
        Ok((adds, unchanged))
    } else {
        errors.sort();
        Err(errors)
    }
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
    use crate::sample::jiaxiang_seed;

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

    fn village(code: &str, name: &str) -> Region {
        Region {
            code: RegionCode::parse(code).unwrap(),
            name: name.into(),
            level: RegionLevel::Village,
            parent: Some(RegionCode::parse(&code[..9]).unwrap()),
            valid_from: crate::sample::seed_valid_from(),
            valid_to: None,
            is_demo: false,
            reports_separately: true,
        }
    }

    fn county_with_villages() -> Vec<Region> {
        let mut r = jiaxiang_seed();
        r.push(village("370829101200", "东纸坊村"));
        r.push(village("370829101204", "吴店村"));
        r.push(village("370829102201", "梁宝寺村"));
        r
    }

    fn code(c: &str) -> RegionCode {
        RegionCode::parse(c).unwrap()
    }

    #[test]
    fn a_village_is_added_only_under_its_own_town_with_a_fresh_code() {
        let regions = county_with_villages();
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let add = |c: &str, parent: &str| RegionEdit::Add {
            code: code(c),
            name: "新城社区".into(),
            parent: code(parent),
            valid_from: day,
        };
        assert_eq!(
            check_edit(&regions, &add("370829101230", "370829101")),
            Ok(())
        );
        let e = check_edit(&regions, &add("370829102230", "370829101")).unwrap_err();
        assert!(e.contains("须以上级代码 370829101 开头"), "{e}");
        let e = check_edit(&regions, &add("370829101204", "370829101")).unwrap_err();
        assert!(e.contains("已被“吴店村”使用"), "{e}");
        let e = check_edit(&regions, &add("370830101230", "370830101")).unwrap_err();
        assert!(e.contains("上级区划 370830101 不存在"), "{e}");
        let mut blank = add("370829101230", "370829101");
        if let RegionEdit::Add { name, .. } = &mut blank {
            *name = " \u{0}".into();
        }
        assert!(check_edit(&regions, &blank).is_err());
    }

    #[test]
    fn merges_stay_within_a_level_a_town_and_a_county() {
        let regions = county_with_villages();
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let merge = |old: &str, into: &str| RegionEdit::Merge {
            old: code(old),
            into: code(into),
            effective: day,
            note: String::new(),
        };
        assert_eq!(
            check_edit(&regions, &merge("370829101204", "370829101200")),
            Ok(())
        );
        assert_eq!(
            check_edit(&regions, &merge("370829114", "370829113")),
            Ok(())
        );
        let e = check_edit(&regions, &merge("370829101204", "370829102")).unwrap_err();
        assert!(e.contains("村（社区）只能并入村（社区）"), "{e}");
        let e = check_edit(&regions, &merge("370829101204", "370829102201")).unwrap_err();
        assert!(e.contains("同一镇街"), "{e}");
        let mut other = regions.clone();
        other.push(Region {
            code: code("370830102"),
            name: "南旺镇".into(),
            level: RegionLevel::Town,
            parent: Some(code("370830")),
            ..village("370829101299", "x")
        });
        let e = check_edit(&other, &merge("370829101204", "370830102")).unwrap_err();
        assert!(e.contains("不属于同一个县"), "{e}");
        let e = check_edit(&regions, &merge("370829", "370829101")).unwrap_err();
        assert!(e.contains("来自国家统计用区划代码"), "{e}");
        // Before the village existed, or after it ended, it cannot be merged.
        let mut ended = regions.clone();
        ended
            .iter_mut()
            .find(|r| r.code == code("370829101204"))
            .unwrap()
            .valid_to = Some(day);
        let e = check_edit(&ended, &merge("370829101204", "370829101200")).unwrap_err();
        assert!(e.contains("已撤并或撤销"), "{e}");
    }

    #[test]
    fn a_region_with_current_villages_cannot_be_deactivated() {
        let regions = county_with_villages();
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let off = |c: &str| RegionEdit::Deactivate {
            code: code(c),
            effective: day,
            note: String::new(),
        };
        assert!(
            check_edit(&regions, &off("370829101"))
                .unwrap_err()
                .contains("下还有村（社区）")
        );
        assert_eq!(check_edit(&regions, &off("370829101204")), Ok(()));
        assert_eq!(check_edit(&regions, &off("370829104")), Ok(()));
    }

    #[test]
    fn a_split_carves_a_sibling_and_neither_maps_houses_nor_names() {
        let regions = county_with_villages();
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let split = RegionEdit::Split {
            from: code("370829101200"),
            code: code("370829101240"),
            name: "纸坊新村".into(),
            effective: day,
            note: String::new(),
        };
        assert_eq!(check_edit(&regions, &split), Ok(()));
        let change = RegionChange {
            old: code("370829101200"),
            new: code("370829101240"),
            old_name: "东纸坊村".into(),
            effective: day,
            kind: RegionChangeKind::Split,
            note: String::new(),
        };
        let later = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
        assert_eq!(
            resolve_on(&change.old, later, std::slice::from_ref(&change)),
            change.old
        );
        assert_eq!(
            name_on(&change.old, "东纸坊村", day, std::slice::from_ref(&change)),
            "东纸坊村"
        );
    }

    #[test]
    fn a_region_list_is_checked_whole_and_adds_towns_before_their_villages() {
        let regions = county_with_villages();
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let row = |line, code: &str, name: &str, parent: &str| RegionRow {
            line,
            code: code.into(),
            name: name.into(),
            parent: parent.into(),
        };
        let good = vec![
            row(2, "370829401001", "一片区", "370829401"),
            row(3, "370829401", "高新片区", "370829"),
            row(4, "370829101204", "吴店村", "370829101"),
        ];
        let (adds, unchanged) = plan_region_import(&regions, &good, day).unwrap();
        assert_eq!(unchanged, 1);
        let codes: Vec<_> = adds
            .iter()
            .map(|e| e.subject().prefix().to_string())
            .collect();
        assert_eq!(codes, ["370829401", "370829401001"]);
        let bad = vec![
            row(2, "370829401001", "一片区", "370829401"),
            row(3, "3708294", "坏代码", "370829"),
            row(4, "370829101204", "吴店新村", "370829101"),
            row(5, "370829101230", "", "370829101"),
            row(6, "370829101231", "甲村", "370829102"),
        ];
        let errors = plan_region_import(&regions, &bad, day).unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6], "{errors:?}");
        assert!(
            errors[0].1.contains("上级区划 370829401 不存在"),
            "{errors:?}"
        );
        assert!(errors[2].1.contains("已是“吴店村”"), "{errors:?}");
    }
}
