//! The tuning file: one YAML document (schema in docs/configuration.md), parsed and validated
//! once into the detector's typed configuration. Errors carry the line they are about.
//!
//! Pure: the adapters read the file (and the Sigma directory it names) and hand the text here.

use crate::detector::arn::is_account_id;
use crate::detector::engine::DetectorConfig;
use crate::detector::exceptions::{Exception, Expiry, Glob, Matchers};
use crate::detector::rule::Severity;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
// Address types only (core has no sockets): the detector does no networking.
use core::net::IpAddr;

/// A configuration file the detector cannot use, with the line it is about when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFileError {
    /// 1-based line in the file.
    pub line: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigFileError {}

/// The parsed file: what it sets, kept apart from flags and environment variables so the
/// adapters can let those override it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TuningFile {
    /// `trusted_accounts`.
    pub trusted_accounts: BTreeSet<String>,
    /// `trusted_organizations` (`o-...`): see [`TuningFile::apply`].
    pub trusted_organizations: BTreeSet<String>,
    /// `min_severity`.
    pub min_severity: Option<Severity>,
    /// `rules: {id: {enabled: false}}`.
    pub disabled_rules: BTreeSet<String>,
    /// `rules: {id: {severity: ...}}`.
    pub severity_overrides: BTreeMap<String, Severity>,
    /// `exceptions`, in file order (the first live match suppresses).
    pub exceptions: Vec<Exception>,
    /// `sigma.directory`, as written (relative paths are relative to the file).
    pub sigma_directory: Option<String>,
    /// `sigma.dedup_period_minutes`.
    pub sigma_dedup_period_minutes: Option<u32>,
    /// `sigma.allow_caller_type_only`: load rules that constrain only the caller's type.
    pub sigma_allow_caller_type_only: bool,
    /// Every rule id the file names, with its line, for checking against the loaded rules.
    pub rule_references: Vec<(String, usize)>,
}

impl TuningFile {
    /// Parses and validates a configuration file's text.
    pub fn parse(text: &str) -> Result<Self, ConfigFileError> {
        let raw: RawFile = yaml_serde::from_str(text).map_err(|e| {
            let message = strip_location(&e.to_string());
            // yaml_serde places a value's validation error at the enclosing mapping; the
            // value itself, quoted in the message, pins the line more precisely.
            let line = e.location().map(|l| {
                quoted_value(&message)
                    .and_then(|value| line_containing(text, value, l.line()))
                    .unwrap_or(l.line())
            });
            ConfigFileError { line, message }
        })?;
        raw.validate(text)
    }

    /// Fails on the first rule id the file names that `known` does not know.
    pub fn check_rule_ids(&self, known: impl Fn(&str) -> bool) -> Result<(), ConfigFileError> {
        match self.rule_references.iter().find(|(id, _)| !known(id)) {
            Some((id, line)) => Err(ConfigFileError {
                line: Some(*line),
                message: format!(
                    "unknown rule id {id:?} (see `trailwatch rules`; Sigma rules are sigma-<id>)"
                ),
            }),
            None => Ok(()),
        }
    }

    /// Writes the file's settings into `config` (flags and environment variables are applied
    /// after, by the adapters, and win).
    pub fn apply(&self, config: &mut DetectorConfig) {
        config
            .trusted_accounts
            .extend(self.trusted_accounts.iter().cloned());
        // Hook for trusted organizations: the detector's configuration gains a field for them
        // in the exposure work; until it is merged the organizations are kept here and, for
        // exceptions, in `external_accounts`/`organizations` matchers.
        if let Some(min) = self.min_severity {
            config.min_severity = min;
        }
        config
            .disabled_rules
            .extend(self.disabled_rules.iter().cloned());
        config.severity_overrides.extend(
            self.severity_overrides
                .iter()
                .map(|(id, sev)| (id.clone(), *sev)),
        );
        config.exceptions.extend(self.exceptions.iter().cloned());
    }
}

