//! `trailwatch scan --jobs N`: inputs scanned in parallel print exactly what a sequential scan
//! prints (stdout and stderr, byte for byte, and the exit code), bad inputs included.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn scan(jobs: &str, paths: &[&Path], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .arg("scan")
        .args(["--jobs", jobs])
        .args(extra)
        .args(paths)
        .output()
        .expect("trailwatch runs")
}

/// Stderr without the summary's timing (the last line holds seconds and MB/s).
fn stable_stderr(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .map(|line| match line.find(" in ") {
            Some(at) if line.starts_with("trailwatch: ") && line.contains(" files (") => {
                &line[..at]
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_same(sequential: &Output, parallel: &Output, what: &str) {
    assert_eq!(parallel.status.code(), sequential.status.code(), "{what}");
    assert!(
        parallel.stdout == sequential.stdout,
        "{what}: stdout differs\n--- sequential\n{}\n--- parallel\n{}",
        String::from_utf8_lossy(&sequential.stdout),
        String::from_utf8_lossy(&parallel.stdout)
    );
    assert_eq!(stable_stderr(parallel), stable_stderr(sequential), "{what}");
}

#[test]
fn parallel_output_equals_sequential_output_byte_for_byte() {
    // Stratus detonations (threshold bursts span files), quiet logs, and every bad input:
    // corrupt and truncated gzip, bombs, not-CloudTrail, skipped records.
    let (stratus, quiet, bad) = (
        fixtures().join("stratus"),
        fixtures().join("quiet"),
        fixtures().join("bad"),
    );
    let missing = fixtures().join("no-such-file.json");
    let inputs: [&Path; 4] = [&stratus, &bad, &missing, &quiet];
    // Not OCSF: it stamps an alert without a usable eventTime with the time of the scan, so
    // two sequential runs differ too.
    for format in ["jsonl", "text", "email"] {
        let extra = ["--format", format, "--max-decompressed-bytes", "1000000"];
        let sequential = scan("1", &inputs, &extra);
        assert_eq!(sequential.status.code(), Some(2), "bad inputs are errors");
        assert!(
            !sequential.stdout.is_empty(),
            "the stratus logs raise alerts"
        );
        for jobs in ["2", "3", "8"] {
            let parallel = scan(jobs, &inputs, &extra);
            assert_same(
                &sequential,
                &parallel,
                &format!("--jobs {jobs} --format {format}"),
            );
        }
    }
}

#[test]
fn one_file_with_spare_jobs_is_inflated_on_a_second_thread_with_the_same_output() {
    let bad = fixtures().join("bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("stratus"))
        .unwrap()
        .chain(std::fs::read_dir(&bad).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in &files {
        let sequential = scan("1", &[file], &["--max-decompressed-bytes", "1000000"]);
        let piped = scan("2", &[file], &["--max-decompressed-bytes", "1000000"]);
        assert_same(&sequential, &piped, &file.display().to_string());
    }
}

#[test]
fn jobs_must_be_a_positive_count() {
    let quiet = fixtures().join("quiet");
    for bad in ["0", "-1", "x"] {
        let out = scan(bad, &[&quiet], &[]);
        assert_eq!(out.status.code(), Some(2), "--jobs {bad}");
    }
}
