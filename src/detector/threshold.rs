//! Threshold ("in bulk") rules: counting distinct things one principal touches in a time window,
//! across records, log objects, regions and invocations.
//!
//! # How it fits
//!
//! A threshold rule judges one record like any other rule, and when the record is one of the
//! things it counts it returns a [`Finding`](crate::detector::rule::Finding) carrying a
//! [`ThresholdRequest`]: the counter (the rule id and the principal), the members this record
//! contributes (the secret ARNs it read, the instances it asked for), the window length and the
//! threshold. The engine turns it into an [`Alert`] marked *pending* ([`Alert::is_pending`]),
//! counted in [`ScanStats::pending`](crate::detector::ScanStats::pending) and not in `alerts`.
//!
//! Every adapter passes pending alerts through the same pure [`ThresholdGate`]: it names the
//! record's two window buckets ([`ThresholdGate::window_keys`]), the adapter adds the record's
//! members to each in its [`WindowStore`] (in memory for the CLI and tests, DynamoDB in the Lambda, see
//! `crate::lambda::window_store`), and [`ThresholdGate::settle`] releases the alert once the
//! distinct count of either bucket has reached the threshold, with the count in its summary and
//! details.
//! Alerts of other rules pass through untouched.
//!
//! # Window semantics
//!
//! - **Two overlapping fixed windows, aligned on `eventTime`** (hopping by half a window): a
//!   record at `t` counts in the aligned window `[t - t mod W, +W)` and in the half-shifted one
//!   that contains it (starts at `k·W + W/2`). Every span of `W/2` lies wholly inside one bucket,
//!   so `threshold` distinct members within any `W/2` always alert, wherever the window
//!   boundaries fall; members spread over more than `W` never add up. No clock is read:
//!   replaying old logs gives the same answer as live processing, and records may arrive in any
//!   order (CloudTrail delivers per region and account, typically within 5 to 15 minutes,
//!   sometimes later): a late record still lands in its own buckets.
//! - **Distinct members**: a principal re-reading the same secret does not count twice, so a fleet
//!   of instances sharing a role and reading the same few secrets never adds up.
//! - **Across files, regions and runs**: the counter key is the rule and the principal, not the
//!   file or region, so a burst spread over many log objects, regions or Lambda invocations adds
//!   up in one bucket (the CLI's store spans its whole scan; the Lambda's spans all invocations).
//! - **One alert per principal per aligned window**: whichever of its buckets reaches the
//!   threshold, a record releases under the dedup key `rule|principal|<aligned window start>`;
//!   the gate releases a key at most once in its lifetime (a CLI scan, a Lambda invocation) and
//!   the adapter's dedup (DynamoDB in the Lambda) makes it one across invocations too. A burst
//!   that overlaps two aligned windows may give one alert for each. The gate releases whenever the count is at or above the threshold, not only
//!   on the crossing record: a Lambda retry after a failed publish re-adds the same members (no
//!   change) and must still publish, which the dedup claim then makes exactly-once.
//! - **Blind spot**: a slow harvest that stays under the threshold in every span of `W/2` to `W`
//!   is not counted as one; windows are sized well above the bursts they target (tools read
//!   dozens of secrets in seconds).
//!
//! # Cost
//!
//! Records no rule wants never reach a rule, so never reach the store. A record a threshold rule
//! counts costs two store writes, one per bucket (two DynamoDB `UpdateItem` in the Lambda, whatever
//! the number of members it adds), and keeps its buckets' members (bounded by [`MAX_MEMBERS`]) until the bucket
//! expires ([`WindowKey::expires_at`]: the window's end plus [`LATE_RECORD_GRACE_SECS`]).

use crate::detector::alert::{Alert, bounded, bounded_key};
use crate::detector::calendar::{civil_from_days, days_from_civil};
use crate::detector::text::clean;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;

/// Most members a bucket keeps: beyond it the count saturates (every threshold is far below).
pub const MAX_MEMBERS: usize = 500;

/// How long a bucket outlives its window, for records delivered late (CloudTrail delivers most
/// within 15 minutes; a day also covers replays of a recent day).
pub const LATE_RECORD_GRACE_SECS: u64 = 24 * 3600;

/// Longest member kept verbatim; longer ones end in a hash of their tail.
pub const MAX_MEMBER_BYTES: usize = 256;

