//! Delivery of one object's alerts while it is being scanned: claim → publish → confirm, one
//! bounded batch at a time, and for each destination on its own.
//!
//! Several destinations (the alert topic; optionally a chat topic and Security Hub, see
//! [`crate::lambda::fanout`]) each have dedup claims of their own: the main topic's claim is
//! the alert's dedup key as before, another destination's is the key behind its name
//! ([`destination_key`]). A batch goes to the main topic first, then to each other destination
//! in turn, whatever happened at the one before, so a failure in one destination delays
//! nothing in the others and loses nothing: only the destinations that failed are released
//! and the object is retried, and on the retry the destinations that already have the alert
//! find their claims confirmed and are skipped. The main topic (and the chat topic, which are
//! not idempotent) therefore get an alert once, as with one destination; Security Hub would
//! take a repeat as an update of the same finding anyway.
//!
//! Memory does not grow with the number of alerts in an object: the scanner (on a blocking
//! thread) drops repeats of a dedup key it has already passed on, remembering only a digest of
//! each key, and hands the rest over a bounded channel, so a full channel stops the scan until
//! the publisher has caught up. Each batch is confirmed in the dedup table as soon as SNS has
//! accepted it, so the only window for a duplicate is one batch in flight (see the README's
//! Reliability section for what exactly is guaranteed).

use crate::detector::Alert;
use crate::lambda::ports::{AlertSink, Claim, DedupStore};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Alerts handed from the scanner to the publisher at most at once (back-pressure point).
pub const ALERT_CHANNEL_CAPACITY: usize = 32;
/// Alerts claimed, published and confirmed together: one SNS `PublishBatch`.
pub const PUBLISH_BATCH: usize = 10;
/// How long a claim outlives the deadline of the invocation that made it.
pub const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// Attempts at marking a published alert as published before giving up.
const CONFIRM_ATTEMPTS: u32 = 4;

/// A fixed-size digest of a dedup key (keys can be 512 bytes; an object can hold 100,000).
pub type KeyDigest = [u8; 32];

/// The digest the dedup sets remember instead of the key.
pub fn key_digest(dedup_key: &str) -> KeyDigest {
    Sha256::digest(dedup_key.as_bytes()).into()
}

/// Dedup keys already handled in this invocation, shared by the objects it scans.
pub type SeenKeys = Mutex<HashSet<KeyDigest>>;

/// The dedup claim key of `dedup_key` at the destination called `destination`: its name, `#`,
/// then the key. Keys start with a rule id, which has no `#`, so no alert's own key (the main
/// topic's claim) can be mistaken for another destination's claim.
pub fn destination_key(destination: &str, dedup_key: &str) -> String {
    format!("{destination}#{dedup_key}")
}

/// Counts of one object's delivery.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Published to the main topic.
    pub published: u64,
    /// Published to the other destinations (each destination counts).
    pub published_elsewhere: u64,
    /// Already published to the main topic (within the dedup period, or earlier in this run).
    pub suppressed: u64,
    /// Published, but the dedup table could not be told (a later delivery may repeat them).
    pub unconfirmed: u64,
    /// Not delivered to a destination (each destination counts): the object must be retried.
    pub undelivered: u64,
}

/// Claims, publishes and confirms batches of one object's alerts.
pub struct Delivery<'a, K, D> {
    sink: &'a K,
    dedup: &'a D,
    seen: &'a SeenKeys,
    lease_until: SystemTime,
    confirm_backoff: Duration,
    /// Counts so far.
    pub counts: DeliveryCounts,
    first_problem: Option<String>,
}

impl<'a, K: AlertSink, D: DedupStore> Delivery<'a, K, D> {
    /// A delivery whose claims last until `lease_until`.
    pub fn new(sink: &'a K, dedup: &'a D, seen: &'a SeenKeys, lease_until: SystemTime) -> Self {
        Delivery {
            sink,
            dedup,
            seen,
            lease_until,
            confirm_backoff: Duration::from_millis(50),
            counts: DeliveryCounts::default(),
            first_problem: None,
        }
    }

    fn problem(&mut self, text: String) {
        self.counts.undelivered += 1;
        self.first_problem.get_or_insert(text);
    }

    fn forget(&self, dedup_key: &str) {
        self.seen
            .lock()
            .expect("dedup set lock")
            .remove(&key_digest(dedup_key));
    }

