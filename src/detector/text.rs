//! Making attacker-controlled text safe to show: no control characters, bounded length.

/// Escapes control characters (so a crafted value cannot forge lines or terminal sequences)
/// and cuts the result to at most `max_chars` characters, marking the cut with `…`.
pub fn clean(s: &str, max_chars: usize) -> String {
    // Most text is short and plain: copied whole (its bytes bound its characters). In ASCII
    // only the control characters are unsafe.
    let plain = if s.is_ascii() {
        !s.bytes().any(|b| b.is_ascii_control())
    } else {
        !s.chars().any(is_unsafe)
    };
    if s.len() <= max_chars && plain {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len().min(max_chars * 2));
    let mut count = 0;
    for c in s.chars() {
        let escaped = is_unsafe(c).then(|| c.escape_unicode());
        let len = escaped.as_ref().map_or(1, ExactSizeIterator::len);
        if count + len > max_chars {
            out.push('…');
            return out;
        }
        count += len;
        match escaped {
            Some(escaped) => out.extend(escaped),
            None => out.push(c),
        }
    }
    out
}

/// Characters `clean` escapes: control characters, line and paragraph separators (some
/// terminals and viewers break lines on them), the bidi marks and overrides, and the invisible
/// characters (zero-width, word joiner, soft hyphen) that can make text read differently than
/// it is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("a\nb\x1b[31m", 100), "a\\u{a}b\\u{1b}[31m");
        assert_eq!(clean("x\u{202E}y", 100), "x\\u{202e}y");
    }

    /// Issue 8: these passed through text output.
    #[test]
    fn separators_and_invisible_characters_are_escaped() {
        for c in ['\u{2028}', '\u{2029}', '\u{061C}', '\u{2060}', '\u{00AD}'] {
            let shown = clean(&format!("a{c}b"), 100);
            assert_eq!(shown, format!("a{}b", c.escape_unicode()), "{:?}", c);
        }
    }

    #[test]
    fn long_text_is_cut_with_a_mark() {
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("abc", 3), "abc");
        assert_eq!(clean("é漢字", 2), "é漢…");
        // An escape counts as the characters it is written with, and is never cut in two.
        assert_eq!(clean("ab\n", 8), "ab\\u{a}");
        assert_eq!(clean("ab\n", 7), "ab\\u{a}");
        assert_eq!(clean("ab\n", 6), "ab…");
        assert_eq!(clean("\u{7f}", 100), "\\u{7f}");
    }
}
