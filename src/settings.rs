//! Raw command-line values resolved into validated settings.
//!
//! Every usage error is decided here, before anything connects, and names the flag or the
//! argument at fault; it exits with [`Code::Usage`]. The client libraries panic on some
//! values (a keep-alive under a second, an in-flight window of 0, a persistent session
//! without a client id), so those never get past this module either.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cli::{self, BridgeArgs, DevArgs, KafkaArgs, MqttArgs, PubArgs, SubArgs, Typed};
use crate::endpoint::{Endpoint, KafkaEndpoint, MqttEndpoint};
use crate::exit::{Code, err};
use crate::input::Framing;
use crate::kafka::{self, KafkaSettings, Position};
use crate::mqtt::{MqttSettings, Session, TlsSettings, Version};
use crate::output::Format;
use crate::topic;

type Result<T> = anyhow::Result<T>;

/// The longest keep-alive MQTT can express, in seconds (a two-byte field).
const MAX_KEEP_ALIVE_SECS: u64 = 65_535;
/// The longest MQTT string, in bytes (a two-byte length), client ids included.
const MAX_MQTT_STRING: usize = 65_535;

/// The PEM text of `--cafile`, once it is known to hold at least one certificate, so that a
/// wrong file is refused before connecting rather than named as a TLS failure.
fn ca_certificates(path: &std::path::Path) -> Result<Vec<u8>> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let shown = path.display();
    let bad = |what: &str| err(Code::BadInput, format!("--cafile {shown} {what}"));
    let pem = std::fs::read(path)
        .map_err(|e| err(Code::BadInput, format!("cannot read --cafile {shown}: {e}")))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad("holds a PEM block that does not parse"))?;
    if certificates.is_empty() {
        return Err(bad(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    // What rumqttc does with them: a certificate rustls cannot use as a CA is left out.
    let mut roots = rustls::RootCertStore::empty();
    let (usable, unusable) = roots.add_parsable_certificates(certificates);
    if usable == 0 {
        return Err(bad("holds no certificate that parses"));
    }
    if unusable > 0 {
        let left_out = "--cafile: certificates that do not parse are left out";
        tracing::warn!(file = %shown, unusable, "{left_out}");
    }
    Ok(pem)
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    err(Code::Usage, message)
}

/// Where `pub` sends to.
#[derive(Debug)]
pub enum Target {
    Mqtt {
        settings: MqttSettings,
        topic: Option<String>,
    },
    Kafka {
        settings: KafkaSettings,
        topic: Option<String>,
        create: Option<i32>,
    },
}

/// `mqk pub`, resolved.
#[derive(Debug)]
pub struct PubSettings {
    pub target: Target,
    pub framing: Framing,
    pub qos: u8,
    pub retain: bool,
    pub key: Option<Vec<u8>>,
    pub inflight: usize,
    pub delivery_timeout: Duration,
    pub reconnects: u32,
    pub quiet: bool,
}

/// Where `sub` reads from.
#[derive(Debug)]
pub enum Source {
    Mqtt {
        settings: MqttSettings,
        filters: Vec<String>,
        qos: u8,
    },
    Kafka {
        settings: KafkaSettings,
        topics: Vec<String>,
        from: Position,
        exit: bool,
    },
}

/// `mqk sub`, resolved.
#[derive(Debug)]
pub struct SubSettings {
    pub source: Source,
    pub count: Option<u64>,
    pub timeout: Option<Duration>,
    pub format: Format,
}

/// `mqk bridge`, resolved.
#[derive(Debug)]
pub struct BridgeSettings {
    pub mqtt: MqttSettings,
    pub filter: String,
    pub qos: u8,
    pub kafka: KafkaSettings,
    pub topic: String,
    pub create: Option<i32>,
}

/// `mqk dev`, resolved.
#[derive(Debug)]
pub struct DevSettings {
    /// Kafka topics to create, with their partition counts.
    pub topics: Vec<(String, i32)>,
    pub mqtt_port: Option<u16>,
    pub mqtt311_port: Option<u16>,
}

pub fn resolve_dev(args: DevArgs) -> Result<DevSettings> {
    let topics: Vec<(String, i32)> = args
        .topics
        .iter()
        .map(|spec| {
            let (name, partitions) = match spec.rsplit_once(':') {
                Some((name, n)) => {
                    let n = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        usage(format!(
                            "--topic {spec}: partitions must be a number from 1"
                        ))
                    })?;
                    (name, n)
                }
                None => (spec.as_str(), 1),
            };
            topic::kafka_topic(name).map_err(|e| usage(format!("--topic {spec}: {e}")))?;
            Ok((name.to_owned(), partitions))
        })
        .collect::<Result<_>>()?;
    let mut seen = HashSet::new();
    if let Some((name, _)) = topics.iter().find(|(name, _)| !seen.insert(name)) {
        return Err(usage(format!("--topic {name} is given more than once")));
    }
    if args.mqtt_port.is_some() && args.mqtt_port == args.mqtt311_port {
        return Err(usage("--mqtt-port and --mqtt311-port must differ"));
    }
    Ok(DevSettings {
        topics,
        mqtt_port: args.mqtt_port,
        mqtt311_port: args.mqtt311_port,
    })
}

