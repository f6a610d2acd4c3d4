//! The detector's settings and the parsing of their list values (accounts, organizations,
//! rule ids), shared by the environment, the tuning file and the CLI flags.

use crate::detector::arn::is_account_id;
use crate::detector::exceptions::Exception;
use crate::detector::rule::Severity;
use crate::detector::rules::CATALOGUE;
use crate::detector::sigma::SigmaRules;
use std::collections::{BTreeMap, BTreeSet};

/// Detector settings, validated once by [`Detector::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorConfig {
    /// Accounts that may be shared with without an alert (partners, your other accounts).
    pub trusted_accounts: BTreeSet<String>,
    /// Organizations (`o-...`) and OU paths (`o-.../r-.../ou-...`) whose members may be shared
    /// with; any other organization a grant names is external.
    pub trusted_organizations: BTreeSet<String>,
    /// Rules switched off.
    pub disabled_rules: BTreeSet<String>,
    /// When set, only these rules run.
    pub only_rules: Option<BTreeSet<String>>,
    /// Alerts below this severity are not raised (after severity overrides).
    pub min_severity: Severity,
    /// Per-rule severity, replacing the rule's own for every alert it raises.
    pub severity_overrides: BTreeMap<String, Severity>,
    /// Named exceptions, in order: the first live one that matches suppresses the alert.
    pub exceptions: Vec<Exception>,
    /// User rules in Sigma, run beside the catalogue.
    pub sigma_rules: SigmaRules,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            trusted_accounts: BTreeSet::new(),
            trusted_organizations: BTreeSet::new(),
            disabled_rules: BTreeSet::new(),
            only_rules: None,
            min_severity: Severity::Info,
            severity_overrides: BTreeMap::new(),
            exceptions: Vec::new(),
            sigma_rules: SigmaRules::default(),
        }
    }
}

/// A configuration value the detector cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0:?} is not an AWS account id (expected 12 digits)")]
    /// Not a 12-digit account id.
    InvalidAccountId(String),
    #[error(
        "{0:?} is not an organization id or OU path (expected o-xxxxxxxxxx, optionally /r-xxxx/ou-xxxx-xxxxxxxx/...)"
    )]
    /// Neither an organization id (`o-...`) nor an OU path.
    InvalidOrganization(String),
    #[error("unknown rule id {0:?} (known: {known})", known = known_rule_ids())]
    /// A rule id not in the catalogue.
    UnknownRule(String),
}

fn known_rule_ids() -> String {
    CATALOGUE
        .iter()
        .map(|r| r.meta().id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a comma- or whitespace-separated list, dropping empty items.
pub fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Parses a list of account ids such as `111122223333,444455556666`.
pub fn parse_accounts(s: &str) -> Result<BTreeSet<String>, ConfigError> {
    split_list(s)
        .map(|a| {
            if is_account_id(a) {
                Ok(a.to_owned())
            } else {
                Err(ConfigError::InvalidAccountId(a.to_owned()))
            }
        })
        .collect()
}

/// True for an organization id (`o-` and 10 to 32 lower-case letters or digits), optionally
/// followed by a path of root and OU ids (`/r-ab12/ou-ab12-11111111`) and a trailing `/`.
pub fn is_organization_path(s: &str) -> bool {
    let mut segments = s.trim_end_matches('/').split('/');
    let id_ok = |seg: &str, prefix: &str, min: usize| {
        seg.strip_prefix(prefix).is_some_and(|rest| {
            rest.len() >= min
                && rest.len() <= 68
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
    };
    let Some(org) = segments.next() else {
        return false;
    };
    if !id_ok(org, "o-", 10) {
        return false;
    }
    segments.enumerate().all(|(i, seg)| {
        if i == 0 {
            id_ok(seg, "r-", 4)
        } else {
            id_ok(seg, "ou-", 4)
        }
    })
}

/// Parses a list of organization ids or OU paths such as `o-a1b2c3d4e5,o-f6g7h8i9j0/r-ab12/ou-ab12-11111111`.
pub fn parse_organizations(s: &str) -> Result<BTreeSet<String>, ConfigError> {
    split_list(s)
        .map(|o| {
            if is_organization_path(o) {
                Ok(o.trim_end_matches('/').to_owned())
            } else {
                Err(ConfigError::InvalidOrganization(o.to_owned()))
            }
        })
        .collect()
}

/// Parses a list of rule ids, refusing ids that are not in the catalogue.
pub fn parse_rule_ids(s: &str) -> Result<BTreeSet<String>, ConfigError> {
    split_list(s)
        .map(|id| {
            if CATALOGUE.iter().any(|r| r.meta().id == id) {
                Ok(id.to_owned())
            } else {
                Err(ConfigError::UnknownRule(id.to_owned()))
            }
        })
        .collect()
}
