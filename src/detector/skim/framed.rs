//! The skim over the landmarks framing noted: members read from the lists of quotes instead
//! of the bytes (see the parent module for what the skim promises).

use super::{Landmarks, Once, Skim, identity_type_from_bytes, skip_ws};

/// The skim over the landmarks. A string of a level's list is a member's key when a `:`
/// follows it; its value starts after the `:` and, when it is a string, is the next string of
/// the list. Keys with an escape, repeats and values of the wrong type make it unsure, as in
/// [`skim_fields`].
/// `CAPTURE` false skips the `wanted` fields altogether (the scan without text gates).
pub(super) fn framed_fields<'a, const CAPTURE: bool>(
    b: &'a [u8],
    marks: &'a Landmarks,
    wanted: &Wanted,
    reads: &mut [FieldRead],
) -> Option<Skim<'a>> {
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
        let captured = CAPTURE && wanted.heads.contains(&member.head);
        if !(member.may_be_read || captured) {
            k = member.next;
            continue;
        }
        // Before the skim's own keys: a gate may read eventName or userIdentity too.
        if CAPTURE && let Some(at) = wanted.top_slot(member.key) {
            reads[at].note(&member, &mut escapes);
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
                    identity_type_from_bytes(b, member.value, &mut identity)?;
                    if CAPTURE {
                        wanted.unsure_in_identity(reads);
                    }
                    k = member.next;
                    continue;
                }
                let inner = identity_members(b, marks, &member);
                let mut j = 0;
                while j < inner.len() {
                    let field = framed_member(b, inner, j, &mut escapes)?;
                    if CAPTURE && let Some(at) = wanted.identity_slot(field.key) {
                        reads[at].note(&field, &mut escapes);
                    }
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

/// The strings framing noted among the members of the `userIdentity` object that `member`
/// holds: those inside it, before the next top-level key.
fn identity_members<'m>(b: &[u8], marks: &'m Landmarks, member: &FramedMember<'_>) -> &'m [u32] {
    let bound = marks
        .top_quotes
        .get(member.next)
        .map_or(b.len(), |&q| q as usize);
    let noted = &marks.identity_quotes;
    let from = noted.partition_point(|&q| (q as usize) < member.value);
    let to = from + noted[from..].partition_point(|&q| (q as usize) < bound);
    &noted[from..to]
}

/// One member read from a level's list of quotes.
pub(super) struct FramedMember<'a> {
    pub(super) key: &'a [u8],
    /// False when the key cannot be one the skim reads (its first bytes say so).
    pub(super) may_be_read: bool,
    /// Where the value starts.
    pub(super) value: usize,
    /// The value's opening and closing quotes when it is a string.
    pub(super) value_quotes: Option<(usize, usize)>,
    /// The index in the list of the next member's key.
    pub(super) next: usize,
    /// The key's first eight bytes as one word (see [`key_head`]).
    pub(super) head: u64,
}

/// Fields the skim also reads for text gates, by key: members of the record and of its
/// `userIdentity` object. Their values land in a [`FieldRead`] each, top-level keys first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    top: Vec<Box<[u8]>>,
    identity: Vec<Box<[u8]>>,
    /// [`key_head`]s of the top-level keys of eight bytes or more, for the skim's prefilter.
    heads: Vec<u64>,
}

impl Wanted {
    /// Adds a Sigma field path the skim can read (`userAgent`, `userIdentity.arn`) and returns
    /// the slots its values land in: the member of that name, and for a `userIdentity` member
    /// also a top-level key spelled as the whole path (a JSON event tries that first). `None`
    /// for any other path.
    pub fn add(&mut self, path: &str) -> Option<Vec<usize>> {
        let plain = |s: &str| !s.is_empty() && !s.contains(['.', '[', ']', '\\', '"']);
        let inner = match path.split_once('.') {
            None if plain(path) => None,
            Some(("userIdentity", inner)) if plain(inner) => Some(inner),
            _ => return None,
        };
        let mut slots = vec![self.top_key(path.as_bytes())];
        if let Some(inner) = inner {
            let at = match self.identity.iter().position(|k| **k == *inner.as_bytes()) {
                Some(at) => at,
                None => {
                    self.identity.push(inner.as_bytes().into());
                    self.identity.len() - 1
                }
            };
            slots.push(usize::MAX - at);
        }
        Some(slots)
    }

    fn top_key(&mut self, key: &[u8]) -> usize {
        if let Some(at) = self.top.iter().position(|k| **k == *key) {
            return at;
        }
        self.top.push(key.into());
        if key.len() >= 8 {
            let head = u64::from_le_bytes(key[..8].try_into().expect("eight bytes"));
            self.heads.push(head);
        }
        self.top.len() - 1
    }

    /// How many [`FieldRead`]s a skim with these fields fills.
    pub fn len(&self) -> usize {
        self.top.len() + self.identity.len()
    }

    /// True when no field is wanted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index in the reads of a slot [`Wanted::add`] returned.
    pub fn read_index(&self, slot: usize) -> usize {
        if slot < self.top.len() {
            slot
        } else {
            self.top.len() + (usize::MAX - slot)
        }
    }

    fn top_slot(&self, key: &[u8]) -> Option<usize> {
        self.top.iter().position(|k| **k == *key)
    }

