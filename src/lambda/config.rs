//! The function's configuration: environment variables read and validated once at cold start.

use crate::detector::engine::{parse_accounts, parse_organizations, parse_rule_ids};
use crate::detector::{DetectorConfig, ReaderConfig, Severity};

/// Everything the function is told through its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaConfig {
    /// `ALERT_TOPIC_ARN` (required): where alerts go.
    pub alert_topic_arn: String,
    /// `TRUSTED_ACCOUNTS`, `DISABLED_RULES`, `MIN_SEVERITY`.
    pub detector: DetectorConfig,
    /// `MAX_DECOMPRESSED_BYTES`.
    pub reader: ReaderConfig,
    /// `DEDUP_TABLE`: DynamoDB table for cross-invocation dedup, when set.
    pub dedup_table: Option<String>,
    /// `MAX_CONCURRENT_OBJECTS`: objects scanned at once in one invocation.
    pub max_concurrent_objects: usize,
}

/// A setting the function cannot start with; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn bad(variable: &'static str, problem: impl ToString) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.to_string(),
    }
}

impl LambdaConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let alert_topic_arn = get("ALERT_TOPIC_ARN")
            .ok_or_else(|| bad("ALERT_TOPIC_ARN", "is required (the SNS topic for alerts)"))?;
        if !alert_topic_arn.starts_with("arn:") || !alert_topic_arn.contains(":sns:") {
            return Err(bad(
                "ALERT_TOPIC_ARN",
                format!("{alert_topic_arn:?} is not an SNS topic ARN"),
            ));
        }
        let trusted_accounts = match get("TRUSTED_ACCOUNTS") {
            Some(list) => parse_accounts(&list).map_err(|e| bad("TRUSTED_ACCOUNTS", e))?,
            None => Default::default(),
        };
        let trusted_organizations = match get("TRUSTED_ORGANIZATIONS") {
            Some(list) => {
                parse_organizations(&list).map_err(|e| bad("TRUSTED_ORGANIZATIONS", e))?
            }
            None => Default::default(),
        };
        let disabled_rules = match get("DISABLED_RULES") {
            Some(list) => parse_rule_ids(&list).map_err(|e| bad("DISABLED_RULES", e))?,
            None => Default::default(),
        };
        let min_severity = match get("MIN_SEVERITY") {
            Some(s) => s.parse::<Severity>().map_err(|e| bad("MIN_SEVERITY", e))?,
            None => Severity::Info,
        };
        let mut reader = ReaderConfig::default();
        if let Some(v) = get("MAX_DECOMPRESSED_BYTES") {
            reader.max_decompressed_bytes =
                v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    bad(
                        "MAX_DECOMPRESSED_BYTES",
                        format!("{v:?} is not a positive byte count"),
                    )
                })?;
        }
        let max_concurrent_objects = match get("MAX_CONCURRENT_OBJECTS") {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    bad(
                        "MAX_CONCURRENT_OBJECTS",
                        format!("{v:?} is not a number from 1 to 64"),
                    )
                })?,
            None => 4,
        };
        Ok(LambdaConfig {
            alert_topic_arn,
            detector: DetectorConfig {
                trusted_accounts,
                trusted_organizations,
                disabled_rules,
                only_rules: None,
                min_severity,
            },
            reader,
            dedup_table: get("DEDUP_TABLE"),
            max_concurrent_objects,
        })
    }

    /// True for a FIFO topic, which needs group and deduplication ids.
    pub fn fifo_topic(&self) -> bool {
        self.alert_topic_arn.ends_with(".fifo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<LambdaConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LambdaConfig::from_lookup(|name| map.get(name).cloned())
    }

    const TOPIC: (&str, &str) = (
        "ALERT_TOPIC_ARN",
        "arn:aws:sns:us-east-1:111122223333:alerts",
    );

    #[test]
    fn defaults_with_only_the_topic() {
        let c = config(&[TOPIC]).unwrap();
        assert_eq!(c.max_concurrent_objects, 4);
        assert_eq!(c.detector.min_severity, Severity::Info);
        assert_eq!(c.dedup_table, None);
        assert!(!c.fifo_topic());
    }

    #[test]
    fn every_setting_is_read() {
        let c = config(&[
            (
                "ALERT_TOPIC_ARN",
                "arn:aws:sns:us-east-1:111122223333:alerts.fifo",
            ),
            ("TRUSTED_ACCOUNTS", "444455556666, 777788889999"),
            ("DISABLED_RULES", "s3-bucket-config-modified"),
            ("MIN_SEVERITY", "Medium"),
            ("DEDUP_TABLE", "trailwatch-dedup"),
            ("MAX_DECOMPRESSED_BYTES", "1048576"),
            ("MAX_CONCURRENT_OBJECTS", "8"),
        ])
        .unwrap();
        assert!(c.fifo_topic());
        assert_eq!(c.detector.trusted_accounts.len(), 2);
        assert!(
            c.detector
                .disabled_rules
                .contains("s3-bucket-config-modified")
        );
        assert_eq!(c.detector.min_severity, Severity::Medium);
        assert_eq!(c.dedup_table.as_deref(), Some("trailwatch-dedup"));
        assert_eq!(c.reader.max_decompressed_bytes, 1 << 20);
        assert_eq!(c.max_concurrent_objects, 8);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "ALERT_TOPIC_ARN"),
            (&[("ALERT_TOPIC_ARN", "alerts")], "ALERT_TOPIC_ARN"),
            (&[TOPIC, ("TRUSTED_ACCOUNTS", "1234")], "TRUSTED_ACCOUNTS"),
            (&[TOPIC, ("DISABLED_RULES", "nope")], "DISABLED_RULES"),
            (&[TOPIC, ("MIN_SEVERITY", "urgent")], "MIN_SEVERITY"),
            (
                &[TOPIC, ("MAX_DECOMPRESSED_BYTES", "lots")],
                "MAX_DECOMPRESSED_BYTES",
            ),
            (
                &[TOPIC, ("MAX_CONCURRENT_OBJECTS", "0")],
                "MAX_CONCURRENT_OBJECTS",
            ),
        ];
        for (vars, variable) in cases {
            let err = config(vars).unwrap_err();
            assert_eq!(err.variable, *variable, "{err}");
            assert!(err.to_string().starts_with(variable));
        }
    }
}
