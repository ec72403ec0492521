//! Plausible values: the bounds a house record's numbers and dates must keep to be believed,
//! in one table ([`BOUNDS`]). The forms and the ledger import check them column by column while
//! reading ([`crate::columns::build`]), and [`crate::rules::decide`] checks every registered or
//! corrected record again ([`implausible`]), so whatever channel a record comes through — a
//! form, an import, an events import — the same bounds hold, against the day it is recorded
//! (the current year and today come from the caller's clock, never from here).
//!
//! Each refusal names the field by its Chinese label and states the bound, e.g.
//! `建成年份不能晚于当前年份（2026），填写的是 2099`.

use crate::columns::{Block, ColumnError};
use crate::event::GeoFix;
use crate::house::HouseRecord;
use chrono::{Datelike, NaiveDate};

/// The first year a build year may be.
pub const FIRST_YEAR: i32 = 1900;

/// How a bound's ends are worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A year: 早于 / 晚于.
    Year,
    /// A date: 早于 / 晚于.
    Date,
    /// A count (storeys): 少于 / 多于.
    Count,
    /// A measured quantity (area, degrees): 小于 / 大于.
    Quantity,
}

/// One end of a bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// No bound at this end.
    Open,
    /// A number the value may equal.
    AtLeast(f64),
    /// A number the value must exceed.
    Above(f64),
    /// A number the value may equal.
    AtMost(f64),
    /// The current year (Beijing) of the day the value is recorded.
    CurrentYear,
    /// The day the value is recorded (Beijing).
    Today,
    /// 1 January of the record's build year where it has one, else of [`FIRST_YEAR`].
    BuildYear,
}

/// The bound of one field of the house record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The column's key ([`crate::columns::COLUMNS`]).
    pub key: &'static str,
    /// The field's Chinese label, as in DATA-DICTIONARY and the template.
    pub label: &'static str,
    pub block: Block,
    pub kind: Kind,
    /// The unit said after a number (层, °); empty where the label carries it.
    pub unit: &'static str,
    pub min: Limit,
    pub max: Limit,
}

const fn bound(
    key: &'static str,
    label: &'static str,
    kind: Kind,
    unit: &'static str,
    min: Limit,
    max: Limit,
) -> Bound {
    Bound {
        key,
        label,
        block: Block::Basic,
        kind,
        unit,
        min,
        max,
    }
}

/// 地上层数: a self-built house has at least one storey above ground; few exceed 10, none 30.
pub const MAX_FLOORS_ABOVE: u8 = 30;
/// 地下层数.
pub const MAX_FLOORS_BELOW: u8 = 5;
/// 建筑面积（㎡）: more than 0, at most this.
pub const MAX_FLOOR_AREA_M2: f64 = 100_000.0;
/// 经度: China's extent, east.
pub const LONGITUDE: (f64, f64) = (73.0, 136.0);
/// 纬度: China's extent, north.
pub const LATITUDE: (f64, f64) = (3.0, 54.0);
/// 定位精度（米）of a device's fix: a phone outdoors gives 5–50 m, indoors or by cell towers a
/// few hundred to a few thousand; beyond 10 km the fix places nothing.
pub const ACCURACY_M: (f64, f64) = (0.0, 10_000.0);

/// A measured quantity from `range.0` to `range.1` (both allowed), said with `unit`.
const fn within(
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    range: (f64, f64),
) -> Bound {
    bound(
        key,
        label,
        Kind::Quantity,
        unit,
        Limit::AtLeast(range.0),
        Limit::AtMost(range.1),
    )
}

/// A number of storeys from `min` to `max` (both allowed).
const fn storeys(key: &'static str, label: &'static str, min: u8, max: u8) -> Bound {
    bound(
        key,
        label,
        Kind::Count,
        " 层",
        Limit::AtLeast(min as f64),
        Limit::AtMost(max as f64),
    )
}

/// Every bound, in the record's column order. README "Plausible values" lists this table
/// (a test keeps the two in step).
pub const BOUNDS: &[Bound] = &[
    within("longitude", "经度", "°", LONGITUDE),
    within("latitude", "纬度", "°", LATITUDE),
    storeys("floors_above", "地上层数", 1, MAX_FLOORS_ABOVE),
    storeys("floors_below", "地下层数", 0, MAX_FLOORS_BELOW),
    bound(
        "floor_area_m2",
        "建筑面积（㎡）",
        Kind::Quantity,
        "",
        Limit::Above(0.0),
        Limit::AtMost(MAX_FLOOR_AREA_M2),
    ),
    bound(
        "build_year",
        "建成年份",
        Kind::Year,
        "",
        Limit::AtLeast(FIRST_YEAR as f64),
        Limit::CurrentYear,
    ),
    bound(
        "qr_plaque_installed_on",
        "二维码标牌安装日期",
        Kind::Date,
        "",
        Limit::BuildYear,
        Limit::Today,
    ),
];

