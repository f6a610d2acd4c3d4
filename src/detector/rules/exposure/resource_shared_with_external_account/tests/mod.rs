//! Tests for `resource_shared_with_external_account`.

use super::*;
use crate::detector::rules::testing::{
    assert_fires, assert_silent, assert_unevaluable, finding_with,
};
use serde_json::{Value, json};

const OWNER: &str = "118238665043";

fn call(source: &str, name: &str, params: Value) -> String {
    json!({"eventVersion": "1.09", "eventSource": source, "eventName": name, "eventID": "id",
            "recipientAccountId": OWNER, "awsRegion": "us-east-1",
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{OWNER}:user/christophe"),
                "accountId": OWNER, "accessKeyId": "AKIAEXAMPLE"},
            "requestParameters": params, "responseElements": {"_return": true}})
        .to_string()
}

fn failed(record: &str) -> String {
    let mut v: Value = serde_json::from_str(record).unwrap();
    v["errorCode"] = json!("UnauthorizedOperation");
    v.to_string()
}

fn ami(items: Value) -> String {
    call(
        "ec2.amazonaws.com",
        "ModifyImageAttribute",
        json!({"attributeType": "launchPermission",
            "imageId": "ami-1", "launchPermission": {"add": {"items": items}}}),
    )
}

#[test]
fn ami_shared_with_an_account() {
    let f = assert_fires(&RULE, &ami(json!([{"userId": "846424999548"}])));
    assert_eq!(f.details["resource_type"], "ami");
    assert_eq!(f.details["resource"], "ami-1");
    assert_eq!(f.details["external_accounts"], json!(["846424999548"]));
    assert_eq!(f.details["public"], false);
}

#[test]
fn ami_made_public_goes_beyond_the_kql() {
    let f = assert_fires(&RULE, &ami(json!([{"group": "all"}])));
    assert_eq!(f.details["public"], true);
    assert!(f.summary.contains("public"));
}

#[test]
fn ami_shared_with_own_account_removed_or_failed_is_silent() {
    assert_silent(&RULE, &ami(json!([{"userId": OWNER}])));
    assert_silent(&RULE, &ami(json!([{"group": "not-all"}])));
    assert_silent(&RULE, &failed(&ami(json!([{"userId": "846424999548"}]))));
    assert_silent(
        &RULE,
        &call(
            "ec2.amazonaws.com",
            "ModifyImageAttribute",
            json!({"imageId": "ami-1",
                "launchPermission": {"remove": {"items": [{"userId": "846424999548"}]}}}),
        ),
    );
}

#[test]
fn ami_shared_with_an_organization_is_judged_by_its_management_account() {
    let record =
        ami(json!([{"organizationArn": "arn:aws:organizations::999988887777:organization/o-abc"}]));
    let f = assert_fires(&RULE, &record);
    assert_eq!(
        f.details["organizations"],
        json!(["arn:aws:organizations::999988887777:organization/o-abc"])
    );
    assert!(finding_with(&RULE, &record, &["999988887777"]).is_none());
}

#[test]
fn ebs_snapshot_shared_or_made_public() {
    let snap = |items: Value| {
        call(
            "ec2.amazonaws.com",
            "ModifySnapshotAttribute",
            json!({
            "attributeType": "CREATE_VOLUME_PERMISSION", "snapshotId": "snap-1",
            "createVolumePermission": {"add": {"items": items}}}),
        )
    };
    let f = assert_fires(&RULE, &snap(json!([{"userId": "098797384747"}])));
    assert_eq!(f.details["resource_type"], "ebs-snapshot");
    assert_eq!(
        assert_fires(&RULE, &snap(json!([{"group": "all"}]))).details["public"],
        true
    );
    assert_silent(&RULE, &snap(json!([{"group": "none"}])));
    assert_silent(&RULE, &failed(&snap(json!([{"group": "all"}]))));
}

