//! Finding where a JSON value ends in the reader's buffer: records (objects) with the block
//! classifier, everything else (top-level keys' values, elements of `Records` that are not
//! objects, all rare) byte by byte.

use super::blocks::{BLOCK, classify, escaped, prefix_xor};
use super::{LogReader, ReadError};
use std::io::Read;

impl<R: Read> LogReader<R> {
    /// Frames the object starting at `buf[pos] == '{'` and records its top-level container
    /// values in `containers`. Returns its range in `buf`, or `None` when it outgrew
    /// `max_record_bytes` (it is then consumed and dropped). Brackets are only counted, not
    /// matched by kind: validation is the parser's job.
    pub(super) fn frame_object(&mut self) -> Result<Option<(usize, usize)>, ReadError> {
        debug_assert_eq!(self.buf[self.pos], b'{');
        self.containers.clear();
        let max = self.cfg.max_record_bytes;
        let mut origin = self.pos;
        // The next block starts at `i`; the state below carries from one block to the next.
        let mut i = self.pos;
        let mut discard = false;
        let mut depth: u64 = 0;
        let mut inside_string = 0u64;
        let mut escape_carry = 0u64;
        let mut container_start = 0usize;
        loop {
            let available = self.end - i;
            if available < BLOCK && !self.eof {
                if !discard && i - origin > max {
                    discard = true;
                    self.containers.clear();
                }
                let shift = self.refill(if discard { i } else { origin })?;
                i -= shift;
                origin = origin.saturating_sub(shift);
                continue;
            }
            if available == 0 {
                self.no_more_bytes()?;
                return Err(ReadError::Corrupt("truncated JSON".into()));
            }
            let (masks, valid) = if available >= BLOCK {
                let block = self.buf[i..i + BLOCK].try_into().expect("one block");
                (classify(block), u64::MAX)
            } else {
                // The end of the input: zeros are not structural.
                let mut block = [0u8; BLOCK];
                block[..available].copy_from_slice(&self.buf[i..self.end]);
                (classify(&block), (1u64 << available) - 1)
            };
            let quotes = masks.quote & !escaped(masks.backslash, &mut escape_carry);
            let strings = prefix_xor(quotes) ^ inside_string;
            inside_string = ((strings as i64) >> 63) as u64;
            let mut brackets = (masks.open | masks.close) & !strings & valid;
            while brackets != 0 {
                let bit = brackets.trailing_zeros();
                brackets &= brackets - 1;
                let at = i + bit as usize;
                if masks.open >> bit & 1 == 1 {
                    depth += 1;
                    if depth == 2 {
                        container_start = at - origin;
                    }
                    continue;
                }
                depth -= 1;
                if depth == 1 && !discard {
                    self.containers.push((container_start, at + 1 - origin));
                } else if depth == 0 {
                    let end = at + 1;
                    self.pos = end;
                    // The size check also applies when the whole record arrived in one read,
                    // so the verdict never depends on how the input was chunked.
                    if discard || end - origin > max {
                        self.containers.clear();
                        return Ok(None);
                    }
                    return Ok(Some((origin, end)));
                }
            }
            i += available.min(BLOCK);
        }
    }

    /// Consumes the JSON value starting at `pos` without keeping it.
    pub(super) fn skip_value(&mut self) -> Result<(), ReadError> {
        let mut i = self.pos;
        let first = self.buf[i];
        let container = first == b'{' || first == b'[';
        let bare_scalar = !container && first != b'"';
        let mut depth: u64 = 0;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            if i >= self.end {
                i -= self.refill(i)?;
                if i >= self.end {
                    if bare_scalar {
                        // A scalar can end at end of input; the caller reports what follows.
                        self.pos = i;
                        return Ok(());
                    }
                    self.no_more_bytes()?;
                    return Err(ReadError::Corrupt("truncated JSON".into()));
                }
                continue;
            }
            if escaped {
                escaped = false;
                i += 1;
                continue;
            }
            if in_string {
                match memchr::memchr2(b'"', b'\\', &self.buf[i..self.end]) {
                    None => i = self.end,
                    Some(offset) => {
                        let at = i + offset;
                        i = at + 1;
                        if self.buf[at] == b'\\' {
                            escaped = true;
                        } else {
                            in_string = false;
                            if !container && !bare_scalar {
                                break;
                            }
                        }
                    }
                }
                continue;
            }
            let b = self.buf[i];
            if bare_scalar {
                if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    self.pos = i;
                    return Ok(());
                }
                i += 1;
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
        Ok(())
    }
}
