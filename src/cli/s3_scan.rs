//! `trailwatch scan s3://bucket/prefix`: the planner ([`super::plan`]) picks the day folders,
//! they are listed and their objects downloaded with bounded concurrency through the Lambda's
//! S3 source ([`crate::lambda::s3::S3Source`]), and each object goes through the same per-object
//! scan as a local file (formats, threshold windows, exit codes). One object that cannot be
//! fetched or read is named on stderr and counted; the others are still scanned.
//!
//! The AWS SDK is only in builds with the `lambda` feature (the default); without it an
//! `s3://` location is refused with a message saying so.

use super::ScanArgs;
use super::jobs::{Event, ScanContext};
use super::plan::{Day, Selection};
#[cfg(feature = "lambda")]
use crate::detector::text::clean;
use std::io;

/// The selection flags, checked once before any input is read.
pub(super) fn selection(args: &ScanArgs) -> anyhow::Result<Selection> {
    let any_s3 = args
        .paths
        .iter()
        .any(|p| p.to_str().is_some_and(|p| p.starts_with("s3://")));
    let flags_given = args.since.is_some()
        || args.until.is_some()
        || args.accounts.is_some()
        || args.regions.is_some();
    if flags_given && !any_s3 {
        anyhow::bail!(
            "--since, --until, --accounts and --regions choose folders of s3:// locations, and none was given"
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(Selection::from_flags(
        args.since.as_deref(),
        args.until.as_deref(),
        args.accounts.as_deref(),
        args.regions.as_deref(),
        Day::from_unix_seconds(now),
    )?)
}

/// Built without the AWS SDK: an `s3://` location is an input error.
#[cfg(not(feature = "lambda"))]
pub(super) fn scan_location(
    url: &str,
    _selection: &Selection,
    _args: &ScanArgs,
    _context: &ScanContext<'_>,
    write: &mut dyn FnMut(Event) -> io::Result<()>,
) -> io::Result<()> {
    write(Event::Error(format!(
        "{url}: this trailwatch was built without S3 support (the `lambda` cargo feature); \
         rebuild with the default features, or copy the objects locally first"
    )))
}

/// Plans, lists, downloads and scans one `s3://` location.
#[cfg(feature = "lambda")]
pub(super) fn scan_location(
    url: &str,
    selection: &Selection,
    args: &ScanArgs,
    context: &ScanContext<'_>,
    write: &mut dyn FnMut(Event) -> io::Result<()>,
) -> io::Result<()> {
    let location = match super::plan::parse_s3_url(url) {
        Ok(location) => location,
        Err(e) => return write(Event::Error(clean(&e.to_string(), 4096))),
    };
    let access = match S3Access::connect() {
        Ok(access) => access,
        Err(e) => return write(Event::Error(clean(&format!("{url}: {e:#}"), 4096))),
    };
    let concurrency = usize::from(args.s3_concurrency);
    let mut listing = Vec::new();
    let selected = access.select(&location, selection, concurrency, &mut listing);
    write(Event::Note(String::from_utf8_lossy(&listing).into_owned()))?;
    let objects = match selected {
        Ok(objects) => objects,
        Err(e) => return write(Event::Error(clean(&e, 4096))),
    };
    for (object, body) in access.fetch(objects, concurrency, args.max_decompressed_bytes) {
        match body {
            Ok(bytes) => {
                let url = object.url();
                write(Event::Start(clean(&url, 4096)))?;
                // Events of one object are written as they come; one failed write stops.
                let mut failed = Ok(());
                super::jobs::scan_source(
                    Box::new(io::Cursor::new(bytes)),
                    &url,
                    context,
                    false,
                    &mut |event| {
                        if failed.is_ok() {
                            failed = write(event);
                        }
                    },
                );
                failed?;
            }
            Err(problem) => write(Event::Error(clean(&problem, 4096)))?,
        }
    }
    Ok(())
}

#[cfg(feature = "lambda")]
pub use sdk::{Fetches, S3Access};

#[cfg(feature = "lambda")]
mod sdk {
    use crate::cli::plan::{Planner, S3Location, Selection};
    use crate::detector::text::clean;
    use crate::lambda::events::ObjectRef;
    use crate::lambda::ports::ObjectSource;
    use crate::lambda::s3::S3Source;
    use aws_config::{BehaviorVersion, SdkConfig};
    use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use futures::StreamExt;
    use std::collections::VecDeque;
    use std::io::{Read, Write};
    use std::path::Path;

    /// S3 for the command line: a small runtime and a client from the standard credential
    /// chain, region and `AWS_ENDPOINT_URL` (path-style addressing when an endpoint is set).
    pub struct S3Access {
        runtime: tokio::runtime::Runtime,
        client: aws_sdk_s3::Client,
        sdk: SdkConfig,
    }

    impl S3Access {
        /// Loads the standard AWS configuration; fails without a region.
        pub fn connect() -> anyhow::Result<S3Access> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let sdk = runtime.block_on(aws_config::defaults(BehaviorVersion::latest()).load());
            if sdk.region().is_none() {
                anyhow::bail!(
                    "no AWS region: set AWS_REGION (the bucket's region) or a profile's region"
                );
            }
            // Virtual-hosted addressing needs DNS for `bucket.host`: a local endpoint has none.
            let endpoint_override = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
            let client = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(endpoint_override)
                    .build(),
            );
            Ok(S3Access {
                runtime,
                client,
                sdk,
            })
        }

        /// The loaded AWS configuration (for other clients).
        pub fn sdk_config(&self) -> &SdkConfig {
            &self.sdk
        }

        /// The S3 client.
        pub fn client(&self) -> &aws_sdk_s3::Client {
            &self.client
        }

        /// Runs a future on this access's runtime, from a thread outside it.
        pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
            self.runtime.block_on(future)
        }

        /// The folders (common prefixes) directly under `prefix`.
        pub fn list_folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
            self.runtime.block_on(async {
                let mut pages = self
                    .client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .delimiter("/")
                    .into_paginator()
                    .send();
                let mut folders = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| describe(bucket, prefix, e))?;
                    folders.extend(
                        page.common_prefixes()
                            .iter()
                            .filter_map(|c| c.prefix().map(str::to_owned)),
                    );
                }
                Ok(folders)
            })
        }

        /// The log objects under each prefix (digests, Insights and empty objects left out),
        /// `concurrency` listings at a time, in the order of `prefixes` then of keys.
        pub fn list_objects(
            &self,
            bucket: &str,
            prefixes: &[String],
            concurrency: usize,
        ) -> Result<Vec<ObjectRef>, String> {
            let listings: Vec<Result<Vec<ObjectRef>, String>> = self.runtime.block_on(
                futures::stream::iter(prefixes)
                    .map(|prefix| self.list_prefix(bucket, prefix))
                    .buffered(concurrency.max(1))
                    .collect(),
            );
            let mut objects = Vec::new();
            for listing in listings {
                objects.extend(listing?);
            }
            Ok(objects)
        }

        async fn list_prefix(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectRef>, String> {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            let mut objects = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| describe(bucket, prefix, e))?;
                for object in page.contents() {
                    let (Some(key), size) = (object.key(), object.size().unwrap_or(0)) else {
                        continue;
                    };
                    if size > 0 && super::super::walk::is_log_file(Path::new(key)) {
                        objects.push(ObjectRef {
                            bucket: bucket.to_owned(),
                            key: key.to_owned(),
                            size: u64::try_from(size).ok(),
                        });
                    }
                }
            }
            Ok(objects)
        }

        /// Plans the location's prefixes, lists them, and says how much was found on `err`.
        pub fn select(
            &self,
            location: &S3Location,
            selection: &Selection,
            concurrency: usize,
            err: &mut dyn Write,
        ) -> Result<Vec<ObjectRef>, String> {
            let shown = clean(&location.to_string(), 4096);
            let prefixes = Planner::new(selection.clone()).plan(location, |prefix| {
                self.list_folders(&location.bucket, prefix)
            })?;
            let _ = writeln!(
                err,
                "trailwatch: {shown}: listing {} prefixes",
                prefixes.len()
            );
            let objects = self.list_objects(&location.bucket, &prefixes, concurrency)?;
            let bytes: u64 = objects.iter().filter_map(|o| o.size).sum();
            let _ = writeln!(
                err,
                "trailwatch: {shown}: {} log objects, {:.1} MB compressed",
                objects.len(),
                bytes as f64 / 1e6
            );
            if prefixes.is_empty() {
                let _ = writeln!(
                    err,
                    "trailwatch: warning: {shown}: no CloudTrail folder matched (the location should be the trail's bucket and key prefix, holding AWSLogs/)"
                );
            }
            Ok(objects)
        }

        /// Downloads `objects`, `concurrency` at a time, each whole (at most `max_bytes`), and
        /// hands them out in order.
        pub fn fetch(
            &self,
            objects: Vec<ObjectRef>,
            concurrency: usize,
            max_bytes: u64,
        ) -> Fetches<'_> {
            Fetches {
                access: self,
                pending: objects.into_iter(),
                in_flight: VecDeque::new(),
                concurrency: concurrency.max(1),
                max_bytes,
            }
        }
    }

    type Download = tokio::task::JoinHandle<Result<Vec<u8>, String>>;

    /// Objects being downloaded ahead of the one being scanned.
    pub struct Fetches<'a> {
        access: &'a S3Access,
        pending: std::vec::IntoIter<ObjectRef>,
        in_flight: VecDeque<(ObjectRef, Download)>,
        concurrency: usize,
        max_bytes: u64,
    }

    impl Fetches<'_> {
        fn start(&self, object: ObjectRef) -> Download {
            let source = S3Source::new(self.access.client.clone());
            let handle = self.access.runtime.handle().clone();
            let max = self.max_bytes;
            // The source's body is a blocking reader: read it on a blocking thread.
            self.access.runtime.spawn_blocking(move || {
                let url = object.url();
                let opened = handle
                    .block_on(source.open(&object))
                    .map_err(|e| e.to_string())?;
                let too_big = || {
                    format!("{url}: larger than the {max}-byte ceiling (--max-decompressed-bytes)")
                };
                if opened.content_length.is_some_and(|n| n > max) {
                    return Err(too_big());
                }
                let mut body = Vec::with_capacity(opened.content_length.unwrap_or(0) as usize);
                opened
                    .body
                    .take(max.saturating_add(1))
                    .read_to_end(&mut body)
                    .map_err(|e| format!("{url}: download failed: {e}"))?;
                if body.len() as u64 > max {
                    return Err(too_big());
                }
                Ok(body)
            })
        }
    }

    impl Iterator for Fetches<'_> {
        type Item = (ObjectRef, Result<Vec<u8>, String>);

        fn next(&mut self) -> Option<Self::Item> {
            while self.in_flight.len() < self.concurrency {
                let Some(object) = self.pending.next() else {
                    break;
                };
                let download = self.start(object.clone());
                self.in_flight.push_back((object, download));
            }
            let (object, download) = self.in_flight.pop_front()?;
            let body = self
                .access
                .runtime
                .block_on(download)
                .unwrap_or_else(|e| Err(format!("{}: download stopped: {e}", object.url())));
            Some((object, body))
        }
    }

    /// `s3://bucket/prefix: Code: message`, or the whole error chain for a failure with no
    /// service answer (connection, credentials).
    fn describe<E, R>(bucket: &str, prefix: &str, error: SdkError<E, R>) -> String
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let detail = match (&error, error.code()) {
            (SdkError::ServiceError(_), Some(code)) => {
                format!("{code}: {}", error.message().unwrap_or("no message"))
            }
            _ => DisplayErrorContext(&error).to_string(),
        };
        format!("s3://{bucket}/{prefix}: listing failed: {detail}")
    }
}
