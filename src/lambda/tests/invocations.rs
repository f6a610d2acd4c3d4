//! Every input shape and every failure path: what is scanned, retried or acknowledged, and
//! the response each event source gets.

use super::*;

#[tokio::test]
async fn an_s3_notification_with_spaces_and_plus_in_the_key_is_scanned() {
    let p = processor(FakeS3::default().with_ami());
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
        let p = processor(FakeS3::default().with_ami());
        p.handle(event(name)).await.unwrap();
        assert_eq!(published(&p).len(), 1, "{name}");
    }
    let p = processor(FakeS3::default().with_ami().with(
        LAMBDA_KEY,
        fixture_log("aws.persistence.lambda-backdoor-function.json.gz"),
    ));
    p.handle(event("sns-cloudtrail-notice.json")).await.unwrap();
    assert_eq!(published(&p).len(), 2);
}

#[tokio::test]
async fn a_corrupt_object_beside_a_good_one_loses_nothing_and_is_not_retried() {
    let corrupt = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/corrupt.json.gz";
    let p = processor(
        FakeS3::default()
            .with_ami()
            .with(corrupt, vec![0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad]),
    );
    let response = p.handle(s3_event(&[corrupt, AMI_KEY])).await.unwrap();
    assert_eq!(response["objects"], 2);
    assert_eq!(published(&p).len(), 1);
}

#[tokio::test]
async fn transient_failures_fail_the_invocation_for_a_retry() {
    let p = processor(FakeS3::default().with_ami().failing(
        LAMBDA_KEY,
        FetchError::Transient("SlowDown (HTTP 503)".into()),
    ));
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
    let p = processor(FakeS3::default().with_ami().failing(
        LAMBDA_KEY,
        FetchError::Transient("InternalError (HTTP 500)".into()),
    ));
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
        let p = processor(FakeS3::default().with_ami());
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
            .with_ami()
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