/// The bounds of a survey's position ([`GeoFix`]): not columns of the record, so not in
/// [`BOUNDS`] (nor the README's table of the record's bounds), but worded the same way.
pub const FIX_BOUNDS: [Bound; 3] = [
    within("longitude", "排查定位经度", "°", LONGITUDE),
    within("latitude", "排查定位纬度", "°", LATITUDE),
    within("accuracy_m", "定位精度", " 米", ACCURACY_M),
];

/// Every value of a position outside its bound, each refusal naming its field, e.g.
/// `排查定位经度不能大于 136°，填写的是 140`.
pub fn implausible_fix(fix: &GeoFix) -> Vec<String> {
    let [lon, lat, acc] = &FIX_BOUNDS;
    let today = NaiveDate::MIN; // no bound of a position follows the day
    [
        (lon, Some(fix.longitude)),
        (lat, Some(fix.latitude)),
        (acc, fix.accuracy_m),
    ]
    .into_iter()
    .filter_map(|(b, v)| b.check(Seen::Number(v?), None, today).err())
    .collect()
}

/// The bound of a column, if it has one.
pub fn of(key: &str) -> Option<&'static Bound> {
    BOUNDS.iter().find(|b| b.key == key)
}

/// A value as entered, for checking against its bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seen {
    Number(f64),
    Date(NaiveDate),
}

/// A number as people write it: no trailing `.0`.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl Bound {
    /// The bound in words, e.g. `1900 年至当前年份`, `1–30 层`, `大于 0、不超过 100000`.
    pub fn describe(&self) -> String {
        let u = self.unit;
        match (self.min, self.max) {
            (Limit::AtLeast(a), Limit::CurrentYear) => format!("{} 年至当前年份", num(a)),
            (Limit::AtLeast(a), Limit::AtMost(b)) => format!("{}–{}{u}", num(a), num(b)),
            (Limit::Above(a), Limit::AtMost(b)) => {
                format!("大于 {}{u}、不超过 {}{u}", num(a), num(b))
            }
            (Limit::BuildYear, Limit::Today) => {
                format!("不早于建成年份（未填时 {FIRST_YEAR} 年）、不晚于今天")
            }
            (min, max) => format!("{min:?}–{max:?}"),
        }
    }

    /// Checks one value against this bound on `today`; `build_year` is the record's (for a
    /// bound that follows it). The refusal names the field, the bound and the value.
    pub fn check(&self, v: Seen, build_year: Option<u16>, today: NaiveDate) -> Result<(), String> {
        let shown = match v {
            Seen::Number(x) if !x.is_finite() => {
                return Err(format!("{}不是有效的数字", self.label));
            }
            Seen::Number(x) => num(x),
            Seen::Date(d) => d.to_string(),
        };
        let label = self.label;
        let unit = self.unit;
        let (early, late) = match self.kind {
            Kind::Year | Kind::Date => ("早于", "晚于"),
            Kind::Count => ("少于", "多于"),
            Kind::Quantity => ("小于", "大于"),
        };
        let low = match (self.min, v) {
            (Limit::AtLeast(a), Seen::Number(x)) if x < a => {
                let year = if self.kind == Kind::Year { " 年" } else { "" };
                Some(format!("不能{early} {}{unit}{year}", num(a)))
            }
            (Limit::Above(a), Seen::Number(x)) if x <= a => {
                Some(format!("须大于 {}{unit}", num(a)))
            }
            (Limit::BuildYear, Seen::Date(d)) => {
                let year = build_year.map_or(FIRST_YEAR, i32::from);
                (d.year() < year).then(|| match build_year {
                    Some(y) => format!("不能早于建成年份（{y}）"),
                    None => format!("不能早于 {FIRST_YEAR} 年"),
                })
            }
            _ => None,
        };
        let high = match (self.max, v) {
            (Limit::AtMost(b), Seen::Number(x)) if x > b => {
                Some(format!("不能{late} {}{unit}", num(b)))
            }
            (Limit::CurrentYear, Seen::Number(x)) if x > f64::from(today.year()) => {
                Some(format!("不能晚于当前年份（{}）", today.year()))
            }
            (Limit::Today, Seen::Date(d)) if d > today => Some(format!("不能晚于今天（{today}）")),
            _ => None,
        };
        match low.or(high) {
            Some(why) => Err(format!("{label}{why}，填写的是 {shown}")),
            None => Ok(()),
        }
    }

    /// This bound's value in a record, if the record has one.
    fn seen(&self, r: &HouseRecord) -> Option<Seen> {
        let n = |x: f64| Some(Seen::Number(x));
        match self.key {
            "longitude" => r.longitude.and_then(n),
            "latitude" => r.latitude.and_then(n),
            "floors_above" => n(f64::from(r.floors_above)),
            "floors_below" => n(f64::from(r.floors_below)),
            "floor_area_m2" => n(r.floor_area_m2),
            "build_year" => r.build_year.and_then(|y| n(f64::from(y))),
            "qr_plaque_installed_on" => r.qr_plaque_installed_on.map(Seen::Date),
            other => unreachable!("bound {other} has no value in the record"),
        }
    }
}

