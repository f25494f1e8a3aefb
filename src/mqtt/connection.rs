//! One MQTT connection of either protocol version, behind one type.
//!
//! The two rumqttc clients differ in small ways (topic as `String` or `Bytes`, reason codes
//! only in v5, session expiry only in v5); every difference is settled in this file.
//!
//! rumqttc's event loop runs on a task of its own and hands events over a bounded channel.
//! Polling it straight from a command's `select!` would drop its future whenever another
//! branch won, and a dropped poll can leave a large PUBLISH half flushed until the next
//! keep-alive ping pushes it out; on its own task it is never cancelled, and it keeps
//! answering pings while the command is busy elsewhere (a bridge waiting for Kafka).
//!
//! rumqttc also forgets every unacknowledged publish when it reconnects and the broker has
//! no session for it (`session_present` false: a clean session, or a broker restarted
//! without persistence). At QoS 1 and 2 that is silent loss, and a publisher waiting for
//! their acknowledgements would wait forever. The driving task keeps those requests itself
//! across the reconnect and queues them again, in their original order, once connected.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::{self as r4, v5 as r5};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::reason;
use super::{AckToken, Event, MAX_PACKET, Message, MqttSettings, Outgoing, Session, Version};
use crate::record::{self, Properties};

/// How often queued acknowledgements are offered again while rumqttc's request channel is
/// full and no event arrives.
const ACK_RETRY: Duration = Duration::from_millis(5);

/// A connection and the task that drives its event loop. The TCP connection is made once the
/// first [`Connection::poll`] runs; after an error the event loop waits for the next call.
pub struct Connection {
    address: String,
    client: Client,
    events: mpsc::Receiver<anyhow::Result<Event>>,
    /// Lets the driving task reconnect after it reported an error.
    resume: Arc<Notify>,
    failed: bool,
    /// Acknowledgements not yet handed to the event loop, oldest first: its request channel
    /// is bounded, and an acknowledgement must be neither lost nor sent out of order.
    acks: VecDeque<AckToken>,
    driver: JoinHandle<()>,
}

enum Client {
    V4(r4::AsyncClient),
    V5(r5::AsyncClient),
}

impl Connection {
    /// Prepares a connection and starts its driving task, which waits for the first poll.
    /// Must be called inside the tokio runtime.
    pub fn new(settings: &MqttSettings) -> anyhow::Result<Connection> {
        // Room for a full in-flight window of publishes plus as many acknowledgements.
        let capacity = usize::from(settings.inflight) * 2 + 16;
        // Room for what a broker sends within the receive maximum, so the task keeps reading
        // (and answering pings) while the command holds a full window.
        let (tx, events) = mpsc::channel(usize::from(settings.inflight) + 16);
        let resume = Arc::new(Notify::new());
        let address = settings.address();
        let (client, driver) = match settings.version {
            Version::V311 => {
                let options = options4(settings)?;
                let (client, mut events) = r4::AsyncClient::new(options, capacity);
                events
                    .network_options
                    .set_connection_timeout(settings.connect_timeout.as_secs().max(1));
                let driven = Driven::new(events, address.clone());
                let driver = tokio::spawn(drive(driven, tx, resume.clone()));
                (Client::V4(client), driver)
            }
            Version::V5 => {
                let options = options5(settings)?;
                let (client, events) = r5::AsyncClient::new(options, capacity);
                let driven = Driven::new(events, address.clone());
                let driver = tokio::spawn(drive(driven, tx, resume.clone()));
                (Client::V5(client), driver)
            }
        };
        // The task starts by waiting, like an event loop nobody polled yet.
        Ok(Connection {
            address,
            client,
            events,
            resume,
            failed: true,
            acks: VecDeque::new(),
            driver,
        })
    }

    /// `host:port` of the broker.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The next event that a command acts on. After an error the next call reconnects;
    /// publishes not yet acknowledged are sent again then. Cancel-safe: dropping the future
    /// loses no event.
    pub async fn poll(&mut self) -> anyhow::Result<Event> {
        if std::mem::take(&mut self.failed) {
            self.resume.notify_one();
        }
        loop {
            self.flush_acks();
            let event = if self.acks.is_empty() {
                self.events.recv().await
            } else {
                match tokio::time::timeout(ACK_RETRY, self.events.recv()).await {
                    Ok(event) => event,
                    Err(_) => continue,
                }
            };
            let event = event.unwrap_or_else(|| {
                Err(anyhow::anyhow!(
                    "the MQTT event loop for {} stopped",
                    self.address
                ))
            });
            self.failed = event.is_err();
            return event;
        }
    }

