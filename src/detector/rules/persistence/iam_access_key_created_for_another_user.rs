//! `iam-access-key-created-for-another-user`
//!
//! **What it detects.** A successful IAM `CreateAccessKey` whose `userName` names a user other
//! than the caller (compared case-insensitively, as IAM does), made by a principal rather than by
//! an AWS service on its behalf. A call without `userName` creates a key for the caller itself
//! and is not reported; a role session or root naming any user is, by definition, acting on
//! another user.
//!
//! **Why it matters.** A long-lived access key on someone else's user is a backdoor that
//! survives the rotation of the attacker's own credentials; on a freshly created user, it is the
//! last step of creating a backdoor account.
//!
//! **Published rule.** Elastic "AWS IAM User Created Access Keys For Another User"
//! (696015ef-718e-40ff-ac4a-cc2ba88dbeeb); Sigma "AWS IAM Backdoor Users Keys"
//! (0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2); Panther `AWS.IAM.Backdoor.User.Keys`.
//!
//! **How we differ.** Sigma and Panther compare the target name with the end of the caller's ARN
//! (`arn` ending in `user/NAME`), which is case-sensitive and breaks on user paths; we compare
//! IAM user names case-insensitively. Calls an AWS service made (CloudFormation creating an
//! `AWS::IAM::AccessKey`) are left out: a reviewed template, not hands on the keyboard.
//!
//! **Blind spots.** Infrastructure-as-code run from a pipeline role (Terraform) is a principal,
//! not a service, and is reported; recognise it by role and user agent.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name, is_another_user, made_by_service};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: IamAccessKeyCreatedForAnotherUser = IamAccessKeyCreatedForAnotherUser;

/// See the module documentation.
pub struct IamAccessKeyCreatedForAnotherUser;

static META: RuleMeta = RuleMeta {
    id: "iam-access-key-created-for-another-user",
    title: "IAM access key created for another user",
    description: "A principal created an access key for an IAM user other than itself. \
        Adversaries create keys on existing or freshly created users to keep access after their \
        own credentials are revoked.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1098.001",
            technique_name: "Additional Cloud Credentials",
        },
        Attack {
            tactic_id: "TA0004",
            tactic_name: "Privilege Escalation",
            technique_id: "T1098.001",
            technique_name: "Additional Cloud Credentials",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-backdoor-user/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-admin-user/",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
    ],
    false_positives: &[
        "Administrators issuing keys to service users, and provisioning pipelines (Terraform, \
         scripts) creating a user and its key; the actor's role and user agent show automation.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether it provisions credentials for others.",
        "Check details.target_user: its permissions, whether it was just created (CreateUser by the same actor), and its existing keys.",
        "Search for API calls signed with details.access_key_id and their source addresses.",
        "If unapproved: deactivate and delete the new key, review the target user's policies and login profile, rotate the actor's credentials.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS IAM User Created Access Keys For Another User",
        id: "696015ef-718e-40ff-ac4a-cc2ba88dbeeb",
    },
    notes: &[
        "User names are compared case-insensitively, as IAM treats them; Sigma/Panther's ARN \
         suffix check is case-sensitive.",
        "Calls made by an AWS service (CloudFormation) are left out.",
    ],
    events: &[EventSelector::exact("iam.amazonaws.com", "CreateAccessKey")],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAccessKeyParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    user_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAccessKeyResponse<'a> {
    #[serde(default, borrow)]
    access_key: Option<AccessKey<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessKey<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    access_key_id: Option<Cow<'a, str>>,
}

