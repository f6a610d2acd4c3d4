//! The alert: one JSON shape for the CLI's output and the SNS message body.

use crate::detector::exceptions::ExpiredException;
use crate::detector::record::Record;
use crate::detector::record_json::RecordJson;
use crate::detector::rule::{Attack, Finding, RuleMeta, Severity};
use crate::detector::text::clean;
use crate::detector::threshold::ThresholdState;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a record came from: `s3://bucket/key` or a file path, and its position in the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogObject {
    /// `s3://bucket/key` (Lambda) or the file path (CLI) the record was read from.
    pub location: String,
    /// Zero-based position of the record in the log's `Records` array.
    pub record_index: u64,
}

/// Who made the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `userIdentity.arn`: the caller's IAM principal or assumed-role session.
    pub arn: Option<String>,
    /// `userIdentity.type` (`IAMUser`, `AssumedRole`, `Root`, `AWSService`, ...).
    #[serde(rename = "type")]
    pub identity_type: Option<String>,
    /// The account the caller belongs to (not always the account acted on).
    pub account_id: Option<String>,
    /// `userIdentity.principalId`, stable across renames of the user or role.
    pub principal_id: Option<String>,
    /// `userIdentity.userName` (IAM users and root; role sessions have none).
    pub user_name: Option<String>,
    /// For assumed roles: the role the session came from.
    pub session_issuer_arn: Option<String>,
    /// The access key the call was signed with (`ASIA...` for temporary credentials).
    pub access_key_id: Option<String>,
    /// The AWS service that made the call on the caller's behalf, if any.
    pub invoked_by: Option<String>,
    /// `sourceIPAddress`: an IP address, or a service name for calls made by AWS.
    pub source_ip: Option<String>,
    /// `userAgent`: the SDK, CLI or console that made the call.
    pub user_agent: Option<String>,
}

/// One ATT&CK mapping as written in an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttackRef {
    /// ATT&CK tactic id, e.g. `TA0010`.
    pub tactic_id: String,
    /// ATT&CK tactic name, e.g. `Exfiltration`.
    pub tactic_name: String,
    /// ATT&CK technique id, e.g. `T1537`.
    pub technique_id: String,
    /// ATT&CK technique name.
    pub technique_name: String,
    /// Link to the technique on attack.mitre.org.
    pub technique_reference: String,
}

impl From<&Attack> for AttackRef {
    fn from(a: &Attack) -> Self {
        AttackRef {
            tactic_id: a.tactic_id.to_owned(),
            tactic_name: a.tactic_name.to_owned(),
            technique_id: a.technique_id.to_owned(),
            technique_name: a.technique_name.to_owned(),
            technique_reference: a.technique_url(),
        }
    }
}

/// A detection, with everything a responder needs to triage it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id of the rule that fired (kebab-case; subscription filters select on it).
    pub rule_id: String,
    /// The rule's one-line title.
    pub title: String,
    /// This alert's severity (a rule may lower it, e.g. for a failed attempt).
    pub severity: Severity,
    /// 0-100 score for ordering alerts of one severity.
    pub risk_score: u8,
    /// One sentence saying who did what to which resource.
    pub summary: String,
    /// The record's `eventID`.
    pub event_id: Option<String>,
    /// The record's `eventTime` (ISO 8601, UTC).
    pub event_time: Option<String>,
    /// The API call, CloudTrail's `eventName`.
    pub event_name: String,
    /// The service endpoint, CloudTrail's `eventSource`.
    pub event_source: String,
    /// `errorCode` (else `errorMessage`) when the call failed: an attempt, not a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The account the event happened in (`recipientAccountId`).
    pub account_id: Option<String>,
    /// The record's `awsRegion`.
    pub region: Option<String>,
    /// Who made the call.
    pub actor: Actor,
    /// Rule-specific facts (accounts granted, resource, old and new values).
    pub details: Value,
    /// ATT&CK techniques the rule maps to.
    pub mitre_attack: Vec<AttackRef>,
    /// Documentation and published rules behind the detection.
    pub references: Vec<String>,
    /// Steps to take first when triaging this alert.
    pub triage: Vec<String>,
    /// Known benign causes of this alert.
    pub false_positives: Vec<String>,
    /// Same key within `dedup_period_minutes` means the same alert.
    pub dedup_key: String,
    /// How long a repeat of the same dedup key is suppressed.
    pub dedup_period_minutes: u32,
    /// Where the record was read from.
    pub log_object: LogObject,
    /// The full CloudTrail record (possibly shrunk to fit a transport, see `record_truncated`),
    /// written out as it was read.
    pub record: RecordJson,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// True when `record` (or other fields) were cut to fit the delivery channel.
    pub record_truncated: bool,
    /// Threshold rules only: the count this alert belongs to. Pending (no `distinct` yet) until
    /// a [`ThresholdGate`](crate::detector::threshold::ThresholdGate) releases it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdState>,
    /// Exceptions that would have suppressed this alert had they not expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_exceptions: Vec<ExpiredException>,
}

