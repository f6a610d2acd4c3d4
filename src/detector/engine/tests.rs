//! Tests for `engine`.

use super::*;
use crate::detector::reader::{ReadError, ReaderConfig};

#[test]
fn config_lists_are_validated() {
    assert_eq!(
        parse_accounts("111122223333, 444455556666").unwrap().len(),
        2
    );
    assert_eq!(
        parse_accounts("1111"),
        Err(ConfigError::InvalidAccountId("1111".into()))
    );
    assert!(parse_rule_ids("s3-bucket-config-modified").is_ok());
    let err = parse_rule_ids("nope").unwrap_err();
    assert!(err.to_string().contains("s3-bucket-config-modified"));
}

#[test]
fn organizations_and_ou_paths_are_validated() {
    let orgs = parse_organizations("o-a1b2c3d4e5, o-f6g7h8i9j0/r-ab12/ou-ab12-11111111/").unwrap();
    assert!(orgs.contains("o-f6g7h8i9j0/r-ab12/ou-ab12-11111111"));
    for bad in [
        "o-short",
        "a1b2c3d4e5",
        "o-a1b2c3d4e5/ou-ab12-1111",
        "o-A1B2C3D4E5",
        "o-a1b2c3d4e5/r-ab12/x",
    ] {
        assert_eq!(
            parse_organizations(bad),
            Err(ConfigError::InvalidOrganization(bad.into())),
            "{bad}"
        );
    }
    let config = DetectorConfig {
        trusted_organizations: ["nope".to_string()].into(),
        ..DetectorConfig::default()
    };
    assert!(matches!(
        Detector::new(&config),
        Err(ConfigError::InvalidOrganization(_))
    ));
}

#[test]
fn min_severity_filters_alerts_and_disabled_rules_filter_the_catalogue() {
    let all = Detector::new(&DetectorConfig::default()).unwrap();
    assert_eq!(all.rules().count(), CATALOGUE.len());
    // s3-bucket-config-modified raises info alerts: gone at medium, its rule still listed.
    let log = br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl",
            "requestParameters":{"bucketName":"b"}}]}"#;
    for (min, expected) in [(Severity::Info, 1), (Severity::Medium, 0)] {
        let d = Detector::new(&DetectorConfig {
            min_severity: min,
            ..DetectorConfig::default()
        })
        .unwrap();
        let mut alerts = Vec::new();
        scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
            alerts.push(a)
        })
        .unwrap();
        let config_alerts = alerts
            .iter()
            .filter(|a| a.rule_id == "s3-bucket-config-modified")
            .count();
        assert_eq!(config_alerts, expected, "{min:?}");
        assert!(alerts.iter().all(|a| a.severity >= min));
    }
    let disabled = Detector::new(&DetectorConfig {
        disabled_rules: ["s3-bucket-config-modified".to_string()].into(),
        ..DetectorConfig::default()
    })
    .unwrap();
    assert_eq!(disabled.rules().count(), CATALOGUE.len() - 1);
    assert!(
        Detector::new(&DetectorConfig {
            disabled_rules: ["bogus".to_string()].into(),
            ..DetectorConfig::default()
        })
        .is_err()
    );
}

#[test]
fn the_index_routes_only_wanted_events() {
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    assert!(d.wants("s3.amazonaws.com", "PutBucketPolicy"));
    assert!(d.wants("lambda.amazonaws.com", "AddPermission20150331v2"));
    assert!(!d.wants("sts.amazonaws.com", "AssumeRole"));
    assert!(!d.wants("s3.amazonaws.com", "GetObject"));
    assert!(!d.wants("ec2.amazonaws.com", "PutBucketPolicy"));
}

#[test]
fn rules_keyed_on_the_caller_type_see_any_event_of_that_caller_only() {
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    let root = br#"{"eventSource":"tag.amazonaws.com","eventName":"TagResources","readOnly":false,
            "userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"}}"#;
    let user = br#"{"eventSource":"tag.amazonaws.com","eventName":"TagResources","readOnly":false,
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}}"#;
    let root = Record::from_slice(root).unwrap();
    let user = Record::from_slice(user).unwrap();
    assert!(d.wants_record(&root));
    assert!(!d.wants_record(&user));
    assert!(!d.wants("tag.amazonaws.com", "TagResources"));
    let mut alerts = Vec::new();
    d.evaluate(&root, &LogObject::default(), &mut alerts)
        .unwrap();
    let ids: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    assert_eq!(ids, ["root-user-activity"]);
    alerts.clear();
    d.evaluate(&user, &LogObject::default(), &mut alerts)
        .unwrap();
    assert!(alerts.is_empty());
    // A rule wanted both by event and by caller type runs once.
    let root_login = br#"{"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",
            "responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},
            "userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"}}"#;
    let root_login = Record::from_slice(root_login).unwrap();
    d.evaluate(&root_login, &LogObject::default(), &mut alerts)
        .unwrap();
    let mut ids: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["console-login-without-mfa", "root-user-activity"]);
}

