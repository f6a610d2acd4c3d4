//! Security Hub (`SECURITY_HUB=true`): each alert imported as an ASFF finding
//! ([`crate::formats::asff`]) into the account's default product with `BatchImportFindings`,
//! at most 100 findings a call, every finding's result checked (`FailedFindings`) and the
//! failed ones retried with the same back-off as SNS publishes. A finding's id is the same for
//! every alert with the same dedup key, so a repeat (or a retry that had in fact succeeded)
//! updates the finding instead of adding one.

use crate::detector::Alert;
use crate::formats::asff::{self, Importer};
use crate::formats::timestamp::rfc3339_millis;
use crate::lambda::ports::{AlertSink, PublishError};
use crate::lambda::sdk_retry::is_retryable_call;
use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::error::ProvideErrorMetadata;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, FindingProviderFields, FindingProviderSeverity, Partition, Recommendation,
    RecordState, Remediation, Resource, Severity, SeverityLabel,
};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Findings `BatchImportFindings` takes in one call.
pub const MAX_FINDINGS_PER_CALL: usize = 100;
const ATTEMPTS: u32 = 4;

/// Imports alerts into Security Hub.
#[derive(Debug, Clone)]
pub struct SecurityHubSink {
    client: Client,
    importer: Importer,
    backoff: Duration,
}

impl SecurityHubSink {
    /// A sink importing into `importer`'s default product.
    pub fn new(client: Client, importer: Importer) -> Self {
        SecurityHubSink {
            client,
            importer,
            backoff: Duration::from_millis(200),
        }
    }

    /// Changes the pause before the first retry (doubles each time); tests shorten it.
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Imports one call's worth of findings (alert index, finding), retrying throttled calls
    /// and failed findings, and writes each alert's result.
    async fn import(
        &self,
        findings: &[(usize, AwsSecurityFinding)],
        results: &mut [Result<(), String>],
    ) {
        let mut pending: Vec<usize> = (0..findings.len()).collect();
        let mut delay = self.backoff;
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .client
                .batch_import_findings()
                .set_findings(Some(
                    pending.iter().map(|p| findings[*p].1.clone()).collect(),
                ))
                .send()
                .await;
            let mut retry = Vec::new();
            match sent {
                Ok(output) => {
                    let failed: HashMap<&str, String> = output
                        .failed_findings()
                        .iter()
                        .map(|f| {
                            let why = format!(
                                "{}: {}",
                                f.error_code().unwrap_or("no code"),
                                f.error_message().unwrap_or("no message")
                            );
                            (f.id().unwrap_or(""), why)
                        })
                        .collect();
                    for p in &pending {
                        let (alert_index, finding) = &findings[*p];
                        match failed.get(finding.id().unwrap_or("")) {
                            None => results[*alert_index] = Ok(()),
                            Some(why) => {
                                results[*alert_index] =
                                    Err(format!("Security Hub refused the finding: {why}"));
                                if is_retryable_finding_error(why) {
                                    retry.push(*p);
                                } else {
                                    tracing::error!(finding = finding.id().unwrap_or(""), reason = %why, "Security Hub rejected the finding");
                                }
                            }
                        }
                    }
                }
                Err(error) => {
                    let why = format!(
                        "BatchImportFindings failed: {} {error}",
                        error.code().unwrap_or("")
                    );
                    for p in &pending {
                        results[findings[*p].0] = Err(why.clone());
                    }
                    if is_retryable_call(&error, &SECURITY_HUB_RETRYABLE_CODES) {
                        retry = pending.clone();
                    } else {
                        tracing::error!(error = %why, "Security Hub refused the call");
                    }
                }
            }
            if retry.is_empty() {
                return;
            }
            if attempt < ATTEMPTS {
                tracing::warn!(
                    attempt,
                    findings = retry.len(),
                    "retrying Security Hub import"
                );
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            pending = retry;
        }
    }
}

/// A finding Security Hub found malformed fails the same way on every try; anything else
/// (throttling, an internal error, codes it does not document) is worth another.
fn is_retryable_finding_error(why: &str) -> bool {
    let code = why.split(':').next().unwrap_or("");
    !(code.starts_with("Invalid") || code.contains("Validation") || code.contains("AccessDenied"))
}

