//! Reading xlsx files: what Excel-like writers produce comes back as the user typed it, and
//! broken or oversized sheets are refused with a message naming the row or the part.

use crate::common;

use std::io::Read;

use anju_sheet::{Format, Limits};
use common::{one_sheet, read, read_with, refused_naming_the_sheet, sheet, table, xlsx};
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Formula, Workbook};

#[test]
fn a_ledger_written_by_rust_xlsxwriter_reads_back_exactly() {
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    let date = CellFormat::new().set_num_format("yyyy-mm-dd");
    let builtin_date = CellFormat::new().set_num_format_index(14);
    let date_time = CellFormat::new().set_num_format("yyyy-mm-dd hh:mm");
    let headers = [
        "户主姓名",
        "身份证号",
        "建筑面积",
        "层数",
        "排查日期",
        "空列",
        "备注",
        "是否危房",
        "复核",
    ];
    ws.write_row(0, 0, headers).unwrap();
    ws.write_string(1, 0, "张三").unwrap();
    ws.write_string(1, 1, "110101199001011234").unwrap();
    ws.write_number(1, 2, 245.5).unwrap();
    ws.write_number(1, 3, 3).unwrap();
    let day = ExcelDateTime::from_ymd(2024, 5, 1).unwrap();
    ws.write_datetime_with_format(1, 4, &day, &date).unwrap();
    // Column 5 stays empty: a gap inside the row.
    ws.write_string(1, 6, "=SUM(A1:A9)").unwrap();
    ws.write_boolean(1, 7, true).unwrap();
    ws.write_formula(1, 8, Formula::new("=C2*2").set_result("491"))
        .unwrap();
    // Row 3 (index 2) is left out entirely.
    ws.write_string(3, 0, "  李四 & <王五>  ").unwrap();
    ws.write_string(3, 1, "第一行\n第二行").unwrap();
    ws.write_number(3, 2, 0.1 + 0.2).unwrap();
    ws.write_number(3, 3, -12_345_678_901.0).unwrap();
    let noon = ExcelDateTime::from_ymd(2023, 12, 31)
        .unwrap()
        .and_hms(12, 30, 0)
        .unwrap();
    ws.write_datetime_with_format(3, 4, &noon, &date_time)
        .unwrap();
    let leap = ExcelDateTime::from_ymd(2024, 2, 29).unwrap();
    ws.write_datetime_with_format(3, 6, &leap, &builtin_date)
        .unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    let rows = read(&bytes).unwrap();

    assert_eq!(
        table(&rows),
        vec![
            (1, headers.to_vec()),
            (
                2,
                vec![
                    "张三",
                    "110101199001011234",
                    "245.5",
                    "3",
                    "2024-05-01",
                    "",
                    "=SUM(A1:A9)",
                    "TRUE",
                    "491",
                ]
            ),
            (
                4,
                vec![
                    "  李四 & <王五>  ",
                    "第一行\n第二行",
                    "0.3",
                    "-12345678901",
                    "2023-12-31 12:30:00",
                    "",
                    "2024-02-29",
                ]
            ),
        ]
    );
    assert_eq!(rows[1].cell(5), "");
    assert_eq!(rows[1].cell(99), "");
}

