//! The one error type: a Chinese message for the person who uploaded the file and an English
//! detail for the log, plus the constructors that keep the wording in one place.

use std::fmt;
use std::io;

/// Why a file was refused or could not be read.
///
/// [`message`](Self::message) is Chinese, actionable and safe to show to the uploader (it names the
/// row or the part of the file, never a path on the server); [`detail`](Self::detail) is English
/// and technical, for the log. `Display` shows the message.
#[derive(Clone, PartialEq, Eq)]
pub struct SheetError {
    message: String,
    detail: String,
}

impl SheetError {
    pub(crate) fn new(message: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            detail: detail.into(),
        }
    }

    /// The message for the uploader, in Chinese.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What went wrong, in English, for the log.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub(crate) fn not_a_spreadsheet(detail: impl Into<String>) -> Self {
        Self::new(
            "文件不是有效的 Excel（xlsx）或 CSV 文件，请检查后重新上传",
            detail,
        )
    }

    pub(crate) fn legacy_or_encrypted() -> Self {
        Self::new(
            "这是旧版 Excel（xls）文件或设置了打开密码的文件，暂不支持。请在 Excel 中取消密码，\
             另存为“Excel 工作簿（*.xlsx）”或“CSV UTF-8（逗号分隔）”后重新上传",
            "OLE compound file: legacy xls or an encrypted workbook",
        )
    }

    pub(crate) fn empty_file() -> Self {
        Self::new("文件是空的，请检查后重新上传", "empty file")
    }

    pub(crate) fn file_too_big(size: u64, limit: u64) -> Self {
        Self::new(
            format!("文件超过 {}，请拆分后分批导入", megabytes(limit)),
            format!("file is {size} bytes, limit {limit}"),
        )
    }

    pub(crate) fn not_utf8(row: Option<usize>, detail: impl Into<String>) -> Self {
        let place = row.map(|row| format!("第 {row} 行起")).unwrap_or_default();
        Self::new(
            format!(
                "CSV 文件{place}不是 UTF-8 编码（Excel 默认保存的 CSV 常是 GBK 编码）。\
                 请在 Excel 中选择“文件 → 另存为 → CSV UTF-8（逗号分隔）”后重新上传"
            ),
            detail,
        )
    }

    /// A CSV file read as GB18030 (Excel's "CSV" on a Chinese Windows) that is not that either.
    pub(crate) fn not_gbk(row: Option<usize>, detail: impl Into<String>) -> Self {
        let place = row.map(|row| format!("第 {row} 行起")).unwrap_or_default();
        Self::new(
            format!(
                "CSV 文件{place}既不是 UTF-8 编码，也不是 GBK（GB18030）编码，无法读取。\
                 请在 Excel 中选择“文件 → 另存为 → CSV UTF-8（逗号分隔）”后重新上传"
            ),
            detail,
        )
    }

    pub(crate) fn read_failed(err: &io::Error) -> Self {
        Self::new("读取文件失败，请重新上传", format!("I/O error: {err}"))
    }

    pub(crate) fn corrupt_archive(detail: impl Into<String>) -> Self {
        Self::new(
            "Excel 文件已损坏，无法读取。请在 Excel 中打开确认后重新保存为 xlsx 再上传",
            detail,
        )
    }

    pub(crate) fn too_many_entries(count: u64, limit: usize) -> Self {
        Self::new(
            format!(
                "压缩包内文件过多（{count} 个，上限 {limit} 个），不是正常的 Excel 文件，已拒绝"
            ),
            format!("zip holds {count} entries, limit {limit}"),
        )
    }

    pub(crate) fn entry_too_big(part: &str, declared: u64, limit: u64) -> Self {
        Self::new(
            format!(
                "压缩包中 {} 解压后超过 {}，疑似压缩炸弹，已拒绝",
                part_name(part),
                megabytes(limit)
            ),
            format!("entry {part:?} declares {declared} bytes, limit {limit}"),
        )
    }

    pub(crate) fn ratio_too_high(part: &str, ratio: u64, limit: u64) -> Self {
        Self::new(
            format!(
                "压缩包中 {} 的压缩比高达 {ratio} 倍（上限 {limit} 倍），疑似压缩炸弹，已拒绝",
                part_name(part)
            ),
            format!("entry {part:?} compression ratio {ratio}, limit {limit}"),
        )
    }

    pub(crate) fn entry_larger_than_declared(part: &str, declared: u64) -> Self {
        Self::new(
            format!(
                "压缩包中 {} 解压后的大小超过了文件自己声明的大小，疑似压缩炸弹或被篡改，已拒绝",
                part_name(part)
            ),
            format!("entry {part:?} inflates past its declared {declared} bytes"),
        )
    }

    pub(crate) fn entry_corrupt(part: &str, detail: impl Into<String>) -> Self {
        Self::new(
            format!(
                "Excel 文件中的 {} 已损坏，无法读取。请在 Excel 中打开确认后重新保存再上传",
                part_name(part)
            ),
            format!("entry {part:?}: {}", detail.into()),
        )
    }

    pub(crate) fn entry_unsupported(part: &str, detail: impl Into<String>) -> Self {
        Self::new(
            format!(
                "Excel 文件中的 {} 已加密或使用了不支持的压缩方式。请在 Excel 中取消密码并重新保存为 xlsx 再上传",
                part_name(part)
            ),
            format!("entry {part:?}: {}", detail.into()),
        )
    }

    pub(crate) fn malformed(part: &str, detail: impl Into<String>) -> Self {
        Self::new(
            format!(
                "Excel 文件中的 {} 格式错误，无法读取（文件可能已损坏）。请在 Excel 中打开确认后重新保存再上传",
                part_name(part)
            ),
            format!("{part:?} is malformed: {}", detail.into()),
        )
    }

    pub(crate) fn oversized_element(part: &str, limit: u64) -> Self {
        Self::new(
            format!(
                "Excel 文件中的 {} 含有超长的内容（单个元素超过 {}），已拒绝",
                part_name(part),
                megabytes(limit)
            ),
            format!("{part:?}: one XML event exceeds {limit} bytes"),
        )
    }

    pub(crate) fn no_worksheet() -> Self {
        Self::new(
            "Excel 文件中没有找到工作表，请检查后重新上传",
            "no worksheet found via xl/workbook.xml nor at xl/worksheets/sheet1.xml",
        )
    }

    pub(crate) fn too_many_columns(row: usize, limit: usize) -> Self {
        Self::new(
            format!("第 {row} 行超过 {limit} 列，请删除多余的列后重新上传"),
            format!("row {row} has more than {limit} columns"),
        )
    }

    pub(crate) fn cell_too_long(row: usize, column: usize, limit: usize) -> Self {
        Self::new(
            format!(
                "第 {row} 行 {} 列的内容超过 {limit} 个字符，请精简后重新上传",
                column_name(column)
            ),
            format!("row {row} column {column} exceeds {limit} characters"),
        )
    }

    pub(crate) fn record_too_long(row: usize, limit: u64) -> Self {
        Self::new(
            format!(
                "第 {row} 行的内容过长（超过 {}），请检查是否有未闭合的引号",
                megabytes(limit)
            ),
            format!("CSV record at row {row} exceeds {limit} bytes"),
        )
    }

    pub(crate) fn too_many_rows(row: usize, limit: usize) -> Self {
        Self::new(
            format!("第 {row} 行：数据超过 {limit} 行的上限，请拆分后分批导入"),
            format!("more than {limit} data rows (at row {row})"),
        )
    }

    pub(crate) fn bad_cell(
        row: usize,
        column: usize,
        part: &str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(
            format!(
                "第 {row} 行 {} 列的单元格无法读取（{} 格式错误，文件可能已损坏）",
                column_name(column),
                part_name(part)
            ),
            format!("{part:?} row {row} column {column}: {}", detail.into()),
        )
    }

    pub(crate) fn csv_malformed(row: usize, detail: impl Into<String>) -> Self {
        Self::new(format!("CSV 文件第 {row} 行格式错误，无法读取"), detail)
    }

    /// Wraps this error so that it can travel through `io::Read` and be recovered by
    /// [`SheetError::from_io`] on the other side of a decoder or parser.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(Carried(self))
    }

    /// The error carried by [`SheetError::into_io`], if `err` is one.
    pub(crate) fn from_io(err: &io::Error) -> Option<Self> {
        err.get_ref()?
            .downcast_ref::<Carried>()
            .map(|carried| carried.0.clone())
    }
}

