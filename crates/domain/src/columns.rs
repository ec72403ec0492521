//! The house record as columns: one table, in the national collection platform's block order
//! (房屋基本情况, 建设情况, 管理情况), with each column's Chinese header, how it is entered and how
//! it is read from and written to text. The registration and correction forms, the import
//! template, the importer and the national-platform export are all built from this table, so a
//! field is added in one place and every one of them follows.

use crate::Coded;
use crate::bounds;
use crate::codes::{OwnerId, PhoneNumber, RegionCode, RegionLevel};
use crate::dict::{Dictionaries, UsageCategory, kind};
use crate::house::{Construction, HouseRecord, People};
use chrono::NaiveDate;

/// The platform's blocks a house column belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// 房屋基本情况 (location, identifiers, use, building data).
    Basic,
    /// 房屋基本情况 — 产权人及责任人 (personal data, protected).
    People,
    /// 建设情况.
    Construction,
    /// 管理情况.
    Management,
}

impl Block {
    pub fn label(self) -> &'static str {
        match self {
            Block::Basic => "房屋基本情况",
            Block::People => "产权人及责任人",
            Block::Construction => "建设情况",
            Block::Management => "管理情况",
        }
    }
}

/// How a column's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    /// A whole number (层数, 建成年份).
    Integer,
    /// A decimal number (面积, 经纬度).
    Decimal,
    Date,
    /// 是 / 否.
    Bool,
    /// 房屋用途 (the three usage categories).
    Usage,
    /// A 9-digit town or 12-digit village code.
    Region(RegionLevel),
    /// One value of a dictionary, matched by its label.
    Dict(&'static str),
    /// Several values of a dictionary, separated by 、 or a comma.
    DictMany(&'static str),
    /// 身份证号 or 统一社会信用代码 (personal; checked digit).
    OwnerId,
    /// 电话 (personal).
    Phone,
}

/// One column of the house record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Stable key (form field name, JSON).
    pub key: &'static str,
    /// Chinese header, as in the template and the exports.
    pub header: &'static str,
    pub block: Block,
    pub input: Input,
    pub required: bool,
}

impl Column {
    /// Whether the column holds personal data (masked unless revealed, sealed at rest).
    pub fn personal(&self) -> bool {
        matches!(self.input, Input::OwnerId | Input::Phone)
    }
}

const fn col(
    key: &'static str,
    header: &'static str,
    block: Block,
    input: Input,
    required: bool,
) -> Column {
    Column {
        key,
        header,
        block,
        input,
        required,
    }
}

use Block as B;
use Input as I;

