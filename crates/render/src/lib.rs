//! Ledgers out: xlsx in the layout of the notice's printed forms (title, 填报人 line, merged
//! multi-row headers with the circled numbers and printed formulas, 合计, signature footer),
//! CSV (UTF-8 with BOM, so Excel opens it) and JSON. Pure: no database, no clock.
#![forbid(unsafe_code)]

use anju_domain::ledger::{Cell, Form, LedgerRow, LedgerTable};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("xlsx: {0}")]
    Xlsx(#[from] XlsxError),
}

/// The header block of a ledger: who filled it in, how to reach them, when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Header {
    pub preparer: String,
    pub contact: String,
    pub filled_on: String,
}

/// A header cell of the printed form spanning rows `r0..=r1` and columns `c0..=c1` (0-based,
/// counted from the first header row and the first column).
struct Span(u32, u16, u32, u16, &'static str);

/// The printed header of 附件2: three rows, eighteen columns.
const ATTACHMENT2_HEADER: &[Span] = &[
    Span(0, 1, 2, 1, "已排查自建房总量"),
    Span(0, 2, 0, 6, "经营性自建房"),
    Span(1, 2, 2, 2, "已排查经营性自建房数量"),
    Span(1, 3, 1, 4, "整治销号"),
    Span(2, 3, 2, 3, "初判隐患数量"),
    Span(2, 4, 2, 4, "动态销号数量"),
    Span(1, 5, 1, 6, "线上检查"),
    Span(2, 5, 2, 5, "问题确认/问题"),
    Span(2, 6, 2, 6, "问题确认率"),
    Span(0, 7, 0, 17, "非经营性自建房"),
    Span(1, 7, 2, 7, "已排查非经营性自建房数量"),
    Span(1, 8, 2, 8, "初判隐患数量\n①"),
    Span(1, 9, 2, 9, "经技术人员鉴定复核无隐患数量\n②"),
    Span(1, 10, 2, 10, "未鉴定直接工程措施数量\n③"),
    Span(1, 11, 1, 13, "安全鉴定"),
    Span(2, 11, 2, 11, "已鉴定数量\n④"),
    Span(2, 12, 2, 12, "C、D级房屋数量\n⑤"),
    Span(2, 13, 2, 13, "鉴定率\n（④/①-②-③）"),
    Span(1, 14, 1, 15, "整治措施"),
    Span(2, 14, 2, 14, "鉴定为C、D级房屋采取工程措施整治数量\n⑥"),
    Span(2, 15, 2, 15, "整治率\n（⑥+③/⑤+③）"),
    Span(1, 16, 1, 17, "整治销号"),
    Span(
        2,
        16,
        2,
        16,
        "已销号数量（含经技术人员复核无隐患、鉴定为A、B级、工程措施销号）\n⑦",
    ),
    Span(2, 17, 2, 17, "销号率\n（⑦/①）"),
];

/// The printed header of 附件1: two rows, ten columns.
const ATTACHMENT1_HEADER: &[Span] = &[
    Span(0, 1, 1, 1, "总量"),
    Span(0, 2, 0, 5, "经营性自建房"),
    Span(1, 2, 1, 2, "数量"),
    Span(1, 3, 1, 3, "经专业技术人员现场复核数量"),
    Span(1, 4, 1, 4, "存在安全隐患数量"),
    Span(1, 5, 1, 5, "工程措施整治数量"),
    Span(0, 6, 0, 9, "非经营性自建房"),
    Span(1, 6, 1, 6, "数量"),
    Span(1, 7, 1, 7, "经专业技术人员现场复核数量"),
    Span(1, 8, 1, 8, "存在安全隐患数量"),
    Span(1, 9, 1, 9, "工程措施整治数量"),
];

fn header_spans(form: Form) -> (&'static [Span], u32) {
    match form {
        Form::Attachment1 => (ATTACHMENT1_HEADER, 2),
        Form::Attachment2 => (ATTACHMENT2_HEADER, 3),
    }
}

/// A cell of the printed header block: position and extent (0-based, from the first header
/// row and the region column), and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderCell {
    pub row: u32,
    pub col: u16,
    pub rowspan: u32,
    pub colspan: u16,
    pub text: &'static str,
}

/// The printed header of `form` as cells, the region column first; and its number of rows.
pub fn header_cells(table: &LedgerTable) -> (Vec<HeaderCell>, u32) {
    let (spans, rows) = header_spans(table.form);
    let mut cells = vec![HeaderCell {
        row: 0,
        col: 0,
        rowspan: rows,
        colspan: 1,
        text: region_heading(table),
    }];
    cells.extend(spans.iter().map(|Span(r0, c0, r1, c1, text)| HeaderCell {
        row: *r0,
        col: *c0,
        rowspan: r1 - r0 + 1,
        colspan: c1 - c0 + 1,
        text,
    }));
    (cells, rows)
}

