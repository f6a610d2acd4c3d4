//! `trailwatch` as a user runs it: exit codes, stdout/stderr discipline, formats, rule listing.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("trailwatch runs")
}

fn stdout_alerts(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is one alert"))
        .collect()
}

#[test]
fn scanning_a_directory_prints_one_alert_per_line_and_exits_1() {
    let dir = fixture("stratus");
    let out = run(&["scan", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = stdout_alerts(&out);
    assert_eq!(alerts.len(), 4);
    for a in &alerts {
        assert_eq!(a["rule_id"], "resource-shared-with-external-account");
        for field in [
            "title",
            "severity",
            "risk_score",
            "summary",
            "event_id",
            "event_time",
            "event_name",
            "event_source",
            "account_id",
            "region",
            "actor",
            "details",
            "mitre_attack",
            "references",
            "triage",
            "dedup_key",
            "log_object",
            "record",
        ] {
            assert!(!a[field].is_null(), "alert field {field} missing: {a}");
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("35 files"), "{stderr}");
    assert!(stderr.contains("310 records"), "{stderr}");
    assert!(stderr.contains("4 alerts"), "{stderr}");
}

#[test]
fn a_clean_file_exits_0_with_nothing_on_stdout() {
    let out = run(&[
        "scan",
        fixture("stratus/aws.defense-evasion.cloudtrail-stop.json.gz")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unreadable_input_exits_2_but_the_others_are_still_scanned() {
    let out = run(&[
        "scan",
        fixture("bad/truncated-json.json.gz").to_str().unwrap(),
        "/nonexistent/trail.json.gz",
        fixture("stratus/aws.exfiltration.ec2-share-ami.json.gz")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let alerts = stdout_alerts(&out);
    // The truncated file's first record is still detected, then the AMI share.
    let rules: Vec<&str> = alerts
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        vec![
            "s3-bucket-config-modified",
            "resource-shared-with-external-account"
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("truncated-json.json.gz: corrupt log object"),
        "{stderr}"
    );
    assert!(stderr.contains("/nonexistent/trail.json.gz"), "{stderr}");
    assert!(stderr.contains("2 errors"), "{stderr}");
}

#[test]
fn stdin_is_read_with_a_dash() {
    let mut child = bin()
        .args(["scan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let body = std::fs::read(fixture(
        "stratus/aws.exfiltration.rds-share-snapshot.json.gz",
    ))
    .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let alerts = stdout_alerts(&out);
    assert_eq!(alerts[0]["details"]["resource"], "exfiltration");
    assert_eq!(alerts[0]["log_object"]["location"], "-");
}

#[test]
fn filters_trusted_accounts_rules_and_severity() {
    let dir = fixture("stratus");
    let dir = dir.to_str().unwrap();
    let trusted = run(&[
        "scan",
        "--trusted-accounts",
        "846424999548,098797384747",
        dir,
    ]);
    assert_eq!(stdout_alerts(&trusted).len(), 2);
    let excluded = run(&[
        "scan",
        "--exclude-rules",
        "resource-shared-with-external-account",
        dir,
    ]);
    assert_eq!(excluded.status.code(), Some(0));
    let only = run(&["scan", "--rules", "s3-bucket-config-modified", dir]);
    assert_eq!(only.status.code(), Some(0));
    let critical = run(&["scan", "--min-severity", "critical", dir]);
    assert_eq!(critical.status.code(), Some(0));
    let high = run(&["scan", "--min-severity", "high", dir]);
    assert_eq!(stdout_alerts(&high).len(), 4);
}

#[test]
fn bad_settings_are_named() {
    let out = run(&["scan", "--trusted-accounts", "12345", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--trusted-accounts") && stderr.contains("\"12345\""),
        "{stderr}"
    );
    let out = run(&["scan", "--rules", "no-such-rule", "x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown rule id"));
    let out = run(&["scan", "--min-severity", "urgent", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn text_format_is_readable_and_escaped() {
    let out = run(&[
        "scan",
        "--format",
        "text",
        fixture("stratus/aws.persistence.lambda-backdoor-function.json.gz")
            .to_str()
            .unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("[HIGH] Resource shared with an unknown external account"),
        "{text}"
    );
    assert!(text.contains("everyone (public)"), "{text}");
}

#[test]
fn ocsf_format_prints_one_detection_finding_per_line() {
    let dir = fixture("stratus");
    let out = run(&["scan", "--format", "ocsf", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let events = stdout_alerts(&out);
    assert_eq!(events.len(), 4);
    for e in &events {
        assert_eq!(e["class_uid"], 2004);
        assert_eq!(e["type_uid"], 200401);
        assert_eq!(e["metadata"]["version"], "1.1.0");
        assert_eq!(e["metadata"]["product"]["vendor_name"], "trailwatch");
        assert_eq!(e["cloud"]["provider"], "AWS");
        assert!(e["time"].as_i64().unwrap() > 1_500_000_000_000, "{e}");
        assert!(
            e["finding_info"]["uid"]
                .as_str()
                .unwrap()
                .starts_with("trailwatch/resource-shared-with-external-account/")
        );
    }
}

#[test]
fn email_format_prints_what_a_subscriber_reads() {
    let out = run(&[
        "scan",
        "--format",
        "email",
        fixture("stratus/aws.exfiltration.ec2-share-ami.json.gz")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "Subject: [HIGH] Resource shared with an unknown external account\n\n[HIGH] Resource shared"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nOUTSIDE PARTIES\n  Accounts         846424999548\n"),
        "{text}"
    );
    assert!(
        text.contains("#/events/1f00bcfa-e050-4c2e-b99b-768ebe3a3dd3"),
        "{text}"
    );
}

#[test]
fn rules_lists_the_catalogue() {
    let out = run(&["rules"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "s3-bucket-policy-shared-externally",
        "s3-bucket-config-modified",
        "resource-shared-with-external-account",
        "s3-object-encrypted-with-external-kms-key",
    ] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    let json = run(&["rules", "--format", "json"]);
    let rules: Vec<Value> = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rules.len(), 4);
    assert_eq!(rules[0]["dedup_period_minutes"], 60);
    assert!(
        rules
            .iter()
            .all(|r| r["mitre_attack"].as_array().is_some_and(|a| !a.is_empty()))
    );
}
