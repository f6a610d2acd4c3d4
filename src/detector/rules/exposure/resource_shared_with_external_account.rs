//! `resource-shared-with-external-account`
//!
//! **What it detects.** A resource shared with an AWS account that is neither the owner's, the
//! caller's nor trusted, or with everyone:
//! - an AMI launch permission added (`ModifyImageAttribute`, `launchPermission.add`),
//! - an EBS snapshot create-volume permission added (`ModifySnapshotAttribute`),
//! - an RDS snapshot or cluster snapshot restore permission added
//!   (`ModifyDBSnapshotAttribute`, `ModifyDBClusterSnapshotAttribute`, `attributeName: restore`),
//! - a bucket policy that lets an outside account in (`PutBucketPolicy`, via the policy module),
//! - a Lambda function or layer permission for an outside account or `*`
//!   (`AddPermission*`, `AddLayerVersionPermission*`).
//!
//! **Why it matters.** Sharing is the cheapest exfiltration in AWS: the attacker copies the
//! snapshot, AMI or data into an account they own, and the victim's logs show only this call.
//! A share also leaves a backdoor that survives credential rotation.
//!
//! **Published rule.** 0xFF-0236 "Resource shared with unknown external account" (Sentinel KQL).
//!
//! **How we differ.** The KQL is blind to public shares on EC2 and RDS (`group: all`,
//! `valuesToAdd: ["all"]` carry no account) and to failed calls; we alert on public shares with
//! `public: true` and ignore failed calls and removals. Bucket policies are read with conditions
//! (a `*` narrowed to an account is that account, narrowed to an organization is not public).
//! Lambda permissions for any action count (the KQL only looks at `lambda:InvokeFunction`), `*`
//! narrowed by `sourceAccount`/`sourceArn`/`principalOrgID` is judged as narrowed, and layer
//! permissions are covered too. EC2 shares with an organization or OU are judged by the account
//! in the organization ARN (the management account): trust it to silence org-wide sharing.
//!
//! **Blind spots.** RAM shares, KMS grants, ECR/SNS/SQS/Secrets Manager resource policies and
//! S3 ACLs are not covered.

use crate::detector::arn::{self, account_of};
use crate::detector::policy::PolicyAnalysis;
use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, EventSelector, FailedCalls, Finding, Rule, RuleContext, RuleMeta, Severity, SourceRule,
    Unevaluable, Verdict,
};
use crate::detector::rules::common::{actor_name, describe_whom};
use crate::detector::text::clean;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// The rule value registered in the catalogue.
pub static RULE: ResourceSharedExternally = ResourceSharedExternally;

/// See the module documentation.
pub struct ResourceSharedExternally;

static META: RuleMeta = RuleMeta {
    id: "resource-shared-with-external-account",
    title: "Resource shared with an unknown external account",
    description: "An AMI, EBS snapshot, RDS snapshot, S3 bucket or Lambda function/layer was \
        shared with an AWS account that is not the owner's or a trusted one, or made public. \
        Attackers share resources to an account they control to exfiltrate data or keep a \
        backdoor.",
    severity: Severity::High,
    risk_score: 73,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1098.001",
            technique_name: "Account Manipulation: Additional Cloud Credentials",
        },
        Attack {
            tactic_id: "TA0009",
            tactic_name: "Collection",
            technique_id: "T1530",
            technique_name: "Data from Cloud Storage",
        },
        Attack {
            tactic_id: "TA0010",
            tactic_name: "Exfiltration",
            technique_id: "T1537",
            technique_name: "Transfer Data to Cloud Account",
        },
    ],
    references: &[
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.ec2-share-ami/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.ec2-share-ebs-snapshot/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.exfiltration.rds-share-snapshot/",
        "https://stratus-red-team.cloud/attack-techniques/AWS/aws.persistence.lambda-backdoor-function/",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBSnapshotAttribute.html",
        "https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html",
    ],
    false_positives: &[
        "Sharing with a business partner or another account of yours for a valid reason: \
         confirm with the caller, then add the account to the trusted accounts.",
        "Organization-wide AMI sharing is judged by the organization's management account; add \
         it to the trusted accounts if such sharing is expected.",
    ],
    triage: &[
        "Confirm with the caller (actor.arn) whether the share had a valid business reason.",
        "Check details.external_accounts against known partner and organization accounts; details.public means anyone can use the resource.",
        "For snapshots and AMIs, remove the permission at once and check whether the external account already copied the resource.",
        "For Lambda permissions, remove the statement (details.statement_id) and review who invoked the function.",
        "Review the actor's other recent activity and rotate its credentials if the share was not expected.",
    ],
    dedup_period_minutes: 120,
    implements: SourceRule {
        vendor: "0xFF (Sentinel)",
        name: "Resource shared with unknown external account",
        id: "0xFF-0236-Resource_Shared_with_Unknown_External_Account-AWS",
    },
    notes: &[
        "Public shares (group all, valuesToAdd all, principal *) alert with public: true.",
        "Failed calls and removals do not alert.",
        "Also covers ModifyDBClusterSnapshotAttribute and AddLayerVersionPermission*, and Lambda \
         permissions for any action.",
    ],
    events: &[
        EventSelector::exact("ec2.amazonaws.com", "ModifyImageAttribute"),
        EventSelector::exact("ec2.amazonaws.com", "ModifySnapshotAttribute"),
        EventSelector::exact("rds.amazonaws.com", "ModifyDBSnapshotAttribute"),
        EventSelector::exact("rds.amazonaws.com", "ModifyDBClusterSnapshotAttribute"),
        EventSelector::exact("s3.amazonaws.com", "PutBucketPolicy"),
        EventSelector::prefix("lambda.amazonaws.com", "AddPermission"),
        EventSelector::prefix("lambda.amazonaws.com", "AddLayerVersionPermission"),
    ],
    failed_calls: FailedCalls::Ignore,
};

