//! Identifier types parsed at the edge: region codes, the house's plaque code, ID-card numbers,
//! unified social credit codes and mobile numbers. Each one is valid by construction.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a code was refused, in words a town clerk understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodeError(pub String);

fn err(msg: impl Into<String>) -> CodeError {
    CodeError(msg.into())
}

/// Level of an administrative division, read off its 12-digit statistical code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
    Town,
    Village,
}

impl RegionLevel {
    /// Number of significant leading digits of a code at this level.
    pub fn digits(self) -> usize {
        match self {
            RegionLevel::Province => 2,
            RegionLevel::City => 4,
            RegionLevel::County => 6,
            RegionLevel::Town => 9,
            RegionLevel::Village => 12,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RegionLevel::Province => "省",
            RegionLevel::City => "市",
            RegionLevel::County => "县",
            RegionLevel::Town => "镇街",
            RegionLevel::Village => "村（社区）",
        }
    }
}

/// A 12-digit statistical division code (统计用区划代码). Shorter forms (6-digit county,
/// 9-digit town) are accepted and padded with zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode([u8; 12]);

impl RegionCode {
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        let s = s.trim();
        if !matches!(s.len(), 2 | 4 | 6 | 9 | 12) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!(
                "区划代码“{s}”格式不正确：应为 12 位数字（县 6 位、镇街 9 位亦可）"
            )));
        }
        let mut buf = [b'0'; 12];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        if buf[..2] == *b"00" {
            return Err(err(format!("区划代码“{s}”的省级代码不能为 00")));
        }
        Ok(RegionCode(buf))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("region codes are ASCII digits")
    }

    /// The level is the shortest prefix after which only zeros follow.
    pub fn level(&self) -> RegionLevel {
        let s = &self.0;
        let zero = |r: std::ops::Range<usize>| s[r].iter().all(|&b| b == b'0');
        if zero(2..12) {
            RegionLevel::Province
        } else if zero(4..12) {
            RegionLevel::City
        } else if zero(6..12) {
            RegionLevel::County
        } else if zero(9..12) {
            RegionLevel::Town
        } else {
            RegionLevel::Village
        }
    }

    /// The significant prefix: `370829` for the county, `370829001` for a town.
    pub fn prefix(&self) -> &str {
        &self.as_str()[..self.level().digits()]
    }

    /// True when `other` lies in this code's subtree (a code contains itself).
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.as_str().starts_with(self.prefix())
    }

    /// The enclosing code at `level` (e.g. the town of a village).
    pub fn ancestor(&self, level: RegionLevel) -> RegionCode {
        let mut buf = [b'0'; 12];
        let n = level.digits().min(self.level().digits());
        buf[..n].copy_from_slice(&self.0[..n]);
        RegionCode(buf)
    }

    pub fn town(&self) -> RegionCode {
        self.ancestor(RegionLevel::Town)
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RegionCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, CodeError> {
        RegionCode::parse(s)
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(RegionCode);

/// A code that is personal data: `as_str` gives it whole, for storage and for callers that
/// reveal it; Debug shows only its `masked()` form, so personal data never reaches a log
/// through Debug.
macro_rules! personal_code {
    ($t:ident) => {
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.masked())
            }
        }

        string_serde!($t);
    };
}

/// The first `keep` characters, stars up to the 14th, and the rest: `370829********123X`.
fn mask_middle(code: &str, keep: usize) -> String {
    format!("{}{}{}", &code[..keep], "*".repeat(14 - keep), &code[14..])
}

/// ISO 7064 MOD 11-2 check character over 17 digits, as used by GB 11643.
fn mod11_2(digits: &[u8]) -> u8 {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = digits
        .iter()
        .zip(W.iter())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize]
}

/// The permanent system code of a house, printed on its QR plaque (一房一码):
/// `AJ` + 6-digit county + 8-digit serial + one check character, e.g. `AJ37082900000123X`.
/// The check character catches a mistyped code read off a plaque.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HouseCode(String);

