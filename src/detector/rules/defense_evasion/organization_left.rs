//! `organization-left`
//!
//! **What it detects.** `LeaveOrganization`, successful or not.
//!
//! **Why it matters.** An account that leaves its AWS Organization escapes its service control
//! policies, organization trail, delegated GuardDuty and Security Hub administrators and
//! centralised backups at once: every organization-level guardrail is gone.
//!
//! **Published rule.** Elastic "AWS Attempt to Leave Organization"
//! (4236393d-090e-4dfa-9e32-c9a7ec6189ee); Panther "AWS CloudTrail Attempt To Leave Org"
//! (AWS.CloudTrail.AttemptToLeaveOrg).
//!
//! **How we differ.** Like Elastic we report attempts; we grade them: a success is critical, a
//! failure (the Stratus detonation is denied by an SCP or IAM) high, and the summary says which.
//!
//! **Blind spots.** The management account removing a member (`RemoveAccountFromOrganization`)
//! is logged in the management account and is not this rule's.

use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::defense_evasion::{DISABLE_TOOLS, impairment};
use serde_json::json;

/// The rule value registered in the catalogue.
pub static RULE: OrganizationLeft = OrganizationLeft;

/// See the module documentation.
pub struct OrganizationLeft;

static META: RuleMeta = RuleMeta {
    id: "organization-left",
    title: "Account left (or tried to leave) its AWS Organization",
    description: "An account called LeaveOrganization. Leaving drops every service control \
        policy, the organization trail and the delegated security services at once.",
    severity: Severity::Critical,
    risk_score: 90,
    mitre_attack: &[
        DISABLE_TOOLS,
        Attack {
            tactic_id: "TA0040",
            tactic_name: "Impact",
            technique_id: "T1531",
            technique_name: "Account Access Removal",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.organizations-leave/",
        "https://docs.aws.amazon.com/organizations/latest/APIReference/API_LeaveOrganization.html",
        "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_remove.html",
    ],
    false_positives: &[
        "An account divested or moved to another organization under a change plan; the \
         management account's team knows.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.session_issuer_arn, actor.source_ip, actor.user_agent): who in this account may call organizations:LeaveOrganization?",
        "If it failed (details.failed): something denied it (an SCP should); treat the actor's credentials as compromised and review its other calls.",
        "If it succeeded: the account is outside the organization's guardrails; re-invite it from the management account, and review everything the actor did since, from the account's own CloudTrail event history.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS Attempt to Leave Organization",
        id: "4236393d-090e-4dfa-9e32-c9a7ec6189ee",
    },
    notes: &["A successful call is critical; a failed attempt is high and says it failed."],
    events: &[EventSelector::exact(
        "organizations.amazonaws.com",
        "LeaveOrganization",
    )],
    failed_calls: FailedCalls::Evaluate,
};

impl Rule for OrganizationLeft {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let account = record.owner_account().unwrap_or("");
        let verb = if record.failed() {
            "tried to take"
        } else {
            "took"
        };
        Ok(Some(impairment(
            record,
            format!(
                "{} {verb} account {account} out of its AWS Organization",
                actor_name(record)
            ),
            json!({ "account": account }),
            vec![account.to_owned()],
            None,
            Severity::High,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_not_routed};

    /// aws.defense-evasion.organizations-leave.json (Stratus), trimmed: denied by IAM.
    const STRATUS_DENIED: &str = r#"{"awsRegion":"us-east-1","errorCode":"AccessDenied",
        "errorMessage":"User: arn:aws:sts::307578594326:assumed-role/stratus-red-team-leave-org-role/aws-go-sdk-1722587398902687000 is not authorized to perform: organizations:LeaveOrganization on resource: *",
        "eventID":"16903cbd-fdff-4818-82f2-d66ad09aaf57","eventName":"LeaveOrganization",
        "eventSource":"organizations.amazonaws.com","eventTime":"2024-08-02T08:30:00Z","eventType":"AwsApiCall",
        "readOnly":false,"recipientAccountId":"307578594326","requestParameters":null,"responseElements":null,
        "userIdentity":{"accessKeyId":"ASIA36EV31F1RB3OA8IG","accountId":"307578594326",
        "arn":"arn:aws:sts::307578594326:assumed-role/stratus-red-team-leave-org-role/aws-go-sdk-1722587398902687000",
        "principalId":"AROAHKPEEQ9BHUOX4D93T:aws-go-sdk-1722587398902687000","type":"AssumedRole",
        "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::307578594326:role/stratus-red-team-leave-org-role","type":"Role"}}}}"#;

    #[test]
    fn a_denied_attempt_is_high_and_says_it_failed() {
        let f = assert_fires(&RULE, STRATUS_DENIED);
        assert_eq!(f.severity, Some(Severity::High));
        assert!(
            f.summary.contains("tried to take account 307578594326"),
            "{}",
            f.summary
        );
        assert!(f.summary.ends_with("(failed: AccessDenied)"));
    }

    #[test]
    fn a_success_is_critical() {
        let ok = STRATUS_DENIED
            .replace(r#""errorCode":"AccessDenied","#, "")
            .replace(r#""errorMessage":"User: arn:aws:sts::307578594326:assumed-role/stratus-red-team-leave-org-role/aws-go-sdk-1722587398902687000 is not authorized to perform: organizations:LeaveOrganization on resource: *","#, "");
        let f = assert_fires(&RULE, &ok);
        assert_eq!(f.severity, None);
        assert!(f.summary.contains("took account"));
    }

    #[test]
    fn other_organizations_calls_are_silent() {
        let describe = STRATUS_DENIED
            .replace("LeaveOrganization\",\n", "DescribeOrganization\",\n")
            .replace(
                r#""eventName":"LeaveOrganization""#,
                r#""eventName":"DescribeOrganization""#,
            );
        assert_not_routed(&RULE, &describe);
    }
}
