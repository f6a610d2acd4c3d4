//! Publishing alerts to SNS: message bodies within SNS's size limit, subjects within its rules,
//! attributes for subscription filter policies ([`message`], pure), and the SDK sink:
//! `PublishBatch` in batches of 10 / 256 KiB, per-entry failures retried, FIFO topics supported.

pub mod message;

pub use message::{
    MAX_BODY_BYTES, PreparedMessage, SNS_MAX_BYTES, batches, body_within_limit, prepare,
    prepare_with_body, subject,
};

use crate::detector::Alert;
use crate::lambda::ports::{AlertSink, PublishError};
use crate::lambda::sdk_retry::is_retryable_call;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use std::time::Duration;

/// Attempts at one batch (throttling, 5xx, retryable per-entry failures) before giving up.
const ATTEMPTS: u32 = 4;

/// Publishes to an SNS topic with `PublishBatch`.
#[derive(Debug, Clone)]
pub struct SnsSink {
    client: Client,
    topic_arn: String,
    fifo: bool,
    backoff: Duration,
    /// The message for an alert.
    prepare: fn(&Alert) -> PreparedMessage,
    /// Bodies are per-protocol JSON (`MessageStructure: json`).
    per_protocol: bool,
}

impl SnsSink {
    /// A sink for `topic_arn` (FIFO when it ends in `.fifo`).
    pub fn new(client: Client, topic_arn: String) -> Self {
        let fifo = topic_arn.ends_with(".fifo");
        SnsSink {
            client,
            topic_arn,
            fifo,
            backoff: Duration::from_millis(200),
            prepare,
            per_protocol: true,
        }
    }

    /// Sends `prepare`'s body as it is to every protocol (no `MessageStructure`): the chat
    /// topic's notifications.
    pub fn with_single_body(mut self, prepare: fn(&Alert) -> PreparedMessage) -> Self {
        self.prepare = prepare;
        self.per_protocol = false;
        self
    }

    /// Changes the pause before the first retry (doubles each time); tests shorten it.
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    fn entry(&self, id: usize, m: &PreparedMessage) -> PublishBatchRequestEntry {
        let mut entry = PublishBatchRequestEntry::builder()
            .id(id.to_string())
            .message(&m.body)
            .subject(&m.subject);
        if self.per_protocol {
            entry = entry.message_structure("json");
        }
        for (name, value) in &m.attributes {
            entry = entry.message_attributes(
                *name,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .expect("data type is set"),
            );
        }
        if self.fifo {
            entry = entry
                .message_group_id(&m.group_id)
                .message_deduplication_id(&m.deduplication_id);
        }
        entry.build().expect("id and message are set")
    }

    /// Sends one batch, retrying throttled calls and retryable per-entry failures.
    async fn send_batch(
        &self,
        messages: &[PreparedMessage],
        batch: &[usize],
        results: &mut [Result<(), String>],
    ) {
        let mut pending: Vec<usize> = batch.to_vec();
        let mut delay = self.backoff;
        for attempt in 1..=ATTEMPTS {
            let entries: Vec<PublishBatchRequestEntry> = pending
                .iter()
                .map(|i| self.entry(*i, &messages[*i]))
                .collect();
            let sent = self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await;
            let mut retry = Vec::new();
            match sent {
                Ok(output) => {
                    for ok in output.successful() {
                        if let Some(i) = ok.id().and_then(|id| id.parse::<usize>().ok()) {
                            results[i] = Ok(());
                        }
                    }
                    for failed in output.failed() {
                        let Ok(i) = failed.id().parse::<usize>() else {
                            continue;
                        };
                        let why = format!(
                            "{}: {}",
                            failed.code(),
                            failed.message().unwrap_or("no message")
                        );
                        results[i] = Err(why.clone());
                        if !failed.sender_fault() {
                            retry.push(i);
                        } else {
                            tracing::error!(entry = i, reason = %why, "SNS rejected the alert");
                        }
                    }
                }
                Err(error) => {
                    let code = error.code().unwrap_or("").to_owned();
                    let why = format!("PublishBatch failed: {code} {error}");
                    for i in &pending {
                        results[*i] = Err(why.clone());
                    }
                    if is_retryable_call(&error, &SNS_RETRYABLE_CODES) {
                        retry = pending.clone();
                    } else {
                        tracing::error!(error = %why, "SNS refused the batch");
                    }
                }
            }
            if retry.is_empty() {
                return;
            }
            if attempt < ATTEMPTS {
                tracing::warn!(attempt, entries = retry.len(), "retrying SNS publish");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            pending = retry;
        }
    }
}

/// SNS's codes for throttling, internal errors and a topic key that comes back (the rest is
/// [`crate::lambda::sdk_retry::is_retryable_call`]).
const SNS_RETRYABLE_CODES: [&str; 9] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "KMSThrottling",
    // A topic key re-enabled.
    "KMSDisabled",
    "KMSInvalidState",
];

impl AlertSink for SnsSink {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), PublishError>> {
        let messages: Vec<PreparedMessage> = alerts.iter().map(self.prepare).collect();
        let mut results: Vec<Result<(), String>> = vec![Err("not sent".to_owned()); messages.len()];
        for batch in batches(&messages) {
            self.send_batch(&messages, &batch, &mut results).await;
        }
        results
            .into_iter()
            .zip(alerts)
            .map(|(result, alert)| result.map_err(|detail| PublishError::new(alert, detail)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
