//! Threshold windows across invocations, in DynamoDB: the Lambda's side of
//! [`crate::detector::threshold`].
//!
//! Each bucket (a rule's counter for one principal in one window) is one item of the dedup table,
//! keyed `pk = "window|<rule>|<principal>|<window start>"` (dedup keys start with a rule id, so
//! the two never collide and the stack needs no second table). Each counted record updates its
//! two buckets (the aligned and the half-shifted window): one `UpdateItem` each adds its members
//! to the string set `members` with `ADD` (atomic: concurrent invocations never lose a member) and
//! sets the TTL attribute `expires_at` (the window's end plus a day for late records).
//! `ReturnValues = ALL_OLD` gives the item as it was before (`UPDATED_OLD` may leave out a set the
//! write did not change), so the distinct count before and after comes from the one write. A
//! condition keeps a bucket at or below [`MAX_MEMBERS`] members (an item stays far under
//! DynamoDB's 400 KB): a full bucket answers "saturated" without writing.
//!
//! Cost: two writes (1 WCU per KB of item each) per record a threshold rule counts; records no
//! rule counts cost nothing. Released alerts then go through the dedup claim like every alert;
//! their dedup key names the principal's aligned window, so one alert per principal per window
//! reaches SNS even when several invocations see a bucket over its threshold.

use crate::detector::Alert;
use crate::detector::threshold::{
    MAX_MEMBERS, MemoryWindowStore, ThresholdGate, WindowCount, WindowKey, WindowStore,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;

/// A threshold window that could not be counted: the object is retried (re-adding members
/// changes no count).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("threshold window {bucket}{}: {detail}", object_note(.object))]
pub struct WindowError {
    /// The window bucket's key.
    pub bucket: String,
    /// `s3://bucket/key` of the log whose record was being counted, once known.
    pub object: Option<String>,
    /// What the store said.
    pub detail: String,
}

impl WindowError {
    /// Counting `key` failed because of `detail`.
    pub fn new(key: &WindowKey, detail: impl ToString) -> Self {
        WindowError {
            bucket: key.bucket.clone(),
            object: None,
            detail: detail.to_string(),
        }
    }

    /// The same error, naming the log object whose record was counted.
    pub fn of_object(mut self, object: &str) -> Self {
        self.object = Some(object.to_owned());
        self
    }
}

fn object_note(object: &Option<String>) -> String {
    object
        .as_deref()
        .map(|o| format!(" (counting a record of {o})"))
        .unwrap_or_default()
}

/// Distinct members per window bucket, shared by every invocation (DynamoDB in production).
pub trait WindowCounter: Send + Sync + 'static {
    /// Adds `members` to the bucket atomically; the distinct counts before and after.
    fn add(
        &self,
        key: &WindowKey,
        members: &[String],
    ) -> impl Future<Output = Result<WindowCount, WindowError>> + Send;
}

/// Buckets as items of the dedup table (partition key `pk` (S), TTL attribute `expires_at`).
#[derive(Debug, Clone)]
pub struct DynamoWindowStore {
    client: Client,
    table: String,
}

impl DynamoWindowStore {
    /// A store on `table` (the dedup table).
    pub fn new(client: Client, table: String) -> Self {
        DynamoWindowStore { client, table }
    }
}

impl WindowCounter for DynamoWindowStore {
    async fn add(&self, key: &WindowKey, members: &[String]) -> Result<WindowCount, WindowError> {
        if members.is_empty() {
            return Err(WindowError::new(key, "nothing to count"));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.bucket.clone()))
            .update_expression("ADD #members :members SET expires_at = :expires_at")
            .condition_expression("attribute_not_exists(#members) OR size(#members) < :cap")
            .expression_attribute_names("#members", "members")
            .expression_attribute_values(":members", AttributeValue::Ss(members.to_vec()))
            .expression_attribute_values(
                ":expires_at",
                AttributeValue::N(key.expires_at.to_string()),
            )
            .expression_attribute_values(":cap", AttributeValue::N(MAX_MEMBERS.to_string()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let old: HashSet<&str> = output
                    .attributes()
                    .and_then(|a| a.get("members"))
                    .and_then(|v| v.as_ss().ok())
                    .map(|set| set.iter().map(String::as_str).collect())
                    .unwrap_or_default();
                let before = old.len() as u64;
                let added = members.iter().filter(|m| !old.contains(m.as_str())).count() as u64;
                Ok(WindowCount {
                    before,
                    after: before + added,
                })
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let full = MAX_MEMBERS as u64;
                Ok(WindowCount {
                    before: full,
                    after: full,
                })
            }
            Err(e) => Err(WindowError::new(
                key,
                format!("DynamoDB UpdateItem on {}: {e:?}", self.table),
            )),
        }
    }
}

