//! Named exceptions: known-good activity that must not alert, each with a reason, an owner and
//! an optional expiry. Applied by the engine to every alert before it leaves the detector.
//!
//! Semantics (see docs/configuration.md):
//! - every matcher an exception sets must match (AND); within one matcher, any listed value
//!   may match (OR);
//! - matchers on several values the alert names (resources, external accounts and
//!   organizations) require *every* named value to be covered, so one exception for a partner
//!   never hides a share with the partner *and* a stranger; an alert that names no such value
//!   is not matched;
//! - expiry is compared with the record's `eventTime`, never with a clock: replaying an old
//!   log gives the same verdicts. An exception whose expiry has passed (or whose record has no
//!   readable `eventTime`) stops suppressing, and the alert names it in `expired_exceptions`.

use crate::detector::alert::Alert;
use crate::detector::record::Record;
use core::net::IpAddr;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One named exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// Unique name: metrics and `--show-excepted` key on it.
    pub name: String,
    /// Why this activity is expected.
    pub reason: String,
    /// Who answers for it.
    pub owner: String,
    /// When it stops suppressing.
    pub expires: Option<Expiry>,
    /// What it matches.
    pub matchers: Matchers,
}

/// The conditions of an exception; empty sets and lists are "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matchers {
    /// Rule ids (`sigma-<id>` for Sigma rules).
    pub rules: BTreeSet<String>,
    /// The account the event happened in (`recipientAccountId`).
    pub accounts: BTreeSet<String>,
    /// `awsRegion`.
    pub regions: BTreeSet<String>,
    /// Globs over the caller's ARN or, for role sessions, the role's ARN (session issuer).
    pub actors: Vec<Glob>,
    /// `sourceIPAddress` within one of these networks (service names never match).
    pub source_ips: Vec<IpNet>,
    /// Globs over `userAgent`, case-insensitive.
    pub user_agents: Vec<Glob>,
    /// Globs that must cover every resource the alert names.
    pub resources: Vec<Glob>,
    /// External accounts and organizations that must cover every outsider the alert names.
    pub external_accounts: BTreeSet<String>,
    /// Organization ids (`o-...`) counted as covered outsiders.
    pub organizations: BTreeSet<String>,
}

impl Matchers {
    /// True when no matcher is set (such an exception would silence everything).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && self.accounts.is_empty()
            && self.regions.is_empty()
            && self.actors.is_empty()
            && self.source_ips.is_empty()
            && self.user_agents.is_empty()
            && self.resources.is_empty()
            && self.external_accounts.is_empty()
            && self.organizations.is_empty()
    }

    /// Whether the alert (raised on `record`) is covered by every set matcher.
    pub fn matches(&self, alert: &Alert, record: &Record<'_>) -> bool {
        (self.rules.is_empty() || self.rules.contains(&alert.rule_id))
            && (self.accounts.is_empty()
                || alert
                    .account_id
                    .as_ref()
                    .is_some_and(|a| self.accounts.contains(a)))
            && (self.regions.is_empty()
                || alert
                    .region
                    .as_ref()
                    .is_some_and(|r| self.regions.contains(r)))
            && (self.actors.is_empty() || self.actor_matches(alert))
            && (self.source_ips.is_empty() || self.source_ip_matches(alert))
            && (self.user_agents.is_empty()
                || alert
                    .actor
                    .user_agent
                    .as_deref()
                    .is_some_and(|ua| self.user_agents.iter().any(|g| g.matches(ua))))
            && (self.resources.is_empty() || self.resources_match(alert, record))
            && ((self.external_accounts.is_empty() && self.organizations.is_empty())
                || self.outsiders_match(alert))
    }

    fn actor_matches(&self, alert: &Alert) -> bool {
        [&alert.actor.arn, &alert.actor.session_issuer_arn]
            .into_iter()
            .flatten()
            .any(|arn| self.actors.iter().any(|g| g.matches(arn)))
    }

    fn source_ip_matches(&self, alert: &Alert) -> bool {
        let Some(ip) = alert
            .actor
            .source_ip
            .as_deref()
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
        else {
            return false;
        };
        self.source_ips.iter().any(|net| net.contains(&ip))
    }

    fn resources_match(&self, alert: &Alert, record: &Record<'_>) -> bool {
        let named = named_resources(alert, record);
        !named.is_empty()
            && named
                .iter()
                .all(|r| self.resources.iter().any(|g| g.matches(r)))
    }

    fn outsiders_match(&self, alert: &Alert) -> bool {
        if alert.details.get("public").and_then(|v| v.as_bool()) == Some(true) {
            return false;
        }
        let accounts = string_list(alert.details.get("external_accounts"));
        let organizations = string_list(alert.details.get("organizations"));
        (!accounts.is_empty() || !organizations.is_empty())
            && accounts.iter().all(|a| self.external_accounts.contains(*a))
            && organizations
                .iter()
                .all(|o| self.organizations.contains(*o))
    }
}