/// Every column of the house record and its people, in the national platform's order.
pub const COLUMNS: &[Column] = &[
    col(
        "platform_code",
        "自建房编号（归集平台）",
        B::Basic,
        I::Text,
        false,
    ),
    col("census_id", "普查房屋编号", B::Basic, I::Text, false),
    col("unified_code", "房屋建筑统一编码", B::Basic, I::Text, false),
    col(
        "town",
        "镇街",
        B::Basic,
        I::Region(RegionLevel::Town),
        false,
    ),
    col(
        "village",
        "村（社区）",
        B::Basic,
        I::Region(RegionLevel::Village),
        true,
    ),
    col("group_name", "组", B::Basic, I::Text, false),
    col("road", "路（街、巷）", B::Basic, I::Text, false),
    col("door_no", "号", B::Basic, I::Text, false),
    col("address", "房屋地址", B::Basic, I::Text, true),
    col("longitude", "经度", B::Basic, I::Decimal, false),
    col("latitude", "纬度", B::Basic, I::Decimal, false),
    col("owner_name", "产权人（户主）", B::People, I::Text, true),
    col(
        "owner_id",
        "身份证号/统一社会信用代码",
        B::People,
        I::OwnerId,
        false,
    ),
    col("owner_phone", "产权人联系电话", B::People, I::Phone, false),
    col(
        "owner_role",
        "产权人类型",
        B::People,
        I::Dict(kind::OWNER_ROLE),
        false,
    ),
    col("user_name", "使用人", B::People, I::Text, false),
    col("user_phone", "使用人电话", B::People, I::Phone, false),
    col("safety_person", "房屋安全责任人", B::People, I::Text, false),
    col(
        "safety_phone",
        "房屋安全责任人电话",
        B::People,
        I::Phone,
        false,
    ),
    col(
        "supervisor",
        "安全监管责任人（网格员/包保干部）",
        B::People,
        I::Text,
        false,
    ),
    col(
        "supervisor_phone",
        "安全监管责任人电话",
        B::People,
        I::Phone,
        false,
    ),
    col("usage", "房屋用途", B::Basic, I::Usage, true),
    col(
        "business_types",
        "经营类型",
        B::Basic,
        I::DictMany(kind::BUSINESS_TYPE),
        false,
    ),
    col(
        "occupants_over_10",
        "常住或使用人数超过10人",
        B::Basic,
        I::Bool,
        false,
    ),
    col(
        "zone_type",
        "所在区域",
        B::Basic,
        I::Dict(kind::ZONE_TYPE),
        false,
    ),
    col(
        "land_type",
        "土地性质",
        B::Basic,
        I::Dict(kind::LAND_TYPE),
        false,
    ),
    col("land_use_subtype", "用地细类", B::Basic, I::Text, false),
    col("floors_above", "地上层数", B::Basic, I::Integer, true),
    col("floors_below", "地下层数", B::Basic, I::Integer, false),
    col(
        "floor_area_m2",
        "建筑面积（㎡）",
        B::Basic,
        I::Decimal,
        true,
    ),
    col("build_year", "建成年份", B::Basic, I::Integer, false),
    col(
        "structure_type",
        "结构类型",
        B::Basic,
        I::Dict(kind::STRUCTURE_TYPE),
        true,
    ),
    col(
        "wall_material",
        "墙体材料",
        B::Basic,
        I::Dict(kind::WALL_MATERIAL),
        false,
    ),
    col(
        "floor_slab",
        "楼板",
        B::Basic,
        I::Dict(kind::FLOOR_SLAB),
        false,
    ),
    col(
        "roof_type",
        "屋盖",
        B::Basic,
        I::Dict(kind::ROOF_TYPE),
        false,
    ),
    col(
        "qr_plaque_installed_on",
        "二维码标牌安装日期",
        B::Basic,
        I::Date,
        false,
    ),
    col(
        "design_mode",
        "设计方式",
        B::Construction,
        I::Dict(kind::DESIGN_MODE),
        false,
    ),
    col(
        "builder_mode",
        "施工方式",
        B::Construction,
        I::Dict(kind::BUILDER_MODE),
        false,
    ),
    col(
        "seismic_measures",
        "抗震构造措施",
        B::Construction,
        I::DictMany(kind::SEISMIC_MEASURE),
        false,
    ),
    col("is_altered", "是否改扩建", B::Construction, I::Bool, false),
    col(
        "alteration_types",
        "改扩建内容",
        B::Construction,
        I::DictMany(kind::ALTERATION_TYPE),
        false,
    ),
    col(
        "main_structure_changed",
        "是否改变主体结构",
        B::Construction,
        I::Bool,
        false,
    ),
    col("is_decorated", "是否装修", B::Construction, I::Bool, false),
    col(
        "permits_held",
        "已取得的行政许可",
        B::Management,
        I::DictMany(kind::PERMIT),
        false,
    ),
    col(
        "illegal_flags",
        "违法违规情况",
        B::Management,
        I::DictMany(kind::ILLEGAL_FLAG),
        false,
    ),
];

/// The column with this key.
pub fn column(key: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.key == key)
}

/// The column with this Chinese header (spaces and full-width brackets tolerated).
pub fn by_header(header: &str) -> Option<&'static Column> {
    let h = normalise_header(header);
    COLUMNS
        .iter()
        .find(|c| normalise_header(c.header) == h || c.key == header.trim())
}

/// Headers compare without spaces and with ASCII brackets made full-width.
pub fn normalise_header(h: &str) -> String {
    h.chars()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .map(|c| match c {
            '(' => '（',
            ')' => '）',
            c => c,
        })
        .collect()
}

/// A value refused for a column, named by its Chinese header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnError {
    pub key: &'static str,
    pub header: &'static str,
    pub message: String,
}

