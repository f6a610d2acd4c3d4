//! Extractors for `resource-shared-with-external-account`: one typed parameter struct and one
//! extractor per resource type. Field names follow each API's request syntax as CloudTrail
//! logs it in `requestParameters` (camelCase for JSON APIs; XML body element names for S3;
//! `items` lists for EC2); the rule file names the source of each shape beside its test case.

use crate::detector::arn::{self, account_of};
use crate::detector::record::Record;
use crate::detector::rule::Unevaluable;
use crate::detector::rules::exposure::access::{Exposure, OneOrMany, Zone, opt_str};
use serde::Deserialize;
use serde_json::Value;

type Extracted = Result<Option<Exposure>, Unevaluable>;

/// Every string leaf under a JSON node (shapes that vary between `{"item": [...]}`,
/// `{"content": ...}` and plain lists).
fn string_leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| string_leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| string_leaves(v, out)),
        _ => {}
    }
}

/// Judges a principal named directly (not through a policy): an account, an ARN in an
/// account, `*`, an organization or OU ARN, or a service principal.
fn add_principal(exposure: &mut Exposure, zone: &Zone<'_>, principal: &str) {
    let principal = principal.trim();
    if principal == "*" {
        exposure.public = true;
    } else if let Some(org) = organization_of(principal) {
        exposure.add_organization(zone, &org);
    } else if let Some(account) = account_of(principal) {
        exposure.add_account(zone, account);
    }
}

/// The organization id or `o-.../ou-...` path an Organizations ARN names.
fn organization_of(s: &str) -> Option<String> {
    let parsed = arn::Arn::parse(s)?;
    if parsed.service != "organizations" {
        return None;
    }
    let path = parsed
        .resource
        .strip_prefix("organization/")
        .or_else(|| parsed.resource.strip_prefix("ou/"))?;
    Some(path.to_owned())
}

// ---- EC2 AMIs and EBS snapshots -------------------------------------------------------------

#[derive(Deserialize, Default)]
struct Ec2PermissionItem {
    #[serde(rename = "userId", default)]
    user_id: Option<Value>,
    #[serde(default)]
    group: Option<Value>,
    #[serde(rename = "organizationArn", default)]
    organization_arn: Option<Value>,
    #[serde(rename = "organizationalUnitArn", default)]
    organizational_unit_arn: Option<Value>,
}

#[derive(Deserialize, Default)]
struct Ec2Items {
    #[serde(default)]
    items: Vec<Ec2PermissionItem>,
}

#[derive(Deserialize, Default)]
struct Ec2Change {
    #[serde(default)]
    add: Option<Ec2Items>,
}

/// `ModifyImageAttribute` / `ModifySnapshotAttribute`.
#[derive(Deserialize)]
struct Ec2ShareParams {
    #[serde(rename = "imageId", alias = "snapshotId", default)]
    id: Option<Value>,
    #[serde(rename = "launchPermission", alias = "createVolumePermission", default)]
    permission: Option<Ec2Change>,
}

fn ec2_share(record: &Record<'_>, zone: &Zone<'_>, resource_type: &'static str) -> Extracted {
    let params: Ec2ShareParams = record.require_request_parameters()?;
    let mut exposure = Exposure::of(resource_type, opt_str(&params.id).unwrap_or(""));
    let mut organizations = Vec::new();
    let items = params.permission.and_then(|p| p.add).unwrap_or_default();
    for item in &items.items {
        if let Some(account) = opt_str(&item.user_id).and_then(account_of) {
            exposure.add_account(zone, account);
        }
        if opt_str(&item.group).is_some_and(|g| g.eq_ignore_ascii_case("all")) {
            exposure.public = true;
        }
        for org_arn in [&item.organization_arn, &item.organizational_unit_arn] {
            if let Some(org_arn) = opt_str(org_arn) {
                organizations.push(org_arn.to_owned());
                let management = account_of(org_arn);
                let inside = management.is_some_and(|m| zone.is_internal(m));
                match organization_of(org_arn) {
                    // The organization's management account is trusted: its organization is.
                    _ if inside => {}
                    Some(org) if zone.ctx.judges_organizations() => {
                        exposure.add_organization(zone, &org)
                    }
                    _ => {
                        if let Some(m) = management {
                            exposure.add_account(zone, m);
                        }
                    }
                }
            }
        }
    }
    if !organizations.is_empty() {
        exposure.note("organizations", &organizations);
    }
    Ok(Some(exposure))
}

