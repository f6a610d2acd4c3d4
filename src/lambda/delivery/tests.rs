//! Tests for `delivery`.

use super::*;
use crate::lambda::fanout::FanOut;
use crate::lambda::ports::{DedupError, PublishError};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A destination that records what it was given and fails while `failing` is set.
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<String>>,
    failing: std::sync::atomic::AtomicBool,
    calls: AtomicUsize,
}

impl AlertSink for std::sync::Arc<Recorder> {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), PublishError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        alerts
            .iter()
            .map(|a| {
                if self.failing.load(Ordering::SeqCst) {
                    Err(PublishError::new(a, "down"))
                } else {
                    self.got.lock().unwrap().push(a.dedup_key.clone());
                    Ok(())
                }
            })
            .collect()
    }
}

/// Claims in memory: key → published.
#[derive(Default)]
struct Table(Mutex<HashMap<String, bool>>);

impl DedupStore for std::sync::Arc<Table> {
    async fn claim(&self, alert: &Alert, _: SystemTime) -> Result<Claim, DedupError> {
        let mut items = self.0.lock().unwrap();
        match items.get(&alert.dedup_key) {
            Some(true) => Ok(Claim::AlreadyPublished),
            Some(false) => Ok(Claim::Busy),
            None => {
                items.insert(alert.dedup_key.clone(), false);
                Ok(Claim::Granted {
                    token: String::new(),
                })
            }
        }
    }
    async fn confirm(&self, alert: &Alert, _: &str) -> Result<(), DedupError> {
        self.0.lock().unwrap().insert(alert.dedup_key.clone(), true);
        Ok(())
    }
    async fn release(&self, alert: &Alert, _: &str) -> Result<(), DedupError> {
        self.0.lock().unwrap().remove(&alert.dedup_key);
        Ok(())
    }
}

fn alert(key: &str) -> Alert {
    let mut a = crate::formats::testing::ami_share_alert();
    a.dedup_key = key.to_owned();
    a.record = json!({}).into();
    a
}

struct World {
    main: std::sync::Arc<Recorder>,
    chat: std::sync::Arc<Recorder>,
    hub: std::sync::Arc<Recorder>,
    sink: FanOut<std::sync::Arc<Recorder>, std::sync::Arc<Recorder>>,
    table: std::sync::Arc<Table>,
}

fn world() -> World {
    let (main, chat, hub) = Default::default();
    let main: std::sync::Arc<Recorder> = main;
    let chat: std::sync::Arc<Recorder> = chat;
    let hub: std::sync::Arc<Recorder> = hub;
    World {
        sink: FanOut::new(main.clone())
            .with("chat", chat.clone())
            .with("securityhub", hub.clone()),
        main,
        chat,
        hub,
        table: Default::default(),
    }
}

/// One delivery of `keys`, as one retry of an object would make it.
async fn run(w: &World, keys: &[&str]) -> Result<DeliveryCounts, (DeliveryCounts, String)> {
    let seen = SeenKeys::default();
    let mut delivery = Delivery::new(&w.sink, &w.table, &seen, SystemTime::now());
    delivery
        .deliver(keys.iter().map(|k| alert(k)).collect())
        .await;
    delivery.finish()
}

fn got(r: &Recorder) -> Vec<String> {
    r.got.lock().unwrap().clone()
}

#[tokio::test]
async fn a_failed_destination_is_retried_alone() {
    let w = world();
    w.chat.failing.store(true, Ordering::SeqCst);
    let (counts, problem) = run(&w, &["r|1", "r|2"]).await.unwrap_err();
    assert_eq!(
        (
            counts.published,
            counts.published_elsewhere,
            counts.undelivered
        ),
        (2, 2, 2)
    );
    assert!(problem.contains("chat: publish failed for"), "{problem}");
    // Neither the main topic nor Security Hub waited for the chat topic.
    assert_eq!(got(&w.main), ["r|1", "r|2"]);
    assert_eq!(got(&w.hub), ["r|1", "r|2"]);
    assert!(got(&w.chat).is_empty());

    // The object's retry: only the chat topic gets the alerts; nothing is repeated.
    w.chat.failing.store(false, Ordering::SeqCst);
    let counts = run(&w, &["r|1", "r|2"]).await.unwrap();
    assert_eq!(
        (
            counts.published,
            counts.suppressed,
            counts.published_elsewhere
        ),
        (0, 2, 2)
    );
    assert_eq!(got(&w.main), ["r|1", "r|2"]);
    assert_eq!(got(&w.hub), ["r|1", "r|2"]);
    assert_eq!(got(&w.chat), ["r|1", "r|2"]);
    // Everything delivered: a third run publishes nothing anywhere.
    let counts = run(&w, &["r|1", "r|2"]).await.unwrap();
    assert_eq!((counts.published, counts.published_elsewhere), (0, 0));
    assert_eq!(w.chat.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_main_topic_loses_nothing_elsewhere() {
    let w = world();
    w.main.failing.store(true, Ordering::SeqCst);
    let (counts, problem) = run(&w, &["r|1"]).await.unwrap_err();
    assert_eq!((counts.published, counts.published_elsewhere), (0, 2));
    assert!(problem.contains("publish failed for"), "{problem}");
    assert_eq!(got(&w.chat), ["r|1"]);
    w.main.failing.store(false, Ordering::SeqCst);
    let counts = run(&w, &["r|1"]).await.unwrap();
    assert_eq!((counts.published, counts.published_elsewhere), (1, 0));
    assert_eq!(got(&w.main), ["r|1"]);
    assert_eq!(got(&w.chat), ["r|1"]);
    assert_eq!(got(&w.hub), ["r|1"]);
}

#[tokio::test]
async fn each_destination_has_its_own_claim() {
    let w = world();
    run(&w, &["r|1"]).await.unwrap();
    let mut keys: Vec<String> = w.table.0.lock().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["chat#r|1", "r|1", "securityhub#r|1"]);
    // The alert itself goes out with its own key (chat threads and finding ids use it).
    assert_eq!(got(&w.chat), ["r|1"]);
}

#[tokio::test]
async fn a_repeat_in_the_same_run_retries_only_what_failed() {
    let w = world();
    let seen = SeenKeys::default();
    let mut delivery = Delivery::new(&w.sink, &w.table, &seen, SystemTime::now());
    w.hub.failing.store(true, Ordering::SeqCst);
    delivery.deliver(vec![alert("r|1")]).await;
    w.hub.failing.store(false, Ordering::SeqCst);
    // The same alert later in the run (another object) is not suppressed by the run's
    // memory, since it failed somewhere; its claims decide.
    delivery.deliver(vec![alert("r|1")]).await;
    assert_eq!(got(&w.main), ["r|1"]);
    assert_eq!(got(&w.chat), ["r|1"]);
    assert_eq!(got(&w.hub), ["r|1"]);
    assert_eq!(delivery.counts.undelivered, 1);
}

#[tokio::test]
async fn one_destination_claims_the_bare_key_as_before() {
    let main: std::sync::Arc<Recorder> = Default::default();
    let table: std::sync::Arc<Table> = Default::default();
    let seen = SeenKeys::default();
    let mut delivery = Delivery::new(&main, &table, &seen, SystemTime::now());
    delivery.deliver(vec![alert("r|1"), alert("r|1")]).await;
    let counts = delivery.finish().unwrap();
    assert_eq!((counts.published, counts.suppressed), (1, 1));
    assert_eq!(table.0.lock().unwrap().keys().collect::<Vec<_>>(), ["r|1"]);
}
