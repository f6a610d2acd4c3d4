//! `cloudtrail-logging-reduced`
//!
//! **What it detects.** A trail that keeps running but records less or delivers elsewhere:
//! - `UpdateTrail` that sets `isMultiRegionTrail`, `isOrganizationTrail`,
//!   `includeGlobalServiceEvents` or `enableLogFileValidation` to false, or sets `s3BucketName`
//!   (logs now go to that bucket);
//! - `PutEventSelectors` after which no selector records write management events (or, at low
//!   severity, read-only ones), in both the classic `eventSelectors` shape
//!   (`includeManagementEvents`, `readWriteType`) and the `advancedEventSelectors` shape
//!   (`eventCategory` = `Management`, `readOnly`);
//! - `PutInsightSelectors` with an empty list (CloudTrail Insights switched off), at low severity.
//!
//! **Why it matters.** Narrowing a trail is quieter than stopping it: the trail still shows as
//! logging, but the attacker's management calls, other regions or member accounts are no
//! longer recorded, or the logs go to a bucket the attacker controls.
//!
//! **Published rule.** Panther "CloudTrail Event Selectors Disabled"
//! (AWS.CloudTrail.EventSelectorsDisabled); Elastic "AWS CloudTrail Management Events Disabled
//! via PutEventSelectors" (20b79388-3225-4a98-b19f-17de8feaa39c) and "AWS CloudTrail Log
//! Updated" (3e002465-876f-4f04-b016-84ef48ce7e5d).
//!
//! **How we differ.** Panther and Elastic fire when any one selector says
//! `includeManagementEvents: false`, which is also how a second, data-only selector is written
//! beside one that logs management events (a false positive); we judge the selectors together,
//! so that configuration is silent, and we read advanced selectors, which both miss. Elastic's
//! UpdateTrail rule fires on every update (a KMS key or SNS topic change too); we name the
//! reduction. Failed attempts are reported one severity lower.
//!
//! **Blind spots.** The trail's previous settings are not in the record: an UpdateTrail that
//! restates `isMultiRegionTrail: false` on a trail that was already single-region, or restates
//! its own bucket (infrastructure-as-code tools send it on every update), is reported. Advanced
//! selectors that exclude event sources or match on `eventName` are not weighed; the exclusions
//! are listed in the details.

use crate::detector::record::{Record, lenient_bool, lenient_str};
use crate::detector::rule::{
    EventSelector, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Unevaluable,
    Verdict,
};
use crate::detector::rules::common::actor_name;
use crate::detector::rules::defense_evasion::{DISABLE_CLOUD_LOGS, impairment};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: CloudTrailLoggingReduced = CloudTrailLoggingReduced;

/// See the module documentation.
pub struct CloudTrailLoggingReduced;

const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";