/// The window counter a deployment uses: the table when one is configured, else the
/// container's own memory.
#[derive(Debug)]
pub enum WindowCounters {
    /// Shared by every invocation (the dedup table).
    Table(DynamoWindowStore),
    /// This warm container only.
    Local(InvocationWindowStore),
}

impl Default for WindowCounters {
    fn default() -> Self {
        WindowCounters::Local(InvocationWindowStore::default())
    }
}

impl WindowCounter for WindowCounters {
    async fn add(&self, key: &WindowKey, members: &[String]) -> Result<WindowCount, WindowError> {
        match self {
            WindowCounters::Table(store) => store.add(key, members).await,
            WindowCounters::Local(store) => store.add(key, members).await,
        }
    }
}

/// No table configured: windows are counted within one invocation only (a burst split over
/// invocations is missed; say so in the deployment notes).
#[derive(Debug, Default)]
pub struct InvocationWindowStore(Mutex<MemoryWindowStore>);

impl WindowCounter for InvocationWindowStore {
    async fn add(&self, key: &WindowKey, members: &[String]) -> Result<WindowCount, WindowError> {
        let mut store = self.0.lock().map_err(|e| WindowError::new(key, e))?;
        match store.add(key, members) {
            Ok(count) => Ok(count),
            Err(never) => match never {},
        }
    }
}

/// Passes one object's alerts through the threshold gate: other rules' alerts as they are,
/// pending ones counted in `counter` and kept only when released. Call it after scanning an
/// object and before dedup and publishing; an `Err` means the object must be retried (no alert
/// of it was published yet, and re-adding members on retry changes no count).
pub async fn gate_alerts(
    gate: &mut ThresholdGate,
    counter: &impl WindowCounter,
    alerts: Vec<Alert>,
) -> Result<Vec<Alert>, WindowError> {
    let mut out = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let Some(keys) = ThresholdGate::window_keys(&alert) else {
            out.push(alert);
            continue;
        };
        let members = &alert.threshold.as_ref().expect("pending alert").members;
        let mut counts = Vec::with_capacity(keys.len());
        for key in keys {
            let count = counter
                .add(&key, members)
                .await
                .map_err(|e| e.of_object(&alert.log_object.location))?;
            counts.push((key, count));
        }
        out.extend(gate.settle(alert, &counts));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::{Detector, DetectorConfig, ReaderConfig, scan_log};

    fn scan(sample: &str) -> Vec<Alert> {
        let path = format!(
            "{}/tests/fixtures/stratus/{sample}.json.gz",
            env!("CARGO_MANIFEST_DIR")
        );
        let detector = Detector::new(&DetectorConfig::default()).unwrap();
        let mut alerts = Vec::new();
        scan_log(
            std::fs::File::open(path).unwrap(),
            sample,
            &detector,
            ReaderConfig::default(),
            |a| alerts.push(a),
        )
        .unwrap();
        alerts
    }

    #[tokio::test]
    async fn the_gate_passes_other_alerts_and_holds_counts_under_the_threshold() {
        let store = InvocationWindowStore::default();
        let mut gate = ThresholdGate::new();
        let share = scan("aws.exfiltration.ec2-share-ami");
        assert_eq!(
            gate_alerts(&mut gate, &store, share.clone()).await.unwrap(),
            share
        );

        let reads = scan("aws.credential-access.secretsmanager-retrieve-secrets");
        assert_eq!(reads.len(), 20);
        let held = gate_alerts(&mut gate, &store, reads[..19].to_vec())
            .await
            .unwrap();
        assert!(held.is_empty());
        let released = gate_alerts(&mut gate, &store, reads[19..].to_vec())
            .await
            .unwrap();
        assert_eq!(released.len(), 1);
        assert!(!released[0].is_pending());
    }

    /// A counter whose table refuses every write.
    struct RefusingCounter;

    impl WindowCounter for RefusingCounter {
        async fn add(
            &self,
            key: &WindowKey,
            _members: &[String],
        ) -> Result<WindowCount, WindowError> {
            Err(WindowError::new(
                key,
                "ProvisionedThroughputExceededException",
            ))
        }
    }

    #[tokio::test]
    async fn a_window_that_cannot_be_counted_names_the_object() {
        let reads = scan("aws.credential-access.secretsmanager-retrieve-secrets");
        let error = gate_alerts(
            &mut ThresholdGate::new(),
            &RefusingCounter,
            reads[..1].to_vec(),
        )
        .await
        .unwrap_err();
        let object = &reads[0].log_object.location;
        assert_eq!(error.object.as_ref(), Some(object));
        assert!(error.bucket.starts_with("window|"), "{error}");
        assert!(error.to_string().contains(object.as_str()), "{error}");
    }
}
