//! The AWS Lambda adapter: it owns all I/O around the pure detector library.
//!
//! - [`events`]: which objects an invocation names (S3, SQS, SNS, EventBridge, CloudTrail
//!   notices, S3 Batch Operations) and the response each source expects.
//! - [`handler`]: fetch, scan, gate; [`outcome`]: what became of each object.
//! - [`delivery`]: claim → publish → confirm in bounded batches while an object is scanned.
//! - [`ports`]: the traits the handler is generic over; [`s3`], [`sns`], [`dynamo`] implement
//!   them with the AWS SDK ([`sns::message`] is the pure message shaping).
//! - [`fanout`]: the alert topic plus the optional [`chat`] topic and [`security_hub`] as one
//!   sink; each destination is claimed and confirmed on its own.
//! - [`config`]: environment variables, validated once at cold start; [`wiring`]: the cold
//!   start itself (clients and processor), so the binary only hands it to the runtime.
//! - [`metrics`]: CloudWatch Embedded Metric Format lines.
//! - [`reload`]: the tuning file from a bundled file, S3 or SSM, re-read with keep-last-good;
//!   [`tuning_metrics`]: per-exception and reload metrics.
//! - [`window_store`]: threshold-rule windows across invocations (DynamoDB) and the gate call.

pub mod chat;
pub mod config;
pub mod delivery;
pub mod dynamo;
pub mod events;
pub mod fanout;
pub mod handler;
pub mod metrics;
pub mod outcome;
pub mod ports;
pub mod reload;
pub mod s3;
pub mod sdk_retry;
pub mod security_hub;
pub mod sns;
pub mod tuning_metrics;
pub mod window_store;
pub mod wiring;

pub use config::LambdaConfig;
pub use events::HandlerError;
pub use handler::Processor;
pub use outcome::{ObjectOutcome, ObjectReport};

#[cfg(test)]
mod tests;
