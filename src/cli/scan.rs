//! `trailwatch scan`: the detector's configuration from the file and flags, then every input in
//! order (see [`super::jobs`] for how inputs run in parallel), and the summary.

use super::config_cmd::report_refusals;
use super::jobs::{Event, Item, ScanContext, run_items};
use super::sink::CliSink;
use super::walk::{expand, shown, shown_text};
use super::{EXIT_ALERTS, EXIT_CLEAN, EXIT_INPUT_ERROR, ScanArgs, s3_scan, tuning};
use crate::detector::engine::{parse_accounts, parse_organizations, parse_rule_ids};
use crate::detector::threshold::{MemoryWindowStore, ThresholdGate};
use crate::detector::{Detector, DetectorConfig, LogKind, ReaderConfig, ScanSink, ScanStats};
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Totals over a whole scan.
#[derive(Debug, Default)]
struct Totals {
    files: u64,
    digests: u64,
    records: u64,
    skipped: u64,
    alerts: u64,
    suppressed: u64,
    errors: u64,
    bytes: u64,
}

impl Totals {
    fn add(&mut self, stats: &ScanStats) {
        self.files += 1;
        self.records += stats.records;
        self.skipped += stats.skipped_records;
        self.alerts += stats.alerts;
        self.suppressed += stats.suppressed;
        self.bytes += stats.decompressed_bytes;
        if stats.kind == LogKind::Digest {
            self.digests += 1;
        }
    }
}

/// What the scan writes as inputs finish: alerts and notes through the sink, the totals, the
/// progress line.
struct Report<'a> {
    sink: CliSink<'a>,
    totals: Totals,
    progress: bool,
    last_progress: Instant,
}

impl Report<'_> {
    /// Writes one event of an input; events arrive in input order whatever ran in parallel.
    fn apply(&mut self, event: Event) -> io::Result<()> {
        match event {
            Event::Start(location) => self.sink.shown_location = location,
            Event::Alert(alert) => self.sink.alert(*alert),
            Event::Suppressed(suppression) => self.sink.suppressed(*suppression),
            Event::Skipped(skipped) => self.sink.skipped(skipped),
            Event::Warning(message) => writeln!(self.sink.err, "trailwatch: warning: {message}")?,
            Event::Note(text) => write!(self.sink.err, "{text}")?,
            Event::Error(message) => {
                self.totals.errors += 1;
                writeln!(self.sink.err, "trailwatch: error: {message}")?;
            }
            Event::Scanned(stats) => {
                self.totals.add(&stats);
                if self.progress && self.last_progress.elapsed() > Duration::from_millis(250) {
                    self.last_progress = Instant::now();
                    let t = &self.totals;
                    write!(
                        self.sink.err,
                        "\r\x1b[2Kscanning: {} files, {} records, {} alerts, {} errors",
                        t.files,
                        t.records,
                        t.alerts + self.sink.released,
                        t.errors
                    )?;
                }
            }
        }
        Ok(())
    }
}

