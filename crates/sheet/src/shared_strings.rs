//! The shared string table (`xl/sharedStrings.xml`), held in memory in one buffer so that a
//! table of millions of tiny strings costs four bytes per string, not a `String` each.

use std::io::BufRead;

use quick_xml::events::Event;

use crate::SheetError;
use crate::value::decode_escapes;
use crate::xml::{XmlStream, push_text};

/// The strings that `<c t="s">` cells point at by index.
#[derive(Debug, Default)]
pub(crate) struct SharedStrings {
    text: String,
    /// Where each string ends in `text`; string `i` starts where string `i - 1` ends.
    ends: Vec<u32>,
}

impl SharedStrings {
    /// String `index`, if the table has it.
    pub(crate) fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)? as usize;
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1] as usize,
        };
        self.text.get(start..end)
    }

    /// Reads every `<si>`: its plain `<t>` or the `<t>` of its rich-text runs, leaving out the
    /// phonetic guides (`<rPh>`) that are not part of the value.
    pub(crate) fn parse<R: BufRead>(mut xml: XmlStream<R>) -> Result<Self, SheetError> {
        let part = xml.part().to_owned();
        let mut table = Self::default();
        let (mut in_item, mut in_text, mut phonetic) = (false, false, 0u32);
        let mut start = 0;
        loop {
            let event = xml.next()?;
            match &event {
                Event::Start(e) => match e.local_name().as_ref() {
                    "si" => {
                        in_item = true;
                        start = table.text.len();
                    }
                    "t" => in_text = in_item && phonetic == 0,
                    "rPh" => phonetic += 1,
                    _ => {}
                },
                Event::Empty(e) if e.local_name().as_ref() == "si" => {
                    table.end_item(table.text.len(), &part)?;
                }
                Event::End(e) => match e.local_name().as_ref() {
                    "si" => {
                        in_item = false;
                        table.end_item(start, &part)?;
                    }
                    "t" => in_text = false,
                    "rPh" => phonetic = phonetic.saturating_sub(1),
                    _ => {}
                },
                Event::Eof => break,
                _ if in_text => push_text(&mut table.text, &event, &part)?,
                _ => {}
            }
        }
        Ok(table)
    }

    fn end_item(&mut self, start: usize, part: &str) -> Result<(), SheetError> {
        let item = &self.text[start..];
        if let std::borrow::Cow::Owned(decoded) = decode_escapes(item) {
            self.text.truncate(start);
            self.text.push_str(&decoded);
        }
        let end = u32::try_from(self.text.len())
            .map_err(|_| SheetError::malformed(part, "shared strings exceed 4 GiB"))?;
        self.ends.push(end);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> SharedStrings {
        SharedStrings::parse(XmlStream::new(
            xml.as_bytes(),
            "xl/sharedStrings.xml",
            1 << 20,
        ))
        .unwrap()
    }

    #[test]
    fn plain_rich_and_empty_items_are_read_in_order() {
        let table = parse(
            r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
            <si><t>张三</t></si>
            <si><r><rPr><b/></rPr><t>加粗</t></r><r><t xml:space="preserve"> 普通</t></r></si>
            <si/>
            <si><t>甲&amp;乙&#x4E19;</t><rPh sb="0" eb="1"><t>ひらがな</t></rPh></si>
            <si><t>行一_x000D_
行二</t></si>
            </sst>"#,
        );
        assert_eq!(table.get(0), Some("张三"));
        assert_eq!(table.get(1), Some("加粗 普通"));
        assert_eq!(table.get(2), Some(""));
        assert_eq!(table.get(3), Some("甲&乙丙"));
        assert_eq!(table.get(4), Some("行一\r\n行二"));
        assert_eq!(table.get(5), None);
    }
}
