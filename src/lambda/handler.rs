//! The handler: an invocation in, objects scanned concurrently, alerts deduplicated and
//! published while the scan goes on ([`crate::lambda::delivery`]), and the response each event
//! source expects.

use crate::detector::keys::{KeyKind, classify_key};
use crate::detector::text::clean;
use crate::detector::threshold::ThresholdGate;
use crate::detector::{
    Alert, Detector, ReadError, ScanSink, ScanStats, SkippedRecord, Suppression, scan_log_to,
};
use crate::lambda::config::LambdaConfig;
use crate::lambda::delivery::{
    ALERT_CHANNEL_CAPACITY, Delivery, KeyDigest, LEASE_MARGIN, PUBLISH_BATCH, SeenKeys, key_digest,
};
use crate::lambda::events::{HandlerError, Invocation, ObjectRef, QueueWork, parse_invocation};
use crate::lambda::metrics::InvocationMetrics;
use crate::lambda::outcome::{ObjectOutcome, ObjectReport};
use crate::lambda::ports::{AlertSink, DedupStore, FetchError, ObjectSource};
use crate::lambda::tuning_metrics::ExceptionTally;
use crate::lambda::window_store::{WindowCounters, gate_alerts};
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Lambda's longest timeout: the deadline assumed when the caller gives none.
pub const MAX_FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);

/// The function's work, independent of where objects come from and alerts go.
pub struct Processor<S, K, D> {
    source: S,
    sink: K,
    dedup: D,
    /// Counts for threshold ("in bulk") rules across objects and invocations.
    windows: WindowCounters,
    /// Swapped by a tuning-file reload; an invocation keeps the one it started with.
    detector: RwLock<Arc<Detector>>,
    config: LambdaConfig,
}

impl<S: ObjectSource, K: AlertSink, D: DedupStore> Processor<S, K, D> {
    /// Builds the processor; the detector is built (and validated) once here.
    pub fn new(
        source: S,
        sink: K,
        dedup: D,
        config: LambdaConfig,
    ) -> Result<Self, crate::detector::ConfigError> {
        let detector = RwLock::new(Arc::new(Detector::new(&config.detector)?));
        Ok(Processor {
            source,
            sink,
            dedup,
            windows: WindowCounters::default(),
            detector,
            config,
        })
    }

    /// Counts threshold windows in `windows` (the table, shared by every invocation) instead
    /// of this container's memory.
    pub fn with_windows(mut self, windows: WindowCounters) -> Self {
        self.windows = windows;
        self
    }

