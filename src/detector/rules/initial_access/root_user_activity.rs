//! `root-user-activity`
//!
//! **What it detects.** A successful call made with the account's root user credentials
//! (`userIdentity.type` = `Root`), on any service: a console sign-in, a password recovery, or
//! any API call that changes something.
//!
//! **Why it matters.** The root user cannot be restricted by IAM or (in a standalone account) by
//! SCPs; AWS advises using it only for the few tasks that require it. Root activity is either
//! one of those rare tasks or an intruder with the most powerful credentials there are.
//!
//! **Published rule.** Panther "Root Account Activity" (AWS.Root.Activity); Sigma "AWS Root
//! Credentials" (8ad1600d-e9dc-4251-b0ee-a65268f29add); Elastic "AWS Management Console Root
//! Login" (e2a67480-3b79-403d-96e3-fdd2992c50ef) for sign-ins.
//!
//! **What is left out, and why.** Like Panther: calls made for root by an AWS service
//! (`invokedBy` set), service events (`AwsServiceEvent`), read-only calls (`readOnly` true, or,
//! where CloudTrail omits `readOnly` as console actions do, names starting with Get, List,
//! Describe, Head, Lookup, Search, View or BatchGet), and failed calls. Sign-in plumbing other
//! than `ConsoleLogin` and password recovery (`CheckMfa`, `GetSigninToken`, ...) is left out:
//! each sign-in is already reported through its `ConsoleLogin`.
//!
//! **How we differ.** Sigma reports every root event, reads included (a console session
//! browsing the billing pages is dozens of alerts). Panther also drops `CreateServiceLinkedRole`;
//! we keep it (a root call creating a role is worth a look). Dedup is per account and source IP
//! for an hour, so a root session is one alert whose summary names its first change.
//!
//! **Blind spots.** A root session that only reads (reconnaissance) is silent. Failed root
//! sign-ins (password guessing) are not reported here. Root in an AWS Organizations member
//! account used through `sts:AssumeRoot` appears as `Root` and is reported.

use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::initial_access::CLOUD_ACCOUNTS;
use crate::detector::text::clean;
use serde_json::json;

/// The rule value registered in the catalogue.
pub static RULE: RootUserActivity = RootUserActivity;

/// See the module documentation.
pub struct RootUserActivity;

static META: RuleMeta = RuleMeta {
    id: "root-user-activity",
    title: "Root user activity",
    description: "The account's root user signed in or changed something. Root cannot be \
        restricted by IAM; outside the few tasks that need it, root activity means stolen \
        root credentials or a broken process.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[
        CLOUD_ACCOUNTS,
        Attack {
            tactic_id: "TA0004",
            tactic_name: "Privilege Escalation",
            technique_id: "T1078.004",
            technique_name: "Valid Accounts: Cloud Accounts",
        },
    ],
    references: &[
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-tasks.html",
        "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_root_activity.yml",
        "https://github.com/SigmaHQ/sigma/blob/master/rules/cloud/aws/cloudtrail/aws_root_account_usage.yml",
    ],
    false_positives: &[
        "The tasks that require root (changing the support plan, closing the account, restoring \
         IAM admin access, some billing settings), done by the account owner under a change \
         ticket.",
    ],
    triage: &[
        "Read event_name and details: what did root do, from where (actor.source_ip, actor.user_agent)?",
        "Ask the root credential's custodian whether this was them; root use should be announced in advance.",
        "Search CloudTrail for every event with userIdentity.type Root in this account over the last days (reads included) to see the whole session.",
        "If not theirs: reset the root password, replace its MFA device, delete any root access keys, and review IAM changes made in the session.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "Root Account Activity",
        id: "AWS.Root.Activity",
    },
    notes: &[
        "Read-only calls are left out also when CloudTrail omits readOnly (console actions), by name.",
        "Sign-in plumbing other than ConsoleLogin and password recovery is left out; ConsoleLogin \
         by root is reported (Panther keeps it too, Sigma reports everything).",
        "CreateServiceLinkedRole by root is reported (Panther drops it).",
        "One alert per account and source IP per hour.",
    ],
    events: &[EventSelector::any_event_by_identity_type("Root")],
    failed_calls: FailedCalls::Ignore,
};

/// Name prefixes of calls that only read, for records without `readOnly`.
const READ_PREFIXES: &[&str] = &[
    "Get", "List", "Describe", "Head", "Lookup", "Search", "View", "BatchGet",
];

/// The sign-in events that are root activity in their own right.
const SIGN_IN_EVENTS: &[&str] = &[
    "ConsoleLogin",
    "PasswordRecoveryRequested",
    "PasswordRecoveryCompleted",
];

