//! Rows of a CSV file: UTF-8 with or without a BOM, streamed record by record. Anything else is
//! refused with a message that tells the user how to save the file as "CSV UTF-8".

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use crate::guard::{Budget, is_exhausted};
use crate::{Limits, Row, SheetError};

/// How much of the file is checked for its encoding before the first row is read, so that the
/// common case — a GBK file saved by Excel — is refused at once rather than at its first Chinese
/// row.
const SNIFF_BYTES: u64 = 64 << 10;

/// The rows of a CSV file.
pub(crate) struct CsvRows {
    reader: csv::Reader<Budget<BufReader<File>>>,
    record: csv::StringRecord,
    limits: Limits,
    lines: LineLayout,
    /// The row Excel shows for the last record: blank lines count, line breaks inside quoted
    /// fields do not.
    row: usize,
    /// Line breaks inside the quoted fields of the records read so far.
    inner_breaks: u64,
}

/// What the row numbering needs to know about the file's line ends. The csv crate counts `\n`
/// as it consumes them and skips blank lines silently; with CRLF ends the `\n` of a record's
/// last line is only consumed with the next record.
struct LineLayout {
    crlf: bool,
    len: u64,
    ends_with_newline: bool,
}

pub(crate) fn open(mut file: File, len: u64, limits: &Limits) -> Result<CsvRows, SheetError> {
    let head = sample(&mut file)?;
    check_encoding(&head)?;
    let crlf = head
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|at| at > 0 && head[at - 1] == b'\r');
    let mut last = Vec::with_capacity(1);
    file.seek(SeekFrom::Start(len.saturating_sub(1)))
        .and_then(|_| file.by_ref().take(1).read_to_end(&mut last))
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|err| SheetError::read_failed(&err))?;
    let budget = record_budget(limits);
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Budget::new(BufReader::new(file), budget));
    Ok(CsvRows {
        reader,
        record: csv::StringRecord::new(),
        limits: *limits,
        lines: LineLayout {
            crlf,
            len,
            ends_with_newline: last == b"\n",
        },
        row: 0,
        inner_breaks: 0,
    })
}

/// The bytes one record may take: every column at its longest, plus the reader's look-ahead.
fn record_budget(limits: &Limits) -> u64 {
    limits.max_columns as u64 * (4 * limits.max_cell_chars as u64 + 3) + (64 << 10)
}

impl CsvRows {
    /// The next record; `None` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row>, SheetError> {
        self.reader.get_mut().reset();
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let row = self.number_record();
                if self.record.len() > self.limits.max_columns {
                    return Err(SheetError::too_many_columns(row, self.limits.max_columns));
                }
                let mut cells = Vec::with_capacity(self.record.len());
                for (column, field) in self.record.iter().enumerate() {
                    if field.chars().count() > self.limits.max_cell_chars {
                        return Err(SheetError::cell_too_long(
                            row,
                            column,
                            self.limits.max_cell_chars,
                        ));
                    }
                    cells.push(field.to_owned());
                }
                Ok(Some(Row { number: row, cells }))
            }
            Err(err) => Err(self.error(&err)),
        }
    }

    /// The row Excel shows for the record just read: the line its content starts on, less the
    /// line breaks inside quoted fields so far. Never less than one past the previous row, which
    /// also covers files whose lines end in a bare `\r`.
    fn number_record(&mut self) -> usize {
        let position = self.reader.position();
        let consumed = position.line().saturating_sub(1);
        let unterminated = position.byte() >= self.lines.len && !self.lines.ends_with_newline;
        let last_line = consumed + u64::from(self.lines.crlf || unterminated);
        let breaks: u64 = self
            .record
            .iter()
            .map(|field| field.bytes().filter(|&b| b == b'\n').count() as u64)
            .sum();
        let first_line = last_line.saturating_sub(breaks);
        let row = first_line.saturating_sub(self.inner_breaks);
        self.inner_breaks += breaks;
        self.row = usize::try_from(row)
            .unwrap_or(usize::MAX)
            .max(self.row.saturating_add(1));
        self.row
    }

    fn error(&self, err: &csv::Error) -> SheetError {
        // The csv crate reports where parsing began, before any blank lines: the next row is
        // the best guess.
        let row = self.row + 1;
        match err.kind() {
            csv::ErrorKind::Utf8 { err, .. } => SheetError::not_utf8(Some(row), err.to_string()),
            csv::ErrorKind::Io(io) if is_exhausted(io) => {
                SheetError::record_too_long(row, record_budget(&self.limits))
            }
            csv::ErrorKind::Io(io) => {
                SheetError::from_io(io).unwrap_or_else(|| SheetError::read_failed(io))
            }
            _ => SheetError::csv_malformed(row, err.to_string()),
        }
    }
}

/// The first bytes of the file, to judge its encoding and line ends by.
fn sample(file: &mut File) -> Result<Vec<u8>, SheetError> {
    let mut head = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.by_ref().take(SNIFF_BYTES).read_to_end(&mut head))
        .map_err(|err| SheetError::read_failed(&err))?;
    Ok(head)
}

/// Refuses a file that is not UTF-8 text, judged from its first bytes; later rows are checked
/// as they are read.
fn check_encoding(head: &[u8]) -> Result<(), SheetError> {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(SheetError::not_utf8(None, "UTF-16 byte order mark"));
    }
    let binary = |bytes: &[u8]| {
        bytes
            .iter()
            .any(|&b| matches!(b, 0x00..=0x08 | 0x0E..=0x1A | 0x1C..=0x1F))
    };
    match std::str::from_utf8(head) {
        // A cut at the end of the sample is not an error.
        Err(err) if err.error_len().is_some() => {
            if binary(head) {
                return Err(SheetError::not_a_spreadsheet("binary content"));
            }
            let row = head[..err.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            Err(SheetError::not_utf8(Some(row), err.to_string()))
        }
        _ if head.contains(&0) => Err(SheetError::not_a_spreadsheet("NUL bytes")),
        _ => Ok(()),
    }
}
