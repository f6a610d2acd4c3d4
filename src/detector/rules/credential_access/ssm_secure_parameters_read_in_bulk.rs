//! `ssm-secure-parameters-read-in-bulk`
//!
//! **What it detects.** One principal reading 30 or more distinct SSM Parameter Store parameters
//! *with decryption* (`GetParameter` / `GetParameters` with `withDecryption: true`) within 10
//! minutes.
//!
//! **Why it matters.** SecureString parameters hold passwords, API keys and tokens. Tools that
//! harvest credentials list the parameters and read them all decrypted (Stratus
//! `ssm-retrieve-securestring-parameters` reads 41 in 3 seconds, ten names per call).
//!
//! **Published rule.** Panther `AWS.SSM.DecryptSSMParams` ("AWS Decrypt SSM Parameters",
//! threshold 10); Elastic "AWS Systems Manager SecureString Parameter Request with Decryption
//! Flag" (first time per identity).
//!
//! **How we differ.** Parameters read without decryption are configuration, not secrets, and are
//! not counted (a `String` parameter read with decryption is indistinguishable in CloudTrail and
//! does count). We count distinct parameters, not calls, so `GetParameters` with ten names counts
//! ten and an application re-reading its own parameters never adds up; the threshold is 30
//! rather than Panther's 10 because applications commonly read a dozen or two decrypted
//! parameters at start-up. Role sessions count as their role; calls by AWS services on a
//! principal's behalf (CloudFormation, `sourceIPAddress` a service host name) are not counted.
//!
//! **Blind spots.** `GetParametersByPath` (a whole hierarchy in one call) is not counted: it names
//! a path, not parameters. Failed reads are not counted.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_name, counted_principal, event_epoch};
use crate::detector::text::clean;
use crate::detector::threshold::ThresholdRequest;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: SecureParametersReadInBulk = SecureParametersReadInBulk;

/// See the module documentation.
pub struct SecureParametersReadInBulk;

const SSM: &str = "ssm.amazonaws.com";
/// Distinct parameters read with decryption in a window before we alert.
pub const DISTINCT_PARAMETERS: u32 = 30;
/// Window length.
pub const WINDOW_MINUTES: u32 = 10;

static META: RuleMeta = RuleMeta {
    id: "ssm-secure-parameters-read-in-bulk",
    title: "Many SSM parameters read with decryption by one principal",
    description: "One principal read many distinct SSM Parameter Store parameters with \
        decryption within minutes (GetParameter, GetParameters with withDecryption). Adversaries \
        harvest SecureString parameters for the credentials they hold.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[Attack {
        tactic_id: "TA0006",
        tactic_name: "Credential Access",
        technique_id: "T1555.006",
        technique_name: "Cloud Secrets Management Stores",
    }],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ssm-retrieve-securestring-parameters/",
        "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html",
        "https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-securestring.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_ssm_decrypt_ssm_params.yml",
    ],
    false_positives: &[
        "Applications or configuration tools (chamber, Spring Cloud AWS, Ansible lookups) that read \
         many decrypted parameters one by one at start-up: disable the rule for their roles.",
        "Backups or migrations of Parameter Store run by an administrator.",
    ],
    triage: &[
        "Identify the principal (actor.arn, threshold.subject): human, CI or workload?",
        "List its GetParameter(s) calls with decryption in the window and the parameter names: credentials of other systems?",
        "Look for DescribeParameters just before (enumeration) and compare source IP and user agent with the principal's usual ones.",
        "If hostile: revoke the principal's sessions or keys and rotate every credential stored in the parameters read.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS Decrypt SSM Parameters",
        id: "AWS.SSM.DecryptSSMParams",
    },
    notes: &[
        "Counts distinct parameters (ten per GetParameters call), not calls, per principal (role for role sessions) in a 10-minute eventTime window across files, regions and invocations.",
        "Threshold 30 instead of Panther's 10: start-up reads of a dozen or two decrypted parameters are common; Stratus reads 41.",
        "Parameters read without withDecryption are not counted; parameter selectors (name:3, name:label) and ARNs count as the parameter.",
    ],
    events: &[
        EventSelector::exact(SSM, "GetParameter"),
        EventSelector::exact(SSM, "GetParameters"),
    ],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    names: Option<Vec<Cow<'a, str>>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    with_decryption: bool,
}

/// `true`, or the string `"true"` some exporters write; anything else is false.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

/// A parameter as a member of the count: the name without a version or label selector, from an
/// ARN or a name, qualified by account and region (parameters are regional).
fn parameter_member(record: &Record<'_>, id: &str) -> String {
    let name = match id.split_once(":parameter") {
        Some((prefix, rest)) if prefix.starts_with("arn:") => rest,
        _ => id.split(':').next().unwrap_or(id),
    };
    format!(
        "{}:{}:{}",
        record.owner_account().unwrap_or("-"),
        record.aws_region.as_deref().unwrap_or("-"),
        name.trim_start_matches('/')
    )
}