/// The resources an alert names: `details.resource`, `details.bucket`, `details.arn`, and the
/// ARNs in the record's `resources` array.
pub fn named_resources(alert: &Alert, record: &Record<'_>) -> Vec<String> {
    #[derive(Deserialize)]
    struct Resource {
        #[serde(rename = "ARN")]
        arn: Option<String>,
    }
    let mut named: Vec<String> = ["resource", "bucket", "arn"]
        .into_iter()
        .filter_map(|key| alert.details.get(key).and_then(|v| v.as_str()))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Ok(Some(resources)) = record.resources::<Vec<Resource>>() {
        named.extend(resources.into_iter().filter_map(|r| r.arn));
    }
    named.sort();
    named.dedup();
    named
}

fn string_list(value: Option<&serde_json::Value>) -> Vec<&str> {
    match value {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|v| v.as_str()).collect(),
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

/// A `*`/`?` wildcard pattern (`*` crosses `/` and `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    case_insensitive: bool,
}

impl Glob {
    /// A case-sensitive glob.
    pub fn new(pattern: &str) -> Self {
        Glob {
            pattern: pattern.to_owned(),
            case_insensitive: false,
        }
    }

    /// A glob that ignores ASCII case.
    pub fn case_insensitive(pattern: &str) -> Self {
        Glob {
            pattern: pattern.to_ascii_lowercase(),
            case_insensitive: true,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// True when `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        if self.case_insensitive {
            wildcard(
                self.pattern.as_bytes(),
                text.to_ascii_lowercase().as_bytes(),
            )
        } else {
            wildcard(self.pattern.as_bytes(), text.as_bytes())
        }
    }
}

/// Iterative wildcard match with single-star backtracking: linear in practice, no recursion.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// When an exception stops suppressing: events at or after `not_after_epoch` are not covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// As written in the configuration.
    pub text: String,
    /// First second (Unix time, UTC) no longer covered.
    pub ends_at: i64,
}

impl Expiry {
    /// Parses `YYYY-MM-DD` (covered through the end of that day, UTC) or an RFC 3339
    /// timestamp (covered strictly before it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let ends_at = if trimmed.len() == 10 {
            parse_date(trimmed).map(|day| (day + 1) * 86_400)
        } else {
            parse_timestamp(trimmed)
        }
        .ok_or_else(|| {
            format!(
                "{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 timestamp (2026-12-31T18:00:00Z)"
            )
        })?;
        Ok(Expiry {
            text: trimmed.to_owned(),
            ends_at,
        })
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i64 = digits(&s[0..4])?;
    let month: i64 = digits(&s[5..7])?;
    let day: i64 = digits(&s[8..10])?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month[(month - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn digits(s: &str) -> Option<i64> {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, as CloudTrail writes `eventTime`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() < 20 || !matches!(s.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let day = parse_date(&s[0..10])?;
    let b = s.as_bytes();
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (
        digits(&s[11..13])?,
        digits(&s[14..16])?,
        digits(&s[17..19])?,
    );
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (digits(&rest[1..3])? * 3600 + digits(&rest[4..6])? * 60)
        }
        _ => return None,
    };
    Some(day * 86_400 + h * 3600 + m * 60 + sec - offset)
}

/// An exception that matched an alert but had expired for the record's `eventTime`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiredException {
    /// The exception's name, as written in the tuning file.
    pub name: String,
    /// Who asked for it, to be asked again.
    pub owner: String,
    /// Its expiry as written in the tuning file (a date, or a timestamp).
    pub expires: String,
}

/// What the exceptions say about one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionVerdict {
    /// No exception matches.
    None,
    /// Suppressed by the exception at this index.
    Suppressed(usize),
    /// Only expired exceptions match: the alert goes out and names them.
    Expired(Vec<ExpiredException>),
}

/// The first live exception matching the alert, else the expired ones that matched.
pub fn judge(exceptions: &[Exception], alert: &Alert, record: &Record<'_>) -> ExceptionVerdict {
    let event_time = record.event_time.as_deref().and_then(parse_timestamp);
    let mut expired = Vec::new();
    for (i, exception) in exceptions.iter().enumerate() {
        if !exception.matchers.matches(alert, record) {
            continue;
        }
        match &exception.expires {
            None => return ExceptionVerdict::Suppressed(i),
            Some(expiry) if event_time.is_some_and(|t| t < expiry.ends_at) => {
                return ExceptionVerdict::Suppressed(i);
            }
            Some(expiry) => expired.push(ExpiredException {
                name: exception.name.clone(),
                owner: exception.owner.clone(),
                expires: expiry.text.clone(),
            }),
        }
    }
    if expired.is_empty() {
        ExceptionVerdict::None
    } else {
        ExceptionVerdict::Expired(expired)
    }
}

#[cfg(test)]
mod tests;
