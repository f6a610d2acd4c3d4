//! Defense evasion: logging, monitoring and governance switched off or narrowed
//! (ATT&CK TA0005, T1562.001 and T1562.008). Every rule here also reports failed attempts, at a
//! lower severity and saying so: an attacker probing what they may switch off is news.

use crate::detector::record::Record;
use crate::detector::rule::{Attack, Finding, Severity};
use crate::detector::rules::common::failure_suffix;
use serde_json::{Value, json};

pub mod cloudtrail_logging_reduced;
pub mod cloudtrail_logging_stopped;
pub mod config_recording_stopped;
pub mod dns_query_logging_removed;
pub mod guardduty_disabled;
pub mod guardduty_findings_suppressed;
pub mod organization_left;
pub mod s3_lifecycle_short_expiration;
pub mod securityhub_disabled;
pub mod vpc_flow_logs_deleted;

/// ATT&CK T1562.008, Impair Defenses: Disable or Modify Cloud Logs.
pub(crate) const DISABLE_CLOUD_LOGS: Attack = Attack {
    tactic_id: "TA0005",
    tactic_name: "Defense Evasion",
    technique_id: "T1562.008",
    technique_name: "Impair Defenses: Disable or Modify Cloud Logs",
};

/// ATT&CK T1562.001, Impair Defenses: Disable or Modify Tools.
pub(crate) const DISABLE_TOOLS: Attack = Attack {
    tactic_id: "TA0005",
    tactic_name: "Defense Evasion",
    technique_id: "T1562.001",
    technique_name: "Impair Defenses: Disable or Modify Tools",
};

/// The finding for a defense-evasion call. A successful call keeps `severity` (or the rule's
/// own when `None`); a failed one drops to `failed_severity`, names the error in the summary
/// and dedups apart from a success, so a later success on the same target still alerts.
pub(crate) fn impairment(
    record: &Record<'_>,
    summary: String,
    mut details: Value,
    mut dedup_parts: Vec<String>,
    severity: Option<Severity>,
    failed_severity: Severity,
) -> Finding {
    let failed = record.failed();
    if let Value::Object(map) = &mut details {
        map.insert("failed".to_owned(), json!(failed));
    }
    dedup_parts.push(if failed { "failed" } else { "succeeded" }.to_owned());
    let finding = Finding::new(
        format!("{summary}{}", failure_suffix(record)),
        details,
        dedup_parts,
    );
    match (failed, severity) {
        (true, _) => finding.with_severity(failed_severity),
        (false, Some(severity)) => finding.with_severity(severity),
        (false, None) => finding,
    }
}

#[cfg(test)]
pub(crate) mod test_records {
    //! Builders for the record envelopes the rule tests share; request parts are real shapes,
    //! each named at its use.
    use serde_json::{Value, json};

    /// A management-event record of `source`/`name` with these request parameters and response,
    /// made by the IAM user of the Stratus recordings (envelope of
    /// aws.defense-evasion.cloudtrail-stop.json).
    pub fn call(source: &str, name: &str, params: Value, response: Value) -> Value {
        json!({
            "eventVersion": "1.10", "eventSource": source, "eventName": name,
            "eventTime": "2024-07-31T13:06:24Z", "awsRegion": "us-east-1",
            "eventID": "10163ed2-2253-469d-a5ee-cbc6651f8934", "eventType": "AwsApiCall",
            "readOnly": false, "managementEvent": true, "recipientAccountId": "143434273843",
            "sourceIPAddress": "86.245.153.234", "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAOC1SYDVN0AF0FMMR",
                "arn": "arn:aws:iam::143434273843:user/christophe", "accountId": "143434273843",
                "accessKeyId": "AKIAGGWFBBHBE7D3M9WI", "userName": "christophe"},
            "requestParameters": params, "responseElements": response
        })
    }

    /// The same call, failed with `AccessDenied` (as CloudTrail logs a denied call: the request
    /// parameters kept, no response).
    pub fn denied(mut record: Value) -> String {
        record["errorCode"] = json!("AccessDenied");
        record["errorMessage"] = json!("User is not authorized to perform this operation");
        record["responseElements"] = Value::Null;
        record.to_string()
    }
}
