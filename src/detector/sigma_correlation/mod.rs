//! Sigma correlation rules (counts over time windows), compiled with `rsigma-eval`'s
//! correlation compiler and counted in the threshold rules' windows
//! ([`crate::detector::threshold`]), so the CLI's scan and every Lambda invocation share one
//! count (DynamoDB in the Lambda) instead of an in-process window per invocation.
//!
//! A record matching a rule a correlation references becomes a *pending* alert of the
//! correlation, carrying what the record adds to the count; the adapters' threshold gate
//! releases one alert per group and window once the count reaches the threshold.
//!
//! Supported, each with group-by fields (and aliases):
//! - `event_count`: distinct matching events (by `eventID`, so a Lambda retry counts once);
//! - `value_count`: distinct values of `condition.field` (several fields count distinct tuples);
//! - `temporal`: distinct referenced rules matched (all of them, or `gte: N` of them).
//!
//! Conditions are floors (`gte`, `gt`): an alert is raised as the count reaches them. Ceilings
//! and equalities (`lt`, `lte`, `eq`, `neq`, ranges) need the count at a window's end, which a
//! detector that alerts as records arrive never sees; `temporal_ordered`, the numeric
//! aggregations (`value_sum`, `value_avg`, `value_percentile`, `value_median`), boolean
//! expressions over rules, `tumbling`/`session` windows and correlations of correlations are
//! refused with that reason.
//!
//! Windows: the threshold rules' two overlapping fixed windows, each twice the `timespan` long
//! and hopping by one `timespan`, so every burst within one `timespan` lands wholly in one
//! window and always alerts; a burst spread over more than twice the `timespan` never adds up,
//! and one spread over between one and two may (Sigma's sliding window would not alert on it).

use crate::detector::alert::{Alert, AttackRef, LogObject};
use crate::detector::record::Record;
use crate::detector::rule::{Finding, Severity, Unevaluable};
use crate::detector::rules::common::actor_name;
use crate::detector::sigma::RecordEvent;
use crate::detector::threshold::{MAX_MEMBERS, ThresholdRequest, parse_event_time};
use rsigma_eval::correlation::{GroupByField, GroupKey, compile_correlation};
use rsigma_parser::{
    ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, WindowMode,
};
use serde_json::json;

/// What a correlation counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountKind {
    /// Distinct matching events.
    Events,
    /// Distinct values (tuples) of these fields.
    Values(Vec<String>),
    /// Distinct referenced rules matched.
    Rules,
}

/// A loaded Sigma correlation rule.
#[derive(Debug, Clone)]
pub struct SigmaCorrelation {
    /// `sigma-<id>`.
    pub rule_id: String,
    /// The correlation's own `id`.
    pub sigma_id: String,
    /// The rule's `title`, the alert's summary.
    pub title: String,
    /// The rule's `description`.
    pub description: String,
    /// From `level`, as for detection rules.
    pub severity: Severity,
    /// Derived from the severity, for sorting alongside the catalogue.
    pub risk_score: u8,
    /// ATT&CK techniques from the rule's `attack.tNNNN` tags.
    pub mitre_attack: Vec<AttackRef>,
    /// The rule's `references`.
    pub references: Vec<String>,
    /// The rule's `falsepositives`.
    pub false_positives: Vec<String>,
    /// Where it was loaded from (a file name).
    pub origin: String,
    /// Repeats of the same alert within this many minutes are sent once.
    pub dedup_period_minutes: u32,
    /// What is counted: events, distinct values or distinct rules.
    pub kind: CountKind,
    /// The rules it counts, as it names them (ids or names).
    pub rule_refs: Vec<String>,
    /// Group-by fields, with their per-rule aliases.
    pub group_by: Vec<GroupByField>,
    /// Distinct members in one window that raise the alert.
    pub threshold: u32,
    /// Sigma's `timespan`, in seconds.
    pub timespan_secs: u64,
    /// The counting window (twice the timespan, whole minutes).
    pub window_minutes: u32,
    /// Whether the referenced rules also alert on their own (Sigma's `generate`).
    pub generate: bool,
}

