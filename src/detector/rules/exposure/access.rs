//! The machinery shared by the exposure rules: one table row per (eventSource, eventName) naming
//! the resource type and its extractor, the zone of trust every extractor judges against, and
//! the finding every exposure alert becomes.
//!
//! A rule declares its rows once with [`exposure_table!`]; the same declaration yields the
//! rule's `events` (so the engine's index is built from the table) and the dispatch, so routing
//! and extraction cannot drift. Each extractor reads its call's parameters through a small typed
//! struct and answers with an [`Exposure`] already judged against the [`Zone`]: only accounts
//! and organizations outside it, and whether everyone is let in.
//!
//! Alert contract (every exposure rule): `details.resource_type`, `details.resource` (ARN where
//! derivable), `details.owner_account`, `details.external_accounts`,
//! `details.external_organizations`, `details.public`, `details.actions` (when known), plus
//! row-specific facts.

use crate::detector::arn;
use crate::detector::policy::{ExternalAccess, PolicyAnalysis};
use crate::detector::record::Record;
use crate::detector::rule::{EventSelector, Finding, NameMatch, RuleContext, Unevaluable};
use crate::detector::rules::common::{actor_name, describe_outsiders};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Whom a call lets in, judged against the zone of trust.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Exposure {
    /// Resource type, e.g. `s3-bucket`, `kms-key`.
    pub resource_type: &'static str,
    /// ARN where derivable, else the identifier the call used.
    pub resource: String,
    /// Accounts outside the zone of trust that are let in.
    pub external_accounts: BTreeSet<String>,
    /// Organizations (ids or OU paths) outside the trusted ones.
    pub external_organizations: BTreeSet<String>,
    /// Everyone is let in.
    pub public: bool,
    /// Grantees that name another account we cannot resolve offline (S3 canonical users and
    /// e-mail grantees other than the owner).
    pub unresolved_grantees: BTreeSet<String>,
    /// Actions granted, when the call says.
    pub actions: BTreeSet<String>,
    /// Row-specific facts for triage.
    pub extra: Map<String, Value>,
}

impl Exposure {
    /// An empty exposure of a resource.
    pub fn of(resource_type: &'static str, resource: impl Into<String>) -> Self {
        Exposure {
            resource_type,
            resource: resource.into(),
            ..Exposure::default()
        }
    }

    /// True when someone outside the zone of trust is let in.
    pub fn any(&self) -> bool {
        self.public
            || !self.external_accounts.is_empty()
            || !self.external_organizations.is_empty()
            || !self.unresolved_grantees.is_empty()
    }

    /// Adds `account` when it lies outside the zone.
    pub fn add_account(&mut self, zone: &Zone<'_>, account: &str) {
        if !zone.is_internal(account) {
            self.external_accounts.insert(account.to_owned());
        }
    }

    /// Adds an organization id or path when it lies outside the trusted ones.
    pub fn add_organization(&mut self, zone: &Zone<'_>, org: &str) {
        if !zone.ctx.is_trusted_organization(org) {
            self.external_organizations.insert(org.to_owned());
        }
    }

    /// Adds what a judged policy lets in, with its statement ids and actions.
    pub fn add_policy_access(&mut self, access: ExternalAccess) {
        self.public |= access.public;
        self.external_accounts.extend(access.accounts);
        self.external_organizations.extend(access.organizations);
        self.actions.extend(access.actions);
        if !access.statement_ids.is_empty() {
            self.extra
                .insert("statement_ids".into(), json!(access.statement_ids));
        }
        if !access.source_ip.is_empty() {
            self.extra
                .insert("source_ip_condition".into(), json!(access.source_ip));
        }
        if !access.via_service.is_empty() {
            self.extra
                .insert("via_service".into(), json!(access.via_service));
        }
        if !access.unpinned_identity_providers.is_empty() {
            self.extra.insert(
                "unpinned_identity_providers".into(),
                json!(access.unpinned_identity_providers),
            );
        }
    }

    /// Records a row-specific fact.
    pub fn note(&mut self, key: &str, value: impl serde::Serialize) {
        self.extra.insert(key.into(), json!(value));
    }
}

/// The zone of trust for one record: the resource owner's account, the trusted accounts and
/// the trusted organizations. The caller's account is not in it: a caller from another account
/// granting its own account on the owner's resource is a backdoor (the Sentinel rule we follow
/// drops that case; we report it).
pub struct Zone<'a> {
    /// The account that owns the resource.
    pub owner: Option<&'a str>,
    /// Trusted accounts and organizations.
    pub ctx: &'a RuleContext,
    /// The record's `awsRegion`, for ARNs.
    pub region: &'a str,
}