/// Longest dedup key kept verbatim; longer keys end in a hash of their tail.
const MAX_DEDUP_KEY: usize = 512;

fn owned(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

impl Alert {
    /// Builds the alert for `finding`, raised by the rule `meta` on `record`.
    pub fn new(meta: &RuleMeta, finding: Finding, record: &Record<'_>, log: LogObject) -> Self {
        let mut alert = Alert::for_rule(meta.id, meta.title, meta.severity, finding, record, log);
        alert.risk_score = meta.risk_score;
        alert.mitre_attack = meta.mitre_attack.iter().map(AttackRef::from).collect();
        alert.references = meta.references.iter().map(|s| s.to_string()).collect();
        alert.triage = meta.triage.iter().map(|s| s.to_string()).collect();
        alert.false_positives = meta.false_positives.iter().map(|s| s.to_string()).collect();
        alert.dedup_period_minutes = meta.dedup_period_minutes;
        alert
    }

    /// The record-derived part of an alert for rule `rule_id`; the caller fills in the rule's
    /// metadata (risk score, ATT&CK, references, triage, dedup period). Rules that are not in
    /// the compiled catalogue (Sigma) use this.
    pub fn for_rule(
        rule_id: &str,
        title: &str,
        severity: Severity,
        finding: Finding,
        record: &Record<'_>,
        log: LogObject,
    ) -> Self {
        let identity = record.user_identity.as_ref();
        let actor = Actor {
            arn: owned(identity.and_then(|u| u.arn.as_deref())),
            identity_type: owned(identity.and_then(|u| u.identity_type.as_deref())),
            account_id: owned(identity.and_then(|u| u.account_id.as_deref())),
            principal_id: owned(identity.and_then(|u| u.principal_id.as_deref())),
            user_name: owned(identity.and_then(|u| u.user_name.as_deref())),
            session_issuer_arn: owned(
                identity
                    .and_then(|u| u.session_context.as_ref())
                    .and_then(|c| c.session_issuer.as_ref())
                    .and_then(|i| i.arn.as_deref()),
            ),
            access_key_id: owned(identity.and_then(|u| u.access_key_id.as_deref())),
            invoked_by: owned(identity.and_then(|u| u.invoked_by.as_deref())),
            source_ip: owned(record.source_ip_address.as_deref()),
            user_agent: owned(record.user_agent.as_deref()),
        };
        let account_id = owned(record.owner_account());
        let threshold = finding
            .threshold
            .map(|request| ThresholdState::pending(rule_id, request));
        let dedup_key = dedup_key(
            rule_id,
            account_id.as_deref().unwrap_or("-"),
            &finding.dedup_parts,
        );
        Alert {
            rule_id: rule_id.to_owned(),
            title: title.to_owned(),
            severity: finding.severity.unwrap_or(severity),
            risk_score: 0,
            summary: clean(&finding.summary, 600),
            event_id: owned(record.event_id.as_deref()),
            event_time: owned(record.event_time.as_deref()),
            event_name: record.name().to_owned(),
            event_source: record.source().to_owned(),
            error_code: record.error().map(|e| clean(e, 200)),
            account_id,
            region: owned(record.aws_region.as_deref()),
            actor,
            details: finding.details,
            mitre_attack: Vec::new(),
            references: Vec::new(),
            triage: Vec::new(),
            false_positives: Vec::new(),
            dedup_key,
            dedup_period_minutes: 0,
            log_object: log,
            record: RecordJson::from_bytes(record.raw),
            record_truncated: false,
            threshold,
            expired_exceptions: Vec::new(),
        }
    }

    /// True for a threshold rule's alert that no gate has counted yet: never publish it as is.
    pub fn is_pending(&self) -> bool {
        self.threshold
            .as_ref()
            .is_some_and(|t| t.distinct.is_none())
    }

    /// A short plain-text rendering for terminals and e-mail subjects' bodies; every
    /// attacker-controlled field is escaped and bounded.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "[{}] {} ({})\n  {}\n  event: {} {} at {} in {} / {}\n  actor: {}\n",
            self.severity.as_str().to_uppercase(),
            self.title,
            self.rule_id,
            clean(&self.summary, 600),
            clean(&self.event_source, 80),
            clean(&self.event_name, 80),
            clean(self.event_time.as_deref().unwrap_or("-"), 40),
            clean(self.account_id.as_deref().unwrap_or("-"), 40),
            clean(self.region.as_deref().unwrap_or("-"), 40),
            clean(self.actor.arn.as_deref().unwrap_or("-"), 300),
        );
        out.push_str(&format!(
            "  source: {} (record {}) event id {}\n",
            clean(&self.log_object.location, 300),
            self.log_object.record_index,
            clean(self.event_id.as_deref().unwrap_or("-"), 80),
        ));
        out.push_str(&format!(
            "  details: {}\n",
            clean(&self.details.to_string(), 1000)
        ));
        for expired in &self.expired_exceptions {
            out.push_str(&format!(
                "  exception {} (owner {}) would have suppressed this but expired {}\n",
                clean(&expired.name, 120),
                clean(&expired.owner, 120),
                clean(&expired.expires, 40),
            ));
        }
        out
    }
}

