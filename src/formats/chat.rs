//! AWS Chatbot / Amazon Q Developer in chat applications custom notifications, published to
//! a topic of their own so Slack and Teams channels show a formatted alert.
//!
//! Schema: <https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html>
//! (`version` must be `1.0`, `source` must be `custom`; `content.textType` `client-markdown`
//! is rendered in the channel's own markdown; `metadata.threadId` groups updates in a thread).
//!
//! The markdown stays to what Slack and Teams agree on: `code` spans, line breaks and bare
//! links. Attacker-controlled text goes into code spans, escaped by `clean`, with the
//! characters that could leave a span or form a link or mention (`` ` `` `<` `>` `[` `]`)
//! swapped for look-alikes (`'` `‹` `›` `⁅` `⁆`).

use super::{AlertResource, cut_bytes, detail_list, links, stable_id};
use crate::detector::Alert;
use crate::detector::text::clean;
use serde_json::{Value, json};

/// Longest description, in bytes: well inside a Slack section's 3,000 characters.
const MAX_DESCRIPTION_BYTES: usize = 2_900;
const MAX_NEXT_STEPS: usize = 5;

/// Attacker-controlled text made safe for chat markdown.
fn safe(s: &str, max_chars: usize) -> String {
    clean(s, max_chars)
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '<' => '‹',
            '>' => '›',
            '[' => '⁅',
            ']' => '⁆',
            c => c,
        })
        .collect()
}

/// A code span around attacker-controlled text.
fn code(s: &str, max_chars: usize) -> String {
    format!("`{}`", safe(s, max_chars))
}

fn codes(items: &[&str], max_items: usize) -> String {
    let mut text = items
        .iter()
        .take(max_items)
        .map(|s| code(s, 60))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max_items {
        text.push_str(&format!(" and {} more", items.len() - max_items));
    }
    text
}

/// The markdown body: summary, who, what, where, when, resource, outside parties, links.
fn description(alert: &Alert) -> String {
    let mut lines = vec![safe(&alert.summary, 600), String::new()];
    lines.push(format!(
        "Severity: {} (risk {}) · Rule: {}",
        alert.severity.as_str().to_uppercase(),
        alert.risk_score,
        code(&alert.rule_id, 100)
    ));
    let actor = &alert.actor;
    let mut who = format!(
        "Who: {}",
        code(actor.arn.as_deref().unwrap_or("not recorded"), 300)
    );
    if let Some(ip) = &actor.source_ip {
        who.push_str(&format!(" from {}", code(ip, 100)));
    }
    lines.push(who);
    let outcome = match &alert.error_code {
        Some(code_) => format!("failed with {} (an attempt)", code(code_, 100)),
        None => "succeeded".to_owned(),
    };
    lines.push(format!(
        "What: {} on {}, {outcome}",
        code(&alert.event_name, 100),
        code(&alert.event_source, 100)
    ));
    lines.push(format!(
        "Where: account {}, region {}",
        code(alert.account_id.as_deref().unwrap_or("-"), 40),
        code(alert.region.as_deref().unwrap_or("-"), 40)
    ));
    lines.push(format!(
        "When: {}",
        code(alert.event_time.as_deref().unwrap_or("-"), 40)
    ));
    if let Some(resource) = AlertResource::of(alert) {
        lines.push(format!(
            "Resource: {} {}",
            resource.label(),
            code(&resource.display_id(), 300)
        ));
    }
    let accounts = detail_list(alert, "external_accounts");
    let mut organizations = detail_list(alert, "external_organizations");
    organizations.extend(detail_list(alert, "organizations"));
    organizations.dedup();
    let public = alert.details.get("public").and_then(Value::as_bool) == Some(true);
    if !accounts.is_empty() || !organizations.is_empty() || public {
        let mut parties = Vec::new();
        if public {
            parties.push("EVERYONE (public)".to_owned());
        }
        if !accounts.is_empty() {
            parties.push(format!("accounts {}", codes(&accounts, 10)));
        }
        if !organizations.is_empty() {
            parties.push(format!("organizations {}", codes(&organizations, 5)));
        }
        lines.push(format!("Outside parties: {}", parties.join("; ")));
    }
    if let Some(url) = links::cloudtrail_event(alert) {
        lines.push(format!("CloudTrail event: {url}"));
    }
    if let (Some(url), Some(resource)) = (links::resource_console(alert), AlertResource::of(alert))
    {
        lines.push(format!("{} in the console: {url}", resource.label()));
    }
    for attack in alert.mitre_attack.iter().take(3) {
        lines.push(format!(
            "ATT&CK {} {}: {}",
            safe(&attack.technique_id, 20),
            safe(&attack.technique_name, 100),
            safe(&attack.technique_reference, 200)
        ));
    }
    cut_bytes(&lines.join("\n"), MAX_DESCRIPTION_BYTES)
}

