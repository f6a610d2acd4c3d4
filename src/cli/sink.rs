//! Where a scan's findings go: alerts to stdout in the chosen format, the rest to stderr.

use super::ScanFormat;
use crate::detector::text::clean;
use crate::detector::threshold::{MemoryWindowStore, ThresholdGate};
use crate::detector::{Alert, ScanSink, SkippedRecord, Suppression};
use crate::formats;
use std::io::{self, Write};

/// Alerts to stdout; each record not fully evaluated named on stderr, with its event id.
pub(super) struct CliSink<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub format: ScanFormat,
    /// `--show-excepted`: name each alert an exception suppressed, and which exception.
    pub show_excepted: bool,
    /// Set once stdout is gone (a closed pipe): alerts are still counted, not written.
    pub output_closed: bool,
    /// The input being reported on, as printed.
    pub shown_location: String,
    /// One window store and gate for the whole scan: a burst spans files.
    pub gate: ThresholdGate,
    pub window_store: MemoryWindowStore,
    /// Threshold alerts the gate let through.
    pub released: u64,
}

impl ScanSink for CliSink<'_> {
    fn alert(&mut self, alert: Alert) {
        let alert = if alert.is_pending() {
            let Ok(released) = self.gate.admit(alert, &mut self.window_store);
            match released {
                Some(alert) => {
                    self.released += 1;
                    alert
                }
                None => return,
            }
        } else {
            alert
        };
        if self.output_closed {
            return;
        }
        let written = match self.format {
            ScanFormat::Jsonl => serde_json::to_writer(&mut *self.out, &alert)
                .map_err(io::Error::other)
                .and_then(|()| self.out.write_all(b"\n")),
            ScanFormat::Text => writeln!(self.out, "{}", alert.to_text()),
            ScanFormat::Ocsf => write_ocsf(&mut *self.out, &alert),
            ScanFormat::Email => write!(
                self.out,
                "Subject: {}\n\n{}\n",
                formats::email::subject(&alert),
                formats::email::render(&alert)
            ),
        };
        if written.is_err() {
            self.output_closed = true;
        }
    }

    fn skipped(&mut self, skipped: SkippedRecord) {
        // A record nobody could judge may hide an event: name it (also counted in the summary).
        let _ = writeln!(
            self.err,
            "trailwatch: warning: {} (record {}, event id {}): record skipped: {}",
            self.shown_location,
            skipped.record_index,
            clean(skipped.event_id.as_deref().unwrap_or("unknown"), 128),
            clean(&skipped.reason, 512),
        );
    }

    fn suppressed(&mut self, suppression: Suppression) {
        if self.show_excepted {
            let a = &suppression.alert;
            let _ = writeln!(
                self.err,
                "excepted by {:?}: [{}] {} ({}) event {} at {}: {}",
                clean(&suppression.exception, 200),
                a.severity,
                a.title,
                a.rule_id,
                clean(a.event_id.as_deref().unwrap_or("-"), 80),
                clean(a.event_time.as_deref().unwrap_or("-"), 40),
                a.summary,
            );
        }
    }
}

/// One OCSF line; an alert without a usable `eventTime` is stamped with the time of the scan.
pub(super) fn write_ocsf(out: &mut dyn Write, alert: &Alert) -> io::Result<()> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .ok();
    let event = formats::ocsf::detection_finding(alert, now_ms).map_err(io::Error::other)?;
    serde_json::to_writer(&mut *out, &event).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
