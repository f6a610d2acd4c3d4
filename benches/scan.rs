//! Throughput of the detector on one core, as ratios against baselines measured in the same run
//! (the machines are shared and noisy; absolute MB/s are for context only).
//!
//! Variants, over one in-memory gzipped log from the deterministic generator:
//! - `decompress`: gunzip only;
//! - `parse` (baseline): gunzip + frame + parse every record into the typed `Record`, no rules;
//! - `scan`: `scan_log` with every rule (what `trailwatch scan` and the Lambda do): records no
//!   rule wants are skimmed, not parsed, so it may beat the parse baseline;
//! - `value`: gunzip + `serde_json::Value` for the whole document (the naive way; reference).
//!
//! Repetitions are interleaved and the ratio is the median of per-repetition ratios.
//! Run: `cargo bench --no-default-features --bench scan` (or `make bench`).
//! Env: `BENCH_MB` (decompressed size, default 64), `BENCH_REPS` (default 7),
//! `BENCH_SIGMA_DIR`: a directory of Sigma CloudTrail rules (e.g. SigmaHQ's
//! `rules/cloud/aws/cloudtrail`, kept outside this repository): also time the scan with those
//! rules loaded against the scan without them (target >= 0.9).

#[path = "synth/mod.rs"]
mod synth;

use std::hint::black_box;
use std::io::Read;
use std::time::Instant;
use trailwatch::detector::{Detector, DetectorConfig, LogReader, ReaderConfig, Record, scan_log};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn decompress(gz: &[u8]) -> u64 {
    let mut d = flate2::read::MultiGzDecoder::new(gz);
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0;
    loop {
        let n = d.read(&mut buf).unwrap();
        if n == 0 {
            return total;
        }
        total += n as u64;
        black_box(&buf[..n]);
    }
}

fn parse(gz: &[u8]) -> u64 {
    let mut reader = LogReader::open(gz, ReaderConfig::default()).unwrap();
    let mut records = 0;
    while let Some(raw) = reader.next_record().unwrap() {
        let record = Record::from_slice(raw.bytes).unwrap();
        black_box((record.source().len(), record.name().len()));
        records += 1;
    }
    records
}

fn scan(gz: &[u8], detector: &Detector) -> (u64, u64) {
    let mut alerts = 0;
    let stats = scan_log(gz, "bench", detector, ReaderConfig::default(), |a| {
        black_box(&a);
        alerts += 1;
    })
    .unwrap();
    (stats.records, alerts)
}