/// AMI launch permissions.
pub fn ami(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    ec2_share(record, zone, "ami")
}

/// EBS snapshot create-volume permissions.
pub fn ebs_snapshot(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    ec2_share(record, zone, "ebs-snapshot")
}

// ---- RDS and Redshift snapshots -------------------------------------------------------------

/// `ModifyDBSnapshotAttribute` / `ModifyDBClusterSnapshotAttribute`.
#[derive(Deserialize)]
struct RdsSnapshotParams {
    #[serde(
        rename = "dBSnapshotIdentifier",
        alias = "dBClusterSnapshotIdentifier",
        default
    )]
    id: Option<Value>,
    #[serde(rename = "attributeName", default)]
    attribute_name: Option<Value>,
    #[serde(rename = "valuesToAdd", default)]
    values_to_add: Option<Value>,
}

fn rds_share(record: &Record<'_>, zone: &Zone<'_>, resource_type: &'static str) -> Extracted {
    let params: RdsSnapshotParams = record.require_request_parameters()?;
    if !opt_str(&params.attribute_name).is_some_and(|a| a.eq_ignore_ascii_case("restore")) {
        return Ok(None);
    }
    let mut exposure = Exposure::of(resource_type, opt_str(&params.id).unwrap_or(""));
    let mut values = Vec::new();
    if let Some(v) = &params.values_to_add {
        string_leaves(v, &mut values);
    }
    for value in values {
        if value.trim().eq_ignore_ascii_case("all") {
            exposure.public = true;
        } else if let Some(account) = account_of(&value) {
            exposure.add_account(zone, account);
        }
    }
    Ok(Some(exposure))
}

/// RDS DB snapshot restore permissions.
pub fn rds_snapshot(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    rds_share(record, zone, "rds-snapshot")
}

/// RDS cluster snapshot restore permissions.
pub fn rds_cluster_snapshot(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    rds_share(record, zone, "rds-cluster-snapshot")
}

/// Redshift `AuthorizeSnapshotAccess`.
#[derive(Deserialize)]
struct RedshiftSnapshotParams {
    #[serde(rename = "snapshotIdentifier", alias = "snapshotArn", default)]
    id: Option<Value>,
    #[serde(rename = "accountWithRestoreAccess", default)]
    account: Option<Value>,
}

/// Redshift snapshot restore access for another account.
pub fn redshift_snapshot(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: RedshiftSnapshotParams = record.require_request_parameters()?;
    let mut exposure = Exposure::of("redshift-snapshot", opt_str(&params.id).unwrap_or(""));
    let account = opt_str(&params.account).ok_or(Unevaluable::Missing(
        "requestParameters.accountWithRestoreAccess",
    ))?;
    if account.eq_ignore_ascii_case("all") {
        exposure.public = true;
    } else if let Some(account) = account_of(account) {
        exposure.add_account(zone, account);
    }
    Ok(Some(exposure))
}

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