/// The label of the first column: towns under a county, villages under a town.
pub fn region_heading(table: &LedgerTable) -> &'static str {
    let by_village = table
        .rows
        .first()
        .is_some_and(|r| r.code.len() == 12 && !r.code.ends_with("000"));
    if by_village {
        "村（社区）"
    } else {
        "镇街"
    }
}

/// The ledger's title as printed: `{unit}` + the form's title.
pub fn title(table: &LedgerTable) -> String {
    format!("{}{}", table.unit, table.form.title())
}

/// A text cell that a spreadsheet would read as a formula is prefixed with `'`.
pub fn neutralise(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The ledger as an xlsx workbook laid out like the printed form.
pub fn xlsx(table: &LedgerTable, header: &Header) -> Result<Vec<u8>, RenderError> {
    let form = table.form;
    let (spans, header_rows) = header_spans(form);
    let ncols: u16 = form.headings().len() as u16 + 1;
    let last = ncols - 1;
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(format!("附件{}", form.number()))?;
    let base = Format::new().set_font_name("宋体").set_font_size(10);
    let boxed = base
        .clone()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap();
    let bold_box = boxed.clone().set_bold();
    let percent = boxed.clone().set_num_format("0.00%");
    let title_format = base
        .clone()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);

    sheet.write_string_with_format(0, 0, format!("附件{}", form.number()), &base)?;
    sheet.merge_range(1, 0, 1, last, &title(table), &title_format)?;
    let info = format!(
        "填报人：{}    联系方式：{}    填报时间：{}    （单位：栋）",
        header.preparer, header.contact, header.filled_on
    );
    sheet.merge_range(2, 0, 2, last, &info, &base)?;

    let top = 3;
    sheet.merge_range(
        top,
        0,
        top + header_rows - 1,
        0,
        region_heading(table),
        &bold_box,
    )?;
    for Span(r0, c0, r1, c1, text) in spans {
        if r0 == r1 && c0 == c1 {
            sheet.write_string_with_format(top + r0, *c0, *text, &bold_box)?;
        } else {
            sheet.merge_range(top + r0, *c0, top + r1, *c1, text, &bold_box)?;
        }
    }
    let mut row = top + header_rows;
    for r in table.all_rows() {
        write_row(sheet, row, r, form, &boxed, &percent)?;
        row += 1;
    }
    sheet.merge_range(
        row + 1,
        0,
        row + 1,
        last,
        "主要负责同志签字：                                        单位（盖章）：",
        &base,
    )?;

    let width = column_width(form);
    sheet.set_column_width(0, 14)?;
    for c in 1..ncols {
        sheet.set_column_width(c, width)?;
    }
    for (r, height) in header_row_heights(spans, header_rows, width)
        .into_iter()
        .enumerate()
    {
        sheet.set_row_height(top + r as u32, height)?;
    }
    sheet.set_landscape();
    sheet.set_paper_size(9); // A4
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(top, top + header_rows - 1)?;
    Ok(book.save_to_buffer()?)
}

/// The width of a figure column, in Excel's character units.
fn column_width(form: Form) -> f64 {
    if form == Form::Attachment2 { 9.0 } else { 13.0 }
}

/// Points per wrapped line of 10-point 宋体, and the cell's padding.
const LINE_POINTS: f64 = 13.5;
const PAD_POINTS: f64 = 4.0;

/// How many lines `text` wraps to in `columns` columns of `width` units: a CJK character takes
/// two units, anything else one (what Excel and LibreOffice lay 10-point 宋体 out as, within a
/// unit of padding).
fn wrapped_lines(text: &str, width: f64, columns: u16) -> u32 {
    let room = (width * f64::from(columns) - 1.0).max(2.0);
    let mut lines = 1;
    let mut used = 0.0;
    for ch in text.chars() {
        if ch == '\n' {
            lines += 1;
            used = 0.0;
            continue;
        }
        let w = if ch.is_ascii() { 1.0 } else { 2.0 };
        if used + w > room {
            lines += 1;
            used = 0.0;
        }
        used += w;
    }
    lines
}

/// Each header row's height in points, tall enough for every label to show whole: a label
/// spanning several rows shares its height among them.
fn header_row_heights(spans: &[Span], rows: u32, width: f64) -> Vec<f64> {
    let mut heights = vec![2.0 * LINE_POINTS + PAD_POINTS; rows as usize];
    // Single-row labels first, then the spanning ones take what they still lack.
    let mut ordered: Vec<&Span> = spans.iter().collect();
    ordered.sort_by_key(|Span(r0, _, r1, _, _)| r1 - r0);
    for Span(r0, c0, r1, c1, text) in ordered {
        let need = f64::from(wrapped_lines(text, width, c1 - c0 + 1)) * LINE_POINTS + PAD_POINTS;
        let range = (*r0 as usize)..=(*r1 as usize);
        let have: f64 = heights[range.clone()].iter().sum();
        if need > have {
            let extra = (need - have) / range.clone().count() as f64;
            for h in &mut heights[range] {
                *h += extra;
            }
        }
    }
    heights
}

