//! What librdkafka reports outside of any one record (broker connections failing, a cluster
//! going down) turned into `mqk`'s own log events.
//!
//! librdkafka's internal log is debug-level here: it repeats, per connection attempt, what
//! the error callback says once. End-of-partition is not an error at all; it is handled by
//! the consumer and never logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// The context of every Kafka client of `mqk`.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Keep client-level errors out of the log: for short probes whose caller reports
    /// failure itself.
    pub quiet: bool,
    /// Set once librdkafka reports that no bootstrap broker could be reached, so a probe can
    /// give up at once instead of waiting out its timeout.
    pub all_brokers_down: Arc<AtomicBool>,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        tracing::debug!(target: "mqk::kafka::librdkafka", ?level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        if code == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.all_brokers_down.store(true, Ordering::Relaxed);
        }
        let end_of_partition = code == Some(RDKafkaErrorCode::PartitionEOF);
        if !self.quiet && !end_of_partition {
            tracing::warn!(target: "mqk::kafka", %error, reason, "kafka client error");
        }
    }
}

impl ConsumerContext for Context {}
