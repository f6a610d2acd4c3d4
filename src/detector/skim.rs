//! The skim: a record's top-level `eventSource` and `eventName` (and `userIdentity.type`, for
//! rules that route by caller type), found with a structural scan
//! instead of a full parse, so that records no rule wants cost little more than gunzip.
//!
//! **The skim never decides differently from the full parse.** It answers [`Skim::Known`] only
//! when the answer is certain, and [`Skim::Unknown`] otherwise, in which case the engine parses
//! the record in full and decides from that. It says `Unknown` for:
//! - a key containing an escape (`"event\u004eame"` decodes to `eventName`);
//! - `eventSource` or `eventName` appearing twice at the top level (the full parse refuses a
//!   record with a duplicate field: it is counted as skipped and reported, and must stay so);
//! - either value missing, not a string, holding an escape or a non-ASCII byte;
//! - `userIdentity` repeated or not an object, or its `type` repeated or not a plain string;
//! - anything structurally unexpected (not an object, truncated, stray bytes).
//!
//! Keys inside nested objects (`requestParameters.eventName`) are never taken for top-level ones.
//! What the skim does not check is the rest of the record: a record no rule wants is counted as
//! read whatever else it holds, since no rule would have looked at it (a full parse would have
//! counted a malformed one as skipped instead; neither raises an alert).
//!
//! **Duplicate top-level keys** resolve the way the full parse does, because the skim never
//! resolves them: the typed parse refuses a record that repeats a field it reads (serde's
//! "duplicate field"), so a repeated `eventSource`, `eventName`, `userIdentity` or
//! `userIdentity.type` makes the skim answer `Unknown`, the record goes to the full parse, and
//! it is counted as skipped and reported, never taken as the first or the last value.
//!
//! The scan calls [`skim_framed`] with the [`Landmarks`] the reader noted while framing the
//! record: the quotes at its top level and inside its `userIdentity`, and the backslashes
//! there. The skim then reads the top-level members from the list of top-level strings alone
//! (on valid JSON a string there is a key when a `:` follows it, else the string value of the
//! key before it) and `userIdentity`'s members from the strings noted inside it, never looking
//! at nested values. When the lists are incomplete (a huge record) it scans the bytes like
//! [`skim`]; on valid JSON both give the same answer (property test and fuzz target).

/// What the skim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skim<'a> {
    /// The top-level `eventSource` and `eventName`, and `userIdentity.type` (rules can route by
    /// caller type), exactly as the full parse would read them.
    Known {
        /// `eventSource`.
        source: &'a str,
        /// `eventName`.
        name: &'a str,
        /// `userIdentity.type`; `None` when the record has no `userIdentity` or it has no `type`.
        identity_type: Option<&'a str>,
    },
    /// Not certain: parse the record in full.
    Unknown,
}

/// Skims one record's bytes (a whole JSON object, as the log reader frames it).
pub fn skim(record: &[u8]) -> Skim<'_> {
    skim_fields(record).unwrap_or(Skim::Unknown)
}

/// Like [`skim`], with the landmarks the reader's framing found in the same bytes: it reads
/// the record's strings from the lists instead of scanning for them. On valid JSON the answer
/// is [`skim`]'s; on anything else it is still never different from the full parse's reading
/// when it says [`Skim::Known`] and the full parse accepts the record.
pub fn skim_framed<'a>(record: &'a [u8], landmarks: &'a Landmarks) -> Skim<'a> {
    skim_reading(record, landmarks, &Wanted::default(), &mut [])
}

/// Like [`skim_framed`], also reading the `wanted` fields' values into `reads` (one each, see
/// [`Wanted::read_index`]); they are meaningful only when the answer is [`Skim::Known`].
pub fn skim_reading<'a>(
    record: &'a [u8],
    landmarks: &'a Landmarks,
    wanted: &Wanted,
    reads: &mut [FieldRead],
) -> Skim<'a> {
    if !landmarks.complete {
        reads.fill(FieldRead::Unsure);
        return skim(record);
    }
    reads.fill(FieldRead::Absent);
    let skimmed = if wanted.is_empty() {
        framed_fields::<false>(record, landmarks, wanted, reads)
    } else {
        framed_fields::<true>(record, landmarks, wanted, reads)
    };
    skimmed.unwrap_or(Skim::Unknown)
}

/// Where a record's shallow strings are, found while framing it. Offsets are from the
/// record's first byte; each list is in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Landmarks {
    /// Every unescaped `"` at the record's top level (its members' keys and string values),
    /// so opening and closing quotes alternate.
    pub top_quotes: Vec<u32>,
    /// Every unescaped `"` of the members of the `userIdentity` object starting at
    /// `identity_at` (not of values nested deeper).
    pub identity_quotes: Vec<u32>,
    /// Where the `userIdentity` value whose members `identity_quotes` holds starts (its `{`),
    /// when framing recognised its key; the skim scans any other one.
    pub identity_at: Option<u32>,
    /// Every backslash at the top level and among those members.
    pub backslashes: Vec<u32>,
    /// Whether the lists hold every one (false past a cap: the skim then scans the bytes).
    pub complete: bool,
}

