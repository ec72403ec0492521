//! Cell values as the user sees them: numbers as typed, date serials as ISO dates, OOXML's
//! `_xHHHH_` escapes decoded, and cell references turned into column indexes.

use std::borrow::Cow;

/// How a number format shows a number. Found from the cell's style; see [`crate::styles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberKind {
    Plain,
    Date,
    DateTime,
    Time,
}

/// Which day serial 0 is: the workbook's `date1904` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateSystem {
    /// Serial 1 is 1900-01-01, and serial 60 is the 1900-02-29 that Lotus 1-2-3 invented.
    Excel1900,
    /// Serial 0 is 1904-01-01 (old Mac workbooks).
    Excel1904,
}

/// A stored number as the user typed or saw it: `3` not `3.0`, `245.5`, and computed results
/// rounded to the 15 significant digits Excel shows (`0.1+0.2` is `0.3`). Text that is not a
/// finite number, and numbers too large or small to show plainly, are returned as stored.
pub(crate) fn format_number(raw: &str) -> String {
    let raw = raw.trim();
    if is_plain_decimal(raw) {
        return raw.to_owned();
    }
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() => {
            let shown = round_to_15_digits(x);
            if shown == 0.0 {
                "0".to_owned()
            } else if (1e-9..1e15).contains(&shown.abs()) {
                shown.to_string()
            } else {
                raw.to_owned()
            }
        }
        _ => raw.to_owned(),
    }
}

/// Whether `raw` already reads as Excel would show it: `-?digits(.digits)?` with no superfluous
/// zeros and at most 15 significant digits. Most stored numbers are, and skip the float trip.
fn is_plain_decimal(raw: &str) -> bool {
    let unsigned = raw.strip_prefix('-').unwrap_or(raw);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((_, "")) => return false,
        Some(parts) => parts,
        None => (unsigned, ""),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let significant = whole.trim_start_matches('0').len() + fraction.len();
    all_digits(whole)
        && (fraction.is_empty() || all_digits(fraction) && !fraction.ends_with('0'))
        && (whole == "0" || !whole.starts_with('0'))
        && significant <= 15
        && raw != "-0"
}

fn round_to_15_digits(x: f64) -> f64 {
    format!("{x:.14e}").parse().unwrap_or(x)
}

