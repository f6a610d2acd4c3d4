//! The alert is a contract: what subscribers receive is pinned in snapshot files under
//! `tests/snapshots/alerts/`, so any change to it is a visible diff in review.
//!
//! Snapshots come from real records: every Stratus detonation log, every Panther peer case, and
//! one fixture log per rule under `tests/fixtures/contract/` for rules the first two do not reach.
//! Every rule in the catalogue must appear in at least one snapshot.
//!
//! What SNS receives around each of those alerts (subject, message attributes, the protocols of
//! the per-protocol message, the FIFO group) is pinned the same way under `tests/snapshots/sns/`.
//!
//! After an intended change, regenerate with `UPDATE_SNAPSHOTS=1 cargo test --test contract`
//! and review the diff.

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use trailwatch::detector::engine::parse_accounts;
use trailwatch::detector::rules::CATALOGUE;
use trailwatch::detector::threshold::{MemoryWindowStore, ThresholdGate};
use trailwatch::detector::{Alert, Detector, DetectorConfig, ReaderConfig, scan_log};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            p.is_file() && (name.ends_with(".json") || name.ends_with(".json.gz"))
        })
        .collect();
    files.sort();
    files
}

/// Compares `actual` with the snapshot at `path` (relative to the crate), or writes it when
/// `UPDATE_SNAPSHOTS` is set. Returns a description of the mismatch, if any.
fn check_snapshot(path: &str, actual: &Value) -> Option<String> {
    let file = root().join(path);
    let rendered = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, rendered).unwrap();
        return None;
    }
    let Ok(expected) = std::fs::read_to_string(&file) else {
        return Some(format!(
            "{path}: no snapshot; run UPDATE_SNAPSHOTS=1 cargo test --test contract and review it"
        ));
    };
    if expected == rendered {
        return None;
    }
    let line = expected
        .lines()
        .zip(rendered.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(rendered.lines().count()));
    Some(format!(
        "{path}: differs from line {}:\n  snapshot: {}\n  now:      {}",
        line + 1,
        expected.lines().nth(line).unwrap_or("<end>"),
        rendered.lines().nth(line).unwrap_or("<end>")
    ))
}

fn scan_file(detector: &Detector, path: &Path) -> Vec<Alert> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut alerts = Vec::new();
    // What subscribers receive: threshold alerts only once released by the gate.
    let mut store = MemoryWindowStore::new();
    let mut gate = ThresholdGate::new();
    scan_log(
        File::open(path).unwrap(),
        &name,
        detector,
        ReaderConfig::default(),
        |a| {
            let Ok(released) = gate.admit(a, &mut store);
            alerts.extend(released);
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    alerts
}

/// Scans every Stratus and contract fixture log and checks `render(alerts)` against its
/// snapshot under `tests/snapshots/<kind>/`.
fn snapshot_fixture_logs(
    kind: &str,
    detector: &Detector,
    seen: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
    render: impl Fn(&[Alert]) -> Value,
) {
    for set in ["stratus", "contract"] {
        let snapshots = format!("tests/snapshots/{kind}/{set}");
        for path in sorted_files(&root().join("tests/fixtures").join(set)) {
            snapshot_log(&path, &snapshots, detector, seen, problems, &render);
        }
    }
}

/// Scans one log and checks `render(alerts)` against `<snapshots>/<stem>.json`.
fn snapshot_log(
    path: &Path,
    snapshots: &str,
    detector: &Detector,
    seen: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
    render: &impl Fn(&[Alert]) -> Value,
) {
    let alerts = scan_file(detector, path);
    seen.extend(alerts.iter().map(|a| a.rule_id.clone()));
    let stem = path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_end_matches(".gz")
        .trim_end_matches(".json")
        .to_owned();
    problems.extend(check_snapshot(
        &format!("{snapshots}/{stem}.json"),
        &render(&alerts),
    ));
}

#[test]
fn alerts_match_their_snapshots_and_every_rule_has_one() {
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();

    snapshot_fixture_logs("alerts", &detector, &mut seen, &mut problems, |alerts| {
        serde_json::to_value(alerts).unwrap()
    });

    // Panther peer cases: one record each, with its own trusted accounts.
    let cases: Vec<Value> = serde_json::from_reader(
        File::open(root().join("tests/fixtures/panther-peer/cases.json")).unwrap(),
    )
    .unwrap();
    let mut peer = Vec::new();
    for case in &cases {
        let trusted: Vec<&str> = case["trusted_accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let config = DetectorConfig {
            trusted_accounts: parse_accounts(&trusted.join(",")).unwrap(),
            ..DetectorConfig::default()
        };
        let detector = Detector::new(&config).unwrap();
        let log = serde_json::to_vec(&serde_json::json!({ "Records": [case["record"]] })).unwrap();
        let mut alerts = Vec::new();
        scan_log(
            &log[..],
            "panther-peer",
            &detector,
            ReaderConfig::default(),
            |a| alerts.push(a),
        )
        .unwrap();
        alerts.retain(|a| !a.is_pending());
        seen.extend(alerts.iter().map(|a| a.rule_id.clone()));
        peer.push(serde_json::json!({ "name": case["name"], "alerts": alerts }));
    }
    problems.extend(check_snapshot(
        "tests/snapshots/alerts/panther-peer.json",
        &Value::Array(peer),
    ));

    let missing: Vec<&str> = CATALOGUE
        .iter()
        .map(|r| r.meta().id)
        .filter(|id| !seen.contains(*id))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "rules with no alert snapshot (add a log under tests/fixtures/contract/): {missing:?}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What SNS receives for one alert besides the body: the subject, the message attributes
/// subscription filter policies select on, the protocols of the `MessageStructure: json` body,
/// and the FIFO group (the deduplication id is a digest of the alert's dedup key).
#[cfg(feature = "lambda")]
fn sns_envelope(alerts: &[Alert]) -> Value {
    use trailwatch::lambda::sns::prepare;
    let envelopes: Vec<Value> = alerts
        .iter()
        .map(|alert| {
            let message = prepare(alert);
            let body: serde_json::Map<String, Value> =
                serde_json::from_str(&message.body).expect("a MessageStructure json body");
            let attributes: serde_json::Map<String, Value> = message
                .attributes
                .iter()
                .map(|(name, value)| (name.to_string(), Value::String(value.clone())))
                .collect();
            serde_json::json!({
                "rule_id": alert.rule_id,
                "subject": message.subject,
                "message_attributes": attributes,
                "message_structure_keys": body.keys().collect::<Vec<_>>(),
                "fifo_group_id": message.group_id,
            })
        })
        .collect();
    Value::Array(envelopes)
}

#[cfg(feature = "lambda")]
#[test]
fn sns_envelopes_match_their_snapshots() {
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    snapshot_fixture_logs("sns", &detector, &mut seen, &mut problems, sns_envelope);
    assert!(!seen.is_empty(), "no alert reached the SNS snapshots");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_changed_alert_is_reported_as_a_difference() {
    // Guards the guard: a snapshot that differs must be reported, not rewritten.
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        return;
    }
    let path = "tests/snapshots/alerts/panther-peer.json";
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(path)).unwrap()).unwrap();
    value[0]["name"] = Value::String("changed".into());
    let problem = check_snapshot(path, &value).expect("a difference");
    assert!(problem.contains("differs from line"), "{problem}");
}
