//! A matched Sigma rule's own alert, and the pending alerts of the correlations counting it.

use super::{RecordEvent, SigmaRule};
use crate::detector::alert::{Alert, LogObject};
use crate::detector::record::Record;
use crate::detector::rule::{Finding, Unevaluable};
use crate::detector::rules::common::actor_name;
use serde_json::json;

impl SigmaRule {
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
