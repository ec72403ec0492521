//! Importing an existing house ledger (xlsx or CSV) and the template it follows.
//!
//! A file is read as a stream (`anju-sheet`: hostile files refused before they cost memory) in
//! batches of [`BATCH`] rows. The whole file is checked first — every row read, every house
//! matched or decided by the rules, every bad row reported with its number and reason — and
//! only a file without a bad row is written, batch by batch, each batch in one transaction with
//! its audit row. A write interrupted between batches is resumed by importing the same file
//! again: rows already in are matched by their identifier and left alone.

pub mod export;

use anju_domain::Coded;
use anju_domain::auth::Principal;
use anju_domain::coded::joined_labels;
use anju_domain::import::{Row, Target, map_headers, read_row, template};
use anju_evidence::{EvidenceStore, Media};
use anju_sheet::{Format, Limits, SheetError};
use anju_store::Store;
use anju_store::houses::import::{ImportFile, ImportReport, RowError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Rows per batch (and per transaction when writing).
pub const BATCH: usize = 2_500;

/// At most this many bad rows are listed; the count says how many there were in all.
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// Why a file could not be imported at all (as opposed to bad rows, which are reported).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Sheet(#[from] SheetError),
    #[error("表头有误：{0}")]
    Header(String),
    #[error("文件为空：没有表头行")]
    Empty,
    #[error("{0}")]
    Store(#[from] anju_store::StoreError),
    #[error("读写文件失败：{0}")]
    Io(#[from] std::io::Error),
}

/// Which pass an import is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Reading and checking every row.
    Check,
    /// Writing, batch by batch.
    Write,
}

/// Where a long import is: rows done in the current pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub pass: Pass,
    pub rows: usize,
}

/// The outcome of importing a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub file: ImportFile,
    /// Totals over the file; `errors` lists at most [`MAX_LISTED_ERRORS`].
    pub report: ImportReport,
    /// All bad rows, listed or not.
    pub error_count: usize,
    /// Whether the file was written (only when asked and without a bad row).
    pub written: bool,
}

/// Options of one import.
pub struct Request<'a> {
    pub path: &'a Path,
    /// The file's name as the user knows it (kept with every imported step).
    pub name: &'a str,
    pub commit: bool,
    /// Where the file itself is kept when written (the record the imported steps rest on).
    pub evidence: Option<&'a EvidenceStore>,
    pub limits: Limits,
}

/// The limits for a file given on the command line by the operator: a whole county's ledger in
/// the full template (a million rows is about 260 MB as xlsx, 550 MB as CSV) is larger than a
/// browser upload may be; every other defence stays.
pub fn cli_limits() -> Limits {
    Limits {
        max_file_bytes: 4 << 30,
        // A million rows of inline strings inflate to over 2 GB of worksheet XML; the
        // compression-ratio check still stands.
        max_entry_uncompressed: 32 << 30,
        ..Limits::default()
    }
}

/// The sha256 of a file, read in pieces.
fn digest(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// The file's rows after its header row (the template's block-title row, if present, is
/// passed over), with the column map.
struct Reader {
    rows: anju_sheet::Rows,
    map: Vec<Option<Target>>,
    format: Format,
}

impl Reader {
    /// One of the file's rows read against the county's regions and dictionaries, as of `today`.
    fn read(
        &self,
        raw: &anju_sheet::Row,
        reference: &anju_store::Reference,
        today: chrono::NaiveDate,
    ) -> Result<Row, Vec<String>> {
        read_row(
            raw.number,
            &raw.cells,
            &self.map,
            &reference.regions,
            &reference.dictionaries,
            today,
        )
    }
}

fn open(path: &Path, limits: &Limits) -> Result<Reader, ImportError> {
    let mut rows = anju_sheet::open(path, limits)?;
    let format = rows.format();
    let first = rows.next().ok_or(ImportError::Empty)??;
    let map = match map_headers(&first.cells) {
        Ok(m) => m,
        Err(first_error) => {
            // The template's first row names the blocks; its headers are in the second.
            let second = rows
                .next()
                .ok_or(ImportError::Header(first_error.clone()))??;
            map_headers(&second.cells).map_err(|_| ImportError::Header(first_error))?
        }
    };
    Ok(Reader { rows, map, format })
}

/// [`open`] off the async threads.
async fn open_async(path: &Path, limits: Limits) -> Result<Reader, ImportError> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || open(&p, &limits))
        .await
        .expect("the reader does not panic")
}

