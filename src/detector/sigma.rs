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

use crate::detector::alert::{Alert, AttackRef, LogObject};
use crate::detector::record::Record;
use crate::detector::rule::{Finding, Severity, Unevaluable};
use crate::detector::rules::common::actor_name;
use crate::detector::sigma_correlation::{self, SigmaCorrelation};
use rsigma_eval::event::{Event, EventValue, JsonEvent};
use rsigma_eval::{CompiledRule, compile_rule, evaluate_rule};
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Level, Modifier, Quantifier, SelectorPattern,
    SigmaRule as ParsedRule, SigmaValue, SpecialChar, StringPart, detection_name_matches,
    parse_sigma_yaml,
};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
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
    pub source: Option<String>,
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
    /// This text (lower-case ASCII) in the record's bytes, ignoring case (see [`may_contain`]).
    Text(String),
}

/// A loaded Sigma rule.
#[derive(Debug, Clone)]
pub struct SigmaRule {
    /// `sigma-<id>`.
    pub rule_id: String,
    /// The Sigma rule's own `id`.
    pub sigma_id: String,
    pub title: String,
    pub description: String,
    /// From `level` (`informational` is `info`).
    pub severity: Severity,
    pub risk_score: u8,
    pub mitre_attack: Vec<AttackRef>,
    pub references: Vec<String>,
    pub false_positives: Vec<String>,
    pub tags: Vec<String>,
    pub status: Option<String>,
    /// Where it was loaded from (a file name).
    pub origin: String,
    pub dedup_period_minutes: u32,
    /// The records it can match (any one gate passes); `None` when its detection implies no
    /// gate, so it is asked about every record.
    pub route: Option<Vec<Gate>>,
    /// Texts one of which a record must hold for the rule to match (from the same conjunction
    /// as its gates, lower-case ASCII); checked on the raw bytes before a record is parsed.
    pub requires_text: Option<Vec<String>>,
    /// Caller types (`userIdentity.type`) the rule's condition excludes (`selection and not
    /// filter` where the filter is only a caller type); records of them are not parsed for it.
    pub excludes_caller_types: Vec<String>,
    /// The rule's `name`, by which correlations may reference it.
    pub name: Option<String>,
    /// False when correlations reference it and none asks for its own alerts (`generate`).
    pub alerts_alone: bool,
    /// The correlations that count its matches, with the reference each uses for it.
    pub counted_by: Vec<(Arc<SigmaCorrelation>, String)>,
    compiled: CompiledRule,
    /// The source text, to compare configurations.
    text: Arc<str>,
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
        let texts: Vec<String> = gates
            .iter()
            .filter_map(|g| match g {
                Gate::Text(t) => Some(format!("{t:?}")),
                _ => None,
            })
            .collect();
        if !texts.is_empty() {
            kinds.push(format!(
                "records whose text holds {} (a byte search on every record)",
                texts.join(" or ")
            ));
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
            && !texts.iter().any(|t| may_contain(bytes, t.as_bytes()))
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
            Gate::Text(text) => may_contain(bytes, text.as_bytes()),
        })
    }

    /// Whether the rule matches a record, given as its JSON value.
    pub fn matches(&self, record: &Value) -> bool {
        evaluate_rule(&self.compiled, &JsonEvent::borrow(record)).is_some()
    }

    /// Whether the rule matches a record the engine already parsed.
    pub fn matches_record(&self, event: &RecordEvent<'_, '_>) -> bool {
        evaluate_rule(&self.compiled, event).is_some()
    }

    /// The alerts for a record this rule matched: its own (unless only correlations use it)
    /// and one pending alert per correlation counting it. Every correlation is tried; the
    /// first that could not count the record is returned as the error.
    pub fn alerts(
        &self,
        record: &Record<'_>,
        event: &RecordEvent<'_, '_>,
        log: &LogObject,
        out: &mut Vec<Alert>,
    ) -> Result<(), Unevaluable> {
        if self.alerts_alone {
            out.push(self.alert(record, log.clone()));
        }
        let mut first_error = None;
        for (correlation, rule_ref) in &self.counted_by {
            match correlation.pending_alert(rule_ref, record, event, log.clone()) {
                Ok(Some(alert)) => out.push(alert),
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The rule's own alert for a record it matched.
    pub fn alert(&self, record: &Record<'_>, log: LogObject) -> Alert {
        let actor = record
            .user_identity
            .as_ref()
            .and_then(|u| u.arn.as_deref())
            .unwrap_or("-")
            .to_owned();
        let finding = Finding::new(
            format!(
                "{} called {} ({}): matches Sigma rule \"{}\"",
                actor_name(record),
                record.name(),
                record.source(),
                self.title
            ),
            json!({
                "sigma_id": self.sigma_id,
                "sigma_status": self.status,
                "sigma_tags": self.tags,
                "sigma_origin": self.origin,
                "description": self.description,
            }),
            vec![record.source().to_owned(), record.name().to_owned(), actor],
        );
        let mut alert = Alert::for_rule(
            &self.rule_id,
            &self.title,
            self.severity,
            finding,
            record,
            log,
        );
        alert.risk_score = self.risk_score;
        alert.mitre_attack = self.mitre_attack.clone();
        alert.references = self.references.clone();
        alert.false_positives = self.false_positives.clone();
        alert.triage = vec![
            "Read the Sigma rule's description and false positives; confirm the caller and the change with its owner.".to_owned(),
        ];
        alert.dedup_period_minutes = self.dedup_period_minutes;
        alert
    }
}

/// A record as a Sigma event. The string fields the typed [`Record`] already holds are served
/// from it; anything else (and any of those fields when absent or not a string, where Sigma's
/// null and type semantics need the real JSON) is read from the record's JSON value, parsed
/// at most once. Rules that run on every record thus cost no JSON tree in the common case.
pub struct RecordEvent<'r, 'a> {
    record: &'r Record<'a>,
    json: OnceCell<JsonEvent<'static>>,
}

impl<'r, 'a> RecordEvent<'r, 'a> {
    /// Wraps a parsed record.
    pub fn new(record: &'r Record<'a>) -> Self {
        RecordEvent {
            record,
            json: OnceCell::new(),
        }
    }

    /// The record as a JSON event (parsed on first use).
    fn json(&self) -> &JsonEvent<'static> {
        self.json
            .get_or_init(|| JsonEvent::owned(self.record.to_value()))
    }

    fn typed(&self, path: &str) -> Option<&str> {
        let r = self.record;
        let identity = r.user_identity.as_ref();
        let issuer = || {
            identity
                .and_then(|u| u.session_context.as_ref())
                .and_then(|c| c.session_issuer.as_ref())
        };
        let field = match path {
            "eventSource" => &r.event_source,
            "eventName" => &r.event_name,
            "eventTime" => &r.event_time,
            "eventVersion" => &r.event_version,
            "awsRegion" => &r.aws_region,
            "sourceIPAddress" => &r.source_ip_address,
            "userAgent" => &r.user_agent,
            "recipientAccountId" => &r.recipient_account_id,
            "errorCode" => &r.error_code,
            "errorMessage" => &r.error_message,
            "eventID" => &r.event_id,
            "eventType" => &r.event_type,
            "userIdentity.type" => &identity?.identity_type,
            "userIdentity.arn" => &identity?.arn,
            "userIdentity.accountId" => &identity?.account_id,
            "userIdentity.principalId" => &identity?.principal_id,
            "userIdentity.userName" => &identity?.user_name,
            "userIdentity.accessKeyId" => &identity?.access_key_id,
            "userIdentity.invokedBy" => &identity?.invoked_by,
            "userIdentity.sessionContext.sessionIssuer.arn" => &issuer()?.arn,
            "userIdentity.sessionContext.sessionIssuer.type" => &issuer()?.issuer_type,
            _ => return None,
        };
        field.as_deref()
    }
}

impl Event for RecordEvent<'_, '_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        match self.typed(path) {
            Some(s) => Some(EventValue::Str(Cow::Borrowed(s))),
            None => self.json().get_field(path),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.json().any_string_value(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.json().all_string_values()
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.json().visit_string_values(visit)
    }

    fn to_json(&self) -> Value {
        self.json().to_json()
    }
}

/// The loaded Sigma rules, shared cheaply between configurations.
#[derive(Debug, Clone, Default)]
pub struct SigmaRules(Arc<Vec<SigmaRule>>, Arc<Vec<Arc<SigmaCorrelation>>>);

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

/// A rule (or document) that did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The file it came from.
    pub origin: String,
    /// The rule's title, when it got that far.
    pub title: Option<String>,
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
    pub rules: SigmaRules,
    pub refused: Vec<Refusal>,
}

