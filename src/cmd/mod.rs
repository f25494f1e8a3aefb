//! One module per subcommand. Each has a `run` that takes resolved settings and a shutdown
//! future (SIGINT/SIGTERM in the binary, anything in tests) and returns when the command is
//! done; the binary maps its result to an exit code.

pub mod bridge;
pub mod dev;
pub mod publish;
pub mod subscribe;

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch, for envelopes of MQTT messages.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// "1 message", "2 messages": a count of messages for summaries.
pub(crate) fn messages(n: u64) -> String {
    format!("{n} message{}", if n == 1 { "" } else { "s" })
}

/// Human-readable byte count for summaries.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
