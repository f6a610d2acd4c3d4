//! The `trailwatch` command line: a thin adapter that feeds files to the detector library.

pub mod backfill;
pub mod plan;
pub mod s3_scan;
pub mod tuning;

use crate::detector::engine::{parse_accounts, parse_organizations, parse_rule_ids};
use crate::detector::keys::{KeyKind, classify_key};
use crate::detector::text::clean;
use crate::detector::threshold::{MemoryWindowStore, ThresholdGate};
use crate::detector::{
    Alert, Detector, DetectorConfig, LogKind, ReaderConfig, ScanSink, ScanStats, Severity,
    SkippedRecord, Suppression, scan_log_to,
};
use crate::formats;
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Detects risky changes in AWS accounts from CloudTrail logs.
#[derive(Debug, Parser)]
#[command(name = "trailwatch", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan CloudTrail log files (.json, .json.gz), directories (recursively) or stdin (-).
    Scan(ScanArgs),
    /// List the rule catalogue with its metadata, or test Sigma rules against examples.
    Rules(RulesArgs),
    /// Create an S3 Batch Operations job that has the deployed function scan past days of a
    /// CloudTrail bucket (its alerts go through the function's dedup).
    Backfill(backfill::BackfillArgs),
    /// Check a configuration file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Validate a configuration file and the Sigma rules it names; exits 2 on an error.
    Check {
        /// The YAML configuration file.
        file: PathBuf,
        /// Also fail when a Sigma rule is refused.
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RulesAction {
    /// Run Sigma rules (a file or a directory) against the example records in their
    /// `<rule>.test.yml` side files; exits 1 on a miss.
    Test {
        /// A Sigma rule file or a directory of them.
        path: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct ScanArgs {
    /// The YAML configuration file (docs/configuration.md); flags given here override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print each alert an exception suppressed, and which exception, on stderr.
    #[arg(long)]
    show_excepted: bool,
    /// Accounts that may be shared with without an alert (comma-separated 12-digit ids).
    #[arg(long, value_name = "ID,ID")]
    trusted_accounts: Option<String>,
    /// Organizations or OU paths whose members may be shared with (comma-separated
    /// `o-xxxxxxxxxx` or `o-xxxxxxxxxx/r-xxxx/ou-xxxx-xxxxxxxx`); any other organization a
    /// grant names is external.
    #[arg(long, value_name = "ORG,ORG")]
    trusted_organizations: Option<String>,
    /// Run only these rules (comma-separated ids).
    #[arg(long, value_name = "ID,...")]
    rules: Option<String>,
    /// Do not run these rules (comma-separated ids).
    #[arg(long, value_name = "ID,...")]
    exclude_rules: Option<String>,
    /// Skip rules, and alerts, below this severity (default: the file's, else info).
    #[arg(long, value_name = "S")]
    min_severity: Option<Severity>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = ScanFormat::Jsonl)]
    format: ScanFormat,
    /// Ceiling on decompressed bytes per log file (gzip-bomb guard).
    #[arg(long, value_name = "BYTES", default_value_t = ReaderConfig::default().max_decompressed_bytes)]
    max_decompressed_bytes: u64,
    /// s3:// locations: first day to scan (YYYY-MM-DD, UTC, inclusive); --until defaults to today.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// s3:// locations: last day to scan (YYYY-MM-DD, UTC, inclusive).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// s3:// locations: only these accounts' folders (comma-separated 12-digit ids).
    #[arg(long, value_name = "ID,ID")]
    accounts: Option<String>,
    /// s3:// locations: only these regions' folders (comma-separated, such as us-east-1).
    #[arg(long, value_name = "REGION,REGION")]
    regions: Option<String>,
    /// s3:// locations: objects downloaded at once (each is held in memory until scanned).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    s3_concurrency: u16,
    /// Files, directories, - for stdin, or s3://bucket/prefix (a CloudTrail bucket, listed by
    /// day; see --since).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScanFormat {
    /// One alert JSON object per line.
    Jsonl,
    /// Readable text.
    Text,
    /// One OCSF 1.1.0 Detection Finding (class 2004) JSON object per line.
    Ocsf,
    /// What an e-mail subscriber to the alert topic reads, one message after another.
    Email,
}

#[derive(Debug, clap::Args)]
struct RulesArgs {
    #[command(subcommand)]
    action: Option<RulesAction>,
    /// List the Sigma rules this configuration file loads too.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    format: RulesFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RulesFormat {
    Text,
    Json,
}

/// Exit status: no alert.
pub const EXIT_CLEAN: i32 = 0;
/// Exit status: at least one alert.
pub const EXIT_ALERTS: i32 = 1;
/// Exit status: some input could not be read (the others were still scanned), or bad usage.
pub const EXIT_INPUT_ERROR: i32 = 2;

/// Runs the CLI with the process's arguments and streams; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                EXIT_INPUT_ERROR
            } else {
                EXIT_CLEAN
            };
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let stderr = io::stderr();
    let progress = stderr.is_terminal();
    let code = run(cli, &mut out, &mut stderr.lock(), progress);
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            eprintln!("trailwatch: error: writing output: {e}");
            EXIT_INPUT_ERROR
        }
        Ok(()) => code,
    }
}

