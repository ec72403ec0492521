//! Readers that keep a hostile file from costing more than the limits allow: one counts the bytes
//! an archive entry inflates to, one bounds the bytes a single XML event or CSV record may span.

use std::io::{self, BufRead, Read};

use crate::SheetError;

/// The inflated bytes of one zip entry.
///
/// Fails the moment more bytes come out than the central directory declared (declared sizes are
/// checked against the limits before anything is inflated, so this also enforces the limits when
/// the declaration lies), and at the end checks the length and the CRC-32. Every error it returns
/// carries a [`SheetError`] naming the part.
pub(crate) struct EntryReader<R> {
    inner: R,
    part: String,
    declared: u64,
    produced: u64,
    expected_crc: u32,
    crc: crc32fast::Hasher,
}

impl<R: Read> EntryReader<R> {
    pub(crate) fn new(inner: R, part: &str, declared: u64, expected_crc: u32) -> Self {
        Self {
            inner,
            part: part.to_owned(),
            declared,
            produced: 0,
            expected_crc,
            crc: crc32fast::Hasher::new(),
        }
    }

    fn at_end(&self) -> io::Result<()> {
        if self.produced != self.declared {
            let detail = format!(
                "inflated to {} bytes, declared {}",
                self.produced, self.declared
            );
            return Err(SheetError::entry_corrupt(&self.part, detail).into_io());
        }
        if self.crc.clone().finalize() != self.expected_crc {
            return Err(SheetError::entry_corrupt(&self.part, "CRC-32 mismatch").into_io());
        }
        Ok(())
    }
}

impl<R: Read> Read for EntryReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|err| {
            SheetError::from_io(&err)
                .unwrap_or_else(|| SheetError::entry_corrupt(&self.part, err.to_string()))
                .into_io()
        })?;
        if n == 0 && !buf.is_empty() {
            self.at_end()?;
            return Ok(0);
        }
        self.produced += n as u64;
        if self.produced > self.declared {
            return Err(
                SheetError::entry_larger_than_declared(&self.part, self.declared).into_io(),
            );
        }
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// A byte budget for one unit of parsing (an XML event, a CSV record), reset by the parser
/// between units. It bounds the buffers that parsers grow while looking for the end of a unit —
/// an unclosed quote or a gigabyte-long text node fails here instead of filling memory.
pub(crate) struct Budget<R> {
    inner: R,
    used: u64,
    limit: u64,
}

impl<R> Budget<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            used: 0,
            limit,
        }
    }

    /// Starts a new unit.
    pub(crate) fn reset(&mut self) {
        self.used = 0;
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// Whether `err` is a [`Budget`] running out.
pub(crate) fn is_exhausted(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<Exhausted>().is_some())
}

impl<R: BufRead> BufRead for Budget<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.used > self.limit {
            return Err(io::Error::other(Exhausted));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.used = self.used.saturating_add(amount as u64);
        self.inner.consume(amount);
    }
}

impl<R: BufRead> Read for Budget<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[derive(Debug)]
struct Exhausted;

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("byte budget exhausted")
    }
}

impl std::error::Error for Exhausted {}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc(bytes: &[u8]) -> u32 {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(bytes);
        hasher.finalize()
    }

    #[test]
    fn an_entry_that_inflates_past_its_declared_size_is_refused_at_the_limit() {
        let data = vec![b' '; 10_000];
        let mut reader = EntryReader::new(&data[..], "xl/worksheets/sheet1.xml", 100, 0);
        let mut sink = Vec::new();
        let err = reader.read_to_end(&mut sink).unwrap_err();
        let refusal = SheetError::from_io(&err).expect("carries a SheetError");
        assert!(refusal.message().contains("xl/worksheets/sheet1.xml"));
        assert!(refusal.message().contains("疑似压缩炸弹"));
        // Refused within one read of the limit, not after reading everything.
        assert!(sink.len() <= 100);
    }

    #[test]
    fn an_entry_of_the_declared_size_and_checksum_reads_through() {
        let data = b"<sst/>".to_vec();
        let mut reader = EntryReader::new(&data[..], "xl/sharedStrings.xml", 6, crc(&data));
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn a_short_or_altered_entry_is_corrupt() {
        let data = b"<sst/>".to_vec();
        let mut short = EntryReader::new(&data[..], "a.xml", 7, crc(&data));
        assert!(short.read_to_end(&mut Vec::new()).is_err());
        let mut altered = EntryReader::new(&data[..], "a.xml", 6, crc(b"<sst />"));
        assert!(altered.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn a_budget_stops_a_unit_that_runs_long_until_reset() {
        let data = [b'x'; 100];
        let mut budget = Budget::new(&data[..], 10);
        let mut buf = [0u8; 8];
        budget.read_exact(&mut buf).unwrap();
        budget.read_exact(&mut buf).unwrap();
        let err = budget.read(&mut buf).unwrap_err();
        assert!(is_exhausted(&err));
        budget.reset();
        assert!(budget.read(&mut buf).is_ok());
    }
}