/// Reads the next batch of rows off the async threads. `None` at the end of the file.
async fn next_batch(
    mut reader: Reader,
) -> Result<(Reader, Option<Vec<anju_sheet::Row>>), ImportError> {
    tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for row in reader.rows.by_ref() {
            batch.push(row?);
            if batch.len() == BATCH {
                break;
            }
        }
        let batch = (!batch.is_empty()).then_some(batch);
        Ok((reader, batch))
    })
    .await
    .expect("the reader does not panic")
}

/// Imports one file as `who`: checks it whole, and writes it if asked and it has no bad row.
pub async fn import_file(
    store: &Store,
    who: &Principal,
    source: &str,
    req: Request<'_>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Outcome, ImportError> {
    let path: PathBuf = req.path.to_path_buf();
    let sha256 = {
        let p = path.clone();
        tokio::task::spawn_blocking(move || digest(&p))
            .await
            .expect("hashing does not panic")?
    };
    let file = ImportFile {
        name: req.name.to_string(),
        sha256,
    };
    let reference = store.reference();
    let today = store.today();
    let mut total = ImportReport::default();
    let mut error_count = 0usize;
    // Identifier (its 64-bit hash: a million identifiers cost 24 MB, not 100) → the row that
    // first gave it, across the whole file. A collision could only refuse a row as a duplicate,
    // never let one through.
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let hasher = std::collections::hash_map::RandomState::new();
    let key = |v: &str| std::hash::BuildHasher::hash_one(&hasher, v);
    let mut reader = open_async(&path, req.limits).await?;
    let format = reader.format;
    let mut done = 0usize;
    let note = |total: &mut ImportReport, count: &mut usize, e: RowError| {
        *count += 1;
        if total.errors.len() < MAX_LISTED_ERRORS {
            total.errors.push(e);
        }
    };
    loop {
        let (r, batch) = next_batch(reader).await?;
        reader = r;
        let Some(batch) = batch else { break };
        let mut rows: Vec<Row> = Vec::with_capacity(batch.len());
        for raw in &batch {
            match reader.read(raw, &reference, today) {
                Ok(row) => {
                    let id = row.identity().map(|(_, v)| v.to_string());
                    match id.as_deref().and_then(|v| seen.get(&key(v))) {
                        Some(first) => note(
                            &mut total,
                            &mut error_count,
                            RowError {
                                row: row.number,
                                message: format!(
                                    "房屋标识“{}”与第 {first} 行重复",
                                    id.clone().unwrap_or_default()
                                ),
                            },
                        ),
                        None => {
                            if let Some(v) = id {
                                seen.insert(key(&v), row.number);
                            }
                            rows.push(row);
                        }
                    }
                }
                Err(messages) => note(
                    &mut total,
                    &mut error_count,
                    RowError {
                        row: raw.number,
                        message: messages.join("；"),
                    },
                ),
            }
        }
        let report = store.import_batch(who, source, &file, &rows, false).await?;
        for e in &report.errors {
            note(&mut total, &mut error_count, e.clone());
        }
        let mut counted = report.clone();
        counted.errors.clear();
        counted.rows = batch.len();
        total.add(&counted);
        done += batch.len();
        progress(Progress {
            pass: Pass::Check,
            rows: done,
        });
    }
    total.errors.sort_by_key(|e| e.row);
    drop(seen);
    if error_count > 0 || !req.commit {
        if error_count > 0 {
            total.new_houses = 0;
            total.corrected = 0;
            total.closed = 0;
            total.look_back = 0;
        }
        return Ok(Outcome {
            file,
            report: total,
            error_count,
            written: false,
        });
    }

    // Written: the file first (what the steps rest on), then batch by batch.
    if let Some(evidence) = req.evidence {
        let (e, p) = (evidence.clone(), path.clone());
        let media = match format {
            Format::Xlsx => Media::Xlsx,
            Format::Csv => Media::Csv,
        };
        tokio::task::spawn_blocking(move || e.put_ledger(&p, media))
            .await
            .expect("storing does not panic")?;
    }
    let mut written = ImportReport::default();
    let mut reader = open_async(&path, req.limits).await?;
    let mut done = 0usize;
    loop {
        let (r, batch) = next_batch(reader).await?;
        reader = r;
        let Some(batch) = batch else { break };
        let rows: Vec<Row> = batch
            .iter()
            .filter_map(|raw| reader.read(raw, &reference, today).ok())
            .collect();
        let report = store.import_batch(who, source, &file, &rows, true).await?;
        if !report.errors.is_empty() {
            // Changed since the check (another import, a step): this batch is not written;
            // those before it are, whole.
            written.errors = report.errors;
            let count = written.errors.len();
            return Ok(Outcome {
                file,
                report: written,
                error_count: count,
                written: false,
            });
        }
        written.add(&report);
        done += batch.len();
        progress(Progress {
            pass: Pass::Write,
            rows: done,
        });
    }
    store.compact_map_cells_if_due().await;
    Ok(Outcome {
        file,
        report: written,
        error_count: 0,
        written: true,
    })
}