impl std::fmt::Display for ColumnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A message that names its field already (a bound's) is not prefixed again.
        if self.message.starts_with(self.header) {
            f.write_str(&self.message)
        } else {
            write!(f, "{}：{}", self.header, self.message)
        }
    }
}

const SEPARATORS: &[char] = &['、', ',', '，', ';', '；', '\n'];

/// Several values in one cell, separated by 、 , ， ; ； or new lines — but not inside brackets,
/// where a value may use 、 itself (“使用安全（增加堆载、改变用途等）”).
pub fn split_values(s: &str) -> Vec<&str> {
    let mut out = vec![];
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '（' | '(' => depth += 1,
            '）' | ')' => depth = (depth - 1).max(0),
            c if depth == 0 && SEPARATORS.contains(&c) => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn many(v: &[String]) -> String {
    v.join("、")
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn yes(b: bool) -> String {
    if b { "是" } else { "否" }.into()
}

/// The value of a column, as text (the form's value, the export's cell). Personal columns are
/// given in full: callers mask them.
pub fn get(c: &Column, r: &HouseRecord, p: &People) -> String {
    let phone =
        |v: &Option<PhoneNumber>| v.as_ref().map_or_else(String::new, |x| x.as_str().into());
    let k = &r.construction;
    match c.key {
        "platform_code" => opt(&r.platform_code),
        "census_id" => opt(&r.census_id),
        "unified_code" => opt(&r.unified_code),
        "town" => r.town.to_string(),
        "village" => r.village.to_string(),
        "group_name" => opt(&r.group_name),
        "road" => opt(&r.road),
        "door_no" => opt(&r.door_no),
        "address" => r.address.clone(),
        "longitude" => r.longitude.map_or_else(String::new, |x| format!("{x:.6}")),
        "latitude" => r.latitude.map_or_else(String::new, |x| format!("{x:.6}")),
        "owner_name" => p.owner_name.clone(),
        "owner_id" => p
            .owner_id
            .as_ref()
            .map_or_else(String::new, |x| x.as_str().into()),
        "owner_phone" => phone(&p.owner_phone),
        "owner_role" => opt(&p.owner_role),
        "user_name" => opt(&p.user_name),
        "user_phone" => phone(&p.user_phone),
        "safety_person" => opt(&p.safety_person),
        "safety_phone" => phone(&p.safety_phone),
        "supervisor" => opt(&p.supervisor),
        "supervisor_phone" => phone(&p.supervisor_phone),
        "usage" => r.usage.label().into(),
        "business_types" => many(&r.business_types),
        "occupants_over_10" => yes(r.occupants_over_10),
        "zone_type" => opt(&r.zone_type),
        "land_type" => opt(&r.land_type),
        "land_use_subtype" => opt(&r.land_use_subtype),
        "floors_above" => r.floors_above.to_string(),
        "floors_below" => r.floors_below.to_string(),
        "floor_area_m2" => format!("{:.2}", r.floor_area_m2),
        "build_year" => r.build_year.map_or_else(String::new, |y| y.to_string()),
        "structure_type" => r.structure_type.clone(),
        "wall_material" => opt(&r.wall_material),
        "floor_slab" => opt(&r.floor_slab),
        "roof_type" => opt(&r.roof_type),
        "qr_plaque_installed_on" => r
            .qr_plaque_installed_on
            .map_or_else(String::new, |d| d.to_string()),
        "design_mode" => opt(&k.design_mode),
        "builder_mode" => opt(&k.builder_mode),
        "seismic_measures" => many(&k.seismic_measures),
        "is_altered" => yes(k.is_altered),
        "alteration_types" => many(&k.alteration_types),
        "main_structure_changed" => yes(k.main_structure_changed),
        "is_decorated" => yes(k.is_decorated),
        "permits_held" => many(&k.permits_held),
        "illegal_flags" => many(&k.illegal_flags),
        other => unreachable!("column {other} has no getter"),
    }
}

/// A parsed value, before it is put into the record.
enum Value {
    None,
    Text(String),
    Integer(i64),
    Decimal(f64),
    Date(NaiveDate),
    Bool(bool),
    Usage(UsageCategory),
    Region(RegionCode),
    Many(Vec<String>),
    OwnerId(OwnerId),
    Phone(PhoneNumber),
}

/// Reads a bool as typed in a ledger: 是/否, 有/无, Y/N, 1/0, true/false; blank is 否.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "" | "否" | "无" | "n" | "no" | "0" | "false" | "×" => Some(false),
        "是" | "有" | "y" | "yes" | "1" | "true" | "√" => Some(true),
        _ => None,
    }
}

