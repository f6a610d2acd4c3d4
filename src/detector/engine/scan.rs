//! The scan loop: a log object in, records through the detector, alerts and skipped records
//! out to a [`ScanSink`], with the counts of what was read.

use super::{Detector, Suppression};
use crate::detector::alert::{Alert, LogObject};
use crate::detector::reader::{LogKind, LogReader, ReadError, ReaderConfig};
use crate::detector::record::Record;
use crate::detector::rule::Unevaluable;
use crate::detector::skim::{FieldRead, Skim};
use std::io::Read;

/// A rule that could not judge a record, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule_id}: {error}")]
pub struct RuleFailure {
    /// The rule that gave up.
    pub rule_id: &'static str,
    /// What it could not read.
    #[source]
    pub error: Unevaluable,
}

/// A record that was not fully evaluated: counted in [`ScanStats::skipped_records`] and
/// reported to the [`ScanSink`] so adapters can log it with its event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    /// Position of the element in the log's `Records` array.
    pub record_index: u64,
    /// `eventID`, when the record could be read that far.
    pub event_id: Option<String>,
    /// `eventName`, when the record could be read that far.
    pub event_name: Option<String>,
    /// Why it was skipped, in words.
    pub reason: String,
}

/// Where [`scan_log_to`] sends what it finds.
pub trait ScanSink {
    /// An alert, as soon as its record is read.
    fn alert(&mut self, alert: Alert);
    /// A record that was not fully evaluated (also counted in [`ScanStats`]).
    fn skipped(&mut self, skipped: SkippedRecord);
    /// An alert an exception suppressed (also counted in [`ScanStats::suppressed`]).
    fn suppressed(&mut self, _suppression: Suppression) {}
}

impl<S: ScanSink + ?Sized> ScanSink for &mut S {
    fn alert(&mut self, alert: Alert) {
        (**self).alert(alert)
    }
    fn skipped(&mut self, skipped: SkippedRecord) {
        (**self).skipped(skipped)
    }
    fn suppressed(&mut self, suppression: Suppression) {
        (**self).suppressed(suppression)
    }
}

/// A sink that takes alerts and leaves skipped records to the counters.
struct AlertsOnly<F>(F);

impl<F: FnMut(Alert)> ScanSink for AlertsOnly<F> {
    fn alert(&mut self, alert: Alert) {
        (self.0)(alert)
    }
    fn skipped(&mut self, _skipped: SkippedRecord) {}
}

/// What scanning one log object found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Whether the object held CloudTrail records, a digest or Insight events.
    pub kind: LogKind,
    /// Records read and fully evaluated (including those no rule wanted).
    pub records: u64,
    /// Elements of `Records` that were not fully evaluated: not an object, unparsable, too
    /// big, or a record some interested rule could not judge.
    pub skipped_records: u64,
    /// Alerts handed to the sink (threshold counts included).
    pub alerts: u64,
    /// Pending threshold alerts (counts towards a threshold, see `detector::threshold`).
    pub pending: u64,
    /// Alerts an exception suppressed.
    pub suppressed: u64,
    /// Bytes after decompression, checked against the reader's limit.
    pub decompressed_bytes: u64,
}

impl Default for ScanStats {
    fn default() -> Self {
        ScanStats {
            kind: LogKind::Records,
            records: 0,
            skipped_records: 0,
            alerts: 0,
            pending: 0,
            suppressed: 0,
            decompressed_bytes: 0,
        }
    }
}

/// A log object that could not be read to the end; `stats` covers what was read before.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ScanError {
    #[source]
    /// Why reading stopped.
    pub error: ReadError,
    /// What was read and reported before it stopped.
    pub stats: ScanStats,
}

/// Reads one log object and runs the detector over every record, calling `on_alert` for each
/// alert as soon as its record is read; skipped records are only counted in the stats.
/// `location` names the object in alerts and errors.
pub fn scan_log<R: Read>(
    input: R,
    location: &str,
    detector: &Detector,
    reader_config: ReaderConfig,
    on_alert: impl FnMut(Alert),
) -> Result<ScanStats, ScanError> {
    scan_log_to(
        input,
        location,
        detector,
        reader_config,
        AlertsOnly(on_alert),
    )
}

