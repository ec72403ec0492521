//! Helpers shared by the test binaries: files on disk, reading every row, and zips built by hand.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use anju_sheet::{Limits, Row, SheetError};
use tempfile::NamedTempFile;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// `bytes` in a temporary file that lives as long as the returned handle.
pub fn file(bytes: &[u8]) -> NamedTempFile {
    let mut file = NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write temp file");
    file.flush().expect("flush temp file");
    file
}

/// Every row of the file at `path`, or the first error (from opening or from a row).
pub fn read_path(path: &Path, limits: &Limits) -> Result<Vec<Row>, SheetError> {
    anju_sheet::open(path, limits)?.collect()
}

/// Every row of `bytes` read with the default limits.
pub fn read(bytes: &[u8]) -> Result<Vec<Row>, SheetError> {
    read_with(bytes, &Limits::default())
}

pub fn read_with(bytes: &[u8], limits: &Limits) -> Result<Vec<Row>, SheetError> {
    let file = file(bytes);
    read_path(file.path(), limits)
}

/// The rows as (number, cells) pairs, for compact assertions.
pub fn table(rows: &[Row]) -> Vec<(usize, Vec<&str>)> {
    rows.iter()
        .map(|row| (row.number, row.cells.iter().map(String::as_str).collect()))
        .collect()
}

/// A zip of `parts` (name, content), each deflated, built with the zip crate.
pub fn zip_parts(parts: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, content) in parts {
        zip.start_file(*name, options).expect("start entry");
        zip.write_all(content).expect("write entry");
    }
    zip.finish().expect("finish zip").into_inner()
}

/// A minimal xlsx: workbook, relationships and one worksheet, plus any `extra` parts.
pub fn xlsx(sheet_xml: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut parts: Vec<(&str, &[u8])> = vec![
        ("xl/workbook.xml", WORKBOOK.as_bytes()),
        ("xl/_rels/workbook.xml.rels", RELS.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet_xml.as_bytes()),
    ];
    for (name, content) in extra {
        parts.retain(|(existing, _)| existing != name);
        parts.push((name, content.as_bytes()));
    }
    zip_parts(&parts, CompressionMethod::Deflated)
}

pub const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>"#;

pub const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

/// A worksheet part around `rows` (the XML inside `<sheetData>`).
/// A workbook whose one worksheet holds `rows` (its `<row>` elements).
pub fn one_sheet(rows: &str) -> Vec<u8> {
    xlsx(&sheet(rows), &[])
}

/// The refusal of `bytes`, a workbook with a malformed worksheet: it names the worksheet's part.
pub fn refused_naming_the_sheet(bytes: &[u8]) -> SheetError {
    let err = read(bytes).unwrap_err();
    assert!(
        err.message().contains("xl/worksheets/sheet1.xml"),
        "{err:?}"
    );
    err
}

pub fn sheet(rows: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
    )
}

/// One entry of a zip written byte by byte, so its header can say what the test wants.
pub struct RawEntry<'a> {
    pub name: &'a str,
    /// The bytes as stored (already deflated when `deflated`).
    pub data: &'a [u8],
    pub deflated: bool,
    /// The uncompressed size the headers declare.
    pub declared_size: u32,
    pub crc: u32,
}

/// A zip whose local and central headers declare whatever the entries say.
pub fn raw_zip(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let method: u16 = if entry.deflated { 8 } else { 0 };
        let header = |sig: &[u8], central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(sig);
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // version made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&method.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes()); // time and date
            h.extend_from_slice(&entry.crc.to_le_bytes());
            h.extend_from_slice(&(entry.data.len() as u32).to_le_bytes());
            h.extend_from_slice(&entry.declared_size.to_le_bytes());
            h.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra length
            if central {
                h.extend_from_slice(&0u16.to_le_bytes()); // comment length
                h.extend_from_slice(&0u16.to_le_bytes()); // disk
                h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(entry.name.as_bytes());
            h
        };
        out.extend_from_slice(&header(b"PK\x03\x04", false));
        out.extend_from_slice(entry.data);
        central.extend_from_slice(&header(b"PK\x01\x02", true));
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(bytes);
    hasher.finalize()
}

pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("deflate");
    encoder.finish().expect("deflate")
}
