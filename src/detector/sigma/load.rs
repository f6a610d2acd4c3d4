//! Loading Sigma files: parsing, compiling, checking ids and references, and refusing with a
//! reason what is not supported.

use super::route::{
    condition_route, condition_texts, constrains_only_caller_type, excluded_caller_types,
};
use super::{SigmaRule, SigmaRules};
use crate::detector::alert::AttackRef;
use crate::detector::rule::Severity;
use crate::detector::sigma_correlation::{self, SigmaCorrelation};
use rsigma_eval::compile_rule;
use rsigma_parser::{Level, SigmaRule as ParsedRule, parse_sigma_yaml};
use std::fmt;
use std::sync::Arc;

/// A rule (or document) that did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The file it came from.
    pub origin: String,
    /// The rule's title, when it got that far.
    pub title: Option<String>,
    /// Why it was refused, in words for the operator.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.title {
            Some(title) => write!(f, "{}: {title:?}: {}", self.origin, self.reason),
            None => write!(f, "{}: {}", self.origin, self.reason),
        }
    }
}

/// What loading a set of Sigma files gave.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The rules and correlations that loaded.
    pub rules: SigmaRules,
    /// The rules and documents that did not, each with its reason.
    pub refused: Vec<Refusal>,
}

/// How rules are loaded, from the configuration's `sigma` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// The dedup window of the loaded rules' alerts.
    pub dedup_period_minutes: u32,
    /// Load rules whose detection constrains only the caller's type (`userIdentity.type`,
    /// `userIdentity.sessionContext.sessionIssuer.type`): they match every call of those
    /// callers, hunting queries rather than alerts, and are refused unless this is set.
    pub allow_caller_type_only: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            dedup_period_minutes: super::DEFAULT_DEDUP_PERIOD_MINUTES,
            allow_caller_type_only: false,
        }
    }
}

/// Why a rule that constrains only the caller's type is refused by default.
pub const CALLER_TYPE_ONLY: &str = "its detection constrains only the caller's type (userIdentity.type, userIdentity.sessionContext.sessionIssuer.type), so it matches every call those callers make: a hunting query, not an alert; set `sigma: {allow_caller_type_only: true}` to load it anyway";

/// Parses and compiles Sigma rules from `(origin, yaml text)` pairs with the default options
/// (rules that constrain only the caller's type are refused). Rule ids must be unique (and
/// unique against `taken`, the built-in catalogue's ids).
pub fn load(
    sources: &[(String, String)],
    dedup_period_minutes: u32,
    taken: impl Fn(&str) -> bool,
) -> Loaded {
    let options = LoadOptions {
        dedup_period_minutes,
        ..LoadOptions::default()
    };
    load_with(sources, &options, taken)
}

