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
    /// Neither the event time nor a fallback time to date the event.
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
mod tests;
