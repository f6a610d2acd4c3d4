//! The detector against real and peer-reviewed data:
//! - the 310 CloudTrail records recorded while detonating Stratus Red Team techniques, as gzipped
//!   log objects: for each file exactly the alerts of `expected_alerts` and nothing else;
//! - the Panther peer cases, each with the rule ids that must and must not fire.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use trailwatch::detector::engine::parse_accounts;
use trailwatch::detector::{
    Alert, Detector, DetectorConfig, LogObject, ReaderConfig, Record, scan_log,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn stratus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("stratus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn scan_stratus() -> (BTreeMap<String, Vec<Alert>>, u64) {
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let mut by_file = BTreeMap::new();
    let mut records = 0;
    for path in stratus_files() {
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".json.gz", "");
        let mut alerts = Vec::new();
        let stats = scan_log(
            File::open(&path).unwrap(),
            &path.display().to_string(),
            &detector,
            ReaderConfig::default(),
            |a| alerts.push(a),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(stats.skipped_records, 0, "{name}");
        records += stats.records;
        by_file.insert(name, alerts);
    }
    (by_file, records)
}

/// (rule id, resource type, resource, external account or none, public)
type Expected = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    bool,
);

/// For each Stratus detonation, exactly the alerts it must raise; every other file raises none.
fn expected_alerts() -> BTreeMap<&'static str, Vec<Expected>> {
    const SHARE: &str = "resource-shared-with-external-account";
    const ROLE: &str = "iam-role-trusts-external-principal";
    [
        (
            "aws.exfiltration.ec2-share-ami",
            vec![(
                SHARE,
                "ami",
                "ami-de1fbCab6ccB03e6D",
                Some("846424999548"),
                false,
            )],
        ),
        (
            "aws.exfiltration.ec2-share-ebs-snapshot",
            vec![(
                SHARE,
                "ebs-snapshot",
                "snap-041993b54a9b3af6f",
                Some("098797384747"),
                false,
            )],
        ),
        (
            "aws.exfiltration.rds-share-snapshot",
            vec![(
                SHARE,
                "rds-snapshot",
                "exfiltration",
                Some("503161813013"),
                false,
            )],
        ),
        (
            "aws.persistence.lambda-backdoor-function",
            vec![(
                SHARE,
                "lambda-function",
                "stratus-red-team-backdoor-f-func",
                None,
                true,
            )],
        ),
        (
            "aws.persistence.iam-backdoor-role",
            vec![(
                ROLE,
                "iam-role",
                "arn:aws:iam::751203476945:role/stratus-red-team-backdoor-r-role",
                Some("193672423079"),
                false,
            )],
        ),
        (
            "aws.persistence.iam-create-backdoor-role",
            vec![(
                ROLE,
                "iam-role",
                "arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role",
                Some("193672423079"),
                false,
            )],
        ),
    ]
    .into()
}

#[test]
fn stratus_detonations_give_exactly_the_expected_alerts() {
    let (by_file, records) = scan_stratus();
    assert_eq!(by_file.len(), 35);
    assert_eq!(records, 310);
    let expected = expected_alerts();

    for (file, alerts) in &by_file {
        let want = expected.get(file.as_str()).cloned().unwrap_or_default();
        assert_eq!(alerts.len(), want.len(), "{file}: {alerts:#?}");
        for (alert, (rule, kind, resource, account, public)) in alerts.iter().zip(want) {
            assert_eq!(alert.rule_id, rule, "{file}");
            assert_eq!(alert.details["resource_type"], kind, "{file}");
            assert_eq!(alert.details["resource"], resource, "{file}");
            assert_eq!(alert.details["public"], public, "{file}");
            let external: Vec<&str> = alert.details["external_accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(
                external,
                account.iter().copied().collect::<Vec<_>>(),
                "{file}"
            );
            // The alert carries what triage needs.
            assert!(
                alert.event_id.is_some() && alert.actor.arn.is_some(),
                "{file}"
            );
            assert_eq!(
                alert.record["eventID"],
                alert.event_id.clone().unwrap().as_str()
            );
            assert!(alert.log_object.location.ends_with(".json.gz"));
        }
    }
}