#[test]
fn rds_snapshots_and_cluster_snapshots() {
    let rds = |name: &str, id_key: &str, attr: &str, values: Value| {
        call(
            "rds.amazonaws.com",
            name,
            json!({"attributeName": attr, id_key: "snap", "valuesToAdd": values}),
        )
    };
    let f = assert_fires(
        &RULE,
        &rds(
            "ModifyDBSnapshotAttribute",
            "dBSnapshotIdentifier",
            "restore",
            json!(["503161813013"]),
        ),
    );
    assert_eq!(f.details["resource_type"], "rds-snapshot");
    let f = assert_fires(
        &RULE,
        &rds(
            "ModifyDBClusterSnapshotAttribute",
            "dBClusterSnapshotIdentifier",
            "Restore",
            json!(["all"]),
        ),
    );
    assert_eq!(f.details["resource_type"], "rds-cluster-snapshot");
    assert_eq!(f.details["public"], true);
    assert_silent(
        &RULE,
        &rds(
            "ModifyDBSnapshotAttribute",
            "dBSnapshotIdentifier",
            "restore",
            json!([]),
        ),
    );
    assert_silent(
        &RULE,
        &rds(
            "ModifyDBSnapshotAttribute",
            "dBSnapshotIdentifier",
            "other",
            json!(["503161813013"]),
        ),
    );
    assert_silent(
        &RULE,
        &call(
            "rds.amazonaws.com",
            "ModifyDBSnapshotAttribute",
            json!({"attributeName": "restore", "dBSnapshotIdentifier": "s", "valuesToRemove": ["503161813013"]}),
        ),
    );
}

#[test]
fn bucket_policies_go_through_the_policy_module() {
    let bucket = |principal: Value, condition: Value| {
        call(
            "s3.amazonaws.com",
            "PutBucketPolicy",
            json!({
            "bucketName": "b", "bucketPolicy": {"Statement": [{"Sid": "x", "Effect": "Allow",
            "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": condition}]}}),
        )
    };
    let f = assert_fires(
        &RULE,
        &bucket(json!({"AWS": "arn:aws:iam::444455556666:root"}), json!({})),
    );
    assert_eq!(f.details["statement_ids"], json!(["x"]));
    assert_eq!(
        assert_fires(&RULE, &bucket(json!("*"), json!({}))).details["public"],
        true
    );
    assert_silent(
        &RULE,
        &bucket(
            json!("*"),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}),
        ),
    );
    assert_silent(
        &RULE,
        &bucket(json!({"Service": "logging.s3.amazonaws.com"}), json!({})),
    );
}

fn lambda(params: Value) -> String {
    call("lambda.amazonaws.com", "AddPermission20150331v2", params)
}

#[test]
fn lambda_permission_public_or_to_an_account() {
    let f = assert_fires(
        &RULE,
        &lambda(json!({"action": "lambda:InvokeFunction",
            "functionName": "f", "principal": "*", "statementId": "backdoor"})),
    );
    assert_eq!(f.details["public"], true);
    assert_eq!(f.details["statement_id"], "backdoor");
    let f = assert_fires(
        &RULE,
        &lambda(json!({"action": "lambda:GetFunction",
            "functionName": "f", "principal": "arn:aws:iam::444455556666:root"})),
    );
    assert_eq!(f.details["external_accounts"], json!(["444455556666"]));
}

#[test]
fn lambda_permission_narrowed_or_to_a_service_is_judged_as_such() {
    // A service principal narrowed to another account: that account's buckets invoke the
    // function (it acts through the service): external, noted as via_service.
    let f = assert_fires(
        &RULE,
        &lambda(
            json!({"action": "lambda:InvokeFunction", "functionName": "f",
            "principal": "s3.amazonaws.com", "sourceAccount": "444455556666"}),
        ),
    );
    assert_eq!(f.details["external_accounts"], json!(["444455556666"]));
    assert_eq!(f.details["via_service"], "s3.amazonaws.com");
    // ... narrowed to the owner, or not narrowed at all, it lets no other account in.
    assert_silent(
        &RULE,
        &lambda(
            json!({"action": "lambda:InvokeFunction", "functionName": "f",
            "principal": "s3.amazonaws.com", "sourceAccount": OWNER}),
        ),
    );
    // `*` narrowed to the owner's account or an organization is not public.
    assert_silent(
        &RULE,
        &lambda(
            json!({"action": "lambda:InvokeFunction", "functionName": "f",
            "principal": "*", "sourceAccount": OWNER}),
        ),
    );
    assert_silent(
        &RULE,
        &lambda(
            json!({"action": "lambda:InvokeFunction", "functionName": "f",
            "principal": "*", "principalOrgID": "o-abc"}),
        ),
    );
    // ... but narrowed to another account is a share with that account.
    let f = assert_fires(
        &RULE,
        &lambda(
            json!({"action": "lambda:InvokeFunction", "functionName": "f",
            "principal": "*", "sourceArn": "arn:aws:sns:us-east-1:444455556666:topic"}),
        ),
    );
    assert_eq!(f.details["external_accounts"], json!(["444455556666"]));
}

