//! `trailwatch` with a configuration file: `config check`, `scan --config --show-excepted`
//! (an exception suppressing a Stratus share, a Sigma rule alerting on a Stratus StopLogging),
//! and `rules test`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(args)
        .output()
        .expect("trailwatch runs")
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn temp_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trailwatch-cli-tuning-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn config(expires: &str) -> String {
    format!(
        "sigma:\n  directory: {sigma}\nexceptions:\n  - name: partner-dr\n    reason: DR copies to the partner\n    owner: platform@example.com\n    expires: {expires}\n    match:\n      rules: [resource-shared-with-external-account]\n      resources: ['snap-*']\n      external_accounts: ['098797384747']\n",
        sigma = repo("examples/tuning/sigma").display()
    )
}

fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn config_check_accepts_the_example_and_names_the_line_of_an_error() {
    let ok = run(&[
        "config",
        "check",
        repo("examples/tuning/trailwatch.yml").to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("1 exceptions, 1 Sigma rules (0 refused)")
    );
    let bad = temp_config(
        "bad.yml",
        "min_severity: high\nrules:\n  resource-shared-with-external-account: {severity: critical}\n  no-such-rule: {enabled: false}\n",
    );
    let out = run(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4: unknown rule id \"no-such-rule\""),
        "{err}"
    );
}

#[test]
fn an_exception_suppresses_the_share_and_a_sigma_rule_alerts() {
    let path = temp_config("live.yml", &config("2024-12-31"));
    let out = run(&[
        "scan",
        "--config",
        path.to_str().unwrap(),
        "--show-excepted",
        repo("tests/fixtures/stratus/aws.exfiltration.ec2-share-ebs-snapshot.json.gz")
            .to_str()
            .unwrap(),
        repo("tests/fixtures/stratus/aws.defense-evasion.cloudtrail-stop.json.gz")
            .to_str()
            .unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let ids: Vec<String> = alerts(&out)
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap().to_owned())
        .collect();
    // The share is suppressed; the stopped trail raises the Sigma rule beside our own.
    assert_eq!(
        ids,
        vec![
            "cloudtrail-logging-stopped",
            "sigma-6f1e2d3c-0000-4a5b-8c9d-000000000001"
        ]
    );
    assert!(err.contains("excepted by \"partner-dr\""), "{err}");
    assert!(
        err.contains("exception \"partner-dr\" suppressed 1 alerts"),
        "{err}"
    );
    assert!(err.contains("1 suppressed by exceptions"), "{err}");
}

#[test]
fn after_its_expiry_the_share_alerts_and_names_the_exception() {
    let path = temp_config("expired.yml", &config("2024-07-31"));
    let out = run(&[
        "scan",
        "--config",
        path.to_str().unwrap(),
        repo("tests/fixtures/stratus/aws.exfiltration.ec2-share-ebs-snapshot.json.gz")
            .to_str()
            .unwrap(),
    ]);
    let found = alerts(&out);
    assert_eq!(found.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(found[0]["expired_exceptions"][0]["name"], "partner-dr");
    // The flag wins over the file: trusting the partner silences it without the exception.
    let trusted = run(&[
        "scan",
        "--config",
        path.to_str().unwrap(),
        "--trusted-accounts",
        "098797384747",
        repo("tests/fixtures/stratus/aws.exfiltration.ec2-share-ebs-snapshot.json.gz")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(trusted.status.code(), Some(0));
}

#[test]
fn rules_test_passes_the_example_and_fails_on_a_miss() {
    let ok = run(&[
        "rules",
        "test",
        repo("examples/tuning/sigma").to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let dir = temp_config("x", "").with_file_name("rules-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo("examples/tuning/sigma/cloudtrail_logging_stopped.yml"),
        dir.join("r.yml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("r.test.yml"),
        "match:\n  - {eventSource: cloudtrail.amazonaws.com, eventName: StartLogging}\n",
    )
    .unwrap();
    let miss = run(&["rules", "test", dir.to_str().unwrap()]);
    assert_eq!(miss.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&miss.stdout).contains("match[0] did not match"));
}
