//! `mqk pub`: publish messages and exit 0 only once every one of them was acknowledged.
//!
//! Input is read by its own task into a small channel, so the connection keeps being polled
//! (keep-alive, acknowledgements) while stdin is idle. At most `inflight` messages are sent
//! and not yet acknowledged; the next one is read only when the window has room.

use std::collections::HashSet;
use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::io::AsyncRead;
use tokio::sync::mpsc;

use crate::exit::{self, Code, err, wrap};
use crate::input::{Framing, Input, Item};
use crate::kafka::{self, Delivery, KafkaSettings, Producer, Reliability};
use crate::mqtt::{self, Connection, Event, MqttSettings};
use crate::settings::{PubSettings, Target};
use crate::topic;

/// Publishes everything `stdin` (or the command line) holds.
pub async fn run(
    settings: PubSettings,
    stdin: impl AsyncRead + Unpin + Send + 'static,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut tally = Tally::new();
    let outcome = match &settings.target {
        Target::Mqtt {
            settings: mqtt,
            topic,
        } => {
            let items = read_input(settings.framing.clone(), stdin, settings.retain);
            to_mqtt(
                &settings,
                mqtt,
                topic.as_deref(),
                items,
                &mut tally,
                shutdown,
            )
            .await
        }
        Target::Kafka {
            settings: kafka,
            topic,
            create,
        } => {
            if let Some(topic) = topic {
                kafka::ensure_topic(kafka, topic, *create).await?;
            }
            let items = read_input(settings.framing.clone(), stdin, false);
            let target = (kafka, topic.as_deref(), *create);
            to_kafka(&settings, target, items, &mut tally, shutdown).await
        }
    };
    tally.finish(outcome, settings.quiet)
}

/// Why publishing stopped early, if it did.
enum Stop {
    Finished,
    Interrupted,
    Failed(anyhow::Error),
}

/// Reads the input on its own task; a read error arrives as the last item.
fn read_input(
    framing: Framing,
    stdin: impl AsyncRead + Unpin + Send + 'static,
    warn_blank_retained: bool,
) -> mpsc::Receiver<anyhow::Result<Item>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let lines = framing == Framing::Lines;
        let mut input = Input::new(framing, stdin);
        loop {
            let item = input.next().await.transpose();
            let Some(item) = item else { break };
            if let Ok(item) = &item
                && lines
                && warn_blank_retained
                && item.envelope.payload_bytes().is_empty()
            {
                tracing::warn!(
                    line = item.line,
                    "empty line sent with --retain: this clears the topic's retained message"
                );
            }
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    rx
}