/// Like [`scan_log`], but also reports each record that was not fully evaluated to `sink`,
/// so adapters can log it with its event id.
pub fn scan_log_to<R: Read>(
    input: R,
    location: &str,
    detector: &Detector,
    reader_config: ReaderConfig,
    sink: impl ScanSink,
) -> Result<ScanStats, ScanError> {
    scan_reader_to(
        LogReader::open(input, reader_config),
        location,
        detector,
        sink,
    )
}

/// Like [`scan_log_to`], over a reader already opened (or the error opening it gave), such as
/// one whose gzip is inflated on another thread (`reader::pipeline`).
pub fn scan_reader_to<R: Read>(
    opened: Result<LogReader<R>, ReadError>,
    location: &str,
    detector: &Detector,
    mut sink: impl ScanSink,
) -> Result<ScanStats, ScanError> {
    let mut stats = ScanStats::default();
    let mut reader = match opened {
        Ok(reader) => reader,
        Err(error) => return Err(ScanError { error, stats }),
    };
    stats.kind = reader.kind();
    let mut alerts = Vec::new();
    let mut suppressed = Vec::new();
    let mut log = LogObject {
        location: location.to_owned(),
        record_index: 0,
    };
    // Elements the reader passed over are the gaps between the indexes it hands out.
    let mut next_index = 0;
    let mut reads = vec![FieldRead::Absent; detector.skim_wanted().len()];
    let outcome = loop {
        let raw = match reader.next_record() {
            Ok(Some(raw)) => raw,
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        };
        report_unread_elements(next_index..raw.index, &mut sink);
        next_index = raw.index + 1;
        // Most records interest no rule: decide that from a skim, without the full parse.
        let skim = raw.skim_reading(detector.skim_wanted(), &mut reads);
        if let Skim::Known {
            source,
            name,
            identity_type,
        } = skim
            && !detector.wants_framed(source, name, identity_type, &raw, &reads)
        {
            stats.records += 1;
            continue;
        }
        match Record::from_raw(&raw) {
            Ok(mut record) => {
                if let Skim::Known { .. } = skim {
                    record.skimmed = Some((detector.skim_wanted(), &reads));
                }
                log.record_index = raw.index;
                let verdict = detector.evaluate_tuned(&record, &log, &mut alerts, &mut suppressed);
                for alert in alerts.drain(..) {
                    if alert.is_pending() {
                        stats.pending += 1;
                    } else {
                        stats.alerts += 1;
                    }
                    sink.alert(alert);
                }
                for suppression in suppressed.drain(..) {
                    stats.suppressed += 1;
                    sink.suppressed(suppression);
                }
                if let Err(failure) = verdict {
                    // Read, but not fully evaluated: counted once, as skipped.
                    stats.skipped_records += 1;
                    sink.skipped(SkippedRecord {
                        record_index: raw.index,
                        event_id: record.event_id.as_deref().map(str::to_owned),
                        event_name: record.event_name.as_deref().map(str::to_owned),
                        reason: failure.to_string(),
                    });
                } else {
                    stats.records += 1;
                }
            }
            Err(error) => {
                stats.skipped_records += 1;
                sink.skipped(SkippedRecord {
                    record_index: raw.index,
                    event_id: None,
                    event_name: None,
                    reason: format!("not a readable CloudTrail record: {error}"),
                });
            }
        }
    };
    let reader_stats = reader.stats();
    if outcome.is_ok() {
        report_unread_elements(next_index..reader_stats.elements, &mut sink);
    }
    stats.skipped_records += reader_stats.skipped_elements;
    stats.decompressed_bytes = reader_stats.decompressed_bytes;
    match outcome {
        Ok(()) => Ok(stats),
        Err(error) => Err(ScanError { error, stats }),
    }
}

fn report_unread_elements(indexes: std::ops::Range<u64>, sink: &mut impl ScanSink) {
    for record_index in indexes {
        sink.skipped(SkippedRecord {
            record_index,
            event_id: None,
            event_name: None,
            reason: "element of Records is not an object or exceeds the record size limit"
                .to_owned(),
        });
    }
}
