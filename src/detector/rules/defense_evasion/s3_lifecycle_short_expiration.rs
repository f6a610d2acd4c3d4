//! `s3-lifecycle-short-expiration`
//!
//! **What it detects.** A `PutBucketLifecycle` (the event of `PutBucketLifecycleConfiguration`)
//! with an enabled rule whose `Expiration.Days` is under 7: S3 deletes the objects it covers
//! within days. Medium when the bucket or rule looks like CloudTrail logs (bucket name with
//! `trail`, `log` or `audit`, or a rule prefix with `AWSLogs` or `CloudTrail`), low otherwise.
//!
//! **Why it matters.** A short expiration on the trail's bucket erases the record of an
//! intrusion a day later, while the trail still looks healthy (Stratus
//! `aws.defense-evasion.cloudtrail-lifecycle-rule` sets 1 day).
//!
//! **Published rule.** Panther "AWS CloudTrail Retention Lifecycle Too Short"
//! (AWS.CloudTrail.ShortLifecycle); Elastic "AWS S3 Bucket Expiration Lifecycle Configuration
//! Added" (ff320c56-f8fa-11ee-8c44-f661ea17fbce).
//!
//! **How we differ.** Which bucket holds a trail's logs cannot be known from one record, and any
//! bucket name will do (Stratus's own trail bucket, `stratus-red-team-ctlr-bucket-…`, has no
//! `trail` in it, so Panther's name guess misses the technique). We report a short expiration on
//! any bucket, at low severity unless the name or prefix looks like logs. Elastic reports every
//! expiration however long (90-day retention policies included); we report only short ones.
//! Panther ignores the rule prefix; we use it as a log signal. Failed attempts are reported at
//! low severity.
//!
//! **Blind spots.** `Expiration.Date` (delete on a date), noncurrent-version expiration and
//! transitions are not judged. A trail bucket named like anything else is reported at low
//! severity only. Stratus writes the prefix `*`, which S3 treats literally (it matches no
//! CloudTrail key); we report it anyway, since the intent is plain.

use crate::detector::record::{Record, lenient_str};
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
pub static RULE: S3LifecycleShortExpiration = S3LifecycleShortExpiration;

/// See the module documentation.
pub struct S3LifecycleShortExpiration;

/// Objects that expire in fewer days than this are "deleted within days" (Panther's minimum).
pub const SHORT_EXPIRATION_DAYS: u64 = 7;

static META: RuleMeta = RuleMeta {
    id: "s3-lifecycle-short-expiration",
    title: "S3 lifecycle rule deletes objects within days (log bucket?)",
    description: "A lifecycle rule was set that expires a bucket's objects in under 7 days. \
        On a bucket holding CloudTrail (or other) logs it erases the record of an intrusion \
        while the trail keeps running.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[DISABLE_CLOUD_LOGS],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.defense-evasion.cloudtrail-lifecycle-rule/",
        "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html",
        "https://github.com/panther-labs/panther-analysis/blob/main/rules/aws_cloudtrail_rules/aws_cloudtrail_short_lifecycle.yml",
    ],
    false_positives: &[
        "Scratch, cache or staging buckets (and prefixes such as tmp/) that are meant to empty \
         themselves daily; these are reported at low severity unless named like logs.",
        "Log buckets whose logs are shipped elsewhere (a SIEM) within hours by design.",
    ],
    triage: &[
        "Read details.bucket, details.rules (id, prefix, days): does this bucket receive a trail's logs (GetTrail / DescribeTrails list each trail's S3BucketName)?",
        "Identify the actor (actor.arn, actor.source_ip, actor.user_agent): does it normally manage this bucket?",
        "If unapproved: restore the previous lifecycle configuration before the first expiration runs (S3 applies it asynchronously, usually within a day) and copy the logs elsewhere.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Panther",
        name: "AWS CloudTrail Retention Lifecycle Too Short",
        id: "AWS.CloudTrail.ShortLifecycle",
    },
    notes: &[
        "Any bucket is judged (low severity unless named like logs): the trail bucket's name is \
         free, and Panther's 'trail in the name' guess misses Stratus's own bucket.",
        "Only expirations under 7 days are reported; Elastic reports every expiration.",
        "A rule prefix containing AWSLogs or CloudTrail raises the severity (Panther ignores the prefix).",
        "Failed attempts are reported at low severity, with the error in the summary.",
    ],
    events: &[EventSelector::exact(
        "s3.amazonaws.com",
        "PutBucketLifecycle",
    )],
    failed_calls: FailedCalls::Evaluate,
};

