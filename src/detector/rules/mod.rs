//! The rule catalogue, grouped in folders by family. Adding a rule means adding one file in its
//! family's folder, one `pub mod` line in that folder's `mod.rs`, and one line in [`CATALOGUE`].

use crate::detector::rule::Rule;

pub mod common;
pub mod defense_evasion;
pub mod execution;
pub mod exposure;
pub mod impact;
pub mod initial_access;
pub mod lateral_movement;
pub mod network_exposure;
pub mod persistence;
pub mod privilege_escalation;

/// Every rule, in the order alerts are raised for one record.
pub static CATALOGUE: &[&'static dyn Rule] = &[
    &exposure::s3_bucket_policy_shared_externally::RULE,
    &exposure::s3_bucket_config_modified::RULE,
    &exposure::resource_shared_with_external_account::RULE,
    &exposure::iam_role_trusts_external_principal::RULE,
    &exposure::s3_public_access_block_weakened::RULE,
    &impact::s3_object_encrypted_with_external_kms_key::RULE,
    &defense_evasion::cloudtrail_logging_stopped::RULE,
    &defense_evasion::cloudtrail_logging_reduced::RULE,
    &defense_evasion::s3_lifecycle_short_expiration::RULE,
    &defense_evasion::vpc_flow_logs_deleted::RULE,
    &defense_evasion::dns_query_logging_removed::RULE,
    &defense_evasion::guardduty_disabled::RULE,
    &defense_evasion::guardduty_findings_suppressed::RULE,
    &defense_evasion::securityhub_disabled::RULE,
    &defense_evasion::config_recording_stopped::RULE,
    &defense_evasion::organization_left::RULE,
    &initial_access::console_login_without_mfa::RULE,
    &initial_access::root_user_activity::RULE,
    &network_exposure::security_group_opened_to_internet::RULE,
    &execution::ssm_send_command_shell_script::RULE,
    &execution::ec2_user_data_modified::RULE,
    &execution::ec2_unusual_instance_type_launched::RULE,
    &lateral_movement::ssm_session_started::RULE,
    &lateral_movement::ec2_instance_connect_ssh_key_sent::RULE,
    &lateral_movement::ec2_serial_console_ssh_key_sent::RULE,
    &lateral_movement::ec2_serial_console_access_enabled::RULE,
    &persistence::iam_access_key_created_for_another_user::RULE,
    &persistence::iam_login_profile_created_for_another_user::RULE,
    &persistence::lambda_function_code_updated::RULE,
    &persistence::lambda_layer_added::RULE,
    &persistence::rolesanywhere_trust_anchor_created::RULE,
    &persistence::sts_federation_token_requested::RULE,
    &privilege_escalation::iam_admin_policy_granted::RULE,
    &privilege_escalation::iam_login_profile_updated_for_another_user::RULE,
];

#[cfg(test)]
pub(crate) mod testing {
    //! Rule tests that read like a sentence: `assert_fires(&RULE, record)`.
    use crate::detector::engine::{Detector, DetectorConfig, sees};
    use crate::detector::record::Record;
    use crate::detector::rule::{Finding, Rule, RuleContext, Unevaluable, Verdict};

    /// What `rule` answers for `record` with the given trusted accounts, as the engine would
    /// ask it (failed calls only reach rules that evaluate them). Also checks that the
    /// engine's index routes the record to the rule whenever the rule has something to say.
    pub fn verdict_with(rule: &dyn Rule, record: &str, trusted: &[&str]) -> Verdict {
        let ctx = RuleContext {
            trusted_accounts: trusted
                .iter()
                .filter(|s| !s.starts_with("o-"))
                .map(|s| s.to_string())
                .collect(),
            trusted_organizations: trusted
                .iter()
                .filter(|s| s.starts_with("o-"))
                .map(|s| s.to_string())
                .collect(),
        };
        verdict_in(rule, record, &ctx)
    }

    /// What `rule` answers for `record` in a given context (trusted accounts and organizations).
    pub fn verdict_in(rule: &dyn Rule, record: &str, ctx: &RuleContext) -> Verdict {
        let ctx = ctx.clone();
        let parsed = Record::from_slice(record.as_bytes()).expect("test record parses");
        if !sees(rule.meta(), &parsed) {
            return Ok(None);
        }
        let verdict = rule.evaluate(&parsed, &ctx);
        if !matches!(verdict, Ok(None)) {
            let detector = Detector::new(&DetectorConfig::default()).unwrap();
            assert!(
                detector.wants_record(&parsed),
                "the index must route {}/{} to {}",
                parsed.source(),
                parsed.name(),
                rule.meta().id
            );
        }
        verdict
    }

    /// The finding `rule` gives for `record` with no trusted accounts.
    #[track_caller]
    pub fn finding(rule: &dyn Rule, record: &str) -> Option<Finding> {
        finding_with(rule, record, &[])
    }

    /// The finding `rule` gives for `record` with the given trusted accounts and organizations
    /// (`o-...` entries); panics when the
    /// rule could not judge the record.
    #[track_caller]
    pub fn finding_with(rule: &dyn Rule, record: &str, trusted: &[&str]) -> Option<Finding> {
        verdict_with(rule, record, trusted)
            .unwrap_or_else(|e| panic!("{} could not judge the record: {e}", rule.meta().id))
    }

    /// Asserts that `rule` fires on `record` and returns its finding.
    #[track_caller]
    pub fn assert_fires(rule: &dyn Rule, record: &str) -> Finding {
        finding(rule, record).unwrap_or_else(|| panic!("{} should fire", rule.meta().id))
    }

    /// Asserts that `rule` judges `record` and stays silent.
    #[track_caller]
    pub fn assert_silent(rule: &dyn Rule, record: &str) {
        if let Some(f) = finding(rule, record) {
            panic!("{} should not fire, got {f:?}", rule.meta().id);
        }
    }

    /// Asserts that the engine never asks `rule` about `record` (another event or caller).
    #[track_caller]
    pub fn assert_not_routed(rule: &'static dyn Rule, record: &str) {
        let parsed = Record::from_slice(record.as_bytes()).expect("test record parses");
        let detector = Detector::with_rules(&[rule], &DetectorConfig::default()).unwrap();
        assert!(
            !detector.wants_record(&parsed),
            "{} should not be routed {}/{}",
            rule.meta().id,
            parsed.source(),
            parsed.name()
        );
    }

    /// Asserts that `rule` reports `record` as one it cannot judge (counted as skipped).
    #[track_caller]
    pub fn assert_unevaluable(rule: &dyn Rule, record: &str) -> Unevaluable {
        match verdict_with(rule, record, &[]) {
            Err(e) => e,
            Ok(v) => panic!(
                "{} should not be able to judge the record, got {v:?}",
                rule.meta().id
            ),
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
