//! Metrics of the tuning file, in CloudWatch Embedded Metric Format like
//! [`crate::lambda::metrics`]: alerts each exception suppressed in one invocation (dimension
//! `Exception`), alerts an expired exception would have suppressed, and the outcome of a
//! re-read of the tuning file (`ConfigReloadFailed`, which the stacks alarm on).

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// Per-exception counts for one object or one invocation (not cumulative since cold start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExceptionTally {
    by_exception: BTreeMap<String, ExceptionCounts>,
}

/// What one exception did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExceptionCounts {
    /// Alerts it suppressed.
    pub suppressed: u64,
    /// Alerts it would have suppressed had it not expired (they were raised).
    pub expired_matches: u64,
}

impl ExceptionTally {
    /// Counts an alert `exception` suppressed.
    pub fn suppressed(&mut self, exception: &str) {
        self.entry(exception).suppressed += 1;
    }

    /// Counts an alert that `exception` matched after its expiry.
    pub fn expired_match(&mut self, exception: &str) {
        self.entry(exception).expired_matches += 1;
    }

    fn entry(&mut self, exception: &str) -> &mut ExceptionCounts {
        if !self.by_exception.contains_key(exception) {
            self.by_exception
                .insert(exception.to_owned(), ExceptionCounts::default());
        }
        self.by_exception.get_mut(exception).expect("just inserted")
    }

    /// Adds another tally (an object's, into the invocation's).
    pub fn add(&mut self, other: &ExceptionTally) {
        for (name, counts) in &other.by_exception {
            let entry = self.entry(name);
            entry.suppressed += counts.suppressed;
            entry.expired_matches += counts.expired_matches;
        }
    }

    /// The counts of `exception`, zero when it did nothing.
    pub fn get(&self, exception: &str) -> ExceptionCounts {
        self.by_exception
            .get(exception)
            .copied()
            .unwrap_or_default()
    }

    /// True when no exception did anything.
    pub fn is_empty(&self) -> bool {
        self.by_exception.is_empty()
    }

    /// One EMF document per exception that did something: EMF gives a document one value per
    /// dimension, so each exception needs its own.
    pub fn to_emf(&self, function_name: &str) -> Vec<Value> {
        self.by_exception
            .iter()
            .map(|(name, counts)| {
                json!({
                    "_aws": {
                        "Timestamp": now_millis(),
                        "CloudWatchMetrics": [{
                            "Namespace": "trailwatch",
                            "Dimensions": [["FunctionName", "Exception"]],
                            "Metrics": [
                                {"Name": "ExceptionSuppressed", "Unit": "Count"},
                                {"Name": "ExceptionExpiredMatches", "Unit": "Count"}
                            ]
                        }]
                    },
                    "FunctionName": function_name,
                    "Exception": name,
                    "ExceptionSuppressed": counts.suppressed,
                    "ExceptionExpiredMatches": counts.expired_matches,
                })
            })
            .collect()
    }

    /// Prints the documents on stdout, where Lambda sends them to CloudWatch Logs.
    pub fn emit(&self) {
        for document in self.to_emf(&function_name()) {
            println!("{document}");
        }
    }
}

/// What a due re-read of the tuning file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// Not time yet, or reloading is off: nothing was read.
    NotDue,
    /// The source has the version already in use: nothing was parsed.
    Unchanged,
    /// A new valid version now runs.
    Reloaded { version: String },
    /// The source could not be read or the new version is invalid: the last good one runs on.
    Failed(String),
}

impl ReloadOutcome {
    /// The EMF document for a re-read (none when nothing was read). `ConfigReloadFailed` is 1
    /// per failed re-read; the stacks alarm on its sum.
    pub fn to_emf(&self, function_name: &str) -> Option<Value> {
        let (failed, reloaded) = match self {
            ReloadOutcome::NotDue => return None,
            ReloadOutcome::Unchanged => (0, 0),
            ReloadOutcome::Reloaded { .. } => (0, 1),
            ReloadOutcome::Failed(_) => (1, 0),
        };
        Some(json!({
            "_aws": {
                "Timestamp": now_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": "trailwatch",
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        {"Name": "ConfigReloadFailed", "Unit": "Count"},
                        {"Name": "ConfigReloaded", "Unit": "Count"}
                    ]
                }]
            },
            "FunctionName": function_name,
            "ConfigReloadFailed": failed,
            "ConfigReloaded": reloaded,
        }))
    }

    /// Prints the document on stdout, when there is one.
    pub fn emit(&self) {
        if let Some(document) = self.to_emf(&function_name()) {
            println!("{document}");
        }
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Set by the Lambda runtime; "local" under tests.
fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_exception_gets_its_own_document_with_its_counts() {
        let mut object_a = ExceptionTally::default();
        object_a.suppressed("partner-dr");
        object_a.suppressed("partner-dr");
        let mut object_b = ExceptionTally::default();
        object_b.suppressed("partner-dr");
        object_b.expired_match("old-migration");
        let mut invocation = ExceptionTally::default();
        invocation.add(&object_a);
        invocation.add(&object_b);
        assert_eq!(invocation.get("partner-dr").suppressed, 3);
        assert_eq!(invocation.get("old-migration").expired_matches, 1);
        assert_eq!(invocation.get("unused"), ExceptionCounts::default());
        let docs = invocation.to_emf("fn");
        assert_eq!(docs.len(), 2);
        let old = &docs[0];
        assert_eq!(old["Exception"], "old-migration");
        assert_eq!(old["ExceptionSuppressed"], 0);
        assert_eq!(old["ExceptionExpiredMatches"], 1);
        let partner = &docs[1];
        assert_eq!(partner["Exception"], "partner-dr");
        assert_eq!(partner["ExceptionSuppressed"], 3);
        assert_eq!(
            partner["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            json!(["FunctionName", "Exception"])
        );
        assert!(ExceptionTally::default().to_emf("fn").is_empty());
    }

    #[test]
    fn a_failed_reload_counts_one_and_an_idle_check_emits_nothing() {
        let failed = ReloadOutcome::Failed("line 2: bad".into())
            .to_emf("fn")
            .unwrap();
        assert_eq!(failed["ConfigReloadFailed"], 1);
        assert_eq!(failed["ConfigReloaded"], 0);
        assert_eq!(failed["FunctionName"], "fn");
        let reloaded = ReloadOutcome::Reloaded {
            version: "2".into(),
        }
        .to_emf("fn")
        .unwrap();
        assert_eq!(reloaded["ConfigReloadFailed"], 0);
        assert_eq!(reloaded["ConfigReloaded"], 1);
        assert_eq!(
            ReloadOutcome::Unchanged.to_emf("fn").unwrap()["ConfigReloadFailed"],
            0
        );
        assert_eq!(ReloadOutcome::NotDue.to_emf("fn"), None);
    }
}
