//! `rolesanywhere-trust-anchor-created`
//!
//! **What it detects.** A successful IAM Roles Anywhere `CreateTrustAnchor`, or an
//! `UpdateTrustAnchor` that replaces the anchor's certificate source. A trust anchor from an
//! external certificate bundle (`CERTIFICATE_BUNDLE`: a CA whose private key is held outside
//! AWS) is high severity; one backed by an AWS Private CA in the account is medium.
//!
//! **Why it matters.** Whoever holds the anchor's CA key can mint client certificates and, with a
//! Roles Anywhere profile, exchange them for temporary credentials of the profile's roles from
//! anywhere: long-lived persistence that no IAM user or access key reveals.
//!
//! **Published rule.** Elastic "AWS IAM Roles Anywhere Trust Anchor Created with External CA"
//! (71de53ea-ff3b-11ee-b572-f661ea17fbce).
//!
//! **How we differ.** Elastic reports only external CAs (by a substring test on the request);
//! we read `source.sourceType`, report external CAs at high severity and AWS Private CA anchors
//! at medium (an attacker who controls the account's private CA can issue certificates too), and
//! also report certificate swaps on existing anchors.
//!
//! **Blind spots.** The profile that maps certificates to roles (`CreateProfile`) is a separate
//! event, not reported by this rule.

use crate::detector::record::{Record, lenient_str};
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_key, actor_name};
use crate::detector::text::clean;
use serde::Deserialize;
use serde_json::json;
use std::borrow::Cow;

/// The rule value registered in the catalogue.
pub static RULE: RolesAnywhereTrustAnchorCreated = RolesAnywhereTrustAnchorCreated;

/// See the module documentation.
pub struct RolesAnywhereTrustAnchorCreated;

static META: RuleMeta = RuleMeta {
    id: "rolesanywhere-trust-anchor-created",
    title: "IAM Roles Anywhere trust anchor created or its CA replaced",
    description: "A trust anchor was created (or its certificate authority replaced) in IAM \
        Roles Anywhere. Holders of the anchor CA's key can obtain temporary credentials for the \
        roles of any Roles Anywhere profile; adversaries add their own CA to keep access.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1098.001",
            technique_name: "Additional Cloud Credentials",
        },
        Attack {
            tactic_id: "TA0005",
            tactic_name: "Defense Evasion",
            technique_id: "T1556",
            technique_name: "Modify Authentication Process",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.rolesanywhere-create-trust-anchor/",
        "https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/API_CreateTrustAnchor.html",
        "https://docs.aws.amazon.com/rolesanywhere/latest/userguide/getting-started.html",
    ],
    false_positives: &[
        "Teams onboarding on-premises workloads to Roles Anywhere with their own PKI; confirm the \
         certificate's issuer with them.",
    ],
    triage: &[
        "Identify the actor (actor.arn, actor.access_key_id) and whether a Roles Anywhere rollout was planned.",
        "Read details.source_type and the certificate in the record: who issued it, and who holds its key?",
        "List profiles (ListProfiles) and the roles they map; look for CreateSession calls (rolesanywhere) using this anchor.",
        "If unapproved: disable and delete the trust anchor and the profiles created with it, rotate the actor's credentials.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS IAM Roles Anywhere Trust Anchor Created with External CA",
        id: "71de53ea-ff3b-11ee-b572-f661ea17fbce",
    },
    notes: &[
        "AWS Private CA anchors are reported at medium severity (Elastic skips them).",
        "A certificate source swapped by UpdateTrustAnchor is reported too.",
    ],
    events: &[
        EventSelector::exact("rolesanywhere.amazonaws.com", "CreateTrustAnchor"),
        EventSelector::exact("rolesanywhere.amazonaws.com", "UpdateTrustAnchor"),
    ],
    failed_calls: FailedCalls::Ignore,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustAnchorParams<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    trust_anchor_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    source: Option<AnchorSource<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnchorSource<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    source_type: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustAnchorResponse<'a> {
    #[serde(default, borrow)]
    trust_anchor: Option<TrustAnchorDetail<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustAnchorDetail<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    trust_anchor_arn: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
}

