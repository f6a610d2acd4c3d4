//! The plain-text e-mail a subscriber to the alert topic reads (the SNS `email` key).

use super::{AlertResource, cut_bytes, detail_list, detail_str, links};
use crate::detector::Alert;
use crate::detector::text::clean;
use serde_json::Value;
use std::fmt::Write;

/// Largest e-mail body, in bytes (each field is bounded too; this is the backstop).
pub const MAX_EMAIL_BYTES: usize = 32 * 1024;
/// Most items of one list (outside accounts, triage steps, ...) shown before "and N more".
const MAX_LIST_ITEMS: usize = 20;
/// `details` keys the e-mail shows in its own sections rather than under "Other details".
const SHOWN_DETAILS: &[&str] = &[
    "resource",
    "resource_type",
    "bucket",
    "object_key",
    "owner_account",
    "bucket_owner",
    "external_accounts",
    "public",
    "organizations",
    "external_organizations",
    "kms_key_id",
    "kms_key_account",
];

/// The SNS `Subject` (the e-mail's subject line): `[HIGH] Title`, printable ASCII only, at
/// most 100 characters, as SNS requires (the SNS sink uses it for every protocol).
pub fn subject(alert: &Alert) -> String {
    let raw = format!(
        "[{}] {}",
        alert.severity.as_str().to_uppercase(),
        alert.title
    );
    let mut subject: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if subject.len() > 100 {
        subject.truncate(97);
        subject.push_str("...");
    }
    subject
}

fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<16} {value}");
}

fn heading(out: &mut String, title: &str) {
    let _ = write!(out, "\n{title}\n");
}

/// Items, cleaned, comma-separated, at most `MAX_LIST_ITEMS` of them.
fn list(items: &[&str], max_chars: usize) -> String {
    let mut text = items
        .iter()
        .take(MAX_LIST_ITEMS)
        .map(|s| clean(s, max_chars))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX_LIST_ITEMS {
        let _ = write!(text, " and {} more", items.len() - MAX_LIST_ITEMS);
    }
    text
}

