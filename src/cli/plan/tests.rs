//! Tests for `plan`.

use super::*;
use std::cell::RefCell;
use std::convert::Infallible;

fn day(s: &str) -> Day {
    Day::parse(s, "--since").unwrap()
}

fn selection(
    since: Option<&str>,
    until: Option<&str>,
    accounts: Option<&str>,
    regions: Option<&str>,
) -> Selection {
    Selection::from_flags(since, until, accounts, regions, day("2024-08-31")).unwrap()
}

/// A bucket as a set of keys; answers delimiter listings and records each one.
struct FakeBucket {
    keys: Vec<&'static str>,
    listed: RefCell<Vec<String>>,
}

impl FakeBucket {
    fn new(keys: &[&'static str]) -> Self {
        FakeBucket {
            keys: keys.to_vec(),
            listed: RefCell::new(Vec::new()),
        }
    }

    fn folders(&self, prefix: &str) -> Result<Vec<String>, Infallible> {
        self.listed.borrow_mut().push(prefix.to_owned());
        let set: BTreeSet<String> = self
            .keys
            .iter()
            .filter_map(|k| {
                let rest = k.strip_prefix(prefix)?;
                let (folder, _) = rest.split_once('/')?;
                Some(format!("{prefix}{folder}/"))
            })
            .collect();
        Ok(set.into_iter().collect())
    }

    fn plan(&self, url: &str, selection: Selection) -> Vec<String> {
        let Ok(leaves) =
            Planner::new(selection).plan(&parse_s3_url(url).unwrap(), |p| self.folders(p));
        leaves
    }
}

const SINGLE: &[&str] = &[
    "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/a.json.gz",
    "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/02/b.json.gz",
    "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/08/01/d.json.gz",
    "AWSLogs/444455556666/CloudTrail/us-east-1/2024/08/01/c.json.gz",
];

#[test]
fn dates_pin_the_day_folders_and_the_rest_is_discovered() {
    let bucket = FakeBucket::new(SINGLE);
    let leaves = bucket.plan(
        "s3://trail-bucket",
        selection(Some("2024-07-31"), Some("2024-08-01"), None, None),
    );
    assert_eq!(
        leaves,
        vec![
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/07/31/",
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/01/",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/",
            "AWSLogs/444455556666/CloudTrail/us-east-1/2024/07/31/",
            "AWSLogs/444455556666/CloudTrail/us-east-1/2024/08/01/",
        ]
    );
    // One listing per discovered level, none of a day folder or of the digest folder.
    let mut listed = bucket.listed.borrow().clone();
    listed.sort();
    assert_eq!(
        listed,
        vec![
            "AWSLogs/",
            "AWSLogs/111122223333/CloudTrail/",
            "AWSLogs/444455556666/CloudTrail/",
        ]
    );
}

#[test]
fn accounts_and_regions_given_need_only_the_top_listing() {
    let bucket = FakeBucket::new(SINGLE);
    let leaves = bucket.plan(
        "s3://trail-bucket/",
        selection(
            Some("2024-08-02"),
            Some("2024-08-02"),
            Some("111122223333"),
            Some("eu-west-1"),
        ),
    );
    assert_eq!(
        leaves,
        vec!["AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/02/"]
    );
    assert_eq!(*bucket.listed.borrow(), vec!["AWSLogs/"]);
}

#[test]
fn organization_trails_have_a_folder_per_organization() {
    let bucket = FakeBucket::new(&[
        "trails/AWSLogs/o-aa11bb22cc/111122223333/CloudTrail/us-east-1/2024/08/01/a.json.gz",
        "trails/AWSLogs/o-aa11bb22cc/444455556666/CloudTrail/ap-south-1/2024/08/01/b.json.gz",
        "trails/AWSLogs/o-aa11bb22cc/777788889999/CloudTrail/us-east-1/2024/08/01/c.json.gz",
        "trails/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/old.json.gz",
    ]);
    let leaves = bucket.plan(
        "s3://trail-bucket/trails",
        selection(
            Some("2024-08-01"),
            Some("2024-08-01"),
            Some("111122223333,444455556666"),
            None,
        ),
    );
    assert_eq!(
        leaves,
        vec![
            "trails/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/",
            "trails/AWSLogs/o-aa11bb22cc/111122223333/CloudTrail/us-east-1/2024/08/01/",
            "trails/AWSLogs/o-aa11bb22cc/444455556666/CloudTrail/ap-south-1/2024/08/01/",
        ]
    );
    // With --accounts the organization folder's accounts are not listed.
    assert!(
        !bucket
            .listed
            .borrow()
            .contains(&"trails/AWSLogs/o-aa11bb22cc/".to_owned())
    );
}

#[test]
fn a_location_inside_the_layout_starts_there() {
    let bucket = FakeBucket::new(SINGLE);
    let leaves = bucket.plan(
        "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08",
        selection(Some("2024-07-30"), Some("2024-08-02"), None, None),
    );
    assert_eq!(
        leaves,
        vec![
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/02/",
        ]
    );
    assert!(bucket.listed.borrow().is_empty());
    // Without dates the whole named prefix is listed.
    let leaves = bucket.plan(
        "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08",
        Selection::default(),
    );
    assert_eq!(
        leaves,
        vec!["AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/"]
    );
    // A location naming another account than --accounts selects nothing.
    let leaves = bucket.plan(
        "s3://trail-bucket/AWSLogs/111122223333/",
        selection(None, None, Some("444455556666"), None),
    );
    assert!(leaves.is_empty());
}

#[test]
fn ranges_cross_months_years_and_leap_days() {
    let planner = Planner::new(selection(
        Some("2023-12-31"),
        Some("2024-03-01"),
        None,
        None,
    ));
    let Step::Children(days) = planner.step(&Node::Region {
        prefix: "R/".into(),
        below: String::new(),
    }) else {
        panic!("days are computed")
    };
    assert_eq!(days.len(), 1 + 31 + 29 + 1);
    assert_eq!(days[0], Node::Leaf("R/2023/12/31/".into()));
    assert!(days.contains(&Node::Leaf("R/2024/02/29/".into())));
    assert_eq!(days.last().unwrap(), &Node::Leaf("R/2024/03/01/".into()));
}

#[test]
fn bad_flags_are_refused_with_the_flag_named() {
    let today = day("2024-08-31");
    let err = |s, u, a, r| Selection::from_flags(s, u, a, r, today).unwrap_err();
    assert!(matches!(
        err(Some("2024-02-30"), None, None, None),
        PlanError::BadDate {
            flag: "--since",
            ..
        }
    ));
    assert!(matches!(
        err(Some("2024-8-1"), None, None, None),
        PlanError::BadDate { .. }
    ));
    assert!(matches!(
        err(Some("2024-08-02"), Some("2024-08-01"), None, None),
        PlanError::EmptyRange { .. }
    ));
    assert_eq!(
        err(None, Some("2024-08-01"), None, None),
        PlanError::UntilWithoutSince
    );
    assert!(matches!(
        err(None, None, Some("12345"), None),
        PlanError::BadAccount(_)
    ));
    assert_eq!(
        err(None, None, None, Some("us-east-1,../x")),
        PlanError::BadRegion("../x".into())
    );
    // --since alone runs to today.
    let s = Selection::from_flags(Some("2024-08-30"), None, None, None, today).unwrap();
    assert_eq!(s.days, Some((day("2024-08-30"), today)));
    assert_eq!(Day::from_unix_seconds(1_725_062_400 + 86_399), today);
}

#[test]
fn s3_urls() {
    assert_eq!(
        parse_s3_url("s3://my-trail/logs").unwrap(),
        S3Location {
            bucket: "my-trail".into(),
            prefix: "logs/".into()
        }
    );
    assert_eq!(parse_s3_url("s3://my-trail").unwrap().prefix, "");
    assert_eq!(parse_s3_url("s3://my-trail/").unwrap().prefix, "");
    for bad in [
        "my-trail/logs",
        "s3://",
        "s3://My_Bucket/x",
        "s3://b/x",
        "s3://bkt//x",
    ] {
        assert!(parse_s3_url(bad).is_err(), "{bad}");
    }
}
