//! Rows out of an uploaded spreadsheet — the first worksheet of an xlsx file, or a CSV file —
//! streamed one row at a time, so a ledger of a million rows costs the memory of a batch, not of
//! the file.
//!
//! ```text
//! for row in anju_sheet::open(path, &Limits::default())? {
//!     let row = row?; // row.number as Excel shows it, row.cells as text
//! }
//! ```
//!
//! # Defences
//!
//! Uploads are hostile until proven otherwise. Every limit is in [`Limits`]; every refusal is a
//! [`SheetError`] whose message tells the uploader, in Chinese, what was wrong and where.
//!
//! - **File**: its size is checked before anything is read; the type comes from its first bytes,
//!   not its name (old `.xls` and password-protected workbooks are recognised and refused).
//! - **Zip bombs**: the central directory is judged before a byte is inflated — the entry count
//!   (read from the end record before the zip crate indexes the entries), each entry's declared
//!   size, and the compression ratio of every entry over 1 MiB. While inflating, each entry is
//!   held to its declared size and checksum, so a declaration that lies is caught at the first
//!   byte past it. Only stored and deflated entries are read; encrypted ones are refused.
//! - **Memory**: the worksheet is parsed straight from the inflating entry and never held whole.
//!   Shared strings, styles and the workbook are held, each bounded by
//!   [`Limits::max_shared_strings_bytes`], the strings packed in one buffer. A byte budget caps
//!   each XML event and each CSV record, so an unclosed quote or an endless text node fails early
//!   instead of growing a buffer; cells, columns and rows have limits of their own.
//! - **XML**: no DTD is read and no entity expanded beyond the five predefined ones and character
//!   references, so entity tricks ("billion laughs", external entities) have nothing to work on.
//!   Elements may nest 100 deep, which keeps the parser's stack of open tags small.
//! - **Panics**: none on any input; a fuzz test feeds random and mutated files, and a cargo-fuzz
//!   target lives in `fuzz/`.
//!
//! An error ends the iteration. Rows already handed out came from a file that turned out to be
//! bad, so an importer should treat any error as a rejection of the whole file.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod archive;
mod csv_file;
mod error;
mod guard;
mod shared_strings;
mod styles;
mod value;
mod workbook;
mod xlsx;
mod xml;

use std::fs::File;
use std::io::Read;
use std::iter::FusedIterator;
use std::path::Path;

pub use csv_file::Encoding;
pub use error::SheetError;

/// How much a file may cost to read. The defaults fit the campaign's ledgers (up to about a
/// million rows) with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The size of the uploaded file.
    pub max_file_bytes: u64,
    /// Data rows; blank rows are skipped and not counted.
    pub max_rows: usize,
    /// Columns of any row.
    pub max_columns: usize,
    /// Characters (not bytes) of any cell.
    pub max_cell_chars: usize,
    /// The inflated size of any xlsx part, the worksheet included.
    pub max_entry_uncompressed: u64,
    /// Inflated size over compressed size, for parts of 1 MiB or more.
    pub max_ratio: u64,
    /// Files in the xlsx zip container.
    pub max_entries: usize,
    /// The inflated size of each part held in memory: the shared strings, and also the styles,
    /// the workbook and its relationships. Shared strings take at most about twice this in
    /// memory (the text, plus four bytes per string).
    pub max_shared_strings_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        const MIB: u64 = 1 << 20;
        Self {
            max_file_bytes: 200 * MIB,
            max_rows: 1_100_000,
            max_columns: 200,
            max_cell_chars: 2000,
            max_entry_uncompressed: 2048 * MIB,
            max_ratio: 200,
            max_entries: 1000,
            max_shared_strings_bytes: 256 * MIB,
        }
    }
}

/// The kind of file, told from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An Office Open XML workbook (a zip file).
    Xlsx,
    /// Comma-separated text in UTF-8, with or without a BOM.
    Csv,
}