/// Like [`load`], with every option given.
pub fn load_with(
    sources: &[(String, String)],
    options: &LoadOptions,
    taken: impl Fn(&str) -> bool,
) -> Loaded {
    let dedup_period_minutes = options.dedup_period_minutes;
    let mut rules: Vec<SigmaRule> = Vec::new();
    let mut refused = Vec::new();
    let mut pending_correlations = Vec::new();
    let collections: Vec<_> = sources
        .iter()
        .map(|(_, text)| parse_sigma_yaml(text))
        .collect();
    for ((origin, text), collection) in sources.iter().zip(&collections) {
        let refuse = |title: Option<&str>, reason: String| Refusal {
            origin: origin.clone(),
            title: title.map(str::to_owned),
            reason,
        };
        let collection = match collection {
            Ok(c) => c,
            Err(_) if has_v1_aggregation(text) => {
                refused.push(refuse(None, V1_AGGREGATION.into()));
                continue;
            }
            Err(e) => {
                refused.push(refuse(None, format!("not a Sigma rule: {e}")));
                continue;
            }
        };
        for error in &collection.errors {
            let reason = if has_v1_aggregation(text) {
                V1_AGGREGATION.to_owned()
            } else {
                format!("not a Sigma rule: {error}")
            };
            refused.push(refuse(None, reason));
        }
        for correlation in &collection.correlations {
            pending_correlations.push((origin, correlation));
        }
        for filter in &collection.filters {
            refused.push(refuse(
                Some(&filter.title),
                "Sigma filter documents are not supported: use an exception in the configuration"
                    .into(),
            ));
        }
        for parsed in &collection.rules {
            if !options.allow_caller_type_only && constrains_only_caller_type(parsed) {
                refused.push(refuse(Some(&parsed.title), CALLER_TYPE_ONLY.into()));
                continue;
            }
            match build(parsed, origin, text, dedup_period_minutes) {
                Ok(rule) => {
                    if taken(&rule.rule_id) || rules.iter().any(|r| r.rule_id == rule.rule_id) {
                        refused.push(refuse(
                            Some(&parsed.title),
                            format!("rule id {} is already loaded", rule.rule_id),
                        ));
                    } else {
                        rules.push(rule);
                    }
                }
                Err(reason) => refused.push(refuse(Some(&parsed.title), reason)),
            }
        }
    }
    // Correlations last: they reference rules from any file.
    let mut correlations: Vec<Arc<SigmaCorrelation>> = Vec::new();
    for (origin, parsed) in pending_correlations {
        let refuse = |reason: String| Refusal {
            origin: origin.clone(),
            title: Some(parsed.title.clone()),
            reason,
        };
        let correlation = match correlation(parsed, origin, dedup_period_minutes) {
            Ok(c) => c,
            Err(reason) => {
                refused.push(refuse(reason));
                continue;
            }
        };
        let taken_id = |id: &str| {
            taken(id)
                || rules.iter().any(|r| r.rule_id == id)
                || correlations.iter().any(|c| c.rule_id == id)
        };
        if taken_id(&correlation.rule_id) {
            refused.push(refuse(format!(
                "rule id {} is already loaded",
                correlation.rule_id
            )));
            continue;
        }
        let by_ref = |r: &str| {
            rules
                .iter()
                .position(|rule| rule.sigma_id == r || rule.name.as_deref() == Some(r))
        };
        let targets: Result<Vec<usize>, String> = correlation
            .rule_refs
            .iter()
            .map(|r| {
                by_ref(r).ok_or_else(|| {
                    format!("references {r:?}, which is not a loaded rule (correlations of correlations are not supported)")
                })
            })
            .collect();
        let targets = match targets {
            Ok(t) => t,
            Err(reason) => {
                refused.push(refuse(reason));
                continue;
            }
        };
        let correlation = Arc::new(correlation);
        for (slot, rule_ref) in targets.into_iter().zip(&correlation.rule_refs) {
            let rule = &mut rules[slot];
            // Sigma's `generate`: referenced rules are silent unless a correlation asks.
            rule.alerts_alone =
                (rule.alerts_alone && !rule.counted_by.is_empty()) || correlation.generate;
            rule.counted_by
                .push((Arc::clone(&correlation), rule_ref.clone()));
        }
        correlations.push(correlation);
    }
    Loaded {
        rules: SigmaRules(Arc::new(rules), Arc::new(correlations)),
        refused,
    }
}

const V1_AGGREGATION: &str = "a Sigma 1 aggregation in the condition (`| count() ...`, `| near ...`) is not supported: write it as a correlation rule (event_count, value_count or temporal)";

/// True when a `condition:` line pipes into an aggregation, as Sigma 1 rules did
/// (`selection | count() by sourceIPAddress > 5`).
fn has_v1_aggregation(text: &str) -> bool {
    text.lines().any(|line| {
        line.trim_start()
            .strip_prefix("condition:")
            .and_then(|c| c.split_once('|'))
            .is_some_and(|(_, tail)| {
                let tail = tail.trim_start();
                tail.starts_with("count(") || tail.starts_with("near ")
            })
    })
}

/// Severity and risk score from a Sigma `level`.
fn severity_of(level: Option<Level>) -> (Severity, u8) {
    match level {
        Some(Level::Informational) => (Severity::Info, 10),
        Some(Level::Low) => (Severity::Low, 25),
        Some(Level::Medium) | None => (Severity::Medium, 50),
        Some(Level::High) => (Severity::High, 75),
        Some(Level::Critical) => (Severity::Critical, 95),
    }
}

