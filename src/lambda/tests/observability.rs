//! What an invocation says about itself (records no rule could judge, logged with their
//! event id) and threshold windows across objects.

use super::*;

/// Captures what `tracing` writes, for assertions on log lines.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn a_record_no_rule_could_judge_is_counted_and_logged_with_its_event_id() {
    // Issue 8.6: a policy nested past serde's recursion limit hid the event without a trace.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let log = format!(
        r#"{{"Records":[{{"eventID":"hidden-share","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",
          "recipientAccountId":"111122223333","requestParameters":{{"bucketName":"b","bucketPolicy":{deep}}}}}]}}"#
    );
    let captured = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(captured.clone())
        .finish();
    // The scan runs on a blocking thread: the subscriber is set on every thread the runtime
    // starts, blocking ones included.
    let dispatch = tracing::Dispatch::new(subscriber);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&dispatch));
        })
        .build()
        .unwrap();
    let p = processor(FakeS3::default().with(AMI_KEY, log.into_bytes()));
    let object = ObjectRef {
        bucket: BUCKET.into(),
        key: AMI_KEY.into(),
        size: None,
    };
    let outcome = runtime.block_on(async {
        let seen = Arc::new(Mutex::new(std::collections::HashSet::new()));
        p.process_object(&object, &seen, at(60)).await
    });
    drop(runtime);
    let crate::lambda::ObjectOutcome::Scanned(report) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(report.skipped_records, 1);
    let mut metrics = crate::lambda::metrics::InvocationMetrics::default();
    metrics.record(&crate::lambda::ObjectOutcome::Scanned(report));
    assert_eq!(metrics.records_skipped, 1);
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warning = logged
        .lines()
        .find(|l| l.contains("record skipped"))
        .unwrap_or_else(|| panic!("no warning in {logged}"));
    assert!(warning.contains("\"level\":\"WARN\""), "{warning}");
    assert!(warning.contains("hidden-share"), "{warning}");
    assert!(warning.contains("recursion limit"), "{warning}");
}

#[tokio::test]
async fn a_burst_across_objects_releases_one_threshold_alert() {
    // The Stratus secrets detonation read in two halves, as two log objects: one alert for the
    // principal's window, once the distinct count reaches the threshold, and none for the half
    // alone.
    let records: Vec<Value> = {
        let bytes = fixture_log("aws.credential-access.secretsmanager-retrieve-secrets.json.gz");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .unwrap();
        let log: Value = serde_json::from_str(&text).unwrap();
        log["Records"].as_array().unwrap().clone()
    };
    let half = records.len() / 2;
    let first = serde_json::to_vec(&json!({ "Records": records[..half] })).unwrap();
    let second = serde_json::to_vec(&json!({ "Records": records[half..] })).unwrap();
    let first_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/a.json";
    let second_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/b.json";
    let p = processor(
        FakeS3::default()
            .with(first_key, first)
            .with(second_key, second),
    );
    p.handle(s3_event(&[first_key])).await.unwrap();
    let after_first: Vec<String> = published(&p).into_iter().map(|a| a.rule_id).collect();
    assert!(
        !after_first.contains(&"secretsmanager-secrets-read-in-bulk".to_string()),
        "{after_first:?}"
    );
    p.handle(s3_event(&[second_key])).await.unwrap();
    let bulk: Vec<Alert> = published(&p)
        .into_iter()
        .filter(|a| a.rule_id == "secretsmanager-secrets-read-in-bulk")
        .collect();
    assert_eq!(bulk.len(), 1, "{bulk:#?}");
    assert!(bulk[0].threshold.is_some() && !bulk[0].is_pending());
}

#[tokio::test]
async fn exceptions_are_counted_per_object_and_a_burst_counts_its_released_alert_once() {
    // The Stratus secrets detonation (a burst: one threshold alert) with an exception on that
    // rule that expired before it; and the Stratus StopLogging with a live exception.
    let tuning = crate::detector::config_file::TuningFile::parse(
        "exceptions:\n  - name: old-audit\n    reason: r\n    owner: o\n    expires: 2020-01-01\n    match: {rules: [secretsmanager-secrets-read-in-bulk]}\n  - name: trail-migration\n    reason: r\n    owner: o\n    match: {rules: [cloudtrail-logging-stopped]}\n",
    )
    .unwrap();
    let mut config = config();
    tuning.apply(&mut config.detector);
    let burst_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/secrets.json.gz";
    let stop_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/stop.json.gz";
    let s3 = FakeS3::default()
        .with(
            burst_key,
            fixture_log("aws.credential-access.secretsmanager-retrieve-secrets.json.gz"),
        )
        .with(
            stop_key,
            fixture_log("aws.defense-evasion.cloudtrail-stop.json.gz"),
        );
    let sns = FakeSns {
        read: Arc::clone(&s3.read),
        ..FakeSns::default()
    };
    let p = Processor::new(s3, sns, FakeTable::default(), config).unwrap();
    let seen: Arc<crate::lambda::delivery::SeenKeys> = Arc::default();
    let scan = |key: &'static str| {
        let seen = Arc::clone(&seen);
        let p = &p;
        async move {
            let object = ObjectRef {
                bucket: BUCKET.into(),
                key: key.into(),
                size: None,
            };
            match p.process_object(&object, &seen, at(600)).await {
                crate::lambda::ObjectOutcome::Scanned(report) => report,
                other => panic!("{other:?}"),
            }
        }
    };
    let burst = scan(burst_key).await;
    let released: Vec<Alert> = published(&p)
        .into_iter()
        .filter(|a| a.rule_id == "secretsmanager-secrets-read-in-bulk")
        .collect();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].expired_exceptions[0].name, "old-audit");
    // One alert went out naming the lapsed exception: one count, not one per record read.
    assert_eq!(burst.exceptions.get("old-audit").expired_matches, 1);
    assert_eq!(burst.exceptions.get("trail-migration").suppressed, 0);
    let stop = scan(stop_key).await;
    assert_eq!(stop.exceptions.get("trail-migration").suppressed, 1);
    assert_eq!(stop.exceptions.get("old-audit").expired_matches, 0);
    assert!(
        !published(&p)
            .iter()
            .any(|a| a.rule_id == "cloudtrail-logging-stopped")
    );
}
