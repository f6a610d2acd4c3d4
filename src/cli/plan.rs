//! Which S3 prefixes hold the CloudTrail logs a hunt asks for: a pure planner over CloudTrail's
//! key layout, `[PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE`, so that
//! `trailwatch scan s3://...` and `trailwatch backfill` list only the days, accounts and regions
//! asked for. Levels not pinned by the selection are discovered by the caller listing them with
//! delimiter `/` (the planner says which prefix to list and reads the answer); it does no I/O.
//!
//! CloudTrail files an object under the UTC day it was *delivered*, which can be a few minutes
//! after the `eventTime` of its last record: a record from 23:58 may sit in the next day's folder.

use crate::detector::arn::is_account_id;
use crate::detector::calendar::{civil_from_days, days_from_civil};
use crate::detector::engine::{parse_accounts, split_list};
use std::collections::BTreeSet;

/// A bad `s3://` location or selection flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Not `s3://bucket[/prefix]`.
    #[error("{0:?} is not an S3 location (s3://bucket/prefix)")]
    NotS3Url(String),
    /// Not `YYYY-MM-DD`.
    #[error("{flag}: {value:?} is not a date (YYYY-MM-DD, UTC)")]
    BadDate { flag: &'static str, value: String },
    /// `--since` after `--until`.
    #[error("--since {since} is after --until {until}")]
    EmptyRange { since: Day, until: Day },
    /// `--until` without `--since`: the first day is unknown.
    #[error("--until needs --since (the first day to scan)")]
    UntilWithoutSince,
    /// `--accounts` holds something other than 12-digit ids.
    #[error("--accounts: {0}")]
    BadAccount(String),
    /// `--regions` holds something that is not a region name.
    #[error("--regions: {0:?} is not a region name (such as us-east-1)")]
    BadRegion(String),
}

/// A bucket and a key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Reads `s3://bucket[/prefix]`; a prefix is read as whole path segments (`a/b` means `a/b/`).
pub fn parse_s3_url(text: &str) -> Result<S3Location, PlanError> {
    let rest = text
        .strip_prefix("s3://")
        .ok_or_else(|| PlanError::NotS3Url(text.to_owned()))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid_bucket || prefix.starts_with('/') || prefix.contains("//") {
        return Err(PlanError::NotS3Url(text.to_owned()));
    }
    let mut prefix = prefix.to_owned();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok(S3Location {
        bucket: bucket.to_owned(),
        prefix,
    })
}

/// A UTC calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    /// Days since 1970-01-01.
    days: i64,
}

impl Day {
    /// Reads `YYYY-MM-DD`; `flag` names the option in the error.
    pub fn parse(value: &str, flag: &'static str) -> Result<Day, PlanError> {
        let bad = || PlanError::BadDate {
            flag,
            value: value.to_owned(),
        };
        let parts: Vec<&str> = value.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let number = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse::<i64>().ok())
                .flatten()
        };
        let (Some(year), Some(month), Some(day)) = (number(y), number(m), number(d)) else {
            return Err(bad());
        };
        let days = days_from_civil(year, month, day);
        // Out-of-range months and days (2024-02-30) do not round-trip.
        if !(1..=12).contains(&month) || civil_from_days(days) != (year, month, day) {
            return Err(bad());
        }
        Ok(Day { days })
    }

    /// The day of a Unix time in seconds (UTC).
    pub fn from_unix_seconds(seconds: i64) -> Day {
        Day {
            days: seconds.div_euclid(86_400),
        }
    }

    /// `YYYY/MM/DD/`, as CloudTrail writes it in keys.
    pub fn key_path(self) -> String {
        let (y, m, d) = civil_from_days(self.days);
        format!("{y:04}/{m:02}/{d:02}/")
    }

    fn next(self) -> Day {
        Day {
            days: self.days + 1,
        }
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = civil_from_days(self.days);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// What to scan: days (inclusive, UTC), accounts and regions; `None` means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub days: Option<(Day, Day)>,
    pub accounts: Option<BTreeSet<String>>,
    pub regions: Option<BTreeSet<String>>,
}