    /// Queues a publish without waiting; the caller keeps the number of queued, unacknowledged
    /// publishes below the in-flight window given at connect time.
    pub fn publish(&self, message: Outgoing) -> anyhow::Result<()> {
        match &self.client {
            Client::V4(client) => client.try_publish(
                message.topic,
                qos4(message.qos),
                message.retain,
                message.payload,
            )?,
            Client::V5(client) => {
                let qos = qos5(message.qos);
                match message.properties.as_ref().map(properties_out) {
                    Some(p) => client.try_publish_with_properties(
                        message.topic,
                        qos,
                        message.retain,
                        message.payload,
                        p,
                    )?,
                    None => {
                        client.try_publish(message.topic, qos, message.retain, message.payload)?
                    }
                }
            }
        }
        Ok(())
    }

    /// Subscribes to every filter at one QoS, in one SUBSCRIBE.
    pub fn subscribe(&self, filters: &[String], qos: u8) -> anyhow::Result<()> {
        match &self.client {
            Client::V4(client) => client.try_subscribe_many(
                filters
                    .iter()
                    .map(|f| r4::SubscribeFilter::new(f.clone(), qos4(qos))),
            )?,
            Client::V5(client) => client.try_subscribe_many(
                filters
                    .iter()
                    .map(|f| p5::Filter::new(f.clone(), qos5(qos))),
            )?,
        }
        Ok(())
    }

    /// Acknowledges a message received with manual acknowledgement on. Acknowledgements go
    /// out in the order of these calls, as the event loop is polled.
    pub fn ack(&mut self, token: AckToken) {
        self.acks.push_back(token);
        self.flush_acks();
    }

    /// Hands queued acknowledgements to the event loop until its channel is full.
    fn flush_acks(&mut self) {
        while let Some(token) = self.acks.front() {
            let sent = match &self.client {
                Client::V4(client) => {
                    let mut publish = r4::Publish::new("", qos4(token.qos), Vec::new());
                    publish.pkid = token.pkid;
                    client.try_ack(&publish).is_ok()
                }
                Client::V5(client) => {
                    let mut publish = p5::Publish::new("", qos5(token.qos), Vec::new(), None);
                    publish.pkid = token.pkid;
                    client.try_ack(&publish).is_ok()
                }
            };
            if !sent {
                break;
            }
            self.acks.pop_front();
        }
    }

    /// Forgets acknowledgements not yet sent: after a reconnect they belong to a connection
    /// that is gone, and the broker redelivers their messages.
    pub fn drop_unsent_acks(&mut self) {
        self.acks.clear();
    }

    /// Sends every pending acknowledgement, then DISCONNECT, waiting at most `limit` in all.
    /// Messages arriving meanwhile are left unacknowledged, for the broker to redeliver. A
    /// connection that has failed is left alone: its acknowledgements are void.
    ///
    /// rumqttc serves one request per poll while it reads incoming packets ten at a time, so
    /// under a stream of incoming messages the acknowledgements and the DISCONNECT can wait
    /// for room in its request channel; they go in, in order, as it empties.
    pub async fn disconnect(&mut self, limit: Duration) {
        if self.failed {
            return;
        }
        let _ = tokio::time::timeout(limit, async {
            loop {
                self.flush_acks();
                if self.acks.is_empty() && self.try_disconnect() {
                    break;
                }
                // Keep the task moving while the channel is full.
                if let Ok(None | Some(Err(_))) =
                    tokio::time::timeout(ACK_RETRY, self.events.recv()).await
                {
                    return;
                }
            }
            while let Some(Ok(event)) = self.events.recv().await {
                if let Event::Disconnected = event {
                    break;
                }
            }
        })
        .await;
    }

