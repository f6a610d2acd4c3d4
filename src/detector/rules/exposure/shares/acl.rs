//! S3 access control lists (bucket and object ACLs): grants to other accounts and the global
//! groups.

use super::{Extracted, string_leaves};
use crate::detector::arn;
use crate::detector::record::Record;
use crate::detector::rules::exposure::access::{Exposure, OneOrMany, Zone, opt_str};
use serde::Deserialize;
use serde_json::Value;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// An S3 ACL as CloudTrail logs it: canned (`x-amz-acl`), grant headers (`x-amz-grant-*`) or
/// the XML body (`AccessControlPolicy.AccessControlList.Grant`), on `PutBucketAcl`,
/// `PutObjectAcl`, `CreateBucket`, `PutObject` and `CopyObject`.
#[derive(Deserialize)]
struct S3AclParams {
    #[serde(rename = "bucketName", default)]
    bucket_name: Option<Value>,
    #[serde(default)]
    key: Option<Value>,
    #[serde(rename = "x-amz-acl", default)]
    canned: Option<Value>,
    #[serde(rename = "x-amz-grant-read", default)]
    grant_read: Option<Value>,
    #[serde(rename = "x-amz-grant-write", default)]
    grant_write: Option<Value>,
    #[serde(rename = "x-amz-grant-read-acp", default)]
    grant_read_acp: Option<Value>,
    #[serde(rename = "x-amz-grant-write-acp", default)]
    grant_write_acp: Option<Value>,
    #[serde(rename = "x-amz-grant-full-control", default)]
    grant_full_control: Option<Value>,
    #[serde(rename = "AccessControlPolicy", default)]
    access_control_policy: Option<AccessControlPolicy>,
}

#[derive(Deserialize, Default)]
struct AccessControlPolicy {
    #[serde(rename = "AccessControlList", default)]
    list: Option<AccessControlList>,
    #[serde(rename = "Owner", default)]
    owner: Option<AclOwner>,
}

#[derive(Deserialize, Default)]
struct AclOwner {
    #[serde(rename = "ID", default)]
    id: Option<Value>,
}

#[derive(Deserialize, Default)]
struct AccessControlList {
    #[serde(rename = "Grant", default)]
    grants: OneOrMany<AclGrant>,
}

#[derive(Deserialize)]
struct AclGrant {
    #[serde(rename = "Grantee", default)]
    grantee: Option<AclGrantee>,
    #[serde(rename = "Permission", default)]
    permission: Option<Value>,
}

#[derive(Deserialize)]
struct AclGrantee {
    #[serde(rename = "URI", default)]
    uri: Option<Value>,
    #[serde(rename = "ID", default)]
    id: Option<Value>,
    #[serde(rename = "EmailAddress", default)]
    email: Option<Value>,
}

/// `AWS::S3::Bucket` entries of `resources`, with the owning account CloudTrail names.
#[derive(Deserialize)]
struct ResourceEntry {
    #[serde(rename = "ARN", default)]
    arn: Option<Value>,
    #[serde(rename = "accountId", default)]
    account_id: Option<Value>,
    #[serde(rename = "type", default)]
    resource_type: Option<Value>,
}

/// The account CloudTrail says owns `bucket` (`resources[].accountId`), if it says.
pub fn bucket_owner_from_resources(record: &Record<'_>, bucket: &str) -> Option<String> {
    let entries: Vec<ResourceEntry> = record.resources().ok().flatten()?;
    entries.into_iter().find_map(|entry| {
        let is_bucket = opt_str(&entry.resource_type) == Some("AWS::S3::Bucket")
            && opt_str(&entry.arn)
                .and_then(arn::Arn::parse)
                .is_some_and(|a| a.resource == bucket);
        if is_bucket {
            opt_str(&entry.account_id)
                .filter(|a| arn::is_account_id(a))
                .map(str::to_owned)
        } else {
            None
        }
    })
}

/// True when the parameters carry an ACL at all. Object writes are the busiest data events;
/// CloudTrail writes these key names itself, so a substring test on the raw parameters is a
/// safe fast path that keeps records without an ACL as cheap as before.
pub(super) fn has_acl(record: &Record<'_>) -> bool {
    record.request_parameters.is_some_and(|raw| {
        let text = raw.get();
        text.contains("\"x-amz-acl\"")
            || text.contains("\"x-amz-grant-")
            || text.contains("\"AccessControlPolicy\"")
    })
}