static META: RuleMeta = RuleMeta {
    id: "cloudtrail-logging-reduced",
    title: "CloudTrail trail narrowed or redirected",
    description: "A CloudTrail trail was changed to record less (another region, member accounts, \
        global services or management events no longer logged, integrity validation or Insights \
        off) or to deliver to another bucket, or someone tried to. Adversaries narrow a trail \
        so that it still looks healthy while their activity goes unrecorded.",
    severity: Severity::Medium,
    risk_score: 55,
    mitre_attack: &[DISABLE_CLOUD_LOGS],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-event-selectors/",
        "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_UpdateTrail.html",
        "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutEventSelectors.html",
        "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_AdvancedEventSelector.html",
        "https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_PutInsightSelectors.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_cloudtrail_event_selectors_disabled.yml",
    ],
    false_positives: &[
        "Cost reductions that drop read-only management events or Insights (reported at low severity).",
        "Infrastructure-as-code updates that restate the trail's bucket or single-region setting: \
         compare details.changes with the trail's known configuration.",
    ],
    triage: &[
        "Read details.changes: what the trail no longer records, or where it now delivers (details.s3_bucket).",
        "Identify the actor (actor.arn, actor.session_issuer_arn, actor.source_ip, actor.user_agent): does it normally manage CloudTrail?",
        "If unapproved: restore the trail's settings (GetTrail/GetEventSelectors show the current state), check that details.s3_bucket belongs to you, and review the actor's activity in CloudTrail event history, which the change does not affect.",
        "If it failed (details.failed): the actor is probing; look for other defense-evasion attempts from the same access key.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "CloudTrail Event Selectors Disabled",
        id: "AWS.CloudTrail.EventSelectorsDisabled",
    },
    notes: &[
        "Selectors are judged together: a data-only selector beside one that logs management \
         events is silent (Panther and Elastic fire on it).",
        "Advanced event selectors are read (Panther and Elastic read only classic selectors).",
        "UpdateTrail is reported only when it narrows the trail or sets its bucket, not on every \
         update as Elastic's AWS CloudTrail Log Updated does.",
        "Failed attempts are reported one severity lower, with the error in the summary.",
    ],
    events: &[
        EventSelector::exact(CLOUDTRAIL, "UpdateTrail"),
        EventSelector::exact(CLOUDTRAIL, "PutEventSelectors"),
        EventSelector::exact(CLOUDTRAIL, "PutInsightSelectors"),
    ],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateTrailParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    s3_bucket_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    is_multi_region_trail: Option<bool>,
    #[serde(default, deserialize_with = "lenient_bool")]
    is_organization_trail: Option<bool>,
    #[serde(default, deserialize_with = "lenient_bool")]
    include_global_service_events: Option<bool>,
    #[serde(default, deserialize_with = "lenient_bool")]
    enable_log_file_validation: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SelectorParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    trail_name: Option<Cow<'a, str>>,
    #[serde(default)]
    event_selectors: Option<Vec<ClassicSelector>>,
    #[serde(default)]
    advanced_event_selectors: Option<Vec<AdvancedSelector>>,
    #[serde(default)]
    insight_selectors: Option<Vec<Value>>,
}

/// One classic event selector; absent fields take the API's defaults (management events
/// included, `All`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClassicSelector {
    #[serde(default, deserialize_with = "lenient_bool")]
    include_management_events: Option<bool>,
    #[serde(default)]
    read_write_type: Option<String>,
    #[serde(default)]
    exclude_management_event_sources: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdvancedSelector {
    #[serde(default, alias = "FieldSelectors")]
    field_selectors: Vec<FieldSelector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FieldSelector {
    #[serde(default, alias = "Field")]
    field: String,
    #[serde(default, alias = "Equals")]
    equals: Option<Vec<String>>,
    #[serde(default, alias = "NotEquals")]
    not_equals: Option<Vec<String>>,
}

/// Which management events a set of selectors still records.
#[derive(Default, Debug, PartialEq)]
struct ManagementCoverage {
    read: bool,
    write: bool,
    excluded_sources: Vec<String>,
}

impl ManagementCoverage {
    fn add(&mut self, read: bool, write: bool) {
        self.read |= read;
        self.write |= write;
    }

    fn of_classic(selectors: &[ClassicSelector]) -> Self {
        let mut coverage = ManagementCoverage::default();
        for selector in selectors {
            if selector.include_management_events == Some(false) {
                continue;
            }
            match selector.read_write_type.as_deref().unwrap_or("All") {
                "ReadOnly" => coverage.add(true, false),
                "WriteOnly" => coverage.add(false, true),
                _ => coverage.add(true, true),
            }
            coverage.excluded_sources.extend(
                selector
                    .exclude_management_event_sources
                    .iter()
                    .flatten()
                    .cloned(),
            );
        }
        coverage
    }

    fn of_advanced(selectors: &[AdvancedSelector]) -> Self {
        let mut coverage = ManagementCoverage::default();
        for selector in selectors {
            let field = |name: &str| selector.field_selectors.iter().find(|f| f.field == name);
            let listed = |list: &Option<Vec<String>>, value: &str| {
                list.iter().flatten().any(|v| v.eq_ignore_ascii_case(value))
            };
            let management =
                field("eventCategory").is_some_and(|f| listed(&f.equals, "Management"));
            if !management {
                continue;
            }
            match field("readOnly") {
                None => coverage.add(true, true),
                Some(f) => coverage.add(
                    listed(&f.equals, "true") || listed(&f.not_equals, "false"),
                    listed(&f.equals, "false") || listed(&f.not_equals, "true"),
                ),
            }
            if let Some(f) = field("eventSource") {
                coverage
                    .excluded_sources
                    .extend(f.not_equals.iter().flatten().cloned());
            }
        }
        coverage
    }
}

impl Rule for CloudTrailLoggingReduced {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        match record.name() {
            "UpdateTrail" => update_trail(record),
            "PutEventSelectors" => event_selectors(record),
            _ => insight_selectors(record),
        }
    }
}

