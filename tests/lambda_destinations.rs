//! The alert topic, the chat topic and Security Hub together: what a chat subscriber receives
//! and which findings land, through moto (SNS, SQS, DynamoDB, Security Hub); what happens when
//! one destination fails; and Security Hub's per-finding failures, which moto cannot produce,
//! through aws-smithy-mocks.

mod support;

use aws_sdk_securityhub::operation::batch_import_findings::{
    BatchImportFindingsInput, BatchImportFindingsOutput,
};
use aws_sdk_securityhub::types::ImportFindingsError;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::{Stack, stack, stratus, unique};
use trailwatch::detector::{Alert, Detector, scan_log};
use trailwatch::formats::asff::Importer;
use trailwatch::lambda::fanout::FanOut;
use trailwatch::lambda::ports::AlertSink;
use trailwatch::lambda::s3::S3Source;
use trailwatch::lambda::security_hub::SecurityHubSink;
use trailwatch::lambda::{HandlerError, LambdaConfig, Processor};

const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1225Z_share.json.gz";

/// Every message body that reached `queue_url` (the SNS envelope's `Message`), waiting for
/// `expected` and then making sure nothing else follows.
async fn received(stack: &Stack, queue_url: &str, expected: usize) -> Vec<String> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut quiet_polls = 0;
    while Instant::now() < deadline && (out.len() < expected || quiet_polls < 2) {
        let messages = stack
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(if out.len() < expected { 1 } else { 0 })
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            if out.len() >= expected {
                quiet_polls += 1;
            }
            continue;
        }
        for m in messages {
            let envelope: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            out.push(envelope["Message"].as_str().unwrap().to_owned());
            stack
                .sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    out
}

/// A queue subscribed to a new topic called `name`.
async fn subscribed_queue(stack: &Stack, name: &str) -> String {
    let sns = aws_sdk_sns::Client::new(&stack.config);
    let topic = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    support::subscribed_queue(&sns, &stack.sqs, &topic, "chat-inbox").await
}

/// Findings in moto's Security Hub with id `id`.
async fn findings_with_id(
    stack: &Stack,
    id: &str,
) -> Vec<aws_sdk_securityhub::types::AwsSecurityFinding> {
    aws_sdk_securityhub::Client::new(&stack.config)
        .get_findings()
        .send()
        .await
        .unwrap()
        .findings()
        .iter()
        .filter(|f| f.id() == Some(id))
        .cloned()
        .collect()
}

