//! Principals: what one `Allow` statement's `Principal`/`NotPrincipal` admits, accounts,
//! everyone, services, web-identity providers, before its conditions narrow it.

use super::conditions::Narrowing;
use super::{StatementGrant, get_ci, strings};
use crate::detector::arn::{self, account_of};
use serde_json::Value;
use std::collections::BTreeSet;

pub(super) fn analyse_statement(
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
pub(super) fn shared_identity_provider(principal: &str) -> Option<&'static str> {
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

pub(super) fn classify_aws_principal(
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