/// Most members one record contributes (a batch call names at most 20 secrets or 10 parameters;
/// a launch may ask for thousands of instances).
pub const MAX_MEMBERS_PER_RECORD: usize = 100;

/// What a threshold rule asks the gate to count for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdRequest {
    /// Who is counted: the principal (role ARN for role sessions, else the caller's ARN).
    pub subject: String,
    /// Sub-counter within the rule when one rule counts two kinds of things (else empty).
    pub counter: &'static str,
    /// The distinct things this record touched (secret ARNs, instance ids, ...).
    pub members: Vec<String>,
    /// What is counted, plural, for summaries: "Secrets Manager secrets".
    pub counts: &'static str,
    /// Distinct members in one window that release the alert.
    pub threshold: u32,
    /// Window length.
    pub window_minutes: u32,
    /// The record's `eventTime`, in Unix seconds.
    pub event_epoch: u64,
}

/// The threshold part of an alert: pending until the gate has counted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdState {
    /// The counter: `rule|principal` (plus a sub-counter when the rule has one).
    pub counter: String,
    /// Who is counted.
    pub subject: String,
    /// What is counted, plural.
    pub counts: String,
    /// The members this record contributed.
    pub members: Vec<String>,
    /// Distinct members that make a window fire.
    pub threshold: u32,
    /// How long one window lasts.
    pub window_minutes: u32,
    /// Start of the window, Unix seconds: the aligned window of the record while pending, the
    /// window that reached the threshold once released.
    pub window_start: u64,
    /// The record's `eventTime`, Unix seconds.
    pub event_epoch: u64,
    /// Distinct members in the window when released; `None` while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct: Option<u64>,
}

impl ThresholdState {
    /// The state of a fresh request raised by rule `rule_id`.
    pub fn pending(rule_id: &str, request: ThresholdRequest) -> Self {
        let window = u64::from(request.window_minutes.max(1)) * 60;
        let mut counter = format!("{rule_id}|{}", request.subject);
        if !request.counter.is_empty() {
            counter.push('|');
            counter.push_str(request.counter);
        }
        // Members come from request parameters an attacker shapes: bounded, so a full bucket
        // stays far under DynamoDB's item size limit.
        let mut members: Vec<String> = request
            .members
            .iter()
            .filter(|m| !m.is_empty())
            .map(|m| bounded(m, MAX_MEMBER_BYTES))
            .collect();
        members.sort();
        members.dedup();
        members.truncate(MAX_MEMBERS_PER_RECORD);
        ThresholdState {
            counter,
            subject: request.subject,
            counts: request.counts.to_owned(),
            members,
            threshold: request.threshold.max(1),
            window_minutes: request.window_minutes.max(1),
            window_start: request.event_epoch - request.event_epoch % window,
            event_epoch: request.event_epoch,
            distinct: None,
        }
    }
}

/// One bucket: a counter in one window.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowKey {
    /// `window|<counter>|<window start>`, bounded to fit a DynamoDB key.
    pub bucket: String,
    /// Start of the bucket's window, Unix seconds.
    pub start: u64,
    /// Unix seconds after which the bucket may be deleted (a DynamoDB TTL).
    pub expires_at: u64,
}

/// How many distinct members a bucket holds, before and after adding a record's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Distinct members in the window before this add.
    pub before: u64,
    /// Distinct members after it.
    pub after: u64,
}

/// Distinct members per bucket: the state threshold rules need, behind a port.
pub trait WindowStore {
    /// Why the store could not count.
    type Error;
    /// Adds `members` to the bucket atomically and says how many distinct members it held
    /// before and holds after (saturating at [`MAX_MEMBERS`]).
    fn add(&mut self, key: &WindowKey, members: &[String]) -> Result<WindowCount, Self::Error>;
}

/// The in-memory store: the CLI (across its whole scan) and tests.
#[derive(Debug, Default)]
pub struct MemoryWindowStore {
    buckets: HashMap<String, HashSet<String>>,
}

impl MemoryWindowStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl WindowStore for MemoryWindowStore {
    type Error = Infallible;
    fn add(&mut self, key: &WindowKey, members: &[String]) -> Result<WindowCount, Infallible> {
        let set = self.buckets.entry(key.bucket.clone()).or_default();
        let before = set.len() as u64;
        for member in members {
            if set.len() >= MAX_MEMBERS {
                break;
            }
            set.insert(member.clone());
        }
        Ok(WindowCount {
            before,
            after: set.len() as u64,
        })
    }
}

