//! The log reader and `scan_log` over arbitrary bytes.
//!
//! Byte 0 is a flag byte, the rest is the log object:
//! - bit 0: gzip the payload first (bit 5: as two gzip members, split in the middle);
//! - bits 1-3: read the input in pieces of at most 1, 2, 3, 7, 64, 4096 or 65536 bytes;
//! - bit 4: a 256-byte `max_record_bytes`, to reach the skip-oversized path with small inputs.
#![no_main]

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::sync::OnceLock;
use trailwatch::detector::{Detector, ReaderConfig};
use trailwatch_fuzz::{FUZZ_LIMITS, Trickle, detector, frame, scan_and_check};

const PIECES: [usize; 8] = [usize::MAX, 1, 2, 3, 7, 64, 4096, 65536];

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fuzz_target!(|data: &[u8]| {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    let detector = DETECTOR.get_or_init(detector);
    let Some((&flags, payload)) = data.split_first() else {
        return;
    };
    let input = if flags & 1 == 0 {
        payload.to_vec()
    } else if flags & 0x20 == 0 {
        gzip(payload)
    } else {
        let (a, b) = payload.split_at(payload.len() / 2);
        let mut both = gzip(a);
        both.extend(gzip(b));
        both
    };
    let cfg = if flags & 0x10 != 0 {
        ReaderConfig {
            max_record_bytes: 256,
            ..FUZZ_LIMITS
        }
    } else {
        FUZZ_LIMITS
    };
    let piece = PIECES[usize::from((flags >> 1) & 7)];

    let whole = frame(&input[..], cfg);
    // Chunk-boundary independence: the same object read in small pieces frames identically.
    if piece != usize::MAX {
        let trickled = frame(
            Trickle {
                data: &input,
                chunk: piece,
            },
            cfg,
        );
        assert_eq!(
            whole, trickled,
            "framing depends on read boundaries (piece {piece})"
        );
    }
    // Well-formed JSON frames into well-formed records and is never reported as corrupt.
    if serde_json::from_slice::<serde_json::Value>(payload).is_ok() {
        assert_ne!(whole.error, Some("Corrupt"), "valid JSON reported corrupt");
        for record in &whole.records {
            assert!(
                serde_json::from_slice::<serde_json::Value>(record).is_ok_and(|v| v.is_object()),
                "a record framed out of valid JSON is not a JSON object"
            );
        }
    }
    let _ = scan_and_check(
        Trickle {
            data: &input,
            chunk: piece,
        },
        detector,
        cfg,
        &whole,
    );
});
