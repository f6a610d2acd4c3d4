//! `database-made-publicly-accessible`
//!
//! **What it detects.** A database given a public endpoint: RDS `CreateDBInstance`,
//! `ModifyDBInstance`, `RestoreDBInstanceFromDBSnapshot`, `RestoreDBInstanceToPointInTime`,
//! `RestoreDBInstanceFromS3`, `CreateDBInstanceReadReplica`, and Multi-AZ DB clusters
//! (`CreateDBCluster`, `ModifyDBCluster`) with `publiclyAccessible: true`,
//! and Redshift `CreateCluster` / `ModifyCluster` / `RestoreFromClusterSnapshot` with
//! `publiclyAccessible: true`.
//!
//! **Why it matters.** A public endpoint turns the database's password into the only barrier
//! between the data and the internet; attackers open one to exfiltrate, or restore a snapshot
//! into a public instance under their control of the password.
//!
//! **Published rule.** Elastic "AWS RDS DB Instance Made Public"; Panther
//! `rules/aws_cloudtrail_rules/aws_rds_instance_made_public.py` (`ModifyDBInstance` /
//! `ModifyDBCluster`, the same parameter).
//!
//! **How we differ.** We read the parameter of every call that sets it (creations and
//! restores too, not only modifications) and cover Redshift clusters. Network exposure is a
//! distinct concept from sharing, hence its own rule id; the details follow the exposure alert
//! contract (`public: true`).
//!
//! **Blind spots.** Whether the endpoint is really reachable also depends on the subnet's
//! route to an internet gateway and on security groups, which CloudTrail does not show here.

use crate::detector::record::Record;
use crate::detector::rule::{
    Attack, FailedCalls, Rule, RuleContext, RuleMeta, Severity, SourceRule, Unevaluable, Verdict,
};
use crate::detector::rules::exposure::access::{Exposure, Zone, evaluate_table, opt_str};
use crate::exposure_table;
use serde::Deserialize;
use serde_json::Value;

const RDS: &str = "rds.amazonaws.com";
const REDSHIFT: &str = "redshift.amazonaws.com";

exposure_table! { ROWS, EVENTS;
    RDS, Exact("CreateDBInstance") => "rds-db-instance", rds_instance;
    RDS, Exact("ModifyDBInstance") => "rds-db-instance", rds_instance;
    RDS, Exact("RestoreDBInstanceFromDBSnapshot") => "rds-db-instance", rds_instance;
    RDS, Exact("RestoreDBInstanceToPointInTime") => "rds-db-instance", rds_instance;
    RDS, Exact("RestoreDBInstanceFromS3") => "rds-db-instance", rds_instance;
    RDS, Exact("CreateDBInstanceReadReplica") => "rds-db-instance", rds_instance;
    RDS, Exact("CreateDBCluster") => "rds-db-cluster", rds_cluster;
    RDS, Exact("ModifyDBCluster") => "rds-db-cluster", rds_cluster;
    REDSHIFT, Exact("CreateCluster") => "redshift-cluster", redshift_cluster;
    REDSHIFT, Exact("ModifyCluster") => "redshift-cluster", redshift_cluster;
    REDSHIFT, Exact("RestoreFromClusterSnapshot") => "redshift-cluster", redshift_cluster;
}

/// The rule value registered in the catalogue.
pub static RULE: DatabaseMadePublic = DatabaseMadePublic;

/// See the module documentation.
pub struct DatabaseMadePublic;

static META: RuleMeta = RuleMeta {
    id: "database-made-publicly-accessible",
    title: "Database given a public endpoint",
    description: "An RDS DB instance or Redshift cluster was created, restored or modified with \
        a publicly accessible endpoint. Attackers expose databases to reach the data from \
        outside the network.",
    severity: Severity::Medium,
    risk_score: 47,
    mitre_attack: &[
        Attack {
            tactic_id: "TA0010",
            tactic_name: "Exfiltration",
            technique_id: "T1537",
            technique_name: "Transfer Data to Cloud Account",
        },
        Attack {
            tactic_id: "TA0003",
            tactic_name: "Persistence",
            technique_id: "T1133",
            technique_name: "External Remote Services",
        },
    ],
    references: &[
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html",
        "https://docs.aws.amazon.com/redshift/latest/APIReference/API_ModifyCluster.html",
        "https://www.elastic.co/guide/en/security/current/aws-rds-db-instance-made-public.html",
    ],
    false_positives: &[
        "Databases meant to be reached from outside (vendor access, development): confirm with \
         the owner and prefer a private endpoint with a bastion or VPN.",
    ],
    triage: &[
        "Check details.resource and who made it public (actor.arn); was it restored from a snapshot just before?",
        "Review the instance's security groups and subnet routes: is the port open to 0.0.0.0/0?",
        "If unapproved: set publicly accessible to false, rotate the master password, review connections in the database logs.",
    ],
    dedup_period_minutes: 60,
    implements: SourceRule {
        vendor: "Elastic",
        name: "AWS RDS DB Instance Made Public",
        id: "9efb3f79-b77b-466a-9fa0-3645d22d1e7f",
    },
    notes: &[
        "Covers creations, restores and read replicas, and Redshift clusters, not only ModifyDBInstance.",
    ],
    events: EVENTS,
    failed_calls: FailedCalls::Ignore,
};