/// yaml_serde appends " at line L column C"; the line is reported separately.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The first `"..."` in an error message (our validators quote the bad value).
fn quoted_value(message: &str) -> Option<&str> {
    let start = message.find('"')? + 1;
    let len = message[start..].find('"')?;
    Some(&message[start..start + len]).filter(|v| !v.is_empty())
}

/// 1-based line at or after `from` that contains `needle`, if any.
fn line_containing(text: &str, needle: &str, from: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, line)| line.contains(needle))
        .map(|(i, _)| i + 1)
}

/// 1-based line of the first occurrence of `needle` at or after line `from`.
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, line)| line.contains(needle))
        .map_or(from.max(1), |(i, _)| i + 1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<u32>,
    #[serde(default)]
    trusted_accounts: Vec<AccountId>,
    #[serde(default)]
    trusted_organizations: Vec<OrganizationId>,
    min_severity: Option<SeverityName>,
    #[serde(default)]
    rules: BTreeMap<String, RawRuleSetting>,
    sigma: Option<RawSigma>,
    #[serde(default)]
    exceptions: Vec<RawException>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSetting {
    enabled: Option<bool>,
    severity: Option<SeverityName>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigma {
    directory: String,
    dedup_period_minutes: Option<u32>,
    #[serde(default)]
    allow_caller_type_only: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    name: NonEmpty,
    reason: NonEmpty,
    owner: NonEmpty,
    expires: Option<ExpiryText>,
    #[serde(rename = "match")]
    matchers: RawMatchers,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMatchers {
    #[serde(default)]
    rules: Vec<NonEmpty>,
    #[serde(default)]
    accounts: Vec<AccountId>,
    #[serde(default)]
    regions: Vec<NonEmpty>,
    #[serde(default)]
    actors: Vec<NonEmpty>,
    #[serde(default)]
    source_ips: Vec<Cidr>,
    #[serde(default)]
    user_agents: Vec<NonEmpty>,
    #[serde(default)]
    resources: Vec<NonEmpty>,
    #[serde(default)]
    external_accounts: Vec<AccountId>,
    #[serde(default)]
    organizations: Vec<OrganizationId>,
}

/// Field types validate while deserializing, so yaml_serde reports the value's line.
macro_rules! validated_string {
    ($name:ident, $check:expr) => {
        struct $name(String);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = scalar_string(d)?;
                let check: fn(&str) -> Result<(), String> = $check;
                check(&s).map_err(serde::de::Error::custom)?;
                Ok($name(s))
            }
        }
    };
}

/// Accepts YAML strings and integers (an unquoted account id is a number to YAML).
fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct ScalarVisitor;
    impl serde::de::Visitor<'_> for ScalarVisitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string (quote values that YAML reads otherwise)")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.trim().to_owned())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(ScalarVisitor)
}

validated_string!(NonEmpty, |s| if s.is_empty() {
    Err("must not be empty".into())
} else {
    Ok(())
});

validated_string!(AccountId, |s| if is_account_id(s) {
    Ok(())
} else {
    Err(format!(
        "{s:?} is not an AWS account id (12 digits; quote it so YAML keeps leading zeros)"
    ))
});

validated_string!(OrganizationId, |s| {
    let ok = s.len() >= 12
        && s.starts_with("o-")
        && s[2..]
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not an AWS Organizations id (o- and 10 to 32 lower-case letters or digits)"
        ))
    }
});

validated_string!(SeverityName, |s| s.parse::<Severity>().map(|_| ()));

validated_string!(ExpiryText, |s| Expiry::parse(s).map(|_| ()));

struct Cidr(IpNet);

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = scalar_string(d)?;
        let net = s
            .parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "{s:?} is not an IP address or CIDR block (203.0.113.0/24, 2001:db8::/32)"
                ))
            })?;
        Ok(Cidr(net.trunc()))
    }
}