/// One non-blank row of the sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The 1-based row number the user sees in Excel: header rows count, skipped and blank rows
    /// leave gaps. For CSV a quoted field spanning lines is still one row.
    pub number: usize,
    /// The cells from column A on, as text: numbers as typed (`3`, `245.5`), cells formatted as
    /// dates as ISO dates (`2024-05-01`, or with ` HH:MM:SS` when the format shows a time),
    /// booleans as `TRUE`/`FALSE`, formulas as their cached result. Missing cells within the row
    /// are empty strings; rows may differ in length. Text is not trimmed.
    pub cells: Vec<String>,
}

impl Row {
    /// The cell in 0-based `column`, or `""` past the end of the row.
    pub fn cell(&self, column: usize) -> &str {
        self.cells.get(column).map_or("", String::as_str)
    }

    fn is_blank(&self) -> bool {
        self.cells.iter().all(|cell| cell.trim().is_empty())
    }
}

/// Opens a spreadsheet for reading row by row.
///
/// xlsx files are recognised by their zip signature and everything else is read as CSV. The
/// xlsx container is checked (see the crate documentation) and its small parts read before this
/// returns; the rows themselves are read as the iterator is advanced.
pub fn open(path: &Path, limits: &Limits) -> Result<Rows, SheetError> {
    let mut file = File::open(path).map_err(|err| SheetError::read_failed(&err))?;
    let len = file
        .metadata()
        .map_err(|err| SheetError::read_failed(&err))?
        .len();
    if len == 0 {
        return Err(SheetError::empty_file());
    }
    if len > limits.max_file_bytes {
        return Err(SheetError::file_too_big(len, limits.max_file_bytes));
    }
    let mut magic = Vec::with_capacity(8);
    file.by_ref()
        .take(8)
        .read_to_end(&mut magic)
        .map_err(|err| SheetError::read_failed(&err))?;
    let source = if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        Source::Xlsx(Box::new(xlsx::open(file, len, limits)?))
    } else if magic.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Err(SheetError::legacy_or_encrypted());
    } else {
        Source::Csv(Box::new(csv_file::open(file, len, limits)?))
    };
    Ok(Rows {
        source,
        max_rows: limits.max_rows,
        data_rows: 0,
        done: false,
    })
}

/// The non-blank rows of a sheet, in order. Rows whose cells are all empty or spaces (the blank
/// lines spreadsheets leave behind) are skipped. After the first error the iterator ends.
pub struct Rows {
    source: Source,
    max_rows: usize,
    data_rows: usize,
    done: bool,
}

enum Source {
    Xlsx(Box<xlsx::SheetRows>),
    Csv(Box<csv_file::CsvRows>),
}

impl Rows {
    /// The kind of file being read.
    pub fn format(&self) -> Format {
        match self.source {
            Source::Xlsx(_) => Format::Xlsx,
            Source::Csv(_) => Format::Csv,
        }
    }

    /// The text encoding of a CSV file (`None` for xlsx, which is always UTF-8 inside).
    pub fn encoding(&self) -> Option<Encoding> {
        match &self.source {
            Source::Xlsx(_) => None,
            Source::Csv(rows) => Some(rows.encoding()),
        }
    }

    fn next_row(&mut self) -> Result<Option<Row>, SheetError> {
        loop {
            let row = match &mut self.source {
                Source::Xlsx(sheet) => sheet.next_row()?,
                Source::Csv(csv) => csv.next_row()?,
            };
            let Some(row) = row else {
                return Ok(None);
            };
            if row.is_blank() {
                continue;
            }
            self.data_rows += 1;
            if self.data_rows > self.max_rows {
                return Err(SheetError::too_many_rows(row.number, self.max_rows));
            }
            return Ok(Some(row));
        }
    }
}

impl Iterator for Rows {
    type Item = Result<Row, SheetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_row();
        self.done = !matches!(next, Ok(Some(_)));
        next.transpose()
    }
}

impl FusedIterator for Rows {}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows")
            .field("format", &self.format())
            .field("data_rows", &self.data_rows)
            .field("done", &self.done)
            .finish()
    }
}
