//! `console-login-without-mfa`
//!
//! **What it detects.** A successful `ConsoleLogin` by an IAM user or the root user with
//! `additionalEventData.MFAUsed` = `No`: the password alone opened the console.
//!
//! **Why it matters.** A password is phished, guessed or reused; MFA is what stops it. A console
//! session without MFA is how stolen passwords become access (Stratus
//! `aws.initial-access.console-login-without-mfa`).
//!
//! **Published rule.** Panther "Logins Without MFA" (AWS.Console.LoginWithoutMFA); Elastic "AWS
//! IAM User Console Login Without MFA" (f5778acd-80e3-4ca0-a32a-6259386dfb20); Sigma "AWS
//! Successful Console Login Without MFA" (77caf516-34e5-4df9-b4db-20744fea0a60).
//!
//! **How we differ.** Sigma fires on every identity type. Federated sign-ins (`AssumedRole`
//! through IAM Identity Center or a SAML/OIDC IdP, `SAMLUser`, `WebIdentityUser`,
//! `FederatedUser` through `GetSigninToken`) always log `MFAUsed: No` because MFA, if any, was
//! done by the IdP or by the session that minted the token: we skip them, as Panther does for
//! SSO and SAML (Panther also keeps assumed roles unless told they come from an IdP; we cannot
//! tell a direct role sign-in from an IdP one in the record, and IdP sign-ins are the common
//! case). Unlike Elastic we also cover the root user (at high severity). Panther's new-user and
//! new-account suppressions need state we do not keep.
//!
//! **Blind spots.** A federated sign-in whose IdP does not enforce MFA. Failed sign-ins
//! (password guessing) are a different concern and are not reported here.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::initial_access::CLOUD_ACCOUNTS;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: ConsoleLoginWithoutMfa = ConsoleLoginWithoutMfa;

/// See the module documentation.
pub struct ConsoleLoginWithoutMfa;

static META: RuleMeta = RuleMeta {
    id: "console-login-without-mfa",
    title: "Console sign-in without MFA (IAM user or root)",
    description: "An IAM user or the root user signed in to the AWS console with a password \
        and no MFA. Stolen or guessed passwords become console access this way.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[CLOUD_ACCOUNTS],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.initial-access.console-login-without-mfa/",
        "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_console_login_without_mfa.yml",
    ],
    false_positives: &[
        "IAM users that have not enrolled MFA yet (break-glass or legacy users): enforce MFA \
         rather than suppress the alert.",
    ],
    triage: &[
        "Identify the user (actor.arn, actor.user_name) and whether it should have a console password at all.",
        "Check actor.source_ip and actor.user_agent against the user's usual sign-ins.",
        "Review what the session did next (same user name and source IP in CloudTrail).",
        "If unexpected: reset the password, enforce MFA (an IAM policy denying actions without aws:MultiFactorAuthPresent), and review the session's changes.",
    ],
    dedup_period_minutes: 1440,
    implements: SourceRule {
        vendor: "Panther",
        name: "Logins Without MFA",
        id: "AWS.Console.LoginWithoutMFA",
    },
    notes: &[
        "Only IAM users and root: federated sign-ins (AssumedRole, SAMLUser, WebIdentityUser, \
         FederatedUser, or a SamlProviderArn) log MFAUsed No by design (Sigma fires on them).",
        "Root sign-ins without MFA are high severity (Elastic covers IAM users only).",
        "One alert per user and source IP per day.",
    ],
    events: &[EventSelector::exact("signin.amazonaws.com", "ConsoleLogin")],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
struct SignInData<'a> {
    #[serde(rename = "MFAUsed", default, borrow, deserialize_with = "lenient_str")]
    mfa_used: Option<Cow<'a, str>>,
    #[serde(
        rename = "SamlProviderArn",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    saml_provider_arn: Option<Cow<'a, str>>,
    #[serde(rename = "LoginTo", default, borrow, deserialize_with = "lenient_str")]
    login_to: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct SignInResponse<'a> {
    #[serde(
        rename = "ConsoleLogin",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    outcome: Option<Cow<'a, str>>,
}