#[test]
fn trusting_the_receiving_accounts_silences_the_account_shares_but_not_the_public_one() {
    let config = DetectorConfig {
        trusted_accounts: parse_accounts("846424999548,098797384747,503161813013,193672423079")
            .unwrap(),
        ..DetectorConfig::default()
    };
    let detector = Detector::new(&config).unwrap();
    let mut alerts = Vec::new();
    for path in stratus_files() {
        scan_log(
            File::open(&path).unwrap(),
            "f",
            &detector,
            ReaderConfig::default(),
            |a| alerts.push(a),
        )
        .unwrap();
    }
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].details["resource_type"], "lambda-function");
}

#[derive(serde::Deserialize)]
struct PeerCase {
    name: String,
    record: Value,
    expect: Vec<String>,
    forbid: Vec<String>,
    trusted_accounts: Vec<String>,
}

/// The rule ids that fire on a record, and whether some rule could not judge it.
fn fired(record: &Value, trusted: &[String]) -> (BTreeSet<String>, bool) {
    let config = DetectorConfig {
        trusted_accounts: parse_accounts(&trusted.join(",")).unwrap(),
        ..DetectorConfig::default()
    };
    let detector = Detector::new(&config).unwrap();
    let bytes = serde_json::to_vec(record).unwrap();
    let parsed = Record::from_slice(&bytes).unwrap();
    let mut alerts = Vec::new();
    let unevaluable = detector
        .evaluate(&parsed, &LogObject::default(), &mut alerts)
        .is_err();
    (alerts.into_iter().map(|a| a.rule_id).collect(), unevaluable)
}

#[test]
fn panther_peer_cases_give_our_verdicts() {
    let cases: Vec<PeerCase> =
        serde_json::from_reader(File::open(fixtures().join("panther-peer/cases.json")).unwrap())
            .unwrap();
    assert_eq!(cases.len(), 23);
    let mut failures = Vec::new();
    for case in &cases {
        let (got, unevaluable) = fired(&case.record, &case.trusted_accounts);
        // A policy rule cannot judge a record without parameters or with a policy that is not
        // JSON: it is counted as skipped, never passed (and raises no alert).
        let cannot_judge = case.name.contains("Null Request Parameters")
            || case.name.contains("Invalid JSON Policy");
        if unevaluable != cannot_judge {
            failures.push(format!("{}: unevaluable = {unevaluable}", case.name));
        }
        for rule in &case.expect {
            if !got.contains(rule) {
                failures.push(format!("{}: expected {rule}, fired {got:?}", case.name));
            }
        }
        for rule in &case.forbid {
            if got.contains(rule) {
                failures.push(format!("{}: forbidden {rule} fired", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn fixtures_match_the_shared_samples_when_present() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples");
    if !shared.exists() {
        eprintln!("../shared/samples not present; fixture fidelity not checked");
        return;
    }
    for path in stratus_files() {
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".json.gz", ".json");
        let original: Value = serde_json::from_reader(
            File::open(shared.join("stratus-detonation-logs").join(&name)).unwrap(),
        )
        .unwrap();
        let fixture: Value =
            serde_json::from_reader(flate2::read::GzDecoder::new(File::open(&path).unwrap()))
                .unwrap();
        assert_eq!(
            fixture["Records"], original,
            "{name}: run scripts/import-samples.py"
        );
    }
    let peer: Value =
        serde_json::from_reader(File::open(shared.join("panther-peer/cases.json")).unwrap())
            .unwrap();
    let ours: Value =
        serde_json::from_reader(File::open(fixtures().join("panther-peer/cases.json")).unwrap())
            .unwrap();
    assert_eq!(peer, ours, "run scripts/import-samples.py");
}
