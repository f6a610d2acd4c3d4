//! The hash of the rule index's maps (eventSource, eventName, caller type): every record is
//! looked up in them, so the hash runs a few times per record and must be cheap.
//!
//! The keys are the rules' own, fixed when the detector is built; records are only looked up,
//! never inserted, so input cannot crowd a bucket and std's keyed (DoS-resistant) SipHash buys
//! nothing here. This is a multiply-rotate hash over eight bytes at a time (the scheme of
//! rustc's FxHash), written out rather than taken as a dependency for a dozen lines.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`IndexHasher`].
pub(super) type IndexMap<K, V> = HashMap<K, V, BuildHasherDefault<IndexHasher>>;

/// Multiply-rotate hashing of the written bytes (see the module docs for why it is safe here).
#[derive(Default, Clone, Copy)]
pub(super) struct IndexHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IndexHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IndexHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(byte as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn equal_keys_hash_alike_and_the_map_finds_every_key() {
        let build = BuildHasherDefault::<IndexHasher>::default();
        assert_eq!(
            build.hash_one("s3.amazonaws.com"),
            build.hash_one("s3.amazonaws.com")
        );
        // Keys differing only in a byte past the first word, or by length, differ.
        assert_ne!(build.hash_one("GetObject"), build.hash_one("GetObjecu"));
        assert_ne!(build.hash_one("abcdefgh"), build.hash_one("abcdefgh\0"));
        let names = [
            "PutBucketPolicy",
            "PutBucketAcl",
            "DeleteTrail",
            "StopLogging",
            "",
            "x",
        ];
        let map: IndexMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        for (i, name) in names.iter().enumerate() {
            assert_eq!(map.get(name), Some(&i));
        }
        assert_eq!(map.get("PutBucketPolic"), None);
    }
}