impl HouseCode {
    pub fn new(county: &RegionCode, serial: u32) -> HouseCode {
        let body = format!("{}{:08}", &county.as_str()[..6], serial % 100_000_000);
        let check = mod11_2(
            &body.as_bytes()[..14]
                .iter()
                .chain(b"000")
                .copied()
                .collect::<Vec<_>>(),
        );
        HouseCode(format!("AJ{body}{}", check as char))
    }

    pub fn parse(s: &str) -> Result<Self, CodeError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let well_formed = b.len() == 17
            && s.starts_with("AJ")
            && b[2..16].iter().all(u8::is_ascii_digit)
            && (b[16].is_ascii_digit() || b[16] == b'X');
        if !well_formed {
            return Err(err(format!(
                "房屋编码“{s}”格式不正确：应为 AJ 加 14 位数字和 1 位校验码"
            )));
        }
        let check = mod11_2(&b[2..16].iter().chain(b"000").copied().collect::<Vec<_>>());
        if check != b[16] {
            return Err(err(format!("房屋编码“{s}”校验位不符，请核对标牌上的编码")));
        }
        Ok(HouseCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn serial(&self) -> u32 {
        self.0[8..16].parse().expect("validated digits")
    }
}

impl fmt::Display for HouseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(HouseCode);

/// A resident ID-card number (GB 11643-1999): 6-digit region, 8-digit birth date, 3-digit
/// sequence, ISO 7064 MOD 11-2 check character.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdCardNumber(String);

impl IdCardNumber {
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18
            || !b[..17].iter().all(u8::is_ascii_digit)
            || !(b[17].is_ascii_digit() || b[17] == b'X')
        {
            return Err(err("身份证号码格式不正确：应为 18 位，最后一位可为 X"));
        }
        if chrono::NaiveDate::parse_from_str(&s[6..14], "%Y%m%d").is_err() {
            return Err(err("身份证号码中的出生日期无效"));
        }
        if mod11_2(&b[..17]) != b[17] {
            return Err(err("身份证号码校验位不符，请核对"));
        }
        Ok(IdCardNumber(s))
    }

    /// Builds a valid number from its first 17 digits (used by the demo generator).
    pub fn with_check(first17: &str) -> Result<Self, CodeError> {
        if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("身份证号码前 17 位必须是数字"));
        }
        let c = mod11_2(first17.as_bytes()) as char;
        IdCardNumber::parse(&format!("{first17}{c}"))
    }

    /// `370829********123X`: region kept, birth date hidden.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 6)
    }
}
personal_code!(IdCardNumber);

/// Unified social credit code (统一社会信用代码, GB 32100-2015), for owners that are organisations.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

impl CreditCode {
    const CHARS: &'static [u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

    pub fn parse(s: &str) -> Result<Self, CodeError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let idx: Option<Vec<usize>> = b
            .iter()
            .map(|c| Self::CHARS.iter().position(|x| x == c))
            .collect();
        let Some(idx) = idx.filter(|v| v.len() == 18) else {
            return Err(err("统一社会信用代码格式不正确：应为 18 位数字或大写字母"));
        };
        const W: [usize; 17] = [
            1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
        ];
        let sum: usize = idx[..17].iter().zip(W.iter()).map(|(a, w)| a * w).sum();
        let check = (31 - sum % 31) % 31;
        if idx[17] != check {
            return Err(err("统一社会信用代码校验位不符，请核对"));
        }
        Ok(CreditCode(s))
    }

    /// `9137**********123X`: the first four and last four characters kept.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 4)
    }
}
personal_code!(CreditCode);

/// An owner's identity document: a person's ID card or an organisation's credit code.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OwnerId {
    Person(IdCardNumber),
    Organisation(CreditCode),
}

impl OwnerId {
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        match IdCardNumber::parse(s) {
            Ok(id) => Ok(OwnerId::Person(id)),
            Err(e) => CreditCode::parse(s)
                .map(OwnerId::Organisation)
                .map_err(|_| e),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            OwnerId::Person(x) => x.as_str(),
            OwnerId::Organisation(x) => x.as_str(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            OwnerId::Person(x) => x.masked(),
            OwnerId::Organisation(x) => x.masked(),
        }
    }
}

