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
mod with_sdk {
    use super::{BackfillArgs, JobRequest, Targets, job_request, manifest_csv};
    use crate::cli::s3_scan::S3Access;
    use anyhow::Context;
    use aws_sdk_s3control::types::{
        JobManifest, JobManifestFieldName, JobManifestFormat, JobManifestLocation, JobManifestSpec,
        JobOperation, JobReport, JobReportFormat, JobReportScope, LambdaInvokeOperation,
    };
    use sha2::{Digest, Sha256};
    use std::collections::BTreeSet;
    use std::io::Write;

    /// What a backfill found, before the job is created.
    fn write_summary(
        out: &mut dyn Write,
        targets: &Targets,
        objects: usize,
        bytes: u64,
        prefixes_with_objects: usize,
    ) -> std::io::Result<()> {
        writeln!(
            out,
            "manifest: s3://{}/{} ({} objects, {:.1} MB of logs, from {} day folders)",
            targets.manifest_bucket,
            targets.manifest_key,
            objects,
            bytes as f64 / 1e6,
            prefixes_with_objects
        )
    }

    /// Writes the manifest with PutObject; returns its ETag (quotes removed).
    pub async fn write_manifest(
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        csv: String,
    ) -> anyhow::Result<String> {
        let written = s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("text/csv")
            .body(csv.into_bytes().into())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
            .with_context(|| format!("writing the manifest s3://{bucket}/{key}"))?;
        let etag = written
            .e_tag()
            .context("PutObject returned no ETag")?
            .trim_matches('"')
            .to_owned();
        Ok(etag)
    }

