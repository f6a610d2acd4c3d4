//! `ec2-unusual-instance-type-launched`
//!
//! **What it detects.** `RunInstances` of an instance type from AWS's *accelerated computing*
//! category: GPU (`p*`, `g*`, `gr*`), machine-learning accelerators (`inf*`, `trn*`, `dl*`),
//! FPGA (`f*`) and video transcoding (`vt*`) instances. A successful launch alerts at medium
//! severity; a failed one (an attacker without the permission or the quota) alerts at low
//! severity and says it failed.
//!
//! **Why it matters.** Stolen credentials are routinely turned into GPU capacity for
//! cryptocurrency mining or model training at the victim's expense; the attempt itself, even
//! denied, shows someone probing what the credentials can launch.
//!
//! **Published rule.** Panther "AWS EC2 Launch Unusual EC2 Instances"
//! (`AWS.EC2.LaunchUnusualEC2Instances`).
//!
//! **How we differ.** Panther ships a list holding one type (`p2.xlarge`) for users to edit and
//! reads only the request. We match whole families by their series letters, the same way AWS
//! names them, so `p5.48xlarge` or `g6e.xlarge` are caught without a list to maintain; and for a
//! successful launch we read the types actually launched from the response (launch templates
//! leave the request's `instanceType` empty). Like Panther, failed calls alert at low severity.
//!
//! **Blind spots.** Accounts that run GPU workloads routinely will see their own launches; the
//! dedup key (actor + type) keeps it to one alert per hour per actor and type. Fleets and Auto
//! Scaling groups launch through `CreateFleet`/the Auto Scaling service, not reported here.

use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name, failure_suffix};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The rule value registered in the catalogue.
pub static RULE: Ec2UnusualInstanceTypeLaunched = Ec2UnusualInstanceTypeLaunched;

/// See the module documentation.
pub struct Ec2UnusualInstanceTypeLaunched;

/// Series letters of the accelerated computing families, with what they carry.
const ACCELERATED_SERIES: &[(&str, &str)] = &[
    ("p", "GPU"),
    ("g", "GPU"),
    ("gr", "GPU"),
    ("inf", "Inferentia ML accelerator"),
    ("trn", "Trainium ML accelerator"),
    ("dl", "deep learning accelerator"),
    ("f", "FPGA"),
    ("vt", "video transcoding accelerator"),
];

static META: RuleMeta = RuleMeta {
    id: "ec2-unusual-instance-type-launched",
    title: "EC2 instances of an accelerated (GPU/ML) type launched",
    description: "RunInstances asked for GPU, machine-learning accelerator, FPGA or video \
        transcoding instances. Adversaries launch such instances with stolen credentials to mine \
        cryptocurrency; a failed attempt shows them probing what the credentials allow.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[Attack {
        tactic_id: "TA0040",
        tactic_name: "Impact",
        technique_id: "T1496",
        technique_name: "Resource Hijacking",
    }],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.execution.ec2-launch-unusual-instances/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html",
        "https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html",
        "https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html",
    ],
    false_positives: &[
        "Teams that train or serve models, render video or use FPGAs launch these types routinely; \
         the actor and tags show whose they are.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether it normally launches accelerated instances.",
        "Read details.instance_types and details.max_count; for a failed call, error_code tells whether it was denied or out of quota.",
        "List the instances it launched (DescribeInstances by reservation) and their user data and key pair.",
        "If unapproved: terminate the instances, rotate the actor's credentials, and check other regions for the same launches.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS EC2 Launch Unusual EC2 Instances",
        id: "AWS.EC2.LaunchUnusualEC2Instances",
    },
    notes: &[
        "Whole accelerated families by series letters instead of Panther's one-entry list.",
        "A successful launch is judged from the types in the response (launch templates leave \
         the request's instanceType empty).",
        "Failed attempts alert at low severity, saying they failed, as in Panther.",
    ],
    events: &[EventSelector::exact("ec2.amazonaws.com", "RunInstances")],
    failed_calls: FailedCalls::Evaluate,
};