fn s3_acl(record: &Record<'_>, zone: &Zone<'_>, object: bool) -> Extracted {
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

/// `CopyObject`: an object ACL, or a copy into a bucket another account owns.
pub fn s3_object_copy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let Some(mut exposure) = s3_acl(record, zone, true)? else {
        return Ok(None);
    };
    #[derive(Deserialize)]
    struct Bucket {
        #[serde(rename = "bucketName", default)]
        bucket_name: Option<Value>,
    }
    let bucket = record
        .request_parameters::<Bucket>()?
        .and_then(|b| opt_str(&b.bucket_name).map(str::to_owned))
        .unwrap_or_default();
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

// ---- Lambda ---------------------------------------------------------------------------------

/// `AddPermission*` (functions) and `AddLayerVersionPermission*` (layers).
#[derive(Deserialize)]
struct LambdaPermissionParams {
    #[serde(rename = "functionName", alias = "layerName", default)]
    name: Option<Value>,
    #[serde(default)]
    principal: Option<Value>,
    #[serde(rename = "sourceAccount", default)]
    source_account: Option<Value>,
    #[serde(rename = "sourceArn", default)]
    source_arn: Option<Value>,
    #[serde(rename = "principalOrgID", alias = "organizationId", default)]
    organization: Option<Value>,
    #[serde(default)]
    action: Option<Value>,
    #[serde(rename = "statementId", default)]
    statement_id: Option<Value>,
    #[serde(rename = "functionUrlAuthType", default)]
    function_url_auth_type: Option<Value>,
    #[serde(rename = "versionNumber", default)]
    version_number: Option<Value>,
}

fn lambda_permission(record: &Record<'_>, zone: &Zone<'_>, layer: bool) -> Extracted {
    let params: LambdaPermissionParams = record.require_request_parameters()?;
    let principal = opt_str(&params.principal).unwrap_or("").trim();
    let mut exposure = Exposure::of(
        if layer {
            "lambda-layer"
        } else {
            "lambda-function"
        },
        opt_str(&params.name).unwrap_or(""),
    );
    if let Some(action) = opt_str(&params.action) {
        exposure.actions.insert(action.to_owned());
    }
    for (key, value) in [
        ("statement_id", &params.statement_id),
        ("function_url_auth_type", &params.function_url_auth_type),
        ("layer_version", &params.version_number),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_null()) {
            exposure.note(key, v);
        }
    }
    let source_account = opt_str(&params.source_account).filter(|a| arn::is_account_id(a));
    let source_arn_account = opt_str(&params.source_arn)
        .and_then(arn::Arn::parse)
        .map(|a| a.account)
        .filter(|a| arn::is_account_id(a));
    let source = source_account.or(source_arn_account);
    let organization = opt_str(&params.organization).filter(|o| !o.contains('*'));
    if principal == "*" {
        if let Some(account) = source {
            exposure.add_account(zone, account);
        } else if let Some(org) = organization {
            exposure.add_organization(zone, org);
        } else {
            exposure.public = true;
        }
    } else if let Some(account) = account_of(principal) {
        exposure.add_account(zone, account);
    } else if arn::is_service_principal(principal) {
        // Another account acting through the service (its bucket invokes this function).
        if let Some(account) = source {
            if !zone.is_internal(account) {
                exposure.note("via_service", principal);
            }
            exposure.add_account(zone, account);
        }
    } else if principal.is_empty() {
        return Err(Unevaluable::Missing("requestParameters.principal"));
    }
    Ok(Some(exposure))
}

/// A Lambda function permission.
pub fn lambda_function_permission(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    lambda_permission(record, zone, false)
}

/// A Lambda layer version permission.
pub fn lambda_layer_permission(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    lambda_permission(record, zone, true)
}

/// `CreateFunctionUrlConfig` / `UpdateFunctionUrlConfig`.
#[derive(Deserialize)]
struct FunctionUrlParams {
    #[serde(rename = "functionName", default)]
    function_name: Option<Value>,
    #[serde(rename = "authType", default)]
    auth_type: Option<Value>,
    #[serde(default)]
    qualifier: Option<Value>,
}

/// A function URL with `authType: NONE`: anyone on the internet can call it (the function's
/// resource policy must also allow `lambda:InvokeFunctionUrl` to `*`, which the console adds).
pub fn lambda_function_url(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let _ = zone;
    let params: FunctionUrlParams = record.require_request_parameters()?;
    let Some(auth_type) = opt_str(&params.auth_type) else {
        // An update that leaves the auth type alone changes nobody's access.
        return Ok(None);
    };
    let mut exposure = Exposure::of(
        "lambda-function-url",
        opt_str(&params.function_name).unwrap_or(""),
    );
    exposure.note("auth_type", auth_type);
    if let Some(q) = opt_str(&params.qualifier) {
        exposure.note("qualifier", q);
    }
    exposure.public = auth_type.eq_ignore_ascii_case("NONE");
    exposure.actions.insert("lambda:InvokeFunctionUrl".into());
    Ok(Some(exposure))
}

// ---- KMS ------------------------------------------------------------------------------------

/// `PutKeyPolicy`, `CreateKey`.
#[derive(Deserialize)]
struct KeyPolicyParams {
    #[serde(rename = "keyId", default)]
    key_id: Option<Value>,
    #[serde(default)]
    policy: Option<Value>,
}

#[derive(Deserialize)]
struct CreateKeyResponse {
    #[serde(rename = "keyMetadata", default)]
    key_metadata: Option<KeyMetadata>,
}

