//! Resource-policy analysis: who does a policy let in?
//!
//! Used by every rule that reads an IAM or resource policy. For each `Allow` statement it works
//! out which AWS accounts the principals and narrowing conditions admit, whether the statement
//! admits everyone, and which organizations, services, CloudFront identities and canonical users
//! it names. It never guesses from substrings: an account id that appears in a bucket name, a
//! resource ARN or a `Deny` statement lets nobody in.
//!
//! # What counts as public, and which conditions narrow it
//!
//! We follow S3's definition of a public policy ("The meaning of public",
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status>)
//! and IAM Access Analyzer's ("Identifying resources shared with an external entity",
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-resources.html>): a
//! statement whose principal is `*` (`"*"`, `{"AWS": "*"}`, or `Allow` with `NotPrincipal`) is
//! public unless a condition pins it to fixed values of a key that names who is calling. A
//! condition narrows only with a positive operator (`StringEquals`, `StringEqualsIgnoreCase`,
//! `StringLike`, `ArnEquals`, `ArnLike`, optionally `ForAnyValue:`); `...IfExists` and
//! `ForAllValues:` pass when the key is absent, negated operators admit everyone else, so none
//! of them narrows (IAM condition operators,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>).
//! A value with a wildcard in the part that names the account or organization does not narrow.
//!
//! | key | narrows `*` to | source |
//! | --- | --- | --- |
//! | `aws:PrincipalAccount`, `aws:SourceAccount`, `aws:SourceOwner` | the listed accounts | global condition keys, S3 "meaning of public" |
//! | `aws:PrincipalArn`, `aws:SourceArn` | the account field of the listed ARNs (a bucket ARN has none: narrowed, no account known) | same |
//! | `kms:CallerAccount` | the listed accounts (AWS-managed key policies use it with `kms:ViaService`) | KMS condition keys, Access Analyzer |
//! | `s3:DataAccessPointAccount`, `s3:DataAccessPointArn` | requests through access points of that account: AWS's "delegate access control to access points" bucket policy is internal, each access point's own policy is judged on its own | S3 "meaning of public", access point docs |
//! | `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `aws:SourceOrgID`, `aws:SourceOrgPaths` | the listed organizations / OU paths (`details.external_organizations` when outside the trusted ones) | global condition keys, Access Analyzer |
//! | `aws:SourceVpc`, `aws:SourceVpce` | a network path (no account known): not public | S3 "meaning of public" |
//! | `aws:userid` | only when every value is fixed or of the form `AROA...:*` (one role's sessions); `*:alice` or `AIDA*` stay public | S3 "meaning of public" ("aws:userid, outside the pattern AROLEID:*") |
//! | `aws:PrincipalIsAWSService` (`Bool` true), `aws:PrincipalServiceName(sList)` | AWS services: not public | global condition keys |
//!
//! Keys that do **not** narrow: `aws:SourceIp` alone (we deliberately differ from S3, which
//! treats fixed CIDRs as non-public: anyone can call from an address, and the address may be
//! the attacker's; we report the statement as public with the IP condition noted),
//! `aws:ResourceOrgID`/`aws:ResourceAccount` (they describe the resource, which is the owner's,
//! not who calls), `aws:SecureTransport`, tags, and any service key not listed above.
//!
//! # Other decisions
//! - `NotPrincipal` with `Allow` admits everyone but the listed principals: public.
//! - Service principals and CloudFront origin access identities are not external accounts, but a
//!   service principal narrowed by `aws:SourceAccount`, `aws:SourceOwner` or `aws:SourceArn` to
//!   another account lets that account in through the service (its S3 bucket invokes your
//!   function, its trail writes to your bucket): that account is external (`via_service`).
//!   Likewise `aws:SourceOrgID`/`aws:SourceOrgPaths` on a service principal name organizations.
//! - Web identity federation (`Principal.Federated`) through a provider anyone can sign in to is
//!   public unless its conditions pin the identity: GitHub Actions
//!   (`token.actions.githubusercontent.com`) needs `...:sub` fixed to a repository owner
//!   (`repo:OWNER/...`); Cognito (`cognito-identity.amazonaws.com`) needs `...:aud` fixed to an
//!   identity pool; Google (`accounts.google.com`) `...:aud` or `...:sub`; Login with Amazon and
//!   Facebook `...:app_id`. A SAML provider, or an OIDC provider of another issuer, in the
//!   owner's account is internal (IAM "Creating a role for web identity or OIDC",
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html>,
//!   GitHub "Configuring OpenID Connect in AWS").
//! - Canonical user ids cannot be mapped to accounts offline; they are reported, not judged.

mod admin;
mod conditions;
mod principals;

pub use admin::{AdminGrant, full_admin_grants};
use principals::analyse_statement;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// Why a policy could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is a string that is not JSON")]
    /// The document is not JSON.
    NotJson,
    #[error("policy is not a JSON object")]
    /// JSON, but not a policy object.
    NotAnObject,
}