pub(super) fn s3_acl(record: &Record<'_>, zone: &Zone<'_>, object: bool) -> Extracted {
    if !has_acl(record) {
        let bucket_only = Exposure::of(if object { "s3-object" } else { "s3-bucket" }, "");
        return Ok(Some(bucket_only));
    }
    let Some(params) = record.request_parameters::<S3AclParams>()? else {
        return Ok(None);
    };
    let bucket = opt_str(&params.bucket_name).unwrap_or("");
    let key = opt_str(&params.key).unwrap_or("");
    let partition = zone.partition();
    let mut exposure = if object {
        Exposure::of("s3-object", format!("arn:{partition}:s3:::{bucket}/{key}"))
    } else {
        Exposure::of("s3-bucket", format!("arn:{partition}:s3:::{bucket}"))
    };
    let mut canned = Vec::new();
    if let Some(v) = &params.canned {
        string_leaves(v, &mut canned);
    }
    for acl in canned.iter().map(|a| a.trim().to_ascii_lowercase()) {
        match acl.as_str() {
            "public-read" | "public-read-write" | "authenticated-read" => {
                exposure.public = true;
                exposure.note("canned_acl", &acl);
            }
            _ => {}
        }
    }
    let owner_id = params
        .access_control_policy
        .as_ref()
        .and_then(|p| p.owner.as_ref())
        .and_then(|o| opt_str(&o.id))
        .map(str::to_owned);
    let mut grantees: Vec<(String, String)> = Vec::new();
    for (permission, header) in [
        ("READ", &params.grant_read),
        ("WRITE", &params.grant_write),
        ("READ_ACP", &params.grant_read_acp),
        ("WRITE_ACP", &params.grant_write_acp),
        ("FULL_CONTROL", &params.grant_full_control),
    ] {
        let mut values = Vec::new();
        if let Some(v) = header {
            string_leaves(v, &mut values);
        }
        // `uri="...", id="..."`: comma-separated `type=value` pairs.
        for pair in values.iter().flat_map(|v| v.split(',')) {
            if let Some((kind, value)) = pair.split_once('=') {
                let value = value.trim().trim_matches('"').to_owned();
                grantees.push((kind.trim().to_ascii_lowercase(), value));
                exposure.actions.insert(format!("s3:acl:{permission}"));
            }
        }
    }
    if let Some(list) = params.access_control_policy.and_then(|p| p.list) {
        for grant in list.grants.items() {
            let Some(grantee) = &grant.grantee else {
                continue;
            };
            let permission = opt_str(&grant.permission).unwrap_or("?");
            let entry = if let Some(uri) = opt_str(&grantee.uri) {
                ("uri".to_owned(), uri.to_owned())
            } else if let Some(id) = opt_str(&grantee.id) {
                ("id".to_owned(), id.to_owned())
            } else if let Some(email) = opt_str(&grantee.email) {
                ("emailaddress".to_owned(), email.to_owned())
            } else {
                continue;
            };
            let owner_grant = entry.0 == "id" && owner_id.as_deref() == Some(entry.1.as_str());
            if !owner_grant {
                exposure.actions.insert(format!("s3:acl:{permission}"));
            }
            grantees.push(entry);
        }
    }
    let mut external_grantees = Vec::new();
    for (kind, value) in grantees {
        match kind.as_str() {
            "uri" if value == ALL_USERS || value == AUTHENTICATED_USERS => {
                exposure.public = true;
                external_grantees.push(value);
            }
            // Another canonical user than the owner: an account we cannot name offline.
            "id" if owner_id.as_deref() != Some(value.as_str()) && owner_id.is_some() => {
                external_grantees.push(format!("canonical-user:{value}"));
            }
            "emailaddress" => external_grantees.push(format!("email:{value}")),
            _ => {}
        }
    }
    for grantee in &external_grantees {
        if grantee.starts_with("canonical-user:") || grantee.starts_with("email:") {
            exposure.unresolved_grantees.insert(grantee.clone());
        }
    }
    if !external_grantees.is_empty() {
        exposure.note("acl_grantees", &external_grantees);
    }
    Ok(Some(exposure))
}

/// `PutBucketAcl`, `CreateBucket`: a bucket ACL.
pub fn s3_bucket_acl(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    s3_acl(record, zone, false)
}

/// `PutObjectAcl`, `PutObject`: an object ACL.
pub fn s3_object_acl(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    s3_acl(record, zone, true)
}
