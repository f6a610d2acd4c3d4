//! The rule engine: configuration, the (eventSource, eventName) index, and the scan loop that
//! ties the reader, the record view and the rules together.

use crate::detector::alert::{Alert, LogObject};
use crate::detector::arn::is_account_id;
use crate::detector::exceptions::{Exception, ExceptionVerdict, judge};
use crate::detector::reader::{LogKind, LogReader, ReadError, ReaderConfig};
use crate::detector::record::Record;
use crate::detector::rule::{
    FailedCalls, NameMatch, Rule, RuleContext, RuleMeta, Severity, Unevaluable,
};
use crate::detector::rules::CATALOGUE;
use crate::detector::sigma::{
    Gate, NameSelector, RecordEvent, RecordText, SigmaRule, SigmaRules, TextFinder,
};
use crate::detector::skim::Skim;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

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
    InvalidAccountId(String),
    #[error(
        "{0:?} is not an organization id or OU path (expected o-xxxxxxxxxx, optionally /r-xxxx/ou-xxxx-xxxxxxxx/...)"
    )]
    InvalidOrganization(String),
    #[error("unknown rule id {0:?} (known: {known})", known = known_rule_ids())]
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

/// Rule slots interested in names under one eventSource. A slot below the number of
/// catalogue rules is a catalogue rule; the others are Sigma rules.
#[derive(Default)]
struct SourceIndex {
    exact: HashMap<Box<str>, Vec<usize>>,
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
    index: HashMap<Box<str>, SourceIndex>,
    /// Sigma rules that pin eventName but not eventSource.
    any_source: SourceIndex,
    /// Sigma rules that pin neither: asked about every record.
    every_record: Vec<usize>,
    /// Sigma rules gated by caller type (`userIdentity.type`, compared ignoring ASCII case).
    sigma_by_identity_type: Vec<(Box<str>, usize)>,
    /// Sigma rules gated by text in the record (lower-case ASCII); asked about a skimmed
    /// record only when its bytes may hold the text.
    sigma_by_text: Vec<(TextFinder, usize)>,
    /// Per Sigma rule (slot minus the catalogue's length): texts a record must hold one of
    /// before it is parsed for that rule.
    sigma_requires: Vec<Option<Vec<TextFinder>>>,
    /// Per Sigma rule: caller types its condition rules out.
    sigma_excludes: Vec<Vec<Box<str>>>,
    /// Rules that want every event of a caller type (`userIdentity.type`), whatever the event.
    by_identity_type: HashMap<&'static str, Vec<usize>>,
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
        let mut index: HashMap<Box<str>, SourceIndex> = HashMap::new();
        let mut by_identity_type: HashMap<&'static str, Vec<usize>> = HashMap::new();
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
                    Gate::Text(text) => sigma_by_text.push((TextFinder::new(text), slot)),
                }
            }
        }
        let sigma_requires = sigma
            .iter()
            .map(|r| {
                r.requires_text
                    .as_ref()
                    .map(|texts| texts.iter().map(|t| TextFinder::new(t)).collect())
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
            sigma_requires,
            sigma_excludes,
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

    /// The rules interested in a record (by its eventSource and eventName, or by its caller
    /// type): catalogue order, then Sigma rules.
    fn interested(&self, record: &Record<'_>) -> Vec<usize> {
        let (source, name) = (record.source(), record.name());
        let mut found = self.every_record.clone();
        if let Some(slots) = self.identity_rules(record) {
            found.extend_from_slice(slots);
        }
        let kind = record
            .user_identity
            .as_ref()
            .and_then(|u| u.identity_type.as_deref());
        found.extend(self.sigma_identity_slots(kind));
        // The record is parsed already: a text-gated rule reads its fields directly.
        found.extend(self.sigma_by_text.iter().map(|(_, slot)| *slot));
        if let Some(entry) = self.index.get(source) {
            entry.collect(name, &mut found);
        }
        self.any_source.collect(name, &mut found);
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The rules that want every event of this record's caller type, if any.
    fn identity_rules(&self, record: &Record<'_>) -> Option<&[usize]> {
        if self.by_identity_type.is_empty() {
            return None;
        }
        let kind = record.user_identity.as_ref()?.identity_type.as_deref()?;
        self.by_identity_type.get(kind).map(Vec::as_slice)
    }

    /// Sigma rules gated by this caller type.
    fn sigma_identity_slots<'s>(
        &'s self,
        kind: Option<&'s str>,
    ) -> impl Iterator<Item = usize> + 's {
        self.sigma_by_identity_type
            .iter()
            .filter(move |(k, _)| kind.is_some_and(|kind| k.eq_ignore_ascii_case(kind)))
            .map(|(_, slot)| *slot)
    }

    /// True when some rule wants this record: by its event, or by its caller type.
    pub fn wants_record(&self, record: &Record<'_>) -> bool {
        let kind = record
            .user_identity
            .as_ref()
            .and_then(|u| u.identity_type.as_deref());
        self.wants(record.source(), record.name())
            || self.identity_rules(record).is_some()
            || self.sigma_identity_slots(kind).next().is_some()
    }

    /// True when some rule wants a record with this event and caller type (from a skim).
    /// Without the record's bytes, a text-gated Sigma rule wants every record.
    pub fn wants_event(&self, source: &str, name: &str, identity_type: Option<&str>) -> bool {
        self.wants_by_event_or_caller(source, name, identity_type) || !self.sigma_by_text.is_empty()
    }

    /// Like [`Detector::wants_event`], with the record's raw bytes for text-gated Sigma rules:
    /// the scan loop's fast path, deciding from a skim whether to parse the record.
    pub fn wants_skimmed(
        &self,
        source: &str,
        name: &str,
        identity_type: Option<&str>,
        bytes: &[u8],
    ) -> bool {
        let mut text = RecordText::new(bytes);
        let mut passes = |slot: usize| self.slot_may_match(slot, identity_type, &mut text);
        self.every_record.iter().any(|&slot| passes(slot))
            || self
                .index
                .get(source)
                .is_some_and(|entry| entry.any_slot(name, &mut passes))
            || self.any_source.any_slot(name, &mut passes)
            || identity_type.is_some_and(|kind| self.by_identity_type.contains_key(kind))
            || self.sigma_identity_slots(identity_type).any(&mut passes)
            || self.sigma_by_text.iter().any(|(finder, slot)| {
                text.may_contain(finder) && self.slot_may_match(*slot, identity_type, &mut text)
            })
    }

    /// False when a Sigma rule surely cannot match the record: its caller type is one the rule
    /// rules out, or a text it requires is absent.
    fn slot_may_match(
        &self,
        slot: usize,
        identity_type: Option<&str>,
        text: &mut RecordText<'_>,
    ) -> bool {
        let Some(i) = slot.checked_sub(self.rules.len()) else {
            return true;
        };
        if let Some(kind) = identity_type
            && self.sigma_excludes[i]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(kind))
        {
            return false;
        }
        match &self.sigma_requires[i] {
            None => true,
            Some(finders) => finders.iter().any(|f| text.may_contain(f)),
        }
    }

    fn wants_by_event_or_caller(&self, source: &str, name: &str, kind: Option<&str>) -> bool {
        self.wants_by_event(source, name)
            || kind.is_some_and(|kind| self.by_identity_type.contains_key(kind))
            || self.sigma_identity_slots(kind).next().is_some()
    }

    /// True when some rule may want this event whatever the caller and text (a Sigma rule
    /// gated by text counts as wanting every event).
    pub fn wants(&self, source: &str, name: &str) -> bool {
        self.wants_by_event(source, name) || !self.sigma_by_text.is_empty()
    }

    fn wants_by_event(&self, source: &str, name: &str) -> bool {
        !self.every_record.is_empty()
            || self
                .index
                .get(source)
                .is_some_and(|entry| entry.wants(name))
            || (!self.any_source.is_empty() && self.any_source.wants(name))
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

/// A rule that could not judge a record, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule_id}: {error}")]
pub struct RuleFailure {
    /// The rule that gave up.
    pub rule_id: &'static str,
    /// What it could not read.
    #[source]
    pub error: Unevaluable,
}

/// A record that was not fully evaluated: counted in [`ScanStats::skipped_records`] and
/// reported to the [`ScanSink`] so adapters can log it with its event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    /// Position of the element in the log's `Records` array.
    pub record_index: u64,
    /// `eventID`, when the record could be read that far.
    pub event_id: Option<String>,
    /// `eventName`, when the record could be read that far.
    pub event_name: Option<String>,
    /// Why it was skipped, in words.
    pub reason: String,
}

