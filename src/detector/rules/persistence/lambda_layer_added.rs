//! `lambda-layer-added`
//!
//! **What it detects.** Layers set on a Lambda function, in two grades:
//! - high: `CreateFunction*` or `UpdateFunctionConfiguration*` whose `layers` include a layer
//!   published by an account other than the function owner's and the trusted accounts;
//! - low: `UpdateFunctionConfiguration*` by a person (IAM user, root, federated user, Identity
//!   Center session) that sets layers of the owner's own account on an existing function.
//!
//! **Why it matters.** A layer's code is loaded into the function's runtime; a layer holding an
//! extension runs beside every invocation with the function's role and sees its events. Adding
//! one to an existing function backdoors it without touching its code; a layer from an outside
//! account runs code someone else controls and can change in new versions.
//!
//! **Published rule.** Elastic "AWS Lambda Layer Added to Existing Function"
//! (7d091a76-0737-11ef-8469-f661ea17fbcc); Sigma "AWS New Lambda Layer Attached"
//! (97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d); Panther `AWS.Lambda.UpdateFunctionConfiguration`.
//!
//! **How we differ.** Elastic and Sigma fire on every `UpdateFunctionConfiguration` (Elastic also
//! on every `PublishLayerVersion`), layers or not: mostly deploy noise. We read the layer ARNs:
//! an outside account's layer is high severity whoever adds it, at creation too; an own-account
//! layer set by hand on an existing function (Panther's principle: people, not pipelines) is low
//! severity, which is how the Stratus technique shows (the extension layer is published in the
//! victim's account).
//!
//! **Blind spots.** CloudTrail does not say which layers the function had before, so a person
//! re-saving an unchanged layer list is reported (low). AWS and vendor layers (Lambda Insights,
//! Datadog, ...) come from their publishers' accounts: add those to the trusted accounts.

use crate::detector::arn::account_of;
use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::common::{
    actor_key, actor_name, describe_accounts, is_human_principal,
};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The rule value registered in the catalogue.
pub static RULE: LambdaLayerAdded = LambdaLayerAdded;

/// See the module documentation.
pub struct LambdaLayerAdded;

static META: RuleMeta = RuleMeta {
    id: "lambda-layer-added",
    title: "Lambda layer from another account, or added by hand to a function",
    description: "A Lambda function was given a layer published by an outside account, or a \
        person set layers on an existing function. Layer code (and extensions) runs inside the \
        function with its role; adversaries add layers to backdoor functions without changing \
        their code.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1546",
            technique_name: "Event Triggered Execution",
        },
        Attack {
            tactic_id: "TA0002",
            tactic_name: "Execution",
            technique_id: "T1648",
            technique_name: "Serverless Execution",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-layer-extension/",
        "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html",
        "https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html",
        "https://docs.aws.amazon.com/lambda/latest/dg/lambda-extensions.html",
    ],
    false_positives: &[
        "Vendor or AWS-published layers (monitoring agents, Lambda Insights, Parameters and \
         Secrets extension) come from their publishers' accounts: add those accounts to the \
         trusted accounts once approved.",
        "Developers attaching their own layers by hand in development accounts (low severity).",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.source_ip) and whether it manages details.function.",
        "Read details.layers and details.external_accounts: who publishes each layer? Download it (GetLayerVersion) and look for an extensions/ directory.",
        "Check the function's role: what could the layer's code reach, and which events does the function see?",
        "If unapproved: remove the layer (UpdateFunctionConfiguration), rotate the actor's credentials, review the function's outbound traffic.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS Lambda Layer Added to Existing Function",
        id: "7d091a76-0737-11ef-8469-f661ea17fbcc",
    },
    notes: &[
        "Reads the layer ARNs: an outside account's layer is high severity at creation or update; \
         Elastic/Sigma fire on every configuration update, layers or not.",
        "Own-account layers set by a person on an existing function are low severity \
         (Panther's people-not-pipelines principle).",
        "Trusted accounts silence their layers.",
    ],
    events: &[
        EventSelector::prefix("lambda.amazonaws.com", "UpdateFunctionConfiguration"),
        // CreateFunction20150331, but not CreateFunctionUrlConfig20211031.
        EventSelector::prefix("lambda.amazonaws.com", "CreateFunction2"),
    ],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionConfigParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    function_name: Option<Cow<'a, str>>,
    #[serde(default)]
    layers: Option<Value>,
}

