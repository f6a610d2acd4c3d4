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
mod tests {
    use crate::detector::engine::{Detector, DetectorConfig};
    use crate::detector::sigma::{self, Loaded};
    use crate::detector::threshold::{MemoryWindowStore, ThresholdGate};
    use crate::detector::{Alert, ReaderConfig, scan_log};
    use serde_json::{Value, json};

    /// Our own base rule (not from SigmaHQ): a secret value read.
    const SECRET_READ: &str = r#"
title: Secret value read (trailwatch example)
id: 6f1e2d3c-0000-4a5b-8c9d-000000000002
name: secret_read
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: secretsmanager.amazonaws.com
    eventName: GetSecretValue
    errorCode: null
  condition: selection
level: low
"#;

    /// Our own second base rule: a secret's resource policy read.
    const POLICY_READ: &str = r#"
title: Secret policy read (trailwatch example)
id: 6f1e2d3c-0000-4a5b-8c9d-000000000003
name: policy_read
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: secretsmanager.amazonaws.com
    eventName: GetResourcePolicy
  condition: selection
level: low
"#;

    const CORRELATION_ID: &str = "sigma-6f1e2d3c-0000-4a5b-8c9d-0000000000c1";

    fn correlation(kind: &str, condition: &str, extra: &str) -> String {
        format!(
            "title: Secrets harvested (trailwatch example)\nid: 6f1e2d3c-0000-4a5b-8c9d-0000000000c1\n{extra}correlation:\n  type: {kind}\n  rules:\n    - secret_read\n  group-by:\n    - userIdentity.arn\n  timespan: 10m\n  condition:\n{condition}level: high\n"
        )
    }

