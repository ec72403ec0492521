//! No input makes the reader panic: random bytes, valid files with bytes flipped or cut off,
//! and workbooks whose XML parts were mutated before zipping (so the parsers, not just the
//! zip layer, see the damage). Each case opens the file and iterates every row.

use crate::common;

use std::sync::LazyLock;

use anju_sheet::Limits;
use proptest::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use zip::CompressionMethod;

/// Small limits, so that the limit paths are reached too.
fn limits() -> Limits {
    Limits {
        max_file_bytes: 1 << 20,
        max_rows: 50,
        max_columns: 20,
        max_cell_chars: 40,
        max_entry_uncompressed: 256 << 10,
        max_ratio: 50,
        max_entries: 30,
        max_shared_strings_bytes: 64 << 10,
    }
}

/// Opens and reads every row; only a panic fails.
fn exercise(bytes: &[u8]) {
    let file = common::file(bytes);
    if let Ok(rows) = anju_sheet::open(file.path(), &limits()) {
        for row in rows.take(10_000) {
            if row.is_err() {
                break;
            }
        }
    }
}

static XLSX: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    ws.write_string(0, 0, "户主").unwrap();
    ws.write_string(0, 1, "面积").unwrap();
    ws.write_string(0, 2, "日期").unwrap();
    for row in 1..6 {
        ws.write_string(row, 0, format!("张{row}")).unwrap();
        ws.write_number(row, 1, f64::from(row) * 10.5).unwrap();
        let day = ExcelDateTime::from_ymd(2024, 5, row as u8).unwrap();
        ws.write_datetime_with_format(row, 2, &day, &date).unwrap();
    }
    workbook.save_to_buffer().unwrap()
});

/// The parts of [`XLSX`] as (name, content), to mutate and zip again.
static PARTS: LazyLock<Vec<(String, Vec<u8>)>> = LazyLock::new(|| {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(XLSX.as_slice())).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (entry.name().unwrap().into_owned(), content)
        })
        .collect()
});

const CSV: &[u8] =
    "\u{feff}户主,面积,备注\r\n张三,245.5,\"东湖村, 3 组\"\r\n李四,88,\"两\n行\"\r\n".as_bytes();

/// A damage to apply to a file: flip bits, overwrite, insert, delete, truncate.
#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, bits)| Damage::Flip(at, bits)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Damage::Set(at, byte)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Damage::Insert(at, bytes)),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Damage::Delete(at, len)),
        any::<usize>().prop_map(Damage::Truncate),
    ]
}

/// Insertions of text that XML parsers and number readers find interesting.
fn xml_damage() -> impl Strategy<Value = Damage> {
    let snippets = prop::sample::select(vec![
        "<",
        ">",
        "</c>",
        "<row>",
        "</row>",
        "&amp;",
        "&#0;",
        "&#xFFFFFFFF;",
        "&bogus;",
        "<![CDATA[x]]>",
        "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
        " r=\"XFD1\"",
        " r=\"0\"",
        " t=\"s\"",
        " s=\"99999\"",
        "<v>1e308</v>",
        "<v>-1</v>",
        "<v>99999999999</v>",
        "_x0000_",
        "\u{0}",
        "\"",
        "<is><t>",
        "<rPh>",
    ]);
    prop_oneof![
        damage(),
        (any::<usize>(), snippets).prop_map(|(at, text)| Damage::Insert(at, text.into())),
    ]
}

fn apply(mut bytes: Vec<u8>, damages: &[Damage]) -> Vec<u8> {
    for damage in damages {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match damage {
            Damage::Flip(at, bits) => bytes[at % len] ^= bits,
            Damage::Set(at, byte) => bytes[at % len] = *byte,
            Damage::Insert(at, more) => {
                let at = at % (len + 1);
                bytes.splice(at..at, more.iter().copied());
            }
            Damage::Delete(at, n) => {
                let at = at % len;
                bytes.drain(at..(at + n).min(len));
            }
            Damage::Truncate(at) => bytes.truncate(at % len),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn damaged_xlsx_files_never_panic(damages in prop::collection::vec(damage(), 1..6)) {
        exercise(&apply(XLSX.clone(), &damages));
    }

    #[test]
    fn xlsx_files_with_damaged_xml_never_panic(
        part in 0usize..32,
        damages in prop::collection::vec(xml_damage(), 1..8),
        deflated in any::<bool>(),
    ) {
        let xml_parts: Vec<usize> = PARTS
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| name.starts_with("xl/"))
            .map(|(i, _)| i)
            .collect();
        let target = xml_parts[part % xml_parts.len()];
        let parts: Vec<(String, Vec<u8>)> = PARTS
            .iter()
            .enumerate()
            .map(|(i, (name, content))| {
                let content = if i == target { apply(content.clone(), &damages) } else { content.clone() };
                (name.clone(), content)
            })
            .collect();
        let borrowed: Vec<(&str, &[u8])> =
            parts.iter().map(|(name, content)| (name.as_str(), content.as_slice())).collect();
        let method = if deflated { CompressionMethod::Deflated } else { CompressionMethod::Stored };
        exercise(&common::zip_parts(&borrowed, method));
    }

    #[test]
    fn damaged_csv_files_never_panic(damages in prop::collection::vec(damage(), 1..6)) {
        exercise(&apply(CSV.to_vec(), &damages));
    }
}
