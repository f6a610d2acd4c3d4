//! `s3-object-encrypted-with-external-kms-key`
//!
//! **What it detects.** A successful `CopyObject` whose
//! `x-amz-server-side-encryption-aws-kms-key-id` is a KMS key ARN (any partition, key or alias)
//! owned by an account other than the bucket owner's (`recipientAccountId`) and the trusted
//! accounts. The same request header on `PutObject` and `CreateMultipartUpload` is caught too.
//!
//! **Why it matters.** Re-encrypting objects in place with a key the attacker owns is
//! ransomware for S3: once the attacker revokes the key, the victim cannot read their own data.
//!
//! **Published rule.** Elastic "AWS S3 Object Encryption Using External KMS Key" (ES|QL).
//!
//! **How we differ.** Elastic dissects the flattened request string with a fixed field order, so
//! any other order, an alias ARN or another partition slips through; we read the parsed field.
//! Elastic watches `CopyObject` only; an attacker uploading new objects (`PutObject`) or large
//! ones (`CreateMultipartUpload`) with their key has the same effect, so we watch those too.
//!
//! **Whose trail.** Cross-account writes are logged in both the bucket owner's and the writer's
//! trail. The bucket owner is taken from `resources[]` (`AWS::S3::Bucket` `accountId`) when
//! CloudTrail gives it, else `recipientAccountId`: a key of the writer's account on another
//! account's bucket alerts in either trail, and the bucket owner's own key never does.
//!
//! **Blind spots.** Bare key ids and alias names refer to the caller's own account and are not
//! judged. SSE-C (customer-provided keys, used in real S3 ransomware) is not a KMS key and needs
//! its own rule. Object-level data events must be enabled on the trail.

use crate::detector::arn::{Arn, is_account_id};
use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::exposure::shares::bucket_owner_from_resources;
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: ObjectEncryptedWithExternalKey = ObjectEncryptedWithExternalKey;

/// See the module documentation.
pub struct ObjectEncryptedWithExternalKey;

const S3: &str = "s3.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "s3-object-encrypted-with-external-kms-key",
    title: "S3 object encrypted with a KMS key from an external account",
    description: "An object was written or copied in an S3 bucket with server-side encryption \
        under a KMS key owned by another, untrusted account. Adversaries re-encrypt objects with \
        their own key to deny the owner access to the data (ransomware).",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[Attack {
        tactic_id: "TA0040",
        tactic_name: "Impact",
        technique_id: "T1486",
        technique_name: "Data Encrypted for Impact",
    }],
    references: &[
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
        "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html",
        "https://www.elastic.co/guide/en/security/current/aws-s3-object-encryption-using-external-kms-key.html",
    ],
    false_positives: &[
        "Administrators in an AWS Organization may encrypt objects with a central key in another \
         account; add that account to the trusted accounts.",
    ],
    triage: &[
        "Identify details.kms_key_account: is it an account of yours?",
        "Check whether the actor (actor.arn) should write to details.bucket, and how many objects it rewrote (search CopyObject/PutObject by the same access key).",
        "If hostile: block the actor, restore previous object versions (versioning) and check whether the key's owner can still be reached through a key grant.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS S3 Object Encryption Using External KMS Key",
        id: "ab8f074c-5565-4bc4-991c-d49770e19fc9",
    },
    notes: &[
        "Also watches PutObject and CreateMultipartUpload, not only CopyObject.",
        "Reads the parsed key id: any field order, key or alias ARNs, every partition.",
        "Dedup is per bucket and key: a mass re-encryption is one alert per hour, not thousands.",
    ],
    events: &[
        EventSelector::exact(S3, "CopyObject"),
        EventSelector::exact(S3, "PutObject"),
        EventSelector::exact(S3, "CreateMultipartUpload"),
    ],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
struct ObjectWriteParams<'a> {
    #[serde(
        rename = "bucketName",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    bucket_name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    key: Option<Cow<'a, str>>,
    #[serde(
        rename = "x-amz-server-side-encryption-aws-kms-key-id",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    kms_key_id: Option<Cow<'a, str>>,
    #[serde(
        rename = "x-amz-copy-source",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    copy_source: Option<Cow<'a, str>>,
}

