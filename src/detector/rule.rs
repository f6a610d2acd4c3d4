//! What a rule is: its metadata, the events it wants, and the finding it returns.

use crate::detector::record::Record;
use crate::detector::threshold::ThresholdRequest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Alert severity, ordered from `Info` to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; no action expected.
    Info,
    /// Review when convenient.
    Low,
    /// Review the same day.
    Medium,
    /// Likely attack activity: review now.
    High,
    /// Active compromise or loss of logging: page someone.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name used in alerts, flags and environment variables.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown severity {s:?}: expected one of info, low, medium, high, critical")
            })
    }
}

/// One MITRE ATT&CK mapping: a technique under a tactic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Attack {
    /// ATT&CK tactic id, e.g. `TA0010`.
    pub tactic_id: &'static str,
    /// ATT&CK tactic name.
    pub tactic_name: &'static str,
    /// ATT&CK technique id, e.g. `T1537`.
    pub technique_id: &'static str,
    /// ATT&CK technique name.
    pub technique_name: &'static str,
}

impl Attack {
    /// The technique's page on attack.mitre.org (sub-techniques as `T1098/001`).
    pub fn technique_url(&self) -> String {
        format!(
            "https://attack.mitre.org/techniques/{}/",
            self.technique_id.replace('.', "/")
        )
    }
}

/// The published detection a rule implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SourceRule {
    /// Whose rule it is (Panther, Elastic, Sigma, Datadog, ...).
    pub vendor: &'static str,
    /// The rule's published name.
    pub name: &'static str,
    /// The rule's published id or path, to find it again.
    pub id: &'static str,
}

/// How a rule matches `eventName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NameMatch {
    /// Exactly this `eventName`.
    Exact(&'static str),
    /// Versioned API names such as Lambda's `AddPermission20150331v2`.
    Prefix(&'static str),
    /// Any event whose `userIdentity.type` is this (root activity); the source is
    /// [`EventSelector::ANY_SOURCE`].
    AnyEventByIdentityType(&'static str),
}

/// One (eventSource, eventName) a rule is interested in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventSelector {
    /// The `eventSource` the rule reads.
    pub source: &'static str,
    /// Which `eventName`s under it.
    pub name: NameMatch,
}

impl EventSelector {
    /// The source of selectors that route by caller identity rather than by event.
    pub const ANY_SOURCE: &'static str = "*";

    /// Selects `source` + exactly `name`.
    pub const fn exact(source: &'static str, name: &'static str) -> Self {
        EventSelector {
            source,
            name: NameMatch::Exact(name),
        }
    }

    /// Selects `source` + any name starting with `prefix`.
    pub const fn prefix(source: &'static str, prefix: &'static str) -> Self {
        EventSelector {
            source,
            name: NameMatch::Prefix(prefix),
        }
    }

    /// Selects every event made by a caller of this `userIdentity.type` (e.g. `Root`): records
    /// of other callers still cost one lookup and reach no rule.
    pub const fn any_event_by_identity_type(identity_type: &'static str) -> Self {
        EventSelector {
            source: Self::ANY_SOURCE,
            name: NameMatch::AnyEventByIdentityType(identity_type),
        }
    }
}

/// Everything about a rule but its logic.
#[derive(Debug, Clone, Serialize)]
pub struct RuleMeta {
    /// Stable id: other tools and dashboards key on it.
    pub id: &'static str,
    /// One-line title, also the alert's and the subject's.
    pub title: &'static str,
    /// What the rule detects and why it matters, for `trailwatch rules`.
    pub description: &'static str,
    /// Default severity of its alerts.
    pub severity: Severity,
    /// Default 0-100 risk score of its alerts.
    pub risk_score: u8,
    /// ATT&CK techniques it maps to.
    pub mitre_attack: &'static [Attack],
    /// AWS documentation and published rules behind it.
    pub references: &'static [&'static str],
    /// Known benign causes.
    pub false_positives: &'static [&'static str],
    /// First triage steps.
    pub triage: &'static [&'static str],
    /// Repeats of the same dedup key within this window are one alert.
    pub dedup_period_minutes: u32,
    /// The published rule it follows.
    pub implements: SourceRule,
    /// Where we deliberately differ from, or go beyond, the published rule.
    pub notes: &'static [&'static str],
    /// The calls it reads: the engine's index routes only these records to it.
    pub events: &'static [EventSelector],
    /// Whether the rule sees calls that CloudTrail recorded as failed (`errorCode`).
    pub failed_calls: FailedCalls,
}

/// What the engine does with a record of a failed call before asking a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedCalls {
    /// A failed call changed nothing: the rule never sees it.
    Ignore,
    /// An attempt is news too (probing defenses): the rule sees it and decides, usually at a
    /// lower severity with the error in the summary.
    Evaluate,
}

/// What a rule reports about one record; the engine turns it into an [`Alert`](crate::detector::alert::Alert).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// One readable sentence.
    pub summary: String,
    /// Rule-specific facts for triage (resource, external accounts, public, ...).
    pub details: serde_json::Value,
    /// The parts that make two findings "the same" within the dedup period.
    pub dedup_parts: Vec<String>,
    /// Overrides the rule's severity for this finding (a failed attempt, a public share).
    pub severity: Option<Severity>,
    /// For threshold rules: what this record adds to a count; the alert is pending until the
    /// count reaches the threshold (see [`crate::detector::threshold`]).
    pub threshold: Option<ThresholdRequest>,
}

