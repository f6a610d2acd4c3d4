//! The detector against real and peer-reviewed data:
//! - the 310 CloudTrail records recorded while detonating Stratus Red Team techniques, as gzipped
//!   log objects: for each technique, exactly the rule ids in `EXPECTED_BY_FILE` and nothing else;
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

/// For each Stratus sample file, exactly the rule ids it must raise (one entry per alert, sorted);
/// a file not listed must raise nothing. Rows name the technique's own detonation calls; the
/// routine warm-up and clean-up calls recorded beside them must stay silent.
const EXPECTED_BY_FILE: &[(&str, &[&str])] = &[
    // SendCommand with AWS-RunShellScript is how this technique reads the instance credentials.
    (
        "aws.credential-access.ec2-steal-instance-credentials",
        &["ssm-send-command-shell-script"],
    ),
    // One denied RunInstances of p2.xlarge: an attempt, low severity.
    (
        "aws.execution.ec2-launch-unusual-instances",
        &["ec2-unusual-instance-type-launched"],
    ),
    ("aws.execution.ec2-user-data", &["ec2-user-data-modified"]),
    (
        "aws.execution.ssm-send-command",
        &["ssm-send-command-shell-script"],
    ),
    // Three sessions to three instances.
    (
        "aws.execution.ssm-start-session",
        &[
            "ssm-session-started",
            "ssm-session-started",
            "ssm-session-started",
        ],
    ),
    (
        "aws.exfiltration.ec2-share-ami",
        &["resource-shared-with-external-account"],
    ),
    (
        "aws.exfiltration.ec2-share-ebs-snapshot",
        &["resource-shared-with-external-account"],
    ),
    (
        "aws.exfiltration.rds-share-snapshot",
        &["resource-shared-with-external-account"],
    ),
    // Keys pushed to three instances.
    (
        "aws.lateral-movement.ec2-instance-connect",
        &[
            "ec2-instance-connect-ssh-key-sent",
            "ec2-instance-connect-ssh-key-sent",
            "ec2-instance-connect-ssh-key-sent",
        ],
    ),
    // Serial console enabled for the region, then keys pushed to three instances.
    (
        "aws.lateral-movement.ec2-serial-console-send-ssh-public-key",
        &[
            "ec2-serial-console-access-enabled",
            "ec2-serial-console-ssh-key-sent",
            "ec2-serial-console-ssh-key-sent",
            "ec2-serial-console-ssh-key-sent",
        ],
    ),
    (
        "aws.persistence.iam-backdoor-user",
        &["iam-access-key-created-for-another-user"],
    ),
    // CreateUser, AttachUserPolicy AdministratorAccess, CreateAccessKey for the new user.
    (
        "aws.persistence.iam-create-admin-user",
        &[
            "iam-access-key-created-for-another-user",
            "iam-admin-policy-granted",
        ],
    ),
    // AdministratorAccess attached to the role created for an outside account (medium).
    (
        "aws.persistence.iam-create-backdoor-role",
        &["iam-admin-policy-granted"],
    ),
    (
        "aws.persistence.iam-create-user-login-profile",
        &["iam-login-profile-created-for-another-user"],
    ),
    (
        "aws.persistence.lambda-backdoor-function",
        &["resource-shared-with-external-account"],
    ),
    // The extension layer is published in the victim's own account: low severity.
    (
        "aws.persistence.lambda-layer-extension",
        &["lambda-layer-added"],
    ),
    (
        "aws.persistence.lambda-overwrite-code",
        &["lambda-function-code-updated"],
    ),
    (
        "aws.persistence.rolesanywhere-create-trust-anchor",
        &["rolesanywhere-trust-anchor-created"],
    ),
    (
        "aws.persistence.sts-federation-token",
        &["sts-federation-token-requested"],
    ),
    (
        "aws.privilege-escalation.iam-update-user-login-profile",
        &["iam-login-profile-updated-for-another-user"],
    ),
];