/// Security Hub's codes for throttling and internal errors (the rest is
/// [`crate::lambda::sdk_retry::is_retryable_call`]).
const SECURITY_HUB_RETRYABLE_CODES: [&str; 6] = [
    "LimitExceededException",
    "TooManyRequestsException",
    "ThrottlingException",
    "InternalException",
    "InternalFailure",
    "ServiceUnavailable",
];

/// The SDK's finding for the ASFF JSON [`asff::finding`] renders. Every attribute the JSON
/// has is carried over; an attribute this does not know is an error, so the rendering and the
/// import cannot drift apart unnoticed.
pub fn to_sdk(finding: &Value) -> Result<AwsSecurityFinding, String> {
    let object = finding
        .as_object()
        .ok_or("the finding is not a JSON object")?;
    let text = |v: &Value, name: &str| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{name} is not a string"))
    };
    let texts = |v: &Value, name: &str| -> Result<Vec<String>, String> {
        v.as_array()
            .ok_or_else(|| format!("{name} is not a list"))?
            .iter()
            .map(|item| text(item, name))
            .collect()
    };
    let mut out = AwsSecurityFinding::builder();
    for (key, value) in object {
        out = match key.as_str() {
            "SchemaVersion" => out.schema_version(text(value, key)?),
            "Id" => out.id(text(value, key)?),
            "ProductArn" => out.product_arn(text(value, key)?),
            "ProductName" => out.product_name(text(value, key)?),
            "CompanyName" => out.company_name(text(value, key)?),
            "GeneratorId" => out.generator_id(text(value, key)?),
            "AwsAccountId" => out.aws_account_id(text(value, key)?),
            "Types" => out.set_types(Some(texts(value, key)?)),
            "CreatedAt" => out.created_at(text(value, key)?),
            "UpdatedAt" => out.updated_at(text(value, key)?),
            "FirstObservedAt" => out.first_observed_at(text(value, key)?),
            "LastObservedAt" => out.last_observed_at(text(value, key)?),
            "Severity" => out.severity(
                Severity::builder()
                    .label(SeverityLabel::from(
                        text(&value["Label"], "Severity.Label")?.as_str(),
                    ))
                    .original(text(&value["Original"], "Severity.Original")?)
                    .build(),
            ),
            "Title" => out.title(text(value, key)?),
            "Description" => out.description(text(value, key)?),
            "SourceUrl" => out.source_url(text(value, key)?),
            "RecordState" => out.record_state(RecordState::from(text(value, key)?.as_str())),
            "Resources" => {
                let mut resources = Vec::new();
                for r in value.as_array().ok_or("Resources is not a list")? {
                    let mut resource = Resource::builder()
                        .r#type(text(&r["Type"], "Resources.Type")?)
                        .id(text(&r["Id"], "Resources.Id")?)
                        .partition(Partition::from(
                            text(&r["Partition"], "Resources.Partition")?.as_str(),
                        ));
                    if let Some(region) = r.get("Region") {
                        resource = resource.region(text(region, "Resources.Region")?);
                    }
                    resources.push(resource.build());
                }
                out.set_resources(Some(resources))
            }
            "ProductFields" => {
                let fields = value.as_object().ok_or("ProductFields is not an object")?;
                let mut map = HashMap::new();
                for (name, v) in fields {
                    map.insert(name.clone(), text(v, "ProductFields")?);
                }
                out.set_product_fields(Some(map))
            }
            "FindingProviderFields" => out.finding_provider_fields(
                FindingProviderFields::builder()
                    .severity(
                        FindingProviderSeverity::builder()
                            .label(SeverityLabel::from(
                                text(&value["Severity"]["Label"], "FindingProviderFields")?
                                    .as_str(),
                            ))
                            .original(text(
                                &value["Severity"]["Original"],
                                "FindingProviderFields",
                            )?)
                            .build(),
                    )
                    .set_types(Some(texts(&value["Types"], "FindingProviderFields.Types")?))
                    .build(),
            ),
            "Remediation" => {
                let r = &value["Recommendation"];
                let mut recommendation =
                    Recommendation::builder().text(text(&r["Text"], "Remediation")?);
                if let Some(url) = r.get("Url") {
                    recommendation = recommendation.url(text(url, "Remediation.Url")?);
                }
                out.remediation(
                    Remediation::builder()
                        .recommendation(recommendation.build())
                        .build(),
                )
            }
            other => return Err(format!("ASFF attribute {other} is not imported")),
        };
    }
    Ok(out.build())
}