/// A string field read at most once: a second occurrence makes the skim unsure.
#[derive(Default)]
struct Once<'a> {
    seen: bool,
    value: Option<&'a str>,
}

impl<'a> Once<'a> {
    /// Reads the plain string value at `b[i]`; `None` (unsure) for a repeat, an escape, a
    /// non-ASCII byte or another JSON type.
    fn read(&mut self, b: &'a [u8], i: usize) -> Option<usize> {
        if std::mem::replace(&mut self.seen, true) || b.get(i) != Some(&b'"') {
            return None;
        }
        let (value, after, escaped) = string_span(b, i)?;
        self.value = Some(plain_ascii(value, escaped)?);
        Some(after)
    }

    /// The same for a member found in the landmarks.
    fn read_framed(
        &mut self,
        b: &'a [u8],
        member: &FramedMember<'a>,
        escapes: &mut Escapes<'_>,
    ) -> Option<()> {
        if std::mem::replace(&mut self.seen, true) {
            return None;
        }
        let (start, end) = member.value_quotes?;
        let escaped = escapes.within(start, end);
        self.value = Some(plain_ascii(&b[start + 1..end], escaped)?);
        Some(())
    }
}

/// The string's contents when they need no decoding and are ASCII.
fn plain_ascii(value: &[u8], escaped: bool) -> Option<&str> {
    if escaped || !value.is_ascii() {
        return None;
    }
    std::str::from_utf8(value).ok()
}

fn skim_fields(b: &[u8]) -> Option<Skim<'_>> {
    let start = skip_ws(b, 0);
    let mut source = Once::default();
    let mut name = Once::default();
    let mut identity = Once::default();
    let mut seen_identity = false;
    let end = walk_object(b, start, |key, i| match key {
        b"eventSource" => source.read(b, i),
        b"eventName" => name.read(b, i),
        b"userIdentity" => {
            if std::mem::replace(&mut seen_identity, true) || b.get(i) != Some(&b'{') {
                return None;
            }
            identity_type_from_bytes(b, i, &mut identity)
        }
        _ => skip_value(b, i),
    })?;
    if skip_ws(b, end) != b.len() {
        return None;
    }
    Some(Skim::Known {
        source: source.value?,
        name: name.value?,
        identity_type: identity.value,
    })
}

/// Reads `type` from the `userIdentity` object starting at `b[i]`, scanning its bytes; returns
/// the index after the object (see [`walk_object`] for when it is unsure).
fn identity_type_from_bytes<'a>(b: &'a [u8], i: usize, identity: &mut Once<'a>) -> Option<usize> {
    walk_object(b, i, |key, j| match key {
        b"type" => identity.read(b, j),
        _ => skip_value(b, j),
    })
}

/// Walks the object starting at `b[i] == '{'`, calling `on_field(key, value_index)` for each
/// member, which returns the index after the value; returns the index after the object. `None`
/// for an escaped key, anything structurally unexpected, or when `on_field` is unsure.
fn walk_object<'a>(
    b: &'a [u8],
    i: usize,
    mut on_field: impl FnMut(&'a [u8], usize) -> Option<usize>,
) -> Option<usize> {
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (key, after_key, key_escaped) = string_span(b, i)?;
        if key_escaped {
            return None;
        }
        i = skip_ws(b, after_key);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        i = skip_ws(b, on_field(key, i)?);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(c) = b.get(i) {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// The contents of the string starting at `b[i] == '"'`, the index after its closing quote,
/// and whether it holds an escape.
fn string_span(b: &[u8], i: usize) -> Option<(&[u8], usize, bool)> {
    let start = i + 1;
    let mut j = start;
    let mut escaped = false;
    loop {
        let at = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[at] == b'"' {
            return Some((&b[start..at], at + 1, escaped));
        }
        escaped = true;
        j = at + 2;
    }
}

/// The index after the JSON value starting at `b[i]`. Containers are skipped by depth, strings
/// by their closing quote; scalars up to the next delimiter. Validation is the full parse's job.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_span(b, i).map(|(_, after, _)| after),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = string_span(b, j)?.1;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let rest = &b[i..];
            let len = rest
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(rest.len());
            (len > 0).then_some(i + len)
        }
    }
}

mod framed;
#[cfg(test)]
mod tests;

use framed::{Escapes, FramedMember, framed_fields};
pub use framed::{FieldRead, Wanted};
pub(crate) use framed::{framed_field_may, framed_members};
