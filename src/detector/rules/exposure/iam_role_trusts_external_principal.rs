//! `iam-role-trusts-external-principal`
//!
//! **What it detects.** A role trust policy (`CreateRole` `assumeRolePolicyDocument`,
//! `UpdateAssumeRolePolicy` `policyDocument`) that lets an account outside the zone of trust,
//! an organization outside the trusted ones, or everyone assume the role: `*`, another
//! account's principals, or web identity federation through a provider anyone can sign in to
//! without pinning the identity (GitHub Actions without a `sub` condition naming a repository
//! owner, Cognito without an `aud` condition naming an identity pool). The rules for each
//! condition are in `detector::policy`.
//!
//! **Why it matters.** A role another account can assume is a backdoor that survives the
//! rotation of every key (Stratus `iam-backdoor-role`, `iam-create-backdoor-role`); an
//! unpinned GitHub OIDC trust lets any GitHub repository in the world take the role.
//!
//! **Published rule.** Elastic "AWS IAM Assume Role Policy Update"
//! (a60326d7-dca7-4fb7-93eb-1ca03a1febbd), which fires on every `UpdateAssumeRolePolicy`.
//!
//! **How we differ.** We read the trust policy: updates that only trust the owner's account,
//! AWS services or a pinned identity provider stay silent, and `CreateRole` is covered too (the
//! Elastic rule misses a role created with a backdoor trust). Organizations outside
//! `TRUSTED_ORGANIZATIONS` are external.
//!
//! **Blind spots.** A trust policy CloudTrail did not log is counted as unevaluable. Which
//! GitHub owner is "yours" is not known offline: any fixed owner counts as pinned (the owner is
//! in `details`). Service principals are not external (services assume roles on your behalf).

use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Unevaluable, Verdict,
};
use crate::detector::rules::exposure::access::{Exposure, Zone, evaluate_table, opt_str};
use crate::exposure_table;
use serde::Deserialize;
use serde_json::Value;

const IAM: &str = "iam.amazonaws.com";

exposure_table! { ROWS, EVENTS;
    IAM, Exact("CreateRole") => "iam-role", role_trust;
    IAM, Exact("UpdateAssumeRolePolicy") => "iam-role", role_trust;
}

/// The rule value registered in the catalogue.
pub static RULE: RoleTrustsExternalPrincipal = RoleTrustsExternalPrincipal;

/// See the module documentation.
pub struct RoleTrustsExternalPrincipal;

static META: RuleMeta = RuleMeta {
    id: "iam-role-trusts-external-principal",
    title: "IAM role trust policy lets an external principal assume the role",
    description: "A role was created or its trust policy changed so that an AWS account outside \
        the zone of trust, a foreign organization, or anyone (a wildcard principal or an \
        unpinned web identity provider such as GitHub Actions or Cognito) can assume it. \
        Adversaries backdoor roles this way to keep access.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1098.003",
            technique_name: "Account Manipulation: Additional Cloud Roles",
        },
        Attack {
            tactic_id: "TA0004",
            tactic_name: "Privilege Escalation",
            technique_id: "T1098.003",
            technique_name: "Account Manipulation: Additional Cloud Roles",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-backdoor-role/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-backdoor-role/",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html",
        "https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services",
        "https://www.elastic.co/guide/en/security/current/aws-iam-assume-role-policy-update.html",
    ],
    false_positives: &[
        "Cross-account roles for partners, vendors (monitoring, backup) or your other accounts: \
         add those accounts to the trusted accounts, or your organization to the trusted \
         organizations.",
    ],
    triage: &[
        "Read details.external_accounts, details.external_organizations and details.public; for web identity, details.unpinned_identity_providers.",
        "Check what the role can do (its attached and inline policies) and whether it was used: search AssumeRole* events on details.resource.",
        "If unapproved: restore the previous trust policy, revoke the role's sessions (an inline deny on aws:TokenIssueTime), and review the actor's other changes.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS IAM Assume Role Policy Update",
        id: "a60326d7-dca7-4fb7-93eb-1ca03a1febbd",
    },
    notes: &[
        "Judges the trust policy instead of alerting on every update; covers CreateRole too.",
        "Web identity through GitHub Actions or Cognito without a pinning condition is public.",
    ],
    events: EVENTS,
    failed_calls: FailedCalls::Ignore,
};

/// `CreateRole` / `UpdateAssumeRolePolicy` request parameters.
#[derive(Deserialize)]
struct RoleTrustParams {
    #[serde(rename = "roleName", default)]
    role_name: Option<Value>,
    #[serde(rename = "assumeRolePolicyDocument", alias = "policyDocument", default)]
    policy: Option<Value>,
}

fn role_trust(record: &Record<'_>, zone: &Zone<'_>) -> Result<Option<Exposure>, Unevaluable> {
    let params: RoleTrustParams = record.require_request_parameters()?;
    let role = opt_str(&params.role_name).unwrap_or("");
    let mut exposure = Exposure::of("iam-role", zone.arn("iam", false, &format!("role/{role}")));
    let access = zone.judge_policy(params.policy.as_ref(), "requestParameters.policyDocument")?;
    exposure.add_policy_access(access);
    Ok(Some(exposure))
}

