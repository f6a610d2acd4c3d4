//! `trailwatch backfill` through the AWS SDK: the manifest written to S3 and the Batch
//! Operations job created (builds with the `lambda` feature only).

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