/// Checks a rule id and gives `sigma-<id>`.
fn checked_id(id: Option<&str>) -> Result<(String, String), String> {
    let sigma_id = id
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or("no `id`: alerts and exceptions need a stable rule id")?;
    if !sigma_id
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(format!(
            "id {sigma_id:?} has characters other than letters, digits, - and _"
        ));
    }
    Ok((
        format!("sigma-{}", sigma_id.to_ascii_lowercase()),
        sigma_id.to_owned(),
    ))
}

fn correlation(
    parsed: &rsigma_parser::CorrelationRule,
    origin: &str,
    dedup_period_minutes: u32,
) -> Result<SigmaCorrelation, String> {
    let (rule_id, sigma_id) = checked_id(parsed.id.as_deref())?;
    let (severity, risk_score) = severity_of(parsed.level);
    sigma_correlation::compile(
        parsed,
        origin,
        dedup_period_minutes,
        severity,
        risk_score,
        attack_from_tags(&parsed.tags),
        rule_id,
        sigma_id,
    )
}

fn build(
    parsed: &ParsedRule,
    origin: &str,
    text: &str,
    dedup_period_minutes: u32,
) -> Result<SigmaRule, String> {
    let logsource = &parsed.logsource;
    let is =
        |v: &Option<String>, want: &str| v.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(want));
    if !is(&logsource.product, "aws") || !is(&logsource.service, "cloudtrail") {
        return Err(format!(
            "logsource is product {:?}, service {:?}: only product aws, service cloudtrail is read",
            logsource.product.as_deref().unwrap_or("-"),
            logsource.service.as_deref().unwrap_or("-")
        ));
    }
    let (rule_id, sigma_id) = checked_id(parsed.id.as_deref())?;
    if parsed.detection.timeframe.is_some() {
        return Err(
            "`timeframe` (an aggregation) is not supported: write a correlation rule".into(),
        );
    }
    let (severity, risk_score) = severity_of(parsed.level);
    let compiled = compile_rule(parsed).map_err(|e| format!("does not compile: {e}"))?;
    Ok(SigmaRule {
        rule_id,
        sigma_id,
        title: parsed.title.clone(),
        description: parsed.description.clone().unwrap_or_default(),
        severity,
        risk_score,
        mitre_attack: attack_from_tags(&parsed.tags),
        references: parsed.references.clone(),
        false_positives: parsed.falsepositives.clone(),
        tags: parsed.tags.clone(),
        status: parsed.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
        origin: origin.to_owned(),
        dedup_period_minutes,
        route: condition_route(parsed),
        requires_text: condition_texts(parsed),
        excludes_caller_types: excluded_caller_types(parsed),
        name: parsed.name.clone(),
        alerts_alone: true,
        counted_by: Vec::new(),
        compiled,
        text: Arc::from(text),
    })
}

/// ATT&CK enterprise tactics by the names Sigma tags use.
const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource-development", "TA0042", "Resource Development"),
    ("initial-access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege-escalation", "TA0004", "Privilege Escalation"),
    ("defense-evasion", "TA0005", "Defense Evasion"),
    ("credential-access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral-movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command-and-control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

/// `attack.<tactic>` and `attack.tNNNN[.NNN]` tags as technique-under-tactic pairs. Sigma tags
/// carry no technique names, so `technique_name` repeats the id.
fn attack_from_tags(tags: &[String]) -> Vec<AttackRef> {
    let tactics: Vec<&(&str, &str, &str)> = tags
        .iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .filter_map(|name| TACTICS.iter().find(|(n, _, _)| *n == name))
        .collect();
    let mut out = Vec::new();
    for tag in tags {
        let Some(technique) = tag.strip_prefix("attack.t") else {
            continue;
        };
        if !technique.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let id = format!("T{}", technique.to_ascii_uppercase());
        let reference = format!(
            "https://attack.mitre.org/techniques/{}/",
            id.replace('.', "/")
        );
        let unknown = ("", "", "");
        let under: Vec<&(&str, &str, &str)> = if tactics.is_empty() {
            vec![&unknown]
        } else {
            tactics.clone()
        };
        for (_, tactic_id, tactic_name) in under {
            out.push(AttackRef {
                tactic_id: (*tactic_id).to_owned(),
                tactic_name: (*tactic_name).to_owned(),
                technique_id: id.clone(),
                technique_name: id.clone(),
                technique_reference: reference.clone(),
            });
        }
    }
    out
}
