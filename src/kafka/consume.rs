//! Consuming every partition of some topics from the beginning or the end, without a
//! consumer group and without committing anything.
//!
//! Each topic gets its own librdkafka consumer on its own task, so that an end-of-partition
//! event (which names only a partition number) is known to belong to its topic. The tasks
//! feed one bounded channel; a full channel holds them back.
//!
//! Where a partition ends is learned from fetching, not from ListOffsets alone: tansu 0.6
//! answers ListOffsets(latest) with the base offset of the last record batch plus one, short
//! of the real end whenever that batch holds more than one record, and it cannot fetch from
//! an offset inside a batch. Starting "at the end" therefore starts one before the reported
//! end (the last record on Kafka, the start of the last batch on tansu), reads on and
//! discards up to the first end-of-partition event; only then is the consumer ready, and
//! everything produced afterwards is read.

use std::collections::HashSet;

use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;

use super::{Context, KafkaSettings, ensure_topic};
use crate::record::{Envelope, Header};

/// Where reading starts in every partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Position {
    /// The oldest record still stored.
    Beginning,
    /// Only records produced after `ready`.
    End,
}

/// What [`Consumer::next`] yields.
pub enum Received {
    Record(Box<Envelope>),
    /// Every partition has been read to its end (only when asked to stop there).
    End,
}

/// What a topic's task reports.
enum Report {
    /// Positioned: from here on, every record produced is read.
    Ready,
    Record(Box<Envelope>),
    /// The partition of this topic was read to its current end.
    Eof(String, i32),
}

/// A consumer of every partition of some topics.
pub struct Consumer {
    reports: mpsc::Receiver<anyhow::Result<Report>>,
    /// Partitions not yet read to their end; `None` when reading goes on forever.
    unfinished: Option<HashSet<(String, i32)>>,
}

impl Consumer {
    /// Assigns every partition of `topics` at `position` and returns once positioned. Fails
    /// if a topic does not exist.
    pub async fn assign(
        settings: &KafkaSettings,
        topics: &[String],
        position: Position,
        stop_at_end: bool,
    ) -> anyhow::Result<Consumer> {
        let (tx, mut reports) = mpsc::channel(256);
        let mut partitions = HashSet::new();
        for topic in topics {
            let count = i32::try_from(ensure_topic(settings, topic, None).await?)?;
            partitions.extend((0..count).map(|p| (topic.clone(), p)));
            let consumer = create(settings)?;
            let list = match position {
                Position::Beginning => {
                    let mut list = TopicPartitionList::new();
                    for partition in 0..count {
                        list.add_partition_offset(topic, partition, Offset::Beginning)?;
                    }
                    list
                }
                Position::End => near_end(settings, topic, count).await?,
            };
            consumer.assign(&list)?;
            tokio::spawn(read_topic(
                consumer,
                topic.clone(),
                count,
                position,
                tx.clone(),
            ));
        }
        drop(tx);
        let mut waiting = topics.len();
        while waiting > 0 {
            match reports.recv().await {
                Some(Ok(Report::Ready)) => waiting -= 1,
                Some(Ok(_)) => unreachable!("a topic task reports nothing before it is ready"),
                Some(Err(e)) => return Err(e),
                None => anyhow::bail!("the kafka consumer stopped while starting"),
            }
        }
        // Starting at the end, every partition has just been read to its end.
        let unfinished = match position {
            Position::Beginning => partitions,
            Position::End => HashSet::new(),
        };
        Ok(Consumer {
            reports,
            unfinished: stop_at_end.then_some(unfinished),
        })
    }

    /// The next record, or [`Received::End`] once every partition is read to its end.
    pub async fn next(&mut self) -> anyhow::Result<Received> {
        loop {
            if self.unfinished.as_ref().is_some_and(HashSet::is_empty) {
                return Ok(Received::End);
            }
            match self.reports.recv().await {
                Some(Ok(Report::Record(envelope))) => return Ok(Received::Record(envelope)),
                Some(Ok(Report::Eof(topic, partition))) => {
                    if let Some(unfinished) = &mut self.unfinished {
                        unfinished.remove(&(topic, partition));
                    }
                }
                Some(Ok(Report::Ready)) => {}
                Some(Err(e)) => return Err(e),
                None => anyhow::bail!("the kafka consumer stopped"),
            }
        }
    }
}