#[derive(Deserialize)]
struct LifecycleParams<'a> {
    #[serde(
        rename = "bucketName",
        default,
        borrow,
        deserialize_with = "lenient_str"
    )]
    bucket_name: Option<Cow<'a, str>>,
    #[serde(rename = "LifecycleConfiguration", default)]
    configuration: Option<LifecycleConfiguration>,
}

#[derive(Deserialize)]
struct LifecycleConfiguration {
    /// One rule is logged as an object, several as an array (XML converted to JSON).
    #[serde(rename = "Rule", default)]
    rule: Option<Value>,
}

#[derive(Deserialize)]
struct LifecycleRule {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "Status", default)]
    status: Option<String>,
    #[serde(rename = "Expiration", default)]
    expiration: Option<Expiration>,
    #[serde(rename = "Filter", default)]
    filter: Option<Filter>,
    /// The deprecated rule-level prefix.
    #[serde(rename = "Prefix", default)]
    prefix: Option<String>,
}

#[derive(Deserialize)]
struct Expiration {
    #[serde(rename = "Days", default)]
    days: Option<Value>,
}

#[derive(Deserialize)]
struct Filter {
    #[serde(rename = "Prefix", default)]
    prefix: Option<String>,
    #[serde(rename = "And", default)]
    and: Option<Box<Filter>>,
}

impl LifecycleRule {
    fn prefix(&self) -> &str {
        let filter = self.filter.as_ref();
        filter
            .and_then(|f| f.prefix.as_deref())
            .or_else(|| filter.and_then(|f| f.and.as_ref()?.prefix.as_deref()))
            .or(self.prefix.as_deref())
            .unwrap_or("")
    }

