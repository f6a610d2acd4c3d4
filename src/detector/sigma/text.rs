//! Text gates: the literal texts a rule's values imply, and the case-insensitive byte search
//! that checks them on a record's raw bytes before it is parsed.

use super::Gate;
use crate::detector::skim::{FieldRead, Landmarks, Wanted, framed_field_may};
use rsigma_parser::{DetectionItem, Modifier, SigmaValue, StringPart};

/// Shortest text worth a byte search: shorter ones pass most records anyway.
const MIN_TEXT_GATE: usize = 4;

/// A text a record must hold for a rule to match it: in the string value of one field when
/// the rule's item names one, else anywhere in the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextGate {
    /// The Sigma field path (`userAgent`, `userIdentity.arn`) whose value holds the text;
    /// `None` for a keyword, which may be in any value.
    pub field: Option<String>,
    /// The text, lower-case ASCII.
    pub text: String,
}

impl TextGate {
    /// A text that may be anywhere in the record.
    pub fn anywhere(text: &str) -> Self {
        TextGate {
            field: None,
            text: text.to_owned(),
        }
    }

    /// A text in the value of `field`.
    pub fn in_field(field: &str, text: &str) -> Self {
        TextGate {
            field: Some(field.to_owned()),
            text: text.to_owned(),
        }
    }

    /// True when the skim reads this gate's field (a top-level member or one of
    /// `userIdentity`'s), so the gate costs no search.
    pub fn is_skimmed(&self) -> bool {
        self.field
            .as_deref()
            .is_some_and(|path| Wanted::default().add(path).is_some())
    }

    /// Whether a record's raw bytes may satisfy this gate (see [`RecordText::may_contain`]).
    pub fn may_pass(&self, bytes: &[u8]) -> bool {
        RecordText::new(bytes).may_contain(&TextFinder::any_of([self]))
    }
}

impl std::fmt::Display for TextGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{:?} in {field}", self.text),
            None => write!(f, "{:?}", self.text),
        }
    }
}

/// Text one required item of a selection must find in the record (its longest literal run
/// per value), as text gates; the item with the longest shortest run wins.
pub(super) fn text_gates(items: &[DetectionItem]) -> Option<Vec<Gate>> {
    items
        .iter()
        .filter_map(|item| {
            let texts = item_texts(item)?;
            Some((item.field.name.as_deref(), texts))
        })
        .max_by_key(|(_, texts)| texts.iter().map(String::len).min().unwrap_or(0))
        .map(|(field, texts)| {
            texts
                .into_iter()
                .map(|text| {
                    Gate::Text(TextGate {
                        field: field.map(str::to_owned),
                        text,
                    })
                })
                .collect()
        })
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

/// The quoted keys (`"arn"`, `"userIdentity.arn"`) under which a Sigma field path's values
/// sit: its last segment (the path's last step) and the whole path (a literal dotted key,
/// which a JSON event tries first). `None` for a path this cannot say for sure (indexes,
/// escapes, empty segments, quotes or non-ASCII characters): the gate then reads the whole
/// record.
fn field_keys(path: &str) -> Option<Vec<memchr::memmem::Finder<'static>>> {
    let plain = !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'[' | b']' | b'\\' | b'"'))
        && path.split('.').all(|segment| !segment.is_empty());
    if !plain {
        return None;
    }
    let last = path.rsplit('.').next().unwrap_or(path);
    let mut keys = vec![last];
    if last != path {
        keys.push(path);
    }
    Some(
        keys.into_iter()
            .map(|key| memchr::memmem::Finder::new(&format!("\"{key}\"")).into_owned())
            .collect(),
    )
}