impl Selection {
    /// Builds a selection from the flags' text; `today` closes a range given `--since` alone.
    pub fn from_flags(
        since: Option<&str>,
        until: Option<&str>,
        accounts: Option<&str>,
        regions: Option<&str>,
        today: Day,
    ) -> Result<Selection, PlanError> {
        let days = match (since, until) {
            (None, None) => None,
            (None, Some(_)) => return Err(PlanError::UntilWithoutSince),
            (Some(since), until) => {
                let since = Day::parse(since, "--since")?;
                let until = match until {
                    Some(until) => Day::parse(until, "--until")?,
                    None => today,
                };
                if since > until {
                    return Err(PlanError::EmptyRange { since, until });
                }
                Some((since, until))
            }
        };
        let accounts = accounts
            .map(|list| parse_accounts(list).map_err(|e| PlanError::BadAccount(e.to_string())))
            .transpose()?;
        let regions = regions
            .map(|list| {
                split_list(list)
                    .map(|r| {
                        if is_region_name(r) {
                            Ok(r.to_owned())
                        } else {
                            Err(PlanError::BadRegion(r.to_owned()))
                        }
                    })
                    .collect::<Result<BTreeSet<String>, PlanError>>()
            })
            .transpose()?;
        Ok(Selection {
            days,
            accounts,
            regions,
        })
    }

    fn wants_account(&self, account: &str) -> bool {
        self.accounts.as_ref().is_none_or(|a| a.contains(account))
    }