    /// Queues DISCONNECT; false while the request channel is full.
    fn try_disconnect(&self) -> bool {
        match &self.client {
            Client::V4(client) => client.try_disconnect().is_ok(),
            Client::V5(client) => client.try_disconnect().is_ok(),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Drives one event loop until the connection is dropped: passes events on, stops after an
/// error until told to go on, and keeps unacknowledged requests across reconnects.
async fn drive<L: EventLoop>(
    mut events: Driven<L>,
    tx: mpsc::Sender<anyhow::Result<Event>>,
    resume: Arc<Notify>,
) {
    resume.notified().await;
    loop {
        let event = match events.next().await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => continue,
            Err(e) => Err(e),
        };
        let failed = event.is_err();
        if tx.send(event).await.is_err() {
            return;
        }
        if failed {
            resume.notified().await;
        }
    }
}

/// What [`drive`] needs from either version's rumqttc event loop.
trait EventLoop: Send + 'static {
    type Request: Send;
    /// One poll: an event for the command, or the packet id of a publish just written.
    fn step(&mut self, address: &str) -> impl Future<Output = anyhow::Result<Step>> + Send;
    /// The requests rumqttc resends on the next connection.
    fn pending(&mut self) -> &mut VecDeque<Self::Request>;
    /// The packet id of a request that is a numbered publish.
    fn pkid(request: &Self::Request) -> Option<u16>;
}

/// One poll of an event loop, reduced.
enum Step {
    Event(Event),
    /// A QoS 1 or 2 publish with this packet id went out.
    Wrote(u16),
}

/// An event loop with what survives its reconnects.
struct Driven<L: EventLoop> {
    events: L,
    address: String,
    /// Packet id of the newest publish written, to resend in order after a reconnect.
    newest: u16,
    /// Requests taken from rumqttc after a connection error, until the next CONNACK.
    kept: VecDeque<L::Request>,
}

impl<L: EventLoop> Driven<L> {
    fn new(events: L, address: String) -> Driven<L> {
        Driven {
            events,
            address,
            newest: 0,
            kept: VecDeque::new(),
        }
    }

    /// The next event for the command, `None` for a poll that produced nothing to report.
    async fn next(&mut self) -> anyhow::Result<Option<Event>> {
        match self.events.step(&self.address).await {
            Ok(Step::Wrote(pkid)) => {
                self.newest = pkid;
                Ok(None)
            }
            Ok(Step::Event(Event::Other)) => Ok(None),
            Ok(Step::Event(event)) => {
                if let Event::Connected { .. } = event {
                    // rumqttc dropped its pending list if the session is new; ours goes
                    // first, ahead of anything queued since.
                    let pending = self.events.pending();
                    while let Some(request) = self.kept.pop_back() {
                        pending.push_front(request);
                    }
                }
                Ok(Some(event))
            }
            Err(e) => {
                // rumqttc has moved what awaits acknowledgement to its pending list.
                let pending = std::mem::take(self.events.pending());
                self.kept.extend(pending);
                restore_send_order(&mut self.kept, L::pkid, self.newest);
                Err(e)
            }
        }
    }
}

impl EventLoop for r4::EventLoop {
    type Request = r4::Request;

    async fn step(&mut self, address: &str) -> anyhow::Result<Step> {
        match self.poll().await {
            Ok(r4::Event::Outgoing(r4::Outgoing::Publish(pkid))) if pkid != 0 => {
                Ok(Step::Wrote(pkid))
            }
            Ok(event) => Ok(Step::Event(event4(event))),
            Err(e) => Err(error4(address, e)),
        }
    }

    fn pending(&mut self) -> &mut VecDeque<r4::Request> {
        &mut self.pending
    }

    fn pkid(request: &r4::Request) -> Option<u16> {
        match request {
            r4::Request::Publish(p) => Some(p.pkid),
            _ => None,
        }
    }
}

impl EventLoop for r5::EventLoop {
    type Request = r5::Request;

    async fn step(&mut self, address: &str) -> anyhow::Result<Step> {
        match self.poll().await {
            Ok(r5::Event::Outgoing(r4::Outgoing::Publish(pkid))) if pkid != 0 => {
                Ok(Step::Wrote(pkid))
            }
            Ok(event) => Ok(Step::Event(event5(event))),
            Err(e) => Err(error5(address, e)),
        }
    }

    fn pending(&mut self) -> &mut VecDeque<r5::Request> {
        &mut self.pending
    }

