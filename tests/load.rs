//! The load run (`make load`; ignored by `cargo test` because it takes minutes): 1,000 log
//! objects and over 1,000,000 records from the deterministic generator, through the Lambda
//! handler against moto on 127.0.0.1 with the DynamoDB dedup table on, delivered twice (S3
//! and SQS deliver at least once). Every expected alert must reach the subscribed queue exactly
//! once and nothing else may. Prints objects/s, records/s and peak RSS. Then alert-heavy
//! objects (issue 8.1): peak RSS of the handler on 100,000 same-key and 20,000 distinct-key
//! alerts against quiet objects of the same records.
//!
//! Env: LOAD_OBJECTS (1000), LOAD_OBJECT_BYTES (1,500,000 decompressed), LOAD_INSTANCES (4
//! concurrent "function instances" sharing the table), LOAD_TRIGGER_EVERY (2000 records),
//! LOAD_SAME_KEY_ALERTS (100,000), LOAD_DISTINCT_ALERTS (20,000).

mod support;
#[path = "../benches/synth/mod.rs"]
mod synth;

use futures::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trailwatch::detector::{Alert, Detector, ReaderConfig, scan_log};
use trailwatch::lambda::HandlerError;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set of this process so far (Linux), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Starts a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with `make load`"]
async fn a_million_records_through_the_handler_with_dedup_exactly_once() {
    let objects = env_usize("LOAD_OBJECTS", 1000);
    let object_bytes = env_usize("LOAD_OBJECT_BYTES", 1_500_000) as u64;
    let instances = env_usize("LOAD_INSTANCES", 4);
    let trigger_every = env_usize("LOAD_TRIGGER_EVERY", 2000) as u64;

    let stack = support::stack(true)
        .await
        .expect("moto server (run `make venv`)");
    let lambda_config = stack.lambda_config();

    // Generate and upload, several objects at a time.
    let generation = Instant::now();
    let keys: Vec<String> = (0..objects)
        .map(|i| {
            format!(
                "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T{:04}Z_{i:04}.json.gz",
                i % 2400
            )
        })
        .collect();
    let stack = Arc::new(stack);
    futures::stream::iter(keys.iter().enumerate().map(|(i, key)| {
        let stack = stack.clone();
        async move {
            let body = tokio::task::spawn_blocking(move || {
                let mut gz = Vec::new();
                synth::generate(&mut gz, object_bytes, 1000 + i as u64, trigger_every).unwrap();
                gz
            })
            .await
            .unwrap();
            stack.upload(key, body).await;
        }
    }))
    .buffer_unordered(4)
    .collect::<Vec<_>>()
    .await;

    // The expected alerts are what the pure library finds in the same objects, one per (rule,
    // dedup key) since repeats inside a dedup period are suppressed by design. Timed one object
    // at a time with nothing else running (downloads untimed), this is also the run's
    // baseline: the detector alone on one core.
    let detector = Detector::new(&lambda_config.detector).unwrap();
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    let (mut total_records, mut scan_seconds) = (0u64, 0f64);
    for key in &keys {
        let body = stack
            .s3
            .get_object()
            .bucket(&stack.bucket)
            .key(key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        let scanning = Instant::now();
        let stats = scan_log(&body[..], key, &detector, ReaderConfig::default(), |a| {
            expected.insert((a.rule_id, a.dedup_key));
        })
        .unwrap();
        scan_seconds += scanning.elapsed().as_secs_f64();
        total_records += stats.records;
    }
    let detector_records_per_s = total_records as f64 / scan_seconds;
    println!(
        "generated and uploaded {objects} objects, {total_records} records, {} distinct expected alerts in {:.1}s",
        expected.len(),
        generation.elapsed().as_secs_f64()
    );
    assert!(
        !expected.is_empty(),
        "the generator plants rule-triggering events"
    );

    // Process: notifications of 10 objects (an SQS batch's worth), `instances` at a time,
    // each instance its own processor sharing the dedup table. Then everything again.
    let processors: Vec<_> = (0..instances)
        .map(|_| Arc::new(stack.processor_with_table()))
        .collect();
    let mut rounds = Vec::new();
    for round in ["first delivery", "redelivery"] {
        reset_peak_rss();
        let started = Instant::now();
        // A batch that fails (another instance holds the claim on one of its alerts, so the
        // object is retried: the documented behaviour) is delivered again, as SQS does after
        // the visibility timeout.
        let mut pending: Vec<(usize, &[String])> = keys.chunks(10).enumerate().collect();
        let mut published = 0u64;
        let mut redelivered = 0usize;
        for pass in 0..10 {
            if pending.is_empty() {
                break;
            }
            if pass > 0 {
                redelivered += pending.len();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let results = futures::stream::iter(pending.iter().map(|&(n, batch)| {
                let processor = processors[n % instances].clone();
                let keys: Vec<&str> = batch.iter().map(String::as_str).collect();
                let event = stack.s3_notification(&keys);
                async move { ((n, batch), processor.handle(event).await) }
            }))
            .buffer_unordered(instances)
            .collect::<Vec<_>>()
            .await;
            pending = Vec::new();
            for (batch, result) in results {
                match result {
                    Ok(response) => published += response["alerts_published"].as_u64().unwrap_or(0),
                    Err(HandlerError::Retry { .. }) => pending.push(batch),
                    Err(other) => panic!("{round}: {other}"),
                }
            }
        }
        assert!(
            pending.is_empty(),
            "{round}: batches still failing after 10 deliveries"
        );
        let elapsed = started.elapsed().as_secs_f64();
        let records_per_s = total_records as f64 / elapsed;
        let figures = format!(
            "{round}: {objects} objects in {elapsed:.1}s = {:.1} objects/s, {records_per_s:.0} records/s \
             ({:.2}x the pure detector's {detector_records_per_s:.0} records/s on one core, same objects, same run), \
             {published} alerts published, {redelivered} batches redelivered after a claim race, peak RSS {:.1} MiB",
            objects as f64 / elapsed,
            records_per_s / detector_records_per_s,
            peak_rss_mib()
        );
        println!("{figures}");
        rounds.push((published, figures));
    }
    assert_eq!(rounds[1].0, 0, "a redelivery publishes nothing");

    // Read back everything that reached the subscribed queue.
    let mut delivered: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut quiet = 0;
    while quiet < 3 {
        let received = stack
            .sqs
            .receive_message()
            .queue_url(&stack.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            quiet += 1;
            continue;
        }
        quiet = 0;
        for m in messages {
            let envelope: Value = serde_json::from_str(m.body().unwrap()).expect("SNS envelope");
            let alert: Alert =
                serde_json::from_str(envelope["Message"].as_str().unwrap()).expect("alert JSON");
            *delivered
                .entry((alert.rule_id, alert.dedup_key))
                .or_default() += 1;
            stack
                .sqs
                .delete_message()
                .queue_url(&stack.queue_url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    let doubled: Vec<_> = delivered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "delivered more than once: {doubled:?}");
    let got: BTreeSet<(String, String)> = delivered.into_keys().collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    assert!(extra.is_empty(), "unexpected: {extra:?}");
    // (The published counters can undercount: a batch answered with Retry had already
    // published some of its alerts. What reached the queue is the measure.)
    assert!(rounds[0].0 as usize <= expected.len());
    println!(
        "RESULT {} expected alerts, each delivered exactly once, none extra; {total_records} records; {}",
        expected.len(),
        rounds[0].1
    );
}

/// Messages waiting in the subscribed queue (moto counts exactly).
async fn queued(stack: &support::Stack) -> u64 {
    let attributes = stack
        .sqs
        .get_queue_attributes()
        .queue_url(&stack.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    attributes[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
        .parse()
        .unwrap()
}

/// Issue 8.1: peak RSS of the handler on one object of alert-raising records (an attacker's
/// `PutBucketAcl` burst) against the same object with every call refused (no alert), through
/// the handler with the dedup table against moto. Each heavy object is measured right after its
/// quiet twin, one object per invocation, nothing else running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with `make load`"]
async fn alert_heavy_objects_take_no_more_memory_than_quiet_ones() {
    use synth::Burst;
    let same_key_records = env_usize("LOAD_SAME_KEY_ALERTS", 100_000);
    let distinct_records = env_usize("LOAD_DISTINCT_ALERTS", 20_000);
    let stack = support::stack(true)
        .await
        .expect("moto server (run `make venv`)");
    let processor = stack.processor_with_table();
    let mut lines = Vec::new();
    for (records, heavy) in [
        (same_key_records, Burst::SameKey),
        (distinct_records, Burst::DistinctKeys),
    ] {
        let mut peaks = Vec::new();
        for kind in [Burst::Quiet, heavy] {
            let key = format!(
                "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1200Z_{kind:?}{records}.json.gz"
            );
            let mut gz = Vec::new();
            synth::put_bucket_acl_burst(&mut gz, records, kind).unwrap();
            let compressed = gz.len();
            stack.upload(&key, gz).await;
            let before = queued(&stack).await;
            reset_peak_rss();
            let started = Instant::now();
            let response = processor
                .handle(stack.s3_notification(&[&key]))
                .await
                .unwrap();
            let peak = peak_rss_mib();
            let published = response["alerts_published"].as_u64().unwrap();
            let expected = match kind {
                Burst::Quiet => 0,
                Burst::SameKey => 1,
                Burst::DistinctKeys => records as u64,
            };
            assert_eq!(
                published, expected,
                "{kind:?}: every distinct alert is published"
            );
            assert_eq!(
                queued(&stack).await - before,
                expected,
                "{kind:?}: reached the queue"
            );
            println!(
                "{kind:?}: {records} records ({compressed} bytes gzipped), {published} alerts published in {:.1}s, peak RSS {peak:.1} MiB",
                started.elapsed().as_secs_f64()
            );
            peaks.push(peak);
        }
        let ratio = peaks[1] / peaks[0];
        lines.push(format!(
            "{heavy:?} ({records} alert-raising records): peak RSS {:.1} MiB = {ratio:.2}x the quiet object of the same size ({:.1} MiB)",
            peaks[1], peaks[0]
        ));
        assert!(ratio <= 2.0, "{}", lines.last().unwrap());
    }
    for line in lines {
        println!("RESULT {line}");
    }
}

/// Counts what it is given and keeps nothing: isolates the handler's own memory from the SNS
/// emulator, which publishes about 10 alerts/s on a loaded 2-core VM.
#[derive(Default)]
struct CountingSink(std::sync::atomic::AtomicU64);

impl trailwatch::lambda::ports::AlertSink for CountingSink {
    async fn publish(
        &self,
        alerts: &[Alert],
    ) -> Vec<Result<(), trailwatch::lambda::ports::PublishError>> {
        self.0
            .fetch_add(alerts.len() as u64, std::sync::atomic::Ordering::SeqCst);
        vec![Ok(()); alerts.len()]
    }
}

/// Issue 8.1, distinct keys without the emulator in the way: the object comes from S3 on moto,
/// alerts go to a counting sink (every one must arrive), no dedup table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with `make load`"]
async fn distinct_key_alerts_take_no_more_memory_than_a_quiet_object() {
    use synth::Burst;
    let records = env_usize("LOAD_DISTINCT_ALERTS", 20_000);
    let stack = support::stack(false)
        .await
        .expect("moto server (run `make venv`)");
    let mut peaks = Vec::new();
    for kind in [Burst::Quiet, Burst::DistinctKeys] {
        let key = format!(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1200Z_sink{kind:?}{records}.json.gz"
        );
        let mut gz = Vec::new();
        synth::put_bucket_acl_burst(&mut gz, records, kind).unwrap();
        stack.upload(&key, gz).await;
        let processor = trailwatch::lambda::Processor::new(
            trailwatch::lambda::s3::S3Source::new(stack.s3.clone()),
            CountingSink::default(),
            trailwatch::lambda::ports::NoDedupStore,
            stack.lambda_config(),
        )
        .unwrap();
        reset_peak_rss();
        let response = processor
            .handle(stack.s3_notification(&[&key]))
            .await
            .unwrap();
        let peak = peak_rss_mib();
        let expected = if kind == Burst::Quiet {
            0
        } else {
            records as u64
        };
        assert_eq!(
            response["alerts_published"].as_u64(),
            Some(expected),
            "{kind:?}"
        );
        println!(
            "{kind:?} (counting sink): {records} records, {expected} alerts published, peak RSS {peak:.1} MiB"
        );
        peaks.push(peak);
    }
    let ratio = peaks[1] / peaks[0];
    println!(
        "RESULT DistinctKeys ({records} alerts, counting sink): peak RSS {:.1} MiB = {ratio:.2}x the quiet object ({:.1} MiB)",
        peaks[1], peaks[0]
    );
    assert!(ratio <= 2.0);
}
