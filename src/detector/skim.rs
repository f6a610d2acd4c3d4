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
//! record (every quote, and the nested values' extents), so the skim jumps from string to
//! string; a landmark that does not fit is ignored, and on valid JSON the answer is the same as
//! [`skim`]'s (property test and fuzz target).

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

use std::cell::Cell;

/// Skims one record's bytes (a whole JSON object, as the log reader frames it).
pub fn skim(record: &[u8]) -> Skim<'_> {
    static NO_LANDMARKS: Landmarks = Landmarks::NONE;
    skim_fields(&Walker::new(record, &NO_LANDMARKS)).unwrap_or(Skim::Unknown)
}

/// Like [`skim`], with the landmarks the reader's framing found in the same bytes: the skim
/// jumps from string to string and over nested values instead of scanning for them. A
/// landmark that does not fit (none is recorded where the skim looks) is ignored and the
/// bytes are scanned, so landmarks can change the speed, never the answer.
pub fn skim_framed<'a>(record: &'a [u8], landmarks: &'a Landmarks) -> Skim<'a> {
    skim_fields(&Walker::new(record, landmarks)).unwrap_or(Skim::Unknown)
}

/// Where a record's strings and nested values are, found while framing it. Offsets are from
/// the record's first byte.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Landmarks {
    /// Every unescaped `"`, in order (so opening and closing quotes alternate), up to a cap.
    pub quotes: Vec<u32>,
    /// Containers at depth 2 and 3 (a top-level member's value and its members' values), in
    /// order of their opening bracket, as (start, end exclusive); up to a cap.
    pub containers: Vec<(u32, u32)>,
    /// Every backslash, in order, when `backslashes_complete`.
    pub backslashes: Vec<u32>,
    /// Whether `backslashes` holds all of them (else strings are searched for one).
    pub backslashes_complete: bool,
}

impl Landmarks {
    /// No landmarks: the skim scans everything.
    pub const NONE: Landmarks = Landmarks {
        quotes: Vec::new(),
        containers: Vec::new(),
        backslashes: Vec::new(),
        backslashes_complete: false,
    };
}

/// The skim's reading of one record: scanning, helped by landmarks when they fit.
struct Walker<'a> {
    b: &'a [u8],
    marks: &'a Landmarks,
    /// Where to look next in `marks.quotes` and `marks.containers` (the walk only goes forward).
    quote_at: Cell<usize>,
    container_at: Cell<usize>,
}

impl<'a> Walker<'a> {
    fn new(b: &'a [u8], marks: &'a Landmarks) -> Self {
        Walker {
            b,
            marks,
            quote_at: Cell::new(0),
            container_at: Cell::new(0),
        }
    }

    /// The contents of the string starting at `b[i] == '"'`, the index after its closing
    /// quote, and whether it holds an escape.
    fn string(&self, i: usize) -> Option<(&'a [u8], usize, bool)> {
        let quotes = &self.marks.quotes;
        let mut k = self.quote_at.get();
        if quotes.get(k).is_none_or(|&q| q as usize != i) {
            k += quotes.get(k..)?.partition_point(|&q| (q as usize) < i);
        }
        match (quotes.get(k), quotes.get(k + 1)) {
            (Some(&open), Some(&close))
                if open as usize == i && (close as usize) < self.b.len() =>
            {
                self.quote_at.set(k + 2);
                let (content, after) = (&self.b[i + 1..close as usize], close as usize + 1);
                let escaped = if self.marks.backslashes_complete {
                    let all = &self.marks.backslashes;
                    let next = all.partition_point(|&at| (at as usize) <= i);
                    all.get(next).is_some_and(|&at| at < close)
                } else {
                    memchr::memchr(b'\\', content).is_some()
                };
                Some((content, after, escaped))
            }
            _ => string_span(self.b, i),
        }
    }

    /// The index after the JSON value starting at `b[i]`.
    fn skip(&self, i: usize) -> Option<usize> {
        match *self.b.get(i)? {
            b'"' => self.string(i).map(|(_, after, _)| after),
            b'{' | b'[' => {
                let containers = &self.marks.containers;
                let mut k = self.container_at.get();
                if containers
                    .get(k)
                    .is_none_or(|&(start, _)| start as usize != i)
                {
                    k += containers
                        .get(k..)?
                        .partition_point(|&(start, _)| (start as usize) < i);
                }
                match containers.get(k) {
                    Some(&(start, end))
                        if start as usize == i
                            && end as usize > i
                            && end as usize <= self.b.len() =>
                    {
                        self.container_at.set(k + 1);
                        Some(end as usize)
                    }
                    _ => skip_value(self.b, i),
                }
            }
            _ => skip_value(self.b, i),
        }
    }
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
    fn read(&mut self, w: &Walker<'a>, i: usize) -> Option<usize> {
        if std::mem::replace(&mut self.seen, true) || w.b.get(i) != Some(&b'"') {
            return None;
        }
        let (value, after, escaped) = w.string(i)?;
        if escaped || !value.is_ascii() {
            return None;
        }
        self.value = Some(std::str::from_utf8(value).ok()?);
        Some(after)
    }
}

fn skim_fields<'a>(w: &Walker<'a>) -> Option<Skim<'a>> {
    let b = w.b;
    let start = skip_ws(b, 0);
    let mut source = Once::default();
    let mut name = Once::default();
    let mut identity = Once::default();
    let mut seen_identity = false;
    let end = walk_object(w, start, |key, i| match key {
        b"eventSource" => source.read(w, i),
        b"eventName" => name.read(w, i),
        b"userIdentity" => {
            if std::mem::replace(&mut seen_identity, true) || b.get(i) != Some(&b'{') {
                return None;
            }
            walk_object(w, i, |key, j| match key {
                b"type" => identity.read(w, j),
                _ => w.skip(j),
            })
        }
        _ => w.skip(i),
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

/// Walks the object starting at `b[i] == '{'`, calling `on_field(key, value_index)` for each
/// member, which returns the index after the value; returns the index after the object. `None`
/// for an escaped key, anything structurally unexpected, or when `on_field` is unsure.
fn walk_object<'a>(
    w: &Walker<'a>,
    i: usize,
    mut on_field: impl FnMut(&'a [u8], usize) -> Option<usize>,
) -> Option<usize> {
    let b = w.b;
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
        let (key, after_key, key_escaped) = w.string(i)?;
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

#[cfg(test)]
mod tests;
