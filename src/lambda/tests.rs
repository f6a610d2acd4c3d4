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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Bytes of object bodies read so far.
    read: Arc<AtomicUsize>,
}

/// A body that counts what the scanner has read from it.
struct CountingBody {
    inner: std::io::Cursor<Vec<u8>>,
    read: Arc<AtomicUsize>,
}

impl std::io::Read for CountingBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n, Ordering::SeqCst);
        Ok(n)
    }
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
            body: Box::new(CountingBody {
                inner: std::io::Cursor::new(body),
                read: Arc::clone(&self.read),
            }),
        })
    }
}

#[derive(Default)]
struct FakeSns {
    published: Mutex<Vec<Alert>>,
    /// Fail this many upcoming publishes.
    fail_next: AtomicUsize,
    /// Never answer (the process is killed while publishing).
    hang: AtomicBool,
    /// Alerts per `publish` call, and how much of the object had been read at that moment.
    calls: Mutex<Vec<(usize, usize)>>,
    /// Shared with the source: bytes of the object read so far.
    read: Arc<AtomicUsize>,
}

impl AlertSink for FakeSns {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), String>> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.calls
            .lock()
            .unwrap()
            .push((alerts.len(), self.read.load(Ordering::SeqCst)));
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

/// The DynamoDB store's semantics in memory, with a clock (epoch seconds) the test moves.
#[derive(Default)]
struct FakeTable {
    items: Mutex<HashMap<String, Entry>>,
    now: AtomicU64,
    tokens: AtomicU64,
    /// Fail this many upcoming confirms.
    fail_confirms: AtomicUsize,
    /// Never answer a confirm (the process is killed right after a publish).
    hang_confirms: AtomicBool,
    confirms: AtomicUsize,
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The fake table's clock as a `SystemTime`, for deadlines in the same frame.
fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

impl DedupStore for FakeTable {
    async fn claim(&self, alert: &Alert, lease_until: SystemTime) -> Result<Claim, String> {
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
                lease_until: epoch_secs(lease_until),
                expires_at: now + u64::from(alert.dedup_period_minutes) * 60,
            },
        );
        Ok(Claim::Granted { token })
    }
    async fn confirm(&self, alert: &Alert, token: &str) -> Result<(), String> {
        if self.hang_confirms.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.confirms.fetch_add(1, Ordering::SeqCst);
        if self
            .fail_confirms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err("ProvisionedThroughputExceededException".into());
        }
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
    let sns = FakeSns {
        read: Arc::clone(&s3.read),
        ..FakeSns::default()
    };
    Processor::new(s3, sns, FakeTable::default(), config()).unwrap()
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
        // Batch Operations hands keys over form-encoded.
        {"taskId": "ok", "s3Bucket": BUCKET, "s3Key": AMI_KEY.replace('+', "%2B").replace(' ', "+")},
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

fn found_in(log: &str) -> Vec<Alert> {
    let mut found = Vec::new();
    let detector = crate::detector::Detector::new(&Default::default()).unwrap();
    crate::detector::scan_log(
        std::io::Cursor::new(fixture_log(log)),
        "x",
        &detector,
        Default::default(),
        |a| found.push(a),
    )
    .unwrap();
    found
}

