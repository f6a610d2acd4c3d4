//! `trailwatch backfill`: past days of a CloudTrail bucket scanned by the deployed function, on
//! AWS's own engine. The same planner and listing as `scan s3://` ([`super::plan`],
//! [`super::s3_scan`]) give the objects; their list is written to S3 as a Batch Operations CSV
//! manifest, and an S3 Batch Operations job (`CreateJob`, operation `LambdaInvoke`, payload schema
//! 2.0) invokes the function once per object. The function answers Batch events per task
//! (`lambda::events`, `lambda::handler`) and publishes through its usual dedup.
//!
//! Keys in the manifest are URL-encoded, as Batch Operations requires; it hands them to the
//! function form-encoded, which `lambda::events` decodes for both payload schemas.

use super::plan::{S3Location, Selection, parse_s3_url};
use super::{EXIT_CLEAN, EXIT_INPUT_ERROR};
use std::io::Write;

/// The arguments of `trailwatch backfill`.
#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The trail's bucket and key prefix (s3://bucket/prefix), as for `scan s3://`.
    #[arg(value_name = "S3_LOCATION")]
    location: String,
    /// First day (YYYY-MM-DD, UTC, inclusive).
    #[arg(long, value_name = "DATE")]
    since: String,
    /// Last day (YYYY-MM-DD, UTC, inclusive; default today).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only these accounts' folders (comma-separated 12-digit ids).
    #[arg(long, value_name = "ID,ID")]
    accounts: Option<String>,
    /// Only these regions' folders (comma-separated).
    #[arg(long, value_name = "REGION,REGION")]
    regions: Option<String>,
    /// The deployed function (stack output FunctionArn).
    #[arg(long, value_name = "ARN")]
    function_arn: String,
    /// The job's IAM role (stack output BackfillJobRoleArn).
    #[arg(long, value_name = "ARN")]
    role_arn: String,
    /// Where the job writes its completion report, s3://bucket/prefix (stack output
    /// BackfillReportLocation); the report lands under PREFIX/job-ID/.
    #[arg(long, value_name = "S3_PREFIX")]
    report: String,
    /// Where to write the manifest (default: s3://REPORT-BUCKET/PREFIX/manifests/...csv, which the
    /// stack's job role may read).
    #[arg(long, value_name = "S3_KEY")]
    manifest: Option<String>,
    /// The account that runs the job (default: the caller's, from STS GetCallerIdentity).
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// The job's priority (higher runs first).
    #[arg(long, default_value_t = 10)]
    priority: i32,
    /// Create the job suspended until someone confirms it in the S3 console.
    #[arg(long)]
    confirmation_required: bool,
    /// List, then print the manifest summary and the CreateJob request; write and create nothing.
    #[arg(long)]
    dry_run: bool,
    /// Prefixes listed at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    s3_concurrency: u16,
}

/// The payload schema the function parses (`lambda::events`): 2.0 names the bucket, not its ARN.
pub const INVOCATION_SCHEMA_VERSION: &str = "2.0";
/// Batch Operations' CSV manifest format.
pub const MANIFEST_FORMAT: &str = "S3BatchOperations_CSV_20180820";
/// Batch Operations' CSV completion report format.
pub const REPORT_FORMAT: &str = "Report_CSV_20180820";

/// A key as Batch Operations wants it in a CSV manifest: URL-encoded (RFC 3986 unreserved
/// characters and `/` kept, every other byte as `%XX`).
pub fn encode_manifest_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The manifest: one `bucket,key` line per object.
pub fn manifest_csv<'a>(objects: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut csv = String::new();
    for (bucket, key) in objects {
        csv.push_str(bucket);
        csv.push(',');
        csv.push_str(&encode_manifest_key(key));
        csv.push('\n');
    }
    csv
}

/// Everything `CreateJob` is given, in plain values (printed by a dry run, sent otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    pub account_id: String,
    pub function_arn: String,
    pub role_arn: String,
    pub manifest_arn: String,
    pub manifest_etag: String,
    pub report_bucket_arn: String,
    pub report_prefix: String,
    pub priority: i32,
    pub confirmation_required: bool,
    pub description: String,
    pub client_request_token: String,
}

impl JobRequest {
    /// The request in the shape of the `CreateJob` API (as `aws s3control create-job` takes it).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "AccountId": self.account_id,
            "ConfirmationRequired": self.confirmation_required,
            "Operation": {"LambdaInvoke": {
                "FunctionArn": self.function_arn,
                "InvocationSchemaVersion": INVOCATION_SCHEMA_VERSION,
            }},
            "Manifest": {
                "Spec": {"Format": MANIFEST_FORMAT, "Fields": ["Bucket", "Key"]},
                "Location": {"ObjectArn": self.manifest_arn, "ETag": self.manifest_etag},
            },
            "Report": {
                "Bucket": self.report_bucket_arn,
                "Prefix": self.report_prefix,
                "Format": REPORT_FORMAT,
                "Enabled": true,
                "ReportScope": "AllTasks",
            },
            "Priority": self.priority,
            "RoleArn": self.role_arn,
            "ClientRequestToken": self.client_request_token,
            "Description": self.description,
        })
    }
}