    fn identity_slot(&self, key: &[u8]) -> Option<usize> {
        let at = self.identity.iter().position(|k| **k == *key)?;
        Some(self.top.len() + at)
    }

    fn unsure_in_identity(&self, reads: &mut [FieldRead]) {
        for read in &mut reads[self.top.len()..] {
            *read = FieldRead::Unsure;
        }
    }
}

/// What the skim read of one wanted field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRead {
    /// Not in the record (where the skim looks).
    Absent,
    /// One string without escapes: the offsets of its quotes.
    Str(u32, u32),
    /// One string with an escape: the offsets of its quotes (decode before reading).
    Escaped(u32, u32),
    /// Repeated, not a string, or not read: the bytes must say.
    Unsure,
}

impl FieldRead {
    fn note(&mut self, member: &FramedMember<'_>, escapes: &mut Escapes<'_>) {
        *self = match (*self, member.value_quotes) {
            (FieldRead::Absent, Some((open, close))) => {
                if escapes.within(open, close) {
                    FieldRead::Escaped(open as u32, close as u32)
                } else {
                    FieldRead::Str(open as u32, close as u32)
                }
            }
            _ => FieldRead::Unsure,
        };
    }
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
        head,
    })
}

/// The backslashes the framing noted, looked up in increasing position order.
pub(super) struct Escapes<'a> {
    at: &'a [u32],
    next: usize,
}

impl Escapes<'_> {
    /// Whether a backslash lies between `open` and `close` (queries come in increasing order).
    pub(super) fn within(&mut self, open: usize, close: usize) -> bool {
        while self.at.get(self.next).is_some_and(|&p| (p as usize) < open) {
            self.next += 1;
        }
        self.at
            .get(self.next)
            .is_some_and(|&p| (p as usize) < close)
    }
}

/// Whether some value of the Sigma field `path` may pass `test` (given a string value's raw
/// bytes between its quotes), read from the landmarks as the skim reads members:
/// `Some(false)` when no value can (the field is absent, or each of its values is a string
/// without escapes that fails), `Some(true)` when one passes, and `None` when the landmarks
/// cannot say: a key or value with an escape, a value that is not a string, a path nested
/// anywhere but in `userIdentity`'s own members, or incomplete lists. A literal dotted key
/// (`"userIdentity.arn"`) is read too, since a JSON event tries it first.
pub(crate) fn framed_field_may(
    b: &[u8],
    marks: &Landmarks,
    path: &str,
    test: impl Fn(&[u8]) -> bool,
) -> Option<bool> {
    if !marks.complete {
        return None;
    }
    let nested = path.split_once('.');
    let mut escapes = Escapes {
        at: &marks.backslashes,
        next: 0,
    };
    let string_passes = |value_quotes: Option<(usize, usize)>, escapes: &mut Escapes<'_>| {
        let (open, close) = value_quotes?;
        if escapes.within(open, close) {
            return None;
        }
        Some(test(&b[open + 1..close]))
    };
    let top = &marks.top_quotes;
    let mut k = 0;
    while k < top.len() {
        let member = framed_member(b, top, k, &mut escapes)?;
        if member.key == path.as_bytes() {
            if string_passes(member.value_quotes, &mut escapes)? {
                return Some(true);
            }
        } else if let Some((root, inner)) = nested
            && member.key == root.as_bytes()
        {
            if root != "userIdentity" || inner.contains('.') {
                return None;
            }
            // Framing notes the members of an object only (an array's are nested deeper).
            if b[member.value] != b'{' || marks.identity_at != Some(member.value as u32) {
                return None;
            }
            let members = identity_members(b, marks, &member);
            let mut j = 0;
            while j < members.len() {
                let field = framed_member(b, members, j, &mut escapes)?;
                if field.key == inner.as_bytes() && string_passes(field.value_quotes, &mut escapes)?
                {
                    return Some(true);
                }
                j = field.next;
            }
        }
        k = member.next;
    }
    Some(false)
}

/// The record's top-level members as (key, raw value) pairs in order, read from the
/// landmarks; `None` when they cannot say (incomplete lists, a key with an escape, anything
/// unexpected). A value runs from its first byte to the next member's key (or the record's
/// closing brace), less the separator and whitespace.
pub(crate) fn framed_members<'a>(
    b: &'a [u8],
    marks: &Landmarks,
) -> Option<Vec<(&'a [u8], &'a [u8])>> {
    if !marks.complete {
        return None;
    }
    let close = b.iter().rposition(|&c| c == b'}')?;
    let mut escapes = Escapes {
        at: &marks.backslashes,
        next: 0,
    };
    let top = &marks.top_quotes;
    let mut members = Vec::with_capacity(top.len() / 3);
    let mut k = 0;
    while k < top.len() {
        let member = framed_member(b, top, k, &mut escapes)?;
        let end = match top.get(member.next) {
            Some(&next_key) => {
                let before = b[..next_key as usize]
                    .iter()
                    .rposition(|c| !c.is_ascii_whitespace())?;
                if b[before] != b',' {
                    return None;
                }
                before
            }
            None => close,
        };
        let value = b.get(member.value..end)?;
        let len = value.iter().rposition(|c| !c.is_ascii_whitespace())? + 1;
        members.push((member.key, &value[..len]));
        k = member.next;
    }
    Some(members)
}
