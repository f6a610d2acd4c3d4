//! Security Hub findings in the AWS Security Finding Format (ASFF) for `BatchImportFindings`.
//!
//! Required attributes (<https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html>):
//! `AwsAccountId`, `CreatedAt`, `Description`, `GeneratorId`, `Id`, `ProductArn`,
//! `Resources`, `SchemaVersion`, `Severity`, `Title`, `Types`, `UpdatedAt`. Limits from the
//! partner guide: `Title` 256 characters, `Description` 1,024. `Types` follow the types
//! taxonomy (`TTPs/<ATT&CK tactic>/<technique>`). The `Id` is the same for every alert
//! with the same dedup key, so a repeat updates the finding instead of adding one.

use super::{AlertResource, partition_of, safe_region, stable_id, timestamp};
use crate::detector::Alert;
use crate::detector::arn::is_account_id;
use crate::detector::text::clean;
use serde_json::{Map, Value, json};

/// Where findings are imported: the Security Hub account and region the adapter runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Importer {
    /// The account whose default product receives the findings.
    pub account_id: String,
    /// The region `BatchImportFindings` is called in.
    pub region: String,
    /// With the default product, Security Hub accepts a finding only from the account it
    /// names (`AwsAccountId`). An organization trail's alerts name other accounts: when
    /// true they are filed under the importer's account (the event's account stays in
    /// `Resources` and `ProductFields`); when false they are refused with
    /// [`AsffError::OtherAccount`].
    pub claim_other_accounts: bool,
}

impl Importer {
    /// `arn:PARTITION:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`: the account's own
    /// product, which every account may import findings into.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            partition_of(&self.region),
            self.region,
            self.account_id,
            self.account_id
        )
    }
}

/// Why a finding could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsffError {
    #[error("the alert has no 12-digit account id, which ASFF requires (AwsAccountId)")]
    /// ASFF requires `AwsAccountId`; the alert has none.
    NoAccount,
    #[error("the alert has no well-formed eventTime and no import time was given")]
    /// Neither the event time nor an import time to date the finding.
    NoTime,
    #[error(
        "the event happened in account {0}, and the default product takes findings only from the account they name"
    )]
    /// The event's account is not the one the default product accepts findings for.
    OtherAccount(String),
}

/// Characters of `Title` and `Description` Security Hub accepts.
pub const MAX_TITLE_CHARS: usize = 256;
/// See [`MAX_TITLE_CHARS`].
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

fn severity_label(alert: &Alert) -> &'static str {
    use crate::detector::Severity::*;
    match alert.severity {
        Info => "INFORMATIONAL",
        Low => "LOW",
        Medium => "MEDIUM",
        High => "HIGH",
        Critical => "CRITICAL",
    }
}

/// `TTPs/<tactic>/<technique id> <technique>` for each ATT&CK mapping (at most 50, each at
/// most 128 characters, `/` kept out of the parts), or `TTPs` alone when there is none.
fn types(alert: &Alert) -> Vec<String> {
    let part = |s: &str, max: usize| clean(&s.replace('/', "-"), max);
    let mut out: Vec<String> = Vec::new();
    for attack in &alert.mitre_attack {
        let t = format!(
            "TTPs/{}/{}",
            part(&attack.tactic_name, 40),
            part(
                &format!("{} {}", attack.technique_id, attack.technique_name),
                80
            )
        );
        if !out.contains(&t) && out.len() < 50 {
            out.push(t);
        }
    }
    if out.is_empty() {
        out.push("TTPs".to_owned());
    }
    out
}

/// The ASFF resource type for one of our kinds (`Other` where ASFF has none).
fn resource_type(kind: &str) -> &'static str {
    match kind {
        "s3-bucket" => "AwsS3Bucket",
        "s3-object" => "AwsS3Object",
        "lambda-function" => "AwsLambdaFunction",
        "lambda-layer" => "AwsLambdaLayerVersion",
        "rds-snapshot" => "AwsRdsDbSnapshot",
        "rds-cluster-snapshot" => "AwsRdsDbClusterSnapshot",
        _ => "Other",
    }
}