#[derive(Deserialize)]
struct KeyMetadata {
    #[serde(default)]
    arn: Option<Value>,
}

fn key_arn(zone: &Zone<'_>, key_id: &str) -> String {
    if key_id.starts_with("arn:") {
        key_id.to_owned()
    } else {
        zone.arn("kms", true, &format!("key/{key_id}"))
    }
}

/// A KMS key policy (`PutKeyPolicy`, or `CreateKey` with a policy; without one the default
/// policy trusts only the owner's account).
pub fn kms_key_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: KeyPolicyParams = record.require_request_parameters()?;
    let created = record
        .response_elements::<CreateKeyResponse>()
        .ok()
        .flatten()
        .and_then(|r| r.key_metadata)
        .and_then(|m| opt_str(&m.arn).map(str::to_owned));
    let resource = created.unwrap_or_else(|| key_arn(zone, opt_str(&params.key_id).unwrap_or("")));
    let mut exposure = Exposure::of("kms-key", resource);
    if record.name() == "CreateKey" && params.policy.as_ref().is_none_or(Value::is_null) {
        return Ok(None);
    }
    exposure
        .add_policy_access(zone.judge_policy(params.policy.as_ref(), "requestParameters.policy")?);
    Ok(Some(exposure))
}

/// `CreateGrant`.
#[derive(Deserialize)]
struct CreateGrantParams {
    #[serde(rename = "keyId", default)]
    key_id: Option<Value>,
    #[serde(rename = "granteePrincipal", default)]
    grantee: Option<Value>,
    #[serde(rename = "retiringPrincipal", default)]
    retiring: Option<Value>,
    #[serde(default)]
    operations: Option<Vec<Value>>,
}

/// A KMS grant to a grantee or retiring principal in another account.
pub fn kms_grant(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: CreateGrantParams = record.require_request_parameters()?;
    let mut exposure = Exposure::of(
        "kms-key",
        key_arn(zone, opt_str(&params.key_id).unwrap_or("")),
    );
    let grantee = opt_str(&params.grantee)
        .ok_or(Unevaluable::Missing("requestParameters.granteePrincipal"))?;
    exposure.note("grantee_principal", grantee);
    add_principal(&mut exposure, zone, grantee);
    if let Some(retiring) = opt_str(&params.retiring) {
        exposure.note("retiring_principal", retiring);
        add_principal(&mut exposure, zone, retiring);
    }
    for op in params.operations.iter().flatten().filter_map(Value::as_str) {
        exposure.actions.insert(format!("kms:{op}"));
    }
    Ok(Some(exposure))
}

// ---- SQS and SNS ----------------------------------------------------------------------------

/// `SetQueueAttributes` / `CreateQueue` (`attributes.Policy`) and SQS `AddPermission`.
#[derive(Deserialize)]
struct SqsParams {
    #[serde(rename = "queueUrl", default)]
    queue_url: Option<Value>,
    #[serde(rename = "queueName", default)]
    queue_name: Option<Value>,
    #[serde(default)]
    attributes: Option<serde_json::Map<String, Value>>,
    #[serde(rename = "aWSAccountIds", alias = "AWSAccountIds", default)]
    account_ids: Option<Value>,
    #[serde(default)]
    actions: Option<Value>,
    #[serde(rename = "actionNames", default)]
    action_names: Option<Value>,
}

fn queue_arn(zone: &Zone<'_>, params: &SqsParams) -> String {
    // https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
    if let Some(url) = opt_str(&params.queue_url) {
        let parts: Vec<&str> = url.trim_end_matches('/').rsplitn(3, '/').collect();
        if let [name, account, _] = parts[..]
            && arn::is_account_id(account)
        {
            return format!(
                "arn:{}:sqs:{}:{account}:{name}",
                zone.partition(),
                zone.region
            );
        }
        return url.to_owned();
    }
    zone.arn("sqs", true, opt_str(&params.queue_name).unwrap_or(""))
}