/// What a call shared, before the owner, caller and trusted accounts are dropped.
#[derive(Default)]
struct Share {
    resource_type: &'static str,
    resource: String,
    accounts: BTreeSet<String>,
    public: bool,
    organizations: BTreeSet<String>,
    extra: Map<String, Value>,
}

fn str_at<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// EC2 `launchPermission` / `createVolumePermission`: only the `add` items count.
fn ec2_share(params: &Value, attribute: &str, resource_type: &'static str, id_key: &str) -> Share {
    let mut share = Share {
        resource_type,
        resource: str_at(params, id_key).to_owned(),
        ..Share::default()
    };
    let items = params
        .get(attribute)
        .and_then(|p| p.get("add"))
        .and_then(|a| a.get("items"))
        .and_then(Value::as_array);
    for item in items.into_iter().flatten() {
        if let Some(account) = item
            .get("userId")
            .and_then(Value::as_str)
            .and_then(account_of)
        {
            share.accounts.insert(account.to_owned());
        }
        if item
            .get("group")
            .and_then(Value::as_str)
            .is_some_and(|g| g.eq_ignore_ascii_case("all"))
        {
            share.public = true;
        }
        for key in ["organizationArn", "organizationalUnitArn"] {
            if let Some(org) = item.get(key).and_then(Value::as_str) {
                share.organizations.insert(org.to_owned());
                if let Some(account) = account_of(org) {
                    share.accounts.insert(account.to_owned());
                }
            }
        }
    }
    share
}

fn rds_share(params: &Value, resource_type: &'static str, id_key: &str) -> Option<Share> {
    if !str_at(params, "attributeName").eq_ignore_ascii_case("restore") {
        return None;
    }
    let mut share = Share {
        resource_type,
        resource: str_at(params, id_key).to_owned(),
        ..Share::default()
    };
    let values = params.get("valuesToAdd").and_then(Value::as_array);
    for value in values.into_iter().flatten().filter_map(Value::as_str) {
        if value.trim().eq_ignore_ascii_case("all") {
            share.public = true;
        } else if let Some(account) = account_of(value) {
            share.accounts.insert(account.to_owned());
        }
    }
    Some(share)
}

fn bucket_share(
    params: &Value,
    is_internal: &dyn Fn(&str) -> bool,
) -> Result<Option<Share>, Unevaluable> {
    let policy = params
        .get("bucketPolicy")
        .filter(|p| !p.is_null())
        .ok_or(Unevaluable::Missing("requestParameters.bucketPolicy"))?;
    let analysis = PolicyAnalysis::from_value(policy)
        .map_err(|e| Unevaluable::malformed("requestParameters.bucketPolicy", e))?;
    let access = analysis.external_access(is_internal);
    let mut extra = Map::new();
    extra.insert("statement_ids".into(), json!(access.statement_ids));
    extra.insert("actions".into(), json!(access.actions));
    Ok(Some(Share {
        resource_type: "s3-bucket",
        resource: str_at(params, "bucketName").to_owned(),
        accounts: access.accounts,
        public: access.public,
        extra,
        ..Share::default()
    }))
}

