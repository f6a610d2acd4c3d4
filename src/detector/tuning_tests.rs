//! Tuning end to end through the engine: exceptions (every matcher, expiry, counting),
//! severity overrides, the minimum severity, and Sigma rules raising alerts.

use crate::detector::config_file::TuningFile;
use crate::detector::engine::{Detector, DetectorConfig, ScanSink, SkippedRecord, Suppression};
use crate::detector::sigma;
use crate::detector::{Alert, ReaderConfig, Severity, scan_log_to};
use serde_json::{Value, json};

/// Stratus Red Team `aws.exfiltration.ec2-share-ebs-snapshot` (ModifySnapshotAttribute),
/// with the caller changed to a Terraform role session so actor matchers have a session issuer.
fn snapshot_share(accounts: &[&str]) -> Value {
    let items: Vec<Value> = accounts.iter().map(|a| json!({"userId": a})).collect();
    json!({"awsRegion": "eu-west-1", "eventID": "6897ff63-d738-445c-9e86-43e5b1f8e12f",
        "eventName": "ModifySnapshotAttribute", "eventSource": "ec2.amazonaws.com",
        "eventTime": "2024-08-01T12:28:02Z", "eventType": "AwsApiCall", "eventVersion": "1.09",
        "recipientAccountId": "756680937392",
        "requestParameters": {"attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": items}},
            "snapshotId": "snap-041993b54a9b3af6f"},
        "responseElements": {"_return": true},
        "sourceIPAddress": "10.20.30.40", "userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.9.5",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:ci",
            "arn": "arn:aws:sts::756680937392:assumed-role/terraform/ci",
            "accountId": "756680937392", "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role",
                "arn": "arn:aws:iam::756680937392:role/terraform", "accountId": "756680937392"}}}})
}

/// Stratus Red Team `aws.defense-evasion.cloudtrail-stop` (StopLogging), trimmed.
fn stop_logging() -> Value {
    json!({"awsRegion": "us-east-1", "eventID": "10163ed2-2253-469d-a5ee-cbc6651f8934",
        "eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com",
        "eventTime": "2024-07-31T13:06:24Z", "eventType": "AwsApiCall", "eventVersion": "1.10",
        "recipientAccountId": "143434273843",
        "requestParameters": {"name": "stratus-red-team-ct-stop-trail-buykxbqejv"},
        "responseElements": null, "sourceIPAddress": "86.245.153.234",
        "userAgent": "stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571",
        "userIdentity": {"accessKeyId": "AKIAGGWFBBHBE7D3M9WI", "accountId": "143434273843",
            "arn": "arn:aws:iam::143434273843:user/christophe", "principalId": "AIDAOC1SYDVN0AF0FMMR",
            "type": "IAMUser", "userName": "christophe"}})
}

#[derive(Default)]
struct Collect {
    alerts: Vec<Alert>,
    suppressed: Vec<Suppression>,
}

impl ScanSink for &mut Collect {
    fn alert(&mut self, alert: Alert) {
        self.alerts.push(alert);
    }
    fn skipped(&mut self, _skipped: SkippedRecord) {}
    fn suppressed(&mut self, suppression: Suppression) {
        self.suppressed.push(suppression);
    }
}

fn scan(detector: &Detector, records: &[Value]) -> Collect {
    let log = json!({ "Records": records }).to_string();
    let mut out = Collect::default();
    let stats = scan_log_to(
        log.as_bytes(),
        "mem",
        detector,
        ReaderConfig::default(),
        &mut out,
    )
    .unwrap();
    assert_eq!(stats.suppressed as usize, out.suppressed.len());
    assert_eq!(stats.alerts as usize, out.alerts.len());
    out
}

fn tuned(yaml: &str) -> Detector {
    let mut config = DetectorConfig::default();
    TuningFile::parse(yaml).unwrap().apply(&mut config);
    Detector::new(&config).unwrap()
}

fn exception(matchers: &str) -> String {
    format!(
        "exceptions:\n  - name: under-test\n    reason: r\n    owner: o\n    match:\n      rules: [resource-shared-with-external-account]\n{matchers}"
    )
}

