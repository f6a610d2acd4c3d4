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

use crate::detector::arn::{self, account_of};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// Why a policy could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is a string that is not JSON")]
    NotJson,
    #[error("policy is not a JSON object")]
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
    pub grants: Vec<StatementGrant>,
}

/// Access a policy gives to parties outside a set of internal accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExternalAccess {
    pub accounts: BTreeSet<String>,
    /// Organizations (ids or OU paths) outside the trusted ones that a grant is narrowed to.
    pub organizations: BTreeSet<String>,
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

fn get_ci<'v>(map: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

fn analyse_statement(
    index: usize,
    statement: &serde_json::Map<String, Value>,
) -> Option<StatementGrant> {
    let effect = get_ci(statement, "Effect").and_then(Value::as_str)?;
    if !effect.trim().eq_ignore_ascii_case("allow") {
        return None;
    }
    let mut grant = StatementGrant {
        sid: get_ci(statement, "Sid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map_or_else(|| format!("#{index}"), str::to_owned),
        ..StatementGrant::default()
    };
    if let Some(actions) = get_ci(statement, "Action") {
        grant.actions = strings(actions).into_iter().map(str::to_owned).collect();
    }
    if let Some(not_actions) = get_ci(statement, "NotAction") {
        grant.actions.extend(
            strings(not_actions)
                .into_iter()
                .map(|a| format!("NotAction:{a}")),
        );
    }

    let mut wildcard = false;
    let mut principal_accounts = BTreeSet::new();
    if get_ci(statement, "NotPrincipal").is_some() {
        // Allow + NotPrincipal: everyone except the listed principals.
        wildcard = true;
    }
    match get_ci(statement, "Principal") {
        Some(Value::String(s)) => {
            classify_aws_principal(s, &mut wildcard, &mut principal_accounts, &mut grant)
        }
        Some(Value::Object(kinds)) => {
            for (kind, values) in kinds {
                for value in strings(values) {
                    match kind.to_ascii_lowercase().as_str() {
                        "aws" => classify_aws_principal(
                            value,
                            &mut wildcard,
                            &mut principal_accounts,
                            &mut grant,
                        ),
                        "service" => {
                            grant.services.insert(value.to_owned());
                        }
                        "federated" => {
                            grant.federated.insert(value.to_owned());
                            if let Some(account) = account_of(value) {
                                principal_accounts.insert(account.to_owned());
                            }
                        }
                        "canonicaluser" => {
                            grant.canonical_users.insert(value.to_owned());
                        }
                        _ => {
                            grant.unresolved.insert(format!("{kind}:{value}"));
                        }
                    }
                }
            }
        }
        _ => {}
    }

    let narrowing = match get_ci(statement, "Condition") {
        Some(Value::Object(conditions)) => Narrowing::from_conditions(conditions),
        _ => Narrowing::default(),
    };
    grant.narrowed_by = narrowing.keys.clone();

    // Web identity only matters where it can be used: a trust policy's AssumeRoleWithWebIdentity.
    let web_identity = grant.actions.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == "*" || a == "sts:*" || a == "sts:assumerolewithwebidentity"
    });
    for provider in grant.federated.clone().into_iter().filter(|_| web_identity) {
        if let Some(host) = shared_identity_provider(&provider)
            && !narrowing.pins_web_identity(host)
        {
            grant.unpinned_identity_providers.insert(provider);
            grant.public = true;
        }
    }

    if wildcard {
        if narrowing.narrows() {
            match narrowing.accounts {
                Some(accounts) => grant.accounts = accounts,
                None => grant.organizations = narrowing.organizations,
            }
        } else {
            grant.public = true;
            grant.source_ip = narrowing.source_ip;
        }
    } else {
        grant.accounts = match &narrowing.accounts {
            Some(allowed) => principal_accounts.intersection(allowed).cloned().collect(),
            None => principal_accounts,
        };
        if !grant.services.is_empty() {
            // Another account acting through the service: its bucket, topic or trail.
            if let Some(sources) = &narrowing.source_accounts {
                grant.via_service.extend(sources.iter().cloned());
                grant.accounts.extend(sources.iter().cloned());
            } else {
                grant.organizations.extend(narrowing.source_organizations);
            }
        }
    }
    Some(grant)
}

