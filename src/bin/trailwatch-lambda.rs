//! `trailwatch-lambda`: the AWS Lambda entry point. It only wires: configuration and clients
//! are built once per cold start ([`trailwatch::lambda::wiring`]), then every invocation goes
//! to the processor.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use trailwatch::lambda::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    wiring::init_tracing();
    let (processor, reloader) = wiring::processor_from_env().await?;
    let (processor, reloader) = (Arc::new(processor), reloader.map(Arc::new));
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