impl<'a> Zone<'a> {
    /// The zone for a record whose resource is owned by `recipientAccountId`.
    pub fn of(record: &'a Record<'a>, ctx: &'a RuleContext) -> Self {
        Zone {
            owner: record.owner_account(),
            ctx,
            region: record.aws_region.as_deref().unwrap_or(""),
        }
    }

    /// True for the owner's account and the trusted accounts.
    pub fn is_internal(&self, account: &str) -> bool {
        self.ctx.is_internal(account, self.owner)
    }

    /// Parses a policy (object, JSON string or URL-encoded JSON string) from `field` and judges
    /// whom it lets in.
    pub fn judge_policy(
        &self,
        policy: Option<&Value>,
        field: &'static str,
    ) -> Result<ExternalAccess, Unevaluable> {
        let policy = policy
            .filter(|p| !p.is_null())
            .ok_or(Unevaluable::Missing(field))?;
        let analysis = match PolicyAnalysis::from_value(policy) {
            Ok(analysis) => analysis,
            Err(first) => {
                let decoded = policy
                    .as_str()
                    .and_then(percent_decode)
                    .ok_or_else(|| Unevaluable::malformed(field, &first))?;
                PolicyAnalysis::from_value(&Value::String(decoded))
                    .map_err(|_| Unevaluable::malformed(field, first))?
            }
        };
        Ok(analysis.external_access(
            |account| self.is_internal(account),
            |org| self.ctx.is_trusted_organization(org),
        ))
    }

    /// The AWS partition of the record's region, for building ARNs.
    pub fn partition(&self) -> &'static str {
        arn::partition_for_region(self.region)
    }

    /// An ARN `arn:PARTITION:SERVICE:REGION:OWNER:RESOURCE` for the record's owner.
    pub fn arn(&self, service: &str, regional: bool, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition(),
            if regional { self.region } else { "" },
            self.owner.unwrap_or("")
        )
    }
}

/// Decodes `%XX` escapes (and `+` as space), for policies some services log URL-encoded.
/// `None` when the text has no escape or an invalid one.
pub fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Reads one call's record into an [`Exposure`]; `Ok(None)` when the call lets nobody in by
/// construction (a removal, another attribute).
pub type Extractor = for<'r> fn(&'r Record<'r>, &Zone<'r>) -> Result<Option<Exposure>, Unevaluable>;

/// One (eventSource, eventName) an exposure rule reads, and how.
pub struct ExposureRow {
    /// The event the row handles.
    pub selector: EventSelector,
    /// The resource type its alerts carry.
    pub resource_type: &'static str,
    /// Reads the record.
    pub extract: Extractor,
}

impl ExposureRow {
    /// True when this row handles the record's event.
    pub fn matches(&self, source: &str, name: &str) -> bool {
        self.selector.source == source
            && match self.selector.name {
                NameMatch::Exact(n) => n == name,
                NameMatch::Prefix(p) => name.starts_with(p),
                NameMatch::AnyEventByIdentityType(_) => false,
            }
    }
}

/// Declares an exposure table: `ROWS` for dispatch and `EVENTS` for the rule's metadata (and so
/// the engine's index), from one list of `source, Exact|Prefix("Name") => "type", extractor;`.
#[macro_export]
macro_rules! exposure_table {
    ($rows:ident, $events:ident; $( $source:expr, $kind:ident($name:literal) => $rtype:literal, $extract:path; )*) => {
        static $rows: &[$crate::detector::rules::exposure::access::ExposureRow] = &[
            $( $crate::detector::rules::exposure::access::ExposureRow {
                selector: $crate::detector::rule::EventSelector {
                    source: $source,
                    name: $crate::detector::rule::NameMatch::$kind($name),
                },
                resource_type: $rtype,
                extract: $extract,
            }, )*
        ];
        static $events: &[$crate::detector::rule::EventSelector] = &[
            $( $crate::detector::rule::EventSelector {
                source: $source,
                name: $crate::detector::rule::NameMatch::$kind($name),
            }, )*
        ];
    };
}

/// Runs the row that handles the record and turns an exposure into a finding.
pub fn evaluate_table(
    rows: &[ExposureRow],
    record: &Record<'_>,
    ctx: &RuleContext,
    verb: &str,
) -> Result<Option<Finding>, Unevaluable> {
    let Some(row) = rows
        .iter()
        .find(|row| row.matches(record.source(), record.name()))
    else {
        return Ok(None);
    };
    let zone = Zone::of(record, ctx);
    let Some(exposure) = (row.extract)(record, &zone)? else {
        return Ok(None);
    };
    debug_assert_eq!(exposure.resource_type, row.resource_type);
    if !exposure.any() {
        return Ok(None);
    }
    Ok(Some(exposure_finding(record, &zone, exposure, verb)))
}

