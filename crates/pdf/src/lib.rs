//! PDFs typeset with typst as a library. Templates are embedded; the data of a document is
//! handed to its template as `/data.json`, never spliced into markup. Typst has no CJK font of
//! its own: [`Fonts::load`] reads Noto CJK (Debian `fonts-noto-cjk`) or WenQuanYi from the
//! configured directories and fails with a clear message when there is none.
#![forbid(unsafe_code)]

use anju_domain::ledger::LedgerTable;
use anju_render::Header;
use std::path::{Path, PathBuf};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

const LEDGER_TEMPLATE: &str = include_str!("../templates/ledger.typ");
const CIRCULAR_TEMPLATE: &str = include_str!("../templates/circular.typ");
const PLAQUES_TEMPLATE: &str = include_str!("../templates/plaques.typ");
const NOTICE_TEMPLATE: &str = include_str!("../templates/notice.typ");

/// Font families tried in order; the first present is used for Chinese text.
const CJK_FAMILIES: &[&str] = &[
    "Noto Serif CJK SC",
    "Noto Sans CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
];

/// Where Debian puts the fonts we look for.
pub fn default_font_dirs() -> Vec<PathBuf> {
    vec![
        PathBuf::from("/usr/share/fonts/opentype/noto"),
        PathBuf::from("/usr/share/fonts/truetype/wqy"),
        PathBuf::from("/usr/share/fonts/truetype/noto"),
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No usable Chinese font in the configured directories.
    #[error(
        "未找到中文字体：请安装 fonts-noto-cjk（或 fonts-wqy-microhei），或配置字体目录（已查找：{0}）"
    )]
    NoCjkFont(String),
    #[error("PDF 排版失败：{0}")]
    Typeset(String),
}

/// The fonts loaded once at start and shared by every document.
pub struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    families: Vec<String>,
}

impl Fonts {
    /// Loads every `.ttf`, `.otf`, `.ttc` and `.otc` font in `dirs` (not recursively).
    pub fn load(dirs: &[PathBuf]) -> Result<Fonts, PdfError> {
        let mut fonts = Vec::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                if is_font(&path)
                    && let Ok(data) = std::fs::read(&path)
                {
                    fonts.extend(Font::iter(Bytes::new(data)));
                }
            }
        }
        let book = FontBook::from_fonts(&fonts);
        let families: Vec<String> = CJK_FAMILIES
            .iter()
            .filter(|f| book.contains_family(&f.to_lowercase()))
            .map(|f| f.to_string())
            .collect();
        if families.is_empty() {
            let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            return Err(PdfError::NoCjkFont(looked.join("，")));
        }
        Ok(Fonts {
            book: LazyHash::new(book),
            fonts,
            families,
        })
    }

    /// The CJK families found, in the order the templates try them.
    pub fn families(&self) -> &[String] {
        &self.families
    }
}

fn is_font(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("ttf" | "otf" | "ttc" | "otc")
    )
}

/// One document: its template as the main source, its data as `/data.json`.
struct Document<'a> {
    library: LazyHash<Library>,
    fonts: &'a Fonts,
    main: Source,
    data_id: FileId,
    data: Bytes,
}

impl World for Document<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.fonts.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.fonts.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        // Documents carry their own dates in the data; typst's clock is not used.
        None
    }
}

fn path(p: &str) -> FileId {
    RootedPath::new(
        VirtualRoot::Project,
        VirtualPath::new(p).expect("valid path"),
    )
    .intern()
}

/// Typesets `template` with `data` into PDF bytes.
fn typeset(fonts: &Fonts, template: &str, data: &serde_json::Value) -> Result<Vec<u8>, PdfError> {
    let doc = Document {
        library: LazyHash::new(Library::builder().build()),
        fonts,
        main: Source::new(path("/main.typ"), template.to_string()),
        data_id: path("/data.json"),
        data: Bytes::new(serde_json::to_vec(data).expect("JSON serializes")),
    };
    let result = typst::compile::<PagedDocument>(&doc).output;
    let document = result.map_err(|errs| PdfError::Typeset(messages(&errs)))?;
    let pdf = typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default())
        .map_err(|errs| PdfError::Typeset(messages(&errs)));
    // A long-running server must not keep every compiled document in typst's memo cache.
    typst::comemo::evict(10);
    pdf
}

