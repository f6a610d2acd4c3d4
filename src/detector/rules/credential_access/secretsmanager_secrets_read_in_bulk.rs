//! `secretsmanager-secrets-read-in-bulk`
//!
//! **What it detects.** One principal reading the values of many distinct Secrets Manager
//! secrets in a short window: 20 or more distinct secrets through `GetSecretValue` (or named in a
//! `BatchGetSecretValue` `secretIdList`) within 10 minutes, or 3 or more `BatchGetSecretValue`
//! calls that select secrets by `filters` (each returns up to 20 secret values) within 10 minutes.
//!
//! **Why it matters.** Harvesting every secret a stolen identity can read is the first thing
//! credential-stealing tools do (Stratus `secretsmanager-retrieve-secrets` reads 20 secrets in 4
//! seconds; `secretsmanager-batch-retrieve-secrets` pages through them by tag filter). An
//! application reads its own few secrets at start-up and on rotation, always the same ones.
//!
//! **Published rule.** Elastic "AWS Secrets Manager Rapid Secrets Retrieval" (20 unique
//! secrets per user); Panther `AWS.SecretsManager.RetrieveSecrets` and
//! `AWS.SecretsManager.BatchRetrieveSecrets`.
//!
//! **How we differ.** We count *distinct* secrets per principal in an `eventTime` window across
//! files, regions and invocations (Elastic's threshold runs per query interval over ingested
//! time). Role sessions count as their role, so an attacker rotating session names stays one
//! principal, while a fleet sharing a role and reading the same secrets never adds up. Calls an
//! AWS service makes on a principal's behalf (CloudFormation dynamic references, `sourceIPAddress`
//! a service host name) are not counted. Secrets Manager logs a `GetSecretValue` record for each
//! secret a batch call returns, so those are counted through `GetSecretValue`; a filtered batch
//! call names no secret, so the calls themselves are counted in their own counter.
//!
//! **Blind spots.** Failed reads are not counted (an attempt reads nothing; a denied sweep shows
//! as `AccessDenied` in other rules). The same secret named once by name and once by ARN counts
//! twice. A slow harvest (fewer than 20 secrets per 10 minutes) stays under the threshold.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_name, counted_principal, event_epoch};
use crate::detector::text::clean;
use crate::detector::threshold::ThresholdRequest;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: SecretsReadInBulk = SecretsReadInBulk;

/// See the module documentation.
pub struct SecretsReadInBulk;

const SECRETS_MANAGER: &str = "secretsmanager.amazonaws.com";
/// Distinct secrets one principal reads in a window before we alert.
pub const DISTINCT_SECRETS: u32 = 20;
/// Filtered batch calls (up to 20 secret values each) one principal makes in a window.
pub const FILTERED_BATCH_CALLS: u32 = 3;
/// Window length for both counts.
pub const WINDOW_MINUTES: u32 = 10;

