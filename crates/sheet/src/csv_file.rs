//! Rows of a CSV file, streamed record by record: UTF-8 with or without a BOM, or GB18030 (a
//! superset of GBK: what Excel's plain "CSV" is on a Chinese Windows), decoded as it is read and
//! never with a replacement character — a byte that is neither is refused with its row. Anything
//! else is refused with a message that tells the user how to save the file as "CSV UTF-8".

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use crate::guard::{Budget, is_exhausted};
use crate::{Limits, Row, SheetError};

/// How much of the file is checked for its encoding before the first row is read.
const SNIFF_BYTES: u64 = 64 << 10;

/// The text encodings a CSV file may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, with or without a byte order mark.
    Utf8,
    /// GB18030, which reads every GBK and GB2312 file.
    Gb18030,
}

/// The rows of a CSV file.
pub(crate) struct CsvRows {
    reader: csv::Reader<Budget<BufReader<Box<dyn Read + Send>>>>,
    encoding: Encoding,
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
    let encoding = check_encoding(&head)?;
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
    let text: Box<dyn Read + Send> = match encoding {
        Encoding::Utf8 => Box::new(file),
        Encoding::Gb18030 => Box::new(Gb18030::new(file)),
    };
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Budget::new(BufReader::new(text), budget));
    Ok(CsvRows {
        reader,
        encoding,
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
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

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
            csv::ErrorKind::Io(io) if undecodable(io).is_some() => {
                // The decoder runs ahead of the parser: the line it stopped on is the row (a
                // quoted line break before it would make this the line, not the row).
                let line = undecodable(io).map_or(row, |u| u.line);
                SheetError::not_gbk(Some(line), io.to_string())
            }
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

/// The file's encoding, judged from its first bytes: UTF-8 if they are, else GB18030 if they
/// are that; anything else is refused. Later rows are checked as they are read.
fn check_encoding(head: &[u8]) -> Result<Encoding, SheetError> {
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
            if decodes_as_gb18030(head) {
                return Ok(Encoding::Gb18030);
            }
            let row = head[..err.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            Err(SheetError::not_utf8(Some(row), err.to_string()))
        }
        _ if head.contains(&0) => Err(SheetError::not_a_spreadsheet("NUL bytes")),
        _ => Ok(Encoding::Utf8),
    }
}

/// Whether `head` is GB18030 throughout (a character cut at its end is not an error).
fn decodes_as_gb18030(head: &[u8]) -> bool {
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut out = vec![0u8; 4 * head.len() + 16];
    let (result, _, _) = decoder.decode_to_utf8_without_replacement(head, &mut out, false);
    !matches!(result, encoding_rs::DecoderResult::Malformed(..))
}

/// A byte sequence that is not GB18030, met while decoding: where, as a byte offset and as the
/// line it is on.
#[derive(Debug)]
struct Undecodable {
    offset: u64,
    line: usize,
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not GB18030 at byte {} (line {})",
            self.offset, self.line
        )
    }
}

impl std::error::Error for Undecodable {}

fn undecodable(err: &std::io::Error) -> Option<&Undecodable> {
    err.get_ref()?.downcast_ref::<Undecodable>()
}

/// GB18030 bytes in, UTF-8 out, as a stream; a malformed sequence is an error, never replaced.
struct Gb18030<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes of the source consumed so far.
    offset: u64,
    /// Line breaks handed out so far.
    lines: usize,
    /// The decoder has seen the end of the input (it must not be called again).
    finished: bool,
}

impl<R: Read> Gb18030<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            decoder: encoding_rs::GB18030.new_decoder_without_bom_handling(),
            buf: vec![0u8; 16 << 10].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            lines: 0,
            finished: false,
        }
    }
}

impl<R: Read> Read for Gb18030<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        // One character takes at most 4 bytes of UTF-8; callers (a BufReader) ask for more.
        if out.len() < 4 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "read buffer under 4 bytes",
            ));
        }
        loop {
            if self.finished {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                let n = self.inner.read(&mut self.buf)?;
                self.start = 0;
                self.end = n;
                self.eof = n == 0;
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.buf[self.start..self.end],
                out,
                self.eof,
            );
            self.start += read;
            self.offset += read as u64;
            self.lines += out[..written].iter().filter(|&&b| b == b'\n').count();
            if let encoding_rs::DecoderResult::Malformed(..) = result {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    Undecodable {
                        offset: self.offset,
                        line: self.lines + 1,
                    },
                ));
            }
            if self.eof && matches!(result, encoding_rs::DecoderResult::InputEmpty) {
                self.finished = true;
            }
            if written > 0 || self.finished {
                return Ok(written);
            }
        }
    }
}