fn resources(alert: &Alert, name_the_account: bool) -> Vec<Value> {
    let region = safe_region(alert);
    let partition = partition_of(region.unwrap_or(""));
    let with_place = |mut r: Map<String, Value>| {
        r.insert("Partition".into(), json!(partition));
        if let Some(region) = region {
            r.insert("Region".into(), json!(region));
        }
        Value::Object(r)
    };
    let mut out = Vec::new();
    if let Some(resource) = AlertResource::of(alert) {
        let id = resource.arn(alert).unwrap_or_else(|| resource.display_id());
        let mut r = Map::new();
        r.insert("Type".into(), json!(resource_type(resource.kind)));
        r.insert("Id".into(), json!(clean(&id, 512)));
        out.push(with_place(r));
    }
    if let Some(key) = super::detail_str(alert, "kms_key_id") {
        let mut r = Map::new();
        r.insert("Type".into(), json!("AwsKmsKey"));
        r.insert("Id".into(), json!(clean(key, 512)));
        out.push(with_place(r));
    }
    if out.is_empty() || name_the_account {
        // ASFF needs one resource; and a finding filed under another account names the
        // account the event happened in.
        let mut r = Map::new();
        r.insert("Type".into(), json!("AwsAccount"));
        r.insert(
            "Id".into(),
            json!(format!(
                "AWS::::Account:{}",
                alert.account_id.as_deref().unwrap_or("")
            )),
        );
        out.push(with_place(r));
    }
    out
}