/// An SQS queue policy or permission.
pub fn sqs_queue(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: SqsParams = record.require_request_parameters()?;
    let mut exposure = Exposure::of("sqs-queue", queue_arn(zone, &params));
    if record.name() == "AddPermission" {
        let mut accounts = Vec::new();
        if let Some(v) = &params.account_ids {
            string_leaves(v, &mut accounts);
        }
        for account in accounts {
            add_principal(&mut exposure, zone, &account);
        }
        let mut actions = Vec::new();
        for v in [&params.actions, &params.action_names]
            .into_iter()
            .flatten()
        {
            string_leaves(v, &mut actions);
        }
        exposure
            .actions
            .extend(actions.into_iter().map(|a| format!("sqs:{a}")));
        return Ok(Some(exposure));
    }
    let policy = params
        .attributes
        .as_ref()
        .and_then(|a| a.get("Policy"))
        .filter(|p| p.as_str() != Some(""));
    let Some(policy) = policy else {
        // Other attributes, or an empty policy (removal): nobody is let in.
        return Ok(None);
    };
    exposure
        .add_policy_access(zone.judge_policy(Some(policy), "requestParameters.attributes.Policy")?);
    Ok(Some(exposure))
}

/// `SetTopicAttributes` (`attributeName: Policy`), `CreateTopic` (`attributes.Policy`) and SNS
/// `AddPermission`.
#[derive(Deserialize)]
struct SnsParams {
    #[serde(rename = "topicArn", default)]
    topic_arn: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(rename = "attributeName", default)]
    attribute_name: Option<Value>,
    #[serde(rename = "attributeValue", default)]
    attribute_value: Option<Value>,
    #[serde(default)]
    attributes: Option<serde_json::Map<String, Value>>,
    #[serde(rename = "aWSAccountId", alias = "AWSAccountId", default)]
    account_ids: Option<Value>,
    #[serde(rename = "actionName", alias = "ActionName", default)]
    action_names: Option<Value>,
}

/// An SNS topic policy or permission.
pub fn sns_topic(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: SnsParams = record.require_request_parameters()?;
    let resource = opt_str(&params.topic_arn)
        .map(str::to_owned)
        .unwrap_or_else(|| zone.arn("sns", true, opt_str(&params.name).unwrap_or("")));
    let mut exposure = Exposure::of("sns-topic", resource);
    match record.name() {
        "AddPermission" => {
            let mut accounts = Vec::new();
            if let Some(v) = &params.account_ids {
                string_leaves(v, &mut accounts);
            }
            for account in accounts {
                add_principal(&mut exposure, zone, &account);
            }
            let mut actions = Vec::new();
            if let Some(v) = &params.action_names {
                string_leaves(v, &mut actions);
            }
            exposure
                .actions
                .extend(actions.into_iter().map(|a| format!("sns:{a}")));
        }
        "SetTopicAttributes" => {
            if !opt_str(&params.attribute_name).is_some_and(|n| n.eq_ignore_ascii_case("Policy")) {
                return Ok(None);
            }
            exposure.add_policy_access(zone.judge_policy(
                params.attribute_value.as_ref(),
                "requestParameters.attributeValue",
            )?);
        }
        _ => {
            let Some(policy) = params.attributes.as_ref().and_then(|a| a.get("Policy")) else {
                return Ok(None);
            };
            exposure.add_policy_access(
                zone.judge_policy(Some(policy), "requestParameters.attributes.Policy")?,
            );
        }
    }
    Ok(Some(exposure))
}

// ---- Services whose call carries one resource policy ----------------------------------------

/// The resource id and policy of the services that take a whole policy document in one call.
/// Each alias is the request field of one API (AWS API reference request syntax).
#[derive(Deserialize)]
struct ResourcePolicyParams {
    #[serde(
        alias = "secretId",
        alias = "repositoryName",
        alias = "fileSystemId",
        alias = "resourceArn",
        alias = "vaultName",
        alias = "backupVaultName",
        alias = "destinationName",
        alias = "domainName",
        alias = "policyName",
        default
    )]
    id: Option<Value>,
    #[serde(
        alias = "resourcePolicy",
        alias = "policyText",
        alias = "policyInJson",
        alias = "policyDocument",
        alias = "accessPolicy",
        alias = "accessPolicies",
        default
    )]
    policy: Option<Value>,
}

