//! The detector against real and peer-reviewed data:
//! - the 310 CloudTrail records recorded while detonating Stratus Red Team techniques, as gzipped
//!   log objects: exactly the rule ids of [`EXPECTED_RULES`] per technique, and nothing else;
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

/// For every Stratus technique recorded, exactly the rule ids its detonation must raise, one
/// entry per alert (sorted). Techniques with no row must raise nothing; a technique whose
/// activity shows in CloudTrail management events gets a row when its rule lands.
const EXPECTED_RULES: &[(&str, &[&str])] = &[
    ("aws.credential-access.ec2-get-password-data", &[]),
    // SendCommand with AWS-RunShellScript is how this technique reads the instance credentials.
    (
        "aws.credential-access.ec2-steal-instance-credentials",
        &["ssm-send-command-shell-script"],
    ),
    (
        "aws.credential-access.secretsmanager-batch-retrieve-secrets",
        &[],
    ),
    ("aws.credential-access.secretsmanager-retrieve-secrets", &[]),
    (
        "aws.credential-access.ssm-retrieve-securestring-parameters",
        &[],
    ),
    (
        "aws.defense-evasion.cloudtrail-delete",
        &["cloudtrail-logging-stopped"],
    ),
    (
        "aws.defense-evasion.cloudtrail-event-selectors",
        &["cloudtrail-logging-reduced"],
    ),
    (
        "aws.defense-evasion.cloudtrail-stop",
        &["cloudtrail-logging-stopped"],
    ),
    (
        "aws.defense-evasion.dns-delete-logs",
        &["dns-query-logging-removed"],
    ),
    // The detonation is denied (AccessDenied): reported as a failed attempt.
    (
        "aws.defense-evasion.organizations-leave",
        &["organization-left"],
    ),
    (
        "aws.defense-evasion.vpc-remove-flow-logs",
        &["vpc-flow-logs-deleted"],
    ),
    ("aws.discovery.ec2-download-user-data", &[]),
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
        "aws.exfiltration.ec2-security-group-open-port-22-ingress",
        &["security-group-opened-to-internet"],
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
    ("aws.impact.bedrock-invoke-model", &[]),
    (
        "aws.initial-access.console-login-without-mfa",
        &["console-login-without-mfa"],
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
        "aws.persistence.iam-backdoor-role",
        &["iam-role-trusts-external-principal"],
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
        &[
            "iam-admin-policy-granted",
            "iam-role-trusts-external-principal",
        ],
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
fn stratus_detonations_give_exactly_the_expected_rules_per_technique() {
    let (by_file, records) = scan_stratus();
    assert_eq!(by_file.len(), 35);
    assert_eq!(records, 310);
    let expected: BTreeMap<&str, &[&str]> = EXPECTED_RULES.iter().copied().collect();
    assert_eq!(expected.len(), EXPECTED_RULES.len(), "duplicate rows");
    let mut mismatches = Vec::new();
    for (file, alerts) in &by_file {
        let Some(want) = expected.get(file.as_str()) else {
            mismatches.push(format!("{file}: no row in EXPECTED_RULES"));
            continue;
        };
        let mut got: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
        got.sort_unstable();
        let mut want = want.to_vec();
        want.sort_unstable();
        if got != want {
            let summaries: Vec<&str> = alerts.iter().map(|a| a.summary.as_str()).collect();
            mismatches.push(format!(
                "{file}: expected {want:?}, got {got:?} {summaries:#?}"
            ));
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
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_four_shares_name_the_resource_and_the_receiving_account() {
    let (by_file, _) = scan_stratus();
    let expected: BTreeMap<&str, (&str, &str, Option<&str>, bool)> = [
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
    for (file, (kind, resource, account, public)) in expected {
        let shares: Vec<&Alert> = by_file[file]
            .iter()
            .filter(|a| a.rule_id == "resource-shared-with-external-account")
            .collect();
        assert_eq!(shares.len(), 1, "{file}: {shares:#?}");
        let alert = shares[0];
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
fn defense_evasion_and_exposure_alerts_carry_their_facts() {
    let (by_file, _) = scan_stratus();
    let only = |file: &str, rule: &str| -> Alert {
        let found: Vec<&Alert> = by_file[file].iter().filter(|a| a.rule_id == rule).collect();
        assert_eq!(found.len(), 1, "{file}: {found:#?}");
        found[0].clone()
    };
    let stop = only(
        "aws.defense-evasion.cloudtrail-stop",
        "cloudtrail-logging-stopped",
    );
    assert_eq!(
        stop.details["trail"],
        "stratus-red-team-ct-stop-trail-buykxbqejv"
    );
    assert_eq!(stop.severity.as_str(), "high");
    // The denied LeaveOrganization is an attempt: one severity lower, and it says so.
    let leave = only(
        "aws.defense-evasion.organizations-leave",
        "organization-left",
    );
    assert_eq!(leave.severity.as_str(), "high");
    assert_eq!(leave.error_code.as_deref(), Some("AccessDenied"));
    assert!(
        leave.summary.contains("(failed: AccessDenied)"),
        "{}",
        leave.summary
    );
    let ssh = only(
        "aws.exfiltration.ec2-security-group-open-port-22-ingress",
        "security-group-opened-to-internet",
    );
    assert_eq!(ssh.details["permissions"][0]["from_port"], 22);
    assert_eq!(ssh.details["permissions"][0]["protocol"], "tcp");
    let selectors = only(
        "aws.defense-evasion.cloudtrail-event-selectors",
        "cloudtrail-logging-reduced",
    );
    assert_eq!(selectors.details["logs_write_management_events"], false);
}

#[test]
fn the_role_backdoors_name_the_role_and_the_outside_account() {
    let (by_file, _) = scan_stratus();
    for (file, role) in [
        (
            "aws.persistence.iam-backdoor-role",
            "arn:aws:iam::751203476945:role/stratus-red-team-backdoor-r-role",
        ),
        (
            "aws.persistence.iam-create-backdoor-role",
            "arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role",
        ),
    ] {
        let alert = by_file[file]
            .iter()
            .find(|a| a.rule_id == "iam-role-trusts-external-principal")
            .unwrap_or_else(|| panic!("{file}: no role-trust alert"));
        assert_eq!(alert.details["resource_type"], "iam-role", "{file}");
        assert_eq!(alert.details["resource"], role, "{file}");
        assert_eq!(
            alert.details["external_accounts"][0], "193672423079",
            "{file}"
        );
        assert_eq!(alert.details["public"], false, "{file}");
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
