//! `ssm-send-command-shell-script`
//!
//! **What it detects.** A successful SSM `SendCommand` that runs an arbitrary script on managed
//! instances: the documents `AWS-RunShellScript`, `AWS-RunPowerShellScript` or
//! `AWS-RunRemoteScript` (which fetches and runs a script from S3 or GitHub), made by a principal
//! rather than by an AWS service on its behalf.
//!
//! **Why it matters.** Run Command is remote code execution as root/SYSTEM on every targeted
//! instance, with no network path to the instance needed. Attackers use it to read the instance
//! role's credentials from the metadata service, drop a backdoor or open a reverse shell.
//! CloudTrail hides the script itself (`parameters` is `HIDDEN_DUE_TO_SECURITY_REASONS`).
//!
//! **Published rule.** Elastic "AWS SSM `SendCommand` Execution by Rare User"
//! (37b211e8-4e2f-440f-86d8-06cc8f158cfa).
//!
//! **How we differ.** Elastic fires on any document the first time a user is seen in 7 days
//! (state we do not keep). We fire on every use of the script-running documents and on nothing
//! else: named documents such as `AWS-UpdateSSMAgent` or `AWS-ConfigureAWSPackage` run fixed
//! content and are routine fleet management. Like Elastic we leave out calls that an AWS service
//! made (Session Manager's GUI connect, maintenance windows, Inspector).
//!
//! **Blind spots.** A custom command document can run arbitrary scripts too; creating one is a
//! separate event (`CreateDocument`). State Manager associations run documents without a
//! `SendCommand` record.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name, made_by_service};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: SsmSendCommandShellScript = SsmSendCommandShellScript;

/// See the module documentation.
pub struct SsmSendCommandShellScript;

/// AWS-owned documents whose parameter is a script to run.
const SCRIPT_DOCUMENTS: &[&str] = &[
    "AWS-RunShellScript",
    "AWS-RunPowerShellScript",
    "AWS-RunRemoteScript",
];

static META: RuleMeta = RuleMeta {
    id: "ssm-send-command-shell-script",
    title: "SSM Run Command ran a script on instances",
    description: "A principal used SSM SendCommand with a document that runs an arbitrary shell \
        or PowerShell script on managed instances. Adversaries use Run Command to execute code \
        on instances, steal the instance role's credentials or plant a backdoor.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0002",
            tactic_name: "Execution",
            technique_id: "T1651",
            technique_name: "Cloud Administration Command",
        },
        Attack {
            tactic_id: "TA0006",
            tactic_name: "Credential Access",
            technique_id: "T1552.005",
            technique_name: "Cloud Instance Metadata API",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ssm-send-command/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.ec2-steal-instance-credentials/",
        "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html",
        "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html",
    ],
    false_positives: &[
        "Administrators running ad-hoc commands on their fleet; the actor and user agent show \
         who, and the targets whether the instances are theirs to manage.",
        "Automation that runs scripts through Run Command from a pipeline role: recognise it by \
         its role and user agent.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether it normally runs commands on these instances.",
        "Read details.instance_ids / details.targets and the instance roles they carry: those credentials may now be exposed.",
        "Fetch the command output with GetCommandInvocation (or the output bucket / CloudWatch log group) to see what ran.",
        "Look for the instance role's credentials being used from outside the instance (sourceIPAddress not the instance's).",
        "If unapproved: isolate the instances, revoke the instance role sessions, rotate the actor's credentials.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS SSM `SendCommand` Execution by Rare User",
        id: "37b211e8-4e2f-440f-86d8-06cc8f158cfa",
    },
    notes: &[
        "Only the script-running documents fire (AWS-RunShellScript, AWS-RunPowerShellScript, \
         AWS-RunRemoteScript); Elastic's new-terms rule fires on any document for a new user.",
        "Calls made by an AWS service (Session Manager GUI connect, maintenance windows, \
         Inspector) are left out, as in Elastic's exclusions.",
        "Stateless: the same actor running scripts again alerts again after the dedup period.",
    ],
    events: &[EventSelector::exact("ssm.amazonaws.com", "SendCommand")],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendCommandParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    document_name: Option<Cow<'a, str>>,
    #[serde(default)]
    instance_ids: Option<Value>,
    #[serde(default)]
    targets: Option<Value>,
}

/// `AWS-RunShellScript` from a name or a document ARN (`arn:aws:ssm:...:document/NAME`).
fn document_base_name(document: &str) -> &str {
    document
        .rsplit_once("document/")
        .map_or(document, |(_, name)| name)
}