#[test]
fn scan_counts_unparsable_records_and_keeps_going() {
    let log = br#"{"Records":[
            {"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","recipientAccountId":"111122223333",
             "requestParameters":{"bucketName":"b"}},
            {"eventName": "\xff\xfe"},
            7,
            {"eventSource":"s3.amazonaws.com","eventName":"DeleteBucketCors","requestParameters":{"bucketName":"c"}}
        ]}"#;
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    let mut alerts = Vec::new();
    let stats = scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
        alerts.push(a)
    })
    .unwrap();
    assert_eq!(stats.records, 2);
    assert_eq!(stats.skipped_records, 2);
    assert_eq!(stats.alerts, 2);
    assert_eq!(alerts[1].log_object.record_index, 3);
    assert_eq!(alerts[0].log_object.location, "mem");
}

#[test]
fn records_a_rule_cannot_judge_are_counted_and_reported_with_their_event_id() {
    #[derive(Default)]
    struct Collect {
        alerts: Vec<Alert>,
        skipped: Vec<SkippedRecord>,
    }
    impl ScanSink for Collect {
        fn alert(&mut self, alert: Alert) {
            self.alerts.push(alert);
        }
        fn skipped(&mut self, skipped: SkippedRecord) {
            self.skipped.push(skipped);
        }
    }
    // A policy nested past serde's recursion limit, a duplicate key, a non-object element
    // and a good share: only the last is judged, and each other one is reported.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let log = format!(
        r#"{{"Records":[
            {{"eventID":"deep","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",
              "recipientAccountId":"111122223333","requestParameters":{{"bucketName":"b","bucketPolicy":{deep}}}}},
            {{"eventID":"dup","eventName":"PutBucketPolicy","eventName":"GetObject"}},
            "text",
            {{"eventID":"ok","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",
              "recipientAccountId":"111122223333","requestParameters":{{"bucketName":"b",
              "bucketPolicy":{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}}}}}}}
        ]}}"#
    );
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    let mut out = Collect::default();
    let stats = scan_log_to(log.as_bytes(), "mem", &d, ReaderConfig::default(), &mut out).unwrap();
    assert_eq!(stats.skipped_records, 3);
    let skipped: Vec<(u64, Option<&str>)> = out
        .skipped
        .iter()
        .map(|s| (s.record_index, s.event_id.as_deref()))
        .collect();
    assert_eq!(skipped, vec![(0, Some("deep")), (1, None), (2, None)]);
    assert!(
        out.skipped[0].reason.contains("recursion limit"),
        "{:?}",
        out.skipped[0]
    );
    // Rules that could read the deep record still judge it; the policy rules could not.
    let fired: Vec<(&str, &str)> = out
        .alerts
        .iter()
        .map(|a| (a.event_id.as_deref().unwrap_or(""), a.rule_id.as_str()))
        .collect();
    assert!(
        fired.contains(&("ok", "s3-bucket-policy-shared-externally")),
        "{fired:?}"
    );
    assert!(
        !fired.contains(&("deep", "s3-bucket-policy-shared-externally")),
        "{fired:?}"
    );
}

#[test]
fn failed_calls_reach_only_rules_that_evaluate_them() {
    let log = br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl",
            "errorCode":"AccessDenied","requestParameters":{"bucketName":"b"}}]}"#;
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    let mut alerts = Vec::new();
    let stats = scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
        alerts.push(a)
    })
    .unwrap();
    assert_eq!(
        (stats.records, stats.alerts, stats.skipped_records),
        (1, 0, 0)
    );
}

#[test]
fn threshold_counts_arrive_pending_and_are_counted_apart() {
    let log = br#"{"Records":[{"eventSource":"ec2.amazonaws.com","eventName":"GetPasswordData",
            "eventTime":"2024-07-30T21:31:21Z","recipientAccountId":"457448411975",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::457448411975:user/a"},
            "requestParameters":{"instanceId":"i-1"}},
            {"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","requestParameters":{"bucketName":"b"}}]}"#;
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    let mut alerts = Vec::new();
    let stats = scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
        alerts.push(a)
    })
    .unwrap();
    assert_eq!((stats.alerts, stats.pending), (1, 1));
    assert!(alerts[0].is_pending() && !alerts[1].is_pending());
}

#[test]
fn alerts_before_a_corrupt_tail_are_delivered() {
    let log = br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl"},{"eventSource":"#;
    let d = Detector::new(&DetectorConfig::default()).unwrap();
    let mut alerts = Vec::new();
    let err = scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
        alerts.push(a)
    })
    .unwrap_err();
    assert!(matches!(err.error, ReadError::Corrupt(_)));
    assert_eq!(err.stats.records, 1);
    assert_eq!(alerts.len(), 1);
}