/// Runs a parsed command line, writing results to `out` and diagnostics to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write, progress: bool) -> i32 {
    match cli.command {
        Command::Rules(RulesArgs {
            action: Some(RulesAction::Test { path }),
            ..
        }) => test_rules(&path, out, err),
        Command::Rules(args) => list_rules(args.format, args.config.as_deref(), out, err),
        Command::Config {
            action: ConfigAction::Check { file, strict },
        } => check_config(&file, strict, out, err),
        Command::Backfill(args) => backfill::run(args, out, err),
        Command::Scan(args) => match scan(args, out, err, progress) {
            Ok(code) => code,
            Err(e) => {
                let _ = writeln!(err, "trailwatch: error: {e:#}");
                EXIT_INPUT_ERROR
            }
        },
    }
}

fn list_rules(
    format: RulesFormat,
    config: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let detector = Detector::new(&DetectorConfig::default()).expect("default config is valid");
    let metas: Vec<_> = detector.rules().collect();
    let sigma = match config.map(tuning::load_file).transpose() {
        Ok(loaded) => loaded.map(|l| l.sigma_rules).unwrap_or_default(),
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {e}");
            return EXIT_INPUT_ERROR;
        }
    };
    let written = match format {
        RulesFormat::Json => {
            let sigma: Vec<serde_json::Value> = sigma
                .rules()
                .iter()
                .map(|r| {
                    serde_json::json!({"id": r.rule_id, "title": r.title, "severity": r.severity,
                        "risk_score": r.risk_score, "references": r.references,
                        "false_positives": r.false_positives, "origin": r.origin,
                        "runs_on_every_record": r.runs_on_every_record(), "reads": r.reads(),
                        "alerts_alone": r.alerts_alone})
                })
                .collect();
            let mut all: Vec<serde_json::Value> = metas
                .iter()
                .map(|m| serde_json::to_value(m).unwrap_or_default())
                .collect();
            all.extend(sigma);
            serde_json::to_writer_pretty(&mut *out, &all)
                .map_err(io::Error::other)
                .and_then(|()| writeln!(out))
        }
        RulesFormat::Text => metas.iter().try_for_each(|m| {
            let attack: Vec<String> = m
                .mitre_attack
                .iter()
                .map(|a| format!("{} {} / {}", a.technique_id, a.technique_name, a.tactic_id))
                .collect();
            writeln!(
                out,
                "{id}\n  {title}\n  severity {sev}, risk {risk}, dedup {dedup} min\n  ATT&CK: {attack}\n  implements: {vendor} \"{name}\" ({sid})\n",
                id = m.id,
                title = m.title,
                sev = m.severity,
                risk = m.risk_score,
                dedup = m.dedup_period_minutes,
                attack = attack.join("; "),
                vendor = m.implements.vendor,
                name = m.implements.name,
                sid = m.implements.id,
            )
        })
        .and_then(|()| {
            sigma.rules().iter().try_for_each(|r| {
                writeln!(
                    out,
                    "{id}\n  {title}\n  severity {sev}, risk {risk}, dedup {dedup} min\n  Sigma rule from {origin}; reads {reads}{every}\n",
                    id = r.rule_id,
                    title = r.title,
                    sev = r.severity,
                    risk = r.risk_score,
                    dedup = r.dedup_period_minutes,
                    origin = r.origin,
                    reads = r.reads(),
                    every = if r.alerts_alone {
                        ""
                    } else {
                        " (counted by correlations only)"
                    },
                )
            })
        })
        .and_then(|()| {
            sigma.correlations().iter().try_for_each(|c| {
                writeln!(
                    out,
                    "{id}\n  {title}\n  severity {sev}, risk {risk}\n  Sigma correlation from {origin}: {threshold} distinct {counts} within {timespan} s\n",
                    id = c.rule_id,
                    title = c.title,
                    sev = c.severity,
                    risk = c.risk_score,
                    origin = c.origin,
                    threshold = c.threshold,
                    counts = c.counts(),
                    timespan = c.timespan_secs,
                )
            })
        }),
    };
    match written {
        Ok(()) => EXIT_CLEAN,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_CLEAN,
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {e}");
            EXIT_INPUT_ERROR
        }
    }
}

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

