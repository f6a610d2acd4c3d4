//! The Lambda handler against a real S3/SNS/SQS/DynamoDB API (moto server on 127.0.0.1),
//! through the real AWS SDK clients: what reaches an SQS queue subscribed to the alert topic.

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::{Stack, stack, stratus};
use trailwatch::detector::Alert;
use trailwatch::lambda::Processor;
use trailwatch::lambda::dynamo::DynamoDedupStore;
use trailwatch::lambda::events::ObjectRef;
use trailwatch::lambda::ports::{DedupStore, FetchError, NoDedupStore, ObjectSource, OpenedObject};
use trailwatch::lambda::s3::S3Source;
use trailwatch::lambda::sns::SnsSink;

const PREFIX: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/";

impl Stack {
    /// Everything that reached the alert queue, waiting for `expected` deliveries and then
    /// making sure nothing else follows.
    async fn deliveries(&self, expected: usize) -> Vec<Delivery> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut quiet_polls = 0;
        while Instant::now() < deadline && (out.len() < expected || quiet_polls < 2) {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(if out.len() < expected { 1 } else { 0 })
                .send()
                .await
                .unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                if out.len() >= expected {
                    quiet_polls += 1;
                }
                continue;
            }
            for m in messages {
                out.push(Delivery::from_envelope(m.body.as_deref().unwrap()));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        out
    }
}

#[derive(Debug)]
struct Delivery {
    alert: Alert,
    subject: String,
    attributes: HashMap<String, String>,
}

impl Delivery {
    fn from_envelope(body: &str) -> Self {
        let envelope: Value = serde_json::from_str(body).unwrap();
        let alert: Alert = serde_json::from_str(envelope["Message"].as_str().unwrap())
            .expect("the SNS message body is an alert");
        let attributes = envelope["MessageAttributes"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v["Value"].as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Delivery {
            alert,
            subject: envelope["Subject"].as_str().unwrap_or("").to_owned(),
            attributes,
        }
    }
}

const SHARES: [&str; 4] = [
    "aws.exfiltration.ec2-share-ami",
    "aws.exfiltration.ec2-share-ebs-snapshot",
    "aws.exfiltration.rds-share-snapshot",
    "aws.persistence.lambda-backdoor-function",
];

#[tokio::test]
async fn alerts_reach_subscribers_with_filterable_attributes() {
    let Some(stack) = stack(false).await else {
        return;
    };
    let mut keys = Vec::new();
    for name in SHARES {
        let key = format!("{PREFIX}{name}.json.gz");
        stack.upload(&key, stratus(name)).await;
        keys.push(key);
    }
    let stop = "aws.defense-evasion.cloudtrail-stop";
    let key = format!("{PREFIX}{stop}.json.gz");
    stack.upload(&key, stratus(stop)).await;
    keys.push(key);
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let response = stack
        .processor()
        .handle(stack.s3_notification(&refs))
        .await
        .unwrap();
    // Four shares, and the stopped trail of cloudtrail-stop (cloudtrail-logging-stopped).
    assert_eq!(response["alerts_published"], 5);
    let got = stack.deliveries(5).await;
    assert_eq!(got.len(), 5);
    let (got, stopped): (Vec<&Delivery>, Vec<&Delivery>) = got
        .iter()
        .partition(|d| d.alert.rule_id == "resource-shared-with-external-account");
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0].alert.rule_id, "cloudtrail-logging-stopped");
    assert_eq!(
        stopped[0].subject,
        "[HIGH] CloudTrail trail stopped or deleted"
    );
    assert_eq!(
        stopped[0].attributes["rule_id"],
        "cloudtrail-logging-stopped"
    );
    assert_eq!(got.len(), 4);
    for d in &got {
        assert_eq!(
            d.subject,
            "[HIGH] Resource shared with an unknown external account"
        );
        assert_eq!(
            d.attributes["rule_id"],
            "resource-shared-with-external-account"
        );
        assert_eq!(d.attributes["severity"], "high");
        assert_eq!(d.attributes["event_name"], d.alert.event_name);
        assert_eq!(
            Some(&d.attributes["account_id"]),
            d.alert.account_id.as_ref()
        );
        assert!(
            d.alert
                .log_object
                .location
                .starts_with(&format!("s3://{}/", stack.bucket))
        );
    }
    let mut resources: Vec<String> = got
        .iter()
        .map(|d| {
            d.alert.details["resource_type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        vec!["ami", "ebs-snapshot", "lambda-function", "rds-snapshot"]
    );
}

#[tokio::test]
async fn every_input_shape_reaches_the_same_alert() {
    let Some(stack) = stack(false).await else {
        return;
    };
    let key = format!("{PREFIX}org trail+share.json.gz");
    stack
        .upload(&key, stratus("aws.exfiltration.ec2-share-ami"))
        .await;
    let s3_event = stack.s3_notification(&[&key]);
    let sqs = json!({"Records": [
        {"messageId": "a", "eventSource": "aws:sqs", "body": s3_event.to_string()},
        {"messageId": "b", "eventSource": "aws:sqs", "body": json!({"Type": "Notification",
            "Message": json!({"s3Bucket": stack.bucket, "s3ObjectKey": [key]}).to_string()}).to_string()}
    ]});
    let sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification",
        "Message": json!({"s3Bucket": stack.bucket, "s3ObjectKey": [key]}).to_string()}}]});
    let eventbridge = json!({"detail-type": "Object Created", "source": "aws.s3",
        "detail": {"bucket": {"name": stack.bucket}, "object": {"key": key, "size": 10}}});
    // Batch Operations hands the key over form-encoded (a space as `+`, a plus as `%2B`).
    let batch_key = key.replace('+', "%2B").replace(' ', "+");
    let batch = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "j"},
        "tasks": [{"taskId": "t1", "s3Bucket": stack.bucket, "s3Key": batch_key}]});

    let p = stack.processor();
    assert_eq!(p.handle(s3_event).await.unwrap()["alerts_published"], 1);
    assert_eq!(p.handle(sqs).await.unwrap()["batchItemFailures"], json!([]));
    p.handle(sns).await.unwrap();
    p.handle(eventbridge).await.unwrap();
    let batch_response = p.handle(batch).await.unwrap();
    assert_eq!(batch_response["results"][0]["resultCode"], "Succeeded");
    // No dedup table: one alert per invocation (the SQS batch names the object twice).
    let got = stack.deliveries(5).await;
    assert_eq!(got.len(), 5);
    assert!(
        got.iter()
            .all(|d| d.alert.details["resource"] == "ami-de1fbCab6ccB03e6D")
    );
}

