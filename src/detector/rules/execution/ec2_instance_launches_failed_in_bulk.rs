//! `ec2-instance-launches-failed-in-bulk`
//!
//! **What it detects.** One principal whose failed `RunInstances` calls asked for 10 or more
//! instances within 10 minutes (each call counts the `maxCount` it asked for, retries of one
//! request counted once through its `clientToken`).
//!
//! **Why it matters.** Stolen credentials are turned into compute (crypto-mining, GPU instances)
//! within minutes, and the first attempts fail: the identity lacks `ec2:RunInstances`, the
//! vCPU quota of the instance family is exhausted, or the type is not offered. Stratus
//! `ec2-launch-unusual-instances` asks for ten `p2.xlarge` in one call that is denied.
//!
//! **Published rule.** Panther `AWS.EC2.LaunchUnusualEC2Instances` ("AWS EC2 Launch Unusual EC2
//! Instances", the same Stratus technique, per call and instance type). We found no Elastic or
//! Sigma rule that counts failed launches.
//!
//! **How we differ.** We count the instances asked for in failed launches, not calls: ten
//! instances in one call and one instance in each of ten calls are the same intent. Dry runs
//! (`DryRunOperation`, the call would have succeeded) are not failures. Launches by AWS services
//! on a principal's behalf (Auto Scaling, `sourceIPAddress` a service host name) are not counted:
//! capacity shortages of a scaling group are operations, not an attack. The instance type itself
//! is judged by another rule (unusual instance types).
//!
//! **Blind spots.** Failed `CreateFleet` / `RequestSpotInstances` are not counted; a principal
//! that fails fewer than 10 instances per 10 minutes stays under the threshold.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::common::{actor_name, counted_principal, event_epoch, failure_suffix};
use crate::detector::text::clean;
use crate::detector::threshold::{MAX_MEMBERS_PER_RECORD, ThresholdRequest};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: InstanceLaunchesFailedInBulk = InstanceLaunchesFailedInBulk;

/// See the module documentation.
pub struct InstanceLaunchesFailedInBulk;

/// Instances asked for in failed launches, in a window, before we alert.
pub const FAILED_INSTANCES: u32 = 10;
/// Window length.
pub const WINDOW_MINUTES: u32 = 10;

static META: RuleMeta = RuleMeta {
    id: "ec2-instance-launches-failed-in-bulk",
    title: "Many EC2 instance launches failed for one principal",
    description: "One principal's RunInstances calls failed for many instances within minutes \
        (denied, over quota, capacity). Adversaries with stolen credentials try to launch \
        compute for mining or GPU workloads and hit permissions and quotas first.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0040",
            tactic_name: "Impact",
            technique_id: "T1496",
            technique_name: "Resource Hijacking",
        },
        Attack {
            tactic_id: "TA0002",
            tactic_name: "Execution",
            technique_id: "T1578.002",
            technique_name: "Create Cloud Instance",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ec2-launch-unusual-instances/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_ec2_launch_unusual_ec2_instances.yml",
    ],
    false_positives: &[
        "A deployment tool (Terraform, CI) retrying a fleet launch with a missing permission or \
         an exhausted vCPU quota: the error code says which; fix the quota or the policy.",
        "Capacity shortages (InsufficientInstanceCapacity) for a person or tool launching many \
         instances of a scarce type.",
    ],
    triage: &[
        "Check error_code: UnauthorizedOperation means an identity probing for EC2 rights; VcpuLimitExceeded or InstanceLimitExceeded means a launch bigger than the account's usual.",
        "Identify the principal (threshold.subject, actor.arn) and the instance types, images and regions asked for (record.requestParameters).",
        "Look for successful RunInstances, CreateKeyPair, or AuthorizeSecurityGroupIngress by the same principal around the window.",
        "If hostile: revoke the principal's sessions or keys and terminate any instance it did launch.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS EC2 Launch Unusual EC2 Instances",
        id: "AWS.EC2.LaunchUnusualEC2Instances",
    },
    notes: &[
        "Counts instances asked for (maxCount) in failed launches per principal (role for role sessions) in a 10-minute eventTime window; Panther alerts per unusual-type call instead.",
        "Dry runs and launches by AWS services on a principal's behalf (Auto Scaling) are not counted.",
    ],
    events: &[EventSelector::exact("ec2.amazonaws.com", "RunInstances")],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    client_token: Option<Cow<'a, str>>,
    /// A string, or `{"value": "p2.xlarge"}` in some records (panther-analysis test events).
    #[serde(default)]
    instance_type: Option<serde_json::Value>,
    #[serde(default)]
    instances_set: Option<InstancesSet>,
}

