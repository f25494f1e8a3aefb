//! Producing with one delivery report per record: idempotent, `acks=all`, records of one
//! key in one partition in the order they were sent.

use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};

use super::{Context, KafkaSettings};
use crate::record::Envelope;

/// How long a record may wait for its acknowledgement.
#[derive(Clone, Copy, Debug)]
pub enum Reliability {
    /// Give up after this long and report the record as failed (`pub`).
    Bounded(Duration),
    /// Retry until the cluster takes it, holding back everything behind it (`bridge`): an
    /// outage becomes back-pressure, never loss.
    Unbounded,
}

/// An idempotent producer.
pub struct Producer {
    inner: FutureProducer<Context>,
    /// `message.max.bytes` as configured, for the error of a record too large.
    max_bytes: String,
}

impl Producer {
    /// `window` is the most records the caller will have in flight at once.
    pub fn new(
        settings: &KafkaSettings,
        reliability: Reliability,
        window: usize,
    ) -> anyhow::Result<Self> {
        let timeout_ms = match reliability {
            Reliability::Bounded(limit) => limit.as_millis().max(1).to_string(),
            Reliability::Unbounded => "0".into(),
        };
        let inner = settings.create(
            &[
                ("enable.idempotence", "true".into()),
                ("acks", "all".into()),
                ("linger.ms", "5".into()),
                ("message.timeout.ms", timeout_ms),
                (
                    "queue.buffering.max.messages",
                    (window * 2 + 1000).to_string(),
                ),
            ],
            Context::default(),
        )?;
        let max_bytes = settings
            .overrides
            .iter()
            .rfind(|(key, _)| key == "message.max.bytes")
            .map_or_else(|| "1000000".to_owned(), |(_, value)| value.clone());
        Ok(Producer { inner, max_bytes })
    }

    /// Queues one record for `topic`; the returned [`Delivery`] resolves with its outcome.
    pub fn send(&self, topic: &str, record: &Envelope) -> anyhow::Result<Delivery> {
        let mut future = FutureRecord::<[u8], [u8]>::to(topic);
        if let Some(key) = &record.key {
            future = future.key(key.as_slice());
        }
        if let Some(payload) = &record.payload {
            future = future.payload(payload.as_slice());
        }
        if let Some(timestamp) = record.timestamp {
            future = future.timestamp(timestamp);
        }
        if let Some(headers) = &record.headers {
            let owned = headers.iter().fold(OwnedHeaders::new(), |all, h| {
                all.insert(Header {
                    key: &h.name,
                    value: h.value.as_deref(),
                })
            });
            future = future.headers(owned);
        }
        match self.inner.send_result(future) {
            Ok(delivery) => Ok(Delivery(delivery)),
            Err((e, _))
                if e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge) =>
            {
                let size = record.payload_bytes().len() + record.key.as_ref().map_or(0, Vec::len);
                Err(anyhow::anyhow!(
                    "message too large ({size} > {} bytes of message.max.bytes; raise it with \
                     -X message.max.bytes=N, and the topic's max.message.bytes)",
                    self.max_bytes
                ))
            }
            Err((e, _)) => Err(anyhow::anyhow!("{}", describe(&e))),
        }
    }

    /// Waits for every queued record's delivery report, at most `limit`.
    pub fn flush(&self, limit: Duration) {
        let _ = self.inner.flush(limit);
    }
}

/// The outcome of one record: its partition and offset, or why the cluster refused it.
pub struct Delivery(DeliveryFuture);

impl Future for Delivery {
    type Output = anyhow::Result<(i32, i64)>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|outcome| match outcome {
            Ok(Ok(delivery)) => Ok((delivery.partition, delivery.offset)),
            Ok(Err((e, _))) => Err(anyhow::anyhow!("{}", describe(&e))),
            Err(_) => Err(anyhow::anyhow!(
                "the producer stopped before the record was acknowledged"
            )),
        })
    }
}

/// librdkafka's errors in plainer words where the usual wording hides the cause.
fn describe(error: &KafkaError) -> String {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => {
            "message too large for message.max.bytes (raise it with -X message.max.bytes=N, \
             and the topic's max.message.bytes)"
                .into()
        }
        Some(RDKafkaErrorCode::QueueFull) => "the producer's local queue is full".into(),
        Some(RDKafkaErrorCode::MessageTimedOut) => {
            "no acknowledgement from the cluster before the delivery timeout".into()
        }
        _ => error.to_string(),
    }
}