/// A date serial shown as ISO 8601 in the given system: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or
/// `HH:MM:SS`. `None` when the serial is not a date Excel could show (negative, past 9999, or the
/// 1900 system's day 0), so the caller keeps the number.
pub(crate) fn format_serial(serial: f64, kind: NumberKind, system: DateSystem) -> Option<String> {
    // 9999-12-31 is serial 2958465 in the 1900 system.
    if !serial.is_finite() || !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let mut days = serial.floor() as i64;
    let mut seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    if seconds == 86_400 {
        days += 1;
        seconds = 0;
    }
    let clock = |hours: i64| format!("{hours:02}:{:02}:{:02}", seconds % 3600 / 60, seconds % 60);
    if kind == NumberKind::Time {
        // Elapsed-time formats ([h]:mm) count whole days as hours.
        return Some(clock(days * 24 + seconds / 3600));
    }
    let date = match system {
        DateSystem::Excel1900 if days == 0 => return None,
        DateSystem::Excel1900 if days == 60 => (1900, 2, 29),
        // Before the phantom leap day serials count from 1899-12-31, after it from 1899-12-30.
        DateSystem::Excel1900 if days < 60 => civil_from_days(days - 25_568),
        DateSystem::Excel1900 => civil_from_days(days - 25_569),
        DateSystem::Excel1904 => civil_from_days(days - 24_107),
    };
    let (year, month, day) = date;
    let date = format!("{year:04}-{month:02}-{day:02}");
    Some(match kind {
        NumberKind::DateTime => format!("{date} {}", clock(seconds / 3600)),
        _ => date,
    })
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Decodes OOXML's `_xHHHH_` escapes, which Excel writes for control characters such as the
/// carriage return (`_x000D_`) and for a literal `_x` (`_x005F_x`).
pub(crate) fn decode_escapes(text: &str) -> Cow<'_, str> {
    if !text.contains("_x") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find("_x") {
        let start = at + found;
        let escape = bytes.get(start + 2..start + 7).and_then(|rest| {
            let (hex, close) = rest.split_at(4);
            let hex = std::str::from_utf8(hex).ok()?;
            if close != b"_" || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            char::from_u32(u32::from_str_radix(hex, 16).ok()?)
        });
        match escape {
            Some(ch) => {
                out.push_str(&text[copied..start]);
                out.push(ch);
                copied = start + 7;
                at = copied;
            }
            None => at = start + 2,
        }
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The 0-based column of a cell reference such as `C5` or `AB12`; `None` if it has no letters.
/// Columns past any sensible limit saturate instead of overflowing.
pub(crate) fn column_of(reference: &str) -> Option<usize> {
    let letters = reference
        .bytes()
        .take_while(|b| b.is_ascii_alphabetic())
        .map(|b| usize::from(b.to_ascii_uppercase() - b'A') + 1);
    let mut column = 0usize;
    let mut any = false;
    for letter in letters {
        any = true;
        column = column.saturating_mul(26).saturating_add(letter);
    }
    any.then(|| column - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DateSystem::{Excel1900, Excel1904};
    use NumberKind::{Date, DateTime, Time};

    #[test]
    fn numbers_read_as_typed() {
        let cases = [
            ("3", "3"),
            ("3.0", "3"),
            ("245.5", "245.5"),
            ("-12", "-12"),
            ("0.30000000000000004", "0.3"),
            ("1.5E+3", "1500"),
            ("-0.0", "0"),
            ("0", "0"),
            ("0.5", "0.5"),
            ("-0.25", "-0.25"),
            ("007", "7"),
            ("2.50", "2.5"),
            ("5.", "5"),
            ("123456789012345678", "123456789012345678"),
            ("1.2345678901234501E+20", "1.2345678901234501E+20"),
            (" 7 ", "7"),
            ("abc", "abc"),
            ("NaN", "NaN"),
        ];
        for (typed, shown) in cases {
            assert_eq!(format_number(typed), shown, "{typed}");
        }
    }

    #[test]
    fn serials_become_iso_dates_in_both_systems() {
        let cases = [
            (45_292.0, Excel1900, Some("2024-01-01")),
            (1.0, Excel1900, Some("1900-01-01")),
            (59.0, Excel1900, Some("1900-02-28")),
            (60.0, Excel1900, Some("1900-02-29")),
            (61.0, Excel1900, Some("1900-03-01")),
            (2_958_465.0, Excel1900, Some("9999-12-31")),
            (0.0, Excel1904, Some("1904-01-01")),
            (43_830.0, Excel1904, Some("2024-01-01")),
            (0.0, Excel1900, None),
            (-1.0, Excel1900, None),
            (3e6, Excel1900, None),
        ];
        for (serial, system, date) in cases {
            let got = format_serial(serial, Date, system);
            assert_eq!(got.as_deref(), date, "{serial} in {system:?}");
        }
    }

    #[test]
    fn times_keep_their_seconds() {
        let cases = [
            (45_292.75, DateTime, "2024-01-01 18:00:00"),
            (0.5, Time, "12:00:00"),
            (1.25, Time, "30:00:00"),
            (45_292.999_999_9, DateTime, "2024-01-02 00:00:00"),
        ];
        for (serial, kind, shown) in cases {
            let got = format_serial(serial, kind, Excel1900);
            assert_eq!(got.as_deref(), Some(shown), "{serial} as {kind:?}");
        }
    }

    #[test]
    fn ooxml_escapes_are_decoded_and_others_left_alone() {
        assert_eq!(decode_escapes("a_x000D_b"), "a\rb");
        assert_eq!(decode_escapes("_x005F_x0041_"), "_x0041_");
        assert_eq!(decode_escapes("_x12"), "_x12");
        assert_eq!(decode_escapes("_xZZZZ_ 张三"), "_xZZZZ_ 张三");
        assert_eq!(decode_escapes("_xD800_"), "_xD800_");
    }

    #[test]
    fn references_give_columns() {
        assert_eq!(column_of("A1"), Some(0));
        assert_eq!(column_of("c5"), Some(2));
        assert_eq!(column_of("AB12"), Some(27));
        assert_eq!(column_of("XFD1"), Some(16_383));
        assert_eq!(column_of("12"), None);
        assert!(column_of(&"Z".repeat(100)).is_some());
    }
}
