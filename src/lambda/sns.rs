//! Publishing alerts to SNS: message bodies within SNS's size limit, subjects within its rules,
//! attributes for subscription filter policies, `PublishBatch` in batches of 10 / 256 KiB,
//! per-entry failures retried, FIFO topics supported.

use crate::detector::Alert;
use crate::lambda::ports::AlertSink;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// SNS's limit for one message and for a whole batch (body plus attributes).
pub const SNS_MAX_BYTES: usize = 262_144;
/// Room kept for attributes, subject and ids.
const ENVELOPE_ALLOWANCE: usize = 4_096;
/// Largest body we send.
pub const MAX_BODY_BYTES: usize = SNS_MAX_BYTES - ENVELOPE_ALLOWANCE;
const MAX_BATCH_ENTRIES: usize = 10;
const ATTEMPTS: u32 = 4;

/// One alert ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMessage {
    pub body: String,
    pub subject: String,
    /// `rule_id`, `severity`, `account_id`, `event_name`.
    pub attributes: Vec<(&'static str, String)>,
    pub group_id: String,
    pub deduplication_id: String,
}

impl PreparedMessage {
    /// Bytes SNS counts against its limit, approximately from above.
    pub fn size(&self) -> usize {
        self.body.len()
            + self.subject.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.len() + 6)
                .sum::<usize>()
    }
}

/// `[HIGH] Title`: ASCII printable only, at most 100 characters, as SNS requires.
pub fn subject(alert: &Alert) -> String {
    let raw = format!(
        "[{}] {}",
        alert.severity.as_str().to_uppercase(),
        alert.title
    );
    let mut clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if clean.len() > 100 {
        clean.truncate(97);
        clean.push_str("...");
    }
    clean
}

/// The alert's JSON, shrunk to fit SNS: first the embedded record is cut down to its
/// identifying fields, then, if the details alone are too big, they are cut too. The alert is
/// never dropped.
pub fn body_within_limit(alert: &Alert, limit: usize) -> String {
    let body = serde_json::to_string(alert).expect("alerts serialize");
    if body.len() <= limit {
        return body;
    }
    let mut shrunk = alert.clone();
    shrunk.record_truncated = true;
    shrunk.record = truncated_record(&alert.record, limit / 2);
    let body = serde_json::to_string(&shrunk).expect("alerts serialize");
    if body.len() <= limit {
        return body;
    }
    shrunk.record = truncated_record(&alert.record, 0);
    let details = shrunk.details.to_string();
    shrunk.details = json!({ "truncated": true, "text": prefix(&details, limit / 4) });
    let body = serde_json::to_string(&shrunk).expect("alerts serialize");
    if body.len() <= limit {
        return body;
    }
    // Attacker-sized metadata everywhere: keep the identity of the alert and its summary.
    shrunk.summary = prefix(&shrunk.summary, 600);
    shrunk.details = json!({ "truncated": true });
    shrunk.actor.user_agent = shrunk.actor.user_agent.map(|u| prefix(&u, 200));
    shrunk.actor.arn = shrunk.actor.arn.map(|u| prefix(&u, 400));
    shrunk.log_object.location = prefix(&shrunk.log_object.location, 1024);
    serde_json::to_string(&shrunk).expect("alerts serialize")
}

/// Keeps the fields that identify the event; `requestParameters` survives as a bounded
/// string prefix when `budget` allows.
fn truncated_record(record: &Value, budget: usize) -> Value {
    let mut kept = Map::new();
    for key in [
        "eventVersion",
        "eventID",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "recipientAccountId",
        "errorCode",
        "requestID",
    ] {
        if let Some(v) = record.get(key).filter(|v| v.is_string()) {
            kept.insert(
                key.into(),
                Value::String(prefix(v.as_str().unwrap_or(""), 256)),
            );
        }
    }
    for key in ["userIdentity"] {
        if let Some(v) = record.get(key) {
            let text = v.to_string();
            if text.len() <= 4096 {
                kept.insert(key.into(), v.clone());
            }
        }
    }
    if let Some(params) = record.get("requestParameters").filter(|_| budget > 0) {
        kept.insert(
            "requestParameters".into(),
            Value::String(prefix(&params.to_string(), budget)),
        );
    }
    kept.insert("_truncated".into(), Value::Bool(true));
    Value::Object(kept)
}

