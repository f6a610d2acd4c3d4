//! What an S3 key (or file path) under a trail bucket holds, judged from its name alone.

/// The kind of object a CloudTrail bucket key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A CloudTrail log file: scan it.
    Log,
    /// A digest file (`CloudTrail-Digest/`): integrity data, nothing to detect.
    Digest,
    /// CloudTrail Insights events (`CloudTrail-Insight/`): not API calls.
    Insight,
    /// Anything else in the bucket (the `ConfigWritabilityCheckFile`, other services' files).
    Other,
}

/// Classifies a key such as `AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/x.json.gz`
/// (organization trails insert `o-xxxx/` after `AWSLogs/`).
pub fn classify_key(key: &str) -> KeyKind {
    if key.contains("/CloudTrail-Digest/") || key.starts_with("CloudTrail-Digest/") {
        KeyKind::Digest
    } else if key.contains("/CloudTrail-Insight/") || key.starts_with("CloudTrail-Insight/") {
        KeyKind::Insight
    } else if (key.contains("/CloudTrail/") || key.starts_with("CloudTrail/"))
        && (key.ends_with(".json.gz") || key.ends_with(".json"))
    {
        KeyKind::Log
    } else {
        KeyKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_trail_bucket_keys() {
        let p = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/111122223333_CloudTrail_us-east-1_20240801T1225Z_abc.json.gz";
        assert_eq!(classify_key(p), KeyKind::Log);
        assert_eq!(
            classify_key(
                "prefix/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2024/08/01/f.json.gz"
            ),
            KeyKind::Log
        );
        assert_eq!(
            classify_key("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/08/01/d.json.gz"),
            KeyKind::Digest
        );
        assert_eq!(
            classify_key("AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/08/01/i.json.gz"),
            KeyKind::Insight
        );
        assert_eq!(
            classify_key("AWSLogs/111122223333/ConfigWritabilityCheckFile"),
            KeyKind::Other
        );
        assert_eq!(
            classify_key("AWSLogs/111122223333/CloudTrail/us-east-1/"),
            KeyKind::Other
        );
    }
}
