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
    if !landmarks.complete {
        return skim(record);
    }
    framed_fields(record, landmarks).unwrap_or(Skim::Unknown)
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

impl Landmarks {
    /// No landmarks: the skim scans everything.
    pub const NONE: Landmarks = Landmarks {
        top_quotes: Vec::new(),
        identity_quotes: Vec::new(),
        identity_at: None,
        backslashes: Vec::new(),
        complete: false,
    };
}

/// The skim over the landmarks. A string of a level's list is a member's key when a `:`
/// follows it; its value starts after the `:` and, when it is a string, is the next string of
/// the list. Keys with an escape, repeats and values of the wrong type make it unsure, as in
/// [`skim_fields`].
fn framed_fields<'a>(b: &'a [u8], marks: &'a Landmarks) -> Option<Skim<'a>> {
    let mut escapes = Escapes {
        at: &marks.backslashes,
        next: 0,
    };
    let mut source = Once::default();
    let mut name = Once::default();
    let mut identity = Once::default();
    let mut seen_identity = false;
    let top = &marks.top_quotes;
    let mut k = 0;
    while k < top.len() {
        let member = framed_member(b, top, k, &mut escapes)?;
        if !member.may_be_read {
            k = member.next;
            continue;
        }
        match member.key {
            b"eventSource" => source.read_framed(b, &member, &mut escapes)?,
            b"eventName" => name.read_framed(b, &member, &mut escapes)?,
            b"userIdentity" => {
                if std::mem::replace(&mut seen_identity, true) || b[member.value] != b'{' {
                    return None;
                }
                if marks.identity_at != Some(member.value as u32) {
                    // Framing did not note this object's strings: read it from the bytes.
                    walk_object(b, member.value, |key, j| match key {
                        b"type" => identity.read(b, j),
                        _ => skip_value(b, j),
                    })?;
                    k = member.next;
                    continue;
                }
                // Its members' strings: those noted inside it, before the next top-level key.
                let bound = top.get(member.next).map_or(b.len(), |&q| q as usize);
                let noted = &marks.identity_quotes;
                let from = noted.partition_point(|&q| (q as usize) < member.value);
                let to = from + noted[from..].partition_point(|&q| (q as usize) < bound);
                let inner = &noted[from..to];
                let mut j = 0;
                while j < inner.len() {
                    let field = framed_member(b, inner, j, &mut escapes)?;
                    if field.key == b"type" {
                        identity.read_framed(b, &field, &mut escapes)?;
                    }
                    j = field.next;
                }
            }
            _ => {}
        }
        k = member.next;
    }
    Some(Skim::Known {
        source: source.value?,
        name: name.value?,
        identity_type: identity.value,
    })
}

/// One member read from a level's list of quotes.
struct FramedMember<'a> {
    key: &'a [u8],
    /// False when the key cannot be one the skim reads (its first bytes say so).
    may_be_read: bool,
    /// Where the value starts.
    value: usize,
    /// The value's opening and closing quotes when it is a string.
    value_quotes: Option<(usize, usize)>,
    /// The index in the list of the next member's key.
    next: usize,
}

/// The first eight bytes of a key (with what follows it when shorter), read as one word.
#[inline(always)]
fn key_head(b: &[u8], open: usize) -> u64 {
    b.get(open + 1..open + 9).map_or(0, |head| {
        u64::from_le_bytes(head.try_into().expect("eight bytes"))
    })
}

/// Heads of the top-level keys the skim reads (`eventSource`, `eventName`, `userIdentity`);
/// a key shorter than eight bytes is compared in full.
const READ_HEADS: [u64; 3] = [
    u64::from_le_bytes(*b"eventSou"),
    u64::from_le_bytes(*b"eventNam"),
    u64::from_le_bytes(*b"userIden"),
];

/// The member whose key is the string at `quotes[k]`; `None` (unsure) when that string has an
/// escape or is not followed by `:`, or a string value is not where the list says. Written
/// to branch only on what is nearly always the same, since it runs for every member.
#[inline(always)]
fn framed_member<'a>(
    b: &'a [u8],
    quotes: &[u32],
    k: usize,
    escapes: &mut Escapes<'_>,
) -> Option<FramedMember<'a>> {
    let (open, close) = (*quotes.get(k)? as usize, *quotes.get(k + 1)? as usize);
    let colon = skip_ws(b, close + 1);
    let value = skip_ws(b, colon + 1);
    let is_string = b.get(value) == Some(&b'"');
    let quote_at = |i: usize| quotes.get(i).map_or(usize::MAX, |&q| q as usize);
    let (start, end) = (quote_at(k + 2), quote_at(k + 3));
    let well_placed = b.get(colon) == Some(&b':')
        && close < b.len()
        && (!is_string || (start == value && end < b.len()));
    if !well_placed || escapes.within(open, close) {
        return None;
    }
    let key = &b[open + 1..close];
    let head = key_head(b, open);
    let may_be_read = key.len() < 8 || READ_HEADS.contains(&head);
    Some(FramedMember {
        key,
        may_be_read,
        value,
        value_quotes: is_string.then_some((start, end)),
        next: k + 2 + 2 * is_string as usize,
    })
}

/// The backslashes the framing noted, looked up in increasing position order.
struct Escapes<'a> {
    at: &'a [u32],
    next: usize,
}

impl Escapes<'_> {
    /// Whether a backslash lies between `open` and `close` (queries come in increasing order).
    fn within(&mut self, open: usize, close: usize) -> bool {
        while self.at.get(self.next).is_some_and(|&p| (p as usize) < open) {
            self.next += 1;
        }
        self.at
            .get(self.next)
            .is_some_and(|&p| (p as usize) < close)
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
            walk_object(b, i, |key, j| match key {
                b"type" => identity.read(b, j),
                _ => skip_value(b, j),
            })
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

#[cfg(test)]
mod tests;
