//! `s3-public-access-block-weakened`
//!
//! **What it detects.** S3 Block Public Access turned off for a bucket or for the whole
//! account: `PutBucketPublicAccessBlock` or `PutAccountPublicAccessBlock` (S3 Control
//! `PutPublicAccessBlock`, logged under that name) with any of `BlockPublicAcls`,
//! `IgnorePublicAcls`, `BlockPublicPolicy`, `RestrictPublicBuckets` false, or
//! `DeleteBucketPublicAccessBlock` / `DeleteAccountPublicAccessBlock`. Failed attempts are
//! reported at low severity.
//!
//! **Why it matters.** Block Public Access is the guard rail that keeps a public policy or ACL
//! from taking effect; attackers remove it first, then make the data public (the public ACL or
//! policy itself alerts as `resource-shared-with-external-account`).
//!
//! **Published rule.** Panther `AWS.CloudTrail.SecurityConfigurationChange` (its
//! `DeleteAccountPublicAccessBlock` action), extended to the bucket level and to settings
//! turned off without deleting the configuration.
//!
//! **How we differ.** Panther watches only the account-level deletion; a `Put` with every
//! setting false has the same effect and is covered, and a `Put` that keeps every setting on
//! stays silent.
//!
//! **Blind spots.** Access point block public access settings are fixed at creation
//! (`CreateAccessPoint`) and not covered. Organization-level S3 policies are not covered.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_name, failure_suffix};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: PublicAccessBlockWeakened = PublicAccessBlockWeakened;

/// See the module documentation.
pub struct PublicAccessBlockWeakened;