fn resource_policy(
    record: &Record<'_>,
    zone: &Zone<'_>,
    resource_type: &'static str,
    resource: impl Fn(&Zone<'_>, &str) -> String,
) -> Extracted {
    let params: ResourcePolicyParams = record.require_request_parameters()?;
    let id = opt_str(&params.id).unwrap_or("");
    let mut exposure = Exposure::of(resource_type, resource(zone, id));
    // Glacier nests the document: `policy: {"policy": "..."}`.
    let policy = match &params.policy {
        Some(Value::Object(inner)) if inner.len() == 1 && inner.contains_key("policy") => {
            inner.get("policy").cloned()
        }
        other => other.clone(),
    };
    exposure.add_policy_access(zone.judge_policy(policy.as_ref(), "requestParameters.policy")?);
    Ok(Some(exposure))
}

fn as_arn_or(zone: &Zone<'_>, id: &str, service: &str, prefix: &str) -> String {
    if id.starts_with("arn:") {
        id.to_owned()
    } else {
        zone.arn(service, true, &format!("{prefix}{id}"))
    }
}

/// Secrets Manager `PutResourcePolicy`.
pub fn secret_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "secretsmanager-secret", |z, id| {
        as_arn_or(z, id, "secretsmanager", "secret:")
    })
}

/// ECR `SetRepositoryPolicy`.
pub fn ecr_repository_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "ecr-repository", |z, id| {
        as_arn_or(z, id, "ecr", "repository/")
    })
}

/// ECR `PutRegistryPolicy` (replication and pull-through permissions for the registry).
pub fn ecr_registry_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "ecr-registry", |z, _| {
        z.owner.unwrap_or("").to_owned()
    })
}

/// EFS `PutFileSystemPolicy`.
pub fn efs_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "efs-file-system", |z, id| {
        as_arn_or(z, id, "elasticfilesystem", "file-system/")
    })
}

/// DynamoDB `PutResourcePolicy` (tables and streams).
pub fn dynamodb_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "dynamodb-table", |_, id| id.to_owned())
}

/// Glacier `SetVaultAccessPolicy`.
pub fn glacier_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "glacier-vault", |z, id| {
        as_arn_or(z, id, "glacier", "vaults/")
    })
}

/// Backup `PutBackupVaultAccessPolicy`.
pub fn backup_vault_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "backup-vault", |z, id| {
        as_arn_or(z, id, "backup", "backup-vault:")
    })
}

/// Glue `PutResourcePolicy` (Data Catalog).
pub fn glue_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "glue-catalog", |z, id| {
        if id.is_empty() {
            z.arn("glue", true, "catalog")
        } else {
            id.to_owned()
        }
    })
}

/// CloudWatch Logs `PutResourcePolicy` (which services or accounts may write to log groups).
pub fn logs_resource_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "logs-resource-policy", |_, id| id.to_owned())
}

/// CloudWatch Logs `PutDestinationPolicy` (who may subscribe log data to a destination).
pub fn logs_destination_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "logs-destination", |z, id| {
        as_arn_or(z, id, "logs", "destination:")
    })
}

/// OpenSearch / Elasticsearch `CreateDomain` and `UpdateDomainConfig`: `accessPolicies`. A
/// domain created inside a VPC (`vPCOptions.subnetIds`) is reachable only from that network,
/// so a `*` policy there is not public; `UpdateDomainConfig` does not say where the domain
/// lives, so its `*` policies are reported as public.
#[derive(Deserialize)]
struct DomainParams {
    #[serde(rename = "vPCOptions", alias = "VPCOptions", default)]
    vpc_options: Option<Value>,
}

/// An OpenSearch domain access policy.
pub fn opensearch_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    #[derive(Deserialize)]
    struct HasPolicy {
        #[serde(rename = "accessPolicies", default)]
        access_policies: Option<Value>,
    }
    let present: HasPolicy = record.require_request_parameters()?;
    if present
        .access_policies
        .as_ref()
        .is_none_or(|p| p.is_null() || p.as_str() == Some(""))
    {
        // Not every domain update touches the access policy.
        return Ok(None);
    }
    let Some(mut exposure) = resource_policy(record, zone, "opensearch-domain", |z, id| {
        as_arn_or(z, id, "es", "domain/")
    })?
    else {
        return Ok(None);
    };
    let in_vpc = record
        .request_parameters::<DomainParams>()?
        .and_then(|p| p.vpc_options)
        .and_then(|v| v.get("subnetIds").cloned())
        .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
    if in_vpc && exposure.public {
        exposure.public = false;
        exposure.note("vpc_only", true);
    }
    Ok(Some(exposure))
}

