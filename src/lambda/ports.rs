//! The small traits the handler is generic over, so it is tested with in-memory fakes and run
//! with the AWS SDK: where objects come from, where alerts go, and the dedup claims.

use crate::detector::Alert;
use crate::lambda::events::ObjectRef;
use std::future::Future;
use std::io::Read;
use std::time::SystemTime;

/// A log object opened for streaming; read on a blocking thread.
pub struct OpenedObject {
    pub body: Box<dyn Read + Send>,
    pub content_length: Option<u64>,
}

/// Why an object could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The object or bucket does not exist: retrying will not help.
    #[error("not found: {0}")]
    NotFound(String),
    /// Permission missing (usually `s3:GetObject` or `kms:Decrypt` on an SSE-KMS trail).
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// Throttling, 5xx, timeouts, connection failures: retry.
    #[error("transient: {0}")]
    Transient(String),
    /// Any other refusal that a retry will not change.
    #[error("{0}")]
    Permanent(String),
}

/// Where log objects come from (S3 in production).
pub trait ObjectSource: Send + Sync + 'static {
    /// Starts reading an object.
    fn open(
        &self,
        object: &ObjectRef,
    ) -> impl Future<Output = Result<OpenedObject, FetchError>> + Send;
}

/// Where alerts go (SNS in production): the main destination, and optionally others (a chat
/// topic, Security Hub) that [`crate::lambda::delivery`] claims, publishes and confirms one by
/// one, so a failure in one neither loses the alert in another nor repeats it there.
pub trait AlertSink: Send + Sync + 'static {
    /// Publishes `alerts` to the main destination; one result per alert, in order. An `Err`
    /// means the alert was not delivered and the caller must keep it for a retry.
    fn publish(
        &self,
        alerts: &[Alert],
    ) -> impl Future<Output = Vec<Result<(), PublishError>>> + Send;

    /// Names of the other destinations, in order (each prefixes its dedup claims); none unless
    /// overridden.
    fn other_destinations(&self) -> &[&'static str] {
        &[]
    }

    /// Publishes `alerts` to other destination `index` (of [`Self::other_destinations`]); one
    /// result per alert, as [`Self::publish`].
    fn publish_other(
        &self,
        index: usize,
        alerts: &[Alert],
    ) -> impl Future<Output = Vec<Result<(), PublishError>>> + Send {
        let refused = alerts
            .iter()
            .map(|alert| {
                Err(PublishError::new(
                    alert,
                    format!("no destination number {index}"),
                ))
            })
            .collect();
        std::future::ready(refused)
    }
}

/// An alert the sink did not take: the caller keeps it and the object is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("publish failed for a {rule_id} alert of {object}: {detail}")]
pub struct PublishError {
    /// `s3://bucket/key` of the log the alert was found in.
    pub object: String,
    /// The rule that raised the alert.
    pub rule_id: String,
    /// What the sink said (an SNS error code and message).
    pub detail: String,
}

impl PublishError {
    /// `alert` was not delivered because of `detail`.
    pub fn new(alert: &Alert, detail: impl ToString) -> Self {
        PublishError {
            object: alert.log_object.location.clone(),
            rule_id: alert.rule_id.clone(),
            detail: detail.to_string(),
        }
    }
}

/// A dedup-table call that failed, naming the alert's log object: the object is retried (or,
/// after a publish, the claim simply ends with its lease).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call} for a {rule_id} alert of {object}: {detail}")]
pub struct DedupError {
    /// The call that failed, e.g. `DynamoDB PutItem on <table>`.
    pub call: String,
    /// `s3://bucket/key` of the log the alert was found in.
    pub object: String,
    /// The rule that raised the alert.
    pub rule_id: String,
    /// What the store said.
    pub detail: String,
}

impl DedupError {
    /// `call` failed with `detail` while handling `alert`.
    pub fn new(call: impl Into<String>, alert: &Alert, detail: impl ToString) -> Self {
        DedupError {
            call: call.into(),
            object: alert.log_object.location.clone(),
            rule_id: alert.rule_id.clone(),
            detail: detail.to_string(),
        }
    }
}

/// The answer to a dedup claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This run owns the alert: publish it, then confirm (or release on failure).
    Granted { token: String },
    /// The same alert was published within its dedup period: publish nothing.
    AlreadyPublished,
    /// Another run holds an unexpired claim and may still be publishing: try again later.
    Busy,
}

/// Cross-invocation dedup claims (DynamoDB in production).
pub trait DedupStore: Send + Sync + 'static {
    /// Claims the right to publish `alert` until `lease_until`, after which another run may
    /// take the claim over (the handler passes the invocation's deadline plus a margin, so a
    /// lease outlives the run that holds it and no longer).
    fn claim(
        &self,
        alert: &Alert,
        lease_until: SystemTime,
    ) -> impl Future<Output = Result<Claim, DedupError>> + Send;
    /// Marks a claimed alert as published.
    fn confirm(
        &self,
        alert: &Alert,
        token: &str,
    ) -> impl Future<Output = Result<(), DedupError>> + Send;
    /// Gives a claim back after a failed publish, so a retry can publish.
    fn release(
        &self,
        alert: &Alert,
        token: &str,
    ) -> impl Future<Output = Result<(), DedupError>> + Send;
}

/// No table configured: every claim is granted (duplicates within one invocation are still
/// removed by the handler).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDedupStore;

impl DedupStore for NoDedupStore {
    async fn claim(&self, _alert: &Alert, _lease_until: SystemTime) -> Result<Claim, DedupError> {
        Ok(Claim::Granted {
            token: String::new(),
        })
    }
    async fn confirm(&self, _alert: &Alert, _token: &str) -> Result<(), DedupError> {
        Ok(())
    }
    async fn release(&self, _alert: &Alert, _token: &str) -> Result<(), DedupError> {
        Ok(())
    }
}

/// An optional table: `None` is [`NoDedupStore`] (duplicates removed within one invocation
/// only), so a deployment without `DEDUP_TABLE` needs no other type.
impl<D: DedupStore> DedupStore for Option<D> {
    async fn claim(&self, alert: &Alert, lease_until: SystemTime) -> Result<Claim, DedupError> {
        match self {
            Some(store) => store.claim(alert, lease_until).await,
            None => NoDedupStore.claim(alert, lease_until).await,
        }
    }
    async fn confirm(&self, alert: &Alert, token: &str) -> Result<(), DedupError> {
        match self {
            Some(store) => store.confirm(alert, token).await,
            None => NoDedupStore.confirm(alert, token).await,
        }
    }
    async fn release(&self, alert: &Alert, token: &str) -> Result<(), DedupError> {
        match self {
            Some(store) => store.release(alert, token).await,
            None => NoDedupStore.release(alert, token).await,
        }
    }
}
