//! `iam-admin-policy-granted`
//!
//! **What it detects.** Full administrator rights given to an IAM user, group or role: the AWS
//! managed `AdministratorAccess` policy attached (`AttachUserPolicy`, `AttachGroupPolicy`,
//! `AttachRolePolicy`, in any partition), or an inline policy put (`PutUserPolicy`,
//! `PutGroupPolicy`, `PutRolePolicy`) with an `Allow` statement of action `*` on resource `*`.
//! Users and groups alert at high severity, roles at medium (admin roles are a normal design;
//! admin users are not).
//!
//! **Why it matters.** Creating a user and making it administrator is the classic backdoor
//! account; granting admin to a principal the attacker controls is privilege escalation in one
//! call.
//!
//! **Published rule.** Elastic "AWS IAM AdministratorAccess Policy Attached to User"
//! (9aa4be8d-5828-417d-9f54-7cd304571b24), with its Group (df919b5e-a0f6-4fd8-8598-e3ce79299e3b)
//! and Role (dde13d58-bc39-4aa0-87fd-b4bdbf4591da) siblings; Panther
//! `AWS.IAM.AttachAdminUserPolicy` and `AWS.IAM.AttachAdminRolePolicy`.
//!
//! **How we differ.** The published rules look only for the managed policy's ARN (Elastic by
//! substring, `aws` partition only); an inline `*:*` policy, the same rights, passes them by.
//! We read inline policy documents with the policy module, and match the managed policy ARN in
//! every partition. One rule covers users, groups and roles with the principal kind in the
//! details. Calls an AWS service made (CloudFormation applying a template) are left out.
//!
//! **Blind spots.** Near-admin grants (`iam:*`, `NotAction` statements, `PowerUserAccess`,
//! `IAMFullAccess`) and admin rights through a new customer-managed policy version are not
//! reported here. Adding a user to an existing admin group (`AddUserToGroup`) is not either.

use crate::detector::arn::Arn;
use crate::detector::policy::full_admin_grants;
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
pub static RULE: IamAdminPolicyGranted = IamAdminPolicyGranted;

/// See the module documentation.
pub struct IamAdminPolicyGranted;

static META: RuleMeta = RuleMeta {
    id: "iam-admin-policy-granted",
    title: "Administrator rights granted to an IAM user, group or role",
    description: "The AdministratorAccess managed policy was attached to, or an inline policy \
        allowing every action on every resource was put on, an IAM user, group or role. \
        Adversaries create admin users as backdoors and grant themselves admin to escalate.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0004",
            tactic_name: "Privilege Escalation",
            technique_id: "T1098.003",
            technique_name: "Additional Cloud Roles",
        },
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1136.003",
            technique_name: "Cloud Account",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-admin-user/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.iam-create-backdoor-role/",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachUserPolicy.html",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html",
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AdministratorAccess.html",
    ],
    false_positives: &[
        "Creating break-glass or administrator roles on purpose (roles are medium severity for \
         this reason); admin rights on IAM users are discouraged by AWS and rarely legitimate.",
        "Infrastructure-as-code run from a pipeline role that manages admin roles.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether it administers IAM.",
        "Read details.principal_kind and details.principal: was it just created (CreateUser/CreateRole by the same actor)? Does it have access keys, a login profile, or a trust policy letting outsiders in?",
        "Search for activity by the principal after this event.",
        "If unapproved: detach or delete the policy, disable the principal's credentials, rotate the actor's credentials.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS IAM AdministratorAccess Policy Attached to User",
        id: "9aa4be8d-5828-417d-9f54-7cd304571b24",
    },
    notes: &[
        "Inline policies allowing * on * are read and reported; the published rules only look for the managed policy ARN.",
        "The managed policy ARN is matched in every partition (aws-us-gov, aws-cn, ...).",
        "Users, groups and roles in one rule; roles at medium severity.",
        "Calls made by an AWS service (CloudFormation) are left out.",
    ],
    events: &[
        EventSelector::exact("iam.amazonaws.com", "AttachUserPolicy"),
        EventSelector::exact("iam.amazonaws.com", "AttachGroupPolicy"),
        EventSelector::exact("iam.amazonaws.com", "AttachRolePolicy"),
        EventSelector::exact("iam.amazonaws.com", "PutUserPolicy"),
        EventSelector::exact("iam.amazonaws.com", "PutGroupPolicy"),
        EventSelector::exact("iam.amazonaws.com", "PutRolePolicy"),
    ],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyGrantParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    user_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    group_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    role_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    policy_arn: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    policy_name: Option<Cow<'a, str>>,
    #[serde(default)]
    policy_document: Option<Value>,
}

/// True for `arn:PARTITION:iam::aws:policy/AdministratorAccess`.
pub fn is_administrator_access(policy_arn: &str) -> bool {
    Arn::parse(policy_arn.trim()).is_some_and(|arn| {
        arn.service == "iam" && arn.account == "aws" && arn.resource == "policy/AdministratorAccess"
    })
}