    /// The detector new invocations use.
    pub fn detector(&self) -> Arc<Detector> {
        Arc::clone(&self.detector.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Installs a detector built from a reloaded tuning file for the invocations that follow.
    pub fn replace_detector(&self, detector: Arc<Detector>) {
        *self.detector.write().unwrap_or_else(|e| e.into_inner()) = detector;
    }

    /// Handles one invocation payload, assuming Lambda's longest timeout as its deadline.
    pub async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        self.handle_until(event, SystemTime::now() + MAX_FUNCTION_TIMEOUT)
            .await
    }

    /// Handles one invocation payload that Lambda stops at `deadline` (from the invocation's
    /// context) and returns the response its source expects. Dedup claims made by this run
    /// last until `deadline` plus [`LEASE_MARGIN`].
    pub async fn handle_until(
        &self,
        event: Value,
        deadline: SystemTime,
    ) -> Result<Value, HandlerError> {
        let invocation = parse_invocation(&event)?;
        let mut metrics = InvocationMetrics::default();
        let started = Instant::now();
        let seen: Arc<SeenKeys> = Arc::new(Mutex::new(HashSet::new()));
        let lease_until = deadline + LEASE_MARGIN;
        // One detector for the whole invocation, even if a reload swaps it meanwhile.
        let detector = self.detector();
        let process = async |objects: &[ObjectRef], metrics: &mut InvocationMetrics| {
            let outcomes = self
                .process_all(&detector, objects, &seen, lease_until, metrics)
                .await;
            metrics.emit(started.elapsed());
            outcomes
        };
        match invocation {
            Invocation::Direct(named) => {
                named.log_ignored(None);
                let outcomes = process(&named.objects, &mut metrics).await;
                named.response(&outcomes, metrics.alerts_published)
            }
            Invocation::Queue(messages) => {
                let work = QueueWork::of(&messages);
                let outcomes = process(&work.objects, &mut metrics).await;
                Ok(work.response(&messages, &outcomes))
            }
            Invocation::Batch(job) => {
                let outcomes = process(&job.objects(), &mut metrics).await;
                Ok(job.response(outcomes))
            }
        }
    }

    /// Processes objects concurrently (bounded), returning outcomes in input order.
    pub async fn process_all(
        &self,
        detector: &Arc<Detector>,
        objects: &[ObjectRef],
        seen: &Arc<SeenKeys>,
        lease_until: SystemTime,
        metrics: &mut InvocationMetrics,
    ) -> Vec<ObjectOutcome> {
        let mut indexed: Vec<(usize, ObjectOutcome)> =
            futures::stream::iter(objects.iter().enumerate())
                .map(|(i, object)| async move {
                    (
                        i,
                        self.process_object_with(detector, object, seen, lease_until)
                            .await,
                    )
                })
                .buffer_unordered(self.config.max_concurrent_objects)
                .collect()
                .await;
        indexed.sort_by_key(|(i, _)| *i);
        let outcomes: Vec<ObjectOutcome> = indexed.into_iter().map(|(_, o)| o).collect();
        for outcome in &outcomes {
            metrics.record(outcome);
        }
        outcomes
    }

    /// Fetches and scans one object with the current detector, publishing its alerts in
    /// bounded batches as they are found; claims last until `lease_until`.
    pub async fn process_object(
        &self,
        object: &ObjectRef,
        seen: &Arc<SeenKeys>,
        lease_until: SystemTime,
    ) -> ObjectOutcome {
        self.process_object_with(&self.detector(), object, seen, lease_until)
            .await
    }

    /// [`Processor::process_object`] with the invocation's detector.
    async fn process_object_with(
        &self,
        detector: &Arc<Detector>,
        object: &ObjectRef,
        seen: &Arc<SeenKeys>,
        lease_until: SystemTime,
    ) -> ObjectOutcome {
        let started = Instant::now();
        let url = object.url();
        let kind = classify_key(&object.key);
        if kind != KeyKind::Log {
            tracing::debug!(bucket = %object.bucket, key = %object.key, ?kind, "not a log file: skipped");
            return ObjectOutcome::Skipped(format!("{kind:?} key"));
        }
        if object.size == Some(0) {
            tracing::debug!(bucket = %object.bucket, key = %object.key, "empty object: skipped");
            return ObjectOutcome::Skipped("empty object".into());
        }
        let opened = match self.source.open(object).await {
            Ok(opened) => opened,
            Err(error) => return fetch_failure(object, error),
        };
        if opened.content_length == Some(0) {
            return ObjectOutcome::Skipped("empty object".into());
        }

        let detector = Arc::clone(detector);
        let reader_config = self.config.reader;
        let location = url.clone();
        let (alerts_tx, mut alerts_rx) = tokio::sync::mpsc::channel(ALERT_CHANNEL_CAPACITY);
        let mut to_channel = ScanToChannel {
            alerts: alerts_tx,
            passed: HashSet::new(),
            repeats: 0,
            exceptions: ExceptionTally::default(),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
        };
        let scanner = tokio::task::spawn_blocking(move || {
            let result = scan_log_to(
                opened.body,
                &location,
                &detector,
                reader_config,
                &mut to_channel,
            );
            (result, to_channel.repeats, to_channel.exceptions)
        });

        // Alerts from the readable part are published even when the object is damaged.
        let mut delivery = Delivery::new(&self.sink, &self.dedup, seen, lease_until);
        let mut batch = Vec::with_capacity(PUBLISH_BATCH);
        let mut found = 0u64;
        let mut gate = ThresholdGate::new();
        let mut window_error = None;
        let mut released_expired = ExceptionTally::default();
        while let Some(alert) = alerts_rx.recv().await {
            // A threshold rule's record is one count; an alert only once its window is full.
            let alert = if alert.is_pending() {
                if window_error.is_some() {
                    continue;
                }
                match gate_alerts(&mut gate, &self.windows, vec![alert]).await {
                    Ok(mut released) => match released.pop() {
                        Some(alert) => {
                            for expired in &alert.expired_exceptions {
                                released_expired.expired_match(&expired.name);
                            }
                            alert
                        }
                        None => continue,
                    },
                    Err(problem) => {
                        window_error = Some(format!("threshold window count failed: {problem}"));
                        continue;
                    }
                }
            } else {
                alert
            };
            found += 1;
            batch.push(alert);
            if batch.len() == PUBLISH_BATCH {
                delivery.deliver(std::mem::take(&mut batch)).await;
            }
        }
        if !batch.is_empty() {
            delivery.deliver(batch).await;
        }

        let (result, repeats, mut exceptions) = match scanner.await {
            Ok(done) => done,
            Err(join_error) => {
                tracing::error!(bucket = %object.bucket, key = %object.key, error = %join_error, "scanner task failed");
                return ObjectOutcome::Transient(format!("scanner task failed: {join_error}"));
            }
        };
        let (stats, scan_error) = match result {
            Ok(stats) => (stats, None),
            Err(e) => (e.stats, Some(e.error)),
        };
        let (counts, publish_error) = match delivery.finish() {
            Ok(counts) => (counts, None),
            Err((counts, problem)) => (counts, Some(problem)),
        };
        // A count that could not be stored is retried with the object: the counts already
        // added are sets, so adding the same members again changes nothing.
        let publish_error = publish_error.or(window_error);
        exceptions.add(&released_expired);
        let report = ObjectReport {
            records: stats.records,
            skipped_records: stats.skipped_records,
            decompressed_bytes: stats.decompressed_bytes,
            alerts_found: found + repeats,
            alerts_published: counts.published,
            alerts_suppressed: counts.suppressed + repeats,
            alerts_unconfirmed: counts.unconfirmed,
            exceptions,
        };
        log_summary(object, &stats, &report, started.elapsed().as_millis());

        match (scan_error, publish_error) {
            (_, Some(problem)) => {
                tracing::error!(bucket = %object.bucket, key = %object.key, %problem, "publishing failed; the object will be retried");
                ObjectOutcome::Transient(problem)
            }
            (Some(error), None) if !error.is_permanent() => {
                tracing::warn!(bucket = %object.bucket, key = %object.key, %error, "read failed; the object will be retried");
                ObjectOutcome::Transient(error.to_string())
            }
            (Some(ReadError::Empty), None) => ObjectOutcome::Skipped("empty object".into()),
            (Some(error), None) => {
                tracing::error!(bucket = %object.bucket, key = %object.key, %error, "log object cannot be read; not retried");
                ObjectOutcome::Permanent(error.to_string())
            }
            (None, None) if stats.kind == crate::detector::LogKind::Digest => {
                ObjectOutcome::Skipped("digest file".into())
            }
            (None, None) => ObjectOutcome::Scanned(report),
        }
    }
}

/// The scanner's side of the channel: repeats of a key within the object are dropped here, on
/// digests only, so neither the channel nor memory sees them; skipped records are logged.
struct ScanToChannel {
    alerts: tokio::sync::mpsc::Sender<Alert>,
    passed: HashSet<KeyDigest>,
    repeats: u64,
    exceptions: ExceptionTally,
    bucket: String,
    key: String,
}

impl ScanSink for &mut ScanToChannel {
    fn alert(&mut self, alert: Alert) {
        // A threshold rule's record is counted when its window releases an alert, not per record.
        if !alert.is_pending() {
            for expired in &alert.expired_exceptions {
                self.exceptions.expired_match(&expired.name);
            }
        }
        // Every record of a burst counts: pending threshold alerts share a window's key.
        if alert.is_pending() || self.passed.insert(key_digest(&alert.dedup_key)) {
            // A full channel blocks the scan until the publisher catches up; a closed one
            // cannot happen while the publisher loop runs.
            let _ = self.alerts.blocking_send(alert);
        } else {
            self.repeats += 1;
        }
    }

