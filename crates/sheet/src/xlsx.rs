//! Rows of the first worksheet of an xlsx file. The small parts (workbook, relationships, shared
//! strings, styles) are read into memory within their limits; the worksheet is pulled through
//! the XML parser straight from the inflating zip entry, one row at a time.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader};

use quick_xml::events::{BytesStart, Event};

use crate::archive::{Archive, EntryStream, PartReader};
use crate::shared_strings::SharedStrings;
use crate::styles::Styles;
use crate::value::{
    DateSystem, NumberKind, column_of, decode_escapes, format_number, format_serial,
};
use crate::workbook::{FALLBACK_SHEET, Relationships, Workbook};
use crate::xml::{XmlStream, attribute, attributes, push_text, value};
use crate::{Limits, Row, SheetError};

/// The bytes one XML event may span: room for a tag with its namespaces, or a cell's text at its
/// longest, with plenty to spare.
fn event_budget(limits: &Limits) -> u64 {
    (1 << 20) + 8 * limits.max_cell_chars as u64
}

/// Opens the first worksheet of an xlsx file whose bytes start with a zip signature.
pub(crate) fn open(file: File, len: u64, limits: &Limits) -> Result<SheetRows, SheetError> {
    let budget = event_budget(limits);
    let mut archive = Archive::open(file, len, limits)?;

    let workbook = read_part(&mut archive, "xl/workbook.xml", budget, Workbook::parse)?;
    let relationships = read_part(
        &mut archive,
        "xl/_rels/workbook.xml.rels",
        budget,
        Relationships::parse,
    )?;
    let date_system = workbook
        .as_ref()
        .map_or(DateSystem::Excel1900, |workbook| workbook.date_system);
    let (name, index) = workbook
        .zip(relationships)
        .and_then(|(workbook, relationships)| workbook.first_worksheet(&relationships))
        .and_then(|name| archive.find(&name).map(|index| (name, index)))
        .or_else(|| {
            archive
                .find(FALLBACK_SHEET)
                .map(|index| (FALLBACK_SHEET.to_owned(), index))
        })
        .ok_or_else(SheetError::no_worksheet)?;
    let shared = read_part(
        &mut archive,
        "xl/sharedStrings.xml",
        budget,
        SharedStrings::parse,
    )?;
    let styles = read_part(&mut archive, "xl/styles.xml", budget, Styles::parse)?;

    let stream = archive.into_stream(index)?;
    Ok(SheetRows {
        xml: XmlStream::new(BufReader::new(stream), &name, budget),
        parser: Parser {
            part: name,
            values: Values {
                shared: shared.unwrap_or_default(),
                styles: styles.unwrap_or_default(),
                date_system,
            },
            limits: *limits,
            state: State::BeforeData,
            row: None,
            cell: None,
            last_row: 0,
        },
    })
}

/// Parses the part called `name` with `parse`, if the archive has one.
fn read_part<'a, T>(
    archive: &'a mut Archive,
    name: &str,
    budget: u64,
    parse: impl FnOnce(XmlStream<BufReader<PartReader<'a>>>) -> Result<T, SheetError>,
) -> Result<Option<T>, SheetError> {
    let Some(index) = archive.find(name) else {
        return Ok(None);
    };
    let part = archive.part(index)?;
    parse(XmlStream::new(BufReader::new(part), name, budget)).map(Some)
}

/// The worksheet's rows, parsed as they are read.
pub(crate) struct SheetRows {
    xml: XmlStream<BufReader<EntryStream>>,
    parser: Parser,
}

impl SheetRows {
    /// The next `<row>`; `None` after `</sheetData>`.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row>, SheetError> {
        loop {
            if self.parser.state == State::Done {
                return Ok(None);
            }
            let event = self.xml.next()?;
            match self.parser.on_event(event)? {
                Flow::Continue => {}
                Flow::Row(row) => return Ok(Some(row)),
                Flow::EndOfData => {
                    self.parser.state = State::Done;
                    // Inflate the rest so the entry's length and checksum are verified.
                    io::copy(self.xml.inner_mut(), &mut io::sink()).map_err(|err| {
                        SheetError::from_io(&err).unwrap_or_else(|| SheetError::read_failed(&err))
                    })?;
                    return Ok(None);
                }
            }
        }
    }
}

