//! Broker endpoints written as URLs: `mqtt://host[:port]/TOPIC`, `mqtts://…` and
//! `kafka://host[:port][,host:port…]/TOPIC`.
//!
//! The topic is everything after the first `/` that follows the address, kept verbatim:
//! MQTT filters contain `#` and `+`, and topics may contain further slashes. Parsing only
//! splits the URL; whether a topic is required or valid is decided by the command that uses it
//! (see [`crate::topic`]).
//!
//! The address is checked strictly, since a typo there would otherwise reach a resolver as a
//! strange host name: a host is a name, an IPv4 address or a bracketed IPv6 address, and
//! nothing but `:PORT` follows it. Credentials never go in a URL: URLs are repeated in error
//! messages, so one that holds credentials is refused, and its message leaves them out.

use std::fmt;
use std::net::Ipv6Addr;
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
    #[error(
        "'{url}' has an invalid host '{host}': write a host name, an IPv4 address or an IPv6 \
         address in brackets, then :PORT or nothing"
    )]
    Host { url: String, host: String },
    /// `url` has its credentials masked.
    #[error(
        "'{url}' holds credentials: they never go in a URL; give them with -u and --password \
         (or MQK_PASSWORD)"
    )]
    MqttCredentials { url: String },
    /// `url` has its credentials masked.
    #[error(
        "'{url}' holds credentials: they never go in a URL; give them as librdkafka \
         properties, -X sasl.username=… -X sasl.password=…"
    )]
    KafkaCredentials { url: String },
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
        if let Some((_, host)) = address.rsplit_once('@') {
            let url = format!("{scheme}://…@{host}/{}", topic.as_deref().unwrap_or(""));
            return Err(if scheme == "kafka" {
                UrlError::KafkaCredentials { url }
            } else {
                UrlError::MqttCredentials { url }
            });
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
    let bad_host = || UrlError::Host {
        url: url.into(),
        host: address.into(),
    };
    let (host, port) = if let Some(v6) = address.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad_host)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad_host)?),
        };
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(bad_host());
        }
        (host, port)
    } else {
        let (host, port) = match address.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        };
        // A second colon means an IPv6 address without its brackets.
        let name = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
        if !host.chars().all(name) || port.is_some_and(|p| p.contains(':')) {
            return Err(bad_host());
        }
        (host, port)
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

    #[test]
    fn ipv6_addresses_take_brackets_and_only_a_port_after_them() {
        let m = mqtt("mqtt://[::1]:1884/t");
        assert_eq!((m.host.as_str(), m.port), ("::1", 1884));
        assert_eq!(mqtt("mqtt://[::1]/t").port, 1883);
        for url in [
            "mqtt://[::1]x:1883/t",
            "mqtt://[::1]x/t",
            "mqtt://[::1]:/t",
            "mqtt://[::1/t",
            "mqtt://[nonsense]:1883/t",
            "mqtt://::1/t",
            "mqtt://h:1883:1884/t",
            "mqtt://h st/t",
            "kafka://a:9092,[::1]x:9093/t",
            "kafka://a:9092,b:1:2/t",
        ] {
            let refused = url.parse::<Endpoint>();
            assert!(
                matches!(refused, Err(UrlError::Host { .. } | UrlError::Port { .. })),
                "{url}: {refused:?}"
            );
        }
    }

    #[test]
    fn credentials_in_a_url_are_refused_without_being_repeated() {
        for (url, flags) in [
            (
                "mqtt://user:secret@host/t",
                "-u and --password (or MQK_PASSWORD)",
            ),
            (
                "mqtts://user:secret@host:8883/t",
                "-u and --password (or MQK_PASSWORD)",
            ),
            ("kafka://user:secret@a:9092,b/t", "-X sasl.username"),
            ("kafka://a:9092,user:secret@b/t", "-X sasl.username"),
        ] {
            let message = url.parse::<Endpoint>().unwrap_err().to_string();
            assert!(message.contains("never go in a URL"), "{message}");
            assert!(message.contains(flags), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
        assert_eq!(mqtt("mqtt://h/a@b").topic.as_deref(), Some("a@b"));
    }
}