impl Rule for RoleTrustsExternalPrincipal {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, ctx: &RuleContext) -> Verdict {
        evaluate_table(ROWS, record, ctx, "opened the trust of")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{
        assert_fires, assert_silent, assert_unevaluable, finding_with,
    };
    use serde_json::json;

    const OWNER: &str = "609418236337";

    fn call(name: &str, params: Value) -> String {
        json!({"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": name,
            "eventID": "id", "awsRegion": "us-east-1", "recipientAccountId": OWNER,
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{OWNER}:user/christophe"),
                "accountId": OWNER},
            "requestParameters": params})
        .to_string()
    }

    fn trust(principal: Value, condition: Value) -> String {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal,
            "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"], "Condition": condition}]})
        .to_string()
    }

    #[test]
    fn stratus_create_backdoor_role() {
        // Stratus aws.persistence.iam-create-backdoor-role, CreateRole record (trimmed).
        let record = call(
            "CreateRole",
            json!({"assumeRolePolicyDocument": "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\n        \"AWS\": \"arn:aws:iam::193672423079:root\"\n      },\n      \"Action\": \"sts:AssumeRole\"\n    }\n  ]\n}",
                "permissionsBoundary": "arn:aws:iam::aws:policy/AWSDenyAll",
                "roleName": "stratus-red-team-malicious-iam-role"}),
        );
        let f = assert_fires(&RULE, &record);
        assert_eq!(f.details["external_accounts"], json!(["193672423079"]));
        assert_eq!(
            f.details["resource"],
            format!("arn:aws:iam::{OWNER}:role/stratus-red-team-malicious-iam-role")
        );
        assert_eq!(f.details["resource_type"], "iam-role");
        assert!(finding_with(&RULE, &record, &["193672423079"]).is_none());
    }

    #[test]
    fn stratus_backdoor_existing_role() {
        // Stratus aws.persistence.iam-backdoor-role, UpdateAssumeRolePolicy record (trimmed):
        // keeps the EC2 service and adds an outside account.
        let record = call(
            "UpdateAssumeRolePolicy",
            json!({"policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"},{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::193672423079:root\"},\"Action\":\"sts:AssumeRole\"}]}",
                "roleName": "stratus-red-team-backdoor-r-role"}),
        );
        let f = assert_fires(&RULE, &record);
        assert_eq!(f.details["external_accounts"], json!(["193672423079"]));
    }

    #[test]
    fn own_account_services_and_pinned_providers_are_silent() {
        for principal in [
            json!({"Service": "lambda.amazonaws.com"}),
            json!({"AWS": format!("arn:aws:iam::{OWNER}:root")}),
            json!({"Federated": format!("arn:aws:iam::{OWNER}:saml-provider/corp")}),
        ] {
            assert_silent(
                &RULE,
                &call(
                    "CreateRole",
                    json!({"roleName": "r",
                "assumeRolePolicyDocument": trust(principal, json!({}))}),
                ),
            );
        }
        // GitHub's documented trust: aud and sub pinned to one repository.
        assert_silent(
            &RULE,
            &call(
                "UpdateAssumeRolePolicy",
                json!({"roleName": "r",
            "policyDocument": trust(
                json!({"Federated": format!("arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com")}),
                json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                    "StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:*"}}))}),
            ),
        );
    }

    #[test]
    fn unpinned_web_identity_and_wildcards_are_public() {
        let f = assert_fires(
            &RULE,
            &call(
                "UpdateAssumeRolePolicy",
                json!({"roleName": "r",
            "policyDocument": trust(
                json!({"Federated": format!("arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com")}),
                json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}))}),
            ),
        );
        assert_eq!(f.details["public"], true);
        assert!(
            f.details["unpinned_identity_providers"][0]
                .as_str()
                .unwrap()
                .ends_with("token.actions.githubusercontent.com")
        );
        let f = assert_fires(
            &RULE,
            &call(
                "CreateRole",
                json!({"roleName": "r",
            "assumeRolePolicyDocument": trust(json!({"Federated": "cognito-identity.amazonaws.com"}),
                json!({"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"}}))}),
            ),
        );
        assert_eq!(f.details["public"], true);
        let f = assert_fires(
            &RULE,
            &call(
                "CreateRole",
                json!({"roleName": "r",
            "assumeRolePolicyDocument": trust(json!({"AWS": "*"}), json!({}))}),
            ),
        );
        assert_eq!(f.details["public"], true);
    }

    #[test]
    fn foreign_organization_is_external_once_organizations_are_trusted() {
        let record = call(
            "CreateRole",
            json!({"roleName": "r",
            "assumeRolePolicyDocument": trust(json!({"AWS": "*"}),
                json!({"StringEquals": {"aws:PrincipalOrgID": "o-attacker12"}}))}),
        );
        assert_silent(&RULE, &record);
        let f = finding_with(&RULE, &record, &["o-mine123456"]).unwrap();
        assert_eq!(f.details["external_organizations"], json!(["o-attacker12"]));
    }

    #[test]
    fn a_trust_policy_that_was_not_logged_is_unevaluable() {
        assert_unevaluable(
            &RULE,
            &call("UpdateAssumeRolePolicy", json!({"roleName": "r"})),
        );
    }
}