    fn wants_region(&self, region: &str) -> bool {
        self.regions.as_ref().is_none_or(|r| r.contains(region))
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`: lower-case words, then a number.
fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// Organization folders of an organization trail: `o-` and 10 to 32 lower-case letters or digits.
fn is_organization_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|id| {
        (10..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// A point in the layout, as a key prefix ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `…AWSLogs/`: holds organization folders and account folders.
    AwsLogs(String),
    /// `…AWSLogs/o-ORGID/`: holds account folders.
    Organization(String),
    /// `…ACCOUNT/CloudTrail/`: holds region folders.
    Regions(String),
    /// `…CloudTrail/REGION/` and, when the location named one, the date path below it
    /// (`2024/` or `2024/08/`, empty otherwise).
    Region { prefix: String, below: String },
    /// Everything under this prefix is listed (a day, or a whole region without dates).
    Leaf(String),
}

/// What to do with a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// List this prefix with delimiter `/` and hand the common prefixes to [`Planner::children`].
    Discover(String),
    /// The children are known without a listing.
    Children(Vec<Node>),
    /// List every object under this prefix.
    ListObjects(String),
}

/// Turns a location and a selection into the prefixes to list.
#[derive(Debug, Clone)]
pub struct Planner {
    selection: Selection,
}

impl Planner {
    /// A planner for `selection`.
    pub fn new(selection: Selection) -> Planner {
        Planner { selection }
    }

    /// Where a location sits in the layout. A location above `AWSLogs/` is taken as the trail's
    /// key prefix; one that names an account outside `--accounts` (or a region outside
    /// `--regions`) selects nothing.
    pub fn root(&self, location: &S3Location) -> Option<Node> {
        let segments: Vec<&str> = location
            .prefix
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let Some(logs) = segments.iter().position(|s| *s == "AWSLogs") else {
            return Some(Node::AwsLogs(format!("{}AWSLogs/", location.prefix)));
        };
        let join = |n: usize| {
            let mut p = segments[..n].join("/");
            p.push('/');
            p
        };
        let mut i = logs + 1;
        if i == segments.len() {
            return Some(Node::AwsLogs(join(i)));
        }
        if is_organization_id(segments[i]) {
            i += 1;
            if i == segments.len() {
                return Some(Node::Organization(join(i)));
            }
        }
        let account = segments[i];
        if !self.selection.wants_account(account) {
            return None;
        }
        i += 1;
        if i == segments.len() {
            return Some(Node::Regions(format!("{}CloudTrail/", join(i))));
        }
        if segments[i] != "CloudTrail" {
            // CloudTrail-Digest, CloudTrail-Insight or something else: not management events.
            return Some(Node::Leaf(location.prefix.clone()));
        }
        i += 1;
        if i == segments.len() {
            return Some(Node::Regions(join(i)));
        }
        if !self.selection.wants_region(segments[i]) {
            return None;
        }
        i += 1;
        let prefix = join(i);
        let below = location.prefix[prefix.len()..].to_owned();
        Some(Node::Region { prefix, below })
    }

    /// What a node needs: a listing, known children, or an object listing.
    pub fn step(&self, node: &Node) -> Step {
        match node {
            Node::AwsLogs(prefix) => Step::Discover(prefix.clone()),
            Node::Organization(prefix) => match &self.selection.accounts {
                Some(accounts) => Step::Children(
                    accounts
                        .iter()
                        .map(|a| Node::Regions(format!("{prefix}{a}/CloudTrail/")))
                        .collect(),
                ),
                None => Step::Discover(prefix.clone()),
            },
            Node::Regions(prefix) => match &self.selection.regions {
                Some(regions) => Step::Children(
                    regions
                        .iter()
                        .map(|r| Node::Region {
                            prefix: format!("{prefix}{r}/"),
                            below: String::new(),
                        })
                        .collect(),
                ),
                None => Step::Discover(prefix.clone()),
            },
            Node::Region { prefix, below } => match self.selection.days {
                None => Step::ListObjects(format!("{prefix}{below}")),
                Some((since, until)) => {
                    let mut days = Vec::new();
                    let mut day = since;
                    while day <= until {
                        let path = day.key_path();
                        // The location may name a year, a month, a day or a single object.
                        if path.starts_with(below.as_str()) {
                            days.push(Node::Leaf(format!("{prefix}{path}")));
                        } else if below.starts_with(path.as_str()) {
                            days.push(Node::Leaf(format!("{prefix}{below}")));
                        }
                        day = day.next();
                    }
                    Step::Children(days)
                }
            },
            Node::Leaf(prefix) => Step::ListObjects(prefix.clone()),
        }
    }

    /// The children of a node listed with delimiter `/`, from its common prefixes (full keys
    /// ending in `/`); folders that are not part of the layout, or not selected, are left out.
    pub fn children(&self, node: &Node, common_prefixes: &[String]) -> Vec<Node> {
        let names = common_prefixes.iter().filter_map(|p| {
            let parent = match node {
                Node::AwsLogs(p) | Node::Organization(p) | Node::Regions(p) => p,
                _ => return None,
            };
            let name = p.strip_prefix(parent.as_str())?.strip_suffix('/')?;
            (!name.is_empty() && !name.contains('/')).then_some((p, name))
        });
        match node {
            Node::AwsLogs(_) => names
                .filter_map(|(p, name)| {
                    if is_organization_id(name) {
                        Some(Node::Organization(p.clone()))
                    } else if is_account_id(name) && self.selection.wants_account(name) {
                        Some(Node::Regions(format!("{p}CloudTrail/")))
                    } else {
                        None
                    }
                })
                .collect(),
            Node::Organization(_) => names
                .filter(|(_, name)| is_account_id(name) && self.selection.wants_account(name))
                .map(|(p, _)| Node::Regions(format!("{p}CloudTrail/")))
                .collect(),
            Node::Regions(_) => names
                .filter(|(_, name)| is_region_name(name) && self.selection.wants_region(name))
                .map(|(p, _)| Node::Region {
                    prefix: p.clone(),
                    below: String::new(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Walks the layout from `location`, calling `list_folders(prefix)` (a delimiter listing
    /// returning common prefixes) where a level must be discovered; returns the prefixes whose
    /// objects are to be listed, sorted, each once.
    pub fn plan<E>(
        &self,
        location: &S3Location,
        mut list_folders: impl FnMut(&str) -> Result<Vec<String>, E>,
    ) -> Result<Vec<String>, E> {
        let mut leaves = BTreeSet::new();
        let mut pending: Vec<Node> = self.root(location).into_iter().collect();
        while let Some(node) = pending.pop() {
            match self.step(&node) {
                Step::ListObjects(prefix) => {
                    leaves.insert(prefix);
                }
                Step::Children(children) => pending.extend(children),
                Step::Discover(prefix) => {
                    let folders = list_folders(&prefix)?;
                    pending.extend(self.children(&node, &folders));
                }
            }
        }
        Ok(leaves.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
