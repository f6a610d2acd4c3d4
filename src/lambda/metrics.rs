//! CloudWatch Embedded Metric Format: one JSON line per invocation that CloudWatch Logs turns
//! into metrics, with no API call and no extra permission.

use crate::lambda::outcome::ObjectOutcome;
use crate::lambda::tuning_metrics::ExceptionTally;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Totals for one invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationMetrics {
    pub objects_scanned: u64,
    pub objects_skipped: u64,
    pub objects_failed: u64,
    pub records_processed: u64,
    /// Records read but not fully evaluated (unreadable, or a rule could not judge them).
    pub records_skipped: u64,
    pub alerts_published: u64,
    pub alerts_suppressed: u64,
    /// What each exception suppressed in this invocation (metric dimension `Exception`).
    pub exceptions: ExceptionTally,
}

impl InvocationMetrics {
    /// Adds one object's outcome.
    pub fn record(&mut self, outcome: &ObjectOutcome) {
        match outcome {
            ObjectOutcome::Scanned(r) => {
                self.objects_scanned += 1;
                self.records_processed += r.records;
                self.records_skipped += r.skipped_records;
                self.alerts_published += r.alerts_published;
                self.alerts_suppressed += r.alerts_suppressed;
                self.exceptions.add(&r.exceptions);
            }
            ObjectOutcome::Skipped(_) => self.objects_skipped += 1,
            ObjectOutcome::Permanent(_) | ObjectOutcome::Transient(_) => self.objects_failed += 1,
        }
    }

    /// The EMF document for these totals. The `FunctionName` dimension keeps two stacks in one
    /// account apart and is what the stack's alarms select on.
    pub fn to_emf(&self, elapsed: Duration, function_name: &str) -> serde_json::Value {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        json!({
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": "trailwatch",
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        {"Name": "RecordsProcessed", "Unit": "Count"},
                        {"Name": "RecordsSkipped", "Unit": "Count"},
                        {"Name": "AlertsPublished", "Unit": "Count"},
                        {"Name": "AlertsSuppressed", "Unit": "Count"},
                        {"Name": "ObjectsFailed", "Unit": "Count"},
                        {"Name": "ObjectsScanned", "Unit": "Count"},
                        {"Name": "ProcessingTimeMs", "Unit": "Milliseconds"}
                    ]
                }]
            },
            "FunctionName": function_name,
            "RecordsProcessed": self.records_processed,
            "RecordsSkipped": self.records_skipped,
            "AlertsPublished": self.alerts_published,
            "AlertsSuppressed": self.alerts_suppressed,
            "ObjectsFailed": self.objects_failed,
            "ObjectsScanned": self.objects_scanned,
            "ProcessingTimeMs": elapsed.as_millis() as u64,
        })
    }

    /// Prints the EMF line on stdout, where Lambda sends it to CloudWatch Logs.
    pub fn emit(&self, elapsed: Duration) {
        // Set by the Lambda runtime; "local" under tests and `cargo lambda watch` without it.
        let function_name =
            std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_owned());
        println!("{}", self.to_emf(elapsed, &function_name));
        self.exceptions.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::outcome::ObjectReport;

    #[test]
    fn emf_document_declares_its_metrics() {
        let mut m = InvocationMetrics::default();
        m.record(&ObjectOutcome::Scanned(ObjectReport {
            records: 10,
            skipped_records: 3,
            alerts_published: 2,
            ..ObjectReport::default()
        }));
        m.record(&ObjectOutcome::Permanent("corrupt".into()));
        let emf = m.to_emf(Duration::from_millis(42), "trailwatch-fn");
        assert_eq!(emf["RecordsProcessed"], 10);
        assert_eq!(emf["RecordsSkipped"], 3);
        assert_eq!(emf["AlertsPublished"], 2);
        assert_eq!(emf["ObjectsFailed"], 1);
        assert_eq!(emf["FunctionName"], "trailwatch-fn");
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "FunctionName"
        );
        assert_eq!(emf["ProcessingTimeMs"], 42);
        let declared: Vec<&str> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in &declared {
            assert!(emf.get(*name).is_some(), "{name} declared but missing");
        }
    }

    #[test]
    fn exception_counts_add_up_over_the_objects_of_one_invocation() {
        let object = |suppressed: u64| {
            let mut exceptions = ExceptionTally::default();
            for _ in 0..suppressed {
                exceptions.suppressed("partner-dr");
            }
            ObjectOutcome::Scanned(ObjectReport {
                exceptions,
                ..ObjectReport::default()
            })
        };
        let mut first = InvocationMetrics::default();
        first.record(&object(2));
        first.record(&object(1));
        assert_eq!(first.exceptions.get("partner-dr").suppressed, 3);
        // A new invocation starts from zero: counts are per invocation, not since cold start.
        let mut second = InvocationMetrics::default();
        second.record(&object(1));
        assert_eq!(second.exceptions.get("partner-dr").suppressed, 1);
    }
}
