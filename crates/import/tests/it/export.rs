//! The national five-block export: masked personal data unless revealed, formula injection
//! neutralised in xlsx and CSV (and read back as typed by the importer), columns in the
//! template's order.

use anju_domain::codes::RegionCode;
use anju_domain::dict::UsageCategory;
use anju_domain::import::unprotect;
use anju_domain::state::HouseState;
use anju_domain::{HouseCode, sample};
use anju_import::export::{csv, headers, row, xlsx};

fn house() -> (HouseState, anju_domain::house::People) {
    let mut record = sample::record(
        RegionCode::parse("370829101201").unwrap(),
        UsageCategory::Other,
    );
    record.address = "=HYPERLINK(\"http://x\",\"点我\")".into();
    record.door_no = Some("-1号".into());
    let mut state = HouseState::new(HouseCode::new(&RegionCode::parse("370829").unwrap(), 1));
    state.record = Some(record);
    (state, sample::people())
}

#[test]
fn personal_data_is_masked_unless_revealed() {
    let (state, people) = house();
    let h = headers();
    let id = h
        .iter()
        .position(|x| *x == "身份证号/统一社会信用代码")
        .unwrap();
    let phone = h.iter().position(|x| *x == "产权人联系电话").unwrap();
    let masked = row(&state, &people, &[], false);
    assert_eq!(masked.len(), h.len());
    assert!(
        masked[id].contains('*') && !masked[id].contains("196504"),
        "{}",
        masked[id]
    );
    assert_eq!(masked[phone], "138****1234");
    let full = row(&state, &people, &[], true);
    assert_eq!(full[id], "370829196504123010");
    assert_eq!(full[phone], "13805371234");
}

#[test]
fn formulas_are_neutralised_and_read_back_as_typed() {
    let (state, people) = house();
    let r = row(&state, &people, &[], false);
    let address = headers().iter().position(|x| *x == "房屋地址").unwrap();
    let text = String::from_utf8(csv(std::slice::from_ref(&r))).unwrap();
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"点我\"\")\""),
        "{text}"
    );
    assert!(text.contains(",'-1号,"), "{text}");
    let bytes = xlsx(std::slice::from_ref(&r)).unwrap();
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range("自建房信息").unwrap();
    assert_eq!(range.get_value((0, 0)).unwrap().to_string(), "房屋基本情况");
    assert_eq!(range.get_value((1, 0)).unwrap().to_string(), headers()[0]);
    let cell = range.get_value((2, address as u32)).unwrap().to_string();
    assert_eq!(
        cell, "'=HYPERLINK(\"http://x\",\"点我\")",
        "a text cell, not a formula"
    );
    assert_eq!(unprotect(&cell), r[address]);
    assert_eq!(
        unprotect("'x"),
        "'x",
        "only a protected formula start is unwrapped"
    );
}
