//! `ec2-serial-console-ssh-key-sent`
//!
//! **What it detects.** A successful EC2 Instance Connect `SendSerialConsoleSSHPublicKey`: an
//! SSH public key pushed for the instance's serial console, valid for 60 seconds.
//!
//! **Why it matters.** The serial console reaches the instance out of band: no network path,
//! security group or SSH daemon is involved, so it works on isolated or broken instances and
//! evades network monitoring. Few teams use it outside break-glass repairs.
//!
//! **Published rule.** Elastic "AWS EC2 Instance Connect SSH Public Key Uploaded"
//! (873b5452-074e-11ef-852e-f661ea17fbcc), which covers this call with `SendSSHPublicKey`.
//!
//! **How we differ.** A rule of its own at high severity: serial access is rarer and more
//! evasive than Instance Connect over the network. `monitorMode` (read-only) sessions are
//! reported at medium severity.
//!
//! **Blind spots.** Whether a login on the console followed is only in the instance's logs.

use crate::detector::record::{Record, lenient_bool, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name};
use crate::detector::rules::lateral_movement::ec2_instance_connect_ssh_key_sent::key_type;
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: Ec2SerialConsoleSshKeySent = Ec2SerialConsoleSshKeySent;

/// See the module documentation.
pub struct Ec2SerialConsoleSshKeySent;

static META: RuleMeta = RuleMeta {
    id: "ec2-serial-console-ssh-key-sent",
    title: "SSH public key pushed for an instance's serial console",
    description: "A principal pushed an SSH public key for the serial console of an EC2 \
        instance. The serial console reaches the instance without any network path, so \
        adversaries use it to get onto isolated instances unseen by network controls.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0008",
            tactic_name: "Lateral Movement",
            technique_id: "T1021.008",
            technique_name: "Direct Cloud VM Connections",
        },
        Attack {
            tactic_id: "TA0005",
            tactic_name: "Defense Evasion",
            technique_id: "T1578",
            technique_name: "Modify Cloud Compute Infrastructure",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.lateral-movement.ec2-serial-console-send-ssh-public-key/",
        "https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSerialConsoleSSHPublicKey.html",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-serial-console.html",
    ],
    false_positives: &[
        "Break-glass repairs of an instance that lost network or SSH access; these are rare and \
         worth confirming with whoever did them.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.source_ip) and whether a repair of details.instance_id was planned.",
        "Check whether serial console access was enabled just before (EnableSerialConsoleAccess, alert ec2-serial-console-access-enabled).",
        "Read the instance's console and auth logs for the session that followed.",
        "If unapproved: DisableSerialConsoleAccess, revoke the actor's credentials, examine the instance.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS EC2 Instance Connect SSH Public Key Uploaded",
        id: "873b5452-074e-11ef-852e-f661ea17fbcc",
    },
    notes: &[
        "Split from Elastic's combined rule so serial access is graded high on its own.",
        "Read-only monitor-mode sessions are medium severity.",
    ],
    events: &[EventSelector::exact(
        "ec2-instance-connect.amazonaws.com",
        "SendSerialConsoleSSHPublicKey",
    )],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
struct SendSerialConsoleKeyParams<'a> {
    #[serde(
        rename = "instanceId",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    instance_id: Option<Cow<'a, str>>,
    #[serde(rename = "serialPort", default)]
    serial_port: Option<Value>,
    #[serde(rename = "monitorMode", default, deserialize_with = "lenient_bool")]
    monitor_mode: Option<bool>,
    #[serde(
        rename = "sSHPublicKey",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    public_key: Option<Cow<'a, str>>,
}

impl Rule for Ec2SerialConsoleSshKeySent {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: SendSerialConsoleKeyParams = record.require_request_parameters()?;
        let instance = params
            .instance_id
            .as_deref()
            .ok_or(Unevaluable::Missing("requestParameters.instanceId"))?;
        let monitor = params.monitor_mode.unwrap_or(false);
        let finding = Finding::new(
            format!(
                "{} pushed an SSH key for the serial console of EC2 instance {}{}",
                actor_name(record),
                clean(instance, 40),
                if monitor { " (monitor mode)" } else { "" }
            ),
            json!({
                "instance_id": instance,
                "serial_port": params.serial_port,
                "monitor_mode": monitor,
                "key_type": key_type(params.public_key.as_deref()),
            }),
            vec![actor_key(record), instance.to_owned()],
        );
        Ok(Some(if monitor {
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

    /// Trimmed from the Stratus recording
    /// aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json (an SSO session).
    fn send_key(monitor: bool) -> Value {
        json!({"eventVersion": "1.08", "eventSource": "ec2-instance-connect.amazonaws.com",
            "eventName": "SendSerialConsoleSSHPublicKey", "awsRegion": "us-east-1",
            "eventID": "787b2464-f27b-4d4c-91bc-6396f2297d0e", "recipientAccountId": "844015365555",
            "userIdentity": {"type": "AssumedRole",
                "arn": "arn:aws:sts::844015365555:assumed-role/AWSReservedSSO_account-admin_599c9e90e350d2ff/someone@example.com",
                "accountId": "844015365555",
                "sessionContext": {"sessionIssuer": {"type": "Role",
                    "arn": "arn:aws:iam::844015365555:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_account-admin_599c9e90e350d2ff"}}},
            "requestParameters": {"instanceId": "i-EFCb4e480CAbc4CF9", "monitorMode": monitor,
                "sSHPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtAlK45MAEWZ7MUY2QEmi3M6W+peGL3VCrc0qH54xRu",
                "serialPort": 0},
            "responseElements": {"requestId": "c74b1e77-bc91-4174-b297-d06a71c89abf", "success": true}})
    }

    #[test]
    fn fires_high_and_monitor_mode_medium() {
        let f = assert_fires(&RULE, &send_key(false).to_string());
        assert_eq!(f.severity, None);
        assert_eq!(f.details["instance_id"], "i-EFCb4e480CAbc4CF9");
        assert_eq!(f.details["serial_port"], 0);
        let f = assert_fires(&RULE, &send_key(true).to_string());
        assert_eq!(f.severity, Some(Severity::Medium));
    }

    #[test]
    fn silent_when_denied_unevaluable_without_instance() {
        let mut denied = send_key(false);
        denied["errorCode"] = json!("SerialConsoleAccessDisabledException");
        assert_silent(&RULE, &denied.to_string());
        let mut r = send_key(false);
        r["requestParameters"] = Value::Null;
        assert_unevaluable(&RULE, &r.to_string());
    }
}