#[derive(Deserialize)]
struct InstancesSet {
    #[serde(default)]
    items: Vec<LaunchItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LaunchItem {
    #[serde(default, deserialize_with = "lenient_count")]
    max_count: Option<u64>,
}

/// A count written as a number or a numeric string; anything else is absent.
fn lenient_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

impl Rule for InstanceLaunchesFailedInBulk {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let Some(error) = record.error() else {
            return Ok(None);
        };
        if error.contains("DryRunOperation") {
            return Ok(None);
        }
        let Some(subject) = counted_principal(record)? else {
            return Ok(None);
        };
        // A failed launch may carry no parameters worth reading; it still asked for one instance.
        let params: Option<Params> = record.request_parameters()?;
        let (token, instance_type, asked) = match &params {
            Some(p) => (
                p.client_token.as_deref().filter(|t| !t.is_empty()),
                p.instance_type.as_ref().and_then(|t| match t {
                    serde_json::Value::String(s) => Some(s.as_str()),
                    other => other.get("value").and_then(|v| v.as_str()),
                }),
                p.instances_set
                    .as_ref()
                    .map(|s| {
                        s.items
                            .iter()
                            .map(|i| i.max_count.unwrap_or(1))
                            .sum::<u64>()
                    })
                    .unwrap_or(1)
                    .max(1),
            ),
            None => (None, None, 1),
        };
        // Retries of one request share its idempotency token: the same instances.
        let request = token
            .or(record.event_id.as_deref())
            .unwrap_or("unidentified-request");
        let members: Vec<String> = (0..asked.min(MAX_MEMBERS_PER_RECORD as u64))
            .map(|i| format!("{request}#{i}"))
            .collect();
        let finding = Finding::new(
            format!(
                "{} failed to launch {asked} {} instance(s){}",
                actor_name(record),
                clean(instance_type.unwrap_or("EC2"), 40),
                failure_suffix(record)
            ),
            json!({
                "principal": clean(&subject, 300),
                "instance_type": instance_type.map(|t| clean(t, 40)),
                "instances_asked": asked,
            }),
            vec![subject.clone()],
        )
        .counted(ThresholdRequest {
            subject,
            counter: "",
            members,
            counts: "instances asked for in failed launches",
            threshold: FAILED_INSTANCES,
            window_minutes: WINDOW_MINUTES,
            event_epoch: event_epoch(record)?,
        });
        Ok(Some(finding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_silent, released};

    /// The denied launch from the Stratus detonation aws.execution.ec2-launch-unusual-instances
    /// (errorMessage shortened), with the token, count and time varied.
    fn failed_launch(token: &str, max_count: u32, time: &str, error: &str) -> String {
        format!(
            r#"{{"awsRegion":"ca-central-1","errorCode":"{error}",
            "errorMessage":"You are not authorized to perform this operation.",
            "eventID":"1a4debbb-{token}","eventName":"RunInstances","eventSource":"ec2.amazonaws.com",
            "eventTime":"{time}","readOnly":false,"recipientAccountId":"900138736586",
            "requestParameters":{{"blockDeviceMapping":{{}},"clientToken":"{token}",
            "disableApiStop":false,"disableApiTermination":false,"instanceType":"p2.xlarge",
            "instancesSet":{{"items":[{{"imageId":"ami-aCBbfd13bdb1d1E4b","maxCount":{max_count},"minCount":1}}]}},
            "monitoring":{{"enabled":false}},"subnetId":"subnet-0e540f0c7ffb48ae9"}},
            "responseElements":null,"sourceIPAddress":"06.237.252.245",
            "userIdentity":{{"accessKeyId":"ASIA9F6MXE9HSYOXYQOS","accountId":"900138736586",
            "arn":"arn:aws:sts::900138736586:assumed-role/stratus-red-team-ec2lui-role-idtzskbvtd/aws-go-sdk-1722511821294449000",
            "principalId":"AROA13YEHY3VAS32TD341:aws-go-sdk-1722511821294449000",
            "sessionContext":{{"sessionIssuer":{{"accountId":"900138736586",
            "arn":"arn:aws:iam::900138736586:role/stratus-red-team-ec2lui-role-idtzskbvtd",
            "type":"Role"}}}},"type":"AssumedRole"}}}}"#
        )
    }

