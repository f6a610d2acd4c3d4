//! Tests for `exceptions`.

use super::*;

#[test]
fn globs_match_whole_strings() {
    let g = Glob::new("arn:aws:iam::*:role/terraform*");
    assert!(g.matches("arn:aws:iam::111122223333:role/terraform"));
    assert!(g.matches("arn:aws:iam::111122223333:role/terraform-ci"));
    assert!(!g.matches("arn:aws:iam::111122223333:role/Terraform"));
    assert!(!g.matches("xarn:aws:iam::111122223333:role/terraform"));
    assert!(Glob::new("a?c").matches("abc") && !Glob::new("a?c").matches("abbc"));
    assert!(Glob::new("*").matches(""));
    assert!(Glob::case_insensitive("Terraform/*").matches("terraform/1.9.0"));
    assert!(Glob::new("*a*a*a*b").matches("aaaaaaaaaaaaaaaaaaaaaaaaaaab"));
    assert!(!Glob::new("*a*a*a*b").matches("aaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

#[test]
fn expiry_dates_cover_their_whole_day() {
    let e = Expiry::parse("2026-12-31").unwrap();
    assert_eq!(
        parse_timestamp("2026-12-31T23:59:59Z").unwrap() + 1,
        e.ends_at
    );
    let t = Expiry::parse("2026-12-31T18:00:00+02:00").unwrap();
    assert_eq!(t.ends_at, parse_timestamp("2026-12-31T16:00:00Z").unwrap());
    assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_timestamp("2000-03-01T00:00:00.123Z"),
        Some(951_868_800)
    );
    for bad in [
        "2026-02-30",
        "31/12/2026",
        "2026-13-01",
        "tomorrow",
        "2026-12-31T25:00:00Z",
    ] {
        assert!(Expiry::parse(bad).is_err(), "{bad}");
    }
}
