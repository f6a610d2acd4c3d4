//! The Lambda function's tuning file from S3 and SSM (moto server, real AWS SDK clients):
//! loaded at cold start, re-read when due, not re-parsed when unchanged, swapped when a good
//! new version arrives, and a bad version keeps the last good detector and counts a failure.
//! The suppressions are counted per exception, per object (not cumulatively).

mod support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_ssm::types::ParameterType;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use support::{Stack, stack, stratus, unique};
use trailwatch::lambda::Processor;
use trailwatch::lambda::config::TuningSource;
use trailwatch::lambda::events::ObjectRef;
use trailwatch::lambda::outcome::ObjectOutcome;
use trailwatch::lambda::reload::{TuningClients, TuningReloader};
use trailwatch::lambda::tuning_metrics::ReloadOutcome;

const SHARE_LOG: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/share.json.gz";
const RELOAD: Duration = Duration::from_secs(300);

/// The Stratus EBS snapshot share (to 098797384747) excepted until `expires`; with
/// `trusted_accounts` in the file too (the environment replaces it in these tests).
fn tuning(expires: &str) -> String {
    format!(
        "trusted_accounts: ['098797384747']\nexceptions:\n  - name: partner-dr\n    reason: DR copies to the partner\n    owner: platform@example.com\n    expires: {expires}\n    match:\n      rules: [resource-shared-with-external-account]\n      resources: ['snap-*']\n      external_accounts: ['098797384747']\n"
    )
}

const BAD: &str = "min_severity: high\nexceptions: 7\n";

fn clients(stack: &Stack) -> TuningClients {
    TuningClients {
        s3: stack.s3.clone(),
        ssm: aws_sdk_ssm::Client::new(&stack.config),
    }
}

/// The function's environment: the topic, and `TRUSTED_ACCOUNTS`, which must win over the
/// file's `trusted_accounts` at cold start and after every reload.
fn environment(stack: &Stack) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let vars: Arc<Mutex<HashMap<&'static str, String>>> = Arc::new(Mutex::new(HashMap::from([
        ("ALERT_TOPIC_ARN", stack.topic_arn.clone()),
        ("TRUSTED_ACCOUNTS", "111122223333".to_owned()),
    ])));
    move |name| vars.lock().unwrap().get(name).cloned()
}

async fn scan_share<S, K, D>(processor: &Processor<S, K, D>, stack: &Stack) -> ObjectOutcome
where
    S: trailwatch::lambda::ports::ObjectSource,
    K: trailwatch::lambda::ports::AlertSink,
    D: trailwatch::lambda::ports::DedupStore,
{
    let object = ObjectRef {
        bucket: stack.bucket.clone(),
        key: SHARE_LOG.to_owned(),
        size: None,
    };
    processor
        .process_object(
            &object,
            &Arc::new(Mutex::new(Default::default())),
            SystemTime::now() + Duration::from_secs(900),
        )
        .await
}

fn report(outcome: ObjectOutcome) -> trailwatch::lambda::outcome::ObjectReport {
    match outcome {
        ObjectOutcome::Scanned(report) => report,
        other => panic!("not scanned: {other:?}"),
    }
}