impl RawFile {
    fn validate(self, text: &str) -> Result<TuningFile, ConfigFileError> {
        let at = |line: usize, message: String| ConfigFileError {
            line: Some(line),
            message,
        };
        if let Some(v) = self.version
            && v != 1
        {
            return Err(at(
                line_of(text, "version", 1),
                format!("version {v} is not supported (this trailwatch reads version 1)"),
            ));
        }
        let mut file = TuningFile {
            trusted_accounts: self.trusted_accounts.into_iter().map(|a| a.0).collect(),
            trusted_organizations: self
                .trusted_organizations
                .into_iter()
                .map(|o| o.0)
                .collect(),
            min_severity: self.min_severity.map(|s| parse_severity(&s.0)),
            ..TuningFile::default()
        };
        let rules_line = line_of(text, "rules:", 1);
        for (id, setting) in self.rules {
            let line = line_of(text, &id, rules_line);
            if setting.enabled.is_none() && setting.severity.is_none() {
                return Err(at(
                    line,
                    format!("rule {id:?}: set `enabled` and/or `severity`"),
                ));
            }
            if setting.enabled == Some(false) {
                file.disabled_rules.insert(id.clone());
            }
            if let Some(sev) = setting.severity {
                file.severity_overrides
                    .insert(id.clone(), parse_severity(&sev.0));
            }
            file.rule_references.push((id, line));
        }
        if let Some(sigma) = self.sigma {
            if sigma.directory.trim().is_empty() {
                return Err(at(
                    line_of(text, "directory", 1),
                    "sigma.directory must not be empty".into(),
                ));
            }
            file.sigma_directory = Some(sigma.directory);
            file.sigma_dedup_period_minutes = sigma.dedup_period_minutes;
            file.sigma_allow_caller_type_only = sigma.allow_caller_type_only;
        }
        let mut names = BTreeSet::new();
        let mut search_from = line_of(text, "exceptions:", 1);
        for raw in self.exceptions {
            let name = raw.name.0;
            let line = text
                .lines()
                .enumerate()
                .skip(search_from.saturating_sub(1))
                .find(|(_, l)| {
                    let l = l.trim_start().trim_start_matches("- ").trim_start();
                    l.starts_with("name:") && l.contains(name.as_str())
                })
                .map_or(search_from, |(i, _)| i + 1);
            search_from = line + 1;
            if !names.insert(name.clone()) {
                return Err(at(line, format!("exception name {name:?} is used twice")));
            }
            let m = raw.matchers;
            let matchers = Matchers {
                rules: m.rules.into_iter().map(|r| r.0).collect(),
                accounts: m.accounts.into_iter().map(|a| a.0).collect(),
                regions: m.regions.into_iter().map(|r| r.0).collect(),
                actors: m.actors.iter().map(|g| Glob::new(&g.0)).collect(),
                source_ips: m.source_ips.into_iter().map(|c| c.0).collect(),
                user_agents: m
                    .user_agents
                    .iter()
                    .map(|g| Glob::case_insensitive(&g.0))
                    .collect(),
                resources: m.resources.iter().map(|g| Glob::new(&g.0)).collect(),
                external_accounts: m.external_accounts.into_iter().map(|a| a.0).collect(),
                organizations: m.organizations.into_iter().map(|o| o.0).collect(),
            };
            if matchers.is_empty() {
                return Err(at(
                    line,
                    format!("exception {name:?} matches nothing: give at least one matcher"),
                ));
            }
            if matchers.rules.is_empty()
                && matchers.actors.is_empty()
                && matchers.resources.is_empty()
                && matchers.external_accounts.is_empty()
                && matchers.organizations.is_empty()
            {
                return Err(at(
                    line,
                    format!(
                        "exception {name:?} is too broad: name the rules, actors, resources or outsiders it covers"
                    ),
                ));
            }
            for rule in &matchers.rules {
                file.rule_references
                    .push((rule.clone(), line_of(text, rule, line)));
            }
            file.exceptions.push(Exception {
                name,
                reason: raw.reason.0,
                owner: raw.owner.0,
                expires: raw.expires.map(|e| Expiry::parse(&e.0).expect("validated")),
                matchers,
            });
        }
        Ok(file)
    }
}

fn parse_severity(s: &str) -> Severity {
    s.parse().expect("validated while deserializing")
}

#[cfg(test)]
mod tests;
