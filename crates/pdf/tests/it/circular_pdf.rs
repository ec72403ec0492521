//! The circular (通报) PDF, re-read with poppler's `pdftotext`: title, table headings and rows,
//! notes and the issuing line are there in Chinese; text that looks like typst markup is printed
//! as typed, never interpreted.

use crate::common::{Pdf, fonts};
use anju_pdf::{Circular, circular};

#[test]
fn a_circular_reads_back_with_its_rows_in_order() {
    let doc = Circular {
        title: "自建房安全专项整治工作进展通报".into(),
        subtitle: "截至 2024年6月1日".into(),
        intro: vec!["现将各镇街工作进展通报如下。".into()],
        headers: vec!["名次".into(), "镇街".into(), "排查率".into()],
        widths: vec![1, 3, 2],
        rows: vec![
            vec!["1".into(), "滞后镇#emph[x]".into(), "25.00%".into()],
            vec!["2".into(), "先进镇".into(), "100.00%".into()],
        ],
        notes: vec!["注：按综合进度由低到高排列。".into()],
        signature: "县自建房安全专项整治领导小组办公室 2024年6月1日".into(),
        landscape: false,
    };
    let bytes = circular(&fonts(), &doc).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    // Typst sets a thin space between Chinese and Latin text; compare without spaces.
    let text = Pdf::write(&bytes, "circular.pdf").text_without_spaces();
    for s in [
        "自建房安全专项整治工作进展通报",
        "截至2024年6月1日",
        "名次",
        "排查率",
        "滞后镇#emph[x]",
        "25.00%",
        "按综合进度由低到高排列",
        "县自建房安全专项整治领导小组办公室",
    ] {
        assert!(text.contains(s), "{s} missing from:\n{text}");
    }
    let lagging = text.find("滞后镇").unwrap();
    let leading = text.find("先进镇").unwrap();
    assert!(lagging < leading, "rows keep their order");
}
