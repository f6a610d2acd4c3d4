//! Console links a responder clicks: the CloudTrail event, the resource, the ATT&CK technique.
//!
//! Only built from values of a safe shape (a region-like region) and with every other
//! component percent-encoded, so a crafted id cannot point a link elsewhere.

use super::{AlertResource, partition_of, safe_region};
use crate::detector::Alert;
use crate::detector::arn::Arn;

/// The AWS console's origin for a region: regional hosts in the commercial partition, the
/// partition's console elsewhere.
fn console_origin(region: &str) -> String {
    match partition_of(region) {
        "aws-us-gov" => "https://console.amazonaws-us-gov.com".to_owned(),
        "aws-cn" => "https://console.amazonaws.cn".to_owned(),
        _ => format!("https://{region}.console.aws.amazon.com"),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The CloudTrail console's event-history page for the alert's event
/// (`https://REGION.console.aws.amazon.com/cloudtrailv2/home?region=REGION#/events/EVENT_ID`).
/// Event history keeps management events for 90 days.
pub fn cloudtrail_event(alert: &Alert) -> Option<String> {
    let region = safe_region(alert)?;
    let event_id = alert.event_id.as_deref().filter(|id| !id.is_empty())?;
    Some(format!(
        "{}/cloudtrailv2/home?region={region}#/events/{}",
        console_origin(region),
        encode_component(&cut(event_id, 128))
    ))
}

/// The resource's console page, for the kinds whose page address is known.
pub fn resource_console(alert: &Alert) -> Option<String> {
    let region = safe_region(alert)?;
    let resource = AlertResource::of(alert)?;
    let origin = console_origin(region);
    let id = encode_component(&cut(resource.id, 1024));
    Some(match resource.kind {
        "ami" => format!("{origin}/ec2/home?region={region}#ImageDetails:imageId={id}"),
        "ebs-snapshot" => {
            format!("{origin}/ec2/home?region={region}#SnapshotDetails:snapshotId={id}")
        }
        "s3-bucket" => format!("{}/s3/buckets/{id}?region={region}", s3_origin(region)),
        "s3-object" => format!(
            "{}/s3/object/{}?region={region}&prefix={id}",
            s3_origin(region),
            encode_component(&cut(resource.bucket?, 256))
        ),
        "lambda-function" => format!(
            "{origin}/lambda/home?region={region}#/functions/{}",
            encode_component(&cut(lambda_name(resource.id, "function"), 256))
        ),
        "lambda-layer" => format!(
            "{origin}/lambda/home?region={region}#/layers/{}",
            encode_component(&cut(lambda_name(resource.id, "layer"), 256))
        ),
        _ => return None,
    })
}

/// S3's console is global in the commercial partition.
fn s3_origin(region: &str) -> String {
    match partition_of(region) {
        "aws" => "https://s3.console.aws.amazon.com".to_owned(),
        _ => console_origin(region),
    }
}

/// The bare name from a Lambda function or layer ARN (`...:function:NAME[:QUALIFIER]`).
fn lambda_name<'a>(id: &'a str, kind: &str) -> &'a str {
    match Arn::parse(id) {
        Some(arn) => arn
            .resource
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix(':'))
            .map(|r| r.split(':').next().unwrap_or(r))
            .unwrap_or(id),
        None => id,
    }
}

fn cut(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{ami_share_alert, hostile_alert};

    #[test]
    fn cloudtrail_event_history_link() {
        let alert = ami_share_alert();
        assert_eq!(
            cloudtrail_event(&alert).unwrap(),
            "https://me-south-1r.console.aws.amazon.com/cloudtrailv2/home?region=me-south-1r#/events/1f00bcfa-e050-4c2e-b99b-768ebe3a3dd3"
        );
        let mut gov = alert.clone();
        gov.region = Some("us-gov-west-1".into());
        assert_eq!(
            cloudtrail_event(&gov).unwrap(),
            "https://console.amazonaws-us-gov.com/cloudtrailv2/home?region=us-gov-west-1#/events/1f00bcfa-e050-4c2e-b99b-768ebe3a3dd3"
        );
        let mut none = alert;
        none.event_id = None;
        assert_eq!(cloudtrail_event(&none), None);
    }

    #[test]
    fn resource_links() {
        let mut alert = ami_share_alert();
        alert.region = Some("eu-west-1".into());
        assert_eq!(
            resource_console(&alert).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#ImageDetails:imageId=ami-de1fbCab6ccB03e6D"
        );
        alert.details = serde_json::json!({"bucket": "my bucket", "object_key": "a/b c.txt"});
        assert_eq!(
            resource_console(&alert).unwrap(),
            "https://s3.console.aws.amazon.com/s3/object/my%20bucket?region=eu-west-1&prefix=a%2Fb%20c.txt"
        );
        alert.details = serde_json::json!({"resource": "arn:aws:lambda:eu-west-1:111122223333:function:f:PROD", "resource_type": "lambda-function"});
        assert_eq!(
            resource_console(&alert).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/lambda/home?region=eu-west-1#/functions/f"
        );
        alert.details = serde_json::json!({"resource": "snap", "resource_type": "rds-snapshot"});
        assert_eq!(resource_console(&alert), None);
    }

    #[test]
    fn hostile_values_cannot_steer_links() {
        let alert = hostile_alert();
        // The region is not region-shaped: no console link at all.
        assert_eq!(cloudtrail_event(&alert), None);
        assert_eq!(resource_console(&alert), None);
        let mut alert = alert;
        alert.region = Some("eu-west-1".into());
        let link = cloudtrail_event(&alert).unwrap();
        assert!(
            link.starts_with("https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/idx%0A%5BOK%5D%20forged"),
            "{link}"
        );
        let link = resource_console(&alert).unwrap();
        assert!(!link.contains(['\n', ' ', '<', '`', '\u{1b}']), "{link}");
    }
}