/// The readable e-mail body for `alert`: summary, severity, who, what, where and when, the
/// resource and the outside parties, triage steps and links. Every attacker-controlled value
/// is escaped and bounded, and the whole body is at most [`MAX_EMAIL_BYTES`].
pub fn render(alert: &Alert) -> String {
    let mut out = String::new();
    let severity = alert.severity.as_str().to_uppercase();
    let _ = writeln!(out, "[{severity}] {}", clean(&alert.title, 200));
    let _ = writeln!(out, "\n{}\n", clean(&alert.summary, 600));
    row(
        &mut out,
        "Severity",
        &format!("{severity} (risk score {} of 100)", alert.risk_score),
    );
    row(&mut out, "Rule", &clean(&alert.rule_id, 100));

    let actor = &alert.actor;
    heading(&mut out, "WHO");
    let who = [
        ("Principal", actor.arn.as_deref(), 400),
        ("Type", actor.identity_type.as_deref(), 40),
        ("User name", actor.user_name.as_deref(), 200),
        ("Role", actor.session_issuer_arn.as_deref(), 400),
        ("Account", actor.account_id.as_deref(), 40),
        ("Access key", actor.access_key_id.as_deref(), 40),
        ("Via service", actor.invoked_by.as_deref(), 100),
        ("Source IP", actor.source_ip.as_deref(), 100),
        ("User agent", actor.user_agent.as_deref(), 300),
    ];
    if who.iter().all(|(_, v, _)| v.is_none()) {
        row(&mut out, "Principal", "not recorded");
    }
    for (label, value, max) in who {
        if let Some(value) = value {
            row(&mut out, label, &clean(value, max));
        }
    }

    heading(&mut out, "WHAT");
    row(
        &mut out,
        "Call",
        &format!(
            "{} ({})",
            clean(&alert.event_name, 100),
            clean(&alert.event_source, 100)
        ),
    );
    let outcome = match &alert.error_code {
        Some(code) => format!("failed: {} (an attempt; nothing changed)", clean(code, 200)),
        None => "succeeded".to_owned(),
    };
    row(&mut out, "Outcome", &outcome);

    heading(&mut out, "WHERE");
    row(
        &mut out,
        "Account",
        &clean(alert.account_id.as_deref().unwrap_or("not recorded"), 40),
    );
    row(
        &mut out,
        "Region",
        &clean(alert.region.as_deref().unwrap_or("not recorded"), 40),
    );

    heading(&mut out, "WHEN");
    row(
        &mut out,
        "Time (UTC)",
        &clean(alert.event_time.as_deref().unwrap_or("not recorded"), 40),
    );

    resource_section(&mut out, alert);
    outside_parties_section(&mut out, alert);
    other_details_section(&mut out, alert);

    if !alert.triage.is_empty() {
        heading(&mut out, "WHAT TO DO");
        for (i, step) in alert.triage.iter().take(MAX_LIST_ITEMS).enumerate() {
            let _ = writeln!(out, "  {}. {}", i + 1, clean(step, 500));
        }
    }
    if !alert.false_positives.is_empty() {
        heading(&mut out, "KNOWN FALSE POSITIVES");
        for fp in alert.false_positives.iter().take(MAX_LIST_ITEMS) {
            let _ = writeln!(out, "  - {}", clean(fp, 500));
        }
    }

    heading(&mut out, "LINKS");
    if let Some(url) = links::cloudtrail_event(alert) {
        row(&mut out, "CloudTrail", &url);
    }
    if let (Some(url), Some(resource)) = (links::resource_console(alert), AlertResource::of(alert))
    {
        row(&mut out, resource.label(), &url);
    }
    for attack in alert.mitre_attack.iter().take(MAX_LIST_ITEMS) {
        row(
            &mut out,
            &format!("ATT&CK {}", clean(&attack.technique_id, 20)),
            &format!(
                "{} ({}: {})",
                clean(&attack.technique_reference, 200),
                clean(&attack.tactic_name, 60),
                clean(&attack.technique_name, 120)
            ),
        );
    }

    let _ = write!(
        out,
        "\n--\nEvent id {} in {} (record {})\nDedup key {} (repeats within {} minutes are not sent again)\n\
         Machines get this alert as JSON: subscribe a queue or function, or use protocol email-json.\n",
        clean(alert.event_id.as_deref().unwrap_or("-"), 128),
        clean(&alert.log_object.location, 512),
        alert.log_object.record_index,
        clean(&alert.dedup_key, 600),
        alert.dedup_period_minutes,
    );
    if out.len() > MAX_EMAIL_BYTES {
        out = cut_bytes(&out, MAX_EMAIL_BYTES - 1);
        out.push('\n');
    }
    out
}

fn resource_section(out: &mut String, alert: &Alert) {
    let Some(resource) = AlertResource::of(alert) else {
        return;
    };
    heading(out, "RESOURCE");
    row(out, resource.label(), &clean(&resource.display_id(), 1024));
    if let Some(owner) =
        detail_str(alert, "owner_account").or_else(|| detail_str(alert, "bucket_owner"))
    {
        row(out, "Owner account", &clean(owner, 40));
    }
}

fn outside_parties_section(out: &mut String, alert: &Alert) {
    let accounts = detail_list(alert, "external_accounts");
    let mut organizations = detail_list(alert, "external_organizations");
    organizations.extend(detail_list(alert, "organizations"));
    organizations.dedup();
    let public = alert.details.get("public").and_then(Value::as_bool);
    let kms_key = detail_str(alert, "kms_key_id");
    if accounts.is_empty() && organizations.is_empty() && public.is_none() && kms_key.is_none() {
        return;
    }
    heading(out, "OUTSIDE PARTIES");
    if !accounts.is_empty() {
        row(out, "Accounts", &list(&accounts, 40));
    }
    if !organizations.is_empty() {
        row(out, "Organizations", &list(&organizations, 200));
    }
    if let Some(public) = public {
        let text = if public {
            "YES: anyone can use it"
        } else {
            "no"
        };
        row(out, "Public", text);
    }
    if let Some(key) = kms_key {
        row(out, "KMS key", &clean(key, 300));
    }
    if let Some(account) = detail_str(alert, "kms_key_account") {
        row(out, "Key account", &clean(account, 40));
    }
}