fn prefix(s: &str, max_bytes: usize) -> String {
    if s.len() <= max_bytes {
        return s.to_owned();
    }
    let mut cut = max_bytes;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

/// Builds the SNS message for an alert.
pub fn prepare(alert: &Alert) -> PreparedMessage {
    let account = alert.account_id.clone().unwrap_or_else(|| "unknown".into());
    let non_empty = |s: &str| {
        if s.is_empty() {
            "unknown".to_owned()
        } else {
            s.to_owned()
        }
    };
    PreparedMessage {
        body: body_within_limit(alert, MAX_BODY_BYTES),
        subject: subject(alert),
        attributes: vec![
            ("rule_id", alert.rule_id.clone()),
            ("severity", alert.severity.as_str().to_owned()),
            ("account_id", account.clone()),
            ("event_name", non_empty(&alert.event_name)),
        ],
        group_id: account,
        deduplication_id: hex_sha256(&alert.dedup_key),
    }
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits messages (by index) into batches of at most 10 entries and `SNS_MAX_BYTES`.
pub fn batches(messages: &[PreparedMessage]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut size = 0;
    for (i, m) in messages.iter().enumerate() {
        let fits = out
            .last()
            .is_some_and(|b| b.len() < MAX_BATCH_ENTRIES && size + m.size() <= SNS_MAX_BYTES);
        if !fits {
            out.push(Vec::new());
            size = 0;
        }
        out.last_mut().expect("a batch").push(i);
        size += m.size();
    }
    out
}

/// Publishes to an SNS topic with `PublishBatch`.
#[derive(Debug, Clone)]
pub struct SnsSink {
    client: Client,
    topic_arn: String,
    fifo: bool,
    backoff: Duration,
}

impl SnsSink {
    /// A sink for `topic_arn` (FIFO when it ends in `.fifo`).
    pub fn new(client: Client, topic_arn: String) -> Self {
        let fifo = topic_arn.ends_with(".fifo");
        SnsSink {
            client,
            topic_arn,
            fifo,
            backoff: Duration::from_millis(200),
        }
    }

    /// Changes the pause before the first retry (doubles each time); tests shorten it.
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    fn entry(&self, id: usize, m: &PreparedMessage) -> PublishBatchRequestEntry {
        let mut entry = PublishBatchRequestEntry::builder()
            .id(id.to_string())
            .message(&m.body)
            .subject(&m.subject);
        for (name, value) in &m.attributes {
            entry = entry.message_attributes(
                *name,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .expect("data type is set"),
            );
        }
        if self.fifo {
            entry = entry
                .message_group_id(&m.group_id)
                .message_deduplication_id(&m.deduplication_id);
        }
        entry.build().expect("id and message are set")
    }

    /// Sends one batch, retrying throttled calls and retryable per-entry failures.
    async fn send_batch(
        &self,
        messages: &[PreparedMessage],
        batch: &[usize],
        results: &mut [Result<(), String>],
    ) {
        let mut pending: Vec<usize> = batch.to_vec();
        let mut delay = self.backoff;
        for attempt in 1..=ATTEMPTS {
            let entries: Vec<PublishBatchRequestEntry> = pending
                .iter()
                .map(|i| self.entry(*i, &messages[*i]))
                .collect();
            let sent = self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await;
            let mut retry = Vec::new();
            match sent {
                Ok(output) => {
                    for ok in output.successful() {
                        if let Some(i) = ok.id().and_then(|id| id.parse::<usize>().ok()) {
                            results[i] = Ok(());
                        }
                    }
                    for failed in output.failed() {
                        let Ok(i) = failed.id().parse::<usize>() else {
                            continue;
                        };
                        let why = format!(
                            "{}: {}",
                            failed.code(),
                            failed.message().unwrap_or("no message")
                        );
                        results[i] = Err(why.clone());
                        if !failed.sender_fault() {
                            retry.push(i);
                        } else {
                            tracing::error!(entry = i, reason = %why, "SNS rejected the alert");
                        }
                    }
                }
                Err(error) => {
                    let code = error.code().unwrap_or("").to_owned();
                    let why = format!("PublishBatch failed: {code} {error}");
                    for i in &pending {
                        results[*i] = Err(why.clone());
                    }
                    if is_retryable_call(&error) {
                        retry = pending.clone();
                    } else {
                        tracing::error!(error = %why, "SNS refused the batch");
                    }
                }
            }
            if retry.is_empty() {
                return;
            }
            if attempt < ATTEMPTS {
                tracing::warn!(attempt, entries = retry.len(), "retrying SNS publish");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            pending = retry;
        }
    }
}

fn is_retryable_call<E: ProvideErrorMetadata>(error: &aws_sdk_sns::error::SdkError<E>) -> bool {
    use aws_sdk_sns::error::SdkError;
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        // A 5xx or 429 is worth retrying whatever its body says (a load balancer's 503 has
        // no SNS error code at all).
        SdkError::ServiceError(e) if matches!(e.raw().status().as_u16(), 429 | 500..=599) => true,
        SdkError::ServiceError(e) => matches!(
            e.err().code(),
            Some(
                "Throttling"
                    | "ThrottlingException"
                    | "ThrottledException"
                    | "InternalError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "KMSThrottling"
            )
        ),
        _ => false,
    }
}

impl AlertSink for SnsSink {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), String>> {
        let messages: Vec<PreparedMessage> = alerts.iter().map(prepare).collect();
        let mut results: Vec<Result<(), String>> = vec![Err("not sent".to_owned()); messages.len()];
        for batch in batches(&messages) {
            self.send_batch(&messages, &batch, &mut results).await;
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{Actor, LogObject, Severity};

    pub(crate) fn alert(dedup_key: &str, record: Value) -> Alert {
        Alert {
            rule_id: "resource-shared-with-external-account".into(),
            title: "Resource shared with an unknown external account".into(),
            severity: Severity::High,
            risk_score: 73,
            summary: "shared".into(),
            event_id: Some("e".into()),
            event_time: None,
            event_name: "ModifySnapshotAttribute".into(),
            event_source: "ec2.amazonaws.com".into(),
            error_code: None,
            account_id: Some("111122223333".into()),
            region: None,
            actor: Actor::default(),
            details: json!({"resource": "snap-1"}),
            mitre_attack: vec![],
            references: vec![],
            triage: vec![],
            false_positives: vec![],
            dedup_key: dedup_key.into(),
            dedup_period_minutes: 60,
            log_object: LogObject::default(),
            record,
            record_truncated: false,
            expired_exceptions: Vec::new(),
        }
    }

    #[test]
    fn subject_is_ascii_and_bounded() {
        let mut a = alert("k", json!({}));
        assert_eq!(
            subject(&a),
            "[HIGH] Resource shared with an unknown external account"
        );
        a.title = format!("{}\u{e9}\n{}", "x".repeat(50), "y".repeat(80));
        let s = subject(&a);
        assert!(s.len() <= 100 && s.is_ascii() && !s.contains('\n'), "{s}");
        assert!(s.ends_with("..."));
    }

    #[test]
    fn oversized_alerts_are_shrunk_not_dropped() {
        let huge = json!({"eventID": "e", "eventName": "PutBucketPolicy",
            "requestParameters": {"bucketPolicy": "p".repeat(400_000)}});
        let a = alert("k", huge);
        let body = body_within_limit(&a, MAX_BODY_BYTES);
        assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
        let back: Alert = serde_json::from_str(&body).unwrap();
        assert!(back.record_truncated);
        assert_eq!(back.record["eventID"], "e");
        assert_eq!(back.rule_id, a.rule_id);
        // Small alerts are untouched.
        let small = alert("k", json!({"eventID": "e"}));
        let back: Alert = serde_json::from_str(&body_within_limit(&small, MAX_BODY_BYTES)).unwrap();
        assert_eq!(back, small);
    }

    #[test]
    fn huge_details_are_shrunk_too() {
        let mut a = alert("k", json!({"eventID": "e"}));
        a.details = json!({"external_accounts": vec!["111122223333"; 40_000]});
        let body = body_within_limit(&a, MAX_BODY_BYTES);
        assert!(body.len() <= MAX_BODY_BYTES);
        let back: Alert = serde_json::from_str(&body).unwrap();
        assert_eq!(back.details["truncated"], true);
    }

    #[test]
    fn batches_respect_count_and_size() {
        let small = prepare(&alert("k", json!({})));
        let sizes = batches(&vec![small.clone(); 23]);
        assert_eq!(
            sizes.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![10, 10, 3]
        );
        let mut big = small.clone();
        big.body = "b".repeat(100_000);
        let mixed = batches(&[big.clone(), big.clone(), big.clone(), small.clone()]);
        assert_eq!(mixed, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn attributes_and_fifo_ids() {
        let m = prepare(&alert("some|key", json!({})));
        assert_eq!(
            m.attributes,
            vec![
                (
                    "rule_id",
                    "resource-shared-with-external-account".to_string()
                ),
                ("severity", "high".to_string()),
                ("account_id", "111122223333".to_string()),
                ("event_name", "ModifySnapshotAttribute".to_string()),
            ]
        );
        assert_eq!(m.deduplication_id.len(), 64);
        assert_eq!(m.group_id, "111122223333");
    }
}