/// Reads a date as typed in a ledger: 2024-03-15, 2024/3/15, 2024.3.15, 2024年3月15日, 20240315.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d").ok();
    }
    let parts: Vec<&str> = s
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 || parts[0].len() != 4 {
        return None;
    }
    let n = |p: &str| p.trim().parse::<u32>().ok();
    NaiveDate::from_ymd_opt(n(parts[0])? as i32, n(parts[1])?, n(parts[2])?)
}

fn parse(c: &Column, raw: &str, dict: &Dictionaries) -> Result<Value, String> {
    let s = raw.trim();
    if s.is_empty() {
        return if c.required {
            Err("必填，不能为空".into())
        } else {
            Ok(Value::None)
        };
    }
    Ok(match c.input {
        I::Text => {
            if s.chars().count() > 200 {
                return Err("过长（不超过 200 字）".into());
            }
            Value::Text(s.to_string())
        }
        I::Integer => Value::Integer(
            s.trim_end_matches(".0")
                .parse()
                .map_err(|_| format!("“{s}”不是整数"))?,
        ),
        I::Decimal => {
            let x: f64 = s.parse().map_err(|_| format!("“{s}”不是数字"))?;
            if !x.is_finite() {
                return Err(format!("“{s}”不是数字"));
            }
            Value::Decimal(x)
        }
        I::Date => {
            Value::Date(parse_date(s).ok_or_else(|| format!("“{s}”不是日期（应为 2024-03-15）"))?)
        }
        I::Bool => Value::Bool(parse_bool(s).ok_or_else(|| format!("“{s}”应为“是”或“否”"))?),
        I::Usage => {
            Value::Usage(UsageCategory::parse(s).ok_or_else(|| {
                format!("“{s}”应为：经营性自建房、自住兼经营性自建房、其他自建房")
            })?)
        }
        I::Region(level) => {
            let code = RegionCode::parse(s).map_err(|e| e.0)?;
            if code.level() != level {
                return Err(format!("“{s}”不是{}级区划代码", level_label(level)));
            }
            Value::Region(code)
        }
        I::Dict(k) => {
            if !dict.allows(k, s) {
                return Err(format!(
                    "“{s}”不在字典中（可选：{}）",
                    dict.values(k).join("、")
                ));
            }
            Value::Text(s.to_string())
        }
        I::DictMany(k) => {
            let mut out: Vec<String> = Vec::new();
            for v in split_values(s) {
                if !dict.allows(k, v) {
                    return Err(format!(
                        "“{v}”不在字典中（可选：{}）",
                        dict.values(k).join("、")
                    ));
                }
                if !out.iter().any(|x| x == v) {
                    out.push(v.to_string());
                }
            }
            Value::Many(out)
        }
        I::OwnerId => Value::OwnerId(OwnerId::parse(s).map_err(|e| e.0)?),
        I::Phone => Value::Phone(PhoneNumber::parse(s).map_err(|e| e.0)?),
    })
}

fn level_label(l: RegionLevel) -> &'static str {
    match l {
        RegionLevel::Town => "镇街",
        RegionLevel::Village => "村（社区）",
        _ => "县",
    }
}