/// Where [`scan_log_to`] sends what it finds.
pub trait ScanSink {
    /// An alert, as soon as its record is read.
    fn alert(&mut self, alert: Alert);
    /// A record that was not fully evaluated (also counted in [`ScanStats`]).
    fn skipped(&mut self, skipped: SkippedRecord);
    /// An alert an exception suppressed (also counted in [`ScanStats::suppressed`]).
    fn suppressed(&mut self, _suppression: Suppression) {}
}

impl<S: ScanSink + ?Sized> ScanSink for &mut S {
    fn alert(&mut self, alert: Alert) {
        (**self).alert(alert)
    }
    fn skipped(&mut self, skipped: SkippedRecord) {
        (**self).skipped(skipped)
    }
    fn suppressed(&mut self, suppression: Suppression) {
        (**self).suppressed(suppression)
    }
}

/// A sink that takes alerts and leaves skipped records to the counters.
struct AlertsOnly<F>(F);

impl<F: FnMut(Alert)> ScanSink for AlertsOnly<F> {
    fn alert(&mut self, alert: Alert) {
        (self.0)(alert)
    }
    fn skipped(&mut self, _skipped: SkippedRecord) {}
}

/// What scanning one log object found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    pub kind: LogKind,
    /// Records read and fully evaluated (including those no rule wanted).
    pub records: u64,
    /// Elements of `Records` that were not fully evaluated: not an object, unparsable, too
    /// big, or a record some interested rule could not judge.
    pub skipped_records: u64,
    pub alerts: u64,
    /// Pending threshold alerts (counts towards a threshold, see `detector::threshold`).
    pub pending: u64,
    /// Alerts an exception suppressed.
    pub suppressed: u64,
    pub decompressed_bytes: u64,
}

