//! The function's configuration: environment variables and the tuning file named by
//! `TRAILWATCH_CONFIG`, read and validated once at cold start. Environment variables win over
//! the file.

use crate::cli::tuning::{self, LoadedTuning};
use crate::detector::engine::{parse_accounts, parse_organizations, parse_rule_ids, split_list};
use crate::detector::rules::CATALOGUE;
use crate::detector::{DetectorConfig, ReaderConfig, Severity};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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
    /// `TRAILWATCH_CONFIG`: where the tuning file is, when set.
    pub tuning_source: Option<TuningSource>,
}

/// Where the tuning file comes from (`TRAILWATCH_CONFIG`): a file bundled with the function
/// (relative paths are relative to `LAMBDA_TASK_ROOT`) or an S3 object (`s3://bucket/key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TuningSource {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl TuningSource {
    /// Parses the variable's value; `task_root` anchors relative paths.
    pub fn parse(value: &str, task_root: Option<&Path>) -> Result<Self, LambdaConfigError> {
        let value = value.trim();
        if let Some(rest) = value.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                    Ok(TuningSource::S3 {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    })
                }
                _ => Err(bad(
                    "TRAILWATCH_CONFIG",
                    format!("{value:?} is not s3://bucket/key"),
                )),
            };
        }
        let path = Path::new(value);
        Ok(TuningSource::File(match task_root {
            Some(root) if path.is_relative() => root.join(path),
            _ => path.to_owned(),
        }))
    }

    /// Reads and validates the tuning file (and its Sigma directory, always from the
    /// function's bundle: relative to the file, or to `task_root` for an S3 object).
    pub async fn load(
        &self,
        s3: &aws_sdk_s3::Client,
        task_root: Option<&Path>,
    ) -> Result<LoadedTuning, LambdaConfigError> {
        let invalid = |e: tuning::TuningError| bad("TRAILWATCH_CONFIG", e);
        match self {
            TuningSource::File(path) => tuning::load_file(path).map_err(invalid),
            TuningSource::S3 { bucket, key } => {
                let url = format!("s3://{bucket}/{key}");
                let object = s3
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| {
                        bad(
                            "TRAILWATCH_CONFIG",
                            format!("{url}: {}", aws_sdk_s3::error::DisplayErrorContext(e)),
                        )
                    })?;
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| bad("TRAILWATCH_CONFIG", format!("{url}: {e}")))?
                    .into_bytes();
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| bad("TRAILWATCH_CONFIG", format!("{url}: not UTF-8 text")))?;
                tuning::load_text(&text, &url, task_root).map_err(invalid)
            }
        }
    }
}

/// A setting the function cannot start with; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct LambdaConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn bad(variable: &'static str, problem: impl ToString) -> LambdaConfigError {
    LambdaConfigError {
        variable,
        problem: problem.to_string(),
    }
}

impl LambdaConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, LambdaConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LambdaConfigError> {
        Self::from_lookup_with(lookup, None)
    }

    /// Reads the process environment over a loaded tuning file: variables that are set win.
    pub fn from_env_with(tuning: &LoadedTuning) -> Result<Self, LambdaConfigError> {
        Self::from_lookup_with(|name| std::env::var(name).ok(), Some(tuning))
    }

    /// Reads settings through `lookup` over the tuning file's: `TRUSTED_ACCOUNTS` and
    /// `MIN_SEVERITY` replace the file's values, `DISABLED_RULES` adds to the rules it disables.
    pub fn from_lookup_with(
        lookup: impl Fn(&str) -> Option<String>,
        tuning: Option<&LoadedTuning>,
    ) -> Result<Self, LambdaConfigError> {
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
        let mut detector = DetectorConfig::default();
        if let Some(tuning) = tuning {
            tuning.apply(&mut detector);
        }
        if let Some(list) = get("TRUSTED_ACCOUNTS") {
            detector.trusted_accounts =
                parse_accounts(&list).map_err(|e| bad("TRUSTED_ACCOUNTS", e))?;
        }
        if let Some(list) = get("TRUSTED_ORGANIZATIONS") {
            detector.trusted_organizations =
                parse_organizations(&list).map_err(|e| bad("TRUSTED_ORGANIZATIONS", e))?;
        }
        if let Some(list) = get("DISABLED_RULES") {
            let ids = match parse_rule_ids(&list) {
                Ok(ids) => ids,
                // Sigma rules from the tuning file may be disabled too.
                Err(e) => split_list(&list)
                    .map(|id| {
                        let known = CATALOGUE.iter().any(|r| r.meta().id == id)
                            || detector.sigma_rules.rules().iter().any(|r| r.rule_id == id);
                        if known {
                            Ok(id.to_owned())
                        } else {
                            Err(bad("DISABLED_RULES", &e))
                        }
                    })
                    .collect::<Result<BTreeSet<String>, LambdaConfigError>>()?,
            };
            detector.disabled_rules.extend(ids);
        }
        if let Some(s) = get("MIN_SEVERITY") {
            detector.min_severity = s.parse::<Severity>().map_err(|e| bad("MIN_SEVERITY", e))?;
        }
        let tuning_source = get("TRAILWATCH_CONFIG")
            .map(|v| TuningSource::parse(&v, get("LAMBDA_TASK_ROOT").as_deref().map(Path::new)))
            .transpose()?;
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
            detector,
            reader,
            dedup_table: get("DEDUP_TABLE"),
            max_concurrent_objects,
            tuning_source,
        })
    }

    /// True for a FIFO topic, which needs group and deduplication ids.
    pub fn fifo_topic(&self) -> bool {
        self.alert_topic_arn.ends_with(".fifo")
    }
}

#[cfg(test)]
mod tests;
