//! The bad-input corpus in tests/fixtures/bad/ (written by scripts/make-bad-fixtures.py), one
//! test per file, each asserting the documented result: a typed error for the object, or the
//! bad element skipped and counted while every good record around it is still detected.
//! GOOD records are EBS snapshots shared with 999988887777 (event ids `good-1`, `good-2`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use trailwatch::detector::{
    Alert, Detector, DetectorConfig, LogKind, ReadError, ReaderConfig, ScanStats, scan_log,
};

const SHARE: &str = "resource-shared-with-external-account";
const POLICY: &str = "s3-bucket-policy-shared-externally";
const CONFIG: &str = "s3-bucket-config-modified";

struct Outcome {
    stats: ScanStats,
    error: Option<ReadError>,
    alerts: Vec<Alert>,
}

impl Outcome {
    /// Rule ids fired per event id.
    fn fired(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for a in &self.alerts {
            let id = a.event_id.clone().unwrap_or_else(|| "(none)".into());
            out.entry(id).or_default().insert(a.rule_id.clone());
        }
        out
    }

    fn good_records_detected(&self) {
        let fired = self.fired();
        for id in ["good-1", "good-2"] {
            assert_eq!(
                fired
                    .get(id)
                    .map(|r| r.iter().map(String::as_str).collect::<Vec<_>>()),
                Some(vec![SHARE]),
                "{id} must still be detected"
            );
        }
    }
}

fn scan_with(name: &str, cfg: ReaderConfig) -> Outcome {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "bad", name]
        .iter()
        .collect();
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let mut alerts = Vec::new();
    match scan_log(file, name, &detector, cfg, |a| alerts.push(a)) {
        Ok(stats) => Outcome {
            stats,
            error: None,
            alerts,
        },
        Err(e) => Outcome {
            stats: e.stats,
            error: Some(e.error),
            alerts,
        },
    }
}

fn scan(name: &str) -> Outcome {
    scan_with(name, ReaderConfig::default())
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn empty_object_is_a_typed_error() {
    let out = scan("empty.json.gz");
    assert!(
        matches!(out.error, Some(ReadError::Empty)),
        "{:?}",
        out.error
    );
    assert!(out.error.unwrap().is_permanent());
}

#[test]
fn gzip_of_nothing_is_not_a_cloudtrail_log() {
    let out = scan("empty-gzip.json.gz");
    assert!(
        matches!(out.error, Some(ReadError::NotCloudTrail(_))),
        "{:?}",
        out.error
    );
}

#[test]
fn truncated_gzip_is_corrupt_after_the_records_before_the_cut_are_detected() {
    let out = scan("truncated-gzip.json.gz");
    assert!(
        matches!(out.error, Some(ReadError::Corrupt(_))),
        "{:?}",
        out.error
    );
    assert!(out.error.as_ref().unwrap().is_permanent());
    assert!(out.stats.records > 100, "records before the cut were read");
    assert_eq!(out.fired().get("good-1"), Some(&set(&[SHARE])));
}

#[test]
fn truncated_json_is_corrupt_after_its_complete_records() {
    let out = scan("truncated-json.json.gz");
    assert!(
        matches!(out.error, Some(ReadError::Corrupt(_))),
        "{:?}",
        out.error
    );
    assert_eq!(out.stats.records, 1);
}

#[test]
fn gzip_of_text_is_not_a_cloudtrail_log() {
    let out = scan("gzip-of-text.json.gz");
    assert!(
        matches!(out.error, Some(ReadError::NotCloudTrail(_))),
        "{:?}",
        out.error
    );
    assert!(out.alerts.is_empty());
}

#[test]
fn json_without_records_is_not_a_cloudtrail_log() {
    let out = scan("no-records.json");
    let Some(ReadError::NotCloudTrail(why)) = &out.error else {
        panic!("{:?}", out.error)
    };
    assert!(why.contains("Records"), "{why}");
    assert!(
        out.alerts.is_empty(),
        "records outside Records are not read"
    );
}

#[test]
fn records_not_an_array_is_not_a_cloudtrail_log() {
    let out = scan("records-not-array.json");
    assert!(
        matches!(out.error, Some(ReadError::NotCloudTrail(_))),
        "{:?}",
        out.error
    );
}

#[test]
fn elements_that_are_not_objects_are_skipped_and_counted() {
    let out = scan("records-not-objects.json");
    assert!(out.error.is_none());
    assert_eq!((out.stats.records, out.stats.skipped_records), (2, 5));
    out.good_records_detected();
}

#[test]
fn a_record_with_invalid_utf8_is_skipped_and_counted() {
    let out = scan("invalid-utf8.json");
    assert!(out.error.is_none());
    assert_eq!((out.stats.records, out.stats.skipped_records), (2, 1));
    out.good_records_detected();
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let out = scan("bom.json");
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.stats.records, 2);
    out.good_records_detected();
}

#[test]
fn nesting_past_the_recursion_limit_does_not_stop_the_file() {
    // The framer counts depth without recursing; the record parses with its bulky field kept
    // raw, so the rule that needs only the event name (config-modified) still sees it.
    let out = scan("deep-nesting.json");
    assert!(out.error.is_none(), "{:?}", out.error);
    // Three elements: the deep PutBucketPolicy carries no policy a share rule can read, so it
    // is counted as skipped (not fully evaluated), the other two as records.
    assert_eq!(out.stats.records, 2);
    assert_eq!(out.stats.skipped_records, 1);
    out.good_records_detected();
    let fired = out.fired();
    assert!(fired.get("(none)").is_none_or(|r| r == &set(&[CONFIG])));
}

