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
fn table() -> Vec<(&'static str, Value, Vec<&'static str>, bool)> {
    vec![
        ("star string", stmt(json!("*")), vec![], true),
        ("AWS star", stmt(json!({"AWS":"*"})), vec![], true),
        (
            "AWS list with star",
            stmt(json!({"AWS":["arn:aws:iam::111122223333:root","*"]})),
            vec![],
            true,
        ),
        (
            "external root arn",
            stmt(json!({"AWS":"arn:aws:iam::444455556666:root"})),
            vec![OTHER],
            false,
        ),
        (
            "external bare id",
            stmt(json!({"AWS":OTHER})),
            vec![OTHER],
            false,
        ),
        (
            "external role gov",
            stmt(json!({"AWS":["arn:aws-us-gov:iam::444455556666:role/x"]})),
            vec![OTHER],
            false,
        ),
        (
            "external china",
            stmt(json!({"AWS":"arn:aws-cn:iam::444455556666:user/u"})),
            vec![OTHER],
            false,
        ),
        (
            "owner only",
            stmt(json!({"AWS":"arn:aws:iam::111122223333:role/r"})),
            vec![],
            false,
        ),
        (
            "service",
            stmt(json!({"Service":"cloudtrail.amazonaws.com"})),
            vec![],
            false,
        ),
        (
            "cloudfront oai",
            stmt(
                json!({"AWS":"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1"}),
            ),
            vec![],
            false,
        ),
        (
            "canonical user",
            stmt(
                json!({"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
            ),
            vec![],
            false,
        ),
        (
            "unique id",
            stmt(json!({"AWS":"AIDAJQABLZS4A3QDU576Q"})),
            vec![],
            false,
        ),
        (
            "federated saml in other account",
            stmt(json!({"Federated":"arn:aws:iam::444455556666:saml-provider/x"})),
            vec![OTHER],
            false,
        ),
        (
            "mixed map",
            stmt(
                json!({"AWS":["arn:aws:iam::111122223333:root","444455556666"],"Service":"s3.amazonaws.com"}),
            ),
            vec![OTHER],
            false,
        ),
        (
            "star narrowed to owner by PrincipalAccount",
            stmt_with_condition(
                json!("*"),
                json!({"StringEquals":{"aws:PrincipalAccount":OWNER}}),
            ),
            vec![],
            false,
        ),
        (
            "star narrowed to other by SourceAccount",
            stmt_with_condition(
                json!({"AWS":"*"}),
                json!({"StringEquals":{"AWS:SourceAccount":[OTHER]}}),
            ),
            vec![OTHER],
            false,
        ),
        (
            "star narrowed by SourceOwner, case-insensitive key",
            stmt_with_condition(json!("*"), json!({"StringLike":{"aws:sourceowner":OTHER}})),
            vec![OTHER],
            false,
        ),
        (
            "star narrowed by SourceArn account",
            stmt_with_condition(
                json!("*"),
                json!({"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-1:444455556666:t"}}),
            ),
            vec![OTHER],
            false,
        ),
        (
            "star narrowed by PrincipalArn owner",
            stmt_with_condition(
                json!("*"),
                json!({"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/r"}}),
            ),
            vec![],
            false,
        ),
        (
            "star narrowed to org",
            stmt_with_condition(
                json!("*"),
                json!({"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}),
            ),
            vec![],
            false,
        ),
        (
            "star narrowed to vpce",
            stmt_with_condition(
                json!("*"),
                json!({"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c"}}),
            ),
            vec![],
            false,
        ),
        (
            "star with ForAnyValue account",
            stmt_with_condition(
                json!("*"),
                json!({"ForAnyValue:StringEquals":{"aws:PrincipalAccount":[OTHER]}}),
            ),
            vec![OTHER],
            false,
        ),
        (
            "IfExists does not narrow",
            stmt_with_condition(
                json!("*"),
                json!({"StringEqualsIfExists":{"aws:SourceAccount":OWNER}}),
            ),
            vec![],
            true,
        ),
        (
            "ForAllValues does not narrow",
            stmt_with_condition(
                json!("*"),
                json!({"ForAllValues:StringEquals":{"aws:PrincipalAccount":OWNER}}),
            ),
            vec![],
            true,
        ),
        (
            "negative operator does not narrow",
            stmt_with_condition(
                json!("*"),
                json!({"StringNotEquals":{"aws:PrincipalAccount":OWNER}}),
            ),
            vec![],
            true,
        ),
        (
            "wildcard account value does not narrow",
            stmt_with_condition(
                json!("*"),
                json!({"StringLike":{"aws:PrincipalAccount":"*"}}),
            ),
            vec![],
            true,
        ),
        (
            "wildcard account in arn does not narrow",
            stmt_with_condition(
                json!("*"),
                json!({"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:t"}}),
            ),
            vec![],
            true,
        ),
        (
            "source ip alone stays public",
            stmt_with_condition(
                json!("*"),
                json!({"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}),
            ),
            vec![],
            true,
        ),
        (
            "secure transport does not narrow",
            stmt_with_condition(json!("*"), json!({"Bool":{"aws:SecureTransport":"true"}})),
            vec![],
            true,
        ),
        (
            "two account keys intersect",
            stmt_with_condition(
                json!("*"),
                json!({"StringEquals":{"aws:PrincipalAccount":[OWNER, OTHER]},
                    "ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}),
            ),
            vec![],
            false,
        ),
        (
            "explicit external principal narrowed to owner grants nothing",
            stmt_with_condition(
                json!({"AWS":OTHER}),
                json!({"StringEquals":{"aws:PrincipalAccount":OWNER}}),
            ),
            vec![],
            false,
        ),
        (
            "not principal with allow is public",
            json!({"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*"}]}),
            vec![],
            true,
        ),
        (
            "deny statements let nobody in",
            json!({"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"},
                    {"Effect":"Deny","Principal":{"AWS":OTHER},"Action":"s3:*","Resource":"*"}]}),
            vec![],
            false,
        ),
        (
            "owner id in bucket name and resource is irrelevant",
            json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},
                    "Action":"s3:GetObject","Resource":"arn:aws:s3:::data-111122223333/*"}]}),
            vec![OTHER],
            false,
        ),
        (
            "statement as object, lower-case effect",
            json!({"Statement":{"Effect":"allow","Principal":{"AWS":OTHER},"Action":"s3:*"}}),
            vec![OTHER],
            false,
        ),
        (
            "no statement",
            json!({"Version":"2012-10-17"}),
            vec![],
            false,
        ),
        // S3 user guide, "Delegating access control to access points": the bucket policy
        // AWS recommends must not read as public.
        (
            "delegate access control to access points",
            json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},
                    "Action":"*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
                    "Condition":{"StringEquals":{"s3:DataAccessPointAccount":OWNER}}}]}),
            vec![],
            false,
        ),
        (
            "access point arn of another account",
            stmt_with_condition(
                json!({"AWS":"*"}),
                json!({"ArnLike":{"s3:DataAccessPointArn":"arn:aws:s3:us-east-1:444455556666:accesspoint/*"}}),
            ),
            vec![OTHER],
            false,
        ),
        (
            "userid pinned to one role's sessions",
            stmt_with_condition(
                json!("*"),
                json!({"StringLike":{"aws:userid":"AROAEXAMPLEID:*"}}),
            ),
            vec![],
            false,
        ),
        (
            "userid fixed",
            stmt_with_condition(
                json!("*"),
                json!({"StringEquals":{"aws:userid":"AIDAEXAMPLEID"}}),
            ),
            vec![],
            false,
        ),
        (
            "userid with any other wildcard stays public",
            stmt_with_condition(json!("*"), json!({"StringLike":{"aws:userid":"*:alice"}})),
            vec![],
            true,
        ),
        (
            "userid prefix wildcard stays public",
            stmt_with_condition(
                json!("*"),
                json!({"StringLike":{"aws:userid":["AROAEXAMPLEID:*","AIDA*"]}}),
            ),
            vec![],
            true,
        ),
        (
            "kms CallerAccount narrows a key policy",
            stmt_with_condition(
                json!({"AWS":"*"}),
                json!({"StringEquals":{"kms:CallerAccount":OWNER,"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}),
            ),
            vec![],
            false,
        ),
        (
            "ResourceOrgID does not narrow who calls",
            stmt_with_condition(
                json!("*"),
                json!({"StringEquals":{"aws:ResourceOrgID":"o-abcdefghij"}}),
            ),
            vec![],
            true,
        ),
        (
            "service principal acting for another account (SourceAccount)",
            stmt_with_condition(
                json!({"Service":"cloudtrail.amazonaws.com"}),
                json!({"StringEquals":{"aws:SourceAccount":OTHER}}),
            ),
            vec![OTHER],
            false,
        ),
        (
            "service principal acting for another account (SourceArn)",
            stmt_with_condition(
                json!({"Service":"s3.amazonaws.com"}),
                json!({"ArnLike":{"aws:SourceArn":"arn:aws:s3:::b"},"StringEquals":{"aws:SourceAccount":OTHER}}),
            ),
            vec![OTHER],
            false,
        ),
        (
            "service principal for the owner",
            stmt_with_condition(
                json!({"Service":"cloudtrail.amazonaws.com"}),
                json!({"StringEquals":{"aws:SourceArn":"arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}}),
            ),
            vec![],
            false,
        ),
        (
            "GitHub OIDC without sub is public",
            trust_with_condition(
                json!({"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}),
                json!({"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}),
            ),
            vec![],
            true,
        ),
        (
            "GitHub OIDC with a wildcard owner is public",
            trust_with_condition(
                json!({"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}),
                json!({"StringLike":{"token.actions.githubusercontent.com:sub":"repo:*"}}),
            ),
            vec![],
            true,
        ),
        (
            "GitHub OIDC pinned to a repository is internal",
            trust_with_condition(
                json!({"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}),
                json!({"StringLike":{"token.actions.githubusercontent.com:sub":"repo:octo-org/octo-repo:*"}}),
            ),
            vec![],
            false,
        ),
        (
            "Cognito without aud is public",
            trust_with_condition(
                json!({"Federated":"cognito-identity.amazonaws.com"}),
                json!({"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"unauthenticated"}}),
            ),
            vec![],
            true,
        ),
        (
            "Cognito pinned to an identity pool is internal",
            trust_with_condition(
                json!({"Federated":"cognito-identity.amazonaws.com"}),
                json!({"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:12345678-abcd-abcd-abcd-123456789012"}}),
            ),
            vec![],
            false,
        ),
        (
            "web identity in a resource policy grants nothing by itself",
            stmt(json!({"Federated":"cognito-identity.amazonaws.com"})),
            vec![],
            false,
        ),
        (
            "SAML provider in the owner's account is internal",
            stmt(json!({"Federated":"arn:aws:iam::111122223333:saml-provider/corp"})),
            vec![],
            false,
        ),
    ]
}

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
