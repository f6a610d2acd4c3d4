//! The handler with in-memory fakes for S3, SNS and the dedup table: every input shape, every
//! failure path, and the dedup guarantees, without a network.

use crate::detector::Alert;
use crate::lambda::config::LambdaConfig;
use crate::lambda::events::ObjectRef;
use crate::lambda::handler::{HandlerError, Processor};
use crate::lambda::ports::{AlertSink, Claim, DedupStore, FetchError, ObjectSource, OpenedObject};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const BUCKET: &str = "trailwatch-demo-trail";
const AMI_KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1225Z_share ami+1.json.gz";
const LAMBDA_KEY: &str = "AWSLogs/o-exampleorg1/444455556666/CloudTrail/eu-west-1/2024/08/01/444455556666_CloudTrail_eu-west-1_20240801T1230Z_lambda.json.gz";

fn fixture_log(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stratus")
            .join(name),
    )
    .unwrap()
}

fn event(name: &str) -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(name),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[derive(Default)]
struct FakeS3 {
    objects: Mutex<HashMap<(String, String), Vec<u8>>>,
    failures: Mutex<HashMap<String, FetchError>>,
    gets: AtomicUsize,
}

impl FakeS3 {
    fn with(self, key: &str, body: Vec<u8>) -> Self {
        self.objects
            .lock()
            .unwrap()
            .insert((BUCKET.into(), key.into()), body);
        self
    }
    fn failing(self, key: &str, error: FetchError) -> Self {
        self.failures.lock().unwrap().insert(key.into(), error);
        self
    }
}

impl ObjectSource for FakeS3 {
    async fn open(&self, object: &ObjectRef) -> Result<OpenedObject, FetchError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        if let Some(e) = self.failures.lock().unwrap().get(&object.key) {
            return Err(e.clone());
        }
        let body = self
            .objects
            .lock()
            .unwrap()
            .get(&(object.bucket.clone(), object.key.clone()))
            .cloned()
            .ok_or_else(|| FetchError::NotFound(object.url()))?;
        Ok(OpenedObject {
            content_length: Some(body.len() as u64),
            body: Box::new(std::io::Cursor::new(body)),
        })
    }
}

#[derive(Default)]
struct FakeSns {
    published: Mutex<Vec<Alert>>,
    /// Fail this many upcoming publishes.
    fail_next: AtomicUsize,
}

impl AlertSink for FakeSns {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), String>> {
        alerts
            .iter()
            .map(|a| {
                if self
                    .fail_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    Err("Throttling: Rate exceeded".into())
                } else {
                    self.published.lock().unwrap().push(a.clone());
                    Ok(())
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    published: bool,
    token: String,
    lease_until: u64,
    expires_at: u64,
}

/// The DynamoDB store's semantics in memory, with a clock the test moves.
#[derive(Default)]
struct FakeTable {
    items: Mutex<HashMap<String, Entry>>,
    now: AtomicU64,
    tokens: AtomicU64,
}

const LEASE: u64 = 300;

impl DedupStore for FakeTable {
    async fn claim(&self, alert: &Alert) -> Result<Claim, String> {
        let now = self.now.load(Ordering::SeqCst);
        let mut items = self.items.lock().unwrap();
        if let Some(e) = items.get(&alert.dedup_key).filter(|e| e.expires_at >= now) {
            if e.published {
                return Ok(Claim::AlreadyPublished);
            }
            if e.lease_until >= now {
                return Ok(Claim::Busy);
            }
        }
        let token = format!("t{}", self.tokens.fetch_add(1, Ordering::SeqCst));
        items.insert(
            alert.dedup_key.clone(),
            Entry {
                published: false,
                token: token.clone(),
                lease_until: now + LEASE,
                expires_at: now + u64::from(alert.dedup_period_minutes) * 60,
            },
        );
        Ok(Claim::Granted { token })
    }
    async fn confirm(&self, alert: &Alert, token: &str) -> Result<(), String> {
        let mut items = self.items.lock().unwrap();
        match items.get_mut(&alert.dedup_key) {
            Some(e) if e.token == token => {
                e.published = true;
                Ok(())
            }
            _ => Err("claim lost".into()),
        }
    }
    async fn release(&self, alert: &Alert, token: &str) -> Result<(), String> {
        let mut items = self.items.lock().unwrap();
        if items
            .get(&alert.dedup_key)
            .is_some_and(|e| e.token == token)
        {
            items.remove(&alert.dedup_key);
        }
        Ok(())
    }
}

fn config() -> LambdaConfig {
    LambdaConfig::from_lookup(|name| {
        (name == "ALERT_TOPIC_ARN").then(|| "arn:aws:sns:us-east-1:111122223333:alerts".to_owned())
    })
    .unwrap()
}

fn processor(s3: FakeS3) -> Processor<FakeS3, FakeSns, FakeTable> {
    Processor::new(s3, FakeSns::default(), FakeTable::default(), config()).unwrap()
}

fn s3_event(keys: &[&str]) -> Value {
    let records: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": urlencode(k), "size": 100}}})
        })
        .collect();
    json!({ "Records": records })
}

