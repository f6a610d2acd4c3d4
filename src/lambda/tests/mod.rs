//! The handler with in-memory fakes for S3, SNS and the dedup table: every input shape, every
//! failure path, and the dedup guarantees, without a network.

use crate::detector::Alert;
use crate::lambda::config::LambdaConfig;
use crate::lambda::events::HandlerError;
use crate::lambda::events::ObjectRef;
use crate::lambda::handler::Processor;
use crate::lambda::ports::{
    AlertSink, Claim, DedupError, DedupStore, FetchError, ObjectSource, OpenedObject, PublishError,
};
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
    /// The Stratus AMI-share detonation at [`AMI_KEY`]: one alert.
    fn with_ami(self) -> Self {
        self.with(
            AMI_KEY,
            fixture_log("aws.exfiltration.ec2-share-ami.json.gz"),
        )
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
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), PublishError>> {
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
                    Err(PublishError::new(a, "Throttling: Rate exceeded"))
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
    async fn claim(&self, alert: &Alert, lease_until: SystemTime) -> Result<Claim, DedupError> {
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
    async fn confirm(&self, alert: &Alert, token: &str) -> Result<(), DedupError> {
        if self.hang_confirms.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.confirms.fetch_add(1, Ordering::SeqCst);
        if self
            .fail_confirms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(DedupError::new(
                "UpdateItem",
                alert,
                "ProvisionedThroughputExceededException",
            ));
        }
        let mut items = self.items.lock().unwrap();
        match items.get_mut(&alert.dedup_key) {
            Some(e) if e.token == token => {
                e.published = true;
                Ok(())
            }
            _ => Err(DedupError::new("UpdateItem", alert, "claim lost")),
        }
    }
    async fn release(&self, alert: &Alert, token: &str) -> Result<(), DedupError> {
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

#[path = "../../../benches/synth/mod.rs"]
mod synth;

mod delivery;
mod invocations;
mod observability;