impl Rule for ObjectEncryptedWithExternalKey {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, ctx: &RuleContext) -> Verdict {
        let params: ObjectWriteParams = record.require_request_parameters()?;
        // No SSE-KMS header, or a key id or alias (always the caller's own account's): no finding.
        let Some(key_id) = params.kms_key_id.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let Some(key_arn) = Arn::parse(key_id).filter(|a| a.service == "kms") else {
            return Ok(None);
        };
        let bucket = params.bucket_name.as_deref().unwrap_or("");
        // In the writer's own trail `recipientAccountId` is the writer's account; the bucket's
        // real owner is the `accountId` CloudTrail gives the bucket in `resources`.
        let resources_owner = bucket_owner_from_resources(record, bucket);
        let owner = resources_owner.as_deref().or(record.owner_account());
        if !is_account_id(key_arn.account) || ctx.is_internal(key_arn.account, owner) {
            return Ok(None);
        }
        let object = params.key.as_deref().unwrap_or("");
        Ok(Some(Finding::new(
            format!(
                "{} wrote s3://{}/{} ({}) encrypted with KMS key {} of account {}",
                actor_name(record),
                clean(bucket, 100),
                clean(object, 200),
                clean(record.name(), 40),
                clean(key_id, 200),
                key_arn.account
            ),
            json!({
                "bucket": bucket,
                "object_key": object,
                "kms_key_id": key_id,
                "kms_key_account": key_arn.account,
                "bucket_owner": owner,
                "copy_source": params.copy_source,
            }),
            vec![bucket.to_owned(), key_id.to_owned()],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, finding_with};
    use serde_json::Value;

    fn write(name: &str, key_id: &str) -> String {
        json!({"eventSource": "s3.amazonaws.com", "eventName": name, "recipientAccountId": "111111111111",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111111111111:assumed-role/r/s",
                "accountId": "111111111111"},
            "requestParameters": {"bucketName": "victim-data-bucket", "key": "important-file.txt",
                "x-amz-copy-source": "victim-data-bucket/important-file.txt",
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": key_id}})
        .to_string()
    }

    #[test]
    fn in_place_copy_with_an_external_key() {
        let f = assert_fires(
            &RULE,
            &write(
                "CopyObject",
                "arn:aws:kms:us-east-1:999999999999:key/attacker-key-id",
            ),
        );
        assert_eq!(f.details["kms_key_account"], "999999999999");
        assert_eq!(f.details["bucket"], "victim-data-bucket");
        assert_eq!(f.details["object_key"], "important-file.txt");
    }

    #[test]
    fn the_writers_own_trail_is_judged_by_the_real_bucket_owner() {
        // The attacker (999999999999) writes into the victim's bucket with its own key; in the
        // attacker's trail recipientAccountId is 999999999999 and resources[] names the bucket
        // owner (S3 data events, "resources" with accountId).
        let mut record: Value = serde_json::from_str(&write(
            "PutObject",
            "arn:aws:kms:us-east-1:999999999999:key/attacker-key-id",
        ))
        .unwrap();
        record["recipientAccountId"] = json!("999999999999");
        record["userIdentity"]["accountId"] = json!("999999999999");
        assert_silent(&RULE, &record.to_string());
        record["resources"] = json!([
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::victim-data-bucket/important-file.txt"},
            {"accountId": "111111111111", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::victim-data-bucket"}]);
        let f = assert_fires(&RULE, &record.to_string());
        assert_eq!(f.details["bucket_owner"], "111111111111");
        // The bucket owner's own key, seen from the writer's trail, is not external.
        record["requestParameters"]["x-amz-server-side-encryption-aws-kms-key-id"] =
            json!("arn:aws:kms:us-east-1:111111111111:key/owner-key");
        assert_silent(&RULE, &record.to_string());
    }

    #[test]
    fn put_object_multipart_alias_and_other_partitions_too() {
        assert_fires(
            &RULE,
            &write("PutObject", "arn:aws:kms:us-east-1:999999999999:key/k"),
        );
        assert_fires(
            &RULE,
            &write(
                "CreateMultipartUpload",
                "arn:aws-us-gov:kms:us-gov-west-1:999999999999:alias/x",
            ),
        );
        assert_fires(
            &RULE,
            &write("CopyObject", "arn:aws-cn:kms:cn-north-1:999999999999:key/k"),
        );
    }

    #[test]
    fn own_trusted_bare_or_failed_keys_are_silent() {
        assert_silent(
            &RULE,
            &write(
                "CopyObject",
                "arn:aws:kms:us-east-1:111111111111:key/developer",
            ),
        );
        assert_silent(
            &RULE,
            &write("CopyObject", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        );
        assert_silent(&RULE, &write("CopyObject", "alias/my-key"));
        assert_silent(&RULE, &write("CopyObject", "arn:aws:kms:us-east-1:*:key/k"));
        let record = write("CopyObject", "arn:aws:kms:us-east-1:999999999999:key/k");
        assert!(finding_with(&RULE, &record, &["999999999999"]).is_none());
        let mut failed: Value = serde_json::from_str(&record).unwrap();
        failed["errorCode"] = json!("AccessDenied");
        assert_silent(&RULE, &failed.to_string());
    }

    #[test]
    fn objects_without_kms_are_silent() {
        let record = json!({"eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "recipientAccountId": "111111111111", "requestParameters": {"bucketName": "b", "key": "k"}});
        assert_silent(&RULE, &record.to_string());
    }
}
