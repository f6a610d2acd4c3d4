//! Integration-test support: a moto server on a free loopback port, and AWS SDK clients that
//! talk to it with dummy credentials.
#![allow(dead_code)]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use trailwatch::lambda::dynamo::DynamoDedupStore;
use trailwatch::lambda::ports::NoDedupStore;
use trailwatch::lambda::s3::S3Source;
use trailwatch::lambda::sns::SnsSink;
use trailwatch::lambda::{LambdaConfig, Processor};

/// A running moto server.
pub struct Moto {
    pub endpoint: String,
    _guard: Child,
}

static MOTO: OnceLock<Option<Moto>> = OnceLock::new();

/// The moto server for this test binary, started on first use. `None` (with a loud message)
/// when moto is not installed, unless `TRAILWATCH_REQUIRE_MOTO=1`, which makes it a failure.
pub fn moto() -> Option<&'static Moto> {
    MOTO.get_or_init(start).as_ref()
}

fn start() -> Option<Moto> {
    let server = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if !server.exists() {
        if std::env::var("TRAILWATCH_REQUIRE_MOTO").as_deref() == Ok("1") {
            panic!(
                "moto server not found at {}: run `make venv`",
                server.display()
            );
        }
        eprintln!("SKIPPED: moto server not installed (run `make venv`); integration test not run");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The shell stops moto when our stdin pipe closes, i.e. when this test process exits,
    // however it exits: statics are never dropped.
    let mut guard = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid"#)
        .arg(&server)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .spawn()
        .expect("start moto server");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Keep the pipe open for the life of the process.
    let stdin = guard.stdin.take().unwrap();
    std::mem::forget(stdin);
    let _ = std::io::stderr().flush();
    Some(Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _guard: guard,
    })
}

/// SDK configuration for moto: loopback endpoint, dummy credentials, us-east-1.
pub async fn sdk_config(moto: &Moto) -> SdkConfig {
    // SAFETY of intent: never reach for instance metadata.
    unsafe { std::env::set_var("AWS_EC2_METADATA_DISABLED", "true") };
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// An S3 client for moto (path-style addressing).
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A gzipped CloudTrail log from `tests/fixtures/stratus`.
pub fn stratus(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stratus")
            .join(format!("{name}.json.gz")),
    )
    .unwrap()
}

/// One test's resources on moto: a trail bucket, an alert topic with a queue subscribed to
/// it, and (optionally) a dedup table.
pub struct Stack {
    pub config: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub bucket: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub table: Option<String>,
}

/// A new queue (named after `prefix`) subscribed to `topic_arn`; its URL.
pub async fn subscribed_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic_arn: &str,
    prefix: &str,
) -> String {
    let queue_url = sqs
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    queue_url
}

/// Creates a stack on the test binary's moto server; `None` when moto is not installed.
pub async fn stack(with_table: bool) -> Option<Stack> {
    let moto = moto()?;
    let config = sdk_config(moto).await;
    let s3 = s3(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let bucket = unique("trail");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let topic_arn = sns
        .create_topic()
        .name(unique("alerts"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue_url = subscribed_queue(&sns, &sqs, &topic_arn, "alert-inbox").await;
    let table = if with_table {
        let name = unique("dedup");
        ddb.create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        Some(name)
    } else {
        None
    };
    Some(Stack {
        config,
        s3,
        sqs,
        ddb,
        bucket,
        topic_arn,
        queue_url,
        table,
    })
}

impl Stack {
    pub fn lambda_config(&self) -> LambdaConfig {
        let topic = self.topic_arn.clone();
        let table = self.table.clone();
        LambdaConfig::from_lookup(move |name| match name {
            "ALERT_TOPIC_ARN" => Some(topic.clone()),
            "DEDUP_TABLE" => table.clone(),
            _ => None,
        })
        .unwrap()
    }

    pub fn sink(&self) -> SnsSink {
        SnsSink::new(
            aws_sdk_sns::Client::new(&self.config),
            self.topic_arn.clone(),
        )
    }

    pub fn dedup(&self) -> DynamoDedupStore {
        DynamoDedupStore::new(
            self.ddb.clone(),
            self.table.clone().expect("stack has a table"),
        )
    }

    pub fn processor(&self) -> Processor<S3Source, SnsSink, NoDedupStore> {
        Processor::new(
            S3Source::new(self.s3.clone()),
            self.sink(),
            NoDedupStore,
            self.lambda_config(),
        )
        .unwrap()
    }

    pub fn processor_with_table(&self) -> Processor<S3Source, SnsSink, DynamoDedupStore> {
        Processor::new(
            S3Source::new(self.s3.clone()),
            self.sink(),
            self.dedup(),
            self.lambda_config(),
        )
        .unwrap()
    }

    pub async fn upload(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    pub fn s3_notification(&self, keys: &[&str]) -> Value {
        let records: Vec<Value> = keys
            .iter()
            .map(|key| {
                // S3 form-encodes keys in notifications.
                let encoded = key.replace('%', "%25").replace('+', "%2B").replace(' ', "+");
                json!({"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": self.bucket}, "object": {"key": encoded, "size": 1234}}})
            })
            .collect();
        json!({ "Records": records })
    }
}

/// The Lambda's S3 object source over the stack's client.
pub fn s3_source(stack: &Stack) -> S3Source {
    S3Source::new(stack.s3.clone())
}
