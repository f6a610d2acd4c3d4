//! Reading the tuning file from its source (bundled file, S3 object, SSM parameter) and
//! re-reading it every few minutes with keep-last-good: checked at the start of an invocation
//! (Lambda freezes the container between invocations, so no background task), cheap when the
//! source is unchanged (S3 `If-None-Match` on the ETag, SSM's parameter `Version`, a file's
//! digest), and a bad new version leaves the last good detector running, logged and counted.

use crate::detector::Detector;
use crate::lambda::config::{LambdaConfig, LambdaConfigError, TuningSource};
use crate::lambda::handler::Processor;
use crate::lambda::ports::{AlertSink, DedupStore, ObjectSource};
use crate::lambda::tuning_metrics::ReloadOutcome;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The clients a tuning source may need.
#[derive(Debug, Clone)]
pub struct TuningClients {
    pub s3: aws_sdk_s3::Client,
    pub ssm: aws_sdk_ssm::Client,
}

/// One read of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The source still has the version the caller knows.
    Unchanged,
    /// The source's text and its version tag (ETag, parameter version, or content digest).
    Changed { text: String, version: String },
}

/// Reads `source`; with `known` (the version in use), an unchanged source is not downloaded
/// (S3) or not handed back for parsing (SSM, file).
pub async fn fetch(
    source: &TuningSource,
    clients: &TuningClients,
    known: Option<&str>,
) -> Result<Fetched, LambdaConfigError> {
    let origin = source.describe();
    let failed = |problem: String| LambdaConfigError {
        variable: "TRAILWATCH_CONFIG",
        problem: format!("{origin}: {problem}"),
    };
    let (text, version) = match source {
        TuningSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
            let version = content_digest(&text);
            (text, version)
        }
        TuningSource::S3 { bucket, key } => {
            let mut request = clients.s3.get_object().bucket(bucket).key(key);
            if let Some(etag) = known {
                request = request.if_none_match(etag);
            }
            let object = match request.send().await {
                Ok(object) => object,
                // 304 Not Modified: the ETag still matches.
                Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(304) => {
                    return Ok(Fetched::Unchanged);
                }
                Err(e) => {
                    return Err(failed(
                        aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
                    ));
                }
            };
            let etag = object.e_tag().map(str::to_owned);
            if etag.is_some() && etag.as_deref() == known {
                return Ok(Fetched::Unchanged);
            }
            let bytes = object
                .body
                .collect()
                .await
                .map_err(|e| failed(e.to_string()))?
                .into_bytes();
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| failed("not UTF-8 text".to_owned()))?;
            let version = etag.unwrap_or_else(|| content_digest(&text));
            (text, version)
        }
        TuningSource::Ssm { name } => {
            let output = clients
                .ssm
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| failed(aws_sdk_ssm::error::DisplayErrorContext(e).to_string()))?;
            let parameter = output
                .parameter
                .ok_or_else(|| failed("GetParameter returned no parameter".to_owned()))?;
            let version = format!("version {}", parameter.version);
            if known == Some(version.as_str()) {
                return Ok(Fetched::Unchanged);
            }
            (parameter.value.unwrap_or_default(), version)
        }
    };
    if known == Some(version.as_str()) {
        return Ok(Fetched::Unchanged);
    }
    Ok(Fetched::Changed { text, version })
}

fn content_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Looks up an environment variable (the process environment, or a map in tests).
pub type Environment = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The tuning source of a running function, with the version in use and when it was checked.
pub struct TuningReloader {
    source: TuningSource,
    clients: TuningClients,
    task_root: Option<PathBuf>,
    interval: Option<Duration>,
    /// The environment, read again on each reload: its variables win over the file.
    env: Box<Environment>,
    state: tokio::sync::Mutex<ReloadState>,
    parses: AtomicU64,
    failures: AtomicU64,
}

struct ReloadState {
    /// Version of the tuning file the running detector was built from.
    version: Option<String>,
    checked_at: Instant,
}