/// The partition and account of an ARN of `service` (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
fn arn_parts<'a>(arn: &'a str, service: &str, flag: &str) -> Result<(&'a str, &'a str), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, s, _, account, resource]
            if *s == service
                && partition.starts_with("aws")
                && crate::detector::arn::is_account_id(account)
                && !resource.is_empty() =>
        {
            Ok((partition, account))
        }
        _ => Err(format!(
            "{flag}: {arn:?} is not an ARN of a {service} resource"
        )),
    }
}

/// Where things go, checked before anything is listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub location: S3Location,
    pub selection: Selection,
    pub partition: String,
    pub report: S3Location,
    pub manifest_bucket: String,
    pub manifest_key: String,
}

/// Checks the arguments; `now` (Unix seconds) names the default manifest.
pub fn targets(args: &BackfillArgs, now: i64) -> Result<Targets, String> {
    let location = parse_s3_url(&args.location).map_err(|e| e.to_string())?;
    let selection = Selection::from_flags(
        Some(&args.since),
        args.until.as_deref(),
        args.accounts.as_deref(),
        args.regions.as_deref(),
        super::plan::Day::from_unix_seconds(now),
    )
    .map_err(|e| e.to_string())?;
    let (partition, _) = arn_parts(&args.function_arn, "lambda", "--function-arn")?;
    if !args.function_arn.contains(":function:") {
        return Err(format!(
            "--function-arn: {:?} is not a Lambda function ARN",
            args.function_arn
        ));
    }
    let (role_partition, _) = arn_parts(&args.role_arn, "iam", "--role-arn")?;
    if !args.role_arn.contains(":role/") || role_partition != partition {
        return Err(format!(
            "--role-arn: {:?} is not an IAM role ARN in the function's partition",
            args.role_arn
        ));
    }
    if let Some(account) = &args.account_id
        && !crate::detector::arn::is_account_id(account)
    {
        return Err(format!(
            "--account-id: {account:?} is not a 12-digit account id"
        ));
    }
    let report = parse_s3_url(&args.report).map_err(|e| format!("--report: {e}"))?;
    let (manifest_bucket, manifest_key) = match &args.manifest {
        Some(url) => {
            let m = parse_s3_url(url).map_err(|e| format!("--manifest: {e}"))?;
            let key = m.prefix.trim_end_matches('/').to_owned();
            if key.is_empty() {
                return Err(format!("--manifest: {url:?} names no object key"));
            }
            (m.bucket, key)
        }
        None => {
            let (since, until) = selection.days.expect("--since is required");
            (
                report.bucket.clone(),
                format!(
                    "{}manifests/trailwatch-backfill-{since}-{until}-{now}.csv",
                    report.prefix
                ),
            )
        }
    };
    Ok(Targets {
        location,
        selection,
        partition: partition.to_owned(),
        report,
        manifest_bucket,
        manifest_key,
    })
}

/// The request for a manifest written with `etag`.
pub fn job_request(
    args: &BackfillArgs,
    targets: &Targets,
    account_id: &str,
    etag: &str,
    token: &str,
) -> JobRequest {
    let (since, until) = targets.selection.days.expect("--since is required");
    let p = &targets.partition;
    let mut description = format!("trailwatch backfill {} {since}..{until}", targets.location);
    description.truncate(256);
    JobRequest {
        account_id: account_id.to_owned(),
        function_arn: args.function_arn.clone(),
        role_arn: args.role_arn.clone(),
        manifest_arn: format!(
            "arn:{p}:s3:::{}/{}",
            targets.manifest_bucket, targets.manifest_key
        ),
        manifest_etag: etag.to_owned(),
        report_bucket_arn: format!("arn:{p}:s3:::{}", targets.report.bucket),
        report_prefix: targets.report.prefix.trim_end_matches('/').to_owned(),
        priority: args.priority,
        confirmation_required: args.confirmation_required,
        description,
        client_request_token: token.to_owned(),
    }
}

/// Runs `trailwatch backfill`; returns the exit status.
pub fn run(args: BackfillArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let targets = match targets(&args, now) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "trailwatch: error: {e}");
            return EXIT_INPUT_ERROR;
        }
    };
    match with_sdk::run(&args, &targets, out, err) {
        Ok(()) => EXIT_CLEAN,
        Err(e) => {
            let _ = writeln!(
                err,
                "trailwatch: error: {}",
                crate::detector::text::clean(&format!("{e:#}"), 4096)
            );
            EXIT_INPUT_ERROR
        }
    }
}

#[cfg(not(feature = "lambda"))]
mod with_sdk {
    use super::{BackfillArgs, Targets};
    use std::io::Write;

    pub(super) fn run(
        _args: &BackfillArgs,
        _targets: &Targets,
        _out: &mut dyn Write,
        _err: &mut dyn Write,
    ) -> anyhow::Result<()> {
        anyhow::bail!(
            "this trailwatch was built without AWS support (the `lambda` cargo feature); rebuild with the default features"
        )
    }
}

#[cfg(feature = "lambda")]
pub use with_sdk::{create_job, write_manifest};

#[cfg(feature = "lambda")]
mod with_sdk;

#[cfg(test)]
mod tests;
