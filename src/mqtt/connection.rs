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
//! Each network connection gets a fresh rumqttc client and event loop. rumqttc keeps one
//! request channel across reconnects, so an acknowledgement queued for a message of the lost
//! connection would go out on the next one, where the broker redelivers that message and
//! gets a second acknowledgement for it (Mosquitto 2.0.11 then miscounts its in-flight quota
//! and sends later messages ahead of queued ones: reordering). Acknowledgements carry their
//! connection's generation and are dropped once it is gone.
//!
//! rumqttc also forgets every unacknowledged publish when it reconnects and the broker has
//! no session for it (`session_present` false: a clean session, or a broker restarted
//! without persistence). At QoS 1 and 2 that is silent loss, and a publisher waiting for
//! their acknowledgements would wait forever. The driving task keeps those requests itself
//! across the reconnect and queues them again, in their original order, once connected.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::{self as r4, v5 as r5};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::reason;
use super::{AckToken, Event, MAX_PACKET, Message, MqttSettings, Outgoing, Session, Version};
use crate::exit::{self, Code, err};
use crate::record::{self, Properties};

/// How often queued acknowledgements are offered again while rumqttc's request channel is
/// full and no event arrives.
const ACK_RETRY: Duration = Duration::from_millis(5);

/// A connection the broker closes sooner than this after accepting it counts as brief.
const BRIEF: Duration = Duration::from_secs(3);

/// Brief connections in a row after which [`Connection::poll`] stops reconnecting.
const BRIEF_LIMIT: u32 = 5;

/// How long [`Connection::disconnect`] waits for the broker to close the connection after
/// DISCONNECT; brokers close at once.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A connection and the task that drives its event loop. The TCP connection is made once the
/// first [`Connection::poll`] runs; after an error the event loop waits for the next call.
pub struct Connection {
    address: String,
    link: Arc<Mutex<Link>>,
    events: mpsc::Receiver<anyhow::Result<Event>>,
    /// Lets the driving task reconnect after it reported an error.
    resume: Arc<Notify>,
    failed: bool,
    /// Acknowledgements not yet handed to the event loop, oldest first: its request channel
    /// is bounded, and an acknowledgement must be neither lost nor sent out of order.
    acks: VecDeque<AckToken>,
    driver: JoinHandle<()>,
    client_id: String,
    /// When the current network connection got its CONNACK.
    connected_at: Option<Instant>,
    /// Connections in a row that the broker closed within [`BRIEF`] of accepting them.
    brief_in_a_row: u32,
}

/// The client of the current network connection; the driving task replaces it after an
/// error, under the lock, so that nothing meant for the old connection reaches the new one.
struct Link {
    client: Client,
    generation: u64,
}

enum Client {
    V4(r4::AsyncClient),
    V5(r5::AsyncClient),
}

