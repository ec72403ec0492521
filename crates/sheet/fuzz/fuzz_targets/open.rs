//! Feeds arbitrary bytes to `anju_sheet::open` and reads every row: any panic is a bug.
#![no_main]

use std::sync::LazyLock;

use anju_sheet::Limits;
use libfuzzer_sys::fuzz_target;
use tempfile::NamedTempFile;

/// One file per fuzzing process, rewritten for each input.
static FILE: LazyLock<NamedTempFile> =
    LazyLock::new(|| NamedTempFile::new().expect("temp file for fuzz inputs"));

/// Small limits, so the fuzzer reaches the limit paths too.
fn limits() -> Limits {
    Limits {
        max_file_bytes: 1 << 20,
        max_rows: 100,
        max_columns: 20,
        max_cell_chars: 50,
        max_entry_uncompressed: 1 << 20,
        max_ratio: 100,
        max_entries: 50,
        max_shared_strings_bytes: 256 << 10,
    }
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(FILE.path(), data).expect("write fuzz input");
    if let Ok(rows) = anju_sheet::open(FILE.path(), &limits()) {
        for row in rows {
            if row.is_err() {
                break;
            }
        }
    }
});
