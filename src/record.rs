//! The record envelope: one NDJSON line per message, the same type for MQTT and Kafka.
//!
//! `mqk sub --format json` writes it and `mqk pub --format json` reads it, so a pipe between
//! the two reproduces every record exactly, binary payloads included. The field names are a
//! public interface; they are documented on [`Envelope`] and in the README.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// One message, from or for either system.
///
/// Fields a record does not have are left out of the JSON; `null` and empty stay distinct
/// (a Kafka record with a null value has no `payload`, an empty one has `"payload": ""`).
///
/// | field | system | meaning |
/// |---|---|---|
/// | `topic` | both | MQTT topic or Kafka topic |
/// | `payload` | both | the bytes: the text itself when valid UTF-8, otherwise base64 |
/// | `payload_encoding` | both | `"base64"` when `payload` is base64; absent for text |
/// | `qos` | MQTT | 0, 1 or 2 |
/// | `retain` | MQTT | the retain flag |
/// | `properties` | MQTT 5 | PUBLISH properties, see [`Properties`] |
/// | `key` | Kafka | record key, on the same text-or-base64 rule; absent for a null key |
/// | `key_encoding` | Kafka | `"base64"` when `key` is base64 |
/// | `headers` | Kafka | `{"name", "value", "value_encoding"}` list; repeats, nulls kept |
/// | `partition` | Kafka | partition the record was read from |
/// | `offset` | Kafka | offset the record was read from |
/// | `timestamp` | both | epoch ms: Kafka's record time, or when `mqk` got an MQTT message |
///
/// When publishing, `partition` and `offset` are ignored (Kafka assigns them; records are
/// partitioned by key), Kafka fields are ignored by MQTT and MQTT fields by Kafka, and
/// `properties` is ignored on MQTT 3.1.1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    pub topic: Option<String>,
    pub payload: Option<Vec<u8>>,
    pub qos: Option<u8>,
    pub retain: Option<bool>,
    pub properties: Option<Properties>,
    pub key: Option<Vec<u8>>,
    pub headers: Option<Vec<Header>>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub timestamp: Option<i64>,
}

/// MQTT 5 PUBLISH properties that travel with a message. Subscription identifiers are
/// written by `sub` but not sent by `pub`; topic aliases are a connection detail and never
/// appear.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Properties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_format_indicator: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_expiry_interval: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    /// Correlation data, on the text-or-base64 rule of payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_data_encoding: Option<Encoding>,
    /// `[name, value]` pairs, in order; names may repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_properties: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscription_identifiers: Vec<usize>,
}

/// One Kafka header. `value: None` is a null header value, distinct from an empty one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Option<Vec<u8>>,
}

/// How a byte field is written when it is not plain UTF-8 text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Base64,
}

/// Why an input line is not an envelope.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("line {line}: field '{field}' is not valid base64")]
    Base64 { line: usize, field: &'static str },
    #[error("line {line}: an envelope is a JSON object, {{...}}")]
    NotObject { line: usize },
    #[error("line {line}: field '{field}' {rule}")]
    Invalid {
        line: usize,
        field: &'static str,
        rule: &'static str,
    },
}

impl Envelope {
    /// Reads one NDJSON line; `line` is its 1-based number, for error messages.
    pub fn from_json(text: &[u8], line: usize) -> Result<Envelope, EnvelopeError> {
        // serde would also take a struct written as an array of its fields.
        if text.trim_ascii_start().first().is_some_and(|&b| b != b'{') {
            return Err(EnvelopeError::NotObject { line });
        }
        let wire: Wire = serde_json::from_slice(text).map_err(|e| EnvelopeError::Json {
            line,
            column: e.column(),
            message: e
                .to_string()
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_owned(),
        })?;
        wire.into_envelope(line)
    }

    /// Writes the envelope as one JSON line, without the newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Wire::from_envelope(self)).expect("an envelope always serialises")
    }

    /// The payload bytes, empty for a record without one.
    pub fn payload_bytes(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or_default()
    }
}

/// The JSON shape of an envelope, with byte fields already encoded.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_encoding: Option<Encoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    qos: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retain: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    properties: Option<Properties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_encoding: Option<Encoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    headers: Option<Vec<WireHeader>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    partition: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireHeader {
    name: String,
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_encoding: Option<Encoding>,
}

impl Wire {
    fn from_envelope(e: &Envelope) -> Wire {
        let (payload, payload_encoding) = split(e.payload.as_deref());
        let (key, key_encoding) = split(e.key.as_deref());
        let headers = e.headers.as_ref().map(|headers| {
            headers
                .iter()
                .map(|h| {
                    let (value, value_encoding) = split(h.value.as_deref());
                    WireHeader {
                        name: h.name.clone(),
                        value,
                        value_encoding,
                    }
                })
                .collect()
        });
        Wire {
            topic: e.topic.clone(),
            payload,
            payload_encoding,
            qos: e.qos,
            retain: e.retain,
            properties: e.properties.clone(),
            key,
            key_encoding,
            headers,
            partition: e.partition,
            offset: e.offset,
            timestamp: e.timestamp,
        }
    }

