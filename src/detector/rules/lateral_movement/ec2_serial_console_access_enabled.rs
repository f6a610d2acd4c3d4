//! `ec2-serial-console-access-enabled`
//!
//! **What it detects.** `EnableSerialConsoleAccess`: the account-and-region switch that allows
//! EC2 serial console connections (off by default). A failed attempt alerts at low severity.
//!
//! **Why it matters.** Turning the switch on is the step before pushing a serial console key
//! (`ec2-serial-console-ssh-key-sent`): it opens an out-of-band path onto every instance in the
//! region that has a password-enabled user, whatever its network controls.
//!
//! **Published rule.** Elastic "AWS EC2 Serial Console Access Enabled"
//! (e9fe3645-f588-43d6-99f5-437b3ef56f25).
//!
//! **How we differ.** Same event; we also report denied attempts, at low severity, since an
//! attacker probing for out-of-band access is news even when it fails.
//!
//! **Blind spots.** An organization-level declarative policy can enable it without this call in
//! the member account.

use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name, failure_suffix};
use crate::detector::text::clean;
use serde_json::json;

/// The rule value registered in the catalogue.
pub static RULE: Ec2SerialConsoleAccessEnabled = Ec2SerialConsoleAccessEnabled;

/// See the module documentation.
pub struct Ec2SerialConsoleAccessEnabled;

static META: RuleMeta = RuleMeta {
    id: "ec2-serial-console-access-enabled",
    title: "EC2 serial console access enabled",
    description: "Serial console access was enabled for EC2 in a region. It lets principals with \
        the right permissions reach instances without any network path; adversaries enable it \
        before connecting to instances out of band.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0005",
            tactic_name: "Defense Evasion",
            technique_id: "T1578",
            technique_name: "Modify Cloud Compute Infrastructure",
        },
        Attack {
            tactic_id: "TA0008",
            tactic_name: "Lateral Movement",
            technique_id: "T1021.008",
            technique_name: "Direct Cloud VM Connections",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.lateral-movement.ec2-serial-console-send-ssh-public-key/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableSerialConsoleAccess.html",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configure-access-to-serial-console.html",
    ],
    false_positives: &[
        "An administrator enabling the serial console for a planned repair; it is usually \
         disabled again afterwards (DisableSerialConsoleAccess).",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.source_ip) and whether a repair was planned in this region.",
        "Look for SendSerialConsoleSSHPublicKey calls that followed (alert ec2-serial-console-ssh-key-sent).",
        "If unapproved: DisableSerialConsoleAccess and revoke the actor's credentials.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS EC2 Serial Console Access Enabled",
        id: "e9fe3645-f588-43d6-99f5-437b3ef56f25",
    },
    notes: &["Denied attempts are reported at low severity, saying they failed."],
    events: &[EventSelector::exact(
        "ec2.amazonaws.com",
        "EnableSerialConsoleAccess",
    )],
    failed_calls: FailedCalls::Evaluate,
};

impl Rule for Ec2SerialConsoleAccessEnabled {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let region = record.aws_region.as_deref().unwrap_or("");
        let verb = if record.failed() {
            "tried to enable"
        } else {
            "enabled"
        };
        let finding = Finding::new(
            format!(
                "{} {verb} EC2 serial console access in {}{}",
                actor_name(record),
                clean(region, 40),
                failure_suffix(record)
            ),
            json!({ "region": region, "failed": record.failed() }),
            vec![actor_key(record), region.to_owned()],
        );
        Ok(Some(if record.failed() {
            finding.with_severity(Severity::Low)
        } else {
            finding
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::assert_fires;
    use serde_json::{Value, json};

    /// Trimmed from the Stratus recording
    /// aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json.
    fn enable() -> Value {
        json!({"eventVersion": "1.10", "eventSource": "ec2.amazonaws.com",
            "eventName": "EnableSerialConsoleAccess", "awsRegion": "eu-west-1",
            "eventID": "37ba412b-f943-44f2-ae48-4527f6e789d9", "recipientAccountId": "844015365555",
            "userIdentity": {"type": "AssumedRole", "accountId": "844015365555",
                "arn": "arn:aws:sts::844015365555:assumed-role/AWSReservedSSO_account-admin_599c9e90e350d2ff/someone@example.com"},
            "requestParameters": {"EnableSerialConsoleAccessRequest": ""},
            "responseElements": {"EnableSerialConsoleAccessResponse": {"serialConsoleAccessEnabled": true}}})
    }

    #[test]
    fn fires_when_enabled() {
        let f = assert_fires(&RULE, &enable().to_string());
        assert_eq!(f.severity, None);
        assert!(
            f.summary
                .contains("enabled EC2 serial console access in eu-west-1"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn a_denied_attempt_is_low_and_says_so() {
        let mut r = enable();
        r["errorCode"] = json!("Client.UnauthorizedOperation");
        r["responseElements"] = Value::Null;
        let f = assert_fires(&RULE, &r.to_string());
        assert_eq!(f.severity, Some(Severity::Low));
        assert!(
            f.summary.contains("tried to enable") && f.summary.contains("failed"),
            "{}",
            f.summary
        );
    }
}
