//! The xlsx container: the zip central directory is read and judged before a single byte is
//! inflated, and every entry is then inflated through an [`EntryReader`] that holds it to its
//! declaration.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use zip::{CompressionMethod, ZipArchive};

use crate::guard::EntryReader;
use crate::{Limits, SheetError};

/// Entries at least this large must also respect [`Limits::max_ratio`]: small parts compress
/// unevenly and cannot hurt.
const RATIO_FLOOR: u64 = 1 << 20;

/// The inflated bytes of one entry, owning the file they come from.
pub(crate) type EntryStream = EntryReader<Box<dyn Read + Send>>;

/// The inflated bytes of one entry, borrowing the archive.
pub(crate) type PartReader<'a> = EntryReader<Box<dyn Read + Send + 'a>>;

/// An xlsx file whose central directory passed the checks.
pub(crate) struct Archive {
    zip: ZipArchive<BufReader<File>>,
    limits: Limits,
}

impl Archive {
    /// Reads and checks the central directory: entry count, each entry's declared size and
    /// compression ratio. Nothing is inflated here.
    pub(crate) fn open(mut file: File, len: u64, limits: &Limits) -> Result<Self, SheetError> {
        // Count the entries from the end record before the zip crate indexes them all.
        if let Some(count) =
            declared_entry_count(&mut file, len).map_err(|err| SheetError::read_failed(&err))?
            && count > limits.max_entries as u64
        {
            return Err(SheetError::too_many_entries(count, limits.max_entries));
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|err| SheetError::read_failed(&err))?;
        let zip = ZipArchive::new(BufReader::new(file))
            .map_err(|err| SheetError::corrupt_archive(format!("zip: {err}")))?;
        if zip.len() > limits.max_entries {
            return Err(SheetError::too_many_entries(
                zip.len() as u64,
                limits.max_entries,
            ));
        }
        for index in 0..zip.len() {
            let entry = zip
                .by_index_data(index)
                .map_err(|err| SheetError::corrupt_archive(format!("zip entry {index}: {err}")))?;
            let name = String::from_utf8_lossy(entry.name_raw());
            check_declared(&name, entry.size(), entry.compressed_size(), limits)?;
        }
        Ok(Self {
            zip,
            limits: *limits,
        })
    }

    /// The index of the entry called `name`.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.zip.index_for_name(name)
    }

    /// Inflates a part that will be held in memory, such as the shared strings: its declared
    /// size must also fit [`Limits::max_shared_strings_bytes`].
    pub(crate) fn part(&mut self, index: usize) -> Result<PartReader<'_>, SheetError> {
        let meta = self.meta(index)?;
        let limit = self.limits.max_shared_strings_bytes;
        if meta.size > limit {
            return Err(SheetError::entry_too_big(&meta.name, meta.size, limit));
        }
        let raw = self
            .zip
            .by_index_raw(index)
            .map_err(|err| SheetError::entry_corrupt(&meta.name, err.to_string()))?;
        let inflated = inflate(raw, &meta)?;
        Ok(EntryReader::new(inflated, &meta.name, meta.size, meta.crc))
    }

    /// Gives up the archive for a stream over one entry, for the worksheet that is read row by
    /// row long after the other parts are done with.
    pub(crate) fn into_stream(mut self, index: usize) -> Result<EntryStream, SheetError> {
        let meta = self.meta(index)?;
        let start = self
            .zip
            .by_index_raw(index)
            .map_err(|err| SheetError::entry_corrupt(&meta.name, err.to_string()))?
            .data_start()
            .ok_or_else(|| SheetError::entry_corrupt(&meta.name, "no data offset"))?;
        let mut file = self.zip.into_inner();
        file.seek(SeekFrom::Start(start))
            .map_err(|err| SheetError::read_failed(&err))?;
        let inflated = inflate(file.take(meta.compressed), &meta)?;
        Ok(EntryReader::new(inflated, &meta.name, meta.size, meta.crc))
    }

    fn meta(&self, index: usize) -> Result<EntryMeta, SheetError> {
        let entry = self
            .zip
            .by_index_data(index)
            .map_err(|err| SheetError::corrupt_archive(format!("zip entry {index}: {err}")))?;
        Ok(EntryMeta {
            name: String::from_utf8_lossy(entry.name_raw()).into_owned(),
            size: entry.size(),
            compressed: entry.compressed_size(),
            crc: entry.crc32(),
            method: entry.compression(),
            encrypted: entry.encrypted(),
        })
    }
}

