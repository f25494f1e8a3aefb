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
/// command. The handlers are installed by this call, not when the future is first polled, so
/// a signal sent right after a command prints `ready` is never taken by the default action
/// (which would kill the process before it could drain). Call it inside the runtime.
pub fn interrupted() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = signal(SignalKind::interrupt()).and_then(|int| {
        let term = signal(SignalKind::terminate())?;
        Ok((int, term))
    });
    async move {
        let (mut int, mut term) = match handlers {
            Ok(handlers) => handlers,
            Err(e) => {
                tracing::warn!("cannot handle SIGINT/SIGTERM: {e}");
                return std::future::pending().await;
            }
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
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
        let stop = super::interrupted();
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
