//! The chat topic (`CHAT_TOPIC_ARN`): AWS Chatbot / Amazon Q Developer in chat applications
//! custom notifications ([`crate::formats::chat`]), one per alert, published with the same
//! `PublishBatch` machinery, size limit, attributes and retries as the alert topic. Chatbot
//! reads the message body as the notification, so it goes as one body to every protocol, not
//! as per-protocol JSON.

use crate::detector::Alert;
use crate::detector::text::clean;
use crate::lambda::sns::{MAX_BODY_BYTES, PreparedMessage, SnsSink, prepare_with_body};
use aws_sdk_sns::Client;
use serde_json::json;

/// The chat topic's message for `alert`: its custom notification, within SNS's limit.
pub fn prepare(alert: &Alert) -> PreparedMessage {
    let mut body = crate::formats::chat::notification(alert).to_string();
    if body.len() > MAX_BODY_BYTES {
        // The notification bounds every field to a few KiB in all; should that ever change,
        // a title and summary still reach the channel rather than nothing.
        body = minimal_notification(alert).to_string();
    }
    prepare_with_body(alert, body)
}

/// The last resort: title and summary only, bounded.
fn minimal_notification(alert: &Alert) -> serde_json::Value {
    let severity = alert.severity.as_str().to_uppercase();
    json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": format!("[{severity}] {}", clean(&alert.title, 200)),
            "description": clean(&alert.summary, 1_000),
        },
    })
}

/// A sink publishing custom notifications to the chat topic `topic_arn`.
pub fn chat_sink(client: Client, topic_arn: String) -> SnsSink {
    SnsSink::new(client, topic_arn).with_single_body(prepare)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{ami_share_alert, hostile_alert};
    use serde_json::Value;

    #[test]
    fn the_body_is_the_notification() {
        let alert = ami_share_alert();
        let message = prepare(&alert);
        let body: Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(body, crate::formats::chat::notification(&alert));
        assert_eq!(message.subject, crate::lambda::sns::subject(&alert));
        assert_eq!(message.attributes[0], ("rule_id", alert.rule_id.clone()));
    }

    #[test]
    fn huge_alerts_fit() {
        let mut alert = hostile_alert();
        alert.summary = "\u{1}".repeat(400_000);
        alert.title = "t".repeat(400_000);
        let message = prepare(&alert);
        assert!(message.body.len() <= MAX_BODY_BYTES);
        let body: Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(body["version"], "1.0");
        let minimal = minimal_notification(&alert).to_string();
        assert!(minimal.len() < 8 * 1024, "{}", minimal.len());
    }
}
