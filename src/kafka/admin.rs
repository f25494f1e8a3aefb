//! Topic checks and creation: a missing topic is an error that says so, unless the user
//! asked for it to be created.
//!
//! Not every broker implements CreateTopics. One that leaves it out of its API versions makes
//! librdkafka fail at once; librdkafka's mock cluster (what `mqk dev` runs) names as its
//! controller a broker 0 it does not have, so the request waits for a broker that never
//! comes. Both end within the metadata timeout with the same advice: create the topic on the
//! broker itself.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::{Context, KafkaSettings};
use crate::exit::{Code, err};

/// How long one metadata request may wait before the checks in between.
const SLICE: Duration = Duration::from_millis(250);

/// Makes sure `topic` exists, creating it with `create` partitions when given. Returns its
/// partition count.
pub async fn ensure_topic(
    settings: &KafkaSettings,
    topic: &str,
    create: Option<i32>,
) -> anyhow::Result<usize> {
    if let Some(partitions) = partitions(settings, topic).await? {
        return Ok(partitions);
    }
    let Some(count) = create else {
        return Err(err(
            Code::NoTopic,
            format!(
                "kafka topic '{topic}' does not exist on {} (create it, or pass --create-topic)",
                settings.brokers
            ),
        ));
    };
    create_topic(settings, topic, count).await?;
    let deadline = Instant::now() + settings.metadata_timeout;
    while Instant::now() < deadline {
        if let Some(partitions) = partitions(settings, topic).await? {
            return Ok(partitions);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(err(
        Code::NoTopic,
        format!("kafka topic '{topic}' was created but does not show up"),
    ))
}

/// Creates `topic` with `partitions` partitions through the CreateTopics API, with the
/// broker's default replication factor, waiting at most the metadata timeout. A broker that
/// does not implement the API, or gives no answer in time, is [`Code::NoTopic`].
pub async fn create_topic(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<()> {
    let admin: AdminClient<Context> = settings.create(
        &[],
        Context {
            quiet: true,
            ..Context::default()
        },
    )?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    let timeout = settings.metadata_timeout;
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let cannot = |code: Code, cause: String| {
        let brokers = &settings.brokers;
        err(
            code,
            format!("cannot create kafka topic '{topic}' on {brokers}: {cause}"),
        )
    };
    let unimplemented = |note: String| {
        cannot(
            Code::NoTopic,
            format!(
                "the broker does not implement CreateTopics{note}; create the topic on the \
                 broker itself, or for mqk dev's cluster with `mqk dev --topic \
                 {topic}:{partitions}`"
            ),
        )
    };
    let results = match admin.create_topics([&new], &options).await {
        Ok(results) => results,
        Err(KafkaError::AdminOp(
            RDKafkaErrorCode::UnsupportedVersion | RDKafkaErrorCode::UnsupportedFeature,
        )) => return Err(unimplemented(String::new())),
        Err(KafkaError::AdminOp(
            RDKafkaErrorCode::OperationTimedOut | RDKafkaErrorCode::RequestTimedOut,
        )) => {
            let waited = humantime::format_duration(timeout);
            return Err(unimplemented(format!(" (no answer within {waited})")));
        }
        Err(e) => return Err(cannot(Code::Failure, e.to_string())),
    };
    for result in results {
        match result {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(cannot(Code::Failure, code.to_string())),
        }
    }
    Ok(())
}

/// The partition count of `topic`, `None` if the cluster says it does not exist.
async fn partitions(settings: &KafkaSettings, topic: &str) -> anyhow::Result<Option<usize>> {
    let settings = settings.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || metadata_blocking(&settings, &topic)).await?
}

fn metadata_blocking(settings: &KafkaSettings, topic: &str) -> anyhow::Result<Option<usize>> {
    // A consumer's metadata requests honour allow.auto.create.topics, which stays false: a
    // topic check must never create the topic (the mock cluster would).
    let context = Context {
        quiet: true,
        ..Context::default()
    };
    let down = context.all_brokers_down.clone();
    let consumer: BaseConsumer<Context> =
        settings.create(&[("allow.auto.create.topics", "false".into())], context)?;
    // Asked in short slices, so that a refused connection ends the wait at once.
    let deadline = Instant::now() + settings.metadata_timeout;
    let metadata = loop {
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(SLICE);
        let result = consumer.fetch_metadata(Some(topic), slice);
        // Serves the client's event queue, where "all brokers down" arrives.
        let _ = consumer.poll(Duration::ZERO);
        match result {
            Ok(metadata) => break metadata,
            Err(e) if down.load(Ordering::Relaxed) || Instant::now() >= deadline => {
                let why = if down.load(Ordering::Relaxed) {
                    "no broker accepts connections".to_owned()
                } else {
                    format!(
                        "no answer within {}",
                        humantime::format_duration(settings.metadata_timeout)
                    )
                };
                return Err(err(
                    Code::Unreachable,
                    format!(
                        "cannot reach kafka brokers {}: {why} ({e})",
                        settings.brokers
                    ),
                ));
            }
            Err(_) => {}
        }
    };
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    match found.error() {
        None => Ok(Some(found.partitions().len())),
        Some(code) => match RDKafkaErrorCode::from(code) {
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => Ok(None),
            other => Err(err(
                Code::Refused,
                format!(
                    "kafka brokers {} refused metadata for '{topic}': {other}",
                    settings.brokers
                ),
            )),
        },
    }
}
