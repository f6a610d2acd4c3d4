//! `trailwatch-lambda`: the AWS Lambda entry point. It only wires: configuration and clients
//! are built once per cold start, then every invocation goes to the processor.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use trailwatch::detector::Alert;
use trailwatch::lambda::dynamo::DynamoDedupStore;
use trailwatch::lambda::fanout::FanOut;
use trailwatch::lambda::ports::{Claim, DedupStore, NoDedupStore};
use trailwatch::lambda::reload::{TuningClients, TuningReloader};
use trailwatch::lambda::s3::S3Source;
use trailwatch::lambda::sns::SnsSink;
use trailwatch::lambda::window_store::{DynamoWindowStore, WindowCounters};
use trailwatch::lambda::{LambdaConfig, Processor};

/// The dedup store chosen by `DEDUP_TABLE`.
enum Dedup {
    Table(DynamoDedupStore),
    InvocationOnly(NoDedupStore),
}

impl DedupStore for Dedup {
    async fn claim(&self, alert: &Alert, lease_until: SystemTime) -> Result<Claim, String> {
        match self {
            Dedup::Table(s) => s.claim(alert, lease_until).await,
            Dedup::InvocationOnly(s) => s.claim(alert, lease_until).await,
        }
    }
    async fn confirm(&self, alert: &Alert, token: &str) -> Result<(), String> {
        match self {
            Dedup::Table(s) => s.confirm(alert, token).await,
            Dedup::InvocationOnly(s) => s.confirm(alert, token).await,
        }
    }
    async fn release(&self, alert: &Alert, token: &str) -> Result<(), String> {
        match self {
            Dedup::Table(s) => s.release(alert, token).await,
            Dedup::InvocationOnly(s) => s.release(alert, token).await,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .init();

    let config = LambdaConfig::from_env().inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Local emulators (AWS_ENDPOINT_URL) need path-style bucket addressing.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(path_style)
            .build(),
    );
    // TRAILWATCH_CONFIG: the tuning file, loaded and validated once (the environment wins),
    // then re-read every CONFIG_RELOAD_SECONDS at the start of an invocation.
    let reloader = config.tuning_source.clone().map(|source| {
        let clients = TuningClients {
            s3: s3.clone(),
            ssm: aws_sdk_ssm::Client::new(&aws),
        };
        let task_root = std::env::var_os("LAMBDA_TASK_ROOT").map(std::path::PathBuf::from);
        TuningReloader::new(
            source,
            clients,
            task_root,
            config.config_reload_interval,
            |name| std::env::var(name).ok(),
        )
    });
    let config = match &reloader {
        Some(reloader) => reloader
            .load_initial()
            .await
            .inspect_err(|e| tracing::error!(error = %e, "invalid tuning file"))?,
        None => config,
    };
    let reloader = reloader.map(Arc::new);
    let sns = aws_sdk_sns::Client::new(&aws);
    let dedup = match &config.dedup_table {
        Some(table) => Dedup::Table(DynamoDedupStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table.clone(),
        )),
        None => Dedup::InvocationOnly(NoDedupStore),
    };
    // The alert topic, and the chat topic and Security Hub when configured.
    let sink = FanOut::from_config(
        SnsSink::new(sns, config.alert_topic_arn.clone()),
        &config,
        &aws,
    );
    // Threshold windows live in the dedup table when there is one (shared by every invocation).
    let windows = match &config.dedup_table {
        Some(table) => WindowCounters::Table(DynamoWindowStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table.clone(),
        )),
        None => WindowCounters::default(),
    };
    let processor =
        Arc::new(Processor::new(S3Source::new(s3), sink, dedup, config)?.with_windows(windows));

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let processor = Arc::clone(&processor);
        let reloader = reloader.clone();
        // The runtime stops the invocation at its deadline (epoch milliseconds); claims made
        // by this run must outlive it, and only just.
        let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        async move {
            if let Some(reloader) = &reloader {
                reloader.refresh(&processor).await;
            }
            processor
                .handle_until(event.payload, deadline)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