/// A chat topic that does not exist yet fails its publishes: the alert topic and Security Hub
/// get the alert at once, and the object's retry (once the topic exists) delivers it to the
/// chat topic alone, without a second alert-topic message.
#[tokio::test]
async fn a_failing_chat_topic_delays_only_the_chat_message() {
    let Some(stack) = stack(true).await else {
        return;
    };
    let chat_name = unique("chat");
    let (head, _) = stack.topic_arn.rsplit_once(':').unwrap();
    let chat_arn = format!("{head}:{chat_name}");
    let account = head.rsplit(':').next().unwrap().to_owned();
    let (topic, table, chat) = (
        stack.topic_arn.clone(),
        stack.table.clone().unwrap(),
        chat_arn.clone(),
    );
    let config = LambdaConfig::from_lookup(move |name| match name {
        "ALERT_TOPIC_ARN" => Some(topic.clone()),
        "DEDUP_TABLE" => Some(table.clone()),
        "CHAT_TOPIC_ARN" => Some(chat.clone()),
        "SECURITY_HUB" => Some("true".into()),
        "AWS_REGION" => Some("us-east-1".into()),
        _ => None,
    })
    .unwrap();
    let sink = FanOut::from_config(stack.sink(), &config, &stack.config);
    let processor =
        Processor::new(S3Source::new(stack.s3.clone()), sink, stack.dedup(), config).unwrap();
    stack
        .upload(KEY, stratus("aws.exfiltration.ec2-share-ami"))
        .await;

    // First delivery: the chat topic is missing, so the object must come back.
    let first = processor.handle(stack.s3_notification(&[KEY])).await;
    match first {
        Err(HandlerError::Retry { first, .. }) => {
            assert!(first.contains("chat: publish failed for"), "{first}")
        }
        other => panic!("the object must be retried: {other:?}"),
    }
    let main = received(&stack, &stack.queue_url, 1).await;
    assert_eq!(main.len(), 1, "{main:?}");
    let alert: Alert = serde_json::from_str(&main[0]).unwrap();
    let finding_id = trailwatch::formats::asff::finding(
        &alert,
        &Importer {
            account_id: account.clone(),
            region: "us-east-1".into(),
            claim_other_accounts: true,
        },
        None,
    )
    .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let findings = findings_with_id(&stack, &finding_id).await;
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(finding.generator_id(), Some(alert.rule_id.as_str()));
    // The trail's account is not the function's: the finding is filed under the function's
    // account and names the event's.
    assert_eq!(finding.aws_account_id(), Some(account.as_str()));
    assert_eq!(
        finding.product_arn(),
        Some(format!("arn:aws:securityhub:us-east-1:{account}:product/{account}/default").as_str())
    );
    assert_eq!(
        finding
            .product_fields()
            .and_then(|f| f.get("trailwatch/event_account"))
            .map(String::as_str),
        alert.account_id.as_deref()
    );
    assert_ne!(alert.account_id.as_deref(), Some(account.as_str()));

    // The chat topic now exists: the retry delivers the chat message, and only that.
    let chat_queue = subscribed_queue(&stack, &chat_name).await;
    let retry = processor
        .handle(stack.s3_notification(&[KEY]))
        .await
        .unwrap();
    assert_eq!(retry["alerts_published"], 0, "{retry}");
    let chat_messages = received(&stack, &chat_queue, 1).await;
    assert_eq!(chat_messages.len(), 1, "{chat_messages:?}");
    let notification: Value = serde_json::from_str(&chat_messages[0]).unwrap();
    assert_eq!(
        notification,
        trailwatch::formats::chat::notification(&alert)
    );
    assert_eq!(notification["version"], "1.0");
    assert_eq!(notification["source"], "custom");
    assert!(received(&stack, &stack.queue_url, 0).await.is_empty());
    assert_eq!(findings_with_id(&stack, &finding_id).await.len(), 1);

    // Delivered everywhere: a third delivery publishes nothing anywhere.
    processor
        .handle(stack.s3_notification(&[KEY]))
        .await
        .unwrap();
    assert!(received(&stack, &chat_queue, 0).await.is_empty());
    assert!(received(&stack, &stack.queue_url, 0).await.is_empty());
}

fn alerts(n: usize) -> Vec<Alert> {
    let body = stratus("aws.exfiltration.ec2-share-ami");
    let detector = Detector::new(&Default::default()).unwrap();
    let mut one = Vec::new();
    scan_log(&body[..], "x", &detector, Default::default(), |a| {
        one.push(a)
    })
    .unwrap();
    (0..n)
        .map(|i| {
            let mut a = one[0].clone();
            a.dedup_key = format!("{}|{i}", a.dedup_key);
            a
        })
        .collect()
}

fn hub(client: aws_sdk_securityhub::Client) -> SecurityHubSink {
    SecurityHubSink::new(
        client,
        Importer {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            claim_other_accounts: true,
        },
    )
    .with_backoff(Duration::from_millis(1))
}

fn ids(input: &BatchImportFindingsInput) -> Vec<String> {
    input
        .findings()
        .iter()
        .map(|f| f.id().unwrap().to_owned())
        .collect()
}

fn imported(input: &BatchImportFindingsInput) -> BatchImportFindingsOutput {
    BatchImportFindingsOutput::builder()
        .success_count(input.findings().len() as i32)
        .failed_count(0)
        .build()
}

fn refused(id: &str, code: &str) -> ImportFindingsError {
    ImportFindingsError::builder()
        .id(id)
        .error_code(code)
        .error_message("refused")
        .build()
}

