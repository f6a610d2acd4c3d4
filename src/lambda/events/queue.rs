//! SQS invocations: one message per record, each body naming objects; the response lists the
//! messages to retry (`batchItemFailures`, the function's event source mapping must have
//! `ReportBatchItemFailures` on).

use super::{EventError, Named, ObjectRef, parse_body};
use crate::lambda::outcome::ObjectOutcome;
use serde_json::{Value, json};

/// One SQS message and what it names.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    pub message_id: String,
    pub named: Result<Named, EventError>,
}

impl QueueMessage {
    /// Reads one SQS record of the invocation.
    pub(super) fn parse(record: &Value) -> QueueMessage {
        QueueMessage {
            message_id: record
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            named: match record.get("body").and_then(Value::as_str) {
                Some(body) => parse_body(body),
                None => Err(EventError::Malformed("SQS message without a body")),
            },
        }
    }
}

/// The objects a batch of messages names, with the message each came from.
#[derive(Debug, Default)]
pub struct QueueWork {
    /// Every object named, in message order.
    pub objects: Vec<ObjectRef>,
    /// For each object, the index of its message.
    owner: Vec<usize>,
    /// Messages that could not be read: retried (then dead-lettered) whatever else happens.
    unreadable: Vec<usize>,
}

impl QueueWork {
    /// Collects the objects of `messages`, logging unreadable messages and ignored entries.
    pub fn of(messages: &[QueueMessage]) -> QueueWork {
        let mut work = QueueWork::default();
        for (i, message) in messages.iter().enumerate() {
            match &message.named {
                Ok(named) => {
                    named.log_ignored(Some(&message.message_id));
                    work.objects.extend(named.objects.iter().cloned());
                    work.owner
                        .extend(std::iter::repeat_n(i, named.objects.len()));
                }
                Err(problem) => {
                    // Unreadable messages go back to the queue and, after the redrive count,
                    // to the dead-letter queue where someone can look at them.
                    tracing::error!(message_id = %message.message_id, %problem, "unreadable SQS message");
                    work.unreadable.push(i);
                }
            }
        }
        work
    }

    /// `batchItemFailures`: the unreadable messages and those with an object to retry.
    pub fn response(&self, messages: &[QueueMessage], outcomes: &[ObjectOutcome]) -> Value {
        let mut failures = self.unreadable.clone();
        for (outcome, message_index) in outcomes.iter().zip(&self.owner) {
            if outcome.is_transient() && !failures.contains(message_index) {
                failures.push(*message_index);
            }
        }
        failures.sort_unstable();
        json!({ "batchItemFailures": failures.iter().map(|i| json!({"itemIdentifier": messages[*i].message_id})).collect::<Vec<_>>() })
    }
}
