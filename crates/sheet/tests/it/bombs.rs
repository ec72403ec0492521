//! Zip bombs and lying archives: refused from the central directory before inflating when the
//! declaration gives them away, and while inflating when it lies.

use crate::common;

use std::io::Write;
use std::time::{Duration, Instant};

use anju_sheet::Limits;
use common::{RawEntry, crc32, deflate, file, raw_zip, read, read_path, read_with, sheet};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const SHEET: &str = "xl/worksheets/sheet1.xml";

#[test]
fn a_worksheet_declaring_3_gib_is_refused_before_inflating() {
    let data = deflate(sheet("").as_bytes());
    let bytes = raw_zip(&[RawEntry {
        name: SHEET,
        data: &data,
        deflated: true,
        declared_size: 3 << 30,
        crc: 0,
    }]);

    let err = read(&bytes).unwrap_err();

    assert_eq!(
        err.message(),
        "压缩包中 xl/worksheets/sheet1.xml 解压后超过 2048 MB，疑似压缩炸弹，已拒绝"
    );
}

#[test]
fn a_300_mb_worksheet_of_spaces_is_refused_by_its_compression_ratio() {
    let bomb = tempfile::NamedTempFile::new().unwrap();
    let mut zip = ZipWriter::new(bomb.reopen().unwrap());
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(false);
    zip.start_file(SHEET, options).unwrap();
    zip.write_all(b"<worksheet><sheetData>").unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..300 {
        zip.write_all(&spaces).unwrap();
    }
    zip.write_all(b"</sheetData></worksheet>").unwrap();
    zip.finish().unwrap();
    let size = bomb.as_file().metadata().unwrap().len();
    assert!(size < 2 << 20, "the bomb is small on disk: {size} bytes");

    let started = Instant::now();
    let err = read_path(bomb.path(), &Limits::default()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused without inflating"
    );
    assert!(
        err.message()
            .starts_with("压缩包中 xl/worksheets/sheet1.xml 的压缩比高达"),
        "{err:?}"
    );
    assert!(err.message().contains("疑似压缩炸弹"), "{err:?}");

    // With the ratio check off, the declared size still gives it away.
    let limits = Limits {
        max_ratio: u64::MAX,
        max_entry_uncompressed: 100 << 20,
        ..Limits::default()
    };
    let err = read_path(bomb.path(), &limits).unwrap_err();
    assert_eq!(
        err.message(),
        "压缩包中 xl/worksheets/sheet1.xml 解压后超过 100 MB，疑似压缩炸弹，已拒绝"
    );

    // With both off, the text node of 300 MB of spaces outgrows the parser's budget.
    let limits = Limits {
        max_ratio: u64::MAX,
        ..Limits::default()
    };
    let err = read_path(bomb.path(), &limits).unwrap_err();
    assert!(err.message().contains("超长的内容"), "{err:?}");
}

