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
    /// The row Excel would show for the last record: blank lines count, line breaks inside
    /// quoted fields do not.
    row: usize,
    /// The line the next record starts on unless blank lines come first.
    next_line: u64,
}

pub(crate) fn open(mut file: File, limits: &Limits) -> Result<CsvRows, SheetError> {
    check_encoding(&mut file)?;
    let budget = record_budget(limits);
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Budget::new(BufReader::new(file), budget));
    Ok(CsvRows {
        reader,
        record: csv::StringRecord::new(),
        limits: *limits,
        row: 0,
        next_line: 1,
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
                let line = self
                    .record
                    .position()
                    .map_or(self.next_line, csv::Position::line);
                self.row = self.row_at(line);
                self.next_line = self.reader.position().line();
                let row = self.row;
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

    /// The row number of a record starting on `line`: the blank lines skipped since the last
    /// record are rows in Excel too.
    fn row_at(&self, line: u64) -> usize {
        let skipped = usize::try_from(line.saturating_sub(self.next_line)).unwrap_or(usize::MAX);
        self.row.saturating_add(1).saturating_add(skipped)
    }

    fn error(&self, err: &csv::Error) -> SheetError {
        let row = err
            .position()
            .map_or(self.row + 1, |position| self.row_at(position.line()));
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

/// Refuses a file that is not UTF-8 text, judged from its first bytes; later rows are checked
/// as they are read.
fn check_encoding(file: &mut File) -> Result<(), SheetError> {
    let mut head = Vec::new();
    file.by_ref()
        .take(SNIFF_BYTES)
        .read_to_end(&mut head)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|err| SheetError::read_failed(&err))?;
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(SheetError::not_utf8(None, "UTF-16 byte order mark"));
    }
    let binary = |bytes: &[u8]| {
        bytes
            .iter()
            .any(|&b| matches!(b, 0x00..=0x08 | 0x0E..=0x1A | 0x1C..=0x1F))
    };
    match std::str::from_utf8(&head) {
        // A cut at the end of the sample is not an error.
        Err(err) if err.error_len().is_some() => {
            if binary(&head) {
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