impl Rule for RootUserActivity {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let Some(identity) = record.user_identity.as_ref() else {
            return Ok(None);
        };
        if identity.identity_type.as_deref() != Some("Root")
            || identity
                .invoked_by
                .as_deref()
                .is_some_and(|s| !s.is_empty())
            || record.event_type.as_deref() == Some("AwsServiceEvent")
        {
            return Ok(None);
        }
        let name = record.name();
        if record.source() == "signin.amazonaws.com" && !SIGN_IN_EVENTS.contains(&name) {
            return Ok(None);
        }
        let reads = match record.read_only {
            Some(read_only) => read_only,
            None => READ_PREFIXES.iter().any(|p| name.starts_with(p)),
        };
        if reads && !SIGN_IN_EVENTS.contains(&name) {
            return Ok(None);
        }
        let account = record.owner_account().unwrap_or("");
        let source_ip = record.source_ip_address.as_deref().unwrap_or("");
        Ok(Some(Finding::new(
            format!(
                "The root user of account {} called {} ({}) from {}",
                clean(account, 20),
                clean(name, 80),
                clean(record.source(), 80),
                clean(source_ip, 64)
            ),
            json!({
                "event_name": name,
                "event_source": record.source(),
                "event_type": record.event_type,
                "source_ip": source_ip,
            }),
            vec![account.to_owned(), source_ip.to_owned()],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_not_routed, assert_silent};
    use serde_json::Value;

    /// Root identity as CloudTrail logs it (Panther's AWS.Root.Activity tests and the
    /// userIdentity reference).
    fn root_call(source: &str, name: &str, read_only: Option<bool>) -> Value {
        let mut record = json!({"eventVersion": "1.08", "eventSource": source, "eventName": name,
            "eventType": "AwsApiCall", "awsRegion": "us-east-1", "eventID": "r1",
            "recipientAccountId": "123456789012", "sourceIPAddress": "203.0.113.9",
            "userAgent": "console.amazonaws.com",
            "userIdentity": {"type": "Root", "principalId": "123456789012",
                "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012",
                "accessKeyId": "ASIAEXAMPLE"},
            "requestParameters": {}, "responseElements": null});
        if let Some(r) = read_only {
            record["readOnly"] = json!(r);
        }
        record
    }

    #[test]
    fn root_changes_and_sign_ins_fire() {
        let f = assert_fires(
            &RULE,
            &root_call("iam.amazonaws.com", "CreateAccessKey", Some(false)).to_string(),
        );
        assert!(
            f.summary
                .contains("called CreateAccessKey (iam.amazonaws.com)"),
            "{}",
            f.summary
        );
        assert_eq!(f.dedup_parts, vec!["123456789012", "203.0.113.9"]);
        let mut login = root_call("signin.amazonaws.com", "ConsoleLogin", Some(false));
        login["eventType"] = json!("AwsConsoleSignIn");
        login["responseElements"] = json!({"ConsoleLogin": "Success"});
        login["additionalEventData"] = json!({"MFAUsed": "Yes"});
        assert_fires(&RULE, &login.to_string());
        // Console actions without readOnly that change things.
        assert_fires(
            &RULE,
            &root_call("account.amazonaws.com", "PutContactInformation", None).to_string(),
        );
    }

    #[test]
    fn reads_plumbing_services_and_failures_are_silent() {
        assert_silent(
            &RULE,
            &root_call("s3.amazonaws.com", "ListBuckets", Some(true)).to_string(),
        );
        assert_silent(
            &RULE,
            &root_call("ce.amazonaws.com", "GetCostAndUsage", None).to_string(),
        );
        assert_silent(
            &RULE,
            &root_call("signin.amazonaws.com", "CheckMfa", None).to_string(),
        );
        let mut invoked = root_call("iam.amazonaws.com", "CreateServiceLinkedRole", Some(false));
        invoked["userIdentity"]["invokedBy"] = json!("support.amazonaws.com");
        assert_silent(&RULE, &invoked.to_string());
        let mut service_event = root_call("health.amazonaws.com", "ProcessEvent", Some(false));
        service_event["eventType"] = json!("AwsServiceEvent");
        assert_silent(&RULE, &service_event.to_string());
        let mut failed = root_call("iam.amazonaws.com", "CreateUser", Some(false));
        failed["errorCode"] = json!("AccessDenied");
        assert_silent(&RULE, &failed.to_string());
    }

    #[test]
    fn other_callers_are_not_routed() {
        let mut user = root_call("iam.amazonaws.com", "CreateAccessKey", Some(false));
        user["userIdentity"]["type"] = json!("IAMUser");
        assert_not_routed(&RULE, &user.to_string());
        assert_silent(&RULE, &user.to_string());
    }
}
