//! `vpc-flow-logs-deleted`
//!
//! **What it detects.** `DeleteFlowLogs`, successful or not.
//!
//! **Why it matters.** VPC flow logs are the network record of an intrusion (exfiltration,
//! scanning, command and control); deleting them blinds network forensics from then on.
//!
//! **Published rule.** Panther "AWS VPC Flow Logs Removed" (AWS.VPCFlow.LogsDeleted); Elastic
//! "AWS VPC Flow Logs Deletion" (9395fd2c-9947-4472-86ef-4aceb2f7e872); Sigma "AWS VPC Flow Logs
//! Deleted" (e386b9b5-af12-450e-afff-761730fb8a98).
//!
//! **How we differ.** Failed attempts are reported too, one severity lower. The flow log ids are
//! read from both shapes CloudTrail uses (`FlowLogId` as one `{content, tag}` item or a list).
//!
//! **Blind spots.** Deleting the destination (the S3 bucket or log group) instead is not this
//! rule's; nor is a flow log whose IAM role was broken.

use crate::detector::record::Record;
use crate::detector::rule::{
    EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::defense_evasion::{DISABLE_CLOUD_LOGS, impairment};
use crate::detector::text::clean;
use serde_json::{Value, json};

/// The rule value registered in the catalogue.
pub static RULE: VpcFlowLogsDeleted = VpcFlowLogsDeleted;

/// See the module documentation.
pub struct VpcFlowLogsDeleted;

static META: RuleMeta = RuleMeta {
    id: "vpc-flow-logs-deleted",
    title: "VPC flow logs deleted",
    description: "VPC flow logs were deleted, or someone tried to. Adversaries remove network \
        logging before they scan, move laterally or exfiltrate.",
    severity: Severity::Medium,
    risk_score: 55,
    mitre_attack: &[DISABLE_CLOUD_LOGS],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.vpc-remove-flow-logs/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteFlowLogs.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_vpc_flow_logs_deleted.yml",
    ],
    false_positives: &[
        "A VPC being torn down, or flow logs replaced by new ones (a CreateFlowLogs by the same \
         actor around the same time).",
    ],
    triage: &[
        "Read details.flow_log_ids; find which VPC, subnet or interface each logged (DescribeFlowLogs history, infrastructure code).",
        "Identify the actor (actor.arn, actor.source_ip, actor.user_agent) and whether it manages networking.",
        "If unapproved: recreate the flow logs, and review network-facing changes (security groups, instances) by the same actor.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS VPC Flow Logs Removed",
        id: "AWS.VPCFlow.LogsDeleted",
    },
    notes: &[
        "Failed attempts are reported one severity lower (low), with the error in the summary.",
    ],
    events: &[EventSelector::exact("ec2.amazonaws.com", "DeleteFlowLogs")],
    failed_calls: FailedCalls::Evaluate,
};

/// Flow log ids from `DeleteFlowLogsRequest.FlowLogId`: one `{content, tag}`, a list of them,
/// or plain strings.
fn flow_log_ids(params: &Value) -> Vec<String> {
    let ids = params
        .get("DeleteFlowLogsRequest")
        .and_then(|r| r.get("FlowLogId"))
        .or_else(|| params.get("flowLogIds"));
    let one = |v: &Value| -> Option<String> {
        v.as_str()
            .or_else(|| v.get("content").and_then(Value::as_str))
            .map(str::to_owned)
    };
    match ids {
        Some(Value::Array(items)) => items.iter().filter_map(one).collect(),
        Some(item) => one(item).into_iter().collect(),
        None => Vec::new(),
    }
}

impl Rule for VpcFlowLogsDeleted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        // The ids are for triage: the deletion itself is the finding.
        let params: Option<Value> = record.request_parameters()?;
        let ids = params.as_ref().map(flow_log_ids).unwrap_or_default();
        let shown: Vec<String> = ids.iter().take(5).map(|id| clean(id, 64)).collect();
        Ok(Some(impairment(
            record,
            format!(
                "{} deleted VPC flow logs {}",
                actor_name(record),
                shown.join(", ")
            ),
            json!({ "flow_log_ids": ids }),
            vec![ids.join(",")],
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

    /// aws.defense-evasion.vpc-remove-flow-logs.json (Stratus).
    fn delete(ids: Value) -> Value {
        call(
            "ec2.amazonaws.com",
            "DeleteFlowLogs",
            json!({"DeleteFlowLogsRequest": {"FlowLogId": ids}}),
            json!({"DeleteFlowLogsResponse": {"requestId": "96d51d7f", "unsuccessful": "",
                "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/"}}),
        )
    }

    #[test]
    fn deletions_fire_with_their_ids() {
        let f = assert_fires(
            &RULE,
            &delete(json!({"content": "fl-0e17aa62a21d4bbfe", "tag": 1})).to_string(),
        );
        assert_eq!(f.details["flow_log_ids"], json!(["fl-0e17aa62a21d4bbfe"]));
        let two = json!([{"content": "fl-1", "tag": 1}, {"content": "fl-2", "tag": 2}]);
        let f = assert_fires(&RULE, &delete(two).to_string());
        assert_eq!(f.details["flow_log_ids"], json!(["fl-1", "fl-2"]));
    }

    #[test]
    fn failed_attempts_are_low_and_creations_are_silent() {
        let f = assert_fires(&RULE, &denied(delete(json!({"content": "fl-1", "tag": 1}))));
        assert_eq!(f.severity, Some(Severity::Low));
        let create = call(
            "ec2.amazonaws.com",
            "CreateFlowLogs",
            json!({"CreateFlowLogsRequest": {"ResourceId": {"content": "vpc-1", "tag": 1}}}),
            Value::Null,
        );
        assert_not_routed(&RULE, &create.to_string());
    }
}