fn value(gz: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(
        flate2::read::MultiGzDecoder::new(gz),
    ))
    .unwrap();
    v["Records"].as_array().map_or(0, |a| a.len() as u64)
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed().as_secs_f64(), out)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let mb = env_u64("BENCH_MB", 64);
    let reps = env_u64("BENCH_REPS", 7).max(3) as usize;
    let mut gz = Vec::new();
    let planted = synth::generate(&mut gz, mb << 20, 42, 10_000).unwrap();
    let bytes = planted.decompressed_bytes as f64;
    println!(
        "log: {:.1} MB decompressed, {:.1} MB gzipped, {} records ({:.0} B/record), {} planted triggers -> {} expected alerts",
        bytes / 1e6,
        gz.len() as f64 / 1e6,
        planted.records,
        bytes / planted.records as f64,
        planted.triggers,
        planted.expected_alerts
    );
    let detector = Detector::new(&DetectorConfig::default()).unwrap();

    // Warm-up and correctness: the scan must see every record and raise exactly the planted alerts.
    assert_eq!(parse(&gz), planted.records);
    let (records, alerts) = scan(&gz, &detector);
    assert_eq!(records, planted.records);
    assert_eq!(
        alerts, planted.expected_alerts,
        "alert count must match the planted events"
    );

    let (mut t_dec, mut t_parse, mut t_scan, mut ratios) = (vec![], vec![], vec![], vec![]);
    let mut gunzip_ratios = vec![];
    for rep in 0..reps {
        // Alternate the order so drift in machine load does not favour one variant.
        let (tp, ts) = if rep % 2 == 0 {
            let tp = time(|| parse(&gz)).0;
            (tp, time(|| scan(&gz, &detector)).0)
        } else {
            let ts = time(|| scan(&gz, &detector)).0;
            (time(|| parse(&gz)).0, ts)
        };
        let td = time(|| decompress(&gz)).0;
        t_dec.push(td);
        gunzip_ratios.push(td / ts);
        t_parse.push(tp);
        t_scan.push(ts);
        ratios.push(tp / ts);
    }
    let t_value = time(|| value(&gz)).0;
    let mbps = |t: f64| bytes / 1e6 / t;
    let (lo, hi) = (
        ratios.iter().cloned().fold(f64::MAX, f64::min),
        ratios.iter().cloned().fold(0.0, f64::max),
    );
    println!(
        "decompress only           {:>7.1} MB/s",
        mbps(median(t_dec.clone()))
    );
    println!(
        "parse (baseline)          {:>7.1} MB/s",
        mbps(median(t_parse.clone()))
    );
    println!(
        "scan (all rules)          {:>7.1} MB/s",
        mbps(median(t_scan.clone()))
    );
    println!(
        "serde_json::Value (naive) {:>7.1} MB/s (one run)",
        mbps(t_value)
    );
    let ratio = median(ratios);
    println!(
        "RESULT scan/parse throughput ratio: {ratio:.3} (min {lo:.3}, max {hi:.3}, {reps} interleaved reps); target >= 0.8: {}",
        if ratio >= 0.8 { "PASS" } else { "FAIL" }
    );
    let gunzip_ratio = median(gunzip_ratios);
    println!(
        "RESULT scan/gunzip-only throughput ratio (one thread): {gunzip_ratio:.3}; target >= 0.7: {}",
        if gunzip_ratio >= 0.7 { "PASS" } else { "FAIL" }
    );
    println!(
        "RESULT parse/value speed-up: {:.2}x",
        t_value / median(t_parse)
    );
    if let Ok(dir) = std::env::var("BENCH_SIGMA_DIR") {
        sigma_ratio(&gz, &detector, std::path::Path::new(&dir), reps, mbps);
    }
}

/// Scan with the Sigma rules in `dir` loaded, against the scan without them.
fn sigma_ratio(
    gz: &[u8],
    plain: &Detector,
    dir: &std::path::Path,
    reps: usize,
    mbps: impl Fn(f64) -> f64,
) {
    let sources = trailwatch::cli::tuning::read_sigma_dir(dir).unwrap();
    let loaded = trailwatch::detector::sigma::load(&sources, 60, |_| false);
    let with_sigma = Detector::new(&DetectorConfig {
        sigma_rules: loaded.rules.clone(),
        ..DetectorConfig::default()
    })
    .unwrap();
    let every_record = loaded
        .rules
        .rules()
        .iter()
        .filter(|r| r.runs_on_every_record())
        .count();
    let (_, sigma_alerts) = scan(gz, &with_sigma);
    println!(
        "sigma: {} of {} rule files' rules loaded ({} refused), {} run on every record; {} alerts with them",
        loaded.rules.rules().len(),
        sources.len(),
        loaded.refused.len(),
        every_record,
        sigma_alerts
    );
    let (mut t_plain, mut t_sigma, mut ratios) = (vec![], vec![], vec![]);
    for rep in 0..reps {
        let (tp, ts) = if rep % 2 == 0 {
            let tp = time(|| scan(gz, plain)).0;
            (tp, time(|| scan(gz, &with_sigma)).0)
        } else {
            let ts = time(|| scan(gz, &with_sigma)).0;
            (time(|| scan(gz, plain)).0, ts)
        };
        t_plain.push(tp);
        t_sigma.push(ts);
        ratios.push(tp / ts);
    }
    println!(
        "scan with Sigma rules     {:>7.1} MB/s",
        mbps(median(t_sigma))
    );
    let ratio = median(ratios);
    println!(
        "RESULT scan+sigma/scan throughput ratio: {ratio:.3} ({reps} interleaved reps); target >= 0.9: {}",
        if ratio >= 0.9 { "PASS" } else { "FAIL" }
    );
}
