//! The skim: a record's top-level `eventSource` and `eventName`, found with a structural scan
//! instead of a full parse, so that records no rule wants cost little more than gunzip.
//!
//! **The skim never decides differently from the full parse.** It answers [`Skim::Known`] only
//! when the answer is certain, and [`Skim::Unknown`] otherwise, in which case the engine parses
//! the record in full and decides from that. It says `Unknown` for:
//! - a key containing an escape (`"event\u004eame"` decodes to `eventName`);
//! - `eventSource` or `eventName` appearing twice at the top level (the full parse refuses a
//!   record with a duplicate field: it is counted as skipped and reported, and must stay so);
//! - either value missing, not a string, holding an escape or a non-ASCII byte;
//! - anything structurally unexpected (not an object, truncated, stray bytes).
//!
//! Keys inside nested objects (`requestParameters.eventName`) are never taken for top-level ones.
//! What the skim does not check is the rest of the record: a record no rule wants is counted as
//! read whatever else it holds, since no rule would have looked at it (a full parse would have
//! counted a malformed one as skipped instead; neither raises an alert).

/// What the skim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skim<'a> {
    /// The top-level `eventSource` and `eventName`, exactly as the full parse would read them.
    Known {
        /// `eventSource`.
        source: &'a str,
        /// `eventName`.
        name: &'a str,
    },
    /// Not certain: parse the record in full.
    Unknown,
}

/// Skims one record's bytes (a whole JSON object, as the log reader frames it).
pub fn skim(record: &[u8]) -> Skim<'_> {
    skim_fields(record).unwrap_or(Skim::Unknown)
}

fn skim_fields(b: &[u8]) -> Option<Skim<'_>> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut source: Option<&str> = None;
    let mut name: Option<&str> = None;
    let mut seen_source = false;
    let mut seen_name = false;
    i = skip_ws(b, i);
    if b.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        // Key.
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
        let wanted = match key {
            b"eventSource" => Some(true),
            b"eventName" => Some(false),
            _ => None,
        };
        // Value.
        match wanted {
            Some(is_source) => {
                let seen = if is_source {
                    &mut seen_source
                } else {
                    &mut seen_name
                };
                if std::mem::replace(seen, true) {
                    return None;
                }
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                let (value, after, escaped) = string_span(b, i)?;
                if escaped || !value.is_ascii() {
                    return None;
                }
                let value = std::str::from_utf8(value).ok()?;
                if is_source {
                    source = Some(value);
                } else {
                    name = Some(value);
                }
                i = after;
            }
            None => i = skip_value(b, i)?,
        }
        i = skip_ws(b, i);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => {
                if skip_ws(b, i + 1) != b.len() {
                    return None;
                }
                break;
            }
            _ => return None,
        }
    }
    Some(Skim::Known {
        source: source?,
        name: name?,
    })
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
mod tests {
    use super::*;
    use crate::detector::record::Record;

    /// The invariant: whenever the skim is sure, the full parse either refuses the record or
    /// reads the same source and name.
    fn agrees(json: &str) -> Skim<'_> {
        let s = skim(json.as_bytes());
        if let Skim::Known { source, name } = s
            && let Ok(record) = Record::from_slice(json.as_bytes())
        {
            assert_eq!((record.source(), record.name()), (source, name), "{json}");
        }
        s
    }

    fn known<'a>(source: &'a str, name: &'a str) -> Skim<'a> {
        Skim::Known { source, name }
    }

    #[test]
    fn reads_top_level_fields_in_any_order_and_spacing() {
        assert_eq!(
            agrees(r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#),
            known("s3.amazonaws.com", "GetObject")
        );
        assert_eq!(
            agrees(
                " {\n\t\"userIdentity\" : {\"eventName\":\"Nested\",\"x\":[1,{\"eventSource\":\"n\"}]} ,\r\n \"eventName\" : \"PutBucketPolicy\", \"n\": -1.5e3, \"b\": true, \"z\": null, \"eventSource\":\"s3.amazonaws.com\" } "
            ),
            known("s3.amazonaws.com", "PutBucketPolicy")
        );
    }

    #[test]
    fn nested_keys_and_strings_with_braces_do_not_confuse_it() {
        assert_eq!(
            agrees(
                r#"{"requestParameters":{"policy":"{\"eventName\":\"x\"}]}","eventName":"inner"},"eventSource":"a","eventName":"b"}"#
            ),
            known("a", "b")
        );
    }

    #[test]
    fn is_unsure_whenever_the_full_parse_could_read_otherwise() {
        for json in [
            r#"{"eventSource":"a","eventName":"b","eventName":"c"}"#,
            r#"{"eventSource":"a","eventSource":"a","eventName":"b"}"#,
            r#"{"eventSource":"a","event\u004eame":"b"}"#,
            r#"{"eventSource":"a","eventName":"Put\u0042ucketPolicy"}"#,
            r#"{"eventSource":"a","eventName":123}"#,
            r#"{"eventSource":"a","eventName":null}"#,
            r#"{"eventSource":"a"}"#,
            r#"{"eventName":"b"}"#,
            r#"{"eventSource":"a","eventName":"é"}"#,
            r#"{"eventSource":"a","eventName":"b""#,
            r#"{"eventSource":"a","eventName":"b"} x"#,
            r#"["eventSource","a"]"#,
            r#"{}"#,
            "",
        ] {
            assert_eq!(agrees(json), Skim::Unknown, "{json}");
        }
    }

    #[test]
    fn invalid_utf8_elsewhere_is_left_to_the_full_parse_only_when_wanted() {
        let mut bytes = br#"{"userAgent":"x","eventSource":"a","eventName":"b"}"#.to_vec();
        bytes[14] = 0xff;
        assert_eq!(skim(&bytes), known("a", "b"));
        assert!(Record::from_slice(&bytes).is_err());
    }
}
