//! The one-line text message (the SNS `sms` key).

use super::AlertResource;
use crate::detector::Alert;

/// Longest SMS, in characters: one GSM 7-bit segment (ASCII only, so characters are bytes).
pub const MAX_SMS_CHARS: usize = 140;

/// Printable ASCII only: no line breaks or escapes, and no character that would switch the
/// message to UCS-2 (70 characters a segment).
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// `HIGH trailwatch: TITLE. AMI ami-1 in 111122223333 me-south-1 2024-08-01T12:25Z`, at
/// most [`MAX_SMS_CHARS`] printable ASCII characters on one line; the most important facts
/// come first so a cut loses the least.
pub fn render(alert: &Alert) -> String {
    let mut text = format!(
        "{} trailwatch: {}.",
        alert.severity.as_str().to_uppercase(),
        alert.title
    );
    if let Some(resource) = AlertResource::of(alert) {
        text.push_str(&format!(" {} {}", resource.label(), resource.display_id()));
    }
    if let Some(account) = &alert.account_id {
        text.push_str(&format!(" in {account}"));
    }
    if let Some(region) = &alert.region {
        text.push_str(&format!(" {region}"));
    }
    if let Some(time) = alert
        .event_time
        .as_deref()
        .and_then(super::timestamp::valid_utc)
    {
        // Minutes are enough on a phone.
        text.push_str(&format!(" {}Z", &time[..16]));
    }
    let text = ascii(&text);
    if text.len() <= MAX_SMS_CHARS {
        return text;
    }
    format!("{}...", &text[..MAX_SMS_CHARS - 3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{ami_share_alert, hostile_alert};

    #[test]
    fn ami_share_sms_is_pinned() {
        assert_eq!(
            render(&ami_share_alert()),
            "HIGH trailwatch: Resource shared with an unknown external account. AMI ami-de1fbCab6ccB03e6D in 118238665043 me-south-1r 2024-08-01T12:25Z"
        );
    }

    #[test]
    fn at_most_140_printable_ascii_characters() {
        let mut long = ami_share_alert();
        long.title = "é".repeat(500);
        for alert in [ami_share_alert(), hostile_alert(), long] {
            let text = render(&alert);
            assert!(text.chars().count() <= MAX_SMS_CHARS, "{text}");
            assert!(
                text.chars().all(|c| c.is_ascii_graphic() || c == ' '),
                "{text:?}"
            );
        }
        let text = render(&hostile_alert());
        assert!(text.ends_with("..."), "{text}");
    }
}