/// Parses and compiles Sigma rules from `(origin, yaml text)` pairs. Rule ids must be unique
/// (and unique against `taken`, the built-in catalogue's ids).
pub fn load(
    sources: &[(String, String)],
    dedup_period_minutes: u32,
    taken: impl Fn(&str) -> bool,
) -> Loaded {
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

/// The gates a rule's conditions imply, or `None` when they imply none (every record).
/// Over-approximates: every record the rule matches passes one of the gates.
fn condition_route(rule: &ParsedRule) -> Option<Vec<Gate>> {
    let mut all = Vec::new();
    for condition in &rule.detection.conditions {
        all.extend(expr_route(condition, rule)?);
    }
    (!all.is_empty()).then_some(all)
}

/// How cheap a route is to apply, lower first: event pairs (the index), then caller types
/// (known from the skim), then text (a byte search); fewer gates first within a kind.
fn route_cost(gates: &[Gate]) -> (u8, usize) {
    let kind = gates
        .iter()
        .map(|g| match g {
            Gate::Event(_) => 0,
            Gate::IdentityType(_) => 1,
            Gate::Text(_) => 2,
        })
        .max()
        .unwrap_or(0);
    (kind, gates.len())
}

fn expr_route(expr: &ConditionExpr, rule: &ParsedRule) -> Option<Vec<Gate>> {
    match expr {
        ConditionExpr::Identifier(name) => detection_route(rule.detection.named.get(name)?),
        // Any constrained operand bounds the conjunction: take the cheapest.
        ConditionExpr::And(parts) => parts
            .iter()
            .filter_map(|p| expr_route(p, rule))
            .min_by_key(|g| route_cost(g)),
        ConditionExpr::Or(parts) => union(parts.iter().map(|p| expr_route(p, rule))),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let named = rule
                .detection
                .named
                .iter()
                .filter(|(name, _)| match pattern {
                    SelectorPattern::Them => !name.starts_with('_'),
                    SelectorPattern::Pattern(p) => detection_name_matches(p, name),
                });
            match quantifier {
                Quantifier::All => named
                    .filter_map(|(_, d)| detection_route(d))
                    .min_by_key(|g| route_cost(g)),
                Quantifier::Any | Quantifier::Count(1..) => {
                    union(named.map(|(_, d)| detection_route(d)))
                }
                Quantifier::Count(0) => None,
            }
        }
    }
}