const SHARE_RULE: &str = "resource-shared-with-external-account";

#[test]
fn without_an_exception_the_share_alerts() {
    let out = scan(&tuned(""), &[snapshot_share(&["098797384747"])]);
    assert!(out.alerts.iter().any(|a| a.rule_id == SHARE_RULE));
}

#[test]
fn every_matcher_suppresses_when_it_matches_and_not_otherwise() {
    let record = snapshot_share(&["098797384747"]);
    let cases: &[(&str, &str, &str)] = &[
        ("", "", "rules alone"),
        (
            "      accounts: ['756680937392']\n",
            "      accounts: ['111122223333']\n",
            "accounts",
        ),
        (
            "      regions: [eu-west-1]\n",
            "      regions: [us-east-1]\n",
            "regions",
        ),
        (
            "      actors: ['arn:aws:iam::*:role/terraform']\n",
            "      actors: ['arn:aws:iam::*:role/deployer']\n",
            "actors (session issuer)",
        ),
        (
            "      actors: ['arn:aws:sts::*:assumed-role/terraform/*']\n",
            "      actors: ['arn:aws:sts::*:assumed-role/terraform/other']\n",
            "actors (session arn)",
        ),
        (
            "      source_ips: [10.0.0.0/8]\n",
            "      source_ips: [192.168.0.0/16]\n",
            "source_ips",
        ),
        (
            "      user_agents: ['*terraform/*']\n",
            "      user_agents: ['aws-cli/*']\n",
            "user_agents",
        ),
        (
            "      resources: ['snap-*']\n",
            "      resources: ['ami-*']\n",
            "resources",
        ),
        (
            "      external_accounts: ['098797384747']\n",
            "      external_accounts: ['111122223333']\n",
            "external_accounts",
        ),
    ];
    for (matching, other, what) in cases {
        let hit = scan(&tuned(&exception(matching)), std::slice::from_ref(&record));
        assert!(
            hit.alerts.iter().all(|a| a.rule_id != SHARE_RULE),
            "{what}: should suppress"
        );
        assert_eq!(hit.suppressed.len(), 1, "{what}");
        assert_eq!(hit.suppressed[0].exception, "under-test");
        if !other.is_empty() {
            let miss = scan(&tuned(&exception(other)), std::slice::from_ref(&record));
            assert!(
                miss.alerts.iter().any(|a| a.rule_id == SHARE_RULE),
                "{what}: should not suppress"
            );
            assert!(miss.suppressed.is_empty(), "{what}");
        }
    }
    // A rule the exception does not name is not covered.
    let other_rule = "exceptions:\n  - name: x\n    reason: r\n    owner: o\n    match:\n      rules: [s3-bucket-config-modified]\n      resources: ['snap-*']\n";
    assert_eq!(
        scan(&tuned(other_rule), std::slice::from_ref(&record))
            .suppressed
            .len(),
        0
    );
}