fn scan(
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
    // Threshold rules count across every input of the scan: one store, one gate.
    let mut ctx = ScanContext {
        detector: &detector,
        reader_config,
        format: args.format,
        show_excepted: args.show_excepted,
        window_store: MemoryWindowStore::new(),
        threshold_gate: ThresholdGate::new(),
        output_closed: false,
        totals: Totals::default(),
        progress,
        last_progress: Instant::now(),
    };
    for path in &args.paths {
        if let Some(url) = path.to_str().filter(|p| p.starts_with("s3://")) {
            s3_scan::scan_location(url, &selection, &args, &mut ctx, out, err)?;
            continue;
        }
        let walked = match expand(path) {
            Ok(walked) => walked,
            Err(e) => {
                ctx.totals.errors += 1;
                writeln!(
                    err,
                    "trailwatch: error: {}: {}",
                    shown(path),
                    shown_text(&e)
                )?;
                continue;
            }
        };
        for warning in &walked.warnings {
            writeln!(err, "trailwatch: warning: {warning}")?;
        }
        for problem in &walked.problems {
            ctx.totals.errors += 1;
            writeln!(err, "trailwatch: error: {problem}")?;
        }
        for (input, named) in walked.files {
            let location = input.display().to_string();
            let source: Box<dyn Read> = if input == Path::new("-") {
                Box::new(io::stdin().lock())
            } else {
                // A file found in a walk may have become a FIFO or device since: opening one
                // would wait forever for a writer. One named on the command line is read as a
                // stream (`<(aws s3 cp s3://... -)`).
                if !named && !std::fs::metadata(&input).is_ok_and(|m| m.is_file()) {
                    writeln!(
                        err,
                        "trailwatch: warning: {}: not a regular file; skipped",
                        shown(&input)
                    )?;
                    continue;
                }
                match File::open(&input) {
                    Ok(f) => Box::new(f),
                    Err(e) => {
                        ctx.totals.errors += 1;
                        writeln!(
                            err,
                            "trailwatch: error: {}: {}",
                            shown(&input),
                            shown_text(&e)
                        )?;
                        continue;
                    }
                }
            };
            ctx.scan_object(source, &location, shown(&input), out, err)?;
        }
    }
    let (totals, progress) = (ctx.totals, ctx.progress);
    if progress {
        write!(err, "\r\x1b[2K")?;
    }
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

/// What every object of one scan shares: the detector, the threshold windows, the totals.
struct ScanContext<'d> {
    detector: &'d Detector,
    reader_config: ReaderConfig,
    format: ScanFormat,
    show_excepted: bool,
    /// One window store and gate for the whole scan: a burst spans files.
    window_store: MemoryWindowStore,
    threshold_gate: ThresholdGate,
    /// Set once stdout is gone (a closed pipe).
    output_closed: bool,
    totals: Totals,
    /// Whether to draw the progress line on stderr (a terminal).
    progress: bool,
    last_progress: Instant,
}