#[tokio::test]
async fn a_failed_finding_is_imported_again_alone() {
    let batch = alerts(3);
    let sent_first = std::sync::Mutex::new(Vec::new());
    let partial = mock!(aws_sdk_securityhub::Client::batch_import_findings).then_compute_output(
        move |input| {
            let ids = ids(input);
            *sent_first.lock().unwrap() = ids.clone();
            BatchImportFindingsOutput::builder()
                .success_count(2)
                .failed_count(1)
                .failed_findings(refused(&ids[1], "InternalError"))
                .build()
        },
    );
    let second_id = trailwatch::formats::asff::finding(
        &batch[1],
        &Importer {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            claim_other_accounts: true,
        },
        None,
    )
    .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let expected = second_id.clone();
    let retry = mock!(aws_sdk_securityhub::Client::batch_import_findings)
        .match_requests(move |input| ids(input) == [expected.clone()])
        .then_compute_output(imported);
    let client = mock_client!(
        aws_sdk_securityhub,
        RuleMode::Sequential,
        [&partial, &retry]
    );
    let results = hub(client).publish(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(partial.num_calls(), 1);
    assert_eq!(retry.num_calls(), 1);
}

#[tokio::test]
async fn malformed_findings_are_reported_not_retried() {
    let rejecting =
        mock!(aws_sdk_securityhub::Client::batch_import_findings).then_compute_output(|input| {
            let ids = ids(input);
            BatchImportFindingsOutput::builder()
                .success_count(ids.len() as i32 - 1)
                .failed_count(1)
                .failed_findings(refused(&ids[0], "InvalidInput"))
                .build()
        });
    let client = mock_client!(aws_sdk_securityhub, RuleMode::Sequential, [&rejecting]);
    let results = hub(client).publish(&alerts(2)).await;
    assert_eq!(rejecting.num_calls(), 1);
    assert!(
        results[0]
            .as_ref()
            .is_err_and(|e| e.detail.contains("InvalidInput")),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "{results:?}");
}

fn too_many_requests()
-> aws_sdk_securityhub::operation::batch_import_findings::BatchImportFindingsError {
    aws_sdk_securityhub::operation::batch_import_findings::BatchImportFindingsError::generic(
        aws_sdk_securityhub::error::ErrorMetadata::builder()
            .code("TooManyRequestsException")
            .message("Rate exceeded")
            .build(),
    )
}

#[tokio::test]
async fn a_throttled_call_is_retried() {
    let throttled =
        mock!(aws_sdk_securityhub::Client::batch_import_findings).then_error(too_many_requests);
    let healthy =
        mock!(aws_sdk_securityhub::Client::batch_import_findings).then_compute_output(imported);
    let client = mock_client!(
        aws_sdk_securityhub,
        RuleMode::Sequential,
        [&throttled, &healthy]
    );
    let results = hub(client).publish(&alerts(3)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // The SDK's own retries see the throttling first (up to its 3 attempts); ours follow.
    assert!(throttled.num_calls() >= 1);
    assert_eq!(healthy.num_calls(), 1);
}

#[tokio::test]
async fn calls_hold_at_most_100_findings() {
    let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sizes.clone();
    let healthy = mock!(aws_sdk_securityhub::Client::batch_import_findings).then_compute_output(
        move |input| {
            seen.lock().unwrap().push(input.findings().len());
            imported(input)
        },
    );
    let client = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&healthy]);
    let results = hub(client).publish(&alerts(250)).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(*sizes.lock().unwrap(), [100, 100, 50]);
}

#[tokio::test]
async fn an_alert_without_an_account_is_not_imported_and_not_retried() {
    // ASFF requires AwsAccountId; no retry can supply one, so the alert is reported in the log
    // and counted delivered here (the alert topic still carries it).
    let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sizes.clone();
    let importer = mock!(aws_sdk_securityhub::Client::batch_import_findings).then_compute_output(
        move |input| {
            seen.lock().unwrap().push(input.findings().len());
            imported(input)
        },
    );
    let client = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&importer]);
    let mut batch = alerts(2);
    batch[0].account_id = None;
    let results = hub(client).publish(&batch).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        *sizes.lock().unwrap(),
        [1],
        "only the alert with an account is imported"
    );
}