#[test]
fn shared_strings_and_inline_strings_read_the_same() {
    let write = |constant_memory: bool| {
        let mut workbook = Workbook::new();
        let ws = if constant_memory {
            workbook.add_worksheet_with_constant_memory().unwrap()
        } else {
            workbook.add_worksheet()
        };
        ws.write_string(0, 0, "村名").unwrap();
        ws.write_string(0, 1, "户主").unwrap();
        ws.write_string(1, 0, "东湖村").unwrap();
        ws.write_string(1, 1, "赵六").unwrap();
        ws.write_string(2, 0, "东湖村").unwrap();
        workbook.save_to_buffer().unwrap()
    };
    let shared = write(false);
    let inline = write(true);
    assert!(sheet_xml(&shared).contains(r#"t="s""#));
    assert!(sheet_xml(&inline).contains(r#"t="inlineStr""#));

    let expected = vec![
        (1, vec!["村名", "户主"]),
        (2, vec!["东湖村", "赵六"]),
        (3, vec!["东湖村"]),
    ];
    assert_eq!(table(&read(&shared).unwrap()), expected);
    assert_eq!(table(&read(&inline).unwrap()), expected);
}

/// The worksheet XML of an xlsx file, to check what a fixture really contains.
fn sheet_xml(xlsx: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

#[test]
fn hand_written_parts_cover_rich_text_types_gaps_and_the_1904_system() {
    let shared = r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3">
        <si><t>张三</t></si>
        <si><r><rPr><b/></rPr><t>东湖</t></r><r><t xml:space="preserve">村 </t></r><rPh sb="0" eb="1"><t>とう</t></rPh></si>
        <si><t>回车_x000D_换行</t></si></sst>"#;
    let styles = r#"<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
        <numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/></numFmts>
        <cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>
        <cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="2"/><xf numFmtId="20"/></cellXfs></styleSheet>"#;
    let workbook = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:rel="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
        <workbookPr date1904="1"/><sheets><sheet name="台账" sheetId="1" rel:id="rId1"/></sheets></workbook>"#;
    let rows = sheet(
        r#"<row r="2"><c r="A2" t="s"><v>0</v></c><c r="C2" t="s"><v>1</v></c><c r="E2" t="s"><v>2</v></c></row>
        <row r="5" spans="1:6"><c r="A5" t="inlineStr"><is><r><t>内联</t></r><r><t>富文本</t></r></is></c><c r="B5" s="1"><v>43830</v></c><c r="C5" s="2"><v>1234.5</v></c><c r="D5" s="3"><v>0.75</v></c><c r="E5" t="e"><v>#DIV/0!</v></c><c r="F5" t="str"><f>A5&amp;"!"</f><v>内联富文本!</v></c></row>
        <row><c><v>1</v></c><c t="b"><v>0</v></c><c/><c t="inlineStr"><is><t>&#x4E03;&amp;&lt;&gt;&quot;&apos;</t></is></c></row>
        <row r="8"><c r="A8" s="1"/><c r="B8"><v> </v></c></row>
        <row r="9"/>"#,
    );
    let bytes = xlsx(
        &rows,
        &[
            ("xl/sharedStrings.xml", shared),
            ("xl/styles.xml", styles),
            ("xl/workbook.xml", workbook),
        ],
    );

    let rows = read(&bytes).unwrap();

    assert_eq!(
        table(&rows),
        vec![
            (2, vec!["张三", "", "东湖村 ", "", "回车\r换行"]),
            (
                5,
                vec![
                    "内联富文本",
                    "2024-01-01",
                    "1234.5",
                    "18:00:00",
                    "#DIV/0!",
                    "内联富文本!"
                ]
            ),
            (6, vec!["1", "FALSE", "", "七&<>\"'"]),
        ]
    );
}

#[test]
fn a_workbook_without_workbook_parts_falls_back_to_sheet1() {
    let bytes = common::zip_parts(
        &[(
            "xl/worksheets/sheet1.xml",
            sheet(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>只有工作表</t></is></c></row>"#)
                .as_bytes(),
        )],
        zip::CompressionMethod::Stored,
    );
    let rows = anju_sheet::open(common::file(&bytes).path(), &Limits::default()).unwrap();
    assert_eq!(rows.format(), Format::Xlsx);
    assert_eq!(
        table(&rows.collect::<Result<Vec<_>, _>>().unwrap()),
        vec![(1, vec!["只有工作表"])]
    );
}

#[test]
fn malformed_worksheet_xml_is_an_error_naming_the_part_not_a_panic() {
    let broken = [
        sheet(r#"<row r="1"><c r="A1"><v>1</v></row>"#),
        sheet(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>&bogus;</t></is></c></row>"#),
        sheet(r#"<row r="x"><c r="A1"><v>1</v></c></row>"#),
        sheet(r#"<row r="1"><c r="11"><v>1</v></c></row>"#),
        sheet(r#"<c r="A1"><v>1</v></c>"#),
        sheet(r#"<row r="1"><c r="A1" t="s"><v>7</v></c></row>"#),
        r#"<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row>"#.to_owned(),
        "<worksheet><sheetData".to_owned(),
        "not xml at all".to_owned(),
        String::new(),
    ];
    for xml in &broken {
        let err = read(&xlsx(xml, &[])).expect_err(xml);
        assert!(
            err.message().contains("xl/worksheets/sheet1.xml"),
            "{xml}: {err:?}"
        );
    }
}

#[test]
fn malformed_shared_strings_are_an_error_naming_the_part() {
    let bytes = xlsx(
        &sheet(r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#),
        &[("xl/sharedStrings.xml", "<sst><si><t>未闭合</si></sst>")],
    );
    let err = read(&bytes).unwrap_err();
    assert!(err.message().contains("xl/sharedStrings.xml"), "{err:?}");
}

#[test]
fn a_row_past_the_column_limit_is_refused_naming_the_row() {
    let write = |columns: u16| {
        let mut workbook = Workbook::new();
        let ws = workbook.add_worksheet();
        ws.write_string(0, 0, "表头").unwrap();
        for col in 0..columns {
            ws.write_number(2, col, f64::from(col)).unwrap();
        }
        workbook.save_to_buffer().unwrap()
    };

    let rows = read(&write(200)).unwrap();
    assert_eq!(rows[1].cells.len(), 200);

    let err = read(&write(201)).unwrap_err();
    assert_eq!(
        err.message(),
        "第 3 行超过 200 列，请删除多余的列后重新上传"
    );
}

#[test]
fn a_far_away_cell_reference_is_refused_before_padding_the_row() {
    let bytes = one_sheet(r#"<row r="4"><c r="XFD4"><v>1</v></c></row>"#);
    let err = read(&bytes).unwrap_err();
    assert!(err.message().starts_with("第 4 行超过 200 列"), "{err:?}");
}

#[test]
fn a_cell_past_the_character_limit_is_refused_naming_row_and_column() {
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    ws.write_string(0, 0, "备注").unwrap();
    ws.write_string(6, 2, "危".repeat(2001)).unwrap();
    let err = read(&workbook.save_to_buffer().unwrap()).unwrap_err();
    assert_eq!(
        err.message(),
        "第 7 行 C 列的内容超过 2000 个字符，请精简后重新上传"
    );
}

#[test]
fn rows_past_the_row_limit_are_refused_naming_the_row() {
    let limits = Limits {
        max_rows: 2,
        ..Limits::default()
    };
    let bytes = one_sheet(
        r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="2"/><row r="3"><c r="A3"><v>2</v></c></row><row r="9"><c r="A9"><v>3</v></c></row>"#,
    );
    let mut rows = anju_sheet::open(common::file(&bytes).path(), &limits).unwrap();
    assert_eq!(rows.next().unwrap().unwrap().number, 1);
    assert_eq!(rows.next().unwrap().unwrap().number, 3);
    let err = rows.next().unwrap().unwrap_err();
    assert!(
        err.message().starts_with("第 9 行：数据超过 2 行的上限"),
        "{err:?}"
    );
    assert!(rows.next().is_none(), "the iterator ends after an error");
}

#[test]
fn a_huge_text_node_is_refused_without_buffering_it() {
    let huge = "字".repeat(1 << 20);
    let bytes = one_sheet(&format!(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>{huge}</t></is></c></row>"#
    ));
    refused_naming_the_sheet(&bytes);
}

#[test]
fn legacy_xls_and_encrypted_workbooks_are_recognised() {
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend_from_slice(&[0; 504]);
    let err = read(&ole).unwrap_err();
    assert!(err.message().contains("旧版 Excel（xls）"), "{err:?}");
}

#[test]
fn a_zip_without_a_worksheet_is_refused() {
    let bytes = common::zip_parts(
        &[("word/document.xml", b"<w/>")],
        zip::CompressionMethod::Deflated,
    );
    let err = read(&bytes).unwrap_err();
    assert_eq!(
        err.message(),
        "Excel 文件中没有找到工作表，请检查后重新上传"
    );
}

#[test]
fn an_oversized_file_is_refused_before_reading() {
    let limits = Limits {
        max_file_bytes: 10,
        ..Limits::default()
    };
    let err = read_with(b"a,b,c\n1,2,3\n", &limits).unwrap_err();
    assert!(err.message().starts_with("文件超过"), "{err:?}");
    let err = read(b"").unwrap_err();
    assert_eq!(err.message(), "文件是空的，请检查后重新上传");
}

#[test]
fn rows_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<anju_sheet::Rows>();
}

#[test]
fn a_tag_with_a_hundred_thousand_attributes_costs_linear_time() {
    let attributes: String = (0..100_000).map(|i| format!(" a{i}=\"\"")).collect();
    let bytes = one_sheet(&format!(
        r#"<row r="1"><c r="A1"{attributes}><v>1</v></c></row>"#
    ));
    let started = std::time::Instant::now();
    let rows = read(&bytes).unwrap();
    assert_eq!(table(&rows), vec![(1, vec!["1"])]);
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

#[test]
fn deeply_nested_elements_are_refused_before_the_parser_stack_grows() {
    let depth = 100_000;
    let nested = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let bytes = one_sheet(&format!(r#"<row r="1">{nested}</row>"#));
    let err = refused_naming_the_sheet(&bytes);
    assert!(err.detail().contains("nest deeper"), "{err:?}");
}
