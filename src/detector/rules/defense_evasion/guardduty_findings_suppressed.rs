//! `guardduty-findings-suppressed`
//!
//! **What it detects.** GuardDuty findings hidden rather than GuardDuty switched off, successful
//! or not:
//! - `CreateFilter` or `UpdateFilter` with `action: ARCHIVE` (a suppression rule: matching
//!   findings are archived as they arrive and never alert);
//! - `CreateIPSet` or `UpdateIPSet` with `activate: true` (a trusted IP list: GuardDuty raises
//!   no finding for traffic from those addresses).
//!
//! **Why it matters.** A suppression rule or a trusted IP list keeps GuardDuty looking healthy
//! while it stays silent about the attacker's own addresses or finding types.
//!
//! **Published rule.** Elastic "AWS GuardDuty Detection Suppression"
//! (e515aeb2-3d47-4925-b6fc-3f92b0d40d5b).
//!
//! **How we differ.** Elastic counts activating a threat-intel set as suppression; a threat
//! list produces findings, so we leave it out, and we add archive filters, which Elastic misses.
//! Failed attempts are reported one severity lower.
//!
//! **Blind spots.** An `UpdateFilter` that widens the criteria of an existing archive filter
//! without restating `action` is not seen. The filter's criteria are in the details, not judged.

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
pub static RULE: GuardDutyFindingsSuppressed = GuardDutyFindingsSuppressed;

/// See the module documentation.
pub struct GuardDutyFindingsSuppressed;

const GUARDDUTY: &str = "guardduty.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "guardduty-findings-suppressed",
    title: "GuardDuty findings suppressed (archive filter or trusted IP list)",
    description: "A GuardDuty filter that archives findings automatically, or a trusted IP \
        list, was created or updated, or someone tried to. Adversaries suppress the findings \
        their own activity would raise.",
    severity: Severity::Medium,
    risk_score: 55,
    mitre_attack: &[DISABLE_TOOLS],
    references: &[
        "https://docs.aws.amazon.com/guardduty/latest/ug/findings_suppression-rule.html",
        "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateFilter.html",
        "https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateIPSet.html",
        "https://www.elastic.co/guide/en/security/current/aws-guardduty-detection-suppression.html",
    ],
    false_positives: &[
        "Suppression rules for known-benign findings (vulnerability scanners, expected port \
         probes) written by the security team; details.criteria shows what is hidden.",
    ],
    triage: &[
        "Read details.filter_name, details.criteria or details.ip_set_location: what is hidden from now on?",
        "Identify the actor (actor.arn, actor.source_ip) and whether it belongs to the security team.",
        "If unapproved: delete the filter or deactivate the IP set, and list archived findings since (they are kept, only hidden).",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS GuardDuty Detection Suppression",
        id: "e515aeb2-3d47-4925-b6fc-3f92b0d40d5b",
    },
    notes: &[
        "Archive filters are covered (Elastic misses them); threat-intel sets are not suppression \
         and are left out.",
        "Failed attempts are reported one severity lower (low), with the error in the summary.",
    ],
    events: &[
        EventSelector::exact(GUARDDUTY, "CreateFilter"),
        EventSelector::exact(GUARDDUTY, "UpdateFilter"),
        EventSelector::exact(GUARDDUTY, "CreateIPSet"),
        EventSelector::exact(GUARDDUTY, "UpdateIPSet"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuppressionParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    detector_id: Option<Cow<'a, str>>,
    /// `name` on create, `filterName` on update.
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    filter_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    ip_set_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    action: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    activate: Option<bool>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    location: Option<Cow<'a, str>>,
    #[serde(default)]
    finding_criteria: Option<Value>,
}

impl Rule for GuardDutyFindingsSuppressed {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: SuppressionParams = record.require_request_parameters()?;
        let detector = params.detector_id.as_deref().unwrap_or("");
        let is_filter = record.name().ends_with("Filter");
        let (summary, target, details) = if is_filter {
            let archives = params
                .action
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case("ARCHIVE"));
            if !archives {
                return Ok(None);
            }
            let name = params
                .name
                .as_deref()
                .or(params.filter_name.as_deref())
                .unwrap_or("");
            (
                format!(
                    "{} set GuardDuty filter {} to archive matching findings automatically",
                    actor_name(record),
                    clean(name, 64)
                ),
                name.to_owned(),
                json!({ "detector_id": detector, "filter_name": name,
                        "criteria": params.finding_criteria, "action": record.name() }),
            )
        } else {
            if params.activate != Some(true) {
                return Ok(None);
            }
            let name = params
                .name
                .as_deref()
                .or(params.ip_set_id.as_deref())
                .unwrap_or("");
            (
                format!(
                    "{} activated GuardDuty trusted IP list {} (no findings for its addresses)",
                    actor_name(record),
                    clean(name, 64)
                ),
                name.to_owned(),
                json!({ "detector_id": detector, "ip_set": name,
                        "ip_set_location": params.location, "action": record.name() }),
            )
        };
        Ok(Some(impairment(
            record,
            summary,
            details,
            vec![detector.to_owned(), target],
            None,
            Severity::Low,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::defense_evasion::test_records::{call, denied};
    use crate::detector::rules::testing::{assert_fires, assert_silent};

    // Request shapes from the GuardDuty API reference (CreateFilter, UpdateFilter, CreateIPSet).
    #[test]
    fn archive_filters_fire() {
        let create = call(
            GUARDDUTY,
            "CreateFilter",
            json!({"detectorId": "d1", "name": "hide-recon",
            "action": "ARCHIVE", "rank": 1, "findingCriteria": {"criterion": {"type":
            {"eq": ["Recon:EC2/PortProbeUnprotectedPort"]}}}}),
            Value::Null,
        );
        let f = assert_fires(&RULE, &create.to_string());
        assert_eq!(f.details["filter_name"], "hide-recon");
        assert!(f.details["criteria"]["criterion"]["type"].is_object());
        let update = call(
            GUARDDUTY,
            "UpdateFilter",
            json!({"detectorId": "d1",
            "filterName": "hide-recon", "action": "ARCHIVE"}),
            Value::Null,
        );
        assert_fires(&RULE, &update.to_string());
        assert_eq!(
            assert_fires(&RULE, &denied(update)).severity,
            Some(Severity::Low)
        );
    }

    #[test]
    fn trusted_ip_lists_fire_when_active() {
        let ipset = call(
            GUARDDUTY,
            "CreateIPSet",
            json!({"detectorId": "d1", "name": "trusted",
            "format": "TXT", "location": "https://s3.amazonaws.com/b/ips.txt", "activate": true}),
            Value::Null,
        );
        let f = assert_fires(&RULE, &ipset.to_string());
        assert_eq!(
            f.details["ip_set_location"],
            "https://s3.amazonaws.com/b/ips.txt"
        );
        let inactive = call(
            GUARDDUTY,
            "UpdateIPSet",
            json!({"detectorId": "d1", "ipSetId": "i1",
            "activate": false}),
            Value::Null,
        );
        assert_silent(&RULE, &inactive.to_string());
    }

    #[test]
    fn notify_filters_are_silent() {
        let noop = call(
            GUARDDUTY,
            "CreateFilter",
            json!({"detectorId": "d1", "name": "watch",
            "action": "NOOP", "findingCriteria": {}}),
            Value::Null,
        );
        assert_silent(&RULE, &noop.to_string());
    }
}
