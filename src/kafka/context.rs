//! What librdkafka reports outside of any one record (broker connections failing, a cluster
//! going down) turned into `mqk`'s own log events.
//!
//! librdkafka's internal log is debug-level here: it repeats, per connection attempt, what
//! the error callback says once. End-of-partition is not an error at all; it is handled by
//! the consumer and never logged.

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// The context of every Kafka client of `mqk`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context {
    /// Keep client-level errors out of the log: for short probes whose caller reports
    /// failure itself.
    pub quiet: bool,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        tracing::debug!(target: "mqk::kafka::librdkafka", ?level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let end_of_partition = error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF);
        if !self.quiet && !end_of_partition {
            tracing::warn!(target: "mqk::kafka", %error, reason, "kafka client error");
        }
    }
}

impl ConsumerContext for Context {}
