//! Extractors for `resource-shared-with-external-account`: one typed parameter struct and one
//! extractor per resource type. Field names follow each API's request syntax as CloudTrail
//! logs it in `requestParameters` (camelCase for JSON APIs; XML body element names for S3;
//! `items` lists for EC2); the rule file names the source of each shape beside its test case.

use crate::detector::arn::{self, account_of};
use crate::detector::rule::Unevaluable;
use crate::detector::rules::exposure::access::{Exposure, Zone};
use serde_json::Value;
mod acl;
mod lambda_kms;
mod messaging;
mod resource_policies;
mod s3;
mod sharing;
mod snapshots;

pub use acl::*;
pub use lambda_kms::*;
pub use messaging::*;
pub use resource_policies::*;
pub use s3::*;
pub use sharing::*;
pub use snapshots::*;

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
