//! Alert renderings for people and other tools: the SNS per-protocol message (a readable
//! e-mail, a one-line SMS, the alert JSON for machines), AWS Chatbot / Amazon Q Developer
//! custom notifications, Security Hub ASFF findings and OCSF Detection Findings.
//!
//! Pure like the detector: no AWS SDK, no async runtime, no I/O, no clock reads. A time that
//! is not in the alert (an ASFF `UpdatedAt`, an OCSF fallback `time`) is passed in by the
//! adapter. Every attacker-controlled string goes through [`crate::detector::text::clean`]
//! and every output is bounded.

#![warn(missing_docs)] // denied by `clippy -D warnings` in `make lint`

pub mod asff;
pub mod chat;
pub mod email;
pub mod links;
pub mod ocsf;
pub mod sms;
pub mod sns;
pub mod timestamp;

use crate::detector::Alert;
use crate::detector::alert::fnv1a64;
use crate::detector::arn::Arn;
use serde_json::Value;

/// The partition a region belongs to (`aws`, `aws-us-gov`, `aws-cn`).
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else {
        "aws"
    }
}

/// The alert's region when it has the shape of a region name (lower-case letters, digits
/// and hyphens), so it can go into a host name or an ARN; `None` otherwise.
pub fn safe_region(alert: &Alert) -> Option<&str> {
    alert.region.as_deref().filter(|r| is_region_like(r))
}

fn is_region_like(region: &str) -> bool {
    (2..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// A short id that is the same for every alert with the same dedup key: chat threads and
/// Security Hub finding ids are keyed on it.
pub fn stable_id(alert: &Alert) -> String {
    format!("{:016x}", fnv1a64(alert.dedup_key.as_bytes()))
}

/// A string field of the alert's `details`, when present and not empty.
pub fn detail_str<'a>(alert: &'a Alert, key: &str) -> Option<&'a str> {
    alert
        .details
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A list-of-strings field of the alert's `details` (a lone string counts as a list of one).
pub fn detail_list<'a>(alert: &'a Alert, key: &str) -> Vec<&'a str> {
    match alert.details.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.as_str()],
        _ => Vec::new(),
    }
}

/// What the alert is about, read from its `details` (`resource`/`resource_type`, `bucket`,
/// `object_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertResource<'a> {
    /// `ami`, `ebs-snapshot`, `rds-snapshot`, `rds-cluster-snapshot`, `s3-bucket`,
    /// `s3-object`, `lambda-function`, `lambda-layer`, or the rule's own word.
    pub kind: &'a str,
    /// The identifier as the call named it (an id, a name or an ARN): raw, not yet cleaned.
    pub id: &'a str,
    /// For S3 objects: the bucket.
    pub bucket: Option<&'a str>,
}

impl<'a> AlertResource<'a> {
    /// The resource the alert names, if any.
    pub fn of(alert: &'a Alert) -> Option<Self> {
        if let Some(id) = detail_str(alert, "resource") {
            return Some(AlertResource {
                kind: detail_str(alert, "resource_type").unwrap_or("resource"),
                id,
                bucket: None,
            });
        }
        let bucket = detail_str(alert, "bucket")?;
        match detail_str(alert, "object_key") {
            Some(key) => Some(AlertResource {
                kind: "s3-object",
                id: key,
                bucket: Some(bucket),
            }),
            None => Some(AlertResource {
                kind: "s3-bucket",
                id: bucket,
                bucket: None,
            }),
        }
    }

