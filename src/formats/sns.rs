//! The per-protocol SNS message (`MessageStructure: json`).
//!
//! `default` carries the alert JSON, byte for byte what subscribers receive today; `email`
//! carries the readable body ([`super::email`]) and `sms` one line ([`super::sms`]). Every
//! other protocol (`sqs`, `lambda`, `http`, `https`, `firehose`, `application`,
//! `email-json`) gets `default`: the Publish API delivers `default` to any protocol without
//! a key of its own. Listing the JSON again under each machine key would change nothing a
//! subscriber receives but would spend the 256 KiB limit six times over, so the record
//! embedded in a large alert would be cut far sooner.

use super::{email, sms};
use crate::detector::Alert;
use serde_json::{Map, Value};

/// The protocols whose subscribers receive the alert JSON (through `default`).
pub const MACHINE_PROTOCOLS: &[&str] = &[
    "sqs",
    "lambda",
    "http",
    "https",
    "firehose",
    "application",
    "email-json",
];

/// The message for an alert whose JSON is `alert_json` (unbounded: see [`message_within`]).
pub fn message(alert: &Alert, alert_json: &str) -> String {
    structure(alert_json, &email::render(alert), &sms::render(alert))
}

fn structure(alert_json: &str, email: &str, sms: &str) -> String {
    let mut map = Map::new();
    map.insert("default".into(), Value::String(alert_json.to_owned()));
    map.insert("email".into(), Value::String(email.to_owned()));
    map.insert("sms".into(), Value::String(sms.to_owned()));
    Value::Object(map).to_string()
}

/// Bytes `s` takes as a JSON string's contents (quotes, backslashes and controls escaped).
fn escaped_len(s: &str) -> usize {
    Value::String(s.to_owned()).to_string().len() - 2
}

/// The message for `alert`, at most `limit` bytes.
///
/// `alert_json_within(budget)` must return the alert's JSON in at most `budget` bytes,
/// shrunk the way the SNS sink already shrinks it (`lambda::sns::body_within_limit`): the
/// e-mail and SMS are bounded first, the JSON gets the rest. Because the JSON is embedded as
/// a string, its escaping costs bytes too; the budget is lowered by the overshoot and the
/// JSON asked for again, a few times at most.
pub fn message_within(
    alert: &Alert,
    limit: usize,
    mut alert_json_within: impl FnMut(usize) -> String,
) -> String {
    let email = email::render(alert);
    let sms = sms::render(alert);
    let overhead = structure("", &email, &sms).len();
    let available = limit.saturating_sub(overhead);
    let mut budget = available;
    let mut json = alert_json_within(budget);
    for _ in 0..6 {
        let needed = escaped_len(&json);
        if needed <= available {
            break;
        }
        // Ask for the overshoot again, plus an eighth for the escaping of what remains.
        budget = budget.saturating_sub(needed - available + budget / 8);
        json = alert_json_within(budget);
    }
    structure(&json, &email, &sms)
}

/// What a subscriber of `protocol` receives from a structured message: its own key, else
/// `default` (the Publish API's rule). For tests and documentation.
pub fn delivered<'a>(message: &'a Value, protocol: &str) -> Option<&'a str> {
    message
        .get(protocol)
        .or_else(|| message.get("default"))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{ami_share_alert, hostile_alert};
    use serde_json::json;

    /// SNS's limit for one message.
    const SNS_MAX_BYTES: usize = 262_144;

    /// A stand-in for the SNS sink's shrinking: drops the record, then the details, to fit.
    fn shrink(alert: &Alert, budget: usize) -> String {
        let full = serde_json::to_string(alert).unwrap();
        if full.len() <= budget {
            return full;
        }
        let mut small = alert.clone();
        small.record = json!({"eventID": alert.event_id, "_truncated": true}).into();
        small.record_truncated = true;
        let text = serde_json::to_string(&small).unwrap();
        if text.len() <= budget {
            return text;
        }
        small.details = json!({"truncated": true});
        serde_json::to_string(&small).unwrap()
    }

    #[test]
    fn machines_receive_the_alert_json_unchanged() {
        let alert = ami_share_alert();
        let alert_json = serde_json::to_string(&alert).unwrap();
        let text = message_within(&alert, SNS_MAX_BYTES, |b| shrink(&alert, b));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        for protocol in MACHINE_PROTOCOLS.iter().chain(&["default"]) {
            assert_eq!(delivered(&parsed, protocol), Some(alert_json.as_str()));
        }
        assert_eq!(
            delivered(&parsed, "email"),
            Some(email::render(&alert).as_str())
        );
        assert_eq!(
            delivered(&parsed, "sms"),
            Some(sms::render(&alert).as_str())
        );
        let keys: Vec<&String> = parsed.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["default", "email", "sms"]);
    }

    #[test]
    fn a_huge_alert_fits_the_sns_limit() {
        // The record is mostly quotes, so its escaped form is about twice its size.
        let mut alert = ami_share_alert();
        alert.record["requestParameters"] = json!({"policy": "\"".repeat(400_000)});
        alert.summary = "\"".repeat(600);
        let limit = SNS_MAX_BYTES - 4096;
        let text = message_within(&alert, limit, |b| shrink(&alert, b));
        assert!(text.len() <= limit, "{} > {limit}", text.len());
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let back: Alert = serde_json::from_str(delivered(&parsed, "sqs").unwrap()).unwrap();
        assert!(back.record_truncated);
        assert_eq!(back.rule_id, alert.rule_id);

        // Huge details too: still within the limit, e-mail and SMS intact.
        let mut alert = hostile_alert();
        alert.details = json!({"external_accounts": vec!["\"\"\"\"\"\"\"\"\"\"\"\""; 40_000]});
        let text = message_within(&alert, limit, |b| shrink(&alert, b));
        assert!(text.len() <= limit, "{} > {limit}", text.len());
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            delivered(&parsed, "email"),
            Some(email::render(&alert).as_str())
        );
    }

    #[test]
    fn the_json_gets_what_email_and_sms_leave() {
        let alert = ami_share_alert();
        let mut budgets = Vec::new();
        let text = message_within(&alert, 10_000, |b| {
            budgets.push(b);
            shrink(&alert, b)
        });
        assert!(text.len() <= 10_000, "{}", text.len());
        let overhead = structure("", &email::render(&alert), &sms::render(&alert)).len();
        assert_eq!(budgets[0], 10_000 - overhead);
    }
}