    fn skipped(&mut self, skipped: SkippedRecord) {
        // An attacker who can shape a record must not be able to hide it: every record not
        // fully evaluated is named (its event id and fields are attacker-sized: bounded).
        tracing::warn!(
            bucket = %self.bucket,
            key = %self.key,
            record_index = skipped.record_index,
            event_id = %clean(skipped.event_id.as_deref().unwrap_or("unknown"), 128),
            event_name = %clean(skipped.event_name.as_deref().unwrap_or("unknown"), 128),
            reason = %clean(&skipped.reason, 512),
            "record skipped: not fully evaluated"
        );
    }

    fn suppressed(&mut self, suppression: Suppression) {
        // Which exception hid what, so a too-broad one shows in the log.
        let alert = &suppression.alert;
        tracing::info!(
            bucket = %self.bucket,
            key = %self.key,
            exception = %suppression.exception,
            rule_id = %alert.rule_id,
            event_id = %clean(alert.event_id.as_deref().unwrap_or("unknown"), 128),
            summary = %clean(&alert.summary, 512),
            "alert suppressed by exception"
        );
        self.exceptions.suppressed(&suppression.exception);
    }
}

fn fetch_failure(object: &ObjectRef, error: FetchError) -> ObjectOutcome {
    match error {
        FetchError::NotFound(detail) => {
            tracing::error!(bucket = %object.bucket, key = %object.key, %detail, "object not found; not retried");
            ObjectOutcome::Permanent(format!("not found: {detail}"))
        }
        FetchError::AccessDenied(detail) => {
            tracing::error!(
                bucket = %object.bucket, key = %object.key, %detail,
                "ACCESS DENIED reading the log object: the function's role needs s3:GetObject on \
                 this key and, when the trail is encrypted with SSE-KMS, kms:Decrypt on the trail's \
                 KMS key (and the key policy must allow the role). The object will be retried."
            );
            ObjectOutcome::Transient(format!(
                "access denied (needs s3:GetObject and, for SSE-KMS trails, kms:Decrypt): {detail}"
            ))
        }
        FetchError::Transient(detail) => {
            tracing::warn!(bucket = %object.bucket, key = %object.key, %detail, "fetch failed; will be retried");
            ObjectOutcome::Transient(detail)
        }
        FetchError::Permanent(detail) => {
            tracing::error!(bucket = %object.bucket, key = %object.key, %detail, "object cannot be fetched; not retried");
            ObjectOutcome::Permanent(detail)
        }
    }
}

fn log_summary(object: &ObjectRef, stats: &ScanStats, report: &ObjectReport, ms: u128) {
    tracing::info!(
        bucket = %object.bucket,
        key = %object.key,
        records = stats.records,
        skipped = stats.skipped_records,
        alerts = report.alerts_found,
        published = report.alerts_published,
        suppressed = report.alerts_suppressed,
        unconfirmed = report.alerts_unconfirmed,
        bytes = stats.decompressed_bytes,
        ms = ms as u64,
        "object processed"
    );
}

#[cfg(test)]
impl<S, K, D> Processor<S, K, D> {
    pub(crate) fn source_for_tests(&self) -> &S {
        &self.source
    }
    pub(crate) fn sink_for_tests(&self) -> &K {
        &self.sink
    }
    pub(crate) fn dedup_for_tests(&self) -> &D {
        &self.dedup
    }
}
