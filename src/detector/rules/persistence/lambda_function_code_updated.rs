//! `lambda-function-code-updated`
//!
//! **What it detects.** A successful Lambda `UpdateFunctionCode*` (any API version) made by a
//! person: an IAM user, the root user, a federated user or an IAM Identity Center session.
//!
//! **Why it matters.** Replacing a function's code runs the attacker's code with the function's
//! role on every invocation: a persistent, event-triggered backdoor that keeps the function's
//! name, triggers and permissions.
//!
//! **Published rule.** Panther "Lambda Code Updated by User" (`AWS.Lambda.UpdateFunctionCode`).
//!
//! **How we differ.** Same principle as Panther (code pushed by hand rather than by a pipeline):
//! deploy pipelines update code all day through their roles, and an alert for each deploy would
//! bury the one that matters. We also count the root user, and leave out calls an AWS service
//! made on a person's behalf (CloudFormation, SAM).
//!
//! **Blind spots.** An attacker using a pipeline's role, or an instance or function role, is not
//! reported by this rule. The new code itself is not in CloudTrail (only its SHA-256 and size).

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name, is_human_principal};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: LambdaFunctionCodeUpdated = LambdaFunctionCodeUpdated;

/// See the module documentation.
pub struct LambdaFunctionCodeUpdated;

static META: RuleMeta = RuleMeta {
    id: "lambda-function-code-updated",
    title: "Lambda function code replaced by a person",
    description: "A person (IAM user, root, federated user or Identity Center session) replaced \
        the code of a Lambda function. Adversaries overwrite function code to run their own code \
        with the function's role whenever it is invoked.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1525",
            technique_name: "Implant Internal Image",
        },
        Attack {
            tactic_id: "TA0002",
            tactic_name: "Execution",
            technique_id: "T1648",
            technique_name: "Serverless Execution",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-overwrite-code/",
        "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html",
        "https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html",
    ],
    false_positives: &[
        "Developers deploying by hand (console, CLI) in development accounts; the function and \
         account show whether that is normal.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.source_ip) and whether it deploys this function by hand.",
        "Compare details.code_sha256 with the hash your pipeline last deployed; download the code (GetFunction) and read it.",
        "Check the function's role and triggers: what can the new code reach, and how often does it run?",
        "If unapproved: redeploy the known-good version, rotate the actor's credentials, review what the function did since.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "Lambda Code Updated by User",
        id: "AWS.Lambda.UpdateFunctionCode",
    },
    notes: &[
        "People only, as in Panther; root sessions are counted too.",
        "Calls an AWS service made on a person's behalf (CloudFormation, SAM) are left out.",
    ],
    events: &[EventSelector::prefix(
        "lambda.amazonaws.com",
        "UpdateFunctionCode",
    )],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateFunctionCodeParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    function_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    s3_bucket: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    image_uri: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionConfiguration<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    function_arn: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    code_sha256: Option<Cow<'a, str>>,
}

impl Rule for LambdaFunctionCodeUpdated {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        if !is_human_principal(record) {
            return Ok(None);
        }
        let params: UpdateFunctionCodeParams = record.require_request_parameters()?;
        let function = params
            .function_name
            .as_deref()
            .ok_or(Unevaluable::Missing("requestParameters.functionName"))?;
        let response = record.response_elements::<FunctionConfiguration>()?;
        let code_sha256 = response
            .as_ref()
            .and_then(|r| r.code_sha256.as_deref())
            .map(str::to_owned);
        let function_arn = response
            .as_ref()
            .and_then(|r| r.function_arn.as_deref())
            .map(str::to_owned);
        let source = if let Some(image) = params.image_uri.as_deref() {
            format!("image {}", clean(image, 200))
        } else if let Some(bucket) = params.s3_bucket.as_deref() {
            format!("an archive from S3 bucket {}", clean(bucket, 100))
        } else {
            "an uploaded archive".to_owned()
        };
        Ok(Some(Finding::new(
            format!(
                "{} replaced the code of Lambda function {} with {source}",
                actor_name(record),
                clean(function, 200)
            ),
            json!({
                "function": function,
                "function_arn": function_arn,
                "code_sha256": code_sha256,
                "s3_bucket": params.s3_bucket,
                "image_uri": params.image_uri,
            }),
            vec![actor_key(record), function.to_owned()],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::{Value, json};

    /// Trimmed from the Stratus recording aws.persistence.lambda-overwrite-code.json.
    fn update_code() -> Value {
        json!({"eventVersion": "1.08", "eventSource": "lambda.amazonaws.com",
            "eventName": "UpdateFunctionCode20150331v2", "awsRegion": "us-east-1",
            "eventID": "4672b74f-2466-4784-b3fb-5b4db904a995", "recipientAccountId": "266106314375",
            "sourceIPAddress": "253.8.50.132",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::266106314375:user/christophe",
                "accountId": "266106314375", "userName": "christophe"},
            "requestParameters": {"dryRun": false, "publish": true,
                "functionName": "arn:aws:lambda:us-east-1:266106314375:function:stratus-red-team-olc-func-vayhjqkdav"},
            "responseElements": {"codeSha256": "Pt1c8vVaBygmNtAeSyjlpdy7r8nHRqJAAL++HEGlQkc=", "codeSize": 211,
                "functionArn": "arn:aws:lambda:us-east-1:266106314375:function:stratus-red-team-olc-func-vayhjqkdav:1",
                "functionName": "stratus-red-team-olc-func-vayhjqkdav"}})
    }

    #[test]
    fn fires_when_a_user_uploads_code() {
        let f = assert_fires(&RULE, &update_code().to_string());
        assert_eq!(
            f.details["code_sha256"],
            "Pt1c8vVaBygmNtAeSyjlpdy7r8nHRqJAAL++HEGlQkc="
        );
        assert!(f.summary.contains("an uploaded archive"), "{}", f.summary);
    }

    #[test]
    fn fires_for_identity_center_sessions_with_s3_code() {
        let mut r = update_code();
        r["userIdentity"] = json!({"type": "AssumedRole", "accountId": "266106314375",
            "arn": "arn:aws:sts::266106314375:assumed-role/AWSReservedSSO_dev_0123456789abcdef/alice",
            "sessionContext": {"sessionIssuer": {"type": "Role",
                "arn": "arn:aws:iam::266106314375:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_dev_0123456789abcdef"}}});
        r["requestParameters"]["s3Bucket"] = json!("artifacts");
        r["requestParameters"]["s3Key"] = json!("fn.zip");
        let f = assert_fires(&RULE, &r.to_string());
        assert!(f.summary.contains("S3 bucket artifacts"), "{}", f.summary);
    }

    #[test]
    fn silent_for_pipeline_roles_services_and_failures() {
        let mut pipeline = update_code();
        pipeline["userIdentity"] = json!({"type": "AssumedRole", "accountId": "266106314375",
            "arn": "arn:aws:sts::266106314375:assumed-role/github-deploy/run-42",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::266106314375:role/github-deploy"}}});
        assert_silent(&RULE, &pipeline.to_string());
        let mut cfn = update_code();
        cfn["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
        assert_silent(&RULE, &cfn.to_string());
        let mut denied = update_code();
        denied["errorCode"] = json!("AccessDeniedException");
        assert_silent(&RULE, &denied.to_string());
        let mut no_name = update_code();
        no_name["requestParameters"]["functionName"] = Value::Null;
        assert_unevaluable(&RULE, &no_name.to_string());
    }
}