    fn pkid(request: &r5::Request) -> Option<u16> {
        match request {
            r5::Request::Publish(p) => Some(p.pkid),
            _ => None,
        }
    }
}

/// Puts the unacknowledged publishes rumqttc will resend after a reconnect back in the order
/// they were first sent. rumqttc lists them by packet id, but ids wrap around at the in-flight
/// limit, so ids above the newest one sent are older than those below it. Other requests keep
/// their places; fresh publishes (id 0) are not yet numbered and come after, as queued.
fn restore_send_order<R>(pending: &mut VecDeque<R>, pkid: impl Fn(&R) -> Option<u16>, newest: u16) {
    let slots: Vec<usize> = (0..pending.len())
        .filter(|&i| pkid(&pending[i]).is_some_and(|id| id != 0))
        .collect();
    let mut numbered: Vec<R> = Vec::with_capacity(slots.len());
    for &slot in slots.iter().rev() {
        numbered.push(pending.remove(slot).expect("slot in range"));
    }
    // Older (above `newest`) first, then ascending within each side of the wrap.
    numbered.sort_by_key(|r| {
        let id = pkid(r).unwrap_or_default();
        (id <= newest, id)
    });
    for (slot, request) in slots.into_iter().zip(numbered) {
        pending.insert(slot, request);
    }
}

fn options4(s: &MqttSettings) -> anyhow::Result<r4::MqttOptions> {
    let mut o = r4::MqttOptions::new(s.client_id.clone(), s.host.clone(), s.port);
    o.set_keep_alive(s.keep_alive)
        .set_clean_session(s.session == Session::Clean)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_inflight(s.inflight)
        .set_manual_acks(s.manual_acks);
    if let Some((user, password)) = &s.credentials {
        o.set_credentials(user.clone(), password.clone());
    }
    if let Some(tls) = &s.tls {
        o.set_transport(transport(tls)?);
    }
    Ok(o)
}

fn options5(s: &MqttSettings) -> anyhow::Result<r5::MqttOptions> {
    let mut o = r5::MqttOptions::new(s.client_id.clone(), s.host.clone(), s.port);
    let max = u32::try_from(MAX_PACKET).ok();
    o.set_keep_alive(s.keep_alive)
        .set_max_packet_size(max)
        .set_receive_maximum(Some(s.inflight))
        .set_outgoing_inflight_upper_limit(s.inflight)
        .set_manual_acks(s.manual_acks);
    let mut network = o.network_options();
    network.set_connection_timeout(s.connect_timeout.as_secs().max(1));
    o.set_network_options(network);
    match s.session {
        Session::Clean => o.set_clean_start(true),
        Session::Persistent { expiry_secs } => o
            .set_clean_start(false)
            .set_session_expiry_interval(Some(expiry_secs)),
    };
    if let Some((user, password)) = &s.credentials {
        o.set_credentials(user.clone(), password.clone());
    }
    if let Some(tls) = &s.tls {
        o.set_transport(transport(tls)?);
    }
    Ok(o)
}

fn transport(tls: &super::TlsSettings) -> anyhow::Result<r4::Transport> {
    use anyhow::Context;
    Ok(match &tls.ca_file {
        None => r4::Transport::tls_with_default_config(),
        Some(path) => {
            let ca = std::fs::read(path)
                .with_context(|| format!("cannot read CA file {}", path.display()))?;
            r4::Transport::tls(ca, None, None)
        }
    })
}

fn qos4(qos: u8) -> r4::QoS {
    match qos {
        0 => r4::QoS::AtMostOnce,
        1 => r4::QoS::AtLeastOnce,
        _ => r4::QoS::ExactlyOnce,
    }
}

fn qos5(qos: u8) -> rumqttc::v5::mqttbytes::QoS {
    match qos {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

fn event4(event: r4::Event) -> Event {
    use r4::{Event as E, Outgoing as O, Packet as P};
    match event {
        E::Incoming(P::ConnAck(c)) => Event::Connected {
            session_present: c.session_present,
        },
        E::Incoming(P::Publish(p)) => Event::Message(Message {
            ack: AckToken {
                pkid: p.pkid,
                qos: p.qos as u8,
            },
            topic: p.topic,
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            properties: None,
        }),
        E::Incoming(P::PubAck(_) | P::PubComp(_)) | E::Outgoing(O::Publish(0)) => Event::Delivered,
        E::Incoming(P::SubAck(s)) => {
            Event::Subscribed(s.return_codes.iter().map(reason::suback4).collect())
        }
        E::Outgoing(O::Disconnect) => Event::Disconnected,
        _ => Event::Other,
    }
}

fn event5(event: r5::Event) -> Event {
    use r5::{Event as E, Incoming as I};
    match event {
        E::Incoming(I::ConnAck(c)) => Event::Connected {
            session_present: c.session_present,
        },
        E::Incoming(I::Publish(p)) => Event::Message(Message {
            ack: AckToken {
                pkid: p.pkid,
                qos: p.qos as u8,
            },
            topic: String::from_utf8_lossy(&p.topic).into_owned(),
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            properties: p.properties.as_ref().map(properties_in),
        }),
        E::Incoming(I::PubAck(a)) => {
            reason::puback(&a.reason).map_or(Event::Delivered, Event::Rejected)
        }
        E::Incoming(I::PubRec(r)) => {
            reason::pubrec(&r.reason).map_or(Event::Other, Event::Rejected)
        }
        E::Incoming(I::PubComp(c)) => {
            reason::pubcomp(&c.reason).map_or(Event::Delivered, Event::Rejected)
        }
        E::Incoming(I::SubAck(s)) => {
            Event::Subscribed(s.return_codes.iter().map(reason::suback5).collect())
        }
        E::Outgoing(r4::Outgoing::Publish(0)) => Event::Delivered,
        E::Outgoing(r4::Outgoing::Disconnect) => Event::Disconnected,
        _ => Event::Other,
    }
}

fn error4(address: &str, error: r4::ConnectionError) -> anyhow::Error {
    let refused = match &error {
        r4::ConnectionError::ConnectionRefused(code) => Some(reason::connack(code)),
        _ => None,
    };
    reason::connection_error(address, refused, describe(&error))
}

fn error5(address: &str, error: r5::ConnectionError) -> anyhow::Error {
    let refused = match &error {
        r5::ConnectionError::ConnectionRefused(code) => Some(reason::connack(code)),
        _ => None,
    };
    reason::connection_error(address, refused, describe(&error))
}

/// The innermost cause in words: rumqttc's own messages wrap and repeat their causes.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if text.is_empty() {
        format!("{error:?}")
    } else {
        text
    }
}

fn properties_in(p: &p5::PublishProperties) -> Properties {
    let (correlation_data, correlation_data_encoding) =
        record::split(p.correlation_data.as_deref());
    Properties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        content_type: p.content_type.clone(),
        response_topic: p.response_topic.clone(),
        correlation_data,
        correlation_data_encoding,
        user_properties: p.user_properties.clone(),
        subscription_identifiers: p.subscription_identifiers.clone(),
    }
}