impl ScanContext<'_> {
    /// Scans one log object (a file, stdin or an S3 object's body); an object that cannot be
    /// read is counted and named on stderr, and the scan goes on.
    fn scan_object(
        &mut self,
        source: Box<dyn Read>,
        location: &str,
        shown_location: String,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        let mut sink = CliSink {
            out: &mut *out,
            err: &mut *err,
            format: self.format,
            show_excepted: self.show_excepted,
            output_closed: &mut self.output_closed,
            shown_location: shown_location.clone(),
            gate: &mut self.threshold_gate,
            window_store: &mut self.window_store,
            released: 0,
        };
        let scanned = scan_log_to(
            source,
            location,
            self.detector,
            self.reader_config,
            &mut sink,
        );
        // Threshold alerts are counted when released, not when their record is read.
        self.totals.alerts += sink.released;
        match scanned {
            Ok(stats) => self.totals.add(&stats),
            Err(e) => {
                self.totals.add(&e.stats);
                self.totals.errors += 1;
                writeln!(
                    err,
                    "trailwatch: error: {}: {}",
                    shown_location,
                    shown_text(&e.error)
                )?;
            }
        }
        self.show_progress(err)
    }

    /// Counts an input that could not be opened, naming it on stderr.
    fn input_error(&mut self, err: &mut dyn Write, message: &str) -> io::Result<()> {
        self.totals.errors += 1;
        writeln!(err, "trailwatch: error: {}", clean(message, 4096))
    }

    fn show_progress(&mut self, err: &mut dyn Write) -> io::Result<()> {
        if self.progress && self.last_progress.elapsed() > Duration::from_millis(250) {
            self.last_progress = Instant::now();
            write!(
                err,
                "\r\x1b[2Kscanning: {} files, {} records, {} alerts, {} errors",
                self.totals.files, self.totals.records, self.totals.alerts, self.totals.errors
            )?;
        }
        Ok(())
    }
}

/// Alerts to stdout; each record not fully evaluated named on stderr, with its event id.
struct CliSink<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    format: ScanFormat,
    /// `--show-excepted`: name each alert an exception suppressed, and which exception.
    show_excepted: bool,
    /// Set once stdout is gone (a closed pipe): alerts are still counted, not written.
    output_closed: &'a mut bool,
    shown_location: String,
    /// One window store and gate for the whole scan: a burst spans files.
    gate: &'a mut ThresholdGate,
    window_store: &'a mut MemoryWindowStore,
    /// Threshold alerts the gate let through for this input.
    released: u64,
}

