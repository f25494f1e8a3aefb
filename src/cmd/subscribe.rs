//! `mqk sub`: print what arrives on MQTT filters or Kafka topics, one message at a time.
//!
//! A `ready` line on stderr says when the subscription is in place (SUBACK, or partitions
//! assigned at resolved offsets), so a script can wait for it instead of sleeping. Each
//! message is written and flushed as it arrives; a closed pipe ends the command with exit 0.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use tokio::time::Instant;

use crate::exit::{self, Code, err};
use crate::kafka::{Consumer, KafkaSettings, Position, Received};
use crate::mqtt::{Connection, Event, MqttSettings};
use crate::output::{Printer, Written};
use crate::record::Envelope;
use crate::settings::{Source, SubSettings};

/// Subscribes and prints until the count, the timeout, a closed pipe or `shutdown`.
pub async fn run(
    settings: SubSettings,
    out: impl Write,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut sink = Sink {
        printer: Printer::new(settings.format, out),
        count: settings.count,
        timeout: settings.timeout,
        received: 0,
    };
    match settings.source {
        Source::Mqtt {
            settings: mqtt,
            filters,
            qos,
        } => from_mqtt(&mqtt, &filters, qos, &mut sink, shutdown).await,
        Source::Kafka {
            settings: kafka,
            topics,
            from,
            exit,
        } => from_kafka(&kafka, &topics, from, exit, &mut sink, shutdown).await,
    }
}

/// Where messages go, and the rules for stopping.
struct Sink<W: Write> {
    printer: Printer<W>,
    count: Option<u64>,
    timeout: Option<Duration>,
    received: u64,
}

/// Whether to keep going after a message.
enum Next {
    More,
    Done,
}

impl<W: Write> Sink<W> {
    fn write(&mut self, envelope: &Envelope) -> anyhow::Result<Next> {
        if self
            .printer
            .write(envelope)
            .map_err(|e| anyhow::anyhow!("cannot write stdout: {e}"))?
            == Written::Closed
        {
            return Ok(Next::Done);
        }
        self.received += 1;
        Ok(if self.count.is_some_and(|n| self.received >= n) {
            Next::Done
        } else {
            Next::More
        })
    }

    /// When the idle timeout fires, counting from now.
    fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    fn timed_out(&self) -> anyhow::Error {
        let limit = humantime::format_duration(self.timeout.unwrap_or_default());
        err(
            Code::Timeout,
            format!(
                "nothing received for {limit} ({} messages in all)",
                self.received
            ),
        )
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn idle(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn from_mqtt<W: Write>(
    settings: &MqttSettings,
    filters: &[String],
    qos: u8,
    sink: &mut Sink<W>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if sink.count == Some(0) {
        return Ok(());
    }
    let mut connection = Connection::new(settings)?;
    let mut ready = false;
    let mut connected_once = false;
    let mut deadline = sink.deadline();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = idle(deadline) => return Err(sink.timed_out()),
            event = connection.poll() => match event {
                Ok(Event::Connected { session_present }) => {
                    connected_once = true;
                    if !session_present {
                        connection.subscribe(filters, qos, true)?;
                    }
                }
                Ok(Event::Subscribed(granted)) => {
                    check_granted(filters, &granted)?;
                    if !ready {
                        ready = true;
                        let filters = filters.join(", ");
                        let broker = connection.address();
                        eprintln!("ready: subscribed to {filters} on {broker} (QoS {qos})");
                    }
                }
                Ok(Event::Message(message)) => {
                    deadline = sink.deadline();
                    if let Next::Done = sink.write(&message.to_envelope(super::now_ms()))? {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) if !connected_once || exit::code_of(&e) == Code::Refused => return Err(e),
                Err(e) => {
                    let broker = connection.address();
                    tracing::warn!(broker, error = %e, "connection lost, reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
    connection.disconnect(Duration::from_secs(1)).await;
    Ok(())
}

/// Fails when the broker refused any filter of the SUBSCRIBE.
fn check_granted(
    filters: &[String],
    granted: &[Result<u8, crate::mqtt::Reason>],
) -> anyhow::Result<()> {
    for (filter, outcome) in filters.iter().zip(granted) {
        if let Err(reason) = outcome {
            return Err(err(
                Code::Refused,
                format!("the broker refused the subscription to '{filter}': {reason}"),
            ));
        }
    }
    Ok(())
}

async fn from_kafka<W: Write>(
    settings: &KafkaSettings,
    topics: &[String],
    from: Position,
    exit: bool,
    sink: &mut Sink<W>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if sink.count == Some(0) {
        return Ok(());
    }
    let mut consumer = Consumer::assign(settings, topics, from, exit).await?;
    eprintln!(
        "ready: reading {} on {} from the {}",
        topics.join(", "),
        settings.brokers,
        position(from)
    );
    let mut deadline = sink.deadline();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = idle(deadline) => return Err(sink.timed_out()),
            received = consumer.next() => match received? {
                Received::End => break,
                Received::Record(envelope) => {
                    deadline = sink.deadline();
                    if let Next::Done = sink.write(&envelope)? {
                        break;
                    }
                }
            }
        }
    }
    Ok(())
}

fn position(from: Position) -> &'static str {
    match from {
        Position::Beginning => "beginning",
        Position::End => "end",
    }
}