/// EventBridge `PutPermission`: a principal (`*` or an account) with an optional organization
/// condition, or a whole `policy`.
#[derive(Deserialize)]
struct EventBusPermissionParams {
    #[serde(rename = "eventBusName", default)]
    event_bus_name: Option<Value>,
    #[serde(default)]
    principal: Option<Value>,
    #[serde(default)]
    action: Option<Value>,
    #[serde(default)]
    condition: Option<EventBusCondition>,
    #[serde(default)]
    policy: Option<Value>,
    #[serde(rename = "statementId", default)]
    statement_id: Option<Value>,
}

#[derive(Deserialize)]
struct EventBusCondition {
    #[serde(default)]
    key: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
}

/// An EventBridge event bus permission.
pub fn event_bus_permission(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: EventBusPermissionParams = record.require_request_parameters()?;
    let bus = opt_str(&params.event_bus_name).unwrap_or("default");
    let mut exposure = Exposure::of(
        "eventbridge-event-bus",
        as_arn_or(zone, bus, "events", "event-bus/"),
    );
    if let Some(id) = opt_str(&params.statement_id) {
        exposure.note("statement_id", id);
    }
    if params.policy.as_ref().is_some_and(|p| !p.is_null()) {
        exposure.add_policy_access(
            zone.judge_policy(params.policy.as_ref(), "requestParameters.policy")?,
        );
        return Ok(Some(exposure));
    }
    let principal =
        opt_str(&params.principal).ok_or(Unevaluable::Missing("requestParameters.principal"))?;
    if let Some(action) = opt_str(&params.action) {
        exposure.actions.insert(action.to_owned());
    }
    let org = params
        .condition
        .as_ref()
        .filter(|c| opt_str(&c.key).is_some_and(|k| k.eq_ignore_ascii_case("aws:PrincipalOrgID")))
        .and_then(|c| opt_str(&c.value))
        .filter(|v| !v.contains('*'));
    match (principal.trim(), org) {
        ("*", Some(org)) => exposure.add_organization(zone, org),
        (p, _) => add_principal(&mut exposure, zone, p),
    }
    Ok(Some(exposure))
}

/// API Gateway `CreateRestApi` (`policy`) and `UpdateRestApi` (`patchOperations` on `/policy`).
#[derive(Deserialize)]
struct RestApiParams {
    #[serde(rename = "restApiId", default)]
    rest_api_id: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    policy: Option<Value>,
    #[serde(rename = "patchOperations", alias = "patchOperation", default)]
    patch_operations: Option<Vec<PatchOperation>>,
}

#[derive(Deserialize)]
struct PatchOperation {
    #[serde(default)]
    op: Option<Value>,
    #[serde(default)]
    path: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
}

/// A REST API resource policy.
pub fn rest_api_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: RestApiParams = record.require_request_parameters()?;
    let id = opt_str(&params.rest_api_id)
        .or_else(|| opt_str(&params.name))
        .unwrap_or("");
    let mut exposure = Exposure::of(
        "apigateway-rest-api",
        format!(
            "arn:{}:apigateway:{}::/restapis/{id}",
            zone.partition(),
            zone.region
        ),
    );
    let policy = match &params.patch_operations {
        Some(ops) => ops
            .iter()
            .filter(|op| opt_str(&op.path) == Some("/policy"))
            .filter(|op| opt_str(&op.op).is_some_and(|o| o == "replace" || o == "add"))
            .find_map(|op| op.value.clone()),
        None => params.policy.clone(),
    };
    let Some(policy) = policy.filter(|p| !p.is_null() && p.as_str() != Some("")) else {
        return Ok(None);
    };
    exposure.add_policy_access(zone.judge_policy(Some(&policy), "requestParameters.policy")?);
    Ok(Some(exposure))
}

// ---- Sharing services and networks ----------------------------------------------------------

/// RAM `CreateResourceShare` / `AssociateResourceShare`.
#[derive(Deserialize)]
struct ResourceShareParams {
    #[serde(rename = "resourceShareArn", alias = "name", default)]
    share: Option<Value>,
    #[serde(default)]
    principals: Option<Value>,
    #[serde(rename = "resourceArns", default)]
    resource_arns: Option<Value>,
    #[serde(rename = "allowExternalPrincipals", default)]
    allow_external_principals: Option<Value>,
}