fn write_row(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    r: &LedgerRow,
    form: Form,
    boxed: &Format,
    percent: &Format,
) -> Result<(), XlsxError> {
    sheet.write_string_with_format(row, 0, neutralise(&r.name), boxed)?;
    for (i, (cell, _)) in r.cells(form).into_iter().enumerate() {
        let col = i as u16 + 1;
        match cell {
            Cell::Count(n) => {
                sheet.write_number_with_format(row, col, n as f64, boxed)?;
            }
            // A rate: the rounded value as a number shown as a percentage, or the dash.
            Cell::Rate(rate) => match rate.basis_points() {
                Some(bp) => {
                    sheet.write_number_with_format(row, col, bp as f64 / 10_000.0, percent)?;
                }
                None => {
                    sheet.write_string_with_format(row, col, "—", boxed)?;
                }
            },
            Cell::Text(t) => {
                sheet.write_string_with_format(row, col, t, boxed)?;
            }
        }
    }
    Ok(())
}

/// CSV, UTF-8 with a BOM: the heading line, then one line per row and 合计.
pub fn csv(table: &LedgerTable) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let mut line = |fields: Vec<String>| {
        let quoted: Vec<String> = fields
            .into_iter()
            .map(|f| {
                let f = neutralise(&f);
                if f.contains([',', '"', '\n']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f
                }
            })
            .collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    };
    let mut head = vec![region_heading(table).to_string()];
    head.extend(table.form.headings().iter().map(|h| h.to_string()));
    line(head);
    for r in table.all_rows() {
        let mut fields = vec![r.name.clone()];
        fields.extend(r.cells(table.form).into_iter().map(|(c, _)| c.display()));
        line(fields);
    }
    out.into_bytes()
}

#[derive(Serialize)]
struct JsonRow<'a> {
    code: &'a str,
    name: &'a str,
    /// Counts as numbers, rates as percentages with two decimals (null when undefined).
    values: Vec<serde_json::Value>,
}

/// JSON: the form, title, header block, columns, rows with values, 合计 and failed checks.
pub fn json(table: &LedgerTable, header: &Header) -> serde_json::Value {
    let form = table.form;
    let rows: Vec<JsonRow> = table
        .all_rows()
        .map(|r| {
            let values = r
                .cells(form)
                .into_iter()
                .map(|(c, _)| match c {
                    Cell::Count(n) => serde_json::json!(n),
                    Cell::Rate(rate) => serde_json::json!(rate.percent()),
                    Cell::Text(t) => serde_json::json!(t),
                })
                .collect();
            JsonRow {
                code: &r.code,
                name: &r.name,
                values,
            }
        })
        .collect();
    serde_json::json!({
        "form": form.number(),
        "title": title(table),
        "unit": table.unit,
        "as_of": table.as_of,
        "header": header,
        "columns": std::iter::once(region_heading(table)).chain(form.headings().iter().copied()).collect::<Vec<_>>(),
        "rows": rows,
        "checks": table.checks,
    })
}

/// A plain list as xlsx: a bold header row, then one row per item; text cells pass through
/// [`neutralise`] so nothing a user typed is read as a formula. Uses constant memory, so a
/// long list streams to the file.
pub fn list_xlsx(
    sheet: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, RenderError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name(sheet)?;
    ws.set_freeze_panes(1, 0)?;
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin);
    for c in 0..headers.len() {
        ws.set_column_width(c as u16, 16)?;
    }
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, neutralise(v))?;
        }
    }
    Ok(wb.save_to_buffer()?)
}

/// A plain list as CSV for Excel: UTF-8 with BOM, CRLF, fields quoted where needed, every field
/// through [`neutralise`].
pub fn list_csv(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let field = |s: &str| {
        let s = neutralise(s);
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = String::from("\u{feff}");
    out.push_str(
        &headers
            .iter()
            .map(|h| field(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_are_tall_enough_for_every_label() {
        // By hand: 9 units hold 4 CJK characters (8 units and one of padding).
        assert_eq!(wrapped_lines("已鉴定数量④", 9.0, 1), 2);
        assert_eq!(wrapped_lines("镇街", 9.0, 1), 1);
        // ⑦'s label: 31 wide characters and "A", "B" fill 8 lines (已销号数|量（含经|技术人员|
        // 复核无隐|患、鉴定|为A、B级|、工程措|施销号）), and "⑦" after its line break a 9th.
        let seventh = "已销号数量（含经技术人员复核无隐患、鉴定为A、B级、工程措施销号）\n⑦";
        assert_eq!(wrapped_lines(seventh, 9.0, 1), 9);
        let (spans, rows) = header_spans(Form::Attachment2);
        let heights = header_row_heights(spans, rows, column_width(Form::Attachment2));
        for Span(r0, c0, r1, c1, text) in spans {
            let given: f64 = heights[*r0 as usize..=*r1 as usize].iter().sum();
            let need = f64::from(wrapped_lines(text, 9.0, c1 - c0 + 1)) * LINE_POINTS;
            assert!(given >= need, "{text}: {given} < {need}");
        }
    }
}
