//! `anju bench --only import`: importing a ledger of `--houses` rows (the demo county exported
//! in the national five blocks, as CSV and as xlsx) into an empty database, end to end — read,
//! checked whole, every row's steps decided by the rules, written in batches with audit rows —
//! against a bare batched `INSERT` of the same houses' rows, precomputed, in the same run. Peak
//! memory is the whole process's high-water mark during the import (reset before it).

use crate::bench::{BenchArgs, Scratch, against_bare, median};
use anju_demo::Demo;
use anju_domain::auth::Principal;
use anju_import::{Request, export, import_file};
use anju_store::Store;
use std::io::Write;
use std::time::Instant;

/// Resets the kernel's high-water mark of this process's memory (Linux).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A memory figure of this process from `/proc/self/status` (`VmHWM`, `VmRSS`), MiB (Linux;
/// 0 elsewhere).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The high-water mark of resident memory, MiB (Linux).
fn peak_mib() -> f64 {
    status_mib("VmHWM")
}

fn rss_mib() -> f64 {
    status_mib("VmRSS")
}

/// Writes the demo county's houses as the national export, CSV and xlsx, streaming.
fn write_files(
    demo: &Demo,
    dir: &std::path::Path,
) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let csv_path = dir.join("import-bench.csv");
    let xlsx_path = dir.join("import-bench.xlsx");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    csv.write_all(&export::csv(&[]))?;
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory()?;
    for (c, h) in export::headers().iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..demo.houses {
        let h = demo.house(i);
        let people = h
            .events
            .iter()
            .rev()
            .find_map(|e| e.change.people().cloned())
            .unwrap_or_default();
        let row = export::row(&h.state, &people, &h.events, true);
        let text = String::from_utf8(export::csv(std::slice::from_ref(&row)))?;
        // The CSV body without its header line.
        let body = text.split_once("\r\n").map_or("", |(_, b)| b);
        csv.write_all(body.as_bytes())?;
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(i as u32 + 1, c as u16, anju_render::neutralise(v))?;
            }
        }
    }
    csv.flush()?;
    wb.save(&xlsx_path)?;
    Ok((csv_path, xlsx_path))
}

/// A store on `scratch` with the demo county's regions set up.
async fn prepared(scratch: &Scratch) -> anyhow::Result<Store> {
    let store = scratch.open().await?;
    crate::demo::init_county(&store).await?;
    Ok(store)
}

pub async fn bench_import(args: &BenchArgs, backend: &str) -> anyhow::Result<()> {
    let demo = Demo::new(args.houses, 2024);
    let t = Instant::now();
    let (csv, xlsx) = write_files(&demo, &args.work_dir)?;
    let size =
        |p: &std::path::Path| std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1048576.0);
    eprintln!(
        "  files written in {:.1?}: CSV {:.1} MiB, xlsx {:.1} MiB",
        t.elapsed(),
        size(&csv),
        size(&xlsx)
    );
    let system = Principal::system();
    // Anju's runs of every wanted format first, then the baseline (see below).
    let mut measured = vec![];
    for (format, path) in [("CSV", &csv), ("xlsx", &xlsx)] {
        let wanted = match args.only.as_str() {
            "import-csv" => format == "CSV",
            "import-xlsx" => format == "xlsx",
            _ => true,
        };
        if !wanted {
            continue;
        }
        let (mut full, mut peaks) = (vec![], vec![]);
        for run in 0..args.runs {
            let scratch = Scratch::new(args, backend, "import").await?;
            let store = prepared(&scratch).await?;
            let evidence = anju_evidence::EvidenceStore::open(args.work_dir.join("evidence"))?;
            let before = rss_mib();
            reset_peak();
            let t = Instant::now();
            let outcome = import_file(
                &store,
                &system,
                "bench",
                Request {
                    path,
                    name: "bench",
                    commit: true,
                    evidence: Some(&evidence),
                    limits: anju_import::cli_limits(),
                },
                &mut |_| {},
            )
            .await?;
            full.push(t.elapsed());
            // The whole process's high-water mark while importing (not a difference: memory
            // freed by an earlier run and kept by the allocator would hide a later run's).
            peaks.push(peak_mib().max(before));
            anyhow::ensure!(
                outcome.written && outcome.report.new_houses as u64 == args.houses,
                "import did not write every row: {} bad rows, first {:?}",
                outcome.error_count,
                outcome.report.errors.first()
            );
            scratch.close(store).await?;
            eprintln!(
                "  import {format} run {} on {backend}: {:.2?} (peak RSS {:.0} MiB, {before:.0} MiB before)",
                run + 1,
                full[run],
                peaks[run],
            );
        }
        peaks.sort_by(f64::total_cmp);
        measured.push((format, median(full), peaks[peaks.len() / 2]));
    }
    // Baseline: the same houses' rows (whatever the file's format), precomputed outside the
    // clock, bare INSERTs in batches of the same size, one transaction each. After Anju's runs:
    // a million houses' precomputed rows take gigabytes, which the allocator keeps and a later
    // import's peak would count.
    let mut bare = vec![];
    for run in 0..args.runs {
        let scratch = Scratch::new(args, backend, "import_bare").await?;
        let store = prepared(&scratch).await?;
        bare.push(crate::bench::bare_insert(&store, &demo, anju_import::BATCH as u64).await?);
        scratch.close(store).await?;
        eprintln!(
            "  bare INSERT run {} on {backend}: {:.2?}",
            run + 1,
            bare[run]
        );
    }
    let b = median(bare);
    for (format, f, peak) in measured {
        let against = against_bare(args.houses, f, b, &format!(", peak RSS {peak:.0} MiB"));
        println!(
            "[{backend}] import {format}, {} rows: {against}",
            args.houses
        );
    }
    Ok(())
}
