//! SQS queue and SNS topic policies (set as attributes).

use super::{Extracted, add_principal, string_leaves};
use crate::detector::arn;
use crate::detector::record::Record;
use crate::detector::rules::exposure::access::{Exposure, Zone, opt_str};
use serde::Deserialize;
use serde_json::Value;

// ---- SQS and SNS ----------------------------------------------------------------------------

/// `SetQueueAttributes` / `CreateQueue` (`attributes.Policy`) and SQS `AddPermission`.
#[derive(Deserialize)]
struct SqsParams {
    #[serde(rename = "queueUrl", default)]
    queue_url: Option<Value>,
    #[serde(rename = "queueName", default)]
    queue_name: Option<Value>,
    #[serde(default)]
    attributes: Option<serde_json::Map<String, Value>>,
    #[serde(rename = "aWSAccountIds", alias = "AWSAccountIds", default)]
    account_ids: Option<Value>,
    #[serde(default)]
    actions: Option<Value>,
    #[serde(rename = "actionNames", default)]
    action_names: Option<Value>,
}

fn queue_arn(zone: &Zone<'_>, params: &SqsParams) -> String {
    // https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
    if let Some(url) = opt_str(&params.queue_url) {
        let parts: Vec<&str> = url.trim_end_matches('/').rsplitn(3, '/').collect();
        if let [name, account, _] = parts[..]
            && arn::is_account_id(account)
        {
            return format!(
                "arn:{}:sqs:{}:{account}:{name}",
                zone.partition(),
                zone.region
            );
        }
        return url.to_owned();
    }
    zone.arn("sqs", true, opt_str(&params.queue_name).unwrap_or(""))
}

/// `AddPermission` (SQS and SNS): the accounts it names directly, and its actions with the
/// service's prefix.
fn add_permission(
    exposure: &mut Exposure,
    zone: &Zone<'_>,
    account_ids: &Option<Value>,
    actions: &[&Option<Value>],
    service: &str,
) {
    let mut accounts = Vec::new();
    if let Some(v) = account_ids {
        string_leaves(v, &mut accounts);
    }
    for account in accounts {
        add_principal(exposure, zone, &account);
    }
    let mut names = Vec::new();
    for v in actions.iter().copied().flatten() {
        string_leaves(v, &mut names);
    }
    exposure
        .actions
        .extend(names.into_iter().map(|a| format!("{service}:{a}")));
}

/// An SQS queue policy or permission.
pub fn sqs_queue(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: SqsParams = record.require_request_parameters()?;
    let mut exposure = Exposure::of("sqs-queue", queue_arn(zone, &params));
    if record.name() == "AddPermission" {
        add_permission(
            &mut exposure,
            zone,
            &params.account_ids,
            &[&params.actions, &params.action_names],
            "sqs",
        );
        return Ok(Some(exposure));
    }
    let policy = params
        .attributes
        .as_ref()
        .and_then(|a| a.get("Policy"))
        .filter(|p| p.as_str() != Some(""));
    let Some(policy) = policy else {
        // Other attributes, or an empty policy (removal): nobody is let in.
        return Ok(None);
    };
    exposure
        .add_policy_access(zone.judge_policy(Some(policy), "requestParameters.attributes.Policy")?);
    Ok(Some(exposure))
}

/// `SetTopicAttributes` (`attributeName: Policy`), `CreateTopic` (`attributes.Policy`) and SNS
/// `AddPermission`.
#[derive(Deserialize)]
struct SnsParams {
    #[serde(rename = "topicArn", default)]
    topic_arn: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(rename = "attributeName", default)]
    attribute_name: Option<Value>,
    #[serde(rename = "attributeValue", default)]
    attribute_value: Option<Value>,
    #[serde(default)]
    attributes: Option<serde_json::Map<String, Value>>,
    #[serde(rename = "aWSAccountId", alias = "AWSAccountId", default)]
    account_ids: Option<Value>,
    #[serde(rename = "actionName", alias = "ActionName", default)]
    action_names: Option<Value>,
}

/// An SNS topic policy or permission.
pub fn sns_topic(record: &Record<'_>, zone: &Zone<'_>) -> Extracted {
    let params: SnsParams = record.require_request_parameters()?;
    let resource = opt_str(&params.topic_arn)
        .map(str::to_owned)
        .unwrap_or_else(|| zone.arn("sns", true, opt_str(&params.name).unwrap_or("")));
    let mut exposure = Exposure::of("sns-topic", resource);
    match record.name() {
        "AddPermission" => {
            add_permission(
                &mut exposure,
                zone,
                &params.account_ids,
                &[&params.action_names],
                "sns",
            );
        }
        "SetTopicAttributes" => {
            if !opt_str(&params.attribute_name).is_some_and(|n| n.eq_ignore_ascii_case("Policy")) {
                return Ok(None);
            }
            exposure.add_policy_access(zone.judge_policy(
                params.attribute_value.as_ref(),
                "requestParameters.attributeValue",
            )?);
        }
        _ => {
            let Some(policy) = params.attributes.as_ref().and_then(|a| a.get("Policy")) else {
                return Ok(None);
            };
            exposure.add_policy_access(
                zone.judge_policy(Some(policy), "requestParameters.attributes.Policy")?,
            );
        }
    }
    Ok(Some(exposure))
}
