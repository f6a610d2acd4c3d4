//! S3 bucket, directory bucket, access point and Multi-Region Access Point policies, object copies
//! and replication to another account.

use super::Extracted;
use super::acl::{bucket_owner_from_resources, s3_acl};
use crate::detector::arn::account_of;
use crate::detector::record::Record;
use crate::detector::rule::Unevaluable;
use crate::detector::rules::exposure::access::{Exposure, OneOrMany, Zone, opt_str};
use serde::Deserialize;
use serde_json::Value;

// ---- S3 -------------------------------------------------------------------------------------

/// `PutBucketPolicy` (general purpose and directory buckets).
#[derive(Deserialize)]
struct BucketPolicyParams {
    #[serde(rename = "bucketName", default)]
    bucket_name: Option<Value>,
    #[serde(rename = "bucketPolicy", default)]
    bucket_policy: Option<Value>,
}

/// A bucket policy.
pub fn s3_bucket_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    bucket_policy(record, zone, "s3-bucket")
}

/// A directory bucket (S3 Express One Zone) policy.
pub fn s3_directory_bucket_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    bucket_policy(record, zone, "s3-directory-bucket")
}

fn bucket_policy(record: &Record<'_>, zone: &Zone<'_>, resource_type: &'static str) -> Extracted {
    let params: BucketPolicyParams = record.require_request_parameters()?;
    let bucket = opt_str(&params.bucket_name).unwrap_or("");
    let service = if resource_type == "s3-bucket" {
        "s3"
    } else {
        "s3express"
    };
    let resource = if service == "s3" {
        format!("arn:{}:s3:::{bucket}", zone.partition())
    } else {
        zone.arn(service, true, &format!("bucket/{bucket}"))
    };
    let mut exposure = Exposure::of(resource_type, resource);
    exposure.add_policy_access(zone.judge_policy(
        params.bucket_policy.as_ref(),
        "requestParameters.bucketPolicy",
    )?);
    Ok(Some(exposure))
}

/// `PutAccessPointPolicy` (S3 Control): the access point name and its policy, as the request's
/// URI parameter and XML body (`PutAccessPointPolicyRequest.Policy`).
#[derive(Deserialize)]
struct AccessPointPolicyParams {
    #[serde(default)]
    name: Option<Value>,
    #[serde(rename = "PutAccessPointPolicyRequest", default)]
    request: Option<PolicyBody>,
    #[serde(rename = "policy", alias = "Policy", default)]
    policy: Option<Value>,
}

#[derive(Deserialize, Default)]
struct PolicyBody {
    #[serde(rename = "Policy", alias = "policy", default)]
    policy: Option<Value>,
    #[serde(rename = "Name", alias = "name", default)]
    name: Option<Value>,
}

/// An S3 access point policy.
pub fn s3_access_point_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: AccessPointPolicyParams = record.require_request_parameters()?;
    let name = opt_str(&params.name).unwrap_or("");
    let policy = params
        .policy
        .or_else(|| params.request.and_then(|r| r.policy));
    let mut exposure = Exposure::of(
        "s3-access-point",
        zone.arn("s3", true, &format!("accesspoint/{name}")),
    );
    exposure.add_policy_access(zone.judge_policy(policy.as_ref(), "requestParameters.policy")?);
    Ok(Some(exposure))
}

/// `PutMultiRegionAccessPointPolicy`: `Details.Name` and `Details.Policy` in the XML body.
#[derive(Deserialize)]
struct MultiRegionAccessPointPolicyParams {
    #[serde(
        rename = "PutMultiRegionAccessPointPolicyRequest",
        alias = "Details",
        default
    )]
    request: Option<MultiRegionBody>,
}

#[derive(Deserialize, Default)]
struct MultiRegionBody {
    #[serde(rename = "Details", default)]
    details: Option<PolicyBody>,
    #[serde(rename = "Policy", default)]
    policy: Option<Value>,
    #[serde(rename = "Name", default)]
    name: Option<Value>,
}