impl Rule for IamAccessKeyCreatedForAnotherUser {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        if made_by_service(record) {
            return Ok(None);
        }
        // No parameters, or no userName: the key is for the caller itself.
        let Some(params) = record.request_parameters::<CreateAccessKeyParams>()? else {
            return Ok(None);
        };
        let Some(target) = params.user_name.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        if !is_another_user(record, target) {
            return Ok(None);
        }
        let key_id = record
            .response_elements::<CreateAccessKeyResponse>()?
            .and_then(|r| r.access_key)
            .and_then(|k| k.access_key_id.map(Cow::into_owned));
        Ok(Some(Finding::new(
            format!(
                "{} created access key {} for IAM user {}",
                actor_name(record),
                clean(key_id.as_deref().unwrap_or("(id not logged)"), 40),
                clean(target, 64)
            ),
            json!({ "target_user": target, "access_key_id": key_id }),
            vec![actor_key(record), target.to_ascii_lowercase()],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent};
    use serde_json::{Value, json};

    /// Trimmed from the Stratus recording aws.persistence.iam-backdoor-user.json.
    fn create_key(target: Option<&str>) -> Value {
        let mut r = json!({"eventVersion": "1.09", "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
            "awsRegion": "us-east-1", "eventID": "c64c4ded-ef03-4e5c-81eb-153b118d72f2",
            "recipientAccountId": "946986569305", "sourceIPAddress": "211.9.16.253",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::946986569305:user/christophe",
                "accountId": "946986569305", "accessKeyId": "AKIA30BEZSJBVKOFKZW0", "userName": "christophe"},
            "requestParameters": {"userName": target},
            "responseElements": {"accessKey": {"accessKeyId": "AKIAL80DWDVKKM0UXEER",
                "createDate": "Jul 30, 2024 9:53:13 PM", "status": "Active",
                "userName": target.unwrap_or("christophe")}}});
        if target.is_none() {
            r["requestParameters"] = Value::Null;
        }
        r
    }

    #[test]
    fn fires_for_another_user() {
        let f = assert_fires(
            &RULE,
            &create_key(Some("stratus-red-team-backdoor-u-user")).to_string(),
        );
        assert_eq!(f.details["access_key_id"], "AKIAL80DWDVKKM0UXEER");
        assert_eq!(f.details["target_user"], "stratus-red-team-backdoor-u-user");
    }

    #[test]
    fn silent_for_the_callers_own_key_in_any_case() {
        // Panther's test "user1 create keys for user1": no userName, or the caller's own name.
        assert_silent(&RULE, &create_key(None).to_string());
        assert_silent(&RULE, &create_key(Some("christophe")).to_string());
        assert_silent(&RULE, &create_key(Some("Christophe")).to_string());
    }

    #[test]
    fn panther_cases_names_that_share_a_prefix_are_different_users() {
        // panther-analysis aws_iam_user_key_created.yml: "jackson create keys for jack" and
        // "jack create keys for jackson" fire; "user1 create keys for user1" does not.
        for (caller, target, fires) in [
            ("jackson", "jack", true),
            ("jack", "jackson", true),
            ("user1", "user1", false),
        ] {
            let mut r = create_key(Some(target));
            r["userIdentity"]["arn"] = json!(format!("arn:aws:iam::123456789:user/{caller}"));
            r["userIdentity"]["userName"] = json!(caller);
            if fires {
                assert_fires(&RULE, &r.to_string());
            } else {
                assert_silent(&RULE, &r.to_string());
            }
        }
    }

    #[test]
    fn role_sessions_always_act_on_another_user_services_never_alert() {
        let mut r = create_key(Some("christophe"));
        r["userIdentity"] = json!({"type": "AssumedRole", "accountId": "946986569305",
            "arn": "arn:aws:sts::946986569305:assumed-role/christophe/christophe"});
        assert_fires(&RULE, &r.to_string());
        let mut cfn = create_key(Some("svc"));
        cfn["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
        cfn["userIdentity"]["invokedBy"] = json!("cloudformation.amazonaws.com");
        assert_silent(&RULE, &cfn.to_string());
        let mut denied = create_key(Some("admin"));
        denied["errorCode"] = json!("AccessDenied");
        assert_silent(&RULE, &denied.to_string());
    }
}
