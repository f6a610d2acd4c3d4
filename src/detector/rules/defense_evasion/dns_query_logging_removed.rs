//! `dns-query-logging-removed`
//!
//! **What it detects.** Route 53 Resolver query logging removed: `DeleteResolverQueryLogConfig`
//! (the configuration is gone) or `DisassociateResolverQueryLogConfig` (a VPC no longer logs
//! its DNS queries), successful or not.
//!
//! **Why it matters.** DNS query logs show command-and-control and DNS exfiltration from inside
//! a VPC; removing them hides both.
//!
//! **Published rule.** Panther "AWS DNS Logs Deleted" (AWS.CloudTrail.DNSLogsDeleted); Elastic
//! "AWS Route 53 Resolver Query Log Configuration Deleted"
//! (453183fa-f903-11ee-8e88-f661ea17fbce).
//!
//! **How we differ.** Elastic watches only the deletion; disassociating a VPC has the same
//! effect for that VPC, so we watch both. Failed attempts are reported one severity lower.
//!
//! **Blind spots.** Deleting the destination (bucket, log group, stream) is not covered.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::defense_evasion::{DISABLE_CLOUD_LOGS, impairment};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: DnsQueryLoggingRemoved = DnsQueryLoggingRemoved;

/// See the module documentation.
pub struct DnsQueryLoggingRemoved;

const RESOLVER: &str = "route53resolver.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "dns-query-logging-removed",
    title: "Route 53 Resolver query logging removed",
    description: "A Route 53 Resolver query logging configuration was deleted or detached from \
        a VPC, or someone tried to. Adversaries remove DNS logging to hide command-and-control \
        and DNS exfiltration.",
    severity: Severity::Medium,
    risk_score: 55,
    mitre_attack: &[DISABLE_CLOUD_LOGS],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.dns-delete-logs/",
        "https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_DeleteResolverQueryLogConfig.html",
        "https://docs.aws.amazon.com/Route53/latest/APIReference/API_route53resolver_DisassociateResolverQueryLogConfig.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_dns_logs_deleted.yml",
    ],
    false_positives: &[
        "A VPC being decommissioned (the disassociation precedes DeleteVpc), or logging moved to \
         a new configuration (an AssociateResolverQueryLogConfig nearby).",
    ],
    triage: &[
        "Read details.query_log_config_id and details.vpc (for a disassociation): which VPCs lost DNS logging?",
        "Identify the actor (actor.arn, actor.source_ip, actor.user_agent) and whether it manages networking.",
        "If unapproved: recreate or re-associate the configuration, and look for unusual outbound DNS or network activity from the VPCs since.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS DNS Logs Deleted",
        id: "AWS.CloudTrail.DNSLogsDeleted",
    },
    notes: &[
        "Also watches DisassociateResolverQueryLogConfig (Elastic watches only the deletion).",
        "Failed attempts are reported one severity lower (low), with the error in the summary.",
    ],
    events: &[
        EventSelector::exact(RESOLVER, "DeleteResolverQueryLogConfig"),
        EventSelector::exact(RESOLVER, "DisassociateResolverQueryLogConfig"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryLogParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    resolver_query_log_config_id: Option<Cow<'a, str>>,
    /// The VPC, for a disassociation.
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    resource_id: Option<Cow<'a, str>>,
}

impl Rule for DnsQueryLoggingRemoved {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: Option<QueryLogParams> = record.request_parameters()?;
        let config = params
            .as_ref()
            .and_then(|p| p.resolver_query_log_config_id.as_deref())
            .unwrap_or("");
        let vpc = params.as_ref().and_then(|p| p.resource_id.as_deref());
        let summary = match vpc {
            Some(vpc) => format!(
                "{} detached Route 53 Resolver query logging {} from {}",
                actor_name(record),
                clean(config, 64),
                clean(vpc, 64)
            ),
            None => format!(
                "{} deleted Route 53 Resolver query logging configuration {}",
                actor_name(record),
                clean(config, 64)
            ),
        };
        Ok(Some(impairment(
            record,
            summary,
            json!({ "query_log_config_id": config, "vpc": vpc, "action": record.name() }),
            vec![config.to_owned(), vpc.unwrap_or("").to_owned()],
            None,
            Severity::Low,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::defense_evasion::test_records::{call, denied};
    use crate::detector::rules::testing::{assert_fires, assert_not_routed};
    use serde_json::Value;

    /// aws.defense-evasion.dns-delete-logs.json (Stratus), request part.
    fn delete() -> Value {
        call(
            RESOLVER,
            "DeleteResolverQueryLogConfig",
            json!({"originSequenceNumber": 0, "resolverQueryLogConfigId": "rqlc-4473f20ca554c07"}),
            json!({"resolverQueryLogConfig": {"id": "rqlc-4473f20ca554c07", "status": "DELETING"}}),
        )
    }

    #[test]
    fn deletion_and_disassociation_fire() {
        let f = assert_fires(&RULE, &delete().to_string());
        assert_eq!(f.details["query_log_config_id"], "rqlc-4473f20ca554c07");
        // Request shape from the DisassociateResolverQueryLogConfig API reference.
        let detach = call(
            RESOLVER,
            "DisassociateResolverQueryLogConfig",
            json!({"resolverQueryLogConfigId": "rqlc-1", "resourceId": "vpc-0abc"}),
            Value::Null,
        );
        let f = assert_fires(&RULE, &detach.to_string());
        assert!(f.summary.contains("from vpc-0abc"), "{}", f.summary);
    }

    #[test]
    fn failed_attempts_are_low_and_creation_is_silent() {
        assert_eq!(
            assert_fires(&RULE, &denied(delete())).severity,
            Some(Severity::Low)
        );
        let create = call(
            RESOLVER,
            "CreateResolverQueryLogConfig",
            json!({"name": "n", "destinationArn": "arn:aws:s3:::b"}),
            Value::Null,
        );
        assert_not_routed(&RULE, &create.to_string());
    }
}
