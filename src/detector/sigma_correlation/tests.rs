//! Tests of Sigma correlation rules: compiling, refusing and counting.

use crate::detector::engine::{Detector, DetectorConfig};
use crate::detector::sigma::{self, Loaded};
use crate::detector::threshold::{MemoryWindowStore, ThresholdGate};
use crate::detector::{Alert, ReaderConfig, scan_log};
use serde_json::{Value, json};

/// Our own base rule (not from SigmaHQ): a secret value read.
const SECRET_READ: &str = r#"
title: Secret value read (trailwatch example)
id: 6f1e2d3c-0000-4a5b-8c9d-000000000002
name: secret_read
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: secretsmanager.amazonaws.com
    eventName: GetSecretValue
    errorCode: null
  condition: selection
level: low
"#;

/// Our own second base rule: a secret's resource policy read.
const POLICY_READ: &str = r#"
title: Secret policy read (trailwatch example)
id: 6f1e2d3c-0000-4a5b-8c9d-000000000003
name: policy_read
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: secretsmanager.amazonaws.com
    eventName: GetResourcePolicy
  condition: selection
level: low
"#;

const CORRELATION_ID: &str = "sigma-6f1e2d3c-0000-4a5b-8c9d-0000000000c1";

fn correlation(kind: &str, condition: &str, extra: &str) -> String {
    format!(
        "title: Secrets harvested (trailwatch example)\nid: 6f1e2d3c-0000-4a5b-8c9d-0000000000c1\n{extra}correlation:\n  type: {kind}\n  rules:\n    - secret_read\n  group-by:\n    - userIdentity.arn\n  timespan: 10m\n  condition:\n{condition}level: high\n"
    )
}

fn load(docs: &[&str]) -> Loaded {
    let sources: Vec<(String, String)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("{i}.yml"), (*d).to_owned()))
        .collect();
    sigma::load(&sources, 60, |_| false)
}

fn detector(docs: &[&str]) -> Detector {
    let loaded = load(docs);
    assert!(loaded.refused.is_empty(), "{:?}", loaded.refused);
    Detector::new(&DetectorConfig {
        sigma_rules: loaded.rules,
        ..DetectorConfig::default()
    })
    .unwrap()
}

/// A GetSecretValue record shaped like Stratus Red Team's
/// `aws.credential-access.secretsmanager-retrieve-secrets` detonation (trimmed).
fn read(n: u32, user: &str, minute: u32, second: u32, name: &str) -> Value {
    json!({"eventVersion": "1.09", "eventSource": "secretsmanager.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1",
            "eventTime": format!("2024-07-31T12:{minute:02}:{second:02}Z"),
            "eventID": format!("b9c3d881-1e77-426c-abd3-{n:012}"), "eventType": "AwsApiCall",
            "recipientAccountId": "903144391865", "sourceIPAddress": "253.201.144.253",
            "userAgent": "stratus-red-team_10e7edf3",
            "requestParameters": {"secretId": format!("arn:aws:secretsmanager:us-east-1:903144391865:secret:stratus-red-team-retrieve-secret-{n}")},
            "responseElements": null,
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::903144391865:user/{user}"),
                "accountId": "903144391865", "principalId": "AIDA45XCCHPPLELFTIIM", "userName": user}})
}

/// Scans the records and passes every alert through one threshold gate, as the CLI does.
fn run(detector: &Detector, records: &[Value]) -> Vec<Alert> {
    let log = json!({ "Records": records }).to_string();
    let mut raised = Vec::new();
    scan_log(
        log.as_bytes(),
        "mem",
        detector,
        ReaderConfig::default(),
        |a| raised.push(a),
    )
    .unwrap();
    let (mut gate, mut store) = (ThresholdGate::new(), MemoryWindowStore::new());
    raised
        .into_iter()
        .filter_map(|a| gate.admit(a, &mut store).unwrap())
        .collect()
}

fn fired(alerts: &[Alert]) -> Vec<&Alert> {
    alerts
        .iter()
        .filter(|a| a.rule_id == CORRELATION_ID)
        .collect()
}