/// Null, `""`, `[]` and `{}` say nothing to a reader.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn other_details_section(out: &mut String, alert: &Alert) {
    let Some(details) = alert.details.as_object() else {
        return;
    };
    let others: Vec<(&String, &Value)> = details
        .iter()
        .filter(|(k, v)| !SHOWN_DETAILS.contains(&k.as_str()) && !is_empty(v))
        .collect();
    if others.is_empty() {
        return;
    }
    heading(out, "OTHER DETAILS");
    for (key, value) in others.iter().take(MAX_LIST_ITEMS) {
        let text = match value {
            Value::String(s) => clean(s, 300),
            Value::Array(items) if items.iter().all(Value::is_string) => {
                let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                list(&items, 100)
            }
            other => clean(&other.to_string(), 300),
        };
        row(out, &clean(key, 40), &text);
    }
    if others.len() > MAX_LIST_ITEMS {
        let _ = writeln!(out, "  and {} more", others.len() - MAX_LIST_ITEMS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{ami_share_alert, has_unsafe, hostile_alert};

    /// What an e-mail subscriber reads for the Stratus AMI share, pinned.
    #[test]
    fn ami_share_email_is_pinned() {
        let text = render(&ami_share_alert());
        let expected = include_str!("../../tests/fixtures/formats/ami-share.email.txt");
        assert_eq!(text, expected, "\n--- got ---\n{text}");
    }

    #[test]
    fn hostile_fields_cannot_forge_lines_or_escapes() {
        let text = render(&hostile_alert());
        assert!(!has_unsafe(&text), "{text}");
        // Every line is one the renderer wrote: the injected "[OK] forged line" stays inline.
        assert!(text.lines().all(|l| !l.starts_with("[OK]")), "{text}");
        assert!(text.contains("x\\u{a}[OK] forged line\\u{1b}[31m\\u{202e}gnp.exe"));
    }

    #[test]
    fn huge_fields_are_bounded() {
        let mut alert = ami_share_alert();
        alert.summary = "s".repeat(1_000_000);
        alert.actor.user_agent = Some("u".repeat(1_000_000));
        alert.details = serde_json::json!({
            "external_accounts": vec!["111122223333"; 40_000],
            "resource": "r".repeat(1_000_000),
            "resource_type": "ami",
        });
        for i in 0..1000 {
            alert.details[format!("k{i}")] = serde_json::json!("v".repeat(10_000));
        }
        alert.triage = vec!["t".repeat(100_000); 1000];
        let text = render(&alert);
        assert!(text.len() <= MAX_EMAIL_BYTES, "{}", text.len());
        assert!(text.contains("and 39980 more"));
        assert!(text.contains("WHAT TO DO"));
    }

    #[test]
    fn subjects_are_ascii_and_bounded() {
        let mut alert = ami_share_alert();
        assert_eq!(
            subject(&alert),
            "[HIGH] Resource shared with an unknown external account"
        );
        alert.title = format!("{}\u{e9}\n{}", "x".repeat(50), "y".repeat(80));
        let s = subject(&alert);
        assert!(s.len() <= 100 && s.is_ascii() && !s.contains('\n'), "{s}");
        assert!(s.ends_with("..."));
    }

    #[test]
    fn failed_calls_read_as_attempts() {
        let mut alert = ami_share_alert();
        alert.error_code = Some("AccessDenied".into());
        assert!(
            render(&alert)
                .contains("Outcome          failed: AccessDenied (an attempt; nothing changed)")
        );
    }
}