impl Default for ScanStats {
    fn default() -> Self {
        ScanStats {
            kind: LogKind::Records,
            records: 0,
            skipped_records: 0,
            alerts: 0,
            pending: 0,
            suppressed: 0,
            decompressed_bytes: 0,
        }
    }
}

/// A log object that could not be read to the end; `stats` covers what was read before.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ScanError {
    #[source]
    pub error: ReadError,
    pub stats: ScanStats,
}

/// Reads one log object and runs the detector over every record, calling `on_alert` for each
/// alert as soon as its record is read; skipped records are only counted in the stats.
/// `location` names the object in alerts and errors.
pub fn scan_log<R: Read>(
    input: R,
    location: &str,
    detector: &Detector,
    reader_config: ReaderConfig,
    on_alert: impl FnMut(Alert),
) -> Result<ScanStats, ScanError> {
    scan_log_to(
        input,
        location,
        detector,
        reader_config,
        AlertsOnly(on_alert),
    )
}

/// Like [`scan_log`], but also reports each record that was not fully evaluated to `sink`,
/// so adapters can log it with its event id.
pub fn scan_log_to<R: Read>(
    input: R,
    location: &str,
    detector: &Detector,
    reader_config: ReaderConfig,
    sink: impl ScanSink,
) -> Result<ScanStats, ScanError> {
    scan_reader_to(
        LogReader::open(input, reader_config),
        location,
        detector,
        sink,
    )
}

