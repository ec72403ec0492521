//! The plaque sheet and the owner notice as PDFs, re-read with `pdftotext`: codes, addresses,
//! the notice's findings and demands and its receipt are there; the sheet has a page per eight
//! plaques.

use crate::common::{Pdf, fonts};
use anju_pdf::{OwnerNotice, Plaque, PlaqueSheet, owner_notice, plaques};

/// The PDF's text without spaces and its page count, keeping a PNG of the first page.
fn text(bytes: &[u8], name: &str) -> (String, usize) {
    let pdf = Pdf::write(bytes, name);
    pdf.screenshot(name.trim_end_matches(".pdf"), 60);
    (pdf.text_without_spaces(), pdf.pages())
}

fn qr(s: &str) -> String {
    // A minimal SVG standing in for a QR code (the web crate renders the real ones).
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><rect width=\"10\" height=\"10\" fill=\"#fff\"/><rect x=\"1\" y=\"1\" width=\"3\" height=\"3\"/><title>{s}</title></svg>"
    )
}

#[test]
fn a_village_sheet_has_every_plaque_eight_to_a_page() {
    let sheet = PlaqueSheet {
        title: "嘉祥街道 东桥社区 自建房二维码标牌".into(),
        contact: "嘉祥街道 0537-6851234".into(),
        plaques: (1..=9)
            .map(|i| Plaque {
                code: format!("AJ3708290000000{i:02}X"),
                address: format!("东桥社区{i}组{i}号#emph[不是标记]"),
                qr: qr(&i.to_string()),
            })
            .collect(),
    };
    let (t, pages) = text(&plaques(&fonts(), &sheet).unwrap(), "plaques.pdf");
    assert_eq!(pages, 2, "nine plaques: two pages");
    for i in 1..=9 {
        assert!(
            t.contains(&format!("AJ3708290000000{i:02}X")),
            "plaque {i}: {t}"
        );
    }
    assert!(
        t.contains("东桥社区1组1号#emph[不是"),
        "text printed as typed: {t}"
    );
    assert!(t.contains("自建房安全信息牌") && t.contains("0537-6851234"));
}

#[test]
fn the_owner_notice_states_the_finding_the_demands_and_has_a_receipt() {
    let n = OwnerNotice {
        title: "房屋安全隐患告知书".into(),
        number: "嘉祥街道〔2024〕第 AJ37082900000001X 号".into(),
        owner: "张三".into(),
        code: "AJ37082900000001X".into(),
        address: "东桥社区一组1号".into(),
        finding_by: "和安全鉴定".into(),
        finding: "经安全鉴定为C级（局部危房）".into(),
        demands: vec![
            "立即停止使用存在安全隐患的部位".into(),
            "委托有资质的单位实施维修加固".into(),
        ],
        deadline: "2024年6月15日".into(),
        office: "嘉祥街道自建房安全专项整治办公室".into(),
        contact: "0537-6851234".into(),
        date: "2024年5月6日".into(),
    };
    let (t, pages) = text(&owner_notice(&fonts(), &n).unwrap(), "owner-notice.pdf");
    assert_eq!(pages, 1);
    for s in [
        "房屋安全隐患告知书",
        "张三",
        "AJ37082900000001X",
        "经安全鉴定为C级（局部危房）",
        "1.立即停止使用存在安全隐患的部位",
        "2.委托有资质的单位实施维修加固",
        "2024年6月15日",
        "送达回执",
        "受送达人签字",
    ] {
        assert!(t.contains(s), "{s} missing: {t}");
    }
}