/// What a column of the template holds, for its explanation sheet.
fn explain(header: &str, dict: &anju_domain::dict::Dictionaries) -> String {
    use anju_domain::columns::{Input, by_header};
    use anju_domain::dict::*;
    if let Some(c) = by_header(header) {
        return match c.input {
            Input::Text if c.personal() => "文本（个人信息，加密保存）".into(),
            Input::Text => "文本".into(),
            Input::Integer => "整数".into(),
            Input::Decimal => "数字".into(),
            Input::Date => "日期，如 2024-03-15".into(),
            Input::Bool => "是 / 否".into(),
            Input::Usage => joined_labels(UsageCategory::ALL),
            Input::Region(anju_domain::codes::RegionLevel::Village) => {
                "村（社区）名称或 12 位区划代码；名称须在所填镇街内".into()
            }
            Input::Region(_) => "镇街名称或 9 位区划代码".into(),
            Input::Dict(k) => format!("可选：{}", dict.values(k).join("、")),
            Input::DictMany(k) => format!("可多选，用“、”分隔：{}", dict.values(k).join("、")),
            Input::OwnerId => "18 位身份证号或统一社会信用代码（校验位须正确；加密保存）".into(),
            Input::Phone => "手机或固定电话（加密保存）".into(),
        };
    }
    let labels = |every: String| format!("可选：{every}");
    match header {
        "排查日期"
        | "复核日期"
        | "鉴定日期"
        | "告知日期"
        | "管理措施日期"
        | "开工日期"
        | "竣工验收日期"
        | "销号日期"
        | "归集平台销号日期"
        | "回头看日期" => "日期，如 2024-03-15".into(),
        "前期销号日期" => "系统启用前以管理措施销号的日期；导入后列入回头看清单".into(),
        "前期销号管理措施" => format!(
            "前期销号时采取的管理措施，可多选：{}",
            joined_labels(MgmtMeasure::ALL)
        ),
        "回头看结论" => "隐患已消除 / 隐患仍存在".into(),
        "排查批次" => format!(
            "可选：{}（不填记为“其他”）",
            dict.values(kind::SURVEY_ROUND).join("、")
        ),
        "隐患初判" => labels(joined_labels(Judgement::ALL)),
        "风险等级" => labels(joined_labels(RiskLevel::ALL)),
        "隐患类别" => format!(
            "初判有隐患时必填，可多选：{}",
            dict.values(kind::HAZARD_CATEGORY).join("、")
        ),
        "复核结论" => labels(joined_labels(ReviewFinding::ALL)),
        "鉴定等级" => labels(joined_labels(Grade::ALL)),
        "鉴定依据标准" => format!(
            "可选：{}（不填记为“其他”）",
            dict.values(kind::APPRAISAL_STANDARD).join("、")
        ),
        "处理建议" => labels(joined_labels(HandlingAdvice::ALL)),
        "告知方式" => format!("可选：{}", dict.values(kind::NOTICE_METHOD).join("、")),
        "管理措施" => format!(
            "可多选：{}。管理措施不能作为销号依据",
            joined_labels(MgmtMeasure::ALL)
        ),
        "工程措施" => labels(joined_labels(EngMeasure::ALL)),
        "销号依据" => format!(
            "{}。填“采取管理措施”的，导入后列入回头看清单，不计为已销号",
            labels(joined_labels(ClosureBasis::ALL))
        ),
        _ => "文本".into(),
    }
}