    /// Expiration in days of an enabled rule (numbers or numeric strings).
    fn enabled_expiration_days(&self) -> Option<u64> {
        if !self
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("Enabled"))
        {
            return None;
        }
        match self.expiration.as_ref()?.days.as_ref()? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

fn looks_like_logs(bucket: &str, prefixes: &[&str]) -> bool {
    let bucket = bucket.to_ascii_lowercase();
    ["trail", "log", "audit"].iter().any(|w| bucket.contains(w))
        || prefixes.iter().any(|p| {
            let p = p.to_ascii_lowercase();
            p.contains("awslogs") || p.contains("cloudtrail")
        })
}

impl Rule for S3LifecycleShortExpiration {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: LifecycleParams = record.require_request_parameters()?;
        let rules = params
            .configuration
            .and_then(|c| c.rule)
            .ok_or(Unevaluable::Missing(
                "requestParameters.LifecycleConfiguration.Rule",
            ))?;
        let rules: Vec<LifecycleRule> = match rules {
            Value::Array(items) => items
                .into_iter()
                .map(serde_json::from_value)
                .collect::<Result<_, _>>(),
            single => serde_json::from_value(single).map(|r| vec![r]),
        }
        .map_err(|e| Unevaluable::malformed("requestParameters.LifecycleConfiguration.Rule", e))?;
        let short: Vec<(&LifecycleRule, u64)> = rules
            .iter()
            .filter_map(|r| Some((r, r.enabled_expiration_days()?)))
            .filter(|(_, days)| *days < SHORT_EXPIRATION_DAYS)
            .collect();
        if short.is_empty() {
            return Ok(None);
        }
        let bucket = params.bucket_name.as_deref().unwrap_or("");
        let prefixes: Vec<&str> = short.iter().map(|(r, _)| r.prefix()).collect();
        let log_like = looks_like_logs(bucket, &prefixes);
        let fewest = short.iter().map(|(_, d)| *d).min().unwrap_or(0);
        let summary = format!(
            "{} set a lifecycle rule on S3 bucket {} that deletes objects{} after {} day{}",
            actor_name(record),
            clean(bucket, 100),
            match prefixes.first() {
                Some(p) if !p.is_empty() => format!(" under {}", clean(p, 100)),
                _ => String::new(),
            },
            fewest,
            if fewest == 1 { "" } else { "s" }
        );
        let details = json!({
            "bucket": bucket,
            "looks_like_log_bucket": log_like,
            "rules": short.iter().map(|(r, days)| json!({
                "id": r.id, "prefix": r.prefix(), "expiration_days": days,
            })).collect::<Vec<_>>(),
        });
        Ok(Some(impairment(
            record,
            summary,
            details,
            vec![bucket.to_owned(), fewest.to_string()],
            Some(if log_like {
                Severity::Medium
            } else {
                Severity::Low
            }),
            Severity::Low,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::defense_evasion::test_records::{call, denied};
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};

    /// Panther's "1-Day Lifecycle Rule on Known CT Bucket" request (the Stratus
    /// cloudtrail-lifecycle-rule detonation), with the bucket name swapped in.
    fn lifecycle(bucket: &str, rule: Value) -> String {
        call(
            "s3.amazonaws.com",
            "PutBucketLifecycle",
            json!({"Host": format!("{bucket}.s3.us-west-2.amazonaws.com"), "bucketName": bucket,
                "lifecycle": "", "LifecycleConfiguration": {"Rule": rule,
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}}),
            Value::Null,
        )
        .to_string()
    }

    fn nuke(days: Value, prefix: &str) -> Value {
        json!({"Expiration": {"Days": days}, "Filter": {"Prefix": prefix},
            "ID": "nuke-cloudtrail-logs-after-1-day", "Status": "Enabled"})
    }

    #[test]
    fn a_one_day_rule_on_a_trail_bucket_is_medium() {
        let f = assert_fires(
            &RULE,
            &lifecycle("sample-cloudtrail-bucket-name", nuke(json!(1), "*")),
        );
        assert_eq!(f.severity, Some(Severity::Medium));
        assert_eq!(f.details["rules"][0]["expiration_days"], 1);
        assert!(f.summary.contains("after 1 day"), "{}", f.summary);
    }

    #[test]
    fn stratus_bucket_name_is_reported_low_and_an_awslogs_prefix_raises_it() {
        // The Stratus technique's bucket: stratus-red-team-ctlr-bucket-<suffix>.
        let f = assert_fires(
            &RULE,
            &lifecycle(
                "stratus-red-team-ctlr-bucket-abcdefghij",
                nuke(json!(1), "*"),
            ),
        );
        assert_eq!(f.severity, Some(Severity::Low));
        let f = assert_fires(
            &RULE,
            &lifecycle("acme-data", nuke(json!("3"), "AWSLogs/111122223333/")),
        );
        assert_eq!(f.severity, Some(Severity::Medium));
    }

    #[test]
    fn several_rules_are_read_and_long_or_disabled_rules_are_silent() {
        let rules = json!([
            {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 365}},
            {"ID": "tmp", "Status": "Enabled", "Filter": {"And": {"Prefix": "tmp/", "Tag": {"Key": "k", "Value": "v"}}},
             "Expiration": {"Days": 1}}]);
        let f = assert_fires(&RULE, &lifecycle("acme-trail-logs", rules));
        assert_eq!(f.details["rules"].as_array().unwrap().len(), 1);
        assert_eq!(f.details["rules"][0]["prefix"], "tmp/");
        let mut disabled = nuke(json!(1), "");
        disabled["Status"] = json!("Disabled");
        assert_silent(&RULE, &lifecycle("acme-trail-logs", disabled));
        assert_silent(&RULE, &lifecycle("acme-trail-logs", nuke(json!(90), "")));
        assert_silent(&RULE, &lifecycle("acme-trail-logs", nuke(json!(7), "")));
        let transition = json!({"ID": "ia", "Status": "Enabled", "Prefix": "",
            "Transition": {"Days": 1, "StorageClass": "STANDARD_IA"}});
        assert_silent(&RULE, &lifecycle("acme-trail-logs", transition));
    }

    #[test]
    fn failed_attempts_are_low_and_missing_rules_are_counted() {
        let record: Value =
            serde_json::from_str(&lifecycle("org-cloudtrail", nuke(json!(1), ""))).unwrap();
        let f = assert_fires(&RULE, &denied(record));
        assert_eq!(f.severity, Some(Severity::Low));
        assert_unevaluable(
            &RULE,
            &call(
                "s3.amazonaws.com",
                "PutBucketLifecycle",
                json!({"bucketName": "b"}),
                Value::Null,
            )
            .to_string(),
        );
    }
}
