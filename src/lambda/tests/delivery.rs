//! The dedup guarantees: repeated deliveries, failed publishes and confirms, runs killed
//! between claim and publish, bounded batches and concurrency.

use super::*;

#[tokio::test]
async fn a_repeated_delivery_publishes_nothing_new() {
    let p = processor(FakeS3::default().with_ami());
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
    let p = processor(FakeS3::default().with_ami());
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
    let p = processor(FakeS3::default().with_ami());
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
    let p = processor(FakeS3::default().with_ami());
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
    let p = processor(FakeS3::default().with_ami());
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