static META: RuleMeta = RuleMeta {
    id: "secretsmanager-secrets-read-in-bulk",
    title: "Many Secrets Manager secrets read by one principal",
    description: "One principal read the values of many distinct Secrets Manager secrets within \
        minutes (GetSecretValue, BatchGetSecretValue). Adversaries with a stolen identity harvest \
        every secret it can read; applications read the same few secrets.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[Attack {
        tactic_id: "TA0006",
        tactic_name: "Credential Access",
        technique_id: "T1555.006",
        technique_name: "Cloud Secrets Management Stores",
    }],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.secretsmanager-retrieve-secrets/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.credential-access.secretsmanager-batch-retrieve-secrets/",
        "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html",
        "https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-cloudtrail.html",
        "https://github.com/elastic/detection-rules/blob/main/rules/integrations/aws/credential_access_rapid_secret_retrieval_attempts_from_secretsmanager.toml",
    ],
    false_positives: &[
        "Secret synchronisers (External Secrets Operator, Secrets Store CSI driver, Vault sync) and \
         configuration tools that read every secret of an account on a schedule: disable the rule \
         for their roles or raise the threshold.",
        "A migration or audit script an administrator runs over all secrets.",
    ],
    triage: &[
        "Identify the principal (actor.arn, threshold.subject) and whether it is a human, a CI role or a workload.",
        "List its GetSecretValue/BatchGetSecretValue calls in the window (threshold.window_start, window_minutes) and the secrets named: production credentials, other teams' secrets?",
        "Check the source IP and user agent against the principal's usual ones; look for ListSecrets just before (enumeration).",
        "If hostile: revoke the principal's sessions or keys, rotate every secret it read, and look for use of those credentials.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS Secrets Manager Rapid Secrets Retrieval",
        id: "185c782e-f86a-11ee-9d9f-f661ea17fbce",
    },
    notes: &[
        "Counts distinct secrets per principal (role for role sessions) in a 10-minute eventTime window, across files, regions and invocations; Panther counts 7 per user-session per hour, Elastic 20 per user per query run.",
        "Filtered BatchGetSecretValue calls name no secret: three of them in a window (up to 60 secret values) alert on their own.",
        "Calls made by AWS services on a principal's behalf (sourceIPAddress *.amazonaws.com) are not counted, like Elastic's exclusion of Kafka and EventBridge API destinations.",
    ],
    events: &[
        EventSelector::exact(SECRETS_MANAGER, "GetSecretValue"),
        EventSelector::exact(SECRETS_MANAGER, "BatchGetSecretValue"),
    ],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    secret_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchParams<'a> {
    #[serde(default, borrow)]
    secret_id_list: Option<Vec<Cow<'a, str>>>,
    #[serde(default)]
    filters: Option<serde_json::Value>,
}

/// A secret as a member of the count: ARNs as given, names qualified by account and region
/// (secrets are regional; the same name in two regions is two secrets).
fn secret_member(record: &Record<'_>, id: &str) -> String {
    if id.starts_with("arn:") {
        id.to_owned()
    } else {
        format!(
            "{}:{}:{id}",
            record.owner_account().unwrap_or("-"),
            record.aws_region.as_deref().unwrap_or("-")
        )
    }
}

