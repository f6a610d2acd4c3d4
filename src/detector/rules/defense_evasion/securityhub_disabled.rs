//! `securityhub-disabled`
//!
//! **What it detects.** Security Hub switched off or cut off, successful or not:
//! `DisableSecurityHub` (high); `BatchDisableStandards` (its standards' checks stop) and a
//! member leaving its administrator (`DisassociateFromAdministratorAccount`,
//! `DisassociateFromMasterAccount`) (medium).
//!
//! **Why it matters.** Security Hub aggregates GuardDuty, Inspector, Config and partner findings
//! and runs the posture checks; disabling it hides all of them from the security team at once.
//!
//! **Published rule.** Panther "Account Security Configuration Changed"
//! (AWS.CloudTrail.SecurityConfigurationChange) covers the other services' switches; no Panther,
//! Elastic or Sigma rule watches `DisableSecurityHub` itself (Sigma "AWS SecurityHub Findings
//! Evasion" a607e1fe-74bf-4440-a3ec-b059b9103157 watches finding edits, not this).
//!
//! **How we differ.** New coverage. Failed attempts are reported one severity lower.
//!
//! **Blind spots.** Finding edits (`BatchUpdateFindings` to SUPPRESSED) and automation rules
//! that suppress findings are not covered.

use crate::detector::record::Record;
use crate::detector::rule::{
    EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::defense_evasion::{DISABLE_TOOLS, impairment};
use crate::detector::text::clean;
use serde_json::{Value, json};

/// The rule value registered in the catalogue.
pub static RULE: SecurityHubDisabled = SecurityHubDisabled;

/// See the module documentation.
pub struct SecurityHubDisabled;

const SECURITYHUB: &str = "securityhub.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "securityhub-disabled",
    title: "Security Hub disabled, standards disabled or account cut off",
    description: "Security Hub was disabled, some of its standards disabled, or the account \
        left its Security Hub administrator, or someone tried to. Adversaries hide findings \
        and posture checks from the security team.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[DISABLE_TOOLS],
    references: &[
        "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_DisableSecurityHub.html",
        "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchDisableStandards.html",
        "https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_DisassociateFromAdministratorAccount.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_security_configuration_change.yml",
    ],
    false_positives: &[
        "Security Hub disabled in unused regions by policy, or a standard replaced by another \
         (a BatchEnableStandards follows).",
    ],
    triage: &[
        "Read event_name and details.standards: what stopped (the hub, which standards, the link to the administrator)?",
        "Identify the actor (actor.arn, actor.session_issuer_arn, actor.source_ip) and whether it manages Security Hub.",
        "If unapproved: re-enable (EnableSecurityHub, BatchEnableStandards, or re-invite the member) and review findings and the actor's activity since.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "Account Security Configuration Changed",
        id: "AWS.CloudTrail.SecurityConfigurationChange",
    },
    notes: &[
        "Panther's rule lists DeleteDetector, StopLogging and the like but not DisableSecurityHub; \
         this rule adds it, with standards and administrator links.",
        "Failed attempts are reported one severity lower, with the error in the summary.",
    ],
    events: &[
        EventSelector::exact(SECURITYHUB, "DisableSecurityHub"),
        EventSelector::exact(SECURITYHUB, "BatchDisableStandards"),
        EventSelector::exact(SECURITYHUB, "DisassociateFromAdministratorAccount"),
        EventSelector::exact(SECURITYHUB, "DisassociateFromMasterAccount"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

impl Rule for SecurityHubDisabled {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: Option<Value> = record.request_parameters()?;
        let standards: Vec<String> = params
            .as_ref()
            .and_then(|p| p.get("standardsSubscriptionArns"))
            .and_then(Value::as_array)
            .map(|arns| {
                arns.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let (what, severity) = match record.name() {
            "DisableSecurityHub" => ("disabled Security Hub".to_owned(), Severity::High),
            "BatchDisableStandards" => (
                format!(
                    "disabled Security Hub standards {}",
                    standards
                        .iter()
                        .take(3)
                        .map(|s| clean(s, 120))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Severity::Medium,
            ),
            _ => (
                "took the account out of its Security Hub administrator".to_owned(),
                Severity::Medium,
            ),
        };
        Ok(Some(impairment(
            record,
            format!("{} {what}", actor_name(record)),
            json!({ "action": record.name(), "standards": standards }),
            vec![record.name().to_owned(), standards.join(",")],
            Some(severity),
            if severity == Severity::High {
                Severity::Medium
            } else {
                Severity::Low
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::defense_evasion::test_records::{call, denied};
    use crate::detector::rules::testing::{assert_fires, assert_not_routed};

    // Request shapes from the Security Hub API reference (DisableSecurityHub has no body).
    #[test]
    fn disabling_the_hub_is_high_and_a_failed_attempt_medium() {
        let off = call(SECURITYHUB, "DisableSecurityHub", Value::Null, json!({}));
        let f = assert_fires(&RULE, &off.to_string());
        assert_eq!(f.severity, Some(Severity::High));
        assert_eq!(
            assert_fires(&RULE, &denied(off)).severity,
            Some(Severity::Medium)
        );
    }

    #[test]
    fn standards_and_administrator_links_are_medium() {
        let standards = call(
            SECURITYHUB,
            "BatchDisableStandards",
            json!({"standardsSubscriptionArns":
            ["arn:aws:securityhub:us-east-1:143434273843:subscription/aws-foundational-security-best-practices/v/1.0.0"]}),
            Value::Null,
        );
        let f = assert_fires(&RULE, &standards.to_string());
        assert_eq!(f.severity, Some(Severity::Medium));
        assert_eq!(f.details["standards"].as_array().unwrap().len(), 1);
        let leave = call(
            SECURITYHUB,
            "DisassociateFromAdministratorAccount",
            Value::Null,
            Value::Null,
        );
        assert_eq!(
            assert_fires(&RULE, &leave.to_string()).severity,
            Some(Severity::Medium)
        );
    }

    #[test]
    fn enabling_is_silent() {
        let on = call(
            SECURITYHUB,
            "EnableSecurityHub",
            json!({"enableDefaultStandards": true}),
            Value::Null,
        );
        assert_not_routed(&RULE, &on.to_string());
    }
}