fn urlencode(key: &str) -> String {
    key.replace('+', "%2B").replace(' ', "+")
}

fn published(p: &Processor<FakeS3, FakeSns, FakeTable>) -> Vec<Alert> {
    p.sink_for_tests().published.lock().unwrap().clone()
}

#[tokio::test]
async fn an_s3_notification_with_spaces_and_plus_in_the_key_is_scanned() {
    let p = processor(FakeS3::default().with(
        AMI_KEY,
        fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
    ));
    let response = p.handle(event("s3-notification.json")).await.unwrap();
    assert_eq!(response["alerts_published"], 1);
    let alerts = published(&p);
    assert_eq!(alerts[0].rule_id, "resource-shared-with-external-account");
    assert_eq!(
        alerts[0].log_object.location,
        format!("s3://{BUCKET}/{AMI_KEY}")
    );
}

#[tokio::test]
async fn eventbridge_sns_and_cloudtrail_notices_are_scanned() {
    for name in [
        "eventbridge-object-created.json",
        "sns-s3-notification.json",
    ] {
        let p = processor(FakeS3::default().with(
            AMI_KEY,
            fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
        ));
        p.handle(event(name)).await.unwrap();
        assert_eq!(published(&p).len(), 1, "{name}");
    }
    let p = processor(
        FakeS3::default()
            .with(
                AMI_KEY,
                fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
            )
            .with(
                LAMBDA_KEY,
                fixture_log("aws.persistence.lambda-backdoor-function.json.gz"),
            ),
    );
    p.handle(event("sns-cloudtrail-notice.json")).await.unwrap();
    assert_eq!(published(&p).len(), 2);
}

#[tokio::test]
async fn a_corrupt_object_beside_a_good_one_loses_nothing_and_is_not_retried() {
    let corrupt = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/corrupt.json.gz";
    let p = processor(
        FakeS3::default()
            .with(
                AMI_KEY,
                fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
            )
            .with(corrupt, vec![0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad]),
    );
    let response = p.handle(s3_event(&[corrupt, AMI_KEY])).await.unwrap();
    assert_eq!(response["objects"], 2);
    assert_eq!(published(&p).len(), 1);
}

#[tokio::test]
async fn transient_failures_fail_the_invocation_for_a_retry() {
    let p = processor(
        FakeS3::default()
            .with(
                AMI_KEY,
                fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
            )
            .failing(
                LAMBDA_KEY,
                FetchError::Transient("SlowDown (HTTP 503)".into()),
            ),
    );
    let err = p
        .handle(s3_event(&[AMI_KEY, LAMBDA_KEY]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HandlerError::Retry {
                failed: 1,
                total: 2,
                ..
            }
        ),
        "{err}"
    );
    // The good object's alert went out anyway.
    assert_eq!(published(&p).len(), 1);
}

#[tokio::test]
async fn access_denied_is_retried_and_says_what_is_missing() {
    let p = processor(FakeS3::default().failing(AMI_KEY, FetchError::AccessDenied("403".into())));
    let err = p.handle(s3_event(&[AMI_KEY])).await.unwrap_err();
    assert!(err.to_string().contains("kms:Decrypt"), "{err}");
}

#[tokio::test]
async fn missing_objects_digests_insights_and_empty_objects_are_acknowledged() {
    let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/08/01/d.json.gz";
    let insight = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/08/01/i.json.gz";
    let missing = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/gone.json.gz";
    let empty = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/empty.json.gz";
    let s3 = FakeS3::default().with(empty, Vec::new());
    let p = processor(s3);
    p.handle(s3_event(&[digest, insight, missing, empty]))
        .await
        .unwrap();
    // Only the missing and the empty log were fetched; digest and Insight keys never are.
    assert_eq!(p.source_for_tests().gets.load(Ordering::SeqCst), 2);
    p.handle(event("s3-test-event.json")).await.unwrap();
    p.handle(event("s3-notification-digest.json"))
        .await
        .unwrap();
    assert!(published(&p).is_empty());
}

#[tokio::test]
async fn sqs_reports_only_the_failed_messages() {
    let p = processor(
        FakeS3::default()
            .with(
                AMI_KEY,
                fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
            )
            .failing(
                LAMBDA_KEY,
                FetchError::Transient("InternalError (HTTP 500)".into()),
            ),
    );
    let response = p.handle(event("sqs-mixed.json")).await.unwrap();
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    // m-cloudtrail names the transiently failing object; m-garbage cannot be read at all.
    assert_eq!(failed, vec!["m-cloudtrail", "m-garbage"]);
    // Four messages name the same AMI log: its alert is published once.
    assert_eq!(published(&p).len(), 1);
}

