//! Structural classification of 64-byte blocks, the framer's inner loop: which bytes are
//! quotes, backslashes, and opening or closing brackets, as bit masks (bit `i` is byte `i`).
//!
//! The framer then finds the escaped characters and the inside of strings for the whole block
//! with a few word operations (the technique of simdjson's stage 1), and visits only the
//! brackets outside strings, instead of branching on every byte. Which instructions do the
//! work is a [`Simd`] implementation: [`Avx2`] (AVX2 compares, and a carry-less multiply for
//! the inside of strings) where the CPU has them, checked once at run time; otherwise
//! [`Baseline`]: SSE2 on x86_64 (part of its baseline), portable word-at-a-time code elsewhere
//! (the arm64 Lambda included). All are checked against a per-byte reference in the tests.

/// The instructions a block is classified with.
pub(super) trait Simd: Copy {
    /// The classes of the block's bytes.
    fn classify(self, block: &[u8; BLOCK]) -> Masks;
    /// Bit `i` is the XOR of bits `0..=i` (see [`prefix_xor`]).
    fn prefix_xor(self, x: u64) -> u64;
}

/// What every target has: SSE2 on x86_64, word-at-a-time code elsewhere.
#[derive(Debug, Clone, Copy)]
pub(super) struct Baseline;

impl Simd for Baseline {
    #[inline(always)]
    fn classify(self, block: &[u8; BLOCK]) -> Masks {
        classify(block)
    }
    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        prefix_xor(x)
    }
}

/// AVX2 and PCLMULQDQ; a value exists only when the CPU has both ([`Avx2::detect`]), which
/// is what makes its methods sound to call.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// `Some` when this CPU has AVX2 and PCLMULQDQ (the detection is cached by std).
    #[inline]
    pub(super) fn detect() -> Option<Avx2> {
        (std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("pclmulqdq"))
            .then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Simd for Avx2 {
    #[inline(always)]
    fn classify(self, block: &[u8; BLOCK]) -> Masks {
        // SAFETY: an `Avx2` value exists only on a CPU with AVX2.
        unsafe { classify_avx2(block) }
    }
    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        // SAFETY: an `Avx2` value exists only on a CPU with PCLMULQDQ.
        unsafe { prefix_xor_clmul(x) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn classify_avx2(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::*;
    // SAFETY: both 32-byte unaligned loads read inside the 64-byte block.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(block.as_ptr().cast()),
            _mm256_loadu_si256(block.as_ptr().add(32).cast()),
        )
    };
    let bits = |lo_eq: __m256i, hi_eq: __m256i| {
        (_mm256_movemask_epi8(lo_eq) as u32 as u64)
            | ((_mm256_movemask_epi8(hi_eq) as u32 as u64) << 32)
    };
    let equal = |byte: u8, lo: __m256i, hi: __m256i| {
        let wanted = _mm256_set1_epi8(byte as i8);
        bits(_mm256_cmpeq_epi8(lo, wanted), _mm256_cmpeq_epi8(hi, wanted))
    };
    // `{`/`[` and `}`/`]` differ only in bit 0x20: one compare each after setting it.
    let case_bit = _mm256_set1_epi8(0x20);
    let (folded_lo, folded_hi) = (_mm256_or_si256(lo, case_bit), _mm256_or_si256(hi, case_bit));
    Masks {
        quote: equal(b'"', lo, hi),
        backslash: equal(b'\\', lo, hi),
        open: equal(b'{', folded_lo, folded_hi),
        close: equal(b'}', folded_lo, folded_hi),
    }
}

/// [`prefix_xor`] in one carry-less multiply by all ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::*;
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// Bytes of one block.
pub(super) const BLOCK: usize = 64;

/// The classes of a block's bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Masks {
    pub quote: u64,
    pub backslash: u64,
    /// `{` or `[`.
    pub open: u64,
    /// `}` or `]`.
    pub close: u64,
}

/// Classifies one block with the fastest implementation for this target.
#[inline]
pub(super) fn classify(block: &[u8; BLOCK]) -> Masks {
    #[cfg(target_arch = "x86_64")]
    {
        classify_sse2(block)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        classify_words(block)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn classify_sse2(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::*;
    let mut m = Masks::default();
    // SAFETY: SSE2 is part of the x86_64 baseline, and each unaligned 16-byte load reads
    // inside the 64-byte block.
    unsafe {
        // `{`/`[` and `}`/`]` differ only in bit 0x20: one compare each after setting it.
        let (quote, backslash) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\\' as i8));
        let case_bit = _mm_set1_epi8(0x20);
        let (open, close) = (_mm_set1_epi8(b'{' as i8), _mm_set1_epi8(b'}' as i8));
        for k in 0..BLOCK / 16 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
            let folded = _mm_or_si128(v, case_bit);
            let shift = 16 * k;
            m.quote |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u32 as u64) << shift;
            m.backslash |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)) as u32 as u64) << shift;
            m.open |= (_mm_movemask_epi8(_mm_cmpeq_epi8(folded, open)) as u32 as u64) << shift;
            m.close |= (_mm_movemask_epi8(_mm_cmpeq_epi8(folded, close)) as u32 as u64) << shift;
        }
    }
    m
}