#[test]
fn event_count_fires_at_the_threshold_within_the_window_per_group() {
    let rule = correlation("event_count", "    gte: 3\n", "");
    let d = detector(&[SECRET_READ, &rule]);
    // Two reads: below the threshold.
    let two = [
        read(1, "alice", 0, 1, "GetSecretValue"),
        read(2, "alice", 3, 0, "GetSecretValue"),
    ];
    assert!(fired(&run(&d, &two)).is_empty());
    // The third within ten minutes reaches it: one alert, with the count.
    let mut three = two.to_vec();
    three.push(read(3, "alice", 9, 0, "GetSecretValue"));
    three.push(read(4, "alice", 9, 30, "GetSecretValue"));
    let alerts = run(&d, &three);
    let hits = fired(&alerts);
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    let state = hits[0].threshold.as_ref().unwrap();
    assert_eq!(state.threshold, 3);
    assert!(state.distinct.unwrap() >= 3);
    assert!(
        hits[0]
            .summary
            .contains("userIdentity.arn=arn:aws:iam::903144391865:user/alice")
    );
    // generate is false: the referenced rule does not alert on its own.
    assert!(alerts.iter().all(|a| a.rule_id == CORRELATION_ID));
    // Three reads by three callers: the group-by keeps them apart.
    let spread = [
        read(1, "alice", 0, 1, "GetSecretValue"),
        read(2, "bob", 0, 2, "GetSecretValue"),
        read(3, "carol", 0, 3, "GetSecretValue"),
    ];
    assert!(fired(&run(&d, &spread)).is_empty());
    // The same event delivered twice counts once.
    let replayed = [
        read(1, "alice", 0, 1, "GetSecretValue"),
        read(1, "alice", 0, 1, "GetSecretValue"),
        read(2, "alice", 0, 2, "GetSecretValue"),
    ];
    assert!(fired(&run(&d, &replayed)).is_empty());
}

#[test]
fn event_count_does_not_add_up_across_windows() {
    let d = detector(&[SECRET_READ, &correlation("event_count", "    gt: 2\n", "")]);
    // Three reads 25 minutes apart: more than two timespans, never in one window.
    let slow = [
        read(1, "alice", 0, 0, "GetSecretValue"),
        read(2, "alice", 25, 0, "GetSecretValue"),
        read(3, "alice", 50, 0, "GetSecretValue"),
    ];
    assert!(fired(&run(&d, &slow)).is_empty());
    // Three within one timespan alert wherever the windows fall (here across the aligned
    // windows' boundary at 12:20).
    let burst = [
        read(1, "alice", 19, 0, "GetSecretValue"),
        read(2, "alice", 21, 0, "GetSecretValue"),
        read(3, "alice", 28, 59, "GetSecretValue"),
    ];
    assert_eq!(fired(&run(&d, &burst)).len(), 1);
}

#[test]
fn value_count_counts_distinct_values_and_generate_keeps_the_rule_alerts() {
    let rule = correlation(
        "value_count",
        "    gte: 3\n    field: requestParameters.secretId\n",
        "generate: true\n",
    );
    let d = detector(&[SECRET_READ, &rule]);
    // The same secret three times: one distinct value.
    let mut same: Vec<Value> = (1..=3)
        .map(|n| read(n, "alice", n, 0, "GetSecretValue"))
        .collect();
    for r in &mut same {
        r["requestParameters"]["secretId"] =
            json!("arn:aws:secretsmanager:us-east-1:903144391865:secret:one");
    }
    let alerts = run(&d, &same);
    assert!(fired(&alerts).is_empty());
    // generate: true, so each read also alerts as the base rule.
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a.rule_id.ends_with("000000000002"))
            .count(),
        3
    );
    let distinct: Vec<Value> = (1..=3)
        .map(|n| read(n, "alice", n, 0, "GetSecretValue"))
        .collect();
    let alerts = run(&d, &distinct);
    let hits = fired(&alerts);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].threshold.as_ref().unwrap().counts,
        "values of requestParameters.secretId"
    );
}

#[test]
fn temporal_needs_every_referenced_rule_in_the_window() {
    let rule = "title: Secret and its policy read (trailwatch example)\nid: 6f1e2d3c-0000-4a5b-8c9d-0000000000c1\ncorrelation:\n  type: temporal\n  rules: [secret_read, policy_read]\n  group-by: [userIdentity.arn]\n  timespan: 5m\nlevel: medium\n";
    let d = detector(&[SECRET_READ, POLICY_READ, rule]);
    let only_reads = [
        read(1, "alice", 0, 0, "GetSecretValue"),
        read(2, "alice", 1, 0, "GetSecretValue"),
    ];
    assert!(fired(&run(&d, &only_reads)).is_empty());
    let both = [
        read(1, "alice", 0, 0, "GetSecretValue"),
        read(2, "alice", 1, 0, "GetResourcePolicy"),
    ];
    assert_eq!(fired(&run(&d, &both)).len(), 1);
    let two_callers = [
        read(1, "alice", 0, 0, "GetSecretValue"),
        read(2, "bob", 1, 0, "GetResourcePolicy"),
    ];
    assert!(fired(&run(&d, &two_callers)).is_empty());
}