/// What the central directory says about one entry.
struct EntryMeta {
    name: String,
    size: u64,
    compressed: u64,
    crc: u32,
    method: CompressionMethod,
    encrypted: bool,
}

/// The checks on one entry's declaration, made before inflating anything.
fn check_declared(
    name: &str,
    size: u64,
    compressed: u64,
    limits: &Limits,
) -> Result<(), SheetError> {
    if size > limits.max_entry_uncompressed {
        return Err(SheetError::entry_too_big(
            name,
            size,
            limits.max_entry_uncompressed,
        ));
    }
    if size >= RATIO_FLOOR {
        let ratio = size / compressed.max(1);
        if ratio > limits.max_ratio {
            return Err(SheetError::ratio_too_high(name, ratio, limits.max_ratio));
        }
    }
    Ok(())
}

/// The decompressor for an entry; xlsx uses deflate or nothing, anything else is refused.
fn inflate<'a, R: Read + Send + 'a>(
    raw: R,
    meta: &EntryMeta,
) -> Result<Box<dyn Read + Send + 'a>, SheetError> {
    if meta.encrypted {
        return Err(SheetError::entry_unsupported(&meta.name, "encrypted"));
    }
    if meta.method == CompressionMethod::DEFLATE {
        Ok(Box::new(flate2::read::DeflateDecoder::new(raw)))
    } else if meta.method == CompressionMethod::STORE {
        Ok(Box::new(raw))
    } else {
        Err(SheetError::entry_unsupported(
            &meta.name,
            format!("compression method {:?}", meta.method),
        ))
    }
}

/// The entry count in the end-of-central-directory record (or its zip64 twin), if one is found.
/// A hostile file could declare millions of entries; this lets [`Archive::open`] refuse it
/// before the zip crate builds an index of them. What it cannot read it leaves to the zip crate.
fn declared_entry_count(file: &mut File, len: u64) -> io::Result<Option<u64>> {
    const END: &[u8] = b"PK\x05\x06";
    const END_LEN: usize = 22;
    const LOCATOR: &[u8] = b"PK\x06\x07";
    const LOCATOR_LEN: usize = 20;
    const END64: &[u8] = b"PK\x06\x06";

    let tail_len = len.min((END_LEN + usize::from(u16::MAX)) as u64);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = Vec::new();
    file.by_ref().take(tail_len).read_to_end(&mut tail)?;
    let Some(end) = (0..tail.len().saturating_sub(END_LEN - 1))
        .rev()
        .find(|&at| tail[at..].starts_with(END))
    else {
        return Ok(None);
    };
    let count = u16::from_le_bytes([tail[end + 10], tail[end + 11]]);
    if count != u16::MAX {
        return Ok(Some(u64::from(count)));
    }
    // A zip64 archive: the locator just before the end record points at the zip64 record.
    let Some(locator) = end.checked_sub(LOCATOR_LEN) else {
        return Ok(None);
    };
    if !tail[locator..].starts_with(LOCATOR) {
        return Ok(None);
    }
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&tail[locator + 8..locator + 16]);
    let offset = u64::from_le_bytes(offset);
    if offset
        .checked_add(40)
        .is_none_or(|record_end| record_end > len)
    {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut record = [0u8; 40];
    file.read_exact(&mut record)?;
    if !record.starts_with(END64) {
        return Ok(None);
    }
    let mut count = [0u8; 8];
    count.copy_from_slice(&record[32..40]);
    Ok(Some(u64::from_le_bytes(count)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_size_over_the_limit_is_refused() {
        let limits = Limits::default();
        let err =
            check_declared("xl/worksheets/sheet1.xml", 3 << 30, 3 << 20, &limits).unwrap_err();
        assert!(err.message().contains("xl/worksheets/sheet1.xml"));
        assert!(err.message().contains("2048 MB"));
    }

    #[test]
    fn a_big_entry_that_compresses_too_well_is_refused_but_a_small_one_is_not() {
        let limits = Limits::default();
        assert!(check_declared("a.xml", 300 << 20, 300 << 10, &limits).is_err());
        assert!(check_declared("a.xml", 1000, 1, &limits).is_ok());
        assert!(check_declared("a.xml", 10 << 20, 1 << 20, &limits).is_ok());
    }
}