pub(super) fn scan(
    args: ScanArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    progress: bool,
) -> anyhow::Result<i32> {
    use anyhow::Context;
    let mut config = DetectorConfig::default();
    if let Some(path) = &args.config {
        let loaded = tuning::load_file(path)?;
        report_refusals(&loaded, err)?;
        loaded.apply(&mut config);
    }
    // Flags win over the file: lists given on the command line replace the file's, except
    // --exclude-rules, which adds to the rules the file disables.
    if let Some(list) = &args.trusted_accounts {
        config.trusted_accounts = parse_accounts(list).context("--trusted-accounts")?;
    }
    if let Some(list) = &args.trusted_organizations {
        config.trusted_organizations =
            parse_organizations(list).context("--trusted-organizations")?;
    }
    let known = |id: &str| {
        crate::detector::rules::CATALOGUE
            .iter()
            .any(|r| r.meta().id == id)
            || config.sigma_rules.knows(id)
    };
    let rule_list =
        |list: &str, flag: &str| -> anyhow::Result<std::collections::BTreeSet<String>> {
            match parse_rule_ids(list) {
                Ok(ids) => Ok(ids),
                Err(_) => crate::detector::engine::split_list(list)
                    .map(|id| {
                        if known(id) {
                            Ok(id.to_owned())
                        } else {
                            Err(anyhow::anyhow!(
                                "{flag}: unknown rule id {id:?} (see `trailwatch rules`)"
                            ))
                        }
                    })
                    .collect(),
            }
        };
    if let Some(list) = &args.exclude_rules {
        let ids = rule_list(list, "--exclude-rules")?;
        config.disabled_rules.extend(ids);
    }
    if let Some(list) = &args.rules {
        config.only_rules = Some(rule_list(list, "--rules")?);
    }
    if let Some(min) = args.min_severity {
        config.min_severity = min;
    }
    let detector = Detector::new(&config)?;
    let reader_config = ReaderConfig {
        max_decompressed_bytes: args.max_decompressed_bytes,
        ..ReaderConfig::default()
    };

    let selection = s3_scan::selection(&args)?;
    let started = Instant::now();
    let jobs = args.jobs.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let context = ScanContext {
        detector: &detector,
        reader_config,
        jobs,
    };
    let mut report = Report {
        sink: CliSink {
            out,
            err,
            format: args.format,
            show_excepted: args.show_excepted,
            output_closed: false,
            shown_location: String::new(),
            // Threshold rules count across every input of the scan: one store, one gate.
            gate: ThresholdGate::new(),
            window_store: MemoryWindowStore::new(),
            released: 0,
        },
        totals: Totals::default(),
        progress,
        last_progress: Instant::now(),
    };
    // Every input in order, with what expanding the paths found to say on the way; local
    // inputs between two s3:// locations run together on the jobs.
    let mut items = Vec::new();
    for path in &args.paths {
        if let Some(url) = path.to_str().filter(|p| p.starts_with("s3://")) {
            run_items(&std::mem::take(&mut items), &context, &mut |event| {
                report.apply(event)
            })?;
            s3_scan::scan_location(url, &selection, &args, &context, &mut |event| {
                report.apply(event)
            })?;
            continue;
        }
        match expand(path) {
            Ok(walked) => {
                items.extend(walked.warnings.into_iter().map(Item::Warning));
                items.extend(walked.problems.into_iter().map(Item::Error));
                items.extend(
                    walked
                        .files
                        .into_iter()
                        .map(|(path, named)| Item::Input { path, named }),
                );
            }
            Err(e) => items.push(Item::Error(format!("{}: {}", shown(path), shown_text(&e)))),
        }
    }
    run_items(&items, &context, &mut |event| report.apply(event))?;
    // Threshold alerts are counted when released, not when their record is read.
    let mut totals = report.totals;
    totals.alerts += report.sink.released;
    let err = report.sink.err;
    for (name, count) in detector.exception_counts() {
        if count > 0 || args.show_excepted {
            writeln!(
                err,
                "trailwatch: exception {name:?} suppressed {count} alerts"
            )?;
        }
    }
    let elapsed = started.elapsed();
    let megabytes = totals.bytes as f64 / 1e6;
    writeln!(
        err,
        "trailwatch: {} files ({} digests), {} records, {} alerts, {} suppressed by exceptions, {} skipped records, {} errors in {:.2}s ({:.1} MB/s decompressed)",
        totals.files,
        totals.digests,
        totals.records,
        totals.alerts,
        totals.suppressed,
        totals.skipped,
        totals.errors,
        elapsed.as_secs_f64(),
        megabytes / elapsed.as_secs_f64().max(1e-9),
    )?;
    Ok(if totals.errors > 0 {
        EXIT_INPUT_ERROR
    } else if totals.alerts > 0 {
        EXIT_ALERTS
    } else {
        EXIT_CLEAN
    })
}
