//! `ec2-password-data-read-in-bulk`
//!
//! **What it detects.** One principal calling `GetPasswordData` (the encrypted Windows
//! Administrator password of an instance) for 10 or more distinct instances within 10 minutes,
//! failed calls included.
//!
//! **Why it matters.** With the key pair, the password data is the local Administrator password:
//! a sweep over many instances is lateral movement in preparation. A denied sweep is the same
//! intent from an identity that lacks the permission (Stratus `ec2-get-password-data` makes 30
//! calls in 5 seconds, all `Client.UnauthorizedOperation`).
//!
//! **Published rule.** Panther `AWS.EC2.ManyPasswordReadAttempts` ("AWS EC2 Many Password Read
//! Attempts", 30 calls per hour); Elastic "AWS EC2 Unauthorized Admin Credential Fetch via Assumed
//! Role" (first denied call per role).
//!
//! **How we differ.** We count distinct instances, not calls, so an administrator retrying one
//! instance's password never adds up, and a sweep alerts at 10 instances rather than 30 calls.
//! Successful and failed calls count together (Elastic watches failures only): the summary and
//! `error_code` say whether the releasing call failed. Role sessions count as their role.
//!
//! **Blind spots.** A slow sweep (under 10 instances per 10 minutes); Windows passwords read
//! through other means (SSM, EC2Rescue) do not show here.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{counted_instance, counted_principal};
use serde::Deserialize;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: PasswordDataReadInBulk = PasswordDataReadInBulk;

/// See the module documentation.
pub struct PasswordDataReadInBulk;

/// Distinct instances in a window before we alert.
pub const DISTINCT_INSTANCES: u32 = 10;
/// Window length.
pub const WINDOW_MINUTES: u32 = 10;

static META: RuleMeta = RuleMeta {
    id: "ec2-password-data-read-in-bulk",
    title: "EC2 Windows passwords requested for many instances",
    description: "One principal requested the Windows Administrator password data \
        (GetPasswordData) of many distinct EC2 instances within minutes, successfully or not. \
        Adversaries sweep instances for local administrator passwords to move laterally.",
    severity: Severity::Medium,
    risk_score: 55,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0006",
            tactic_name: "Credential Access",
            technique_id: "T1555",
            technique_name: "Credentials from Password Stores",
        },
        Attack {
            tactic_id: "TA0006",
            tactic_name: "Credential Access",
            technique_id: "T1552",
            technique_name: "Unsecured Credentials",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ec2-get-password-data/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetPasswordData.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_ec2_many_passwors_read_attempts.yml",
        "https://github.com/elastic/detection-rules/blob/main/rules/integrations/aws/credential_access_aws_getpassword_for_ec2_instance.toml",
    ],
    false_positives: &[
        "Fleet tooling that retrieves the Administrator password of every Windows instance it \
         launches (image pipelines, RDP brokers): disable the rule for its role.",
        "An administrator recovering access to many instances after a key rotation.",
    ],
    triage: &[
        "Identify the principal (threshold.subject, actor.arn) and whether it manages Windows instances.",
        "Check error_code: denied calls mean probing with an identity that lacks ec2:GetPasswordData; successful ones mean the passwords are exposed to whoever holds the key pair.",
        "List its GetPasswordData calls in the window and the instances named; look for DescribeInstances just before (enumeration).",
        "If hostile: revoke the principal's sessions or keys, and for successful reads rotate the Administrator passwords of those instances.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS EC2 Many Password Read Attempts",
        id: "AWS.EC2.ManyPasswordReadAttempts",
    },
    notes: &[
        "Counts distinct instances (Panther counts calls: 30 per hour) per principal (role for role sessions) in a 10-minute eventTime window, across files, regions and invocations.",
        "Failed calls count: a denied sweep is the attempt Stratus detonates and Elastic watches.",
    ],
    events: &[EventSelector::exact("ec2.amazonaws.com", "GetPasswordData")],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    instance_id: Option<Cow<'a, str>>,
}

