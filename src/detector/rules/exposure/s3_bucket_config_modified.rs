//! `s3-bucket-config-modified`
//!
//! **What it detects.** A successful change to a bucket's ACL, policy, CORS, lifecycle or
//! replication configuration: the nine S3 events of Panther's rule, with neither `errorCode` nor
//! `errorMessage`.
//!
//! **Why it matters.** These settings decide who can reach the data and how long it lives;
//! changes to them precede exfiltration (policy, ACL, replication to another account) and log
//! destruction (a short lifecycle on a trail bucket).
//!
//! **Published rule.** Panther `AWS.S3.BucketPolicyModified` (CIS 3.8), severity Info, dedup
//! 12 hours; its three test cases are tests below.
//!
//! **How we differ.** We also require `eventSource` to be S3 (the names are S3's alone, and the
//! index needs the source). Dedup is per account, bucket and event name, so a burst of edits to
//! one bucket is one alert per 12 hours while a different bucket still alerts.
//!
//! **Blind spots.** Public access block, ownership controls, encryption and versioning changes
//! are not in Panther's list and are not covered here.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: BucketConfigModified = BucketConfigModified;

/// See the module documentation.
pub struct BucketConfigModified;

const S3: &str = "s3.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "s3-bucket-config-modified",
    title: "S3 bucket access or lifecycle configuration modified",
    description: "An S3 bucket's ACL, policy, CORS, lifecycle or replication configuration was \
        changed or deleted.",
    severity: Severity::Info,
    risk_score: 10,
    mitre_attack: &[Attack {
        tactic_id: "TA0010",
        tactic_name: "Exfiltration",
        technique_id: "T1567",
        technique_name: "Exfiltration Over Web Service",
    }],
    references: &[
        "https://docs.aws.amazon.com/AmazonS3/latest/dev/using-iam-policies.html",
        "https://docs.runpanther.io/alert-runbooks/built-in-rules/aws-s3-bucket-policy-modified",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.s3-backdoor-bucket-policy/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-lifecycle-rule/",
    ],
    false_positives: &[
        "Routine bucket administration and infrastructure-as-code deployments change these \
         settings; this rule is informational and meant for correlation and audit.",
    ],
    triage: &[
        "Check who made the change (actor.arn) and from where (actor.source_ip, actor.user_agent).",
        "Read the new configuration in record.requestParameters: grants to other accounts or to everyone, replication to another account, short expirations on log buckets.",
        "Correlate with s3-bucket-policy-shared-externally alerts and with data access on the bucket.",
    ],
    dedup_period_minutes: 720,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS S3 Bucket Policy Modified",
        id: "AWS.S3.BucketPolicyModified",
    },
    notes: &["Requires eventSource s3.amazonaws.com in addition to Panther's event names."],
    events: &[
        EventSelector::exact(S3, "PutBucketAcl"),
        EventSelector::exact(S3, "PutBucketPolicy"),
        EventSelector::exact(S3, "PutBucketCors"),
        EventSelector::exact(S3, "PutBucketLifecycle"),
        EventSelector::exact(S3, "PutBucketReplication"),
        EventSelector::exact(S3, "DeleteBucketPolicy"),
        EventSelector::exact(S3, "DeleteBucketCors"),
        EventSelector::exact(S3, "DeleteBucketLifecycle"),
        EventSelector::exact(S3, "DeleteBucketReplication"),
    ],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize, Default)]
struct BucketParams<'a> {
    #[serde(
        rename = "bucketName",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    bucket_name: Option<Cow<'a, str>>,
}

impl Rule for BucketConfigModified {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        // The index matched source and name, and the engine drops failed calls: Panther's
        // only conditions.
        let params: BucketParams = record.request_parameters()?.unwrap_or_default();
        let bucket = params.bucket_name.as_deref().unwrap_or("");
        Ok(Some(Finding::new(
            format!(
                "{} called {} on S3 bucket {}",
                actor_name(record),
                clean(record.name(), 60),
                clean(
                    if bucket.is_empty() {
                        "(unknown)"
                    } else {
                        bucket
                    },
                    100
                )
            ),
            json!({ "bucket": bucket, "change": record.name() }),
            vec![bucket.to_owned(), record.name().to_owned()],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent};

    /// Panther's own test record, with the fields that differ between its cases as parameters.
    fn panther_record(event_name: &str, error_code: Option<&str>) -> String {
        let mut record = serde_json::json!({
            "eventVersion": "1.05",
            "userIdentity": {"type": "AssumedRole", "principalId": "1111:tester",
                "arn": "arn:aws:sts::123456789012:assumed-role/tester", "accountId": "123456789012",
                "accessKeyId": "1", "sessionContext": {"attributes": {"mfaAuthenticated": "true",
                "creationDate": "2019-01-01T00:00:00Z"}, "sessionIssuer": {"type": "Role",
                "principalId": "1111", "arn": "arn:aws:iam::123456789012:role/tester",
                "accountId": "123456789012", "userName": "tester"}}},
            "eventTime": "2019-01-01T00:00:00Z", "eventSource": "s3.amazonaws.com",
            "eventName": event_name, "awsRegion": "us-west-2", "sourceIPAddress": "111.111.111.111",
            "userAgent": "Mozilla",
            "requestParameters": {"host": ["bucket.s3.us-west-2.amazonaws.com"], "bucketName": "bucket",
                "acl": [""], "x-amz-acl": ["private"]},
            "responseElements": null,
            "additionalEventData": {"SignatureVersion": "SigV4",
                "CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256", "AuthenticationMethod": "AuthHeader"},
            "requestID": "1", "eventID": "1", "eventType": "AwsApiCall", "recipientAccountId": "123456789012"
        });
        if let Some(code) = error_code {
            record["errorCode"] = code.into();
        }
        record.to_string()
    }

    #[test]
    fn panther_case_s3_bucket_policy_modified() {
        let f = assert_fires(&RULE, &panther_record("PutBucketAcl", None));
        assert_eq!(f.details["bucket"], "bucket");
        assert_eq!(f.dedup_parts, vec!["bucket", "PutBucketAcl"]);
    }

    #[test]
    fn panther_case_s3_bucket_policy_modified_error_response() {
        assert_silent(&RULE, &panther_record("PutBucketAcl", Some("AccessDenied")));
    }

    #[test]
    fn panther_case_s3_bucket_policy_not_modified() {
        // The index does not route GetBucketPolicy to the rule at all.
        let detector =
            crate::detector::engine::Detector::new(&Default::default()).expect("default config");
        assert!(!detector.wants("s3.amazonaws.com", "GetBucketPolicy"));
    }

    #[test]
    fn fires_for_every_listed_change() {
        for event in META.events {
            let crate::detector::rule::NameMatch::Exact(name) = event.name else {
                panic!("exact names only")
            };
            assert_fires(&RULE, &panther_record(name, None));
        }
    }

    #[test]
    fn an_error_message_without_code_is_also_a_failure() {
        let mut record: serde_json::Value =
            serde_json::from_str(&panther_record("DeleteBucketPolicy", None)).unwrap();
        record["errorMessage"] = "The bucket policy does not exist".into();
        assert_silent(&RULE, &record.to_string());
    }
}
