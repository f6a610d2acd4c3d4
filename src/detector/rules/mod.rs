//! The rule catalogue. Adding a rule means adding one file here and one line in [`CATALOGUE`].

use crate::detector::record::Record;
use crate::detector::rule::Rule;
use crate::detector::text::clean;

pub mod resource_shared_with_external_account;
pub mod s3_bucket_config_modified;
pub mod s3_bucket_policy_shared_externally;
pub mod s3_object_encrypted_with_external_kms_key;

/// Every rule, in the order alerts are raised for one record.
pub static CATALOGUE: &[&'static dyn Rule] = &[
    &s3_bucket_policy_shared_externally::RULE,
    &s3_bucket_config_modified::RULE,
    &resource_shared_with_external_account::RULE,
    &s3_object_encrypted_with_external_kms_key::RULE,
];

/// Who did it, for summaries: the caller's ARN, else its type, escaped and bounded.
pub(crate) fn actor_name(record: &Record<'_>) -> String {
    let identity = record.user_identity.as_ref();
    let name = identity
        .and_then(|u| u.arn.as_deref())
        .or_else(|| identity.and_then(|u| u.invoked_by.as_deref()))
        .or_else(|| identity.and_then(|u| u.identity_type.as_deref()))
        .unwrap_or("an unknown caller");
    clean(name, 200)
}

/// "account 1", "accounts 1, 2", bounded for summaries.
pub(crate) fn describe_accounts<'a>(accounts: impl IntoIterator<Item = &'a String>) -> String {
    let list: Vec<&String> = accounts.into_iter().collect();
    let shown: Vec<&str> = list.iter().take(5).map(|s| s.as_str()).collect();
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

#[cfg(test)]
pub(crate) mod testing {
    //! Rule tests that read like a sentence: `assert_fires(&RULE, record)`.
    use crate::detector::engine::{Detector, DetectorConfig};
    use crate::detector::record::Record;
    use crate::detector::rule::{Finding, Rule, RuleContext};

    /// The finding `rule` gives for `record` with no trusted accounts.
    pub fn finding(rule: &dyn Rule, record: &str) -> Option<Finding> {
        finding_with(rule, record, &[])
    }

    /// The finding `rule` gives for `record` with the given trusted accounts. Also checks that
    /// the engine's index routes the record to the rule when the rule fires.
    pub fn finding_with(rule: &dyn Rule, record: &str, trusted: &[&str]) -> Option<Finding> {
        let parsed = Record::from_slice(record.as_bytes()).expect("test record parses");
        let ctx = RuleContext {
            trusted_accounts: trusted.iter().map(|s| s.to_string()).collect(),
        };
        let found = rule.evaluate(&parsed, &ctx);
        if found.is_some() {
            let detector = Detector::new(&DetectorConfig::default()).unwrap();
            assert!(
                detector.wants(parsed.source(), parsed.name()),
                "the index must route {}/{} to {}",
                parsed.source(),
                parsed.name(),
                rule.meta().id
            );
        }
        found
    }

    /// Asserts that `rule` fires on `record` and returns its finding.
    #[track_caller]
    pub fn assert_fires(rule: &dyn Rule, record: &str) -> Finding {
        finding(rule, record).unwrap_or_else(|| panic!("{} should fire", rule.meta().id))
    }

    /// Asserts that `rule` stays silent on `record`.
    #[track_caller]
    pub fn assert_silent(rule: &dyn Rule, record: &str) {
        if let Some(f) = finding(rule, record) {
            panic!("{} should not fire, got {f:?}", rule.meta().id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn rule_ids_are_unique_and_metadata_complete() {
        let mut ids = HashSet::new();
        for rule in CATALOGUE {
            let m = rule.meta();
            assert!(ids.insert(m.id), "duplicate id {}", m.id);
            assert!(!m.title.is_empty() && !m.description.is_empty(), "{}", m.id);
            assert!(!m.mitre_attack.is_empty(), "{}", m.id);
            assert!(!m.references.is_empty(), "{}", m.id);
            assert!(!m.triage.is_empty(), "{}", m.id);
            assert!(!m.false_positives.is_empty(), "{}", m.id);
            assert!(!m.events.is_empty(), "{}", m.id);
            assert!(m.risk_score <= 100, "{}", m.id);
            assert!(m.dedup_period_minutes > 0, "{}", m.id);
        }
    }
}