/// The identifier and `publiclyAccessible` flag of RDS instance and Redshift cluster calls
/// (RDS and Redshift API request parameters, camelCase as CloudTrail logs them).
#[derive(Deserialize)]
struct PublicEndpointParams {
    #[serde(
        rename = "dBInstanceIdentifier",
        alias = "targetDBInstanceIdentifier",
        alias = "clusterIdentifier",
        default
    )]
    id: Option<Value>,
    #[serde(rename = "publiclyAccessible", default)]
    publicly_accessible: Option<Value>,
}

fn public_endpoint(
    record: &Record<'_>,
    zone: &Zone<'_>,
    resource_type: &'static str,
    service: &str,
    prefix: &str,
) -> Result<Option<Exposure>, Unevaluable> {
    let params: PublicEndpointParams = record.require_request_parameters()?;
    let public = match &params.publicly_accessible {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !public {
        return Ok(None);
    }
    let id = opt_str(&params.id).unwrap_or("");
    let mut exposure = Exposure::of(
        resource_type,
        zone.arn(service, true, &format!("{prefix}{id}")),
    );
    exposure.public = true;
    exposure.note("publicly_accessible", true);
    Ok(Some(exposure))
}

fn rds_instance(record: &Record<'_>, zone: &Zone<'_>) -> Result<Option<Exposure>, Unevaluable> {
    public_endpoint(record, zone, "rds-db-instance", "rds", "db:")
}

fn rds_cluster(record: &Record<'_>, zone: &Zone<'_>) -> Result<Option<Exposure>, Unevaluable> {
    public_endpoint(record, zone, "rds-db-cluster", "rds", "cluster:")
}

fn redshift_cluster(record: &Record<'_>, zone: &Zone<'_>) -> Result<Option<Exposure>, Unevaluable> {
    public_endpoint(record, zone, "redshift-cluster", "redshift", "cluster:")
}

impl Rule for DatabaseMadePublic {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn evaluate(&self, record: &Record<'_>, ctx: &RuleContext) -> Verdict {
        evaluate_table(ROWS, record, ctx, "opened to the internet:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::rules::testing::{assert_fires, assert_silent};
    use serde_json::json;

    fn call(source: &str, name: &str, params: Value) -> String {
        json!({"eventVersion": "1.09", "eventSource": source, "eventName": name, "eventID": "id",
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a", "accountId": "111122223333"},
            "requestParameters": params})
        .to_string()
    }

    #[test]
    fn every_row_fires_when_public_and_is_silent_otherwise() {
        // RDS / Redshift API reference request parameters for each call.
        for row in ROWS {
            let (source, name) = (
                row.selector.source,
                match row.selector.name {
                    crate::detector::rule::NameMatch::Exact(n)
                    | crate::detector::rule::NameMatch::Prefix(n) => n,
                    crate::detector::rule::NameMatch::AnyEventByIdentityType(_) => {
                        unreachable!("exposure rows route by event")
                    }
                },
            );
            let id_key = if source == RDS {
                "dBInstanceIdentifier"
            } else {
                "clusterIdentifier"
            };
            let f = assert_fires(
                &RULE,
                &call(
                    source,
                    name,
                    json!({id_key: "db1", "publiclyAccessible": true}),
                ),
            );
            assert_eq!(f.details["public"], true, "{name}");
            assert_eq!(f.details["resource_type"], row.resource_type);
            assert!(
                f.details["resource"].as_str().unwrap().ends_with(":db1"),
                "{name}"
            );
            assert_silent(
                &RULE,
                &call(
                    source,
                    name,
                    json!({id_key: "db1", "publiclyAccessible": false}),
                ),
            );
            assert_silent(
                &RULE,
                &call(source, name, json!({id_key: "db1", "allocatedStorage": 20})),
            );
        }
    }
}