#[test]
fn lambda_layer_shared_publicly() {
    let record = call(
        "lambda.amazonaws.com",
        "AddLayerVersionPermission20181031",
        json!({
            "layerName": "l", "versionNumber": 3, "principal": "*", "action": "lambda:GetLayerVersion",
            "statementId": "s"}),
    );
    let f = assert_fires(&RULE, &record);
    assert_eq!(f.details["resource_type"], "lambda-layer");
    assert_eq!(f.details["layer_version"], 3);
}

#[test]
fn trusted_accounts_are_dropped() {
    let record = ami(json!([{"userId": "846424999548"}, {"userId": "111122223333"}]));
    let f = finding_with(&RULE, &record, &["111122223333"]).unwrap();
    assert_eq!(f.details["external_accounts"], json!(["846424999548"]));
    assert!(finding_with(&RULE, &record, &["111122223333", "846424999548"]).is_none());
}

/// One row's case: (source of the shape, eventSource, eventName, requestParameters,
/// expected external accounts, expected public). `None` for accounts means silent.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Value,
    Option<Vec<&'static str>>,
    bool,
);

const OTHER: &str = "444455556666";

fn policy_to(principal: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "S", "Effect": "Allow",
            "Principal": principal, "Action": "*", "Resource": "*"}]})
    .to_string()
}

fn outside() -> String {
    policy_to(json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}))
}

fn inside() -> String {
    policy_to(json!({"AWS": format!("arn:aws:iam::{OWNER}:root")}))
}

fn public() -> String {
    policy_to(json!("*"))
}

/// Every table row has a positive and a negative case in its documented request shape.
fn cases() -> Vec<Case> {
    let mut cases = storage_and_messaging::storage_and_messaging_cases();
    cases.extend(policies_and_sharing::policies_and_sharing_cases());
    cases
}

mod policies_and_sharing;
mod storage_and_messaging;

#[test]
fn every_row_has_a_positive_and_a_negative_case() {
    let cases = cases();
    for row in ROWS {
        let (src, name) = (row.selector.source, row.selector.name);
        let hits: Vec<&Case> = cases.iter().filter(|c| row.matches(c.1, c.2)).collect();
        let covered_elsewhere = matches!(
            (src, name),
            (
                EC2,
                crate::detector::rule::NameMatch::Exact(
                    "ModifyImageAttribute" | "ModifySnapshotAttribute"
                )
            ) | (RDS, _)
                | (
                    S3,
                    crate::detector::rule::NameMatch::Exact("PutBucketPolicy" | "CopyObject")
                )
                | (
                    LAMBDA,
                    crate::detector::rule::NameMatch::Prefix(
                        "AddPermission" | "AddLayerVersionPermission"
                    )
                )
        );
        if covered_elsewhere {
            continue;
        }
        assert!(
            hits.iter().any(|c| c.4.is_some()),
            "{src} {name:?}: no positive case"
        );
        assert!(
            hits.iter().any(|c| c.4.is_none()),
            "{src} {name:?}: no negative case"
        );
    }
    for (shape, source, name, params, want, public) in cases {
        let record = call(source, name, params);
        match want {
            Some(accounts) => {
                let f = assert_fires(&RULE, &record);
                assert_eq!(f.details["external_accounts"], json!(accounts), "{shape}");
                assert_eq!(f.details["public"], public, "{shape}");
                assert!(
                    f.details["resource"]
                        .as_str()
                        .is_some_and(|r| !r.is_empty()),
                    "{shape}"
                );
                assert!(f.details["external_organizations"].is_array(), "{shape}");
            }
            None => {
                if let Some(f) = finding_with(&RULE, &record, &[]) {
                    panic!("{shape}: should be silent, got {f:?}");
                }
            }
        }
    }
}

#[test]
fn a_policy_cloudtrail_did_not_log_is_unevaluable_not_silent() {
    assert_unevaluable(
        &RULE,
        &call(
            "secretsmanager.amazonaws.com",
            "PutResourcePolicy",
            json!({"secretId": "s"}),
        ),
    );
    assert_unevaluable(
        &RULE,
        &call(
            "kms.amazonaws.com",
            "PutKeyPolicy",
            json!({"keyId": "k", "policy": "{not json"}),
        ),
    );
}

