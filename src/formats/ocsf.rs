//! OCSF Detection Finding (class 2004) events, schema version 1.1.0, with the `cloud`
//! profile.
//!
//! Source: the ocsf/ocsf-schema repository at tag `v1.1.0`: `events/findings/detection_finding.json`
//! extends `events/findings/finding.json` (`finding_info` required; `activity_id` 1 Create,
//! 2 Update, 3 Close; `status_id` 1 New) which extends `events/base_event.json`
//! (`metadata`, `severity_id` required; `includes/classification.json` makes
//! `activity_id`, `category_uid`, `class_uid`, `type_uid` required and
//! `includes/occurrence.json` makes `time` required; `profiles/cloud.json` makes `cloud`
//! required). Objects: `metadata` needs `product` and `version`, `product` needs
//! `vendor_name`, `finding_info` needs `title` and `uid`, `cloud` needs `provider`,
//! `analytic` needs `type_id`, `api` needs `operation`.

use super::{AlertResource, partition_of, safe_region, stable_id, timestamp};
use crate::detector::Alert;
use crate::detector::text::clean;
use serde_json::{Map, Value, json};

/// The OCSF schema version these events follow.
pub const OCSF_VERSION: &str = "1.1.0";
/// Detection Finding.
pub const CLASS_UID: u32 = 2004;
/// Findings.
pub const CATEGORY_UID: u32 = 2;
/// `activity_id` Create: a new finding.
const ACTIVITY_CREATE: u32 = 1;

/// Why an event could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcsfError {
    #[error("the alert has no well-formed eventTime and no fallback time was given")]
    NoTime,
}

/// `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical.
fn severity(alert: &Alert) -> (u8, &'static str) {
    use crate::detector::Severity::*;
    match alert.severity {
        Info => (1, "Informational"),
        Low => (2, "Low"),
        Medium => (3, "Medium"),
        High => (4, "High"),
        Critical => (5, "Critical"),
    }
}

/// `attacks`: tactic, technique and, for `T1234.001`, the sub-technique (named after the
/// `Technique: Sub-technique` title ATT&CK uses).
fn attacks(alert: &Alert) -> Vec<Value> {
    alert
        .mitre_attack
        .iter()
        .map(|a| {
            let tactic =
                json!({"uid": clean(&a.tactic_id, 20), "name": clean(&a.tactic_name, 100)});
            match a.technique_id.split_once('.') {
                Some((parent, _)) => {
                    let (name, sub_name) = a
                        .technique_name
                        .split_once(": ")
                        .unwrap_or((&a.technique_name, &a.technique_name));
                    json!({
                        "tactic": tactic,
                        "technique": {"uid": clean(parent, 20), "name": clean(name, 100)},
                        "sub_technique": {
                            "uid": clean(&a.technique_id, 20),
                            "name": clean(sub_name, 100),
                            "src_url": clean(&a.technique_reference, 200),
                        },
                    })
                }
                None => json!({
                    "tactic": tactic,
                    "technique": {
                        "uid": clean(&a.technique_id, 20),
                        "name": clean(&a.technique_name, 100),
                        "src_url": clean(&a.technique_reference, 200),
                    },
                }),
            }
        })
        .collect()
}

/// `user.type_id`: 1 User, 2 Admin, 3 System, 99 Other (with `type` naming the CloudTrail
/// identity type).
fn user_type(identity_type: Option<&str>) -> u8 {
    match identity_type {
        Some("IAMUser") => 1,
        Some("Root") => 2,
        Some("AWSService") => 3,
        _ => 99,
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<&str>, max: usize) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        map.insert(key.into(), json!(clean(v, max)));
    }
}

fn evidence(alert: &Alert) -> Value {
    let actor = &alert.actor;
    let mut user = Map::new();
    put(
        &mut user,
        "uid",
        actor.arn.as_deref().or(actor.principal_id.as_deref()),
        400,
    );
    put(&mut user, "name", actor.user_name.as_deref(), 200);
    put(&mut user, "type", actor.identity_type.as_deref(), 40);
    user.insert(
        "type_id".into(),
        json!(user_type(actor.identity_type.as_deref())),
    );
    put(
        &mut user,
        "credential_uid",
        actor.access_key_id.as_deref(),
        40,
    );
    if let Some(account) = actor.account_id.as_deref().filter(|a| !a.is_empty()) {
        user.insert(
            "account".into(),
            json!({"uid": clean(account, 40), "type_id": 10, "type": "AWS Account"}),
        );
    }
    let mut evidence = Map::new();
    let mut api = json!({
        "operation": clean(&alert.event_name, 128),
        "service": {"name": clean(&alert.event_source, 128)},
    });
    if let Some(code) = &alert.error_code {
        api["response"] = json!({"error": clean(code, 200)});
    }
    evidence.insert("api".into(), api);
    // A user needs an account, a name or a uid (OCSF `at_least_one`); without any, no actor.
    if ["uid", "name", "account"]
        .iter()
        .any(|k| user.contains_key(*k))
    {
        evidence.insert("actor".into(), json!({"user": user}));
    }
    let mut endpoint = Map::new();
    put(&mut endpoint, "ip", actor.source_ip.as_deref(), 100);
    put(&mut endpoint, "svc_name", actor.invoked_by.as_deref(), 100);
    if !endpoint.is_empty() {
        evidence.insert("src_endpoint".into(), Value::Object(endpoint));
    }
    Value::Object(evidence)
}