#[tokio::test]
async fn the_dedup_table_suppresses_repeated_deliveries() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let key = format!("{PREFIX}share-ami.json.gz");
    stack
        .upload(&key, stratus("aws.exfiltration.ec2-share-ami"))
        .await;
    let event = stack.s3_notification(&[&key, &key]);
    // Two processors stand for two Lambda instances receiving the same notification.
    stack
        .processor_with_table()
        .handle(event.clone())
        .await
        .unwrap();
    stack
        .processor_with_table()
        .handle(event.clone())
        .await
        .unwrap();
    stack.processor_with_table().handle(event).await.unwrap();
    let got = stack.deliveries(1).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let item = stack
        .ddb
        .get_item()
        .table_name(stack.table.as_ref().unwrap())
        .key("pk", AttributeValue::S(got[0].alert.dedup_key.clone()))
        .send()
        .await
        .unwrap()
        .item
        .expect("claim recorded");
    assert_eq!(item["state"].as_s().unwrap(), "published");
    assert!(item["expires_at"].as_n().unwrap().parse::<u64>().unwrap() > 0);
}

#[tokio::test]
async fn a_corrupt_object_beside_a_good_one() {
    let Some(stack) = stack(false).await else {
        return;
    };
    let good = format!("{PREFIX}good.json.gz");
    let corrupt = format!("{PREFIX}corrupt.json.gz");
    stack
        .upload(&good, stratus("aws.exfiltration.rds-share-snapshot"))
        .await;
    let mut broken = stratus("aws.exfiltration.ec2-share-ebs-snapshot");
    broken.truncate(broken.len() / 2);
    stack.upload(&corrupt, broken).await;
    let response = stack
        .processor()
        .handle(stack.s3_notification(&[&corrupt, &good]))
        .await
        .expect("a permanently bad object is reported, not retried");
    assert_eq!(response["objects"], 2);
    let got = stack.deliveries(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].alert.details["resource"], "exfiltration");
}

/// Fails reads of keys containing "flaky" the way a throttled S3 does.
struct FlakySource(S3Source);

impl ObjectSource for FlakySource {
    async fn open(&self, object: &ObjectRef) -> Result<OpenedObject, FetchError> {
        if object.key.contains("flaky") {
            return Err(FetchError::Transient("SlowDown (HTTP 503)".into()));
        }
        self.0.open(object).await
    }
}