/// The ASFF finding for `alert`, imported by `importer`. `CreatedAt` and the observed times
/// are the event's time; `UpdatedAt` is `updated_at` (the adapter's clock, RFC 3339) when
/// given, else the event's time too.
pub fn finding(
    alert: &Alert,
    importer: &Importer,
    updated_at: Option<&str>,
) -> Result<Value, AsffError> {
    let event_account = alert
        .account_id
        .as_deref()
        .filter(|a| is_account_id(a))
        .ok_or(AsffError::NoAccount)?;
    let account = if event_account == importer.account_id {
        event_account
    } else if importer.claim_other_accounts {
        importer.account_id.as_str()
    } else {
        return Err(AsffError::OtherAccount(event_account.to_owned()));
    };
    let event_time = alert.event_time.as_deref().and_then(timestamp::valid_utc);
    let updated_at = updated_at.and_then(timestamp::valid_utc);
    let created_at = event_time.or(updated_at).ok_or(AsffError::NoTime)?;
    let updated_at = updated_at.unwrap_or(created_at);
    let severity = severity_label(alert);
    let types = types(alert);
    let mut description = clean(&alert.summary, 600);
    if let Some(step) = alert.triage.first() {
        description.push_str(" First step: ");
        description.push_str(&clean(step, 400));
    }
    let description = clean(&description, MAX_DESCRIPTION_CHARS - 1);
    let mut product_fields = Map::new();
    for (key, value) in [
        ("trailwatch/rule_id", Some(alert.rule_id.as_str())),
        ("trailwatch/event_account", Some(event_account)),
        ("trailwatch/dedup_key", Some(alert.dedup_key.as_str())),
        ("trailwatch/event_id", alert.event_id.as_deref()),
        ("trailwatch/event_name", Some(alert.event_name.as_str())),
        ("trailwatch/event_source", Some(alert.event_source.as_str())),
        ("trailwatch/actor_arn", alert.actor.arn.as_deref()),
        ("trailwatch/source_ip", alert.actor.source_ip.as_deref()),
        ("trailwatch/error_code", alert.error_code.as_deref()),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            product_fields.insert(key.into(), json!(clean(value, 1000)));
        }
    }
    let mut finding = json!({
        "SchemaVersion": "2018-10-08",
        "Id": format!("trailwatch/{}/{}", clean(&alert.rule_id, 100), stable_id(alert)),
        "ProductArn": importer.product_arn(),
        "ProductName": "trailwatch",
        "CompanyName": "trailwatch",
        "GeneratorId": clean(&alert.rule_id, 256),
        "AwsAccountId": account,
        "Types": types,
        "CreatedAt": created_at,
        "UpdatedAt": updated_at,
        "FirstObservedAt": created_at,
        "LastObservedAt": created_at,
        "Severity": {"Label": severity, "Original": alert.severity.as_str()},
        "Title": clean(&format!("{}: {}", alert.title, alert.summary), MAX_TITLE_CHARS - 1),
        "Description": description,
        "Resources": resources(alert, event_account != account),
        "ProductFields": product_fields,
        "RecordState": "ACTIVE",
        "FindingProviderFields": {
            "Severity": {"Label": severity, "Original": alert.severity.as_str()},
            "Types": types,
        },
    });
    if let Some(url) = super::links::cloudtrail_event(alert) {
        finding["SourceUrl"] = json!(url);
    }
    if let Some(step) = alert.triage.first() {
        let mut recommendation = json!({"Text": clean(step, 500)});
        if let Some(reference) = alert.references.first() {
            recommendation["Url"] = json!(clean(reference, 500));
        }
        finding["Remediation"] = json!({"Recommendation": recommendation});
    }
    Ok(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{ami_share_alert, has_unsafe, hostile_alert};

    fn importer() -> Importer {
        Importer {
            account_id: "118238665043".into(),
            region: "eu-west-1".into(),
            claim_other_accounts: false,
        }
    }

    /// The top-level attributes Security Hub requires of every finding, from
    /// <https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html>.
    const REQUIRED: &[&str] = &[
        "AwsAccountId",
        "CreatedAt",
        "Description",
        "GeneratorId",
        "Id",
        "ProductArn",
        "Resources",
        "SchemaVersion",
        "Severity",
        "Title",
        "Types",
        "UpdatedAt",
    ];

    #[test]
    fn ami_share_finding_is_pinned() {
        let got = finding(
            &ami_share_alert(),
            &importer(),
            Some("2024-08-01T12:30:00Z"),
        )
        .unwrap();
        let got = serde_json::to_string_pretty(&got).unwrap();
        let expected = include_str!("../../tests/fixtures/formats/ami-share.asff.json");
        assert_eq!(got, expected.trim_end(), "\n--- got ---\n{got}");
    }

    #[test]
    fn every_required_attribute_is_present_and_well_formed() {
        for alert in [ami_share_alert(), {
            let mut a = hostile_alert();
            a.details = serde_json::json!({"change": "PutBucketAcl"});
            a
        }] {
            let f = finding(&alert, &importer(), None).unwrap();
            for key in REQUIRED {
                let v = &f[*key];
                assert!(
                    !v.is_null() && v != "" && v != &serde_json::json!([]),
                    "{key} missing"
                );
            }
            assert_eq!(f["SchemaVersion"], "2018-10-08");
            assert_eq!(
                f["ProductArn"],
                "arn:aws:securityhub:eu-west-1:118238665043:product/118238665043/default"
            );
            assert_eq!(f["GeneratorId"], alert.rule_id.as_str());
            assert!(f["Title"].as_str().unwrap().chars().count() <= MAX_TITLE_CHARS);
            assert!(f["Description"].as_str().unwrap().chars().count() <= MAX_DESCRIPTION_CHARS);
            for t in f["Types"].as_array().unwrap() {
                let t = t.as_str().unwrap();
                assert!(
                    t.starts_with("TTPs") && t.len() <= 128 && t.split('/').count() <= 3,
                    "{t}"
                );
            }
            for r in f["Resources"].as_array().unwrap() {
                assert!(r["Type"].is_string() && r["Id"].is_string(), "{r}");
            }
            assert!(!has_unsafe(&f.to_string().replace("\\n", "")));
        }
    }

    #[test]
    fn ids_are_stable_per_dedup_key() {
        let a = ami_share_alert();
        let mut repeat = a.clone();
        repeat.event_id = Some("other".into());
        repeat.event_time = Some("2024-08-01T13:00:00Z".into());
        let first = finding(&a, &importer(), None).unwrap();
        let second = finding(&repeat, &importer(), None).unwrap();
        assert_eq!(first["Id"], second["Id"]);
        repeat.dedup_key.push_str("|other");
        assert_ne!(
            first["Id"],
            finding(&repeat, &importer(), None).unwrap()["Id"]
        );
    }

    #[test]
    fn missing_account_or_time_is_an_error() {
        let mut a = ami_share_alert();
        a.event_time = Some("yesterday".into());
        assert_eq!(finding(&a, &importer(), None), Err(AsffError::NoTime));
        let f = finding(&a, &importer(), Some("2024-08-02T00:00:00Z")).unwrap();
        assert_eq!(f["CreatedAt"], "2024-08-02T00:00:00Z");
        a.account_id = None;
        assert_eq!(finding(&a, &importer(), None), Err(AsffError::NoAccount));
    }

    #[test]
    fn other_accounts_are_refused_or_claimed() {
        let central = Importer {
            account_id: "999988887777".into(),
            ..importer()
        };
        assert_eq!(
            finding(&ami_share_alert(), &central, None),
            Err(AsffError::OtherAccount("118238665043".into()))
        );
        let claiming = Importer {
            claim_other_accounts: true,
            ..central
        };
        let f = finding(&ami_share_alert(), &claiming, None).unwrap();
        assert_eq!(f["AwsAccountId"], "999988887777");
        assert_eq!(
            f["ProductFields"]["trailwatch/event_account"],
            "118238665043"
        );
        let resources = f["Resources"].as_array().unwrap();
        assert_eq!(resources.len(), 2);
        assert_eq!(resources[1]["Id"], "AWS::::Account:118238665043");
    }

    #[test]
    fn govcloud_product_arn() {
        let gov = Importer {
            account_id: "111122223333".into(),
            region: "us-gov-west-1".into(),
            claim_other_accounts: false,
        };
        assert_eq!(
            gov.product_arn(),
            "arn:aws-us-gov:securityhub:us-gov-west-1:111122223333:product/111122223333/default"
        );
    }
}