/// Where the parser is in the worksheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeData,
    InData,
    Done,
}

/// What an event led to.
enum Flow {
    Continue,
    Row(Row),
    EndOfData,
}

/// The worksheet state machine, apart from the XML stream so both can be borrowed at once.
struct Parser {
    part: String,
    values: Values,
    limits: Limits,
    state: State,
    row: Option<RowBuilder>,
    cell: Option<CellBuilder>,
    last_row: usize,
}

struct RowBuilder {
    number: usize,
    cells: Vec<String>,
    next_column: usize,
}

struct CellBuilder {
    column: usize,
    kind: CellType,
    style: usize,
    raw: String,
    capturing: bool,
    inline: bool,
    phonetic: u32,
}

/// The `t` attribute of a cell; a cell without one holds a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellType {
    Number,
    Shared,
    Inline,
    Formula,
    Boolean,
    /// Errors (`#DIV/0!`), ISO dates (`t="d"`) and types this reader does not know: kept as stored.
    Verbatim,
}

impl CellType {
    fn parse(t: &str) -> Self {
        match t {
            "n" => Self::Number,
            "s" => Self::Shared,
            "inlineStr" => Self::Inline,
            "str" => Self::Formula,
            "b" => Self::Boolean,
            _ => Self::Verbatim,
        }
    }
}

impl Parser {
    fn on_event(&mut self, event: Event<'_>) -> Result<Flow, SheetError> {
        match &event {
            Event::Start(e) => self.open(e, false),
            Event::Empty(e) => self.open(e, true),
            Event::End(e) => self.close(e.local_name().as_ref()),
            Event::Eof => Err(SheetError::malformed(
                &self.part,
                match self.state {
                    State::BeforeData => "no <sheetData>",
                    _ => "ends inside <sheetData>",
                },
            )),
            _ => {
                if let Some(cell) = self.cell.as_mut().filter(|cell| cell.capturing) {
                    push_text(&mut cell.raw, &event, &self.part)?;
                    // Bound the raw text while it grows; the value is measured exactly at `</c>`.
                    if cell.raw.len() > 8 * self.limits.max_cell_chars + 64 {
                        let row = self.row.as_ref().map_or(self.last_row, |row| row.number);
                        return Err(SheetError::cell_too_long(
                            row,
                            cell.column,
                            self.limits.max_cell_chars,
                        ));
                    }
                }
                Ok(Flow::Continue)
            }
        }
    }