/// Typesets `template` with `doc`'s fields and, as `fonts`, the families `fonts` holds.
fn typeset_with_fonts(
    fonts: &Fonts,
    template: &str,
    doc: &impl serde::Serialize,
) -> Result<Vec<u8>, PdfError> {
    let mut data = serde_json::to_value(doc).expect("serializes");
    data["fonts"] = serde_json::json!(fonts.families());
    typeset(fonts, template, &data)
}

fn messages(errs: &[typst::diag::SourceDiagnostic]) -> String {
    errs.iter()
        .map(|e| e.message.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A ledger as a PDF laid out like the notice's form, with blank signature and seal spaces.
pub fn ledger(fonts: &Fonts, table: &LedgerTable, header: &Header) -> Result<Vec<u8>, PdfError> {
    let (head, _) = anju_render::header_cells(table);
    let rows: Vec<Vec<String>> = table
        .all_rows()
        .map(|r| {
            std::iter::once(r.name.clone())
                .chain(r.cells(table.form).into_iter().map(|(c, _)| c.display()))
                .collect()
        })
        .collect();
    let data = serde_json::json!({
        "form": table.form.number(),
        "title": anju_render::title(table),
        "header": header,
        "fonts": fonts.families(),
        "columns": table.form.headings().len() + 1,
        "head": head,
        "rows": rows,
    });
    typeset(fonts, LEDGER_TEMPLATE, &data)
}

/// A circular (通报) or any titled table document: paragraphs, a table, notes, and the issuing
/// office with its date at the foot.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Circular {
    pub title: String,
    pub subtitle: String,
    pub intro: Vec<String>,
    pub headers: Vec<String>,
    /// Relative column widths, one per header.
    pub widths: Vec<u32>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
    /// The issuing office and date, right-aligned at the end.
    pub signature: String,
    pub landscape: bool,
}

/// Typesets a [`Circular`].
pub fn circular(fonts: &Fonts, doc: &Circular) -> Result<Vec<u8>, PdfError> {
    typeset_with_fonts(fonts, CIRCULAR_TEMPLATE, doc)
}

/// One plaque: the house code, its address, and the QR code as SVG text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Plaque {
    pub code: String,
    pub address: String,
    pub qr: String,
}

/// A sheet of plaques (one village), eight to a page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlaqueSheet {
    pub title: String,
    /// The office to call about a danger, printed on every plaque.
    pub contact: String,
    pub plaques: Vec<Plaque>,
}

/// Typesets a [`PlaqueSheet`].
pub fn plaques(fonts: &Fonts, sheet: &PlaqueSheet) -> Result<Vec<u8>, PdfError> {
    typeset_with_fonts(fonts, PLAQUES_TEMPLATE, sheet)
}

/// 房屋安全隐患告知书, with its receipt to be signed on service.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OwnerNotice {
    pub title: String,
    pub number: String,
    pub owner: String,
    pub code: String,
    pub address: String,
    /// Who found it: "（排查/专业技术人员复核/安全鉴定）".
    pub finding_by: String,
    /// What was found, e.g. "经安全鉴定为C级（局部危房）".
    pub finding: String,
    pub demands: Vec<String>,
    pub deadline: String,
    pub office: String,
    pub contact: String,
    pub date: String,
}

/// Typesets an [`OwnerNotice`].
pub fn owner_notice(fonts: &Fonts, notice: &OwnerNotice) -> Result<Vec<u8>, PdfError> {
    typeset_with_fonts(fonts, NOTICE_TEMPLATE, notice)
}