#[tokio::test]
async fn sqs_partial_batch_failure_returns_only_failed_messages() {
    let Some(stack) = stack(false).await else {
        return;
    };
    let good = format!("{PREFIX}good.json.gz");
    let flaky = format!("{PREFIX}flaky.json.gz");
    stack
        .upload(&good, stratus("aws.exfiltration.ec2-share-ami"))
        .await;
    stack
        .upload(&flaky, stratus("aws.exfiltration.rds-share-snapshot"))
        .await;
    let missing = format!("{PREFIX}deleted-meanwhile.json.gz");
    let body = |k: &str| stack.s3_notification(&[k]).to_string();
    let event = json!({"Records": [
        {"messageId": "good", "eventSource": "aws:sqs", "body": body(&good)},
        {"messageId": "flaky", "eventSource": "aws:sqs", "body": body(&flaky)},
        {"messageId": "garbage", "eventSource": "aws:sqs", "body": "{not json"},
        {"messageId": "missing", "eventSource": "aws:sqs", "body": body(&missing)}
    ]});
    let p = Processor::new(
        FlakySource(S3Source::new(stack.s3.clone())),
        stack.sink(),
        NoDedupStore,
        stack.lambda_config(),
    )
    .unwrap();
    let response = p.handle(event).await.unwrap();
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "flaky"}, {"itemIdentifier": "garbage"}])
    );
    let got = stack.deliveries(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].alert.details["resource_type"], "ami");
}

#[tokio::test]
async fn digest_files_and_test_events_are_skipped() {
    let Some(stack) = stack(false).await else {
        return;
    };
    let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/08/01/digest.json.gz";
    stack
        .upload(
            digest,
            br#"{"awsAccountId":"111122223333","digestStartTime":"x","logFiles":[]}"#.to_vec(),
        )
        .await;
    let p = stack.processor();
    p.handle(stack.s3_notification(&[digest])).await.unwrap();
    p.handle(json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": stack.bucket}))
        .await
        .unwrap();
    // A log-looking key whose body is a digest is recognised too.
    let disguised = format!("{PREFIX}digest-body.json.gz");
    stack
        .upload(
            &disguised,
            br#"{"digestStartTime":"2024-01-01T00:00:00Z","logFiles":[]}"#.to_vec(),
        )
        .await;
    p.handle(stack.s3_notification(&[&disguised]))
        .await
        .unwrap();
    assert!(stack.deliveries(0).await.is_empty());
}

#[tokio::test]
async fn a_publish_that_fails_after_the_claim_loses_nothing() {
    use aws_sdk_sns::operation::publish_batch::PublishBatchError;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let Some(stack) = stack(true).await else {
        return;
    };
    let key = format!("{PREFIX}share-snapshot.json.gz");
    stack
        .upload(&key, stratus("aws.exfiltration.ec2-share-ebs-snapshot"))
        .await;
    let event = stack.s3_notification(&[&key]);

    // SNS keeps throttling: the claim is written, the publish fails.
    let throttled = mock!(aws_sdk_sns::Client::publish_batch)
        .sequence()
        .error(|| {
            PublishBatchError::generic(
                aws_sdk_sns::error::ErrorMetadata::builder()
                    .code("Throttling")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let failing_sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&throttled]);
    let failing = Processor::new(
        S3Source::new(stack.s3.clone()),
        SnsSink::new(failing_sns, stack.topic_arn.clone()).with_backoff(Duration::from_millis(1)),
        stack.dedup(),
        stack.lambda_config(),
    )
    .unwrap();
    let err = failing.handle(event.clone()).await.unwrap_err();
    assert!(err.to_string().contains("publish failed"), "{err}");
    assert!(
        throttled.num_calls() >= 2,
        "throttled publishes are retried"
    );
    // The claim was released, so nothing blocks the retry.
    let scan = stack
        .ddb
        .scan()
        .table_name(stack.table.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count, 0);

    // The retry (SNS healthy again) publishes, and a further delivery does not repeat it.
    stack
        .processor_with_table()
        .handle(event.clone())
        .await
        .unwrap();
    stack.processor_with_table().handle(event).await.unwrap();
    let got = stack.deliveries(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].alert.details["resource_type"], "ebs-snapshot");
}

#[tokio::test]
async fn a_claim_left_by_a_killed_run_is_not_mistaken_for_a_publish() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let key = format!("{PREFIX}share-rds.json.gz");
    stack
        .upload(&key, stratus("aws.exfiltration.rds-share-snapshot"))
        .await;
    // A run claims the alert and dies before publishing: its lease (deadline plus margin) has
    // already ended when the retry comes.
    let detector = trailwatch::detector::Detector::new(&Default::default()).unwrap();
    let mut found = Vec::new();
    trailwatch::detector::scan_log(
        std::io::Cursor::new(stratus("aws.exfiltration.rds-share-snapshot")),
        "x",
        &detector,
        Default::default(),
        |a| found.push(a),
    )
    .unwrap();
    let dying = DynamoDedupStore::new(stack.ddb.clone(), stack.table.clone().unwrap());
    dying
        .claim(&found[0], std::time::SystemTime::now())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    stack
        .processor_with_table()
        .handle(stack.s3_notification(&[&key]))
        .await
        .unwrap();
    assert_eq!(stack.deliveries(1).await.len(), 1);
}
