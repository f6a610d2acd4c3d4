//! `ec2-user-data-modified`
//!
//! **What it detects.** A successful `ModifyInstanceAttribute` that replaces an instance's user
//! data (`requestParameters.userData`, or `attribute: userData`), made by a principal rather than
//! by an AWS service on its behalf.
//!
//! **Why it matters.** User data runs as root when the instance boots (cloud-init can be told to
//! run it on every boot). Stopping an instance, swapping its user data and starting it again runs
//! the attacker's script with the instance role's permissions, without any network access to it.
//!
//! **Published rule.** Sigma "AWS EC2 Startup Shell Script Change"
//! (1ab3c5ed-5baf-417b-bb6b-78ca33f6c3df); also Panther `AWS.EC2.Startup.Script.Change`.
//!
//! **How we differ.** Sigma matches the substring `userData` anywhere in the request; we read the
//! parameter itself. We leave out calls made by an AWS service (CloudFormation applying a
//! template change), which Sigma and Panther report.
//!
//! **Blind spots.** New user data given at launch (`RunInstances`) or in a new launch template
//! version is not a modification of a running instance and is not reported here.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name, made_by_service};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: Ec2UserDataModified = Ec2UserDataModified;

/// See the module documentation.
pub struct Ec2UserDataModified;

static META: RuleMeta = RuleMeta {
    id: "ec2-user-data-modified",
    title: "EC2 instance user data modified",
    description: "The user data of an EC2 instance was replaced. User data runs as root at boot, \
        so adversaries change it (then stop and start the instance) to run code on the instance \
        with its role's permissions.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0002",
            tactic_name: "Execution",
            technique_id: "T1059.009",
            technique_name: "Cloud API",
        },
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1037",
            technique_name: "Boot or Logon Initialization Scripts",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ec2-user-data/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyInstanceAttribute.html",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html",
    ],
    false_positives: &[
        "An administrator changing a stopped instance's bootstrap script by hand; infrastructure \
         tools usually replace the instance or the launch template instead.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether it manages this instance.",
        "Read the new user data (DescribeInstanceAttribute userData) and compare it with the previous version if kept.",
        "Look for StopInstances / StartInstances on details.instance_id around the change, and for the instance role's credentials used elsewhere afterwards.",
        "If unapproved: restore the user data, stop the instance, and examine it for what ran at boot.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Sigma",
        name: "AWS EC2 Startup Shell Script Change",
        id: "1ab3c5ed-5baf-417b-bb6b-78ca33f6c3df",
    },
    notes: &[
        "Reads the userData parameter (or attribute: userData) instead of a substring match.",
        "Calls an AWS service made on a principal's behalf (CloudFormation) are left out.",
    ],
    events: &[EventSelector::exact(
        "ec2.amazonaws.com",
        "ModifyInstanceAttribute",
    )],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModifyInstanceAttributeParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    instance_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    attribute: Option<Cow<'a, str>>,
    #[serde(default)]
    user_data: Option<Value>,
}

impl Rule for Ec2UserDataModified {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        if made_by_service(record) {
            return Ok(None);
        }
        let params: ModifyInstanceAttributeParams = record.require_request_parameters()?;
        let sets_user_data = params.user_data.as_ref().is_some_and(|v| !v.is_null())
            || params
                .attribute
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case("userData"));
        if !sets_user_data {
            return Ok(None);
        }
        let instance = params.instance_id.as_deref().unwrap_or("");
        Ok(Some(Finding::new(
            format!(
                "{} replaced the user data of EC2 instance {}",
                actor_name(record),
                clean(instance, 40)
            ),
            json!({ "instance_id": instance }),
            vec![actor_key(record), instance.to_owned()],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::json;

    /// Trimmed from the Stratus recording aws.execution.ec2-user-data.json.
    fn modify(params: Value) -> Value {
        json!({"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "ModifyInstanceAttribute",
            "awsRegion": "us-east-1", "eventID": "f634894e-d625-4b7b-b1c1-50354cc1100e",
            "recipientAccountId": "309303190113", "sourceIPAddress": "251.228.255.218",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::309303190113:user/christophe",
                "accountId": "309303190113", "userName": "christophe"},
            "requestParameters": params,
            "responseElements": {"_return": true}})
    }

    #[test]
    fn fires_when_user_data_is_replaced() {
        let f = assert_fires(
            &RULE,
            &modify(
                json!({"instanceId": "i-DDd6c7B0e18F0E35f", "userData": "<sensitiveDataRemoved>"}),
            )
            .to_string(),
        );
        assert_eq!(f.details["instance_id"], "i-DDd6c7B0e18F0E35f");
        // The attribute/value form of the same API.
        assert_fires(
            &RULE,
            &modify(json!({"instanceId": "i-1", "attribute": "userData", "value": "<sensitiveDataRemoved>"}))
                .to_string(),
        );
    }

    #[test]
    fn panther_case_modify_instance_attribute_userdata_fires() {
        // panther-analysis aws_ec2_startup_script_change.yml, "ModifyInstanceAttributeUserdata":
        // a CodeBuild role session (a principal, not a service host) changes user data.
        let r = json!({"awsRegion": "us-east-2", "eventName": "ModifyInstanceAttribute",
            "eventSource": "ec2.amazonaws.com", "eventVersion": "1.08", "recipientAccountId": "0123456789",
            "requestParameters": {"instanceId": "i-012345abcde", "userData": "<sensitiveDataRemoved>"},
            "responseElements": {"_return": true, "requestId": "012345abcdef"},
            "sourceIPAddress": "1.2.3.4", "userAgent": "aws sdk",
            "userIdentity": {"accountId": "0123456789", "arn": "arn:aws:sts::0123456789:assumed-role/Role-us-1/CodeBuild",
                "principalId": "ABCDEXAMPLE:CodeBuild", "type": "AssumedRole",
                "sessionContext": {"sessionIssuer": {"accountId": "0123456789",
                    "arn": "arn:aws:iam::0123456789:role/CodeBuild-US-East", "type": "Role",
                    "userName": "CodeBuild-US-East"}}}});
        assert_fires(&RULE, &r.to_string());
        // "ModifyInstanceAttribute-NoUserData".
        assert_silent(
            &RULE,
            &modify(json!({"instanceId": "testinstanceid"})).to_string(),
        );
    }

    #[test]
    fn silent_for_other_attributes_and_service_calls() {
        // Shape from the AWS CLI reference: modify-instance-attribute --instance-type.
        assert_silent(
            &RULE,
            &modify(json!({"instanceId": "i-1", "instanceType": {"value": "m5.large"}}))
                .to_string(),
        );
        assert_silent(
            &RULE,
            &modify(json!({"instanceId": "i-1", "disableApiTermination": {"value": true}}))
                .to_string(),
        );
        let mut cfn = modify(json!({"instanceId": "i-1", "userData": "<sensitiveDataRemoved>"}));
        cfn["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
        assert_silent(&RULE, &cfn.to_string());
    }

    #[test]
    fn unevaluable_without_parameters() {
        assert_unevaluable(&RULE, &modify(Value::Null).to_string());
    }
}
