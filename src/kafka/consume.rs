//! Consuming explicitly assigned partitions from the beginning or the end, without a
//! consumer group and without committing anything.
//!
//! Partitions are assigned at resolved offsets, so once [`Consumer::assign`] returns, every
//! record produced afterwards will be read: this is what `sub` announces as `ready`.

use std::collections::HashMap;

use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use rdkafka::{Offset, TopicPartitionList};

use super::{KafkaSettings, ensure_topic};
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
    Record(Envelope),
    /// Every partition has been read up to where it ended when reading started.
    End,
}

/// A consumer of every partition of some topics.
pub struct Consumer {
    inner: StreamConsumer,
    /// Partitions not yet read to their end offset at start, with that offset; only kept when
    /// the caller wants to stop at the end.
    unfinished: Option<HashMap<(String, i32), i64>>,
}

impl Consumer {
    /// Assigns every partition of `topics` at `position`. Fails if a topic does not exist.
    pub async fn assign(
        settings: &KafkaSettings,
        topics: &[String],
        position: Position,
        stop_at_end: bool,
    ) -> anyhow::Result<Consumer> {
        let mut counts = Vec::new();
        for topic in topics {
            counts.push((topic.clone(), ensure_topic(settings, topic, None).await?));
        }
        let probe = settings.clone();
        let (assignment, ends) =
            tokio::task::spawn_blocking(move || resolve_offsets(&probe, &counts, position))
                .await??;
        let inner = create(settings)?;
        inner.assign(&assignment)?;
        let unfinished = stop_at_end.then(|| {
            let unread = ends.into_iter().filter(|(_, (start, end))| start < end);
            unread.map(|(partition, (_, end))| (partition, end)).collect()
        });
        Ok(Consumer { inner, unfinished })
    }

    /// The next record, or [`Received::End`] once every partition is read to its end.
    pub async fn next(&mut self) -> anyhow::Result<Received> {
        loop {
            if self.unfinished.as_ref().is_some_and(HashMap::is_empty) {
                return Ok(Received::End);
            }
            match self.inner.recv().await {
                Ok(message) => {
                    let envelope = envelope(&message);
                    if let Some(unfinished) = &mut self.unfinished {
                        let key = (message.topic().to_owned(), message.partition());
                        if unfinished.get(&key).is_some_and(|end| message.offset() + 1 >= *end) {
                            unfinished.remove(&key);
                        }
                    }
                    return Ok(Received::Record(envelope));
                }
                Err(KafkaError::PartitionEOF(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

type Ends = HashMap<(String, i32), (i64, i64)>;

/// The assignment at resolved offsets, and each partition's (start, end) offsets.
fn resolve_offsets(
    settings: &KafkaSettings,
    topics: &[(String, usize)],
    position: Position,
) -> anyhow::Result<(TopicPartitionList, Ends)> {
    let probe: BaseConsumer = settings.config(&[]).create()?;
    let mut list = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for (topic, count) in topics {
        for partition in 0..i32::try_from(*count)? {
            let (low, high) =
                probe.fetch_watermarks(topic, partition, settings.metadata_timeout)?;
            let start = match position {
                Position::Beginning => low,
                Position::End => high,
            };
            list.add_partition_offset(topic, partition, Offset::Offset(start))?;
            ends.insert((topic.clone(), partition), (start, high));
        }
    }
    Ok((list, ends))
}

fn create(settings: &KafkaSettings) -> anyhow::Result<StreamConsumer> {
    Ok(settings
        .config(&[
            ("group.id", format!("mqk-sub-{}", std::process::id())),
            ("enable.auto.commit", "false".into()),
            ("enable.auto.offset.store", "false".into()),
            ("allow.auto.create.topics", "false".into()),
            ("enable.partition.eof", "false".into()),
        ])
        .create()?)
}

fn envelope(message: &BorrowedMessage<'_>) -> Envelope {
    let headers = message.headers().map(|headers| {
        headers
            .iter()
            .map(|h| Header { name: h.key.to_owned(), value: h.value.map(<[u8]>::to_vec) })
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
