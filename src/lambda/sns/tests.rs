//! Tests for `sns`.

use super::message::*;
use super::*;
use crate::detector::{Actor, LogObject, Severity};
use serde_json::{Value, json};

pub(crate) fn alert(dedup_key: &str, record: Value) -> Alert {
    Alert {
        rule_id: "resource-shared-with-external-account".into(),
        title: "Resource shared with an unknown external account".into(),
        severity: Severity::High,
        risk_score: 73,
        summary: "shared".into(),
        error_code: None,
        event_id: Some("e".into()),
        event_time: None,
        event_name: "ModifySnapshotAttribute".into(),
        event_source: "ec2.amazonaws.com".into(),
        account_id: Some("111122223333".into()),
        region: None,
        actor: Actor::default(),
        details: json!({"resource": "snap-1"}),
        mitre_attack: vec![],
        references: vec![],
        triage: vec![],
        false_positives: vec![],
        dedup_key: dedup_key.into(),
        dedup_period_minutes: 60,
        log_object: LogObject::default(),
        record: record.into(),
        record_truncated: false,
        threshold: None,
        expired_exceptions: Vec::new(),
    }
}

#[test]
fn subject_is_ascii_and_bounded() {
    let mut a = alert("k", json!({}));
    assert_eq!(
        subject(&a),
        "[HIGH] Resource shared with an unknown external account"
    );
    a.title = format!("{}\u{e9}\n{}", "x".repeat(50), "y".repeat(80));
    let s = subject(&a);
    assert!(s.len() <= 100 && s.is_ascii() && !s.contains('\n'), "{s}");
    assert!(s.ends_with("..."));
}

#[test]
fn oversized_alerts_are_shrunk_not_dropped() {
    let huge = json!({"eventID": "e", "eventName": "PutBucketPolicy",
            "requestParameters": {"bucketPolicy": "p".repeat(400_000)}});
    let a = alert("k", huge);
    let body = body_within_limit(&a, MAX_BODY_BYTES);
    assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
    let back: Alert = serde_json::from_str(&body).unwrap();
    assert!(back.record_truncated);
    assert_eq!(back.record["eventID"], "e");
    assert_eq!(back.rule_id, a.rule_id);
    // Small alerts are untouched.
    let small = alert("k", json!({"eventID": "e"}));
    let back: Alert = serde_json::from_str(&body_within_limit(&small, MAX_BODY_BYTES)).unwrap();
    assert_eq!(back, small);
}

#[test]
fn huge_details_are_shrunk_too() {
    let mut a = alert("k", json!({"eventID": "e"}));
    a.details = json!({"external_accounts": vec!["111122223333"; 40_000]});
    let body = body_within_limit(&a, MAX_BODY_BYTES);
    assert!(body.len() <= MAX_BODY_BYTES);
    let back: Alert = serde_json::from_str(&body).unwrap();
    assert_eq!(back.details["truncated"], true);
}

/// Issue 8.4: a record with one huge field (a 300 KB user name or event id) gave a
/// 303 KB body that SNS refused on every delivery. Every field, alone and all at once, in
/// plain text and in characters JSON escapes six-fold.
#[test]
fn hostile_field_sizes_always_fit() {
    type Set = fn(&mut Alert, String);
    let fields: &[(&str, Set)] = &[
        ("event_id", |a, v| a.event_id = Some(v)),
        ("event_time", |a, v| a.event_time = Some(v)),
        ("event_name", |a, v| a.event_name = v),
        ("event_source", |a, v| a.event_source = v),
        ("account_id", |a, v| a.account_id = Some(v)),
        ("region", |a, v| a.region = Some(v)),
        ("summary", |a, v| a.summary = v),
        ("title", |a, v| a.title = v),
        ("dedup_key", |a, v| a.dedup_key = v),
        ("actor.arn", |a, v| a.actor.arn = Some(v)),
        ("actor.user_name", |a, v| a.actor.user_name = Some(v)),
        ("actor.principal_id", |a, v| a.actor.principal_id = Some(v)),
        ("actor.account_id", |a, v| a.actor.account_id = Some(v)),
        ("actor.session_issuer_arn", |a, v| {
            a.actor.session_issuer_arn = Some(v)
        }),
        ("actor.access_key_id", |a, v| {
            a.actor.access_key_id = Some(v)
        }),
        ("actor.invoked_by", |a, v| a.actor.invoked_by = Some(v)),
        ("actor.source_ip", |a, v| a.actor.source_ip = Some(v)),
        ("actor.user_agent", |a, v| a.actor.user_agent = Some(v)),
        ("actor.type", |a, v| a.actor.identity_type = Some(v)),
        ("log_object.location", |a, v| a.log_object.location = v),
        ("references", |a, v| a.references = vec![v; 3]),
    ];
    let record = json!({"eventID": "e".repeat(300_000), "eventName": "PutBucketAcl",
            "userIdentity": {"userName": "u".repeat(300_000)},
            "requestParameters": {"bucketName": "b".repeat(300_000)}});
    let check = |a: &Alert, what: &str| {
        let body = body_within_limit(a, MAX_BODY_BYTES);
        assert!(body.len() <= MAX_BODY_BYTES, "{what}: {} bytes", body.len());
        let back: Alert = serde_json::from_str(&body).expect("still an alert");
        assert_eq!(back.rule_id, a.rule_id, "{what}");
        assert!(back.record_truncated, "{what}");
        let m = prepare(a);
        assert!(
            m.size() <= SNS_MAX_BYTES,
            "{what}: message {} bytes",
            m.size()
        );
        assert!(m.group_id.len() <= 128, "{what}");
    };
    for filler in ["x", "\u{1}", "\u{e9}"] {
        let huge = filler.repeat(300_000);
        let mut everything = alert("k", record.clone());
        for (name, set) in fields {
            let mut a = alert("k", record.clone());
            set(&mut a, huge.clone());
            check(&a, name);
            set(&mut everything, huge.clone());
        }
        everything.details = json!({"x": huge});
        check(&everything, "every field at once");
    }
    // A single oversized field keeps the alert's identity readable.
    let mut a = alert("k", json!({"eventID": "e"}));
    a.actor.user_name = Some("u".repeat(300_000));
    let back: Alert = serde_json::from_str(&body_within_limit(&a, MAX_BODY_BYTES)).unwrap();
    assert_eq!(back.event_id.as_deref(), Some("e"));
    assert_eq!(back.summary, "shared");
}

#[test]
fn batches_respect_count_and_size() {
    let small = prepare(&alert("k", json!({})));
    let sizes = batches(&vec![small.clone(); 23]);
    assert_eq!(
        sizes.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 3]
    );
    let mut big = small.clone();
    big.body = "b".repeat(100_000);
    let mixed = batches(&[big.clone(), big.clone(), big.clone(), small.clone()]);
    assert_eq!(mixed, vec![vec![0, 1], vec![2, 3]]);
}

#[test]
fn attributes_and_fifo_ids() {
    let m = prepare(&alert("some|key", json!({})));
    assert_eq!(
        m.attributes,
        vec![
            (
                "rule_id",
                "resource-shared-with-external-account".to_string()
            ),
            ("severity", "high".to_string()),
            ("account_id", "111122223333".to_string()),
            ("event_name", "ModifySnapshotAttribute".to_string()),
        ]
    );
    assert_eq!(m.deduplication_id.len(), 64);
    assert_eq!(m.group_id, "111122223333");
}
