//! `trailwatch scan s3://...` against moto: only the selected days, accounts and regions are
//! downloaded, organization trails are walked, and a corrupt object is reported while the others
//! are still scanned. The real binary runs with the standard AWS environment pointed at moto.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use std::process::{Command, Output};

const AMI: &str = "aws.exfiltration.ec2-share-ami";
const STOP: &str = "aws.defense-evasion.cloudtrail-stop";
const AMI_RULE: &str = "resource-shared-with-external-account";
const STOP_RULE: &str = "cloudtrail-logging-stopped";

/// Bytes that are not a log: if the scan downloads them, it reports an error.
fn garbage() -> Vec<u8> {
    b"\x1f\x8b\x08\x00this is not a gzip stream".to_vec()
}

/// A fresh bucket holding `objects`; `None` when moto is not installed.
async fn bucket_with(objects: Vec<(&str, Vec<u8>)>) -> Option<(String, String)> {
    let moto = support::moto()?;
    let config = support::sdk_config(moto).await;
    let s3 = support::s3(&config);
    let bucket = support::unique("hunt");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for (key, body) in objects {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    Some((moto.endpoint.clone(), bucket))
}

/// Runs the `trailwatch` binary with AWS settings for moto only (no profile, no metadata).
fn trailwatch(endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap()
}

fn rule_ids(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| {
            let alert: serde_json::Value = serde_json::from_str(l).unwrap();
            alert["rule_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_selected_days_accounts_and_regions_are_downloaded() {
    let Some((endpoint, bucket)) = bucket_with(vec![
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1225Z_ami.json.gz",
            support::stratus(AMI),
        ),
        (
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/02/111122223333_CloudTrail_eu-west-1_20240802T0005Z_stop.json.gz",
            support::stratus(STOP),
        ),
        // Outside the selection: downloading any of these would be an error.
        ("AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/early.json.gz", garbage()),
        ("AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/03/late.json.gz", garbage()),
        ("AWSLogs/444455556666/CloudTrail/us-east-1/2024/08/01/other-account.json.gz", garbage()),
        ("AWSLogs/111122223333/CloudTrail/ap-south-1/2024/08/01/other-region.json.gz", garbage()),
        ("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/08/01/digest.json.gz", garbage()),
    ])
    .await
    else {
        return;
    };
    let url = format!("s3://{bucket}");
    let selected = trailwatch(
        &endpoint,
        &[
            "scan",
            &url,
            "--since",
            "2024-08-01",
            "--until",
            "2024-08-02",
            "--accounts",
            "111122223333",
            "--regions",
            "us-east-1,eu-west-1",
        ],
    );
    let err = stderr(&selected);
    assert_eq!(selected.status.code(), Some(1), "alerts, no error: {err}");
    assert_eq!(rule_ids(&selected), vec![STOP_RULE, AMI_RULE], "{err}");
    assert!(err.contains("2 log objects"), "{err}");
    assert!(
        err.contains("2 files (0 digests)") && err.contains(" 0 errors"),
        "{err}"
    );

    // Without --accounts and --regions the other account's and region's folders of those days
    // are discovered and downloaded (and are garbage); the other days still are not.
    let by_date = trailwatch(
        &endpoint,
        &[
            "scan",
            &url,
            "--since",
            "2024-08-01",
            "--until",
            "2024-08-02",
        ],
    );
    let err = stderr(&by_date);
    assert_eq!(by_date.status.code(), Some(2), "{err}");
    assert!(err.contains("4 log objects"), "{err}");
    assert!(
        err.contains("other-account.json.gz") && err.contains("other-region.json.gz"),
        "{err}"
    );
    assert!(
        !err.contains("early.json.gz") && !err.contains("late.json.gz"),
        "{err}"
    );
    assert_eq!(rule_ids(&by_date).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn organization_trails_under_a_key_prefix() {
    let Some((endpoint, bucket)) = bucket_with(vec![
        (
            "org/AWSLogs/o-aa11bb22cc/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1225Z_ami.json.gz",
            support::stratus(AMI),
        ),
        (
            "org/AWSLogs/o-aa11bb22cc/444455556666/CloudTrail/eu-west-1/2024/08/01/444455556666_CloudTrail_eu-west-1_20240801T1230Z_stop.json.gz",
            support::stratus(STOP),
        ),
        ("org/AWSLogs/o-aa11bb22cc/444455556666/CloudTrail/eu-west-1/2024/08/02/next-day.json.gz", garbage()),
    ])
    .await
    else {
        return;
    };
    let output = trailwatch(
        &endpoint,
        &[
            "scan",
            &format!("s3://{bucket}/org"),
            "--since",
            "2024-08-01",
            "--until",
            "2024-08-01",
        ],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(rule_ids(&output), vec![AMI_RULE, STOP_RULE], "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_object_is_reported_and_the_rest_scanned() {
    let corrupt = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1200Z_corrupt.json.gz";
    let Some((endpoint, bucket)) = bucket_with(vec![
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1100Z_ami.json.gz",
            support::stratus(AMI),
        ),
        (corrupt, garbage()),
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1300Z_stop.json.gz",
            support::stratus(STOP),
        ),
    ])
    .await
    else {
        return;
    };
    let output = trailwatch(
        &endpoint,
        &[
            "scan",
            &format!("s3://{bucket}/"),
            "--since",
            "2024-08-01",
            "--until",
            "2024-08-01",
            "--s3-concurrency",
            "2",
        ],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("trailwatch: error: s3://{bucket}/{corrupt}")),
        "{err}"
    );
    assert_eq!(rule_ids(&output), vec![AMI_RULE, STOP_RULE], "{err}");
    assert!(err.contains(" 1 errors"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_is_an_input_error() {
    let Some(moto) = support::moto() else {
        return;
    };
    let output = trailwatch(
        &moto.endpoint,
        &["scan", "s3://no-such-bucket-here", "--since", "2024-08-01"],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
}

#[test]
fn selection_flags_are_checked_before_anything_is_read() {
    let run = |args: &[&str]| trailwatch("http://127.0.0.1:9", args);
    let output = run(&["scan", "s3://bucket", "--since", "2024-02-30"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--since: \"2024-02-30\" is not a date"));
    let output = run(&["scan", "s3://bucket", "--until", "2024-02-01"]);
    assert!(stderr(&output).contains("--until needs --since"));
    let output = run(&[
        "scan",
        "tests/fixtures/stratus",
        "--accounts",
        "111122223333",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("none was given"));
}