/// Like [`scan_log_to`], over a reader already opened (or the error opening it gave), such as
/// one whose gzip is inflated on another thread (`reader::pipeline`).
pub fn scan_reader_to<R: Read>(
    opened: Result<LogReader<R>, ReadError>,
    location: &str,
    detector: &Detector,
    mut sink: impl ScanSink,
) -> Result<ScanStats, ScanError> {
    let mut stats = ScanStats::default();
    let mut reader = match opened {
        Ok(reader) => reader,
        Err(error) => return Err(ScanError { error, stats }),
    };
    stats.kind = reader.kind();
    let mut alerts = Vec::new();
    let mut suppressed = Vec::new();
    let mut log = LogObject {
        location: location.to_owned(),
        record_index: 0,
    };
    // Elements the reader passed over are the gaps between the indexes it hands out.
    let mut next_index = 0;
    let outcome = loop {
        let raw = match reader.next_record() {
            Ok(Some(raw)) => raw,
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        };
        report_unread_elements(next_index..raw.index, &mut sink);
        next_index = raw.index + 1;
        // Most records interest no rule: decide that from a skim, without the full parse.
        if let Skim::Known {
            source,
            name,
            identity_type,
        } = raw.skim()
            && !detector.wants_skimmed(source, name, identity_type, raw.bytes)
        {
            stats.records += 1;
            continue;
        }
        match Record::from_slice(raw.bytes) {
            Ok(record) => {
                log.record_index = raw.index;
                let verdict = detector.evaluate_tuned(&record, &log, &mut alerts, &mut suppressed);
                for alert in alerts.drain(..) {
                    if alert.is_pending() {
                        stats.pending += 1;
                    } else {
                        stats.alerts += 1;
                    }
                    sink.alert(alert);
                }
                for suppression in suppressed.drain(..) {
                    stats.suppressed += 1;
                    sink.suppressed(suppression);
                }
                if let Err(failure) = verdict {
                    // Read, but not fully evaluated: counted once, as skipped.
                    stats.skipped_records += 1;
                    sink.skipped(SkippedRecord {
                        record_index: raw.index,
                        event_id: record.event_id.as_deref().map(str::to_owned),
                        event_name: record.event_name.as_deref().map(str::to_owned),
                        reason: failure.to_string(),
                    });
                } else {
                    stats.records += 1;
                }
            }
            Err(error) => {
                stats.skipped_records += 1;
                sink.skipped(SkippedRecord {
                    record_index: raw.index,
                    event_id: None,
                    event_name: None,
                    reason: format!("not a readable CloudTrail record: {error}"),
                });
            }
        }
    };
    let reader_stats = reader.stats();
    if outcome.is_ok() {
        report_unread_elements(next_index..reader_stats.elements, &mut sink);
    }
    stats.skipped_records += reader_stats.skipped_elements;
    stats.decompressed_bytes = reader_stats.decompressed_bytes;
    match outcome {
        Ok(()) => Ok(stats),
        Err(error) => Err(ScanError { error, stats }),
    }
}

