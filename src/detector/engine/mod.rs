//! The rule engine: configuration, the (eventSource, eventName) index, and the scan loop that
//! ties the reader, the record view and the rules together.

use crate::detector::alert::{Alert, LogObject};
use crate::detector::arn::is_account_id;
use crate::detector::exceptions::{Exception, ExceptionVerdict, judge};
use crate::detector::record::Record;
use crate::detector::rule::{FailedCalls, NameMatch, Rule, RuleContext, RuleMeta, Severity};
use crate::detector::rules::CATALOGUE;
use crate::detector::sigma::{Gate, NameSelector, RecordEvent, SigmaRule, TextFinder, TextGate};
use crate::detector::skim::Wanted;
use index_hash::IndexMap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

mod index_hash;
mod routing;
mod scan;
mod settings;

pub use scan::{
    RuleFailure, ScanError, ScanSink, ScanStats, SkippedRecord, scan_log, scan_log_to,
    scan_reader_to,
};
pub use settings::{
    ConfigError, DetectorConfig, is_organization_path, parse_accounts, parse_organizations,
    parse_rule_ids, split_list,
};

/// Rule slots interested in names under one eventSource. A slot below the number of
/// catalogue rules is a catalogue rule; the others are Sigma rules.
#[derive(Default)]
struct SourceIndex {
    exact: IndexMap<Box<str>, Vec<usize>>,
    prefixes: Vec<(Box<str>, usize)>,
}

impl SourceIndex {
    fn add(&mut self, name: &NameMatch, slot: usize) {
        match name {
            NameMatch::Exact(name) => self.exact.entry((*name).into()).or_default().push(slot),
            NameMatch::Prefix(prefix) => self.prefixes.push(((*prefix).into(), slot)),
            NameMatch::AnyEventByIdentityType(_) => {
                unreachable!("caller-type selectors are routed by Detector::with_rules")
            }
        }
    }