fn resources(alert: &Alert) -> Vec<Value> {
    let region = safe_region(alert);
    let Some(resource) = AlertResource::of(alert) else {
        return Vec::new();
    };
    let mut r = Map::new();
    r.insert(
        "uid".into(),
        json!(clean(
            &resource.arn(alert).unwrap_or_else(|| resource.display_id()),
            1024
        )),
    );
    r.insert("name".into(), json!(clean(&resource.display_id(), 1024)));
    r.insert("type".into(), json!(resource.label()));
    r.insert(
        "cloud_partition".into(),
        json!(partition_of(region.unwrap_or(""))),
    );
    if let Some(region) = region {
        r.insert("region".into(), json!(region));
    }
    let owner = super::detail_str(alert, "owner_account")
        .or_else(|| super::detail_str(alert, "bucket_owner"));
    if let Some(owner) = owner {
        r.insert(
            "owner".into(),
            json!({"account": {"uid": clean(owner, 40), "type_id": 10, "type": "AWS Account"}}),
        );
    }
    vec![Value::Object(r)]
}

/// The OCSF Detection Finding for `alert`. `time` is the event's time; `fallback_time_ms`
/// (epoch milliseconds, from the adapter's clock) stands in when the alert has none.
pub fn detection_finding(alert: &Alert, fallback_time_ms: Option<i64>) -> Result<Value, OcsfError> {
    let time = alert
        .event_time
        .as_deref()
        .and_then(timestamp::epoch_millis)
        .or(fallback_time_ms)
        .ok_or(OcsfError::NoTime)?;
    let (severity_id, severity_name) = severity(alert);
    let mut cloud = json!({"provider": "AWS"});
    if let Some(region) = safe_region(alert) {
        cloud["region"] = json!(region);
    }
    if let Some(account) = alert.account_id.as_deref().filter(|a| !a.is_empty()) {
        cloud["account"] = json!({"uid": clean(account, 40), "type_id": 10, "type": "AWS Account"});
    }
    let mut finding_info = json!({
        "uid": format!("trailwatch/{}/{}", clean(&alert.rule_id, 100), stable_id(alert)),
        "title": clean(&alert.title, 200),
        "desc": clean(&alert.summary, 600),
        "types": [clean(&alert.rule_id, 100)],
        "analytic": {"uid": clean(&alert.rule_id, 100), "name": clean(&alert.title, 200), "type_id": 1, "type": "Rule"},
        "attacks": attacks(alert),
        "first_seen_time": time,
        "last_seen_time": time,
        "data_sources": ["AWS CloudTrail"],
    });
    if let Some(url) = super::links::cloudtrail_event(alert) {
        finding_info["src_url"] = json!(url);
    }
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "trailwatch",
            "vendor_name": "trailwatch",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "profiles": ["cloud"],
        "log_name": "CloudTrail",
        "log_provider": "AWS CloudTrail",
        "correlation_uid": clean(&alert.dedup_key, 600),
    });
    if let Some(id) = alert.event_id.as_deref().filter(|s| !s.is_empty()) {
        metadata["uid"] = json!(clean(id, 128));
    }
    if let Some(t) = alert.event_time.as_deref().filter(|s| !s.is_empty()) {
        metadata["original_time"] = json!(clean(t, 40));
    }
    let mut event = json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": 1,
        "status": "New",
        "time": time,
        "message": clean(&alert.summary, 600),
        "metadata": metadata,
        "finding_info": finding_info,
        "cloud": cloud,
        "evidences": [evidence(alert)],
        "risk_score": alert.risk_score,
        "unmapped": {
            "details": bounded_details(alert),
            "log_object": {
                "location": clean(&alert.log_object.location, 1024),
                "record_index": alert.log_object.record_index,
            },
        },
    });
    let resources = resources(alert);
    if !resources.is_empty() {
        event["resources"] = json!(resources);
    }
    Ok(event)
}

/// The alert's `details`, as-is when small, else cut to a bounded string.
fn bounded_details(alert: &Alert) -> Value {
    let text = alert.details.to_string();
    if text.len() <= 16 * 1024 {
        alert.details.clone()
    } else {
        json!({"truncated": true, "text": clean(&text, 4096)})
    }
}

#[cfg(test)]
mod tests {
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
        let got =
            serde_json::to_string_pretty(&detection_finding(&ami_share_alert(), None).unwrap())
                .unwrap();
        let expected = include_str!("../../tests/fixtures/formats/ami-share.ocsf.json");
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
}