/// Principals (accounts, organizations, OUs, roles, users) a RAM share adds.
pub fn ram_share(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: ResourceShareParams = record.require_request_parameters()?;
    let mut exposure = Exposure::of("ram-resource-share", opt_str(&params.share).unwrap_or(""));
    let mut principals = Vec::new();
    if let Some(v) = &params.principals {
        string_leaves(v, &mut principals);
    }
    for principal in &principals {
        add_principal(&mut exposure, zone, principal);
    }
    let mut resources = Vec::new();
    if let Some(v) = &params.resource_arns {
        string_leaves(v, &mut resources);
    }
    if !resources.is_empty() {
        exposure.note("shared_resources", &resources);
    }
    if let Some(allow) = &params.allow_external_principals {
        exposure.note("allow_external_principals", allow);
    }
    Ok(Some(exposure))
}

/// EC2 `CreateVpcPeeringConnection`.
#[derive(Deserialize)]
struct VpcPeeringParams {
    #[serde(rename = "vpcId", default)]
    vpc_id: Option<Value>,
    #[serde(rename = "peerVpcId", default)]
    peer_vpc_id: Option<Value>,
    #[serde(rename = "peerOwnerId", default)]
    peer_owner_id: Option<Value>,
}

/// A VPC peered with a VPC in another account (without `peerOwnerId` the peer is the
/// caller's own account).
pub fn vpc_peering(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: VpcPeeringParams = record.require_request_parameters()?;
    let mut exposure = Exposure::of(
        "vpc-peering-connection",
        opt_str(&params.vpc_id).unwrap_or(""),
    );
    if let Some(peer) = opt_str(&params.peer_vpc_id) {
        exposure.note("peer_vpc_id", peer);
    }
    if let Some(owner) = opt_str(&params.peer_owner_id).and_then(account_of) {
        exposure.add_account(zone, owner);
    }
    Ok(Some(exposure))
}

/// EC2 `ModifyVpcEndpointServicePermissions`: principals added to an endpoint service's allow
/// list (`*` lets any account connect).
#[derive(Deserialize)]
struct EndpointServicePermissionsParams {
    #[serde(rename = "ModifyVpcEndpointServicePermissionsRequest", default)]
    request: Option<Box<EndpointServicePermissionsParams>>,
    #[serde(rename = "serviceId", alias = "ServiceId", default)]
    service_id: Option<Value>,
    #[serde(
        rename = "addAllowedPrincipals",
        alias = "AddAllowedPrincipals",
        default
    )]
    add_allowed_principals: Option<Value>,
}

/// Principals allowed to connect to a VPC endpoint service.
pub fn endpoint_service_permissions(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let mut params: EndpointServicePermissionsParams = record.require_request_parameters()?;
    if let Some(inner) = params.request.take() {
        params = *inner;
    }
    let mut exposure = Exposure::of(
        "vpc-endpoint-service",
        opt_str(&params.service_id).unwrap_or(""),
    );
    let mut principals = Vec::new();
    if let Some(v) = &params.add_allowed_principals {
        string_leaves(v, &mut principals);
    }
    for principal in &principals {
        add_principal(&mut exposure, zone, principal);
    }
    Ok(Some(exposure))
}

/// CodeBuild `UpdateProjectVisibility`.
#[derive(Deserialize)]
struct ProjectVisibilityParams {
    #[serde(rename = "projectArn", default)]
    project_arn: Option<Value>,
    #[serde(rename = "projectVisibility", default)]
    visibility: Option<Value>,
}

/// A CodeBuild project whose builds (logs, artifacts) anyone can read.
pub fn codebuild_visibility(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let _ = zone;
    let params: ProjectVisibilityParams = record.require_request_parameters()?;
    let visibility = opt_str(&params.visibility)
        .ok_or(Unevaluable::Missing("requestParameters.projectVisibility"))?;
    let mut exposure = Exposure::of(
        "codebuild-project",
        opt_str(&params.project_arn).unwrap_or(""),
    );
    exposure.public = visibility.eq_ignore_ascii_case("PUBLIC_READ");
    exposure.note("visibility", visibility);
    Ok(Some(exposure))
}