impl Rule for LambdaLayerAdded {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, ctx: &RuleContext) -> Verdict {
        let Some(params) = record.request_parameters::<FunctionConfigParams>()? else {
            return Ok(None);
        };
        let layers: Vec<&str> = match &params.layers {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if layers.is_empty() {
            return Ok(None);
        }
        let owner = record.owner_account();
        let external: BTreeSet<String> = layers
            .iter()
            .filter_map(|l| account_of(l))
            .filter(|a| !ctx.is_internal(a, owner))
            .map(str::to_owned)
            .collect();
        let on_update = record.name().starts_with("UpdateFunctionConfiguration");
        if external.is_empty() && !(on_update && is_human_principal(record)) {
            return Ok(None);
        }
        let function = params.function_name.as_deref().unwrap_or("");
        let shown: Vec<String> = layers.iter().take(5).map(|l| clean(l, 200)).collect();
        let whose = if external.is_empty() {
            "its own account's".to_owned()
        } else {
            format!("{}'s", describe_accounts(&external))
        };
        let verb = if on_update { "set" } else { "created" };
        let summary = if on_update {
            format!(
                "{} {verb} {whose} layers on Lambda function {}: {}",
                actor_name(record),
                clean(function, 200),
                shown.join(", ")
            )
        } else {
            format!(
                "{} {verb} Lambda function {} with {whose} layers: {}",
                actor_name(record),
                clean(function, 200),
                shown.join(", ")
            )
        };
        let finding = Finding::new(
            summary,
            json!({
                "function": function,
                "layers": layers,
                "external_accounts": external,
                "function_owner": owner,
            }),
            vec![
                actor_key(record),
                function.to_owned(),
                external.iter().cloned().collect::<Vec<_>>().join(","),
            ],
        );
        Ok(Some(if external.is_empty() {
            finding.with_severity(Severity::Low)
        } else {
            finding
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, finding_with};
    use serde_json::json;

    /// Trimmed from the Stratus recording aws.persistence.lambda-layer-extension.json: the
    /// extension layer lives in the victim's own account.
    fn update_config(layers: Value) -> Value {
        json!({"eventVersion": "1.08", "eventSource": "lambda.amazonaws.com",
            "eventName": "UpdateFunctionConfiguration20150331v2", "awsRegion": "us-east-1",
            "eventID": "da929d96-8e20-475c-a810-973addd64769", "recipientAccountId": "712967571683",
            "sourceIPAddress": "211.219.255.238",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::712967571683:user/christophe",
                "accountId": "712967571683", "userName": "christophe"},
            "requestParameters": {"environment": {},
                "functionName": "arn:aws:lambda:us-east-1:712967571683:function:stratus-red-team-lambda-layer-simpleLambda",
                "layers": layers},
            "responseElements": {"functionName": "stratus-red-team-lambda-layer-simpleLambda"}})
    }

    const OWN: &str = "arn:aws:lambda:us-east-1:712967571683:layer:stratus-red-team-lambda-layer-my-lambda-extension:1";
    const OUTSIDE: &str = "arn:aws:lambda:us-east-1:444455556666:layer:collector:7";

    #[test]
    fn an_own_account_layer_set_by_a_person_is_low() {
        let f = assert_fires(&RULE, &update_config(json!([OWN])).to_string());
        assert_eq!(f.severity, Some(Severity::Low));
        assert!(
            f.summary.contains("its own account's layers"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn an_outside_layer_is_high_whoever_adds_it_and_at_creation() {
        let mut pipeline = update_config(json!([OWN, OUTSIDE]));
        pipeline["userIdentity"] = json!({"type": "AssumedRole", "accountId": "712967571683",
            "arn": "arn:aws:sts::712967571683:assumed-role/deployer/ci"});
        let f = assert_fires(&RULE, &pipeline.to_string());
        assert_eq!(f.severity, None);
        assert_eq!(f.details["external_accounts"], json!(["444455556666"]));
        let mut create = update_config(json!([OUTSIDE]));
        create["eventName"] = json!("CreateFunction20150331");
        let f = assert_fires(&RULE, &create.to_string());
        assert!(
            f.summary.contains("created Lambda function"),
            "{}",
            f.summary
        );
        let trusted = finding_with(
            &RULE,
            &update_config(json!([OUTSIDE])).to_string(),
            &["444455556666"],
        )
        .expect("a person still set a layer");
        assert_eq!(trusted.severity, Some(Severity::Low));
    }

    #[test]
    fn silent_without_layers_for_pipelines_own_layers_and_new_functions() {
        let mut no_layers = update_config(json!([]));
        assert_silent(&RULE, &no_layers.to_string());
        no_layers["requestParameters"]
            .as_object_mut()
            .unwrap()
            .remove("layers");
        no_layers["requestParameters"]["timeout"] = json!(30);
        assert_silent(&RULE, &no_layers.to_string());
        let mut pipeline = update_config(json!([OWN]));
        pipeline["userIdentity"] = json!({"type": "AssumedRole", "accountId": "712967571683",
            "arn": "arn:aws:sts::712967571683:assumed-role/deployer/ci"});
        assert_silent(&RULE, &pipeline.to_string());
        let mut create = update_config(json!([OWN]));
        create["eventName"] = json!("CreateFunction20150331");
        assert_silent(&RULE, &create.to_string());
    }
}
