//! `ssm-session-started`
//!
//! **What it detects.** A successful SSM `StartSession` to a managed instance, made by a
//! principal rather than by an AWS service on its behalf: an interactive shell (no document, or
//! a shell or command document) at medium severity, a port-forwarding tunnel at low severity.
//!
//! **Why it matters.** Session Manager gives a shell on the instance as `ssm-user` (with sudo
//! by default) or a tunnel into the VPC, with no SSH key, open port or bastion: the
//! instance-side equivalent of logging in, and a way to reach the instance role's credentials.
//!
//! **Published rule.** Elastic "AWS SSM Session Started to EC2 Instance"
//! (804a7ac8-fc00-11ee-924b-f661ea17fbce).
//!
//! **How we differ.** Elastic fires on every session, as a new-terms rule (the first per user).
//! We fire on every session too (no history), but grade it by what the session gives: a tunnel
//! (`AWS-StartPortForwardingSession*`) is low severity; and we leave out sessions an AWS service
//! opened (Fleet Manager's GUI connect shows as the `ssm-guiconnect` host).
//!
//! **Blind spots.** What was typed is not in CloudTrail (session logs go to S3 or CloudWatch
//! when configured). A session ended by the attacker leaves a `TerminateSession`, which is not
//! reported.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name, made_by_service};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: SsmSessionStarted = SsmSessionStarted;

/// See the module documentation.
pub struct SsmSessionStarted;

static META: RuleMeta = RuleMeta {
    id: "ssm-session-started",
    title: "SSM Session Manager session started on an instance",
    description: "A principal opened a Session Manager session to a managed instance: a shell \
        on it, or a tunnel through it. Adversaries use sessions to move from the cloud control \
        plane onto instances without SSH keys or open ports.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0008",
            tactic_name: "Lateral Movement",
            technique_id: "T1021.007",
            technique_name: "Cloud Services",
        },
        Attack {
            tactic_id: "TA0002",
            tactic_name: "Execution",
            technique_id: "T1651",
            technique_name: "Cloud Administration Command",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ssm-start-session/",
        "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartSession.html",
        "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-sessions-start.html",
    ],
    false_positives: &[
        "Engineers who use Session Manager instead of SSH will trigger this for their own \
         sessions; the dedup key (actor + instance) keeps it to one alert per hour per pair.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.source_ip) and whether it normally logs in to details.target.",
        "Read the session log (S3 or CloudWatch, if Session Manager logging is on) for details.session_id.",
        "Look for the instance role's credentials being used from elsewhere after the session.",
        "If unapproved: TerminateSession, revoke the actor's sessions and rotate its credentials, examine the instance.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS SSM Session Started to EC2 Instance",
        id: "804a7ac8-fc00-11ee-924b-f661ea17fbce",
    },
    notes: &[
        "Port-forwarding sessions alert at low severity; shells at medium.",
        "Sessions opened by an AWS service on a principal's behalf are left out.",
    ],
    events: &[EventSelector::exact("ssm.amazonaws.com", "StartSession")],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartSessionParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    target: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    document_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartSessionResponse<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    session_id: Option<Cow<'a, str>>,
}

/// True for documents that open a network tunnel rather than a shell.
fn is_port_forwarding(document: &str) -> bool {
    document
        .rsplit_once("document/")
        .map_or(document, |(_, name)| name)
        .starts_with("AWS-StartPortForwardingSession")
}

impl Rule for SsmSessionStarted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        if made_by_service(record) {
            return Ok(None);
        }
        let params: StartSessionParams = record.require_request_parameters()?;
        let target = params
            .target
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or(Unevaluable::Missing("requestParameters.target"))?;
        let session_id = record
            .response_elements::<StartSessionResponse>()?
            .and_then(|r| r.session_id.map(Cow::into_owned));
        let document = params.document_name.as_deref();
        let tunnel = document.is_some_and(is_port_forwarding);
        let what = match (tunnel, document) {
            (true, Some(doc)) => format!("a port-forwarding session ({})", clean(doc, 100)),
            (false, Some(doc)) => format!("a session ({})", clean(doc, 100)),
            (_, None) => "a shell session".to_owned(),
        };
        let finding = Finding::new(
            format!(
                "{} started {what} on {}",
                actor_name(record),
                clean(target, 60)
            ),
            json!({
                "target": target,
                "document": document,
                "session_id": session_id,
                "port_forwarding": tunnel,
            }),
            vec![actor_key(record), target.to_owned()],
        );
        Ok(Some(if tunnel {
            finding.with_severity(Severity::Low)
        } else {
            finding
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::{Value, json};

    /// Trimmed from the Stratus recording aws.execution.ssm-start-session.json.
    fn start_session(params: Value) -> Value {
        json!({"eventVersion": "1.08", "eventSource": "ssm.amazonaws.com", "eventName": "StartSession",
            "awsRegion": "us-east-1", "eventID": "8086b250-d29c-4659-9aec-86c8446a3895",
            "recipientAccountId": "294599468799", "sourceIPAddress": "254.222.242.236",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::294599468799:user/christophe",
                "accountId": "294599468799", "userName": "christophe"},
            "requestParameters": params,
            "responseElements": {"sessionId": "christophe-wzleysigzmbd6fmkefjqvt5w4u",
                "streamUrl": "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/christophe-wzleysigzmbd6fmkefjqvt5w4u",
                "tokenValue": "Value hidden due to security reasons."}})
    }

    #[test]
    fn fires_on_a_shell_session() {
        let f = assert_fires(
            &RULE,
            &start_session(json!({"target": "i-eA1d1296c1dE3Aa1f"})).to_string(),
        );
        assert_eq!(f.severity, None);
        assert_eq!(
            f.details["session_id"],
            "christophe-wzleysigzmbd6fmkefjqvt5w4u"
        );
        assert!(
            f.summary.contains("shell session on i-eA1d1296c1dE3Aa1f"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn port_forwarding_is_low_severity() {
        // Parameters as the AWS CLI sends them for `aws ssm start-session --document-name ...`.
        let f = assert_fires(
            &RULE,
            &start_session(json!({"target": "i-1", "documentName": "AWS-StartPortForwardingSessionToRemoteHost",
                "parameters": {"host": ["db.internal"], "portNumber": ["5432"], "localPortNumber": ["5432"]}}))
            .to_string(),
        );
        assert_eq!(f.severity, Some(Severity::Low));
        assert_eq!(f.details["port_forwarding"], true);
    }

    #[test]
    fn silent_for_service_sessions_and_failures_unevaluable_without_target() {
        let mut gui = start_session(json!({"target": "i-1"}));
        gui["sourceIPAddress"] = json!("ssm-guiconnect.amazonaws.com");
        assert_silent(&RULE, &gui.to_string());
        let mut denied = start_session(json!({"target": "i-1"}));
        denied["errorCode"] = json!("AccessDeniedException");
        assert_silent(&RULE, &denied.to_string());
        assert_unevaluable(
            &RULE,
            &start_session(json!({"documentName": "x"})).to_string(),
        );
    }
}
