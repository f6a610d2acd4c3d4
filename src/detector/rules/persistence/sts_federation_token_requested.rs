//! `sts-federation-token-requested`
//!
//! **What it detects.** A successful STS `GetFederationToken`: temporary credentials for a
//! federated user session, minted from an IAM user's long-term credentials. Graded by the
//! session policy passed, which bounds what the session can do: a policy allowing `*` on `*` (or
//! the `AdministratorAccess` managed policy) is high severity, any other policy medium, and no
//! policy at all low (AWS gives such a session no permissions beyond resource policies that
//! name it).
//!
//! **Why it matters.** Federation tokens last up to 36 hours and stay valid after the IAM user's
//! access key is deactivated or deleted, so an attacker mints them to outlive a key rotation;
//! the session also appears under a federated-user name of the attacker's choosing.
//!
//! **Published rule.** Elastic "AWS STS GetFederationToken with AdministratorAccess in Request"
//! (f2a3b4c5-d6e7-4f89-a012-b3c4d5e6f789) and "AWS First Occurrence of STS GetFederationToken
//! Request by User" (7a5cc9a8-5ea3-11ef-beec-f661ea17fbce).
//!
//! **How we differ.** Elastic's high-severity rule looks for the text `AdministratorAccess` in
//! the request, so an inline session policy of `*` on `*` (what the Stratus technique sends)
//! passes it by; we read the policy with the policy module. Its first-occurrence rule needs
//! history; we report every call instead, graded by what the session can do.
//!
//! **Blind spots.** Tools that sign in IAM users to the console through federation tokens
//! (aws-vault login) raise this for their users; their session names and user agents show it.

use crate::detector::policy::full_admin_grants;
use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name};
use crate::detector::rules::privilege_escalation::iam_admin_policy_granted::is_administrator_access;
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: StsFederationTokenRequested = StsFederationTokenRequested;

/// See the module documentation.
pub struct StsFederationTokenRequested;

static META: RuleMeta = RuleMeta {
    id: "sts-federation-token-requested",
    title: "STS federation token minted from an IAM user",
    description: "An IAM user obtained federated-user credentials with GetFederationToken. \
        These credentials last up to 36 hours and survive the deletion of the user's access key; \
        adversaries mint them to keep access after a key rotation.",
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
            tactic_id: "TA0005",
            tactic_name: "Defense Evasion",
            technique_id: "T1550.001",
            technique_name: "Application Access Token",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.sts-federation-token/",
        "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getfederationtoken.html",
    ],
    false_positives: &[
        "Custom identity brokers and console sign-in helpers (aws-vault login) that federate IAM \
         users; recognise them by the actor and details.federated_user naming.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id): which IAM user minted the session, and from where (actor.source_ip)?",
        "Read details.federated_user, details.admin_session_policy and details.policy_arns: what can the session do?",
        "Search for calls by details.federated_user_arn (userIdentity.type FederatedUser) over the next 36 hours.",
        "If unapproved: attach a deny policy to the IAM user conditioned on aws:TokenIssueTime (revoking sessions does not apply to federation tokens otherwise), rotate its keys.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS STS GetFederationToken with AdministratorAccess in Request",
        id: "f2a3b4c5-d6e7-4f89-a012-b3c4d5e6f789",
    },
    notes: &[
        "Inline session policies allowing * on * are read and graded high; Elastic matches only \
         the AdministratorAccess text.",
        "Every call is reported (Elastic's other rule reports only a user's first), graded by the \
         session policy: none is low, as such a session gets no identity permissions.",
    ],
    events: &[EventSelector::exact(
        "sts.amazonaws.com",
        "GetFederationToken",
    )],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FederationTokenParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    policy: Option<Value>,
    #[serde(default)]
    policy_arns: Option<Value>,
    #[serde(default)]
    duration_seconds: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FederationTokenResponse<'a> {
    #[serde(default, borrow)]
    federated_user: Option<FederatedUser<'a>>,
}

#[derive(Deserialize)]
struct FederatedUser<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    arn: Option<Cow<'a, str>>,
}

