//! Which log objects an invocation names: every input shape the function accepts, read from
//! the JSON itself (event names stay strings, so a new S3 event name cannot break parsing).
//!
//! Shapes: S3 event notifications (keys URL-encoded, `+` is a space), `s3:TestEvent`, SNS
//! envelopes, EventBridge "Object Created" (keys not encoded), CloudTrail's own delivery notice
//! (`{"s3Bucket": ..., "s3ObjectKey": [...]}`), and as outer shapes SQS and SNS Lambda events and
//! S3 Batch Operations jobs (schema 1.0 and 2.0).

mod batch;
mod queue;

pub use batch::{BatchJob, BatchTask};
pub use queue::{QueueMessage, QueueWork};

use crate::lambda::outcome::ObjectOutcome;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

/// Why an invocation, a message or a task names no object this function can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A message body (SQS body, SNS message) that is not JSON at all.
    #[error("message body is not JSON: {0}")]
    NotJson(String),
    /// A known shape with a field missing or of the wrong type (the text names it).
    #[error("{0}")]
    Malformed(&'static str),
    /// JSON of no shape this function accepts.
    #[error("not a notification this function understands (S3, SNS, EventBridge, CloudTrail)")]
    Unrecognised,
    /// A percent-encoded key that is not UTF-8 once decoded; `object` is `s3://bucket/key` with
    /// the key as received.
    #[error("object key of {object} is not valid UTF-8 once decoded")]
    UndecodableKey { object: String },
}

/// An invocation the handler cannot work with at all, or one whose objects must be retried.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("unrecognised invocation: {0}")]
    Unrecognised(#[from] EventError),
    #[error("{failed} of {total} objects must be retried: {first}")]
    Retry {
        failed: usize,
        total: usize,
        first: String,
    },
}

/// One S3 object to scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// Size when the notification states it (0 means an empty object: nothing to read).
    pub size: Option<u64>,
}

impl ObjectRef {
    /// `s3://bucket/key`, for logs and alerts.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// What a message or event body named.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Named {
    pub objects: Vec<ObjectRef>,
    /// Entries acknowledged without work (test events, other event types), for debug logs.
    pub ignored: Vec<String>,
}

/// An invocation, by outer shape: it decides the response.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Direct S3, SNS or EventBridge invocation: fail the whole invocation to be retried.
    Direct(Named),
    /// SQS batch: reply with `batchItemFailures`.
    Queue(Vec<QueueMessage>),
    /// S3 Batch Operations: reply per task.
    Batch(BatchJob),
}

