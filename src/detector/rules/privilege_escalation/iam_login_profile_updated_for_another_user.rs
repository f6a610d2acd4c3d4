//! `iam-login-profile-updated-for-another-user`
//!
//! **What it detects.** A successful IAM `UpdateLoginProfile` that changes the console password
//! of a user other than the caller, made by a principal rather than by an AWS service on its
//! behalf.
//!
//! **Why it matters.** With `iam:UpdateLoginProfile` on other users, an attacker resets the
//! password of a more privileged user and signs in as them: a direct privilege escalation and an
//! account takeover that locks the real owner out.
//!
//! **Published rule.** Sigma "AWS User Login Profile Was Modified"
//! (055fb148-60f8-462d-ad16-26926ce050f1); Elastic "AWS IAM Login Profile Created or Modified
//! for an IAM User" (f4dc90eb-e77e-4f0e-b18b-eb50da9e827e).
//!
//! **How we differ.** Sigma compares `userIdentity.arn` with `requestParameters.userName`, two
//! different things (an ARN never equals a bare name), so it fires on every update, including a
//! user changing their own password this way. We compare IAM user names case-insensitively and
//! leave out calls an AWS service made.
//!
//! **Blind spots.** Users changing their own password use `ChangePassword`, not reported.

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
pub static RULE: IamLoginProfileUpdatedForAnotherUser = IamLoginProfileUpdatedForAnotherUser;

/// See the module documentation.
pub struct IamLoginProfileUpdatedForAnotherUser;

static META: RuleMeta = RuleMeta {
    id: "iam-login-profile-updated-for-another-user",
    title: "Console password of another IAM user changed",
    description: "A principal changed the console password of another IAM user. Adversaries \
        with iam:UpdateLoginProfile reset the password of a more privileged user to sign in as \
        that user.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0004",
            tactic_name: "Privilege Escalation",
            technique_id: "T1098",
            technique_name: "Account Manipulation",
        },
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1098",
            technique_name: "Account Manipulation",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.privilege-escalation.iam-update-user-login-profile/",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateLoginProfile.html",
        "https://github.com/RhinoSecurityLabs/AWS-IAM-Privilege-Escalation",
    ],
    false_positives: &[
        "Help-desk or administrators resetting a forgotten password; they normally require a \
         reset at next sign-in (details.password_reset_required).",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether it handles password resets.",
        "Ask the owner of details.target_user whether they requested a reset.",
        "Look for ConsoleLogin as details.target_user after this event, and its source address and MFA use.",
        "If unapproved: reset the password again with a forced change, review the user's recent activity, rotate the actor's credentials.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Sigma",
        name: "AWS User Login Profile Was Modified",
        id: "055fb148-60f8-462d-ad16-26926ce050f1",
    },
    notes: &[
        "Compares IAM user names, not an ARN with a name as Sigma does (which never matches).",
        "Calls made by an AWS service are left out.",
    ],
    events: &[EventSelector::exact(
        "iam.amazonaws.com",
        "UpdateLoginProfile",
    )],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateLoginProfileParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    user_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    password_reset_required: Option<bool>,
}

impl Rule for IamLoginProfileUpdatedForAnotherUser {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        if made_by_service(record) {
            return Ok(None);
        }
        let Some(params) = record.request_parameters::<UpdateLoginProfileParams>()? else {
            return Ok(None);
        };
        let Some(target) = params.user_name.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        if !is_another_user(record, target) {
            return Ok(None);
        }
        Ok(Some(Finding::new(
            format!(
                "{} changed the console password of IAM user {}",
                actor_name(record),
                clean(target, 64)
            ),
            json!({
                "target_user": target,
                "password_reset_required": params.password_reset_required,
            }),
            vec![actor_key(record), target.to_ascii_lowercase()],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent};
    use serde_json::{Value, json};

    /// Trimmed from the Stratus recording
    /// aws.privilege-escalation.iam-update-user-login-profile.json (the password is not logged).
    fn update_profile(target: &str) -> Value {
        json!({"eventVersion": "1.09", "eventSource": "iam.amazonaws.com", "eventName": "UpdateLoginProfile",
            "awsRegion": "us-east-1", "eventID": "a46a1a42-9ef1-48d4-9c61-507eb6d4019f",
            "recipientAccountId": "763751499319", "sourceIPAddress": "212.3.253.233",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::763751499319:user/christophe",
                "accountId": "763751499319", "userName": "christophe"},
            "requestParameters": {"userName": target},
            "responseElements": null})
    }

    #[test]
    fn fires_for_another_user() {
        let f = assert_fires(
            &RULE,
            &update_profile("stratus-red-team-update-login-profile-user").to_string(),
        );
        assert_eq!(
            f.details["target_user"],
            "stratus-red-team-update-login-profile-user"
        );
        assert!(
            f.summary.contains("changed the console password"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn silent_for_own_password_services_and_failures() {
        assert_silent(&RULE, &update_profile("christophe").to_string());
        let mut cfn = update_profile("bob");
        cfn["userIdentity"] =
            json!({"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"});
        assert_silent(&RULE, &cfn.to_string());
        let mut denied = update_profile("admin");
        denied["errorCode"] = json!("AccessDenied");
        assert_silent(&RULE, &denied.to_string());
    }
}
