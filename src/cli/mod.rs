//! The `trailwatch` command line: a thin adapter that feeds files to the detector library.

pub mod backfill;
mod config_cmd;
mod jobs;
pub mod plan;
mod rules_cmd;
pub mod s3_scan;
mod scan;
mod sink;
pub mod tuning;
mod walk;

use crate::detector::{ReaderConfig, Severity};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

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
    /// Files scanned at once, each on its own thread (default: the number of CPUs). With more
    /// jobs than files, each file's gzip is inflated on a second thread. The output is the
    /// same, byte for byte, whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,
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
        }) => rules_cmd::test_rules(&path, out, err),
        Command::Rules(args) => {
            rules_cmd::list_rules(args.format, args.config.as_deref(), out, err)
        }
        Command::Config {
            action: ConfigAction::Check { file, strict },
        } => config_cmd::check_config(&file, strict, out, err),
        Command::Backfill(args) => backfill::run(args, out, err),
        Command::Scan(args) => match scan::scan(args, out, err, progress) {
            Ok(code) => code,
            Err(e) => {
                let _ = writeln!(err, "trailwatch: error: {e:#}");
                EXIT_INPUT_ERROR
            }
        },
    }
}
