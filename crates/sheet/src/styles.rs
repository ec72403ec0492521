//! Enough of `xl/styles.xml` to know which cell styles show numbers as dates or times, so date
//! serials can be read back as ISO dates.

use std::collections::HashMap;
use std::io::BufRead;

use quick_xml::events::Event;

use crate::SheetError;
use crate::value::NumberKind;
use crate::xml::{XmlStream, attribute};

/// The number kind of each cell style (`<c s="…">` indexes `cellXfs`).
#[derive(Debug, Default)]
pub(crate) struct Styles {
    kinds: Vec<NumberKind>,
}

impl Styles {
    /// How style `index` shows numbers; styles the file does not define are plain.
    pub(crate) fn kind(&self, index: usize) -> NumberKind {
        self.kinds.get(index).copied().unwrap_or(NumberKind::Plain)
    }

    pub(crate) fn parse<R: BufRead>(mut xml: XmlStream<R>) -> Result<Self, SheetError> {
        let part = xml.part().to_owned();
        let mut custom = HashMap::new();
        let mut formats = Vec::new();
        let mut in_cell_xfs = false;
        loop {
            match xml.next()? {
                Event::Start(e) if e.local_name().as_ref() == "cellXfs" => in_cell_xfs = true,
                Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                    "numFmt" => {
                        let id: Option<u32> =
                            attribute(&e, "numFmtId", &part)?.and_then(|id| id.parse().ok());
                        let code = attribute(&e, "formatCode", &part)?;
                        if let (Some(id), Some(code)) = (id, code) {
                            custom.insert(id, classify(&code));
                        }
                    }
                    "xf" if in_cell_xfs => {
                        let id: u32 = attribute(&e, "numFmtId", &part)?
                            .and_then(|id| id.parse().ok())
                            .unwrap_or(0);
                        formats.push(id);
                    }
                    _ => {}
                },
                Event::End(e) if e.local_name().as_ref() == "cellXfs" => in_cell_xfs = false,
                Event::Eof => break,
                _ => {}
            }
        }
        let kinds = formats
            .into_iter()
            .map(|id| custom.get(&id).copied().unwrap_or_else(|| builtin(id)))
            .collect();
        Ok(Self { kinds })
    }
}

/// The built-in formats that show dates or times, including the East Asian ones Chinese Excel
/// uses (`yyyy"年"m"月"d"日"` is 31).
fn builtin(id: u32) -> NumberKind {
    match id {
        14..=17 | 27..=31 | 36 | 50..=54 | 57 | 58 => NumberKind::Date,
        22 => NumberKind::DateTime,
        18..=21 | 32..=35 | 45..=47 | 55 | 56 => NumberKind::Time,
        _ => NumberKind::Plain,
    }
}

/// What a custom format code shows, judged from its first section once quoted text, escaped
/// characters and bracketed colours or locales are set aside: `y`/`d` mean a date, `h`/`s` (or
/// `[h]`, `[mm]`, `[ss]`) a time, and an `m` alone a month.
fn classify(code: &str) -> NumberKind {
    let (mut date, mut time, mut month_or_minute) = (false, false, false);
    let mut chars = code.chars();
    while let Some(ch) = chars.next() {
        match ch {
            ';' => break,
            '"' => {
                for quoted in chars.by_ref() {
                    if quoted == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let inner: String = chars.by_ref().take_while(|&c| c != ']').collect();
                let elapsed = inner.to_ascii_lowercase();
                if !elapsed.is_empty() && elapsed.chars().all(|c| matches!(c, 'h' | 'm' | 's')) {
                    time = true;
                }
            }
            'y' | 'Y' | 'd' | 'D' => date = true,
            'h' | 'H' | 's' | 'S' => time = true,
            'm' | 'M' => month_or_minute = true,
            _ => {}
        }
    }
    match (date || (month_or_minute && !time), time) {
        (true, true) => NumberKind::DateTime,
        (true, false) => NumberKind::Date,
        (false, true) => NumberKind::Time,
        (false, false) => NumberKind::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NumberKind::{Date, DateTime, Plain, Time};

    #[test]
    fn custom_formats_are_told_apart() {
        assert_eq!(classify("yyyy-mm-dd"), Date);
        assert_eq!(classify(r#"yyyy"年"m"月"d"日""#), Date);
        assert_eq!(classify("[$-804]yyyy/m/d;@"), Date);
        assert_eq!(classify("mmm"), Date);
        assert_eq!(classify("yyyy-mm-dd hh:mm:ss"), DateTime);
        assert_eq!(classify("h:mm AM/PM"), Time);
        assert_eq!(classify("[h]:mm"), Time);
        assert_eq!(classify("mm:ss"), Time);
        assert_eq!(classify("General"), Plain);
        assert_eq!(classify("#,##0.00_);[Red](#,##0.00)"), Plain);
        assert_eq!(classify(r#"0.00"平方米""#), Plain);
        assert_eq!(classify(r#"0\d"#), Plain);
        assert_eq!(classify("0.00E+00"), Plain);
        assert_eq!(classify("[Red]0"), Plain);
    }

    #[test]
    fn built_in_date_formats_include_the_chinese_ones() {
        assert_eq!(builtin(14), Date);
        assert_eq!(builtin(31), Date);
        assert_eq!(builtin(22), DateTime);
        assert_eq!(builtin(20), Time);
        assert_eq!(builtin(0), Plain);
        assert_eq!(builtin(49), Plain);
    }
}
