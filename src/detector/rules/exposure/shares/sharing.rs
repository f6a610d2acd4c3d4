//! Sharing services and networks: RAM shares, VPC peering, endpoint service permissions, CodeBuild
//! project visibility.

use super::{Extracted, add_principal, string_leaves};
use crate::detector::arn::account_of;
use crate::detector::record::Record;
use crate::detector::rule::Unevaluable;
use crate::detector::rules::exposure::access::{Exposure, Zone, opt_str};
use serde::Deserialize;
use serde_json::Value;

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