/// An S3 multi-Region access point policy.
pub fn s3_multi_region_access_point_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: MultiRegionAccessPointPolicyParams = record.require_request_parameters()?;
    let body = params.request.unwrap_or_default();
    let (name, policy) = match body.details {
        Some(d) => (d.name, d.policy),
        None => (body.name, body.policy),
    };
    let mut exposure = Exposure::of(
        "s3-multi-region-access-point",
        format!(
            "arn:{}:s3::{}:accesspoint/{}",
            zone.partition(),
            zone.owner.unwrap_or(""),
            opt_str(&name).unwrap_or("")
        ),
    );
    exposure
        .add_policy_access(zone.judge_policy(policy.as_ref(), "requestParameters.Details.Policy")?);
    Ok(Some(exposure))
}

/// `CopyObject`: an object ACL, or a copy into a bucket another account owns.
pub fn s3_object_copy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let Some(mut exposure) = s3_acl(record, zone, true)? else {
        return Ok(None);
    };
    if !record
        .resources
        .is_some_and(|raw| raw.get().contains("\"accountId\""))
    {
        return Ok(Some(exposure));
    }
    #[derive(Deserialize)]
    struct Object {
        #[serde(rename = "bucketName", default)]
        bucket_name: Option<Value>,
        #[serde(default)]
        key: Option<Value>,
    }
    let (bucket, key) = record
        .request_parameters::<Object>()?
        .map(|o| {
            (
                opt_str(&o.bucket_name).unwrap_or("").to_owned(),
                opt_str(&o.key).unwrap_or("").to_owned(),
            )
        })
        .unwrap_or_default();
    if exposure.resource.is_empty() {
        exposure.resource = format!("arn:{}:s3:::{bucket}/{key}", zone.partition());
    }
    if let Some(owner) = bucket_owner_from_resources(record, &bucket)
        && !zone.is_internal(&owner)
    {
        exposure.note("copied_to_bucket_owned_by", &owner);
        exposure.add_account(zone, &owner);
    }
    Ok(Some(exposure))
}

/// `PutBucketReplication`: replication rules whose destination is another account's bucket.
#[derive(Deserialize)]
struct ReplicationParams {
    #[serde(rename = "bucketName", default)]
    bucket_name: Option<Value>,
    #[serde(rename = "ReplicationConfiguration", default)]
    configuration: Option<ReplicationConfiguration>,
}

#[derive(Deserialize, Default)]
struct ReplicationConfiguration {
    #[serde(rename = "Rule", default)]
    rules: OneOrMany<ReplicationRule>,
}

#[derive(Deserialize)]
struct ReplicationRule {
    #[serde(rename = "Destination", default)]
    destination: Option<ReplicationDestination>,
    #[serde(rename = "Status", default)]
    status: Option<Value>,
}

#[derive(Deserialize)]
struct ReplicationDestination {
    #[serde(rename = "Bucket", default)]
    bucket: Option<Value>,
    #[serde(rename = "Account", default)]
    account: Option<Value>,
}

/// Replication to a bucket in another account.
pub fn s3_replication(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: ReplicationParams = record.require_request_parameters()?;
    let bucket = opt_str(&params.bucket_name).unwrap_or("");
    let mut exposure = Exposure::of(
        "s3-bucket",
        format!("arn:{}:s3:::{bucket}", zone.partition()),
    );
    let configuration = params.configuration.ok_or(Unevaluable::Missing(
        "requestParameters.ReplicationConfiguration",
    ))?;
    let mut destinations = Vec::new();
    for rule in configuration.rules.items() {
        if opt_str(&rule.status).is_some_and(|s| s.eq_ignore_ascii_case("disabled")) {
            continue;
        }
        let Some(destination) = &rule.destination else {
            continue;
        };
        if let Some(account) = opt_str(&destination.account).and_then(account_of) {
            if !zone.is_internal(account) {
                destinations.push(opt_str(&destination.bucket).unwrap_or("").to_owned());
            }
            exposure.add_account(zone, account);
        }
    }
    if !destinations.is_empty() {
        exposure.note("replication_destinations", &destinations);
        exposure.actions.insert("s3:ReplicateObject".into());
    }
    Ok(Some(exposure))
}
