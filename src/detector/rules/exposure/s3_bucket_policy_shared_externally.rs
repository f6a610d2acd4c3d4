//! `s3-bucket-policy-shared-externally`
//!
//! **What it detects.** A successful `PutBucketPolicy` whose `Allow` statements let in an AWS
//! account other than the bucket owner's (`recipientAccountId`) and the trusted accounts, or
//! everyone.
//!
//! **Why it matters.** A bucket policy that trusts an outside account is a quiet, durable backdoor:
//! the outside account reads (or writes) the data with its own credentials, and rotating the
//! victim's keys does not close it.
//!
//! **Published rule.** Elastic "AWS S3 Bucket Policy Added to Share with External Account"
//! (e8c9ff14-fd1e-11ee-a0df-f661ea17fbce), both versions.
//!
//! **How we differ.** Elastic decides by substring: it stays silent whenever the owner's account id
//! appears anywhere in the request (bucket name, resource ARN, another statement, a `Deny`), and
//! when a condition narrows on something other than an account (an IP address). We parse the
//! policy: only the principals and narrowing conditions of `Allow` statements count, so
//! `data-111122223333` as a bucket name hides nothing, and `Principal: "*"` narrowed only by
//! `aws:SourceIp` is reported as public. Its CloudFront exclusions are kept structurally: origin
//! access identities (`arn:aws:iam::cloudfront:user/...`) and the `cloudfront.amazonaws.com`
//! service principal (origin access control, whose `aws:SourceArn` is `arn:aws:cloudfront::...`)
//! are not external accounts.
//!
//! **Blind spots.** Canonical user ids cannot be mapped to accounts offline and do not alert on
//! their own. A policy CloudTrail did not log (very large requests) cannot be judged. Access
//! granted by ACLs or access points is out of scope (see `s3-bucket-config-modified`).

use crate::detector::policy::PolicyAnalysis;
use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_name, describe_outsiders};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: BucketPolicySharedExternally = BucketPolicySharedExternally;

/// See the module documentation.
pub struct BucketPolicySharedExternally;

static META: RuleMeta = RuleMeta {
    id: "s3-bucket-policy-shared-externally",
    title: "S3 bucket policy shares the bucket with an external account",
    description: "A bucket policy was set whose Allow statements let in an AWS account other than \
        the bucket owner's and the trusted accounts, or everyone. Adversaries backdoor buckets \
        this way to exfiltrate data or keep access after credentials are rotated.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0010",
            tactic_name: "Exfiltration",
            technique_id: "T1537",
            technique_name: "Transfer Data to Cloud Account",
        },
        Attack {
            tactic_id: "TA0009",
            tactic_name: "Collection",
            technique_id: "T1530",
            technique_name: "Data from Cloud Storage",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.s3-backdoor-bucket-policy/",
        "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html",
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html",
    ],
    false_positives: &[
        "Legitimate sharing with a partner or another account of yours: add it to the trusted \
         accounts once it is approved.",
        "Deployment pipelines that attach cross-account policies for replication or staging; the \
         user agent or role name usually shows the automation.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether it normally manages bucket policies.",
        "Read details.external_accounts, details.public and details.statement_ids in the policy; check whether the accounts are known partners.",
        "Check actor.source_ip and actor.user_agent for an unusual origin or client.",
        "Search CloudTrail for GetObject/ListBucket/PutObject by the external accounts and for PutBucketAcl, PutBucketReplication or PutBucketVersioning by the same actor.",
        "If unapproved: restore the previous policy (or delete-bucket-policy), rotate the actor's credentials, and scope what was read.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS S3 Bucket Policy Added to Share with External Account",
        id: "e8c9ff14-fd1e-11ee-a0df-f661ea17fbce",
    },
    notes: &[
        "Decides from the parsed policy: an owner account id in the bucket name, resource ARN, \
         another statement or a Deny no longer hides a share.",
        "Principal \"*\" narrowed only by aws:SourceIp is reported as public (Elastic is blind to it).",
        "CloudFront origin access identities and service principals are not external accounts.",
    ],
    events: &[EventSelector::exact("s3.amazonaws.com", "PutBucketPolicy")],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
struct PutBucketPolicyParams<'a> {
    #[serde(
        rename = "bucketName",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    bucket_name: Option<Cow<'a, str>>,
    #[serde(rename = "bucketPolicy", default)]
    bucket_policy: Option<Value>,
}

