//! The ledger PDF, re-read with poppler's `pdftotext`: title, header block, printed headings,
//! figures, rates and the signature line are all there, in Chinese, with the font embedded.

use crate::common::{Pdf, fonts};
use anju_domain::ledger::LedgerTable;
use anju_pdf::{Fonts, ledger};
use anju_render::Header;

fn table() -> LedgerTable {
    anju_domain::sample::ledger_table()
}

/// The PDF's text, keeping a PNG of the first page to look at.
fn pdf_text(bytes: &[u8]) -> String {
    let pdf = Pdf::write(bytes, "ledger-attachment2.pdf");
    pdf.screenshot("ledger-attachment2", 80);
    pdf.text()
}

#[test]
fn the_ledger_pdf_reads_back_with_its_title_figures_and_signature_line() {
    let header = Header {
        preparer: "张经办".into(),
        contact: "0537-6836811".into(),
        filled_on: "2024-06-04".into(),
    };
    let bytes = ledger(&fonts(), &table(), &header).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let text = pdf_text(&bytes);
    let flat: String = text.split_whitespace().collect();
    for needle in [
        "附件2",
        "嘉祥县自建房安全专项整治攻坚行动工作台账",
        "填报人：",
        "张经办",
        "0537-6836811",
        "2024-06-04",
        "（单位：栋）",
        "经营性自建房",
        "非经营性自建房",
        "纸坊镇",
        "梁宝寺镇",
        "合计",
        "41.67%",
        "80.00%",
        "28.57%",
        "主要负责同志签字：",
        "单位（盖章）：",
    ] {
        assert!(
            flat.contains(needle),
            "{needle} missing from the PDF text:\n{text}"
        );
    }
}

#[test]
fn a_missing_chinese_font_is_a_clear_error() {
    let err = Fonts::load(&[std::path::PathBuf::from("/nonexistent")])
        .err()
        .expect("no fonts there");
    assert!(err.to_string().contains("fonts-noto-cjk"), "{err}");
}