/// A phone number: an 11-digit mainland mobile number, or a landline (area code optional).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        let s: String = s
            .trim()
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        let b = s.as_bytes();
        let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        let landline = (7..=12).contains(&b.len()) && b[0] != b'1';
        if !b.iter().all(u8::is_ascii_digit) || !(mobile || landline) {
            return Err(err(format!(
                "电话号码“{}”格式不正确：手机号应为 11 位，固定电话 7–12 位",
                mask_digits(&s)
            )));
        }
        Ok(PhoneNumber(s))
    }

    /// `138****5678` for a mobile; a landline keeps its first 3 and last 2 digits.
    pub fn masked(&self) -> String {
        let s = &self.0;
        if s.len() == 11 && s.starts_with('1') {
            format!("{}****{}", &s[..3], &s[7..])
        } else {
            format!(
                "{}{}{}",
                &s[..3],
                "*".repeat(s.len() - 5),
                &s[s.len() - 2..]
            )
        }
    }
}

/// Masks all but the edges of a rejected input so an error message never echoes personal data.
fn mask_digits(s: &str) -> String {
    let n = s.chars().count();
    if n <= 4 {
        return "*".repeat(n);
    }
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < 3 || i + 2 >= n { c } else { '*' })
        .collect()
}

personal_code!(PhoneNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_town_code_is_padded_and_knows_its_level_and_subtree() {
        let town = RegionCode::parse("370829001").unwrap();
        assert_eq!(town.as_str(), "370829001000");
        assert_eq!(town.level(), RegionLevel::Town);
        let village = RegionCode::parse("370829001203").unwrap();
        assert_eq!(village.level(), RegionLevel::Village);
        assert!(town.contains(&village));
        assert!(!RegionCode::parse("370829002").unwrap().contains(&village));
        assert_eq!(village.town(), town);
        assert!(RegionCode::parse("370829").unwrap().contains(&town));
    }

    #[test]
    fn malformed_region_codes_are_refused() {
        for bad in ["", "37082", "3708290010001", "37082900100a", "000000000000"] {
            assert!(RegionCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_id_card_number_with_the_right_check_digit_is_accepted() {
        // The GB 11643 worked example: 11010519491231002X.
        let id = IdCardNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), "IdCardNumber(110105********002X)");
    }

    #[test]
    fn an_id_card_number_with_a_wrong_check_digit_or_date_is_refused() {
        assert!(IdCardNumber::parse("110105194912310021").is_err());
        assert!(IdCardNumber::parse("11010519491331002X").is_err());
        assert!(IdCardNumber::parse("1101051949123100").is_err());
    }

    #[test]
    fn a_credit_code_is_checked() {
        // A published example code with a valid check character.
        assert!(CreditCode::parse("91350100M000100Y43").is_ok());
        assert!(CreditCode::parse("91350100M000100Y44").is_err());
        assert!(matches!(
            OwnerId::parse("91350100M000100Y43"),
            Ok(OwnerId::Organisation(_))
        ));
    }

    #[test]
    fn phone_numbers_are_checked_and_masked() {
        let p = PhoneNumber::parse("138 1234 5678").unwrap();
        assert_eq!(p.masked(), "138****5678");
        assert_eq!(
            PhoneNumber::parse("05376836811").unwrap().masked(),
            "053******11"
        );
        let e = PhoneNumber::parse("12812345678").unwrap_err();
        assert!(!e.0.contains("12812345678"), "error echoes the number: {e}");
    }

    #[test]
    fn house_codes_carry_a_check_character() {
        let county = RegionCode::parse("370829").unwrap();
        let code = HouseCode::new(&county, 123);
        assert_eq!(&code.as_str()[..16], "AJ37082900000123");
        assert_eq!(HouseCode::parse(code.as_str()).unwrap(), code);
        assert_eq!(code.serial(), 123);
        let mut typo = code.as_str().to_string();
        typo.replace_range(15..16, "4");
        assert!(HouseCode::parse(&typo).is_err());
    }
}