    /// How the kind reads in a sentence.
    pub fn label(&self) -> &'static str {
        match self.kind {
            "ami" => "AMI",
            "ebs-snapshot" => "EBS snapshot",
            "rds-snapshot" => "RDS snapshot",
            "rds-cluster-snapshot" => "RDS cluster snapshot",
            "s3-bucket" => "S3 bucket",
            "s3-object" => "S3 object",
            "lambda-function" => "Lambda function",
            "lambda-layer" => "Lambda layer",
            _ => "Resource",
        }
    }

    /// The identifier as a person reads it: `s3://bucket/key` for objects.
    pub fn display_id(&self) -> String {
        match self.bucket {
            Some(bucket) => format!("s3://{bucket}/{}", self.id),
            None => self.id.to_owned(),
        }
    }

    /// The resource's ARN, when the call named one or it can be built from the id, the
    /// alert's region and account. Raw (not cleaned): callers bound and escape it.
    pub fn arn(&self, alert: &Alert) -> Option<String> {
        if Arn::parse(self.id).is_some() {
            return Some(self.id.to_owned());
        }
        let region = safe_region(alert);
        let partition = partition_of(region.unwrap_or(""));
        let account = alert
            .account_id
            .as_deref()
            .filter(|a| crate::detector::arn::is_account_id(a));
        Some(match (self.kind, region, account) {
            ("s3-bucket", _, _) => format!("arn:{partition}:s3:::{}", self.id),
            ("s3-object", _, _) => format!("arn:{partition}:s3:::{}/{}", self.bucket?, self.id),
            // EC2 images and snapshots have no account in their ARN.
            ("ami", Some(r), _) => format!("arn:{partition}:ec2:{r}::image/{}", self.id),
            ("ebs-snapshot", Some(r), _) => {
                format!("arn:{partition}:ec2:{r}::snapshot/{}", self.id)
            }
            ("rds-snapshot", Some(r), Some(a)) => {
                format!("arn:{partition}:rds:{r}:{a}:snapshot:{}", self.id)
            }
            ("rds-cluster-snapshot", Some(r), Some(a)) => {
                format!("arn:{partition}:rds:{r}:{a}:cluster-snapshot:{}", self.id)
            }
            ("lambda-function", Some(r), Some(a)) => {
                format!("arn:{partition}:lambda:{r}:{a}:function:{}", self.id)
            }
            ("lambda-layer", Some(r), Some(a)) => {
                format!("arn:{partition}:lambda:{r}:{a}:layer:{}", self.id)
            }
            _ => return None,
        })
    }
}

/// Cuts `s` to at most `max_bytes` bytes at a character boundary, marking a cut with `…`
/// (the mark counts within the bound).
pub fn cut_bytes(s: &str, max_bytes: usize) -> String {
    if s.len() <= max_bytes {
        return s.to_owned();
    }
    let mark = '…';
    let mut cut = max_bytes.saturating_sub(mark.len_utf8());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = s[..cut].to_owned();
    out.push(mark);
    out
}

#[cfg(test)]
pub(crate) mod testing {
    //! One real alert for every format's pinned output.

    use crate::detector::{Alert, Detector, DetectorConfig, ReaderConfig, scan_log};

    /// The alert for Stratus Red Team's `aws.exfiltration.ec2-share-ami` detonation.
    pub fn ami_share_alert() -> Alert {
        let bytes: &[u8] =
            include_bytes!("../../tests/fixtures/stratus/aws.exfiltration.ec2-share-ami.json.gz");
        let detector = Detector::new(&DetectorConfig::default()).unwrap();
        let mut alerts = Vec::new();
        scan_log(
            bytes,
            "s3://trail-bucket/AWSLogs/118238665043/CloudTrail/me-south-1/2024/08/01/ami.json.gz",
            &detector,
            ReaderConfig::default(),
            &mut |a| alerts.push(a),
        )
        .unwrap();
        assert_eq!(alerts.len(), 1);
        alerts.pop().unwrap()
    }