fn put(c: &Column, v: Value, r: &mut HouseRecord, p: &mut People) -> Result<(), String> {
    let text = |v: Value| match v {
        Value::Text(s) => Some(s),
        _ => None,
    };
    let list = |v: Value| match v {
        Value::Many(l) => l,
        _ => vec![],
    };
    let flag = |v: Value| matches!(v, Value::Bool(true));
    let phone = |v: Value| match v {
        Value::Phone(x) => Some(x),
        _ => None,
    };
    let int = |v: &Value, max: i64| -> Result<Option<i64>, String> {
        match v {
            Value::Integer(n) if (0..=max).contains(n) => Ok(Some(*n)),
            Value::Integer(n) => Err(format!("{n} 超出范围（0–{max}）")),
            _ => Ok(None),
        }
    };
    let dec = |v: &Value| match v {
        Value::Decimal(x) => Some(*x),
        Value::Integer(n) => Some(*n as f64),
        _ => None,
    };
    let k = &mut r.construction;
    match c.key {
        "platform_code" => r.platform_code = text(v),
        "census_id" => r.census_id = text(v),
        "unified_code" => r.unified_code = text(v),
        "town" => {
            if let Value::Region(t) = v {
                r.town = t;
            }
        }
        "village" => {
            if let Value::Region(x) = v {
                r.village = x;
            }
        }
        "group_name" => r.group_name = text(v),
        "road" => r.road = text(v),
        "door_no" => r.door_no = text(v),
        "address" => r.address = text(v).unwrap_or_default(),
        "longitude" => r.longitude = dec(&v),
        "latitude" => r.latitude = dec(&v),
        "owner_name" => p.owner_name = text(v).unwrap_or_default(),
        "owner_id" => {
            p.owner_id = match v {
                Value::OwnerId(x) => Some(x),
                _ => None,
            }
        }
        "owner_phone" => p.owner_phone = phone(v),
        "owner_role" => p.owner_role = text(v),
        "user_name" => p.user_name = text(v),
        "user_phone" => p.user_phone = phone(v),
        "safety_person" => p.safety_person = text(v),
        "safety_phone" => p.safety_phone = phone(v),
        "supervisor" => p.supervisor = text(v),
        "supervisor_phone" => p.supervisor_phone = phone(v),
        "usage" => {
            if let Value::Usage(u) = v {
                r.usage = u;
            }
        }
        "business_types" => r.business_types = list(v),
        "occupants_over_10" => r.occupants_over_10 = flag(v),
        "zone_type" => r.zone_type = text(v),
        "land_type" => r.land_type = text(v),
        "land_use_subtype" => r.land_use_subtype = text(v),
        "floors_above" => r.floors_above = int(&v, u8::MAX.into())?.unwrap_or(0) as u8,
        "floors_below" => r.floors_below = int(&v, u8::MAX.into())?.unwrap_or(0) as u8,
        "floor_area_m2" => r.floor_area_m2 = (dec(&v).unwrap_or(0.0) * 100.0).round() / 100.0,
        "build_year" => r.build_year = int(&v, u16::MAX.into())?.map(|y| y as u16),
        "structure_type" => r.structure_type = text(v).unwrap_or_default(),
        "wall_material" => r.wall_material = text(v),
        "floor_slab" => r.floor_slab = text(v),
        "roof_type" => r.roof_type = text(v),
        "qr_plaque_installed_on" => {
            r.qr_plaque_installed_on = match v {
                Value::Date(d) => Some(d),
                _ => None,
            }
        }
        "design_mode" => k.design_mode = text(v),
        "builder_mode" => k.builder_mode = text(v),
        "seismic_measures" => k.seismic_measures = list(v),
        "is_altered" => k.is_altered = flag(v),
        "alteration_types" => k.alteration_types = list(v),
        "main_structure_changed" => k.main_structure_changed = flag(v),
        "is_decorated" => k.is_decorated = flag(v),
        "permits_held" => k.permits_held = list(v),
        "illegal_flags" => k.illegal_flags = list(v),
        other => unreachable!("column {other} has no setter"),
    }
    Ok(())
}

/// An empty record to fill column by column; its required fields are set by [`build`] or it is
/// refused, so its placeholder region never escapes.
fn blank(village: RegionCode) -> (HouseRecord, People) {
    let record = HouseRecord {
        platform_code: None,
        census_id: None,
        unified_code: None,
        town: village.town(),
        village,
        group_name: None,
        road: None,
        door_no: None,
        address: String::new(),
        longitude: None,
        latitude: None,
        usage: UsageCategory::Other,
        business_types: vec![],
        occupants_over_10: false,
        zone_type: None,
        land_type: None,
        land_use_subtype: None,
        floors_above: 0,
        floors_below: 0,
        floor_area_m2: 0.0,
        build_year: None,
        structure_type: String::new(),
        wall_material: None,
        floor_slab: None,
        roof_type: None,
        qr_plaque_installed_on: None,
        construction: Construction::default(),
    };
    (record, People::default())
}

