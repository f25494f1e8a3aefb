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

/// SIGINT and SIGTERM, the stop signals of every long-running command. The handlers are
/// installed by [`Interrupts::install`], not when a future is first polled, so a signal sent
/// right after a command prints `ready` is never taken by the default action (which would
/// kill the process before it could drain).
pub struct Interrupts {
    handlers: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Interrupts {
    /// Installs the handlers; call it inside the runtime. Without them (which only a broken
    /// system causes) the signals keep their default action and a warning says so.
    pub fn install() -> Interrupts {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = signal(SignalKind::interrupt()).and_then(|int| {
            let term = signal(SignalKind::terminate())?;
            Ok((int, term))
        });
        let handlers = handlers
            .map_err(|e| tracing::warn!("cannot handle SIGINT/SIGTERM: {e}"))
            .ok();
        Interrupts { handlers }
    }

    /// Resolves at the next SIGINT or SIGTERM. Cancel-safe.
    pub async fn next(&mut self) {
        match &mut self.handlers {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// `mqk --version` in full: the client libraries and the Kafka codecs built in.
pub fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| format!("{}\n{}", env!("CARGO_PKG_VERSION"), kafka::build_info()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// A SIGTERM that arrives before the stop future is first polled must still be caught;
    /// with a lazily installed handler the default action would end this test process.
    #[tokio::test]
    async fn a_signal_sent_before_the_first_poll_is_caught() {
        let mut interrupts = super::Interrupts::install();
        let stop = interrupts.next();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(5), stop)
            .await
            .expect("the SIGTERM sent before the first poll was not seen");
    }
}
