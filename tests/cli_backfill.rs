//! `trailwatch backfill`: the manifest written to S3 (moto) and the CreateJob request built from
//! it (aws-smithy-mocks on the real s3control client: moto does not run Batch Operations), and a
//! dry run of the binary end to end against moto.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3control::operation::create_job::{CreateJobInput, CreateJobOutput};
use aws_sdk_s3control::types::{JobManifestFieldName, JobReportScope};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use std::process::Command;
use std::sync::{Arc, Mutex};
use trailwatch::cli::backfill::{JobRequest, create_job, manifest_csv, write_manifest};

const FUNCTION: &str = "arn:aws:lambda:us-east-1:111122223333:function:trailwatch-Function-AbC";
const ROLE: &str = "arn:aws:iam::111122223333:role/trailwatch-BackfillJobRole-XyZ";

#[tokio::test(flavor = "multi_thread")]
async fn the_manifest_is_written_and_its_etag_returned() {
    let Some(moto) = support::moto() else {
        return;
    };
    let s3 = support::s3(&support::sdk_config(moto).await);
    let bucket = support::unique("backfill");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let csv = manifest_csv([
        (
            "trail",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/a b+c.json.gz",
        ),
        (
            "trail",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/02/d.json.gz",
        ),
    ]);
    let key = "trailwatch-backfill/manifests/m.csv";
    let etag = write_manifest(&s3, &bucket, key, csv.clone())
        .await
        .unwrap();
    let stored = s3
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.e_tag().unwrap().trim_matches('"'), etag);
    assert!(
        !etag.contains('"'),
        "CreateJob takes the ETag without quotes"
    );
    let body = stored.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        "trail,AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/a%20b%2Bc.json.gz\n\
         trail,AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/02/d.json.gz\n"
    );
    // A bucket that does not exist is an error naming the manifest, not a silent skip.
    let failed = write_manifest(&s3, "no-such-bucket-here", key, csv).await;
    assert!(format!("{:#}", failed.unwrap_err()).contains("s3://no-such-bucket-here/"));
}

#[tokio::test]
async fn create_job_sends_a_lambda_invoke_of_schema_2_over_the_csv_manifest() {
    let seen: Arc<Mutex<Option<CreateJobInput>>> = Arc::default();
    let captured = seen.clone();
    let rule = mock!(aws_sdk_s3control::Client::create_job).then_compute_output(move |input| {
        *captured.lock().unwrap() = Some(input.clone());
        CreateJobOutput::builder().job_id("job-0123").build()
    });
    let client = mock_client!(aws_sdk_s3control, RuleMode::Sequential, [&rule]);
    let request = JobRequest {
        account_id: "111122223333".into(),
        function_arn: FUNCTION.into(),
        role_arn: ROLE.into(),
        manifest_arn: "arn:aws:s3:::ops/trailwatch-backfill/manifests/m.csv".into(),
        manifest_etag: "0123456789abcdef".into(),
        report_bucket_arn: "arn:aws:s3:::ops".into(),
        report_prefix: "trailwatch-backfill".into(),
        priority: 10,
        confirmation_required: false,
        description: "trailwatch backfill".into(),
        client_request_token: "trailwatch-token".into(),
    };
    let job_id = create_job(&client, &request).await.unwrap();
    assert_eq!(job_id, "job-0123");
    assert_eq!(rule.num_calls(), 1);
    let input = seen.lock().unwrap().clone().unwrap();
    assert_eq!(input.account_id(), Some("111122223333"));
    assert_eq!(input.role_arn(), Some(ROLE));
    assert_eq!(input.confirmation_required(), Some(false));
    assert_eq!(input.client_request_token(), Some("trailwatch-token"));
    let invoke = input.operation().unwrap().lambda_invoke().unwrap();
    assert_eq!(invoke.function_arn(), Some(FUNCTION));
    // The payload schema lambda::events reads with bucket names (not ARNs).
    assert_eq!(invoke.invocation_schema_version(), Some("2.0"));
    let manifest = input.manifest().unwrap();
    let spec = manifest.spec().unwrap();
    assert_eq!(spec.format().as_str(), "S3BatchOperations_CSV_20180820");
    assert_eq!(
        spec.fields(),
        &[JobManifestFieldName::Bucket, JobManifestFieldName::Key]
    );
    let location = manifest.location().unwrap();
    assert_eq!(
        location.object_arn(),
        "arn:aws:s3:::ops/trailwatch-backfill/manifests/m.csv"
    );
    assert_eq!(location.e_tag(), "0123456789abcdef");
    let report = input.report().unwrap();
    assert_eq!(report.bucket(), Some("arn:aws:s3:::ops"));
    assert_eq!(report.prefix(), Some("trailwatch-backfill"));
    assert_eq!(report.format().unwrap().as_str(), "Report_CSV_20180820");
    assert!(report.enabled());
    assert_eq!(report.report_scope(), Some(&JobReportScope::AllTasks));
    // The same plain values are what a dry run prints.
    let json = request.to_json();
    assert_eq!(
        json["Operation"]["LambdaInvoke"]["InvocationSchemaVersion"],
        "2.0"
    );
    assert_eq!(json["Manifest"]["Location"]["ETag"], "0123456789abcdef");
}

