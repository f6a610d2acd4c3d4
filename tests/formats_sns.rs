//! The per-protocol SNS message built over the SNS sink's own shrinking: what the Lambda will
//! publish once it sends `MessageStructure: json` (see `formats::sns`).

use serde_json::{Value, json};
use trailwatch::detector::{Alert, Detector, DetectorConfig, ReaderConfig, scan_log};
use trailwatch::formats::sns::{MACHINE_PROTOCOLS, delivered, message_within};
use trailwatch::formats::{email, sms};
use trailwatch::lambda::sns::{MAX_BODY_BYTES, body_within_limit};

fn ami_share_alert() -> Alert {
    let bytes: &[u8] = include_bytes!("fixtures/stratus/aws.exfiltration.ec2-share-ami.json.gz");
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let mut alerts = Vec::new();
    scan_log(
        bytes,
        "s3://trail/ami.json.gz",
        &detector,
        ReaderConfig::default(),
        &mut |a| alerts.push(a),
    )
    .unwrap();
    alerts.pop().unwrap()
}

#[test]
fn small_alerts_reach_machines_unchanged() {
    let alert = ami_share_alert();
    let message = message_within(&alert, MAX_BODY_BYTES, |b| body_within_limit(&alert, b));
    let parsed: Value = serde_json::from_str(&message).unwrap();
    let today = body_within_limit(&alert, MAX_BODY_BYTES);
    for protocol in MACHINE_PROTOCOLS {
        assert_eq!(
            delivered(&parsed, protocol),
            Some(today.as_str()),
            "{protocol}"
        );
    }
    assert_eq!(
        delivered(&parsed, "email"),
        Some(email::render(&alert).as_str())
    );
    assert_eq!(
        delivered(&parsed, "sms"),
        Some(sms::render(&alert).as_str())
    );
}

#[test]
fn huge_alerts_fit_with_the_sinks_shrinking() {
    let mut alert = ami_share_alert();
    // Quotes double when the JSON is embedded as a string: the worst case for escaping.
    alert.record["requestParameters"] = json!({"bucketPolicy": "\"".repeat(500_000)});
    let message = message_within(&alert, MAX_BODY_BYTES, |b| body_within_limit(&alert, b));
    assert!(message.len() <= MAX_BODY_BYTES, "{}", message.len());
    let parsed: Value = serde_json::from_str(&message).unwrap();
    let back: Alert = serde_json::from_str(delivered(&parsed, "sqs").unwrap()).unwrap();
    assert!(back.record_truncated);
    assert_eq!(back.dedup_key, alert.dedup_key);

    let mut alert = ami_share_alert();
    alert.details = json!({"external_accounts": vec!["\"\"\"\"\"\"\"\"\"\"\"\""; 40_000]});
    let message = message_within(&alert, MAX_BODY_BYTES, |b| body_within_limit(&alert, b));
    assert!(message.len() <= MAX_BODY_BYTES, "{}", message.len());
}
