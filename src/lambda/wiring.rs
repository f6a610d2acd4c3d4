//! Cold-start wiring for the Lambda binary: logging, configuration (environment and tuning
//! file), the AWS clients and the processor built from them, once per container.

use crate::lambda::dynamo::DynamoDedupStore;
use crate::lambda::fanout::FanOut;
use crate::lambda::reload::{TuningClients, TuningReloader};
use crate::lambda::s3::S3Source;
use crate::lambda::sns::SnsSink;
use crate::lambda::window_store::{DynamoWindowStore, WindowCounters};
use crate::lambda::{LambdaConfig, Processor};

/// The processor as deployed: S3 in, SNS out (with the chat topic and Security Hub when
/// configured), the DynamoDB dedup table when configured.
pub type LambdaProcessor = Processor<S3Source, FanOut<SnsSink>, Option<DynamoDedupStore>>;

/// JSON logs for CloudWatch; the level from `RUST_LOG`, `info` when unset or invalid.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .init();
}

/// Reads the configuration, loads the tuning file when `TRAILWATCH_CONFIG` names one (the
/// environment wins over it) and builds the clients and the processor, with the reloader that
/// re-reads the tuning file every `CONFIG_RELOAD_SECONDS`. Any error stops the cold start,
/// logged with its cause.
pub async fn processor_from_env()
-> Result<(LambdaProcessor, Option<TuningReloader>), lambda_runtime::Error> {
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
    let dynamodb = config
        .dedup_table
        .as_ref()
        .map(|table| (aws_sdk_dynamodb::Client::new(&aws), table.clone()));
    let dedup = dynamodb
        .clone()
        .map(|(client, table)| DynamoDedupStore::new(client, table));
    // Threshold windows live in the dedup table when there is one (shared by every invocation).
    let windows = match dynamodb {
        Some((client, table)) => WindowCounters::Table(DynamoWindowStore::new(client, table)),
        None => WindowCounters::default(),
    };
    // The alert topic, and the chat topic and Security Hub when configured.
    let sink = FanOut::from_config(
        SnsSink::new(
            aws_sdk_sns::Client::new(&aws),
            config.alert_topic_arn.clone(),
        ),
        &config,
        &aws,
    );
    let processor = Processor::new(S3Source::new(s3), sink, dedup, config)?.with_windows(windows);
    Ok((processor, reloader))
}