/// `rule|account|part|part...`, bounded: an over-long tail is replaced by its FNV-1a hash so
/// the key fits DynamoDB and SNS limits while staying stable.
fn dedup_key(rule_id: &str, account: &str, parts: &[String]) -> String {
    let mut key = format!("{rule_id}|{account}");
    for part in parts {
        key.push('|');
        key.push_str(part);
    }
    bounded_key(&key)
}

/// `key` itself when short enough, else its head and an FNV-1a hash of its tail: stable, and fits
/// DynamoDB and SNS limits.
pub(crate) fn bounded_key(key: &str) -> String {
    bounded(key, MAX_DEDUP_KEY)
}

/// `text` when at most `max` bytes, else a head and the FNV-1a hash of the rest, `max` bytes in all.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max.saturating_sub(17);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = fnv1a64(&text.as_bytes()[cut..]);
    format!("{}#{hash:016x}", &text[..cut])
}

/// 64-bit FNV-1a: a stable, dependency-free hash for ids derived from dedup keys.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_dedup_keys_are_bounded_and_stable() {
        let parts: Vec<String> = (0..100).map(|i| format!("{i:012}")).collect();
        let a = dedup_key("r", "111122223333", &parts);
        let b = dedup_key("r", "111122223333", &parts);
        assert_eq!(a, b);
        assert!(a.len() <= MAX_DEDUP_KEY);
        let mut other = parts.clone();
        other[99] = "999999999999".into();
        assert_ne!(a, dedup_key("r", "111122223333", &other));
    }

    #[test]
    fn short_dedup_keys_are_readable() {
        assert_eq!(
            dedup_key("r", "1", &["b".into(), "c".into()]),
            "r|1|b|c".to_string()
        );
    }
}
