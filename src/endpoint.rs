//! Broker endpoints written as URLs: `mqtt://host[:port]/TOPIC`, `mqtts://…` and
//! `kafka://host[:port][,host:port…]/TOPIC`.
//!
//! The topic is everything after the first `/` that follows the address, kept verbatim:
//! MQTT filters contain `#` and `+`, and topics may contain further slashes. Parsing only
//! splits the URL; whether a topic is required or valid is decided by the command that uses it
//! (see [`crate::topic`]).

use std::fmt;
use std::str::FromStr;

/// Default MQTT port without TLS.
pub const MQTT_PORT: u16 = 1883;
/// Default MQTT port with TLS.
pub const MQTTS_PORT: u16 = 8883;
/// Default Kafka port.
pub const KAFKA_PORT: u16 = 9092;

/// Where to connect, and on which topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Mqtt(MqttEndpoint),
    Kafka(KafkaEndpoint),
}

/// An MQTT broker address and an optional topic or filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttEndpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub topic: Option<String>,
}

/// A Kafka bootstrap list and an optional topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaEndpoint {
    /// `host:port` pairs, joined by commas, as librdkafka's `bootstrap.servers` wants them.
    pub brokers: String,
    pub topic: Option<String>,
}

/// Why a URL could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("'{0}' is not a broker URL: it must start with mqtt://, mqtts:// or kafka://")]
    Scheme(String),
    #[error("'{0}' names no host")]
    NoHost(String),
    #[error("'{url}' has an invalid port '{port}'")]
    Port { url: String, port: String },
}

impl Endpoint {
    /// The topic or filter, if the URL had a non-empty one.
    pub fn topic(&self) -> Option<&str> {
        match self {
            Endpoint::Mqtt(m) => m.topic.as_deref(),
            Endpoint::Kafka(k) => k.topic.as_deref(),
        }
    }
}

impl MqttEndpoint {
    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        join_host_port(&self.host, self.port)
    }
}

impl FromStr for Endpoint {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| UrlError::Scheme(url.into()))?;
        let (address, topic) = match rest.split_once('/') {
            Some((address, topic)) => (address, Some(topic)),
            None => (rest, None),
        };
        let topic = topic.filter(|t| !t.is_empty()).map(str::to_owned);
        if address.is_empty() {
            return Err(UrlError::NoHost(url.into()));
        }
        match scheme {
            "mqtt" | "mqtts" => {
                let tls = scheme == "mqtts";
                let default = if tls { MQTTS_PORT } else { MQTT_PORT };
                let (host, port) = split_host_port(url, address, default)?;
                Ok(Endpoint::Mqtt(MqttEndpoint {
                    host,
                    port,
                    tls,
                    topic,
                }))
            }
            "kafka" => {
                let brokers = address
                    .split(',')
                    .map(|one| {
                        let (host, port) = split_host_port(url, one, KAFKA_PORT)?;
                        Ok(join_host_port(&host, port))
                    })
                    .collect::<Result<Vec<_>, UrlError>>()?
                    .join(",");
                Ok(Endpoint::Kafka(KafkaEndpoint { brokers, topic }))
            }
            _ => Err(UrlError::Scheme(url.into())),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, address, topic) = match self {
            Endpoint::Mqtt(m) => (if m.tls { "mqtts" } else { "mqtt" }, m.address(), &m.topic),
            Endpoint::Kafka(k) => ("kafka", k.brokers.clone(), &k.topic),
        };
        write!(f, "{scheme}://{address}/{}", topic.as_deref().unwrap_or(""))
    }
}

/// Splits `host[:port]` or `[v6]:port`, filling in `default` when no port is given.
fn split_host_port(url: &str, address: &str, default: u16) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(v6) = address.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| UrlError::NoHost(url.into()))?;
        (host, after.strip_prefix(':'))
    } else {
        match address.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost(url.into()));
    }
    let port = match port {
        None => default,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| UrlError::Port {
                url: url.into(),
                port: p.into(),
            })?,
    };
    Ok((host.to_owned(), port))
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqtt(url: &str) -> MqttEndpoint {
        match url.parse().unwrap() {
            Endpoint::Mqtt(m) => m,
            other => panic!("not mqtt: {other:?}"),
        }
    }

    #[test]
    fn topic_is_everything_after_the_address_verbatim() {
        let m = mqtt("mqtt://broker:1884/sensors/+/a/#");
        assert_eq!((m.host.as_str(), m.port), ("broker", 1884));
        assert_eq!(m.topic.as_deref(), Some("sensors/+/a/#"));
        assert_eq!(mqtt("mqtt://h//leading").topic.as_deref(), Some("/leading"));
    }

    #[test]
    fn missing_or_empty_topic_is_none() {
        assert_eq!(mqtt("mqtt://h").topic, None);
        assert_eq!(mqtt("mqtt://h/").topic, None);
    }

    #[test]
    fn default_ports_follow_the_scheme() {
        assert_eq!(mqtt("mqtt://h/t").port, 1883);
        let tls = mqtt("mqtts://h/t");
        assert!(tls.tls);
        assert_eq!(tls.port, 8883);
    }

    #[test]
    fn kafka_takes_a_broker_list() {
        let e: Endpoint = "kafka://a,b:9093,[::1]:9094/orders".parse().unwrap();
        let Endpoint::Kafka(k) = e else { panic!() };
        assert_eq!(k.brokers, "a:9092,b:9093,[::1]:9094");
        assert_eq!(k.topic.as_deref(), Some("orders"));
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(matches!(
            "http://h/t".parse::<Endpoint>(),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            "sensors".parse::<Endpoint>(),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            "mqtt:///t".parse::<Endpoint>(),
            Err(UrlError::NoHost(_))
        ));
        assert!(matches!(
            "mqtt://h:x/t".parse::<Endpoint>(),
            Err(UrlError::Port { .. })
        ));
        assert!(matches!(
            "mqtt://h:0/t".parse::<Endpoint>(),
            Err(UrlError::Port { .. })
        ));
    }
}