/// Portable classification, eight bytes per word.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(super) fn classify_words(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks::default();
    for (k, chunk) in block.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
        let folded = word | 0x2020_2020_2020_2020;
        let shift = 8 * k;
        m.quote |= (byte_mask(word, b'"') as u64) << shift;
        m.backslash |= (byte_mask(word, b'\\') as u64) << shift;
        m.open |= (byte_mask(folded, b'{') as u64) << shift;
        m.close |= (byte_mask(folded, b'}') as u64) << shift;
    }
    m
}

/// One bit per byte of `word` equal to `byte` (exact: no false positives from borrows).
#[inline]
fn byte_mask(word: u64, byte: u8) -> u8 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = word ^ (0x0101_0101_0101_0101 * byte as u64);
    // High bit of each byte set where that byte of `x` is zero.
    let zero = !(((x & LOW7) + LOW7) | x | LOW7);
    // Gather the eight high bits into one byte.
    ((zero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// Which characters of the block are escaped (preceded by an odd run of backslashes), with
/// `carry` saying whether the first character is, and updated for the next block.
#[inline]
pub(super) fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    // A backslash that is itself escaped starts nothing.
    let backslash = backslash & !*carry;
    let follows_backslash = (backslash << 1) | *carry;
    // Runs starting on an odd bit: adding the run carries past its end; the parity of where
    // each run ends decides which following character is escaped.
    let odd_starts = backslash & !EVEN & !follows_backslash;
    let (sums, overflow) = odd_starts.overflowing_add(backslash);
    *carry = overflow as u64;
    (EVEN ^ (sums << 1)) & follows_backslash
}

/// Bit `i` is the XOR of bits `0..=i`: set from an opening quote up to (not including) its
/// closing one.
#[inline]
pub(super) fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(block: &[u8; BLOCK]) -> Masks {
        let mut m = Masks::default();
        for (i, &b) in block.iter().enumerate() {
            let bit = 1u64 << i;
            match b {
                b'"' => m.quote |= bit,
                b'\\' => m.backslash |= bit,
                b'{' | b'[' => m.open |= bit,
                b'}' | b']' => m.close |= bit,
                _ => {}
            }
        }
        m
    }

    /// A small deterministic generator (no dependency needed for this).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn every_classifier_agrees_with_the_per_byte_reference() {
        let alphabet = b"\"\\{}[]:, a\x00\xff\x7b\x5b\xdb\xfb\x02";
        let mut state = 0x9E37_79B9_7F4A_7C15;
        for round in 0..20_000 {
            let mut block = [0u8; BLOCK];
            for b in &mut block {
                let r = next(&mut state);
                *b = if round % 2 == 0 {
                    alphabet[(r % alphabet.len() as u64) as usize]
                } else {
                    r as u8
                };
            }
            let expected = reference(&block);
            assert_eq!(classify(&block), expected, "{block:?}");
            assert_eq!(classify_words(&block), expected, "{block:?}");
            #[cfg(target_arch = "x86_64")]
            if let Some(avx2) = Avx2::detect() {
                assert_eq!(avx2.classify(&block), expected, "{block:?}");
            }
        }
    }

    #[test]
    fn every_prefix_xor_agrees() {
        let mut state = 0x0123_4567_89AB_CDEF;
        for _ in 0..10_000 {
            let x = next(&mut state);
            let want = (0..64).fold(0u64, |acc, i| {
                let parity = (x & (u64::MAX >> (63 - i))).count_ones() as u64 & 1;
                acc | parity << i
            });
            assert_eq!(prefix_xor(x), want);
            assert_eq!(Baseline.prefix_xor(x), want);
            #[cfg(target_arch = "x86_64")]
            if let Some(avx2) = Avx2::detect() {
                assert_eq!(avx2.prefix_xor(x), want);
            }
        }
    }

    #[test]
    fn escapes_and_strings_match_a_per_byte_walk_across_blocks() {
        let alphabet = b"\\\\\\\"\"ab{}";
        let mut state = 0x2545_F491_4F6C_DD1D;
        for _ in 0..5_000 {
            let len = 1 + (next(&mut state) % 300) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| alphabet[(next(&mut state) % alphabet.len() as u64) as usize])
                .collect();
            // Reference: escaped characters and inside-string bytes, byte by byte.
            let (mut want_escaped, mut want_string) = (vec![false; len], vec![false; len]);
            let (mut in_string, mut after_backslash) = (false, false);
            for (i, &b) in text.iter().enumerate() {
                want_escaped[i] = after_backslash;
                after_backslash = !after_backslash && b == b'\\';
                if b == b'"' && !want_escaped[i] {
                    in_string = !in_string;
                }
                // The opening quote counts as inside, the closing one as outside.
                want_string[i] = in_string;
            }
            let (mut carry, mut string_carry) = (0u64, 0u64);
            for (n, chunk) in text.chunks(BLOCK).enumerate() {
                let mut block = [0u8; BLOCK];
                block[..chunk.len()].copy_from_slice(chunk);
                let m = classify(&block);
                let esc = escaped(m.backslash, &mut carry);
                let strings = prefix_xor(m.quote & !esc) ^ string_carry;
                string_carry = ((strings as i64) >> 63) as u64;
                for i in 0..chunk.len() {
                    let at = n * BLOCK + i;
                    assert_eq!(
                        esc >> i & 1 == 1,
                        want_escaped[at],
                        "escape at {at} in {text:?}"
                    );
                    assert_eq!(strings >> i & 1 == 1, want_string[at], "string at {at}");
                }
            }
        }
    }
}
