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

/// `[HIGH] Title`: ASCII printable only, at most 100 characters, as SNS requires (the e-mail's
/// subject line too, so it is defined once, beside the e-mail).
pub fn subject(alert: &Alert) -> String {
    crate::formats::email::subject(alert)
}

/// Longest string kept by the third step, which bounds every field.
const FIELD_MAX_BYTES: usize = 2_048;
/// Longest string of the last-resort minimal alert.
const MINIMAL_FIELD_MAX_BYTES: usize = 256;
/// Longest summary of the minimal alert.
const MINIMAL_SUMMARY_MAX_BYTES: usize = 600;

/// The alert's JSON, shrunk to fit SNS, the size re-checked after every step: first the
/// embedded record is cut to its identifying fields, then the details are cut, then every
/// string of the alert is bounded, and at last a minimal alert is sent (ids, rule, summary,
/// `record_truncated`), which fits whatever the record held. The alert is never dropped.
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
    // Attacker-sized metadata anywhere (event id, user name, region, ...): bound every string.
    let mut bounded = serde_json::to_value(&shrunk).expect("alerts serialize");
    bound_strings(&mut bounded, FIELD_MAX_BYTES);
    let body = bounded.to_string();
    if body.len() <= limit {
        return body;
    }
    minimal_body(&shrunk)
}

/// The last resort: the alert's identity, rule and summary with every string bounded and
/// every list emptied, in the alert's own shape (subscribers parse it as usual). Its size has a
/// fixed bound (about 30 strings of at most 256 bytes, 6 bytes per escaped byte) far below
/// the SNS limit.
fn minimal_body(alert: &Alert) -> String {
    let mut minimal = alert.clone();
    minimal.record_truncated = true;
    minimal.summary = prefix(&alert.summary, MINIMAL_SUMMARY_MAX_BYTES);
    minimal.details = json!({ "truncated": true });
    minimal.mitre_attack.clear();
    minimal.references.clear();
    minimal.triage.clear();
    minimal.false_positives.clear();
    let mut record = Map::new();
    for key in ["eventID", "eventTime", "eventSource", "eventName"] {
        if let Some(v) = alert.record.get(key).filter(|v| v.is_string()) {
            record.insert(key.into(), v.clone());
        }
    }
    record.insert("_truncated".into(), Value::Bool(true));
    minimal.record = Value::Object(record);
    let mut value = serde_json::to_value(&minimal).expect("alerts serialize");
    let summary = value["summary"].take();
    bound_strings(&mut value, MINIMAL_FIELD_MAX_BYTES);
    value["summary"] = summary;
    value.to_string()
}

/// Cuts every string in `value` to at most `max_bytes` bytes.
fn bound_strings(value: &mut Value, max_bytes: usize) {
    match value {
        Value::String(s) if s.len() > max_bytes => *s = prefix(s, max_bytes),
        Value::Array(items) => items.iter_mut().for_each(|v| bound_strings(v, max_bytes)),
        Value::Object(fields) => fields
            .values_mut()
            .for_each(|v| bound_strings(v, max_bytes)),
        _ => {}
    }
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

/// Longest message attribute value we send (they come from the record).
const ATTRIBUTE_MAX_BYTES: usize = 256;

/// A FIFO message group id: SNS allows at most 128 printable ASCII characters.
fn group_id(account: &str) -> String {
    let id: String = account
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect();
    if id.is_empty() { "unknown".into() } else { id }
}

/// Builds the SNS message for an alert.
pub fn prepare(alert: &Alert) -> PreparedMessage {
    // One message per protocol (MessageStructure json): machine subscribers get the alert
    // JSON under `default`, e-mail a readable text, SMS one line; all within the limit.
    let body = crate::formats::sns::message_within(alert, MAX_BODY_BYTES, |budget| {
        body_within_limit(alert, budget)
    });
    prepare_with_body(alert, body)
}

/// The SNS message for an alert with `body` (at most [`MAX_BODY_BYTES`]): the subject,
/// attributes and FIFO ids every topic of ours gets.
pub fn prepare_with_body(alert: &Alert, body: String) -> PreparedMessage {
    let account = alert.account_id.clone().unwrap_or_else(|| "unknown".into());
    let attribute = |s: &str| {
        if s.is_empty() {
            "unknown".to_owned()
        } else {
            prefix(s, ATTRIBUTE_MAX_BYTES)
        }
    };
    PreparedMessage {
        body,
        subject: subject(alert),
        attributes: vec![
            ("rule_id", attribute(&alert.rule_id)),
            ("severity", alert.severity.as_str().to_owned()),
            ("account_id", attribute(&account)),
            ("event_name", attribute(&alert.event_name)),
        ],
        group_id: group_id(&account),
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
    /// The message for an alert.
    prepare: fn(&Alert) -> PreparedMessage,
    /// Bodies are per-protocol JSON (`MessageStructure: json`).
    per_protocol: bool,
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
            prepare,
            per_protocol: true,
        }
    }

    /// Sends `prepare`'s body as it is to every protocol (no `MessageStructure`): the chat
    /// topic's notifications.
    pub fn with_single_body(mut self, prepare: fn(&Alert) -> PreparedMessage) -> Self {
        self.prepare = prepare;
        self.per_protocol = false;
        self
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
        if self.per_protocol {
            entry = entry.message_structure("json");
        }
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
                    // Pass with time: refreshed credentials, a topic key re-enabled.
                    | "ExpiredToken"
                    | "ExpiredTokenException"
                    | "RequestExpired"
                    | "KMSDisabled"
                    | "KMSInvalidState"
            )
        ),
        _ => false,
    }
}

