//! A pull parser over one xlsx part with the crate's defences applied: a byte budget per event,
//! no DTD entity expansion, and every error turned into a [`SheetError`] that names the part.

use std::io::BufRead;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::SheetError;
use crate::guard::{Budget, is_exhausted};

/// The events of one part, read one at a time into a reused buffer.
pub(crate) struct XmlStream<R> {
    reader: Reader<Budget<R>>,
    buf: Vec<u8>,
    part: String,
}

impl<R: BufRead> XmlStream<R> {
    /// `event_budget` bounds the bytes of any single event (a tag, a run of text).
    pub(crate) fn new(inner: R, part: &str, event_budget: u64) -> Self {
        Self {
            reader: Reader::from_reader(Budget::new(inner, event_budget)),
            buf: Vec::new(),
            part: part.to_owned(),
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
        self.reader
            .read_event_into(&mut self.buf)
            .map_err(|err| match err {
                quick_xml::Error::Io(io) if is_exhausted(&io) => {
                    SheetError::oversized_element(part, budget)
                }
                quick_xml::Error::Io(io) => {
                    SheetError::from_io(&io).unwrap_or_else(|| SheetError::read_failed(&io))
                }
                other => SheetError::malformed(part, format!("{other} near byte {position}")),
            })
    }

    /// The reader beneath the parser, for draining what is left after the last useful event.
    pub(crate) fn inner_mut(&mut self) -> &mut R {
        self.reader.get_mut().get_mut()
    }
}

/// The value of the attribute whose local name is `name` (`r`, `t`, `id` of `r:id`), unescaped.
pub(crate) fn attribute(
    start: &BytesStart<'_>,
    name: &str,
    part: &str,
) -> Result<Option<String>, SheetError> {
    for attr in start.attributes() {
        let attr = attr.map_err(|err| SheetError::malformed(part, err.to_string()))?;
        if attr.key.local_name().as_ref() == name {
            return value(&attr, part).map(Some);
        }
    }
    Ok(None)
}

fn value(attr: &Attribute<'_>, part: &str) -> Result<String, SheetError> {
    attr.normalized_value(XmlVersion::Implicit1_0)
        .map(|value| value.into_owned())
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