/// Compiles a correlation rule, or says why it is not supported. Rule references are resolved
/// by the loader.
#[allow(clippy::too_many_arguments)]
pub fn compile(
    parsed: &CorrelationRule,
    origin: &str,
    dedup_period_minutes: u32,
    severity: Severity,
    risk_score: u8,
    mitre_attack: Vec<AttackRef>,
    rule_id: String,
    sigma_id: String,
) -> Result<SigmaCorrelation, String> {
    let compiled = compile_correlation(parsed).map_err(|e| format!("does not compile: {e}"))?;
    if parsed.window != WindowMode::Sliding {
        return Err(format!(
            "a {:?} window is not supported: correlations count in sliding time spans",
            parsed.window
        )
        .to_ascii_lowercase());
    }
    let kind = match parsed.correlation_type {
        CorrelationType::EventCount => CountKind::Events,
        CorrelationType::ValueCount => match &compiled.condition.field {
            Some(fields) if !fields.is_empty() => CountKind::Values(fields.clone()),
            _ => return Err("value_count needs `condition.field`".into()),
        },
        CorrelationType::Temporal => CountKind::Rules,
        other => {
            return Err(format!(
                "{} correlations are not supported: only event_count, value_count and temporal are counted",
                other.as_str()
            ));
        }
    };
    let predicates = match &parsed.condition {
        CorrelationCondition::Threshold { predicates, .. } => predicates,
        CorrelationCondition::Extended(_) => {
            return Err(
                "boolean expressions over the referenced rules are not supported: use a count (`gte: N`) or no condition (all rules)"
                    .into(),
            );
        }
    };
    let threshold = match (predicates.as_slice(), &kind) {
        // rsigma-parser reads an absent temporal condition as `gte: 1`; Sigma means "all rules".
        ([(ConditionOperator::Gte, 1)], CountKind::Rules) => parsed.rules.len() as u64,
        ([(ConditionOperator::Gte, n)], _) => *n,
        ([(ConditionOperator::Gt, n)], _) => n.saturating_add(1),
        _ => {
            return Err(
                "only a floor (`gte` or `gt`) is supported: ceilings, equalities and ranges need the count at the window's end, and alerts are raised as records arrive"
                    .into(),
            );
        }
    };
    if threshold == 0 {
        return Err("a threshold of 0 would alert without any event".into());
    }
    if threshold > MAX_MEMBERS as u64 {
        return Err(format!(
            "threshold {threshold} is above the {MAX_MEMBERS} distinct members a window keeps"
        ));
    }
    if kind == CountKind::Rules && threshold > parsed.rules.len() as u64 {
        return Err(format!(
            "threshold {threshold} is more than the {} rules it references",
            parsed.rules.len()
        ));
    }
    if compiled.timespan_secs == 0 {
        return Err("`timespan` must be longer than 0 seconds".into());
    }
    let window_minutes = u32::try_from((2 * compiled.timespan_secs).div_ceil(60))
        .map_err(|_| "`timespan` is too long".to_owned())?;
    Ok(SigmaCorrelation {
        rule_id,
        sigma_id,
        title: parsed.title.clone(),
        description: parsed.description.clone().unwrap_or_default(),
        severity,
        risk_score,
        mitre_attack,
        references: parsed.references.clone(),
        false_positives: parsed.falsepositives.clone(),
        origin: origin.to_owned(),
        dedup_period_minutes,
        kind,
        rule_refs: compiled.rule_refs,
        group_by: compiled.group_by,
        threshold: threshold as u32,
        timespan_secs: compiled.timespan_secs,
        window_minutes,
        generate: parsed.generate,
    })
}