#[test]
fn ten_megabyte_strings_are_read_and_alert_text_stays_bounded_and_escaped() {
    let out = scan("huge-strings.json.gz");
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!((out.stats.records, out.stats.skipped_records), (3, 0));
    out.good_records_detected();
    let huge: Vec<&Alert> = out
        .alerts
        .iter()
        .filter(|a| a.event_id.as_deref() == Some("huge"))
        .collect();
    let rules: BTreeSet<String> = huge.iter().map(|a| a.rule_id.clone()).collect();
    assert_eq!(rules, set(&[POLICY, CONFIG, SHARE]));
    for alert in huge {
        assert!(alert.summary.chars().count() <= 601, "summary bounded");
        assert!(
            !alert
                .summary
                .chars()
                .any(|c| c.is_control() || c == '\u{202e}'),
            "no control or bidi characters in {:?}",
            alert.summary
        );
        let text = alert.to_text();
        assert!(!text.contains('\x1b') && !text.contains('\r') && !text.contains('\u{202e}'));
        assert!(
            !text.lines().any(|l| l.starts_with("[CRITICAL] forged")),
            "a crafted bucket name cannot forge a line"
        );
        assert!(
            text.len() < 64 * 1024,
            "readable output bounded: {} bytes",
            text.len()
        );
    }
}

#[test]
fn numbers_where_strings_belong_read_as_absent() {
    // w1: name and source of the wrong type (no rule wants it); w2: identity a string, owner a
    // number, errorCode an object (read as absent: the share still alerts); w3: parameters a
    // string (the share rule cannot read it: counted as skipped, never passed silently); w4:
    // account ids as numbers (not read as accounts); w5: nulls.
    let out = scan("wrong-types.json");
    assert!(out.error.is_none());
    // Seven records: w3 is counted once, as skipped.
    assert_eq!((out.stats.records, out.stats.skipped_records), (6, 1));
    out.good_records_detected();
    let fired: BTreeSet<String> = out.fired().into_keys().collect();
    assert_eq!(fired, set(&["good-1", "good-2", "w2", "w5"]));
}

#[test]
fn policy_as_a_json_string_and_as_an_object_give_the_same_alerts() {
    let as_string = scan("policy-as-string.json");
    let as_object = scan("policy-as-object.json");
    for out in [&as_string, &as_object] {
        assert_eq!(
            out.alerts
                .iter()
                .map(|a| a.rule_id.as_str())
                .collect::<BTreeSet<_>>(),
            [POLICY, CONFIG, SHARE].into()
        );
    }
    let details = |o: &Outcome| -> Vec<serde_json::Value> {
        o.alerts.iter().map(|a| a.details.clone()).collect()
    };
    assert_eq!(details(&as_string), details(&as_object));
}

#[test]
fn statement_as_an_object_and_as_an_array_give_the_same_alerts() {
    let object = scan("statement-object.json");
    let array = scan("statement-array.json");
    let view = |o: &Outcome| -> Vec<(String, serde_json::Value)> {
        o.alerts
            .iter()
            .map(|a| (a.rule_id.clone(), a.details.clone()))
            .collect()
    };
    assert_eq!(object.alerts.len(), 3);
    assert_eq!(view(&object), view(&array));
}

#[test]
fn every_principal_shape_gets_its_verdict() {
    let out = scan("principal-shapes.json");
    assert!(out.error.is_none());
    let fired = out.fired();
    let shared = set(&[POLICY, CONFIG, SHARE]);
    let quiet = set(&[CONFIG]);
    let expect = [
        ("principal-star", &shared),
        ("principal-aws-star", &shared),
        ("principal-arn-string", &shared),
        ("principal-bare-account", &shared),
        ("principal-aws-list", &shared),
        ("notprincipal", &shared),
        ("principal-aws-own-account", &quiet),
        ("principal-service", &quiet),
        ("principal-cloudfront-oai", &quiet),
        ("principal-canonical-user", &quiet),
        ("principal-federated", &quiet),
    ];
    for (id, rules) in expect {
        assert_eq!(fired.get(id), Some(rules), "{id}");
    }
    for a in out.alerts.iter().filter(|a| a.rule_id == SHARE) {
        let public = a.details["public"].as_bool().unwrap();
        let id = a.event_id.as_deref().unwrap();
        assert_eq!(
            public,
            matches!(id, "principal-star" | "principal-aws-star" | "notprincipal"),
            "{id}"
        );
    }
}

#[test]
fn a_gzip_bomb_stops_at_the_ceiling() {
    let ceiling = 4 << 20;
    let out = scan_with(
        "gzip-bomb.json.gz",
        ReaderConfig {
            max_decompressed_bytes: ceiling,
            ..ReaderConfig::default()
        },
    );
    assert!(
        matches!(out.error, Some(ReadError::TooLarge { limit }) if limit == ceiling),
        "{:?}",
        out.error
    );
    assert!(out.stats.decompressed_bytes <= ceiling);
    assert_eq!(out.stats.kind, LogKind::Records);
    // The record before the padding was still detected.
    assert_eq!(out.fired().get("good-1"), Some(&set(&[SHARE])));
}
