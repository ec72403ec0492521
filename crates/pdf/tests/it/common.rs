//! Re-reading the PDFs the tests make with poppler: their text, their page count, and a PNG of
//! the first page under `target/screenshots/` to look at.

use anju_pdf::{Fonts, default_font_dirs};
use std::path::PathBuf;
use std::process::Command;

/// The Chinese fonts the documents are set in.
pub fn fonts() -> Fonts {
    Fonts::load(&default_font_dirs()).expect("fonts-noto-cjk is installed by scripts/test")
}

/// A PDF written to a temporary folder of this test run.
pub struct Pdf {
    file: PathBuf,
}

impl Pdf {
    /// Writes `bytes` as `name` (distinct per test: the tests share the folder).
    pub fn write(bytes: &[u8], name: &str) -> Pdf {
        assert!(bytes.starts_with(b"%PDF-"), "{name} is not a PDF");
        let dir = std::env::temp_dir().join(format!("anju-pdf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        std::fs::write(&file, bytes).unwrap();
        Pdf { file }
    }

    /// The text as `pdftotext -layout` lays it out.
    pub fn text(&self) -> String {
        let out = Command::new("pdftotext")
            .args(["-layout", self.path(), "-"])
            .output()
            .expect("pdftotext (Debian poppler-utils) is needed to re-read PDFs");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    /// The text without the spaces: typst sets a thin space between Chinese and Latin text.
    pub fn text_without_spaces(&self) -> String {
        self.text().chars().filter(|c| *c != ' ').collect()
    }

    /// How many pages `pdfinfo` counts.
    pub fn pages(&self) -> usize {
        let info = Command::new("pdfinfo")
            .arg(&self.file)
            .output()
            .expect("pdfinfo");
        String::from_utf8_lossy(&info.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().unwrap()))
            .unwrap()
    }

    /// Keeps a PNG of the first page at `dpi`, named `name`.png, to look at.
    pub fn screenshot(&self, name: &str, dpi: u32) {
        let shots =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let _ = Command::new("pdftoppm")
            .args(["-png", "-r", &dpi.to_string(), "-singlefile", self.path()])
            .arg(shots.join(name))
            .status();
    }

    fn path(&self) -> &str {
        self.file.to_str().unwrap()
    }
}
