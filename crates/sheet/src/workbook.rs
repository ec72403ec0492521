//! Finding the first worksheet: `xl/workbook.xml` lists the sheets in tab order and
//! `xl/_rels/workbook.xml.rels` says which part holds each. Also reads the date system.

use std::collections::HashMap;
use std::io::BufRead;

use quick_xml::events::Event;

use crate::SheetError;
use crate::value::DateSystem;
use crate::xml::{XmlStream, attribute};

/// Where the worksheet is when the workbook does not say (or there is no workbook part).
pub(crate) const FALLBACK_SHEET: &str = "xl/worksheets/sheet1.xml";

/// What `xl/workbook.xml` says that the reader needs.
#[derive(Debug)]
pub(crate) struct Workbook {
    /// Relationship ids of the sheets in tab order, visible ones first.
    sheets: Vec<String>,
    pub(crate) date_system: DateSystem,
}

impl Workbook {
    pub(crate) fn parse<R: BufRead>(mut xml: XmlStream<R>) -> Result<Self, SheetError> {
        let part = xml.part().to_owned();
        let mut visible = Vec::new();
        let mut hidden = Vec::new();
        let mut date_system = DateSystem::Excel1900;
        loop {
            match xml.next()? {
                Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                    "workbookPr" => {
                        let flag = attribute(&e, "date1904", &part)?;
                        if matches!(flag.as_deref(), Some("1" | "true")) {
                            date_system = DateSystem::Excel1904;
                        }
                    }
                    "sheet" => {
                        // The `r:id` attribute; its prefix varies with the file's namespaces.
                        let Some(id) = attribute(&e, "id", &part)? else {
                            continue;
                        };
                        match attribute(&e, "state", &part)?.as_deref() {
                            Some("hidden" | "veryHidden") => hidden.push(id),
                            _ => visible.push(id),
                        }
                    }
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
        }
        visible.append(&mut hidden);
        Ok(Self {
            sheets: visible,
            date_system,
        })
    }

    /// The part of the first sheet that is a worksheet (not a chart sheet), given the
    /// workbook's relationships.
    pub(crate) fn first_worksheet(&self, relationships: &Relationships) -> Option<String> {
        self.sheets
            .iter()
            .find_map(|id| relationships.worksheets.get(id))
            .cloned()
    }
}

/// The worksheet relationships of the workbook: id → part name.
#[derive(Debug, Default)]
pub(crate) struct Relationships {
    worksheets: HashMap<String, String>,
}

impl Relationships {
    pub(crate) fn parse<R: BufRead>(mut xml: XmlStream<R>) -> Result<Self, SheetError> {
        let part = xml.part().to_owned();
        let mut worksheets = HashMap::new();
        loop {
            match xml.next()? {
                Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                    let id = attribute(&e, "Id", &part)?;
                    let kind = attribute(&e, "Type", &part)?;
                    let target = attribute(&e, "Target", &part)?;
                    if let (Some(id), Some(kind), Some(target)) = (id, kind, target)
                        && kind.ends_with("/worksheet")
                    {
                        worksheets.insert(id, resolve(&target));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(Self { worksheets })
    }
}

/// A relationship target of the workbook as a part name: relative to `xl/`, or absolute from
/// the package root when it starts with `/`; `.` and `..` segments resolved.
fn resolve(target: &str) -> String {
    let (base, path) = match target.strip_prefix('/') {
        Some(absolute) => ("", absolute),
        None => ("xl", target),
    };
    let mut segments: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    segments.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(xml: &str) -> XmlStream<&[u8]> {
        XmlStream::new(xml.as_bytes(), "xl/workbook.xml", 1 << 20)
    }

    #[test]
    fn the_first_visible_worksheet_is_chosen() {
        let workbook = Workbook::parse(stream(
            r#"<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
            <workbookPr date1904="1"/>
            <sheets>
              <sheet name="说明" sheetId="1" state="hidden" r:id="rId1"/>
              <sheet name="图表" sheetId="2" r:id="rId2"/>
              <sheet name="台账" sheetId="3" r:id="rId3"/>
            </sheets></workbook>"#,
        ))
        .unwrap();
        let relationships = Relationships::parse(stream(
            r#"<Relationships>
            <Relationship Id="rId1" Type="http://x/relationships/worksheet" Target="worksheets/sheet1.xml"/>
            <Relationship Id="rId2" Type="http://x/relationships/chartsheet" Target="chartsheets/sheet1.xml"/>
            <Relationship Id="rId3" Type="http://x/relationships/worksheet" Target="/xl/worksheets/ledger.xml"/>
            </Relationships>"#,
        ))
        .unwrap();
        assert_eq!(workbook.date_system, DateSystem::Excel1904);
        assert_eq!(
            workbook.first_worksheet(&relationships).as_deref(),
            Some("xl/worksheets/ledger.xml")
        );
    }

    #[test]
    fn targets_resolve_against_xl() {
        assert_eq!(resolve("worksheets/sheet1.xml"), "xl/worksheets/sheet1.xml");
        assert_eq!(
            resolve("./worksheets/../worksheets/s.xml"),
            "xl/worksheets/s.xml"
        );
        assert_eq!(resolve("/xl/worksheets/s.xml"), "xl/worksheets/s.xml");
        assert_eq!(resolve("../../../x.xml"), "x.xml");
    }
}
