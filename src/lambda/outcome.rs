//! What became of an object and of an invocation: the handler produces these, the metrics count
//! them and each event source's response ([`super::events`]) is built from them.

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectOutcome {
    /// Scanned to the end; alerts published (or already published before).
    Scanned(ObjectReport),
    /// Acknowledged without reading (digest, Insight, non-log key, empty object).
    Skipped(String),
    /// Cannot succeed on retry (missing, not a CloudTrail log, corrupt, too large); alerts from
    /// the readable part were still published.
    Permanent(String),
    /// Must be retried (throttling, 5xx, access denied, a publish that failed).
    Transient(String),
}

impl ObjectOutcome {
    /// True when the object must come back for a retry.
    pub fn is_transient(&self) -> bool {
        matches!(self, ObjectOutcome::Transient(_))
    }
}

/// Counts for one scanned object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectReport {
    pub records: u64,
    pub skipped_records: u64,
    pub alerts_found: u64,
    pub alerts_published: u64,
    pub alerts_suppressed: u64,
    /// Published, but the dedup table was not told after retries.
    pub alerts_unconfirmed: u64,
    pub decompressed_bytes: u64,
    /// What each exception suppressed (or matched after expiry) in this object.
    pub exceptions: crate::lambda::tuning_metrics::ExceptionTally,
}
