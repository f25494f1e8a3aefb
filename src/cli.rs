//! The command line as clap sees it: raw values and help text, nothing else.
//!
//! Every value here is checked and combined in [`crate::settings`], before anything
//! connects; no client library type appears in these structs.
//!
//! A flag that only one of the two systems understands sits under that system's help
//! heading ([`MQTT`] or [`KAFKA`]). [`Cli::parse_typed`] notes which flags were typed on the
//! command line, so that `pub` and `sub` can refuse those of the system their URL does not
//! name instead of ignoring them; clap's derived structs cannot tell a typed value from a
//! default.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::kafka::Position;
use crate::output::Format;

/// Publish, subscribe and bridge message streams between MQTT and Kafka.
///
/// Brokers are URLs: mqtt://host:port/TOPIC (mqtts:// for TLS) and
/// kafka://host:port,host:port/TOPIC; ports are optional. Exit codes: 0 success, 1 failure,
/// 2 usage, 3 broker unreachable, 4 refused by the broker, 5 Kafka topic missing, 6 messages
/// not acknowledged, 7 sub timeout, 8 bad input, 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "mqk", version, long_version = crate::long_version(), max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the flags only MQTT understands.
pub const MQTT: &str = "MQTT";
/// The help heading of the flags only Kafka understands.
pub const KAFKA: &str = "Kafka";

/// A flag typed on the command line (not a default, not from the environment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typed {
    /// The flag as help shows it: `-q/--qos`, `--keep-alive`, `-X`.
    pub flag: String,
    /// Its help heading: [`MQTT`] or [`KAFKA`] for a flag of one system only.
    pub heading: Option<String>,
}

impl Cli {
    /// Parses `args` as [`Parser::try_parse_from`] does, and fills in the `typed` flags of
    /// `pub` and `sub`.
    pub fn parse_typed<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Self::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let mut cli = Self::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
        if let Some((name, sub_matches)) = matches.subcommand() {
            let sub = command.find_subcommand(name).expect("clap matched it");
            let mqtt = match &mut cli.command {
                Command::Pub(args) => {
                    args.typed = typed(sub, sub_matches);
                    Some(&mut args.mqtt)
                }
                Command::Sub(args) => {
                    args.typed = typed(sub, sub_matches);
                    Some(&mut args.mqtt)
                }
                Command::Bridge(args) => Some(&mut args.mqtt),
                _ => None,
            };
            if let Some(mqtt) = mqtt {
                forget_unused_password(mqtt, sub_matches);
            }
        }
        Ok(cli)
    }
}

/// An MQTT password is used only with a user name. One from `MQK_PASSWORD` alone (exported
/// for another command, say) is left out rather than refused; a typed `--password` without
/// `-u` stays, to be refused as a usage error.
fn forget_unused_password(mqtt: &mut MqttArgs, matches: &ArgMatches) {
    if mqtt.username.is_none() && matches.value_source("password") == Some(ValueSource::EnvVariable)
    {
        mqtt.password = None;
    }
}