pub fn resolve_pub(args: PubArgs) -> Result<PubSettings> {
    let framing = framing(&args)?;
    let envelopes = framing == Framing::Envelopes;
    check_qos(args.qos)?;
    if args.inflight == 0 {
        return Err(usage("--inflight must be at least 1"));
    }
    let target = match parse_url(&args.url)? {
        Endpoint::Mqtt(endpoint) => {
            refuse_flags_of(cli::KAFKA, &args.typed, &args.url)?;
            if let Some(topic) = &endpoint.topic {
                topic::mqtt_topic(topic).map_err(|e| usage(format!("{}: {e}", args.url)))?;
            } else if !envelopes {
                return Err(no_topic(&args.url, "TOPIC"));
            }
            let settings = mqtt_settings(&args.mqtt, &endpoint, args.inflight, "pub")?;
            Target::Mqtt {
                settings,
                topic: endpoint.topic,
            }
        }
        Endpoint::Kafka(endpoint) => {
            refuse_flags_of(cli::MQTT, &args.typed, &args.url)?;
            if let Some(topic) = &endpoint.topic {
                topic::kafka_topic(topic).map_err(|e| usage(format!("{}: {e}", args.url)))?;
            } else if !envelopes {
                return Err(no_topic(&args.url, "TOPIC"));
            }
            let (settings, create) = kafka_settings(&args.kafka, &endpoint)?;
            Target::Kafka {
                settings,
                topic: endpoint.topic,
                create,
            }
        }
    };
    Ok(PubSettings {
        target,
        framing,
        qos: args.qos,
        retain: args.retain,
        key: args.key.map(String::into_bytes),
        inflight: usize::from(args.inflight),
        delivery_timeout: args.delivery_timeout.into(),
        reconnects: args.reconnects,
        quiet: args.quiet,
    })
}