    fn load(docs: &[&str]) -> Loaded {
        let sources: Vec<(String, String)> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("{i}.yml"), (*d).to_owned()))
            .collect();
        sigma::load(&sources, 60, |_| false)
    }

    fn detector(docs: &[&str]) -> Detector {
        let loaded = load(docs);
        assert!(loaded.refused.is_empty(), "{:?}", loaded.refused);
        Detector::new(&DetectorConfig {
            sigma_rules: loaded.rules,
            ..DetectorConfig::default()
        })
        .unwrap()
    }

    /// A GetSecretValue record shaped like Stratus Red Team's
    /// `aws.credential-access.secretsmanager-retrieve-secrets` detonation (trimmed).
    fn read(n: u32, user: &str, minute: u32, second: u32, name: &str) -> Value {
        json!({"eventVersion": "1.09", "eventSource": "secretsmanager.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1",
            "eventTime": format!("2024-07-31T12:{minute:02}:{second:02}Z"),
            "eventID": format!("b9c3d881-1e77-426c-abd3-{n:012}"), "eventType": "AwsApiCall",
            "recipientAccountId": "903144391865", "sourceIPAddress": "253.201.144.253",
            "userAgent": "stratus-red-team_10e7edf3",
            "requestParameters": {"secretId": format!("arn:aws:secretsmanager:us-east-1:903144391865:secret:stratus-red-team-retrieve-secret-{n}")},
            "responseElements": null,
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::903144391865:user/{user}"),
                "accountId": "903144391865", "principalId": "AIDA45XCCHPPLELFTIIM", "userName": user}})
    }

    /// Scans the records and passes every alert through one threshold gate, as the CLI does.
    fn run(detector: &Detector, records: &[Value]) -> Vec<Alert> {
        let log = json!({ "Records": records }).to_string();
        let mut raised = Vec::new();
        scan_log(
            log.as_bytes(),
            "mem",
            detector,
            ReaderConfig::default(),
            |a| raised.push(a),
        )
        .unwrap();
        let (mut gate, mut store) = (ThresholdGate::new(), MemoryWindowStore::new());
        raised
            .into_iter()
            .filter_map(|a| gate.admit(a, &mut store).unwrap())
            .collect()
    }

    fn fired(alerts: &[Alert]) -> Vec<&Alert> {
        alerts
            .iter()
            .filter(|a| a.rule_id == CORRELATION_ID)
            .collect()
    }

    #[test]
    fn event_count_fires_at_the_threshold_within_the_window_per_group() {
        let rule = correlation("event_count", "    gte: 3\n", "");
        let d = detector(&[SECRET_READ, &rule]);
        // Two reads: below the threshold.
        let two = [
            read(1, "alice", 0, 1, "GetSecretValue"),
            read(2, "alice", 3, 0, "GetSecretValue"),
        ];
        assert!(fired(&run(&d, &two)).is_empty());
        // The third within ten minutes reaches it: one alert, with the count.
        let mut three = two.to_vec();
        three.push(read(3, "alice", 9, 0, "GetSecretValue"));
        three.push(read(4, "alice", 9, 30, "GetSecretValue"));
        let alerts = run(&d, &three);
        let hits = fired(&alerts);
        assert_eq!(hits.len(), 1, "{alerts:#?}");
        let state = hits[0].threshold.as_ref().unwrap();
        assert_eq!(state.threshold, 3);
        assert!(state.distinct.unwrap() >= 3);
        assert!(
            hits[0]
                .summary
                .contains("userIdentity.arn=arn:aws:iam::903144391865:user/alice")
        );
        // generate is false: the referenced rule does not alert on its own.
        assert!(alerts.iter().all(|a| a.rule_id == CORRELATION_ID));
        // Three reads by three callers: the group-by keeps them apart.
        let spread = [
            read(1, "alice", 0, 1, "GetSecretValue"),
            read(2, "bob", 0, 2, "GetSecretValue"),
            read(3, "carol", 0, 3, "GetSecretValue"),
        ];
        assert!(fired(&run(&d, &spread)).is_empty());
        // The same event delivered twice counts once.
        let replayed = [
            read(1, "alice", 0, 1, "GetSecretValue"),
            read(1, "alice", 0, 1, "GetSecretValue"),
            read(2, "alice", 0, 2, "GetSecretValue"),
        ];
        assert!(fired(&run(&d, &replayed)).is_empty());
    }

    #[test]
    fn event_count_does_not_add_up_across_windows() {
        let d = detector(&[SECRET_READ, &correlation("event_count", "    gt: 2\n", "")]);
        // Three reads 25 minutes apart: more than two timespans, never in one window.
        let slow = [
            read(1, "alice", 0, 0, "GetSecretValue"),
            read(2, "alice", 25, 0, "GetSecretValue"),
            read(3, "alice", 50, 0, "GetSecretValue"),
        ];
        assert!(fired(&run(&d, &slow)).is_empty());
        // Three within one timespan alert wherever the windows fall (here across the aligned
        // windows' boundary at 12:20).
        let burst = [
            read(1, "alice", 19, 0, "GetSecretValue"),
            read(2, "alice", 21, 0, "GetSecretValue"),
            read(3, "alice", 28, 59, "GetSecretValue"),
        ];
        assert_eq!(fired(&run(&d, &burst)).len(), 1);
    }

    #[test]
    fn value_count_counts_distinct_values_and_generate_keeps_the_rule_alerts() {
        let rule = correlation(
            "value_count",
            "    gte: 3\n    field: requestParameters.secretId\n",
            "generate: true\n",
        );
        let d = detector(&[SECRET_READ, &rule]);
        // The same secret three times: one distinct value.
        let mut same: Vec<Value> = (1..=3)
            .map(|n| read(n, "alice", n, 0, "GetSecretValue"))
            .collect();
        for r in &mut same {
            r["requestParameters"]["secretId"] =
                json!("arn:aws:secretsmanager:us-east-1:903144391865:secret:one");
        }
        let alerts = run(&d, &same);
        assert!(fired(&alerts).is_empty());
        // generate: true, so each read also alerts as the base rule.
        assert_eq!(
            alerts
                .iter()
                .filter(|a| a.rule_id.ends_with("000000000002"))
                .count(),
            3
        );
        let distinct: Vec<Value> = (1..=3)
            .map(|n| read(n, "alice", n, 0, "GetSecretValue"))
            .collect();
        let alerts = run(&d, &distinct);
        let hits = fired(&alerts);
        assert_eq!(hits.len(), 1);
        assert_eq!(
            hits[0].threshold.as_ref().unwrap().counts,
            "values of requestParameters.secretId"
        );
    }

    #[test]
    fn temporal_needs_every_referenced_rule_in_the_window() {
        let rule = "title: Secret and its policy read (trailwatch example)\nid: 6f1e2d3c-0000-4a5b-8c9d-0000000000c1\ncorrelation:\n  type: temporal\n  rules: [secret_read, policy_read]\n  group-by: [userIdentity.arn]\n  timespan: 5m\nlevel: medium\n";
        let d = detector(&[SECRET_READ, POLICY_READ, rule]);
        let only_reads = [
            read(1, "alice", 0, 0, "GetSecretValue"),
            read(2, "alice", 1, 0, "GetSecretValue"),
        ];
        assert!(fired(&run(&d, &only_reads)).is_empty());
        let both = [
            read(1, "alice", 0, 0, "GetSecretValue"),
            read(2, "alice", 1, 0, "GetResourcePolicy"),
        ];
        assert_eq!(fired(&run(&d, &both)).len(), 1);
        let two_callers = [
            read(1, "alice", 0, 0, "GetSecretValue"),
            read(2, "bob", 1, 0, "GetResourcePolicy"),
        ];
        assert!(fired(&run(&d, &two_callers)).is_empty());
    }

    #[test]
    fn unsupported_correlations_are_refused_with_a_reason() {
        let cases = [
            (
                correlation("event_count", "    lt: 3\n", ""),
                "only a floor",
            ),
            (
                correlation("event_count", "    gte: 3\n    lte: 9\n", ""),
                "only a floor",
            ),
            (
                correlation("event_count", "    gte: 501\n", ""),
                "above the 500",
            ),
            (
                correlation("value_sum", "    gte: 3\n    field: x\n", ""),
                "value_sum correlations are not supported",
            ),
            (
                correlation("temporal_ordered", "    gte: 1\n", ""),
                "temporal_ordered correlations are not supported",
            ),
            (
                correlation("event_count", "    gte: 3\n", "")
                    .replace("    - secret_read", "    - nothing_here"),
                "not a loaded rule",
            ),
            (
                correlation("event_count", "    gte: 3\n", "")
                    .replace("  timespan: 10m\n", "  timespan: 10m\n  window: tumbling\n"),
                "window is not supported",
            ),
        ];
        for (text, reason) in cases {
            let loaded = load(&[SECRET_READ, &text]);
            assert!(loaded.rules.correlations().is_empty(), "{reason}");
            assert_eq!(loaded.refused.len(), 1, "{reason}: {:?}", loaded.refused);
            assert!(
                loaded.refused[0].reason.contains(reason),
                "{reason}: {}",
                loaded.refused[0]
            );
        }
    }

    #[test]
    fn value_count_fires_on_the_stratus_secrets_harvest_recording() {
        // Stratus Red Team aws.credential-access.secretsmanager-retrieve-secrets: one user reads
        // 20 secrets within seconds.
        let log: &[u8] = include_bytes!(
            "../../tests/fixtures/stratus/aws.credential-access.secretsmanager-retrieve-secrets.json.gz"
        );
        let at = |n: u32| {
            correlation(
                "value_count",
                &format!("    gte: {n}\n    field: requestParameters.secretId\n"),
                "",
            )
        };
        let released = |rule: &str| {
            let d = detector(&[SECRET_READ, rule]);
            let mut raised = Vec::new();
            scan_log(log, "stratus", &d, ReaderConfig::default(), |a| {
                raised.push(a)
            })
            .unwrap();
            let (mut gate, mut store) = (ThresholdGate::new(), MemoryWindowStore::new());
            raised
                .into_iter()
                .filter_map(|a| gate.admit(a, &mut store).unwrap())
                .filter(|a| a.rule_id == CORRELATION_ID)
                .collect::<Vec<_>>()
        };
        let hits = released(&at(20));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].threshold.as_ref().unwrap().distinct, Some(20));
        assert!(released(&at(21)).is_empty());
    }

    #[test]
    fn a_correlation_can_be_disabled_and_overridden_by_its_id() {
        let loaded = load(&[SECRET_READ, &correlation("event_count", "    gte: 2\n", "")]);
        let config = |disabled: bool| DetectorConfig {
            sigma_rules: loaded.rules.clone(),
            disabled_rules: if disabled {
                [CORRELATION_ID.to_owned()].into()
            } else {
                Default::default()
            },
            severity_overrides: [(
                CORRELATION_ID.to_owned(),
                crate::detector::Severity::Critical,
            )]
            .into(),
            ..DetectorConfig::default()
        };
        let reads = [
            read(1, "alice", 0, 0, "GetSecretValue"),
            read(2, "alice", 1, 0, "GetSecretValue"),
        ];
        let on = Detector::new(&config(false)).unwrap();
        let hits = run(&on, &reads);
        assert_eq!(fired(&hits).len(), 1);
        assert_eq!(hits[0].severity, crate::detector::Severity::Critical);
        // Disabled, and its rule only feeds it (generate: false): nothing runs, nothing alerts.
        let off = Detector::new(&config(true)).unwrap();
        assert!(off.sigma_rules().is_empty());
        assert!(run(&off, &reads).is_empty());
    }
}
