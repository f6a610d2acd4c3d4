//! The pure half of publishing: what SNS receives for one alert (per-protocol body within the
//! size limit, subject, message attributes, FIFO ids) and how messages are grouped into
//! `PublishBatch` calls. No SDK here, so snapshots and tests read it directly.

use crate::detector::Alert;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// SNS's limit for one message and for a whole batch (body plus attributes).
pub const SNS_MAX_BYTES: usize = 262_144;
/// Room kept for attributes, subject and ids.
const ENVELOPE_ALLOWANCE: usize = 4_096;
/// Largest body we send.
pub const MAX_BODY_BYTES: usize = SNS_MAX_BYTES - ENVELOPE_ALLOWANCE;
/// SNS `PublishBatch` takes at most ten entries.
const MAX_BATCH_ENTRIES: usize = 10;

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
    shrunk.record = truncated_record(alert.record.value(), limit / 2).into();
    let body = serde_json::to_string(&shrunk).expect("alerts serialize");
    if body.len() <= limit {
        return body;
    }
    shrunk.record = truncated_record(alert.record.value(), 0).into();
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
    minimal.record = Value::Object(record).into();
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
