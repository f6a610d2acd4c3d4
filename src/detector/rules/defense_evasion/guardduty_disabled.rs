//! `guardduty-disabled`
//!
//! **What it detects.** GuardDuty switched off or cut off, successful or not:
//! - `DeleteDetector` (high), `UpdateDetector` with `enable: false` (high);
//! - `UpdateDetector` that disables protection plans (`features[].status: DISABLED`, or a
//!   `dataSources` entry with `enable: false`) (medium);
//! - a member account leaving its administrator (`DisassociateFromAdministratorAccount`,
//!   `DisassociateFromMasterAccount`) (medium): findings stop reaching the security team.
//!
//! **Why it matters.** GuardDuty is what notices credential abuse, crypto-mining and
//! reconnaissance; turning it off is how an intruder works unseen.
//!
//! **Published rule.** Sigma "AWS GuardDuty Detector Deleted Or Updated"
//! (d2656e78-c069-4571-8220-9e0ab5913f19); Elastic "AWS GuardDuty Detector Deletion"
//! (523116c0-d89d-4d7c-82c2-39e6845a78ef); Panther "Account Security Configuration Changed"
//! (AWS.CloudTrail.SecurityConfigurationChange) for `DeleteDetector` and `UpdateDetector`
//! with `enable` false.
//!
//! **How we differ.** Sigma fires on every `UpdateDetector` (a publishing-frequency change too);
//! we read what the update does. Disabled protection plans and a member leaving its
//! administrator (Elastic's "GuardDuty Member Manipulation" idea) are covered. Failed attempts
//! are reported one severity lower.
//!
//! **Blind spots.** Suppression by filters and trusted IP lists is `guardduty-findings-suppressed`.
//! An administrator disassociating or deleting members is logged in the administrator account
//! and is not covered.