#[test]
fn a_worksheet_that_inflates_past_its_declared_size_is_refused_while_inflating() {
    let rows = r#"<row><c t="inlineStr"><is><t>张三</t></is></c></row>"#.repeat(400_000);
    let xml = sheet(&rows);
    assert!(xml.len() > 20 << 20);
    let data = deflate(xml.as_bytes());
    let bytes = raw_zip(&[RawEntry {
        name: SHEET,
        data: &data,
        deflated: true,
        declared_size: 1000,
        crc: crc32(xml.as_bytes()),
    }]);

    let file = file(&bytes);
    let mut rows = anju_sheet::open(file.path(), &Limits::default()).unwrap();
    let read_before_refusal = rows.by_ref().take_while(Result::is_ok).count();

    assert!(read_before_refusal < 100, "{read_before_refusal} rows");
    let err = read_path(file.path(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.message(),
        "压缩包中 xl/worksheets/sheet1.xml 解压后的大小超过了文件自己声明的大小，疑似压缩炸弹或被篡改，已拒绝"
    );
}

#[test]
fn shared_strings_that_inflate_past_their_declared_size_are_refused() {
    let worksheet = sheet(r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#);
    let shared = format!("<sst>{}</sst>", "<si><t>东湖村</t></si>".repeat(100_000));
    let (sheet_data, shared_data) = (deflate(worksheet.as_bytes()), deflate(shared.as_bytes()));
    let bytes = raw_zip(&[
        RawEntry {
            name: SHEET,
            data: &sheet_data,
            deflated: true,
            declared_size: worksheet.len() as u32,
            crc: crc32(worksheet.as_bytes()),
        },
        RawEntry {
            name: "xl/sharedStrings.xml",
            data: &shared_data,
            deflated: true,
            declared_size: 64,
            crc: crc32(shared.as_bytes()),
        },
    ]);

    let err = read(&bytes).unwrap_err();

    assert!(
        err.message()
            .starts_with("压缩包中 xl/sharedStrings.xml 解压后的大小超过"),
        "{err:?}"
    );
}

#[test]
fn shared_strings_over_their_limit_are_refused_before_inflating() {
    let limits = Limits {
        max_shared_strings_bytes: 1000,
        ..Limits::default()
    };
    let shared = format!("<sst>{}</sst>", "<si><t>东湖村</t></si>".repeat(100));
    let bytes = common::xlsx(
        &sheet(r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#),
        &[("xl/sharedStrings.xml", &shared)],
    );
    let err = read_with(&bytes, &limits).unwrap_err();
    assert_eq!(
        err.message(),
        "压缩包中 xl/sharedStrings.xml 解压后超过 1 KB，疑似压缩炸弹，已拒绝"
    );
}

#[test]
fn a_zip_of_too_many_entries_is_refused() {
    let names: Vec<String> = (0..1001).map(|i| format!("xl/media/{i}.bin")).collect();
    let parts: Vec<(&str, &[u8])> = names.iter().map(|name| (name.as_str(), &b""[..])).collect();
    let bytes = common::zip_parts(&parts, CompressionMethod::Stored);

    let err = read(&bytes).unwrap_err();

    assert_eq!(
        err.message(),
        "压缩包内文件过多（1001 个，上限 1000 个），不是正常的 Excel 文件，已拒绝"
    );
}

#[test]
fn an_end_record_declaring_too_many_entries_is_refused_before_indexing() {
    let mut bytes = common::xlsx(&sheet(""), &[]);
    // The entry counts of the end-of-central-directory record, 22 bytes from the end.
    let end = bytes.len() - 22;
    assert_eq!(&bytes[end..end + 4], b"PK\x05\x06");
    bytes[end + 8..end + 10].copy_from_slice(&60_000u16.to_le_bytes());
    bytes[end + 10..end + 12].copy_from_slice(&60_000u16.to_le_bytes());

    let err = read(&bytes).unwrap_err();

    assert!(
        err.message().starts_with("压缩包内文件过多（60000 个"),
        "{err:?}"
    );
}

#[test]
fn encrypted_or_exotically_compressed_entries_are_refused() {
    let xml = sheet("");
    let bytes = raw_zip(&[RawEntry {
        name: SHEET,
        data: xml.as_bytes(),
        deflated: false,
        declared_size: xml.len() as u32,
        crc: crc32(xml.as_bytes()),
    }]);
    // Stored is fine...
    assert!(read(&bytes).unwrap().is_empty());
    // ...but the same entry marked as compressed with method 14 (LZMA) is not read.
    let mut lzma = bytes.clone();
    lzma[8..10].copy_from_slice(&14u16.to_le_bytes());
    let central = lzma.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    lzma[central + 10..central + 12].copy_from_slice(&14u16.to_le_bytes());
    let err = read(&lzma).unwrap_err();
    assert!(err.message().contains("不支持的压缩方式"), "{err:?}");
}