fn union(parts: impl Iterator<Item = Option<Vec<Gate>>>) -> Option<Vec<Gate>> {
    let mut all = Vec::new();
    for part in parts {
        all.extend(part?);
    }
    (!all.is_empty()).then_some(all)
}

fn detection_route(detection: &Detection) -> Option<Vec<Gate>> {
    match detection {
        Detection::AllOf(items) => event_gates(items)
            .or_else(|| identity_gates(items))
            .or_else(|| text_gates(items)),
        Detection::AnyOf(parts) => union(parts.iter().map(detection_route)),
        _ => None,
    }
}

/// Caller types a single condition `... and not <filter>` rules out, where the filter is one
/// `userIdentity.type` item of exact values (SigmaHQ f305fd62, bucket enumeration, filters out
/// `AssumedRole`). Anything else excludes nothing.
fn excluded_caller_types(rule: &ParsedRule) -> Vec<String> {
    let [ConditionExpr::And(parts)] = rule.detection.conditions.as_slice() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in parts {
        let ConditionExpr::Not(inner) = part else {
            continue;
        };
        let ConditionExpr::Identifier(name) = inner.as_ref() else {
            continue;
        };
        if let Some(Detection::AllOf(items)) = rule.detection.named.get(name)
            && items.len() == 1
            && let Some(values) = field_values(items, "userIdentity.type")
        {
            out.extend(values.into_iter().filter_map(|v| match v {
                NameSelector::Exact(kind) => Some(kind),
                NameSelector::Prefix(_) => None,
            }));
        }
    }
    out
}

/// Texts every match of the rule holds one of (see [`SigmaRule::requires_text`]), or `None`.
fn condition_texts(rule: &ParsedRule) -> Option<Vec<String>> {
    let mut all = Vec::new();
    for condition in &rule.detection.conditions {
        all.extend(expr_texts(condition, rule)?);
    }
    (!all.is_empty()).then_some(all)
}

fn expr_texts(expr: &ConditionExpr, rule: &ParsedRule) -> Option<Vec<String>> {
    let best = |options: Vec<Vec<String>>| {
        options
            .into_iter()
            .max_by_key(|t| t.iter().map(String::len).min().unwrap_or(0))
    };
    let union = |parts: Vec<Option<Vec<String>>>| {
        let mut all = Vec::new();
        for part in parts {
            all.extend(part?);
        }
        (!all.is_empty()).then_some(all)
    };
    match expr {
        ConditionExpr::Identifier(name) => detection_texts(rule.detection.named.get(name)?),
        ConditionExpr::And(parts) => {
            best(parts.iter().filter_map(|p| expr_texts(p, rule)).collect())
        }
        ConditionExpr::Or(parts) => union(parts.iter().map(|p| expr_texts(p, rule)).collect()),
        ConditionExpr::Not(_) => None,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let named: Vec<&Detection> = rule
                .detection
                .named
                .iter()
                .filter(|(name, _)| match pattern {
                    SelectorPattern::Them => !name.starts_with('_'),
                    SelectorPattern::Pattern(p) => detection_name_matches(p, name),
                })
                .map(|(_, d)| d)
                .collect();
            match quantifier {
                Quantifier::All => best(named.into_iter().filter_map(detection_texts).collect()),
                Quantifier::Any | Quantifier::Count(1..) => {
                    union(named.into_iter().map(detection_texts).collect())
                }
                Quantifier::Count(0) => None,
            }
        }
    }
}