/// Every value of `r` outside its bound on `today` (the day it is recorded, in Beijing), each
/// naming its field; and a longitude without a latitude or the other way round.
pub fn implausible(r: &HouseRecord, today: NaiveDate) -> Vec<ColumnError> {
    let mut out = vec![];
    for b in BOUNDS {
        if let Some(v) = b.seen(r)
            && let Err(message) = b.check(v, r.build_year, today)
        {
            out.push(ColumnError {
                key: b.key,
                header: b.label,
                message,
            });
        }
    }
    let one = |key, header| ColumnError {
        key,
        header,
        message: "经度和纬度须同时填写".into(),
    };
    match (r.longitude, r.latitude) {
        (Some(_), None) => out.push(one("latitude", "纬度")),
        (None, Some(_)) => out.push(one("longitude", "经度")),
        _ => {}
    }
    out
}

/// The bounds as the README's table rows: `| 中文 | 部分 | 界限 |`.
pub fn markdown() -> String {
    BOUNDS
        .iter()
        .map(|b| {
            format!(
                "| {} (`{}`) | {} | {} |\n",
                b.label,
                b.key,
                b.block.label(),
                b.describe()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RegionCode;
    use crate::dict::UsageCategory;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// The injected day of these tests: 30 November 2026.
    fn today() -> NaiveDate {
        day(2026, 11, 30)
    }

    fn record() -> HouseRecord {
        crate::sample::record(
            RegionCode::parse("370829100201").unwrap(),
            UsageCategory::Other,
        )
    }

    /// The messages for `r` on `today`, joined.
    fn refused(set: impl FnOnce(&mut HouseRecord)) -> String {
        let mut r = record();
        set(&mut r);
        implausible(&r, today())
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("；")
    }

    fn accepted(set: impl FnOnce(&mut HouseRecord)) {
        let m = refused(set);
        assert!(m.is_empty(), "refused: {m}");
    }

    #[test]
    fn the_sample_record_is_plausible() {
        accepted(|_| {});
    }

    #[test]
    fn build_year_from_1900_to_the_current_year() {
        accepted(|r| r.build_year = Some(1900));
        assert_eq!(
            refused(|r| r.build_year = Some(1899)),
            "建成年份不能早于 1900 年，填写的是 1899"
        );
        accepted(|r| r.build_year = Some(2026));
        assert_eq!(
            refused(|r| r.build_year = Some(2027)),
            "建成年份不能晚于当前年份（2026），填写的是 2027"
        );
        assert_eq!(
            refused(|r| r.build_year = Some(2099)),
            "建成年份不能晚于当前年份（2026），填写的是 2099"
        );
        accepted(|r| r.build_year = None);
        // The current year is the recording day's: on 1 January 2027 a 2027 house is fine.
        let mut r = record();
        r.build_year = Some(2027);
        assert!(implausible(&r, day(2027, 1, 1)).is_empty());
        assert_eq!(implausible(&r, day(2026, 12, 31)).len(), 1);
    }

    #[test]
    fn floors_above_from_1_to_30() {
        assert_eq!(
            refused(|r| r.floors_above = 0),
            "地上层数不能少于 1 层，填写的是 0"
        );
        accepted(|r| r.floors_above = 1);
        accepted(|r| r.floors_above = 30);
        assert_eq!(
            refused(|r| r.floors_above = 31),
            "地上层数不能多于 30 层，填写的是 31"
        );
    }

    #[test]
    fn floors_below_from_0_to_5() {
        accepted(|r| r.floors_below = 0);
        accepted(|r| r.floors_below = 5);
        assert_eq!(
            refused(|r| r.floors_below = 6),
            "地下层数不能多于 5 层，填写的是 6"
        );
    }

    #[test]
    fn floor_area_above_0_and_at_most_100000() {
        assert_eq!(
            refused(|r| r.floor_area_m2 = 0.0),
            "建筑面积（㎡）须大于 0，填写的是 0"
        );
        assert_eq!(
            refused(|r| r.floor_area_m2 = -5.5),
            "建筑面积（㎡）须大于 0，填写的是 -5.5"
        );
        accepted(|r| r.floor_area_m2 = 0.01);
        accepted(|r| r.floor_area_m2 = 100_000.0);
        assert_eq!(
            refused(|r| r.floor_area_m2 = 100_000.01),
            "建筑面积（㎡）不能大于 100000，填写的是 100000.01"
        );
        assert!(!refused(|r| r.floor_area_m2 = f64::NAN).is_empty());
    }

    #[test]
    fn coordinates_within_china() {
        accepted(|r| r.longitude = Some(73.0));
        accepted(|r| r.longitude = Some(136.0));
        assert_eq!(
            refused(|r| r.longitude = Some(72.99)),
            "经度不能小于 73°，填写的是 72.99"
        );
        assert_eq!(
            refused(|r| r.longitude = Some(136.01)),
            "经度不能大于 136°，填写的是 136.01"
        );
        accepted(|r| r.latitude = Some(3.0));
        accepted(|r| r.latitude = Some(54.0));
        assert_eq!(
            refused(|r| r.latitude = Some(2.99)),
            "纬度不能小于 3°，填写的是 2.99"
        );
        assert_eq!(
            refused(|r| r.latitude = Some(54.01)),
            "纬度不能大于 54°，填写的是 54.01"
        );
        // Swapped coordinates (纬度 in 经度) are caught.
        assert_eq!(
            refused(|r| {
                r.longitude = Some(35.41);
                r.latitude = Some(116.34);
            }),
            "经度不能小于 73°，填写的是 35.41；纬度不能大于 54°，填写的是 116.34"
        );
        assert_eq!(refused(|r| r.latitude = None), "经度和纬度须同时填写");
        accepted(|r| {
            r.longitude = None;
            r.latitude = None;
        });
    }

    #[test]
    fn plaque_date_not_before_the_build_year_nor_after_today() {
        accepted(|r| r.qr_plaque_installed_on = Some(today()));
        assert_eq!(
            refused(|r| r.qr_plaque_installed_on = Some(day(2026, 12, 1))),
            "二维码标牌安装日期不能晚于今天（2026-11-30），填写的是 2026-12-01"
        );
        // The sample house was built in 1998.
        accepted(|r| r.qr_plaque_installed_on = Some(day(1998, 1, 1)));
        assert_eq!(
            refused(|r| r.qr_plaque_installed_on = Some(day(1997, 12, 31))),
            "二维码标牌安装日期不能早于建成年份（1998），填写的是 1997-12-31"
        );
        assert_eq!(
            refused(|r| {
                r.build_year = None;
                r.qr_plaque_installed_on = Some(day(1899, 12, 31));
            }),
            "二维码标牌安装日期不能早于 1900 年，填写的是 1899-12-31"
        );
    }

    #[test]
    fn every_bound_is_a_column_and_every_value_is_named() {
        for b in BOUNDS {
            let c = crate::columns::column(b.key).expect("a column");
            assert_eq!(c.header, b.label, "{}", b.key);
            assert_eq!(c.block, b.block, "{}", b.key);
        }
        // Everything wrong at once: every field named, in the table's order.
        let mut r = record();
        r.longitude = Some(0.0);
        r.latitude = Some(0.0);
        r.floors_above = 31;
        r.floors_below = 6;
        r.floor_area_m2 = 0.0;
        r.build_year = Some(2099);
        r.qr_plaque_installed_on = Some(day(2099, 1, 1));
        let named: Vec<&str> = implausible(&r, today()).iter().map(|e| e.header).collect();
        assert_eq!(
            named,
            [
                "经度",
                "纬度",
                "地上层数",
                "地下层数",
                "建筑面积（㎡）",
                "建成年份",
                "二维码标牌安装日期"
            ]
        );
    }

    #[test]
    fn the_readme_lists_every_bound() {
        let readme = include_str!("../../../README.md");
        for row in markdown().lines() {
            assert!(readme.contains(row), "README lacks the row\n{row}");
        }
    }
}
