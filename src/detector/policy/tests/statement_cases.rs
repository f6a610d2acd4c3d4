//! Table rows on statement shapes, several keys at once, and AWS's recommended policies.

use super::*;

/// (case, policy, expected external accounts, expected public)
pub(super) fn statement_rows() -> Vec<Row> {
    vec![
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