    /// Delivers one batch (at most [`PUBLISH_BATCH`] alerts) to every destination: for each,
    /// claim each alert, publish the claimed ones, confirm each accepted one at once, release
    /// the rest. An alert that failed anywhere may come again in this run (it is forgotten).
    pub async fn deliver(&mut self, batch: Vec<Alert>) {
        let mut fresh = Vec::with_capacity(batch.len());
        for alert in batch {
            let first_time = self
                .seen
                .lock()
                .expect("dedup set lock")
                .insert(key_digest(&alert.dedup_key));
            if first_time {
                fresh.push(alert);
            } else {
                self.counts.suppressed += 1;
            }
        }
        if fresh.is_empty() {
            return;
        }
        let mut failed = vec![false; fresh.len()];
        // The main topic first: every subscriber relies on it.
        self.deliver_to(None, &fresh, &mut failed).await;
        for index in 0..self.sink.other_destinations().len() {
            self.deliver_to(Some(index), &fresh, &mut failed).await;
        }
        for (alert, failed) in fresh.iter().zip(failed) {
            if failed {
                self.forget(&alert.dedup_key);
            }
        }
    }

    /// Claim → publish → confirm at one destination (`None`: the main topic); marks the
    /// alerts it could not deliver in `failed`.
    async fn deliver_to(
        &mut self,
        destination: Option<usize>,
        alerts: &[Alert],
        failed: &mut [bool],
    ) {
        let sink = self.sink;
        let name = destination.map(|index| sink.other_destinations()[index]);
        let mut claimed = Vec::with_capacity(alerts.len());
        for (i, alert) in alerts.iter().enumerate() {
            // The claim is made on a copy keyed for the destination; the alert itself is sent.
            let keyed = match name {
                None => Cow::Borrowed(alert),
                Some(name) => {
                    let mut keyed = alert.clone();
                    keyed.dedup_key = destination_key(name, &alert.dedup_key);
                    Cow::Owned(keyed)
                }
            };
            match self.dedup.claim(&keyed, self.lease_until).await {
                Ok(Claim::Granted { token }) => claimed.push((i, keyed, token)),
                Ok(Claim::AlreadyPublished) => {
                    if name.is_none() {
                        self.counts.suppressed += 1;
                    }
                }
                Ok(Claim::Busy) => {
                    // Someone else may still publish it, or may have died doing so: never
                    // acknowledge the object while that is undecided.
                    failed[i] = true;
                    self.problem(format!("{} is claimed by another run", keyed.dedup_key));
                }
                Err(e) => {
                    failed[i] = true;
                    self.problem(format!("dedup claim failed: {e}"));
                }
            }
        }
        if claimed.is_empty() {
            return;
        }
        let to_send: Vec<Alert> = claimed.iter().map(|(i, _, _)| alerts[*i].clone()).collect();
        let results = match destination {
            None => sink.publish(&to_send).await,
            Some(index) => sink.publish_other(index, &to_send).await,
        };
        drop(to_send);
        for ((i, keyed, token), result) in claimed.iter().zip(results) {
            match result {
                Ok(()) => {
                    match name {
                        None => self.counts.published += 1,
                        Some(_) => self.counts.published_elsewhere += 1,
                    }
                    self.confirm(keyed, token).await;
                }
                Err(e) => {
                    failed[*i] = true;
                    if let Err(release_error) = self.dedup.release(keyed, token).await {
                        tracing::warn!(dedup_key = %keyed.dedup_key, error = %release_error, "could not release claim; it ends with its lease");
                    }
                    self.problem(match name {
                        None => e.to_string(),
                        Some(destination) => format!("{destination}: {e}"),
                    });
                }
            }
        }
    }

    /// Marks a published alert as published, retrying: an unconfirmed claim would let a
    /// later delivery publish it again once the lease is over.
    async fn confirm(&mut self, alert: &Alert, token: &str) {
        let mut delay = self.confirm_backoff;
        for attempt in 1..=CONFIRM_ATTEMPTS {
            match self.dedup.confirm(alert, token).await {
                Ok(()) => return,
                Err(e) if attempt == CONFIRM_ATTEMPTS => {
                    // Delivered: failing the object would only publish it again.
                    self.counts.unconfirmed += 1;
                    tracing::error!(dedup_key = %alert.dedup_key, error = %e, attempts = attempt, "alert published but not marked published; a redelivery after the lease may repeat it");
                }
                Err(e) => {
                    tracing::warn!(dedup_key = %alert.dedup_key, error = %e, attempt, "retrying dedup confirm");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }

    /// `Err` with the first problem when some alert was not delivered.
    pub fn finish(self) -> Result<DeliveryCounts, (DeliveryCounts, String)> {
        match self.first_problem {
            None => Ok(self.counts),
            Some(first) => Err((
                self.counts,
                format!(
                    "{} alert(s) not delivered; first: {first}",
                    self.counts.undelivered
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