impl Rule for RolesAnywhereTrustAnchorCreated {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, _ctx: &RuleContext) -> Verdict {
        let params: TrustAnchorParams = record.require_request_parameters()?;
        let created = record.name() == "CreateTrustAnchor";
        let Some(source) = params.source.as_ref() else {
            // An update that only renames or toggles the anchor leaves its CA as it was.
            return if created {
                Err(Unevaluable::Missing("requestParameters.source"))
            } else {
                Ok(None)
            };
        };
        let source_type = source.source_type.as_deref().unwrap_or("");
        let external = source_type != "AWS_ACM_PCA";
        let response = record.response_elements::<TrustAnchorResponse>()?;
        let detail = response.as_ref().and_then(|r| r.trust_anchor.as_ref());
        let anchor_arn = detail
            .and_then(|d| d.trust_anchor_arn.as_deref())
            .map(str::to_owned);
        let name = params
            .name
            .as_deref()
            .or_else(|| detail.and_then(|d| d.name.as_deref()))
            .or(params.trust_anchor_id.as_deref())
            .unwrap_or("")
            .to_owned();
        let ca = if external {
            "an external certificate authority"
        } else {
            "an AWS Private CA"
        };
        let verb = if created {
            "created IAM Roles Anywhere trust anchor"
        } else {
            "replaced the certificate authority of IAM Roles Anywhere trust anchor"
        };
        let finding = Finding::new(
            format!(
                "{} {verb} {} trusting {ca} ({})",
                actor_name(record),
                clean(&name, 128),
                clean(source_type, 40)
            ),
            json!({
                "trust_anchor": name,
                "trust_anchor_arn": anchor_arn,
                "source_type": source_type,
                "external_ca": external,
            }),
            vec![
                actor_key(record),
                anchor_arn.unwrap_or_else(|| name.clone()),
            ],
        );
        Ok(Some(if external {
            finding
        } else {
            finding.with_severity(Severity::Medium)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, assert_unevaluable};
    use serde_json::{Value, json};

    /// Trimmed from the Stratus recording aws.persistence.rolesanywhere-create-trust-anchor.json
    /// (certificate shortened).
    fn create_anchor(source_type: &str) -> Value {
        json!({"eventVersion": "1.10", "eventSource": "rolesanywhere.amazonaws.com",
            "eventName": "CreateTrustAnchor", "awsRegion": "us-east-1",
            "eventID": "66e5f252-e092-4ad0-9a33-a03595e05aca", "recipientAccountId": "791182566784",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::791182566784:user/christophe",
                "accountId": "791182566784", "userName": "christophe"},
            "requestParameters": {"enabled": true, "name": "malicious-rolesanywhere-trust-anchor",
                "source": {"sourceData": {"x509CertificateData": "-----BEGIN CERTIFICATE-----\nMIIE3z...\n-----END CERTIFICATE-----"},
                    "sourceType": source_type},
                "tags": [{"key": "HIDDEN_DUE_TO_SECURITY_REASONS", "value": "HIDDEN_DUE_TO_SECURITY_REASONS"}]},
            "responseElements": {"trustAnchor": {"enabled": true, "name": "malicious-rolesanywhere-trust-anchor",
                "trustAnchorArn": "arn:aws:rolesanywhere:us-east-1:791182566784:trust-anchor/4d07f6a0-1c50-44d3-951b-b68b783daa0a",
                "trustAnchorId": "4d07f6a0-1c50-44d3-951b-b68b783daa0a"}}})
    }

    #[test]
    fn an_external_ca_is_high_a_private_ca_medium() {
        let f = assert_fires(&RULE, &create_anchor("CERTIFICATE_BUNDLE").to_string());
        assert_eq!(f.severity, None);
        assert_eq!(f.details["external_ca"], true);
        assert!(
            f.summary.contains("external certificate authority"),
            "{}",
            f.summary
        );
        let mut pca = create_anchor("AWS_ACM_PCA");
        pca["requestParameters"]["source"]["sourceData"] =
            json!({"acmPcaArn": "arn:aws:acm-pca:us-east-1:791182566784:certificate-authority/1"});
        let f = assert_fires(&RULE, &pca.to_string());
        assert_eq!(f.severity, Some(Severity::Medium));
    }

    #[test]
    fn updates_fire_only_when_the_source_changes() {
        let mut swap = create_anchor("CERTIFICATE_BUNDLE");
        swap["eventName"] = json!("UpdateTrustAnchor");
        swap["requestParameters"]["trustAnchorId"] = json!("4d07f6a0-1c50-44d3-951b-b68b783daa0a");
        let f = assert_fires(&RULE, &swap.to_string());
        assert!(
            f.summary.contains("replaced the certificate authority"),
            "{}",
            f.summary
        );
        let rename = json!({"eventSource": "rolesanywhere.amazonaws.com", "eventName": "UpdateTrustAnchor",
            "requestParameters": {"trustAnchorId": "4d07f6a0", "name": "renamed"}});
        assert_silent(&RULE, &rename.to_string());
    }

    #[test]
    fn unevaluable_creation_without_source_silent_on_failure() {
        let mut r = create_anchor("CERTIFICATE_BUNDLE");
        r["requestParameters"]
            .as_object_mut()
            .unwrap()
            .remove("source");
        assert_unevaluable(&RULE, &r.to_string());
        let mut denied = create_anchor("CERTIFICATE_BUNDLE");
        denied["errorCode"] = json!("AccessDeniedException");
        assert_silent(&RULE, &denied.to_string());
    }
}