/// Releases pending threshold alerts: at most one per bucket in its lifetime (a CLI scan, a
/// Lambda invocation), once the bucket's distinct count has reached the threshold.
#[derive(Debug, Default)]
pub struct ThresholdGate {
    released: HashSet<String>,
}

impl ThresholdGate {
    /// A gate that has released nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The buckets a pending alert counts in (the aligned window and the half-shifted one that
    /// contain its `eventTime`); `None` for alerts that are not pending.
    pub fn window_keys(alert: &Alert) -> Option<[WindowKey; 2]> {
        let state = alert.threshold.as_ref().filter(|t| t.distinct.is_none())?;
        let window = u64::from(state.window_minutes) * 60;
        let half = window / 2;
        let t = state.event_epoch;
        let aligned = t - t % window;
        let shifted = (t + half) - (t + half) % window;
        let key = |start: u64| WindowKey {
            bucket: bounded_key(&format!("window|{}|{start}", state.counter)),
            start,
            expires_at: start + window + LATE_RECORD_GRACE_SECS,
        };
        Some([key(aligned), key(shifted.saturating_sub(half))])
    }

    /// Decides on a pending alert once its members are counted in each of its buckets: the
    /// released alert, or `None` while every bucket is under the threshold or when this gate
    /// already released the principal's aligned window.
    pub fn settle(
        &mut self,
        mut alert: Alert,
        counts: &[(WindowKey, WindowCount)],
    ) -> Option<Alert> {
        let state = alert.threshold.as_mut().filter(|t| t.distinct.is_none())?;
        // The fullest bucket; on a tie the aligned one (listed first).
        let (key, count) = counts
            .iter()
            .rev()
            .filter(|(_, c)| c.after >= u64::from(state.threshold))
            .max_by_key(|(_, c)| c.after)?;
        // One alert per principal per aligned window, whichever bucket reached the threshold.
        let dedup_key = bounded_key(&format!("{}|{}", state.counter, state.window_start));
        if !self.released.insert(dedup_key.clone()) {
            return None;
        }
        state.distinct = Some(count.after);
        state.window_start = key.start;
        let window_end = key.start + u64::from(state.window_minutes) * 60;
        alert.summary = clean(
            &format!(
                "{}: {} distinct {} within {} minutes ({} to {}), threshold {}",
                alert.summary,
                count.after,
                state.counts,
                state.window_minutes,
                format_epoch(key.start),
                format_epoch(window_end),
                state.threshold,
            ),
            600,
        );
        alert.dedup_key = dedup_key;
        Some(alert)
    }

    /// Passes an alert through the gate with a synchronous store: alerts of other rules as they
    /// are, pending ones counted and released or held back.
    pub fn admit<S: WindowStore>(
        &mut self,
        alert: Alert,
        store: &mut S,
    ) -> Result<Option<Alert>, S::Error> {
        let Some(keys) = Self::window_keys(&alert) else {
            return Ok(Some(alert));
        };
        let members = &alert.threshold.as_ref().expect("pending").members;
        let mut counts = Vec::with_capacity(keys.len());
        for key in keys {
            let count = store.add(&key, members)?;
            counts.push((key, count));
        }
        Ok(self.settle(alert, &counts))
    }
}

/// Parses a CloudTrail `eventTime` (`2024-07-31T12:36:52Z`; fractional seconds, a space for
/// `T` and a numeric offset are accepted) into Unix seconds; `None` when it is not a time.
pub fn parse_event_time(text: &str) -> Option<u64> {
    let b = text.trim().as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        b"" | b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let parse = |x: &[u8]| std::str::from_utf8(x).ok()?.parse::<i64>().ok();
            let minutes = parse(&[*h1, *h2])? * 60 + parse(&[*m1, *m2])?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset * 60;
    u64::try_from(secs).ok()
}

/// `2024-07-31T12:35:00Z` for Unix seconds.
pub fn format_epoch(epoch: u64) -> String {
    let secs = epoch % 86_400;
    let (year, month, day) = civil_from_days((epoch / 86_400) as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests;
