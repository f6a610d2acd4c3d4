//! Phrasing shared by rules: who did it, and whom a change lets in. Every string that reaches a
//! summary is escaped and bounded here, once.

use crate::detector::record::Record;
use crate::detector::rule::Unevaluable;
use crate::detector::text::clean;
use crate::detector::threshold::parse_event_time;

/// Who did it, for summaries: the caller's ARN, else its type, escaped and bounded.
pub fn actor_name(record: &Record<'_>) -> String {
    let identity = record.user_identity.as_ref();
    let name = identity
        .and_then(|u| u.arn.as_deref())
        .or_else(|| identity.and_then(|u| u.invoked_by.as_deref()))
        .or_else(|| identity.and_then(|u| u.identity_type.as_deref()))
        .unwrap_or("an unknown caller");
    clean(name, 200)
}

/// "account 1", "accounts 1, 2", bounded for summaries.
pub fn describe_accounts<'a>(accounts: impl IntoIterator<Item = &'a String>) -> String {
    let list: Vec<&String> = accounts.into_iter().collect();
    let shown: Vec<String> = list.iter().take(5).map(|s| clean(s, 64)).collect();
    let more = if list.len() > 5 {
        format!(" and {} more", list.len() - 5)
    } else {
        String::new()
    };
    let noun = if list.len() == 1 {
        "account"
    } else {
        "accounts"
    };
    format!("{noun} {}{more}", shown.join(", "))
}

/// Whom a change lets in: "everyone", "account 1", "everyone and accounts 1, 2".
pub fn describe_whom<'a>(
    public: bool,
    accounts: impl IntoIterator<Item = &'a String>,
    public_label: &str,
) -> String {
    let accounts: Vec<&String> = accounts.into_iter().collect();
    match (public, accounts.is_empty()) {
        (true, true) => public_label.to_owned(),
        (true, false) => format!("{public_label} and {}", describe_accounts(accounts)),
        (false, _) => describe_accounts(accounts),
    }
}

/// " (failed: AccessDenied)" for a failed call, "" otherwise: summaries of attempts say so.
pub fn failure_suffix(record: &Record<'_>) -> String {
    record
        .error()
        .map(|e| format!(" (failed: {})", clean(e, 80)))
        .unwrap_or_default()
}

/// Whom a threshold rule counts: the role for role sessions (an attacker rotating session names
/// stays one principal, and a fleet sharing a role reads the same few items), else the caller's
/// ARN, else its principal id. `None` for calls an AWS service made on a principal's behalf
/// (CloudFormation dynamic references, Auto Scaling launches: `sourceIPAddress` is the
/// service's host name) and for AWS service identities: those are not a person or workload
/// harvesting credentials.
pub fn counted_principal(record: &Record<'_>) -> Result<Option<String>, Unevaluable> {
    let identity = record
        .user_identity
        .as_ref()
        .ok_or(Unevaluable::Missing("userIdentity"))?;
    let by_service = record
        .source_ip_address
        .as_deref()
        .is_some_and(|ip| ip.ends_with(".amazonaws.com"));
    if by_service || identity.identity_type.as_deref() == Some("AWSService") {
        return Ok(None);
    }
    let role = identity
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .filter(|i| i.issuer_type.as_deref() == Some("Role"))
        .and_then(|i| i.arn.as_deref());
    role.or(identity.arn.as_deref())
        .or(identity.principal_id.as_deref())
        .filter(|s| !s.is_empty())
        .map(|s| Some(s.to_owned()))
        .ok_or(Unevaluable::Missing("userIdentity.arn"))
}

/// The record's `eventTime` in Unix seconds: threshold windows are aligned on it.
pub fn event_epoch(record: &Record<'_>) -> Result<u64, Unevaluable> {
    let text = record
        .event_time
        .as_deref()
        .ok_or(Unevaluable::Missing("eventTime"))?;
    parse_event_time(text).ok_or_else(|| {
        Unevaluable::malformed("eventTime", format!("{:?} is not a time", clean(text, 40)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whom_reads_naturally() {
        let one = vec!["444455556666".to_string()];
        let many: Vec<String> = (0..7).map(|i| format!("{i:012}")).collect();
        assert_eq!(describe_whom(true, &[], "everyone"), "everyone");
        assert_eq!(
            describe_whom(false, &one, "everyone"),
            "account 444455556666"
        );
        assert_eq!(
            describe_whom(true, &one, "everyone"),
            "everyone and account 444455556666"
        );
        assert!(describe_whom(false, &many, "everyone").ends_with("and 2 more"));
    }

    #[test]
    fn failed_calls_are_named_in_summaries() {
        let failed = Record::from_slice(br#"{"errorCode":"AccessDenied"}"#).unwrap();
        assert_eq!(failure_suffix(&failed), " (failed: AccessDenied)");
        let ok = Record::from_slice(br#"{}"#).unwrap();
        assert_eq!(failure_suffix(&ok), "");
    }
}
