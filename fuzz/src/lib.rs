//! Shared helpers for the fuzz targets: running the reader and the detector the way the CLI
//! and the Lambda do, and the invariants every run must keep.

use std::io::{self, Read};
use trailwatch::detector::text::is_unsafe;
use trailwatch::detector::{
    Alert, Detector, DetectorConfig, LogReader, ReadError, ReaderConfig, ScanError, ScanStats,
    scan_log,
};

/// Small ceilings so a hostile input cannot make a fuzz run slow or big, while still letting
/// libFuzzer reach the "over the ceiling" paths with short inputs.
pub const FUZZ_LIMITS: ReaderConfig = ReaderConfig {
    max_decompressed_bytes: 8 << 20,
    max_record_bytes: 64 << 10,
};

/// The reader's own buffer bound: a record is kept in at most `max_record_bytes` plus two
/// read chunks (256 KiB each). Nothing the reader hands out may be larger.
pub const READER_CHUNK: usize = 256 << 10;

/// Longest summary an alert may carry: `Alert::new` cleans it to 600 characters plus `…`.
pub const MAX_SUMMARY_CHARS: usize = 601;

/// A `Read` that hands out at most `chunk` bytes per call, to exercise every refill path.
pub struct Trickle<'a> {
    pub data: &'a [u8],
    pub chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.len().min(buf.len()).min(self.chunk.max(1));
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What reading a log object gave, in a form two runs can be compared by.
#[derive(Debug, PartialEq, Eq)]
pub struct Framed {
    pub records: Vec<Vec<u8>>,
    pub elements: u64,
    pub skipped_elements: u64,
    /// `None` on success, else the error's variant name.
    pub error: Option<&'static str>,
    pub digest: bool,
}

pub fn variant(e: &ReadError) -> &'static str {
    match e {
        ReadError::Empty => "Empty",
        ReadError::NotCloudTrail(_) => "NotCloudTrail",
        ReadError::Corrupt(_) => "Corrupt",
        ReadError::TooLarge { .. } => "TooLarge",
        ReadError::Io(_) => "Io",
    }
}

/// Reads every record with the bare reader, checking the per-record invariants.
pub fn frame(input: impl Read, cfg: ReaderConfig) -> Framed {
    let mut out = Framed {
        records: Vec::new(),
        elements: 0,
        skipped_elements: 0,
        error: None,
        digest: false,
    };
    let mut reader = match LogReader::open(input, cfg) {
        Ok(reader) => reader,
        Err(e) => {
            out.error = Some(variant(&e));
            return out;
        }
    };
    out.digest = reader.kind() == trailwatch::detector::LogKind::Digest;
    loop {
        match reader.next_record() {
            Ok(Some(raw)) => {
                // The framer balances brackets without checking their kind (serde does, when
                // the record is parsed, and skips a mismatched one), so `]` may close it.
                assert!(raw.bytes.first() == Some(&b'{'));
                assert!(matches!(raw.bytes.last(), Some(b'}' | b']')));
                assert!(
                    raw.bytes.len() <= cfg.max_record_bytes + 2 * READER_CHUNK,
                    "a record outgrew the reader's buffer bound"
                );
                out.records.push(raw.bytes.to_vec());
            }
            Ok(None) => break,
            Err(e) => {
                out.error = Some(variant(&e));
                break;
            }
        }
    }
    let stats = reader.stats();
    assert!(stats.decompressed_bytes <= cfg.max_decompressed_bytes);
    let accounted = stats.skipped_elements + out.records.len() as u64;
    if out.error.is_none() {
        assert_eq!(
            accounted, stats.elements,
            "every element is a record or skipped"
        );
    } else {
        // The element being framed when the error came is counted but is neither.
        assert!(
            stats.elements - accounted <= 1,
            "{accounted} of {} elements",
            stats.elements
        );
    }
    out.elements = stats.elements;
    out.skipped_elements = stats.skipped_elements;
    out
}

/// The invariants of one alert: safe to print, bounded, serializable.
pub fn check_alert(alert: &Alert) {
    assert!(
        alert.summary.chars().count() <= MAX_SUMMARY_CHARS,
        "summary too long: {} chars",
        alert.summary.chars().count()
    );
    assert!(
        !alert.summary.chars().any(is_unsafe),
        "control or invisible character in summary: {:?}",
        alert.summary
    );
    let json = serde_json::to_string(alert).expect("alerts serialize");
    let back: serde_json::Value = serde_json::from_str(&json).expect("alert JSON parses");
    assert_eq!(back["rule_id"], alert.rule_id.as_str());
    let text = alert.to_text();
    assert!(
        !text.chars().any(|c| c != '\n' && is_unsafe(c)),
        "control character in the text rendering"
    );
}

/// Runs `scan_log` and checks every alert and the counters against the bare reader's framing.
pub fn scan_and_check(
    input: impl Read,
    detector: &Detector,
    cfg: ReaderConfig,
    framed: &Framed,
) -> Result<ScanStats, ScanError> {
    let mut delivered = 0u64;
    let result = scan_log(input, "fuzz", detector, cfg, |alert| {
        delivered += 1;
        check_alert(&alert);
    });
    let stats = match &result {
        Ok(stats) => *stats,
        Err(e) => e.stats,
    };
    // Threshold rules' alerts arrive pending and are counted apart.
    assert_eq!(stats.alerts + stats.pending, delivered);
    // An error can come while the last counted element is being framed: it is neither.
    assert!(stats.records + stats.skipped_records <= framed.elements);
    if result.is_ok() {
        assert_eq!(stats.records + stats.skipped_records, framed.elements);
    }
    assert_eq!(
        result.as_ref().err().map(|e| variant(&e.error)),
        framed.error,
        "scan_log and the bare reader disagree"
    );
    result
}

/// The detector every target runs: the full catalogue, one trusted account.
pub fn detector() -> Detector {
    let config = DetectorConfig {
        trusted_accounts: ["999999999999".to_string()].into(),
        ..DetectorConfig::default()
    };
    Detector::new(&config).expect("valid config")
}
