//! S3 Batch Operations invocations (schema 1.0 and 2.0): one task per object; the response
//! gives each task a result code.

use super::{EventError, ObjectRef, decode_notification_key};
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
                object: batch_object(task),
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

/// Schema 1.0 names the bucket by ARN, 2.0 by name. In both the key comes form-encoded (`+` for
/// a space, `%2B` for a plus), whatever its encoding in the manifest: AWS's Powertools for Lambda
/// decode it with `unquote_plus` for both schemas
/// (aws-powertools/powertools-lambda-python, `data_classes/s3_batch_operation_event.py`), and
/// `trailwatch backfill` writes manifests with URL-encoded keys, as Batch Operations requires.
fn batch_object(task: &Value) -> Result<ObjectRef, EventError> {
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
    let key = decode_notification_key(&bucket, key)?;
    Ok(ObjectRef {
        bucket,
        key,
        size: None,
    })
}
