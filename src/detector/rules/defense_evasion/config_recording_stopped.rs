//! `config-recording-stopped`
//!
//! **What it detects.** AWS Config switched off: `StopConfigurationRecorder`,
//! `DeleteConfigurationRecorder` or `DeleteDeliveryChannel`, successful or not.
//!
//! **Why it matters.** Config records every resource's configuration history and evaluates
//! compliance rules; without a recorder or delivery channel, changes an attacker makes (opened
//! security groups, public buckets) leave no configuration trail and trip no Config rule.
//!
//! **Published rule.** Panther "AWS Config Service Disabled" (AWS.ConfigService.DisabledDeleted);
//! Elastic "AWS Configuration Recorder Stopped" (fbd44836-0d69-4004-a0b4-03c20370c435); Sigma
//! "AWS Config Disabling Channel/Recorder" (07330162-dba1-4746-8121-a9647d49d297).
//!
//! **How we differ.** Deleting the recorder is as final as stopping it, and Panther, Elastic and
//! Sigma all miss it; we watch it too. Failed attempts are reported one severity lower.
//!
//! **Blind spots.** Narrowing what the recorder records (`PutConfigurationRecorder` with fewer
//! resource types) and deleting Config rules are not covered.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::defense_evasion::{DISABLE_CLOUD_LOGS, DISABLE_TOOLS, impairment};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: ConfigRecordingStopped = ConfigRecordingStopped;

/// See the module documentation.
pub struct ConfigRecordingStopped;

const CONFIG: &str = "config.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "config-recording-stopped",
    title: "AWS Config recorder stopped or deleted",
    description: "An AWS Config configuration recorder was stopped or deleted, or its delivery \
        channel deleted, or someone tried to. Adversaries switch Config off so that their \
        configuration changes are neither recorded nor evaluated.",
    severity: Severity::Medium,
    risk_score: 55,
    mitre_attack: &[DISABLE_TOOLS, DISABLE_CLOUD_LOGS],
    references: &[
        "https://docs.aws.amazon.com/config/latest/APIReference/API_StopConfigurationRecorder.html",
        "https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteConfigurationRecorder.html",
        "https://docs.aws.amazon.com/config/latest/APIReference/API_DeleteDeliveryChannel.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_config_service_disabled_deleted.yml",
    ],
    false_positives: &[
        "Config being re-deployed by infrastructure code (a Put/StartConfigurationRecorder follows \
         within minutes), or disabled in an unused region by policy.",
    ],
    triage: &[
        "Read event_name and details.name: which recorder or channel, in which region (region)?",
        "Identify the actor (actor.arn, actor.session_issuer_arn, actor.source_ip) and whether it manages Config (Control Tower and Config conformance roles do).",
        "If unapproved: start the recorder (StartConfigurationRecorder) or recreate the channel, and review resource changes made since by the same actor in CloudTrail.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS Config Service Disabled",
        id: "AWS.ConfigService.DisabledDeleted",
    },
    notes: &[
        "Also watches DeleteConfigurationRecorder, which Panther, Elastic and Sigma miss.",
        "Failed attempts are reported one severity lower (low), with the error in the summary.",
    ],
    events: &[
        EventSelector::exact(CONFIG, "StopConfigurationRecorder"),
        EventSelector::exact(CONFIG, "DeleteConfigurationRecorder"),
        EventSelector::exact(CONFIG, "DeleteDeliveryChannel"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    configuration_recorder_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    delivery_channel_name: Option<Cow<'a, str>>,
}

impl Rule for ConfigRecordingStopped {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: Option<ConfigParams> = record.request_parameters()?;
        let name = params
            .as_ref()
            .and_then(|p| {
                p.configuration_recorder_name
                    .as_deref()
                    .or(p.delivery_channel_name.as_deref())
            })
            .unwrap_or("");
        let what = match record.name() {
            "StopConfigurationRecorder" => "stopped AWS Config recorder",
            "DeleteConfigurationRecorder" => "deleted AWS Config recorder",
            _ => "deleted AWS Config delivery channel",
        };
        Ok(Some(impairment(
            record,
            format!("{} {} {}", actor_name(record), what, clean(name, 100)),
            json!({ "name": name, "action": record.name() }),
            vec![record.name().to_owned(), name.to_owned()],
            None,
            Severity::Low,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::defense_evasion::test_records::{call, denied};
    use crate::detector::rules::testing::{assert_fires, assert_not_routed};
    use serde_json::Value;

    // Request shapes from the AWS Config API reference (camelCase as CloudTrail logs them).
    #[test]
    fn stopping_or_deleting_fires() {
        let stop = call(
            CONFIG,
            "StopConfigurationRecorder",
            json!({"configurationRecorderName": "default"}),
            Value::Null,
        );
        let f = assert_fires(&RULE, &stop.to_string());
        assert!(f.summary.contains("stopped AWS Config recorder default"));
        let delete = call(
            CONFIG,
            "DeleteConfigurationRecorder",
            json!({"configurationRecorderName": "default"}),
            Value::Null,
        );
        assert_fires(&RULE, &delete.to_string());
        let channel = call(
            CONFIG,
            "DeleteDeliveryChannel",
            json!({"deliveryChannelName": "default"}),
            Value::Null,
        );
        let f = assert_fires(&RULE, &channel.to_string());
        assert_eq!(f.details["name"], "default");
        assert_eq!(f.severity, None);
        assert_eq!(
            assert_fires(&RULE, &denied(channel)).severity,
            Some(Severity::Low)
        );
    }

    #[test]
    fn starting_is_silent() {
        let start = call(
            CONFIG,
            "StartConfigurationRecorder",
            json!({"configurationRecorderName": "default"}),
            Value::Null,
        );
        assert_not_routed(&RULE, &start.to_string());
    }
}