impl Rule for ConsoleLoginWithoutMfa {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let identity = record.user_identity.as_ref();
        let kind = identity
            .and_then(|u| u.identity_type.as_deref())
            .unwrap_or("");
        if kind != "IAMUser" && kind != "Root" {
            return Ok(None);
        }
        let outcome: Option<SignInResponse> = record.response_elements()?;
        if outcome
            .and_then(|o| o.outcome)
            .is_some_and(|o| o != "Success")
        {
            return Ok(None);
        }
        let data: SignInData = record
            .additional_event_data()?
            .ok_or(Unevaluable::Missing("additionalEventData"))?;
        if data.saml_provider_arn.is_some() {
            return Ok(None);
        }
        let mfa = data
            .mfa_used
            .ok_or(Unevaluable::Missing("additionalEventData.MFAUsed"))?;
        if !mfa.eq_ignore_ascii_case("No") {
            return Ok(None);
        }
        let root = kind == "Root";
        let who = if root {
            format!(
                "The root user of account {}",
                record.owner_account().unwrap_or("")
            )
        } else {
            actor_name(record)
        };
        let source_ip = record.source_ip_address.as_deref().unwrap_or("");
        let finding = Finding::new(
            format!(
                "{who} signed in to the AWS console without MFA from {}",
                crate::detector::text::clean(source_ip, 64)
            ),
            json!({
                "identity_type": kind,
                "mfa_used": mfa,
                "login_to": data.login_to,
                "source_ip": source_ip,
            }),
            vec![
                identity
                    .and_then(|u| u.arn.as_deref())
                    .unwrap_or(kind)
                    .to_owned(),
                source_ip.to_owned(),
            ],
        );
        Ok(Some(if root {
            finding.with_severity(Severity::High)
        } else {
            finding
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::Value;

    /// aws.initial-access.console-login-without-mfa.json (Stratus), as recorded.
    const STRATUS: &str = r#"{"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home","MFAUsed":"No","MobileVersion":"No"},
        "awsRegion":"eu-west-2","eventCategory":"Management","eventID":"865d9377-9c6b-4fd7-8aad-725e95f6a140",
        "eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com","eventTime":"2024-08-02T08:53:24Z",
        "eventType":"AwsConsoleSignIn","eventVersion":"1.08","managementEvent":true,"readOnly":false,
        "recipientAccountId":"562283505220","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},
        "sourceIPAddress":"225.01.00.16","userAgent":"stratus-red-team_fccf7123",
        "userIdentity":{"accountId":"562283505220","arn":"arn:aws:iam::562283505220:user/stratus-red-team-nmfalu-jfzdtsvchl",
        "principalId":"AIDA1ERT0661IN5R239V","type":"IAMUser","userName":"stratus-red-team-nmfalu-jfzdtsvchl"}}"#;

    fn with(change: impl FnOnce(&mut Value)) -> String {
        let mut record: Value = serde_json::from_str(STRATUS).unwrap();
        change(&mut record);
        record.to_string()
    }

    #[test]
    fn an_iam_user_without_mfa_fires() {
        let f = assert_fires(&RULE, STRATUS);
        assert_eq!(f.severity, None);
        assert!(
            f.summary.contains("without MFA from 225.01.00.16"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn root_without_mfa_is_high() {
        // Panther's "No MFA Login - Root User" identity.
        let root = with(|r| {
            r["userIdentity"] = json!({"type": "Root", "principalId": "562283505220",
                "arn": "arn:aws:iam::562283505220:root", "accountId": "562283505220"});
        });
        let f = assert_fires(&RULE, &root);
        assert_eq!(f.severity, Some(Severity::High));
        assert!(
            f.summary
                .starts_with("The root user of account 562283505220")
        );
    }

    #[test]
    fn mfa_federated_saml_and_failed_sign_ins_are_silent() {
        assert_silent(
            &RULE,
            &with(|r| r["additionalEventData"]["MFAUsed"] = json!("Yes")),
        );
        // Panther's "MFA Login - SAML": an IAMUser record with a SAML provider.
        assert_silent(
            &RULE,
            &with(|r| {
                r["additionalEventData"]["SamlProviderArn"] =
                    json!("arn:aws:iam::123456789012:saml-provider/Okta")
            }),
        );
        // Panther's "AWS SSOv2 Login": an assumed AWSReservedSSO role logs MFAUsed No.
        assert_silent(
            &RULE,
            &with(|r| {
                r["userIdentity"] = json!({"type": "AssumedRole",
                    "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_abc/user@example.com",
                    "accountId": "123456789012"})
            }),
        );
        for kind in ["SAMLUser", "WebIdentityUser", "FederatedUser"] {
            assert_silent(&RULE, &with(|r| r["userIdentity"]["type"] = json!(kind)));
        }
        // Panther's "No MFA - Login Failed": CloudTrail logs the error message.
        assert_silent(
            &RULE,
            &with(|r| {
                r["responseElements"]["ConsoleLogin"] = json!("Failure");
                r["errorMessage"] = json!("Failed authentication");
            }),
        );
        assert_silent(
            &RULE,
            &with(|r| r["responseElements"]["ConsoleLogin"] = json!("Failure")),
        );
    }

    #[test]
    fn a_success_without_the_mfa_field_is_counted() {
        assert_unevaluable(&RULE, &with(|r| r["additionalEventData"] = Value::Null));
        assert_unevaluable(
            &RULE,
            &with(|r| {
                r["additionalEventData"]
                    .as_object_mut()
                    .unwrap()
                    .remove("MFAUsed");
            }),
        );
    }
}