#[test]
fn url_encoded_policies_are_read() {
    let encoded = public()
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect::<String>();
    let f = assert_fires(
        &RULE,
        &call(
            "ecr.amazonaws.com",
            "SetRepositoryPolicy",
            json!({"repositoryName": "r", "policyText": encoded}),
        ),
    );
    assert_eq!(f.details["public"], true);
}

#[test]
fn foreign_organizations_are_external_once_trusted_ones_are_set() {
    let org_policy = |org: &str| {
        json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": org}}}]})
        .to_string()
    };
    let record = |org: &str| {
        call(
            "sqs.amazonaws.com",
            "SetQueueAttributes",
            json!({"queueUrl": "https://sqs.us-east-1.amazonaws.com/118238665043/q", "attributes": {"Policy": org_policy(org)}}),
        )
    };
    // No zone of organizations configured: we cannot tell ours from another's.
    assert_silent(&RULE, &record("o-attacker12"));
    let f = finding_with(&RULE, &record("o-attacker12"), &["o-mine123456"]).unwrap();
    assert_eq!(f.details["external_organizations"], json!(["o-attacker12"]));
    assert_eq!(f.details["public"], false);
    assert!(f.summary.contains("organization o-attacker12"));
    assert!(finding_with(&RULE, &record("o-mine123456"), &["o-mine123456"]).is_none());
    // RAM shares to an organization are judged the same way.
    let ram = call(
        "ram.amazonaws.com",
        "CreateResourceShare",
        json!({"name": "s",
            "principals": ["arn:aws:organizations::999988887777:organization/o-attacker12"]}),
    );
    let f = finding_with(&RULE, &ram, &["o-mine123456"]).unwrap();
    assert_eq!(f.details["external_organizations"], json!(["o-attacker12"]));
}

#[test]
fn a_caller_from_another_account_granting_itself_is_a_backdoor() {
    // The caller (444455556666) acts on the owner's bucket and lets its own account in.
    let mut record: Value = serde_json::from_str(&call(
        "s3.amazonaws.com",
        "PutBucketPolicy",
        json!({"bucketName": "b", "bucketPolicy": outside()}),
    ))
    .unwrap();
    record["userIdentity"]["accountId"] = json!(OTHER);
    record["userIdentity"]["arn"] = json!(format!("arn:aws:iam::{OTHER}:role/intruder"));
    let f = assert_fires(&RULE, &record.to_string());
    assert_eq!(f.details["external_accounts"], json!([OTHER]));
    assert_eq!(f.details["caller_granted_own_account"], OTHER);
}

#[test]
fn copy_into_a_bucket_another_account_owns() {
    // CloudTrail CopyObject data event in the writer's trail: resources[].accountId names the
    // destination bucket's owner (S3 CloudTrail logging docs, "resources" of data events).
    let mut record: Value = serde_json::from_str(&call(
        "s3.amazonaws.com",
        "CopyObject",
        json!({"bucketName": "attacker-bucket", "key": "k", "x-amz-copy-source": "victim/k"}),
    ))
    .unwrap();
    record["resources"] = json!([
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::attacker-bucket/k"},
            {"accountId": OTHER, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::attacker-bucket"}]);
    let f = assert_fires(&RULE, &record.to_string());
    assert_eq!(f.details["copied_to_bucket_owned_by"], OTHER);
    record["resources"][1]["accountId"] = json!(OWNER);
    assert_silent(&RULE, &record.to_string());
}

#[test]
fn canonical_user_grantees_other_than_the_owner_alert_unresolved() {
    let record = call(
        "s3.amazonaws.com",
        "PutBucketAcl",
        json!({"bucketName": "b",
            "AccessControlPolicy": {"AccessControlList": {"Grant": [
                {"Grantee": {"ID": "ownerid"}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"ID": "strangerid"}, "Permission": "READ"}]}, "Owner": {"ID": "ownerid"}}}),
    );
    let f = assert_fires(&RULE, &record);
    assert_eq!(
        f.details["unresolved_grantees"],
        json!(["canonical-user:strangerid"])
    );
    assert_eq!(f.details["public"], false);
}