#[test]
fn unsupported_correlations_are_refused_with_a_reason() {
    let cases = [
        (
            correlation("event_count", "    lt: 3\n", ""),
            "only a floor",
        ),
        (
            correlation("event_count", "    gte: 3\n    lte: 9\n", ""),
            "only a floor",
        ),
        (
            correlation("event_count", "    gte: 501\n", ""),
            "above the 500",
        ),
        (
            correlation("value_sum", "    gte: 3\n    field: x\n", ""),
            "value_sum correlations are not supported",
        ),
        (
            correlation("temporal_ordered", "    gte: 1\n", ""),
            "temporal_ordered correlations are not supported",
        ),
        (
            correlation("event_count", "    gte: 3\n", "")
                .replace("    - secret_read", "    - nothing_here"),
            "not a loaded rule",
        ),
        (
            correlation("event_count", "    gte: 3\n", "")
                .replace("  timespan: 10m\n", "  timespan: 10m\n  window: tumbling\n"),
            "window is not supported",
        ),
    ];
    for (text, reason) in cases {
        let loaded = load(&[SECRET_READ, &text]);
        assert!(loaded.rules.correlations().is_empty(), "{reason}");
        assert_eq!(loaded.refused.len(), 1, "{reason}: {:?}", loaded.refused);
        assert!(
            loaded.refused[0].reason.contains(reason),
            "{reason}: {}",
            loaded.refused[0]
        );
    }
}

#[test]
fn value_count_fires_on_the_stratus_secrets_harvest_recording() {
    // Stratus Red Team aws.credential-access.secretsmanager-retrieve-secrets: one user reads
    // 20 secrets within seconds.
    let log: &[u8] = include_bytes!(
        "../../../tests/fixtures/stratus/aws.credential-access.secretsmanager-retrieve-secrets.json.gz"
    );
    let at = |n: u32| {
        correlation(
            "value_count",
            &format!("    gte: {n}\n    field: requestParameters.secretId\n"),
            "",
        )
    };
    let released = |rule: &str| {
        let d = detector(&[SECRET_READ, rule]);
        let mut raised = Vec::new();
        scan_log(log, "stratus", &d, ReaderConfig::default(), |a| {
            raised.push(a)
        })
        .unwrap();
        let (mut gate, mut store) = (ThresholdGate::new(), MemoryWindowStore::new());
        raised
            .into_iter()
            .filter_map(|a| gate.admit(a, &mut store).unwrap())
            .filter(|a| a.rule_id == CORRELATION_ID)
            .collect::<Vec<_>>()
    };
    let hits = released(&at(20));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].threshold.as_ref().unwrap().distinct, Some(20));
    assert!(released(&at(21)).is_empty());
}

#[test]
fn a_correlation_can_be_disabled_and_overridden_by_its_id() {
    let loaded = load(&[SECRET_READ, &correlation("event_count", "    gte: 2\n", "")]);
    let config = |disabled: bool| DetectorConfig {
        sigma_rules: loaded.rules.clone(),
        disabled_rules: if disabled {
            [CORRELATION_ID.to_owned()].into()
        } else {
            Default::default()
        },
        severity_overrides: [(
            CORRELATION_ID.to_owned(),
            crate::detector::Severity::Critical,
        )]
        .into(),
        ..DetectorConfig::default()
    };
    let reads = [
        read(1, "alice", 0, 0, "GetSecretValue"),
        read(2, "alice", 1, 0, "GetSecretValue"),
    ];
    let on = Detector::new(&config(false)).unwrap();
    let hits = run(&on, &reads);
    assert_eq!(fired(&hits).len(), 1);
    assert_eq!(hits[0].severity, crate::detector::Severity::Critical);
    // Disabled, and its rule only feeds it (generate: false): nothing runs, nothing alerts.
    let off = Detector::new(&config(true)).unwrap();
    assert!(off.sigma_rules().is_empty());
    assert!(run(&off, &reads).is_empty());
}
