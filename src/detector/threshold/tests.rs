//! Tests for `threshold`.

use super::*;
use crate::detector::alert::LogObject;
use crate::detector::record::Record;
use crate::detector::rule::{Finding, RuleMeta};

#[test]
fn event_times_parse_in_every_shape_cloudtrail_and_peers_use() {
    assert_eq!(parse_event_time("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_event_time("2024-07-31T12:36:52Z"),
        Some(1_722_429_412)
    );
    // panther-analysis test events write a space and nanoseconds.
    assert_eq!(
        parse_event_time("2024-12-11 21:45:56.000000000"),
        parse_event_time("2024-12-11T21:45:56Z")
    );
    assert_eq!(
        parse_event_time("2024-07-31T14:36:52+02:00"),
        Some(1_722_429_412)
    );
    assert_eq!(
        parse_event_time("2024-02-29T00:00:00Z"),
        Some(1_709_164_800)
    );
    for bad in [
        "",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "2024-07-31T12:36",
        "2024-07-31T12:36:52Q",
    ] {
        assert_eq!(parse_event_time(bad), None, "{bad}");
    }
}

#[test]
fn epochs_format_back_to_the_same_time() {
    for t in [
        "1970-01-01T00:00:00Z",
        "2024-02-29T23:59:59Z",
        "2031-12-31T08:05:00Z",
    ] {
        assert_eq!(format_epoch(parse_event_time(t).unwrap()), t);
    }
}

static META: RuleMeta = RuleMeta {
    id: "test-threshold",
    title: "t",
    description: "d",
    severity: crate::detector::Severity::Medium,
    risk_score: 1,
    mitre_attack: &[],
    references: &[],
    false_positives: &[],
    triage: &[],
    dedup_period_minutes: 10,
    implements: crate::detector::rule::SourceRule {
        vendor: "",
        name: "",
        id: "",
    },
    notes: &[],
    events: &[],
    failed_calls: crate::detector::rule::FailedCalls::Ignore,
};

fn pending(at: &str, members: &[&str]) -> Alert {
    let record = Record::from_slice(br#"{"recipientAccountId":"111122223333"}"#).unwrap();
    let finding = Finding::new("p read secrets".into(), serde_json::json!({}), vec![]).counted(
        ThresholdRequest {
            subject: "p".into(),
            counter: "",
            members: members.iter().map(|m| m.to_string()).collect(),
            counts: "secrets",
            threshold: 3,
            window_minutes: 10,
            event_epoch: parse_event_time(at).unwrap(),
        },
    );
    Alert::new(&META, finding, &record, LogObject::default())
}

fn run(alerts: Vec<Alert>) -> Vec<Alert> {
    let mut store = MemoryWindowStore::new();
    let mut gate = ThresholdGate::new();
    alerts
        .into_iter()
        .filter_map(|a| gate.admit(a, &mut store).unwrap())
        .collect()
}

#[test]
fn one_alert_when_the_distinct_count_reaches_the_threshold() {
    let released = run(vec![
        pending("2024-07-31T12:01:00Z", &["a"]),
        pending("2024-07-31T12:02:00Z", &["a"]),
        pending("2024-07-31T12:03:00Z", &["b"]),
        pending("2024-07-31T12:04:00Z", &["c"]),
        pending("2024-07-31T12:05:00Z", &["d"]),
    ]);
    assert_eq!(released.len(), 1);
    let alert = &released[0];
    assert!(!alert.is_pending());
    assert_eq!(alert.threshold.as_ref().unwrap().distinct, Some(3));
    assert_eq!(alert.event_time, None);
    assert!(
            alert.summary.contains("3 distinct secrets within 10 minutes (2024-07-31T12:00:00Z to 2024-07-31T12:10:00Z), threshold 3"),
            "{}",
            alert.summary
        );
    assert_eq!(alert.dedup_key, "test-threshold|p|1722427200");
}

#[test]
fn repeats_of_one_member_and_threshold_minus_one_stay_silent() {
    assert!(
        run(vec![
            pending("2024-07-31T12:01:00Z", &["a", "a"]),
            pending("2024-07-31T12:02:00Z", &["a"]),
            pending("2024-07-31T12:03:00Z", &["b"]),
            pending("2024-07-31T12:04:00Z", &["b", "a"]),
        ])
        .is_empty()
    );
}

#[test]
fn members_more_than_a_window_apart_never_add_up() {
    assert!(
        run(vec![
            pending("2024-07-31T12:01:00Z", &["a"]),
            pending("2024-07-31T12:04:00Z", &["b"]),
            pending("2024-07-31T12:16:00Z", &["c"]),
            pending("2024-07-31T12:19:00Z", &["d"]),
        ])
        .is_empty()
    );
}

#[test]
fn a_burst_across_an_aligned_boundary_is_caught_by_the_half_shifted_window() {
    let released = run(vec![
        pending("2024-07-31T12:09:58Z", &["a"]),
        pending("2024-07-31T12:09:59Z", &["b"]),
        pending("2024-07-31T12:10:00Z", &["c"]),
    ]);
    assert_eq!(released.len(), 1);
    let state = released[0].threshold.as_ref().unwrap();
    assert_eq!(format_epoch(state.window_start), "2024-07-31T12:05:00Z");
    assert!(
        released[0]
            .summary
            .contains("(2024-07-31T12:05:00Z to 2024-07-31T12:15:00Z)")
    );
    // Deduplicated by the releasing record's aligned window.
    assert_eq!(released[0].dedup_key, "test-threshold|p|1722427800");
}

#[test]
fn out_of_order_records_count_the_same_and_each_aligned_window_releases_once() {
    let released = run(vec![
        pending("2024-07-31T12:25:00Z", &["c"]),
        pending("2024-07-31T12:21:00Z", &["a", "b"]),
        pending("2024-07-31T12:31:00Z", &["a", "b", "c"]),
        pending("2024-07-31T12:32:00Z", &["d"]),
    ]);
    let starts: Vec<String> = released
        .iter()
        .map(|a| format_epoch(a.threshold.as_ref().unwrap().window_start))
        .collect();
    assert_eq!(starts, ["2024-07-31T12:20:00Z", "2024-07-31T12:30:00Z"]);
}

#[test]
fn a_retry_that_adds_nothing_new_is_released_by_a_fresh_gate() {
    // The Lambda's case: the crossing invocation failed to publish; its retry re-adds the
    // same members to the persistent store and must still release (dedup makes it once).
    let mut store = MemoryWindowStore::new();
    let batch = || {
        vec![
            pending("2024-07-31T12:01:00Z", &["a", "b"]),
            pending("2024-07-31T12:02:00Z", &["c"]),
        ]
    };
    for _attempt in 0..2 {
        let mut gate = ThresholdGate::new();
        let released: Vec<Alert> = batch()
            .into_iter()
            .filter_map(|a| gate.admit(a, &mut store).unwrap())
            .collect();
        assert_eq!(released.len(), 1);
    }
}

#[test]
fn other_alerts_pass_untouched_and_buckets_are_bounded() {
    let record = Record::from_slice(b"{}").unwrap();
    let plain = Alert::new(
        &META,
        Finding::new("x".into(), serde_json::json!({}), vec![]),
        &record,
        LogObject::default(),
    );
    assert_eq!(run(vec![plain.clone()]), vec![plain]);

    let mut store = MemoryWindowStore::new();
    let key = WindowKey {
        bucket: "b".into(),
        start: 0,
        expires_at: 0,
    };
    let many: Vec<String> = (0..MAX_MEMBERS + 50).map(|i| i.to_string()).collect();
    let count = store.add(&key, &many).unwrap();
    assert_eq!((count.before, count.after), (0, MAX_MEMBERS as u64));
}