#[test]
fn an_outsider_exception_covers_only_shares_with_nobody_else() {
    let partner = exception("      external_accounts: ['098797384747']\n");
    let detector = tuned(&partner);
    let both = scan(
        &detector,
        &[snapshot_share(&["098797384747", "111122223333"])],
    );
    assert!(both.alerts.iter().any(|a| a.rule_id == SHARE_RULE));
    let mut shared_publicly = snapshot_share(&["098797384747"]);
    shared_publicly["requestParameters"]["createVolumePermission"]["add"]["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"group": "all"}));
    let public = scan(&detector, &[shared_publicly]);
    assert!(public.alerts.iter().any(|a| a.rule_id == SHARE_RULE));
    assert!(both.suppressed.is_empty() && public.suppressed.is_empty());
}

#[test]
fn an_expired_exception_stops_suppressing_and_the_alert_says_so() {
    let until = |date: &str| {
        exception("      external_accounts: ['098797384747']\n").replace(
            "    owner: o\n",
            &format!("    owner: o\n    expires: {date}\n"),
        )
    };
    let record = snapshot_share(&["098797384747"]); // eventTime 2024-08-01T12:28:02Z
    // Through the whole day of the expiry date.
    assert_eq!(
        scan(&tuned(&until("2024-08-01")), std::slice::from_ref(&record))
            .suppressed
            .len(),
        1
    );
    let late = scan(&tuned(&until("2024-07-31")), std::slice::from_ref(&record));
    assert!(late.suppressed.is_empty());
    let alert = late
        .alerts
        .iter()
        .find(|a| a.rule_id == SHARE_RULE)
        .unwrap();
    assert_eq!(alert.expired_exceptions[0].name, "under-test");
    assert_eq!(alert.expired_exceptions[0].expires, "2024-07-31");
    assert!(
        serde_json::to_string(alert)
            .unwrap()
            .contains("\"expired_exceptions\"")
    );
    // A timestamp expiry is exclusive.
    assert!(
        scan(
            &tuned(&until("2024-08-01T12:28:02Z")),
            std::slice::from_ref(&record)
        )
        .suppressed
        .is_empty()
    );
    assert_eq!(
        scan(
            &tuned(&until("2024-08-01T12:28:03Z")),
            std::slice::from_ref(&record)
        )
        .suppressed
        .len(),
        1
    );
    // No readable eventTime: the expiry cannot be shown to hold, so the alert goes out.
    let mut timeless = record.clone();
    timeless["eventTime"] = json!("yesterday");
    let out = scan(&tuned(&until("2099-01-01")), &[timeless]);
    assert!(out.suppressed.is_empty());
    assert_eq!(
        out.alerts
            .iter()
            .find(|a| a.rule_id == SHARE_RULE)
            .unwrap()
            .expired_exceptions
            .len(),
        1
    );
}

#[test]
fn suppressions_are_counted_per_exception() {
    let yaml = format!(
        "{}  - name: second\n    reason: r\n    owner: o\n    match:\n      resources: ['snap-*']\n",
        exception("      external_accounts: ['098797384747']\n")
    );
    let detector = tuned(&yaml);
    let records = [
        snapshot_share(&["098797384747"]),
        snapshot_share(&["098797384747"]),
        snapshot_share(&["111122223333"]),
    ];
    let out = scan(&detector, &records);
    assert_eq!(out.suppressed.len(), 3);
    assert_eq!(
        detector.exception_counts(),
        vec![("under-test", 2), ("second", 1)]
    );
}

#[test]
fn severity_overrides_and_the_minimum_severity_apply_to_alerts() {
    let record = snapshot_share(&["098797384747"]);
    let base = scan(&tuned(""), std::slice::from_ref(&record));
    let severity = base
        .alerts
        .iter()
        .find(|a| a.rule_id == SHARE_RULE)
        .unwrap()
        .severity;
    assert!(severity < Severity::Critical);
    let raised = scan(
        &tuned(&format!("rules:\n  {SHARE_RULE}: {{severity: critical}}\n")),
        std::slice::from_ref(&record),
    );
    assert_eq!(
        raised
            .alerts
            .iter()
            .find(|a| a.rule_id == SHARE_RULE)
            .unwrap()
            .severity,
        Severity::Critical
    );
    let lowered = format!("min_severity: high\nrules:\n  {SHARE_RULE}: {{severity: low}}\n");
    assert!(
        scan(&tuned(&lowered), std::slice::from_ref(&record))
            .alerts
            .is_empty()
    );
    let disabled = format!("rules:\n  {SHARE_RULE}: {{enabled: false}}\n");
    assert!(
        scan(&tuned(&disabled), &[record])
            .alerts
            .iter()
            .all(|a| a.rule_id != SHARE_RULE)
    );
}

fn with_sigma(text: &str, yaml: &str) -> Detector {
    with_sigma_options(text, yaml, false)
}

fn with_sigma_options(text: &str, yaml: &str, allow_caller_type_only: bool) -> Detector {
    let options = sigma::LoadOptions {
        dedup_period_minutes: 30,
        allow_caller_type_only,
    };
    let loaded = sigma::load_with(&[("rule.yml".into(), text.into())], &options, |_| false);
    assert!(loaded.refused.is_empty(), "{:?}", loaded.refused);
    let mut config = DetectorConfig {
        sigma_rules: loaded.rules,
        ..DetectorConfig::default()
    };
    TuningFile::parse(yaml).unwrap().apply(&mut config);
    Detector::new(&config).unwrap()
}

const SIGMA_ID: &str = "sigma-6f1e2d3c-0000-4a5b-8c9d-000000000001";

#[test]
fn a_sigma_match_is_a_normal_alert() {
    let detector = with_sigma(sigma::tests::STOP_LOGGING, "");
    assert!(detector.wants("cloudtrail.amazonaws.com", "StopLogging"));
    assert!(!detector.wants("cloudtrail.amazonaws.com", "LookupEvents"));
    let out = scan(&detector, &[stop_logging()]);
    let alert = out
        .alerts
        .iter()
        .find(|a| a.rule_id == SIGMA_ID)
        .expect("sigma alert");
    assert_eq!(alert.severity, Severity::High);
    assert_eq!(
        alert.title,
        "CloudTrail logging stopped (trailwatch example)"
    );
    assert_eq!(alert.mitre_attack[0].technique_id, "T1562.008");
    assert_eq!(alert.references.len(), 1);
    assert_eq!(alert.false_positives, vec!["Planned trail migrations"]);
    assert_eq!(alert.dedup_period_minutes, 30);
    assert!(alert.dedup_key.starts_with(&format!(
        "{SIGMA_ID}|143434273843|cloudtrail.amazonaws.com|StopLogging|"
    )));
    assert_eq!(
        alert.record["requestParameters"]["name"],
        "stratus-red-team-ct-stop-trail-buykxbqejv"
    );
    assert!(alert.summary.contains("christophe"), "{}", alert.summary);
    // A failed attempt has an errorCode, which the rule's `errorCode: null` excludes.
    let mut failed = stop_logging();
    failed["errorCode"] = json!("AccessDenied");
    assert!(
        scan(&detector, &[failed])
            .alerts
            .iter()
            .all(|a| a.rule_id != SIGMA_ID)
    );
}

#[test]
fn sigma_alerts_take_exceptions_and_overrides() {
    let yaml = format!(
        "rules:\n  {SIGMA_ID}: {{severity: critical}}\nexceptions:\n  - name: trail-migration\n    reason: r\n    owner: o\n    match:\n      rules: [{SIGMA_ID}]\n      actors: ['arn:aws:iam::*:user/migration']\n"
    );
    let detector = with_sigma(sigma::tests::STOP_LOGGING, &yaml);
    let out = scan(&detector, &[stop_logging()]);
    let sigma_alert = out.alerts.iter().find(|a| a.rule_id == SIGMA_ID).unwrap();
    assert_eq!(sigma_alert.severity, Severity::Critical);
    let mut migration = stop_logging();
    migration["userIdentity"]["arn"] = json!("arn:aws:iam::143434273843:user/migration");
    let out = scan(&detector, &[migration]);
    // Only the Sigma rule is excepted; the catalogue's own stopped-trail rule still alerts.
    assert!(out.alerts.iter().all(|a| a.rule_id != SIGMA_ID));
    assert_eq!(out.suppressed[0].exception, "trail-migration");
}

#[test]
fn a_sigma_rule_that_pins_no_event_runs_on_every_record() {
    let unpinned = sigma::tests::STOP_LOGGING.replace(
        "    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n",
        "    userAgent|startswith: 'stratus-red-team'\n",
    );
    let detector = with_sigma(&unpinned, "");
    assert!(detector.wants("sts.amazonaws.com", "GetCallerIdentity"));
    let mut other = stop_logging();
    other["eventSource"] = json!("sts.amazonaws.com");
    other["eventName"] = json!("GetCallerIdentity");
    let out = scan(&detector, &[other]);
    assert_eq!(out.alerts.len(), 1);
    assert_eq!(out.alerts[0].rule_id, SIGMA_ID);
}

#[test]
fn sigma_rules_gated_by_caller_type_or_text_skip_other_records_unparsed() {
    let by_type = sigma::tests::STOP_LOGGING.replace(
        "    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n",
        "    userIdentity.type: Root\n",
    );
    // A rule on the caller's type alone is a hunting query, loaded only when allowed.
    let detector = with_sigma_options(&by_type, "", true);
    let bytes = br#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#;
    assert!(detector.wants_skimmed("s3.amazonaws.com", "GetObject", Some("Root"), bytes));
    assert!(!detector.wants_skimmed("s3.amazonaws.com", "GetObject", Some("IAMUser"), bytes));
    assert!(!detector.wants_skimmed("s3.amazonaws.com", "GetObject", None, bytes));
    let mut root = stop_logging();
    root["eventSource"] = json!("s3.amazonaws.com");
    root["eventName"] = json!("GetObject");
    root["userIdentity"] = json!({"type": "Root", "arn": "arn:aws:iam::143434273843:root"});
    let out = scan(&detector, &[root.clone()]);
    assert_eq!(out.alerts.len(), 1);
    assert_eq!(out.alerts[0].rule_id, SIGMA_ID);

    let by_text = sigma::tests::STOP_LOGGING.replace(
        "    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n",
        "    userAgent: TruffleHog\n",
    );
    let detector = with_sigma(&by_text, "");
    let aws_cli =
        br#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","userAgent":"aws-cli/2.15"}"#;
    let hog =
        br#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","userAgent":"trufflehog"}"#;
    assert!(!detector.wants_skimmed("s3.amazonaws.com", "GetObject", None, aws_cli));
    assert!(detector.wants_skimmed("s3.amazonaws.com", "GetObject", None, hog));
    // Without the bytes the detector cannot tell, so it wants the record.
    assert!(detector.wants_event("s3.amazonaws.com", "GetObject", None));
    root["userAgent"] = json!("TruffleHog");
    let mut other = root.clone();
    other["userAgent"] = json!("aws-cli/2.15");
    let out = scan(&detector, &[root, other]);
    assert_eq!(out.alerts.len(), 1);
    assert_eq!(
        out.alerts[0].actor.user_agent.as_deref(),
        Some("TruffleHog")
    );
}

#[test]
fn an_event_pinned_sigma_rule_that_also_needs_a_text_skips_records_without_it() {
    // SigmaHQ 9b1b8e9b (AWS STS GetCallerIdentity Enumeration Via TruffleHog).
    let rule = sigma::tests::STOP_LOGGING.replace(
        "    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n",
        "    eventSource: sts.amazonaws.com\n    eventName: GetCallerIdentity\n    userAgent|contains: TruffleHog\n",
    );
    let detector = with_sigma(&rule, "");
    let plain = br#"{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userAgent":"aws-cli/2"}"#;
    let hog = br#"{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userAgent":"TruffleHog"}"#;
    let escaped = br#"{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userAgent":"Truffle\u0048og"}"#;
    let call = ("sts.amazonaws.com", "GetCallerIdentity");
    assert!(!detector.wants_skimmed(call.0, call.1, Some("IAMUser"), plain));
    assert!(detector.wants_skimmed(call.0, call.1, Some("IAMUser"), hog));
    assert!(detector.wants_skimmed(call.0, call.1, Some("IAMUser"), escaped));
    let mut record = stop_logging();
    record["eventSource"] = json!("sts.amazonaws.com");
    record["eventName"] = json!("GetCallerIdentity");
    record["userAgent"] = json!("TruffleHog v3.63.2");
    let mut other = record.clone();
    other["userAgent"] = json!("aws-cli/2.15");
    let out = scan(&detector, &[record, other]);
    assert_eq!(out.alerts.len(), 1);
    assert_eq!(out.alerts[0].rule_id, SIGMA_ID);
}
