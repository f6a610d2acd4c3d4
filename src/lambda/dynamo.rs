//! Cross-invocation dedup with DynamoDB: a conditional write claims an alert before it is
//! published, so at-least-once delivery (S3, SQS, Lambda retries, CloudTrail repeats) publishes
//! each (rule, dedup key) once per dedup period.
//!
//! The claim is a lease: `pending` until the publish succeeds (then `published` until
//! `expires_at`, which is also the item's TTL). A failed publish releases the claim. The lease
//! ends a margin after the claiming invocation's deadline, so it outlives the run (a slow run
//! is never overtaken) and no longer: a process killed between claim and publish leaves a
//! pending claim that a retry takes over once the lease is over. What this does and does not
//! guarantee is in the README's Reliability section.

use crate::detector::Alert;
use crate::lambda::ports::{Claim, DedupError, DedupStore};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Table layout: partition key `pk` (S); TTL attribute `expires_at` (N, epoch seconds).
#[derive(Debug, Clone)]
pub struct DynamoDedupStore {
    client: Client,
    table: String,
}

static CLAIM_COUNTER: AtomicU64 = AtomicU64::new(0);

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A token unique to this claim attempt (process, time, counter).
fn new_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:x}-{:x}-{:x}",
        std::process::id(),
        nanos,
        CLAIM_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl DynamoDedupStore {
    /// A store on `table`.
    pub fn new(client: Client, table: String) -> Self {
        DynamoDedupStore { client, table }
    }

    async fn try_claim(
        &self,
        alert: &Alert,
        now: u64,
        lease_until: u64,
        token: &str,
    ) -> Result<bool, DedupError> {
        let period = u64::from(alert.dedup_period_minutes.max(1)) * 60;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(alert.dedup_key.clone()))
            .item("state", AttributeValue::S("pending".into()))
            .item("token", AttributeValue::S(token.to_owned()))
            .item("lease_until", AttributeValue::N(lease_until.to_string()))
            .item("expires_at", AttributeValue::N((now + period).to_string()))
            .item("rule_id", AttributeValue::S(alert.rule_id.clone()))
            .item(
                "event_id",
                AttributeValue::S(alert.event_id.clone().unwrap_or_default()),
            )
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now OR (#state = :pending AND lease_until < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(DedupError::new(
                format!("DynamoDB PutItem on {}", self.table),
                alert,
                format!("{e:?}"),
            )),
        }
    }

    /// After a refused claim: is the alert published, or is someone still publishing it?
    async fn holder_state(&self, alert: &Alert, now: u64) -> Result<Option<Claim>, DedupError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(alert.dedup_key.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                DedupError::new(
                    format!("DynamoDB GetItem on {}", self.table),
                    alert,
                    format!("{e:?}"),
                )
            })?;
        let Some(item) = item.item() else {
            return Ok(None);
        };
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let state = item
            .get("state")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str);
        Ok(match state {
            Some("published") if number("expires_at") >= now => Some(Claim::AlreadyPublished),
            Some("pending") if number("lease_until") >= now => Some(Claim::Busy),
            // Expired meanwhile: the caller may try again.
            _ => None,
        })
    }
}

impl DedupStore for DynamoDedupStore {
    async fn claim(&self, alert: &Alert, lease_until: SystemTime) -> Result<Claim, DedupError> {
        let lease_until = lease_until
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        for _ in 0..2 {
            let now = now_secs();
            let token = new_token();
            if self.try_claim(alert, now, lease_until, &token).await? {
                return Ok(Claim::Granted { token });
            }
            if let Some(answer) = self.holder_state(alert, now).await? {
                return Ok(answer);
            }
        }
        Ok(Claim::Busy)
    }

    async fn confirm(&self, alert: &Alert, token: &str) -> Result<(), DedupError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(alert.dedup_key.clone()))
            .update_expression("SET #state = :published REMOVE lease_until")
            .condition_expression("#token = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":published", AttributeValue::S("published".into()))
            .expression_attribute_values(":token", AttributeValue::S(token.to_owned()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                DedupError::new(
                    format!("DynamoDB UpdateItem on {}", self.table),
                    alert,
                    format!("{e:?}"),
                )
            })
    }

    async fn release(&self, alert: &Alert, token: &str) -> Result<(), DedupError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(alert.dedup_key.clone()))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", AttributeValue::S(token.to_owned()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                DedupError::new(
                    format!("DynamoDB DeleteItem on {}", self.table),
                    alert,
                    format!("{e:?}"),
                )
            })
    }
}
