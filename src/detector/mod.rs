//! The detector library: pure, with no AWS SDK, no async runtime and no I/O of its own.
//!
//! It takes a `Read` of a CloudTrail log object and a configuration, and gives alerts. The
//! Lambda function (`crate::lambda`) and the CLI (`crate::cli`) are thin adapters around it.
// Every public item says what it is for (denied by `clippy -D warnings` in `make lint`).
#![warn(missing_docs)]

pub mod alert;
pub mod arn;
pub mod calendar;
pub mod config_file;
pub mod engine;
pub mod exceptions;
pub mod keys;
pub mod policy;
pub mod reader;
pub mod record;
pub mod record_json;
pub mod rule;
pub mod rules;
pub mod sigma;
pub mod sigma_correlation;
pub mod skim;
pub mod text;
pub mod threshold;
#[cfg(test)]
mod tuning_tests;

pub use alert::{Actor, Alert, LogObject};
pub use engine::{
    ConfigError, Detector, DetectorConfig, RuleFailure, ScanError, ScanSink, ScanStats,
    SkippedRecord, Suppression, scan_log, scan_log_to, scan_reader_to,
};
pub use reader::{LogKind, LogReader, ReadError, ReaderConfig};
pub use record::Record;
pub use rule::{RuleMeta, Severity, Unevaluable};
pub use threshold::{MemoryWindowStore, ThresholdGate, WindowStore};
