//! Tests for `config_file`.

use super::*;

const GOOD: &str = r#"
version: 1
trusted_accounts: ["111122223333", 444455556666]
min_severity: high
rules:
  s3-bucket-config-modified: {enabled: false}
  resource-shared-with-external-account: {severity: critical}
sigma:
  directory: sigma
exceptions:
  - name: terraform-snapshot-dr-copy
    reason: Nightly DR copy of EBS snapshots to the partner's account (SEC-123)
    owner: platform@example.com
    expires: 2027-03-31
    match:
      rules: [resource-shared-with-external-account]
      actors: ["arn:aws:iam::*:role/terraform"]
      external_accounts: ["777788889999"]
      source_ips: [10.0.0.0/8, 203.0.113.7]
"#;

fn error(text: &str) -> ConfigFileError {
    TuningFile::parse(text).unwrap_err()
}

#[test]
fn a_full_file_parses_into_typed_settings() {
    let f = TuningFile::parse(GOOD).unwrap();
    assert_eq!(f.trusted_accounts.len(), 2);
    assert_eq!(f.min_severity, Some(Severity::High));
    assert!(f.disabled_rules.contains("s3-bucket-config-modified"));
    assert_eq!(
        f.severity_overrides["resource-shared-with-external-account"],
        Severity::Critical
    );
    assert_eq!(f.sigma_directory.as_deref(), Some("sigma"));
    let e = &f.exceptions[0];
    assert_eq!(e.name, "terraform-snapshot-dr-copy");
    assert_eq!(e.expires.as_ref().unwrap().text, "2027-03-31");
    assert_eq!(e.matchers.source_ips.len(), 2);
    assert!(f.check_rule_ids(|_| true).is_ok());
    let unknown = f
        .check_rule_ids(|id| id != "resource-shared-with-external-account")
        .unwrap_err();
    assert_eq!(unknown.line, Some(7), "{unknown}");
    let mut config = DetectorConfig::default();
    f.apply(&mut config);
    assert_eq!(config.min_severity, Severity::High);
    assert_eq!(config.exceptions.len(), 1);
}

#[test]
fn errors_carry_the_line_of_the_bad_value() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "trusted_accounts:\n  - '1234'\n",
            2,
            "not an AWS account id",
        ),
        ("min_severity: urgent\n", 1, "unknown severity"),
        (
            "rules:\n  x: {enabled: false}\nbogus: 1\n",
            3,
            "unknown field `bogus`",
        ),
        (
            "exceptions:\n  - name: a\n    reason: r\n    owner: o\n    expires: 2026-02-30\n    match: {rules: [x]}\n",
            5,
            "not a date",
        ),
        (
            "exceptions:\n  - name: a\n    reason: r\n    owner: o\n    match:\n      source_ips: [10.0.0.0/33]\n",
            6,
            "not an IP address or CIDR",
        ),
        (
            "exceptions:\n  - name: a\n    reason: r\n    owner: o\n    match: {}\n",
            2,
            "matches nothing",
        ),
        (
            "exceptions:\n  - name: a\n    reason: r\n    owner: o\n    match: {regions: [us-east-1]}\n",
            2,
            "too broad",
        ),
        (
            "exceptions:\n  - name: a\n    reason: r\n    owner: o\n    match: {rules: [x]}\n  - name: a\n    reason: r\n    owner: o\n    match: {rules: [y]}\n",
            6,
            "used twice",
        ),
        (
            "exceptions:\n  - name: a\n    owner: o\n    match: {rules: [x]}\n",
            2,
            "missing field `reason`",
        ),
        ("version: 2\n", 1, "not supported"),
        (
            "version: 1\nexceptions:\n\t- name: x\n",
            3,
            "cannot start any token",
        ),
    ];
    for (text, line, message) in cases {
        let e = error(text);
        assert_eq!(e.line, Some(*line), "{text:?}: {e}");
        assert!(e.to_string().contains(message), "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");
    }
}

#[test]
fn sigma_allow_caller_type_only_is_off_unless_set() {
    let off = TuningFile::parse("sigma: {directory: sigma}\n").unwrap();
    assert!(!off.sigma_allow_caller_type_only);
    let on =
        TuningFile::parse("sigma: {directory: sigma, allow_caller_type_only: true}\n").unwrap();
    assert!(on.sigma_allow_caller_type_only);
    assert!(
        TuningFile::parse("sigma: {directory: sigma, allow_caller_type_only: yes please}\n")
            .is_err()
    );
}
