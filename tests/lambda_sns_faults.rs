//! SNS failure paths moto cannot produce, through the real SDK client with aws-smithy-mocks:
//! throttled calls, per-entry failures, and rejections that must not be retried.

use aws_sdk_sns::error::ErrorMetadata;
use aws_sdk_sns::operation::publish_batch::{PublishBatchError, PublishBatchOutput};
use aws_sdk_sns::types::{BatchResultErrorEntry, PublishBatchResultEntry};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use std::time::Duration;
use trailwatch::detector::{Detector, scan_log};
use trailwatch::lambda::ports::AlertSink;
use trailwatch::lambda::sns::SnsSink;

const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:alerts";

fn alerts(n: usize) -> Vec<trailwatch::detector::Alert> {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stratus/aws.exfiltration.ec2-share-ami.json.gz"
    ))
    .unwrap();
    let detector = Detector::new(&Default::default()).unwrap();
    let mut one = Vec::new();
    scan_log(&body[..], "x", &detector, Default::default(), |a| {
        one.push(a)
    })
    .unwrap();
    (0..n)
        .map(|i| {
            let mut a = one[0].clone();
            a.dedup_key = format!("{}#{i}", a.dedup_key);
            a
        })
        .collect()
}

fn ok_all(input: &aws_sdk_sns::operation::publish_batch::PublishBatchInput) -> PublishBatchOutput {
    let entries = input.publish_batch_request_entries();
    PublishBatchOutput::builder()
        .set_successful(Some(
            entries
                .iter()
                .map(|e| {
                    PublishBatchResultEntry::builder()
                        .id(e.id())
                        .message_id("m")
                        .build()
                })
                .collect(),
        ))
        .set_failed(Some(vec![]))
        .build()
}

fn throttling() -> PublishBatchError {
    PublishBatchError::generic(
        ErrorMetadata::builder()
            .code("Throttling")
            .message("Rate exceeded")
            .build(),
    )
}

fn sink(client: aws_sdk_sns::Client) -> SnsSink {
    SnsSink::new(client, TOPIC.into()).with_backoff(Duration::from_millis(1))
}

#[tokio::test]
async fn throttled_calls_are_retried_until_they_succeed() {
    let throttled = mock!(aws_sdk_sns::Client::publish_batch).then_error(throttling);
    let healthy = mock!(aws_sdk_sns::Client::publish_batch).then_compute_output(ok_all);
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&throttled, &healthy]);
    let results = sink(client).publish(&alerts(3)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(throttled.num_calls() >= 1);
    assert_eq!(healthy.num_calls(), 1);
}

#[tokio::test]
async fn retryable_entry_failures_are_resent_alone() {
    // First call: entry "1" fails on the service side; the retry must carry only that entry.
    let partial = mock!(aws_sdk_sns::Client::publish_batch).then_compute_output(|input| {
        let ids: Vec<&str> = input
            .publish_batch_request_entries()
            .iter()
            .map(|e| e.id())
            .collect();
        PublishBatchOutput::builder()
            .set_successful(Some(
                ids.iter()
                    .filter(|id| **id != "1")
                    .map(|id| PublishBatchResultEntry::builder().id(*id).build())
                    .collect(),
            ))
            .failed(
                BatchResultErrorEntry::builder()
                    .id("1")
                    .code("InternalError")
                    .sender_fault(false)
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let retry = mock!(aws_sdk_sns::Client::publish_batch)
        .match_requests(|input| {
            input
                .publish_batch_request_entries()
                .iter()
                .map(|e| e.id())
                .collect::<Vec<_>>()
                == ["1"]
        })
        .then_compute_output(ok_all);
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&partial, &retry]);
    let results = sink(client).publish(&alerts(3)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(retry.num_calls(), 1);
}

#[tokio::test]
async fn sender_faults_are_reported_not_retried_and_never_silently_dropped() {
    let rejected = mock!(aws_sdk_sns::Client::publish_batch).then_compute_output(|input| {
        PublishBatchOutput::builder()
            .set_successful(Some(vec![]))
            .set_failed(Some(
                input
                    .publish_batch_request_entries()
                    .iter()
                    .map(|e| {
                        BatchResultErrorEntry::builder()
                            .id(e.id())
                            .code("InvalidParameter")
                            .message("bad attribute")
                            .sender_fault(true)
                            .build()
                            .unwrap()
                    })
                    .collect(),
            ))
            .build()
    });
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rejected]);
    let sent = alerts(2);
    let results = sink(client).publish(&sent).await;
    assert_eq!(rejected.num_calls(), 1);
    for (result, alert) in results.iter().zip(&sent) {
        let error = result.as_ref().unwrap_err();
        assert!(error.detail.contains("InvalidParameter"), "{error}");
        // The error names the log object, so the retry and the log line point at it.
        assert_eq!(error.object, alert.log_object.location);
        assert_eq!(error.rule_id, alert.rule_id);
    }
}

#[tokio::test]
async fn eleven_alerts_go_out_in_two_batches() {
    let healthy = mock!(aws_sdk_sns::Client::publish_batch)
        .match_requests(|input| input.publish_batch_request_entries().len() <= 10)
        .then_compute_output(ok_all);
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&healthy]);
    let results = sink(client).publish(&alerts(11)).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(healthy.num_calls(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_until_they_succeed() {
    // Two 503s from the load balancer (no SNS error code in the body), then SNS answers.
    let failing = mock!(aws_sdk_sns::Client::publish_batch)
        .sequence()
        .http_status(503, None)
        .times(2)
        .output(|| {
            // The four alerts go out as entries "0".."3".
            PublishBatchOutput::builder()
                .set_successful(Some(
                    (0..4)
                        .map(|i| {
                            PublishBatchResultEntry::builder()
                                .id(i.to_string())
                                .message_id("m")
                                .build()
                        })
                        .collect(),
                ))
                .set_failed(Some(vec![]))
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&failing]);
    let results = sink(client).publish(&alerts(4)).await;
    assert!(
        results.iter().all(Result::is_ok),
        "{results:?} after {} calls",
        failing.num_calls()
    );
    assert_eq!(failing.num_calls(), 3);
}

#[tokio::test]
async fn an_outage_longer_than_the_retries_is_reported_for_every_alert() {
    let down = mock!(aws_sdk_sns::Client::publish_batch)
        .sequence()
        .http_status(500, None)
        .times(1000)
        .build();
    let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&down]);
    let results = sink(client).publish(&alerts(3)).await;
    assert_eq!(results.len(), 3);
    assert!(
        results.iter().all(Result::is_err),
        "every undelivered alert is reported so its object is retried: {results:?}"
    );
}

/// Issue 8.7: an expired token or a disabled topic key refused the batch for good; both pass
/// with time and are retried.
#[tokio::test]
async fn errors_that_pass_with_time_are_retried_by_the_sink() {
    for code in ["ExpiredToken", "KMSDisabled", "KMSInvalidState"] {
        let code: &'static str = code;
        let failing = mock!(aws_sdk_sns::Client::publish_batch).then_error(move || {
            PublishBatchError::generic(ErrorMetadata::builder().code(code).message("later").build())
        });
        let healthy = mock!(aws_sdk_sns::Client::publish_batch).then_compute_output(ok_all);
        let client = mock_client!(aws_sdk_sns, RuleMode::Sequential, [&failing, &healthy]);
        let results = sink(client).publish(&alerts(2)).await;
        assert!(results.iter().all(Result::is_ok), "{code}: {results:?}");
        assert_eq!(healthy.num_calls(), 1, "{code}");
    }
}