/// Texts one selection requires, leaving out `eventSource`/`eventName` (the index has them).
fn detection_texts(detection: &Detection) -> Option<Vec<String>> {
    match detection {
        Detection::AllOf(items) => {
            let rest: Vec<DetectionItem> = items
                .iter()
                .filter(|i| !matches!(i.field.name.as_deref(), Some("eventSource" | "eventName")))
                .cloned()
                .collect();
            text_gates(&rest).map(|gates| {
                gates
                    .into_iter()
                    .filter_map(|g| match g {
                        Gate::Text(t) => Some(t),
                        _ => None,
                    })
                    .collect()
            })
        }
        Detection::AnyOf(parts) => {
            let mut all = Vec::new();
            for part in parts {
                all.extend(detection_texts(part)?);
            }
            (!all.is_empty()).then_some(all)
        }
        _ => None,
    }
}

/// `eventSource`/`eventName` pins of one selection, as event gates.
fn event_gates(items: &[DetectionItem]) -> Option<Vec<Gate>> {
    let sources = field_values(items, "eventSource").and_then(|names| {
        names
            .into_iter()
            .map(|n| match n {
                NameSelector::Exact(s) => Some(s),
                NameSelector::Prefix(_) => None,
            })
            .collect::<Option<Vec<String>>>()
    });
    let names = field_values(items, "eventName");
    let selectors: Vec<SigmaSelector> = match (sources, names) {
        (None, None) => return None,
        (Some(sources), None) => sources
            .into_iter()
            .map(|s| SigmaSelector {
                source: Some(s),
                name: None,
            })
            .collect(),
        (sources, Some(names)) => {
            let sources: Vec<Option<String>> = match sources {
                Some(s) => s.into_iter().map(Some).collect(),
                None => vec![None],
            };
            sources
                .iter()
                .flat_map(|s| {
                    names.iter().map(move |n| SigmaSelector {
                        source: s.clone(),
                        name: Some(n.clone()),
                    })
                })
                .collect()
        }
    };
    Some(selectors.into_iter().map(Gate::Event).collect())
}

/// A `userIdentity.type` pin of one selection (exact values only), as caller-type gates.
fn identity_gates(items: &[DetectionItem]) -> Option<Vec<Gate>> {
    field_values(items, "userIdentity.type")?
        .into_iter()
        .map(|v| match v {
            NameSelector::Exact(kind) => Some(Gate::IdentityType(kind)),
            NameSelector::Prefix(_) => None,
        })
        .collect()
}

/// Shortest text worth a byte search: shorter ones pass most records anyway.
const MIN_TEXT_GATE: usize = 4;

/// Text one required item of a selection must find in the record (its longest literal run
/// per value), as text gates; the item with the longest shortest run wins.
fn text_gates(items: &[DetectionItem]) -> Option<Vec<Gate>> {
    items
        .iter()
        .filter_map(item_texts)
        .max_by_key(|texts| texts.iter().map(String::len).min().unwrap_or(0))
        .map(|texts| texts.into_iter().map(Gate::Text).collect())
}