/// The import template as xlsx: the block titles over the column headers (required ones marked
/// `*`), and a second sheet explaining every column with its allowed values.
pub fn template_xlsx(
    dict: &anju_domain::dict::Dictionaries,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
    let mut wb = Workbook::new();
    let title = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_border(FormatBorder::Thin)
        .set_background_color("#DDEBF7");
    let head = Format::new().set_bold().set_border(FormatBorder::Thin);
    let columns = template();
    let ws = wb.add_worksheet();
    ws.set_name("房屋台账")?;
    let mut start = 0usize;
    while start < columns.len() {
        let block = columns[start].0;
        let end = (start..columns.len())
            .take_while(|i| columns[*i].0 == block)
            .last()
            .unwrap_or(start);
        if end > start {
            ws.merge_range(0, start as u16, 0, end as u16, block, &title)?;
        } else {
            ws.write_string_with_format(0, start as u16, block, &title)?;
        }
        start = end + 1;
    }
    for (i, (_, header, required)) in columns.iter().enumerate() {
        let text = if *required {
            format!("*{header}")
        } else {
            header.to_string()
        };
        ws.write_string_with_format(1, i as u16, text, &head)?;
        ws.set_column_width(i as u16, 14)?;
    }
    ws.set_freeze_panes(2, 0)?;
    let help = wb.add_worksheet();
    help.set_name("填写说明")?;
    for (c, h) in ["列名", "所属部分", "是否必填", "填写要求"]
        .iter()
        .enumerate()
    {
        help.write_string_with_format(0, c as u16, *h, &head)?;
    }
    for (r, (block, header, required)) in columns.iter().enumerate() {
        let r = r as u32 + 1;
        help.write_string(r, 0, *header)?;
        help.write_string(r, 1, *block)?;
        help.write_string(r, 2, if *required { "必填" } else { "" })?;
        help.write_string(r, 3, explain(header, dict))?;
    }
    help.set_column_width(0, 24)?;
    help.set_column_width(3, 90)?;
    let last = columns.len() as u32 + 2;
    for (i, line) in [
        "每行一栋房屋。须填写“自建房编号（归集平台）”或“普查房屋编号”，重复导入同一文件时据此识别同一房屋，不会重复登记；内容有变化的，记为一次更正。",
        "导入先检查全部行：有任何一行有误，整份文件都不导入，并列出每一行的错误原因。",
        "填写了销号日期和销号依据的，须同时具备相应依据（复核无隐患、鉴定A/B级或工程措施竣工验收），否则该行不予导入；以管理措施销号的列入回头看清单。",
    ]
    .iter()
    .enumerate()
    {
        help.write_string(last + i as u32, 0, *line)?;
    }
    wb.save_to_buffer()
}

/// The import template as CSV (UTF-8 with BOM, header row only).
pub fn template_csv() -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    let headers: Vec<String> = template()
        .iter()
        .map(|(_, h, required)| {
            if *required {
                format!("*{h}")
            } else {
                h.to_string()
            }
        })
        .collect();
    out.extend_from_slice(headers.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}
