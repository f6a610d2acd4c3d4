//! `iam-login-profile-created-for-another-user`
//!
//! **What it detects.** A successful IAM `CreateLoginProfile` (a console password) for a user
//! other than the caller, made by a principal rather than by an AWS service on its behalf. When
//! the caller did not require a password reset at first sign-in, the alert is high severity.
//!
//! **Why it matters.** Giving a console password to a user that had none (a service user with
//! powerful policies, a freshly created user) opens a second way in that key rotation does not
//! close; the caller chose the password, so the caller can sign in as that user.
//!
//! **Published rule.** Elastic "AWS IAM Login Profile Created or Modified for an IAM User"
//! (f4dc90eb-e77e-4f0e-b18b-eb50da9e827e); Panther `AWS.CloudTrail.LoginProfileCreatedOrModified`.
//!
//! **How we differ.** Elastic and Panther report any caller, including users creating their own
//! profile; we report only profiles set for another user (IAM names compared
//! case-insensitively) and grade by `passwordResetRequired`: an administrator onboarding a
//! person forces a reset, an attacker keeping the password does not. Like Elastic we leave out
//! calls an AWS service made (CloudFormation, Service Catalog). Elastic's user-agent exclusions
//! (terraform, pulumi, ansible) are not copied: a user agent is the attacker's to choose.
//!
//! **Blind spots.** A `CreateLoginProfile` without `userName` made from a centralized-root
//! (`AssumeRoot`) session recovers the root password; that belongs to root-activity rules.

use crate::detector::record::{Record, lenient_bool, lenient_str};
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
pub static RULE: IamLoginProfileCreatedForAnotherUser = IamLoginProfileCreatedForAnotherUser;

/// See the module documentation.
pub struct IamLoginProfileCreatedForAnotherUser;

static META: RuleMeta = RuleMeta {
    id: "iam-login-profile-created-for-another-user",
    title: "Console password created for another IAM user",
    description: "A principal created a console login profile (password) for another IAM user. \
        Adversaries give console access to existing or new users so they can sign in as them, \
        independently of access keys.",
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
            technique_id: "T1098",
            technique_name: "Account Manipulation",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-user-login-profile/",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateLoginProfile.html",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_admin-change-user.html",
    ],
    false_positives: &[
        "Administrators onboarding people who need console access; they normally require a \
         password reset at first sign-in (medium severity here).",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether it administers users.",
        "Check details.target_user: was it a service user without console access before, and what can it do?",
        "Look for ConsoleLogin as details.target_user after this event, and its source address and MFA use.",
        "If unapproved: DeleteLoginProfile for the user, review its policies and keys, rotate the actor's credentials.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS IAM Login Profile Created or Modified for an IAM User",
        id: "f4dc90eb-e77e-4f0e-b18b-eb50da9e827e",
    },
    notes: &[
        "Only profiles for another user; a user creating its own is not reported.",
        "High severity when no password reset is required at first sign-in.",
        "Elastic's user-agent allow-list (terraform, pulumi, ansible) is not copied: callers choose their user agent.",
    ],
    events: &[EventSelector::exact(
        "iam.amazonaws.com",
        "CreateLoginProfile",
    )],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginProfileParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    user_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    password_reset_required: Option<bool>,
}

impl Rule for IamLoginProfileCreatedForAnotherUser {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        if made_by_service(record) {
            return Ok(None);
        }
        let Some(params) = record.request_parameters::<LoginProfileParams>()? else {
            return Ok(None);
        };
        let Some(target) = params.user_name.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        if !is_another_user(record, target) {
            return Ok(None);
        }
        // The API default is false: no reset unless asked for.
        let reset_required = params.password_reset_required.unwrap_or(false);
        let finding = Finding::new(
            format!(
                "{} created a console password for IAM user {}{}",
                actor_name(record),
                clean(target, 64),
                if reset_required {
                    ""
                } else {
                    " without requiring a reset at first sign-in"
                }
            ),
            json!({ "target_user": target, "password_reset_required": reset_required }),
            vec![actor_key(record), target.to_ascii_lowercase()],
        );
        Ok(Some(if reset_required {
            finding
        } else {
            finding.with_severity(Severity::High)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent};
    use serde_json::{Value, json};

    /// Trimmed from the Stratus recording aws.persistence.iam-create-user-login-profile.json.
    fn create_profile(target: &str, reset: bool) -> Value {
        json!({"eventVersion": "1.09", "eventSource": "iam.amazonaws.com", "eventName": "CreateLoginProfile",
            "awsRegion": "us-east-1", "eventID": "d3906a7d-604b-407f-acb6-fc425742821e",
            "recipientAccountId": "070411556318", "sourceIPAddress": "253.234.5.234",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::070411556318:user/christophe",
                "accountId": "070411556318", "userName": "christophe"},
            "requestParameters": {"passwordResetRequired": reset, "userName": target},
            "responseElements": {"loginProfile": {"createDate": "Aug 1, 2024 1:42:21 PM",
                "passwordResetRequired": reset, "userName": target}}})
    }

    #[test]
    fn fires_high_when_no_reset_is_required() {
        let f = assert_fires(
            &RULE,
            &create_profile("stratus-red-team-login-profile-user", false).to_string(),
        );
        assert_eq!(f.severity, Some(Severity::High));
        assert!(
            f.summary.contains("without requiring a reset"),
            "{}",
            f.summary
        );
        let f = assert_fires(&RULE, &create_profile("new-hire", true).to_string());
        assert_eq!(f.severity, None);
    }

    #[test]
    fn silent_for_own_profile_services_and_failures() {
        assert_silent(&RULE, &create_profile("CHRISTOPHE", false).to_string());
        let mut cfn = create_profile("svc", false);
        cfn["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
        assert_silent(&RULE, &cfn.to_string());
        // The failed DeleteLoginProfile of the same recording is another event; a failed
        // create changes nothing.
        let mut denied = create_profile("admin", false);
        denied["errorCode"] = json!("EntityAlreadyExists");
        assert_silent(&RULE, &denied.to_string());
    }
}