impl Rule for StsFederationTokenRequested {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: FederationTokenParams = record.require_request_parameters()?;
        let name = params.name.as_deref().unwrap_or("");
        let inline = params
            .policy
            .as_ref()
            .filter(|p| !p.is_null() && p.as_str() != Some(""));
        let admin_statements = match inline {
            Some(policy) => full_admin_grants(policy)
                .map_err(|e| Unevaluable::malformed("requestParameters.policy", e))?,
            None => Vec::new(),
        };
        let policy_arns: Vec<String> = match &params.policy_arns {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| {
                    i.get("arn")
                        .or_else(|| i.get("Arn"))
                        .and_then(Value::as_str)
                })
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let admin =
            !admin_statements.is_empty() || policy_arns.iter().any(|a| is_administrator_access(a));
        let (severity, scope) = if admin {
            (Severity::High, "with an administrator session policy")
        } else if inline.is_some() || !policy_arns.is_empty() {
            (Severity::Medium, "with a scoped session policy")
        } else {
            (Severity::Low, "without a session policy")
        };
        let federated_arn = record
            .response_elements::<FederationTokenResponse>()?
            .and_then(|r| r.federated_user)
            .and_then(|u| u.arn.map(Cow::into_owned));
        let finding = Finding::new(
            format!(
                "{} minted federated-user credentials as {} {scope}",
                actor_name(record),
                clean(name, 64)
            ),
            json!({
                "federated_user": name,
                "federated_user_arn": federated_arn,
                "admin_session_policy": admin,
                "admin_statements": admin_statements,
                "policy_arns": policy_arns,
                "duration_seconds": params.duration_seconds,
            }),
            vec![actor_key(record), name.to_owned()],
        );
        Ok(Some(if severity == META.severity {
            finding
        } else {
            finding.with_severity(severity)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::json;

    /// Trimmed from the Stratus recording aws.persistence.sts-federation-token.json.
    fn federation(params: Value) -> Value {
        json!({"eventVersion": "1.08", "eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken",
            "awsRegion": "us-east-1", "eventID": "6e882b9d-2af8-4c67-b91f-aeac6a0e5e70",
            "recipientAccountId": "742491224508", "sourceIPAddress": "255.90.254.5",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user",
                "accountId": "742491224508", "userName": "stratus-red-team-user-federation-user"},
            "requestParameters": params,
            "responseElements": {"credentials": {"accessKeyId": "ASIASTJKC5GCM7ZE6LUP", "expiration": "Nov 30, 2024, 8:43:17 PM"},
                "federatedUser": {"arn": "arn:aws:sts::742491224508:federated-user/stratus_red_team",
                    "federatedUserId": "742491224508:stratus_red_team"}, "packedPolicySize": 4}})
    }

    #[test]
    fn an_inline_star_star_policy_is_high() {
        let stratus_policy = "{\n\t\t\"Version\": \"2012-10-17\",\n\t\t\"Statement\": [\n\t\t\t{\n\t\t\t\t\"Effect\": \"Allow\",\n\t\t\t\t\"Action\": \"*\",\n\t\t\t\t\"Resource\": \"*\"\n\t\t\t}\n\t\t]\n\t}";
        let f = assert_fires(
            &RULE,
            &federation(json!({"name": "stratus_red_team", "policy": stratus_policy})).to_string(),
        );
        assert_eq!(f.severity, Some(Severity::High));
        assert_eq!(
            f.details["federated_user_arn"],
            "arn:aws:sts::742491224508:federated-user/stratus_red_team"
        );
        let f = assert_fires(
            &RULE,
            &federation(json!({"name": "n",
            "policyArns": [{"arn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}))
            .to_string(),
        );
        assert_eq!(f.severity, Some(Severity::High));
    }

    #[test]
    fn scoped_and_missing_policies_grade_lower() {
        let scoped = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let f = assert_fires(
            &RULE,
            &federation(json!({"name": "broker", "policy": scoped})).to_string(),
        );
        assert_eq!(f.severity, None);
        let f = assert_fires(&RULE, &federation(json!({"name": "bare"})).to_string());
        assert_eq!(f.severity, Some(Severity::Low));
    }

    #[test]
    fn unevaluable_policy_and_silent_failures() {
        assert_unevaluable(
            &RULE,
            &federation(json!({"name": "x", "policy": "{oops"})).to_string(),
        );
        let mut denied = federation(json!({"name": "x"}));
        denied["errorCode"] = json!("AccessDenied");
        assert_silent(&RULE, &denied.to_string());
    }
}
