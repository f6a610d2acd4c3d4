//! The function's configuration: environment variables and the tuning file named by
//! `TRAILWATCH_CONFIG`, read and validated once at cold start. Environment variables win over
//! the file.

use crate::cli::tuning::{self, LoadedTuning};
use crate::detector::engine::{parse_accounts, parse_organizations, parse_rule_ids, split_list};
use crate::detector::rules::CATALOGUE;
use crate::detector::{DetectorConfig, ReaderConfig, Severity};
use crate::formats::asff::Importer;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// `CHAT_TOPIC_ARN`: a second topic for AWS Chatbot / Amazon Q Developer custom
    /// notifications, when set.
    pub chat_topic_arn: Option<String>,
    /// `SECURITY_HUB=true`: where findings are imported: the default product of the alert
    /// topic's account, in the function's own region (`AWS_REGION`).
    pub security_hub: Option<Importer>,
    /// `CONFIG_RELOAD_SECONDS` (default 300): how often the tuning file is re-read, checked at
    /// the start of an invocation; `None` (0) reads it only at cold start.
    pub config_reload_interval: Option<Duration>,
}

/// Where the tuning file comes from (`TRAILWATCH_CONFIG`): a file bundled with the function
/// (relative paths are relative to `LAMBDA_TASK_ROOT`), an S3 object (`s3://bucket/key`), or an
/// SSM parameter (`ssm:/path/name`, `ssm:name`, or `ssm:arn:aws:ssm:region:account:parameter/name`,
/// read with decryption so a `SecureString` works).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TuningSource {
    File(PathBuf),
    S3 {
        bucket: String,
        key: String,
    },
    /// The parameter's name or ARN, exactly as `GetParameter` takes it.
    Ssm {
        name: String,
    },
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
        if let Some(name) = value.strip_prefix("ssm:") {
            return if is_parameter_name(name) {
                Ok(TuningSource::Ssm {
                    name: name.to_owned(),
                })
            } else {
                Err(bad(
                    "TRAILWATCH_CONFIG",
                    format!(
                        "{value:?} is not ssm:/path/name, ssm:name or ssm:arn:aws:ssm:region:account:parameter/name"
                    ),
                ))
            };
        }
        let path = Path::new(value);
        Ok(TuningSource::File(match task_root {
            Some(root) if path.is_relative() => root.join(path),
            _ => path.to_owned(),
        }))
    }

    /// Where the file comes from, as an error message or a log line names it.
    pub fn describe(&self) -> String {
        match self {
            TuningSource::File(path) => path.display().to_string(),
            TuningSource::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
            TuningSource::Ssm { name } => format!("ssm:{name}"),
        }
    }

    /// Reads and validates the tuning file (and its Sigma directory, always from the
    /// function's bundle: relative to the file, or to `task_root` for an S3 object or an SSM
    /// parameter).
    pub async fn load(
        &self,
        clients: &crate::lambda::reload::TuningClients,
        task_root: Option<&Path>,
    ) -> Result<LoadedTuning, LambdaConfigError> {
        match crate::lambda::reload::fetch(self, clients, None).await? {
            crate::lambda::reload::Fetched::Changed { text, .. } => {
                self.parse_text(&text, task_root)
            }
            crate::lambda::reload::Fetched::Unchanged => Err(bad(
                "TRAILWATCH_CONFIG",
                format!(
                    "{}: answered \"not modified\" to a first read",
                    self.describe()
                ),
            )),
        }
    }

    /// Validates the text read from this source.
    pub fn parse_text(
        &self,
        text: &str,
        task_root: Option<&Path>,
    ) -> Result<LoadedTuning, LambdaConfigError> {
        let base = match self {
            TuningSource::File(path) => path.parent(),
            TuningSource::S3 { .. } | TuningSource::Ssm { .. } => task_root,
        };
        tuning::load_text(text, &self.describe(), base)
            .map_err(|e: tuning::TuningError| bad("TRAILWATCH_CONFIG", e))
    }
}

/// SSM parameter names: letters, digits and `_.-/`, at most 2048 characters with the path
/// (an ARN's name part follows `parameter/`).
fn is_parameter_name(name: &str) -> bool {
    let name = match name.strip_prefix("arn:") {
        Some(arn) => match arn.split_once(":parameter/") {
            Some((head, rest)) if head.split(':').nth(1) == Some("ssm") => rest,
            _ => return false,
        },
        None => name,
    };
    !name.is_empty()
        && name.len() <= 2048
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
}

/// How often the tuning file is re-read when `CONFIG_RELOAD_SECONDS` is not set.
pub const DEFAULT_CONFIG_RELOAD: Duration = Duration::from_secs(300);

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
        let chat_topic_arn = get("CHAT_TOPIC_ARN");
        if let Some(arn) = &chat_topic_arn
            && (!arn.starts_with("arn:") || !arn.contains(":sns:"))
        {
            return Err(bad(
                "CHAT_TOPIC_ARN",
                format!("{arn:?} is not an SNS topic ARN"),
            ));
        }
        let security_hub = match get("SECURITY_HUB")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false") => None,
            Some("true") => Some(security_hub_importer(&alert_topic_arn, get("AWS_REGION"))?),
            Some(other) => {
                return Err(bad(
                    "SECURITY_HUB",
                    format!("{other:?} is neither true nor false"),
                ));
            }
        };
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
                            || detector.sigma_rules.knows(id);
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
        let config_reload_interval = match get("CONFIG_RELOAD_SECONDS") {
            Some(v) => match v.parse::<u64>() {
                Ok(0) => None,
                Ok(seconds) if seconds <= 86_400 => Some(Duration::from_secs(seconds)),
                _ => {
                    return Err(bad(
                        "CONFIG_RELOAD_SECONDS",
                        format!("{v:?} is not a number of seconds from 0 (never) to 86400"),
                    ));
                }
            },
            None => Some(DEFAULT_CONFIG_RELOAD),
        };
        Ok(LambdaConfig {
            alert_topic_arn,
            detector,
            reader,
            dedup_table: get("DEDUP_TABLE"),
            max_concurrent_objects,
            tuning_source,
            chat_topic_arn,
            security_hub,
            config_reload_interval,
        })
    }

    /// True for a FIFO topic, which needs group and deduplication ids.
    pub fn fifo_topic(&self) -> bool {
        self.alert_topic_arn.ends_with(".fifo")
    }
}

/// Security Hub's importer: the account is the alert topic's (the stacks create the topic
/// beside the function), the region the function's own, where `BatchImportFindings` is
/// called. Alerts about other accounts (an organization trail) are filed under this account,
/// since the default product takes findings only for the account that imports them.
fn security_hub_importer(
    alert_topic_arn: &str,
    region: Option<String>,
) -> Result<Importer, LambdaConfigError> {
    let account_id = alert_topic_arn.split(':').nth(4).unwrap_or("");
    if !crate::detector::arn::is_account_id(account_id) {
        return Err(bad(
            "SECURITY_HUB",
            format!("the account of ALERT_TOPIC_ARN ({account_id:?}) is not a 12-digit account id"),
        ));
    }
    let region = region
        .filter(|r| {
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .ok_or_else(|| {
            bad(
                "SECURITY_HUB",
                "needs AWS_REGION (Lambda sets it) to name the product",
            )
        })?;
    Ok(Importer {
        account_id: account_id.to_owned(),
        region,
        claim_other_accounts: true,
    })
}

#[cfg(test)]
mod tests;