impl Rule for SecureParametersReadInBulk {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: Params = record.require_request_parameters()?;
        if !params.with_decryption {
            return Ok(None);
        }
        let Some(subject) = counted_principal(record)? else {
            return Ok(None);
        };
        let names: Vec<Cow<str>> = if record.name() == "GetParameter" {
            params.name.into_iter().collect()
        } else {
            params.names.unwrap_or_default()
        };
        let members: Vec<String> = names
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| parameter_member(record, n))
            .collect();
        if members.is_empty() {
            return Err(Unevaluable::Missing("requestParameters.name or names"));
        }
        let shown: Vec<String> = names.iter().take(10).map(|n| clean(n, 300)).collect();
        let finding = Finding::new(
            format!(
                "{} read SSM parameters with decryption in bulk",
                actor_name(record)
            ),
            json!({
                "principal": clean(&subject, 300),
                "this_call": shown,
            }),
            vec![subject.clone()],
        )
        .counted(ThresholdRequest {
            subject,
            counter: "",
            members,
            counts: "SSM parameters read with decryption",
            threshold: DISTINCT_PARAMETERS,
            window_minutes: WINDOW_MINUTES,
            event_epoch: event_epoch(record)?,
        });
        Ok(Some(finding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_silent, assert_unevaluable, released};

    /// A `GetParameters` record trimmed from the Stratus detonation
    /// aws.credential-access.ssm-retrieve-securestring-parameters (`resources` left out).
    fn get_parameters(names: &[String], decrypt: &str, time: &str) -> String {
        format!(
            r#"{{"awsRegion":"us-west-2","eventID":"a4663305-e887","eventName":"GetParameters",
            "eventSource":"ssm.amazonaws.com","eventTime":"{time}","readOnly":true,
            "recipientAccountId":"933175858973",
            "requestParameters":{{"names":{},"withDecryption":{decrypt}}},
            "responseElements":null,"sourceIPAddress":"250.202.242.232",
            "userIdentity":{{"accessKeyId":"AKIAY964QRZ7YSGWGVUH","accountId":"933175858973",
            "arn":"arn:aws:iam::933175858973:user/christophe","principalId":"AIDAGTWHLUXY291EU1ZL",
            "type":"IAMUser","userName":"christophe"}}}}"#,
            serde_json::to_string(names).unwrap()
        )
    }

    /// A `GetParameter` record in the shape CloudTrail logs it (`name`, `withDecryption`), as in
    /// panther-analysis's aws_ssm_decrypt_ssm_params tests.
    fn get_parameter(name: &str, time: &str) -> String {
        get_parameters(&[], "true", time)
            .replace(r#""GetParameters""#, r#""GetParameter""#)
            .replace(r#""names":[]"#, &format!(r#""name":"{name}""#))
    }

    fn names(range: std::ops::Range<usize>) -> Vec<String> {
        range
            .map(|i| format!("/credentials/stratus-red-team/credentials-{i}"))
            .collect()
    }

    #[test]
    fn thirty_parameters_decrypted_in_ten_name_calls_alert_once() {
        let calls: Vec<String> = (0..4)
            .map(|c| get_parameters(&names(c * 10..c * 10 + 10), "true", "2024-08-01T15:26:57Z"))
            .collect();
        let alerts = released(&RULE, &calls);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].threshold.as_ref().unwrap().distinct, Some(30));
        assert!(
            alerts[0]
                .summary
                .contains("30 distinct SSM parameters read with decryption")
        );
    }

    #[test]
    fn twenty_nine_parameters_or_the_same_ten_again_stay_silent() {
        let mut calls: Vec<String> = (0..2)
            .map(|c| get_parameters(&names(c * 10..c * 10 + 10), "true", "2024-08-01T15:26:57Z"))
            .collect();
        calls.push(get_parameters(
            &names(20..29),
            "true",
            "2024-08-01T15:26:58Z",
        ));
        for _ in 0..5 {
            calls.push(get_parameters(
                &names(0..10),
                "true",
                "2024-08-01T15:27:00Z",
            ));
        }
        assert!(released(&RULE, &calls).is_empty());
    }

    #[test]
    fn selectors_and_arns_count_as_the_parameter_and_windows_count_apart() {
        let mut calls: Vec<String> = (0..29)
            .map(|i| get_parameter(&format!("/app/p{i}"), "2024-08-01T15:21:00Z"))
            .collect();
        calls.push(get_parameter("/app/p0:3", "2024-08-01T15:22:00Z"));
        calls.push(get_parameter(
            "arn:aws:ssm:us-west-2:933175858973:parameter/app/p1",
            "2024-08-01T15:22:00Z",
        ));
        // One more in the next window does not complete this one.
        calls.push(get_parameter("/app/p29", "2024-08-01T15:30:00Z"));
        assert!(released(&RULE, &calls).is_empty());
        calls.push(get_parameter("/app/p30", "2024-08-01T15:29:59Z"));
        assert_eq!(released(&RULE, &calls).len(), 1);
    }

    #[test]
    fn reads_without_decryption_are_not_secrets() {
        assert_silent(
            &RULE,
            &get_parameters(&names(0..10), "false", "2024-08-01T15:26:57Z"),
        );
        let plain: Vec<String> = (0..5)
            .map(|c| {
                get_parameters(&names(c * 10..c * 10 + 10), "true", "2024-08-01T15:26:57Z")
                    .replace(r#","withDecryption":true"#, "")
            })
            .collect();
        assert!(released(&RULE, &plain).is_empty());
        // Exporters that write the flag as a string are read the same way.
        let string_flag = get_parameters(&names(0..10), r#""true""#, "2024-08-01T15:26:57Z");
        assert!(crate::detector::rules::testing::finding(&RULE, &string_flag).is_some());
    }

    #[test]
    fn a_decrypting_call_that_names_nothing_is_reported() {
        assert_eq!(
            assert_unevaluable(&RULE, &get_parameters(&[], "true", "2024-08-01T15:26:57Z")),
            Unevaluable::Missing("requestParameters.name or names")
        );
    }
}
