//! EC2 AMIs and EBS snapshots, RDS and Redshift snapshots: shared by an account list on the
//! snapshot or image.

use super::{Extracted, organization_of, string_leaves};
use crate::detector::arn::account_of;
use crate::detector::record::Record;
use crate::detector::rule::Unevaluable;
use crate::detector::rules::exposure::access::{Exposure, Zone, opt_str};
use serde::Deserialize;
use serde_json::Value;

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