impl Rule for BucketPolicySharedExternally {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, ctx: &RuleContext) -> Verdict {
        let params: PutBucketPolicyParams = record.require_request_parameters()?;
        let policy = params
            .bucket_policy
            .as_ref()
            .filter(|p| !p.is_null())
            .ok_or(Unevaluable::Missing("requestParameters.bucketPolicy"))?;
        let analysis = PolicyAnalysis::from_value(policy)
            .map_err(|e| Unevaluable::malformed("requestParameters.bucketPolicy", e))?;
        let owner = record.owner_account();
        let access = analysis.external_access(
            |account| ctx.is_internal(account, owner),
            |org| ctx.is_trusted_organization(org),
        );
        if !access.any() {
            return Ok(None);
        }
        let bucket = params.bucket_name.as_deref().unwrap_or("");
        let whom = describe_outsiders(
            access.public,
            &access.accounts,
            &access.organizations,
            "everyone",
        );
        Ok(Some(Finding::new(
            format!(
                "{} set a policy on S3 bucket {} that lets in {}",
                actor_name(record),
                clean(bucket, 100),
                whom
            ),
            json!({
                "resource_type": "s3-bucket",
                "resource": format!("arn:aws:s3:::{bucket}"),
                "bucket": bucket,
                "bucket_owner": owner,
                "external_accounts": access.accounts,
                "external_organizations": access.organizations,
                "public": access.public,
                "statement_ids": access.statement_ids,
                "actions": access.actions,
                "source_ip_condition": access.source_ip,
            }),
            vec![
                bucket.to_owned(),
                access
                    .accounts
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(","),
                if access.public { "public" } else { "" }.to_owned(),
            ],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{
        assert_fires, assert_silent, assert_unevaluable, finding_with,
    };
    use serde_json::json;

    fn put_bucket_policy(bucket: &str, policy: Value) -> String {
        json!({
            "eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
            "awsRegion": "us-east-1", "eventID": "e1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory",
                "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE"},
            "requestParameters": {"bucketName": bucket, "bucketPolicy": policy, "host": [format!("{bucket}.s3.amazonaws.com")]},
            "responseElements": null
        })
        .to_string()
    }

    fn allow(principal: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "Share", "Effect": "Allow",
            "Principal": principal, "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}]})
    }

    #[test]
    fn fires_on_a_share_with_another_account() {
        let f = assert_fires(
            &RULE,
            &put_bucket_policy("b", allow(json!({"AWS": "arn:aws:iam::444455556666:root"}))),
        );
        assert_eq!(f.details["external_accounts"], json!(["444455556666"]));
        assert_eq!(f.details["public"], json!(false));
        assert_eq!(f.details["statement_ids"], json!(["Share"]));
        assert!(f.summary.contains("444455556666"), "{}", f.summary);
    }

    #[test]
    fn fires_when_the_owner_id_is_in_the_bucket_name_elastic_blind_spot() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*",
             "Resource": "arn:aws:s3:::logs-111122223333/*"},
            {"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::logs-111122223333/*"}]});
        let f = assert_fires(&RULE, &put_bucket_policy("logs-111122223333", policy));
        assert_eq!(f.details["external_accounts"], json!(["444455556666"]));
        assert_eq!(f.details["statement_ids"], json!(["#1"]));
    }

    #[test]
    fn fires_on_public_policies_even_with_an_ip_condition() {
        let policy = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*", "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}}});
        let f = assert_fires(&RULE, &put_bucket_policy("b", policy));
        assert_eq!(f.details["public"], json!(true));
        assert!(f.summary.contains("everyone"));
    }

    #[test]
    fn fires_on_a_policy_given_as_a_json_string() {
        let policy = allow(json!({"AWS": "444455556666"})).to_string();
        assert_fires(&RULE, &put_bucket_policy("b", Value::String(policy)));
    }

    #[test]
    fn silent_for_owner_services_cloudfront_and_deny() {
        for principal in [
            json!({"AWS": "arn:aws:iam::111122223333:role/app"}),
            json!({"Service": "cloudtrail.amazonaws.com"}),
            json!({"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2QWRUHAPOMQZL"}),
        ] {
            assert_silent(&RULE, &put_bucket_policy("b", allow(principal)));
        }
        let oac = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::111122223333:distribution/E1"}}}]});
        assert_silent(&RULE, &put_bucket_policy("b", oac));
        let deny = json!({"Statement": [{"Effect": "Deny", "Principal": {"AWS": "444455556666"},
            "Action": "s3:*", "Resource": "*"}]});
        assert_silent(&RULE, &put_bucket_policy("b", deny));
    }

    #[test]
    fn silent_for_trusted_accounts() {
        let record = put_bucket_policy("b", allow(json!({"AWS": "444455556666"})));
        assert!(finding_with(&RULE, &record, &["444455556666"]).is_none());
        assert!(finding_with(&RULE, &record, &["777788889999"]).is_some());
    }

    #[test]
    fn silent_for_failed_calls_and_unevaluable_for_unreadable_policies() {
        let mut failed: Value = serde_json::from_str(&put_bucket_policy(
            "b",
            allow(json!({"AWS": "444455556666"})),
        ))
        .unwrap();
        failed["errorCode"] = json!("AccessDenied");
        assert_silent(&RULE, &failed.to_string());
        // A successful call whose policy we cannot read is counted as skipped, not passed.
        let err = assert_unevaluable(&RULE, &put_bucket_policy("b", json!("invalid-json-policy")));
        assert!(err.to_string().contains("bucketPolicy"), "{err}");
        let mut no_params: Value =
            serde_json::from_str(&put_bucket_policy("b", json!({}))).unwrap();
        no_params["requestParameters"] = Value::Null;
        assert_eq!(
            assert_unevaluable(&RULE, &no_params.to_string()),
            Unevaluable::Missing("requestParameters")
        );
    }
}
