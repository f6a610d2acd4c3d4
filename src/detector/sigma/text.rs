//! Text gates: the literal texts a rule's values imply, and the case-insensitive byte search
//! that checks them on a record's raw bytes before it is parsed.

use super::Gate;
use rsigma_parser::{DetectionItem, Modifier, SigmaValue, StringPart};

/// Shortest text worth a byte search: shorter ones pass most records anyway.
const MIN_TEXT_GATE: usize = 4;

/// Text one required item of a selection must find in the record (its longest literal run
/// per value), as text gates; the item with the longest shortest run wins.
pub(super) fn text_gates(items: &[DetectionItem]) -> Option<Vec<Gate>> {
    items
        .iter()
        .filter_map(item_texts)
        .max_by_key(|texts| texts.iter().map(String::len).min().unwrap_or(0))
        .map(|texts| texts.into_iter().map(Gate::Text).collect())
}

/// The literal runs of one item's values, when each value's match implies its run appears in
/// the field's decoded string: plain, `contains`, `startswith`, `endswith` (optionally `cased`,
/// `all`) on strings that are not numbers. With `all` every value is required, so the longest
/// one alone gates.
fn item_texts(item: &DetectionItem) -> Option<Vec<String>> {
    let modifiers = &item.field.modifiers;
    if modifiers.contains(&Modifier::Re) {
        let flags_only = modifiers.iter().all(|m| {
            matches!(
                m,
                Modifier::Re | Modifier::IgnoreCase | Modifier::Multiline | Modifier::DotAll
            )
        });
        return flags_only
            .then(|| {
                item.values
                    .iter()
                    .map(|v| match v {
                        SigmaValue::String(s) => regex_literal(&s.original),
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()
            })
            .flatten()
            .filter(|t| !t.is_empty());
    }
    let mut all = false;
    for modifier in modifiers {
        match modifier {
            Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith | Modifier::Cased => {}
            Modifier::All => all = true,
            _ => return None,
        }
    }
    let mut texts = item
        .values
        .iter()
        .map(|v| match v {
            SigmaValue::String(s) => s
                .parts
                .iter()
                .filter_map(|p| match p {
                    StringPart::Plain(p) => Some(p),
                    StringPart::Special(_) => None,
                })
                .max_by_key(|p| p.len())
                .filter(|p| p.len() >= MIN_TEXT_GATE && p.is_ascii() && p.parse::<f64>().is_err())
                .map(|p| p.to_ascii_lowercase()),
            _ => None,
        })
        .collect::<Option<Vec<String>>>()
        .filter(|t| !t.is_empty())?;
    if all {
        texts.sort_by_key(String::len);
        texts.drain(..texts.len() - 1);
    }
    Some(texts)
}

/// The longest literal run every match of a regular expression contains (lower-cased), for a
/// text gate; `None` for a pattern with alternation, groups or classes (not worth the risk)
/// or without a run of [`MIN_TEXT_GATE`] characters.
pub(super) fn regex_literal(pattern: &str) -> Option<String> {
    if pattern.contains(['|', '(', '[']) {
        return None;
    }
    let (mut best, mut run) = (String::new(), String::new());
    let finish = |run: &mut String, best: &mut String| {
        if run.len() > best.len() {
            *best = std::mem::take(run);
        }
        run.clear();
    };
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => run.push(e),
                // \d, \w, \b, \n...: not a literal character.
                _ => finish(&mut run, &mut best),
            },
            '.' | '^' | '$' => finish(&mut run, &mut best),
            // The character before is required once, then may repeat: the run ends with it.
            '+' => finish(&mut run, &mut best),
            // The character before may be absent: the run ends before it.
            '*' | '?' | '{' => {
                run.pop();
                finish(&mut run, &mut best);
                if c == '{' {
                    chars.by_ref().find(|&c| c == '}');
                }
            }
            _ => run.push(c),
        }
    }
    finish(&mut run, &mut best);
    (best.len() >= MIN_TEXT_GATE && best.is_ascii()).then(|| best.to_ascii_lowercase())
}

/// True when `bytes` (a raw JSON record) may hold `text` (lower-case ASCII) in a decoded string:
/// it holds it verbatim, ignoring ASCII case, or it has an escape or a non-ASCII byte (after
/// decoding or Unicode case folding the text could appear where the bytes do not show it).
pub fn may_contain(bytes: &[u8], text: &[u8]) -> bool {
    RecordText::new(bytes).may_contain(&TextFinder::new(&String::from_utf8_lossy(text)))
}