impl Rule for PasswordDataReadInBulk {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let Some(subject) = counted_principal(record)? else {
            return Ok(None);
        };
        let params: Params = record.require_request_parameters()?;
        let instance = params
            .instance_id
            .filter(|i| !i.is_empty())
            .ok_or(Unevaluable::Missing("requestParameters.instanceId"))?;
        let finding = counted_instance(
            record,
            subject,
            &instance,
            "requested Windows password data for many instances",
            DISTINCT_INSTANCES,
            WINDOW_MINUTES,
        )?;
        Ok(Some(finding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_unevaluable, released};

    /// A denied `GetPasswordData` trimmed from the Stratus detonation
    /// aws.credential-access.ec2-get-password-data (errorMessage shortened).
    fn denied(instance: &str, time: &str) -> String {
        format!(
            r#"{{"awsRegion":"us-east-2","errorCode":"Client.UnauthorizedOperation",
            "errorMessage":"You are not authorized to perform this operation.",
            "eventID":"450230d4-{instance}","eventName":"GetPasswordData","eventSource":"ec2.amazonaws.com",
            "eventTime":"{time}","readOnly":true,"recipientAccountId":"457448411975",
            "requestParameters":{{"instanceId":"{instance}"}},"responseElements":null,
            "sourceIPAddress":"200.249.253.51",
            "userIdentity":{{"accessKeyId":"ASIANQQHHS551LWULIWD","accountId":"457448411975",
            "arn":"arn:aws:sts::457448411975:assumed-role/stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1722375070115152000",
            "principalId":"AROAMLQ9F6KHQ07JKA0WY:aws-go-sdk-1722375070115152000",
            "sessionContext":{{"sessionIssuer":{{"accountId":"457448411975",
            "arn":"arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role",
            "type":"Role","userName":"stratus-red-team-ec2-get-password-data-role"}}}},
            "type":"AssumedRole"}}}}"#
        )
    }

    /// A successful call, shape of panther-analysis's "Successful Attempt" test event.
    fn succeeded(instance: &str, time: &str) -> String {
        denied(instance, time).replace(
            r#""errorCode":"Client.UnauthorizedOperation",
            "errorMessage":"You are not authorized to perform this operation.","#,
            "",
        )
    }

    fn sweep(n: usize, make: fn(&str, &str) -> String) -> Vec<String> {
        (0..n)
            .map(|i| {
                make(
                    &format!("i-{i:017x}"),
                    &format!("2024-07-30T21:31:{:02}Z", 10 + i % 40),
                )
            })
            .collect()
    }

    #[test]
    fn a_denied_sweep_of_ten_instances_alerts_once_and_says_it_failed() {
        let alerts = released(&RULE, &sweep(30, denied));
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(
            alert.error_code.as_deref(),
            Some("Client.UnauthorizedOperation")
        );
        assert!(
            alert.summary.contains(
                "(failed: Client.UnauthorizedOperation): 10 distinct instances within 10 minutes"
            ),
            "{}",
            alert.summary
        );
        assert_eq!(
            alert.threshold.as_ref().unwrap().subject,
            "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role"
        );
    }

    #[test]
    fn successful_and_failed_calls_count_together() {
        let mut records = sweep(5, succeeded);
        records.extend(sweep(10, denied).into_iter().skip(5));
        assert_eq!(released(&RULE, &records).len(), 1);
    }

    #[test]
    fn nine_instances_or_one_instance_retried_stay_silent() {
        assert!(released(&RULE, &sweep(9, denied)).is_empty());
        let retries: Vec<String> = (0..30)
            .map(|i| succeeded("i-0abc", &format!("2024-07-30T21:31:{:02}Z", i)))
            .collect();
        assert!(released(&RULE, &retries).is_empty());
    }

    #[test]
    fn nine_and_nine_far_apart_stay_silent_but_across_a_boundary_alert() {
        let batch = |prefix: &str, time: &str| -> Vec<String> {
            (0..9)
                .map(|i| denied(&format!("i-{prefix}{i}"), time))
                .collect()
        };
        let mut apart = batch("a", "2024-07-30T21:21:00Z");
        apart.extend(batch("b", "2024-07-30T21:39:00Z"));
        assert!(released(&RULE, &apart).is_empty());
        let mut across = batch("a", "2024-07-30T21:29:59Z");
        across.extend(batch("b", "2024-07-30T21:30:00Z"));
        assert_eq!(released(&RULE, &across).len(), 1);
    }

    #[test]
    fn a_call_without_an_instance_is_reported() {
        let record = denied("x", "2024-07-30T21:31:10Z").replace(r#"{"instanceId":"x"}"#, "{}");
        assert_eq!(
            assert_unevaluable(&RULE, &record),
            Unevaluable::Missing("requestParameters.instanceId")
        );
    }
}