    /// Every attacker-controlled text field filled with line breaks, terminal escapes, bidi
    /// overrides and markup.
    pub fn hostile_alert() -> Alert {
        let mut alert = ami_share_alert();
        let evil =
            "x\n[OK] forged line\u{1b}[31m\u{202E}gnp.exe <!channel> `code` *b* [l](http://evil)";
        alert.summary = format!("summary {evil}");
        alert.event_name = format!("Event{evil}");
        alert.actor.arn = Some(format!("arn:aws:iam::118238665043:user/{evil}"));
        alert.actor.user_agent = Some(format!("agent {evil}"));
        alert.actor.source_ip = Some(format!("1.2.3.4{evil}"));
        alert.details = serde_json::json!({
            "resource": format!("ami-1{evil}"),
            "resource_type": "ami",
            "external_accounts": [format!("846424999548{evil}")],
            "organizations": [format!("o-1{evil}")],
            "note": evil,
        });
        alert.region = Some(format!("us-east-1{evil}"));
        alert.event_id = Some(format!("id{evil}"));
        alert
    }

    /// True when `s` holds a raw character that `clean` escapes.
    pub fn has_unsafe(s: &str) -> bool {
        s.chars()
            .any(|c| c != '\n' && crate::detector::text::is_unsafe(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testing::ami_share_alert;

    #[test]
    fn resources_are_read_from_details() {
        let alert = ami_share_alert();
        let resource = AlertResource::of(&alert).unwrap();
        assert_eq!(resource.kind, "ami");
        assert_eq!(resource.id, "ami-de1fbCab6ccB03e6D");
        assert_eq!(
            resource.arn(&alert).unwrap(),
            "arn:aws:ec2:me-south-1r::image/ami-de1fbCab6ccB03e6D"
        );
        let mut object = alert.clone();
        object.details = serde_json::json!({"bucket": "b", "object_key": "k/1.txt"});
        let resource = AlertResource::of(&object).unwrap();
        assert_eq!(resource.display_id(), "s3://b/k/1.txt");
        assert_eq!(resource.arn(&object).unwrap(), "arn:aws:s3:::b/k/1.txt");
        object.details = serde_json::json!({"resource": "arn:aws-cn:lambda:cn-north-1:111122223333:function:f", "resource_type": "lambda-function"});
        assert_eq!(
            AlertResource::of(&object).unwrap().arn(&object).unwrap(),
            "arn:aws-cn:lambda:cn-north-1:111122223333:function:f"
        );
        object.details = serde_json::json!({"change": "PutBucketAcl"});
        assert_eq!(AlertResource::of(&object), None);
    }

    #[test]
    fn partitions_and_regions() {
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_of("eu-west-1"), "aws");
        let mut alert = ami_share_alert();
        alert.region = Some("eu-west-1.evil.com/x".into());
        assert_eq!(safe_region(&alert), None);
        alert.region = Some("eu-west-1".into());
        assert_eq!(safe_region(&alert), Some("eu-west-1"));
    }

    #[test]
    fn stable_ids_follow_the_dedup_key() {
        let a = ami_share_alert();
        let mut b = a.clone();
        b.event_id = Some("another".into());
        assert_eq!(stable_id(&a), stable_id(&b));
        b.dedup_key.push('x');
        assert_ne!(stable_id(&a), stable_id(&b));
        assert_eq!(stable_id(&a).len(), 16);
    }

    /// docs/alert-formats.md quotes the pinned snapshots verbatim.
    #[test]
    fn the_documentation_quotes_the_snapshots() {
        let doc = include_str!("../../docs/alert-formats.md");
        for snapshot in [
            include_str!("../../tests/fixtures/formats/ami-share.email.txt"),
            include_str!("../../tests/fixtures/formats/ami-share.chat.json"),
            include_str!("../../tests/fixtures/formats/ami-share.asff.json"),
        ] {
            assert!(
                doc.contains(snapshot.trim_end()),
                "docs/alert-formats.md is stale"
            );
        }
        assert!(doc.contains(&sms::render(&ami_share_alert())));
    }

    #[test]
    fn cuts_respect_the_byte_bound() {
        assert_eq!(cut_bytes("abc", 3), "abc");
        let cut = cut_bytes("é漢字abc", 6);
        assert!(cut.len() <= 6, "{cut}");
        assert!(cut.ends_with('…'));
    }
}