#[tokio::test]
async fn a_run_killed_between_claim_and_publish_is_completed_by_a_retry_after_the_lease() {
    let p = processor(FakeS3::default().with(
        AMI_KEY,
        fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
    ));
    // A first run (deadline at 60 s) found the alert and claimed it, then died before publishing.
    let found = found_in("aws.exfiltration.ec2-share-ami.json.gz");
    let lease_until = at(60) + crate::lambda::delivery::LEASE_MARGIN;
    let Claim::Granted { .. } = p
        .dedup_for_tests()
        .claim(&found[0], lease_until)
        .await
        .unwrap()
    else {
        panic!("first claim is granted")
    };
    // A retry inside the lease must not publish (the first run might) and must not give up.
    p.dedup_for_tests().now.store(30, Ordering::SeqCst);
    assert!(p.handle_until(s3_event(&[AMI_KEY]), at(90)).await.is_err());
    assert!(published(&p).is_empty());
    // Once the lease has run out, the retry publishes exactly once.
    p.dedup_for_tests()
        .now
        .store(epoch_secs(lease_until) + 1, Ordering::SeqCst);
    p.handle_until(s3_event(&[AMI_KEY]), at(200)).await.unwrap();
    p.handle_until(s3_event(&[AMI_KEY]), at(200)).await.unwrap();
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

#[path = "../../benches/synth/mod.rs"]
mod synth;

fn burst(records: usize, kind: synth::Burst) -> Vec<u8> {
    let mut gz = Vec::new();
    synth::put_bucket_acl_burst(&mut gz, records, kind).unwrap();
    gz
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_published_in_bounded_batches_while_the_object_is_still_being_read() {
    // Issue 8.1: every alert of an object used to be held until the scan ended.
    let body = burst(5_000, synth::Burst::DistinctKeys);
    let total = body.len();
    let p = processor(FakeS3::default().with(AMI_KEY, body));
    let response = p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    assert_eq!(response["alerts_published"], 5_000);
    assert_eq!(
        published(&p).len(),
        5_000,
        "every distinct alert is published"
    );
    let calls = p.sink_for_tests().calls.lock().unwrap().clone();
    assert!(
        calls
            .iter()
            .all(|(n, _)| *n <= crate::lambda::delivery::PUBLISH_BATCH),
        "batches are bounded"
    );
    let (_, read_at_first_publish) = calls[0];
    assert!(
        read_at_first_publish < total,
        "first publish after {read_at_first_publish} of {total} bytes: alerts must go out while the scan goes on"
    );
}

#[tokio::test]
async fn repeats_of_one_key_in_an_object_are_dropped_before_publishing() {
    let p = processor(FakeS3::default().with(AMI_KEY, burst(10_000, synth::Burst::SameKey)));
    let response = p.handle(s3_event(&[AMI_KEY])).await.unwrap();
    assert_eq!(response["alerts_published"], 1);
    assert_eq!(p.sink_for_tests().calls.lock().unwrap().len(), 1);
    // One claim only: repeats never reach the dedup table.
    assert_eq!(p.dedup_for_tests().tokens.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_confirm_is_retried_so_a_later_delivery_does_not_publish_again() {
    // Issue 8.3: a confirm failure was only logged; the claim stayed pending and a redelivery
    // after the lease published the alert a second time.
    let p = processor(FakeS3::default().with(
        AMI_KEY,
        fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
    ));
    p.dedup_for_tests().fail_confirms.store(2, Ordering::SeqCst);
    p.handle_until(s3_event(&[AMI_KEY]), at(60)).await.unwrap();
    p.dedup_for_tests().now.store(3600, Ordering::SeqCst);
    p.handle_until(s3_event(&[AMI_KEY]), at(3660))
        .await
        .unwrap();
    assert_eq!(published(&p).len(), 1);
}

/// Issue 8.3 fault run: the process is killed right after SNS accepted a batch, before any
/// confirm. Returns (alerts in the object, copies published in all).
async fn killed_after_publish(alerts: usize) -> (usize, usize) {
    let p = processor(FakeS3::default().with(AMI_KEY, burst(alerts, synth::Burst::DistinctKeys)));
    p.dedup_for_tests()
        .hang_confirms
        .store(true, Ordering::SeqCst);
    let killed = tokio::time::timeout(
        Duration::from_millis(500),
        p.handle_until(s3_event(&[AMI_KEY]), at(60)),
    )
    .await;
    assert!(killed.is_err(), "the first run is killed mid-way");
    // The redelivery comes after the killed run's lease.
    p.dedup_for_tests()
        .hang_confirms
        .store(false, Ordering::SeqCst);
    p.dedup_for_tests().now.store(200, Ordering::SeqCst);
    p.handle_until(s3_event(&[AMI_KEY]), at(260)).await.unwrap();
    let copies = published(&p);
    let distinct: std::collections::HashSet<&str> =
        copies.iter().map(|a| a.dedup_key.as_str()).collect();
    assert_eq!(distinct.len(), alerts, "nothing lost");
    (alerts, copies.len())
}

#[tokio::test]
async fn a_kill_after_publish_repeats_at_most_the_batch_in_flight() {
    let (alerts, copies) = killed_after_publish(25).await;
    let duplicates = copies - alerts;
    // Before: all 25 were published before the first confirm, so all 25 came twice. Now only
    // the batch in flight when the process died comes twice (README, "Delivery guarantees").
    assert_eq!(
        duplicates,
        crate::lambda::delivery::PUBLISH_BATCH,
        "{duplicates} duplicates of {alerts}"
    );
}

#[tokio::test]
async fn an_asynchronous_invocation_killed_after_claiming_is_completed_by_lambdas_own_retries() {
    // Issue 8.2. Lambda retries a failed asynchronous invocation twice: about 1 minute after
    // the first failure and 2 minutes after the second (Lambda developer guide, "Error handling
    // and automatic retries in Lambda", asynchronous invocation). After that the event is
    // discarded. Function timeout here: 60 s.
    const TIMEOUT: u64 = 60;
    const RETRY_WAITS: [u64; 2] = [60, 120];
    let p = processor(FakeS3::default().with(
        AMI_KEY,
        fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
    ));
    // Attempt 1 starts at 0, claims the alert and is killed while publishing (at 1 s).
    p.sink_for_tests().hang.store(true, Ordering::SeqCst);
    let killed = tokio::time::timeout(
        Duration::from_millis(300),
        p.handle_until(s3_event(&[AMI_KEY]), at(TIMEOUT)),
    )
    .await;
    assert!(killed.is_err());
    p.sink_for_tests().hang.store(false, Ordering::SeqCst);
    let mut failed_at = 1;
    let mut delivered_on = None;
    for (retry, wait) in RETRY_WAITS.iter().enumerate() {
        let start = failed_at + wait;
        p.dedup_for_tests().now.store(start, Ordering::SeqCst);
        match p
            .handle_until(s3_event(&[AMI_KEY]), at(start + TIMEOUT))
            .await
        {
            Ok(_) => {
                delivered_on = Some(retry + 2);
                break;
            }
            // A claim still held: the invocation fails (never acknowledged) and is retried.
            Err(_) => failed_at = start,
        }
    }
    assert_eq!(
        delivered_on,
        Some(3),
        "the alert is published by Lambda's second retry, before the event is discarded"
    );
    assert_eq!(published(&p).len(), 1);
}

/// Captures what `tracing` writes, for assertions on log lines.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn a_record_no_rule_could_judge_is_counted_and_logged_with_its_event_id() {
    // Issue 8.6: a policy nested past serde's recursion limit hid the event without a trace.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let log = format!(
        r#"{{"Records":[{{"eventID":"hidden-share","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",
          "recipientAccountId":"111122223333","requestParameters":{{"bucketName":"b","bucketPolicy":{deep}}}}}]}}"#
    );
    let captured = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(captured.clone())
        .finish();
    // The scan runs on a blocking thread: the subscriber is set on every thread the runtime
    // starts, blocking ones included.
    let dispatch = tracing::Dispatch::new(subscriber);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&dispatch));
        })
        .build()
        .unwrap();
    let p = processor(FakeS3::default().with(AMI_KEY, log.into_bytes()));
    let object = ObjectRef {
        bucket: BUCKET.into(),
        key: AMI_KEY.into(),
        size: None,
    };
    let outcome = runtime.block_on(async {
        let seen = Arc::new(Mutex::new(std::collections::HashSet::new()));
        p.process_object(&object, &seen, at(60)).await
    });
    drop(runtime);
    let crate::lambda::ObjectOutcome::Scanned(report) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(report.skipped_records, 1);
    let mut metrics = crate::lambda::metrics::InvocationMetrics::default();
    metrics.record(&crate::lambda::ObjectOutcome::Scanned(report));
    assert_eq!(metrics.records_skipped, 1);
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warning = logged
        .lines()
        .find(|l| l.contains("record skipped"))
        .unwrap_or_else(|| panic!("no warning in {logged}"));
    assert!(warning.contains("\"level\":\"WARN\""), "{warning}");
    assert!(warning.contains("hidden-share"), "{warning}");
    assert!(warning.contains("recursion limit"), "{warning}");
}

