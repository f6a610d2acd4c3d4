//! Tests for `policy`.

use super::*;
use serde_json::json;

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";

fn external(policy: Value) -> ExternalAccess {
    PolicyAnalysis::from_value(&policy)
        .unwrap()
        .external_access(|a| a == OWNER, |_| true)
}

fn stmt(principal: Value) -> Value {
    json!({"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","Principal":principal,
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]})
}

fn trust_with_condition(principal: Value, condition: Value) -> Value {
    json!({"Statement":{"Effect":"Allow","Principal":principal,
            "Action":"sts:AssumeRoleWithWebIdentity","Condition":condition}})
}

fn stmt_with_condition(principal: Value, condition: Value) -> Value {
    json!({"Statement":{"Effect":"Allow","Principal":principal,"Action":"s3:*",
            "Resource":"*","Condition":condition}})
}

/// (case, policy, expected external accounts, expected public)
type Row = (&'static str, Value, Vec<&'static str>, bool);

fn table() -> Vec<Row> {
    let mut rows = principal_cases::principal_rows();
    rows.extend(statement_cases::statement_rows());
    rows
}

mod principal_cases;
mod statement_cases;

#[test]
fn policy_shapes_table() {
    for (case, policy, accounts, public) in table() {
        let got = external(policy);
        let want: BTreeSet<String> = accounts.iter().map(|s| s.to_string()).collect();
        assert_eq!(got.accounts, want, "accounts: {case}");
        assert_eq!(got.public, public, "public: {case}");
    }
}

#[test]
fn policy_as_json_string_is_parsed() {
    let text = stmt(json!({"AWS": OTHER})).to_string();
    let got = external(Value::String(text));
    assert!(got.accounts.contains(OTHER));
    assert_eq!(got.statement_ids, vec!["S"]);
    assert_eq!(got.actions.iter().collect::<Vec<_>>(), vec!["s3:GetObject"]);
}

#[test]
fn bad_policies_are_typed_errors() {
    assert_eq!(
        PolicyAnalysis::from_value(&json!("invalid-json-policy")),
        Err(PolicyError::NotJson)
    );
    assert_eq!(
        PolicyAnalysis::from_value(&json!("[1,2]")),
        Err(PolicyError::NotAnObject)
    );
    assert_eq!(
        PolicyAnalysis::from_value(&json!(42)),
        Err(PolicyError::NotAnObject)
    );
}

#[test]
fn org_narrowing_is_reported() {
    let analysis = PolicyAnalysis::from_value(&stmt_with_condition(
            json!("*"),
            json!({"StringEquals":{"aws:PrincipalOrgID":"o-abc123"},"StringLike":{"aws:SourceVpc":"vpc-*"},
                "IpAddress":{"aws:SourceIp":["10.0.0.0/8"]}}),
        ))
        .unwrap();
    let grant = &analysis.grants[0];
    assert!(!grant.public);
    assert_eq!(
        grant.organizations.iter().collect::<Vec<_>>(),
        vec!["o-abc123"]
    );
    assert_eq!(grant.narrowed_by, vec!["aws:PrincipalOrgID"]);
}

#[test]
fn source_ip_is_noted_on_a_public_grant() {
    let got = external(stmt_with_condition(
        json!("*"),
        json!({"IpAddress":{"aws:SourceIp":"203.0.113.7/32"}}),
    ));
    assert!(got.public);
    assert!(got.source_ip.contains("203.0.113.7/32"));
}

#[test]
fn organizations_outside_the_trusted_ones_are_external() {
    let policy = stmt_with_condition(
        json!("*"),
        json!({"StringEquals":{"aws:PrincipalOrgPaths":"o-attacker12/r-ab12/ou-ab12-11111111/*"}}),
    );
    let analysis = PolicyAnalysis::from_value(&policy).unwrap();
    let got = analysis.external_access(|a| a == OWNER, |o| o.starts_with("o-mine"));
    assert!(!got.public);
    assert_eq!(
        got.organizations.iter().collect::<Vec<_>>(),
        vec!["o-attacker12/r-ab12/ou-ab12-11111111/*"]
    );
    let trusted = analysis.external_access(|a| a == OWNER, |o| o.starts_with("o-attacker12"));
    assert!(!trusted.any());
    // A service principal narrowed by aws:SourceOrgID names that organization too.
    let via = PolicyAnalysis::from_value(&stmt_with_condition(
        json!({"Service":"cloudtrail.amazonaws.com"}),
        json!({"StringEquals":{"aws:SourceOrgID":"o-attacker12"}}),
    ))
    .unwrap()
    .external_access(|a| a == OWNER, |o| o.starts_with("o-mine"));
    assert_eq!(
        via.organizations.iter().collect::<Vec<_>>(),
        vec!["o-attacker12"]
    );
}

#[test]
fn service_accounts_are_reported_as_via_service() {
    let got = external(stmt_with_condition(
        json!({"Service":"cloudtrail.amazonaws.com"}),
        json!({"StringEquals":{"aws:SourceAccount":OTHER}}),
    ));
    assert!(got.via_service.contains(OTHER));
}

#[test]
fn unnamed_statements_get_positional_ids() {
    let got = external(json!({"Statement":[
            {"Effect":"Allow","Principal":{"AWS":OWNER},"Action":"s3:*"},
            {"Effect":"Allow","Principal":{"AWS":OTHER},"Action":"s3:*"}]}));
    assert_eq!(got.statement_ids, vec!["#1"]);
}

#[test]
fn full_admin_grants_are_star_on_star_allows_only() {
    let admin = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
    assert_eq!(full_admin_grants(&admin).unwrap().len(), 1);
    let as_text = Value::String(
            r#"{"Statement":[{"Sid":"All","Effect":"Allow","Action":["s3:GetObject","*:*"],"Resource":["*"],"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#.into(),
        );
    let grants = full_admin_grants(&as_text).unwrap();
    assert_eq!(grants[0].sid, "All");
    assert_eq!(grants[0].conditions, vec!["Bool".to_string()]);
    for not_admin in [
        json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}),
        json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
        json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]}),
        json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}),
    ] {
        assert!(
            full_admin_grants(&not_admin).unwrap().is_empty(),
            "{not_admin}"
        );
    }
    assert_eq!(
        full_admin_grants(&json!("not json")),
        Err(PolicyError::NotJson)
    );
}
