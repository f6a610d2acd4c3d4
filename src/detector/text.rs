//! Making attacker-controlled text safe to show: no control characters, bounded length.

/// Escapes control characters (so a crafted value cannot forge lines or terminal sequences)
/// and cuts the result to at most `max_chars` characters, marking the cut with `…`.
pub fn clean(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2));
    let mut count = 0;
    for c in s.chars() {
        let piece: String = if is_unsafe(c) {
            c.escape_unicode().to_string()
        } else {
            c.to_string()
        };
        let len = piece.chars().count();
        if count + len > max_chars {
            out.push('…');
            return out;
        }
        count += len;
        out.push_str(&piece);
    }
    out
}

/// Characters `clean` escapes: control characters, and the bidi overrides and zero-width
/// characters that can make text read differently than it is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("a\nb\x1b[31m", 100), "a\\u{a}b\\u{1b}[31m");
        assert_eq!(clean("x\u{202E}y", 100), "x\\u{202e}y");
    }

    #[test]
    fn long_text_is_cut_with_a_mark() {
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("abc", 3), "abc");
        assert_eq!(clean("é漢字", 2), "é漢…");
    }
}