impl TuningReloader {
    /// A reloader for `source`, re-read every `interval` (`None`: never).
    pub fn new(
        source: TuningSource,
        clients: TuningClients,
        task_root: Option<PathBuf>,
        interval: Option<Duration>,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        TuningReloader {
            source,
            clients,
            task_root,
            interval,
            env: Box::new(env),
            state: tokio::sync::Mutex::new(ReloadState {
                version: None,
                checked_at: Instant::now(),
            }),
            parses: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Cold start: reads and validates the file and builds the function's configuration over
    /// it (the environment wins). An error here stops the function from starting.
    pub async fn load_initial(&self) -> Result<LambdaConfig, LambdaConfigError> {
        let Fetched::Changed { text, version } = fetch(&self.source, &self.clients, None).await?
        else {
            return Err(LambdaConfigError {
                variable: "TRAILWATCH_CONFIG",
                problem: format!(
                    "{}: answered \"not modified\" to a first read",
                    self.source.describe()
                ),
            });
        };
        let config = self.configure(&text)?;
        let mut state = self.state.lock().await;
        state.version = Some(version);
        state.checked_at = Instant::now();
        Ok(config)
    }

    /// Parses a version of the file and builds the configuration over it.
    fn configure(&self, text: &str) -> Result<LambdaConfig, LambdaConfigError> {
        self.parses.fetch_add(1, Ordering::Relaxed);
        let tuning = self.source.parse_text(text, self.task_root.as_deref())?;
        for refusal in &tuning.refused {
            tracing::warn!(refusal = %refusal, "Sigma rule refused");
        }
        LambdaConfig::from_lookup_with(|name| (self.env)(name), Some(&tuning))
    }

    /// When due at `now`, re-reads the source; a changed valid version gives the detector to
    /// install, anything wrong leaves the running one (and is counted).
    pub async fn check_at(&self, now: Instant) -> (ReloadOutcome, Option<Arc<Detector>>) {
        let Some(interval) = self.interval else {
            return (ReloadOutcome::NotDue, None);
        };
        let mut state = self.state.lock().await;
        if now.saturating_duration_since(state.checked_at) < interval {
            return (ReloadOutcome::NotDue, None);
        }
        state.checked_at = now;
        let fetched = fetch(&self.source, &self.clients, state.version.as_deref()).await;
        let built = match fetched {
            Ok(Fetched::Unchanged) => return (ReloadOutcome::Unchanged, None),
            Ok(Fetched::Changed { text, version }) => self
                .configure(&text)
                .and_then(|config| {
                    Detector::new(&config.detector).map_err(|e| LambdaConfigError {
                        variable: "TRAILWATCH_CONFIG",
                        problem: e.to_string(),
                    })
                })
                .map(|detector| (detector, version)),
            Err(e) => Err(e),
        };
        match built {
            Ok((detector, version)) => {
                state.version = Some(version.clone());
                (
                    ReloadOutcome::Reloaded { version },
                    Some(Arc::new(detector)),
                )
            }
            Err(e) => {
                // The bad version is not remembered: it is read again at the next check, so
                // the failure metric (and its alarm) lasts as long as the bad version does.
                self.failures.fetch_add(1, Ordering::Relaxed);
                (ReloadOutcome::Failed(e.to_string()), None)
            }
        }
    }

    /// Re-reads the source when due and swaps the processor's detector for a good new
    /// version; logs and emits the outcome. Called at the start of an invocation.
    pub async fn refresh<S, K, D>(&self, processor: &Processor<S, K, D>) -> ReloadOutcome
    where
        S: ObjectSource,
        K: AlertSink,
        D: DedupStore,
    {
        let (outcome, detector) = self.check_at(Instant::now()).await;
        if let Some(detector) = detector {
            processor.replace_detector(detector);
        }
        match &outcome {
            ReloadOutcome::Reloaded { version } => {
                tracing::info!(source = %self.source.describe(), %version, "tuning file reloaded");
            }
            ReloadOutcome::Failed(error) => {
                tracing::error!(
                    source = %self.source.describe(), %error,
                    "tuning file reload failed; the last good version stays in use"
                );
            }
            ReloadOutcome::NotDue | ReloadOutcome::Unchanged => {}
        }
        outcome.emit();
        outcome
    }

    /// Versions of the file parsed so far (the cold-start one included).
    pub fn parses(&self) -> u64 {
        self.parses.load(Ordering::Relaxed)
    }

    /// Re-reads that failed so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}