#[tokio::test]
async fn batch_operations_answer_per_task() {
    for name in ["s3-batch-1.0.json", "s3-batch-2.0.json"] {
        let p = processor(FakeS3::default().with(
            AMI_KEY,
            fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
        ));
        let response = p.handle(event(name)).await.unwrap();
        assert_eq!(
            response["results"][0]["resultCode"], "Succeeded",
            "{name}: {response}"
        );
        assert_eq!(
            response["invocationId"],
            "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo"
        );
        assert_eq!(response["treatMissingKeysAs"], "PermanentFailure");
    }
    let mut job = event("s3-batch-2.0.json");
    job["tasks"] = json!([
        {"taskId": "ok", "s3Bucket": BUCKET, "s3Key": AMI_KEY},
        {"taskId": "missing", "s3Bucket": BUCKET, "s3Key": "AWSLogs/1/CloudTrail/x/gone.json.gz"},
        {"taskId": "slow", "s3Bucket": BUCKET, "s3Key": LAMBDA_KEY},
        {"taskId": "broken"}
    ]);
    let p = processor(
        FakeS3::default()
            .with(
                AMI_KEY,
                fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
            )
            .failing(LAMBDA_KEY, FetchError::Transient("503".into())),
    );
    let response = p.handle(job).await.unwrap();
    let codes: Vec<&str> = response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resultCode"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![
            "Succeeded",
            "PermanentFailure",
            "TemporaryFailure",
            "PermanentFailure"
        ]
    );
}

#[tokio::test]
async fn a_repeated_delivery_publishes_nothing_new() {
    let p = processor(FakeS3::default().with(
        AMI_KEY,
        fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
    ));
    p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    p.handle(event("eventbridge-object-created.json"))
        .await
        .unwrap();
    assert_eq!(published(&p).len(), 1);
    // After the rule's dedup period the same share alerts again.
    p.dedup_for_tests().now.store(121 * 60, Ordering::SeqCst);
    p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    assert_eq!(published(&p).len(), 2);
}

#[tokio::test]
async fn a_failed_publish_releases_its_claim_and_the_retry_publishes_once() {
    let p = processor(FakeS3::default().with(
        AMI_KEY,
        fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
    ));
    p.sink_for_tests().fail_next.store(1, Ordering::SeqCst);
    let err = p.handle(s3_event(&[AMI_KEY])).await.unwrap_err();
    assert!(err.to_string().contains("publish failed"), "{err}");
    assert!(published(&p).is_empty());
    assert!(
        p.dedup_for_tests().items.lock().unwrap().is_empty(),
        "claim released"
    );
    p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    assert_eq!(published(&p).len(), 1);
}

#[tokio::test]
async fn a_run_killed_between_claim_and_publish_is_completed_by_a_retry_after_the_lease() {
    let p = processor(FakeS3::default().with(
        AMI_KEY,
        fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
    ));
    // A first run found the alert and claimed it, then died before publishing.
    let mut found = Vec::new();
    let detector = crate::detector::Detector::new(&Default::default()).unwrap();
    crate::detector::scan_log(
        std::io::Cursor::new(fixture_log("aws.exfiltration.ec2-share-ami.json.gz")),
        "x",
        &detector,
        Default::default(),
        |a| found.push(a),
    )
    .unwrap();
    let Claim::Granted { .. } = p.dedup_for_tests().claim(&found[0]).await.unwrap() else {
        panic!("first claim is granted")
    };
    // A retry inside the lease must not publish (the first run might) and must not give up.
    assert!(p.handle(s3_event(&[AMI_KEY])).await.is_err());
    assert!(published(&p).is_empty());
    // Once the lease has run out, the retry publishes exactly once.
    p.dedup_for_tests().now.store(LEASE + 1, Ordering::SeqCst);
    p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    assert_eq!(published(&p).len(), 1);
}

#[tokio::test]
async fn concurrency_is_bounded_and_order_kept() {
    let keys: Vec<String> = (0..12)
        .map(|i| format!("AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/f{i}.json.gz"))
        .collect();
    let mut s3 = FakeS3::default();
    for (i, k) in keys.iter().enumerate() {
        let log = if i % 2 == 0 {
            "aws.exfiltration.ec2-share-ami.json.gz"
        } else {
            "aws.defense-evasion.cloudtrail-stop.json.gz"
        };
        s3 = s3.with(k, fixture_log(log));
    }
    let p = processor(s3);
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    p.handle(s3_event(&refs)).await.unwrap();
    // Six copies of one share and six of one stopped trail in one invocation: one alert each.
    let mut rules: Vec<String> = published(&p).into_iter().map(|a| a.rule_id).collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "cloudtrail-logging-stopped",
            "resource-shared-with-external-account"
        ]
    );
}
