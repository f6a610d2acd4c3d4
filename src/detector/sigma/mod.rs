//! User rules in Sigma: CloudTrail rules (`logsource: product aws, service cloudtrail`) parsed
//! with `rsigma-parser`, compiled and evaluated with `rsigma-eval`, and turned into ordinary
//! alerts (`sigma-<id>`) that share dedup, exceptions and delivery with the built-in rules.
//!
//! Every rule either loads or is refused with a reason. A rule whose detection pins
//! `eventSource`/`eventName` joins the engine's event index, so records no rule wants are not
//! even turned into JSON values; a rule that pins neither runs on every record (and says so in
//! [`SigmaRule::runs_on_every_record`]).
//!
//! Field semantics are Sigma's, on CloudTrail's dotted paths: string values compare
//! case-insensitively; `'true'` matches JSON `true`; `null` matches a JSON null *and* an
//! absent field (a successful call has no `errorCode`).

mod alert;
mod event;
mod load;
mod route;
#[cfg(test)]
pub(crate) mod tests;
mod text;

pub use event::RecordEvent;
pub use load::{CALLER_TYPE_ONLY, LoadOptions, Loaded, Refusal, load, load_with};
pub use text::{RecordText, TextFinder, TextGate, may_contain};

use crate::detector::alert::AttackRef;
use crate::detector::rule::Severity;
use crate::detector::sigma_correlation::SigmaCorrelation;
use rsigma_eval::compiler::eval_condition;
use rsigma_eval::event::JsonEvent;
use rsigma_eval::{CompiledRule, evaluate_rule};
use serde_json::Value;
use std::sync::Arc;

/// Alerts from one Sigma rule with the same event and caller are one alert within this window
/// unless the configuration says otherwise.
pub const DEFAULT_DEDUP_PERIOD_MINUTES: u32 = 60;

/// How a Sigma rule constrains `eventName` for the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameSelector {
    /// Exactly this name.
    Exact(String),
    /// Any name starting with this (a trailing `*` or `|startswith`).
    Prefix(String),
}

/// One (eventSource, eventName) pair a Sigma rule can match; `source: None` is any source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigmaSelector {
    /// The exact `eventSource`, or `None` for any source.
    pub source: Option<String>,
    /// The `eventName` it pins, or `None` for any name from the source.
    pub name: Option<NameSelector>,
}

/// A cheap test a record must pass for a Sigma rule to possibly match it, derived from the
/// rule's detection; the engine asks the rule only about records that pass one of its gates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// This (eventSource, eventName): the event index.
    Event(SigmaSelector),
    /// This `userIdentity.type` (compared ignoring ASCII case, as Sigma does), known from the skim.
    IdentityType(String),
    /// This text (lower-case ASCII) in a field's value or anywhere in the record's bytes,
    /// ignoring case (see [`RecordText::may_contain`]).
    Text(TextGate),
}

/// A loaded Sigma rule.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    /// `sigma-<id>`.
    pub rule_id: String,
    /// The Sigma rule's own `id`.
    pub sigma_id: String,
    /// The rule's `title`, used as the alert's title.
    pub title: String,
    /// The rule's `description`, carried in the alert's details.
    pub description: String,
    /// From `level` (`informational` is `info`).
    pub severity: Severity,
    /// The alert's risk score, from `level` (10 informational to 95 critical).
    pub risk_score: u8,
    /// ATT&CK tactics and techniques from the rule's `attack.*` tags.
    pub mitre_attack: Vec<AttackRef>,
    /// The rule's `references`, copied into its alerts.
    pub references: Vec<String>,
    /// The rule's `falsepositives`, copied into its alerts.
    pub false_positives: Vec<String>,
    /// The rule's `tags`, as written.
    pub tags: Vec<String>,
    /// The rule's `status` (`stable`, `test`, `experimental`...), lower-case.
    pub status: Option<String>,
    /// Where it was loaded from (a file name).
    pub origin: String,
    /// Alerts with the same event and caller within this many minutes are one alert.
    pub dedup_period_minutes: u32,
    /// The records it can match (any one gate passes); `None` when its detection implies no
    /// gate, so it is asked about every record.
    pub route: Option<Vec<Gate>>,
    /// Texts one of which a record must hold for the rule to match (from the same conjunction
    /// as its gates, lower-case ASCII); checked on the raw bytes before a record is parsed.
    pub requires_text: Option<Vec<TextGate>>,
    /// Caller types (`userIdentity.type`) the rule's condition excludes (`selection and not
    /// filter` where the filter is only a caller type); records of them are not parsed for it.
    pub excludes_caller_types: Vec<String>,
    /// The rule's `name`, by which correlations may reference it.
    pub name: Option<String>,
    /// False when correlations reference it and none asks for its own alerts (`generate`).
    pub alerts_alone: bool,
    /// The correlations that count its matches, with the reference each uses for it.
    pub counted_by: Vec<(Arc<SigmaCorrelation>, String)>,
    pub(super) compiled: CompiledRule,
    /// The source text, to compare configurations.
    pub(super) text: Arc<str>,
}