/// The record's bytes lower-cased with JSON's short escapes decoded (`\\"`, `\\\\`, `\\/`,
/// `\\n`...), so a text behind one is still found; `None` for a `\\u` escape, which could
/// spell any character.
fn unescape_lower(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend(rest[..at].iter().map(u8::to_ascii_lowercase));
        let decoded = match rest.get(at + 1)? {
            b'u' => return None,
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'b' => 0x08,
            b'f' => 0x0c,
            other => other.to_ascii_lowercase(),
        };
        out.push(decoded);
        rest = &rest[at + 2..];
    }
    out.extend(rest.iter().map(u8::to_ascii_lowercase));
    Some(out)
}

/// Bytes of CloudTrail JSON from most to least common, letters folded to lower case (counted
/// on the 310 Stratus recordings in `shared/samples`): a search anchors on the needle's byte
/// found last here (or absent), so it stops at few candidates (`/` of `:assumed-role/aws:`
/// about 4 times a record, where `a` is about 80).
const COMMON_BYTES: &[u8] = b"\"eastrni:cdo-um2,l104p359v87h6fgbwy.zkq{}x j_/[]\\+%*=#@?&$<>";

/// One lower-case ASCII text and the position of its rarest byte, searched ignoring ASCII case.
#[derive(Debug, Clone)]
struct Needle {
    text: Box<[u8]>,
    anchor: usize,
}

impl Needle {
    fn new(text: &str) -> Self {
        let text: Box<[u8]> = text.to_ascii_lowercase().into_bytes().into();
        let rank = |b: u8| {
            COMMON_BYTES
                .iter()
                .position(|&c| c == b)
                .unwrap_or(COMMON_BYTES.len())
        };
        let anchor = (0..text.len()).max_by_key(|&i| rank(text[i])).unwrap_or(0);
        Needle { text, anchor }
    }

    /// True when `haystack` holds the text, ignoring ASCII case: a SIMD scan for the anchor
    /// byte (both cases), each candidate checked in place, so nothing is copied.
    fn is_match(&self, haystack: &[u8]) -> bool {
        let Some(&anchor) = self.text.get(self.anchor) else {
            return true;
        };
        let (len, before) = (self.text.len(), self.anchor);
        let matches_at = |at: usize| {
            at >= before
                && haystack
                    .get(at - before..at - before + len)
                    .is_some_and(|window| window.eq_ignore_ascii_case(&self.text))
        };
        let upper = anchor.to_ascii_uppercase();
        if upper == anchor {
            memchr::memchr_iter(anchor, haystack).any(matches_at)
        } else {
            memchr::memchr2_iter(anchor, upper, haystack).any(matches_at)
        }
    }
}

/// A compiled search, ignoring ASCII case, for one text gate or for any of several.
#[derive(Debug, Clone)]
pub struct TextFinder(Vec<Needle>);

impl TextFinder {
    /// A search for `text`, ignoring ASCII case.
    pub fn new(text: &str) -> Self {
        Self::any_of([text])
    }

    /// A search for any of `texts`, ignoring ASCII case.
    pub fn any_of<'t>(texts: impl IntoIterator<Item = &'t str>) -> Self {
        TextFinder(texts.into_iter().map(Needle::new).collect())
    }

    fn is_match(&self, haystack: &[u8]) -> bool {
        self.0.iter().any(|needle| needle.is_match(haystack))
    }
}

/// What a record's bytes are, for text gates.
enum Form {
    /// Not looked at yet.
    Unknown,
    /// ASCII without escapes: searched as is, ignoring case.
    Plain,
    /// ASCII with JSON short escapes: searched decoded (and lower-cased).
    Decoded(Vec<u8>),
    /// A `\u` escape or a non-ASCII byte: any text may hide there, every gate passes.
    Opaque,
}

/// One record's raw bytes as text gates see them: classified at most once, copied (decoded)
/// only when the record has an escape, and only when a gate asks.
pub struct RecordText<'b> {
    raw: &'b [u8],
    form: Form,
}

impl<'b> RecordText<'b> {
    /// Wraps a record's bytes.
    pub fn new(raw: &'b [u8]) -> Self {
        RecordText {
            raw,
            form: Form::Unknown,
        }
    }

    /// Whether the record may hold the finder's text in a decoded string (see [`may_contain`]).
    pub fn may_contain(&mut self, finder: &TextFinder) -> bool {
        let raw = self.raw;
        if matches!(self.form, Form::Unknown) {
            self.form = if !raw.is_ascii() {
                Form::Opaque
            } else if memchr::memchr(b'\\', raw).is_none() {
                Form::Plain
            } else {
                unescape_lower(raw).map_or(Form::Opaque, Form::Decoded)
            };
        }
        match &self.form {
            Form::Plain => finder.is_match(raw),
            Form::Decoded(decoded) => finder.is_match(decoded),
            Form::Opaque | Form::Unknown => true,
        }
    }
}
