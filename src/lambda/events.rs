//! Which log objects an invocation names: every input shape the function accepts, read from
//! the JSON itself (event names stay strings, so a new S3 event name cannot break parsing).
//!
//! Shapes: S3 event notifications (keys URL-encoded, `+` is a space), `s3:TestEvent`, SNS
//! envelopes, EventBridge "Object Created" (keys not encoded), CloudTrail's own delivery notice
//! (`{"s3Bucket": ..., "s3ObjectKey": [...]}`), and as outer shapes SQS and SNS Lambda events and
//! S3 Batch Operations jobs (schema 1.0 and 2.0).

use percent_encoding::percent_decode_str;
use serde_json::Value;

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

/// One SQS message and what it names.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    pub message_id: String,
    pub named: Result<Named, String>,
}

/// One S3 Batch Operations task.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchTask {
    pub task_id: String,
    pub object: Result<ObjectRef, String>,
}

/// An S3 Batch Operations invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchJob {
    pub schema_version: String,
    pub invocation_id: String,
    pub tasks: Vec<BatchTask>,
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
pub fn parse_invocation(event: &Value) -> Result<Invocation, String> {
    if let Some(version) = event.get("invocationSchemaVersion").and_then(Value::as_str) {
        return parse_batch(event, version).map(Invocation::Batch);
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
                records
                    .iter()
                    .map(|r| QueueMessage {
                        message_id: r
                            .get("messageId")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        named: match r.get("body").and_then(Value::as_str) {
                            Some(body) => parse_body(body),
                            None => Err("SQS message without a body".into()),
                        },
                    })
                    .collect(),
            ));
        }
        if !records.is_empty() && records.iter().all(|r| source(r) == "aws:sns") {
            let mut named = Named::default();
            for record in records {
                let message = record
                    .get("Sns")
                    .and_then(|s| s.get("Message"))
                    .and_then(Value::as_str)
                    .ok_or("SNS record without Sns.Message")?;
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
pub fn parse_body(body: &str) -> Result<Named, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("message body is not JSON: {e}"))?;
    named_by(&value)
}

/// The objects a notification names, whatever its shape.
pub fn named_by(value: &Value) -> Result<Named, String> {
    let mut named = Named::default();
    // SNS envelope (in SQS bodies, or raw): unwrap and recurse.
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let message = value
            .get("Message")
            .and_then(Value::as_str)
            .ok_or("SNS envelope without Message")?;
        return parse_body(message);
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        named.ignored.push("s3:TestEvent".into());
        return Ok(named);
    }
    // CloudTrail's delivery notice.
    if let Some(bucket) = value.get("s3Bucket").and_then(Value::as_str) {
        let keys = value
            .get("s3ObjectKey")
            .and_then(Value::as_array)
            .ok_or("CloudTrail notice without s3ObjectKey")?;
        for key in keys {
            let key = key.as_str().ok_or("s3ObjectKey holds a non-string")?;
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
            .ok_or("EventBridge event without detail")?;
        let bucket = detail
            .pointer("/bucket/name")
            .and_then(Value::as_str)
            .ok_or("EventBridge detail without bucket.name")?;
        let key = detail
            .pointer("/object/key")
            .and_then(Value::as_str)
            .ok_or("EventBridge detail without object.key")?;
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
                .ok_or("S3 record without s3.bucket.name")?;
            let key = record
                .pointer("/s3/object/key")
                .and_then(Value::as_str)
                .ok_or("S3 record without s3.object.key")?;
            named.objects.push(ObjectRef {
                bucket: bucket.to_owned(),
                key: decode_notification_key(key)?,
                size: record.pointer("/s3/object/size").and_then(Value::as_u64),
            });
        }
        return Ok(named);
    }
    Err("not a notification this function understands (S3, SNS, EventBridge, CloudTrail)".into())
}

/// S3 notification keys are form-encoded: `+` is a space, `%2B` a plus.
pub fn decode_notification_key(key: &str) -> Result<String, String> {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| format!("object key {key:?} is not valid UTF-8 once decoded"))
}

