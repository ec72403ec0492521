//! A ledger of half a million rows (over 50 MB) streams in memory bounded by a batch, not by the
//! file.
//!
//! The only test in its binary, so the process's resident set is this test's alone. Memory is
//! read from `/proc/self/status` (the workspace forbids `unsafe`, which a counting global
//! allocator would need): the peak (VmHWM, reset through `/proc/self/clear_refs`) and samples of
//! the current size taken while reading.

use std::fs;
use std::time::Instant;

use anju_sheet::{Limits, Row};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

const ROWS: u32 = 500_000;
const BATCH: usize = 1000;
const MIB: u64 = 1 << 20;

/// A field of `/proc/self/status` in bytes (the file gives kB).
fn status_bytes(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

const VILLAGES: [&str; 7] = [
    "东湖村",
    "西山村",
    "南岭村",
    "北坡村",
    "青石村",
    "桃源村",
    "柳溪村",
];
const GRADES: [&str; 4] = ["A", "B", "C", "D"];
const REMARK: &str = "需复核，房屋有裂缝";

/// Columns of hard-to-compress text, so the file is as large as a real ledger of this length.
const HASHES: u64 = 5;

fn hash(row: u32, k: u64) -> String {
    let x = (u64::from(row) * 8 + k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:016x}", x ^ (x >> 29))
}

fn id_number(row: u32) -> String {
    format!("3301{:014}", u64::from(row) * 7919)
}

/// The cells written to data row `row` (0-based), as the reader should give them back.
fn expected(row: u32) -> Vec<String> {
    let i = row as usize;
    let mut cells = vec![
        format!("户主{row}"),
        id_number(row),
        VILLAGES[i % VILLAGES.len()].to_owned(),
        format!("{}.5", row % 1000),
        (row % 5 + 1).to_string(),
        format!("2024-05-{:02}", i % 28 + 1),
        GRADES[i % GRADES.len()].to_owned(),
    ];
    cells.extend((0..HASHES).map(|k| hash(row, k)));
    if row.is_multiple_of(10) {
        cells.push(REMARK.to_owned());
    }
    cells
}

fn write_ledger(path: &std::path::Path) {
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet_with_constant_memory().unwrap();
    let headers = [
        "户主姓名",
        "身份证号",
        "村",
        "建筑面积",
        "层数",
        "排查日期",
        "等级",
        "校验1",
        "校验2",
        "校验3",
        "校验4",
        "校验5",
        "备注",
    ];
    ws.write_row(0, 0, headers).unwrap();
    let days: Vec<ExcelDateTime> = (1..=28)
        .map(|day| ExcelDateTime::from_ymd(2024, 5, day).unwrap())
        .collect();
    for row in 1..=ROWS {
        let i = row as usize;
        ws.write_string(row, 0, format!("户主{row}")).unwrap();
        ws.write_string(row, 1, id_number(row)).unwrap();
        ws.write_string(row, 2, VILLAGES[i % VILLAGES.len()])
            .unwrap();
        ws.write_number(row, 3, f64::from(row % 1000) + 0.5)
            .unwrap();
        ws.write_number(row, 4, f64::from(row % 5 + 1)).unwrap();
        ws.write_datetime_with_format(row, 5, &days[i % days.len()], &date)
            .unwrap();
        ws.write_string(row, 6, GRADES[i % GRADES.len()]).unwrap();
        for k in 0..HASHES {
            ws.write_string(row, 7 + k as u16, hash(row, k)).unwrap();
        }
        if row.is_multiple_of(10) {
            ws.write_string(row, 7 + HASHES as u16, REMARK).unwrap();
        }
    }
    workbook.save(path).unwrap();
}

#[test]
fn a_500k_row_ledger_streams_in_memory_bounded_by_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.xlsx");
    let started = Instant::now();
    write_ledger(&path);
    let written_in = started.elapsed();
    let size = fs::metadata(&path).unwrap().len();

    // Start the peak afresh: "5" resets VmHWM to the current resident set.
    let peak_reset = fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = status_bytes("VmRSS:").expect("VmRSS in /proc/self/status");
    let started = Instant::now();
    let mut sampled_peak = base;
    let mut batch: Vec<Row> = Vec::with_capacity(BATCH);
    let mut count = 0usize;
    for row in anju_sheet::open(&path, &Limits::default()).unwrap() {
        let row = row.unwrap();
        count += 1;
        if count.is_multiple_of(10_000) {
            sampled_peak = sampled_peak.max(status_bytes("VmRSS:").unwrap_or(0));
        }
        batch.push(row);
        if batch.len() == BATCH {
            // What an importer would do with a batch: check it, then let it go.
            for row in batch.drain(..).filter(|row| row.number > 1) {
                assert_eq!(
                    row.cells,
                    expected(row.number as u32 - 1),
                    "row {}",
                    row.number
                );
            }
        }
    }
    let read_in = started.elapsed();
    let peak = match (peak_reset, status_bytes("VmHWM:")) {
        (true, Some(hwm)) => hwm.max(sampled_peak),
        _ => sampled_peak,
    };
    let growth = peak.saturating_sub(base);
    eprintln!(
        "big file: {size} bytes ({} MiB), {count} rows; written in {written_in:?}, read in \
         {read_in:?}; RSS at start {} MiB, peak {} MiB, growth {} MiB (peak from {})",
        size / MIB,
        base / MIB,
        peak / MIB,
        growth / MIB,
        if peak_reset { "VmHWM" } else { "samples" },
    );

    assert_eq!(count, ROWS as usize + 1);
    assert!(size > 50 * 1_000_000, "a file of over 50 MB ({size} bytes)");
    assert_eq!(batch.len(), (ROWS as usize + 1) % BATCH);
    assert!(growth < 64 * MIB, "memory grew by {} MiB", growth / MIB);
}