pub fn resolve_sub(args: SubArgs) -> Result<SubSettings> {
    check_qos(args.qos)?;
    let timeout = args.timeout.map(Duration::from);
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(usage("--timeout must be longer than 0s"));
    }
    let endpoints = args
        .urls
        .iter()
        .map(|url| parse_url(url))
        .collect::<Result<Vec<_>>>()?;
    let source = match &endpoints[0] {
        Endpoint::Mqtt(first) => {
            refuse_flags_of(cli::KAFKA, &args.typed, &args.urls[0])?;
            let mut filters = Vec::new();
            for (url, endpoint) in args.urls.iter().zip(&endpoints) {
                let Endpoint::Mqtt(m) = endpoint else {
                    return Err(mixed());
                };
                if (&m.host, m.port, m.tls) != (&first.host, first.port, first.tls) {
                    return Err(usage(format!("{url}: every URL must name the same broker")));
                }
                let filter = m.topic.clone().ok_or_else(|| no_topic(url, "FILTER"))?;
                topic::mqtt_filter(&filter).map_err(|e| usage(format!("{url}: {e}")))?;
                // The same filter twice is one subscription.
                if !filters.contains(&filter) {
                    filters.push(filter);
                }
            }
            let settings = mqtt_settings(&args.mqtt, first, 100, "sub")?;
            Source::Mqtt {
                settings,
                filters,
                qos: args.qos,
            }
        }
        Endpoint::Kafka(first) => {
            refuse_flags_of(cli::MQTT, &args.typed, &args.urls[0])?;
            let mut topics = Vec::new();
            for (url, endpoint) in args.urls.iter().zip(&endpoints) {
                let Endpoint::Kafka(k) = endpoint else {
                    return Err(mixed());
                };
                if k.brokers != first.brokers {
                    return Err(usage(format!(
                        "{url}: every URL must name the same brokers"
                    )));
                }
                let topic = k.topic.clone().ok_or_else(|| no_topic(url, "TOPIC"))?;
                topic::kafka_topic(&topic).map_err(|e| usage(format!("{url}: {e}")))?;
                // Read once, however often it is named.
                if !topics.contains(&topic) {
                    topics.push(topic);
                }
            }
            let (settings, _) = kafka_settings(&args.kafka, first)?;
            Source::Kafka {
                settings,
                topics,
                from: args.from,
                exit: args.exit,
            }
        }
    };
    Ok(SubSettings {
        source,
        count: args.count,
        timeout,
        format: args.format,
    })
}

pub fn resolve_bridge(args: BridgeArgs) -> Result<BridgeSettings> {
    if args.qos > 1 {
        return Err(usage(format!(
            "-q/--qos {} is not supported by bridge: use 0 or 1 (QoS 2 end to end is not \
             implemented yet)",
            args.qos
        )));
    }
    if args.inflight == 0 {
        return Err(usage("--inflight must be at least 1"));
    }
    let Endpoint::Mqtt(from) = parse_url(&args.from)? else {
        return Err(usage(format!(
            "{}: the first URL must be mqtt:// or mqtts://",
            args.from
        )));
    };
    let Endpoint::Kafka(to) = parse_url(&args.to)? else {
        return Err(usage(format!(
            "{}: the second URL must be kafka://",
            args.to
        )));
    };
    let filter = from
        .topic
        .clone()
        .ok_or_else(|| no_topic(&args.from, "FILTER"))?;
    topic::mqtt_filter(&filter).map_err(|e| usage(format!("{}: {e}", args.from)))?;
    let topic = to
        .topic
        .clone()
        .ok_or_else(|| no_topic(&args.to, "TOPIC"))?;
    topic::kafka_topic(&topic).map_err(|e| usage(format!("{}: {e}", args.to)))?;

    let expiry_secs = session_expiry(args.session_expiry.as_deref().unwrap_or("never"))?;
    let mut mqtt = mqtt_settings(&args.mqtt, &from, args.inflight, "bridge")?;
    if args.session_expiry.is_some() && mqtt.version == Version::V311 {
        return Err(usage(
            "--session-expiry needs MQTT 5: an MQTT 3.1.1 broker keeps a session for as long \
             as its own setting says (Mosquitto: persistent_client_expiration)",
        ));
    }
    if args.mqtt.client_id.is_none() {
        mqtt.client_id = bridge_client_id(&args.from, &args.to);
    }
    mqtt.session = Session::Persistent { expiry_secs };
    mqtt.manual_acks = true;
    let (kafka, create) = kafka_settings(&args.kafka, &to)?;
    Ok(BridgeSettings {
        mqtt,
        filter,
        qos: args.qos,
        kafka,
        topic,
        create,
    })
}

