//! Tests for `ocsf`.

use super::*;
use crate::formats::testing::{ami_share_alert, hostile_alert};

/// Required attributes of OCSF 1.1.0 Detection Finding (class 2004) with the `cloud`
/// profile, as paths (`a.b` inside an object, `a[].b` in every element of an array),
/// read from ocsf/ocsf-schema at tag v1.1.0 (see the module doc for the files):
/// - class and its parents: `activity_id`, `category_uid`, `class_uid`, `type_uid`
///   (includes/classification.json), `time` (includes/occurrence.json), `severity_id`,
///   `metadata` (events/base_event.json), `finding_info` (events/findings/finding.json),
///   `cloud` (profiles/cloud.json);
/// - objects used: metadata `product`, `version`; product `vendor_name`; finding_info
///   `title`, `uid`; cloud `provider`; analytic `type_id`; api `operation`.
const REQUIRED: &[&str] = &[
    "activity_id",
    "category_uid",
    "class_uid",
    "type_uid",
    "time",
    "severity_id",
    "metadata",
    "metadata.version",
    "metadata.product",
    "metadata.product.vendor_name",
    "finding_info",
    "finding_info.uid",
    "finding_info.title",
    "finding_info.analytic.type_id",
    "cloud",
    "cloud.provider",
    "evidences[].api.operation",
];

/// `at_least_one` constraints of objects we emit (v1.1.0): `_entity` (`name` or `uid`) for
/// resources, tactics, techniques, analytics and products; `attack` (`tactic`, `technique`
/// or `sub_technique`); `user` (`account`, `name` or `uid`).
const AT_LEAST_ONE: &[(&str, &[&str])] = &[
    ("resources[]", &["name", "uid"]),
    (
        "finding_info.attacks[]",
        &["tactic", "technique", "sub_technique"],
    ),
    ("finding_info.attacks[].tactic", &["name", "uid"]),
    ("finding_info.analytic", &["name", "uid"]),
    ("metadata.product", &["name", "uid"]),
    ("evidences[].actor.user", &["account", "name", "uid"]),
];

/// Every value at `path` (arrays fan out at `[]`).
fn values_at<'a>(root: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in path.split('.') {
        let (key, fan_out) = match step.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (step, false),
        };
        let mut next = Vec::new();
        for v in current {
            match v.get(key) {
                Some(Value::Array(items)) if fan_out => next.extend(items.iter()),
                Some(found) if !fan_out => next.push(found),
                _ => next.push(&Value::Null),
            }
        }
        current = next;
    }
    current
}

fn check_schema(event: &Value) {
    for path in REQUIRED {
        let found = values_at(event, path);
        assert!(
            !found.is_empty() && found.iter().all(|v| !v.is_null()),
            "{path} missing in {event}"
        );
    }
    for (path, keys) in AT_LEAST_ONE {
        for v in values_at(event, path).into_iter().filter(|v| !v.is_null()) {
            assert!(
                keys.iter().any(|k| !v[*k].is_null()),
                "{path} needs one of {keys:?}: {v}"
            );
        }
    }
    assert_eq!(event["class_uid"], 2004);
    assert_eq!(event["category_uid"], 2);
    assert_eq!(
        event["type_uid"].as_u64().unwrap(),
        event["class_uid"].as_u64().unwrap() * 100 + event["activity_id"].as_u64().unwrap()
    );
    assert!((1..=5).contains(&event["severity_id"].as_u64().unwrap()));
    assert!(event["time"].is_i64());
    assert_eq!(event["metadata"]["version"], OCSF_VERSION);
}

#[test]
fn ami_share_event_is_pinned() {
    let got = serde_json::to_string_pretty(&detection_finding(&ami_share_alert(), None).unwrap())
        .unwrap();
    let expected = include_str!("../../../tests/fixtures/formats/ami-share.ocsf.json");
    assert_eq!(got, expected.trim_end(), "\n--- got ---\n{got}");
}

#[test]
fn events_carry_every_required_field() {
    let mut bare = ami_share_alert();
    bare.details = serde_json::json!({});
    bare.actor = Default::default();
    bare.mitre_attack.clear();
    bare.region = None;
    bare.account_id = None;
    for alert in [ami_share_alert(), hostile_alert(), bare] {
        check_schema(&detection_finding(&alert, None).unwrap());
    }
}

#[test]
fn the_schema_check_catches_a_missing_field() {
    let mut event = detection_finding(&ami_share_alert(), None).unwrap();
    event["finding_info"].as_object_mut().unwrap().remove("uid");
    assert!(std::panic::catch_unwind(|| check_schema(&event)).is_err());
}

#[test]
fn time_comes_from_the_event_or_the_fallback() {
    let mut alert = ami_share_alert();
    assert_eq!(
        detection_finding(&alert, Some(5)).unwrap()["time"],
        1_722_515_157_000_i64
    );
    alert.event_time = None;
    assert_eq!(detection_finding(&alert, Some(5)).unwrap()["time"], 5);
    assert_eq!(detection_finding(&alert, None), Err(OcsfError::NoTime));
}

#[test]
fn sub_techniques_are_split() {
    let event = detection_finding(&ami_share_alert(), None).unwrap();
    let first = &event["finding_info"]["attacks"][0];
    assert_eq!(first["technique"]["uid"], "T1098");
    assert_eq!(first["technique"]["name"], "Account Manipulation");
    assert_eq!(first["sub_technique"]["uid"], "T1098.001");
    assert_eq!(
        first["sub_technique"]["name"],
        "Additional Cloud Credentials"
    );
}