fn properties_out(p: &Properties) -> p5::PublishProperties {
    let correlation = record::join(
        p.correlation_data.clone(),
        p.correlation_data_encoding,
        0,
        "",
    );
    p5::PublishProperties {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        topic_alias: None,
        response_topic: p.response_topic.clone(),
        correlation_data: correlation.ok().flatten().map(Bytes::from),
        user_properties: p.user_properties.clone(),
        subscription_identifiers: Vec::new(),
        content_type: p.content_type.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resent_publishes_follow_the_original_order_across_the_id_wrap() {
        // Sent 98, 99, 100, then ids wrapped to 1, 2; rumqttc lists them by id.
        let mut pending: VecDeque<(char, u16)> = [
            ('p', 1),
            ('p', 2),
            ('p', 98),
            ('p', 99),
            ('p', 100),
            ('r', 7),
            ('p', 0),
        ]
        .into();
        let pkid = |r: &(char, u16)| (r.0 == 'p').then_some(r.1);
        restore_send_order(&mut pending, pkid, 2);
        let order: Vec<_> = pending.into_iter().collect();
        assert_eq!(
            order,
            [
                ('p', 98),
                ('p', 99),
                ('p', 100),
                ('p', 1),
                ('p', 2),
                ('r', 7),
                ('p', 0)
            ]
        );
    }
}
