//! Table rows on principals and the conditions that narrow them.

use super::*;

/// (case, policy, expected external accounts, expected public)
pub(super) fn principal_rows() -> Vec<Row> {
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
    ]
}
