//! Services whose call carries one resource policy (Secrets Manager, ECR, EFS, DynamoDB, Glacier,
//! Backup, Glue, CloudWatch Logs, OpenSearch, EventBridge, API Gateway).

use super::{Extracted, add_principal};
use crate::detector::record::Record;
use crate::detector::rule::Unevaluable;
use crate::detector::rules::exposure::access::{Exposure, Zone, opt_str};
use serde::Deserialize;
use serde_json::Value;

// ---- Services whose call carries one resource policy ----------------------------------------

/// The parameters of the services that take a whole policy document in one call, kept as a
/// map: each call names its own id and policy fields (AWS API reference request syntax), and
/// some calls carry two id fields (CloudWatch Logs `policyName` and `resourceArn`).
#[derive(Deserialize)]
struct ResourcePolicyParams(serde_json::Map<String, Value>);

impl ResourcePolicyParams {
    fn first(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter()
            .find_map(|k| self.0.get(*k).filter(|v| !v.is_null()))
    }
}

fn resource_policy(
    record: &Record<'_>,
    zone: &Zone<'_>,
    resource_type: &'static str,
    (id_keys, policy_key): (&[&str], &'static str),
    resource: impl Fn(&Zone<'_>, &str) -> String,
) -> Extracted {
    let params: ResourcePolicyParams = record.require_request_parameters()?;
    let id = params.first(id_keys).and_then(Value::as_str).unwrap_or("");
    let mut exposure = Exposure::of(resource_type, resource(zone, id));
    // Glacier nests the document: `policy: {"policy": "..."}`.
    let policy = match params.first(&[policy_key]) {
        Some(Value::Object(inner)) if inner.len() == 1 && inner.contains_key("policy") => {
            inner.get("policy")
        }
        other => other,
    };
    let field = match policy_key {
        "resourcePolicy" => "requestParameters.resourcePolicy",
        "policyText" => "requestParameters.policyText",
        "policyInJson" => "requestParameters.policyInJson",
        "policyDocument" => "requestParameters.policyDocument",
        "accessPolicy" => "requestParameters.accessPolicy",
        "accessPolicies" => "requestParameters.accessPolicies",
        _ => "requestParameters.policy",
    };
    exposure.add_policy_access(zone.judge_policy(policy, field)?);
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
    resource_policy(
        record,
        zone,
        "secretsmanager-secret",
        (&["secretId"], "resourcePolicy"),
        |z, id| as_arn_or(z, id, "secretsmanager", "secret:"),
    )
}

/// ECR `SetRepositoryPolicy`.
pub fn ecr_repository_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(
        record,
        zone,
        "ecr-repository",
        (&["repositoryName"], "policyText"),
        |z, id| as_arn_or(z, id, "ecr", "repository/"),
    )
}

/// ECR `PutRegistryPolicy` (replication and pull-through permissions for the registry).
pub fn ecr_registry_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(record, zone, "ecr-registry", (&[], "policyText"), |z, _| {
        z.owner.unwrap_or("").to_owned()
    })
}

/// EFS `PutFileSystemPolicy`.
pub fn efs_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(
        record,
        zone,
        "efs-file-system",
        (&["fileSystemId"], "policy"),
        |z, id| as_arn_or(z, id, "elasticfilesystem", "file-system/"),
    )
}

/// DynamoDB `PutResourcePolicy` (tables and streams).
pub fn dynamodb_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(
        record,
        zone,
        "dynamodb-table",
        (&["resourceArn"], "policy"),
        |_, id| id.to_owned(),
    )
}

/// Glacier `SetVaultAccessPolicy`.
pub fn glacier_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(
        record,
        zone,
        "glacier-vault",
        (&["vaultName"], "policy"),
        |z, id| as_arn_or(z, id, "glacier", "vaults/"),
    )
}

/// Backup `PutBackupVaultAccessPolicy`.
pub fn backup_vault_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(
        record,
        zone,
        "backup-vault",
        (&["backupVaultName"], "policy"),
        |z, id| as_arn_or(z, id, "backup", "backup-vault:"),
    )
}

/// Glue `PutResourcePolicy` (Data Catalog).
pub fn glue_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(
        record,
        zone,
        "glue-catalog",
        (&["resourceArn"], "policyInJson"),
        |z, id| {
            if id.is_empty() {
                z.arn("glue", true, "catalog")
            } else {
                id.to_owned()
            }
        },
    )
}

/// CloudWatch Logs `PutResourcePolicy` (which services or accounts may write to log groups).
pub fn logs_resource_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(
        record,
        zone,
        "logs-resource-policy",
        (&["resourceArn", "policyName"], "policyDocument"),
        |_, id| id.to_owned(),
    )
}

/// CloudWatch Logs `PutDestinationPolicy` (who may subscribe log data to a destination).
pub fn logs_destination_policy(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    resource_policy(
        record,
        zone,
        "logs-destination",
        (&["destinationName"], "accessPolicy"),
        |z, id| as_arn_or(z, id, "logs", "destination:"),
    )
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
    let Some(mut exposure) = resource_policy(
        record,
        zone,
        "opensearch-domain",
        (&["domainName"], "accessPolicies"),
        |z, id| as_arn_or(z, id, "es", "domain/"),
    )?
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