    const DENIED: &str = "Client.UnauthorizedOperation";

    #[test]
    fn the_stratus_launch_of_ten_denied_instances_alerts() {
        let alerts = released(
            &RULE,
            &[failed_launch(
                "5dd59182",
                10,
                "2024-08-01T11:30:23Z",
                DENIED,
            )],
        );
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].summary.contains("failed to launch 10 p2.xlarge instance(s) (failed: Client.UnauthorizedOperation): 10 distinct instances asked for in failed launches"), "{}", alerts[0].summary);
    }

    #[test]
    fn ten_failed_single_launches_alert_and_nine_do_not() {
        let calls: Vec<String> = (0..10)
            .map(|i| {
                failed_launch(
                    &format!("t{i}"),
                    1,
                    "2024-08-01T11:31:00Z",
                    "Client.VcpuLimitExceeded",
                )
            })
            .collect();
        assert!(released(&RULE, &calls[..9]).is_empty());
        assert_eq!(released(&RULE, &calls).len(), 1);
    }

    #[test]
    fn retries_of_one_request_count_once_and_launches_far_apart_do_not_add_up() {
        let retries: Vec<String> = (0..5)
            .map(|_| {
                failed_launch(
                    "same",
                    5,
                    "2024-08-01T11:31:00Z",
                    "Server.InsufficientInstanceCapacity",
                )
            })
            .collect();
        assert!(released(&RULE, &retries).is_empty());
        let apart = [
            failed_launch("a", 5, "2024-08-01T11:31:00Z", DENIED),
            failed_launch("b", 5, "2024-08-01T11:49:00Z", DENIED),
        ];
        assert!(released(&RULE, &apart).is_empty());
        let across = [
            failed_launch("a", 5, "2024-08-01T11:39:59Z", DENIED),
            failed_launch("b", 5, "2024-08-01T11:40:00Z", DENIED),
        ];
        assert_eq!(released(&RULE, &across).len(), 1);
    }

    #[test]
    fn dry_runs_successes_and_service_launches_are_not_counted() {
        assert_silent(
            &RULE,
            &failed_launch("d", 20, "2024-08-01T11:31:00Z", "Client.DryRunOperation"),
        );
        let success = failed_launch("s", 20, "2024-08-01T11:31:00Z", DENIED).replace(
            r#""errorCode":"Client.UnauthorizedOperation",
            "errorMessage":"You are not authorized to perform this operation.","#,
            "",
        );
        assert_silent(&RULE, &success);
        let by_autoscaling = failed_launch(
            "a",
            20,
            "2024-08-01T11:31:00Z",
            "Server.InsufficientInstanceCapacity",
        )
        .replace("06.237.252.245", "autoscaling.amazonaws.com");
        assert_silent(&RULE, &by_autoscaling);
    }

    #[test]
    fn the_instance_type_is_read_in_both_shapes() {
        // panther-analysis aws_ec2_launch_unusual_ec2_instances "(Dictionary)" test event shape.
        let dict = failed_launch("x", 10, "2024-08-01T11:31:00Z", DENIED).replace(
            r#""instanceType":"p2.xlarge""#,
            r#""instanceType":{"value":"g5.48xlarge"}"#,
        );
        let alert = &released(&RULE, &[dict])[0];
        assert_eq!(alert.details["instance_type"], "g5.48xlarge");
    }

    #[test]
    fn a_failed_launch_without_parameters_counts_one_instance() {
        let bare = failed_launch("x", 1, "2024-08-01T11:31:00Z", DENIED);
        let start = bare.find(r#""requestParameters""#).unwrap();
        let end = bare.find(r#""responseElements""#).unwrap();
        let bare = format!(
            "{}\"requestParameters\":null,{}",
            &bare[..start],
            &bare[end..]
        );
        let records: Vec<String> = (0..10)
            .map(|i| bare.replace("1a4debbb-x", &format!("1a4debbb-{i}")))
            .collect();
        assert_eq!(released(&RULE, &records).len(), 1);
    }
}