/// The literal runs of one item's values, when each value's match implies its run appears in
/// the field's decoded string: plain, `contains`, `startswith`, `endswith` (optionally `cased`,
/// `all`) on strings that are not numbers. With `all` every value is required, so the longest
/// one alone gates.
fn item_texts(item: &DetectionItem) -> Option<Vec<String>> {
    let modifiers = &item.field.modifiers;
    if modifiers.contains(&Modifier::Re) {
        let flags_only = modifiers.iter().all(|m| {
            matches!(
                m,
                Modifier::Re | Modifier::IgnoreCase | Modifier::Multiline | Modifier::DotAll
            )
        });
        return flags_only
            .then(|| {
                item.values
                    .iter()
                    .map(|v| match v {
                        SigmaValue::String(s) => regex_literal(&s.original),
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()
            })
            .flatten()
            .filter(|t| !t.is_empty());
    }
    let mut all = false;
    for modifier in modifiers {
        match modifier {
            Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith | Modifier::Cased => {}
            Modifier::All => all = true,
            _ => return None,
        }
    }
    let mut texts = item
        .values
        .iter()
        .map(|v| match v {
            SigmaValue::String(s) => s
                .parts
                .iter()
                .filter_map(|p| match p {
                    StringPart::Plain(p) => Some(p),
                    StringPart::Special(_) => None,
                })
                .max_by_key(|p| p.len())
                .filter(|p| p.len() >= MIN_TEXT_GATE && p.is_ascii() && p.parse::<f64>().is_err())
                .map(|p| p.to_ascii_lowercase()),
            _ => None,
        })
        .collect::<Option<Vec<String>>>()
        .filter(|t| !t.is_empty())?;
    if all {
        texts.sort_by_key(String::len);
        texts.drain(..texts.len() - 1);
    }
    Some(texts)
}

/// The longest literal run every match of a regular expression contains (lower-cased), for a
/// text gate; `None` for a pattern with alternation, groups or classes (not worth the risk)
/// or without a run of [`MIN_TEXT_GATE`] characters.
fn regex_literal(pattern: &str) -> Option<String> {
    if pattern.contains(['|', '(', '[']) {
        return None;
    }
    let (mut best, mut run) = (String::new(), String::new());
    let finish = |run: &mut String, best: &mut String| {
        if run.len() > best.len() {
            *best = std::mem::take(run);
        }
        run.clear();
    };
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() => run.push(e),
                // \d, \w, \b, \n...: not a literal character.
                _ => finish(&mut run, &mut best),
            },
            '.' | '^' | '$' => finish(&mut run, &mut best),
            // The character before is required once, then may repeat: the run ends with it.
            '+' => finish(&mut run, &mut best),
            // The character before may be absent: the run ends before it.
            '*' | '?' | '{' => {
                run.pop();
                finish(&mut run, &mut best);
                if c == '{' {
                    chars.by_ref().find(|&c| c == '}');
                }
            }
            _ => run.push(c),
        }
    }
    finish(&mut run, &mut best);
    (best.len() >= MIN_TEXT_GATE && best.is_ascii()).then(|| best.to_ascii_lowercase())
}

/// True when `bytes` (a raw JSON record) may hold `text` (lower-case ASCII) in a decoded string:
/// it holds it verbatim, ignoring ASCII case, or it has an escape or a non-ASCII byte (after
/// decoding or Unicode case folding the text could appear where the bytes do not show it).
pub fn may_contain(bytes: &[u8], text: &[u8]) -> bool {
    RecordText::new(bytes).may_contain(&TextFinder::new(&String::from_utf8_lossy(text)))
}

/// The record's bytes lower-cased with JSON's short escapes decoded (`\\"`, `\\\\`, `\\/`,
/// `\\n`...), so a text behind one is still found; `None` for a `\\u` escape, which could
/// spell any character.
fn unescape_lower(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend(rest[..at].iter().map(u8::to_ascii_lowercase));
        let decoded = match rest.get(at + 1)? {
            b'u' => return None,
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'b' => 0x08,
            b'f' => 0x0c,
            other => other.to_ascii_lowercase(),
        };
        out.push(decoded);
        rest = &rest[at + 2..];
    }
    out.extend(rest.iter().map(u8::to_ascii_lowercase));
    Some(out)
}

/// A compiled case-insensitive search for one text gate.
#[derive(Debug, Clone)]
pub struct TextFinder(memchr::memmem::Finder<'static>);

impl TextFinder {
    /// A search for `text` (lower-cased here).
    pub fn new(text: &str) -> Self {
        TextFinder(memchr::memmem::Finder::new(text.to_ascii_lowercase().as_bytes()).into_owned())
    }
}

/// One record's raw bytes as text gates see them: lower-cased at most once, and only when a
/// gate asks.
pub struct RecordText<'b> {
    raw: &'b [u8],
    /// `None` until asked; then the lower-cased bytes, or `None` inside when the record has an
    /// escape or a non-ASCII byte (every gate passes).
    lower: Option<Option<Vec<u8>>>,
}

impl<'b> RecordText<'b> {
    /// Wraps a record's bytes.
    pub fn new(raw: &'b [u8]) -> Self {
        RecordText { raw, lower: None }
    }

