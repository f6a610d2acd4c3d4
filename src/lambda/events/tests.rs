//! Tests for `events`.

use super::*;
use serde_json::json;

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1225Z_share ami+1.json.gz";

fn only_direct(inv: Invocation) -> Named {
    match inv {
        Invocation::Direct(n) => n,
        other => panic!("expected a direct invocation, got {other:?}"),
    }
}

#[test]
fn s3_notification_keys_are_url_decoded() {
    let named = only_direct(parse_invocation(&fixture("s3-notification.json")).unwrap());
    assert_eq!(named.objects.len(), 1);
    assert_eq!(named.objects[0].bucket, "trailwatch-demo-trail");
    assert_eq!(named.objects[0].key, KEY);
    assert_eq!(named.objects[0].size, Some(1000));
}

#[test]
fn eventbridge_keys_are_taken_as_is() {
    let named = only_direct(parse_invocation(&fixture("eventbridge-object-created.json")).unwrap());
    assert_eq!(named.objects[0].key, KEY);
}

#[test]
fn sqs_bodies_of_every_shape() {
    let Invocation::Queue(messages) = parse_invocation(&fixture("sqs-mixed.json")).unwrap() else {
        panic!("expected SQS")
    };
    let keys: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            m.named
                .as_ref()
                .map(|n| n.objects.iter().map(|o| o.key.clone()).collect())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(keys[0], vec![KEY.to_string()], "S3 notification");
    assert_eq!(
        keys[1],
        vec![KEY.to_string()],
        "SNS envelope around S3 notification"
    );
    assert_eq!(keys[2], vec![KEY.to_string()], "EventBridge");
    assert_eq!(keys[3].len(), 2, "CloudTrail notice");
    assert!(
        messages[4].named.as_ref().unwrap().objects.is_empty(),
        "test event"
    );
    assert!(messages[5].named.is_err(), "garbage body");
    assert_eq!(messages[5].message_id, "m-garbage");
}

#[test]
fn sns_events_carry_s3_notifications_or_cloudtrail_notices() {
    let named = only_direct(parse_invocation(&fixture("sns-cloudtrail-notice.json")).unwrap());
    assert_eq!(named.objects.len(), 2);
    assert!(
        named
            .objects
            .iter()
            .all(|o| o.bucket == "trailwatch-demo-trail")
    );
}

#[test]
fn batch_jobs_of_both_schemas() {
    let Invocation::Batch(job) = parse_invocation(&fixture("s3-batch-1.0.json")).unwrap() else {
        panic!("expected batch")
    };
    assert_eq!(
        job.tasks[0].object.as_ref().unwrap().bucket,
        "trailwatch-demo-trail"
    );
    assert_eq!(job.tasks[0].object.as_ref().unwrap().key, KEY);
    let Invocation::Batch(job) = parse_invocation(&fixture("s3-batch-2.0.json")).unwrap() else {
        panic!("expected batch")
    };
    assert_eq!(job.schema_version, "2.0");
    assert_eq!(job.tasks[0].object.as_ref().unwrap().key, KEY);
}

#[test]
fn batch_keys_are_form_decoded_in_both_schemas() {
    for (version, bucket_field, bucket) in [
        ("1.0", "s3BucketArn", "arn:aws:s3:::trail"),
        ("2.0", "s3Bucket", "trail"),
    ] {
        let event = json!({"invocationSchemaVersion": version, "invocationId": "i",
            "tasks": [{"taskId": "t", bucket_field: bucket, "s3Key": "a+b%2Bc%20d%2Ce"}]});
        let Invocation::Batch(job) = parse_invocation(&event).unwrap() else {
            panic!("expected batch")
        };
        let object = job.tasks[0].object.as_ref().unwrap();
        assert_eq!(
            (object.bucket.as_str(), object.key.as_str()),
            ("trail", "a b+c d,e")
        );
    }
}

#[test]
fn test_events_and_other_event_types_are_acknowledged() {
    let named = only_direct(parse_invocation(&fixture("s3-test-event.json")).unwrap());
    assert!(named.objects.is_empty());
    assert_eq!(named.ignored, vec!["s3:TestEvent"]);
    let removed = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]});
    let named = only_direct(parse_invocation(&removed).unwrap());
    assert!(named.objects.is_empty());
    assert_eq!(
        parse_invocation(&json!({"hello": "world"})),
        Err(EventError::Unrecognised)
    );
}

#[test]
fn plus_and_percent_in_keys() {
    assert_eq!(
        decode_notification_key("b", "a+b%2Bc%20d").unwrap(),
        "a b+c d"
    );
    assert_eq!(
        decode_notification_key("b", "%FF"),
        Err(EventError::UndecodableKey {
            object: "s3://b/%FF".into()
        }),
        "the error names the object"
    );
}