impl ScanSink for CliSink<'_> {
    fn alert(&mut self, alert: Alert) {
        let alert = if alert.is_pending() {
            let Ok(released) = self.gate.admit(alert, self.window_store);
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
        if *self.output_closed {
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
            *self.output_closed = true;
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
fn write_ocsf(out: &mut dyn Write, alert: &Alert) -> io::Result<()> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .ok();
    let event = formats::ocsf::detection_finding(alert, now_ms).map_err(io::Error::other)?;
    serde_json::to_writer(&mut *out, &event).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// A path as printed on stderr: control, bidi and invisible characters escaped, so a file
/// name cannot forge a line or a terminal sequence.
fn shown(path: &Path) -> String {
    clean(&path.display().to_string(), 4096)
}

/// An error message as printed on stderr (it may quote a path or the input).
fn shown_text(e: &dyn std::fmt::Display) -> String {
    clean(&e.to_string(), 4096)
}

/// What a path argument expands to.
#[derive(Debug, Default)]
struct Walked {
    /// Files to scan, each with whether it was named on the command line.
    files: Vec<(PathBuf, bool)>,
    /// Subdirectories that could not be read: errors (exit 2); the rest is still scanned.
    problems: Vec<String>,
    /// Entries left out on purpose (FIFOs, sockets, devices; directories already walked).
    warnings: Vec<String>,
}

/// Turns a path argument into the files to scan: a file as given (a pipe too), a directory's
/// log files recursively (sorted, digests and non-log files left out, symbolic links to
/// directories followed once each), or `-`. `Err` only when the argument itself cannot be read.
fn expand(path: &Path) -> io::Result<Walked> {
    let mut walked = Walked::default();
    if path == Path::new("-") || !path.is_dir() {
        if path != Path::new("-") {
            // Surface "no such file" here rather than as a silent skip.
            std::fs::metadata(path)?;
        }
        walked.files.push((path.to_owned(), true));
        return Ok(walked);
    }
    std::fs::read_dir(path)?;
    let mut visited: HashSet<PathBuf> = HashSet::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        // Canonical paths catch symbolic-link loops and two links to one directory.
        let canonical = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if !visited.insert(canonical) {
            walked.warnings.push(format!(
                "{}: directory already scanned (symbolic link loop or second link); skipped",
                shown(&dir)
            ));
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                walked
                    .problems
                    .push(format!("{}: {}", shown(&dir), shown_text(&e)));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    walked
                        .problems
                        .push(format!("{}: {}", shown(&dir), shown_text(&e)));
                    continue;
                }
            };
            let p = entry.path();
            // Follows symbolic links: a link to a directory is walked, to a file is read.
            let file_type = match std::fs::metadata(&p) {
                Ok(m) => m.file_type(),
                Err(e) => {
                    walked
                        .warnings
                        .push(format!("{}: {}; skipped", shown(&p), shown_text(&e)));
                    continue;
                }
            };
            if file_type.is_dir() {
                stack.push(p);
            } else if !file_type.is_file() {
                if is_log_file(&p) {
                    walked.warnings.push(format!(
                        "{}: not a regular file (FIFO, socket or device); skipped",
                        shown(&p)
                    ));
                }
            } else if is_log_file(&p) {
                walked.files.push((p, false));
            }
        }
    }
    walked.files.sort();
    Ok(walked)
}

fn is_log_file(path: &Path) -> bool {
    let text = path.to_string_lossy().replace('\\', "/");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let is_json = name.ends_with(".json") || name.ends_with(".json.gz");
    is_json && !matches!(classify_key(&text), KeyKind::Digest | KeyKind::Insight)
}

/// Warns about Sigma rules that did not load.
fn report_refusals(loaded: &tuning::LoadedTuning, err: &mut dyn Write) -> io::Result<()> {
    if loaded.file.sigma_directory.is_some() {
        writeln!(
            err,
            "trailwatch: {} Sigma rules loaded, {} refused",
            loaded.sigma_rules.rules().len(),
            loaded.refused.len()
        )?;
    }
    for refusal in &loaded.refused {
        writeln!(err, "trailwatch: warning: Sigma rule refused: {refusal}")?;
    }
    Ok(())
}

fn check_config(file: &Path, strict: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let loaded = match tuning::load_file(file) {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {e}");
            return EXIT_INPUT_ERROR;
        }
    };
    let mut config = DetectorConfig::default();
    loaded.apply(&mut config);
    if let Err(e) = Detector::new(&config) {
        let _ = writeln!(err, "trailwatch: error: {}: {e}", file.display());
        return EXIT_INPUT_ERROR;
    }
    if report_refusals(&loaded, err).is_err() {
        return EXIT_INPUT_ERROR;
    }
    let f = &loaded.file;
    let _ = writeln!(
        out,
        "{}: ok: {} trusted accounts, {} trusted organizations, {} disabled rules, {} severity overrides, {} exceptions, {} Sigma rules ({} refused)",
        file.display(),
        f.trusted_accounts.len(),
        f.trusted_organizations.len(),
        f.disabled_rules.len(),
        f.severity_overrides.len(),
        f.exceptions.len(),
        loaded.sigma_rules.rules().len(),
        loaded.refused.len(),
    );
    if !loaded.sigma_rules.correlations().is_empty() {
        let _ = writeln!(
            out,
            "{} Sigma correlations",
            loaded.sigma_rules.correlations().len()
        );
    }
    // The cost of a Sigma rule is the records it reads in full: name the broad ones.
    for rule in loaded.sigma_rules.rules() {
        let broad = rule.route.as_ref().is_none_or(|gates| {
            gates
                .iter()
                .any(|g| !matches!(g, crate::detector::sigma::Gate::Event(_)))
        });
        if broad {
            let _ = writeln!(
                out,
                "note: {} {:?} reads {}",
                rule.rule_id,
                rule.title,
                rule.reads()
            );
        }
    }
    if strict && !loaded.refused.is_empty() {
        EXIT_INPUT_ERROR
    } else {
        EXIT_CLEAN
    }
}

