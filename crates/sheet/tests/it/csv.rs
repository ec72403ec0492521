//! Reading CSV files: UTF-8 with or without a BOM, GBK (GB18030) as Excel saves it on a Chinese
//! Windows, quoted fields, row numbers as Excel shows them, and a clear refusal of anything else.

use crate::common;

use anju_sheet::{Format, Limits};
use common::{read, read_with, table};

#[test]
fn a_utf8_csv_with_bom_chinese_and_quoted_commas_and_newlines_reads_back() {
    let csv = "\u{feff}户主姓名,地址,备注\r\n\
               张三,\"东湖村, 3 组\",\"第一行\n第二行\"\r\n\
               李四,\"引号\"\"内\"\"\",\r\n";

    let file = common::file(csv.as_bytes());
    let rows = anju_sheet::open(file.path(), &Limits::default()).unwrap();
    assert_eq!(rows.format(), Format::Csv);
    let rows: Vec<_> = rows.collect::<Result<_, _>>().unwrap();

    assert_eq!(
        table(&rows),
        vec![
            (1, vec!["户主姓名", "地址", "备注"]),
            (2, vec!["张三", "东湖村, 3 组", "第一行\n第二行"]),
            (3, vec!["李四", "引号\"内\"", ""]),
        ]
    );
}

#[test]
fn a_csv_without_bom_reads_the_same() {
    let rows = read("村名,户数\n东湖村,12\n".as_bytes()).unwrap();
    assert_eq!(
        table(&rows),
        vec![(1, vec!["村名", "户数"]), (2, vec!["东湖村", "12"])]
    );
}

#[test]
fn row_numbers_count_blank_lines_but_not_line_breaks_inside_quotes() {
    let csv = "表头\n\"跨\n两行\"\n\n,,\n末行\n";
    let rows = read(csv.as_bytes()).unwrap();
    assert_eq!(
        table(&rows),
        vec![(1, vec!["表头"]), (2, vec!["跨\n两行"]), (5, vec!["末行"])]
    );
    let numbers = |csv: &str| -> Vec<usize> {
        read(csv.as_bytes())
            .unwrap()
            .iter()
            .map(|row| row.number)
            .collect()
    };
    assert_eq!(
        numbers("a\r\n\r\nb\r\n\"x\r\ny\"\r\nc\r\n"),
        vec![1, 3, 4, 5]
    );
    assert_eq!(numbers("a\n\nb"), vec![1, 3]);
    assert_eq!(numbers("a\r\n\r\nb"), vec![1, 3]);
    assert_eq!(numbers("a\rb\rc"), vec![1, 2, 3]);
}

#[test]
fn a_gbk_csv_reads_as_the_same_text() {
    // "户主姓名,地址\r\n张三,东湖村" in GBK, as Excel's plain "CSV" saves it.
    let gbk = b"\xbb\xa7\xd6\xf7\xd0\xd5\xc3\xfb,\xb5\xd8\xd6\xb7\r\n\xd5\xc5\xc8\xfd,\xb6\xab\xba\xfe\xb4\xe5\r\n";
    let file = common::file(gbk);
    let rows = anju_sheet::open(file.path(), &Limits::default()).unwrap();
    assert_eq!(rows.encoding(), Some(anju_sheet::Encoding::Gb18030));
    let rows: Vec<_> = rows.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        table(&rows),
        vec![(1, vec!["户主姓名", "地址"]), (2, vec!["张三", "东湖村"])]
    );
    let utf8 = common::file("户主姓名\n".as_bytes());
    let rows = anju_sheet::open(utf8.path(), &Limits::default()).unwrap();
    assert_eq!(rows.encoding(), Some(anju_sheet::Encoding::Utf8));
}

#[test]
fn a_long_gbk_csv_streams_with_characters_cut_across_reads() {
    // Odd-length ASCII prefixes put two-byte characters across every read boundary.
    let mut text = String::from("编号,名称,备注\r\n");
    let mut expected = vec![(
        1usize,
        vec!["编号".to_string(), "名称".into(), "备注".into()],
    )];
    for i in 0..20_000usize {
        let name = format!("{}号楼东湖村三组", "x".repeat(i % 7));
        text.push_str(&format!("{i},{name},\"引号\"\"内\"\"，换\n行\"\r\n"));
        expected.push((
            i + 2,
            vec![i.to_string(), name, "引号\"内\"，换\n行".into()],
        ));
    }
    let (gbk, _, lossy) = encoding_rs::GB18030.encode(&text);
    assert!(!lossy);
    assert!(gbk.len() > 16 << 10);
    let rows = read(&gbk).unwrap();
    let got: Vec<(usize, Vec<String>)> = rows.into_iter().map(|r| (r.number, r.cells)).collect();
    assert_eq!(got, expected);
}

/// `rows` (10,000 of them, past the encoding sniffer's sample) and then `bad_row` are refused
/// from row 10001 on, with a message that says `says`.
fn assert_bad_row_after_10000(mut rows: Vec<u8>, bad_row: &[u8], says: &str) {
    rows.extend_from_slice(bad_row);
    let err = read(&rows).unwrap_err();
    assert!(err.message().contains("第 10001 行起"), "{err:?}");
    assert!(err.message().contains(says), "{err:?}");
}

#[test]
fn a_gbk_csv_with_bytes_that_are_not_gbk_is_refused_naming_the_row() {
    let gbk = encoding_rs::GB18030.encode("编号,名称\n").0.repeat(10_000);
    assert_bad_row_after_10000(gbk, b"1,\xb6\xab\xff\n", "也不是 GBK");
}

#[test]
fn a_gbk_row_after_the_first_sample_is_refused_naming_its_row() {
    let utf8 = "编号,名称\n".repeat(10_000).into_bytes();
    assert_bad_row_after_10000(utf8, b"1,\xb6\xab\xba\xfe\n", "CSV UTF-8");
}

#[test]
fn binary_files_and_utf16_text_are_refused() {
    let err = read(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe").unwrap_err();
    assert!(err.message().starts_with("文件不是有效的"), "{err:?}");
    let err = read(b"\xff\xfea\0,\0b\0").unwrap_err();
    assert!(err.message().contains("UTF-8"), "{err:?}");
}

#[test]
fn too_many_columns_or_too_long_a_field_is_refused_naming_the_row() {
    let mut csv = String::from("a\n");
    csv.push_str(&vec!["x"; 201].join(","));
    let err = read(csv.as_bytes()).unwrap_err();
    assert_eq!(
        err.message(),
        "第 2 行超过 200 列，请删除多余的列后重新上传"
    );

    let csv = format!("a,b\n1,{}\n", "长".repeat(2001));
    let err = read(csv.as_bytes()).unwrap_err();
    assert_eq!(
        err.message(),
        "第 2 行 B 列的内容超过 2000 个字符，请精简后重新上传"
    );
}

#[test]
fn an_unclosed_quote_is_refused_once_the_record_outgrows_its_budget() {
    let limits = Limits {
        max_columns: 5,
        max_cell_chars: 100,
        ..Limits::default()
    };
    let mut csv = String::from("a,b\n1,\"never closed\n");
    csv.push_str(&"filler line\n".repeat(100_000));
    let err = read_with(csv.as_bytes(), &limits).unwrap_err();
    assert!(err.message().starts_with("第 2 行的内容过长"), "{err:?}");
}