/// The series letters of an instance type: `g4dn.xlarge` gives `g`, `inf2.xlarge` gives `inf`.
fn series(instance_type: &str) -> String {
    instance_type
        .trim()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// What an accelerated instance type carries, or `None` for any other type.
pub fn accelerator_of(instance_type: &str) -> Option<&'static str> {
    let series = series(instance_type);
    ACCELERATED_SERIES
        .iter()
        .find(|(s, _)| *s == series)
        .map(|(_, what)| *what)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunInstancesParams {
    /// A string, or `{"value": ...}` in some SDKs' records.
    #[serde(default)]
    instance_type: Option<Value>,
    #[serde(default)]
    instances_set: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunInstancesResponse {
    #[serde(default)]
    instances_set: Option<Value>,
}

/// `instancesSet.items[]`, whatever is inside.
fn items(set: Option<&Value>) -> &[Value] {
    set.and_then(|s| s.get("items"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn type_name(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get("value").and_then(Value::as_str),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty())
}

impl Rule for Ec2UnusualInstanceTypeLaunched {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: RunInstancesParams = record.require_request_parameters()?;
        let mut types: BTreeSet<String> = BTreeSet::new();
        if !record.failed()
            && let Some(response) = record.response_elements::<RunInstancesResponse>()?
        {
            types.extend(
                items(response.instances_set.as_ref())
                    .iter()
                    .filter_map(|i| i.get("instanceType").and_then(type_name))
                    .map(str::to_owned),
            );
        }
        if types.is_empty()
            && let Some(requested) = params.instance_type.as_ref().and_then(type_name)
        {
            types.insert(requested.to_owned());
        }
        if types.is_empty() {
            // A launch template chose the type and the call failed (or logged no response).
            return Err(Unevaluable::Missing("requestParameters.instanceType"));
        }
        let unusual: Vec<(&String, &str)> = types
            .iter()
            .filter_map(|t| accelerator_of(t).map(|what| (t, what)))
            .collect();
        if unusual.is_empty() {
            return Ok(None);
        }
        let max_count = items(params.instances_set.as_ref())
            .iter()
            .filter_map(|i| i.get("maxCount").and_then(Value::as_u64))
            .sum::<u64>();
        let described: Vec<String> = unusual
            .iter()
            .map(|(t, what)| format!("{} ({what})", clean(t, 40)))
            .collect();
        let verb = if record.failed() {
            "tried to launch"
        } else {
            "launched"
        };
        let finding = Finding::new(
            format!(
                "{} {verb} EC2 instances of type {}{}",
                actor_name(record),
                described.join(", "),
                failure_suffix(record)
            ),
            json!({
                "instance_types": unusual.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
                "accelerators": unusual.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
                "max_count": max_count,
                "failed": record.failed(),
            }),
            vec![
                actor_key(record),
                unusual
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                if record.failed() { "failed" } else { "" }.to_owned(),
            ],
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
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::json;

    /// Trimmed from the Stratus recording aws.execution.ec2-launch-unusual-instances.json: a
    /// denied launch of up to ten p2.xlarge.
    fn denied_p2() -> Value {
        json!({"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
            "awsRegion": "us-east-1", "eventID": "1a4debbb-12e9-4bde-b8c7-ea29002bb2a7",
            "errorCode": "Client.UnauthorizedOperation",
            "errorMessage": "You are not authorized to perform this operation.",
            "recipientAccountId": "900138736586",
            "userIdentity": {"type": "AssumedRole",
                "arn": "arn:aws:sts::900138736586:assumed-role/stratus-red-team-ec2lui-role-idtzskbvtd/aws-go-sdk-1722511821294449000",
                "accountId": "900138736586"},
            "requestParameters": {"blockDeviceMapping": {}, "clientToken": "5dd59182-3917-421c-9b2c-7c92954b66ee",
                "instanceType": "p2.xlarge",
                "instancesSet": {"items": [{"imageId": "ami-aCBbfd13bdb1d1E4b", "maxCount": 10, "minCount": 1}]},
                "monitoring": {"enabled": false}, "subnetId": "subnet-0e540f0c7ffb48ae9"},
            "responseElements": null})
    }

    /// A successful launch, shaped like the bench generator's RunInstances (examples/benches synth).
    fn launched(request_type: Option<&str>, response_type: &str) -> Value {
        let mut r = denied_p2();
        r.as_object_mut().unwrap().remove("errorCode");
        r.as_object_mut().unwrap().remove("errorMessage");
        match request_type {
            Some(t) => r["requestParameters"]["instanceType"] = json!(t),
            None => {
                r["requestParameters"]
                    .as_object_mut()
                    .unwrap()
                    .remove("instanceType");
                r["requestParameters"]["launchTemplate"] =
                    json!({"launchTemplateId": "lt-0abc", "version": "3"});
            }
        }
        r["responseElements"] = json!({"instancesSet": {"items": [
            {"instanceId": "i-0a1", "instanceType": response_type, "instanceState": {"code": 0, "name": "pending"}}]}});
        r
    }

    #[test]
    fn a_failed_gpu_launch_is_a_low_severity_attempt() {
        let f = assert_fires(&RULE, &denied_p2().to_string());
        assert_eq!(f.severity, Some(Severity::Low));
        assert!(
            f.summary.contains("tried to launch")
                && f.summary.contains("Client.UnauthorizedOperation"),
            "{}",
            f.summary
        );
        assert_eq!(f.details["max_count"], 10);
        assert_eq!(f.details["instance_types"], json!(["p2.xlarge"]));
    }

    #[test]
    fn a_successful_launch_is_judged_from_the_types_launched() {
        let f = assert_fires(
            &RULE,
            &launched(Some("g5.12xlarge"), "g5.12xlarge").to_string(),
        );
        assert_eq!(f.severity, None);
        assert!(f.summary.contains("GPU"), "{}", f.summary);
        // A launch template chose the type: only the response names it.
        let f = assert_fires(&RULE, &launched(None, "trn1.32xlarge").to_string());
        assert_eq!(f.details["instance_types"], json!(["trn1.32xlarge"]));
        assert_silent(&RULE, &launched(None, "m6i.large").to_string());
    }

    #[test]
    fn families_are_matched_by_series_not_prefix() {
        for t in [
            "p5.48xlarge",
            "g4dn.xlarge",
            "G6E.XLARGE",
            "gr6.4xlarge",
            "inf2.xlarge",
            "dl1.24xlarge",
            "f1.2xlarge",
            "vt1.3xlarge",
        ] {
            assert!(accelerator_of(t).is_some(), "{t}");
        }
        for t in [
            "m6i.large",
            "c7gn.large",
            "r6g.medium",
            "t3.micro",
            "i4i.large",
            "mac2.metal",
            "x2iedn.xlarge",
            "hpc7g.4xlarge",
            "d3.xlarge",
            "",
        ] {
            assert!(accelerator_of(t).is_none(), "{t}");
        }
    }

    #[test]
    fn silent_for_ordinary_types_and_unevaluable_without_any_type() {
        // The bench generator's benign launch.
        assert_silent(&RULE, &launched(Some("m6i.large"), "m6i.large").to_string());
        let mut r = denied_p2();
        r["requestParameters"]
            .as_object_mut()
            .unwrap()
            .remove("instanceType");
        assert_eq!(
            assert_unevaluable(&RULE, &r.to_string()),
            Unevaluable::Missing("requestParameters.instanceType")
        );
    }
}
