//! Integration-test support: a moto server on a free loopback port, and AWS SDK clients that
//! talk to it with dummy credentials.
#![allow(dead_code)]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
