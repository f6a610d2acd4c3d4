//! S3 Batch Operations invocations (schema 1.0 and 2.0): one task per object; the response
//! gives each task a result code.

use super::{EventError, ObjectRef, percent_decoded};
use crate::lambda::outcome::ObjectOutcome;
use serde_json::{Value, json};

/// One S3 Batch Operations task.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchTask {
    pub task_id: String,
    pub object: Result<ObjectRef, EventError>,
}

/// An S3 Batch Operations invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchJob {
    pub schema_version: String,
    pub invocation_id: String,
    pub tasks: Vec<BatchTask>,
}

impl BatchJob {
    /// Reads a job of schema `version`.
    pub(super) fn parse(event: &Value, version: &str) -> Result<BatchJob, EventError> {
        let invocation_id = event
            .get("invocationId")
            .and_then(Value::as_str)
            .ok_or(EventError::Malformed(
                "Batch Operations event without invocationId",
            ))?
            .to_owned();
        let tasks = event
            .get("tasks")
            .and_then(Value::as_array)
            .ok_or(EventError::Malformed(
                "Batch Operations event without tasks",
            ))?;
        let tasks = tasks
            .iter()
            .map(|task| BatchTask {
                task_id: task
                    .get("taskId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                object: batch_object(task, version),
            })
            .collect();
        Ok(BatchJob {
            schema_version: version.to_owned(),
            invocation_id,
            tasks,
        })
    }

    /// The objects of the readable tasks, in task order.
    pub fn objects(&self) -> Vec<ObjectRef> {
        self.tasks
            .iter()
            .filter_map(|t| t.object.clone().ok())
            .collect()
    }

    /// One result per task; `outcomes` are those of [`BatchJob::objects`], in order.
    pub fn response(&self, outcomes: Vec<ObjectOutcome>) -> Value {
        let mut outcomes = outcomes.into_iter();
        let results: Vec<Value> = self
            .tasks
            .iter()
            .map(|task| {
                let (code, text) = match &task.object {
                    Err(problem) => ("PermanentFailure", problem.to_string()),
                    Ok(object) => match outcomes.next() {
                        Some(ObjectOutcome::Scanned(r)) => (
                            "Succeeded",
                            format!(
                                "{} records, {} alerts published",
                                r.records, r.alerts_published
                            ),
                        ),
                        Some(ObjectOutcome::Skipped(why)) => {
                            ("Succeeded", format!("skipped: {why}"))
                        }
                        Some(ObjectOutcome::Permanent(why)) => {
                            ("PermanentFailure", format!("{}: {why}", object.url()))
                        }
                        Some(ObjectOutcome::Transient(why)) => {
                            ("TemporaryFailure", format!("{}: {why}", object.url()))
                        }
                        None => ("TemporaryFailure", "not processed".to_owned()),
                    },
                };
                json!({"taskId": task.task_id, "resultCode": code, "resultString": text})
            })
            .collect();
        json!({
            "invocationSchemaVersion": self.schema_version,
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": self.invocation_id,
            "results": results,
        })
    }
}

/// Schema 1.0 names the bucket by ARN and percent-encodes the key; 2.0 names the bucket and
/// gives the key as is.
fn batch_object(task: &Value, version: &str) -> Result<ObjectRef, EventError> {
    let key = task
        .get("s3Key")
        .and_then(Value::as_str)
        .ok_or(EventError::Malformed("task without s3Key"))?;
    let bucket = match task.get("s3Bucket").and_then(Value::as_str) {
        Some(bucket) => bucket.to_owned(),
        None => task
            .get("s3BucketArn")
            .and_then(Value::as_str)
            .and_then(|arn| arn.rsplit(':').next())
            .ok_or(EventError::Malformed(
                "task without s3Bucket or s3BucketArn",
            ))?
            .to_owned(),
    };
    let key = if version.starts_with('1') {
        percent_decoded(&bucket, key)?
    } else {
        key.to_owned()
    };
    Ok(ObjectRef {
        bucket,
        key,
        size: None,
    })
}