/// The custom notification for `alert`. Every alert with the same dedup key lands in one
/// thread (`metadata.threadId`); the whole object is a few KiB at most.
pub fn notification(alert: &Alert) -> Value {
    let severity = alert.severity.as_str().to_uppercase();
    let mut related: Vec<String> = Vec::new();
    if let Some(resource) = AlertResource::of(alert) {
        related.push(safe(
            &resource.arn(alert).unwrap_or_else(|| resource.display_id()),
            300,
        ));
    }
    if let Some(arn) = &alert.actor.arn {
        related.push(safe(arn, 300));
    }
    let mut keywords = vec![
        severity.clone(),
        safe(&alert.rule_id, 60),
        safe(alert.account_id.as_deref().unwrap_or("-"), 40),
        safe(alert.region.as_deref().unwrap_or("-"), 40),
    ];
    keywords.extend(
        alert
            .mitre_attack
            .iter()
            .take(3)
            .map(|a| safe(&a.technique_id, 20)),
    );
    json!({
        "version": "1.0",
        "source": "custom",
        "id": safe(alert.event_id.as_deref().unwrap_or(&alert.dedup_key), 128),
        "content": {
            "textType": "client-markdown",
            "title": format!(":rotating_light: [{severity}] {}", safe(&alert.title, 200)),
            "description": description(alert),
            "nextSteps": alert
                .triage
                .iter()
                .take(MAX_NEXT_STEPS)
                .map(|s| safe(s, 300))
                .collect::<Vec<_>>(),
            "keywords": keywords,
        },
        "metadata": {
            "threadId": format!("trailwatch-{}", stable_id(alert)),
            "summary": format!("[{severity}] {}", safe(&alert.summary, 300)),
            "eventType": safe(&alert.rule_id, 100),
            "relatedResources": related,
            "additionalContext": {
                "rule_id": safe(&alert.rule_id, 100),
                "dedup_key": safe(&alert.dedup_key, 600),
                "event_id": safe(alert.event_id.as_deref().unwrap_or("-"), 128),
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{ami_share_alert, has_unsafe, hostile_alert};

    #[test]
    fn ami_share_notification_is_pinned() {
        let got = serde_json::to_string_pretty(&notification(&ami_share_alert())).unwrap();
        let expected = include_str!("../../tests/fixtures/formats/ami-share.chat.json");
        assert_eq!(got, expected.trim_end(), "\n--- got ---\n{got}");
    }

    #[test]
    fn required_fields_and_threads() {
        let a = notification(&ami_share_alert());
        assert_eq!(a["version"], "1.0");
        assert_eq!(a["source"], "custom");
        assert_eq!(a["content"]["textType"], "client-markdown");
        let mut repeat = ami_share_alert();
        repeat.event_id = Some("another-event".into());
        assert_eq!(
            notification(&repeat)["metadata"]["threadId"],
            a["metadata"]["threadId"]
        );
    }

    #[test]
    fn hostile_text_cannot_break_out_of_code_or_make_links() {
        let n = notification(&hostile_alert());
        let text = n.to_string();
        let description = n["content"]["description"].as_str().unwrap();
        for s in [description, n["content"]["title"].as_str().unwrap()] {
            assert!(!has_unsafe(s), "{s}");
            assert!(
                !s.contains("<!channel>") && !s.contains("](http://evil"),
                "{s}"
            );
        }
        // Every backtick is one we wrote: spans pair up on each line.
        for line in description.lines() {
            assert_eq!(line.matches('`').count() % 2, 0, "{line}");
        }
        assert!(text.len() < 16 * 1024);
    }

    #[test]
    fn huge_alerts_stay_small() {
        let mut alert = ami_share_alert();
        alert.summary = "s".repeat(1_000_000);
        alert.details = serde_json::json!({"external_accounts": vec!["111122223333"; 40_000],
            "resource": "r".repeat(100_000), "resource_type": "ami"});
        alert.triage = vec!["t".repeat(100_000); 100];
        let n = notification(&alert);
        assert!(n.to_string().len() < 16 * 1024, "{}", n.to_string().len());
        assert!(n["content"]["description"].as_str().unwrap().len() <= MAX_DESCRIPTION_BYTES);
        assert_eq!(
            n["content"]["nextSteps"].as_array().unwrap().len(),
            MAX_NEXT_STEPS
        );
    }
}