fn update_trail(record: &Record<'_>) -> Verdict {
    let params: UpdateTrailParams = record.require_request_parameters()?;
    let mut changes = Vec::new();
    let flags = [
        (
            params.is_multi_region_trail,
            "no longer logs other regions (isMultiRegionTrail false)",
        ),
        (
            params.is_organization_trail,
            "no longer logs the organization's accounts (isOrganizationTrail false)",
        ),
        (
            params.include_global_service_events,
            "no longer logs global services such as IAM and STS (includeGlobalServiceEvents false)",
        ),
        (
            params.enable_log_file_validation,
            "no longer signs digest files (enableLogFileValidation false)",
        ),
    ];
    for (value, change) in flags {
        if value == Some(false) {
            changes.push(change.to_owned());
        }
    }
    if let Some(bucket) = params.s3_bucket_name.as_deref() {
        changes.push(format!("delivers to S3 bucket {}", clean(bucket, 100)));
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let trail = params.name.as_deref().unwrap_or("");
    Ok(Some(impairment(
        record,
        format!(
            "{} updated CloudTrail trail {}: it {}",
            actor_name(record),
            clean(trail, 200),
            changes.join("; ")
        ),
        json!({
            "trail": trail,
            "action": "UpdateTrail",
            "changes": changes,
            "s3_bucket": params.s3_bucket_name,
        }),
        vec![trail.to_owned(), changes.join(";")],
        None,
        Severity::Low,
    )))
}

fn event_selectors(record: &Record<'_>) -> Verdict {
    let params: SelectorParams = record.require_request_parameters()?;
    let coverage = match (&params.event_selectors, &params.advanced_event_selectors) {
        (Some(classic), _) => ManagementCoverage::of_classic(classic),
        (None, Some(advanced)) => ManagementCoverage::of_advanced(advanced),
        (None, None) => {
            return Err(Unevaluable::Missing(
                "requestParameters.eventSelectors or advancedEventSelectors",
            ));
        }
    };
    let (change, severity) = match (coverage.read, coverage.write) {
        (false, false) => ("no longer logs management events", Severity::Medium),
        (true, false) => (
            "no longer logs write management events (read-only only)",
            Severity::Medium,
        ),
        (false, true) => ("no longer logs read-only management events", Severity::Low),
        (true, true) => return Ok(None),
    };
    let trail = params.trail_name.as_deref().unwrap_or("");
    Ok(Some(impairment(
        record,
        format!(
            "{} set event selectors on CloudTrail trail {}: it {}",
            actor_name(record),
            clean(trail, 200),
            change
        ),
        json!({
            "trail": trail,
            "action": "PutEventSelectors",
            "changes": [change],
            "logs_read_management_events": coverage.read,
            "logs_write_management_events": coverage.write,
            "excluded_management_event_sources": coverage.excluded_sources,
            "advanced_selectors": params.event_selectors.is_none(),
        }),
        vec![trail.to_owned(), change.to_owned()],
        Some(severity),
        Severity::Low,
    )))
}

fn insight_selectors(record: &Record<'_>) -> Verdict {
    let params: SelectorParams = record.require_request_parameters()?;
    let selectors = params
        .insight_selectors
        .ok_or(Unevaluable::Missing("requestParameters.insightSelectors"))?;
    if !selectors.is_empty() {
        return Ok(None);
    }
    let trail = params.trail_name.as_deref().unwrap_or("");
    let change = "no longer runs CloudTrail Insights";
    Ok(Some(impairment(
        record,
        format!(
            "{} removed every insight selector of CloudTrail trail {}: it {}",
            actor_name(record),
            clean(trail, 200),
            change
        ),
        json!({ "trail": trail, "action": "PutInsightSelectors", "changes": [change] }),
        vec![trail.to_owned(), change.to_owned()],
        Some(Severity::Low),
        Severity::Low,
    )))
}

#[cfg(test)]
mod tests;