    fn open(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<Flow, SheetError> {
        let name = e.local_name();
        match (self.state, name.as_ref()) {
            (State::BeforeData, "sheetData") if empty => return Ok(Flow::EndOfData),
            (State::BeforeData, "sheetData") => self.state = State::InData,
            (State::InData, "row") => {
                let number = match attribute(e, "r", &self.part)? {
                    Some(r) => r
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| {
                            SheetError::malformed(&self.part, format!("row number {r:?}"))
                        })?,
                    None => self.last_row + 1,
                };
                self.row = Some(RowBuilder {
                    number,
                    cells: Vec::new(),
                    next_column: 0,
                });
                if empty {
                    return self.close("row");
                }
            }
            (State::InData, "c") => {
                let Some(row) = self.row.as_ref() else {
                    return Err(SheetError::malformed(&self.part, "<c> outside <row>"));
                };
                // One pass over the attributes: this runs for every cell of the sheet.
                let (mut column, mut kind, mut style) = (row.next_column, CellType::Number, 0);
                for attr in attributes(e, &self.part) {
                    let attr = attr?;
                    let text = value(&attr, &self.part)?;
                    match attr.key.as_ref() {
                        "r" => {
                            column = column_of(&text).ok_or_else(|| {
                                SheetError::malformed(
                                    &self.part,
                                    format!("cell reference {text:?}"),
                                )
                            })?;
                        }
                        "t" => kind = CellType::parse(&text),
                        "s" => style = text.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
                if column >= self.limits.max_columns {
                    return Err(SheetError::too_many_columns(
                        row.number,
                        self.limits.max_columns,
                    ));
                }
                self.cell = Some(CellBuilder {
                    column,
                    kind,
                    style,
                    raw: String::new(),
                    capturing: false,
                    inline: false,
                    phonetic: 0,
                });
                if empty {
                    return self.close("c");
                }
            }
            (State::InData, tag) if !empty => {
                if let Some(cell) = self.cell.as_mut() {
                    match tag {
                        "v" => cell.capturing = true,
                        "is" => cell.inline = true,
                        "t" => cell.capturing = cell.inline && cell.phonetic == 0,
                        "rPh" => cell.phonetic += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn close(&mut self, name: &str) -> Result<Flow, SheetError> {
        if self.state != State::InData {
            return Ok(Flow::Continue);
        }
        match name {
            "sheetData" => return Ok(Flow::EndOfData),
            "row" => {
                if let Some(row) = self.row.take() {
                    self.last_row = row.number;
                    return Ok(Flow::Row(Row {
                        number: row.number,
                        cells: row.cells,
                    }));
                }
            }
            "c" => self.end_cell()?,
            tag => {
                if let Some(cell) = self.cell.as_mut() {
                    match tag {
                        "v" | "t" => cell.capturing = false,
                        "is" => cell.inline = false,
                        "rPh" => cell.phonetic = cell.phonetic.saturating_sub(1),
                        _ => {}
                    }
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn end_cell(&mut self) -> Result<(), SheetError> {
        let (Some(cell), Some(row)) = (self.cell.take(), self.row.as_mut()) else {
            return Ok(());
        };
        let column = cell.column;
        let value = self
            .values
            .show(cell)
            .map_err(|detail| SheetError::bad_cell(row.number, column, &self.part, detail))?;
        if value.chars().count() > self.limits.max_cell_chars {
            return Err(SheetError::cell_too_long(
                row.number,
                column,
                self.limits.max_cell_chars,
            ));
        }
        if column < row.cells.len() {
            // Cells out of order: Excel never writes them, but a later one wins.
            row.cells[column] = value;
        } else {
            row.cells.resize(column, String::new());
            row.cells.push(value);
        }
        row.next_column = column + 1;
        Ok(())
    }
}

/// What turns a cell's stored text into the text the user sees.
struct Values {
    shared: SharedStrings,
    styles: Styles,
    date_system: DateSystem,
}

impl Values {
    /// The cell's value; `Err` holds an English detail when the cell points at nothing.
    fn show(&self, cell: CellBuilder) -> Result<String, String> {
        let raw = cell.raw;
        Ok(match cell.kind {
            CellType::Shared => {
                let index: usize = raw
                    .trim()
                    .parse()
                    .map_err(|_| format!("shared string index {raw:?}"))?;
                self.shared
                    .get(index)
                    .ok_or_else(|| format!("no shared string {index}"))?
                    .to_owned()
            }
            CellType::Inline | CellType::Formula => match decode_escapes(&raw) {
                Cow::Borrowed(_) => raw,
                Cow::Owned(decoded) => decoded,
            },
            CellType::Boolean => match raw.trim() {
                "1" => "TRUE".to_owned(),
                "0" => "FALSE".to_owned(),
                other => other.to_owned(),
            },
            CellType::Verbatim => raw,
            CellType::Number if raw.trim().is_empty() => String::new(),
            CellType::Number => match self.styles.kind(cell.style) {
                NumberKind::Plain => format_number(&raw),
                kind => raw
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(|serial| format_serial(serial, kind, self.date_system))
                    .unwrap_or_else(|| format_number(&raw)),
            },
        })
    }
}