impl AlertSink for SnsSink {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), String>> {
        let messages: Vec<PreparedMessage> = alerts.iter().map(self.prepare).collect();
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
            error_code: None,
            event_id: Some("e".into()),
            event_time: None,
            event_name: "ModifySnapshotAttribute".into(),
            event_source: "ec2.amazonaws.com".into(),
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
            threshold: None,
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

    /// Issue 8.4: a record with one huge field (a 300 KB user name or event id) gave a
    /// 303 KB body that SNS refused on every delivery. Every field, alone and all at once, in
    /// plain text and in characters JSON escapes six-fold.
    #[test]
    fn hostile_field_sizes_always_fit() {
        type Set = fn(&mut Alert, String);
        let fields: &[(&str, Set)] = &[
            ("event_id", |a, v| a.event_id = Some(v)),
            ("event_time", |a, v| a.event_time = Some(v)),
            ("event_name", |a, v| a.event_name = v),
            ("event_source", |a, v| a.event_source = v),
            ("account_id", |a, v| a.account_id = Some(v)),
            ("region", |a, v| a.region = Some(v)),
            ("summary", |a, v| a.summary = v),
            ("title", |a, v| a.title = v),
            ("dedup_key", |a, v| a.dedup_key = v),
            ("actor.arn", |a, v| a.actor.arn = Some(v)),
            ("actor.user_name", |a, v| a.actor.user_name = Some(v)),
            ("actor.principal_id", |a, v| a.actor.principal_id = Some(v)),
            ("actor.account_id", |a, v| a.actor.account_id = Some(v)),
            ("actor.session_issuer_arn", |a, v| {
                a.actor.session_issuer_arn = Some(v)
            }),
            ("actor.access_key_id", |a, v| {
                a.actor.access_key_id = Some(v)
            }),
            ("actor.invoked_by", |a, v| a.actor.invoked_by = Some(v)),
            ("actor.source_ip", |a, v| a.actor.source_ip = Some(v)),
            ("actor.user_agent", |a, v| a.actor.user_agent = Some(v)),
            ("actor.type", |a, v| a.actor.identity_type = Some(v)),
            ("log_object.location", |a, v| a.log_object.location = v),
            ("references", |a, v| a.references = vec![v; 3]),
        ];
        let record = json!({"eventID": "e".repeat(300_000), "eventName": "PutBucketAcl",
            "userIdentity": {"userName": "u".repeat(300_000)},
            "requestParameters": {"bucketName": "b".repeat(300_000)}});
        let check = |a: &Alert, what: &str| {
            let body = body_within_limit(a, MAX_BODY_BYTES);
            assert!(body.len() <= MAX_BODY_BYTES, "{what}: {} bytes", body.len());
            let back: Alert = serde_json::from_str(&body).expect("still an alert");
            assert_eq!(back.rule_id, a.rule_id, "{what}");
            assert!(back.record_truncated, "{what}");
            let m = prepare(a);
            assert!(
                m.size() <= SNS_MAX_BYTES,
                "{what}: message {} bytes",
                m.size()
            );
            assert!(m.group_id.len() <= 128, "{what}");
        };
        for filler in ["x", "\u{1}", "\u{e9}"] {
            let huge = filler.repeat(300_000);
            let mut everything = alert("k", record.clone());
            for (name, set) in fields {
                let mut a = alert("k", record.clone());
                set(&mut a, huge.clone());
                check(&a, name);
                set(&mut everything, huge.clone());
            }
            everything.details = json!({"x": huge});
            check(&everything, "every field at once");
        }
        // A single oversized field keeps the alert's identity readable.
        let mut a = alert("k", json!({"eventID": "e"}));
        a.actor.user_name = Some("u".repeat(300_000));
        let back: Alert = serde_json::from_str(&body_within_limit(&a, MAX_BODY_BYTES)).unwrap();
        assert_eq!(back.event_id.as_deref(), Some("e"));
        assert_eq!(back.summary, "shared");
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