/// Reads the outer shape of an invocation payload.
pub fn parse_invocation(event: &Value) -> Result<Invocation, EventError> {
    if let Some(version) = event.get("invocationSchemaVersion").and_then(Value::as_str) {
        return BatchJob::parse(event, version).map(Invocation::Batch);
    }
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let source = |r: &Value| {
            r.get("eventSource")
                .or_else(|| r.get("EventSource"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        if !records.is_empty() && records.iter().all(|r| source(r) == "aws:sqs") {
            return Ok(Invocation::Queue(
                records.iter().map(QueueMessage::parse).collect(),
            ));
        }
        if !records.is_empty() && records.iter().all(|r| source(r) == "aws:sns") {
            let mut named = Named::default();
            for record in records {
                let message = record
                    .get("Sns")
                    .and_then(|s| s.get("Message"))
                    .and_then(Value::as_str)
                    .ok_or(EventError::Malformed("SNS record without Sns.Message"))?;
                let inner = parse_body(message)?;
                named.objects.extend(inner.objects);
                named.ignored.extend(inner.ignored);
            }
            return Ok(Invocation::Direct(named));
        }
    }
    named_by(event).map(Invocation::Direct)
}

/// Reads a message body (SQS body or SNS message): JSON naming objects.
pub fn parse_body(body: &str) -> Result<Named, EventError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    named_by(&value)
}

/// The objects a notification names, whatever its shape.
pub fn named_by(value: &Value) -> Result<Named, EventError> {
    let mut named = Named::default();
    // SNS envelope (in SQS bodies, or raw): unwrap and recurse.
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let message = value
            .get("Message")
            .and_then(Value::as_str)
            .ok_or(EventError::Malformed("SNS envelope without Message"))?;
        return parse_body(message);
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        named.ignored.push("s3:TestEvent".into());
        return Ok(named);
    }
    // CloudTrail's delivery notice.
    if let Some(bucket) = value.get("s3Bucket").and_then(Value::as_str) {
        let keys =
            value
                .get("s3ObjectKey")
                .and_then(Value::as_array)
                .ok_or(EventError::Malformed(
                    "CloudTrail notice without s3ObjectKey",
                ))?;
        for key in keys {
            let key = key
                .as_str()
                .ok_or(EventError::Malformed("s3ObjectKey holds a non-string"))?;
            named.objects.push(ObjectRef {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                size: None,
            });
        }
        return Ok(named);
    }
    // EventBridge: S3 "Object Created" (keys are not URL-encoded).
    if let Some(detail_type) = value.get("detail-type").and_then(Value::as_str) {
        if detail_type != "Object Created" {
            named.ignored.push(format!("EventBridge {detail_type}"));
            return Ok(named);
        }
        let detail = value
            .get("detail")
            .ok_or(EventError::Malformed("EventBridge event without detail"))?;
        let bucket = detail
            .pointer("/bucket/name")
            .and_then(Value::as_str)
            .ok_or(EventError::Malformed(
                "EventBridge detail without bucket.name",
            ))?;
        let key = detail
            .pointer("/object/key")
            .and_then(Value::as_str)
            .ok_or(EventError::Malformed(
                "EventBridge detail without object.key",
            ))?;
        named.objects.push(ObjectRef {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: detail.pointer("/object/size").and_then(Value::as_u64),
        });
        return Ok(named);
    }
    // S3 event notification.
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        for record in records {
            let event_name = record
                .get("eventName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if record.get("eventSource").and_then(Value::as_str) != Some("aws:s3") {
                named
                    .ignored
                    .push(format!("record from {:?}", record.get("eventSource")));
                continue;
            }
            if !event_name.starts_with("ObjectCreated:") {
                named.ignored.push(event_name.to_owned());
                continue;
            }
            let bucket = record
                .pointer("/s3/bucket/name")
                .and_then(Value::as_str)
                .ok_or(EventError::Malformed("S3 record without s3.bucket.name"))?;
            let key = record
                .pointer("/s3/object/key")
                .and_then(Value::as_str)
                .ok_or(EventError::Malformed("S3 record without s3.object.key"))?;
            named.objects.push(ObjectRef {
                bucket: bucket.to_owned(),
                key: decode_notification_key(bucket, key)?,
                size: record.pointer("/s3/object/size").and_then(Value::as_u64),
            });
        }
        return Ok(named);
    }
    Err(EventError::Unrecognised)
}

/// S3 notification keys are form-encoded: `+` is a space, `%2B` a plus.
pub fn decode_notification_key(bucket: &str, key: &str) -> Result<String, EventError> {
    percent_decoded(bucket, &key.replace('+', " "))
}

/// A percent-encoded key, decoded; the error names the object as received.
fn percent_decoded(bucket: &str, key: &str) -> Result<String, EventError> {
    percent_decode_str(key)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| EventError::UndecodableKey {
            object: format!("s3://{bucket}/{key}"),
        })
}

impl Named {
    /// Logs what was acknowledged without work (at debug level), naming the SQS message when
    /// there is one.
    pub fn log_ignored(&self, message_id: Option<&str>) {
        for ignored in &self.ignored {
            tracing::debug!(message_id = message_id.unwrap_or(""), entry = %ignored, "acknowledged without work");
        }
    }

    /// The response to a direct invocation: a summary, or an error that makes Lambda (or the
    /// SNS/EventBridge caller) retry the whole invocation when any object must be retried.
    pub fn response(
        &self,
        outcomes: &[ObjectOutcome],
        alerts_published: u64,
    ) -> Result<Value, HandlerError> {
        let failed: Vec<String> = self
            .objects
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| o.is_transient())
            .map(|(obj, o)| format!("{}: {o:?}", obj.url()))
            .collect();
        if let Some(first) = failed.first() {
            return Err(HandlerError::Retry {
                failed: failed.len(),
                total: self.objects.len(),
                first: first.clone(),
            });
        }
        Ok(json!({ "objects": self.objects.len(), "alerts_published": alerts_published }))
    }
}

#[cfg(test)]
mod tests;
