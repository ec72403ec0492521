//! The ledger workbook re-read with calamine: title, header block, merged header cells with the
//! circled numbers and printed formulas, figures, rates, 合计 and the signature footer.

use anju_domain::ledger::{AsOf, Form, LedgerRow, LedgerTable};
use anju_render::{Header, csv, json, xlsx};
use calamine::{Data, Reader, Xlsx};
use std::io::Cursor;

/// Two towns with hand-picked counts (附件2 column order: 总量, 经营性 已排查/初判隐患/动态销号,
/// 非经营性 已排查, ①…⑦).
fn table() -> LedgerTable {
    anju_domain::sample::ledger_table()
}

fn header() -> Header {
    Header {
        preparer: "张经办".into(),
        contact: "0537-6836811".into(),
        filled_on: "2024-06-04".into(),
    }
}

fn cell(range: &calamine::Range<Data>, r: u32, c: u32) -> Data {
    range.get_value((r, c)).cloned().unwrap_or(Data::Empty)
}

#[test]
fn the_xlsx_reads_back_as_the_printed_form() {
    let bytes = xlsx(&table(), &header()).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), vec!["附件2".to_string()]);
    let range = book.worksheet_range("附件2").unwrap();
    assert_eq!(cell(&range, 0, 0), Data::String("附件2".into()));
    assert_eq!(
        cell(&range, 1, 0),
        Data::String("嘉祥县自建房安全专项整治攻坚行动工作台账".into())
    );
    let info = cell(&range, 2, 0).to_string();
    assert!(
        info.contains("填报人：张经办") && info.contains("联系方式：0537-6836811"),
        "{info}"
    );
    assert!(
        info.contains("填报时间：2024-06-04") && info.contains("（单位：栋）"),
        "{info}"
    );
    // Header rows 3–5; merged cells hold their text in the top-left cell.
    assert_eq!(cell(&range, 3, 0), Data::String("镇街".into()));
    assert_eq!(cell(&range, 3, 1), Data::String("已排查自建房总量".into()));
    assert_eq!(cell(&range, 3, 2), Data::String("经营性自建房".into()));
    assert_eq!(cell(&range, 3, 7), Data::String("非经营性自建房".into()));
    assert_eq!(cell(&range, 4, 11), Data::String("安全鉴定".into()));
    assert_eq!(cell(&range, 5, 5), Data::String("问题确认/问题".into()));
    assert_eq!(cell(&range, 4, 8), Data::String("初判隐患数量\n①".into()));
    assert_eq!(
        cell(&range, 5, 13),
        Data::String("鉴定率\n（④/①-②-③）".into())
    );
    assert_eq!(
        cell(&range, 5, 15),
        Data::String("整治率\n（⑥+③/⑤+③）".into())
    );
    assert!(cell(&range, 5, 16).to_string().ends_with('⑦'));
    // Town 1: counts as numbers, rates as the rounded fraction, the problem figure as text.
    assert_eq!(cell(&range, 6, 0), Data::String("纸坊镇".into()));
    assert_eq!(cell(&range, 6, 1), Data::Float(63.0));
    assert_eq!(cell(&range, 6, 5), Data::String("0/0".into()));
    assert_eq!(cell(&range, 6, 6), Data::String("—".into()));
    assert_eq!(cell(&range, 6, 8), Data::Float(21.0));
    assert_eq!(cell(&range, 6, 13), Data::Float(0.4167)); // 5 / (21-2-7)
    assert_eq!(cell(&range, 6, 15), Data::Float(0.8)); // (1+7) / (3+7)
    assert_eq!(cell(&range, 6, 17), Data::Float(0.2857)); // 6/21
    // Town 2 counts nothing: every rate is a dash.
    assert_eq!(cell(&range, 7, 13), Data::String("—".into()));
    // 合计, then the footer.
    assert_eq!(cell(&range, 8, 0), Data::String("合计".into()));
    assert_eq!(cell(&range, 8, 1), Data::Float(63.0));
    assert!(
        cell(&range, 10, 0)
            .to_string()
            .starts_with("主要负责同志签字：")
    );
    assert!(cell(&range, 10, 0).to_string().contains("单位（盖章）："));

    let merged = book.merge_cells_by_sheet_name("附件2").unwrap();
    let spans: Vec<((u32, u32), (u32, u32))> = merged.iter().map(|d| (d.start, d.end)).collect();
    for expected in [
        ((1, 0), (1, 17)),  // title
        ((3, 0), (5, 0)),   // 镇街
        ((3, 1), (5, 1)),   // 已排查自建房总量
        ((3, 2), (3, 6)),   // 经营性自建房
        ((4, 3), (4, 4)),   // 整治销号
        ((3, 7), (3, 17)),  // 非经营性自建房
        ((4, 11), (4, 13)), // 安全鉴定
        ((4, 16), (4, 17)), // 整治销号
    ] {
        assert!(
            spans.contains(&expected),
            "{expected:?} not merged in {spans:?}"
        );
    }
}

#[test]
fn attachment_1_has_its_own_two_row_header() {
    let t = LedgerTable::build(
        Form::Attachment1,
        "纸坊镇",
        AsOf::Now,
        vec![LedgerRow {
            code: "370829101201".into(),
            name: "示例村".into(),
            counts: vec![14, 8, 7, 5, 4, 6, 3, 2, 1],
            online_confirmed: 0,
            online_total: 0,
        }],
    );
    let bytes = xlsx(&t, &header()).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("附件1").unwrap();
    assert_eq!(
        cell(&range, 1, 0),
        Data::String("纸坊镇前期采取管理措施销号的自建房复核台账".into())
    );
    assert_eq!(cell(&range, 3, 0), Data::String("村（社区）".into()));
    assert_eq!(
        cell(&range, 4, 3),
        Data::String("经专业技术人员现场复核数量".into())
    );
    assert_eq!(cell(&range, 5, 1), Data::Float(14.0));
    assert_eq!(cell(&range, 5, 9), Data::Float(1.0));
    assert_eq!(cell(&range, 6, 0), Data::String("合计".into()));
}

#[test]
fn csv_has_a_bom_and_json_has_null_rates() {
    let t = table();
    let text = String::from_utf8(csv(&t)).unwrap();
    assert!(text.starts_with('\u{feff}'));
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("镇街,已排查自建房总量,"));
    assert_eq!(
        lines[1],
        "纸坊镇,63,22,17,9,0/0,—,41,21,2,7,5,3,41.67%,1,80.00%,6,28.57%"
    );
    let j = json(&t, &header());
    assert_eq!(j["rows"][0]["values"][12], serde_json::json!(41.67));
    assert_eq!(j["rows"][0]["values"][5], serde_json::Value::Null);
    assert_eq!(j["rows"][1]["values"][12], serde_json::Value::Null);
    assert_eq!(j["columns"].as_array().unwrap().len(), 18);
}

#[test]
fn text_that_looks_like_a_formula_is_neutralised() {
    assert_eq!(anju_render::neutralise("=1+1"), "'=1+1");
    assert_eq!(anju_render::neutralise("纸坊镇"), "纸坊镇");
}