/// The issuer of a web-identity provider anyone can get a token from, for a `Federated`
/// principal (bare host, or the host of an `oidc-provider/` ARN); `None` for SAML providers
/// and issuers of one tenant (EKS clusters, your own IdP).
fn shared_identity_provider(principal: &str) -> Option<&'static str> {
    let host = match arn::Arn::parse(principal.trim()) {
        Some(a) => a.resource.strip_prefix("oidc-provider/")?,
        None => principal.trim(),
    };
    let host = host.trim_end_matches('/').to_ascii_lowercase();
    [
        "token.actions.githubusercontent.com",
        "cognito-identity.amazonaws.com",
        "accounts.google.com",
        "graph.facebook.com",
        "www.amazon.com",
    ]
    .into_iter()
    .find(|known| host == *known)
}

fn classify_aws_principal(
    value: &str,
    wildcard: &mut bool,
    accounts: &mut BTreeSet<String>,
    grant: &mut StatementGrant,
) {
    let value = value.trim();
    if value == "*" {
        *wildcard = true;
    } else if let Some(account) = account_of(value) {
        accounts.insert(account.to_owned());
    } else if arn::is_cloudfront_oai(value) {
        grant.cloudfront_identities.insert(value.to_owned());
    } else if arn::is_service_principal(value) {
        grant.services.insert(value.to_owned());
    } else {
        grant.unresolved.insert(value.to_owned());
    }
}

/// What a statement's conditions narrow a wildcard principal to.
#[derive(Debug, Default)]
struct Narrowing {
    /// Intersection of every account-narrowing condition; `None` when there is none.
    accounts: Option<BTreeSet<String>>,
    /// Intersection of the `aws:Source*` account conditions (who acts through a service).
    source_accounts: Option<BTreeSet<String>>,
    organizations: BTreeSet<String>,
    /// Organizations named by `aws:SourceOrgID`/`aws:SourceOrgPaths`.
    source_organizations: BTreeSet<String>,
    /// Fixed values of positive conditions, by lower-case key (for web-identity pinning).
    positive: Vec<(String, Vec<String>)>,
    /// Narrowed by something that is not an account list (organization, network, service, ...).
    other: bool,
    keys: Vec<String>,
    source_ip: Vec<String>,
}

enum KeyKind {
    AccountId,
    AccountInArn,
    Organization,
    Other,
    AwsService,
}

impl Narrowing {
    fn narrows(&self) -> bool {
        self.accounts.is_some() || self.other
    }

    /// True when a positive condition pins the identity a shared provider vouches for.
    fn pins_web_identity(&self, host: &str) -> bool {
        let fixed = |suffix: &str, ok: &dyn Fn(&str) -> bool| {
            let key = format!("{host}:{suffix}");
            self.positive
                .iter()
                .any(|(k, values)| *k == key && !values.is_empty() && values.iter().all(|v| ok(v)))
        };
        let no_wildcard = |v: &str| !v.is_empty() && !has_wildcard(v);
        match host {
            // `repo:OWNER/REPO:...`: the owner (and repository) must be fixed.
            "token.actions.githubusercontent.com" => fixed("sub", &|v| {
                v.strip_prefix("repo:")
                    .and_then(|rest| rest.split_once('/'))
                    .is_some_and(|(owner, repo)| {
                        !owner.is_empty()
                            && !has_wildcard(owner)
                            && !repo.is_empty()
                            && !repo.starts_with(['*', '?'])
                    })
            }),
            "cognito-identity.amazonaws.com" => fixed("aud", &no_wildcard),
            "accounts.google.com" => fixed("aud", &no_wildcard) || fixed("sub", &no_wildcard),
            _ => fixed("app_id", &no_wildcard) || fixed("id", &no_wildcard),
        }
    }

