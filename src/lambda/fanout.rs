//! The alert topic and the optional other destinations (the chat topic, Security Hub) as one
//! [`AlertSink`], so the processor stays generic over one sink. The sink only routes: which
//! destination gets which alert, and what a failure in one of them means, is decided by
//! [`crate::lambda::delivery`], which claims, publishes and confirms each destination on its
//! own (see its module documentation and the README's Reliability section).

use crate::detector::Alert;
use crate::lambda::chat::chat_sink;
use crate::lambda::config::LambdaConfig;
use crate::lambda::ports::{AlertSink, PublishError};
use crate::lambda::security_hub::SecurityHubSink;
use crate::lambda::sns::SnsSink;

/// Name (dedup claim prefix) of the chat topic destination.
pub const CHAT: &str = "chat";
/// Name (dedup claim prefix) of the Security Hub destination.
pub const SECURITY_HUB: &str = "securityhub";

/// One of the optional destinations.
#[derive(Debug, Clone)]
pub enum OtherDestination {
    /// `CHAT_TOPIC_ARN`: custom notifications for AWS Chatbot / Amazon Q Developer.
    Chat(SnsSink),
    /// `SECURITY_HUB=true`: ASFF findings.
    SecurityHub(SecurityHubSink),
}

impl AlertSink for OtherDestination {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), PublishError>> {
        match self {
            OtherDestination::Chat(sink) => sink.publish(alerts).await,
            OtherDestination::SecurityHub(sink) => sink.publish(alerts).await,
        }
    }
}

/// The main sink and the other destinations, each with its name.
#[derive(Debug, Clone)]
pub struct FanOut<M, O = OtherDestination> {
    main: M,
    names: Vec<&'static str>,
    others: Vec<O>,
}

impl<M, O> FanOut<M, O> {
    /// Only the main destination.
    pub fn new(main: M) -> Self {
        FanOut {
            main,
            names: Vec::new(),
            others: Vec::new(),
        }
    }

    /// Adds a destination called `name` (unique: it keys the destination's dedup claims).
    pub fn with(mut self, name: &'static str, sink: O) -> Self {
        assert!(
            !self.names.contains(&name),
            "destination {name} added twice"
        );
        self.names.push(name);
        self.others.push(sink);
        self
    }
}

impl FanOut<SnsSink> {
    /// The alert topic's sink and whatever `config` adds (`CHAT_TOPIC_ARN`, `SECURITY_HUB`),
    /// with clients from `aws`.
    pub fn from_config(main: SnsSink, config: &LambdaConfig, aws: &aws_config::SdkConfig) -> Self {
        let mut sink = FanOut::new(main);
        if let Some(topic) = &config.chat_topic_arn {
            let client = aws_sdk_sns::Client::new(aws);
            sink = sink.with(
                CHAT,
                OtherDestination::Chat(chat_sink(client, topic.clone())),
            );
        }
        if let Some(importer) = &config.security_hub {
            let client = aws_sdk_securityhub::Client::new(aws);
            sink = sink.with(
                SECURITY_HUB,
                OtherDestination::SecurityHub(SecurityHubSink::new(client, importer.clone())),
            );
        }
        sink
    }
}

impl<M: AlertSink, O: AlertSink> AlertSink for FanOut<M, O> {
    async fn publish(&self, alerts: &[Alert]) -> Vec<Result<(), PublishError>> {
        self.main.publish(alerts).await
    }

    fn other_destinations(&self) -> &[&'static str] {
        &self.names
    }

    async fn publish_other(&self, index: usize, alerts: &[Alert]) -> Vec<Result<(), PublishError>> {
        match self.others.get(index) {
            Some(sink) => sink.publish(alerts).await,
            None => alerts
                .iter()
                .map(|alert| {
                    Err(PublishError::new(
                        alert,
                        format!("no destination number {index}"),
                    ))
                })
                .collect(),
        }
    }
}