/// Whether some member keyed by one of `keys` (a quoted key, found in bytes without escapes
/// so every quote is a string's edge) has a value that may hold the needle: a string holding
/// it (or with non-ASCII bytes, which Unicode case folding could turn into it), or a value
/// that is not a string (the rule decides). Every occurrence is tried: keys repeat, and the
/// last segment names members at any depth.
fn field_may_hold(raw: &[u8], keys: &[memchr::memmem::Finder<'_>], needle: &Needle) -> bool {
    keys.iter().any(|key| {
        let mut from = 0;
        while let Some(found) = key.find(&raw[from..]) {
            let after = from + found + key.needle().len();
            if value_may_hold(raw, after, needle) {
                return true;
            }
            from += found + 1;
        }
        false
    })
}

/// See [`field_may_hold`]: the value after the quoted string ending just before `after`;
/// false when no `:` follows it (it was a value, not a key).
fn value_may_hold(raw: &[u8], after: usize, needle: &Needle) -> bool {
    let skip_ws = |mut i: usize| {
        while raw
            .get(i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            i += 1;
        }
        i
    };
    let colon = skip_ws(after);
    if raw.get(colon) != Some(&b':') {
        return false;
    }
    let open = skip_ws(colon + 1);
    if raw.get(open) != Some(&b'"') {
        return true;
    }
    let Some(len) = memchr::memchr(b'"', &raw[open + 1..]) else {
        return true;
    };
    let value = &raw[open + 1..open + 1 + len];
    !value.is_ascii() || needle.is_match(value)
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

/// One gate's search: its text, and the field whose values hold it (`None`: anywhere).
#[derive(Debug, Clone)]
struct Search {
    needle: Needle,
    field: Option<FieldScope>,
}

/// A field a gate's text is searched in: its path, its quoted keys (see [`field_keys`]), and
/// the slots the skim reads it into, when it does (see [`Wanted::add`]).
#[derive(Debug, Clone)]
struct FieldScope {
    path: String,
    keys: Vec<memchr::memmem::Finder<'static>>,
    skimmed: Option<Vec<usize>>,
}

/// A compiled search, ignoring ASCII case, for one text gate or for any of several.
#[derive(Debug, Clone)]
pub struct TextFinder(Vec<Search>);

impl TextFinder {
    /// A search for `text` anywhere in the record, ignoring ASCII case.
    pub fn new(text: &str) -> Self {
        Self::any_of([&TextGate::anywhere(text)])
    }

    /// A search for any of the gates' texts, each in its field (ignoring ASCII case).
    pub fn any_of<'g>(gates: impl IntoIterator<Item = &'g TextGate>) -> Self {
        Self::build(gates, None)
    }

    /// Like [`TextFinder::any_of`], adding the gates' fields to those the skim reads, so that
    /// a skimmed record answers them from what the skim read (see [`RecordText::skimmed`]).
    pub fn reading<'g>(gates: impl IntoIterator<Item = &'g TextGate>, wanted: &mut Wanted) -> Self {
        Self::build(gates, Some(wanted))
    }

    fn build<'g>(
        gates: impl IntoIterator<Item = &'g TextGate>,
        mut wanted: Option<&mut Wanted>,
    ) -> Self {
        TextFinder(
            gates
                .into_iter()
                .map(|gate| Search {
                    needle: Needle::new(&gate.text),
                    field: gate.field.as_deref().and_then(|path| {
                        Some(FieldScope {
                            path: path.to_owned(),
                            keys: field_keys(path)?,
                            skimmed: wanted.as_deref_mut().and_then(|w| w.add(path)),
                        })
                    }),
                })
                .collect(),
        )
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
    landmarks: Option<&'b Landmarks>,
    skimmed: Option<(&'b Wanted, &'b [FieldRead])>,
    form: Form,
    escaped: Option<bool>,
}

impl<'b> RecordText<'b> {
    /// Wraps a record's bytes.
    pub fn new(raw: &'b [u8]) -> Self {
        RecordText {
            raw,
            landmarks: None,
            skimmed: None,
            form: Form::Unknown,
            escaped: None,
        }
    }

    /// Wraps a record's bytes with the landmarks framing noted in them, from which a gate's
    /// field is read without a search (see [`framed_field_may`]).
    pub fn framed(raw: &'b [u8], landmarks: Option<&'b Landmarks>) -> Self {
        RecordText {
            landmarks,
            ..RecordText::new(raw)
        }
    }

    /// Also takes what the skim read of the record's fields (with [`TextFinder::reading`]'s
    /// `wanted`): a gate on one of them is answered from that alone unless it is unsure.
    pub fn skimmed(mut self, wanted: &'b Wanted, reads: &'b [FieldRead]) -> Self {
        self.skimmed = Some((wanted, reads));
        self
    }

    /// Whether the record may satisfy one of the finder's gates: hold its text in the decoded
    /// string value of its field, or anywhere (see [`may_contain`]). A field is read from what
    /// the skim read, else from the landmarks when they can say, else from the bytes when they
    /// have no escape (keys are then written as they read); otherwise its text is searched in
    /// the whole record.
    pub fn may_contain(&mut self, finder: &TextFinder) -> bool {
        finder.0.iter().any(|search| {
            let Some(field) = &search.field else {
                return self.anywhere_may_hold(&search.needle);
            };
            let holds = |value: &[u8]| !value.is_ascii() || search.needle.is_match(value);
            if let (Some((wanted, reads)), Some(slots)) = (self.skimmed, &field.skimmed) {
                let mut unsure = false;
                for &slot in slots {
                    match reads.get(wanted.read_index(slot)) {
                        Some(FieldRead::Absent) => {}
                        Some(&FieldRead::Str(open, close)) => {
                            if holds(&self.raw[open as usize + 1..close as usize]) {
                                return true;
                            }
                        }
                        Some(&FieldRead::Escaped(open, close)) => {
                            // Decoded (a \u escape could spell anything: it passes).
                            let value = &self.raw[open as usize + 1..close as usize];
                            if unescape_lower(value).is_none_or(|decoded| holds(&decoded)) {
                                return true;
                            }
                        }
                        Some(FieldRead::Unsure) | None => unsure = true,
                    }
                }
                if !unsure {
                    return false;
                }
            }
            if let Some(marks) = self.landmarks
                && let Some(verdict) = framed_field_may(self.raw, marks, &field.path, holds)
            {
                return verdict;
            }
            if self.has_escape() {
                self.anywhere_may_hold(&search.needle)
            } else {
                field_may_hold(self.raw, &field.keys, &search.needle)
            }
        })
    }

    fn has_escape(&mut self) -> bool {
        let raw = self.raw;
        *self
            .escaped
            .get_or_insert_with(|| memchr::memchr(b'\\', raw).is_some())
    }

    fn anywhere_may_hold(&mut self, needle: &Needle) -> bool {
        if matches!(self.form, Form::Unknown) {
            let raw = self.raw;
            self.form = if !raw.is_ascii() {
                Form::Opaque
            } else if !self.has_escape() {
                Form::Plain
            } else {
                unescape_lower(raw).map_or(Form::Opaque, Form::Decoded)
            };
        }
        match &self.form {
            Form::Plain => needle.is_match(self.raw),
            Form::Decoded(decoded) => needle.is_match(decoded),
            Form::Opaque | Form::Unknown => true,
        }
    }
}