fn framing(args: &PubArgs) -> Result<Framing> {
    let chosen: Vec<&str> = [
        (args.message.is_some(), "-m"),
        (args.file.is_some(), "-f"),
        (args.lines, "-l"),
        (args.stdin, "-s"),
        (args.format.is_some(), "--format"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect();
    match chosen.as_slice() {
        [] => {
            return Err(usage(
                "say what to send: -m TEXT, -f FILE, -l, -s or --format json",
            ));
        }
        [_] => {}
        [a, b, ..] => return Err(usage(format!("{a} and {b} cannot be combined"))),
    }
    if let Some(text) = &args.message {
        return Ok(Framing::One(text.clone().into_bytes()));
    }
    if let Some(path) = &args.file {
        let bytes = std::fs::read(path).map_err(|e| {
            err(
                Code::BadInput,
                format!("cannot read -f {}: {e}", path.display()),
            )
        })?;
        return Ok(Framing::One(bytes));
    }
    Ok(if args.lines {
        Framing::Lines
    } else if args.stdin {
        Framing::WholeStdin
    } else {
        Framing::Envelopes
    })
}

fn parse_url(url: &str) -> Result<Endpoint> {
    url.parse::<Endpoint>().map_err(|e| usage(e.to_string()))
}

fn no_topic(url: &str, what: &str) -> anyhow::Error {
    usage(format!(
        "{url} names no topic: write it after the address, as …/{what}"
    ))
}

/// Refuses a flag typed for the system `url` does not name: `system` is the other one's help
/// heading.
fn refuse_flags_of(system: &str, typed: &[Typed], url: &str) -> Result<()> {
    let Some(flag) = typed.iter().find(|t| t.heading.as_deref() == Some(system)) else {
        return Ok(());
    };
    let url_is = if system == cli::MQTT {
        "a Kafka URL"
    } else {
        "an MQTT URL"
    };
    Err(usage(format!(
        "{} applies to {system} only, and {url} is {url_is}",
        flag.flag
    )))
}

fn mixed() -> anyhow::Error {
    usage("all URLs must be MQTT, or all Kafka")
}

fn check_qos(qos: u8) -> Result<()> {
    if qos > 2 {
        return Err(usage(format!("-q/--qos must be 0, 1 or 2, not {qos}")));
    }
    Ok(())
}

fn mqtt_settings(
    args: &MqttArgs,
    endpoint: &MqttEndpoint,
    inflight: u16,
    role: &str,
) -> Result<MqttSettings> {
    let version = match args.mqtt_version.as_str() {
        "5" | "5.0" => Version::V5,
        "3.1.1" | "311" | "4" => Version::V311,
        other => {
            return Err(usage(format!(
                "-V/--mqtt-version must be 5 or 3.1.1, not {other}"
            )));
        }
    };
    // rumqttc panics below these (5 s for its MQTT 5 client).
    let keep_alive: Duration = args.keep_alive.into();
    let least = if version == Version::V5 { 5 } else { 1 };
    if keep_alive < Duration::from_secs(least) {
        return Err(usage(format!(
            "--keep-alive must be at least {least}s with MQTT {}",
            if version == Version::V5 { "5" } else { "3.1.1" }
        )));
    }
    // MQTT carries it in two bytes and rumqttc casts a longer one: 65536s would reach the
    // broker as 0, no keep-alive at all.
    if keep_alive > Duration::from_secs(MAX_KEEP_ALIVE_SECS) {
        return Err(usage(format!(
            "--keep-alive must be at most {MAX_KEEP_ALIVE_SECS}s ({}), the longest MQTT can \
             express",
            humantime::format_duration(Duration::from_secs(MAX_KEEP_ALIVE_SECS))
        )));
    }
    let connect_timeout: Duration = args.connect_timeout.into();
    if connect_timeout < Duration::from_secs(1) {
        return Err(usage("--connect-timeout must be at least 1s"));
    }
    let credentials = match (&args.username, &args.password) {
        (Some(user), password) => Some((user.clone(), password.clone().unwrap_or_default())),
        (None, Some(_)) => return Err(usage("--password needs -u/--username")),
        (None, None) => None,
    };
    if args.cafile.is_some() && !endpoint.tls {
        return Err(usage("--cafile needs an mqtts:// URL"));
    }
    let client_id = match &args.client_id {
        Some(id) if id.is_empty() => return Err(usage("-i/--id must not be empty")),
        Some(id) if id.len() > MAX_MQTT_STRING => {
            return Err(usage(format!(
                "-i/--id is {} bytes long; an MQTT client id has at most {MAX_MQTT_STRING}",
                id.len()
            )));
        }
        Some(id) => id.clone(),
        None => generated_client_id(role),
    };
    Ok(MqttSettings {
        host: endpoint.host.clone(),
        port: endpoint.port,
        tls: match endpoint.tls {
            true => Some(TlsSettings {
                ca: args.cafile.as_deref().map(ca_certificates).transpose()?,
            }),
            false => None,
        },
        version,
        client_id,
        session: Session::Clean,
        keep_alive,
        connect_timeout,
        credentials,
        inflight,
        manual_acks: false,
    })
}

/// Why a librdkafka property is not the user's to set, if it is not.
fn reserved(key: &str) -> Option<&'static str> {
    match key {
        "bootstrap.servers" | "metadata.broker.list" => {
            Some("the brokers come from the kafka:// URL")
        }
        "acks" | "request.required.acks" | "enable.idempotence" => Some(
            "mqk always produces with acks=all and the idempotent producer, which its \
             delivery guarantees rest on",
        ),
        _ => None,
    }
}

fn kafka_settings(
    args: &KafkaArgs,
    endpoint: &KafkaEndpoint,
) -> Result<(KafkaSettings, Option<i32>)> {
    let overrides = args
        .properties
        .iter()
        .map(|p| match p.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(usage(format!(
                "-X {p}: write a librdkafka property as KEY=VALUE"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    for (key, _) in &overrides {
        if let Some(why) = reserved(key) {
            return Err(usage(format!("-X {key}: {why}")));
        }
    }
    kafka::check_properties(&overrides).map_err(|e| usage(format!("-X {e}")))?;
    if args.partitions < 1 {
        return Err(usage("--partitions must be at least 1"));
    }
    let metadata_timeout: Duration = args.metadata_timeout.into();
    // librdkafka counts in milliseconds: anything shorter would be no wait at all.
    if metadata_timeout < Duration::from_millis(1) {
        return Err(usage("--metadata-timeout must be at least 1ms"));
    }
    let settings = KafkaSettings {
        brokers: endpoint.brokers.clone(),
        overrides,
        metadata_timeout,
    };
    Ok((settings, args.create_topic.then_some(args.partitions)))
}

fn session_expiry(text: &str) -> Result<u32> {
    if text == "never" {
        return Ok(u32::MAX);
    }
    let duration = humantime::parse_duration(text)
        .map_err(|e| usage(format!("--session-expiry {text}: {e}")))?;
    match u32::try_from(duration.as_secs()) {
        Ok(secs) if secs > 0 && secs < u32::MAX => Ok(secs),
        _ => Err(usage(format!(
            "--session-expiry {text}: must be between 1s and 136 years"
        ))),
    }
}

/// A short, unique client id: brokers limited to 23 characters still take it.
fn generated_client_id(role: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("mqk-{role}-{:x}{:05x}", std::process::id(), nanos & 0xfffff)
}

/// The same id for the same mapping on every run, so the broker resumes the bridge's session.
fn bridge_client_id(from: &str, to: &str) -> String {
    // FNV-1a: stable across Rust releases, unlike std's hasher.
    let hash = format!("{from} {to}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    format!("mqk-bridge-{:012x}", hash & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::{Cli, Command};

    fn parse(line: &[&str]) -> Command {
        Cli::parse_typed([&["mqk"], line].concat()).unwrap().command
    }

    fn pub_args(line: &[&str]) -> Result<PubSettings> {
        let Command::Pub(args) = parse(&[&["pub"], line].concat()) else {
            unreachable!()
        };
        resolve_pub(args)
    }

    fn sub_args(line: &[&str]) -> Result<SubSettings> {
        let Command::Sub(args) = parse(&[&["sub"], line].concat()) else {
            unreachable!()
        };
        resolve_sub(args)
    }

    fn bridge_args(line: &[&str]) -> Result<BridgeSettings> {
        let Command::Bridge(args) = parse(&[&["bridge"], line].concat()) else {
            unreachable!()
        };
        resolve_bridge(args)
    }

    fn dev_args(line: &[&str]) -> Result<DevSettings> {
        let Command::Dev(args) = parse(&[&["dev"], line].concat()) else {
            unreachable!()
        };
        resolve_dev(args)
    }

    fn usage_message<T: std::fmt::Debug>(result: Result<T>) -> String {
        let error = result.unwrap_err();
        assert_eq!(crate::exit::code_of(&error), Code::Usage, "{error}");
        error.to_string()
    }

    #[test]
    fn x_cannot_change_the_brokers_or_the_guarantees_and_partitions_need_create_topic() {
        for key in ["bootstrap.servers", "metadata.broker.list"] {
            let x = format!("{key}=other:9092");
            let message = usage_message(pub_args(&["kafka://k/t", "-m", "x", "-X", &x]));
            assert!(message.contains("come from the kafka:// URL"), "{message}");
        }
        for x in [
            "acks=0",
            "request.required.acks=1",
            "enable.idempotence=false",
        ] {
            let message = usage_message(pub_args(&["kafka://k/t", "-m", "x", "-X", x]));
            assert!(
                message.contains("always produces with acks=all"),
                "{message}"
            );
        }
        let line = ["pub", "kafka://k/t", "-m", "x", "--partitions", "3"];
        let error = Cli::parse_typed([&["mqk"], &line[..]].concat()).unwrap_err();
        assert!(error.to_string().contains("--create-topic"), "{error}");
        assert!(
            pub_args(&[
                "kafka://k/t",
                "-m",
                "x",
                "--create-topic",
                "--partitions",
                "3"
            ])
            .is_ok()
        );
    }

    #[test]
    fn a_topic_named_twice_is_read_once() {
        let settings = sub_args(&["kafka://k/a", "kafka://k/b", "kafka://k/a"]).unwrap();
        let Source::Kafka { topics, .. } = settings.source else {
            panic!("not a Kafka source")
        };
        assert_eq!(topics, ["a", "b"]);
        let settings = sub_args(&["mqtt://h/a/#", "mqtt://h/a/#"]).unwrap();
        let Source::Mqtt { filters, .. } = settings.source else {
            panic!("not an MQTT source")
        };
        assert_eq!(filters, ["a/#"]);
    }

    #[test]
    fn a_session_expiry_needs_mqtt_5() {
        let line = ["mqtt://h/f", "kafka://k/t", "--session-expiry", "1h"];
        let v3 = usage_message(bridge_args(&[&line[..], &["-V", "3.1.1"]].concat()));
        assert!(v3.contains("--session-expiry needs MQTT 5"), "{v3}");
        let v5 = bridge_args(&line).unwrap();
        assert_eq!(v5.mqtt.session, Session::Persistent { expiry_secs: 3600 });
        let default = bridge_args(&line[..2]).unwrap();
        let never = Session::Persistent {
            expiry_secs: u32::MAX,
        };
        assert_eq!(default.mqtt.session, never);
    }

    #[test]
    fn qos_3_is_a_usage_error() {
        assert!(usage_message(pub_args(&["mqtt://h/t", "-m", "x", "-q", "3"])).contains("-q"));
    }

    #[test]
    fn wildcards_and_empty_topics_are_refused_for_publishing() {
        assert!(usage_message(pub_args(&["mqtt://h/a/+", "-m", "x"])).contains("wildcard"));
        assert!(usage_message(pub_args(&["mqtt://h/a/#", "-m", "x"])).contains("wildcard"));
        assert!(usage_message(pub_args(&["mqtt://h/", "-m", "x"])).contains("names no topic"));
    }

    #[test]
    fn a_missing_topic_is_fine_when_records_carry_theirs() {
        assert!(pub_args(&["mqtt://h", "--format", "json"]).is_ok());
        assert!(pub_args(&["kafka://h", "--format", "json"]).is_ok());
    }

    #[test]
    fn exactly_one_input_is_required() {
        assert!(usage_message(pub_args(&["mqtt://h/t"])).contains("-m TEXT"));
        assert!(usage_message(pub_args(&["mqtt://h/t", "-m", "x", "-l"])).contains("-m and -l"));
    }

    #[test]
    fn an_empty_message_is_a_message() {
        let settings = pub_args(&["mqtt://h/t", "-m", ""]).unwrap();
        assert_eq!(settings.framing, Framing::One(Vec::new()));
    }

    #[test]
    fn flags_of_the_other_system_are_refused() {
        assert!(usage_message(pub_args(&["mqtt://h/t", "-m", "x", "-k", "k"])).contains("--key"));
        assert!(usage_message(pub_args(&["kafka://h/t", "-m", "x", "-r"])).contains("--retain"));
    }

    #[test]
    fn keep_alives_the_client_cannot_take_are_refused() {
        let message = usage_message(pub_args(&["mqtt://h/t", "-m", "x", "--keep-alive", "2s"]));
        assert!(message.contains("at least 5s with MQTT 5"), "{message}");
        assert!(pub_args(&["mqtt://h/t", "-m", "x", "--keep-alive", "2s", "-V", "3.1.1"]).is_ok());
        assert!(
            pub_args(&[
                "mqtt://h/t",
                "-m",
                "x",
                "--keep-alive",
                "500ms",
                "-V",
                "3.1.1"
            ])
            .is_err()
        );
    }

    #[test]
    fn keep_alives_beyond_what_mqtt_can_express_are_refused() {
        for version in ["5", "3.1.1"] {
            let line = ["mqtt://h/t", "-m", "x", "-V", version, "--keep-alive"];
            let message = usage_message(pub_args(&[&line[..], &["65536s"]].concat()));
            assert!(
                message.contains("--keep-alive must be at most 65535s"),
                "{message}"
            );
            assert!(pub_args(&[&line[..], &["65535s"]].concat()).is_ok());
        }
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let message = usage_message(pub_args(&[
            "kafka://h/t",
            "-m",
            "x",
            "--metadata-timeout",
            "0s",
        ]));
        assert!(message.contains("--metadata-timeout"), "{message}");
        let message = usage_message(sub_args(&["mqtt://h/t", "--timeout", "0s"]));
        assert!(message.contains("--timeout"), "{message}");
        assert!(sub_args(&["mqtt://h/t", "--timeout", "1ms"]).is_ok());
    }

    #[test]
    fn client_ids_longer_than_an_mqtt_string_are_refused() {
        let longest = "i".repeat(65_535);
        assert!(pub_args(&["mqtt://h/t", "-m", "x", "-i", &longest]).is_ok());
        let too_long = "i".repeat(65_536);
        let message = usage_message(pub_args(&["mqtt://h/t", "-m", "x", "-i", &too_long]));
        assert!(message.contains("-i/--id is 65536 bytes long"), "{message}");
    }

    #[test]
    fn librdkafka_properties_are_checked_by_librdkafka() {
        let line = ["kafka://h/t", "-m", "x", "-X", "linger.ms=5", "-X"];
        let message = usage_message(pub_args(&[&line[..], &["no.such.thing=1"]].concat()));
        assert!(message.contains("-X no.such.thing=1: "), "{message}");
        assert!(
            message.contains("No such configuration property"),
            "{message}"
        );
        let message = usage_message(pub_args(&[&line[..], &["linger.ms=banana"]].concat()));
        assert!(message.contains("-X linger.ms=banana: "), "{message}");
        assert!(pub_args(&[&line[..], &["linger.ms=20"]].concat()).is_ok());
    }

    #[test]
    fn dev_topics_and_ports_are_each_given_once() {
        let message = usage_message(dev_args(&[
            "--topic", "a", "--topic", "b", "--topic", "a:3",
        ]));
        assert!(
            message.contains("--topic a is given more than once"),
            "{message}"
        );
        let message = usage_message(dev_args(&["--mqtt-port", "7", "--mqtt311-port", "7"]));
        assert!(
            message.contains("--mqtt-port and --mqtt311-port"),
            "{message}"
        );
        assert!(dev_args(&["--topic", "a", "--topic", "b:2"]).is_ok());
    }

    #[test]
    fn pub_refuses_every_flag_of_the_other_system() {
        let kafka_flags: &[&[&str]] = &[
            &["-X", "linger.ms=5"],
            &["--metadata-timeout", "3s"],
            &["--create-topic"],
            &["--create-topic", "--partitions", "3"],
            &["-k", "key"],
            &["--delivery-timeout", "3s"],
        ];
        for flag in kafka_flags {
            let message = usage_message(pub_args(&[&["mqtt://h/t", "-m", "x"], *flag].concat()));
            assert!(message.contains(flag[0]), "{flag:?}: {message}");
            assert!(message.contains("applies to Kafka only"), "{message}");
            assert!(pub_args(&[&["kafka://h/t", "-m", "x"], *flag].concat()).is_ok());
        }
        let mqtt_flags: &[&[&str]] = &[
            &["-q", "0"],
            &["-r"],
            &["--reconnects", "1"],
            &["-V", "3.1.1"],
            &["-i", "me"],
            &["--keep-alive", "10s"],
            &["--connect-timeout", "2s"],
            &["-u", "me"],
            &["--password", "pw"],
            &["--cafile", "ca.pem"],
        ];
        for flag in mqtt_flags {
            let message = usage_message(pub_args(&[&["kafka://h/t", "-m", "x"], *flag].concat()));
            assert!(message.contains(flag[0]), "{flag:?}: {message}");
            assert!(message.contains("applies to MQTT only"), "{message}");
        }
    }

    #[test]
    fn sub_refuses_every_flag_of_the_other_system() {
        for flag in [&["--from", "beginning"][..], &["--exit"], &["-X", "a=b"]] {
            let message = usage_message(sub_args(&[&["mqtt://h/t"], flag].concat()));
            assert!(message.contains(flag[0]), "{flag:?}: {message}");
        }
        for flag in [&["-q", "2"][..], &["-i", "me"], &["-u", "me"]] {
            let message = usage_message(sub_args(&[&["kafka://h/t"], flag].concat()));
            assert!(message.contains(flag[0]), "{flag:?}: {message}");
        }
        assert!(sub_args(&["kafka://h/t", "--from", "beginning", "--exit"]).is_ok());
        assert!(sub_args(&["mqtt://h/t", "-q", "2", "-i", "me"]).is_ok());
    }

    #[test]
    fn bridge_takes_the_flags_of_both_systems() {
        let both = bridge_args(&[
            "mqtt://h/t",
            "kafka://k/t",
            "-q",
            "0",
            "-V",
            "3.1.1",
            "-i",
            "me",
            "-u",
            "me",
            "--password",
            "pw",
            "--keep-alive",
            "10s",
            "-X",
            "linger.ms=5",
            "--metadata-timeout",
            "3s",
            "--create-topic",
            "--partitions",
            "3",
        ]);
        assert!(both.is_ok(), "{both:?}");
    }

    #[test]
    fn bridge_ids_are_stable_and_distinct() {
        let a = bridge_client_id("mqtt://h/a", "kafka://k/a");
        assert_eq!(a, bridge_client_id("mqtt://h/a", "kafka://k/a"));
        assert_ne!(a, bridge_client_id("mqtt://h/b", "kafka://k/a"));
        assert!(a.len() <= 23, "{a}");
    }
}