    fn add_sigma(&mut self, name: Option<&NameSelector>, slot: usize) {
        match name {
            Some(NameSelector::Exact(name)) => self
                .exact
                .entry(name.as_str().into())
                .or_default()
                .push(slot),
            Some(NameSelector::Prefix(prefix)) => {
                self.prefixes.push((prefix.as_str().into(), slot))
            }
            None => self.prefixes.push(("".into(), slot)),
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.exact.contains_key(name) || self.prefixes.iter().any(|(p, _)| name.starts_with(&**p))
    }

    /// True when some slot interested in `name` passes `check`.
    fn any_slot(&self, name: &str, check: &mut dyn FnMut(usize) -> bool) -> bool {
        self.exact
            .get(name)
            .is_some_and(|slots| slots.iter().any(|&slot| check(slot)))
            || self
                .prefixes
                .iter()
                .any(|(p, slot)| name.starts_with(&**p) && check(*slot))
    }

    fn collect(&self, name: &str, found: &mut Vec<usize>) {
        if let Some(slots) = self.exact.get(name) {
            found.extend_from_slice(slots);
        }
        for (prefix, slot) in &self.prefixes {
            if name.starts_with(&**prefix) {
                found.push(*slot);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty()
    }
}

/// An alert an exception suppressed, and which exception did.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    /// The exception's name.
    pub exception: String,
    /// The alert that was not raised.
    pub alert: Alert,
}

/// The configured rule set, indexed by the events each rule wants.
pub struct Detector {
    rules: Vec<&'static dyn Rule>,
    sigma: Vec<SigmaRule>,
    index: IndexMap<Box<str>, SourceIndex>,
    /// Sigma rules that pin eventName but not eventSource.
    any_source: SourceIndex,
    /// Sigma rules that pin neither: asked about every record.
    every_record: Vec<usize>,
    /// Sigma rules gated by caller type (`userIdentity.type`, compared ignoring ASCII case).
    sigma_by_identity_type: Vec<(Box<str>, usize)>,
    /// Sigma rules gated by text in the record (lower-case ASCII); asked about a skimmed
    /// record only when its bytes may hold the text.
    sigma_by_text: Vec<(TextFinder, usize)>,
    /// All of `sigma_by_text`'s texts in one search: most records hold none, one pass says so.
    sigma_text_any: Option<TextFinder>,
    /// Per Sigma rule (slot minus the catalogue's length): texts a record must hold one of
    /// before it is parsed for that rule, in one search.
    sigma_requires: Vec<Option<TextFinder>>,
    /// Per Sigma rule: caller types its condition rules out.
    sigma_excludes: Vec<Vec<Box<str>>>,
    /// The fields text gates look in that the skim reads too, so gates need no search.
    skim_wanted: Wanted,
    /// Rules that want every event of a caller type (`userIdentity.type`), whatever the event.
    by_identity_type: IndexMap<&'static str, Vec<usize>>,
    ctx: RuleContext,
    min_severity: Severity,
    severity_overrides: BTreeMap<String, Severity>,
    exceptions: Vec<Exception>,
    /// Alerts suppressed per exception since the detector was built (same order).
    suppressed: Vec<AtomicU64>,
}

impl Detector {
    /// Builds the detector from the catalogue and a configuration.
    pub fn new(config: &DetectorConfig) -> Result<Self, ConfigError> {
        Self::with_rules(CATALOGUE, config)
    }

    /// Builds a detector over a given rule list (tests use single rules).
    pub fn with_rules(
        catalogue: &[&'static dyn Rule],
        config: &DetectorConfig,
    ) -> Result<Self, ConfigError> {
        for account in &config.trusted_accounts {
            if !is_account_id(account) {
                return Err(ConfigError::InvalidAccountId(account.clone()));
            }
        }
        for org in &config.trusted_organizations {
            if !is_organization_path(org) {
                return Err(ConfigError::InvalidOrganization(org.clone()));
            }
        }
        let sigma_rules = config.sigma_rules.rules();
        let known = |id: &String| {
            catalogue.iter().any(|r| r.meta().id == id) || config.sigma_rules.knows(id)
        };
        let named = config
            .disabled_rules
            .iter()
            .chain(config.only_rules.iter().flatten())
            .chain(config.severity_overrides.keys())
            .chain(config.exceptions.iter().flat_map(|e| &e.matchers.rules));
        if let Some(unknown) = named.into_iter().find(|id| !known(id)) {
            return Err(ConfigError::UnknownRule(unknown.clone()));
        }
        // Severity filters alerts, not rules: a finding may be raised above or below its rule's
        // default (a public share, a failed attempt). Only an override below the minimum, which
        // replaces every alert's severity, takes a rule out.
        let runs = |id: &str, _severity: Severity| {
            config
                .severity_overrides
                .get(id)
                .is_none_or(|s| *s >= config.min_severity)
                && !config.disabled_rules.contains(id)
                && config
                    .only_rules
                    .as_ref()
                    .is_none_or(|only| only.contains(id))
        };
        let rules: Vec<&'static dyn Rule> = catalogue
            .iter()
            .copied()
            .filter(|r| runs(r.meta().id, r.meta().severity))
            .collect();
        // A Sigma rule runs while it alerts itself or a running correlation counts it.
        let sigma: Vec<SigmaRule> = sigma_rules
            .iter()
            .filter_map(|r| {
                let mut rule = r.clone();
                rule.alerts_alone &= runs(&r.rule_id, r.severity);
                rule.counted_by
                    .retain(|(c, _)| runs(&c.rule_id, c.severity));
                (rule.alerts_alone || !rule.counted_by.is_empty()).then_some(rule)
            })
            .collect();
        let mut index: IndexMap<Box<str>, SourceIndex> = IndexMap::default();
        let mut by_identity_type: IndexMap<&'static str, Vec<usize>> = IndexMap::default();
        for (slot, rule) in rules.iter().enumerate() {
            for selector in rule.meta().events {
                if let NameMatch::AnyEventByIdentityType(kind) = selector.name {
                    by_identity_type.entry(kind).or_default().push(slot);
                    continue;
                }
                index
                    .entry(selector.source.into())
                    .or_default()
                    .add(&selector.name, slot);
            }
        }
        let mut any_source = SourceIndex::default();
        let mut every_record = Vec::new();
        let mut sigma_by_identity_type = Vec::new();
        let mut sigma_by_text = Vec::new();
        let mut skim_wanted = Wanted::default();
        for (i, rule) in sigma.iter().enumerate() {
            let slot = rules.len() + i;
            let Some(gates) = &rule.route else {
                every_record.push(slot);
                continue;
            };
            for gate in gates {
                match gate {
                    Gate::Event(selector) => match &selector.source {
                        Some(source) => index
                            .entry(source.as_str().into())
                            .or_default()
                            .add_sigma(selector.name.as_ref(), slot),
                        None => any_source.add_sigma(selector.name.as_ref(), slot),
                    },
                    Gate::IdentityType(kind) => {
                        sigma_by_identity_type.push((kind.as_str().into(), slot))
                    }
                    Gate::Text(text) => {
                        sigma_by_text.push((TextFinder::reading([text], &mut skim_wanted), slot))
                    }
                }
            }
        }
        let gate_texts = sigma.iter().filter_map(|r| r.route.as_ref()).flatten();
        let gate_texts: Vec<&TextGate> = gate_texts
            .filter_map(|gate| match gate {
                Gate::Text(text) => Some(text),
                _ => None,
            })
            .collect();
        let sigma_text_any =
            (!gate_texts.is_empty()).then(|| TextFinder::reading(gate_texts, &mut skim_wanted));
        let sigma_requires = sigma
            .iter()
            .map(|r| {
                r.requires_text
                    .as_ref()
                    .map(|texts| TextFinder::reading(texts, &mut skim_wanted))
            })
            .collect();
        let sigma_excludes = sigma
            .iter()
            .map(|r| {
                r.excludes_caller_types
                    .iter()
                    .map(|t| t.as_str().into())
                    .collect()
            })
            .collect();
        Ok(Detector {
            rules,
            sigma,
            index,
            any_source,
            every_record,
            sigma_by_identity_type,
            sigma_by_text,
            sigma_text_any,
            sigma_requires,
            sigma_excludes,
            skim_wanted,
            by_identity_type,
            ctx: RuleContext {
                trusted_accounts: config.trusted_accounts.clone(),
                trusted_organizations: config.trusted_organizations.clone(),
            },
            min_severity: config.min_severity,
            severity_overrides: config.severity_overrides.clone(),
            exceptions: config.exceptions.clone(),
            suppressed: config
                .exceptions
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
        })
    }

    /// The Sigma rules that run.
    pub fn sigma_rules(&self) -> &[SigmaRule] {
        &self.sigma
    }

    /// The fields the skim should read for this detector's text gates (see
    /// [`RawRecord::skim_reading`](crate::detector::reader::RawRecord::skim_reading)).
    pub fn skim_wanted(&self) -> &Wanted {
        &self.skim_wanted
    }

    /// Alerts suppressed so far by each exception (name, count), in configuration order; the
    /// adapters turn these into metrics and reports.
    pub fn exception_counts(&self) -> Vec<(&str, u64)> {
        self.exceptions
            .iter()
            .zip(&self.suppressed)
            .map(|(e, n)| (e.name.as_str(), n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Metadata of the rules that run.
    pub fn rules(&self) -> impl Iterator<Item = &'static RuleMeta> + '_ {
        self.rules.iter().map(|r| r.meta())
    }

    /// Runs the interested rules over one record, appending alerts to `out`. Every interested
    /// rule runs; the first that could not judge the record is returned as the error, so the
    /// caller counts the record as skipped even when another rule raised an alert.
    pub fn evaluate(
        &self,
        record: &Record<'_>,
        log: &LogObject,
        out: &mut Vec<Alert>,
    ) -> Result<(), RuleFailure> {
        let mut suppressed = Vec::new();
        self.evaluate_tuned(record, log, out, &mut suppressed)
    }

    /// Like [`Detector::evaluate`], and also hands back the alerts exceptions suppressed.
    /// Severity overrides, the minimum severity and exceptions apply to every alert here.
    pub fn evaluate_tuned(
        &self,
        record: &Record<'_>,
        log: &LogObject,
        out: &mut Vec<Alert>,
        suppressed: &mut Vec<Suppression>,
    ) -> Result<(), RuleFailure> {
        if !self.wants_record(record) {
            return Ok(());
        }
        let mut first_failure = None;
        // The record as a Sigma event: a JSON tree is built only if a Sigma rule needs one.
        let event = RecordEvent::new(record);
        for slot in self.interested(record) {
            let alert = if let Some(rule) = self.rules.get(slot) {
                let meta = rule.meta();
                if !sees(meta, record) {
                    continue;
                }
                match rule.evaluate(record, &self.ctx) {
                    Ok(Some(finding)) => Alert::new(meta, finding, record, log.clone()),
                    Ok(None) => continue,
                    Err(error) => {
                        first_failure.get_or_insert(RuleFailure {
                            rule_id: meta.id,
                            error,
                        });
                        continue;
                    }
                }
            } else {
                let rule = &self.sigma[slot - self.rules.len()];
                if !rule.matches_record(&event) {
                    continue;
                }
                let mut alerts = Vec::new();
                if let Err(error) = rule.alerts(record, &event, log, &mut alerts) {
                    first_failure.get_or_insert(RuleFailure {
                        rule_id: "sigma-correlation",
                        error,
                    });
                }
                for alert in alerts {
                    self.tune(alert, record, out, suppressed);
                }
                continue;
            };
            self.tune(alert, record, out, suppressed);
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// Applies severity overrides, the minimum severity and the exceptions to one alert.
    fn tune(
        &self,
        mut alert: Alert,
        record: &Record<'_>,
        out: &mut Vec<Alert>,
        suppressed: &mut Vec<Suppression>,
    ) {
        if let Some(severity) = self.severity_overrides.get(&alert.rule_id) {
            alert.severity = *severity;
        }
        if alert.severity < self.min_severity {
            return;
        }
        match judge(&self.exceptions, &alert, record) {
            ExceptionVerdict::None => out.push(alert),
            ExceptionVerdict::Expired(expired) => {
                alert.expired_exceptions = expired;
                out.push(alert);
            }
            ExceptionVerdict::Suppressed(i) => {
                self.suppressed[i].fetch_add(1, Ordering::Relaxed);
                suppressed.push(Suppression {
                    exception: self.exceptions[i].name.clone(),
                    alert,
                });
            }
        }
    }
}

/// Whether a rule is asked about a record the index routed to it: failed calls only reach
/// rules that evaluate them.
pub(crate) fn sees(meta: &RuleMeta, record: &Record<'_>) -> bool {
    meta.failed_calls == FailedCalls::Evaluate || !record.failed()
}
#[cfg(test)]
mod tests;