#[tokio::test]
async fn an_s3_tuning_file_is_reloaded_when_changed_and_a_bad_version_keeps_the_last_good() {
    let Some(stack) = stack(false).await else {
        return;
    };
    stack
        .upload(
            SHARE_LOG,
            stratus("aws.exfiltration.ec2-share-ebs-snapshot"),
        )
        .await;
    let key = "trailwatch/tuning.yml";
    let put = |text: String| {
        let s3 = stack.s3.clone();
        let bucket = stack.bucket.clone();
        async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(text.into_bytes()))
                .send()
                .await
                .unwrap();
        }
    };
    put(tuning("2030-12-31")).await;
    let source = TuningSource::parse(&format!("s3://{}/{key}", stack.bucket), None).unwrap();
    let reloader = TuningReloader::new(
        source,
        clients(&stack),
        None,
        Some(RELOAD),
        environment(&stack),
    );
    let config = reloader.load_initial().await.unwrap();
    // Intervals count from the cold-start read.
    let started = Instant::now();
    assert_eq!(reloader.parses(), 1);
    let processor = Processor::new(
        support::s3_source(&stack),
        stack.sink(),
        trailwatch::lambda::ports::NoDedupStore,
        config,
    )
    .unwrap();

    // The live exception suppresses the share; counted for this object only.
    let first = report(scan_share(&processor, &stack).await);
    assert_eq!(first.alerts_published, 0);
    assert_eq!(first.exceptions.get("partner-dr").suppressed, 1);
    let again = report(scan_share(&processor, &stack).await);
    assert_eq!(again.exceptions.get("partner-dr").suppressed, 1);

    // Not due yet: nothing is read.
    let (outcome, _) = reloader.check_at(started + RELOAD / 2).await;
    assert_eq!(outcome, ReloadOutcome::NotDue);
    // Due but unchanged (If-None-Match on the ETag): nothing is parsed.
    let (outcome, detector) = reloader.check_at(started + RELOAD).await;
    assert_eq!(outcome, ReloadOutcome::Unchanged);
    assert!(detector.is_none());
    assert_eq!(reloader.parses(), 1);

    // A new version whose exception has expired: swapped in; the share alerts again and the
    // expired exception is counted. TRUSTED_ACCOUNTS from the environment still replaces the
    // file's trusted partner (were the file to win, the share would be trusted and silent).
    put(tuning("2024-07-31")).await;
    let (outcome, detector) = reloader.check_at(started + RELOAD * 2).await;
    assert!(
        matches!(outcome, ReloadOutcome::Reloaded { .. }),
        "{outcome:?}"
    );
    processor.replace_detector(detector.unwrap());
    assert_eq!(reloader.parses(), 2);
    let after = report(scan_share(&processor, &stack).await);
    assert_eq!(after.alerts_published, 1);
    assert_eq!(after.exceptions.get("partner-dr").suppressed, 0);
    assert_eq!(after.exceptions.get("partner-dr").expired_matches, 1);

    // A bad version: the last good detector stays, the failure is counted, and it is counted
    // again at the next check while the bad version is still there.
    let good = processor.detector();
    put(BAD.to_owned()).await;
    let (outcome, detector) = reloader.check_at(started + RELOAD * 3).await;
    match &outcome {
        ReloadOutcome::Failed(error) => assert!(error.contains("line 2"), "{error}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(detector.is_none());
    assert_eq!(reloader.failures(), 1);
    assert!(Arc::ptr_eq(&good, &processor.detector()));
    let (outcome, _) = reloader.check_at(started + RELOAD * 4).await;
    assert!(matches!(outcome, ReloadOutcome::Failed(_)));
    assert_eq!(reloader.failures(), 2);
    let still = report(scan_share(&processor, &stack).await);
    assert_eq!(still.exceptions.get("partner-dr").expired_matches, 1);

    // A deleted object is a failure too, and the last good version runs on.
    stack
        .s3
        .delete_object()
        .bucket(&stack.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let (outcome, _) = reloader.check_at(started + RELOAD * 5).await;
    assert!(matches!(outcome, ReloadOutcome::Failed(_)), "{outcome:?}");
    assert_eq!(reloader.failures(), 3);
}

#[tokio::test]
async fn an_ssm_parameter_is_read_with_its_version_and_reloaded_through_refresh() {
    let Some(stack) = stack(false).await else {
        return;
    };
    stack
        .upload(
            SHARE_LOG,
            stratus("aws.exfiltration.ec2-share-ebs-snapshot"),
        )
        .await;
    let ssm = aws_sdk_ssm::Client::new(&stack.config);
    let name = format!("/trailwatch/{}", unique("tuning"));
    let put = |text: String| {
        let ssm = ssm.clone();
        let name = name.clone();
        async move {
            ssm.put_parameter()
                .name(name)
                .value(text)
                .r#type(ParameterType::SecureString)
                .overwrite(true)
                .send()
                .await
                .unwrap()
                .version
        }
    };
    assert_eq!(put(tuning("2030-12-31")).await, 1);
    let source = TuningSource::parse(&format!("ssm:{name}"), None).unwrap();
    assert_eq!(source, TuningSource::Ssm { name: name.clone() });
    let reloader = TuningReloader::new(
        source,
        clients(&stack),
        None,
        Some(RELOAD),
        environment(&stack),
    );
    let config = reloader.load_initial().await.unwrap();
    // Intervals count from the cold-start read.
    let started = Instant::now();
    let processor = Processor::new(
        support::s3_source(&stack),
        stack.sink(),
        trailwatch::lambda::ports::NoDedupStore,
        config,
    )
    .unwrap();
    let first = report(scan_share(&processor, &stack).await);
    assert_eq!(first.exceptions.get("partner-dr").suppressed, 1);

    // Same parameter version: read, not parsed.
    let (outcome, _) = reloader.check_at(started + RELOAD).await;
    assert_eq!(outcome, ReloadOutcome::Unchanged);
    assert_eq!(reloader.parses(), 1);

    assert_eq!(put(tuning("2024-07-31")).await, 2);
    let (outcome, detector) = reloader.check_at(started + RELOAD * 2).await;
    assert_eq!(
        outcome,
        ReloadOutcome::Reloaded {
            version: "version 2".into()
        }
    );
    processor.replace_detector(detector.unwrap());
    let after = report(scan_share(&processor, &stack).await);
    assert_eq!(after.exceptions.get("partner-dr").expired_matches, 1);

    assert_eq!(put(BAD.to_owned()).await, 3);
    let good = processor.detector();
    let (outcome, _) = reloader.check_at(started + RELOAD * 3).await;
    assert!(matches!(outcome, ReloadOutcome::Failed(_)), "{outcome:?}");
    assert_eq!(reloader.failures(), 1);
    assert!(Arc::ptr_eq(&good, &processor.detector()));
    assert_eq!(reloader.parses(), 3);

    // `refresh` (what the function calls per invocation) does nothing before the interval.
    assert_eq!(reloader.refresh(&processor).await, ReloadOutcome::NotDue);

    // A missing parameter fails at cold start, naming the source.
    let missing = TuningReloader::new(
        TuningSource::Ssm {
            name: "/trailwatch/none".into(),
        },
        clients(&stack),
        None,
        Some(RELOAD),
        environment(&stack),
    );
    let err = missing.load_initial().await.unwrap_err();
    assert_eq!(err.variable, "TRAILWATCH_CONFIG");
    assert!(err.problem.contains("ssm:/trailwatch/none"), "{err}");
}

#[tokio::test]
async fn reloading_off_never_reads_again() {
    let Some(stack) = stack(false).await else {
        return;
    };
    let dir = std::env::temp_dir().join(unique("tw-reload-off"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tuning.yml");
    std::fs::write(&path, tuning("2030-12-31")).unwrap();
    let reloader = TuningReloader::new(
        TuningSource::File(path.clone()),
        clients(&stack),
        None,
        None,
        environment(&stack),
    );
    reloader.load_initial().await.unwrap();
    std::fs::write(&path, BAD).unwrap();
    let (outcome, _) = reloader
        .check_at(Instant::now() + Duration::from_secs(86_400))
        .await;
    assert_eq!(outcome, ReloadOutcome::NotDue);
    assert_eq!(reloader.parses(), 1);
    // With an interval, the bundled file is compared by digest and the bad edit is refused.
    let watching = TuningReloader::new(
        TuningSource::File(path.clone()),
        clients(&stack),
        None,
        Some(RELOAD),
        environment(&stack),
    );
    std::fs::write(&path, tuning("2030-12-31")).unwrap();
    watching.load_initial().await.unwrap();
    let later = Instant::now() + RELOAD;
    assert_eq!(watching.check_at(later).await.0, ReloadOutcome::Unchanged);
    std::fs::write(&path, BAD).unwrap();
    assert!(matches!(
        watching.check_at(later + RELOAD).await.0,
        ReloadOutcome::Failed(_)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
