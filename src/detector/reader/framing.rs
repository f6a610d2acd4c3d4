//! Finding where a JSON value ends in the reader's buffer: records (objects) with the block
//! classifier, everything else (top-level keys' values, elements of `Records` that are not
//! objects, all rare) byte by byte.
//!
//! While framing a record it notes the landmarks the skim reads instead of the bytes: the
//! quotes at the record's top level (its members' keys and string values) and inside its
//! `userIdentity` object (that object's own members), and the backslashes there. Which level
//! a byte is at comes from the brackets the block loop visits anyway, so it costs a few word
//! operations per bracket.

use super::blocks::{BLOCK, Baseline, Simd, escaped};
use super::{LogReader, ReadError};

/// Positions noted per list and record at most (a normal record has a few dozen).
const MAX_NOTED: usize = 1 << 16;

/// Appends the offsets (`base` + bit) of the set bits; false when some were left out (over the
/// cap, or past what offsets can note).
#[inline(always)]
fn note_bits(noted: &mut Vec<u32>, mut bits: u64, base: usize, noted_len: usize) -> bool {
    if bits == 0 {
        return true;
    }
    if noted.len() + 64 > MAX_NOTED || base + 64 > noted_len {
        return note_bits_checked(noted, bits, base, noted_len);
    }
    // Eight offsets at a time into reserved room, without a branch per bit (slots past the
    // last bit are written but not kept); a block rarely has more than eight at one level.
    let count = bits.count_ones() as usize;
    noted.reserve(64);
    let len = noted.len();
    let spare = &mut noted.spare_capacity_mut()[..64];
    let mut written = 0;
    while written < count {
        for slot in &mut spare[written..written + 8] {
            slot.write(base as u32 + bits.trailing_zeros());
            bits &= bits.wrapping_sub(1);
        }
        written += 8;
    }
    // SAFETY: the first `count` slots after `len` were written above, in order.
    unsafe { noted.set_len(len + count) };
    true
}

/// [`note_bits`] one bit at a time, checking the cap and the offset of each.
#[cold]
fn note_bits_checked(noted: &mut Vec<u32>, mut bits: u64, base: usize, noted_len: usize) -> bool {
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

#[cfg(test)]
thread_local! {
    /// Set by tests to frame with [`Baseline`] even where AVX2 is available.
    pub(super) static BASELINE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True when a test asked for the baseline classifier on this thread.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tests_want_baseline() -> bool {
    #[cfg(test)]
    return BASELINE_ONLY.with(std::cell::Cell::get);
    #[cfg(not(test))]
    false
}

/// What precedes the one top-level value whose members the skim reads one level down.
const IDENTITY_KEY: &[u8] = b"\"userIdentity\":";

/// Bits `from..=to` (both below 64, `from <= to`).
#[inline(always)]
fn bit_span(from: u32, to: u32) -> u64 {
    (u64::MAX >> (63 - to)) & (u64::MAX << from)
}

use std::io::Read;

impl<R: Read> LogReader<R> {
    /// Frames the object starting at `buf[pos] == '{'` and notes its landmarks for the skim.
    /// Returns its range in `buf`, or `None` when it outgrew `max_record_bytes` (it is then
    /// consumed and dropped). Brackets are only counted, not matched by kind: validation is
    /// the parser's job.
    pub(super) fn frame_object(&mut self) -> Result<Option<(usize, usize)>, ReadError> {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = super::blocks::Avx2::detect()
            && !tests_want_baseline()
        {
            // SAFETY: `detect` found AVX2 and PCLMULQDQ on this CPU.
            return unsafe { self.frame_object_avx2(avx2) };
        }
        self.frame_object_with(Baseline)
    }

    /// [`Self::frame_object_with`] compiled for AVX2, so the classifier's intrinsics inline.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,pclmulqdq")]
    unsafe fn frame_object_avx2(
        &mut self,
        avx2: super::blocks::Avx2,
    ) -> Result<Option<(usize, usize)>, ReadError> {
        self.frame_object_with(avx2)
    }

    #[inline(always)]
    pub(super) fn frame_object_with<S: Simd>(
        &mut self,
        simd: S,
    ) -> Result<Option<(usize, usize)>, ReadError> {
        debug_assert_eq!(self.buf[self.pos], b'{');
        let marks = &mut self.landmarks;
        marks.top_quotes.clear();
        marks.identity_quotes.clear();
        marks.identity_at = None;
        marks.backslashes.clear();
        let mut complete = true;
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
        // Inside (at depth 2 of) a `userIdentity` value.
        let mut in_identity = false;
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
                (simd.classify(block), u64::MAX)
            } else {
                // The end of the input: zeros are not structural.
                let mut block = [0u8; BLOCK];
                block[..available].copy_from_slice(&self.buf[i..self.end]);
                (simd.classify(&block), (1u64 << available) - 1)
            };
            let escapes = if masks.backslash | escape_carry == 0 {
                0
            } else {
                escaped(masks.backslash, &mut escape_carry)
            };
            let quotes = masks.quote & !escapes & valid;
            let strings = simd.prefix_xor(quotes) ^ inside_string;
            inside_string = ((strings as i64) >> 63) as u64;
            let mut brackets = (masks.open | masks.close) & !strings & valid;
            // The bytes of this block at the record's top level, and inside `userIdentity`.
            let (mut top, mut identity) = (0u64, 0u64);
            let mut end = None;
            // The first bit not yet given a level.
            let mut from = 0u32;
            while brackets != 0 {
                let bit = brackets.trailing_zeros();
                brackets &= brackets - 1;
                // Bytes up to the bracket are at the level before it (the bracket is no quote).
                let span = bit_span(from, bit);
                top |= span & ((depth == 1) as u64).wrapping_neg();
                identity |= span & ((depth == 2 && in_identity) as u64).wrapping_neg();
                from = bit + 1;
                let opens = masks.open >> bit & 1;
                if opens == 1 && depth == 1 {
                    // A top-level member's value opens: is its key `userIdentity`? (A key
                    // written with escapes or spaces is not recognised here; the skim then
                    // reads that value from the bytes.)
                    let at = i + bit as usize;
                    in_identity = at >= origin + IDENTITY_KEY.len()
                        && &self.buf[at - IDENTITY_KEY.len()..at] == IDENTITY_KEY
                        && at - origin < noted_len;
                    if in_identity {
                        self.landmarks.identity_at = Some((at - origin) as u32);
                    }
                }
                // Brackets are only counted: an opening one goes down a level, a closing one up.
                depth = depth + 2 * opens - 1;
                if depth == 0 {
                    end = Some(i + bit as usize + 1);
                    break;
                }
            }
            if end.is_none() && from < 64 {
                let rest = u64::MAX << from;
                top |= rest & ((depth == 1) as u64).wrapping_neg();
                identity |= rest & ((depth == 2 && in_identity) as u64).wrapping_neg();
            }
            if !discard {
                let marks = &mut self.landmarks;
                let base = i - origin;
                complete &= note_bits(&mut marks.top_quotes, quotes & top, base, noted_len);
                complete &= note_bits(
                    &mut marks.identity_quotes,
                    quotes & identity,
                    base,
                    noted_len,
                );
                let backslashes = masks.backslash & (top | identity);
                complete &= note_bits(&mut marks.backslashes, backslashes, base, noted_len);
            }
            if let Some(end) = end {
                self.pos = end;
                // The size check also applies when the whole record arrived in one read, so
                // the verdict never depends on how the input was chunked.
                if discard || end - origin > max {
                    return Ok(None);
                }
                self.landmarks.complete = complete;
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