#[tokio::test]
async fn a_refused_create_job_is_an_error() {
    let rule = mock!(aws_sdk_s3control::Client::create_job).then_error(|| {
        aws_sdk_s3control::operation::create_job::CreateJobError::generic(
            aws_sdk_s3control::error::ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not allowed to pass the role")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_s3control, RuleMode::Sequential, [&rule]);
    let request = JobRequest {
        account_id: "111122223333".into(),
        function_arn: FUNCTION.into(),
        role_arn: ROLE.into(),
        manifest_arn: "arn:aws:s3:::ops/m.csv".into(),
        manifest_etag: "e".into(),
        report_bucket_arn: "arn:aws:s3:::ops".into(),
        report_prefix: "r".into(),
        priority: 10,
        confirmation_required: true,
        description: "d".into(),
        client_request_token: "t".into(),
    };
    let message = format!("{:#}", create_job(&client, &request).await.unwrap_err());
    assert!(
        message.contains("CreateJob") && message.contains("AccessDenied"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_lists_and_prints_the_request_and_writes_nothing() {
    let Some(moto) = support::moto() else {
        return;
    };
    let s3 = support::s3(&support::sdk_config(moto).await);
    let bucket = support::unique("backfill-trail");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for key in [
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/a.json.gz",
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/02/b.json.gz",
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/03/outside.json.gz",
    ] {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from(support::stratus(
                "aws.exfiltration.ec2-share-ami",
            )))
            .send()
            .await
            .unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args([
            "backfill",
            &format!("s3://{bucket}"),
            "--since",
            "2024-08-01",
            "--until",
            "2024-08-02",
            "--function-arn",
            FUNCTION,
            "--role-arn",
            ROLE,
            "--report",
            &format!("s3://{bucket}/trailwatch-backfill"),
            "--dry-run",
        ])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("(2 objects,") && stdout.contains("from 2 day folders"),
        "{stdout}"
    );
    let request: serde_json::Value =
        serde_json::from_str(&stdout[stdout.find('{').unwrap()..]).unwrap();
    // The account comes from STS GetCallerIdentity (moto's default account).
    assert_eq!(request["AccountId"], "123456789012");
    assert_eq!(
        request["Operation"]["LambdaInvoke"]["FunctionArn"],
        FUNCTION
    );
    assert_eq!(request["Report"]["Prefix"], "trailwatch-backfill");
    let manifest_arn = request["Manifest"]["Location"]["ObjectArn"]
        .as_str()
        .unwrap();
    assert!(
        manifest_arn.starts_with(&format!(
            "arn:aws:s3:::{bucket}/trailwatch-backfill/manifests/"
        )),
        "{manifest_arn}"
    );
    // Nothing was written.
    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("trailwatch-backfill/")
        .send()
        .await
        .unwrap();
    assert!(listed.contents().is_empty());
}