impl Rule for IamAdminPolicyGranted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        if made_by_service(record) {
            return Ok(None);
        }
        let params: PolicyGrantParams = record.require_request_parameters()?;
        let (kind, principal) = match record.name() {
            "AttachUserPolicy" | "PutUserPolicy" => ("user", params.user_name.as_deref()),
            "AttachGroupPolicy" | "PutGroupPolicy" => ("group", params.group_name.as_deref()),
            _ => ("role", params.role_name.as_deref()),
        };
        let principal = principal.unwrap_or("");
        let (how, statements) = if record.name().starts_with("Attach") {
            let arn = params
                .policy_arn
                .as_deref()
                .ok_or(Unevaluable::Missing("requestParameters.policyArn"))?;
            if !is_administrator_access(arn) {
                return Ok(None);
            }
            ("attached AdministratorAccess to".to_owned(), Vec::new())
        } else {
            let document = params
                .policy_document
                .as_ref()
                .filter(|d| !d.is_null())
                .ok_or(Unevaluable::Missing("requestParameters.policyDocument"))?;
            let grants = full_admin_grants(document)
                .map_err(|e| Unevaluable::malformed("requestParameters.policyDocument", e))?;
            if grants.is_empty() {
                return Ok(None);
            }
            let conditional = grants.iter().all(|g| !g.conditions.is_empty());
            (
                format!(
                    "put inline policy {} allowing every action on every resource{} on",
                    clean(params.policy_name.as_deref().unwrap_or("(unnamed)"), 128),
                    if conditional {
                        " (with conditions)"
                    } else {
                        ""
                    }
                ),
                grants,
            )
        };
        let finding = Finding::new(
            format!(
                "{} {how} IAM {kind} {}",
                actor_name(record),
                clean(principal, 128)
            ),
            json!({
                "principal_kind": kind,
                "principal": principal,
                "policy_arn": params.policy_arn,
                "policy_name": params.policy_name,
                "admin_statements": statements,
            }),
            vec![actor_key(record), kind.to_owned(), principal.to_owned()],
        );
        Ok(Some(if kind == "role" {
            finding.with_severity(Severity::Medium)
        } else {
            finding
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::json;

    /// Trimmed from the Stratus recording aws.persistence.iam-create-admin-user.json.
    fn call(name: &str, params: Value) -> String {
        json!({"eventVersion": "1.09", "eventSource": "iam.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "eventID": "083dc4ad-e264-46bc-a407-d0dd31b58bdc",
            "recipientAccountId": "229654561268", "sourceIPAddress": "75.50.255.67",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::229654561268:user/christophe",
                "accountId": "229654561268", "userName": "christophe"},
            "requestParameters": params, "responseElements": null})
        .to_string()
    }

    #[test]
    fn fires_on_administrator_access_for_users_groups_and_roles() {
        let f = assert_fires(
            &RULE,
            &call(
                "AttachUserPolicy",
                json!({"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
                "userName": "malicious-iam-user"}),
            ),
        );
        assert_eq!(f.severity, None);
        assert_eq!(f.details["principal_kind"], "user");
        assert!(
            f.summary
                .contains("attached AdministratorAccess to IAM user malicious-iam-user"),
            "{}",
            f.summary
        );
        let f = assert_fires(
            &RULE,
            &call(
                "AttachGroupPolicy",
                json!({"policyArn": "arn:aws-us-gov:iam::aws:policy/AdministratorAccess",
                "groupName": "ops"}),
            ),
        );
        assert_eq!(f.details["principal_kind"], "group");
        // From aws.persistence.iam-create-backdoor-role.json: roles are medium.
        let f = assert_fires(
            &RULE,
            &call(
                "AttachRolePolicy",
                json!({"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
                "roleName": "stratus-red-team-malicious-iam-role"}),
            ),
        );
        assert_eq!(f.severity, Some(Severity::Medium));
    }

    #[test]
    fn fires_on_inline_star_star_policies() {
        // requestParameters.policyDocument is the JSON text, as CloudTrail logs PutUserPolicy.
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let f = assert_fires(
            &RULE,
            &call(
                "PutUserPolicy",
                json!({"userName": "bob", "policyName": "full", "policyDocument": doc}),
            ),
        );
        assert_eq!(f.details["admin_statements"][0]["sid"], "#0");
        assert!(f.summary.contains("inline policy full"), "{}", f.summary);
    }

    #[test]
    fn silent_for_other_policies_and_services() {
        for arn in [
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::229654561268:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/job-function/SystemAdministrator",
        ] {
            assert_silent(
                &RULE,
                &call(
                    "AttachUserPolicy",
                    json!({"policyArn": arn, "userName": "bob"}),
                ),
            );
        }
        let scoped = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert_silent(
            &RULE,
            &call(
                "PutRolePolicy",
                json!({"roleName": "r", "policyName": "p", "policyDocument": scoped}),
            ),
        );
        let mut cfn: Value = serde_json::from_str(&call(
            "AttachRolePolicy",
            json!({"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "roleName": "r"}),
        ))
        .unwrap();
        cfn["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
        assert_silent(&RULE, &cfn.to_string());
    }

    #[test]
    fn unevaluable_for_unreadable_documents() {
        assert_unevaluable(
            &RULE,
            &call(
                "PutGroupPolicy",
                json!({"groupName": "g", "policyName": "p", "policyDocument": "{not json"}),
            ),
        );
        assert_unevaluable(
            &RULE,
            &call(
                "PutGroupPolicy",
                json!({"groupName": "g", "policyName": "p"}),
            ),
        );
        assert_unevaluable(&RULE, &call("AttachUserPolicy", json!({"userName": "u"})));
    }
}
