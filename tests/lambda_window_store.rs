//! The DynamoDB window store through the real SDK client against moto on loopback: distinct
//! counts, concurrency, saturation, TTL, and the gate releasing one alert per window from the
//! Stratus detonations split over several "invocations".

mod support;

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::sync::Arc;
use trailwatch::detector::threshold::{MAX_MEMBERS, ThresholdGate, WindowKey};
use trailwatch::detector::{Alert, Detector, DetectorConfig, ReaderConfig, scan_log};
use trailwatch::lambda::window_store::{DynamoWindowStore, WindowCounter, gate_alerts};

async fn store() -> Option<(DynamoWindowStore, aws_sdk_dynamodb::Client, String)> {
    let stack = support::stack(true).await?;
    let table = stack.table.clone().unwrap();
    Some((
        DynamoWindowStore::new(stack.ddb.clone(), table.clone()),
        stack.ddb,
        table,
    ))
}

fn key(bucket: &str) -> WindowKey {
    WindowKey {
        bucket: format!("window|test|{bucket}"),
        start: 1_722_427_200,
        expires_at: 1_722_516_400,
    }
}

/// The window's item as the table holds it.
async fn stored_item(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &WindowKey,
) -> HashMap<String, AttributeValue> {
    ddb.get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.bucket.clone()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the window's item exists")
}

fn members(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn distinct_members_are_counted_before_and_after_each_write() {
    let Some((store, ddb, table)) = store().await else {
        return;
    };
    let k = key("distinct");
    let first = store.add(&k, &members(&["a", "b"])).await.unwrap();
    assert_eq!((first.before, first.after), (0, 2));
    let again = store.add(&k, &members(&["b", "c"])).await.unwrap();
    assert_eq!((again.before, again.after), (2, 3));
    let repeat = store.add(&k, &members(&["a"])).await.unwrap();
    assert_eq!((repeat.before, repeat.after), (3, 3));
    // Another bucket is another count.
    let other = store.add(&key("other"), &members(&["a"])).await.unwrap();
    assert_eq!((other.before, other.after), (0, 1));

    // The item carries the TTL attribute the table expires it by.
    let item = stored_item(&ddb, &table, &k).await;
    assert_eq!(item["expires_at"].as_n().unwrap(), "1722516400");
    assert_eq!(item["members"].as_ss().unwrap().len(), 3);
}

#[tokio::test]
async fn concurrent_writers_lose_no_member() {
    let Some((store, ddb, table)) = store().await else {
        return;
    };
    let store = Arc::new(store);
    let k = key("concurrent");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let k = k.clone();
            tokio::spawn(async move { store.add(&k, &[format!("m{i}")]).await.unwrap() })
        })
        .collect();
    for t in tasks {
        let count = t.await.unwrap();
        assert_eq!(count.after, count.before + 1);
    }
    // ADD to a set never loses a concurrent writer's member. (DynamoDB also serialises the
    // writes of one item, so each writer sees a different size; moto does not, so the
    // before/after counts are checked by the sequential test only.)
    let item = stored_item(&ddb, &table, &k).await;
    assert_eq!(item["members"].as_ss().unwrap().len(), 16);
}

#[tokio::test]
async fn a_full_bucket_saturates_without_growing() {
    let Some((store, ddb, table)) = store().await else {
        return;
    };
    let k = key("full");
    let many: Vec<String> = (0..MAX_MEMBERS).map(|i| format!("m{i}")).collect();
    for chunk in many.chunks(100) {
        store.add(&k, chunk).await.unwrap();
    }
    let count = store.add(&k, &members(&["one-more"])).await.unwrap();
    assert_eq!(
        (count.before, count.after),
        (MAX_MEMBERS as u64, MAX_MEMBERS as u64)
    );
    let item = stored_item(&ddb, &table, &k).await;
    assert_eq!(item["members"].as_ss().unwrap().len(), MAX_MEMBERS);
}

fn pending_alerts(sample: &str) -> Vec<Alert> {
    let detector = Detector::new(&DetectorConfig::default()).unwrap();
    let mut alerts = Vec::new();
    scan_log(
        &support::stratus(sample)[..],
        sample,
        &detector,
        ReaderConfig::default(),
        |a| alerts.push(a),
    )
    .unwrap();
    alerts
}

#[tokio::test]
async fn a_burst_split_over_invocations_is_released_once() {
    let Some((store, _, _)) = store().await else {
        return;
    };
    // The 20 GetSecretValue calls of the Stratus detonation, split over four "invocations"
    // (each with its own gate, as the handler creates one per invocation).
    let alerts = pending_alerts("aws.credential-access.secretsmanager-retrieve-secrets");
    assert_eq!(alerts.len(), 20);
    assert!(alerts.iter().all(Alert::is_pending));
    let mut released = Vec::new();
    for part in alerts.chunks(5) {
        let mut gate = ThresholdGate::new();
        released.extend(gate_alerts(&mut gate, &store, part.to_vec()).await.unwrap());
    }
    assert_eq!(released.len(), 1, "{released:#?}");
    let alert = &released[0];
    assert_eq!(alert.rule_id, "secretsmanager-secrets-read-in-bulk");
    assert_eq!(alert.threshold.as_ref().unwrap().distinct, Some(20));

    // A retry of the last invocation (its publish failed) adds nothing new and releases the
    // same alert again, under the same dedup key: the dedup claim makes it one publish.
    let mut gate = ThresholdGate::new();
    let retried = gate_alerts(&mut gate, &store, alerts[15..].to_vec())
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].dedup_key, alert.dedup_key);
}
