//! Lambda function and layer permissions, function URLs, KMS key policies and grants.

use super::{Extracted, add_principal};
use crate::detector::arn::{self, account_of};
use crate::detector::record::Record;
use crate::detector::rule::Unevaluable;
use crate::detector::rules::exposure::access::{Exposure, Zone, opt_str};
use serde::Deserialize;
use serde_json::Value;

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
