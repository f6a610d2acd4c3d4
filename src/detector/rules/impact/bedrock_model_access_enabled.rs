//! `bedrock-model-access-enabled`
//!
//! **What it detects.** A principal enabling access to Amazon Bedrock foundation models in the
//! account: `PutUseCaseForModelAccess` (the first-use form some providers require),
//! `CreateFoundationModelAgreement` (accepting a model's offer and EULA) or
//! `PutFoundationModelEntitlement` (requesting the entitlement). Failed attempts alert at low
//! severity.
//!
//! **Why it matters.** "LLMjacking": intruders with stolen keys switch on expensive models in the
//! victim's account and resell or use the inference, leaving the bill (ATT&CK T1496.004, AWS
//! Threat Technique Catalog T1496.A007). Enabling models is a rare administrative act; doing it
//! from an unfamiliar identity or address is the attacker's first move (the Stratus
//! `bedrock-invoke-model` detonation makes these three calls, then `InvokeModel`).
//!
//! **Published rule.** No Panther, Elastic or Sigma rule watches these calls as such; the
//! nearest are Elastic's Bedrock rules on invocation volume and guardrails, which need model
//! invocation logs. We follow the Stratus technique and the AWS Threat Technique Catalog.
//!
//! **How we differ.** We alert on the enablement itself, from management events every trail
//! records, before the first token is billed; `InvokeModel` alone (a data-plane call many
//! applications make) does not alert. One enablement is up to three calls: they share a dedup
//! key (account, region, caller), so a subscriber gets one alert per hour per caller.
//!
//! **Blind spots.** Bedrock now grants serverless models without these calls in many regions;
//! there the first sign is the invocation itself (see Elastic's invocation-volume rules). Models
//! used through Marketplace subscriptions show as Marketplace calls, not here.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::common::{actor_name, failure_suffix, made_by_service};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: BedrockModelAccessEnabled = BedrockModelAccessEnabled;

/// See the module documentation.
pub struct BedrockModelAccessEnabled;

