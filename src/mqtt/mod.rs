//! MQTT clients for every subcommand: connecting, sessions, publishing with
//! acknowledgement, subscribing and manual acknowledgement.
//!
//! rumqttc has one client per protocol version (`rumqttc` for 3.1.1, `rumqttc::v5` for 5)
//! with near-identical APIs. [`Connection`] hides that split behind one type and turns each
//! version's events into the few [`Event`]s the commands act on, so no subcommand ever
//! names a rumqttc type.
//!
//! rumqttc only queues a publish; nothing is on the wire until the event loop is polled, and
//! keep-alive pings only go out while it is polled. Every command therefore polls
//! [`Connection::poll`] in its main loop, also while its input is idle.

mod connection;
mod reason;

use std::time::Duration;

use bytes::Bytes;

pub use connection::Connection;
pub use reason::Reason;

use crate::record::{Envelope, Properties};

/// The largest MQTT packet there is (the remaining-length limit of the protocol). rumqttc's
/// default of 10 KiB would split nothing but refuse long lines and files.
pub const MAX_PACKET: usize = 268_435_455;

/// Protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

/// Session handling at connect time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Session {
    /// A fresh session that ends with the connection.
    Clean,
    /// Resume the broker-side session of this client id, keeping it this many seconds after
    /// disconnecting (MQTT 5; `u32::MAX` never expires; 3.1.1 keeps it as the broker decides).
    Persistent { expiry_secs: u32 },
}

/// Everything needed to connect, already validated.
#[derive(Clone, Debug)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    pub tls: Option<TlsSettings>,
    pub version: Version,
    pub client_id: String,
    pub session: Session,
    pub keep_alive: Duration,
    pub connect_timeout: Duration,
    pub credentials: Option<(String, String)>,
    /// Outgoing QoS 1/2 publishes awaiting acknowledgement at most; also the receive
    /// maximum announced to an MQTT 5 broker.
    pub inflight: u16,
    /// Leave acknowledging received QoS 1/2 messages to the caller ([`Connection::ack`]).
    pub manual_acks: bool,
}

/// TLS options for `mqtts://`.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// PEM text of the trusted CA certificates (`--cafile`, read and checked before
    /// connecting); the system's roots when absent.
    pub ca: Option<Vec<u8>>,
}

impl MqttSettings {
    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        crate::endpoint::MqttEndpoint {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls.is_some(),
            topic: None,
        }
        .address()
    }
}

/// What the event loop reports, reduced to what commands act on.
#[derive(Debug)]
pub enum Event {
    /// CONNACK accepted.
    Connected { session_present: bool },
    /// A message from a subscription.
    Message(Message),
    /// One of our publishes is done: PUBACK (QoS 1), PUBCOMP (QoS 2), or written (QoS 0).
    Delivered,
    /// The broker refused one of our publishes with a reason code (MQTT 5 only).
    Rejected(Reason),
    /// A QoS 0 publish of ours was being written when its connection failed, for this
    /// reason: nothing says it left (rumqttc refuses one over the broker's maximum packet
    /// size only as it writes).
    Unsent(String),
    /// SUBACK: per filter, the granted QoS or the refusal.
    Subscribed(Vec<Result<u8, Reason>>),
    /// Our DISCONNECT went out.
    Disconnected,
    /// Anything else (pings, our own outgoing packets).
    Other,
}

/// A received PUBLISH.
#[derive(Clone, Debug)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    /// Set by the broker on a redelivery.
    pub dup: bool,
    pub properties: Option<Properties>,
    ack: AckToken,
}

/// What [`Connection::ack`] needs to acknowledge a message later, after its payload is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckToken {
    pkid: u16,
    qos: u8,
    /// Which connection the message came on: an acknowledgement is only ever sent on that
    /// one, never on a later connection where the broker redelivers the message.
    generation: u64,
}

impl Message {
    /// The token to acknowledge this message with.
    pub fn ack_token(&self) -> AckToken {
        self.ack
    }

    /// The message as a record envelope, stamped with the time it was received.
    pub fn to_envelope(&self, received_ms: i64) -> Envelope {
        Envelope {
            topic: Some(self.topic.clone()),
            payload: Some(self.payload.to_vec()),
            qos: Some(self.qos),
            retain: Some(self.retain),
            properties: self.properties.clone(),
            timestamp: Some(received_ms),
            ..Default::default()
        }
    }
}

/// A message to publish.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    pub properties: Option<Properties>,
}