async fn to_mqtt(
    settings: &PubSettings,
    mqtt: &MqttSettings,
    topic: Option<&str>,
    mut items: mpsc::Receiver<anyhow::Result<Item>>,
    tally: &mut Tally,
    shutdown: impl Future<Output = ()>,
) -> Stop {
    let mut connection = match connect(mqtt).await {
        Ok(connection) => connection,
        Err(e) => return Stop::Failed(e),
    };
    let mut reconnects = settings.reconnects;
    let mut input_done = false;
    tokio::pin!(shutdown);
    let stop = loop {
        if input_done && tally.outstanding() == 0 {
            break Stop::Finished;
        }
        tokio::select! {
            () = &mut shutdown => break Stop::Interrupted,
            event = connection.poll() => match event {
                Ok(Event::Delivered) => tally.acked += 1,
                Ok(Event::Rejected(reason)) => {
                    tally.fail(format!("the broker refused a message: {reason}"), true);
                }
                Ok(Event::Unsent(why)) => {
                    tally.fail(format!("a QoS 0 message was not sent: {why}"), false);
                }
                Ok(Event::Connected { .. }) => reconnects = settings.reconnects,
                Ok(_) => {}
                Err(e) if reconnects == 0 => break Stop::Failed(e.context("connection lost")),
                Err(e) if exit::code_of(&e) == Code::Refused => break Stop::Failed(e),
                Err(e) => {
                    reconnects -= 1;
                    let broker = connection.address();
                    tracing::warn!(broker, error = %e, "connection lost, reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            item = items.recv(), if !input_done && tally.outstanding() < settings.inflight => {
                match item {
                    None => input_done = true,
                    Some(Err(e)) => break Stop::Failed(e),
                    Some(Ok(item)) => {
                        let message = match mqtt_message(settings, topic, item) {
                            Ok(message) => message,
                            Err(e) => break Stop::Failed(e),
                        };
                        tally.sent(message.payload.len());
                        if let Err(e) = connection.publish(message) {
                            break Stop::Failed(e);
                        }
                    }
                }
            }
        }
    };
    if !matches!(stop, Stop::Finished) {
        drain(&mut connection, tally).await;
    }
    connection.disconnect(Duration::from_secs(2)).await;
    stop
}

/// Connects, failing fast: a broker that cannot be reached at the start is an error at once.
async fn connect(settings: &MqttSettings) -> anyhow::Result<Connection> {
    let mut connection = Connection::new(settings)?;
    loop {
        if let Event::Connected { .. } = connection.poll().await? {
            return Ok(connection);
        }
    }
}

/// After an interruption or a bad input line, waits a little for acknowledgements of what was
/// already sent.
async fn drain(connection: &mut Connection, tally: &mut Tally) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tally.outstanding() > 0 {
            match connection.poll().await {
                Ok(Event::Delivered) => tally.acked += 1,
                Ok(Event::Rejected(reason)) => tally.fail(format!("refused: {reason}"), true),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    })
    .await;
}

/// The MQTT message for one input item: topic, QoS and retain from the envelope where it has
/// them, the command line otherwise; a topic in the URL wins.
fn mqtt_message(
    settings: &PubSettings,
    url_topic: Option<&str>,
    item: Item,
) -> anyhow::Result<mqtt::Outgoing> {
    let envelope = item.envelope;
    let bad = |message: String| {
        err(
            Code::BadInput,
            format!("stdin line {}: {message}", item.line),
        )
    };
    let topic = match (url_topic, envelope.topic) {
        (Some(topic), _) => topic.to_owned(),
        (None, Some(topic)) => {
            topic::mqtt_topic(&topic).map_err(|e| bad(e.to_string()))?;
            topic
        }
        (None, None) => return Err(bad("the record has no topic and the URL names none".into())),
    };
    let qos = envelope.qos.unwrap_or(settings.qos);
    if qos > 2 {
        return Err(bad(format!("qos must be 0, 1 or 2, not {qos}")));
    }
    let retain = envelope.retain.unwrap_or(settings.retain);
    if retain && envelope.payload.is_none() {
        // A Kafka record with a null value, say: MQTT has no null, only an empty payload.
        tracing::warn!(
            line = item.line,
            topic,
            "a record without a payload sent retained: this clears the topic's retained message"
        );
    }
    Ok(mqtt::Outgoing {
        topic,
        payload: envelope.payload.unwrap_or_default().into(),
        qos,
        retain,
        properties: envelope.properties,
    })
}

async fn to_kafka(
    settings: &PubSettings,
    (kafka, url_topic, create): (&KafkaSettings, Option<&str>, Option<i32>),
    mut items: mpsc::Receiver<anyhow::Result<Item>>,
    tally: &mut Tally,
    shutdown: impl Future<Output = ()>,
) -> Stop {
    let reliability = Reliability::Bounded(settings.delivery_timeout);
    let producer = match Producer::new(kafka, reliability, settings.inflight) {
        Ok(producer) => producer,
        Err(e) => return Stop::Failed(e),
    };
    let mut known: HashSet<String> = url_topic.map(str::to_owned).into_iter().collect();
    let mut pending: VecDeque<Delivery> = VecDeque::new();
    let mut input_done = false;
    tokio::pin!(shutdown);
    let stop = loop {
        if input_done && pending.is_empty() {
            break Stop::Finished;
        }
        tokio::select! {
            () = &mut shutdown => break Stop::Interrupted,
            outcome = oldest(&mut pending), if !pending.is_empty() => {
                pending.pop_front();
                match outcome {
                    Ok(_) => tally.acked += 1,
                    Err(e) => tally.fail(format!("a Kafka record failed: {e}"), false),
                }
            }
            item = items.recv(), if !input_done && pending.len() < settings.inflight => {
                let item = match item {
                    None => { input_done = true; continue }
                    Some(Err(e)) => break Stop::Failed(e),
                    Some(Ok(item)) => item,
                };
                let line = item.line;
                let mut record = item.envelope;
                let topic = match url_topic.map(str::to_owned).or(record.topic.take()) {
                    Some(topic) => topic,
                    None => break Stop::Failed(err(Code::BadInput, format!(
                        "stdin line {line}: the record has no topic and the URL names none"))),
                };
                if !known.contains(&topic) {
                    if let Err(e) = topic::kafka_topic(&topic) {
                        break Stop::Failed(err(Code::BadInput, format!("stdin line {line}: {e}")));
                    }
                    if let Err(e) = kafka::ensure_topic(kafka, &topic, create).await {
                        break Stop::Failed(e);
                    }
                    known.insert(topic.clone());
                }
                if settings.key.is_some() {
                    record.key.clone_from(&settings.key);
                }
                tally.sent(record.payload_bytes().len());
                match producer.send(&topic, &record) {
                    Ok(delivery) => pending.push_back(delivery),
                    Err(e) => tally.fail(format!("a Kafka record failed: {e}"), false),
                }
            }
        }
    };
    for delivery in pending.drain(..) {
        match tokio::time::timeout(settings.delivery_timeout, delivery).await {
            Ok(Ok(_)) => tally.acked += 1,
            Ok(Err(e)) => tally.fail(format!("a Kafka record failed: {e}"), false),
            Err(_) => break,
        }
    }
    producer.flush(Duration::from_secs(1));
    stop
}

/// The outcome of the oldest record in flight; the caller checks there is one.
async fn oldest(pending: &mut VecDeque<Delivery>) -> anyhow::Result<(i32, i64)> {
    pending.front_mut().expect("guarded by the caller").await
}

/// Counts of what was sent and what came back.
struct Tally {
    started: Instant,
    sent: usize,
    acked: usize,
    failed: usize,
    refused: bool,
    bytes: u64,
    first_failure: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            started: Instant::now(),
            sent: 0,
            acked: 0,
            failed: 0,
            refused: false,
            bytes: 0,
            first_failure: None,
        }
    }

    fn sent(&mut self, bytes: usize) {
        self.sent += 1;
        self.bytes += bytes as u64;
    }

    fn outstanding(&self) -> usize {
        self.sent - self.acked - self.failed
    }

    /// Counts a message that will never be acknowledged; `refused` if the broker said no.
    fn fail(&mut self, why: String, refused: bool) {
        self.failed += 1;
        self.refused |= refused;
        self.first_failure.get_or_insert(why);
    }

    /// Prints the summary and turns the outcome into the command's result.
    fn finish(self, stop: Stop, quiet: bool) -> anyhow::Result<()> {
        let seconds = self.started.elapsed().as_secs_f64();
        let never_started = matches!(stop, Stop::Failed(_)) && self.sent == 0;
        if !quiet && !never_started {
            let size = super::bytes(self.bytes);
            if self.acked == self.sent {
                let published = super::messages(self.acked as u64);
                eprintln!("published {published} ({size}) in {seconds:.2} s");
            } else {
                eprintln!(
                    "published {} of {} messages ({size} in all) in {seconds:.2} s",
                    self.acked, self.sent
                );
            }
        }
        let missing = self.sent - self.acked;
        let unacked = |cause: &str| {
            format!(
                "{missing} of {} messages sent were not acknowledged{cause}",
                self.sent
            )
        };
        // A refusal by the broker says more than what followed it (a connection it closed).
        let code = if self.refused {
            Code::Refused
        } else {
            Code::Undelivered
        };
        let cause = self
            .first_failure
            .map(|f| format!(" (first: {f})"))
            .unwrap_or_default();
        match stop {
            // Everything sent was acknowledged: the failure itself (bad input, a missing
            // topic) decides the exit code.
            Stop::Failed(e) if missing == 0 => Err(e),
            Stop::Failed(e) => Err(wrap(e, code, unacked(&cause))),
            Stop::Interrupted => Err(err(
                Code::Interrupted,
                format!("interrupted; {}", unacked("")),
            )),
            Stop::Finished if missing == 0 => Ok(()),
            Stop::Finished => Err(err(code, unacked(&cause))),
        }
    }
}