impl SigmaCorrelation {
    /// What this correlation counts, in words.
    pub fn counts(&self) -> String {
        match &self.kind {
            CountKind::Events => "matching events".into(),
            CountKind::Values(fields) => format!("values of {}", fields.join(" + ")),
            CountKind::Rules => format!("of the rules {}", self.rule_refs.join(", ")),
        }
    }

    /// The pending alert for a record that matched the referenced rule `rule_ref`: what it adds
    /// to its group's count. `None` when it adds nothing (a `value_count` field is absent).
    pub fn pending_alert(
        &self,
        rule_ref: &str,
        record: &Record<'_>,
        event: &RecordEvent<'_, '_>,
        log: LogObject,
    ) -> Result<Option<Alert>, Unevaluable> {
        let event_epoch = record
            .event_time
            .as_deref()
            .and_then(parse_event_time)
            .ok_or_else(|| {
                Unevaluable::malformed(
                    "eventTime",
                    format!("{} counts records by time and needs it", self.rule_id),
                )
            })?;
        let refs = [rule_ref];
        let group = GroupKey::extract(event, &self.group_by, &refs);
        let subject = if self.group_by.is_empty() {
            "*".to_owned()
        } else {
            self.group_by
                .iter()
                .zip(&group.0)
                .map(|(field, value)| {
                    format!("{}={}", field.name(), value.as_deref().unwrap_or(""))
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let members = match &self.kind {
            CountKind::Events => vec![match record.event_id.as_deref() {
                Some(id) => id.to_owned(),
                None => format!(
                    "{}|{}|{}|{}",
                    record.event_time.as_deref().unwrap_or(""),
                    record.source(),
                    record.name(),
                    record.source_ip_address.as_deref().unwrap_or("")
                ),
            }],
            CountKind::Values(fields) => {
                let direct: Vec<GroupByField> =
                    fields.iter().cloned().map(GroupByField::Direct).collect();
                let values = GroupKey::extract(event, &direct, &refs).0;
                let Some(values) = values.into_iter().collect::<Option<Vec<String>>>() else {
                    return Ok(None);
                };
                vec![values.join("\u{1f}")]
            }
            CountKind::Rules => vec![rule_ref.to_owned()],
        };
        let actor = record
            .user_identity
            .as_ref()
            .and_then(|u| u.arn.as_deref())
            .unwrap_or("-")
            .to_owned();
        let finding = Finding::new(
            format!(
                "{} called {} ({}): counts towards Sigma correlation \"{}\" ({subject})",
                actor_name(record),
                record.name(),
                record.source(),
                self.title
            ),
            json!({
                "sigma_id": self.sigma_id,
                "sigma_origin": self.origin,
                "description": self.description,
                "correlation": {
                    "type": match self.kind {
                        CountKind::Events => "event_count",
                        CountKind::Values(_) => "value_count",
                        CountKind::Rules => "temporal",
                    },
                    "rule": rule_ref,
                    "group": subject,
                    "timespan_seconds": self.timespan_secs,
                },
            }),
            vec![subject.clone(), actor],
        )
        .counted(ThresholdRequest {
            subject,
            counter: "",
            members,
            counts: "members",
            threshold: self.threshold,
            window_minutes: self.window_minutes,
            event_epoch,
        });
        let mut alert = Alert::for_rule(
            &self.rule_id,
            &self.title,
            self.severity,
            finding,
            record,
            log,
        );
        if let Some(state) = alert.threshold.as_mut() {
            state.counts = self.counts();
        }
        alert.risk_score = self.risk_score;
        alert.mitre_attack = self.mitre_attack.clone();
        alert.references = self.references.clone();
        alert.false_positives = self.false_positives.clone();
        alert.triage = vec![
            "Read the Sigma correlation's description; list the group's matching events in the window and confirm them with their owner.".to_owned(),
        ];
        alert.dedup_period_minutes = self.dedup_period_minutes;
        Ok(Some(alert))
    }
}

#[cfg(test)]
mod tests;