impl Connection {
    /// Prepares a connection and starts its driving task, which waits for the first poll.
    /// Must be called inside the tokio runtime.
    pub fn new(settings: &MqttSettings) -> anyhow::Result<Connection> {
        // Room for what a broker sends within the receive maximum, so the task keeps reading
        // (and answering pings) while the command holds a full window.
        let (tx, events) = mpsc::channel(usize::from(settings.inflight) + 16);
        let resume = Arc::new(Notify::new());
        let address = settings.address();
        let (link, driver) = match settings.version {
            Version::V311 => {
                let opener = Opener4 {
                    options: options4(settings)?,
                    capacity: capacity(settings),
                    connect_timeout: settings.connect_timeout.as_secs().max(1),
                };
                start(opener, address.clone(), tx, resume.clone())
            }
            Version::V5 => {
                let opener = Opener5 {
                    options: options5(settings)?,
                    capacity: capacity(settings),
                };
                start(opener, address.clone(), tx, resume.clone())
            }
        };
        // The task starts by waiting, like an event loop nobody polled yet.
        Ok(Connection {
            address,
            link,
            events,
            resume,
            failed: true,
            acks: VecDeque::new(),
            driver,
            client_id: settings.client_id.clone(),
            connected_at: None,
            brief_in_a_row: 0,
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
            if let Ok(Event::Connected { .. }) = event {
                self.connected_at = Some(Instant::now());
            }
            return event.map_err(|e| self.judge(e));
        }
    }

    /// Tells a lost connection that is worth retrying from one that is not. Two clients with
    /// one client id take the session from each other at every reconnect, for ever, and each
    /// gets the other's unacknowledged messages (case C17). An MQTT 5 broker may say so
    /// (DISCONNECT 0x8E, made [`Code::Refused`] by `error5`); Mosquitto 2.0 just closes the
    /// connection, so connections closed soon after being accepted, [`BRIEF_LIMIT`] times in
    /// a row, end the command too. A cut network is retried: each of its connections lasts
    /// longer, or never gets as far as a CONNACK.
    fn judge(&mut self, error: anyhow::Error) -> anyhow::Error {
        let id = &self.client_id;
        if exit::code_of(&error) == Code::Refused {
            self.connected_at = None;
            return error;
        }
        let brief = self
            .connected_at
            .take()
            .is_some_and(|at| at.elapsed() < BRIEF);
        self.brief_in_a_row = if brief { self.brief_in_a_row + 1 } else { 0 };
        if self.brief_in_a_row < BRIEF_LIMIT {
            return error;
        }
        let (n, brief) = (BRIEF_LIMIT, BRIEF.as_secs());
        err(
            Code::Refused,
            format!(
                "MQTT broker {} closed the connection within {brief} s of accepting it, {n} \
                 times in a row. Either another client is connected with client id '{id}' and \
                 each takes the session from the other (give each its own -i), or the broker \
                 refuses something this client sends (a message over its maximum packet size, \
                 or a topic it does not allow); last error: {error:#}",
                self.address
            ),
        )
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        self.link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a publish without waiting; the caller keeps the number of queued, unacknowledged
    /// publishes below the in-flight window given at connect time.
    pub fn publish(&self, message: Outgoing) -> anyhow::Result<()> {
        match &self.link().client {
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

    /// Subscribes to every filter at one QoS, in one SUBSCRIBE. With `retained_again` false,
    /// an MQTT 5 broker sends retained messages only for a subscription the session did not
    /// have yet (retain handling 1); MQTT 3.1.1 has no such option.
    pub fn subscribe(
        &self,
        filters: &[String],
        qos: u8,
        retained_again: bool,
    ) -> anyhow::Result<()> {
        match &self.link().client {
            Client::V4(client) => client.try_subscribe_many(
                filters
                    .iter()
                    .map(|f| r4::SubscribeFilter::new(f.clone(), qos4(qos))),
            )?,
            Client::V5(client) => client.try_subscribe_many(filters.iter().map(|f| {
                let mut filter = p5::Filter::new(f.clone(), qos5(qos));
                if !retained_again {
                    filter.retain_forward_rule = p5::RetainForwardRule::OnNewSubscribe;
                }
                filter
            }))?,
        }
        Ok(())
    }

    /// Acknowledges a message received with manual acknowledgement on. Acknowledgements go
    /// out in the order of these calls, as the event loop is polled.
    pub fn ack(&mut self, token: AckToken) {
        self.acks.push_back(token);
        self.flush_acks();
    }

    /// Hands queued acknowledgements to the event loop until its channel is full, dropping
    /// those of an earlier connection: the broker redelivers their messages.
    fn flush_acks(&mut self) {
        let link = self
            .link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(token) = self.acks.front() {
            if token.generation != link.generation {
                self.acks.pop_front();
                continue;
            }
            let sent = match &link.client {
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

    /// Sends every pending acknowledgement, then DISCONNECT, waiting at most `limit` in all,
    /// then waits (at most 2 s) for the broker to close the connection. Messages
    /// arriving meanwhile are left unacknowledged, for the broker to redeliver. A connection
    /// that has failed is left alone: its acknowledgements are void.
    ///
    /// rumqttc serves one request per poll while it reads incoming packets ten at a time, so
    /// under a stream of incoming messages the acknowledgements and the DISCONNECT can wait
    /// for room in its request channel; they go in, in order, as it empties.
    ///
    /// Waiting for the broker to close matters under such a stream: a socket closed while
    /// data the broker sent is still unread goes out as a TCP reset, and a reset makes the
    /// broker's kernel discard what it had received and the broker not yet read: the last
    /// acknowledgements and the DISCONNECT itself. The broker would then redeliver messages
    /// whose records Kafka already holds (a bridge stopped under a flood saw hundreds).
    pub async fn disconnect(&mut self, limit: Duration) {
        if self.failed {
            return;
        }
        let sent = tokio::time::timeout(limit, async {
            loop {
                self.flush_acks();
                if self.acks.is_empty() && self.try_disconnect() {
                    break;
                }
                // Keep the task moving while the channel is full.
                if let Ok(None | Some(Err(_))) =
                    tokio::time::timeout(ACK_RETRY, self.events.recv()).await
                {
                    return false;
                }
            }
            while let Some(Ok(event)) = self.events.recv().await {
                if let Event::Disconnected = event {
                    return true;
                }
            }
            false
        })
        .await;
        if sent == Ok(true) {
            // Read on, and drop, what still arrives, until the broker closes its end.
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                while let Some(Ok(_)) = self.events.recv().await {}
            })
            .await;
        }
    }

    /// Queues DISCONNECT; false while the request channel is full.
    fn try_disconnect(&self) -> bool {
        match &self.link().client {
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

/// Room in rumqttc's request channel: a full in-flight window of publishes plus as many
/// acknowledgements.
fn capacity(settings: &MqttSettings) -> usize {
    usize::from(settings.inflight) * 2 + 16
}

/// Opens the first client and event loop and starts the task that drives them.
fn start<O: Opener>(
    opener: O,
    address: String,
    tx: mpsc::Sender<anyhow::Result<Event>>,
    resume: Arc<Notify>,
) -> (Arc<Mutex<Link>>, JoinHandle<()>) {
    let (client, events) = opener.open();
    let link = Arc::new(Mutex::new(Link {
        client,
        generation: 0,
    }));
    let driven = Driven {
        opener,
        events,
        address,
        link: link.clone(),
        generation: 0,
        newest: 0,
        kept: VecDeque::new(),
        completed: 0,
        salvaged: VecDeque::new(),
        lost: None,
    };
    (link, tokio::spawn(drive(driven, tx, resume)))
}

/// Drives the event loops until the connection is dropped: passes events on, and after an
/// error waits until told to go on.
async fn drive<O: Opener>(
    mut driven: Driven<O>,
    tx: mpsc::Sender<anyhow::Result<Event>>,
    resume: Arc<Notify>,
) {
    resume.notified().await;
    loop {
        let event = match driven.next().await {
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

/// Makes a client and event loop of one protocol version, as often as needed.
trait Opener: Send + 'static {
    type Events: EventLoop;
    fn open(&self) -> (Client, Self::Events);
}

struct Opener4 {
    options: r4::MqttOptions,
    capacity: usize,
    connect_timeout: u64,
}

impl Opener for Opener4 {
    type Events = r4::EventLoop;

    fn open(&self) -> (Client, r4::EventLoop) {
        let (client, mut events) = r4::AsyncClient::new(self.options.clone(), self.capacity);
        events
            .network_options
            .set_connection_timeout(self.connect_timeout);
        (Client::V4(client), events)
    }
}

struct Opener5 {
    options: r5::MqttOptions,
    capacity: usize,
}

impl Opener for Opener5 {
    type Events = r5::EventLoop;

    fn open(&self) -> (Client, r5::EventLoop) {
        let (client, events) = r5::AsyncClient::new(self.options.clone(), self.capacity);
        (Client::V5(client), events)
    }
}

/// What [`drive`] needs from either version's rumqttc event loop.
trait EventLoop: Send + 'static {
    type Request: Send;
    /// One poll: an event for the command, or the packet id of a publish just written.
    fn step(&mut self, address: &str) -> impl Future<Output = anyhow::Result<Step>> + Send;
    /// Takes the events read or written but not yet returned by a poll (rumqttc buffers a
    /// batch, and an error ends the batch).
    fn take_events(&mut self) -> Vec<Step>;
    /// Takes every request this event loop would send on its next connection, with those
    /// still in its request channel, leaving out acknowledgements of the lost connection.
    fn take_pending(&mut self) -> VecDeque<Self::Request>;
    /// The requests to resend first on the next connection.
    fn pending(&mut self) -> &mut VecDeque<Self::Request>;
    /// The packet id of a request that is a numbered publish.
    fn pkid(request: &Self::Request) -> Option<u16>;
    fn is_pubrel(request: &Self::Request) -> bool;
    /// Makes a publish new again, for a broker that kept no session: it gets a fresh packet id
    /// when sent, and no DUP flag.
    fn renew(request: &mut Self::Request);
}

/// One poll of an event loop, reduced. Lives for one match, so the size difference of its
/// variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Step {
    Event(Event),
    /// A QoS 1 or 2 publish with this packet id went out.
    Wrote(u16),
    /// A QoS 0 publish went out: done, unless its connection failed meanwhile.
    WroteQos0,
}

/// The current event loop, and what survives from one connection to the next.
struct Driven<O: Opener> {
    opener: O,
    events: O::Events,
    address: String,
    link: Arc<Mutex<Link>>,
    generation: u64,
    /// Packet id of the newest publish written, to resend in order after a reconnect.
    newest: u16,
    /// Requests taken from the lost connection's event loop, until the next CONNACK.
    kept: VecDeque<<O::Events as EventLoop>::Request>,
    /// QoS 2 publishes completed by a reconnect, to report as delivered.
    completed: usize,
    /// What the lost connection's event loop had read but not yet reported, to report before
    /// the error that ended it: an acknowledgement lost here would leave its publish waiting
    /// for ever, since rumqttc no longer holds it to resend.
    salvaged: VecDeque<Event>,
    /// The error that ended the last connection, once `salvaged` is reported.
    lost: Option<anyhow::Error>,
}

impl<O: Opener> Driven<O> {
    /// The next event for the command, `None` for a poll that produced nothing to report.
    async fn next(&mut self) -> anyhow::Result<Option<Event>> {
        if let Some(event) = self.salvaged.pop_front() {
            return Ok(Some(event));
        }
        if let Some(error) = self.lost.take() {
            return Err(error);
        }
        if self.completed > 0 {
            self.completed -= 1;
            return Ok(Some(Event::Delivered));
        }
        match self.events.step(&self.address).await {
            Ok(Step::Wrote(pkid)) => {
                self.newest = pkid;
                Ok(None)
            }
            Ok(Step::WroteQos0) => Ok(Some(Event::Delivered)),
            Ok(Step::Event(Event::Other)) => Ok(None),
            Ok(Step::Event(Event::Connected { session_present })) => {
                if !session_present {
                    // A PUBREL completes a QoS 2 publish the broker took (PUBREC) into a
                    // session that is gone: done as far as this side can tell.
                    let before = self.kept.len();
                    self.kept.retain(|r| !O::Events::is_pubrel(r));
                    self.completed += before - self.kept.len();
                    self.kept.iter_mut().for_each(O::Events::renew);
                }
                // Ours go first, ahead of anything queued since.
                let pending = self.events.pending();
                while let Some(request) = self.kept.pop_back() {
                    pending.push_front(request);
                }
                Ok(Some(Event::Connected { session_present }))
            }
            Ok(Step::Event(Event::Message(mut message))) => {
                message.ack.generation = self.generation;
                Ok(Some(Event::Message(message)))
            }
            Ok(Step::Event(event)) => Ok(Some(event)),
            Err(e) => {
                self.replace_event_loop(&e);
                match self.salvaged.pop_front() {
                    Some(event) => {
                        self.lost = Some(e);
                        Ok(Some(event))
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// Keeps what the lost connection's event loop read before it failed: acknowledgements
    /// and messages (tagged with that connection, so their acknowledgements are dropped and
    /// the broker redelivers them). Publishes it wrote count for the send order.
    fn salvage(&mut self, error: &anyhow::Error) {
        for step in self.events.take_events() {
            match step {
                Step::Wrote(pkid) => self.newest = pkid,
                Step::WroteQos0 => self.salvaged.push_back(Event::Unsent(format!("{error:#}"))),
                Step::Event(Event::Message(mut message)) => {
                    message.ack.generation = self.generation;
                    self.salvaged.push_back(Event::Message(message));
                }
                Step::Event(event @ (Event::Delivered | Event::Rejected(_))) => {
                    self.salvaged.push_back(event);
                }
                Step::Event(_) => {}
            }
        }
    }

    /// After a connection error: keeps what must be resent, and puts a fresh client and event
    /// loop in place, under the lock, so that no request meant for the lost connection (an
    /// acknowledgement above all) can reach the next one.
    fn replace_event_loop(&mut self, error: &anyhow::Error) {
        self.salvage(error);
        let mut link = self
            .link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.kept.extend(self.events.take_pending());
        restore_send_order(&mut self.kept, O::Events::pkid, self.newest);
        let (client, events) = self.opener.open();
        self.events = events;
        self.generation += 1;
        link.client = client;
        link.generation = self.generation;
    }
}

impl EventLoop for r4::EventLoop {
    type Request = r4::Request;

    async fn step(&mut self, address: &str) -> anyhow::Result<Step> {
        self.poll().await.map(step4).map_err(|e| error4(address, e))
    }

    fn take_events(&mut self) -> Vec<Step> {
        self.state.events.drain(..).map(step4).collect()
    }

    fn take_pending(&mut self) -> VecDeque<r4::Request> {
        self.clean();
        let mut pending = std::mem::take(&mut self.pending);
        pending.retain(|r| matches!(r, r4::Request::Publish(_) | r4::Request::PubRel(_)));
        pending
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

    fn is_pubrel(request: &r4::Request) -> bool {
        matches!(request, r4::Request::PubRel(_))
    }

    fn renew(request: &mut r4::Request) {
        if let r4::Request::Publish(p) = request {
            p.pkid = 0;
            p.dup = false;
        }
    }
}

impl EventLoop for r5::EventLoop {
    type Request = r5::Request;

    async fn step(&mut self, address: &str) -> anyhow::Result<Step> {
        match self.poll().await {
            Ok(event) => Ok(step5(event)),
            // The client id only for an error: cloned, it would cost every poll.
            Err(e) => Err(error5(address, &self.options.client_id(), e)),
        }
    }

    fn take_events(&mut self) -> Vec<Step> {
        self.state.events.drain(..).map(step5).collect()
    }

    fn take_pending(&mut self) -> VecDeque<r5::Request> {
        self.clean();
        let mut pending = std::mem::take(&mut self.pending);
        pending.retain(|r| matches!(r, r5::Request::Publish(_) | r5::Request::PubRel(_)));
        pending
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

    fn is_pubrel(request: &r5::Request) -> bool {
        matches!(request, r5::Request::PubRel(_))
    }

    fn renew(request: &mut r5::Request) {
        if let r5::Request::Publish(p) = request {
            p.pkid = 0;
            p.dup = false;
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
        o.set_transport(transport(tls));
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
        o.set_transport(transport(tls));
    }
    Ok(o)
}

fn transport(tls: &super::TlsSettings) -> r4::Transport {
    match &tls.ca {
        None => r4::Transport::tls_with_default_config(),
        Some(ca) => r4::Transport::tls(ca.clone(), None, None),
    }
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

fn step4(event: r4::Event) -> Step {
    match event {
        r4::Event::Outgoing(r4::Outgoing::Publish(0)) => Step::WroteQos0,
        r4::Event::Outgoing(r4::Outgoing::Publish(pkid)) => Step::Wrote(pkid),
        event => Step::Event(event4(event)),
    }
}

fn step5(event: r5::Event) -> Step {
    match event {
        r5::Event::Outgoing(r4::Outgoing::Publish(0)) => Step::WroteQos0,
        r5::Event::Outgoing(r4::Outgoing::Publish(pkid)) => Step::Wrote(pkid),
        event => Step::Event(event5(event)),
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
                generation: 0,
            },
            topic: p.topic,
            payload: p.payload,
            qos: p.qos as u8,
            retain: p.retain,
            dup: p.dup,
            properties: None,
        }),
        E::Incoming(P::PubAck(_) | P::PubComp(_)) => Event::Delivered,
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
                generation: 0,
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

fn error5(address: &str, client_id: &str, error: r5::ConnectionError) -> anyhow::Error {
    use r5::{ConnectionError as C, StateError as S};
    let refused = match &error {
        C::ConnectionRefused(code) => Some(reason::connack(code)),
        C::MqttState(S::ServerDisconnect {
            reason_code,
            reason_string,
        }) => {
            let said = reason_string.as_deref();
            return reason::server_disconnect(address, client_id, *reason_code, said);
        }
        C::MqttState(
            S::OutgoingPacketTooLarge { pkt_size, max }
            | S::Deserialization(r5::mqttbytes::Error::OutgoingPacketTooLarge { pkt_size, max }),
        ) => {
            // rumqttc checks the limit from the CONNACK before writing, then drops the
            // connection; sending it again after a reconnect would only repeat that.
            return err(
                Code::Refused,
                format!(
                    "a message of {pkt_size} bytes (as an MQTT packet) is over the maximum \
                     packet size of MQTT broker {address}, {max} bytes; it was not sent"
                ),
            );
        }
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