impl Rule for SsmSendCommandShellScript {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        if made_by_service(record) {
            return Ok(None);
        }
        let params: SendCommandParams = record.require_request_parameters()?;
        let document = params
            .document_name
            .as_deref()
            .ok_or(Unevaluable::Missing("requestParameters.documentName"))?;
        if !SCRIPT_DOCUMENTS.contains(&document_base_name(document.trim())) {
            return Ok(None);
        }
        let instance_ids: Vec<&str> = match &params.instance_ids {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(one)) => vec![one.as_str()],
            _ => Vec::new(),
        };
        let targets = params.targets.clone().unwrap_or(Value::Null);
        let on_what = if instance_ids.is_empty() {
            "instances chosen by target tags".to_owned()
        } else {
            let shown: Vec<String> = instance_ids.iter().take(5).map(|i| clean(i, 40)).collect();
            let more = instance_ids.len().saturating_sub(5);
            if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            }
        };
        let mut sorted = instance_ids.clone();
        sorted.sort_unstable();
        Ok(Some(Finding::new(
            format!(
                "{} ran {} through SSM Run Command on {}",
                actor_name(record),
                clean(document, 100),
                on_what
            ),
            json!({
                "document": document,
                "instance_ids": instance_ids,
                "targets": targets,
            }),
            vec![actor_key(record), document.to_owned(), sorted.join(",")],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::json;

    /// Trimmed from the Stratus recording aws.execution.ssm-send-command.json.
    fn send_command(document: &str) -> Value {
        json!({"eventVersion": "1.08", "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
            "awsRegion": "us-east-1", "eventID": "5288bfb8-e3fa-4c41-be02-6853521afe8b",
            "recipientAccountId": "056392974792", "sourceIPAddress": "253.252.51.7",
            "userAgent": "stratus-red-team_ea782787-a65d-4fc4-9fca-1c97869a9a25",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::056392974792:user/christophe",
                "accountId": "056392974792", "accessKeyId": "AKIAW9X2Q2U25SK79UCX", "userName": "christophe"},
            "requestParameters": {"documentName": document,
                "instanceIds": ["i-00456A8D163f546Ff", "i-cfE23b1a7ceba6f86", "i-9D40CCFc0aE91CFa5"],
                "interactive": false, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"},
            "responseElements": {"command": {"commandId": "4e973221-443e-4a56-a0b4-1cb3c7923fc3",
                "documentName": document, "status": "Pending", "targetCount": 3}}})
    }

    #[test]
    fn fires_on_the_stratus_shell_script() {
        let f = assert_fires(&RULE, &send_command("AWS-RunShellScript").to_string());
        assert_eq!(f.details["instance_ids"].as_array().unwrap().len(), 3);
        assert!(f.summary.contains("AWS-RunShellScript"), "{}", f.summary);
        assert!(f.summary.contains("i-00456A8D163f546Ff"), "{}", f.summary);
    }

    #[test]
    fn fires_on_powershell_tag_targets_and_document_arns() {
        let mut r = send_command("AWS-RunPowerShellScript");
        r["requestParameters"]["instanceIds"] = Value::Null;
        r["requestParameters"]["targets"] = json!([{"key": "tag:Env", "values": ["prod"]}]);
        let f = assert_fires(&RULE, &r.to_string());
        assert!(f.summary.contains("target tags"), "{}", f.summary);
        assert_fires(
            &RULE,
            &send_command("arn:aws:ssm:us-east-1::document/AWS-RunShellScript").to_string(),
        );
    }

    #[test]
    fn silent_for_fixed_content_documents_services_and_failures() {
        assert_silent(&RULE, &send_command("AWS-UpdateSSMAgent").to_string());
        assert_silent(&RULE, &send_command("AWS-RunShellScriptX").to_string());
        let mut gui = send_command("AWS-RunShellScript");
        gui["sourceIPAddress"] = json!("ssm-guiconnect.amazonaws.com");
        assert_silent(&RULE, &gui.to_string());
        let mut window = send_command("AWS-RunShellScript");
        window["userIdentity"] = json!({"type": "AWSService", "invokedBy": "ssm.amazonaws.com"});
        assert_silent(&RULE, &window.to_string());
        let mut failed = send_command("AWS-RunShellScript");
        failed["errorCode"] = json!("AccessDeniedException");
        assert_silent(&RULE, &failed.to_string());
    }

    #[test]
    fn unevaluable_without_a_document_name() {
        let mut r = send_command("AWS-RunShellScript");
        r["requestParameters"]["documentName"] = Value::Null;
        assert_eq!(
            assert_unevaluable(&RULE, &r.to_string()),
            Unevaluable::Missing("requestParameters.documentName")
        );
    }
}