    /// Sends `CreateJob`; returns the job id.
    pub async fn create_job(
        s3control: &aws_sdk_s3control::Client,
        request: &JobRequest,
    ) -> anyhow::Result<String> {
        let invoke = LambdaInvokeOperation::builder()
            .function_arn(&request.function_arn)
            .invocation_schema_version(super::INVOCATION_SCHEMA_VERSION)
            .build();
        let manifest = JobManifest::builder()
            .spec(
                JobManifestSpec::builder()
                    .format(JobManifestFormat::from(super::MANIFEST_FORMAT))
                    .fields(JobManifestFieldName::Bucket)
                    .fields(JobManifestFieldName::Key)
                    .build()?,
            )
            .location(
                JobManifestLocation::builder()
                    .object_arn(&request.manifest_arn)
                    .e_tag(&request.manifest_etag)
                    .build()?,
            )
            .build();
        let report = JobReport::builder()
            .bucket(&request.report_bucket_arn)
            .prefix(&request.report_prefix)
            .format(JobReportFormat::from(super::REPORT_FORMAT))
            .enabled(true)
            .report_scope(JobReportScope::AllTasks)
            .build();
        let created = s3control
            .create_job()
            .account_id(&request.account_id)
            .confirmation_required(request.confirmation_required)
            .operation(JobOperation::builder().lambda_invoke(invoke).build())
            .manifest(manifest)
            .report(report)
            .priority(request.priority)
            .role_arn(&request.role_arn)
            .client_request_token(&request.client_request_token)
            .description(&request.description)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3control::error::DisplayErrorContext(e)))
            .context("S3 Batch Operations CreateJob")?;
        created
            .job_id()
            .map(str::to_owned)
            .context("CreateJob returned no job id")
    }

    /// Retrying the same command with the same manifest must not make a second job.
    fn request_token(args: &BackfillArgs, manifest_arn: &str, etag: &str) -> String {
        let mut hash = Sha256::new();
        for part in [
            &args.function_arn,
            &args.role_arn,
            &args.report,
            manifest_arn,
            etag,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let digest = hash.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("trailwatch-{hex}")
    }

    pub(super) fn run(
        args: &BackfillArgs,
        targets: &Targets,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let access = S3Access::connect()?;
        let objects = access
            .select(
                &targets.location,
                &targets.selection,
                usize::from(args.s3_concurrency),
                err,
            )
            .map_err(anyhow::Error::msg)?;
        if objects.is_empty() {
            anyhow::bail!(
                "{}: no log objects matched; no job created",
                targets.location
            );
        }
        let bytes: u64 = objects.iter().filter_map(|o| o.size).sum();
        let day_folders: BTreeSet<&str> = objects
            .iter()
            .filter_map(|o| o.key.rsplit_once('/').map(|(folder, _)| folder))
            .collect();
        write_summary(out, targets, objects.len(), bytes, day_folders.len())?;
        let csv = manifest_csv(objects.iter().map(|o| (o.bucket.as_str(), o.key.as_str())));

        let account_id = match &args.account_id {
            Some(id) => id.clone(),
            None => {
                let sts = aws_sdk_sts::Client::new(access.sdk_config());
                match access.block_on(sts.get_caller_identity().send()) {
                    Ok(identity) => identity
                        .account()
                        .context("GetCallerIdentity returned no account")?
                        .to_owned(),
                    Err(e) if args.dry_run => {
                        writeln!(
                            err,
                            "trailwatch: warning: no account id (STS GetCallerIdentity: {}); give --account-id",
                            aws_sdk_sts::error::DisplayErrorContext(e)
                        )?;
                        "<account id>".to_owned()
                    }
                    Err(e) => {
                        return Err(anyhow::anyhow!(
                            "{}",
                            aws_sdk_sts::error::DisplayErrorContext(e)
                        ))
                        .context("STS GetCallerIdentity (or give --account-id)");
                    }
                }
            }
        };
        writeln!(
            err,
            "trailwatch: note: alerts go through the function's dedup: one already published within its rule's dedup period is not published again; older ones are"
        )?;
        if args.dry_run {
            let request = job_request(
                args,
                targets,
                &account_id,
                "<ETag returned by PutObject>",
                "<derived from the manifest ETag>",
            );
            writeln!(
                out,
                "dry run: the manifest is not written and no job is created"
            )?;
            writeln!(out, "CreateJob request:")?;
            serde_json::to_writer_pretty(&mut *out, &request.to_json())?;
            writeln!(out)?;
            return Ok(());
        }
        let etag = access.block_on(write_manifest(
            access.client(),
            &targets.manifest_bucket,
            &targets.manifest_key,
            csv,
        ))?;
        let manifest_arn = format!(
            "arn:{}:s3:::{}/{}",
            targets.partition, targets.manifest_bucket, targets.manifest_key
        );
        let token = request_token(args, &manifest_arn, &etag);
        let request = job_request(args, targets, &account_id, &etag, &token);
        let s3control = aws_sdk_s3control::Client::new(access.sdk_config());
        let job_id = access.block_on(create_job(&s3control, &request))?;
        writeln!(
            out,
            "job {job_id} created{}: report under s3://{}/{}job-{job_id}/",
            if args.confirmation_required {
                " (waiting for confirmation in the S3 console)"
            } else {
                ""
            },
            targets.report.bucket,
            targets.report.prefix
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: BackfillArgs,
    }

    fn args(extra: &[&str]) -> BackfillArgs {
        let mut argv = vec![
            "backfill",
            "s3://org-trail-logs/trails",
            "--since",
            "2024-08-01",
            "--until",
            "2024-08-31",
            "--function-arn",
            "arn:aws:lambda:us-east-1:111122223333:function:trailwatch-Function-AbC",
            "--role-arn",
            "arn:aws:iam::111122223333:role/trailwatch-BackfillJobRole-XyZ",
            "--report",
            "s3://ops-bucket/trailwatch-backfill/",
        ];
        // A flag given in `extra` replaces the default one.
        for pair in extra.chunks(2) {
            match argv.iter().position(|a| *a == pair[0]) {
                Some(i) => argv[i + 1] = pair[1],
                None => argv.extend_from_slice(pair),
            }
        }
        Wrapper::try_parse_from(argv).unwrap().args
    }

    const NOW: i64 = 1_725_000_000;

    #[test]
    fn manifest_keys_are_url_encoded_one_object_a_line() {
        assert_eq!(
            encode_manifest_key("AWSLogs/1/CloudTrail/x/a b+c,d%e.json.gz"),
            "AWSLogs/1/CloudTrail/x/a%20b%2Bc%2Cd%25e.json.gz"
        );
        assert_eq!(encode_manifest_key("é"), "%C3%A9");
        assert_eq!(
            manifest_csv([("b1", "k 1"), ("b2", "AWSLogs/k2.json.gz")]),
            "b1,k%201\nb2,AWSLogs/k2.json.gz\n"
        );
        // What the function does to the key Batch Operations hands it (form-encoded) gives the
        // key back.
        #[cfg(feature = "lambda")]
        assert_eq!(
            crate::lambda::events::decode_notification_key("bucket", "a+b%2Bc%2Cd%25e").unwrap(),
            "a b+c,d%e"
        );
    }

    #[test]
    fn the_default_manifest_sits_under_the_report_prefix() {
        let t = targets(&args(&[]), NOW).unwrap();
        assert_eq!(t.manifest_bucket, "ops-bucket");
        assert_eq!(
            t.manifest_key,
            format!(
                "trailwatch-backfill/manifests/trailwatch-backfill-2024-08-01-2024-08-31-{NOW}.csv"
            )
        );
        let request = job_request(&args(&[]), &t, "111122223333", "etag1", "tok");
        let json = request.to_json();
        assert_eq!(json["Report"]["Prefix"], "trailwatch-backfill");
        assert_eq!(json["Report"]["Bucket"], "arn:aws:s3:::ops-bucket");
        assert_eq!(
            json["Manifest"]["Location"]["ObjectArn"],
            format!("arn:aws:s3:::ops-bucket/{}", t.manifest_key)
        );
        assert_eq!(
            json["Operation"]["LambdaInvoke"]["InvocationSchemaVersion"],
            "2.0"
        );
        assert_eq!(
            json["Manifest"]["Spec"]["Fields"],
            serde_json::json!(["Bucket", "Key"])
        );
        let t = targets(&args(&["--manifest", "s3://other/m/list.csv"]), NOW).unwrap();
        assert_eq!(
            (t.manifest_bucket.as_str(), t.manifest_key.as_str()),
            ("other", "m/list.csv")
        );
    }

    #[test]
    fn bad_arns_and_locations_are_refused_before_anything_is_listed() {
        let refused = |extra: &[&str]| targets(&args(extra), NOW).unwrap_err();
        assert!(refused(&["--function-arn", "trailwatch"]).contains("--function-arn"));
        assert!(
            refused(&[
                "--function-arn",
                "arn:aws:lambda:us-east-1:111122223333:layer:x"
            ])
            .contains("not a Lambda function ARN")
        );
        assert!(
            refused(&["--role-arn", "arn:aws:iam::111122223333:user/x"]).contains("--role-arn")
        );
        assert!(
            refused(&["--role-arn", "arn:aws-cn:iam::111122223333:role/x"]).contains("partition")
        );
        assert!(refused(&["--report", "ops-bucket"]).contains("--report"));
        assert!(refused(&["--manifest", "s3://ops-bucket"]).contains("names no object key"));
        assert!(refused(&["--account-id", "12"]).contains("--account-id"));
        assert!(refused(&["--until", "2024-07-01"]).contains("after --until"));
    }
}
