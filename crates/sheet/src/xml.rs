//! A pull parser over one xlsx part with the crate's defences applied: a byte budget per event,
//! a nesting limit, no DTD entity expansion, and every error turned into a [`SheetError`] naming
//! the part.

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::SheetError;
use crate::guard::{Budget, is_exhausted};

/// How deep elements may nest. Worksheets nest about eight levels; the parser keeps a stack of
/// open element names, which deeper nesting would grow as fast as the part inflates.
const MAX_DEPTH: usize = 100;

/// The events of one part, read one at a time into a reused buffer.
pub(crate) struct XmlStream<R> {
    reader: Reader<Budget<R>>,
    buf: Vec<u8>,
    part: String,
    depth: usize,
}

impl<R: BufRead> XmlStream<R> {
    /// `event_budget` bounds the bytes of any single event (a tag, a run of text).
    pub(crate) fn new(inner: R, part: &str, event_budget: u64) -> Self {
        Self {
            reader: Reader::from_reader(Budget::new(inner, event_budget)),
            buf: Vec::new(),
            part: part.to_owned(),
            depth: 0,
        }
    }

    pub(crate) fn part(&self) -> &str {
        &self.part
    }

    /// The next event; `Event::Eof` at the end.
    pub(crate) fn next(&mut self) -> Result<Event<'_>, SheetError> {
        self.buf.clear();
        self.reader.get_mut().reset();
        let budget = self.reader.get_ref().limit();
        let position = self.reader.buffer_position();
        let part = &self.part;
        let event = self
            .reader
            .read_event_into(&mut self.buf)
            .map_err(|err| match err {
                quick_xml::Error::Io(io) if is_exhausted(&io) => {
                    SheetError::oversized_element(part, budget)
                }
                quick_xml::Error::Io(io) => {
                    SheetError::from_io(&io).unwrap_or_else(|| SheetError::read_failed(&io))
                }
                other => SheetError::malformed(part, format!("{other} near byte {position}")),
            })?;
        match event {
            Event::Start(_) if self.depth == MAX_DEPTH => {
                let detail = format!("elements nest deeper than {MAX_DEPTH} near byte {position}");
                return Err(SheetError::malformed(part, detail));
            }
            Event::Start(_) => self.depth += 1,
            Event::End(_) => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Ok(event)
    }

    /// The reader beneath the parser, for draining what is left after the last useful event.
    pub(crate) fn inner_mut(&mut self) -> &mut R {
        self.reader.get_mut().get_mut()
    }
}

/// The value of the attribute whose local name is `name` (`r`, `t`, `id` of `r:id`).
pub(crate) fn attribute(
    start: &BytesStart<'_>,
    name: &str,
    part: &str,
) -> Result<Option<String>, SheetError> {
    for attr in attributes(start, part) {
        let attr = attr?;
        if attr.key.local_name().as_ref() == name {
            return value(&attr, part).map(|value| Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// The attributes of a tag, for callers that want several of them in one pass.
pub(crate) fn attributes<'a>(
    start: &'a BytesStart<'_>,
    part: &'a str,
) -> impl Iterator<Item = Result<Attribute<'a>, SheetError>> + 'a {
    start
        .attributes()
        .map(move |attr| attr.map_err(|err| SheetError::malformed(part, err.to_string())))
}

/// An attribute's value with references resolved; borrowed when there were none.
pub(crate) fn value<'a>(attr: &Attribute<'a>, part: &str) -> Result<Cow<'a, str>, SheetError> {
    attr.normalized_value(XmlVersion::Implicit1_0)
        .map_err(|err| SheetError::malformed(part, err.to_string()))
}

/// Appends the text of a reference: a character reference or one of the five predefined
/// entities. Anything else would need the DTD, which is never read — so no entity expansion
/// (and no "billion laughs") is possible.
pub(crate) fn push_reference(
    text: &mut String,
    reference: &BytesRef<'_>,
    part: &str,
) -> Result<(), SheetError> {
    match reference.resolve_char_ref() {
        Ok(Some(ch)) => text.push(ch),
        Ok(None) => match resolve_predefined_entity(reference) {
            Some(resolved) => text.push_str(resolved),
            None => {
                return Err(SheetError::malformed(
                    part,
                    format!("unknown entity &{};", &**reference),
                ));
            }
        },
        Err(err) => return Err(SheetError::malformed(part, err.to_string())),
    }
    Ok(())
}

/// Appends the text an event contributes to character data, if any: text (line ends
/// normalised), CDATA, or a reference.
pub(crate) fn push_text(
    text: &mut String,
    event: &Event<'_>,
    part: &str,
) -> Result<(), SheetError> {
    match event {
        Event::Text(t) => text.push_str(&t.xml10_content()),
        Event::CData(c) => text.push_str(&c.xml10_content()),
        Event::GeneralRef(r) => push_reference(text, r, part)?,
        _ => {}
    }
    Ok(())
}