const S3: &str = "s3.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "s3-public-access-block-weakened",
    title: "S3 Block Public Access weakened or removed",
    description: "S3 Block Public Access was turned off or deleted for a bucket or for the whole \
        account, so public ACLs and policies can take effect. Attackers remove this guard rail \
        before making data public.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0005",
            tactic_name: "Defense Evasion",
            technique_id: "T1562.007",
            technique_name: "Impair Defenses: Disable or Modify Cloud Firewall",
        },
        Attack {
            tactic_id: "TA0010",
            tactic_name: "Exfiltration",
            technique_id: "T1537",
            technique_name: "Transfer Data to Cloud Account",
        },
    ],
    references: &[
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
        "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutPublicAccessBlock.html",
        "https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutPublicAccessBlock.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_security_configuration_change.py",
    ],
    false_positives: &[
        "Buckets meant to be public (static websites) need some settings off; expect one alert \
         when such a bucket is set up and confirm it with its owner.",
    ],
    triage: &[
        "Check details.scope (bucket or account) and details.settings_off.",
        "Look for PutBucketPolicy, PutBucketAcl or PutObjectAcl by the same actor right after: did anything become public?",
        "If unapproved: turn the settings back on (account level first) and review the actor's other activity.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "Account Security Configuration Changed",
        id: "AWS.CloudTrail.SecurityConfigurationChange",
    },
    notes: &[
        "Covers the bucket level and Put calls that turn settings off, not only the account-level deletion.",
        "Failed attempts alert at low severity.",
    ],
    events: &[
        EventSelector::exact(S3, "PutBucketPublicAccessBlock"),
        EventSelector::exact(S3, "DeleteBucketPublicAccessBlock"),
        EventSelector::exact(S3, "PutAccountPublicAccessBlock"),
        EventSelector::exact(S3, "DeleteAccountPublicAccessBlock"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

const SETTINGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// `bucketName` and `PublicAccessBlockConfiguration` (S3 API request syntax: XML body element
/// names; the account-level call carries the same configuration).
#[derive(Deserialize)]
struct PublicAccessBlockParams<'a> {
    #[serde(
        rename = "bucketName",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    bucket_name: Option<Cow<'a, str>>,
    #[serde(rename = "PublicAccessBlockConfiguration", default)]
    configuration: Option<serde_json::Map<String, Value>>,
}

fn is_false(value: &Value) -> bool {
    match value {
        Value::Bool(b) => !b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    }
}

impl Rule for PublicAccessBlockWeakened {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let name = record.name();
        let account_level = name.contains("Account");
        let params: Option<PublicAccessBlockParams> = record.request_parameters()?;
        let bucket = params
            .as_ref()
            .and_then(|p| p.bucket_name.as_deref())
            .unwrap_or("")
            .to_owned();
        let settings_off: Vec<&str> = if name.starts_with("Delete") {
            SETTINGS.to_vec()
        } else {
            let configuration =
                params
                    .and_then(|p| p.configuration)
                    .ok_or(Unevaluable::Missing(
                        "requestParameters.PublicAccessBlockConfiguration",
                    ))?;
            // An omitted setting is false (S3 API: each defaults to false when not sent).
            SETTINGS
                .into_iter()
                .filter(|s| configuration.get(*s).is_none_or(is_false))
                .collect()
        };
        if settings_off.is_empty() {
            return Ok(None);
        }
        let owner = record.owner_account();
        let (scope, resource) = if account_level {
            ("account", owner.unwrap_or("").to_owned())
        } else {
            ("bucket", format!("arn:aws:s3:::{bucket}"))
        };
        let finding = Finding::new(
            format!(
                "{} turned off S3 Block Public Access ({}) for {} {}{}",
                actor_name(record),
                settings_off.join(", "),
                scope,
                clean(if account_level { &resource } else { &bucket }, 100),
                failure_suffix(record)
            ),
            json!({
                "resource_type": if account_level { "s3-account" } else { "s3-bucket" },
                "resource": resource,
                "owner_account": owner,
                "scope": scope,
                "settings_off": settings_off,
                "external_accounts": [],
                "external_organizations": [],
                "public": false,
                "public_possible": true,
            }),
            vec![scope.to_owned(), resource.clone(), settings_off.join(",")],
        );
        Ok(Some(match (record.failed(), account_level) {
            (true, _) => finding.with_severity(Severity::Low),
            (false, true) => finding.with_severity(Severity::High),
            (false, false) => finding,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};

    fn call(name: &str, params: Value, error: Option<&str>) -> String {
        let mut v = json!({"eventVersion": "1.09", "eventSource": S3, "eventName": name,
            "eventID": "id", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a",
                "accountId": "111122223333"},
            "requestParameters": params});
        if let Some(e) = error {
            v["errorCode"] = json!(e);
        }
        v.to_string()
    }

    // S3 API PutPublicAccessBlock request syntax as CloudTrail logs it (XML body under
    // PublicAccessBlockConfiguration, with its xmlns attribute).
    fn put(config: Value) -> String {
        call(
            "PutBucketPublicAccessBlock",
            json!({"bucketName": "b", "PublicAccessBlockConfiguration": config, "publicAccessBlock": "", "Host": "b.s3.amazonaws.com"}),
            None,
        )
    }

    #[test]
    fn a_setting_turned_off_alerts() {
        let f = assert_fires(
            &RULE,
            &put(json!({"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": true})),
        );
        assert_eq!(f.details["settings_off"], json!(["BlockPublicPolicy"]));
        assert_eq!(f.details["resource"], "arn:aws:s3:::b");
    }

    #[test]
    fn every_setting_on_is_silent() {
        assert_silent(
            &RULE,
            &put(
                json!({"BlockPublicAcls": true, "IgnorePublicAcls": "true", "BlockPublicPolicy": true, "RestrictPublicBuckets": true}),
            ),
        );
    }

    #[test]
    fn deletions_and_account_level_changes() {
        let f = assert_fires(
            &RULE,
            &call(
                "DeleteBucketPublicAccessBlock",
                json!({"bucketName": "b"}),
                None,
            ),
        );
        assert_eq!(f.details["settings_off"].as_array().unwrap().len(), 4);
        let f = assert_fires(
            &RULE,
            &call(
                "DeleteAccountPublicAccessBlock",
                json!({"accountId": "111122223333"}),
                None,
            ),
        );
        assert_eq!(f.details["scope"], "account");
        assert_eq!(f.severity, Some(Severity::High));
        let f = assert_fires(
            &RULE,
            &call(
                "PutAccountPublicAccessBlock",
                json!({"accountId": "111122223333", "PublicAccessBlockConfiguration": {"BlockPublicAcls": false,
                "IgnorePublicAcls": false, "BlockPublicPolicy": false, "RestrictPublicBuckets": false}}),
                None,
            ),
        );
        assert_eq!(f.details["resource_type"], "s3-account");
    }

    #[test]
    fn failed_attempts_alert_low() {
        let f = assert_fires(
            &RULE,
            &call(
                "DeleteBucketPublicAccessBlock",
                json!({"bucketName": "b"}),
                Some("AccessDenied"),
            ),
        );
        assert_eq!(f.severity, Some(Severity::Low));
        assert!(f.summary.contains("failed: AccessDenied"));
    }

    #[test]
    fn a_put_without_its_configuration_is_unevaluable() {
        assert_unevaluable(
            &RULE,
            &call(
                "PutBucketPublicAccessBlock",
                json!({"bucketName": "b"}),
                None,
            ),
        );
    }
}