/// Lambda function (`AddPermission*`) and layer (`AddLayerVersionPermission*`) permissions.
fn lambda_share(params: &Value, layer: bool) -> Option<Share> {
    let principal = str_at(params, "principal").trim();
    let mut share = Share {
        resource_type: if layer {
            "lambda-layer"
        } else {
            "lambda-function"
        },
        resource: str_at(params, if layer { "layerName" } else { "functionName" }).to_owned(),
        ..Share::default()
    };
    let mut extra = Map::new();
    for (from, to) in [
        ("action", "action"),
        ("statementId", "statement_id"),
        ("functionUrlAuthType", "function_url_auth_type"),
        ("versionNumber", "layer_version"),
    ] {
        if let Some(v) = params.get(from).filter(|v| !v.is_null()) {
            extra.insert(to.into(), v.clone());
        }
    }
    share.extra = extra;
    if principal == "*" {
        let source_account = str_at(params, "sourceAccount");
        let source_arn_account = arn::Arn::parse(str_at(params, "sourceArn"))
            .map(|a| a.account)
            .filter(|a| arn::is_account_id(a));
        let org = [
            str_at(params, "principalOrgID"),
            str_at(params, "organizationId"),
        ]
        .into_iter()
        .find(|o| !o.is_empty() && !o.contains('*'));
        if arn::is_account_id(source_account) {
            share.accounts.insert(source_account.to_owned());
        } else if let Some(account) = source_arn_account {
            share.accounts.insert(account.to_owned());
        } else if let Some(org) = org {
            share.organizations.insert(org.to_owned());
        } else {
            share.public = true;
        }
    } else if let Some(account) = account_of(principal) {
        share.accounts.insert(account.to_owned());
    } else if principal.is_empty() || arn::is_service_principal(principal) {
        return None;
    }
    Some(share)
}

/// How a resource type reads in a sentence.
fn resource_label(resource_type: &str) -> &'static str {
    match resource_type {
        "ami" => "AMI",
        "ebs-snapshot" => "EBS snapshot",
        "rds-snapshot" => "RDS snapshot",
        "rds-cluster-snapshot" => "RDS cluster snapshot",
        "s3-bucket" => "S3 bucket",
        "lambda-function" => "Lambda function",
        "lambda-layer" => "Lambda layer",
        _ => "resource",
    }
}

impl Rule for ResourceSharedExternally {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, ctx: &RuleContext) -> Verdict {
        let params: Value = record.require_request_parameters()?;
        let owner = record.owner_account();
        let caller = record.caller_account();
        let is_internal =
            |account: &str| ctx.is_internal(account, owner) || caller == Some(account);
        let name = record.name();
        let share = match name {
            "ModifyImageAttribute" => {
                Some(ec2_share(&params, "launchPermission", "ami", "imageId"))
            }
            "ModifySnapshotAttribute" => Some(ec2_share(
                &params,
                "createVolumePermission",
                "ebs-snapshot",
                "snapshotId",
            )),
            "ModifyDBSnapshotAttribute" => {
                rds_share(&params, "rds-snapshot", "dBSnapshotIdentifier")
            }
            "ModifyDBClusterSnapshotAttribute" => rds_share(
                &params,
                "rds-cluster-snapshot",
                "dBClusterSnapshotIdentifier",
            ),
            "PutBucketPolicy" => bucket_share(&params, &is_internal)?,
            _ if name.starts_with("AddLayerVersionPermission") => lambda_share(&params, true),
            _ if name.starts_with("AddPermission") => lambda_share(&params, false),
            _ => None,
        };
        let Some(share) = share else {
            return Ok(None);
        };
        let external: BTreeSet<String> = share
            .accounts
            .iter()
            .filter(|a| !is_internal(a))
            .cloned()
            .collect();
        if external.is_empty() && !share.public {
            return Ok(None);
        }
        let whom = describe_whom(share.public, &external, "everyone (public)");
        let mut details = Map::new();
        details.insert("resource_type".into(), json!(share.resource_type));
        details.insert("resource".into(), json!(share.resource));
        details.insert("owner_account".into(), json!(owner));
        details.insert("external_accounts".into(), json!(external));
        details.insert("public".into(), json!(share.public));
        if !share.organizations.is_empty() {
            details.insert("organizations".into(), json!(share.organizations));
        }
        details.extend(share.extra);
        Ok(Some(Finding::new(
            format!(
                "{} shared {} {} with {}",
                actor_name(record),
                resource_label(share.resource_type),
                clean(&share.resource, 140),
                whom
            ),
            Value::Object(details),
            vec![
                share.resource_type.to_owned(),
                share.resource,
                external.into_iter().collect::<Vec<_>>().join(","),
                if share.public { "public" } else { "" }.to_owned(),
            ],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent, finding_with};

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
        let record = ami(
            json!([{"organizationArn": "arn:aws:organizations::999988887777:organization/o-abc"}]),
        );
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
        // A service principal (S3 notifications) is not an external account.
        assert_silent(
            &RULE,
            &lambda(
                json!({"action": "lambda:InvokeFunction", "functionName": "f",
            "principal": "s3.amazonaws.com", "sourceAccount": "444455556666"}),
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
    fn trusted_and_caller_accounts_are_dropped() {
        let record = ami(json!([{"userId": "846424999548"}, {"userId": "111122223333"}]));
        let f = finding_with(&RULE, &record, &["111122223333"]).unwrap();
        assert_eq!(f.details["external_accounts"], json!(["846424999548"]));
        assert!(finding_with(&RULE, &record, &["111122223333", "846424999548"]).is_none());
    }
}
