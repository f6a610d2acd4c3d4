//! The whole detector over mutated real records: the input is one record's JSON text, framed as
//! `{"Records":[<input>]}` and scanned with the full rule catalogue.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use trailwatch::detector::Detector;
use trailwatch_fuzz::{FUZZ_LIMITS, detector, frame, scan_and_check};

fuzz_target!(|data: &[u8]| {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    let detector = DETECTOR.get_or_init(detector);
    let mut log = Vec::with_capacity(data.len() + 16);
    log.extend_from_slice(br#"{"Records":["#);
    log.extend_from_slice(data);
    log.extend_from_slice(b"]}");
    let framed = frame(&log[..], FUZZ_LIMITS);
    let _ = scan_and_check(&log[..], detector, FUZZ_LIMITS, &framed);
});