use crate::detector::record::{Record, lenient_bool, lenient_str};
use crate::detector::rule::{
    EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::defense_evasion::{DISABLE_TOOLS, impairment};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: GuardDutyDisabled = GuardDutyDisabled;

/// See the module documentation.
pub struct GuardDutyDisabled;

const GUARDDUTY: &str = "guardduty.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "guardduty-disabled",
    title: "GuardDuty detector deleted, disabled or cut off",
    description: "A GuardDuty detector was deleted or disabled, some of its protection plans \
        switched off, or the account left its GuardDuty administrator, or someone tried to. \
        Adversaries switch threat detection off before they act.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[DISABLE_TOOLS],
    references: &[
        "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DeleteDetector.html",
        "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_UpdateDetector.html",
        "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DisassociateFromAdministratorAccount.html",
        "https://github.com/SigmaHQ/sigma/blob/master/rules/cloud/aws/cloudtrail/aws_cloudtrail_guardduty_detector_deleted_or_updated.yml",
    ],
    false_positives: &[
        "GuardDuty turned off in unused regions by policy, or protection plans trimmed for cost \
         (medium severity).",
        "An account moved to a new GuardDuty administrator (an accept-invitation follows).",
    ],
    triage: &[
        "Read event_name and details.changes: deleted, disabled, plans off, or disassociated?",
        "Identify the actor (actor.arn, actor.session_issuer_arn, actor.source_ip) and whether it manages GuardDuty.",
        "If unapproved: re-enable the detector or plans (UpdateDetector enable true), re-link the member from the administrator, and review the actor's activity since in CloudTrail.",
        "If it failed (details.failed): the actor is probing; look for other defense-evasion attempts from the same access key.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Sigma",
        name: "AWS GuardDuty Detector Deleted Or Updated",
        id: "d2656e78-c069-4571-8220-9e0ab5913f19",
    },
    notes: &[
        "UpdateDetector is reported only when it disables the detector or a protection plan \
         (Sigma reports every update).",
        "A member disassociating from its administrator is reported at medium severity.",
        "Failed attempts are reported one severity lower, with the error in the summary.",
    ],
    events: &[
        EventSelector::exact(GUARDDUTY, "DeleteDetector"),
        EventSelector::exact(GUARDDUTY, "UpdateDetector"),
        EventSelector::exact(GUARDDUTY, "DisassociateFromAdministratorAccount"),
        EventSelector::exact(GUARDDUTY, "DisassociateFromMasterAccount"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetectorParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    detector_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    enable: Option<bool>,
    #[serde(default)]
    features: Option<Vec<Feature>>,
    #[serde(default)]
    data_sources: Option<Value>,
}

#[derive(Deserialize)]
struct Feature {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// Paths of `dataSources` entries set to `enable: false` (e.g. `s3Logs`, `kubernetes.auditLogs`).
fn disabled_data_sources(value: &Value, path: &str, out: &mut Vec<String>) {
    let Value::Object(map) = value else { return };
    if map
        .get("enable")
        .is_some_and(|v| v == false || v == "false")
    {
        out.push(path.to_owned());
    }
    for (key, child) in map {
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        disabled_data_sources(child, &child_path, out);
    }
}

impl Rule for GuardDutyDisabled {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: Option<DetectorParams> = record.request_parameters()?;
        let detector = params
            .as_ref()
            .and_then(|p| p.detector_id.as_deref())
            .unwrap_or("")
            .to_owned();
        let (changes, severity): (Vec<String>, Severity) = match record.name() {
            "DeleteDetector" => (vec!["detector deleted".into()], Severity::High),
            "UpdateDetector" => {
                let params = params.ok_or(crate::detector::rule::Unevaluable::Missing(
                    "requestParameters",
                ))?;
                if params.enable == Some(false) {
                    (vec!["detector disabled".into()], Severity::High)
                } else {
                    let mut off: Vec<String> = params
                        .features
                        .iter()
                        .flatten()
                        .filter(|f| {
                            f.status
                                .as_deref()
                                .is_some_and(|s| s.eq_ignore_ascii_case("DISABLED"))
                        })
                        .map(|f| f.name.clone().unwrap_or_default())
                        .collect();
                    if let Some(sources) = &params.data_sources {
                        disabled_data_sources(sources, "", &mut off);
                    }
                    if off.is_empty() {
                        return Ok(None);
                    }
                    let changes = off
                        .iter()
                        .map(|name| format!("{} disabled", clean(name, 64)))
                        .collect();
                    (changes, Severity::Medium)
                }
            }
            _ => (
                vec!["member left its GuardDuty administrator".into()],
                Severity::Medium,
            ),
        };
        Ok(Some(impairment(
            record,
            format!(
                "{} changed GuardDuty detector {}: {}",
                actor_name(record),
                clean(&detector, 64),
                changes.join(", ")
            ),
            json!({ "detector_id": detector, "action": record.name(), "changes": changes }),
            vec![detector.clone(), changes.join(";")],
            Some(severity),
            if severity == Severity::High {
                Severity::Medium
            } else {
                Severity::Low
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::defense_evasion::test_records::{call, denied};
    use crate::detector::rules::testing::{assert_fires, assert_silent};

    // Request shapes from the GuardDuty API reference (camelCase as CloudTrail logs them) and
    // Panther's AWS.CloudTrail.SecurityConfigurationChange tests (UpdateDetector enable false).
    fn update(params: Value) -> Value {
        call(GUARDDUTY, "UpdateDetector", params, Value::Null)
    }

    #[test]
    fn deletion_and_disabling_are_high() {
        let delete = call(
            GUARDDUTY,
            "DeleteDetector",
            json!({"detectorId": "12abc34d567e8fa901bc2d34e56789f0"}),
            Value::Null,
        );
        let f = assert_fires(&RULE, &delete.to_string());
        assert_eq!(f.severity, Some(Severity::High));
        let off = update(json!({"detectorId": "d1", "enable": false}));
        let f = assert_fires(&RULE, &off.to_string());
        assert_eq!(f.details["changes"], json!(["detector disabled"]));
        assert_eq!(
            assert_fires(&RULE, &denied(off)).severity,
            Some(Severity::Medium)
        );
    }

    #[test]
    fn disabled_protection_plans_are_medium() {
        let plans = update(json!({"detectorId": "d1", "features": [
            {"name": "S3_DATA_EVENTS", "status": "DISABLED"},
            {"name": "EKS_AUDIT_LOGS", "status": "ENABLED"}]}));
        let f = assert_fires(&RULE, &plans.to_string());
        assert_eq!(f.severity, Some(Severity::Medium));
        assert_eq!(f.details["changes"], json!(["S3_DATA_EVENTS disabled"]));
        let legacy = update(
            json!({"detectorId": "d1", "dataSources": {"s3Logs": {"enable": false},
            "kubernetes": {"auditLogs": {"enable": true}}}}),
        );
        let f = assert_fires(&RULE, &legacy.to_string());
        assert_eq!(f.details["changes"], json!(["s3Logs disabled"]));
        let leave = call(
            GUARDDUTY,
            "DisassociateFromAdministratorAccount",
            json!({"detectorId": "d1"}),
            Value::Null,
        );
        assert_eq!(
            assert_fires(&RULE, &leave.to_string()).severity,
            Some(Severity::Medium)
        );
    }

    #[test]
    fn harmless_updates_are_silent() {
        for params in [
            json!({"detectorId": "d1", "enable": true}),
            json!({"detectorId": "d1", "findingPublishingFrequency": "FIFTEEN_MINUTES"}),
            json!({"detectorId": "d1", "features": [{"name": "S3_DATA_EVENTS", "status": "ENABLED"}]}),
        ] {
            assert_silent(&RULE, &update(params).to_string());
        }
    }
}