/// The flags of `command` that `matches` got from the command line.
fn typed(command: &clap::Command, matches: &ArgMatches) -> Vec<Typed> {
    command
        .get_arguments()
        .filter(|arg| matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .filter_map(|arg| {
            let flag = match (arg.get_short(), arg.get_long()) {
                (Some(short), Some(long)) => format!("-{short}/--{long}"),
                (Some(short), None) => format!("-{short}"),
                (None, Some(long)) => format!("--{long}"),
                (None, None) => return None,
            };
            let heading = arg.get_help_heading().map(str::to_owned);
            Some(Typed { flag, heading })
        })
        .collect()
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish messages to an MQTT topic or a Kafka topic.
    Pub(PubArgs),
    /// Print messages from MQTT filters or Kafka topics.
    Sub(SubArgs),
    /// Forward every message of an MQTT filter to a Kafka topic, at least once and in order.
    Bridge(BridgeArgs),
    /// Run a throwaway MQTT broker and Kafka cluster in this process.
    Dev(DevArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Options for connecting to an MQTT broker.
#[derive(Debug, Args)]
#[command(next_help_heading = MQTT)]
pub struct MqttArgs {
    /// MQTT protocol version: 5 or 3.1.1.
    #[arg(
        short = 'V',
        long = "mqtt-version",
        default_value = "5",
        value_name = "VERSION"
    )]
    pub mqtt_version: String,
    /// Client id [default: generated; for bridge, derived from the mapping].
    #[arg(short = 'i', long = "id")]
    pub client_id: Option<String>,
    /// Keep-alive interval.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub keep_alive: humantime::Duration,
    /// Give up connecting after this long.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub connect_timeout: humantime::Duration,
    /// User name.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password (or set MQK_PASSWORD).
    #[arg(long, env = "MQK_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// PEM file of CA certificates for mqtts:// [default: the system's].
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<PathBuf>,
}

/// Options for talking to a Kafka cluster.
#[derive(Debug, Args)]
#[command(next_help_heading = KAFKA)]
pub struct KafkaArgs {
    /// A librdkafka property, as KEY=VALUE; repeatable, applied last.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// How long to wait for cluster metadata before calling the cluster unreachable, and for
    /// the answer to --create-topic.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub metadata_timeout: humantime::Duration,
    /// Create the Kafka topic if it does not exist (CreateTopics API).
    #[arg(long)]
    pub create_topic: bool,
    /// Partitions of a topic created by --create-topic.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "create_topic")]
    pub partitions: i32,
}

/// `mqk pub`.
#[derive(Debug, Args)]
pub struct PubArgs {
    /// Where to publish: mqtt://host:port/TOPIC or kafka://host:port/TOPIC. The topic may be
    /// left out with --format json, when every record names its own.
    pub url: String,
    /// Send TEXT as one message ('' is a zero-byte message).
    #[arg(short = 'm', long, value_name = "TEXT", allow_hyphen_values = true)]
    pub message: Option<String>,
    /// Send the whole file as one message, its bytes exactly.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Send each stdin line as a message (LF or CRLF removed, nothing added).
    #[arg(short = 'l', long)]
    pub lines: bool,
    /// Send all of stdin as one message.
    #[arg(short = 's', long)]
    pub stdin: bool,
    /// Read stdin as records: json is one envelope per line (see README).
    #[arg(long, value_name = "FORMAT", value_parser = ["json"])]
    pub format: Option<String>,
    /// MQTT QoS: 0, 1 or 2.
    #[arg(short = 'q', long, default_value_t = 1, help_heading = MQTT)]
    pub qos: u8,
    /// Set the MQTT retain flag.
    #[arg(short = 'r', long, help_heading = MQTT)]
    pub retain: bool,
    /// Kafka record key for every message.
    #[arg(short = 'k', long, help_heading = KAFKA)]
    pub key: Option<String>,
    /// Messages sent but not yet acknowledged, at most.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub inflight: u16,
    /// Give up on a Kafka record not acknowledged after this long.
    #[arg(long, default_value = "30s", value_name = "DURATION", help_heading = KAFKA)]
    pub delivery_timeout: humantime::Duration,
    /// Attempts in a row to reconnect after the MQTT connection is lost, a second apart; a
    /// successful reconnect allows as many again. 0 fails at the first loss.
    #[arg(long, default_value_t = 5, value_name = "N", help_heading = MQTT)]
    pub reconnects: u32,
    /// No summary line on stderr.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub mqtt: MqttArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The flags typed on the command line; see [`Cli::parse_typed`].
    #[arg(skip)]
    pub typed: Vec<Typed>,
}

/// `mqk sub`.
#[derive(Debug, Args)]
pub struct SubArgs {
    /// What to read: MQTT filters (mqtt://host:port/FILTER) or Kafka topics, all on one
    /// broker.
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,
    /// MQTT subscription QoS: 0, 1 or 2.
    #[arg(short = 'q', long, default_value_t = 1, help_heading = MQTT)]
    pub qos: u8,
    /// Exit after N messages.
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit with code 7 when nothing arrives for this long.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<humantime::Duration>,
    /// Output: text (payload and a newline), raw (payload bytes only) or json (envelopes).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Where to start in every Kafka partition.
    #[arg(long, value_enum, default_value = "end", help_heading = KAFKA)]
    pub from: Position,
    /// Exit once every Kafka partition has been read to its end.
    #[arg(long, help_heading = KAFKA)]
    pub exit: bool,
    #[command(flatten)]
    pub mqtt: MqttArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The flags typed on the command line; see [`Cli::parse_typed`].
    #[arg(skip)]
    pub typed: Vec<Typed>,
}

/// `mqk bridge`.
#[derive(Debug, Args)]
pub struct BridgeArgs {
    /// The MQTT side: mqtt://host:port/FILTER.
    pub from: String,
    /// The Kafka side: kafka://host:port/TOPIC.
    pub to: String,
    /// MQTT subscription QoS: 0 or 1.
    #[arg(short = 'q', long, default_value_t = 1, help_heading = MQTT)]
    pub qos: u8,
    /// How long an MQTT 5 broker keeps the bridge's session while it is away ("never" to keep
    /// it forever) [default: never].
    #[arg(long, value_name = "DURATION", help_heading = MQTT)]
    pub session_expiry: Option<String>,
    /// Messages waiting for Kafka, at most: beyond that the bridge stops reading from the
    /// broker. Also the receive maximum announced to an MQTT 5 broker.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub inflight: u16,
    #[command(flatten)]
    pub mqtt: MqttArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

/// `mqk dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Create a Kafka topic, as NAME or NAME:PARTITIONS; repeatable.
    #[arg(long = "topic", value_name = "NAME[:PARTITIONS]")]
    pub topics: Vec<String>,
    /// Port of the MQTT 5 listener [default: a free one].
    #[arg(long, value_name = "PORT")]
    pub mqtt_port: Option<u16>,
    /// Port of the MQTT 3.1.1 listener [default: a free one].
    #[arg(long, value_name = "PORT")]
    pub mqtt311_port: Option<u16>,
}