/// Builds a house record and its people from text values looked up by column (a form, a
/// ledger row). Every refused value is reported, each naming its column — a number or date
/// outside its plausible bound ([`crate::bounds`]) against `today`, the day it is recorded,
/// included; then the record's own cross-field checks run (business type for a business use,
/// village within town, …). A blank town is taken from the village.
pub fn build<'a>(
    value: impl Fn(&Column) -> Option<&'a str>,
    dict: &Dictionaries,
    today: NaiveDate,
) -> Result<(HouseRecord, People), Vec<ColumnError>> {
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(COLUMNS.len());
    for c in COLUMNS {
        match parse(c, value(c).unwrap_or(""), dict) {
            Ok(v) => parsed.push((c, v)),
            Err(message) => errors.push(ColumnError {
                key: c.key,
                header: c.header,
                message,
            }),
        }
    }
    // Each value within its bound before it is put into the record (whose types could not
    // hold every number typed).
    let build_year = parsed.iter().find_map(|(c, v)| match v {
        Value::Integer(n) if c.key == "build_year" => u16::try_from(*n).ok(),
        _ => None,
    });
    parsed.retain(|(c, v)| {
        let Some(b) = bounds::of(c.key) else {
            return true;
        };
        let seen = match v {
            Value::Integer(n) => bounds::Seen::Number(*n as f64),
            Value::Decimal(x) => bounds::Seen::Number(*x),
            Value::Date(d) => bounds::Seen::Date(*d),
            _ => return true,
        };
        match b.check(seen, build_year, today) {
            Ok(()) => true,
            Err(message) => {
                errors.push(ColumnError {
                    key: c.key,
                    header: c.header,
                    message,
                });
                false
            }
        }
    });
    let village = parsed.iter().find_map(|(c, v)| match v {
        Value::Region(r) if c.key == "village" => Some(*r),
        _ => None,
    });
    let Some(village) = village else {
        return Err(errors);
    };
    let (mut record, mut people) = blank(village);
    for (c, v) in parsed {
        if let Err(message) = put(c, v, &mut record, &mut people) {
            errors.push(ColumnError {
                key: c.key,
                header: c.header,
                message,
            });
        }
    }
    if errors.is_empty() {
        // What is left: a longitude without a latitude, or the other way round.
        errors = bounds::implausible(&record, today);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let whole = |message: String| {
        vec![ColumnError {
            key: "",
            header: "房屋信息",
            message,
        }]
    };
    record.check(dict).map_err(whole)?;
    people.check(dict).map_err(whole)?;
    Ok((record, people))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;
    use std::collections::BTreeMap;

    fn dict() -> Dictionaries {
        Dictionaries::default()
    }

    fn village() -> RegionCode {
        RegionCode::parse("370829100201").unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    }

    #[test]
    fn every_column_reads_back_what_it_wrote() {
        let mut r = sample::record(village(), UsageCategory::MixedBusiness);
        r.construction.is_altered = true;
        r.construction.alteration_types = vec!["楼顶加层".into(), "周边扩建".into()];
        r.construction.permits_held = vec!["宅基地批准书".into()];
        r.qr_plaque_installed_on = NaiveDate::from_ymd_opt(2024, 5, 1);
        r.occupants_over_10 = true;
        let p = sample::people();
        let text: BTreeMap<&str, String> =
            COLUMNS.iter().map(|c| (c.key, get(c, &r, &p))).collect();
        let (r2, p2) = build(|c| text.get(c.key).map(String::as_str), &dict(), today()).unwrap();
        assert_eq!(r2, r);
        assert_eq!(p2, p);
    }

    #[test]
    fn every_bad_value_is_named_by_its_header() {
        let mut text: BTreeMap<&str, &str> = BTreeMap::new();
        text.insert("village", "370829100201");
        text.insert("address", "");
        text.insert("owner_name", "李四");
        text.insert("usage", "商铺");
        text.insert("floors_above", "两层");
        text.insert("floor_area_m2", "120");
        text.insert("structure_type", "砖混");
        text.insert("owner_id", "370829196504123011");
        let errors = build(|c| text.get(c.key).copied(), &dict(), today()).unwrap_err();
        let headers: Vec<&str> = errors.iter().map(|e| e.header).collect();
        assert_eq!(
            headers,
            [
                "房屋地址",
                "身份证号/统一社会信用代码",
                "房屋用途",
                "地上层数",
                "结构类型"
            ]
        );
        assert!(errors[2].message.contains("经营性自建房"), "{}", errors[2]);
    }

    #[test]
    fn cross_field_checks_run_after_the_columns() {
        let r = sample::record(village(), UsageCategory::Business);
        let p = sample::people();
        let mut text: BTreeMap<&str, String> =
            COLUMNS.iter().map(|c| (c.key, get(c, &r, &p))).collect();
        text.insert("business_types", String::new());
        let errors = build(|c| text.get(c.key).map(String::as_str), &dict(), today()).unwrap_err();
        assert_eq!(errors[0].message, "经营性自建房须填写经营类型");
    }

    #[test]
    fn ledger_spellings_of_dates_and_yes_no() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        for s in [
            "2024-03-05",
            "2024/3/5",
            "2024.3.5",
            "2024年3月5日",
            "20240305",
        ] {
            assert_eq!(parse_date(s), Some(d), "{s}");
        }
        assert_eq!(parse_date("3/5/2024"), None);
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_bool("是"), Some(true));
        assert_eq!(parse_bool(""), Some(false));
        assert_eq!(parse_bool("也许"), None);
    }

    #[test]
    fn values_are_split_outside_brackets() {
        assert_eq!(
            split_values("地基基础、使用安全（增加堆载、改变用途等）, 改扩建"),
            ["地基基础", "使用安全（增加堆载、改变用途等）", "改扩建"]
        );
        assert_eq!(split_values(" 、 "), Vec::<&str>::new());
    }

    #[test]
    fn headers_are_unique_and_found_loosely() {
        for (i, a) in COLUMNS.iter().enumerate() {
            for b in &COLUMNS[i + 1..] {
                assert_ne!(normalise_header(a.header), normalise_header(b.header));
                assert_ne!(a.key, b.key);
            }
        }
        assert_eq!(by_header(" 建筑面积(㎡) ").unwrap().key, "floor_area_m2");
        assert_eq!(by_header("*房屋地址").unwrap().key, "address");
        assert!(by_header("备注").is_none());
    }

    #[test]
    fn values_outside_their_bounds_are_named_by_column_while_reading() {
        let r = sample::record(village(), UsageCategory::Other);
        let p = sample::people();
        let text: BTreeMap<&str, String> =
            COLUMNS.iter().map(|c| (c.key, get(c, &r, &p))).collect();
        let read = |changes: &[(&str, &str)]| {
            let mut t = text.clone();
            for (k, v) in changes {
                t.insert(k, v.to_string());
            }
            build(|c| t.get(c.key).map(String::as_str), &dict(), today())
        };
        assert!(read(&[("build_year", "2026")]).is_ok());
        assert!(read(&[("build_year", "1900")]).is_ok());
        // Numbers no field type could hold are named by their bound, not by an overflow.
        let errors = read(&[
            ("build_year", "99999"),
            ("floors_above", "300"),
            ("floors_below", "-1"),
            ("floor_area_m2", "0"),
            ("longitude", "200"),
            ("qr_plaque_installed_on", "2026-12-01"),
        ])
        .unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "经度不能大于 136°，填写的是 200",
                "地上层数不能多于 30 层，填写的是 300",
                "地下层数不能少于 0 层，填写的是 -1",
                "建筑面积（㎡）须大于 0，填写的是 0",
                "建成年份不能晚于当前年份（2026），填写的是 99999",
                "二维码标牌安装日期不能晚于今天（2026-11-30），填写的是 2026-12-01",
            ]
        );
        // The plaque follows the build year typed in the same row.
        let errors = read(&[
            ("build_year", "2010"),
            ("qr_plaque_installed_on", "2009-06-01"),
        ])
        .unwrap_err();
        assert_eq!(errors[0].key, "qr_plaque_installed_on");
        assert!(
            errors[0].message.contains("建成年份（2010）"),
            "{}",
            errors[0]
        );
        let errors = read(&[("latitude", "")]).unwrap_err();
        assert_eq!(errors[0].to_string(), "纬度：经度和纬度须同时填写");
    }
}
