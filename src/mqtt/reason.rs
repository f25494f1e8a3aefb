//! MQTT reason codes and connection errors, turned into words and exit codes.
//!
//! rumqttc only logs a failing MQTT 5 reason code on PUBACK/PUBREC and carries on as if the
//! publish were done (since <https://github.com/bytebeamio/rumqtt/pull/877>); `mqk` reads
//! the code from the packet itself, so a refused publish is never reported as delivered.

use std::fmt;

use rumqttc::v5::mqttbytes::v5 as p5;

use crate::exit::{Code, err};

/// A broker's reason for refusing something: the MQTT 5 code when there is one, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    pub code: Option<u8>,
    pub text: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{} (0x{code:02x})", self.text),
            None => f.write_str(&self.text),
        }
    }
}

impl Reason {
    fn new(code: Option<u8>, name: impl fmt::Debug) -> Reason {
        Reason {
            code,
            text: words(&format!("{name:?}")),
        }
    }
}

/// `NotAuthorized` → `not authorized`.
fn words(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A failing PUBACK reason, or `None` for success.
pub(crate) fn puback(reason: &p5::PubAckReason) -> Option<Reason> {
    use p5::PubAckReason as R;
    let code = match reason {
        R::Success | R::NoMatchingSubscribers => return None,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    };
    Some(Reason::new(Some(code), reason))
}

/// A failing PUBREC reason, or `None` for success.
pub(crate) fn pubrec(reason: &p5::PubRecReason) -> Option<Reason> {
    use p5::PubRecReason as R;
    let code = match reason {
        R::Success | R::NoMatchingSubscribers => return None,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    };
    Some(Reason::new(Some(code), reason))
}

/// A failing PUBCOMP reason, or `None` for success.
pub(crate) fn pubcomp(reason: &p5::PubCompReason) -> Option<Reason> {
    match reason {
        p5::PubCompReason::Success => None,
        other => Some(Reason::new(Some(0x92), other)),
    }
}

/// The granted QoS or the refusal, per filter of a v5 SUBACK.
pub(crate) fn suback5(code: &p5::SubscribeReasonCode) -> Result<u8, Reason> {
    use p5::SubscribeReasonCode as R;
    let number = match code {
        R::Success(qos) => return Ok(*qos as u8),
        R::Failure | R::Unspecified => 0x80,
        R::ImplementationSpecific => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicFilterInvalid => 0x8f,
        R::PkidInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::SharedSubscriptionsNotSupported => 0x9e,
        R::SubscriptionIdNotSupported => 0xa1,
        R::WildcardSubscriptionsNotSupported => 0xa2,
    };
    Err(Reason::new(Some(number), code))
}

/// The granted QoS or the refusal, per filter of a 3.1.1 SUBACK.
pub(crate) fn suback4(code: &rumqttc::SubscribeReasonCode) -> Result<u8, Reason> {
    match code {
        rumqttc::SubscribeReasonCode::Success(qos) => Ok(*qos as u8),
        rumqttc::SubscribeReasonCode::Failure => Err(Reason::new(Some(0x80), "Failure")),
    }
}

/// Names a lost or failed connection to `address`, with the exit code it deserves: refusals
/// by the broker are [`Code::Refused`], everything else [`Code::Unreachable`].
pub(crate) fn connection_error(
    address: &str,
    refused: Option<String>,
    cause: String,
) -> anyhow::Error {
    match refused {
        Some(reason) => err(
            Code::Refused,
            format!("MQTT broker {address} refused the connection: {reason}"),
        ),
        None => err(
            Code::Unreachable,
            format!("cannot reach MQTT broker {address}: {}", explain_tls(cause)),
        ),
    }
}

/// rustls names an untrusted certificate by its variant only; this says what it means and
/// what to do. Its other certificate errors already say enough (a wrong name lists the names
/// the certificate is valid for).
fn explain_tls(cause: String) -> String {
    if cause.contains("UnknownIssuer") {
        format!(
            "{cause}: the broker's certificate is not signed by a CA this client trusts \
             (give the CA's certificate with --cafile)"
        )
    } else {
        cause
    }
}

/// A DISCONNECT the broker sent, with its reason (rumqttc only logs it). "Session taken over"
/// is [`Code::Refused`]: another client has the session, and reconnecting would take it back
/// and start a tug of war. Other reasons (shutting down, keep-alive timeout) are worth a
/// reconnect.
pub(crate) fn server_disconnect(
    address: &str,
    client_id: &str,
    code: p5::DisconnectReasonCode,
    text: Option<&str>,
) -> anyhow::Error {
    let reason = Reason::new(Some(code as u8), code);
    let said = text.map(|t| format!(": \"{t}\"")).unwrap_or_default();
    let message = format!("MQTT broker {address} closed the connection: {reason}{said}");
    match code {
        p5::DisconnectReasonCode::SessionTakenOver => err(
            Code::Refused,
            format!(
                "{message}: another client connected with client id '{client_id}' (give each \
                 its own -i)"
            ),
        ),
        _ => err(Code::Unreachable, message),
    }
}

/// The words for a CONNACK refusal of either version.
pub(crate) fn connack(name: impl fmt::Debug) -> String {
    words(&format!("{name:?}")).replace("user name password", "user name or password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_words_with_their_code() {
        let reason = puback(&p5::PubAckReason::NotAuthorized).unwrap();
        assert_eq!(reason.to_string(), "not authorized (0x87)");
        assert!(puback(&p5::PubAckReason::NoMatchingSubscribers).is_none());
    }

    #[test]
    fn connack_refusals_read_naturally() {
        assert_eq!(
            connack(rumqttc::ConnectReturnCode::BadUserNamePassword),
            "bad user name or password"
        );
    }

    #[test]
    fn a_session_taken_over_is_refused_and_other_disconnects_are_retried() {
        use p5::DisconnectReasonCode as D;
        let taken = server_disconnect("b:1883", "me", D::SessionTakenOver, None);
        assert_eq!(crate::exit::code_of(&taken), Code::Refused);
        assert_eq!(
            taken.to_string(),
            "MQTT broker b:1883 closed the connection: session taken over (0x8e): another \
             client connected with client id 'me' (give each its own -i)"
        );
        let shutdown = server_disconnect("b:1883", "me", D::ServerShuttingDown, Some("bye"));
        assert_eq!(crate::exit::code_of(&shutdown), Code::Unreachable);
        assert!(
            shutdown
                .to_string()
                .ends_with("server shutting down (0x8b): \"bye\"")
        );
    }
}