const BEDROCK: &str = "bedrock.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "bedrock-model-access-enabled",
    title: "Amazon Bedrock model access enabled",
    description: "A principal enabled access to Amazon Bedrock foundation models (use-case form, \
        model agreement or entitlement). Intruders with stolen credentials enable models to run \
        inference at the victim's expense (LLMjacking).",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[Attack {
        tactic_id: "TA0040",
        tactic_name: "Impact",
        technique_id: "T1496.004",
        technique_name: "Resource Hijacking: Cloud Service Hijacking",
    }],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.impact.bedrock-invoke-model/",
        "https://aws-samples.github.io/threat-technique-catalog-for-aws/Techniques/T1496.A007.html",
        "https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html",
        "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateFoundationModelAgreement.html",
    ],
    false_positives: &[
        "A team onboarding a new model through the console or infrastructure code: confirm with \
         the platform owners and add an exception for their role.",
    ],
    triage: &[
        "Identify the caller (actor.arn, actor.access_key_id, actor.source_ip, actor.user_agent) and whether it administers Bedrock.",
        "Read details.model_id and search for InvokeModel / InvokeModelWithResponseStream / Converse by the same caller right after (model invocation logs show the prompts).",
        "Check billing (Cost Explorer, Bedrock usage) for the account and region.",
        "If unapproved: revoke the caller's keys or sessions, remove the model access, and add an SCP denying bedrock:PutUseCaseForModelAccess, bedrock:CreateFoundationModelAgreement and bedrock:InvokeModel* where Bedrock is not used.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Stratus Red Team",
        name: "Invoke Bedrock Model",
        id: "aws.impact.bedrock-invoke-model",
    },
    notes: &[
        "Alerts on model-access enablement from management events, before any invocation; no published Panther/Elastic/Sigma rule watches these calls.",
        "The three calls of one enablement share a dedup key (account, region, caller).",
    ],
    events: &[
        EventSelector::exact(BEDROCK, "PutUseCaseForModelAccess"),
        EventSelector::exact(BEDROCK, "CreateFoundationModelAgreement"),
        EventSelector::exact(BEDROCK, "PutFoundationModelEntitlement"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Params<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    model_id: Option<Cow<'a, str>>,
}

impl Rule for BedrockModelAccessEnabled {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        // A service acting on someone's behalf (a console workflow, CloudFormation) carries
        // out a change defined elsewhere: the person's own call is the one to report.
        if made_by_service(record) {
            return Ok(None);
        }
        // PutUseCaseForModelAccess carries no parameters: absent is normal.
        let params: Params = record.request_parameters()?.unwrap_or_default();
        let model = params.model_id.as_deref().unwrap_or("");
        let caller = record
            .user_identity
            .as_ref()
            .and_then(|u| u.arn.as_deref())
            .unwrap_or("");
        let what = match record.name() {
            "PutUseCaseForModelAccess" => "submitted the Bedrock model-access use case".to_owned(),
            "CreateFoundationModelAgreement" => {
                format!(
                    "accepted the Bedrock agreement for model {}",
                    clean(model, 120)
                )
            }
            _ => format!("requested Bedrock access to model {}", clean(model, 120)),
        };
        let verb = if record.failed() { "tried: " } else { "" };
        let finding = Finding::new(
            format!(
                "{} {verb}{what} in {}{}",
                actor_name(record),
                clean(
                    record.aws_region.as_deref().unwrap_or("an unknown region"),
                    40
                ),
                failure_suffix(record)
            ),
            json!({
                "model_id": (!model.is_empty()).then(|| clean(model, 200)),
                "action": record.name(),
                "failed": record.failed(),
            }),
            vec![
                record.aws_region.as_deref().unwrap_or("").to_owned(),
                caller.to_owned(),
            ],
        );
        Ok(Some(if record.failed() {
            finding.with_severity(Severity::Low)
        } else {
            finding
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_not_routed, assert_silent};

    /// The PutFoundationModelEntitlement record of the Stratus detonation
    /// aws.impact.bedrock-invoke-model (trimmed; region as recorded, with Stratus's anonymising).
    fn stratus(name: &str, params: &str) -> String {
        format!(
            r#"{{"eventName":"{name}","eventSource":"bedrock.amazonaws.com","eventTime":"2024-10-17T20:09:52Z",
            "eventID":"e-{name}","awsRegion":"us-east-1","recipientAccountId":"494659789341",
            "requestParameters":{params},"responseElements":{{"status":"SUCCESS"}},
            "sourceIPAddress":"035.249.253.232","userAgent":"stratus-red-team_e0cb7ef1",
            "userIdentity":{{"accessKeyId":"ASIA6FTSFH98XNF7DFZB","accountId":"494659789341",
            "arn":"arn:aws:sts::494659789341:assumed-role/test-role/cli",
            "principalId":"AROA2N7TQQRGKJYPCLOG0:cli","type":"AssumedRole",
            "sessionContext":{{"sessionIssuer":{{"arn":"arn:aws:iam::494659789341:role/test-role","type":"Role"}}}}}}}}"#
        )
    }

    const MODEL: &str = r#"{"modelId":"anthropic.claude-3-sonnet-20240229-v1:0"}"#;

    #[test]
    fn each_enablement_call_fires_with_one_dedup_key() {
        let entitlement = assert_fires(&RULE, &stratus("PutFoundationModelEntitlement", MODEL));
        assert_eq!(
            entitlement.details["model_id"],
            "anthropic.claude-3-sonnet-20240229-v1:0"
        );
        assert!(
            entitlement
                .summary
                .contains("requested Bedrock access to model")
        );
        let agreement = assert_fires(&RULE, &stratus("CreateFoundationModelAgreement", MODEL));
        let use_case = assert_fires(&RULE, &stratus("PutUseCaseForModelAccess", "null"));
        assert!(
            use_case.summary.contains("use case"),
            "{}",
            use_case.summary
        );
        assert_eq!(entitlement.dedup_parts, agreement.dedup_parts);
        assert_eq!(entitlement.dedup_parts, use_case.dedup_parts);
    }

    #[test]
    fn a_denied_attempt_is_low_and_says_it_failed() {
        let denied = stratus("CreateFoundationModelAgreement", MODEL).replace(
            r#""responseElements":{"status":"SUCCESS"}"#,
            r#""responseElements":null,"errorCode":"AccessDeniedException","errorMessage":"denied""#,
        );
        let f = assert_fires(&RULE, &denied);
        assert_eq!(f.severity, Some(Severity::Low));
        assert!(
            f.summary.contains("tried:") && f.summary.ends_with("(failed: AccessDeniedException)")
        );
    }

    #[test]
    fn invocations_and_reads_are_not_routed_and_services_are_silent() {
        assert_not_routed(&RULE, &stratus("InvokeModel", MODEL));
        assert_not_routed(&RULE, &stratus("GetFoundationModelAvailability", MODEL));
        let by_service = stratus("CreateFoundationModelAgreement", MODEL)
            .replace("035.249.253.232", "cloudformation.amazonaws.com");
        assert_silent(&RULE, &by_service);
    }
}
