//! Finding where a JSON value ends in the reader's buffer: records (objects) with the block
//! classifier, everything else (top-level keys' values, elements of `Records` that are not
//! objects, all rare) byte by byte.

use super::blocks::{BLOCK, classify, escaped, prefix_xor};
use super::{LogReader, ReadError};
use crate::detector::skim::Landmarks;

/// Quotes, and containers, noted per record at most (a normal record has a few hundred).
const MAX_NOTED: usize = 1 << 16;

/// Appends the offsets (`base` + bit) of the set bits; false when some were left out (over the
/// cap, or past what offsets can note).
#[inline]
fn note_bits(noted: &mut Vec<u32>, mut bits: u64, base: usize, noted_len: usize) -> bool {
    if noted.len() + 64 <= MAX_NOTED && base + 64 <= noted_len {
        // The common case, without a check per bit.
        noted.reserve(64);
        while bits != 0 {
            noted.push((base + bits.trailing_zeros() as usize) as u32);
            bits &= bits - 1;
        }
        return true;
    }
    while bits != 0 {
        let at = base + bits.trailing_zeros() as usize;
        if noted.len() >= MAX_NOTED || at >= noted_len {
            return false;
        }
        noted.push(at as u32);
        bits &= bits - 1;
    }
    true
}

/// Drops containers whose end was never noted.
fn marks_retain_closed(marks: &mut Landmarks) {
    marks.containers.retain(|&(_, end)| end != u32::MAX);
}
use std::io::Read;

impl<R: Read> LogReader<R> {
    /// Frames the object starting at `buf[pos] == '{'` and notes its landmarks for the skim.
    /// Returns its range in `buf`, or `None` when it outgrew `max_record_bytes` (it is then
    /// consumed and dropped). Brackets are only counted, not matched by kind: validation is
    /// the parser's job.
    pub(super) fn frame_object(&mut self) -> Result<Option<(usize, usize)>, ReadError> {
        debug_assert_eq!(self.buf[self.pos], b'{');
        let marks = &mut self.landmarks;
        marks.quotes.clear();
        marks.containers.clear();
        marks.backslashes.clear();
        marks.backslashes_complete = true;
        let max = self.cfg.max_record_bytes;
        // Offsets are noted as u32: a record longer than that gets no landmarks past it.
        let noted_len = max.min(u32::MAX as usize);
        let mut origin = self.pos;
        // The next block starts at `i`; the state below carries from one block to the next.
        let mut i = self.pos;
        let mut discard = false;
        let mut depth: u64 = 0;
        let mut inside_string = 0u64;
        let mut escape_carry = 0u64;
        // Indexes in `containers` of the open containers at depths 2 and 3.
        let mut open_containers = [usize::MAX; 2];
        loop {
            let available = self.end - i;
            if available < BLOCK && !self.eof {
                if !discard && i - origin > max {
                    discard = true;
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
            let quotes = masks.quote & !escaped(masks.backslash, &mut escape_carry) & valid;
            let strings = prefix_xor(quotes) ^ inside_string;
            inside_string = ((strings as i64) >> 63) as u64;
            let mut brackets = (masks.open | masks.close) & !strings & valid;
            // Bytes of this block that belong to the record (all, unless it ends here).
            let mut in_record = valid;
            let mut end = None;
            let marks = &mut self.landmarks;
            let base = i - origin;
            while brackets != 0 {
                let bit = brackets.trailing_zeros();
                brackets &= brackets - 1;
                let at = base + bit as usize;
                if masks.open >> bit & 1 == 1 {
                    depth += 1;
                    if (depth == 2 || depth == 3)
                        && at < noted_len
                        && marks.containers.len() < MAX_NOTED
                    {
                        open_containers[depth as usize - 2] = marks.containers.len();
                        marks.containers.push((at as u32, u32::MAX));
                    } else if depth == 2 || depth == 3 {
                        open_containers[depth as usize - 2] = usize::MAX;
                    }
                    continue;
                }
                depth -= 1;
                if depth == 1 || depth == 2 {
                    let open = open_containers[depth as usize - 1];
                    if let Some(entry) = marks.containers.get_mut(open) {
                        entry.1 = (at + 1).min(noted_len) as u32;
                    }
                } else if depth == 0 {
                    in_record = if bit == 63 {
                        u64::MAX
                    } else {
                        (2u64 << bit) - 1
                    };
                    end = Some(i + bit as usize + 1);
                    break;
                }
            }
            if !discard {
                note_bits(&mut marks.quotes, quotes & in_record, base, noted_len);
                let backslashes = masks.backslash & in_record;
                if backslashes != 0
                    && !note_bits(&mut marks.backslashes, backslashes, base, noted_len)
                {
                    marks.backslashes_complete = false;
                }
            }
            if let Some(end) = end {
                self.pos = end;
                // The size check also applies when the whole record arrived in one read, so
                // the verdict never depends on how the input was chunked.
                if discard || end - origin > max {
                    return Ok(None);
                }
                // A container still marked open ended past what was noted: drop it.
                marks_retain_closed(&mut self.landmarks);
                return Ok(Some((origin, end)));
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