/// Every partition of `topic` at one record before its reported end (see the module doc).
async fn near_end(
    settings: &KafkaSettings,
    topic: &str,
    count: i32,
) -> anyhow::Result<TopicPartitionList> {
    let probe = create(settings)?;
    let (topic, timeout) = (topic.to_owned(), settings.metadata_timeout);
    tokio::task::spawn_blocking(move || {
        let mut list = TopicPartitionList::new();
        for partition in 0..count {
            let (low, high) = probe.fetch_watermarks(&topic, partition, timeout)?;
            let start = if high > low { high - 1 } else { high };
            list.add_partition_offset(&topic, partition, Offset::Offset(start))?;
        }
        Ok(list)
    })
    .await?
}

/// Reads one topic and reports to `tx` until the receiver goes away.
async fn read_topic(
    consumer: StreamConsumer<Context>,
    topic: String,
    partitions: i32,
    position: Position,
    tx: mpsc::Sender<anyhow::Result<Report>>,
) {
    if position == Position::End {
        let mut at_end = HashSet::new();
        while at_end.len() < usize::try_from(partitions).unwrap_or(0) {
            match consumer.recv().await {
                Ok(_) => {}
                Err(KafkaError::PartitionEOF(partition)) => {
                    at_end.insert(partition);
                }
                Err(e) if passing(&e) => {}
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            }
        }
    }
    if tx.send(Ok(Report::Ready)).await.is_err() {
        return;
    }
    loop {
        let report = match consumer.recv().await {
            Ok(message) => Ok(Report::Record(Box::new(envelope(&message)))),
            Err(KafkaError::PartitionEOF(partition)) => Ok(Report::Eof(topic.clone(), partition)),
            // librdkafka reconnects by itself, and the context has logged it; reading resumes
            // where it stopped, as an MQTT `sub` resumes after a reconnect.
            Err(e) if passing(&e) => continue,
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("cannot read kafka topic '{topic}'")))
            }
        };
        let failed = report.is_err();
        if tx.send(report).await.is_err() || failed {
            return;
        }
    }
}

/// Whether a consumer error is about the connection to the cluster, which librdkafka
/// recovers from by itself, rather than about the topic or this client.
fn passing(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as E;
    matches!(
        error.rdkafka_error_code(),
        Some(
            E::BrokerTransportFailure
                | E::AllBrokersDown
                | E::NetworkException
                | E::RequestTimedOut
                | E::OperationTimedOut
                | E::LeaderNotAvailable
                | E::NotLeaderForPartition
                | E::BrokerNotAvailable
                | E::Resolve
        )
    )
}

fn create(settings: &KafkaSettings) -> anyhow::Result<StreamConsumer<Context>> {
    settings.create(
        &[
            ("group.id", format!("mqk-sub-{}", std::process::id())),
            ("enable.auto.commit", "false".into()),
            ("enable.auto.offset.store", "false".into()),
            ("allow.auto.create.topics", "false".into()),
            ("enable.partition.eof", "true".into()),
        ],
        Context::default(),
    )
}

fn envelope(message: &BorrowedMessage<'_>) -> Envelope {
    let headers = message.headers().map(|headers| {
        headers
            .iter()
            .map(|h| Header {
                name: h.key.to_owned(),
                value: h.value.map(<[u8]>::to_vec),
            })
            .collect()
    });
    Envelope {
        topic: Some(message.topic().to_owned()),
        payload: message.payload().map(<[u8]>::to_vec),
        key: message.key().map(<[u8]>::to_vec),
        headers,
        partition: Some(message.partition()),
        offset: Some(message.offset()),
        timestamp: message.timestamp().to_millis(),
        ..Default::default()
    }
}
