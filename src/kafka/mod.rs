//! Kafka clients for every subcommand: checking and creating topics, producing with delivery
//! reports, and consuming assigned partitions from a chosen position.
//!
//! librdkafka does its work on background threads. A produced record sits in a local queue
//! until a broker acknowledges it; the outcome arrives later as a delivery report, which
//! rdkafka's `FutureProducer` turns into a future per record. Errors surface in three places:
//! at `send` (the local queue is full, or the record is too large), in the delivery report
//! (the broker refused the record, or `message.timeout.ms` expired), and in metadata (the
//! topic does not exist). `mqk` checks metadata before producing, so a missing topic fails
//! fast instead of after the delivery timeout.
//!
//! Brokers differ in how they treat unknown topics: tansu never creates one; librdkafka's
//! mock cluster creates any topic a metadata request allows it to. `mqk` never asks for
//! automatic creation, and creates topics only when told to, through the CreateTopics API.

mod admin;
mod consume;
mod context;
mod produce;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::KafkaError;

use crate::exit::{Code, err};

pub use admin::{create_topic, ensure_topic};
pub use consume::{Consumer, Position, Received};
pub use context::Context;
pub use produce::{Delivery, Producer, Reliability};

/// Everything needed to reach a cluster, already validated.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// librdkafka properties given with `-X key=value`, applied last.
    pub overrides: Vec<(String, String)>,
    /// How long to wait for metadata (topic checks) before calling the cluster unreachable.
    pub metadata_timeout: Duration,
}

impl KafkaSettings {
    /// A client configuration with the bootstrap list and the overrides applied on top of
    /// `base`.
    fn config(&self, base: &[(&str, String)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        config.set("client.id", "mqk");
        for (key, value) in base {
            config.set(*key, value);
        }
        for (key, value) in &self.overrides {
            config.set(key, value);
        }
        config
    }

    /// A client of `base` with the overrides on top. librdkafka checks how properties go
    /// together (`sasl.mechanism` without `sasl.username`, say) only when a client is created,
    /// which is before it connects, so with `-X` given that refusal is a usage error.
    fn create<C>(&self, base: &[(&str, String)], context: Context) -> anyhow::Result<C>
    where
        C: FromClientConfigAndContext<Context>,
    {
        self.config(base)
            .create_with_context(context)
            .map_err(|e| match e {
                KafkaError::ClientCreation(why) if !self.overrides.is_empty() => err(
                    Code::Usage,
                    format!("-X properties do not go together: {why}"),
                ),
                other => other.into(),
            })
    }
}

/// Hands `-X` properties to a librdkafka configuration without creating a client (which would
/// start connecting): an unknown key, or a value librdkafka does not take, comes back in
/// librdkafka's own words, as `KEY=VALUE: why`. Combinations librdkafka only refuses when a
/// client is created still fail then.
pub fn check_properties(properties: &[(String, String)]) -> Result<(), String> {
    let mut config = ClientConfig::new();
    for (key, value) in properties {
        config.set(key, value);
    }
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(KafkaError::ClientConfig(_, why, key, value)) => Err(format!("{key}={value}: {why}")),
        Err(other) => Err(other.to_string()),
    }
}

/// The librdkafka version and the compression codecs it was built with, as librdkafka
/// itself reports them (`builtin.features`), for `mqk --version`.
pub fn build_info() -> String {
    let (_, version) = rdkafka::util::get_rdkafka_version();
    let features = ClientConfig::new()
        .create_native_config()
        .and_then(|native| native.get("builtin.features"))
        .unwrap_or_default();
    let codecs: Vec<&str> = features
        .split(',')
        .filter(|f| matches!(*f, "gzip" | "snappy" | "lz4" | "zstd"))
        .collect();
    format!("librdkafka {version}, compression: {}", codecs.join(" "))
}
