//! `ec2-instance-connect-ssh-key-sent`
//!
//! **What it detects.** A successful EC2 Instance Connect `SendSSHPublicKey`: an SSH public key
//! pushed to an instance's metadata for an OS user, valid for 60 seconds.
//!
//! **Why it matters.** Anyone allowed `ec2-instance-connect:SendSSHPublicKey` can log in to an
//! instance over SSH with a key of their own, without the instance's key pair: lateral movement
//! from the AWS control plane onto the host.
//!
//! **Published rule.** Elastic "AWS EC2 Instance Connect SSH Public Key Uploaded"
//! (873b5452-074e-11ef-852e-f661ea17fbcc); Panther "AWS EC2 Multi Instance Connect"
//! (`AWS.EC2.MultiInstanceConnect`) counts the same event across instances.
//!
//! **How we differ.** Elastic's query also covers the serial console call; we give that its
//! own rule (`ec2-serial-console-ssh-key-sent`) at a higher severity, since serial access also
//! bypasses the network. The alert names the OS user (`root` is notable) and the key's type.
//! Panther's multi-instance threshold needs a window store; one alert per actor, instance and OS
//! user per hour is what dedup gives here.
//!
//! **Blind spots.** Whether the SSH login then succeeded is only in the instance's own logs.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: Ec2InstanceConnectSshKeySent = Ec2InstanceConnectSshKeySent;

/// See the module documentation.
pub struct Ec2InstanceConnectSshKeySent;

static META: RuleMeta = RuleMeta {
    id: "ec2-instance-connect-ssh-key-sent",
    title: "SSH public key pushed to an instance with EC2 Instance Connect",
    description: "A principal pushed an SSH public key to an EC2 instance through EC2 Instance \
        Connect, which lets the key's holder log in as the named OS user for 60 seconds. \
        Adversaries use it to move onto instances without their key pairs.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0008",
            tactic_name: "Lateral Movement",
            technique_id: "T1021.004",
            technique_name: "SSH",
        },
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1098.004",
            technique_name: "SSH Authorized Keys",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.lateral-movement.ec2-instance-connect/",
        "https://docs.aws.amazon.com/ec2-instance-connect/latest/APIReference/API_SendSSHPublicKey.html",
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-connect-methods.html",
    ],
    false_positives: &[
        "Engineers who connect with EC2 Instance Connect (console \"Connect\" button, mssh, \
         aws ec2-instance-connect ssh) trigger this for their own logins.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.source_ip) and whether it normally logs in to details.instance_id.",
        "Check details.os_user: root or a service account is unusual for interactive logins.",
        "Read the instance's auth log for the SSH login that followed, and its source address.",
        "If unapproved: revoke the actor's credentials, remove ec2-instance-connect permissions it should not have, examine the instance.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS EC2 Instance Connect SSH Public Key Uploaded",
        id: "873b5452-074e-11ef-852e-f661ea17fbcc",
    },
    notes: &[
        "Serial console keys have their own rule at high severity (Elastic covers both in one).",
        "The alert carries the OS user and key type; the key itself stays in the record.",
    ],
    events: &[EventSelector::exact(
        "ec2-instance-connect.amazonaws.com",
        "SendSSHPublicKey",
    )],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
struct SendSshPublicKeyParams<'a> {
    #[serde(
        rename = "instanceId",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    instance_id: Option<Cow<'a, str>>,
    #[serde(
        rename = "instanceOSUser",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    os_user: Option<Cow<'a, str>>,
    #[serde(
        rename = "sSHPublicKey",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    public_key: Option<Cow<'a, str>>,
}

/// `ssh-ed25519` from `ssh-ed25519 AAAA... comment`.
pub fn key_type(public_key: Option<&str>) -> Option<&str> {
    public_key.and_then(|k| k.split_whitespace().next())
}

impl Rule for Ec2InstanceConnectSshKeySent {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: SendSshPublicKeyParams = record.require_request_parameters()?;
        let instance = params
            .instance_id
            .as_deref()
            .ok_or(Unevaluable::Missing("requestParameters.instanceId"))?;
        let os_user = params.os_user.as_deref().unwrap_or("");
        Ok(Some(Finding::new(
            format!(
                "{} pushed an SSH key to EC2 instance {} for OS user {}",
                actor_name(record),
                clean(instance, 40),
                clean(os_user, 40)
            ),
            json!({
                "instance_id": instance,
                "os_user": os_user,
                "key_type": key_type(params.public_key.as_deref()),
            }),
            vec![actor_key(record), instance.to_owned(), os_user.to_owned()],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::{Value, json};

    /// Trimmed from the Stratus recording aws.lateral-movement.ec2-instance-connect.json.
    fn send_key() -> Value {
        json!({"eventVersion": "1.08", "eventSource": "ec2-instance-connect.amazonaws.com",
            "eventName": "SendSSHPublicKey", "awsRegion": "us-east-1",
            "eventID": "0968cbec-f8df-43f3-94ba-b451aad083ed", "recipientAccountId": "572910899909",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::572910899909:user/christophe",
                "accountId": "572910899909", "userName": "christophe"},
            "requestParameters": {"instanceId": "i-fDb357cB7e99ad973", "instanceOSUser": "ec2-user",
                "sSHPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtAlK45MAEWZ7MUY2QEmi3M6W+peGL3VCrc0qH54xRu"},
            "responseElements": {"requestId": "1f1786bd-e04c-4fd9-af8c-6a5d69376c41", "success": true}})
    }

    #[test]
    fn fires_with_instance_user_and_key_type() {
        let f = assert_fires(&RULE, &send_key().to_string());
        assert_eq!(f.details["os_user"], "ec2-user");
        assert_eq!(f.details["key_type"], "ssh-ed25519");
        assert!(f.summary.contains("i-fDb357cB7e99ad973"), "{}", f.summary);
    }

    #[test]
    fn silent_when_denied_unevaluable_without_instance() {
        let mut denied = send_key();
        denied["errorCode"] = json!("AccessDenied");
        assert_silent(&RULE, &denied.to_string());
        let mut r = send_key();
        r["requestParameters"]["instanceId"] = Value::Null;
        assert_unevaluable(&RULE, &r.to_string());
    }
}
