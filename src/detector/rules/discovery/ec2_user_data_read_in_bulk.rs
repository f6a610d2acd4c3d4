//! `ec2-user-data-read-in-bulk`
//!
//! **What it detects.** One principal reading the user data of 10 or more distinct EC2
//! instances (`DescribeInstanceAttribute` with `attribute: userData`) within 10 minutes, failed
//! calls included.
//!
//! **Why it matters.** User data is the boot script of an instance and often carries secrets
//! (database passwords, tokens, keys baked in by automation). Reading it across a fleet is how an
//! intruder harvests them without touching an instance (Stratus `ec2-download-user-data` reads 15
//! instances in seconds, all `Client.UnauthorizedOperation` with its deliberately weak role).
//!
//! **Published rule.** Elastic "AWS EC2 User Data Retrieval for EC2 Instance" (a new-terms rule:
//! the first successful user-data read of an instance by a principal in five days).
//!
//! **How we differ.** Elastic needs five days of history per principal and instance and sees successful reads only;
//! we keep no baseline and
//! count distinct instances per principal (role for role sessions) in a 10-minute window, so one
//! administrator checking an instance's boot script never alerts and a sweep always does.
//! Successful and failed reads count together; the summary and `error_code` say whether the
//! releasing call failed. Other attributes (`instanceType`, `disableApiTermination`) are not
//! counted.
//!
//! **Blind spots.** A slow sweep (under 10 instances per 10 minutes); user data read from inside
//! an instance (the metadata service) or from launch templates (`DescribeLaunchTemplateVersions`)
//! does not show here.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{counted_instance, counted_principal};
use serde::Deserialize;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: UserDataReadInBulk = UserDataReadInBulk;

/// See the module documentation.
pub struct UserDataReadInBulk;

/// Distinct instances in a window before we alert: a fleet sweep, not an administrator
/// checking one boot script.
pub const DISTINCT_INSTANCES: u32 = 10;
/// Window length.
pub const WINDOW_MINUTES: u32 = 10;

static META: RuleMeta = RuleMeta {
    id: "ec2-user-data-read-in-bulk",
    title: "EC2 user data read for many instances",
    description: "One principal read the user data (boot scripts) of many distinct EC2 instances \
        within minutes, successfully or not. Adversaries harvest the secrets that automation \
        leaves in user data this way.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0007",
            tactic_name: "Discovery",
            technique_id: "T1580",
            technique_name: "Cloud Infrastructure Discovery",
        },
        Attack {
            tactic_id: "TA0006",
            tactic_name: "Credential Access",
            technique_id: "T1552.005",
            technique_name: "Unsecured Credentials: Cloud Instance Metadata API",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.discovery.ec2-download-user-data/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceAttribute.html",
        "https://github.com/elastic/detection-rules/blob/main/rules/integrations/aws/discovery_ec2_userdata_request_for_ec2_instance.toml",
    ],
    false_positives: &[
        "Inventory or compliance scanners that read every instance's attributes (CSPM tools, \
         Config custom rules): disable the rule for their role or add an exception.",
        "An administrator auditing boot scripts across a fleet.",
    ],
    triage: &[
        "Identify the principal (threshold.subject, actor.arn) and whether it runs inventory or audits.",
        "Check error_code: denied reads are probing with an identity that lacks ec2:DescribeInstanceAttribute; successful ones exposed the scripts.",
        "Read the user data of the instances named for secrets, and rotate what it holds if the reads succeeded.",
        "Look for DescribeInstances just before (enumeration) and for use of any credential the scripts contain.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS EC2 User Data Retrieval for EC2 Instance",
        id: "c1e79a70-fa6f-11ee-8bc8-f661ea17fbce",
    },
    notes: &[
        "Counts distinct instances per principal (role for role sessions) in a 10-minute eventTime window across files, regions and invocations; Elastic alerts on the first successful read of an instance per principal in five days.",
        "Failed reads count: a denied sweep is the attempt Stratus detonates.",
    ],
    events: &[EventSelector::exact(
        "ec2.amazonaws.com",
        "DescribeInstanceAttribute",
    )],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    instance_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    attribute: Option<Cow<'a, str>>,
}