/// How a resource type reads in a sentence.
pub fn resource_label(resource_type: &str) -> &str {
    match resource_type {
        "ami" => "AMI",
        "ebs-snapshot" => "EBS snapshot",
        "rds-snapshot" => "RDS snapshot",
        "rds-cluster-snapshot" => "RDS cluster snapshot",
        "redshift-snapshot" => "Redshift snapshot",
        "s3-bucket" => "S3 bucket",
        "s3-object" => "S3 object",
        "s3-access-point" => "S3 access point",
        "s3-multi-region-access-point" => "S3 multi-Region access point",
        "s3-directory-bucket" => "S3 directory bucket",
        "lambda-function" => "Lambda function",
        "lambda-function-url" => "Lambda function URL",
        "lambda-layer" => "Lambda layer",
        "kms-key" => "KMS key",
        "sqs-queue" => "SQS queue",
        "sns-topic" => "SNS topic",
        "secretsmanager-secret" => "secret",
        "ecr-repository" => "ECR repository",
        "ecr-registry" => "ECR registry",
        "efs-file-system" => "EFS file system",
        "dynamodb-table" => "DynamoDB table or stream",
        "glacier-vault" => "Glacier vault",
        "backup-vault" => "Backup vault",
        "glue-catalog" => "Glue Data Catalog",
        "logs-resource-policy" => "CloudWatch Logs resource policy",
        "logs-destination" => "CloudWatch Logs destination",
        "eventbridge-event-bus" => "event bus",
        "opensearch-domain" => "OpenSearch domain",
        "apigateway-rest-api" => "REST API",
        "iam-role" => "IAM role",
        "ram-resource-share" => "RAM resource share",
        "vpc-peering-connection" => "VPC",
        "vpc-endpoint-service" => "VPC endpoint service",
        "codebuild-project" => "CodeBuild project",
        other => other,
    }
}

/// The finding for an exposure, with the details every exposure alert carries.
pub fn exposure_finding(
    record: &Record<'_>,
    zone: &Zone<'_>,
    exposure: Exposure,
    verb: &str,
) -> Finding {
    let mut whom = describe_outsiders(
        exposure.public,
        &exposure.external_accounts,
        &exposure.external_organizations,
        "everyone (public)",
    );
    if !exposure.public
        && exposure.external_accounts.is_empty()
        && exposure.external_organizations.is_empty()
    {
        whom = format!(
            "another account ({})",
            clean(
                exposure
                    .unresolved_grantees
                    .iter()
                    .next()
                    .map_or("", String::as_str),
                100
            )
        );
    }
    let mut details = Map::new();
    details.insert("resource_type".into(), json!(exposure.resource_type));
    details.insert("resource".into(), json!(exposure.resource));
    details.insert("owner_account".into(), json!(zone.owner));
    details.insert(
        "external_accounts".into(),
        json!(exposure.external_accounts),
    );
    details.insert(
        "external_organizations".into(),
        json!(exposure.external_organizations),
    );
    details.insert("public".into(), json!(exposure.public));
    if !exposure.unresolved_grantees.is_empty() {
        details.insert(
            "unresolved_grantees".into(),
            json!(exposure.unresolved_grantees),
        );
    }
    if !exposure.actions.is_empty() {
        details.insert("actions".into(), json!(exposure.actions));
    }
    let caller = record.caller_account();
    if let Some(caller) = caller.filter(|c| exposure.external_accounts.contains(*c)) {
        // Someone from outside granted their own account: the backdoor case.
        details.insert("caller_granted_own_account".into(), json!(caller));
    }
    for (key, value) in exposure.extra {
        details.entry(key).or_insert(value);
    }
    let dedup = vec![
        exposure.resource_type.to_owned(),
        exposure.resource.clone(),
        exposure
            .external_accounts
            .iter()
            .chain(&exposure.external_organizations)
            .cloned()
            .collect::<Vec<_>>()
            .join(","),
        if exposure.public { "public" } else { "" }.to_owned(),
    ];
    Finding::new(
        format!(
            "{} {verb} {} {} with {}",
            actor_name(record),
            resource_label(exposure.resource_type),
            clean(&exposure.resource, 160),
            whom
        ),
        Value::Object(details),
        dedup,
    )
}

/// A string field that may be absent, null or of another type (lenient, owned).
pub fn opt_str(value: &Option<Value>) -> Option<&str> {
    value
        .as_ref()
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// One value or a list of them (XML-derived CloudTrail fields are either), as owned values.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A list.
    Many(Vec<T>),
    /// A single item.
    One(T),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    /// The items, in order.
    pub fn items(&self) -> &[T] {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(t) => std::slice::from_ref(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded_text_is_decoded() {
        assert_eq!(
            percent_decode("%7B%22a%22%3A+1%7D").as_deref(),
            Some("{\"a\": 1}")
        );
        assert_eq!(percent_decode("plain"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}
