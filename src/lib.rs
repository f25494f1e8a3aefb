//! `mqk` moves, inspects and bridges message streams between MQTT and Kafka.
//!
//! The binary (`src/bin/mqk.rs`) only parses the command line and maps results to exit
//! codes; everything else lives here, shared by every subcommand. Data flows one way:
//!
//! - [`cli`] holds the raw command line; [`settings`] resolves it into validated settings
//!   and decides every usage error, using [`endpoint`] (broker URLs) and [`topic`] (names);
//! - [`mqtt`] and [`kafka`] are the clients, the only code that talks to brokers;
//! - [`record`] is the one NDJSON envelope shared by both systems, [`input`] frames what
//!   `pub` reads, [`output`] formats what `sub` writes;
//! - [`cmd`] has one module per subcommand, the only place that combines the above;
//! - [`exit`] names the exit codes, [`audit`] checks a received stream against what was
//!   sent (for the demo and the tests).

pub mod audit;
pub mod cli;
pub mod cmd;
pub mod endpoint;
pub mod exit;
pub mod input;
pub mod kafka;
pub mod mqtt;
pub mod output;
pub mod record;
pub mod settings;
pub mod topic;

/// Resolves on the first SIGINT or SIGTERM: the shutdown signal of every long-running
/// command.
pub async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// `mqk --version` in full: the client libraries and the Kafka codecs built in.
pub fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| format!("{}\n{}", env!("CARGO_PKG_VERSION"), kafka::build_info()))
}