impl Rule for SecretsReadInBulk {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let Some(subject) = counted_principal(record)? else {
            return Ok(None);
        };
        let (members, counter, threshold, what) = if record.name() == "GetSecretValue" {
            let params: GetParams = record.require_request_parameters()?;
            let id = params
                .secret_id
                .filter(|id| !id.is_empty())
                .ok_or(Unevaluable::Missing("requestParameters.secretId"))?;
            (
                vec![secret_member(record, &id)],
                "",
                DISTINCT_SECRETS,
                "secrets",
            )
        } else {
            let params: BatchParams = record.require_request_parameters()?;
            match (params.secret_id_list, params.filters) {
                (Some(ids), _) if !ids.is_empty() => (
                    ids.iter().map(|id| secret_member(record, id)).collect(),
                    "",
                    DISTINCT_SECRETS,
                    "secrets",
                ),
                (_, Some(filters)) if !filters.is_null() => {
                    // Each filtered call returns its own page of secrets: the call is the member.
                    let call = record
                        .event_id
                        .as_deref()
                        .ok_or(Unevaluable::Missing("eventID"))?;
                    (
                        vec![call.to_owned()],
                        "filtered-batch",
                        FILTERED_BATCH_CALLS,
                        "filtered batch calls",
                    )
                }
                _ => {
                    return Err(Unevaluable::Missing(
                        "requestParameters.secretIdList or filters",
                    ));
                }
            }
        };
        let shown: Vec<String> = members.iter().take(20).map(|m| clean(m, 300)).collect();
        let finding = Finding::new(
            format!(
                "{} read Secrets Manager secret values in bulk",
                actor_name(record)
            ),
            json!({
                "principal": clean(&subject, 300),
                "counted": what,
                "this_call": shown,
            }),
            vec![subject.clone()],
        )
        .counted(ThresholdRequest {
            subject,
            counter,
            members,
            counts: if counter.is_empty() {
                "Secrets Manager secrets"
            } else {
                "filtered BatchGetSecretValue calls"
            },
            threshold,
            window_minutes: WINDOW_MINUTES,
            event_epoch: event_epoch(record)?,
        });
        Ok(Some(finding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_unevaluable, finding, released};

    /// A `GetSecretValue` record trimmed from the Stratus detonation
    /// aws.credential-access.secretsmanager-retrieve-secrets, with the secret and time varied.
    fn get(secret: &str, time: &str) -> String {
        format!(
            r#"{{"awsRegion":"us-east-1","eventID":"b9c3d881-{secret}","eventName":"GetSecretValue",
            "eventSource":"secretsmanager.amazonaws.com","eventTime":"{time}","eventType":"AwsApiCall",
            "readOnly":true,"recipientAccountId":"903144391865",
            "requestParameters":{{"secretId":"arn:aws:secretsmanager:us-east-1:903144391865:secret:{secret}"}},
            "responseElements":null,"sourceIPAddress":"253.201.144.253",
            "userAgent":"stratus-red-team_10e7edf3-5063-4eba-8842-68f83bb52d65",
            "userIdentity":{{"accessKeyId":"AKIA1JMTHE9ZMZMWG0MG","accountId":"903144391865",
            "arn":"arn:aws:iam::903144391865:user/christophe","principalId":"AIDA45XCCHPPLELFTIIM",
            "type":"IAMUser","userName":"christophe"}}}}"#
        )
    }

    /// A filtered `BatchGetSecretValue` from the Stratus detonation
    /// aws.credential-access.secretsmanager-batch-retrieve-secrets (responseElements is null).
    fn batch_filtered(event_id: &str, time: &str) -> String {
        format!(
            r#"{{"awsRegion":"eu-west-1","eventID":"{event_id}","eventName":"BatchGetSecretValue",
            "eventSource":"secretsmanager.amazonaws.com","eventTime":"{time}","readOnly":true,
            "recipientAccountId":"165109126369",
            "requestParameters":{{"filters":[{{"key":"tag-key","values":["StratusRedTeam"]}}]}},
            "responseElements":null,"sourceIPAddress":"88.223.251.255",
            "userIdentity":{{"accessKeyId":"AKIALK3Q0HKBKZJ2XBYP","accountId":"165109126369",
            "arn":"arn:aws:iam::165109126369:user/christophe","principalId":"AIDAIOBKTJ7YOYY9TKC4",
            "type":"IAMUser","userName":"christophe"}}}}"#
        )
    }

    fn reads(n: usize, minute: u32) -> Vec<String> {
        (0..n)
            .map(|i| {
                get(
                    &format!("app-secret-{i}"),
                    &format!("2024-07-31T12:{minute:02}:{:02}Z", i % 60),
                )
            })
            .collect()
    }

    #[test]
    fn twenty_distinct_secrets_in_a_window_alert_once() {
        let alerts = released(&RULE, &reads(25, 36));
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(alert.threshold.as_ref().unwrap().distinct, Some(20));
        assert!(alert.summary.starts_with(
            "arn:aws:iam::903144391865:user/christophe read Secrets Manager secret values in bulk: 20 distinct Secrets Manager secrets within 10 minutes (2024-07-31T12:30:00Z"
        ), "{}", alert.summary);
        assert_eq!(
            alert.details["principal"],
            "arn:aws:iam::903144391865:user/christophe"
        );
    }

    #[test]
    fn nineteen_secrets_or_one_secret_read_many_times_stay_silent() {
        assert!(released(&RULE, &reads(19, 36)).is_empty());
        let same: Vec<String> = (0..50)
            .map(|i| get("db-password", &format!("2024-07-31T12:36:{:02}Z", i % 60)))
            .collect();
        assert!(released(&RULE, &same).is_empty());
    }

    #[test]
    fn a_burst_across_a_window_boundary_is_caught_and_reads_far_apart_are_not() {
        // 10 secrets at 12:39, 10 others at 12:40: caught by the 12:35-12:45 window.
        let mut records = reads(10, 39);
        records.extend((0..10).map(|i| get(&format!("other-{i}"), "2024-07-31T12:40:05Z")));
        let alerts = released(&RULE, &records);
        assert_eq!(alerts.len(), 1);
        assert!(
            alerts[0]
                .summary
                .contains("(2024-07-31T12:35:00Z to 2024-07-31T12:45:00Z)")
        );
        // 15 at 12:31 and 15 others at 12:49: never 20 within one window.
        let mut records = reads(15, 31);
        records.extend((0..15).map(|i| get(&format!("other-{i}"), "2024-07-31T12:49:05Z")));
        assert!(released(&RULE, &records).is_empty());
        // 20 in each of two aligned windows: one alert per window.
        let mut records = reads(20, 39);
        records.extend((0..20).map(|i| get(&format!("other-{i}"), "2024-07-31T12:41:05Z")));
        assert_eq!(released(&RULE, &records).len(), 2);
    }

    #[test]
    fn sessions_of_one_role_count_together_and_services_do_not_count() {
        // Two sessions of one role (shape of the Stratus ec2-get-password-data assumed role).
        let session = |name: &str, secret: &str| {
            get(secret, "2024-07-31T12:36:00Z").replace(
                r#""userIdentity":{"accessKeyId":"AKIA1JMTHE9ZMZMWG0MG","accountId":"903144391865",
            "arn":"arn:aws:iam::903144391865:user/christophe","principalId":"AIDA45XCCHPPLELFTIIM",
            "type":"IAMUser","userName":"christophe"}"#,
                &format!(r#""userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::903144391865:assumed-role/app/{name}",
                "sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::903144391865:role/app"}}}}}}"#),
            )
        };
        let records: Vec<String> = (0..20)
            .map(|i| session(&format!("s{}", i % 2), &format!("secret-{i}")))
            .collect();
        let alerts = released(&RULE, &records);
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            alerts[0].threshold.as_ref().unwrap().subject,
            "arn:aws:iam::903144391865:role/app"
        );

        let by_cloudformation: Vec<String> = reads(30, 36)
            .into_iter()
            .map(|r| r.replace("253.201.144.253", "cloudformation.amazonaws.com"))
            .collect();
        assert!(released(&RULE, &by_cloudformation).is_empty());
    }

    #[test]
    fn batch_calls_count_the_secrets_they_name_or_the_filtered_pages() {
        // secretIdList, request shape from the BatchGetSecretValue API reference.
        let list = |ids: &[String]| {
            batch_filtered("e", "2024-07-31T12:29:17Z").replace(
                r#""filters":[{"key":"tag-key","values":["StratusRedTeam"]}]"#,
                &format!(r#""secretIdList":{}"#, serde_json::to_string(ids).unwrap()),
            )
        };
        let ten: Vec<String> = (0..10).map(|i| format!("prod/s{i}")).collect();
        let ten2: Vec<String> = (10..20).map(|i| format!("prod/s{i}")).collect();
        assert!(released(&RULE, &[list(&ten), list(&ten)]).is_empty());
        assert_eq!(released(&RULE, &[list(&ten), list(&ten2)]).len(), 1);

        // Filtered pages: the Stratus detonation's five calls alert; two do not.
        let pages: Vec<String> = (0..5)
            .map(|i| batch_filtered(&format!("61619dbf-{i}"), "2024-07-31T12:29:17Z"))
            .collect();
        assert!(released(&RULE, &pages[..2]).is_empty());
        let alerts = released(&RULE, &pages);
        assert_eq!(alerts.len(), 1);
        assert!(
            alerts[0]
                .summary
                .contains("3 distinct filtered BatchGetSecretValue calls"),
            "{}",
            alerts[0].summary
        );
    }

    #[test]
    fn failed_reads_are_not_counted_and_unreadable_records_are_reported() {
        let denied = get("x", "2024-07-31T12:36:00Z").replace(
            r#""readOnly":true,"#,
            r#""readOnly":true,"errorCode":"AccessDenied","#,
        );
        assert!(finding(&RULE, &denied).is_none());
        let no_id = get("x", "2024-07-31T12:36:00Z").replace(
            r#""requestParameters":{"secretId":"arn:aws:secretsmanager:us-east-1:903144391865:secret:x"}"#,
            r#""requestParameters":{}"#,
        );
        assert_eq!(
            assert_unevaluable(&RULE, &no_id),
            Unevaluable::Missing("requestParameters.secretId")
        );
        let no_time = get("x", "not a time");
        assert!(matches!(
            assert_unevaluable(&RULE, &no_time),
            Unevaluable::Malformed {
                field: "eventTime",
                ..
            }
        ));
    }
}