fn parse_batch(event: &Value, version: &str) -> Result<BatchJob, String> {
    let invocation_id = event
        .get("invocationId")
        .and_then(Value::as_str)
        .ok_or("Batch Operations event without invocationId")?
        .to_owned();
    let tasks = event
        .get("tasks")
        .and_then(Value::as_array)
        .ok_or("Batch Operations event without tasks")?;
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

/// Schema 1.0 names the bucket by ARN, 2.0 by name. In both the key comes form-encoded (`+` for
/// a space, `%2B` for a plus), whatever its encoding in the manifest: AWS's Powertools for Lambda
/// decode it with `unquote_plus` for both schemas
/// (aws-powertools/powertools-lambda-python, `data_classes/s3_batch_operation_event.py`), and
/// `trailwatch backfill` writes manifests with URL-encoded keys, as Batch Operations requires.
fn batch_object(task: &Value) -> Result<ObjectRef, String> {
    let key = task
        .get("s3Key")
        .and_then(Value::as_str)
        .ok_or("task without s3Key")?;
    let bucket = match task.get("s3Bucket").and_then(Value::as_str) {
        Some(bucket) => bucket.to_owned(),
        None => task
            .get("s3BucketArn")
            .and_then(Value::as_str)
            .and_then(|arn| arn.rsplit(':').next())
            .ok_or("task without s3Bucket or s3BucketArn")?
            .to_owned(),
    };
    Ok(ObjectRef {
        bucket,
        key: decode_notification_key(key)?,
        size: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1225Z_share ami+1.json.gz";

    fn only_direct(inv: Invocation) -> Named {
        match inv {
            Invocation::Direct(n) => n,
            other => panic!("expected a direct invocation, got {other:?}"),
        }
    }

    #[test]
    fn s3_notification_keys_are_url_decoded() {
        let named = only_direct(parse_invocation(&fixture("s3-notification.json")).unwrap());
        assert_eq!(named.objects.len(), 1);
        assert_eq!(named.objects[0].bucket, "trailwatch-demo-trail");
        assert_eq!(named.objects[0].key, KEY);
        assert_eq!(named.objects[0].size, Some(1000));
    }

    #[test]
    fn eventbridge_keys_are_taken_as_is() {
        let named =
            only_direct(parse_invocation(&fixture("eventbridge-object-created.json")).unwrap());
        assert_eq!(named.objects[0].key, KEY);
    }

    #[test]
    fn sqs_bodies_of_every_shape() {
        let Invocation::Queue(messages) = parse_invocation(&fixture("sqs-mixed.json")).unwrap()
        else {
            panic!("expected SQS")
        };
        let keys: Vec<Vec<String>> = messages
            .iter()
            .map(|m| {
                m.named
                    .as_ref()
                    .map(|n| n.objects.iter().map(|o| o.key.clone()).collect())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(keys[0], vec![KEY.to_string()], "S3 notification");
        assert_eq!(
            keys[1],
            vec![KEY.to_string()],
            "SNS envelope around S3 notification"
        );
        assert_eq!(keys[2], vec![KEY.to_string()], "EventBridge");
        assert_eq!(keys[3].len(), 2, "CloudTrail notice");
        assert!(
            messages[4].named.as_ref().unwrap().objects.is_empty(),
            "test event"
        );
        assert!(messages[5].named.is_err(), "garbage body");
        assert_eq!(messages[5].message_id, "m-garbage");
    }

    #[test]
    fn sns_events_carry_s3_notifications_or_cloudtrail_notices() {
        let named = only_direct(parse_invocation(&fixture("sns-cloudtrail-notice.json")).unwrap());
        assert_eq!(named.objects.len(), 2);
        assert!(
            named
                .objects
                .iter()
                .all(|o| o.bucket == "trailwatch-demo-trail")
        );
    }

    #[test]
    fn batch_jobs_of_both_schemas() {
        let Invocation::Batch(job) = parse_invocation(&fixture("s3-batch-1.0.json")).unwrap()
        else {
            panic!("expected batch")
        };
        assert_eq!(
            job.tasks[0].object.as_ref().unwrap().bucket,
            "trailwatch-demo-trail"
        );
        assert_eq!(job.tasks[0].object.as_ref().unwrap().key, KEY);
        let Invocation::Batch(job) = parse_invocation(&fixture("s3-batch-2.0.json")).unwrap()
        else {
            panic!("expected batch")
        };
        assert_eq!(job.schema_version, "2.0");
        assert_eq!(job.tasks[0].object.as_ref().unwrap().key, KEY);
    }

    #[test]
    fn batch_keys_are_form_decoded_in_both_schemas() {
        for (version, bucket_field, bucket) in [
            ("1.0", "s3BucketArn", "arn:aws:s3:::trail"),
            ("2.0", "s3Bucket", "trail"),
        ] {
            let event = json!({"invocationSchemaVersion": version, "invocationId": "i",
                "tasks": [{"taskId": "t", bucket_field: bucket, "s3Key": "a+b%2Bc%20d%2Ce"}]});
            let Invocation::Batch(job) = parse_invocation(&event).unwrap() else {
                panic!("expected batch")
            };
            let object = job.tasks[0].object.as_ref().unwrap();
            assert_eq!(
                (object.bucket.as_str(), object.key.as_str()),
                ("trail", "a b+c d,e")
            );
        }
    }

    #[test]
    fn test_events_and_other_event_types_are_acknowledged() {
        let named = only_direct(parse_invocation(&fixture("s3-test-event.json")).unwrap());
        assert!(named.objects.is_empty());
        assert_eq!(named.ignored, vec!["s3:TestEvent"]);
        let removed = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]});
        let named = only_direct(parse_invocation(&removed).unwrap());
        assert!(named.objects.is_empty());
        assert!(parse_invocation(&json!({"hello": "world"})).is_err());
    }

    #[test]
    fn plus_and_percent_in_keys() {
        assert_eq!(decode_notification_key("a+b%2Bc%20d").unwrap(), "a b+c d");
        assert!(decode_notification_key("%FF").is_err());
    }
}