fn report_unread_elements(indexes: std::ops::Range<u64>, sink: &mut impl ScanSink) {
    for record_index in indexes {
        sink.skipped(SkippedRecord {
            record_index,
            event_id: None,
            event_name: None,
            reason: "element of Records is not an object or exceeds the record size limit"
                .to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lists_are_validated() {
        assert_eq!(
            parse_accounts("111122223333, 444455556666").unwrap().len(),
            2
        );
        assert_eq!(
            parse_accounts("1111"),
            Err(ConfigError::InvalidAccountId("1111".into()))
        );
        assert!(parse_rule_ids("s3-bucket-config-modified").is_ok());
        let err = parse_rule_ids("nope").unwrap_err();
        assert!(err.to_string().contains("s3-bucket-config-modified"));
    }

    #[test]
    fn organizations_and_ou_paths_are_validated() {
        let orgs =
            parse_organizations("o-a1b2c3d4e5, o-f6g7h8i9j0/r-ab12/ou-ab12-11111111/").unwrap();
        assert!(orgs.contains("o-f6g7h8i9j0/r-ab12/ou-ab12-11111111"));
        for bad in [
            "o-short",
            "a1b2c3d4e5",
            "o-a1b2c3d4e5/ou-ab12-1111",
            "o-A1B2C3D4E5",
            "o-a1b2c3d4e5/r-ab12/x",
        ] {
            assert_eq!(
                parse_organizations(bad),
                Err(ConfigError::InvalidOrganization(bad.into())),
                "{bad}"
            );
        }
        let config = DetectorConfig {
            trusted_organizations: ["nope".to_string()].into(),
            ..DetectorConfig::default()
        };
        assert!(matches!(
            Detector::new(&config),
            Err(ConfigError::InvalidOrganization(_))
        ));
    }

    #[test]
    fn min_severity_filters_alerts_and_disabled_rules_filter_the_catalogue() {
        let all = Detector::new(&DetectorConfig::default()).unwrap();
        assert_eq!(all.rules().count(), CATALOGUE.len());
        // s3-bucket-config-modified raises info alerts: gone at medium, its rule still listed.
        let log = br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl",
            "requestParameters":{"bucketName":"b"}}]}"#;
        for (min, expected) in [(Severity::Info, 1), (Severity::Medium, 0)] {
            let d = Detector::new(&DetectorConfig {
                min_severity: min,
                ..DetectorConfig::default()
            })
            .unwrap();
            let mut alerts = Vec::new();
            scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
                alerts.push(a)
            })
            .unwrap();
            let config_alerts = alerts
                .iter()
                .filter(|a| a.rule_id == "s3-bucket-config-modified")
                .count();
            assert_eq!(config_alerts, expected, "{min:?}");
            assert!(alerts.iter().all(|a| a.severity >= min));
        }
        let disabled = Detector::new(&DetectorConfig {
            disabled_rules: ["s3-bucket-config-modified".to_string()].into(),
            ..DetectorConfig::default()
        })
        .unwrap();
        assert_eq!(disabled.rules().count(), CATALOGUE.len() - 1);
        assert!(
            Detector::new(&DetectorConfig {
                disabled_rules: ["bogus".to_string()].into(),
                ..DetectorConfig::default()
            })
            .is_err()
        );
    }

    #[test]
    fn the_index_routes_only_wanted_events() {
        let d = Detector::new(&DetectorConfig::default()).unwrap();
        assert!(d.wants("s3.amazonaws.com", "PutBucketPolicy"));
        assert!(d.wants("lambda.amazonaws.com", "AddPermission20150331v2"));
        assert!(!d.wants("sts.amazonaws.com", "AssumeRole"));
        assert!(!d.wants("s3.amazonaws.com", "GetObject"));
        assert!(!d.wants("ec2.amazonaws.com", "PutBucketPolicy"));
    }

    #[test]
    fn rules_keyed_on_the_caller_type_see_any_event_of_that_caller_only() {
        let d = Detector::new(&DetectorConfig::default()).unwrap();
        let root =
            br#"{"eventSource":"tag.amazonaws.com","eventName":"TagResources","readOnly":false,
            "userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"}}"#;
        let user =
            br#"{"eventSource":"tag.amazonaws.com","eventName":"TagResources","readOnly":false,
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}}"#;
        let root = Record::from_slice(root).unwrap();
        let user = Record::from_slice(user).unwrap();
        assert!(d.wants_record(&root));
        assert!(!d.wants_record(&user));
        assert!(!d.wants("tag.amazonaws.com", "TagResources"));
        let mut alerts = Vec::new();
        d.evaluate(&root, &LogObject::default(), &mut alerts)
            .unwrap();
        let ids: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
        assert_eq!(ids, ["root-user-activity"]);
        alerts.clear();
        d.evaluate(&user, &LogObject::default(), &mut alerts)
            .unwrap();
        assert!(alerts.is_empty());
        // A rule wanted both by event and by caller type runs once.
        let root_login = br#"{"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",
            "responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},
            "userIdentity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"}}"#;
        let root_login = Record::from_slice(root_login).unwrap();
        d.evaluate(&root_login, &LogObject::default(), &mut alerts)
            .unwrap();
        let mut ids: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["console-login-without-mfa", "root-user-activity"]);
    }

    #[test]
    fn scan_counts_unparsable_records_and_keeps_going() {
        let log = br#"{"Records":[
            {"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","recipientAccountId":"111122223333",
             "requestParameters":{"bucketName":"b"}},
            {"eventName": "\xff\xfe"},
            7,
            {"eventSource":"s3.amazonaws.com","eventName":"DeleteBucketCors","requestParameters":{"bucketName":"c"}}
        ]}"#;
        let d = Detector::new(&DetectorConfig::default()).unwrap();
        let mut alerts = Vec::new();
        let stats = scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
            alerts.push(a)
        })
        .unwrap();
        assert_eq!(stats.records, 2);
        assert_eq!(stats.skipped_records, 2);
        assert_eq!(stats.alerts, 2);
        assert_eq!(alerts[1].log_object.record_index, 3);
        assert_eq!(alerts[0].log_object.location, "mem");
    }

    #[test]
    fn records_a_rule_cannot_judge_are_counted_and_reported_with_their_event_id() {
        #[derive(Default)]
        struct Collect {
            alerts: Vec<Alert>,
            skipped: Vec<SkippedRecord>,
        }
        impl ScanSink for Collect {
            fn alert(&mut self, alert: Alert) {
                self.alerts.push(alert);
            }
            fn skipped(&mut self, skipped: SkippedRecord) {
                self.skipped.push(skipped);
            }
        }
        // A policy nested past serde's recursion limit, a duplicate key, a non-object element
        // and a good share: only the last is judged, and each other one is reported.
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let log = format!(
            r#"{{"Records":[
            {{"eventID":"deep","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",
              "recipientAccountId":"111122223333","requestParameters":{{"bucketName":"b","bucketPolicy":{deep}}}}},
            {{"eventID":"dup","eventName":"PutBucketPolicy","eventName":"GetObject"}},
            "text",
            {{"eventID":"ok","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",
              "recipientAccountId":"111122223333","requestParameters":{{"bucketName":"b",
              "bucketPolicy":{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}}}}}}}
        ]}}"#
        );
        let d = Detector::new(&DetectorConfig::default()).unwrap();
        let mut out = Collect::default();
        let stats =
            scan_log_to(log.as_bytes(), "mem", &d, ReaderConfig::default(), &mut out).unwrap();
        assert_eq!(stats.skipped_records, 3);
        let skipped: Vec<(u64, Option<&str>)> = out
            .skipped
            .iter()
            .map(|s| (s.record_index, s.event_id.as_deref()))
            .collect();
        assert_eq!(skipped, vec![(0, Some("deep")), (1, None), (2, None)]);
        assert!(
            out.skipped[0].reason.contains("recursion limit"),
            "{:?}",
            out.skipped[0]
        );
        // Rules that could read the deep record still judge it; the policy rules could not.
        let fired: Vec<(&str, &str)> = out
            .alerts
            .iter()
            .map(|a| (a.event_id.as_deref().unwrap_or(""), a.rule_id.as_str()))
            .collect();
        assert!(
            fired.contains(&("ok", "s3-bucket-policy-shared-externally")),
            "{fired:?}"
        );
        assert!(
            !fired.contains(&("deep", "s3-bucket-policy-shared-externally")),
            "{fired:?}"
        );
    }

    #[test]
    fn failed_calls_reach_only_rules_that_evaluate_them() {
        let log = br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl",
            "errorCode":"AccessDenied","requestParameters":{"bucketName":"b"}}]}"#;
        let d = Detector::new(&DetectorConfig::default()).unwrap();
        let mut alerts = Vec::new();
        let stats = scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
            alerts.push(a)
        })
        .unwrap();
        assert_eq!(
            (stats.records, stats.alerts, stats.skipped_records),
            (1, 0, 0)
        );
    }

    #[test]
    fn threshold_counts_arrive_pending_and_are_counted_apart() {
        let log = br#"{"Records":[{"eventSource":"ec2.amazonaws.com","eventName":"GetPasswordData",
            "eventTime":"2024-07-30T21:31:21Z","recipientAccountId":"457448411975",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::457448411975:user/a"},
            "requestParameters":{"instanceId":"i-1"}},
            {"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","requestParameters":{"bucketName":"b"}}]}"#;
        let d = Detector::new(&DetectorConfig::default()).unwrap();
        let mut alerts = Vec::new();
        let stats = scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
            alerts.push(a)
        })
        .unwrap();
        assert_eq!((stats.alerts, stats.pending), (1, 1));
        assert!(alerts[0].is_pending() && !alerts[1].is_pending());
    }

    #[test]
    fn alerts_before_a_corrupt_tail_are_delivered() {
        let log = br#"{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl"},{"eventSource":"#;
        let d = Detector::new(&DetectorConfig::default()).unwrap();
        let mut alerts = Vec::new();
        let err = scan_log(&log[..], "mem", &d, ReaderConfig::default(), |a| {
            alerts.push(a)
        })
        .unwrap_err();
        assert!(matches!(err.error, ReadError::Corrupt(_)));
        assert_eq!(err.stats.records, 1);
        assert_eq!(alerts.len(), 1);
    }
}