/// Example records for one Sigma rule file: `<rule>.test.yml` beside it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleExamples {
    /// CloudTrail records the rule must match.
    #[serde(default, rename = "match")]
    must_match: Vec<serde_json::Value>,
    /// CloudTrail records it must not match.
    #[serde(default)]
    no_match: Vec<serde_json::Value>,
}

fn examples_path(rule: &Path) -> PathBuf {
    let name = rule
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".yml")
        .or_else(|| name.strip_suffix(".yaml"))
        .unwrap_or(&name);
    rule.with_file_name(format!("{stem}.test.yml"))
}

fn test_rules(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let sources = if path.is_dir() {
        tuning::read_sigma_dir(path)
    } else {
        std::fs::read_to_string(path).map(|t| vec![(path.display().to_string(), t)])
    };
    let sources = match sources {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {}: {e}", path.display());
            return EXIT_INPUT_ERROR;
        }
    };
    let mut failures = 0;
    let mut passed = 0;
    // Loaded together: a correlation may reference rules from other files.
    let all = crate::detector::sigma::load(
        &sources,
        crate::detector::sigma::DEFAULT_DEDUP_PERIOD_MINUTES,
        |_| false,
    );
    for (origin, _) in &sources {
        let rules: Vec<&crate::detector::sigma::SigmaRule> = all
            .rules
            .rules()
            .iter()
            .filter(|r| &r.origin == origin)
            .collect();
        for refusal in all.refused.iter().filter(|r| &r.origin == origin) {
            failures += 1;
            let _ = writeln!(out, "FAIL {refusal}");
        }
        for correlation in all
            .rules
            .correlations()
            .iter()
            .filter(|c| &c.origin == origin)
        {
            let _ = writeln!(
                out,
                "load {} {:?}: correlation, counts {} (no record examples)",
                correlation.rule_id,
                correlation.title,
                correlation.counts()
            );
        }
        let side = examples_path(Path::new(origin));
        let examples: RuleExamples = match std::fs::read_to_string(&side) {
            Ok(t) => match yaml_serde::from_str(&t) {
                Ok(e) => e,
                Err(e) => {
                    failures += 1;
                    let _ = writeln!(out, "FAIL {}: {e}", side.display());
                    continue;
                }
            },
            Err(e) => {
                failures += rules.len();
                for rule in &rules {
                    let _ = writeln!(
                        out,
                        "FAIL {} ({origin}): no examples: {}: {e}",
                        rule.rule_id,
                        side.display()
                    );
                }
                continue;
            }
        };
        for rule in rules {
            let mut misses = Vec::new();
            if examples.must_match.is_empty() {
                misses.push("the examples file has no `match` record".to_owned());
            }
            for (i, record) in examples.must_match.iter().enumerate() {
                if !rule.matches(record) {
                    misses.push(format!("match[{i}] did not match"));
                }
            }
            for (i, record) in examples.no_match.iter().enumerate() {
                if rule.matches(record) {
                    misses.push(format!("no_match[{i}] matched"));
                }
            }
            if misses.is_empty() {
                passed += 1;
                let _ = writeln!(
                    out,
                    "ok   {} {:?}: {} match, {} no_match",
                    rule.rule_id,
                    rule.title,
                    examples.must_match.len(),
                    examples.no_match.len()
                );
            } else {
                failures += 1;
                let _ = writeln!(
                    out,
                    "FAIL {} ({origin}): {}",
                    rule.rule_id,
                    misses.join("; ")
                );
            }
        }
    }
    let _ = writeln!(out, "{passed} passed, {failures} failed");
    if failures > 0 {
        EXIT_ALERTS
    } else {
        EXIT_CLEAN
    }
}