    fn from_conditions(conditions: &serde_json::Map<String, Value>) -> Self {
        let mut narrowing = Narrowing::default();
        for (operator, block) in conditions {
            let Value::Object(block) = block else {
                continue;
            };
            let op = operator.to_ascii_lowercase();
            for (key, values) in block {
                let key_lc = key.to_ascii_lowercase();
                let values = strings_or_scalars(values);
                if key_lc == "aws:sourceip" && !op.starts_with("not") {
                    narrowing.source_ip.extend(values.iter().cloned());
                    continue;
                }
                if op == "bool" && key_lc == "aws:principalisawsservice" {
                    if values.iter().all(|v| v.eq_ignore_ascii_case("true")) && !values.is_empty() {
                        narrowing.other = true;
                        narrowing.keys.push(key.clone());
                    }
                    continue;
                }
                if !is_positive_operator(&op) {
                    continue;
                }
                narrowing.positive.push((key_lc.clone(), values.clone()));
                let is_source = key_lc.starts_with("aws:source");
                let kind = match key_lc.as_str() {
                    "aws:principalaccount"
                    | "aws:sourceaccount"
                    | "aws:sourceowner"
                    | "kms:calleraccount"
                    | "s3:dataaccesspointaccount" => KeyKind::AccountId,
                    "aws:sourcearn" | "aws:principalarn" | "s3:dataaccesspointarn" => {
                        KeyKind::AccountInArn
                    }
                    "aws:principalorgid"
                    | "aws:principalorgpaths"
                    | "aws:sourceorgid"
                    | "aws:sourceorgpaths" => KeyKind::Organization,
                    "aws:userid" => {
                        if values.is_empty() || !values.iter().all(|v| is_pinned_userid(v)) {
                            continue;
                        }
                        narrowing.other = true;
                        narrowing.keys.push(key.clone());
                        continue;
                    }
                    "aws:sourcevpc" | "aws:sourcevpce" => KeyKind::Other,
                    "aws:principalservicename" | "aws:principalservicenameslist" => {
                        KeyKind::AwsService
                    }
                    _ => continue,
                };
                if values.is_empty() {
                    continue;
                }
                match kind {
                    KeyKind::AccountId | KeyKind::AccountInArn => {
                        let mut admitted = BTreeSet::new();
                        let mut bounded = true;
                        for v in &values {
                            let account = if matches!(kind, KeyKind::AccountId) {
                                if has_wildcard(v) {
                                    None
                                } else {
                                    Some(v.as_str())
                                }
                            } else {
                                match arn::Arn::parse(v) {
                                    Some(a) if has_wildcard(a.account) => None,
                                    Some(a) => Some(a.account),
                                    // An ARN with a wildcard before the account field.
                                    None if has_wildcard(v) => None,
                                    None => Some(""),
                                }
                            };
                            match account {
                                None => bounded = false,
                                Some(a) if arn::is_account_id(a) => {
                                    admitted.insert(a.to_owned());
                                }
                                // A resource ARN without an account (S3 bucket): narrows to a
                                // resource, not to a known account.
                                Some(_) => {}
                            }
                        }
                        if !bounded {
                            continue;
                        }
                        narrowing.keys.push(key.clone());
                        if admitted.is_empty() {
                            // Resource ARNs without an account (S3 buckets): narrowed to a
                            // resource, no account known; other keys still bound the accounts.
                            narrowing.other = true;
                            continue;
                        }
                        if is_source {
                            narrowing.source_accounts =
                                Some(match narrowing.source_accounts.take() {
                                    Some(previous) => {
                                        previous.intersection(&admitted).cloned().collect()
                                    }
                                    None => admitted.clone(),
                                });
                        }
                        narrowing.accounts = Some(match narrowing.accounts.take() {
                            Some(previous) => previous.intersection(&admitted).cloned().collect(),
                            None => admitted,
                        });
                    }
                    KeyKind::Organization => {
                        if values
                            .iter()
                            .any(|v| v.trim() == "*" || v.starts_with("o-*"))
                        {
                            continue;
                        }
                        narrowing.other = true;
                        narrowing.keys.push(key.clone());
                        let orgs = values.iter().map(|v| v.trim().to_owned());
                        if is_source {
                            narrowing.source_organizations.extend(orgs.clone());
                        }
                        narrowing.organizations.extend(orgs);
                    }
                    KeyKind::Other | KeyKind::AwsService => {
                        if values.iter().any(|v| {
                            let v = v.trim();
                            v == "*" || v.ends_with("-*") || v.is_empty()
                        }) {
                            continue;
                        }
                        narrowing.other = true;
                        narrowing.keys.push(key.clone());
                    }
                }
            }
        }
        narrowing
    }
}

