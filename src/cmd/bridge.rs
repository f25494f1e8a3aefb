//! `mqk bridge`: forward every message of an MQTT filter to a Kafka topic, at least once and
//! in order.
//!
//! The bridge subscribes on a persistent session with manual acknowledgement. Each message
//! is produced to Kafka (key = MQTT topic, payload unchanged) and queued; the queue is
//! released strictly from the front, and a message is acknowledged on MQTT only once Kafka
//! acknowledged its record. A crash therefore loses nothing: whatever was not acknowledged
//! is redelivered by the broker when the bridge returns. While Kafka is unreachable the
//! queue stops draining and acknowledgements stop; once `inflight` messages wait for Kafka
//! the bridge stops reading from the broker, so memory stays bounded even with a broker that
//! does not hold back (Mosquitto 2.0.11 keeps sending past its in-flight limit once
//! acknowledgements flow). The broker keeps the rest: back-pressure, never loss.
//!
//! A record Kafka refuses for good (too large, not authorised) stops the bridge with an
//! error; the message is not acknowledged, so it stays with the broker.
//!
//! On MQTT 5 a topic's retained message is forwarded once: the bridge subscribes with
//! retain handling 1, so a resumed session is not sent it again. MQTT 3.1.1 has no such
//! option, and every subscription brings the retained messages again; they are forwarded
//! again rather than guessed at, since a retained message that was never forwarded looks the
//! same. Messages outside the filter, from a subscription an earlier run left in the session
//! under the same `-i`, are acknowledged in their turn without being forwarded.

use std::collections::VecDeque;
use std::time::Duration;

use crate::Interrupts;
use crate::exit::{self, Code, err};
use crate::kafka::{self, Delivery, Producer, Reliability};
use crate::mqtt::{AckToken, Connection, Event, Message};
use crate::record::Envelope;
use crate::settings::BridgeSettings;
use crate::topic;

/// A message produced to Kafka (or skipped) and not yet acknowledged on MQTT.
struct InFlight {
    /// `None` for a message not forwarded, acknowledged in its turn.
    delivery: Option<Delivery>,
    ack: AckToken,
    /// Connection generation it arrived on: after a reconnect the broker redelivers it, and
    /// the connection drops the old acknowledgement, so it does not count as acknowledged.
    generation: u64,
    topic: String,
}

/// What the bridge did, printed when it stops.
#[derive(Debug, Default)]
struct Counts {
    forwarded: u64,
    redelivered: u64,
    acknowledged: u64,
    /// Messages of a subscription the session holds from another filter.
    outside_filter: u64,
}