#[test]
fn stratus_detonations_give_exactly_the_expected_rules_per_file() {
    let (by_file, records) = scan_stratus();
    assert_eq!(by_file.len(), 35);
    assert_eq!(records, 310);
    let expected: BTreeMap<&str, &[&str]> = EXPECTED_BY_FILE.iter().copied().collect();
    assert_eq!(expected.len(), EXPECTED_BY_FILE.len(), "duplicate rows");
    for file in expected.keys() {
        assert!(by_file.contains_key(*file), "no sample file {file}");
    }
    let mut mismatches = Vec::new();
    for (file, alerts) in &by_file {
        let mut got: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
        got.sort_unstable();
        let want = expected.get(file.as_str()).copied().unwrap_or(&[]);
        if got != want {
            mismatches.push(format!("{file}: expected {want:?}, got {got:?}"));
        }
        for alert in alerts {
            // Every alert carries what triage needs.
            assert!(
                alert.event_id.is_some() && alert.actor.arn.is_some(),
                "{file}: {alert:#?}"
            );
            assert_eq!(
                alert.record["eventID"],
                alert.event_id.clone().unwrap().as_str()
            );
            assert!(alert.log_object.location.ends_with(".json.gz"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn stratus_shares_name_the_resource_and_the_receiving_account() {
    let (by_file, _) = scan_stratus();
    let shares: BTreeMap<&str, (&str, &str, Option<&str>, bool)> = [
        (
            "aws.exfiltration.ec2-share-ami",
            ("ami", "ami-de1fbCab6ccB03e6D", Some("846424999548"), false),
        ),
        (
            "aws.exfiltration.ec2-share-ebs-snapshot",
            (
                "ebs-snapshot",
                "snap-041993b54a9b3af6f",
                Some("098797384747"),
                false,
            ),
        ),
        (
            "aws.exfiltration.rds-share-snapshot",
            ("rds-snapshot", "exfiltration", Some("503161813013"), false),
        ),
        (
            "aws.persistence.lambda-backdoor-function",
            (
                "lambda-function",
                "stratus-red-team-backdoor-f-func",
                None,
                true,
            ),
        ),
    ]
    .into();
    for (file, (kind, resource, account, public)) in shares {
        let alerts: Vec<&Alert> = by_file[file]
            .iter()
            .filter(|a| a.rule_id == "resource-shared-with-external-account")
            .collect();
        assert_eq!(alerts.len(), 1, "{file}: {alerts:#?}");
        let alert = alerts[0];
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
    }
}

#[test]
fn failed_attempts_in_the_samples_are_low_severity_and_say_so() {
    let (by_file, _) = scan_stratus();
    let launch = &by_file["aws.execution.ec2-launch-unusual-instances"][0];
    assert_eq!(launch.severity, trailwatch::detector::Severity::Low);
    assert_eq!(
        launch.error_code.as_deref(),
        Some("Client.UnauthorizedOperation")
    );
    assert!(
        launch.summary.contains("tried to launch"),
        "{}",
        launch.summary
    );
    assert_eq!(launch.details["instance_types"][0], "p2.xlarge");
}

#[test]
fn trusting_the_receiving_accounts_silences_the_account_shares_but_not_the_public_one() {
    let config = DetectorConfig {
        trusted_accounts: parse_accounts("846424999548,098797384747,503161813013").unwrap(),
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
    let shares: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.rule_id == "resource-shared-with-external-account")
        .collect();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].details["resource_type"], "lambda-function");
}

#[derive(serde::Deserialize)]
struct PeerCase {
    name: String,
    record: Value,
    expect: Vec<String>,
    forbid: Vec<String>,
    trusted_accounts: Vec<String>,
}

/// The rule ids that fire on `record`, and the rule that could not judge it, if any (a record
/// a rule cannot read is counted as skipped, never silently passed).
fn fired(record: &Value, trusted: &[String]) -> (BTreeSet<String>, Option<String>) {
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
        .err()
        .map(|failure| failure.rule_id.to_owned());
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
        if let Some(rule) = unevaluable
            && case.expect.contains(&rule)
        {
            failures.push(format!("{}: {rule} could not judge the record", case.name));
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