/// What one `Allow` statement lets in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatementGrant {
    /// `Sid`, or `#N` (its position) when the statement has none.
    pub sid: String,
    /// Accounts admitted by the principals, after narrowing conditions.
    pub accounts: BTreeSet<String>,
    /// Everyone is admitted.
    pub public: bool,
    /// Organization ids or OU paths a wildcard (or service) principal is narrowed to, as written.
    pub organizations: BTreeSet<String>,
    /// Accounts that reach the resource through a service principal (`aws:SourceAccount`, ...).
    pub via_service: BTreeSet<String>,
    /// Web-identity providers anyone can sign in to, trusted without pinning the identity.
    pub unpinned_identity_providers: BTreeSet<String>,
    /// AWS service principals.
    pub services: BTreeSet<String>,
    /// CloudFront origin access identities.
    pub cloudfront_identities: BTreeSet<String>,
    /// Canonical user ids (S3): not mappable to accounts offline.
    pub canonical_users: BTreeSet<String>,
    /// Federated principals (identity providers).
    pub federated: BTreeSet<String>,
    /// AWS principals that name no account (unique ids of deleted principals, malformed values).
    pub unresolved: BTreeSet<String>,
    /// `Action` (or `NotAction:`-prefixed) values.
    pub actions: Vec<String>,
    /// Condition keys that narrowed a wildcard principal.
    pub narrowed_by: Vec<String>,
    /// `aws:SourceIp` values on a statement that is otherwise public.
    pub source_ip: Vec<String>,
}

/// The analysis of a whole policy document: its `Allow` statements.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyAnalysis {
    /// One entry per `Allow` statement, in document order.
    pub grants: Vec<StatementGrant>,
}

/// Access a policy gives to parties outside a set of internal accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExternalAccess {
    /// Accounts outside the internal set that are let in.
    pub accounts: BTreeSet<String>,
    /// Organizations (ids or OU paths) outside the trusted ones that a grant is narrowed to.
    pub organizations: BTreeSet<String>,
    /// True when some statement lets in everyone.
    pub public: bool,
    /// External accounts let in through a service principal.
    pub via_service: BTreeSet<String>,
    /// Web-identity providers trusted without pinning the identity (public).
    pub unpinned_identity_providers: BTreeSet<String>,
    /// Statements that grant the external access.
    pub statement_ids: Vec<String>,
    /// Actions those statements allow.
    pub actions: BTreeSet<String>,
    /// `aws:SourceIp` values limiting a public statement.
    pub source_ip: BTreeSet<String>,
}

impl ExternalAccess {
    /// True when anyone outside the internal accounts is let in.
    pub fn any(&self) -> bool {
        self.public || !self.accounts.is_empty() || !self.organizations.is_empty()
    }
}

impl PolicyAnalysis {
    /// Analyses a policy given as a JSON object or as a string holding one.
    pub fn from_value(policy: &Value) -> Result<Self, PolicyError> {
        match policy {
            Value::String(text) => {
                let parsed: Value = serde_json::from_str(text).map_err(|_| PolicyError::NotJson)?;
                match parsed {
                    Value::Object(_) => Self::from_value(&parsed),
                    _ => Err(PolicyError::NotAnObject),
                }
            }
            Value::Object(doc) => {
                let statements: Vec<&Value> = match get_ci(doc, "Statement") {
                    Some(Value::Array(items)) => items.iter().collect(),
                    Some(one @ Value::Object(_)) => vec![one],
                    _ => Vec::new(),
                };
                let grants = statements
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, s)| s.as_object().and_then(|s| analyse_statement(i, s)))
                    .collect();
                Ok(PolicyAnalysis { grants })
            }
            _ => Err(PolicyError::NotAnObject),
        }
    }

    /// Access given to anyone whose account `is_internal` rejects, or to an organization
    /// `is_trusted_org` rejects.
    pub fn external_access(
        &self,
        is_internal: impl Fn(&str) -> bool,
        is_trusted_org: impl Fn(&str) -> bool,
    ) -> ExternalAccess {
        let mut access = ExternalAccess::default();
        for grant in &self.grants {
            let outsiders: Vec<&String> =
                grant.accounts.iter().filter(|a| !is_internal(a)).collect();
            let foreign_orgs: Vec<&String> = grant
                .organizations
                .iter()
                .filter(|o| !is_trusted_org(o))
                .collect();
            if !grant.public && outsiders.is_empty() && foreign_orgs.is_empty() {
                continue;
            }
            access.public |= grant.public;
            access.via_service.extend(
                outsiders
                    .iter()
                    .filter(|a| grant.via_service.contains(a.as_str()))
                    .map(|a| (*a).clone()),
            );
            access.accounts.extend(outsiders.into_iter().cloned());
            access
                .organizations
                .extend(foreign_orgs.into_iter().cloned());
            access
                .unpinned_identity_providers
                .extend(grant.unpinned_identity_providers.iter().cloned());
            access.statement_ids.push(grant.sid.clone());
            access.actions.extend(grant.actions.iter().cloned());
            access.source_ip.extend(grant.source_ip.iter().cloned());
        }
        access
    }
}

pub(super) fn get_ci<'v>(map: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub(super) fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

pub(super) fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

#[cfg(test)]
mod tests;