    /// Whether the record may hold the finder's text in a decoded string (see [`may_contain`]).
    pub fn may_contain(&mut self, finder: &TextFinder) -> bool {
        let raw = self.raw;
        let lower = self.lower.get_or_insert_with(|| {
            if !raw.is_ascii() {
                None
            } else if memchr::memchr(b'\\', raw).is_none() {
                Some(raw.to_ascii_lowercase())
            } else {
                unescape_lower(raw)
            }
        });
        match lower {
            None => true,
            Some(lower) => finder.0.find(lower).is_some(),
        }
    }
}

/// The values one field is pinned to by a plain or `startswith` item, if any.
fn field_values(items: &[DetectionItem], field: &str) -> Option<Vec<NameSelector>> {
    items.iter().find_map(|item| {
        if item.field.name.as_deref() != Some(field) {
            return None;
        }
        let prefix_only = match item.field.modifiers.as_slice() {
            [] | [Modifier::Cased] => false,
            [Modifier::StartsWith] => true,
            _ => return None,
        };
        item.values
            .iter()
            .map(|v| match v {
                SigmaValue::String(s) => match s.parts.as_slice() {
                    [StringPart::Plain(p)] if prefix_only => Some(NameSelector::Prefix(p.clone())),
                    [StringPart::Plain(p)] => Some(NameSelector::Exact(p.clone())),
                    [
                        StringPart::Plain(p),
                        StringPart::Special(SpecialChar::WildcardMulti),
                    ] => Some(NameSelector::Prefix(p.clone())),
                    _ => None,
                },
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Our own example rule (not from SigmaHQ): a trail stopped or deleted.
    pub(crate) const STOP_LOGGING: &str = r#"
title: CloudTrail logging stopped (trailwatch example)
id: 6f1e2d3c-0000-4a5b-8c9d-000000000001
status: experimental
description: A trail was stopped or deleted.
references:
  - https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html
author: trailwatch
date: 2026-11-23
tags:
  - attack.defense-evasion
  - attack.t1562.008
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventSource: cloudtrail.amazonaws.com
    eventName:
      - StopLogging
      - DeleteTrail
    errorCode: null
  condition: selection
falsepositives:
  - Planned trail migrations
level: high
"#;

    fn one(text: &str) -> Result<SigmaRule, String> {
        let loaded = load(&[("test.yml".into(), text.into())], 60, |_| false);
        match (loaded.rules.rules().first(), loaded.refused.first()) {
            (Some(rule), None) => Ok(rule.clone()),
            (_, Some(refusal)) => Err(refusal.reason.clone()),
            _ => Err("nothing".into()),
        }
    }

    #[test]
    fn a_rule_loads_with_its_metadata_and_index() {
        let rule = one(STOP_LOGGING).unwrap();
        assert_eq!(rule.rule_id, "sigma-6f1e2d3c-0000-4a5b-8c9d-000000000001");
        assert_eq!(rule.severity, Severity::High);
        assert_eq!(rule.mitre_attack[0].technique_id, "T1562.008");
        assert_eq!(rule.mitre_attack[0].tactic_id, "TA0005");
        assert_eq!(
            rule.route,
            Some(vec![
                Gate::Event(SigmaSelector {
                    source: Some("cloudtrail.amazonaws.com".into()),
                    name: Some(NameSelector::Exact("StopLogging".into()))
                }),
                Gate::Event(SigmaSelector {
                    source: Some("cloudtrail.amazonaws.com".into()),
                    name: Some(NameSelector::Exact("DeleteTrail".into()))
                }),
            ])
        );
    }

    #[test]
    fn null_matches_an_absent_field_and_true_matches_a_json_boolean() {
        let rule = one(STOP_LOGGING).unwrap();
        let ok = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging"});
        let failed = json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
            "errorCode": "AccessDenied"});
        assert!(rule.matches(&ok));
        assert!(!rule.matches(&failed));
        let public = one(&STOP_LOGGING.replace(
            "    errorCode: null",
            "    responseElements.publiclyAccessible: 'true'",
        ))
        .unwrap();
        let with = |v: Value| {
            json!({"eventSource": "cloudtrail.amazonaws.com",
            "eventName": "DeleteTrail", "responseElements": {"publiclyAccessible": v}})
        };
        assert!(public.matches(&with(json!(true))));
        assert!(public.matches(&with(json!("true"))));
        assert!(!public.matches(&with(json!(false))));
        assert!(!public.matches(&with(Value::Null)));
    }

    #[test]
    fn unsupported_rules_are_refused_with_a_reason() {
        let cases = [
            (
                STOP_LOGGING.replace("service: cloudtrail", "service: guardduty"),
                "only product aws",
            ),
            (
                STOP_LOGGING.replace("id: 6f1e2d3c-0000-4a5b-8c9d-000000000001\n", ""),
                "no `id`",
            ),
            (
                STOP_LOGGING.replace(
                    "  condition: selection",
                    "  timeframe: 5m\n  condition: selection",
                ),
                "timeframe",
            ),
            (
                STOP_LOGGING.replace(
                    "  condition: selection",
                    "  condition: selection and missing",
                ),
                "does not compile",
            ),
            ("title: [unclosed\n".to_owned(), "not a Sigma rule"),
            // SigmaHQ's unsupported/cloud/aws_macic_evasion.yml writes this.
            (
                STOP_LOGGING.replace(
                    "  condition: selection",
                    "  condition: selection | count() by sourceIPAddress > 5",
                ),
                "write it as a correlation rule",
            ),
        ];
        for (text, reason) in cases {
            let err = one(&text).unwrap_err();
            assert!(err.contains(reason), "{reason}: {err}");
        }
        let twice = load(
            &[
                ("a.yml".into(), STOP_LOGGING.into()),
                ("b.yml".into(), STOP_LOGGING.into()),
            ],
            60,
            |_| false,
        );
        assert_eq!(twice.rules.rules().len(), 1);
        assert!(
            twice.refused[0].reason.contains("already loaded"),
            "{:?}",
            twice.refused
        );
    }

    #[test]
    fn conditions_pin_the_index_only_when_every_match_is_inside_it() {
        let selectors = |detection: &str| {
            let text = STOP_LOGGING.replace(
                "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
                detection,
            );
            one(&text).unwrap().route
        };
        // A negated selection constrains nothing.
        assert_eq!(
            selectors("  sel:\n    eventName: StopLogging\n  condition: not sel\n"),
            None
        );
        // A name-only pin keys on the name from any source; startswith and trailing * are prefixes.
        assert_eq!(
            selectors("  sel:\n    eventName|startswith: Put\n  condition: sel\n"),
            Some(vec![Gate::Event(SigmaSelector {
                source: None,
                name: Some(NameSelector::Prefix("Put".into()))
            })])
        );
        assert_eq!(
            selectors(
                "  sel:\n    eventName: 'Delete*'\n    eventSource: s3.amazonaws.com\n  condition: sel\n"
            ),
            Some(vec![Gate::Event(SigmaSelector {
                source: Some("s3.amazonaws.com".into()),
                name: Some(NameSelector::Prefix("Delete".into()))
            })])
        );
        // contains does not pin; an OR with an unpinned side does not either.
        assert_eq!(
            selectors("  sel:\n    eventName|contains: Log\n  condition: sel\n"),
            None
        );
        assert_eq!(
            selectors(
                "  a:\n    eventName: StopLogging\n  b:\n    userAgent: x\n  condition: a or b\n"
            ),
            None
        );
        // and-ing with a filter keeps the pinned side.
        assert!(
            selectors("  a:\n    eventName: StopLogging\n  f:\n    userAgent: x\n  condition: a and not f\n")
                .is_some()
        );
        assert_eq!(
            selectors("  s1:\n    eventName: A\n  s2:\n    eventName: B\n  condition: 1 of s*\n")
                .map(|s| s.len()),
            Some(2)
        );
    }

    #[test]
    fn caller_types_and_texts_gate_rules_that_pin_no_event() {
        let route = |detection: &str| {
            let text = STOP_LOGGING.replace(
                "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
                detection,
            );
            one(&text).unwrap().route
        };
        // SigmaHQ 905d389b (AWS STS AssumeRole Misuse) and 8ad1600d (root account usage).
        assert_eq!(
            route(
                "  sel:\n    userIdentity.type: AssumedRole\n    userIdentity.sessionContext.sessionIssuer.type: Role\n  condition: sel\n"
            ),
            Some(vec![Gate::IdentityType("AssumedRole".into())])
        );
        assert_eq!(
            route(
                "  u:\n    userIdentity.type: Root\n  t:\n    eventType: AwsServiceEvent\n  condition: u and not t\n"
            ),
            Some(vec![Gate::IdentityType("Root".into())])
        );
        // An event pin is cheaper than a caller type, a caller type than a text.
        assert!(matches!(
            route("  u:\n    userIdentity.type: Root\n  e:\n    eventName: ConsoleLogin\n  condition: u and e\n").as_deref(),
            Some([Gate::Event(_)])
        ));
        // SigmaHQ f305fd62 (bucket enumeration): ListBuckets, not by a role session.
        let buckets = one(&STOP_LOGGING.replace(
            "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
            "  selection:\n    eventSource: s3.amazonaws.com\n    eventName: ListBuckets\n  filter:\n    userIdentity.type: AssumedRole\n  condition: selection and not filter\n",
        ))
        .unwrap();
        assert_eq!(
            buckets.excludes_caller_types,
            vec!["AssumedRole".to_owned()]
        );
        let list = br#"{"eventSource":"s3.amazonaws.com","eventName":"ListBuckets"}"#;
        assert!(!buckets.may_match("s3.amazonaws.com", "ListBuckets", Some("AssumedRole"), list));
        assert!(buckets.may_match("s3.amazonaws.com", "ListBuckets", Some("IAMUser"), list));
        assert!(buckets.may_match("s3.amazonaws.com", "ListBuckets", None, list));
        // A filter with a second field excludes nothing (it rules out only records with both).
        let narrower = one(&STOP_LOGGING.replace(
            "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n  condition: selection\n",
            "  selection:\n    eventName: ListBuckets\n  filter:\n    userIdentity.type: AssumedRole\n    userAgent: x\n  condition: selection and not filter\n",
        ))
        .unwrap();
        assert!(narrower.excludes_caller_types.is_empty());
        // SigmaHQ a840e606 (TruffleHog): an exact user agent is a text gate, lower-cased.
        assert_eq!(
            route("  sel:\n    userAgent: TruffleHog\n  condition: sel\n"),
            Some(vec![Gate::Text("trufflehog".into())])
        );
        assert_eq!(
            route(
                "  sel:\n    userAgent|contains:\n      - 'kali'\n      - '*parrot*'\n  condition: sel\n"
            ),
            Some(vec![Gate::Text("kali".into()), Gate::Text("parrot".into())])
        );
        // SigmaHQ 352a918a (IMDS credentials used outside AWS): a regular expression's literal run.
        assert_eq!(
            route("  sel:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  condition: sel\n"),
            Some(vec![Gate::Text(":assumed-role/aws:".into())])
        );
        assert_eq!(
            regex_literal(r"^arn:aws:iam::\d{12}:role/Admin"),
            Some("arn:aws:iam::".into())
        );
        assert_eq!(regex_literal(r"abcdex?yz"), Some("abcde".into()));
        assert_eq!(regex_literal(r"abcd\.ef+"), Some("abcd.ef".into()));
        // Regular expressions with alternation or groups, numbers, short texts and wildcard-only
        // values give no gate.
        for none in [
            "  sel:\n    userAgent|re: 'Truf(fle)?.*'\n  condition: sel\n",
            "  sel:\n    userAgent|re: 'Truffle|Hog'\n  condition: sel\n",
            "  sel:\n    eventVersion: '1.08'\n  condition: sel\n",
            "  sel:\n    userAgent: 'a*b'\n  condition: sel\n",
            "  sel:\n    userIdentity.type|contains: Ro\n    userAgent: 'x'\n  condition: sel\n",
        ] {
            assert_eq!(route(none), None, "{none}");
        }
    }

    #[test]
    fn text_gates_never_refuse_a_record_the_rule_could_match() {
        let rule = one(&STOP_LOGGING.replace(
            "  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n    errorCode: null\n",
            "  selection:\n    userAgent: TruffleHog\n",
        ))
        .unwrap();
        let cases = [
            (r#"{"userAgent":"TruffleHog"}"#, true),
            (r#"{"userAgent":"trufflehog"}"#, true),
            // The escape decodes to "TruffleHog": the gate passes (and the rule decides).
            (r#"{"userAgent":"\u0054ruffleHog"}"#, true),
            (r#"{"userAgent":"aws-cli/2"}"#, false),
        ];
        // Short escapes are decoded: an escaped quote or slash does not hide the text.
        let cases = [
            cases[0],
            cases[1],
            cases[2],
            cases[3],
            (r#"{"userAgent":"Truffle\/Hog","p":"{\"a\":1}"}"#, false),
            (r#"{"userAgent":"x","p":"{\"ua\":\"trufflehog\"}"}"#, true),
        ];
        assert!(may_contain(br#"{"a":"x\/trufflehog"}"#, b"/trufflehog"));
        for (text, gate) in cases {
            assert_eq!(may_contain(text.as_bytes(), b"trufflehog"), gate, "{text}");
            let value: Value = serde_json::from_str(text).unwrap();
            if rule.matches(&value) {
                assert!(gate, "the gate refused a match: {text}");
            }
        }
        // Non-ASCII text may case-fold into the searched text (K, the Kelvin sign, folds to k).
        assert!(may_contain("{\"a\":\"\u{212A}ali\"}".as_bytes(), b"kali"));
        assert!(!may_contain(br#"{"a":"kal"}"#, b"kali"));
        assert!(may_contain(br#"{"a":"xxKALI"}"#, b"kali"));
    }
}