impl Finding {
    /// A finding at the rule's own severity.
    pub fn new(summary: String, details: serde_json::Value, dedup_parts: Vec<String>) -> Self {
        Finding {
            summary,
            details,
            dedup_parts,
            severity: None,
            threshold: None,
        }
    }

    /// The same finding as one count towards a threshold: pending until the gate releases it.
    pub fn counted(mut self, request: ThresholdRequest) -> Self {
        self.threshold = Some(request);
        self
    }

    /// The same finding at another severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
}

/// Why a record routed to a rule could not be judged. The engine counts the record as skipped
/// and reports it: an attacker who can shape parameters must not hide an event by breaking them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unevaluable {
    /// A part the rule needs is absent or null (CloudTrail omits some large requests).
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A part is present but not in the documented shape, or too deeply nested to read.
    #[error("{field} could not be read: {reason}")]
    Malformed {
        /// The record field, e.g. `requestParameters`.
        field: &'static str,
        /// What was wrong with it.
        reason: String,
    },
}

impl Unevaluable {
    /// A malformed `field`, with the reason.
    pub fn malformed(field: &'static str, reason: impl fmt::Display) -> Self {
        Unevaluable::Malformed {
            field,
            reason: reason.to_string(),
        }
    }
}

/// A rule's answer for one record: a finding, nothing, or "could not be judged".
pub type Verdict = Result<Option<Finding>, Unevaluable>;

/// What rules may read besides the record.
#[derive(Debug, Clone, Default)]
pub struct RuleContext {
    /// Accounts configured as trusted (partners, the organization's own).
    pub trusted_accounts: BTreeSet<String>,
    /// Organization ids (`o-...`) or OU paths (`o-.../r-.../ou-...`) whose members are trusted.
    /// Empty means no organization is known to be ours: organization-wide grants are then
    /// reported in details but do not alert on their own (we cannot tell ours from another).
    pub trusted_organizations: BTreeSet<String>,
}

impl RuleContext {
    /// True for the account that owns the resource or a trusted account.
    pub fn is_internal(&self, account: &str, owner: Option<&str>) -> bool {
        owner == Some(account) || self.trusted_accounts.contains(account)
    }

    /// True when organizations are judged: some trusted organization is configured.
    pub fn judges_organizations(&self) -> bool {
        !self.trusted_organizations.is_empty()
    }

    /// True when an organization id or path (as written in `aws:PrincipalOrgPaths`, possibly
    /// ending in `/*`) lies inside a trusted organization or OU. With no trusted organization
    /// configured every organization counts as internal (see `trusted_organizations`).
    pub fn is_trusted_organization(&self, org: &str) -> bool {
        if !self.judges_organizations() {
            return true;
        }
        let scope = org_scope(org);
        if scope.is_empty() {
            return false;
        }
        self.trusted_organizations.iter().any(|trusted| {
            let trusted = org_scope(trusted);
            scope == trusted
                || (scope.len() > trusted.len()
                    && scope.starts_with(trusted)
                    && scope.as_bytes()[trusted.len()] == b'/')
        })
    }
}

/// The fixed part of an organization id or path: up to the first segment holding a wildcard,
/// without trailing slashes (`o-a/r-b/ou-c/*` is `o-a/r-b/ou-c`, `o-a/*/ou-c` is `o-a`).
fn org_scope(org: &str) -> &str {
    let org = org.trim();
    let mut end = 0;
    for (i, segment) in org.split('/').enumerate() {
        if segment.is_empty() || segment.contains(['*', '?']) {
            break;
        }
        end = if i == 0 {
            segment.len()
        } else {
            end + 1 + segment.len()
        };
    }
    &org[..end]
}

/// A detection rule. Implementations live one per file under `rules/`.
pub trait Rule: Sync + Send {
    /// The rule's metadata.
    fn meta(&self) -> &'static RuleMeta;
    /// Examines one record the index routed here: `Ok(None)` when it is not a finding,
    /// `Err` when the record lacks or garbles what the rule must read to decide.
    fn evaluate(&self, record: &Record<'_>, ctx: &RuleContext) -> Verdict;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn organizations_and_ou_paths_are_trusted_by_prefix() {
        let mut ctx = RuleContext::default();
        assert!(
            ctx.is_trusted_organization("o-anything"),
            "no zone configured"
        );
        ctx.trusted_organizations = [
            "o-mine".to_string(),
            "o-partner/r-ab12/ou-ab12-1111".to_string(),
        ]
        .into();
        assert!(ctx.is_trusted_organization("o-mine"));
        assert!(ctx.is_trusted_organization("o-mine/*"));
        assert!(ctx.is_trusted_organization("o-mine/r-1/ou-2/*"));
        assert!(!ctx.is_trusted_organization("o-minety"));
        assert!(!ctx.is_trusted_organization("o-other"));
        assert!(!ctx.is_trusted_organization("*"));
        assert!(ctx.is_trusted_organization("o-partner/r-ab12/ou-ab12-1111/ou-ab12-2222/"));
        // Broader than the trusted OU: the whole partner organization.
        assert!(!ctx.is_trusted_organization("o-partner/*"));
        assert!(!ctx.is_trusted_organization("o-partner/r-ab12/*/ou-ab12-1111"));
    }

    #[test]
    fn subtechnique_url() {
        let a = Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1098.001",
            technique_name: "Additional Cloud Credentials",
        };
        assert_eq!(
            a.technique_url(),
            "https://attack.mitre.org/techniques/T1098/001/"
        );
    }
}
