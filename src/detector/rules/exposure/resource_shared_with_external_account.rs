//! `resource-shared-with-external-account`
//!
//! **What it detects.** A resource opened to an AWS account outside the zone of trust (the
//! owner's account, the trusted accounts, the trusted organizations), to an organization outside
//! the trusted ones, or to everyone. One table row per (eventSource, eventName) below names the
//! resource type and its extractor (in `shares.rs`); the engine's index is built from the same
//! table. Covered: AMI launch permissions, EBS/RDS/RDS cluster/Redshift snapshot permissions,
//! S3 bucket policies (general purpose and directory buckets), access point and multi-Region
//! access point policies, bucket and object ACLs (also canned ACLs on `CreateBucket`,
//! `PutObject`, `CopyObject`), replication to another account, `CopyObject` into another
//! account's bucket, Lambda function and layer permissions and function URLs without auth, KMS
//! key policies and grants, SQS and SNS policies and permissions, Secrets Manager, ECR
//! (repository and registry), EFS, DynamoDB, Glacier, Backup, Glue, CloudWatch Logs (resource
//! and destination policies), EventBridge bus permissions, OpenSearch access policies, API
//! Gateway REST API policies, RAM shares, VPC peering, endpoint service permissions and public
//! CodeBuild projects.
//!
//! **Why it matters.** Sharing is the cheapest exfiltration and the quietest backdoor in AWS:
//! the outside account uses the resource with its own credentials, the victim's logs show only
//! this call, and rotating the victim's keys does not close it.
//!
//! **Published rule.** 0xFF-0236 "Resource shared with unknown external account" (Sentinel KQL).
//!
//! **How we differ.** The KQL watches four calls and is blind to public shares (`group: all`,
//! `valuesToAdd: ["all"]`) and to organization shares; we cover every resource type IAM Access
//! Analyzer covers and more, read policies with their conditions (see `detector::policy`), and
//! report public shares with `public: true`. A caller from another account granting its own
//! account on the owner's resource is reported (`caller_granted_own_account`); the KQL drops
//! it. A service principal narrowed to another account (`sourceAccount`, `aws:SourceArn`) lets
//! that account in through the service and is reported (`via_service`).
//!
//! **Blind spots.** CloudTrail does not log a request it truncates or redacts: a policy missing
//! from a record that must carry it is counted as unevaluable, never passed. S3 canonical-user
//! and e-mail ACL grantees cannot be mapped to accounts offline: they alert as
//! `unresolved_grantees`. Organization-wide grants alert only once `TRUSTED_ORGANIZATIONS` is
//! set (without it we cannot tell your organization from another). Calls whose record shape we
//! could not confirm from a recording (access point and multi-Region access point policies,
//! endpoint service permissions) accept every documented spelling; see docs/exposure-coverage.md.

use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Verdict,
};
use crate::detector::rules::exposure::access::evaluate_table;
use crate::detector::rules::exposure::shares;
use crate::exposure_table;

const EC2: &str = "ec2.amazonaws.com";
const RDS: &str = "rds.amazonaws.com";
const S3: &str = "s3.amazonaws.com";
const LAMBDA: &str = "lambda.amazonaws.com";

