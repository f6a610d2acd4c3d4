//! Tests for `backfill`.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: BackfillArgs,
}

fn args(extra: &[&str]) -> BackfillArgs {
    let mut argv = vec![
        "backfill",
        "s3://org-trail-logs/trails",
        "--since",
        "2024-08-01",
        "--until",
        "2024-08-31",
        "--function-arn",
        "arn:aws:lambda:us-east-1:111122223333:function:trailwatch-Function-AbC",
        "--role-arn",
        "arn:aws:iam::111122223333:role/trailwatch-BackfillJobRole-XyZ",
        "--report",
        "s3://ops-bucket/trailwatch-backfill/",
    ];
    // A flag given in `extra` replaces the default one.
    for pair in extra.chunks(2) {
        match argv.iter().position(|a| *a == pair[0]) {
            Some(i) => argv[i + 1] = pair[1],
            None => argv.extend_from_slice(pair),
        }
    }
    Wrapper::try_parse_from(argv).unwrap().args
}

const NOW: i64 = 1_725_000_000;

#[test]
fn manifest_keys_are_url_encoded_one_object_a_line() {
    assert_eq!(
        encode_manifest_key("AWSLogs/1/CloudTrail/x/a b+c,d%e.json.gz"),
        "AWSLogs/1/CloudTrail/x/a%20b%2Bc%2Cd%25e.json.gz"
    );
    assert_eq!(encode_manifest_key("é"), "%C3%A9");
    assert_eq!(
        manifest_csv([("b1", "k 1"), ("b2", "AWSLogs/k2.json.gz")]),
        "b1,k%201\nb2,AWSLogs/k2.json.gz\n"
    );
    // What the function does to the key Batch Operations hands it (form-encoded) gives the
    // key back.
    #[cfg(feature = "lambda")]
    assert_eq!(
        crate::lambda::events::decode_notification_key("bucket", "a+b%2Bc%2Cd%25e").unwrap(),
        "a b+c,d%e"
    );
}

#[test]
fn the_default_manifest_sits_under_the_report_prefix() {
    let t = targets(&args(&[]), NOW).unwrap();
    assert_eq!(t.manifest_bucket, "ops-bucket");
    assert_eq!(
        t.manifest_key,
        format!(
            "trailwatch-backfill/manifests/trailwatch-backfill-2024-08-01-2024-08-31-{NOW}.csv"
        )
    );
    let request = job_request(&args(&[]), &t, "111122223333", "etag1", "tok");
    let json = request.to_json();
    assert_eq!(json["Report"]["Prefix"], "trailwatch-backfill");
    assert_eq!(json["Report"]["Bucket"], "arn:aws:s3:::ops-bucket");
    assert_eq!(
        json["Manifest"]["Location"]["ObjectArn"],
        format!("arn:aws:s3:::ops-bucket/{}", t.manifest_key)
    );
    assert_eq!(
        json["Operation"]["LambdaInvoke"]["InvocationSchemaVersion"],
        "2.0"
    );
    assert_eq!(
        json["Manifest"]["Spec"]["Fields"],
        serde_json::json!(["Bucket", "Key"])
    );
    let t = targets(&args(&["--manifest", "s3://other/m/list.csv"]), NOW).unwrap();
    assert_eq!(
        (t.manifest_bucket.as_str(), t.manifest_key.as_str()),
        ("other", "m/list.csv")
    );
}

#[test]
fn bad_arns_and_locations_are_refused_before_anything_is_listed() {
    let refused = |extra: &[&str]| targets(&args(extra), NOW).unwrap_err();
    assert!(refused(&["--function-arn", "trailwatch"]).contains("--function-arn"));
    assert!(
        refused(&[
            "--function-arn",
            "arn:aws:lambda:us-east-1:111122223333:layer:x"
        ])
        .contains("not a Lambda function ARN")
    );
    assert!(refused(&["--role-arn", "arn:aws:iam::111122223333:user/x"]).contains("--role-arn"));
    assert!(refused(&["--role-arn", "arn:aws-cn:iam::111122223333:role/x"]).contains("partition"));
    assert!(refused(&["--report", "ops-bucket"]).contains("--report"));
    assert!(refused(&["--manifest", "s3://ops-bucket"]).contains("names no object key"));
    assert!(refused(&["--account-id", "12"]).contains("--account-id"));
    assert!(refused(&["--until", "2024-07-01"]).contains("after --until"));
}
