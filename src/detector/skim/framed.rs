//! The skim over the landmarks framing noted: members read from the lists of quotes instead
//! of the bytes (see the parent module for what the skim promises).

use super::{Landmarks, Once, Skim, identity_type_from_bytes, skip_ws};

/// The skim over the landmarks. A string of a level's list is a member's key when a `:`
/// follows it; its value starts after the `:` and, when it is a string, is the next string of
/// the list. Keys with an escape, repeats and values of the wrong type make it unsure, as in
/// [`skim_fields`].
pub(super) fn framed_fields<'a>(b: &'a [u8], marks: &'a Landmarks) -> Option<Skim<'a>> {
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
                    identity_type_from_bytes(b, member.value, &mut identity)?;
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
