//! `cloudtrail-logging-stopped`
//!
//! **What it detects.** `StopLogging` (the trail stops delivering events) and `DeleteTrail`
//! (the trail is gone), successful or not.
//!
//! **Why it matters.** Switching the trail off is the first thing an intruder who knows AWS
//! does: every later step becomes invisible. An attempt that failed shows someone probing it.
//!
//! **Published rule.** Panther "CloudTrail Stopped" (AWS.CloudTrail.Stopped), which pairs the
//! same two calls; Elastic splits them ("AWS CloudTrail Log Suspended", "AWS CloudTrail Log
//! Deleted").
//!
//! **How we differ.** Both Panther and Elastic only see successful calls; we also report a
//! failed attempt, one severity lower and named as such. Dedup is per trail and outcome.
//!
//! **Blind spots.** This very event is written by the trail being stopped only if another trail
//! (or the CloudTrail event history) still records it: an organization trail or a second trail
//! is what makes this rule work. CloudTrail Lake event data stores (`StopEventDataStoreIngestion`)
//! are not covered.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::defense_evasion::{DISABLE_CLOUD_LOGS, impairment};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: CloudTrailLoggingStopped = CloudTrailLoggingStopped;

/// See the module documentation.
pub struct CloudTrailLoggingStopped;

const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "cloudtrail-logging-stopped",
    title: "CloudTrail trail stopped or deleted",
    description: "A CloudTrail trail was stopped (StopLogging) or deleted (DeleteTrail), or \
        someone tried to. Adversaries switch logging off so that what follows leaves no trace.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[DISABLE_CLOUD_LOGS],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-stop/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-delete/",
        "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html",
        "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DeleteTrail.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_cloudtrail_stopped.yml",
    ],
    false_positives: &[
        "Decommissioning a trail or replacing it with an organization trail (change ticket, \
         infrastructure-as-code role in actor.arn).",
        "Test trails torn down by automation; the trail name usually says so.",
    ],
    triage: &[
        "Read details.trail and event_name: which trail, stopped or deleted? Is it the account's or organization's main trail?",
        "Identify the actor (actor.arn, actor.session_issuer_arn, actor.source_ip, actor.user_agent): does it normally manage CloudTrail?",
        "If it succeeded: restart logging (StartLogging) or recreate the trail now, then review what the actor did before and after in CloudTrail event history (90 days, not affected by the trail).",
        "If it failed (details.failed): the actor is probing; look for other defense-evasion attempts and other activity from the same access key.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "CloudTrail Stopped",
        id: "AWS.CloudTrail.Stopped",
    },
    notes: &[
        "Failed attempts are reported one severity lower (medium), with the error in the summary; \
         Panther and Elastic ignore them.",
        "Elastic's two rules (AWS CloudTrail Log Suspended 1aa8fa52-44a7-4dae-b058-f3333b91c8d7, \
         AWS CloudTrail Log Deleted 7024e2a0-315d-4334-bb1a-441c593e16ab) are one concept here.",
    ],
    events: &[
        EventSelector::exact(CLOUDTRAIL, "StopLogging"),
        EventSelector::exact(CLOUDTRAIL, "DeleteTrail"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
struct TrailParams<'a> {
    /// A trail name or ARN.
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
}

impl Rule for CloudTrailLoggingStopped {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        // The trail name is for triage only: the call itself is the finding.
        let params: Option<TrailParams> = record.request_parameters()?;
        let trail = params.and_then(|p| p.name).unwrap_or(Cow::Borrowed(""));
        let verb = if record.name() == "DeleteTrail" {
            "deleted"
        } else {
            "stopped logging of"
        };
        Ok(Some(impairment(
            record,
            format!(
                "{} {} CloudTrail trail {}",
                actor_name(record),
                verb,
                clean(&trail, 200)
            ),
            json!({ "trail": trail, "action": record.name() }),
            vec![trail.into_owned()],
            None,
            Severity::Medium,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::defense_evasion::test_records::{call, denied};
    use crate::detector::rules::testing::{assert_fires, assert_not_routed};
    use serde_json::{Value, json};

    /// aws.defense-evasion.cloudtrail-stop.json (Stratus), request part.
    fn stop_logging() -> Value {
        call(
            CLOUDTRAIL,
            "StopLogging",
            json!({"name": "stratus-red-team-ct-stop-trail-buykxbqejv"}),
            Value::Null,
        )
    }

    #[test]
    fn stop_and_delete_fire() {
        let f = assert_fires(&RULE, &stop_logging().to_string());
        assert_eq!(
            f.details["trail"],
            "stratus-red-team-ct-stop-trail-buykxbqejv"
        );
        assert_eq!(f.severity, None);
        assert!(f.summary.contains("stopped logging"), "{}", f.summary);
        // aws.defense-evasion.cloudtrail-delete.json (Stratus); Panther's test uses an ARN.
        let delete = call(
            CLOUDTRAIL,
            "DeleteTrail",
            json!({"name": "arn:aws:cloudtrail:us-west-2:123456789012:trail/example-trail"}),
            Value::Null,
        );
        let f = assert_fires(&RULE, &delete.to_string());
        assert!(
            f.summary
                .contains("deleted CloudTrail trail arn:aws:cloudtrail")
        );
    }

    #[test]
    fn a_failed_attempt_is_reported_lower_and_named() {
        let f = assert_fires(&RULE, &denied(stop_logging()));
        assert_eq!(f.severity, Some(Severity::Medium));
        assert!(
            f.summary.ends_with("(failed: AccessDenied)"),
            "{}",
            f.summary
        );
        assert_eq!(f.details["failed"], true);
        let ok = assert_fires(&RULE, &stop_logging().to_string());
        assert_ne!(f.dedup_parts, ok.dedup_parts);
    }

    #[test]
    fn starting_or_describing_a_trail_is_silent() {
        // Panther's "CloudTrail Was Started" case: StartLogging is not routed here.
        let start = call(
            CLOUDTRAIL,
            "StartLogging",
            json!({"name": "t"}),
            Value::Null,
        );
        assert_not_routed(&RULE, &start.to_string());
        let describe = call(CLOUDTRAIL, "DescribeTrails", json!({}), Value::Null);
        assert_not_routed(&RULE, &describe.to_string());
    }
}