fn strings_or_scalars(value: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// True for an `aws:userid` value that names one principal: no wildcard at all, or a role's
/// unique id followed by `:*` (any session of that role).
fn is_pinned_userid(value: &str) -> bool {
    let value = value.trim();
    if !has_wildcard(value) {
        return !value.is_empty();
    }
    value.strip_suffix(":*").is_some_and(|role_id| {
        role_id.starts_with("AROA") && role_id.len() > 4 && !has_wildcard(role_id)
    })
}

/// Operators that admit only the listed values, even when the key is absent from the request.
fn is_positive_operator(op: &str) -> bool {
    let base = op.strip_prefix("foranyvalue:").unwrap_or(op);
    matches!(
        base,
        "stringequals" | "stringequalsignorecase" | "stringlike" | "arnequals" | "arnlike"
    )
}

/// An identity or session policy statement that allows every action on every resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminGrant {
    /// `Sid`, or `#N` (its position) when the statement has none.
    pub sid: String,
    /// Condition operators on the statement (empty when it is unconditional).
    pub conditions: Vec<String>,
}

/// The `Allow` statements of an identity (or session) policy whose `Action` includes `*` or
/// `*:*` and whose `Resource` includes `*`: full administrator rights, the shape of the managed
/// `AdministratorAccess` policy. `NotAction`/`NotResource` statements are not counted: they
/// grant "all but" and need judgement, not a yes/no.
pub fn full_admin_grants(policy: &Value) -> Result<Vec<AdminGrant>, PolicyError> {
    let parsed;
    let doc = match policy {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).map_err(|_| PolicyError::NotJson)?;
            &parsed
        }
        other => other,
    };
    let doc = doc.as_object().ok_or(PolicyError::NotAnObject)?;
    let statements: Vec<&Value> = match get_ci(doc, "Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let mut grants = Vec::new();
    for (index, statement) in statements.into_iter().enumerate() {
        let Some(statement) = statement.as_object() else {
            continue;
        };
        let allows = get_ci(statement, "Effect")
            .and_then(Value::as_str)
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("allow"));
        let every_action = get_ci(statement, "Action")
            .is_some_and(|a| strings(a).iter().any(|a| matches!(a.trim(), "*" | "*:*")));
        let every_resource = get_ci(statement, "Resource")
            .is_some_and(|r| strings(r).iter().any(|r| r.trim() == "*"));
        if !(allows && every_action && every_resource) {
            continue;
        }
        let conditions = get_ci(statement, "Condition")
            .and_then(Value::as_object)
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        grants.push(AdminGrant {
            sid: get_ci(statement, "Sid")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| format!("#{index}"), str::to_owned),
            conditions,
        });
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWNER: &str = "111122223333";
    const OTHER: &str = "444455556666";

    fn external(policy: Value) -> ExternalAccess {
        PolicyAnalysis::from_value(&policy)
            .unwrap()
            .external_access(|a| a == OWNER, |_| true)
    }

    fn stmt(principal: Value) -> Value {
        json!({"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","Principal":principal,
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]})
    }

    fn trust_with_condition(principal: Value, condition: Value) -> Value {
        json!({"Statement":{"Effect":"Allow","Principal":principal,
            "Action":"sts:AssumeRoleWithWebIdentity","Condition":condition}})
    }

    fn stmt_with_condition(principal: Value, condition: Value) -> Value {
        json!({"Statement":{"Effect":"Allow","Principal":principal,"Action":"s3:*",
            "Resource":"*","Condition":condition}})
    }

    /// (case, policy, expected external accounts, expected public)
    fn table() -> Vec<(&'static str, Value, Vec<&'static str>, bool)> {
        vec![
            ("star string", stmt(json!("*")), vec![], true),
            ("AWS star", stmt(json!({"AWS":"*"})), vec![], true),
            (
                "AWS list with star",
                stmt(json!({"AWS":["arn:aws:iam::111122223333:root","*"]})),
                vec![],
                true,
            ),
            (
                "external root arn",
                stmt(json!({"AWS":"arn:aws:iam::444455556666:root"})),
                vec![OTHER],
                false,
            ),
            (
                "external bare id",
                stmt(json!({"AWS":OTHER})),
                vec![OTHER],
                false,
            ),
            (
                "external role gov",
                stmt(json!({"AWS":["arn:aws-us-gov:iam::444455556666:role/x"]})),
                vec![OTHER],
                false,
            ),
            (
                "external china",
                stmt(json!({"AWS":"arn:aws-cn:iam::444455556666:user/u"})),
                vec![OTHER],
                false,
            ),
            (
                "owner only",
                stmt(json!({"AWS":"arn:aws:iam::111122223333:role/r"})),
                vec![],
                false,
            ),
            (
                "service",
                stmt(json!({"Service":"cloudtrail.amazonaws.com"})),
                vec![],
                false,
            ),
            (
                "cloudfront oai",
                stmt(
                    json!({"AWS":"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1"}),
                ),
                vec![],
                false,
            ),
            (
                "canonical user",
                stmt(
                    json!({"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
                ),
                vec![],
                false,
            ),
            (
                "unique id",
                stmt(json!({"AWS":"AIDAJQABLZS4A3QDU576Q"})),
                vec![],
                false,
            ),
            (
                "federated saml in other account",
                stmt(json!({"Federated":"arn:aws:iam::444455556666:saml-provider/x"})),
                vec![OTHER],
                false,
            ),
            (
                "mixed map",
                stmt(
                    json!({"AWS":["arn:aws:iam::111122223333:root","444455556666"],"Service":"s3.amazonaws.com"}),
                ),
                vec![OTHER],
                false,
            ),
            (
                "star narrowed to owner by PrincipalAccount",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringEquals":{"aws:PrincipalAccount":OWNER}}),
                ),
                vec![],
                false,
            ),
            (
                "star narrowed to other by SourceAccount",
                stmt_with_condition(
                    json!({"AWS":"*"}),
                    json!({"StringEquals":{"AWS:SourceAccount":[OTHER]}}),
                ),
                vec![OTHER],
                false,
            ),
            (
                "star narrowed by SourceOwner, case-insensitive key",
                stmt_with_condition(json!("*"), json!({"StringLike":{"aws:sourceowner":OTHER}})),
                vec![OTHER],
                false,
            ),
            (
                "star narrowed by SourceArn account",
                stmt_with_condition(
                    json!("*"),
                    json!({"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-1:444455556666:t"}}),
                ),
                vec![OTHER],
                false,
            ),
            (
                "star narrowed by PrincipalArn owner",
                stmt_with_condition(
                    json!("*"),
                    json!({"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/r"}}),
                ),
                vec![],
                false,
            ),
            (
                "star narrowed to org",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}),
                ),
                vec![],
                false,
            ),
            (
                "star narrowed to vpce",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c"}}),
                ),
                vec![],
                false,
            ),
            (
                "star with ForAnyValue account",
                stmt_with_condition(
                    json!("*"),
                    json!({"ForAnyValue:StringEquals":{"aws:PrincipalAccount":[OTHER]}}),
                ),
                vec![OTHER],
                false,
            ),
            (
                "IfExists does not narrow",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringEqualsIfExists":{"aws:SourceAccount":OWNER}}),
                ),
                vec![],
                true,
            ),
            (
                "ForAllValues does not narrow",
                stmt_with_condition(
                    json!("*"),
                    json!({"ForAllValues:StringEquals":{"aws:PrincipalAccount":OWNER}}),
                ),
                vec![],
                true,
            ),
            (
                "negative operator does not narrow",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringNotEquals":{"aws:PrincipalAccount":OWNER}}),
                ),
                vec![],
                true,
            ),
            (
                "wildcard account value does not narrow",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringLike":{"aws:PrincipalAccount":"*"}}),
                ),
                vec![],
                true,
            ),
            (
                "wildcard account in arn does not narrow",
                stmt_with_condition(
                    json!("*"),
                    json!({"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:t"}}),
                ),
                vec![],
                true,
            ),
            (
                "source ip alone stays public",
                stmt_with_condition(
                    json!("*"),
                    json!({"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}),
                ),
                vec![],
                true,
            ),
            (
                "secure transport does not narrow",
                stmt_with_condition(json!("*"), json!({"Bool":{"aws:SecureTransport":"true"}})),
                vec![],
                true,
            ),
            (
                "two account keys intersect",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringEquals":{"aws:PrincipalAccount":[OWNER, OTHER]},
                    "ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}),
                ),
                vec![],
                false,
            ),
            (
                "explicit external principal narrowed to owner grants nothing",
                stmt_with_condition(
                    json!({"AWS":OTHER}),
                    json!({"StringEquals":{"aws:PrincipalAccount":OWNER}}),
                ),
                vec![],
                false,
            ),
            (
                "not principal with allow is public",
                json!({"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*"}]}),
                vec![],
                true,
            ),
            (
                "deny statements let nobody in",
                json!({"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"},
                    {"Effect":"Deny","Principal":{"AWS":OTHER},"Action":"s3:*","Resource":"*"}]}),
                vec![],
                false,
            ),
            (
                "owner id in bucket name and resource is irrelevant",
                json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},
                    "Action":"s3:GetObject","Resource":"arn:aws:s3:::data-111122223333/*"}]}),
                vec![OTHER],
                false,
            ),
            (
                "statement as object, lower-case effect",
                json!({"Statement":{"Effect":"allow","Principal":{"AWS":OTHER},"Action":"s3:*"}}),
                vec![OTHER],
                false,
            ),
            (
                "no statement",
                json!({"Version":"2012-10-17"}),
                vec![],
                false,
            ),
            // S3 user guide, "Delegating access control to access points": the bucket policy
            // AWS recommends must not read as public.
            (
                "delegate access control to access points",
                json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},
                    "Action":"*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
                    "Condition":{"StringEquals":{"s3:DataAccessPointAccount":OWNER}}}]}),
                vec![],
                false,
            ),
            (
                "access point arn of another account",
                stmt_with_condition(
                    json!({"AWS":"*"}),
                    json!({"ArnLike":{"s3:DataAccessPointArn":"arn:aws:s3:us-east-1:444455556666:accesspoint/*"}}),
                ),
                vec![OTHER],
                false,
            ),
            (
                "userid pinned to one role's sessions",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringLike":{"aws:userid":"AROAEXAMPLEID:*"}}),
                ),
                vec![],
                false,
            ),
            (
                "userid fixed",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringEquals":{"aws:userid":"AIDAEXAMPLEID"}}),
                ),
                vec![],
                false,
            ),
            (
                "userid with any other wildcard stays public",
                stmt_with_condition(json!("*"), json!({"StringLike":{"aws:userid":"*:alice"}})),
                vec![],
                true,
            ),
            (
                "userid prefix wildcard stays public",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringLike":{"aws:userid":["AROAEXAMPLEID:*","AIDA*"]}}),
                ),
                vec![],
                true,
            ),
            (
                "kms CallerAccount narrows a key policy",
                stmt_with_condition(
                    json!({"AWS":"*"}),
                    json!({"StringEquals":{"kms:CallerAccount":OWNER,"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}),
                ),
                vec![],
                false,
            ),
            (
                "ResourceOrgID does not narrow who calls",
                stmt_with_condition(
                    json!("*"),
                    json!({"StringEquals":{"aws:ResourceOrgID":"o-abcdefghij"}}),
                ),
                vec![],
                true,
            ),
            (
                "service principal acting for another account (SourceAccount)",
                stmt_with_condition(
                    json!({"Service":"cloudtrail.amazonaws.com"}),
                    json!({"StringEquals":{"aws:SourceAccount":OTHER}}),
                ),
                vec![OTHER],
                false,
            ),
            (
                "service principal acting for another account (SourceArn)",
                stmt_with_condition(
                    json!({"Service":"s3.amazonaws.com"}),
                    json!({"ArnLike":{"aws:SourceArn":"arn:aws:s3:::b"},"StringEquals":{"aws:SourceAccount":OTHER}}),
                ),
                vec![OTHER],
                false,
            ),
            (
                "service principal for the owner",
                stmt_with_condition(
                    json!({"Service":"cloudtrail.amazonaws.com"}),
                    json!({"StringEquals":{"aws:SourceArn":"arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}}),
                ),
                vec![],
                false,
            ),
            (
                "GitHub OIDC without sub is public",
                trust_with_condition(
                    json!({"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}),
                    json!({"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}),
                ),
                vec![],
                true,
            ),
            (
                "GitHub OIDC with a wildcard owner is public",
                trust_with_condition(
                    json!({"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}),
                    json!({"StringLike":{"token.actions.githubusercontent.com:sub":"repo:*"}}),
                ),
                vec![],
                true,
            ),
            (
                "GitHub OIDC pinned to a repository is internal",
                trust_with_condition(
                    json!({"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}),
                    json!({"StringLike":{"token.actions.githubusercontent.com:sub":"repo:octo-org/octo-repo:*"}}),
                ),
                vec![],
                false,
            ),
            (
                "Cognito without aud is public",
                trust_with_condition(
                    json!({"Federated":"cognito-identity.amazonaws.com"}),
                    json!({"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"unauthenticated"}}),
                ),
                vec![],
                true,
            ),
            (
                "Cognito pinned to an identity pool is internal",
                trust_with_condition(
                    json!({"Federated":"cognito-identity.amazonaws.com"}),
                    json!({"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:12345678-abcd-abcd-abcd-123456789012"}}),
                ),
                vec![],
                false,
            ),
            (
                "web identity in a resource policy grants nothing by itself",
                stmt(json!({"Federated":"cognito-identity.amazonaws.com"})),
                vec![],
                false,
            ),
            (
                "SAML provider in the owner's account is internal",
                stmt(json!({"Federated":"arn:aws:iam::111122223333:saml-provider/corp"})),
                vec![],
                false,
            ),
        ]
    }

    #[test]
    fn policy_shapes_table() {
        for (case, policy, accounts, public) in table() {
            let got = external(policy);
            let want: BTreeSet<String> = accounts.iter().map(|s| s.to_string()).collect();
            assert_eq!(got.accounts, want, "accounts: {case}");
            assert_eq!(got.public, public, "public: {case}");
        }
    }

    #[test]
    fn policy_as_json_string_is_parsed() {
        let text = stmt(json!({"AWS": OTHER})).to_string();
        let got = external(Value::String(text));
        assert!(got.accounts.contains(OTHER));
        assert_eq!(got.statement_ids, vec!["S"]);
        assert_eq!(got.actions.iter().collect::<Vec<_>>(), vec!["s3:GetObject"]);
    }

    #[test]
    fn bad_policies_are_typed_errors() {
        assert_eq!(
            PolicyAnalysis::from_value(&json!("invalid-json-policy")),
            Err(PolicyError::NotJson)
        );
        assert_eq!(
            PolicyAnalysis::from_value(&json!("[1,2]")),
            Err(PolicyError::NotAnObject)
        );
        assert_eq!(
            PolicyAnalysis::from_value(&json!(42)),
            Err(PolicyError::NotAnObject)
        );
    }

    #[test]
    fn org_narrowing_is_reported() {
        let analysis = PolicyAnalysis::from_value(&stmt_with_condition(
            json!("*"),
            json!({"StringEquals":{"aws:PrincipalOrgID":"o-abc123"},"StringLike":{"aws:SourceVpc":"vpc-*"},
                "IpAddress":{"aws:SourceIp":["10.0.0.0/8"]}}),
        ))
        .unwrap();
        let grant = &analysis.grants[0];
        assert!(!grant.public);
        assert_eq!(
            grant.organizations.iter().collect::<Vec<_>>(),
            vec!["o-abc123"]
        );
        assert_eq!(grant.narrowed_by, vec!["aws:PrincipalOrgID"]);
    }

    #[test]
    fn source_ip_is_noted_on_a_public_grant() {
        let got = external(stmt_with_condition(
            json!("*"),
            json!({"IpAddress":{"aws:SourceIp":"203.0.113.7/32"}}),
        ));
        assert!(got.public);
        assert!(got.source_ip.contains("203.0.113.7/32"));
    }

    #[test]
    fn organizations_outside_the_trusted_ones_are_external() {
        let policy = stmt_with_condition(
            json!("*"),
            json!({"StringEquals":{"aws:PrincipalOrgPaths":"o-attacker12/r-ab12/ou-ab12-11111111/*"}}),
        );
        let analysis = PolicyAnalysis::from_value(&policy).unwrap();
        let got = analysis.external_access(|a| a == OWNER, |o| o.starts_with("o-mine"));
        assert!(!got.public);
        assert_eq!(
            got.organizations.iter().collect::<Vec<_>>(),
            vec!["o-attacker12/r-ab12/ou-ab12-11111111/*"]
        );
        let trusted = analysis.external_access(|a| a == OWNER, |o| o.starts_with("o-attacker12"));
        assert!(!trusted.any());
        // A service principal narrowed by aws:SourceOrgID names that organization too.
        let via = PolicyAnalysis::from_value(&stmt_with_condition(
            json!({"Service":"cloudtrail.amazonaws.com"}),
            json!({"StringEquals":{"aws:SourceOrgID":"o-attacker12"}}),
        ))
        .unwrap()
        .external_access(|a| a == OWNER, |o| o.starts_with("o-mine"));
        assert_eq!(
            via.organizations.iter().collect::<Vec<_>>(),
            vec!["o-attacker12"]
        );
    }

    #[test]
    fn service_accounts_are_reported_as_via_service() {
        let got = external(stmt_with_condition(
            json!({"Service":"cloudtrail.amazonaws.com"}),
            json!({"StringEquals":{"aws:SourceAccount":OTHER}}),
        ));
        assert!(got.via_service.contains(OTHER));
    }

    #[test]
    fn unnamed_statements_get_positional_ids() {
        let got = external(json!({"Statement":[
            {"Effect":"Allow","Principal":{"AWS":OWNER},"Action":"s3:*"},
            {"Effect":"Allow","Principal":{"AWS":OTHER},"Action":"s3:*"}]}));
        assert_eq!(got.statement_ids, vec!["#1"]);
    }

    #[test]
    fn full_admin_grants_are_star_on_star_allows_only() {
        let admin = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
        assert_eq!(full_admin_grants(&admin).unwrap().len(), 1);
        let as_text = Value::String(
            r#"{"Statement":[{"Sid":"All","Effect":"Allow","Action":["s3:GetObject","*:*"],"Resource":["*"],"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#.into(),
        );
        let grants = full_admin_grants(&as_text).unwrap();
        assert_eq!(grants[0].sid, "All");
        assert_eq!(grants[0].conditions, vec!["Bool".to_string()]);
        for not_admin in [
            json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}),
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]}),
            json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}),
        ] {
            assert!(
                full_admin_grants(&not_admin).unwrap().is_empty(),
                "{not_admin}"
            );
        }
        assert_eq!(
            full_admin_grants(&json!("not json")),
            Err(PolicyError::NotJson)
        );
    }
}
