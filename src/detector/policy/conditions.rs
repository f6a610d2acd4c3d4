//! Conditions: which condition keys and operators narrow a wildcard principal, and to what
//! (accounts, organizations, a network path, a service, one role's sessions).

use super::has_wildcard;
use crate::detector::arn;
use serde_json::Value;
use std::collections::BTreeSet;

/// What a statement's conditions narrow a wildcard principal to.
#[derive(Debug, Default)]
pub(super) struct Narrowing {
    /// Intersection of every account-narrowing condition; `None` when there is none.
    pub(super) accounts: Option<BTreeSet<String>>,
    /// Intersection of the `aws:Source*` account conditions (who acts through a service).
    pub(super) source_accounts: Option<BTreeSet<String>>,
    pub(super) organizations: BTreeSet<String>,
    /// Organizations named by `aws:SourceOrgID`/`aws:SourceOrgPaths`.
    pub(super) source_organizations: BTreeSet<String>,
    /// Fixed values of positive conditions, by lower-case key (for web-identity pinning).
    pub(super) positive: Vec<(String, Vec<String>)>,
    /// Narrowed by something that is not an account list (organization, network, service, ...).
    pub(super) other: bool,
    pub(super) keys: Vec<String>,
    pub(super) source_ip: Vec<String>,
}

enum ConditionKeyKind {
    AccountId,
    AccountInArn,
    Organization,
    Other,
    AwsService,
}

impl Narrowing {
    pub(super) fn narrows(&self) -> bool {
        self.accounts.is_some() || self.other
    }

    /// True when a positive condition pins the identity a shared provider vouches for.
    pub(super) fn pins_web_identity(&self, host: &str) -> bool {
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

    pub(super) fn from_conditions(conditions: &serde_json::Map<String, Value>) -> Self {
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
                    | "s3:dataaccesspointaccount" => ConditionKeyKind::AccountId,
                    "aws:sourcearn" | "aws:principalarn" | "s3:dataaccesspointarn" => {
                        ConditionKeyKind::AccountInArn
                    }
                    "aws:principalorgid"
                    | "aws:principalorgpaths"
                    | "aws:sourceorgid"
                    | "aws:sourceorgpaths" => ConditionKeyKind::Organization,
                    "aws:userid" => {
                        if values.is_empty() || !values.iter().all(|v| is_pinned_userid(v)) {
                            continue;
                        }
                        narrowing.other = true;
                        narrowing.keys.push(key.clone());
                        continue;
                    }
                    "aws:sourcevpc" | "aws:sourcevpce" => ConditionKeyKind::Other,
                    "aws:principalservicename" | "aws:principalservicenameslist" => {
                        ConditionKeyKind::AwsService
                    }
                    _ => continue,
                };
                if values.is_empty() {
                    continue;
                }
                match kind {
                    ConditionKeyKind::AccountId | ConditionKeyKind::AccountInArn => {
                        let mut admitted = BTreeSet::new();
                        let mut bounded = true;
                        for v in &values {
                            let account = if matches!(kind, ConditionKeyKind::AccountId) {
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
                    ConditionKeyKind::Organization => {
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
                    ConditionKeyKind::Other | ConditionKeyKind::AwsService => {
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

pub(super) fn strings_or_scalars(value: &Value) -> Vec<String> {
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
pub(super) fn is_pinned_userid(value: &str) -> bool {
    let value = value.trim();
    if !has_wildcard(value) {
        return !value.is_empty();
    }
    value.strip_suffix(":*").is_some_and(|role_id| {
        role_id.starts_with("AROA") && role_id.len() > 4 && !has_wildcard(role_id)
    })
}

/// Operators that admit only the listed values, even when the key is absent from the request.
pub(super) fn is_positive_operator(op: &str) -> bool {
    let base = op.strip_prefix("foranyvalue:").unwrap_or(op);
    matches!(
        base,
        "stringequals" | "stringequalsignorecase" | "stringlike" | "arnequals" | "arnlike"
    )
}
