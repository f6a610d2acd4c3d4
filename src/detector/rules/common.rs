//! Phrasing shared by rules: who did it, and whom a change lets in. Every string that reaches a
//! summary is escaped and bounded here, once.

use crate::detector::record::Record;
use crate::detector::text::clean;

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

/// Whom a change lets in, organizations included: "everyone", "account 1 and organization o-x".
pub fn describe_outsiders<'a>(
    public: bool,
    accounts: impl IntoIterator<Item = &'a String>,
    organizations: impl IntoIterator<Item = &'a String>,
    public_label: &str,
) -> String {
    let accounts: Vec<&String> = accounts.into_iter().collect();
    let orgs: Vec<String> = organizations
        .into_iter()
        .take(5)
        .map(|o| clean(o, 80))
        .collect();
    let mut parts = Vec::new();
    if public || (accounts.is_empty() && orgs.is_empty()) {
        parts.push(public_label.to_owned());
    }
    if !accounts.is_empty() {
        parts.push(describe_accounts(accounts));
    }
    if !orgs.is_empty() {
        let noun = if orgs.len() == 1 {
            "organization"
        } else {
            "organizations"
        };
        parts.push(format!("{noun} {}", orgs.join(", ")));
    }
    parts.join(" and ")
}

/// " (failed: AccessDenied)" for a failed call, "" otherwise: summaries of attempts say so.
pub fn failure_suffix(record: &Record<'_>) -> String {
    record
        .error()
        .map(|e| format!(" (failed: {})", clean(e, 80)))
        .unwrap_or_default()
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
        let org = vec!["o-abcdefghij".to_string()];
        assert_eq!(
            describe_outsiders(false, &one, &org, "everyone"),
            "account 444455556666 and organization o-abcdefghij"
        );
        assert_eq!(describe_outsiders(true, &[], &[], "everyone"), "everyone");
    }

    #[test]
    fn failed_calls_are_named_in_summaries() {
        let failed = Record::from_slice(br#"{"errorCode":"AccessDenied"}"#).unwrap();
        assert_eq!(failure_suffix(&failed), " (failed: AccessDenied)");
        let ok = Record::from_slice(br#"{}"#).unwrap();
        assert_eq!(failure_suffix(&ok), "");
    }
}