impl SigmaRule {
    /// True when the rule's detection implies no gate: it is asked about every record, which
    /// is then parsed in full.
    pub fn runs_on_every_record(&self) -> bool {
        self.route.is_none()
    }

    /// The records the rule is asked about, in words (for `rules` and `config check`): the
    /// cost of a rule that pins no event is the share of records it reads in full.
    pub fn reads(&self) -> String {
        let Some(gates) = &self.route else {
            return "every record (pins no eventSource/eventName, caller type or text)".into();
        };
        let mut kinds: Vec<String> = Vec::new();
        let events = gates.iter().filter(|g| matches!(g, Gate::Event(_))).count();
        if events > 0 {
            kinds.push(format!("{events} event(s) from the index"));
        }
        let types: Vec<&str> = gates
            .iter()
            .filter_map(|g| match g {
                Gate::IdentityType(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        if !types.is_empty() {
            // Role sessions, services and IAM users make most of CloudTrail in most accounts.
            let common = types.iter().any(|t| {
                ["AssumedRole", "AWSService", "IAMUser"]
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(t))
            });
            kinds.push(format!(
                "every record whose caller type (userIdentity.type) is {}{}",
                types.join(" or "),
                if common {
                    ", most of CloudTrail in most accounts: a hunting rule, costly as an alert"
                } else {
                    ""
                }
            ));
        }
        let texts: Vec<&TextGate> = gates
            .iter()
            .filter_map(|g| match g {
                Gate::Text(t) => Some(t),
                _ => None,
            })
            .collect();
        if !texts.is_empty() {
            let how = if texts.iter().all(|t| t.is_skimmed()) {
                "a field the skim reads from every record"
            } else {
                "a byte search on every record"
            };
            let listed: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
            kinds.push(format!("records with {} ({how})", listed.join(" or ")));
        }
        kinds.join("; ")
    }

    /// Whether the rule's gates let a record through, from what the skim knows and the raw
    /// bytes: false only when the rule cannot match the record.
    pub fn may_match(
        &self,
        source: &str,
        name: &str,
        identity_type: Option<&str>,
        bytes: &[u8],
    ) -> bool {
        if let Some(texts) = &self.requires_text
            && !texts.iter().any(|t| t.may_pass(bytes))
        {
            return false;
        }
        if let Some(kind) = identity_type
            && self
                .excludes_caller_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(kind))
        {
            return false;
        }
        let Some(gates) = &self.route else {
            return true;
        };
        gates.iter().any(|gate| match gate {
            Gate::Event(selector) => {
                selector.source.as_deref().is_none_or(|s| s == source)
                    && match &selector.name {
                        None => true,
                        Some(NameSelector::Exact(n)) => n == name,
                        Some(NameSelector::Prefix(p)) => name.starts_with(p.as_str()),
                    }
            }
            Gate::IdentityType(kind) => identity_type.is_some_and(|t| t.eq_ignore_ascii_case(kind)),
            Gate::Text(text) => text.may_pass(bytes),
        })
    }

    /// Whether the rule matches a record, given as its JSON value.
    pub fn matches(&self, record: &Value) -> bool {
        evaluate_rule(&self.compiled, &JsonEvent::borrow(record)).is_some()
    }

    /// Whether the rule matches a record the engine already parsed. Only the verdict is
    /// needed: `evaluate_rule` would also build a result (title, tags, matched fields, a second
    /// pass) on every match, which cost more than the match itself.
    pub fn matches_record(&self, event: &RecordEvent<'_, '_>) -> bool {
        let mut matched = Vec::new();
        self.compiled.conditions.iter().any(|condition| {
            eval_condition(condition, &self.compiled.detections, event, &mut matched)
        })
    }
}

/// The loaded Sigma rules, shared cheaply between configurations.
#[derive(Debug, Clone, Default)]
pub struct SigmaRules(
    pub(super) Arc<Vec<SigmaRule>>,
    pub(super) Arc<Vec<Arc<SigmaCorrelation>>>,
);

impl SigmaRules {
    /// The rules, in load order.
    pub fn rules(&self) -> &[SigmaRule] {
        &self.0
    }

    /// The correlation rules, in load order.
    pub fn correlations(&self) -> &[Arc<SigmaCorrelation>] {
        &self.1
    }

    /// True when no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty() && self.1.is_empty()
    }

    /// True when a loaded rule or correlation has this id (`sigma-<id>`).
    pub fn knows(&self, rule_id: &str) -> bool {
        self.0.iter().any(|r| r.rule_id == rule_id) || self.1.iter().any(|c| c.rule_id == rule_id)
    }
}

impl PartialEq for SigmaRules {
    fn eq(&self, other: &Self) -> bool {
        (Arc::ptr_eq(&self.0, &other.0) && Arc::ptr_eq(&self.1, &other.1))
            || (self.0.len() == other.0.len()
                && self
                    .0
                    .iter()
                    .zip(other.0.iter())
                    .all(|(a, b)| a.text == b.text && a.origin == b.origin))
    }
}

impl Eq for SigmaRules {}