    fn into_envelope(self, line: usize) -> Result<Envelope, EnvelopeError> {
        if self.timestamp.is_some_and(|t| t < 0) {
            return Err(EnvelopeError::Invalid {
                line,
                field: "timestamp",
                rule: "is epoch milliseconds: 0 or more",
            });
        }
        let payload = join(self.payload, self.payload_encoding, line, "payload")?;
        if let Some(p) = &self.properties {
            join(
                p.correlation_data.clone(),
                p.correlation_data_encoding,
                line,
                "correlation_data",
            )?;
        }
        let key = join(self.key, self.key_encoding, line, "key")?;
        let headers = self
            .headers
            .map(|headers| {
                headers
                    .into_iter()
                    .map(|h| {
                        let value = join(h.value, h.value_encoding, line, "headers.value")?;
                        Ok(Header {
                            name: h.name,
                            value,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(Envelope {
            topic: self.topic,
            payload,
            qos: self.qos,
            retain: self.retain,
            properties: self.properties,
            key,
            headers,
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
        })
    }
}

/// Bytes as envelope text: themselves when UTF-8, else base64 with the encoding marker.
pub fn split(bytes: Option<&[u8]>) -> (Option<String>, Option<Encoding>) {
    match bytes.map(std::str::from_utf8) {
        None => (None, None),
        Some(Ok(text)) => (Some(text.to_owned()), None),
        Some(Err(_)) => (
            Some(BASE64.encode(bytes.unwrap_or_default())),
            Some(Encoding::Base64),
        ),
    }
}

/// The inverse of [`split`].
pub fn join(
    text: Option<String>,
    encoding: Option<Encoding>,
    line: usize,
    field: &'static str,
) -> Result<Option<Vec<u8>>, EnvelopeError> {
    match (text, encoding) {
        (None, _) => Ok(None),
        (Some(text), None) => Ok(Some(text.into_bytes())),
        (Some(text), Some(Encoding::Base64)) => BASE64
            .decode(text)
            .map(Some)
            .map_err(|_| EnvelopeError::Base64 { line, field }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(e: &Envelope) -> Envelope {
        Envelope::from_json(e.to_json().as_bytes(), 1).unwrap()
    }

    #[test]
    fn text_payload_is_written_as_itself() {
        let e = Envelope {
            topic: Some("t".into()),
            payload: Some(b"\"DATA\"".to_vec()),
            ..Default::default()
        };
        assert_eq!(e.to_json(), r#"{"topic":"t","payload":"\"DATA\""}"#);
        assert_eq!(round_trip(&e), e);
    }

    #[test]
    fn binary_payload_is_base64_with_a_marker() {
        let e = Envelope {
            payload: Some(vec![0, 0xff, 0, b'\n']),
            ..Default::default()
        };
        assert_eq!(
            e.to_json(),
            r#"{"payload":"AP8ACg==","payload_encoding":"base64"}"#
        );
        assert_eq!(round_trip(&e), e);
    }

    #[test]
    fn null_and_empty_stay_distinct() {
        let null = Envelope {
            key: None,
            payload: None,
            ..Default::default()
        };
        let empty = Envelope {
            key: Some(vec![]),
            payload: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(null.to_json(), "{}");
        assert_eq!(empty.to_json(), r#"{"payload":"","key":""}"#);
        assert_eq!(round_trip(&empty), empty);
    }

    #[test]
    fn headers_keep_order_repeats_and_nulls() {
        let headers = vec![
            Header {
                name: "a".into(),
                value: Some(b"1".to_vec()),
            },
            Header {
                name: "a".into(),
                value: None,
            },
            Header {
                name: "b".into(),
                value: Some(vec![0xfe]),
            },
        ];
        let e = Envelope {
            headers: Some(headers),
            ..Default::default()
        };
        assert_eq!(round_trip(&e), e);
    }

    #[test]
    fn properties_round_trip() {
        let properties = Properties {
            content_type: Some("application/json".into()),
            correlation_data: Some("abc".into()),
            user_properties: vec![("k".into(), "v".into()), ("k".into(), "w".into())],
            ..Default::default()
        };
        let e = Envelope {
            properties: Some(properties),
            qos: Some(1),
            retain: Some(false),
            ..Default::default()
        };
        assert_eq!(round_trip(&e), e);
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = Envelope::from_json(br#"{"topic": "t", "payload": }"#, 7).unwrap_err();
        assert!(err.to_string().starts_with("line 7, column 27:"), "{err}");
        let err = Envelope::from_json(br#"{"paylod": "x"}"#, 2).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = Envelope::from_json(br#"{"payload": "!", "payload_encoding": "base64"}"#, 3);
        assert!(matches!(err, Err(EnvelopeError::Base64 { line: 3, .. })));
    }

    #[test]
    fn an_array_or_a_negative_timestamp_is_refused() {
        let err = Envelope::from_json(b" []", 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 4: an envelope is a JSON object, {...}"
        );
        let err = Envelope::from_json(br#"["t", "p"]"#, 1).unwrap_err();
        assert!(matches!(err, EnvelopeError::NotObject { line: 1 }));
        let err = Envelope::from_json(br#"{"payload": "x", "timestamp": -5}"#, 9).unwrap_err();
        assert!(
            err.to_string()
                .contains("'timestamp' is epoch milliseconds"),
            "{err}"
        );
        assert!(Envelope::from_json(br#"{"timestamp": 0}"#, 1).is_ok());
    }
}