/// Runs the bridge until the first interrupt, then drains and reports. A second interrupt
/// stops the drain: what Kafka has not acknowledged stays unacknowledged on MQTT.
pub async fn run(settings: BridgeSettings, interrupts: &mut Interrupts) -> anyhow::Result<()> {
    kafka::ensure_topic(&settings.kafka, &settings.topic, settings.create).await?;
    let window = usize::from(settings.mqtt.inflight);
    let producer = Producer::new(&settings.kafka, Reliability::Unbounded, window)?;
    let mut connection = Connection::new(&settings.mqtt)?;
    let mut queue: VecDeque<InFlight> = VecDeque::new();
    let mut counts = Counts::default();
    let mut generation = 0;
    let mut ready = false;
    let mut draining = false;
    // A record the producer refused at once: the bridge drains what went before, then stops.
    let mut refused: Option<anyhow::Error> = None;

    let result = loop {
        if draining && queue.is_empty() {
            break refused.map_or(Ok(()), Err);
        }
        tokio::select! {
            () = interrupts.next() => {
                if draining {
                    break Err(err(Code::Interrupted, format!(
                        "stopped before Kafka acknowledged {}; they were not acknowledged on \
                         MQTT, and the broker delivers them again to the next run on this \
                         session", super::messages(queue.len() as u64))));
                }
                tracing::info!(
                    "stopping: waiting for Kafka to acknowledge {} in flight (interrupt again \
                     to stop without waiting; they stay with the MQTT broker)",
                    super::messages(queue.len() as u64)
                );
                draining = true;
            }
            outcome = front(&mut queue), if !queue.is_empty() => {
                let done = queue.pop_front().expect("guarded");
                if let Err(e) = outcome {
                    break Err(err(Code::Failure, format!(
                        "kafka refused the record of MQTT topic '{}': {e}; it was not acknowledged \
                         and stays with the MQTT broker", done.topic)));
                }
                if done.generation == generation {
                    connection.ack(done.ack);
                    counts.acknowledged += 1;
                }
            }
            event = connection.poll(), if queue.len() < window || draining => match event {
                Ok(Event::Connected { session_present }) => {
                    generation += 1;
                    if !session_present && generation > 1 {
                        tracing::warn!("the broker did not keep the bridge's session");
                    }
                    // Also on a resumed session: with `-i` it may hold another filter's
                    // subscription. MQTT 5 brokers are asked not to send the retained messages
                    // again for a subscription the session has (retain handling 1).
                    let filters = std::slice::from_ref(&settings.filter);
                    connection.subscribe(filters, settings.qos, false)?;
                }
                Ok(Event::Subscribed(granted)) => {
                    if let Some(Err(reason)) = granted.first() {
                        break Err(err(Code::Refused, format!(
                            "the broker refused the subscription to '{}': {reason}",
                            settings.filter)));
                    }
                    if !ready {
                        announce_ready(&settings, connection.address());
                        ready = true;
                    }
                }
                Ok(Event::Message(message)) if !draining => {
                    if counts.skips(&settings, &message) {
                        let (ack, topic) = (message.ack_token(), message.topic);
                        queue.push_back(InFlight { delivery: None, ack, generation, topic });
                        continue;
                    }
                    counts.forwarded += 1;
                    counts.redelivered += u64::from(message.dup);
                    let record = Envelope {
                        key: Some(message.topic.as_bytes().to_vec()),
                        payload: Some(message.payload.to_vec()),
                        ..Default::default()
                    };
                    let delivery = match producer.send(&settings.topic, &record) {
                        Ok(delivery) => delivery,
                        Err(e) => {
                            refused = Some(err(Code::Failure, format!(
                                "cannot produce the message of MQTT topic '{}': {e}; it was \
                                 not acknowledged and stays with the MQTT broker",
                                message.topic)));
                            draining = true;
                            continue;
                        }
                    };
                    let ack = message.ack_token();
                    queue.push_back(InFlight {
                        delivery: Some(delivery), ack, generation, topic: message.topic,
                    });
                }
                Ok(_) => {}
                Err(e) if !ready && generation == 0 => break Err(e),
                Err(e) if exit::code_of(&e) == Code::Refused => break Err(e),
                Err(e) => {
                    let broker = connection.address();
                    tracing::warn!(broker, error = %e, "MQTT connection lost, reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    };

    // Interrupted twice: the user is waiting, and nothing more will be acknowledged.
    let patience = if result.is_err() { 5 } else { 30 };
    connection.disconnect(Duration::from_secs(patience)).await;
    producer.flush(Duration::from_secs(1));
    eprintln!(
        "bridge stopped: {} forwarded ({} carried the DUP flag), {} acknowledged",
        super::messages(counts.forwarded),
        counts.redelivered,
        counts.acknowledged
    );
    if counts.outside_filter > 0 {
        eprintln!(
            "bridge skipped {} outside '{}': the session '{}' also holds a subscription made \
             with another filter",
            super::messages(counts.outside_filter),
            settings.filter,
            settings.mqtt.client_id
        );
    }
    result
}

impl Counts {
    /// Whether `message` is one not to forward, counting it: a message outside the filter,
    /// from a subscription an earlier run with another filter left in the session under the
    /// same `-i`.
    fn skips(&mut self, settings: &BridgeSettings, message: &Message) -> bool {
        if topic::matches(&settings.filter, &message.topic) {
            return false;
        }
        if self.outside_filter == 0 {
            tracing::warn!(
                topic = message.topic,
                "a message outside the filter: the session holds another subscription"
            );
        }
        self.outside_filter += 1;
        true
    }
}

/// The outcome of the oldest message in flight; the caller checks the queue is not empty.
async fn front(queue: &mut VecDeque<InFlight>) -> anyhow::Result<()> {
    match &mut queue.front_mut().expect("guarded by the caller").delivery {
        Some(delivery) => delivery.await.map(|_| ()),
        None => Ok(()),
    }
}

fn announce_ready(settings: &BridgeSettings, address: &str) {
    eprintln!(
        "ready: bridging mqtt://{address}/{} to kafka://{}/{} as client '{}' (QoS {})",
        settings.filter,
        settings.kafka.brokers,
        settings.topic,
        settings.mqtt.client_id,
        settings.qos
    );
}