#[tokio::test]
async fn a_burst_across_objects_releases_one_threshold_alert() {
    // The Stratus secrets detonation read in two halves, as two log objects: one alert for the
    // principal's window, once the distinct count reaches the threshold, and none for the half
    // alone.
    let records: Vec<Value> = {
        let bytes = fixture_log("aws.credential-access.secretsmanager-retrieve-secrets.json.gz");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .unwrap();
        let log: Value = serde_json::from_str(&text).unwrap();
        log["Records"].as_array().unwrap().clone()
    };
    let half = records.len() / 2;
    let first = serde_json::to_vec(&json!({ "Records": records[..half] })).unwrap();
    let second = serde_json::to_vec(&json!({ "Records": records[half..] })).unwrap();
    let first_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/a.json";
    let second_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/b.json";
    let p = processor(
        FakeS3::default()
            .with(first_key, first)
            .with(second_key, second),
    );
    p.handle(s3_event(&[first_key])).await.unwrap();
    let after_first: Vec<String> = published(&p).into_iter().map(|a| a.rule_id).collect();
    assert!(
        !after_first.contains(&"secretsmanager-secrets-read-in-bulk".to_string()),
        "{after_first:?}"
    );
    p.handle(s3_event(&[second_key])).await.unwrap();
    let bulk: Vec<Alert> = published(&p)
        .into_iter()
        .filter(|a| a.rule_id == "secretsmanager-secrets-read-in-bulk")
        .collect();
    assert_eq!(bulk.len(), 1, "{bulk:#?}");
    assert!(bulk[0].threshold.is_some() && !bulk[0].is_pending());
}