exposure_table! { ROWS, EVENTS;
    EC2, Exact("ModifyImageAttribute") => "ami", shares::ami;
    EC2, Exact("ModifySnapshotAttribute") => "ebs-snapshot", shares::ebs_snapshot;
    RDS, Exact("ModifyDBSnapshotAttribute") => "rds-snapshot", shares::rds_snapshot;
    RDS, Exact("ModifyDBClusterSnapshotAttribute") => "rds-cluster-snapshot", shares::rds_cluster_snapshot;
    "redshift.amazonaws.com", Exact("AuthorizeSnapshotAccess") => "redshift-snapshot", shares::redshift_snapshot;
    S3, Exact("PutBucketPolicy") => "s3-bucket", shares::s3_bucket_policy;
    "s3express.amazonaws.com", Exact("PutBucketPolicy") => "s3-directory-bucket", shares::s3_directory_bucket_policy;
    S3, Exact("PutAccessPointPolicy") => "s3-access-point", shares::s3_access_point_policy;
    S3, Exact("PutMultiRegionAccessPointPolicy") => "s3-multi-region-access-point", shares::s3_multi_region_access_point_policy;
    S3, Exact("PutBucketAcl") => "s3-bucket", shares::s3_bucket_acl;
    S3, Exact("CreateBucket") => "s3-bucket", shares::s3_bucket_acl;
    S3, Exact("PutObjectAcl") => "s3-object", shares::s3_object_acl;
    S3, Exact("PutObject") => "s3-object", shares::s3_object_acl;
    S3, Exact("CopyObject") => "s3-object", shares::s3_object_copy;
    S3, Exact("PutBucketReplication") => "s3-bucket", shares::s3_replication;
    LAMBDA, Prefix("AddPermission") => "lambda-function", shares::lambda_function_permission;
    LAMBDA, Prefix("AddLayerVersionPermission") => "lambda-layer", shares::lambda_layer_permission;
    LAMBDA, Prefix("CreateFunctionUrlConfig") => "lambda-function-url", shares::lambda_function_url;
    LAMBDA, Prefix("UpdateFunctionUrlConfig") => "lambda-function-url", shares::lambda_function_url;
    "kms.amazonaws.com", Exact("PutKeyPolicy") => "kms-key", shares::kms_key_policy;
    "kms.amazonaws.com", Exact("CreateKey") => "kms-key", shares::kms_key_policy;
    "kms.amazonaws.com", Exact("CreateGrant") => "kms-key", shares::kms_grant;
    "sqs.amazonaws.com", Exact("SetQueueAttributes") => "sqs-queue", shares::sqs_queue;
    "sqs.amazonaws.com", Exact("CreateQueue") => "sqs-queue", shares::sqs_queue;
    "sqs.amazonaws.com", Exact("AddPermission") => "sqs-queue", shares::sqs_queue;
    "sns.amazonaws.com", Exact("SetTopicAttributes") => "sns-topic", shares::sns_topic;
    "sns.amazonaws.com", Exact("CreateTopic") => "sns-topic", shares::sns_topic;
    "sns.amazonaws.com", Exact("AddPermission") => "sns-topic", shares::sns_topic;
    "secretsmanager.amazonaws.com", Exact("PutResourcePolicy") => "secretsmanager-secret", shares::secret_policy;
    "ecr.amazonaws.com", Exact("SetRepositoryPolicy") => "ecr-repository", shares::ecr_repository_policy;
    "ecr.amazonaws.com", Exact("PutRegistryPolicy") => "ecr-registry", shares::ecr_registry_policy;
    "elasticfilesystem.amazonaws.com", Exact("PutFileSystemPolicy") => "efs-file-system", shares::efs_policy;
    "dynamodb.amazonaws.com", Exact("PutResourcePolicy") => "dynamodb-table", shares::dynamodb_policy;
    "glacier.amazonaws.com", Exact("SetVaultAccessPolicy") => "glacier-vault", shares::glacier_policy;
    "backup.amazonaws.com", Exact("PutBackupVaultAccessPolicy") => "backup-vault", shares::backup_vault_policy;
    "glue.amazonaws.com", Exact("PutResourcePolicy") => "glue-catalog", shares::glue_policy;
    "logs.amazonaws.com", Exact("PutResourcePolicy") => "logs-resource-policy", shares::logs_resource_policy;
    "logs.amazonaws.com", Exact("PutDestinationPolicy") => "logs-destination", shares::logs_destination_policy;
    "events.amazonaws.com", Exact("PutPermission") => "eventbridge-event-bus", shares::event_bus_permission;
    "es.amazonaws.com", Exact("CreateDomain") => "opensearch-domain", shares::opensearch_policy;
    "es.amazonaws.com", Exact("UpdateDomainConfig") => "opensearch-domain", shares::opensearch_policy;
    "es.amazonaws.com", Exact("CreateElasticsearchDomain") => "opensearch-domain", shares::opensearch_policy;
    "es.amazonaws.com", Exact("UpdateElasticsearchDomainConfig") => "opensearch-domain", shares::opensearch_policy;
    "apigateway.amazonaws.com", Exact("CreateRestApi") => "apigateway-rest-api", shares::rest_api_policy;
    "apigateway.amazonaws.com", Exact("UpdateRestApi") => "apigateway-rest-api", shares::rest_api_policy;
    "ram.amazonaws.com", Exact("CreateResourceShare") => "ram-resource-share", shares::ram_share;
    "ram.amazonaws.com", Exact("AssociateResourceShare") => "ram-resource-share", shares::ram_share;
    EC2, Exact("CreateVpcPeeringConnection") => "vpc-peering-connection", shares::vpc_peering;
    EC2, Exact("ModifyVpcEndpointServicePermissions") => "vpc-endpoint-service", shares::endpoint_service_permissions;
    "codebuild.amazonaws.com", Exact("UpdateProjectVisibility") => "codebuild-project", shares::codebuild_visibility;
}

/// The rule value registered in the catalogue.
pub static RULE: ResourceSharedExternally = ResourceSharedExternally;

/// See the module documentation.
pub struct ResourceSharedExternally;

static META: RuleMeta = RuleMeta {
    id: "resource-shared-with-external-account",
    title: "Resource shared with an unknown external account",
    description: "A resource (snapshot, AMI, bucket, object, key, queue, topic, secret, \
        repository, function, file system, table, vault, bus, domain, API, share, VPC, ...) was \
        opened to an AWS account or organization outside the zone of trust, or to everyone. \
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
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-resources.html",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateGrant.html",
        "https://docs.aws.amazon.com/ram/latest/APIReference/API_CreateResourceShare.html",
    ],
    false_positives: &[
        "Sharing with a business partner or another account of yours for a valid reason: \
         confirm with the caller, then add the account to the trusted accounts.",
        "Organization-wide sharing: set the trusted organizations (TRUSTED_ORGANIZATIONS, \
         --trusted-organizations) so your own organization and OUs are inside the zone of trust.",
        "Central logging and delivery: another account's service (CloudTrail, S3 notifications) \
         writing to your resource is reported as via_service; trust that account.",
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
        vendor: "FalconForce FalconFriday (Sentinel KQL)",
        name: "AWS Resource Shared with Unknown External Account",
        id: "0xFF-0236-Resource_Shared_with_Unknown_External_Account-AWS",
    },
    notes: &[
        "Public shares (group all, valuesToAdd all, principal *) alert with public: true.",
        "Failed calls and removals do not alert.",
        "Also covers ModifyDBClusterSnapshotAttribute and AddLayerVersionPermission*, and Lambda \
         permissions for any action.",
        "Table-driven: 50 (eventSource, eventName) rows over 30 resource types; the index is built \
         from the table.",
        "Organizations outside TRUSTED_ORGANIZATIONS are external (details.external_organizations).",
        "The caller's own account is not trusted: an outsider granting itself is a backdoor.",
    ],
    events: EVENTS,
    failed_calls: FailedCalls::Ignore,
};

impl Rule for ResourceSharedExternally {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, ctx: &RuleContext) -> Verdict {
        evaluate_table(ROWS, record, ctx, "shared")
    }
}

#[cfg(test)]
mod tests;