impl Rule for UserDataReadInBulk {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: Params = record.require_request_parameters()?;
        // Only the boot script: other attributes hold no secrets.
        if params.attribute.as_deref() != Some("userData") {
            return Ok(None);
        }
        let Some(subject) = counted_principal(record)? else {
            return Ok(None);
        };
        let instance = params
            .instance_id
            .filter(|i| !i.is_empty())
            .ok_or(Unevaluable::Missing("requestParameters.instanceId"))?;
        let finding = counted_instance(
            record,
            subject,
            &instance,
            "read the user data of many EC2 instances",
            DISTINCT_INSTANCES,
            WINDOW_MINUTES,
        )?;
        Ok(Some(finding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_silent, assert_unevaluable, released};

    /// A denied read trimmed from the Stratus detonation aws.discovery.ec2-download-user-data.
    fn read(instance: &str, attribute: &str, time: &str) -> String {
        format!(
            r#"{{"awsRegion":"us-east-1","errorCode":"Client.UnauthorizedOperation",
            "errorMessage":"You are not authorized to perform this operation.",
            "eventID":"e-{instance}-{attribute}","eventName":"DescribeInstanceAttribute",
            "eventSource":"ec2.amazonaws.com","eventTime":"{time}","readOnly":true,
            "recipientAccountId":"321848314756",
            "requestParameters":{{"attribute":"{attribute}","instanceId":"{instance}"}},
            "responseElements":null,"sourceIPAddress":"203.0.113.5",
            "userIdentity":{{"accountId":"321848314756",
            "arn":"arn:aws:sts::321848314756:assumed-role/stratus-red-team-get-usr-data-role/aws-go-sdk-1722455550269043000",
            "principalId":"AROAEXAMPLE:aws-go-sdk-1722455550269043000",
            "sessionContext":{{"sessionIssuer":{{"accountId":"321848314756",
            "arn":"arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role","type":"Role"}}}},
            "type":"AssumedRole"}}}}"#
        )
    }

    fn sweep(n: usize, attribute: &str) -> Vec<String> {
        (0..n)
            .map(|i| {
                read(
                    &format!("i-{i:08x}"),
                    attribute,
                    &format!("2024-07-31T19:52:{:02}Z", 10 + i % 40),
                )
            })
            .collect()
    }

    #[test]
    fn a_sweep_of_ten_instances_alerts_once_and_says_it_failed() {
        let alerts = released(&RULE, &sweep(15, "userData"));
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            alerts[0].error_code.as_deref(),
            Some("Client.UnauthorizedOperation")
        );
        assert_eq!(
            alerts[0].threshold.as_ref().unwrap().subject,
            "arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role"
        );
    }

    #[test]
    fn nine_instances_one_instance_retried_or_other_attributes_stay_silent() {
        assert!(released(&RULE, &sweep(9, "userData")).is_empty());
        let retries: Vec<String> = (0..30)
            .map(|i| read("i-0abc", "userData", &format!("2024-07-31T19:52:{:02}Z", i)))
            .collect();
        assert!(released(&RULE, &retries).is_empty());
        assert_silent(&RULE, &sweep(1, "instanceType")[0]);
        assert!(released(&RULE, &sweep(30, "disableApiTermination")).is_empty());
    }

    #[test]
    fn a_read_without_parameters_cannot_be_judged() {
        let record = sweep(1, "userData")[0].replace(
            r#""requestParameters":{"attribute":"userData","instanceId":"i-00000000"}"#,
            r#""requestParameters":null"#,
        );
        assert_unevaluable(&RULE, &record);
    }
}