fn now_rfc3339() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    rfc3339_millis(ms)
}

impl AlertSink for SecurityHubSink {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), PublishError>> {
        self.import_all(alerts)
            .await
            .into_iter()
            .zip(alerts)
            .map(|(result, alert)| result.map_err(|e| PublishError::new(alert, e)))
            .collect()
    }
}

impl SecurityHubSink {
    /// Imports `alerts` as findings; one result per alert, the error as Security Hub said it.
    async fn import_all(&self, alerts: &[Alert]) -> Vec<Result<(), String>> {
        let updated_at = now_rfc3339();
        let mut results: Vec<Result<(), String>> = vec![Err("not sent".to_owned()); alerts.len()];
        let mut findings = Vec::with_capacity(alerts.len());
        for (i, alert) in alerts.iter().enumerate() {
            match asff::finding(alert, &self.importer, Some(&updated_at)) {
                Ok(json) => match to_sdk(&json) {
                    Ok(finding) => findings.push((i, finding)),
                    Err(problem) => results[i] = Err(problem),
                },
                // No account id in the record: ASFF cannot name one, and no retry will.
                Err(problem) => {
                    tracing::warn!(rule_id = %alert.rule_id, dedup_key = %alert.dedup_key, %problem, "alert not imported into Security Hub");
                    results[i] = Ok(());
                }
            }
        }
        for chunk in findings.chunks(MAX_FINDINGS_PER_CALL) {
            self.import(chunk, &mut results).await;
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{ami_share_alert, hostile_alert};

    fn importer() -> Importer {
        Importer {
            account_id: "118238665043".into(),
            region: "eu-west-1".into(),
            claim_other_accounts: true,
        }
    }

    #[test]
    fn every_rendered_attribute_is_imported() {
        for alert in [ami_share_alert(), hostile_alert()] {
            let json = asff::finding(&alert, &importer(), Some("2024-08-01T12:30:00Z")).unwrap();
            let sdk = to_sdk(&json).unwrap();
            assert_eq!(sdk.id(), json["Id"].as_str());
            assert_eq!(sdk.aws_account_id(), json["AwsAccountId"].as_str());
            assert_eq!(
                sdk.severity().and_then(|s| s.label()).map(|l| l.as_str()),
                json["Severity"]["Label"].as_str()
            );
            assert_eq!(sdk.types().len(), json["Types"].as_array().unwrap().len());
            assert_eq!(
                sdk.resources().len(),
                json["Resources"].as_array().unwrap().len()
            );
            assert_eq!(
                sdk.product_fields().map(HashMap::len),
                json["ProductFields"].as_object().map(|o| o.len())
            );
            assert_eq!(sdk.record_state(), Some(&RecordState::Active));
            assert_eq!(sdk.source_url(), json["SourceUrl"].as_str());
            assert_eq!(
                sdk.remediation()
                    .and_then(|r| r.recommendation())
                    .and_then(|r| r.text()),
                json["Remediation"]["Recommendation"]["Text"].as_str()
            );
            for r in sdk.resources() {
                assert_eq!(r.partition(), Some(&Partition::Aws));
            }
        }
    }

    #[test]
    fn unknown_attributes_are_refused() {
        let mut json = asff::finding(&ami_share_alert(), &importer(), None).unwrap();
        json["Note"] = serde_json::json!({"Text": "x"});
        assert_eq!(
            to_sdk(&json).unwrap_err(),
            "ASFF attribute Note is not imported"
        );
    }

    #[test]
    fn malformed_findings_are_not_retried() {
        assert!(!is_retryable_finding_error("InvalidInput: bad Resources"));
        assert!(is_retryable_finding_error("InternalError: try later"));
        assert!(is_retryable_finding_error("LimitExceeded: slow down"));
    }
}