#[tokio::test]
async fn exceptions_are_counted_per_object_and_a_burst_counts_its_released_alert_once() {
    // The Stratus secrets detonation (a burst: one threshold alert) with an exception on that
    // rule that expired before it; and the Stratus StopLogging with a live exception.
    let tuning = crate::detector::config_file::TuningFile::parse(
        "exceptions:\n  - name: old-audit\n    reason: r\n    owner: o\n    expires: 2020-01-01\n    match: {rules: [secretsmanager-secrets-read-in-bulk]}\n  - name: trail-migration\n    reason: r\n    owner: o\n    match: {rules: [cloudtrail-logging-stopped]}\n",
    )
    .unwrap();
    let mut config = config();
    tuning.apply(&mut config.detector);
    let burst_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/secrets.json.gz";
    let stop_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/stop.json.gz";
    let s3 = FakeS3::default()
        .with(
            burst_key,
            fixture_log("aws.credential-access.secretsmanager-retrieve-secrets.json.gz"),
        )
        .with(
            stop_key,
            fixture_log("aws.defense-evasion.cloudtrail-stop.json.gz"),
        );
    let sns = FakeSns {
        read: Arc::clone(&s3.read),
        ..FakeSns::default()
    };
    let p = Processor::new(s3, sns, FakeTable::default(), config).unwrap();
    let seen: Arc<crate::lambda::delivery::SeenKeys> = Arc::default();
    let scan = |key: &'static str| {
        let seen = Arc::clone(&seen);
        let p = &p;
        async move {
            let object = ObjectRef {
                bucket: BUCKET.into(),
                key: key.into(),
                size: None,
            };
            match p.process_object(&object, &seen, at(600)).await {
                crate::lambda::ObjectOutcome::Scanned(report) => report,
                other => panic!("{other:?}"),
            }
        }
    };
    let burst = scan(burst_key).await;
    let released: Vec<Alert> = published(&p)
        .into_iter()
        .filter(|a| a.rule_id == "secretsmanager-secrets-read-in-bulk")
        .collect();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].expired_exceptions[0].name, "old-audit");
    // One alert went out naming the lapsed exception: one count, not one per record read.
    assert_eq!(burst.exceptions.get("old-audit").expired_matches, 1);
    assert_eq!(burst.exceptions.get("trail-migration").suppressed, 0);
    let stop = scan(stop_key).await;
    assert_eq!(stop.exceptions.get("trail-migration").suppressed, 1);
    assert_eq!(stop.exceptions.get("old-audit").expired_matches, 0);
    assert!(
        !published(&p)
            .iter()
            .any(|a| a.rule_id == "cloudtrail-logging-stopped")
    );
}