impl fmt::Display for SheetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for SheetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SheetError({:?}; {})", self.message, self.detail)
    }
}

impl std::error::Error for SheetError {}

/// A [`SheetError`] inside an `io::Error`.
#[derive(Debug)]
struct Carried(SheetError);

impl fmt::Display for Carried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.detail)
    }
}

impl std::error::Error for Carried {}

/// The spreadsheet column name of a 0-based index: 0 → A, 25 → Z, 26 → AA.
pub(crate) fn column_name(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// A size limit as people read it: whole megabytes when it is one or more.
fn megabytes(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes >= MIB {
        format!("{} MB", bytes / MIB)
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// A part name fit for a message: names come from the file itself, so long ones are cut.
fn part_name(part: &str) -> String {
    const MAX: usize = 80;
    if part.chars().count() <= MAX {
        part.to_owned()
    } else {
        let cut: String = part.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_follow_excel() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(200), "GS");
        assert_eq!(column_name(16383), "XFD");
    }

    #[test]
    fn a_carried_error_survives_the_trip_through_io() {
        let err = SheetError::empty_file();
        let io = err.clone().into_io();
        assert_eq!(SheetError::from_io(&io), Some(err));
        assert_eq!(SheetError::from_io(&io::Error::other("plain")), None);
    }

    #[test]
    fn sizes_read_as_megabytes() {
        assert_eq!(megabytes(2 << 30), "2048 MB");
        assert_eq!(megabytes(1000), "1 KB");
    }
}
